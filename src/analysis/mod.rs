//! Face analysis: MTCNN detection, face tracks with smoothed landmarks, shot cuts, visual speech
//! activity, lip contours from Face Mesh ([`lipmesh`], [`lip_shapes`]), the mouth patch and mouth measures ([`mouth_patch`], [`mouth`]), and the background
//! job that produces (and caches) an [`Analysis`] per media file. Imports model, dsp, media,
//! inference (never lipsync, render, app or cli).

pub mod cache;
pub mod geometry;
pub mod image;
pub mod job;
pub mod lip_shapes;
pub mod lip_track;
pub mod lipmesh;
pub mod mouth;
pub mod mouth_patch;
pub mod mtcnn;
pub mod oneeuro;
pub mod parts;
pub mod pipeline;
pub mod shotcut;
pub mod speech;
pub mod track;

pub use geometry::BBox;
pub use image::RgbImage;
pub use job::{AnalysisWorker, Source, analyze_file, load_detector, spawn_analysis};
pub use lipmesh::{FaceMesh, LipLandmarks};
pub use mtcnn::{Detection, Mtcnn, MtcnnParams};
pub use pipeline::{
    ANALYSIS_VERSION, Analysis, AnalysisOptions, AnalysisStats, Analyzer, PART_FRAMES,
};
pub use speech::{SpeakerProposal, propose_speaker};
pub use track::{FaceTrack, Segment, TrackFrame};

use std::path::PathBuf;

/// Why analysis failed.
#[derive(Debug, thiserror::Error)]
pub enum AnalysisError {
    /// The runtime or a model could not be loaded or run.
    #[error(transparent)]
    Inference(#[from] crate::inference::InferenceError),
    /// The media could not be decoded.
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    /// A model produced something the decoding does not expect.
    #[error("{0}")]
    Model(String),
    /// Reading or writing the cache failed.
    #[error("{path}: {reason}")]
    Cache {
        /// The cache file or folder.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The job was cancelled.
    #[error("cancelled")]
    Cancelled,
}

#[cfg(test)]
mod tests;
