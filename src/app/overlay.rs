//! Viewer overlays: the lip edit's mask (edit region tinted green, the part the occlusion mask
//! keeps original tinted red), face boxes with their 5 landmarks and id, and the click on a face
//! that binds the selected dub track to it.

use super::command::AppCommand;
use crate::analysis::mouth_patch::dims_of;
use crate::analysis::pipeline::Analysis;
use crate::model::lip::FaceId;
use crate::model::{ClipId, Edit, Project, TrackId};
use crate::render::lips::LipRenderer;
use egui::{Color32, Pos2, Rect, Stroke};

/// A tinted mask over part of the frame (RGBA, unmultiplied), placed at `x, y` frame pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct MaskImage {
    /// Left edge in frame pixels.
    pub x: u32,
    /// Top edge in frame pixels.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// `width * height * 4` bytes.
    pub rgba: Vec<u8>,
}

/// Edit region colour of the mask overlay.
pub const REGION_TINT: [u8; 3] = [40, 230, 90];
/// Occluded (kept original) colour of the mask overlay.
pub const OCCLUSION_TINT: [u8; 3] = [240, 50, 60];

/// The mask overlay of frame `i` (the decoded source `frame`) for the planned lip edits: the
/// same layers [`LipRenderer::apply`] blends, so the tint shows exactly what is replaced.
/// `None` when no face is edited in this frame.
pub fn mask_overlay(
    lips: &LipRenderer,
    i: i64,
    frame: &[u8],
    width: usize,
    height: usize,
    mut neighbour: impl FnMut(i64) -> Option<Vec<u8>>,
) -> Option<MaskImage> {
    let layers = lips.layers(i, frame, width, height, &mut neighbour);
    if layers.is_empty() {
        return None;
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for l in &layers {
        let (pw, ph) = dims_of(l.alpha.len());
        let (pw, ph) = (pw as f32, ph as f32);
        let t = &l.to_image;
        for c in [[0.0, 0.0], [pw, 0.0], [0.0, ph], [pw, ph]] {
            let p = t.apply(c);
            (x0, y0, x1, y1) = (x0.min(p[0]), y0.min(p[1]), x1.max(p[0]), y1.max(p[1]));
        }
    }
    let x0 = x0.floor().clamp(0.0, width as f32) as usize;
    let y0 = y0.floor().clamp(0.0, height as f32) as usize;
    let x1 = (x1.ceil() + 1.0).clamp(0.0, width as f32) as usize;
    let y1 = (y1.ceil() + 1.0).clamp(0.0, height as f32) as usize;
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let (w, h) = (x1 - x0, y1 - y0);
    let mut rgba = vec![0u8; w * h * 4];
    for l in &layers {
        let (region, alpha, strength) = (l.region, &l.alpha, l.strength);
        let (pwi, phi) = dims_of(alpha.len());
        let (pw, ph) = (pwi as f32, phi as f32);
        let to_patch = l.to_image.inverse();
        for y in 0..h {
            for x in 0..w {
                let p = to_patch.apply([(x + x0) as f32, (y + y0) as f32]);
                let (px, py) = (p[0].round(), p[1].round());
                if px < 0.0 || py < 0.0 || px >= pw || py >= ph {
                    continue;
                }
                let k = py as usize * pwi + px as usize;
                let m = region[k];
                if m <= 0.01 {
                    continue;
                }
                // alpha = region × strength × (1 − occlusion): what the occlusion kept is the
                // part of the region × strength that alpha lost.
                let full = m * strength;
                let occ = if full > 1e-3 { (1.0 - alpha[k] / full).clamp(0.0, 1.0) } else { 0.0 };
                let tint: [f32; 3] = std::array::from_fn(|c| {
                    f32::from(REGION_TINT[c]) * (1.0 - occ) + f32::from(OCCLUSION_TINT[c]) * occ
                });
                let o = (y * w + x) * 4;
                let a = (m * 150.0).max(f32::from(rgba[o + 3]));
                rgba[o..o + 3].copy_from_slice(&tint.map(|v| v.round() as u8));
                rgba[o + 3] = a.round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    Some(MaskImage { x: x0 as u32, y: y0 as u32, width: w as u32, height: h as u32, rgba })
}

/// The dub track a click on a face binds: the track of the first selected clip, else the only
/// dub track of the project.
pub fn bind_target(project: &Project, selection: &[ClipId]) -> Option<TrackId> {
    let tracks = &project.timeline.dub_tracks;
    selection
        .iter()
        .find_map(|id| tracks.iter().find(|t| t.clips.iter().any(|c| c.id == *id)).map(|t| t.id))
        .or_else(|| (tracks.len() == 1).then(|| tracks[0].id))
}

/// What the face overlay needs from the editor.
pub struct FaceContext<'a> {
    /// The shot's face analysis, once done.
    pub analysis: Option<&'a Analysis>,
    /// The project (bindings, faces switched off).
    pub project: &'a Project,
    /// The dub track a click binds.
    pub bind_track: Option<TrackId>,
}

impl FaceContext<'_> {
    /// The names of the dub tracks bound to `face`.
    pub fn bound_tracks(&self, face: u32) -> Vec<&str> {
        self.project
            .timeline
            .dub_tracks
            .iter()
            .filter(|t| t.face == Some(FaceId(face)))
            .map(|t| t.name.as_str())
            .collect()
    }
}

/// The toolbar row of per-face "edit on/off" toggles (saved in the project, undoable).
pub fn face_toggles_ui(ui: &mut egui::Ui, faces: &FaceContext<'_>, out: &mut Vec<AppCommand>) {
    let Some(a) = faces.analysis else { return };
    for t in &a.tracks {
        let on = faces.project.face_edit_on(FaceId(t.id));
        let label = format!("Face {} edit {}", t.id, if on { "on" } else { "off" });
        let bound = faces.bound_tracks(t.id);
        let hint = if bound.is_empty() {
            "Not bound to a dub track: a listening face, never edited".to_string()
        } else {
            format!("Driven by {}; off = this face is never edited", bound.join(", "))
        };
        if ui.selectable_label(on, label).on_hover_text(hint).clicked() {
            out.push(AppCommand::Edit {
                edit: Edit::SetFaceEdit { face: FaceId(t.id), on: !on },
                label: format!("Face {} edit {}", t.id, if on { "off" } else { "on" }),
            });
        }
    }
}

/// Draws face boxes, landmarks and ids of frame `index` over the image at `img` (frame pixels
/// scaled by `scale`), and makes each box a button that binds the selected dub track.
pub fn faces_ui(
    ui: &mut egui::Ui,
    faces: &FaceContext<'_>,
    index: i64,
    img: Rect,
    scale: f32,
    out: &mut Vec<AppCommand>,
) {
    let Some(a) = faces.analysis else { return };
    let painter = ui.painter_at(ui.clip_rect().intersect(img));
    let to_screen = |p: [f32; 2]| Pos2::new(img.min.x + p[0] * scale, img.min.y + p[1] * scale);
    for t in &a.tracks {
        let Some(f) = t.at(index) else { continue };
        let on = faces.project.face_edit_on(FaceId(t.id));
        let bound = faces.bound_tracks(t.id);
        let color = match (on, bound.is_empty()) {
            (false, _) => Color32::from_rgb(150, 150, 150),
            (true, false) => Color32::from_rgb(60, 220, 120),
            (true, true) => Color32::from_rgb(90, 170, 250),
        };
        let r = Rect::from_min_max(
            to_screen([f.bbox.x1, f.bbox.y1]),
            to_screen([f.bbox.x2, f.bbox.y2]),
        );
        let resp = ui.interact(r, ui.scope_id().with(("face", t.id)), egui::Sense::click());
        let label = format!("Face {}", t.id);
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
        let width = if resp.hovered() { 3.0 } else { 1.5 };
        painter.rect_stroke(r, 2.0, Stroke::new(width, color), egui::StrokeKind::Outside);
        for p in f.landmarks {
            painter.circle_filled(to_screen(p), 2.5, color);
        }
        let mut text = label.clone();
        if !bound.is_empty() {
            text += &format!(" · {}", bound.join(", "));
        }
        if !on {
            text += " (edit off)";
        }
        painter.text(
            r.left_top() + egui::vec2(0.0, -2.0),
            egui::Align2::LEFT_BOTTOM,
            text,
            egui::FontId::proportional(13.0),
            color,
        );
        let resp = match faces.bind_track {
            Some(_) => {
                resp.on_hover_text(format!("Click to bind the selected dub track to face {}", t.id))
            }
            None => {
                resp.on_hover_text("Select a clip of a dub track, then click a face to bind it")
            }
        };
        if resp.clicked()
            && let Some(track) = faces.bind_track
        {
            let already = faces
                .project
                .timeline
                .dub_tracks
                .iter()
                .any(|d| d.id == track && d.face == Some(FaceId(t.id)));
            if !already {
                out.push(AppCommand::Edit {
                    edit: Edit::SetTrackFace { track, face: Some(FaceId(t.id)) },
                    label: format!("Bind track to face {}", t.id),
                });
            }
        }
    }
}
