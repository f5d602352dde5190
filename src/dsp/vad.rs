//! Speech segments: a voice-activity detector on frame energy and spectral flatness, with a
//! hangover so short pauses inside a phrase do not split it.

use super::spectrum::{FrameLayout, PowerSpectra};

/// VAD settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VadConfig {
    /// A frame may be speech when its energy is this many dB above the noise floor.
    pub threshold_db: f32,
    /// Frames quieter than this (dBFS) are never speech.
    pub absolute_floor_db: f32,
    /// Speech is tonal: frames flatter than this (0 = pure tone, 1 = white noise) are noise…
    pub max_flatness: f32,
    /// …unless they are this many dB above the floor (loud fricatives are flat too).
    pub loud_db: f32,
    /// Speech continues this long after the last speech frame.
    pub hangover_ms: f32,
    /// Shorter segments are dropped (clicks).
    pub min_speech_ms: f32,
    /// Segments closer than this are merged.
    pub merge_gap_ms: f32,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            threshold_db: 12.0,
            absolute_floor_db: -55.0,
            max_flatness: 0.5,
            loud_db: 25.0,
            hangover_ms: 120.0,
            min_speech_ms: 80.0,
            merge_gap_ms: 150.0,
        }
    }
}

/// A span of speech in samples (`start..end`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpeechSegment {
    /// First sample.
    pub start: usize,
    /// Sample after the last.
    pub end: usize,
}

impl SpeechSegment {
    /// Length in samples.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// Whether the segment is empty.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Per-frame measurements the detector decides on.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameStats {
    /// Frame energy in dBFS (mean square of the windowed frame, 0 dB = full-scale sine).
    pub energy_db: f32,
    /// Spectral flatness over 100 Hz–6 kHz (geometric / arithmetic mean of the power).
    pub flatness: f32,
}

/// Energy and flatness of each 25 ms frame every 10 ms.
pub fn frame_stats(mono: &[f32], sample_rate: u32) -> (FrameLayout, Vec<FrameStats>) {
    let layout = FrameLayout::speech(sample_rate);
    let spectra = PowerSpectra::new(layout);
    let layout = spectra.layout();
    let lo = (100.0 / layout.bin_hz(1)).ceil() as usize;
    let hi = ((6000.0 / layout.bin_hz(1)).floor() as usize).min(layout.n_fft / 2);
    // Parseval with a Hann window (mean w² = 3/8): power sum → mean square of the frame;
    // ×2 so that a full-scale sine reads 0 dB.
    let scale = 2.0 * 2.0 / (layout.n_fft as f32 * layout.window as f32 * 0.375);
    let mut stats = Vec::with_capacity(layout.frames(mono.len()));
    spectra.for_each(mono, |_, p| {
        let total: f32 = p[1..].iter().sum::<f32>() + p[0] * 0.5;
        let energy_db = 10.0 * (total * scale).max(1e-12).log10();
        let band = &p[lo.min(hi)..hi];
        let n = band.len().max(1) as f32;
        let mean = band.iter().sum::<f32>() / n;
        let log_mean = band.iter().map(|v| (v + 1e-20).ln()).sum::<f32>() / n;
        let flatness = if mean > 0.0 { (log_mean.exp() / mean).clamp(0.0, 1.0) } else { 1.0 };
        stats.push(FrameStats { energy_db, flatness });
    });
    (layout, stats)
}

/// Speech segments of a mono signal, in samples.
pub fn detect_speech(mono: &[f32], sample_rate: u32, cfg: &VadConfig) -> Vec<SpeechSegment> {
    let (layout, stats) = frame_stats(mono, sample_rate);
    if stats.is_empty() {
        return Vec::new();
    }
    // Noise floor: a low percentile of frame energies (most recordings have some pauses).
    let mut energies: Vec<f32> = stats.iter().map(|s| s.energy_db).collect();
    energies.sort_by(f32::total_cmp);
    let floor = energies[energies.len() / 10];
    let gate = (floor + cfg.threshold_db).max(cfg.absolute_floor_db);
    let loud = floor + cfg.loud_db;
    let hop_ms = 1000.0 * layout.hop as f32 / sample_rate as f32;
    let hangover = (cfg.hangover_ms / hop_ms).round() as usize;
    let mut frames = Vec::new();
    let mut since_speech = usize::MAX;
    let mut active = false;
    let mut seg_start = 0usize;
    for (i, s) in stats.iter().enumerate() {
        let speech = s.energy_db > gate && (s.flatness < cfg.max_flatness || s.energy_db > loud);
        if speech {
            if !active {
                active = true;
                seg_start = i;
            }
            since_speech = 0;
        } else if active {
            since_speech = since_speech.saturating_add(1);
            if since_speech > hangover {
                frames.push((seg_start, i - since_speech + 1));
                active = false;
            }
        }
    }
    if active {
        let end = if since_speech == usize::MAX {
            stats.len()
        } else {
            stats.len() - since_speech.min(stats.len())
        };
        frames.push((seg_start, end.max(seg_start + 1)));
    }
    // Frames to samples: frame i covers its centre ± half a hop.
    let half = layout.hop / 2;
    let mut segs: Vec<SpeechSegment> = frames
        .into_iter()
        .map(|(a, b)| SpeechSegment {
            start: (a * layout.hop).saturating_sub(half),
            end: ((b * layout.hop).saturating_sub(half)).min(mono.len()),
        })
        .collect();
    let ms = |m: f32| (m * sample_rate as f32 / 1000.0) as usize;
    let mut merged: Vec<SpeechSegment> = Vec::new();
    for s in segs.drain(..) {
        match merged.last_mut() {
            Some(last) if s.start <= last.end + ms(cfg.merge_gap_ms) => last.end = s.end,
            _ => merged.push(s),
        }
    }
    merged.retain(|s| s.len() >= ms(cfg.min_speech_ms));
    merged
}

/// Speech segments as timeline-style times from the start of `mono` (for drawing on the
/// original audio track and as snap targets).
pub fn speech_times(
    mono: &[f32],
    sample_rate: u32,
    cfg: &VadConfig,
) -> Vec<(crate::model::Time, crate::model::Time)> {
    let t = |n: usize| crate::model::Time::from_samples(n as i64, sample_rate);
    detect_speech(mono, sample_rate, cfg).into_iter().map(|s| (t(s.start), t(s.end))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, amp: f32, seed: &mut u64) -> Vec<f32> {
        (0..n)
            .map(|_| {
                *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                amp * (((*seed >> 33) as f32 / (1u64 << 31) as f32) - 1.0)
            })
            .collect()
    }

    #[test]
    fn harmonic_bursts_in_noise_are_found_and_noise_bursts_are_not() {
        let rate = 48_000u32;
        let mut seed = 7;
        let mut x = noise(rate as usize * 4, 0.003, &mut seed);
        // Voiced-like burst (harmonics of 150 Hz) at 0.5–1.3 s and 2.0–2.6 s.
        for (a, b) in [(0.5, 1.3), (2.0, 2.6)] {
            let (from, to) = ((a * rate as f32) as usize, (b * rate as f32) as usize);
            for (i, v) in x.iter_mut().enumerate().take(to).skip(from) {
                let t = i as f32 / rate as f32;
                *v += (1..8)
                    .map(|h| 0.1 / h as f32 * (std::f32::consts::TAU * 150.0 * h as f32 * t).sin())
                    .sum::<f32>();
            }
        }
        // A loud-ish burst of white noise at 3.2–3.5 s, only 15 dB above the floor: not speech.
        let burst = noise(rate as usize * 3 / 10, 0.017, &mut seed);
        for (k, v) in burst.iter().enumerate() {
            x[(3.2 * rate as f32) as usize + k] += v;
        }
        let segs = detect_speech(&x, rate, &VadConfig::default());
        let times = speech_times(&x, rate, &VadConfig::default());
        assert_eq!(times[0].0, crate::model::Time::from_samples(segs[0].start as i64, rate));
        let secs: Vec<(f32, f32)> = segs
            .iter()
            .map(|s| (s.start as f32 / rate as f32, s.end as f32 / rate as f32))
            .collect();
        assert_eq!(secs.len(), 2, "{secs:?}");
        assert!((secs[0].0 - 0.5).abs() < 0.03 && (secs[0].1 - 1.3).abs() < 0.16, "{secs:?}");
        assert!((secs[1].0 - 2.0).abs() < 0.03 && (secs[1].1 - 2.6).abs() < 0.16, "{secs:?}");
    }
}
