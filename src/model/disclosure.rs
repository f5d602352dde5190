//! The visible disclosure of an export: a small label ("Lips edited — Redub") burned into the
//! picture at a chosen corner, on the lip-edited ranges only or throughout. Kept with the
//! project's export settings; drawn by [`crate::render::label`].

use crate::model::{FrameRate, Project};
use serde::{Deserialize, Serialize};

/// The label's text.
pub const LABEL_TEXT: &str = "Lips edited — Redub";

/// A corner of the picture.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Corner {
    /// Top left.
    TopLeft,
    /// Top right.
    TopRight,
    /// Bottom left.
    BottomLeft,
    /// Bottom right (the default: where broadcasters put such notices).
    #[default]
    BottomRight,
}

impl Corner {
    /// All corners, in menu order.
    pub const ALL: [Corner; 4] =
        [Corner::TopLeft, Corner::TopRight, Corner::BottomLeft, Corner::BottomRight];

    /// Command-line name (`bottom-right`).
    pub fn name(self) -> &'static str {
        match self {
            Corner::TopLeft => "top-left",
            Corner::TopRight => "top-right",
            Corner::BottomLeft => "bottom-left",
            Corner::BottomRight => "bottom-right",
        }
    }

    /// Parses [`Corner::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.name().eq_ignore_ascii_case(name.trim()))
    }
}

/// Where in time the label shows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelWhen {
    /// Over the lip-edited ranges only ([`Project::lip_edit_frames`]).
    #[default]
    Edited,
    /// On every frame.
    Always,
}

/// The burned-in label of an export.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Disclosure {
    /// Which corner.
    pub corner: Corner,
    /// When.
    #[serde(default)]
    pub when: LabelWhen,
}

impl Project {
    /// The frame ranges (`first..end`, merged, in order) whose mouths an export may edit: the
    /// spans of the clips of [`Project::lip_edit_tracks`]. The lip plan edits within them (where
    /// the dub speaks); a label over them covers every edited frame without flickering in a
    /// line's short pauses.
    pub fn lip_edit_frames(&self, rate: FrameRate) -> Vec<std::ops::Range<i64>> {
        let tracks = self.lip_edit_tracks();
        let mut spans: Vec<std::ops::Range<i64>> = self
            .timeline
            .dub_tracks
            .iter()
            .filter(|t| tracks.iter().any(|(id, _)| *id == t.id))
            .flat_map(|t| &t.clips)
            .map(|c| {
                let first = rate.time_to_frame(c.position);
                // The frame holding the clip's last instant is the last one it can edit.
                let last = rate.time_to_frame(c.end() - crate::model::Time::from_ticks(1));
                first..(last + 1).max(first + 1)
            })
            .collect();
        spans.sort_by_key(|r| r.start);
        let mut merged: Vec<std::ops::Range<i64>> = Vec::new();
        for r in spans {
            match merged.last_mut() {
                Some(m) if r.start <= m.end => m.end = m.end.max(r.end),
                _ => merged.push(r),
            }
        }
        merged
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::lip::FaceId;
    use crate::model::{MediaKind, Time};

    #[test]
    fn edited_frames_are_the_bound_clips_merged_and_settings_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let (shot, line) = (dir.path().join("s.mp4"), dir.path().join("l.wav"));
        std::fs::write(&shot, b"v").unwrap();
        std::fs::write(&line, b"a").unwrap();
        let mut p = Project::new("d", FrameRate::FPS_25);
        let v = p.add_media(&shot, MediaKind::Video, Time::from_millis(10_000)).unwrap();
        let a = p.add_media(&line, MediaKind::Audio, Time::from_millis(1_000)).unwrap();
        p.timeline.video.media = Some(v);
        p.timeline.duration = Time::from_millis(10_000);
        let t = p.add_dub_track("Dub");
        for at in [1_000, 1_500, 6_000] {
            p.add_clip(t, a, Time::from_millis(at)).unwrap();
        }
        assert!(p.lip_edit_frames(FrameRate::FPS_25).is_empty(), "unbound: nothing edited");
        p.timeline.dub_tracks[0].face = Some(FaceId(0));
        assert_eq!(p.lip_edit_frames(FrameRate::FPS_25), vec![25..63, 150..175]);
        assert_eq!(Corner::from_name("Top-Left"), Some(Corner::TopLeft));
        p.export.disclosure =
            Some(Disclosure { corner: Corner::TopRight, when: LabelWhen::Always });
        let json = serde_json::to_string(&p.export).unwrap();
        assert!(json.contains(r#""disclosure":{"corner":"top-right","when":"always"}"#), "{json}");
        let back: crate::model::ExportSettings = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p.export);
        let old: crate::model::ExportSettings =
            serde_json::from_str(r#"{"preset":"mp4","range":null,"output":null}"#).unwrap();
        assert_eq!(old.disclosure, None);
    }
}
