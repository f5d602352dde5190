//! Lip engines and their parts: mouth geometry, the mouth bank, occlusion, the CPU compositor
//! and sync measurement. The bank engine (DESIGN §7.1) needs no downloaded weights.

pub mod bank;
pub mod cache;
pub mod colour;
pub mod engine;
pub mod geometry;
pub mod kept;
pub mod measure;
pub mod occlusion;
pub mod plan;
pub mod sync;
