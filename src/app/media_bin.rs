//! The media bin: the pool's files with probe facts, missing files in red with Relink, and the
//! import worker (probe + content hash off the UI thread).

use super::command::AppCommand;
use crate::jobs::Task;
use crate::media::{MediaInfo, probe};
use crate::model::edit::{Edit, PlaceMode, new_clip};
use crate::model::hash::content_hash;
use crate::model::project::{MediaId, MediaKind, MediaRef, resolve_media_path};
use crate::model::{FrameRate, Project, Time, TrackId};
use anyhow::Context as _;
use egui::Color32;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// One imported file, ready to enter the pool.
#[derive(Clone, Debug)]
pub struct Imported {
    /// The pool entry (its id is fixed when it is added).
    pub media: MediaRef,
    /// Probe facts.
    pub info: MediaInfo,
}

/// The result of one import request.
#[derive(Debug, Default)]
pub struct ImportBatch {
    /// Files that probed fine.
    pub files: Vec<Imported>,
    /// Files that did not, with the reason.
    pub errors: Vec<String>,
    /// Where dropped audio should land.
    pub target: Option<(TrackId, Time)>,
}

/// Runs imports on a named thread, one batch at a time.
#[derive(Default)]
pub struct Importer {
    running: Vec<Task<ImportBatch>>,
}

impl Importer {
    /// Starts probing and hashing `paths`.
    pub fn start(
        &mut self,
        paths: Vec<PathBuf>,
        target: Option<(TrackId, Time)>,
        ctx: egui::Context,
    ) -> std::io::Result<()> {
        let task = Task::spawn("import", 1, move |_, out| {
            let mut batch = ImportBatch { target, ..ImportBatch::default() };
            for p in paths {
                match import_one(&p) {
                    Ok(i) => batch.files.push(i),
                    Err(e) => batch.errors.push(e),
                }
            }
            out.send(batch);
            ctx.request_repaint();
        })?;
        self.running.push(task);
        Ok(())
    }

    /// Batches that finished since the last call.
    pub fn poll(&mut self) -> Vec<ImportBatch> {
        let mut done = Vec::new();
        self.running.retain_mut(|task| match task.try_recv() {
            Some(b) => {
                done.push(b);
                false
            }
            None => !task.is_finished(),
        });
        done
    }

    /// Whether an import is still running.
    pub fn busy(&self) -> bool {
        !self.running.is_empty()
    }
}

fn import_one(path: &Path) -> Result<Imported, String> {
    let info = probe(path).map_err(crate::app::error_line)?;
    let kind = if info.video.is_some() {
        MediaKind::Video
    } else if info.audio.is_some() {
        MediaKind::Audio
    } else {
        return Err(format!("{}: no audio or video stream", path.display()));
    };
    // The pool entry is built by the model's own constructor (hashing included) on a scratch
    // project, so the editor never duplicates how a MediaRef is made.
    let mut scratch = Project::new("import", FrameRate::FPS_25);
    let id = scratch
        .add_media(path, kind, info.duration)
        .with_context(|| format!("adding {}", path.display()))
        .map_err(crate::app::error_line)?;
    let media =
        scratch.media(id).cloned().ok_or_else(|| format!("{}: not added", path.display()))?;
    Ok(Imported { media, info })
}

/// The edit that adds an import batch to the project: every file enters the pool; the first
/// video becomes the shot (and its audio the original) when the project has none, or replaces
/// it; audio with a drop target becomes a dub clip there.
pub fn import_edit(project: &Project, batch: &ImportBatch) -> Option<Edit> {
    let mut scratch = project.clone();
    let mut edits = Vec::new();
    let mut next_id = project.media.iter().map(|m| m.id.0 + 1).max().unwrap_or(1);
    let mut at = batch.target.map(|(_, t)| t);
    for f in &batch.files {
        let existing =
            project.media.iter().find(|m| m.absolute_path == f.media.absolute_path).map(|m| m.id);
        let id = match existing {
            Some(id) => id,
            None => {
                let mut m = f.media.clone();
                m.id = MediaId(next_id);
                next_id += 1;
                edits.push(Edit::InsertMedia { index: usize::MAX, media: m });
                MediaId(next_id - 1)
            }
        };
        // Keep the scratch project in step so new_clip sees the media and fresh clip ids.
        if let Some(Edit::InsertMedia { media, .. }) = edits.last()
            && scratch.media(media.id).is_none()
        {
            scratch.media.push(media.clone());
        }
        match f.media.kind {
            MediaKind::Video => {
                edits.push(Edit::SetVideo(Some(id)));
                let mut o = project.timeline.original_audio.clone();
                o.media = f.info.audio.as_ref().map(|_| id);
                edits.push(Edit::SetOriginalAudio(o));
                edits.push(Edit::SetDuration(f.media.duration.max(project.timeline.duration)));
            }
            MediaKind::Audio => {
                if let (Some((track, _)), Some(t)) = (batch.target, at)
                    && let Ok(clip) = new_clip(&scratch, id, t)
                {
                    at = Some(clip.end());
                    let add = Edit::AddClip { track, clip };
                    if add.apply(&mut scratch).is_ok() {
                        edits.push(add);
                    }
                }
            }
        }
    }
    (!edits.is_empty()).then_some(Edit::Batch(edits))
}

/// Relinks missing media from a folder (searched recursively): a file matches when its name
/// matches, or failing that its size, and its content hash equals the recorded one.
pub fn relink_edit(project: &Project, project_dir: &Path, folder: &Path) -> (Option<Edit>, usize) {
    let missing: Vec<&MediaRef> =
        project.media.iter().filter(|m| resolve_media_path(m, project_dir).is_none()).collect();
    if missing.is_empty() {
        return (None, 0);
    }
    let mut files = Vec::new();
    collect_files(folder, 4, &mut files);
    let mut edits = Vec::new();
    for m in &missing {
        let name = m.path.file_name();
        let by_name = files.iter().filter(|f| f.file_name() == name);
        let by_size =
            files.iter().filter(|f| std::fs::metadata(f).is_ok_and(|md| md.len() == m.size));
        let found =
            by_name.chain(by_size).find(|f| content_hash(f).is_ok_and(|h| h == m.content_hash));
        if let Some(f) = found {
            let abs = std::path::absolute(f).unwrap_or_else(|_| f.clone());
            let mut n = (*m).clone();
            n.path = abs.clone();
            n.absolute_path = abs;
            edits.push(Edit::SetMedia(n));
        }
    }
    let n = edits.len();
    ((n > 0).then_some(Edit::Batch(edits)), missing.len() - n)
}

fn collect_files(dir: &Path, depth: u32, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if depth > 0 {
                collect_files(&p, depth - 1, out);
            }
        } else {
            out.push(p);
        }
    }
}

/// What is being dragged from the bin: a pool file (dropped on a dub lane, it becomes a clip
/// there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MediaDrag(pub MediaId);

/// What the bin reads besides the project.
pub struct BinInput<'a> {
    /// Which media cannot be found.
    pub missing: &'a HashMap<MediaId, bool>,
    /// Probe facts.
    pub facts: &'a HashMap<MediaId, String>,
    /// The shot's thumbnail.
    pub shot_thumb: Option<(egui::TextureId, egui::Vec2)>,
    /// An import is running.
    pub busy: bool,
    /// The selected item (the source of insert and overwrite).
    pub selected: Option<MediaId>,
    /// The playhead ("Add to Dub n" places there).
    pub playhead: Time,
}

/// Draws the bin.
pub fn media_bin_ui(
    ui: &mut egui::Ui,
    project: &Project,
    input: &BinInput<'_>,
    out: &mut Vec<AppCommand>,
) {
    let BinInput { missing, facts, shot_thumb, busy, .. } = *input;
    ui.horizontal(|ui| {
        ui.heading("Media");
        if ui.button("Import…").on_hover_text("Import media files").clicked() {
            out.push(AppCommand::Import { paths: None, target: None });
        }
        if busy {
            ui.spinner();
        }
    });
    let any_missing = missing.values().any(|m| *m);
    if any_missing
        && ui.button("Relink…").on_hover_text("Relink missing media from a folder").clicked()
    {
        out.push(AppCommand::RelinkFolder(None));
    }
    ui.separator();
    if project.media.is_empty() {
        ui.label("Drop video or audio files here.");
    }
    egui::ScrollArea::vertical().id_salt("media-bin-scroll").show(ui, |ui| {
        for m in &project.media {
            let name =
                m.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let is_missing = missing.get(&m.id).copied().unwrap_or(false);
            let role = match m.kind {
                MediaKind::Video if project.timeline.video.media == Some(m.id) => "shot",
                MediaKind::Video => "video",
                MediaKind::Audio if project.timeline.me_track == Some(m.id) => "M&E",
                MediaKind::Audio => "audio",
            };
            let color =
                if is_missing { Color32::from_rgb(240, 90, 80) } else { ui.visuals().text_color() };
            let dur =
                crate::model::time::format_timecode(m.duration, project.timeline.frame_rate, false);
            if role == "shot"
                && let Some((tex, size)) = shot_thumb
            {
                ui.add(egui::Image::new((tex, size)).alt_text(format!("Thumbnail of {name}")));
            }
            let text = egui::RichText::new(format!("{name}\n{role} · {dur}")).color(color);
            let selected = input.selected == Some(m.id);
            let resp = ui.add(
                egui::Button::new(text)
                    .selected(selected)
                    .sense(egui::Sense::click_and_drag())
                    .min_size(egui::vec2(ui.available_width(), 0.0)),
            );
            if resp.clicked() || resp.drag_started() {
                out.push(AppCommand::SelectMedia(Some(m.id)));
            }
            if m.kind == MediaKind::Audio {
                resp.dnd_set_drag_payload(MediaDrag(m.id));
                if resp.dragged()
                    && let Some(p) = ui.ctx().pointer_interact_pos()
                {
                    // The file follows the pointer until it is dropped on a dub lane.
                    let layer =
                        egui::LayerId::new(egui::Order::Tooltip, egui::Id::unique("bin-drag"));
                    ui.ctx().layer_painter(layer).text(
                        p + egui::vec2(12.0, 4.0),
                        egui::Align2::LEFT_TOP,
                        &name,
                        egui::FontId::proportional(13.0),
                        ui.visuals().strong_text_color(),
                    );
                }
            }
            let tip = if is_missing {
                format!("Missing: {}", m.absolute_path.display())
            } else if m.kind == MediaKind::Audio {
                format!(
                    "{}\nDrag onto a dub track, or select and press , (insert) or . (overwrite) \
                     to place it at the playhead; right-click for more",
                    m.path.display()
                )
            } else {
                m.path.display().to_string()
            };
            let resp = resp.on_hover_text(tip);
            if m.kind == MediaKind::Audio {
                resp.context_menu(|ui| {
                    for t in &project.timeline.dub_tracks {
                        let b = egui::Button::new(format!("Add to {}", t.name));
                        // No tooltip here: a tooltip would close the menu.
                        if ui.add_enabled(!t.locked, b).clicked() {
                            out.push(AppCommand::PlaceMedia {
                                media: m.id,
                                track: t.id,
                                at: input.playhead,
                                mode: PlaceMode::Overwrite,
                            });
                            ui.close();
                        }
                    }
                    if project.timeline.dub_tracks.is_empty() {
                        ui.label("No dub track yet: add one (+ Dub track)");
                    }
                    ui.separator();
                    for (label, mode, key) in [
                        ("Insert at playhead", PlaceMode::Insert, ","),
                        ("Overwrite at playhead", PlaceMode::Overwrite, "."),
                    ] {
                        if ui.add(egui::Button::new(label).shortcut_text(key)).clicked() {
                            out.push(AppCommand::SelectMedia(Some(m.id)));
                            out.push(match mode {
                                PlaceMode::Insert => AppCommand::InsertAtPlayhead,
                                PlaceMode::Overwrite => AppCommand::OverwriteAtPlayhead,
                            });
                            ui.close();
                        }
                    }
                    ui.separator();
                    if ui.button("Use as M&E track").clicked() {
                        out.push(AppCommand::Edit {
                            edit: super::me_track::set_me_edit(Some(m.id)),
                            label: "Set M&E track".into(),
                        });
                        ui.close();
                    }
                });
            }
            if let Some(f) = facts.get(&m.id) {
                ui.label(egui::RichText::new(f).small().weak());
            }
            resp.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::Button, true, format!("Media {name}"))
            });
        }
    });
}

/// One line of probe facts for the bin, e.g. "640×360 · 25.00 fps · H.264 · 48 kHz 2 ch".
pub fn describe(info: &MediaInfo) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &info.video {
        parts.push(format!("{}×{}", v.width, v.height));
        let vfr = if v.variable_frame_rate { " VFR" } else { "" };
        parts.push(format!("{:.2} fps{vfr}", v.frame_rate.as_f64()));
        parts.push(v.codec.clone());
    }
    if let Some(a) = &info.audio {
        parts.push(format!("{} kHz {} ch {}", a.sample_rate / 1000, a.channels, a.codec));
    }
    parts.join(" · ")
}

/// Probe facts of the pool's files, gathered on a worker thread as files appear.
#[derive(Default)]
pub struct ProbeFacts {
    /// Media id → description.
    pub facts: HashMap<MediaId, String>,
    asked: std::collections::HashSet<PathBuf>,
    running: Vec<Task<(MediaId, PathBuf, String)>>,
}

impl ProbeFacts {
    /// Probes files not seen yet (`files`: id and resolved path) and collects finished probes.
    pub fn update(&mut self, files: Vec<(MediaId, PathBuf)>, ctx: &egui::Context) {
        self.poll();
        let new: Vec<(MediaId, PathBuf)> =
            files.into_iter().filter(|(_, p)| !self.asked.contains(p)).collect();
        if new.is_empty() {
            return;
        }
        self.asked.extend(new.iter().map(|(_, p)| p.clone()));
        let ctx = ctx.clone();
        let task = Task::spawn("probe", new.len(), move |_, out| {
            for (id, p) in new {
                let text = probe(&p).map_or_else(|e| e.to_string(), |i| describe(&i));
                if !out.send((id, p, text)) {
                    return;
                }
            }
            ctx.request_repaint();
        });
        if let Ok(task) = task {
            self.running.push(task);
        }
    }

    /// Whether probes are still running.
    pub fn busy(&self) -> bool {
        !self.running.is_empty()
    }

    /// Collects finished probes.
    pub fn poll(&mut self) {
        self.running.retain_mut(|task| {
            for (id, _, text) in task.drain() {
                self.facts.insert(id, text);
            }
            !task.is_finished()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relink_finds_a_moved_file_by_name_and_hash() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("a").join("line.wav");
        std::fs::create_dir_all(old.parent().unwrap()).unwrap();
        std::fs::write(&old, b"some audio bytes").unwrap();
        let mut p = Project::new("r", FrameRate::FPS_25);
        let id = p.add_media(&old, MediaKind::Audio, Time::from_millis(1000)).unwrap();
        let moved = dir.path().join("b").join("deeper");
        std::fs::create_dir_all(&moved).unwrap();
        std::fs::rename(&old, moved.join("line.wav")).unwrap();
        // A same-named impostor with other content must not be taken.
        std::fs::write(dir.path().join("b").join("line.wav"), b"other bytes").unwrap();
        let (edit, left) = relink_edit(&p, dir.path(), &dir.path().join("b"));
        assert_eq!(left, 0);
        edit.unwrap().apply(&mut p).unwrap();
        assert_eq!(p.media(id).unwrap().path, moved.join("line.wav"));
    }
}
