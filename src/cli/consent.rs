//! `redub faces consent` and `redub faces list`: what is on record about each face's consent to
//! a lip edit (see [`crate::model::consent`]).

use super::CliError;
use crate::model::consent::{FaceConsent, now_utc};
use crate::model::lip::FaceId;
use crate::model::{Edit, Project};
use std::path::Path;

/// What `redub faces consent` is asked.
pub(super) struct ConsentArgs<'a> {
    pub project: &'a Path,
    pub face: u32,
    pub name: &'a str,
    pub by: &'a str,
    pub scope: &'a str,
    pub reference: Option<&'a str>,
    pub refused: bool,
    pub clear: bool,
}

pub(super) fn record(a: &ConsentArgs) -> Result<(), CliError> {
    let _lock = crate::model::lock::ProjectLock::acquire(a.project, "redub faces consent")?;
    let mut project = Project::load(a.project)?;
    let face = FaceId(a.face);
    let consent = if a.clear {
        None
    } else {
        if a.name.trim().is_empty() || a.by.trim().is_empty() {
            return Err(CliError::User(
                "--name and --by must not be empty: say who is shown and who records the consent"
                    .into(),
            ));
        }
        Some(FaceConsent {
            face,
            person: a.name.trim().to_string(),
            given: !a.refused,
            recorded_by: a.by.trim().to_string(),
            recorded_at: now_utc(),
            scope: a.scope.trim().to_string(),
            reference: a.reference.map(str::trim).filter(|r| !r.is_empty()).map(String::from),
        })
    };
    let line = match &consent {
        Some(c) => format!("face {}: {}", a.face, c.describe()),
        None => format!("face {}: nothing on record", a.face),
    };
    Edit::SetConsent { face, consent }
        .apply(&mut project)
        .map_err(|e| CliError::Internal(e.to_string()))?;
    project.save(a.project)?;
    println!("{line}");
    Ok(())
}

pub(super) fn list(project_path: &Path, json: bool) -> Result<(), CliError> {
    let project = Project::load(project_path)?;
    let edited = project.lip_edited_faces();
    // Every face with an entry or an edit, by id.
    let mut faces: Vec<FaceId> =
        project.timeline.consent.iter().map(|c| c.face).chain(edited.iter().copied()).collect();
    faces.sort_by_key(|f| f.0);
    faces.dedup();
    if json {
        let rows: Vec<serde_json::Value> = faces
            .iter()
            .map(|f| {
                serde_json::json!({
                    "face": f.0,
                    "lip_edited": edited.contains(f),
                    "consent": project.consent(*f),
                })
            })
            .collect();
        let text = serde_json::to_string_pretty(&serde_json::json!({ "faces": rows }))
            .map_err(|e| CliError::Internal(e.to_string()))?;
        println!("{text}");
        return Ok(());
    }
    if faces.is_empty() {
        println!("no face is lip-edited and no consent is on record");
    }
    for f in faces {
        let edit = if edited.contains(&f) { "lip-edited" } else { "not edited" };
        match project.consent(f) {
            Some(c) => println!("face {} ({edit}): {}", f.0, c.describe()),
            None => println!("face {} ({edit}): no consent recorded", f.0),
        }
    }
    Ok(())
}
