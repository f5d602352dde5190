//! The bank lip engine end to end: build the bank from a face track (here), plan a mouth per
//! frame for the dub audio ([`select`]), and prepare each planned frame's layer for the
//! compositor ([`layer`]).

use super::bank::{
    Bank, BankEntry, CapReport, CompactPatch, DecodedCache, DecodedEntry, FrameLook, JAW_LEN,
    SelectParams, descriptor_step, jaw_distance, jaw_profile,
};
use super::colour::{
    apply_gain, fit_skin_at, fit_weights, ring_weights, shading_gain, skin_weights_at,
};
use super::occlusion::{
    FaceModel, MAX_MODEL_FRAMES, combine, mouth_zone, occlusion_mask_with, occlusion_masks,
};
use crate::analysis::mouth_patch::{
    Landmarks5, PATCH_H, PATCH_W, Patch, Region, Similarity, detail_dims, detail_for, downsample,
    extract_patch_at, patch_to_image_at, region_mask, region_mask_at, upsample_rows4,
};
use wide::f32x4;

mod layer;
mod select;

pub use layer::{EditMasks, TargetPatch, prepare_layer};
pub use select::{
    APERTURE_WEIGHT, JAW_FLOOR, LIGHT_SCALE, LOOK_WEIGHT, Look, MOTION_WEIGHT, OWN_JAW_FRAMES,
    POSE_SCALE, aperture_targets, finish_plan, plan, plan_with_looks,
};

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

/// The frame of a face track the bank may learn from: a confident detection (at least
/// [`MIN_BANK_SCORE`]; filled-in frames score 0).
pub fn usable(tf: Option<TrackFrame>) -> Option<TrackFrame> {
    tf.filter(|t| t.score >= MIN_BANK_SCORE)
}

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

/// The look of frame `frame` (RGBA, `width × height`) with the face at `tf`, as [`build_bank`]
/// keeps for each clean frame: for frames the bank did not learn from.
pub fn frame_look(
    rgba: &[u8],
    width: usize,
    height: usize,
    tf: &TrackFrame,
    frame: i64,
) -> Option<FrameLook> {
    let small = extract_patch_at(rgba, width, height, &tf.landmarks, 1)?;
    let look = Look::new(&tf.landmarks, &small, &skin_weights_at(1))?;
    Some(FrameLook { frame, light: look.light, jaw: look.jaw })
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
        let Some(tf) = usable(*tf) else { continue };
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

#[cfg(test)]
mod tests {
    use super::select::*;
    use super::*;
    use crate::analysis::mouth_patch::canonical;
    use crate::lipsync::bank::JAW_WEIGHT;
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
        // Speech that runs into the first or last frame is edited at full weight there (nothing
        // is seen before or after it to fade from) and still ramps at its silent edge.
        let mut edge: Vec<Option<Vec<f32>>> = vec![None; 12];
        for (i, d) in edge.iter_mut().enumerate().take(8) {
            *d = Some(vec![i as f32]);
        }
        let at_start = plan(&bank, &edge, SelectParams::default());
        let ws: Vec<f32> = at_start[..8].iter().map(|x| x.unwrap().weight).collect();
        assert_eq!(ws[..4], [1.0; 4]);
        assert_eq!(ws[7], 0.25);
        let all = plan(&bank, &vec![Some(vec![3.0]); 5], SelectParams::default());
        assert!(all.iter().all(|x| x.unwrap().weight == 1.0));
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
