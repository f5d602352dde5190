//! Speed and accuracy of face analysis with full detection every frame against every k frames
//! with O-Net tracking in between, plus a 720p figure: `cargo run --release --example face_bench
//! [MEDIA_DIR]` (default `../shared/media`; needs the models of `packaging/setup.sh deps`).
//! Prints one line per clip and k; it asserts nothing (it was an ignored test that only
//! printed).

use redub::analysis::geometry::Similarity;
use redub::analysis::speech::quantile;
use redub::analysis::{Analysis, AnalysisOptions, FaceTrack, TrackFrame, analyze_file};
use std::path::{Path, PathBuf};

type Error = Box<dyn std::error::Error>;

/// Every mp4 in `dir`, sorted.
fn clips(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let p = e?.path();
        if p.extension().is_some_and(|e| e == "mp4") {
            v.push(p);
        }
    }
    v.sort();
    Ok(v)
}

fn run_clip(path: &Path, detect_every: u32) -> Result<Analysis, Error> {
    let opts = AnalysisOptions { detect_every, ..Default::default() };
    Ok(analyze_file(path, &opts, &redub::jobs::Job::new(), false)?.0)
}

/// Frame-to-frame motion of the smoothed mouth corners after removing the head's motion, in
/// fractions of the face width: (mean, 95th percentile).
fn mouth_jitter(track: &FaceTrack) -> (f32, f32) {
    let unit = track.median_width().max(1.0);
    let mut d = Vec::new();
    for w in track.frames.windows(2) {
        if w[0].filled || w[1].filled {
            continue;
        }
        let (a, b): (&TrackFrame, &TrackFrame) = (&w[0], &w[1]);
        let Some(head) = Similarity::fit(&a.landmarks[..3], &b.landmarks[..3]) else { continue };
        for k in 3..5 {
            let p = head.apply(a.landmarks[k]);
            d.push((p[0] - b.landmarks[k][0]).hypot(p[1] - b.landmarks[k][1]) / unit);
        }
    }
    let mean = d.iter().sum::<f32>() / d.len().max(1) as f32;
    (mean, quantile(&d, 0.95))
}

/// Mean distance between the raw landmarks of two analyses of the same clip, over frames both
/// tracked, in fractions of the face width.
fn landmark_difference(a: &FaceTrack, b: &FaceTrack) -> f32 {
    let unit = a.median_width().max(1.0);
    let mut d = Vec::new();
    for fa in &a.frames {
        if let Some(fb) = b.at(fa.frame) {
            let m: f32 = (0..5)
                .map(|k| {
                    (fa.raw_landmarks[k][0] - fb.raw_landmarks[k][0])
                        .hypot(fa.raw_landmarks[k][1] - fb.raw_landmarks[k][1])
                })
                .sum::<f32>()
                / 5.0;
            d.push(m / unit);
        }
    }
    d.iter().sum::<f32>() / d.len().max(1) as f32
}

fn main() -> Result<(), Error> {
    let dir = std::env::args().nth(1).map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/media"),
        PathBuf::from,
    );
    let mut inputs = clips(&dir)?;
    // A 1280x720 25 fps version of the 844x844 clip (pillarboxed), for the 720p figure.
    let tmp = tempfile::tempdir()?;
    let hd = tmp.path().join("v1_720p.mp4");
    let status = std::process::Command::new("gst-launch-1.0")
        .arg("-q")
        .args(
            format!(
                "filesrc location={} ! decodebin ! videoconvert ! videoscale ! \
                 video/x-raw,width=720,height=720 ! videobox left=-280 right=-280 ! videoconvert \
                 ! video/x-raw,format=I420,width=1280,height=720 ! x264enc speed-preset=veryfast \
                 ! mp4mux ! filesink location={}",
                dir.join("v1_retalking_face2.mp4").display(),
                hd.display()
            )
            .split_whitespace(),
        )
        .status();
    if status.is_ok_and(|s| s.success()) {
        inputs.push(hd);
    } else {
        eprintln!("no 720p clip (gst-launch-1.0 failed); 720p figure skipped");
    }
    for clip in inputs {
        let name = clip.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let base = run_clip(&clip, 1)?;
        let Some(bt) = base.tracks.iter().max_by_key(|t| t.frames.len()) else { continue };
        for k in [1u32, 3, 5, 10] {
            let a = if k == 1 { base.clone() } else { run_clip(&clip, k)? };
            let Some(t) = a.tracks.iter().max_by_key(|t| t.frames.len()) else { continue };
            let fps = a.stats.frames as f64 / a.stats.total_seconds;
            let det_fps = a.stats.frames as f64 / a.stats.detect_seconds;
            let (jm, _) = mouth_jitter(t);
            println!(
                "{name} {}x{} k={k:2}: {:6.1} fps overall ({:.1}x real time), detection alone \
                 {:6.1} fps; {} track(s), coverage {:.1} %, landmarks vs k=1 {:.2} % face width, \
                 jitter {:.2} %",
                a.width,
                a.height,
                fps,
                fps / a.frame_rate.as_f64(),
                det_fps,
                a.tracks.len(),
                100.0 * t.frames.len() as f32 / a.frame_count as f32,
                100.0 * landmark_difference(bt, t),
                100.0 * jm
            );
        }
    }
    Ok(())
}
