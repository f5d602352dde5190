//! The viewer: the shot's frame at the playhead, decoded on a worker thread so the UI never
//! waits for GStreamer; fit / 100 % / zoom and safe-area guides.

use super::command::{AppCommand, ViewerZoom};
use super::worker::LatestWorker;
use crate::media::{Frame, VideoDecoder};
use egui::{Color32, Rect, Stroke, TextureHandle, TextureOptions, Vec2};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, channel};

/// Frames decoded ahead of the playhead during playback.
const READ_AHEAD: i64 = 3;

/// Decodes frames of one file on a named thread, newest request first.
pub struct FrameFetcher {
    path: PathBuf,
    worker: LatestWorker<(i64, u64, bool)>,
    /// Bumped by every request, so read-ahead stops as soon as a newer request exists.
    generation: Arc<AtomicU64>,
    rx: Receiver<Result<Arc<Frame>, String>>,
}

impl FrameFetcher {
    /// Starts a fetcher for `path`; `ctx` is poked when a frame is ready.
    pub fn new(path: &Path, ctx: egui::Context) -> std::io::Result<Self> {
        let (tx, rx) = channel();
        let p = path.to_path_buf();
        let mut decoder: Option<VideoDecoder> = None;
        let generation = Arc::new(AtomicU64::new(0));
        let gen_seen = Arc::clone(&generation);
        let worker = LatestWorker::spawn(
            "viewer-decode",
            move |(index, want_gen, playing): (i64, u64, bool)| {
                if decoder.is_none() {
                    match VideoDecoder::open(&p) {
                        Ok(d) => decoder = Some(d),
                        Err(e) => {
                            let _ = tx.send(Err(e.to_string()));
                            ctx.request_repaint();
                            return;
                        }
                    }
                }
                if let Some(d) = decoder.as_mut() {
                    let last = d.frame_count().max(1) - 1;
                    let r = d.frame(index.clamp(0, last)).map_err(|e| e.to_string());
                    let _ = tx.send(r);
                    ctx.request_repaint();
                    // While playing, decode the next frames into the decoder's cache so the next
                    // requests are answered at once; stop when the UI has asked for something else.
                    if playing {
                        for k in 1..=READ_AHEAD {
                            if gen_seen.load(Ordering::Relaxed) != want_gen || index + k > last {
                                break;
                            }
                            let _ = d.frame(index + k);
                        }
                    }
                }
            },
        )?;
        Ok(Self { path: path.to_path_buf(), worker, generation, rx })
    }

    /// The file this fetcher decodes.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Asks for a frame (replacing any request not yet started); `playing` enables read-ahead.
    pub fn request(&self, index: i64, playing: bool) {
        let next_gen = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        self.worker.send((index, next_gen, playing));
    }

    /// Frames (or errors) decoded since the last call.
    pub fn poll(&self) -> Vec<Result<Arc<Frame>, String>> {
        self.rx.try_iter().collect()
    }
}

/// Viewer state kept between frames.
pub struct Viewer {
    /// The decoder of the current shot.
    pub fetcher: Option<FrameFetcher>,
    /// The frame on screen.
    pub shown: Option<Arc<Frame>>,
    /// Its texture.
    pub texture: Option<TextureHandle>,
    /// Last requested index (to avoid asking twice).
    pub requested: Option<i64>,
    /// Scale.
    pub zoom: ViewerZoom,
    /// Draw the 90 %/80 % safe areas.
    pub safe_areas: bool,
    /// Last decode error.
    pub error: Option<String>,
    /// Index of the last frame shown while playing (the baseline for dropped frames).
    played: Option<i64>,
}

impl Default for Viewer {
    fn default() -> Self {
        Self {
            fetcher: None,
            shown: None,
            texture: None,
            requested: None,
            zoom: ViewerZoom::Fit,
            safe_areas: false,
            error: None,
            played: None,
        }
    }
}

impl Viewer {
    /// Points the viewer at a shot (or none), restarting the decoder when it changed.
    pub fn set_source(&mut self, path: Option<&Path>, ctx: &egui::Context) {
        if self.fetcher.as_ref().map(FrameFetcher::path) == path {
            return;
        }
        self.fetcher = None;
        self.shown = None;
        self.texture = None;
        self.requested = None;
        self.error = None;
        if let Some(p) = path {
            match FrameFetcher::new(p, ctx.clone()) {
                Ok(f) => self.fetcher = Some(f),
                Err(e) => self.error = Some(e.to_string()),
            }
        }
    }

    /// Asks for frame `index` and takes in decoded frames. `upto`: during playback a frame
    /// newer than the clock is held back (never shown early). Returns how many frames were
    /// skipped between the last shown frame and the new one (dropped frames while playing).
    pub fn update(&mut self, ctx: &egui::Context, index: i64, playing: bool) -> u64 {
        if !playing {
            self.played = None;
        }
        let Some(f) = &self.fetcher else { return 0 };
        if self.requested != Some(index) {
            f.request(index, playing);
            self.requested = Some(index);
        }
        let mut dropped = 0;
        for r in f.poll() {
            match r {
                Ok(frame) if frame.index <= index || !playing => {
                    // Only gaps between frames shown during this playback count: the jump from a
                    // parked frame to where playback starts is a seek, not a drop.
                    if let Some(prev) = self.played
                        && playing
                        && frame.index > prev + 1
                    {
                        dropped += (frame.index - prev - 1) as u64;
                    }
                    if playing {
                        self.played = Some(frame.index);
                    }
                    let image = egui::ColorImage::from_rgba_unmultiplied(
                        [frame.width as usize, frame.height as usize],
                        &frame.data,
                    );
                    match &mut self.texture {
                        Some(t) => t.set(image, TextureOptions::LINEAR),
                        None => {
                            self.texture = Some(ctx.load_texture(
                                "viewer-frame",
                                image,
                                TextureOptions::LINEAR,
                            ))
                        }
                    }
                    self.shown = Some(frame);
                    self.error = None;
                }
                Ok(_) => {}
                Err(e) => self.error = Some(e),
            }
        }
        dropped
    }
}

/// Draws the viewer: the frame, its toolbar (fit / 100 % / zoom, safe areas).
pub fn viewer_ui(ui: &mut egui::Ui, viewer: &Viewer, has_video: bool, out: &mut Vec<AppCommand>) {
    ui.horizontal(|ui| {
        let fit = viewer.zoom == ViewerZoom::Fit;
        if ui.selectable_label(fit, "Fit").on_hover_text("Fit the frame to the viewer").clicked() {
            out.push(AppCommand::ViewerZoom(ViewerZoom::Fit));
        }
        for (label, s) in [("50 %", 0.5), ("100 %", 1.0), ("200 %", 2.0)] {
            let on = viewer.zoom == ViewerZoom::Scale(s);
            if ui.selectable_label(on, label).clicked() {
                out.push(AppCommand::ViewerZoom(ViewerZoom::Scale(s)));
            }
        }
        if ui.selectable_label(viewer.safe_areas, "Safe areas").clicked() {
            out.push(AppCommand::ToggleSafeAreas);
        }
        if let Some(f) = &viewer.shown {
            ui.label(format!("{}×{}  frame {}", f.width, f.height, f.index));
        }
    });
    let avail = ui.available_rect_before_wrap();
    let (rect, resp) = ui.allocate_exact_size(avail.size(), egui::Sense::click());
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, "Viewer"));
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, Color32::from_gray(8));
    let (Some(tex), Some(frame)) = (&viewer.texture, &viewer.shown) else {
        let msg = match (&viewer.error, has_video) {
            (Some(e), _) => format!("Cannot show the shot: {e}"),
            (None, true) => "Decoding…".to_string(),
            (None, false) => "Drop a video here or use File > Import".to_string(),
        };
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            msg,
            egui::FontId::proportional(16.0),
            Color32::GRAY,
        );
        return;
    };
    let size = Vec2::new(frame.width as f32, frame.height as f32);
    let scale = match viewer.zoom {
        ViewerZoom::Fit => (rect.width() / size.x).min(rect.height() / size.y),
        ViewerZoom::Scale(s) => s / ui.ctx().pixels_per_point(),
    };
    let img = Rect::from_center_size(rect.center(), size * scale);
    painter.image(
        tex.id(),
        img,
        Rect::from_min_max([0.0, 0.0].into(), [1.0, 1.0].into()),
        Color32::WHITE,
    );
    if viewer.safe_areas {
        for (frac, color) in
            [(0.9, Color32::from_rgb(80, 200, 80)), (0.8, Color32::from_rgb(220, 200, 60))]
        {
            let r = Rect::from_center_size(img.center(), img.size() * frac);
            painter.rect_stroke(r, 0.0, Stroke::new(1.0, color), egui::StrokeKind::Inside);
        }
    }
}
