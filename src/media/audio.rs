//! Audio decode to interleaved f32 at 48 kHz, from any format GStreamer reads: whole files
//! ([`decode_audio`]) or streamed from any point in bounded memory ([`AudioReader`]).

use super::{MediaError, bus_error, check_input, clock, link_decoded_pads, make, probe};
use crate::dsp::SAMPLE_RATE;
use crate::model::Time;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::path::{Path, PathBuf};

/// Decoded audio: interleaved f32.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioBuffer {
    /// Sample rate in Hz.
    pub rate: u32,
    /// Channel count.
    pub channels: u16,
    /// Interleaved samples.
    pub samples: Vec<f32>,
}

impl AudioBuffer {
    /// Sample frames (one sample per channel).
    pub fn frames(&self) -> usize {
        self.samples.len() / usize::from(self.channels.max(1))
    }

    /// Mono mix-down.
    pub fn mono(&self) -> Vec<f32> {
        crate::dsp::measure::to_mono(&self.samples, usize::from(self.channels))
    }
}

/// Decodes the first audio stream of `path` to f32 at 48 kHz. `channels` forces a channel count
/// (GStreamer's matrix mixes down or up any layout); `None` keeps the file's.
pub fn decode_audio(path: &Path, channels: Option<u16>) -> Result<AudioBuffer, MediaError> {
    let mut reader = AudioReader::open(path, channels, Time::ZERO)?;
    let channels = reader.channels();
    let mut samples = Vec::with_capacity(reader.expected_frames() * usize::from(channels));
    while reader.read_more(&mut samples)? {}
    Ok(AudioBuffer { rate: SAMPLE_RATE, channels, samples })
}

/// Decoded buffers the reader's sink holds at most before the decoder waits: what bounds the
/// memory of a stream, whatever the file's length.
const QUEUED_BUFFERS: u32 = 8;

/// Streams the first audio stream of a file as interleaved f32 at 48 kHz from a start time, in
/// order, holding only a few decoded buffers: export reads the original sound through it, so
/// memory stays flat with the media's length. Sample `k` read is the file's sound at
/// `from + k / 48 000 s`; a stream that starts late is padded with silence, and reads past the
/// end give silence.
pub struct AudioReader {
    path: PathBuf,
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    bus: gst::Bus,
    channels: u16,
    /// Where reading started, in samples of the file's timeline.
    from: i64,
    /// Whether no buffer came yet: the first one's time says how much silence to insert (a
    /// late stream) or how many samples to drop (the decoder gave some before the start point).
    first: bool,
    /// Decoded but not yet returned, interleaved.
    pending: Vec<f32>,
    /// Offset into `pending` of the next sample.
    taken: usize,
    eos: bool,
    duration: Time,
}

impl AudioReader {
    /// Opens `path` for reading from `from` (a flushing, accurate seek). `channels` forces a
    /// channel count; `None` keeps the file's.
    pub fn open(path: &Path, channels: Option<u16>, from: Time) -> Result<Self, MediaError> {
        check_input(path)?;
        let info = probe(path)?;
        let stream = info
            .audio
            .as_ref()
            .ok_or_else(|| MediaError::NoStream { path: path.to_path_buf(), what: "audio" })?;
        let channels = channels.unwrap_or(stream.channels.clamp(1, 64) as u16);

        let pipeline = gst::Pipeline::new();
        let src = make("filesrc")?;
        src.set_property("location", path);
        let decode = make("decodebin")?;
        let convert = make("audioconvert")?;
        let resample = make("audioresample")?;
        let caps = gst::Caps::builder("audio/x-raw")
            .field("format", "F32LE")
            .field("layout", "interleaved")
            .field("rate", SAMPLE_RATE as i32)
            .field("channels", i32::from(channels))
            .build();
        // A bounded sink: the decoder waits for the reader instead of filling memory.
        let sink = gst_app::AppSink::builder()
            .caps(&caps)
            .sync(false)
            .max_buffers(QUEUED_BUFFERS)
            .drop(false)
            .build();
        let bus =
            pipeline.bus().ok_or_else(|| MediaError::Internal("pipeline without bus".into()))?;
        let mut reader = Self {
            path: path.to_path_buf(),
            pipeline: pipeline.clone(),
            sink: sink.clone(),
            bus,
            channels,
            from: from.to_samples(SAMPLE_RATE).max(0),
            first: true,
            pending: Vec::new(),
            taken: 0,
            eos: false,
            duration: info.duration,
        };
        // From here on, `reader`'s Drop stops the pipeline on every way out.
        if reader.from >= info.duration.to_samples(SAMPLE_RATE) && reader.from > 0 {
            // Nothing left to decode: only silence.
            reader.eos = true;
            return Ok(reader);
        }
        let internal = |e: gst::glib::BoolError| MediaError::Internal(e.to_string());
        pipeline
            .add_many([&src, &decode, &convert, &resample, sink.upcast_ref()])
            .map_err(internal)?;
        src.link(&decode).map_err(internal)?;
        gst::Element::link_many([&convert, &resample, sink.upcast_ref()]).map_err(internal)?;
        let convert_sink = convert
            .static_pad("sink")
            .ok_or_else(|| MediaError::Internal("audioconvert has no sink pad".into()))?;
        link_decoded_pads(&decode, &convert_sink, "audio/");
        if reader.from > 0 {
            pipeline.set_state(gst::State::Paused).map_err(|_| reader.error("cannot start"))?;
            let (res, _, _) = pipeline.state(gst::ClockTime::from_seconds(30));
            res.map_err(|_| reader.error("cannot start"))?;
            pipeline
                .seek_simple(gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE, clock(from))
                .map_err(|_| reader.error("cannot seek"))?;
        }
        pipeline.set_state(gst::State::Playing).map_err(|_| reader.error("cannot start"))?;
        Ok(reader)
    }

    fn error(&self, fallback: &str) -> MediaError {
        let reason = bus_error(&self.bus).unwrap_or_else(|| fallback.to_string());
        MediaError::Decode { path: self.path.clone(), reason }
    }

    /// Interleaved channel count of what is read.
    pub fn channels(&self) -> u16 {
        self.channels
    }

    /// Sample frames from the start point to the end of the file, as probed (a capacity hint).
    pub fn expected_frames(&self) -> usize {
        (self.duration.to_samples(SAMPLE_RATE) - self.from).max(0) as usize
    }

    /// Appends the next decoded buffer's samples to `out`; `false` at the end of the stream.
    pub fn read_more(&mut self, out: &mut Vec<f32>) -> Result<bool, MediaError> {
        if self.taken < self.pending.len() {
            out.extend_from_slice(&self.pending[self.taken..]);
            self.pending.clear();
            self.taken = 0;
            return Ok(true);
        }
        let ch = usize::from(self.channels);
        loop {
            if self.eos {
                return Ok(false);
            }
            let Some(sample) = self.sink.try_pull_sample(gst::ClockTime::from_seconds(30)) else {
                if self.sink.is_eos() {
                    self.eos = true;
                    if let Some(e) = bus_error(&self.bus) {
                        return Err(MediaError::Decode { path: self.path.clone(), reason: e });
                    }
                    return Ok(false);
                }
                return Err(self.error("decoder stalled"));
            };
            let Some(buffer) = sample.buffer() else { continue };
            let map = buffer.map_readable().map_err(|e| MediaError::Internal(e.to_string()))?;
            let data = map.as_slice();
            let mut skip = 0usize;
            if self.first {
                self.first = false;
                // A stream that starts after the start point (edit list, late audio) keeps its
                // place: pad with silence; samples before the start point are dropped.
                let at = super::stream_time(&sample).unwrap_or_default().to_samples(SAMPLE_RATE);
                let lead = at - self.from;
                if lead > 0 {
                    out.resize(out.len() + lead as usize * ch, 0.0);
                } else {
                    skip = (-lead) as usize * ch * 4;
                }
            }
            let data = &data[skip.min(data.len())..];
            out.extend(data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
            if !data.is_empty() {
                return Ok(true);
            }
        }
    }

    /// Fills `out` with exactly `frames` sample frames (silence past the end of the stream).
    pub fn read_exact(&mut self, frames: usize, out: &mut Vec<f32>) -> Result<(), MediaError> {
        out.clear();
        let want = frames * usize::from(self.channels);
        while self.pending.len() - self.taken < want && !self.eos {
            if self.taken > 0 {
                self.pending.drain(..self.taken);
                self.taken = 0;
            }
            let mut more = std::mem::take(&mut self.pending);
            let got = self.read_more(&mut more);
            self.pending = more;
            if !got? {
                break;
            }
        }
        let have = (self.pending.len() - self.taken).min(want);
        out.extend_from_slice(&self.pending[self.taken..self.taken + have]);
        self.taken += have;
        out.resize(want, 0.0);
        Ok(())
    }
}

impl Drop for AudioReader {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
