//! Lip contours from MediaPipe Face Mesh (`models/facemesh.toml`): the 468-point mesh run on a
//! rotated square crop of a face found by MTCNN, reduced to the 20-point outer and 20-point inner
//! lip contours, the eye centres, and measures normalised by the eye distance.
//!
//! The crop follows the face: it is turned so the eye line is level (the network expects an
//! upright face, and a tilted head otherwise reads as a changed mouth), centred a little above
//! the middle of the face and about 1.5 face sizes wide, as the network was trained. A second
//! pass re-crops from the mesh's own points (the framing MediaPipe uses when tracking), which
//! no longer depends on where MTCNN put its five points.

use super::AnalysisError;
use super::geometry::Similarity;
use super::image::RgbImage;
use crate::inference::{Model, Registry};
use ndarray::Array4;
use serde::Serialize;

/// The model file, as declared in `models/facemesh.toml`.
pub const MODEL_FILE: &str = "face_landmark.onnx";
/// Side of the network's square input, in pixels.
pub const INPUT_SIZE: usize = 192;
/// Points in the mesh.
pub const MESH_POINTS: usize = 468;

/// Outer lip contour, mesh indices: left corner (61), along the lower lip to the right corner
/// (291), back along the upper lip. Index 5 (17) is the lower middle, 15 (0) the upper middle.
pub const OUTER_LIP: [usize; 20] =
    [61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185];
/// Inner lip contour (where the lips meet), mesh indices, in the same order as [`OUTER_LIP`]:
/// left inner corner (78), lower lip, right inner corner (308), upper lip. Index 5 (14) is the
/// lower middle, 15 (13) the upper middle.
pub const INNER_LIP: [usize; 20] =
    [78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191];
/// Position in [`OUTER_LIP`] / [`INNER_LIP`] of the left corner.
pub const LEFT: usize = 0;
/// Position of the lower middle point (outer 17, inner 14).
pub const LOWER: usize = 5;
/// Position of the right corner.
pub const RIGHT: usize = 10;
/// Position of the upper middle point (outer 0, inner 13).
pub const UPPER: usize = 15;

/// The eye on the picture's left (the person's right eye), mesh contour indices.
const EYE_IMAGE_LEFT: [usize; 16] =
    [33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246];
/// The eye on the picture's right (the person's left eye).
const EYE_IMAGE_RIGHT: [usize; 16] =
    [263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466];
/// Outer eye corners: the mesh's own roll reference when re-cropping.
const EYE_CORNERS: [usize; 2] = [33, 263];

/// Below this face-presence probability the crop is taken to hold no face.
pub const MIN_PRESENCE: f32 = 0.5;

/// Crop side over the mesh's bounding box, as MediaPipe frames a tracked face.
const MESH_BOX_SCALE: f32 = 1.5;
/// First-pass crop from the five MTCNN points, in units of the face frame (eye centres one unit
/// apart horizontally; see [`Crop::from_landmarks5`]): side and the centre's drop below the
/// eye midpoint, measured on the mesh's own re-crop (second pass) over the shared clips.
const SIDE_PER_EYE_DISTANCE: f32 = 3.9;
/// The same side measured against the eye-to-mouth height, for faces turned sideways (whose
/// eye distance shrinks while the height does not).
const SIDE_PER_EYE_MOUTH: f32 = 3.6;
/// Centre below the eye midpoint, as a fraction of the eye-to-mouth height.
const CENTRE_DROP: f32 = 0.45;

/// Where the network looks: crop pixels (`0..INPUT_SIZE`, continuous, `(0, 0)` the crop's
/// top-left corner) to picture coordinates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Crop {
    /// Crop → picture.
    pub to_image: Similarity,
}

impl Crop {
    /// A square of `side` picture pixels centred on `centre`, its x axis along `angle` (radians,
    /// picture coordinates: y down).
    pub fn new(centre: [f32; 2], side: f32, angle: f32) -> Self {
        let k = side / INPUT_SIZE as f32;
        let (a, b) = (k * angle.cos(), k * angle.sin());
        let h = INPUT_SIZE as f32 / 2.0;
        let tx = centre[0] - (a * h - b * h);
        let ty = centre[1] - (b * h + a * h);
        Self { to_image: Similarity { a, b, tx, ty } }
    }

    /// The first-pass crop from MTCNN's five points (eyes, nose tip, mouth corners): level with
    /// the eye line, centred a little above the middle of the face, about 1.5 face sizes wide.
    /// `None` when the eyes coincide.
    pub fn from_landmarks5(lm: &[[f32; 2]; 5]) -> Option<Self> {
        let eye = midpoint(lm[0], lm[1]);
        let mouth = midpoint(lm[3], lm[4]);
        let (dx, dy) = (lm[1][0] - lm[0][0], lm[1][1] - lm[0][1]);
        let d = dx.hypot(dy);
        if d.is_nan() || d <= 1e-3 {
            return None;
        }
        let angle = dy.atan2(dx);
        // Eye-to-mouth height across the eye line (positive downwards in the face).
        let (ux, uy) = (dx / d, dy / d);
        let h = ((mouth[0] - eye[0]) * -uy + (mouth[1] - eye[1]) * ux).max(0.0);
        let side = (SIDE_PER_EYE_DISTANCE * d).max(SIDE_PER_EYE_MOUTH * h);
        let drop = CENTRE_DROP * h;
        let centre = [eye[0] - uy * drop, eye[1] + ux * drop];
        Some(Self::new(centre, side, angle))
    }

    /// The crop MediaPipe tracks a face with: level with the outer eye corners (33, 263), the
    /// mesh's bounding box in that frame, enlarged 1.5 times and squared. `None` for a
    /// degenerate mesh.
    pub fn from_mesh(points: &[[f32; 3]]) -> Option<Self> {
        if points.len() < MESH_POINTS {
            return None;
        }
        let (l, r) = (points[EYE_CORNERS[0]], points[EYE_CORNERS[1]]);
        let (dx, dy) = (r[0] - l[0], r[1] - l[1]);
        let d = dx.hypot(dy);
        if d.is_nan() || d <= 1e-3 {
            return None;
        }
        let (c, s) = (dx / d, dy / d);
        // Bounding box in the face-level frame (rotate by −angle).
        let (mut u0, mut u1, mut v0, mut v1) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for p in &points[..MESH_POINTS] {
            let u = c * p[0] + s * p[1];
            let v = -s * p[0] + c * p[1];
            u0 = u0.min(u);
            u1 = u1.max(u);
            v0 = v0.min(v);
            v1 = v1.max(v);
        }
        let (um, vm) = (0.5 * (u0 + u1), 0.5 * (v0 + v1));
        let centre = [c * um - s * vm, s * um + c * vm];
        let side = MESH_BOX_SCALE * (u1 - u0).max(v1 - v0);
        (side.is_finite() && side > 1.0).then(|| Self::new(centre, side, s.atan2(c)))
    }

    /// Picture pixels per crop pixel.
    pub fn scale(&self) -> f32 {
        self.to_image.scale()
    }
}

/// The whole mesh of one face, in picture coordinates.
#[derive(Clone, Debug, PartialEq)]
pub struct Mesh {
    /// [`MESH_POINTS`] points: x, y in picture pixels, z (relative depth) in picture pixels too.
    pub points: Vec<[f32; 3]>,
    /// Face-presence probability, 0..1.
    pub presence: f32,
    /// The crop the mesh was found in.
    pub crop: Crop,
}

/// The lips of one face in one picture: contours in picture coordinates plus the eye centres
/// that normalise them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LipLandmarks {
    /// Outer lip contour ([`OUTER_LIP`] order), picture pixels.
    pub outer: [[f32; 2]; 20],
    /// Inner lip contour ([`INNER_LIP`] order), picture pixels.
    pub inner: [[f32; 2]; 20],
    /// Eye centres (mean of each mesh eye contour): the one on the picture's left first.
    pub eyes: [[f32; 2]; 2],
    /// Face-presence probability of the crop, 0..1.
    pub presence: f32,
}

/// Points in a [`LipLandmarks::shape`] vector: the outer then the inner contour.
pub const SHAPE_POINTS: usize = 40;

impl LipLandmarks {
    /// From a mesh in picture coordinates.
    pub fn from_mesh(mesh: &Mesh) -> Option<Self> {
        let p = &mesh.points;
        if p.len() < MESH_POINTS {
            return None;
        }
        let xy = |i: usize| [p[i][0], p[i][1]];
        let mean = |idx: &[usize]| {
            let s = idx.iter().fold([0f32; 2], |a, &i| [a[0] + p[i][0], a[1] + p[i][1]]);
            [s[0] / idx.len() as f32, s[1] / idx.len() as f32]
        };
        Some(Self {
            outer: OUTER_LIP.map(xy),
            inner: INNER_LIP.map(xy),
            eyes: [mean(&EYE_IMAGE_LEFT), mean(&EYE_IMAGE_RIGHT)],
            presence: mesh.presence,
        })
    }

    /// Distance between the eye centres, picture pixels.
    pub fn eye_distance(&self) -> f32 {
        dist(self.eyes[0], self.eyes[1])
    }

    /// Outer mouth corners (61, 291): picture-left first.
    pub fn corners(&self) -> [[f32; 2]; 2] {
        [self.outer[LEFT], self.outer[RIGHT]]
    }

    /// Inner-lip opening (13 to 14) over the eye distance: about 0 for closed lips.
    pub fn inner_opening(&self) -> f32 {
        dist(self.inner[UPPER], self.inner[LOWER]) / self.eye_distance().max(1e-6)
    }

    /// Mouth width (61 to 291) over the eye distance.
    pub fn mouth_width(&self) -> f32 {
        dist(self.outer[LEFT], self.outer[RIGHT]) / self.eye_distance().max(1e-6)
    }

    /// The middle of the outer mouth corners: the origin of [`LipLandmarks::shape`]. The corners
    /// move little with the jaw, so opening the mouth reads as both lips moving apart.
    pub fn mouth_centre(&self) -> [f32; 2] {
        midpoint(self.outer[LEFT], self.outer[RIGHT])
    }

    /// Picture → face frame: origin at [`LipLandmarks::mouth_centre`], x along the eye line
    /// (picture-left eye to picture-right eye), y down the face, one unit = the eye distance.
    pub fn to_face_frame(&self) -> Similarity {
        let (dx, dy) = (self.eyes[1][0] - self.eyes[0][0], self.eyes[1][1] - self.eyes[0][1]);
        let d2 = (dx * dx + dy * dy).max(1e-12);
        // Rotation by −angle and scale 1/d: (a, b) = (cos, −sin) / d.
        let (a, b) = (dx / d2, -dy / d2);
        let c = self.mouth_centre();
        Similarity { a, b, tx: -(a * c[0] - b * c[1]), ty: -(b * c[0] + a * c[1]) }
    }

    /// Pose-normalised lip shape: the outer then the inner contour in the face frame of
    /// [`LipLandmarks::to_face_frame`] (mouth centre at the origin, eye line level, eye
    /// distance 1), comparable across head position, size and roll.
    pub fn shape(&self) -> [[f32; 2]; SHAPE_POINTS] {
        let t = self.to_face_frame();
        let mut out = [[0f32; 2]; SHAPE_POINTS];
        for (o, p) in out.iter_mut().zip(self.outer.iter().chain(&self.inner)) {
            *o = t.apply(*p);
        }
        out
    }
}

/// The Face Mesh network and its input buffer; one per worker (sessions are not shared).
#[derive(Debug)]
pub struct FaceMesh {
    model: Model,
    input: Array4<f32>,
    refine: bool,
}

impl FaceMesh {
    /// Opens `face_landmark.onnx` from a registry (hash and signature checked).
    pub fn load(registry: &Registry) -> Result<Self, AnalysisError> {
        Ok(Self {
            model: registry.open(MODEL_FILE)?,
            input: Array4::zeros((1, 3, INPUT_SIZE, INPUT_SIZE)),
            refine: true,
        })
    }

    /// Opens it from the models folder the detector uses ([`Registry::installed`]).
    pub fn load_default() -> Result<Self, AnalysisError> {
        Self::load(&Registry::installed()?)
    }

    /// Whether [`FaceMesh::lips`] runs the second pass (re-crop from the first mesh); on by
    /// default.
    pub fn set_refine(&mut self, refine: bool) {
        self.refine = refine;
    }

    /// The execution provider the network runs on.
    pub fn provider(&self) -> &'static str {
        self.model.provider()
    }

    /// Runs the network on one crop of `img` and maps the mesh back to picture coordinates.
    pub fn mesh(&mut self, img: &RgbImage, crop: &Crop) -> Result<Mesh, AnalysisError> {
        sample_crop(img, crop, &mut self.input);
        let out = self.model.run(&[("input_1", self.input.view().into_dyn())])?;
        let get = |name: &str| {
            out.get(name)
                .ok_or_else(|| AnalysisError::Model(format!("{MODEL_FILE}: no output {name}")))
        };
        let raw = get("conv2d_20")?;
        let logit = get("conv2d_30")?.iter().next().copied().unwrap_or(f32::NEG_INFINITY);
        let raw: Vec<f32> = raw.iter().copied().collect();
        if raw.len() != MESH_POINTS * 3 {
            return Err(AnalysisError::Model(format!(
                "{MODEL_FILE}: conv2d_20 holds {} values, expected {}",
                raw.len(),
                MESH_POINTS * 3
            )));
        }
        let t = crop.to_image;
        let k = t.scale();
        let points = raw
            .chunks_exact(3)
            .map(|p| {
                let [x, y] = t.apply([p[0], p[1]]);
                [x, y, p[2] * k]
            })
            .collect();
        Ok(Mesh { points, presence: sigmoid(logit), crop: *crop })
    }

    /// The full mesh of the face whose MTCNN landmarks are `landmarks5`: first pass on the crop
    /// from the landmarks, second (when refining) on the crop from that mesh. `None` when the
    /// landmarks are degenerate or the network sees no face.
    pub fn face_mesh(
        &mut self,
        img: &RgbImage,
        landmarks5: &[[f32; 2]; 5],
    ) -> Result<Option<Mesh>, AnalysisError> {
        let Some(crop) = Crop::from_landmarks5(landmarks5) else { return Ok(None) };
        let mut mesh = self.mesh(img, &crop)?;
        if self.refine
            && mesh.presence >= MIN_PRESENCE
            && let Some(again) = Crop::from_mesh(&mesh.points)
        {
            mesh = self.mesh(img, &again)?;
        }
        Ok((mesh.presence >= MIN_PRESENCE).then_some(mesh))
    }

    /// The lips of the face whose MTCNN landmarks (eyes, nose tip, mouth corners; picture
    /// pixels) are `landmarks5`. `None` when the landmarks are degenerate or the network sees
    /// no face there.
    pub fn lips(
        &mut self,
        img: &RgbImage,
        landmarks5: &[[f32; 2]; 5],
    ) -> Result<Option<LipLandmarks>, AnalysisError> {
        Ok(self.face_mesh(img, landmarks5)?.as_ref().and_then(LipLandmarks::from_mesh))
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn midpoint(a: [f32; 2], b: [f32; 2]) -> [f32; 2] {
    [0.5 * (a[0] + b[0]), 0.5 * (a[1] + b[1])]
}

fn dist(a: [f32; 2], b: [f32; 2]) -> f32 {
    (a[0] - b[0]).hypot(a[1] - b[1])
}

/// Fills the network input (NCHW, RGB in 0..1) from the crop of `img`. Each crop pixel averages
/// `n × n` bilinear samples spread over its footprint, `n` growing with the reduction, so a
/// large face shrunk to 192 pixels does not alias. Outside the picture the edge repeats.
fn sample_crop(img: &RgbImage, crop: &Crop, input: &mut Array4<f32>) {
    let t = crop.to_image;
    let n = (t.scale().ceil() as usize).clamp(1, 4);
    let step = 1.0 / n as f32;
    let norm = 1.0 / (255.0 * (n * n) as f32);
    let plane = INPUT_SIZE * INPUT_SIZE;
    // The input is [1, 3, S, S] in standard layout: three planes written through one slice
    // (indexing the 4-D array per value was most of the sampling's time).
    let Some(out) = input.as_slice_mut().filter(|o| o.len() == 3 * plane) else {
        return;
    };
    for j in 0..INPUT_SIZE {
        for i in 0..INPUT_SIZE {
            let mut acc = [0f32; 3];
            for sj in 0..n {
                for si in 0..n {
                    let u = i as f32 + (si as f32 + 0.5) * step;
                    let v = j as f32 + (sj as f32 + 0.5) * step;
                    let [x, y] = t.apply([u, v]);
                    let rgb = bilinear(img, x, y);
                    acc[0] += rgb[0];
                    acc[1] += rgb[1];
                    acc[2] += rgb[2];
                }
            }
            let k = j * INPUT_SIZE + i;
            out[k] = acc[0] * norm;
            out[plane + k] = acc[1] * norm;
            out[2 * plane + k] = acc[2] * norm;
        }
    }
}

/// RGB at continuous picture coordinates (pixel `(x, y)` covers `[x, x+1) × [y, y+1)`), edge
/// pixels repeated outside.
fn bilinear(img: &RgbImage, x: f32, y: f32) -> [f32; 3] {
    if img.width == 0 || img.height == 0 {
        return [0.0; 3];
    }
    let (x, y) = (x - 0.5, y - 0.5);
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (wmax, hmax) = (img.width as i64 - 1, img.height as i64 - 1);
    let (xa, ya) = (x0 as i64, y0 as i64);
    if xa >= 0 && ya >= 0 && xa < wmax && ya < hmax {
        // Inside: the four pixels without clamping (the same sums as below).
        let (w, xa, ya) = (img.width, xa as usize, ya as usize);
        let k0 = (ya * w + xa) * 3;
        let k1 = k0 + w * 3;
        if let (Some(r0), Some(r1)) = (img.data.get(k0..k0 + 6), img.data.get(k1..k1 + 6)) {
            let mut out = [0f32; 3];
            for c in 0..3 {
                let (p00, p10) = (f32::from(r0[c]), f32::from(r0[c + 3]));
                let (p01, p11) = (f32::from(r1[c]), f32::from(r1[c + 3]));
                let top = p00 + (p10 - p00) * fx;
                let bottom = p01 + (p11 - p01) * fx;
                out[c] = top + (bottom - top) * fy;
            }
            return out;
        }
    }
    let px = |xi: i64, yi: i64| -> [f32; 3] {
        let (xi, yi) = (xi.clamp(0, wmax) as usize, yi.clamp(0, hmax) as usize);
        let k = (yi * img.width + xi) * 3;
        let d = &img.data[k..k + 3];
        [f32::from(d[0]), f32::from(d[1]), f32::from(d[2])]
    };
    let (p00, p10, p01, p11) = (px(xa, ya), px(xa + 1, ya), px(xa, ya + 1), px(xa + 1, ya + 1));
    let mut out = [0f32; 3];
    for c in 0..3 {
        let top = p00[c] + (p10[c] - p00[c]) * fx;
        let bottom = p01[c] + (p11[c] - p01[c]) * fx;
        out[c] = top + (bottom - top) * fy;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: [f32; 2], b: [f32; 2]) -> bool {
        (a[0] - b[0]).abs() < 1e-3 && (a[1] - b[1]).abs() < 1e-3
    }

    #[test]
    fn a_crop_maps_its_centre_and_axes() {
        let c = Crop::new([100.0, 50.0], 384.0, std::f32::consts::FRAC_PI_2);
        let h = INPUT_SIZE as f32 / 2.0;
        assert!(close(c.to_image.apply([h, h]), [100.0, 50.0]));
        // Crop x runs down the picture when turned by 90°, two picture pixels per crop pixel.
        assert!(close(c.to_image.apply([h + 1.0, h]), [100.0, 52.0]));
        assert!(close(c.to_image.apply([h, h + 1.0]), [98.0, 50.0]));
        assert!((c.scale() - 2.0).abs() < 1e-5);
    }

    #[test]
    fn the_first_crop_turns_with_the_eye_line() {
        let level = [[40.0, 50.0], [80.0, 50.0], [60.0, 70.0], [45.0, 90.0], [75.0, 90.0]];
        let a = Crop::from_landmarks5(&level).unwrap();
        // Rotate the whole face by 30° about (60, 70): the crop rotates with it.
        let rot = |p: [f32; 2]| {
            let (s, c) = 30f32.to_radians().sin_cos();
            let (x, y) = (p[0] - 60.0, p[1] - 70.0);
            [60.0 + c * x - s * y, 70.0 + s * x + c * y]
        };
        let b = Crop::from_landmarks5(&level.map(rot)).unwrap();
        for p in [[0.0, 0.0], [96.0, 96.0], [191.0, 20.0]] {
            assert!(close(b.to_image.apply(p), rot(a.to_image.apply(p))));
        }
        assert!(Crop::from_landmarks5(&[[1.0, 1.0]; 5]).is_none());
    }

    #[test]
    fn the_face_frame_levels_centres_and_scales() {
        let mut lips = LipLandmarks {
            outer: [[0.0; 2]; 20],
            inner: [[0.0; 2]; 20],
            eyes: [[10.0, 10.0], [10.0, 30.0]],
            presence: 1.0,
        };
        // A face turned by 90°: the eye line runs down the picture.
        lips.outer[LEFT] = [-20.0, 10.0];
        lips.outer[RIGHT] = [-20.0, 30.0];
        lips.inner[UPPER] = [-18.0, 20.0];
        lips.inner[LOWER] = [-24.0, 20.0];
        assert!((lips.mouth_width() - 1.0).abs() < 1e-5);
        assert!((lips.inner_opening() - 0.3).abs() < 1e-5);
        let s = lips.shape();
        assert!(close(s[LEFT], [-0.5, 0.0]) && close(s[RIGHT], [0.5, 0.0]), "{s:?}");
        // The upper lip is above (negative y) the lower one in the face frame.
        assert!(close(s[20 + UPPER], [0.0, -0.1]) && close(s[20 + LOWER], [0.0, 0.2]), "{s:?}");
    }

    #[test]
    fn the_mesh_crop_is_the_box_enlarged() {
        let mut pts = vec![[0f32; 3]; MESH_POINTS];
        for (i, p) in pts.iter_mut().enumerate() {
            *p = [100.0 + (i % 11) as f32 * 10.0, 200.0 + (i % 7) as f32 * 20.0, 0.0];
        }
        pts[33] = [120.0, 230.0, 0.0];
        pts[263] = [180.0, 230.0, 0.0];
        let c = Crop::from_mesh(&pts).unwrap();
        let h = INPUT_SIZE as f32 / 2.0;
        assert!(close(c.to_image.apply([h, h]), [150.0, 260.0]));
        assert!((c.scale() * INPUT_SIZE as f32 - 180.0).abs() < 1e-3);
    }
}
