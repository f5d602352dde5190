//! Offline export of a project through one of the presets.

use crate::dsp::measure::to_mono;
use crate::dsp::mix::{self, ClipSignal, DuckParams, MixInput};
use crate::dsp::{SAMPLE_RATE, db_to_gain};
use crate::jobs::Job;
use crate::media::encode::{Tags, Writer, WriterConfig, check_preset, check_writable};
use crate::media::{AudioBuffer, MediaError, VideoDecoder, decode_audio};
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
    /// Where the export's own thread spent its time (video exports).
    pub timing: Option<ExportTiming>,
}

/// Where the export's thread spent its time, in seconds (for benchmarks).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExportTiming {
    /// From the start to the first frame: reading sources, opening the shot and the encoder,
    /// and waiting for the lip plan.
    pub start: f64,
    /// Decoding (pulling frames from the decoder, on its own thread when the lip edit runs on
    /// workers; where frames render one by one, their lip edit too).
    pub decode: f64,
    /// Waiting for decoded and lip-edited frames.
    pub wait: f64,
    /// Handing frames and sound to the encoder (blocks while the encoder is behind).
    pub write: f64,
    /// Closing the file (the encoder's last frames, the muxer).
    pub finish: f64,
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

/// The shot's path (an error when the project has none).
fn video_path(project: &Project, dir: &Path) -> Result<PathBuf, RenderError> {
    match project.timeline.video.media {
        Some(id) => media_path(project, dir, id),
        None => Err(RenderError::Invalid("the project has no video; use the wav preset".into())),
    }
}

/// Decodes what a render of `project` needs (relative media paths resolve against `dir`).
pub fn load_sources(
    project: &Project,
    dir: &Path,
    need_video: bool,
) -> Result<Sources, RenderError> {
    let video = if need_video { Some(video_path(project, dir)?) } else { None };
    let is_me = project.timeline.me_track.is_some();
    // What to decode: the original sound (or the M&E stem replacing it) and each audible dub
    // clip's media once; decoded side by side, as many at once as there are cores.
    let original_media = match (project.timeline.me_track, project.timeline.original_audio.media) {
        // The M&E stem replaces the original entirely, also when muted.
        (Some(_), _) if project.timeline.me_mute => None,
        (Some(me), _) => Some(me),
        (None, Some(id)) if !project.timeline.original_audio.mute => Some(id),
        _ => None,
    };
    let mut clip_media: Vec<MediaId> = Vec::new();
    for track in project.timeline.dub_tracks.iter().filter(|t| project.is_audible(t)) {
        for clip in &track.clips {
            if !clip_media.contains(&clip.media) {
                clip_media.push(clip.media);
            }
        }
    }
    let paths: Vec<PathBuf> = original_media
        .iter()
        .chain(&clip_media)
        .map(|&id| media_path(project, dir, id))
        .collect::<Result<_, _>>()?;
    let mut decoded = decode_all(&paths).into_iter();
    // (The first result is the original's only when there is one.)
    let original = match original_media.and_then(|_| decoded.next()) {
        None => None,
        Some(Ok(a)) => Some(a),
        // A shot without sound plays none (an M&E stem without sound is an error).
        Some(Err(MediaError::NoStream { .. })) if !is_me => None,
        Some(Err(e)) => return Err(e.into()),
    };
    let mut clips = HashMap::new();
    for (id, a) in clip_media.into_iter().zip(decoded) {
        clips.insert(id, a?);
    }
    let warped = warped_clips(project, &clips, &mut WarpCache::new());
    Ok(Sources { video, original, is_me, clips, warped })
}

/// Decodes each file's sound (stereo 48 kHz), several at once (one per core), in order.
fn decode_all(paths: &[PathBuf]) -> Vec<Result<AudioBuffer, MediaError>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(paths.len());
    if threads <= 1 {
        return paths.iter().map(|p| decode_audio(p, Some(2))).collect();
    }
    // Each worker takes the next file until none is left; results come back with their index.
    let next = std::sync::atomic::AtomicUsize::new(0);
    type Decoded = (usize, Result<AudioBuffer, MediaError>);
    let joined: Option<Vec<Vec<Decoded>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(p) = paths.get(k) else { return done };
                        done.push((k, decode_audio(p, Some(2))));
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().ok()).collect()
    });
    let Some(joined) = joined else {
        return vec![Err(MediaError::Internal("an audio decoder panicked".into()))];
    };
    let mut out: Vec<_> = joined.into_iter().flatten().collect();
    out.sort_by_key(|(k, _)| *k);
    out.into_iter().map(|(_, r)| r).collect()
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
    let began = std::time::Instant::now();
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
    let tags = tags(project);
    // With video, the sources are decoded and the lip plan (bank, selection) made on a worker
    // while this thread opens the shot and starts the encoder; the first frame waits for both.
    let video = if need_video { Some(video_path(project, project_dir)?) } else { None };
    let (sources, prepared) = match &video {
        None => (load_sources(project, project_dir, false)?, None),
        Some(video_path) => std::thread::scope(|scope| {
            let planner = std::thread::Builder::new()
                .name("export-lip-plan".into())
                .spawn_scoped(scope, || {
                    let sources = load_sources(project, project_dir, true)?;
                    let lips = lips_for(project, project_dir, &sources, video_path, job)?;
                    Ok::<_, RenderError>((sources, lips))
                })
                .map_err(|e| RenderError::Invalid(format!("cannot start the lip planner: {e}")))?;
            let opened = (|| {
                let mut frames =
                    FrameRenderer::open_sequential(video_path, LipRenderer::new(Vec::new()))?;
                let (w, h) = frames.size();
                let cfg = WriterConfig {
                    preset: opts.preset,
                    video: Some((w, h, rate)),
                    tags: tags.clone(),
                    keyframe_interval: None,
                };
                // The writer takes the decoder's own format (I420 with its colorimetry, or RGBA).
                // ProRes in MOV carries no colour description the decoders read, so it gets RGBA
                // converted the way any RGBA source is (as before); H.264 and VP9 signal the
                // stream's own colorimetry.
                let format = match opts.preset {
                    Preset::Mp4 | Preset::Webm => frames.source_native(first)?.format.clone(),
                    _ => crate::media::PixelFormat::Rgba,
                };
                let writer = Writer::create_for(&opts.output, &cfg, &format)?;
                Ok::<_, RenderError>((frames, writer))
            })();
            let (sources, lips) = planner
                .join()
                .map_err(|_| RenderError::Invalid("the lip planner panicked".into()))??;
            let (mut frames, writer) = opened?;
            frames.set_lips(lips);
            Ok::<_, RenderError>((sources, Some((frames, writer))))
        })?,
    };
    let input = mix_input(project, &sources);
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

    if let Some((mut frames, mut writer)) = prepared {
        let writer_rgba = !matches!(opts.preset, Preset::Mp4 | Preset::Webm);
        let total = last - first;
        let mut compositor = None;
        let start_s = began.elapsed().as_secs_f64();
        let mut timing = frames.render_range(first, last, job, |i, frame, backend| {
            compositor = compositor.clone().or(backend);
            let buffer = if writer_rgba && frame.format != crate::media::PixelFormat::Rgba {
                gstreamer::Buffer::from_mut_slice(crate::media::yuv::to_rgba(&frame)?)
            } else {
                crate::media::yuv::frame_buffer(&frame)
            };
            writer.push_frame_buffer(buffer)?;
            let (s0, s1) = (sample_at(i), sample_at(i + 1));
            writer.push_audio(&stems_at(s0, (s1 - s0) as usize).mix)?;
            let done = i - first + 1;
            job.set_progress(done as f64 / total as f64);
            on_progress(RenderProgress { done, total });
            Ok(())
        })?;
        let t0 = std::time::Instant::now();
        let out = writer.finish()?;
        (timing.start, timing.finish) = (start_s, t0.elapsed().as_secs_f64());
        return Ok(RenderReport {
            outputs: vec![out],
            frames: total,
            duration: end - start,
            compositor: compositor.map(|b| b.to_string()),
            timing: Some(timing),
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
    Ok(RenderReport {
        outputs: written,
        frames: 0,
        duration: end - start,
        compositor: None,
        timing: None,
    })
}

/// Plans the lip edits of a project's bound dub tracks from already-loaded sources.
fn lips_for(
    project: &Project,
    project_dir: &Path,
    sources: &Sources,
    video: &Path,
    job: &Job,
) -> Result<LipRenderer, RenderError> {
    let rate = project.timeline.frame_rate;
    let frames = rate.time_to_frame(project.timeline.duration - Time::from_ticks(1)) + 1;
    let len = rate.frame_to_time(frames).to_samples(SAMPLE_RATE).max(0) as usize;
    let dialogue_of = |p: &Project| mix::mix_range(&mix_input(p, sources), 0, len).dialogue;
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
    )?;
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
    lips_for(project, project_dir, &sources, &video, job)
}

/// The picture path of the render graph: decoded frame → lip edits → output frame. The viewer
/// and the export both use it, so what is previewed is what is written.
///
/// Frames stay in the decoder's own format (I420) from decode to encoder: the lip edit converts
/// only the mouth's rectangle to RGBA (in the frame and the neighbours the occlusion test
/// reads), blends there, and writes the change back ([`crate::media::yuv`]). The viewer's RGBA
/// is the display conversion of exactly the I420 picture the encoder receives.
pub struct FrameRenderer {
    decoder: VideoDecoder,
    lips: LipRenderer,
    /// The work pictures of the lip edit.
    editor: Editor,
    /// Lip-edit workers of [`FrameRenderer::render_range`] (`None`: by cores and frame size).
    workers: Option<usize>,
    /// The RGBA conversions of the last source frames (the viewer asks for a frame's source and
    /// its render, which are the same picture when nothing is edited).
    rgba: Vec<Arc<crate::media::Frame>>,
}

/// The lip edit of decoded I420 frames: RGBA work pictures of the last frames converted (the
/// frame and the neighbours its occlusion test reads; full size, only each one's edit region
/// written) and where the edit is blended. Each export worker has its own.
#[derive(Default)]
struct Editor {
    work: [WorkPicture; 3],
    scratch: Vec<u8>,
}

/// A frame's edit region converted to RGBA (see [`Editor::edit`]).
#[derive(Default)]
struct WorkPicture {
    /// The frame it holds, if any.
    index: Option<i64>,
    /// The converted rectangle.
    rect: crate::media::yuv::Rect,
    /// Full-size RGBA; only `rect` is meaningful.
    rgba: Vec<u8>,
}

/// Decoded frames handed to one export worker: a run of consecutive frames and, on each side,
/// the neighbour its occlusion test may read.
struct Chunk {
    /// Sequence number (results are written in this order).
    seq: usize,
    /// The frames to render.
    range: std::ops::Range<i64>,
    /// Those frames and their neighbours, as the decoder answered for each index asked (past
    /// the end it answers with the last frame, as in [`FrameRenderer::render_native`]).
    frames: Vec<(i64, Arc<crate::media::Frame>)>,
}

impl Chunk {
    fn get(&self, j: i64) -> Option<Arc<crate::media::Frame>> {
        self.frames.iter().find(|(i, _)| *i == j).map(|(_, f)| f.clone())
    }
}

/// Frames per [`Chunk`]: long enough that a worker converts most frames once (as the frame,
/// then as its neighbours' neighbour), short enough to keep every worker busy.
const CHUNK_FRAMES: i64 = 8;

/// Export workers for `w`×`h` frames: half the cores (the encoder takes the rest), at most 8,
/// and no more than 512 MB of work pictures (four full-size RGBA pictures each).
fn export_workers(w: u32, h: u32) -> usize {
    if let Some(n) =
        std::env::var("REDUB_EXPORT_WORKERS").ok().and_then(|v| v.parse::<usize>().ok())
    {
        return n.clamp(1, 64);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_worker = 16 * w as usize * h as usize;
    (cores / 2).clamp(1, 8).min((512 << 20) / per_worker.max(1)).max(1)
}

type Edited = (Arc<crate::media::Frame>, Option<Backend>);

/// The lip edit of decoded frame `frame` (asked for as frame `i`) when it is I420 and edited
/// there; `get(j)` gives the decoded neighbours. Otherwise the frame as it is (RGBA frames are
/// edited by [`FrameRenderer::render_native`] itself).
fn edit_decoded(
    lips: &LipRenderer,
    editor: &mut Editor,
    i: i64,
    frame: Arc<crate::media::Frame>,
    get: impl FnMut(i64) -> Option<Arc<crate::media::Frame>>,
) -> Result<Edited, RenderError> {
    match &frame.format {
        crate::media::PixelFormat::I420(caps) if lips.draws(i) => {
            let caps = caps.clone();
            editor.edit(lips, frame, &caps, get)
        }
        _ => Ok((frame, None)),
    }
}

impl Editor {
    /// Forgets the converted pictures (their regions come from the plan).
    fn reset(&mut self) {
        self.work.iter_mut().for_each(|w| w.index = None);
    }

    /// The slot of `work` that holds frame `j` with its edit region converted (see
    /// [`LipRenderer::region`]), converting it first unless it is there from an earlier frame
    /// (sequential rendering converts each frame once and reuses it as the next frame's
    /// neighbour). `None` when `j` is not given or has no region.
    fn converted(
        &mut self,
        lips: &LipRenderer,
        j: i64,
        frame: Option<Arc<crate::media::Frame>>,
    ) -> Result<Option<usize>, RenderError> {
        if j < 0 {
            return Ok(None);
        }
        if let Some(k) = self.work.iter().position(|w| w.index == Some(j)) {
            return Ok(Some(k));
        }
        let Some(frame) = frame.filter(|f| f.index == j) else { return Ok(None) };
        let (w, h) = (frame.width as usize, frame.height as usize);
        let Some(rect) = lips.region(j, w, h) else { return Ok(None) };
        // Reuse the slot of the frame furthest from `j`.
        let k = (0..self.work.len())
            .max_by_key(|&k| self.work[k].index.map_or(i64::MAX, |x| (x - j).abs()))
            .unwrap_or(0);
        let slot = &mut self.work[k];
        if slot.rgba.len() != w * h * 4 {
            slot.rgba = vec![0; w * h * 4];
        }
        slot.index = None;
        crate::media::yuv::roi_to_rgba(&frame, rect, &mut slot.rgba)?;
        (slot.index, slot.rect) = (Some(j), rect);
        Ok(Some(k))
    }

    /// The lip edit of I420 frame `frame` (index `i`, colorimetry `caps`); `get(j)` gives the
    /// decoded frame `j` for the neighbours. An unedited frame is returned as it is.
    fn edit(
        &mut self,
        lips: &LipRenderer,
        frame: Arc<crate::media::Frame>,
        caps: &str,
        mut get: impl FnMut(i64) -> Option<Arc<crate::media::Frame>>,
    ) -> Result<Edited, RenderError> {
        let i = frame.index;
        let Some(cur) = self.converted(lips, i, Some(frame.clone()))? else {
            return Ok((frame, None));
        };
        // The neighbours for the temporal occlusion test (decoded once: the frame cache keeps
        // them; converted once: the work slots keep them).
        let (prev, next) = if lips.needs_neighbours(i) {
            (self.converted(lips, i - 1, get(i - 1))?, self.converted(lips, i + 1, get(i + 1))?)
        } else {
            (None, None)
        };
        let (w, h) = (frame.width as usize, frame.height as usize);
        let rect = self.work[cur].rect;
        let src = &self.work[cur].rgba;
        let slice = |k: Option<usize>| k.map(|k| self.work[k].rgba.as_slice());
        let layers = lips.layers_with(i, src, w, h, [slice(prev), slice(next)]);
        // Only the part the layers can change is copied, blended and written back.
        let Some(fp) = LipRenderer::footprint(&layers, w, h).and_then(|f| f.intersect(rect)) else {
            return Ok((frame, None));
        };
        // The edit blends into a copy of the current frame's work picture: the slot itself
        // stays the source (it is the next frame's neighbour).
        let mut edit = std::mem::take(&mut self.scratch);
        if edit.len() != w * h * 4 {
            edit = vec![0; w * h * 4];
        }
        for y in fp.y0..fp.y1 {
            let r = (y * w + fp.x0) * 4..(y * w + fp.x1) * 4;
            edit[r.clone()].copy_from_slice(&src[r]);
        }
        let backend = lips.blend(layers, &mut edit, w, h);
        let mut out = Ok((frame.clone(), None));
        if backend.is_some() {
            let mut data = crate::media::video::pool::copy_of(&frame.data);
            let changed = crate::media::yuv::apply_rgba_edit(&mut data, caps, w, h, fp, src, &edit);
            out = Ok(if changed {
                (Arc::new(with_data(&frame, data)), backend)
            } else {
                (frame, backend)
            });
        }
        self.scratch = edit;
        out
    }
}

/// Decoded pictures a front-to-back render keeps in its decoder's cache (a few frames).
const SEQUENTIAL_CACHE_BYTES: usize = 16 << 20;

/// RGBA source pictures kept by a [`FrameRenderer`].
const RGBA_KEPT: usize = 4;

impl FrameRenderer {
    /// Opens the shot with planned lip edits.
    pub fn open(video: &Path, lips: LipRenderer) -> Result<Self, RenderError> {
        let decoder = VideoDecoder::open_i420(video, crate::media::video::DEFAULT_CACHE_BYTES)?;
        Ok(Self::with_decoder(decoder, lips))
    }

    /// [`FrameRenderer::open`] for rendering front to back (export): the decoder does not
    /// count the frames first (see [`VideoDecoder::open_i420_sequential`]).
    pub fn open_sequential(video: &Path, lips: LipRenderer) -> Result<Self, RenderError> {
        // Frames travel to the workers and the encoder with their chunk; the decoder keeps only
        // a few (so dropped pictures go back to the buffer pool instead of piling up).
        let decoder = VideoDecoder::open_i420_sequential(video, SEQUENTIAL_CACHE_BYTES)?;
        Ok(Self::with_decoder(decoder, lips))
    }

    fn with_decoder(decoder: VideoDecoder, lips: LipRenderer) -> Self {
        Self { decoder, lips, editor: Editor::default(), workers: None, rgba: Vec::new() }
    }

    /// Sets the number of lip-edit workers [`FrameRenderer::render_range`] uses (at least 1);
    /// by default half the cores, at most 8, fewer for very large frames.
    pub fn set_workers(&mut self, n: usize) {
        self.workers = Some(n.max(1));
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
        self.editor.reset();
    }

    /// The decoded source frame `i` in the decoder's own format, before any edit.
    pub fn source_native(&mut self, i: i64) -> Result<Arc<crate::media::Frame>, RenderError> {
        Ok(self.decoder.frame(i)?)
    }

    /// The decoded source frame `i` as RGBA, before any edit (the viewer's "before" and its
    /// masks).
    pub fn source(&mut self, i: i64) -> Result<Arc<crate::media::Frame>, RenderError> {
        let yuv = self.decoder.frame(i)?;
        if yuv.format == crate::media::PixelFormat::Rgba {
            return Ok(yuv);
        }
        if let Some(f) = self.rgba.iter().find(|f| f.index == yuv.index) {
            return Ok(f.clone());
        }
        let f = Arc::new(rgba_frame(&yuv, crate::media::yuv::to_rgba(&yuv)?));
        if self.rgba.len() >= RGBA_KEPT {
            self.rgba.remove(0);
        }
        self.rgba.push(f.clone());
        Ok(f)
    }

    /// [`FrameRenderer::render_native`] of a stream decoded to RGBA: the edit blends into a
    /// copy of the frame.
    fn render_rgba_frame(
        &mut self,
        i: i64,
        frame: Arc<crate::media::Frame>,
    ) -> Result<(Arc<crate::media::Frame>, Option<Backend>), RenderError> {
        let mut get = |j: i64| self.decoder.frame(j).ok().filter(|f| f.index == j);
        let [prev, next] =
            if self.lips.needs_neighbours(i) { [get(i - 1), get(i + 1)] } else { [None, None] };
        let (w, h) = (frame.width as usize, frame.height as usize);
        let mut data = crate::media::video::pool::copy_of(&frame.data);
        let neighbours =
            [prev.as_ref().map(|f| f.data.as_slice()), next.as_ref().map(|f| f.data.as_slice())];
        let Some(backend) = self.lips.apply_with(i, &mut data, w, h, neighbours) else {
            return Ok((frame, None));
        };
        Ok((Arc::new(with_data(&frame, data)), Some(backend)))
    }

    /// The output frame `i` in the decoder's own format (I420 for most streams, else RGBA: see
    /// [`VideoDecoder::open_i420`]), which the encoder takes, and which compositor edited it,
    /// if any. An unedited frame is the decoded frame itself (shared, not copied).
    pub fn render_native(
        &mut self,
        i: i64,
    ) -> Result<(Arc<crate::media::Frame>, Option<Backend>), RenderError> {
        let frame = self.decoder.frame(i)?;
        if frame.format == crate::media::PixelFormat::Rgba && self.lips.draws(i) {
            return self.render_rgba_frame(i, frame);
        }
        let decoder = &mut self.decoder;
        edit_decoded(&self.lips, &mut self.editor, i, frame, |j| decoder.frame(j).ok())
    }

    /// Renders frames `first..last` in order into `sink` (the export): the same pictures as
    /// [`FrameRenderer::render_native`], but the lip edit of I420 frames runs on worker threads
    /// (runs of [`CHUNK_FRAMES`] consecutive frames each) fed by a decoder thread, while this
    /// thread writes.
    /// RGBA streams render here, one frame after another.
    pub fn render_range(
        &mut self,
        first: i64,
        last: i64,
        job: &Job,
        mut sink: impl FnMut(i64, Arc<crate::media::Frame>, Option<Backend>) -> Result<(), RenderError>,
    ) -> Result<ExportTiming, RenderError> {
        let mut timing = ExportTiming::default();
        let clock = std::time::Instant::now;
        let (w, h) = self.size();
        let i420 = first < last
            && matches!(self.decoder.frame(first)?.format, crate::media::PixelFormat::I420(_));
        if !i420 || self.lips.is_empty() {
            for i in first..last {
                if job.is_cancelled() {
                    return Err(MediaError::Cancelled.into());
                }
                let t0 = clock();
                let (f, b) = self.render_native(i)?;
                let t1 = clock();
                sink(i, f, b)?;
                timing.decode += (t1 - t0).as_secs_f64();
                timing.write += t1.elapsed().as_secs_f64();
            }
            return Ok(timing);
        }
        let workers = self.workers.unwrap_or_else(|| export_workers(w, h));
        let lips = &self.lips;
        let decoder = &mut self.decoder;
        std::thread::scope(|scope| {
            let (chunk_tx, chunk_rx) = std::sync::mpsc::sync_channel::<Chunk>(workers);
            let chunk_rx = Arc::new(std::sync::Mutex::new(chunk_rx));
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            for k in 0..workers {
                let (chunk_rx, done_tx) = (Arc::clone(&chunk_rx), done_tx.clone());
                std::thread::Builder::new()
                    .name(format!("export-lips-{k}"))
                    .spawn_scoped(scope, move || {
                        let mut editor = Editor::default();
                        loop {
                            let next = match chunk_rx.lock() {
                                Ok(rx) => rx.recv(),
                                Err(_) => return,
                            };
                            let Ok(chunk) = next else { return };
                            let out: Result<Vec<Edited>, RenderError> = chunk
                                .range
                                .clone()
                                .map(|i| {
                                    let frame = chunk.get(i).ok_or_else(|| {
                                        RenderError::Invalid(format!("frame {i} was not decoded"))
                                    })?;
                                    edit_decoded(lips, &mut editor, i, frame, |j| chunk.get(j))
                                })
                                .collect();
                            if done_tx.send((chunk.seq, chunk.range.start, out)).is_err() {
                                return;
                            }
                        }
                    })
                    .map_err(|e| {
                        RenderError::Invalid(format!("cannot start an export worker: {e}"))
                    })?;
            }
            // The decoder runs on a thread of its own, one chunk ahead per token: the window of
            // chunks in flight is the tokens handed out (2 per worker), and this thread gives one
            // back for every chunk it writes.
            let (token_tx, token_rx) = std::sync::mpsc::channel::<()>();
            let decoding = {
                let done_tx = done_tx.clone();
                std::thread::Builder::new()
                    .name("export-decode".into())
                    .spawn_scoped(scope, move || {
                        let mut busy = 0.0;
                        let mut before = if first > 0 {
                            decoder.frame(first - 1).ok().map(|f| (first - 1, f))
                        } else {
                            None
                        };
                        let (mut start, mut seq) = (first, 0usize);
                        while start < last && token_rx.recv().is_ok() {
                            let end = (start + CHUNK_FRAMES).min(last);
                            let mut frames: Vec<_> = before.take().into_iter().collect();
                            let t0 = clock();
                            let decoded = (start..end).try_for_each(|i| {
                                frames.push((i, decoder.frame(i)?));
                                Ok::<_, MediaError>(())
                            });
                            if let Err(e) = decoded {
                                let _ = done_tx.send((seq, start, Err(e.into())));
                                break;
                            }
                            if let Ok(after) = decoder.frame(end) {
                                frames.push((end, after));
                            }
                            busy += t0.elapsed().as_secs_f64();
                            before = frames.iter().find(|(i, _)| *i == end - 1).cloned();
                            if chunk_tx.send(Chunk { seq, range: start..end, frames }).is_err() {
                                break;
                            }
                            (seq, start) = (seq + 1, end);
                        }
                        busy
                    })
                    .map_err(|e| RenderError::Invalid(format!("cannot start the decoder: {e}")))?
            };
            drop(done_tx);
            for _ in 0..2 * workers {
                let _ = token_tx.send(());
            }
            let chunks =
                usize::try_from((last - first + CHUNK_FRAMES - 1) / CHUNK_FRAMES).unwrap_or(0);
            let mut waiting = std::collections::BTreeMap::new();
            let mut written = 0usize;
            while written < chunks {
                if job.is_cancelled() {
                    return Err(MediaError::Cancelled.into());
                }
                let t0 = clock();
                let (seq, at, out) = done_rx
                    .recv()
                    .map_err(|_| RenderError::Invalid("the export workers stopped".into()))?;
                timing.wait += t0.elapsed().as_secs_f64();
                waiting.insert(seq, (at, out));
                let t0 = clock();
                while let Some((at, out)) = waiting.remove(&written) {
                    let out: Result<Vec<Edited>, RenderError> = out;
                    for (k, (f, b)) in out?.into_iter().enumerate() {
                        sink(at + k as i64, f, b)?;
                    }
                    written += 1;
                    let _ = token_tx.send(());
                }
                timing.write += t0.elapsed().as_secs_f64();
            }
            drop(token_tx);
            timing.decode = decoding
                .join()
                .map_err(|_| RenderError::Invalid("the decoder thread panicked".into()))?;
            Ok(timing)
        })
    }

    /// The output frame `i` (RGBA: the display conversion of [`FrameRenderer::render_native`])
    /// and which compositor edited it, if any.
    pub fn render(&mut self, i: i64) -> Result<(Vec<u8>, Option<Backend>), RenderError> {
        let (frame, backend) = self.render_native(i)?;
        if frame.format == crate::media::PixelFormat::Rgba {
            return Ok((frame.data.clone(), backend));
        }
        // Unedited: the source picture itself, converted once for both.
        if Arc::ptr_eq(&frame, &self.decoder.frame(i)?) {
            return Ok((self.source(i)?.data.clone(), backend));
        }
        Ok((crate::media::yuv::to_rgba(&frame)?, backend))
    }
}

/// An RGBA frame with the index and times of `of`.
fn rgba_frame(of: &crate::media::Frame, data: Vec<u8>) -> crate::media::Frame {
    let mut f = with_data(of, data);
    f.format = crate::media::PixelFormat::Rgba;
    f
}

/// `frame` with other picture data (an edited copy).
fn with_data(frame: &crate::media::Frame, data: Vec<u8>) -> crate::media::Frame {
    crate::media::Frame {
        index: frame.index,
        pts: frame.pts,
        width: frame.width,
        height: frame.height,
        data,
        format: frame.format.clone(),
    }
}
