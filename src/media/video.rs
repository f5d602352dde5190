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

/// How a [`Frame`]'s bytes are laid out.
#[derive(Clone, Debug, PartialEq)]
pub enum PixelFormat {
    /// Tightly packed RGBA, rows top to bottom.
    Rgba,
    /// 8-bit 4:2:0 planes in GStreamer's default layout ([`super::yuv::I420Layout`]); the
    /// decoder's caps (colorimetry, chroma siting) and their colorimetry, parsed once.
    I420(super::yuv::I420Caps),
}

/// One decoded picture, tightly packed RGBA (or I420 from [`VideoDecoder::open_i420`]).
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
    /// `width * height * 4` bytes, rows top to bottom (RGBA), or the I420 planes.
    pub data: Vec<u8>,
    /// The layout of `data`.
    pub format: PixelFormat,
}

impl Frame {
    /// A black picture of the same size, format and colorimetry (for a sequence that runs
    /// past the end of its picture).
    pub fn black_like(&self) -> Frame {
        let mut data = pool::take(self.data.len());
        match &self.format {
            PixelFormat::Rgba => {
                data.clear();
                data.extend(std::iter::repeat_n([0, 0, 0, 255], self.data.len() / 4).flatten());
            }
            PixelFormat::I420(caps) => {
                let layout = super::yuv::I420Layout::new(self.width as usize, self.height as usize);
                let y = if caps.colorimetry.full_range { 0 } else { 16 };
                let luma = layout.u_offset.min(self.data.len());
                data.clear();
                data.resize(luma, y);
                data.resize(self.data.len(), 128);
            }
        }
        Frame { data, format: self.format.clone(), ..*self }
    }
}

impl Drop for Frame {
    fn drop(&mut self) {
        pool::give(std::mem::take(&mut self.data));
    }
}

/// Picture buffers of dropped frames, reused for new ones: a decoder handing out 25 or more
/// pictures a second would otherwise have the kernel map and zero fresh pages for each, which
/// costs as much as copying the picture. Holds at most [`pool::KEPT_BYTES`].
pub mod pool {
    use std::sync::Mutex;

    /// Bytes of idle buffers kept.
    pub const KEPT_BYTES: usize = 64 << 20;
    /// Smaller buffers are not worth keeping (the allocator reuses them well).
    const MIN_BYTES: usize = 64 << 10;

    static FREE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

    /// Keeps `buffer` for reuse (or frees it when the pool is full).
    pub fn give(buffer: Vec<u8>) {
        if buffer.capacity() < MIN_BYTES {
            return;
        }
        if let Ok(mut free) = FREE.lock() {
            let kept: usize = free.iter().map(Vec::capacity).sum();
            if kept + buffer.capacity() <= KEPT_BYTES {
                free.push(buffer);
            }
        }
    }

    /// An empty buffer with room for `len` bytes: a kept one of about that size, or a new one.
    pub fn take(len: usize) -> Vec<u8> {
        if len >= MIN_BYTES
            && let Ok(mut free) = FREE.lock()
            && let Some(k) =
                free.iter().position(|b| b.capacity() >= len && b.capacity() <= 2 * len)
        {
            let mut b = free.swap_remove(k);
            b.clear();
            return b;
        }
        Vec::with_capacity(len)
    }

    /// A copy of `bytes` in a buffer from [`take`].
    pub fn copy_of(bytes: &[u8]) -> Vec<u8> {
        let mut b = take(bytes.len());
        b.extend_from_slice(bytes);
        b
    }

    /// `len` zero bytes in a buffer from [`take`].
    pub fn zeroed(len: usize) -> Vec<u8> {
        let mut b = take(len);
        b.resize(len, 0);
        b
    }
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
    /// Whether `frame_count` is still the container's estimate (sequential mode).
    estimated: bool,
    /// Seeks so far (for statistics and tests).
    seeks: u64,
}

impl VideoDecoder {
    /// Opens the first video stream of a file.
    pub fn open(path: &Path) -> Result<Self, MediaError> {
        Self::open_with_cache(path, DEFAULT_CACHE_BYTES)
    }

    /// Opens with a frame cache of `cache_bytes`.
    pub fn open_with_cache(path: &Path, cache_bytes: usize) -> Result<Self, MediaError> {
        Self::open_inner(path, cache_bytes, |_, _| None, false)
    }

    /// Opens the stream for frames in its own format where that is 8-bit 4:2:0
    /// ([`PixelFormat::I420`], what H.264 and VP9 streams usually decode to: no colour
    /// conversion at all), else RGBA (a format I420 would lose detail of: 4:2:2, 10-bit, RGB).
    /// Each [`Frame`] says which. The export path reads these, so an unedited frame reaches the
    /// encoder as decoded. Frame cache of `cache_bytes`.
    pub fn open_i420(path: &Path, cache_bytes: usize) -> Result<Self, MediaError> {
        Self::open_inner(path, cache_bytes, |_, _| None, true)
    }

    /// [`VideoDecoder::open_i420`] for reading the stream front to back (export): the frame
    /// count is not established up front by decoding the tail (which, on a long-GOP stream,
    /// decodes most of the file once more), so [`VideoDecoder::frame_count`] starts as the
    /// container's estimate and becomes exact when the stream ends. A stream that ends within
    /// the tolerance of the exact count (a second and 2 %) holds its last frame like any
    /// decoder; one that ends long before is an error, as there.
    pub fn open_i420_sequential(path: &Path, cache_bytes: usize) -> Result<Self, MediaError> {
        let mut dec = Self::open_unchecked(path, cache_bytes, |_, _| None, true)?;
        dec.estimated = true;
        Ok(dec)
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
        Self::open_inner(path, 0, size_for, false)
    }

    fn open_inner(
        path: &Path,
        cache_bytes: usize,
        size_for: impl FnOnce(u32, u32) -> Option<(u32, u32)>,
        i420: bool,
    ) -> Result<Self, MediaError> {
        let mut dec = Self::open_unchecked(path, cache_bytes, size_for, i420)?;
        dec.frame_count = dec.exact_frame_count()?;
        Ok(dec)
    }

    /// Opens and starts the pipeline; the frame count is the container's estimate.
    fn open_unchecked(
        path: &Path,
        cache_bytes: usize,
        size_for: impl FnOnce(u32, u32) -> Option<(u32, u32)>,
        i420: bool,
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
        // I420 where the stream decodes to it (videoconvert passes it through), RGBA for the
        // rest (4:2:2, 4:4:4, 10-bit, RGB streams keep what I420 would lose).
        let mut caps = if i420 {
            gst::Caps::builder("video/x-raw").field("format", gst::List::new(["I420", "RGBA"]))
        } else {
            gst::Caps::builder("video/x-raw").field("format", "RGBA")
        };
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
            estimated: false,
            seeks: 0,
        };
        let bus = dec.bus()?;
        if dec.pipeline.set_state(gst::State::Playing).is_err() {
            return Err(dec.decode_error(bus_error(&bus).unwrap_or_else(|| "cannot start".into())));
        }
        let (res, _, _) = dec.pipeline.state(gst::ClockTime::from_seconds(20));
        if res.is_err() {
            return Err(dec.decode_error(bus_error(&bus).unwrap_or_else(|| "cannot start".into())));
        }
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

    /// How many seeks the decoder has made (for statistics).
    pub fn seeks(&self) -> u64 {
        self.seeks
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
        let mut index = index.max(0);
        if !self.estimated && self.frame_count > 0 && index >= self.frame_count {
            // Past the end: the last picture, held rather than sought (a seek past the end
            // decodes the stream's last group of pictures again: on a long-GOP stream, most of
            // the file, for each frame a timeline runs past its picture).
            if let Some(last) = self.last.as_ref().filter(|l| l.index == self.frame_count - 1) {
                return Ok(last.clone());
            }
            index = self.frame_count - 1;
        }
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
                None if self.estimated && self.last.is_some() => {
                    // The end of the stream: now the count is exact. Ending long before the
                    // estimate is a damaged file, as in exact_frame_count.
                    self.next = None;
                    self.estimated = false;
                    let count = self.last.as_ref().map_or(0, |l| l.index + 1);
                    let one_second = i64::from(self.rate.nominal_fps().max(1));
                    if self.frame_count - count > one_second + self.frame_count / 50 {
                        return Err(self.decode_error(format!(
                            "pictures stop long before the stated end (frame {count} of {}); the file is truncated or damaged",
                            self.frame_count
                        )));
                    }
                    self.frame_count = count;
                    return self
                        .last
                        .clone()
                        .filter(|l| l.index < index)
                        .ok_or_else(|| self.decode_error(format!("no frame {index}")));
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
        self.seeks += 1;
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
        let plane_err = |e: gst::glib::BoolError| MediaError::Internal(e.to_string());
        let (data, format) = if info.format() == gst_video::VideoFormat::I420 {
            // Repacked into GStreamer's default layout (the decoder's rows may be padded).
            let l = super::yuv::I420Layout::new(w, h);
            let mut data = pool::zeroed(l.size);
            let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
            for (p, (offset, stride, rw, rows)) in [
                (0, l.y_stride, w, h),
                (l.u_offset, l.c_stride, cw, ch),
                (l.v_offset, l.c_stride, cw, ch),
            ]
            .into_iter()
            .enumerate()
            {
                let src_stride = vframe.plane_stride()[p] as usize;
                let plane = vframe.plane_data(p as u32).map_err(plane_err)?;
                for row in 0..rows {
                    data[offset + row * stride..offset + row * stride + rw]
                        .copy_from_slice(&plane[row * src_stride..row * src_stride + rw]);
                }
            }
            let format = super::yuv::I420Caps {
                caps: Arc::from(caps.to_string()),
                colorimetry: super::yuv::Colorimetry::from_info(&info),
            };
            (data, PixelFormat::I420(format))
        } else {
            let stride = vframe.plane_stride()[0] as usize;
            let plane = vframe.plane_data(0).map_err(plane_err)?;
            let mut data = pool::take(w * h * 4);
            for row in 0..h {
                data.extend_from_slice(&plane[row * stride..row * stride + w * 4]);
            }
            (data, PixelFormat::Rgba)
        };
        // A quarter frame of slack: container timestamps may land a hair before the frame's
        // rational start, while the first frame after an accurate seek carries the clipped
        // (mid-frame) seek position as its time.
        let slack = Time::from_ticks(self.rate.frame_duration().ticks() / 4);
        let index = self.rate.time_to_frame(pts + slack);
        Ok(Some(Arc::new(Frame { index, pts, width: w as u32, height: h as u32, data, format })))
    }
}

impl Drop for VideoDecoder {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}
