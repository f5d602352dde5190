//! Thumbnails of the shot for the video track and the media bin, decoded on their own thread
//! (a second decoder, so scrubbing the viewer never waits behind them).

use crate::media::VideoDecoder;
use crate::model::Time;
use egui::{ColorImage, TextureHandle, TextureOptions, Vec2};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};

/// Thumbnail height in pixels.
const THUMB_H: u32 = 54;
/// At most this many thumbnails per shot.
const MAX_THUMBS: i64 = 80;

/// The shot's thumbnails, arriving over time.
#[derive(Default)]
pub struct Thumbnails {
    path: Option<PathBuf>,
    rx: Option<Receiver<(Time, ColorImage)>>,
    stop: Arc<AtomicBool>,
    /// (time, texture, size), sorted by time.
    pub items: Vec<(Time, TextureHandle, Vec2)>,
}

/// Shrinks RGBA to `THUMB_H` rows by sampling (thumbnails need no filtering quality).
fn shrink(data: &[u8], w: u32, h: u32) -> ColorImage {
    let th = THUMB_H.min(h).max(1);
    let tw = (w * th / h.max(1)).max(1);
    let mut out = Vec::with_capacity((tw * th * 4) as usize);
    for y in 0..th {
        let sy = y * h / th;
        for x in 0..tw {
            let sx = x * w / tw;
            let i = ((sy * w + sx) * 4) as usize;
            out.extend_from_slice(data.get(i..i + 4).unwrap_or(&[0, 0, 0, 255]));
        }
    }
    ColorImage::from_rgba_unmultiplied([tw as usize, th as usize], &out)
}

impl Thumbnails {
    /// Follows the shot: a new path restarts the thumbnail thread.
    pub fn set_source(&mut self, path: Option<&Path>, duration: Time, ctx: &egui::Context) {
        if self.path.as_deref() == path {
            return;
        }
        self.stop.store(true, Ordering::Relaxed);
        self.stop = Arc::new(AtomicBool::new(false));
        self.items.clear();
        self.rx = None;
        self.path = path.map(Path::to_path_buf);
        let Some(p) = path.map(Path::to_path_buf) else { return };
        let (tx, rx) = channel();
        let stop = Arc::clone(&self.stop);
        let ctx = ctx.clone();
        let spawned = std::thread::Builder::new().name("thumbnails".into()).spawn(move || {
            let Ok(mut dec) = VideoDecoder::open(&p) else { return };
            let secs = duration.as_seconds_f64().max(0.04);
            let n = (secs.ceil() as i64).clamp(1, MAX_THUMBS);
            for k in 0..n {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let t = Time::from_seconds_f64(secs * k as f64 / n as f64);
                if let Ok(f) = dec.frame_at_time(t) {
                    let _ = tx.send((t, shrink(&f.data, f.width, f.height)));
                    ctx.request_repaint();
                }
            }
        });
        if spawned.is_ok() {
            self.rx = Some(rx);
        }
    }

    /// Whether the thumbnail thread is still working.
    pub fn busy(&self) -> bool {
        self.rx.is_some()
    }

    /// Turns arrived images into textures.
    pub fn poll(&mut self, ctx: &egui::Context) {
        let Some(rx) = &self.rx else { return };
        let mut added = false;
        let mut arrived = Vec::new();
        loop {
            match rx.try_recv() {
                Ok(x) => arrived.push(x),
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                    self.rx = None;
                    break;
                }
            }
        }
        for (t, img) in arrived {
            let size = Vec2::new(img.size[0] as f32, img.size[1] as f32);
            let tex = ctx.load_texture(format!("thumb-{}", t.ticks()), img, TextureOptions::LINEAR);
            self.items.push((t, tex, size));
            added = true;
        }
        if added {
            self.items.sort_by_key(|(t, _, _)| *t);
        }
    }
}

impl Drop for Thumbnails {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
