//! `redub bench --composite`: lip-edit composite time per frame, CPU reference vs the GPU
//! compositor (whatever adapter wgpu finds: Mesa lavapipe here), at 720p and 1080p.
//!
//! `redub bench --lips VIDEO --dub WAV`: export time of a project with a lip edit (the dub bound
//! to the shot's first face) against a `gst-launch-1.0` transcode of the same input with the
//! same encoder settings, for the shot as it is and re-framed to 1280×720.

use super::CliError;
use crate::analysis::mouth_patch::{PATCH_H, PATCH_W, Patch, Region, Similarity, region_mask};
use crate::jobs::Job;
use crate::media::encode::{Writer, WriterConfig};
use crate::media::{VideoDecoder, decode_audio, probe};
use crate::model::lip::FaceId;
use crate::model::{MediaKind, Preset, Project, Time};
use crate::render::compositor::gpu::GpuCompositor;
use crate::render::compositor::{PatchLayer, composite_cpu};
use crate::render::{RenderOptions, render_project};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub(super) fn internal(e: impl std::fmt::Display) -> CliError {
    CliError::Internal(e.to_string())
}

/// A frame with texture everywhere (so no compositor can skip work on flat colour).
fn test_frame(w: usize, h: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(w * h * 4);
    for y in 0..h {
        for x in 0..w {
            f.extend_from_slice(&[
                (x * 255 / w) as u8,
                (y * 255 / h) as u8,
                ((x ^ y) & 255) as u8,
                255,
            ]);
        }
    }
    f
}

/// Composite time per frame, CPU vs GPU, at 720p and 1080p: one mouth layer (lips + jaw region,
/// feathered) the size a frontal face has when it fills about half the frame height.
pub(super) fn composite(frames: usize) -> Result<(), CliError> {
    let gpu = GpuCompositor::new_allow_software();
    let patch = Patch {
        rgb: (0..PATCH_W * PATCH_H)
            .map(|i| {
                let (u, v) = ((i % PATCH_W) as f32, (i / PATCH_W) as f32);
                [120.0 + u, 60.0 + v, 90.0 + (u + v) * 0.5]
            })
            .collect(),
    };
    let alpha = region_mask(Region::LipsJaw, 6.0);
    println!(
        "bench composite: one lip layer per frame, mean of {frames} frames after 3 warm-up frames"
    );
    match &gpu {
        Ok(g) => println!("  GPU adapter: {}", g.adapter_name()),
        Err(e) => println!("  GPU: none ({e})"),
    }
    for (w, h) in [(1280usize, 720usize), (1920, 1080)] {
        let frame = test_frame(w, h);
        // The patch (128 canonical units) ≈ 0.4 of the frame height.
        let scale = 0.4 * h as f32 / PATCH_W as f32;
        let angle = 0.08f32;
        let to_image = Similarity {
            a: scale * angle.cos(),
            b: scale * angle.sin(),
            tx: w as f32 * 0.5 - scale * PATCH_W as f32 * 0.5,
            ty: h as f32 * 0.5,
        };
        let layers = [PatchLayer { patch: &patch, alpha: &alpha, to_image }];
        let time = |f: &mut dyn FnMut(&mut Vec<u8>)| -> f64 {
            let mut total = 0.0;
            for k in 0..frames + 3 {
                let mut buf = frame.clone();
                let t0 = Instant::now();
                f(&mut buf);
                if k >= 3 {
                    total += t0.elapsed().as_secs_f64();
                }
            }
            total / frames as f64
        };
        let cpu = time(&mut |b| composite_cpu(b, w, h, &layers));
        let gpu_t = match &gpu {
            Ok(g) => {
                let mut failed = None;
                let t = time(&mut |b| {
                    if let Err(e) = g.composite(b, w, h, &layers) {
                        failed = Some(e.to_string());
                    }
                });
                if let Some(e) = failed {
                    return Err(internal(format!("GPU composite failed: {e}")));
                }
                let (mut c, mut gg) = (frame.clone(), frame.clone());
                composite_cpu(&mut c, w, h, &layers);
                g.composite(&mut gg, w, h, &layers).map_err(internal)?;
                let worst = c.iter().zip(&gg).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
                Some((t, worst))
            }
            Err(_) => None,
        };
        print!("  {w}x{h}: CPU {:.2} ms/frame ({:.0} fps)", cpu * 1e3, 1.0 / cpu);
        match gpu_t {
            Some((t, worst)) => println!(
                ", GPU {:.2} ms/frame ({:.0} fps, upload + draw + readback), GPU/CPU {:.2}, max diff {worst}/255",
                t * 1e3,
                1.0 / t,
                t / cpu
            ),
            None => println!(),
        }
    }
    Ok(())
}

/// Re-frames a shot to `w`×`h` as MP4 (centred, cropped or padded with black), with its audio,
/// so the benchmarks also run at 720p or 1080p on real footage.
pub(super) fn reframe(src: &Path, out: &Path, w: usize, h: usize) -> Result<(), CliError> {
    let mut dec = VideoDecoder::open(src)?;
    let (sw, sh) = dec.size();
    let (sw, sh) = (sw as usize, sh as usize);
    let rate = dec.frame_rate();
    let cfg = WriterConfig {
        preset: Preset::Mp4,
        video: Some((w as u32, h as u32, rate)),
        tags: Default::default(),
        keyframe_interval: None,
    };
    let mut writer = Writer::create(out, &cfg)?;
    let audio = decode_audio(src, Some(2))?;
    let (ox, oy) = (w as i64 / 2 - sw as i64 / 2, h as i64 / 2 - sh as i64 / 2);
    for i in 0..dec.frame_count() {
        let f = dec.frame(i)?;
        let mut canvas = vec![0u8; w * h * 4];
        for y in 0..h {
            let sy = y as i64 - oy;
            if sy < 0 || sy >= sh as i64 {
                continue;
            }
            for x in 0..w {
                let sx = x as i64 - ox;
                if sx >= 0 && sx < sw as i64 {
                    let s = (sy as usize * sw + sx as usize) * 4;
                    canvas[(y * w + x) * 4..(y * w + x) * 4 + 4].copy_from_slice(&f.data[s..s + 4]);
                }
            }
        }
        writer.push_frame(&canvas)?;
        let s0 = (rate.frame_to_time(i).to_samples(48_000).max(0) as usize).min(audio.frames());
        let s1 = (rate.frame_to_time(i + 1).to_samples(48_000).max(0) as usize).min(audio.frames());
        writer.push_audio(&audio.samples[s0 * 2..s1 * 2])?;
    }
    writer.finish()?;
    Ok(())
}

/// A project on `video` with `dub` at 0.2 s bound to its first face, the shot's face analysis
/// already cached.
pub(super) fn lip_project(video: &Path, dub: &Path) -> Result<Project, CliError> {
    let mut p = shot_project("bench-lips", video)?;
    let d = probe(dub)?;
    let a = p.add_media(dub, MediaKind::Audio, d.duration)?;
    let t = p.add_dub_track("Dub 1");
    p.add_clip(t, a, Time::from_millis(200))?;
    p.timeline.dub_tracks[0].face = Some(FaceId(0));
    // The face analysis runs once at import in the editor (cached): warm the cache so the
    // figures are the render's own work (bank, selection, render, encode).
    crate::analysis::job::analyze_file(
        video,
        &crate::analysis::pipeline::AnalysisOptions::default(),
        &Job::new(),
        true,
    )
    .map_err(internal)?;
    Ok(p)
}

/// A project named `name` on `video`: its picture and its sound as the original, as long as the
/// video.
pub(super) fn shot_project(name: &str, video: &Path) -> Result<Project, CliError> {
    let info = probe(video)?;
    let v = info
        .video
        .as_ref()
        .ok_or_else(|| CliError::User(format!("{} has no video", video.display())))?;
    let mut p = Project::new(name, v.frame_rate);
    let vid = p.add_media(video, MediaKind::Video, info.duration)?;
    p.timeline.video.media = Some(vid);
    p.timeline.original_audio.media = Some(vid);
    p.timeline.duration = info.duration;
    Ok(p)
}

/// CPU seconds used so far (user + system) by this process (all threads) and by its waited-for
/// children, from `/proc/self/stat` (clock ticks of 1/100 s, USER_HZ on every common Linux
/// configuration); `None` where it cannot be read.
pub(super) fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (in parentheses, may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // utime, stime, cutime, cstime are fields 14..17, i.e. 11..14 here.
    let at = |k: usize| Some(f.get(k)?.parse::<f64>().ok()? / 100.0);
    Some((at(11)? + at(12)?, at(13)? + at(14)?))
}

/// Export with lip edits vs a gst-launch transcode of the same input, best of `runs`.
/// With `size`, only the shot re-framed to that size; else the shot as it is and at 1280×720.
pub(super) fn lips_export(
    video: &Path,
    dub: &Path,
    runs: usize,
    size: Option<(u32, u32)>,
) -> Result<(), CliError> {
    let dir = tempfile::tempdir().map_err(internal)?;
    let (w, h) = size.unwrap_or((1280, 720));
    let framed = dir.path().join(format!("shot_{w}x{h}.mp4"));
    reframe(video, &framed, w as usize, h as usize)?;
    let inputs: Vec<PathBuf> =
        if size.is_some() { vec![framed] } else { vec![video.to_path_buf(), framed] };
    for input in &inputs {
        let info = probe(input)?;
        let v = info.video.as_ref().ok_or_else(|| internal("no video"))?;
        let project = lip_project(input, dub)?;
        let (mut export_s, mut plan_s, mut launch_s) = (f64::MAX, f64::MAX, f64::MAX);
        let (mut export_cpu, mut launch_cpu) = (f64::MAX, f64::MAX);
        let mut compositor = None;
        let mut timing = None;
        for _ in 0..runs {
            let t0 = Instant::now();
            let lips = crate::render::lips::plan_project_lips(&project, dir.path(), &Job::new())?;
            plan_s = plan_s.min(t0.elapsed().as_secs_f64());
            drop(lips);
            let opts = RenderOptions::new(Preset::Mp4, dir.path().join("export.mp4"), None);
            let (c0, _) = cpu_seconds().unwrap_or_default();
            let t0 = Instant::now();
            let report = render_project(&project, dir.path(), &opts, &Job::new(), |_| {})?;
            let took = t0.elapsed().as_secs_f64();
            if took < export_s {
                timing = report.timing;
            }
            export_s = export_s.min(took);
            export_cpu = export_cpu.min(cpu_seconds().unwrap_or_default().0 - c0);
            compositor = report.compositor;
            let (_, k0) = cpu_seconds().unwrap_or_default();
            launch_s =
                launch_s.min(super::bench::gst_transcode(input, &dir.path().join("launch.mp4"))?);
            launch_cpu = launch_cpu.min(cpu_seconds().unwrap_or_default().1 - k0);
        }
        println!(
            "bench export with lip edit: {} ({}x{}, {:.1} s), MP4 (H.264 High + AAC), best of {runs}:",
            input.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            v.width,
            v.height,
            info.duration.as_seconds_f64()
        );
        println!(
            "  compositor        {}",
            compositor.as_deref().unwrap_or("none (no frame edited)")
        );
        println!(
            "  redub render      {export_s:.2} s (of which lip plan: bank + selection {plan_s:.2} s)"
        );
        if let Some(t) = timing {
            println!(
                "  export thread     start {:.2} s (sources, open, lip plan), waiting for frames {:.2} s, to the encoder {:.2} s, finish {:.2} s; decoding {:.2} s",
                t.start, t.wait, t.write, t.finish, t.decode
            );
        }
        println!("  gst-launch-1.0    {launch_s:.2} s");
        println!("  ratio             {:.2} (goal <= 1.3)", export_s / launch_s);
        println!(
            "  CPU time          redub {export_cpu:.2} s, gst-launch {launch_cpu:.2} s: ratio {:.2} (less sensitive to other load)",
            export_cpu / launch_cpu.max(0.01)
        );
    }
    Ok(())
}

/// Peak resident memory since the last [`reset_peak_rss`], MiB (`VmHWM` of /proc/self/status).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Starts a new peak-memory window (Linux ≥ 4.0: writing 5 to clear_refs resets `VmHWM`).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Loops `src` (picture and sound) into an MP4 of `seconds` at its own size.
fn loop_shot(src: &Path, out: &Path, seconds: f64) -> Result<i64, CliError> {
    let mut dec = VideoDecoder::open(src)?;
    let (w, h) = dec.size();
    let rate = dec.frame_rate();
    let cfg = WriterConfig {
        preset: Preset::Mp4,
        video: Some((w, h, rate)),
        tags: Default::default(),
        keyframe_interval: None,
    };
    let mut writer = Writer::create(out, &cfg)?;
    let audio = decode_audio(src, Some(2))?;
    let n = dec.frame_count().max(1);
    let total = rate.time_to_frame(Time::from_seconds_f64(seconds));
    let samples = |i: i64| rate.frame_to_time(i).to_samples(48_000).max(0) as usize;
    for k in 0..total {
        // Forth and back, so the loop points do not jump.
        let lap = k / n;
        let i = if lap % 2 == 0 { k % n } else { n - 1 - k % n };
        let f = dec.frame(i)?;
        writer.push_frame(&f.data)?;
        let (s0, s1) = (samples(k), samples(k + 1));
        let len = audio.frames().max(1);
        let chunk: Vec<f32> = (s0..s1)
            .flat_map(|s| {
                let j = s % len;
                [
                    audio.samples.get(j * 2).copied().unwrap_or(0.0),
                    audio.samples.get(j * 2 + 1).copied().unwrap_or(0.0),
                ]
            })
            .collect();
        writer.push_audio(&chunk)?;
    }
    writer.finish()?;
    Ok(total)
}

/// `redub bench --lips VIDEO --dub WAV --long-shot MINUTES`: the shot looped to `minutes`, two
/// 10 s cuts of the dub at a third and two thirds of it bound to the first face; export time to
/// the first frame, total time and peak memory with the lip edit against a plain export of the
/// same shot (the analysis is run first and cached, as the editor does at import).
pub(super) fn long_shot(video: &Path, dub: &Path, minutes: f64) -> Result<(), CliError> {
    let dir = tempfile::tempdir().map_err(internal)?;
    let shot = dir.path().join("long_shot.mp4");
    let t0 = Instant::now();
    let frames = loop_shot(video, &shot, minutes * 60.0)?;
    println!(
        "bench long shot: {} looped to {minutes} min ({frames} frames) in {:.0} s",
        video.display(),
        t0.elapsed().as_secs_f64()
    );
    let t0 = Instant::now();
    crate::analysis::job::analyze_file(
        &shot,
        &crate::analysis::pipeline::AnalysisOptions::default(),
        &Job::new(),
        true,
    )
    .map_err(internal)?;
    println!("  face analysis (cached for the renders) {:.0} s", t0.elapsed().as_secs_f64());
    let mut project = shot_project("bench-long-shot", &shot)?;
    let d = probe(dub)?;
    let a = project.add_media(dub, MediaKind::Audio, d.duration)?;
    let t = project.add_dub_track("Dub 1");
    let cut = Time::from_seconds_f64(10.0).min(d.duration);
    let length = project.timeline.duration.as_seconds_f64();
    for at in [length / 3.0, 2.0 * length / 3.0] {
        let id = project.add_clip(t, a, Time::from_seconds_f64(at))?;
        if let Some(c) = project.timeline.dub_tracks[0].clips.iter_mut().find(|c| c.id == id) {
            c.source_out = c.source_in + cut;
        }
    }
    let run = |project: &Project, name: &str| -> Result<(f64, f64, Option<f64>), CliError> {
        let opts = RenderOptions::new(Preset::Mp4, dir.path().join(name), None);
        let reset = reset_peak_rss();
        let t0 = Instant::now();
        let mut first = None;
        render_project(project, dir.path(), &opts, &Job::new(), |p| {
            if p.done == 1 {
                first = Some(t0.elapsed().as_secs_f64());
            }
        })?;
        let total = t0.elapsed().as_secs_f64();
        Ok((first.unwrap_or(total), total, peak_rss_mib().filter(|_| reset)))
    };
    let mib = |m: Option<f64>| m.map_or("n/a".into(), |m| format!("{m:.0} MiB"));
    let plain = run(&project, "plain.mp4")?;
    project.timeline.dub_tracks[0].face = Some(FaceId(0));
    // Cold: the shot's bank and lip shapes are made during the export (a CLI render of a shot
    // never previewed). Warm: they are cached, as after the editor's preview planned the edit.
    let forgotten = forget_lip_caches(&shot)?;
    let cold = run(&project, "lips-cold.mp4")?;
    let warm = run(&project, "lips-warm.mp4")?;
    println!(
        "  plain export      first frame {:.1} s, total {:.1} s, peak RSS {}",
        plain.0,
        plain.1,
        mib(plain.2)
    );
    for (name, lips) in [("lip edit, cold", cold), ("lip edit, warm", warm)] {
        println!(
            "  {name:<16}  first frame {:.1} s (goal <= 30), total {:.1} s, ratio {:.2} (goal <= 1.3), peak RSS {} (goal <= 1536 MiB)",
            lips.0,
            lips.1,
            lips.1 / plain.1.max(1e-9),
            mib(lips.2)
        );
    }
    println!(
        "  (cold: {forgotten} cached bank / lip-shape file(s) of the shot removed first; warm: the same export again)"
    );
    Ok(())
}

/// Removes the cached banks and lip shapes of `video` (keyed by its content hash), so the next
/// lip export builds them; returns how many files went.
fn forget_lip_caches(video: &Path) -> Result<usize, CliError> {
    let hash = crate::model::hash::content_hash(video).map_err(internal)?;
    let hex = hash.trim_start_matches("sha256:").to_string();
    let dirs = [
        (crate::lipsync::cache::cache_dir(), hex.clone()),
        (crate::analysis::cache::cache_dir(), format!("lips-{hex}")),
    ];
    let mut removed = 0;
    for (dir, prefix) in dirs {
        let Some(entries) = dir.and_then(|d| std::fs::read_dir(d).ok()) else { continue };
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                std::fs::remove_file(e.path()).map_err(internal)?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}
