//! ONNX Runtime: finding and loading the shared library, the model registry (`models/*.toml`)
//! and one [`Model`] (session) per network, on the best execution provider the runtime offers.
//!
//! Nothing here knows what a face is: pre/post-processing of a particular network lives with
//! its user in `analysis` or `lipsync`.

pub mod registry;
pub mod runtime;
pub mod store;

pub use registry::{Model, ModelEntry, Registry, TensorSig};
pub use runtime::{Runtime, find_library, manifests_dir, models_dir, runtime};
pub use store::Store;

use std::path::PathBuf;

/// What can go wrong between a model file on disk and a result tensor.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    /// No ONNX Runtime library in any of the searched places.
    #[error(
        "ONNX Runtime library not found (searched: {searched}); run `redub models fetch` (packaging/setup.sh deps in a source checkout) or set ORT_DYLIB_PATH"
    )]
    LibraryNotFound {
        /// The places looked at, in order.
        searched: String,
    },
    /// The library exists but could not be loaded or initialised.
    #[error("{path}: cannot load ONNX Runtime: {reason}")]
    LibraryLoad {
        /// The library file.
        path: PathBuf,
        /// What the loader said.
        reason: String,
    },
    /// A manifest in the models folder cannot be read.
    #[error("{path}: bad model manifest: {reason}")]
    Manifest {
        /// The `.toml` file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// No manifest declares a model of this name.
    #[error("model {name} is not declared in any manifest under {dir}")]
    UnknownModel {
        /// The file name asked for.
        name: String,
        /// The models folder.
        dir: PathBuf,
    },
    /// The model file is absent.
    #[error(
        "{path}: model file missing; run `redub models fetch` (packaging/setup.sh deps in a source checkout)"
    )]
    ModelMissing {
        /// Where it was expected.
        path: PathBuf,
    },
    /// The model file's hash differs from its manifest (truncated, corrupt or replaced).
    #[error(
        "{path}: sha256 {actual} does not match the manifest's {expected}; delete it and run `redub models fetch`"
    )]
    HashMismatch {
        /// The model file.
        path: PathBuf,
        /// From the manifest.
        expected: String,
        /// Of the file on disk.
        actual: String,
    },
    /// The session's inputs or outputs differ from the manifest's signature.
    #[error("{path}: signature mismatch: {reason}")]
    SignatureMismatch {
        /// The model file.
        path: PathBuf,
        /// Which tensor differs and how.
        reason: String,
    },
    /// ONNX Runtime rejected the file when building a session.
    #[error("{path}: ONNX Runtime cannot load this model: {source}")]
    SessionCreate {
        /// The model file.
        path: PathBuf,
        /// What the runtime said.
        source: ort::Error,
    },
    /// Running a session failed.
    #[error("{model}: inference failed: {reason}")]
    Run {
        /// The model file name.
        model: String,
        /// What the runtime said.
        reason: String,
    },
    /// Reading the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}
