//! Offline export of a project through one of the presets.

use crate::dsp::mix::{self, ClipSignal, DuckParams, MixInput};
use crate::dsp::{SAMPLE_RATE, db_to_gain};
use crate::jobs::Job;
use crate::media::encode::{Tags, Writer, WriterConfig, check_preset, check_writable};
use crate::media::{AudioBuffer, MediaError, VideoDecoder, decode_audio, probe};
use crate::model::project::resolve_media_path;
use crate::model::{ClipId, MediaId, Preset, Project, Time};
use crate::render::gpu::Backend;
use crate::render::lips::{LipRenderer, plan_lips};
use crate::render::warp_cache::WarpCache;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

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
    /// Which compositor drew lip edits ("GPU (…)" or "CPU"); `None` when no frame was edited.
    pub compositor: Option<String>,
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
    /// The original audio, or the M&E stem that replaces it (stereo 48 kHz).
    pub original: Option<AudioBuffer>,
    /// Whether `original` is an M&E stem (never ducked: it has no dialogue).
    pub is_me: bool,
    /// Every audible dub clip's media, stereo 48 kHz.
    pub clips: HashMap<MediaId, AudioBuffer>,
    /// Stretched samples of warped clips.
    pub warped: HashMap<ClipId, Arc<Vec<f32>>>,
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
    let is_me = project.timeline.me_track.is_some();
    let original = match (project.timeline.me_track, project.timeline.original_audio.media) {
        // The M&E stem replaces the original entirely, also when muted.
        (Some(_), _) if project.timeline.me_mute => None,
        (Some(me), _) => Some(decode_audio(&media_path(project, dir, me)?, Some(2))?),
        (None, Some(id)) if !project.timeline.original_audio.mute => {
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
    let warped = warped_clips(project, &clips, &mut WarpCache::new());
    Ok(Sources { video, original, is_me, clips, warped })
}

/// Stretched samples of every audible warped clip of `project` (the cache keeps the ones whose
/// warp and source range did not change: the editor calls this after each edit).
pub fn warped_clips(
    project: &Project,
    clips: &HashMap<MediaId, AudioBuffer>,
    cache: &mut WarpCache,
) -> HashMap<ClipId, Arc<Vec<f32>>> {
    let mut warped = HashMap::new();
    for track in project.timeline.dub_tracks.iter().filter(|t| project.is_audible(t)) {
        for clip in track.clips.iter().filter(|c| c.warp.is_some()) {
            let Some(buf) = clips.get(&clip.media) else { continue };
            if let Some(w) = cache.get(clip, used_range(buf, clip), SAMPLE_RATE) {
                warped.insert(clip.id, w);
            }
        }
    }
    warped
}

/// The part of a decoded source a clip uses (`source_in..source_out`), interleaved stereo.
fn used_range<'a>(buf: &'a AudioBuffer, clip: &crate::model::Clip) -> &'a [f32] {
    let samples = |t: Time| t.to_samples(SAMPLE_RATE).max(0) as usize;
    let total = buf.frames();
    let from = samples(clip.source_in).min(total);
    let to = samples(clip.source_out).clamp(from, total);
    &buf.samples[from * mix::CHANNELS..to * mix::CHANNELS]
}

/// Builds the mixer input for a project from decoded sources.
pub fn mix_input<'a>(project: &Project, sources: &'a Sources) -> MixInput<'a> {
    mix_input_with(project, sources, &sources.warped)
}

/// [`mix_input`] with the stretched samples of warped clips from elsewhere (the editor's,
/// kept up to date with its edits); a clip without a warp always plays its source.
pub fn mix_input_with<'a>(
    project: &Project,
    sources: &'a Sources,
    warped: &'a HashMap<ClipId, Arc<Vec<f32>>>,
) -> MixInput<'a> {
    let ms = |v: f32| (v.max(0.0) * SAMPLE_RATE as f32 / 1000.0) as usize;
    let samples = |t: Time| t.to_samples(SAMPLE_RATE).max(0) as usize;
    let mut clips = Vec::new();
    for track in project.timeline.dub_tracks.iter().filter(|t| project.is_audible(t)) {
        for c in &track.clips {
            let Some(buf) = sources.clips.get(&c.media) else { continue };
            let used = match warped.get(&c.id).filter(|_| c.warp.is_some()) {
                Some(w) => w.as_slice(),
                None => used_range(buf, c),
            };
            let duck = |d: crate::model::Ducking| DuckParams {
                depth_db: d.depth_db,
                attack: ms(d.attack_ms),
                release: ms(d.release_ms),
            };
            clips.push(ClipSignal {
                samples: used,
                position: c.position.to_samples(SAMPLE_RATE),
                gain: db_to_gain(c.gain_db + track.gain_db),
                fade_in: samples(c.fade_in),
                fade_out: samples(c.fade_out),
                // An M&E stem has no dialogue to duck.
                duck: if sources.is_me { None } else { c.ducking.map(duck) },
            });
        }
    }
    let d = project.timeline.ducking;
    MixInput {
        // Muting is checked here too: the editor decodes muted tracks so unmuting is instant.
        original: sources
            .original
            .as_ref()
            .filter(|_| {
                let tl = &project.timeline;
                if sources.is_me { !tl.me_mute } else { !tl.original_audio.mute }
            })
            .map(|b| b.samples.as_slice()),
        // The M&E stem plays at unity: the original track's gain is for the original.
        original_gain: if sources.is_me {
            1.0
        } else {
            db_to_gain(project.timeline.original_audio.gain_db)
        },
        clips,
        ducking: DuckParams {
            depth_db: if sources.is_me { 0.0 } else { d.depth_db },
            attack: ms(d.attack_ms),
            release: ms(d.release_ms),
        },
    }
}

/// The three stems of `start..end` (timeline samples), brought to the project's loudness target
/// when it has one: the mix is normalised (gain, then the limiter where peaks need it); the
/// dialogue and background stems get the same gain so they still add up to the mix before
/// limiting. `None` when the project has no loudness target, so audio streams in chunks.
fn normalised_stems(
    project: &Project,
    preset: Preset,
    input: &MixInput<'_>,
    start: i64,
    end: i64,
) -> Result<Option<mix::Stems>, RenderError> {
    let Some(target) = project.export.loudness else { return Ok(None) };
    let mut stems = mix::mix_range(input, start, (end - start).max(0) as usize);
    // Lossy encoders (AAC, Opus) rebuild peaks with overshoot; after heavy limiting AAC at
    // 192 kb/s was measured up to 1.35 dB over, so lossy presets limit 2 dB lower.
    let margin = match preset {
        Preset::Mp4 | Preset::Webm => 2.0,
        Preset::Mov | Preset::WavStems => 0.0,
    };
    let report = crate::dsp::loudness::normalise(
        &mut stems.mix,
        mix::CHANNELS,
        SAMPLE_RATE,
        target.lufs(),
        crate::model::loudness::TRUE_PEAK_CEILING_DBTP - margin,
    )
    .map_err(|e| RenderError::Invalid(e.to_string()))?;
    let g = 10f32.powf((report.gain_db / 20.0) as f32);
    stems.dialogue.iter_mut().chain(stems.background.iter_mut()).for_each(|v| *v *= g);
    Ok(Some(stems))
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
    // In/out points snap to the nearest frame boundary, as in any editor.
    let half = Time::from_ticks(rate.frame_duration().ticks() / 2);
    let first = rate.time_to_frame(start + half);
    let last = rate.time_to_frame(end + half).max(first + 1);
    let need_video = opts.preset != Preset::WavStems;
    let sources = load_sources(project, project_dir, need_video)?;
    let input = mix_input(project, &sources);
    let tags = tags(project);
    let sample_at = |frame: i64| rate.frame_to_time(frame).to_samples(SAMPLE_RATE);
    let (s_first, s_last) = (sample_at(first), sample_at(last));
    let normalised = normalised_stems(project, opts.preset, &input, s_first, s_last)?;
    let stems_at = |s0: i64, n: usize| -> mix::Stems {
        match &normalised {
            Some(all) => {
                let a = (s0 - s_first).max(0) as usize * mix::CHANNELS;
                let b = (a + n * mix::CHANNELS).min(all.mix.len());
                let a = a.min(b);
                mix::Stems {
                    dialogue: all.dialogue[a..b].to_vec(),
                    background: all.background[a..b].to_vec(),
                    mix: all.mix[a..b].to_vec(),
                }
            }
            None => mix::mix_range(&input, s0, n),
        }
    };

    if let Some(video_path) = &sources.video {
        let mut frames =
            FrameRenderer::open(video_path, lips_for(project, &sources, video_path, job)?)?;
        let (w, h) = frames.size();
        let cfg = WriterConfig {
            preset: opts.preset,
            video: Some((w, h, rate)),
            tags,
            keyframe_interval: None,
        };
        let mut writer = Writer::create(&opts.output, &cfg)?;
        let total = last - first;
        let mut compositor = None;
        for i in first..last {
            if job.is_cancelled() {
                return Err(MediaError::Cancelled.into());
            }
            let (frame, backend) = frames.render(i)?;
            compositor = compositor.or(backend);
            writer.push_frame(&frame)?;
            let (s0, s1) = (sample_at(i), sample_at(i + 1));
            writer.push_audio(&stems_at(s0, (s1 - s0) as usize).mix)?;
            let done = i - first + 1;
            job.set_progress(done as f64 / total as f64);
            on_progress(RenderProgress { done, total });
        }
        let out = writer.finish()?;
        return Ok(RenderReport {
            outputs: vec![out],
            frames: total,
            duration: end - start,
            compositor: compositor.map(|b| b.to_string()),
        });
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
    let (s_start, s_end) = (s_first, s_last);
    let chunk = i64::from(SAMPLE_RATE);
    let total = (s_end - s_start + chunk - 1) / chunk;
    let mut s = s_start;
    while s < s_end {
        if job.is_cancelled() {
            return Err(MediaError::Cancelled.into());
        }
        let n = (s_end - s).min(chunk);
        let stems = stems_at(s, n as usize);
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
    Ok(RenderReport { outputs: written, frames: 0, duration: end - start, compositor: None })
}

/// Plans the lip edits of a project's bound dub tracks from already-loaded sources.
fn lips_for(
    project: &Project,
    sources: &Sources,
    video: &Path,
    job: &Job,
) -> Result<LipRenderer, RenderError> {
    let rate = project.timeline.frame_rate;
    let frames = rate.time_to_frame(project.timeline.duration - Time::from_ticks(1)) + 1;
    let len = rate.frame_to_time(frames).to_samples(SAMPLE_RATE).max(0) as usize;
    let dialogue_of = |p: &Project| mix::mix_range(&mix_input(p, sources), 0, len).dialogue;
    let tracks = plan_lips(project, video, rate, frames, dialogue_of, job)?;
    Ok(LipRenderer::new(tracks))
}

/// Plans a project's lip edits (loading its audio): what the viewer and the export draw.
pub fn plan_project_lips(
    project: &Project,
    project_dir: &Path,
    job: &Job,
) -> Result<LipRenderer, RenderError> {
    let sources = load_sources(project, project_dir, true)?;
    let video = sources
        .video
        .clone()
        .ok_or_else(|| RenderError::Invalid("the project has no video".into()))?;
    lips_for(project, &sources, &video, job)
}

/// The picture path of the render graph: decoded frame → lip edits → output frame. The viewer
/// and the export both use it, so what is previewed is what is written.
pub struct FrameRenderer {
    decoder: VideoDecoder,
    lips: LipRenderer,
}

impl FrameRenderer {
    /// Opens the shot with planned lip edits.
    pub fn open(video: &Path, lips: LipRenderer) -> Result<Self, RenderError> {
        Ok(Self { decoder: VideoDecoder::open(video)?, lips })
    }

    /// Picture size.
    pub fn size(&self) -> (u32, u32) {
        self.decoder.size()
    }

    /// The lip edits.
    pub fn lips(&self) -> &LipRenderer {
        &self.lips
    }

    /// Frames in the shot (as the decoder counts them).
    pub fn frame_count(&self) -> i64 {
        self.decoder.frame_count()
    }

    /// Replaces the lip edits (the viewer swaps in a new plan without reopening the shot).
    pub fn set_lips(&mut self, lips: LipRenderer) {
        self.lips = lips;
    }

    /// The decoded source frame `i`, before any edit (the viewer's "before" and its masks).
    pub fn source(&mut self, i: i64) -> Result<Arc<crate::media::Frame>, RenderError> {
        Ok(self.decoder.frame(i)?)
    }

    /// The output frame `i` (RGBA) and which compositor edited it, if any.
    pub fn render(&mut self, i: i64) -> Result<(Vec<u8>, Option<Backend>), RenderError> {
        let frame = self.decoder.frame(i)?;
        let mut data = frame.data.clone();
        let (w, h) = (frame.width as usize, frame.height as usize);
        let decoder = &mut self.decoder;
        let backend =
            self.lips.apply(i, &mut data, w, h, |j| decoder.frame(j).ok().map(|f| f.data.clone()));
        Ok((data, backend))
    }
}
