//! Mouth geometry: the canonical lower-face frame from 5 landmarks (a similarity transform), the
//! mouth patch's pixel grid in that frame, bilinear sampling, and the feathered region mask.

/// Five facial landmarks in image pixels: left eye, right eye, nose tip, left and right mouth
/// corners (the MTCNN order).
pub type Landmarks5 = [[f32; 2]; 5];

/// The canonical face the landmarks are mapped to: a 128-unit face box with the eyes level.
/// Values are the usual 112-px alignment template scaled by 8/7.
pub const CANONICAL: Landmarks5 =
    [[43.77, 59.08], [84.04, 58.86], [64.03, 81.98], [47.49, 105.56], [80.83, 105.38]];

/// Patch width in pixels.
pub const PATCH_W: usize = 128;
/// Patch height in pixels.
pub const PATCH_H: usize = 96;
/// Canonical units per patch pixel.
pub const PATCH_SCALE: f32 = 0.75;
/// Canonical position of the patch's top-left pixel centre: the patch spans x 16..112,
/// y 72..144 (from just under the nose to below the chin).
pub const PATCH_ORIGIN: [f32; 2] = [16.0, 72.0];

/// A 2-D similarity transform `p' = [a -b; b a] p + t` (rotation, uniform scale, shift).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Similarity {
    /// scale·cos θ
    pub a: f32,
    /// scale·sin θ
    pub b: f32,
    /// x shift
    pub tx: f32,
    /// y shift
    pub ty: f32,
}

impl Similarity {
    /// The identity.
    pub const IDENTITY: Similarity = Similarity { a: 1.0, b: 0.0, tx: 0.0, ty: 0.0 };

    /// Least-squares similarity taking `from[i]` to `to[i]` (closed form). `None` when the
    /// source points coincide.
    pub fn fit(from: &[[f32; 2]], to: &[[f32; 2]]) -> Option<Self> {
        let n = from.len().min(to.len());
        if n < 2 {
            return None;
        }
        let mean = |p: &[[f32; 2]]| {
            let (sx, sy) = p[..n]
                .iter()
                .fold((0.0f64, 0.0f64), |(x, y), q| (x + f64::from(q[0]), y + f64::from(q[1])));
            (sx / n as f64, sy / n as f64)
        };
        let (fx, fy) = mean(from);
        let (tx, ty) = mean(to);
        let (mut sxx, mut sab, mut sba) = (0.0f64, 0.0f64, 0.0f64);
        for i in 0..n {
            let (x, y) = (f64::from(from[i][0]) - fx, f64::from(from[i][1]) - fy);
            let (u, v) = (f64::from(to[i][0]) - tx, f64::from(to[i][1]) - ty);
            sxx += x * x + y * y;
            sab += x * u + y * v;
            sba += x * v - y * u;
        }
        if sxx <= 1e-9 {
            return None;
        }
        let a = sab / sxx;
        let b = sba / sxx;
        Some(Similarity {
            a: a as f32,
            b: b as f32,
            tx: (tx - (a * fx - b * fy)) as f32,
            ty: (ty - (b * fx + a * fy)) as f32,
        })
    }

    /// Maps a point.
    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        [self.a * p[0] - self.b * p[1] + self.tx, self.b * p[0] + self.a * p[1] + self.ty]
    }

    /// The inverse transform.
    pub fn inverse(&self) -> Self {
        let d = self.a * self.a + self.b * self.b;
        let (a, b) = (self.a / d, -self.b / d);
        Similarity { a, b, tx: -(a * self.tx - b * self.ty), ty: -(b * self.tx + a * self.ty) }
    }

    /// Scale factor.
    pub fn scale(&self) -> f32 {
        (self.a * self.a + self.b * self.b).sqrt()
    }

    /// `self ∘ other`: apply `other` first.
    pub fn then_after(&self, other: &Similarity) -> Similarity {
        Similarity {
            a: self.a * other.a - self.b * other.b,
            b: self.b * other.a + self.a * other.b,
            tx: self.a * other.tx - self.b * other.ty + self.tx,
            ty: self.b * other.tx + self.a * other.ty + self.ty,
        }
    }
}

/// Transform from image pixels to the canonical face frame for these landmarks.
pub fn image_to_canonical(landmarks: &Landmarks5) -> Option<Similarity> {
    Similarity::fit(landmarks, &CANONICAL)
}

/// Transform from patch pixel coordinates to canonical coordinates.
pub fn patch_to_canonical() -> Similarity {
    Similarity { a: PATCH_SCALE, b: 0.0, tx: PATCH_ORIGIN[0], ty: PATCH_ORIGIN[1] }
}

/// Transform from patch pixels to image pixels for a face with these landmarks.
pub fn patch_to_image(landmarks: &Landmarks5) -> Option<Similarity> {
    Some(image_to_canonical(landmarks)?.inverse().then_after(&patch_to_canonical()))
}

/// Bilinear sample of an RGBA image at pixel-centre coordinates; edge pixels are clamped.
pub fn sample_rgb(rgba: &[u8], width: usize, height: usize, x: f32, y: f32) -> [f32; 3] {
    let xf = x.clamp(0.0, (width - 1) as f32);
    let yf = y.clamp(0.0, (height - 1) as f32);
    let (x0, y0) = (xf.floor() as usize, yf.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(width - 1), (y0 + 1).min(height - 1));
    let (fx, fy) = (xf - x0 as f32, yf - y0 as f32);
    let px = |x: usize, y: usize, c: usize| f32::from(rgba[(y * width + x) * 4 + c]);
    let mut out = [0.0; 3];
    for (c, o) in out.iter_mut().enumerate() {
        let top = px(x0, y0, c) * (1.0 - fx) + px(x1, y0, c) * fx;
        let bottom = px(x0, y1, c) * (1.0 - fx) + px(x1, y1, c) * fx;
        *o = top * (1.0 - fy) + bottom * fy;
    }
    out
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
    let to_image = patch_to_image(landmarks)?;
    let mut rgb = Vec::with_capacity(PATCH_W * PATCH_H);
    for v in 0..PATCH_H {
        for u in 0..PATCH_W {
            let p = to_image.apply([u as f32, v as f32]);
            rgb.push(sample_rgb(rgba, width, height, p[0], p[1]));
        }
    }
    Some(Patch { rgb })
}

pub use crate::model::lip::Region;

/// The feathered edit mask in patch pixels (1 inside the region, 0 outside, a smooth ramp of
/// `feather` canonical units between). It is exactly 0 on the patch border, so nothing outside
/// the patch can change.
pub fn region_mask(region: Region, feather: f32) -> Vec<f32> {
    // Ellipse around the mouth centre in canonical units.
    let centre = [64.0f32, 106.0];
    let (rx, ry, cy) = match region {
        Region::Lips => (24.0f32, 13.0f32, centre[1]),
        Region::LipsJaw => (34.0, 26.0, centre[1] + 8.0),
    };
    let feather = feather.max(0.5);
    let to_canon = patch_to_canonical();
    let mut mask = Vec::with_capacity(PATCH_W * PATCH_H);
    for v in 0..PATCH_H {
        for u in 0..PATCH_W {
            let p = to_canon.apply([u as f32, v as f32]);
            let (dx, dy) = ((p[0] - centre[0]) / rx, (p[1] - cy) / ry);
            // Distance outside the ellipse, approximately in canonical units.
            let r = (dx * dx + dy * dy).sqrt();
            let outside = (r - 1.0) * rx.min(ry);
            let t = (1.0 - (outside + feather) / (2.0 * feather)).clamp(0.0, 1.0);
            let smooth = t * t * (3.0 - 2.0 * t);
            let border = u == 0 || v == 0 || u == PATCH_W - 1 || v == PATCH_H - 1;
            mask.push(if border { 0.0 } else { smooth });
        }
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_recovers_a_known_similarity() {
        let s = Similarity { a: 1.3 * 0.3f32.cos(), b: 1.3 * 0.3f32.sin(), tx: 40.0, ty: -7.0 };
        let to: Vec<[f32; 2]> = CANONICAL.iter().map(|&p| s.apply(p)).collect();
        let fit = Similarity::fit(&CANONICAL, &to).unwrap();
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
        assert!(far[0] > CANONICAL[4][0] && far[1] > CANONICAL[4][1] + 20.0);
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
        let lm: Landmarks5 = CANONICAL.map(|p| [p[0] + 50.0, p[1] + 20.0]);
        let patch = extract_patch(&rgba, w, h, &lm).unwrap();
        let p = patch.rgb[10 * PATCH_W + 20];
        let expect = patch_to_image(&lm).unwrap().apply([20.0, 10.0]);
        assert!((p[0] - expect[0]).abs() < 0.01 && (p[1] - expect[1]).abs() < 0.01);
    }
}
