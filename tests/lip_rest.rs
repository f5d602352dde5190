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
    // Where the actor speaks in the original (the plan's speech detector), less the edit's ramp
    // at the edges of each run.
    let sound = redub::media::decode_audio(&d.video, Some(1)).unwrap();
    let fps = rate.as_f64();
    let mut speaks = vec![false; frames as usize];
    let vad = redub::dsp::vad::VadConfig::default();
    for s in redub::dsp::vad::detect_speech(&sound.samples, sound.rate, &vad) {
        let a = (s.start as f64 / f64::from(sound.rate) * fps).ceil() as usize + 3;
        let b = (s.end as f64 / f64::from(sound.rate) * fps).floor() as usize;
        for f in speaks.iter_mut().take(b.saturating_sub(3)).skip(a) {
            *f = true;
        }
    }
    let mut mesh = FaceMesh::load_default().unwrap();
    let plan = d.lips.tracks()[0].plan.clone();
    let bank_frames: Vec<i64> = d.lips.tracks()[0].bank.entries.iter().map(|e| e.frame).collect();
    let mut renderer = FrameRenderer::open(&d.video, d.lips).unwrap();
    let mut source = VideoDecoder::open_with_cache(&d.video, 0).unwrap();
    let (w, h) = renderer.size();
    let mut opening = |rgba: &[u8], i: i64| -> Option<f32> {
        let lm = face.at(i)?.landmarks;
        let img = RgbImage::from_rgba(w as usize, h as usize, rgba);
        Some(mesh.lips(&img, &lm).unwrap()?.inner_opening())
    };
    // Openings: the actor's own pauses in the shot, the original speaking through the dub's
    // silence, the same frames rested, and the filmed frames the rested mouths come from.
    let (mut pauses, mut original, mut rested, mut sources) = (vec![], vec![], vec![], vec![]);
    for i in 0..frames {
        let src = source.frame(i).unwrap();
        let Some(o) = opening(&src.data, i) else { continue };
        if !speaks[i as usize] {
            pauses.push(o);
        } else if (gap_start..gap_end).contains(&i) {
            original.push(o);
            let (out, _) = renderer.render(i).unwrap();
            assert!(out != src.data, "frame {i}: the actor's speaking mouth is replaced");
            rested.extend(opening(&out, i));
            let entry = plan[i as usize].as_ref().expect("a rested frame is planned").entry;
            let filmed = bank_frames[entry];
            sources.extend(opening(&source.frame(filmed).unwrap().data, filmed));
        }
    }
    let sorted = |mut v: Vec<f32>| {
        v.sort_by(f32::total_cmp);
        v
    };
    let (pauses, original, rested, sources) =
        (sorted(pauses), sorted(original), sorted(rested), sorted(sources));
    let q = |v: &[f32], p: f32| v[((v.len() - 1) as f32 * p).round() as usize];
    println!(
        "gap frames {gap_start}..{gap_end}: original median {:.3}; rested median {:.3} max {:.3}; \
         their filmed sources max {:.3}; the actor's pauses median {:.3}, 75th percentile {:.3}",
        q(&original, 0.5),
        q(&rested, 0.5),
        q(&rested, 1.0),
        q(&sources, 1.0),
        q(&pauses, 0.5),
        q(&pauses, 0.75)
    );
    assert!(original.len() >= 10, "the actor speaks in the original through the dub's pause");
    assert!(pauses.len() >= 10, "the shot has pauses to learn the rest from");
    assert!(rested.len() * 10 >= original.len() * 9, "the rested mouths are measured");
    // Every rested mouth is one of the actor's pause mouths, as filmed (not a speaking one)...
    assert!(q(&sources, 1.0) <= q(&pauses, 0.75), "every rest mouth filmed within the pause range");
    // ... and as drawn, no rested frame opens as wide as the original typically speaks.
    assert!(q(&rested, 1.0) < q(&original, 0.5), "every rested frame below the speaking original");
}
