//! Measuring lip sync without any model: normalised cross-correlation of the mouth's activity
//! (how open it is and how much it moves, see [`super::measure::MouthSeries::activity`]) with
//! the loudness envelope of the audio in the speech band, both band-passed to the syllable
//! rate, over a range of lags. The lag of the peak is the A/V offset; the confidence is how far
//! the peak stands out of the correlations at all other circular shifts (peak to sidelobe).
//!
//! The choices, none fitted to particular footage: speech energy between 300 and 3000 Hz is
//! where the mouth's opening shapes the sound (formants; below it the voice's fundamental,
//! above it fricatives made by the tongue and teeth); syllables come at 2–7 Hz, so both signals
//! keep that band (a 3-frame smoothing removes what is faster, subtracting a ±0.4 s moving
//! average removes what is slower: head movement, lighting drift, phrase-level loudness), which
//! also keeps slow trends from correlating by chance on short clips.

use crate::dsp::spectrum::{FrameLayout, PowerSpectra};

/// The result of a sync check.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SyncReport {
    /// Frames by which the audio lags the picture (negative: audio early).
    pub offset_frames: i32,
    /// The same in milliseconds.
    pub offset_ms: f32,
    /// Peak to sidelobe: (peak − mean) / standard deviation of the circular correlations at all
    /// shifts more than [`PEAK_HALF_WIDTH`] frames from the peak. The peak is the largest of
    /// 2·max_lag + 1 correlations, so unrelated audio scores about 1–3 on clips of a few
    /// seconds; the mouth following the audio scores higher, and more so on longer clips.
    pub confidence: f32,
    /// Pearson correlation at the peak (band-passed signals).
    pub peak: f32,
    /// Correlation at each lag from −max to +max.
    pub curve: Vec<f32>,
}

/// Lower edge of the speech band whose loudness the mouth shapes, in Hz.
pub const BAND_LOW_HZ: f32 = 300.0;
/// Upper edge of that band, in Hz.
pub const BAND_HIGH_HZ: f32 = 3000.0;
/// Half-width in seconds of the moving average subtracted by [`band_pass`] (its response falls
/// off below about 1 / (2 × 0.4 s) ≈ 1.2 Hz).
pub const SLOW_HALF_WIDTH_S: f64 = 0.4;
/// Frames on each side of the peak left out of the sidelobe statistics (the peak's own width
/// after the smoothing).
pub const PEAK_HALF_WIDTH: i32 = 3;

/// Audio envelope per video frame: log energy (log10 of power) of the 300–3000 Hz band from
/// 25 ms windows every 10 ms, averaged over each frame's windows, floored 6 dB above the
/// quietest tenth of the frames (so that room noise in pauses does not count as speech).
pub fn audio_envelope(mono: &[f32], rate: u32, fps: f64, frames: usize) -> Vec<f32> {
    let layout = FrameLayout::speech(rate);
    let spectra = PowerSpectra::new(layout);
    let layout = spectra.layout();
    let bins: Vec<usize> = (0..=layout.n_fft / 2)
        .filter(|&k| (BAND_LOW_HZ..BAND_HIGH_HZ).contains(&layout.bin_hz(k)))
        .collect();
    let mut band = Vec::with_capacity(layout.frames(mono.len()));
    spectra.for_each(mono, |_, power| {
        band.push(bins.iter().filter_map(|&k| power.get(k)).sum::<f32>());
    });
    let hop_s = layout.hop as f64 / f64::from(rate.max(1));
    let raw: Vec<f32> = (0..frames)
        .map(|i| {
            let a = ((i as f64 / fps) / hop_s).round() as usize;
            let b = (((i + 1) as f64 / fps) / hop_s).round() as usize;
            let windows = &band[a.min(band.len())..b.max(a + 1).min(band.len())];
            let mean = if windows.is_empty() {
                0.0
            } else {
                windows.iter().sum::<f32>() / windows.len() as f32
            };
            (mean + 1e-10).log10()
        })
        .collect();
    let mut sorted = raw.clone();
    sorted.sort_by(f32::total_cmp);
    // 0.6 in log10 power: 6 dB above the noise floor.
    let floor = sorted.get(sorted.len() / 10).copied().unwrap_or(-10.0) + 0.6;
    raw.iter().map(|v| v.max(floor)).collect()
}

/// [1 2 1] / 4 smoothing, edges repeated.
pub fn smooth(x: &[f32]) -> Vec<f32> {
    let n = x.len();
    (0..n).map(|i| (x[i.saturating_sub(1)] + 2.0 * x[i] + x[(i + 1).min(n - 1)]) / 4.0).collect()
}

/// Keeps the syllable rate of a per-frame signal: [`smooth`] minus the mean over ±`radius`
/// frames (the window shrinks at the edges).
pub fn band_pass(x: &[f32], radius: usize) -> Vec<f32> {
    let n = x.len();
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0f64);
    for v in x {
        prefix.push(prefix[prefix.len() - 1] + f64::from(*v));
    }
    smooth(x)
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let (a, b) = (i.saturating_sub(radius), (i + radius + 1).min(n));
            s - ((prefix[b] - prefix[a]) / (b - a).max(1) as f64) as f32
        })
        .collect()
}

/// Zero mean, unit variance (a constant series stays zero).
fn standardise(x: &[f32]) -> Vec<f32> {
    let n = x.len().max(1) as f64;
    let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let sd = (x.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n).sqrt();
    x.iter().map(|&v| if sd > 1e-12 { ((f64::from(v) - mean) / sd) as f32 } else { 0.0 }).collect()
}

/// Normalised circular cross-correlation: entry `k` pairs `a[t]` with `b[(t + k) mod n]`.
fn circular_ncc(a: &[f32], b: &[f32]) -> Vec<f32> {
    let n = a.len().min(b.len());
    let (a, b) = (standardise(&a[..n]), standardise(&b[..n]));
    (0..n).map(|k| (0..n).map(|t| a[t] * b[(t + k) % n]).sum::<f32>() / n.max(1) as f32).collect()
}

/// Cross-correlates the mouth `activity` with the audio `envelope` (both per video frame),
/// band-passed to the syllable rate, over `±max_lag` frames; the confidence compares the peak
/// with the correlations at every other circular shift of the clip.
pub fn sync_offset(activity: &[f32], envelope: &[f32], fps: f64, max_lag: i32) -> SyncReport {
    let n = activity.len().min(envelope.len());
    let empty = SyncReport {
        offset_frames: 0,
        offset_ms: 0.0,
        confidence: 0.0,
        peak: 0.0,
        curve: vec![0.0; (2 * max_lag.max(0) + 1) as usize],
    };
    // Shifts beyond the search range and the peak's width must remain for the statistics.
    if n < (4 * (max_lag.max(0) + PEAK_HALF_WIDTH) + 8) as usize {
        return empty;
    }
    let radius = (SLOW_HALF_WIDTH_S * fps).round().max(1.0) as usize;
    let c = circular_ncc(&band_pass(&activity[..n], radius), &band_pass(&envelope[..n], radius));
    let ni = n as i32;
    let at = |lag: i32| c[lag.rem_euclid(ni) as usize];
    let curve: Vec<f32> = (-max_lag..=max_lag).map(at).collect();
    let (offset_frames, peak) = (-max_lag..=max_lag)
        .fold((0, f32::MIN), |acc, l| if at(l) > acc.1 { (l, at(l)) } else { acc });
    let others: Vec<f32> = (0..ni)
        .filter(|&k| {
            let lag = if k > ni / 2 { k - ni } else { k };
            (lag - offset_frames).abs() > PEAK_HALF_WIDTH
        })
        .map(|k| c[k as usize])
        .collect();
    let m = others.iter().sum::<f32>() / others.len().max(1) as f32;
    let sd = (others.iter().map(|v| (v - m) * (v - m)).sum::<f32>() / others.len().max(1) as f32)
        .sqrt()
        .max(1e-3);
    SyncReport {
        offset_frames,
        offset_ms: (f64::from(offset_frames) * 1000.0 / fps) as f32,
        confidence: ((peak - m) / sd).max(0.0),
        peak,
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
        // Too short for sidelobe statistics: no claim.
        assert_eq!(sync_offset(&opening[..40], &env[..40], 25.0, 15).confidence, 0.0);
    }

    #[test]
    fn envelope_hears_the_speech_band_only() {
        // 1 s of silence, then 1 s of a 1 kHz tone (in the band), then 1 s at 6 kHz (above it).
        let rate = 48_000u32;
        let tone = |f: f32, i: usize| 0.3 * (std::f32::consts::TAU * f * i as f32 / 48_000.0).sin();
        let mono: Vec<f32> = (0..3 * 48_000)
            .map(|i| match i / 48_000 {
                0 => 0.0,
                1 => tone(1000.0, i),
                _ => tone(6000.0, i),
            })
            .collect();
        let env = audio_envelope(&mono, rate, 25.0, 75);
        let mean = |a: usize, b: usize| env[a..b].iter().sum::<f32>() / (b - a) as f32;
        let (silence, band, high) = (mean(2, 23), mean(27, 48), mean(52, 73));
        assert!(band > silence + 3.0, "{silence} {band}");
        assert!(band > high + 3.0, "{band} {high}");
        // The band-pass removes a constant and a slow ramp.
        let slow: Vec<f32> = (0..100).map(|i| 5.0 + 0.01 * i as f32).collect();
        assert!(band_pass(&slow, 10)[20..80].iter().all(|v| v.abs() < 1e-4));
    }
}
