//! Finding, loading and holding the ONNX Runtime shared library, and building sessions on the
//! best execution provider it offers.

use super::InferenceError;
use ort::ep::{self, ExecutionProvider};
use ort::session::Session;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The loaded runtime: one per process, because ONNX Runtime allows a single environment.
pub struct Runtime {
    env: ort::environment::Environment,
    library: PathBuf,
    accelerators: Vec<&'static str>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("library", &self.library)
            .field("accelerators", &self.accelerators)
            .finish()
    }
}

/// CPU session settings. Redub runs its networks next to video decoding on the same cores, so
/// ONNX Runtime's worker threads must not spin while idle (spinning starves the decoder). One
/// intra-op thread per core, at most 4 (`REDUB_ORT_THREADS` overrides, up to the core count): P-Net's scan of a whole
/// picture splits well across threads (measured 1.4–1.9× faster with 2 threads on 2 cores), the
/// small R-Net/O-Net batches gain little from more.
fn cpu_options(
    b: ort::session::builder::SessionBuilder,
) -> Result<ort::session::builder::SessionBuilder, ort::Error> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = std::env::var("REDUB_ORT_THREADS")
        .ok()
        .and_then(|t| t.parse::<usize>().ok())
        .filter(|&t| t > 0)
        .map_or(cores.min(4), |t| t.min(cores));
    Ok(b.with_intra_threads(threads)?
        .with_inter_threads(1)?
        .with_config_entry("session.intra_op.allow_spinning", "0")?
        .with_config_entry("session.inter_op.allow_spinning", "0")?)
}

/// Name reported when a session runs on ONNX Runtime's default CPU provider.
pub const CPU_PROVIDER: &str = "CPUExecutionProvider";

/// The process-wide runtime, loaded on first use. The outcome (success or failure) is kept, so a
/// missing library is reported the same way every time without retrying the search.
pub fn runtime() -> Result<&'static Runtime, InferenceError> {
    static RUNTIME: OnceLock<Result<Runtime, InferenceError>> = OnceLock::new();
    match RUNTIME.get_or_init(|| find_library().and_then(|p| Runtime::load(&p))) {
        Ok(rt) => Ok(rt),
        Err(InferenceError::LibraryNotFound { searched }) => {
            Err(InferenceError::LibraryNotFound { searched: searched.clone() })
        }
        Err(InferenceError::LibraryLoad { path, reason }) => {
            Err(InferenceError::LibraryLoad { path: path.clone(), reason: reason.clone() })
        }
        Err(other) => {
            Err(InferenceError::LibraryLoad { path: PathBuf::new(), reason: other.to_string() })
        }
    }
}

/// The ONNX Runtime library to load: `ORT_DYLIB_PATH`, then `<app data dir>/onnxruntime/`, then
/// `<models dir>/onnxruntime/`. The first existing candidate wins.
pub fn find_library() -> Result<PathBuf, InferenceError> {
    let mut searched = Vec::new();
    if let Some(p) = std::env::var_os("ORT_DYLIB_PATH").filter(|p| !p.is_empty()) {
        let p = PathBuf::from(p);
        if p.is_file() {
            return Ok(p);
        }
        searched.push(format!("ORT_DYLIB_PATH={}", p.display()));
    }
    let mut dirs = Vec::new();
    if let Some(pd) = directories::ProjectDirs::from("", "", "redub") {
        dirs.push(pd.data_dir().join("onnxruntime"));
    }
    dirs.push(models_dir().join("onnxruntime"));
    for dir in dirs {
        if let Some(lib) = library_in(&dir) {
            return Ok(lib);
        }
        searched.push(dir.display().to_string());
    }
    Err(InferenceError::LibraryNotFound { searched: searched.join(", ") })
}

/// The main runtime library in a folder: `libonnxruntime.so[.x.y.z]` on Linux (the versioned
/// name is what the PyPI wheel ships), `onnxruntime.dll`, `libonnxruntime[.x.y.z].dylib`.
fn library_in(dir: &Path) -> Option<PathBuf> {
    let prefix = format!("{}onnxruntime", std::env::consts::DLL_PREFIX);
    let suffix = std::env::consts::DLL_SUFFIX;
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            // The helper libraries (`libonnxruntime_providers_*`) share the prefix but are not
            // the runtime, so only a suffix (maybe versioned) may follow it.
            let Some(rest) = name.strip_prefix(&prefix) else { return false };
            let versioned = rest.starts_with(&format!("{suffix}."))
                || (rest.starts_with('.') && rest.ends_with(suffix));
            p.is_file() && (rest == suffix || versioned)
        })
        .collect();
    found.sort();
    found.pop()
}

/// The folder holding the fetched files, as `<dir>/<manifest stem>/<name>`: `REDUB_MODELS_DIR`,
/// else a source checkout's `models/`, else (installed) the user data folder's `models/`; see
/// [`super::store::Store::locate`].
pub fn models_dir() -> PathBuf {
    super::store::Store::locate().files
}

/// The folder holding the `*.toml` model manifests: the same as [`models_dir`] except for an
/// installed package (`<prefix>/share/redub/models`).
pub fn manifests_dir() -> PathBuf {
    super::store::Store::locate().manifests
}

impl Runtime {
    /// Loads the library at `path` and creates the process's environment.
    pub fn load(path: &Path) -> Result<Self, InferenceError> {
        let load_err =
            |reason: String| InferenceError::LibraryLoad { path: path.to_path_buf(), reason };
        let builder = ort::init_from(path).map_err(|e| load_err(e.to_string()))?;
        let env = builder.with_name("redub").build().map_err(|e| load_err(e.to_string()))?;
        // Which accelerated providers this build of the runtime contains; the CPU wheel has none.
        let mut accelerators = Vec::new();
        let probes: [(&'static str, ort::Result<bool>); 4] = [
            (ep::TensorRT::NAME, ep::TensorRT::is_available()),
            (ep::CUDA::NAME, ep::CUDA::is_available()),
            (ep::DirectML::NAME, ep::DirectML::is_available()),
            (ep::CoreML::NAME, ep::CoreML::is_available()),
        ];
        for (name, ok) in probes {
            if matches!(ok, Ok(true)) {
                accelerators.push(name);
            }
        }
        Ok(Self { env, library: path.to_path_buf(), accelerators })
    }

    /// The loaded library file.
    pub fn library(&self) -> &Path {
        &self.library
    }

    /// Accelerated execution providers compiled into the loaded runtime, in the order they are
    /// tried (empty for the CPU-only build).
    pub fn accelerators(&self) -> &[&'static str] {
        &self.accelerators
    }

    /// A session for the model at `path` and the provider it runs on. Each accelerated provider
    /// the runtime has is tried first (registration fails when, e.g., the CUDA libraries or a GPU
    /// are missing); the CPU provider is the fallback that always exists.
    pub fn session(&self, path: &Path) -> Result<(Session, &'static str), InferenceError> {
        for &name in &self.accelerators {
            let dispatch = match name {
                n if n == ep::TensorRT::NAME => ep::TensorRT::default().build(),
                n if n == ep::CUDA::NAME => ep::CUDA::default().build(),
                n if n == ep::DirectML::NAME => ep::DirectML::default().build(),
                _ => ep::CoreML::default().build(),
            };
            let attempt = Session::builder(&self.env)
                .and_then(cpu_options)
                .and_then(|b| {
                    b.with_execution_providers([dispatch.error_on_failure()])
                        .map_err(ort::Error::from)
                })
                .and_then(|mut b| b.commit_from_file(path));
            match attempt {
                Ok(session) => return Ok((session, name)),
                Err(reason) => {
                    tracing::warn!(
                        "{}: {name} unavailable ({reason}); trying the next provider",
                        path.display()
                    );
                }
            }
        }
        let session = Session::builder(&self.env)
            .and_then(cpu_options)
            .and_then(|mut b| b.commit_from_file(path))
            .map_err(|source| InferenceError::SessionCreate { path: path.to_path_buf(), source })?;
        Ok((session, CPU_PROVIDER))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_search_skips_the_provider_helpers() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(library_in(dir.path()), None);
        let helper = format!(
            "{}onnxruntime_providers_shared{}",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        );
        std::fs::write(dir.path().join(&helper), b"").unwrap();
        assert_eq!(library_in(dir.path()), None);
        let versioned = format!(
            "{}onnxruntime{}.1.32.0",
            std::env::consts::DLL_PREFIX,
            std::env::consts::DLL_SUFFIX
        );
        std::fs::write(dir.path().join(&versioned), b"").unwrap();
        assert_eq!(library_in(dir.path()), Some(dir.path().join(versioned)));
    }
}
