//! The mouth bank: the actor's own mouths (canonical patches) indexed by the audio heard when
//! they were filmed, and the selection of a mouth sequence for new audio (k nearest by audio,
//! then Viterbi with a cost for visual jumps; natural successors are free).

use crate::analysis::mouth::shape::luma;
use crate::analysis::mouth_patch::{PATCH_H, PATCH_W, Patch, detail_of, dims_of, downsample};

/// Side of the small grey descriptor used to price visual jumps.
const DESC_W: usize = 16;
const DESC_H: usize = 12;

mod cap;
mod compact;

pub use cap::{CapReport, DEFAULT_BUDGET_MB, bank_budget_bytes, descriptor_step};
pub use compact::{CompactPatch, DecodedCache, DecodedEntry};

/// One usable frame of the bound face.
#[derive(Clone, Debug, PartialEq)]
pub struct BankEntry {
    /// Source frame index.
    pub frame: i64,
    /// Whether this entry is the filmed continuation of the previous entry in the bank: the next
    /// frame, or the next one kept after near-duplicate frames were dropped (see
    /// [`Bank::cap`]). Continuations are free steps in the selection.
    pub continues: bool,
    /// Canonical patch at the bank's detail (see [`crate::analysis::mouth_patch::detail_dims`]), compact.
    pub patch: CompactPatch,
    /// Downsampled grey patch, zero mean, for visual distances.
    pub descriptor: Vec<f32>,
    /// Audio features of the original around this frame (normalised per track).
    pub features: Vec<f32>,
    /// Mouth aperture (0 closed .. 1 wide open; see [`crate::analysis::mouth::shape::aperture`]: teeth and the
    /// dark interior both count).
    pub opening: f32,
}

impl BankEntry {
    /// Builds an entry from a patch (of any detail) and its audio features; the descriptor and
    /// the mouth opening are measured on the analysis-size patch.
    pub fn new(frame: i64, patch: &Patch, features: Vec<f32>) -> Self {
        Self::with_small(frame, patch, &downsample(patch), features)
    }

    /// [`BankEntry::new`] when the analysis-size patch `small` is already at hand.
    pub fn with_small(frame: i64, patch: &Patch, small: &Patch, features: Vec<f32>) -> Self {
        Self {
            frame,
            continues: false,
            patch: CompactPatch::new(patch),
            descriptor: descriptor(small),
            features,
            opening: crate::analysis::mouth::shape::aperture(small),
        }
    }

    /// The patch as floats, at the bank's detail.
    pub fn to_patch(&self) -> Patch {
        self.patch.to_patch()
    }

    /// The detail factor of the stored patch.
    pub fn detail(&self) -> usize {
        detail_of(self.patch.len()).unwrap_or(1)
    }

    /// Bytes the entry holds (patch pixels, descriptor, features and the fixed fields).
    pub fn bytes(&self) -> usize {
        self.patch.bytes()
            + 4 * (self.descriptor.len() + self.features.len())
            + std::mem::size_of::<Self>()
    }
}

/// The luma of each pixel of a patch.
pub fn luma_of(patch: &Patch) -> Vec<f32> {
    patch.rgb.iter().map(|&p| luma(p)).collect()
}

/// Grey 16×12 box-filtered patch with the mean removed (lighting-independent appearance).
pub fn descriptor(patch: &Patch) -> Vec<f32> {
    let (bx, by) = (PATCH_W / DESC_W, PATCH_H / DESC_H);
    let mut d = vec![0.0f32; DESC_W * DESC_H];
    for (i, p) in patch.rgb.iter().enumerate() {
        let (u, v) = (i % PATCH_W, i / PATCH_W);
        d[(v / by).min(DESC_H - 1) * DESC_W + (u / bx).min(DESC_W - 1)] +=
            luma(*p) / (bx * by) as f32;
    }
    let mean = d.iter().sum::<f32>() / d.len() as f32;
    d.iter_mut().for_each(|v| *v -= mean);
    d
}

/// Weight of loudness (c0) and its change (Δc0) in the audio distance, as factors on the
/// feature values (the distance weight is their square). How loud the speech is decides how
/// much the mouth moves; with 26 equally weighted dimensions it was drowned by spectral shape.
pub const LOUDNESS_WEIGHT: [f32; 2] = [3.0, 2.0];

/// Scales the loudness dimensions of pooled `[c0..c12, Δc0..Δc12]` blocks of `dim` values (see
/// [`LOUDNESS_WEIGHT`]); the same for bank and dub features, so distances stay comparable.
pub fn weight_loudness(features: &mut [f32], dim: usize) {
    if dim < 2 || !dim.is_multiple_of(2) {
        return;
    }
    for block in features.chunks_mut(dim) {
        block[0] *= LOUDNESS_WEIGHT[0];
        if let Some(d) = block.get_mut(dim / 2) {
            *d *= LOUDNESS_WEIGHT[1];
        }
    }
}

/// Squared Euclidean distance per dimension.
fn dist(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len()).max(1);
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>() / n as f32
}

/// Selection settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SelectParams {
    /// Candidates per frame.
    pub k: usize,
    /// Weight of the visual jump cost against the audio distance.
    pub lambda: f32,
    /// Cost of a typical jaw mismatch between a candidate mouth and the target frame (see
    /// [`jaw_profile`]; used by [`super::engine::plan_with_looks`]), in audio-distance units
    /// (about 2 for unrelated sounds).
    pub jaw: f32,
}

/// Default [`SelectParams::jaw`]: off. Measured on v1/v3/v4 with two dubs each
/// (`examples/lip_strips` seam error, `tests/lip_sync.rs`), the jaw cost lowered the seam error
/// only by making the plan replay the target's own filmed mouths (at 1.0, up to a quarter of the
/// frames; with those excluded, see [`super::engine::OWN_JAW_FRAMES`], the seam error did not
/// fall), and since the jaw moves with the mouth's opening it pulled the selection back toward
/// the original's openings: the independent mouth-motion check of the edited v3 fell from 3.80
/// to 2.77–3.02 at weights 0.3–1.0. `REDUB_BANK_JAW_WEIGHT` turns it on for comparisons.
pub const JAW_WEIGHT: f32 = 0.0;

impl SelectParams {
    /// The defaults, with [`SelectParams::jaw`] from `REDUB_BANK_JAW_WEIGHT` when set to a
    /// number ≥ 0 (for comparisons; 0 turns the jaw cost off).
    pub fn from_env() -> Self {
        let jaw = std::env::var("REDUB_BANK_JAW_WEIGHT")
            .ok()
            .and_then(|v| v.trim().parse::<f32>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0);
        Self { jaw: jaw.unwrap_or(JAW_WEIGHT), ..Self::default() }
    }
}

impl Default for SelectParams {
    fn default() -> Self {
        // λ: a jump between unlike mouths costs about as much as a fair audio mismatch, so the
        // path holds still through small audio changes instead of flickering between mouths.
        Self { k: 12, lambda: 0.3, jaw: JAW_WEIGHT }
    }
}

/// Samples of the jaw profile (see [`jaw_profile`]).
pub const JAW_LEN: usize = JAW_ANGLES * (JAW_RADII.len() - 1);
const JAW_ANGLES: usize = 24;
/// Radii of the jaw profile's rings, relative to the lips+jaw ellipse: across its feathered edge.
const JAW_RADII: [f32; 5] = [0.8, 0.9, 1.0, 1.1, 1.2];

/// The lower face's geometry at the edit's outer edge: the grey level's change from ring to ring
/// across the edge of the lips+jaw region (the ellipse of [`crate::analysis::mouth_patch::region_mask`] for
/// `Region::LipsJaw`; five rings over its feather) at 24 angles, on an analysis-size patch.
/// Where the jaw line and the chin's folds cross the mask's edge is what a bank mouth must
/// match, or a crease shows where it meets the kept face. Changes, not levels: the renderer
/// relights the mouth to the target's smooth shading already, edges it cannot move.
pub fn jaw_profile(patch: &Patch) -> [f32; JAW_LEN] {
    // The lips+jaw ellipse in canonical units (centre, radii) and canonical → patch pixels.
    let (cx, cy, rx, ry) = (64.0f32, 114.0f32, 34.0f32, 26.0f32);
    let to_px = |x: f32, y: f32| ((x - 16.0) / 0.75, (y - 72.0) / 0.75);
    let lum = |u: f32, v: f32| -> f32 {
        let u = u.clamp(0.0, (PATCH_W - 1) as f32);
        let v = v.clamp(0.0, (PATCH_H - 1) as f32);
        let (u0, v0) = (u.floor() as usize, v.floor() as usize);
        let (u1, v1) = ((u0 + 1).min(PATCH_W - 1), (v0 + 1).min(PATCH_H - 1));
        let (fu, fv) = (u - u0 as f32, v - v0 as f32);
        let at = |x: usize, y: usize| patch.rgb.get(y * PATCH_W + x).map_or(0.0, |&p| luma(p));
        let top = at(u0, v0) + fu * (at(u1, v0) - at(u0, v0));
        let bottom = at(u0, v1) + fu * (at(u1, v1) - at(u0, v1));
        top + fv * (bottom - top)
    };
    let steps = JAW_RADII.len() - 1;
    let mut out = [0.0f32; JAW_LEN];
    for k in 0..JAW_ANGLES {
        let a = k as f32 / JAW_ANGLES as f32 * std::f32::consts::TAU;
        let ring: Vec<f32> = JAW_RADII
            .iter()
            .map(|r| {
                let (u, v) = to_px(cx + r * rx * a.cos(), cy + r * ry * a.sin());
                lum(u, v)
            })
            .collect();
        for j in 0..steps {
            out[k * steps + j] = ring[j + 1] - ring[j];
        }
    }
    out
}

/// Mean squared difference of two jaw profiles (grey levels²).
pub fn jaw_distance(a: &[f32; JAW_LEN], b: &[f32; JAW_LEN]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>() / JAW_LEN as f32
}

/// How one clean frame of the track looks apart from its mouth, kept for every clean frame
/// (also those a capped bank holds no mouth of): the target frames' lighting and jaw are read
/// from it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameLook {
    /// Source frame index.
    pub frame: i64,
    /// Mean ln(1 + channel) over the skin around the lips.
    pub light: [f32; 3],
    /// See [`jaw_profile`].
    pub jaw: [f32; JAW_LEN],
}

/// The bank of one face track.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bank {
    /// Entries in frame order.
    pub entries: Vec<BankEntry>,
    /// The look of every clean frame of the track, in frame order (see [`FrameLook`]).
    pub looks: Vec<FrameLook>,
}

impl Bank {
    /// A bank of `entries` in frame order (each continues the previous one where their frames
    /// are consecutive), without frame looks.
    pub fn new(mut entries: Vec<BankEntry>) -> Self {
        for i in 0..entries.len() {
            let prev = i.checked_sub(1).map(|j| entries[j].frame);
            entries[i].continues = prev.is_some_and(|p| p + 1 == entries[i].frame);
        }
        Self { entries, looks: Vec::new() }
    }

    /// The detail factor of the bank's patches (1 for an empty bank).
    pub fn detail(&self) -> usize {
        self.entries.first().map_or(1, BankEntry::detail)
    }

    /// Bytes the entries hold (see [`BankEntry::bytes`]).
    pub fn bytes(&self) -> usize {
        self.entries.iter().map(BankEntry::bytes).sum()
    }

    /// Whether entry `b` is the filmed continuation of entry `a` (a free step).
    pub fn follows(&self, a: usize, b: usize) -> bool {
        b == a + 1 && self.entries.get(b).is_some_and(|e| e.continues)
    }

    /// The look of the clean frame nearest to `frame`.
    pub fn look_near(&self, frame: i64) -> Option<&FrameLook> {
        let at = self.looks.partition_point(|l| l.frame < frame);
        [at.checked_sub(1), Some(at)]
            .into_iter()
            .flatten()
            .filter_map(|k| self.looks.get(k))
            .min_by_key(|l| (l.frame - frame).abs())
    }

    /// The `k` entries nearest to `features` by audio distance (brute force: banks hold a few
    /// thousand entries, where a linear scan beats building a tree).
    pub fn nearest(&self, features: &[f32], k: usize) -> Vec<(usize, f32)> {
        self.nearest_with(features, k, |_| 0.0)
    }

    /// The `k` entries of least audio distance plus `extra(entry)` (a per-entry cost such as a
    /// pose or lighting mismatch with the target frame), with that total as their cost.
    pub fn nearest_with(
        &self,
        features: &[f32],
        k: usize,
        extra: impl Fn(usize) -> f32,
    ) -> Vec<(usize, f32)> {
        let mut all: Vec<(usize, f32)> = self
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (i, dist(features, &e.features) + extra(i)))
            .collect();
        let k = k.min(all.len());
        if k == 0 {
            return Vec::new();
        }
        all.select_nth_unstable_by(k - 1, |a, b| a.1.total_cmp(&b.1));
        all.truncate(k);
        all.sort_by(|a, b| a.1.total_cmp(&b.1));
        all
    }

    fn transition(&self, from: usize, to: usize, lambda: f32) -> f32 {
        let (a, b) = (&self.entries[from], &self.entries[to]);
        if self.follows(from, to) {
            return 0.0; // the filmed continuation: always natural
        }
        if from == to {
            return lambda * 0.5; // holding a mouth is cheap but not free, to avoid freezes
        }
        lambda * (dist(&a.descriptor, &b.descriptor) / 100.0 + 1.0)
    }

    /// Chooses one entry per target frame. `None` targets (no dub speech) get `None` (keep the
    /// original mouth); each run of `Some` targets is solved by Viterbi.
    pub fn select(&self, targets: &[Option<Vec<f32>>], params: SelectParams) -> Vec<Option<usize>> {
        self.select_with(targets, params, |_, _| 0.0)
    }

    /// [`Bank::select`] with a per-frame cost `extra(target, entry)` added to the audio distance
    /// (how unlike the target frame the entry looks: pose, lighting).
    pub fn select_with(
        &self,
        targets: &[Option<Vec<f32>>],
        params: SelectParams,
        extra: impl Fn(usize, usize) -> f32,
    ) -> Vec<Option<usize>> {
        self.select_with_steps(targets, params, extra, |_, _, _| 0.0)
    }

    /// [`Bank::select_with`] with a cost `step(target, from, to)` added to every transition
    /// into `target` (from the entry chosen for `target − 1`), natural successors included: how
    /// unlike the wanted movement between the two frames the step from `from` to `to` moves.
    pub fn select_with_steps(
        &self,
        targets: &[Option<Vec<f32>>],
        params: SelectParams,
        extra: impl Fn(usize, usize) -> f32,
        step: impl Fn(usize, usize, usize) -> f32,
    ) -> Vec<Option<usize>> {
        let mut out = vec![None; targets.len()];
        if self.entries.is_empty() {
            return out;
        }
        let mut t = 0;
        while t < targets.len() {
            if targets[t].is_none() {
                t += 1;
                continue;
            }
            let start = t;
            while t < targets.len() && targets[t].is_some() {
                t += 1;
            }
            let run: Vec<&Vec<f32>> = targets[start..t].iter().flatten().collect();
            for (i, choice) in self
                .viterbi(&run, params, |t, e| extra(start + t, e), |t, a, b| step(start + t, a, b))
                .into_iter()
                .enumerate()
            {
                out[start + i] = Some(choice);
            }
        }
        out
    }

    fn viterbi(
        &self,
        run: &[&Vec<f32>],
        params: SelectParams,
        extra: impl Fn(usize, usize) -> f32,
        step: impl Fn(usize, usize, usize) -> f32,
    ) -> Vec<usize> {
        // Candidates: the k nearest, plus the natural successors of the k best paths so far, so
        // that continuous stretches of the original footage stay reachable. (Successors of every
        // previous candidate would grow the set along the run: quadratic in the dub's length,
        // and a long shot's bank made that hours.)
        let n = self.entries.len();
        // Each pair's transition is computed once (candidate sets overlap from frame to frame).
        let mut memo = if n <= 1024 { vec![f32::NAN; n * n] } else { Vec::new() };
        let mut transition = |from: usize, to: usize| match memo.get_mut(from * n + to) {
            Some(m) if !m.is_nan() => *m,
            Some(m) => {
                *m = self.transition(from, to, params.lambda);
                *m
            }
            None => self.transition(from, to, params.lambda),
        };
        let keep = params.k.max(1);
        let mut cands: Vec<Vec<(usize, f32)>> = Vec::with_capacity(run.len());
        let mut cost: Vec<f32> = Vec::new();
        let mut back: Vec<Vec<usize>> = Vec::with_capacity(run.len());
        for (i, f) in run.iter().enumerate() {
            let mut c = self.nearest_with(f, params.k, |e| extra(i, e));
            let Some(prev) = cands.last() else {
                cost = c.iter().map(|&(_, d)| d).collect();
                back.push(Vec::new());
                cands.push(c);
                continue;
            };
            let mut best: Vec<usize> = (0..prev.len()).collect();
            best.sort_by(|&a, &b| cost[a].total_cmp(&cost[b]));
            for &j in best.iter().take(keep) {
                let e = prev[j].0 + 1;
                if e < n && !c.iter().any(|&(x, _)| x == e) {
                    c.push((e, dist(f, &self.entries[e].features) + extra(i, e)));
                }
            }
            let mut next_cost = Vec::with_capacity(c.len());
            let mut next_back = Vec::with_capacity(c.len());
            for &(e, d) in &c {
                let (best, arg) = prev
                    .iter()
                    .enumerate()
                    .map(|(j, &(p, _))| (cost[j] + transition(p, e) + step(i, p, e), j))
                    .fold((f32::MAX, 0), |acc, x| if x.0 < acc.0 { x } else { acc });
                next_cost.push(best + d);
                next_back.push(arg);
            }
            cost = next_cost;
            back.push(next_back);
            cands.push(c);
        }
        let mut j = cost
            .iter()
            .enumerate()
            .fold((0, f32::MAX), |acc, (i, &c)| if c < acc.1 { (i, c) } else { acc })
            .0;
        let mut path = vec![0; run.len()];
        for i in (0..run.len()).rev() {
            path[i] = cands[i][j].0;
            if i > 0 {
                j = back[i][j];
            }
        }
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(frame: i64, feature: f32, shade: f32) -> BankEntry {
        let patch = Patch { rgb: vec![[shade; 3]; PATCH_W * PATCH_H] };
        BankEntry::new(frame, &patch, vec![feature, 0.0])
    }

    #[test]
    fn nearest_and_viterbi_prefer_natural_runs() {
        let bank = Bank::new((0..20).map(|i| entry(i, i as f32, 100.0)).collect());
        let near = bank.nearest(&[5.2, 0.0], 3);
        assert_eq!(near.iter().map(|n| n.0).collect::<Vec<_>>(), vec![5, 6, 4]);
        // Audio that walks 3,4,5,6: the natural run is chosen.
        let targets: Vec<Option<Vec<f32>>> = (3..7).map(|i| Some(vec![i as f32, 0.0])).collect();
        let sel = bank.select(&targets, SelectParams::default());
        assert_eq!(sel, vec![Some(3), Some(4), Some(5), Some(6)]);
        // Silence stays None.
        let sel = bank.select(&[None, Some(vec![2.0, 0.0]), None], SelectParams::default());
        assert_eq!(sel, vec![None, Some(2), None]);
        // With a huge jump cost, a slightly worse natural successor wins over a jump.
        let targets = vec![Some(vec![3.0, 0.0]), Some(vec![9.0, 0.0])];
        let sel =
            bank.select(&targets, SelectParams { k: 3, lambda: 1000.0, ..SelectParams::default() });
        // The cheapest natural pair (4, 5) costs 0.5 + 8 against 12.5 for (3, 4).
        assert_eq!(sel, vec![Some(4), Some(5)]);
        let sel =
            bank.select(&targets, SelectParams { k: 3, lambda: 0.0, ..SelectParams::default() });
        assert_eq!(sel, vec![Some(3), Some(9)]);
    }

    #[test]
    fn selection_work_grows_with_the_dub_not_the_shot() {
        // A long shot's bank (1500 mouths) and a 400-frame dub run: the candidates per frame
        // stay near 2k (k nearest plus the successors of the k best paths), so the priced
        // transitions are bounded by frames × (2k)², however long the run.
        let bank = Bank::new((0..1500).map(|i| entry(i, (i % 97) as f32, 100.0)).collect());
        let targets: Vec<Option<Vec<f32>>> =
            (0..400).map(|i| Some(vec![((i * 7) % 97) as f32, 0.0])).collect();
        let params = SelectParams { k: 8, ..SelectParams::default() };
        let steps = std::cell::Cell::new(0usize);
        let sel = bank.select_with_steps(
            &targets,
            params,
            |_, _| 0.0,
            |_, _, _| {
                steps.set(steps.get() + 1);
                0.0
            },
        );
        assert!(sel.iter().all(Option::is_some));
        assert!(steps.get() <= 400 * 16 * 16, "{} transitions priced", steps.get());
    }

    #[test]
    fn compact_patches_keep_luma_and_smooth_chroma() {
        // Detail-2 patch: a sharp luma edge (teeth against the mouth interior) and a smooth
        // chroma ramp; the luma survives within rounding, the chroma within a few levels.
        let (w, h) = (PATCH_W * 2, PATCH_H * 2);
        let rgb: Vec<[f32; 3]> = (0..w * h)
            .map(|i| {
                let (u, v) = (i % w, i / w);
                let base = if (u / 5 + v / 7) % 2 == 0 { 40.0 } else { 220.0 };
                [base + u as f32 * 0.1, base, base + v as f32 * 0.1]
            })
            .collect();
        let patch = Patch { rgb };
        let c = CompactPatch::new(&patch);
        assert_eq!((c.dims(), c.len(), c.bytes()), ((w, h), w * h, w * h * 3 / 2));
        let back = c.to_patch();
        let luma_err = patch
            .rgb
            .iter()
            .zip(&back.rgb)
            .map(|(a, b)| (luma(*a) - luma(*b)).abs())
            .fold(0.0f32, f32::max);
        assert!(luma_err < 2.5, "luma {luma_err}");
        let rms = (patch
            .rgb
            .iter()
            .zip(&back.rgb)
            .flat_map(|(a, b)| (0..3).map(move |k| (a[k] - b[k]).powi(2)))
            .sum::<f32>()
            / (3 * w * h) as f32)
            .sqrt();
        assert!(rms < 3.0, "rms {rms}");
        let planes = c.planes();
        let again = CompactPatch::from_planes(
            w,
            h,
            planes.0.to_vec(),
            planes.1.to_vec(),
            planes.2.to_vec(),
        );
        assert_eq!(again.as_ref(), Some(&c));
        assert!(CompactPatch::from_planes(w, h, vec![0; 3], vec![], vec![]).is_none());
        // A patch that is all the flat chroma comes back exactly (up to rounding).
        let flat = Patch { rgb: vec![[180.0, 120.0, 100.0]; PATCH_W * PATCH_H] };
        let back = CompactPatch::new(&flat).to_patch();
        assert!(back.rgb.iter().all(|p| (0..3).all(|k| (p[k] - flat.rgb[0][k]).abs() < 1.5)));
    }

    #[test]
    fn jaw_profiles_see_where_the_jaw_line_crosses_the_edge() {
        // A chin edge (bright skin above, dark below) at two heights.
        let chin = |row: usize| crate::analysis::mouth_patch::chin_patch(row, 60.0);
        let (a, b, c) = (jaw_profile(&chin(80)), jaw_profile(&chin(80)), jaw_profile(&chin(70)));
        assert_eq!(jaw_distance(&a, &b), 0.0);
        assert!(jaw_distance(&a, &c) > 100.0, "{}", jaw_distance(&a, &c));
        // Lighting alone (a uniform brightness change) is not a jaw difference.
        let mut lit = chin(80);
        lit.rgb.iter_mut().for_each(|p| p.iter_mut().for_each(|v| *v += 20.0));
        assert!(jaw_distance(&a, &jaw_profile(&lit)) < 1.0);
    }
}
