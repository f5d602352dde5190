//! One planned frame's layer for the compositor: the edit masks of a segment's settings, the
//! target frame's patch, and the bank mouth aligned, relit, fitted and masked (occlusion
//! included).

use super::*;

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
    /// [`EditMasks::skin`] at analysis size (the shading is found there).
    pub skin_small: Vec<f32>,
    /// The skin that [`fit_weights`] reads, at analysis size: outside wherever the lips can
    /// be ([`fit_skin_at`]).
    pub fit_skin: Vec<f32>,
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
        let fit_skin = fit_skin_at(1);
        Self { detail, region, ring, skin: skin_weights_at(detail), lips, skin_small, fit_skin }
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
    let fit = fit_weights(&matched_small, own_small, &masks.fit_skin);
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
