//! A small least-recently-used map shared by render workers: values are made outside the lock
//! and handed out as `Arc`s, so a worker never waits on another's work, only on the list.

use std::hash::Hash;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// The last `capacity` values made, by key.
pub struct Kept<K: Hash + Eq, V> {
    values: Mutex<lru::LruCache<K, Arc<V>>>,
}

impl<K: Hash + Eq, V> std::fmt::Debug for Kept<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.values.lock().map_or(0, |v| v.len());
        write!(f, "Kept({n} values)")
    }
}

impl<K: Hash + Eq, V> Kept<K, V> {
    /// Keeps at most `capacity` values (at least one).
    pub fn new(capacity: usize) -> Self {
        let cap = NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN);
        Self { values: Mutex::new(lru::LruCache::new(cap)) }
    }

    /// The value of `key`: the kept one, or `make()` (kept for next time). `None` when it is not
    /// kept and `make` gives none.
    pub fn get_or_make(&self, key: K, make: impl FnOnce() -> Option<V>) -> Option<Arc<V>>
    where
        K: Clone,
    {
        if let Ok(mut kept) = self.values.lock()
            && let Some(v) = kept.get(&key)
        {
            return Some(v.clone());
        }
        let v = Arc::new(make()?);
        if let Ok(mut kept) = self.values.lock() {
            kept.put(key, v.clone());
        }
        Some(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_most_recently_used_values() {
        let kept = Kept::<u32, String>::new(2);
        let made = std::cell::Cell::new(0);
        let get = |k: u32| {
            kept.get_or_make(k, || {
                made.set(made.get() + 1);
                Some(format!("v{k}"))
            })
        };
        assert_eq!(get(1).as_deref().map(String::as_str), Some("v1"));
        get(2);
        get(1); // 1 is now the most recent: 2 goes when 3 comes
        get(3);
        assert_eq!(made.get(), 3);
        get(1);
        assert_eq!(made.get(), 3, "1 was kept");
        get(2);
        assert_eq!(made.get(), 4, "2 was dropped");
        // A value that cannot be made is not kept.
        assert!(kept.get_or_make(9, || None).is_none());
        assert!(kept.get_or_make(9, || Some("late".into())).is_some());
    }
}
