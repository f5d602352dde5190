//! The stored plan of a project (`redub plan`): what spans the whole timeline, computed once
//! and read by every render-farm piece — the face analysis (through its own cache) and the lip
//! plan of every bound dub track: the bound face track, the actor's mouth bank, the chosen mouth
//! per frame and the lip segments with their settings.
//!
//! The file sits beside the project (`NAME.redub.plan`) and is named by the project's
//! [`project_key`]: a hash of the project as it renders (media paths left out, their content
//! hashes in) and of this program's version. A piece refuses a plan made for another state of
//! the project, and concat refuses pieces made from another plan.
//!
//! Layout: magic, format, the JSON header's length and the header (key, frames, tracks), then
//! each track's bank (the bank cache's own encoding) with its length.

use super::super::RenderError;
use super::super::lips::{LipRenderer, lips_for};
use super::super::sources::{load_sources_streamed, video_path};
use crate::analysis::track::FaceTrack;
use crate::jobs::Job;
use crate::lipsync::bank::DecodedCache;
use crate::lipsync::cache::Reader;
use crate::lipsync::engine::{EditMasks, Planned};
use crate::lipsync::kept::Kept;
use crate::lipsync::plan::{LipSegmentPlan, LipTrack, SegmentDraw, TARGETS_KEPT};
use crate::model::lip::{LipSettings, PaintedMask};
use crate::model::{FrameRate, Project, Time, TrackId};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"RDPLAN\0\0";

/// Version of the plan file's layout.
pub const PLAN_FORMAT: u32 = 1;

/// The plan file of a project file: `NAME.redub.plan` beside it.
pub fn plan_path(project_path: &Path) -> PathBuf {
    let mut name = project_path.file_name().unwrap_or_default().to_os_string();
    name.push(".plan");
    project_path.with_file_name(name)
}

/// The project as it renders, hashed (hex, 32 digits): its JSON with the media paths left out
/// (each machine may mount the media elsewhere; the recorded content hashes, which every render
/// checks against the files, stay in), this program's version and the bank and plan formats.
/// Any change to the project changes it.
pub fn project_key(project: &Project) -> String {
    let mut p = project.clone();
    for m in &mut p.media {
        m.path = PathBuf::new();
        m.absolute_path = PathBuf::new();
    }
    let mut h = Sha256::new();
    h.update(b"redub-plan\0");
    h.update(crate::VERSION.as_bytes());
    h.update(PLAN_FORMAT.to_le_bytes());
    h.update(crate::lipsync::cache::BANK_VERSION.to_le_bytes());
    h.update(serde_json::to_vec(&p).unwrap_or_default());
    crate::model::hash::hex(&h.finalize()[..16])
}

/// Frames a whole-timeline video render of the project writes (the export's own count: the
/// sequence to its last clip, in whole frames).
pub fn timeline_frames(project: &Project) -> i64 {
    let rate = project.timeline.frame_rate;
    let end = project.timeline.sequence_end();
    let half = Time::from_ticks(rate.frame_duration().ticks() / 2);
    let first = rate.time_to_frame(half);
    rate.time_to_frame(end + half).max(first + 1)
}

#[derive(Serialize, Deserialize)]
struct Header {
    key: String,
    redub: String,
    title: String,
    rate: FrameRate,
    frames: i64,
    tracks: Vec<TrackHeader>,
}

/// A planned frame as stored: bank entry, weight, and the jumped-to neighbours.
type StoredFrame = (usize, f32, Option<usize>, Option<usize>);

#[derive(Serialize, Deserialize)]
struct TrackHeader {
    dub_track: TrackId,
    face: FaceTrack,
    /// Per frame: entry, weight, and the jumped-to neighbours.
    plan: Vec<Option<StoredFrame>>,
    segments: Vec<SegmentHeader>,
    rate: FrameRate,
}

#[derive(Serialize, Deserialize)]
struct SegmentHeader {
    start: Time,
    end: Time,
    settings: LipSettings,
    mask: Option<PaintedMask>,
    overridden: bool,
}

/// A loaded plan.
pub struct StoredPlan {
    /// The [`project_key`] it was made for.
    pub key: String,
    /// Frames of the whole timeline.
    pub frames: i64,
    /// The lip edits, ready to draw.
    pub lips: LipRenderer,
}

/// Why a plan cannot be used.
fn invalid(path: &Path, what: impl std::fmt::Display) -> RenderError {
    RenderError::Invalid(format!("{}: {what}", path.display()))
}

/// Makes the plan of `project` (face analysis, lip plans) and writes it atomically to `target`.
/// Returns the key.
pub fn make_plan(
    project: &Project,
    project_dir: &Path,
    target: &Path,
    job: &Job,
) -> Result<String, RenderError> {
    let key = project_key(project);
    let video = video_path(project, project_dir)?;
    let sources = load_sources_streamed(project, project_dir, true)?;
    // The lip plan needs the dialogue decoded in memory; the streamed sources leave the
    // original in its file, which the plan decodes itself when it needs it.
    let lips = lips_for(project, project_dir, &sources, &video, job, None)?;
    let mut banks = Vec::new();
    let tracks = lips
        .tracks()
        .iter()
        .map(|t| {
            banks.push(crate::lipsync::cache::encode(&t.bank, t.model.as_ref()));
            TrackHeader {
                dub_track: t.dub_track,
                face: t.face.clone(),
                plan: t
                    .plan
                    .iter()
                    .map(|p| p.map(|p| (p.entry, p.weight, p.mix[0], p.mix[1])))
                    .collect(),
                segments: t
                    .segments
                    .iter()
                    .map(|s| SegmentHeader {
                        start: s.segment.start,
                        end: s.segment.end,
                        settings: s.segment.settings,
                        mask: s.segment.mask.clone(),
                        overridden: s.segment.overridden,
                    })
                    .collect(),
                rate: t.rate,
            }
        })
        .collect();
    let header = Header {
        key: key.clone(),
        redub: crate::VERSION.to_string(),
        title: project.name.clone(),
        rate: project.timeline.frame_rate,
        frames: timeline_frames(project),
        tracks,
    };
    let json = serde_json::to_vec(&header).map_err(|e| invalid(target, e))?;
    let mut out = Vec::with_capacity(json.len() + banks.iter().map(Vec::len).sum::<usize>() + 64);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&PLAN_FORMAT.to_le_bytes());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for b in &banks {
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        out.extend_from_slice(b);
    }
    write_atomic(target, &out)?;
    Ok(key)
}

/// Writes `bytes` to `target` through a temp file beside it.
pub(crate) fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), RenderError> {
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let err = |e: &dyn std::fmt::Display| {
        RenderError::Media(crate::media::MediaError::Write {
            path: target.to_path_buf(),
            reason: e.to_string(),
        })
    };
    let mut tmp =
        tempfile::Builder::new().prefix(".redub-farm").tempfile_in(dir).map_err(|e| err(&e))?;
    tmp.write_all(bytes).map_err(|e| err(&e))?;
    tmp.as_file().sync_all().map_err(|e| err(&e))?;
    // Readable by the other machines' users, as any rendered file (temp files start private).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    tmp.persist(target).map_err(|e| err(&e.error))?;
    Ok(())
}

/// Reads the plan at `path` and checks that it was made for `project` as it is now.
pub fn load_plan(path: &Path, project: &Project) -> Result<StoredPlan, RenderError> {
    let bytes = std::fs::read(path).map_err(|e| {
        invalid(path, format!("cannot read the plan ({e}); make it with `redub plan PROJECT`"))
    })?;
    let bad =
        || invalid(path, "not a Redub plan, or a damaged one; make it again with `redub plan`");
    let mut r = Reader(&bytes);
    if r.take(8).ok_or_else(bad)? != MAGIC {
        return Err(bad());
    }
    let format = u32::from_le_bytes(r.array().ok_or_else(bad)?);
    if format != PLAN_FORMAT {
        return Err(invalid(
            path,
            format!(
                "plan format {format}, this Redub reads {PLAN_FORMAT}: make it again with `redub plan`"
            ),
        ));
    }
    let n = usize::try_from(u64::from_le_bytes(r.array().ok_or_else(bad)?)).map_err(|_| bad())?;
    let header: Header = serde_json::from_slice(r.take(n).ok_or_else(bad)?).map_err(|_| bad())?;
    let key = project_key(project);
    if header.key != key {
        return Err(invalid(
            path,
            format!(
                "the plan is out of date: it was made for another version of the project (plan \
                 {}, project now {key}); run `redub plan` again, then render every piece again",
                header.key
            ),
        ));
    }
    let mut tracks = Vec::with_capacity(header.tracks.len());
    for t in header.tracks {
        let n =
            usize::try_from(u64::from_le_bytes(r.array().ok_or_else(bad)?)).map_err(|_| bad())?;
        let (bank, model) =
            crate::lipsync::cache::decode(r.take(n).ok_or_else(bad)?).ok_or_else(bad)?;
        let segments = t
            .segments
            .into_iter()
            .map(|s| {
                let segment = LipSegmentPlan {
                    start: s.start,
                    end: s.end,
                    settings: s.settings,
                    mask: s.mask,
                    overridden: s.overridden,
                };
                SegmentDraw { masks: EditMasks::at(&segment.settings, bank.detail()), segment }
            })
            .collect();
        tracks.push(LipTrack {
            dub_track: t.dub_track,
            face: t.face,
            bank,
            model,
            plan: t
                .plan
                .into_iter()
                .map(|p| p.map(|(entry, weight, a, b)| Planned { entry, weight, mix: [a, b] }))
                .collect(),
            segments,
            rate: t.rate,
            decoded: DecodedCache::default(),
            targets: Kept::new(TARGETS_KEPT),
        });
    }
    Ok(StoredPlan { key: header.key, frames: header.frames, lips: LipRenderer::new(tracks) })
}

/// Writes a text file (a job file) atomically.
pub fn write_atomic_text(target: &Path, text: &str) -> Result<(), RenderError> {
    write_atomic(target, text.as_bytes())
}
