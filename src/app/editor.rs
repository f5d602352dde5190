//! The editor application: state, the per-frame layout of the panels, and the one place where
//! commands are applied.

use super::command::{AppCommand, ExportRange, SelectMode, UnsavedChoice, ViewerZoom};
use super::export_dialog::{ExportDialog, export_dialog_ui};
use super::inspector::{InspectorState, inspector_ui};
use super::keys::{KeyPreset, Shuttle, command_for_key};
use super::loudness_panel::LoudnessPanel;
use super::media_bin::{Importer, ProbeFacts, import_edit, media_bin_ui, relink_edit};
use super::overlay::{FaceContext, bind_target};
use super::playback::{AudioOut, Clock, MixFeed, frame_at, open_output};
use super::preview::LipPreview;
use super::script::ScriptRunner;
use super::storage::{AutosaveSlot, Dirs, Settings};
use super::thumbs::Thumbnails;
use super::timeline::{PEAK_BUCKET, TimelineInput, TimelineView, Waveforms, timeline_ui};
use super::viewer::{Viewer, viewer_ui};
use super::worker::LatestWorker;
use crate::dsp::SAMPLE_RATE;
use crate::dsp::peaks::peaks;
use crate::model::edit::{Edit, TrackProps, clip, ripple_delete, split_clip};
use crate::model::project::{MediaId, project_dir, resolve_media_path};
use crate::model::time::format_timecode;
use crate::model::{ClipId, FrameRate, History, Marker, Project, Time};
use crate::render::RenderOptions;
use crate::render::sources::{Sources, load_sources, warped_clips};
use crate::render::warp_cache::WarpCache;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// Seconds between timed autosaves while there are changes.
pub const AUTOSAVE_SECS: u64 = 10;

/// How the editor starts.
#[derive(Clone, Debug, Default)]
pub struct AppOptions {
    /// Project to open.
    pub project: Option<PathBuf>,
    /// Where autosaves and settings go.
    pub dirs: Option<Dirs>,
    /// Use the audio device (off in tests: the clock is then a wall clock).
    pub audio: bool,
    /// Commands to run at start (the smoke tests' stand-in for a user).
    pub script: Option<String>,
}

/// A line in the log panel.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// An error (red) or information.
    pub error: bool,
    /// The text.
    pub text: String,
}

/// What waits for the answer to "save changes?".
#[derive(Clone, Debug, PartialEq)]
pub enum AfterPrompt {
    /// Close the window.
    Quit,
    /// Start a new project.
    New,
    /// Open this project.
    Open(PathBuf),
}

struct PlayState {
    clock: Clock,
    /// When and where playback started (for the stats line at stop).
    since: (Instant, Time),
    /// UI frames drawn while playing, and the time spent building them.
    ui_frames: u64,
    ui_time: Duration,
    /// The edit count the mixer was started with: the mix is restarted after later edits.
    mixed_changes: Option<u64>,
    _feed: Option<MixFeed>,
    _out: Option<AudioOut>,
}

/// Decoded sources, their waveforms, and the original dialogue as mono (for speech detection
/// and auto-align; also when an M&E stem replaces it in the mix).
type SourcesResult = Result<(Arc<Sources>, Arc<Waveforms>, Option<Arc<Vec<f32>>>), String>;
/// The media an audio load covers: its identity for "did it change?".
type SourcesKey = Vec<(MediaId, PathBuf)>;

#[derive(Default)]
struct AudioSources {
    key: Option<SourcesKey>,
    sources: Option<Arc<Sources>>,
    peaks: Option<Arc<Waveforms>>,
    dialogue: Option<Arc<Vec<f32>>>,
    loading: Option<(SourcesKey, Receiver<SourcesResult>)>,
    warp_cache: WarpCache,
}

/// The editor.
pub struct RedubApp {
    /// The open project.
    pub project: Project,
    /// Its undo history.
    pub history: History,
    /// Its file, once saved or opened.
    pub path: Option<PathBuf>,
    /// Selected clips.
    pub selection: Vec<ClipId>,
    /// Playhead.
    pub playhead: Time,
    /// In point.
    pub in_point: Option<Time>,
    /// Out point.
    pub out_point: Option<Time>,
    /// Snapping on.
    pub snap: bool,
    /// Timeline view.
    pub timeline: TimelineView,
    /// Viewer.
    pub viewer: Viewer,
    /// Face analysis and lip plan jobs of the shot (what the viewer's render path draws).
    pub lip_preview: LipPreview,
    /// When the playback counters were last reset.
    stats_since: Option<Instant>,
    /// Export dialog.
    pub export: ExportDialog,
    /// Messages for the user (errors also go to the status bar).
    pub log: Vec<LogEntry>,
    /// Frames skipped during playback.
    pub dropped_frames: u64,
    /// Shown when playback runs without sound.
    pub audio_notice: Option<String>,
    /// An autosave newer than the project, offered at start.
    pub recovery: Option<AutosaveSlot>,
    /// "Save changes?" is showing; what follows the answer.
    pub unsaved_prompt: Option<AfterPrompt>,
    /// Key bindings.
    pub key_preset: KeyPreset,
    /// Show the log window.
    pub show_log: bool,
    /// Thumbnails of the shot.
    pub thumbnails: Thumbnails,
    /// Lip lanes, the lip section of the inspector, the faces list and the mask painter.
    pub lip_ui: super::lip_ui::LipUi,
    /// The timeline's "Speaking" lane: faces speaking and proposed speakers of the dialogue.
    pub speakers: super::speakers::Speakers,
    /// The EBU R128 meter panel.
    pub loudness: LoudnessPanel,
    importer: Importer,
    inspector: InspectorState,
    settings: Settings,
    dirs: Dirs,
    slot: AutosaveSlot,
    autosave_worker: Option<LatestWorker<(AutosaveSlot, Project)>>,
    changes: u64,
    autosaved_changes: u64,
    last_autosave: Instant,
    structural_pending: bool,
    play: Option<PlayState>,
    shuttle: Shuttle,
    audio: AudioSources,
    pending: Vec<AppCommand>,
    allow_close: bool,
    title: String,
    audio_enabled: bool,
    missing: HashMap<MediaId, bool>,
    facts: ProbeFacts,
    missing_checked: Option<Instant>,
    ctx: egui::Context,
    script: ScriptRunner,
}

impl RedubApp {
    /// Creates the editor, opening `options.project` if given and looking for an autosave.
    pub fn new(ctx: egui::Context, options: AppOptions) -> Self {
        let dirs = options.dirs.clone().unwrap_or_else(Dirs::from_env);
        let settings = Settings::load(&dirs);
        let autosave_worker =
            LatestWorker::spawn("autosave", |(slot, project): (AutosaveSlot, Project)| {
                if let Err(e) = slot.write(&project) {
                    eprintln!("redub: autosave failed: {e:#}");
                }
            })
            .ok();
        let mut app = Self {
            project: Project::new("Untitled", FrameRate::FPS_25),
            history: History::new(),
            path: None,
            selection: Vec::new(),
            playhead: Time::ZERO,
            in_point: None,
            out_point: None,
            snap: true,
            timeline: TimelineView::default(),
            viewer: Viewer::default(),
            lip_preview: LipPreview::default(),
            stats_since: None,
            export: ExportDialog::default(),
            log: Vec::new(),
            dropped_frames: 0,
            audio_notice: None,
            recovery: None,
            unsaved_prompt: None,
            key_preset: settings.key_preset,
            show_log: false,
            thumbnails: Thumbnails::default(),
            lip_ui: Default::default(),
            speakers: Default::default(),
            loudness: LoudnessPanel::default(),
            importer: Importer::default(),
            inspector: InspectorState::default(),
            slot: AutosaveSlot::for_project(&dirs, None),
            settings,
            dirs,
            autosave_worker,
            changes: 0,
            autosaved_changes: 0,
            last_autosave: Instant::now(),
            structural_pending: false,
            play: None,
            shuttle: Shuttle::default(),
            audio: AudioSources::default(),
            pending: Vec::new(),
            allow_close: false,
            title: String::new(),
            audio_enabled: options.audio,
            missing: HashMap::new(),
            facts: ProbeFacts::default(),
            missing_checked: None,
            ctx,
            script: ScriptRunner::new(options.script.as_deref().unwrap_or("")),
        };
        match &options.project {
            Some(p) if p.exists() => app.open_now(p),
            Some(p) => {
                // A new file name: start empty and save there.
                app.path = Some(p.clone());
                app.slot = AutosaveSlot::for_project(&app.dirs, Some(p));
                app.check_recovery();
            }
            None => app.check_recovery(),
        }
        app
    }

    /// Queues a command (applied at the end of the frame, like the panels' commands).
    pub fn queue(&mut self, cmd: AppCommand) {
        self.pending.push(cmd);
    }

    /// Applies queued commands now (tests call this between frames too).
    pub fn apply_pending(&mut self) {
        let cmds = std::mem::take(&mut self.pending);
        for c in cmds {
            self.apply(c);
        }
    }

    /// Whether there are unsaved changes.
    pub fn is_dirty(&self) -> bool {
        self.history.is_dirty()
    }

    /// The window title: file name, `*` when unsaved.
    pub fn window_title(&self) -> String {
        let name = self
            .path
            .as_ref()
            .and_then(|p| p.file_name())
            .map_or_else(|| "Untitled".to_string(), |n| n.to_string_lossy().into_owned());
        format!("{name}{} — Redub", if self.is_dirty() { "*" } else { "" })
    }

    /// The autosave slot in use.
    pub fn autosave_slot(&self) -> &AutosaveSlot {
        &self.slot
    }

    /// Whether playback is running.
    pub fn is_playing(&self) -> bool {
        self.play.is_some()
    }

    /// Whether an import is still running.
    pub fn importing(&self) -> bool {
        self.importer.busy()
    }

    /// Whether an export is still running.
    pub fn exporting(&self) -> bool {
        self.export.running.is_some()
    }

    fn info(&mut self, text: impl Into<String>) {
        self.log.push(LogEntry { error: false, text: text.into() });
    }

    fn error(&mut self, text: impl Into<String>) {
        let text = text.into();
        eprintln!("redub: {text}");
        self.log.push(LogEntry { error: true, text });
    }

    fn project_dir(&self) -> PathBuf {
        self.path
            .as_deref()
            .map(project_dir)
            .unwrap_or_else(|| std::env::current_dir().unwrap_or_default())
    }

    fn check_recovery(&mut self) {
        if self.slot.is_recoverable() {
            // Also on stderr, so a script or a smoke test can see the offer.
            eprintln!("redub: offering recovery of autosave {}", self.slot.file.display());
            self.recovery = Some(self.slot.clone());
        }
    }

    // ----- commands -----

    /// Applies one command.
    pub fn apply(&mut self, cmd: AppCommand) {
        use AppCommand as C;
        if let Err(e) = self.lip_ui.apply(&cmd, &self.project) {
            self.error(format!("lip edit: {e}"));
        }
        match cmd {
            C::NewProject => self.guard_unsaved(AfterPrompt::New),
            C::Open(Some(p)) => self.guard_unsaved(AfterPrompt::Open(p)),
            C::Open(None) => {
                if let Some(p) =
                    rfd::FileDialog::new().add_filter("Redub project", &["redub"]).pick_file()
                {
                    self.guard_unsaved(AfterPrompt::Open(p));
                }
            }
            C::Save => match self.path.clone() {
                Some(p) => {
                    self.save_to(&p);
                }
                None => self.apply(C::SaveAs(None)),
            },
            C::SaveAs(Some(p)) => {
                self.save_to(&p);
            }
            C::SaveAs(None) => {
                if let Some(p) = rfd::FileDialog::new()
                    .add_filter("Redub project", &["redub"])
                    .set_file_name("project.redub")
                    .save_file()
                {
                    self.save_to(&p);
                }
            }
            C::Import { paths: Some(paths), target } => {
                if let Err(e) = self.importer.start(paths, target, self.ctx.clone()) {
                    self.error(format!("cannot start import: {e}"));
                }
            }
            C::Import { paths: None, target } => {
                if let Some(paths) = rfd::FileDialog::new()
                    .add_filter(
                        "Media",
                        &[
                            "mp4", "mov", "mkv", "webm", "wav", "flac", "mp3", "ogg", "opus",
                            "m4a", "aac",
                        ],
                    )
                    .pick_files()
                {
                    self.apply(C::Import { paths: Some(paths), target });
                }
            }
            C::Edit { edit, label } => self.edit(edit, &label),
            C::BeginGesture(label) => self.history.begin_gesture(&label),
            C::EndGesture => {
                self.history.end_gesture();
                self.changes += 1;
            }
            C::CancelGesture => self.history.cancel_gesture(&mut self.project),
            C::Undo => {
                self.stop();
                match self.history.undo(&mut self.project) {
                    Ok(Some(l)) => self.info(format!("Undo: {l}")),
                    Ok(None) => self.info("Nothing to undo"),
                    Err(e) => self.error(format!("{e}; the project is unchanged")),
                }
                self.after_change(true);
            }
            C::Redo => {
                self.stop();
                match self.history.redo(&mut self.project) {
                    Ok(Some(l)) => self.info(format!("Redo: {l}")),
                    Ok(None) => self.info("Nothing to redo"),
                    Err(e) => self.error(format!("{e}; the project is unchanged")),
                }
                self.after_change(true);
            }
            C::TogglePlay => {
                if self.play.is_some() {
                    self.stop();
                } else {
                    self.shuttle.speed = 1;
                    self.start_play(1);
                }
            }
            C::Shuttle(dir) => {
                let speed = self.shuttle.press(dir);
                self.stop();
                if speed != 0 {
                    self.start_play(speed);
                }
            }
            C::StepFrames(n) => {
                self.stop();
                let rate = self.project.timeline.frame_rate;
                let f = (rate.time_to_frame(self.playhead) + n).max(0);
                self.seek(rate.frame_to_time(f));
            }
            C::Seek(t) => {
                let playing = self.play.as_ref().map(|_| self.shuttle.speed);
                self.stop();
                self.seek(t.max(Time::ZERO));
                if let Some(s) = playing {
                    self.start_play(s);
                }
            }
            C::PrevEdit | C::NextEdit => {
                let next = matches!(cmd, C::NextEdit);
                if let Some(t) = self.edit_point(next) {
                    self.stop();
                    self.seek(t);
                }
            }
            C::SetIn => self.in_point = Some(self.playhead),
            C::SetOut => self.out_point = Some(self.playhead),
            C::AddMarker => {
                let mut m = self.project.timeline.markers.clone();
                if !m.iter().any(|x| x.time == self.playhead) {
                    m.push(Marker { time: self.playhead, name: format!("Marker {}", m.len() + 1) });
                    self.edit(Edit::SetMarkers(m), "Add marker");
                }
            }
            C::Split => self.split(),
            C::Delete => {
                let edits: Vec<Edit> = self
                    .editable_selection()
                    .into_iter()
                    .map(|clip| Edit::RemoveClip { clip })
                    .collect();
                if !edits.is_empty() {
                    self.edit(Edit::Batch(edits), "Delete clips");
                    self.selection.clear();
                }
            }
            C::RippleDelete => {
                let ids = self.editable_selection();
                if !ids.is_empty() {
                    let e = ripple_delete(&self.project, &ids);
                    self.edit(e, "Ripple delete");
                    self.selection.clear();
                }
            }
            C::ToggleSnap => self.snap = !self.snap,
            C::Select(ids, mode) => match mode {
                SelectMode::Replace => self.selection = ids,
                SelectMode::Add => {
                    for id in ids {
                        if !self.selection.contains(&id) {
                            self.selection.push(id);
                        }
                    }
                }
                SelectMode::Toggle => {
                    for id in ids {
                        if let Some(i) = self.selection.iter().position(|s| *s == id) {
                            self.selection.remove(i);
                        } else {
                            self.selection.push(id);
                        }
                    }
                }
            },
            C::AddTrack => {
                let mut scratch = self.project.clone();
                let n = scratch.timeline.dub_tracks.len() + 1;
                let id = scratch.add_dub_track(format!("Dub {n}"));
                if let Some(track) =
                    scratch.timeline.dub_tracks.iter().find(|t| t.id == id).cloned()
                {
                    self.edit(Edit::AddTrack { index: usize::MAX, track }, "Add dub track");
                }
            }
            C::RemoveTrack(id) => self.edit(Edit::RemoveTrack { track: id }, "Remove dub track"),
            C::ZoomTimeline { factor, around } => self.timeline.zoom(factor, around),
            C::ViewerZoom(z) => self.viewer.zoom = z,
            C::ToggleSafeAreas => self.viewer.safe_areas = !self.viewer.safe_areas,
            C::ToggleBeforeAfter => self.viewer.before = !self.viewer.before,
            C::SetWipe(f) => self.viewer.split = f,
            C::ToggleMaskOverlay => self.viewer.mask_overlay = !self.viewer.mask_overlay,
            C::ToggleFaceBoxes => self.viewer.face_boxes = !self.viewer.face_boxes,
            C::CancelLipJob => self.lip_preview.cancel(),
            C::PlaybackStats { reset: true } => {
                self.dropped_frames = 0;
                self.viewer.played_frames = 0;
                self.stats_since = Some(Instant::now());
            }
            C::PlaybackStats { reset: false } => println!("{}", self.playback_stats()),
            C::RetryLipJob => self.lip_preview.retry(&self.ctx.clone()),
            C::ShowExport => self.export.show(&self.project, self.path.as_deref()),
            C::HideExport => {
                if self.export.running.is_none() {
                    self.export.open = false;
                }
            }
            C::StartExport { preset, range, output } => self.start_export(preset, range, output),
            C::CancelExport => {
                if let Some(r) = &self.export.running {
                    r.job.cancel();
                }
            }
            C::ShowInFolder(dir) => {
                if let Err(e) = std::process::Command::new("xdg-open").arg(&dir).spawn() {
                    self.error(format!("cannot open {}: {e}", dir.display()));
                }
            }
            C::RelinkFolder(Some(folder)) => {
                let (edit, left) = relink_edit(&self.project, &self.project_dir(), &folder);
                let n = match &edit {
                    Some(Edit::Batch(v)) => v.len(),
                    _ => 0,
                };
                if let Some(e) = edit {
                    self.edit(e, "Relink media");
                }
                self.missing_checked = None;
                self.info(format!("Relinked {n} file(s); {left} still missing"));
            }
            C::RelinkFolder(None) => {
                if let Some(f) = rfd::FileDialog::new().pick_folder() {
                    self.apply(C::RelinkFolder(Some(f)));
                }
            }
            C::RecoverAutosave => {
                if let Some(slot) = self.recovery.take() {
                    match slot.load() {
                        Ok(p) => {
                            self.replace_project(p, slot.source.clone());
                            self.history.mark_unsaved();
                            self.info("Recovered the autosaved project");
                        }
                        Err(e) => self.error(format!("{e:#}")),
                    }
                }
            }
            C::DiscardAutosave => {
                if let Some(slot) = self.recovery.take() {
                    slot.clear();
                }
            }
            C::Quit => self.guard_unsaved(AfterPrompt::Quit),
            C::Unsaved(choice) => {
                let Some(after) = self.unsaved_prompt.take() else { return };
                match choice {
                    UnsavedChoice::Cancel => {}
                    UnsavedChoice::Save => {
                        let saved = match self.path.clone() {
                            Some(p) => self.save_to(&p),
                            None => match rfd::FileDialog::new()
                                .set_file_name("project.redub")
                                .save_file()
                            {
                                Some(p) => self.save_to(&p),
                                None => false,
                            },
                        };
                        if saved {
                            self.proceed(after);
                        }
                    }
                    UnsavedChoice::Discard => {
                        self.drop_autosave();
                        self.proceed(after);
                    }
                }
            }
            // Handled by the lip panels above.
            C::SelectLipSegment(_) | C::PaintLipMask(_) => {}
            C::AutoAlign { clip, settings } => {
                self.stop();
                let r = super::align_ui::align_edit(
                    &self.project,
                    self.audio.sources.as_deref(),
                    self.audio.dialogue.as_ref().map(|d| d.as_slice()),
                    clip,
                    &settings,
                );
                match r {
                    Ok((edit, summary)) => {
                        self.edit(edit, &format!("Auto-align ({})", settings.mode.name()));
                        self.info(summary);
                    }
                    Err(e) => self.error(format!("Auto-align: {e}")),
                }
            }
            C::SetKeyPreset(p) => {
                self.key_preset = p;
                self.settings.key_preset = p;
                if let Err(e) = self.settings.save(&self.dirs) {
                    self.error(format!("{e:#}"));
                }
            }
        }
    }

    fn guard_unsaved(&mut self, after: AfterPrompt) {
        if self.is_dirty() {
            self.unsaved_prompt = Some(after);
        } else {
            self.proceed(after);
        }
    }

    fn proceed(&mut self, after: AfterPrompt) {
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
        }
    }

    /// Removes this project's autosave (its changes were saved or thrown away).
    fn drop_autosave(&mut self) {
        if let Some(w) = self.autosave_worker.take() {
            w.finish();
        }
        self.slot.clear();
        self.autosaved_changes = self.changes;
        self.autosave_worker =
            LatestWorker::spawn("autosave", |(slot, project): (AutosaveSlot, Project)| {
                if let Err(e) = slot.write(&project) {
                    eprintln!("redub: autosave failed: {e:#}");
                }
            })
            .ok();
    }

    fn open_now(&mut self, path: &Path) {
        match Project::load(path) {
            Ok(p) => {
                self.replace_project(p, Some(path.to_path_buf()));
                self.settings.add_recent(path);
                if let Err(e) = self.settings.save(&self.dirs) {
                    self.error(format!("{e:#}"));
                }
                self.check_recovery();
            }
            Err(e) => self.error(e.to_string()),
        }
    }

    fn replace_project(&mut self, project: Project, path: Option<PathBuf>) {
        self.stop();
        self.project = project;
        self.history = History::new();
        self.slot = AutosaveSlot::for_project(&self.dirs, path.as_deref());
        self.path = path;
        self.selection.clear();
        self.playhead = Time::ZERO;
        self.in_point = None;
        self.out_point = None;
        self.missing_checked = None;
        self.changes += 1;
        self.autosaved_changes = self.changes;
        self.timeline.scroll_sec = 0.0;
    }

    /// Saves to `path`; returns whether it worked.
    fn save_to(&mut self, path: &Path) -> bool {
        let path = if path.extension().is_none() {
            path.with_extension("redub")
        } else {
            path.to_path_buf()
        };
        match self.project.save(&path) {
            Ok(()) => {
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
                self.error(e.to_string());
                false
            }
        }
    }

    fn edit(&mut self, edit: Edit, label: &str) {
        let structural = edit.is_structural();
        match self.history.apply(&mut self.project, edit, label) {
            Ok(()) => self.after_change(structural),
            Err(e) => self.error(format!("{label}: {e}")),
        }
    }

    fn after_change(&mut self, structural: bool) {
        self.changes += 1;
        self.structural_pending |= structural;
        let ids: Vec<ClipId> = self
            .selection
            .iter()
            .copied()
            .filter(|id| clip(&self.project, *id).is_some())
            .collect();
        self.selection = ids;
    }

    fn editable_selection(&self) -> Vec<ClipId> {
        self.project
            .timeline
            .dub_tracks
            .iter()
            .filter(|t| !t.locked)
            .flat_map(|t| t.clips.iter().map(|c| c.id))
            .filter(|id| self.selection.contains(id))
            .collect()
    }

    fn split(&mut self) {
        // The selection, or every clip under the playhead when nothing is selected.
        let at = self.playhead;
        let candidates: Vec<ClipId> = if self.selection.is_empty() {
            self.project
                .timeline
                .dub_tracks
                .iter()
                .filter(|t| !t.locked)
                .flat_map(|t| &t.clips)
                .filter(|c| c.position < at && c.end() > at)
                .map(|c| c.id)
                .collect()
        } else {
            self.editable_selection()
        };
        let mut scratch = self.project.clone();
        let mut edits = Vec::new();
        for id in candidates {
            let new_id = scratch.next_clip_id();
            if let Some(e) = split_clip(&scratch, id, at, new_id)
                && e.apply(&mut scratch).is_ok()
            {
                edits.push(e);
            }
        }
        if edits.is_empty() {
            self.info("Nothing to split at the playhead");
        } else {
            self.edit(Edit::Batch(edits), "Split clip");
        }
    }

    fn edit_point(&self, next: bool) -> Option<Time> {
        let mut pts: Vec<Time> = vec![Time::ZERO, self.project.timeline.duration];
        for t in &self.project.timeline.dub_tracks {
            for c in &t.clips {
                pts.push(c.position);
                pts.push(c.end());
            }
        }
        pts.extend(self.project.timeline.markers.iter().map(|m| m.time));
        let p = self.playhead;
        if next {
            pts.into_iter().filter(|t| *t > p).min()
        } else {
            pts.into_iter().filter(|t| *t < p).max()
        }
    }

    /// Moves the playhead, kept within the timeline (0 to its end).
    fn seek(&mut self, t: Time) {
        let t = t.max(Time::ZERO).min(self.end_time());
        self.playhead = t;
        self.timeline.reveal(t);
    }

    fn end_time(&self) -> Time {
        let clips_end = self
            .project
            .timeline
            .dub_tracks
            .iter()
            .flat_map(|t| &t.clips)
            .map(|c| c.end())
            .max()
            .unwrap_or(Time::ZERO);
        self.project.timeline.duration.max(clips_end)
    }

    // ----- playback -----

    fn start_play(&mut self, speed: i32) {
        let start =
            if speed > 0 && self.playhead >= self.end_time() { Time::ZERO } else { self.playhead };
        self.playhead = start;
        self.dropped_frames = 0;
        // Speeds above 1× are resampled (pitch goes up, like a tape shuttle); reverse is silent.
        let shuttle_note = match speed {
            1 => None,
            s if s > 1 => Some(format!("Shuttle {s}×: sound resampled")),
            s => Some(format!("Shuttle {s}×: reverse plays silent")),
        };
        if self.audio_enabled {
            match self.open_audio(start, speed) {
                Ok(state) => {
                    self.audio_notice = shuttle_note;
                    self.play = Some(state);
                    return;
                }
                Err(e) => self.audio_notice = Some(e),
            }
        } else {
            self.audio_notice = Some(match shuttle_note {
                Some(n) => format!("{n}; audio output off"),
                None => "Audio output off: playing silently".into(),
            });
        }
        self.play = Some(PlayState {
            clock: Clock::Wall { since: Instant::now(), start, speed: f64::from(speed) },
            since: (Instant::now(), start),
            ui_frames: 0,
            ui_time: Duration::ZERO,
            mixed_changes: None,
            _feed: None,
            _out: None,
        });
    }

    /// Starts the mixer and the audio output at a speed; the error is the notice to show.
    fn open_audio(&mut self, start: Time, speed: i32) -> Result<PlayState, String> {
        let src = self
            .audio
            .sources
            .clone()
            .ok_or_else(|| "Audio is still loading: playing silently".to_string())?;
        // Warps change with edits; the cache restretches only clips whose warp changed.
        let warped = Arc::new(warped_clips(&self.project, &src.clips, &mut self.audio.warp_cache));
        let at = start.to_samples(SAMPLE_RATE);
        let (feed, mut pull) =
            MixFeed::start_at_speed(self.project.clone(), src, warped, at, speed)
                .map_err(|e| format!("Audio mixer failed ({e}): playing silently"))?;
        pull.set_tap(self.loudness.tap());
        let clock = pull.clock_at_speed(start, speed);
        let out =
            open_output(pull).map_err(|e| format!("No audio output ({e}): playing silently"))?;
        Ok(PlayState {
            clock,
            since: (Instant::now(), start),
            ui_frames: 0,
            ui_time: Duration::ZERO,
            mixed_changes: Some(self.changes),
            _feed: Some(feed),
            _out: Some(out),
        })
    }

    fn stop(&mut self) {
        if let Some(p) = self.play.take() {
            let rate = self.project.timeline.frame_rate;
            let frames = (rate.time_to_frame(self.playhead) - rate.time_to_frame(p.since.1)).abs();
            let stats = format!(
                "Playback: {frames} frames in {:.1} s, {} dropped, {} UI frames built in {:.0} ms",
                p.since.0.elapsed().as_secs_f64(),
                self.dropped_frames,
                p.ui_frames,
                p.ui_time.as_secs_f64() * 1000.0
            );
            if std::env::var_os("REDUB_PLAYBACK_STATS").is_some() {
                eprintln!("redub: {stats}");
            }
            self.info(stats);
            // Land on a frame boundary so the viewer and timecode agree.
            let rate = self.project.timeline.frame_rate;
            self.playhead = rate.frame_to_time(rate.time_to_frame(self.playhead));
        }
        self.shuttle.speed = 0;
    }

    fn update_audio_sources(&mut self) {
        if let Some((key, rx)) = &self.audio.loading
            && let Ok(r) = rx.try_recv()
        {
            let key = key.clone();
            self.audio.loading = None;
            match r {
                Ok((s, p, d)) => {
                    self.audio.sources = Some(s);
                    self.audio.peaks = Some(p);
                    self.audio.dialogue = d;
                    self.audio.key = Some(key);
                }
                Err(e) => {
                    self.audio.key = Some(key);
                    self.error(format!("audio: {e}"));
                }
            }
        }
        let dir = self.project_dir();
        let mut key: Vec<(MediaId, PathBuf)> = Vec::new();
        let tl = &self.project.timeline;
        let mut ids: Vec<MediaId> =
            tl.dub_tracks.iter().flat_map(|t| t.clips.iter().map(|c| c.media)).collect();
        ids.extend(tl.original_audio.media);
        ids.extend(tl.me_track);
        ids.sort();
        ids.dedup();
        for id in ids {
            if let Some(p) = self.project.media(id).and_then(|m| resolve_media_path(m, &dir)) {
                key.push((id, p));
            }
        }
        let loading_key = self.audio.loading.as_ref().map(|(k, _)| k);
        if Some(&key) == self.audio.key.as_ref() || Some(&key) == loading_key {
            return;
        }
        let (tx, rx) = channel();
        let mut project = self.project.clone();
        // Decode every clip's media whatever the mute state, so muting never waits for a decode.
        project.timeline.original_audio.mute = false;
        project.timeline.me_mute = false;
        for t in &mut project.timeline.dub_tracks {
            t.mute = false;
            t.solo = false;
        }
        let ctx = self.ctx.clone();
        let spawned = std::thread::Builder::new().name("audio-load".into()).spawn(move || {
            let r = load_sources(&project, &dir, false).map_err(|e| e.to_string()).map(|s| {
                let of = |b: &crate::media::AudioBuffer| {
                    peaks(&b.samples, usize::from(b.channels), PEAK_BUCKET)
                };
                // The original dialogue, also when an M&E stem replaces it in the mix.
                let dialogue = if s.is_me {
                    original_dialogue(&project, &dir)
                } else {
                    s.original.as_ref().map(|b| (b.mono(), of(b)))
                };
                let speech = dialogue.as_ref().map_or_else(Vec::new, |(mono, _)| {
                    crate::dsp::vad::speech_times(
                        mono,
                        SAMPLE_RATE,
                        &crate::dsp::vad::VadConfig::default(),
                    )
                });
                let me = if s.is_me { s.original.as_ref().map(of) } else { None };
                let (mono, original) = dialogue.unzip();
                let vad = crate::dsp::vad::VadConfig::default();
                let clip_speech = s
                    .clips
                    .iter()
                    .map(|(id, b)| (*id, crate::dsp::vad::speech_times(&b.mono(), b.rate, &vad)))
                    .collect();
                let w = Waveforms {
                    original: original.unwrap_or_default(),
                    clip_speech,
                    me: me.unwrap_or_default(),
                    clips: s.clips.iter().map(|(id, b)| (*id, of(b))).collect(),
                    speech,
                };
                (Arc::new(s), Arc::new(w), mono.map(Arc::new))
            });
            let _ = tx.send(r);
            ctx.request_repaint();
        });
        match spawned {
            Ok(_) => self.audio.loading = Some((key, rx)),
            Err(e) => self.error(format!("cannot start audio loading: {e}")),
        }
    }

    // ----- per frame -----

    fn start_export(&mut self, preset: crate::model::Preset, range: ExportRange, output: PathBuf) {
        if output.as_os_str().is_empty() {
            self.error("choose an output file");
            return;
        }
        let range = match (range, self.in_point, self.out_point) {
            (ExportRange::InOut, Some(a), Some(b)) if b > a => Some((a, b)),
            (ExportRange::InOut, _, _) => {
                self.error("set an in and an out point first (I / O)");
                return;
            }
            _ => None,
        };
        let mut settings = self.project.export.clone();
        settings.preset = preset;
        settings.output = Some(output.clone());
        settings.range = range;
        if settings != self.project.export {
            self.edit(Edit::SetExport(settings), "Export settings");
        }
        let opts = RenderOptions { preset, output, range };
        if let Err(e) =
            self.export.start(self.project.clone(), self.path.as_deref(), opts, self.ctx.clone())
        {
            self.error(format!("cannot start export: {e}"));
        }
    }

    fn poll_workers(&mut self) {
        for batch in self.importer.poll() {
            for e in &batch.errors {
                self.error(format!("import: {e}"));
            }
            if let Some(edit) = import_edit(&self.project, &batch) {
                self.edit(edit, "Import media");
                self.missing_checked = None;
            }
        }
        if let Some(r) = self.export.poll().cloned() {
            match r {
                Ok(files) => {
                    // The mix (WAV stems also write dialogue and background files).
                    let out = self.project.export.output.clone();
                    if let Some(f) =
                        files.iter().find(|f| Some(*f) == out.as_ref()).or(files.first())
                    {
                        self.loudness.measure_export(f, &self.ctx.clone());
                    }
                    self.info(format!(
                        "Exported {}",
                        files
                            .iter()
                            .map(|f| f.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                }
                Err(e) => self.error(format!("export: {e}")),
            }
        }
        self.update_audio_sources();
        self.facts.poll();
        if self.loudness.poll() && self.loudness.open {
            self.ctx.request_repaint();
        }
    }

    /// Whether every background job (import, audio and waveform loading, probing, thumbnails,
    /// export) is done: tests wait for this before taking snapshots.
    pub fn background_idle(&self) -> bool {
        !self.importer.busy()
            && self.audio.loading.is_none()
            && !self.facts.busy()
            && !self.thumbnails.busy()
            && !self.lip_ui.busy()
            && self.export.running.is_none()
            && !self.lip_preview.busy()
    }

    fn autosave_tick(&mut self) {
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
        self.autosave_worker =
            LatestWorker::spawn("autosave", |(slot, project): (AutosaveSlot, Project)| {
                if let Err(e) = slot.write(&project) {
                    eprintln!("redub: autosave failed: {e:#}");
                }
            })
            .ok();
    }

    fn refresh_missing(&mut self) {
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

    fn keys(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let preset = self.key_preset;
        let cmds: Vec<AppCommand> = ctx.input(|i| {
            let k_held = i.key_down(egui::Key::K);
            i.events
                .iter()
                .filter_map(|e| match e {
                    egui::Event::Key { key, pressed: true, modifiers, .. } => {
                        command_for_key(preset, *key, *modifiers, k_held && *key != egui::Key::K)
                    }
                    _ => None,
                })
                .collect()
        });
        self.pending.extend(cmds);
    }

    fn dropped_files(&mut self, ctx: &egui::Context) {
        let (files, pos) = ctx.input(|i| {
            (
                i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect::<Vec<_>>(),
                i.pointer.hover_pos(),
            )
        });
        if files.is_empty() {
            return;
        }
        let rate = self.project.timeline.frame_rate;
        // Drops land on a frame boundary, like every other edit.
        let target = pos.and_then(|p| self.timeline.drop_target(p)).map(|(t, at)| {
            let f = (at.as_seconds_f64() * rate.as_f64()).round() as i64;
            (t, rate.frame_to_time(f))
        });
        self.pending.push(AppCommand::Import { paths: Some(files), target });
    }

    fn menu_ui(&mut self, ui: &mut egui::Ui) {
        let out = &mut self.pending;
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("New").clicked() {
                    out.push(AppCommand::NewProject);
                }
                if ui.button("Open…").clicked() {
                    out.push(AppCommand::Open(None));
                }
                ui.menu_button("Open recent", |ui| {
                    if self.settings.recent.is_empty() {
                        ui.label("No recent projects");
                    }
                    for p in &self.settings.recent {
                        if ui.button(p.display().to_string()).clicked() {
                            out.push(AppCommand::Open(Some(p.clone())));
                        }
                    }
                });
                if ui.button("Save").clicked() {
                    out.push(AppCommand::Save);
                }
                if ui.button("Save as…").clicked() {
                    out.push(AppCommand::SaveAs(None));
                }
                ui.separator();
                if ui.button("Import…").clicked() {
                    out.push(AppCommand::Import { paths: None, target: None });
                }
                if ui.button("Relink missing media…").clicked() {
                    out.push(AppCommand::RelinkFolder(None));
                }
                if ui.button("Export…").clicked() {
                    out.push(AppCommand::ShowExport);
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    out.push(AppCommand::Quit);
                }
            });
            ui.menu_button("Edit", |ui| {
                let undo =
                    self.history.undo_label().map_or("Undo".to_string(), |l| format!("Undo {l}"));
                if ui
                    .add_enabled(self.history.undo_len() > 0, egui::Button::new(undo))
                    .on_hover_text("Undo")
                    .clicked()
                {
                    out.push(AppCommand::Undo);
                }
                let redo =
                    self.history.redo_label().map_or("Redo".to_string(), |l| format!("Redo {l}"));
                if ui
                    .add_enabled(self.history.redo_len() > 0, egui::Button::new(redo))
                    .on_hover_text("Redo")
                    .clicked()
                {
                    out.push(AppCommand::Redo);
                }
                ui.separator();
                for (label, cmd) in [
                    ("Split at playhead", AppCommand::Split),
                    ("Delete", AppCommand::Delete),
                    ("Ripple delete", AppCommand::RippleDelete),
                    ("Add marker", AppCommand::AddMarker),
                    ("Add dub track", AppCommand::AddTrack),
                    ("Toggle snapping", AppCommand::ToggleSnap),
                ] {
                    if ui.button(label).clicked() {
                        out.push(cmd);
                    }
                }
                super::me_track::me_menu_ui(ui, &self.project, out);
            });
            ui.menu_button("View", |ui| {
                if ui.button("Fit frame").clicked() {
                    out.push(AppCommand::ViewerZoom(ViewerZoom::Fit));
                }
                if ui.button("100 %").clicked() {
                    out.push(AppCommand::ViewerZoom(ViewerZoom::Scale(1.0)));
                }
                if ui.button("Safe areas").clicked() {
                    out.push(AppCommand::ToggleSafeAreas);
                }
                if ui.button("Log").clicked() {
                    self.show_log = !self.show_log;
                }
                if ui.button("Loudness meter").clicked() {
                    self.loudness.open = !self.loudness.open;
                }
            });
            ui.menu_button("Playback", |ui| {
                for (label, cmd) in [
                    ("Play / pause", AppCommand::TogglePlay),
                    ("Go to start", AppCommand::Seek(Time::ZERO)),
                    ("Set in", AppCommand::SetIn),
                    ("Set out", AppCommand::SetOut),
                ] {
                    if ui.button(label).clicked() {
                        out.push(cmd);
                    }
                }
            });
            ui.menu_button("Keys", |ui| {
                for p in [KeyPreset::Premiere, KeyPreset::Resolve] {
                    if ui.radio(self.key_preset == p, p.name()).clicked() {
                        out.push(AppCommand::SetKeyPreset(p));
                    }
                }
            });
        });
    }

    fn transport_ui(&mut self, ui: &mut egui::Ui) {
        let rate = self.project.timeline.frame_rate;
        let end = self.end_time();
        ui.horizontal(|ui| {
            let out = &mut self.pending;
            if ui.button("|<").on_hover_text("Go to start").clicked() {
                out.push(AppCommand::Seek(Time::ZERO));
            }
            if ui.button("<").on_hover_text("Previous frame").clicked() {
                out.push(AppCommand::StepFrames(-1));
            }
            let play = if self.play.is_some() { "Pause" } else { "Play" };
            if ui.button(play).on_hover_text("Play or pause (Space)").clicked() {
                out.push(AppCommand::TogglePlay);
            }
            if ui.button(">").on_hover_text("Next frame").clicked() {
                out.push(AppCommand::StepFrames(1));
            }
            ui.monospace(format_timecode(self.playhead, rate, rate.is_drop_frame_rate()));
            ui.label("/");
            ui.monospace(format_timecode(end, rate, rate.is_drop_frame_rate()));
            if let (Some(a), Some(b)) = (self.in_point, self.out_point) {
                ui.label(format!(
                    "In {} Out {}",
                    format_timecode(a, rate, false),
                    format_timecode(b, rate, false)
                ));
            }
        });
    }

    fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let state = if self.play.is_some() { "Playing" } else { "Stopped" };
            ui.label(state);
            ui.separator();
            ui.label(format!("Dropped frames: {}", self.dropped_frames));
            ui.separator();
            super::preview::status_ui(ui, &self.lip_preview, &self.viewer, &mut self.pending);
            ui.separator();
            ui.label(format!("Keys: {}", self.key_preset.name()));
            if let Some(n) = &self.audio_notice {
                ui.separator();
                ui.colored_label(egui::Color32::from_rgb(240, 190, 80), n);
            }
            if self.importer.busy() {
                ui.separator();
                ui.spinner();
                ui.label("Importing…");
            }
            if let Some(r) = &self.export.running {
                ui.separator();
                ui.add(
                    egui::ProgressBar::new(r.job.progress() as f32)
                        .desired_width(120.0)
                        .text("Exporting"),
                );
            }
            if let Some(last) = self.log.last() {
                ui.separator();
                let color = if last.error {
                    egui::Color32::from_rgb(240, 90, 80)
                } else {
                    ui.visuals().weak_text_color()
                };
                if ui
                    .add(
                        egui::Label::new(egui::RichText::new(&last.text).color(color))
                            .sense(egui::Sense::click()),
                    )
                    .on_hover_text("Click for the log")
                    .clicked()
                {
                    self.show_log = true;
                }
            }
        });
    }

    fn dialogs_ui(&mut self, ctx: &egui::Context) {
        if let Some(slot) = &self.recovery {
            let when = std::fs::metadata(&slot.file)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .map_or(String::new(), |d| format!(" ({} s ago)", d.as_secs()));
            egui::Modal::new(egui::Id::unique("recovery")).show(ctx, |ui| {
                ui.heading("Recover unsaved changes?");
                ui.label(format!(
                    "An autosave of this project is newer than the saved file{when}."
                ));
                ui.horizontal(|ui| {
                    if ui.button("Recover").clicked() {
                        self.pending.push(AppCommand::RecoverAutosave);
                    }
                    if ui.button("Discard autosave").clicked() {
                        self.pending.push(AppCommand::DiscardAutosave);
                    }
                });
            });
        }
        if self.unsaved_prompt.is_some() {
            egui::Modal::new(egui::Id::unique("unsaved")).show(ctx, |ui| {
                ui.heading("Save changes?");
                ui.label("The project has unsaved changes.");
                ui.horizontal(|ui| {
                    if ui.button("Save").clicked() {
                        self.pending.push(AppCommand::Unsaved(UnsavedChoice::Save));
                    }
                    if ui.button("Don't save").clicked() {
                        self.pending.push(AppCommand::Unsaved(UnsavedChoice::Discard));
                    }
                    if ui.button("Cancel").clicked() {
                        self.pending.push(AppCommand::Unsaved(UnsavedChoice::Cancel));
                    }
                });
            });
        }
        if self.show_log {
            let mut open = true;
            egui::Window::new("Log").open(&mut open).default_size([520.0, 260.0]).show(ctx, |ui| {
                egui::ScrollArea::vertical().stick_to_bottom(true).show(ui, |ui| {
                    for l in &self.log {
                        let c = if l.error {
                            egui::Color32::from_rgb(240, 90, 80)
                        } else {
                            ui.visuals().text_color()
                        };
                        ui.colored_label(c, &l.text);
                    }
                });
            });
            self.show_log = open;
        }
        let in_out = self.in_point.zip(self.out_point);
        export_dialog_ui(ctx, &mut self.export, in_out, &mut self.pending);
        self.loudness.ui(ctx);
    }

    /// Builds one frame of the whole UI (also what the benchmark and the tests call).
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let began = Instant::now();
        let ctx = ui.ctx().clone();
        self.poll_workers();
        self.refresh_missing();
        for cmd in self.script.due() {
            self.pending.push(cmd);
        }

        // An edit during playback: restart the mixer from here so what is heard stays the
        // project as it is now (not during a drag, which would stutter; at its end instead).
        let stale = self
            .play
            .as_ref()
            .and_then(|p| p.mixed_changes)
            .is_some_and(|c| c != self.changes && !self.history.in_gesture());
        if stale {
            let t = self.play.as_ref().map_or(self.playhead, |p| p.clock.now());
            let speed = self.shuttle.speed.max(1);
            self.stop();
            self.playhead = t;
            self.shuttle.speed = speed;
            self.start_play(speed);
        }
        // Playback clock drives the playhead.
        if let Some(p) = &self.play {
            let t = p.clock.now();
            let end = self.end_time();
            if t >= end || t < Time::ZERO {
                self.playhead = t.clamp(Time::ZERO, end);
                self.stop();
            } else {
                self.playhead = t;
                self.timeline.reveal(t);
                // Draw again when the next frame is due, not as fast as the renderer can (with
                // no vsync, as under Xvfb, that starved the decoder); decoded frames arriving
                // early ask for their own repaint.
                let rate = self.project.timeline.frame_rate;
                let next = rate.frame_to_time(frame_at(rate, t) + 1);
                let speed = self.shuttle.speed.unsigned_abs().max(1);
                let wait = (next - t).as_seconds_f64().max(0.001) / f64::from(speed);
                ctx.request_repaint_after(Duration::from_secs_f64(wait));
            }
            if let Some(p) = self.play.as_mut() {
                p.ui_frames += 1;
            }
        }
        let dir = self.project_dir();
        let video_path = self
            .project
            .timeline
            .video
            .media
            .and_then(|id| self.project.media(id))
            .and_then(|m| resolve_media_path(m, &dir));
        self.viewer.set_source(video_path.as_deref(), &ctx);
        self.lip_preview.set_source(video_path.as_deref(), &ctx);
        if let Some(plan) = self.lip_preview.update(&self.project, &dir, &ctx) {
            self.viewer.set_plan(plan);
        }
        let shot_len = self
            .project
            .timeline
            .video
            .media
            .and_then(|id| self.project.media(id))
            .map_or(Time::ZERO, |m| m.duration);
        self.thumbnails.set_source(video_path.as_deref(), shot_len, &ctx);
        self.thumbnails.poll(&ctx);
        let shot = self.project.timeline.video.media.and_then(|id| self.project.media(id));
        let shot = video_path.as_deref().zip(shot.map(|m| m.content_hash.as_str()));
        self.lip_ui.update(&self.project, self.audio.sources.as_ref(), shot, &ctx);
        // The faces list shows the analysis the preview job computed.
        if let Some(a) = &self.lip_preview.analysis {
            self.lip_ui.faces.set_analysis(a.clone(), &ctx);
        }
        self.speakers.update(
            self.lip_preview.analysis.as_ref(),
            self.audio.dialogue.as_ref(),
            self.audio.peaks.as_ref().map_or(&[][..], |w| w.speech.as_slice()),
        );
        let index = frame_at(self.project.timeline.frame_rate, self.playhead);
        self.dropped_frames += self.viewer.update(&ctx, index, self.play.is_some());

        self.keys(&ctx);
        self.dropped_files(&ctx);
        if ctx.input(|i| i.viewport().close_requested()) && !self.allow_close && self.is_dirty() {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.unsaved_prompt = Some(AfterPrompt::Quit);
        }

        egui::Panel::top("menu").show(ui, |ui| self.menu_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        egui::Panel::bottom("timeline").resizable(true).default_size(330.0).min_size(160.0).show(
            ui,
            |ui| {
                let thumbs: Vec<(Time, egui::TextureId, egui::Vec2)> =
                    self.thumbnails.items.iter().map(|(t, tex, s)| (*t, tex.id(), *s)).collect();
                let input = TimelineInput {
                    project: &self.project,
                    selection: &self.selection,
                    playhead: self.playhead,
                    in_point: self.in_point,
                    out_point: self.out_point,
                    snap: self.snap,
                    waveforms: self.audio.peaks.as_deref(),
                    thumbnails: &thumbs,
                    lip_segments: &self.lip_ui.segments,
                    lip_selected: self.lip_ui.selected,
                    speakers: Some(&self.speakers),
                    bind_target: self.lip_ui.target_track(&self.project, &self.selection),
                };
                timeline_ui(ui, &input, &mut self.timeline, &mut self.pending);
            },
        );
        egui::Panel::left("media-bin").resizable(true).default_size(220.0).show(ui, |ui| {
            let thumb = self.thumbnails.items.first().map(|(_, t, s)| (t.id(), *s));
            media_bin_ui(
                ui,
                &self.project,
                &self.missing,
                &self.facts.facts,
                thumb,
                self.importer.busy(),
                &mut self.pending,
            );
            ui.separator();
            self.lip_ui.faces_ui(ui, &self.project, &self.selection, &mut self.pending);
        });
        egui::Panel::right("inspector").resizable(true).default_size(270.0).show(ui, |ui| {
            egui::ScrollArea::vertical().id_salt("inspector-scroll").show(ui, |ui| {
                self.lip_ui.inspector_ui(ui, &self.project, &mut self.pending);
                inspector_ui(
                    ui,
                    &self.project,
                    &self.selection,
                    self.audio.peaks.as_deref(),
                    &mut self.inspector,
                    &mut self.pending,
                );
            });
        });
        egui::CentralPanel::default().show(ui, |ui| {
            self.transport_ui(ui);
            let has_video = self.project.timeline.video.media.is_some();
            let faces = FaceContext {
                analysis: self.lip_preview.analysis.as_deref(),
                project: &self.project,
                bind_track: bind_target(&self.project, &self.selection),
            };
            viewer_ui(ui, &self.viewer, has_video, &faces, &mut self.pending);
        });
        self.dialogs_ui(&ctx);
        self.lip_ui.windows_ui(&ctx, &self.project, &mut self.pending);

        if !self.pending.is_empty() {
            // Commands change what the panels show: draw once more with the new state.
            ctx.request_repaint();
        }
        self.apply_pending();
        self.autosave_tick();

        let title = self.window_title();
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
        if !self.background_idle() {
            ctx.request_repaint_after(Duration::from_millis(100));
        }
        if let Some(wait) = self.script.next_wait() {
            ctx.request_repaint_after(wait);
        }
        if let Some(p) = self.play.as_mut() {
            p.ui_time += began.elapsed();
        }
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

    /// One line of playback counters since the last `PlaybackStats { reset: true }`.
    pub fn playback_stats(&self) -> String {
        let secs = self.stats_since.map_or(0.0, |t| t.elapsed().as_secs_f64());
        format!(
            "playback: {:.1} s, {} frames shown, {} dropped, lip edit on {} face(s), compositor {}",
            secs,
            self.viewer.played_frames,
            self.dropped_frames,
            self.lip_preview.edited_faces.len(),
            self.viewer.backend.as_deref().unwrap_or("none (no edited frame shown)")
        )
    }

    /// Project selection helper for tests: the id of the only clip of a track.
    pub fn clip_ids(&self) -> Vec<ClipId> {
        self.project.timeline.dub_tracks.iter().flat_map(|t| t.clips.iter().map(|c| c.id)).collect()
    }

    /// Sets a track's properties (used by the script runner).
    pub fn set_track_props(&mut self, index: usize, f: impl FnOnce(&mut TrackProps)) {
        if let Some(t) = self.project.timeline.dub_tracks.get(index) {
            let mut p = TrackProps::of(t);
            f(&mut p);
            let id = t.id;
            self.edit(Edit::SetTrackProps { track: id, props: p }, "Track");
        }
    }
}

/// The original dialogue as mono with its waveform, decoded on its own (when an M&E stem has
/// taken its place in the decoded sources).
fn original_dialogue(
    project: &Project,
    dir: &Path,
) -> Option<(Vec<f32>, Vec<crate::dsp::peaks::Peak>)> {
    let m = project.timeline.original_audio.media.and_then(|id| project.media(id))?;
    let path = resolve_media_path(m, dir)?;
    let b = crate::media::decode_audio(&path, Some(2)).ok()?;
    let p = peaks(&b.samples, usize::from(b.channels), PEAK_BUCKET);
    Some((b.mono(), p))
}

impl eframe::App for RedubApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.frame_ui(ui);
    }

    fn on_exit(&mut self) {
        self.shutdown();
    }
}
