//! The render graph: timeline time → source frame (→ lip edits, later) → output frame, plus the
//! dialogue mix. Export drives it frame by frame and never drops frames.

pub mod export;
pub mod gpu;
pub mod lips;
pub mod warp_cache;

pub use export::{RenderError, RenderOptions, RenderProgress, RenderReport, render_project};
