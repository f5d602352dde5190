//! Stretched samples of warped clips, computed once per clip and warp and reused by every mix
//! (export here; the editor's preview can hold one too). A clip whose warp or source range
//! changes is stretched again on its next use.

use crate::dsp::mix::CHANNELS;
use crate::dsp::stretch::{StretchConfig, TimeMap, stretch_map};
use crate::model::{Clip, ClipId, MediaId, Time, Warp};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
struct Key {
    media: MediaId,
    source_in: Time,
    source_out: Time,
    warp: Warp,
}

/// Per-clip cache of warped audio (interleaved stereo at the mixer rate).
#[derive(Default)]
pub struct WarpCache {
    entries: HashMap<ClipId, (Key, Arc<Vec<f32>>)>,
}

impl WarpCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// The clip's warped samples, stretching `source` (the clip's used range, interleaved
    /// stereo) only when the clip's warp or range changed since the last call. `None` when the
    /// clip has no warp.
    pub fn get(&mut self, clip: &Clip, source: &[f32], rate: u32) -> Option<Arc<Vec<f32>>> {
        let warp = clip.warp.as_ref()?;
        let key = Key {
            media: clip.media,
            source_in: clip.source_in,
            source_out: clip.source_out,
            warp: warp.clone(),
        };
        if let Some((k, samples)) = self.entries.get(&clip.id)
            && *k == key
        {
            return Some(samples.clone());
        }
        let map = TimeMap::from_warp(warp, rate);
        let samples =
            Arc::new(stretch_map(source, CHANNELS, rate, &map, &StretchConfig::default()));
        self.entries.insert(clip.id, (key, samples.clone()));
        Some(samples)
    }

    /// Forgets clips that are gone.
    pub fn retain(&mut self, live: impl Fn(ClipId) -> bool) {
        self.entries.retain(|id, _| live(*id));
    }

    /// Number of cached clips.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
