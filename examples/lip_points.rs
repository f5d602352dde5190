//! Face Mesh lip points drawn on real frames, for looking at: `cargo run --release --example
//! lip_points -- VIDEO OUT.png [N]`. Runs (or reads the cached) face analysis, Face Mesh on every
//! frame of the main face, and draws N (default 6) frames: the most open and the most closed
//! mouth plus evenly spaced ones. Top row: the face; bottom row: the mouth enlarged. Outer lip
//! contour red, inner green, mesh eye centres blue, MTCNN mouth corners yellow. Prints each drawn
//! frame's opening and width (over the eye distance) and how far the mesh corners lie from
//! MTCNN's.

use redub::analysis::lip_track::{for_each_track_lips, main_track};
use redub::analysis::{AnalysisOptions, FaceMesh, LipLandmarks, RgbImage, analyze_file};
use redub::jobs::Job;
use redub::media::VideoDecoder;
use std::path::PathBuf;

/// Side of each drawn tile.
const TILE: u32 = 320;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [video, out, ..] = args.as_slice() else {
        return Err("usage: lip_points VIDEO OUT.png [N]".into());
    };
    let n: usize = args.get(2).map_or(Ok(6), |s| s.parse())?;
    let video = PathBuf::from(video);
    let (analysis, _) = analyze_file(&video, &AnalysisOptions::default(), &Job::new(), true)?;
    let track = main_track(&analysis).ok_or("no face")?;
    let mut mesh = FaceMesh::load_default()?;
    let mut all: Vec<(i64, [[f32; 2]; 5], LipLandmarks)> = Vec::new();
    for_each_track_lips(&video, track, 1, &mut mesh, |t| {
        if let Some(l) = t.lips {
            all.push((t.frame.frame, t.frame.landmarks, l));
        }
        Ok(())
    })?;
    if all.is_empty() {
        return Err("Face Mesh found no face".into());
    }
    let mut picks: Vec<usize> =
        (0..n.saturating_sub(2)).map(|k| k * all.len() / n.saturating_sub(2).max(1)).collect();
    let by_opening =
        |a: &usize, b: &usize| all[*a].2.inner_opening().total_cmp(&all[*b].2.inner_opening());
    let idx: Vec<usize> = (0..all.len()).collect();
    picks.extend(idx.iter().copied().max_by(by_opening));
    picks.extend(idx.iter().copied().min_by(by_opening));
    picks.sort_unstable();
    picks.dedup();
    let mut dec = VideoDecoder::open(&video)?;
    let mut canvas = image::RgbImage::new(TILE * picks.len() as u32, 2 * TILE);
    for (col, &k) in picks.iter().enumerate() {
        let (frame, lm5, lips) = &all[k];
        let f = dec.frame(*frame)?;
        let img = RgbImage::from_rgba(f.width as usize, f.height as usize, &f.data);
        let d = lips.eye_distance();
        let err = |a: [f32; 2], b: [f32; 2]| (a[0] - b[0]).hypot(a[1] - b[1]) / d;
        let [cl, cr] = lips.corners();
        println!(
            "frame {frame}: opening {:.3}, width {:.3}, presence {:.2}, corners off MTCNN by {:.1} % / {:.1} % of the eye distance",
            lips.inner_opening(),
            lips.mouth_width(),
            lips.presence,
            100.0 * err(cl, lm5[3]),
            100.0 * err(cr, lm5[4])
        );
        let c = lips.mouth_centre();
        let e =
            [(lips.eyes[0][0] + lips.eyes[1][0]) / 2.0, (lips.eyes[0][1] + lips.eyes[1][1]) / 2.0];
        // Face tile: centred between eyes and mouth, 3 eye distances wide; mouth tile: 1.4.
        let face = [(c[0] + e[0]) / 2.0, (c[1] + e[1]) / 2.0];
        for (row, (centre, side)) in [(face, 3.0 * d), (c, 1.4 * d)].into_iter().enumerate() {
            draw_tile(
                &mut canvas,
                col as u32 * TILE,
                row as u32 * TILE,
                &img,
                centre,
                side,
                lips,
                lm5,
            );
        }
    }
    canvas.save(out)?;
    println!("wrote {out}: {} frames of face {}", picks.len(), track.id);
    Ok(())
}

/// Draws the square of `side` picture pixels around `centre` into the canvas at `(x0, y0)`, with
/// the points on top.
#[allow(clippy::too_many_arguments)]
fn draw_tile(
    canvas: &mut image::RgbImage,
    x0: u32,
    y0: u32,
    img: &RgbImage,
    centre: [f32; 2],
    side: f32,
    lips: &LipLandmarks,
    lm5: &[[f32; 2]; 5],
) {
    let k = side / TILE as f32;
    let to_tile = |p: [f32; 2]| {
        [(p[0] - centre[0]) / k + TILE as f32 / 2.0, (p[1] - centre[1]) / k + TILE as f32 / 2.0]
    };
    for j in 0..TILE {
        for i in 0..TILE {
            let x = centre[0] + (i as f32 + 0.5 - TILE as f32 / 2.0) * k;
            let y = centre[1] + (j as f32 + 0.5 - TILE as f32 / 2.0) * k;
            let (xi, yi) = (x.floor() as i64, y.floor() as i64);
            let px = if xi < 0 || yi < 0 || xi as usize >= img.width || yi as usize >= img.height {
                [0, 0, 0]
            } else {
                let o = (yi as usize * img.width + xi as usize) * 3;
                [img.data[o], img.data[o + 1], img.data[o + 2]]
            };
            canvas.put_pixel(x0 + i, y0 + j, image::Rgb(px));
        }
    }
    let mut dot = |p: [f32; 2], r: i64, colour: [u8; 3]| {
        let [x, y] = to_tile(p);
        for dy in -r..=r {
            for dx in -r..=r {
                let (px, py) = (x as i64 + dx, y as i64 + dy);
                if dx * dx + dy * dy <= r * r
                    && (0..TILE as i64).contains(&px)
                    && (0..TILE as i64).contains(&py)
                {
                    canvas.put_pixel(x0 + px as u32, y0 + py as u32, image::Rgb(colour));
                }
            }
        }
    };
    let mut contour = |pts: &[[f32; 2]; 20], colour: [u8; 3]| {
        for (a, b) in pts.iter().zip(pts.iter().cycle().skip(1)) {
            for s in 0..8 {
                let t = s as f32 / 8.0;
                dot([a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t], 0, colour);
            }
            dot(*a, 2, colour);
        }
    };
    contour(&lips.outer, [255, 40, 40]);
    contour(&lips.inner, [40, 255, 40]);
    for e in lips.eyes {
        dot(e, 3, [60, 120, 255]);
    }
    for m in [lm5[3], lm5[4]] {
        dot(m, 2, [255, 230, 0]);
    }
}
