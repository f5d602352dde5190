//! The inspector: properties of the selected clip (timecode fields that accept typing, in/out,
//! gain, fades), the ducking of the original and the project settings.

use super::command::AppCommand;
use crate::model::edit::{Edit, clip};
use crate::model::lip::{
    FEATHER_RANGE, LipEngine, LipSegment, OcclusionMode, Region, segment_override,
};
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
        format_timecode(project.timeline.sequence_end(), rate, rate.is_drop_frame_rate())
    ));
}

/// The edit that changes the settings of one lip segment: its override is updated, or created
/// from the segment's detected span and current settings.
pub fn lip_segment_edit(
    project: &Project,
    seg: &super::lip_lane::LipSegmentRef,
    current: &crate::lipsync::plan::LipSegmentPlan,
    change: impl FnOnce(&mut LipSegment),
) -> Option<Edit> {
    let track = project.timeline.dub_tracks.iter().find(|t| t.id == seg.track)?;
    let mut segments = track.lip_segments.clone();
    let found = segment_override(&track.lip_segments, seg.start, seg.end)
        .and_then(|o| track.lip_segments.iter().position(|x| std::ptr::eq(x, o)));
    let i = match found {
        Some(i) => i,
        None => {
            segments.push(LipSegment {
                start: seg.start,
                end: seg.end,
                settings: current.settings,
                mask: current.mask.clone(),
            });
            segments.len() - 1
        }
    };
    change(&mut segments[i]);
    Some(Edit::SetLipSegments { track: seg.track, segments })
}

/// The inspector's lip section: the settings of the selected lip segment (engine, region,
/// intensity, feather, occlusion, painted mask, on/off). Every change is an undoable edit; a
/// slider drag is one undo step.
pub fn lip_segment_ui(
    ui: &mut egui::Ui,
    project: &Project,
    seg: &super::lip_lane::LipSegmentRef,
    current: &crate::lipsync::plan::LipSegmentPlan,
    out: &mut Vec<AppCommand>,
) {
    let Some(track) = project.timeline.dub_tracks.iter().find(|t| t.id == seg.track) else {
        return;
    };
    ui.label(egui::RichText::new("Lip segment").strong());
    // The clip it belongs to (the clip the inspector shows above: selecting a segment selects it).
    let clip_name = super::lip_ui::LipUi::clip_of_segment(project, seg)
        .and_then(|id| track.clips.iter().find(|c| c.id == id))
        .map_or(String::new(), |c| format!(" · {}", c.name));
    ui.label(format!(
        "{}{clip_name} · {:.2}–{:.2} s{}",
        track.name,
        seg.start.as_seconds_f64(),
        seg.end.as_seconds_f64(),
        if current.overridden { " · own settings" } else { " · track settings" }
    ));
    if track.face.is_none() {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            "The track is bound to no face: nothing is edited.",
        );
    }
    let s = current.settings;
    let edit = |change: &dyn Fn(&mut LipSegment)| lip_segment_edit(project, seg, current, change);
    let push = |e: Option<Edit>, label: &str, out: &mut Vec<AppCommand>| {
        if let Some(edit) = e {
            out.push(AppCommand::Edit { edit, label: label.into() });
        }
    };
    egui::Grid::new("lip-segment").num_columns(2).show(ui, |ui| {
        ui.label("Edit");
        let mut on = s.enabled;
        if ui.checkbox(&mut on, "Lip edit on").changed() {
            push(edit(&|l| l.settings.enabled = on), "Lip segment on/off", out);
        }
        ui.end_row();
        let label = ui.label("Engine");
        egui::ComboBox::from_id_salt("lip-engine")
            .selected_text(s.engine.label())
            .show_ui(ui, |ui| {
                for e in LipEngine::ALL {
                    if ui.selectable_label(s.engine == e, e.label()).clicked() && e != s.engine {
                        push(edit(&|l| l.settings.engine = e), "Lip engine", out);
                    }
                }
            })
            .response
            .labelled_by(label.id);
        ui.end_row();
        let label = ui.label("Region");
        let region_label = |r: Region| match r {
            Region::Lips => "Lips",
            Region::LipsJaw => "Lips + jaw",
        };
        egui::ComboBox::from_id_salt("lip-region")
            .selected_text(region_label(s.region))
            .show_ui(ui, |ui| {
                for r in [Region::Lips, Region::LipsJaw] {
                    if ui.selectable_label(s.region == r, region_label(r)).clicked()
                        && r != s.region
                    {
                        push(edit(&|l| l.settings.region = r), "Lip region", out);
                    }
                }
            })
            .response
            .labelled_by(label.id);
        ui.end_row();
        let label = ui.label("Intensity");
        let mut pct = (s.intensity * 100.0).round();
        let r = ui
            .add(
                egui::Slider::new(&mut pct, 0.0..=100.0)
                    .suffix(" %")
                    .step_by(1.0)
                    .fixed_decimals(0),
            )
            .on_hover_text("How far the mouth moves from the original toward the new one")
            .labelled_by(label.id);
        let new = pct / 100.0;
        drag_edit(
            &r,
            out,
            "Lip intensity",
            || edit(&|l| l.settings.intensity = new).unwrap_or(Edit::Batch(Vec::new())),
            (new - s.intensity).abs() > 1e-4,
        );
        ui.end_row();
        let label = ui.label("Feather");
        let mut f = s.feather;
        let r = ui
            .add(egui::Slider::new(&mut f, FEATHER_RANGE).step_by(0.5))
            .on_hover_text("Width of the soft edge of the edit (canonical units)")
            .labelled_by(label.id);
        drag_edit(
            &r,
            out,
            "Lip feather",
            || edit(&|l| l.settings.feather = f).unwrap_or(Edit::Batch(Vec::new())),
            f != s.feather,
        );
        ui.end_row();
        let label = ui.label("Occlusion");
        egui::ComboBox::from_id_salt("lip-occlusion")
            .selected_text(s.occlusion.label())
            .show_ui(ui, |ui| {
                for m in OcclusionMode::ALL {
                    if ui.selectable_label(s.occlusion == m, m.label()).clicked()
                        && m != s.occlusion
                    {
                        push(edit(&|l| l.settings.occlusion = m), "Lip occlusion", out);
                    }
                }
            })
            .response
            .labelled_by(label.id);
        ui.end_row();
        ui.label("Mask");
        ui.horizontal(|ui| {
            let painted = current.mask.as_ref().is_some_and(|m| m.values.iter().any(|&v| v > 0.0));
            if ui
                .button("Paint mask…")
                .on_hover_text("Paint what stays in front of the mouth")
                .clicked()
            {
                out.push(AppCommand::PaintLipMask(*seg));
            }
            ui.label(if painted { "painted" } else { "none" });
        });
        ui.end_row();
    });
    if current.overridden && ui.button("Use track settings").clicked() {
        let mut segments = track.lip_segments.clone();
        if let Some(o) = segment_override(&track.lip_segments, seg.start, seg.end) {
            segments.retain(|x| x != o);
        }
        push(
            Some(Edit::SetLipSegments { track: seg.track, segments }),
            "Lip segment: track settings",
            out,
        );
    }
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
