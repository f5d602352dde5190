//! Planning a mouth per frame for the dub: the bank's selection with the target's look (pose,
//! light, jaw) and the aperture the dub's loudness asks for, then edge ramps and the jumped-to
//! neighbours each planned frame blends in.

use super::*;

/// Plans a mouth for each frame. `dub[i]` is `None` where the dub track is silent (the original
/// mouth stays); edit weights ramp over [`RAMP_FRAMES`] at the edges of speech.
pub fn plan(bank: &Bank, dub: &[Option<Vec<f32>>], params: SelectParams) -> Vec<Option<Planned>> {
    finish_plan(bank, bank.select(dub, params))
}

/// Weights (ramps) and jump neighbours for a chosen entry sequence.
pub fn finish_plan(bank: &Bank, chosen: Vec<Option<usize>>) -> Vec<Option<Planned>> {
    let n = chosen.len();
    let active: Vec<bool> = chosen.iter().map(Option::is_some).collect();
    // Frames to the nearest frame the edit is off. The ends of the planned span are no such
    // edge: nothing is seen before the first frame or after the last, so an edit that runs into
    // them starts (ends) at full weight instead of showing the original mouth under the dub.
    let edge_distance = |i: usize| -> usize {
        let before = (0..=i).rev().take_while(|&j| active[j]).count();
        let after = (i..n).take_while(|&j| active[j]).count();
        let before = if before > i { usize::MAX } else { before };
        let after = if i + after >= n { usize::MAX } else { after };
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
pub(super) fn rank_map(mut values: Vec<f32>, levels: &[Option<f32>]) -> Vec<Option<f32>> {
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
pub(super) fn step_motion(bank: &Bank, a: usize, b: usize) -> f32 {
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
