//! Dub lines from a subtitle file and a folder of line recordings: one clip per cue, on the
//! dub track of the cue's speaker. Shared by `redub lines import` and the editor's
//! File ▸ Import subtitles…; the caller measures the audio files (this layer decodes nothing).

use super::project::{ClipCue, Marker, MediaKind, Project, ProjectError, TrackId};
use super::subtitles::{self, Cue, SubtitleFormat, TextEncoding};
use super::time::Time;
use std::path::{Path, PathBuf};

/// The audio file extensions taken from a lines folder.
pub const AUDIO_EXTENSIONS: [&str; 8] = ["wav", "flac", "mp3", "ogg", "opus", "m4a", "aac", "aiff"];

/// Why lines could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum LinesError {
    /// The files do not fit (a message naming them).
    #[error("{0}")]
    Files(String),
    /// The project refused a change.
    #[error(transparent)]
    Project(#[from] ProjectError),
}

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinesReport {
    /// Lines placed.
    pub lines: usize,
    /// Dub tracks they went to.
    pub tracks: Vec<TrackId>,
}

/// Reads a .srt or .vtt file (UTF-8, or Latin-1 when it is not: the encoding is returned so the
/// caller can say so).
pub fn read_cues(path: &Path) -> Result<(Vec<Cue>, TextEncoding), LinesError> {
    let format = SubtitleFormat::from_path(path)
        .ok_or_else(|| LinesError::Files(format!("{}: not a .srt or .vtt file", path.display())))?;
    let bytes =
        std::fs::read(path).map_err(|e| LinesError::Files(format!("{}: {e}", path.display())))?;
    let (text, encoding) = subtitles::decode(&bytes);
    let cues = subtitles::parse(&text, format)
        .map_err(|e| LinesError::Files(format!("{}: {e}", path.display())))?;
    Ok((cues, encoding))
}

/// Refuses a cue past the project's timeline limit (24 h unless it says), naming the cue.
pub fn check_cue_limit(project: &Project, srt: &Path, cues: &[Cue]) -> Result<(), LinesError> {
    use super::validate::{LONGER_HINT, MAX_HOURS, hours_limit};
    let hours = project.timeline.max_hours.unwrap_or(24);
    let limit = hours_limit(hours);
    if let Some((k, cue)) = cues.iter().enumerate().find(|(_, c)| c.end > limit) {
        let hint = if hours < MAX_HOURS { format!("; {LONGER_HINT}") } else { String::new() };
        return Err(LinesError::Files(format!(
            "{}: cue {} ends at {}, past the {hours} h limit of this project's timeline{hint}",
            srt.display(),
            cue.id.clone().unwrap_or_else(|| (k + 1).to_string()),
            cue.end
        )));
    }
    Ok(())
}

/// Sort key that orders `line2` before `line10`.
fn natural_key(name: &str) -> Vec<(u8, u64, String)> {
    let mut out = Vec::new();
    let mut chars = name.chars().peekable();
    while let Some(&c) = chars.peek() {
        let digit = c.is_ascii_digit();
        let mut run = String::new();
        while let Some(&d) = chars.peek() {
            if d.is_ascii_digit() != digit {
                break;
            }
            run.push(d);
            chars.next();
        }
        if digit {
            out.push((0, run.parse().unwrap_or(u64::MAX), String::new()));
        } else {
            out.push((1, 0, run.to_lowercase()));
        }
    }
    out
}

fn first_number(stem: &str) -> Option<u64> {
    let digits: String =
        stem.chars().skip_while(|c| !c.is_ascii_digit()).take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The audio files of a folder, in natural name order (`line2` before `line10`).
pub fn audio_files(folder: &Path) -> Result<Vec<PathBuf>, LinesError> {
    let entries = std::fs::read_dir(folder)
        .map_err(|e| LinesError::Files(format!("{}: {e}", folder.display())))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|x| {
                    AUDIO_EXTENSIONS.contains(&x.to_string_lossy().to_ascii_lowercase().as_str())
                })
        })
        .collect();
    files.sort_by_key(|p| natural_key(&p.file_name().unwrap_or_default().to_string_lossy()));
    Ok(files)
}

/// Pairs cues with files: in order (as many files as cues), or `by_name` by the first number in
/// each file's name (the cue's number, else its position from 1).
pub fn match_files(
    cues: &[Cue],
    files: &[PathBuf],
    by_name: bool,
    srt: &Path,
    folder: &Path,
) -> Result<Vec<PathBuf>, LinesError> {
    if !by_name {
        if files.len() != cues.len() {
            return Err(LinesError::Files(format!(
                "{} has {} cues but {} has {} audio files; use --match name or fix the folder",
                srt.display(),
                cues.len(),
                folder.display(),
                files.len()
            )));
        }
        return Ok(files.to_vec());
    }
    let mut out = Vec::new();
    for (k, cue) in cues.iter().enumerate() {
        let number = cue.id.as_deref().and_then(|i| i.trim().parse().ok()).unwrap_or(k as u64 + 1);
        let file = files
            .iter()
            .find(|f| {
                first_number(&f.file_stem().unwrap_or_default().to_string_lossy()) == Some(number)
            })
            .ok_or_else(|| {
                LinesError::Files(format!(
                    "{}: no audio file numbered {number} for cue {number}",
                    folder.display()
                ))
            })?;
        out.push(file.clone());
    }
    Ok(out)
}

/// Places one clip per cue: `files[k]` (of `duration(file)`, which also refuses a file without
/// sound) at cue k's start on the dub track named by its speaker ("Dub 1" without one, created
/// when missing), named by the cue's first line and carrying the cue. `markers` adds a marker
/// at each cue. A project without a picture grows to the last cue; one with a picture keeps
/// its picture's length (the sequence ends at its last clip anyway).
pub fn place_lines(
    project: &mut Project,
    cues: &[Cue],
    files: &[PathBuf],
    markers: bool,
    mut duration: impl FnMut(&Path) -> Result<Time, String>,
) -> Result<LinesReport, LinesError> {
    let mut tracks: Vec<TrackId> = Vec::new();
    for (cue, file) in cues.iter().zip(files) {
        let len = duration(file).map_err(LinesError::Files)?;
        let media = project.add_media(file, MediaKind::Audio, len)?;
        let name = cue.speaker.clone().unwrap_or_else(|| "Dub 1".to_string());
        let track = match project.timeline.dub_tracks.iter().find(|t| t.name == name) {
            Some(t) => t.id,
            None => project.add_dub_track(name),
        };
        if !tracks.contains(&track) {
            tracks.push(track);
        }
        let id = project.add_clip(track, media, cue.start)?;
        let clip = project
            .timeline
            .dub_tracks
            .iter_mut()
            .flat_map(|t| t.clips.iter_mut())
            .find(|c| c.id == id)
            .ok_or_else(|| ProjectError::Invalid("imported clip vanished".into()))?;
        clip.name = cue.text.lines().next().unwrap_or_default().to_string();
        clip.cue = Some(ClipCue { start: cue.start, end: cue.end, text: cue.text.clone() });
        let end = clip.end().max(cue.end);
        if project.timeline.video.media.is_none() {
            project.timeline.duration = project.timeline.duration.max(end);
        }
    }
    if markers {
        for (k, cue) in cues.iter().enumerate() {
            let first = cue.text.lines().next().unwrap_or_default();
            project
                .timeline
                .markers
                .push(Marker { time: cue.start, name: format!("{}: {first}", k + 1) });
        }
        project.timeline.markers.sort_by_key(|m| m.time);
    }
    Ok(LinesReport { lines: cues.len().min(files.len()), tracks })
}
