//! Engine-independent measurements of a face track in footage: the lip shape and the mouth
//! aperture per frame, the mouth activity that follows speech (for sync checks) and the
//! mouth-region pixels (for flicker).

use crate::analysis::mouth_patch::{
    Landmarks5, PATCH_H, PATCH_W, Patch, Region, extract_patch, region_mask,
};
use std::sync::OnceLock;

/// The lips region with a hard edge, built once for every frame measured.
fn lips_mask() -> &'static [f32] {
    static MASK: OnceLock<Vec<f32>> = OnceLock::new();
    MASK.get_or_init(|| region_mask(Region::Lips, 1.0))
}

/// Mouth centre and half-axes in patch pixels: canonical (64, 106) → ((64−16)/0.75, (106−72)/0.75).
const MOUTH: [f32; 4] = [64.0, 45.3, 24.0, 16.0];

/// Patch pixel indices inside the mouth ellipse and in the skin ring around it.
fn mouth_areas() -> &'static (Vec<usize>, Vec<usize>) {
    static AREAS: OnceLock<(Vec<usize>, Vec<usize>)> = OnceLock::new();
    AREAS.get_or_init(|| {
        let [cu, cv, ru, rv] = MOUTH;
        let (mut inner, mut ring) = (Vec::new(), Vec::new());
        for i in 0..PATCH_W * PATCH_H {
            let (u, v) = ((i % PATCH_W) as f32, (i / PATCH_W) as f32);
            let r = ((u - cu) / ru).powi(2) + ((v - cv) / rv).powi(2);
            if r <= 1.0 {
                inner.push(i);
            } else if r <= 2.5 {
                ring.push(i);
            }
        }
        (inner, ring)
    })
}

/// Redness, a lighting-robust lip cue: red minus green over brightness (lips are redder than
/// skin; teeth and the dark mouth interior are not lip-coloured by this measure's threshold).
fn redness(p: [f32; 3]) -> f32 {
    (p[0] - p[1]) / (p[0] + p[1] + p[2] + 30.0)
}

/// Colourfulness 0..1 of a pixel: (max − min) / max over its RGB channels (HSV saturation).
fn chroma(p: [f32; 3]) -> f32 {
    let hi = p[0].max(p[1]).max(p[2]);
    let lo = p[0].min(p[1]).min(p[2]);
    (hi - lo) / (hi + 1.0)
}

/// Median of a non-empty list (0 for an empty one).
fn median(mut v: Vec<f32>) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    let k = v.len() / 2;
    *v.select_nth_unstable_by(k, f32::total_cmp).1
}

/// Mouth aperture: the share of the mouth ellipse that is neither lip nor skin — the teeth
/// (grey: colourfulness under 0.6× that of the skin around the mouth) or the dark interior
/// (luma under 0.55× the skin's) — with soft edges (a pixel half-way counts half). Both
/// references are read from the skin ring of the same frame, so the measure follows lighting
/// and complexion; teeth and tongue-less dark both count, unlike a darkness measure, which
/// misses a mouth opened over the teeth.
pub fn aperture(patch: &Patch) -> f32 {
    let (inner, ring) = mouth_areas();
    if inner.is_empty() || ring.is_empty() {
        return 0.0;
    }
    let skin_luma = median(ring.iter().map(|&i| luma(patch.rgb[i])).collect()).max(1.0);
    let skin_chroma = median(ring.iter().map(|&i| chroma(patch.rgb[i])).collect()).max(0.02);
    inner
        .iter()
        .map(|&i| {
            let p = patch.rgb[i];
            let grey = ((0.6 * skin_chroma - chroma(p)) / (0.3 * skin_chroma)).clamp(0.0, 1.0);
            let dark = ((0.55 - luma(p) / skin_luma) / 0.2).clamp(0.0, 1.0);
            grey.max(dark)
        })
        .sum::<f32>()
        / inner.len() as f32
}

/// Pixels of the central mouth ellipse (the mouth's width × 0.6, its full height), where the
/// lips move when speaking.
fn mouth_core() -> &'static [usize] {
    static CORE: OnceLock<Vec<usize>> = OnceLock::new();
    CORE.get_or_init(|| {
        let [cu, cv, ru, rv] = MOUTH;
        (0..PATCH_W * PATCH_H)
            .filter(|&i| {
                let (u, v) = ((i % PATCH_W) as f32, (i / PATCH_W) as f32);
                ((u - cu) / (0.6 * ru)).powi(2) + ((v - cv) / rv).powi(2) <= 1.0
            })
            .collect()
    })
}

/// Luma of the mouth core relative to the median luma of the skin ring (lighting removed).
fn core_luma(patch: &Patch) -> Vec<f32> {
    let (_, ring) = mouth_areas();
    let skin = median(ring.iter().map(|&i| luma(patch.rgb[i])).collect()).max(1.0);
    mouth_core().iter().map(|&i| luma(patch.rgb[i]) / skin).collect()
}

/// The lips seen along a vertical profile through the mouth centre.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LipShape {
    /// Rows (patch pixels) from the top of the upper lip to the bottom of the lower lip.
    pub height: f32,
    /// Rows between them that are not lip-coloured (teeth, the dark interior): the lip gap,
    /// soft (a row half-way between lip and skin colour counts half).
    pub gap: f32,
}

/// Measures the lips in a canonical patch. The lip-colour threshold adapts to each frame: half
/// way between the skin around the mouth (median redness of the ring) and the reddest lips
/// (95th percentile inside the mouth ellipse), so it follows lighting and make-up.
pub fn lip_shape(patch: &Patch) -> LipShape {
    let (inner, ring) = mouth_areas();
    let pick = |idx: &[usize], q: f32| -> f32 {
        let mut v: Vec<f32> = idx.iter().map(|&i| redness(patch.rgb[i])).collect();
        if v.is_empty() {
            return 0.0;
        }
        let k = ((v.len() - 1) as f32 * q) as usize;
        *v.select_nth_unstable_by(k, f32::total_cmp).1
    };
    let (skin, lip) = (pick(ring, 0.5), pick(inner, 0.95));
    if lip - skin < 0.01 {
        return LipShape::default(); // no lips to see (or no contrast)
    }
    let thr = 0.5 * (skin + lip);
    let [cu, cv, _, rv] = MOUTH;
    // A 13-pixel-wide band around the centre column, from above the upper lip to the chin.
    let (u0, u1) = ((cu - 6.0) as usize, (cu + 7.0) as usize);
    let (v0, v1) = ((cv - 1.6 * rv).max(0.0) as usize, ((cv + 1.6 * rv) as usize).min(PATCH_H));
    let row = |v: usize, f: &dyn Fn([f32; 3]) -> f32| -> f32 {
        (u0..u1).map(|u| f(patch.rgb[v * PATCH_W + u])).sum::<f32>() / (u1 - u0) as f32
    };
    let profile: Vec<f32> = (v0..v1).map(|v| row(v, &redness)).collect();
    let brightness: Vec<f32> = (v0..v1).map(|v| row(v, &luma)).collect();
    let lips: Vec<usize> = (0..profile.len()).filter(|&i| profile[i] >= thr).collect();
    let (Some(&top), Some(&bottom)) = (lips.first(), lips.last()) else {
        return LipShape::default();
    };
    // The dark interior can be as red as the lips by hue; it is much darker than they are.
    let lip_luma = lips.iter().map(|&i| brightness[i]).sum::<f32>() / lips.len() as f32;
    let gap = (top..=bottom)
        .map(|i| {
            let not_red = ((thr - profile[i]) / (thr - skin)).clamp(0.0, 1.0);
            let dark =
                ((0.75 * lip_luma - brightness[i]) / (0.4 * lip_luma).max(1.0)).clamp(0.0, 1.0);
            not_red.max(dark)
        })
        .sum::<f32>();
    LipShape { height: (bottom - top + 1) as f32, gap }
}

/// Per-frame mouth measurements of one face.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MouthSeries {
    /// Mouth opening per frame (dark interior, 0 where the face is absent).
    pub opening: Vec<f32>,
    /// Lip shape per frame (zero where the face is absent).
    pub lips: Vec<LipShape>,
    /// Luma of the lips region per frame (empty where the face is absent).
    pub region: Vec<Vec<f32>>,
    /// Mouth aperture per frame (see [`aperture`]; 0 where the face is absent).
    pub aperture: Vec<f32>,
    /// Mouth motion per frame: mean absolute change of the lighting-normalised luma of the
    /// mouth core since the previous frame (0 where either frame lacks the face).
    pub motion: Vec<f32>,
    /// The previous frame's normalised mouth core, for [`MouthSeries::motion`].
    previous_core: Option<Vec<f32>>,
}

impl MouthSeries {
    /// Adds one frame: its RGBA picture and the face's landmarks there, if any.
    pub fn push(
        &mut self,
        rgba: &[u8],
        width: usize,
        height: usize,
        landmarks: Option<&Landmarks5>,
    ) {
        let patch = landmarks.and_then(|lm| extract_patch(rgba, width, height, lm));
        match patch {
            Some(p) => {
                let core = core_luma(&p);
                self.motion.push(self.previous_core.as_ref().map_or(0.0, |prev| {
                    prev.iter().zip(&core).map(|(a, b)| (a - b).abs()).sum::<f32>()
                        / core.len().max(1) as f32
                }));
                self.previous_core = Some(core);
                self.aperture.push(aperture(&p));
                self.opening.push(mouth_opening(&p));
                self.lips.push(lip_shape(&p));
                self.region.push(
                    p.rgb
                        .iter()
                        .zip(lips_mask())
                        .filter(|(_, m)| **m >= 1.0)
                        .map(|(c, _)| luma(*c))
                        .collect(),
                );
            }
            None => {
                self.previous_core = None;
                self.motion.push(0.0);
                self.aperture.push(0.0);
                self.opening.push(0.0);
                self.lips.push(LipShape::default());
                self.region.push(Vec::new());
            }
        }
    }

    /// The visual side of a sync check: per-frame mouth features measured in the canonical
    /// mouth frame (so head position, size and roll do not enter), each 0 where the face is
    /// absent: the [`aperture`](MouthSeries::aperture) (teeth or dark interior: how open), the
    /// lip height along the vertical profile through the mouth centre (the vertical lip
    /// distance; see [`lip_shape`]) and the mouth-core [`motion`](MouthSeries::motion) (how much
    /// the lips move, whatever their colour). `lipsync::sync::sync_offset_multi` weighs them
    /// per clip.
    pub fn features(&self) -> Vec<Vec<f32>> {
        vec![
            self.aperture.clone(),
            self.lips.iter().map(|l| l.height).collect(),
            self.motion.clone(),
        ]
    }

    /// Flicker of the lips region: mean absolute luma change between consecutive frames where
    /// the face is present in both.
    pub fn flicker(&self) -> f32 {
        flicker(&self.region)
    }
}

/// Why a file's mouth could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// Face analysis failed.
    #[error(transparent)]
    Analysis(#[from] crate::analysis::AnalysisError),
    /// Decoding failed.
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    /// No face in the file.
    #[error("{0}: no face found")]
    NoFace(String),
}

/// The mouth of the largest face track of a file, per frame: what `redub sync-check` measures
/// against an audio track.
#[derive(Clone, Debug)]
pub struct FileMouth {
    /// The face track's id in the analysis.
    pub face: u32,
    /// Frames per second.
    pub fps: f64,
    /// Frames in the file.
    pub frames: usize,
    /// Measurements in the canonical mouth frame.
    pub series: MouthSeries,
    /// The analysis's normal-flow mouth energy per frame (0 where the face is absent), reused
    /// from the (cached) analysis rather than recomputed.
    pub mouth_energy: Vec<f32>,
}

impl FileMouth {
    /// Analyses `path` (with the analysis cache) and measures the mouth of its largest face in
    /// every frame.
    pub fn measure(path: &std::path::Path) -> Result<Self, MeasureError> {
        use crate::analysis::{AnalysisOptions, analyze_file};
        let (analysis, _) =
            analyze_file(path, &AnalysisOptions::default(), &crate::jobs::Job::new(), true)?;
        let track = analysis
            .tracks
            .iter()
            .max_by_key(|t| t.frames.len())
            .ok_or_else(|| MeasureError::NoFace(path.display().to_string()))?;
        let mut decoder = crate::media::VideoDecoder::open_with_cache(path, 0)?;
        let (w, h) = decoder.size();
        let fps = decoder.frame_rate().as_f64();
        let frames = decoder.frame_count().max(0) as usize;
        let mut series = MouthSeries::default();
        for i in 0..frames {
            let f = decoder.frame(i as i64)?;
            series.push(&f.data, w as usize, h as usize, track.at(i as i64).map(|t| &t.landmarks));
        }
        let mouth_energy =
            (0..frames).map(|i| track.at(i as i64).map_or(0.0, |t| t.mouth_energy)).collect();
        Ok(Self { face: track.id, fps, frames, series, mouth_energy })
    }

    /// The features `lipsync::sync::sync_offset_multi` combines: [`MouthSeries::features`]
    /// and the analysis's mouth energy. Where the face is absent they hold their mean over the
    /// frames with the face (no information there), so the face leaving or coming back does not
    /// read as the mouth closing or moving.
    pub fn features(&self) -> Vec<Vec<f32>> {
        let mut f = self.series.features();
        f.push(self.mouth_energy.clone());
        let present: Vec<bool> = self.series.region.iter().map(|r| !r.is_empty()).collect();
        f.iter_mut().for_each(|x| hold_mean_where_absent(x, &present));
        f
    }
}

/// Sets `x` to its mean over the `present` frames wherever a frame is not present.
fn hold_mean_where_absent(x: &mut [f32], present: &[bool]) {
    let values: Vec<f32> = x.iter().zip(present).filter(|(_, p)| **p).map(|(v, _)| *v).collect();
    let mean = values.iter().sum::<f32>() / values.len().max(1) as f32;
    x.iter_mut().zip(present).filter(|(_, p)| !**p).for_each(|(v, _)| *v = mean);
}

/// BT.601 luma of an R'G'B' colour (0..255).
pub fn luma(p: [f32; 3]) -> f32 {
    0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]
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

/// Flicker: mean absolute difference between consecutive frames' values (e.g. mouth-region
/// pixels), averaged over the pairs of frames that both have values of the same length (an
/// empty entry marks a frame without the face).
pub fn flicker(regions: &[Vec<f32>]) -> f32 {
    let diffs: Vec<f32> = regions
        .windows(2)
        .filter(|w| !w[0].is_empty() && w[0].len() == w[1].len())
        .map(|w| {
            w[0].iter().zip(&w[1]).map(|(a, b)| (a - b).abs()).sum::<f32>() / w[0].len() as f32
        })
        .collect();
    if diffs.is_empty() { 0.0 } else { diffs.iter().sum::<f32>() / diffs.len() as f32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A skin patch with red lips of the given half-heights around a gap of `gap` rows.
    fn mouth(gap: usize, interior: [f32; 3]) -> Patch {
        let mut rgb = vec![[190.0, 150.0, 130.0]; PATCH_W * PATCH_H];
        let cv = MOUTH[1] as usize;
        let top = cv - gap / 2;
        for (i, p) in rgb.iter_mut().enumerate() {
            let (u, v) = (i % PATCH_W, i / PATCH_W);
            if !(44..=84).contains(&u) {
                continue;
            }
            if (top - 5..top).contains(&v) || (top + gap..top + gap + 6).contains(&v) {
                *p = [170.0, 70.0, 80.0];
            } else if (top..top + gap).contains(&v) {
                *p = interior;
            }
        }
        Patch { rgb }
    }

    #[test]
    fn lip_shape_sees_the_gap_whether_teeth_or_dark() {
        let closed = lip_shape(&mouth(0, [0.0; 3]));
        assert_eq!(closed.height, 11.0);
        assert!(closed.gap < 0.5, "{closed:?}");
        for interior in [[235.0, 235.0, 230.0], [40.0, 25.0, 25.0]] {
            let open = lip_shape(&mouth(8, interior));
            assert_eq!(open.height, 19.0, "{interior:?}");
            assert!((open.gap - 8.0).abs() < 1.5, "{open:?} {interior:?}");
        }
        let plain = Patch { rgb: vec![[190.0, 150.0, 130.0]; PATCH_W * PATCH_H] };
        assert_eq!(lip_shape(&plain), LipShape::default());
    }

    #[test]
    fn aperture_counts_teeth_and_the_dark_interior_but_not_lips() {
        let closed = aperture(&mouth(0, [0.0; 3]));
        assert!(closed < 0.01, "{closed}");
        let teeth = aperture(&mouth(8, [235.0, 235.0, 230.0]));
        let dark = aperture(&mouth(8, [40.0, 25.0, 25.0]));
        let wide = aperture(&mouth(14, [40.0, 25.0, 25.0]));
        assert!(teeth > 0.1 && dark > 0.1, "{teeth} {dark}");
        assert!((teeth - dark).abs() < 0.02, "{teeth} {dark}");
        assert!(wide > 1.5 * dark, "{wide} {dark}");
        // The same mouth in dimmer light measures the same.
        let mut dim = mouth(8, [40.0, 25.0, 25.0]);
        dim.rgb.iter_mut().for_each(|p| *p = p.map(|v| v * 0.6));
        assert!((aperture(&dim) - dark).abs() < 0.02);
    }

    #[test]
    fn absent_frames_hold_the_mean() {
        let mut x = [1.0, 0.0, 3.0, 0.0];
        hold_mean_where_absent(&mut x, &[true, false, true, false]);
        assert_eq!(x, [1.0, 2.0, 3.0, 2.0]);
    }

    #[test]
    fn features_follow_mouth_movement() {
        let mut s = MouthSeries::default();
        let frames: Vec<usize> = vec![0, 0, 0, 8, 0, 8, 0, 0, 0, 0];
        for g in &frames {
            let p = mouth(*g, [40.0, 25.0, 25.0]);
            let rgba: Vec<u8> =
                p.rgb.iter().flat_map(|c| [c[0] as u8, c[1] as u8, c[2] as u8, 255]).collect();
            // The patch itself as the frame, with landmarks that map it onto itself.
            let lm = crate::analysis::mouth_patch::canonical()
                .map(|q| [(q[0] - 16.0) / 0.75, (q[1] - 72.0) / 0.75]);
            s.push(&rgba, PATCH_W, PATCH_H, Some(&lm));
        }
        let f = s.features();
        let [aperture, height, motion] = [&f[0], &f[1], &f[2]];
        assert!(aperture[3] > aperture[1] && aperture[5] > aperture[9], "{aperture:?}");
        assert!(height[3] > height[1] && height[5] > height[9], "{height:?}");
        assert!(
            motion[3] > motion[2] && motion[4] > motion[8] && motion[5] > motion[9],
            "{motion:?}"
        );
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

    #[test]
    fn flicker_is_the_mean_change_between_frames() {
        assert_eq!(flicker(&[vec![1.0, 1.0], vec![2.0, 0.0]]), 1.0);
        // A frame without the face (empty) is no pair.
        assert_eq!(flicker(&[vec![1.0], vec![], vec![3.0]]), 0.0);
    }
}
