//! `redub bind` (dub track ↔ face) and `redub sync-check` (A/V offset from the mouth).

use super::CliError;
use crate::analysis::mouth::shape::{FileMouth, MeasureError};
use crate::dsp::SAMPLE_RATE;
use crate::lipsync::sync::{SyncReport, audio_envelope, sync_offset, sync_offset_multi};
use crate::media::decode_audio;
use crate::model::Project;
use crate::model::lip::FaceId;
use serde::Serialize;
use std::path::Path;

pub(super) fn bind(project_path: &Path, track: u32, face: u32) -> Result<(), CliError> {
    let mut project = Project::load(project_path)?;
    let ids: Vec<u32> = project.timeline.dub_tracks.iter().map(|t| t.id.0).collect();
    let t = project.timeline.dub_tracks.iter_mut().find(|t| t.id.0 == track).ok_or_else(|| {
        CliError::User(format!(
            "{}: no dub track {track} (tracks: {ids:?})",
            project_path.display()
        ))
    })?;
    t.face = Some(FaceId(face));
    let name = t.name.clone();
    project.save(project_path)?;
    println!("bound dub track {track} ({name}) to face {face}");
    Ok(())
}

/// What `sync-check` reports.
#[derive(Serialize)]
struct SyncCheck {
    file: String,
    audio: String,
    face: u32,
    frames: usize,
    /// The sync measure: the mouth's aperture, lip height and motion in the canonical mouth
    /// frame plus the analysis's normal-flow mouth energy, combined per clip against the
    /// speech-band envelope; the confidence is a z-score against a null from the same clip.
    #[serde(flatten)]
    sync: SyncReport,
    /// An independent check: the face analysis's own mouth-motion energy (normal flow on the
    /// aligned mouth region, see [`crate::analysis::mouth::normal_flow`]) against the same
    /// envelope alone; it reads how much the mouth moves, not how open it is, so it does not
    /// read the aperture the bank engine selects mouths by.
    motion: SyncReport,
    /// Mean absolute luma change of the lips region between frames.
    flicker: f32,
}

impl From<MeasureError> for CliError {
    fn from(e: MeasureError) -> Self {
        match e {
            MeasureError::Analysis(e) => e.into(),
            MeasureError::Media(e) => e.into(),
            MeasureError::NoFace(_) => CliError::User(e.to_string()),
        }
    }
}

/// Measures the mouth of the largest face track of `file` against `audio` (default: the file's
/// own audio).
pub(super) fn sync_check(file: &Path, audio: Option<&Path>, json: bool) -> Result<(), CliError> {
    let audio_path = audio.unwrap_or(file);
    let sound = decode_audio(audio_path, Some(1))?;
    let vad = crate::dsp::vad::VadConfig::default();
    if crate::dsp::vad::detect_speech(&sound.samples, SAMPLE_RATE, &vad).is_empty() {
        return Err(CliError::User(format!(
            "{}: no speech in the audio; there is nothing to measure lip sync against",
            audio_path.display()
        )));
    }
    let mouth = FileMouth::measure(file)?;
    let (rate, frames) = (mouth.fps, mouth.frames);
    let envelope = audio_envelope(&sound.samples, SAMPLE_RATE, rate, frames);
    let features = mouth.features();
    let features: Vec<&[f32]> = features.iter().map(Vec::as_slice).collect();
    let report = SyncCheck {
        file: file.display().to_string(),
        audio: audio_path.display().to_string(),
        face: mouth.face,
        frames,
        sync: sync_offset_multi(&features, &envelope, rate, 15),
        motion: sync_offset(&mouth.mouth_energy, &envelope, rate, 15),
        flicker: mouth.series.flicker(),
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| CliError::Internal(e.to_string()))?
        );
    } else {
        println!(
            "{}: face {} vs {}: offset {:+} frames ({:+.0} ms), confidence {:.2} (z vs chance; peak R {:.3}), mouth flicker {:.2}; mouth motion (analysis): offset {:+}, confidence {:.2}",
            report.file,
            report.face,
            report.audio,
            report.sync.offset_frames,
            report.sync.offset_ms,
            report.sync.confidence,
            report.sync.peak,
            report.flicker,
            report.motion.offset_frames,
            report.motion.confidence
        );
    }
    Ok(())
}
