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
