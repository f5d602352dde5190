//! Analysing a media file as a background job: progress, cancel, cache.

use super::AnalysisError;
use super::cache;
use super::mtcnn::Mtcnn;
use super::pipeline::{Analysis, AnalysisOptions, Analyzer};
use crate::inference::{Registry, models_dir};
use crate::jobs::Job;
use crate::media::VideoDecoder;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Loads the detector from the default models folder.
pub fn load_detector() -> Result<Mtcnn, AnalysisError> {
    let registry = Registry::load(&models_dir())?;
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
    let mut decoder = VideoDecoder::open(path)?;
    let mut analyzer = Analyzer::new(load_detector()?, *opts, decoder.frame_rate());
    let total = decoder.frame_count().max(1);
    for i in 0..total {
        if job.is_cancelled() {
            return Err(AnalysisError::Cancelled);
        }
        let frame = decoder.frame(i)?;
        // Past the real end the decoder repeats the last frame; the probed count can overshoot.
        if frame.index < i {
            break;
        }
        analyzer.push_frame(i, frame.width, frame.height, &frame.data)?;
        job.set_progress((i + 1) as f64 / total as f64);
    }
    let analysis = analyzer.finish(hash);
    if use_cache
        && let Some(d) = dir.as_deref()
        && let Err(e) = cache::store(d, &analysis)
    {
        eprintln!("redub: analysis cache not written: {e}");
    }
    job.set_progress(1.0);
    Ok((analysis, Source::Computed))
}

/// Starts [`analyze_file`] on a named worker thread; watch or cancel it through the returned job.
pub fn spawn_analysis(
    path: PathBuf,
    opts: AnalysisOptions,
    use_cache: bool,
) -> std::io::Result<(Arc<Job>, JoinHandle<Result<(Analysis, Source), AnalysisError>>)> {
    let job = Job::new();
    let worker_job = Arc::clone(&job);
    let handle = std::thread::Builder::new()
        .name("redub-analysis".into())
        .spawn(move || analyze_file(&path, &opts, &worker_job, use_cache))?;
    Ok((job, handle))
}
