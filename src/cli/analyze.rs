//! `redub analyze FILE [--json]`: face tracks and speaking segments of a video.

use super::CliError;
use crate::analysis::{AnalysisError, AnalysisOptions, Source, analyze_file};
use crate::jobs::{Job, Task};
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

impl From<AnalysisError> for CliError {
    fn from(e: AnalysisError) -> Self {
        match &e {
            AnalysisError::Media(m) if !m.is_user_error() => CliError::Internal(e.to_string()),
            AnalysisError::Model(_) => CliError::Internal(e.to_string()),
            _ => CliError::User(e.to_string()),
        }
    }
}

fn options(every: Option<u32>, part_frames: Option<u32>) -> AnalysisOptions {
    let mut opts = AnalysisOptions::default();
    if let Some(k) = every {
        opts.detect_every = k.max(1);
    }
    if let Some(n) = part_frames {
        opts.part_frames = n.max(1);
    }
    opts
}

/// A progress bar on a terminal for `job`, on a small watcher task (the work runs on the
/// caller's thread); receive from it to wait until the bar is cleared.
fn watch(job: &Arc<Job>) -> Option<Task<()>> {
    std::io::stderr()
        .is_terminal()
        .then(|| {
            let job = Arc::clone(job);
            Task::spawn_one("analyze-progress", move |_| {
                let bar = indicatif::ProgressBar::new(1000);
                bar.set_style(
                    indicatif::ProgressStyle::with_template(
                        "analysing {bar:40} {percent}% (ETA {eta})",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                while job.progress() < 1.0 && !job.is_cancelled() {
                    bar.set_position((job.progress() * 1000.0) as u64);
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                bar.finish_and_clear();
            })
            .ok()
        })
        .flatten()
}

/// `redub analyze FILE --range FIRST..END`.
pub(super) fn range(
    file: &Path,
    range: &str,
    every: Option<u32>,
    part_frames: Option<u32>,
) -> Result<(), CliError> {
    let bad = || CliError::User(format!("--range {range:?}: frames FIRST..END, e.g. 0..1500"));
    let (a, b) = range.split_once("..").ok_or_else(bad)?;
    let a: i64 = a.trim().parse().map_err(|_| bad())?;
    let b: i64 = b.trim().parse().map_err(|_| bad())?;
    if a < 0 || b <= a {
        return Err(bad());
    }
    let opts = options(every, part_frames);
    let job = Job::new();
    let watcher = watch(&job);
    let result = crate::analysis::job::analyze_range(file, &opts, &job, (a, b));
    job.set_progress(1.0);
    if let Some(mut w) = watcher {
        w.recv();
    }
    let r = result?;
    let parts = match (r.parts.first(), r.parts.last()) {
        (Some(f), Some(l)) => format!("frames {}..{}", f.0, l.1),
        _ => "no frames (past the end)".into(),
    };
    let mut out = format!(
        "{}: {} part(s) of {} frames for {parts}: {} computed, {} already in the cache; {} of {} \
         part(s) of the file done\n",
        file.display(),
        r.parts.len(),
        opts.part_frames,
        r.computed,
        r.parts.len() - r.computed,
        r.done,
        r.total
    );
    if let Some(w) = &r.whole {
        let _ = writeln!(
            out,
            "the whole analysis is in the cache: {} frames, {} face track(s), {} shot cut(s)",
            w.frame_count,
            w.tracks.len(),
            w.shot_cuts.len()
        );
    }
    emit(&out);
    Ok(())
}

pub(super) fn run(
    file: &Path,
    json: bool,
    every: Option<u32>,
    no_cache: bool,
    part_frames: Option<u32>,
) -> Result<(), CliError> {
    let opts = options(every, part_frames);
    let job = Job::new();
    // A progress bar on a terminal only; the work runs here, the bar on a small watcher task.
    let watcher = if json { None } else { watch(&job) };
    let result = analyze_file(file, &opts, &job, !no_cache);
    job.set_progress(1.0);
    if let Some(mut w) = watcher {
        // Waits for the bar to be cleared before printing.
        w.recv();
    }
    let (a, source) = result?;
    if json {
        let text =
            serde_json::to_string_pretty(&a).map_err(|e| CliError::Internal(e.to_string()))?;
        emit(&format!("{text}\n"));
        return Ok(());
    }
    let fps = a.frame_rate.as_f64();
    let secs = |f: i64| f as f64 / fps;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} frames {}x{} @ {} fps, {} face track(s), {} shot cut(s) [{}]",
        file.display(),
        a.frame_count,
        a.width,
        a.height,
        a.frame_rate,
        a.tracks.len(),
        a.shot_cuts.len(),
        match source {
            Source::Cache => "cached".to_string(),
            Source::Computed => format!(
                "{:.1} fps on {}, full detection every {} frame(s); seconds: decode {:.2}, \
                 downscale {:.2}, detect {:.2}, total {:.2}{}",
                a.stats.frames as f64 / a.stats.total_seconds.max(1e-9),
                a.provider,
                a.options.detect_every,
                a.stats.decode_seconds,
                a.stats.prepare_seconds,
                a.stats.detect_seconds,
                a.stats.total_seconds,
                if a.stats.parts > 1 {
                    format!(
                        "; {} parts, {} resumed from the cache",
                        a.stats.parts, a.stats.parts_reused
                    )
                } else {
                    String::new()
                }
            ),
        }
    );
    for t in &a.tracks {
        let detected = t.frames.iter().filter(|f| !f.filled).count();
        let score = t.frames.iter().filter(|f| !f.filled).map(|f| f.confidence).sum::<f32>()
            / detected.max(1) as f32;
        let _ = writeln!(
            out,
            "  face {}: frames {}..{} ({:.2}-{:.2} s), {} detected + {} filled, mean score {:.3}, median width {:.0} px",
            t.id,
            t.start(),
            t.end(),
            secs(t.start()),
            secs(t.end()),
            detected,
            t.frames.len() - detected,
            score,
            t.median_width()
        );
        let segs: Vec<String> =
            t.speaking.iter().map(|s| format!("{:.2}-{:.2}", secs(s.start), secs(s.end))).collect();
        let speaking = if segs.is_empty() { "none".into() } else { segs.join(", ") };
        let _ = writeln!(out, "    speaking (s): {speaking}");
    }
    emit(&out);
    Ok(())
}

/// CPU seconds this process has used so far (see [`super::bench_lips::cpu_seconds`]).
fn own_cpu_seconds() -> Option<f64> {
    super::bench_lips::cpu_seconds().map(|(own, _)| own)
}

/// `redub analyze FILE --bench N`: `runs` uncached analyses; per run the analysis speed (frames
/// per second of the analysis loop: decode + downscale + detection + tracking) and the wall time
/// including opening the file and loading the detector, then the best and the median.
pub(super) fn bench(file: &Path, runs: u32, every: Option<u32>) -> Result<(), CliError> {
    let mut opts = AnalysisOptions::default();
    if let Some(k) = every {
        opts.detect_every = k.max(1);
    }
    let mut fps = Vec::new();
    let mut out = String::new();
    let mut header = None;
    let mut rate = 25.0;
    for run in 1..=runs.max(1) {
        let (cpu0, t0) = (own_cpu_seconds(), std::time::Instant::now());
        let (a, _) = analyze_file(file, &opts, &Job::new(), false)?;
        let wall = t0.elapsed().as_secs_f64();
        let cpu = own_cpu_seconds().zip(cpu0).map(|(b, a)| b - a);
        rate = a.frame_rate.as_f64();
        let f = a.stats.frames as f64 / a.stats.total_seconds.max(1e-9);
        fps.push(f);
        header.get_or_insert_with(|| {
            format!(
                "analysis bench {}: {} frames {}x{} @ {} fps, {}, full detection every {} frame(s), {} track(s)",
                file.display(),
                a.frame_count,
                a.width,
                a.height,
                a.frame_rate,
                a.provider,
                a.options.detect_every,
                a.tracks.len()
            )
        });
        let _ = writeln!(
            out,
            "  run {run}: {f:.1} fps ({:.2}x real time); loop {:.2} s = decode {:.2} + downscale {:.2} + detect {:.2} + other {:.2}; wall with open {wall:.2} s{}",
            f / rate,
            a.stats.total_seconds,
            a.stats.decode_seconds,
            a.stats.prepare_seconds,
            a.stats.detect_seconds,
            (a.stats.total_seconds
                - a.stats.decode_seconds
                - a.stats.prepare_seconds
                - a.stats.detect_seconds)
                .max(0.0),
            cpu.map_or(String::new(), |c| format!(
                ", CPU {c:.2} s ({:.1} ms/frame)",
                1000.0 * c / a.stats.frames.max(1) as f64
            ))
        );
    }
    let mut sorted = fps.clone();
    sorted.sort_by(f64::total_cmp);
    let best = sorted.last().copied().unwrap_or(0.0);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    emit(&format!(
        "{}\n{out}  best {best:.1} fps ({:.2}x real time), median {median:.1} fps ({:.2}x)\n",
        header.unwrap_or_default(),
        best / rate,
        median / rate
    ));
    Ok(())
}

/// Writes to stdout, ignoring a closed pipe (`redub analyze FILE | head` must not panic).
fn emit(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
