//! SMPTE timecode, drop-frame included, and its parsing and display.

use super::*;

/// SMPTE timecode.
///
/// Hours are not wrapped at 24 because an editing timeline has no day
/// boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timecode {
    /// Hours, unbounded.
    pub hours: u32,
    /// Minutes, 0..60.
    pub minutes: u32,
    /// Seconds, 0..60.
    pub seconds: u32,
    /// Frame within the second, 0..nominal fps.
    pub frames: u32,
    /// Whether the labels follow drop-frame counting.
    pub drop_frame: bool,
}

/// Shape of a timecode counting scheme at a given rate.
pub(super) struct Counting {
    /// Frame labels per second.
    fps: i64,
    /// Labels skipped at the start of each minute not divisible by ten
    /// (zero for non-drop counting).
    dropped: i64,
}

impl Counting {
    pub(super) fn for_rate(rate: FrameRate, drop_frame: bool) -> Result<Self, TimeError> {
        let fps = i64::from(rate.nominal_fps());
        if fps == 0 {
            return Err(TimeError::RateTooSlowForTimecode(rate));
        }
        let dropped = if drop_frame {
            if !rate.is_drop_frame_rate() {
                return Err(TimeError::DropFrameNotSupported(rate));
            }
            // Dropping fps/15 labels in nine of every ten minutes removes
            // exactly the 0.1% by which the real rate lags the nominal one.
            fps / 15
        } else {
            0
        };
        Ok(Counting { fps, dropped })
    }
}

impl Timecode {
    /// Label of `frame` at `rate`.
    ///
    /// # Errors
    ///
    /// [`TimeError::NegativeFrame`] for frames before zero,
    /// [`TimeError::DropFrameNotSupported`] for drop-frame counting at a rate
    /// without it, [`TimeError::RateTooSlowForTimecode`] for rates below half
    /// a frame per second, and [`TimeError::FrameOutOfRange`] when the hour
    /// count does not fit.
    pub fn from_frame(frame: i64, rate: FrameRate, drop_frame: bool) -> Result<Self, TimeError> {
        if frame < 0 {
            return Err(TimeError::NegativeFrame(frame));
        }
        let counting = Counting::for_rate(rate, drop_frame)?;
        let label = if counting.dropped == 0 {
            frame
        } else {
            // Each ten-minute block holds the same number of real frames;
            // within a block the first minute keeps all its labels and each
            // later one starts `dropped` labels late.
            let labels_per_minute = 60 * counting.fps;
            let frames_per_block = 10 * labels_per_minute - 9 * counting.dropped;
            let frames_per_short_minute = labels_per_minute - counting.dropped;
            let block = frame / frames_per_block;
            let in_block = frame % frames_per_block;
            let short_minutes_passed = if in_block < counting.dropped {
                0
            } else {
                (in_block - counting.dropped) / frames_per_short_minute
            };
            frame + counting.dropped * (9 * block + short_minutes_passed)
        };
        let fps = counting.fps;
        let total_seconds = label / fps;
        let hours =
            u32::try_from(total_seconds / 3600).map_err(|_| TimeError::FrameOutOfRange(frame))?;
        // The remaining fields are below 60 or below `fps` (a `u32`).
        let small = |v: i64| u32::try_from(v).unwrap_or(u32::MAX);
        Ok(Timecode {
            hours,
            minutes: small(total_seconds / 60 % 60),
            seconds: small(total_seconds % 60),
            frames: small(label % fps),
            drop_frame,
        })
    }

    /// Frame number this label denotes at `rate`.
    ///
    /// # Errors
    ///
    /// [`TimeError::TimecodeFieldOutOfRange`] unless minutes and seconds are
    /// below 60 and frames below the nominal rate,
    /// [`TimeError::DroppedFrameLabel`] for a label that drop-frame counting
    /// skips, and the rate errors of [`Timecode::from_frame`].
    pub fn to_frame(self, rate: FrameRate) -> Result<i64, TimeError> {
        let counting = Counting::for_rate(rate, self.drop_frame)?;
        let check = |field, value: u32, limit: i64| {
            if i64::from(value) < limit {
                Ok(())
            } else {
                Err(TimeError::TimecodeFieldOutOfRange {
                    field,
                    value,
                    limit: u32::try_from(limit).unwrap_or(u32::MAX),
                })
            }
        };
        check("minutes", self.minutes, 60)?;
        check("seconds", self.seconds, 60)?;
        check("frames", self.frames, counting.fps)?;
        let total_minutes = 60 * i64::from(self.hours) + i64::from(self.minutes);
        if counting.dropped > 0
            && self.seconds == 0
            && i64::from(self.frames) < counting.dropped
            && total_minutes % 10 != 0
        {
            return Err(TimeError::DroppedFrameLabel(self));
        }
        let label =
            (total_minutes * 60 + i64::from(self.seconds)) * counting.fps + i64::from(self.frames);
        Ok(label - counting.dropped * (total_minutes - total_minutes / 10))
    }

    /// Parses `HH:MM:SS:FF` (non-drop) or `HH:MM:SS;FF` (drop-frame; `.` and
    /// `,` are accepted in place of `;`), validated against `rate`.
    ///
    /// # Errors
    ///
    /// [`TimeError::InvalidTimecodeSyntax`] for malformed text, otherwise
    /// whatever [`Timecode::to_frame`] reports for a label that does not
    /// exist at `rate`.
    pub fn parse(s: &str, rate: FrameRate) -> Result<Self, TimeError> {
        let syntax = || TimeError::InvalidTimecodeSyntax { input: s.to_owned() };
        let text = s.trim();
        let (clock, frames_text, drop_frame) = text
            .rfind([':', ';', '.', ','])
            .map(|i| (&text[..i], &text[i + 1..], &text[i..=i] != ":"))
            .ok_or_else(syntax)?;
        let mut fields = clock.split(':');
        let mut field = |max_digits: usize| -> Result<u32, TimeError> {
            let f = fields.next().ok_or_else(syntax)?;
            if f.is_empty() || f.len() > max_digits || !f.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            f.parse().map_err(|_| syntax())
        };
        let hours = field(9)?;
        let minutes = field(2)?;
        let seconds = field(2)?;
        if fields.next().is_some() {
            return Err(syntax());
        }
        if frames_text.is_empty()
            || frames_text.len() > 3
            || !frames_text.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(syntax());
        }
        let frames = frames_text.parse().map_err(|_| syntax())?;
        let tc = Timecode { hours, minutes, seconds, frames, drop_frame };
        tc.to_frame(rate)?;
        Ok(tc)
    }
}

impl fmt::Display for Timecode {
    /// `HH:MM:SS:FF`, with `;` before the frames for drop-frame.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sep = if self.drop_frame { ';' } else { ':' };
        write!(
            f,
            "{:02}:{:02}:{:02}{sep}{:02}",
            self.hours, self.minutes, self.seconds, self.frames
        )
    }
}

/// Timecode of the frame on screen at `t`, for the UI.
///
/// Times before zero show the distance back from zero with a leading `-`.
/// Drop-frame is quietly ignored at rates that lack it, since a display
/// string has no way to report the error; should no timecode be possible
/// (absurdly slow rate or distant time) a placeholder is returned.
pub fn format_timecode(t: Time, rate: FrameRate, drop_frame: bool) -> String {
    let frame = rate.time_to_frame(t);
    let drop_frame = drop_frame && rate.is_drop_frame_rate();
    let sign = if frame < 0 { "-" } else { "" };
    match Timecode::from_frame(frame.saturating_abs(), rate, drop_frame) {
        Ok(tc) => format!("{sign}{tc}"),
        Err(_) => String::from("--:--:--:--"),
    }
}
