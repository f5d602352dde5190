//! The frame path: timeline time → decoded source frame → lip edits → output frame, plus the
//! dialogue mix. The viewer and the export run the same graph; the export drives it frame by
//! frame and never drops frames.
//!
//! - [`compositor`]: blends lip patches, `cpu` and `gpu` side by side, one [`compositor::Compositor`]
//!   picking (and saying why the CPU when it is the CPU);
//! - [`pixels`]: rectangles, Y'CbCr ↔ RGB of a frame's region (pure maths, typed colorimetry);
//! - [`graph`]: [`graph::FrameRenderer`], decoded frame → edited frame, for preview and export;
//! - [`label`]: the burned-in "Lips edited — Redub" disclosure label;
//! - [`lips`]: the per-frame lip layers of a planned project ([`lips::LipRenderer`]);
//! - [`sources`]: decoded sound of the project and the mixer input built from it;
//! - [`stream`]: export's sound mixed chunk by chunk, the original streamed from its file,
//!   loudness normalisation as passes over the stream;
//! - [`warp_cache`]: stretched samples of warped dub clips;
//! - [`system`]: what this machine gives Redub (`redub doctor`, Help ▸ System check);
//! - [`bundle`]: the self-contained project bundle (`.redubz`): collect and open;
//! - [`export`]: the writer side ([`render_project`]).

pub mod bundle;
pub mod compositor;
pub mod export;
pub mod farm;
pub mod graph;
pub mod label;
pub mod lips;
pub mod pixels;
pub mod sources;
pub mod stream;
pub mod system;
pub mod warp_cache;

use crate::lipsync::plan::PlanError;
use crate::media::MediaError;
use std::path::PathBuf;

pub use export::{RenderOptions, RenderProgress, RenderReport, render_project};

/// Render failures.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// A media file of the project is missing.
    #[error("media file missing: {path} (relink it or restore the file)")]
    MissingMedia {
        /// Where the project expected it.
        path: PathBuf,
    },
    /// A media file is not the one the project was made with (replaced or edited on disk).
    #[error("{path}: {what} since it was added to the project; relink it or restore the original")]
    MediaChanged {
        /// The file.
        path: PathBuf,
        /// What changed.
        what: String,
    },
    /// The project cannot be rendered as asked.
    #[error("{0}")]
    Invalid(String),
    /// From the media layer.
    #[error(transparent)]
    Media(#[from] MediaError),
}

impl RenderError {
    /// Whether the user can fix this.
    pub fn is_user_error(&self) -> bool {
        match self {
            RenderError::Media(m) => m.is_user_error(),
            _ => true,
        }
    }
}

impl From<PlanError> for RenderError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Invalid(m) => RenderError::Invalid(m),
            PlanError::Media(m) => RenderError::Media(m),
        }
    }
}
