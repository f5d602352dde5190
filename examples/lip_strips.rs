//! Before/after strips of the bank lip engine for looking at: `cargo run --release --example
//! lip_strips -- VIDEO DUB OUT.png [CACHE_DIR]`. Binds DUB (placed at 0.2 s) to face 0, plans the
//! lip edit and writes full-resolution crops around the mouth of eight evenly spaced fully
//! edited frames: source on the top row, edited below.

use redub::jobs::Job;
use redub::lipsync::geometry::{PATCH_H, PATCH_W, patch_to_image};
use redub::media::{self, VideoDecoder};
use redub::model::{MediaKind, Project, Time, lip::FaceId};
use redub::render::export::{FrameRenderer, plan_project_lips};
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [video, dub, out, ..] = args.as_slice() else {
        return Err("usage: lip_strips VIDEO DUB OUT.png [CACHE_DIR]".into());
    };
    let (video, dub) = (PathBuf::from(video), PathBuf::from(dub));
    let cache = args.get(3).map_or_else(std::env::temp_dir, PathBuf::from);
    let info = media::probe(&video)?;
    let v = info.video.ok_or("no video stream")?;
    let mut p = Project::new("strips", v.frame_rate);
    let vid = p.add_media(&video, MediaKind::Video, info.duration)?;
    p.timeline.video.media = Some(vid);
    p.timeline.original_audio.media = Some(vid);
    let frames = VideoDecoder::open(&video)?.frame_count();
    p.timeline.duration = v.frame_rate.frame_to_time(frames);
    let d = media::probe(&dub)?;
    let a = p.add_media(&dub, MediaKind::Audio, d.duration)?;
    let t = p.add_dub_track("Dub 1");
    p.add_clip(t, a, Time::from_millis(200))?;
    p.timeline.dub_tracks[0].face = Some(FaceId(0));
    let lips = plan_project_lips(&p, &cache, &Job::new())?;
    let lt = lips.tracks().first().ok_or("no lip track")?;
    let full: Vec<i64> = (0..lt.plan.len() as i64)
        .filter(|&i| lt.plan[i as usize].is_some_and(|pl| pl.weight >= 1.0))
        .collect();
    if full.is_empty() {
        return Err("no fully edited frame".into());
    }
    let picks: Vec<i64> = (0..8).map(|k| full[(k * full.len() / 8).min(full.len() - 1)]).collect();
    let face = lt.face.clone();
    let mut renderer = FrameRenderer::open(&video, lips)?;
    let (w, h) = renderer.size();
    let (w, h) = (w as usize, h as usize);
    let mut crops = Vec::new();
    for &i in &picks {
        let tf = face.at(i).ok_or("no face")?;
        let to_image = patch_to_image(&tf.landmarks).ok_or("degenerate face")?;
        let c = to_image.apply([PATCH_W as f32 / 2.0, PATCH_H as f32 / 2.0]);
        let side = (to_image.apply([PATCH_W as f32, 0.0])[0] - to_image.apply([0.0, 0.0])[0])
            .abs()
            .max(16.0) as usize;
        let (cw, ch) = (side, side * 3 / 4);
        let x0 = (c[0] as usize).saturating_sub(cw / 2).min(w - cw);
        let y0 = (c[1] as usize).saturating_sub(ch / 2).min(h - ch);
        let src = renderer.source(i)?.data.clone();
        let (edited, _) = renderer.render(i)?;
        crops.push((x0, y0, cw, ch, src, edited));
    }
    let (cw, ch) = (crops[0].2, crops[0].3);
    let mut img = image::RgbImage::new((cw * crops.len()) as u32, (ch * 2 + 4) as u32);
    for (k, (x0, y0, cw2, ch2, src, edited)) in crops.iter().enumerate() {
        for (row, data) in [src, edited].into_iter().enumerate() {
            for y in 0..ch.min(*ch2) {
                for x in 0..cw.min(*cw2) {
                    let o = ((y0 + y) * w + x0 + x) * 4;
                    img.put_pixel(
                        (k * cw + x) as u32,
                        (row * (ch + 4) + y) as u32,
                        image::Rgb([data[o], data[o + 1], data[o + 2]]),
                    );
                }
            }
        }
    }
    img.save(out)?;
    println!("frames {picks:?}; bank {} entries; wrote {out}", face.frames.len());
    Ok(())
}
