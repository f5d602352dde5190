//! `redub eval reconstruct`: the lip edit judged against ground truth.
//!
//! A real clip with one speaking face is cut into halves A and B of equal length. A is the shot
//! (its own sound is the original dialogue); B's sound is the dub, bound to the face. Same actor,
//! same voice, same session: B's real frames show exactly how the mouth should move. The edit of
//! A is rendered through the product's own render graph and measured with lip landmarks (Face
//! Mesh), which the engine does not aim for, against B's frames: opening correlation (and the lag
//! where it is best), dynamic lip-landmark distance, closure recall and precision, mouth-region
//! SSIM. The same run measures three references: no edit (A's own frames: the floor), loudness
//! only (B's speech envelope as the predicted opening: a trivial predictor) and the bank oracle
//! (each frame's bank mouth chosen by B's true lip shape: the ceiling of selection).

use super::CliError;
use crate::analysis::RgbImage;
use crate::analysis::lip_track::main_track;
use crate::analysis::lipmesh::{FaceMesh, LipLandmarks};
use crate::analysis::mouth_patch::{PATCH_H, PATCH_W, extract_patch};
use crate::analysis::track::FaceTrack;
use crate::dsp::SAMPLE_RATE;
use crate::dsp::agreement::{best_lag, closure_match, dynamic_distance, lagged_correlation, ssim};
use crate::jobs::Job;
use crate::lipsync::engine::Planned;
use crate::lipsync::sync::audio_envelope;
use crate::media::encode::{Tags, Writer, WriterConfig};
use crate::media::{VideoDecoder, decode_audio, probe};
use crate::model::lip::FaceId;
use crate::model::project::Preset;
use crate::model::{MediaKind, Project, Time};
use crate::render::graph::FrameRenderer;
use crate::render::lips::LipRenderer;
use crate::render::lips::{plan_project_lips, plan_project_lips_held_out};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Frames either side searched for the best lag.
const MAX_LAG: i64 = 5;

/// Closure events match within this many frames.
const CLOSURE_TOLERANCE: usize = 1;

/// One lip measurement of a frame.
#[derive(Clone, Debug)]
struct Mouth {
    /// Inner-lip opening over the eye distance.
    opening: f32,
    /// Lip contour points in the face-aligned frame (eye-distance units).
    shape: Vec<f32>,
    /// The canonical mouth patch in grey (0..255), [`PATCH_W`] × [`PATCH_H`].
    grey: Vec<f32>,
}

/// Figures of one way of driving the mouth (the edit or a reference) against the truth.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Figures {
    /// Pearson correlation of the opening with the true one, frame by frame (lag 0).
    pub opening_correlation: Option<f32>,
    /// The lag (frames; positive: late) of the best opening correlation within ±5 frames.
    pub best_lag: Option<i64>,
    /// The correlation at that lag.
    pub best_lag_correlation: Option<f32>,
    /// Mean lip-landmark distance with each series' mean shape removed (eye-distance units).
    pub dynamic_distance: Option<f32>,
    /// `dynamic_distance` over the no-edit reference's.
    pub dynamic_vs_no_edit: Option<f32>,
    /// Share of true closures (lips together) shown within ±1 frame.
    pub closure_recall: Option<f32>,
    /// Share of shown closures that are true within ±1 frame.
    pub closure_precision: Option<f32>,
    /// Mean SSIM of the canonical mouth region against the true frames.
    pub mouth_ssim: Option<f32>,
}

/// `eval reconstruct` of one clip.
#[derive(Clone, Debug, Serialize)]
pub struct ClipReport {
    /// The clip.
    pub clip: String,
    /// How the truth was held out.
    pub protocol: String,
    /// Frames compared.
    pub frames: usize,
    /// Frames of them where the dub speaks and the edit is drawn.
    pub edited_frames: usize,
    /// The lip edit.
    pub edit: Figures,
    /// The lip edit before drawing: each edited frame's chosen bank mouth as filmed (what the
    /// selection asks for; the gap to `edit` is what drawing loses).
    pub selection: Figures,
    /// The shot's own frames.
    pub no_edit: Figures,
    /// The dub's speech envelope as the opening.
    pub loudness_only: Figures,
    /// The bank mouths picked by the true shape.
    pub oracle: Figures,
    /// The closed-lips threshold (opening over eye distance) from the truth.
    pub closure_threshold: f32,
}

/// How the truth is held out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// Half A is the shot, half B's sound the dub, B's frames the truth.
    Halves,
    /// Each 1 s window of the clip is driven by its own sound, with no mouth from (and nothing
    /// learned from) the frames within ±1.5 s of it; the clip's frames are the truth.
    LeaveOut,
}

/// Options of `eval reconstruct`.
pub struct ReconstructArgs<'a> {
    /// The clips.
    pub clips: &'a [PathBuf],
    /// Print JSON.
    pub json: bool,
    /// Keep the work files (halves, renders) here instead of a temp folder.
    pub keep: Option<&'a Path>,
    /// Skip the bank oracle's render (faster, when comparing engine settings).
    pub edit_only: bool,
    /// Shift the dub's pitch by this many cents (sox `pitch`): a stand-in for another speaker.
    pub dub_pitch: Option<i32>,
    /// How the truth is held out.
    pub protocol: Protocol,
}

pub(super) fn reconstruct(args: ReconstructArgs<'_>) -> Result<(), CliError> {
    let mut reports = Vec::new();
    for clip in args.clips {
        let dir = Work::for_clip(args.keep, clip)?;
        let report = match args.protocol {
            Protocol::Halves => halves(clip, dir.path(), args.edit_only, args.dub_pitch)?,
            Protocol::LeaveOut => leave_out(clip, dir.path(), args.edit_only, args.dub_pitch)?,
        };
        if !args.json {
            print_report(&report);
        }
        reports.push(report);
    }
    let summary = Summary::of(&reports);
    if args.json {
        let out = serde_json::json!({ "clips": reports, "summary": summary });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else if reports.len() > 1 {
        print_summary(&summary);
    }
    Ok(())
}

/// A clip's work folder: under `--keep`'s folder (named for the clip) or a temp folder.
pub(super) enum Work {
    Kept(PathBuf),
    Temp(tempfile::TempDir),
}

impl Work {
    /// The work folder of `clip`: `keep/<clip stem>` (made) or a new temp folder.
    pub(super) fn for_clip(keep: Option<&Path>, clip: &Path) -> Result<Self, CliError> {
        Ok(match keep {
            Some(k) => {
                let stem = clip.file_stem().map(|s| s.to_string_lossy().into_owned());
                let d = k.join(stem.unwrap_or_else(|| "clip".into()));
                std::fs::create_dir_all(&d)
                    .map_err(|e| CliError::User(format!("{}: {e}", d.display())))?;
                Work::Kept(d)
            }
            None => Work::Temp(
                tempfile::tempdir().map_err(|e| CliError::Internal(format!("temp dir: {e}")))?,
            ),
        })
    }

    /// The folder.
    pub(super) fn path(&self) -> &Path {
        match self {
            Work::Kept(p) => p,
            Work::Temp(t) => t.path(),
        }
    }
}

/// The main face track of `video` (face analysis, cached).
pub(super) fn face_of(video: &Path, job: &Job) -> Result<FaceTrack, CliError> {
    let opts = crate::analysis::AnalysisOptions::default();
    let (analysis, _) = crate::analysis::analyze_file(video, &opts, job, true)
        .map_err(|e| CliError::User(format!("face analysis of {}: {e}", video.display())))?;
    main_track(&analysis)
        .cloned()
        .ok_or_else(|| CliError::User(format!("{}: no face found", video.display())))
}

/// Lip measurements of frames, one face at a time.
struct Meter {
    mesh: FaceMesh,
}

impl Meter {
    fn new() -> Result<Self, CliError> {
        let mesh = FaceMesh::load_default().map_err(|e| {
            CliError::User(format!("lip landmarks: {e} (run packaging/setup.sh deps)"))
        })?;
        Ok(Self { mesh })
    }

    fn measure(&mut self, rgba: &[u8], w: usize, h: usize, lm: &[[f32; 2]; 5]) -> Option<Mouth> {
        let img = RgbImage::from_rgba(w, h, rgba);
        let lips: LipLandmarks = self.mesh.lips(&img, lm).ok()??;
        let patch = extract_patch(rgba, w, h, lm)?;
        let grey = patch.rgb.iter().map(|p| 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]).collect();
        let shape = lips.shape().iter().flatten().copied().collect();
        Some(Mouth { opening: lips.inner_opening(), shape, grey })
    }
}

/// Decoded frames `range` of `path` (RGBA), each handed to `f` with its index.
fn each_frame(
    path: &Path,
    range: std::ops::Range<i64>,
    mut f: impl FnMut(i64, &[u8], usize, usize),
) -> Result<(), CliError> {
    let mut dec = VideoDecoder::open_with_cache(path, 0)?;
    let (w, h) = dec.size();
    for i in range {
        let frame = dec.frame(i)?;
        f(i, &frame.data, w as usize, h as usize);
    }
    Ok(())
}

/// Writes frames `0..frames` of `clip` with their sound as `out` (ProRes: near lossless) and the
/// sound of frames `frames..2 × frames` as `dub` (WAV).
fn cut_halves(clip: &Path, frames: i64, out: &Path, dub: &Path) -> Result<(), CliError> {
    let info = probe(clip)?;
    let v = info.video.ok_or_else(|| CliError::User(format!("{}: no video", clip.display())))?;
    let sound = decode_audio(clip, Some(2))?;
    let rate = v.frame_rate;
    let split = (rate.frame_to_time(frames).as_seconds_f64() * f64::from(SAMPLE_RATE)) as usize;
    let split = (split * 2).min(sound.samples.len());
    let end = (split * 2).min(sound.samples.len());
    let mut dec = VideoDecoder::open_with_cache(clip, 0)?;
    let (w, h) = dec.size();
    let cfg = WriterConfig {
        preset: Preset::Mov,
        video: Some((w, h, rate)),
        tags: Tags::default(),
        keyframe_interval: None,
    };
    let mut writer = Writer::create(out, &cfg)?;
    // Each frame's sound right after it: the writer's queues are bounded, so all the pictures
    // first would fill the video queue while the muxer waits for sound.
    let at =
        |i: i64| (rate.frame_to_time(i).to_samples(SAMPLE_RATE).max(0) as usize * 2).min(split);
    for i in 0..frames {
        writer.push_frame(&dec.frame(i)?.data)?;
        writer.push_audio(&sound.samples[at(i)..at(i + 1)])?;
    }
    writer.push_audio(&sound.samples[at(frames)..split])?;
    writer.finish()?;
    crate::media::testsrc::write_wav(dub, &sound.samples[split..end])
        .map_err(|e| CliError::Internal(format!("{}: {e}", dub.display())))?;
    Ok(())
}

/// `wav` with its pitch shifted by `cents` (sox), written beside it.
fn pitch_shifted(wav: &Path, cents: i32) -> Result<PathBuf, CliError> {
    let out = wav.with_file_name(format!("dub_b_pitch{cents:+}.wav"));
    let status = std::process::Command::new("sox")
        .arg(wav)
        .arg(&out)
        .args(["pitch", &cents.to_string()])
        .status()
        .map_err(|e| {
            CliError::User(format!("sox (for --dub-pitch): {e}; install the sox package"))
        })?;
    if !status.success() {
        return Err(CliError::Internal(format!("sox pitch {cents} on {} failed", wav.display())));
    }
    Ok(out)
}

/// A project on `shot` with `dub` on one dub track from 0 s, bound to `face`.
pub(super) fn dub_project(
    shot: &Path,
    dub: &Path,
    face: u32,
    frames: i64,
) -> Result<Project, CliError> {
    let mut p = super::bench_lips::shot_project("eval", shot)?;
    p.timeline.duration = p.timeline.frame_rate.frame_to_time(frames);
    let d = probe(dub)?;
    let a = p.add_media(dub, MediaKind::Audio, d.duration).map_err(CliError::from)?;
    let t = p.add_dub_track("Dub");
    p.add_clip(t, a, Time::ZERO).map_err(CliError::from)?;
    p.timeline.dub_tracks[0].face = Some(FaceId(face));
    Ok(p)
}

/// Renders frames `0..frames` of the planned edit and measures each with the landmarks of the
/// shot's face track.
fn render_and_measure(
    shot: &Path,
    lips: LipRenderer,
    track: &FaceTrack,
    frames: i64,
    meter: &mut Meter,
) -> Result<Vec<Option<Mouth>>, CliError> {
    let mut renderer = FrameRenderer::open(shot, lips)?;
    let (w, h) = renderer.size();
    let mut out = Vec::new();
    for i in 0..frames {
        let (rgba, _) = renderer.render(i)?;
        let m =
            track.at(i).and_then(|f| meter.measure(&rgba, w as usize, h as usize, &f.landmarks));
        out.push(m);
    }
    Ok(out)
}

/// The halves protocol on one clip.
fn halves(
    clip: &Path,
    dir: &Path,
    edit_only: bool,
    dub_pitch: Option<i32>,
) -> Result<ClipReport, CliError> {
    let job = Job::new();
    let total = VideoDecoder::open(clip)?.frame_count();
    let half = total / 2;
    if half < 25 {
        return Err(CliError::User(format!(
            "{}: {total} frames; eval needs at least 2 s of picture",
            clip.display()
        )));
    }
    let truth_track = face_of(clip, &job)?;
    let mut meter = Meter::new()?;
    // The truth: B's frames, measured with the clip's own track; and the whole clip's openings
    // for the closure threshold.
    let mut truth = Vec::new();
    let mut all_openings = Vec::new();
    each_frame(clip, 0..2 * half, |i, rgba, w, h| {
        let m = truth_track.at(i).and_then(|f| meter.measure(rgba, w, h, &f.landmarks));
        if let Some(m) = &m {
            all_openings.push(m.opening);
        }
        if i >= half {
            truth.push(m);
        }
    })?;
    let threshold = closure_threshold(&all_openings);

    let shot = dir.join("shot_a.mov");
    let dub = dir.join("dub_b.wav");
    cut_halves(clip, half, &shot, &dub)?;
    let dub = match dub_pitch {
        Some(cents) => pitch_shifted(&dub, cents)?,
        None => dub,
    };
    let shot_track = face_of(&shot, &job)?;
    let project = dub_project(&shot, &dub, shot_track.id, half)?;
    let lips = plan_project_lips(&project, dir, &job)?;
    let plan: Vec<Option<Planned>> =
        lips.tracks().first().map(|t| t.plan.clone()).unwrap_or_default();
    let edited_frames = plan.iter().filter(|p| p.is_some()).count();

    // No edit: A's own frames.
    let mut shot_mouths = Vec::new();
    each_frame(&shot, 0..half, |i, rgba, w, h| {
        shot_mouths.push(shot_track.at(i).and_then(|f| meter.measure(rgba, w, h, &f.landmarks)));
    })?;
    let entry_frames: Vec<i64> = lips
        .tracks()
        .first()
        .map(|t| t.bank.entries.iter().map(|e| e.frame).collect())
        .unwrap_or_default();
    let selected = selected_mouths(&plan, &entry_frames, &shot_mouths);
    let edit = render_and_measure(&shot, lips, &shot_track, half, &mut meter)?;

    // The oracle: each edited frame's mouth is the bank entry whose filmed frame's lip shape is
    // nearest to the truth's.
    let mut oracle_lips = plan_project_lips(&project, dir, &job)?;
    if edit_only {
        oracle_lips.tracks_mut().iter_mut().for_each(|t| t.plan.iter_mut().for_each(|p| *p = None));
    }
    if let Some(track) = oracle_lips.tracks_mut().first_mut().filter(|_| !edit_only) {
        let entries: Vec<(usize, Vec<f32>)> = track
            .bank
            .entries
            .iter()
            .enumerate()
            .filter_map(|(k, e)| {
                let m = shot_mouths.get(usize::try_from(e.frame).ok()?)?.as_ref()?;
                Some((k, m.shape.clone()))
            })
            .collect();
        oracle_plan(&mut track.plan, &entries, |i| {
            truth.get(i).and_then(|t| t.as_ref()).map(|m| m.shape.clone())
        });
    }
    let oracle = if edit_only {
        Vec::new()
    } else {
        render_and_measure(&shot, oracle_lips, &shot_track, half, &mut meter)?
    };

    // Loudness only: the dub's speech-band envelope as the opening.
    let dub_sound = decode_audio(&dub, Some(1))?;
    let fps = project.timeline.frame_rate.as_f64();
    let envelope = audio_envelope(&dub_sound.samples, SAMPLE_RATE, fps, half as usize);
    let loudness: Vec<Option<f32>> = envelope.iter().map(|v| Some(*v)).collect();

    write_columns(
        &dir.join("openings.csv"),
        &[
            ("truth", openings(&truth)),
            ("edit", openings(&edit)),
            ("selection", openings(&selected)),
            ("no_edit", openings(&shot_mouths)),
            ("weight", plan.iter().map(|p| p.as_ref().map(|p| p.weight)).collect()),
            (
                "entry_frame",
                plan.iter()
                    .map(|p| p.as_ref().and_then(|p| entry_frames.get(p.entry)).map(|f| *f as f32))
                    .collect(),
            ),
        ],
    )?;
    let no_edit = figures(&shot_mouths, &truth, threshold, None);
    let edit_f = figures(&edit, &truth, threshold, no_edit.dynamic_distance);
    let selection_f = figures(&selected, &truth, threshold, no_edit.dynamic_distance);
    let oracle_f = figures(&oracle, &truth, threshold, no_edit.dynamic_distance);
    let truth_open = openings(&truth);
    let lag = best_lag(&loudness, &truth_open, MAX_LAG);
    let loudness_f = Figures {
        opening_correlation: lagged_correlation(&loudness, &truth_open, 0),
        best_lag: lag.map(|l| l.0),
        best_lag_correlation: lag.map(|l| l.1),
        ..Figures::default()
    };
    Ok(ClipReport {
        clip: clip.display().to_string(),
        protocol: match dub_pitch {
            Some(c) => format!("halves, dub pitch {c:+} cents"),
            None => "halves".into(),
        },
        frames: half as usize,
        edited_frames,
        edit: edit_f,
        selection: selection_f,
        no_edit,
        loudness_only: loudness_f,
        oracle: oracle_f,
        closure_threshold: threshold,
    })
}

/// Writes per-frame series as CSV (a column each, empty where unmeasured), so a kept work folder
/// (`--keep`) shows where the edit departs from its selection and the truth.
fn write_columns(path: &Path, series: &[(&str, Vec<Option<f32>>)]) -> Result<(), CliError> {
    let mut text = String::from("frame");
    for (name, _) in series {
        text.push(',');
        text.push_str(name);
    }
    text.push('\n');
    let frames = series.iter().map(|(_, s)| s.len()).max().unwrap_or(0);
    for i in 0..frames {
        text.push_str(&i.to_string());
        for (_, s) in series {
            text.push(',');
            if let Some(Some(v)) = s.get(i) {
                text.push_str(&format!("{v:.4}"));
            }
        }
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| CliError::User(format!("{}: {e}", path.display())))
}

/// Per frame, the filmed mouth (`shot[frame]`) of the bank entry `plan` chooses there
/// (`entry_frames[entry]`), or the frame's own where the plan keeps it.
fn selected_mouths(
    plan: &[Option<Planned>],
    entry_frames: &[i64],
    shot: &[Option<Mouth>],
) -> Vec<Option<Mouth>> {
    shot.iter()
        .enumerate()
        .map(|(i, own)| match plan.get(i).and_then(Option::as_ref) {
            Some(p) => entry_frames
                .get(p.entry)
                .and_then(|f| usize::try_from(*f).ok())
                .and_then(|f| shot.get(f).cloned().flatten()),
            None => own.clone(),
        })
        .collect()
}

/// Seconds either side of a leave-out window whose frames are held out of the plan.
const LEAVE_OUT_MARGIN_S: f64 = 1.5;

/// The leave-out protocol on one clip: every 1 s window is planned with the frames within
/// ±[`LEAVE_OUT_MARGIN_S`] of it held out (no bank mouth, no learning from them) and driven by
/// its own sound; the clip's own frames are the truth. No edit is the truth itself here, so
/// that reference has no figures.
fn leave_out(
    clip: &Path,
    dir: &Path,
    edit_only: bool,
    dub_pitch: Option<i32>,
) -> Result<ClipReport, CliError> {
    let job = Job::new();
    let total = VideoDecoder::open(clip)?.frame_count();
    let track = face_of(clip, &job)?;
    let mut meter = Meter::new()?;
    let mut truth = Vec::new();
    each_frame(clip, 0..total, |i, rgba, w, h| {
        truth.push(track.at(i).and_then(|f| meter.measure(rgba, w, h, &f.landmarks)));
    })?;
    let threshold =
        closure_threshold(&truth.iter().flatten().map(|m| m.opening).collect::<Vec<_>>());
    // The dub is the clip's own sound.
    let sound = decode_audio(clip, Some(2))?;
    let dub = dir.join("own_sound.wav");
    crate::media::testsrc::write_wav(&dub, &sound.samples)
        .map_err(|e| CliError::Internal(format!("{}: {e}", dub.display())))?;
    let dub = match dub_pitch {
        Some(cents) => pitch_shifted(&dub, cents)?,
        None => dub,
    };
    let project = dub_project(clip, &dub, track.id, total)?;
    let fps = project.timeline.frame_rate.as_f64();
    let window = fps.round().max(1.0) as i64;
    let margin = (LEAVE_OUT_MARGIN_S * fps).round() as i64;
    let mut edit: Vec<Option<Mouth>> = vec![None; total as usize];
    let mut oracle: Vec<Option<Mouth>> = vec![None; total as usize];
    let mut selected: Vec<Option<Mouth>> = vec![None; total as usize];
    let mut edited_frames = 0;
    let mut start = 0;
    while start < total {
        let end = (start + window).min(total);
        let held = (start - margin).max(0)..(end + margin).min(total);
        let lips = plan_project_lips_held_out(&project, dir, &job, Some(held.clone()))?;
        edited_frames += lips.tracks().first().map_or(0, |t| {
            (start..end).filter(|&i| t.plan.get(i as usize).is_some_and(Option::is_some)).count()
        });
        if let Some(t) = lips.tracks().first() {
            let frames: Vec<i64> = t.bank.entries.iter().map(|e| e.frame).collect();
            let chosen = selected_mouths(&t.plan, &frames, &truth);
            for i in start..end {
                selected[i as usize] = chosen.get(i as usize).cloned().flatten();
            }
        }
        let mut oracle_lips = if edit_only {
            None
        } else {
            let mut o = plan_project_lips_held_out(&project, dir, &job, Some(held.clone()))?;
            if let Some(t) = o.tracks_mut().first_mut() {
                let entries: Vec<(usize, Vec<f32>)> = t
                    .bank
                    .entries
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| !held.contains(&e.frame))
                    .filter_map(|(k, e)| {
                        Some((
                            k,
                            truth.get(usize::try_from(e.frame).ok()?)?.as_ref()?.shape.clone(),
                        ))
                    })
                    .collect();
                oracle_plan(&mut t.plan, &entries, |i| {
                    truth.get(i).and_then(|m| m.as_ref()).map(|m| m.shape.clone())
                });
            }
            Some(o)
        };
        let mut renderer = FrameRenderer::open(clip, lips)?;
        let (w, h) = renderer.size();
        for i in start..end {
            let (rgba, _) = renderer.render(i)?;
            edit[i as usize] = track
                .at(i)
                .and_then(|f| meter.measure(&rgba, w as usize, h as usize, &f.landmarks));
        }
        if let Some(o) = oracle_lips.take() {
            let mut renderer = FrameRenderer::open(clip, o)?;
            for i in start..end {
                let (rgba, _) = renderer.render(i)?;
                oracle[i as usize] = track
                    .at(i)
                    .and_then(|f| meter.measure(&rgba, w as usize, h as usize, &f.landmarks));
            }
        }
        start = end;
    }
    let own = decode_audio(&dub, Some(1))?;
    let envelope = audio_envelope(&own.samples, SAMPLE_RATE, fps, total as usize);
    let loudness: Vec<Option<f32>> = envelope.iter().map(|v| Some(*v)).collect();
    let truth_open = openings(&truth);
    let lag = best_lag(&loudness, &truth_open, MAX_LAG);
    Ok(ClipReport {
        clip: clip.display().to_string(),
        protocol: match dub_pitch {
            Some(c) => format!("leave-out, dub pitch {c:+} cents"),
            None => "leave-out".into(),
        },
        frames: total as usize,
        edited_frames,
        edit: figures(&edit, &truth, threshold, None),
        selection: figures(&selected, &truth, threshold, None),
        no_edit: Figures::default(),
        loudness_only: Figures {
            opening_correlation: lagged_correlation(&loudness, &truth_open, 0),
            best_lag: lag.map(|l| l.0),
            best_lag_correlation: lag.map(|l| l.1),
            ..Figures::default()
        },
        oracle: if edit_only {
            Figures::default()
        } else {
            figures(&oracle, &truth, threshold, None)
        },
        closure_threshold: threshold,
    })
}

/// Replaces each planned frame's mouth with the bank entry (of `entries`: index and filmed
/// shape) nearest to the true shape there (`truth(i)`), unblended: the bank oracle.
fn oracle_plan(
    plan: &mut [Option<Planned>],
    entries: &[(usize, Vec<f32>)],
    truth: impl Fn(usize) -> Option<Vec<f32>>,
) {
    for (i, p) in plan.iter_mut().enumerate() {
        let Some(planned) = p.as_mut() else { continue };
        let Some(want) = truth(i) else { continue };
        if let Some((k, _)) =
            entries.iter().min_by(|a, b| sq_dist(&a.1, &want).total_cmp(&sq_dist(&b.1, &want)))
        {
            *planned = Planned { entry: *k, weight: planned.weight, mix: [None; 2] };
        }
    }
}

fn sq_dist(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Lips count as closed below this opening: a quarter of the way from the actor's most closed
/// (10th percentile) to their usual open (90th percentile) mouth over the whole clip.
fn closure_threshold(openings: &[f32]) -> f32 {
    let mut v = openings.to_vec();
    v.sort_by(f32::total_cmp);
    if v.is_empty() {
        return 0.0;
    }
    let q = |p: f32| v[((v.len() - 1) as f32 * p).round() as usize];
    q(0.1) + 0.25 * (q(0.9) - q(0.1))
}

/// Each measured frame's opening (`None` where the frame was not measured).
fn openings(s: &[Option<Mouth>]) -> Vec<Option<f32>> {
    s.iter().map(|m| m.as_ref().map(|m| m.opening)).collect()
}

fn figures(
    pred: &[Option<Mouth>],
    truth: &[Option<Mouth>],
    threshold: f32,
    no_edit_dynamic: Option<f32>,
) -> Figures {
    let shape = |s: &[Option<Mouth>]| -> Vec<Option<Vec<f32>>> {
        s.iter().map(|m| m.as_ref().map(|m| m.shape.clone())).collect()
    };
    let (po, to) = (openings(pred), openings(truth));
    let lag = best_lag(&po, &to, MAX_LAG);
    let dynamic = dynamic_distance(&shape(pred), &shape(truth));
    // Closures where both frames are measured.
    let (mut pc, mut tc) = (Vec::new(), Vec::new());
    for (p, t) in po.iter().zip(&to) {
        if let (Some(p), Some(t)) = (p, t) {
            pc.push(*p < threshold);
            tc.push(*t < threshold);
        }
    }
    let (recall, precision) = closure_match(&pc, &tc, CLOSURE_TOLERANCE);
    let ssims: Vec<f32> = pred
        .iter()
        .zip(truth)
        .filter_map(|(p, t)| ssim(&p.as_ref()?.grey, &t.as_ref()?.grey, PATCH_W, PATCH_H))
        .collect();
    Figures {
        opening_correlation: lagged_correlation(&po, &to, 0),
        best_lag: lag.map(|l| l.0),
        best_lag_correlation: lag.map(|l| l.1),
        dynamic_distance: dynamic,
        dynamic_vs_no_edit: dynamic.zip(no_edit_dynamic).map(|(d, n)| d / n.max(1e-6)),
        closure_recall: recall,
        closure_precision: precision,
        mouth_ssim: (!ssims.is_empty()).then(|| ssims.iter().sum::<f32>() / ssims.len() as f32),
    }
}

/// Means over clips.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// Clips measured.
    pub clips: usize,
    /// Mean of each figure of the edit.
    pub edit: Figures,
    /// Of the selection before drawing.
    pub selection: Figures,
    /// Of no edit.
    pub no_edit: Figures,
    /// Of loudness only.
    pub loudness_only: Figures,
    /// Of the oracle.
    pub oracle: Figures,
    /// The lowest opening correlation of the edit over the clips.
    pub edit_worst_opening_correlation: Option<f32>,
}

impl Summary {
    fn of(reports: &[ClipReport]) -> Self {
        let mean = |pick: &dyn Fn(&ClipReport) -> &Figures| -> Figures {
            let m = |f: &dyn Fn(&Figures) -> Option<f32>| {
                crate::dsp::agreement::mean_of(reports.iter().map(|r| f(pick(r))))
            };
            Figures {
                opening_correlation: m(&|f| f.opening_correlation),
                best_lag: None,
                best_lag_correlation: m(&|f| f.best_lag_correlation),
                dynamic_distance: m(&|f| f.dynamic_distance),
                dynamic_vs_no_edit: m(&|f| f.dynamic_vs_no_edit),
                closure_recall: m(&|f| f.closure_recall),
                closure_precision: m(&|f| f.closure_precision),
                mouth_ssim: m(&|f| f.mouth_ssim),
            }
        };
        Summary {
            clips: reports.len(),
            edit: mean(&|r| &r.edit),
            selection: mean(&|r| &r.selection),
            no_edit: mean(&|r| &r.no_edit),
            loudness_only: mean(&|r| &r.loudness_only),
            oracle: mean(&|r| &r.oracle),
            edit_worst_opening_correlation: reports
                .iter()
                .filter_map(|r| r.edit.opening_correlation)
                .min_by(f32::total_cmp),
        }
    }
}

fn cell(v: Option<f32>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.2}"))
}

fn rows(named: &[(&str, &Figures)]) {
    println!(
        "  {:<14} {:>7} {:>9} {:>8} {:>8} {:>7} {:>7} {:>6}",
        "", "open r", "lag (r)", "dyn", "dyn/no", "recall", "prec", "ssim"
    );
    for (name, f) in named {
        let lag = match (f.best_lag, f.best_lag_correlation) {
            (Some(l), Some(r)) => format!("{l:+} ({r:.2})"),
            (None, Some(r)) => format!("({r:.2})"),
            _ => "—".into(),
        };
        println!(
            "  {:<14} {:>7} {:>9} {:>8} {:>8} {:>7} {:>7} {:>6}",
            name,
            cell(f.opening_correlation),
            lag,
            f.dynamic_distance.map_or_else(|| "—".into(), |v| format!("{v:.4}")),
            cell(f.dynamic_vs_no_edit),
            cell(f.closure_recall),
            cell(f.closure_precision),
            cell(f.mouth_ssim),
        );
    }
}

fn print_report(r: &ClipReport) {
    println!(
        "{} ({}: {} frames compared, {} edited; closed below {:.3})",
        r.clip, r.protocol, r.frames, r.edited_frames, r.closure_threshold
    );
    rows(&[
        ("edit", &r.edit),
        ("selection", &r.selection),
        ("no edit", &r.no_edit),
        ("loudness only", &r.loudness_only),
        ("oracle", &r.oracle),
    ]);
}

fn print_summary(s: &Summary) {
    println!(
        "summary over {} clips (worst edit opening r {})",
        s.clips,
        cell(s.edit_worst_opening_correlation)
    );
    rows(&[
        ("edit", &s.edit),
        ("selection", &s.selection),
        ("no edit", &s.no_edit),
        ("loudness only", &s.loudness_only),
        ("oracle", &s.oracle),
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_closure_threshold_sits_a_quarter_up_from_the_closed_mouths() {
        let openings: Vec<f32> = (0..=100).map(|i| i as f32 / 100.0).collect();
        assert!((closure_threshold(&openings) - 0.3).abs() < 1e-6);
        assert_eq!(closure_threshold(&[]), 0.0);
    }
}
