//! `redub bench-timeline`: the timeline's frame time (UI build + tessellation) on a generated
//! project with many clips, headless. A benchmark, not a test: it prints numbers.

use super::timeline::{TimelineInput, TimelineView, timeline_ui};
use crate::model::project::{MediaId, MediaKind, MediaRef};
use crate::model::{FrameRate, Project, Time};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

/// A project with `clips` clips spread over `tracks` dub tracks (media need not exist).
pub fn generated_project(clips: usize, tracks: usize) -> Project {
    let mut p = Project::new("bench", FrameRate::FPS_25);
    p.media.push(MediaRef {
        id: MediaId(1),
        kind: MediaKind::Audio,
        path: PathBuf::from("/nonexistent/line.wav"),
        absolute_path: PathBuf::from("/nonexistent/line.wav"),
        content_hash: String::new(),
        size: 0,
        duration: Time::from_millis(2000),
    });
    let ids: Vec<_> =
        (0..tracks.max(1)).map(|i| p.add_dub_track(format!("Dub {}", i + 1))).collect();
    let per_track = clips.div_ceil(ids.len());
    for i in 0..clips {
        let (k, slot) = (i % ids.len(), i / ids.len());
        // 2 s clips every 2.5 s, staggered per track.
        let at = Time::from_millis(slot as i64 * 2500 + k as i64 * 300);
        let _ = p.add_clip(ids[k], MediaId(1), at);
    }
    p.timeline.duration = Time::from_millis(per_track as i64 * 2500 + 3000);
    p
}

/// Frame-time statistics in milliseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FrameStats {
    /// Median.
    pub median_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// Clips laid out per frame.
    pub visible_clips: usize,
}

/// Times `frames` frames of the timeline alone at `px_per_sec` zoom in a 1600×720 area.
pub fn time_timeline(project: &Project, px_per_sec: f32, frames: usize) -> FrameStats {
    let ctx = egui::Context::default();
    let mut view = TimelineView::default();
    view.px_per_sec = px_per_sec;
    let selection = Vec::new();
    let mut times = Vec::with_capacity(frames);
    let mut visible = 0;
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1600.0, 720.0))),
        ..Default::default()
    };
    for i in 0..frames + 5 {
        // Scroll a little each frame so nothing is cached between frames.
        view.scroll_sec = (i % 50) as f64 * 0.2;
        let t0 = Instant::now();
        let out = ctx.run_ui(input.clone(), |ui| {
            let ti = TimelineInput {
                project,
                selection: &selection,
                playhead: Time::from_millis(1000),
                in_point: None,
                out_point: None,
                snap: true,
                waveforms: None,
                thumbnails: &[],
                lip_segments: &[],
                lip_selected: None,
                speakers: None,
                bind_target: None,
                preset: crate::app::keys::KeyPreset::Premiere,
            };
            let mut cmds = Vec::new();
            timeline_ui(ui, &ti, &mut view, &mut cmds);
        });
        let egui::FullOutput { shapes, pixels_per_point, mut textures_delta, .. } = out;
        // No GPU here: the font atlas upload is not part of the measured work.
        textures_delta.clear();
        let prims = ctx.tessellate(shapes, pixels_per_point);
        std::hint::black_box(prims);
        if i >= 5 {
            times.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
        visible = view.clip_rects.len();
    }
    times.sort_by(f64::total_cmp);
    let at = |q: f64| {
        times.get(((times.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(0.0)
    };
    FrameStats { median_ms: at(0.5), p95_ms: at(0.95), visible_clips: visible }
}

/// Entry point of `redub bench-timeline [--clips N] [--tracks N] [--frames N]`.
pub fn main(args: &[String]) -> ExitCode {
    let mut clips = 2000usize;
    let mut tracks = 8usize;
    let mut frames = 200usize;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let v = it.next().and_then(|v| v.parse().ok());
        match (a.as_str(), v) {
            ("--clips", Some(v)) => clips = v,
            ("--tracks", Some(v)) => tracks = v,
            ("--frames", Some(v)) => frames = v,
            _ => {
                eprintln!(
                    "redub: usage: redub bench-timeline [--clips N] [--tracks N] [--frames N]"
                );
                return ExitCode::from(1);
            }
        }
    }
    let p = generated_project(clips, tracks);
    println!(
        "timeline benchmark: {clips} clips on {tracks} dub tracks, 1600x720 points, {frames} frames"
    );
    for (label, pps) in [
        ("typical zoom (80 pt/s)", 80.0),
        ("zoomed out (8 pt/s)", 8.0),
        ("whole timeline (0.5 pt/s)", 0.5),
    ] {
        let s = time_timeline(&p, pps, frames);
        println!(
            "  {label:28} visible clips {:5}  median {:6.2} ms  p95 {:6.2} ms",
            s.visible_clips, s.median_ms, s.p95_ms
        );
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_project_has_the_asked_clip_count() {
        let p = generated_project(2000, 8);
        assert_eq!(p.timeline.dub_tracks.len(), 8);
        assert_eq!(p.timeline.dub_tracks.iter().map(|t| t.clips.len()).sum::<usize>(), 2000);
    }
}
