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
use crate::lipsync::bank::{Bank, SelectParams};
use crate::lipsync::engine::{self, EditMasks, LipSettings, Planned, TrackFrame};
use crate::lipsync::geometry::{Patch, extract_patch};
use crate::lipsync::occlusion::FaceModel;
use crate::media::{MediaError, VideoDecoder, decode_audio};
use crate::model::{FrameRate, Project, TrackId};
use std::path::Path;

/// Audio features around a video frame: MFCC + deltas pooled over three thirds of ±100 ms, so
/// the bank sees the direction of the sound, not only its average.
pub fn frame_features(features: &Features, t: f64) -> Vec<f32> {
    let third = 0.1 / 3.0;
    [t - 2.0 * third, t, t + 2.0 * third].iter().flat_map(|&c| features.pool(c, third)).collect()
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
    /// Region, intensity, feather, occlusion.
    pub settings: LipSettings,
    /// The region and ring masks of `settings`.
    pub masks: EditMasks,
}

fn track_frame(face: &FaceTrack, i: i64) -> Option<TrackFrame> {
    face.at(i).map(|f| TrackFrame {
        landmarks: f.landmarks,
        score: if f.filled { 0.0 } else { f.confidence },
    })
}

/// Dub speech of one track alone, mono, timeline-aligned.
fn track_dialogue(
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

/// Plans every bound, enabled dub track. `dialogue_of(project)` returns the interleaved
/// dialogue stem of the whole timeline for a (modified) project.
pub fn plan_lips(
    project: &Project,
    video: &Path,
    rate: FrameRate,
    frames: i64,
    dialogue_of: impl Fn(&Project) -> Vec<f32>,
    job: &Job,
) -> Result<Vec<LipTrack>, RenderError> {
    let bound: Vec<_> = project
        .timeline
        .dub_tracks
        .iter()
        .filter(|t| t.lip.enabled && project.is_audible(t))
        .filter_map(|t| t.face.map(|f| (t.id, f, t.lip)))
        // A face whose edit is switched off keeps its own mouth.
        .filter(|(_, f, _)| project.face_edit_on(*f))
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
    // The bank hears what was filmed: the shot's own audio, whatever replaces it in the mix.
    let original = decode_audio(video, Some(1))?;
    let orig_features = extractor.mfcc_deltas_normalised(&original.samples);
    let fps = rate.as_f64();
    let mut out = Vec::new();
    for (track_id, face_id, settings) in bound {
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
        let mut decoder = VideoDecoder::open_with_cache(video, 0)?;
        let (w, h) = decoder.size();
        let (bank, model) = engine::build_bank(
            &track,
            &features,
            w as usize,
            h as usize,
            |i| decoder.frame(i as i64).ok().map(|f| f.data.clone()),
            |_| job.is_cancelled(),
        );
        if job.is_cancelled() {
            return Err(MediaError::Cancelled.into());
        }
        // New speech: the track's own dialogue, with its speech segments from the VAD.
        let dub = track_dialogue(project, &dialogue_of, track_id);
        let speech = detect_speech(&dub, SAMPLE_RATE, &VadConfig::default());
        let dub_features = extractor.mfcc_deltas_normalised(&dub);
        let targets: Vec<Option<Vec<f32>>> = (0..frames)
            .map(|i| {
                let t = i as f64 / fps;
                let s = (t * f64::from(SAMPLE_RATE)) as usize;
                let speaking = speech.iter().any(|seg| s >= seg.start && s < seg.end);
                (speaking && track[i as usize].is_some()).then(|| frame_features(&dub_features, t))
            })
            .collect();
        let plan = engine::plan(&bank, &targets, SelectParams::default());
        let masks = EditMasks::new(&settings);
        out.push(LipTrack { dub_track: track_id, face, bank, model, plan, settings, masks });
    }
    Ok(out)
}

/// Applies planned lip edits to decoded frames, on the GPU when one is available.
pub struct LipRenderer {
    tracks: Vec<LipTrack>,
    gpu: Option<GpuCompositor>,
}

impl LipRenderer {
    /// Wraps plans; opens the GPU compositor when there is an edit to draw (and an adapter).
    pub fn new(tracks: Vec<LipTrack>) -> Self {
        let gpu = if tracks.is_empty() { None } else { GpuCompositor::new().ok() };
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

    /// Edits `frame` (RGBA, frame index `i`) in place. `neighbour(j)` gives the decoded frame `j`
    /// for the temporal occlusion test. Returns which compositor ran (or `None` when nothing was
    /// edited).
    pub fn apply(
        &self,
        i: i64,
        frame: &mut [u8],
        width: usize,
        height: usize,
        mut neighbour: impl FnMut(i64) -> Option<Vec<u8>>,
    ) -> Option<Backend> {
        let mut layers_data: Vec<(Patch, Vec<f32>, crate::lipsync::geometry::Similarity)> =
            Vec::new();
        for lt in &self.tracks {
            let Some(Some(planned)) = lt.plan.get(i as usize) else { continue };
            let Some(target) = track_frame(&lt.face, i) else { continue };
            let Some(own) = extract_patch(frame, width, height, &target.landmarks) else {
                continue;
            };
            let patch_of = |j: i64, data: Option<Vec<u8>>| {
                let tf = track_frame(&lt.face, j)?;
                extract_patch(&data?, width, height, &tf.landmarks)
            };
            let prev = patch_of(i - 1, neighbour(i - 1));
            let next = patch_of(i + 1, neighbour(i + 1));
            if let Some(layer) = engine::prepare_layer(
                &own,
                &target,
                &lt.bank,
                *planned,
                &lt.settings,
                &lt.masks,
                lt.model.as_ref(),
                [prev.as_ref(), next.as_ref()],
                None,
            ) {
                layers_data.push(layer);
            }
        }
        if layers_data.is_empty() {
            return None;
        }
        let layers: Vec<PatchLayer<'_>> = layers_data
            .iter()
            .map(|(p, a, t)| PatchLayer { patch: p, alpha: a, to_image: *t })
            .collect();
        Some(gpu::composite(self.gpu.as_ref(), frame, width, height, &layers))
    }
}
