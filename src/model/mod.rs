//! The project model: rational time, the project file and its timeline, lip settings, edits
//! and their history. The bottom layer: imports nothing else of the crate; no GStreamer, no UI.

pub mod consent;
pub mod dirs;
pub mod disclosure;
pub mod hash;
pub mod interchange;
pub mod lines;
pub mod lip;
pub mod lock;
pub mod loudness;
pub mod output;
pub mod project;
pub mod subtitles;
pub mod time;
pub mod validate;
pub mod warp;

pub use loudness::LoudnessTarget;
pub use project::ClipCue;
pub use project::{
    Clip, ClipId, DubTrack, Ducking, ExportSettings, Marker, MediaId, MediaKind, MediaRef,
    PastPicture, Preset, Project, ProjectError, SCHEMA_VERSION, StartTimecode, TrackId,
};
pub use time::{FrameRate, Time, Timecode};
pub use warp::{AlignMode, Warp, WarpPoint};

pub mod edit;
pub mod history;
pub use edit::{Edit, EditError};
pub use history::{History, HistoryError};
