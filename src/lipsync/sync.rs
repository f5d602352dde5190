//! Measuring lip sync: a per-frame mouth signal against the loudness envelope of the audio in the
//! speech band, both band-passed to the syllable rate, over a range of lags. `redub sync-check`
//! uses the Face Mesh inner-lip opening of the main face ([`LipMouth`], signed correlation in
//! [`sync_offset_signed`], optionally with its frame-to-frame change); [`sync_offset_multi`]
//! also combines several features (the patch measures of
//! [`crate::analysis::mouth::shape::MouthSeries::features`]), fitting at each lag the features'
//! best linear combination (a canonical correlation). The lag of the best fit is the A/V
//! offset. The confidence is a z-score against a null distribution made
//! from the same clip (its mouth against the audio reversed, and against far shifts of it), so
//! chance gives about 0 whatever the clip's length; [`Verdict`] says "in sync" only from
//! [`SYNC_THRESHOLD_Z`], chosen from that null.
//!
//! The choices, none fitted to particular footage: speech energy between 300 and 3000 Hz is
//! where the mouth's opening shapes the sound (formants; below it the voice's fundamental,
//! above it fricatives made by the tongue and teeth); syllables come at 2–7 Hz, so all signals
//! keep that band (a 3-frame smoothing removes what is faster, subtracting a ±0.4 s moving
//! average removes what is slower: head movement, lighting drift, phrase-level loudness), which
//! also keeps slow trends from correlating by chance on short clips.

use crate::analysis::mouth::shape::MeasureError;
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
    /// The chance distribution behind `confidence`: each null window's best fit as a z-score
    /// by the same mean and spread (what audio unrelated to the mouth scores on this clip).
    #[serde(skip)]
    pub null_z: Vec<f32>,
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
    let n = features.iter().map(|f| f.len()).chain([envelope.len()]).min().unwrap_or(0);
    if features.is_empty() || !long_enough(n, max_lag) {
        return no_claim(max_lag);
    }
    let radius = band_radius(fps);
    let x: Vec<Vec<f32>> =
        features.iter().map(|f| standardise(&band_pass(&f[..n], radius))).collect();
    let fit = Fit::new(&x);
    search(&envelope[..n], fps, max_lag, |y, k| fit.at(y, k))
}

/// Like [`sync_offset`] for one mouth signal that should rise with the audio's loudness (an
/// opening: lips apart on vowels, closed in pauses and on m/b/p), but the fit at each lag is
/// the signed Pearson correlation of the band-passed signals, not its magnitude: a mouth that
/// closes when the sound gets louder does not count as a match. With one signal and no sign
/// freedom, chance has half the ways to score, so the same z means more.
pub fn sync_offset_signed(mouth: &[f32], envelope: &[f32], fps: f64, max_lag: i32) -> SyncReport {
    let n = mouth.len().min(envelope.len());
    if !long_enough(n, max_lag) {
        return no_claim(max_lag);
    }
    let x = standardise(&band_pass(&mouth[..n], band_radius(fps)));
    search(&envelope[..n], fps, max_lag, |y, k| {
        let dot: f32 = (0..n).map(|t| x[t] * y[(t + k) % n]).sum();
        dot / n as f32
    })
}

/// Whether `n` frames are enough for a search within ±`max_lag` with a null: the searched
/// window must be at most half the circle, so that the reversed audio's windows (the null) are
/// not mostly the searched shifts again.
fn long_enough(n: usize, max_lag: i32) -> bool {
    let max_lag = max_lag.max(0);
    n >= (4 * max_lag).max(2 * PEAK_HALF_WIDTH + 8) as usize
}

/// The report of a clip too short to judge: offset 0, confidence 0.
fn no_claim(max_lag: i32) -> SyncReport {
    SyncReport {
        offset_frames: 0,
        offset_ms: 0.0,
        confidence: 0.0,
        peak: 0.0,
        curve: vec![0.0; (2 * max_lag.max(0) + 1) as usize],
        null_z: Vec::new(),
    }
}

/// The moving-average radius of [`band_pass`] at `fps`.
fn band_radius(fps: f64) -> usize {
    (SLOW_HALF_WIDTH_S * fps).round().max(1.0) as usize
}

/// The search shared by [`sync_offset_multi`] and [`sync_offset_signed`]: `fit(y, k)` scores
/// the mouth against the standardised, band-passed audio `y` circularly shifted by `k` frames.
/// The offset is the best lag within ±`max_lag`; the confidence is the z-score of its fit
/// against the null windows (the audio reversed at every shift, the forward audio at shifts
/// far from the searched ones).
fn search(
    envelope: &[f32],
    fps: f64,
    max_lag: i32,
    fit: impl Fn(&[f32], usize) -> f32,
) -> SyncReport {
    let max_lag = max_lag.max(0);
    let n = envelope.len();
    let y = standardise(&band_pass(envelope, band_radius(fps)));
    let reversed: Vec<f32> = y.iter().rev().copied().collect();
    let ni = n as i32;
    let shift = |lag: i32| lag.rem_euclid(ni) as usize;
    // The fit at each shift of the forward and reversed audio, computed once when first needed.
    let mut forward: Vec<Option<f32>> = vec![None; n];
    let mut backward: Vec<Option<f32>> = vec![None; n];
    let window_best = |cache: &mut Vec<Option<f32>>, audio: &[f32], centre: i32| -> f32 {
        (centre - max_lag..=centre + max_lag)
            .map(|l| *cache[shift(l)].get_or_insert_with(|| fit(audio, shift(l))))
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
        null_z: null.iter().map(|v| (v - m) / sd).collect(),
    }
}

/// Lags searched by `redub sync-check`, in frames each way (±0.6 s at 25 fps).
pub const MAX_LAG_FRAMES: i32 = 15;

/// Confidence (z against chance) from which `sync-check` says the mouth follows an audio.
/// Chosen from the chance distribution, not from right-versus-wrong results: over the six dev
/// clips in `../shared/media`, the null windows (each clip's lip opening against its own audio
/// reversed and far shifted, 931 windows, standardised as the confidence is; printed by
/// `examples/sync_chance.rs`) reach at most 1.96 with the opening alone and 2.01 with its
/// change added (99th percentiles 1.96 and 2.01): the threshold is that maximum rounded up to
/// the next tenth. Because each null window is the best of 2·max + 1 lags, many windows share
/// the same chance peak and the null's z stays below about 2 by construction; a confidence
/// above the threshold means the peak beats every chance peak of the clip.
pub const SYNC_THRESHOLD_Z: f32 = 2.1;

/// How early the audio may be and still count as in sync, ms: the detectability threshold of
/// ITU-R BT.1359 (45 ms early); one frame of measuring resolution is added at the clip's rate.
pub const IN_SYNC_EARLY_MS: f32 = 45.0;
/// How late the audio may be and still count as in sync, ms (ITU-R BT.1359: 125 ms late),
/// plus one frame of resolution.
pub const IN_SYNC_LATE_MS: f32 = 125.0;

/// What a sync check concludes about one audio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The mouth follows the audio (confidence at least [`SYNC_THRESHOLD_Z`]) at an offset
    /// within the in-sync tolerance.
    InSync,
    /// The mouth follows the audio, but at an offset outside the tolerance.
    OutOfSync,
    /// The confidence is below [`SYNC_THRESHOLD_Z`]: this mouth does not measurably follow
    /// this audio (a wrong audio, or a clip too short or too still to tell).
    NoReliableSync,
}

impl Verdict {
    /// The verdict on `report` measured at `fps`.
    pub fn of(report: &SyncReport, fps: f64) -> Self {
        let frame_ms = (1000.0 / fps.max(1.0)) as f32;
        if report.confidence < SYNC_THRESHOLD_Z {
            Self::NoReliableSync
        } else if report.offset_ms >= -(IN_SYNC_EARLY_MS + frame_ms)
            && report.offset_ms <= IN_SYNC_LATE_MS + frame_ms
        {
            Self::InSync
        } else {
            Self::OutOfSync
        }
    }
}

/// Whether the speech detector hears speech in the first `seconds` of `mono` (at
/// [`crate::dsp::SAMPLE_RATE`]): an audio without any cannot be checked against a mouth.
pub fn has_speech(mono: &[f32], seconds: f64) -> bool {
    use crate::dsp::vad::{VadConfig, detect_speech};
    let rate = crate::dsp::SAMPLE_RATE;
    let end = ((seconds.max(0.0) * f64::from(rate)) as usize).min(mono.len());
    !detect_speech(&mono[..end], rate, &VadConfig::default()).is_empty()
}

/// The mouth side of `redub sync-check`: the Face Mesh inner-lip opening of a video's main
/// face (see [`crate::analysis::lip_track::main_track`]) per frame, from the cached lip shapes
/// of [`crate::analysis::lip_shapes::track_shapes`].
#[derive(Clone, Debug)]
pub struct LipMouth {
    /// The face track's id in the analysis.
    pub face: u32,
    /// Frames per second.
    pub fps: f64,
    /// Frames in the file.
    pub frames: usize,
    /// Frames where Face Mesh measured the lips.
    pub measured: usize,
    /// Inner-lip opening per frame over the eye distance (pose-normalised); where the lips were
    /// not measured it holds the mean of the measured frames, so a face leaving or coming back
    /// does not read as the mouth closing.
    pub opening: Vec<f32>,
    /// The face analysis's normal-flow mouth energy per frame (0 where the face is absent):
    /// an independent motion measure.
    pub mouth_energy: Vec<f32>,
}

impl LipMouth {
    /// Analyses `path` (cached), picks its main face and measures its lips (cached).
    pub fn measure(path: &std::path::Path, job: &crate::jobs::Job) -> Result<Self, MeasureError> {
        use crate::analysis::{AnalysisOptions, analyze_file};
        let (analysis, _) = analyze_file(path, &AnalysisOptions::default(), job, true)?;
        let no_face = || MeasureError::NoFace(path.display().to_string());
        let track = crate::analysis::lip_track::main_track(&analysis).ok_or_else(no_face)?;
        let fps = analysis.frame_rate.as_f64();
        let frames = usize::try_from(analysis.frame_count).unwrap_or(0);
        let shapes = crate::analysis::lip_shapes::track_shapes(path, track, job)?;
        let raw: Vec<Option<f32>> = (0..frames)
            .map(|i| {
                shapes.get(i).and_then(Option::as_deref).map(crate::lipsync::speak::shape_opening)
            })
            .collect();
        let values: Vec<f32> = raw.iter().flatten().copied().collect();
        if values.is_empty() {
            return Err(no_face());
        }
        let mean = values.iter().sum::<f32>() / values.len() as f32;
        let mouth_energy =
            (0..frames).map(|i| track.at(i as i64).map_or(0.0, |t| t.mouth_energy)).collect();
        Ok(Self {
            face: track.id,
            fps,
            frames,
            measured: values.len(),
            opening: raw.iter().map(|v| v.unwrap_or(mean)).collect(),
            mouth_energy,
        })
    }

    /// How much the opening changes from one frame to the next (0 on the first frame).
    pub fn change(&self) -> Vec<f32> {
        let o = &self.opening;
        (0..o.len()).map(|i| if i == 0 { 0.0 } else { (o[i] - o[i - 1]).abs() }).collect()
    }

    /// The speech-band envelope ([`audio_envelope`]) of `mono` (at
    /// [`crate::dsp::SAMPLE_RATE`]) per frame of this video.
    pub fn envelope(&self, mono: &[f32]) -> Vec<f32> {
        audio_envelope(mono, crate::dsp::SAMPLE_RATE, self.fps, self.frames)
    }

    /// The lip opening against `mono` within ±[`MAX_LAG_FRAMES`]: the signed correlation
    /// ([`sync_offset_signed`]), or with `with_change` the opening and its frame-to-frame
    /// change combined ([`sync_offset_multi`]).
    pub fn check(&self, mono: &[f32], with_change: bool) -> SyncReport {
        let env = self.envelope(mono);
        if with_change {
            let change = self.change();
            sync_offset_multi(&[&self.opening, &change], &env, self.fps, MAX_LAG_FRAMES)
        } else {
            sync_offset_signed(&self.opening, &env, self.fps, MAX_LAG_FRAMES)
        }
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
