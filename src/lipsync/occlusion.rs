//! Model-free occlusion: learn what the lower face looks like over the track's clean frames
//! (per-pixel colour statistics in the canonical patch), then call pixels occluders when they
//! are unlikely under that model in this frame and a neighbouring one (a hand or a microphone
//! persists; noise and a single odd frame do not). The user can add a painted mask, which
//! lives in canonical coordinates and so follows the face.

use super::geometry::{PATCH_H, PATCH_W, Patch};

/// Per-pixel colour model of the canonical lower face.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceModel {
    mean: Vec<[f32; 3]>,
    std: Vec<[f32; 3]>,
}

/// Smallest standard deviation per channel, so a pixel that never changed is not flagged for
/// compression noise.
const STD_FLOOR: [f32; 3] = [10.0, 6.0, 6.0];
/// Most frames the model is learned from.
const MAX_MODEL_FRAMES: usize = 160;

fn median(v: &mut [f32]) -> f32 {
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f32::total_cmp);
    *m
}

/// Distance (in standard deviations, chroma weighted) past which a pixel is unlikely.
const UNLIKELY: f32 = 4.0;

fn ycc(p: [f32; 3]) -> [f32; 3] {
    let y = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    [y, 0.564 * (p[2] - y), 0.713 * (p[0] - y)]
}

impl FaceModel {
    /// Per-pixel mean and standard deviation (YCbCr) in the canonical patch: for the bank cache.
    pub fn parts(&self) -> (&[[f32; 3]], &[[f32; 3]]) {
        (&self.mean, &self.std)
    }

    /// A model from [`FaceModel::parts`]; `None` unless both cover the whole patch.
    pub fn from_parts(mean: Vec<[f32; 3]>, std: Vec<[f32; 3]>) -> Option<Self> {
        (mean.len() == PATCH_W * PATCH_H && std.len() == mean.len()).then_some(Self { mean, std })
    }

    /// Learns the model from patches of the face. Median and median absolute deviation rather
    /// than mean and variance: an object that covers a pixel in up to half of the frames (a
    /// hand passing, a microphone) does not become part of "the face".
    pub fn learn(patches: &[&Patch]) -> Option<Self> {
        if patches.is_empty() {
            return None;
        }
        // An even subsample keeps the cost bounded on long shots.
        let step = patches.len().div_ceil(MAX_MODEL_FRAMES).max(1);
        let used: Vec<&Patch> = patches.iter().step_by(step).copied().collect();
        let ycc_patches: Vec<Vec<[f32; 3]>> =
            used.iter().map(|p| p.rgb.iter().map(|&c| ycc(c)).collect()).collect();
        let n = PATCH_W * PATCH_H;
        let mut mean = Vec::with_capacity(n);
        let mut std = Vec::with_capacity(n);
        let mut column = vec![0.0f32; used.len()];
        for i in 0..n {
            let mut m = [0.0f32; 3];
            let mut d = [0.0f32; 3];
            for c in 0..3 {
                for (k, p) in ycc_patches.iter().enumerate() {
                    column[k] = p[i][c];
                }
                let med = median(&mut column);
                for (k, p) in ycc_patches.iter().enumerate() {
                    column[k] = (p[i][c] - med).abs();
                }
                m[c] = med;
                // 1.4826 × MAD estimates the standard deviation of a normal distribution.
                d[c] = (1.4826 * median(&mut column)).max(STD_FLOOR[c]);
            }
            mean.push(m);
            std.push(d);
        }
        Some(Self { mean, std })
    }

    /// Per-pixel unlikeliness: 1 where the pixel is far from the face model, 0 where typical.
    pub fn unlikely(&self, patch: &Patch) -> Vec<bool> {
        patch
            .rgb
            .iter()
            .enumerate()
            .map(|(i, px)| {
                let q = ycc(*px);
                let d: f32 = (0..3)
                    .map(|c| {
                        let z = (q[c] - self.mean[i][c]) / self.std[i][c];
                        // Chroma is the stronger cue: skin and lips share a narrow hue band.
                        if c == 0 { 0.5 * z * z } else { z * z }
                    })
                    .sum();
                d.sqrt() > UNLIKELY
            })
            .collect()
    }
}

fn dilate_and_soften(hard: &[bool], radius: isize) -> Vec<f32> {
    let (w, h) = (PATCH_W as isize, PATCH_H as isize);
    let mut grown = vec![0.0f32; hard.len()];
    for v in 0..h {
        for u in 0..w {
            let near = (-radius..=radius).any(|dv| {
                (-radius..=radius).any(|du| {
                    let (x, y) = (u + du, v + dv);
                    x >= 0 && y >= 0 && x < w && y < h && hard[(y * w + x) as usize]
                })
            });
            if near {
                grown[(v * w + u) as usize] = 1.0;
            }
        }
    }
    // A 3×3 box blur: soft edges without shrinking the covered area below the dilation.
    let mut soft = grown.clone();
    for v in 0..h {
        for u in 0..w {
            let (mut s, mut n) = (0.0, 0.0);
            for dv in -1..=1 {
                for du in -1..=1 {
                    let (x, y) = (u + du, v + dv);
                    if x >= 0 && y >= 0 && x < w && y < h {
                        s += grown[(y * w + x) as usize];
                        n += 1.0;
                    }
                }
            }
            let i = (v * w + u) as usize;
            soft[i] = grown[i].max(s / n);
        }
    }
    soft
}

/// `hard` without its 4-connected pieces of fewer than `min` pixels.
fn drop_small_pieces(hard: &[bool], min: usize) -> Vec<bool> {
    let (w, h) = (PATCH_W, PATCH_H);
    let mut kept = vec![false; hard.len()];
    let mut seen = vec![false; hard.len()];
    let mut stack = Vec::new();
    let mut piece = Vec::new();
    for start in 0..hard.len() {
        if !hard[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        piece.clear();
        while let Some(i) = stack.pop() {
            piece.push(i);
            let (x, y) = (i % w, i / w);
            let mut visit = |j: usize| {
                if hard[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            };
            if x > 0 {
                visit(i - 1);
            }
            if x + 1 < w {
                visit(i + 1);
            }
            if y > 0 {
                visit(i - w);
            }
            if y + 1 < h {
                visit(i + w);
            }
        }
        if piece.len() >= min {
            for &i in &piece {
                kept[i] = true;
            }
        }
    }
    kept
}

/// Occlusion masks (1 = occluder, keep the source) for a run of consecutive frames' patches.
/// A pixel counts when it is unlikely in its frame and in a neighbouring frame; small isolated
/// detections are dropped, the rest are dilated by a few pixels to cover the occluder's edge.
pub fn occlusion_masks(model: &FaceModel, patches: &[Patch]) -> Vec<Vec<f32>> {
    let unlikely: Vec<Vec<bool>> = patches.iter().map(|p| model.unlikely(p)).collect();
    (0..patches.len())
        .map(|t| {
            let stable: Vec<bool> = (0..PATCH_W * PATCH_H)
                .map(|i| {
                    let now = unlikely[t][i];
                    let prev = t > 0 && unlikely[t - 1][i];
                    let next = t + 1 < unlikely.len() && unlikely[t + 1][i];
                    now && (prev || next || unlikely.len() == 1)
                })
                .collect();
            // An object in front of the mouth is one connected piece; specks (a lip pixel that
            // is rare in the bank, noise) each cover less than ~0.5 % of the patch.
            let kept = drop_small_pieces(&stable, PATCH_W * PATCH_H / 200);
            if kept.iter().any(|&b| b) {
                dilate_and_soften(&kept, 3)
            } else {
                vec![0.0; PATCH_W * PATCH_H]
            }
        })
        .collect()
}

/// A user-painted occlusion mask in canonical patch coordinates (it moves with the face).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PaintedMask {
    /// Frame it was painted on.
    pub keyframe: i64,
    /// `PATCH_W × PATCH_H` values, 1 = keep the source (run-length encoded in files).
    #[serde(with = "crate::model::lip::rle_mask")]
    pub values: Vec<f32>,
}

/// Combines automatic and painted occlusion: the larger wins.
pub fn combine(auto: &[f32], painted: Option<&PaintedMask>) -> Vec<f32> {
    match painted {
        Some(p) if p.values.len() == auto.len() => {
            auto.iter().zip(&p.values).map(|(a, b)| a.max(*b)).collect()
        }
        _ => auto.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(seed: u32) -> Patch {
        // Skin with a slight per-frame variation and a darker lip band.
        Patch {
            rgb: (0..PATCH_W * PATCH_H)
                .map(|i| {
                    let v = i / PATCH_W;
                    let jitter =
                        ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed * 97) % 7) as f32;
                    if (40..52).contains(&v) {
                        [150.0 + jitter, 70.0, 70.0]
                    } else {
                        [200.0 + jitter, 160.0, 140.0]
                    }
                })
                .collect(),
        }
    }

    #[test]
    fn scattered_specks_are_not_an_occluder_but_one_piece_is() {
        let mut hard = vec![false; PATCH_W * PATCH_H];
        // 80 single-pixel specks: more than 0.5 % of the patch in all, none a piece.
        for k in 0..80 {
            hard[(k * 151) % (PATCH_W * PATCH_H)] = true;
        }
        assert!(!drop_small_pieces(&hard, PATCH_W * PATCH_H / 200).iter().any(|&b| b));
        // A 10×10 block is kept whole.
        let mut hard = vec![false; PATCH_W * PATCH_H];
        for y in 40..50 {
            for x in 60..70 {
                hard[y * PATCH_W + x] = true;
            }
        }
        let kept = drop_small_pieces(&hard, PATCH_W * PATCH_H / 200);
        assert_eq!(kept.iter().filter(|&&b| b).count(), 100);
    }

    #[test]
    fn a_blue_object_is_an_occluder_and_a_single_odd_frame_is_not() {
        let train: Vec<Patch> = (0..20).map(face).collect();
        let model = FaceModel::learn(&train.iter().collect::<Vec<_>>()).unwrap();
        let mut frames: Vec<Patch> = (0..5).map(|s| face(100 + s)).collect();
        for f in &mut frames[1..4] {
            for v in 30..60 {
                for u in 50..80 {
                    f.rgb[v * PATCH_W + u] = [30.0, 60.0, 200.0];
                }
            }
        }
        // A one-frame blip elsewhere in frame 0 only.
        for v in 5..15 {
            for u in 5..15 {
                frames[0].rgb[v * PATCH_W + u] = [30.0, 200.0, 30.0];
            }
        }
        let masks = occlusion_masks(&model, &frames);
        assert_eq!(masks[2][45 * PATCH_W + 65], 1.0, "object centre");
        assert_eq!(masks[2][45 * PATCH_W + 48], 1.0, "dilated edge");
        assert_eq!(masks[2][10 * PATCH_W + 100], 0.0, "clean skin");
        assert_eq!(masks[0][10 * PATCH_W + 10], 0.0, "single-frame blip ignored");
        assert!(masks[4].iter().all(|&v| v == 0.0), "clean frame after the object");
        let painted = PaintedMask { keyframe: 0, values: vec![0.5; PATCH_W * PATCH_H] };
        let c = combine(&masks[4], Some(&painted));
        assert!(c.iter().all(|&v| v == 0.5));
    }
}
