//! Dialogue commands: `loudness`, `align`, `lines import`, `lines export`.

use super::CliError;
use crate::dsp::SAMPLE_RATE;
use crate::dsp::align::{AlignSettings, align_clip};
use crate::dsp::isochrony::{Fit, StretchRange};
use crate::dsp::loudness::measure;
use crate::media::{self, decode_audio};
use crate::model::lines;
use crate::model::lock::ProjectLock;
use crate::model::output::{Input, check_output, media_inputs, project_inputs};
use crate::model::project::{project_dir, resolve_media_path};
use crate::model::subtitles::{self, Cue, SubtitleFormat};
use crate::model::{AlignMode, ClipId, MediaId, Project, Time};
use std::path::Path;

fn internal(e: impl std::fmt::Display) -> CliError {
    CliError::Internal(e.to_string())
}

pub(super) fn loudness(file: &Path, json: bool) -> Result<(), CliError> {
    let audio = decode_audio(file, None)?;
    let r = measure(&audio.samples, usize::from(audio.channels), audio.rate).map_err(internal)?;
    if json {
        let mut v = serde_json::to_value(r).map_err(internal)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("file".into(), file.display().to_string().into());
        }
        println!("{v}");
    } else {
        println!("{}", file.display());
        println!("  integrated      {:7.1} LUFS", r.integrated_lufs);
        println!("  loudness range  {:7.1} LU", r.loudness_range_lu);
        println!("  true peak       {:7.1} dBTP", r.true_peak_dbtp);
        println!("  sample peak     {:7.1} dBFS", r.sample_peak_dbfs);
        println!("  momentary max   {:7.1} LUFS", r.momentary_max_lufs);
        println!("  short-term max  {:7.1} LUFS", r.short_term_max_lufs);
        println!("  duration        {:7.2} s", r.duration_s);
    }
    Ok(())
}

fn decode_mono(project: &Project, dir: &Path, id: MediaId) -> Result<Vec<f32>, CliError> {
    let m = project
        .media(id)
        .ok_or_else(|| CliError::User(format!("project refers to unknown media id {}", id.0)))?;
    let path = resolve_media_path(m, dir)
        .ok_or_else(|| CliError::User(format!("media file missing: {}", m.path.display())))?;
    Ok(decode_audio(&path, Some(1))?.samples)
}

/// Options of `redub align`.
pub(super) struct AlignArgs<'a> {
    pub project: &'a Path,
    pub clip: u32,
    pub mode: &'a str,
    pub range: Option<&'a str>,
    pub tightness: f32,
    pub output: Option<&'a Path>,
    pub json: bool,
}

pub(super) fn align(args: &AlignArgs<'_>) -> Result<(), CliError> {
    let mode =
        AlignMode::from_name(args.mode).filter(|m| *m != AlignMode::Manual).ok_or_else(|| {
            CliError::User(format!("--mode {:?}: choose adr or isochrony", args.mode))
        })?;
    let range = match args.range {
        Some(r) => StretchRange::parse(r).ok_or_else(|| {
            CliError::User(format!("--range {r:?}: expected MIN..MAX, e.g. 0.85..1.20"))
        })?,
        None => StretchRange::default(),
    };
    if !(0.0..=1.0).contains(&args.tightness) {
        return Err(CliError::User("--tightness must be between 0 and 1".into()));
    }
    // Locked before reading: another writer's change cannot land between this read and save.
    let _lock = ProjectLock::acquire(args.output.unwrap_or(args.project), "redub align")?;
    let mut project = Project::load(args.project)?;
    check_output(args.output.unwrap_or(args.project), &media_inputs(&project, args.project))?;
    let dir = project_dir(args.project);
    let id = ClipId(args.clip);
    let clip = project
        .timeline
        .dub_tracks
        .iter()
        .flat_map(|t| &t.clips)
        .find(|c| c.id == id)
        .cloned()
        .ok_or_else(|| CliError::User(format!("no clip with id {} in the project", id.0)))?;
    let dub = decode_mono(&project, &dir, clip.media)?;
    let from = (clip.source_in.to_samples(SAMPLE_RATE).max(0) as usize).min(dub.len());
    let to = (clip.source_out.to_samples(SAMPLE_RATE).max(0) as usize).clamp(from, dub.len());
    let dub = &dub[from..to];
    let original = match project.timeline.original_audio.media {
        Some(m) => Some(decode_mono(&project, &dir, m)?),
        None => None,
    };
    let settings = AlignSettings { mode, range, tightness: args.tightness };
    let a = align_clip(&clip, dub, original.as_deref(), SAMPLE_RATE, &settings)
        .map_err(|e| CliError::User(e.to_string()))?;
    let (warp, position) = (a.warp, a.position);
    let summary = match a.fit {
        Some(fit) => {
            let verdict = match fit.fit {
                Fit::Fits => "fits".to_string(),
                Fit::Short(t) => format!("short by {:.0} ms", t.as_seconds_f64() * 1000.0),
                Fit::Overflow(t) => format!("overflow {:.0} ms", t.as_seconds_f64() * 1000.0),
            };
            serde_json::json!({
                "clip": id.0, "mode": "isochrony", "factor": fit.factor,
                "colour": fit.colour(), "verdict": verdict,
                "slot_s": (a.slot.1 - a.slot.0).as_seconds_f64(),
                "line_s": (fit.length.as_seconds_f64() / fit.factor),
            })
        }
        None => serde_json::json!({
            "clip": id.0, "mode": "adr", "points": warp.points.len(),
            "factor": warp.factor, "tightness": args.tightness,
        }),
    };
    warp.validate().map_err(internal)?;
    let new_position = position;
    for t in &mut project.timeline.dub_tracks {
        if let Some(c) = t.clips.iter_mut().find(|c| c.id == id) {
            c.warp = Some(warp.clone());
            c.position = new_position;
        }
        t.clips.sort_by_key(|c| c.position);
    }
    let out = args.output.unwrap_or(args.project);
    project.save(out)?;
    let mut summary = summary;
    if let Some(o) = summary.as_object_mut() {
        o.insert("position_s".into(), new_position.as_seconds_f64().into());
        o.insert("length_s".into(), warp.output_len().as_seconds_f64().into());
        o.insert("project".into(), out.display().to_string().into());
    }
    if args.json {
        println!("{summary}");
    } else {
        let f = warp.factor;
        match warp.mode {
            AlignMode::Isochrony => println!(
                "clip {}: isochrony factor {f:.3} ({}, {}) at {}; wrote {}",
                id.0,
                summary["colour"].as_str().unwrap_or_default(),
                summary["verdict"].as_str().unwrap_or_default(),
                new_position,
                out.display()
            ),
            _ => println!(
                "clip {}: ADR warp with {} points, overall factor {f:.3}, at {}; wrote {}",
                id.0,
                warp.points.len(),
                new_position,
                out.display()
            ),
        }
    }
    Ok(())
}

/// Reads the cues of a .srt or .vtt file, noting on stderr when it was not UTF-8.
fn read_cues(path: &Path) -> Result<Vec<Cue>, CliError> {
    let (cues, encoding) = lines::read_cues(path)?;
    if encoding == subtitles::TextEncoding::Latin1 {
        eprintln!("redub: note: {}: not UTF-8; read as Latin-1", path.display());
    }
    Ok(cues)
}

/// Dub tracks the app names by default; their clips export without a speaker.
fn is_default_track_name(name: &str) -> bool {
    name.strip_prefix("Dub").is_some_and(|r| r.is_empty() || r.trim().parse::<u32>().is_ok())
}

/// Options of `redub lines import`.
pub(super) struct ImportArgs<'a> {
    pub project: &'a Path,
    pub srt: &'a Path,
    pub folder: &'a Path,
    pub by_name: bool,
    pub markers: bool,
    pub output: Option<&'a Path>,
    pub max_hours: Option<u32>,
}

pub(super) fn lines_import(args: &ImportArgs<'_>) -> Result<(), CliError> {
    let (project_path, srt, folder, by_name) = (args.project, args.srt, args.folder, args.by_name);
    // Locked before reading: another writer's change cannot land between this read and save.
    let _lock = ProjectLock::acquire(args.output.unwrap_or(project_path), "redub lines import")?;
    let mut project = Project::load(project_path)?;
    if let Some(h) = args.max_hours {
        crate::model::validate::check_max_hours(h)
            .map_err(|e| CliError::User(format!("--max-hours: {e}")))?;
        project.timeline.max_hours = Some(h);
    }
    let cues = read_cues(srt)?;
    lines::check_cue_limit(&project, srt, &cues)?;
    let files = lines::audio_files(folder)?;
    let matched = lines::match_files(&cues, &files, by_name, srt, folder)?;
    let report = lines::place_lines(&mut project, &cues, &matched, args.markers, |file| {
        let info = media::probe(file).map_err(|e| e.to_string())?;
        if info.audio.is_none() {
            return Err(format!("{}: has no audio stream", file.display()));
        }
        Ok(info.duration)
    })?;
    let tracks_used = report.tracks;
    let out = args.output.unwrap_or(project_path);
    let mut inputs = media_inputs(&project, project_path);
    inputs.push(Input::new(srt, "the subtitle file being imported"));
    check_output(out, &inputs)?;
    project.save(out)?;
    println!(
        "imported {} lines onto {} dub track(s); wrote {}",
        cues.len(),
        tracks_used.len(),
        out.display()
    );
    Ok(())
}

/// The dub lines of a project as cues: a clip's own cue when it has one, else its span and name.
pub fn project_cues(project: &Project) -> Vec<Cue> {
    let mut cues: Vec<(Time, usize, Cue)> = Vec::new();
    for (order, track) in project.timeline.dub_tracks.iter().enumerate() {
        let speaker = (!is_default_track_name(&track.name)).then(|| track.name.clone());
        for c in &track.clips {
            let (start, end, text) = match &c.cue {
                Some(q) => (q.start, q.end, q.text.clone()),
                None => (c.position, c.end(), c.name.clone()),
            };
            cues.push((start, order, Cue { id: None, start, end, speaker: speaker.clone(), text }));
        }
    }
    cues.sort_by_key(|(t, o, _)| (*t, *o));
    cues.into_iter().map(|(_, _, c)| c).collect()
}

pub(super) fn lines_export(project_path: &Path, output: &Path) -> Result<(), CliError> {
    let format = SubtitleFormat::from_path(output).ok_or_else(|| {
        CliError::User(format!("{}: output must end in .srt or .vtt", output.display()))
    })?;
    let project = Project::load(project_path)?;
    check_output(output, &project_inputs(&project, project_path))?;
    let cues = project_cues(&project);
    std::fs::write(output, subtitles::write(&cues, format))
        .map_err(|e| CliError::User(format!("{}: cannot write: {e}", output.display())))?;
    println!("wrote {} cues to {}", cues.len(), output.display());
    Ok(())
}
