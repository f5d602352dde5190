//! Thumbnails of the shot for the video track and the media bin, decoded on their own thread
//! (a second decoder, so scrubbing the viewer never waits behind them).

use crate::jobs::Task;
use crate::media::VideoDecoder;
use crate::model::Time;
use egui::{ColorImage, TextureHandle, TextureOptions, Vec2};
use std::path::{Path, PathBuf};

/// Thumbnail height in pixels.
const THUMB_H: u32 = 54;
/// At most this many thumbnails per shot.
const MAX_THUMBS: i64 = 80;

/// The shot's thumbnails, arriving over time.
#[derive(Default)]
pub struct Thumbnails {
    path: Option<PathBuf>,
    task: Option<Task<(Time, ColorImage)>>,
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
        self.items.clear();
        // Dropping the old task stops its thread.
        self.task = None;
        self.path = path.map(Path::to_path_buf);
        let Some(p) = path.map(Path::to_path_buf) else { return };
        let ctx = ctx.clone();
        let task = Task::spawn("thumbnails", MAX_THUMBS as usize, move |job, out| {
            let Ok(mut dec) = VideoDecoder::open(&p) else { return };
            let secs = duration.as_seconds_f64().max(0.04);
            let n = (secs.ceil() as i64).clamp(1, MAX_THUMBS);
            for k in 0..n {
                if job.is_cancelled() {
                    return;
                }
                let t = Time::from_seconds_f64(secs * k as f64 / n as f64);
                if let Ok(f) = dec.frame_at_time(t) {
                    if !out.send((t, shrink(&f.data, f.width, f.height))) {
                        return;
                    }
                    ctx.request_repaint();
                }
            }
        });
        self.task = task.ok();
    }

    /// Whether the thumbnail thread is still working.
    pub fn busy(&self) -> bool {
        self.task.is_some()
    }

    /// Turns arrived images into textures.
    pub fn poll(&mut self, ctx: &egui::Context) {
        let Some(task) = &mut self.task else { return };
        let mut added = false;
        let arrived = task.drain();
        if task.is_finished() {
            self.task = None;
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
