//! Boxes, overlap, non-maximum suppression and the 2-D similarity transform used to bring a face
//! to a canonical pose.

use serde::{Deserialize, Serialize};

/// An axis-aligned box in pixels, `[x1, x2) × [y1, y2)`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BBox {
    /// Left edge.
    pub x1: f32,
    /// Top edge.
    pub y1: f32,
    /// Right edge (exclusive).
    pub x2: f32,
    /// Bottom edge (exclusive).
    pub y2: f32,
}

impl BBox {
    /// Width (never negative).
    pub fn width(&self) -> f32 {
        (self.x2 - self.x1).max(0.0)
    }

    /// Height (never negative).
    pub fn height(&self) -> f32 {
        (self.y2 - self.y1).max(0.0)
    }

    /// Area.
    pub fn area(&self) -> f32 {
        self.width() * self.height()
    }

    /// Centre point.
    pub fn center(&self) -> [f32; 2] {
        [0.5 * (self.x1 + self.x2), 0.5 * (self.y1 + self.y2)]
    }

    /// Area of the intersection with another box.
    pub fn intersection(&self, o: &BBox) -> f32 {
        let w = (self.x2.min(o.x2) - self.x1.max(o.x1)).max(0.0);
        let h = (self.y2.min(o.y2) - self.y1.max(o.y1)).max(0.0);
        w * h
    }

    /// Intersection over union (0 for empty boxes).
    pub fn iou(&self, o: &BBox) -> f32 {
        let i = self.intersection(o);
        let u = self.area() + o.area() - i;
        if u > 0.0 { i / u } else { 0.0 }
    }

    /// The square with the same centre and the longer side, which is what each MTCNN stage
    /// expects as its input crop.
    pub fn squared(&self) -> BBox {
        let [cx, cy] = self.center();
        let half = 0.5 * self.width().max(self.height());
        BBox { x1: cx - half, y1: cy - half, x2: cx + half, y2: cy + half }
    }

    /// Moves each edge by a fraction of the box size (MTCNN's box regression).
    pub fn regressed(&self, d: [f32; 4]) -> BBox {
        let (w, h) = (self.width(), self.height());
        BBox {
            x1: self.x1 + d[0] * w,
            y1: self.y1 + d[1] * h,
            x2: self.x2 + d[2] * w,
            y2: self.y2 + d[3] * h,
        }
    }

    /// Multiplies every coordinate by `s` (maps between working and full resolution).
    pub fn scaled(&self, s: f32) -> BBox {
        BBox { x1: self.x1 * s, y1: self.y1 * s, x2: self.x2 * s, y2: self.y2 * s }
    }

    /// Linear blend towards `o` by `t` (0 = self).
    pub fn lerp(&self, o: &BBox, t: f32) -> BBox {
        let l = |a: f32, b: f32| a + (b - a) * t;
        BBox {
            x1: l(self.x1, o.x1),
            y1: l(self.y1, o.y1),
            x2: l(self.x2, o.x2),
            y2: l(self.y2, o.y2),
        }
    }
}

/// How overlap is measured in [`nms`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlap {
    /// Intersection over union.
    Union,
    /// Intersection over the smaller box: also removes a small box nested in a large one.
    Min,
}

/// Indices of the boxes kept by greedy non-maximum suppression, best score first.
pub fn nms(boxes: &[BBox], scores: &[f32], threshold: f32, overlap: Overlap) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len().min(scores.len())).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut keep: Vec<usize> = Vec::new();
    for i in order {
        let suppressed = keep.iter().any(|&k| {
            let inter = boxes[i].intersection(&boxes[k]);
            let o = match overlap {
                Overlap::Union => {
                    let u = boxes[i].area() + boxes[k].area() - inter;
                    if u > 0.0 { inter / u } else { 0.0 }
                }
                Overlap::Min => {
                    let m = boxes[i].area().min(boxes[k].area());
                    if m > 0.0 { inter / m } else { 0.0 }
                }
            };
            o > threshold
        });
        if !suppressed {
            keep.push(i);
        }
    }
    keep
}

/// A 2-D similarity transform `p ↦ [a −b; b a]·p + t` (rotation, uniform scale, translation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Similarity {
    /// Scale·cos(angle).
    pub a: f32,
    /// Scale·sin(angle).
    pub b: f32,
    /// Translation x.
    pub tx: f32,
    /// Translation y.
    pub ty: f32,
}

impl Similarity {
    /// Least-squares fit mapping `from[i]` onto `to[i]` (closed form; no reflection). `None` when
    /// the source points coincide.
    pub fn fit(from: &[[f32; 2]], to: &[[f32; 2]]) -> Option<Self> {
        let n = from.len().min(to.len());
        if n < 2 {
            return None;
        }
        let mean = |p: &[[f32; 2]]| {
            let s = p[..n].iter().fold([0f32; 2], |a, q| [a[0] + q[0], a[1] + q[1]]);
            [s[0] / n as f32, s[1] / n as f32]
        };
        let (mf, mt) = (mean(from), mean(to));
        let (mut num_a, mut num_b, mut den) = (0f32, 0f32, 0f32);
        for i in 0..n {
            let (ux, uy) = (from[i][0] - mf[0], from[i][1] - mf[1]);
            let (px, py) = (to[i][0] - mt[0], to[i][1] - mt[1]);
            num_a += ux * px + uy * py;
            num_b += ux * py - uy * px;
            den += ux * ux + uy * uy;
        }
        if den <= f32::EPSILON {
            return None;
        }
        let (a, b) = (num_a / den, num_b / den);
        Some(Self {
            a,
            b,
            tx: mt[0] - (a * mf[0] - b * mf[1]),
            ty: mt[1] - (b * mf[0] + a * mf[1]),
        })
    }

    /// Applies the transform to a point.
    pub fn apply(&self, p: [f32; 2]) -> [f32; 2] {
        [self.a * p[0] - self.b * p[1] + self.tx, self.b * p[0] + self.a * p[1] + self.ty]
    }

    /// The uniform scale factor.
    pub fn scale(&self) -> f32 {
        self.a.hypot(self.b)
    }

    /// The inverse transform.
    pub fn inverse(&self) -> Self {
        let d = self.a * self.a + self.b * self.b;
        let (a, b) = (self.a / d, -self.b / d);
        Self { a, b, tx: -(a * self.tx - b * self.ty), ty: -(b * self.tx + a * self.ty) }
    }

    /// `self ∘ other`: applies `other` first, then `self`.
    pub fn then_after(&self, other: &Self) -> Self {
        Self {
            a: self.a * other.a - self.b * other.b,
            b: self.b * other.a + self.a * other.b,
            tx: self.a * other.tx - self.b * other.ty + self.tx,
            ty: self.b * other.tx + self.a * other.ty + self.ty,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_nms_and_similarity() {
        let a = BBox { x1: 0.0, y1: 0.0, x2: 10.0, y2: 10.0 };
        let b = BBox { x1: 5.0, y1: 0.0, x2: 15.0, y2: 10.0 };
        assert!((a.iou(&b) - 50.0 / 150.0).abs() < 1e-6);
        let inner = BBox { x1: 2.0, y1: 2.0, x2: 6.0, y2: 6.0 };
        let keep = nms(&[a, b, inner], &[0.9, 0.8, 0.7], 0.5, Overlap::Union);
        assert_eq!(keep, vec![0, 1, 2]);
        let keep = nms(&[a, b, inner], &[0.9, 0.8, 0.7], 0.5, Overlap::Min);
        assert_eq!(keep, vec![0, 1]);
        let from = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]];
        let t = Similarity { a: 0.0, b: 2.0, tx: 3.0, ty: -1.0 };
        let to: Vec<[f32; 2]> = from.iter().map(|&p| t.apply(p)).collect();
        let fit = Similarity::fit(&from, &to).unwrap();
        assert!((fit.a - t.a).abs() < 1e-5 && (fit.b - t.b).abs() < 1e-5);
        assert!((fit.tx - t.tx).abs() < 1e-5 && (fit.ty - t.ty).abs() < 1e-5);
        assert!((fit.scale() - 2.0).abs() < 1e-5);
    }
}
