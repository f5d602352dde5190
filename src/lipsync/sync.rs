//! Measuring lip sync without any model: cross-correlate the change of mouth opening with the
//! change of the audio envelope over ±15 frames. The lag of the peak is the A/V offset; the
//! height of the peak above the typical correlation is the confidence.

use crate::dsp::measure::correlation;

/// The result of a sync check.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SyncReport {
    /// Frames by which the audio lags the picture (negative: audio early).
    pub offset_frames: i32,
    /// The same in milliseconds.
    pub offset_ms: f32,
    /// Peak correlation minus the median correlation over all lags (0 = no evidence).
    pub confidence: f32,
    /// Correlation at each lag from −max to +max.
    pub curve: Vec<f32>,
}

/// Audio envelope per video frame: log RMS over each frame's samples.
pub fn audio_envelope(mono: &[f32], rate: u32, fps: f64, frames: usize) -> Vec<f32> {
    (0..frames)
        .map(|i| {
            let a = ((i as f64 / fps) * f64::from(rate)) as usize;
            let b = (((i + 1) as f64 / fps) * f64::from(rate)) as usize;
            let s = &mono[a.min(mono.len())..b.min(mono.len())];
            let rms = crate::dsp::measure::rms(s);
            (rms.max(1e-4)).log10()
        })
        .collect()
}

fn diff(x: &[f32]) -> Vec<f32> {
    x.windows(2).map(|w| w[1] - w[0]).collect()
}

/// Cross-correlates mouth-opening velocity with audio-envelope velocity over `±max_lag` frames.
pub fn sync_offset(opening: &[f32], envelope: &[f32], fps: f64, max_lag: i32) -> SyncReport {
    let n = opening.len().min(envelope.len());
    let (v, e) = (diff(&opening[..n]), diff(&envelope[..n]));
    let curve: Vec<f32> = (-max_lag..=max_lag)
        .map(|lag| {
            // Pair mouth change at t with audio change at t + lag.
            let (a, b): (Vec<f32>, Vec<f32>) = (0..v.len() as i32)
                .filter_map(|t| {
                    let u = t + lag;
                    (u >= 0 && (u as usize) < e.len()).then(|| (v[t as usize], e[u as usize]))
                })
                .unzip();
            if a.len() < 8 { 0.0 } else { correlation(&a, &b) }
        })
        .collect();
    let (best, peak) = curve
        .iter()
        .enumerate()
        .fold((0usize, f32::MIN), |acc, (i, &c)| if c > acc.1 { (i, c) } else { acc });
    let mut sorted = curve.clone();
    sorted.sort_by(f32::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    let offset_frames = best as i32 - max_lag;
    SyncReport {
        offset_frames,
        offset_ms: (f64::from(offset_frames) * 1000.0 / fps) as f32,
        confidence: (peak - median).max(0.0),
        curve,
    }
}

/// Flicker: mean absolute difference between consecutive frames' values (e.g. mouth-region
/// pixels), averaged over the pairs of frames that both have values of the same length (an
/// empty entry marks a frame without the face).
pub fn flicker(regions: &[Vec<f32>]) -> f32 {
    let diffs: Vec<f32> = regions
        .windows(2)
        .filter(|w| !w[0].is_empty() && w[0].len() == w[1].len())
        .map(|w| {
            w[0].iter().zip(&w[1]).map(|(a, b)| (a - b).abs()).sum::<f32>() / w[0].len() as f32
        })
        .collect();
    if diffs.is_empty() { 0.0 } else { diffs.iter().sum::<f32>() / diffs.len() as f32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_known_offset() {
        // A pseudo-random mouth signal; the audio is the same events 3 frames later.
        let mut x = 12345u32;
        let opening: Vec<f32> = (0..200)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as f32 / 65536.0
            })
            .collect();
        let mut env = vec![0.0; 200];
        for t in 3..200 {
            env[t] = opening[t - 3] * 2.0 + 0.1;
        }
        let r = sync_offset(&opening, &env, 25.0, 15);
        assert_eq!(r.offset_frames, 3);
        assert_eq!(r.offset_ms, 120.0);
        assert!(r.confidence > 0.8, "{}", r.confidence);
        let unrelated: Vec<f32> = (0..200).map(|t| ((t * 7919) % 101) as f32).collect();
        assert!(sync_offset(&opening, &unrelated, 25.0, 15).confidence < 0.5 * r.confidence);
        assert_eq!(flicker(&[vec![1.0, 1.0], vec![2.0, 0.0]]), 1.0);
    }
}
