//! `redub lips VIDEO [--json] [--every N]`: Face Mesh lip contours of the main face, per frame.

use super::CliError;
use crate::analysis::lip_track::{for_each_track_lips, main_track};
use crate::analysis::{AnalysisOptions, FaceMesh, LipLandmarks, analyze_file};
use crate::jobs::Job;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// One line of `--json` output.
#[derive(Serialize)]
struct FrameLips {
    frame: i64,
    time: f64,
    /// MTCNN mouth corners (smoothed), picture pixels.
    mtcnn_corners: [[f32; 2]; 2],
    /// Inner opening / eye distance; null when the mesh found no face.
    opening: Option<f32>,
    /// Mouth width / eye distance.
    width: Option<f32>,
    lips: Option<LipLandmarks>,
}

pub(super) fn run(file: &Path, json: bool, every: u32) -> Result<(), CliError> {
    let (analysis, _) = analyze_file(file, &AnalysisOptions::default(), &Job::new(), true)?;
    let track = main_track(&analysis)
        .ok_or_else(|| CliError::User(format!("{}: no face found", file.display())))?;
    let mut mesh = FaceMesh::load_default()?;
    let fps = analysis.frame_rate.as_f64();
    let mut rows = Vec::new();
    for_each_track_lips(file, track, every as usize, &mut mesh, |t| {
        rows.push(FrameLips {
            frame: t.frame.frame,
            time: t.frame.frame as f64 / fps,
            mtcnn_corners: [t.frame.landmarks[3], t.frame.landmarks[4]],
            opening: t.lips.as_ref().map(LipLandmarks::inner_opening),
            width: t.lips.as_ref().map(LipLandmarks::mouth_width),
            lips: t.lips,
        });
        Ok(())
    })?;
    let mut out = String::new();
    if json {
        out = serde_json::to_string_pretty(&rows).map_err(|e| CliError::Internal(e.to_string()))?;
        out.push('\n');
    } else {
        let found = rows.iter().filter(|r| r.lips.is_some()).count();
        let _ = writeln!(
            out,
            "{}: face {} ({} frames), Face Mesh on {} frame(s), lips found in {found} [{}]",
            file.display(),
            track.id,
            track.frames.len(),
            rows.len(),
            mesh.provider()
        );
        let _ = writeln!(out, "  frame   time  opening  width  (over the eye distance)");
        for r in &rows {
            match (r.opening, r.width) {
                (Some(o), Some(w)) => {
                    let _ = writeln!(out, "  {:5} {:6.2}  {o:7.3}  {w:5.3}", r.frame, r.time);
                }
                _ => {
                    let _ = writeln!(out, "  {:5} {:6.2}  no face", r.frame, r.time);
                }
            }
        }
    }
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(())
}
