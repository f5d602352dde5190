//! The M&E (music and effects) track in the editor: an optional stem that replaces the original
//! audio entirely in the mix. Set from the media bin or the Edit menu, drawn as its own lane
//! under the original, with mute and remove in its header; saved with the project.

use super::command::AppCommand;
use super::timeline::{TimelineView, draw_waveform};
use crate::dsp::peaks::Peak;
use crate::model::edit::Edit;
use crate::model::project::{MediaId, MediaKind, MediaRef};
use crate::model::{Project, Time};
use egui::{Align2, Color32, FontId, Pos2, Rect};

/// The edit that makes `media` the M&E stem (unmuted), or removes the stem with `None`.
pub fn set_me_edit(media: Option<MediaId>) -> Edit {
    Edit::SetMeTrack { media, mute: false }
}

fn file_name(m: &MediaRef) -> String {
    m.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Draws the stem across the M&E lane `r`.
pub fn me_lane_ui(
    painter: &egui::Painter,
    view: &TimelineView,
    r: Rect,
    m: &MediaRef,
    mute: bool,
    peaks: &[Peak],
) {
    let clip = Rect::from_x_y_ranges(
        view.x_of(Time::ZERO)..=view.x_of(m.duration),
        (r.top() + 2.0)..=(r.bottom() - 2.0),
    );
    let fill = if mute { Color32::from_gray(50) } else { Color32::from_rgb(70, 55, 85) };
    painter.rect_filled(clip, 2.0, fill);
    let area = clip.intersect(view.clip_area);
    draw_waveform(painter, area, view, peaks, Time::ZERO, Color32::from_rgb(190, 150, 230));
    painter.text(
        Pos2::new(area.left() + 4.0, clip.top() + 2.0),
        Align2::LEFT_TOP,
        format!("M&E: {}", file_name(m)),
        FontId::proportional(11.0),
        Color32::WHITE,
    );
}

/// The M&E lane's header: name, mute, remove.
pub fn me_header_ui(ui: &mut egui::Ui, project: &Project, out: &mut Vec<AppCommand>) {
    let tl = &project.timeline;
    ui.horizontal(|ui| {
        ui.label("M&E");
        if ui.selectable_label(tl.me_mute, "M").on_hover_text("Mute M&E").clicked() {
            out.push(AppCommand::Edit {
                edit: Edit::SetMeTrack { media: tl.me_track, mute: !tl.me_mute },
                label: "Mute M&E".into(),
            });
        }
        if ui.button("x").on_hover_text("Remove M&E").clicked() {
            out.push(AppCommand::Edit { edit: set_me_edit(None), label: "Remove M&E".into() });
        }
    });
}

/// The Edit menu's M&E entries: one "M&E: <file>" per audio file of the pool, and removal.
pub fn me_menu_ui(ui: &mut egui::Ui, project: &Project, out: &mut Vec<AppCommand>) {
    ui.menu_button("M&E track", |ui| {
        let audio: Vec<&MediaRef> =
            project.media.iter().filter(|m| m.kind == MediaKind::Audio).collect();
        if audio.is_empty() {
            ui.label("Import an audio stem first");
        }
        for m in audio {
            let current = project.timeline.me_track == Some(m.id);
            if ui.radio(current, format!("M&E: {}", file_name(m))).clicked() && !current {
                out.push(AppCommand::Edit {
                    edit: set_me_edit(Some(m.id)),
                    label: "Set M&E track".into(),
                });
            }
        }
        if project.timeline.me_track.is_some() && ui.button("Remove M&E track").clicked() {
            out.push(AppCommand::Edit { edit: set_me_edit(None), label: "Remove M&E".into() });
        }
    });
}
