//! Video decode to RGBA frames with frame-accurate seek and a byte-bounded frame cache.
//!
//! The pipeline stays in PLAYING with an unsynchronised appsink: sequential reads pull the next
//! sample, anything else is a flushing accurate seek to the middle of the wanted frame, so the
//! decoder clips everything before it whatever the container's timestamp rounding.

use super::cache::FrameCache;
use super::{MediaError, bus_error, check_input, clock, link_decoded_pads, make, probe};
use crate::model::{FrameRate, Time};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;
use gstreamer_video::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One decoded picture, tightly packed RGBA.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    /// Frame index at the stream's frame rate.
    pub index: i64,
    /// Presentation time.
    pub pts: Time,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 4` bytes, rows top to bottom.
    pub data: Vec<u8>,
}

/// Default frame cache budget: 256 MiB (about 70 frames of 720p).
pub const DEFAULT_CACHE_BYTES: usize = 256 << 20;

/// How far ahead a request may be before a seek is cheaper than decoding through.
const READ_THROUGH: i64 = 12;

/// A video file opened for random access.
pub struct VideoDecoder {
    path: PathBuf,
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
    rate: FrameRate,
    width: u32,
    height: u32,
    frame_count: i64,
    /// Index of the next sample the pipeline will deliver, when known.
    next: Option<i64>,
    last: Option<Arc<Frame>>,
    cache: FrameCache,
}

impl VideoDecoder {
    /// Opens the first video stream of a file.
    pub fn open(path: &Path) -> Result<Self, MediaError> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens with a frame cache of `cache_bytes`.
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Self, MediaError> {
        Self::open_inner(path, cache_bytes, |_, _| None)
    }

    /// Opens the stream for pictures scaled to the size `size_for(width, height)` picks for the
    /// stream's own size (the caller keeps the aspect ratio; `None` or the stream's own size: no
    /// scaling). The scaling happens in the decoding pipeline before the conversion to RGBA, so a
    /// large stream is never converted or copied at full size: for analysis that only looks at a
    /// reduced picture. [`VideoDecoder::size`] stays the stream's own size; each [`Frame`] has the
    /// scaled size. No frame cache (each picture is read once).
    pub fn open_scaled(
        path: &Path,
        size_for: impl FnOnce(u32, u32) -> Option<(u32, u32)>,
    ) -> Result<Self, MediaError> {
        Self::open_inner(path, 0, size_for)
    }

    fn open_inner(
        path: &Path,
        cache_bytes: usize,
        size_for: impl FnOnce(u32, u32) -> Option<(u32, u32)>,
    ) -> Result<Self, MediaError> {
        check_input(path)?;
        let info = probe(path)?;
        let v = info
            .video
            .ok_or_else(|| MediaError::NoStream { path: path.to_path_buf(), what: "video" })?;
        let size = size_for(v.width, v.height).map(|(w, h)| (w.max(1), h.max(1)));
        let pipeline = gst::Pipeline::new();
        let src = make("filesrc")?;
        src.set_property("location", path);
        let decode = make("decodebin")?;
        let convert = super::video_converter()?;
        let mut caps = gst::Caps::builder("video/x-raw").field("format", "RGBA");
        let scale = match size {
            Some((w, h)) if (w, h) != (v.width, v.height) => {
                let (w, h) =
                    (i32::try_from(w).unwrap_or(i32::MAX), i32::try_from(h).unwrap_or(i32::MAX));
                caps = caps
                    .field("width", w)
                    .field("height", h)
                    .field("pixel-aspect-ratio", gst::Fraction::new(1, 1));
                let scale = make("videoscale")?;
                // A filter whose support grows with the scale factor (2-tap bilinear skips
                // source pixels when shrinking by more than 2).
                scale.set_property_from_str("method", "bilinear2");
                scale.set_property("n-threads", 0u32);
                Some(scale)
            }
            _ => None,
        };
        let caps = caps.build();
        let sink = gst_app::AppSink::builder().caps(&caps).sync(false).max_buffers(4).build();
        let internal = |e: gst::glib::BoolError| MediaError::Internal(e.to_string());
        pipeline.add_many([&src, &decode, &convert, sink.upcast_ref()]).map_err(internal)?;
        src.link(&decode).map_err(internal)?;
        // Scale first (in the decoder's own format, a quarter of the bytes of RGBA), then convert.
        let first = match &scale {
            Some(scale) => {
                pipeline.add(scale).map_err(internal)?;
                scale.link(&convert).map_err(internal)?;
                scale
            }
            None => &convert,
        };
        convert.link(&sink).map_err(internal)?;
        let first_sink = first
            .static_pad("sink")
            .ok_or_else(|| MediaError::Internal("video converter has no sink pad".into()))?;
        link_decoded_pads(&decode, &first_sink, "video/");
        let dec = Self {
            path: path.to_path_buf(),
            pipeline,
            sink,
            rate: v.frame_rate,
            width: v.width,
            height: v.height,
            frame_count: v.frame_count,
            next: Some(0),
            last: None,
            cache: FrameCache::new(cache_bytes),
        };
        let bus = dec.bus()?;
        if dec.pipeline.set_state(gst::State::Playing).is_err() {
            return Err(dec.decode_error(bus_error(&bus).unwrap_or_else(|| "cannot start".into())));
        }
        let (res, _, _) = dec.pipeline.state(gst::ClockTime::from_seconds(20));
        if res.is_err() {
            return Err(dec.decode_error(bus_error(&bus).unwrap_or_else(|| "cannot start".into())));
        }
        let mut dec = dec;
        dec.frame_count = dec.exact_frame_count()?;
        Ok(dec)
    }

    /// Counts frames by decoding the tail of the stream: the container's duration covers every
    /// stream (audio often runs past the last picture), so it cannot give the frame count.
    ///
    /// Pictures that stop far before the stated duration (over a second and 2 % of it) mean a
    /// truncated or damaged file, which is an error rather than a silently shorter shot.
    fn exact_frame_count(&mut self) -> Result<i64, MediaError> {
        let estimate = self.frame_count;
        let one_second = i64::from(self.rate.nominal_fps().max(1));
        let allowed_gap = one_second + estimate / 50;
        for back in [3, one_second, allowed_gap + 1] {
            self.seek((estimate - back).max(0))?;
            let mut last = None;
            while let Some(f) = self.pull()? {
                last = Some(f.index);
            }
            self.next = None;
            if let Some(l) = last {
                return Ok(l + 1);
            }
            if estimate - back <= 0 {
                break;
            }
        }
        Err(self.decode_error(format!(
            "pictures stop long before the stated end (frame {estimate}); the file is truncated or damaged"
        )))
    }

    /// Frame rate of the stream.
    pub fn frame_rate(&self) -> FrameRate {
        self.rate
    }

    /// Picture size.
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Number of frames (from the probed duration).
    pub fn frame_count(&self) -> i64 {
        self.frame_count
    }

    /// The frame cache (for statistics).
    pub fn cache(&self) -> &FrameCache {
        &self.cache
    }

    fn bus(&self) -> Result<gst::Bus, MediaError> {
        self.pipeline.bus().ok_or_else(|| MediaError::Internal("pipeline without bus".into()))
    }

    fn decode_error(&self, reason: String) -> MediaError {
        MediaError::Decode { path: self.path.clone(), reason }
    }

    /// The frame shown at time `t`.
    pub fn frame_at_time(&mut self, t: Time) -> Result<Arc<Frame>, MediaError> {
        self.frame(self.rate.time_to_frame(t))
    }

    /// Frame `index` (0-based). Past [`Self::frame_count`] this is the last frame, so a
    /// timeline slightly longer than the stream still renders every frame; a stream that ends
    /// before its frame count (a damaged file) is an error.
    pub fn frame(&mut self, index: i64) -> Result<Arc<Frame>, MediaError> {
        let index = index.max(0);
        if let Some(f) = self.cache.get(index) {
            return Ok(f);
        }
        let sequential = self.next.is_some_and(|n| index >= n && index - n <= READ_THROUGH);
        if !sequential {
            self.seek(index)?;
        }
        loop {
            match self.pull()? {
                Some(frame) => {
                    let got = frame.index;
                    self.next = Some(got + 1);
                    self.last = Some(frame.clone());
                    self.cache.insert(frame.clone());
                    if got >= index {
                        return Ok(frame);
                    }
                }
                None if index < self.frame_count => {
                    self.next = None;
                    return Err(self.decode_error(format!(
                        "the stream ends before frame {index} of {}; the file is truncated or damaged",
                        self.frame_count
                    )));
                }
                None => {
                    // Past the end: hold the last frame.
                    self.next = None;
                    return self
                        .last
                        .clone()
                        .filter(|l| l.index < index)
                        .ok_or_else(|| self.decode_error(format!("no frame {index}")));
                }
            }
        }
    }

    fn seek(&mut self, index: i64) -> Result<(), MediaError> {
        let target = self.rate.frame_to_time(index)
            + Time::from_ticks(self.rate.frame_duration().ticks() / 2);
        self.pipeline
            .seek(
                1.0,
                gst::SeekFlags::FLUSH | gst::SeekFlags::ACCURATE,
                gst::SeekType::Set,
                clock(target),
                gst::SeekType::None,
                gst::ClockTime::NONE,
            )
            .map_err(|_| self.decode_error(format!("cannot seek to frame {index}")))?;
        self.next = None;
        Ok(())
    }

    /// The next decoded frame, or `None` at end of stream.
    fn pull(&mut self) -> Result<Option<Arc<Frame>>, MediaError> {
        let Some(sample) = self.sink.try_pull_sample(gst::ClockTime::from_seconds(20)) else {
            if self.sink.is_eos() {
                return Ok(None);
            }
            let bus = self.bus()?;
            return Err(
                self.decode_error(bus_error(&bus).unwrap_or_else(|| "decoder stalled".into()))
            );
        };
        let caps =
            sample.caps().ok_or_else(|| MediaError::Internal("sample without caps".into()))?;
        let info = gst_video::VideoInfo::from_caps(caps)
            .map_err(|e| MediaError::Internal(e.to_string()))?;
        let pts = super::stream_time(&sample).unwrap_or(Time::ZERO);
        let buffer = sample
            .buffer_owned()
            .ok_or_else(|| MediaError::Internal("sample without buffer".into()))?;
        let vframe = gst_video::VideoFrame::from_buffer_readable(buffer, &info)
            .map_err(|_| MediaError::Internal("cannot map video frame".into()))?;
        let (w, h) = (info.width() as usize, info.height() as usize);
        let stride = vframe.plane_stride()[0] as usize;
        let plane = vframe.plane_data(0).map_err(|e| MediaError::Internal(e.to_string()))?;
        let mut data = Vec::with_capacity(w * h * 4);
        for row in 0..h {
            data.extend_from_slice(&plane[row * stride..row * stride + w * 4]);
        }
        // A quarter frame of slack: container timestamps may land a hair before the frame's
        // rational start, while the first frame after an accurate seek carries the clipped
        // (mid-frame) seek position as its time.
        let slack = Time::from_ticks(self.rate.frame_duration().ticks() / 4);
        let index = self.rate.time_to_frame(pts + slack);
        Ok(Some(Arc::new(Frame { index, pts, width: w as u32, height: h as u32, data })))
    }
}

impl Drop for VideoDecoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
