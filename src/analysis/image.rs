//! A small RGB raster and the resampling the detector needs: area-averaged resize of whole
//! pictures and of boxes that may reach outside the picture (outside reads as black, which is
//! what the MTCNN stages were trained with).

/// Tightly packed 8-bit RGB, rows top to bottom.
#[derive(Clone, Debug, PartialEq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `width * height * 3` bytes.
    pub data: Vec<u8>,
}

/// For one output sample: the source pixels it averages and their weights (summing to 1 over the
/// whole footprint, so pixels outside the source simply drop out and darken the result).
type Taps = Vec<(usize, f32)>;

/// Area weights for resampling `[start, start + len)` of a source axis of `size` pixels onto `n`
/// samples. A footprint narrower than one pixel (enlarging) is widened to one pixel, which turns
/// the box filter into linear interpolation.
fn area_taps(start: f32, len: f32, n: usize, size: usize) -> Vec<Taps> {
    let step = len / n.max(1) as f32;
    (0..n)
        .map(|i| {
            let mut a = start + i as f32 * step;
            let mut b = a + step;
            if b - a < 1.0 {
                let mid = 0.5 * (a + b);
                a = mid - 0.5;
                b = mid + 0.5;
            }
            let norm = 1.0 / (b - a);
            let first = a.floor() as i64;
            let last = b.ceil() as i64;
            (first..last)
                .filter(|&k| k >= 0 && (k as usize) < size)
                .filter_map(|k| {
                    let lo = a.max(k as f32);
                    let hi = b.min(k as f32 + 1.0);
                    (hi > lo).then_some((k as usize, (hi - lo) * norm))
                })
                .collect()
        })
        .collect()
}

impl RgbImage {
    /// Drops the alpha of a tightly packed RGBA picture.
    pub fn from_rgba(width: usize, height: usize, rgba: &[u8]) -> Self {
        let data =
            rgba.chunks_exact(4).take(width * height).flat_map(|p| [p[0], p[1], p[2]]).collect();
        Self { width, height, data }
    }

    /// Area-averaged downscale of a tightly packed RGBA picture straight to RGB, so a full-size
    /// decoded frame is read only once.
    pub fn from_rgba_resized(
        width: usize,
        height: usize,
        rgba: &[u8],
        out_w: usize,
        out_h: usize,
    ) -> Self {
        // Whole-number factors (720p → 360, 1080p → 360) are plain block averages: integer sums,
        // no weights, several times faster than the general resampler.
        if out_w > 0
            && out_h > 0
            && width.is_multiple_of(out_w)
            && height.is_multiple_of(out_h)
            && width / out_w == height / out_h
        {
            return Self::from_rgba_block_average(width, rgba, out_w, out_h, width / out_w);
        }
        let xt = area_taps(0.0, width as f32, out_w, width);
        let yt = area_taps(0.0, height as f32, out_h, height);
        let mut rows = vec![0f32; out_w * 3];
        let mut data = Vec::with_capacity(out_w * out_h * 3);
        for ty in &yt {
            rows.iter_mut().for_each(|v| *v = 0.0);
            for &(sy, wy) in ty {
                let row = &rgba[sy * width * 4..(sy + 1) * width * 4];
                for (ox, tx) in xt.iter().enumerate() {
                    let (mut r, mut g, mut b) = (0f32, 0f32, 0f32);
                    for &(sx, wx) in tx {
                        let p = &row[sx * 4..sx * 4 + 3];
                        r += wx * f32::from(p[0]);
                        g += wx * f32::from(p[1]);
                        b += wx * f32::from(p[2]);
                    }
                    let o = &mut rows[ox * 3..ox * 3 + 3];
                    o[0] += wy * r;
                    o[1] += wy * g;
                    o[2] += wy * b;
                }
            }
            data.extend(rows.iter().map(|&v| (v + 0.5).clamp(0.0, 255.0) as u8));
        }
        Self { width: out_w, height: out_h, data }
    }

    fn from_rgba_block_average(
        width: usize,
        rgba: &[u8],
        out_w: usize,
        out_h: usize,
        f: usize,
    ) -> Self {
        let mut data = Vec::with_capacity(out_w * out_h * 3);
        let mut sums = vec![0u32; out_w * 3];
        let half = (f * f / 2) as u32;
        let div = (f * f) as u32;
        for oy in 0..out_h {
            sums.iter_mut().for_each(|v| *v = 0);
            for sy in oy * f..(oy + 1) * f {
                let row = &rgba[sy * width * 4..(sy * width + out_w * f) * 4];
                for (ox, block) in row.chunks_exact(4 * f).enumerate() {
                    let acc = &mut sums[ox * 3..ox * 3 + 3];
                    for p in block.chunks_exact(4) {
                        acc[0] += u32::from(p[0]);
                        acc[1] += u32::from(p[1]);
                        acc[2] += u32::from(p[2]);
                    }
                }
            }
            data.extend(sums.iter().map(|&v| ((v + half) / div) as u8));
        }
        Self { width: out_w, height: out_h, data }
    }

    /// Resamples the region `[x, x + w) × [y, y + h)` (which may extend past the picture) to
    /// `out_w × out_h` float RGB samples, row-major, appended to `out`.
    pub fn crop_resize_into(
        &self,
        region: [f32; 4],
        out_w: usize,
        out_h: usize,
        out: &mut Vec<f32>,
    ) {
        let [x, y, w, h] = region;
        let xt = area_taps(x, w, out_w, self.width);
        let yt = area_taps(y, h, out_h, self.height);
        let start = out.len();
        out.resize(start + out_w * out_h * 3, 0.0);
        let dst = &mut out[start..];
        // Separable: each source row the output touches is resampled horizontally once, then
        // the output rows are weighted sums of those (cost per output sample grows with the
        // footprint's width plus its height, not their product).
        let (Some(lo), Some(hi)) = (
            yt.iter().flat_map(|t| t.iter().map(|p| p.0)).min(),
            yt.iter().flat_map(|t| t.iter().map(|p| p.0)).max(),
        ) else {
            return;
        };
        let row_len = out_w * 3;
        let mut rows = vec![0f32; (hi - lo + 1) * row_len];
        for (sy, hrow) in (lo..=hi).zip(rows.chunks_exact_mut(row_len)) {
            let row = &self.data[sy * self.width * 3..(sy + 1) * self.width * 3];
            for (o, tx) in hrow.chunks_exact_mut(3).zip(&xt) {
                let (mut r, mut g, mut b) = (0f32, 0f32, 0f32);
                for &(sx, wx) in tx {
                    let p = &row[sx * 3..sx * 3 + 3];
                    r += wx * f32::from(p[0]);
                    g += wx * f32::from(p[1]);
                    b += wx * f32::from(p[2]);
                }
                o.copy_from_slice(&[r, g, b]);
            }
        }
        for (orow, ty) in dst.chunks_exact_mut(row_len).zip(&yt) {
            for &(sy, wy) in ty {
                let hrow = &rows[(sy - lo) * row_len..(sy - lo + 1) * row_len];
                for (o, v) in orow.iter_mut().zip(hrow) {
                    *o += wy * v;
                }
            }
        }
    }

    /// Luma (BT.601) at a sub-pixel position by bilinear interpolation; black outside.
    pub fn luma_at(&self, x: f32, y: f32) -> f32 {
        let x0 = x.floor();
        let y0 = y.floor();
        let (fx, fy) = (x - x0, y - y0);
        let px = |xi: i64, yi: i64| -> f32 {
            if xi < 0 || yi < 0 || xi as usize >= self.width || yi as usize >= self.height {
                return 0.0;
            }
            let i = (yi as usize * self.width + xi as usize) * 3;
            let d = &self.data[i..i + 3];
            0.299 * f32::from(d[0]) + 0.587 * f32::from(d[1]) + 0.114 * f32::from(d[2])
        };
        let (xi, yi) = (x0 as i64, y0 as i64);
        let top = px(xi, yi) * (1.0 - fx) + px(xi + 1, yi) * fx;
        let bottom = px(xi, yi + 1) * (1.0 - fx) + px(xi + 1, yi + 1) * fx;
        top * (1.0 - fy) + bottom * fy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_resize_averages_and_pads_black() {
        // 4x2 picture: left half 200, right half 100.
        let mut rgba = Vec::new();
        for _ in 0..2 {
            for x in 0..4 {
                let v = if x < 2 { 200 } else { 100 };
                rgba.extend([v, v, v, 255]);
            }
        }
        let small = RgbImage::from_rgba_resized(4, 2, &rgba, 2, 1);
        assert_eq!(small.data, vec![200, 200, 200, 100, 100, 100]);
        // The whole-number fast path agrees with the general resampler.
        let noise: Vec<u8> = (0..12 * 6 * 4).map(|i| (i * 37 % 251) as u8).collect();
        let fast = RgbImage::from_rgba_resized(12, 6, &noise, 4, 2);
        let xt = area_taps(0.0, 12.0, 4, 12);
        let yt = area_taps(0.0, 6.0, 2, 6);
        for (oy, ty) in yt.iter().enumerate() {
            for (ox, tx) in xt.iter().enumerate() {
                let mut v = 0f32;
                for &(sy, wy) in ty {
                    for &(sx, wx) in tx {
                        v += wx * wy * f32::from(noise[(sy * 12 + sx) * 4]);
                    }
                }
                let got = f32::from(fast.data[(oy * 4 + ox) * 3]);
                assert!((got - v).abs() <= 0.51, "{got} vs {v}");
            }
        }
        let full = RgbImage::from_rgba(4, 2, &rgba);
        let mut out = Vec::new();
        // A 2x2 region half outside on the left: one black column, one 200 column.
        full.crop_resize_into([-1.0, 0.0, 2.0, 2.0], 1, 1, &mut out);
        assert!((out[0] - 100.0).abs() < 1e-3, "{out:?}");
    }
}
