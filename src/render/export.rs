//! Offline export of a project through one of the presets: the writer side. Frames come from
//! the render graph ([`super::graph::FrameRenderer`]), sound from the mix of the
//! [`super::sources`]; WAV stems are written one second at a time.

use super::RenderError;
use super::graph::{ExportTiming, FrameRenderer};
use super::lips::{LipRenderer, lips_for};
use super::sources::{load_sources_streamed, mix_input, video_path};
use super::stream::{StemStream, loudness_level};
use crate::dsp::SAMPLE_RATE;
use crate::jobs::Job;
use crate::media::MediaError;
use crate::media::encode::{Tags, Writer, WriterConfig, check_preset, check_writable};
use crate::model::{Preset, Project, Time};
use std::path::{Path, PathBuf};

/// What to render.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderOptions {
    /// Format.
    pub preset: Preset,
    /// Target file. For WAV stems, the mix goes here and `_dialogue`/`_background` beside it.
    pub output: PathBuf,
    /// Timeline range; the whole timeline when `None`.
    pub range: Option<(Time, Time)>,
    /// The user allowed lip edits of faces without recorded consent (the CLI's
    /// `--allow-unconsented`, the export dialog's confirmation): written into the file's
    /// comment tag with each edited face's consent (see [`crate::model::consent`]). The refusal
    /// itself is the caller's (the CLI and the editor ask before they render).
    pub allow_unconsented: bool,
    /// The burned-in "Lips edited" label (video presets), when asked for.
    pub disclosure: Option<crate::model::disclosure::Disclosure>,
}

impl RenderOptions {
    /// The whole timeline (or `range`) as `preset` into `output`: no label, nothing allowed
    /// beyond.
    pub fn new(preset: Preset, output: PathBuf, range: Option<(Time, Time)>) -> Self {
        Self { preset, output, range, allow_unconsented: false, disclosure: None }
    }
}

/// A rendered frame as the writer takes it: black instead where the timeline runs past the
/// picture and the export asks for black (`black`), converted to RGBA where the writer takes RGBA
/// (`rgba`: the MOV/ProRes preset) and the frame is not, else the frame's own buffer.
pub(crate) fn writer_buffer(
    frame: &std::sync::Arc<crate::media::Frame>,
    black: bool,
    rgba: bool,
) -> Result<gstreamer::Buffer, RenderError> {
    let blacked;
    let frame = if black {
        blacked = std::sync::Arc::new(frame.black_like());
        &blacked
    } else {
        frame
    };
    Ok(if rgba && frame.format != crate::media::PixelFormat::Rgba {
        gstreamer::Buffer::from_mut_slice(crate::media::yuv::to_rgba(frame)?)
    } else {
        crate::media::yuv::frame_buffer(frame)
    })
}

/// Progress of a render, reported once per frame (or per second of audio for stems).
#[derive(Clone, Debug, PartialEq)]
pub struct RenderProgress {
    /// Frames (or audio seconds) done.
    pub done: i64,
    /// Total.
    pub total: i64,
    /// While the export waits for the lip plan (at the first frame it edits): the plan's stage
    /// and how far that stage is (0..1). `None` while frames are written.
    pub planning: Option<(String, f64)>,
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

/// The three WAV stem paths for a target: mix at `target`, the others beside it.
pub fn stem_paths(target: &Path) -> [PathBuf; 3] {
    let stem = target.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let with = |suffix: &str| target.with_file_name(format!("{stem}_{suffix}.wav"));
    [with("dialogue"), with("background"), target.to_path_buf()]
}

fn tags(project: &Project, opts: &RenderOptions) -> Tags {
    let mut comment = format!(
        "Made with Redub {}: dialogue replaced; lip movements may have been edited.",
        crate::VERSION
    );
    if opts.preset != Preset::WavStems {
        let consent = crate::model::consent::ConsentSummary::of(project, opts.allow_unconsented);
        let text = consent.tag_text();
        if !text.is_empty() {
            comment = format!("{comment} {text}");
        }
    }
    Tags { title: project.name.clone(), comment }
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
    // The sequence ends at its last clip (a dub may run past the picture).
    let sequence_end = tl.sequence_end();
    let (start, end) = opts.range.unwrap_or((Time::ZERO, sequence_end));
    if end <= start || start < Time::ZERO {
        return Err(RenderError::Invalid(format!("empty or negative range {start}..{end}")));
    }
    let end = end.min(sequence_end.max(start));
    // Frames from here on are past the picture: its last frame held (the decoder's own
    // behaviour past the end of the stream), or black.
    let picture_frames = if tl.picture_end() > Time::ZERO {
        rate.time_to_frame(tl.picture_end() - Time::from_ticks(1)) + 1
    } else {
        0
    };
    let black_past = project.export.past_picture == crate::model::PastPicture::Black;
    // In/out points snap to the nearest frame boundary, as in any editor.
    let half = Time::from_ticks(rate.frame_duration().ticks() / 2);
    let first = rate.time_to_frame(start + half);
    let last = rate.time_to_frame(end + half).max(first + 1);
    let need_video = opts.preset != Preset::WavStems;
    let tags = tags(project, opts);
    let video = if need_video { Some(video_path(project, project_dir)?) } else { None };
    let sources = load_sources_streamed(project, project_dir, need_video)?;
    let input = mix_input(project, &sources);
    let sample_at = |frame: i64| rate.frame_to_time(frame).to_samples(SAMPLE_RATE);
    let (s_first, s_last) = (sample_at(first), sample_at(last));

    if let Some(video_path) = &video {
        // The lip plan (bank, lip shapes, selection) is made on a worker while this thread opens
        // the shot and the encoder and writes the frames before the first one the plan can edit
        // (see `first_edited_frame`): the export waits for the plan only there.
        let edited_from = crate::lipsync::plan::first_edited_frame(project, rate);
        let plan_job = Job::new();
        let plan_failed = std::sync::atomic::AtomicBool::new(false);
        // Called from the frame writer and while waiting for the plan.
        let on_progress = std::cell::RefCell::new(on_progress);
        return std::thread::scope(|scope| {
            let planner = match edited_from {
                Some(_) => Some(
                    std::thread::Builder::new()
                        .name("export-lip-plan".into())
                        .spawn_scoped(scope, || {
                            let r = lips_for(
                                project,
                                project_dir,
                                &sources,
                                video_path,
                                &plan_job,
                                None,
                            );
                            if r.is_err() {
                                plan_failed.store(true, std::sync::atomic::Ordering::Relaxed);
                            }
                            r
                        })
                        .map_err(|e| {
                            RenderError::Invalid(format!("cannot start the lip planner: {e}"))
                        })?,
                ),
                None => None,
            };
            // Whatever ends the export early also stops the planner (the scope waits for it).
            struct StopPlan<'a>(&'a Job);
            impl Drop for StopPlan<'_> {
                fn drop(&mut self) {
                    self.0.cancel();
                }
            }
            let _stop = StopPlan(&plan_job);
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
            let mut writer = Writer::create_for(&opts.output, &cfg, &format)?;
            // The sound streams: mixed a second at a time, the original read from its file, the
            // loudness target met by passes over the stream; nothing holds the whole range.
            let level =
                loudness_level(project, opts.preset, &input, &sources, s_first, s_last, job)?;
            let file = sources.original_file.as_deref();
            let mut audio = StemStream::new(&input, file, s_first, s_last, level)?;
            let writer_rgba = !matches!(opts.preset, Preset::Mp4 | Preset::Webm);
            let total = last - first;
            let mut compositor = None;
            let start_s = began.elapsed().as_secs_f64();
            // The disclosure label: its corner and the frames it is on.
            let edited = project.lip_edit_frames(rate);
            let label_at = |i: i64| {
                opts.disclosure.filter(|d| match d.when {
                    crate::model::disclosure::LabelWhen::Always => true,
                    crate::model::disclosure::LabelWhen::Edited => {
                        edited.iter().any(|r| r.contains(&i))
                    }
                })
            };
            let mut write = |i: i64,
                             frame: std::sync::Arc<crate::media::Frame>,
                             backend: Option<crate::render::compositor::Backend>|
             -> Result<(), RenderError> {
                compositor = compositor.clone().or(backend);
                let frame = match label_at(i) {
                    Some(d) => {
                        std::sync::Arc::new(crate::render::label::burn_label(&frame, d.corner))
                    }
                    None => frame,
                };
                let black = black_past && i >= picture_frames;
                writer.push_frame_buffer(writer_buffer(&frame, black, writer_rgba)?)?;
                let (s0, s1) = (sample_at(i), sample_at(i + 1));
                writer.push_audio(&audio.next((s1 - s0) as usize)?.mix)?;
                let done = i - first + 1;
                job.set_progress(done as f64 / total as f64);
                (on_progress.borrow_mut())(RenderProgress { done, total, planning: None });
                Ok(())
            };
            let split = edited_from.map_or(last, |f| f.clamp(first, last));
            // A plan that fails (a face the analysis lacks, a shot without sound) ends the export
            // as soon as it does, not at the first edited frame.
            let failed = || plan_failed.load(std::sync::atomic::Ordering::Relaxed);
            let head = frames.render_range(first, split, job, |i, f, b| {
                if failed() {
                    return Err(RenderError::Invalid("the lip plan failed".into()));
                }
                write(i, f, b)
            });
            let mut timing = match head {
                Err(_) if failed() => match planner.map(|p| p.join()) {
                    Some(Ok(Err(e))) => return Err(e),
                    _ => return Err(RenderError::Invalid("the lip plan failed".into())),
                },
                other => other?,
            };
            if let Some(planner) = planner {
                // Waiting for the plan: the user's cancel reaches the planner, and the plan's
                // progress is reported (the frame count stands still meanwhile).
                let t0 = std::time::Instant::now();
                let mut reported = None::<std::time::Instant>;
                while !planner.is_finished() {
                    if job.is_cancelled() {
                        plan_job.cancel();
                    }
                    if reported.is_none_or(|r| r.elapsed().as_millis() >= 100) {
                        reported = Some(std::time::Instant::now());
                        (on_progress.borrow_mut())(RenderProgress {
                            done: split - first,
                            total: last - first,
                            planning: Some((plan_job.stage(), plan_job.progress())),
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                let lips = planner
                    .join()
                    .map_err(|_| RenderError::Invalid("the lip planner panicked".into()))??;
                timing.wait += t0.elapsed().as_secs_f64();
                frames.set_lips(lips);
            }
            if split < last {
                let rest = frames.render_range(split, last, job, &mut write)?;
                timing.decode += rest.decode;
                timing.wait += rest.wait;
                timing.write += rest.write;
            }
            let t0 = std::time::Instant::now();
            let out = writer.finish()?;
            (timing.start, timing.finish) = (start_s, t0.elapsed().as_secs_f64());
            Ok(RenderReport {
                outputs: vec![out],
                frames: total,
                duration: end - start,
                compositor: compositor.map(|b| b.to_string()),
                timing: Some(timing),
            })
        });
    }
    let level = loudness_level(project, opts.preset, &input, &sources, s_first, s_last, job)?;
    let file = sources.original_file.as_deref();
    let mut audio = StemStream::new(&input, file, s_first, s_last, level)?;

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
        let stems = audio.next(n as usize)?;
        for (w, data) in writers.iter_mut().zip([&stems.dialogue, &stems.background, &stems.mix]) {
            w.push_audio(data)?;
        }
        s += n;
        let done = (s - s_start + chunk - 1) / chunk;
        job.set_progress(done as f64 / total as f64);
        on_progress(RenderProgress { done, total, planning: None });
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
