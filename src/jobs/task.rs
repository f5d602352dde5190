//! [`Task`]: the one way to run a piece of background work. A named thread runs the work with a
//! [`Job`] (progress + cancel) and a [`Results`] sender into a bounded channel; the owner polls
//! the results without blocking. Dropping the task cancels it and never waits for the thread:
//! the work sees the cancel flag (or a closed channel) and ends by itself.

use super::Job;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, TrySendError, sync_channel};

/// Where a task's work sends its results (a bounded channel: a fast producer waits for its
/// owner instead of piling results up).
pub struct Results<T>(SyncSender<T>);

impl<T> Results<T> {
    /// Sends one result, waiting while the channel is full. `false` when the owner dropped the
    /// task: the work should stop.
    pub fn send(&self, value: T) -> bool {
        self.0.send(value).is_ok()
    }

    /// Sends one result without waiting: `Err(value)` gives it back while the channel is full
    /// (for work that must keep checking its cancel flag), `Ok(false)` when the owner dropped
    /// the task.
    pub fn try_send(&self, value: T) -> Result<bool, T> {
        match self.0.try_send(value) {
            Ok(()) => Ok(true),
            Err(TrySendError::Full(v)) => Err(v),
            Err(TrySendError::Disconnected(_)) => Ok(false),
        }
    }
}

/// A background computation on a named thread, with progress, cancel and its results.
pub struct Task<T> {
    job: Arc<Job>,
    rx: Receiver<T>,
    finished: bool,
}

impl<T: Send + 'static> Task<T> {
    /// Runs `work(job, results)` on a thread named `name`; at most `capacity` results (at least
    /// one) wait in the channel.
    pub fn spawn(
        name: &str,
        capacity: usize,
        work: impl FnOnce(&Job, &Results<T>) + Send + 'static,
    ) -> std::io::Result<Self> {
        let job = Job::new();
        let (tx, rx) = sync_channel(capacity.max(1));
        let worker_job = Arc::clone(&job);
        std::thread::Builder::new().name(name.to_string()).spawn(move || {
            work(&worker_job, &Results(tx));
        })?;
        Ok(Self { job, rx, finished: false })
    }

    /// [`Task::spawn`] for work with one result (its return value).
    pub fn spawn_one(
        name: &str,
        work: impl FnOnce(&Job) -> T + Send + 'static,
    ) -> std::io::Result<Self> {
        Self::spawn(name, 1, move |job, results| {
            results.send(work(job));
        })
    }
}

impl<T> Task<T> {
    /// The task's progress and cancel flag (to hand to library code that takes a [`Job`]).
    pub fn job(&self) -> &Arc<Job> {
        &self.job
    }

    /// Progress, 0..=1, as the work last reported it.
    pub fn progress(&self) -> f64 {
        self.job.progress()
    }

    /// Asks the work to stop at its next check.
    pub fn cancel(&self) {
        self.job.cancel();
    }

    /// Whether cancelling was asked for.
    pub fn is_cancelled(&self) -> bool {
        self.job.is_cancelled()
    }

    /// The next result that arrived, without waiting.
    pub fn try_recv(&mut self) -> Option<T> {
        match self.rx.try_recv() {
            Ok(v) => Some(v),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => {
                self.finished = true;
                None
            }
        }
    }

    /// The next result, waiting for it; `None` once the work has ended without another.
    /// Blocks: for command-line work and tests, never on the UI thread.
    pub fn recv(&mut self) -> Option<T> {
        let v = self.rx.recv().ok();
        self.finished |= v.is_none();
        v
    }

    /// Every result that arrived so far, without waiting.
    pub fn drain(&mut self) -> Vec<T> {
        std::iter::from_fn(|| self.try_recv()).collect()
    }

    /// Whether the work has ended and every result was received. Known once a receive finds
    /// the channel closed: after the last result, one more [`Task::try_recv`] (or
    /// [`Task::drain`]) is needed to see it.
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        // Never block the owner (the UI thread): the work ends by itself on the flag or on
        // the closed channel.
        self.job.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait_until(mut f: impl FnMut() -> bool) {
        let start = Instant::now();
        while !f() {
            assert!(start.elapsed() < Duration::from_secs(10), "timed out");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn results_progress_and_end() {
        let mut task = Task::spawn("test-task", 2, |job, out| {
            for i in 0..10 {
                job.set_progress(f64::from(i + 1) / 10.0);
                if !out.send(i) {
                    return;
                }
            }
        })
        .unwrap();
        let mut got = Vec::new();
        wait_until(|| {
            got.extend(task.drain());
            task.is_finished()
        });
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        assert_eq!(task.progress(), 1.0);
        let mut one = Task::spawn_one("test-one", |_| 42).unwrap();
        let mut v = Vec::new();
        wait_until(|| {
            v.extend(one.try_recv());
            one.is_finished()
        });
        assert_eq!(v, [42]);
    }

    #[test]
    fn drop_cancels_without_waiting() {
        let (tx, rx) = std::sync::mpsc::channel();
        let task: Task<()> = Task::spawn("test-cancel", 1, move |job, _| {
            while !job.is_cancelled() {
                std::thread::sleep(Duration::from_millis(1));
            }
            let _ = tx.send("stopped");
        })
        .unwrap();
        let t0 = Instant::now();
        drop(task);
        assert!(t0.elapsed() < Duration::from_millis(500), "drop did not block");
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok("stopped"));
    }

    #[test]
    fn try_send_gives_back_when_full_and_recv_waits() {
        let (checked_tx, checked_rx) = std::sync::mpsc::channel();
        let mut task = Task::spawn("test-try-send", 1, move |_, out| {
            let first = out.try_send(1);
            let second = out.try_send(2);
            let _ = checked_tx.send((first, second));
            out.send(3);
        })
        .unwrap();
        let checked = checked_rx.recv_timeout(Duration::from_secs(10));
        assert_eq!(checked, Ok((Ok(true), Err(2))), "a full channel gives the value back");
        assert_eq!(task.recv(), Some(1));
        assert_eq!(task.recv(), Some(3));
        assert_eq!(task.recv(), None);
        assert!(task.is_finished());
    }
}
