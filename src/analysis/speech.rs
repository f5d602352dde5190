//! Visual speech activity: where a face's mouth moves like speech, and which face most likely
//! speaks a given stretch of dialogue.

use super::track::{FaceTrack, Segment};

/// Settings for turning mouth-motion energy into speaking segments.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActivityParams {
    /// Length of the centred moving average over the energy, seconds (about a syllable).
    pub smooth_s: f32,
    /// Speaking when the smoothed energy exceeds the track's resting level times this.
    pub rest_ratio: f32,
    /// Pauses shorter than this (seconds) are bridged: breaths between words, stop closures.
    pub bridge_s: f32,
    /// Segments shorter than this (seconds) are dropped.
    pub min_segment_s: f32,
}

impl Default for ActivityParams {
    fn default() -> Self {
        Self { smooth_s: 0.2, rest_ratio: 1.6, bridge_s: 0.4, min_segment_s: 0.2 }
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

/// Speaking segments of a track from its mouth-motion energy.
///
/// The resting level is the track's quietest sustained mouth motion (the 10th percentile of the
/// smoothed energy): landmark noise and small expression changes, measured on the same face and
/// footage, so the ratio above it does not depend on resolution, contrast or compression.
pub fn speaking_segments(track: &FaceTrack, fps: f32, p: &ActivityParams) -> Vec<Segment> {
    let energy: Vec<f32> = track.frames.iter().map(|f| f.mouth_energy).collect();
    if energy.is_empty() {
        return Vec::new();
    }
    let window = ((p.smooth_s * fps).round() as usize).max(1) | 1;
    let smooth = moving_average(&energy, window);
    let rest = quantile(&smooth, 0.1).max(1e-3);
    let active: Vec<bool> = smooth.iter().map(|&e| e > rest * p.rest_ratio).collect();
    segments_from_mask(
        &active,
        track.start(),
        (p.bridge_s * fps).round() as i64,
        (p.min_segment_s * fps).round() as i64,
    )
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

/// A plain energy speech detector for the original audio, used by the analysis tests to check
/// mouth activity against the soundtrack. It stands in until the dialogue tools' `dsp::vad`
/// exists and should then be replaced by it.
///
/// Speech where the per-frame level is within 30 dB of the loud frames (95th percentile) and at
/// least 10 dB over the noise floor (10th percentile); gaps under 0.3 s bridged, blips under
/// 0.1 s dropped.
pub fn energy_speech_segments(mono: &[f32], rate: u32, fps: f32, frames: usize) -> Vec<Segment> {
    let env = audio_envelope(mono, rate, fps, frames);
    let db: Vec<f32> = env.iter().map(|&v| 20.0 * v.max(1e-6).log10()).collect();
    let floor = quantile(&db, 0.1);
    let loud = quantile(&db, 0.95);
    let threshold = (floor + 10.0).max(loud - 30.0);
    let active: Vec<bool> = db.iter().map(|&d| d > threshold).collect();
    segments_from_mask(&active, 0, (0.3 * fps).round() as i64, (0.1 * fps).round() as i64)
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
    fn energy_vad_finds_a_tone_burst() {
        let rate = 16_000;
        let mut x = vec![0.001f32; rate as usize * 2];
        for (i, v) in x.iter_mut().enumerate().skip(8_000).take(16_000) {
            *v = 0.3 * (i as f32 * 0.1).sin();
        }
        let s = energy_speech_segments(&x, rate, 25.0, 50);
        assert_eq!(s, vec![Segment { start: 12, end: 38 }]);
    }
}
