//! The inspector: properties of the selected clip (timecode fields that accept typing, in/out,
//! gain, fades), the ducking of the original and the project settings.

use super::command::AppCommand;
use crate::model::edit::{Edit, clip};
use crate::model::time::format_timecode;
use crate::model::{ClipId, FrameRate, Project, Time, Timecode};

/// Text being typed into timecode fields, kept until Enter or focus loss.
#[derive(Clone, Debug, Default)]
pub struct InspectorState {
    editing: Option<(ClipId, &'static str, String)>,
    align: super::align_ui::AlignUiState,
    markers: super::markers_ui::MarkersUiState,
}

/// Parses a timecode (`HH:MM:SS:FF`, or fewer fields) at a rate.
pub fn parse_timecode(s: &str, rate: FrameRate) -> Option<Time> {
    let s = s.trim();
    if let Ok(tc) = Timecode::parse(s, rate) {
        return tc.to_frame(rate).ok().map(|f| rate.frame_to_time(f));
    }
    // Allow "SS:FF" and "MM:SS:FF" by padding the missing leading fields.
    let parts = s.split([':', ';']).count();
    if (1..4).contains(&parts) {
        let padded = format!("{}{}", "00:".repeat(4 - parts), s);
        return Timecode::parse(&padded, rate)
            .ok()?
            .to_frame(rate)
            .ok()
            .map(|f| rate.frame_to_time(f));
    }
    None
}

/// One timecode field: shows the value, accepts typing, emits the new time on Enter / focus loss.
fn timecode_field_ui(
    ui: &mut egui::Ui,
    state: &mut InspectorState,
    id: ClipId,
    which: &'static str,
    value: Time,
    rate: FrameRate,
) -> Option<Time> {
    let shown = format_timecode(value, rate, rate.is_drop_frame_rate());
    let mut text = match &state.editing {
        Some((cid, w, t)) if *cid == id && *w == which => t.clone(),
        _ => shown.clone(),
    };
    let label = ui.label(which);
    let resp = ui
        .add(
            egui::TextEdit::singleline(&mut text)
                .desired_width(118.0)
                .font(egui::TextStyle::Monospace),
        )
        .labelled_by(label.id);
    let mut result = None;
    if resp.changed() || resp.has_focus() {
        state.editing = Some((id, which, text.clone()));
    }
    if resp.lost_focus() {
        if text != shown {
            result = parse_timecode(&text, rate);
        }
        state.editing = None;
    }
    result
}

/// Draws the inspector.
pub fn inspector_ui(
    ui: &mut egui::Ui,
    project: &Project,
    selection: &[ClipId],
    waveforms: Option<&super::timeline::Waveforms>,
    state: &mut InspectorState,
    out: &mut Vec<AppCommand>,
) {
    let rate = project.timeline.frame_rate;
    ui.heading("Inspector");
    ui.separator();
    let selected: Vec<_> = selection.iter().filter_map(|id| clip(project, *id)).collect();
    match selected.as_slice() {
        [] => {
            ui.label("No clip selected.");
        }
        [(track, c)] => {
            let (track, c) = (*track, (*c).clone());
            let track_name = project
                .timeline
                .dub_tracks
                .iter()
                .find(|t| t.id == track)
                .map(|t| t.name.clone())
                .unwrap_or_default();
            ui.label(egui::RichText::new(&c.name).strong());
            ui.label(format!("on {track_name}"));
            let set = |n: crate::model::Clip, label: &str, out: &mut Vec<AppCommand>| {
                out.push(AppCommand::Edit {
                    edit: Edit::SetClip { track, clip: n },
                    label: label.into(),
                });
            };
            egui::Grid::new("clip-props").num_columns(2).show(ui, |ui| {
                if let Some(t) = timecode_field_ui(ui, state, c.id, "Position", c.position, rate) {
                    let mut n = c.clone();
                    n.position = t;
                    set(n, "Set clip position", out);
                }
                ui.end_row();
                if let Some(t) = timecode_field_ui(ui, state, c.id, "Source in", c.source_in, rate)
                    && t < c.source_out
                {
                    let mut n = c.clone();
                    n.source_in = t;
                    set(n, "Set clip in", out);
                }
                ui.end_row();
                if let Some(t) =
                    timecode_field_ui(ui, state, c.id, "Source out", c.source_out, rate)
                    && t > c.source_in
                {
                    let mut n = c.clone();
                    n.source_out = t;
                    set(n, "Set clip out", out);
                }
                ui.end_row();
                ui.label("Duration");
                ui.label(format_timecode(c.duration(), rate, false));
                ui.end_row();
                let mut gain = c.gain_db;
                ui.label("Gain dB");
                let r = ui
                    .add(
                        egui::DragValue::new(&mut gain)
                            .range(-60.0..=24.0)
                            .speed(0.1)
                            .suffix(" dB"),
                    )
                    .on_hover_text("Clip gain");
                drag_edit(
                    &r,
                    out,
                    "Change clip gain",
                    || {
                        let mut n = c.clone();
                        n.gain_db = gain;
                        Edit::SetClip { track, clip: n }
                    },
                    gain != c.gain_db,
                );
                ui.end_row();
                for (which, value) in [("Fade in ms", c.fade_in), ("Fade out ms", c.fade_out)] {
                    let mut ms = (value.as_seconds_f64() * 1000.0).round() as i64;
                    ui.label(which);
                    let max = (c.duration().as_seconds_f64() * 1000.0) as i64;
                    let r = ui
                        .add(egui::DragValue::new(&mut ms).range(0..=max).suffix(" ms"))
                        .on_hover_text(which);
                    let changed = ms != (value.as_seconds_f64() * 1000.0).round() as i64;
                    drag_edit(
                        &r,
                        out,
                        "Change fade",
                        || {
                            let mut n = c.clone();
                            if which.starts_with("Fade in") {
                                n.fade_in = Time::from_millis(ms);
                            } else {
                                n.fade_out = Time::from_millis(ms);
                            }
                            Edit::SetClip { track, clip: n }
                        },
                        changed,
                    );
                    ui.end_row();
                }
            });
            super::align_ui::align_ui(ui, project, track, &c, waveforms, &mut state.align, out);
        }
        many => {
            ui.label(format!("{} clips selected", many.len()));
        }
    }
    ui.separator();
    ui.label(egui::RichText::new("Ducking of the original").strong());
    let d = project.timeline.ducking;
    egui::Grid::new("ducking").num_columns(2).show(ui, |ui| {
        for (which, value, range) in [
            ("Depth dB", d.depth_db, 0.0..=60.0),
            ("Attack ms", d.attack_ms, 0.0..=2000.0),
            ("Release ms", d.release_ms, 0.0..=4000.0),
        ] {
            let mut v = value;
            ui.label(which);
            let r = ui
                .add(egui::DragValue::new(&mut v).range(range).speed(0.5))
                .on_hover_text(format!("Ducking {which}"));
            drag_edit(
                &r,
                out,
                "Change ducking",
                || {
                    let mut n = d;
                    match which {
                        "Depth dB" => n.depth_db = v,
                        "Attack ms" => n.attack_ms = v,
                        _ => n.release_ms = v,
                    }
                    Edit::SetDucking(n)
                },
                v != value,
            );
            ui.end_row();
        }
    });
    ui.separator();
    super::markers_ui::markers_ui(ui, project, &mut state.markers, out);
    ui.separator();
    ui.label(egui::RichText::new("Project").strong());
    ui.label(format!("Name: {}", project.name));
    ui.label(format!("Frame rate: {:.3} fps", rate.as_f64()));
    ui.label(format!(
        "Duration: {}",
        format_timecode(project.timeline.duration, rate, rate.is_drop_frame_rate())
    ));
}

/// A drag on a value is one undo step (gesture); a typed value is a plain edit.
fn drag_edit(
    r: &egui::Response,
    out: &mut Vec<AppCommand>,
    label: &str,
    edit: impl FnOnce() -> Edit,
    changed: bool,
) {
    if r.drag_started() {
        out.push(AppCommand::BeginGesture(label.into()));
    }
    if changed {
        out.push(AppCommand::Edit { edit: edit(), label: label.into() });
    }
    if r.drag_stopped() {
        out.push(AppCommand::EndGesture);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timecode_fields_accept_short_forms() {
        let r = FrameRate::FPS_25;
        assert_eq!(parse_timecode("00:00:01:05", r), Some(r.frame_to_time(30)));
        assert_eq!(parse_timecode("1:05", r), Some(r.frame_to_time(30)));
        assert_eq!(parse_timecode("nonsense", r), None);
    }
}
