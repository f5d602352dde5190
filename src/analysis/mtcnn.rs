//! MTCNN face detection (Zhang et al., 2016) on the three ONNX stages declared in
//! `models/mtcnn.toml`: a P-Net scan over an image pyramid proposes boxes, R-Net rejects most of
//! them and refines the rest, O-Net scores the survivors and places five landmarks.
//!
//! The graphs come from a Keras port whose spatial axes are swapped: every tensor is
//! `[batch, width, height, 3]`, so pictures are written column by column, and P-Net's output
//! maps are indexed `[0, x, y, c]`.

use super::AnalysisError;
use super::geometry::{BBox, Overlap, nms};
use super::image::RgbImage;
use crate::inference::{Model, Registry};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};

/// One detected face, in the coordinates of the picture it was found in.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    /// Face box.
    pub bbox: BBox,
    /// O-Net face probability.
    pub score: f32,
    /// Left eye, right eye (as seen in the picture), nose tip, left and right mouth corner.
    pub landmarks: [[f32; 2]; 5],
}

impl Detection {
    /// Maps the detection by a uniform scale (working resolution ↔ full resolution).
    pub fn scaled(&self, s: f32) -> Detection {
        Detection {
            bbox: self.bbox.scaled(s),
            score: self.score,
            landmarks: self.landmarks.map(|[x, y]| [x * s, y * s]),
        }
    }
}

/// Detector settings; the defaults are MTCNN's published ones.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MtcnnParams {
    /// Smallest face searched for, in pixels of the picture given to [`Mtcnn::detect`].
    pub min_face: f32,
    /// Ratio between pyramid levels.
    pub scale_factor: f32,
    /// Score thresholds of P-Net, R-Net, O-Net.
    pub thresholds: [f32; 3],
}

impl Default for MtcnnParams {
    fn default() -> Self {
        Self { min_face: 20.0, scale_factor: 0.709, thresholds: [0.6, 0.7, 0.7] }
    }
}

/// The three stages, loaded and checked.
#[derive(Debug)]
pub struct Mtcnn {
    pnet: Model,
    rnet: Model,
    onet: Model,
    /// Settings used by [`Mtcnn::detect`].
    pub params: MtcnnParams,
}

/// P-Net sees 12×12 windows with a stride of 2.
const CELL: f32 = 12.0;
const STRIDE: f32 = 2.0;

/// Pixel normalisation the networks were trained with.
fn norm(v: f32) -> f32 {
    (v - 127.5) * 0.0078125
}

impl Mtcnn {
    /// Opens `pnet.onnx`, `rnet.onnx` and `onet.onnx` from the registry.
    pub fn load(registry: &Registry) -> Result<Self, AnalysisError> {
        Ok(Self {
            pnet: registry.open("pnet.onnx")?,
            rnet: registry.open("rnet.onnx")?,
            onet: registry.open("onet.onnx")?,
            params: MtcnnParams::default(),
        })
    }

    /// The execution provider the stages run on.
    pub fn provider(&self) -> &'static str {
        self.onet.provider()
    }

    /// Pyramid scales: the first maps `min_face` to P-Net's 12-pixel window, each next one
    /// shrinks by `scale_factor` until the picture is smaller than a window.
    fn scales(&self, width: usize, height: usize) -> Vec<f32> {
        let m = CELL / self.params.min_face.max(1.0);
        let mut side = width.min(height) as f32 * m;
        let mut s = m;
        let mut out = Vec::new();
        while side >= CELL {
            out.push(s);
            s *= self.params.scale_factor;
            side *= self.params.scale_factor;
        }
        out
    }

    /// All faces in a picture, strongest first.
    pub fn detect(&mut self, img: &RgbImage) -> Result<Vec<Detection>, AnalysisError> {
        let proposals = self.stage_p(img)?;
        if proposals.is_empty() {
            return Ok(Vec::new());
        }
        let refined = self.stage_r(img, &proposals)?;
        if refined.is_empty() {
            return Ok(Vec::new());
        }
        let mut dets = self.stage_o(img, &refined)?;
        let boxes: Vec<BBox> = dets.iter().map(|d| d.bbox).collect();
        let scores: Vec<f32> = dets.iter().map(|d| d.score).collect();
        let keep = nms(&boxes, &scores, 0.7, Overlap::Min);
        dets = keep.into_iter().map(|i| dets[i]).collect();
        Ok(dets)
    }

    /// O-Net alone on boxes known from a previous frame: the cheap path used between full
    /// detections. Boxes whose face score falls below the O-Net threshold are dropped.
    pub fn refine(
        &mut self,
        img: &RgbImage,
        boxes: &[BBox],
    ) -> Result<Vec<Option<Detection>>, AnalysisError> {
        if boxes.is_empty() {
            return Ok(Vec::new());
        }
        let squares: Vec<BBox> = boxes.iter().map(|b| whole_pixels(&cascade_square(b))).collect();
        let (scores, regs, marks) = self.run_onet(img, &squares)?;
        Ok((0..squares.len())
            .map(|i| {
                (scores[i] > self.params.thresholds[2])
                    .then(|| onet_detection(&squares[i], scores[i], regs[i], marks[i]))
            })
            .collect())
    }

    fn stage_p(&mut self, img: &RgbImage) -> Result<Vec<BBox>, AnalysisError> {
        let mut boxes = Vec::new();
        let mut scores = Vec::new();
        let mut regs = Vec::new();
        let threshold = self.params.thresholds[0];
        for s in self.scales(img.width, img.height) {
            let w = (img.width as f32 * s).ceil() as usize;
            let h = (img.height as f32 * s).ceil() as usize;
            if w < 12 || h < 12 {
                continue;
            }
            let mut rgb = Vec::with_capacity(w * h * 3);
            img.crop_resize_into([0.0, 0.0, img.width as f32, img.height as f32], w, h, &mut rgb);
            let tensor = transposed_batch(&rgb, 1, w, h)?;
            let out = self.pnet.run(&[("input_1", tensor.view())])?;
            let prob = output(&out, "softmax", "pnet.onnx")?;
            let reg = output(&out, "conv2d_4", "pnet.onnx")?;
            let shape = prob.shape();
            if shape.len() != 4 || reg.shape().len() != 4 {
                return Err(AnalysisError::Model("pnet.onnx: unexpected output rank".into()));
            }
            let (gw, gh) = (shape[1], shape[2]);
            let mut level_boxes = Vec::new();
            let mut level_scores = Vec::new();
            let mut level_regs = Vec::new();
            for gx in 0..gw {
                for gy in 0..gh {
                    let p = prob[[0, gx, gy, 1]];
                    if p < threshold {
                        continue;
                    }
                    // The window in whole source pixels, as the cascade was trained.
                    let edge = |g: usize, off: f32| ((STRIDE * g as f32 + off) / s).trunc();
                    level_boxes.push(BBox {
                        x1: edge(gx, 1.0) - 1.0,
                        y1: edge(gy, 1.0) - 1.0,
                        x2: edge(gx, CELL),
                        y2: edge(gy, CELL),
                    });
                    level_scores.push(p);
                    level_regs.push([
                        reg[[0, gx, gy, 0]],
                        reg[[0, gx, gy, 1]],
                        reg[[0, gx, gy, 2]],
                        reg[[0, gx, gy, 3]],
                    ]);
                }
            }
            for i in nms(&level_boxes, &level_scores, 0.5, Overlap::Union) {
                boxes.push(level_boxes[i]);
                scores.push(level_scores[i]);
                regs.push(level_regs[i]);
            }
        }
        Ok(nms(&boxes, &scores, 0.7, Overlap::Union)
            .into_iter()
            .map(|i| {
                // P-Net's offsets are relative to the window size minus one pixel.
                let b = boxes[i];
                let d = regs[i];
                let (w, h) = (b.width() - 1.0, b.height() - 1.0);
                let moved = BBox {
                    x1: b.x1 + d[0] * w,
                    y1: b.y1 + d[1] * h,
                    x2: b.x2 + d[2] * w,
                    y2: b.y2 + d[3] * h,
                };
                whole_pixels(&cascade_square(&moved))
            })
            .collect())
    }

    fn stage_r(&mut self, img: &RgbImage, boxes: &[BBox]) -> Result<Vec<BBox>, AnalysisError> {
        let batch = crops(img, boxes, 24)?;
        let out = self.rnet.run(&[("input_2", batch.view())])?;
        let prob = output(&out, "softmax_1", "rnet.onnx")?;
        let reg = output(&out, "dense_2", "rnet.onnx")?;
        let mut kept = Vec::new();
        let mut scores = Vec::new();
        let mut regs = Vec::new();
        for (i, b) in boxes.iter().enumerate() {
            let p = prob[[i, 1]];
            if p > self.params.thresholds[1] {
                kept.push(*b);
                scores.push(p);
                regs.push([reg[[i, 0]], reg[[i, 1]], reg[[i, 2]], reg[[i, 3]]]);
            }
        }
        // As in the original cascade, suppression compares the boxes R-Net was shown; each
        // survivor is then moved by its own regression.
        Ok(nms(&kept, &scores, 0.7, Overlap::Union)
            .into_iter()
            .map(|i| whole_pixels(&cascade_square(&kept[i].regressed(regs[i]))))
            .collect())
    }

    fn stage_o(&mut self, img: &RgbImage, boxes: &[BBox]) -> Result<Vec<Detection>, AnalysisError> {
        let (scores, regs, marks) = self.run_onet(img, boxes)?;
        Ok((0..boxes.len())
            .filter(|&i| scores[i] > self.params.thresholds[2])
            .map(|i| onet_detection(&boxes[i], scores[i], regs[i], marks[i]))
            .collect())
    }

    #[allow(clippy::type_complexity)]
    fn run_onet(
        &mut self,
        img: &RgbImage,
        boxes: &[BBox],
    ) -> Result<(Vec<f32>, Vec<[f32; 4]>, Vec<[f32; 10]>), AnalysisError> {
        let batch = crops(img, boxes, 48)?;
        let out = self.onet.run(&[("input_3", batch.view())])?;
        let prob = output(&out, "softmax_2", "onet.onnx")?;
        let reg = output(&out, "dense_5", "onet.onnx")?;
        let pts = output(&out, "dense_6", "onet.onnx")?;
        let n = boxes.len();
        let scores = (0..n).map(|i| prob[[i, 1]]).collect();
        let regs = (0..n).map(|i| [reg[[i, 0]], reg[[i, 1]], reg[[i, 2]], reg[[i, 3]]]).collect();
        let marks = (0..n).map(|i| std::array::from_fn(|k| pts[[i, k]])).collect();
        Ok((scores, regs, marks))
    }
}

/// The square each stage hands to the next: same top-left-anchored centre as the original
/// cascade (which measures sizes one pixel short, in inclusive pixel coordinates), side = the
/// longer side. Matching those pixel conventions keeps borderline candidates scoring as the
/// networks were calibrated.
fn cascade_square(b: &BBox) -> BBox {
    let (w, h) = (b.width() - 1.0, b.height() - 1.0);
    let l = w.max(h);
    let x1 = b.x1 + 0.5 * (w - l);
    let y1 = b.y1 + 0.5 * (h - l);
    BBox { x1, y1, x2: x1 + l + 1.0, y2: y1 + l + 1.0 }
}

/// Truncates a box to whole pixels the way the cascade does (toward zero in one-based
/// inclusive coordinates), so crops start and end on pixel edges.
fn whole_pixels(b: &BBox) -> BBox {
    BBox {
        x1: (b.x1 + 1.0).trunc() - 1.0,
        y1: (b.y1 + 1.0).trunc() - 1.0,
        x2: b.x2.trunc(),
        y2: b.y2.trunc(),
    }
}

/// Landmarks are fractions of the O-Net input box (5 x, then 5 y); the box is then regressed.
fn onet_detection(input: &BBox, score: f32, reg: [f32; 4], marks: [f32; 10]) -> Detection {
    let (w, h) = (input.width(), input.height());
    let landmarks = std::array::from_fn(|k| [input.x1 + marks[k] * w, input.y1 + marks[k + 5] * h]);
    Detection { bbox: input.regressed(reg), score, landmarks }
}

fn output<'a>(
    out: &'a std::collections::HashMap<String, ArrayD<f32>>,
    name: &str,
    model: &str,
) -> Result<&'a ArrayD<f32>, AnalysisError> {
    out.get(name).ok_or_else(|| AnalysisError::Model(format!("{model}: no output '{name}'")))
}

/// Every box resampled to `size`×`size`, stacked as one `[n, size, size, 3]` batch.
fn crops(img: &RgbImage, boxes: &[BBox], size: usize) -> Result<ArrayD<f32>, AnalysisError> {
    let mut rgb = Vec::with_capacity(boxes.len() * size * size * 3);
    for b in boxes {
        img.crop_resize_into([b.x1, b.y1, b.width(), b.height()], size, size, &mut rgb);
    }
    transposed_batch(&rgb, boxes.len(), size, size)
}

/// Row-major RGB pictures (`n` of `w`×`h`) to the normalised, width-major tensor the graphs take.
fn transposed_batch(
    rgb: &[f32],
    n: usize,
    w: usize,
    h: usize,
) -> Result<ArrayD<f32>, AnalysisError> {
    let mut data = vec![0f32; n * w * h * 3];
    for k in 0..n {
        let src = &rgb[k * w * h * 3..(k + 1) * w * h * 3];
        let dst = &mut data[k * w * h * 3..(k + 1) * w * h * 3];
        for y in 0..h {
            for x in 0..w {
                let s = (y * w + x) * 3;
                let d = (x * h + y) * 3;
                dst[d] = norm(src[s]);
                dst[d + 1] = norm(src[s + 1]);
                dst[d + 2] = norm(src[s + 2]);
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(&[n, w, h, 3]), data)
        .map_err(|e| AnalysisError::Model(format!("cannot shape the input batch: {e}")))
}
