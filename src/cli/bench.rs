//! `redub bench`: export time of a generated 10 s 720p25 project against a `gst-launch-1.0`
//! transcode of the same input with the same encoder settings, measured in one run.

use super::CliError;
use crate::jobs::Job;
use crate::media::encode::X264_PROPS;
use crate::media::testsrc::{write_bars_clip, write_wav};
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
         d. ! queue ! audioconvert ! audioresample ! audio/x-raw,rate=48000,channels=2 ! avenc_aac bitrate=192000 ! queue ! m.",
        input.display(),
        x264.join(" "),
        output.display()
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
    write_bars_clip(&shot, 250, 1280, 720, FrameRate::FPS_25, 440.0)?;
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
    for _ in 0..runs {
        let out = dir.path().join("export.mp4");
        let opts = RenderOptions { preset: Preset::Mp4, output: out, range: None };
        let t0 = Instant::now();
        render_project(&project, dir.path(), &opts, &Job::new(), |_| {})?;
        export_s = export_s.min(t0.elapsed().as_secs_f64());

        launch_s = launch_s.min(gst_transcode(&shot, &dir.path().join("launch.mp4"))?);
    }
    println!("bench export 10 s 1280x720 25 fps MP4 (H.264 High + AAC), best of {runs}:");
    println!("  redub render      {export_s:.2} s");
    println!("  gst-launch-1.0    {launch_s:.2} s");
    println!("  ratio             {:.2}", export_s / launch_s);
    Ok(())
}
