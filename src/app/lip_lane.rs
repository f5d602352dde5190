//! The lip lane under each dub track: where the track's speech drives the mouth (its lip
//! segments, from the same speech detection the render plan uses), each segment drawn with its
//! settings (dim when off, shaded by intensity, marked when it overrides the track). Clicking a
//! segment selects it for the inspector's lip section.

use super::command::AppCommand;
use super::timeline::{Lane, TimelineView};
use crate::jobs::Task;
use crate::lipsync::plan::{LipSegmentPlan, resolve_segments};
use crate::model::project::DubTrack;
use crate::model::{Clip, Project, Time, TrackId};
use crate::render::sources::{Sources, mix_input};
use egui::{Color32, Id, Rect, Sense, Stroke};
use std::sync::Arc;

/// Height of a lip lane, points.
pub const LANE_H: f32 = 18.0;

/// A lip segment as the user picks it: the track and the segment's detected span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LipSegmentRef {
    /// The dub track.
    pub track: TrackId,
    /// Start of the detected segment.
    pub start: Time,
    /// End of the detected segment (exclusive).
    pub end: Time,
}

/// What the speech spans depend on: each track's clips (their media, placement, gain, fades).
type SpansKey = Vec<(TrackId, Vec<Clip>)>;
/// Speech spans per dub track.
type Spans = Vec<(TrackId, Vec<(Time, Time)>)>;

/// The speech spans of every dub track, computed on a thread from the editor's decoded audio
/// whenever the clips change. The settings of each segment are resolved every frame (cheap),
/// so an edit of a segment shows at once.
#[derive(Default)]
pub struct LipLanes {
    key: Option<(SpansKey, usize)>,
    spans: Spans,
    loading: Option<((SpansKey, usize), Task<Spans>)>,
}

fn key_of(project: &Project) -> SpansKey {
    project.timeline.dub_tracks.iter().map(|t| (t.id, t.clips.clone())).collect()
}

/// Speech spans of each dub track alone (as [`crate::lipsync::plan::plan_lips`] finds them).
pub fn track_spans(project: &Project, sources: &Sources) -> Spans {
    let end = project
        .timeline
        .dub_tracks
        .iter()
        .flat_map(|t| &t.clips)
        .map(Clip::end)
        .max()
        .unwrap_or(Time::ZERO)
        .max(project.timeline.duration);
    let len = end.to_samples(crate::dsp::SAMPLE_RATE).max(0) as usize;
    let dialogue_of = |p: &Project| crate::dsp::mix::dialogue_range(&mix_input(p, sources), 0, len);
    crate::lipsync::plan::dub_track_spans(project, dialogue_of)
}

impl LipLanes {
    /// Starts a recomputation when the clips or the decoded audio changed; takes a finished one.
    pub fn update(
        &mut self,
        project: &Project,
        sources: Option<&Arc<Sources>>,
        ctx: &egui::Context,
    ) {
        if let Some((key, task)) = &mut self.loading
            && let Some(spans) = task.try_recv()
        {
            self.key = Some(key.clone());
            self.spans = spans;
            self.loading = None;
        }
        let Some(sources) = sources else { return };
        let key = (key_of(project), Arc::as_ptr(sources) as usize);
        if self.key.as_ref() == Some(&key) || self.loading.as_ref().map(|(k, _)| k) == Some(&key) {
            return;
        }
        let (project, sources, ctx) = (project.clone(), Arc::clone(sources), ctx.clone());
        let task = Task::spawn("lip-segments", 1, move |_, out| {
            out.send(track_spans(&project, &sources));
            ctx.request_repaint();
        });
        if let Ok(task) = task {
            self.loading = Some((key, task));
        }
    }

    /// Whether a computation is running.
    pub fn busy(&self) -> bool {
        self.loading.is_some()
    }

    /// The lip segments of every dub track with the project's current settings.
    pub fn segments(&self, project: &Project) -> Vec<(TrackId, Vec<LipSegmentPlan>)> {
        self.spans
            .iter()
            .filter_map(|(id, spans)| {
                let t = project.timeline.dub_tracks.iter().find(|t| t.id == *id)?;
                Some((*id, resolve_segments(t, spans)))
            })
            .collect()
    }
}

/// The resolved segment a reference names, if it still exists.
pub fn find_segment<'a>(
    segments: &'a [(TrackId, Vec<LipSegmentPlan>)],
    r: &LipSegmentRef,
) -> Option<&'a LipSegmentPlan> {
    segments
        .iter()
        .find(|(t, _)| *t == r.track)?
        .1
        .iter()
        .find(|s| s.start == r.start && s.end == r.end)
}

fn segment_color(track: &DubTrack, s: &LipSegmentPlan, selected: bool) -> Color32 {
    if !s.settings.enabled || !track.lip.enabled || track.face.is_none() {
        return Color32::from_gray(if selected { 110 } else { 70 });
    }
    // Brighter with intensity, so a segment turned down reads as weaker.
    let k = 0.35 + 0.65 * s.settings.intensity.clamp(0.0, 1.0);
    let base = if selected { [255.0, 200.0, 90.0] } else { [235.0, 130.0, 170.0] };
    Color32::from_rgb((base[0] * k) as u8, (base[1] * k) as u8, (base[2] * k) as u8)
}

/// Draws the lip lanes of the timeline and handles clicks on their segments.
pub fn lip_lanes_ui(
    ui: &mut egui::Ui,
    painter: &egui::Painter,
    project: &Project,
    segments: &[(TrackId, Vec<LipSegmentPlan>)],
    selected: Option<LipSegmentRef>,
    view: &mut TimelineView,
    out: &mut Vec<AppCommand>,
) {
    view.lip_rects.clear();
    // Where the picture ends: nothing past it can be lip-edited.
    let picture_end =
        project.timeline.video.media.and_then(|m| project.media(m)).map(|m| m.duration);
    let lanes: Vec<(TrackId, Rect)> = view
        .lanes
        .iter()
        .filter_map(|(l, r)| match l {
            Lane::Lips(t) => Some((*t, *r)),
            _ => None,
        })
        .collect();
    for (track_id, lane) in lanes {
        let Some(track) = project.timeline.dub_tracks.iter().find(|t| t.id == track_id) else {
            continue;
        };
        if !lane.intersects(view.clip_area) {
            continue;
        }
        let y = (lane.top() + 3.0)..=(lane.bottom() - 3.0);
        painter.hline(
            view.clip_area.x_range(),
            lane.center().y,
            Stroke::new(1.0, Color32::from_gray(45)),
        );
        let Some((_, segs)) = segments.iter().find(|(t, _)| *t == track_id) else { continue };
        for (k, s) in segs.iter().enumerate() {
            let (x0, x1) = (view.x_of(s.start), view.x_of(s.end));
            if x1 < view.clip_area.left() || x0 > view.clip_area.right() {
                continue;
            }
            let r = Rect::from_x_y_ranges(x0..=x1.max(x0 + 3.0), y.clone());
            let this = LipSegmentRef { track: track_id, start: s.start, end: s.end };
            let is_sel = selected == Some(this);
            painter.rect_filled(r, 2.0, segment_color(track, s, is_sel));
            // The part past the end of the picture is drawn hollow: it is never edited.
            let past = picture_end.filter(|&e| s.end > e);
            if let Some(e) = past {
                let xe = view.x_of(e).max(r.left());
                let dead = Rect::from_x_y_ranges(xe..=r.right(), y.clone());
                painter.rect_filled(dead.shrink(1.0), 0.0, Color32::from_gray(30));
            }
            if s.overridden {
                // A tick at the start marks settings of its own.
                painter.rect_filled(
                    Rect::from_x_y_ranges(r.left()..=(r.left() + 3.0), y.clone()),
                    0.0,
                    Color32::WHITE,
                );
            }
            if is_sel {
                painter.rect_stroke(
                    r,
                    2.0,
                    Stroke::new(1.5, Color32::WHITE),
                    egui::StrokeKind::Outside,
                );
            }
            let hit = r.intersect(view.clip_area);
            view.lip_rects.push((this, hit));
            let resp = ui.interact(hit, Id::unique(("lip-segment", track_id.0, k)), Sense::click());
            let name = format!("Lip segment {} of {}", k + 1, track.name);
            resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &name));
            let resp = resp.on_hover_text(format!(
                "{name}: {:.2}–{:.2} s, intensity {:.0} %{}{}{}",
                s.start.as_seconds_f64(),
                s.end.as_seconds_f64(),
                s.settings.intensity * 100.0,
                if s.settings.enabled { "" } else { ", off" },
                if s.overridden { ", own settings" } else { "" },
                match past {
                    Some(e) => format!(
                        "; past the end of the picture ({:.2} s): not edited there",
                        e.as_seconds_f64()
                    ),
                    None => String::new(),
                },
            ));
            if resp.clicked() {
                out.push(AppCommand::SelectLipSegment(Some(this)));
            }
        }
    }
}
