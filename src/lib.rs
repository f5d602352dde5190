//! Redub: a local visual-dubbing editor.
//!
//! Layers, from the bottom (a module imports only from layers below it): `model` (time, project),
//! `dsp` (pure sample maths), `jobs` (progress + cancel), `media` (GStreamer), `cli`, and the editor `app` on top
//! (which nothing else imports).
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
