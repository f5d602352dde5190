//! Export's sound, streamed: the mix of a timeline range made one chunk at a time, the original
//! audio read from its file as it goes, and loudness normalisation as passes over that stream
//! (measure, then gain and limiter) — so an export's memory does not grow with the media's
//! length, whatever the range or the loudness target.

use super::RenderError;
use super::sources::Sources;
use crate::dsp::SAMPLE_RATE;
use crate::dsp::loudness::{LoudnessMeter, PeakLimiter};
use crate::dsp::mix::{self, MixInput, Stems};
use crate::jobs::Job;
use crate::media::{AudioReader, MediaError};
use crate::model::{Preset, Project, Time};
use std::collections::VecDeque;
use std::path::Path;

/// Sample frames mixed at a time: one second.
const CHUNK: usize = SAMPLE_RATE as usize;

/// Gain (and limiter ceiling) that brings the mix to the project's loudness target.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Level {
    /// Linear gain of every stem.
    pub gain: f32,
    /// Sample-peak ceiling of the mix's limiter, dBFS.
    pub limit_dbfs: f64,
}

/// The three stems of a timeline range, in order, a few at a time. Dialogue and background get
/// the level's gain; the mix gets the gain and then the limiter (so the stems still add up to the
/// mix before limiting).
pub struct StemStream<'a> {
    input: MixInput<'a>,
    original: Option<AudioReader>,
    original_buf: Vec<f32>,
    /// Next timeline sample to mix, and the end of the range.
    pos: i64,
    end: i64,
    gain: f32,
    limiter: Option<PeakLimiter>,
    dialogue: VecDeque<f32>,
    background: VecDeque<f32>,
    mix: VecDeque<f32>,
    scratch: Vec<f32>,
}

impl<'a> StemStream<'a> {
    /// Streams `start..end` (timeline samples) of `input`, its original read from
    /// `original_file` when given (timeline sample 0 = the file's start).
    pub fn new(
        input: &MixInput<'a>,
        original_file: Option<&Path>,
        start: i64,
        end: i64,
        level: Option<Level>,
    ) -> Result<Self, RenderError> {
        let original = original_file
            .filter(|_| input.original.is_none())
            .map(|p| {
                AudioReader::open(
                    p,
                    Some(mix::CHANNELS as u16),
                    Time::from_samples(start.max(0), SAMPLE_RATE),
                )
            })
            .transpose()?;
        Ok(Self {
            input: input.clone(),
            original,
            original_buf: Vec::new(),
            pos: start,
            end: end.max(start),
            gain: level.map_or(1.0, |l| l.gain),
            limiter: level.map(|l| PeakLimiter::new(mix::CHANNELS, SAMPLE_RATE, l.limit_dbfs)),
            dialogue: VecDeque::new(),
            background: VecDeque::new(),
            mix: VecDeque::new(),
            scratch: Vec::new(),
        })
    }

    /// Whether every sample of the range has been handed out.
    pub fn is_done(&self) -> bool {
        self.pos >= self.end && self.mix.is_empty()
    }

    /// The next `frames` sample frames of each stem (fewer at the end of the range).
    pub fn next(&mut self, frames: usize) -> Result<Stems, RenderError> {
        let want = frames * mix::CHANNELS;
        while self.mix.len() < want && self.pos < self.end {
            self.mix_chunk()?;
        }
        let n = want.min(self.mix.len()).min(self.dialogue.len());
        Ok(Stems {
            dialogue: self.dialogue.drain(..n).collect(),
            background: self.background.drain(..n).collect(),
            mix: self.mix.drain(..n).collect(),
        })
    }

    fn mix_chunk(&mut self) -> Result<(), RenderError> {
        let n = (self.end - self.pos).min(CHUNK as i64).max(0) as usize;
        let stems = match &mut self.original {
            Some(reader) => {
                // Timeline samples before 0 have no original; the reader starts at 0 then.
                let lead = (-self.pos).clamp(0, n as i64) as usize;
                reader.read_exact(n - lead, &mut self.original_buf)?;
                let input = MixInput {
                    original: Some(&self.original_buf),
                    original_start: self.pos + lead as i64,
                    ..self.input.clone()
                };
                mix::mix_range(&input, self.pos, n)
            }
            None => mix::mix_range(&self.input, self.pos, n),
        };
        self.pos += n as i64;
        let g = self.gain;
        self.dialogue.extend(stems.dialogue.iter().map(|v| v * g));
        self.background.extend(stems.background.iter().map(|v| v * g));
        match &mut self.limiter {
            Some(l) => {
                self.scratch.clear();
                self.scratch.extend(stems.mix.iter().map(|v| v * g));
                let mut out = Vec::with_capacity(self.scratch.len());
                l.process(&self.scratch, &mut out);
                if self.pos >= self.end {
                    l.flush(&mut out);
                }
                self.mix.extend(out);
            }
            None => self.mix.extend(stems.mix),
        }
        Ok(())
    }
}

/// Feeds the whole stream's mix to a loudness meter (a measuring pass).
fn measure(
    mut stream: StemStream<'_>,
    job: &Job,
) -> Result<crate::dsp::loudness::LoudnessReport, RenderError> {
    let invalid = |e: crate::dsp::loudness::LoudnessError| RenderError::Invalid(e.to_string());
    let mut meter = LoudnessMeter::new(mix::CHANNELS, SAMPLE_RATE).map_err(invalid)?;
    while !stream.is_done() {
        if job.is_cancelled() {
            return Err(MediaError::Cancelled.into());
        }
        meter.push(&stream.next(CHUNK)?.mix).map_err(invalid)?;
    }
    meter.report().map_err(invalid)
}

/// The level that brings the mix of `start..end` to the project's loudness target with the true
/// peak under the ceiling, found by passes over the streamed mix (never held whole): one to
/// measure; where the gain alone keeps the peaks under the limiter's ceiling it is exact (the
/// loudness moves with the gain); otherwise each try with the limiter is measured again, as
/// [`crate::dsp::loudness::normalise`] does on a buffer. `None` without a target.
pub fn loudness_level(
    project: &Project,
    preset: Preset,
    input: &MixInput<'_>,
    sources: &Sources,
    start: i64,
    end: i64,
    job: &Job,
) -> Result<Option<Level>, RenderError> {
    let Some(target) = project.export.loudness else { return Ok(None) };
    let file = sources.original_file.as_deref();
    let before = measure(StemStream::new(input, file, start, end, None)?, job)?;
    // Lossy encoders (AAC, Opus) rebuild peaks with overshoot; after heavy limiting AAC at
    // 192 kb/s was measured up to 1.35 dB over, so lossy presets limit 2 dB lower.
    let margin = match preset {
        Preset::Mp4 | Preset::Webm => 2.0,
        Preset::Mov | Preset::WavStems => 0.0,
    };
    let ceiling = crate::model::loudness::TRUE_PEAK_CEILING_DBTP - margin;
    // Silence is left alone.
    if !before.integrated_lufs.is_finite() {
        return Ok(None);
    }
    let target = target.lufs();
    let mut gain_db = target - before.integrated_lufs;
    // Sample-peak limiting leaves room for inter-sample peaks; widened if the check fails.
    let mut limit_dbfs = ceiling - 0.3;
    let mut tries = 0;
    loop {
        tries += 1;
        let level = Level { gain: 10f32.powf((gain_db / 20.0) as f32), limit_dbfs };
        let (loud_err, peak_over) = if before.sample_peak_dbfs + gain_db < limit_dbfs - 0.01 {
            // The limiter will not touch it: the result is the mix times the gain.
            (0.0, before.true_peak_dbtp + gain_db - ceiling)
        } else {
            let after = measure(StemStream::new(input, file, start, end, Some(level))?, job)?;
            (target - after.integrated_lufs, after.true_peak_dbtp - ceiling)
        };
        // A hair under the ceiling, so 24-bit rounding in the file cannot push it over.
        if (loud_err.abs() <= 0.05 && peak_over <= -0.02) || tries == 6 {
            return Ok(Some(level));
        }
        if peak_over > -0.02 {
            limit_dbfs -= peak_over + 0.05;
        }
        gain_db += loud_err;
    }
}
