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

/// Which lip engine draws the new mouth.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LipEngine {
    /// The actor's own mouth bank driven by the dub audio (no downloaded weights).
    #[default]
    Bank,
}

impl LipEngine {
    /// Every engine, for menus.
    pub const ALL: [LipEngine; 1] = [LipEngine::Bank];

    /// Name shown to the user.
    pub fn label(self) -> &'static str {
        match self {
            LipEngine::Bank => "Mouth bank",
        }
    }
}

/// Which occlusion masks keep the source in front of the mouth.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OcclusionMode {
    /// The automatic (model-free) estimate only.
    Auto,
    /// No occlusion handling.
    Off,
    /// Only the user's painted mask.
    PaintedOnly,
    /// The automatic estimate and the painted mask (the larger wins).
    #[default]
    AutoPainted,
}

impl OcclusionMode {
    /// Every mode, for menus.
    pub const ALL: [OcclusionMode; 4] = [
        OcclusionMode::Auto,
        OcclusionMode::Off,
        OcclusionMode::PaintedOnly,
        OcclusionMode::AutoPainted,
    ];

    /// Name shown to the user.
    pub fn label(self) -> &'static str {
        match self {
            OcclusionMode::Auto => "Auto",
            OcclusionMode::Off => "Off",
            OcclusionMode::PaintedOnly => "Painted only",
            OcclusionMode::AutoPainted => "Auto + painted",
        }
    }

    /// Whether the automatic estimate is used.
    pub fn uses_auto(self) -> bool {
        matches!(self, OcclusionMode::Auto | OcclusionMode::AutoPainted)
    }

    /// Whether the painted mask is used.
    pub fn uses_painted(self) -> bool {
        matches!(self, OcclusionMode::PaintedOnly | OcclusionMode::AutoPainted)
    }
}

impl<'de> Deserialize<'de> for OcclusionMode {
    /// Accepts the mode's name, or a bool (projects written before occlusion modes stored
    /// `auto_occlusion: true/false`).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Old(bool),
            Name(String),
        }
        Ok(match Repr::deserialize(d)? {
            Repr::Old(true) => OcclusionMode::AutoPainted,
            Repr::Old(false) => OcclusionMode::PaintedOnly,
            Repr::Name(n) => match n.as_str() {
                "auto" => OcclusionMode::Auto,
                "off" => OcclusionMode::Off,
                "painted_only" => OcclusionMode::PaintedOnly,
                "auto_painted" => OcclusionMode::AutoPainted,
                other => {
                    return Err(serde::de::Error::custom(format!(
                        "unknown occlusion mode {other:?}"
                    )));
                }
            },
        })
    }
}

/// Per-track (per-segment) settings of a lip edit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LipSettings {
    /// Edit on/off.
    pub enabled: bool,
    /// Which engine draws the mouth.
    pub engine: LipEngine,
    /// What is replaced.
    pub region: Region,
    /// 0..1: how far the edit goes from the original mouth toward the new one.
    pub intensity: f32,
    /// Feather width in canonical units (the canonical face is 128 units wide).
    pub feather: f32,
    /// Which occlusion masks are used (old projects: `auto_occlusion`).
    #[serde(alias = "auto_occlusion")]
    pub occlusion: OcclusionMode,
}

impl Default for LipSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            engine: LipEngine::Bank,
            region: Region::LipsJaw,
            intensity: 1.0,
            feather: 6.0,
            occlusion: OcclusionMode::AutoPainted,
        }
    }
}

/// Feather widths the inspector offers (canonical units).
pub const FEATHER_RANGE: std::ops::RangeInclusive<f32> = 0.0..=24.0;

/// A user-painted occlusion mask in canonical patch coordinates (it moves with the face).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PaintedMask {
    /// Frame it was painted on.
    pub keyframe: i64,
    /// `PATCH_W × PATCH_H` values (the lip patch grid), 1 = keep the source (run-length
    /// encoded in files).
    #[serde(with = "rle_mask")]
    pub values: Vec<f32>,
}

/// The settings of one lip segment that differ from its track's: a segment is a stretch of the
/// timeline where the dub track's speech drives the mouth (found by the same speech detection
/// the plan uses). The override is stored with the time span the segment had when it was
/// edited and applies to the detected segment it overlaps most (so it survives small changes
/// of the detection and follows nothing else).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LipSegment {
    /// Start of the segment on the timeline.
    pub start: crate::model::Time,
    /// End of the segment on the timeline (exclusive).
    pub end: crate::model::Time,
    /// The segment's settings (they replace the track's).
    pub settings: LipSettings,
    /// The user's occluder mask, in canonical patch coordinates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mask: Option<PaintedMask>,
}

/// The override of `overrides` that applies to a detected segment `[start, end)`: the one that
/// overlaps it most, if the overlap covers at least half of the shorter of the two.
pub fn segment_override(
    overrides: &[LipSegment],
    start: crate::model::Time,
    end: crate::model::Time,
) -> Option<&LipSegment> {
    let len = |a: crate::model::Time, b: crate::model::Time| (b - a).ticks().max(0);
    overrides
        .iter()
        .map(|o| (o, len(o.start.max(start), o.end.min(end))))
        .filter(|(o, overlap)| {
            *overlap > 0 && 2 * overlap >= len(start, end).min(len(o.start, o.end))
        })
        .max_by_key(|(_, overlap)| *overlap)
        .map(|(o, _)| o)
}

/// The face a dub track is bound to: a track id of the shot's face analysis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FaceId(pub u32);

/// Run-length encoding of a painted mask's values (quantised to 1/255): painted masks are mostly
/// runs of 0 and 1, so a project file stays small.
pub mod rle_mask {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// Writes `[[level, run], …]` with levels 0..=255.
    pub fn serialize<S: Serializer>(values: &[f32], s: S) -> Result<S::Ok, S::Error> {
        let mut runs: Vec<[u32; 2]> = Vec::new();
        for v in values {
            let q = u32::from((v.clamp(0.0, 1.0) * 255.0).round() as u8);
            match runs.last_mut() {
                Some(r) if r[0] == q => r[1] += 1,
                _ => runs.push([q, 1]),
            }
        }
        runs.serialize(s)
    }

    /// Reads what [`serialize`] wrote.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        let runs = Vec::<[u32; 2]>::deserialize(d)?;
        let total: u64 = runs.iter().map(|r| u64::from(r[1])).sum();
        if total > 1 << 24 {
            return Err(serde::de::Error::custom("painted mask too large"));
        }
        Ok(runs
            .iter()
            .flat_map(|r| std::iter::repeat_n(r[0].min(255) as f32 / 255.0, r[1] as usize))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Time;

    #[test]
    fn old_settings_load_and_new_ones_round_trip() {
        let old: LipSettings = serde_json::from_str(
            r#"{"enabled":true,"region":"lips","intensity":0.5,"feather":4.0,"auto_occlusion":false}"#,
        )
        .unwrap();
        assert_eq!(old.region, Region::Lips);
        assert_eq!(old.occlusion, OcclusionMode::PaintedOnly);
        assert_eq!(old.engine, LipEngine::Bank);
        let seg = LipSegment {
            start: Time::from_millis(1000),
            end: Time::from_millis(2000),
            settings: LipSettings { occlusion: OcclusionMode::Off, ..old },
            mask: Some(PaintedMask {
                keyframe: 30,
                values: [vec![0.0; 500], vec![1.0; 40], vec![0.0; 100]].concat(),
            }),
        };
        let json = serde_json::to_string(&seg).unwrap();
        assert!(json.len() < 400, "run-length encoded mask: {json}");
        let back: LipSegment = serde_json::from_str(&json).unwrap();
        assert_eq!(back, seg);
    }

    #[test]
    fn an_override_applies_to_the_segment_it_overlaps_most() {
        let s = |a: i64, b: i64| LipSegment {
            start: Time::from_millis(a),
            end: Time::from_millis(b),
            settings: LipSettings::default(),
            mask: None,
        };
        let o = [s(0, 1000), s(2000, 3000)];
        let t = Time::from_millis;
        assert_eq!(segment_override(&o, t(100), t(1100)), Some(&o[0]));
        assert_eq!(segment_override(&o, t(1900), t(2900)), Some(&o[1]));
        assert_eq!(segment_override(&o, t(900), t(1900)), None, "a touch is not the segment");
        assert_eq!(segment_override(&o, t(5000), t(6000)), None);
    }
}
