//! Consent per face on the command line: `redub faces consent` records it, `redub faces list`
//! shows it, and `redub render` refuses lip edits of a face without it (exit 1, one line) unless
//! `--allow-unconsented`, which the export's metadata then records.

mod common;

use redub::media::testsrc::write_bars_clip;
use redub::model::lip::FaceId;
use redub::model::{FrameRate, MediaKind, Project, Time};
use std::path::{Path, PathBuf};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A project of `video` with one dub line of espeak speech at 0.2 s on a track bound to face 0.
fn bound_project(dir: &Path, video: &Path) -> PathBuf {
    let line = dir.join("line.wav");
    common::espeak("We choose to go.", "en-us", &line);
    let info = redub::media::probe(video).unwrap();
    let mut p = Project::new("consent", info.video.unwrap().frame_rate);
    let v = p.add_media(video, MediaKind::Video, info.duration).unwrap();
    p.timeline.video.media = Some(v);
    p.timeline.original_audio.media = Some(v);
    p.timeline.duration = info.duration;
    let d = redub::media::probe(&line).unwrap().duration;
    let l = p.add_media(&line, MediaKind::Audio, d).unwrap();
    let t = p.add_dub_track("Dub");
    p.add_clip(t, l, Time::from_millis(200)).unwrap();
    p.timeline.dub_tracks[0].face = Some(FaceId(0));
    let file = dir.join("consent.redub");
    p.save(&file).unwrap();
    file
}

#[test]
fn render_refuses_a_face_without_consent_and_faces_consent_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("bars.mp4");
    write_bars_clip(&video, 50, 160, 120, FrameRate::FPS_25, 440.0).unwrap();
    let proj = bound_project(dir.path(), &video);
    let out = dir.path().join("out.mp4");

    let o = common::redub(&["render", s(&proj), "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));
    let err = common::stderr(&o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains("face 0 without recorded consent") && err.contains("--allow-unconsented"));
    assert!(!out.exists(), "nothing written");
    // WAV stems hold no picture: nothing to consent to.
    let wav = dir.path().join("mix.wav");
    let o = common::redub(&["render", s(&proj), "-o", s(&wav)]);
    assert!(o.status.success(), "{}", common::stderr(&o));

    // A refusal on record is still no consent, and names the person.
    let o = common::redub(&[
        "faces",
        "consent",
        s(&proj),
        "--face",
        "0",
        "--name",
        "Ana Ruiz",
        "--by",
        "J. Doe",
        "--refused",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let o = common::redub(&["render", s(&proj), "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(common::stderr(&o).contains("face 0 (Ana Ruiz)"), "{}", common::stderr(&o));

    let o = common::redub(&[
        "faces",
        "consent",
        s(&proj),
        "--face",
        "0",
        "--name",
        "Ana Ruiz",
        "--by",
        "J. Doe",
        "--scope",
        "es, fr; web",
        "--reference",
        "release-17",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(common::stdout(&o).contains("Ana Ruiz: consent recorded by J. Doe"));
    let o = common::redub(&["faces", "list", s(&proj), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let face = &v["faces"][0];
    assert_eq!(face["face"], 0);
    assert_eq!(face["lip_edited"], true);
    assert_eq!(face["consent"]["given"], true);
    assert_eq!(face["consent"]["scope"], "es, fr; web");
    assert_eq!(face["consent"]["reference"], "release-17");
    let p = Project::load(&proj).unwrap();
    assert!(p.has_consent(FaceId(0)));
    // Empty names are refused, the project untouched.
    let o =
        common::redub(&["faces", "consent", s(&proj), "--face", "1", "--name", " ", "--by", "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(Project::load(&proj).unwrap(), p);
    // --clear removes the record: refused again.
    let o = common::redub(&[
        "faces",
        "consent",
        s(&proj),
        "--face",
        "0",
        "--name",
        "-",
        "--by",
        "-",
        "--clear",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(Project::load(&proj).unwrap().timeline.consent.is_empty());
}

#[test]
fn allow_unconsented_exports_and_the_metadata_says_so() {
    let test = "allow_unconsented_exports_and_the_metadata_says_so";
    let Some(media) = common::media_and_models(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let proj = bound_project(dir.path(), &media.join("v8_voxceleb_00086.mp4"));
    let out = dir.path().join("allowed.mp4");
    let o = common::redub(&[
        "render",
        s(&proj),
        "-o",
        s(&out),
        "--range",
        "0..1",
        "--allow-unconsented",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(common::stdout(&o).contains("lip edits composited"), "{}", common::stdout(&o));
    let bytes = std::fs::read(&out).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("face 0: no consent recorded"), "the comment tag names the face");
    assert!(text.contains("allowed explicitly by the user"), "and the user's choice");
}
