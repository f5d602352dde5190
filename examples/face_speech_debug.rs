//! Diagnostics for the speaking-segment method: per clip, a PNG of every frame's canonical mouth
//! crop (green strip = audio speech, bar = mouth energy) and the per-frame figures on stdout.
//! `cargo run --release --example face_speech_debug [MEDIA_DIR [OUT_DIR]]` (defaults
//! `../shared/media` and `target/face-test-output`; needs the models of
//! `packaging/setup.sh deps`). It was an ignored test that only printed.

use redub::analysis::speech::{audio_speech_segments, quantile};
use redub::analysis::{AnalysisOptions, RgbImage, analyze_file, mouth};
use redub::media::{VideoDecoder, decode_audio};
use std::path::{Path, PathBuf};

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = args.next().map_or_else(|| root.join("../shared/media"), PathBuf::from);
    let out_dir = args.next().map_or_else(|| root.join("target/face-test-output"), PathBuf::from);
    std::fs::create_dir_all(&out_dir)?;
    let mut clips: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
        .collect();
    clips.sort();
    for clip in clips {
        let name = clip.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let (a, _) =
            analyze_file(&clip, &AnalysisOptions::default(), &redub::jobs::Job::new(), false)?;
        let fps = a.frame_rate.as_f64() as f32;
        let Some(best) = a.tracks.iter().max_by_key(|t| t.frames.len()) else {
            println!("{name}: no face track");
            continue;
        };
        let audio = decode_audio(&clip, Some(1))?;
        let n = a.frame_count as usize;
        let segs = audio_speech_segments(&audio.samples, audio.rate, fps, n);
        let vad: Vec<bool> =
            (0..n as i64).map(|i| segs.iter().any(|s| (s.start..s.end).contains(&i))).collect();
        let mut dec = VideoDecoder::open(&clip)?;
        let mut crops = Vec::new();
        let mut want = 0;
        // Each frame after the one just received (no seeks), until the decoder repeats the last.
        while let Ok(f) = dec.frame(want) {
            if f.index < want {
                break;
            }
            let img = RgbImage::from_rgba(f.width as usize, f.height as usize, &f.data);
            crops.push(best.at(f.index).and_then(|t| mouth::mouth_crop(&img, &t.landmarks)));
            want = f.index + 1;
        }
        let (cw, ch) = (mouth::CROP_W as u32 * 2, mouth::CROP_H as u32 * 2 + 14);
        let cols = 10u32;
        let rows = (crops.len() as u32).div_ceil(cols);
        let mut out = image::RgbImage::new(cols * cw, rows * ch);
        let energies: Vec<f32> = best.frames.iter().map(|f| f.mouth_energy).collect();
        let emax = quantile(&energies, 0.98).max(1e-3);
        for (i, c) in crops.iter().enumerate() {
            let (ox, oy) = ((i as u32 % cols) * cw, (i as u32 / cols) * ch);
            if let Some(c) = c {
                for y in 0..ch - 14 {
                    for x in 0..cw {
                        let v = c[(y / 2) as usize * mouth::CROP_W + (x / 2) as usize];
                        let g = (128.0 + 40.0 * v).clamp(0.0, 255.0) as u8;
                        out.put_pixel(ox + x, oy + y, image::Rgb([g, g, g]));
                    }
                }
            }
            let sp = vad.get(i).copied().unwrap_or(false);
            for y in ch - 14..ch - 10 {
                for x in 0..cw {
                    let col = if sp { [0, 200, 0] } else { [60, 0, 0] };
                    out.put_pixel(ox + x, oy + y, image::Rgb(col));
                }
            }
            let e = best.at(i as i64).map_or(0.0, |f| f.mouth_energy);
            let speaking = best.speaking.iter().any(|s| (s.start..s.end).contains(&(i as i64)));
            let len = ((e / emax).min(1.0) * cw as f32) as u32;
            for y in ch - 9..ch - 2 {
                for x in 0..len {
                    let col = if speaking { [255, 200, 0] } else { [0, 120, 255] };
                    out.put_pixel(ox + x, oy + y, image::Rgb(col));
                }
            }
            println!("{name} {i:4} e {e:.3} vad {} speak {}", u8::from(sp), u8::from(speaking));
        }
        out.save(out_dir.join(format!("{name}.mouths.png")))?;
    }
    Ok(())
}
