//! Before/after strips of the bank lip engine for looking at: `cargo run --release --example
//! lip_strips -- VIDEO DUB OUT.png [CACHE_DIR]`. Binds DUB (placed at 0.2 s) to face 0, plans the
//! lip edit and writes full-resolution crops around the mouth of eight evenly spaced fully
//! edited frames: source on the top row, edited below, and the viewer's mask overlay (edit
//! region green, what the occlusion mask keeps red) on the source in the third row. Prints how
//! many edited frames the automatic occlusion mask marks anything in, and how much.

use redub::analysis::mouth_patch::{
    PATCH_H, PATCH_W, Region, detail_dims, detail_of, extract_patch_at, patch_to_image,
    region_mask_at,
};
use redub::app::overlay::mask_overlay;
use redub::jobs::Job;
use redub::media::{self, VideoDecoder};
use redub::model::{MediaKind, Project, Time, lip::FaceId};
use redub::render::{graph::FrameRenderer, lips::plan_project_lips};
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
    // LIP_STRIP_FRAMES=3,17,40 picks the frames; else eight evenly spaced fully edited ones.
    let picks: Vec<i64> = match std::env::var("LIP_STRIP_FRAMES") {
        Ok(list) => list.split(',').filter_map(|f| f.trim().parse().ok()).collect(),
        Err(_) => (0..8).map(|k| full[(k * full.len() / 8).min(full.len() - 1)]).collect(),
    };
    let face = lt.face.clone();
    let bank_entries = lt.bank.entries.len();
    // How often the plan shows a frame its own filmed mouth (or a neighbour's within a frame):
    // the original's rhythm replayed, not the dub's.
    let own = (0..lt.plan.len())
        .filter(|&i| {
            lt.plan[i].is_some_and(|p| (lt.bank.entries[p.entry].frame - i as i64).abs() <= 1)
        })
        .count();
    println!(
        "plan: {own} of {} edited frames show their own mouth (±1 frame)",
        lt.plan.iter().flatten().count()
    );
    let edited: Vec<i64> =
        (0..lt.plan.len() as i64).filter(|&i| lt.plan[i as usize].is_some()).collect();
    let mut renderer = FrameRenderer::open(&video, lips)?;
    let (w, h) = renderer.size();
    let (w, h) = (w as usize, h as usize);
    // Occlusion over every edited frame: share of the edit region the mask keeps original.
    let (mut with_occ, mut occ_sum, mut occ_max) = (0usize, 0.0f64, 0.0f64);
    // The same on the lips alone, where a false occluder punches a hole into the new mouth.
    let (mut lip_frames, mut lip_sum, mut lip_max) = (0usize, 0.0f64, 0.0f64);
    let mut worst: Vec<(f64, i64)> = Vec::new();
    let mut decoder = VideoDecoder::open(&video)?;
    for &i in &edited {
        let src = renderer.source(i)?.data.clone();
        let layers = renderer
            .lips()
            .layers(i, &src, w, h, |j| decoder.frame(j).ok().map(|f| f.data.clone()));
        for l in &layers {
            let (mut kept, mut area) = (0.0f64, 0.0f64);
            for (k, &m) in l.region.iter().enumerate() {
                let full = m * l.strength;
                if full > 1e-3 {
                    area += f64::from(m);
                    kept += f64::from(m * (1.0 - l.alpha[k] / full).clamp(0.0, 1.0));
                }
            }
            let share = kept / area.max(1e-9);
            let lips_mask =
                region_mask_at(Region::Lips, 2.0, detail_of(l.alpha.len()).unwrap_or(1));
            let (mut lk, mut la) = (0.0f64, 0.0f64);
            for (k, &m) in lips_mask.iter().enumerate() {
                let full = l.region[k] * l.strength;
                if m > 0.5 && full > 1e-3 {
                    la += 1.0;
                    lk += f64::from((1.0 - l.alpha[k] / full).clamp(0.0, 1.0));
                }
            }
            let lip_share = lk / la.max(1e-9);
            lip_frames += usize::from(lip_share > 0.001);
            lip_sum += lip_share;
            lip_max = lip_max.max(lip_share);
            if share > 0.001 {
                with_occ += 1;
            }
            occ_sum += share;
            worst.push((share, i));
            occ_max = occ_max.max(share);
        }
    }
    println!(
        "occlusion: {with_occ} of {} edited frames mark > 0.1 % of the region; mean {:.2} %, max {:.2} %",
        edited.len(),
        100.0 * occ_sum / edited.len().max(1) as f64,
        100.0 * occ_max
    );
    println!(
        "on the lips: {lip_frames} frames mark > 0.1 %; mean {:.2} %, max {:.2} %",
        100.0 * lip_sum / edited.len().max(1) as f64,
        100.0 * lip_max
    );
    worst.sort_by(|a, b| b.0.total_cmp(&a.0));
    let top: Vec<String> =
        worst.iter().take(8).map(|(s, i)| format!("{i}:{:.1}%", 100.0 * s)).collect();
    println!("most occluded frames: {}", top.join(" "));
    // Seams, over every fully edited frame, in the edit's outer band (weight 4·m·(1 − m) of
    // the lips+jaw region mask, canonical frame at detail 2): the luma gradient energy edited ÷
    // source (a crease adds edges; blending removes some), and the seam error: the energy of
    // the gradient's change, ÷ the source's gradient energy (0 when the band keeps the source's
    // own edges; a crease or a misplaced jaw line raises it).
    let band: Vec<f32> =
        region_mask_at(Region::LipsJaw, 6.0, 2).iter().map(|m| 4.0 * m * (1.0 - m)).collect();
    let (bw, bh) = detail_dims(2);
    let gradients = |rgba: &[u8], lm| -> Option<Vec<(f32, f32)>> {
        let p = extract_patch_at(rgba, w, h, lm, 2)?;
        let y: Vec<f32> =
            p.rgb.iter().map(|q| 0.299 * q[0] + 0.587 * q[1] + 0.114 * q[2]).collect();
        Some(
            (0..bw * bh)
                .map(|k| {
                    let (u, v) = (k % bw, k / bw);
                    if u == 0 || v == 0 || u == bw - 1 || v == bh - 1 {
                        return (0.0, 0.0);
                    }
                    ((y[k + 1] - y[k - 1]) / 2.0, (y[k + bw] - y[k - bw]) / 2.0)
                })
                .collect(),
        )
    };
    let (mut e_edit, mut e_src, mut e_diff) = (0.0f64, 0.0f64, 0.0f64);
    let mut seam_worst = (0.0f64, 0);
    for &i in &full {
        let Some(tf) = face.at(i) else { continue };
        let src = renderer.source(i)?.data.clone();
        let (out, _) = renderer.render(i)?;
        let (Some(a), Some(b)) = (gradients(&out, &tf.landmarks), gradients(&src, &tf.landmarks))
        else {
            continue;
        };
        let (mut fe, mut fs, mut fd) = (0.0f64, 0.0f64, 0.0f64);
        for ((ga, gb), &m) in a.iter().zip(&b).zip(&band) {
            let m = f64::from(m);
            fe += m * f64::from(ga.0 * ga.0 + ga.1 * ga.1);
            fs += m * f64::from(gb.0 * gb.0 + gb.1 * gb.1);
            fd += m * f64::from((ga.0 - gb.0).powi(2) + (ga.1 - gb.1).powi(2));
        }
        (e_edit, e_src, e_diff) = (e_edit + fe, e_src + fs, e_diff + fd);
        if fd / fs.max(1e-9) > seam_worst.0 {
            seam_worst = (fd / fs.max(1e-9), i);
        }
    }
    println!(
        "seams over {} fully edited frames: band gradient energy edited / source {:.3}; seam \
         error {:.4} (worst frame {} at {:.4})",
        full.len(),
        e_edit / e_src.max(1e-9),
        e_diff / e_src.max(1e-9),
        seam_worst.1,
        seam_worst.0
    );
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
        let mut tinted = src.clone();
        if let Some(m) = mask_overlay(renderer.lips(), i, &src, w, h, |j| {
            decoder.frame(j).ok().map(|f| f.data.clone())
        }) {
            for y in 0..m.height as usize {
                for x in 0..m.width as usize {
                    let k = (y * m.width as usize + x) * 4;
                    let a = f32::from(m.rgba[k + 3]) / 255.0;
                    let o = ((m.y as usize + y) * w + m.x as usize + x) * 4;
                    for c in 0..3 {
                        let v = f32::from(tinted[o + c]) * (1.0 - a) + f32::from(m.rgba[k + c]) * a;
                        tinted[o + c] = v.round() as u8;
                    }
                }
            }
        }
        crops.push((x0, y0, cw, ch, src, edited, tinted));
    }
    let (cw, ch) = (crops[0].2, crops[0].3);
    let mut img = image::RgbImage::new((cw * crops.len()) as u32, (ch * 3 + 8) as u32);
    for (k, (x0, y0, cw2, ch2, src, edited, tinted)) in crops.iter().enumerate() {
        for (row, data) in [src, edited, tinted].into_iter().enumerate() {
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
    println!("frames {picks:?}; bank {bank_entries} entries; wrote {out}");
    Ok(())
}
