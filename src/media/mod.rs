//! GStreamer glue: probe, video decode with a frame cache (frames carry their typed
//! colorimetry), audio decode, encoding. The glue stays thin; the sample maths lives in `dsp`,
//! the pixel maths of the lip edit in `render::pixels`. Imports `model` and `dsp` only.

pub mod audio;
pub mod cache;
pub mod concat;
pub mod encode;
pub mod probe;
pub mod stable;
pub mod testsrc;
pub mod video;
pub mod yuv;

use gstreamer as gst;
use gstreamer::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use audio::{AudioBuffer, AudioReader, decode_audio};
pub use probe::{AudioStreamInfo, FrameTiming, MediaInfo, VideoStreamInfo, frame_timing, probe};
pub use video::{Frame, PixelFormat, VideoDecoder};

/// Media errors. User errors (bad file, missing plugin, unwritable path) name the file and say
/// what to do; the rest are internal.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The input file does not exist.
    #[error("{path}: file not found")]
    NotFound {
        /// The file.
        path: PathBuf,
    },
    /// GStreamer cannot read the file as media.
    #[error("{path}: not a readable media file ({reason})")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What GStreamer said.
        reason: String,
    },
    /// The file lacks a stream the operation needs.
    #[error("{path}: has no {what} stream")]
    NoStream {
        /// The file.
        path: PathBuf,
        /// "video" or "audio".
        what: &'static str,
    },
    /// Decoding failed part-way (truncated or corrupt file).
    #[error("{path}: decoding failed: {reason}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A GStreamer element is not installed.
    #[error("GStreamer element '{element}' is not installed; install the Debian package {package}")]
    MissingPlugin {
        /// Element factory name.
        element: String,
        /// Debian package that ships it.
        package: &'static str,
    },
    /// The output cannot be written.
    #[error("{path}: cannot write: {reason}")]
    Write {
        /// The output path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// Encoding failed.
    #[error("{path}: encoding failed: {reason}")]
    Encode {
        /// The output path.
        path: PathBuf,
        /// What GStreamer said.
        reason: String,
    },
    /// The disk filled up while writing; the temp file was removed.
    #[error("disk full writing {path} ({free_mb} MB free)")]
    DiskFull {
        /// The output path.
        path: PathBuf,
        /// Space left on its filesystem, MB.
        free_mb: u64,
    },
    /// The job was cancelled; nothing was left at the target path.
    #[error("cancelled")]
    Cancelled,
    /// GStreamer itself failed (not the user's input).
    #[error("GStreamer: {0}")]
    Internal(String),
    /// GStreamer could not be initialised (kept as its own error for the chain).
    #[error("GStreamer: {0}")]
    Init(#[source] gst::glib::Error),
}

impl MediaError {
    /// Whether the user can fix this (bad input, missing package, unwritable output).
    pub fn is_user_error(&self) -> bool {
        !matches!(self, MediaError::Internal(_) | MediaError::Init(_))
    }
}

/// Initialises GStreamer once per process.
pub fn init() -> Result<(), MediaError> {
    static INIT: OnceLock<Result<(), gst::glib::Error>> = OnceLock::new();
    INIT.get_or_init(gst::init).clone().map_err(MediaError::Init)
}

/// Debian package that ships a GStreamer element, for "install X" messages.
pub fn package_for_element(element: &str) -> &'static str {
    match element {
        "x264enc" => "gstreamer1.0-plugins-ugly",
        e if e.starts_with("avenc_") || e.starts_with("avdec_") => "gstreamer1.0-libav",
        "voaacenc" | "h264parse" => "gstreamer1.0-plugins-bad",
        "vp9enc" | "vp8enc" | "webmmux" | "matroskamux" | "mp4mux" | "qtmux" | "qtdemux"
        | "wavenc" | "wavparse" => "gstreamer1.0-plugins-good",
        _ => "gstreamer1.0-plugins-base",
    }
}

/// Makes an element, turning a missing factory into [`MediaError::MissingPlugin`].
pub fn make(factory: &str) -> Result<gst::Element, MediaError> {
    init()?;
    gst::ElementFactory::make(factory).build().map_err(|_| MediaError::MissingPlugin {
        element: factory.to_string(),
        package: package_for_element(factory),
    })
}

/// A `videoconvert` using every core: single-threaded conversion of RGBA frames is the slowest
/// step of decode and export at HD sizes.
pub fn video_converter() -> Result<gst::Element, MediaError> {
    let c = make("videoconvert")?;
    c.set_property("n-threads", 0u32);
    Ok(c)
}

/// Whether an element factory is installed.
pub fn has_element(factory: &str) -> bool {
    init().is_ok() && gst::ElementFactory::find(factory).is_some()
}

/// Checks that an input file exists and is a regular file.
pub fn check_input(path: &Path) -> Result<(), MediaError> {
    if path.is_file() { Ok(()) } else { Err(MediaError::NotFound { path: path.to_path_buf() }) }
}

/// Links `decodebin`'s first pad whose caps start with `prefix` ("video/" or "audio/") to `sink`.
/// Other pads stay unlinked, which decodebin tolerates while one stream flows.
pub(crate) fn link_decoded_pads(decodebin: &gst::Element, sink: &gst::Pad, prefix: &'static str) {
    let sink = sink.clone();
    decodebin.connect_pad_added(move |_, pad| {
        if sink.is_linked() {
            return;
        }
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let is_match = caps.structure(0).is_some_and(|s| s.name().as_str().starts_with(prefix));
        if is_match {
            let _ = pad.link(&sink);
        }
    });
}

/// Sets a pipeline to NULL when dropped (GStreamer requires it before the last reference goes),
/// so every way out of a function that runs one leaves it stopped.
pub(crate) struct StopOnDrop<'a>(pub(crate) &'a gst::Pipeline);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.set_state(gst::State::Null);
    }
}

/// The first error on a bus, if any, as text with the element that posted it.
pub(crate) fn bus_error(bus: &gst::Bus) -> Option<String> {
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
        if let gst::MessageView::Error(err) = msg.view() {
            return Some(err.error().to_string());
        }
    }
    None
}

/// Nanoseconds to a GStreamer clock time, clamping negatives to zero.
pub(crate) fn clock(t: crate::model::Time) -> gst::ClockTime {
    gst::ClockTime::from_nseconds(t.to_nanos().max(0) as u64)
}

/// Stream time of a sample's buffer: `pts − segment.start + segment.time`. Unlike
/// `to_stream_time` this stays defined for buffers before the segment start (the part of a
/// frame before an accurate seek point), and it applies the container's edit list, which
/// moves the segment start (B-frame delay, AAC priming).
pub(crate) fn stream_time(sample: &gst::Sample) -> Option<crate::model::Time> {
    let pts = sample.buffer()?.pts()?.nseconds() as i64;
    let seg = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
    let start = seg.start().map_or(0, |s| s.nseconds() as i64);
    let time = seg.time().map_or(0, |t| t.nseconds() as i64);
    Some(crate::model::Time::from_nanos(pts - start + time))
}
