//! Analysing a media file as a background job: progress, cancel, cache.

use super::AnalysisError;
use super::cache;
use super::mtcnn::Mtcnn;
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
    let full = decoder.size();
    let mut analyzer = Analyzer::new(load_detector()?, *opts, decoder.frame_rate());
    let total = decoder.frame_count().max(1);
    let mut decode_time = std::time::Duration::ZERO;
    let mut t0 = std::time::Instant::now();
    for_each_frame(&mut decoder, |frame| {
        decode_time += t0.elapsed();
        if job.is_cancelled() {
            return Err(AnalysisError::Cancelled);
        }
        analyzer.push_work_frame(frame.index, full, (frame.width, frame.height), &frame.data)?;
        job.set_progress((frame.index + 1) as f64 / total as f64);
        t0 = std::time::Instant::now();
        Ok(())
    })?;
    let analysis = analyzer.finish_with_decode_time(hash, decode_time);
    if use_cache
        && let Some(d) = dir.as_deref()
        && let Err(e) = cache::store(d, &analysis)
    {
        tracing::warn!("analysis cache not written: {e}");
    }
    job.set_progress(1.0);
    Ok((analysis, Source::Computed))
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
