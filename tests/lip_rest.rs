//! Where the dub pauses but the actor spoke in the original (whose sound the dub clip replaces),
//! the mouth rests: closed or at the actor's own rest opening, not the original's speaking mouth.

mod common;

use redub::analysis::RgbImage;
use redub::analysis::lipmesh::FaceMesh;
use redub::media::VideoDecoder;
use redub::model::Time;
use redub::render::graph::FrameRenderer;

#[test]
fn a_silent_dub_over_original_speech_rests_the_mouth() {
    let test = "a_silent_dub_over_original_speech_rests_the_mouth";
    let Some(media) = common::media_and_models(test) else { return };
    if !redub::inference::models_dir().join("facemesh/face_landmark.onnx").is_file() {
        common::skip(test, "models/facemesh is absent (run packaging/setup.sh deps)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = common::v1_gap_dubbed(&media, dir.path());
    let face = d.lips.tracks()[0].face.clone();
    let rate = d.project.timeline.frame_rate;
    // The dub's 2 s silence (its clip starts at 0.2 s), less the VAD's hangover and the ramps.
    let gap = 0.2 + d.first_line;
    let gap_start = rate.time_to_frame(Time::from_seconds_f64(gap + 0.4));
    let gap_end = rate.time_to_frame(Time::from_seconds_f64(gap + 2.0 - 0.3));
    assert!(gap_end - gap_start > 25, "over a second of silence checked");
    let frames = rate.time_to_frame(d.project.timeline.duration);
    let mut mesh = FaceMesh::load_default().unwrap();
    let mut renderer = FrameRenderer::open(&d.video, d.lips).unwrap();
    let mut source = VideoDecoder::open_with_cache(&d.video, 0).unwrap();
    let (w, h) = renderer.size();
    let mut opening = |rgba: &[u8], i: i64| -> Option<f32> {
        let lm = face.at(i)?.landmarks;
        let img = RgbImage::from_rgba(w as usize, h as usize, rgba);
        Some(mesh.lips(&img, &lm).unwrap()?.inner_opening())
    };
    let (mut shot, mut rested, mut original) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..frames {
        let src = source.frame(i).unwrap();
        let Some(o) = opening(&src.data, i) else { continue };
        shot.push(o);
        if (gap_start..gap_end).contains(&i) {
            original.push(o);
            let (out, _) = renderer.render(i).unwrap();
            assert!(out != src.data, "frame {i}: the actor's speaking mouth is replaced");
            rested.extend(opening(&out, i));
        }
    }
    shot.sort_by(f32::total_cmp);
    let q = |v: &[f32], p: f32| v[((v.len() - 1) as f32 * p).round() as usize];
    let rest_range = q(&shot, 0.25);
    let mut rested_sorted = rested.clone();
    rested_sorted.sort_by(f32::total_cmp);
    let mut original_sorted = original.clone();
    original_sorted.sort_by(f32::total_cmp);
    println!(
        "gap frames {gap_start}..{gap_end}: rested opening median {:.3} max {:.3}, original median \
         {:.3}; the shot's openings: min {:.3}, 25th percentile {rest_range:.3}, max {:.3}",
        q(&rested_sorted, 0.5),
        q(&rested_sorted, 1.0),
        q(&original_sorted, 0.5),
        shot[0],
        shot[shot.len() - 1]
    );
    assert!(rested.len() * 10 >= original.len() * 9, "the rested mouths are measured");
    // At rest: within the least open quarter of the actor's own mouths, every frame, and below
    // the speaking original.
    assert!(q(&rested_sorted, 1.0) <= rest_range, "every rested frame within the rest range");
    assert!(q(&rested_sorted, 0.5) < q(&original_sorted, 0.5));
}
