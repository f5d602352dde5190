//! The project lock: one writer of a project file at a time (two `redub lines import`, the
//! editor and the command line), so that no change is lost silently.
//!
//! A writer locks the project it will write *before* reading it and keeps the lock until the
//! save: a read–change–save by another process cannot slip in between. The lock is an
//! exclusive `flock` on `.NAME.lock` beside the project; the file holds a line naming the
//! holder (command, process id, since when) for the refusal message. The kernel drops a
//! `flock` when its process ends however it ends, so a lock left by a crashed or killed
//! process (`kill -9`, a power cut) is stale by construction: the next writer takes the file
//! over. A second writer is refused at once (never waits), naming the holder.

use crate::model::project::ProjectError;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// `.NAME.lock` beside `project`.
pub fn lock_path(project: &Path) -> PathBuf {
    let mut name = std::ffi::OsString::from(".");
    name.push(project.file_name().unwrap_or_default());
    name.push(".lock");
    project.with_file_name(name)
}

/// A held project lock; dropping it removes the lock file and releases the lock.
#[derive(Debug)]
pub struct ProjectLock {
    /// `None` where no lock file can be made (a missing or read-only folder): the save then
    /// fails with its own message, and there is nothing another writer could lose.
    file: Option<std::fs::File>,
    path: PathBuf,
}

/// How a lock attempt on an open lock file went.
enum Attempt {
    Locked,
    Held,
}

#[cfg(unix)]
fn try_lock(file: &std::fs::File) -> std::io::Result<Attempt> {
    use rustix::fs::{FlockOperation, flock};
    match flock(file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Attempt::Locked),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(Attempt::Held),
        Err(e) => Err(e.into()),
    }
}

/// Whether `file` (open) is still the file at `path`: a holder removes the lock file when it
/// finishes, and a writer that opened it just before then must lock the new one instead.
#[cfg(unix)]
fn still_at(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn try_lock(_: &std::fs::File) -> std::io::Result<Attempt> {
    // No flock: the lock file names the writer, but does not exclude another.
    Ok(Attempt::Locked)
}

#[cfg(not(unix))]
fn still_at(_: &std::fs::File, path: &Path) -> bool {
    path.exists()
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub(crate) fn utc(secs: u64) -> String {
    let (days, rest) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rest / 3600, rest % 3600 / 60, rest % 60)
}

impl ProjectLock {
    /// Locks `project` (which need not exist yet) for `command` (e.g. "redub lines import"),
    /// or refuses with [`ProjectError::Locked`] naming the process that holds it.
    pub fn acquire(project: &Path, command: &str) -> Result<Self, ProjectError> {
        let path = lock_path(project);
        let io = |source| ProjectError::Io { path: path.clone(), source };
        for _ in 0..100 {
            let opened = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path);
            let mut file = match opened {
                Ok(f) => f,
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::NotFound
                            | std::io::ErrorKind::PermissionDenied
                            | std::io::ErrorKind::ReadOnlyFilesystem
                    ) =>
                {
                    return Ok(Self { file: None, path });
                }
                Err(e) => return Err(io(e)),
            };
            match try_lock(&file).map_err(io)? {
                Attempt::Held => {
                    // The holder writes its line just after locking: give it a moment.
                    let mut holder = String::new();
                    for _ in 0..20 {
                        holder.clear();
                        let _ = file.rewind();
                        let _ = file.read_to_string(&mut holder);
                        if !holder.trim().is_empty() {
                            break;
                        }
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    let holder = holder.trim();
                    return Err(ProjectError::Locked {
                        path: project.to_path_buf(),
                        holder: if holder.is_empty() {
                            "another process".to_string()
                        } else {
                            holder.to_string()
                        },
                    });
                }
                Attempt::Locked if !still_at(&file, &path) => continue,
                Attempt::Locked => {}
            }
            // Removed on SIGINT/SIGTERM from here on (a signal between the open and here leaves
            // an unlocked file, which the next writer takes over).
            crate::model::output::register_part(&path);
            let since = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let line = format!("{command} (pid {}, since {})\n", std::process::id(), utc(since));
            file.set_len(0).map_err(io)?;
            file.rewind().map_err(io)?;
            file.write_all(line.as_bytes()).map_err(io)?;
            return Ok(Self { file: Some(file), path });
        }
        Err(io(std::io::Error::other("the lock file keeps being replaced")))
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ProjectLock {
    fn drop(&mut self) {
        // Removed while still locked; a writer that opened it meanwhile sees it gone and locks a
        // new one (see `still_at`).
        let Some(file) = &self.file else { return };
        if still_at(file, &self.path) {
            let _ = std::fs::remove_file(&self.path);
        }
        crate::model::output::unregister_part(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_a_dead_holder_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.redub");
        let a = ProjectLock::acquire(&p, "redub lines import").unwrap();
        assert!(lock_path(&p).exists());
        #[cfg(unix)]
        {
            let e = ProjectLock::acquire(&p, "redub bind").unwrap_err().to_string();
            assert!(e.contains("p.redub") && e.contains("redub lines import"), "{e}");
            assert!(e.contains(&format!("pid {}", std::process::id())), "{e}");
        }
        drop(a);
        assert!(!lock_path(&p).exists(), "released lock removed");
        // A lock file left by a process that is gone: taken over.
        std::fs::write(lock_path(&p), "redub lines import (pid 999999999, since …)\n").unwrap();
        let b = ProjectLock::acquire(&p, "redub bind").unwrap();
        let text = std::fs::read_to_string(b.path()).unwrap();
        assert!(text.starts_with("redub bind (pid "), "{text}");
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_796_601_600 + 3661), "2026-12-07 01:01:01 UTC");
    }
}
