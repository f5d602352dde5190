//! `probe`, `render` and `new`.

use super::CliError;
use crate::jobs::Job;
use crate::media::{self, MediaInfo};
use crate::model::output::{Input, check_output, project_inputs};
use crate::model::project::project_dir;
use crate::model::{MediaKind, Preset, Project, Time};
use crate::render::{RenderOptions, render_project};
use std::ffi::{OsStr, OsString};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

pub(super) fn probe(file: &Path, json: bool) -> Result<(), CliError> {
    let mut info = media::probe(file)?;
    // The container's rate is an average: the pictures' own timestamps say whether it varies.
    if let Some(v) = &mut info.video {
        v.timing = media::frame_timing(file)?;
        if let Some(t) = &v.timing {
            v.variable_frame_rate |= t.variable;
        }
    }
    if json {
        let text =
            serde_json::to_string_pretty(&info).map_err(|e| CliError::Internal(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", describe(&info));
    }
    Ok(())
}

fn describe(info: &MediaInfo) -> String {
    let mut s = format!("{}\n  duration   {}\n", info.path.display(), info.duration);
    if let Some(c) = &info.container {
        s += &format!("  container  {c}\n");
    }
    if let Some(v) = &info.video {
        s += &format!(
            "  video      {} {}x{} @ {} fps{} ({} frames)\n",
            v.codec,
            v.width,
            v.height,
            v.frame_rate,
            if v.variable_frame_rate { " (variable)" } else { "" },
            v.frame_count
        );
        if let Some(t) = &v.timing {
            s += &format!(
                "  pictures   {} in the stream, {:.2} fps on average, {:.1}–{:.1} ms each{}\n",
                t.frames,
                t.mean_fps,
                t.shortest_ms,
                t.longest_ms,
                if t.variable { " (variable frame rate)" } else { "" }
            );
        }
    }
    if let Some(a) = &info.audio {
        let depth = if a.depth > 0 { format!(", {}-bit", a.depth) } else { String::new() };
        s += &format!("  audio      {} {} Hz, {} ch{depth}\n", a.codec, a.sample_rate, a.channels);
    }
    s
}

fn parse_range(text: &str) -> Result<(Time, Time), CliError> {
    let bad = || CliError::User(format!("--range {text:?}: expected START..END, e.g. 2.5..7"));
    let (a, b) = text.split_once("..").ok_or_else(bad)?;
    let a: Time = a.trim().parse().map_err(|_| bad())?;
    let b: Time = b.trim().parse().map_err(|_| bad())?;
    if b <= a {
        return Err(bad());
    }
    Ok((a, b))
}

/// Prints a render's `{"event":"progress",…}` JSON line when its whole percent changed since
/// `last` (which it updates).
pub(super) fn json_progress(p: &crate::render::RenderProgress, last: &mut i64) {
    let percent = p.done * 100 / p.total.max(1);
    if percent != *last {
        *last = percent;
        println!(
            "{{\"event\":\"progress\",\"done\":{},\"total\":{},\"fraction\":{:.4}}}",
            p.done,
            p.total,
            p.done as f64 / p.total.max(1) as f64
        );
    }
}

/// What `redub render` (whole exports) is asked.
#[derive(Clone, Copy)]
pub(super) struct RenderArgs<'a> {
    pub project_path: &'a Path,
    pub output: &'a Path,
    pub preset: Option<&'a str>,
    pub range: Option<&'a str>,
    pub json: bool,
    pub loudness: Option<&'a str>,
    pub allow_unconsented: bool,
    /// `--label`/`--label-on`; `None`: the project's setting.
    pub label: Option<crate::model::disclosure::Disclosure>,
}

pub(super) fn render(args: &RenderArgs) -> Result<(), CliError> {
    let RenderArgs {
        project_path,
        output,
        preset,
        range,
        json,
        loudness,
        allow_unconsented,
        label,
    } = *args;
    // A bundle renders as the project it holds, unpacked beside it.
    let unpacked;
    let project_path = if crate::render::bundle::is_bundle(project_path) {
        unpacked = super::bundle::open(project_path)?;
        unpacked.as_path()
    } else {
        project_path
    };
    let mut project = Project::load(project_path)?;
    let inputs = project_inputs(&project, project_path);
    check_output(output, &inputs)?;
    if let Some(l) = loudness {
        project.export.loudness =
            Some(crate::model::LoudnessTarget::parse(l).ok_or_else(|| {
                CliError::User(format!(
                    "--loudness {l:?}: choose ebu, atsc, web, streaming or -23, -24, -16, -14"
                ))
            })?);
    }
    let preset = match preset {
        Some(p) => Preset::from_name(p).ok_or_else(|| {
            CliError::User(format!("unknown preset {p:?}; choose mp4, webm, mov or wav"))
        })?,
        None => output
            .extension()
            .and_then(|e| Preset::from_name(&e.to_string_lossy()))
            .unwrap_or(project.export.preset),
    };
    if preset == Preset::WavStems {
        for stem in crate::render::export::stem_paths(output) {
            check_output(&stem, &inputs)?;
        }
    }
    // Lip edits of a face without recorded consent: refused before anything is written.
    let consent = crate::model::consent::ConsentSummary::of(&project, allow_unconsented);
    if preset != Preset::WavStems
        && let Some(why) = consent.refusal()
    {
        return Err(CliError::User(why));
    }
    let range = range.map(parse_range).transpose()?;
    media::encode::check_writable(output)?;
    check_space(&project, project_path, output, preset, range)?;
    let opts = RenderOptions {
        preset,
        output: output.to_path_buf(),
        range,
        allow_unconsented,
        disclosure: label.or(project.export.disclosure),
    };
    let job = Job::new();
    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} frames, ETA {eta} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut last_percent = -1i64;
    let mut last_planning = -1i64;
    let report = render_project(&project, &project_dir(project_path), &opts, &job, |p| {
        if let Some(bar) = &bar {
            bar.set_length(p.total as u64);
            bar.set_position(p.done as u64);
            match &p.planning {
                Some((stage, f)) => {
                    bar.set_message(format!("· lip edit: {stage} {:.0} %", f * 100.0));
                }
                None => bar.set_message(""),
            }
        }
        if let Some((stage, f)) = p.planning.as_ref().filter(|_| json) {
            let percent = (f * 100.0) as i64;
            if percent != last_planning {
                last_planning = percent;
                let stage = serde_json::to_string(stage).unwrap_or_default();
                println!("{{\"event\":\"planning\",\"stage\":{stage},\"fraction\":{f:.4}}}");
            }
            return;
        }
        if json {
            json_progress(&p, &mut last_percent);
        }
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if json {
        let outputs: Vec<String> = report.outputs.iter().map(|p| p.display().to_string()).collect();
        let line = serde_json::json!({
            "event": "done",
            "outputs": outputs,
            "frames": report.frames,
            "seconds": report.duration.as_seconds_f64(),
            "compositor": report.compositor,
        });
        println!("{line}");
    } else {
        for o in &report.outputs {
            println!("wrote {}", o.display());
        }
        if let Some(c) = &report.compositor {
            println!("lip edits composited on the {c}");
        }
    }
    Ok(())
}

/// Refuses a WAV export that cannot fit on the output's disk (PCM: the size is known) and warns
/// when a video export probably will not (its size depends on the pictures).
fn check_space(
    project: &Project,
    project_path: &Path,
    output: &Path,
    preset: Preset,
    range: Option<(Time, Time)>,
) -> Result<(), CliError> {
    let Some(free) = media::encode::free_bytes(output) else { return Ok(()) };
    let sequence_end = project.timeline.sequence_end();
    let (start, end) = range.unwrap_or((Time::ZERO, sequence_end));
    let duration = end.min(sequence_end) - start;
    let video = if preset == Preset::WavStems {
        None
    } else {
        let dir = project_dir(project_path);
        let info = project
            .timeline
            .video
            .media
            .and_then(|id| project.media(id))
            .and_then(|m| crate::model::project::resolve_media_path(m, &dir))
            .and_then(|p| media::probe(&p).ok());
        info.and_then(|i| i.video).map(|v| (v.width, v.height, v.frame_rate))
    };
    let mut need = media::encode::estimate_bytes(preset, video, duration);
    if preset == Preset::WavStems {
        need *= 3; // mix, dialogue and background
    }
    if need <= free {
        return Ok(());
    }
    let (need_mb, free_mb) = (need.div_ceil(1 << 20), free >> 20);
    if preset == Preset::WavStems {
        return Err(CliError::User(format!(
            "{}: not enough disk space: the WAV stems need {need_mb} MB, {free_mb} MB free",
            output.display()
        )));
    }
    eprintln!(
        "redub: warning: {}: the export may need up to {need_mb} MB, {free_mb} MB free",
        output.display()
    );
    Ok(())
}

/// `--dub FILE@TIME` split at the last `@`: the file (any bytes: paths need not be UTF-8) and
/// the time.
fn split_dub(spec: &OsStr) -> Result<(PathBuf, Time), CliError> {
    let shown = spec.to_string_lossy();
    let bad = || CliError::User(format!("--dub {shown:?}: expected FILE@TIME, e.g. line.wav@2.5"));
    let bytes = spec.as_encoded_bytes();
    let at = bytes.iter().rposition(|&b| b == b'@').ok_or_else(bad)?;
    let time = std::str::from_utf8(&bytes[at + 1..]).map_err(|_| bad())?;
    let time: Time = time.parse().map_err(|_| {
        CliError::User(format!("--dub {shown:?}: {time:?} is not a time (seconds or mm:ss.fff)"))
    })?;
    #[cfg(unix)]
    let file = {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(OsStr::from_bytes(&bytes[..at]))
    };
    #[cfg(not(unix))]
    let file = PathBuf::from(shown.rsplit_once('@').ok_or_else(bad)?.0);
    Ok((file, time))
}

/// `redub new`'s arguments.
pub(super) struct NewArgs<'a> {
    pub video: &'a Path,
    pub dubs: &'a [OsString],
    pub name: Option<&'a str>,
    pub output: &'a Path,
    pub force: bool,
    pub bind: bool,
    pub max_hours: Option<u32>,
}

pub(super) fn new(args: &NewArgs<'_>) -> Result<(), CliError> {
    let &NewArgs { video, dubs, name, output, force, bind, max_hours } = args;
    if let Some(h) = max_hours {
        crate::model::validate::check_max_hours(h)
            .map_err(|e| CliError::User(format!("--max-hours: {e}")))?;
    }
    let _lock = crate::model::lock::ProjectLock::acquire(output, "redub new")?;
    if output.exists() && !force {
        return Err(CliError::User(format!(
            "{}: already exists; pass --force to overwrite",
            output.display()
        )));
    }
    let mut inputs = vec![Input::new(video, "the shot")];
    let dubs = dubs.iter().map(|d| split_dub(d)).collect::<Result<Vec<_>, _>>()?;
    for (file, _) in &dubs {
        inputs.push(Input::new(file, "a dub clip"));
    }
    check_output(output, &inputs)?;
    let info = media::probe(video)?;
    let v = info
        .video
        .as_ref()
        .ok_or_else(|| CliError::User(format!("{}: has no video stream", video.display())))?;
    let title = name.map(str::to_string).unwrap_or_else(|| {
        video.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    });
    let mut project = Project::new(title, v.frame_rate);
    project.timeline.max_hours = max_hours;
    let vid = project.add_media(video, MediaKind::Video, info.duration)?;
    project.timeline.video.media = Some(vid);
    if info.audio.is_some() {
        project.timeline.original_audio.media = Some(vid);
    }
    let frames = media::VideoDecoder::open(video)?.frame_count();
    project.timeline.duration = v.frame_rate.frame_to_time(frames);
    for (path, at) in &dubs {
        let (path, at) = (path.as_path(), *at);
        let ainfo = media::probe(path)?;
        if ainfo.audio.is_none() {
            return Err(CliError::User(format!("{}: has no audio stream", path.display())));
        }
        let media_id = project.add_media(path, MediaKind::Audio, ainfo.duration)?;
        // First dub track where the clip does not overlap another; a new one otherwise.
        let end = at + ainfo.duration;
        let free = project
            .timeline
            .dub_tracks
            .iter()
            .find(|t| t.clips.iter().all(|c| c.end() <= at || c.position >= end))
            .map(|t| t.id);
        let track = match free {
            Some(t) => t,
            None => {
                let n = project.timeline.dub_tracks.len() + 1;
                project.add_dub_track(format!("Dub {n}"))
            }
        };
        project.add_clip(track, media_id, at)?;
    }
    if bind {
        auto_bind(&mut project, video);
    }
    project.save(output)?;
    println!("wrote {}", output.display());
    Ok(())
}

/// Binds the only dub track to the only face of the shot (face analysis, from the cache when
/// there); otherwise says why not and how to bind by hand. Never fails `new`: a project without
/// a binding is still a project.
fn auto_bind(project: &mut Project, video: &Path) {
    let [track] = project.timeline.dub_tracks.as_slice() else {
        if project.timeline.dub_tracks.len() > 1 {
            println!(
                "{} dub tracks: bind each to its face with `redub bind PROJECT --track ID --face ID` \
                 (face ids from `redub analyze`)",
                project.timeline.dub_tracks.len()
            );
        }
        return;
    };
    let (id, name) = (track.id, track.name.clone());
    let opts = crate::analysis::pipeline::AnalysisOptions::default();
    match crate::analysis::job::analyze_file(video, &opts, &Job::new(), true) {
        Ok((a, _)) => match a.tracks.as_slice() {
            [face] => {
                let face = crate::model::lip::FaceId(face.id);
                if let Some(t) = project.timeline.dub_tracks.iter_mut().find(|t| t.id == id) {
                    t.face = Some(face);
                    t.auto_bind = false;
                }
                println!("bound {name} to face {}: the shot has one face", face.0);
            }
            [] => println!("no face found in {}: {name} is not bound", video.display()),
            faces => println!(
                "{} faces in {}: bind {name} with `redub bind PROJECT --track {} --face ID` \
                 (face ids from `redub analyze`)",
                faces.len(),
                video.display(),
                id.0
            ),
        },
        Err(e) => println!("face analysis unavailable ({e}): {name} is not bound"),
    }
}
