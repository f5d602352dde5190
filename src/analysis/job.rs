//! Analysing a media file as a background job: progress, cancel, cache.

use super::AnalysisError;
use super::cache;
use super::mtcnn::Mtcnn;
use super::parts;
use super::pipeline::{Analysis, AnalysisOptions, Analyzer};
use crate::inference::Registry;
use crate::jobs::{Job, Task};
use crate::media::VideoDecoder;
use std::path::{Path, PathBuf};

/// Loads the detector from the default models folder.
pub fn load_detector() -> Result<Mtcnn, AnalysisError> {
    let registry = Registry::installed()?;
    Mtcnn::load(&registry)
}

/// Whether a result came from the cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Read from the on-disk cache.
    Cache,
    /// Computed now (and stored in the cache when possible).
    Computed,
}

/// Analyses every frame of `path`, reporting progress on `job` and stopping with
/// [`AnalysisError::Cancelled`] when it is cancelled. With `use_cache`, a cached result for the
/// same content and options is returned instead, and a fresh one is stored (a cache write failure
/// is reported on stderr and does not fail the analysis).
pub fn analyze_file(
    path: &Path,
    opts: &AnalysisOptions,
    job: &Job,
    use_cache: bool,
) -> Result<(Analysis, Source), AnalysisError> {
    crate::media::check_input(path)?;
    let hash = crate::model::hash::content_hash(path).map_err(|e| AnalysisError::Cache {
        path: path.to_path_buf(),
        reason: format!("cannot hash: {e}"),
    })?;
    let dir = cache::cache_dir();
    if use_cache && let Some(a) = dir.as_deref().and_then(|d| cache::load(d, &hash, opts)) {
        job.set_progress(1.0);
        return Ok((a, Source::Cache));
    }
    // Decode straight to the working size: the analysis never looks at the full-size picture.
    let mut decoder = VideoDecoder::open_scaled(path, |w, h| Some(opts.work_picture_size(w, h)))?;
    let ranges = parts::part_ranges(decoder.frame_count(), opts.part_frames);
    // Parts are kept (to resume from) only where the whole will be cached too.
    let store = if use_cache && ranges.len() > 1 { dir.as_deref() } else { None };
    let wanted = vec![true; ranges.len()];
    let done = run_parts(&mut decoder, &hash, opts, job, store, &ranges, &wanted)?;
    let analysis = parts::merge(done.into_iter().flatten().collect())
        .ok_or_else(|| AnalysisError::Model("no frames analysed".into()))?;
    if use_cache && let Some(d) = dir.as_deref() {
        match cache::store(d, &analysis) {
            Ok(_) => parts::remove_parts(d, &hash, opts, &ranges),
            Err(e) => tracing::warn!("analysis cache not written: {e}"),
        }
    }
    job.set_progress(1.0);
    Ok((analysis, Source::Computed))
}

/// What [`analyze_range`] did.
#[derive(Clone, Debug)]
pub struct RangeReport {
    /// The parts covering the range asked for.
    pub parts: Vec<(i64, i64)>,
    /// Of those, computed now.
    pub computed: usize,
    /// Parts of the whole file now in the cache.
    pub done: usize,
    /// Parts of the whole file.
    pub total: usize,
    /// The whole analysis, when this run finished its last part (or it was cached before).
    pub whole: Option<Analysis>,
}

/// Analyses the parts of `path` that frames `first..end` touch (see [`super::parts`]) into the
/// analysis cache, reusing parts already there; when every part of the file is then in the
/// cache, merges them into the whole analysis (stored as [`analyze_file`] would).
pub fn analyze_range(
    path: &Path,
    opts: &AnalysisOptions,
    job: &Job,
    (first, end): (i64, i64),
) -> Result<RangeReport, AnalysisError> {
    crate::media::check_input(path)?;
    let hash = crate::model::hash::content_hash(path).map_err(|e| AnalysisError::Cache {
        path: path.to_path_buf(),
        reason: format!("cannot hash: {e}"),
    })?;
    let dir = cache::cache_dir().ok_or_else(|| AnalysisError::Cache {
        path: path.to_path_buf(),
        reason: "no cache folder (set REDUB_CACHE_DIR)".into(),
    })?;
    let mut decoder = VideoDecoder::open_scaled(path, |w, h| Some(opts.work_picture_size(w, h)))?;
    let ranges = parts::part_ranges(decoder.frame_count(), opts.part_frames);
    let wanted: Vec<bool> = ranges.iter().map(|&(a, b)| a < end && b > first).collect();
    let parts_asked: Vec<(i64, i64)> =
        ranges.iter().zip(&wanted).filter(|(_, w)| **w).map(|(r, _)| *r).collect();
    if let Some(a) = cache::load(&dir, &hash, opts) {
        job.set_progress(1.0);
        let total = ranges.len();
        return Ok(RangeReport {
            parts: parts_asked,
            computed: 0,
            done: total,
            total,
            whole: Some(a),
        });
    }
    let done = run_parts(&mut decoder, &hash, opts, job, Some(&dir), &ranges, &wanted)?;
    let computed = done
        .iter()
        .zip(&wanted)
        .filter(|(d, w)| **w && d.as_ref().is_some_and(|a| a.stats.parts_reused == 0))
        .count();
    let finished = done.iter().filter(|d| d.is_some()).count();
    let whole = if finished == ranges.len() {
        let a = parts::merge(done.into_iter().flatten().collect())
            .ok_or_else(|| AnalysisError::Model("no frames analysed".into()))?;
        cache::store(&dir, &a)?;
        parts::remove_parts(&dir, &hash, opts, &ranges);
        Some(a)
    } else {
        None
    };
    job.set_progress(1.0);
    Ok(RangeReport { parts: parts_asked, computed, done: finished, total: ranges.len(), whole })
}

/// Runs the `wanted` parts among `ranges` (the last one to the stream's end), each with a fresh
/// analyser, reading back parts stored in `store` and storing each one computed there; one
/// entry per part, `None` for a part neither wanted nor stored.
fn run_parts(
    decoder: &mut VideoDecoder,
    hash: &str,
    opts: &AnalysisOptions,
    job: &Job,
    store: Option<&Path>,
    ranges: &[(i64, i64)],
    wanted: &[bool],
) -> Result<Vec<Option<Analysis>>, AnalysisError> {
    let full = decoder.size();
    let rate = decoder.frame_rate();
    let total = ranges.last().map_or(1, |r| r.1).max(1) as f64;
    let mut detector: Option<Mtcnn> = None;
    let mut done_frames = 0i64;
    let mut out = Vec::with_capacity(ranges.len());
    for (k, &(a, b)) in ranges.iter().enumerate() {
        if job.is_cancelled() {
            return Err(AnalysisError::Cancelled);
        }
        if let Some(mut p) = store.and_then(|d| parts::load_part(d, hash, opts, (a, b))) {
            p.stats.parts_reused = 1;
            done_frames += b - a;
            job.set_progress((done_frames as f64 / total).min(0.999));
            out.push(Some(p));
            continue;
        }
        if !wanted[k] {
            out.push(None);
            continue;
        }
        let last = k + 1 == ranges.len();
        let mtcnn = match detector.take() {
            Some(m) => m,
            None => load_detector()?,
        };
        let mut analyzer = Analyzer::new(mtcnn, *opts, rate);
        let mut decode_time = std::time::Duration::ZERO;
        let mut want = a;
        loop {
            if !last && want >= b {
                break;
            }
            let t0 = std::time::Instant::now();
            let frame = match decoder.frame(want) {
                Ok(frame) => frame,
                // Past the end the decoder may fail instead of repeating the last frame.
                Err(_) if want > a => break,
                Err(e) => return Err(e.into()),
            };
            decode_time += t0.elapsed();
            // At the end the decoder repeats the last frame.
            if frame.index < want || (!last && frame.index >= b) {
                break;
            }
            if job.is_cancelled() {
                return Err(AnalysisError::Cancelled);
            }
            analyzer.push_work_frame(
                frame.index,
                full,
                (frame.width, frame.height),
                &frame.data,
            )?;
            let f = done_frames + (frame.index + 1 - a);
            job.set_progress((f as f64 / total).min(0.999));
            want = frame.index + 1;
        }
        let (mut part, m) = analyzer.finish_keeping_detector(hash.to_string(), decode_time);
        detector = Some(m);
        part.stats.parts = 1;
        if let Some(d) = store
            && let Err(e) = parts::store_part(d, &part, (a, b))
        {
            tracing::warn!("analysis part not stored: {e}");
        }
        done_frames += b - a;
        out.push(Some(part));
    }
    Ok(out)
}

/// The task of [`spawn_analysis`]; its one result is what [`analyze_file`] returned (none if
/// the work panicked).
pub type AnalysisWorker = Task<Result<(Analysis, Source), AnalysisError>>;

/// Calls `f` on every frame of the stream in order, numbered as the decoder numbers them (by
/// presentation time, so a stream whose first picture is at 80 ms starts at frame 2).
///
/// Each request is for the frame after the one just received, which the decoder serves without
/// seeking; asking for `0, 1, 2, …` instead would seek whenever the stream's numbering skips.
pub(crate) fn for_each_frame(
    decoder: &mut VideoDecoder,
    mut f: impl FnMut(&crate::media::Frame) -> Result<(), AnalysisError>,
) -> Result<(), AnalysisError> {
    let mut want = 0;
    loop {
        let frame = match decoder.frame(want) {
            Ok(frame) => frame,
            // Past the end the decoder may fail instead of repeating the last frame.
            Err(_) if want > 0 => break,
            Err(e) => return Err(e.into()),
        };
        // At the end the decoder repeats the last frame.
        if frame.index < want {
            break;
        }
        f(&frame)?;
        want = frame.index + 1;
    }
    Ok(())
}

/// Starts [`analyze_file`] as a named [`Task`]; watch or cancel it through the task's job.
pub fn spawn_analysis(
    path: PathBuf,
    opts: AnalysisOptions,
    use_cache: bool,
) -> std::io::Result<AnalysisWorker> {
    Task::spawn_one("redub-analysis", move |job| analyze_file(&path, &opts, job, use_cache))
}
