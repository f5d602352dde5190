//! A clip's time warp as editable data: a monotone piecewise-linear map from source time (offset
//! from the clip's `source_in`) to output time (offset from the clip's `position`). The map is
//! what auto-align writes and what undo restores; the stretched samples are derived from it.

use crate::model::time::Time;
use serde::{Deserialize, Serialize};

/// How a clip's warp was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlignMode {
    /// Same words as the original: a time map from DTW on MFCC frames.
    #[default]
    Adr,
    /// A translation: one stretch factor so the line fits its slot.
    Isochrony,
    /// Set by hand in the editor.
    Manual,
}

impl AlignMode {
    /// Command-line name.
    pub fn name(self) -> &'static str {
        match self {
            AlignMode::Adr => "adr",
            AlignMode::Isochrony => "isochrony",
            AlignMode::Manual => "manual",
        }
    }

    /// Parses a name printed by [`AlignMode::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        [AlignMode::Adr, AlignMode::Isochrony, AlignMode::Manual]
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }
}

/// One breakpoint of a time map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WarpPoint {
    /// Offset into the clip's source range (0 = `source_in`).
    pub source: Time,
    /// Where that source instant plays, as an offset from the clip's `position`.
    pub output: Time,
}

/// A clip's warp: the time map plus the settings that made it, so the editor can show and redo
/// it ("tighter/looser" re-runs the alignment with another tightness).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Warp {
    /// How it was made.
    pub mode: AlignMode,
    /// Breakpoints, strictly increasing in both source and output; the first is at source 0 and
    /// the last at the clip's source length.
    pub points: Vec<WarpPoint>,
    /// Overall output length / source length (the single factor in isochrony mode).
    pub factor: f64,
    /// ADR smoothing, 0 = loose (follows the DTW path closely) to 1 = tight (nearly one factor).
    #[serde(default = "default_tightness")]
    pub tightness: f32,
}

fn default_tightness() -> f32 {
    0.5
}

/// Why a time map is unusable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WarpError {
    /// Fewer than two points.
    #[error("a time map needs at least two points")]
    TooFewPoints,
    /// The first point is not at source 0 / output 0.
    #[error("a time map must start at 0 → 0")]
    BadStart,
    /// Source or output times do not increase.
    #[error("time map point {0} does not move forward in both source and output time")]
    NotMonotone(usize),
}

impl Warp {
    /// One factor over a source length: output = source × `factor`.
    pub fn uniform(mode: AlignMode, source_len: Time, factor: f64) -> Self {
        let out = Time::from_ticks((source_len.ticks() as f64 * factor).round() as i64);
        Self {
            mode,
            points: vec![
                WarpPoint { source: Time::ZERO, output: Time::ZERO },
                WarpPoint { source: source_len, output: out },
            ],
            factor,
            tightness: default_tightness(),
        }
    }

    /// Checks the map is usable: ≥ 2 points, starts at 0 → 0, strictly increasing.
    pub fn validate(&self) -> Result<(), WarpError> {
        if self.points.len() < 2 {
            return Err(WarpError::TooFewPoints);
        }
        if self.points[0].source != Time::ZERO || self.points[0].output != Time::ZERO {
            return Err(WarpError::BadStart);
        }
        for (i, w) in self.points.windows(2).enumerate() {
            if w[1].source <= w[0].source || w[1].output <= w[0].output {
                return Err(WarpError::NotMonotone(i + 1));
            }
        }
        Ok(())
    }

    /// Source length covered by the map.
    pub fn source_len(&self) -> Time {
        self.points.last().map_or(Time::ZERO, |p| p.source)
    }

    /// Output length of the warped clip.
    pub fn output_len(&self) -> Time {
        self.points.last().map_or(Time::ZERO, |p| p.output)
    }

    /// Output offset of a source offset (linear between points, and beyond the ends along the
    /// first/last segment's slope).
    pub fn source_to_output(&self, source: Time) -> Time {
        interpolate(&self.points, source, |p| (p.source, p.output))
    }

    /// Source offset played at an output offset.
    pub fn output_to_source(&self, output: Time) -> Time {
        interpolate(&self.points, output, |p| (p.output, p.source))
    }

    /// Cuts the map at an output offset strictly inside it: the source offset played there and
    /// the two halves, each re-based to start at 0 → 0 (the right half covers what follows the
    /// cut), with their own overall factor. `None` when the cut is not strictly inside.
    pub fn split_at_output(&self, output: Time) -> Option<(Time, Warp, Warp)> {
        if output <= Time::ZERO || output >= self.output_len() {
            return None;
        }
        let source = self.output_to_source(output);
        if source <= Time::ZERO || source >= self.source_len() {
            return None;
        }
        let cut = WarpPoint { source, output };
        let mut left: Vec<WarpPoint> = self
            .points
            .iter()
            .copied()
            .filter(|p| p.output < output && p.source < source)
            .collect();
        left.push(cut);
        let mut right = vec![WarpPoint { source: Time::ZERO, output: Time::ZERO }];
        right.extend(
            self.points
                .iter()
                .filter(|p| p.output > output && p.source > source)
                .map(|p| WarpPoint { source: p.source - source, output: p.output - output }),
        );
        let half = |points: Vec<WarpPoint>| {
            let (s, o) =
                points.last().map_or((1, 1), |p| (p.source.ticks().max(1), p.output.ticks()));
            Warp { mode: self.mode, points, factor: o as f64 / s as f64, tightness: self.tightness }
        };
        let (l, r) = (half(left), half(right));
        (l.validate().is_ok() && r.validate().is_ok()).then_some((source, l, r))
    }
}

impl Warp {
    /// The map after a trim that moves the clip's start by `head` and its end by `tail` (both in
    /// output time; positive `head` and negative `tail` shorten). Trimmed-away parts are cut at
    /// the source instant they play; extensions play unwarped (1:1) source beyond the old ends.
    /// Returns the source offsets (from the old `source_in`) of the new start and end, and the
    /// re-based map; `None` when nothing or an invalid map would remain.
    pub fn trimmed(&self, head: Time, tail: Time) -> Option<(Time, Time, Warp)> {
        let (out_len, src_len) = (self.output_len(), self.source_len());
        let (start, end) = (head, out_len + tail);
        if end <= start {
            return None;
        }
        // Extend 1:1 outside the map, then cut inside it.
        let mut points = self.points.clone();
        if tail > Time::ZERO {
            points.push(WarpPoint { source: src_len + tail, output: end });
        }
        if head < Time::ZERO {
            let lead = Time::ZERO - head;
            for p in &mut points {
                p.source += lead;
                p.output += lead;
            }
            points.insert(0, WarpPoint { source: Time::ZERO, output: Time::ZERO });
        }
        let shift = Time::ZERO.max(Time::ZERO - head);
        let full = Warp { points, ..self.clone() };
        let (a, b) = (start + shift, end + shift);
        let src_a = full.output_to_source(a);
        let src_b = full.output_to_source(b);
        let mut cut: Vec<WarpPoint> = vec![WarpPoint { source: Time::ZERO, output: Time::ZERO }];
        cut.extend(
            full.points
                .iter()
                .filter(|p| p.output > a && p.output < b && p.source > src_a && p.source < src_b)
                .map(|p| WarpPoint { source: p.source - src_a, output: p.output - a }),
        );
        cut.push(WarpPoint { source: src_b - src_a, output: b - a });
        let factor = (b - a).ticks() as f64 / (src_b - src_a).ticks().max(1) as f64;
        let w = Warp { points: cut, factor, ..self.clone() };
        w.validate().ok()?;
        Some((src_a - shift, src_b - shift, w))
    }
}

fn interpolate(points: &[WarpPoint], x: Time, key: impl Fn(&WarpPoint) -> (Time, Time)) -> Time {
    if points.len() < 2 {
        return x;
    }
    let i = points.partition_point(|p| key(p).0 <= x).clamp(1, points.len() - 1);
    let (x0, y0) = key(&points[i - 1]);
    let (x1, y1) = key(&points[i]);
    let dx = i128::from((x1 - x0).ticks());
    if dx == 0 {
        return y0;
    }
    // i128 so that long clips at fine ticks cannot overflow the product.
    let num = i128::from((x - x0).ticks()) * i128::from((y1 - y0).ticks());
    Time::from_ticks(y0.ticks() + (num / dx) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimming_a_warp_cuts_where_the_source_plays_and_extends_one_to_one() {
        let ms = Time::from_millis;
        // 2 s of source played in 1 s, then 2 s in 3 s.
        let w = Warp {
            mode: AlignMode::Adr,
            points: vec![
                WarpPoint { source: ms(0), output: ms(0) },
                WarpPoint { source: ms(2000), output: ms(1000) },
                WarpPoint { source: ms(4000), output: ms(4000) },
            ],
            factor: 1.0,
            tightness: 0.5,
        };
        // Trim 500 ms off the start and 1500 ms off the end.
        let (a, b, t) = w.trimmed(ms(500), ms(-1500)).unwrap();
        assert_eq!((a, b), (ms(1000), ms(3000)));
        assert_eq!(t.output_len(), ms(2000));
        assert_eq!(t.source_len(), ms(2000));
        assert_eq!(t.source_to_output(ms(1000)), ms(500));
        // Extending both ends by 200 ms plays 200 ms more source at 1:1 on each side.
        let (a, b, t) = w.trimmed(ms(-200), ms(200)).unwrap();
        assert_eq!((a, b), (ms(-200), ms(4200)));
        assert_eq!(t.output_len(), ms(4400));
        assert_eq!(t.source_to_output(ms(2200)), ms(1200));
        // Nothing left.
        assert!(w.trimmed(ms(3000), ms(-1000)).is_none());
    }

    #[test]
    fn uniform_map_scales_and_inverts() {
        let w = Warp::uniform(AlignMode::Isochrony, Time::from_millis(2300), 2.0 / 2.3);
        w.validate().unwrap();
        assert_eq!(w.output_len(), Time::from_millis(2000));
        assert_eq!(w.source_to_output(Time::from_millis(1150)), Time::from_millis(1000));
        assert_eq!(w.output_to_source(Time::from_millis(1000)), Time::from_millis(1150));
    }

    #[test]
    fn split_keeps_every_instant_where_it_played() {
        let p = |s, o| WarpPoint { source: Time::from_millis(s), output: Time::from_millis(o) };
        let w = Warp {
            mode: AlignMode::Adr,
            points: vec![p(0, 0), p(1000, 1200), p(2000, 2000), p(3000, 3300)],
            factor: 1.1,
            tightness: 0.3,
        };
        // Cut inside the second segment (slope 0.8): output 1600 plays source 1500.
        let (s, l, r) = w.split_at_output(Time::from_millis(1600)).unwrap();
        assert_eq!(s, Time::from_millis(1500));
        assert_eq!(l.points, vec![p(0, 0), p(1000, 1200), p(1500, 1600)]);
        assert_eq!(r.points, vec![p(0, 0), p(500, 400), p(1500, 1700)]);
        assert!((l.factor - 1600.0 / 1500.0).abs() < 1e-9);
        assert_eq!((l.tightness, r.mode), (0.3, AlignMode::Adr));
        for o in [100, 900, 1300, 1599] {
            assert_eq!(
                l.output_to_source(Time::from_millis(o)),
                w.output_to_source(Time::from_millis(o))
            );
        }
        for o in [1601, 2000, 2500, 3299] {
            let t = Time::from_millis(o);
            assert_eq!(r.output_to_source(t - Time::from_millis(1600)) + s, w.output_to_source(t));
        }
        // A cut on a breakpoint does not duplicate it.
        let (_, l, r) = w.split_at_output(Time::from_millis(2000)).unwrap();
        assert_eq!(l.points.len(), 3);
        assert_eq!(r.points, vec![p(0, 0), p(1000, 1300)]);
        assert!(w.split_at_output(Time::ZERO).is_none());
        assert!(w.split_at_output(Time::from_millis(3300)).is_none());
    }

    #[test]
    fn validate_rejects_bad_maps() {
        let p = |s, o| WarpPoint { source: Time::from_millis(s), output: Time::from_millis(o) };
        let mut w = Warp::uniform(AlignMode::Adr, Time::from_millis(100), 1.0);
        w.points = vec![p(0, 0)];
        assert_eq!(w.validate(), Err(WarpError::TooFewPoints));
        w.points = vec![p(1, 0), p(5, 5)];
        assert_eq!(w.validate(), Err(WarpError::BadStart));
        w.points = vec![p(0, 0), p(5, 5), p(5, 9)];
        assert_eq!(w.validate(), Err(WarpError::NotMonotone(2)));
        assert_eq!(AlignMode::from_name("ISOCHRONY"), Some(AlignMode::Isochrony));
    }
}
