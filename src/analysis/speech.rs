//! Visual speech activity: where a face's mouth moves like speech, and which face most likely
//! speaks a given stretch of dialogue.

use super::track::{FaceTrack, Segment};

/// Settings for turning mouth motion into speaking segments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActivityParams {
    /// Length of the centred moving average over the motion, seconds (about a syllable).
    pub smooth_s: f32,
    /// A segment starts where the smoothed mouth motion exceeds the face's own non-speech
    /// motion (the track's median reference-region motion) this many times…
    pub enter_ratio: f32,
    /// …and lasts while it stays above this many times (hysteresis: the dips between syllables
    /// of running speech do not split it).
    pub stay_ratio: f32,
    /// Pauses shorter than this (seconds) are bridged: breaths between words, stop closures.
    pub bridge_s: f32,
    /// Segments shorter than this (seconds) are dropped.
    pub min_segment_s: f32,
    /// The mouth starts to move this long (seconds) before the sound it makes (the lips and jaw
    /// take their position before the voice starts); segment starts are moved this much later so
    /// the segments describe when the face is heard speaking.
    pub visual_lead_s: f32,
}

impl Default for ActivityParams {
    fn default() -> Self {
        Self {
            smooth_s: 0.28,
            enter_ratio: 1.6,
            stay_ratio: 1.2,
            bridge_s: 0.4,
            min_segment_s: 0.2,
            visual_lead_s: 0.08,
        }
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

/// Speaking segments of a track from its mouth motion.
///
/// Mouth motion is measured in canonical face units against the same measure on a part of the
/// face that does not move with speech ([`super::mouth::REFERENCE_REGION`]): alignment residue,
/// landmark noise, compression noise and lighting flicker move both, so their ratio does not
/// depend on resolution, contrast, compression or how steady the camera is. The yardstick is
/// the track's median reference motion (robust: it does not assume the face is ever silent, and
/// it does not swing with each head turn), and the decision has hysteresis (start above
/// [`ActivityParams::enter_ratio`], continue above [`ActivityParams::stay_ratio`]), bridged pauses,
/// a minimum length and the visual lead removed from each start.
pub fn speaking_segments(track: &FaceTrack, fps: f32, p: &ActivityParams) -> Vec<Segment> {
    let mouth: Vec<f32> = track.frames.iter().map(|f| f.mouth_energy).collect();
    let face: Vec<f32> = track.frames.iter().map(|f| f.face_motion).collect();
    let frames = |s: f32| (s * fps).round() as i64;
    let window = (frames(p.smooth_s).max(1) as usize) | 1;
    let unit = quantile(&face, 0.5).max(1e-3);
    let smooth = moving_average(&mouth, window);
    let mut on = false;
    let active: Vec<bool> = smooth
        .iter()
        .map(|&m| {
            let r = m / unit;
            on = if on { r > p.stay_ratio } else { r > p.enter_ratio };
            on
        })
        .collect();
    let mut segs = segments_from_mask(&active, track.start(), frames(p.bridge_s), 1);
    let lead = frames(p.visual_lead_s);
    for s in &mut segs {
        s.start = (s.start + lead).min(s.end);
    }
    segs.retain(|s| s.len() >= frames(p.min_segment_s).max(1));
    segs
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
/// ±3 frames. `None` when no track covers a quarter of the segment.
pub fn propose_speaker(
    tracks: &[FaceTrack],
    segment: Segment,
    envelope: &[f32],
) -> Option<SpeakerProposal> {
    let db: Vec<f32> = envelope.iter().map(|&v| 20.0 * v.max(1e-5).log10()).collect();
    let db = moving_average(&db, 5);
    let mut best: Option<SpeakerProposal> = None;
    for t in tracks {
        let energy: Vec<f32> = t.frames.iter().map(|f| f.mouth_energy).collect();
        let energy = moving_average(&energy, 5);
        let mut track_best: Option<f32> = None;
        for lag in -MAX_LAG..=MAX_LAG {
            let (mut e, mut a) = (Vec::new(), Vec::new());
            for f in segment.start.max(0)..segment.end {
                let i = f - t.start() + lag;
                if let (Ok(i), Some(&env)) = (usize::try_from(i), db.get(f as usize))
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
