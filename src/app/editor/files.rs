//! The project file: opening, saving, the unsaved-changes guard, autosave and recovery, and
//! the media files that went missing or changed on disk.

use super::*;

impl RedubApp {
    pub(super) fn project_dir(&self) -> PathBuf {
        self.path
            .as_deref()
            .map(project_dir)
            .unwrap_or_else(|| std::env::current_dir().unwrap_or_default())
    }

    pub(super) fn check_recovery(&mut self) {
        if self.slot.is_recoverable() {
            // Also in the log (stderr), so a script or a smoke test can see the offer.
            tracing::info!("offering recovery of autosave {}", self.slot.file.display());
            self.recovery = Some(self.slot.clone());
        }
    }

    pub(super) fn guard_unsaved(&mut self, after: AfterPrompt) {
        if self.is_dirty() {
            self.unsaved_prompt = Some(after);
        } else {
            self.proceed(after);
        }
    }

    pub(super) fn proceed(&mut self, after: AfterPrompt) {
        match after {
            AfterPrompt::Quit => {
                self.allow_close = true;
                self.ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            }
            AfterPrompt::New => {
                self.drop_autosave();
                self.replace_project(Project::new("Untitled", FrameRate::FPS_25), None);
            }
            AfterPrompt::Open(p) => {
                self.drop_autosave();
                self.open_now(&p);
            }
            AfterPrompt::ImportTimeline(p) => self.import_timeline_now(&p),
        }
    }

    /// Writes render-farm job files for the saved project (File ▸ Export for render farm…).
    pub(super) fn write_farm_job(
        &mut self,
        pieces: u32,
        format: crate::render::farm::jobs::JobFormat,
        output: &Path,
    ) {
        use crate::render::farm::jobs::{FarmJob, JobSpec, write_job};
        let Some(project_path) = self.path.clone() else {
            self.error("Save the project before writing render-farm jobs");
            return;
        };
        if self.is_dirty() {
            self.error("Save the project first: the render machines read it from its file");
            return;
        }
        let spec = JobSpec { pieces, ..JobSpec::default() };
        let written = FarmJob::new(&self.project, &project_path, output, &spec)
            .and_then(|job| write_job(&job, output, format));
        match written {
            Ok(files) => {
                let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
                self.info(format!("Wrote the render-farm job {}", names.join(", ")));
                self.farm.open = false;
            }
            Err(e) => self.fail("Cannot write the render-farm job", e),
        }
    }

    /// Writes the timeline to `path` as OTIO, FCP7 XML or EDL (one list per track), by its
    /// extension (OTIO when it has none).
    pub(super) fn export_timeline(&mut self, path: &Path) {
        use crate::model::interchange::{self, Cut, Format};
        let path = if path.extension().is_none() {
            path.with_extension("otio")
        } else {
            path.to_path_buf()
        };
        let Some(format) = Format::from_path(&path) else {
            self.fail(
                "Cannot export the timeline",
                format!("{}: use .otio, .xml (FCP7) or .edl", path.display()),
            );
            return;
        };
        let cut = Cut::from_project(&self.project, &self.project_dir());
        let written = interchange::export_files(&cut, &path, format, None)
            .map_err(|e| e.to_string())
            .and_then(|files| {
                files
                    .into_iter()
                    .map(|(p, text)| {
                        interchange::write_atomic(&p, &text)
                            .map(|()| p.display().to_string())
                            .map_err(|e| format!("{}: {e}", p.display()))
                    })
                    .collect::<Result<Vec<_>, _>>()
            });
        match written {
            Ok(files) => self.info(format!("Exported the timeline to {}", files.join(", "))),
            Err(e) => self.fail("Cannot export the timeline", e),
        }
    }

    /// Replaces the project with one made of the timeline at `path` (not saved yet); what it
    /// could not take over is said in the log.
    pub(super) fn import_timeline_now(&mut self, path: &Path) {
        use crate::model::interchange::{self, Format};
        let read = || -> Result<interchange::Imported, String> {
            let format = Format::from_path(path)
                .ok_or_else(|| format!("{}: use .otio, .xml (FCP7) or .edl", path.display()))?;
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let name =
                path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            // An EDL does not state its rate: the open project's is the best guess.
            let rate = Some(self.project.timeline.frame_rate);
            let cut = interchange::read(&text, format, rate, &name)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            cut.into_project(&crate::model::project::project_dir(path))
                .map_err(|e| format!("{}: {e}", path.display()))
        };
        match read() {
            Ok(imported) => {
                self.drop_autosave();
                self.replace_project(imported.project, None);
                self.info(format!("Imported the timeline {}", path.display()));
                if let Some(line) = interchange::warning_line(&imported.warnings) {
                    self.error(format!("Timeline import: {line}"));
                }
            }
            Err(e) => self.fail("Cannot import the timeline", e),
        }
    }

    /// The name a bundle of this project gets: the project file's, else the project's title.
    pub(super) fn bundle_name(&self) -> String {
        self.path
            .as_deref()
            .and_then(Path::file_stem)
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.project.name.clone())
    }

    /// File ▸ Collect project…: writes the project as it is in the editor (saved or not) with
    /// its media and caches into the bundle `out` on a background task.
    pub(super) fn collect_project(&mut self, out: PathBuf) {
        let out = if crate::render::bundle::is_bundle(&out) {
            out
        } else {
            out.with_extension(crate::render::bundle::BUNDLE_EXTENSION)
        };
        let job = crate::app::bundle_ui::BundleJob::collect(
            self.project.clone(),
            self.project_dir(),
            Some(self.bundle_name()),
            out,
            crate::render::bundle::CollectOptions { trim: self.settings.collect_trimmed },
        );
        self.start_bundle(job);
    }

    fn start_bundle(&mut self, job: std::io::Result<crate::app::bundle_ui::BundleJob>) {
        if self.bundle_job.is_some() {
            self.error("a bundle is being written or opened already: wait for it or cancel it");
            return;
        }
        match job {
            Ok(j) => self.bundle_job = Some(j),
            Err(e) => self.error(format!("cannot start the bundle work: {e}")),
        }
    }

    /// Takes the result of a finished collect or bundle open.
    pub(super) fn poll_bundle(&mut self) {
        use crate::app::bundle_ui::{BundleDone, size_text};
        let Some(job) = self.bundle_job.as_mut() else { return };
        let Some(result) = job.poll() else { return };
        let (title, path) = (job.title, job.path.clone());
        self.bundle_job = None;
        match result {
            Ok(BundleDone::Collected(r)) => {
                let cut = if r.trimmed > 0 {
                    format!(
                        "; {} cut to the used ranges, {} left out",
                        r.trimmed,
                        size_text(r.trimmed_away)
                    )
                } else {
                    String::new()
                };
                self.info(format!(
                    "Collected the project into {} ({}: {} media file(s), {} cache file(s), {} \
                     model(s) listed{cut})",
                    r.path.display(),
                    size_text(r.size),
                    r.media_files,
                    r.cache_files,
                    r.models
                ));
                for n in r.notes {
                    self.info(format!("Collect: {n}"));
                }
            }
            Ok(BundleDone::Opened(o)) => {
                self.open_now(&o.project);
                // The bundle itself goes on File ▸ Open recent (opening it again reuses the
                // unpacked folder), above the project unpacked from it.
                self.settings.add_recent(&path);
                if let Err(e) = self.settings.save(&self.dirs) {
                    self.error(format!("{e:#}"));
                }
                let how = if o.reused { "unpacked before, in" } else { "unpacked into" };
                self.info(format!(
                    "Opened the bundle {} ({how} {})",
                    path.display(),
                    o.folder.display()
                ));
                for w in o.warnings {
                    self.error(format!("Bundle: {w}"));
                }
            }
            Err(e) if e.is_cancelled() => {
                self.info(format!("{title} cancelled: nothing was left behind"))
            }
            Err(e) if title == "Collect project" => {
                self.fail("Cannot collect the project", e.to_string())
            }
            Err(e) => self.fail("Cannot open the bundle", e.to_string()),
        }
    }

    /// Removes this project's autosave (its changes were saved or thrown away).
    pub(super) fn drop_autosave(&mut self) {
        if let Some(w) = self.autosave_worker.take() {
            w.finish();
        }
        self.slot.clear();
        self.autosaved_changes = self.changes;
        self.autosave_worker = autosave_worker();
    }

    pub(super) fn open_now(&mut self, path: &Path) {
        if crate::render::bundle::is_bundle(path) && path.is_file() {
            self.start_bundle(crate::app::bundle_ui::BundleJob::open(path));
            return;
        }
        if !looks_like_project(path) {
            // A video or a sound (`redub edit clip.mp4`, File ▸ Open on a clip): a new project
            // with the file imported, as a drop on an empty editor.
            self.replace_project(Project::new("Untitled", FrameRate::FPS_25), None);
            self.check_recovery();
            self.apply(AppCommand::Import { paths: Some(vec![path.to_path_buf()]), target: None });
            self.info(format!(
                "{} is not a Redub project: opened a new project with it imported",
                path.display()
            ));
            return;
        }
        let version = crate::model::hash::content_hash(path).ok();
        match Project::load(path) {
            Ok(p) => {
                self.replace_project(p, Some(path.to_path_buf()));
                self.disk_version = version;
                self.check_changed_media(path);
                self.settings.add_recent(path);
                if let Err(e) = self.settings.save(&self.dirs) {
                    self.error(format!("{e:#}"));
                }
                self.check_recovery();
            }
            Err(e) => self.fail("Cannot open the project", e.to_string()),
        }
    }

    /// Says which media files are not the ones the project was made with (size or content hash
    /// changed on disk), asking to relink them; missing files are reported elsewhere.
    pub(super) fn check_changed_media(&mut self, project_path: &Path) {
        let dir = crate::model::project::project_dir(project_path);
        let changed: Vec<String> = self
            .project
            .media
            .iter()
            .filter_map(|m| {
                let path = crate::model::project::resolve_media_path(m, &dir)?;
                let what = crate::model::project::media_change(m, &path).ok()??;
                Some(format!("{}: {what}", path.display()))
            })
            .collect();
        if !changed.is_empty() {
            self.error(format!(
                "Media changed since it was added to the project (relink or restore it): {}",
                changed.join("; ")
            ));
        }
    }

    pub(super) fn replace_project(&mut self, project: Project, path: Option<PathBuf>) {
        self.stop();
        self.project = project;
        self.history = History::new();
        self.slot = AutosaveSlot::for_project(&self.dirs, path.as_deref());
        self.path = path;
        self.disk_version = None;
        self.changed_on_disk = None;
        self.selection.clear();
        self.media_selection = None;
        self.auto_bound.clear();
        self.playhead = Time::ZERO;
        self.in_point = None;
        self.out_point = None;
        self.missing_checked = None;
        self.changes += 1;
        self.autosaved_changes = self.changes;
        self.timeline.scroll_sec = 0.0;
    }

    /// Saves to `path`; returns whether it worked. When `path` is the open project's file and
    /// another program changed it since this editor read or wrote it, nothing is written: the
    /// "changed on disk" dialog asks first (see [`Editor::save_over`]).
    pub(super) fn save_to(&mut self, path: &Path) -> bool {
        self.save_checked(path, true)
    }

    /// [`Editor::save_to`] that replaces the file even when it changed on disk (the user chose
    /// to overwrite).
    pub(super) fn save_over(&mut self, path: &Path) -> bool {
        self.save_checked(path, false)
    }

    fn save_checked(&mut self, path: &Path, check: bool) -> bool {
        let path = if path.extension().is_none() {
            path.with_extension("redub")
        } else {
            path.to_path_buf()
        };
        let ours = self.path.as_deref() == Some(path.as_path());
        let saved =
            crate::model::lock::ProjectLock::acquire(&path, "the Redub editor").and_then(|_lock| {
                // Checked under the lock: no command writes between the check and the save.
                let now = crate::model::hash::content_hash(&path).ok();
                let known = self.disk_version.as_ref().filter(|_| ours);
                if check && now.is_some() && known.is_some() && now.as_ref() != known {
                    return Ok(false);
                }
                self.project.save(&path).map(|()| true)
            });
        match saved {
            Ok(false) => {
                self.changed_on_disk = Some(path.clone());
                self.error(format!(
                    "{} was changed by another program since it was opened: not saved yet",
                    path.display()
                ));
                false
            }
            Ok(true) => {
                self.disk_version = crate::model::hash::content_hash(&path).ok();
                self.history.mark_saved();
                if self.path.as_deref() != Some(path.as_path()) {
                    self.drop_autosave();
                    self.slot = AutosaveSlot::for_project(&self.dirs, Some(&path));
                }
                self.drop_autosave();
                self.path = Some(path.clone());
                self.settings.add_recent(&path);
                if let Err(e) = self.settings.save(&self.dirs) {
                    self.error(format!("{e:#}"));
                }
                self.info(format!("Saved {}", path.display()));
                true
            }
            Err(e) => {
                self.fail("Cannot save the project", e.to_string());
                false
            }
        }
    }

    pub(super) fn autosave_tick(&mut self) {
        if self.history.in_gesture() || self.changes == self.autosaved_changes || !self.is_dirty() {
            return;
        }
        let due = self.structural_pending
            || self.last_autosave.elapsed() >= Duration::from_secs(AUTOSAVE_SECS);
        if due && let Some(w) = &self.autosave_worker {
            w.send((self.slot.clone(), self.project.clone()));
            self.autosaved_changes = self.changes;
            self.structural_pending = false;
            self.last_autosave = Instant::now();
        }
    }

    /// Waits until queued autosaves are on disk (tests).
    pub fn flush_autosave(&mut self) {
        if let Some(w) = self.autosave_worker.take() {
            w.finish();
        }
        self.autosave_worker = autosave_worker();
    }

    pub(super) fn refresh_missing(&mut self) {
        if self.missing_checked.is_some_and(|t| t.elapsed() < Duration::from_secs(2)) {
            return;
        }
        let dir = self.project_dir();
        let files: Vec<(MediaId, PathBuf)> = self
            .project
            .media
            .iter()
            .filter_map(|m| resolve_media_path(m, &dir).map(|p| (m.id, p)))
            .collect();
        self.facts.update(files, &self.ctx.clone());
        self.missing = self
            .project
            .media
            .iter()
            .map(|m| (m.id, resolve_media_path(m, &dir).is_none()))
            .collect();
        self.missing_checked = Some(Instant::now());
    }

    /// Called on a clean exit: an autosave is only kept for unsaved work.
    pub fn shutdown(&mut self) {
        self.stop();
        if let Some(w) = self.autosave_worker.take() {
            w.finish();
        }
        if !self.is_dirty() {
            self.slot.clear();
        }
    }
}

/// Whether `path` is a project file to load rather than media to import: the project
/// extension, or a file that starts as JSON (a project saved under another name).
fn looks_like_project(path: &Path) -> bool {
    use std::io::Read;
    if !path.is_file() {
        return true; // what cannot be read is reported as the project that cannot be opened
    }
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case(crate::model::project::PROJECT_EXTENSION))
    {
        return true;
    }
    let mut head = [0u8; 64];
    let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut head)).unwrap_or(0);
    head[..n].iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

impl RedubApp {
    /// File ▸ Import subtitles…: the lines of `srt` with the recordings beside it, as
    /// `redub lines import` places them (the same code), as one undoable edit; a failure is a
    /// dialog saying why.
    pub(super) fn import_subtitles(&mut self, srt: &Path) {
        match subtitle_lines_edit(&self.project, srt) {
            Ok((edit, lines, tracks, note)) => {
                self.edit(edit, "Import subtitles");
                self.missing_checked = None;
                let name = srt.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
                self.info(format!(
                    "Imported {lines} line(s) from {name} onto {tracks} dub track(s){note}"
                ));
            }
            Err(e) => self.fail("Cannot import the subtitles", e),
        }
    }
}

/// The edit that adds the lines of `srt` to `project`: the recordings are the audio files in
/// the subtitle file's folder, matched in name order when there are as many as cues, else by
/// the number in their names. Returns the edit, the lines, the dub tracks used and a note on
/// the text encoding.
fn subtitle_lines_edit(
    project: &Project,
    srt: &Path,
) -> Result<(Edit, usize, usize, &'static str), String> {
    use crate::model::lines;
    let (cues, encoding) = lines::read_cues(srt).map_err(|e| e.to_string())?;
    if cues.is_empty() {
        return Err(format!("{}: no cues", srt.display()));
    }
    lines::check_cue_limit(project, srt, &cues).map_err(|e| e.to_string())?;
    let folder = srt.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let files = lines::audio_files(folder).map_err(|e| e.to_string())?;
    if files.is_empty() {
        return Err(format!(
            "{}: no audio files beside the subtitles for their {} line(s)",
            folder.display(),
            cues.len()
        ));
    }
    let by_name = files.len() != cues.len();
    let matched =
        lines::match_files(&cues, &files, by_name, srt, folder).map_err(|e| e.to_string())?;
    let mut scratch = project.clone();
    let report = lines::place_lines(&mut scratch, &cues, &matched, false, |file| {
        let info = crate::media::probe(file).map_err(|e| e.to_string())?;
        if info.audio.is_none() {
            return Err(format!("{}: has no audio stream", file.display()));
        }
        Ok(info.duration)
    })
    .map_err(|e| e.to_string())?;
    // The difference as edits, applied together: one undo step.
    let mut edits = Vec::new();
    for m in &scratch.media {
        if project.media(m.id).is_none() {
            edits.push(Edit::InsertMedia { index: usize::MAX, media: m.clone() });
        }
    }
    for t in &scratch.timeline.dub_tracks {
        match project.timeline.dub_tracks.iter().find(|o| o.id == t.id) {
            None => edits.push(Edit::AddTrack { index: usize::MAX, track: t.clone() }),
            Some(o) => {
                for c in t.clips.iter().filter(|c| !o.clips.iter().any(|x| x.id == c.id)) {
                    edits.push(Edit::AddClip { track: t.id, clip: c.clone() });
                }
            }
        }
    }
    if scratch.timeline.duration != project.timeline.duration {
        edits.push(Edit::SetDuration(scratch.timeline.duration));
    }
    let note = if encoding == crate::model::subtitles::TextEncoding::Latin1 {
        " (not UTF-8: read as Latin-1)"
    } else {
        ""
    };
    Ok((Edit::Batch(edits), report.lines, report.tracks.len(), note))
}
