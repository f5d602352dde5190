//! The editor application: its state, its background workers and their polling, auto-binding.
//! Commands are applied in [`command_handling`] (the one dispatcher), the panels laid out in
//! [`ui`], playback started and stopped in [`transport`], the project file opened, saved and
//! autosaved in [`files`].

mod command_handling;
mod files;
mod transport;
mod ui;

use super::command::{AppCommand, ExportRange, SelectMode, UnsavedChoice, ViewerZoom};
use super::export_dialog::{ExportDialog, export_dialog_ui};
use super::inspector::{InspectorState, inspector_ui};
use super::keys::{KeyPreset, Shuttle, command_for_key};
use super::loudness_panel::LoudnessPanel;
use super::media_bin::{BinInput, Importer, ProbeFacts, import_edit, media_bin_ui, relink_edit};
use super::overlay::{FaceContext, bind_target};
use super::playback::{AudioOut, Clock, MixFeed, frame_at, open_output};
use super::preview::LipPreview;
use super::script::ScriptRunner;
use super::storage::{AutosaveSlot, Dirs, Settings};
use super::thumbs::Thumbnails;
use super::timeline::{PEAK_BUCKET, TimelineInput, TimelineView, Waveforms, timeline_ui};
use super::viewer::{Viewer, viewer_ui};
use crate::dsp::SAMPLE_RATE;
use crate::dsp::peaks::peaks;
use crate::jobs::LatestWorker;
use crate::jobs::Task;
use crate::model::edit::{
    Edit, PlaceMode, TrackProps, clip, place_clip, ripple_delete, split_clip,
};
use crate::model::project::{MediaId, MediaKind, project_dir, resolve_media_path};
use crate::model::time::format_timecode;
use crate::model::{ClipId, FrameRate, History, Marker, Project, Time, TrackId};
use crate::render::RenderOptions;
use crate::render::sources::{Sources, load_sources_lenient, warped_clips};
use crate::render::warp_cache::WarpCache;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
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

/// A short-lived message over the bottom right of the window (the log keeps it).
#[derive(Clone, Debug)]
pub struct Toast {
    /// An error (red, shown longer) or a result.
    pub error: bool,
    /// The text.
    pub text: String,
    /// When it appeared.
    pub since: Instant,
}

impl Toast {
    /// How long it stays.
    pub fn lifetime(&self) -> Duration {
        Duration::from_secs(if self.error { 8 } else { 4 })
    }
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
    /// Make a project of this timeline file.
    ImportTimeline(PathBuf),
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

/// Decoded sources, their waveforms, the original dialogue as mono (for speech detection and
/// auto-align; also when an M&E stem replaces it in the mix), and a line for each sound left
/// out because it could not be read.
type SourcesResult =
    Result<(Arc<Sources>, Arc<Waveforms>, Option<Arc<Vec<f32>>>, Vec<String>), String>;
/// The media an audio load covers: its identity for "did it change?".
type SourcesKey = Vec<(MediaId, PathBuf)>;

#[derive(Default)]
struct AudioSources {
    key: Option<SourcesKey>,
    sources: Option<Arc<Sources>>,
    peaks: Option<Arc<Waveforms>>,
    dialogue: Option<Arc<Vec<f32>>>,
    loading: Option<(SourcesKey, Task<SourcesResult>)>,
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
    /// The selected media-bin item: what insert (`,`) and overwrite (`.`) place.
    pub media_selection: Option<MediaId>,
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
    /// File ▸ Export for render farm….
    pub farm: crate::app::farm_dialog::FarmDialog,
    /// Every message for the user, kept for the log window.
    pub log: Vec<LogEntry>,
    /// Recent messages shown as toasts.
    pub toasts: Vec<Toast>,
    /// A failure to open or save that waits for the user's OK: title and reason.
    pub failure: Option<(String, String)>,
    /// The built-in file browser, when it is open.
    pub file_browser: Option<super::file_browser::FileBrowser>,
    /// Use the built-in file browser even where the system dialog could open (tests; also
    /// `REDUB_FILE_DIALOG=builtin`).
    pub builtin_file_dialog: bool,
    /// Frames skipped during playback.
    pub dropped_frames: u64,
    /// Shown when playback runs without sound.
    pub audio_notice: Option<String>,
    /// The sound problem was put in the log already.
    audio_warned: bool,
    /// Dub tracks bound automatically (or considered) once: never again, so an unbind stays.
    auto_bound: std::collections::HashSet<TrackId>,
    /// An autosave newer than the project, offered at start.
    pub recovery: Option<AutosaveSlot>,
    /// "Save changes?" is showing; what follows the answer.
    pub unsaved_prompt: Option<AfterPrompt>,
    /// "No consent on record" is showing: the binding edit waiting for the answer.
    pub consent_prompt: Option<(Edit, String)>,
    /// Faces asked about once already (this session): binding them again does not ask.
    consent_asked: std::collections::HashSet<crate::model::lip::FaceId>,
    /// The project file's content hash as this editor last read or wrote it: a save finds out
    /// whether another program (a `redub` command, another editor) changed it since.
    disk_version: Option<String>,
    /// "The project changed on disk" is showing: the file a save would have replaced.
    pub changed_on_disk: Option<PathBuf>,
    /// What follows a save chosen in the built-in browser (its answer arrives later).
    after_save: Option<AfterPrompt>,
    /// Key bindings.
    pub key_preset: KeyPreset,
    /// Show the log window.
    pub show_log: bool,
    /// File ▸ Collect project… or a bundle being opened, while it runs.
    pub bundle_job: Option<super::bundle_ui::BundleJob>,
    /// Help ▸ System check: the report shown (`redub doctor`'s).
    pub system_report: Option<crate::render::system::SystemReport>,
    /// Help ▸ Models…: the models window, with its fetch task while one runs.
    pub models: Option<crate::app::models_ui::ModelsWindow>,
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
        let autosave_worker = autosave_worker();
        let mut app = Self {
            project: Project::new("Untitled", FrameRate::FPS_25),
            history: History::new(),
            path: None,
            selection: Vec::new(),
            media_selection: None,
            playhead: Time::ZERO,
            in_point: None,
            out_point: None,
            snap: true,
            timeline: TimelineView::default(),
            viewer: Viewer::default(),
            lip_preview: LipPreview::default(),
            stats_since: None,
            export: ExportDialog::default(),
            farm: crate::app::farm_dialog::FarmDialog::default(),
            log: Vec::new(),
            toasts: Vec::new(),
            failure: None,
            file_browser: None,
            builtin_file_dialog: false,
            dropped_frames: 0,
            audio_notice: None,
            audio_warned: false,
            auto_bound: Default::default(),
            recovery: None,
            unsaved_prompt: None,
            consent_prompt: None,
            consent_asked: Default::default(),
            disk_version: None,
            changed_on_disk: None,
            after_save: None,
            key_preset: settings.key_preset,
            show_log: false,
            bundle_job: None,
            system_report: None,
            models: None,
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

    /// The media whose sound is loaded for playback and waveforms (tests).
    pub fn playable_audio(&self) -> Vec<MediaId> {
        let mut ids: Vec<MediaId> = self
            .audio
            .sources
            .as_ref()
            .map(|s| s.clips.keys().copied().collect())
            .unwrap_or_default();
        ids.sort();
        ids
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
        let text = text.into();
        self.toasts.push(Toast { error: false, text: text.clone(), since: Instant::now() });
        self.log.push(LogEntry { error: false, text });
    }

    fn error(&mut self, text: impl Into<String>) {
        let text = text.into();
        tracing::error!("{text}");
        self.toasts.push(Toast { error: true, text: text.clone(), since: Instant::now() });
        self.log.push(LogEntry { error: true, text });
    }

    /// A failure the user must acknowledge (a project that cannot be opened or saved): a
    /// dialog with the reason; the log keeps it too.
    fn fail(&mut self, title: &str, reason: String) {
        tracing::error!("{title}: {reason}");
        self.log.push(LogEntry { error: true, text: format!("{title}: {reason}") });
        self.failure = Some((title.to_string(), reason));
    }

    /// Remembers the folder of a chosen file for the file browser's recent folders.
    fn remember_folder(&mut self, path: &Path) {
        self.settings.add_recent_folder(path);
        if let Err(e) = self.settings.save(&self.dirs) {
            self.error(format!("{e:#}"));
        }
    }

    /// Where a file dialog starts: the last folder used, else the project's.
    fn browse_dir(&self) -> PathBuf {
        self.settings
            .recent_folders
            .iter()
            .find(|d| d.is_dir())
            .cloned()
            .unwrap_or_else(|| self.project_dir())
    }

    /// The recently used folders (newest first).
    pub fn recent_folders(&self) -> &[PathBuf] {
        &self.settings.recent_folders
    }

    /// Asks for paths with the system's file dialog; where it cannot open (no portal, no
    /// zenity), or when the built-in browser is chosen, opens the built-in browser instead and
    /// says why (its choice arrives later as a command). `None`: nothing chosen now.
    fn browse(&mut self, purpose: super::file_browser::BrowsePurpose) -> Option<Vec<PathBuf>> {
        use super::file_browser::{
            BrowsePurpose as B, FileBrowser, MEDIA_EXTENSIONS, TIMELINE_EXTENSIONS,
        };
        let why = if self.builtin_file_dialog {
            Some("chosen instead of the system's file dialog".to_string())
        } else {
            super::file_browser::native_dialog_unavailable()
        };
        let dir = match &purpose {
            // The export starts where its output is.
            B::ExportOutput => PathBuf::from(&self.export.output)
                .parent()
                .filter(|d| d.is_dir())
                .map_or_else(|| self.browse_dir(), Path::to_path_buf),
            _ => self.browse_dir(),
        };
        let open_builtin = |app: &mut Self, why: String| {
            app.info(format!("Using Redub's file browser: {why}"));
            let mut b = FileBrowser::new(purpose.clone(), &dir, why);
            if purpose == B::ExportOutput && !app.export.output.trim().is_empty() {
                b.path = app.export.output.trim().to_string();
            }
            app.file_browser = Some(b);
        };
        if let Some(why) = why {
            open_builtin(self, why);
            return None;
        }
        let started = Instant::now();
        let d = rfd::FileDialog::new().set_directory(&dir);
        let chosen = match &purpose {
            B::Import(_) => d.add_filter("Media", MEDIA_EXTENSIONS).pick_files(),
            B::Open => d
                .add_filter("Redub project or bundle", &["redub", "redubz"])
                .pick_file()
                .map(|p| vec![p]),
            B::CollectProject => d
                .add_filter("Redub bundle", &[crate::render::bundle::BUNDLE_EXTENSION])
                .set_file_name(format!("{}.redubz", self.bundle_name()))
                .save_file()
                .map(|p| vec![p]),
            B::SaveAs => d
                .add_filter("Redub project", &["redub"])
                .set_file_name("project.redub")
                .save_file()
                .map(|p| vec![p]),
            B::RelinkFolder => d.pick_folder().map(|p| vec![p]),
            B::Subtitles => d.add_filter("Subtitles", &["srt", "vtt"]).pick_file().map(|p| vec![p]),
            B::ExportTimeline => d
                .add_filter("Timeline (OTIO, FCP7 XML, EDL)", TIMELINE_EXTENSIONS)
                .set_file_name("timeline.otio")
                .save_file()
                .map(|p| vec![p]),
            B::ImportTimeline => d
                .add_filter("Timeline (OTIO, FCP7 XML, EDL)", TIMELINE_EXTENSIONS)
                .pick_file()
                .map(|p| vec![p]),
            B::ExportOutput => {
                let name = PathBuf::from(&self.export.output)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                d.set_file_name(name).save_file().map(|p| vec![p])
            }
        };
        match &chosen {
            Some(paths) => {
                if let Some(p) = paths.first() {
                    self.remember_folder(p);
                }
            }
            // Nobody cancels a dialog this fast: it did not open.
            None if started.elapsed() < Duration::from_millis(150) => open_builtin(
                self,
                "the system's file dialog did not open (no xdg-desktop-portal or zenity answered)"
                    .into(),
            ),
            None => {}
        }
        chosen
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

    fn start_export(
        &mut self,
        preset: crate::model::Preset,
        range: ExportRange,
        output: PathBuf,
        past_picture: crate::model::PastPicture,
        allow_unconsented: bool,
        disclosure: Option<crate::model::disclosure::Disclosure>,
    ) {
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
        settings.past_picture = past_picture;
        settings.disclosure = disclosure;
        if settings != self.project.export {
            self.edit(Edit::SetExport(settings), "Export settings");
        }
        let consent = crate::model::consent::ConsentSummary::of(&self.project, allow_unconsented);
        if let Some(why) = consent.refusal() {
            self.error(format!("export refused: {why}"));
            return;
        }
        let mut opts = RenderOptions::new(preset, output, range);
        opts.allow_unconsented = allow_unconsented;
        opts.disclosure = disclosure;
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
                        "Exported {} (its loudness: View > Loudness meter)",
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

    /// When the shot has exactly one face and the project one dub track that drives none and
    /// was never bound or unbound ([`crate::model::DubTrack::auto_bind`]), binds the two (one
    /// undo step) and says so; done once per track in a session, so an undo stays unbound.
    fn auto_bind(&mut self) {
        let Some(a) = self.lip_preview.analysis.as_ref() else { return };
        if a.tracks.len() > 1 {
            self.auto_bind_speakers();
            return;
        }
        let [face] = a.tracks.as_slice() else { return };
        let face = crate::model::lip::FaceId(face.id);
        let [t] = self.project.timeline.dub_tracks.as_slice() else { return };
        if t.face.is_some() || !t.auto_bind {
            // Bound, or bound and unbound again (saved with the project): the user decided.
            self.auto_bound.insert(t.id);
            return;
        }
        if self.history.in_gesture() || !self.auto_bound.insert(t.id) {
            return;
        }
        let (id, name) = (t.id, t.name.clone());
        self.edit(
            Edit::SetTrackFace { track: id, face: Some(face) },
            &format!("Bind {name} to face {}", face.0),
        );
        self.info(format!(
            "{name} now drives face {}: the shot has one face (Undo unbinds it)",
            face.0
        ));
    }

    /// With several faces in the shot: binds each dub track that drives none (and was never
    /// bound or unbound) to the face proposed as the speaker of every one of its lines
    /// ([`crate::app::speakers::unanimous_speakers`]), as one undo step, and says so. Ambiguous
    /// tracks are left to the Faces panel's call to action.
    fn auto_bind_speakers(&mut self) {
        if self.history.in_gesture() {
            return;
        }
        let found =
            crate::app::speakers::unanimous_speakers(&self.project, &self.speakers.proposals);
        let taken: Vec<_> =
            self.project.timeline.dub_tracks.iter().filter_map(|t| t.face).collect();
        let mut edits = Vec::new();
        let mut said = Vec::new();
        for (track, face) in found {
            let Some(t) = self.project.timeline.dub_tracks.iter().find(|t| t.id == track) else {
                continue;
            };
            if t.face.is_some() || !t.auto_bind || taken.contains(&face) {
                continue;
            }
            if !self.auto_bound.insert(track) {
                continue;
            }
            edits.push(Edit::SetTrackFace { track, face: Some(face) });
            said.push((t.name.clone(), face.0));
        }
        if edits.is_empty() {
            return;
        }
        let label = match said.as_slice() {
            [(name, face)] => format!("Bind {name} to face {face}"),
            _ => "Bind dub tracks to their speakers".to_string(),
        };
        self.edit(Edit::Batch(edits), &label);
        let which: Vec<String> =
            said.iter().map(|(name, face)| format!("{name} now drives face {face}")).collect();
        self.info(format!(
            "{}: the proposed speaker of every one of its lines (Undo unbinds)",
            which.join("; ")
        ));
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

/// The autosave writer: writes the newest project it is sent, off the UI thread.
fn autosave_worker() -> Option<LatestWorker<(AutosaveSlot, Project)>> {
    LatestWorker::spawn("autosave", |(slot, project): (AutosaveSlot, Project)| {
        if let Err(e) = slot.write(&project) {
            tracing::error!("autosave failed: {e:#}");
        }
    })
    .ok()
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
