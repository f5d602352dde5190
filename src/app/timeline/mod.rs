//! The timeline: SMPTE ruler, playhead, video / original audio / dub tracks, markers, and clip
//! editing by mouse (move, trim, slip, fades, gain, box select). Only clips in the visible time
//! range are laid out, so thousands of clips stay cheap.
//!
//! The panel never edits the project: a drag emits `BeginGesture`, one absolute `SetClip`
//! batch per frame (computed from the clips as they were when the drag began), then
//! `EndGesture`, so a whole drag is one undo step.

mod drag;
mod headers;
mod lanes;
mod ruler;

use drag::*;
use headers::*;
pub(crate) use lanes::draw_waveform;
use lanes::*;
use ruler::*;

use super::command::{AppCommand, SelectMode};
use crate::dsp::peaks::Peak;
use crate::model::edit::{Edit, TrackProps};

/// Flips one of a track's on/off flags (mute, solo, lock).
type FlipFlag = fn(&mut TrackProps);
use crate::model::time::format_timecode;
use crate::model::{Clip, ClipId, FrameRate, Project, Time, TrackId};
use egui::{Align2, Color32, FontId, Id, Pos2, Rect, Sense, Stroke, Vec2};

/// Width of the track header column.
pub const HEADER_W: f32 = 204.0;
/// Ruler height.
pub const RULER_H: f32 = 26.0;
/// Video track height.
pub const VIDEO_H: f32 = 44.0;
/// Original audio track height.
pub const ORIGINAL_H: f32 = 52.0;
/// Dub track height.
pub const DUB_H: f32 = 54.0;
/// Grab width of clip edges, in points.
const EDGE: f32 = 6.0;
/// Snapping distance, in points.
const SNAP_PX: f32 = 8.0;

/// What a horizontal band of the timeline shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// The shot.
    Video,
    /// The original audio.
    Original,
    /// The M&E stem (only when the project has one).
    Me,
    /// A dub track.
    Dub(TrackId),
    /// The lip segments of a dub track (see [`super::lip_lane`]).
    Lips(TrackId),
    /// Visual speech activity per face and the proposed speakers (see [`super::speakers`]).
    Speakers,
}

/// What a drag does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DragKind {
    Move,
    TrimStart,
    TrimEnd,
    Slip,
    FadeIn,
    FadeOut,
    Gain,
}

/// A clip drag in progress.
#[derive(Clone, Debug)]
struct ClipDrag {
    kind: DragKind,
    /// The clips being dragged, as they were at the start, with their track index.
    originals: Vec<(usize, Clip)>,
    /// Edges the drag may snap to.
    snap_points: Vec<Time>,
}

/// Timeline view state (zoom, scroll, drags); not part of the project.
#[derive(Clone, Debug)]
pub struct TimelineView {
    /// Zoom: points per second.
    pub px_per_sec: f32,
    /// Time at the left edge of the clip area, seconds (view state only, so `f64` is fine).
    pub scroll_sec: f64,
    /// Vertical scroll of the tracks, points.
    pub scroll_y: f32,
    /// Lanes laid out in the last frame, for drop targets and tests.
    pub lanes: Vec<(Lane, Rect)>,
    /// The clip area of the last frame (right of the headers, below the ruler).
    pub clip_area: Rect,
    /// Screen rects of the visible clips in the last frame, for tests and the benchmark.
    pub clip_rects: Vec<(ClipId, Rect)>,
    /// Screen rects of the visible lip segments in the last frame, for tests.
    pub lip_rects: Vec<(super::lip_lane::LipSegmentRef, Rect)>,
    drag: Option<ClipDrag>,
    box_start: Option<Pos2>,
    renaming: Option<(TrackId, String)>,
}

impl Default for TimelineView {
    fn default() -> Self {
        Self {
            px_per_sec: 80.0,
            scroll_sec: 0.0,
            scroll_y: 0.0,
            lanes: Vec::new(),
            clip_area: Rect::NOTHING,
            clip_rects: Vec::new(),
            lip_rects: Vec::new(),
            drag: None,
            box_start: None,
            renaming: None,
        }
    }
}

/// What the timeline reads.
pub struct TimelineInput<'a> {
    /// The project.
    pub project: &'a Project,
    /// Selected clips.
    pub selection: &'a [ClipId],
    /// Playhead.
    pub playhead: Time,
    /// In point.
    pub in_point: Option<Time>,
    /// Out point.
    pub out_point: Option<Time>,
    /// Snapping on.
    pub snap: bool,
    /// Waveforms of the original and of the clips' media.
    pub waveforms: Option<&'a Waveforms>,
    /// Thumbnails of the shot: (time, texture), sorted by time.
    pub thumbnails: &'a [(Time, egui::TextureId, Vec2)],
    /// Lip segments of the dub tracks, drawn in the lane under each.
    pub lip_segments: &'a [(TrackId, Vec<crate::lipsync::plan::LipSegmentPlan>)],
    /// The selected lip segment.
    pub lip_selected: Option<super::lip_lane::LipSegmentRef>,
    /// Faces speaking and proposed speakers (the lane under the original audio).
    pub speakers: Option<&'a super::speakers::Speakers>,
    /// The dub track a click on a proposed speaker binds when no dub line plays over it.
    pub bind_target: Option<TrackId>,
    /// The keyboard preset (menus show its shortcuts).
    pub preset: crate::app::keys::KeyPreset,
}

/// Waveform peaks, one per [`PEAK_BUCKET`] samples at 48 kHz.
#[derive(Clone, Debug, Default)]
pub struct Waveforms {
    /// The original audio.
    pub original: Vec<Peak>,
    /// The M&E stem (empty without one).
    pub me: Vec<Peak>,
    /// Speech segments (VAD) of each dub clip's media, in media time: the timing budget
    /// compares the line's speech, not its silences, with the slot.
    pub clip_speech: std::collections::HashMap<crate::model::MediaId, Vec<(Time, Time)>>,
    /// Each dub clip's media, from its start.
    pub clips: std::collections::HashMap<crate::model::MediaId, Vec<Peak>>,
    /// Speech segments of the original dialogue (VAD), drawn under its waveform and used as snap
    /// targets.
    pub speech: Vec<(Time, Time)>,
}

/// Samples per waveform peak (10 ms at 48 kHz).
pub const PEAK_BUCKET: usize = 480;

impl TimelineView {
    /// Screen x of a timeline time.
    pub fn x_of(&self, t: Time) -> f32 {
        self.clip_area.left()
            + ((t.as_seconds_f64() - self.scroll_sec) * f64::from(self.px_per_sec)) as f32
    }

    /// Timeline time at screen x.
    pub fn time_at(&self, x: f32) -> Time {
        Time::from_seconds_f64(
            self.scroll_sec + f64::from(x - self.clip_area.left()) / f64::from(self.px_per_sec),
        )
    }

    /// Lane under a screen point.
    pub fn lane_at(&self, p: Pos2) -> Option<Lane> {
        self.lanes.iter().find(|(_, r)| r.contains(p)).map(|(l, _)| *l)
    }

    /// Where a file dropped at `p` lands: a dub track and a time.
    pub fn drop_target(&self, p: Pos2) -> Option<(TrackId, Time)> {
        match self.lane_at(p)? {
            Lane::Dub(t) if p.x >= self.clip_area.left() => {
                Some((t, self.time_at(p.x).max(Time::ZERO)))
            }
            _ => None,
        }
    }

    /// Zooms by `factor` keeping time `around` at the same x.
    pub fn zoom(&mut self, factor: f32, around: Time) {
        let x = self.x_of(around);
        self.px_per_sec = (self.px_per_sec * factor).clamp(0.5, 4000.0);
        self.scroll_sec = around.as_seconds_f64()
            - f64::from(x - self.clip_area.left()) / f64::from(self.px_per_sec);
    }

    /// Scrolls so `t` is visible.
    pub fn reveal(&mut self, t: Time) {
        let w = f64::from(self.clip_area.width().max(100.0) / self.px_per_sec);
        let s = t.as_seconds_f64();
        if s < self.scroll_sec || s > self.scroll_sec + w {
            self.scroll_sec = (s - w * 0.1).max(0.0);
        }
    }
}

fn quantize(d: Time, rate: FrameRate) -> Time {
    let f = (d.as_seconds_f64() * rate.as_f64()).round() as i64;
    rate.frame_to_time(f.abs()) * if f < 0 { -1 } else { 1 }
}

fn clip_color(track_index: usize, selected: bool, locked: bool) -> Color32 {
    let hues = [
        (70, 130, 200),
        (80, 170, 120),
        (190, 120, 70),
        (150, 100, 190),
        (60, 160, 170),
        (180, 90, 120),
        (150, 150, 70),
        (100, 110, 180),
    ];
    let (r, g, b) = hues[track_index % hues.len()];
    let k = if selected {
        1.25
    } else if locked {
        0.55
    } else {
        0.85
    };
    let s = |v: u8| (f32::from(v) * k).min(255.0) as u8;
    Color32::from_rgb(s(r), s(g), s(b))
}

/// Draws the timeline and turns mouse input into commands.
pub fn timeline_ui(
    ui: &mut egui::Ui,
    input: &TimelineInput<'_>,
    view: &mut TimelineView,
    out: &mut Vec<AppCommand>,
) {
    let project = input.project;
    let rate = project.timeline.frame_rate;
    ui.horizontal(|ui| {
        if ui.button("+ Dub track").on_hover_text("Add a dub track").clicked() {
            out.push(AppCommand::AddTrack);
        }
        let snap = if input.snap { "Snap: on" } else { "Snap: off" };
        if ui.selectable_label(input.snap, snap).on_hover_text("Snapping (S)").clicked() {
            out.push(AppCommand::ToggleSnap);
        }
        if ui.button("Split").on_hover_text("Split at the playhead").clicked() {
            out.push(AppCommand::Split);
        }
        if ui.button("Zoom -").clicked() {
            out.push(AppCommand::ZoomTimeline { factor: 0.5, around: input.playhead });
        }
        if ui.button("Zoom +").clicked() {
            out.push(AppCommand::ZoomTimeline { factor: 2.0, around: input.playhead });
        }
        ui.label(format!(
            "{} clips",
            project.timeline.dub_tracks.iter().map(|t| t.clips.len()).sum::<usize>()
        ));
    });
    let full = ui.available_rect_before_wrap();
    ui.allocate_rect(full, Sense::hover());
    let painter = ui.painter_at(full);
    painter.rect_filled(full, 0.0, Color32::from_gray(24));
    view.clip_area =
        Rect::from_min_max(Pos2::new(full.left() + HEADER_W, full.top() + RULER_H), full.max);

    scroll_and_zoom(ui, full, view);

    // Lane layout.
    view.lanes.clear();
    let mut y = view.clip_area.top() - view.scroll_y;
    let mut lane = |l: Lane, h: f32, lanes: &mut Vec<(Lane, Rect)>| {
        lanes.push((l, Rect::from_min_size(Pos2::new(full.left(), y), Vec2::new(full.width(), h))));
        y += h;
    };
    lane(Lane::Video, VIDEO_H, &mut view.lanes);
    lane(Lane::Original, ORIGINAL_H, &mut view.lanes);
    if let Some(sp) = input.speakers.filter(|s| s.visible()) {
        lane(Lane::Speakers, super::speakers::lane_height(sp.rows.len()), &mut view.lanes);
    }
    if project.timeline.me_track.is_some() {
        lane(Lane::Me, ORIGINAL_H, &mut view.lanes);
    }
    for t in &project.timeline.dub_tracks {
        lane(Lane::Dub(t.id), DUB_H, &mut view.lanes);
        lane(Lane::Lips(t.id), super::lip_lane::LANE_H, &mut view.lanes);
    }
    let content_h = y + view.scroll_y - view.clip_area.top();
    view.scroll_y = view.scroll_y.clamp(0.0, (content_h - view.clip_area.height()).max(0.0));

    let tracks_clip = Rect::from_min_max(Pos2::new(full.left(), view.clip_area.top()), full.max);
    let lane_painter = painter.with_clip_rect(tracks_clip);
    for (i, (_, r)) in view.lanes.iter().enumerate() {
        let bg = if i % 2 == 0 { Color32::from_gray(30) } else { Color32::from_gray(34) };
        lane_painter.rect_filled(*r, 0.0, bg);
        lane_painter.hline(r.x_range(), r.bottom(), Stroke::new(1.0, Color32::from_gray(18)));
    }

    let view_start = view.time_at(view.clip_area.left());
    let view_end = view.time_at(view.clip_area.right());
    let area_painter = painter.with_clip_rect(view.clip_area.intersect(tracks_clip));

    // In/out shading.
    if let (Some(a), Some(b)) = (input.in_point, input.out_point) {
        let r = Rect::from_x_y_ranges(view.x_of(a)..=view.x_of(b), full.top()..=full.bottom());
        painter
            .with_clip_rect(Rect::from_min_max(
                Pos2::new(view.clip_area.left(), full.top()),
                full.max,
            ))
            .rect_filled(r, 0.0, Color32::from_rgba_unmultiplied(120, 120, 255, 18));
    }

    video_and_original_ui(&area_painter, input, view);

    // The background goes first so that clips, added later, are on top of it for the pointer.
    let bg =
        ui.interact(view.clip_area, Id::unique("timeline-background"), Sense::click_and_drag());
    bg.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Pane, true, "Timeline tracks"));

    // Dub clips.
    view.clip_rects.clear();
    let lanes = view.lanes.clone();
    let mut hovered_any_clip = false;
    for (ti, track) in project.timeline.dub_tracks.iter().enumerate() {
        let Some(lane_rect) =
            lanes.iter().find(|(l, _)| *l == Lane::Dub(track.id)).map(|(_, r)| *r)
        else {
            continue;
        };
        if !lane_rect.intersects(tracks_clip) {
            continue;
        }
        for clip in &track.clips {
            if clip.end() < view_start || clip.position > view_end {
                continue;
            }
            let x0 = view.x_of(clip.position).max(view.clip_area.left() - 50.0);
            let x1 = view.x_of(clip.end()).min(view.clip_area.right() + 50.0);
            let rect = Rect::from_x_y_ranges(
                x0..=x1.max(x0 + 2.0),
                (lane_rect.top() + 3.0)..=(lane_rect.bottom() - 3.0),
            );
            view.clip_rects.push((clip.id, rect));
            let selected = input.selection.contains(&clip.id);
            let wave = input.waveforms.and_then(|w| w.clips.get(&clip.media)).map(Vec::as_slice);
            draw_clip(
                &area_painter,
                rect,
                clip,
                ti,
                selected,
                track.locked,
                !project.is_audible(track),
                rate,
                view,
                wave,
            );
            overflow_flag(&area_painter, rect, clip, input.waveforms, rate);
            if clip_interact_ui(
                ui,
                rect.intersect(view.clip_area),
                clip,
                ti,
                track.locked,
                input,
                view,
                out,
            ) {
                hovered_any_clip = true;
            }
        }
    }

    let lips = (input.lip_segments, input.lip_selected);
    super::lip_lane::lip_lanes_ui(ui, &area_painter, project, lips.0, lips.1, view, out);
    if let Some(sp) = input.speakers {
        super::speakers::speakers_lane_ui(
            ui,
            &area_painter,
            project,
            sp,
            input.bind_target,
            view,
            out,
        );
    }

    // Background: click to clear selection, drag to box-select.
    if !hovered_any_clip {
        if bg.clicked() {
            out.push(AppCommand::Select(Vec::new(), SelectMode::Replace));
        }
        if bg.drag_started() {
            view.box_start = bg.interact_pointer_pos();
        }
    }
    if let (Some(start), Some(now)) = (view.box_start, ui.input(|i| i.pointer.interact_pos())) {
        let r = Rect::from_two_pos(start, now);
        area_painter.rect_filled(r, 0.0, Color32::from_rgba_unmultiplied(200, 200, 255, 30));
        area_painter.rect_stroke(
            r,
            0.0,
            Stroke::new(1.0, Color32::from_gray(200)),
            egui::StrokeKind::Inside,
        );
        if bg.drag_stopped() || !ui.input(|i| i.pointer.any_down()) {
            let ids: Vec<ClipId> = view
                .clip_rects
                .iter()
                .filter(|(_, cr)| cr.intersects(r))
                .map(|(id, _)| *id)
                .collect();
            let mode = select_mode(ui.input(|i| i.modifiers));
            out.push(AppCommand::Select(ids, mode));
            view.box_start = None;
        }
    }

    media_drop_ui(ui, &area_painter, input, view, out);

    headers_ui(ui, input, view, tracks_clip, out);
    ruler_ui(ui, &painter, input, view, full, rate, out);

    // Playhead over everything.
    let px = view.x_of(input.playhead);
    if px >= view.clip_area.left() && px <= full.right() {
        painter.vline(
            px,
            full.top()..=full.bottom(),
            Stroke::new(1.5, Color32::from_rgb(235, 70, 60)),
        );
    }
}

fn scroll_and_zoom(ui: &egui::Ui, full: Rect, view: &mut TimelineView) {
    let hover = ui.input(|i| i.pointer.hover_pos()).filter(|p| full.contains(*p));
    let Some(p) = hover else { return };
    let (zoom, scroll) = ui.input(|i| (i.zoom_delta(), i.smooth_scroll_delta()));
    if zoom != 1.0 {
        let around = view.time_at(p.x.max(view.clip_area.left()));
        view.zoom(zoom, around);
    } else if p.x < view.clip_area.left() {
        view.scroll_y -= scroll.y;
    } else if scroll != Vec2::ZERO {
        let d = if scroll.x != 0.0 { scroll.x } else { scroll.y };
        view.scroll_sec = (view.scroll_sec - f64::from(d / view.px_per_sec)).max(0.0);
    }
}

/// A media-bin item dragged over a dub lane: the lane and the drop time are shown; released
/// there, the file becomes a clip at that time (over what lies there, as a drop in Premiere).
fn media_drop_ui(
    ui: &egui::Ui,
    painter: &egui::Painter,
    input: &TimelineInput<'_>,
    view: &TimelineView,
    out: &mut Vec<AppCommand>,
) {
    let ctx = ui.ctx();
    let Some(payload) = egui::DragAndDrop::payload::<super::media_bin::MediaDrag>(ctx) else {
        return;
    };
    let Some(p) = ctx.pointer_latest_pos() else { return };
    let Some((track, at)) = view.drop_target(p) else { return };
    let rate = input.project.timeline.frame_rate;
    let at = rate.frame_to_time((at.as_seconds_f64() * rate.as_f64()).round() as i64);
    let len = input.project.media(payload.0).map_or(Time::ZERO, |m| m.duration);
    if let Some((_, lane)) = view.lanes.iter().find(|(l, _)| *l == Lane::Dub(track)) {
        let x0 = view.x_of(at);
        let r = Rect::from_x_y_ranges(x0..=view.x_of(at + len).max(x0 + 2.0), lane.y_range());
        painter.rect_filled(r, 3.0, Color32::from_rgba_unmultiplied(255, 255, 255, 40));
        painter.vline(x0, lane.y_range(), Stroke::new(2.0, Color32::WHITE));
    }
    if ctx.input(|i| i.pointer.any_released())
        && let Some(m) = egui::DragAndDrop::take_payload::<super::media_bin::MediaDrag>(ctx)
    {
        out.push(AppCommand::PlaceMedia {
            media: m.0,
            track,
            at,
            mode: crate::model::edit::PlaceMode::Overwrite,
        });
    }
}
