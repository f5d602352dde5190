//! Model-free occlusion: learn what the lower face looks like over the track's clean frames
//! (per-pixel colour statistics in the canonical patch, and the colours the mouth itself shows:
//! lips, teeth, tongue, the dark interior), then call pixels occluders when they are unlikely
//! under that model in this frame and a neighbouring one (a hand or a microphone persists; noise
//! and a single odd frame do not). Around the mouth, where lips move and open, a pixel in one of
//! the mouth's own colours is never an occluder by itself: an occluder is a connected piece that
//! holds enough pixels unlike both, and it reaches in from the patch border or is large (hands,
//! cups and microphones enter from outside; a rare lip shade inside the mouth does not). The user
//! can add a painted mask, which lives in canonical coordinates and so follows the face.

use crate::analysis::mouth_patch::{PATCH_H, PATCH_W, Patch, patch_to_canonical};
use crate::model::lip::PaintedMask;

/// Per-pixel colour model of the canonical lower face, and the colours of the mouth.
#[derive(Clone, Debug, PartialEq)]
pub struct FaceModel {
    mean: Vec<[f32; 3]>,
    std: Vec<[f32; 3]>,
    /// Per colour bin (see [`colour_bin`]): whether the mouth zone shows colours there in the
    /// clean frames (with one bin of tolerance each way).
    mouth_colours: Vec<bool>,
    /// The face's usual skin colour around the mouth (YCbCr): the per-channel median of the
    /// model over the mouth zone, most of which is skin.
    skin: [f32; 3],
    /// Pixels whose usual colour is not skin (lips, the line between them): where skin shows
    /// instead, something skin-coloured covers them (see
    /// [`FaceModel::shows_skin_over_lips`]).
    not_skin: Vec<bool>,
}

/// Luma bins of the mouth colour table (16 levels each).
const BINS_Y: usize = 16;
/// Chroma bins per axis (8 units each over −128..128).
const BINS_C: usize = 32;
/// Number of colour bins.
pub const COLOUR_BINS: usize = BINS_Y * BINS_C * BINS_C;

fn bin_coords(q: [f32; 3]) -> [usize; 3] {
    let y = (q[0] / 16.0).clamp(0.0, (BINS_Y - 1) as f32) as usize;
    let c = |v: f32| ((v + 128.0) / 8.0).clamp(0.0, (BINS_C - 1) as f32) as usize;
    [y, c(q[1]), c(q[2])]
}

/// The colour bin of a YCbCr colour.
fn colour_bin(q: [f32; 3]) -> usize {
    let [y, b, r] = bin_coords(q);
    (y * BINS_C + b) * BINS_C + r
}

/// Share of the mouth zone's clean samples a colour bin needs to count as a mouth colour: seen
/// over a small area in a few frames, not once by chance.
const MOUTH_COLOUR_SHARE: f64 = 5e-5;

/// Where the mouth's own parts (lips, teeth, tongue, the dark interior) can appear in the
/// canonical patch: an ellipse around the lips, tall enough for a wide-open mouth.
pub fn mouth_zone() -> Vec<bool> {
    let to_canon = patch_to_canonical();
    (0..PATCH_W * PATCH_H)
        .map(|i| {
            let p = to_canon.apply([(i % PATCH_W) as f32, (i / PATCH_W) as f32]);
            ((p[0] - 64.0) / 32.0).powi(2) + ((p[1] - 110.0) / 22.0).powi(2) <= 1.0
        })
        .collect()
}

/// Luma below which a pixel in the mouth zone may be the mouth's dark interior.
const DARK_INTERIOR: f32 = 40.0;

/// Smallest occluder piece: this many pixels unlike both the face and the mouth colours.
const MIN_SEED_PIXELS: usize = PATCH_W * PATCH_H / 200;
/// An occluder piece that does not reach the patch border must cover at least this much.
const MIN_INNER_PIECE: usize = PATCH_W * PATCH_H * 3 / 100;

/// Smallest standard deviation per channel, so a pixel that never changed is not flagged for
/// compression noise.
const STD_FLOOR: [f32; 3] = [10.0, 6.0, 6.0];
/// Most frames the model is learned from.
pub(crate) const MAX_MODEL_FRAMES: usize = 160;

fn median(v: &mut [f32]) -> f32 {
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f32::total_cmp);
    *m
}

/// Distance (in standard deviations, chroma weighted) past which a pixel is unlikely.
const UNLIKELY: f32 = 4.0;

/// Chroma distance from the skin past which a pixel's usual colour is not skin.
const NOT_SKIN_CHROMA: f32 = 7.0;
/// Luma below the skin's past which a pixel's usual colour is a dark line, not skin.
const NOT_SKIN_LUMA: f32 = 45.0;
/// A pixel shows skin when its chroma is this close to the skin's (or closer than
/// [`SKIN_SHARE`] of its usual distance from it) ...
const SKIN_CHROMA: f32 = 5.0;
/// ... see [`SKIN_CHROMA`].
const SKIN_SHARE: f32 = 0.4;
/// ... and its luma within this of the skin's (a shaded finger is darker than the cheek).
const SKIN_LUMA: f32 = 45.0;
/// Radius of the opening that keeps only solid pieces of hidden lips (thin bands along the
/// lip outline, where lips press or stretch, are up to twice this wide).
const HIDDEN_OPENING: isize = 2;
/// An inner piece with at least this many pixels of hidden lips is an occluder.
const MIN_HIDDEN_PIXELS: usize = PATCH_W * PATCH_H / 100;

/// Chroma distance of two YCbCr colours.
fn chroma_dist(a: [f32; 3], b: [f32; 3]) -> f32 {
    ((a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2)).sqrt()
}

fn ycc(p: [f32; 3]) -> [f32; 3] {
    let y = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    [y, 0.564 * (p[2] - y), 0.713 * (p[0] - y)]
}

impl FaceModel {
    /// Per-pixel mean and standard deviation (YCbCr) in the canonical patch: for the bank cache.
    pub fn parts(&self) -> (&[[f32; 3]], &[[f32; 3]]) {
        (&self.mean, &self.std)
    }

    /// The mouth colour table (one flag per colour bin): for the bank cache.
    pub fn mouth_colours(&self) -> &[bool] {
        &self.mouth_colours
    }

    /// A model from [`FaceModel::parts`] and [`FaceModel::mouth_colours`]; `None` unless the
    /// statistics cover the whole patch and the table every colour bin.
    pub fn from_parts(
        mean: Vec<[f32; 3]>,
        std: Vec<[f32; 3]>,
        mouth_colours: Vec<bool>,
    ) -> Option<Self> {
        (mean.len() == PATCH_W * PATCH_H
            && std.len() == mean.len()
            && mouth_colours.len() == COLOUR_BINS)
            .then(|| Self::with_derived(mean, std, mouth_colours))
    }

    /// A model with its skin colour and non-skin pixels found from the per-pixel means.
    fn with_derived(mean: Vec<[f32; 3]>, std: Vec<[f32; 3]>, mouth_colours: Vec<bool>) -> Self {
        let zone = mouth_zone();
        let mut skin = [0.0f32; 3];
        for (c, s) in skin.iter_mut().enumerate() {
            let mut v: Vec<f32> =
                mean.iter().zip(&zone).filter(|(_, z)| **z).map(|(m, _)| m[c]).collect();
            *s = if v.is_empty() { 0.0 } else { median(&mut v) };
        }
        let not_skin = mean
            .iter()
            .zip(&zone)
            .map(|(m, &z)| {
                z && (chroma_dist(*m, skin) > NOT_SKIN_CHROMA || m[0] < skin[0] - NOT_SKIN_LUMA)
            })
            .collect();
        Self { mean, std, mouth_colours, skin, not_skin }
    }

    /// Whether a colour is one the mouth shows (see [`FaceModel::mouth_colours`]); a dark
    /// pixel always is (the mouth's interior, also of a mouth opened wider than ever filmed).
    fn is_mouth_colour(&self, p: [f32; 3]) -> bool {
        let q = ycc(p);
        q[0] < DARK_INTERIOR || self.mouth_colours[colour_bin(q)]
    }

    /// Whether patch pixel `i`, usually not skin (lips, the line between them), shows the
    /// face's skin colour in `px`: the lip contour has vanished there under something
    /// skin-coloured (a finger, a hand). Lips open onto a dark interior, teeth or tongue,
    /// none of them skin.
    fn shows_skin_over_lips(&self, i: usize, px: [f32; 3]) -> bool {
        if !self.not_skin[i] {
            return false;
        }
        let q = ycc(px);
        let usual = chroma_dist(self.mean[i], self.skin);
        chroma_dist(q, self.skin) <= SKIN_CHROMA.max(SKIN_SHARE * usual)
            && (q[0] - self.skin[0]).abs() <= SKIN_LUMA
            && q[0] >= DARK_INTERIOR
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
        let mut model = Self::with_derived(mean, std, vec![true; COLOUR_BINS]);
        model.mouth_colours = model.learn_mouth_colours(&used);
        Some(model)
    }

    /// The colours the mouth zone shows where the per-pixel model finds it typical (so an
    /// occluder in some training frames does not become a mouth colour), each bin widened by
    /// one bin each way.
    fn learn_mouth_colours(&self, patches: &[&Patch]) -> Vec<bool> {
        let zone = mouth_zone();
        let mut counts = vec![0u32; COLOUR_BINS];
        let mut total = 0u64;
        for p in patches {
            for ((px, odd), &inside) in p.rgb.iter().zip(self.unlikely(p)).zip(&zone) {
                if inside && !odd {
                    counts[colour_bin(ycc(*px))] += 1;
                    total += 1;
                }
            }
        }
        let min = ((total as f64 * MOUTH_COLOUR_SHARE).ceil() as u32).max(2);
        let mut out = vec![false; COLOUR_BINS];
        for y in 0..BINS_Y {
            for b in 0..BINS_C {
                for r in 0..BINS_C {
                    if counts[(y * BINS_C + b) * BINS_C + r] < min {
                        continue;
                    }
                    for yy in y.saturating_sub(1)..(y + 2).min(BINS_Y) {
                        for bb in b.saturating_sub(1)..(b + 2).min(BINS_C) {
                            for rr in r.saturating_sub(1)..(r + 2).min(BINS_C) {
                                out[(yy * BINS_C + bb) * BINS_C + rr] = true;
                            }
                        }
                    }
                }
            }
        }
        out
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

/// The 4-connected pieces of `seeds` kept as occluders: those of at least `min` pixels that
/// also reach the patch border (within 2 pixels), cover at least `min_inner` pixels, or hold at
/// least `min_strong` pixels of `strong` evidence (hidden lips). Each kept piece is a list of
/// its pixels.
fn occluder_pieces(
    seeds: &[bool],
    strong: &[bool],
    min: usize,
    min_inner: usize,
    min_strong: usize,
) -> Vec<Vec<usize>> {
    let (w, h) = (PATCH_W, PATCH_H);
    let mut kept = Vec::new();
    let mut seen = vec![false; seeds.len()];
    let mut stack = Vec::new();
    for start in 0..seeds.len() {
        if !seeds[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        stack.push(start);
        let mut piece = Vec::new();
        let mut border = false;
        let mut strong_count = 0;
        while let Some(i) = stack.pop() {
            piece.push(i);
            strong_count += usize::from(strong.get(i).copied().unwrap_or(false));
            let (x, y) = (i % w, i / w);
            border |= x < 2 || y < 2 || x + 2 >= w || y + 2 >= h;
            for j in neighbours4(i) {
                if seeds[j] && !seen[j] {
                    seen[j] = true;
                    stack.push(j);
                }
            }
        }
        if piece.len() >= min && (border || piece.len() >= min_inner || strong_count >= min_strong)
        {
            kept.push(piece);
        }
    }
    kept
}

/// The pixels of `pieces` as a map.
fn paint(pieces: &[Vec<usize>]) -> Vec<bool> {
    let mut out = vec![false; PATCH_W * PATCH_H];
    for &i in pieces.iter().flatten() {
        out[i] = true;
    }
    out
}

/// `hard` eroded then dilated by a `(2r+1)²` square (a morphological opening): pieces thinner
/// than `2r + 1` pixels vanish, solid ones keep their shape.
fn opening(hard: &[bool], r: isize) -> Vec<bool> {
    let (w, h) = (PATCH_W as isize, PATCH_H as isize);
    // One 1-D pass: `all` (erosion; past the patch edge counts as set, a piece may run off
    // it) or any (dilation), along rows or columns.
    let pass = |src: &[bool], all: bool, horizontal: bool| -> Vec<bool> {
        let mut out = vec![false; src.len()];
        for v in 0..h {
            for u in 0..w {
                let mut at = (-r..=r).map(|d| {
                    let (x, y) = if horizontal { (u + d, v) } else { (u, v + d) };
                    if x < 0 || y < 0 || x >= w || y >= h { all } else { src[(y * w + x) as usize] }
                });
                out[(v * w + u) as usize] = if all { at.all(|b| b) } else { at.any(|b| b) };
            }
        }
        out
    };
    let eroded = pass(&pass(hard, true, true), true, false);
    pass(&pass(&eroded, false, true), false, false)
}

/// Per-channel median and spread (1.4826 × MAD, floored at [`LIKE_FLOOR`]) of the YCbCr
/// colours of `pixels` in `patch`.
fn colour_stats(patch: &Patch, pixels: &[usize]) -> ([f32; 3], [f32; 3]) {
    let mut m = [0.0f32; 3];
    let mut d = [0.0f32; 3];
    let q: Vec<[f32; 3]> = pixels.iter().map(|&i| ycc(patch.rgb[i])).collect();
    for c in 0..3 {
        let mut col: Vec<f32> = q.iter().map(|p| p[c]).collect();
        if col.is_empty() {
            continue;
        }
        m[c] = median(&mut col);
        let mut dev: Vec<f32> = q.iter().map(|p| (p[c] - m[c]).abs()).collect();
        d[c] = (1.4826 * median(&mut dev)).max(LIKE_FLOOR[c]);
    }
    (m, d)
}

/// Smallest spread per channel of an occluder's own colour (see [`colour_stats`]).
const LIKE_FLOOR: [f32; 3] = [8.0, 4.0, 4.0];
/// Distance (in spreads, luma half weighted) within which a pixel has an occluder's colour.
const LIKE: f32 = 3.0;

/// `out` grown from each kept piece through connected `candidates` that have the piece's own
/// colour (see [`colour_stats`]), as far as they go: the part of a dark microphone over the
/// open mouth, or of a white card over the teeth, belongs to the piece that reaches in from
/// outside the mouth, while the lips beside it (another colour) do not.
fn grow_alike(out: &mut [bool], pieces: &[Vec<usize>], candidates: &[bool], patch: &Patch) {
    for piece in pieces {
        let (m, d) = colour_stats(patch, piece);
        let alike = |i: usize| {
            let q = ycc(patch.rgb[i]);
            let dist: f32 = (0..3)
                .map(|c| {
                    let z = (q[c] - m[c]) / d[c];
                    if c == 0 { 0.5 * z * z } else { z * z }
                })
                .sum();
            dist.sqrt() <= LIKE
        };
        let mut stack: Vec<usize> = piece.clone();
        while let Some(i) = stack.pop() {
            for j in neighbours4(i) {
                if candidates[j] && !out[j] && alike(j) {
                    out[j] = true;
                    stack.push(j);
                }
            }
        }
    }
}

/// The 4-neighbours of patch pixel `i` inside the patch.
fn neighbours4(i: usize) -> impl Iterator<Item = usize> {
    let (x, y) = (i % PATCH_W, i / PATCH_W);
    [
        (x > 0).then(|| i - 1),
        (x + 1 < PATCH_W).then(|| i + 1),
        (y > 0).then(|| i - PATCH_W),
        (y + 1 < PATCH_H).then(|| i + PATCH_W),
    ]
    .into_iter()
    .flatten()
}

/// `kept` grown through connected `candidates` by up to `steps` pixels (4-connected): the
/// part of an occluder in a colour the mouth also shows (a dark microphone over the open
/// mouth) joins the piece it belongs to, but not a whole mouth next to a hand.
fn grow_into(kept: &[bool], candidates: &[bool], steps: usize) -> Vec<bool> {
    let mut out = kept.to_vec();
    let mut front: Vec<usize> = (0..kept.len()).filter(|&i| kept[i]).collect();
    for _ in 0..steps {
        let mut next = Vec::new();
        for &i in &front {
            for j in neighbours4(i) {
                if candidates[j] && !out[j] {
                    out[j] = true;
                    next.push(j);
                }
            }
        }
        if next.is_empty() {
            break;
        }
        front = next;
    }
    out
}

/// Pixels an occluder piece grows into candidates that are in the mouth's colours.
const GROW_STEPS: usize = 6;

/// Occlusion masks (1 = occluder, keep the source) for a run of consecutive frames' patches.
/// A pixel is a candidate when it is unlikely under the per-pixel model in its frame and in a
/// neighbouring one; it is evidence of an occluder (a seed) unless it lies in the mouth zone in
/// one of the mouth's own colours. Connected pieces of seeds that reach in from the border or
/// are large are kept (see [`occluder_pieces`]), grown a little through the other candidates
/// (see [`grow_into`]) and dilated by a few pixels to cover the occluder's edge.
pub fn occlusion_masks(model: &FaceModel, patches: &[Patch]) -> Vec<Vec<f32>> {
    let unlikely: Vec<Vec<bool>> = patches.iter().map(|p| model.unlikely(p)).collect();
    (0..patches.len()).map(|t| mask_at(model, &patches[t], &unlikely, t)).collect()
}

/// The mask of [`occlusion_masks`]`(model, patches)[t]` alone (the renderer needs only the
/// centre of its three-frame window), from the [`FaceModel::unlikely`] maps of the frames next
/// to it, found once per frame by the caller (`unlikely[k]` of frame k of the window; frame
/// `t`'s patch is `centre`). An empty mask when `t` is out of range.
pub fn occlusion_mask_with(
    model: &FaceModel,
    centre: &Patch,
    unlikely: &[&[bool]],
    t: usize,
) -> Vec<f32> {
    if t >= unlikely.len() || unlikely.iter().any(|u| u.len() != PATCH_W * PATCH_H) {
        return vec![0.0; PATCH_W * PATCH_H];
    }
    mask_at(model, centre, unlikely, t)
}

fn mask_at<U: AsRef<[bool]>>(
    model: &FaceModel,
    centre: &Patch,
    unlikely: &[U],
    t: usize,
) -> Vec<f32> {
    let zone = mouth_zone();
    let stable: Vec<bool> = (0..PATCH_W * PATCH_H)
        .map(|i| {
            let now = unlikely[t].as_ref()[i];
            let prev = t > 0 && unlikely[t - 1].as_ref()[i];
            let next = t + 1 < unlikely.len() && unlikely[t + 1].as_ref()[i];
            // In two of the three frames: a single odd frame is noise, and a single frame
            // where an occluder looked like the face (a flicker of the test) is filled in.
            (now && (prev || next || unlikely.len() == 1)) || (prev && next)
        })
        .collect();
    // Lips that show skin: solid pieces only.
    let hidden: Vec<bool> = stable
        .iter()
        .zip(&centre.rgb)
        .enumerate()
        .map(|(i, (&s, &px))| s && model.shows_skin_over_lips(i, px))
        .collect();
    let hidden = opening(&hidden, HIDDEN_OPENING);
    let seeds: Vec<bool> = stable
        .iter()
        .zip(&centre.rgb)
        .zip(&zone)
        .zip(&hidden)
        .map(|(((&s, &px), &z), &hid)| hid || (s && !(z && model.is_mouth_colour(px))))
        .collect();
    let pieces =
        occluder_pieces(&seeds, &hidden, MIN_SEED_PIXELS, MIN_INNER_PIECE, MIN_HIDDEN_PIXELS);
    if pieces.is_empty() {
        return vec![0.0; PATCH_W * PATCH_H];
    }
    let mut kept = grow_into(&paint(&pieces), &stable, GROW_STEPS);
    grow_alike(&mut kept, &pieces, &stable, centre);
    dilate_and_soften(&kept, 3)
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

    fn block(hard: &mut [bool], ys: std::ops::Range<usize>, xs: std::ops::Range<usize>) {
        for y in ys {
            for x in xs.clone() {
                hard[y * PATCH_W + x] = true;
            }
        }
    }

    #[test]
    fn specks_and_small_inner_pieces_are_not_occluders_but_border_and_large_pieces_are() {
        let n = PATCH_W * PATCH_H;
        let none = vec![false; n];
        let pieces = |hard: &[bool]| {
            paint(&occluder_pieces(hard, &none, MIN_SEED_PIXELS, MIN_INNER_PIECE, usize::MAX))
        };
        let mut hard = vec![false; n];
        // 80 single-pixel specks: more than 0.5 % of the patch in all, none a piece.
        for k in 0..80 {
            hard[(k * 151) % n] = true;
        }
        assert!(!pieces(&hard).iter().any(|&b| b));
        // A 10×10 block inside the patch (a rare lip shade): too small to be an occluder there.
        let mut hard = vec![false; n];
        block(&mut hard, 40..50, 60..70);
        assert!(!pieces(&hard).iter().any(|&b| b));
        // The same block reaching the border (a fingertip entering) is kept whole.
        let mut hard = vec![false; n];
        block(&mut hard, 40..50, 0..10);
        assert_eq!(pieces(&hard).iter().filter(|&&b| b).count(), 100);
        // A large piece in the middle (a bar crossing the mouth) is kept.
        let mut hard = vec![false; n];
        block(&mut hard, 20..80, 50..70);
        assert_eq!(pieces(&hard).iter().filter(|&&b| b).count(), 1200);
        // A kept piece grows through connected candidates by GROW_STEPS pixels only.
        let mut seeds = vec![false; n];
        block(&mut seeds, 20..80, 0..20);
        let mut candidates = seeds.clone();
        block(&mut candidates, 40..50, 20..60);
        let grown = grow_into(&pieces(&seeds), &candidates, GROW_STEPS);
        assert!(
            grown[45 * PATCH_W + 20 + GROW_STEPS - 1] && !grown[45 * PATCH_W + 20 + GROW_STEPS]
        );
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
        // One frame's mask from its three-frame window alone is that frame's mask of the run.
        let unlikely: Vec<Vec<bool>> = frames.iter().map(|f| model.unlikely(f)).collect();
        for (t, mask) in masks.iter().enumerate() {
            let (lo, hi) = (t.saturating_sub(1), (t + 2).min(frames.len()));
            let window: Vec<&[bool]> = unlikely[lo..hi].iter().map(Vec::as_slice).collect();
            assert!(occlusion_mask_with(&model, &frames[t], &window, t - lo) == *mask, "frame {t}");
        }
        assert!(masks[1].iter().any(|&v| v > 0.0) && masks[3].iter().any(|&v| v > 0.0));
        assert_eq!(masks[2][45 * PATCH_W + 65], 1.0, "object centre");
        assert_eq!(masks[2][45 * PATCH_W + 48], 1.0, "dilated edge");
        assert_eq!(masks[2][10 * PATCH_W + 100], 0.0, "clean skin");
        assert_eq!(masks[0][10 * PATCH_W + 10], 0.0, "single-frame blip ignored");
        assert!(masks[4].iter().all(|&v| v == 0.0), "clean frame after the object");
        // Lips where they never were in training (the jaw dropped) over a dark interior: the
        // mouth's own colours in the mouth zone, not an occluder; the blue object still is.
        let mut open: Vec<Patch> = (0..3).map(|s| face(200 + s)).collect();
        for f in &mut open {
            for v in 40..60 {
                for u in 30..98 {
                    f.rgb[v * PATCH_W + u] =
                        if v < 47 { [25.0, 12.0, 12.0] } else { [150.0, 70.0, 70.0] };
                }
            }
        }
        let opened = occlusion_masks(&model, &open);
        assert!(opened[1].iter().all(|&v| v == 0.0), "an opened mouth is not an occluder");
        let mut covered = open.clone();
        for f in &mut covered {
            for v in 30..60 {
                for u in 0..40 {
                    f.rgb[v * PATCH_W + u] = [30.0, 60.0, 200.0];
                }
            }
        }
        let over = occlusion_masks(&model, &covered);
        assert_eq!(over[1][45 * PATCH_W + 20], 1.0, "object over the opened mouth");
        assert_eq!(over[1][55 * PATCH_W + 64], 0.0, "lips beside it are not");
        let painted = PaintedMask { keyframe: 0, values: vec![0.5; PATCH_W * PATCH_H] };
        let c = combine(&masks[4], Some(&painted));
        assert!(c.iter().all(|&v| v == 0.5));
    }

    /// Learns from clean frames, then masks `n` frames each changed by `draw`.
    fn masks_with(draw: impl Fn(&mut Patch)) -> Vec<Vec<f32>> {
        let train: Vec<Patch> = (0..20).map(face).collect();
        let model = FaceModel::learn(&train.iter().collect::<Vec<_>>()).unwrap();
        let frames: Vec<Patch> = (0..3)
            .map(|s| {
                let mut f = face(300 + s);
                draw(&mut f);
                f
            })
            .collect();
        occlusion_masks(&model, &frames)
    }

    fn fill(f: &mut Patch, ys: std::ops::Range<usize>, xs: std::ops::Range<usize>, c: [f32; 3]) {
        for v in ys {
            for u in xs.clone() {
                f.rgb[v * PATCH_W + u] = c;
            }
        }
    }

    #[test]
    fn a_skin_coloured_finger_hides_the_lips_but_pressed_lips_do_not() {
        // A finger in the face's own skin colour across the lips: like the face everywhere but
        // where the lips should be, and there it shows skin: the lip contour vanished.
        let skin = [200.0, 160.0, 140.0];
        let masks = masks_with(|f| fill(f, 25..PATCH_H, 50..63, skin));
        assert_eq!(masks[1][46 * PATCH_W + 56], 1.0, "the finger over the lips");
        assert_eq!(masks[1][46 * PATCH_W + 85], 0.0, "the lips beside it");
        // Lips pressed thin: a band of skin along their outline is no occluder.
        let masks = masks_with(|f| {
            fill(f, 40..42, 30..98, skin);
            fill(f, 50..52, 30..98, skin);
        });
        assert!(masks[1].iter().all(|&v| v == 0.0), "thin lips are not an occluder");
    }
}
