//! Mel filterbank, log-mel and MFCC features (10 ms hop), deltas, per-track mean/variance
//! normalisation and pooling around an instant.
//!
//! Used by auto-align (DTW between a dub line and the original) and meant for the lip engine,
//! which pools the same features over ±100 ms around each video frame.

use super::spectrum::{FrameLayout, PowerSpectra};

/// HTK mel scale.
pub fn hz_to_mel(hz: f32) -> f32 {
    2595.0 * (1.0 + hz / 700.0).log10()
}

/// Inverse of [`hz_to_mel`].
pub fn mel_to_hz(mel: f32) -> f32 {
    700.0 * (10f32.powf(mel / 2595.0) - 1.0)
}

/// Triangular mel filters over an FFT's power bins.
#[derive(Clone, Debug)]
pub struct MelFilterbank {
    /// Per band: first bin and the weights from there.
    bands: Vec<(usize, Vec<f32>)>,
}

impl MelFilterbank {
    /// `n_mels` triangles evenly spaced in mel between `fmin` and `fmax`, each peaking at 1.
    pub fn new(layout: FrameLayout, n_mels: usize, fmin: f32, fmax: f32) -> Self {
        let nyquist = layout.sample_rate as f32 / 2.0;
        let (lo, hi) = (hz_to_mel(fmin.max(0.0)), hz_to_mel(fmax.min(nyquist)));
        let edges: Vec<f32> = (0..n_mels + 2)
            .map(|i| mel_to_hz(lo + (hi - lo) * i as f32 / (n_mels + 1) as f32))
            .collect();
        let bins = layout.n_fft / 2 + 1;
        let bands = (0..n_mels)
            .map(|m| {
                let (l, c, r) = (edges[m], edges[m + 1], edges[m + 2]);
                let mut first = None;
                let mut w = Vec::new();
                for k in 0..bins {
                    let f = layout.bin_hz(k);
                    let v = if f > l && f <= c {
                        (f - l) / (c - l).max(f32::EPSILON)
                    } else if f > c && f < r {
                        (r - f) / (r - c).max(f32::EPSILON)
                    } else {
                        0.0
                    };
                    if v > 0.0 {
                        first.get_or_insert(k);
                        w.push(v);
                    } else if first.is_some() {
                        break;
                    }
                }
                (first.unwrap_or(0), w)
            })
            .collect();
        Self { bands }
    }

    /// Number of bands.
    pub fn len(&self) -> usize {
        self.bands.len()
    }

    /// Whether there are no bands.
    pub fn is_empty(&self) -> bool {
        self.bands.is_empty()
    }

    /// Band energies of one power spectrum.
    pub fn apply(&self, power: &[f32], out: &mut [f32]) {
        for ((first, w), o) in self.bands.iter().zip(out.iter_mut()) {
            *o = w.iter().zip(power.iter().skip(*first)).map(|(a, b)| a * b).sum();
        }
    }
}

/// A sequence of feature vectors at a fixed hop.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Features {
    /// Values per frame.
    pub dim: usize,
    /// Seconds between frames; frame `i` is centred at `i * hop_seconds`.
    pub hop_seconds: f64,
    /// Frame-major values (`len() * dim`).
    pub data: Vec<f32>,
}

impl Features {
    /// Number of frames.
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }

    /// Whether there are no frames.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Frame `i`.
    pub fn frame(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Appends first-order deltas (regression over ±`radius` frames, edges repeated), doubling
    /// the dimension: speech timing lives in how the spectrum changes as much as in its shape.
    pub fn with_deltas(&self, radius: usize) -> Features {
        let n = self.len();
        let d = self.dim;
        let radius = radius.max(1);
        let norm: f32 = 2.0 * (1..=radius).map(|k| (k * k) as f32).sum::<f32>();
        let mut data = Vec::with_capacity(n * d * 2);
        for i in 0..n {
            data.extend_from_slice(self.frame(i));
            for j in 0..d {
                let mut acc = 0.0;
                for k in 1..=radius {
                    let next = self.frame((i + k).min(n - 1))[j];
                    let prev = self.frame(i.saturating_sub(k))[j];
                    acc += k as f32 * (next - prev);
                }
                data.push(acc / norm);
            }
        }
        Features { dim: d * 2, hop_seconds: self.hop_seconds, data }
    }

    /// Mean/variance normalisation per dimension over the whole track, so a quiet take and a
    /// loud take of the same words look alike.
    pub fn normalise_mean_variance(&mut self) {
        let n = self.len();
        if n == 0 {
            return;
        }
        for j in 0..self.dim {
            let mean =
                (0..n).map(|i| f64::from(self.data[i * self.dim + j])).sum::<f64>() / n as f64;
            let var = (0..n)
                .map(|i| (f64::from(self.data[i * self.dim + j]) - mean).powi(2))
                .sum::<f64>()
                / n as f64;
            let sd = var.sqrt().max(1e-6);
            for i in 0..n {
                let v = &mut self.data[i * self.dim + j];
                *v = ((f64::from(*v) - mean) / sd) as f32;
            }
        }
    }

    /// Mean of the frames centred within `centre ± radius` seconds (e.g. ±0.1 s around a video
    /// frame's time); zeros when no frame falls there.
    pub fn pool(&self, centre: f64, radius: f64) -> Vec<f32> {
        let mut out = vec![0.0f32; self.dim];
        if self.is_empty() || self.hop_seconds <= 0.0 {
            return out;
        }
        let first = ((centre - radius) / self.hop_seconds).ceil().max(0.0) as usize;
        let last = (((centre + radius) / self.hop_seconds).floor().max(-1.0) + 1.0) as usize;
        let last = last.min(self.len());
        if first >= last {
            return out;
        }
        for i in first..last {
            for (o, v) in out.iter_mut().zip(self.frame(i)) {
                *o += v;
            }
        }
        let count = (last - first) as f32;
        out.iter_mut().for_each(|o| *o /= count);
        out
    }
}

/// MFCC recipe.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MfccConfig {
    /// Frames and FFT.
    pub layout: FrameLayout,
    /// Mel bands.
    pub n_mels: usize,
    /// Cepstral coefficients kept (c0 included).
    pub n_coeffs: usize,
    /// Lowest band edge in Hz.
    pub fmin: f32,
    /// Highest band edge in Hz.
    pub fmax: f32,
    /// Pre-emphasis coefficient (0 = none); lifts the weak upper formants.
    pub pre_emphasis: f32,
}

impl MfccConfig {
    /// 25 ms / 10 ms frames, 40 mel bands 20 Hz–8 kHz, 13 coefficients, pre-emphasis 0.97.
    pub fn speech(sample_rate: u32) -> Self {
        Self {
            layout: FrameLayout::speech(sample_rate),
            n_mels: 40,
            n_coeffs: 13,
            fmin: 20.0,
            fmax: 8000.0,
            pre_emphasis: 0.97,
        }
    }
}

/// Computes log-mel and MFCC features with one set of plans.
pub struct MfccExtractor {
    config: MfccConfig,
    spectra: PowerSpectra,
    mel: MelFilterbank,
    /// DCT-II matrix, `n_coeffs × n_mels`, orthonormal.
    dct: Vec<f32>,
}

impl MfccExtractor {
    /// Plans for `config`.
    pub fn new(config: MfccConfig) -> Self {
        let spectra = PowerSpectra::new(config.layout);
        let mel = MelFilterbank::new(spectra.layout(), config.n_mels, config.fmin, config.fmax);
        let m = config.n_mels.max(1);
        let mut dct = Vec::with_capacity(config.n_coeffs * m);
        for k in 0..config.n_coeffs {
            let scale = if k == 0 { (1.0 / m as f32).sqrt() } else { (2.0 / m as f32).sqrt() };
            for n in 0..m {
                dct.push(
                    scale * (std::f32::consts::PI * k as f32 * (n as f32 + 0.5) / m as f32).cos(),
                );
            }
        }
        Self { config, spectra, mel, dct }
    }

    /// The recipe.
    pub fn config(&self) -> MfccConfig {
        self.config
    }

    /// Natural-log mel energies per frame (floored at 1e-10 so silence stays finite).
    pub fn log_mel(&self, mono: &[f32]) -> Features {
        let p = self.config.pre_emphasis;
        let emphasised: Vec<f32> = if p > 0.0 {
            std::iter::once(mono.first().copied().unwrap_or(0.0))
                .chain(mono.windows(2).map(|w| w[1] - p * w[0]))
                .collect()
        } else {
            mono.to_vec()
        };
        let dim = self.mel.len();
        let layout = self.spectra.layout();
        let mut data = Vec::with_capacity(layout.frames(mono.len()) * dim);
        let mut bands = vec![0.0f32; dim];
        self.spectra.for_each(&emphasised, |_, power| {
            self.mel.apply(power, &mut bands);
            data.extend(bands.iter().map(|b| b.max(1e-10).ln()));
        });
        Features { dim, hop_seconds: layout.hop as f64 / f64::from(layout.sample_rate), data }
    }

    /// MFCCs (DCT-II of the log-mel energies), `n_coeffs` per frame.
    pub fn mfcc(&self, mono: &[f32]) -> Features {
        let mel = self.log_mel(mono);
        let (m, c) = (mel.dim, self.config.n_coeffs);
        let mut data = Vec::with_capacity(mel.len() * c);
        for i in 0..mel.len() {
            let frame = mel.frame(i);
            for k in 0..c {
                data.push(self.dct[k * m..(k + 1) * m].iter().zip(frame).map(|(a, b)| a * b).sum());
            }
        }
        Features { dim: c, hop_seconds: mel.hop_seconds, data }
    }

    /// The alignment recipe: MFCC + deltas (±2 frames), normalised over the track.
    pub fn mfcc_deltas_normalised(&self, mono: &[f32]) -> Features {
        let mut f = self.mfcc(mono).with_deltas(2);
        f.normalise_mean_variance();
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mel_scale_round_trips_and_filters_cover_the_band() {
        assert!((mel_to_hz(hz_to_mel(1234.0)) - 1234.0).abs() < 0.05);
        let cfg = MfccConfig::speech(48_000);
        let fb = MelFilterbank::new(cfg.layout, 40, 20.0, 8000.0);
        assert_eq!(fb.len(), 40);
        // Flat white power gives every band a positive energy.
        let mut out = vec![0.0; 40];
        fb.apply(&vec![1.0; cfg.layout.n_fft / 2 + 1], &mut out);
        assert!(out.iter().all(|&v| v > 0.0), "{out:?}");
    }

    #[test]
    fn mfcc_deltas_normalise_and_pool() {
        let ex = MfccExtractor::new(MfccConfig::speech(48_000));
        // A tone whose pitch jumps halfway: the features must differ between halves.
        let x: Vec<f32> = (0..48_000)
            .map(|i| {
                let f = if i < 24_000 { 300.0 } else { 2000.0 };
                0.3 * (std::f32::consts::TAU * f * i as f32 / 48_000.0).sin()
            })
            .collect();
        let f = ex.mfcc_deltas_normalised(&x);
        assert_eq!(f.dim, 26);
        assert_eq!(f.len(), 100);
        for j in 0..f.dim {
            let mean: f32 = (0..f.len()).map(|i| f.frame(i)[j]).sum::<f32>() / f.len() as f32;
            assert!(mean.abs() < 1e-3);
        }
        let a = f.pool(0.2, 0.1);
        let b = f.pool(0.8, 0.1);
        let dist: f32 = a.iter().zip(&b).map(|(x, y)| (x - y).powi(2)).sum::<f32>().sqrt();
        assert!(dist > 1.0, "{dist}");
        assert_eq!(f.pool(50.0, 0.1), vec![0.0; 26]);
    }
}
