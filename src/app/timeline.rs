//! The timeline: SMPTE ruler, playhead, video / original audio / dub tracks, markers, and clip
//! editing by mouse (move, trim, slip, fades, gain, box select). Only clips in the visible time
//! range are laid out, so thousands of clips stay cheap.
//!
//! The panel never edits the project: a drag emits `BeginGesture`, one absolute `SetClip`
//! batch per frame (computed from the clips as they were when the drag began), then
//! `EndGesture`, so a whole drag is one undo step.

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

/// Picks a ruler step (seconds) so labels are at least ~90 points apart.
fn ruler_step(px_per_sec: f32, rate: FrameRate) -> f64 {
    let frame = 1.0 / rate.as_f64();
    let steps = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];
    let min_sec = 90.0 / f64::from(px_per_sec);
    for f in [1.0, 2.0, 5.0, 10.0] {
        if f * frame >= min_sec {
            return f * frame;
        }
    }
    steps.into_iter().find(|s| *s >= min_sec).unwrap_or(7200.0)
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

fn video_and_original_ui(painter: &egui::Painter, input: &TimelineInput<'_>, view: &TimelineView) {
    let project = input.project;
    let tl = &project.timeline;
    for (lane, r) in &view.lanes {
        match lane {
            Lane::Video => {
                let Some(m) = tl.video.media.and_then(|id| project.media(id)) else { continue };
                let clip = Rect::from_x_y_ranges(
                    view.x_of(Time::ZERO)..=view.x_of(m.duration),
                    (r.top() + 2.0)..=(r.bottom() - 2.0),
                );
                painter.rect_filled(clip, 2.0, Color32::from_rgb(60, 60, 80));
                for (t, tex, size) in input.thumbnails {
                    let x = view.x_of(*t);
                    let h = clip.height();
                    let w = h * size.x / size.y.max(1.0);
                    let tr = Rect::from_min_size(Pos2::new(x, clip.top()), Vec2::new(w, h));
                    if tr.right() < view.clip_area.left()
                        || tr.left() > view.clip_area.right()
                        || tr.right() > clip.right() + w
                    {
                        continue;
                    }
                    painter.image(
                        *tex,
                        tr,
                        Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                        Color32::WHITE,
                    );
                }
                let name = m
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                painter.text(
                    Pos2::new(clip.left().max(view.clip_area.left()) + 4.0, clip.top() + 2.0),
                    Align2::LEFT_TOP,
                    name,
                    FontId::proportional(11.0),
                    Color32::WHITE,
                );
            }
            Lane::Original => {
                let Some(m) = tl.original_audio.media.and_then(|id| project.media(id)) else {
                    continue;
                };
                let clip = Rect::from_x_y_ranges(
                    view.x_of(Time::ZERO)..=view.x_of(m.duration),
                    (r.top() + 2.0)..=(r.bottom() - 2.0),
                );
                let fill = if tl.original_audio.mute {
                    Color32::from_gray(50)
                } else {
                    Color32::from_rgb(45, 70, 60)
                };
                painter.rect_filled(clip, 2.0, fill);
                if let Some(peaks) = input.waveforms.map(|w| w.original.as_slice()) {
                    draw_waveform(
                        painter,
                        clip.intersect(view.clip_area),
                        view,
                        peaks,
                        Time::ZERO,
                        Color32::from_rgb(120, 200, 160),
                    );
                }
                // Speech segments: a bar along the bottom of the lane.
                let area = clip.intersect(view.clip_area);
                for &(a, b) in input.waveforms.map(|w| w.speech.as_slice()).unwrap_or(&[]) {
                    let (x0, x1) = (view.x_of(a).max(area.left()), view.x_of(b).min(area.right()));
                    if x1 > x0 {
                        let bar = Rect::from_min_max(
                            egui::pos2(x0, area.bottom() - 4.0),
                            egui::pos2(x1, area.bottom() - 1.0),
                        );
                        painter.rect_filled(bar, 1.0, Color32::from_rgb(230, 200, 90));
                    }
                }
            }
            Lane::Me => {
                let Some(m) = tl.me_track.and_then(|id| project.media(id)) else { continue };
                let peaks = input.waveforms.map_or(&[][..], |w| w.me.as_slice());
                super::me_track::me_lane_ui(painter, view, *r, m, tl.me_mute, peaks);
            }
            Lane::Dub(_) | Lane::Lips(_) | Lane::Speakers => {}
        }
    }
}

/// Draws peaks (one per `PEAK_BUCKET` samples, starting at timeline time `origin`) into `rect`.
pub(super) fn draw_waveform(
    painter: &egui::Painter,
    rect: Rect,
    view: &TimelineView,
    peaks: &[Peak],
    origin: Time,
    color: Color32,
) {
    if rect.width() <= 0.0 || peaks.is_empty() {
        return;
    }
    let mid = rect.center().y;
    let half = rect.height() * 0.45;
    let per_sec = f64::from(crate::dsp::SAMPLE_RATE) / PEAK_BUCKET as f64;
    let mut x = rect.left().floor();
    let mut shapes = Vec::new();
    while x < rect.right() {
        let a = (view.time_at(x) - origin).as_seconds_f64() * per_sec;
        let b = (view.time_at(x + 1.0) - origin).as_seconds_f64() * per_sec;
        let (i0, i1) = (a.max(0.0) as usize, (b.max(0.0) as usize).max(a.max(0.0) as usize + 1));
        if i0 >= peaks.len() {
            break;
        }
        let (mut lo, mut hi) = (0.0f32, 0.0f32);
        for p in &peaks[i0..i1.min(peaks.len())] {
            lo = lo.min(p.min);
            hi = hi.max(p.max);
        }
        shapes.push(egui::Shape::line_segment(
            [
                Pos2::new(x, mid - hi.clamp(-1.0, 1.0) * half),
                Pos2::new(x, mid - lo.clamp(-1.0, 1.0) * half + 0.5),
            ],
            Stroke::new(1.0, color),
        ));
        x += 1.0;
    }
    painter.extend(shapes);
}

/// y of a clip gain within its rect: 0 dB at 35 % from the top, ±24 dB spans the rect.
fn gain_y(rect: Rect, gain_db: f32) -> f32 {
    let zero = rect.top() + rect.height() * 0.35;
    // max/min rather than clamp: a clip cut by the panel edge can be thinner than the margins.
    (zero - gain_db / 24.0 * rect.height() * 0.6).min(rect.bottom() - 2.0).max(rect.top() + 2.0)
}

/// An aligned line (one with a warp or a cue) whose speech runs past its slot: a red frame and
/// the overflow in ms, so every line that does not fit shows at a glance.
fn overflow_flag(
    painter: &egui::Painter,
    rect: Rect,
    clip: &Clip,
    waveforms: Option<&Waveforms>,
    rate: FrameRate,
) {
    if clip.warp.is_none() && clip.cue.is_none() {
        return;
    }
    let Some(w) = waveforms else { return };
    let dub_speech = w.clip_speech.get(&clip.media).map(Vec::as_slice);
    let Some(b) = super::align_ui::timing_budget(clip, &w.speech, dub_speech, rate) else {
        return;
    };
    if b.fits {
        return;
    }
    let red = Color32::from_rgb(235, 60, 60);
    painter.rect_stroke(rect, 3.0, Stroke::new(2.0, red), egui::StrokeKind::Inside);
    painter.text(
        rect.right_top() + Vec2::new(-4.0, 3.0),
        Align2::RIGHT_TOP,
        format!("+{:.0} ms", b.over.as_seconds_f64() * 1000.0),
        FontId::proportional(11.0),
        Color32::WHITE,
    );
}

#[allow(clippy::too_many_arguments)]
fn draw_clip(
    painter: &egui::Painter,
    rect: Rect,
    clip: &Clip,
    ti: usize,
    selected: bool,
    locked: bool,
    silent: bool,
    rate: FrameRate,
    view: &TimelineView,
    wave: Option<&[Peak]>,
) {
    let mut fill = clip_color(ti, selected, locked);
    if silent {
        fill = fill.gamma_multiply(0.5);
    }
    painter.rect_filled(rect, 3.0, fill);
    if let Some(peaks) = wave {
        // Peaks start at the media's start; the clip shows them from its source in.
        let skip =
            (clip.source_in.to_samples(crate::dsp::SAMPLE_RATE).max(0) as usize) / PEAK_BUCKET;
        let area = rect.shrink2(Vec2::new(0.0, 4.0)).intersect(view.clip_area);
        let color = Color32::from_black_alpha(90);
        draw_waveform(painter, area, view, peaks.get(skip..).unwrap_or(&[]), clip.position, color);
    }
    if selected {
        painter.rect_stroke(rect, 3.0, Stroke::new(2.0, Color32::WHITE), egui::StrokeKind::Inside);
    }
    // Fades as ramps, gain as a line.
    let fi = view.x_of(clip.position + clip.fade_in) - view.x_of(clip.position);
    let fo = view.x_of(clip.end()) - view.x_of(clip.end() - clip.fade_out);
    let dark = Color32::from_black_alpha(140);
    let gy = gain_y(rect, clip.gain_db);
    if fi > 1.0 {
        painter.line_segment(
            [Pos2::new(rect.left(), rect.bottom()), Pos2::new(rect.left() + fi, gy)],
            Stroke::new(1.0, dark),
        );
    }
    if fo > 1.0 {
        painter.line_segment(
            [Pos2::new(rect.right() - fo, gy), Pos2::new(rect.right(), rect.bottom())],
            Stroke::new(1.0, dark),
        );
    }
    painter.hline(
        (rect.left() + fi)..=(rect.right() - fo),
        gy,
        Stroke::new(1.0, Color32::from_rgb(250, 230, 120)),
    );
    if rect.width() > 30.0 {
        let mut text = if rect.width() > 120.0 {
            format!("{}  {}", clip.name, format_timecode(clip.duration(), rate, false))
        } else {
            clip.name.clone()
        };
        if let Some(w) = clip.warp.as_ref().filter(|_| rect.width() > 160.0) {
            text.push_str(&format!("  warp {} {:.2}x", w.mode.name(), w.factor));
        }
        let clip_painter = painter.with_clip_rect(rect.shrink(2.0).intersect(painter.clip_rect()));
        clip_painter.text(
            Pos2::new(rect.left().max(view.clip_area.left()) + 5.0, rect.bottom() - 4.0),
            Align2::LEFT_BOTTOM,
            text,
            FontId::proportional(11.0),
            Color32::WHITE,
        );
    }
    if locked {
        painter.text(
            rect.right_top() + Vec2::new(-4.0, 2.0),
            Align2::RIGHT_TOP,
            "locked",
            FontId::proportional(10.0),
            Color32::WHITE,
        );
    }
}

/// Interaction of one clip: body (move, Alt = slip), edges (trim), top corners (fades), the gain
/// line (vertical drag). Returns whether the pointer is on it.
#[allow(clippy::too_many_arguments)]
fn clip_interact_ui(
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
            DragKind::Gain,
            Rect::from_center_size(
                Pos2::new(rect.center().x, gain_y(rect, clip.gain_db)),
                Vec2::new(rect.width().min(40.0) * 0.5, 6.0),
            ),
            "Gain of",
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
        let resp =
            if kind == DragKind::Move { resp } else { resp.on_hover_cursor(cursor_for(kind)) };
        if resp.hovered() || resp.dragged() {
            on_clip = true;
        }
        if resp.clicked() {
            let mode = select_mode(ui.input(|i| i.modifiers));
            out.push(AppCommand::Select(vec![clip.id], mode));
        }
        if locked {
            continue;
        }
        if resp.drag_started() {
            let alt = ui.input(|i| i.modifiers.alt);
            let kind = if kind == DragKind::Move && alt { DragKind::Slip } else { kind };
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

fn cursor_for(kind: DragKind) -> egui::CursorIcon {
    match kind {
        DragKind::TrimStart | DragKind::TrimEnd | DragKind::FadeIn | DragKind::FadeOut => {
            egui::CursorIcon::ResizeHorizontal
        }
        DragKind::Gain => egui::CursorIcon::ResizeVertical,
        _ => egui::CursorIcon::Grab,
    }
}

fn start_drag(
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
fn snap_delta(points: &[Time], edges: &[Time], delta: Time, reach: Time) -> Time {
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

fn drag_update(
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

fn headers_ui(
    ui: &mut egui::Ui,
    input: &TimelineInput<'_>,
    view: &mut TimelineView,
    tracks_clip: Rect,
    out: &mut Vec<AppCommand>,
) {
    let project = input.project;
    let painter = ui.painter_at(tracks_clip);
    let lanes = view.lanes.clone();
    for (lane, r) in lanes {
        let hr = Rect::from_min_size(r.min, Vec2::new(HEADER_W, r.height()));
        if !hr.intersects(tracks_clip) {
            continue;
        }
        painter.rect_filled(hr, 0.0, Color32::from_gray(40));
        painter.vline(hr.right(), hr.y_range(), Stroke::new(1.0, Color32::from_gray(15)));
        let inner = hr.shrink2(Vec2::new(6.0, 4.0)).intersect(tracks_clip);
        if inner.height() < 14.0 {
            continue;
        }
        let mut child = ui.new_child(
            egui::UiBuilder::new().max_rect(inner).layout(egui::Layout::top_down(egui::Align::Min)),
        );
        child.set_clip_rect(inner);
        match lane {
            Lane::Video => {
                child.label("Video");
            }
            Lane::Original => {
                let o = &project.timeline.original_audio;
                child.horizontal(|ui| {
                    ui.label("Original");
                    if ui
                        .selectable_label(o.mute, "M")
                        .on_hover_text("Mute original audio")
                        .clicked()
                    {
                        let mut n = o.clone();
                        n.mute = !n.mute;
                        out.push(AppCommand::Edit {
                            edit: Edit::SetOriginalAudio(n),
                            label: "Mute original".into(),
                        });
                    }
                });
            }
            Lane::Me => super::me_track::me_header_ui(&mut child, project, out),
            Lane::Dub(id) => {
                let Some(t) = project.timeline.dub_tracks.iter().find(|t| t.id == id) else {
                    continue;
                };
                let props = TrackProps::of(t);
                let set = |p: TrackProps, label: &str, out: &mut Vec<AppCommand>| {
                    out.push(AppCommand::Edit {
                        edit: Edit::SetTrackProps { track: id, props: p },
                        label: label.into(),
                    });
                };
                if let Some((rid, text)) = &mut view.renaming
                    && *rid == id
                {
                    let resp =
                        child.add(egui::TextEdit::singleline(text).desired_width(HEADER_W - 20.0));
                    let resp = resp.on_hover_text("Track name");
                    resp.request_focus();
                    if resp.lost_focus() {
                        let mut p = props.clone();
                        p.name = text.trim().to_string();
                        if !p.name.is_empty() && p.name != props.name {
                            set(p, "Rename track", out);
                        }
                        view.renaming = None;
                    }
                } else {
                    let name = child.add(
                        egui::Label::new(egui::RichText::new(&t.name).strong())
                            .sense(Sense::click()),
                    );
                    let name =
                        name.on_hover_text(format!("Track {}: double-click to rename", t.name));
                    if name.double_clicked() {
                        view.renaming = Some((id, t.name.clone()));
                    }
                }
                child.horizontal(|ui| {
                    let toggles: [(bool, &str, &str, FlipFlag); 3] = [
                        (t.mute, "M", "Mute", |p| p.mute = !p.mute),
                        (t.solo, "S", "Solo", |p| p.solo = !p.solo),
                        (t.locked, "L", "Lock", |p| p.locked = !p.locked),
                    ];
                    for (on, key, verb, flip) in toggles {
                        let hover = format!("{verb} {}", t.name);
                        if ui.selectable_label(on, key).on_hover_text(hover).clicked() {
                            let mut p = props.clone();
                            flip(&mut p);
                            set(p, &format!("{verb} track"), out);
                        }
                    }
                    if ui.button("Rename").on_hover_text(format!("Rename {}", t.name)).clicked() {
                        view.renaming = Some((id, t.name.clone()));
                    }
                    if ui.button("x").on_hover_text(format!("Remove {}", t.name)).clicked() {
                        out.push(AppCommand::RemoveTrack(id));
                    }
                });
            }
            Lane::Lips(_) => {}
            Lane::Speakers => {
                if let Some(sp) = input.speakers {
                    super::speakers::header_ui(&mut child, sp);
                }
            }
        }
    }
}

fn ruler_ui(
    ui: &mut egui::Ui,
    painter: &egui::Painter,
    input: &TimelineInput<'_>,
    view: &TimelineView,
    full: Rect,
    rate: FrameRate,
    out: &mut Vec<AppCommand>,
) {
    let ruler = Rect::from_min_max(
        Pos2::new(view.clip_area.left(), full.top()),
        Pos2::new(full.right(), full.top() + RULER_H),
    );
    let corner = Rect::from_min_max(full.min, Pos2::new(view.clip_area.left(), ruler.bottom()));
    painter.rect_filled(corner, 0.0, Color32::from_gray(36));
    painter.text(
        corner.left_center() + Vec2::new(6.0, 0.0),
        Align2::LEFT_CENTER,
        format_timecode(input.playhead, rate, rate.is_drop_frame_rate()),
        FontId::monospace(13.0),
        Color32::from_rgb(235, 90, 80),
    );
    let rp = painter.with_clip_rect(ruler);
    rp.rect_filled(ruler, 0.0, Color32::from_gray(44));
    let step = ruler_step(view.px_per_sec, rate);
    let first = (view.scroll_sec / step).floor() as i64;
    let mut k = first;
    loop {
        let s = k as f64 * step;
        let x = view.x_of(Time::from_seconds_f64(s));
        if x > ruler.right() {
            break;
        }
        if s >= 0.0 {
            rp.vline(
                x,
                (ruler.bottom() - 8.0)..=ruler.bottom(),
                Stroke::new(1.0, Color32::from_gray(160)),
            );
            rp.text(
                Pos2::new(x + 3.0, ruler.top() + 2.0),
                Align2::LEFT_TOP,
                format_timecode(Time::from_seconds_f64(s + 1e-9), rate, rate.is_drop_frame_rate()),
                FontId::monospace(10.0),
                Color32::from_gray(200),
            );
            let sub = view.x_of(Time::from_seconds_f64(s + step / 2.0));
            rp.vline(
                sub,
                (ruler.bottom() - 4.0)..=ruler.bottom(),
                Stroke::new(1.0, Color32::from_gray(110)),
            );
        }
        k += 1;
    }
    // In and out points as brackets, also when only one of them is set.
    let bracket = Color32::from_rgb(140, 140, 255);
    for (t, dir) in [(input.in_point, 1.0f32), (input.out_point, -1.0)] {
        if let Some(t) = t {
            let x = view.x_of(t);
            rp.vline(x, ruler.y_range(), Stroke::new(2.0, bracket));
            rp.hline(x..=x + 6.0 * dir, ruler.top() + 1.0, Stroke::new(2.0, bracket));
            rp.hline(x..=x + 6.0 * dir, ruler.bottom() - 1.0, Stroke::new(2.0, bracket));
        }
    }
    for m in &input.project.timeline.markers {
        let x = view.x_of(m.time);
        let tri = vec![
            Pos2::new(x - 5.0, ruler.bottom() - 9.0),
            Pos2::new(x + 5.0, ruler.bottom() - 9.0),
            Pos2::new(x, ruler.bottom()),
        ];
        rp.add(egui::Shape::convex_polygon(tri, Color32::from_rgb(90, 200, 240), Stroke::NONE));
        painter.with_clip_rect(view.clip_area).vline(
            x,
            view.clip_area.y_range(),
            Stroke::new(1.0, Color32::from_rgba_unmultiplied(90, 200, 240, 90)),
        );
    }
    let resp = ui.interact(ruler, Id::unique("timeline-ruler"), Sense::click_and_drag());
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Slider, true, "Timeline ruler"));
    let resp = resp.on_hover_text("Click or drag to move the playhead");
    if (resp.clicked() || resp.dragged())
        && let Some(p) = resp.interact_pointer_pos()
    {
        out.push(AppCommand::Seek(quantize_floor(view.time_at(p.x).max(Time::ZERO), rate)));
    }
}

fn quantize_floor(t: Time, rate: FrameRate) -> Time {
    rate.frame_to_time(rate.time_to_frame(t))
}

/// Shift adds to the selection, Ctrl/Cmd toggles, a plain click replaces it.
fn select_mode(m: egui::Modifiers) -> SelectMode {
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

    #[test]
    fn ruler_steps_grow_with_zoom_out() {
        let r = FrameRate::FPS_25;
        assert!(ruler_step(2000.0, r) < ruler_step(100.0, r));
        assert!(ruler_step(1.0, r) >= 60.0);
    }
}
