//! The "Speaking" lane under the original audio: for each face track of the shot's analysis,
//! where that face's mouth moves like speech (visual speech activity, one row per face), and for
//! each line of the original dialogue (its speech segments) the face proposed as the line's
//! speaker — the face whose mouth activity follows the line's loudness best
//! ([`crate::analysis::speech::propose_speaker`]). A proposal is outlined in its face's row;
//! clicking it binds the dub track that replaces that line (or the selected one) to the face.

use super::command::AppCommand;
use super::timeline::{Lane, TimelineView};
use crate::analysis::pipeline::Analysis;
use crate::analysis::speech::{SpeakerTrends, audio_envelope};
use crate::analysis::track::Segment;
use crate::model::edit::Edit;
use crate::model::lip::FaceId;
use crate::model::{Project, Time, TrackId};
use egui::{Color32, Id, Rect, Sense, Stroke, StrokeKind};
use std::sync::Arc;

/// Height of one face's row, points.
pub const ROW_H: f32 = 13.0;
/// Rows drawn at most: with more faces, those proposed as speakers and then those seen speaking
/// longest (see [`Speakers::update`]); the others are listed in the Faces panel only.
pub const MAX_ROWS: usize = 6;

/// The lane's height for `rows` faces.
pub fn lane_height(rows: usize) -> f32 {
    10.0 + ROW_H * rows.clamp(1, MAX_ROWS) as f32
}

/// The face proposed as the speaker of one line of the original dialogue.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    /// The line's speech, timeline time.
    pub start: Time,
    /// End of the line's speech.
    pub end: Time,
    /// The proposed face track.
    pub face: u32,
    /// Correlation of its mouth activity with the line's loudness (−1..1).
    pub correlation: f32,
    /// Whether the face visibly speaks during the line (its speaking segments cover a quarter
    /// of it). When no face does (a voice off screen, still faces), the best correlation is
    /// still offered, drawn dashed as a guess.
    pub speaking: bool,
}

/// What the lane shows, recomputed when the analysis or the decoded dialogue changes.
#[derive(Default)]
pub struct Speakers {
    key: Option<(usize, usize, usize)>,
    /// Per face track: its id and its speaking segments. The first [`MAX_ROWS`] are drawn, in
    /// the analysis's order; with more faces than that, the ones drawn are the faces proposed
    /// for most lines, then those seen speaking longest.
    pub rows: Vec<(u32, Vec<(Time, Time)>)>,
    /// One proposal per line of the original dialogue that some face covers.
    pub proposals: Vec<Proposal>,
}

impl Speakers {
    /// Recomputes from the analysis, the original dialogue (mono, 48 kHz) and its speech
    /// segments when any of them changed (cheap: one envelope pass and a few correlations).
    pub fn update(
        &mut self,
        analysis: Option<&Arc<Analysis>>,
        dialogue: Option<&Arc<Vec<f32>>>,
        speech: &[(Time, Time)],
    ) {
        let key = (
            analysis.map_or(0, |a| Arc::as_ptr(a) as usize),
            dialogue.map_or(0, |d| Arc::as_ptr(d) as usize),
            speech.len(),
        );
        if self.key == Some(key) {
            return;
        }
        self.key = Some(key);
        self.recompute(analysis, dialogue, speech);
        self.rank_rows();
    }

    fn recompute(
        &mut self,
        analysis: Option<&Arc<Analysis>>,
        dialogue: Option<&Arc<Vec<f32>>>,
        speech: &[(Time, Time)],
    ) {
        self.rows.clear();
        self.proposals.clear();
        let Some(a) = analysis else { return };
        let rate = a.frame_rate;
        let to_time = |s: &Segment| (rate.frame_to_time(s.start), rate.frame_to_time(s.end));
        self.rows =
            a.tracks.iter().map(|t| (t.id, t.speaking.iter().map(to_time).collect())).collect();
        let Some(mono) = dialogue else { return };
        let fps = rate.as_f64() as f32;
        let envelope =
            audio_envelope(mono, crate::dsp::SAMPLE_RATE, fps, a.frame_count.max(0) as usize);
        let trends = SpeakerTrends::new(&a.tracks, &envelope);
        for &(start, end) in speech {
            let segment =
                Segment { start: rate.time_to_frame(start), end: rate.time_to_frame(end) };
            if segment.is_empty() {
                continue;
            }
            // Among the faces seen speaking during the line; else among all.
            let covers = |t: &crate::analysis::track::FaceTrack| {
                let o: i64 = t
                    .speaking
                    .iter()
                    .map(|s| (s.end.min(segment.end) - s.start.max(segment.start)).max(0))
                    .sum();
                o * 4 >= segment.len()
            };
            let speaking = a.tracks.iter().any(covers);
            if let Some(p) = trends.propose(segment, |t| !speaking || covers(t)) {
                self.proposals.push(Proposal {
                    start,
                    end,
                    face: p.track_id,
                    correlation: p.correlation,
                    speaking,
                });
            }
        }
    }

    /// With more faces than [`MAX_ROWS`], moves the rows to draw to the front (the faces
    /// proposed for most lines, then those seen speaking longest), each part in the analysis's
    /// order.
    fn rank_rows(&mut self) {
        if self.rows.len() <= MAX_ROWS {
            return;
        }
        let proposed = |id: u32| self.proposals.iter().filter(|p| p.face == id).count();
        let spoken =
            |segs: &[(Time, Time)]| segs.iter().map(|&(a, b)| (b - a).ticks()).sum::<i64>();
        let mut order: Vec<usize> = (0..self.rows.len()).collect();
        // A stable sort: ties keep the analysis's order.
        order.sort_by_key(|&k| {
            let (id, segs) = &self.rows[k];
            std::cmp::Reverse((proposed(*id), spoken(segs)))
        });
        let mut drawn = vec![false; self.rows.len()];
        order.iter().take(MAX_ROWS).for_each(|&k| drawn[k] = true);
        // Drawn rows first; a stable sort keeps each part in the analysis's order.
        let mut rows: Vec<_> = std::mem::take(&mut self.rows).into_iter().enumerate().collect();
        rows.sort_by_key(|(k, _)| !drawn[*k]);
        self.rows = rows.into_iter().map(|(_, r)| r).collect();
    }

    /// Whether the lane is shown (the shot has faces).
    pub fn visible(&self) -> bool {
        !self.rows.is_empty()
    }
}

/// A face's colour in the lane (the overlay's face colours are by binding; here by id).
fn face_color(id: u32) -> Color32 {
    const COLORS: [[u8; 3]; 6] = [
        [90, 190, 230],
        [240, 170, 80],
        [150, 210, 110],
        [210, 120, 200],
        [240, 110, 110],
        [200, 200, 120],
    ];
    let c = COLORS[id as usize % COLORS.len()];
    Color32::from_rgb(c[0], c[1], c[2])
}

/// The dub track a click on a proposal binds: the one whose clip plays over the line (it
/// replaces that line), else `fallback` (the selected track).
fn track_for_line(
    project: &Project,
    start: Time,
    end: Time,
    fallback: Option<TrackId>,
) -> Option<TrackId> {
    let overlap = |c: &crate::model::Clip| (c.end().min(end) - c.position.max(start)).ticks();
    project
        .timeline
        .dub_tracks
        .iter()
        .filter_map(|t| t.clips.iter().map(overlap).max().filter(|&o| o > 0).map(|o| (o, t.id)))
        .max_by_key(|&(o, _)| o)
        .map(|(_, id)| id)
        .or(fallback)
}

/// The dub tracks whose lines all have one proposed speaker: for each dub track, the lines of
/// the original dialogue its clips replace (each line goes to the track that overlaps it most);
/// when every one of them has a proposal of a face seen speaking, and all the same face, the
/// track and that face. A line with only a guess (no face seen speaking), a track with lines of
/// two faces, or a face that two tracks would take, is ambiguous and left to the user.
pub fn unanimous_speakers(project: &Project, proposals: &[Proposal]) -> Vec<(TrackId, FaceId)> {
    // Per track: its face so far, or None once ambiguous.
    let mut per_track: Vec<(TrackId, Option<u32>)> = Vec::new();
    for p in proposals {
        let Some(track) = track_for_line(project, p.start, p.end, None) else { continue };
        let face = p.speaking.then_some(p.face);
        match per_track.iter_mut().find(|(t, _)| *t == track) {
            Some((_, f)) => {
                if *f != face {
                    *f = None;
                }
            }
            None => per_track.push((track, face)),
        }
    }
    let chosen: Vec<(TrackId, u32)> =
        per_track.into_iter().filter_map(|(t, f)| f.map(|f| (t, f))).collect();
    chosen
        .iter()
        .filter(|(_, f)| chosen.iter().filter(|(_, g)| g == f).count() == 1)
        .map(|&(t, f)| (t, FaceId(f)))
        .collect()
}

/// Draws the row labels in the lane's header.
pub fn header_ui(ui: &mut egui::Ui, speakers: &Speakers) {
    ui.spacing_mut().item_spacing.y = 0.0;
    for (id, _) in speakers.rows.iter().take(MAX_ROWS) {
        ui.allocate_ui_with_layout(
            egui::vec2(ui.available_width(), ROW_H),
            egui::Layout::left_to_right(egui::Align::Center),
            |ui| {
                let text = egui::RichText::new(format!("Face {id} speaking")).small();
                ui.label(text.color(face_color(*id)));
            },
        );
    }
}

/// Draws the lane's rows (speaking segments, proposals) and handles clicks on proposals.
pub fn speakers_lane_ui(
    ui: &mut egui::Ui,
    painter: &egui::Painter,
    project: &Project,
    speakers: &Speakers,
    fallback: Option<TrackId>,
    view: &TimelineView,
    out: &mut Vec<AppCommand>,
) {
    let Some(lane) = view.lanes.iter().find(|(l, _)| *l == Lane::Speakers).map(|(_, r)| *r) else {
        return;
    };
    if !lane.intersects(view.clip_area) {
        return;
    }
    let row_rect = |k: usize| {
        let top = lane.top() + 5.0 + ROW_H * k as f32;
        (top + 2.0)..=(top + ROW_H - 2.0)
    };
    let span = |a: Time, b: Time, y: std::ops::RangeInclusive<f32>| {
        let (x0, x1) = (view.x_of(a), view.x_of(b));
        Rect::from_x_y_ranges(x0..=x1.max(x0 + 2.0), y)
    };
    for (k, (id, segs)) in speakers.rows.iter().enumerate().take(MAX_ROWS) {
        let y = row_rect(k);
        let c = face_color(*id);
        painter.hline(
            view.clip_area.x_range(),
            (y.start() + y.end()) / 2.0,
            Stroke::new(1.0, Color32::from_gray(45)),
        );
        for &(a, b) in segs {
            let r = span(a, b, y.clone());
            if r.intersects(view.clip_area) {
                painter.rect_filled(r.shrink2(egui::vec2(0.0, 2.0)), 1.0, c.gamma_multiply(0.8));
            }
        }
    }
    for (k, p) in speakers.proposals.iter().enumerate() {
        let Some(row) = speakers.rows.iter().take(MAX_ROWS).position(|(id, _)| *id == p.face)
        else {
            continue;
        };
        let r = span(p.start, p.end, row_rect(row));
        if !r.intersects(view.clip_area) {
            continue;
        }
        if p.speaking {
            painter.rect_stroke(r, 2.0, Stroke::new(1.5, Color32::WHITE), StrokeKind::Outside);
        } else {
            // A guess: no face is seen speaking during the line.
            let dashed = egui::Shape::dashed_line(
                &[r.left_top(), r.right_top(), r.right_bottom(), r.left_bottom(), r.left_top()],
                Stroke::new(1.0, Color32::from_gray(150)),
                4.0,
                3.0,
            );
            painter.extend(dashed);
        }
        let target = track_for_line(project, p.start, p.end, fallback);
        let target_track =
            target.and_then(|t| project.timeline.dub_tracks.iter().find(|d| d.id == t));
        let name =
            format!("Face {} proposed for the line at {:.2} s", p.face, p.start.as_seconds_f64());
        let resp =
            ui.interact(r.intersect(view.clip_area), Id::unique(("speaker", k)), Sense::click());
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &name));
        let hint = match target_track {
            Some(d) if d.face == Some(FaceId(p.face)) => format!("{} is bound to it", d.name),
            Some(d) => format!("click: bind {} to face {}", d.name, p.face),
            None => "select a dub track to bind it".to_string(),
        };
        let resp = resp.on_hover_text(format!(
            "{name} ({:.2}–{:.2} s): {} (r = {:.2}); {hint}",
            p.start.as_seconds_f64(),
            p.end.as_seconds_f64(),
            if p.speaking {
                "of the faces seen speaking, its mouth follows the line best"
            } else {
                "a guess: no face is seen speaking during the line"
            },
            p.correlation,
        ));
        if resp.clicked()
            && let Some(d) = target_track
            && d.face != Some(FaceId(p.face))
        {
            out.push(AppCommand::Edit {
                edit: Edit::SetTrackFace { track: d.id, face: Some(FaceId(p.face)) },
                label: format!("Bind {} to face {}", d.name, p.face),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::pipeline::AnalysisOptions;
    use crate::model::FrameRate;

    fn analysis(speaking: &[i64]) -> Arc<Analysis> {
        let tracks = speaking
            .iter()
            .enumerate()
            .map(|(k, &n)| crate::analysis::track::FaceTrack {
                id: k as u32,
                frames: Vec::new(),
                speaking: if n > 0 { vec![Segment { start: 0, end: n }] } else { Vec::new() },
            })
            .collect();
        Arc::new(Analysis {
            version: 0,
            media_hash: String::new(),
            frame_rate: FrameRate::FPS_25,
            frame_count: 100,
            width: 640,
            height: 360,
            options: AnalysisOptions::default(),
            provider: String::new(),
            shot_cuts: Vec::new(),
            tracks,
            stats: Default::default(),
        })
    }

    fn line(start_ms: i64, end_ms: i64, face: u32, speaking: bool) -> Proposal {
        Proposal {
            start: Time::from_millis(start_ms),
            end: Time::from_millis(end_ms),
            face,
            correlation: 0.6,
            speaking,
        }
    }

    /// Two dub tracks: Alice with lines at 0–1 s and 2–3 s, Bob with one at 4–5 s.
    fn two_tracks() -> Project {
        let mut p = Project::new("speakers", FrameRate::FPS_25);
        let media = crate::model::MediaId(1);
        for (name, spans) in [("Alice", &[(0, 1000), (2000, 3000)][..]), ("Bob", &[(4000, 5000)])] {
            let t = p.add_dub_track(name);
            for &(a, b) in spans {
                let id = p.next_clip_id();
                let len = Time::from_millis(b - a);
                let clip =
                    crate::model::Clip::whole(id, name.into(), media, len, Time::from_millis(a));
                p.timeline.dub_tracks.iter_mut().find(|d| d.id == t).unwrap().clips.push(clip);
            }
        }
        p
    }

    #[test]
    fn a_track_whose_lines_all_propose_one_face_seen_speaking_is_bound_to_it() {
        let p = two_tracks();
        let (alice, bob) = (p.timeline.dub_tracks[0].id, p.timeline.dub_tracks[1].id);
        // Alice's two lines: face 1 both times; Bob's: face 0.
        let props = [line(100, 900, 1, true), line(2100, 2900, 1, true), line(4100, 4800, 0, true)];
        assert_eq!(unanimous_speakers(&p, &props), vec![(alice, FaceId(1)), (bob, FaceId(0))]);
        // Alice's lines disagree: only Bob is unambiguous.
        let props = [line(100, 900, 1, true), line(2100, 2900, 2, true), line(4100, 4800, 0, true)];
        assert_eq!(unanimous_speakers(&p, &props), vec![(bob, FaceId(0))]);
        // A guess (no face seen speaking) is not enough.
        let props = [line(100, 900, 1, true), line(2100, 2900, 1, false)];
        assert_eq!(unanimous_speakers(&p, &props), vec![]);
        // Two tracks would take the same face: neither.
        let props = [line(100, 900, 1, true), line(4100, 4800, 1, true)];
        assert_eq!(unanimous_speakers(&p, &props), vec![]);
        // A line under no dub clip binds nothing.
        assert_eq!(unanimous_speakers(&p, &[line(6000, 7000, 1, true)]), vec![]);
    }

    fn ids(s: &Speakers) -> Vec<u32> {
        s.rows.iter().map(|(id, _)| *id).collect()
    }

    #[test]
    fn a_crowd_draws_the_faces_seen_speaking_longest_in_the_analysis_order() {
        // Up to MAX_ROWS faces: every row, as analysed.
        let mut s = Speakers::default();
        s.update(Some(&analysis(&[0, 5, 0, 9, 0, 1])), None, &[]);
        assert_eq!(ids(&s), [0, 1, 2, 3, 4, 5]);
        // Nine faces, four silent: the five speakers and the first silent one are drawn (in
        // the analysis's order), the other silent ones follow.
        let mut s = Speakers::default();
        s.update(Some(&analysis(&[0, 0, 7, 0, 3, 0, 12, 5, 4])), None, &[]);
        assert_eq!(ids(&s), [0, 2, 4, 6, 7, 8, 1, 3, 5]);
        assert_eq!(s.rows[3].1, vec![(Time::ZERO, FrameRate::FPS_25.frame_to_time(12))]);
        // A face proposed as a line's speaker is drawn even when others speak longer.
        let mut s = Speakers::default();
        s.recompute(Some(&analysis(&[9, 9, 9, 9, 9, 9, 0, 0])), None, &[]);
        s.proposals.push(Proposal {
            start: Time::ZERO,
            end: Time::from_millis(500),
            face: 7,
            correlation: 0.5,
            speaking: false,
        });
        s.rank_rows();
        assert_eq!(ids(&s), [0, 1, 2, 3, 4, 7, 5, 6]);
    }
}
