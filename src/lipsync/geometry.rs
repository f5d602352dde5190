//! Mouth geometry: the canonical lower-face frame from 5 landmarks (a similarity transform), the
//! mouth patch's pixel grid in that frame, bilinear sampling, and the feathered region mask.

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

pub use crate::analysis::geometry::Similarity;
use crate::analysis::mouth::CANONICAL_LANDMARKS;

/// Transform from image pixels to the canonical face frame for these landmarks.
pub fn image_to_canonical(landmarks: &Landmarks5) -> Option<Similarity> {
    Similarity::fit(landmarks, &canonical())
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
}
