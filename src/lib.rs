//! Redub: a local visual-dubbing editor.
//!
//! Ten layers, from the bottom; a module imports only from the layers below it (DESIGN §2, checked
//! by `tests/layers.rs`):
//!
//! | layer | holds | may import |
//! |---|---|---|
//! | [`model`] | rational time, the project, tracks, clips, lip settings, edits + history | std, serde |
//! | [`dsp`] | pure `&[f32]` maths: mix, MFCC, VAD, DTW, stretch, loudness | model |
//! | [`media`] | GStreamer: probe, decode (frames with typed colorimetry), encode | model, dsp |
//! | [`inference`] | ONNX Runtime loading, the model registry, sessions | model, dsp |
//! | [`analysis`] | face detection, tracks, shot cuts, speech activity, the mouth patch and mouth measures | below |
//! | [`lipsync`] | the lip engines (bank), colour matching, occlusion, the lip plan, the sync measure | below |
//! | [`render`] | the frame path: compositor (cpu, gpu), pixels, graph, sources, lips, export | below |
//! | [`jobs`] | the one way to run background work: `Task<T>` (named thread, progress, cancel, bounded results), `LatestWorker` (std only; any layer may use it) | std |
//! | [`app`] | the desktop editor (eframe): panels, commands | everything but cli |
//! | [`cli`] | the `redub` command line | everything but app |
//!
//! `app` and `cli` never import each other, and nothing imports `app`.
//!
//! Errors are typed (thiserror) below `app` and `cli`, which add context with anyhow at their
//! edge; library code reports through `tracing` (the `redub` binary prints it to stderr), and
//! background work runs as a [`jobs::Task`].
#![warn(missing_docs)]

pub mod analysis;
pub mod app;
pub mod cli;
pub mod dsp;
pub mod inference;
pub mod jobs;
pub mod lipsync;
pub mod media;
pub mod model;
pub mod render;

/// The version string written into output tags and shown by `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
