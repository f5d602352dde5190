//! Measuring lip sync without any model: several per-frame mouth features (how open the mouth
//! is, how tall the lips are, how much the mouth moves; see
//! [`crate::analysis::mouth::shape::MouthSeries::features`]) against the loudness envelope of the audio in the
//! speech band, all band-passed to the syllable rate, over a range of lags. At each lag the
//! features' best linear combination is fitted (a canonical correlation), so the measure does
//! not assume that every face opens its mouth with loudness in the same way; the lag of the
//! best fit is the A/V offset. The confidence is a z-score against a null distribution made
//! from the same clip (its mouth against the audio reversed, and against far shifts of it), so
//! chance gives about 0 whatever the clip's length.
//!
//! The choices, none fitted to particular footage: speech energy between 300 and 3000 Hz is
//! where the mouth's opening shapes the sound (formants; below it the voice's fundamental,
//! above it fricatives made by the tongue and teeth); syllables come at 2–7 Hz, so all signals
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
    /// How far the peak stands out of chance, as a z-score: (peak − mean) / standard deviation
    /// of the same statistic for the same mouth against audio that cannot match it (the audio
    /// reversed, and shifted far outside the searched lags; see [`sync_offset_multi`]). About
    /// 0 (from −2 to 2) for unrelated audio; a mouth that follows the audio scores several
    /// units, more on longer clips. May be negative.
    pub confidence: f32,
    /// The fit at the peak: the multiple correlation (0..1) of the band-passed mouth features
    /// with the band-passed envelope.
    pub peak: f32,
    /// The fit at each lag from −max to +max.
    pub curve: Vec<f32>,
}

/// Lower edge of the speech band whose loudness the mouth shapes, in Hz.
pub const BAND_LOW_HZ: f32 = 300.0;
/// Upper edge of that band, in Hz.
pub const BAND_HIGH_HZ: f32 = 3000.0;
/// Half-width in seconds of the moving average subtracted by [`band_pass`] (its response falls
/// off below about 1 / (2 × 0.4 s) ≈ 1.2 Hz).
pub const SLOW_HALF_WIDTH_S: f64 = 0.4;
/// Frames, beyond the searched lags, that a null window of forward audio must stay clear of
/// (the peak's own width after the smoothing).
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

/// Ridge added to the diagonal of the mouth features' correlation matrix before it is inverted
/// (shrinkage towards treating the features as independent): keeps the combination stable
/// when features are nearly collinear or one is constant, and limits how well a flexible
/// combination can fit unrelated audio. A generic amount for unit-variance features.
pub const RIDGE: f64 = 0.1;

/// Most null windows of each kind (reversed audio, far shifts) that [`sync_offset_multi`]
/// evaluates; longer clips use evenly spaced ones.
const MAX_NULL_WINDOWS: usize = 128;

/// Inverts a small symmetric positive definite matrix (Gauss–Jordan with partial pivoting).
fn invert(m: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let p = m.len();
    let mut a: Vec<Vec<f64>> = m
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let mut r = row.clone();
            r.extend((0..p).map(|j| if i == j { 1.0 } else { 0.0 }));
            r
        })
        .collect();
    for c in 0..p {
        let pivot = (c..p).max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs())).unwrap_or(c);
        a.swap(c, pivot);
        let d = a[c][c];
        if d.abs() < 1e-12 {
            continue;
        }
        a[c].iter_mut().for_each(|v| *v /= d);
        let pivot_row = a[c].clone();
        for (r, row) in a.iter_mut().enumerate() {
            if r != c && row[c] != 0.0 {
                let f = row[c];
                row.iter_mut().zip(&pivot_row).for_each(|(v, q)| *v -= f * q);
            }
        }
    }
    a.into_iter().map(|r| r[p..].to_vec()).collect()
}

/// The mouth features against the audio at any circular shift: [`Fit::at`] gives the multiple
/// correlation R (the first canonical correlation with one audio signal) between the features
/// at frame t and the audio at t + k, with the features' best linear combination for that
/// shift (ridge-regularised, any signs).
struct Fit {
    /// Standardised, band-passed features.
    x: Vec<Vec<f32>>,
    /// Inverse of the features' correlation matrix plus [`RIDGE`].
    inverse: Vec<Vec<f64>>,
}

impl Fit {
    fn new(features: &[Vec<f32>]) -> Self {
        let n = features.first().map_or(0, Vec::len).max(1) as f64;
        let p = features.len();
        let mut corr = vec![vec![0.0f64; p]; p];
        for i in 0..p {
            for j in 0..p {
                let dot: f64 = features[i]
                    .iter()
                    .zip(&features[j])
                    .map(|(a, b)| f64::from(*a) * f64::from(*b))
                    .sum();
                corr[i][j] = dot / n + if i == j { RIDGE } else { 0.0 };
            }
        }
        Self { inverse: invert(&corr), x: features.to_vec() }
    }

    /// R between the features and `y` (standardised) shifted by `k` frames.
    fn at(&self, y: &[f32], k: usize) -> f32 {
        let n = y.len();
        let s: Vec<f64> = self
            .x
            .iter()
            .map(|f| {
                let dot: f32 = (0..n).map(|t| f[t] * y[(t + k) % n]).sum();
                f64::from(dot) / n.max(1) as f64
            })
            .collect();
        let r2: f64 = (0..s.len())
            .map(|i| s[i] * (0..s.len()).map(|j| self.inverse[i][j] * s[j]).sum::<f64>())
            .sum();
        r2.max(0.0).sqrt() as f32
    }
}

/// Single-feature form of [`sync_offset_multi`] (e.g. one mouth signal against the audio).
pub fn sync_offset(activity: &[f32], envelope: &[f32], fps: f64, max_lag: i32) -> SyncReport {
    sync_offset_multi(&[activity], envelope, fps, max_lag)
}

/// Finds the A/V offset from several per-frame mouth `features` and the audio `envelope` (all
/// per video frame), and how much that offset stands out of chance.
///
/// Every signal is band-passed to the syllable rate ([`band_pass`]) and standardised. At each
/// lag within `±max_lag` the fit is the multiple correlation R between the mouth features and
/// the lagged envelope (the first canonical correlation: each feature's weight and sign are
/// found per clip, so no feature is assumed to follow loudness the same way on every face —
/// a smile held through pauses keeps the lips parted while the sound stops). The offset is the
/// lag with the highest R.
///
/// The confidence is a z-score against a null distribution made from the same clip: the same
/// statistic (the best R over a window of `2·max_lag + 1` lags) for the same mouth against the
/// audio played backwards (same spectrum and loudness statistics, no relation to the mouth) at
/// every circular shift, and against the forward audio at circular shifts whose whole window
/// lies far from the searched one. Confidence = (peak − mean of the null) / its standard
/// deviation: about 0 for unrelated audio whatever the clip's length and however many
/// features are combined; a mouth that follows the audio gives several units.
pub fn sync_offset_multi(
    features: &[&[f32]],
    envelope: &[f32],
    fps: f64,
    max_lag: i32,
) -> SyncReport {
    let max_lag = max_lag.max(0);
    let n = features.iter().map(|f| f.len()).chain([envelope.len()]).min().unwrap_or(0);
    let empty = SyncReport {
        offset_frames: 0,
        offset_ms: 0.0,
        confidence: 0.0,
        peak: 0.0,
        curve: vec![0.0; (2 * max_lag + 1) as usize],
    };
    // The searched window must be at most half the circle, so that the reversed audio's
    // windows (the null) are not mostly the searched shifts again.
    if features.is_empty() || n < (4 * max_lag).max(2 * PEAK_HALF_WIDTH + 8) as usize {
        return empty;
    }
    let radius = (SLOW_HALF_WIDTH_S * fps).round().max(1.0) as usize;
    let x: Vec<Vec<f32>> =
        features.iter().map(|f| standardise(&band_pass(&f[..n], radius))).collect();
    let y = standardise(&band_pass(&envelope[..n], radius));
    let reversed: Vec<f32> = y.iter().rev().copied().collect();
    let fit = Fit::new(&x);
    let ni = n as i32;
    let shift = |lag: i32| lag.rem_euclid(ni) as usize;
    // R at each shift of the forward and reversed audio, computed once when first needed.
    let mut forward: Vec<Option<f32>> = vec![None; n];
    let mut backward: Vec<Option<f32>> = vec![None; n];
    let window_best = |cache: &mut Vec<Option<f32>>, audio: &[f32], centre: i32| -> f32 {
        (centre - max_lag..=centre + max_lag)
            .map(|l| *cache[shift(l)].get_or_insert_with(|| fit.at(audio, shift(l))))
            .fold(f32::MIN, f32::max)
    };
    window_best(&mut forward, &y, 0);
    let curve: Vec<f32> = (-max_lag..=max_lag).map(|l| forward[shift(l)].unwrap_or(0.0)).collect();
    let (offset_frames, peak) = (-max_lag..=max_lag)
        .zip(&curve)
        .fold((0, f32::MIN), |acc, (l, &r)| if r > acc.1 { (l, r) } else { acc });
    // Null windows: reversed audio around every shift, forward audio around shifts whose
    // window stays clear of the searched one (and of the peak's width).
    let step = n.div_ceil(MAX_NULL_WINDOWS).max(1);
    let mut null = Vec::new();
    for centre in (0..ni).step_by(step) {
        null.push(window_best(&mut backward, &reversed, centre));
    }
    let clear = 2 * max_lag + PEAK_HALF_WIDTH;
    for centre in (clear + 1..ni - clear).step_by(step) {
        null.push(window_best(&mut forward, &y, centre));
    }
    let len = null.len().max(1) as f32;
    let m = null.iter().sum::<f32>() / len;
    // On a short clip the null windows overlap so much that their spread can look tiny; the
    // spread is not allowed below a quarter of the standard error (1/√n) of a correlation
    // between independent series of n frames, so no short clip claims a huge z from that.
    let floor = 0.25 / (n as f32).sqrt();
    let sd = (null.iter().map(|v| (v - m) * (v - m)).sum::<f32>() / len).sqrt().max(floor);
    SyncReport {
        offset_frames,
        offset_ms: (f64::from(offset_frames) * 1000.0 / fps) as f32,
        confidence: (peak - m) / sd,
        peak,
        curve,
    }
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
        // The ridge shrinks R a little below the plain correlation (0.95 / √1.1).
        assert!(r.peak > 0.8 && r.confidence > 4.0, "{r:?}");
        let unrelated: Vec<f32> = (0..200).map(|t| ((t * 7919) % 101) as f32).collect();
        assert!(sync_offset(&opening, &unrelated, 25.0, 15).confidence < 0.5 * r.confidence);
        // Too short for the null statistics: no claim.
        assert_eq!(sync_offset(&opening[..40], &env[..40], 25.0, 15).confidence, 0.0);
    }

    /// A pseudo-random series from `seed`.
    fn noise(seed: u32, n: usize) -> Vec<f32> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as f32 / 65536.0
            })
            .collect()
    }

    #[test]
    fn combines_features_of_either_sign_and_chance_scores_near_zero() {
        // The audio follows one feature negatively 2 frames early (a mouth that closes when
        // loud); two other features are unrelated. The combination finds the lag.
        let n = 150;
        let closing = noise(7, n);
        let env: Vec<f32> = (0..n).map(|t| -closing[(t + 2) % n] + 0.3 * noise(9, n)[t]).collect();
        let (a, b) = (noise(11, n), noise(13, n));
        let r = sync_offset_multi(&[&a, &closing, &b], &env, 25.0, 15);
        assert_eq!(r.offset_frames, -2, "{r:?}");
        assert!(r.confidence > 4.0, "{r:?}");
        // Unrelated audio scores about 0 on average, whatever the clip.
        let z: Vec<f32> = (0..20)
            .map(|s| {
                sync_offset_multi(&[&a, &closing, &b], &noise(100 + s, n), 25.0, 15).confidence
            })
            .collect();
        let mean = z.iter().sum::<f32>() / z.len() as f32;
        assert!(mean.abs() < 1.0 && z.iter().all(|v| *v < 3.5), "{z:?}");
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
