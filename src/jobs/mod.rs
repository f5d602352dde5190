//! Background work, one way: long work reports progress and honours cancellation through one
//! shared [`Job`] struct; [`Task`] runs a piece of work on a named thread with a job and a
//! bounded result channel (dropping it cancels without blocking); [`LatestWorker`] serves only
//! the newest of many requests (scrubbing). Std only, so every layer may use it.

mod latest;
mod task;

pub use latest::LatestWorker;
pub use task::{Results, Task};

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Progress (0..=1) and a cancel flag shared between a worker and whoever watches it.
#[derive(Debug, Default)]
pub struct Job {
    /// Fraction done, stored as `f64` bits so it can be read without a lock.
    fraction_bits: AtomicU64,
    cancelled: AtomicBool,
    /// What the work is doing now, for work of several stages (see [`Job::set_stage`]).
    stage: Mutex<String>,
}

impl Job {
    /// A fresh job at 0 % and not cancelled, ready to share.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Records progress; values are clamped to 0..=1.
    pub fn set_progress(&self, fraction: f64) {
        let f = if fraction.is_finite() { fraction.clamp(0.0, 1.0) } else { 0.0 };
        self.fraction_bits.store(f.to_bits(), Ordering::Relaxed);
    }

    /// The last recorded progress, 0..=1.
    pub fn progress(&self) -> f64 {
        f64::from_bits(self.fraction_bits.load(Ordering::Relaxed))
    }

    /// Names the stage the work has entered ("measuring lip shapes") and restarts its progress
    /// at 0: a stage's progress is its own.
    pub fn set_stage(&self, stage: &str) {
        if let Ok(mut s) = self.stage.lock() {
            stage.clone_into(&mut s);
        }
        self.set_progress(0.0);
    }

    /// The stage last named by [`Job::set_stage`] (empty when none).
    pub fn stage(&self) -> String {
        self.stage.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Asks the worker to stop at its next check.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// Whether cancellation was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_is_clamped_and_cancel_sticks() {
        let job = Job::new();
        job.set_progress(1.7);
        assert_eq!(job.progress(), 1.0);
        job.set_progress(f64::NAN);
        assert_eq!(job.progress(), 0.0);
        job.set_progress(0.25);
        assert_eq!(job.progress(), 0.25);
        assert!(!job.is_cancelled());
        job.cancel();
        assert!(job.is_cancelled());
        assert_eq!(job.stage(), "");
        job.set_stage("measuring lip shapes");
        assert_eq!((job.stage().as_str(), job.progress()), ("measuring lip shapes", 0.0));
    }
}
