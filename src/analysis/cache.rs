//! On-disk cache of analyses, keyed by the media's content hash and the options, so reopening a
//! file (in any project) skips the work.

use super::AnalysisError;
use super::pipeline::{ANALYSIS_VERSION, Analysis, AnalysisOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The analysis cache folder: `$REDUB_CACHE_DIR/analysis` when set (tests), else the user's
/// cache dir for redub (e.g. `~/.cache/redub/analysis`).
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("REDUB_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("analysis"));
    }
    directories::ProjectDirs::from("", "", "redub").map(|d| d.cache_dir().join("analysis"))
}

/// The cache file for a media hash (`sha256:<hex>`) and options.
pub fn cache_path(dir: &Path, media_hash: &str, opts: &AnalysisOptions) -> PathBuf {
    let key = media_hash.trim_start_matches("sha256:");
    dir.join(format!("{key}-v{ANALYSIS_VERSION}-{}.json", opts.fingerprint()))
}

/// A cached analysis, if one exists and reads back with the current version.
pub fn load(dir: &Path, media_hash: &str, opts: &AnalysisOptions) -> Option<Analysis> {
    let text = std::fs::read_to_string(cache_path(dir, media_hash, opts)).ok()?;
    let a: Analysis = serde_json::from_str(&text).ok()?;
    (a.version == ANALYSIS_VERSION && a.media_hash == media_hash).then_some(a)
}

/// Writes an analysis atomically (temp file in the same folder, then rename), so a crash never
/// leaves a half-written entry that later reads as valid.
pub fn store(dir: &Path, analysis: &Analysis) -> Result<PathBuf, AnalysisError> {
    let path = cache_path(dir, &analysis.media_hash, &analysis.options);
    store_at(dir, &path, analysis)?;
    Ok(path)
}

/// Writes an analysis (or a part of one) to `path` in `dir` atomically.
pub(crate) fn store_at(dir: &Path, path: &Path, analysis: &Analysis) -> Result<(), AnalysisError> {
    let err = |path: &Path, e: &dyn std::fmt::Display| AnalysisError::Cache {
        path: path.to_path_buf(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| err(dir, &e))?;
    let text = serde_json::to_string(analysis).map_err(|e| err(path, &e))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| err(dir, &e))?;
    tmp.write_all(text.as_bytes()).map_err(|e| err(path, &e))?;
    tmp.persist(path).map_err(|e| err(path, &e.error))?;
    Ok(())
}
