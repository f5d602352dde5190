//! `plan`, `render --piece` / `--audio-only`, `concat` and `farm`: renders spread over machines
//! (see [`crate::render::farm`]).

use super::CliError;
use crate::jobs::Job;
use crate::model::project::project_dir;
use crate::model::{Preset, Project};
use crate::render::farm::jobs::{
    FarmJob, JobFormat, JobSpec, defaults_complete, piece_range, write_job,
};
use crate::render::farm::{join, piece, plan_file};
use std::path::{Path, PathBuf};

/// Progress on stderr for a terminal, or JSON lines on stdout.
fn progress(json: bool) -> impl FnMut(crate::render::RenderProgress) {
    let mut last = -1i64;
    move |p| {
        if json {
            super::commands::json_progress(&p, &mut last);
        }
    }
}

/// `redub plan P`.
pub(super) fn plan(project_path: &Path, json: bool) -> Result<(), CliError> {
    let project = Project::load(project_path)?;
    let target = plan_file::plan_path(project_path);
    crate::media::encode::check_writable(&target)?;
    let key = plan_file::make_plan(&project, &project_dir(project_path), &target, &Job::new())?;
    if json {
        println!(
            "{}",
            serde_json::json!({"event": "done", "plan": target.display().to_string(), "key": key,
                "frames": plan_file::timeline_frames(&project)})
        );
    } else {
        println!(
            "wrote {} (plan {key}, {} frames)",
            target.display(),
            plan_file::timeline_frames(&project)
        );
    }
    Ok(())
}

fn preset_for(name: Option<&str>, output: &Path, project: &Project) -> Result<Preset, CliError> {
    let preset = match name {
        Some(p) => Preset::from_name(p).ok_or_else(|| {
            CliError::User(format!("unknown preset {p:?}; choose mp4, webm or mov"))
        })?,
        None => output
            .extension()
            .and_then(|e| match e.to_string_lossy().to_ascii_lowercase().as_str() {
                "m4a" => Some(Preset::Mp4),
                other => Preset::from_name(other),
            })
            .unwrap_or(project.export.preset),
    };
    if preset == Preset::WavStems {
        return Err(CliError::User(
            "farm renders are mp4, webm or mov; render WAV stems with `redub render` in one go"
                .into(),
        ));
    }
    Ok(preset)
}

/// Frames `a..b` (integers) or a part `K/N`.
fn piece_frames(
    range: Option<&str>,
    part: Option<&str>,
    frames: i64,
) -> Result<(i64, i64), CliError> {
    match (range, part) {
        (Some(_), Some(_)) => Err(CliError::User("give --range or --part, not both".into())),
        (Some(r), None) => {
            let bad = || {
                CliError::User(format!(
                    "--range {r:?}: a piece takes frames FIRST..END, e.g. 0..250"
                ))
            };
            let (a, b) = r.split_once("..").ok_or_else(bad)?;
            let a: i64 = a.trim().parse().map_err(|_| bad())?;
            let b: i64 = b.trim().parse().map_err(|_| bad())?;
            Ok((a, b))
        }
        (None, Some(p)) => {
            let bad = || CliError::User(format!("--part {p:?}: expected K/N, e.g. 0/4 (K from 0)"));
            let (k, n) = p.split_once('/').ok_or_else(bad)?;
            let k: u32 = k.trim().parse().map_err(|_| bad())?;
            let n: u32 = n.trim().parse().map_err(|_| bad())?;
            if n == 0 || k >= n || i64::from(n) > frames {
                return Err(CliError::User(format!(
                    "--part {p}: K must be below N, and N at most the timeline's {frames} frames"
                )));
            }
            Ok(piece_range(frames, k, n))
        }
        (None, None) => {
            Err(CliError::User("--piece needs --range FIRST..END (frames) or --part K/N".into()))
        }
    }
}

fn create_parent(output: &Path) -> Result<(), CliError> {
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError::User(format!("{}: {e}", dir.display())))?;
    }
    Ok(())
}

/// `redub render P --piece (--range a..b | --part K/N) -o piece`.
pub(super) fn render_piece(
    project_path: &Path,
    output: &Path,
    preset: Option<&str>,
    range: Option<&str>,
    part: Option<&str>,
    json: bool,
) -> Result<(), CliError> {
    let project = Project::load(project_path)?;
    let preset = preset_for(preset, output, &project)?;
    let plan = plan_file::load_plan(&plan_file::plan_path(project_path), &project)?;
    let (first, last) = piece_frames(range, part, plan.frames)?;
    create_parent(output)?;
    let report = piece::render_piece(
        &project,
        &project_dir(project_path),
        plan,
        preset,
        output,
        (first, last),
        &Job::new(),
        progress(json),
    )?;
    done(json, &report.outputs, format!("frames {first}..{last}"))
}

/// `redub render P --audio-only -o sound`.
pub(super) fn render_audio(
    project_path: &Path,
    output: &Path,
    preset: Option<&str>,
    json: bool,
) -> Result<(), CliError> {
    let project = Project::load(project_path)?;
    let preset = preset_for(preset, output, &project)?;
    create_parent(output)?;
    let key = plan_file::project_key(&project);
    let report = piece::render_audio(
        &project,
        &project_dir(project_path),
        &key,
        preset,
        output,
        &Job::new(),
        progress(json),
    )?;
    done(json, &report.outputs, "the whole sound".into())
}

fn done(json: bool, outputs: &[PathBuf], what: String) -> Result<(), CliError> {
    for o in outputs {
        if json {
            println!(
                "{}",
                serde_json::json!({"event": "done", "outputs": [o.display().to_string()], "what": what})
            );
        } else {
            println!("wrote {} ({what})", o.display());
        }
    }
    Ok(())
}

/// `redub concat P PIECES... --audio SOUND -o OUT`.
pub(super) fn concat(
    project_path: &Path,
    pieces: &[PathBuf],
    audio: Option<&Path>,
    output: &Path,
    preset: Option<&str>,
) -> Result<(), CliError> {
    let project = Project::load(project_path)?;
    let preset = preset_for(preset, output, &project)?;
    let out = join::concat(&project, preset, pieces, audio, output, &Job::new())?;
    println!("wrote {} ({} pieces joined)", out.display(), pieces.len());
    Ok(())
}

/// `redub farm`'s arguments.
pub(super) struct FarmArgs<'a> {
    pub project: &'a Path,
    pub pieces: u32,
    pub output: &'a Path,
    pub format: Option<&'a str>,
    pub sshlogin: Option<&'a str>,
    pub render_to: Option<&'a Path>,
    pub pieces_dir: Option<&'a Path>,
    pub preset: Option<&'a str>,
}

/// `redub farm P --pieces N -o job.yaml`.
pub(super) fn farm(args: &FarmArgs<'_>) -> Result<(), CliError> {
    let project = Project::load(args.project)?;
    let format = match args.format {
        Some(f) => JobFormat::from_name(f).ok_or_else(|| {
            CliError::User(format!("--format {f:?}: choose openjd, slurm or parallel"))
        })?,
        None => match args.output.extension().and_then(|e| e.to_str()) {
            Some("sh") => JobFormat::Parallel,
            _ => JobFormat::OpenJd,
        },
    };
    if args.sshlogin.is_some() && format != JobFormat::Parallel {
        return Err(CliError::User("--sshlogin is for --format parallel".into()));
    }
    let preset = preset_for(args.preset, args.render_to.unwrap_or(Path::new("")), &project)?;
    let spec = JobSpec {
        pieces: args.pieces,
        preset: Some(preset),
        render_to: args.render_to.map(Path::to_path_buf),
        pieces_dir: args.pieces_dir.map(Path::to_path_buf),
        sshlogin: args.sshlogin.map(str::to_string),
    };
    let job = FarmJob::new(&project, args.project, args.output, &spec)
        .map_err(|e| CliError::User(format!("--{e}")))?;
    let written = write_job(&job, args.output, format).map_err(CliError::User)?;
    if format == JobFormat::OpenJd && !defaults_complete(&job) {
        println!(
            "some paths lie outside the job file's folder, where a template cannot name them: \
             run it with `openjd run {} --job-param file://{}`",
            args.output.display(),
            written.last().map(|p| p.display().to_string()).unwrap_or_default()
        );
    }
    println!(
        "wrote {} ({} pieces of {} frames; the result goes to {})",
        args.output.display(),
        job.pieces,
        plan_file::timeline_frames(&project),
        job.output.display()
    );
    Ok(())
}
