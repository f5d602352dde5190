//! Lip-edit settings kept in the project: which face a dub track drives and how its mouth is
//! edited (DisentTalk's lesson: let the user limit the region and the strength).

use serde::{Deserialize, Serialize};

/// Which part of the lower face an edit replaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Region {
    /// The lips and the mouth opening only.
    Lips,
    /// Lips, chin and jaw line.
    LipsJaw,
}

/// Per-track (per-segment) settings of a lip edit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LipSettings {
    /// Edit on/off.
    pub enabled: bool,
    /// What is replaced.
    pub region: Region,
    /// 0..1: how far the edit goes from the original mouth toward the new one.
    pub intensity: f32,
    /// Feather width in canonical units (the canonical face is 128 units wide).
    pub feather: f32,
    /// Use the automatic occlusion mask.
    pub auto_occlusion: bool,
}

impl Default for LipSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            region: Region::LipsJaw,
            intensity: 1.0,
            feather: 6.0,
            auto_occlusion: true,
        }
    }
}

/// The face a dub track is bound to: a track id of the shot's face analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FaceId(pub u32);
