//! The export dialog: preset, range, output path; the render runs on a worker thread with
//! `render_project` + `Job`, shown as a progress bar with ETA and Cancel.

use super::command::{AppCommand, ExportRange};
use crate::jobs::{Job, Task};
use crate::model::Preset;
use crate::model::consent::ConsentSummary;
use crate::model::disclosure::{Corner, Disclosure, LABEL_TEXT, LabelWhen};
use crate::model::project::project_dir;
use crate::model::{PastPicture, Project, Time};
use crate::render::{RenderOptions, render_project};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// A render in progress.
pub struct RunningExport {
    /// Progress and cancel.
    pub job: Arc<Job>,
    /// When it started (for the ETA).
    pub started: Instant,
    /// The time-left estimate.
    pub eta: Eta,
    /// While the render waits for the lip plan: the plan's stage and progress.
    pub planning: Arc<std::sync::Mutex<Option<(String, f64)>>>,
    /// The render (dropping it cancels the render); its one result is the outcome.
    task: Task<Result<Vec<PathBuf>, String>>,
}

/// Dialog state.
pub struct ExportDialog {
    /// Shown.
    pub open: bool,
    /// Format.
    pub preset: Preset,
    /// Range.
    pub range: ExportRange,
    /// Output path as typed.
    pub output: String,
    /// The running export.
    pub running: Option<RunningExport>,
    /// The last outcome: files written, or the error.
    pub finished: Option<Result<Vec<PathBuf>, String>>,
    /// The output file exists: asking before replacing it.
    pub confirm_overwrite: Option<PathBuf>,
    /// What the picture shows past its end (saved with the project's export settings).
    pub past_picture: PastPicture,
    /// The user confirmed lip edits of faces without recorded consent (written into the
    /// file's metadata); cleared each time the dialog opens.
    pub allow_unconsented: bool,
    /// The burned-in "Lips edited — Redub" label (saved with the project's export settings).
    pub disclosure: Option<Disclosure>,
}

/// What the dialog says about the length of the export.
#[derive(Clone, Copy, Debug)]
pub struct ExportLength {
    /// The picture's end.
    pub picture_end: Time,
    /// The sequence's end ([`crate::model::project::Timeline::sequence_end`]): where a
    /// whole-timeline export ends.
    pub sequence_end: Time,
    /// The timeline's frame rate (for timecodes).
    pub rate: crate::model::FrameRate,
}

impl Default for ExportDialog {
    fn default() -> Self {
        Self {
            open: false,
            preset: Preset::Mp4,
            range: ExportRange::Whole,
            output: String::new(),
            running: None,
            finished: None,
            confirm_overwrite: None,
            past_picture: PastPicture::Hold,
            allow_unconsented: false,
            disclosure: None,
        }
    }
}

impl ExportDialog {
    /// Opens the dialog with the project's saved settings.
    pub fn show(&mut self, project: &Project, project_path: Option<&Path>) {
        self.open = true;
        self.allow_unconsented = false;
        self.preset = project.export.preset;
        self.past_picture = project.export.past_picture;
        self.disclosure = project.export.disclosure;
        if self.output.is_empty() {
            self.output = match &project.export.output {
                Some(p) => p.display().to_string(),
                None => {
                    let dir = project_path
                        .map(project_dir)
                        .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
                    let stem = if project.name.is_empty() { "export" } else { &project.name };
                    dir.join(format!("{stem}.{}", self.preset.extension())).display().to_string()
                }
            };
        }
    }

    /// Starts rendering `project` on a worker thread.
    pub fn start(
        &mut self,
        project: Project,
        project_path: Option<&Path>,
        opts: RenderOptions,
        ctx: egui::Context,
    ) -> std::io::Result<()> {
        // Never over the project or its media, nor a device or FIFO.
        let mut inputs = match project_path {
            Some(p) => crate::model::output::project_inputs(&project, p),
            None => Vec::new(),
        };
        inputs.extend(
            project.media.iter().map(|m| {
                crate::model::output::Input::new(m.path.clone(), "media the project uses")
            }),
        );
        let mut outputs = vec![opts.output.clone()];
        if opts.preset == Preset::WavStems {
            outputs = crate::render::export::stem_paths(&opts.output).to_vec();
        }
        for o in &outputs {
            crate::model::output::check_output(o, &inputs).map_err(std::io::Error::other)?;
        }
        let dir = project_path
            .map(project_dir)
            .unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
        let planning = Arc::new(std::sync::Mutex::new(None));
        let plan_state = Arc::clone(&planning);
        let task = Task::spawn("export", 1, move |job, out| {
            let mut last = Instant::now();
            let r = render_project(&project, &dir, &opts, job, |p| {
                if let Ok(mut s) = plan_state.lock() {
                    *s = p.planning;
                }
                // The UI polls the job; wake it a few times a second.
                if last.elapsed().as_millis() > 200 {
                    ctx.request_repaint();
                    last = Instant::now();
                }
            });
            out.send(r.map(|rep| rep.outputs).map_err(crate::app::error_line));
            ctx.request_repaint();
        })?;
        self.finished = None;
        let job = Arc::clone(task.job());
        self.running = Some(RunningExport {
            job,
            started: Instant::now(),
            eta: Eta::default(),
            planning,
            task,
        });
        Ok(())
    }

    /// Collects the outcome of a finished render.
    pub fn poll(&mut self) -> Option<&Result<Vec<PathBuf>, String>> {
        let done = self.running.as_mut().and_then(|r| r.task.try_recv());
        if let Some(d) = done {
            self.running = None;
            self.finished = Some(d);
            return self.finished.as_ref();
        }
        None
    }
}

/// Time left of a running export, from the rate at which its progress has grown since it was
/// first counted. The set-up before the first frame (the lip plan, the loudness pass) is not
/// counted work: measured from the start instead, it made the first estimates several times
/// too long ("24 % · 16 s left", done 3 s later).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Eta {
    /// Elapsed seconds and fraction done when progress was first seen above 0.
    first: Option<(f64, f64)>,
}

impl Eta {
    /// Seconds left at `elapsed` seconds with `fraction` done; `None` while estimating (no
    /// progress yet, or less than half a second of it).
    pub fn update(&mut self, elapsed: f64, fraction: f64) -> Option<f64> {
        if fraction <= 0.0 {
            return None;
        }
        let (t0, f0) = *self.first.get_or_insert((elapsed, fraction));
        let (dt, df) = (elapsed - t0, fraction - f0);
        (dt >= 0.5 && df > 0.0).then(|| ((1.0 - fraction) * dt / df).max(0.0))
    }
}

/// Draws the export dialog (a window) when open. `consent` is the consent status of the faces
/// the export edits: without recorded consent, Export stays off until the user confirms.
pub fn export_dialog_ui(
    ctx: &egui::Context,
    d: &mut ExportDialog,
    in_out: Option<(Time, Time)>,
    length: ExportLength,
    consent: &ConsentSummary,
    out: &mut Vec<AppCommand>,
) {
    if !d.open {
        return;
    }
    let mut open = true;
    egui::Window::new("Export")
        .id(egui::Id::unique("export-dialog"))
        .collapsible(false)
        .resizable(false)
        .open(&mut open)
        .show(ctx, |ui| {
            let busy = d.running.is_some();
            ui.add_enabled_ui(!busy, |ui| {
                egui::Grid::new("export-grid").num_columns(2).show(ui, |ui| {
                    let l = ui.label("Preset");
                    let _ = egui::ComboBox::from_id_salt("export-preset")
                        .selected_text(preset_label(d.preset))
                        .show_ui(ui, |ui| {
                            for p in Preset::ALL {
                                if ui.selectable_value(&mut d.preset, p, preset_label(p)).changed()
                                {
                                    let path = PathBuf::from(&d.output);
                                    d.output =
                                        path.with_extension(p.extension()).display().to_string();
                                }
                            }
                        })
                        .response
                        .labelled_by(l.id);
                    ui.end_row();
                    ui.label("Range");
                    ui.horizontal(|ui| {
                        ui.radio_value(&mut d.range, ExportRange::Whole, "Whole timeline");
                        ui.add_enabled_ui(in_out.is_some(), |ui| {
                            ui.radio_value(&mut d.range, ExportRange::InOut, "In to out");
                        });
                    });
                    ui.end_row();
                    let l = ui.label("Output");
                    ui.horizontal(|ui| {
                        ui.add(egui::TextEdit::singleline(&mut d.output).desired_width(320.0))
                            .labelled_by(l.id);
                        if ui.button("Browse…").on_hover_text("Choose the output file").clicked()
                        {
                            out.push(AppCommand::BrowseExportOutput);
                        }
                    });
                    ui.end_row();
                });
            });
            // The length it exports: the sequence's, to its last clip; past the picture's end,
            // the picture holds its last frame or is black.
            let tc = |t: Time| crate::model::time::format_timecode(t, length.rate, false);
            let (a, b) = match (d.range, in_out) {
                (ExportRange::InOut, Some((a, b))) => (a, b.min(length.sequence_end)),
                _ => (Time::ZERO, length.sequence_end),
            };
            ui.label(format!("Exports {} ({:.2} s)", tc(b - a), (b - a).as_seconds_f64()));
            if b > length.picture_end && length.sequence_end > length.picture_end {
                let past = length.sequence_end - length.picture_end;
                ui.colored_label(
                    egui::Color32::from_rgb(240, 190, 80),
                    format!(
                        "The dub runs {:.2} s past the picture (to {}): the picture ends at {}.",
                        past.as_seconds_f64(),
                        tc(length.sequence_end),
                        tc(length.picture_end)
                    ),
                );
                ui.add_enabled_ui(!busy, |ui| {
                    ui.horizontal(|ui| {
                        ui.label("Past the picture:");
                        ui.radio_value(&mut d.past_picture, PastPicture::Hold, "Hold last frame");
                        ui.radio_value(&mut d.past_picture, PastPicture::Black, "Black");
                    });
                });
            }
            if d.preset != Preset::WavStems {
                ui.add_enabled_ui(!busy, |ui| disclosure_ui(ui, &mut d.disclosure));
            }
            // Lip edits of people without consent on record: refused unless confirmed.
            let missing = consent.missing();
            let refused = d.preset != Preset::WavStems && !missing.is_empty();
            if refused {
                let names: Vec<String> = missing.iter().map(|f| consent.name_of(*f)).collect();
                ui.colored_label(
                    egui::Color32::from_rgb(240, 90, 80),
                    format!(
                        "This export edits the lips of {} without recorded consent (Faces \
                         panel: Consent…).",
                        names.join(" and ")
                    ),
                );
                ui.add_enabled_ui(!busy, |ui| {
                    ui.checkbox(
                        &mut d.allow_unconsented,
                        "Export anyway: I confirm the edit is allowed (written into the file)",
                    );
                });
            }
            let blocked = refused && !d.allow_unconsented;
            ui.separator();
            if let Some(r) = &mut d.running {
                let f = r.job.progress();
                let elapsed = r.started.elapsed().as_secs_f64();
                let eta = r
                    .eta
                    .update(elapsed, f)
                    .map_or("estimating…".to_string(), |s| format!("{s:.0} s left"));
                ui.add(
                    egui::ProgressBar::new(f as f32)
                        .show_percentage()
                        .text(format!("{:.0} % · {eta}", f * 100.0)),
                );
                let planning = r.planning.lock().ok().and_then(|p| p.clone());
                if let Some((stage, f)) = planning {
                    // The frames before the first lip edit are written; the rest wait for the plan.
                    let stage = if stage.is_empty() { "planning".into() } else { stage };
                    ui.add(
                        egui::ProgressBar::new(f as f32)
                            .text(format!("Lip edit: {stage}… {:.0} %", f * 100.0)),
                    );
                }
                if ui.button("Cancel").on_hover_text("Cancel the export").clicked() {
                    out.push(AppCommand::CancelExport);
                }
            } else {
                match &d.finished {
                    Some(Ok(files)) => {
                        ui.label(format!("Exported {} file(s).", files.len()));
                        for f in files {
                            ui.monospace(f.display().to_string());
                        }
                        if let Some(dir) = files.first().and_then(|f| f.parent())
                            && ui.button("Show in folder").clicked()
                        {
                            out.push(AppCommand::ShowInFolder(dir.to_path_buf()));
                        }
                    }
                    Some(Err(e)) => {
                        ui.colored_label(egui::Color32::from_rgb(240, 90, 80), e);
                    }
                    None => {}
                }
                let output = PathBuf::from(d.output.trim());
                let start = AppCommand::StartExport {
                    preset: d.preset,
                    range: d.range,
                    output: output.clone(),
                    past_picture: d.past_picture,
                    allow_unconsented: refused && d.allow_unconsented,
                    disclosure: d.disclosure,
                };
                if d.confirm_overwrite.as_ref().is_some_and(|p| *p != output) {
                    d.confirm_overwrite = None;
                }
                if let Some(p) = d.confirm_overwrite.clone() {
                    ui.colored_label(
                        egui::Color32::from_rgb(240, 190, 80),
                        format!("{} exists. Replace it?", p.display()),
                    );
                    ui.horizontal(|ui| {
                        if ui.button("Replace").clicked() {
                            d.confirm_overwrite = None;
                            out.push(start.clone());
                        }
                        if ui.button("Keep it").clicked() {
                            d.confirm_overwrite = None;
                        }
                    });
                }
                ui.horizontal(|ui| {
                    let export = ui
                        .add_enabled(!blocked, egui::Button::new("Export"))
                        .on_hover_text("Start the export")
                        .on_disabled_hover_text(
                            "Record the consent of each edited face, or confirm the export above",
                        );
                    if export.clicked() {
                        if output.is_file() {
                            d.confirm_overwrite = Some(output.clone());
                        } else {
                            out.push(start.clone());
                        }
                    }
                    if ui.button("Close").clicked() {
                        out.push(AppCommand::HideExport);
                    }
                });
            }
        });
    if !open {
        out.push(AppCommand::HideExport);
    }
}

/// The visible disclosure: a burned-in label, its corner, and when it shows.
fn disclosure_ui(ui: &mut egui::Ui, disclosure: &mut Option<Disclosure>) {
    let mut on = disclosure.is_some();
    if ui
        .checkbox(&mut on, format!("Burn in a label \u{201c}{LABEL_TEXT}\u{201d}"))
        .on_hover_text("A small visible notice that the lips were edited, in the picture itself")
        .changed()
    {
        *disclosure = on.then(Disclosure::default);
    }
    let Some(d) = disclosure else { return };
    ui.horizontal(|ui| {
        ui.add_space(24.0);
        let l = ui.label("Corner");
        let _ = egui::ComboBox::from_id_salt("export-label-corner")
            .selected_text(corner_label(d.corner))
            .show_ui(ui, |ui| {
                for c in Corner::ALL {
                    ui.selectable_value(&mut d.corner, c, corner_label(c));
                }
            })
            .response
            .labelled_by(l.id);
        ui.radio_value(&mut d.when, LabelWhen::Edited, "On the lip-edited ranges");
        ui.radio_value(&mut d.when, LabelWhen::Always, "Throughout");
    });
}

fn corner_label(c: Corner) -> &'static str {
    match c {
        Corner::TopLeft => "Top left",
        Corner::TopRight => "Top right",
        Corner::BottomLeft => "Bottom left",
        Corner::BottomRight => "Bottom right",
    }
}

fn preset_label(p: Preset) -> &'static str {
    match p {
        Preset::Mp4 => "MP4 (H.264 + AAC)",
        Preset::Webm => "WebM (VP9 + Opus)",
        Preset::Mov => "MOV (ProRes 422 HQ + PCM)",
        Preset::WavStems => "WAV stems (dialogue, background, mix)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_counts_the_rate_of_the_work_not_the_set_up() {
        let mut eta = Eta::default();
        // 8 s of set-up with nothing counted, then 1 % of the frames every 0.1 s.
        assert_eq!(eta.update(8.0, 0.0), None, "estimating while nothing is counted");
        assert_eq!(eta.update(8.1, 0.01), None);
        assert_eq!(eta.update(8.3, 0.03), None, "under half a second of progress");
        let left = eta.update(10.5, 0.25).unwrap();
        assert!((left - 7.5).abs() < 1e-6, "0.75 left at 0.1 per second: {left}");
        let left = eta.update(16.5, 0.85).unwrap();
        assert!((left - 1.5).abs() < 1e-6, "{left}");
        // The estimate from the start would have said 31.5 s at 25 %.
    }
}
