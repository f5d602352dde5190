//! Loudness normalisation targets kept in the export settings.

use serde::{Deserialize, Serialize};

/// Integrated-loudness target of the exported mix; the true peak is held at or below
/// [`TRUE_PEAK_CEILING_DBTP`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LoudnessTarget {
    /// −23 LUFS, EBU R128 broadcast.
    Ebu,
    /// −24 LUFS, ATSC A/85.
    Atsc,
    /// −16 LUFS, web and podcasts.
    Web,
    /// −14 LUFS, streaming services.
    Streaming,
}

/// The ceiling for the true peak of a normalised mix, in dBTP.
pub const TRUE_PEAK_CEILING_DBTP: f64 = -1.0;

impl LoudnessTarget {
    /// All targets, in menu order.
    pub const ALL: [LoudnessTarget; 4] =
        [LoudnessTarget::Ebu, LoudnessTarget::Atsc, LoudnessTarget::Web, LoudnessTarget::Streaming];

    /// The target in LUFS.
    pub fn lufs(self) -> f64 {
        match self {
            LoudnessTarget::Ebu => -23.0,
            LoudnessTarget::Atsc => -24.0,
            LoudnessTarget::Web => -16.0,
            LoudnessTarget::Streaming => -14.0,
        }
    }

    /// Command-line name.
    pub fn name(self) -> &'static str {
        match self {
            LoudnessTarget::Ebu => "ebu",
            LoudnessTarget::Atsc => "atsc",
            LoudnessTarget::Web => "web",
            LoudnessTarget::Streaming => "streaming",
        }
    }

    /// Parses a name ("ebu", "web", …) or a number of LUFS ("-16", "-23").
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        if let Some(found) = Self::ALL.into_iter().find(|x| x.name().eq_ignore_ascii_case(t)) {
            return Some(found);
        }
        let v: f64 = t.trim_end_matches("LUFS").trim_end_matches("lufs").trim().parse().ok()?;
        Self::ALL.into_iter().find(|x| (x.lufs() - v).abs() < 1e-9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_parse() {
        assert_eq!(LoudnessTarget::parse("web"), Some(LoudnessTarget::Web));
        assert_eq!(LoudnessTarget::parse("-16"), Some(LoudnessTarget::Web));
        assert_eq!(LoudnessTarget::parse("-24 LUFS"), Some(LoudnessTarget::Atsc));
        assert_eq!(LoudnessTarget::parse("-20"), None);
    }
}
