//! A long shot's lip edit (issue 22, item 7), end to end through `redub render`: the plan learns
//! from spread stretches of the shot within a budget (here shrunk with `REDUB_LEARN_SECONDS` so
//! a 7 s clip is "long"), frames under the dub that the plan did not learn from are still edited,
//! the frames before the first edited one are the plain export's (the export writes them while
//! the plan is made), and a plan that fails ends the export with its own message and no file.
//! The time figures (first frame, total against a plain export) are `redub bench --lips … --long-shot`.

mod common;
use common::{all_frames, dub_project, espeak, stderr};

use redub::model::{Time, lip::FaceId};
use std::path::Path;
use std::process::{Command, Output};

fn render(cache: &Path, project: &Path, out: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_redub"))
        .env("REDUB_CACHE_DIR", cache)
        .env("REDUB_LEARN_SECONDS", "4")
        .args(["render", &project.to_string_lossy(), "-o", &out.to_string_lossy()])
        .arg("--allow-unconsented")
        .output()
        .expect("run redub")
}

#[test]
fn a_long_shot_is_learned_from_stretches_and_written_before_its_plan() {
    let Some(media) = common::media_and_models("a_long_shot_is_learned_from_stretches") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cache = d.join("cache");
    let video = media.join("v7_voxceleb_00015.mp4");
    let dub = d.join("dub.wav");
    espeak("We choose to go there soon, and do the other things.", "en-us", &dub);
    // 175 frames at 25 fps; the dub from 3 s (frame 75).
    let mut project = dub_project(&video, &dub, None);
    let at = Time::from_millis(3000);
    project.timeline.dub_tracks[0].clips[0].position = at;
    let split = project.timeline.frame_rate.time_to_frame(at) as usize;
    let plain_project = d.join("plain.redub");
    project.save(&plain_project).unwrap();
    project.timeline.dub_tracks[0].face = Some(FaceId(0));
    let lips_project = d.join("lips.redub");
    project.save(&lips_project).unwrap();

    // ProRes is intra-only: equal pictures in, equal pictures out.
    let (plain, lips) = (d.join("plain.mov"), d.join("lips.mov"));
    let o = render(&cache, &plain_project, &plain);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = render(&cache, &lips_project, &lips);
    let log = stderr(&o);
    assert!(o.status.success(), "{log}");
    // "bank face 0: N mouths of M clean frames": learned from at most 4 s (100 frames).
    let clean: usize = log
        .split(" mouths of ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no bank line in: {log}"));
    assert!((50..=100).contains(&clean), "learned from {clean} frames");

    let (a, b) = (all_frames(&plain), all_frames(&lips));
    assert_eq!(a.len(), b.len());
    let same_before = (0..split).all(|i| a[i].data == b[i].data);
    assert!(same_before, "frames before the dub are the plain export's");
    let changed = (split..a.len()).filter(|&i| a[i].data != b[i].data).count();
    println!("learned from {clean} frames; {changed} frames from {split} edited");
    assert!(changed > 25, "the dub's frames are edited ({changed})");

    // A plan that cannot be made (a face the analysis does not have) ends the export with its
    // reason, leaving no file and no part file.
    project.timeline.dub_tracks[0].face = Some(FaceId(7));
    let bad_project = d.join("bad.redub");
    project.save(&bad_project).unwrap();
    let bad = d.join("bad.mov");
    let o = render(&cache, &bad_project, &bad);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("face 7"), "{}", stderr(&o));
    assert!(!bad.exists());
    let parts: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".part"))
        .collect();
    assert!(parts.is_empty(), "{parts:?}");
}
