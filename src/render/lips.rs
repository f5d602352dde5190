//! Lip edits in the render graph: for each dub track bound to a face, the bank engine's plan
//! (computed once, ahead of rendering) and, per frame, the patch layers the compositor blends.
//! Preview and export both call [`LipRenderer::apply`].

use super::RenderError;
use super::gpu::{self, Backend, GpuCompositor, PatchLayer};
use crate::analysis::job::analyze_file;
use crate::analysis::pipeline::AnalysisOptions;
use crate::analysis::track::FaceTrack;
use crate::dsp::mfcc::{Features, MfccConfig, MfccExtractor};
use crate::dsp::vad::{VadConfig, detect_speech};
use crate::dsp::{SAMPLE_RATE, measure::to_mono, mix};
use crate::jobs::Job;
use crate::lipsync::bank::{Bank, DecodedCache, SelectParams};
use crate::lipsync::cache as bank_cache;
use crate::lipsync::engine::Look;
use crate::lipsync::engine::{self, EditMasks, LipSettings, Planned, TargetPatch, TrackFrame};
use crate::lipsync::geometry::{PATCH_H, PATCH_W, Patch, extract_patch_at, patch_to_image};
use crate::lipsync::kept::Kept;
use crate::lipsync::occlusion::{FaceModel, PaintedMask};
use crate::lipsync::sync::{SLOW_HALF_WIDTH_S, audio_envelope, band_pass};
use crate::media::yuv::Rect;
use crate::media::{MediaError, VideoDecoder, decode_audio};
use crate::model::lip::segment_override;
use crate::model::project::DubTrack;
use crate::model::{FrameRate, Project, Time, TrackId};
use std::path::Path;

/// Audio features around a video frame: MFCC + deltas pooled over three thirds of ±100 ms, so
/// the bank sees the direction of the sound, not only its average.
pub fn frame_features(features: &Features, t: f64) -> Vec<f32> {
    let third = 0.1 / 3.0;
    let mut v: Vec<f32> = [t - 2.0 * third, t, t + 2.0 * third]
        .iter()
        .flat_map(|&c| features.pool(c, third))
        .collect();
    crate::lipsync::bank::weight_loudness(&mut v, features.dim);
    v
}

/// One lip segment of a dub track: a stretch of its speech (VAD) with the settings it is edited
/// with (the track's, or the segment's override).
#[derive(Clone, Debug, PartialEq)]
pub struct LipSegmentPlan {
    /// Start on the timeline.
    pub start: Time,
    /// End on the timeline (exclusive).
    pub end: Time,
    /// The settings in force.
    pub settings: LipSettings,
    /// The user's occluder mask, if painted.
    pub mask: Option<PaintedMask>,
    /// Whether the settings come from a segment override rather than the track.
    pub overridden: bool,
}

impl LipSegmentPlan {
    /// Whether timeline time `t` is in the segment.
    pub fn contains(&self, t: Time) -> bool {
        t >= self.start && t < self.end
    }
}

/// The speech segments of a dub track's own dialogue (mono, 48 kHz, timeline-aligned), in
/// timeline time: where the dub drives the mouth. The plan and the timeline lane both use this.
pub fn speech_spans(dub_mono: &[f32]) -> Vec<(Time, Time)> {
    detect_speech(dub_mono, SAMPLE_RATE, &VadConfig::default())
        .iter()
        .map(|s| {
            (
                Time::from_samples(s.start as i64, SAMPLE_RATE),
                Time::from_samples(s.end as i64, SAMPLE_RATE),
            )
        })
        .collect()
}

/// Gives each speech span of `track` its settings: the override that matches it (see
/// [`segment_override`]) or the track's.
pub fn resolve_segments(track: &DubTrack, spans: &[(Time, Time)]) -> Vec<LipSegmentPlan> {
    spans
        .iter()
        .map(|&(start, end)| match segment_override(&track.lip_segments, start, end) {
            Some(o) => LipSegmentPlan {
                start,
                end,
                settings: o.settings,
                mask: o.mask.clone(),
                overridden: true,
            },
            None => {
                LipSegmentPlan { start, end, settings: track.lip, mask: None, overridden: false }
            }
        })
        .collect()
}

/// The speech spans of every dub track with clips, each track alone, from the same speech
/// detection as [`plan_lips`] (the timeline's lip lanes). `dialogue_of(project)` as there.
pub fn dub_track_spans(
    project: &Project,
    dialogue_of: impl Fn(&Project) -> Vec<f32>,
) -> Vec<(TrackId, Vec<(Time, Time)>)> {
    project
        .timeline
        .dub_tracks
        .iter()
        .filter(|t| !t.clips.is_empty())
        .map(|t| (t.id, speech_spans(&track_dialogue(project, &dialogue_of, t.id))))
        .collect()
}

/// A segment's settings ready to draw: the masks of its region and feather.
pub struct SegmentDraw {
    /// The segment.
    pub segment: LipSegmentPlan,
    /// Its region and ring masks.
    pub masks: EditMasks,
}

/// The planned lip edit of one dub track.
pub struct LipTrack {
    /// The dub track.
    pub dub_track: TrackId,
    /// The bound face.
    pub face: FaceTrack,
    /// The actor's mouths.
    pub bank: Bank,
    /// Colour model of the lower face (occlusion).
    pub model: Option<FaceModel>,
    /// Per video frame: the chosen mouth, if edited.
    pub plan: Vec<Option<Planned>>,
    /// The track's lip segments with their settings and masks, in time order.
    pub segments: Vec<SegmentDraw>,
    /// Frame rate of the plan.
    pub rate: FrameRate,
    /// The bank mouths last drawn, decoded (shared by the render workers).
    pub decoded: DecodedCache,
    /// The analysis-size patches of the frames last drawn (see [`TARGETS_KEPT`]).
    pub targets: Kept<i64, TargetPatch>,
}

/// Frames whose analysis-size patch a [`LipTrack`] keeps: a few per render worker.
pub const TARGETS_KEPT: usize = 32;

impl LipTrack {
    /// The segment that frame `i` belongs to.
    pub fn segment_at(&self, i: i64) -> Option<&SegmentDraw> {
        let t = self.rate.frame_to_time(i);
        self.segments.iter().find(|s| s.segment.contains(t))
    }
}

fn track_frame(face: &FaceTrack, i: i64) -> Option<TrackFrame> {
    face.at(i).map(|f| TrackFrame {
        landmarks: f.landmarks,
        score: if f.filled { 0.0 } else { f.confidence },
    })
}

/// Dub speech of one track alone, mono, timeline-aligned.
pub fn track_dialogue(
    project: &Project,
    input_for: impl Fn(&Project) -> Vec<f32>,
    track: TrackId,
) -> Vec<f32> {
    let mut solo = project.clone();
    for t in &mut solo.timeline.dub_tracks {
        t.solo = false;
        t.mute = t.id != track;
    }
    to_mono(&input_for(&solo), mix::CHANNELS)
}

/// Per frame, whether the original dialogue is replaced there for this dub track: inside one of
/// its clips (the original is ducked under them), or anywhere when the original track is muted.
fn replaced_frames(project: &Project, track: &DubTrack, rate: FrameRate, frames: i64) -> Vec<bool> {
    let muted = project.timeline.original_audio.mute;
    (0..frames)
        .map(|i| {
            let t = rate.frame_to_time(i);
            muted || track.clips.iter().any(|c| t >= c.position && t < c.end())
        })
        .collect()
}

/// Plans every bound, enabled dub track. `dialogue_of(project)` returns the interleaved
/// dialogue stem of the whole timeline for a (modified) project. `production` is the original
/// audio track's file (muted or not): what the bank hears when the shot itself has no audio
/// stream (sound recorded apart, placed from the shot's start). `shot_sound` is the shot's own
/// audio, mono 48 kHz, when the caller has it decoded already (else it is decoded here).
#[allow(clippy::too_many_arguments)]
pub fn plan_lips(
    project: &Project,
    video: &Path,
    rate: FrameRate,
    frames: i64,
    dialogue_of: impl Fn(&Project) -> Vec<f32>,
    production: Option<&Path>,
    shot_sound: Option<Vec<f32>>,
    job: &Job,
) -> Result<Vec<LipTrack>, RenderError> {
    let bound: Vec<_> = project
        .timeline
        .dub_tracks
        .iter()
        .filter(|t| t.lip.enabled && project.is_audible(t))
        .filter_map(|t| t.face.map(|f| (t.id, f)))
        // A face whose edit is switched off keeps its own mouth.
        .filter(|(_, f)| project.face_edit_on(*f))
        .collect();
    if bound.is_empty() {
        return Ok(Vec::new());
    }
    let analysis_err = |e: crate::analysis::AnalysisError| match e {
        crate::analysis::AnalysisError::Cancelled => RenderError::Media(MediaError::Cancelled),
        crate::analysis::AnalysisError::Media(m) => RenderError::Media(m),
        other => RenderError::Invalid(format!("face analysis of {}: {other}", video.display())),
    };
    let (analysis, _) =
        analyze_file(video, &AnalysisOptions::default(), job, true).map_err(analysis_err)?;
    let extractor = MfccExtractor::new(MfccConfig::speech(SAMPLE_RATE));
    // The bank hears what was filmed: the shot's own audio, whatever replaces it in the mix, or
    // the production sound on the original audio track when the shot has none.
    // A bank built from production sound is cached under that sound's content too.
    let mut bank_media = analysis.media_hash.clone();
    let decoded = match shot_sound {
        Some(sound) => Ok(sound),
        None => decode_audio(video, Some(1)).map(|a| a.samples),
    };
    let original = match decoded {
        Ok(a) => a,
        Err(MediaError::NoStream { .. }) => match production.filter(|p| *p != video) {
            Some(path) => {
                let sound = crate::model::hash::content_hash(path)
                    .map_err(|e| RenderError::Invalid(format!("{}: {e}", path.display())))?;
                bank_media = format!("{bank_media}-{}", sound.trim_start_matches("sha256:"));
                decode_audio(path, Some(1))?.samples
            }
            None => {
                return Err(RenderError::Invalid(format!(
                    "{} has no audio stream: the lip edit finds the actor's mouths by the \
                     dialogue heard when they were filmed; put the shot's production sound on \
                     the Original audio track",
                    video.display()
                )));
            }
        },
        Err(e) => return Err(e.into()),
    };
    let orig_features = extractor.mfcc_deltas_normalised(&original);
    let fps = rate.as_f64();
    let mut out = Vec::new();
    for (track_id, face_id) in bound {
        let Some(dub_track) = project.timeline.dub_tracks.iter().find(|t| t.id == track_id) else {
            continue;
        };
        let face = analysis.tracks.iter().find(|t| t.id == face_id.0).cloned().ok_or_else(|| {
            RenderError::Invalid(format!(
                "dub track {} is bound to face {}, which the analysis of {} does not have ({} face(s) found)",
                track_id.0,
                face_id.0,
                video.display(),
                analysis.tracks.len()
            ))
        })?;
        let track: Vec<Option<TrackFrame>> = (0..frames).map(|i| track_frame(&face, i)).collect();
        let features: Vec<Vec<f32>> =
            (0..frames).map(|i| frame_features(&orig_features, i as f64 / fps)).collect();
        // Built once per shot and face, then read from the bank cache (progress while building):
        // the shot is opened for decoding only when the bank is built.
        let budget = crate::lipsync::bank::bank_budget_bytes();
        let key = bank_cache::key(&bank_media, face.id, &track, budget);
        let mut open_err = None;
        let built = bank_cache::load_or_build(bank_cache::cache_dir().as_deref(), &key, || {
            let mut decoder = match VideoDecoder::open_with_cache(video, 0) {
                Ok(d) => d,
                Err(e) => {
                    open_err = Some(e);
                    return None;
                }
            };
            let (w, h) = decoder.size();
            let (bank, model, cap) = engine::build_bank(
                &track,
                &features,
                w as usize,
                h as usize,
                |i| decoder.frame(i as i64).ok().map(|f| f.data.clone()),
                |i| {
                    job.set_progress(i as f64 / track.len().max(1) as f64);
                    job.is_cancelled()
                },
                budget,
            );
            eprintln!(
                "bank face {}: {} mouths of {} clean frames ({} near-duplicates and {} in \
                 stretches of common mouths dropped), {:.1} MiB of a {:.0} MiB budget, {:.1} KiB \
                 per mouth",
                face.id,
                bank.entries.len(),
                cap.before,
                cap.near_duplicates,
                cap.stretches,
                bank.bytes() as f64 / 1048576.0,
                budget as f64 / 1048576.0,
                bank.bytes() as f64 / 1024.0 / bank.entries.len().max(1) as f64,
            );
            (!job.is_cancelled()).then_some((bank, model))
        });
        if let Some(e) = open_err {
            return Err(e.into());
        }
        let Some((bank, model)) = built else {
            return Err(MediaError::Cancelled.into());
        };
        // New speech: the track's own dialogue, with its speech segments from the VAD; each
        // segment is edited with its own settings (a segment switched off keeps the original).
        let dub = track_dialogue(project, &dialogue_of, track_id);
        let segments = resolve_segments(dub_track, &speech_spans(&dub));
        let dub_features = extractor.mfcc_deltas_normalised(&dub);
        let targets: Vec<Option<Vec<f32>>> = (0..frames)
            .map(|i| {
                let t = rate.frame_to_time(i);
                let speaking = segments.iter().any(|s| s.contains(t) && s.settings.enabled);
                (speaking && track[i as usize].is_some())
                    .then(|| frame_features(&dub_features, i as f64 / fps))
            })
            .collect();
        // The looks (pose, lighting, jaw) of the bank mouths and of each target frame: the target
        // is a frame of the same shot, so its lighting and jaw are read from its own clean frame,
        // or the nearest one where it has none (occluded, low score).
        let entry_looks: Vec<Option<Look>> = bank
            .entries
            .iter()
            .map(|e| {
                let tf = track.get(usize::try_from(e.frame).ok()?).copied().flatten()?;
                let l = bank.look_near(e.frame)?;
                Some(Look { pose: Look::pose(&tf.landmarks)?, light: l.light, jaw: l.jaw })
            })
            .collect();
        let target_looks: Vec<Option<Look>> = (0..frames)
            .map(|i| {
                let tf = track[i as usize]?;
                let l = bank.look_near(i)?;
                Some(Look { pose: Look::pose(&tf.landmarks)?, light: l.light, jaw: l.jaw })
            })
            .collect();
        // How open each edited frame's mouth should be: the dub's speech-band loudness (the
        // sync measure's envelope) at the syllable rate — smoothed over three frames (lips and
        // jaw cannot follow frame-to-frame jitter) minus its ±0.4 s mean — mapped onto the
        // bank's apertures. The syllable rate, not the level: a mouth opens on each syllable
        // and closes between them, however loud the phrase is overall.
        let envelope = audio_envelope(&dub, SAMPLE_RATE, fps, frames as usize);
        let loudness = band_pass(&envelope, (SLOW_HALF_WIDTH_S * fps).round().max(1.0) as usize);
        let loudness: Vec<Option<f32>> =
            targets.iter().zip(&loudness).map(|(t, l)| t.as_ref().map(|_| *l)).collect();
        // The mouth says the dub: lip shapes wanted from the dub's sound through the actor's own
        // sound → shape map (learned from the shot), the bank chosen by shape; the actor rests
        // where the dub pauses over their original speech. The former loudness-driven plan
        // stays for shots whose lips cannot be measured (no lip-landmark model, or too few
        // frames).
        let shaped = if std::env::var_os("REDUB_LIP_ENGINE").is_some_and(|v| v == "loudness") {
            None
        } else {
            crate::lipsync::speak::plan_by_shape(&crate::lipsync::speak::ShapeInputs {
                video,
                face: &face,
                bank: &bank,
                original: &original,
                dub: &dub,
                fps,
                frames: frames as usize,
                speak: &targets.iter().map(Option::is_some).collect::<Vec<_>>(),
                dub_speech: &(0..frames)
                    .map(|i| segments.iter().any(|s| s.contains(rate.frame_to_time(i))))
                    .collect::<Vec<_>>(),
                replaced: &replaced_frames(project, dub_track, rate, frames),
                entry_looks: &entry_looks,
                target_looks: &target_looks,
                job,
            })
        };
        let (plan, rest_spans) = match shaped {
            Some(s) => (s.plan, s.rest_spans),
            None => {
                let apertures = engine::aperture_targets(&bank, &loudness);
                let plan = engine::plan_with_looks(
                    &bank,
                    &targets,
                    SelectParams::from_env(),
                    &entry_looks,
                    &target_looks,
                    &apertures,
                );
                (plan, Vec::new())
            }
        };
        let mut segments = segments;
        segments.extend(rest_spans.iter().map(|&(start, end)| LipSegmentPlan {
            start,
            end,
            settings: dub_track.lip,
            mask: None,
            overridden: false,
        }));
        segments.sort_by_key(|s| s.start);
        let segments = segments
            .into_iter()
            .map(|segment| SegmentDraw {
                masks: EditMasks::at(&segment.settings, bank.detail()),
                segment,
            })
            .collect();
        out.push(LipTrack {
            dub_track: track_id,
            face,
            bank,
            model,
            plan,
            segments,
            rate,
            decoded: DecodedCache::default(),
            targets: Kept::new(TARGETS_KEPT),
        });
    }
    Ok(out)
}

/// One face's lip layer at a frame, ready to blend.
pub struct PreparedLayer<'a> {
    /// The new mouth, colour-matched to the frame.
    pub patch: Patch,
    /// Blend weight per patch pixel: region × strength × (1 − occlusion). The patch, its alpha
    /// and `region` share one detail (see [`crate::lipsync::geometry::dims_of`]).
    pub alpha: Vec<f32>,
    /// Patch pixels → frame pixels.
    pub to_image: crate::lipsync::geometry::Similarity,
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
    gpu: Option<std::sync::Arc<GpuCompositor>>,
}

impl LipRenderer {
    /// Wraps plans; opens the GPU compositor when there is an edit to draw (and an adapter).
    pub fn new(tracks: Vec<LipTrack>) -> Self {
        let gpu = if tracks.is_empty() { None } else { GpuCompositor::shared().ok() };
        Self { tracks, gpu }
    }

    /// Which compositor draws.
    pub fn backend(&self) -> Backend {
        match &self.gpu {
            Some(g) => Backend::Gpu(g.adapter_name().to_string()),
            None => Backend::Cpu,
        }
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
    /// [`gpu::footprint`]).
    pub fn footprint(layers: &[PreparedLayer<'_>], width: usize, height: usize) -> Option<Rect> {
        let layers: Vec<PatchLayer<'_>> =
            layers.iter().map(PreparedLayer::as_patch_layer).collect();
        gpu::footprint(&layers, width, height)
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
        Some(gpu::composite(self.gpu.as_deref(), frame, width, height, &layers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::geometry::BBox;
    use crate::analysis::track::TrackFrame as FaceFrame;
    use crate::lipsync::bank::BankEntry;
    use crate::lipsync::geometry::{PATCH_H, PATCH_W, canonical};
    use crate::model::lip::OcclusionMode;

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
}
