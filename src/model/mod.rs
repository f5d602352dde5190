//! The project model: rational time, the project file and its timeline. No GStreamer, no UI.

pub mod hash;
pub mod project;
pub mod time;

pub use project::{
    Clip, ClipId, DubTrack, Ducking, ExportSettings, Marker, MediaId, MediaKind, MediaRef, Preset,
    Project, ProjectError, SCHEMA_VERSION, TrackId,
};
pub use time::{FrameRate, Time, Timecode};

pub mod edit;
pub mod history;
pub use edit::{Edit, EditError};
pub use history::History;
