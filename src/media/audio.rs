//! Audio decode to interleaved f32 at 48 kHz, from any format GStreamer reads.

use super::{MediaError, StopOnDrop, bus_error, check_input, link_decoded_pads, make, probe};
use crate::dsp::SAMPLE_RATE;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::path::Path;

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
    check_input(path)?;
    let info = probe(path)?;
    let stream = info
        .audio
        .as_ref()
        .ok_or_else(|| MediaError::NoStream { path: path.to_path_buf(), what: "audio" })?;
    let channels = channels.unwrap_or(stream.channels.clamp(1, 64) as u16);

    let pipeline = gst::Pipeline::new();
    // Every way out (a file gone before it could start, a failed map) leaves the pipeline stopped.
    let _stop = StopOnDrop(&pipeline);
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
    let sink = gst_app::AppSink::builder().caps(&caps).sync(false).build();
    let internal = |e: gst::glib::BoolError| MediaError::Internal(e.to_string());
    pipeline.add_many([&src, &decode, &convert, &resample, sink.upcast_ref()]).map_err(internal)?;
    src.link(&decode).map_err(internal)?;
    gst::Element::link_many([&convert, &resample, sink.upcast_ref()]).map_err(internal)?;
    let convert_sink = convert
        .static_pad("sink")
        .ok_or_else(|| MediaError::Internal("audioconvert has no sink pad".into()))?;
    link_decoded_pads(&decode, &convert_sink, "audio/");

    let bus = pipeline.bus().ok_or_else(|| MediaError::Internal("pipeline without bus".into()))?;
    let decode_err = |reason: String| MediaError::Decode { path: path.to_path_buf(), reason };
    pipeline
        .set_state(gst::State::Playing)
        .map_err(|_| decode_err(bus_error(&bus).unwrap_or_else(|| "cannot start".into())))?;
    let mut samples = Vec::with_capacity(
        (info.duration.as_seconds_f64().max(0.0) * f64::from(SAMPLE_RATE)) as usize
            * usize::from(channels),
    );
    let result = loop {
        match sink.try_pull_sample(gst::ClockTime::from_seconds(30)) {
            Some(sample) => {
                let Some(buffer) = sample.buffer() else { continue };
                if samples.is_empty() {
                    // A stream that starts after time zero (edit list, late audio) keeps its
                    // place on the timeline: pad the start with silence.
                    let start = super::stream_time(&sample).unwrap_or_default();
                    let lead = start.to_samples(SAMPLE_RATE).max(0) as usize;
                    samples.resize(lead * usize::from(channels), 0.0);
                }
                let map = buffer.map_readable().map_err(|e| MediaError::Internal(e.to_string()))?;
                samples.extend(
                    map.as_slice()
                        .chunks_exact(4)
                        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
                );
            }
            None if sink.is_eos() => break Ok(()),
            None => {
                break Err(decode_err(bus_error(&bus).unwrap_or_else(|| "decoder stalled".into())));
            }
        }
    };
    let error = bus_error(&bus);
    result?;
    if let Some(e) = error {
        return Err(decode_err(e));
    }
    Ok(AudioBuffer { rate: SAMPLE_RATE, channels, samples })
}
