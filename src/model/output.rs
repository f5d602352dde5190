//! Output guards: a command never writes over one of its own inputs, and never renames a file
//! over a device, FIFO, socket or folder (or a symlink to one). Also the temp files of writes in
//! progress (`.NAME.redub-PID.part.…` beside the target): removed on a signal, and those of dead
//! processes removed by the next write.
//!
//! Two paths name the same file when both exist and have the same device and inode (this sees
//! through symlinks, hard links, `..` and bind mounts); otherwise their canonical forms are
//! compared.

use crate::model::project::{Project, project_dir, resolve_media_path};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// An output that must not be written, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub struct OutputRefused {
    /// The output path as given.
    pub path: PathBuf,
    /// Why it is refused, e.g. "is the project being read; choose another output".
    pub reason: String,
}

/// What kind of non-regular file `meta` describes, if it is not a regular file.
fn special_kind(meta: &std::fs::Metadata) -> Option<&'static str> {
    let t = meta.file_type();
    if t.is_file() {
        return None;
    }
    if t.is_dir() {
        return Some("a folder");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_block_device() || t.is_char_device() {
            return Some("a device");
        }
        if t.is_fifo() {
            return Some("a FIFO");
        }
        if t.is_socket() {
            return Some("a socket");
        }
    }
    Some("not a regular file")
}

/// Refuses an existing output that is not a regular file (following symlinks): writing goes to
/// a temp file renamed over the target, which would replace a device node, FIFO or symlink to
/// one with an ordinary file. A new path or an existing regular file is fine.
pub fn check_regular_or_new(output: &Path) -> Result<(), OutputRefused> {
    match std::fs::metadata(output) {
        Ok(meta) => match special_kind(&meta) {
            None => Ok(()),
            Some(kind) => Err(OutputRefused {
                path: output.to_path_buf(),
                reason: format!("is {kind}, not a regular file; choose a file path to write"),
            }),
        },
        Err(_) => Ok(()),
    }
}

/// `path` made absolute with its folder resolved (symlinks, `..`), for a path that may not exist.
fn canonical(path: &Path) -> PathBuf {
    if let Ok(c) = std::fs::canonicalize(path) {
        return c;
    }
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    match (abs.parent(), abs.file_name()) {
        (Some(dir), Some(name)) => {
            std::fs::canonicalize(dir).map(|d| d.join(name)).unwrap_or_else(|_| abs.clone())
        }
        _ => abs,
    }
}

/// Whether two paths name the same file (same device and inode when both exist, else the same
/// canonical path).
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    canonical(a) == canonical(b)
}

/// An input of a command and what it is, for the refusal's wording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// The input file.
    pub path: PathBuf,
    /// What it is to the command, e.g. "the project being rendered" or "media the project uses".
    pub role: String,
}

impl Input {
    /// An input with its role.
    pub fn new(path: impl Into<PathBuf>, role: impl Into<String>) -> Self {
        Self { path: path.into(), role: role.into() }
    }
}

/// Every media file of a project's pool (where it is found now, else as recorded).
pub fn media_inputs(project: &Project, project_path: &Path) -> Vec<Input> {
    let dir = project_dir(project_path);
    let path = |m: &crate::model::MediaRef| resolve_media_path(m, &dir).unwrap_or(m.path.clone());
    project.media.iter().map(|m| Input::new(path(m), "media the project uses")).collect()
}

/// The files a project reads: the project file itself and its media ([`media_inputs`]).
pub fn project_inputs(project: &Project, project_path: &Path) -> Vec<Input> {
    let mut inputs = vec![Input::new(project_path, "the project being read")];
    inputs.extend(media_inputs(project, project_path));
    inputs
}

/// Refuses `output` when it is one of `inputs` or an existing non-regular file.
pub fn check_output(output: &Path, inputs: &[Input]) -> Result<(), OutputRefused> {
    check_regular_or_new(output)?;
    if let Some(hit) = inputs.iter().find(|i| same_file(output, &i.path)) {
        let abs = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        let is = if abs(output) == abs(&hit.path) {
            String::new()
        } else {
            format!(" ({})", hit.path.display())
        };
        return Err(OutputRefused {
            path: output.to_path_buf(),
            reason: format!(
                "is {}{is}; refusing to overwrite an input, choose another output",
                hit.role
            ),
        });
    }
    Ok(())
}

/// `.NAME.redub-`: how every temp file of a write to `target` named NAME begins; the writer's
/// process id and `.part.` follow (`.NAME.redub-PID.part.…`).
pub fn part_stem(target: &Path) -> OsString {
    let mut stem = OsString::from(".");
    stem.push(target.file_name().unwrap_or_default());
    stem.push(".redub-");
    stem
}

/// Temp files of writes in progress (exports, project saves) and held project locks, removed
/// by [`remove_part_files`] (on SIGINT/SIGTERM).
static PARTS: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Remembers a temp file for [`remove_part_files`] until [`unregister_part`].
pub fn register_part(path: &Path) {
    if let Ok(mut parts) = PARTS.lock() {
        parts.push(path.to_path_buf());
    }
}

/// Forgets a temp file registered with [`register_part`].
pub fn unregister_part(path: &Path) {
    if let Ok(mut parts) = PARTS.lock() {
        parts.retain(|p| p != path);
    }
}

/// Removes the temp files (and temp folders: a bundle being unpacked) of every write in
/// progress. For a signal handler about to end the process: what a writer would remove when
/// dropped.
pub fn remove_part_files() {
    let parts = match PARTS.lock() {
        Ok(parts) => parts.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    };
    for p in parts {
        // A file first, as fast as before; a folder (a bundle being unpacked) only then.
        if std::fs::remove_file(&p).is_err() {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// Whether process `pid` still runs (or may: a process we may not signal counts as running).
pub fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else {
            return false;
        };
        !matches!(rustix::process::test_kill_process(pid), Err(rustix::io::Errno::SRCH))
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Removes temp files of earlier writes to `target` whose process is gone (killed with -9, a
/// power cut): `.NAME.redub-PID.part.*` beside it (files, and the folders of a bundle being
/// unpacked). Returns how many were removed.
pub fn remove_stale_parts(target: &Path) -> usize {
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let stem = part_stem(target);
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    let mut removed = 0;
    for e in entries.filter_map(Result::ok) {
        let name = e.file_name();
        let Some(rest) = name.as_encoded_bytes().strip_prefix(stem.as_encoded_bytes()) else {
            continue;
        };
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let pid = std::str::from_utf8(&rest[..digits]).ok().and_then(|d| d.parse::<u32>().ok());
        let Some(pid) = pid.filter(|_| rest[digits..].starts_with(b".part.")) else { continue };
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        let gone = match e.file_type() {
            Ok(t) if t.is_file() => std::fs::remove_file(e.path()).is_ok(),
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(e.path()).is_ok(),
            _ => false,
        };
        removed += usize::from(gone);
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_links_and_devices_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let shot = d.join("shot.mp4");
        std::fs::write(&shot, b"video").unwrap();
        let inputs = [Input::new(&shot, "media the project uses")];
        let e = check_output(&shot, &inputs).unwrap_err();
        assert!(e.to_string().contains("shot.mp4: is media the project uses;"), "{e}");
        // The same file by another name.
        let e = check_output(&d.join(".").join("shot.mp4"), &inputs).unwrap_err();
        assert!(e.to_string().contains("media the project uses"), "{e}");
        #[cfg(unix)]
        {
            let link = d.join("link.mp4");
            std::os::unix::fs::symlink(&shot, &link).unwrap();
            let e = check_output(&link, &inputs).unwrap_err();
            assert!(e.to_string().contains("(") && e.to_string().contains("shot.mp4)"), "{e}");
            let hard = d.join("hard.mp4");
            std::fs::hard_link(&shot, &hard).unwrap();
            assert!(check_output(&hard, &inputs).is_err());
            let e = check_output(Path::new("/dev/null"), &inputs).unwrap_err();
            assert!(e.to_string().contains("is a device"), "{e}");
            let dev_link = d.join("null.mp4");
            std::os::unix::fs::symlink("/dev/null", &dev_link).unwrap();
            assert!(check_output(&dev_link, &inputs).is_err());
        }
        let e = check_output(d, &inputs).unwrap_err();
        assert!(e.to_string().contains("is a folder"), "{e}");
        // A new path, an existing unrelated file: fine.
        check_output(&d.join("out.mp4"), &inputs).unwrap();
        std::fs::write(d.join("old.mp4"), b"old").unwrap();
        check_output(&d.join("old.mp4"), &inputs).unwrap();
    }
}
