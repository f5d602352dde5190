//! The viewer: the shot's frame at the playhead, rendered on a worker thread through the
//! export's own picture path ([`FrameRenderer`]: decode → lip edits → compositor), so what the
//! viewer shows is what export writes and the UI never waits for GStreamer or the lip engine.
//! Tools: before/after (`\`), split wipe, mask overlay, face boxes; fit / 100 % / zoom and
//! safe-area guides.

use super::command::{AppCommand, ViewerZoom};
use super::overlay::{FaceContext, MaskImage, face_toggles_ui, faces_ui, mask_overlay};
use super::preview::NewPlan;
use crate::jobs::LatestWorker;
use crate::media::Frame;
use crate::render::graph::FrameRenderer;
use crate::render::lips::LipRenderer;
use egui::{Color32, Rect, Stroke, TextureHandle, TextureOptions, Vec2};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};

/// Frames rendered ahead of the playhead during playback.
const READ_AHEAD: i64 = 3;

/// One frame from the render path.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// The output frame (what export writes).
    pub edited: Arc<Frame>,
    /// The decoded source frame, before any edit.
    pub original: Arc<Frame>,
    /// Which compositor drew a lip edit into it, if any.
    pub backend: Option<String>,
    /// Version of the lip plan used (0: none yet).
    pub plan: u64,
    /// The mask overlay, when asked for and some face is edited.
    pub mask: Option<MaskImage>,
}

/// One request to the render worker.
#[derive(Clone, Copy)]
struct Request {
    index: i64,
    generation: u64,
    playing: bool,
    masks: bool,
}

type Out = Result<Rendered, String>;

/// The render worker's state: the shot's [`FrameRenderer`] and frames rendered ahead.
struct RenderState {
    renderer: FrameRenderer,
    plan: u64,
    ahead: HashMap<i64, (Arc<Frame>, Option<String>)>,
}

impl RenderState {
    fn edited(&mut self, i: i64) -> Result<(Arc<Frame>, Option<String>), String> {
        if let Some(f) = self.ahead.get(&i) {
            return Ok(f.clone());
        }
        let src = self.renderer.source(i).map_err(crate::app::error_line)?;
        let (data, backend) = self.renderer.render(i).map_err(crate::app::error_line)?;
        let frame = Arc::new(Frame {
            index: src.index,
            pts: src.pts,
            width: src.width,
            height: src.height,
            data,
            format: crate::media::PixelFormat::Rgba,
        });
        Ok((frame, backend.map(|b| b.to_string())))
    }
}

/// Renders frames of one shot on a named thread, newest request first.
pub struct FrameFetcher {
    path: PathBuf,
    worker: LatestWorker<Request>,
    /// Bumped by every request, so read-ahead stops as soon as a newer request exists.
    generation: Arc<AtomicU64>,
    /// A new lip plan waiting to be swapped into the renderer.
    plan_slot: Arc<Mutex<Option<NewPlan>>>,
    rx: Receiver<Out>,
}

impl FrameFetcher {
    /// Starts a fetcher for `path`; `ctx` is poked when a frame is ready.
    pub fn new(path: &Path, ctx: egui::Context) -> std::io::Result<Self> {
        let (tx, rx) = channel();
        let p = path.to_path_buf();
        let mut state: Option<RenderState> = None;
        let generation = Arc::new(AtomicU64::new(0));
        let gen_seen = Arc::clone(&generation);
        let plan_slot: Arc<Mutex<Option<NewPlan>>> = Arc::new(Mutex::new(None));
        let slot = Arc::clone(&plan_slot);
        let worker = LatestWorker::spawn("viewer-render", move |req: Request| {
            if state.is_none() {
                match FrameRenderer::open(&p, LipRenderer::new(Vec::new())) {
                    Ok(r) => {
                        state = Some(RenderState { renderer: r, plan: 0, ahead: HashMap::new() })
                    }
                    Err(e) => {
                        let _ = tx.send(Err(e.to_string()));
                        ctx.request_repaint();
                        return;
                    }
                }
            }
            let Some(st) = state.as_mut() else { return };
            if let Some(plan) = slot.lock().ok().and_then(|mut s| s.take()) {
                st.renderer.set_lips(plan.lips);
                st.plan = plan.version;
                st.ahead.clear();
            }
            let r = render_one(st, req.index, req.masks);
            let _ = tx.send(r);
            ctx.request_repaint();
            // While playing, render the next frames so the next requests are answered at once;
            // stop when the UI has asked for something else.
            if req.playing {
                st.ahead.retain(|&k, _| k > req.index && k <= req.index + READ_AHEAD);
                for k in 1..=READ_AHEAD {
                    if gen_seen.load(Ordering::Relaxed) != req.generation {
                        break;
                    }
                    let j = req.index + k;
                    if !st.ahead.contains_key(&j)
                        && let Ok(f) = st.edited(j)
                    {
                        if f.0.index != j {
                            break; // past the end
                        }
                        st.ahead.insert(j, f);
                    }
                }
            }
        })?;
        Ok(Self { path: path.to_path_buf(), worker, generation, plan_slot, rx })
    }

    /// The file this fetcher renders.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Asks for a frame (replacing any request not yet started); `playing` enables
    /// render-ahead, `masks` the mask overlay.
    pub fn request(&self, index: i64, playing: bool, masks: bool) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        self.worker.send(Request { index, generation, playing, masks });
    }

    /// Hands a new lip plan to the renderer (used from the next request on).
    pub fn set_plan(&self, plan: NewPlan) {
        if let Ok(mut s) = self.plan_slot.lock() {
            *s = Some(plan);
        }
    }

    /// Frames (or errors) rendered since the last call.
    pub fn poll(&self) -> Vec<Out> {
        self.rx.try_iter().collect()
    }
}

fn render_one(st: &mut RenderState, index: i64, masks: bool) -> Out {
    let last = st.renderer.frame_count().max(1) - 1;
    let i = index.clamp(0, last);
    let original = st.renderer.source(i).map_err(crate::app::error_line)?;
    let (edited, backend) = st.edited(i)?;
    let mask = if masks && !st.renderer.lips().is_empty() {
        let (w, h) = (original.width as usize, original.height as usize);
        // Neighbours for the temporal occlusion test, decoded before the plan is borrowed.
        let prev = st.renderer.source(i - 1).ok().filter(|f| f.index == i - 1);
        let next = st.renderer.source(i + 1).ok().filter(|f| f.index == i + 1);
        let neighbour = |j: i64| {
            [&prev, &next].into_iter().flatten().find(|f| f.index == j).map(|f| f.data.clone())
        };
        mask_overlay(st.renderer.lips(), i, &original.data, w, h, neighbour)
    } else {
        None
    };
    Ok(Rendered { edited, original, backend, plan: st.plan, mask })
}

/// Viewer state kept between frames.
pub struct Viewer {
    /// The renderer of the current shot.
    pub fetcher: Option<FrameFetcher>,
    /// The output frame on screen (after the lip edit).
    pub shown: Option<Arc<Frame>>,
    /// The source frame of the same index (before any edit).
    pub original: Option<Arc<Frame>>,
    /// Compositor that drew the shown frame's lip edit, if any.
    pub backend: Option<String>,
    /// Lip plan version of the shown frame.
    pub plan: u64,
    /// The shown frame's texture.
    pub texture: Option<TextureHandle>,
    /// The original frame's texture (uploaded only while before/after or the wipe needs it).
    original_texture: Option<(i64, TextureHandle)>,
    /// The mask overlay's texture and its frame-pixel rectangle.
    mask_texture: Option<(Rect, TextureHandle)>,
    /// Last requested (index, masks, plan) (to avoid asking twice).
    pub requested: Option<(i64, bool, u64)>,
    /// Scale.
    pub zoom: ViewerZoom,
    /// Draw the 90 %/80 % safe areas.
    pub safe_areas: bool,
    /// Show the original instead of the edit (`\`).
    pub before: bool,
    /// Split wipe: original left of this fraction of the width, edit right of it.
    pub split: Option<f32>,
    /// Tint the lip edit's region and occlusion.
    pub mask_overlay: bool,
    /// Draw face boxes, landmarks and ids (and make faces clickable).
    pub face_boxes: bool,
    /// Last render error.
    pub error: Option<String>,
    /// Newest plan handed to the renderer.
    plan_sent: u64,
    /// Index of the last frame shown while playing (the baseline for dropped frames).
    played: Option<i64>,
    /// Frames shown while playing since the last reset (for the playback benchmark).
    pub played_frames: u64,
}

impl Default for Viewer {
    fn default() -> Self {
        Self {
            fetcher: None,
            shown: None,
            original: None,
            backend: None,
            plan: 0,
            texture: None,
            original_texture: None,
            mask_texture: None,
            requested: None,
            zoom: ViewerZoom::Fit,
            safe_areas: false,
            before: false,
            split: None,
            mask_overlay: false,
            face_boxes: true,
            error: None,
            plan_sent: 0,
            played: None,
            played_frames: 0,
        }
    }
}

fn upload(
    ctx: &egui::Context,
    slot: Option<TextureHandle>,
    name: &str,
    size: [usize; 2],
    rgba: &[u8],
) -> TextureHandle {
    let image = egui::ColorImage::from_rgba_unmultiplied(size, rgba);
    match slot {
        Some(mut t) => {
            t.set(image, TextureOptions::LINEAR);
            t
        }
        None => ctx.load_texture(name, image, TextureOptions::LINEAR),
    }
}

impl Viewer {
    /// Points the viewer at a shot (or none), restarting the renderer when it changed.
    pub fn set_source(&mut self, path: Option<&Path>, ctx: &egui::Context) {
        if self.fetcher.as_ref().map(FrameFetcher::path) == path {
            return;
        }
        self.fetcher = None;
        self.shown = None;
        self.original = None;
        self.texture = None;
        self.original_texture = None;
        self.mask_texture = None;
        self.requested = None;
        self.error = None;
        self.plan = 0;
        self.plan_sent = 0;
        if let Some(p) = path {
            match FrameFetcher::new(p, ctx.clone()) {
                Ok(f) => self.fetcher = Some(f),
                Err(e) => self.error = Some(e.to_string()),
            }
        }
    }

    /// Hands a new lip plan to the render path; the frame on screen is rendered again with it.
    pub fn set_plan(&mut self, plan: NewPlan) {
        if let Some(f) = &self.fetcher {
            self.plan_sent = plan.version;
            f.set_plan(plan);
        }
    }

    /// Whether a mask overlay for the shown frame is ready.
    pub fn has_mask(&self) -> bool {
        self.mask_texture.is_some()
    }

    /// Whether the original frame is needed on screen.
    fn needs_original(&self) -> bool {
        self.before || self.split.is_some()
    }

    /// Asks for frame `index` and takes in rendered frames. `upto`: during playback a frame
    /// newer than the clock is held back (never shown early). Returns how many frames were
    /// skipped between the last shown frame and the new one (dropped frames while playing).
    pub fn update(&mut self, ctx: &egui::Context, index: i64, playing: bool) -> u64 {
        if !playing {
            self.played = None;
        }
        let Some(f) = &self.fetcher else { return 0 };
        let want = (index, self.mask_overlay, self.plan_sent);
        if self.requested != Some(want) {
            f.request(index, playing, self.mask_overlay);
            self.requested = Some(want);
        }
        let mut dropped = 0;
        // Only the newest ready frame is uploaded: older ones that arrived in the same UI frame
        // were never on screen (they count as dropped while playing).
        let mut newest = None;
        for r in f.poll() {
            match r {
                Ok(r) if r.edited.index <= index || !playing => newest = Some(r),
                Ok(_) => {}
                Err(e) => self.error = Some(e),
            }
        }
        if let Some(r) = newest {
            let frame = &r.edited;
            // Only gaps between frames shown during this playback count: the jump from a parked
            // frame to where playback starts is a seek, not a drop.
            if let Some(prev) = self.played
                && playing
                && frame.index > prev + 1
            {
                dropped += (frame.index - prev - 1) as u64;
            }
            if playing && self.played != Some(frame.index) {
                self.played = Some(frame.index);
                self.played_frames += 1;
            }
            let size = [frame.width as usize, frame.height as usize];
            self.texture =
                Some(upload(ctx, self.texture.take(), "viewer-frame", size, &frame.data));
            self.mask_texture = r.mask.as_ref().map(|m| {
                let old = self.mask_texture.take().map(|(_, t)| t);
                let rect = Rect::from_min_size(
                    egui::pos2(m.x as f32, m.y as f32),
                    Vec2::new(m.width as f32, m.height as f32),
                );
                let size = [m.width as usize, m.height as usize];
                (rect, upload(ctx, old, "viewer-mask", size, &m.rgba))
            });
            self.shown = Some(r.edited);
            self.original = Some(r.original);
            self.backend = r.backend;
            self.plan = r.plan;
            self.error = None;
        }
        if self.needs_original()
            && let Some(o) = &self.original
            && self.original_texture.as_ref().is_none_or(|(i, _)| *i != o.index)
        {
            let size = [o.width as usize, o.height as usize];
            let old = self.original_texture.take().map(|(_, t)| t);
            self.original_texture =
                Some((o.index, upload(ctx, old, "viewer-original", size, &o.data)));
        }
        dropped
    }
}

/// Draws the viewer: its toolbar (fit / 100 % / zoom, safe areas, before/after, wipe, mask,
/// faces and per-face edit toggles), the frame and its overlays.
pub fn viewer_ui(
    ui: &mut egui::Ui,
    viewer: &Viewer,
    has_video: bool,
    faces: &FaceContext<'_>,
    out: &mut Vec<AppCommand>,
) {
    ui.horizontal_wrapped(|ui| {
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
        ui.separator();
        if ui
            .selectable_label(viewer.before, "Before")
            .on_hover_text("Show the original instead of the lip edit (\\)")
            .clicked()
        {
            out.push(AppCommand::ToggleBeforeAfter);
        }
        if ui
            .selectable_label(viewer.split.is_some(), "Wipe")
            .on_hover_text("Split wipe: original left, edit right; drag the divider")
            .clicked()
        {
            out.push(AppCommand::SetWipe(if viewer.split.is_some() { None } else { Some(0.5) }));
        }
        if ui
            .selectable_label(viewer.mask_overlay, "Mask")
            .on_hover_text("Tint the edited lip region (green) and what occlusion keeps (red)")
            .clicked()
        {
            out.push(AppCommand::ToggleMaskOverlay);
        }
        if ui
            .selectable_label(viewer.face_boxes, "Faces")
            .on_hover_text(
                "Face boxes, landmarks and ids; click a face to bind the selected dub track",
            )
            .clicked()
        {
            out.push(AppCommand::ToggleFaceBoxes);
        }
        face_toggles_ui(ui, faces, out);
        if let Some(f) = &viewer.shown {
            ui.label(format!("{}×{}  frame {}", f.width, f.height, f.index));
        }
    });
    let avail = ui.available_rect_before_wrap();
    let (rect, resp) = ui.allocate_exact_size(avail.size(), egui::Sense::click());
    let mode = match (viewer.before, viewer.split) {
        (true, _) => "before",
        (false, Some(_)) => "wipe",
        (false, None) => "after",
    };
    resp.widget_info(|| {
        let mut info = egui::WidgetInfo::labeled(egui::Role::Image, true, "Viewer");
        info.current_text_value = Some(mode.to_string());
        info
    });
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
    let uv = Rect::from_min_max([0.0, 0.0].into(), [1.0, 1.0].into());
    let original = viewer.original_texture.as_ref().map(|(_, t)| t.id());
    match (viewer.before, viewer.split, original) {
        (true, _, Some(o)) => {
            painter.image(o, img, uv, Color32::WHITE);
        }
        (false, Some(f), Some(o)) => {
            painter.image(tex.id(), img, uv, Color32::WHITE);
            let x = img.left() + img.width() * f;
            let left = Rect::from_min_max(img.min, egui::pos2(x, img.max.y));
            let left_uv = Rect::from_min_max(uv.min, egui::pos2(f, 1.0));
            painter.image(o, left, left_uv, Color32::WHITE);
        }
        _ => {
            painter.image(tex.id(), img, uv, Color32::WHITE);
        }
    }
    if viewer.mask_overlay
        && let Some((r, mask)) = &viewer.mask_texture
    {
        let r = Rect::from_min_max(
            img.min + r.min.to_vec2() * scale,
            img.min + r.max.to_vec2() * scale,
        );
        painter.image(mask.id(), r, uv, Color32::WHITE);
        mask_legend(ui, img);
    }
    if viewer.safe_areas {
        for (frac, color) in
            [(0.9, Color32::from_rgb(80, 200, 80)), (0.8, Color32::from_rgb(220, 200, 60))]
        {
            let r = Rect::from_center_size(img.center(), img.size() * frac);
            painter.rect_stroke(r, 0.0, Stroke::new(1.0, color), egui::StrokeKind::Inside);
        }
    }
    if viewer.face_boxes {
        faces_ui(ui, faces, frame.index, img, scale, out);
    }
    if let Some(f) = viewer.split
        && !viewer.before
    {
        let x = img.left() + img.width() * f;
        let line =
            Rect::from_min_max(egui::pos2(x - 1.0, img.top()), egui::pos2(x + 1.0, img.bottom()));
        painter.rect_filled(line, 0.0, Color32::WHITE);
        let handle = Rect::from_center_size(egui::pos2(x, img.center().y), Vec2::new(14.0, 40.0));
        painter.rect_filled(handle, 4.0, Color32::from_gray(230));
        for dx in [-3.0, 3.0] {
            let x = handle.center().x + dx;
            let grip = [egui::pos2(x, handle.top() + 10.0), egui::pos2(x, handle.bottom() - 10.0)];
            painter.line_segment(grip, Stroke::new(1.0, Color32::from_gray(90)));
        }
        for (t, at) in [("Before", img.left() + 6.0), ("After", img.right() - 6.0)] {
            let align = if at < x { egui::Align2::LEFT_TOP } else { egui::Align2::RIGHT_TOP };
            painter.text(
                egui::pos2(at, img.top() + 6.0),
                align,
                t,
                egui::FontId::proportional(13.0),
                Color32::WHITE,
            );
        }
        let grab =
            Rect::from_min_max(egui::pos2(x - 8.0, img.top()), egui::pos2(x + 8.0, img.bottom()));
        let d = ui.interact(grab, ui.scope_id().with("wipe-divider"), egui::Sense::drag());
        d.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Splitter, true, "Wipe divider"));
        let d = d.on_hover_cursor(egui::CursorIcon::ResizeHorizontal);
        if d.dragged()
            && let Some(p) = d.interact_pointer_pos()
        {
            let nf = ((p.x - img.left()) / img.width().max(1.0)).clamp(0.0, 1.0);
            out.push(AppCommand::SetWipe(Some(nf)));
        }
    }
}

/// The mask overlay's legend in the picture's bottom-left corner: what each tint means.
fn mask_legend(ui: &mut egui::Ui, img: Rect) {
    use super::overlay::{OCCLUSION_TINT, REGION_TINT};
    let rows = [
        (REGION_TINT, "Edited: the new mouth is drawn here"),
        (OCCLUSION_TINT, "Kept: in front of the mouth (occluder or painted mask)"),
    ];
    let (row_h, pad) = (18.0, 6.0);
    let size = Vec2::new(300.0, rows.len() as f32 * row_h + 2.0 * pad);
    let at = egui::pos2(img.left() + 8.0, img.bottom() - 8.0 - size.y);
    let area = Rect::from_min_size(at, size).intersect(img);
    if area.width() < 60.0 || area.height() < size.y {
        return; // too small a picture for a legend
    }
    ui.painter().rect_filled(area, 4.0, Color32::from_black_alpha(170));
    for (k, (tint, text)) in rows.into_iter().enumerate() {
        let top = area.top() + pad + k as f32 * row_h;
        let swatch =
            Rect::from_min_size(egui::pos2(area.left() + pad, top + 3.0), Vec2::splat(12.0));
        ui.painter().rect_filled(swatch, 2.0, Color32::from_rgb(tint[0], tint[1], tint[2]));
        let label = Rect::from_min_max(
            egui::pos2(swatch.right() + 6.0, top),
            egui::pos2(area.right() - pad, top + row_h),
        );
        let builder = egui::UiBuilder::new()
            .max_rect(label)
            .layout(egui::Layout::left_to_right(egui::Align::Center));
        ui.scope_builder(builder, |ui| {
            ui.label(egui::RichText::new(text).small().color(Color32::WHITE));
        });
    }
}
