//! Mouth measures, one home: the canonical mouth crop and the per-frame mouth-motion energy
//! derived from it (here, for visual speech activity), and the lip shape, aperture, opening and
//! flicker measured on the lip patch ([`shape`], for the bank, sync checks and the CLI).
//!
//! Each face is brought to a canonical pose by the similarity transform that best maps a
//! reference 5-point layout onto its landmarks; the mouth region is then sampled on a fixed grid,
//! so what changes between two crops is the mouth itself, not the head's position, size or roll.

pub mod shape;

use crate::analysis::geometry::Similarity;
use crate::analysis::image::RgbImage;

/// Reference landmark layout in a 112×112 canonical face (the widely used ArcFace alignment
/// points): eyes, nose tip, mouth corners.
pub const CANONICAL_LANDMARKS: [[f32; 2]; 5] = [
    [38.2946, 51.6963],
    [73.5318, 51.5014],
    [56.0252, 71.7366],
    [41.5493, 92.3655],
    [70.7299, 92.2041],
];

/// Mouth region in canonical coordinates: `[x, y, width, height]`, a little wider than the mouth
/// corners, from just under the nostrils (which move with head pitch, not speech) to where the
/// lower lip reaches when the jaw drops.
pub const MOUTH_REGION: [f32; 4] = [28.0, 80.0, 56.0, 32.0];

/// Crop size in samples (one sample per canonical unit).
pub const CROP_W: usize = 56;
/// Crop height in samples.
pub const CROP_H: usize = 32;

/// The canonical → picture transform for a face's landmarks.
pub fn canonical_to_image(landmarks: &[[f32; 2]; 5]) -> Option<Similarity> {
    Similarity::fit(&CANONICAL_LANDMARKS, landmarks)
}

/// The mouth crop of a face: `CROP_W × CROP_H` luma samples, normalised to zero mean and unit
/// variance so lighting changes do not read as motion. `luma(x, y)` reads the picture at a
/// point in the landmarks' coordinates.
pub fn mouth_crop_with(
    landmarks: &[[f32; 2]; 5],
    luma: impl Fn(f32, f32) -> f32,
) -> Option<Vec<f32>> {
    let t = canonical_to_image(landmarks)?;
    let [x0, y0, w, h] = MOUTH_REGION;
    let (sx, sy) = (w / CROP_W as f32, h / CROP_H as f32);
    let mut crop = Vec::with_capacity(CROP_W * CROP_H);
    for j in 0..CROP_H {
        for i in 0..CROP_W {
            let [x, y] = t.apply([x0 + (i as f32 + 0.5) * sx, y0 + (j as f32 + 0.5) * sy]);
            crop.push(luma(x, y));
        }
    }
    let n = crop.len() as f32;
    let mean = crop.iter().sum::<f32>() / n;
    let var = crop.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let sd = var.sqrt().max(1.0);
    crop.iter_mut().for_each(|v| *v = (*v - mean) / sd);
    Some(crop)
}

/// [`mouth_crop_with`] on a whole picture whose pixel coordinates are the landmarks'.
pub fn mouth_crop(img: &RgbImage, landmarks: &[[f32; 2]; 5]) -> Option<Vec<f32>> {
    mouth_crop_with(landmarks, |x, y| img.luma_at(x - 0.5, y - 0.5))
}

/// Side of a [`LowerFacePatch`] in samples.
pub const PATCH_SIZE: usize = 96;

/// A square luma patch around a face's mouth, kept per tracked frame so the canonical crop can
/// be taken later, once the landmarks have been smoothed over the whole track (smoothing needs
/// future frames; keeping whole pictures until then would cost far more memory).
#[derive(Clone, Debug, PartialEq)]
pub struct LowerFacePatch {
    /// Top-left corner in full-resolution pixels.
    origin: [f32; 2],
    /// Full-resolution pixels per patch sample.
    step: f32,
    data: Vec<f32>,
}

impl LowerFacePatch {
    /// Samples the square of side `side` (full-resolution pixels) centred on `center` from the
    /// working picture `work`, which is the full picture scaled by `work_scale`.
    pub fn capture(work: &RgbImage, work_scale: f32, center: [f32; 2], side: f32) -> Self {
        let step = side / PATCH_SIZE as f32;
        let origin = [center[0] - 0.5 * side, center[1] - 0.5 * side];
        let mut data = Vec::with_capacity(PATCH_SIZE * PATCH_SIZE);
        for j in 0..PATCH_SIZE {
            for i in 0..PATCH_SIZE {
                let x = (origin[0] + i as f32 * step) * work_scale;
                let y = (origin[1] + j as f32 * step) * work_scale;
                data.push(work.luma_at(x - 0.5, y - 0.5));
            }
        }
        Self { origin, step, data }
    }

    /// Bytes of the patch (little-endian f32: origin, step, then the samples), bit-exact for
    /// [`LowerFacePatch::from_bytes`].
    pub fn to_bytes(&self) -> Vec<u8> {
        let head = [self.origin[0], self.origin[1], self.step];
        head.iter().chain(&self.data).flat_map(|v| v.to_le_bytes()).collect()
    }

    /// A patch from [`LowerFacePatch::to_bytes`]; `None` for bytes of another length.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::BYTES {
            return None;
        }
        let mut v = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect::<Vec<f32>>();
        let data = v.split_off(3);
        Some(Self { origin: [v[0], v[1]], step: v[2], data })
    }

    /// Length of [`LowerFacePatch::to_bytes`].
    pub const BYTES: usize = (3 + PATCH_SIZE * PATCH_SIZE) * 4;

    /// Luma at a full-resolution point, bilinear; the nearest edge sample outside the patch.
    pub fn luma_at(&self, x: f32, y: f32) -> f32 {
        let max = (PATCH_SIZE - 1) as f32;
        let u = ((x - self.origin[0]) / self.step).clamp(0.0, max);
        let v = ((y - self.origin[1]) / self.step).clamp(0.0, max);
        let (u0, v0) = (u.floor() as usize, v.floor() as usize);
        let (u1, v1) = ((u0 + 1).min(PATCH_SIZE - 1), (v0 + 1).min(PATCH_SIZE - 1));
        let (fu, fv) = (u - u0 as f32, v - v0 as f32);
        let p = |a: usize, b: usize| self.data[b * PATCH_SIZE + a];
        let top = p(u0, v0) * (1.0 - fu) + p(u1, v0) * fu;
        let bottom = p(u0, v1) * (1.0 - fu) + p(u1, v1) * fu;
        top * (1.0 - fv) + bottom * fv
    }
}

/// Motion energy between two consecutive crops: mean absolute difference.
pub fn motion_energy(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len()).max(1) as f32;
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / n
}

/// A face region that does not move with speech, in canonical coordinates `[x, y, w, h]`: the
/// nose bridge and the cheeks beside it, below the eyes (blinks) and above the nostrils and the
/// upper lip. What it "moves" after alignment is the face's own non-speech motion: residual head
/// motion the 5-point alignment does not remove, landmark noise, compression noise and lighting
/// flicker, the yardstick mouth motion is measured against.
pub const REFERENCE_REGION: [f32; 4] = [40.0, 56.0, 32.0, 20.0];

/// The raw luma samples (one per canonical unit) of `region` of a face; the crop's width is
/// `region[2]` samples. `luma(x, y)` reads the picture at a point in the landmarks' coordinates.
pub fn region_crop_with(
    landmarks: &[[f32; 2]; 5],
    region: [f32; 4],
    luma: impl Fn(f32, f32) -> f32,
) -> Option<Vec<f32>> {
    let t = canonical_to_image(landmarks)?;
    let (w, h) = (region[2].round().max(1.0) as usize, region[3].round().max(1.0) as usize);
    let mut crop = Vec::with_capacity(w * h);
    for j in 0..h {
        for i in 0..w {
            crop.push(luma_at_canonical(&t, region, i, j, &luma));
        }
    }
    Some(crop)
}

fn luma_at_canonical(
    t: &Similarity,
    region: [f32; 4],
    i: usize,
    j: usize,
    luma: &impl Fn(f32, f32) -> f32,
) -> f32 {
    let [x, y] = t.apply([region[0] + i as f32 + 0.5, region[1] + j as f32 + 0.5]);
    luma(x, y)
}

/// How far the picture content moved between two crops of the same region (row width `w`), in
/// canonical units: the normal-flow estimate Σ|ΔI| / Σ|∇I| (brightness constancy: a pattern
/// shifted by d changes each sample by about |∇I|·d). Unlike a plain frame difference it does not
/// grow with the region's contrast, so lips, teeth and a smooth cheek are measured on one scale.
pub fn normal_flow(a: &[f32], b: &[f32], w: usize) -> f32 {
    if w < 3 || a.len() != b.len() || a.len() < 3 * w {
        return 0.0;
    }
    let h = a.len() / w;
    let (mut diff, mut grad) = (0.0f32, 0.0f32);
    let g = |p: &[f32], i: usize| (0.5 * (p[i + 1] - p[i - 1])).hypot(0.5 * (p[i + w] - p[i - w]));
    for y in 1..h - 1 {
        for x in 1..w - 1 {
            let i = y * w + x;
            diff += (a[i] - b[i]).abs();
            grad += 0.5 * (g(a, i) + g(b, i));
        }
    }
    // A flat region has no measurable motion; one grey level of gradient per sample keeps the
    // ratio finite there.
    let n = ((w - 2) * (h - 2)) as f32;
    diff / grad.max(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crop_follows_the_face_not_the_frame() {
        // A picture with a dark bar between the canonical mouth corners, then the same picture
        // shifted and scaled: the crops must agree.
        let draw = |scale: f32, dx: f32| {
            let (w, h) = (240, 240);
            let mut data = vec![200u8; w * h * 3];
            for y in 0..h {
                for x in 0..w {
                    let cx = (x as f32 - dx) / scale;
                    let cy = y as f32 / scale;
                    if (44.0..68.0).contains(&cx) && (90.0..95.0).contains(&cy) {
                        data[(y * w + x) * 3..(y * w + x) * 3 + 3].copy_from_slice(&[20, 20, 20]);
                    }
                }
            }
            let img = RgbImage { width: w, height: h, data };
            let marks = CANONICAL_LANDMARKS.map(|[x, y]| [x * scale + dx, y * scale]);
            mouth_crop(&img, &marks).unwrap()
        };
        let a = draw(1.5, 0.0);
        let b = draw(1.5, 30.0);
        let c = draw(2.0, 10.0);
        assert!(motion_energy(&a, &b) < 0.05, "{}", motion_energy(&a, &b));
        assert!(motion_energy(&a, &c) < 0.25, "{}", motion_energy(&a, &c));
    }

    #[test]
    fn normal_flow_reads_a_shift_in_samples_whatever_the_contrast() {
        // A smooth ramp pattern shifted by 0.5 sample reads about 0.5, at low and high contrast.
        let w = 20;
        let pattern = |shift: f32, amp: f32| -> Vec<f32> {
            (0..w * 10)
                .map(|k| {
                    let x = (k % w) as f32 - shift;
                    let y = (k / w) as f32;
                    amp * ((x * 0.3).sin() + (y * 0.2).cos())
                })
                .collect()
        };
        for amp in [20.0, 80.0] {
            let f = normal_flow(&pattern(0.0, amp), &pattern(0.5, amp), w);
            assert!((0.3..0.7).contains(&f), "amp {amp}: {f}");
            assert!(normal_flow(&pattern(0.0, amp), &pattern(0.0, amp), w) < 1e-6);
        }
        // A flat patch does not divide by zero.
        assert_eq!(normal_flow(&vec![5.0; 60], &vec![5.0; 60], w), 0.0);
    }
}
