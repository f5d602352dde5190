//! `redub bench --playback VIDEO --dub WAV [--size WxH]`: the viewer's picture path (decode →
//! lip edit → display RGBA, with the "before" picture converted too, as the viewer does) played
//! in real time without a window, counting frames shown in time and frames dropped.
//!
//! Where no window can be opened (a GPU server without a display) this is the playback figure;
//! the real-window figure is `packaging/bench_preview_playback.sh`. The texture upload and the
//! UI's own drawing are not counted here.

use super::CliError;
use super::bench_lips::{internal, lip_project, reframe};
use crate::jobs::Job;
use crate::media::probe;
use crate::render::{graph::FrameRenderer, lips::plan_project_lips};
use std::path::Path;
use std::time::{Duration, Instant};

/// Frames the renderer may run ahead of the clock (the viewer's read-ahead).
const AHEAD: i64 = 3;

/// Plays `seconds` of the shot (from the start, looping) with its first face lip-edited to `dub`.
pub(super) fn playback(
    video: &Path,
    dub: &Path,
    size: Option<(u32, u32)>,
    seconds: f64,
) -> Result<(), CliError> {
    let dir = tempfile::tempdir().map_err(internal)?;
    let input = match size {
        Some((w, h)) => {
            let out = dir.path().join(format!("shot_{w}x{h}.mp4"));
            reframe(video, &out, w as usize, h as usize)?;
            out
        }
        None => video.to_path_buf(),
    };
    let info = probe(&input)?;
    let v = info.video.as_ref().ok_or_else(|| internal("no video"))?;
    let rate = v.frame_rate;
    let fps = rate.as_f64();
    let project = lip_project(&input, dub)?;
    let lips = plan_project_lips(&project, dir.path(), &Job::new())?;
    let mut renderer = FrameRenderer::open(&input, lips)?;
    let frames = renderer.frame_count().max(1);
    // One pass to warm the decoder and the compositor (shader compile, first upload).
    renderer.render(0)?;
    let (mut shown, mut dropped, mut edited) = (0u64, 0u64, 0u64);
    let mut times = Vec::new();
    let mut backend = None;
    let start = Instant::now();
    let mut i = 0i64;
    loop {
        let now = start.elapsed().as_secs_f64();
        if now >= seconds {
            break;
        }
        let due = (now * fps).floor() as i64;
        if i < due {
            // The clock passed these frames before the renderer got to them.
            dropped += (due - i) as u64;
            i = due;
        }
        if i > due + AHEAD {
            std::thread::sleep(Duration::from_secs_f64(((i - AHEAD) as f64 / fps - now).max(0.0)));
            continue;
        }
        let t0 = Instant::now();
        let at = i % frames;
        renderer.source(at)?; // the viewer's "before" picture
        let (_, b) = renderer.render(at)?;
        times.push(t0.elapsed().as_secs_f64());
        if let Some(b) = b {
            edited += 1;
            backend = Some(b.to_string());
        }
        if start.elapsed().as_secs_f64() < (i + 1) as f64 / fps {
            shown += 1;
        } else {
            dropped += 1;
        }
        i += 1;
    }
    times.sort_by(f64::total_cmp);
    let pct = |q: f64| times.get(((times.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(0.0);
    println!(
        "bench playback (no window): {} {}x{} at {fps:.2} fps, {seconds:.0} s from the start, looping",
        input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        v.width,
        v.height,
    );
    println!("  compositor        {}", backend.as_deref().unwrap_or("none (no frame edited)"));
    println!("  frames            {shown} shown in time, {dropped} dropped, {edited} lip-edited");
    println!(
        "  per frame         median {:.2} ms, p95 {:.2} ms, worst {:.2} ms (budget {:.2} ms)",
        pct(0.5) * 1e3,
        pct(0.95) * 1e3,
        pct(1.0) * 1e3,
        1e3 / fps
    );
    Ok(())
}
