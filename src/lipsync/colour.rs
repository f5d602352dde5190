//! Colour matching of a new mouth to its target face: mean/std transfer over a ring around the
//! mouth, a smooth shading gain (the target's light), and the fit weights that drop where the
//! two disagree. The lip engine prepares each patch with these before the compositor
//! (`render::compositor`) blends it.

use crate::analysis::mouth_patch::{Patch, detail_of, dims_of};
use wide::f32x4;

/// Mean and standard deviation per channel, in YCbCr.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ColourStats {
    /// Mean of Y, Cb, Cr.
    pub mean: [f32; 3],
    /// Standard deviation of Y, Cb, Cr.
    pub std: [f32; 3],
}

fn to_ycc(p: [f32; 3]) -> [f32; 3] {
    let y = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    [y, 0.564 * (p[2] - y), 0.713 * (p[0] - y)]
}

fn from_ycc(q: [f32; 3]) -> [f32; 3] {
    let r = q[0] + q[2] / 0.713;
    let b = q[0] + q[1] / 0.564;
    let g = (q[0] - 0.299 * r - 0.114 * b) / 0.587;
    [r, g, b]
}

/// Colour statistics of a patch over the pixels where `weight > 0` (weighted).
pub fn colour_stats(patch: &Patch, weight: &[f32]) -> ColourStats {
    let mut sum = [0.0f64; 3];
    let mut sq = [0.0f64; 3];
    let mut total = 0.0f64;
    for (p, &w) in patch.rgb.iter().zip(weight) {
        if w <= 0.0 {
            continue;
        }
        let q = to_ycc(*p);
        for c in 0..3 {
            sum[c] += f64::from(w * q[c]);
            sq[c] += f64::from(w * q[c] * q[c]);
        }
        total += f64::from(w);
    }
    let mut mean = [0.0; 3];
    let mut std = [1.0; 3];
    if total > 0.0 {
        for c in 0..3 {
            let m = sum[c] / total;
            mean[c] = m as f32;
            std[c] = ((sq[c] / total - m * m).max(0.0)).sqrt() as f32;
        }
    }
    ColourStats { mean, std }
}

/// The ring around the mouth used for colour matching: just outside the edit region, inside the
/// patch. `mask` is the region mask of [`crate::analysis::mouth_patch::region_mask`].
pub fn ring_weights(mask: &[f32]) -> Vec<f32> {
    // Pixels outside the region but within a few pixels of it: dilate by a box search.
    let (pw, ph) = dims_of(mask.len());
    let (pw, ph) = (pw as isize, ph as isize);
    let s = detail_of(mask.len()).unwrap_or(1) as isize;
    let r = 6 * s;
    // "A region pixel (> 0.5) within the (2r+1)² square" is separable: within r along the row,
    // then within r of that along the column; running counts make each pass linear.
    let (w, h) = (pw as usize, ph as usize);
    let r = r as usize;
    let window_any =
        |inside: &dyn Fn(usize) -> bool, len: usize, out: &mut dyn FnMut(usize, bool)| {
            // prefix[k] = how many of 0..k are inside.
            let mut prefix = vec![0u32; len + 1];
            for k in 0..len {
                prefix[k + 1] = prefix[k] + u32::from(inside(k));
            }
            for k in 0..len {
                let (a, b) = (k.saturating_sub(r), (k + r + 1).min(len));
                out(k, prefix[b] > prefix[a]);
            }
        };
    let mut along_rows = vec![false; mask.len()];
    for v in 0..h {
        let row = &mask[v * w..(v + 1) * w];
        window_any(&|u| row[u] > 0.5, w, &mut |u, any| along_rows[v * w + u] = any);
    }
    let mut near = vec![false; mask.len()];
    for u in 0..w {
        window_any(&|v| along_rows[v * w + u], h, &mut |v, any| near[v * w + u] = any);
    }
    let mut ring = vec![0.0; mask.len()];
    for v in 0..ph {
        for u in 0..pw {
            let i = (v * pw + u) as usize;
            if mask[i] > 0.02 || u < 2 * s || v < 2 * s || u >= pw - 2 * s || v >= ph - 2 * s {
                continue;
            }
            if near[i] {
                ring[i] = 1.0;
            }
        }
    }
    ring
}

/// Largest contrast change of the colour transfer (and its inverse the smallest).
pub const MAX_GAIN: f32 = 1.25;

/// Maps patch colours so that the statistics `from` become `to` (Reinhard-style transfer; the
/// contrast ratio is bounded to [`MAX_GAIN`]: the bank mouth is the same actor's, so its
/// contrast should barely change, and the ring's spread is a noisy estimate — hair, shadow or a
/// collar in the ring made lips look painted on when the gain could reach 2).
pub fn transfer_colour(patch: &Patch, from: &ColourStats, to: &ColourStats) -> Patch {
    let gain: [f32; 3] = std::array::from_fn(|c| {
        (to.std[c] / from.std[c].max(1e-3)).clamp(1.0 / MAX_GAIN, MAX_GAIN)
    });
    Patch {
        rgb: patch
            .rgb
            .iter()
            .map(|p| {
                let q = to_ycc(*p);
                let q: [f32; 3] =
                    std::array::from_fn(|c| (q[c] - from.mean[c]) * gain[c] + to.mean[c]);
                from_ycc(q).map(|v| v.clamp(0.0, 255.0))
            })
            .collect(),
    }
}

/// Skin weights for the shading correction: 1 on the face around the lips, falling to 0 over the
/// lips themselves (their colour and the mouth interior are what the edit changes, so they say
/// nothing about the lighting).
pub fn skin_weights() -> Vec<f32> {
    skin_weights_at(1)
}

/// [`skin_weights`] on the pixels of a patch with `detail`.
pub fn skin_weights_at(detail: usize) -> Vec<f32> {
    crate::analysis::mouth_patch::region_mask_at(
        crate::analysis::mouth_patch::Region::Lips,
        6.0,
        detail,
    )
    .iter()
    .map(|m| (1.0 - m).powi(2))
    .collect()
}

/// Skin weights for [`fit_weights`]: like [`skin_weights_at`] but falling to 0 wherever the lips
/// can be ([`crate::analysis::mouth_patch::mouth_travel_mask_at`]): a bank mouth open wider than
/// the target's shows its lower lip and chin where the target shows skin, which is the edit, not
/// a misfit.
pub fn fit_skin_at(detail: usize) -> Vec<f32> {
    crate::analysis::mouth_patch::mouth_travel_mask_at(6.0, detail)
        .iter()
        .map(|m| (1.0 - m).powi(2))
        .collect()
}

/// Radius in patch pixels of each of the three box passes of the shading low-pass (about a
/// third of the mouth width: wide enough to ignore lip and teeth detail, narrow enough to follow
/// a shadow across the jaw).
pub const SHADING_RADIUS: usize = 7;

/// Largest local lighting change the shading correction applies (and its inverse the smallest).
pub const MAX_SHADING_GAIN: f32 = 2.0;

/// What a box pass sums: one value, or four in SIMD lanes (the same sums per lane).
trait BoxSample:
    Copy + Default + std::ops::Add<Output = Self> + std::ops::Sub<Output = Self> + std::ops::AddAssign
{
}

impl BoxSample for f32 {}
impl BoxSample for f32x4 {}

/// One box pass of radius `r` over `lines` lines of `len` samples (`stride` apart, lines `step`
/// apart), zero outside.
fn box_pass<S: BoxSample>(src: &[S], dst: &mut [S], r: usize, (len, stride, lines, step): Layout) {
    if step == 1 && stride == lines && lines > 1 {
        return box_pass_columns(src, dst, r, len, lines);
    }
    for line in 0..lines {
        let base = line * step;
        let at = |k: usize| src[base + k * stride];
        let zero = S::default();
        let mut acc = (0..=r).map(|k| if k < len { at(k) } else { zero }).fold(zero, |a, v| a + v);
        // acc += at(k + r + 1) − at(k − r), with zero outside 0..len: the three stretches of k
        // (only the entering sample inside, both, only the leaving one) without a test per sample.
        let enter_end = len.saturating_sub(r + 1); // k + r + 1 < len
        let leave_start = r.min(len); // k ≥ r
        let mut k = 0;
        while k < len.min(enter_end).min(leave_start) {
            dst[base + k * stride] = acc;
            acc += at(k + r + 1) - zero;
            k += 1;
        }
        while k < enter_end {
            dst[base + k * stride] = acc;
            acc += at(k + r + 1) - at(k - r);
            k += 1;
        }
        while k < leave_start {
            // Neither inside (a line shorter than the window).
            dst[base + k * stride] = acc;
            acc += zero; // 0 − 0
            k += 1;
        }
        while k < len {
            dst[base + k * stride] = acc;
            acc += zero - at(k - r);
            k += 1;
        }
    }
}

/// [`box_pass`] down the columns of a row-major `lines`-wide picture of `len` rows: every column
/// advances one row at a time together (contiguous memory, vectorised), each with the same
/// sums in the same order as the column-by-column loop.
fn box_pass_columns<S: BoxSample>(src: &[S], dst: &mut [S], r: usize, len: usize, lines: usize) {
    let row = |k: usize| &src[k * lines..(k + 1) * lines];
    let zero = S::default();
    let mut acc: Vec<S> = (0..lines)
        .map(|l| {
            (0..=r)
                .map(|k| if k < len { src[k * lines + l] } else { zero })
                .fold(zero, |a, v| a + v)
        })
        .collect();
    let enter_end = len.saturating_sub(r + 1);
    for k in 0..len {
        dst[k * lines..(k + 1) * lines].copy_from_slice(&acc);
        match (k < enter_end, k >= r) {
            (true, true) => {
                for ((a, &e), &l) in acc.iter_mut().zip(row(k + r + 1)).zip(row(k - r)) {
                    *a += e - l;
                }
            }
            (true, false) => {
                for (a, &e) in acc.iter_mut().zip(row(k + r + 1)) {
                    *a += e - zero;
                }
            }
            (false, true) => {
                for (a, &l) in acc.iter_mut().zip(row(k - r)) {
                    *a += zero - l;
                }
            }
            (false, false) => {
                for a in acc.iter_mut() {
                    *a += zero; // 0 − 0
                }
            }
        }
    }
}

type Layout = (usize, usize, usize, usize);

/// Three box passes of radius `r` along rows and columns (≈ Gaussian), in place.
fn blur<S: BoxSample>(values: &mut [S], r: usize) {
    let (pw, ph) = dims_of(values.len());
    let mut tmp = vec![S::default(); values.len()];
    for _ in 0..3 {
        box_pass(values, &mut tmp, r, (pw, 1, ph, pw));
        box_pass(&tmp, values, r, (ph, pw, pw, 1));
    }
}

/// Low-pass colour of `patch` where `weight` is positive (normalised convolution): per pixel the
/// blurred R·w, G·w, B·w and the blurred weight w, in four SIMD lanes.
fn shading(patch: &Patch, weight: &[f32]) -> Vec<f32x4> {
    let mut values: Vec<f32x4> = patch
        .rgb
        .iter()
        .zip(weight)
        .map(|(p, &w)| f32x4::new([p[0] * w, p[1] * w, p[2] * w, w]))
        .collect();
    blur(&mut values, SHADING_RADIUS * detail_of(weight.len()).unwrap_or(1));
    values
}

/// Relights a bank mouth for the target face: each channel is multiplied by the ratio of the
/// target's to the source's low-frequency skin colour around the mouth (both estimated from the
/// same skin pixels, `weight`, by normalised convolution). A lighting change between the frame
/// the mouth was filmed in and the target frame — a brighter side, a warmer cast, a shadow under
/// the lip — moves with the mouth; lip and teeth detail and contrast stay the actor's own.
/// Pixels where the two faces disagree strongly (a different chin line, teeth against lips) are
/// left out of the estimate so they cannot paint halos.
pub fn match_shading(source: &Patch, target: &Patch, weight: &[f32]) -> Patch {
    apply_gain(source, &shading_gain(source, target, weight))
}

/// The per-pixel, per-channel gain of [`match_shading`] (bounded to [`MAX_SHADING_GAIN`]): it is
/// low-frequency, so it can be found on analysis-size patches and resampled to a finer patch.
pub fn shading_gain(source: &Patch, target: &Patch, weight: &[f32]) -> [Vec<f32>; 3] {
    let luma = |p: &[f32; 3]| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    // Overall brightness ratio first, so a global lighting change does not count as disagreement.
    let (mut ls, mut lt, mut tw) = (0.0f64, 0.0f64, 0.0f64);
    for ((s, t), &w) in source.rgb.iter().zip(&target.rgb).zip(weight) {
        ls += f64::from(w * luma(s));
        lt += f64::from(w * luma(t));
        tw += f64::from(w);
    }
    let n = source.rgb.len();
    if tw <= 0.0 || ls <= 0.0 {
        return std::array::from_fn(|_| vec![1.0; n]);
    }
    let global = (lt / ls) as f32;
    let weight: Vec<f32> = source
        .rgb
        .iter()
        .zip(&target.rgb)
        .zip(weight)
        .map(|((s, t), &w)| {
            let (a, b) = (luma(s) * global, luma(t));
            // Relative disagreement: structure, not lighting (which the global ratio removed).
            let d = (a - b).abs() / (0.5 * (a + b)).max(8.0);
            w * (1.0 - d / 0.25).clamp(0.0, 1.0)
        })
        .collect();
    let (src, dst) = (shading(source, &weight), shading(target, &weight));
    std::array::from_fn(|c| {
        src.iter()
            .zip(&dst)
            .map(|(s, d)| {
                let (s, d) = (s.as_array_ref(), d.as_array_ref());
                let gain = if s[3] > 1e-3 && s[c] > 1e-3 { d[c] / s[c] } else { global };
                gain.clamp(1.0 / MAX_SHADING_GAIN, MAX_SHADING_GAIN)
            })
            .collect()
    })
}

/// `patch` with each channel multiplied by its gain (as many pixels).
pub fn apply_gain(patch: &Patch, gain: &[Vec<f32>; 3]) -> Patch {
    Patch {
        rgb: patch
            .rgb
            .iter()
            .enumerate()
            .map(|(i, p)| std::array::from_fn(|c| (p[c] * gain[c][i]).clamp(0.0, 255.0)))
            .collect(),
    }
}

/// Relative luma disagreement between a relit bank mouth and the target face at which the
/// surroundings of the lips start to keep the target (see [`fit_weights`]), and the span over
/// which they fade out completely.
pub const FIT_START: f32 = 0.15;
/// See [`FIT_START`].
pub const FIT_SPAN: f32 = 0.2;

/// How much of the bank mouth to keep per patch pixel around the lips: 1 on the lips (the edit
/// itself), falling towards 0 where, after relighting, the bank patch and the target face still
/// differ strongly outside the lips (`skin` weighs "outside"). There the two frames show
/// different things — the face's edge against the background, hair, a collar, a jaw line of
/// another head pose — and pasting the bank's version draws a second outline.
pub fn fit_weights(matched: &Patch, target: &Patch, skin: &[f32]) -> Vec<f32> {
    let luma = |p: &[f32; 3]| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    let mut d: Vec<f32> = matched
        .rgb
        .iter()
        .zip(&target.rgb)
        .map(|(a, b)| {
            let (a, b) = (luma(a), luma(b));
            (a - b).abs() / (0.5 * (a + b)).max(8.0)
        })
        .collect();
    // Smooth it: texture and noise must not punch holes, only regional disagreement counts.
    let (pw, ph) = dims_of(d.len());
    let r = 2 * detail_of(d.len()).unwrap_or(1);
    let mut tmp = vec![0.0f32; d.len()];
    box_pass(&d, &mut tmp, r, (pw, 1, ph, pw));
    box_pass(&tmp, &mut d, r, (ph, pw, pw, 1));
    let n = ((2 * r + 1) * (2 * r + 1)) as f32;
    let fit: Vec<f32> = d
        .iter()
        .zip(skin)
        .map(|(&v, &s)| {
            let t = ((v / n - FIT_START) / FIT_SPAN).clamp(0.0, 1.0);
            1.0 - s * t * t * (3.0 - 2.0 * t)
        })
        .collect();
    feather_inwards(&fit, FIT_FEATHER * detail_of(fit.len()).unwrap_or(1))
}

/// Patch pixels over which the fit mask fades (see [`feather_inwards`]).
pub const FIT_FEATHER: usize = 3;

/// A weight map whose drops are widened into fades on the kept side: eroded (minimum over a
/// `(2r+1)²` square) and then smoothed over about the same width (three normalised box passes
/// of radius r/3). Where the bank mouth meets the kept target — a chin line of another jaw
/// position — the two blend over a band instead of meeting at a visible seam, and the band lies
/// where they still agree, so the part that disagrees stays the target's.
fn feather_inwards(weights: &[f32], r: usize) -> Vec<f32> {
    if r == 0 || weights.iter().all(|&w| w >= 1.0) {
        return weights.to_vec();
    }
    let (pw, ph) = dims_of(weights.len());
    let min_pass = |src: &[f32], (len, stride, lines, step): Layout| -> Vec<f32> {
        let mut out = src.to_vec();
        for line in 0..lines {
            let base = line * step;
            for k in 0..len {
                let (a, b) = (k.saturating_sub(r), (k + r).min(len - 1));
                out[base + k * stride] =
                    (a..=b).map(|j| src[base + j * stride]).fold(f32::MAX, f32::min);
            }
        }
        out
    };
    let eroded = min_pass(&min_pass(weights, (pw, 1, ph, pw)), (ph, pw, pw, 1));
    let radius = (r / 3).max(1);
    let mut num = eroded;
    blur(&mut num, radius);
    let den = blurred_ones(num.len(), radius);
    num.iter().zip(den.iter()).map(|(n, d)| (n / d.max(1e-6)).clamp(0.0, 1.0)).collect()
}

/// [`blur`] of a picture of ones of `len` pixels (how much of each pixel's window lies inside
/// the patch): it depends only on the size and radius, so it is found once per pair.
fn blurred_ones(len: usize, radius: usize) -> std::sync::Arc<Vec<f32>> {
    type Cache =
        std::sync::Mutex<std::collections::HashMap<(usize, usize), std::sync::Arc<Vec<f32>>>>;
    static CACHE: std::sync::OnceLock<Cache> = std::sync::OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().ok().and_then(|c| c.get(&(len, radius)).cloned()) {
        return v;
    }
    let mut ones = vec![1.0f32; len];
    blur(&mut ones, radius);
    let ones = std::sync::Arc::new(ones);
    if let Ok(mut c) = cache.lock() {
        c.insert((len, radius), ones.clone());
    }
    ones
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::mouth_patch::{PATCH_H, PATCH_W, Region};

    #[test]
    fn colour_transfer_matches_target_statistics() {
        let patch = Patch {
            rgb: (0..PATCH_W * PATCH_H).map(|i| [(i % 50) as f32 + 100.0, 80.0, 60.0]).collect(),
        };
        let w = vec![1.0; patch.rgb.len()];
        let from = colour_stats(&patch, &w);
        let to = ColourStats {
            mean: [from.mean[0] + 20.0, from.mean[1], from.mean[2] + 5.0],
            std: [from.std[0] * 1.2, from.std[1], from.std[2]],
        };
        let out = transfer_colour(&patch, &from, &to);
        let got = colour_stats(&out, &w);
        assert!((got.mean[0] - to.mean[0]).abs() < 0.5, "{got:?} vs {to:?}");
        assert!((got.std[0] - to.std[0]).abs() < 0.5);
        // A ring with twice the spread (hair, shadow) raises the contrast by MAX_GAIN only.
        let wide = ColourStats { std: [from.std[0] * 2.0, from.std[1], from.std[2]], ..to };
        let got = colour_stats(&transfer_colour(&patch, &from, &wide), &w);
        assert!((got.std[0] - from.std[0] * MAX_GAIN).abs() < 0.5, "{got:?}");
        let back = from_ycc(to_ycc([10.0, 200.0, 30.0]));
        assert!((back[1] - 200.0).abs() < 1e-3);
    }

    /// A skin patch with dark red lips and a gradient of texture, lit by `light(u, v)`.
    fn lit_mouth(light: impl Fn(usize, usize) -> [f32; 3]) -> Patch {
        Patch {
            rgb: (0..PATCH_W * PATCH_H)
                .map(|i| {
                    let (u, v) = (i % PATCH_W, i / PATCH_W);
                    let lips = ((u as f32 - 64.0) / 30.0).powi(2)
                        + ((v as f32 - 45.0) / 10.0).powi(2)
                        <= 1.0;
                    let base = if lips { [150.0, 50.0, 60.0] } else { [180.0, 140.0, 120.0] };
                    let tex = ((u * 7 + v * 13) % 11) as f32;
                    let l = light(u, v);
                    std::array::from_fn(|c| (base[c] + tex) * l[c])
                })
                .collect(),
        }
    }

    #[test]
    fn shading_follows_the_target_light_and_keeps_the_lips() {
        let skin = skin_weights();
        let source = lit_mouth(|_, _| [1.0; 3]);
        // The target: darker and warmer on its left, brighter on its right.
        let light = |u: usize, _| {
            let s = 0.75 + 0.4 * u as f32 / PATCH_W as f32;
            [s * 1.05, s, s * 0.95]
        };
        let target = lit_mouth(light);
        let out = match_shading(&source, &target, &skin);
        let err = |p: &Patch| {
            let mut e = 0.0f64;
            for (a, b) in p.rgb.iter().zip(&target.rgb) {
                e += a.iter().zip(b).map(|(x, y)| f64::from((x - y).abs())).sum::<f64>();
            }
            e / (3 * p.rgb.len()) as f64
        };
        let (before, after) = (err(&source), err(&out));
        assert!(after < 0.25 * before, "mean error {before:.1} → {after:.1}");
        // The lip centre gets the target's lighting there, not the skin colour.
        let c = 45 * PATCH_W + 64;
        for ch in 0..3 {
            assert!((out.rgb[c][ch] - target.rgb[c][ch]).abs() < 6.0, "{:?}", out.rgb[c]);
        }
        // Same light: (almost) nothing changes.
        let same = match_shading(&source, &source, &skin);
        let d =
            same.rgb.iter().zip(&source.rgb).map(|(a, b)| (a[0] - b[0]).abs()).fold(0.0, f32::max);
        assert!(d < 0.5, "{d}");
    }

    #[test]
    fn fit_keeps_the_lips_and_drops_disagreeing_surroundings() {
        let skin = skin_weights();
        let face = lit_mouth(|_, _| [1.0; 3]);
        assert!(fit_weights(&face, &face, &skin).iter().all(|&f| f == 1.0));
        // The target shows dark background in the lower-left corner (a face edge elsewhere) and
        // a different mouth: the corner is dropped, the lips kept.
        let mut target = lit_mouth(|_, _| [1.0; 3]);
        for (i, p) in target.rgb.iter_mut().enumerate() {
            let (u, v) = (i % PATCH_W, i / PATCH_W);
            if u < 20 && v > 70 {
                *p = [30.0, 30.0, 35.0];
            } else if ((u as f32 - 64.0) / 30.0).powi(2) + ((v as f32 - 45.0) / 6.0).powi(2) <= 1.0
            {
                *p = [20.0, 10.0, 10.0];
            }
        }
        let fit = fit_weights(&face, &target, &skin);
        assert!(fit[85 * PATCH_W + 8] < 0.05, "{}", fit[85 * PATCH_W + 8]);
        assert!(fit[45 * PATCH_W + 64] > 0.95);
        assert_eq!(fit[20 * PATCH_W + 100], 1.0);
    }

    #[test]
    fn a_wider_open_mouth_is_not_a_misfit() {
        // In canonical units (eyes 40 apart, mouth corners at y 106): a wide-open lower lip
        // sits about 14 below its resting place, the chin's edge at the jaw region's bottom.
        let to_patch = crate::analysis::mouth_patch::patch_to_canonical().inverse();
        let at = |w: &[f32], x: f32, y: f32| {
            let p = to_patch.apply([x, y]);
            w[p[1].round() as usize * PATCH_W + p[0].round() as usize]
        };
        let (fit, shading) = (fit_skin_at(1), skin_weights());
        // The open lower lip: shading still reads it as skin, the fit does not judge it.
        assert!(at(&shading, 64.0, 124.0) > 0.5, "{}", at(&shading, 64.0, 124.0));
        assert!(at(&fit, 64.0, 124.0) < 0.05, "{}", at(&fit, 64.0, 124.0));
        // Cheeks and the jaw line stay judged (a face edge or another pose's chin).
        assert!(at(&fit, 64.0, 139.0) > 0.9, "{}", at(&fit, 64.0, 139.0));
        assert!(at(&fit, 30.0, 106.0) > 0.9, "{}", at(&fit, 30.0, 106.0));
        // A wide-open bank mouth (dark lower lip and mouth down to y 128) over a closed one:
        // the shading skin would call it a misfit and keep the target; the fit skin keeps it.
        let face = lit_mouth(|_, _| [1.0; 3]);
        let mut open = face.clone();
        let to_canon = crate::analysis::mouth_patch::patch_to_canonical();
        for (i, p) in open.rgb.iter_mut().enumerate() {
            let c = to_canon.apply([(i % PATCH_W) as f32, (i / PATCH_W) as f32]);
            if (c[0] - 64.0).abs() < 14.0 && (106.0..128.0).contains(&c[1]) {
                *p = [40.0, 15.0, 15.0];
            }
        }
        let kept = |skin: &[f32]| at(&fit_weights(&open, &face, skin), 64.0, 124.0);
        assert!(kept(&fit) > 0.95, "{}", kept(&fit));
        assert!(kept(&shading) < 0.5, "{}", kept(&shading));
    }

    #[test]
    fn the_fit_fades_on_the_kept_side_and_the_dropped_side_stays_dropped() {
        // Weight 0 on the left 40 columns (the target kept), 1 elsewhere.
        let step: Vec<f32> =
            (0..PATCH_W * PATCH_H).map(|i| if i % PATCH_W < 40 { 0.0 } else { 1.0 }).collect();
        let f = feather_inwards(&step, FIT_FEATHER);
        let row = |u: usize| f[48 * PATCH_W + u];
        assert!((0..40).all(|u| row(u) == 0.0), "the dropped side stays the target's");
        // A fade over a few pixels on the kept side, monotonic, then exactly 1.
        assert!(row(40) < 0.5 && row(42) > row(41) && row(41) > row(40));
        assert!((40 + 3 * FIT_FEATHER..PATCH_W).all(|u| row(u) == 1.0));
        let ones = vec![1.0; PATCH_W * PATCH_H];
        assert_eq!(feather_inwards(&ones, FIT_FEATHER), ones);
    }

    /// A small deterministic generator (xorshift) for the equivalence tests below.
    fn noise(seed: u64) -> impl FnMut() -> f32 {
        let mut x = seed.max(1);
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as f32 / (1u64 << 24) as f32
        }
    }

    #[test]
    fn fast_box_passes_equal_the_per_sample_loop() {
        let mut rnd = noise(11);
        for (pw, ph, r) in [(128usize, 96usize, 7usize), (256, 192, 14), (20, 9, 7), (5, 4, 6)] {
            let src: Vec<f32> = (0..pw * ph).map(|_| rnd() * 255.0).collect();
            // The loop as first written: `at` returns zero outside the line.
            let reference = |(len, stride, lines, step): Layout| {
                let mut dst = vec![0.0f32; src.len()];
                for line in 0..lines {
                    let base = line * step;
                    let at = |k: isize| -> f32 {
                        if k < 0 || k >= len as isize {
                            0.0
                        } else {
                            src[base + k as usize * stride]
                        }
                    };
                    let r = r as isize;
                    let mut acc: f32 = (0..=r).map(at).sum();
                    for k in 0..len as isize {
                        dst[base + k as usize * stride] = acc;
                        acc += at(k + r + 1) - at(k - r);
                    }
                }
                dst
            };
            for layout in [(pw, 1, ph, pw), (ph, pw, pw, 1)] {
                let mut dst = vec![0.0f32; src.len()];
                box_pass(&src, &mut dst, r, layout);
                assert!(dst == reference(layout), "{pw}x{ph} r {r} {layout:?}");
            }
        }
    }

    #[test]
    fn separable_ring_equals_the_square_search() {
        for (region, detail) in [(Region::LipsJaw, 1usize), (Region::Lips, 2), (Region::LipsJaw, 2)]
        {
            let mask = crate::analysis::mouth_patch::region_mask_at(region, 6.0, detail);
            let (pw, ph) = crate::analysis::mouth_patch::detail_dims(detail);
            let (pw, ph) = (pw as isize, ph as isize);
            let (s, r) = (detail as isize, 6 * detail as isize);
            let mut want = vec![0.0f32; mask.len()];
            for v in 0..ph {
                for u in 0..pw {
                    let i = (v * pw + u) as usize;
                    if mask[i] > 0.02
                        || u < 2 * s
                        || v < 2 * s
                        || u >= pw - 2 * s
                        || v >= ph - 2 * s
                    {
                        continue;
                    }
                    let near = (-r..=r).any(|dv| {
                        (-r..=r).any(|du| {
                            let (uu, vv) = (u + du, v + dv);
                            uu >= 0
                                && vv >= 0
                                && uu < pw
                                && vv < ph
                                && mask[(vv * pw + uu) as usize] > 0.5
                        })
                    });
                    if near {
                        want[i] = 1.0;
                    }
                }
            }
            let got = ring_weights(&mask);
            assert!(got.iter().any(|&v| v > 0.0));
            assert!(got == want, "{region:?} detail {detail}");
        }
    }
}
