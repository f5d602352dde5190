//! File ▸ Collect project… and opening a bundle (`.redubz`: File ▸ Open, a drop, the editor's
//! argument) in the editor: the work of [`crate::render::bundle`] runs on a [`Task`], shown in a
//! small window with its progress and Cancel; a cancelled or failed one leaves nothing behind.

use super::command::AppCommand;
use crate::jobs::Task;
use crate::model::Project;
use crate::render::bundle::{self, BundleError, CollectOptions, CollectReport, Opened};
use std::path::{Path, PathBuf};

/// What a bundle job gave.
#[derive(Debug)]
pub enum BundleDone {
    /// A bundle written.
    Collected(CollectReport),
    /// A bundle unpacked (or its earlier unpack found).
    Opened(Opened),
}

/// A collect or an open running in the background.
pub struct BundleJob {
    /// "Collect project" or "Open bundle".
    pub title: &'static str,
    /// The bundle written or read.
    pub path: PathBuf,
    task: Task<Result<BundleDone, BundleError>>,
}

impl BundleJob {
    /// Collects `project` (its relative media paths against `dir`) into `out`.
    pub fn collect(
        project: Project,
        dir: PathBuf,
        name: Option<String>,
        out: PathBuf,
        opts: CollectOptions,
    ) -> std::io::Result<Self> {
        let to = out.clone();
        let task = Task::spawn_one("redub-collect", move |job| {
            bundle::collect_project(&project, &dir, name.as_deref(), &to, opts, job)
                .map(BundleDone::Collected)
        })?;
        Ok(Self { title: "Collect project", path: out, task })
    }

    /// Opens the bundle at `path`.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        let from = path.to_path_buf();
        let task = Task::spawn_one("redub-unbundle", move |job| {
            bundle::open(&from, job).map(BundleDone::Opened)
        })?;
        Ok(Self { title: "Open bundle", path: path.to_path_buf(), task })
    }

    /// Asks the work to stop (it removes what it wrote).
    pub fn cancel(&self) {
        self.task.cancel();
    }

    /// The result once the work ended.
    pub fn poll(&mut self) -> Option<Result<BundleDone, BundleError>> {
        if let Some(r) = self.task.try_recv() {
            return Some(r);
        }
        self.task.is_finished().then(|| {
            Err(BundleError::Project(format!("{}: the work stopped unexpectedly", self.title)))
        })
    }
}

/// The job's window: what, where, progress and Cancel.
pub fn bundle_window(ctx: &egui::Context, job: &BundleJob, out: &mut Vec<AppCommand>) {
    egui::Window::new(job.title).collapsible(false).resizable(false).show(ctx, |ui| {
        let verb = if job.title == "Collect project" { "Writing" } else { "Unpacking" };
        ui.label(format!("{verb} {}", job.path.display()));
        ui.add(
            egui::ProgressBar::new(job.task.progress() as f32)
                .show_percentage()
                .desired_width(360.0),
        );
        if job.task.is_cancelled() {
            ui.label("Cancelling…");
        } else if ui.button("Cancel").clicked() {
            out.push(AppCommand::CancelBundle);
        }
    });
    ctx.request_repaint_after(std::time::Duration::from_millis(100));
}

/// A byte count for people.
pub fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.2} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1u64 << 20) as f64)
    }
}
