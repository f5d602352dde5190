//! The bank lip engine end to end: build the bank from a face track, plan a mouth per frame for
//! the dub audio, and render a planned frame on the CPU (the reference path).

use super::bank::{
    Bank, BankEntry, CapReport, CompactPatch, DecodedCache, DecodedEntry, FrameLook, JAW_LEN,
    SelectParams, descriptor_step, jaw_distance, jaw_profile,
};
use crate::analysis::mouth_patch::{
    Landmarks5, PATCH_H, PATCH_W, Patch, Region, Similarity, detail_dims, detail_for, downsample,
    extract_patch_at, patch_to_image_at, region_mask, region_mask_at, upsample_rows4,
};
use super::occlusion::{
    FaceModel, MAX_MODEL_FRAMES, combine, mouth_zone, occlusion_mask_with,
    occlusion_masks,
};
use super::colour::{
    apply_gain, fit_weights, ring_weights, shading_gain, skin_weights_at,
};
use wide::f32x4;

/// One frame of a face track as the engine needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackFrame {
    /// Smoothed landmarks in frame pixels.
    pub landmarks: Landmarks5,
    /// Detection confidence 0..1.
    pub score: f32,
}

pub use crate::model::lip::LipSettings;
use crate::model::lip::PaintedMask;

/// Frames with a detection score below this do not enter the bank.
pub const MIN_BANK_SCORE: f32 = 0.9;

/// Frames over which an edit fades in and out at the edges of dub speech.
pub const RAMP_FRAMES: usize = 3;

/// A mouth chosen for one output frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Planned {
    /// Bank entry.
    pub entry: usize,
    /// 0..1 blend weight (ramps at segment edges).
    pub weight: f32,
    /// The entries chosen for the previous and next frames where they are jumps away from this
    /// one (not the filmed neighbours): blended in at [`SMOOTH_WEIGHT`] each, a temporal
    /// low-pass that keeps re-sequenced mouths from flickering back and forth.
    pub mix: [Option<usize>; 2],
}

/// Largest weight of each jumped-to neighbour's mouth in a planned frame (the centre keeps the
/// rest); it falls to 0 as the neighbour's aligned shape differs from the centre's.
pub const SMOOTH_WEIGHT: f32 = 0.25;

/// RMS luma difference over the lips (0..255 levels) at which an aligned neighbour no longer
/// blends in: beyond it the two mouths are different shapes, not the same shape with noise.
pub const MIX_MAX_RMS: f32 = 24.0;

/// Largest shift in patch pixels tried when aligning a neighbour's mouth onto the centre one.
const ALIGN_RADIUS: isize = 3;

/// The whole-pixel offset (within ±[`ALIGN_RADIUS`]) that best moves `patch` onto `reference`
/// over `weight` (luma, mean removed so lighting does not steer it), all at analysis size, and
/// the remaining weighted RMS luma difference.
#[cfg(test)]
fn best_shift(patch: &Patch, reference: &Patch, weight: &[f32]) -> (isize, isize, f32) {
    use super::bank::luma_of;
    best_shift_luma(&luma_of(patch), &luma_of(reference), weight)
}

/// [`best_shift`] of two analysis-size patches given by their luma
/// ([`super::bank::luma_of`]).
fn best_shift_luma(a: &[f32], b: &[f32], weight: &[f32]) -> (isize, isize, f32) {
    let (w, h) = (PATCH_W as isize, PATCH_H as isize);
    if a.len() != PATCH_W * PATCH_H || b.len() != a.len() || weight.len() != a.len() {
        return (0, 0, f32::MAX);
    }
    let total: f32 = weight.iter().sum::<f32>().max(1e-6);
    // The weighted pixels (a lip mask covers a small part of the patch), in index order.
    let used: Vec<(usize, isize, isize, f32)> = weight
        .iter()
        .enumerate()
        .filter(|&(_, &wt)| wt > 0.0)
        .map(|(i, &wt)| (i, i as isize % w, i as isize / w, wt))
        .collect();
    let mb = used.iter().map(|&(i, _, _, wt)| wt * b[i]).sum::<f32>() / total;
    // Pixels at least ALIGN_RADIUS from every edge read their shifted pixel without clamping.
    let r = ALIGN_RADIUS;
    let interior = used.iter().all(|&(_, u, y, _)| u >= r && y >= r && u < w - r && y < h - r);
    let at = |u: isize, y: isize| a[(y.clamp(0, h - 1) * w + u.clamp(0, w - 1)) as usize];
    let mut best = (f32::MAX, 0isize, 0isize);
    for dv in -r..=r {
        for du in -r..=r {
            // With d = a(shifted) − b: Σ wt·((a − ā) − (b − b̄))² = Σ wt·d² − total·(ā − b̄)².
            let (mut sa, mut sd) = (0.0f32, 0.0f32);
            if interior {
                let off = dv * w + du;
                for &(i, _, _, wt) in &used {
                    let m = a[(i as isize - off) as usize];
                    let d = m - b[i];
                    sa += wt * m;
                    sd += wt * d * d;
                }
            } else {
                for &(i, u, y, wt) in &used {
                    let m = at(u - du, y - dv);
                    let d = m - b[i];
                    sa += wt * m;
                    sd += wt * d * d;
                }
            }
            let c = sa / total - mb;
            let e = (sd - total * c * c).max(0.0);
            if e < best.0 {
                best = (e, du, dv);
            }
        }
    }
    let (e, du, dv) = best;
    (du, dv, (e / total).sqrt())
}

/// `patch` (`w × h` pixels) shifted by whole pixels, edges clamped.
#[cfg(test)]
fn shifted(patch: &Patch, (w, h): (usize, usize), du: isize, dv: isize) -> Patch {
    let (w, h) = (w as isize, h as isize);
    Patch {
        rgb: (0..w * h)
            .map(|i| {
                let (u, y) = (i % w, i / w);
                let (su, sv) = ((u - du).clamp(0, w - 1), (y - dv).clamp(0, h - 1));
                patch.rgb[(sv * w + su) as usize]
            })
            .collect(),
    }
}

/// Shifts `patch` by the whole-pixel offset that best matches `reference` (see
/// [`best_shift`]); returns the shifted patch and the remaining weighted RMS luma difference.
#[cfg(test)]
fn align_to(patch: &Patch, reference: &Patch, weight: &[f32]) -> (Patch, f32) {
    let (du, dv, rms) = best_shift(patch, reference, weight);
    (shifted(patch, (PATCH_W, PATCH_H), du, dv), rms)
}

/// The detail the bank of a face track is stored at: enough patch pixels for the typical
/// on-screen size of the face's mouth (the median over the frames with a face), capped at
/// [`crate::analysis::mouth_patch::MAX_DETAIL`].
pub fn track_detail(track: &[Option<TrackFrame>]) -> usize {
    let mut d: Vec<usize> = track.iter().flatten().map(|t| detail_for(&t.landmarks)).collect();
    if d.is_empty() {
        return 1;
    }
    let mid = d.len() / 2;
    *d.select_nth_unstable(mid).1
}

/// Builds the bank from the clean frames of a face track. `frame_rgba(i)` returns the decoded
/// frame `i` (RGBA, `width × height`); `features[i]` are the original audio's features there.
/// The bank's entries hold at most `budget` bytes (see [`Bank::cap`] for what goes first): the
/// frames are read once while the mouths fit the budget; past it, the first pass keeps only the
/// analysis-size patches, and the kept entries' detail patches are read in a second pass, so
/// the build never holds much more than the budget of detail patches.
pub fn build_bank(
    track: &[Option<TrackFrame>],
    features: &[Vec<f32>],
    width: usize,
    height: usize,
    mut frame_rgba: impl FnMut(usize) -> Option<Vec<u8>>,
    mut cancelled: impl FnMut(usize) -> bool,
    budget: usize,
) -> (Bank, Option<FaceModel>, CapReport) {
    let detail = track_detail(track);
    let skin = skin_weights_at(1);
    // Per usable frame: frame, analysis-size patch as bytes, the entry (its detail patch
    // dropped once the budget is passed) and its look.
    struct Clean {
        small: Vec<[u8; 3]>,
        entry: BankEntry,
        look: FrameLook,
    }
    let mut clean: Vec<Clean> = Vec::new();
    let mut held = 0usize;
    let mut over = false;
    for (i, tf) in track.iter().enumerate() {
        if cancelled(i) {
            break;
        }
        let Some(tf) = tf.filter(|t| t.score >= MIN_BANK_SCORE) else { continue };
        let Some(f) = features.get(i) else { continue };
        let Some(rgba) = frame_rgba(i) else { continue };
        let Some(p) = extract_patch_at(&rgba, width, height, &tf.landmarks, detail) else {
            continue;
        };
        let small = downsample(&p);
        let Some(look) = Look::new(&tf.landmarks, &small, &skin) else { continue };
        let mut entry = BankEntry::with_small(i as i64, &p, &small, f.clone());
        held += entry.bytes();
        if held > budget {
            over = true;
        }
        if over {
            entry.patch = CompactPatch::default();
        }
        let look = FrameLook { frame: i as i64, light: look.light, jaw: look.jaw };
        let small =
            small.rgb.iter().map(|p| p.map(|v| v.round().clamp(0.0, 255.0) as u8)).collect();
        clean.push(Clean { small, entry, look });
    }
    let as_patch = |c: &Clean| Patch { rgb: c.small.iter().map(|p| p.map(f32::from)).collect() };
    // The face model learns from an even subsample (as FaceModel::learn would take).
    let step = clean.len().div_ceil(MAX_MODEL_FRAMES).max(1);
    let sample: Vec<Patch> = clean.iter().step_by(step).map(as_patch).collect();
    let model = FaceModel::learn(&sample.iter().collect::<Vec<_>>());
    // Frames where something covers the mouth would teach the bank a wrong mouth. The test reads
    // each frame's neighbours, so it runs over overlapping windows of the patches.
    let occluded: Vec<bool> = match &model {
        Some(m) => {
            // Only what covers the mouth matters: a hand on the cheek, or the background showing
            // past the jaw line as the head turns, leaves the mouth usable.
            let zone = mouth_zone();
            let area = zone.iter().filter(|&&z| z).count().max(1);
            let mut out = Vec::with_capacity(clean.len());
            const WINDOW: usize = 256;
            let mut start = 0;
            while start < clean.len() {
                let end = (start + WINDOW).min(clean.len());
                let lo = start.saturating_sub(1);
                let hi = (end + 1).min(clean.len());
                let ps: Vec<Patch> = clean[lo..hi].iter().map(as_patch).collect();
                let masks = occlusion_masks(m, &ps);
                out.extend(masks[start - lo..start - lo + (end - start)].iter().map(|o| {
                    let covered = o.iter().zip(&zone).filter(|(v, z)| **v > 0.5 && **z).count();
                    covered * 50 > area
                }));
                start = end;
            }
            out
        }
        None => vec![false; clean.len()],
    };
    let mut looks = Vec::with_capacity(clean.len());
    let mut entries = Vec::with_capacity(clean.len());
    for (c, occ) in clean.into_iter().zip(occluded) {
        if !occ {
            looks.push(c.look);
            entries.push(c.entry);
        }
    }
    let mut bank = Bank::new(entries);
    bank.looks = looks;
    // Every entry's size once its detail patch is in (they share one detail).
    let (dw, dh) = detail_dims(detail);
    let per_entry = bank
        .entries
        .first()
        .map_or(1, |e| e.bytes() - e.patch.bytes() + dw * dh + 2 * dw.div_ceil(2) * dh.div_ceil(2));
    let report = bank.cap(budget / per_entry.max(1));
    if over {
        // Second pass: the detail patches of the kept entries only.
        let mut missing = Vec::new();
        let n = bank.entries.len();
        for (k, e) in bank.entries.iter_mut().enumerate() {
            let i = e.frame as usize;
            // The progress runs over the shot a second time; a cancelled build keeps no mouth
            // without its patch.
            if cancelled(i) {
                missing.extend(k..n);
                break;
            }
            let patch =
                track.get(i).copied().flatten().zip(frame_rgba(i)).and_then(|(tf, rgba)| {
                    extract_patch_at(&rgba, width, height, &tf.landmarks, detail)
                });
            match patch {
                Some(p) => e.patch = CompactPatch::new(&p),
                None => missing.push(k),
            }
        }
        // A frame that cannot be read again (a decode error) leaves no mouth; what followed it
        // no longer continues a run.
        if !missing.is_empty() {
            let old = std::mem::take(&mut bank.entries);
            for (k, mut e) in old.into_iter().enumerate() {
                if missing.contains(&k) {
                    continue;
                }
                if k > 0 && missing.contains(&(k - 1)) {
                    e.continues = false;
                }
                bank.entries.push(e);
            }
        }
    }
    (bank, model, report)
}

/// Plans a mouth for each frame. `dub[i]` is `None` where the dub track is silent (the original
/// mouth stays); edit weights ramp over [`RAMP_FRAMES`] at the edges of speech.
pub fn plan(bank: &Bank, dub: &[Option<Vec<f32>>], params: SelectParams) -> Vec<Option<Planned>> {
    finish_plan(bank, bank.select(dub, params))
}

/// Weights (ramps) and jump neighbours for a chosen entry sequence.
fn finish_plan(bank: &Bank, chosen: Vec<Option<usize>>) -> Vec<Option<Planned>> {
    let n = chosen.len();
    let active: Vec<bool> = chosen.iter().map(Option::is_some).collect();
    let edge_distance = |i: usize| -> usize {
        let before = (0..=i).rev().take_while(|&j| active[j]).count();
        let after = (i..n).take_while(|&j| active[j]).count();
        before.min(after)
    };
    chosen
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.map(|entry| {
                let prev = i.checked_sub(1).and_then(|j| chosen[j]);
                let next = chosen.get(i + 1).copied().flatten();
                // Filmed neighbours already move as the actor moved: leave them unblended.
                let prev = prev.filter(|&p| !bank.follows(p, entry));
                let next = next.filter(|&n| !bank.follows(entry, n));
                Planned {
                    entry,
                    weight: (edge_distance(i) as f32 / (RAMP_FRAMES + 1) as f32).min(1.0),
                    mix: [prev, next],
                }
            })
        })
        .collect()
}

/// How a face looks at one frame apart from its mouth: its pose (the landmarks' residual after
/// the similarity that maps them to the canonical face: head turn and tilt move the nose and
/// mouth against the eyes) and the lighting of the skin around the mouth (mean log RGB).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Look {
    /// Landmark residuals in canonical units.
    pub pose: [[f32; 2]; 5],
    /// Mean ln(1 + channel) over the skin around the lips.
    pub light: [f32; 3],
    /// The lower face's geometry at the edit's outer edge (see [`jaw_profile`]).
    pub jaw: [f32; JAW_LEN],
}

/// Canonical units of landmark residual that cost as much as one unit of [`LIGHT_SCALE`].
pub const POSE_SCALE: f32 = 3.0;
/// Log-RGB difference (≈ relative change) of the skin lighting that costs one unit.
pub const LIGHT_SCALE: f32 = 0.08;
/// Weight of one unit of pose or lighting mismatch against the audio distance: a bank mouth
/// filmed with the head turned another way, or in other light, lands with misplaced corners or a
/// different shading however well its audio matches.
pub const LOOK_WEIGHT: f32 = 0.2;

impl Look {
    /// The look of a face with `landmarks` whose analysis-size canonical patch is `patch`;
    /// `skin` as in [`EditMasks::skin_small`].
    pub fn new(landmarks: &Landmarks5, patch: &Patch, skin: &[f32]) -> Option<Self> {
        let pose = Self::pose(landmarks)?;
        let mut light = [0.0f64; 3];
        let mut total = 0.0f64;
        for (p, &w) in patch.rgb.iter().zip(skin) {
            for c in 0..3 {
                light[c] += f64::from(w * (1.0 + p[c]).ln());
            }
            total += f64::from(w);
        }
        let light = light.map(|v| (v / total.max(1e-6)) as f32);
        Some(Self { pose, light, jaw: jaw_profile(patch) })
    }

    /// The pose part of a look: landmark residuals in the canonical frame.
    pub fn pose(landmarks: &Landmarks5) -> Option<[[f32; 2]; 5]> {
        let to_canon = crate::analysis::mouth_patch::image_to_canonical(landmarks)?;
        let canon = crate::analysis::mouth_patch::canonical();
        Some(std::array::from_fn(|k| {
            let p = to_canon.apply(landmarks[k]);
            [p[0] - canon[k][0], p[1] - canon[k][1]]
        }))
    }

    /// Mismatch cost between two looks (0 for equal ones), in audio-distance units.
    pub fn cost(&self, other: &Look) -> f32 {
        let pose = self
            .pose
            .iter()
            .zip(&other.pose)
            .map(|(a, b)| (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2))
            .sum::<f32>()
            / (5.0 * POSE_SCALE * POSE_SCALE);
        let light = self.light.iter().zip(&other.light).map(|(a, b)| (a - b).powi(2)).sum::<f32>()
            / (3.0 * LIGHT_SCALE * LIGHT_SCALE);
        LOOK_WEIGHT * (pose + light)
    }
}

/// Grey levels (RMS over the jaw profile) below which jaw mismatches are not told apart: on a
/// bank whose jaw barely moves, noise must not pass for a typical mismatch.
pub const JAW_FLOOR: f32 = 4.0;

/// Frames either side of a target whose bank mouths do not earn the jaw cost's reward for
/// matching its jaw (see [`plan_with_looks`]).
pub const OWN_JAW_FRAMES: i64 = 2;

/// Weight of the aperture mismatch (in standard deviations of the bank's apertures, squared)
/// against the audio distance (mean squared difference of unit-variance features, about 2 for
/// unrelated sounds): one standard deviation off costs half of an unrelated sound.
pub const APERTURE_WEIGHT: f32 = 1.0;

/// Weight of the movement mismatch of each step (in standard deviations of the actor's filmed
/// frame-to-frame mouth movement, squared), on the same scale as [`APERTURE_WEIGHT`]: how much
/// the mouth moves should follow the dub's syllables, not only how open it is.
pub const MOTION_WEIGHT: f32 = 1.0;

/// How open the mouth should be at each target frame: the dub's loudness mapped through
/// quantiles onto the bank's apertures (the k-th loudest speech frame gets the aperture at the
/// same rank among the bank's mouths). Louder speech opens the mouth wider, and the mapping
/// keeps the actor's own range of openings whatever the dub's level. `loudness[i]` is `None`
/// where the frame is not edited.
pub fn aperture_targets(bank: &Bank, loudness: &[Option<f32>]) -> Vec<Option<f32>> {
    rank_map(bank.entries.iter().map(|e| e.opening).collect(), loudness)
}

/// Maps each level onto `values` by rank: the k-th smallest level gets the value at the same
/// relative rank among `values` (ties share their mid-rank). `None` levels stay `None`.
fn rank_map(mut values: Vec<f32>, levels: &[Option<f32>]) -> Vec<Option<f32>> {
    values.sort_by(f32::total_cmp);
    let mut sorted: Vec<f32> = levels.iter().flatten().copied().collect();
    sorted.sort_by(f32::total_cmp);
    if values.is_empty() || sorted.is_empty() {
        return vec![None; levels.len()];
    }
    levels
        .iter()
        .map(|l| {
            let l = (*l)?;
            // Mid-rank of the level among all levels (ties share a rank), 0..1.
            let below = sorted.partition_point(|&v| v < l);
            let upto = sorted.partition_point(|&v| v <= l);
            let q = (below + upto) as f32 / 2.0 / sorted.len() as f32;
            let k = ((q * values.len() as f32) as usize).min(values.len() - 1);
            Some(values[k])
        })
        .collect()
}

/// How much the mouth moves from bank entry `a` to bank entry `b` on screen: mean absolute
/// difference of their grey descriptors (0 for the same entry).
fn step_motion(bank: &Bank, a: usize, b: usize) -> f32 {
    match (bank.entries.get(a), bank.entries.get(b)) {
        (Some(x), Some(y)) if a != b => descriptor_step(&x.descriptor, &y.descriptor),
        _ => 0.0,
    }
}

/// [`plan`] with the looks of the bank entries (`entry_looks[e]`) and of the target frames
/// (`target_looks[i]`): among mouths that fit the audio, those filmed in the same pose and light
/// as the target frame win (see [`Look::cost`]). `target_apertures[i]` (from
/// [`aperture_targets`]; may be empty) adds [`APERTURE_WEIGHT`] × the squared aperture
/// mismatch, so the mouth opens as the dub gets louder, which the spectral distance alone does
/// not ensure on a short bank; and every step between consecutive frames costs
/// [`MOTION_WEIGHT`] × the squared mismatch between how much the mouth moves on screen
/// ([`step_motion`]) and how much the target wants (the same rank mapped onto the actor's
/// filmed movements), so the mouth moves with the dub's syllables instead of replaying the
/// original footage's rhythm through free filmed runs.
pub fn plan_with_looks(
    bank: &Bank,
    dub: &[Option<Vec<f32>>],
    params: SelectParams,
    entry_looks: &[Option<Look>],
    target_looks: &[Option<Look>],
    target_apertures: &[Option<f32>],
) -> Vec<Option<Planned>> {
    let n = bank.entries.len().max(1) as f32;
    let mean = bank.entries.iter().map(|e| e.opening).sum::<f32>() / n;
    let var = bank.entries.iter().map(|e| (e.opening - mean).powi(2)).sum::<f32>() / n;
    let spread = var.sqrt().max(1e-3);
    // The typical jaw mismatch between two of the bank's mouths (entries half the bank apart):
    // a mismatch that large costs `params.jaw`.
    let half = entry_looks.len() / 2;
    let pairs: Vec<f32> = (0..half)
        .filter_map(|i| {
            Some(jaw_distance(&entry_looks[i].as_ref()?.jaw, &entry_looks[i + half].as_ref()?.jaw))
        })
        .collect();
    let jaw_scale =
        (pairs.iter().sum::<f32>() / pairs.len().max(1) as f32).max(JAW_FLOOR * JAW_FLOOR);
    let extra = |t: usize, e: usize| {
        let look = match (target_looks.get(t), entry_looks.get(e)) {
            (Some(Some(a)), Some(Some(b))) => {
                // The target's own filmed mouth (and its neighbours) fit its jaw trivially:
                // rewarding that would replay the original's openings and rhythm, so they get
                // the typical mismatch's cost.
                let own = bank
                    .entries
                    .get(e)
                    .is_some_and(|x| (x.frame - t as i64).abs() <= OWN_JAW_FRAMES);
                let jaw = if own { 1.0 } else { jaw_distance(&a.jaw, &b.jaw) / jaw_scale };
                a.cost(b) + params.jaw * jaw
            }
            _ => 0.0,
        };
        let open = match (target_apertures.get(t), bank.entries.get(e)) {
            (Some(Some(want)), Some(entry)) => {
                APERTURE_WEIGHT * ((entry.opening - want) / spread).powi(2)
            }
            _ => 0.0,
        };
        look + open
    };
    // The actor's own frame-to-frame mouth movement while filmed (between consecutive bank
    // frames), and how much of it each target frame wants: the target's rank among the targets
    // (its dub loudness rank) mapped onto those movements, so the mouth moves most where the dub
    // is loudest for its syllable and holds still in the dub's dips and pauses.
    let natural: Vec<f32> = (1..bank.entries.len())
        .filter(|&i| bank.follows(i - 1, i))
        .map(|i| step_motion(bank, i - 1, i))
        .collect();
    let m_mean = natural.iter().sum::<f32>() / natural.len().max(1) as f32;
    let m_spread = (natural.iter().map(|v| (v - m_mean).powi(2)).sum::<f32>()
        / natural.len().max(1) as f32)
        .sqrt()
        .max(1e-3);
    let want_motion = rank_map(natural, target_apertures);
    // Every step is priced by how far its on-screen movement is from the wanted one: a filmed
    // run (free as a transition) that keeps moving through a dub pause, or a mouth held still
    // through a dub syllable, now costs; so does a jump that moves far more than wanted.
    // The search prices the same entry pairs over and over (every frame of a run compares the
    // same candidates): each pair's movement is computed once.
    // A table of all pairs for a bank of up to MEMO_DENSE entries, else a map of the pairs asked
    // for (a long shot's bank has thousands of entries).
    const MEMO_DENSE: usize = 1024;
    let n = bank.entries.len();
    let dense =
        std::cell::RefCell::new(if n <= MEMO_DENSE { vec![f32::NAN; n * n] } else { Vec::new() });
    let sparse = std::cell::RefCell::new(std::collections::HashMap::<(usize, usize), f32>::new());
    let motion = |from: usize, to: usize| {
        let slot = (n <= MEMO_DENSE && from < n && to < n).then_some(from * n + to);
        let known = match slot {
            Some(k) => Some(dense.borrow()[k]).filter(|m| !m.is_nan()),
            None => sparse.borrow().get(&(from, to)).copied(),
        };
        if let Some(m) = known {
            return m;
        }
        let m = step_motion(bank, from, to);
        match slot {
            Some(k) => dense.borrow_mut()[k] = m,
            None => {
                sparse.borrow_mut().insert((from, to), m);
            }
        }
        m
    };
    let step = |t: usize, from: usize, to: usize| match want_motion.get(t) {
        Some(Some(want)) => MOTION_WEIGHT * ((motion(from, to) - want) / m_spread).powi(2),
        _ => 0.0,
    };
    finish_plan(bank, bank.select_with_steps(dub, params, extra, step))
}

/// The edit region and the colour-matching ring for one set of lip settings at one patch
/// detail: fixed per track, so they are built once, not per frame.
#[derive(Clone, Debug, PartialEq)]
pub struct EditMasks {
    /// The patch detail the masks are for (see [`crate::analysis::mouth_patch::detail_dims`]).
    pub detail: usize,
    /// Region mask in patch pixels (see [`region_mask`]).
    pub region: Vec<f32>,
    /// Ring just outside the region (see [`ring_weights`]).
    pub ring: Vec<f32>,
    /// Skin around the lips that the shading correction reads (see
    /// [`super::colour::skin_weights`]).
    pub skin: Vec<f32>,
    /// The lips at analysis size (where neighbouring mouths are aligned and compared).
    pub lips: Vec<f32>,
    /// [`EditMasks::skin`] at analysis size (the shading and fit are found there).
    pub skin_small: Vec<f32>,
}

impl EditMasks {
    /// Masks for a region and feather on analysis-size patches.
    pub fn new(settings: &LipSettings) -> Self {
        Self::at(settings, 1)
    }

    /// Masks for a region and feather on patches with `detail`.
    pub fn at(settings: &LipSettings, detail: usize) -> Self {
        let detail = detail.max(1);
        let region = region_mask_at(settings.region, settings.feather, detail);
        let ring = ring_weights(&region);
        let lips = region_mask(Region::Lips, 2.0);
        let skin_small = skin_weights_at(1);
        Self { detail, region, ring, skin: skin_weights_at(detail), lips, skin_small }
    }
}

/// A frame's analysis-size patch (`PATCH_W × PATCH_H`) as [`prepare_layer`] reads it, with
/// what the occlusion test finds in it kept once found: a frame is the target of one layer and
/// a neighbour of two.
#[derive(Debug)]
pub struct TargetPatch {
    /// The patch.
    pub patch: Patch,
    unlikely: std::sync::OnceLock<Vec<bool>>,
}

impl TargetPatch {
    /// A patch of any detail, read at analysis size.
    pub fn new(patch: Patch) -> Self {
        let patch = if patch.rgb.len() == PATCH_W * PATCH_H { patch } else { downsample(&patch) };
        Self { patch, unlikely: std::sync::OnceLock::new() }
    }

    /// [`FaceModel::unlikely`] of the patch (found once; a patch serves one face's model).
    fn unlikely(&self, model: &FaceModel) -> &[bool] {
        self.unlikely.get_or_init(|| model.unlikely(&self.patch))
    }
}

/// Prepares one planned frame's layer for the compositor: the bank mouth colour-matched to the
/// target face, its alpha (region mask × intensity × ramp × (1 − occlusion)) and the patch →
/// frame transform. `own` is the target frame's own canonical patch at analysis size
/// (`PATCH_W × PATCH_H`: the relighting, fit and occlusion test read the target at that size
/// only, so it is sampled there, not at the bank's detail); `masks` are for the bank's detail;
/// `neighbours` are the previous and next frames' patches (for the temporal occlusion test, at
/// any detail: the renderer passes analysis-size ones); `painted`
/// is the user's mask (used when the settings' occlusion mode says so). `None` when the face
/// geometry is degenerate or there is nothing to draw (edit off, zero strength).
#[allow(clippy::too_many_arguments)]
pub fn prepare_layer(
    own: &TargetPatch,
    target: &TrackFrame,
    bank: &Bank,
    decoded: &DecodedCache,
    planned: Planned,
    settings: &LipSettings,
    masks: &EditMasks,
    model: Option<&FaceModel>,
    neighbours: [Option<&TargetPatch>; 2],
    painted: Option<&PaintedMask>,
) -> Option<(Patch, Vec<f32>, Similarity)> {
    let entry = bank.entries.get(planned.entry)?;
    let detail = entry.detail();
    if masks.detail != detail || own.patch.rgb.len() != PATCH_W * PATCH_H {
        return None; // masks of another detail or a target of another size: a caller's mistake
    }
    let to_image = patch_to_image_at(&target.landmarks, detail)?;
    let centre = decoded.get(bank, planned.entry)?;
    // Each jumped-to neighbour is first shifted onto the centre mouth (landmark jitter
    // misplaces bank mouths by a pixel or two) and enters with a weight that falls as its
    // shape differs: averaging two unlike mouths draws both outlines (a double contour), so
    // only look-alikes smooth each other. The shift is found at analysis size.
    let s = detail as isize;
    let aligned: Vec<(std::sync::Arc<DecodedEntry>, isize, isize, f32)> = planned
        .mix
        .iter()
        .flatten()
        .filter(|&&e| bank.entries.get(e).is_some_and(|o| o.patch.len() == entry.patch.len()))
        .filter_map(|&e| {
            let o = decoded.get(bank, e)?;
            let (du, dv, rms) = best_shift_luma(&o.luma, &centre.luma, &masks.lips);
            Some((o, du * s, dv * s, SMOOTH_WEIGHT * (1.0 - rms / MIX_MAX_RMS).clamp(0.0, 1.0)))
        })
        .collect();
    let centre_weight = 1.0 - aligned.iter().map(|a| a.3).sum::<f32>();
    // A neighbour of weight 0 adds nothing: it is not read.
    let mixing: Vec<_> = aligned.iter().filter(|a| a.3 != 0.0).collect();
    let blended;
    let (source, source_small) = if mixing.is_empty() && centre_weight == 1.0 {
        (&centre.patch, &centre.small)
    } else {
        let (w, h) = detail_dims(detail);
        let (wi, hi) = (w as isize, h as isize);
        let mut rgb = Vec::with_capacity(w * h);
        for (k, px) in centre.patch.rgb.iter().enumerate() {
            let (u, y) = ((k % w) as isize, (k / w) as isize);
            let mut acc = px.map(|v| v * centre_weight);
            for (o, du, dv, wt) in &mixing {
                // The neighbour shifted by (du, dv) whole pixels, edges clamped.
                let (su, sv) = ((u - du).clamp(0, wi - 1), (y - dv).clamp(0, hi - 1));
                for (a, v) in acc.iter_mut().zip(o.patch.rgb[(sv * wi + su) as usize]) {
                    *a += wt * v;
                }
            }
            rgb.push(acc);
        }
        let patch = Patch { rgb };
        let small = downsample(&patch);
        blended = (patch, small);
        (&blended.0, &blended.1)
    };
    // Relighting and fit are low-frequency: found at analysis size, drawn at the patch's detail.
    let own_small = &own.patch;
    let gain = shading_gain(source_small, own_small, &masks.skin_small);
    let matched_small = apply_gain(source_small, &gain);
    let strength = (settings.intensity.clamp(0.0, 1.0) * planned.weight).clamp(0.0, 1.0);
    if !settings.enabled || strength <= 0.0 {
        // Nothing to draw: the frame stays the source, bit for bit, on every compositor.
        return None;
    }
    // Occlusion is found at analysis size (the face model's) and drawn at the patch's detail.
    let auto = match (settings.occlusion.uses_auto(), model) {
        (true, Some(m)) => {
            let window: Vec<&[bool]> = [neighbours[0], Some(own), neighbours[1]]
                .into_iter()
                .flatten()
                .map(|p| p.unlikely(m))
                .collect();
            let centre = usize::from(neighbours[0].is_some());
            occlusion_mask_with(m, own_small, &window, centre)
        }
        _ => vec![0.0; PATCH_W * PATCH_H],
    };
    let occlusion = combine(&auto, painted.filter(|_| settings.occlusion.uses_painted()));
    let fit = fit_weights(&matched_small, own_small, &masks.skin_small);
    // The gains and the kept share ((1 − occlusion) × fit) upsampled to the detail in one pass:
    // matched = source × gain (clamped), alpha = region × strength × kept.
    let maps: Vec<f32x4> = (0..PATCH_W * PATCH_H)
        .map(|i| {
            let g = |c: usize| gain[c].get(i).copied().unwrap_or(1.0);
            let kept = (1.0 - occlusion.get(i).copied().unwrap_or(0.0))
                * fit.get(i).copied().unwrap_or(1.0);
            f32x4::new([g(0), g(1), g(2), kept])
        })
        .collect();
    let n = source.rgb.len().min(masks.region.len());
    let (mut matched, mut alpha) = (Patch { rgb: Vec::with_capacity(n) }, Vec::with_capacity(n));
    let (lo, hi) = (f32x4::ZERO, f32x4::splat(255.0));
    upsample_rows4(&maps, detail, |k, row| {
        let end = (k + row.len()).min(n);
        let (Some(src), Some(region)) = (source.rgb.get(k..end), masks.region.get(k..end)) else {
            return;
        };
        for ((g, s), m) in row.iter().zip(src).zip(region) {
            let c = (f32x4::new([s[0], s[1], s[2], 0.0]) * *g).fast_max(lo).fast_min(hi);
            let c = c.as_array_ref();
            matched.rgb.push([c[0], c[1], c[2]]);
            alpha.push(m * strength * g.as_array_ref()[3]);
        }
    });
    Some((matched, alpha, to_image))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lipsync::bank::JAW_WEIGHT;
    use crate::analysis::mouth_patch::canonical;
    use crate::lipsync::colour::skin_weights;

    #[test]
    fn louder_dub_frames_get_wider_mouths() {
        // Four mouths, one per aperture level; their audio features are all alike, so only the
        // aperture targets can tell them apart.
        let patch = Patch { rgb: vec![[120.0; 3]; PATCH_W * PATCH_H] };
        let mut bank =
            Bank::new((0..4).map(|i| BankEntry::new(i * 10, &patch, vec![0.0, 0.0])).collect());
        for (i, e) in bank.entries.iter_mut().enumerate() {
            e.opening = [0.3, 0.0, 0.2, 0.1][i];
        }
        // Quantile mapping: the quietest speech frame gets the most closed mouth, the loudest
        // the widest; unedited frames get none.
        let loud = [Some(-3.0), None, Some(-1.0), Some(-2.0), Some(0.0)];
        let want = aperture_targets(&bank, &loud);
        assert_eq!(want, vec![Some(0.0), None, Some(0.2), Some(0.1), Some(0.3)]);
        let dub: Vec<Option<Vec<f32>>> = loud.iter().map(|l| l.map(|_| vec![0.0, 0.0])).collect();
        let params = SelectParams { k: 2, lambda: 0.0, ..SelectParams::default() };
        let p = plan_with_looks(&bank, &dub, params, &[], &[], &want);
        let chosen: Vec<Option<f32>> =
            p.iter().map(|x| x.map(|x| bank.entries[x.entry].opening)).collect();
        assert_eq!(chosen, want);
        assert_eq!(aperture_targets(&Bank::default(), &loud), vec![None; 5]);
    }

    #[test]
    fn the_mouth_moves_on_loud_dub_frames_and_stills_on_quiet_ones() {
        // Two filmed runs that sound and open alike: frames 0..10 move (the picture alternates
        // every frame), frames 100..110 hold still.
        let flat = Patch { rgb: vec![[120.0; 3]; PATCH_W * PATCH_H] };
        let stripes = |phase: usize| Patch {
            rgb: (0..PATCH_W * PATCH_H)
                .map(|i| {
                    if (i / PATCH_W / 8 + phase).is_multiple_of(2) { [60.0; 3] } else { [180.0; 3] }
                })
                .collect(),
        };
        let mut entries: Vec<BankEntry> =
            (0..10).map(|i| BankEntry::new(i, &stripes(i as usize), vec![0.0])).collect();
        entries.extend((100..110).map(|i| BankEntry::new(i, &flat, vec![0.0])));
        entries.iter_mut().for_each(|e| e.opening = 0.1);
        let bank = Bank::new(entries);
        assert!(step_motion(&bank, 0, 1) > 10.0 && step_motion(&bank, 10, 11) == 0.0);
        let params = SelectParams { k: 20, lambda: 0.3, ..SelectParams::default() };
        // Whether the mouth moves into each frame after the first.
        let moves = |levels: &[f32]| -> Vec<bool> {
            // Levels differ by little, so the aperture costs stay alike for every mouth.
            let want: Vec<Option<f32>> = levels.iter().map(|l| Some(0.1 + 1e-4 * l)).collect();
            let dub = vec![Some(vec![0.0]); levels.len()];
            let p = plan_with_looks(&bank, &dub, params, &[], &[], &want);
            let chosen: Vec<usize> = p.iter().flatten().map(|p| p.entry).collect();
            chosen.windows(2).map(|w| step_motion(&bank, w[0], w[1]) > 0.0).collect()
        };
        // Loud then quiet: moving, then still (held or the still run); and the other way round.
        // The steps into the edge frames of a level change may go either way.
        let loud_first = [1.0, 1.0, 1.0, 1.0, -1.0, -1.0, -1.0, -1.0];
        let m = moves(&loud_first);
        assert!(m[..3].iter().all(|&x| x) && m[4..].iter().all(|&x| !x), "{m:?}");
        let quiet_first: Vec<f32> = loud_first.iter().map(|l| -l).collect();
        let m = moves(&quiet_first);
        assert!(m[..3].iter().all(|&x| !x) && m[4..].iter().all(|&x| x), "{m:?}");
    }

    #[test]
    fn plan_ramps_at_speech_edges_and_keeps_silence() {
        let patch = Patch { rgb: vec![[120.0; 3]; PATCH_W * PATCH_H] };
        let bank = Bank::new((0..30).map(|i| BankEntry::new(i, &patch, vec![i as f32])).collect());
        let mut dub: Vec<Option<Vec<f32>>> = vec![None; 20];
        for (i, d) in dub.iter_mut().enumerate().take(16).skip(4) {
            *d = Some(vec![i as f32]);
        }
        let p = plan(&bank, &dub, SelectParams::default());
        assert!(p[..4].iter().all(Option::is_none) && p[16..].iter().all(Option::is_none));
        let w: Vec<f32> = p[4..16].iter().map(|x| x.unwrap().weight).collect();
        assert_eq!(w[0], 0.25);
        assert_eq!(w[3], 1.0);
        assert_eq!(w[11], 0.25);
        // A filmed run is not blended with its neighbours.
        assert!(p[4..16].iter().all(|x| x.unwrap().mix == [None, None]));
        // Jumps are: the middle frame of 2 → 20 → 3 is blended with both neighbours.
        let jumps = vec![Some(vec![2.0]), Some(vec![20.0]), Some(vec![3.0])];
        let p = plan(&bank, &jumps, SelectParams { k: 1, lambda: 0.0, ..SelectParams::default() });
        let mid = p[1].unwrap();
        assert_eq!((mid.entry, mid.mix), (20, [Some(2), Some(3)]));
        assert_eq!(p[0].unwrap().mix, [None, Some(20)]);
    }

    #[test]
    fn a_shifted_neighbour_is_aligned_and_unlike_mouths_do_not_blend() {
        let lips = region_mask(Region::Lips, 2.0);
        let mouth = |open: f32, du: usize| Patch {
            rgb: (0..PATCH_W * PATCH_H)
                .map(|i| {
                    let (u, v) = ((i % PATCH_W) as f32 - du as f32, (i / PATCH_W) as f32);
                    let r = ((u - 64.0) / 22.0).powi(2) + ((v - 45.0) / open).powi(2);
                    if r <= 1.0 { [40.0, 20.0, 20.0] } else { [180.0, 130.0, 120.0] }
                })
                .collect(),
        };
        let centre = mouth(6.0, 0);
        let (shifted, rms) = align_to(&mouth(6.0, 2), &centre, &lips);
        assert!(rms < 1.0, "aligned exactly: {rms}");
        assert_eq!(shifted.rgb[45 * PATCH_W + 64], centre.rgb[45 * PATCH_W + 64]);
        let (_, rms) = align_to(&mouth(14.0, 0), &centre, &lips);
        assert!(rms > MIX_MAX_RMS, "a wide-open mouth is another shape: {rms}");
    }

    #[test]
    fn looks_prefer_the_same_pose_and_light() {
        let skin = skin_weights();
        let patch = Patch { rgb: vec![[170.0, 130.0, 110.0]; PATCH_W * PATCH_H] };
        let dark = Patch { rgb: vec![[120.0, 90.0, 80.0]; PATCH_W * PATCH_H] };
        let front = canonical();
        // Head turned: the nose tip and mouth slide sideways against the eyes.
        let mut turned = front;
        for p in &mut turned[2..] {
            p[0] += 8.0;
        }
        let a = Look::new(&front, &patch, &skin).unwrap();
        assert!(a.cost(&a).abs() < 1e-6);
        let t = Look::new(&turned, &patch, &skin).unwrap();
        let d = Look::new(&front, &dark, &skin).unwrap();
        assert!(a.cost(&t) > 0.1 && a.cost(&d) > 0.1, "{} {}", a.cost(&t), a.cost(&d));
        // The selection: equal audio, the entry in the target's light wins.
        let bank = Bank::new(vec![
            BankEntry::new(0, &dark, vec![1.0, 0.0]),
            BankEntry::new(5, &patch, vec![1.0, 0.0]),
        ]);
        let looks = [Some(d), Some(a)];
        let p = plan_with_looks(
            &bank,
            &[Some(vec![1.0, 0.0])],
            SelectParams::default(),
            &looks,
            &[Some(a)],
            &[],
        );
        assert_eq!(p[0].map(|x| x.entry), Some(1));
        let p = plan_with_looks(
            &bank,
            &[Some(vec![1.0, 0.0])],
            SelectParams::default(),
            &looks,
            &[Some(d)],
            &[],
        );
        assert_eq!(p[0].map(|x| x.entry), Some(0));
    }

    #[test]
    fn the_jaw_breaks_ties_but_not_the_audio() {
        // Two mouths, one with the chin line high, one low; the target's chin is low.
        let chin = |row: usize| crate::analysis::mouth_patch::chin_patch(row, 70.0);
        let skin = skin_weights();
        let look = |row| Look::new(&canonical(), &chin(row), &skin).unwrap();
        let (high, low) = (look(70), look(84));
        let bank = Bank::new(vec![
            BankEntry::new(0, &chin(70), vec![1.0, 0.0]),
            BankEntry::new(5, &chin(84), vec![1.0, 0.0]),
        ]);
        let entry_looks = [Some(high), Some(low)];
        let pick = |dub: Vec<f32>, jaw: f32| {
            let params = SelectParams { jaw, ..SelectParams::default() };
            plan_with_looks(&bank, &[Some(dub)], params, &entry_looks, &[Some(low)], &[])[0]
                .map(|p| p.entry)
        };
        // Equal audio: the mouth whose jaw meets the target's wins (at a tie-breaking weight; the
        // default is off).
        assert_eq!(JAW_WEIGHT, 0.0);
        assert_eq!(pick(vec![1.0, 0.0], 0.3), Some(1));
        // A clearly better sound beats the better jaw.
        let bank_audio = Bank::new(vec![
            BankEntry::new(0, &chin(70), vec![1.0, 0.0]),
            BankEntry::new(5, &chin(84), vec![-2.0, 2.0]),
        ]);
        let params = SelectParams { jaw: 0.3, ..SelectParams::default() };
        let p = plan_with_looks(
            &bank_audio,
            &[Some(vec![1.0, 0.0])],
            params,
            &entry_looks,
            &[Some(low)],
            &[],
        );
        assert_eq!(p[0].map(|p| p.entry), Some(0));
    }

    #[test]
    fn a_bank_over_its_budget_reads_the_kept_mouths_again() {
        // 40 frames of a close face whose picture changes every frame: each mouth is 73 KiB.
        let (w, h) = (700usize, 700usize);
        let landmarks = canonical().map(|p| [p[0] * 2.8 + 120.0, p[1] * 2.8 - 60.0]);
        let frame = |i: usize| -> Vec<u8> {
            (0..w * h * 4)
                .map(|k| ((k / 4 % w) * 3 + (k / 4 / w) * (i % 7 + 1) + k % 4) as u8)
                .collect()
        };
        let track = vec![Some(TrackFrame { landmarks, score: 1.0 }); 40];
        let features: Vec<Vec<f32>> = (0..40).map(|i| vec![(i % 5) as f32]).collect();
        let build = |budget| {
            let mut reads = 0;
            let built = build_bank(
                &track,
                &features,
                w,
                h,
                |i| {
                    reads += 1;
                    Some(frame(i))
                },
                |_| false,
                budget,
            );
            (built, reads)
        };
        let ((full, _, report), reads) = build(usize::MAX);
        assert_eq!((full.entries.len(), reads, report.before), (40, 40, 40));
        let one = full.entries[0].bytes();
        let ((capped, _, report), reads) = build(one * 10 + one / 2);
        assert!(capped.entries.len() <= 10 && capped.entries.len() >= 8, "{report:?}");
        assert!(capped.bytes() <= one * 10 + one / 2);
        // Over the budget: the kept mouths were read a second time, and they are the same.
        assert_eq!(reads, 40 + capped.entries.len());
        for e in &capped.entries {
            let same = full.entries.iter().find(|f| f.frame == e.frame).unwrap();
            assert_eq!(e.patch, same.patch);
        }
        // Every clean frame keeps its look.
        assert_eq!(capped.looks.len(), 40);
    }

}
