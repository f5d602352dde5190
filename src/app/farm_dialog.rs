//! File ▸ Export for render farm…: writes the job files `redub farm` writes (an Open Job
//! Description template, a Slurm script or a GNU parallel script) for the saved project.

use super::command::AppCommand;
use crate::render::farm::jobs::JobFormat;
use std::path::{Path, PathBuf};

/// Dialog state.
pub struct FarmDialog {
    /// Shown.
    pub open: bool,
    /// Pieces of the picture.
    pub pieces: u32,
    /// Job file format.
    pub format: JobFormat,
    /// Job file path as typed.
    pub output: String,
}

impl Default for FarmDialog {
    fn default() -> Self {
        Self { open: false, pieces: 4, format: JobFormat::OpenJd, output: String::new() }
    }
}

impl FarmDialog {
    /// Opens the dialog with a job file beside the project (`NAME-farm.yaml`).
    pub fn show(&mut self, project_path: Option<&Path>) {
        self.open = true;
        if self.output.is_empty()
            && let Some(p) = project_path
        {
            self.output = job_path(p, self.format).display().to_string();
        }
    }
}

/// The default job file of a project: `NAME-farm.yaml` (or `.sh`) beside it.
pub fn job_path(project_path: &Path, format: JobFormat) -> PathBuf {
    let stem =
        project_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    project_path.with_file_name(format!("{stem}-farm.{}", format.extension()))
}

/// Draws the dialog; "Write job file" emits [`AppCommand::WriteFarmJob`].
pub fn farm_dialog_ui(
    ctx: &egui::Context,
    d: &mut FarmDialog,
    project_saved: bool,
    out: &mut Vec<AppCommand>,
) {
    if !d.open {
        return;
    }
    let mut open = true;
    egui::Window::new("Export for render farm")
        .id(egui::Id::unique("farm-dialog"))
        .collapsible(false)
        .resizable(false)
        .open(&mut open)
        .show(ctx, |ui| {
            ui.label(
                "Writes a job that plans once, renders the picture in pieces on several \
                 machines and the sound once, then joins them without re-encoding.",
            );
            egui::Grid::new("farm-grid").num_columns(2).show(ui, |ui| {
                let l = ui.label("Pieces");
                ui.add(egui::DragValue::new(&mut d.pieces).range(1..=999)).labelled_by(l.id);
                ui.end_row();
                let l = ui.label("Format");
                let before = d.format;
                let label =
                    JobFormat::ALL.iter().find(|(f, _)| *f == d.format).map_or("", |(_, n)| *n);
                let _ = egui::ComboBox::from_id_salt("farm-format")
                    .selected_text(label)
                    .show_ui(ui, |ui| {
                        for (f, name) in JobFormat::ALL {
                            ui.selectable_value(&mut d.format, f, name);
                        }
                    })
                    .response
                    .labelled_by(l.id);
                if d.format != before {
                    // Keep the typed name, with the new format's extension.
                    let p = PathBuf::from(&d.output);
                    if !d.output.is_empty() {
                        d.output = p.with_extension(d.format.extension()).display().to_string();
                    }
                }
                ui.end_row();
                let l = ui.label("Job file");
                ui.add(egui::TextEdit::singleline(&mut d.output).desired_width(320.0))
                    .labelled_by(l.id);
                ui.end_row();
            });
            if !project_saved {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    "Save the project first: the machines read it from its file.",
                );
            }
            ui.horizontal(|ui| {
                let ready = project_saved && !d.output.trim().is_empty();
                if ui.add_enabled(ready, egui::Button::new("Write job file")).clicked() {
                    out.push(AppCommand::WriteFarmJob {
                        pieces: d.pieces,
                        format: d.format,
                        output: PathBuf::from(d.output.trim()),
                    });
                }
                if ui.button("Close").clicked() {
                    d.open = false;
                }
            });
        });
    if !open {
        d.open = false;
    }
}
