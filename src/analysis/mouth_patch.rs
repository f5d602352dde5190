//! The mouth patch: the canonical lower-face frame from 5 landmarks (a similarity transform),
//! the patch's pixel grid in that frame, bilinear sampling, and the feathered region mask. The
//! analysis measures lips on it; the lip engines (`lipsync`) draw mouths in it. (Boxes and the
//! similarity transform itself are [`super::geometry`].)

/// Five facial landmarks in image pixels: left eye, right eye, nose tip, left and right mouth
/// corners (the MTCNN order).
pub type Landmarks5 = [[f32; 2]; 5];

/// Canonical units per unit of the analysis template: the lip engine works in a 128-unit face.
const CANONICAL_SCALE: f32 = 128.0 / 112.0;

/// The canonical face the landmarks are mapped to: the analysis's 112-unit alignment template
/// (`analysis::mouth::CANONICAL_LANDMARKS`) scaled to a 128-unit face.
pub fn canonical() -> Landmarks5 {
    CANONICAL_LANDMARKS.map(|p| [p[0] * CANONICAL_SCALE, p[1] * CANONICAL_SCALE])
}

/// Patch width in pixels.
pub const PATCH_W: usize = 128;
/// Patch height in pixels.
pub const PATCH_H: usize = 96;
/// Canonical units per patch pixel.
pub const PATCH_SCALE: f32 = 0.75;
/// Canonical position of the patch's top-left pixel centre: the patch spans x 16..112,
/// y 72..144 (from just under the nose to below the chin).
pub const PATCH_ORIGIN: [f32; 2] = [16.0, 72.0];

pub use super::geometry::Similarity;
use crate::analysis::mouth::CANONICAL_LANDMARKS;
use wide::f32x4;

/// Transform from image pixels to the canonical face frame for these landmarks.
///
/// Fitted to the eyes and the nose tip only: they move with the skull, while the mouth
/// corners move with the mouth. A frame placed by the corners too follows the lips a little
/// (an opening mouth drops its corners, and the fit drops and shrinks the frame with them), so
/// every mouth cut out in it is partly re-closed and every mouth drawn in it partly follows the
/// filmed one underneath. `redub eval reconstruct` (halves, six clips): the edit's opening
/// correlation with the true frames went from 0.377 to 0.433 with this change, 5 clips of 6
/// better, both real-footage clips among them.
pub fn image_to_canonical(landmarks: &Landmarks5) -> Option<Similarity> {
    Similarity::fit(&landmarks[..RIGID_POINTS], &canonical()[..RIGID_POINTS])
}

/// The landmarks that place the canonical frame: eyes and nose tip (the MTCNN order puts them
/// first).
const RIGID_POINTS: usize = 3;

/// Transform from patch pixel coordinates to canonical coordinates.
pub fn patch_to_canonical() -> Similarity {
    Similarity { a: PATCH_SCALE, b: 0.0, tx: PATCH_ORIGIN[0], ty: PATCH_ORIGIN[1] }
}

/// Transform from patch pixels to image pixels for a face with these landmarks.
pub fn patch_to_image(landmarks: &Landmarks5) -> Option<Similarity> {
    Some(image_to_canonical(landmarks)?.inverse().then_after(&patch_to_canonical()))
}

/// Largest detail factor of a rendered patch: a mouth patch holds at most `PATCH_W ×
/// MAX_DETAIL` by `PATCH_H × MAX_DETAIL` pixels (memory: 3 bytes per pixel per bank entry).
pub const MAX_DETAIL: usize = 2;

/// Detail factor `s` of a patch: it samples the same canonical area as the `PATCH_W ×
/// PATCH_H` analysis patch with `s × s` pixels per analysis pixel, so a close face keeps its
/// own sharpness instead of being scaled up from 128 × 96.
pub fn detail_dims(detail: usize) -> (usize, usize) {
    (PATCH_W * detail, PATCH_H * detail)
}

/// The detail factor of a patch of `len` pixels (1 for an analysis patch), if it is one.
pub fn detail_of(len: usize) -> Option<usize> {
    (1..=MAX_DETAIL.max(4)).find(|&s| PATCH_W * PATCH_H * s * s == len)
}

/// Width and height of a patch of `len` pixels (the analysis size when `len` fits no detail).
pub fn dims_of(len: usize) -> (usize, usize) {
    detail_dims(detail_of(len).unwrap_or(1))
}

/// Transform from detail patch pixels to analysis patch pixels (pixel centres line up: the
/// `s × s` block of detail pixels covers one analysis pixel).
pub fn detail_to_patch(detail: usize) -> Similarity {
    let s = detail.max(1) as f32;
    Similarity { a: 1.0 / s, b: 0.0, tx: 0.5 / s - 0.5, ty: 0.5 / s - 0.5 }
}

/// Transform from pixels of a patch with `detail` to image pixels.
pub fn patch_to_image_at(landmarks: &Landmarks5, detail: usize) -> Option<Similarity> {
    Some(patch_to_image(landmarks)?.then_after(&detail_to_patch(detail)))
}

/// The detail factor that gives a face with these landmarks at least one patch pixel per
/// image pixel (capped at [`MAX_DETAIL`]; a quarter pixel of upscaling is tolerated).
pub fn detail_for(landmarks: &Landmarks5) -> usize {
    patch_to_image(landmarks)
        .map(|t| (t.scale() - 0.25).ceil().clamp(1.0, MAX_DETAIL as f32) as usize)
        .unwrap_or(1)
}

/// The analysis patch (`PATCH_W × PATCH_H`) of a detail patch: the mean of each `s × s` block.
pub fn downsample(patch: &Patch) -> Patch {
    let Some(s) = detail_of(patch.rgb.len()).filter(|&s| s > 1) else {
        return patch.clone();
    };
    let w = PATCH_W * s;
    let n = (s * s) as f32;
    let rgb = (0..PATCH_W * PATCH_H)
        .map(|i| {
            let (u, v) = (i % PATCH_W, i / PATCH_W);
            let mut acc = [0.0f32; 3];
            for y in v * s..v * s + s {
                for p in &patch.rgb[y * w + u * s..y * w + u * s + s] {
                    for c in 0..3 {
                        acc[c] += p[c];
                    }
                }
            }
            acc.map(|a| a / n)
        })
        .collect();
    Patch { rgb }
}

/// An analysis-size mask (`PATCH_W × PATCH_H`) resampled bilinearly to a patch with `detail`
/// (lane 0 of [`upsample_rows4`]).
pub fn upsample_mask(mask: &[f32], detail: usize) -> Vec<f32> {
    if detail <= 1 || mask.len() != PATCH_W * PATCH_H {
        return mask.to_vec();
    }
    let (w, h) = detail_dims(detail);
    let lanes: Vec<f32x4> = mask.iter().map(|&v| f32x4::new([v, 0.0, 0.0, 0.0])).collect();
    let mut out = Vec::with_capacity(w * h);
    upsample_rows4(&lanes, detail, |_, row| out.extend(row.iter().map(|v| v.as_array_ref()[0])));
    out
}

/// Four analysis-size maps (one per SIMD lane) resampled bilinearly to a patch with `detail`, a
/// row at a time: `f(k, row)` gets each output row in order, `k` being the index of its first
/// pixel. With `detail` 1 (or maps of another size) `f` gets the maps as they are.
pub fn upsample_rows4(maps: &[f32x4], detail: usize, mut f: impl FnMut(usize, &[f32x4])) {
    if detail <= 1 || maps.len() != PATCH_W * PATCH_H {
        f(0, maps);
        return;
    }
    let taps = UpsampleTaps::new(detail);
    // Each analysis row resampled across once; every output row blends two of them.
    let w = taps.cols.len();
    let mut across = Vec::with_capacity(PATCH_H * w);
    for row in maps.chunks_exact(PATCH_W) {
        across.extend(
            taps.cols
                .iter()
                .map(|&(u0, u1, fu)| row[u0] * f32x4::splat(1.0 - fu) + row[u1] * f32x4::splat(fu)),
        );
    }
    let mut out = vec![f32x4::ZERO; w];
    for (y, &(v0, v1, fv)) in taps.rows.iter().enumerate() {
        let (top, bottom) = (&across[v0 * w..][..w], &across[v1 * w..][..w]);
        let (gv, fv) = (f32x4::splat(1.0 - fv), f32x4::splat(fv));
        for ((o, &t), &b) in out.iter_mut().zip(top).zip(bottom) {
            *o = t * gv + b * fv;
        }
        f(y * w, &out);
    }
}

/// The bilinear taps of [`upsample_mask`]: the transform from detail to analysis pixels has no
/// rotation, so each output column (row) reads the same two analysis columns (rows) with the
/// same weight on every row (column); found once instead of per pixel.
struct UpsampleTaps {
    /// Per output column: left and right analysis column, weight of the right one.
    cols: Vec<(usize, usize, f32)>,
    /// Per output row: upper and lower analysis row, weight of the lower one.
    rows: Vec<(usize, usize, f32)>,
}

impl UpsampleTaps {
    fn new(detail: usize) -> Self {
        let (w, h) = detail_dims(detail);
        let to_low = detail_to_patch(detail);
        // `apply` of a transform without rotation: x′ depends on x alone, y′ on y alone.
        let tap = |p: f32, n: usize| {
            let p = p.clamp(0.0, (n - 1) as f32);
            // Clamped to ≥ 0, so the cast is the floor.
            let p0 = p as usize;
            (p0, (p0 + 1).min(n - 1), p - p0 as f32)
        };
        Self {
            cols: (0..w).map(|x| tap(to_low.apply([x as f32, 0.0])[0], PATCH_W)).collect(),
            rows: (0..h).map(|y| tap(to_low.apply([0.0, y as f32])[1], PATCH_H)).collect(),
        }
    }
}

/// Bilinear sample of an RGBA image at pixel-centre coordinates (edge pixels clamped): R, G, B
/// and A in four SIMD lanes.
#[inline]
fn sample_rgba4(rgba: &[u8], width: usize, height: usize, x: f32, y: f32) -> f32x4 {
    let xf = x.clamp(0.0, (width - 1) as f32);
    let yf = y.clamp(0.0, (height - 1) as f32);
    // Clamped to ≥ 0, so the cast is the floor (and NaN casts to 0 either way).
    let (x0, y0) = (xf as usize, yf as usize);
    let (x1, y1) = ((x0 + 1).min(width - 1), (y0 + 1).min(height - 1));
    let (fx, fy) = (xf - x0 as f32, yf - y0 as f32);
    let px = |row: usize, col: usize| -> f32x4 {
        match rgba.get((row * width + col) * 4..(row * width + col) * 4 + 4) {
            Some(p) => f32x4::new([p[0], p[1], p[2], p[3]].map(f32::from)),
            None => f32x4::ZERO,
        }
    };
    let (gx, fx4) = (f32x4::splat(1.0 - fx), f32x4::splat(fx));
    let top = px(y0, x0) * gx + px(y0, x1) * fx4;
    let bottom = px(y1, x0) * gx + px(y1, x1) * fx4;
    top * f32x4::splat(1.0 - fy) + bottom * f32x4::splat(fy)
}

/// A canonical mouth patch: `PATCH_W × PATCH_H` RGB, f32 0..255.
#[derive(Clone, Debug, PartialEq)]
pub struct Patch {
    /// Row-major RGB triples.
    pub rgb: Vec<[f32; 3]>,
}

/// Cuts the canonical mouth patch out of a frame.
pub fn extract_patch(
    rgba: &[u8],
    width: usize,
    height: usize,
    landmarks: &Landmarks5,
) -> Option<Patch> {
    extract_patch_at(rgba, width, height, landmarks, 1)
}

/// Cuts the canonical mouth patch with `detail` (see [`detail_dims`]) out of a frame.
pub fn extract_patch_at(
    rgba: &[u8],
    width: usize,
    height: usize,
    landmarks: &Landmarks5,
    detail: usize,
) -> Option<Patch> {
    let to_image = patch_to_image_at(landmarks, detail)?;
    let (pw, ph) = detail_dims(detail.max(1));
    let mut rgb = Vec::with_capacity(pw * ph);
    for v in 0..ph {
        for u in 0..pw {
            let p = to_image.apply([u as f32, v as f32]);
            let v = sample_rgba4(rgba, width, height, p[0], p[1]);
            let v = v.as_array_ref();
            rgb.push([v[0], v[1], v[2]]);
        }
    }
    Some(Patch { rgb })
}

pub use crate::model::lip::Region;

/// The feathered edit mask in patch pixels (1 inside the region, 0 outside, a smooth ramp of
/// `feather` canonical units between). It is exactly 0 on the patch border, so nothing outside
/// the patch can change.
pub fn region_mask(region: Region, feather: f32) -> Vec<f32> {
    region_mask_at(region, feather, 1)
}

/// [`region_mask`] on the pixels of a patch with `detail`.
pub fn region_mask_at(region: Region, feather: f32, detail: usize) -> Vec<f32> {
    // Ellipse around the mouth centre in canonical units.
    let (rx, ry, cy) = match region {
        Region::Lips => (24.0f32, 13.0f32, MOUTH_CENTRE[1]),
        Region::LipsJaw => (34.0, 26.0, MOUTH_CENTRE[1] + 8.0),
    };
    ellipse_mask_at([MOUTH_CENTRE[0], cy], [rx, ry], feather, detail)
}

/// The mouth's centre in the canonical face.
const MOUTH_CENTRE: [f32; 2] = [64.0, 106.0];

/// How far below its resting place the lower lip goes when the mouth opens wide, in canonical
/// units: 0.35 eye distances (a wide-open inner mouth measures about 0.3; the canonical eyes
/// are 40 units apart).
const LOWER_LIP_TRAVEL: f32 = 14.0;

/// Where the lips can be, in patch pixels at `detail` (feathered like [`region_mask_at`]):
/// the lips region stretched down by the lower lip's travel when the mouth opens wide. What
/// lies outside it is face whatever the mouth says.
pub fn mouth_travel_mask_at(feather: f32, detail: usize) -> Vec<f32> {
    let half = LOWER_LIP_TRAVEL / 2.0;
    ellipse_mask_at([MOUTH_CENTRE[0], MOUTH_CENTRE[1] + half], [24.0, 13.0 + half], feather, detail)
}

/// A feathered ellipse (centre and radii in canonical units) on the pixels of a patch with
/// `detail`, exactly 0 on the patch border.
fn ellipse_mask_at(centre: [f32; 2], [rx, ry]: [f32; 2], feather: f32, detail: usize) -> Vec<f32> {
    let detail = detail.max(1);
    let (pw, ph) = detail_dims(detail);
    let cy = centre[1];
    let feather = feather.max(0.5);
    let to_canon = patch_to_canonical().then_after(&detail_to_patch(detail));
    let mut mask = Vec::with_capacity(pw * ph);
    for v in 0..ph {
        for u in 0..pw {
            let p = to_canon.apply([u as f32, v as f32]);
            let (dx, dy) = ((p[0] - centre[0]) / rx, (p[1] - cy) / ry);
            // Distance outside the ellipse, approximately in canonical units.
            let r = (dx * dx + dy * dy).sqrt();
            let outside = (r - 1.0) * rx.min(ry);
            let t = (1.0 - (outside + feather) / (2.0 * feather)).clamp(0.0, 1.0);
            let smooth = t * t * (3.0 - 2.0 * t);
            let border = u == 0 || v == 0 || u == pw - 1 || v == ph - 1;
            mask.push(if border { 0.0 } else { smooth });
        }
    }
    mask
}

/// An analysis-size test patch of a chin edge: skin above row `row`, a flat `below` grey under
/// it (the jaw line's position and contrast, for the jaw-profile tests).
#[cfg(test)]
pub(crate) fn chin_patch(row: usize, below: f32) -> Patch {
    Patch {
        rgb: (0..PATCH_W * PATCH_H)
            .map(|i| if i / PATCH_W < row { [190.0, 150.0, 130.0] } else { [below; 3] })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_known_similarity() {
        let s = Similarity { a: 1.3 * 0.3f32.cos(), b: 1.3 * 0.3f32.sin(), tx: 40.0, ty: -7.0 };
        let canon = canonical();
        let to: Vec<[f32; 2]> = canon.iter().map(|&p| s.apply(p)).collect();
        let fit = Similarity::fit(&canon, &to).unwrap();
        assert!((fit.a - s.a).abs() < 1e-4 && (fit.b - s.b).abs() < 1e-4);
        assert!((fit.tx - s.tx).abs() < 1e-2 && (fit.ty - s.ty).abs() < 1e-2);
        let back = fit.inverse().apply(fit.apply([10.0, 20.0]));
        assert!((back[0] - 10.0).abs() < 1e-3 && (back[1] - 20.0).abs() < 1e-3);
        let c = fit.then_after(&fit.inverse());
        assert!((c.a - 1.0).abs() < 1e-5 && c.b.abs() < 1e-5 && c.tx.abs() < 1e-3);
        assert!(Similarity::fit(&[[1.0, 1.0], [1.0, 1.0]], &[[0.0, 0.0], [1.0, 1.0]]).is_none());
    }

    #[test]
    fn patch_covers_the_mouth_and_mask_is_zero_on_border() {
        let to_canon = patch_to_canonical();
        let far = to_canon.apply([(PATCH_W - 1) as f32, (PATCH_H - 1) as f32]);
        assert!(far[0] > canonical()[4][0] && far[1] > canonical()[4][1] + 20.0);
        for region in [Region::Lips, Region::LipsJaw] {
            let m = region_mask(region, 6.0);
            assert!(m.iter().all(|&v| (0.0..=1.0).contains(&v)));
            for u in 0..PATCH_W {
                assert_eq!(m[u], 0.0);
                assert_eq!(m[(PATCH_H - 1) * PATCH_W + u], 0.0);
            }
            // The mouth centre is fully inside.
            let c = to_canon.inverse().apply([64.0, 106.0]);
            assert_eq!(m[c[1] as usize * PATCH_W + c[0] as usize], 1.0);
        }
        let lips: f32 = region_mask(Region::Lips, 6.0).iter().sum();
        let jaw: f32 = region_mask(Region::LipsJaw, 6.0).iter().sum();
        assert!(jaw > 1.5 * lips);
    }

    #[test]
    fn extract_patch_samples_through_the_transform() {
        // A frame whose red channel is x and green is y: the patch must read back positions.
        let (w, h) = (256usize, 256usize);
        let mut rgba = vec![0u8; w * h * 4];
        for y in 0..h {
            for x in 0..w {
                rgba[(y * w + x) * 4] = x as u8;
                rgba[(y * w + x) * 4 + 1] = y as u8;
            }
        }
        let lm: Landmarks5 = canonical().map(|p| [p[0] + 50.0, p[1] + 20.0]);
        let patch = extract_patch(&rgba, w, h, &lm).unwrap();
        let p = patch.rgb[10 * PATCH_W + 20];
        let expect = patch_to_image(&lm).unwrap().apply([20.0, 10.0]);
        assert!((p[0] - expect[0]).abs() < 0.01 && (p[1] - expect[1]).abs() < 0.01);
    }

    #[test]
    fn a_detail_patch_covers_the_analysis_patch_with_finer_pixels() {
        // A frame whose red channel is x and green is y, and a face large enough for detail 2.
        let (w, h) = (600usize, 600usize);
        let mut rgba = vec![0u8; w * h * 4];
        for y in 0..h {
            for x in 0..w {
                rgba[(y * w + x) * 4] = (x / 3) as u8;
                rgba[(y * w + x) * 4 + 1] = (y / 3) as u8;
            }
        }
        let lm: Landmarks5 = canonical().map(|p| [p[0] * 2.8 + 100.0, p[1] * 2.8 - 50.0]);
        assert_eq!(detail_for(&lm), 2);
        let small: Landmarks5 = canonical().map(|p| [p[0] * 1.2 + 100.0, p[1] * 1.2]);
        assert_eq!(detail_for(&small), 1);
        let fine = extract_patch_at(&rgba, w, h, &lm, 2).unwrap();
        assert_eq!(fine.rgb.len(), PATCH_W * PATCH_H * 4);
        assert_eq!(detail_of(fine.rgb.len()), Some(2));
        // Its box-downsampled version is the analysis patch (the gradient is linear, up to the
        // byte rounding of the frame).
        let coarse = extract_patch(&rgba, w, h, &lm).unwrap();
        let down = downsample(&fine);
        let err = down
            .rgb
            .iter()
            .zip(&coarse.rgb)
            .map(|(a, b)| (a[0] - b[0]).abs().max((a[1] - b[1]).abs()))
            .fold(0.0, f32::max);
        assert!(err < 0.75, "{err}");
        // Masks resample onto the finer grid: a constant stays, the region is zero on the border.
        assert!(upsample_mask(&vec![0.25; PATCH_W * PATCH_H], 2).iter().all(|&v| v == 0.25));
        let region = region_mask_at(Region::LipsJaw, 6.0, 2);
        let (pw, ph) = detail_dims(2);
        assert_eq!(region.len(), pw * ph);
        assert!((0..pw).all(|u| region[u] == 0.0 && region[(ph - 1) * pw + u] == 0.0));
        let coarse_area: f32 = region_mask(Region::LipsJaw, 6.0).iter().sum();
        let fine_area: f32 = region.iter().sum::<f32>() / 4.0;
        assert!((fine_area / coarse_area - 1.0).abs() < 0.02, "{fine_area} vs {coarse_area}");
    }

    #[test]
    fn table_upsampling_and_sampling_equal_the_per_pixel_formulas() {
        let mask: Vec<f32> =
            (0..PATCH_W * PATCH_H).map(|i| ((i * 7919) % 1000) as f32 / 999.0).collect();
        for detail in [2usize, 3] {
            let (w, h) = detail_dims(detail);
            let to_low = detail_to_patch(detail);
            let at = |u: usize, v: usize| mask[v * PATCH_W + u];
            let mut reference = Vec::with_capacity(w * h);
            for y in 0..h {
                for x in 0..w {
                    let p = to_low.apply([x as f32, y as f32]);
                    let (u, v) = (
                        p[0].clamp(0.0, (PATCH_W - 1) as f32),
                        p[1].clamp(0.0, (PATCH_H - 1) as f32),
                    );
                    let (u0, v0) = (u.floor() as usize, v.floor() as usize);
                    let (u1, v1) = ((u0 + 1).min(PATCH_W - 1), (v0 + 1).min(PATCH_H - 1));
                    let (fu, fv) = (u - u0 as f32, v - v0 as f32);
                    let top = at(u0, v0) * (1.0 - fu) + at(u1, v0) * fu;
                    let bottom = at(u0, v1) * (1.0 - fu) + at(u1, v1) * fu;
                    reference.push(top * (1.0 - fv) + bottom * fv);
                }
            }
            assert!(upsample_mask(&mask, detail) == reference, "detail {detail}");
        }
        // Bilinear frame sampling, inside, on the last row and column, and beyond the edges.
        let (w, h) = (37usize, 23usize);
        let rgba: Vec<u8> = (0..w * h * 4).map(|i| (i * 31 % 251) as u8).collect();
        for (x, y) in
            [(3.3f32, 4.7f32), (35.5, 10.2), (36.0, 22.0), (-2.0, 5.5), (40.0, 30.0), (0.0, 21.9)]
        {
            let xf = x.clamp(0.0, (w - 1) as f32);
            let yf = y.clamp(0.0, (h - 1) as f32);
            let (x0, y0) = (xf.floor() as usize, yf.floor() as usize);
            let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
            let (fx, fy) = (xf - x0 as f32, yf - y0 as f32);
            let px = |x: usize, y: usize, c: usize| f32::from(rgba[(y * w + x) * 4 + c]);
            let want: [f32; 3] = std::array::from_fn(|c| {
                let top = px(x0, y0, c) * (1.0 - fx) + px(x1, y0, c) * fx;
                let bottom = px(x0, y1, c) * (1.0 - fx) + px(x1, y1, c) * fx;
                top * (1.0 - fy) + bottom * fy
            });
            let got = sample_rgba4(&rgba, w, h, x, y);
            assert_eq!(got.as_array_ref()[..3], want, "({x}, {y})");
        }
    }
}
