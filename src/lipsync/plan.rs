//! The lip plan of a project (DESIGN §7): for each dub track bound to a face, the actor's
//! mouth bank (built once per shot and face, then cached), the speech segments of the dub
//! with their settings, and per video frame the chosen mouth. Computed once, ahead of
//! rendering; `render::lips` draws it frame by frame.

use crate::analysis::job::analyze_file;
use crate::analysis::pipeline::AnalysisOptions;
use crate::analysis::track::FaceTrack;
use crate::dsp::mfcc::{Features, MfccConfig, MfccExtractor};
use crate::dsp::vad::{VadConfig, detect_speech};
use crate::dsp::{SAMPLE_RATE, measure::to_mono, mix};
use crate::jobs::Job;
use crate::lipsync::bank::{Bank, DecodedCache, SelectParams};
use crate::lipsync::cache as bank_cache;
use crate::lipsync::engine::{
    self, EditMasks, LipSettings, Look, Planned, TargetPatch, TrackFrame,
};
use crate::lipsync::kept::Kept;
use crate::lipsync::occlusion::FaceModel;
use crate::lipsync::sample;
use crate::lipsync::sync::{SLOW_HALF_WIDTH_S, audio_envelope, band_pass};
use crate::media::{MediaError, VideoDecoder, decode_audio};
use crate::model::lip::{PaintedMask, segment_override};
use crate::model::project::DubTrack;
use crate::model::{FrameRate, Project, Time, TrackId};
use std::path::Path;

/// Why a lip plan could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The project cannot be planned as it is (a face the analysis lacks, a shot without the
    /// sound its bank needs…).
    #[error("{0}")]
    Invalid(String),
    /// From the media layer (cancelled included).
    #[error(transparent)]
    Media(#[from] MediaError),
}

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

/// Frame `i` of a face track as the engine needs it (a filled-in frame scores 0).
pub fn track_frame(face: &FaceTrack, i: i64) -> Option<TrackFrame> {
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

/// The looks (see [`crate::lipsync::bank::FrameLook`]) of the frames of `track` that `want`
/// picks and that show the face, measured on their decoded pictures, in frame order. The shot is
/// opened only when some frame is wanted.
fn measure_looks(
    video: &Path,
    track: &[Option<TrackFrame>],
    want: impl Fn(usize) -> bool,
    job: &Job,
) -> Result<Vec<crate::lipsync::bank::FrameLook>, PlanError> {
    let wanted: Vec<(usize, TrackFrame)> = track
        .iter()
        .enumerate()
        .filter(|(i, _)| want(*i))
        .filter_map(|(i, t)| Some((i, (*t)?)))
        .collect();
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut decoder = VideoDecoder::open_with_cache(video, 0)?;
    let (w, h) = decoder.size();
    let mut out = Vec::with_capacity(wanted.len());
    for (i, tf) in wanted {
        if job.is_cancelled() {
            return Err(MediaError::Cancelled.into());
        }
        let frame = decoder.frame(i as i64)?;
        if let Some(look) = engine::frame_look(&frame.data, w as usize, h as usize, &tf, i as i64) {
            out.push(look);
        }
    }
    Ok(out)
}

/// The dub tracks the lip plan edits: enabled, audible, bound to a face whose edit is on.
fn bound_tracks(project: &Project) -> Vec<(TrackId, crate::model::lip::FaceId)> {
    project.lip_edit_tracks()
}

/// The first video frame [`plan_lips`] can edit (`None`: it edits none): the start of the
/// earliest clip of a bound track, or the first frame when the original dialogue is muted (the
/// actor may rest anywhere). Frames before it render without the plan, so an export can write
/// them while the plan is still being made.
pub fn first_edited_frame(project: &Project, rate: FrameRate) -> Option<i64> {
    let bound = bound_tracks(project);
    if bound.is_empty() {
        return None;
    }
    if project.timeline.original_audio.mute {
        return Some(0);
    }
    // A frame starts at its time; the frame holding a clip's start is edited at most.
    project
        .timeline
        .dub_tracks
        .iter()
        .filter(|t| bound.iter().any(|(id, _)| *id == t.id))
        .flat_map(|t| t.clips.iter())
        .map(|c| rate.time_to_frame(c.position))
        .min()
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
    held_out: Option<std::ops::Range<i64>>,
) -> Result<Vec<LipTrack>, PlanError> {
    let bound = bound_tracks(project);
    if bound.is_empty() {
        return Ok(Vec::new());
    }
    let analysis_err = |e: crate::analysis::AnalysisError| match e {
        crate::analysis::AnalysisError::Cancelled => PlanError::Media(MediaError::Cancelled),
        crate::analysis::AnalysisError::Media(m) => PlanError::Media(m),
        other => PlanError::Invalid(format!("face analysis of {}: {other}", video.display())),
    };
    job.set_stage("analysing faces");
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
                    .map_err(|e| PlanError::Invalid(format!("{}: {e}", path.display())))?;
                bank_media = format!("{bank_media}-{}", sound.trim_start_matches("sha256:"));
                decode_audio(path, Some(1))?.samples
            }
            None => {
                return Err(PlanError::Invalid(format!(
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
            PlanError::Invalid(format!(
                "dub track {} is bound to face {}, which the analysis of {} does not have ({} face(s) found)",
                track_id.0,
                face_id.0,
                video.display(),
                analysis.tracks.len()
            ))
        })?;
        let track: Vec<Option<TrackFrame>> = (0..frames).map(|i| track_frame(&face, i)).collect();
        // A long shot is learned from spread stretches of it (the bank, the lip shapes and the
        // sound → shape map), so its one-off cost stops growing past a few minutes of face.
        let learn = sample::learning_frames(&track, fps, sample::learn_seconds());
        let learned = sample::learned_track(&track, &learn);
        let features: Vec<Vec<f32>> = (0..frames)
            .map(|i| {
                if learned[i as usize].is_some() {
                    frame_features(&orig_features, i as f64 / fps)
                } else {
                    Vec::new()
                }
            })
            .collect();
        // Built once per shot and face, then read from the bank cache (progress while building):
        // the shot is opened for decoding only when the bank is built.
        let budget = crate::lipsync::bank::bank_budget_bytes();
        let key = bank_cache::key(&bank_media, face.id, &learned, budget);
        let mut open_err = None;
        let built = bank_cache::load_or_build(bank_cache::cache_dir().as_deref(), &key, || {
            job.set_stage("building the mouth bank");
            let mut decoder = match VideoDecoder::open_with_cache(video, 0) {
                Ok(d) => d,
                Err(e) => {
                    open_err = Some(e);
                    return None;
                }
            };
            let (w, h) = decoder.size();
            let (bank, model, cap) = engine::build_bank(
                &learned,
                &features,
                w as usize,
                h as usize,
                |i| decoder.frame(i as i64).ok().map(|f| f.data.clone()),
                |i| {
                    job.set_progress(i as f64 / learned.len().max(1) as f64);
                    job.is_cancelled()
                },
                budget,
            );
            tracing::info!(
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
        // Usable frames the edit may draw on that the bank did not learn from (a long shot's
        // frames between its learned stretches) have their own look measured: only those under
        // the track's clips, so the cost follows the dub's length. Frames the bank would not
        // learn from either (low scores, filled in) borrow the nearest clean look, as before.
        let replaced = replaced_frames(project, dub_track, rate, frames);
        let unlearned = |i: usize| !learn[i] && engine::usable(track[i]).is_some();
        let own_looks = measure_looks(video, &track, |i| replaced[i] && unlearned(i), job)?;
        let target_looks: Vec<Option<Look>> = (0..frames)
            .map(|i| {
                let tf = track[i as usize]?;
                let l = match own_looks.binary_search_by_key(&i, |l| l.frame) {
                    Ok(k) => &own_looks[k],
                    Err(_) => bank.look_near(i)?,
                };
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
            super::speak::plan_by_shape(&super::speak::ShapeInputs {
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
                replaced: &replaced,
                learn: &learn,
                entry_looks: &entry_looks,
                target_looks: &target_looks,
                job,
                held_out: held_out.clone(),
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
