//! Measuring lip sync without any model: normalised cross-correlation of the mouth's activity
//! (how much it moves, see [`super::measure::MouthSeries::activity`]) with the loudness envelope
//! of the audio over a range of lags. The lag of the peak is the A/V offset; the confidence is
//! how far the peak stands out of the correlations at the other lags (peak to sidelobe).

use crate::dsp::measure::correlation;

/// The result of a sync check.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SyncReport {
    /// Frames by which the audio lags the picture (negative: audio early).
    pub offset_frames: i32,
    /// The same in milliseconds.
    pub offset_ms: f32,
    /// Peak to sidelobe: (peak − mean) / standard deviation of the correlations at the lags
    /// more than two frames from the peak (over ±`max_lag` and a wider band for the statistics).
    /// Around 1–2 for unrelated audio; higher when the mouth follows the audio.
    pub confidence: f32,
    /// Pearson correlation at the peak.
    pub peak: f32,
    /// Correlation at each lag from −max to +max.
    pub curve: Vec<f32>,
}

/// Audio envelope per video frame: log RMS over each frame's samples, floored a little above
/// the quietest tenth of the frames (so that room noise in pauses does not count as speech),
/// then smoothed over three frames.
pub fn audio_envelope(mono: &[f32], rate: u32, fps: f64, frames: usize) -> Vec<f32> {
    let raw: Vec<f32> = (0..frames)
        .map(|i| {
            let a = ((i as f64 / fps) * f64::from(rate)) as usize;
            let b = (((i + 1) as f64 / fps) * f64::from(rate)) as usize;
            let s = &mono[a.min(mono.len())..b.min(mono.len())];
            let rms = crate::dsp::measure::rms(s);
            (rms.max(1e-4)).log10()
        })
        .collect();
    let mut sorted = raw.clone();
    sorted.sort_by(f32::total_cmp);
    // 0.3 in log10 amplitude: 6 dB above the noise floor.
    let floor = sorted.get(sorted.len() / 10).copied().unwrap_or(-4.0) + 0.3;
    smooth(&raw.iter().map(|v| v.max(floor)).collect::<Vec<_>>())
}

/// [1 2 1] / 4 smoothing, edges repeated.
pub fn smooth(x: &[f32]) -> Vec<f32> {
    let n = x.len();
    (0..n).map(|i| (x[i.saturating_sub(1)] + 2.0 * x[i] + x[(i + 1).min(n - 1)]) / 4.0).collect()
}

/// Pearson correlation of `a[t]` with `b[t + lag]` over the frames where both exist (`None`
/// when under half the frames overlap).
fn lagged(a: &[f32], b: &[f32], lag: i32) -> Option<f32> {
    let n = a.len().min(b.len()) as i32;
    let (t0, t1) = ((-lag).max(0), (n - lag).min(n));
    if t1 - t0 < (n / 2).max(8) {
        return None;
    }
    let (t0, t1) = (t0 as usize, t1 as usize);
    let shift = |t: usize| (t as i32 + lag) as usize;
    Some(correlation(&a[t0..t1], &b[shift(t0)..shift(t1 - 1) + 1]))
}

/// Normalised cross-correlation of the mouth `activity` with the audio `envelope` over
/// `±max_lag` frames (the search range), with the sidelobe statistics over a band of at least
/// ±40 frames (as far as the clip allows).
pub fn sync_offset(activity: &[f32], envelope: &[f32], fps: f64, max_lag: i32) -> SyncReport {
    let n = activity.len().min(envelope.len());
    let a = &activity[..n];
    let e = &envelope[..n];
    let band = max_lag.max(40);
    let all: Vec<(i32, f32)> =
        (-band..=band).filter_map(|lag| lagged(a, e, lag).map(|c| (lag, c))).collect();
    let curve: Vec<f32> = (-max_lag..=max_lag)
        .map(|lag| all.iter().find(|(l, _)| *l == lag).map_or(0.0, |x| x.1))
        .collect();
    let (offset_frames, peak) = all
        .iter()
        .filter(|(l, _)| l.abs() <= max_lag)
        .fold((0, f32::MIN), |acc, &(l, c)| if c > acc.1 { (l, c) } else { acc });
    let others: Vec<f32> =
        all.iter().filter(|(l, _)| (l - offset_frames).abs() > 2).map(|x| x.1).collect();
    let confidence = if others.len() < 4 || peak == f32::MIN {
        0.0
    } else {
        let m = others.iter().sum::<f32>() / others.len() as f32;
        let sd = (others.iter().map(|c| (c - m) * (c - m)).sum::<f32>() / others.len() as f32)
            .sqrt()
            .max(1e-3);
        ((peak - m) / sd).max(0.0)
    };
    SyncReport {
        offset_frames,
        offset_ms: (f64::from(offset_frames) * 1000.0 / fps) as f32,
        confidence,
        peak: if peak == f32::MIN { 0.0 } else { peak },
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
        assert!(r.peak > 0.9 && r.confidence > 4.0, "{r:?}");
        let unrelated: Vec<f32> = (0..200).map(|t| ((t * 7919) % 101) as f32).collect();
        assert!(sync_offset(&opening, &unrelated, 25.0, 15).confidence < 0.5 * r.confidence);
        assert_eq!(flicker(&[vec![1.0, 1.0], vec![2.0, 0.0]]), 1.0);
    }
}
