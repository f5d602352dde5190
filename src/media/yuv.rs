//! 8-bit 4:2:0 pictures (I420) as the export path keeps them: the decoder's own format, so a
//! frame the lip edit does not touch goes to the encoder without any colour conversion.
//!
//! What needs GStreamer lives here: the plane layout GStreamer uses ([`I420Layout`]), the
//! stream's colorimetry read from its caps once per frame at decode ([`I420Caps`]), frames as
//! GStreamer buffers, and whole pictures to RGBA for display ([`to_rgba`], GStreamer's video
//! converter in the configuration `videoconvert` uses, so the result is the RGBA the RGBA
//! decoder gives). The pure pixel maths of the lip edit (a rectangle to RGBA and back) is
//! `render::pixels`.

use super::{Frame, MediaError, PixelFormat};
use gstreamer as gst;
use gstreamer_video as gst_video;
use std::str::FromStr;
use std::sync::Arc;

/// Plane layout of a tightly packed I420 picture as GStreamer lays it out by default (rows
/// padded to 4 bytes), so a frame's bytes can be handed to GStreamer without copying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct I420Layout {
    /// Picture width.
    pub width: usize,
    /// Picture height.
    pub height: usize,
    /// Bytes per luma row.
    pub y_stride: usize,
    /// Bytes per chroma row.
    pub c_stride: usize,
    /// Offset of the Cb plane.
    pub u_offset: usize,
    /// Offset of the Cr plane.
    pub v_offset: usize,
    /// Total bytes.
    pub size: usize,
}

impl I420Layout {
    /// GStreamer's default layout for a `width × height` I420 picture.
    pub fn new(width: usize, height: usize) -> Self {
        let round4 = |v: usize| v.div_ceil(4) * 4;
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        let y_stride = round4(width);
        let c_stride = round4(cw);
        let u_offset = y_stride * height.div_ceil(2) * 2;
        let v_offset = u_offset + c_stride * ch;
        Self {
            width,
            height,
            y_stride,
            c_stride,
            u_offset,
            v_offset,
            size: v_offset + c_stride * ch,
        }
    }
}

/// The Y'CbCr matrix of a stream (the coefficients Kr, Kb of its luma).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorMatrix {
    /// BT.601, also what unknown and RGB matrices fall back to (GStreamer's own default for
    /// unknown YUV).
    #[default]
    Bt601,
    /// BT.709 (HD).
    Bt709,
    /// BT.2020.
    Bt2020,
    /// SMPTE 240M.
    Smpte240m,
    /// FCC.
    Fcc,
}

/// How a stream's Y'CbCr samples are to be read: matrix and range. Parsed once, when the
/// frame is decoded, from the decoder's caps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Colorimetry {
    /// The matrix.
    pub matrix: ColorMatrix,
    /// Full range (0..255) rather than limited ("TV", 16..235 / 16..240).
    pub full_range: bool,
}

impl Colorimetry {
    /// The colorimetry of a stream described by `info`. Unknown or RGB matrices read as
    /// BT.601; an unknown range as limited.
    pub fn from_info(info: &gst_video::VideoInfo) -> Self {
        use gst_video::{VideoColorMatrix as M, VideoColorRange as R};
        let c = info.colorimetry();
        let matrix = match c.matrix() {
            M::Bt709 => ColorMatrix::Bt709,
            M::Bt2020 => ColorMatrix::Bt2020,
            M::Smpte240m => ColorMatrix::Smpte240m,
            M::Fcc => ColorMatrix::Fcc,
            _ => ColorMatrix::Bt601,
        };
        Self { matrix, full_range: c.range() == R::Range0_255 }
    }

    /// The colorimetry of a stream described by `caps` (GStreamer's caps string); BT.601
    /// limited range when the caps cannot be read.
    pub fn from_caps(caps: &str) -> Self {
        if super::init().is_err() {
            return Self::default();
        }
        gst::Caps::from_str(caps)
            .ok()
            .and_then(|c| gst_video::VideoInfo::from_caps(&c).ok())
            .map_or_else(Self::default, |i| Self::from_info(&i))
    }
}

/// The format of an I420 frame: the decoder's caps (colorimetry, chroma siting; what the
/// encoder and GStreamer's converter are given) and its colorimetry, already parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct I420Caps {
    /// The decoder's caps as a caps string.
    pub caps: Arc<str>,
    /// Parsed from `caps`.
    pub colorimetry: Colorimetry,
}

impl I420Caps {
    /// From a caps string (parsed once here).
    pub fn parse(caps: &str) -> Self {
        Self { caps: Arc::from(caps), colorimetry: Colorimetry::from_caps(caps) }
    }
}

/// The caps of an I420 frame, or an error for any other format.
pub fn i420_caps(frame: &Frame) -> Result<&I420Caps, MediaError> {
    match &frame.format {
        PixelFormat::I420(caps) => Ok(caps),
        PixelFormat::Rgba => Err(MediaError::Internal("expected an I420 frame".into())),
    }
}

/// `Arc<Frame>` as the bytes of a GStreamer buffer, without copying.
struct FrameBytes(Arc<Frame>);

impl AsRef<[u8]> for FrameBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0.data
    }
}

/// A GStreamer buffer holding the frame's bytes (shared, not copied).
pub fn frame_buffer(frame: &Arc<Frame>) -> gst::Buffer {
    gst::Buffer::from_slice(FrameBytes(frame.clone()))
}

/// The whole I420 `frame` as tightly packed RGBA, converted exactly as `videoconvert` converts
/// it (GStreamer's converter with the element's defaults: linear chroma upsampling, the
/// stream's colorimetry and chroma siting), using every core.
pub fn to_rgba(frame: &Arc<Frame>) -> Result<Vec<u8>, MediaError> {
    let internal = |e: gst::glib::BoolError| MediaError::Internal(e.to_string());
    let caps = gst::Caps::from_str(&i420_caps(frame)?.caps).map_err(internal)?;
    let in_info = gst_video::VideoInfo::from_caps(&caps).map_err(internal)?;
    let (w, h) = (frame.width, frame.height);
    if in_info.width() != w || in_info.height() != h || frame.data.len() < in_info.size() {
        return Err(MediaError::Internal("I420 frame does not match its caps".into()));
    }
    let out_info = gst_video::VideoInfo::builder(gst_video::VideoFormat::Rgba, w, h)
        .fps(in_info.fps())
        .interlace_mode(in_info.interlace_mode())
        .par(in_info.par())
        .build()
        .map_err(internal)?;
    let mut config = gst_video::VideoConverterConfig::new();
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    config.set_threads(u32::try_from(threads).unwrap_or(1));
    let converter =
        gst_video::VideoConverter::new(&in_info, &out_info, Some(config)).map_err(internal)?;
    let src_buf = frame_buffer(frame);
    let src = gst_video::VideoFrameRef::from_buffer_ref_readable(src_buf.as_ref(), &in_info)
        .map_err(internal)?;
    let mut out = gst::Buffer::from_mut_slice(vec![0u8; out_info.size()]);
    {
        let out_ref =
            out.get_mut().ok_or_else(|| MediaError::Internal("RGBA buffer is shared".into()))?;
        let mut dst = gst_video::VideoFrameRef::from_buffer_ref_writable(out_ref, &out_info)
            .map_err(internal)?;
        converter.frame_ref(&src, &mut dst);
    }
    let data: Vec<u8> = out
        .try_into_inner::<Vec<u8>>()
        .map_err(|_| MediaError::Internal("RGBA buffer is shared".into()))?;
    let row = w as usize * 4;
    let stride = out_info.stride()[0] as usize;
    if stride == row {
        return Ok(data);
    }
    let mut packed = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        packed.extend_from_slice(&data[y * stride..y * stride + row]);
    }
    Ok(packed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_gstreamers_default() {
        crate::media::init().expect("gstreamer");
        for (w, h) in [(844usize, 844usize), (1280, 720), (33, 17), (2, 2)] {
            let info =
                gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, w as u32, h as u32)
                    .build()
                    .expect("info");
            let l = I420Layout::new(w, h);
            assert_eq!(info.stride()[0] as usize, l.y_stride, "{w}x{h}");
            assert_eq!(info.stride()[1] as usize, l.c_stride, "{w}x{h}");
            assert_eq!(info.offset()[1], l.u_offset, "{w}x{h}");
            assert_eq!(info.offset()[2], l.v_offset, "{w}x{h}");
            assert_eq!(info.size(), l.size, "{w}x{h}");
        }
    }

    /// The display conversion of a decoded I420 frame is the RGBA decoder's frame, bit for bit,
    /// and the sequential decoder finds the exact frame count at the end of the stream.
    #[test]
    fn i420_frames_convert_like_the_rgba_decoder_and_sequential_count_is_exact() {
        use crate::media::VideoDecoder;
        use crate::media::testsrc::write_bars_clip_as;
        let dir = tempfile::tempdir().expect("tempdir");
        let clip = dir.path().join("bars.mp4");
        let rate = crate::model::FrameRate::FPS_25;
        write_bars_clip_as(&clip, 30, 322, 182, rate, 440.0, Some("I420")).expect("clip");
        let mut rgba = VideoDecoder::open(&clip).expect("rgba decoder");
        let mut native = VideoDecoder::open_i420(&clip, 0).expect("i420 decoder");
        // A 4:4:4 10-bit stream decodes to RGBA (I420 would lose chroma and depth).
        let deep = dir.path().join("deep.mp4");
        write_bars_clip_as(&deep, 3, 64, 48, rate, 440.0, None).expect("clip");
        let mut d = VideoDecoder::open_i420(&deep, 0).expect("decoder");
        assert_eq!(d.frame(0).expect("frame").format, PixelFormat::Rgba);
        for i in [0, 7, 29] {
            let n = native.frame(i).expect("i420 frame");
            let PixelFormat::I420(c) = &n.format else { panic!("H.264 decodes to I420") };
            // The colorimetry parsed at decode is the caps string's.
            assert_eq!(c.colorimetry, Colorimetry::from_caps(&c.caps));
            assert_eq!(to_rgba(&n).expect("convert"), rgba.frame(i).expect("rgba frame").data);
        }
        // Past the end of a random-access decoder: the last frame, without a seek.
        let seeks = rgba.seeks();
        assert_eq!(rgba.frame(35).expect("past the end").index, 29);
        assert_eq!(rgba.seeks(), seeks);
        let mut seq = VideoDecoder::open_i420_sequential(&clip, 0).expect("sequential");
        let mut last = 0;
        for i in 0..40 {
            last = seq.frame(i).expect("frame").index;
        }
        assert_eq!(last, 29, "past the end: the last frame is held");
        assert_eq!(seq.seeks(), 0, "past the end is not sought (a seek decodes the GOP again)");
        assert_eq!(seq.frame_count(), rgba.frame_count());
        assert_eq!(seq.frame_count(), 30);
    }
}
