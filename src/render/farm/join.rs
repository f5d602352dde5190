//! `redub concat`: checks that the pieces belong together — the same project key (the plan they
//! were rendered from is the project's current one), the same preset, and ranges that cover the
//! timeline's frames exactly once, in order — then joins them without re-encoding.

use super::super::RenderError;
use super::piece::{PieceInfo, read_info};
use super::plan_file::{project_key, timeline_frames};
use crate::jobs::Job;
use crate::media::encode::Tags;
use crate::model::{Preset, Project};
use std::path::{Path, PathBuf};

/// Checks the pieces and the sound against the project and each other; returns the pieces in
/// timeline order.
pub fn check_pieces(
    project: &Project,
    preset: Preset,
    pieces: &[PathBuf],
    audio: Option<&Path>,
) -> Result<Vec<PathBuf>, RenderError> {
    let key = project_key(project);
    let frames = timeline_frames(project);
    let want = match preset {
        Preset::Mp4 => "mp4",
        Preset::Webm => "webm",
        Preset::Mov => "mov",
        Preset::WavStems => {
            return Err(RenderError::Invalid("pieces are joined into mp4, webm or mov".into()));
        }
    };
    if pieces.is_empty() {
        return Err(RenderError::Invalid("no pieces to join".into()));
    }
    let check = |path: &Path, info: &PieceInfo, kind: &str| -> Result<(), RenderError> {
        let bad = |what: String| RenderError::Invalid(format!("{}: {what}", path.display()));
        if info.kind != kind {
            return Err(bad(format!("is a {} piece, not {kind}", info.kind)));
        }
        if info.key != key {
            return Err(bad(format!(
                "was rendered from another plan or version of the project (plan {}, project \
                 now {key}); run `redub plan` and render it again",
                info.key
            )));
        }
        if info.preset != want {
            return Err(bad(format!("is a {} piece; the output is {want}", info.preset)));
        }
        Ok(())
    };
    let mut infos = Vec::with_capacity(pieces.len());
    for p in pieces {
        let info = read_info(p)?;
        check(p, &info, "video")?;
        infos.push((info, p.clone()));
    }
    if let Some(a) = audio {
        let info = read_info(a)?;
        check(a, &info, "audio")?;
    }
    infos.sort_by_key(|(i, _)| (i.first, i.last));
    let mut next = 0i64;
    for (info, path) in &infos {
        if info.first > next {
            return Err(RenderError::Invalid(format!(
                "frames {next}..{} are missing: no piece covers them (the next piece, {}, starts \
                 at frame {})",
                info.first,
                path.display(),
                info.first
            )));
        }
        if info.first < next {
            return Err(RenderError::Invalid(format!(
                "{} (frames {}..{}) overlaps the piece before it, which ends at frame {next}",
                path.display(),
                info.first,
                info.last
            )));
        }
        next = info.last;
    }
    if next != frames {
        return Err(RenderError::Invalid(format!(
            "frames {next}..{frames} are missing: the pieces end at frame {next}, the timeline \
             at {frames}"
        )));
    }
    Ok(infos.into_iter().map(|(_, p)| p).collect())
}

/// Checks and joins `pieces` and `audio` into `output`.
pub fn concat(
    project: &Project,
    preset: Preset,
    pieces: &[PathBuf],
    audio: Option<&Path>,
    output: &Path,
    job: &Job,
) -> Result<PathBuf, RenderError> {
    let ordered = check_pieces(project, preset, pieces, audio)?;
    let tags = Tags {
        title: project.name.clone(),
        comment: format!(
            "Made with Redub {}: dialogue replaced; lip movements may have been edited.",
            crate::VERSION
        ),
    };
    Ok(crate::media::concat::concat_files(&ordered, audio, preset, output, &tags, job)?)
}
