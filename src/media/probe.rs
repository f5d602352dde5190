//! Probing media files with GStreamer's Discoverer.

use super::{MediaError, check_input, init};
use crate::model::{FrameRate, Time};
use gstreamer as gst;
use gstreamer_pbutils as pbutils;
use gstreamer_pbutils::prelude::*;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Facts about a media file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MediaInfo {
    /// The probed file.
    pub path: PathBuf,
    /// Total duration.
    pub duration: Time,
    /// Container description, e.g. "ISO MP4/M4A".
    pub container: Option<String>,
    /// First video stream.
    pub video: Option<VideoStreamInfo>,
    /// First audio stream.
    pub audio: Option<AudioStreamInfo>,
    /// Whether the file supports seeking.
    pub seekable: bool,
}

/// A video stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VideoStreamInfo {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Frame rate (nominal when variable).
    pub frame_rate: FrameRate,
    /// True when the stream has a variable frame rate.
    pub variable_frame_rate: bool,
    /// Codec description.
    pub codec: String,
    /// Frame count estimated from the container duration and rate (may be one off when audio
    /// runs past the last picture; `VideoDecoder::frame_count` is exact).
    pub frame_count: i64,
    /// The pictures' real timing, when read ([`frame_timing`]: `redub probe` reads it; the
    /// quick probe does not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timing: Option<FrameTiming>,
}

/// An audio stream.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AudioStreamInfo {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u32,
    /// Bits per sample when the format says (PCM), else 0.
    pub depth: u32,
    /// Codec description.
    pub codec: String,
}

fn describe(caps: Option<gst::Caps>) -> String {
    caps.map(|c| pbutils::functions::pb_utils_get_codec_description(&c).to_string())
        .unwrap_or_default()
}

/// Probes a file: streams, duration, frame rate (variable rate flagged), audio format.
pub fn probe(path: &Path) -> Result<MediaInfo, MediaError> {
    check_input(path)?;
    check_wav_header(path)?;
    init()?;
    let abs = std::path::absolute(path)
        .map_err(|e| MediaError::Unsupported { path: path.to_path_buf(), reason: e.to_string() })?;
    let uri = gst::glib::filename_to_uri(&abs, None)
        .map_err(|e| MediaError::Unsupported { path: path.to_path_buf(), reason: e.to_string() })?;
    let discoverer = pbutils::Discoverer::new(gst::ClockTime::from_seconds(20))
        .map_err(|e| MediaError::Internal(e.to_string()))?;
    let info = discoverer.discover_uri(&uri).map_err(|e| MediaError::Unsupported {
        path: path.to_path_buf(),
        reason: e.message().to_string(),
    })?;
    let duration = info.duration().map_or(Time::ZERO, |d| Time::from_nanos(d.nseconds() as i64));
    let video = info.video_streams().into_iter().next().map(|v| {
        let fr = v.framerate();
        let (num, den) = (fr.numer(), fr.denom());
        let variable = num <= 0 || den <= 0;
        let frame_rate = if variable {
            // Variable-rate streams carry their peak rate in the caps; editors conform to it.
            let max = v
                .caps()
                .and_then(|c| {
                    c.structure(0).and_then(|s| s.get::<gst::Fraction>("max-framerate").ok())
                })
                .filter(|f| f.numer() > 0 && f.denom() > 0)
                .map(|f| (f.numer() as u32, f.denom() as u32))
                .unwrap_or((25, 1));
            FrameRate::new(max.0, max.1).unwrap_or(FrameRate::FPS_25)
        } else {
            FrameRate::new(num as u32, den as u32).unwrap_or(FrameRate::FPS_25)
        };
        // The container duration covers all streams, and audio usually runs a little past the
        // last picture (AAC priming, padding): count whole frames, with a hair of tolerance
        // for timestamps that land just short of a frame boundary.
        let frames = duration.ticks() as f64 / frame_rate.frame_duration().ticks() as f64;
        let frame_count = (frames + 0.02).floor() as i64;
        VideoStreamInfo {
            width: v.width(),
            height: v.height(),
            frame_rate,
            variable_frame_rate: variable,
            codec: describe(v.caps()),
            frame_count,
            timing: None,
        }
    });
    let audio = info.audio_streams().into_iter().next().map(|a| AudioStreamInfo {
        sample_rate: a.sample_rate(),
        channels: a.channels(),
        depth: a.depth(),
        codec: describe(a.caps()),
    });
    if video.is_none() && audio.is_none() {
        return Err(MediaError::Unsupported {
            path: path.to_path_buf(),
            reason: "no audio or video stream".into(),
        });
    }
    let container = info.container_streams().into_iter().next().map(|c| describe(c.caps()));
    Ok(MediaInfo {
        path: path.to_path_buf(),
        duration,
        container,
        video,
        audio,
        seekable: info.is_seekable(),
    })
}

/// The real timing of a video stream, read from its packets' timestamps (nothing is decoded):
/// what a variable-frame-rate file (a phone recording, a screen capture) hides behind the
/// average rate its container declares.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrameTiming {
    /// Pictures in the stream.
    pub frames: u64,
    /// Pictures a second over the span of their timestamps.
    pub mean_fps: f64,
    /// The shortest and the longest picture, in ms.
    pub shortest_ms: f64,
    /// See `shortest_ms`.
    pub longest_ms: f64,
    /// Whether picture lengths differ from the typical (median) one by more than a tenth.
    pub variable: bool,
}

/// Reads the timestamps of every picture of `path`'s first video stream (demuxed and parsed,
/// not decoded). `None` when the file has no video.
pub fn frame_timing(path: &Path) -> Result<Option<FrameTiming>, MediaError> {
    use gstreamer_app as gst_app;
    check_input(path)?;
    let pipeline = gst::Pipeline::new();
    let _stop = super::StopOnDrop(&pipeline);
    let src = super::make("filesrc")?;
    src.set_property("location", path);
    let parse = super::make("parsebin")?;
    let sink = gst_app::AppSink::builder().sync(false).build();
    let internal = |e: gst::glib::BoolError| MediaError::Internal(e.to_string());
    pipeline.add_many([&src, &parse, sink.upcast_ref()]).map_err(internal)?;
    src.link(&parse).map_err(internal)?;
    let sink_pad = sink
        .static_pad("sink")
        .ok_or_else(|| MediaError::Internal("appsink has no sink pad".into()))?;
    super::link_decoded_pads(&parse, &sink_pad, "video/");
    let bus = pipeline.bus().ok_or_else(|| MediaError::Internal("pipeline without bus".into()))?;
    let failed = |reason: String| MediaError::Decode { path: path.to_path_buf(), reason };
    if pipeline.set_state(gst::State::Playing).is_err() {
        return Err(failed(super::bus_error(&bus).unwrap_or_else(|| "cannot start".into())));
    }
    let mut pts: Vec<u64> = Vec::new();
    let mut last_duration = 0;
    loop {
        match sink.try_pull_sample(gst::ClockTime::from_seconds(30)) {
            Some(sample) => {
                let Some(b) = sample.buffer() else { continue };
                if let Some(t) = b.pts() {
                    pts.push(t.nseconds());
                    last_duration = b.duration().map_or(0, |d| d.nseconds());
                }
            }
            None if sink.is_eos() => break,
            // No video pad ever linked: the stream ended (or never started) without pictures.
            None if !sink_pad.is_linked() => return Ok(None),
            None => {
                let why = super::bus_error(&bus).unwrap_or_else(|| "demuxer stalled".into());
                return Err(failed(why));
            }
        }
    }
    Ok(timing_of(pts, last_duration))
}

/// [`FrameTiming`] from pictures' timestamps (any order: B-frames arrive out of order) and the
/// last one's duration, in ns.
fn timing_of(mut pts: Vec<u64>, last_duration: u64) -> Option<FrameTiming> {
    pts.sort_unstable();
    pts.dedup();
    pts.first()?;
    let mut lengths: Vec<u64> = pts.windows(2).map(|w| w[1] - w[0]).collect();
    if last_duration > 0 || lengths.is_empty() {
        lengths.push(last_duration);
    }
    let span = lengths.iter().sum::<u64>().max(1);
    let mut sorted = lengths;
    sorted.sort_unstable();
    let median = sorted[sorted.len() / 2] as f64;
    let ms = |ns: u64| ns as f64 / 1e6;
    let variable = sorted.len() > 1
        && sorted.iter().any(|&l| (l as f64 - median).abs() > 0.1 * median.max(1.0));
    Some(FrameTiming {
        frames: pts.len() as u64,
        mean_fps: pts.len() as f64 / (span as f64 / 1e9),
        shortest_ms: ms(sorted[0]),
        longest_ms: ms(sorted[sorted.len() - 1]),
        variable,
    })
}

/// A WAV file whose `data` chunk claims more bytes than the file holds (a damaged header, or a
/// file cut short) is refused by name: GStreamer's reader waits for the missing data and then
/// reports no stream at all. Other files, and WAVs that leave the size open (0 or 0xFFFFFFFF,
/// written while recording), pass.
fn check_wav_header(path: &Path) -> Result<(), MediaError> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else { return Ok(()) };
    let Ok(len) = file.metadata().map(|m| m.len()) else { return Ok(()) };
    let mut head = [0u8; 12];
    if file.read_exact(&mut head).is_err() || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Ok(());
    }
    let mut at = 12u64;
    let mut byte_rate = 0u64;
    // Walk the chunks to `data` (a few at most: fmt, LIST, fact…).
    for _ in 0..64 {
        let mut chunk = [0u8; 8];
        if file.seek(SeekFrom::Start(at)).is_err() || file.read_exact(&mut chunk).is_err() {
            return Ok(());
        }
        let size = u64::from(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
        if &chunk[0..4] == b"fmt " && size >= 16 {
            let mut fmt = [0u8; 16];
            if file.read_exact(&mut fmt).is_ok() {
                byte_rate = u64::from(u32::from_le_bytes([fmt[8], fmt[9], fmt[10], fmt[11]]));
            }
        }
        if &chunk[0..4] == b"data" {
            let holds = len.saturating_sub(at + 8);
            if size == 0 || size == u64::from(u32::MAX) || size <= holds {
                return Ok(());
            }
            let length = size.checked_div(byte_rate).map_or(String::new(), |secs| {
                format!(" ({} h {:02} min of audio)", secs / 3600, secs / 60 % 60)
            });
            return Err(MediaError::Unsupported {
                path: path.to_path_buf(),
                reason: format!(
                    "the WAV header is inconsistent: it claims {size} bytes of audio data{length} \
                     but the file holds {holds}; the file is cut short or its header is damaged"
                ),
            });
        }
        at += 8 + size + (size & 1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::timing_of;

    #[test]
    fn steady_and_variable_pictures() {
        let ms = 1_000_000;
        // 25 fps, B-frame order.
        let steady: Vec<u64> = [0, 80, 40, 160, 120, 200].iter().map(|t| t * ms).collect();
        let t = timing_of(steady, 40 * ms).unwrap();
        assert_eq!(t.frames, 6);
        assert!((t.mean_fps - 25.0).abs() < 1e-9, "{t:?}");
        assert!(!t.variable);
        // A dropped picture: one 80 ms frame among 40 ms ones.
        let gap: Vec<u64> = [0, 40, 120, 160].iter().map(|t| t * ms).collect();
        let t = timing_of(gap, 40 * ms).unwrap();
        assert!(t.variable && (t.longest_ms - 80.0).abs() < 1e-9, "{t:?}");
        assert!((t.mean_fps - 20.0).abs() < 1e-9, "{t:?}");
        assert!(timing_of(Vec::new(), 0).is_none());
    }
}
