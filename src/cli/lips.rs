//! `redub bind` (dub track ↔ face) and `redub sync-check` (A/V offset and match from the lips).

use super::CliError;
use crate::analysis::mouth::shape::{FileMouth, MeasureError};
use crate::jobs::Job;
use crate::lipsync::sync::{
    LipMouth, MAX_LAG_FRAMES, SYNC_THRESHOLD_Z, SyncReport, Verdict, has_speech, sync_offset,
};
use crate::media::decode_audio;
use crate::model::Project;
use crate::model::lip::FaceId;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub(super) fn bind(project_path: &Path, track: u32, face: u32) -> Result<(), CliError> {
    let _lock = crate::model::lock::ProjectLock::acquire(project_path, "redub bind")?;
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

/// One audio judged against the mouth.
#[derive(Serialize)]
struct Candidate {
    audio: String,
    /// Whether the speech detector heard speech in it (over the video's length); without,
    /// nothing is measured.
    speech: bool,
    /// Offset, confidence, peak correlation and curve; absent without speech.
    #[serde(flatten)]
    sync: Option<SyncReport>,
    verdict: Option<Verdict>,
}

/// What `sync-check` reports.
#[derive(Serialize)]
struct SyncCheck {
    file: String,
    audio: String,
    face: u32,
    frames: usize,
    /// Frames where Face Mesh measured the lips.
    lips_measured: usize,
    /// The mouth signal: `opening` (the inner-lip opening, signed correlation) or
    /// `opening+change` (with its frame-to-frame change, combined per clip).
    signal: &'static str,
    /// The sync measure for `audio`: the Face Mesh inner-lip opening of the main face against
    /// the speech-band envelope; the confidence is a z-score against a null from the same clip
    /// (its mouth against the audio reversed and far shifted).
    #[serde(flatten)]
    sync: SyncReport,
    /// `in_sync` (confidence at least `threshold` at an offset within the tolerance),
    /// `out_of_sync` (confident, offset outside it) or `no_reliable_sync`.
    verdict: Verdict,
    /// The confidence the verdict asks for.
    threshold: f32,
    /// An independent check: the face analysis's own mouth-motion energy (normal flow on the
    /// aligned mouth region) against the same envelope.
    motion: SyncReport,
    /// Mean absolute luma change of the lips region between frames (with `--flicker`).
    flicker: Option<f32>,
    /// With `--against`: `audio` and every other audio, best match first (by confidence).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ranking: Vec<Candidate>,
    /// With `--against`: the best-matching audio.
    #[serde(skip_serializing_if = "Option::is_none")]
    best: Option<String>,
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

/// How `sync-check` is asked to measure.
pub(super) struct SyncArgs<'a> {
    /// The video.
    pub file: &'a Path,
    /// The audio to judge (default: the video's own).
    pub audio: Option<&'a Path>,
    /// Other audios to rank with it.
    pub against: &'a [PathBuf],
    /// Add the opening's frame-to-frame change to the mouth signal.
    pub with_change: bool,
    /// Also measure the lips region's flicker (decodes every frame).
    pub flicker: bool,
    /// Print JSON.
    pub json: bool,
}

/// Decodes `path` to mono at [`crate::dsp::SAMPLE_RATE`], or `None` when there is no speech in its first
/// `seconds`.
fn speech_audio(path: &Path, seconds: f64) -> Result<Option<Vec<f32>>, CliError> {
    let sound = decode_audio(path, Some(1))?;
    Ok(has_speech(&sound.samples, seconds).then_some(sound.samples))
}

/// The verdict in words.
fn verdict_text(v: Verdict, r: &SyncReport) -> String {
    let side = if r.offset_ms >= 0.0 { "late" } else { "early" };
    match v {
        Verdict::InSync => {
            format!("in sync (confidence {:.2} >= {SYNC_THRESHOLD_Z})", r.confidence)
        }
        Verdict::OutOfSync => format!(
            "out of sync: the mouth follows this audio, but the audio is {:.0} ms {side}",
            r.offset_ms.abs()
        ),
        Verdict::NoReliableSync => format!(
            "no reliable sync: the mouth does not measurably follow this audio (confidence {:.2} < {SYNC_THRESHOLD_Z})",
            r.confidence
        ),
    }
}

/// Measures the lips of the main face of `file` against the audio (default: the file's own)
/// and any `--against` audios.
pub(super) fn sync_check(a: &SyncArgs<'_>) -> Result<(), CliError> {
    let job = Job::new();
    // The sound first: silence is refused before the (slower) face and lip analysis.
    let seconds = crate::media::probe(a.file)
        .map_err(|e| CliError::User(format!("{}: {e}", a.file.display())))?
        .duration
        .as_seconds_f64();
    let audio_path = a.audio.unwrap_or(a.file);
    let Some(main) = speech_audio(audio_path, seconds)? else {
        return Err(CliError::User(format!(
            "{}: no speech (over the video's {seconds:.1} s): nothing to check the mouth against",
            audio_path.display()
        )));
    };
    let mouth = LipMouth::measure(a.file, &job)?;
    let sync = mouth.check(&main, a.with_change);
    let verdict = Verdict::of(&sync, mouth.fps);
    let motion =
        sync_offset(&mouth.mouth_energy, &mouth.envelope(&main), mouth.fps, MAX_LAG_FRAMES);
    let flicker = if a.flicker { Some(FileMouth::measure(a.file)?.series.flicker()) } else { None };
    let mut ranking = Vec::new();
    if !a.against.is_empty() {
        ranking.push(Candidate {
            audio: audio_path.display().to_string(),
            speech: true,
            sync: Some(sync.clone()),
            verdict: Some(verdict),
        });
        for path in a.against {
            let c = match speech_audio(path, seconds)? {
                Some(mono) => {
                    let r = mouth.check(&mono, a.with_change);
                    let v = Verdict::of(&r, mouth.fps);
                    Candidate {
                        audio: path.display().to_string(),
                        speech: true,
                        sync: Some(r),
                        verdict: Some(v),
                    }
                }
                None => Candidate {
                    audio: path.display().to_string(),
                    speech: false,
                    sync: None,
                    verdict: None,
                },
            };
            ranking.push(c);
        }
        let score = |c: &Candidate| c.sync.as_ref().map_or(f32::MIN, |r| r.confidence);
        ranking.sort_by(|x, y| score(y).total_cmp(&score(x)));
    }
    let best = ranking.first().map(|c| c.audio.clone());
    let report = SyncCheck {
        file: a.file.display().to_string(),
        audio: audio_path.display().to_string(),
        face: mouth.face,
        frames: mouth.frames,
        lips_measured: mouth.measured,
        signal: if a.with_change { "opening+change" } else { "opening" },
        sync,
        verdict,
        threshold: SYNC_THRESHOLD_Z,
        motion,
        flicker,
        ranking,
        best,
    };
    let mut out = String::new();
    if a.json {
        out =
            serde_json::to_string_pretty(&report).map_err(|e| CliError::Internal(e.to_string()))?;
        out.push('\n');
    } else {
        let r = &report.sync;
        let _ = writeln!(
            out,
            "{}: face {} (lips in {}/{} frames) vs {}: offset {:+} frames ({:+.0} ms), confidence {:.2} (z vs chance; peak r {:.3}); mouth motion (analysis): offset {:+}, confidence {:.2}",
            report.file,
            report.face,
            report.lips_measured,
            report.frames,
            report.audio,
            r.offset_frames,
            r.offset_ms,
            r.confidence,
            r.peak,
            report.motion.offset_frames,
            report.motion.confidence
        );
        if let Some(f) = report.flicker {
            let _ = writeln!(out, "  mouth flicker {f:.2}");
        }
        let _ = writeln!(out, "  verdict: {}", verdict_text(report.verdict, r));
        if !report.ranking.is_empty() {
            let _ = writeln!(
                out,
                "  rank  confidence  peak r  offset           verdict           audio"
            );
            for (i, c) in report.ranking.iter().enumerate() {
                match (&c.sync, c.verdict) {
                    (Some(s), Some(v)) => {
                        let name = match v {
                            Verdict::InSync => "in sync",
                            Verdict::OutOfSync => "out of sync",
                            Verdict::NoReliableSync => "no reliable sync",
                        };
                        let _ = writeln!(
                            out,
                            "  {:>4}  {:>10.2}  {:>6.3}  {:+3} ({:+5.0} ms)  {name:<16}  {}",
                            i + 1,
                            s.confidence,
                            s.peak,
                            s.offset_frames,
                            s.offset_ms,
                            c.audio
                        );
                    }
                    _ => {
                        let _ = writeln!(
                            out,
                            "  {:>4}  {:>10}  {:>6}  {:16}  {:<16}  {}",
                            i + 1,
                            "-",
                            "-",
                            "-",
                            "no speech",
                            c.audio
                        );
                    }
                }
            }
            if let (Some(first), Some(s)) =
                (report.ranking.first(), report.ranking.first().and_then(|c| c.sync.as_ref()))
            {
                let next =
                    report.ranking.get(1).and_then(|c| c.sync.as_ref()).map(|r| r.confidence);
                let margin = next
                    .map(|n| format!(", {:.2} above the next", s.confidence - n))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "  best match: {} (confidence {:.2}{margin}){}",
                    first.audio,
                    s.confidence,
                    if s.confidence < SYNC_THRESHOLD_Z {
                        "; but below the threshold: no audio reliably matches"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    use std::io::Write as _;
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(())
}
