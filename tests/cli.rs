//! The command line: bad input gives exit 1, one line naming the file, and overwrites nothing.

mod common;

use common::{redub, stderr, stdout};
use redub::jobs::Job;
use redub::media::testsrc::write_bars_clip;
use redub::model::{FrameRate, Preset, Project};
use redub::render::{RenderOptions, render_project};
use std::path::Path;

fn assert_user_error(o: &std::process::Output, names: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit code; stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(names), "message names {names}: {err}");
}

fn make_project(dir: &Path) -> std::path::PathBuf {
    let shot = dir.join("shot.mp4");
    write_bars_clip(&shot, 50, 320, 240, FrameRate::FPS_25, 440.0).unwrap();
    let p = dir.join("p.redub");
    let o = redub(&["new", "--video", shot.to_str().unwrap(), "-o", p.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    p
}

#[test]
fn bad_inputs_are_user_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let project = make_project(d);

    // A text file named .mp4, a missing file.
    let notes = d.join("notes.mp4");
    std::fs::write(&notes, "not a video").unwrap();
    assert_user_error(&redub(&["probe", notes.to_str().unwrap()]), "notes.mp4");
    assert_user_error(&redub(&["probe", d.join("gone.mp4").to_str().unwrap()]), "gone.mp4");
    let made = d.join("made.redub");
    assert_user_error(
        &redub(&["new", "--video", notes.to_str().unwrap(), "-o", made.to_str().unwrap()]),
        "notes.mp4",
    );
    assert!(!made.exists());

    // Truncated MP4s: moov at the end (cut off) and moov first (pictures missing).
    let whole = std::fs::read(d.join("shot.mp4")).unwrap();
    let cut = d.join("cut.mp4");
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    assert_user_error(&redub(&["probe", cut.to_str().unwrap()]), "cut.mp4");
    let fs = d.join("faststart.mp4");
    let opts = RenderOptions::new(Preset::Mp4, fs.clone(), None);
    render_project(&Project::load(&project).unwrap(), d, &opts, &Job::new(), |_| {}).unwrap();
    let whole = std::fs::read(&fs).unwrap();
    let cut_fs = d.join("cut_faststart.mp4");
    std::fs::write(&cut_fs, &whole[..whole.len() / 3]).unwrap();
    assert_user_error(
        &redub(&["new", "--video", cut_fs.to_str().unwrap(), "-o", made.to_str().unwrap()]),
        "cut_faststart.mp4",
    );

    // Unwritable outputs.
    let out = d.join("no/such/folder/out.mp4");
    assert_user_error(
        &redub(&["render", project.to_str().unwrap(), "-o", out.to_str().unwrap()]),
        "out.mp4",
    );
    assert_user_error(
        &redub(&["render", project.to_str().unwrap(), "-o", "/proc/redub-out.mp4"]),
        "redub-out.mp4",
    );

    // Future schema and malformed JSON: clear errors, files untouched.
    let future = d.join("future.redub");
    let text = std::fs::read_to_string(&project)
        .unwrap()
        .replace("\"schema_version\": 1", "\"schema_version\": 7");
    std::fs::write(&future, &text).unwrap();
    let existing_out = d.join("existing.mp4");
    std::fs::write(&existing_out, b"precious").unwrap();
    let o = redub(&["render", future.to_str().unwrap(), "-o", existing_out.to_str().unwrap()]);
    assert_user_error(&o, "future.redub");
    assert!(stderr(&o).contains("newer"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&future).unwrap(), text);
    assert_eq!(std::fs::read(&existing_out).unwrap(), b"precious");
    let bad = d.join("bad.redub");
    std::fs::write(&bad, "{ \"schema_version\": 1, \n nope }").unwrap();
    let o = redub(&["render", bad.to_str().unwrap(), "-o", existing_out.to_str().unwrap()]);
    assert_user_error(&o, "bad.redub");
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&existing_out).unwrap(), b"precious");

    // A project whose media went missing: error naming the media, output untouched.
    std::fs::rename(d.join("shot.mp4"), d.join("moved.mp4")).unwrap();
    let o = redub(&["render", project.to_str().unwrap(), "-o", existing_out.to_str().unwrap()]);
    assert_user_error(&o, "shot.mp4");
    assert_eq!(std::fs::read(&existing_out).unwrap(), b"precious");
    let leftovers = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".part"))
        .count();
    assert_eq!(leftovers, 0);

    // Option mistakes.
    std::fs::rename(d.join("moved.mp4"), d.join("shot.mp4")).unwrap();
    assert_user_error(
        &redub(&["render", project.to_str().unwrap(), "-o", "x.mp4", "--preset", "avi"]),
        "avi",
    );
    assert_user_error(
        &redub(&["render", project.to_str().unwrap(), "-o", "x.mp4", "--range", "5..2"]),
        "5..2",
    );
    let o = redub(&[
        "new",
        "--video",
        d.join("shot.mp4").to_str().unwrap(),
        "-o",
        project.to_str().unwrap(),
    ]);
    assert_user_error(&o, "--force");
}

#[test]
fn probe_json_and_render_progress_json() {
    let dir = tempfile::tempdir().unwrap();
    let project = make_project(dir.path());
    let o = redub(&["probe", "--json", dir.path().join("shot.mp4").to_str().unwrap()]);
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["video"]["width"], 320);
    assert_eq!(v["video"]["frame_rate"]["num"], 25);
    assert_eq!(v["audio"]["sample_rate"], 48_000);

    let out = dir.path().join("half.webm");
    let o = redub(&[
        "render",
        project.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--range",
        "0.5..1.5",
        "--json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let events: Vec<serde_json::Value> =
        stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(events.len() >= 3);
    let fractions: Vec<f64> = events
        .iter()
        .filter(|e| e["event"] == "progress")
        .map(|e| e["fraction"].as_f64().unwrap())
        .collect();
    assert!(fractions.windows(2).all(|w| w[0] < w[1]), "progress increases");
    assert_eq!(fractions.last().copied(), Some(1.0));
    let done = events.last().unwrap();
    assert_eq!(done["event"], "done");
    assert_eq!(done["frames"], 25);
    assert_eq!(common::all_frames(&out).len(), 25);
}

#[test]
fn new_binds_the_only_dub_track_to_the_only_face() {
    let test = "new_binds_the_only_dub_track_to_the_only_face";
    if !common::models_or_skip(test) {
        return;
    }
    let Some(photo) = common::astronaut_or_skip(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("astronaut.mp4");
    common::astronaut_shot(&photo, 1, 480, 50, &video);
    let line = dir.path().join("line.wav");
    common::espeak("We choose to go to the moon.", "en-us", &line);
    let p = dir.path().join("p.redub");
    let dub = format!("{}@0.2", line.display());
    let args =
        ["new", "--video", video.to_str().unwrap(), "--dub", &dub, "-o", p.to_str().unwrap()];
    let o = redub(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("bound Dub 1 to face 0"), "{}", stdout(&o));
    let project = Project::load(&p).unwrap();
    assert_eq!(project.timeline.dub_tracks[0].face, Some(redub::model::lip::FaceId(0)));
    // --no-bind leaves it to the user.
    let q = dir.path().join("q.redub");
    let mut args = args.to_vec();
    let q_str = q.to_str().unwrap().to_string();
    *args.last_mut().unwrap() = &q_str;
    args.push("--no-bind");
    let o = redub(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(Project::load(&q).unwrap().timeline.dub_tracks[0].face, None);
}
