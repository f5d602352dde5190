//! Pure pixel maths of the frame path: rectangles in whole chroma samples ([`Rect`]), the
//! Y'CbCr matrices ([`YuvMatrix`], from the typed colorimetry a decoded frame carries), and a
//! rectangle of an I420 picture to RGBA and back ([`roi_to_rgba`], [`apply_rgba_edit`]) for the
//! lip edit, which only ever reads and writes the mouth. Writing back adds the edit's change,
//! converted to Y'CbCr, to the decoded samples: a pixel the edit left alone keeps its luma
//! sample bit for bit, and a chroma sample changes only when one of the four pixels it covers
//! changed. No GStreamer here (the layout and the whole-picture conversion are
//! `media::yuv`).

use crate::media::yuv::{ColorMatrix, Colorimetry, I420Layout, i420_caps};
use crate::media::{Frame, MediaError};
use wide::f32x4;

/// The Y'CbCr matrix and range of a stream, from its colorimetry.
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
    /// The matrix of a stream of colorimetry `c`.
    pub fn new(c: Colorimetry) -> Self {
        let (kr, kb) = match c.matrix {
            ColorMatrix::Bt709 => (0.2126, 0.0722),
            ColorMatrix::Bt2020 => (0.2627, 0.0593),
            ColorMatrix::Smpte240m => (0.212, 0.087),
            ColorMatrix::Fcc => (0.30, 0.11),
            ColorMatrix::Bt601 => (0.299, 0.114),
        };
        Self::from_parts(kr, kb, c.full_range)
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

/// Writes the RGBA pixels of `rect` of the I420 `frame` into `dst` (a full-size RGBA picture;
/// only `rect` is written). Chroma is taken from the sample covering each pixel.
pub fn roi_to_rgba(frame: &Frame, rect: Rect, dst: &mut [u8]) -> Result<(), MediaError> {
    let m = YuvMatrix::new(i420_caps(frame)?.colorimetry);
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

/// Applies an RGBA edit of `rect` to the I420 samples `yuv` (layout of `width × height`, read
/// with `colorimetry`):
/// `before` and `after` are full-size RGBA pictures, `rect` of them as converted and as edited
/// (nothing outside `rect` is read). Luma changes only where a
/// pixel changed; a chroma sample by the mean change of the pixels it covers. Returns whether
/// anything changed.
pub fn apply_rgba_edit(
    yuv: &mut [u8],
    colorimetry: Colorimetry,
    width: usize,
    height: usize,
    rect: Rect,
    before: &[u8],
    after: &[u8],
) -> bool {
    let dm = YuvMatrix::new(colorimetry).delta_matrix();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::PixelFormat;
    use crate::media::yuv::I420Caps;

    #[test]
    fn matrix_round_trips_and_delta_is_linear() {
        for caps in [
            "video/x-raw,format=I420,width=4,height=4,colorimetry=bt709",
            "video/x-raw,format=I420,width=4,height=4,colorimetry=bt601",
            "video/x-raw,format=I420,width=4,height=4,colorimetry=1:4:0:0",
        ] {
            let m = YuvMatrix::new(Colorimetry::from_caps(caps));
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
        let caps = I420Caps::parse(&format!(
            "video/x-raw,format=I420,width={w},height={h},colorimetry=bt709,framerate=25/1"
        ));
        assert_eq!(caps.colorimetry.matrix, ColorMatrix::Bt709);
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
        let m = YuvMatrix::new(caps.colorimetry);
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
        assert!(apply_rgba_edit(&mut yuv, caps.colorimetry, w, h, rect, &before, &rgba));
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
        assert!(!apply_rgba_edit(&mut same, caps.colorimetry, w, h, rect, &before, &rgba));
        assert_eq!(same, data);
    }
}
