//! `redub eval reconstruct` end to end on a real clip: the lip edit of half A driven by half B's
//! sound, measured against B's real frames with lip landmarks, beside its references.

mod common;

use common::{media_and_models, redub, stderr, stdout};

fn facemesh_or_skip(test: &str) -> bool {
    let ok = redub::inference::models_dir().join("facemesh/face_landmark.onnx").is_file();
    if !ok {
        common::skip(
            test,
            "models/facemesh/face_landmark.onnx is absent (run packaging/setup.sh deps)",
        );
    }
    ok
}

#[test]
fn reconstruct_measures_the_edit_against_the_held_out_half() {
    let test = "reconstruct_measures_the_edit_against_the_held_out_half";
    let Some(media) = media_and_models(test) else { return };
    if !facemesh_or_skip(test) {
        return;
    }
    let clip = media.join("v3_retalking_face5.mp4");
    let out = redub(&["eval", "reconstruct", "--json", clip.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON report");
    let clip = &json["clips"][0];
    println!("{}", serde_json::to_string_pretty(clip).unwrap());
    let fig = |who: &str, what: &str| clip[who][what].as_f64();
    assert_eq!(clip["protocol"], "halves");
    let frames = clip["frames"].as_u64().unwrap();
    assert!(frames >= 50, "half of a 4.9 s clip: {frames} frames");
    assert!(
        clip["edited_frames"].as_u64().unwrap() > frames / 2,
        "the dub speaks most of the half"
    );
    // Every figure is there for the edit and the references it is judged against.
    for who in ["edit", "no_edit", "oracle"] {
        for what in ["opening_correlation", "dynamic_distance", "closure_recall", "mouth_ssim"] {
            assert!(fig(who, what).is_some(), "{who}.{what} missing");
        }
    }
    assert!(fig("loudness_only", "opening_correlation").is_some());
    // The edit's mouth opens and closes with the held-out mouth, where the shot's own mouth
    // (another sentence) does not.
    let edit = fig("edit", "opening_correlation").unwrap();
    let none = fig("no_edit", "opening_correlation").unwrap();
    assert!(edit > none + 0.1, "edit r {edit} vs no edit {none}");
    assert!(fig("edit", "dynamic_vs_no_edit").is_some());
    // The summary over one clip is that clip.
    assert_eq!(json["summary"]["clips"], 1);
}

#[test]
fn occlusion_keeps_a_dark_bar_in_front_of_the_mouth() {
    let test = "occlusion_keeps_a_dark_bar_in_front_of_the_mouth";
    let Some(media) = media_and_models(test) else { return };
    // A microphone-like dark grey textured bar rising over part of the mouth of a small
    // interview face: dark like the mouth's interior, so colour alone does not tell them apart.
    let clip = media.join("v7_voxceleb_00015.mp4");
    let out = redub(&["eval", "occlusion", "--json", "--kinds", "mic", clip.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON report");
    let mic = &json["clips"][0]["kinds"][0];
    println!("{}", serde_json::to_string_pretty(mic).unwrap());
    assert_eq!(mic["kind"], "mic");
    let fig = |what: &str| mic[what].as_f64().unwrap();
    assert!(fig("occluded_frames") >= 90.0 && fig("edited_frames") > 100.0);
    // Measured with the colour-only occlusion model (2026-12): 14.3 dB pooled, 11.5 dB worst
    // frame; the goal (issue 23) is 40 dB and 32 dB. This bound guards against getting worse.
    assert!(fig("psnr") >= 13.0, "occluder PSNR {} dB", fig("psnr"));
    assert!(fig("worst_frame_psnr") >= 10.0, "worst frame {} dB", fig("worst_frame_psnr"));
    // The edit still runs where nothing covers the mouth.
    assert!(
        fig("mouth_change") >= 0.5 * fig("mouth_change_clean"),
        "mouth change {} vs {} without the occluder",
        fig("mouth_change"),
        fig("mouth_change_clean")
    );
}
