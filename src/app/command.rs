//! Everything the user can ask for is an [`AppCommand`]. Panels and key bindings only emit
//! commands; the app applies them once per frame, so tests can drive the editor without a mouse.

use crate::model::edit::PlaceMode;
use crate::model::project::MediaId;
use crate::model::{ClipId, Edit, Preset, Time, TrackId};
use std::path::PathBuf;

/// How a click changes the selection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SelectMode {
    /// Select only these.
    Replace,
    /// Add to the selection (Shift).
    Add,
    /// Toggle each (Ctrl).
    Toggle,
}

/// What to do with unsaved changes when closing or opening another project.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnsavedChoice {
    /// Save, then go on.
    Save,
    /// Go on without saving.
    Discard,
    /// Stay.
    Cancel,
}

/// Viewer scale.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ViewerZoom {
    /// Fit the frame into the panel.
    Fit,
    /// A fixed scale (1.0 = 100 %).
    Scale(f32),
}

/// Which range the export covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportRange {
    /// The whole timeline.
    Whole,
    /// The in–out range.
    InOut,
}

/// A request from the UI, a key binding or a test.
#[derive(Clone, Debug, PartialEq)]
pub enum AppCommand {
    /// Start an empty project (asks about unsaved changes first).
    NewProject,
    /// Open a project; `None` shows a file dialog.
    Open(Option<PathBuf>),
    /// Save to the current file (asks for a path when there is none).
    Save,
    /// Save to a new file; `None` shows a file dialog.
    SaveAs(Option<PathBuf>),
    /// Import media files; `None` shows a file dialog. With a target, audio files become dub
    /// clips on that track at that time.
    Import {
        /// Files.
        paths: Option<Vec<PathBuf>>,
        /// Where dropped audio lands.
        target: Option<(TrackId, Time)>,
    },
    /// Select a media-bin item (the source of insert and overwrite), or none.
    SelectMedia(Option<MediaId>),
    /// Put the whole of a pool file on a dub track at a time (a bin item dropped on a lane,
    /// "Add to …" in its menu).
    PlaceMedia {
        /// The pool file.
        media: MediaId,
        /// The dub track.
        track: TrackId,
        /// Where the clip starts.
        at: Time,
        /// Overwrite or insert.
        mode: PlaceMode,
    },
    /// Insert the selected bin item at the playhead on the target dub track (`,`).
    InsertAtPlayhead,
    /// Overwrite with the selected bin item at the playhead on the target dub track (`.`).
    OverwriteAtPlayhead,
    /// Apply an edit as one undo step.
    Edit {
        /// The edit.
        edit: Edit,
        /// Undo label.
        label: String,
    },
    /// Start collecting edits into one undo step (drag start).
    BeginGesture(String),
    /// Close the open gesture (drag end).
    EndGesture,
    /// Revert the open gesture.
    CancelGesture,
    /// Undo the last step.
    Undo,
    /// Redo the last undone step.
    Redo,
    /// Play or pause.
    TogglePlay,
    /// J/K/L shuttle: negative = reverse, 0 = stop; repeated presses go faster.
    Shuttle(i32),
    /// Move the playhead by frames.
    StepFrames(i64),
    /// Put the playhead at a time.
    Seek(Time),
    /// Go to the start of the timeline (Home).
    GoToStart,
    /// Go to the end of the timeline: its last frame (End).
    GoToEnd,
    /// Jump to the previous clip edge or marker.
    PrevEdit,
    /// Jump to the next clip edge or marker.
    NextEdit,
    /// Set the in point at the playhead.
    SetIn,
    /// Set the out point at the playhead.
    SetOut,
    /// Add a marker at the playhead.
    AddMarker,
    /// Import the dub lines of a subtitle file (.srt/.vtt) with the line recordings beside it,
    /// as `redub lines import` does; `None` asks for the file.
    ImportSubtitles(Option<PathBuf>),
    /// Delete marker `index` (of the timeline's markers, sorted by time).
    DeleteMarker(usize),
    /// Delete the marker at the playhead (Ctrl+Alt+M, Premiere's "Clear Selected Marker").
    DeleteMarkerAtPlayhead,
    /// Split the selected clips (or the clips under the playhead) at the playhead.
    Split,
    /// Delete the selection.
    Delete,
    /// Delete the selection and close the gaps.
    RippleDelete,
    /// Turn snapping on or off.
    ToggleSnap,
    /// Change the clip selection.
    Select(Vec<ClipId>, SelectMode),
    /// Add a dub track.
    AddTrack,
    /// Remove a dub track.
    RemoveTrack(TrackId),
    /// Multiply the timeline zoom around a time.
    ZoomTimeline {
        /// Zoom factor (> 1 zooms in).
        factor: f32,
        /// Time kept under the pointer.
        around: Time,
    },
    /// Set the viewer scale.
    ViewerZoom(ViewerZoom),
    /// Show or hide the title/action safe areas.
    ToggleSafeAreas,
    /// Viewer: show the original instead of the lip edit, or back (`\`).
    ToggleBeforeAfter,
    /// Viewer: split wipe at this fraction of the width (original left, edit right), or off.
    SetWipe(Option<f32>),
    /// Viewer: tint the lip edit's region and occlusion.
    ToggleMaskOverlay,
    /// Viewer: face boxes, landmarks and ids.
    ToggleFaceBoxes,
    /// Print (stdout) or reset the playback counters: frames shown, dropped, the lip plan and
    /// compositor in use (the playback benchmark's script steps `stats` / `reset-stats`).
    PlaybackStats {
        /// Reset instead of printing.
        reset: bool,
    },
    /// Cancel the running face analysis or lip planning.
    CancelLipJob,
    /// Run the face analysis and lip plan again (after a failure or a cancel).
    RetryLipJob,
    /// Open the export dialog.
    ShowExport,
    /// Open the render-farm job dialog (File ▸ Export for render farm…).
    ShowFarmExport,
    /// Write render-farm job files for the saved project.
    WriteFarmJob {
        /// Pieces of the picture.
        pieces: u32,
        /// Job file format.
        format: crate::render::farm::jobs::JobFormat,
        /// The job file.
        output: PathBuf,
    },
    /// Close the export dialog.
    HideExport,
    /// Start exporting.
    StartExport {
        /// Format.
        preset: Preset,
        /// Range.
        range: ExportRange,
        /// Target file.
        output: PathBuf,
        /// What the picture shows past its end.
        past_picture: crate::model::PastPicture,
        /// The user confirmed lip edits of faces without recorded consent.
        allow_unconsented: bool,
        /// The burned-in "Lips edited" label, if asked for.
        disclosure: Option<crate::model::disclosure::Disclosure>,
    },
    /// Cancel the running export.
    CancelExport,
    /// Open the file manager at a folder.
    ShowInFolder(PathBuf),
    /// Choose the export's output file (system dialog or the built-in browser).
    BrowseExportOutput,
    /// Relink missing media from a folder; `None` shows a folder dialog.
    RelinkFolder(Option<PathBuf>),
    /// Collect the project, its media, caches and models list into one `.redubz` bundle; `None`
    /// shows a dialog.
    CollectProject(Option<PathBuf>),
    /// Cancel the running collect or bundle open.
    CancelBundle,
    /// Write the timeline as OTIO, FCP7 XML or EDL (by the extension); `None` shows a dialog.
    ExportTimeline(Option<PathBuf>),
    /// Replace the project with one made from an OTIO, FCP7 XML or EDL timeline (asks about
    /// unsaved changes first); `None` shows a dialog.
    ImportTimeline(Option<PathBuf>),
    /// Load the autosave found at start.
    RecoverAutosave,
    /// Throw away the autosave found at start.
    DiscardAutosave,
    /// Close the window (asks about unsaved changes).
    Quit,
    /// The answer to "save changes?".
    Unsaved(UnsavedChoice),
    /// The answer to "no consent on record: bind anyway?" (true binds).
    ConsentPrompt(bool),
    /// Switch the key preset.
    SetKeyPreset(super::keys::KeyPreset),
    /// Selects a lip segment (or clears the lip selection) for the inspector.
    SelectLipSegment(Option<super::lip_lane::LipSegmentRef>),
    /// Opens the painted-mask panel for a lip segment.
    PaintLipMask(super::lip_lane::LipSegmentRef),
    /// Auto-align a dub clip to the original (ADR) or its slot (isochrony): one undoable edit.
    AutoAlign {
        /// The clip.
        clip: ClipId,
        /// Mode, isochrony range, ADR tightness.
        settings: crate::dsp::align::AlignSettings,
    },
}
