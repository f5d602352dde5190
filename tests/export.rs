//! Export: round trip of a generated project, A/V sync per preset, ranges, cancel, stems.

mod common;

use redub::dsp::measure::{correlation, first_onset, tone_amplitude};
use redub::dsp::{SAMPLE_RATE, gain_to_db};
use redub::jobs::Job;
use redub::media::testsrc::{write_bars_clip, write_flash_beep_clip};
use redub::media::{MediaError, decode_audio, probe};
use redub::model::{FrameRate, MediaKind, Preset, Project, Time};
use redub::render::export::stem_paths;
use redub::render::{RenderError, RenderOptions, render_project};
use std::path::{Path, PathBuf};

const TONE_HZ: f32 = 5000.0;

/// A 10 s 1280x720 25 fps shot with a 5 kHz "original dialogue" tone and two espeak-ng dub lines.
fn round_trip_project(dir: &Path) -> (Project, PathBuf, [PathBuf; 2]) {
    let shot = dir.join("shot.mp4");
    write_bars_clip(&shot, 250, 1280, 720, FrameRate::FPS_25, TONE_HZ).unwrap();
    let l1 = dir.join("line1.wav");
    let l2 = dir.join("line2.wav");
    common::espeak("This is the first replacement line of dialogue.", "en-us", &l1);
    common::espeak("And here comes the second line, a little later.", "en-gb", &l2);
    let out = dir.join("p.redub");
    let args = [
        "new",
        "--video",
        shot.to_str().unwrap(),
        "--dub",
        &format!("{}@1.5", l1.display()),
        "--dub",
        &format!("{}@6", l2.display()),
        "-o",
        out.to_str().unwrap(),
    ];
    let o = common::redub(&args);
    assert!(o.status.success(), "{}", common::stderr(&o));
    (Project::load(&out).unwrap(), out, [l1, l2])
}

#[test]
fn round_trip_render_keeps_frames_timing_dub_and_ducking() {
    let dir = tempfile::tempdir().unwrap();
    let (project, file, lines) = round_trip_project(dir.path());
    assert_eq!(project.timeline.dub_tracks.len(), 1, "two lines that do not overlap share a track");
    assert_eq!(project.timeline.duration, Time::from_millis(10_000));
    let out = dir.path().join("out.mp4");
    let o =
        common::redub(&["render", file.to_str().unwrap(), "-o", out.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let last = common::stdout(&o).lines().last().unwrap().to_string();
    let done: serde_json::Value = serde_json::from_str(&last).unwrap();
    assert_eq!(done["event"], "done");
    assert_eq!(done["frames"], 250);

    let info = probe(&out).unwrap();
    let v = info.video.as_ref().expect("video stream");
    assert!(info.audio.is_some(), "audio stream");
    assert_eq!((v.width, v.height, v.frame_rate), (1280, 720, FrameRate::FPS_25));
    assert!(v.codec.contains("High"), "H.264 High: {}", v.codec);
    let secs = info.duration.as_seconds_f64();
    assert!((secs - 10.0).abs() <= 0.04, "duration {secs} within one frame of 10 s");
    let frames = common::all_frames(&out);
    assert_eq!(frames.len(), 250, "exact frame count");

    let mix = decode_audio(&out, Some(2)).unwrap().mono();
    let rate = SAMPLE_RATE as f64;
    let ducking = project.timeline.ducking;
    for (clip, line) in project.timeline.dub_tracks[0].clips.iter().zip(&lines) {
        let dub = decode_audio(line, Some(2)).unwrap().mono();
        let start = clip.position.to_samples(SAMPLE_RATE) as usize;
        let n = dub.len().min(mix.len() - start);
        let c = correlation(&mix[start..start + n], &dub[..n]);
        println!(
            "dub {} at {:.2} s: correlation {c:.3}",
            line.display(),
            clip.position.as_seconds_f64()
        );
        assert!(c >= 0.9, "dub correlation {c}");
        // The original tone under the dub vs before it (past the attack ramp).
        let attack = (f64::from(ducking.attack_ms) / 1000.0 * rate) as usize;
        let under = &mix[start + 2400..start + n - 2400];
        let before = &mix[start - attack - 24_000..start - attack - 2400];
        let drop = gain_to_db(
            tone_amplitude(under, SAMPLE_RATE, TONE_HZ)
                / tone_amplitude(before, SAMPLE_RATE, TONE_HZ),
        );
        println!("  original under the dub: {drop:.2} dB (depth {} dB)", ducking.depth_db);
        assert!((drop + ducking.depth_db).abs() <= 1.0, "ducked by {drop} dB");
    }
}

/// Time of the flash frame and of the beep onset in an exported file, in seconds.
fn flash_and_beep(path: &Path, has_video: bool) -> (Option<f64>, f64) {
    let flash = has_video.then(|| {
        let frames = common::all_frames(path);
        let f = frames.iter().find(|f| common::mean_luma(f) > 128.0).expect("flash frame");
        f.pts.as_seconds_f64()
    });
    let audio = decode_audio(path, Some(2)).unwrap().mono();
    let onset = first_onset(&audio, 48, 0.1).expect("beep") as f64 / f64::from(SAMPLE_RATE);
    (flash, onset)
}

#[test]
fn av_sync_survives_export_for_every_preset() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("flash.mov");
    let rate = FrameRate::FPS_25;
    write_flash_beep_clip(&src, Preset::Mov, 100, 320, 240, rate, 50).unwrap();
    let mut p = Project::new("sync", rate);
    let id = p.add_media(&src, MediaKind::Video, Time::from_millis(4000)).unwrap();
    p.timeline.video.media = Some(id);
    p.timeline.original_audio.media = Some(id);
    p.timeline.duration = rate.frame_to_time(100);
    let tolerance = 0.001 + 1.0 / 25.0;
    for preset in Preset::ALL {
        let out = dir.path().join(format!("sync_out.{}", preset.extension()));
        let opts = RenderOptions::new(preset, out.clone(), None);
        render_project(&p, dir.path(), &opts, &Job::new(), |_| {}).unwrap();
        let (flash, beep) = flash_and_beep(&out, preset != Preset::WavStems);
        let flash = flash.unwrap_or(2.0); // stems: the flash is at frame 50 of the timeline
        println!(
            "{}: flash {flash:.4} s, beep {beep:.4} s, offset {:.1} ms",
            preset.name(),
            (beep - flash) * 1000.0
        );
        assert!(
            (beep - flash).abs() <= tolerance,
            "{}: A/V offset {} s",
            preset.name(),
            beep - flash
        );
        assert!((flash - 2.0).abs() < 1e-6, "flash stays on frame 50");
    }
}

#[test]
fn range_render_cancel_and_stems() {
    let dir = tempfile::tempdir().unwrap();
    let shot = dir.path().join("shot.mp4");
    write_bars_clip(&shot, 100, 320, 240, FrameRate::FPS_25, 440.0).unwrap();
    let mut p = Project::new("range", FrameRate::FPS_25);
    let id = p.add_media(&shot, MediaKind::Video, Time::from_millis(4000)).unwrap();
    p.timeline.video.media = Some(id);
    p.timeline.original_audio.media = Some(id);
    p.timeline.duration = Time::from_millis(4000);

    let out = dir.path().join("range.mp4");
    let opts = RenderOptions::new(
        Preset::Mp4,
        out.clone(),
        Some((Time::from_millis(1000), Time::from_millis(2000))),
    );
    let report = render_project(&p, dir.path(), &opts, &Job::new(), |_| {}).unwrap();
    assert_eq!(report.frames, 25);
    assert_eq!(common::all_frames(&out).len(), 25);

    // Cancel half-way: an error, no file at the target, no temp file left behind.
    let target = dir.path().join("cancelled.webm");
    let job = Job::new();
    let opts = RenderOptions::new(Preset::Webm, target.clone(), None);
    let err = render_project(&p, dir.path(), &opts, &job, |pr| {
        if pr.done == 40 {
            job.cancel();
        }
    })
    .unwrap_err();
    assert!(matches!(err, RenderError::Media(MediaError::Cancelled)), "{err}");
    assert!(!target.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".part"))
        .collect();
    assert!(leftovers.is_empty(), "temp files left: {leftovers:?}");

    // Stems: dialogue, background and mix, each as long as the timeline.
    let mix = dir.path().join("stems.wav");
    let opts = RenderOptions::new(Preset::WavStems, mix.clone(), None);
    let report = render_project(&p, dir.path(), &opts, &Job::new(), |_| {}).unwrap();
    assert_eq!(report.outputs.len(), 3);
    for path in stem_paths(&mix) {
        let a = decode_audio(&path, Some(2)).unwrap();
        assert_eq!(a.frames(), 4 * 48_000, "{}", path.display());
    }
    let bg = decode_audio(&stem_paths(&mix)[1], Some(2)).unwrap().mono();
    assert!(
        tone_amplitude(&bg[48_000..96_000], SAMPLE_RATE, 440.0) > 0.05,
        "background keeps the original"
    );
    let dialogue = decode_audio(&stem_paths(&mix)[0], Some(2)).unwrap();
    assert!(dialogue.samples.iter().all(|s| s.abs() < 1e-6), "no dub clips: silent dialogue stem");
}

#[test]
fn output_tags_say_made_with_redub() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("flash.mp4");
    write_flash_beep_clip(&src, Preset::Mp4, 10, 160, 120, FrameRate::FPS_25, 5).unwrap();
    let mut p = Project::new("Tagged title", FrameRate::FPS_25);
    let id = p.add_media(&src, MediaKind::Video, Time::from_millis(400)).unwrap();
    p.timeline.video.media = Some(id);
    p.timeline.duration = Time::from_millis(400);
    let out = dir.path().join("tagged.mp4");
    let opts = RenderOptions::new(Preset::Mp4, out.clone(), None);
    render_project(&p, dir.path(), &opts, &Job::new(), |_| {}).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("Tagged title"), "title tag");
    assert!(text.contains("Made with Redub"), "comment tag");
    // faststart: the moov box comes before the media data.
    let moov = bytes.windows(4).position(|w| w == b"moov").unwrap();
    let mdat = bytes.windows(4).position(|w| w == b"mdat").unwrap();
    assert!(moov < mdat, "faststart puts moov first");
}
