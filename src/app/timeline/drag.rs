//! Clip editing by mouse: hit-testing a clip's body and edges, starting a drag (move, trim,
//! slip, fade, gain), snapping, and the per-frame `SetClip` batch of a drag.

use super::*;

/// Interaction of one clip: body (move; Alt = slip; Ctrl = gain, a vertical drag, as Premiere's
/// rubber band with Ctrl), edges (trim), top corners (fades). A plain drag anywhere on the body
/// moves the clip: the gain line only follows the pointer with Ctrl held. Returns whether the
/// pointer is on it.
#[allow(clippy::too_many_arguments)]
pub(super) fn clip_interact_ui(
    ui: &mut egui::Ui,
    rect: Rect,
    clip: &Clip,
    ti: usize,
    locked: bool,
    input: &TimelineInput<'_>,
    view: &mut TimelineView,
    out: &mut Vec<AppCommand>,
) -> bool {
    if rect.width() <= 0.0 || rect.height() <= 0.0 {
        return false;
    }
    let base = Id::unique(("clip", clip.id.0));
    let edge = EDGE.min(rect.width() / 4.0);
    let handle = 8.0f32.min(rect.width() / 4.0);
    // The body first: handles registered after it sit on top of it for the pointer.
    let regions = [
        (DragKind::Move, rect, "Clip"),
        (
            DragKind::FadeIn,
            Rect::from_min_size(rect.left_top() + Vec2::new(edge, 0.0), Vec2::splat(handle)),
            "Fade in of",
        ),
        (
            DragKind::FadeOut,
            Rect::from_min_size(
                rect.right_top() + Vec2::new(-edge - handle, 0.0),
                Vec2::splat(handle),
            ),
            "Fade out of",
        ),
        (
            DragKind::TrimStart,
            Rect::from_min_size(rect.left_top(), Vec2::new(edge, rect.height())),
            "Trim start of",
        ),
        (
            DragKind::TrimEnd,
            Rect::from_min_size(
                rect.right_top() - Vec2::new(edge, 0.0),
                Vec2::new(edge, rect.height()),
            ),
            "Trim end of",
        ),
    ];
    let mut on_clip = false;
    for (kind, r, what) in regions {
        // Small handles only on clips wide enough to tell them apart.
        if kind != DragKind::Move && rect.width() < 24.0 {
            continue;
        }
        let resp = ui.interact(r, base.with(what), Sense::click_and_drag());
        let label = format!("{what} {}", clip.name);
        resp.widget_info(|| {
            egui::WidgetInfo::selected(
                egui::Role::Button,
                !locked,
                input.selection.contains(&clip.id),
                &label,
            )
        });
        let gain_key = ui.input(|i| i.modifiers.command || i.modifiers.ctrl);
        let resp = match kind {
            DragKind::Move if gain_key && !locked => {
                resp.on_hover_cursor(cursor_for(DragKind::Gain))
            }
            DragKind::Move => resp,
            _ => resp.on_hover_cursor(cursor_for(kind)),
        };
        if resp.hovered() || resp.dragged() {
            on_clip = true;
        }
        if resp.clicked() {
            let mode = select_mode(ui.input(|i| i.modifiers));
            out.push(AppCommand::Select(vec![clip.id], mode));
        }
        if kind == DragKind::Move {
            clip_menu(&resp, clip, locked, input, out);
        }
        if locked {
            continue;
        }
        if resp.drag_started() {
            let m = ui.input(|i| i.modifiers);
            let kind = match kind {
                DragKind::Move if m.alt => DragKind::Slip,
                DragKind::Move if m.command || m.ctrl => DragKind::Gain,
                k => k,
            };
            start_drag(kind, clip, ti, input, view, out);
        }
        if resp.dragged()
            && let Some(total) = resp.total_drag_delta()
        {
            let pointer = resp.interact_pointer_pos();
            drag_update(total, pointer, input, view, out);
        }
        if resp.drag_stopped() && view.drag.take().is_some() {
            out.push(AppCommand::EndGesture);
        }
    }
    on_clip
}

/// The right-click menu of a clip: the common actions on it (it is selected first, as a click
/// would), with their keys.
fn clip_menu(
    resp: &egui::Response,
    clip: &Clip,
    locked: bool,
    input: &TimelineInput<'_>,
    out: &mut Vec<AppCommand>,
) {
    if resp.secondary_clicked() && !input.selection.contains(&clip.id) {
        out.push(AppCommand::Select(vec![clip.id], SelectMode::Replace));
    }
    resp.context_menu(|ui| {
        if locked {
            ui.label("The track is locked (L in its header)");
            return;
        }
        let item = |ui: &mut egui::Ui, label: &str, cmd: AppCommand, out: &mut Vec<AppCommand>| {
            crate::app::keys::menu_item(ui, label, cmd, input.preset, out);
        };
        item(ui, "Split at playhead", AppCommand::Split, out);
        item(ui, "Delete", AppCommand::Delete, out);
        item(ui, "Ripple delete", AppCommand::RippleDelete, out);
        ui.separator();
        let start = clip.position;
        item(ui, "Go to clip start", AppCommand::Seek(start), out);
        item(ui, "Go to clip end", AppCommand::Seek(clip.end()), out);
    });
}

pub(super) fn cursor_for(kind: DragKind) -> egui::CursorIcon {
    match kind {
        DragKind::TrimStart | DragKind::TrimEnd | DragKind::FadeIn | DragKind::FadeOut => {
            egui::CursorIcon::ResizeHorizontal
        }
        DragKind::Gain => egui::CursorIcon::ResizeVertical,
        _ => egui::CursorIcon::Grab,
    }
}

pub(super) fn start_drag(
    kind: DragKind,
    clip: &Clip,
    _ti: usize,
    input: &TimelineInput<'_>,
    view: &mut TimelineView,
    out: &mut Vec<AppCommand>,
) {
    let project = input.project;
    // Dragging a selected clip moves the whole selection; an unselected one is selected first.
    let ids: Vec<ClipId> = if kind == DragKind::Move && input.selection.contains(&clip.id) {
        input.selection.to_vec()
    } else {
        if !input.selection.contains(&clip.id) {
            out.push(AppCommand::Select(vec![clip.id], SelectMode::Replace));
        }
        vec![clip.id]
    };
    let mut originals = Vec::new();
    for (ti, t) in project.timeline.dub_tracks.iter().enumerate() {
        if t.locked {
            continue;
        }
        for c in t.clips.iter().filter(|c| ids.contains(&c.id)) {
            originals.push((ti, c.clone()));
        }
    }
    let mut snap_points = vec![input.playhead, Time::ZERO];
    snap_points.extend(project.timeline.markers.iter().map(|m| m.time));
    snap_points.extend(input.in_point);
    snap_points.extend(input.out_point);
    for &(a, b) in input.waveforms.map(|w| w.speech.as_slice()).unwrap_or(&[]) {
        snap_points.extend([a, b]);
    }
    for t in &project.timeline.dub_tracks {
        for c in t.clips.iter().filter(|c| !ids.contains(&c.id)) {
            snap_points.push(c.position);
            snap_points.push(c.end());
        }
    }
    snap_points.sort();
    snap_points.dedup();
    let label = match kind {
        DragKind::Move => "Move clip",
        DragKind::TrimStart | DragKind::TrimEnd => "Trim clip",
        DragKind::Slip => "Slip clip",
        DragKind::FadeIn | DragKind::FadeOut => "Change fade",
        DragKind::Gain => "Change clip gain",
    };
    out.push(AppCommand::BeginGesture(label.to_string()));
    view.drag = Some(ClipDrag { kind, originals, snap_points });
}

/// The smallest adjustment that brings one of `edges` (+ `delta`) onto a snap point, if within
/// reach.
pub(super) fn snap_delta(points: &[Time], edges: &[Time], delta: Time, reach: Time) -> Time {
    let mut best: Option<Time> = None;
    for e in edges {
        let moved = *e + delta;
        let i = points.partition_point(|p| *p < moved);
        for p in [i.checked_sub(1).and_then(|j| points.get(j)), points.get(i)].into_iter().flatten()
        {
            let adj = *p - moved;
            if adj.abs() <= reach && best.is_none_or(|b| adj.abs() < b.abs()) {
                best = Some(adj);
            }
        }
    }
    delta + best.unwrap_or(Time::ZERO)
}

pub(super) fn drag_update(
    total: Vec2,
    pointer: Option<Pos2>,
    input: &TimelineInput<'_>,
    view: &TimelineView,
    out: &mut Vec<AppCommand>,
) {
    let Some(drag) = &view.drag else { return };
    let project = input.project;
    let rate = project.timeline.frame_rate;
    let frame = rate.frame_duration();
    let mut delta = quantize(Time::from_seconds_f64(f64::from(total.x / view.px_per_sec)), rate);
    let reach = Time::from_seconds_f64(f64::from(SNAP_PX / view.px_per_sec));
    let edges: Vec<Time> = drag
        .originals
        .iter()
        .flat_map(|(_, c)| match drag.kind {
            DragKind::Move => vec![c.position, c.end()],
            DragKind::TrimStart => vec![c.position],
            DragKind::TrimEnd => vec![c.end()],
            _ => vec![],
        })
        .collect();
    if input.snap && !edges.is_empty() {
        delta = snap_delta(&drag.snap_points, &edges, delta, reach);
    }
    // Track change for moves: lanes crossed by the pointer.
    let tracks = &project.timeline.dub_tracks;
    let track_shift: i64 = match (drag.kind, pointer) {
        (DragKind::Move, Some(p)) => {
            let start_lane = drag.originals.first().map(|(ti, _)| *ti as i64).unwrap_or(0);
            let lane_now = view
                .lanes
                .iter()
                .filter_map(|(l, r)| match l {
                    Lane::Dub(id) if r.y_range().contains(p.y) => {
                        tracks.iter().position(|t| t.id == *id)
                    }
                    _ => None,
                })
                .next();
            lane_now.map_or(0, |l| l as i64 - start_lane)
        }
        _ => 0,
    };
    let mut edits = Vec::new();
    for (ti, orig) in &drag.originals {
        let mut c = orig.clone();
        let media_len = project.media(c.media).map_or(c.source_out, |m| m.duration);
        let mut target = *ti;
        match drag.kind {
            DragKind::Move => {
                c.position = (orig.position + delta).max(Time::ZERO);
                let t = (*ti as i64 + track_shift).clamp(0, tracks.len() as i64 - 1) as usize;
                if !tracks[t].locked {
                    target = t;
                }
            }
            DragKind::TrimStart => {
                // The start may move between the source's start and one frame before the end.
                let d = delta
                    .max(Time::ZERO - orig.source_in)
                    .max(Time::ZERO - orig.position)
                    .min(orig.duration() - frame);
                c.position = orig.position + d;
                c.source_in = orig.source_in + d;
                // A warped clip is cut where its map plays the source (or extended 1:1).
                if let Some(w) = &orig.warp {
                    c.source_in = orig.source_in;
                    if let Some((a, b, t)) = w.trimmed(d, Time::ZERO) {
                        c.source_out = orig.source_in + b;
                        c.source_in = orig.source_in + a;
                        c.warp = Some(t);
                    } else {
                        c.position = orig.position;
                    }
                }
                c.fade_in = c.fade_in.min(c.duration());
            }
            DragKind::TrimEnd => {
                let d = delta.min(media_len - orig.source_out).max(frame - orig.duration());
                c.source_out = orig.source_out + d;
                if let Some(w) = &orig.warp {
                    c.source_out = orig.source_out;
                    if let Some((_, b, t)) = w.trimmed(Time::ZERO, d) {
                        c.source_out = orig.source_in + b;
                        c.warp = Some(t);
                    }
                }
                c.fade_out = c.fade_out.min(c.duration());
            }
            DragKind::Slip => {
                // Dragging right shows earlier source material, like sliding the media under a window.
                let d = (Time::ZERO - delta)
                    .max(Time::ZERO - orig.source_in)
                    .min(media_len - orig.source_out);
                c.source_in = orig.source_in + d;
                c.source_out = orig.source_out + d;
            }
            DragKind::FadeIn => {
                c.fade_in =
                    (orig.fade_in + delta).min(orig.duration() - orig.fade_out).max(Time::ZERO);
            }
            DragKind::FadeOut => {
                c.fade_out =
                    (orig.fade_out - delta).min(orig.duration() - orig.fade_in).max(Time::ZERO);
            }
            DragKind::Gain => {
                let h = DUB_H - 6.0;
                c.gain_db = ((orig.gain_db - total.y / (h * 0.6) * 24.0) * 2.0).round() / 2.0;
                c.gain_db = c.gain_db.clamp(-60.0, 24.0);
            }
        }
        edits.push(Edit::SetClip { track: tracks[target].id, clip: c });
    }
    if !edits.is_empty() {
        out.push(AppCommand::Edit { edit: Edit::Batch(edits), label: String::new() });
    }
}

/// Shift adds to the selection, Ctrl/Cmd toggles, a plain click replaces it.
pub(super) fn select_mode(m: egui::Modifiers) -> SelectMode {
    if m.shift {
        SelectMode::Add
    } else if m.command || m.ctrl {
        SelectMode::Toggle
    } else {
        SelectMode::Replace
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapping_picks_the_nearest_point_within_reach() {
        let ms = Time::from_millis;
        let points = [ms(0), ms(1000), ms(2000)];
        // Edge at 900 moved by 80 → 980: snaps to 1000.
        assert_eq!(snap_delta(&points, &[ms(900)], ms(80), ms(50)), ms(100));
        // Out of reach: unchanged.
        assert_eq!(snap_delta(&points, &[ms(500)], ms(80), ms(50)), ms(80));
    }
}
