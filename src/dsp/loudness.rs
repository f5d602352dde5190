//! EBU R128 loudness (momentary, short-term, integrated, loudness range, true peak) with the
//! `ebur128` crate, and normalisation to a target with a true-peak ceiling.
//!
//! Normalisation is a gain to the target followed, only where the peaks need it, by a
//! look-ahead peak limiter; the result is measured again and the gain and ceiling corrected
//! until the integrated loudness is within 0.05 LU of the target and the true peak is at or
//! under the ceiling.

use ebur128::{EbuR128, Mode};
use serde::Serialize;

/// Loudness measurement failures (only invalid parameters, in practice).
#[derive(Debug, thiserror::Error)]
#[error("loudness meter: {0}")]
pub struct LoudnessError(String);

fn meter_err(e: ebur128::Error) -> LoudnessError {
    LoudnessError(format!("{e:?}"))
}

/// A full EBU R128 measurement of a programme.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LoudnessReport {
    /// Integrated loudness in LUFS (−inf for silence).
    pub integrated_lufs: f64,
    /// Loudness range in LU.
    pub loudness_range_lu: f64,
    /// Highest true peak over all channels, dBTP.
    pub true_peak_dbtp: f64,
    /// Highest sample peak, dBFS.
    pub sample_peak_dbfs: f64,
    /// Highest momentary loudness (400 ms), LUFS.
    pub momentary_max_lufs: f64,
    /// Highest short-term loudness (3 s), LUFS.
    pub short_term_max_lufs: f64,
    /// Programme length in seconds.
    pub duration_s: f64,
}

/// A running meter for playback or export: feed audio, read the current values.
pub struct LoudnessMeter {
    meter: EbuR128,
    channels: usize,
    rate: u32,
    /// Frames fed since the last 100 ms block boundary.
    pending: usize,
    frames: u64,
    momentary_max: f64,
    short_term_max: f64,
}

impl LoudnessMeter {
    /// A meter for interleaved audio with `channels` channels at `rate` Hz.
    pub fn new(channels: usize, rate: u32) -> Result<Self, LoudnessError> {
        let mode = Mode::I | Mode::LRA | Mode::TRUE_PEAK | Mode::SAMPLE_PEAK | Mode::M | Mode::S;
        let meter = EbuR128::new(channels.max(1) as u32, rate, mode).map_err(meter_err)?;
        Ok(Self {
            meter,
            channels: channels.max(1),
            rate,
            pending: 0,
            frames: 0,
            momentary_max: f64::NEG_INFINITY,
            short_term_max: f64::NEG_INFINITY,
        })
    }

    /// Feeds interleaved samples, tracking the momentary and short-term maxima every 100 ms.
    pub fn push(&mut self, interleaved: &[f32]) -> Result<(), LoudnessError> {
        let block = (self.rate / 10) as usize;
        let mut rest = interleaved;
        while !rest.is_empty() {
            let take = (block - self.pending).min(rest.len() / self.channels).max(1);
            let n = (take * self.channels).min(rest.len());
            self.meter.add_frames_f32(&rest[..n]).map_err(meter_err)?;
            rest = &rest[n..];
            self.pending += n / self.channels;
            self.frames += (n / self.channels) as u64;
            if self.pending >= block {
                self.pending = 0;
                // The momentary window is only full after 400 ms; before that it reads low.
                if self.frames >= u64::from(self.rate) * 4 / 10 {
                    self.momentary_max = self.momentary_max.max(self.momentary()?);
                }
                if self.frames >= u64::from(self.rate) * 3 {
                    self.short_term_max = self.short_term_max.max(self.short_term()?);
                }
            }
        }
        Ok(())
    }

    /// Current momentary loudness (last 400 ms), LUFS.
    pub fn momentary(&self) -> Result<f64, LoudnessError> {
        self.meter.loudness_momentary().map_err(meter_err)
    }

    /// Current short-term loudness (last 3 s), LUFS.
    pub fn short_term(&self) -> Result<f64, LoudnessError> {
        self.meter.loudness_shortterm().map_err(meter_err)
    }

    /// Everything so far.
    pub fn report(&self) -> Result<LoudnessReport, LoudnessError> {
        let db = |v: f64| 20.0 * v.log10();
        let mut tp = 0.0f64;
        let mut sp = 0.0f64;
        for c in 0..self.channels as u32 {
            tp = tp.max(self.meter.true_peak(c).map_err(meter_err)?);
            sp = sp.max(self.meter.sample_peak(c).map_err(meter_err)?);
        }
        let short_programme = self.frames < u64::from(self.rate) * 3;
        Ok(LoudnessReport {
            integrated_lufs: self.meter.loudness_global().map_err(meter_err)?,
            loudness_range_lu: self.meter.loudness_range().map_err(meter_err)?,
            true_peak_dbtp: db(tp),
            sample_peak_dbfs: db(sp),
            momentary_max_lufs: if self.momentary_max.is_finite() {
                self.momentary_max
            } else {
                self.momentary()?
            },
            short_term_max_lufs: if short_programme {
                self.short_term()?
            } else {
                self.short_term_max
            },
            duration_s: self.frames as f64 / f64::from(self.rate),
        })
    }
}

/// Measures a whole programme.
pub fn measure(
    interleaved: &[f32],
    channels: usize,
    rate: u32,
) -> Result<LoudnessReport, LoudnessError> {
    let mut m = LoudnessMeter::new(channels, rate)?;
    m.push(interleaved)?;
    m.report()
}

/// What normalisation did.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct NormaliseReport {
    /// Measurement before.
    pub before: LoudnessReport,
    /// Measurement after.
    pub after: LoudnessReport,
    /// Gain applied before limiting, dB.
    pub gain_db: f64,
    /// Most gain reduction the limiter applied, dB (0 when it never acted).
    pub limiter_reduction_db: f64,
}

/// Brings interleaved audio to `target_lufs` integrated with the true peak at or under
/// `ceiling_dbtp`, in place. Silence is left alone.
pub fn normalise(
    interleaved: &mut [f32],
    channels: usize,
    rate: u32,
    target_lufs: f64,
    ceiling_dbtp: f64,
) -> Result<NormaliseReport, LoudnessError> {
    let before = measure(interleaved, channels, rate)?;
    if !before.integrated_lufs.is_finite() {
        return Ok(NormaliseReport {
            before,
            after: before,
            gain_db: 0.0,
            limiter_reduction_db: 0.0,
        });
    }
    let original = interleaved.to_vec();
    let mut gain_db = target_lufs - before.integrated_lufs;
    // Sample-peak limiting leaves room for inter-sample peaks; widened if the check fails.
    let mut limit_dbfs = ceiling_dbtp - 0.3;
    let mut result = None;
    for _ in 0..6 {
        let g = 10f32.powf((gain_db / 20.0) as f32);
        for (o, &x) in interleaved.iter_mut().zip(&original) {
            *o = x * g;
        }
        let reduction = limit_peaks(interleaved, channels, rate, limit_dbfs);
        let after = measure(interleaved, channels, rate)?;
        let loud_err = target_lufs - after.integrated_lufs;
        let peak_over = after.true_peak_dbtp - ceiling_dbtp;
        result = Some(NormaliseReport { before, after, gain_db, limiter_reduction_db: reduction });
        // A hair under the ceiling, so 24-bit rounding in the file cannot push it over.
        if loud_err.abs() <= 0.05 && peak_over <= -0.02 {
            break;
        }
        if peak_over > -0.02 {
            limit_dbfs -= peak_over + 0.05;
        }
        gain_db += loud_err;
    }
    result.ok_or_else(|| LoudnessError("normalisation did not run".into()))
}

/// Look-ahead peak limiter: keeps every sample within `limit_dbfs`, reaching the needed gain
/// over 1.5 ms before a peak and releasing over about 80 ms, all channels linked. Returns the
/// largest gain reduction in dB. (The whole-buffer form of [`PeakLimiter`].)
pub fn limit_peaks(interleaved: &mut [f32], channels: usize, rate: u32, limit_dbfs: f64) -> f64 {
    let mut limiter = PeakLimiter::new(channels, rate, limit_dbfs);
    let mut out = Vec::with_capacity(interleaved.len());
    limiter.process(interleaved, &mut out);
    limiter.flush(&mut out);
    interleaved.copy_from_slice(&out[..interleaved.len()]);
    limiter.reduction_db()
}

/// The look-ahead peak limiter of [`limit_peaks`] on a stream: audio goes in chunk by chunk and
/// comes out delayed by the 1.5 ms look-ahead, holding only that much, so a whole programme can
/// be limited in constant memory. Fed the same samples in any chunking, it gives exactly what
/// [`limit_peaks`] gives.
pub struct PeakLimiter {
    channels: usize,
    limit: f32,
    look: usize,
    release: f32,
    /// Frames in, not yet out (interleaved), with the gain each needs alone.
    queued: std::collections::VecDeque<f32>,
    needs: std::collections::VecDeque<f32>,
    /// Frame indices with rising need over the look-ahead window (sliding minimum).
    window: std::collections::VecDeque<(u64, f32)>,
    /// The last `look + 2` envelope values, for the smoothing average.
    envs: std::collections::VecDeque<f32>,
    next_in: u64,
    next_out: u64,
    env: f32,
    acc: f64,
    min_gain: f32,
}

impl PeakLimiter {
    /// A limiter holding interleaved `channels` audio at `rate` within `limit_dbfs`.
    pub fn new(channels: usize, rate: u32, limit_dbfs: f64) -> Self {
        Self {
            channels: channels.max(1),
            limit: 10f32.powf((limit_dbfs / 20.0) as f32),
            look: ((rate as f32 * 0.0015) as usize).max(1),
            release: (-1.0 / (rate as f32 * 0.080)).exp(),
            queued: Default::default(),
            needs: Default::default(),
            window: Default::default(),
            envs: Default::default(),
            next_in: 0,
            next_out: 0,
            env: 1.0,
            acc: 0.0,
            min_gain: 1.0,
        }
    }

    /// Feeds interleaved samples (whole frames); appends to `out` every frame whose
    /// look-ahead window is complete.
    pub fn process(&mut self, interleaved: &[f32], out: &mut Vec<f32>) {
        for frame in interleaved.chunks_exact(self.channels) {
            let peak = frame.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let need = if peak > self.limit { self.limit / peak } else { 1.0 };
            while self.window.back().is_some_and(|&(_, n)| n >= need) {
                self.window.pop_back();
            }
            self.window.push_back((self.next_in, need));
            self.queued.extend(frame);
            self.needs.push_back(need);
            self.next_in += 1;
            if self.next_in > self.look as u64 {
                self.emit(out);
            }
        }
    }

    /// Emits the frames still held (the end of the programme).
    pub fn flush(&mut self, out: &mut Vec<f32>) {
        while self.next_out < self.next_in {
            self.emit(out);
        }
    }

    /// Largest gain reduction so far, dB (0 when it never acted).
    pub fn reduction_db(&self) -> f64 {
        if self.min_gain >= 1.0 { 0.0 } else { -20.0 * f64::from(self.min_gain).log10() }
    }

    /// Outputs frame `next_out`: lowest need ahead, instant attack, exponential release, the
    /// envelope averaged over the last `look + 1` frames (every value averaged at a peak is
    /// already at or under the gain that peak needs).
    fn emit(&mut self, out: &mut Vec<f32>) {
        let i = self.next_out;
        while self.window.front().is_some_and(|&(j, _)| j < i) {
            self.window.pop_front();
        }
        let ahead = self.window.front().map_or(1.0, |&(_, n)| n);
        self.env = ahead.min(1.0 - (1.0 - self.env) * self.release);
        self.envs.push_back(self.env);
        self.acc += f64::from(self.env);
        if self.envs.len() > self.look + 1
            && let Some(old) = self.envs.pop_front()
        {
            self.acc -= f64::from(old);
        }
        let need = self.needs.pop_front().unwrap_or(1.0);
        let g = ((self.acc / (i.min(self.look as u64) + 1) as f64) as f32).min(need);
        self.min_gain = self.min_gain.min(g);
        for _ in 0..self.channels {
            let v = self.queued.pop_front().unwrap_or(0.0);
            out.push(v * g);
        }
        self.next_out += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_holds_the_ceiling() {
        let mut x: Vec<f32> = (0..48_000)
            .map(|i| {
                let env = if (20_000..21_000).contains(&i) { 1.0 } else { 0.2 };
                env * (std::f32::consts::TAU * 100.0 * i as f32 / 48_000.0).sin()
            })
            .collect();
        let red = limit_peaks(&mut x, 1, 48_000, -6.0);
        let peak = x.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(20.0 * peak.log10() <= -6.0 + 1e-4, "{peak}");
        assert!(red > 5.0 && red < 7.0, "{red}");
        // Far from the burst the quiet part is untouched.
        assert!(
            (x[2_000 + 120] - 0.2 * (std::f32::consts::TAU * 100.0 * 2_120.0 / 48_000.0).sin())
                .abs()
                < 1e-6
        );
    }

    #[test]
    fn streamed_limiter_equals_the_whole_buffer_one() {
        let x: Vec<f32> = (0..2 * 30_000)
            .map(|i| {
                let env = if (20_000..21_000).contains(&(i / 2)) { 1.5 } else { 0.3 };
                env * (i as f32 * 0.013).sin()
            })
            .collect();
        let mut whole = x.clone();
        let red = limit_peaks(&mut whole, 2, 48_000, -3.0);
        for chunk in [1, 7, 1920, 48_000] {
            let mut l = PeakLimiter::new(2, 48_000, -3.0);
            let mut out = Vec::new();
            for c in x.chunks(chunk * 2) {
                l.process(c, &mut out);
            }
            l.flush(&mut out);
            assert_eq!(out, whole, "chunk {chunk}");
            assert_eq!(l.reduction_db(), red);
        }
    }
}
