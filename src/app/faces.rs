//! The "Faces" list: one thumbnail per face track of the shot's analysis, its id, the frames it
//! covers, which dub tracks drive it, and a button that binds the selected dub track to it
//! (an undoable [`Edit::SetTrackFace`]).
//!
//! Each face also shows what is on record about the person's consent to a lip edit, and a
//! form that records it (an undoable [`Edit::SetConsent`]; see [`crate::model::consent`]).
//!
//! The panel is a function of the analysis tracks and their thumbnails; [`FacesPanel`] gets the
//! analysis from the app's background analysis job (see [`FacesPanel::set_analysis`]) and cuts
//! the thumbnails on its own thread.

use super::command::AppCommand;
use crate::analysis::pipeline::Analysis;
use crate::analysis::track::FaceTrack;
use crate::jobs::Task;
use crate::media::VideoDecoder;
use crate::model::consent::{FaceConsent, now_utc};
use crate::model::edit::Edit;
use crate::model::lip::FaceId;
use crate::model::{Project, TrackId};
use egui::{ColorImage, TextureHandle, TextureOptions};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Thumbnail size in pixels (square).
pub const THUMB: usize = 64;
/// The frame of a track the thumbnail shows: its most confident detected frame.
pub fn thumbnail_frame(track: &FaceTrack) -> Option<i64> {
    track
        .frames
        .iter()
        .filter(|f| !f.filled)
        .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
        .map(|f| f.frame)
}

/// Cuts a square thumbnail around the face box of `track` at `frame` (the box widened by a
/// fifth on each side) out of an RGBA frame.
pub fn face_thumbnail(
    track: &FaceTrack,
    frame: i64,
    rgba: &[u8],
    w: usize,
    h: usize,
) -> ColorImage {
    let mut out = vec![0u8; THUMB * THUMB * 4];
    if let Some(f) = track.at(frame) {
        let b = f.bbox;
        let side = (b.x2 - b.x1).max(b.y2 - b.y1) * 1.4;
        let (cx, cy) = ((b.x1 + b.x2) / 2.0, (b.y1 + b.y2) / 2.0);
        for y in 0..THUMB {
            for x in 0..THUMB {
                let sx = cx + (x as f32 / THUMB as f32 - 0.5) * side;
                let sy = cy + (y as f32 / THUMB as f32 - 0.5) * side;
                let o = (y * THUMB + x) * 4;
                if sx >= 0.0 && sy >= 0.0 && (sx as usize) < w && (sy as usize) < h {
                    let i = ((sy as usize) * w + sx as usize) * 4;
                    out[o..o + 4].copy_from_slice(&rgba[i..i + 4]);
                } else {
                    out[o + 3] = 255;
                }
            }
        }
    }
    ColorImage::from_rgba_unmultiplied([THUMB, THUMB], &out)
}

type Loaded = Vec<(u32, ColorImage)>;

/// The consent form of one face, as typed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsentForm {
    /// The face it records.
    pub face: u32,
    /// Who the person is.
    pub person: String,
    /// Who records it.
    pub recorded_by: String,
    /// Languages, uses.
    pub scope: String,
    /// Document id or file hash.
    pub reference: String,
    /// Consent given (else refused).
    pub given: bool,
}

impl ConsentForm {
    /// The form of `face`, filled with what is on record.
    pub fn of(face: u32, on_record: Option<&FaceConsent>) -> Self {
        match on_record {
            Some(c) => Self {
                face,
                person: c.person.clone(),
                recorded_by: c.recorded_by.clone(),
                scope: c.scope.clone(),
                reference: c.reference.clone().unwrap_or_default(),
                given: c.given,
            },
            None => Self { face, given: true, ..Self::default() },
        }
    }

    /// The entry to record, or why not.
    pub fn entry(&self) -> Result<FaceConsent, &'static str> {
        if self.person.trim().is_empty() {
            return Err("Say who the person is (a name or a role)");
        }
        if self.recorded_by.trim().is_empty() {
            return Err("Say who records the consent");
        }
        let reference = self.reference.trim();
        Ok(FaceConsent {
            face: FaceId(self.face),
            person: self.person.trim().into(),
            given: self.given,
            recorded_by: self.recorded_by.trim().into(),
            recorded_at: now_utc(),
            scope: self.scope.trim().into(),
            reference: (!reference.is_empty()).then(|| reference.into()),
        })
    }
}

/// The faces of the shot and their thumbnails.
#[derive(Default)]
pub struct FacesPanel {
    source: Option<(PathBuf, String)>,
    analysis: Option<Arc<Analysis>>,
    /// Thumbnails by face track id.
    pub thumbs: HashMap<u32, TextureHandle>,
    loading: Option<Task<Loaded>>,
    /// The consent form being filled in, if any.
    pub consent_form: Option<ConsentForm>,
}

impl FacesPanel {
    /// The face tracks shown.
    pub fn tracks(&self) -> &[FaceTrack] {
        self.analysis.as_deref().map_or(&[], |a| a.tracks.as_slice())
    }

    /// Draws the list (see [`faces_ui`]) with this panel's tracks, thumbnails and form.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        project: &Project,
        target: Option<TrackId>,
        out: &mut Vec<AppCommand>,
    ) {
        let tracks = self.analysis.as_deref().map_or(&[][..], |a| a.tracks.as_slice());
        faces_ui(ui, project, tracks, &self.thumbs, target, &mut self.consent_form, out);
    }

    /// The analysis shown.
    pub fn analysis(&self) -> Option<&Arc<Analysis>> {
        self.analysis.as_ref()
    }

    /// Whether thumbnails are being cut.
    pub fn busy(&self) -> bool {
        self.loading.is_some()
    }

    /// Shows the analysis the app computed for the current shot (its background analysis job)
    /// and cuts its thumbnails.
    pub fn set_analysis(&mut self, analysis: Arc<Analysis>, ctx: &egui::Context) {
        if self.analysis.as_ref().is_some_and(|a| Arc::ptr_eq(a, &analysis)) {
            return;
        }
        let Some((path, _)) = self.source.clone() else { return };
        self.analysis = Some(Arc::clone(&analysis));
        self.thumbs.clear();
        let ctx = ctx.clone();
        let task = Task::spawn("face-thumbnails", 1, move |job, out| {
            let mut images = Vec::new();
            if let Ok(mut dec) = VideoDecoder::open(&path) {
                let (w, h) = dec.size();
                for t in &analysis.tracks {
                    if job.is_cancelled() {
                        return;
                    }
                    let Some(i) = thumbnail_frame(t) else { continue };
                    if let Ok(f) = dec.frame(i) {
                        images.push((t.id, face_thumbnail(t, i, &f.data, w as usize, h as usize)));
                    }
                }
            }
            out.send(images);
            ctx.request_repaint();
        });
        self.loading = task.ok();
    }

    /// Follows the shot (`path` and its content hash; a new shot clears the list) and takes in
    /// finished thumbnails.
    pub fn update(&mut self, shot: Option<(&Path, &str)>, ctx: &egui::Context) {
        if let Some(task) = &mut self.loading
            && let Some(images) = task.try_recv()
        {
            self.loading = None;
            self.thumbs = images
                .into_iter()
                .map(|(id, img)| {
                    (id, ctx.load_texture(format!("face-{id}"), img, TextureOptions::LINEAR))
                })
                .collect();
        }
        let shot = shot.map(|(p, h)| (p.to_path_buf(), h.to_string()));
        if shot != self.source {
            self.source = shot;
            self.analysis = None;
            self.thumbs.clear();
            self.loading = None;
        }
    }
}

/// Draws the faces list. `target` is the dub track a "Bind" click binds (the selected one);
/// `form` is the consent form being filled in.
pub fn faces_ui(
    ui: &mut egui::Ui,
    project: &Project,
    tracks: &[FaceTrack],
    thumbs: &HashMap<u32, TextureHandle>,
    target: Option<TrackId>,
    form: &mut Option<ConsentForm>,
    out: &mut Vec<AppCommand>,
) {
    ui.label(egui::RichText::new("Faces").strong());
    if tracks.is_empty() {
        ui.label("No face analysis of the shot yet.");
        return;
    }
    let target_track =
        target.and_then(|id| project.timeline.dub_tracks.iter().find(|t| t.id == id));
    let dubs = &project.timeline.dub_tracks;
    if dubs.iter().all(|d| d.face.is_none()) && dubs.iter().any(|d| !d.clips.is_empty()) {
        // Nothing drives a face and it is not clear which voice is whose: say what to do.
        ui.colored_label(
            egui::Color32::from_rgb(240, 190, 80),
            "No dub track drives a face yet: select a clip of a dub track, then click its face \
             in the viewer or a Bind button below.",
        );
    }
    for t in tracks {
        let face = FaceId(t.id);
        ui.horizontal(|ui| {
            match thumbs.get(&t.id) {
                Some(tex) => {
                    ui.add(egui::Image::new(tex).fit_to_exact_size(egui::vec2(48.0, 48.0)));
                }
                None => {
                    ui.allocate_exact_size(egui::vec2(48.0, 48.0), egui::Sense::hover());
                }
            }
            ui.vertical(|ui| {
                ui.label(egui::RichText::new(format!("Face {}", t.id)).strong());
                ui.label(format!("frames {}–{} ({})", t.start(), t.end() - 1, t.frames.len()));
                let bound: Vec<&str> = project
                    .timeline
                    .dub_tracks
                    .iter()
                    .filter(|d| d.face == Some(face))
                    .map(|d| d.name.as_str())
                    .collect();
                if !bound.is_empty() {
                    ui.label(format!("driven by {}", bound.join(", ")));
                }
                consent_line_ui(ui, project, face, form);
                let already = target_track.is_some_and(|d| d.face == Some(face));
                let hint = match target_track {
                    Some(d) if already => format!("{} is bound to this face", d.name),
                    Some(d) => format!("Bind {} to face {}", d.name, t.id),
                    None => "Select a clip or lip segment of a dub track first".into(),
                };
                let b = ui
                    .add_enabled(
                        target_track.is_some() && !already,
                        egui::Button::new(format!("Bind selected dub track to face {}", t.id)),
                    )
                    .on_hover_text(hint.clone())
                    .on_disabled_hover_text(hint);
                if b.clicked()
                    && let Some(d) = target_track
                {
                    out.push(AppCommand::Edit {
                        edit: Edit::SetTrackFace { track: d.id, face: Some(face) },
                        label: format!("Bind {} to face {}", d.name, t.id),
                    });
                }
            });
        });
        if form.as_ref().is_some_and(|f| f.face == t.id) {
            consent_form_ui(ui, project, form, out);
        }
    }
    if let Some(d) = target_track.filter(|d| d.face.is_some())
        && ui.button(format!("Unbind {}", d.name)).clicked()
    {
        out.push(AppCommand::Edit {
            edit: Edit::SetTrackFace { track: d.id, face: None },
            label: format!("Unbind {}", d.name),
        });
    }
}

/// Consent to a lip edit as a line under the face, and the button that opens its form.
fn consent_line_ui(
    ui: &mut egui::Ui,
    project: &Project,
    face: FaceId,
    form: &mut Option<ConsentForm>,
) {
    let on_record = project.consent(face);
    ui.horizontal(|ui| {
        match on_record {
            Some(c) if c.given => {
                ui.colored_label(egui::Color32::from_rgb(120, 200, 120), c.describe())
            }
            Some(c) => ui.colored_label(egui::Color32::from_rgb(240, 90, 80), c.describe()),
            None => ui.colored_label(
                egui::Color32::from_rgb(240, 190, 80),
                "No consent to a lip edit recorded",
            ),
        };
        let open = form.as_ref().is_some_and(|f| f.face == face.0);
        let label = format!("Consent of face {}…", face.0);
        if ui
            .add_enabled(!open, egui::Button::new(label))
            .on_hover_text("Record who this is and whether they consented to a lip edit")
            .clicked()
        {
            *form = Some(ConsentForm::of(face.0, on_record));
        }
    });
}

/// The consent form of one face: who, by whom, scope, reference; Record, Remove, Cancel.
fn consent_form_ui(
    ui: &mut egui::Ui,
    project: &Project,
    form: &mut Option<ConsentForm>,
    out: &mut Vec<AppCommand>,
) {
    let Some(f) = form.as_mut() else { return };
    let face = FaceId(f.face);
    let mut close = false;
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.label(egui::RichText::new(format!("Consent of face {}", f.face)).strong());
        egui::Grid::new(("consent-grid", f.face)).num_columns(2).show(ui, |ui| {
            for (label, value, hint) in [
                ("Person", &mut f.person, "name or role"),
                ("Recorded by", &mut f.recorded_by, "who records it"),
                ("Scope", &mut f.scope, "languages, uses"),
                ("Reference", &mut f.reference, "release document id or hash"),
            ] {
                let l = ui.label(label);
                ui.add(egui::TextEdit::singleline(value).hint_text(hint).desired_width(130.0))
                    .labelled_by(l.id);
                ui.end_row();
            }
        });
        ui.horizontal(|ui| {
            ui.radio_value(&mut f.given, true, "Consent given");
            ui.radio_value(&mut f.given, false, "Refused or withdrawn");
        });
        let entry = f.entry();
        if let Err(why) = entry {
            ui.label(why);
        }
        ui.horizontal(|ui| {
            let record = ui.add_enabled(entry.is_ok(), egui::Button::new("Record consent"));
            if record.clicked()
                && let Ok(c) = entry
            {
                out.push(AppCommand::Edit {
                    edit: Edit::SetConsent { face, consent: Some(c) },
                    label: format!("Record consent of face {}", face.0),
                });
                close = true;
            }
            if project.consent(face).is_some() && ui.button("Remove record").clicked() {
                out.push(AppCommand::Edit {
                    edit: Edit::SetConsent { face, consent: None },
                    label: format!("Remove consent record of face {}", face.0),
                });
                close = true;
            }
            if ui.button("Cancel").clicked() {
                close = true;
            }
        });
    });
    if close {
        *form = None;
    }
}
