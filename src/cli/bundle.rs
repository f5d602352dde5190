//! `redub bundle` and `redub unbundle`: a project with its media, caches and models manifest as
//! one `.redubz` file, and back (see [`crate::render::bundle`]). `redub render X.redubz` opens a
//! bundle the same way before rendering.

use super::CliError;
use crate::jobs::{Job, Task};
use crate::render::bundle::{self, BundleError, CollectOptions, CollectReport, Opened};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

impl From<BundleError> for CliError {
    fn from(e: BundleError) -> Self {
        match e {
            BundleError::Io { .. } | BundleError::Project(_) | BundleError::Corrupt { .. } => {
                CliError::User(e.to_string())
            }
            BundleError::Cancelled => CliError::User("cancelled".into()),
        }
    }
}

/// Runs `work` on a task, showing its progress on stderr (a bar on a terminal, else a line per
/// tenth) until it ends.
fn with_progress<T: Send + 'static>(
    what: &str,
    work: impl FnOnce(&Job) -> T + Send + 'static,
) -> Result<T, CliError> {
    let mut task = Task::spawn_one("redub-bundle", work)
        .map_err(|e| CliError::Internal(format!("cannot start {what}: {e}")))?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(1000);
        bar.set_style(
            indicatif::ProgressStyle::with_template(&format!("{what} {{bar:40}} {{percent}}%"))
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut tenth = -1i64;
    loop {
        if let Some(result) = task.try_recv() {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            return Ok(result);
        }
        if task.is_finished() {
            return Err(CliError::Internal(format!("{what} stopped unexpectedly")));
        }
        let p = task.progress();
        if let Some(bar) = &bar {
            bar.set_position((p * 1000.0) as u64);
        } else if (p * 10.0) as i64 > tenth {
            tenth = (p * 10.0) as i64;
            eprintln!("{what}: {}%", tenth * 10);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}

/// `redub bundle P -o OUT.redubz`.
pub(super) fn collect(
    project: &Path,
    output: &Path,
    force: bool,
    trim: bool,
) -> Result<(), CliError> {
    if !bundle::is_bundle(output) {
        return Err(CliError::User(format!(
            "{}: a bundle ends in .{}",
            output.display(),
            bundle::BUNDLE_EXTENSION
        )));
    }
    if output.exists() && !force {
        return Err(CliError::User(format!(
            "{} exists; use --force to replace it",
            output.display()
        )));
    }
    let started = std::time::Instant::now();
    let (p, o) = (project.to_path_buf(), output.to_path_buf());
    let opts = CollectOptions { trim };
    let r: CollectReport =
        with_progress("collecting", move |job| bundle::collect_with(&p, &o, opts, job))??;
    println!(
        "wrote {}: {} ({} media file(s), {}; {} cache file(s), {}; {} model(s) listed) in {:.1} s",
        r.path.display(),
        size_text(r.size),
        r.media_files,
        size_text(r.media_bytes),
        r.cache_files,
        size_text(r.cache_bytes),
        r.models,
        started.elapsed().as_secs_f64()
    );
    if trim {
        println!(
            "cut {} media file(s) to their used ranges ({} left out)",
            r.trimmed,
            size_text(r.trimmed_away)
        );
        for n in &r.notes {
            eprintln!("redub: note: {n}");
        }
    }
    Ok(())
}

/// Opens a bundle (unpacking it beside itself, or reusing an earlier unpack), printing where
/// and what this machine lacks; returns the unpacked project file.
pub(super) fn open(path: &Path) -> Result<PathBuf, CliError> {
    let started = std::time::Instant::now();
    let b = path.to_path_buf();
    let o: Opened = with_progress("opening", move |job| bundle::open(&b, job))??;
    if o.reused {
        eprintln!("redub: {} was unpacked before: using {}", path.display(), o.folder.display());
    } else {
        eprintln!(
            "redub: unpacked {} into {} in {:.1} s ({} cache file(s) installed)",
            path.display(),
            o.folder.display(),
            started.elapsed().as_secs_f64(),
            o.caches_installed
        );
    }
    for w in &o.warnings {
        eprintln!("redub: warning: {w}");
    }
    Ok(o.project)
}

/// `redub unbundle X.redubz`: prints the unpacked project's path.
pub(super) fn unbundle(path: &Path) -> Result<(), CliError> {
    let project = open(path)?;
    println!("{}", project.display());
    Ok(())
}
