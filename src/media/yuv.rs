//! 8-bit 4:2:0 pictures (I420) as the export path keeps them: the decoder's own format, so a
//! frame the lip edit does not touch goes to the encoder without any colour conversion.
//!
//! Two kinds of conversion live here:
//! - whole pictures to RGBA for display ([`to_rgba`]), with GStreamer's video converter in the
//!   configuration `videoconvert` uses, so the result is the RGBA the RGBA decoder gives;
//! - a rectangle of a picture to RGBA and back ([`roi_to_rgba`], [`apply_rgba_edit`]) for the
//!   lip edit, which only ever reads and writes the mouth. Writing back adds the edit's change,
//!   converted to Y'CbCr, to the decoded samples: a pixel the edit left alone keeps its luma
//!   sample bit for bit, and a chroma sample changes only when one of the four pixels it covers
//!   changed.

use super::{Frame, MediaError, PixelFormat};
use gstreamer as gst;
use gstreamer_video as gst_video;
use std::str::FromStr;
use std::sync::Arc;
use wide::f32x4;

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

/// The Y'CbCr matrix and range of a stream, from its caps' colorimetry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct YuvMatrix {
    kr: f32,
    kb: f32,
    /// Luma and chroma scale and offsets: limited ("TV") range 219/224 around 16/128, full 255.
    y_scale: f32,
    c_scale: f32,
    y_offset: f32,
}

impl YuvMatrix {
    /// The matrix of a stream described by `caps` (GStreamer's caps string). Unknown or RGB
    /// matrices fall back to BT.601 limited range, GStreamer's own default for unknown YUV.
    pub fn from_caps(caps: &str) -> Self {
        use gst_video::{VideoColorMatrix as M, VideoColorRange as R};
        if super::init().is_err() {
            return Self::from_parts(0.299, 0.114, false);
        }
        let info =
            gst::Caps::from_str(caps).ok().and_then(|c| gst_video::VideoInfo::from_caps(&c).ok());
        let (matrix, range) = info
            .map(|i| (i.colorimetry().matrix(), i.colorimetry().range()))
            .unwrap_or((M::Bt601, R::Range16_235));
        let (kr, kb) = match matrix {
            M::Bt709 => (0.2126, 0.0722),
            M::Bt2020 => (0.2627, 0.0593),
            M::Smpte240m => (0.212, 0.087),
            M::Fcc => (0.30, 0.11),
            _ => (0.299, 0.114),
        };
        Self::from_parts(kr, kb, range == R::Range0_255)
    }

    fn from_parts(kr: f32, kb: f32, full: bool) -> Self {
        Self {
            kr,
            kb,
            y_scale: if full { 1.0 } else { 219.0 / 255.0 },
            c_scale: if full { 1.0 } else { 224.0 / 255.0 },
            y_offset: if full { 0.0 } else { 16.0 },
        }
    }

    /// R'G'B' (0..255) of one Y'CbCr sample triple.
    pub fn to_rgb(&self, y: f32, u: f32, v: f32) -> [f32; 3] {
        let yy = (y - self.y_offset) / self.y_scale;
        let (cb, cr) = ((u - 128.0) / self.c_scale, (v - 128.0) / self.c_scale);
        let kg = 1.0 - self.kr - self.kb;
        let r = yy + 2.0 * (1.0 - self.kr) * cr;
        let b = yy + 2.0 * (1.0 - self.kb) * cb;
        let g = (yy - self.kr * r - self.kb * b) / kg;
        [r, g, b]
    }

    /// The change of (Y', Cb, Cr) samples for a change of R'G'B', as a matrix: row k gives
    /// sample k's change per unit of R', G', B'.
    pub fn delta_matrix(&self) -> [[f32; 3]; 3] {
        let kg = 1.0 - self.kr - self.kb;
        let y = [self.kr, kg, self.kb];
        let (sb, sr) =
            (self.c_scale / (2.0 * (1.0 - self.kb)), self.c_scale / (2.0 * (1.0 - self.kr)));
        [
            y.map(|v| v * self.y_scale),
            [-y[0] * sb, -y[1] * sb, (1.0 - y[2]) * sb],
            [(1.0 - y[0]) * sr, -y[1] * sr, -y[2] * sr],
        ]
    }
}

/// A rectangle of pixels, `x0..x1` × `y0..y1`, with even corners (whole chroma samples).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rect {
    /// Left (even).
    pub x0: usize,
    /// Top (even).
    pub y0: usize,
    /// Right, exclusive.
    pub x1: usize,
    /// Bottom, exclusive.
    pub y1: usize,
}

impl Rect {
    /// The rectangle covering `x0..x1` × `y0..y1` (floats, any order of magnitude) grown by
    /// `pad` pixels, aligned outwards to even coordinates and clipped to the picture; `None`
    /// when nothing of it is inside.
    pub fn covering(
        (x0, y0, x1, y1): (f32, f32, f32, f32),
        pad: f32,
        width: usize,
        height: usize,
    ) -> Option<Self> {
        if !(x0.is_finite() && y0.is_finite() && x1.is_finite() && y1.is_finite()) {
            return None;
        }
        let clip = |v: f32, max: usize| v.clamp(0.0, max as f32) as usize;
        let (a, b) = (clip((x0 - pad).floor(), width), clip((y0 - pad).floor(), height));
        let (c, d) = (clip((x1 + pad).ceil(), width), clip((y1 + pad).ceil(), height));
        let r = Self {
            x0: a & !1,
            y0: b & !1,
            x1: (c + (c & 1)).min(width),
            y1: (d + (d & 1)).min(height),
        };
        (r.x1 > r.x0 && r.y1 > r.y0).then_some(r)
    }

    /// The part both hold, if any.
    pub fn intersect(self, o: Self) -> Option<Self> {
        let r = Self {
            x0: self.x0.max(o.x0),
            y0: self.y0.max(o.y0),
            x1: self.x1.min(o.x1),
            y1: self.y1.min(o.y1),
        };
        (r.x0 < r.x1 && r.y0 < r.y1).then_some(r)
    }

    /// The smallest rectangle holding both.
    pub fn union(self, o: Self) -> Self {
        Self {
            x0: self.x0.min(o.x0),
            y0: self.y0.min(o.y0),
            x1: self.x1.max(o.x1),
            y1: self.y1.max(o.y1),
        }
    }
}

/// The caps string of an I420 frame, or an error for any other format.
fn i420_caps(frame: &Frame) -> Result<&str, MediaError> {
    match &frame.format {
        PixelFormat::I420(caps) => Ok(caps),
        PixelFormat::Rgba => Err(MediaError::Internal("expected an I420 frame".into())),
    }
}

/// Writes the RGBA pixels of `rect` of the I420 `frame` into `dst` (a full-size RGBA picture;
/// only `rect` is written). Chroma is taken from the sample covering each pixel.
pub fn roi_to_rgba(frame: &Frame, rect: Rect, dst: &mut [u8]) -> Result<(), MediaError> {
    let m = YuvMatrix::from_caps(i420_caps(frame)?);
    let (w, h) = (frame.width as usize, frame.height as usize);
    let l = I420Layout::new(w, h);
    if frame.data.len() < l.size || dst.len() < w * h * 4 || rect.x1 > w || rect.y1 > h {
        return Err(MediaError::Internal("I420 frame or RGBA buffer of the wrong size".into()));
    }
    let d = &frame.data;
    // [`YuvMatrix::to_rgb`] with its per-sample terms from tables (the same arithmetic, so the
    // same bits): the scaled luma and chroma of each 8-bit value.
    let yy: [f32; 256] = std::array::from_fn(|v| (v as f32 - m.y_offset) / m.y_scale);
    let cc: [f32; 256] = std::array::from_fn(|v| (v as f32 - 128.0) / m.c_scale);
    let kg = 1.0 - m.kr - m.kb;
    let (r_cr, b_cb) = (2.0 * (1.0 - m.kr), 2.0 * (1.0 - m.kb));
    let to_u8 = |v: f32| (v + 0.5).clamp(0.0, 255.0) as u8;
    // Four pixels at a time in four-lane SIMD: the same operations per lane, so the same bits.
    let (r_cr4, b_cb4) = (f32x4::splat(r_cr), f32x4::splat(b_cb));
    let (kr4, kb4, kg4) = (f32x4::splat(m.kr), f32x4::splat(m.kb), f32x4::splat(kg));
    let bytes = |v: f32x4| -> [i32; 4] {
        (v + f32x4::splat(0.5))
            .fast_max(f32x4::ZERO)
            .fast_min(f32x4::splat(255.0))
            .fast_trunc_int()
            .to_array()
    };
    for y in rect.y0..rect.y1 {
        let yrow = &d[y * l.y_stride..];
        let urow = &d[l.u_offset + (y / 2) * l.c_stride..];
        let vrow = &d[l.v_offset + (y / 2) * l.c_stride..];
        let out = &mut dst[(y * w + rect.x0) * 4..(y * w + rect.x1) * 4];
        let mut quads = out.chunks_exact_mut(16);
        let mut x = rect.x0;
        for q in &mut quads {
            let lane = |t: &[f32; 256], row: &[u8], div: usize| -> f32x4 {
                f32x4::new(std::array::from_fn(|k| t[usize::from(row[(x + k) / div])]))
            };
            let (l, cb, cr) = (lane(&yy, yrow, 1), lane(&cc, urow, 2), lane(&cc, vrow, 2));
            let r = l + r_cr4 * cr;
            let b = l + b_cb4 * cb;
            let g = (l - kr4 * r - kb4 * b) / kg4;
            let (r, g, b) = (bytes(r), bytes(g), bytes(b));
            for (k, px) in q.chunks_exact_mut(4).enumerate() {
                // 0..=255 after the clamp.
                px.copy_from_slice(&[r[k] as u8, g[k] as u8, b[k] as u8, 255]);
            }
            x += 4;
        }
        for px in quads.into_remainder().chunks_exact_mut(4) {
            let l = yy[usize::from(yrow[x])];
            let (cb, cr) = (cc[usize::from(urow[x / 2])], cc[usize::from(vrow[x / 2])]);
            let r = l + r_cr * cr;
            let b = l + b_cb * cb;
            let g = (l - m.kr * r - m.kb * b) / kg;
            px.copy_from_slice(&[to_u8(r), to_u8(g), to_u8(b), 255]);
            x += 1;
        }
    }
    Ok(())
}

/// Applies an RGBA edit of `rect` to the I420 samples `yuv` (layout of `width × height`):
/// `before` and `after` are full-size RGBA pictures, `rect` of them as converted and as edited
/// (nothing outside `rect` is read). Luma changes only where a
/// pixel changed; a chroma sample by the mean change of the pixels it covers. Returns whether
/// anything changed.
pub fn apply_rgba_edit(
    yuv: &mut [u8],
    caps: &str,
    width: usize,
    height: usize,
    rect: Rect,
    before: &[u8],
    after: &[u8],
) -> bool {
    let dm = YuvMatrix::from_caps(caps).delta_matrix();
    let l = I420Layout::new(width, height);
    let rw = rect.x1 - rect.x0;
    let mut changed = false;
    // Chroma sums of one row pair at a time.
    let cw = rw.div_ceil(2);
    let mut du = vec![0.0f32; cw];
    let mut dv = vec![0.0f32; cw];
    let mut any = vec![false; cw];
    let mut y = rect.y0;
    while y < rect.y1 {
        du.iter_mut().for_each(|v| *v = 0.0);
        dv.iter_mut().for_each(|v| *v = 0.0);
        any.iter_mut().for_each(|v| *v = false);
        for yy in y..(y + 2).min(rect.y1) {
            let b = &before[(yy * width + rect.x0) * 4..(yy * width + rect.x1) * 4];
            let a = &after[(yy * width + rect.x0) * 4..(yy * width + rect.x1) * 4];
            for (k, (pb, pa)) in b.chunks_exact(4).zip(a.chunks_exact(4)).enumerate() {
                if pb[..3] == pa[..3] {
                    continue;
                }
                let d = [0, 1, 2].map(|c| f32::from(pa[c]) - f32::from(pb[c]));
                let [dy, dcb, dcr] = dm.map(|r| r[0] * d[0] + r[1] * d[1] + r[2] * d[2]);
                let o = yy * l.y_stride + rect.x0 + k;
                yuv[o] = (f32::from(yuv[o]) + dy + 0.5).clamp(0.0, 255.0) as u8;
                du[k / 2] += dcb;
                dv[k / 2] += dcr;
                any[k / 2] = true;
                changed = true;
            }
        }
        let crow = y / 2;
        for k in 0..cw {
            if !any[k] {
                continue;
            }
            let x = rect.x0 / 2 + k;
            // A pixel that did not change counts as a change of zero.
            let n = ((rect.x0 + 2 * k + 2).min(rect.x1) - (rect.x0 + 2 * k))
                * ((y + 2).min(rect.y1) - y);
            let n = n.max(1) as f32;
            for (plane, sum) in [(l.u_offset, du[k]), (l.v_offset, dv[k])] {
                let o = plane + crow * l.c_stride + x;
                yuv[o] = (f32::from(yuv[o]) + sum / n + 0.5).clamp(0.0, 255.0) as u8;
            }
        }
        y += 2;
    }
    changed
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
    let caps = gst::Caps::from_str(i420_caps(frame)?).map_err(internal)?;
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

    #[test]
    fn matrix_round_trips_and_delta_is_linear() {
        crate::media::init().expect("gstreamer");
        for caps in [
            "video/x-raw,format=I420,width=4,height=4,colorimetry=bt709",
            "video/x-raw,format=I420,width=4,height=4,colorimetry=bt601",
            "video/x-raw,format=I420,width=4,height=4,colorimetry=1:4:0:0",
        ] {
            let m = YuvMatrix::from_caps(caps);
            // Converting a change to Y'CbCr and back gives the change.
            let d = [12.0, -7.0, 30.0];
            let q = m.delta_matrix().map(|r| r[0] * d[0] + r[1] * d[1] + r[2] * d[2]);
            let base = m.to_rgb(120.0, 128.0, 128.0);
            let moved = m.to_rgb(120.0 + q[0], 128.0 + q[1], 128.0 + q[2]);
            for c in 0..3 {
                assert!((moved[c] - base[c] - d[c]).abs() < 1e-3, "{caps}: {moved:?} {base:?}");
            }
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
            assert!(matches!(n.format, PixelFormat::I420(_)), "H.264 decodes to I420");
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

    #[test]
    fn rect_is_even_and_clipped() {
        let r = Rect::covering((3.2, 5.9, 10.1, 11.0), 1.0, 12, 12).expect("rect");
        assert_eq!(r, Rect { x0: 2, y0: 4, x1: 12, y1: 12 });
        assert!(Rect::covering((20.0, 20.0, 30.0, 30.0), 0.0, 12, 12).is_none());
        let o = Rect { x0: 6, y0: 0, x1: 20, y1: 8 };
        assert_eq!(r.intersect(o), Some(Rect { x0: 6, y0: 4, x1: 12, y1: 8 }));
        assert_eq!(r.intersect(Rect { x0: 12, y0: 0, x1: 14, y1: 2 }), None);
    }

    /// An edit of a few pixels changes their luma and the chroma samples covering them, and
    /// nothing else.
    #[test]
    fn an_edit_touches_only_changed_pixels_and_their_chroma() {
        crate::media::init().expect("gstreamer");
        let (w, h) = (10usize, 8usize);
        let l = I420Layout::new(w, h);
        let caps: Arc<str> = Arc::from(format!(
            "video/x-raw,format=I420,width={w},height={h},colorimetry=bt709,framerate=25/1"
        ));
        let data: Vec<u8> = (0..l.size).map(|i| (40 + (i * 37) % 160) as u8).collect();
        let frame = Frame {
            index: 0,
            pts: crate::model::Time::ZERO,
            width: w as u32,
            height: h as u32,
            data: data.clone(),
            format: PixelFormat::I420(caps.clone()),
        };
        let rect = Rect { x0: 2, y0: 2, x1: 8, y1: 6 };
        let mut rgba = vec![0u8; w * h * 4];
        roi_to_rgba(&frame, rect, &mut rgba).expect("roi");
        // The table-driven conversion gives exactly the matrix's own per-sample arithmetic.
        let m = YuvMatrix::from_caps(&caps);
        for y in rect.y0..rect.y1 {
            for x in rect.x0..rect.x1 {
                let s = |o: usize| f32::from(data[o]);
                let rgb = m.to_rgb(
                    s(y * l.y_stride + x),
                    s(l.u_offset + (y / 2) * l.c_stride + x / 2),
                    s(l.v_offset + (y / 2) * l.c_stride + x / 2),
                );
                let want = rgb.map(|v| (v + 0.5).clamp(0.0, 255.0) as u8);
                assert_eq!(&rgba[(y * w + x) * 4..(y * w + x) * 4 + 3], &want, "({x}, {y})");
            }
        }
        let before = rgba.clone();
        // Redden pixel (5, 3).
        let p = (3 * w + 5) * 4;
        rgba[p] = rgba[p].saturating_add(60);
        let mut yuv = data.clone();
        assert!(apply_rgba_edit(&mut yuv, &caps, w, h, rect, &before, &rgba));
        let changed: Vec<usize> = (0..l.size).filter(|&i| yuv[i] != data[i]).collect();
        // Pixel (5, 3): luma row 3, chroma row 1, chroma column 2.
        let y_at = 3 * l.y_stride + 5;
        let c_at = l.c_stride + 2;
        assert!(changed.contains(&y_at), "luma of the edited pixel");
        assert!(changed.contains(&(l.v_offset + c_at)), "Cr of its chroma sample");
        for i in changed {
            assert!(
                i == y_at || i == l.u_offset + c_at || i == l.v_offset + c_at,
                "sample {i} changed"
            );
        }
        // Unchanged RGBA: nothing written.
        let mut same = data.clone();
        roi_to_rgba(&frame, rect, &mut rgba).expect("roi");
        assert!(!apply_rgba_edit(&mut same, &caps, w, h, rect, &before, &rgba));
        assert_eq!(same, data);
    }
}
