//! Timeline interchange with editing applications: OpenTimelineIO JSON ([`otio`]), Final Cut
//! Pro 7 XML ([`fcp7`]) and CMX 3600 EDL ([`edl`]).
//!
//! Every format goes through one neutral [`Cut`]: tracks of clips at timeline positions, markers,
//! a frame rate and a start timecode. [`Cut::from_project`] and [`Cut::into_project`] hold the
//! Redub-specific mapping once (which track is the shot, which the original audio, relinking
//! media, merging overlap lanes), so each format only reads and writes its own syntax.
//!
//! What Redub knows beyond a cut (a clip's warp, fades, ducking; a track's face and lip
//! settings) travels as JSON under a `redub` key where the format has metadata (OTIO) and is
//! lost where it has none (FCP7 XML keeps names, positions, gains and markers; EDL positions and
//! names). Times are converted with the rational model, so frame positions survive exactly.

pub mod edl;
pub mod fcp7;
pub mod otio;

use crate::model::hash::content_hash;
use crate::model::project::{
    Clip, ClipId, DubTrack, MediaId, MediaKind, MediaRef, Project, StartTimecode,
};
use crate::model::time::{FrameRate, TICKS_PER_SECOND, Time};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

/// Version of the `redub` metadata this build writes.
pub const METADATA_VERSION: u32 = 1;

/// An interchange file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum InterchangeError {
    /// The file's syntax is broken or a required field is missing.
    #[error("{0}")]
    Malformed(String),
    /// The project cannot be expressed in the format.
    #[error("{0}")]
    Unsupported(String),
}

impl InterchangeError {
    fn malformed(msg: impl Into<String>) -> Self {
        Self::Malformed(msg.into())
    }
}

/// Interchange formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// OpenTimelineIO JSON (`.otio`).
    Otio,
    /// Final Cut Pro 7 XML, xmeml version 5 (`.xml`, `.xmeml`).
    Fcp7Xml,
    /// CMX 3600 edit decision list (`.edl`), one track per file.
    Edl,
}

impl Format {
    /// The format of a file by its extension.
    pub fn from_path(path: &Path) -> Option<Self> {
        Self::from_name(&path.extension()?.to_string_lossy())
    }

    /// The format for a name as given to `--format` (or an extension).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "otio" => Some(Self::Otio),
            "xml" | "xmeml" | "fcp7" | "fcpxml7" => Some(Self::Fcp7Xml),
            "edl" | "cmx3600" => Some(Self::Edl),
            _ => None,
        }
    }
}

/// Whether a track holds pictures or sound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackKind {
    /// Pictures.
    Video,
    /// Sound.
    Audio,
}

/// A clip of a [`Cut`] track.
#[derive(Clone, Debug, PartialEq)]
pub struct CutClip {
    /// Clip name.
    pub name: String,
    /// Where it starts on the timeline (0 = the first frame, whatever the start timecode).
    pub position: Time,
    /// First source time used.
    pub source_in: Time,
    /// Length on the timeline.
    pub duration: Time,
    /// The media file, as a path or `file://` URL; `None` for a clip without media.
    pub url: Option<String>,
    /// Length of the whole media file, when known.
    pub media_duration: Option<Time>,
    /// Clip gain in dB, where the format has one.
    pub gain_db: Option<f32>,
    /// Redub's own data for the clip (`redub` metadata), if any.
    pub redub: Option<Value>,
}

impl CutClip {
    /// Where the clip ends on the timeline.
    pub fn end(&self) -> Time {
        self.position + self.duration
    }
}

/// A track of a [`Cut`]: clips sorted by position, none overlapping.
#[derive(Clone, Debug, PartialEq)]
pub struct CutTrack {
    /// Pictures or sound.
    pub kind: TrackKind,
    /// Track name.
    pub name: String,
    /// The clips.
    pub clips: Vec<CutClip>,
    /// Redub's own data for the track, if any.
    pub redub: Option<Value>,
}

/// A marker of a [`Cut`].
#[derive(Clone, Debug, PartialEq)]
pub struct CutMarker {
    /// Where, on the timeline.
    pub time: Time,
    /// Label.
    pub name: String,
}

/// A timeline in the terms every interchange format shares.
#[derive(Clone, Debug, PartialEq)]
pub struct Cut {
    /// Sequence name.
    pub name: String,
    /// Frame rate of the timeline.
    pub rate: FrameRate,
    /// Timecode of the first frame, as a frame count at `rate`.
    pub start_frame: i64,
    /// Drop-frame timecode; `None` when the file does not say (then 29.97/59.94 count drop-frame,
    /// as OpenTimelineIO infers it).
    pub drop_frame: Option<bool>,
    /// Tracks, pictures first.
    pub tracks: Vec<CutTrack>,
    /// Markers.
    pub markers: Vec<CutMarker>,
    /// Redub's own data for the timeline, if any.
    pub redub: Option<Value>,
    /// What the reader found but a project cannot hold (effects, transitions...).
    pub unsupported: Vec<String>,
    /// The project's last render (its export output, when that file exists): OTIO offers it as
    /// an alternative media reference of the picture clip (`REDUB_RENDERED`).
    pub rendered: Option<PathBuf>,
}

/// A project made from an interchange file, and what it could not take over.
#[derive(Debug)]
pub struct Imported {
    /// The project (not saved).
    pub project: Project,
    /// Things in the file the project does not hold or media not found, one phrase each.
    pub warnings: Vec<String>,
}

/// `file://` URL of an absolute path (percent-encoding what a URL cannot hold as is).
pub fn path_to_url(path: &Path) -> String {
    let text = path.to_string_lossy();
    let mut out = String::from("file://");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The path of a `file://` URL or a plain path; `None` for other URL schemes.
pub fn url_to_path(url: &str) -> Option<PathBuf> {
    let rest = if let Some(r) = url.strip_prefix("file://localhost") {
        r
    } else if let Some(r) = url.strip_prefix("file://") {
        r
    } else if let Some(r) = url.strip_prefix("file:") {
        r
    } else if url.contains("://") {
        return None;
    } else {
        return Some(PathBuf::from(url));
    };
    let bytes = rest.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |k: usize| bytes.get(k).and_then(|c| char::from(*c).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                // Two hex digits: below 256.
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'%'));
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(PathBuf::from(String::from_utf8_lossy(&out).into_owned()))
}

/// `t` in frames of `rate`, as a float: whole frames exactly, the fraction of a frame as close
/// as `f64` allows (far below one tick), so [`frames_to_time`] gives `t` back.
pub fn time_to_frames(t: Time, rate: FrameRate) -> f64 {
    let n = i128::from(t.ticks()) * i128::from(rate.num);
    let d = i128::from(rate.den) * i128::from(TICKS_PER_SECOND);
    let whole = n.div_euclid(d);
    let rem = n.rem_euclid(d);
    whole as f64 + rem as f64 / d as f64
}

/// A (possibly fractional) frame count of `rate` as a time, to the nearest tick.
pub fn frames_to_time(frames: f64, rate: FrameRate) -> Time {
    if !frames.is_finite() {
        return Time::ZERO;
    }
    let whole = frames.floor();
    let frac = frames - whole;
    // Saturating casts: absurd values become absurd times that validation refuses.
    let base = rate.frame_to_time(whole as i64);
    let frame_ticks = rate.frame_duration().ticks() as f64;
    base + Time::from_ticks((frac * frame_ticks).round() as i64)
}

/// The nearest whole frame of `t` (halves round up): positions in frame-based formats.
pub fn nearest_frame(t: Time, rate: FrameRate) -> i64 {
    let half = Time::from_ticks(rate.frame_duration().ticks() / 2);
    rate.time_to_frame(t + half)
}

/// A float rate as written by editors (23.976023976, 29.97, 48000) as an exact rate.
pub fn rate_from_f64(rate: f64) -> Result<FrameRate, InterchangeError> {
    FrameRate::from_f64_guess(rate)
        .ok_or_else(|| InterchangeError::malformed(format!("invalid rate {rate}")))
}

/// Where a dub track's clips go when some overlap: lane 0 holds what fits in order, each later
/// lane the clips that overlapped every lane before it. Formats' tracks cannot overlap clips.
fn lanes(clips: &[Clip]) -> Vec<Vec<&Clip>> {
    let mut sorted: Vec<&Clip> = clips.iter().collect();
    sorted.sort_by_key(|c| c.position);
    let mut lanes: Vec<Vec<&Clip>> = Vec::new();
    for c in sorted {
        match lanes.iter_mut().find(|l| l.last().is_none_or(|p| p.end() <= c.position)) {
            Some(lane) => lane.push(c),
            None => lanes.push(vec![c]),
        }
    }
    if lanes.is_empty() {
        lanes.push(Vec::new());
    }
    lanes
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// A clip over the whole of a pool file (the shot on the picture or original audio track).
fn whole_media_clip(m: &MediaRef, length: Time) -> CutClip {
    // The shot plays for the timeline's length (its file may run longer, e.g. its sound).
    let duration = match (m.duration > Time::ZERO, length > Time::ZERO) {
        (true, true) => m.duration.min(length),
        (true, false) => m.duration,
        _ => length,
    };
    CutClip {
        name: file_name(&m.absolute_path),
        position: Time::ZERO,
        source_in: Time::ZERO,
        duration,
        url: Some(path_to_url(&m.absolute_path)),
        media_duration: Some(m.duration).filter(|d| *d > Time::ZERO),
        gain_db: None,
        redub: Some(json!({ "media": media_json(m) })),
    }
}

fn media_json(m: &MediaRef) -> Value {
    json!({ "content_hash": m.content_hash, "size": m.size })
}

/// A project's media with absolute paths (a loaded project may hold them relative to its file).
fn absolute_media(project: &Project, project_dir: &Path) -> Vec<MediaRef> {
    project
        .media
        .iter()
        .map(|m| {
            let mut m = m.clone();
            let p = if m.path.is_absolute() { m.path.clone() } else { project_dir.join(&m.path) };
            m.absolute_path = std::path::absolute(&p).unwrap_or(p);
            m
        })
        .collect()
}

impl Cut {
    /// The cut of a project whose file lives in `project_dir` (relative media paths resolve
    /// against it).
    pub fn from_project(project: &Project, project_dir: &Path) -> Self {
        let tl = &project.timeline;
        let media = absolute_media(project, project_dir);
        let find = |id: MediaId| media.iter().find(|m| m.id == id);
        let mut tracks = Vec::new();
        let mut video = CutTrack {
            kind: TrackKind::Video,
            name: "Picture".into(),
            clips: Vec::new(),
            redub: Some(json!({ "role": "picture" })),
        };
        if let Some(m) = tl.video.media.and_then(find) {
            video.clips.push(whole_media_clip(m, tl.duration));
        }
        tracks.push(video);
        if let Some(m) = tl.original_audio.media.and_then(find) {
            let mut clip = whole_media_clip(m, tl.duration);
            clip.gain_db = Some(tl.original_audio.gain_db);
            tracks.push(CutTrack {
                kind: TrackKind::Audio,
                name: "Original audio".into(),
                clips: vec![clip],
                redub: Some(json!({
                    "role": "original",
                    "gain_db": tl.original_audio.gain_db,
                    "mute": tl.original_audio.mute,
                })),
            });
        }
        if let Some(m) = tl.me_track.and_then(find) {
            tracks.push(CutTrack {
                kind: TrackKind::Audio,
                name: "M&E".into(),
                clips: vec![whole_media_clip(m, tl.duration)],
                redub: Some(json!({ "role": "me", "mute": tl.me_mute })),
            });
        }
        for t in &tl.dub_tracks {
            let mut settings = t.clone();
            settings.clips.clear();
            let settings = serde_json::to_value(&settings).unwrap_or(Value::Null);
            for (lane, clips) in lanes(&t.clips).into_iter().enumerate() {
                let name =
                    if lane == 0 { t.name.clone() } else { format!("{} (overlap {lane})", t.name) };
                let clips = clips
                    .into_iter()
                    .map(|c| {
                        let m = find(c.media);
                        let mut redub = json!({ "clip": c });
                        if let Some(m) = m {
                            redub["media"] = media_json(m);
                        }
                        CutClip {
                            name: c.name.clone(),
                            position: c.position,
                            source_in: c.source_in,
                            duration: c.duration(),
                            url: m.map(|m| path_to_url(&m.absolute_path)),
                            media_duration: m.map(|m| m.duration).filter(|d| *d > Time::ZERO),
                            gain_db: Some(c.gain_db),
                            redub: Some(redub),
                        }
                    })
                    .collect();
                tracks.push(CutTrack {
                    kind: TrackKind::Audio,
                    name,
                    clips,
                    redub: Some(json!({ "role": "dub", "lane": lane, "track": settings })),
                });
            }
        }
        let start = tl.start_timecode;
        Cut {
            name: project.name.clone(),
            rate: tl.frame_rate,
            start_frame: start.map_or(0, |s| s.frame),
            drop_frame: Some(start.map_or(tl.frame_rate.is_drop_frame_rate(), |s| s.drop_frame)),
            tracks,
            markers: tl
                .markers
                .iter()
                .map(|m| CutMarker { time: m.time, name: m.name.clone() })
                .collect(),
            redub: Some(json!({
                "version": METADATA_VERSION,
                "duration": tl.duration,
                "ducking": tl.ducking,
                "faces_off": tl.faces_off,
                "max_hours": tl.max_hours,
            })),
            unsupported: Vec::new(),
            rendered: project
                .export
                .output
                .as_ref()
                .map(|o| if o.is_absolute() { o.clone() } else { project_dir.join(o) })
                .filter(|o| o.is_file()),
        }
    }

    /// The project this cut describes. Media is relinked by the path in the file, then by file
    /// name in `import_dir` (the imported file's folder), then by content hash among the files
    /// there when the file carries Redub's hash; media not found stays in the pool at the path
    /// the file gave and is named in a warning.
    pub fn into_project(self, import_dir: &Path) -> Result<Imported, InterchangeError> {
        let mut warnings = self.unsupported.clone();
        let mut project = Project::new(self.name.clone(), self.rate);
        let drop_frame = self.drop_frame.unwrap_or(self.rate.is_drop_frame_rate())
            && self.rate.is_drop_frame_rate();
        if self.start_frame != 0 || drop_frame != self.rate.is_drop_frame_rate() {
            project.timeline.start_timecode =
                Some(StartTimecode { frame: self.start_frame.max(0), drop_frame });
        }
        let mut linker = Linker::new(import_dir);
        // The end of everything, and of the dub clips alone (the shot's file may run past the
        // timeline's end, which Redub's own metadata states).
        let mut end = Time::ZERO;
        let mut dub_end = Time::ZERO;

        let (videos, audios): (Vec<CutTrack>, Vec<CutTrack>) =
            self.tracks.into_iter().partition(|t| t.kind == TrackKind::Video);
        let mut shot_url = None;
        for (i, t) in videos.iter().enumerate() {
            for (k, c) in t.clips.iter().enumerate() {
                end = end.max(c.end());
                if i == 0 && k == 0 {
                    let id = linker.link(&mut project, c, MediaKind::Video, &mut warnings);
                    project.timeline.video.media = id;
                    shot_url = c.url.clone();
                } else {
                    let file = c.url.as_deref().and_then(url_to_path);
                    let file = file.as_deref().map(file_name).unwrap_or_default();
                    warnings.push(format!(
                        "picture clip {:?} ({file}) on {} (Redub keeps the first picture clip \
                         as its shot)",
                        c.name,
                        if t.name.is_empty() {
                            format!("video track {}", i + 1)
                        } else {
                            t.name.clone()
                        }
                    ));
                }
            }
        }

        let mut lane_owner: Vec<(Value, usize)> = Vec::new();
        for t in audios {
            let role = t.redub.as_ref().and_then(|r| r["role"].as_str()).unwrap_or("");
            let same_as_shot = |c: &CutClip| shot_url.is_some() && c.url == shot_url;
            let is_original = role == "original"
                || (role.is_empty()
                    && project.timeline.original_audio.media.is_none()
                    && !t.clips.is_empty()
                    && t.clips.iter().all(same_as_shot));
            // Editors often carry the shot's sound as one track per channel (A1 left, A2
            // right): the second and later ones are the original audio already taken.
            if role.is_empty()
                && !is_original
                && !t.clips.is_empty()
                && t.clips.iter().all(same_as_shot)
            {
                for c in &t.clips {
                    end = end.max(c.end());
                }
                warnings.push(format!(
                    "audio track {:?} (more of the shot's own sound: the original audio is \
                     taken from the first such track)",
                    t.name
                ));
                continue;
            }
            if is_original {
                for c in &t.clips {
                    end = end.max(c.end());
                }
                let Some(c) = t.clips.first() else { continue };
                let id = linker.link(&mut project, c, MediaKind::Video, &mut warnings);
                let oa = &mut project.timeline.original_audio;
                oa.media = id;
                if let Some(r) = &t.redub {
                    oa.gain_db = r["gain_db"].as_f64().map_or(0.0, |g| g as f32);
                    oa.mute = r["mute"].as_bool().unwrap_or(false);
                } else if let Some(g) = c.gain_db {
                    oa.gain_db = g;
                }
                continue;
            }
            if role == "me" {
                if let Some(c) = t.clips.first() {
                    end = end.max(c.end());
                    project.timeline.me_track =
                        linker.link(&mut project, c, MediaKind::Audio, &mut warnings);
                    project.timeline.me_mute =
                        t.redub.as_ref().and_then(|r| r["mute"].as_bool()).unwrap_or(false);
                }
                continue;
            }
            // Overlap lanes of one Redub track come back as one track.
            let settings = t.redub.as_ref().map(|r| r["track"].clone()).filter(|v| v.is_object());
            let lane = t.redub.as_ref().and_then(|r| r["lane"].as_u64()).unwrap_or(0);
            let existing = settings.as_ref().filter(|_| lane > 0).and_then(|s| {
                lane_owner.iter().find(|(v, _)| v["id"] == s["id"]).map(|(_, idx)| *idx)
            });
            let index = match existing {
                Some(i) => i,
                None => {
                    let id = project.add_dub_track(t.name.clone());
                    let index = project.timeline.dub_tracks.len() - 1;
                    if let Some(s) = &settings {
                        if let Ok(mut kept) = serde_json::from_value::<DubTrack>(s.clone()) {
                            kept.id = id;
                            kept.name = t.name.clone();
                            kept.clips.clear();
                            project.timeline.dub_tracks[index] = kept;
                        }
                        lane_owner.push((s.clone(), index));
                    }
                    index
                }
            };
            for c in &t.clips {
                end = end.max(c.end());
                dub_end = dub_end.max(c.end());
                let Some(media) = linker.link(&mut project, c, MediaKind::Audio, &mut warnings)
                else {
                    continue;
                };
                let id = project.next_clip_id();
                let clip = make_clip(c, id, media);
                project.timeline.dub_tracks[index].clips.push(clip);
            }
            project.timeline.dub_tracks[index].clips.sort_by_key(|c| c.position);
        }

        project.timeline.markers = self
            .markers
            .into_iter()
            .map(|m| crate::model::project::Marker { time: m.time, name: m.name })
            .collect();
        project.timeline.markers.sort_by_key(|m| m.time);
        if let Some(r) = &self.redub {
            if let Ok(d) = serde_json::from_value(r["ducking"].clone()) {
                project.timeline.ducking = d;
            }
            if let Ok(f) = serde_json::from_value(r["faces_off"].clone()) {
                project.timeline.faces_off = f;
            }
            if let Ok(h) = serde_json::from_value(r["max_hours"].clone()) {
                project.timeline.max_hours = h;
            }
            if let Ok(d) = serde_json::from_value::<Time>(r["duration"].clone()) {
                end = d.max(dub_end);
            }
        }
        project.timeline.duration = end;
        project.validate().map_err(|e| InterchangeError::Unsupported(e.to_string()))?;
        Ok(Imported { project, warnings })
    }
}

/// A dub clip from a cut clip: Redub's own clip data when the file carries it (fades, warp,
/// ducking, cue), with what an editor may have changed (name, position, source in, gain) taken
/// from the file.
fn make_clip(c: &CutClip, id: ClipId, media: MediaId) -> Clip {
    let kept =
        c.redub.as_ref().and_then(|r| serde_json::from_value::<Clip>(r["clip"].clone()).ok());
    let mut clip = match kept {
        Some(k) => {
            let mut k = k;
            // Source out as the editor trimmed it (a warp keeps its own mapped length).
            if k.warp.is_none() {
                k.source_out = c.source_in + c.duration;
            } else {
                k.source_out = c.source_in + (k.source_out - k.source_in);
            }
            k
        }
        None => Clip::whole(id, c.name.clone(), media, c.duration, c.position),
    };
    clip.id = id;
    clip.media = media;
    clip.name = c.name.clone();
    clip.position = c.position;
    if clip.warp.is_none() {
        clip.source_out = c.source_in + c.duration;
    }
    clip.source_in = c.source_in;
    if let Some(g) = c.gain_db {
        clip.gain_db = g;
    }
    clip
}

/// Finds the media files of an imported cut and adds each once to the pool.
struct Linker {
    dir: PathBuf,
    /// Files in `dir` (and one level below) by size, for the content-hash search.
    listing: Option<Vec<(PathBuf, u64)>>,
    /// URL → pool id, so a file used by many clips is looked up once.
    seen: Vec<(String, MediaId)>,
}

impl Linker {
    fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf(), listing: None, seen: Vec::new() }
    }

    fn listing(&mut self) -> &[(PathBuf, u64)] {
        let dir = self.dir.clone();
        self.listing.get_or_insert_with(|| {
            let mut out = Vec::new();
            let mut walk = vec![(dir, 0)];
            while let Some((d, depth)) = walk.pop() {
                let Ok(entries) = std::fs::read_dir(&d) else { continue };
                for e in entries.flatten() {
                    let p = e.path();
                    match e.metadata() {
                        Ok(m) if m.is_file() => out.push((p, m.len())),
                        Ok(m) if m.is_dir() && depth < 1 => walk.push((p, depth + 1)),
                        _ => {}
                    }
                }
            }
            out
        })
    }

    /// The file a clip refers to, if it can be found.
    fn find(&mut self, c: &CutClip) -> Option<PathBuf> {
        let given = url_to_path(c.url.as_deref()?)?;
        let given = if given.is_absolute() { given } else { self.dir.join(given) };
        if given.is_file() {
            return Some(given);
        }
        if let Some(name) = given.file_name() {
            let here = self.dir.join(name);
            if here.is_file() {
                return Some(here);
            }
        }
        let media = c.redub.as_ref().map(|r| &r["media"])?;
        let (hash, size) = (media["content_hash"].as_str()?.to_string(), media["size"].as_u64()?);
        let candidates: Vec<PathBuf> =
            self.listing().iter().filter(|(_, s)| *s == size).map(|(p, _)| p.clone()).collect();
        candidates.into_iter().find(|p| content_hash(p).is_ok_and(|h| h == hash))
    }

    fn link(
        &mut self,
        project: &mut Project,
        c: &CutClip,
        kind: MediaKind,
        warnings: &mut Vec<String>,
    ) -> Option<MediaId> {
        let Some(url) = c.url.clone() else {
            warnings.push(format!("clip {:?} (it has no media file)", c.name));
            return None;
        };
        if let Some((_, id)) = self.seen.iter().find(|(u, _)| *u == url) {
            return Some(*id);
        }
        let duration = c.media_duration.unwrap_or(c.source_in + c.duration);
        let id = match self.find(c) {
            Some(path) => project.add_media(&path, kind, duration).ok(),
            None => None,
        };
        let id = id.unwrap_or_else(|| {
            let path = url_to_path(&url).unwrap_or_else(|| PathBuf::from(&url));
            warnings.push(format!("media not found: {}", path.display()));
            let id = MediaId(project.media.iter().map(|m| m.id.0 + 1).max().unwrap_or(1));
            let abs = if path.is_absolute() { path.clone() } else { self.dir.join(&path) };
            project.media.push(MediaRef {
                id,
                kind,
                path: abs.clone(),
                absolute_path: abs,
                content_hash: String::new(),
                size: 0,
                duration,
            });
            id
        });
        self.seen.push((url, id));
        Some(id)
    }
}

/// The files an export of `cut` to `output` writes, as `(path, text)`: one for OTIO and FCP7
/// XML; for an EDL one per track (`OUT.V1.edl`, `OUT.A1.edl`…, see [`edl::track_labels`]), or
/// only `track`'s (at `output` itself).
pub fn export_files(
    cut: &Cut,
    output: &Path,
    format: Format,
    track: Option<&str>,
) -> Result<Vec<(PathBuf, String)>, InterchangeError> {
    match format {
        Format::Otio => Ok(vec![(output.to_path_buf(), otio::write(cut))]),
        Format::Fcp7Xml => Ok(vec![(output.to_path_buf(), fcp7::write(cut)?)]),
        Format::Edl => {
            let labels = edl::track_labels(cut);
            if let Some(t) = track {
                let i = labels.iter().position(|l| l.eq_ignore_ascii_case(t)).ok_or_else(|| {
                    InterchangeError::Unsupported(format!(
                        "no track {t:?}; the timeline has {}",
                        labels.join(", ")
                    ))
                })?;
                return Ok(vec![(output.to_path_buf(), edl::write(cut, i)?)]);
            }
            let stem =
                output.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            labels
                .iter()
                .enumerate()
                .map(|(i, label)| {
                    let path = output.with_file_name(format!("{stem}.{label}.edl"));
                    Ok((path, edl::write(cut, i)?))
                })
                .collect()
        }
    }
}

/// Reads an interchange file's text. An EDL does not state its rate: `edl_rate` gives it (an
/// error without it); `name` names an EDL's timeline when it has no title.
pub fn read(
    text: &str,
    format: Format,
    edl_rate: Option<FrameRate>,
    name: &str,
) -> Result<Cut, InterchangeError> {
    match format {
        Format::Otio => otio::read(text),
        Format::Fcp7Xml => fcp7::read(text),
        Format::Edl => {
            let rate = edl_rate.ok_or_else(|| {
                InterchangeError::Unsupported(
                    "an EDL does not state its frame rate: give it (e.g. --rate 29.97)".into(),
                )
            })?;
            edl::read(text, rate, name)
        }
    }
}

/// Writes `text` to `path` through a temp file in the same folder, fsync and a rename, so a
/// reader never sees half a file.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let dir = crate::model::project::project_dir(path);
    let mut tmp = tempfile::Builder::new().prefix(".redub-timeline").tempfile_in(&dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// One warning line for everything an import left out.
pub fn warning_line(warnings: &[String]) -> Option<String> {
    (!warnings.is_empty()).then(|| format!("not taken over or not found: {}", warnings.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_round_trip_with_spaces_and_non_ascii() {
        let p = Path::new("/media/takes/Anna é 100%.wav");
        let url = path_to_url(p);
        assert_eq!(url, "file:///media/takes/Anna%20%C3%A9%20100%25.wav");
        assert_eq!(url_to_path(&url).unwrap(), p);
        assert_eq!(url_to_path("file://localhost/a%20b.wav").unwrap(), Path::new("/a b.wav"));
        assert_eq!(url_to_path("relative/x.wav").unwrap(), Path::new("relative/x.wav"));
        assert_eq!(url_to_path("https://example.com/x.wav"), None);
    }

    #[test]
    fn fractional_frames_give_back_the_same_tick_at_every_rate() {
        let rates = [
            FrameRate::FPS_23_976,
            FrameRate::FPS_24,
            FrameRate::FPS_25,
            FrameRate::FPS_29_97,
            FrameRate::FPS_30,
            FrameRate::FPS_50,
            FrameRate::FPS_59_94,
        ];
        for rate in rates {
            // Frame starts, a millisecond grid and odd tick counts, up to 23 hours.
            let mut t = 0i64;
            while t < 23 * 3600 * TICKS_PER_SECOND {
                for time in [Time::from_ticks(t), rate.frame_to_time(t / 1_000_000)] {
                    let back = frames_to_time(time_to_frames(time, rate), rate);
                    assert_eq!(back, time, "{rate}");
                }
                t += 7_919 * 104_729 * 13;
            }
            assert_eq!(nearest_frame(rate.frame_to_time(1000), rate), 1000);
            let just_before = rate.frame_to_time(1000) - Time::from_ticks(1);
            assert_eq!(nearest_frame(just_before, rate), 1000);
        }
    }

    #[test]
    fn the_last_render_is_an_alternative_reference_of_the_picture_clip() {
        let dir = tempfile::tempdir().unwrap();
        let shot = dir.path().join("shot.mp4");
        std::fs::write(&shot, b"picture").unwrap();
        let render = dir.path().join("dubbed.mp4");
        let mut p = Project::new("r", FrameRate::FPS_25);
        let v = p.add_media(&shot, MediaKind::Video, Time::from_millis(2000)).unwrap();
        p.timeline.video.media = Some(v);
        p.export.output = Some(render.clone());
        // No render on disk: no reference to it.
        let text = otio::write(&Cut::from_project(&p, dir.path()));
        assert!(!text.contains(otio::RENDERED_KEY));
        std::fs::write(&render, b"rendered").unwrap();
        let text = otio::write(&Cut::from_project(&p, dir.path()));
        let doc: Value = serde_json::from_str(&text).unwrap();
        let clip = &doc["tracks"]["children"][0]["children"][0];
        assert_eq!(clip["active_media_reference_key"], "DEFAULT_MEDIA");
        let url = clip["media_references"][otio::RENDERED_KEY]["target_url"].as_str().unwrap();
        assert_eq!(url_to_path(url).unwrap(), render);
        // Reading it back keeps the shot as the shot.
        let back = otio::read(&text).unwrap().into_project(dir.path()).unwrap().project;
        assert_eq!(back.media(back.timeline.video.media.unwrap()).unwrap().path, shot);
    }
}
