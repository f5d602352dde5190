//! Render-farm pieces: frames `[first, last)` of the picture alone, or the whole sound alone,
//! each written atomically with reproducible bytes (see [`crate::media::stable`]) and a sidecar
//! JSON ([`PieceInfo`]) naming the project key, the plan and the range, which concat checks.
//!
//! A piece starts a fresh encoder, so its first frame is a key frame; the encoder settings are
//! the preset's, with a fixed thread count, the same for every piece; the lip edits come from the
//! stored plan; frame `first − 1` is decoded for the occlusion test's neighbour exactly as in a
//! single export, so the pictures are the single export's.

use super::super::RenderError;
use super::super::graph::FrameRenderer;
use super::super::lips::LipRenderer;
use super::super::sources::{load_sources_streamed, mix_input, video_path};
use super::super::stream::{StemStream, loudness_level};
use super::super::{RenderProgress, RenderReport};
use super::plan_file::{StoredPlan, write_atomic};
use crate::dsp::SAMPLE_RATE;
use crate::jobs::Job;
use crate::media::MediaError;
use crate::media::encode::{Tags, Writer, WriterConfig, WriterMode, check_preset};
use crate::model::{Preset, Project, Time};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a piece holds, written beside it as `PIECE.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PieceInfo {
    /// `video` (frames of the picture) or `audio` (the whole sound).
    pub kind: String,
    /// The project key (see [`super::plan_file::project_key`]) of the plan it was rendered from.
    pub key: String,
    /// Project title.
    pub title: String,
    /// Preset name (mp4, webm, mov).
    pub preset: String,
    /// First frame.
    pub first: i64,
    /// One past the last frame.
    pub last: i64,
    /// Frames of the whole timeline.
    pub frames: i64,
    /// Size of the piece file in bytes.
    pub bytes: u64,
    /// SHA-256 of the piece file (hex).
    pub sha256: String,
    /// The Redub that wrote it.
    pub redub: String,
}

/// The sidecar of a piece: `PIECE.json` beside it.
pub fn info_path(piece: &Path) -> PathBuf {
    let mut name = piece.file_name().unwrap_or_default().to_os_string();
    name.push(".json");
    piece.with_file_name(name)
}

/// SHA-256 of a file (hex).
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h)?;
    Ok(crate::model::hash::hex(&h.finalize()))
}

/// Reads a piece's sidecar and checks that it describes the file as it is.
pub fn read_info(piece: &Path) -> Result<PieceInfo, RenderError> {
    let side = info_path(piece);
    let bad = |what: String| RenderError::Invalid(format!("{}: {what}", piece.display()));
    let text = std::fs::read_to_string(&side).map_err(|e| {
        bad(format!(
            "no piece description {} ({e}): render it with `redub render --piece`",
            side.display()
        ))
    })?;
    let info: PieceInfo =
        serde_json::from_str(&text).map_err(|e| bad(format!("{}: {e}", side.display())))?;
    let sha = file_sha256(piece).map_err(|e| bad(e.to_string()))?;
    if sha != info.sha256 {
        return Err(bad(format!(
            "the file is not the one {} describes (changed or half-copied since it was \
             rendered); render the piece again",
            side.display()
        )));
    }
    Ok(info)
}

fn write_info(piece: &Path, info: &PieceInfo) -> Result<(), RenderError> {
    let text = serde_json::to_vec_pretty(info)
        .map_err(|e| RenderError::Invalid(format!("{}: {e}", piece.display())))?;
    write_atomic(&info_path(piece), &text)
}

fn farm_tags(project: &Project, key: &str, what: &str) -> Tags {
    Tags {
        title: project.name.clone(),
        comment: format!(
            "Made with Redub {}: dialogue replaced; lip movements may have been edited. \
             Render-farm {what} of plan {key}.",
            crate::VERSION
        ),
    }
}

fn preset_name(preset: Preset) -> &'static str {
    match preset {
        Preset::Mp4 => "mp4",
        Preset::Webm => "webm",
        Preset::Mov => "mov",
        Preset::WavStems => "wav",
    }
}

/// Checks that a preset can be rendered in pieces (video presets only).
pub fn check_farm_preset(preset: Preset) -> Result<(), RenderError> {
    if preset == Preset::WavStems {
        return Err(RenderError::Invalid(
            "render-farm pieces are video (mp4, webm or mov); render WAV stems in one go".into(),
        ));
    }
    Ok(check_preset(preset)?)
}

/// Renders frames `first..last` of the picture of `project` with the lip edits of `plan` into
/// `output` (and its sidecar).
#[allow(clippy::too_many_arguments)]
pub fn render_piece(
    project: &Project,
    project_dir: &Path,
    plan: StoredPlan,
    preset: Preset,
    output: &Path,
    (first, last): (i64, i64),
    job: &Job,
    mut on_progress: impl FnMut(RenderProgress),
) -> Result<RenderReport, RenderError> {
    check_farm_preset(preset)?;
    if first < 0 || last <= first || last > plan.frames {
        return Err(RenderError::Invalid(format!(
            "frames {first}..{last}: a piece is a range inside the timeline's 0..{} frames",
            plan.frames
        )));
    }
    let tl = &project.timeline;
    let rate = tl.frame_rate;
    let picture_frames = if tl.picture_end() > Time::ZERO {
        rate.time_to_frame(tl.picture_end() - Time::from_ticks(1)) + 1
    } else {
        0
    };
    let black_past = project.export.past_picture == crate::model::PastPicture::Black;
    let video = video_path(project, project_dir)?;
    let mut frames = FrameRenderer::open_sequential(&video, LipRenderer::new(Vec::new()))?;
    frames.set_lips(plan.lips);
    let (w, h) = frames.size();
    let cfg = WriterConfig {
        preset,
        video: Some((w, h, rate)),
        tags: farm_tags(project, &plan.key, &format!("piece {first}..{last}")),
        keyframe_interval: None,
    };
    // The same input format as the single export (see `render_project`).
    let format = match preset {
        Preset::Mp4 | Preset::Webm => frames.source_native(first)?.format.clone(),
        _ => crate::media::PixelFormat::Rgba,
    };
    let mode = WriterMode { picture_only: true, stable: true };
    let mut writer = Writer::create_with(output, &cfg, &format, mode)?;
    let writer_rgba = !matches!(preset, Preset::Mp4 | Preset::Webm);
    let total = last - first;
    let mut compositor = None;
    let timing = frames.render_range(first, last, job, |i, frame, backend| {
        compositor = compositor.clone().or(backend);
        let black = black_past && i >= picture_frames;
        writer.push_frame_buffer(super::super::export::writer_buffer(
            &frame,
            black,
            writer_rgba,
        )?)?;
        let done = i - first + 1;
        job.set_progress(done as f64 / total as f64);
        on_progress(RenderProgress { done, total, planning: None });
        Ok(())
    })?;
    let out = writer.finish()?;
    write_sidecar(&out, "video", &plan.key, project, preset, (first, last, plan.frames))?;
    Ok(RenderReport {
        outputs: vec![out],
        frames: total,
        duration: rate.frame_to_time(last) - rate.frame_to_time(first),
        compositor: compositor.map(|b| b.to_string()),
        timing: Some(timing),
    })
}

/// Writes the sidecar of a finished piece `out` of `kind` ("video" or "audio"): the plan's
/// `key`, the project's title, the preset, its frames `first..last` of `frames`, and the
/// file's size and sha256.
fn write_sidecar(
    out: &Path,
    kind: &str,
    key: &str,
    project: &Project,
    preset: Preset,
    (first, last, frames): (i64, i64, i64),
) -> Result<(), RenderError> {
    let info = PieceInfo {
        kind: kind.into(),
        key: key.to_string(),
        title: project.name.clone(),
        preset: preset_name(preset).into(),
        first,
        last,
        frames,
        bytes: std::fs::metadata(out).map(|m| m.len()).unwrap_or(0),
        sha256: file_sha256(out).map_err(|e| RenderError::Invalid(e.to_string()))?,
        redub: crate::VERSION.into(),
    };
    write_info(out, &info)
}

/// Renders the whole sound of `project` (the mix, loudness-normalised as the export does) in
/// the preset's sound codec and container (MP4: AAC in `.m4a`; WebM: Opus; MOV: PCM) into
/// `output` (and its sidecar): fed to the encoder in the export's own per-frame chunks, so its
/// samples are the single export's.
pub fn render_audio(
    project: &Project,
    project_dir: &Path,
    key: &str,
    preset: Preset,
    output: &Path,
    job: &Job,
    mut on_progress: impl FnMut(RenderProgress),
) -> Result<RenderReport, RenderError> {
    check_farm_preset(preset)?;
    let rate = project.timeline.frame_rate;
    let last = super::plan_file::timeline_frames(project);
    let sources = load_sources_streamed(project, project_dir, false)?;
    let input = mix_input(project, &sources);
    let sample_at = |frame: i64| rate.frame_to_time(frame).to_samples(SAMPLE_RATE);
    let (s_first, s_last) = (sample_at(0), sample_at(last));
    let level = loudness_level(project, preset, &input, &sources, s_first, s_last, job)?;
    let file = sources.original_file.as_deref();
    let mut audio = StemStream::new(&input, file, s_first, s_last, level)?;
    let cfg = WriterConfig {
        preset,
        video: None,
        tags: farm_tags(project, key, "sound"),
        keyframe_interval: None,
    };
    let mode = WriterMode { picture_only: false, stable: true };
    let mut writer = Writer::create_with(output, &cfg, &crate::media::PixelFormat::Rgba, mode)?;
    for i in 0..last {
        if job.is_cancelled() {
            return Err(MediaError::Cancelled.into());
        }
        let (s0, s1) = (sample_at(i), sample_at(i + 1));
        writer.push_audio(&audio.next((s1 - s0) as usize)?.mix)?;
        job.set_progress((i + 1) as f64 / last as f64);
        on_progress(RenderProgress { done: i + 1, total: last, planning: None });
    }
    let out = writer.finish()?;
    write_sidecar(&out, "audio", key, project, preset, (0, last, last))?;
    Ok(RenderReport {
        outputs: vec![out],
        frames: 0,
        duration: rate.frame_to_time(last),
        compositor: None,
        timing: None,
    })
}
