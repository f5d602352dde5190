//! Face Mesh lips along one face track of a video: decode the full-size frames the track covers
//! and hand each (with its MTCNN landmarks) to [`FaceMesh::lips`].

use super::AnalysisError;
use super::image::RgbImage;
use super::job::for_each_frame;
use super::lipmesh::{FaceMesh, LipLandmarks};
use super::pipeline::Analysis;
use super::track::{FaceTrack, TrackFrame};
use crate::media::{PixelFormat, VideoDecoder};
use std::path::Path;

/// The face the lip tools follow by default: the one with the most face area over time (median
/// box width times frames), so a large face on screen for long wins over a brief or small one.
pub fn main_track(analysis: &Analysis) -> Option<&FaceTrack> {
    analysis.tracks.iter().max_by(|a, b| weight(a).total_cmp(&weight(b)))
}

fn weight(t: &FaceTrack) -> f32 {
    t.median_width() * t.frames.len() as f32
}

/// One frame of a track with its lips.
#[derive(Debug)]
pub struct TrackLips<'a> {
    /// The track's frame: index, box, MTCNN landmarks (smoothed and raw).
    pub frame: &'a TrackFrame,
    /// The full-size picture.
    pub image: &'a RgbImage,
    /// The lips, when Face Mesh found a face there.
    pub lips: Option<LipLandmarks>,
}

/// Runs `mesh` on every `every`-th frame of `track` (counted from its first frame) in the video
/// at `path`, in frame order, calling `f` for each. The track's smoothed landmarks place the
/// crop. Stops at the first error `f` returns.
pub fn for_each_track_lips(
    path: &Path,
    track: &FaceTrack,
    every: usize,
    mesh: &mut FaceMesh,
    mut f: impl FnMut(TrackLips<'_>) -> Result<(), AnalysisError>,
) -> Result<(), AnalysisError> {
    let every = every.max(1) as i64;
    let (Some(first), Some(last)) = (track.frames.first(), track.frames.last()) else {
        return Ok(());
    };
    let (start, end) = (first.frame, last.frame);
    let mut decoder = VideoDecoder::open_with_cache(path, 0)?;
    for_each_frame(&mut decoder, |frame| {
        let i = frame.index;
        if i < start || i > end || (i - start) % every != 0 {
            return Ok(());
        }
        let Some(tf) = track.frames.get((i - start) as usize).filter(|tf| tf.frame == i) else {
            return Ok(());
        };
        let (image, lips) = lips_in(path, frame, tf, mesh)?;
        f(TrackLips { frame: tf, image: &image, lips })
    })
}

/// Runs `mesh` on the frames of `track` that `want` picks (frame index → whether), in frame
/// order, calling `f` for each: [`for_each_track_lips`] for a sparse set of frames (the learned
/// stretches of a long shot), which the decoder reaches by seeking where they are far apart
/// instead of decoding the whole shot.
pub fn for_each_track_lips_where(
    path: &Path,
    track: &FaceTrack,
    mesh: &mut FaceMesh,
    want: impl Fn(i64) -> bool,
    mut f: impl FnMut(TrackLips<'_>) -> Result<(), AnalysisError>,
) -> Result<(), AnalysisError> {
    let mut decoder: Option<VideoDecoder> = None;
    for tf in track.frames.iter().filter(|tf| want(tf.frame)) {
        let decoder = match &mut decoder {
            Some(d) => d,
            None => decoder.insert(VideoDecoder::open_with_cache(path, 0)?),
        };
        let frame = decoder.frame(tf.frame)?;
        let (image, lips) = lips_in(path, &frame, tf, mesh)?;
        f(TrackLips { frame: tf, image: &image, lips })?;
    }
    Ok(())
}

/// The picture of a decoded RGBA `frame` and the lips Face Mesh finds there at `tf`'s landmarks.
fn lips_in(
    path: &Path,
    frame: &crate::media::Frame,
    tf: &TrackFrame,
    mesh: &mut FaceMesh,
) -> Result<(RgbImage, Option<LipLandmarks>), AnalysisError> {
    if !matches!(frame.format, PixelFormat::Rgba) {
        return Err(AnalysisError::Model(format!(
            "{}: the decoder gave a non-RGBA frame",
            path.display()
        )));
    }
    let image = RgbImage::from_rgba(frame.width as usize, frame.height as usize, &frame.data);
    let lips = mesh.lips(&image, &tf.landmarks)?;
    Ok((image, lips))
}
