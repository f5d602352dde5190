//! `redub bench`: export time of a generated 10 s 720p25 project against a `gst-launch-1.0`
//! transcode of the same input with the same encoder settings, measured in one run.

use super::CliError;
use crate::jobs::Job;
use crate::media::encode::X264_PROPS;
use crate::media::testsrc::{write_bars_clip_as, write_wav};
use crate::model::{FrameRate, MediaKind, Preset, Project, Time};
use crate::render::{RenderOptions, render_project};
use std::process::Command;
use std::time::Instant;

fn internal(e: impl std::fmt::Display) -> CliError {
    CliError::Internal(e.to_string())
}

/// Seconds a `gst-launch-1.0` transcode of `input` to MP4 takes, with the encoder settings of
/// redub's MP4 preset.
pub(super) fn gst_transcode(
    input: &std::path::Path,
    output: &std::path::Path,
) -> Result<f64, CliError> {
    let x264: Vec<String> = X264_PROPS.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let desc = format!(
        "filesrc location={} ! decodebin name=d d. ! queue ! videoconvert ! video/x-raw,format=I420 ! x264enc {} \
         ! video/x-h264,profile=high ! h264parse ! queue ! mp4mux faststart=true name=m ! filesink location={} \
         d. ! queue ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 ! {aac} bitrate=192000 ! queue ! m.",
        input.display(),
        x264.join(" "),
        output.display(),
        // The same AAC encoder as the export's MP4 preset.
        aac = crate::media::encode::aac_encoder_name()
            .map_err(|e| CliError::Internal(e.to_string()))?
    );
    let t0 = Instant::now();
    let status =
        Command::new("gst-launch-1.0").arg("-q").args(desc.split_whitespace()).status().map_err(
            |e| CliError::User(format!("gst-launch-1.0: {e} (install gstreamer1.0-tools)")),
        )?;
    if !status.success() {
        return Err(internal(format!("gst-launch-1.0 failed: {status}")));
    }
    Ok(t0.elapsed().as_secs_f64())
}

pub(super) fn run(quick: bool) -> Result<(), CliError> {
    let dir = tempfile::tempdir().map_err(internal)?;
    let shot = dir.path().join("shot.mp4");
    // 8-bit 4:2:0, as cameras and phones record (x264's own choice would be 10-bit 4:4:4).
    write_bars_clip_as(&shot, 250, 1280, 720, FrameRate::FPS_25, 440.0, Some("I420"))?;
    let line = dir.path().join("line.wav");
    let tone: Vec<f32> = (0..48_000 * 2)
        .flat_map(|i| {
            let v = 0.3 * (std::f32::consts::TAU * 220.0 * i as f32 / 48_000.0).sin();
            [v, v]
        })
        .collect();
    write_wav(&line, &tone)?;
    let mut project = Project::new("bench", FrameRate::FPS_25);
    let v = project.add_media(&shot, MediaKind::Video, Time::from_millis(10_000))?;
    let a = project.add_media(&line, MediaKind::Audio, Time::from_millis(2_000))?;
    project.timeline.video.media = Some(v);
    project.timeline.original_audio.media = Some(v);
    project.timeline.duration = Time::from_millis(10_000);
    let t = project.add_dub_track("Dub 1");
    project.add_clip(t, a, Time::from_millis(1_000))?;
    project.add_clip(t, a, Time::from_millis(5_000))?;

    let runs = if quick { 1 } else { 3 };
    let mut export_s = f64::MAX;
    let mut launch_s = f64::MAX;
    let (mut export_cpu, mut launch_cpu) = (f64::MAX, f64::MAX);
    for _ in 0..runs {
        let out = dir.path().join("export.mp4");
        let opts = RenderOptions::new(Preset::Mp4, out, None);
        let (c0, _) = super::bench_lips::cpu_seconds().unwrap_or_default();
        let t0 = Instant::now();
        render_project(&project, dir.path(), &opts, &Job::new(), |_| {})?;
        export_s = export_s.min(t0.elapsed().as_secs_f64());
        export_cpu = export_cpu.min(super::bench_lips::cpu_seconds().unwrap_or_default().0 - c0);

        let (_, k0) = super::bench_lips::cpu_seconds().unwrap_or_default();
        launch_s = launch_s.min(gst_transcode(&shot, &dir.path().join("launch.mp4"))?);
        launch_cpu = launch_cpu.min(super::bench_lips::cpu_seconds().unwrap_or_default().1 - k0);
    }
    println!("bench export 10 s 1280x720 25 fps MP4 (H.264 High + AAC), best of {runs}:");
    println!("  redub render      {export_s:.2} s");
    println!("  gst-launch-1.0    {launch_s:.2} s");
    println!("  ratio             {:.2}", export_s / launch_s);
    println!(
        "  CPU time          redub {export_cpu:.2} s, gst-launch {launch_cpu:.2} s: ratio {:.2}",
        export_cpu / launch_cpu.max(0.01)
    );
    Ok(())
}

/// `redub bench --engine`: the bank engine at 720p on the CPU, on generated frames (a skin-coloured
/// face with a mouth that opens and closes, a 360-pixel-wide face): bank build per frame, and
/// the per-frame render of the patch path as export runs it (own + neighbour patches, colour
/// transfer, occlusion test, composite), with and without the temporal blend of jumped-to
/// neighbours (the blend's cost, measured in the same run).
pub(super) fn lips(quick: bool) -> Result<(), CliError> {
    use crate::analysis::mouth_patch::{canonical, extract_patch_at};
    use crate::lipsync::bank::SelectParams;
    use crate::lipsync::engine::{self, EditMasks, LipSettings, TrackFrame};
    let (w, h, n) = (1280usize, 720usize, if quick { 50 } else { 150 });
    // Canonical face (128 units) scaled ×2.8 → ~360 px wide, centred.
    let landmarks = |i: usize| {
        let dx = (i as f32 * 0.2).sin() * 6.0;
        canonical().map(|p| [p[0] * 2.8 + 460.0 + dx, p[1] * 2.8 + 120.0])
    };
    let frame = |i: usize| -> Vec<u8> {
        let mut f = vec![0u8; w * h * 4];
        let lm = landmarks(i);
        let (mx, my) = ((lm[3][0] + lm[4][0]) / 2.0, (lm[3][1] + lm[4][1]) / 2.0);
        let open = 4.0 + 30.0 * ((i as f32 * 0.7).sin() * 0.5 + 0.5);
        for y in 0..h {
            for x in 0..w {
                let noise = ((x * 7 + y * 13 + i * 3) % 11) as u8;
                let (dx, dy) = ((x as f32 - mx) / 70.0, (y as f32 - my) / open);
                let px = if dx * dx + dy * dy <= 1.0 {
                    [60 + noise, 20, 25, 255]
                } else if (dx * dx + ((y as f32 - my) / (open + 18.0)).powi(2)) <= 1.0 {
                    [170 + noise, 70, 80, 255]
                } else {
                    [200 + noise, 150, 130, 255]
                };
                f[(y * w + x) * 4..(y * w + x) * 4 + 4].copy_from_slice(&px);
            }
        }
        f
    };
    let frames: Vec<Vec<u8>> = (0..n).map(frame).collect();
    let track: Vec<Option<TrackFrame>> =
        (0..n).map(|i| Some(TrackFrame { landmarks: landmarks(i), score: 1.0 })).collect();
    // 78-dim features like the real recipe (3 pools × 26), varied per frame.
    let feature = |i: usize, salt: usize| -> Vec<f32> {
        (0..78).map(|d| (((i * 31 + d * 17 + salt) % 97) as f32 / 48.0) - 1.0).collect()
    };
    let features: Vec<Vec<f32>> = (0..n).map(|i| feature(i, 0)).collect();
    let budget = crate::lipsync::bank::bank_budget_bytes();
    let t0 = Instant::now();
    let (bank, model, cap) =
        engine::build_bank(&track, &features, w, h, |i| frames.get(i).cloned(), |_| false, budget);
    let build_s = t0.elapsed().as_secs_f64();
    let dub: Vec<Option<Vec<f32>>> = (0..n).map(|i| Some(feature(i, 5))).collect();
    let t0 = Instant::now();
    let plan = engine::plan(&bank, &dub, SelectParams::default());
    let plan_s = t0.elapsed().as_secs_f64();
    let settings = LipSettings::default();
    let detail = bank.detail();
    let masks = EditMasks::at(&settings, detail);
    let mut per_frame = [0.0f64; 2];
    // As the renderer keeps them (see `LipTrack::decoded`).
    let decoded = crate::lipsync::bank::DecodedCache::default();
    let jumps = plan.iter().flatten().filter(|p| p.mix.iter().any(Option::is_some)).count();
    for (k, blend) in [false, true].into_iter().enumerate() {
        let t0 = Instant::now();
        for (i, p) in plan.iter().enumerate() {
            let Some(mut p) = *p else { continue };
            if !blend {
                p.mix = [None, None];
            }
            let mut out = frames[i].clone();
            let tf = track[i].ok_or_else(|| internal("no face"))?;
            let patch_at = |j: usize| {
                frames
                    .get(j)
                    .and_then(|f| extract_patch_at(f, w, h, &track[j]?.landmarks, 1))
                    .map(engine::TargetPatch::new)
            };
            // The target and its neighbours at analysis size, as the renderer takes them.
            let own = patch_at(i).ok_or_else(|| internal("degenerate face"))?;
            let (prev, next) = (i.checked_sub(1).and_then(patch_at), patch_at(i + 1));
            if let Some((patch, alpha, to_image)) = engine::prepare_layer(
                &own,
                &tf,
                &bank,
                &decoded,
                p,
                &settings,
                &masks,
                model.as_ref(),
                [prev.as_ref(), next.as_ref()],
                None,
            ) {
                crate::render::compositor::cpu::composite(
                    &mut out, w, h, &patch, &alpha, &to_image,
                );
            }
            std::hint::black_box(&out);
        }
        per_frame[k] = t0.elapsed().as_secs_f64() / n as f64;
    }
    println!("bench lips 1280x720, {n} generated frames, 360 px face, CPU:");
    println!(
        "  bank build        {:.1} ms/frame ({} entries, {:.2} s)",
        build_s * 1000.0 / n as f64,
        bank.entries.len(),
        build_s
    );
    let (pw, ph) = crate::analysis::mouth_patch::detail_dims(detail);
    let per_entry = bank.bytes() as f64 / bank.entries.len().max(1) as f64;
    println!(
        "  patch detail      {detail} ({pw}x{ph} px, 4:2:0: {:.1} KiB per bank entry, {:.1} KiB \
         as RGB; {:.1} MiB bank)",
        per_entry / 1024.0,
        (pw * ph * 3) as f64 / 1024.0,
        bank.bytes() as f64 / 1048576.0
    );
    println!(
        "  bank budget       {:.0} MiB per face (REDUB_BANK_BUDGET_MB) = {} entries = {:.1} min \
         at 25 fps; here {} of {} kept ({} near-duplicates, {} in stretches dropped)",
        budget as f64 / 1048576.0,
        (budget as f64 / per_entry) as usize,
        budget as f64 / per_entry / 25.0 / 60.0,
        bank.entries.len(),
        cap.before,
        cap.near_duplicates,
        cap.stretches
    );
    println!("  plan (kNN+Viterbi) {:.2} ms/frame", plan_s * 1000.0 / n as f64);
    println!(
        "  render, no blend  {:.2} ms/frame ({:.0} fps)",
        per_frame[0] * 1000.0,
        1.0 / per_frame[0]
    );
    println!(
        "  render, blend     {:.2} ms/frame ({:.0} fps; {jumps} of {n} frames blend neighbours)",
        per_frame[1] * 1000.0,
        1.0 / per_frame[1]
    );
    Ok(())
}
