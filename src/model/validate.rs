//! Range checks on a project's times: nothing negative, no clip whose source runs backwards, and
//! nothing past the timeline's limit: [`MAX_TIMELINE`] (24 h) unless the project raises it with
//! `timeline.max_hours` (up to [`MAX_HOURS`]). Applied when a project is loaded and before it is
//! saved, so an absurd time (a hand-edited file, a subtitle cue at 999999:59:59) is a clear error
//! naming the field and its value, never a 114-year render or a huge allocation.

use crate::model::project::{Project, ProjectError};
use crate::model::time::{TICKS_PER_SECOND, Time};

/// The longest timeline a project may have unless it says otherwise: 24 hours.
pub const MAX_TIMELINE: Time = Time::from_ticks(24 * 3600 * TICKS_PER_SECOND);

/// The most hours a project may allow its timeline (`timeline.max_hours`, `--max-hours`): a
/// week. Past it any time is refused, whatever the project says.
pub const MAX_HOURS: u32 = 168;

/// The longest timeline any project may have ([`MAX_HOURS`]).
pub const MAX_TIMELINE_ANY: Time = Time::from_ticks(MAX_HOURS as i64 * 3600 * TICKS_PER_SECOND);

/// How to allow a longer timeline, for the messages.
pub const LONGER_HINT: &str = "for a longer timeline set the project's \"max_hours\" (up to 168) \
                               with --max-hours on redub new or redub lines import";

/// Checks a timeline limit in hours (`max_hours`, `--max-hours`): 1 to [`MAX_HOURS`].
pub fn check_max_hours(hours: u32) -> Result<(), ProjectError> {
    if !(1..=MAX_HOURS).contains(&hours) {
        return Err(invalid(
            "timeline max_hours",
            hours,
            &format!("must be 1 to {MAX_HOURS} hours (a week)"),
        ));
    }
    Ok(())
}

/// A timeline limit of `hours` as a time.
pub fn hours_limit(hours: u32) -> Time {
    Time::from_ticks(i64::from(hours.min(MAX_HOURS)) * 3600 * TICKS_PER_SECOND)
}

/// The frame rates a timeline may have (the slowest time-lapse to the fastest high-speed
/// camera's playback rate): outside them a frame's length makes the arithmetic absurd (a
/// 25/4294967295 rate has 5-year frames).
const MIN_FPS: f64 = 1.0;
const MAX_FPS: f64 = 1000.0;

/// Longest ducking ramp, in ms (an hour).
const MAX_RAMP_MS: f32 = 3_600_000.0;

fn invalid(field: &str, value: impl std::fmt::Display, why: &str) -> ProjectError {
    ProjectError::Invalid(format!("{field} = {value}: {why}"))
}

/// The timeline's limit: `hours` of [`Project`]'s `timeline.max_hours`, else 24.
#[derive(Clone, Copy)]
struct Limit(u32);

impl Limit {
    fn time(self) -> Time {
        hours_limit(self.0)
    }
}

/// `value` must lie in `0..=limit`.
fn in_range(field: &str, value: Time, limit: Limit) -> Result<(), ProjectError> {
    if value < Time::ZERO {
        return Err(invalid(field, value, "negative"));
    }
    if value > limit.time() {
        let why = if limit.0 < MAX_HOURS {
            format!("past the {} h limit of this timeline; {LONGER_HINT}", limit.0)
        } else {
            format!("past the {MAX_HOURS} h limit of any timeline")
        };
        return Err(invalid(field, value, &why));
    }
    Ok(())
}

/// `start..end` must lie in `0..=limit` and not run backwards.
fn span(field: &str, start: Time, end: Time, limit: Limit) -> Result<(), ProjectError> {
    in_range(&format!("{field} start"), start, limit)?;
    in_range(&format!("{field} end"), end, limit)?;
    if end < start {
        return Err(invalid(&format!("{field} end"), end, &format!("before its start {start}")));
    }
    Ok(())
}

fn ramp(field: &str, ms: f32) -> Result<(), ProjectError> {
    if !(0.0..=MAX_RAMP_MS).contains(&ms) {
        return Err(invalid(field, format!("{ms} ms"), "must be 0 to 3600000 ms"));
    }
    Ok(())
}

impl Project {
    /// Checks every time in the project (see the module documentation). The error names the
    /// field, e.g. `clip 3 source_out = 1.000s: before source_in 2.000s`.
    pub fn validate(&self) -> Result<(), ProjectError> {
        let tl = &self.timeline;
        let fps = tl.frame_rate.as_f64();
        if !(MIN_FPS..=MAX_FPS).contains(&fps) {
            return Err(invalid(
                "timeline frame_rate",
                format!("{}/{}", tl.frame_rate.num, tl.frame_rate.den),
                &format!("must be {MIN_FPS} to {MAX_FPS} frames a second"),
            ));
        }
        if let Some(h) = tl.max_hours {
            check_max_hours(h)?;
        }
        let limit = Limit(tl.max_hours.unwrap_or(24));
        in_range("timeline duration", tl.duration, limit)?;
        if let Some(tc) = tl.start_timecode {
            // A label a week past midnight is absurd; a negative one has no timecode.
            let max = tl.frame_rate.time_to_frame(MAX_TIMELINE_ANY);
            if !(0..=max).contains(&tc.frame) {
                return Err(invalid("timeline start_timecode frame", tc.frame, "out of range"));
            }
            if tc.drop_frame && !tl.frame_rate.is_drop_frame_rate() {
                return Err(invalid(
                    "timeline start_timecode drop_frame",
                    tc.drop_frame,
                    "drop-frame timecode exists only at 29.97 and 59.94 fps",
                ));
            }
        }
        for m in &self.media {
            if m.duration < Time::ZERO {
                return Err(invalid(&format!("media {} duration", m.id.0), m.duration, "negative"));
            }
        }
        let d = &tl.ducking;
        ramp("ducking attack_ms", d.attack_ms)?;
        ramp("ducking release_ms", d.release_ms)?;
        for t in &tl.dub_tracks {
            for c in &t.clips {
                let field = |f: &str| format!("clip {} {f}", c.id.0);
                in_range(&field("source_in"), c.source_in, limit)?;
                in_range(&field("source_out"), c.source_out, limit)?;
                if c.source_out < c.source_in {
                    return Err(invalid(
                        &field("source_out"),
                        c.source_out,
                        &format!("before source_in {}", c.source_in),
                    ));
                }
                in_range(&field("position"), c.position, limit)?;
                in_range(&field("fade_in"), c.fade_in, limit)?;
                in_range(&field("fade_out"), c.fade_out, limit)?;
                if let Some(w) = &c.warp {
                    w.validate().map_err(|e| invalid(&field("warp"), "…", &e.to_string()))?;
                    in_range(&field("warp length"), w.output_len(), limit)?;
                }
                let end = Time::from_ticks(c.position.ticks().saturating_add(c.duration().ticks()));
                in_range(&field("end"), end, limit)?;
                if let Some(cue) = &c.cue {
                    span(&field("cue"), cue.start, cue.end, limit)?;
                }
                if let Some(dk) = &c.ducking {
                    ramp(&field("ducking attack_ms"), dk.attack_ms)?;
                    ramp(&field("ducking release_ms"), dk.release_ms)?;
                }
            }
            for (k, s) in t.lip_segments.iter().enumerate() {
                span(
                    &format!("dub track {} lip segment {}", t.id.0, k + 1),
                    s.start,
                    s.end,
                    limit,
                )?;
            }
        }
        for (k, m) in tl.markers.iter().enumerate() {
            in_range(&format!("marker {} ({:?}) time", k + 1, m.name), m.time, limit)?;
        }
        if let Some((a, b)) = self.export.range {
            span("export range", a, b, limit)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FrameRate, MediaId, MediaKind, MediaRef, TrackId};
    use std::path::PathBuf;

    fn project() -> Project {
        let mut p = Project::new("t", FrameRate::FPS_25);
        p.media.push(MediaRef {
            id: MediaId(1),
            kind: MediaKind::Audio,
            path: PathBuf::from("a.wav"),
            absolute_path: PathBuf::from("/a.wav"),
            content_hash: String::new(),
            size: 1,
            duration: Time::from_millis(2000),
        });
        p.timeline.duration = Time::from_millis(10_000);
        let t = p.add_dub_track("Dub 1");
        assert_eq!(t, TrackId(1));
        p.add_clip(t, MediaId(1), Time::from_millis(1000)).unwrap();
        p
    }

    fn err(p: &Project) -> String {
        p.validate().unwrap_err().to_string()
    }

    #[test]
    fn absurd_times_are_named() {
        let p = project();
        p.validate().unwrap();
        fn clip(p: &mut Project) -> &mut crate::model::Clip {
            &mut p.timeline.dub_tracks[0].clips[0]
        }

        let mut q = p.clone();
        q.timeline.duration = Time::from_ticks(i64::MAX);
        assert!(err(&q).starts_with("timeline duration = "), "{}", err(&q));
        assert!(err(&q).contains("24 h"), "{}", err(&q));

        let mut q = p.clone();
        q.timeline.frame_rate.den = u32::MAX;
        assert_eq!(
            err(&q),
            "timeline frame_rate = 25/4294967295: must be 1 to 1000 frames a second"
        );

        let mut q = p.clone();
        clip(&mut q).position = Time::from_millis(-3000);
        assert_eq!(err(&q), "clip 1 position = -3.000s: negative");

        let mut q = p.clone();
        clip(&mut q).source_in = Time::from_millis(1500);
        clip(&mut q).source_out = Time::from_millis(500);
        assert_eq!(err(&q), "clip 1 source_out = 0.500s: before source_in 1.500s");

        let mut q = p.clone();
        clip(&mut q).fade_in = Time::from_ticks(1 << 62);
        assert!(err(&q).starts_with("clip 1 fade_in = "), "{}", err(&q));

        let mut q = p.clone();
        clip(&mut q).position = Time::from_millis(24 * 3600 * 1000 - 1000);
        assert!(err(&q).starts_with("clip 1 end = 86401.000s: past"), "{}", err(&q));

        let mut q = p.clone();
        q.timeline
            .markers
            .push(crate::model::Marker { time: Time::from_millis(-1), name: "m".into() });
        assert!(err(&q).starts_with("marker 1 (\"m\") time = -0.001s"), "{}", err(&q));

        let mut q = p.clone();
        q.export.range = Some((Time::from_millis(5000), Time::from_millis(1000)));
        assert!(err(&q).starts_with("export range end = 1.000s: before"), "{}", err(&q));

        let mut q = p.clone();
        q.timeline.ducking.release_ms = -5.0;
        assert!(err(&q).starts_with("ducking release_ms = -5 ms"), "{}", err(&q));

        // At the limit is fine.
        let mut q = p;
        q.timeline.duration = MAX_TIMELINE;
        q.validate().unwrap();
    }
}
