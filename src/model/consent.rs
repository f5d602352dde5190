//! Consent per face: who the person on screen is and whether their consent to a lip edit is on
//! record (by whom, when, for what, with which document). An export that edits the mouth of a
//! face without recorded consent is refused unless the user allows it explicitly; that choice
//! is written into the export's metadata ([`ConsentSummary::tag_text`]).
//!
//! Stored in the project as `timeline.consent` (left out of the file while empty, so projects
//! saved before it open and save unchanged; schema version 1 stays: the field is additive).

use crate::model::Project;
use crate::model::lip::FaceId;
use serde::{Deserialize, Serialize};

/// What is on record about one face's consent to a lip edit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaceConsent {
    /// The face of the shot (its analysis track id).
    pub face: FaceId,
    /// Who the person is: a name or a role ("Presenter").
    pub person: String,
    /// Whether consent to edit this person's lips is on record (`false`: asked and refused, or
    /// withdrawn: the entry says who recorded that).
    pub given: bool,
    /// Who recorded it (the producer, the editor).
    pub recorded_by: String,
    /// When it was recorded, `YYYY-MM-DD HH:MM:SS UTC`.
    pub recorded_at: String,
    /// What it covers: languages, uses ("es, fr; broadcast and web"); empty when not limited.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    /// A document id or file hash of the signed release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

impl FaceConsent {
    /// One line for lists and messages: `Ana Ruiz: consent recorded by J. Doe, 2026-12-08 …`.
    pub fn describe(&self) -> String {
        let what = if self.given { "consent recorded" } else { "consent refused" };
        let mut s =
            format!("{}: {what} by {}, {}", self.person, self.recorded_by, self.recorded_at);
        if !self.scope.is_empty() {
            s += &format!("; scope: {}", self.scope);
        }
        if let Some(r) = &self.reference {
            s += &format!("; reference: {r}");
        }
        s
    }
}

/// The current time as stored in [`FaceConsent::recorded_at`].
pub fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    crate::model::lock::utc(secs)
}

/// The consent status of the faces an export edits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsentSummary {
    /// Faces whose lips the export edits, with their consent entry when there is one.
    pub faces: Vec<(FaceId, Option<FaceConsent>)>,
    /// The user allowed the export of faces without recorded consent.
    pub allowed_without: bool,
}

impl ConsentSummary {
    /// The lip-edited faces of `project` and what is on record about them.
    pub fn of(project: &Project, allowed_without: bool) -> Self {
        let faces =
            project.lip_edited_faces().into_iter().map(|f| (f, project.consent(f).cloned()));
        Self { faces: faces.collect(), allowed_without }
    }

    /// The edited faces without recorded consent (no entry, or consent refused).
    pub fn missing(&self) -> Vec<FaceId> {
        self.faces
            .iter()
            .filter(|(_, c)| !c.as_ref().is_some_and(|c| c.given))
            .map(|f| f.0)
            .collect()
    }

    /// `None` when the export may go ahead; else why not, in one line.
    pub fn refusal(&self) -> Option<String> {
        Some(format!(
            "{}; record it (redub faces consent) or allow the export explicitly \
             (--allow-unconsented, written into the file's metadata)",
            self.unconsented()?
        ))
    }

    /// `None` when the export may go ahead; else what stops it, without the way out ("the
    /// export edits the lips of face 0 without recorded consent").
    pub fn unconsented(&self) -> Option<String> {
        let missing = self.missing();
        if missing.is_empty() || self.allowed_without {
            return None;
        }
        let names: Vec<String> = missing.iter().map(|f| self.name_of(*f)).collect();
        Some(format!(
            "the export edits the lips of {} without recorded consent",
            names.join(" and ")
        ))
    }

    /// `face 0 (Ana Ruiz)` or `face 0`.
    pub fn name_of(&self, face: FaceId) -> String {
        match self.faces.iter().find(|(f, _)| *f == face).and_then(|(_, c)| c.as_ref()) {
            Some(c) if !c.person.is_empty() => format!("face {} ({})", face.0, c.person),
            _ => format!("face {}", face.0),
        }
    }

    /// The sentence written into the export's comment tag: each edited face and its consent,
    /// and whether the user allowed faces without it.
    pub fn tag_text(&self) -> String {
        if self.faces.is_empty() {
            return String::new();
        }
        let parts: Vec<String> = self
            .faces
            .iter()
            .map(|(f, c)| match c {
                Some(c) if c.given => {
                    format!(
                        "{}: consent recorded by {} {}",
                        self.name_of(*f),
                        c.recorded_by,
                        c.recorded_at
                    )
                }
                Some(c) => format!("{}: consent refused ({})", self.name_of(*f), c.recorded_at),
                None => format!("{}: no consent recorded", self.name_of(*f)),
            })
            .collect();
        let mut s = format!("Lip-edited faces: {}.", parts.join("; "));
        if !self.missing().is_empty() && self.allowed_without {
            s += " Exported without recorded consent, allowed explicitly by the user.";
        }
        s
    }
}

impl Project {
    /// What is on record about `face`'s consent.
    pub fn consent(&self, face: FaceId) -> Option<&FaceConsent> {
        self.timeline.consent.iter().find(|c| c.face == face)
    }

    /// Whether consent to edit `face`'s lips is on record.
    pub fn has_consent(&self, face: FaceId) -> bool {
        self.consent(face).is_some_and(|c| c.given)
    }

    /// The dub tracks whose speech edits a mouth, with their faces: enabled, audible, bound to
    /// a face whose edit is on. The lip plan edits exactly these.
    pub fn lip_edit_tracks(&self) -> Vec<(crate::model::TrackId, FaceId)> {
        self.timeline
            .dub_tracks
            .iter()
            .filter(|t| t.lip.enabled && self.is_audible(t))
            .filter_map(|t| t.face.map(|f| (t.id, f)))
            // A face whose edit is switched off keeps its own mouth.
            .filter(|(_, f)| self.face_edit_on(*f))
            .collect()
    }

    /// The faces an export edits: those of [`Project::lip_edit_tracks`] with at least one
    /// clip, each once, by id.
    pub fn lip_edited_faces(&self) -> Vec<FaceId> {
        let mut faces: Vec<FaceId> = self
            .lip_edit_tracks()
            .into_iter()
            .filter(|(t, _)| {
                self.timeline.dub_tracks.iter().any(|d| d.id == *t && !d.clips.is_empty())
            })
            .map(|(_, f)| f)
            .collect();
        faces.sort_by_key(|f| f.0);
        faces.dedup();
        faces
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Edit, FrameRate, MediaKind, Time};

    fn bound_project(dir: &std::path::Path) -> Project {
        let shot = dir.join("shot.mp4");
        let line = dir.join("line.wav");
        std::fs::write(&shot, b"video").unwrap();
        std::fs::write(&line, b"audio").unwrap();
        let mut p = Project::new("c", FrameRate::FPS_25);
        let v = p.add_media(&shot, MediaKind::Video, Time::from_millis(4000)).unwrap();
        let a = p.add_media(&line, MediaKind::Audio, Time::from_millis(1000)).unwrap();
        p.timeline.video.media = Some(v);
        p.timeline.duration = Time::from_millis(4000);
        let t = p.add_dub_track("Dub");
        p.add_clip(t, a, Time::from_millis(500)).unwrap();
        p.timeline.dub_tracks[0].face = Some(FaceId(3));
        p
    }

    fn consent(face: u32, given: bool) -> FaceConsent {
        FaceConsent {
            face: FaceId(face),
            person: "Ana Ruiz".into(),
            given,
            recorded_by: "J. Doe".into(),
            recorded_at: "2026-12-08 03:00:00 UTC".into(),
            scope: "es; web".into(),
            reference: Some("release-17".into()),
        }
    }

    #[test]
    fn an_edited_face_without_consent_is_refused_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = bound_project(dir.path());
        assert_eq!(p.lip_edited_faces(), vec![FaceId(3)]);
        let s = ConsentSummary::of(&p, false);
        let why = s.refusal().expect("refused");
        assert!(why.contains("face 3") && why.contains("--allow-unconsented"), "{why}");
        let allowed = ConsentSummary::of(&p, true);
        assert_eq!(allowed.refusal(), None);
        assert!(
            allowed.tag_text().contains("face 3: no consent recorded"),
            "{}",
            allowed.tag_text()
        );
        assert!(allowed.tag_text().contains("allowed explicitly"));
        // A refusal on record is no consent either.
        p.timeline.consent.push(consent(3, false));
        assert!(ConsentSummary::of(&p, false).refusal().unwrap().contains("face 3 (Ana Ruiz)"));
        p.timeline.consent[0].given = true;
        let ok = ConsentSummary::of(&p, false);
        assert_eq!(ok.refusal(), None);
        assert_eq!(
            ok.tag_text(),
            "Lip-edited faces: face 3 (Ana Ruiz): consent recorded by J. Doe 2026-12-08 03:00:00 UTC."
        );
        // An unbound or muted track edits nothing: nothing to consent to.
        p.timeline.dub_tracks[0].mute = true;
        assert!(p.lip_edited_faces().is_empty());
        assert_eq!(ConsentSummary::of(&p, false).tag_text(), "");
    }

    #[test]
    fn consent_round_trips_undoes_and_old_projects_open_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = bound_project(dir.path());
        let file = dir.path().join("p.redub");
        p.save(&file).unwrap();
        let old = std::fs::read_to_string(&file).unwrap();
        assert!(!old.contains("consent"), "no key while empty: {old}");
        assert_eq!(Project::load(&file).unwrap().timeline.consent, vec![]);

        let undo = Edit::SetConsent { face: FaceId(3), consent: Some(consent(3, true)) }
            .apply(&mut p)
            .unwrap();
        assert!(p.has_consent(FaceId(3)));
        p.save(&file).unwrap();
        let back = Project::load(&file).unwrap();
        assert_eq!(back.consent(FaceId(3)), Some(&consent(3, true)));
        assert_eq!(back, p);
        undo.apply(&mut p).unwrap();
        assert!(p.timeline.consent.is_empty());
        // A hand-written entry without the optional fields reads with their defaults.
        let mut v: serde_json::Value = serde_json::from_str(&old).unwrap();
        v["timeline"]["consent"] = serde_json::json!([{"face": 3, "person": "A", "given": true,
            "recorded_by": "B", "recorded_at": "2026-12-08 03:00:00 UTC"}]);
        let p2 = Project::from_json(&v.to_string(), &file).unwrap();
        let c = p2.consent(FaceId(3)).unwrap();
        assert_eq!((c.scope.as_str(), c.reference.as_deref()), ("", None));
    }
}
