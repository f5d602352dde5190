//! The mouth bank: the actor's own mouths (canonical patches) indexed by the audio heard when
//! they were filmed, and the selection of a mouth sequence for new audio (k nearest by audio,
//! then Viterbi with a cost for visual jumps; natural successors are free).

use super::geometry::{PATCH_H, PATCH_W, Patch, detail_of, downsample};

/// Side of the small grey descriptor used to price visual jumps.
const DESC_W: usize = 16;
const DESC_H: usize = 12;

/// One usable frame of the bound face.
#[derive(Clone, Debug, PartialEq)]
pub struct BankEntry {
    /// Source frame index.
    pub frame: i64,
    /// Canonical patch, RGB bytes, at the bank's detail (see
    /// [`super::geometry::detail_dims`]).
    pub patch: Vec<[u8; 3]>,
    /// Downsampled grey patch, zero mean, for visual distances.
    pub descriptor: Vec<f32>,
    /// Audio features of the original around this frame (normalised per track).
    pub features: Vec<f32>,
    /// Mouth aperture (0 closed .. 1 wide open; see [`super::measure::aperture`]: teeth and the
    /// dark interior both count).
    pub opening: f32,
}

impl BankEntry {
    /// Builds an entry from a patch (of any detail) and its audio features; the descriptor and
    /// the mouth opening are measured on the analysis-size patch.
    pub fn new(frame: i64, patch: &Patch, features: Vec<f32>) -> Self {
        let small = downsample(patch);
        Self {
            frame,
            patch: patch.rgb.iter().map(|p| p.map(|v| v.round().clamp(0.0, 255.0) as u8)).collect(),
            descriptor: descriptor(&small),
            features,
            opening: super::measure::aperture(&small),
        }
    }

    /// The patch as floats, at the bank's detail.
    pub fn to_patch(&self) -> Patch {
        Patch { rgb: self.patch.iter().map(|p| p.map(f32::from)).collect() }
    }

    /// The analysis-size (`PATCH_W × PATCH_H`) patch.
    pub fn analysis_patch(&self) -> Patch {
        downsample(&self.to_patch())
    }

    /// The detail factor of the stored patch.
    pub fn detail(&self) -> usize {
        detail_of(self.patch.len()).unwrap_or(1)
    }
}

fn luma(p: [f32; 3]) -> f32 {
    0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
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

/// Mouth opening from the canonical patch: the share of dark pixels (the mouth interior) in an
/// ellipse between the mouth corners, relative to the skin brightness around it.
pub fn mouth_opening(patch: &Patch) -> f32 {
    // Mouth centre in patch pixels: canonical (64, 106) → ((64−16)/0.75, (106−72)/0.75).
    let (cu, cv) = (64.0f32, 45.3f32);
    let (ru, rv) = (24.0f32, 16.0f32);
    let mut inner = Vec::new();
    let mut outer = Vec::new();
    for (i, p) in patch.rgb.iter().enumerate() {
        let (u, v) = ((i % PATCH_W) as f32, (i / PATCH_W) as f32);
        let r = ((u - cu) / ru).powi(2) + ((v - cv) / rv).powi(2);
        if r <= 1.0 {
            inner.push(luma(*p));
        } else if r <= 2.5 {
            outer.push(luma(*p));
        }
    }
    if inner.is_empty() || outer.is_empty() {
        return 0.0;
    }
    outer.sort_by(f32::total_cmp);
    let skin = outer[outer.len() / 2];
    // Continuous darkness rather than a threshold count: a half-open mouth reads half-way, and
    // the measure does not jump when one pixel crosses a line.
    let skin = skin.max(1.0);
    inner.iter().map(|&l| ((0.8 * skin - l) / (0.8 * skin)).clamp(0.0, 1.0)).sum::<f32>()
        / inner.len() as f32
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
}

impl Default for SelectParams {
    fn default() -> Self {
        // λ: a jump between unlike mouths costs about as much as a fair audio mismatch, so the
        // path holds still through small audio changes instead of flickering between mouths.
        Self { k: 12, lambda: 0.3 }
    }
}

/// The bank of one face track.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bank {
    /// Entries in frame order.
    pub entries: Vec<BankEntry>,
}

impl Bank {
    /// The detail factor of the bank's patches (1 for an empty bank).
    pub fn detail(&self) -> usize {
        self.entries.first().map_or(1, BankEntry::detail)
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
        if b.frame == a.frame + 1 {
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
        // Candidates: the k nearest, plus the natural successor of each previous candidate, so
        // that continuous stretches of the original footage stay reachable.
        let mut cands: Vec<Vec<(usize, f32)>> = Vec::with_capacity(run.len());
        for (i, f) in run.iter().enumerate() {
            let mut c = self.nearest_with(f, params.k, |e| extra(i, e));
            if i > 0 {
                let succ: Vec<usize> = cands[i - 1]
                    .iter()
                    .map(|&(e, _)| e + 1)
                    .filter(|&e| e < self.entries.len() && !c.iter().any(|&(x, _)| x == e))
                    .collect();
                c.extend(
                    succ.into_iter().map(|e| (e, dist(f, &self.entries[e].features) + extra(i, e))),
                );
            }
            cands.push(c);
        }
        // Candidate sets grow along a run (successors of successors), so the same entry pairs
        // are priced on many frames: each pair's transition is computed once.
        let n = self.entries.len();
        let mut memo = if n <= 1024 { vec![f32::NAN; n * n] } else { Vec::new() };
        let mut transition = |from: usize, to: usize| match memo.get_mut(from * n + to) {
            Some(m) if !m.is_nan() => *m,
            Some(m) => {
                *m = self.transition(from, to, params.lambda);
                *m
            }
            None => self.transition(from, to, params.lambda),
        };
        let mut cost: Vec<f32> = cands[0].iter().map(|&(_, d)| d).collect();
        let mut back: Vec<Vec<usize>> = vec![Vec::new()];
        for i in 1..run.len() {
            let mut next_cost = Vec::with_capacity(cands[i].len());
            let mut next_back = Vec::with_capacity(cands[i].len());
            for &(e, d) in &cands[i] {
                let (best, arg) = cands[i - 1]
                    .iter()
                    .enumerate()
                    .map(|(j, &(p, _))| (cost[j] + transition(p, e) + step(i, p, e), j))
                    .fold((f32::MAX, 0), |acc, x| if x.0 < acc.0 { x } else { acc });
                next_cost.push(best + d);
                next_back.push(arg);
            }
            cost = next_cost;
            back.push(next_back);
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
        let bank = Bank { entries: (0..20).map(|i| entry(i, i as f32, 100.0)).collect() };
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
        let sel = bank.select(&targets, SelectParams { k: 3, lambda: 1000.0 });
        // The cheapest natural pair (4, 5) costs 0.5 + 8 against 12.5 for (3, 4).
        assert_eq!(sel, vec![Some(4), Some(5)]);
        let sel = bank.select(&targets, SelectParams { k: 3, lambda: 0.0 });
        assert_eq!(sel, vec![Some(3), Some(9)]);
    }

    #[test]
    fn mouth_opening_sees_a_dark_interior() {
        let mut patch = Patch { rgb: vec![[180.0, 140.0, 120.0]; PATCH_W * PATCH_H] };
        assert_eq!(mouth_opening(&patch), 0.0);
        for (i, p) in patch.rgb.iter_mut().enumerate() {
            let (u, v) = ((i % PATCH_W) as f32, (i / PATCH_W) as f32);
            if ((u - 64.0) / 18.0).powi(2) + ((v - 45.0) / 8.0).powi(2) <= 1.0 {
                *p = [30.0, 10.0, 10.0];
            }
        }
        let open = mouth_opening(&patch);
        assert!(open > 0.2 && open < 0.6, "{open}");
    }
}
