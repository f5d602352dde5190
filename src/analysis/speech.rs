//! Visual speech activity: where a face's mouth moves like speech, and which face most likely
//! speaks a given stretch of dialogue.

use super::track::{FaceTrack, Segment};
use crate::analysis::mouth::shape::LipShape;

/// Settings for turning mouth motion into speaking segments. Every constant is a fact about
/// speech or about the reference the segments are compared with, not a value fitted to footage.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActivityParams {
    /// Length of the centred window over which the log mouth motion is averaged, seconds: about
    /// one syllable with its transitions (0.2–0.3 s), so the opening and closing of a syllable
    /// count as one movement. The average drops the window's highest and lowest value, so a
    /// single-frame event (a blink, a landmark jump) does not count as a syllable.
    pub syllable_s: f32,
    /// A frame is certainly still when the track's two-class model puts it in the still class
    /// with at least this posterior probability (pauses are declared on clear evidence only; in
    /// doubt the face keeps speaking).
    pub pause_confidence: f32,
    /// Still stretches shorter than this (seconds) are not pauses: stop closures, holds and
    /// breaths inside running speech. The audio's voice-activity detector bridges silences
    /// shorter than its hangover plus its merge gap, so the same span is used here.
    pub min_pause_s: f32,
    /// Segments shorter than this (seconds, about a syllable) are dropped.
    pub min_segment_s: f32,
    /// The mouth moves this long (seconds) before the sound it makes (the articulators take
    /// their position before the voice starts and come to rest before the last sound fades);
    /// segments are moved this much later so they describe when the face is heard speaking.
    pub visual_lead_s: f32,
    /// The two-class model is used only when its classes are clearly apart (Ashman's D: the
    /// distance of the means over their pooled spread; 2 is the usual bound for two separate
    /// modes, and the smoothed series has far fewer independent values than frames, so a
    /// margin above it). Otherwise only stretches where the mouth is clearly still are pauses.
    pub min_separation: f32,
    /// A stretch between pauses whose typical (median) mouth motion is not this many times the
    /// face's own non-speech motion (the reference region's median) is not speech: a still
    /// mouth moves about as much as the rest of the face.
    pub moving_ratio: f32,
    /// Lips are closed when, averaged over a syllable, less than this many rows of the lip
    /// patch between them are not lip (see [`LipShape::gap`]): they touch, give or take the
    /// soft edge of one row.
    pub closed_gap: f32,
    /// Lips pressed together (a bilabial closure, /p b m/: part of speaking) look thinner than
    /// lips resting closed. Closed lips are at rest only when their height is at least this
    /// fraction of the track's median lip height.
    pub pressed_height: f32,
}

impl Default for ActivityParams {
    fn default() -> Self {
        let vad = crate::dsp::vad::VadConfig::default();
        Self {
            syllable_s: 0.28,
            pause_confidence: 0.95,
            min_pause_s: (vad.hangover_ms + vad.merge_gap_ms) / 1000.0,
            min_segment_s: 0.2,
            visual_lead_s: 0.08,
            min_separation: 2.5,
            moving_ratio: 1.5,
            closed_gap: 1.0,
            pressed_height: 0.5,
        }
    }
}

/// A two-component Gaussian mixture in one dimension.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mixture {
    /// Component means, low first.
    pub mean: [f32; 2],
    /// Component standard deviations.
    pub sd: [f32; 2],
    /// Component weights (sum 1).
    pub weight: [f32; 2],
}

/// Smallest component spread: keeps a component made of identical values (a frozen picture)
/// finite without changing any real one.
const MIN_SD: f32 = 1e-3;

impl Mixture {
    /// Fits two components to `x` by expectation-maximisation, started from the lower and upper
    /// quartiles. `None` for fewer than four finite values or when all are equal.
    pub fn fit(x: &[f32]) -> Option<Self> {
        let v: Vec<f32> = x.iter().copied().filter(|v| v.is_finite()).collect();
        let n = v.len() as f32;
        if v.len() < 4 {
            return None;
        }
        let mean = v.iter().sum::<f32>() / n;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f32>() / n;
        if var <= 0.0 {
            return None;
        }
        let sd0 = (0.5 * var.sqrt()).max(MIN_SD);
        let mut m = Mixture {
            mean: [quantile(&v, 0.25), quantile(&v, 0.75)],
            sd: [sd0, sd0],
            weight: [0.5, 0.5],
        };
        if m.mean[0] >= m.mean[1] {
            let (lo, hi) = v.iter().fold((f32::MAX, f32::MIN), |(a, b), &x| (a.min(x), b.max(x)));
            m.mean = [lo, hi];
        }
        for _ in 0..200 {
            let post: Vec<f32> = v.iter().map(|&x| m.posterior_high(x)).collect();
            let n1: f32 = post.iter().sum();
            let n0 = n - n1;
            if n1 < 1.0 || n0 < 1.0 {
                break;
            }
            let mu1 = v.iter().zip(&post).map(|(x, p)| p * x).sum::<f32>() / n1;
            let mu0 = v.iter().zip(&post).map(|(x, p)| (1.0 - p) * x).sum::<f32>() / n0;
            let var1 =
                v.iter().zip(&post).map(|(x, p)| p * (x - mu1) * (x - mu1)).sum::<f32>() / n1;
            let var0 =
                v.iter().zip(&post).map(|(x, p)| (1.0 - p) * (x - mu0) * (x - mu0)).sum::<f32>()
                    / n0;
            let next = Mixture {
                mean: [mu0, mu1],
                sd: [var0.sqrt().max(MIN_SD), var1.sqrt().max(MIN_SD)],
                weight: [n0 / n, n1 / n],
            };
            let moved = (next.mean[0] - m.mean[0]).abs() + (next.mean[1] - m.mean[1]).abs();
            m = next;
            if moved < 1e-6 {
                break;
            }
        }
        if m.mean[0] > m.mean[1] {
            m = Mixture {
                mean: [m.mean[1], m.mean[0]],
                sd: [m.sd[1], m.sd[0]],
                weight: [m.weight[1], m.weight[0]],
            };
        }
        Some(m)
    }

    /// Probability that `x` belongs to the upper component.
    pub fn posterior_high(&self, x: f32) -> f32 {
        // In log space: far into a tail the densities underflow long before their ratio does.
        let log_density = |k: usize| {
            let z = (x - self.mean[k]) / self.sd[k];
            self.weight[k].max(1e-12).ln() - self.sd[k].ln() - 0.5 * z * z
        };
        let (l0, l1) = (log_density(0), log_density(1));
        1.0 / (1.0 + (l0 - l1).exp())
    }

    /// Ashman's D: how far apart the two components are relative to their spread.
    pub fn separation(&self) -> f32 {
        std::f32::consts::SQRT_2 * (self.mean[1] - self.mean[0]).abs()
            / (self.sd[0] * self.sd[0] + self.sd[1] * self.sd[1]).sqrt()
    }
}

/// Centred moving average over `window` samples (odd; shrinks at the ends).
pub fn moving_average(x: &[f32], window: usize) -> Vec<f32> {
    let half = window / 2;
    let mut prefix = vec![0f64; x.len() + 1];
    for (i, &v) in x.iter().enumerate() {
        prefix[i + 1] = prefix[i] + f64::from(v);
    }
    (0..x.len())
        .map(|i| {
            let a = i.saturating_sub(half);
            let b = (i + half + 1).min(x.len());
            ((prefix[b] - prefix[a]) / (b - a).max(1) as f64) as f32
        })
        .collect()
}

/// Centred moving mean over `window` samples (odd; shrinks at the ends) without each window's
/// highest and lowest value (when it holds at least three): follows steps like a mean, but a
/// one-sample spike does not move it.
pub fn moving_trimmed_mean(x: &[f32], window: usize) -> Vec<f32> {
    let half = window / 2;
    let mut buf = Vec::with_capacity(window);
    (0..x.len())
        .map(|i| {
            buf.clear();
            buf.extend_from_slice(&x[i.saturating_sub(half)..(i + half + 1).min(x.len())]);
            buf.sort_by(f32::total_cmp);
            let kept = if buf.len() >= 3 { &buf[1..buf.len() - 1] } else { &buf[..] };
            kept.iter().sum::<f32>() / kept.len().max(1) as f32
        })
        .collect()
}

/// The `q`-quantile (0..=1) of a slice (0 when empty).
pub fn quantile(x: &[f32], q: f32) -> f32 {
    let mut v: Vec<f32> = x.iter().copied().filter(|v| v.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f32::total_cmp);
    v[((v.len() - 1) as f32 * q.clamp(0.0, 1.0)).round() as usize]
}

/// Frames where `active[i]` holds, as segments offset by `first`, with gaps shorter than
/// `bridge` frames closed and segments shorter than `min_len` frames dropped.
pub fn segments_from_mask(active: &[bool], first: i64, bridge: i64, min_len: i64) -> Vec<Segment> {
    let mut raw: Vec<Segment> = Vec::new();
    let mut start = None;
    for (i, &a) in active.iter().chain(std::iter::once(&false)).enumerate() {
        match (a, start) {
            (true, None) => start = Some(i as i64),
            (false, Some(s)) => {
                raw.push(Segment { start: first + s, end: first + i as i64 });
                start = None;
            }
            _ => {}
        }
    }
    let mut merged: Vec<Segment> = Vec::new();
    for s in raw {
        match merged.last_mut() {
            Some(last) if s.start - last.end < bridge => last.end = s.end,
            _ => merged.push(s),
        }
    }
    merged.retain(|s| s.len() >= min_len);
    merged
}

/// Smallest mouth motion taken into the log domain (canonical units; real motion is ~0.1–2):
/// keeps a frozen picture's zero finite.
const MOTION_FLOOR: f32 = 1e-3;

/// Speaking segments of a track from its mouth motion.
///
/// The mouth motion (normal flow on the aligned mouth, [`super::mouth::normal_flow`]) is taken
/// in the log domain, so only ratios matter (a speaker who moves the mouth twice as much
/// everywhere gets the same segments: per-speaker normalisation), and averaged over a syllable.
/// A frame is still
/// - when the mouth moves no more than the face's own non-speech motion (the median of the
///   reference region, [`super::mouth::REFERENCE_REGION`], which reads alignment jitter, head
///   motion residue and compression noise the same way), or
/// - when the track's values form two clear classes (a two-component Gaussian mixture fitted
///   to that track alone, [`ActivityParams::min_separation`]) and the frame is in the still
///   class with [`ActivityParams::pause_confidence`].
///
/// Still stretches of at least [`ActivityParams::min_pause_s`] are pauses; a stretch between
/// pauses is speaking unless its median mouth motion is below [`ActivityParams::moving_ratio`]
/// times the face's own (a listening face). Segments are moved later by the visual lead and
/// short ones dropped.
pub fn speaking_segments(track: &FaceTrack, fps: f32, p: &ActivityParams) -> Vec<Segment> {
    speaking_segments_with_lips(track, &[], fps, p)
}

/// [`speaking_segments`] that also finds pauses where the mouth is at rest: `lips` (one per
/// track frame, from [`super::track::Tracker::finish_with_lips`]; empty when unknown) tells
/// when the lips are closed.
///
/// A closed mouth still moves a little (the lips settle, the jaw follows the head), sometimes
/// more than the face's own motion, so the motion test alone misses such pauses. A frame is
/// also still when, averaged over a syllable,
/// - the lips are closed ([`ActivityParams::closed_gap`]) and not pressed
///   ([`ActivityParams::pressed_height`]): near the track's rest opening, and
/// - the mouth moves no more than [`ActivityParams::moving_ratio`] times the face's own motion
///   (the bound below which a stretch does not count as speech).
///
/// The lips are used only on a track whose mouth visibly opens (median gap at least twice the
/// closed bound); otherwise a closed reading says nothing about pauses.
pub fn speaking_segments_with_lips(
    track: &FaceTrack,
    lips: &[LipShape],
    fps: f32,
    p: &ActivityParams,
) -> Vec<Segment> {
    let mouth: Vec<f32> = track.frames.iter().map(|f| f.mouth_energy).collect();
    let face: Vec<f32> = track.frames.iter().map(|f| f.face_motion).collect();
    let frames = |s: f32| (s * fps).round() as i64;
    let n = mouth.len();
    if n == 0 {
        return Vec::new();
    }
    let log: Vec<f32> = mouth.iter().map(|m| m.max(MOTION_FLOOR).ln()).collect();
    let smooth = moving_trimmed_mean(&log, (frames(p.syllable_s).max(1) as usize) | 1);
    let rest = quantile(&face, 0.5).max(MOTION_FLOOR);
    let mixture = Mixture::fit(&smooth).filter(|m| m.separation() >= p.min_separation);
    // The two-class model may split motion into ordinary and strong rather than still and
    // moving; a still frame is also nearer the face's rest level than the track's typical level.
    let midway = 0.5 * (rest.ln() + quantile(&mouth, 0.5).max(MOTION_FLOOR).ln());
    let at_rest = closed_lips(lips, n, frames(p.syllable_s).max(1) as usize | 1, p);
    let still: Vec<bool> = smooth
        .iter()
        .zip(&at_rest)
        .map(|(&s, &closed)| {
            s <= rest.ln()
                || (s <= midway
                    && mixture.is_some_and(|m| 1.0 - m.posterior_high(s) >= p.pause_confidence))
                || (closed && s <= (p.moving_ratio * rest).ln())
        })
        .collect();
    let mut speaking = vec![true; n];
    for pause in segments_from_mask(&still, 0, 0, frames(p.min_pause_s).max(1)) {
        speaking[pause.start as usize..pause.end as usize].fill(false);
    }
    // Between pauses, a stretch whose mouth moves about as little as the face is not speech
    // (a listening face, or one whose only movements are small ones).
    for run in segments_from_mask(&speaking, 0, 0, 1) {
        let range = run.start as usize..run.end as usize;
        if quantile(&mouth[range.clone()], 0.5) <= p.moving_ratio * rest {
            speaking[range].fill(false);
        }
    }
    let lead = frames(p.visual_lead_s);
    let last = track.end();
    let mut segs = segments_from_mask(&speaking, track.start(), 0, 1);
    for s in &mut segs {
        s.start = (s.start + lead).min(last);
        s.end = (s.end + lead).min(last);
    }
    segs.retain(|s| s.len() >= frames(p.min_segment_s).max(1));
    segs
}

/// Per frame, whether the lips are closed at rest (see [`speaking_segments_with_lips`]), each
/// measure averaged over `window` frames; all false when `lips` does not cover the `n` frames
/// or the track's mouth never visibly opens.
fn closed_lips(lips: &[LipShape], n: usize, window: usize, p: &ActivityParams) -> Vec<bool> {
    if lips.len() != n || n == 0 {
        return vec![false; n];
    }
    let gap: Vec<f32> = lips.iter().map(|l| l.gap).collect();
    let height: Vec<f32> = lips.iter().map(|l| l.height).collect();
    if quantile(&gap, 0.5) < 2.0 * p.closed_gap {
        return vec![false; n];
    }
    let rest_height = p.pressed_height * quantile(&height, 0.5);
    let (gap, height) = (moving_trimmed_mean(&gap, window), moving_trimmed_mean(&height, window));
    gap.iter().zip(&height).map(|(&g, &h)| g <= p.closed_gap && h >= rest_height).collect()
}

/// Overlap of two segment sets over time: |A ∩ B| / |A ∪ B| in frames (1 when both are empty).
pub fn segments_iou(a: &[Segment], b: &[Segment]) -> f32 {
    let end = a.iter().chain(b).map(|s| s.end).max().unwrap_or(0);
    let start = a.iter().chain(b).map(|s| s.start).min().unwrap_or(0);
    let inside = |set: &[Segment], f: i64| set.iter().any(|s| f >= s.start && f < s.end);
    let (mut inter, mut union) = (0u64, 0u64);
    for f in start..end {
        let (x, y) = (inside(a, f), inside(b, f));
        inter += u64::from(x && y);
        union += u64::from(x || y);
    }
    if union == 0 { 1.0 } else { inter as f32 / union as f32 }
}

/// Loudness envelope of mono audio per video frame: RMS over each frame's duration.
pub fn audio_envelope(mono: &[f32], rate: u32, fps: f32, frames: usize) -> Vec<f32> {
    let per = f64::from(rate) / f64::from(fps.max(1.0));
    (0..frames)
        .map(|i| {
            let a = ((i as f64 * per) as usize).min(mono.len());
            let b = (((i + 1) as f64 * per) as usize).min(mono.len());
            if b <= a {
                return 0.0;
            }
            (mono[a..b].iter().map(|v| v * v).sum::<f32>() / (b - a) as f32).sqrt()
        })
        .collect()
}

/// A proposed speaker for a stretch of dialogue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SpeakerProposal {
    /// The face track.
    pub track_id: u32,
    /// Correlation of its mouth energy with the dialogue's loudness over the segment (−1..1).
    pub correlation: f32,
}

/// Largest audio-video lag (frames, either way) searched when correlating mouth activity with
/// the dialogue: mouths lead or trail the sound by a few tens of milliseconds.
const MAX_LAG: i64 = 3;

/// Which face track most likely speaks `segment` of the original dialogue: the one whose
/// mouth activity correlates best with the audio envelope (one value per video frame, see
/// [`audio_envelope`]) over the frames it is on screen. Both signals are compared as syllable-rate
/// trends (moving averages of the mouth energy and of the level in dB), at the best lag within
/// ±3 frames. `None` when no track covers a quarter of the segment. For many segments of one
/// shot, build [`SpeakerTrends`] once instead.
pub fn propose_speaker(
    tracks: &[FaceTrack],
    segment: Segment,
    envelope: &[f32],
) -> Option<SpeakerProposal> {
    SpeakerTrends::new(tracks, envelope).propose(segment, |_| true)
}

/// The syllable-rate trends [`propose_speaker`] compares, computed once per shot: the level of
/// the dialogue in dB and each track's mouth energy, both as moving averages.
pub struct SpeakerTrends<'a> {
    db: Vec<f32>,
    tracks: Vec<(&'a FaceTrack, Vec<f32>)>,
}

impl<'a> SpeakerTrends<'a> {
    /// Trends of `tracks` and of the dialogue `envelope` (one value per video frame).
    pub fn new(tracks: &'a [FaceTrack], envelope: &[f32]) -> Self {
        let db: Vec<f32> = envelope.iter().map(|&v| 20.0 * v.max(1e-5).log10()).collect();
        let tracks = tracks
            .iter()
            .map(|t| {
                let energy: Vec<f32> = t.frames.iter().map(|f| f.mouth_energy).collect();
                (t, moving_average(&energy, 5))
            })
            .collect();
        Self { db: moving_average(&db, 5), tracks }
    }

    /// [`propose_speaker`] for `segment`, among the tracks `include` accepts.
    pub fn propose(
        &self,
        segment: Segment,
        include: impl Fn(&FaceTrack) -> bool,
    ) -> Option<SpeakerProposal> {
        let mut best: Option<SpeakerProposal> = None;
        for (t, energy) in self.tracks.iter().filter(|(t, _)| include(t)) {
            let mut track_best: Option<f32> = None;
            for lag in -MAX_LAG..=MAX_LAG {
                let (mut e, mut a) = (Vec::new(), Vec::new());
                for f in segment.start.max(0)..segment.end {
                    let i = f - t.start() + lag;
                    if let (Ok(i), Some(&env)) = (usize::try_from(i), self.db.get(f as usize))
                        && let Some(&v) = energy.get(i)
                    {
                        e.push(v);
                        a.push(env);
                    }
                }
                if (e.len() as i64) * 4 < segment.len() {
                    continue;
                }
                let r = crate::dsp::measure::correlation(&e, &a);
                track_best = Some(track_best.map_or(r, |b: f32| b.max(r)));
            }
            if let Some(correlation) = track_best
                && best.is_none_or(|b| correlation > b.correlation)
            {
                best = Some(SpeakerProposal { track_id: t.id, correlation });
            }
        }
        best
    }
}

/// Speech segments of the original audio in video frames: the dialogue tools' voice-activity
/// detector ([`crate::dsp::vad`], default settings), each sample range mapped to the frames it
/// overlaps. The reference that visual speech activity is checked against.
pub fn audio_speech_segments(mono: &[f32], rate: u32, fps: f32, frames: usize) -> Vec<Segment> {
    let cfg = crate::dsp::vad::VadConfig::default();
    let per = f64::from(rate) / f64::from(fps.max(1.0));
    crate::dsp::vad::detect_speech(mono, rate, &cfg)
        .into_iter()
        .map(|s| Segment {
            start: ((s.start as f64 / per).floor() as i64).min(frames as i64),
            end: ((s.end as f64 / per).ceil() as i64).min(frames as i64),
        })
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_become_bridged_segments_and_iou_counts_frames() {
        let m = [false, true, true, false, true, true, false, false, false, true];
        let s = segments_from_mask(&m, 10, 2, 2);
        assert_eq!(s, vec![Segment { start: 11, end: 16 }]);
        let a = [Segment { start: 0, end: 10 }];
        let b = [Segment { start: 5, end: 15 }];
        assert!((segments_iou(&a, &b) - 5.0 / 15.0).abs() < 1e-6);
        assert_eq!(moving_average(&[0.0, 3.0, 0.0], 3), vec![1.5, 1.0, 1.5]);
    }

    /// A one-face track whose mouth motion per frame is `mouth` and whose reference-region
    /// motion is `face` throughout.
    fn track(mouth: &[f32], face: f32) -> FaceTrack {
        use crate::analysis::BBox;
        let frames = mouth
            .iter()
            .enumerate()
            .map(|(i, &m)| crate::analysis::TrackFrame {
                frame: i as i64,
                bbox: BBox { x1: 0.0, y1: 0.0, x2: 100.0, y2: 100.0 },
                landmarks: [[0.0; 2]; 5],
                raw_landmarks: [[0.0; 2]; 5],
                confidence: 1.0,
                filled: false,
                mouth_energy: m,
                face_motion: face,
            })
            .collect();
        FaceTrack { id: 0, frames, speaking: Vec::new() }
    }

    /// Syllable-rate mouth motion (a 5-frame cycle between `low` and `high`) with a little
    /// deterministic irregularity.
    fn talking(n: usize, low: f32, high: f32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                let phase = (i % 5) as f32 / 4.0;
                let wobble = 1.0 + 0.15 * ((i * 7919) % 13) as f32 / 13.0;
                (low + (high - low) * (1.0 - (2.0 * phase - 1.0).abs())) * wobble
            })
            .collect()
    }

    #[test]
    fn mixture_separates_two_groups_and_reports_their_distance() {
        let mut x: Vec<f32> = (0..60).map(|i| -2.0 + 0.01 * (i % 7) as f32).collect();
        x.extend((0..140).map(|i| 0.5 + 0.02 * (i % 11) as f32));
        let m = Mixture::fit(&x).unwrap();
        assert!((m.mean[0] + 1.97).abs() < 0.05 && (m.mean[1] - 0.6).abs() < 0.05, "{m:?}");
        assert!((m.weight[0] - 0.3).abs() < 0.01, "{m:?}");
        assert!(m.separation() > 10.0);
        assert!(m.posterior_high(-2.0) < 1e-3 && m.posterior_high(0.6) > 0.999);
        // One group: the two components overlap.
        // (Normal quantiles by the logistic approximation.)
        let one: Vec<f32> = (0..200)
            .map(|i| {
                let q = (i as f32 + 0.5) / 200.0;
                (q / (1.0 - q)).ln() / 1.702
            })
            .collect();
        assert!(Mixture::fit(&one).unwrap().separation() < 2.5);
        assert_eq!(Mixture::fit(&[1.0; 10]), None);
    }

    #[test]
    fn trimmed_mean_ignores_one_frame_spikes_and_follows_steps() {
        let mut x = vec![0.0; 10];
        x[4] = 9.0;
        assert!(moving_trimmed_mean(&x, 5).iter().all(|&v| v == 0.0));
        let step: Vec<f32> = (0..10).map(|i| if i < 5 { 0.0 } else { 1.0 }).collect();
        let s = moving_trimmed_mean(&step, 5);
        assert_eq!((s[2], s[7]), (0.0, 1.0));
        assert!(s[4] > 0.0 && s[4] < 1.0);
    }

    #[test]
    fn speaking_segments_find_a_still_pause_and_ignore_silent_faces() {
        let fps = 25.0;
        let p = ActivityParams::default();
        // 2 s talking, 1 s still (the mouth moves as little as the face), 2 s talking; the same
        // at four times the motion everywhere (a more expressive speaker) gives the same answer.
        for scale in [1.0, 4.0] {
            let mut m = talking(50, 0.3, 1.2);
            m.extend(std::iter::repeat_n(0.1, 25));
            m.extend(talking(50, 0.3, 1.2));
            let m: Vec<f32> = m.iter().map(|v| v * scale).collect();
            let segs = speaking_segments(&track(&m, 0.15 * scale), fps, &p);
            let lead = 2;
            assert_eq!(segs.len(), 2, "{segs:?}");
            assert!((segs[0].end - (50 + lead)).abs() <= 3, "{segs:?}");
            assert!((segs[1].start - (75 + lead)).abs() <= 3, "{segs:?}");
            assert_eq!(segs[1].end, 125);
        }
        // A pause shorter than the VAD bridges is no pause.
        let mut m = talking(50, 0.3, 1.2);
        m.extend(std::iter::repeat_n(0.1, 4));
        m.extend(talking(50, 0.3, 1.2));
        assert_eq!(speaking_segments(&track(&m, 0.15), fps, &p).len(), 1);
        // A listening face: its mouth moves like the rest of the face.
        let quiet: Vec<f32> = talking(125, 0.1, 0.2);
        assert_eq!(speaking_segments(&track(&quiet, 0.15), fps, &p), vec![]);
        // Talking throughout, with one single-frame jump inside a pause-free stretch.
        let mut m = talking(125, 0.3, 1.2);
        m[60] = 5.0;
        let segs = speaking_segments(&track(&m, 0.15), fps, &p);
        assert_eq!(segs, vec![Segment { start: 2, end: 125 }]);
    }

    #[test]
    fn closed_resting_lips_make_a_pause_that_motion_alone_misses() {
        let fps = 25.0;
        let p = ActivityParams::default();
        // 3 s talking, 1 s where the closed mouth still moves ~1.45× the face's own motion (too
        // much for the motion test), 3 s talking.
        let mut m = talking(75, 0.2, 0.42);
        m.extend(std::iter::repeat_n(0.23, 25));
        m.extend(talking(75, 0.2, 0.42));
        let t = track(&m, 0.16);
        assert_eq!(speaking_segments(&t, fps, &p).len(), 1, "motion alone finds the pause");
        let lips = |pause: LipShape| -> Vec<LipShape> {
            (0..175)
                .map(|i| {
                    if (75..100).contains(&i) {
                        pause
                    } else {
                        LipShape { height: 14.0, gap: 3.0 + (i % 5) as f32 }
                    }
                })
                .collect()
        };
        // Lips resting closed: a pause.
        let segs =
            speaking_segments_with_lips(&t, &lips(LipShape { height: 12.0, gap: 0.0 }), fps, &p);
        assert_eq!(segs.len(), 2, "{segs:?}");
        assert!((segs[0].end - 77).abs() <= 3 && (segs[1].start - 102).abs() <= 3, "{segs:?}");
        // Lips pressed together (a held /m/): speaking goes on.
        let pressed = lips(LipShape { height: 4.0, gap: 0.0 });
        assert_eq!(speaking_segments_with_lips(&t, &pressed, fps, &p).len(), 1);
        // A mouth that never visibly opens says nothing about pauses.
        let shut = vec![LipShape { height: 12.0, gap: 0.0 }; 175];
        assert_eq!(speaking_segments_with_lips(&t, &shut, fps, &p).len(), 1);
        // Closed lips on a mouth moving like speech are no pause either.
        let t = track(&talking(175, 0.3, 1.2), 0.16);
        let segs =
            speaking_segments_with_lips(&t, &lips(LipShape { height: 12.0, gap: 0.0 }), fps, &p);
        assert_eq!(segs.len(), 1, "{segs:?}");
    }

    #[test]
    fn audio_speech_segments_are_in_frames() {
        // A harmonic burst (voiced-like) at 0.5..1.5 s in faint noise, 16 kHz, 25 fps.
        let rate = 16_000u32;
        let mut seed = 1u64;
        let mut x: Vec<f32> = (0..rate as usize * 2)
            .map(|_| {
                seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                0.002 * (((seed >> 33) as f32 / (1u64 << 31) as f32) - 1.0)
            })
            .collect();
        for (i, v) in x.iter_mut().enumerate().skip(8_000).take(16_000) {
            let t = i as f32 / rate as f32;
            *v += (1..6)
                .map(|h| 0.1 / h as f32 * (std::f32::consts::TAU * 140.0 * h as f32 * t).sin())
                .sum::<f32>();
        }
        let s = audio_speech_segments(&x, rate, 25.0, 50);
        assert_eq!(s.len(), 1, "{s:?}");
        assert!((11..=13).contains(&s[0].start) && (37..=41).contains(&s[0].end), "{s:?}");
    }
}
