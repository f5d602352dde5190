//! Short-time power spectra of mono audio (realfft), shared by MFCC and VAD.

use realfft::{RealFftPlanner, RealToComplex};
use std::sync::Arc;

/// Frame layout of a short-time analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLayout {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Window length in samples.
    pub window: usize,
    /// Hop in samples.
    pub hop: usize,
    /// FFT length (≥ window).
    pub n_fft: usize,
}

impl FrameLayout {
    /// 25 ms Hann windows every 10 ms, the usual speech-analysis layout.
    pub fn speech(sample_rate: u32) -> Self {
        let window = (sample_rate as usize * 25).div_ceil(1000);
        let hop = (sample_rate as usize / 100).max(1);
        Self { sample_rate, window, hop, n_fft: window.next_power_of_two() }
    }

    /// Number of frames for `len` samples; frame `i` is centred on sample `i * hop`.
    pub fn frames(&self, len: usize) -> usize {
        if len == 0 { 0 } else { len.div_ceil(self.hop.max(1)) }
    }

    /// Time in seconds of frame `i`'s centre.
    pub fn frame_seconds(&self, i: usize) -> f64 {
        (i * self.hop) as f64 / f64::from(self.sample_rate.max(1))
    }

    /// Frequency in Hz of FFT bin `k`.
    pub fn bin_hz(&self, k: usize) -> f32 {
        k as f32 * self.sample_rate as f32 / self.n_fft as f32
    }
}

/// Computes power spectra frame by frame with one FFT plan and scratch buffers.
pub struct PowerSpectra {
    layout: FrameLayout,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
}

impl PowerSpectra {
    /// A planner for `layout` (window clamped to the FFT length).
    pub fn new(mut layout: FrameLayout) -> Self {
        layout.n_fft = layout.n_fft.max(layout.window).max(2);
        layout.hop = layout.hop.max(1);
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(layout.n_fft);
        // Hann: low side lobes keep the mel bands and the flatness measure clean.
        let n = layout.window.max(1);
        let window = (0..n)
            .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / n as f32).cos())
            .collect();
        Self { layout, fft, window }
    }

    /// The layout in use.
    pub fn layout(&self) -> FrameLayout {
        self.layout
    }

    /// Calls `f(frame_index, power_spectrum)` for every frame of `mono` (`n_fft / 2 + 1` bins).
    /// Samples outside the signal count as zero, so frame `i` is centred on sample `i * hop`.
    pub fn for_each(&self, mono: &[f32], mut f: impl FnMut(usize, &[f32])) {
        let l = self.layout;
        let mut input = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut power = vec![0.0f32; spectrum.len()];
        let half = (l.window / 2) as i64;
        for i in 0..l.frames(mono.len()) {
            input.iter_mut().for_each(|v| *v = 0.0);
            let start = (i * l.hop) as i64 - half;
            for (k, w) in self.window.iter().enumerate() {
                let s = start + k as i64;
                if s >= 0 && (s as usize) < mono.len() {
                    input[k] = mono[s as usize] * w;
                }
            }
            // The only failure is a buffer-length mismatch, impossible with the plan's own vecs.
            if self.fft.process_with_scratch(&mut input, &mut spectrum, &mut scratch).is_err() {
                continue;
            }
            for (p, c) in power.iter_mut().zip(&spectrum) {
                *p = c.norm_sqr();
            }
            f(i, &power);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sine_peaks_in_its_bin() {
        let layout = FrameLayout::speech(48_000);
        assert_eq!((layout.window, layout.hop, layout.n_fft), (1200, 480, 2048));
        let x: Vec<f32> = (0..48_000)
            .map(|i| (std::f32::consts::TAU * 1000.0 * i as f32 / 48_000.0).sin())
            .collect();
        let ps = PowerSpectra::new(layout);
        let mut frames = 0;
        ps.for_each(&x, |i, p| {
            frames += 1;
            if i == 50 {
                let k = p.iter().enumerate().fold(0, |b, (k, v)| if *v > p[b] { k } else { b });
                assert!((layout.bin_hz(k) - 1000.0).abs() < layout.bin_hz(1));
            }
        });
        assert_eq!(frames, 100);
    }
}
