//! The painted-mask panel: the canonical lower-face crop of a lip segment's keyframe, on which
//! the user paints (or erases) what stays in front of the mouth. The mask lives in canonical
//! patch coordinates, so it follows the face through the segment. Each brush stroke is one
//! undoable edit of the segment's settings.

use super::command::AppCommand;
use super::inspector::lip_segment_edit;
use super::lip_lane::LipSegmentRef;
use crate::analysis::mouth_patch::{PATCH_H, PATCH_W, extract_patch};
use crate::analysis::pipeline::Analysis;
use crate::lipsync::plan::LipSegmentPlan;
use crate::media::VideoDecoder;
use crate::model::Project;
use crate::model::lip::OcclusionMode;
use crate::model::lip::PaintedMask;
use anyhow::Context as _;
use egui::{Color32, ColorImage, Sense, TextureHandle, TextureOptions};
use std::path::Path;

/// Screen points per patch pixel.
const SCALE: f32 = 3.0;

/// The panel's state.
pub struct MaskPainter {
    /// The segment being painted.
    pub segment: LipSegmentRef,
    /// The keyframe shown (a frame of the shot).
    pub keyframe: i64,
    /// The keyframe's canonical patch, RGB.
    patch: Vec<[f32; 3]>,
    /// The mask being painted, `PATCH_W × PATCH_H`, 1 = keep the source.
    pub mask: Vec<f32>,
    /// Brush radius in patch pixels.
    pub brush: f32,
    /// Erase instead of paint.
    pub erase: bool,
    texture: Option<TextureHandle>,
    dirty: bool,
    stroking: bool,
}

impl MaskPainter {
    /// Opens the panel for a segment: decodes its keyframe (the middle frame of the segment) and
    /// cuts the canonical patch with the bound face's landmarks there.
    pub fn open(
        project: &Project,
        segment: LipSegmentRef,
        current: &LipSegmentPlan,
        analysis: Option<&Analysis>,
        video: Option<&Path>,
    ) -> Result<Self, String> {
        let track = project
            .timeline
            .dub_tracks
            .iter()
            .find(|t| t.id == segment.track)
            .ok_or("the dub track is gone")?;
        let face = track.face.ok_or("bind the dub track to a face first (Faces list)")?;
        let analysis = analysis.ok_or("the shot has no face analysis yet")?;
        let ft = analysis
            .tracks
            .iter()
            .find(|t| t.id == face.0)
            .ok_or_else(|| format!("face {} is not in the shot's analysis", face.0))?;
        let rate = project.timeline.frame_rate;
        let mid = (rate.time_to_frame(segment.start) + rate.time_to_frame(segment.end)) / 2;
        // The keyframe: the painted mask's own, else the segment's middle (or the nearest frame
        // of the segment with a face).
        let first = rate.time_to_frame(segment.start);
        let last = rate.time_to_frame(segment.end).max(first + 1) - 1;
        let keyframe = current
            .mask
            .as_ref()
            .map(|m| m.keyframe)
            .filter(|k| ft.at(*k).is_some())
            .or_else(|| {
                (0..=(last - first).max(0))
                    .flat_map(|d| [mid - d, mid + d])
                    .find(|&i| i >= first && i <= last && ft.at(i).is_some())
            })
            .ok_or("the face is not in this segment")?;
        let tf = ft.at(keyframe).ok_or("the face is not in this segment")?;
        let video = video.ok_or("the project has no video")?;
        let mut dec = VideoDecoder::open(video).map_err(crate::app::error_line)?;
        let (w, h) = dec.size();
        let frame = dec
            .frame(keyframe)
            .with_context(|| format!("the keyframe {keyframe} of {}", video.display()))
            .map_err(crate::app::error_line)?;
        let patch = extract_patch(&frame.data, w as usize, h as usize, &tf.landmarks)
            .ok_or("degenerate face geometry at the keyframe")?;
        let mask = current
            .mask
            .as_ref()
            .map(|m| m.values.clone())
            .filter(|v| v.len() == PATCH_W * PATCH_H)
            .unwrap_or_else(|| vec![0.0; PATCH_W * PATCH_H]);
        Ok(Self {
            segment,
            keyframe,
            patch: patch.rgb,
            mask,
            brush: 6.0,
            erase: false,
            texture: None,
            dirty: true,
            stroking: false,
        })
    }

    /// Paints (or erases) a disc of the brush radius at patch coordinates `(u, v)`.
    pub fn dab(&mut self, u: f32, v: f32) {
        let r = self.brush.max(0.5);
        let value = if self.erase { 0.0 } else { 1.0 };
        let (v0, v1) = ((v - r).floor().max(0.0) as usize, ((v + r).ceil() as usize).min(PATCH_H));
        let (u0, u1) = ((u - r).floor().max(0.0) as usize, ((u + r).ceil() as usize).min(PATCH_W));
        for y in v0..v1 {
            for x in u0..u1 {
                let (dx, dy) = (x as f32 + 0.5 - u, y as f32 + 0.5 - v);
                if dx * dx + dy * dy <= r * r {
                    self.mask[y * PATCH_W + x] = value;
                }
            }
        }
        self.dirty = true;
    }

    /// The edit that stores the mask in the segment (and makes its occlusion use it).
    pub fn commit(
        &self,
        project: &Project,
        current: &LipSegmentPlan,
    ) -> Option<crate::model::Edit> {
        let mask = PaintedMask { keyframe: self.keyframe, values: self.mask.clone() };
        lip_segment_edit(project, &self.segment, current, |s| {
            s.mask = Some(mask);
            if !s.settings.occlusion.uses_painted() {
                s.settings.occlusion = OcclusionMode::AutoPainted;
            }
        })
    }

    fn image(&self) -> ColorImage {
        let mut rgba = Vec::with_capacity(PATCH_W * PATCH_H * 4);
        for (p, m) in self.patch.iter().zip(&self.mask) {
            // The painted area tinted red over the face.
            let k = 0.55 * m;
            let c = [p[0] * (1.0 - k) + 255.0 * k, p[1] * (1.0 - k), p[2] * (1.0 - k)];
            rgba.extend(c.iter().map(|v| v.clamp(0.0, 255.0) as u8));
            rgba.push(255);
        }
        ColorImage::from_rgba_unmultiplied([PATCH_W, PATCH_H], &rgba)
    }
}

/// Draws the panel as a window; returns false when the user closed it.
pub fn mask_painter_ui(
    ctx: &egui::Context,
    painter: &mut MaskPainter,
    project: &Project,
    current: Option<&LipSegmentPlan>,
    out: &mut Vec<AppCommand>,
) -> bool {
    let mut open = true;
    egui::Window::new("Occluder mask").open(&mut open).resizable(false).show(ctx, |ui| {
        let Some(current) = current else {
            ui.label("The segment is gone (the dub changed).");
            return;
        };
        ui.label(format!(
            "Keyframe {} · paint what stays in front of the mouth (it follows the face)",
            painter.keyframe
        ));
        ui.horizontal(|ui| {
            ui.selectable_value(&mut painter.erase, false, "Paint");
            ui.selectable_value(&mut painter.erase, true, "Erase");
            ui.add(egui::Slider::new(&mut painter.brush, 1.0..=24.0).text("Brush"));
        });
        if painter.dirty || painter.texture.is_none() {
            let img = painter.image();
            match &mut painter.texture {
                Some(t) => t.set(img, TextureOptions::NEAREST),
                None => {
                    painter.texture =
                        Some(ctx.load_texture("lip-mask-paint", img, TextureOptions::NEAREST))
                }
            }
            painter.dirty = false;
        }
        let size = egui::vec2(PATCH_W as f32 * SCALE, PATCH_H as f32 * SCALE);
        let (rect, resp) = ui.allocate_exact_size(size, Sense::click_and_drag());
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, "Mask canvas"));
        if let Some(tex) = &painter.texture {
            ui.painter().image(
                tex.id(),
                rect,
                egui::Rect::from_min_max(egui::pos2(0.0, 0.0), egui::pos2(1.0, 1.0)),
                Color32::WHITE,
            );
        }
        if let Some(p) = resp.hover_pos() {
            ui.painter().circle_stroke(
                p,
                painter.brush * SCALE,
                egui::Stroke::new(1.0, Color32::YELLOW),
            );
        }
        let pressed = resp.is_pointer_button_down_on() || resp.clicked();
        if pressed && let Some(p) = resp.interact_pointer_pos() {
            let (u, v) = ((p.x - rect.left()) / SCALE, (p.y - rect.top()) / SCALE);
            painter.dab(u, v);
            painter.stroking = true;
        }
        let stroke_ended = painter.stroking && !resp.is_pointer_button_down_on();
        ui.horizontal(|ui| {
            let mut commit = stroke_ended;
            if ui.button("Clear").clicked() {
                painter.mask.iter_mut().for_each(|m| *m = 0.0);
                painter.dirty = true;
                commit = true;
            }
            if commit {
                painter.stroking = false;
                if let Some(edit) = painter.commit(project, current) {
                    out.push(AppCommand::Edit { edit, label: "Paint lip mask".into() });
                }
            }
            let covered = painter.mask.iter().filter(|&&m| m > 0.0).count();
            ui.label(format!(
                "{:.1} % of the patch painted",
                100.0 * covered as f32 / (PATCH_W * PATCH_H) as f32
            ));
        });
    });
    open
}
