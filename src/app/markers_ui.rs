//! The inspector's marker list: rename a marker by typing (Enter or focus loss commits one
//! undoable edit), jump to it, remove it.

use super::command::AppCommand;
use crate::model::edit::Edit;
use crate::model::time::format_timecode;
use crate::model::{Marker, Project};

/// The name being typed for a marker (by index), kept until Enter or focus loss.
#[derive(Clone, Debug, Default)]
pub struct MarkersUiState {
    editing: Option<(usize, String)>,
}

/// The edit that renames marker `index` (names are trimmed; an empty name is refused).
pub fn rename_marker_edit(project: &Project, index: usize, name: &str) -> Option<Edit> {
    let name = name.trim();
    let mut markers: Vec<Marker> = project.timeline.markers.clone();
    let m = markers.get_mut(index)?;
    if name.is_empty() || m.name == name {
        return None;
    }
    m.name = name.to_string();
    Some(Edit::SetMarkers(markers))
}

/// Draws the marker list.
pub fn markers_ui(
    ui: &mut egui::Ui,
    project: &Project,
    state: &mut MarkersUiState,
    out: &mut Vec<AppCommand>,
) {
    ui.label(egui::RichText::new("Markers").strong());
    let markers = &project.timeline.markers;
    if markers.is_empty() {
        ui.label("No markers (M adds one at the playhead).");
        return;
    }
    let rate = project.timeline.frame_rate;
    // One row a marker: its timecode, then the name field taking the width the panel has (a
    // fixed width was cut off by a narrow panel), the remove button at the right edge.
    for (i, m) in markers.iter().enumerate() {
        ui.horizontal(|ui| {
            let tc = format_timecode(m.time, rate, rate.is_drop_frame_rate());
            if ui.button(&tc).on_hover_text(format!("Go to {}", m.name)).clicked() {
                out.push(AppCommand::Seek(m.time));
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button("x").on_hover_text(format!("Remove marker {}", m.name)).clicked() {
                    let mut left = markers.clone();
                    left.remove(i);
                    out.push(AppCommand::Edit {
                        edit: Edit::SetMarkers(left),
                        label: "Remove marker".into(),
                    });
                }
                let mut text = match &state.editing {
                    Some((k, t)) if *k == i => t.clone(),
                    _ => m.name.clone(),
                };
                let r = ui
                    .add(
                        egui::TextEdit::singleline(&mut text)
                            .desired_width(ui.available_width().max(40.0)),
                    )
                    .on_hover_text(format!("Marker name at {tc}"));
                if r.changed() || r.has_focus() {
                    state.editing = Some((i, text.clone()));
                }
                if r.lost_focus() {
                    if let Some(edit) = rename_marker_edit(project, i, &text) {
                        out.push(AppCommand::Edit { edit, label: "Rename marker".into() });
                    }
                    state.editing = None;
                }
            });
        });
    }
}
