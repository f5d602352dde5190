//! The per-frame analysis loop: downscale, shot-cut check, detection (full MTCNN or O-Net-only
//! refinement of the open tracks), tracking, and the final [`Analysis`].

use super::AnalysisError;
use super::geometry::{BBox, Overlap, nms};
use super::image::RgbImage;
use super::mtcnn::{Detection, Mtcnn};
use super::shotcut::{DEFAULT_CUT_THRESHOLD, ShotCutDetector};
use super::speech::{ActivityParams, speaking_segments_with_lips};
use super::track::{FaceTrack, Tracker};
use crate::model::FrameRate;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Bumped whenever the analysis output changes meaning, so stale cache entries are ignored.
pub const ANALYSIS_VERSION: u32 = 4;

/// What the analysis does per frame.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalysisOptions {
    /// Frames are downscaled so their shorter side is at most this many pixels before detection.
    pub work_size: u32,
    /// A full MTCNN detection every this many frames (1 = every frame); in between, each open
    /// track is refined by O-Net alone on its last box.
    pub detect_every: u32,
    /// Smallest face searched for, in working-resolution pixels.
    pub min_face: f32,
    /// Frames per part of a long analysis (see [`super::parts`]): each part is stored as it
    /// finishes, so a killed analysis resumes, and parts can run on different machines.
    #[serde(default = "default_part_frames")]
    pub part_frames: u32,
}

/// [`AnalysisOptions::part_frames`]' default: a minute of 25 fps footage, a few seconds of
/// work to redo after a kill.
pub const PART_FRAMES: u32 = 1500;

fn default_part_frames() -> u32 {
    PART_FRAMES
}

impl Default for AnalysisOptions {
    fn default() -> Self {
        Self { work_size: 360, detect_every: 5, min_face: 20.0, part_frames: PART_FRAMES }
    }
}

impl AnalysisOptions {
    /// The working-resolution scale for a frame size (never above 1).
    pub fn work_scale(&self, width: u32, height: u32) -> f32 {
        (self.work_size as f32 / width.min(height).max(1) as f32).min(1.0)
    }

    /// The working-resolution picture size for a frame size.
    pub fn work_picture_size(&self, width: u32, height: u32) -> (u32, u32) {
        let s = self.work_scale(width, height);
        (((width as f32 * s).round() as u32).max(1), ((height as f32 * s).round() as u32).max(1))
    }

    /// A short tag naming these options in cache file names.
    pub fn fingerprint(&self) -> String {
        let part = if self.part_frames == PART_FRAMES {
            String::new()
        } else {
            format!("-p{}", self.part_frames)
        };
        format!("w{}-k{}-m{}{part}", self.work_size, self.detect_every, self.min_face)
    }
}

/// Counters and timings of one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AnalysisStats {
    /// Frames analysed.
    pub frames: u64,
    /// Frames that ran the full three-stage detector.
    pub full_detections: u64,
    /// Frames where open tracks were only refined by O-Net.
    pub refinements: u64,
    /// Seconds spent decoding video frames (measured by the caller that decodes).
    pub decode_seconds: f64,
    /// Seconds spent downscaling frames to the working size and checking for shot cuts.
    pub prepare_seconds: f64,
    /// Seconds spent in detection (preprocessing + inference + decoding of outputs).
    pub detect_seconds: f64,
    /// Seconds spent in the whole loop including decode, downscale and tracking.
    pub total_seconds: f64,
    /// Parts the analysis was made of (see [`super::parts`]; 0 in an analysis of one piece).
    #[serde(default)]
    pub parts: u32,
    /// Of those, parts read back from the cache (finished by an earlier, interrupted run or
    /// another machine) rather than computed.
    #[serde(default)]
    pub parts_reused: u32,
}

/// The result of analysing one media file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// [`ANALYSIS_VERSION`] that produced it.
    pub version: u32,
    /// `crate::model::hash::content_hash` of the media (empty for in-memory frame sources).
    pub media_hash: String,
    /// Frame rate of the video.
    pub frame_rate: FrameRate,
    /// Frames analysed.
    pub frame_count: i64,
    /// Full-resolution width.
    pub width: u32,
    /// Full-resolution height.
    pub height: u32,
    /// Options used.
    pub options: AnalysisOptions,
    /// Execution provider the detector ran on.
    pub provider: String,
    /// First frames of new shots.
    pub shot_cuts: Vec<i64>,
    /// Face tracks, ids in order of first appearance.
    pub tracks: Vec<FaceTrack>,
    /// Counters and timings.
    pub stats: AnalysisStats,
}

/// Streaming analyser: push decoded frames in order, then [`Analyzer::finish`].
#[derive(Debug)]
pub struct Analyzer {
    mtcnn: Mtcnn,
    opts: AnalysisOptions,
    rate: FrameRate,
    tracker: Tracker,
    cuts: ShotCutDetector,
    size: (u32, u32),
    last_full: Option<i64>,
    need_full: bool,
    shot_cuts: Vec<i64>,
    stats: AnalysisStats,
    detect_time: Duration,
    prepare_time: Duration,
    started: Instant,
}

impl Analyzer {
    /// An analyser using `mtcnn` for footage at `rate`.
    pub fn new(mut mtcnn: Mtcnn, opts: AnalysisOptions, rate: FrameRate) -> Self {
        mtcnn.params.min_face = opts.min_face;
        Self {
            mtcnn,
            opts,
            rate,
            tracker: Tracker::new(rate.as_f64() as f32),
            cuts: ShotCutDetector::new(DEFAULT_CUT_THRESHOLD),
            size: (0, 0),
            last_full: None,
            need_full: true,
            shot_cuts: Vec::new(),
            stats: AnalysisStats::default(),
            detect_time: Duration::ZERO,
            prepare_time: Duration::ZERO,
            started: Instant::now(),
        }
    }

    /// The working-resolution scale for a frame size.
    pub fn work_scale(&self, width: u32, height: u32) -> f32 {
        self.opts.work_scale(width, height)
    }

    /// The working-resolution picture size for a frame size: what [`Analyzer::push_work_frame`]
    /// wants (a decoder can scale to it while decoding).
    pub fn work_size(&self, width: u32, height: u32) -> (u32, u32) {
        self.opts.work_picture_size(width, height)
    }

    /// Analyses frame `index` (tightly packed RGBA at full size `width` × `height`).
    pub fn push_frame(
        &mut self,
        index: i64,
        width: u32,
        height: u32,
        rgba: &[u8],
    ) -> Result<(), AnalysisError> {
        self.push_work_frame(index, (width, height), (width, height), rgba)
    }

    /// Analyses frame `index` of a stream whose pictures are `full` (width, height) pixels, given
    /// as tightly packed RGBA of size `got`: either the full size or already scaled, e.g. to
    /// [`Analyzer::work_size`] by the decoder (cheapest: then nothing is resized here).
    /// Coordinates in the result are full-size pixels either way.
    pub fn push_work_frame(
        &mut self,
        index: i64,
        full: (u32, u32),
        got: (u32, u32),
        rgba: &[u8],
    ) -> Result<(), AnalysisError> {
        let (width, height) = full;
        self.size = full;
        let t_prepare = Instant::now();
        let (ww, wh) = self.work_size(width, height);
        // The working picture's own scale (its rounded size), so coordinates map back exactly.
        let s = ww as f32 / width.max(1) as f32;
        let (ww, wh) = (ww as usize, wh as usize);
        let work = if got == (ww as u32, wh as u32) {
            RgbImage::from_rgba(ww, wh, rgba)
        } else {
            RgbImage::from_rgba_resized(got.0 as usize, got.1 as usize, rgba, ww, wh)
        };
        if self.cuts.push(&work) {
            self.tracker.cut();
            self.shot_cuts.push(index);
            self.need_full = true;
        }
        self.prepare_time += t_prepare.elapsed();
        let live = self.tracker.live_boxes();
        let k = i64::from(self.opts.detect_every.max(1));
        let due = self.last_full.is_none_or(|l| index - l >= k);
        let t0 = Instant::now();
        let dets: Vec<Detection> = if due || self.need_full {
            self.last_full = Some(index);
            self.need_full = false;
            self.stats.full_detections += 1;
            self.mtcnn.detect(&work)?
        } else if live.is_empty() {
            Vec::new()
        } else {
            self.stats.refinements += 1;
            let boxes: Vec<BBox> = live.iter().map(|(_, b)| b.scaled(s)).collect();
            let refined = self.mtcnn.refine(&work, &boxes)?;
            if refined.iter().any(Option::is_none) {
                // A face was lost: look for it (and any newcomer) with the full detector next.
                self.need_full = true;
            }
            let found: Vec<Detection> = refined.into_iter().flatten().collect();
            let b: Vec<BBox> = found.iter().map(|d| d.bbox).collect();
            let sc: Vec<f32> = found.iter().map(|d| d.score).collect();
            // Two tracks drifting onto one face must not both survive.
            nms(&b, &sc, 0.5, Overlap::Min).into_iter().map(|i| found[i]).collect()
        };
        self.detect_time += t0.elapsed();
        let full: Vec<Detection> = dets.iter().map(|d| d.scaled(1.0 / s)).collect();
        self.tracker.update(index, &full, &work, s);
        self.stats.frames += 1;
        Ok(())
    }

    /// Closes the tracks, derives speaking segments and returns the analysis.
    pub fn finish(self, media_hash: String) -> Analysis {
        self.finish_with_decode_time(media_hash, Duration::ZERO)
    }

    /// [`Analyzer::finish`], recording how long the caller spent decoding the frames.
    pub fn finish_with_decode_time(self, media_hash: String, decode: Duration) -> Analysis {
        self.finish_keeping_detector(media_hash, decode).0
    }

    /// [`Analyzer::finish_with_decode_time`], giving the detector back for the next part.
    pub fn finish_keeping_detector(
        self,
        media_hash: String,
        decode: Duration,
    ) -> (Analysis, Mtcnn) {
        let fps = self.rate.as_f64() as f32;
        let provider = self.mtcnn.provider().to_string();
        let params = ActivityParams::default();
        let tracks: Vec<FaceTrack> = self
            .tracker
            .finish_with_lips()
            .into_iter()
            .map(|(mut t, lips)| {
                t.speaking = speaking_segments_with_lips(&t, &lips, fps, &params);
                t
            })
            .collect();
        let mut stats = self.stats;
        stats.detect_seconds = self.detect_time.as_secs_f64();
        stats.prepare_seconds = self.prepare_time.as_secs_f64();
        stats.decode_seconds = decode.as_secs_f64();
        stats.total_seconds = self.started.elapsed().as_secs_f64();
        let analysis = Analysis {
            version: ANALYSIS_VERSION,
            media_hash,
            frame_rate: self.rate,
            frame_count: stats.frames as i64,
            width: self.size.0,
            height: self.size.1,
            options: self.opts,
            provider,
            shot_cuts: self.shot_cuts,
            tracks,
            stats,
        };
        (analysis, self.mtcnn)
    }
}
