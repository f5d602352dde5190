//! `redub sync-check` on the lips of real clips (the main face's Face Mesh inner-lip opening
//! against the speech-band envelope), through the real binary: with `--against`, a clip's own
//! audio ranks above other clips' speech, no other clip's speech is judged in sync, and an
//! audio without speech is refused (exit 1, "no speech"). Skips with a printed reason when the
//! clips or the models are missing; under CI (CI=true) that is a failure.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The six dev clips in `../shared/media`.
const CLIPS: [&str; 6] = [
    "v1_retalking_face2.mp4",
    "v3_retalking_face5.mp4",
    "v4_sadtalker_WDA_KatieHill_000.mp4",
    "v6_retalking_face4.mp4",
    "v7_voxceleb_00015.mp4",
    "v8_voxceleb_00086.mp4",
];

/// The media folder when it, the MTCNN and Face Mesh models and ONNX Runtime are there.
fn media_or_skip(test: &str) -> Option<PathBuf> {
    let media = common::media_and_models(test)?;
    let mesh = redub::inference::models_dir().join("facemesh/face_landmark.onnx");
    if !mesh.is_file() {
        common::skip(test, &format!("{} is absent (run packaging/setup.sh deps)", mesh.display()));
        return None;
    }
    Some(media)
}

/// Runs `redub` with its caches in `cache`.
fn redub(cache: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_redub"))
        .env("REDUB_CACHE_DIR", cache)
        .args(args)
        .output()
        .expect("run redub")
}

#[test]
fn own_audio_ranks_first_against_other_clips() {
    let name = "own_audio_ranks_first_against_other_clips";
    let Some(media) = media_or_skip(name) else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let mut first = Vec::new();
    let mut wrong_in_sync = Vec::new();
    for (i, clip) in CLIPS.iter().enumerate() {
        let video = media.join(clip);
        // The next two clips' audio (their videos: sync-check decodes the sound of either).
        let others: Vec<PathBuf> =
            (1..=2).map(|k| media.join(CLIPS[(i + k) % CLIPS.len()])).collect();
        let v = video.to_string_lossy();
        let (a, b) = (others[0].to_string_lossy(), others[1].to_string_lossy());
        let out = redub(&cache, &["sync-check", &v, "--against", &a, "--against", &b, "--json"]);
        assert!(out.status.success(), "{clip}: {}", String::from_utf8_lossy(&out.stderr));
        let json: Value = serde_json::from_slice(&out.stdout).expect("sync-check JSON");
        let ranking = json["ranking"].as_array().expect("a ranking");
        assert_eq!(ranking.len(), 3, "{clip}: {json}");
        println!("{clip}:");
        for c in ranking {
            let audio = c["audio"].as_str().unwrap_or_default();
            println!(
                "  {:6.2} offset {:+3}  {:<16} {audio}",
                c["confidence"].as_f64().unwrap_or(f64::NAN),
                c["offset_frames"].as_i64().unwrap_or(0),
                c["verdict"].as_str().unwrap_or("-"),
            );
            if audio != v && c["verdict"] == "in_sync" {
                wrong_in_sync.push(format!("{clip} vs {audio}"));
            }
        }
        if json["best"].as_str() == Some(&*v) {
            first.push(*clip);
        }
    }
    println!("own audio first: {first:?}");
    assert!(first.len() >= 2, "the own audio ranks first on only {first:?}");
    assert!(wrong_in_sync.is_empty(), "another clip's speech judged in sync: {wrong_in_sync:?}");
}

#[test]
fn audio_without_speech_is_refused() {
    let name = "audio_without_speech_is_refused";
    let Some(media) = media_or_skip(name) else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    // 3 s of digital silence, 48 kHz stereo (what `sox -n -r 16000 -c 1 silent.wav trim 0 3`
    // gives, at the decoder's rate).
    let silent = dir.path().join("silent.wav");
    redub::media::testsrc::write_wav(&silent, &vec![0.0; 3 * 48_000 * 2]).unwrap();
    let video = media.join(CLIPS[0]);
    let (v, s) = (video.to_string_lossy(), silent.to_string_lossy());
    let out = redub(&cache, &["sync-check", &v, "--audio", &s]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("{s}: no speech")), "{stderr}");
    // As a candidate it is listed, unmeasured, last.
    let out = redub(&cache, &["sync-check", &v, "--against", &s, "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("sync-check JSON");
    let last = json["ranking"].as_array().and_then(|r| r.last()).expect("a ranking");
    assert_eq!(last["audio"].as_str(), Some(&*s), "{json}");
    assert_eq!(last["speech"], false, "{json}");
}
