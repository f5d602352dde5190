//! Offline export of a project through one of the presets.

use crate::dsp::mix::{self, ClipSignal, DuckParams, MixInput};
use crate::dsp::{SAMPLE_RATE, db_to_gain};
use crate::jobs::Job;
use crate::media::encode::{Tags, Writer, WriterConfig, check_preset, check_writable};
use crate::media::{AudioBuffer, MediaError, VideoDecoder, decode_audio, probe};
use crate::model::project::resolve_media_path;
use crate::model::{MediaId, Preset, Project, Time};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Render failures.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A media file of the project is missing.
    #[error("media file missing: {path} (relink it or restore the file)")]
    MissingMedia {
        /// Where the project expected it.
        path: PathBuf,
    },
    /// The project cannot be rendered as asked.
    #[error("{0}")]
    Invalid(String),
    /// From the media layer.
    #[error(transparent)]
    Media(#[from] MediaError),
}

impl RenderError {
    /// Whether the user can fix this.
    pub fn is_user_error(&self) -> bool {
        match self {
            RenderError::Media(m) => m.is_user_error(),
            _ => true,
        }
    }
}

/// What to render.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderOptions {
    /// Format.
    pub preset: Preset,
    /// Target file. For WAV stems, the mix goes here and `_dialogue`/`_background` beside it.
    pub output: PathBuf,
    /// Timeline range; the whole timeline when `None`.
    pub range: Option<(Time, Time)>,
}

/// Progress of a render, reported once per frame (or per second of audio for stems).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RenderProgress {
    /// Frames (or audio seconds) done.
    pub done: i64,
    /// Total.
    pub total: i64,
}

/// What a finished render produced.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderReport {
    /// Files written.
    pub outputs: Vec<PathBuf>,
    /// Video frames written (0 for stems).
    pub frames: i64,
    /// Rendered duration.
    pub duration: Time,
}

/// The three WAV stem paths for a target: mix at `target`, the others beside it.
pub fn stem_paths(target: &Path) -> [PathBuf; 3] {
    let stem = target.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let with = |suffix: &str| target.with_file_name(format!("{stem}_{suffix}.wav"));
    [with("dialogue"), with("background"), target.to_path_buf()]
}

/// Decoded inputs of a render; the editor's playback mixes from the same struct so that what
/// it plays is what export writes.
pub struct Sources {
    /// The shot's path, when video is rendered.
    pub video: Option<PathBuf>,
    /// The original audio, stereo 48 kHz.
    pub original: Option<AudioBuffer>,
    /// Every audible dub clip's media, stereo 48 kHz.
    pub clips: HashMap<MediaId, AudioBuffer>,
}

fn media_path(project: &Project, dir: &Path, id: MediaId) -> Result<PathBuf, RenderError> {
    let m = project.media(id).ok_or_else(|| {
        RenderError::Invalid(format!("project refers to unknown media id {}", id.0))
    })?;
    resolve_media_path(m, dir).ok_or_else(|| RenderError::MissingMedia { path: m.path.clone() })
}

/// Decodes what a render of `project` needs (relative media paths resolve against `dir`).
pub fn load_sources(
    project: &Project,
    dir: &Path,
    need_video: bool,
) -> Result<Sources, RenderError> {
    let video = match project.timeline.video.media {
        Some(id) if need_video => Some(media_path(project, dir, id)?),
        None if need_video => {
            return Err(RenderError::Invalid(
                "the project has no video; use the wav preset".into(),
            ));
        }
        _ => None,
    };
    let original = match project.timeline.original_audio.media {
        Some(id) if !project.timeline.original_audio.mute => {
            let path = media_path(project, dir, id)?;
            if probe(&path)?.audio.is_some() { Some(decode_audio(&path, Some(2))?) } else { None }
        }
        _ => None,
    };
    let mut clips = HashMap::new();
    for track in project.timeline.dub_tracks.iter().filter(|t| project.is_audible(t)) {
        for clip in &track.clips {
            if let std::collections::hash_map::Entry::Vacant(e) = clips.entry(clip.media) {
                e.insert(decode_audio(&media_path(project, dir, clip.media)?, Some(2))?);
            }
        }
    }
    Ok(Sources { video, original, clips })
}

/// Builds the mixer input for a project from decoded sources.
pub fn mix_input<'a>(project: &Project, sources: &'a Sources) -> MixInput<'a> {
    let ms = |v: f32| (v.max(0.0) * SAMPLE_RATE as f32 / 1000.0) as usize;
    let samples = |t: Time| t.to_samples(SAMPLE_RATE).max(0) as usize;
    let mut clips = Vec::new();
    for track in project.timeline.dub_tracks.iter().filter(|t| project.is_audible(t)) {
        for c in &track.clips {
            let Some(buf) = sources.clips.get(&c.media) else { continue };
            let total = buf.frames();
            let from = samples(c.source_in).min(total);
            let to = samples(c.source_out).clamp(from, total);
            clips.push(ClipSignal {
                samples: &buf.samples[from * mix::CHANNELS..to * mix::CHANNELS],
                position: c.position.to_samples(SAMPLE_RATE),
                gain: db_to_gain(c.gain_db + track.gain_db),
                fade_in: samples(c.fade_in),
                fade_out: samples(c.fade_out),
            });
        }
    }
    let d = project.timeline.ducking;
    MixInput {
        original: sources.original.as_ref().map(|b| b.samples.as_slice()),
        original_gain: db_to_gain(project.timeline.original_audio.gain_db),
        clips,
        ducking: DuckParams {
            depth_db: d.depth_db,
            attack: ms(d.attack_ms),
            release: ms(d.release_ms),
        },
    }
}

fn tags(project: &Project) -> Tags {
    Tags {
        title: project.name.clone(),
        comment: format!(
            "Made with Redub {}: dialogue replaced; lip movements may have been edited.",
            crate::VERSION
        ),
    }
}

/// Renders the project (relative media paths resolve against `project_dir`). Progress goes to
/// `job` and `on_progress`; cancelling through `job` leaves no file at the target.
pub fn render_project(
    project: &Project,
    project_dir: &Path,
    opts: &RenderOptions,
    job: &Job,
    mut on_progress: impl FnMut(RenderProgress),
) -> Result<RenderReport, RenderError> {
    let outputs: Vec<PathBuf> = match opts.preset {
        Preset::WavStems => stem_paths(&opts.output).to_vec(),
        _ => vec![opts.output.clone()],
    };
    for o in &outputs {
        check_writable(o)?;
    }
    check_preset(opts.preset)?;
    let tl = &project.timeline;
    let rate = tl.frame_rate;
    let (start, end) = opts.range.unwrap_or((Time::ZERO, tl.duration));
    if end <= start || start < Time::ZERO {
        return Err(RenderError::Invalid(format!("empty or negative range {start}..{end}")));
    }
    let end = end.min(tl.duration.max(start));
    let first = rate.time_to_frame(start);
    let last = rate.time_to_frame(end - Time::from_ticks(1)) + 1;
    let need_video = opts.preset != Preset::WavStems;
    let sources = load_sources(project, project_dir, need_video)?;
    let input = mix_input(project, &sources);
    let tags = tags(project);
    let sample_at = |frame: i64| rate.frame_to_time(frame).to_samples(SAMPLE_RATE);

    if let Some(video_path) = &sources.video {
        let mut decoder = VideoDecoder::open(video_path)?;
        let (w, h) = decoder.size();
        let cfg = WriterConfig {
            preset: opts.preset,
            video: Some((w, h, rate)),
            tags,
            keyframe_interval: None,
        };
        let mut writer = Writer::create(&opts.output, &cfg)?;
        let total = last - first;
        for i in first..last {
            if job.is_cancelled() {
                return Err(MediaError::Cancelled.into());
            }
            let frame = decoder.frame(i)?;
            writer.push_frame(&frame.data)?;
            let (s0, s1) = (sample_at(i), sample_at(i + 1));
            writer.push_audio(&mix::mix_range(&input, s0, (s1 - s0) as usize).mix)?;
            let done = i - first + 1;
            job.set_progress(done as f64 / total as f64);
            on_progress(RenderProgress { done, total });
        }
        let out = writer.finish()?;
        return Ok(RenderReport { outputs: vec![out], frames: total, duration: end - start });
    }

    // WAV stems: three writers fed one second at a time; all or nothing.
    let mut writers = Vec::with_capacity(3);
    for o in &outputs {
        let cfg = WriterConfig {
            preset: Preset::WavStems,
            video: None,
            tags: tags.clone(),
            keyframe_interval: None,
        };
        writers.push(Writer::create(o, &cfg)?);
    }
    let (s_start, s_end) = (sample_at(first), sample_at(last));
    let chunk = i64::from(SAMPLE_RATE);
    let total = (s_end - s_start + chunk - 1) / chunk;
    let mut s = s_start;
    while s < s_end {
        if job.is_cancelled() {
            return Err(MediaError::Cancelled.into());
        }
        let n = (s_end - s).min(chunk);
        let stems = mix::mix_range(&input, s, n as usize);
        for (w, data) in writers.iter_mut().zip([&stems.dialogue, &stems.background, &stems.mix]) {
            w.push_audio(data)?;
        }
        s += n;
        let done = (s - s_start + chunk - 1) / chunk;
        job.set_progress(done as f64 / total as f64);
        on_progress(RenderProgress { done, total });
    }
    let mut written = Vec::new();
    for w in writers {
        written.push(w.finish()?);
    }
    Ok(RenderReport { outputs: written, frames: 0, duration: end - start })
}
