//! An LRU cache of decoded frames bounded in bytes, so scrubbing revisits are instant while memory
//! stays capped whatever the resolution.

use super::video::Frame;
use lru::LruCache;
use std::sync::Arc;

/// Frames by index, evicting least recently used ones past a byte budget.
pub struct FrameCache {
    frames: LruCache<i64, Arc<Frame>>,
    bytes: usize,
    budget: usize,
}

impl FrameCache {
    /// A cache holding at most `budget` bytes of pixels.
    pub fn new(budget: usize) -> Self {
        Self { frames: LruCache::unbounded(), bytes: 0, budget }
    }

    /// The frame at `index`, marking it recently used.
    pub fn get(&mut self, index: i64) -> Option<Arc<Frame>> {
        self.frames.get(&index).cloned()
    }

    /// Inserts a frame, evicting old ones to stay within the budget. A frame larger than the
    /// whole budget is not kept.
    pub fn insert(&mut self, frame: Arc<Frame>) {
        let size = frame.data.len();
        if size > self.budget {
            return;
        }
        if let Some(old) = self.frames.put(frame.index, frame) {
            self.bytes -= old.data.len();
        }
        self.bytes += size;
        while self.bytes > self.budget {
            match self.frames.pop_lru() {
                Some((_, f)) => self.bytes -= f.data.len(),
                None => break,
            }
        }
    }

    /// Bytes of pixels held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of frames held.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Time;

    fn frame(index: i64, bytes: usize) -> Arc<Frame> {
        Arc::new(Frame {
            index,
            pts: Time::ZERO,
            width: 1,
            height: 1,
            data: vec![0; bytes],
            format: crate::media::PixelFormat::Rgba,
        })
    }

    #[test]
    fn evicts_least_recently_used_within_budget() {
        let mut c = FrameCache::new(300);
        c.insert(frame(1, 100));
        c.insert(frame(2, 100));
        c.insert(frame(3, 100));
        assert!(c.get(1).is_some()); // 1 is now the most recent
        c.insert(frame(4, 100));
        assert!(c.get(2).is_none(), "2 was least recently used");
        assert!(c.get(1).is_some() && c.get(3).is_some() && c.get(4).is_some());
        assert_eq!(c.bytes(), 300);
        c.insert(frame(5, 1000));
        assert_eq!(c.len(), 3, "oversized frames are not cached");
        c.insert(frame(4, 50));
        assert_eq!(c.bytes(), 250, "re-inserting replaces the old size");
    }
}
