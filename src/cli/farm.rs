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

/// Progress of a farm render: JSON lines on stdout with `--json`; else on stderr a bar with the
/// ETA on a terminal, or (a farm worker's log) a line per tenth with the ETA.
struct Progress {
    json: bool,
    what: String,
    bar: Option<indicatif::ProgressBar>,
    last: i64,
    tenth: i64,
    started: std::time::Instant,
}

impl Progress {
    fn new(json: bool, what: String) -> Self {
        use std::io::IsTerminal;
        let bar = (!json && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(&format!(
                    "{what} {{bar:40}} {{pos}}/{{len}}, ETA {{eta}} {{msg}}"
                ))
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Self { json, what, bar, last: -1, tenth: -1, started: std::time::Instant::now() }
    }

    fn update(&mut self, p: crate::render::RenderProgress) {
        if self.json {
            super::commands::json_progress(&p, &mut self.last);
            return;
        }
        if let Some(bar) = &self.bar {
            bar.set_length(p.total.max(0) as u64);
            bar.set_position(p.done.max(0) as u64);
            match &p.planning {
                Some((stage, f)) => bar.set_message(format!("· {stage} {:.0} %", f * 100.0)),
                None => bar.set_message(""),
            }
            return;
        }
        let tenth = p.done * 10 / p.total.max(1);
        if p.planning.is_some() || tenth <= self.tenth {
            return;
        }
        self.tenth = tenth;
        let elapsed = self.started.elapsed().as_secs_f64();
        let left = p.total - p.done;
        let eta = if p.done > 0 && left > 0 {
            format!(", ETA {}", eta_text(elapsed * left as f64 / p.done as f64))
        } else {
            String::new()
        };
        eprintln!(
            "{}: {}% ({}/{}) after {}{eta}",
            self.what,
            tenth * 10,
            p.done,
            p.total,
            eta_text(elapsed)
        );
    }

    fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Seconds as `42 s`, `3 min 05 s` or `1 h 02 min`.
fn eta_text(secs: f64) -> String {
    let s = secs.round().max(0.0) as u64;
    if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else {
        format!("{} h {:02} min", s / 3600, s / 60 % 60)
    }
}

/// `redub plan P`.
/// A render farm's job draws lip edits only of faces with recorded consent: every step runs
/// unattended on other machines, so there is no one to confirm an exception
/// (`--allow-unconsented` is for a single export).
fn require_consent(project: &Project) -> Result<(), CliError> {
    match crate::model::consent::ConsentSummary::of(project, false).unconsented() {
        Some(why) => Err(CliError::User(format!(
            "{why}; a render farm needs the consent recorded (redub faces consent)"
        ))),
        None => Ok(()),
    }
}

pub(super) fn plan(project_path: &Path, json: bool) -> Result<(), CliError> {
    let project = Project::load(project_path)?;
    require_consent(&project)?;
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
    let mut shown = Progress::new(json, format!("frames {first}..{last}"));
    let report = piece::render_piece(
        &project,
        &project_dir(project_path),
        plan,
        preset,
        output,
        (first, last),
        &Job::new(),
        |p| shown.update(p),
    )?;
    shown.finish();
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
    let mut shown = Progress::new(json, "sound".into());
    let report = piece::render_audio(
        &project,
        &project_dir(project_path),
        &key,
        preset,
        output,
        &Job::new(),
        |p| shown.update(p),
    )?;
    shown.finish();
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
    require_consent(&project)?;
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

/// `redub bench --farm P --pieces N`: the CPU time of a farm render (plan, N pieces, the sound,
/// the join; each a `redub` process, run one after the other) against one export of the same
/// project, each side with its own empty analysis cache, and their ratio.
pub(super) fn bench(project_path: &Path, pieces: u32) -> Result<(), CliError> {
    let internal = |e: std::io::Error| CliError::Internal(e.to_string());
    let exe = std::env::current_exe().map_err(internal)?;
    let dir = tempfile::tempdir().map_err(internal)?;
    let project = Project::load(project_path)?;
    // A copy of the project, so the plan is written into the temp folder, not beside it.
    let p = dir.path().join("bench.redub");
    let mut copy = project.clone();
    let from = project_dir(project_path);
    for m in &mut copy.media {
        if let Some(found) = crate::model::project::resolve_media_path(m, &from) {
            m.path = std::path::absolute(&found).map_err(internal)?;
            m.absolute_path = m.path.clone();
        }
    }
    copy.save(&p)?;
    let frames = plan_file::timeline_frames(&copy);
    let pieces = pieces.clamp(1, frames.clamp(1, i64::from(u32::MAX)) as u32);
    // Runs `redub ARGS` with its caches under `cache`: (CPU seconds, wall seconds).
    let run = |args: &[String], cache: &Path| -> Result<(f64, f64), CliError> {
        let cpu0 = super::bench_lips::cpu_seconds().map(|c| c.1);
        let t0 = std::time::Instant::now();
        let out = std::process::Command::new(&exe)
            .args(args)
            .env("REDUB_CACHE_DIR", cache)
            .output()
            .map_err(internal)?;
        let wall = t0.elapsed().as_secs_f64();
        if !out.status.success() {
            return Err(CliError::Internal(format!(
                "redub {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let cpu = super::bench_lips::cpu_seconds().map(|c| c.1).zip(cpu0).map(|(b, a)| b - a);
        Ok((cpu.unwrap_or(f64::NAN), wall))
    };
    let arg = |p: &Path| p.display().to_string();
    let ps = arg(&p);
    let d = dir.path();
    let single = run(
        &["render".into(), ps.clone(), "-o".into(), arg(&d.join("single.mp4"))],
        &d.join("cache-single"),
    )?;
    let cache = d.join("cache-farm");
    let plan = run(&["plan".into(), ps.clone()], &cache)?;
    let mut piece_times = Vec::new();
    let mut piece_files = Vec::new();
    for k in 0..pieces {
        let out = d.join(format!("piece{k}.mp4"));
        let part = format!("{k}/{pieces}");
        let args = ["render".into(), ps.clone(), "--piece".into(), "--part".into(), part]
            .into_iter()
            .chain(["-o".into(), arg(&out)])
            .collect::<Vec<String>>();
        piece_times.push(run(&args, &cache)?);
        piece_files.push(arg(&out));
    }
    let sound = d.join("sound.m4a");
    let audio = run(
        &["render".into(), ps.clone(), "--audio-only".into(), "-o".into(), arg(&sound)],
        &cache,
    )?;
    let mut args = vec!["concat".to_string(), ps.clone()];
    args.extend(piece_files);
    args.extend(["--audio".into(), arg(&sound), "-o".into(), arg(&d.join("joined.mp4"))]);
    let join = run(&args, &cache)?;
    let pieces_cpu: f64 = piece_times.iter().map(|t| t.0).sum();
    let slowest = piece_times.iter().map(|t| t.1).fold(0.0, f64::max);
    let total = plan.0 + pieces_cpu + audio.0 + join.0;
    let per: Vec<String> = piece_times.iter().map(|t| format!("{:.2}", t.0)).collect();
    println!(
        "farm bench {}: {frames} frames in {pieces} piece(s), each step a redub process",
        project_path.display()
    );
    println!("  single export: CPU {:.2} s (wall {:.2} s)", single.0, single.1);
    println!(
        "  farm: plan {:.2} + pieces {:.2} ({}) + sound {:.2} + join {:.2} = CPU {total:.2} s \
         (wall: plan {:.2}, slowest piece {slowest:.2}, sound {:.2}, join {:.2})",
        plan.0,
        pieces_cpu,
        per.join(" + "),
        audio.0,
        join.0,
        plan.1,
        audio.1,
        join.1
    );
    println!("  CPU ratio farm/single: {:.3} (goal <= 1.1)", total / single.0.max(1e-9));
    Ok(())
}
