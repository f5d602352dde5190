//! Analysis in parts: a long file is analysed as fixed ranges of
//! [`AnalysisOptions::part_frames`] frames, each with a fresh tracker, stored in the analysis
//! cache as it finishes and merged into the whole analysis once every part is there. So a
//! killed or cancelled analysis resumes where it stopped (finished parts are read back, not
//! redone), and `redub analyze --range` can spread the parts over machines that share the cache
//! folder: the merged result is the same however the parts were run.
//!
//! The parts are a fixed grid from frame 0, so a part is always the same work wherever it runs.
//! Merging joins a track that ends on a part boundary with the one that starts there on the
//! same face (box overlap), so a face seen across the boundary stays one track.

use super::AnalysisError;
use super::cache;
use super::pipeline::{ANALYSIS_VERSION, Analysis, AnalysisOptions};
use std::path::{Path, PathBuf};

/// Overlap of the boxes on either side of a part boundary above which two tracks are one face.
const JOIN_IOU: f32 = 0.3;

/// The parts of a stream of `frames` frames: `[a, b)` ranges of `part` frames from 0 (the last
/// one shorter).
pub fn part_ranges(frames: i64, part: u32) -> Vec<(i64, i64)> {
    let part = i64::from(part.max(1));
    let frames = frames.max(1);
    (0..(frames + part - 1) / part).map(|k| (k * part, ((k + 1) * part).min(frames))).collect()
}

/// The cache file of one part.
pub fn part_path(
    dir: &Path,
    media_hash: &str,
    opts: &AnalysisOptions,
    (a, b): (i64, i64),
) -> PathBuf {
    let whole = cache::cache_path(dir, media_hash, opts);
    let stem = whole.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    dir.join(format!("{stem}-part{a}-{b}.json"))
}

/// A stored part, if it is there and reads back with this version.
pub fn load_part(
    dir: &Path,
    media_hash: &str,
    opts: &AnalysisOptions,
    range: (i64, i64),
) -> Option<Analysis> {
    let text = std::fs::read_to_string(part_path(dir, media_hash, opts, range)).ok()?;
    let a: Analysis = serde_json::from_str(&text).ok()?;
    (a.version == ANALYSIS_VERSION && a.media_hash == media_hash && a.options == *opts).then_some(a)
}

/// Stores a part atomically.
pub fn store_part(
    dir: &Path,
    part: &Analysis,
    range: (i64, i64),
) -> Result<PathBuf, AnalysisError> {
    let path = part_path(dir, &part.media_hash, &part.options, range);
    cache::store_at(dir, &path, part)?;
    Ok(path)
}

/// Removes the stored parts of an analysis (once the whole is stored).
pub fn remove_parts(dir: &Path, media_hash: &str, opts: &AnalysisOptions, parts: &[(i64, i64)]) {
    for &r in parts {
        let _ = std::fs::remove_file(part_path(dir, media_hash, opts, r));
    }
}

/// The whole analysis from its parts, in order: tracks across a boundary joined, ids in order
/// of first appearance, counters summed.
pub fn merge(parts: Vec<Analysis>) -> Option<Analysis> {
    let mut parts = parts.into_iter();
    let mut whole = parts.next()?;
    for p in parts {
        let mut taken = vec![false; whole.tracks.len()];
        for t in p.tracks {
            let first = t.frames.first().map(|f| f.bbox);
            // The best-overlapping track that ends right where this one starts.
            let join = first.and_then(|b| {
                whole
                    .tracks
                    .iter()
                    .enumerate()
                    .filter(|(i, w)| !taken[*i] && w.end() == t.start())
                    .filter_map(|(i, w)| Some((i, w.frames.last()?.bbox.iou(&b))))
                    .filter(|(_, iou)| *iou >= JOIN_IOU)
                    .max_by(|x, y| x.1.total_cmp(&y.1))
                    .map(|(i, _)| i)
            });
            match join {
                Some(i) => {
                    taken[i] = true;
                    let w = &mut whole.tracks[i];
                    let start = t.start();
                    w.frames.extend(t.frames);
                    let mut speaking = t.speaking.into_iter();
                    // A segment running up to the boundary goes on in the next part's first.
                    if let (Some(last), Some(next)) = (w.speaking.last_mut(), speaking.next()) {
                        if last.end == start && next.start == start {
                            last.end = next.end;
                        } else {
                            w.speaking.push(next);
                        }
                    }
                    w.speaking.extend(speaking);
                }
                None => {
                    whole.tracks.push(t);
                    taken.push(true);
                }
            }
        }
        whole.shot_cuts.extend(p.shot_cuts);
        whole.frame_count += p.frame_count;
        let (s, q) = (&mut whole.stats, p.stats);
        s.frames += q.frames;
        s.full_detections += q.full_detections;
        s.refinements += q.refinements;
        s.decode_seconds += q.decode_seconds;
        s.prepare_seconds += q.prepare_seconds;
        s.detect_seconds += q.detect_seconds;
        s.total_seconds += q.total_seconds;
        s.parts += q.parts;
        s.parts_reused += q.parts_reused;
        whole.width = whole.width.max(p.width);
        whole.height = whole.height.max(p.height);
    }
    whole.tracks.sort_by_key(|t| (t.start(), t.id));
    for (i, t) in whole.tracks.iter_mut().enumerate() {
        t.id = i as u32;
    }
    Some(whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_stream_on_a_fixed_grid() {
        assert_eq!(part_ranges(10, 4), [(0, 4), (4, 8), (8, 10)]);
        assert_eq!(part_ranges(8, 4), [(0, 4), (4, 8)]);
        assert_eq!(part_ranges(3, 1500), [(0, 3)]);
    }
}
