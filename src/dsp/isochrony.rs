//! Isochrony: one stretch factor that fits a translated line into its slot, within limits.

use crate::model::Time;

/// Allowed stretch factors (output length / line length).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StretchRange {
    /// Shortest allowed (e.g. 0.85 = 15 % faster).
    pub min: f64,
    /// Longest allowed (e.g. 1.20 = 20 % slower).
    pub max: f64,
}

impl Default for StretchRange {
    fn default() -> Self {
        Self { min: 0.85, max: 1.20 }
    }
}

impl StretchRange {
    /// Parses `0.85..1.20`.
    pub fn parse(text: &str) -> Option<Self> {
        let (a, b) = text.split_once("..")?;
        let (min, max): (f64, f64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        (min.is_finite() && max.is_finite() && min > 0.0 && min <= max).then_some(Self { min, max })
    }
}

/// How a line fits its slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// Fits exactly within the allowed range (green).
    Fits,
    /// Even at the longest stretch the line ends early by this much (amber: a gap, not a clash).
    Short(Time),
    /// Even at the shortest stretch the line runs over the slot by this much (red).
    Overflow(Time),
}

/// The factor chosen for a line and whether it fits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IsochronyFit {
    /// Stretch factor to apply (within the range).
    pub factor: f64,
    /// Length of the stretched line.
    pub length: Time,
    /// Verdict.
    pub fit: Fit,
}

impl IsochronyFit {
    /// Traffic-light colour name for the timing budget: green, amber or red.
    pub fn colour(&self) -> &'static str {
        match self.fit {
            Fit::Fits => "green",
            Fit::Short(_) => "amber",
            Fit::Overflow(_) => "red",
        }
    }
}

/// The factor that makes `line` last `slot`, clamped to `range`.
pub fn fit(line: Time, slot: Time, range: StretchRange) -> IsochronyFit {
    if line <= Time::ZERO {
        return IsochronyFit {
            factor: 1.0,
            length: Time::ZERO,
            fit: Fit::Short(slot.max(Time::ZERO)),
        };
    }
    let ideal = slot.ticks() as f64 / line.ticks() as f64;
    let factor = ideal.clamp(range.min, range.max);
    let length = Time::from_ticks((line.ticks() as f64 * factor).round() as i64);
    let fit = if ideal < range.min {
        Fit::Overflow(length - slot)
    } else if ideal > range.max {
        Fit::Short(slot - length)
    } else {
        Fit::Fits
    };
    IsochronyFit { factor, length, fit }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_examples() {
        let r = StretchRange::default();
        let f = fit(Time::from_millis(2300), Time::from_millis(2000), r);
        assert!((f.factor - 0.8696).abs() < 1e-4);
        assert_eq!(f.fit, Fit::Fits);
        assert_eq!(f.colour(), "green");
        let f = fit(Time::from_millis(2300), Time::from_millis(1500), r);
        assert_eq!(f.factor, 0.85);
        assert_eq!(f.fit, Fit::Overflow(Time::from_millis(455)));
        assert_eq!(f.colour(), "red");
        let f = fit(Time::from_millis(1000), Time::from_millis(2000), r);
        assert_eq!(f.fit, Fit::Short(Time::from_millis(800)));
        assert_eq!(StretchRange::parse("0.9..1.1"), Some(StretchRange { min: 0.9, max: 1.1 }));
        assert_eq!(StretchRange::parse("1.2..0.9"), None);
    }

    #[test]
    fn budget_compares_the_clip_with_its_cue() {
        use crate::model::{AlignMode, Clip, ClipCue, ClipId, MediaId, Warp};
        let mut clip = Clip {
            id: ClipId(1),
            name: "l".into(),
            media: MediaId(1),
            source_in: Time::ZERO,
            source_out: Time::from_millis(2300),
            position: Time::from_millis(1000),
            gain_db: 0.0,
            fade_in: Time::ZERO,
            fade_out: Time::ZERO,
            warp: None,
            ducking: None,
            cue: Some(ClipCue {
                start: Time::from_millis(1000),
                end: Time::from_millis(3000),
                text: "x".into(),
            }),
        };
        let b = line_budget(&clip).unwrap();
        assert_eq!(
            (b.line, b.slot, b.over),
            (Time::from_millis(2300), Time::from_millis(2000), Time::from_millis(300))
        );
        clip.warp = Some(Warp::uniform(AlignMode::Isochrony, Time::from_millis(2300), 2.0 / 2.3));
        let b = line_budget(&clip).unwrap();
        assert_eq!(b.over, Time::ZERO);
        assert!((b.factor - 0.8696).abs() < 1e-4);
    }
}

/// The timing budget of a dub line against its cue slot, for the inspector.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LineBudget {
    /// The line's unwarped length (source range).
    pub line: Time,
    /// The cue slot's length.
    pub slot: Time,
    /// The stretch factor in effect (1 without a warp).
    pub factor: f64,
    /// Where the clip ends relative to the slot's end: positive = over, negative = under.
    pub over: Time,
}

/// The budget of a clip that came from a cue; `None` for clips without one.
pub fn line_budget(clip: &crate::model::Clip) -> Option<LineBudget> {
    let cue = clip.cue.as_ref()?;
    Some(LineBudget {
        line: clip.source_out - clip.source_in,
        slot: cue.end - cue.start,
        factor: clip.warp.as_ref().map_or(1.0, |w| w.factor),
        over: clip.end() - cue.end,
    })
}
