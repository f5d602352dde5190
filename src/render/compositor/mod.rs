//! The lip compositor: blends prepared mouth patches into a frame, on the GPU ([`gpu`]) when
//! one is usable, else on the CPU reference ([`cpu`]). [`Compositor`] is the one place that
//! picks, and it keeps *why* the CPU was chosen so the editor and the export report say so
//! (DESIGN §8: "the UI shows which backend ran").

pub mod cpu;
pub mod gpu;

use crate::analysis::mouth_patch::{Patch, Similarity};
use crate::render::pixels::Rect;
use gpu::GpuCompositor;
use std::sync::Arc;

/// Which compositor ran.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The wgpu path on this adapter.
    Gpu(String),
    /// The CPU reference, with the reason the GPU was not used.
    Cpu(String),
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Gpu(name) => write!(f, "GPU ({name})"),
            Backend::Cpu(reason) if reason.is_empty() => write!(f, "CPU"),
            Backend::Cpu(reason) => write!(f, "CPU ({reason})"),
        }
    }
}

/// One patch to blend: colours and alpha in patch pixels, and the patch → frame transform.
#[derive(Clone, Copy, Debug)]
pub struct PatchLayer<'a> {
    /// Colours, 0..255, of a patch of any detail (`PATCH_W·s × PATCH_H·s`, see
    /// `analysis::mouth_patch::detail_dims`).
    pub patch: &'a Patch,
    /// Alpha per patch pixel, 0..1 (mask × intensity × (1 − occlusion)).
    pub alpha: &'a [f32],
    /// Patch pixels → frame pixels.
    pub to_image: Similarity,
}

/// The compositor a renderer draws with: the GPU one, or the CPU reference and why.
#[derive(Clone)]
pub enum Compositor {
    /// The wgpu compositor (shared by every renderer of the process).
    Gpu(Arc<GpuCompositor>),
    /// The CPU reference; the text says why the GPU is not used.
    Cpu {
        /// Why not the GPU (`REDUB_FORCE_CPU`, no adapter, only a software one…).
        reason: String,
    },
}

impl Compositor {
    /// The process's GPU compositor ([`GpuCompositor::shared`]), or the CPU with the reason.
    pub fn shared() -> Self {
        match GpuCompositor::shared() {
            Ok(g) => Compositor::Gpu(g),
            Err(e) => Compositor::Cpu { reason: e.to_string() },
        }
    }

    /// The CPU reference, for `reason`.
    pub fn cpu(reason: impl Into<String>) -> Self {
        Compositor::Cpu { reason: reason.into() }
    }

    /// Which backend draws (before any frame is drawn).
    pub fn backend(&self) -> Backend {
        match self {
            Compositor::Gpu(g) => Backend::Gpu(g.adapter_name().to_string()),
            Compositor::Cpu { reason } => Backend::Cpu(reason.clone()),
        }
    }

    /// Blends `layers` into the RGBA `frame`; says which backend ran. A GPU failure falls back
    /// to the CPU for this frame, and the returned backend carries the GPU's error.
    pub fn composite(
        &self,
        frame: &mut [u8],
        width: usize,
        height: usize,
        layers: &[PatchLayer<'_>],
    ) -> Backend {
        let reason = match self {
            Compositor::Gpu(g) => match g.composite(frame, width, height, layers) {
                Ok(()) => return Backend::Gpu(g.adapter_name().to_string()),
                Err(e) => format!("the GPU failed: {e}"),
            },
            Compositor::Cpu { reason } => reason.clone(),
        };
        composite_cpu(frame, width, height, layers);
        Backend::Cpu(reason)
    }
}

/// Applies layers on the CPU (the reference).
pub fn composite_cpu(frame: &mut [u8], width: usize, height: usize, layers: &[PatchLayer<'_>]) {
    for l in layers {
        cpu::composite(frame, width, height, l.patch, l.alpha, &l.to_image);
    }
}

/// The part of a `width × height` frame that blending `layers` may change: each layer's masked
/// footprint ([`cpu::footprint`]) with a pixel to spare, in whole chroma samples; `None` when
/// nothing can change (every alpha zero, or off the frame).
pub fn footprint(layers: &[PatchLayer<'_>], width: usize, height: usize) -> Option<Rect> {
    layers
        .iter()
        .filter_map(|l| {
            let b = cpu::footprint(l.patch.rgb.len(), l.alpha, &l.to_image)?;
            Rect::covering(b, 2.0, width, height)
        })
        .reduce(Rect::union)
}
