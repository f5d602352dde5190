//! Lip edits in the render graph: per frame, the patch layers of the planned faces
//! ([`crate::lipsync::plan`]) and their blend through the [`Compositor`]. Preview and export both
//! call [`LipRenderer::apply`].
//!
//! The plan itself (bank, selection, segments) is lipsync's [`plan_lips`]; what stays here is
//! the glue from render's loaded [`Sources`] to its inputs ([`plan_project_lips`]: the dub's
//! dialogue mix, the shot's own sound), which lipsync may not import.

use super::RenderError;
use super::compositor::{self, Backend, Compositor, PatchLayer};
use super::sources::{Sources, load_sources, media_path, mix_input};
use crate::analysis::mouth_patch::{PATCH_H, PATCH_W, Patch, extract_patch_at, patch_to_image};
use crate::dsp::{SAMPLE_RATE, measure::to_mono, mix};
use crate::jobs::Job;
use crate::lipsync::bank::{Bank, DecodedCache};
use crate::lipsync::engine::Planned;
use crate::lipsync::engine::{self, EditMasks, LipSettings, TargetPatch, TrackFrame};
use crate::lipsync::occlusion::FaceModel;
use crate::lipsync::plan::{LipTrack, SegmentDraw, plan_lips, track_frame};
use crate::model::lip::PaintedMask;
use crate::model::{Project, Time};
use crate::render::pixels::Rect;
use std::path::Path;

/// One face's lip layer at a frame, ready to blend.
pub struct PreparedLayer<'a> {
    /// The new mouth, colour-matched to the frame.
    pub patch: Patch,
    /// Blend weight per patch pixel: region × strength × (1 − occlusion). The patch, its alpha
    /// and `region` share one detail (see [`crate::analysis::mouth_patch::dims_of`]).
    pub alpha: Vec<f32>,
    /// Patch pixels → frame pixels.
    pub to_image: crate::analysis::mouth_patch::Similarity,
    /// The segment's edit region in patch pixels (before strength and occlusion).
    pub region: &'a [f32],
    /// Intensity × plan weight, 0..1.
    pub strength: f32,
}

impl PreparedLayer<'_> {
    /// The layer as the compositor takes it.
    pub fn as_patch_layer(&self) -> PatchLayer<'_> {
        PatchLayer { patch: &self.patch, alpha: &self.alpha, to_image: self.to_image }
    }
}

/// Applies planned lip edits to decoded frames, on the GPU when one is available.
pub struct LipRenderer {
    tracks: Vec<LipTrack>,
    compositor: Compositor,
}

impl LipRenderer {
    /// Wraps plans; opens the GPU compositor when there is an edit to draw (and an adapter),
    /// else keeps why the CPU draws.
    pub fn new(tracks: Vec<LipTrack>) -> Self {
        let compositor = if tracks.is_empty() {
            Compositor::cpu("no lip edit to draw")
        } else {
            Compositor::shared()
        };
        Self { tracks, compositor }
    }

    /// Which compositor draws (with the reason when it is the CPU).
    pub fn backend(&self) -> Backend {
        self.compositor.backend()
    }

    /// Whether any frame is edited.
    pub fn is_empty(&self) -> bool {
        self.tracks.is_empty()
    }

    /// The planned tracks.
    pub fn tracks(&self) -> &[LipTrack] {
        &self.tracks
    }

    /// The planned tracks, to change a plan before rendering (`redub eval`'s oracle).
    pub fn tracks_mut(&mut self) -> &mut [LipTrack] {
        &mut self.tracks
    }

    /// The tracks that draw at frame `i`, with the segment in force and the planned mouth.
    fn drawing(&self, i: i64) -> impl Iterator<Item = (&LipTrack, &SegmentDraw, Planned)> {
        self.tracks.iter().filter_map(move |lt| {
            let Some(Some(planned)) = lt.plan.get(usize::try_from(i).ok()?) else { return None };
            let seg = lt.segment_at(i)?;
            let st = &seg.segment.settings;
            (st.enabled && st.intensity > 0.0 && lt.face.at(i).is_some())
                .then_some((lt, seg, *planned))
        })
    }

    /// Whether frame `i`'s edit reads its neighbours `i − 1` and `i + 1` (the automatic
    /// occlusion test compares the mouth with them).
    pub fn needs_neighbours(&self, i: i64) -> bool {
        self.drawing(i)
            .any(|(lt, seg, _)| seg.segment.settings.occlusion.uses_auto() && lt.model.is_some())
    }

    /// Whether anything is drawn at frame `i`.
    pub fn draws(&self, i: i64) -> bool {
        self.drawing(i).next().is_some()
    }

    /// The part of a `width × height` picture of frame `j` that an edit reads or writes there
    /// (as the edited frame or as a neighbour of one): the mouth patch footprints of every
    /// planned face at `j` (with a pixel of bilinear reach and a margin), in whole chroma
    /// samples. It depends on `j` alone, so a frame's conversion serves its neighbours too.
    pub fn region(&self, j: i64, width: usize, height: usize) -> Option<Rect> {
        let (pw, ph) = (PATCH_W as f32, PATCH_H as f32);
        let mut out: Option<Rect> = None;
        for lt in &self.tracks {
            let Some(tf) = track_frame(&lt.face, j) else { continue };
            let Some(t) = patch_to_image(&tf.landmarks) else { continue };
            let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
            for c in [[0.0, 0.0], [pw, 0.0], [0.0, ph], [pw, ph]] {
                let p = t.apply(c);
                (x0, y0, x1, y1) = (x0.min(p[0]), y0.min(p[1]), x1.max(p[0]), y1.max(p[1]));
            }
            if let Some(r) = Rect::covering((x0, y0, x1, y1), 3.0, width, height) {
                out = Some(out.map_or(r, |o| o.union(r)));
            }
        }
        out
    }

    /// The layers frame `i` (RGBA `frame`, decoded source) gets: one per edited face, in track
    /// order. `neighbour(j)` gives the decoded frame `j` for the temporal occlusion test (only
    /// asked for when [`LipRenderer::needs_neighbours`]). The viewer's mask overlay reads the
    /// same layers [`LipRenderer::apply`] blends.
    pub fn layers(
        &self,
        i: i64,
        frame: &[u8],
        width: usize,
        height: usize,
        mut neighbour: impl FnMut(i64) -> Option<Vec<u8>>,
    ) -> Vec<PreparedLayer<'_>> {
        let (prev, next) = if self.needs_neighbours(i) {
            (neighbour(i - 1), neighbour(i + 1))
        } else {
            (None, None)
        };
        self.layers_with(i, frame, width, height, [prev.as_deref(), next.as_deref()])
    }

    /// [`LipRenderer::layers`] with the neighbour frames `i − 1`, `i + 1` given (RGBA, full
    /// size; only [`LipRenderer::region`] of them is read).
    pub fn layers_with(
        &self,
        i: i64,
        frame: &[u8],
        width: usize,
        height: usize,
        neighbours: [Option<&[u8]>; 2],
    ) -> Vec<PreparedLayer<'_>> {
        let mut out = Vec::new();
        for (lt, seg, planned) in self.drawing(i) {
            let st = &seg.segment.settings;
            let Some(target) = track_frame(&lt.face, i) else { continue };
            // The target and its neighbours are read at analysis size only (relighting, fit,
            // occlusion test); each frame's patch serves as a target and as two neighbours.
            let patch_of = |j: i64, data: Option<&[u8]>| {
                let tf = track_frame(&lt.face, j)?;
                let data = data?;
                lt.targets.get_or_make(j, || {
                    extract_patch_at(data, width, height, &tf.landmarks, 1).map(TargetPatch::new)
                })
            };
            let Some(own) = patch_of(i, Some(frame)) else { continue };
            // The neighbours only feed the automatic occlusion test.
            let (prev, next) = if st.occlusion.uses_auto() && lt.model.is_some() {
                (patch_of(i - 1, neighbours[0]), patch_of(i + 1, neighbours[1]))
            } else {
                (None, None)
            };
            if let Some((patch, alpha, to_image)) = engine::prepare_layer(
                &own,
                &target,
                &lt.bank,
                &lt.decoded,
                planned,
                st,
                &seg.masks,
                lt.model.as_ref(),
                [prev.as_deref(), next.as_deref()],
                seg.segment.mask.as_ref(),
            ) {
                let strength = (st.intensity.clamp(0.0, 1.0) * planned.weight).clamp(0.0, 1.0);
                out.push(PreparedLayer {
                    patch,
                    alpha,
                    to_image,
                    region: &seg.masks.region,
                    strength,
                });
            }
        }
        out
    }

    /// Edits `frame` (RGBA, frame index `i`) in place. `neighbour(j)` gives the decoded frame `j`
    /// for the temporal occlusion test. Returns which compositor ran (or `None` when nothing was
    /// edited).
    pub fn apply(
        &self,
        i: i64,
        frame: &mut [u8],
        width: usize,
        height: usize,
        neighbour: impl FnMut(i64) -> Option<Vec<u8>>,
    ) -> Option<Backend> {
        let prepared = self.layers(i, frame, width, height, neighbour);
        self.blend(prepared, frame, width, height)
    }

    /// [`LipRenderer::apply`] with the neighbour frames given (see [`LipRenderer::layers_with`]).
    pub fn apply_with(
        &self,
        i: i64,
        frame: &mut [u8],
        width: usize,
        height: usize,
        neighbours: [Option<&[u8]>; 2],
    ) -> Option<Backend> {
        let prepared = self.layers_with(i, frame, width, height, neighbours);
        self.blend(prepared, frame, width, height)
    }

    /// The part of a `width × height` frame that blending `layers` may change (see
    /// [`compositor::footprint`]).
    pub fn footprint(layers: &[PreparedLayer<'_>], width: usize, height: usize) -> Option<Rect> {
        let layers: Vec<PatchLayer<'_>> =
            layers.iter().map(PreparedLayer::as_patch_layer).collect();
        compositor::footprint(&layers, width, height)
    }

    /// Blends prepared layers onto `frame` (RGBA); which compositor ran, or `None` when there
    /// was nothing to blend.
    pub fn blend(
        &self,
        prepared: Vec<PreparedLayer<'_>>,
        frame: &mut [u8],
        width: usize,
        height: usize,
    ) -> Option<Backend> {
        if prepared.is_empty() {
            return None;
        }
        let layers: Vec<PatchLayer<'_>> =
            prepared.iter().map(PreparedLayer::as_patch_layer).collect();
        Some(self.compositor.composite(frame, width, height, &layers))
    }
}

/// Plans the lip edits of a project's bound dub tracks from already-loaded sources.
pub(crate) fn lips_for(
    project: &Project,
    project_dir: &Path,
    sources: &Sources,
    video: &Path,
    job: &Job,
    held_out: Option<std::ops::Range<i64>>,
) -> Result<LipRenderer, RenderError> {
    let rate = project.timeline.frame_rate;
    let frames = rate.time_to_frame(project.timeline.duration - Time::from_ticks(1)) + 1;
    let len = rate.frame_to_time(frames).to_samples(SAMPLE_RATE).max(0) as usize;
    let dialogue_of = |p: &Project| mix::dialogue_range(&mix_input(p, sources), 0, len);
    let production = project
        .timeline
        .original_audio
        .media
        .map(|id| media_path(project, project_dir, id))
        .transpose()?;
    // The original audio track's sound is the shot's own when it plays the shot's file (and
    // no M&E stem replaces it): already decoded for the mix, so the plan does not decode it again.
    let shot_sound = sources
        .original
        .as_ref()
        .filter(|_| !sources.is_me && production.as_deref() == Some(video))
        .map(|a| to_mono(&a.samples, usize::from(a.channels)));
    let tracks = plan_lips(
        project,
        video,
        rate,
        frames,
        dialogue_of,
        production.as_deref(),
        shot_sound,
        job,
        held_out,
    )?;
    Ok(LipRenderer::new(tracks))
}

/// Plans a project's lip edits (loading its audio): what the viewer and the export draw.
pub fn plan_project_lips(
    project: &Project,
    project_dir: &Path,
    job: &Job,
) -> Result<LipRenderer, RenderError> {
    plan_project_lips_held_out(project, project_dir, job, None)
}

/// [`plan_project_lips`] with the shot's frames `held_out` kept out of the plan's knowledge:
/// no bank mouth comes from them and the sound → shape map does not learn from them (`redub
/// eval`'s leave-out protocol, where those frames are the truth).
pub fn plan_project_lips_held_out(
    project: &Project,
    project_dir: &Path,
    job: &Job,
    held_out: Option<std::ops::Range<i64>>,
) -> Result<LipRenderer, RenderError> {
    let sources = load_sources(project, project_dir, true)?;
    let video = sources
        .video
        .clone()
        .ok_or_else(|| RenderError::Invalid("the project has no video".into()))?;
    lips_for(project, project_dir, &sources, &video, job, held_out)
}

/// Renders one planned frame onto `frame` in place on the CPU reference (see
/// [`engine::prepare_layer`]): the lip edit of a single picture, without a plan or a renderer.
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
    let detail = bank.detail();
    let Some(own) = extract_patch_at(frame, width, height, &target.landmarks, 1) else {
        return;
    };
    let [prev, next] = neighbours.map(|n| n.map(|p| TargetPatch::new(p.clone())));
    if let Some((patch, alpha, to_image)) = engine::prepare_layer(
        &TargetPatch::new(own),
        target,
        bank,
        &DecodedCache::new(3),
        planned,
        settings,
        &EditMasks::at(settings, detail),
        model,
        [prev.as_ref(), next.as_ref()],
        painted,
    ) {
        compositor::cpu::composite(frame, width, height, &patch, &alpha, &to_image);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::geometry::BBox;
    use crate::analysis::mouth_patch::{canonical, patch_to_image_at};
    use crate::analysis::track::{FaceTrack, TrackFrame as FaceFrame};
    use crate::lipsync::bank::BankEntry;
    use crate::lipsync::engine::{build_bank, track_detail};
    use crate::lipsync::kept::Kept;
    use crate::lipsync::plan::{LipSegmentPlan, TARGETS_KEPT};
    use crate::model::lip::OcclusionMode;
    use crate::model::{FrameRate, TrackId};

    /// One face track, a bank of one red mouth, every frame planned: the renderer of a single
    /// segment with `settings` and `mask`.
    fn renderer(settings: LipSettings, mask: Option<PaintedMask>) -> LipRenderer {
        let landmarks = canonical().map(|p| [p[0] + 20.0, p[1] + 10.0]);
        let frames = (0..4)
            .map(|i| FaceFrame {
                frame: i,
                bbox: BBox { x1: 0.0, y1: 0.0, x2: 150.0, y2: 150.0 },
                landmarks,
                raw_landmarks: landmarks,
                confidence: 1.0,
                filled: false,
                mouth_energy: 0.0,
                face_motion: 0.0,
            })
            .collect();
        let face = FaceTrack { id: 0, frames, speaking: Vec::new() };
        let red = Patch { rgb: vec![[250.0, 10.0, 10.0]; PATCH_W * PATCH_H] };
        let bank = Bank::new(vec![BankEntry::new(0, &red, vec![0.0])]);
        let rate = FrameRate::FPS_25;
        let segment = LipSegmentPlan {
            start: Time::ZERO,
            end: rate.frame_to_time(4),
            settings,
            mask,
            overridden: true,
        };
        let track = LipTrack {
            dub_track: TrackId(1),
            face,
            bank,
            model: None,
            plan: vec![Some(Planned { entry: 0, weight: 1.0, mix: [None, None] }); 4],
            segments: vec![SegmentDraw { masks: EditMasks::new(&segment.settings), segment }],
            rate,
            decoded: DecodedCache::default(),
            targets: Kept::new(TARGETS_KEPT),
        };
        LipRenderer::new(vec![track])
    }

    fn render(r: &LipRenderer) -> (Vec<u8>, Vec<u8>) {
        let (w, h) = (200usize, 200usize);
        let frame: Vec<u8> =
            (0..w * h * 4).map(|i| if i % 4 == 3 { 255 } else { (i * 7 % 200) as u8 }).collect();
        let mut out = frame.clone();
        r.apply(1, &mut out, w, h, |_| None);
        (frame, out)
    }

    #[test]
    fn a_segments_painted_mask_and_occlusion_mode_reach_the_render() {
        let full = PaintedMask { keyframe: 1, values: vec![1.0; PATCH_W * PATCH_H] };
        let painted =
            LipSettings { occlusion: OcclusionMode::AutoPainted, ..LipSettings::default() };
        // A mask over the whole patch keeps the source everywhere.
        let (src, out) = render(&renderer(painted, Some(full.clone())));
        assert_eq!(src, out, "painted mask honoured");
        // The same mask with the occlusion mode "auto" (painted not used): the mouth is edited.
        let auto = LipSettings { occlusion: OcclusionMode::Auto, ..LipSettings::default() };
        let (src, out) = render(&renderer(auto, Some(full)));
        assert_ne!(src, out, "occlusion mode honoured");
        // Intensity 0 and "off" leave the frame as it is.
        for s in [
            LipSettings { intensity: 0.0, ..LipSettings::default() },
            LipSettings { enabled: false, ..LipSettings::default() },
        ] {
            let (src, out) = render(&renderer(s, None));
            assert_eq!(src, out);
        }
    }

    #[test]
    fn zero_intensity_and_full_occlusion_leave_the_frame_identical() {
        let (w, h) = (160usize, 160usize);
        let frame: Vec<u8> = (0..w * h * 4).map(|i| (i * 7 % 256) as u8).collect();
        let target =
            TrackFrame { landmarks: canonical().map(|p| [p[0] + 10.0, p[1] - 10.0]), score: 1.0 };
        let patch = Patch { rgb: vec![[250.0, 10.0, 10.0]; PATCH_W * PATCH_H] };
        let bank = Bank::new(vec![BankEntry::new(0, &patch, vec![0.0])]);
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

    #[test]
    fn a_detail_bank_renders_the_same_mouth_only_inside_the_patch() {
        let (w, h) = (700usize, 700usize);
        let frame: Vec<u8> = (0..w * h * 4).map(|i| (i * 7 % 256) as u8).collect();
        let landmarks = canonical().map(|p| [p[0] * 2.8 + 120.0, p[1] * 2.8 - 60.0]);
        let target = TrackFrame { landmarks, score: 1.0 };
        let track = vec![Some(target); 3];
        assert_eq!(track_detail(&track), 2);
        let (bank, model, _) = build_bank(
            &track,
            &vec![vec![0.0]; 3],
            w,
            h,
            |_| Some(frame.clone()),
            |_| false,
            usize::MAX,
        );
        assert_eq!(bank.detail(), 2);
        assert_eq!(bank.entries.len(), 3);
        assert_eq!(bank.entries[0].patch.len(), PATCH_W * PATCH_H * 4);
        // A red detail-2 mouth lands on the face, nothing outside the patch changes.
        let red = Patch { rgb: vec![[250.0, 10.0, 10.0]; PATCH_W * PATCH_H * 4] };
        let red_bank = Bank::new(vec![BankEntry::new(0, &red, vec![0.0])]);
        let planned = Planned { entry: 0, weight: 1.0, mix: [None, None] };
        let mut f = frame.clone();
        let settings = LipSettings::default();
        render_frame(
            &mut f,
            w,
            h,
            &target,
            &red_bank,
            planned,
            &settings,
            model.as_ref(),
            [None, None],
            None,
        );
        let to_patch = patch_to_image_at(&landmarks, 1).unwrap().inverse();
        let mut changed = 0;
        for y in 0..h {
            for x in 0..w {
                let o = (y * w + x) * 4;
                let p = to_patch.apply([x as f32, y as f32]);
                let inside =
                    p[0] > -1.0 && p[1] > -1.0 && p[0] < PATCH_W as f32 && p[1] < PATCH_H as f32;
                if f[o..o + 4] != frame[o..o + 4] {
                    assert!(inside, "({x},{y}) outside the patch changed");
                    changed += 1;
                }
            }
        }
        let centre = patch_to_image_at(&landmarks, 1).unwrap().apply([64.0, 45.0]);
        let o = (centre[1] as usize * w + centre[0] as usize) * 4;
        // Red (relit to the frame's brightness, so not 250).
        assert!(i32::from(f[o]) - i32::from(f[o + 1]) > 60, "{:?}", &f[o..o + 3]);
        assert!(changed > 10_000, "{changed}");
    }
}
