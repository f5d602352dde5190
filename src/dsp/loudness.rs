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
/// largest gain reduction in dB.
pub fn limit_peaks(interleaved: &mut [f32], channels: usize, rate: u32, limit_dbfs: f64) -> f64 {
    let ch = channels.max(1);
    let n = interleaved.len() / ch;
    if n == 0 {
        return 0.0;
    }
    let limit = 10f32.powf((limit_dbfs / 20.0) as f32);
    let need: Vec<f32> = interleaved
        .chunks(ch)
        .map(|f| {
            let peak = f.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            if peak > limit { limit / peak } else { 1.0 }
        })
        .collect();
    if need.iter().all(|&g| g >= 1.0) {
        return 0.0;
    }
    let look = ((rate as f32 * 0.0015) as usize).max(1);
    // Lowest gain needed within the next `look` samples (monotone deque sliding minimum).
    let mut ahead = vec![1.0f32; n];
    let mut dq: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    for i in (0..n).rev() {
        while dq.back().is_some_and(|&j| need[j] >= need[i]) {
            dq.pop_back();
        }
        dq.push_back(i);
        while dq.front().is_some_and(|&j| j > i + look) {
            dq.pop_front();
        }
        ahead[i] = dq.front().map_or(1.0, |&j| need[j]);
    }
    // Instant attack, exponential release.
    let release = (-1.0 / (rate as f32 * 0.080)).exp();
    let mut env = vec![1.0f32; n];
    let mut e = 1.0f32;
    for i in 0..n {
        e = ahead[i].min(1.0 - (1.0 - e) * release);
        env[i] = e;
    }
    // Averaging the envelope over the last `look + 1` samples smooths the attack into a ramp;
    // every value averaged at a peak is already at or under the gain that peak needs.
    let mut acc = 0.0f64;
    let mut min_gain = 1.0f32;
    for i in 0..n {
        acc += f64::from(env[i]);
        if i > look {
            acc -= f64::from(env[i - look - 1]);
        }
        let g = (acc / (i.min(look) + 1) as f64) as f32;
        let g = g.min(need[i]);
        min_gain = min_gain.min(g);
        for v in &mut interleaved[i * ch..(i + 1) * ch] {
            *v *= g;
        }
    }
    -20.0 * f64::from(min_gain).log10()
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
}
