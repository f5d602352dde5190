//! The bank lip engine end to end: build the bank from a face track, plan a mouth per frame for
//! the dub audio, and render a planned frame on the CPU (the reference path).

use super::bank::{Bank, BankEntry, SelectParams};
use super::geometry::{
    Landmarks5, PATCH_H, PATCH_W, Patch, Region, Similarity, extract_patch, patch_to_image,
    region_mask,
};
use super::occlusion::{FaceModel, PaintedMask, combine, occlusion_masks};
use super::render::{colour_stats, composite, ring_weights, transfer_colour};

/// One frame of a face track as the engine needs it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackFrame {
    /// Smoothed landmarks in frame pixels.
    pub landmarks: Landmarks5,
    /// Detection confidence 0..1.
    pub score: f32,
}

pub use crate::model::lip::LipSettings;

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

/// Weight of each jumped-to neighbour's mouth in a planned frame (the centre keeps the rest).
pub const SMOOTH_WEIGHT: f32 = 0.25;

/// Builds the bank from the clean frames of a face track. `frame_rgba(i)` returns the decoded
/// frame `i` (RGBA, `width × height`); `features[i]` are the original audio's features there.
pub fn build_bank(
    track: &[Option<TrackFrame>],
    features: &[Vec<f32>],
    width: usize,
    height: usize,
    mut frame_rgba: impl FnMut(usize) -> Option<Vec<u8>>,
    mut cancelled: impl FnMut(usize) -> bool,
) -> (Bank, Option<FaceModel>) {
    let mut patches: Vec<(usize, Patch)> = Vec::new();
    for (i, tf) in track.iter().enumerate() {
        if cancelled(i) {
            break;
        }
        let Some(tf) = tf.filter(|t| t.score >= MIN_BANK_SCORE) else { continue };
        let Some(rgba) = frame_rgba(i) else { continue };
        if let Some(p) = extract_patch(&rgba, width, height, &tf.landmarks) {
            patches.push((i, p));
        }
    }
    let model = FaceModel::learn(&patches.iter().map(|(_, p)| p).collect::<Vec<_>>());
    // Frames where something covers the mouth would teach the bank a wrong mouth.
    let occluded: Vec<bool> = match &model {
        Some(m) => {
            let ps: Vec<Patch> = patches.iter().map(|(_, p)| p.clone()).collect();
            // Only what covers the mouth region matters; a hand on the cheek leaves the mouth usable.
            let region = region_mask(Region::LipsJaw, 6.0);
            let area = region.iter().filter(|&&r| r > 0.5).count().max(1);
            occlusion_masks(m, &ps)
                .iter()
                .map(|o| {
                    let covered =
                        o.iter().zip(&region).filter(|(v, r)| **v > 0.5 && **r > 0.5).count();
                    covered * 50 > area
                })
                .collect()
        }
        None => vec![false; patches.len()],
    };
    let entries = patches
        .iter()
        .zip(occluded)
        .filter(|(_, occ)| !occ)
        .filter_map(|((i, p), _)| features.get(*i).map(|f| BankEntry::new(*i as i64, p, f.clone())))
        .collect();
    (Bank { entries }, model)
}

/// Plans a mouth for each frame. `dub[i]` is `None` where the dub track is silent (the original
/// mouth stays); edit weights ramp over [`RAMP_FRAMES`] at the edges of speech.
pub fn plan(bank: &Bank, dub: &[Option<Vec<f32>>], params: SelectParams) -> Vec<Option<Planned>> {
    let chosen = bank.select(dub, params);
    let n = chosen.len();
    let active: Vec<bool> = chosen.iter().map(Option::is_some).collect();
    let edge_distance = |i: usize| -> usize {
        let before = (0..=i).rev().take_while(|&j| active[j]).count();
        let after = (i..n).take_while(|&j| active[j]).count();
        before.min(after)
    };
    let frame_of = |e: usize| bank.entries.get(e).map(|x| x.frame);
    chosen
        .iter()
        .enumerate()
        .map(|(i, c)| {
            c.map(|entry| {
                let own = frame_of(entry);
                let prev = i.checked_sub(1).and_then(|j| chosen[j]);
                let next = chosen.get(i + 1).copied().flatten();
                // Filmed neighbours already move as the actor moved: leave them unblended.
                let prev = prev.filter(|&p| frame_of(p).zip(own).is_none_or(|(a, b)| a + 1 != b));
                let next = next.filter(|&n| frame_of(n).zip(own).is_none_or(|(a, b)| b + 1 != a));
                Planned {
                    entry,
                    weight: (edge_distance(i) as f32 / (RAMP_FRAMES + 1) as f32).min(1.0),
                    mix: [prev, next],
                }
            })
        })
        .collect()
}

/// The edit region and the colour-matching ring for one set of lip settings: fixed per track,
/// so they are built once, not per frame.
#[derive(Clone, Debug, PartialEq)]
pub struct EditMasks {
    /// Region mask in patch pixels (see [`region_mask`]).
    pub region: Vec<f32>,
    /// Ring just outside the region (see [`ring_weights`]).
    pub ring: Vec<f32>,
}

impl EditMasks {
    /// Masks for a region and feather.
    pub fn new(settings: &LipSettings) -> Self {
        let region = region_mask(settings.region, settings.feather);
        let ring = ring_weights(&region);
        Self { region, ring }
    }
}

/// Prepares one planned frame's layer for the compositor: the bank mouth colour-matched to the
/// target face, its alpha (region mask × intensity × ramp × (1 − occlusion)) and the patch →
/// frame transform. `own` is the target frame's own canonical patch; `neighbours` are the
/// previous and next frames' patches (for the temporal occlusion test); `painted` is the user's
/// mask (used when the settings' occlusion mode says so). `None` when the face geometry is
/// degenerate or there is nothing to draw (edit off, zero strength).
#[allow(clippy::too_many_arguments)]
pub fn prepare_layer(
    own: &Patch,
    target: &TrackFrame,
    bank: &Bank,
    planned: Planned,
    settings: &LipSettings,
    masks: &EditMasks,
    model: Option<&FaceModel>,
    neighbours: [Option<&Patch>; 2],
    painted: Option<&PaintedMask>,
) -> Option<(Patch, Vec<f32>, Similarity)> {
    let entry = bank.entries.get(planned.entry)?;
    let to_image = patch_to_image(&target.landmarks)?;
    let mut source = entry.to_patch();
    let others: Vec<&BankEntry> =
        planned.mix.iter().flatten().filter_map(|&e| bank.entries.get(e)).collect();
    if !others.is_empty() {
        let centre = 1.0 - SMOOTH_WEIGHT * others.len() as f32;
        for (k, px) in source.rgb.iter_mut().enumerate() {
            let mut acc = px.map(|v| v * centre);
            for o in &others {
                let q = o.patch[k];
                for (a, v) in acc.iter_mut().zip(q) {
                    *a += SMOOTH_WEIGHT * f32::from(v);
                }
            }
            *px = acc;
        }
    }
    let ring = &masks.ring;
    let matched = transfer_colour(&source, &colour_stats(&source, ring), &colour_stats(own, ring));
    let strength = (settings.intensity.clamp(0.0, 1.0) * planned.weight).clamp(0.0, 1.0);
    if !settings.enabled || strength <= 0.0 {
        // Nothing to draw: the frame stays the source, bit for bit, on every compositor.
        return None;
    }
    let auto = match (settings.occlusion.uses_auto(), model) {
        (true, Some(m)) => {
            let window: Vec<Patch> =
                [neighbours[0], Some(own), neighbours[1]].into_iter().flatten().cloned().collect();
            let centre = usize::from(neighbours[0].is_some());
            occlusion_masks(m, &window).swap_remove(centre)
        }
        _ => vec![0.0; PATCH_W * PATCH_H],
    };
    let occlusion = combine(&auto, painted.filter(|_| settings.occlusion.uses_painted()));
    let alpha: Vec<f32> =
        masks.region.iter().zip(&occlusion).map(|(m, o)| m * strength * (1.0 - o)).collect();
    Some((matched, alpha, to_image))
}

/// Renders one planned frame onto `frame` in place on the CPU (see [`prepare_layer`]).
#[allow(clippy::too_many_arguments)]
pub fn render_frame(
    frame: &mut [u8],
    width: usize,
    height: usize,
    target: &TrackFrame,
    bank: &Bank,
    planned: Planned,
    settings: &LipSettings,
    model: Option<&FaceModel>,
    neighbours: [Option<&Patch>; 2],
    painted: Option<&PaintedMask>,
) {
    let Some(own) = extract_patch(frame, width, height, &target.landmarks) else { return };
    if let Some((patch, alpha, to_image)) = prepare_layer(
        &own,
        target,
        bank,
        planned,
        settings,
        &EditMasks::new(settings),
        model,
        neighbours,
        painted,
    ) {
        composite(frame, width, height, &patch, &alpha, &to_image);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lipsync::geometry::canonical;

    #[test]
    fn plan_ramps_at_speech_edges_and_keeps_silence() {
        let patch = Patch { rgb: vec![[120.0; 3]; PATCH_W * PATCH_H] };
        let bank =
            Bank { entries: (0..30).map(|i| BankEntry::new(i, &patch, vec![i as f32])).collect() };
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
        let p = plan(&bank, &jumps, SelectParams { k: 1, lambda: 0.0 });
        let mid = p[1].unwrap();
        assert_eq!((mid.entry, mid.mix), (20, [Some(2), Some(3)]));
        assert_eq!(p[0].unwrap().mix, [None, Some(20)]);
    }

    #[test]
    fn zero_intensity_and_full_occlusion_leave_the_frame_identical() {
        let (w, h) = (160usize, 160usize);
        let frame: Vec<u8> = (0..w * h * 4).map(|i| (i * 7 % 256) as u8).collect();
        let target =
            TrackFrame { landmarks: canonical().map(|p| [p[0] + 10.0, p[1] - 10.0]), score: 1.0 };
        let patch = Patch { rgb: vec![[250.0, 10.0, 10.0]; PATCH_W * PATCH_H] };
        let bank = Bank { entries: vec![BankEntry::new(0, &patch, vec![0.0])] };
        let planned = Planned { entry: 0, weight: 1.0, mix: [None, None] };
        let mut f = frame.clone();
        let s = LipSettings { intensity: 0.0, ..LipSettings::default() };
        render_frame(&mut f, w, h, &target, &bank, planned, &s, None, [None, None], None);
        assert_eq!(f, frame);
        let painted = PaintedMask { keyframe: 0, values: vec![1.0; PATCH_W * PATCH_H] };
        render_frame(
            &mut f,
            w,
            h,
            &target,
            &bank,
            planned,
            &LipSettings::default(),
            None,
            [None, None],
            Some(&painted),
        );
        assert_eq!(f, frame);
        render_frame(
            &mut f,
            w,
            h,
            &target,
            &bank,
            planned,
            &LipSettings::default(),
            None,
            [None, None],
            None,
        );
        assert_ne!(f, frame);
    }
}
