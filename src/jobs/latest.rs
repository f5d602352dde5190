//! A named worker thread that always works on the newest request: a request that arrives while
//! an older one waits replaces it (scrubbing asks for many frames; only the last one matters).

use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

struct Slot<T> {
    pending: Option<T>,
    stop: bool,
}

/// Sends requests to a thread that runs `work` on the newest one.
pub struct LatestWorker<T: Send + 'static> {
    shared: Arc<(Mutex<Slot<T>>, Condvar)>,
    handle: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> LatestWorker<T> {
    /// Starts the thread.
    pub fn spawn(name: &str, mut work: impl FnMut(T) + Send + 'static) -> std::io::Result<Self> {
        let shared = Arc::new((Mutex::new(Slot { pending: None, stop: false }), Condvar::new()));
        let s = Arc::clone(&shared);
        let handle = std::thread::Builder::new().name(name.to_string()).spawn(move || {
            loop {
                let req = {
                    let (lock, cv) = &*s;
                    let Ok(mut slot) = lock.lock() else { return };
                    loop {
                        // Pending work first: a stop still finishes the last request.
                        if let Some(r) = slot.pending.take() {
                            break r;
                        }
                        if slot.stop {
                            return;
                        }
                        slot = match cv.wait(slot) {
                            Ok(g) => g,
                            Err(_) => return,
                        };
                    }
                };
                work(req);
            }
        })?;
        Ok(Self { shared, handle: Some(handle) })
    }

    /// Queues a request, replacing one that has not started yet.
    pub fn send(&self, req: T) {
        let (lock, cv) = &*self.shared;
        if let Ok(mut slot) = lock.lock() {
            slot.pending = Some(req);
            cv.notify_one();
        }
    }

    /// Whether a request is waiting (not yet picked up).
    pub fn is_pending(&self) -> bool {
        self.shared.0.lock().map(|s| s.pending.is_some()).unwrap_or(false)
    }

    /// Stops the thread after its current request and waits for it (used where the last
    /// request must be done, e.g. the final autosave).
    pub fn finish(mut self) {
        self.stop();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }

    fn stop(&self) {
        let (lock, cv) = &*self.shared;
        if let Ok(mut slot) = lock.lock() {
            slot.stop = true;
            cv.notify_one();
        }
    }
}

impl<T: Send + 'static> Drop for LatestWorker<T> {
    fn drop(&mut self) {
        // Never block the UI on drop: the thread ends by itself after its current request.
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn newest_request_wins_and_finish_waits() {
        let (tx, rx) = mpsc::channel();
        let w = LatestWorker::spawn("test-worker", move |x: u32| {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let _ = tx.send(x);
        })
        .unwrap();
        for i in 0..50 {
            w.send(i);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        w.finish();
        let got: Vec<u32> = rx.try_iter().collect();
        assert!(got.len() < 50);
        assert_eq!(got.last(), Some(&49));
    }
}
