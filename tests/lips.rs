//! The bank lip engine on real footage through the render graph (raw frames, before any
//! encoder): pixels outside the mouth stay bit-identical, silence keeps the original mouth,
//! and an object in front of the mouth is left alone.

mod common;
use common::dub_project;

use redub::jobs::Job;
use redub::media::{VideoDecoder, decode_audio, encode};
use redub::model::Preset;
use redub::render::{graph::FrameRenderer, lips::plan_project_lips};

#[test]
fn edits_stay_in_the_mouth() {
    let Some(media) = common::media_and_models("edits_stay_in_the_mouth") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let common::GapDubbed { video, project, lips, .. } = common::v1_gap_dubbed(&media, dir.path());
    let lt = &lips.tracks()[0];
    let edited: Vec<i64> =
        (0..lt.plan.len() as i64).filter(|&i| lt.plan[i as usize].is_some()).collect();
    println!(
        "bank entries {}, edited frames {} of {}",
        lt.bank.entries.len(),
        edited.len(),
        lt.plan.len()
    );
    assert!(lt.bank.entries.len() > 50, "a bank from a 5 s clip");
    assert!(edited.len() > 20, "speech frames are edited");
    let changed_frames = common::edits_stay_in_the_mouth(&video, &project, lips);
    assert!(changed_frames > 20);
}

#[test]
fn an_object_in_front_of_the_mouth_is_kept() {
    let Some(media) = common::media_and_models("an_object_in_front_of_the_mouth_is_kept") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Composite an opaque blue bar sweeping across the mouth into the real clip.
    let src_path = media.join("v1_retalking_face2.mp4");
    let mut dec = VideoDecoder::open_with_cache(&src_path, 0).unwrap();
    let (w, h) = dec.size();
    let (wu, hu) = (w as usize, h as usize);
    let rate = dec.frame_rate();
    let n = dec.frame_count();
    let occluded = dir.path().join("occluded.mov");
    let cfg = encode::WriterConfig {
        preset: Preset::Mov,
        video: Some((w, h, rate)),
        tags: Default::default(),
        keyframe_interval: None,
    };
    let mut writer = encode::Writer::create(&occluded, &cfg).unwrap();
    let audio = decode_audio(&src_path, Some(2)).unwrap();
    // x0, y0, x1, y1: a 70 px wide bar passing left to right over the lower face in frames
    // 20..100 (empty elsewhere), like a hand or a cup crossing the mouth.
    let bar = |i: i64| -> (usize, usize, usize, usize) {
        if !(20..100).contains(&i) {
            return (0, 0, 0, 0);
        }
        let x0 = 220 + (i as usize - 20) * 5;
        (x0, 500, x0 + 70, 640)
    };
    for i in 0..n {
        let mut f = dec.frame(i).unwrap().data.clone();
        let (x0, y0, x1, y1) = bar(i);
        for y in y0..y1.min(hu) {
            for x in x0..x1.min(wu) {
                f[(y * wu + x) * 4..(y * wu + x) * 4 + 3].copy_from_slice(&[40, 70, 210]);
            }
        }
        writer.push_frame(&f).unwrap();
        let (s0, s1) = (
            rate.frame_to_time(i).to_samples(48_000) as usize,
            rate.frame_to_time(i + 1).to_samples(48_000) as usize,
        );
        let s1 = s1.min(audio.frames());
        writer.push_audio(&audio.samples[s0.min(s1) * 2..s1 * 2]).unwrap();
    }
    writer.finish().unwrap();
    let (dub, _) = common::dub_with_gap(dir.path());
    let project = dub_project(&occluded, &dub, Some(0));
    let lips = plan_project_lips(&project, dir.path(), &Job::new()).unwrap();
    let mut renderer = FrameRenderer::open(&occluded, lips).unwrap();
    let mut source = VideoDecoder::open_with_cache(&occluded, 0).unwrap();
    let (mut se, mut count, mut edited) = (0.0f64, 0u64, 0);
    let feather = 4; // pixels of the occluder's edge excluded (dilation + blur band)
    for i in 0..n {
        let (out, backend) = renderer.render(i).unwrap();
        if backend.is_some() {
            edited += 1;
        }
        let src = source.frame(i).unwrap();
        let (x0, y0, x1, y1) = bar(i);
        for y in y0 + feather..y1.saturating_sub(feather).min(hu) {
            for x in x0 + feather..x1.saturating_sub(feather).min(wu) {
                let o = (y * wu + x) * 4;
                for c in 0..3 {
                    let d = f64::from(out[o + c]) - f64::from(src.data[o + c]);
                    se += d * d;
                    count += 1;
                }
            }
        }
    }
    let mse = se / count as f64;
    let psnr = if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0f64 * 255.0 / mse).log10() };
    println!("occluder pixels: PSNR {psnr:.1} dB over {count} samples; {edited} frames edited");
    assert!(edited > 10, "the lip edit ran");
    assert!(psnr >= 40.0, "occluder PSNR {psnr} dB");
}
