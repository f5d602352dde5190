//! Lip engines and their parts: the mouth bank, colour matching, occlusion, the lip plan of a
//! project ([`plan`]) and the A/V sync measure. The bank engine (DESIGN §7.1) needs no downloaded
//! weights. The mouth patch and mouth measures they use are `analysis::{mouth_patch, mouth}`;
//! the compositor that blends the result is `render::compositor`.

pub mod articulate;
pub mod bank;
pub mod cache;
pub mod colour;
pub mod engine;
pub mod kept;
pub mod occlusion;
pub mod plan;
pub mod sample;
pub mod speak;
pub mod sync;
