//! Project file v1: media pool, timeline (video, original audio, dub tracks, markers), export
//! settings. Saved as JSON with a `schema_version`; saves are atomic.

use crate::model::hash::content_hash;
use crate::model::loudness::LoudnessTarget;
use crate::model::time::{FrameRate, Time};
use crate::model::warp::Warp;
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// The schema version this build writes and the newest it reads.
pub const SCHEMA_VERSION: u32 = 1;

/// File extension of project files.
pub const PROJECT_EXTENSION: &str = "redub";

/// Errors loading or saving a project; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The project file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not valid project JSON.
    #[error("{path}: not a valid Redub project (line {line}, column {column}: {message})")]
    Malformed {
        /// The project file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// Written by a newer Redub.
    #[error(
        "{path}: project schema version {found} is newer than this Redub supports ({supported}); \
         open it with a newer Redub (the file was not changed)"
    )]
    NewerSchema {
        /// The project file.
        path: PathBuf,
        /// Version in the file.
        found: u64,
        /// Newest version this build reads.
        supported: u32,
    },
    /// Another process is writing the project (see [`crate::model::lock`]).
    #[error(
        "{path} is being changed by {holder}; nothing was written: try again when it has \
         finished"
    )]
    Locked {
        /// The project file.
        path: PathBuf,
        /// Who holds the lock, e.g. `redub lines import (pid 1234, since 2026-12-07 16:55:01 UTC)`.
        holder: String,
    },
    /// The file is JSON but has no usable `schema_version`.
    #[error("{path}: missing or invalid \"schema_version\"; not a Redub project")]
    NoSchema {
        /// The project file.
        path: PathBuf,
    },
    /// The project refers to something that does not exist.
    #[error("{0}")]
    Invalid(String),
}

/// Identifies a media file in the pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MediaId(pub u32);

/// Identifies a dub track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TrackId(pub u32);

/// Identifies a clip on a dub track.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClipId(pub u32);

/// What a media file holds, as far as the timeline cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// Has a video stream (and maybe audio).
    Video,
    /// Audio only.
    Audio,
}

/// A media file in the pool.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaRef {
    /// Pool id.
    pub id: MediaId,
    /// Video or audio.
    pub kind: MediaKind,
    /// Path relative to the project file's folder where possible (the portable form).
    pub path: PathBuf,
    /// Absolute path at the last save: the fallback when the relative one does not resolve.
    pub absolute_path: PathBuf,
    /// `sha256:` content hash (size + first/last MiB), for relinking.
    pub content_hash: String,
    /// File size in bytes at import.
    pub size: u64,
    /// Duration at import.
    pub duration: Time,
}

/// The picture of the shot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoTrack {
    /// The shot's media; `None` in a project that only mixes audio.
    pub media: Option<MediaId>,
}

/// The shot's own audio (original dialogue, or full mix).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OriginalAudioTrack {
    /// Media whose audio is used; normally the shot itself.
    pub media: Option<MediaId>,
    /// Gain in dB.
    pub gain_db: f32,
    /// Muted tracks are not mixed.
    pub mute: bool,
}

impl Default for OriginalAudioTrack {
    fn default() -> Self {
        Self { media: None, gain_db: 0.0, mute: false }
    }
}

/// A piece of a media file placed on a dub track.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clip {
    /// Clip id, unique in the project.
    pub id: ClipId,
    /// Display name.
    pub name: String,
    /// Source media.
    pub media: MediaId,
    /// First source time used.
    pub source_in: Time,
    /// End of the used source range (exclusive).
    pub source_out: Time,
    /// Timeline time where `source_in` plays.
    pub position: Time,
    /// Clip gain in dB.
    pub gain_db: f32,
    /// Fade-in length.
    pub fade_in: Time,
    /// Fade-out length.
    pub fade_out: Time,
    /// Time warp from auto-align (or by hand); `None` plays the source at its own speed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warp: Option<Warp>,
    /// Ducking of the original under this clip instead of the timeline's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ducking: Option<Ducking>,
    /// The subtitle cue this line was imported from: its slot on the timeline (absolute times)
    /// and text, used by isochrony alignment and written back by SRT/VTT export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cue: Option<ClipCue>,
}

/// A clip's subtitle cue: the slot the line should fill and its text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipCue {
    /// Cue start on the timeline.
    pub start: Time,
    /// Cue end on the timeline.
    pub end: Time,
    /// Cue text (without the speaker).
    pub text: String,
}

impl Clip {
    /// A clip playing the whole of a media file of `duration` at `position`, with the default
    /// 10 ms fades (clicks at cut points are never wanted) and no warp or override.
    pub fn whole(id: ClipId, name: String, media: MediaId, duration: Time, position: Time) -> Self {
        Self {
            id,
            name,
            media,
            source_in: Time::ZERO,
            source_out: duration,
            position,
            gain_db: 0.0,
            fade_in: Time::from_millis(10),
            fade_out: Time::from_millis(10),
            warp: None,
            ducking: None,
            cue: None,
        }
    }

    /// Length on the timeline (the warped length when the clip has a warp).
    pub fn duration(&self) -> Time {
        match &self.warp {
            Some(w) => w.output_len(),
            None => self.source_out - self.source_in,
        }
    }

    /// Timeline time where the clip ends (exclusive).
    pub fn end(&self) -> Time {
        self.position + self.duration()
    }
}

/// [`DubTrack::auto_bind`] of tracks saved before it existed, and of new ones.
fn auto_bind_default() -> bool {
    true
}

/// A track of replacement speech.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DubTrack {
    /// Track id.
    pub id: TrackId,
    /// Display name (often the speaker).
    pub name: String,
    /// Clips, sorted by position.
    pub clips: Vec<Clip>,
    /// Track gain in dB.
    pub gain_db: f32,
    /// Muted tracks are not mixed and do not duck.
    pub mute: bool,
    /// When any track is soloed, only soloed dub tracks play.
    pub solo: bool,
    /// Locked tracks refuse edits in the editor.
    pub locked: bool,
    /// The face this track's speech drives; unbound tracks edit no mouth.
    #[serde(default)]
    pub face: Option<crate::model::lip::FaceId>,
    /// Whether the editor may still bind this track by itself (the shot has one face and the
    /// project one dub track): true until a face is bound to it or it is unbound on purpose, so
    /// a track the user unbound stays unbound when the project is opened again.
    #[serde(default = "auto_bind_default", skip_serializing_if = "Clone::clone")]
    pub auto_bind: bool,
    /// How the bound face's mouth is edited.
    #[serde(default)]
    pub lip: crate::model::lip::LipSettings,
    /// Lip segments whose settings differ from `lip`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lip_segments: Vec<crate::model::lip::LipSegment>,
}

/// A named point on the timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Marker {
    /// Where.
    pub time: Time,
    /// Label.
    pub name: String,
}

/// How the original dialogue is lowered under dub speech.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ducking {
    /// Attenuation in dB (positive number: 12 means −12 dB).
    pub depth_db: f32,
    /// Ramp-down length in ms; the ramp ends where the dub clip starts.
    pub attack_ms: f32,
    /// Ramp-up length in ms after the dub clip ends.
    pub release_ms: f32,
}

impl Default for Ducking {
    fn default() -> Self {
        Self { depth_db: 12.0, attack_ms: 80.0, release_ms: 250.0 }
    }
}

/// Export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// MP4: H.264 High + AAC-LC 48 kHz, faststart.
    Mp4,
    /// WebM: VP9 + Opus.
    Webm,
    /// MOV: ProRes 422 HQ + PCM.
    Mov,
    /// WAV stems: dialogue, background, mix.
    WavStems,
}

impl Preset {
    /// All presets, in menu order.
    pub const ALL: [Preset; 4] = [Preset::Mp4, Preset::Webm, Preset::Mov, Preset::WavStems];

    /// Command-line / file name of the preset.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Mp4 => "mp4",
            Preset::Webm => "webm",
            Preset::Mov => "mov",
            Preset::WavStems => "wav",
        }
    }

    /// Parses a preset name as printed by [`Preset::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name().eq_ignore_ascii_case(name))
    }

    /// File extension of the output.
    pub fn extension(self) -> &'static str {
        match self {
            Preset::WavStems => "wav",
            other => other.name(),
        }
    }
}

/// Export settings kept with the project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExportSettings {
    /// Format.
    pub preset: Preset,
    /// Optional in/out range of the timeline.
    pub range: Option<(Time, Time)>,
    /// Last output path.
    pub output: Option<PathBuf>,
    /// Normalise the mix to this loudness (with a true-peak ceiling); `None` leaves levels alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loudness: Option<LoudnessTarget>,
    /// What the picture shows where the sequence runs past its end (a dub longer than the shot).
    #[serde(default, skip_serializing_if = "PastPicture::is_hold")]
    pub past_picture: PastPicture,
    /// The burned-in "Lips edited" label, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disclosure: Option<crate::model::disclosure::Disclosure>,
}

impl Default for ExportSettings {
    fn default() -> Self {
        Self {
            preset: Preset::Mp4,
            range: None,
            output: None,
            loudness: None,
            past_picture: PastPicture::Hold,
            disclosure: None,
        }
    }
}

/// The picture between its own end and the end of the sequence (see [`Timeline::sequence_end`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PastPicture {
    /// The shot's last frame, held.
    #[default]
    Hold,
    /// Black.
    Black,
}

impl PastPicture {
    /// The default (left out of project files).
    pub fn is_hold(&self) -> bool {
        *self == Self::Hold
    }
}

/// The timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// Frame rate of the timeline (the shot's).
    pub frame_rate: FrameRate,
    /// Length of the timeline.
    pub duration: Time,
    /// The shot.
    pub video: VideoTrack,
    /// The shot's audio.
    pub original_audio: OriginalAudioTrack,
    /// Replacement speech.
    pub dub_tracks: Vec<DubTrack>,
    /// Markers, sorted by time.
    pub markers: Vec<Marker>,
    /// Ducking of the original under dub clips.
    pub ducking: Ducking,
    /// Music-and-effects stem: when set, it replaces the original audio entirely in the mix (and
    /// is not ducked, having no dialogue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub me_track: Option<MediaId>,
    /// The M&E stem is muted (it still replaces the original: the mix has no background).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub me_mute: bool,
    /// Faces of the shot whose lip edit is switched off in the viewer: never edited, even when
    /// a dub track is bound to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faces_off: Vec<crate::model::lip::FaceId>,
    /// What is on record about each face's consent to a lip edit (see [`crate::model::consent`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consent: Vec<crate::model::consent::FaceConsent>,
    /// The user's limit on the timeline's length in hours, when not the default 24 (1 to 168):
    /// a time past the limit is refused on load, save and import (see [`crate::model::validate`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_hours: Option<u32>,
    /// The timecode of the timeline's first frame, when not 00:00:00:00 (kept from and written
    /// to interchange files: OTIO, FCP7 XML, EDL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timecode: Option<StartTimecode>,
}

/// The timecode label of a timeline's first frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartTimecode {
    /// The label as a frame count at the timeline's rate (drop-frame labels skipped), ≥ 0.
    pub frame: i64,
    /// Drop-frame counting (29.97 and 59.94 only).
    pub drop_frame: bool,
}

impl Timeline {
    /// Where the picture ends: the shot's length.
    pub fn picture_end(&self) -> Time {
        self.duration
    }

    /// Where the sequence ends: at its last clip, the shot or a dub line, whichever ends later.
    /// The one length of the project: the header, the Project panel, the export dialog and the
    /// export all use it; past [`Self::picture_end`] the picture holds its last frame or is
    /// black ([`ExportSettings::past_picture`]).
    pub fn sequence_end(&self) -> Time {
        let clips = self.dub_tracks.iter().flat_map(|t| &t.clips).map(Clip::end);
        clips.fold(self.duration, Time::max)
    }
}

/// A Redub project.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// File format version; see [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Title (used in output tags).
    pub name: String,
    /// Media pool.
    pub media: Vec<MediaRef>,
    /// Timeline.
    pub timeline: Timeline,
    /// Export settings.
    pub export: ExportSettings,
}

impl Project {
    /// An empty project at the given frame rate.
    pub fn new(name: impl Into<String>, frame_rate: FrameRate) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            name: name.into(),
            media: Vec::new(),
            timeline: Timeline {
                frame_rate,
                duration: Time::ZERO,
                video: VideoTrack::default(),
                original_audio: OriginalAudioTrack::default(),
                dub_tracks: Vec::new(),
                markers: Vec::new(),
                ducking: Ducking::default(),
                me_track: None,
                me_mute: false,
                faces_off: Vec::new(),
                consent: Vec::new(),
                max_hours: None,
                start_timecode: None,
            },
            export: ExportSettings::default(),
        }
    }

    /// Adds a file to the media pool (hashing it) and returns its id.
    pub fn add_media(
        &mut self,
        path: &Path,
        kind: MediaKind,
        duration: Time,
    ) -> Result<MediaId, ProjectError> {
        let io = |source| ProjectError::Io { path: path.to_path_buf(), source };
        let absolute = std::path::absolute(path).map_err(io)?;
        if let Some(existing) = self.media.iter().find(|m| m.absolute_path == absolute) {
            return Ok(existing.id);
        }
        let size = std::fs::metadata(&absolute).map_err(io)?.len();
        let hash = content_hash(&absolute).map_err(io)?;
        let id = MediaId(self.media.iter().map(|m| m.id.0 + 1).max().unwrap_or(1));
        self.media.push(MediaRef {
            id,
            kind,
            path: absolute.clone(),
            absolute_path: absolute,
            content_hash: hash,
            size,
            duration,
        });
        Ok(id)
    }

    /// Whether the lip edit of `face` is on (the default; see [`Timeline::faces_off`]).
    pub fn face_edit_on(&self, face: crate::model::lip::FaceId) -> bool {
        !self.timeline.faces_off.contains(&face)
    }

    /// Looks up a media file by id.
    pub fn media(&self, id: MediaId) -> Option<&MediaRef> {
        self.media.iter().find(|m| m.id == id)
    }

    /// Adds a dub track and returns its id.
    pub fn add_dub_track(&mut self, name: impl Into<String>) -> TrackId {
        let id = TrackId(self.timeline.dub_tracks.iter().map(|t| t.id.0 + 1).max().unwrap_or(1));
        self.timeline.dub_tracks.push(DubTrack {
            id,
            name: name.into(),
            clips: Vec::new(),
            gain_db: 0.0,
            mute: false,
            solo: false,
            locked: false,
            face: None,
            auto_bind: true,
            lip: Default::default(),
            lip_segments: Vec::new(),
        });
        id
    }

    /// A clip id not used yet.
    pub fn next_clip_id(&self) -> ClipId {
        let max = self.timeline.dub_tracks.iter().flat_map(|t| &t.clips).map(|c| c.id.0).max();
        ClipId(max.map_or(1, |m| m + 1))
    }

    /// Places the whole of a media file on a dub track at `position`.
    pub fn add_clip(
        &mut self,
        track: TrackId,
        media: MediaId,
        position: Time,
    ) -> Result<ClipId, ProjectError> {
        let m = self
            .media(media)
            .ok_or_else(|| ProjectError::Invalid(format!("no media with id {}", media.0)))?;
        let name = m.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let duration = m.duration;
        let id = self.next_clip_id();
        let t =
            self.timeline.dub_tracks.iter_mut().find(|t| t.id == track).ok_or_else(|| {
                ProjectError::Invalid(format!("no dub track with id {}", track.0))
            })?;
        t.clips.push(Clip::whole(id, name, media, duration, position));
        t.clips.sort_by_key(|c| c.position);
        Ok(id)
    }

    /// Whether a dub track is heard, given mute and solo states of all tracks.
    pub fn is_audible(&self, track: &DubTrack) -> bool {
        let any_solo = self.timeline.dub_tracks.iter().any(|t| t.solo);
        !track.mute && (!any_solo || track.solo)
    }

    /// Loads a project. A newer schema, a malformed file, a missing file or a time out of range
    /// ([`Project::validate`]) is a clear error; nothing is written. Media paths are resolved to absolute paths against the file's folder.
    pub fn load(path: &Path) -> Result<Self, ProjectError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ProjectError::Io { path: path.to_path_buf(), source })?;
        Self::from_json(&text, path)
    }

    /// A project from the text of a project file that lives (or would live) at `path`: the
    /// checks of [`Project::load`] without reading the file. `path` names the file in errors and
    /// resolves relative media paths.
    pub fn from_json(text: &str, path: &Path) -> Result<Self, ProjectError> {
        let malformed = |e: serde_json::Error| ProjectError::Malformed {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string().split(" at line").next().unwrap_or_default().to_string(),
        };
        // Read the version first so that a newer file says "newer" rather than "malformed".
        let value: serde_json::Value = serde_json::from_str(text).map_err(malformed)?;
        let version = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| ProjectError::NoSchema { path: path.to_path_buf() })?;
        if version > u64::from(SCHEMA_VERSION) {
            return Err(ProjectError::NewerSchema {
                path: path.to_path_buf(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version == 0 {
            return Err(ProjectError::NoSchema { path: path.to_path_buf() });
        }
        let mut project: Project = serde_json::from_str(text).map_err(malformed)?;
        project.validate().map_err(|e| named(path, e))?;
        let dir = project_dir(path);
        for m in &mut project.media {
            if let Some(found) = resolve_media_path(m, &dir) {
                m.path = found;
            }
        }
        Ok(project)
    }

    /// Saves atomically: a temp file in the same folder, fsync, rename. Media paths are written
    /// relative to the project's folder, with the absolute path kept as fallback. An existing
    /// `path` that is not a regular file (a device, FIFO, folder) is refused, never replaced.
    pub fn save(&self, path: &Path) -> Result<(), ProjectError> {
        let io = |source| ProjectError::Io { path: path.to_path_buf(), source };
        crate::model::output::check_regular_or_new(path)
            .map_err(|e| ProjectError::Invalid(e.to_string()))?;
        self.validate().map_err(|e| named(path, e))?;
        let dir = project_dir(path);
        let mut out = self.clone();
        out.schema_version = SCHEMA_VERSION;
        for m in &mut out.media {
            let abs = if m.path.is_absolute() { m.path.clone() } else { dir.join(&m.path) };
            let abs = std::path::absolute(&abs).map_err(io)?;
            m.path = relative_path(&abs, &dir).unwrap_or_else(|| abs.clone());
            m.absolute_path = abs;
        }
        if let Some(m) = out.media.iter().find(|m| m.absolute_path.to_str().is_none()) {
            return Err(ProjectError::Invalid(format!(
                "{}: cannot store the media path {} (not UTF-8; project files hold paths as \
                 text): rename the file",
                path.display(),
                m.absolute_path.display()
            )));
        }
        let json = serde_json::to_string_pretty(&out)
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        // `.NAME.redub-PID.part.tmp`: registered before it exists, so SIGINT/SIGTERM at any
        // moment removes it; removed by the next save when this process was killed outright.
        // The name is this process's alone (the project lock keeps its own saves apart).
        crate::model::output::remove_stale_parts(path);
        let mut name = crate::model::output::part_stem(path);
        name.push(format!("{}.part.tmp", std::process::id()));
        let tmp_path = dir.join(&name);
        crate::model::output::register_part(&tmp_path);
        // One left by an earlier process with this id (ids are reused).
        let _ = std::fs::remove_file(&tmp_path);
        let mut tmp = match tempfile::Builder::new().prefix(&name).rand_bytes(0).tempfile_in(&dir) {
            Ok(t) => t,
            Err(e) => {
                crate::model::output::unregister_part(&tmp_path);
                return Err(io(e));
            }
        };
        let written = (|| {
            tmp.write_all(json.as_bytes())?;
            tmp.write_all(b"\n")?;
            set_document_permissions(tmp.as_file(), path)?;
            tmp.as_file().sync_all()?;
            tmp.persist(path).map_err(|e| e.error)?;
            // Saved either way; a folder that cannot be synced (some network mounts) is no error.
            let _ = sync_dir(&dir);
            Ok(())
        })();
        crate::model::output::unregister_part(&tmp_path);
        written.map_err(io)
    }
}

/// A validation error prefixed with the project file's path.
fn named(path: &Path, e: ProjectError) -> ProjectError {
    ProjectError::Invalid(format!("{}: {e}", path.display()))
}

/// Makes a rename in `dir` durable (the folder's entry on disk), where the system allows it.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let d = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    std::fs::File::open(d)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Temp files are private (0600); a project is an ordinary document, so it keeps the old file's
/// permissions or gets 0644.
#[cfg(unix)]
fn set_document_permissions(file: &std::fs::File, existing: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let perms = std::fs::metadata(existing)
        .map(|m| m.permissions())
        .unwrap_or_else(|_| std::fs::Permissions::from_mode(0o644));
    file.set_permissions(perms)
}

#[cfg(not(unix))]
fn set_document_permissions(_: &std::fs::File, _: &Path) -> std::io::Result<()> {
    Ok(())
}

/// Where a media file is now: the relative path (against `project_dir`), else the absolute one.
pub fn resolve_media_path(media: &MediaRef, project_dir: &Path) -> Option<PathBuf> {
    let rel =
        if media.path.is_absolute() { media.path.clone() } else { project_dir.join(&media.path) };
    [rel, media.absolute_path.clone()].into_iter().find(|p| p.is_file())
}

/// How the file at `path` differs from what the project recorded of `media` (size, then the
/// content hash: a few MiB read, so cheap on any file), or `None` when it is the same file.
/// Media recorded without a size or hash (hand-written projects) is not checked.
pub fn media_change(media: &MediaRef, path: &Path) -> std::io::Result<Option<String>> {
    let size = std::fs::metadata(path)?.len();
    if media.size != 0 && size != media.size {
        return Ok(Some(format!("its size changed from {} to {size} bytes", media.size)));
    }
    if media.content_hash.starts_with("sha256:") && content_hash(path)? != media.content_hash {
        return Ok(Some("its content changed (same size, different content hash)".into()));
    }
    Ok(None)
}

/// The folder a project file lives in, absolute.
pub fn project_dir(path: &Path) -> PathBuf {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::path::absolute(parent).unwrap_or_else(|_| parent.to_path_buf())
}

/// `target` relative to `base` (both absolute), with `..` where needed; `None` across roots.
pub fn relative_path(target: &Path, base: &Path) -> Option<PathBuf> {
    let t: Vec<Component> = target.components().collect();
    let b: Vec<Component> = base.components().collect();
    if t.first() != b.first() {
        return None;
    }
    let common = t.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &t[common..] {
        out.push(c.as_os_str());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(dir: &Path) -> Project {
        let media = dir.join("media");
        std::fs::create_dir_all(&media).unwrap();
        std::fs::write(media.join("shot.mp4"), b"video bytes").unwrap();
        std::fs::write(media.join("line.wav"), b"audio bytes").unwrap();
        let mut p = Project::new("Test", FrameRate::FPS_25);
        let v = p
            .add_media(&media.join("shot.mp4"), MediaKind::Video, Time::from_millis(10_000))
            .unwrap();
        let a = p
            .add_media(&media.join("line.wav"), MediaKind::Audio, Time::from_millis(1_500))
            .unwrap();
        p.timeline.video.media = Some(v);
        p.timeline.original_audio.media = Some(v);
        p.timeline.duration = Time::from_millis(10_000);
        let t = p.add_dub_track("Dub 1");
        p.add_clip(t, a, Time::from_millis(2_000)).unwrap();
        p.timeline.markers.push(Marker { time: Time::from_millis(500), name: "start".into() });
        p
    }

    #[test]
    fn the_sequence_ends_at_its_last_clip_and_past_picture_saves_only_when_black() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = sample(dir.path());
        // The line ends at 3.5 s, inside the 10 s picture.
        assert_eq!(p.timeline.sequence_end(), Time::from_millis(10_000));
        p.timeline.dub_tracks[0].clips[0].position = Time::from_millis(9_000);
        assert_eq!(p.timeline.picture_end(), Time::from_millis(10_000));
        assert_eq!(p.timeline.sequence_end(), Time::from_millis(10_500), "the dub's end");
        let json = serde_json::to_string(&p).unwrap();
        assert!(!json.contains("past_picture"), "the default is left out of the file");
        p.export.past_picture = PastPicture::Black;
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains(r#""past_picture":"black""#), "{json}");
        let back: Project = serde_json::from_str(&json).unwrap();
        assert_eq!(back.export.past_picture, PastPicture::Black);
    }

    #[test]
    fn save_and_load_round_trip_with_relative_paths() {
        let dir = tempfile::tempdir().unwrap();
        let p = sample(dir.path());
        let file = dir.path().join("proj.redub");
        p.save(&file).unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("\"schema_version\": 1"));
        assert!(text.contains("\"path\": \"media/shot.mp4\""), "{text}");
        let back = Project::load(&file).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn moved_project_folder_still_finds_media_by_relative_path() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::create_dir_all(&a).unwrap();
        let p = sample(&a);
        p.save(&a.join("p.redub")).unwrap();
        let b = dir.path().join("b");
        std::fs::rename(&a, &b).unwrap();
        let back = Project::load(&b.join("p.redub")).unwrap();
        assert_eq!(back.media[0].path, b.join("media/shot.mp4"));
    }

    #[test]
    fn newer_schema_and_malformed_files_are_clear_errors_and_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("future.redub");
        let future = r#"{"schema_version": 99, "whatever": true}"#;
        std::fs::write(&f, future).unwrap();
        let e = Project::load(&f).unwrap_err();
        assert!(matches!(e, ProjectError::NewerSchema { found: 99, .. }), "{e}");
        assert!(e.to_string().contains("future.redub"));
        assert_eq!(std::fs::read_to_string(&f).unwrap(), future);

        let g = dir.path().join("bad.redub");
        std::fs::write(&g, "{\n  \"schema_version\": 1,\n  oops\n}").unwrap();
        let e = Project::load(&g).unwrap_err();
        match &e {
            ProjectError::Malformed { line, .. } => assert_eq!(*line, 3),
            other => panic!("unexpected {other}"),
        }
        assert!(e.to_string().contains("bad.redub"));

        let h = dir.path().join("noschema.redub");
        std::fs::write(&h, "{}").unwrap();
        assert!(matches!(Project::load(&h).unwrap_err(), ProjectError::NoSchema { .. }));
        let missing = dir.path().join("missing.redub");
        assert!(matches!(Project::load(&missing).unwrap_err(), ProjectError::Io { .. }));
    }

    #[test]
    fn relative_path_walks_up() {
        let r = relative_path(Path::new("/a/b/c.mp4"), Path::new("/a/d/e")).unwrap();
        assert_eq!(r, PathBuf::from("../../b/c.mp4"));
    }

    #[test]
    fn solo_and_mute_decide_audibility() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = sample(dir.path());
        let t2 = p.add_dub_track("Dub 2");
        assert!(p.is_audible(&p.timeline.dub_tracks[0]));
        p.timeline.dub_tracks[1].solo = true;
        assert!(!p.is_audible(&p.timeline.dub_tracks[0]));
        assert!(p.is_audible(&p.timeline.dub_tracks[1]));
        p.timeline.dub_tracks[1].mute = true;
        assert!(!p.is_audible(&p.timeline.dub_tracks[1]));
        assert_eq!(t2, TrackId(2));
    }
}
