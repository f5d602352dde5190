//! The filmed lip shape of every frame of a face track (Face Mesh lip contours, pose-normalised:
//! see [`super::lipmesh::LipLandmarks::shape`]), cached on disk beside the analyses per media
//! content and track, so a shot's lips are measured once.

use super::AnalysisError;
use super::lip_track::{for_each_track_lips, for_each_track_lips_where};
use super::lipmesh::FaceMesh;
use super::track::FaceTrack;
use crate::jobs::Job;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

/// Bump when the measurement changes (model, crop, shape layout).
pub const LIP_SHAPES_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Cached {
    version: u32,
    media_hash: String,
    track: u32,
    first: i64,
    frames: usize,
    /// Per frame from `first`: the flattened shape (x, y pairs), empty where not measured.
    shapes: Vec<Vec<f32>>,
}

/// Per media frame `0..=last frame of the track`, the lip shape there (x, y pairs; `None` where
/// the track has no face or Face Mesh found none). Reads the cache when it holds this track,
/// else decodes the frames the track covers (progress on `job`, cancellable).
pub fn track_shapes(
    video: &Path,
    track: &FaceTrack,
    job: &Job,
) -> Result<Vec<Option<Vec<f32>>>, AnalysisError> {
    track_shapes_where(video, track, job, None)
}

/// [`track_shapes`] measured only on the media frames `only` marks (`only[i]` for frame `i`;
/// `None`: every frame of the track): a long shot's learned stretches. The other frames read
/// `None`. Cached per set of frames.
pub fn track_shapes_where(
    video: &Path,
    track: &FaceTrack,
    job: &Job,
    only: Option<&[bool]>,
) -> Result<Vec<Option<Vec<f32>>>, AnalysisError> {
    let hash = crate::model::hash::content_hash(video).map_err(|e| AnalysisError::Cache {
        path: video.to_path_buf(),
        reason: format!("cannot hash: {e}"),
    })?;
    let first = track.frames.first().map_or(0, |f| f.frame);
    let frames = track.frames.len();
    let picked = |i: i64| {
        only.is_none_or(|o| usize::try_from(i).ok().and_then(|i| o.get(i)).copied() == Some(true))
    };
    // A partial set of frames is part of the key (a hash of which of the track's frames).
    let partial = only.filter(|_| !track.frames.iter().all(|f| picked(f.frame))).map(|_| {
        let mut h = Sha256::new();
        for f in &track.frames {
            h.update([u8::from(picked(f.frame))]);
        }
        let hex: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
        format!("-s{hex}")
    });
    let key = format!(
        "lips-{}-t{}-{first}-{frames}{}-v{LIP_SHAPES_VERSION}.json",
        hash.trim_start_matches("sha256:"),
        track.id,
        partial.as_deref().unwrap_or("")
    );
    let dir = super::cache::cache_dir();
    let path = dir.as_ref().map(|d| d.join(&key));
    if let Some(p) = &path
        && let Ok(text) = std::fs::read_to_string(p)
        && let Ok(c) = serde_json::from_str::<Cached>(&text)
        && c.version == LIP_SHAPES_VERSION
        && c.media_hash == hash
        && c.track == track.id
        && c.first == first
        && c.frames == frames
    {
        return Ok(expand(c.first, c.shapes));
    }
    let mut mesh = FaceMesh::load_default()?;
    let mut shapes = vec![Vec::new(); frames];
    let total = track.frames.iter().filter(|f| picked(f.frame)).count().max(1);
    let mut done = 0usize;
    let mut each = |tl: super::lip_track::TrackLips<'_>| {
        if job.is_cancelled() {
            return Err(AnalysisError::Cancelled);
        }
        let k = usize::try_from(tl.frame.frame - first).unwrap_or(usize::MAX);
        if let (Some(slot), Some(lips)) = (shapes.get_mut(k), tl.lips.as_ref()) {
            *slot = lips.shape().iter().flatten().copied().collect();
        }
        done += 1;
        job.set_progress(done as f64 / total as f64);
        Ok(())
    };
    if partial.is_some() {
        for_each_track_lips_where(video, track, &mut mesh, picked, &mut each)?;
    } else {
        for_each_track_lips(video, track, 1, &mut mesh, &mut each)?;
    }
    let cached = Cached {
        version: LIP_SHAPES_VERSION,
        media_hash: hash,
        track: track.id,
        first,
        frames,
        shapes,
    };
    if let (Some(d), Some(p)) = (&dir, &path) {
        // A cache that cannot be written only costs a new measurement next time.
        let _ = store(d, p, &cached);
    }
    Ok(expand(cached.first, cached.shapes))
}

fn expand(first: i64, shapes: Vec<Vec<f32>>) -> Vec<Option<Vec<f32>>> {
    let lead = usize::try_from(first).unwrap_or(0);
    std::iter::repeat_n(None, lead)
        .chain(shapes.into_iter().map(|s| (!s.is_empty()).then_some(s)))
        .collect()
}

fn store(dir: &Path, path: &Path, cached: &Cached) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let text = serde_json::to_string(cached).map_err(std::io::Error::other)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
