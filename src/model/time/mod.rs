//! Rational time model.
//!
//! Every instant and duration in a project is an integer number of ticks.
//! The tick is chosen so that the frame boundaries of all broadcast frame
//! rates and the sample boundaries of all common audio rates fall exactly on
//! a tick, which keeps edits frame- and sample-accurate no matter how many
//! times they are moved, trimmed or re-timed. Floating-point seconds only
//! appear at the edges (user input, display, DSP parameters).

mod rate;
mod timecode;

pub use rate::FrameRate;
pub use timecode::{Timecode, format_timecode};

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Neg, Sub, SubAssign};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Ticks per second: divisible by 24, 25, 30, 50, 60, 30000/1001 and
/// 60000/1001 frame rates and 8k..96k/44.1k sample rates.
///
/// The value is 2^9 · 3^2 · 5^5 · 7^2, so a 64-bit tick count still spans
/// about 400 years.
pub const TICKS_PER_SECOND: i64 = 705_600_000;

/// Ticks per millisecond; exact because `TICKS_PER_SECOND` is a multiple of 1000.
const TICKS_PER_MILLI: i64 = TICKS_PER_SECOND / 1000;

/// `1e9 / TICKS_PER_SECOND` reduced to lowest terms, so nanosecond conversion
/// multiplies by small numbers instead of risking overflow on large ones.
const NANOS_PER_TICK_NUM: i128 = 625;
const NANOS_PER_TICK_DEN: i128 = 441;

/// Divides rounding to the nearest integer, halves towards positive infinity.
///
/// Rounding halves in one fixed direction (rather than away from zero) keeps
/// the mapping translation-invariant, so negative frame numbers behave
/// exactly like positive ones.
fn div_round(a: i128, b: i128) -> i128 {
    debug_assert!(b > 0);
    let q = a.div_euclid(b);
    let r = a.rem_euclid(b);
    if 2 * r >= b { q + 1 } else { q }
}

/// Narrows to `i64`, clamping instead of wrapping: a pinned extreme value is a
/// visible symptom, a wrapped one silently corrupts the timeline.
fn saturate_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// A point in time or a duration, as an integer count of
/// [`TICKS_PER_SECOND`]-ths of a second.
///
/// Arithmetic operators follow plain `i64` semantics (overflow panics in
/// debug builds); the conversion constructors saturate instead because they
/// take untrusted input.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Time(pub i64);

impl Time {
    /// The timeline origin, and the empty duration.
    pub const ZERO: Time = Time(0);

    /// Wraps a raw tick count.
    pub const fn from_ticks(ticks: i64) -> Self {
        Time(ticks)
    }

    /// The raw tick count.
    pub const fn ticks(self) -> i64 {
        self.0
    }

    /// Converts seconds to the nearest tick. For CLI/UI input only: the
    /// model itself never stores floating-point seconds.
    ///
    /// Non-finite input cannot name an instant; NaN becomes zero and the
    /// infinities saturate.
    pub fn from_seconds_f64(s: f64) -> Self {
        // `as` saturates and maps NaN to 0, which is the behaviour we want.
        Time((s * TICKS_PER_SECOND as f64).round() as i64)
    }

    /// Seconds as a float, for display and DSP parameters only.
    pub fn as_seconds_f64(self) -> f64 {
        // Split so that large tick counts keep their sub-second precision.
        let whole = self.0.div_euclid(TICKS_PER_SECOND);
        let frac = self.0.rem_euclid(TICKS_PER_SECOND);
        whole as f64 + frac as f64 / TICKS_PER_SECOND as f64
    }

    /// Milliseconds, exactly (saturating at the representable range).
    pub fn from_millis(ms: i64) -> Self {
        Time(ms.saturating_mul(TICKS_PER_MILLI))
    }

    /// The start time of sample `n` at `rate` Hz.
    ///
    /// Exact when `rate` divides [`TICKS_PER_SECOND`] (all common audio
    /// rates do), otherwise rounded to the nearest tick. A zero rate comes
    /// only from a broken media header; it yields [`Time::ZERO`] rather than
    /// a panic.
    pub fn from_samples(n: i64, rate: u32) -> Self {
        if rate == 0 {
            return Time::ZERO;
        }
        let ticks = div_round(i128::from(n) * i128::from(TICKS_PER_SECOND), i128::from(rate));
        Time(saturate_i64(ticks))
    }

    /// Index of the sample at `rate` Hz that is playing at this time (floor).
    ///
    /// The exact inverse of [`Time::from_samples`] for rates that divide
    /// [`TICKS_PER_SECOND`]. A zero rate yields 0.
    pub fn to_samples(self, rate: u32) -> i64 {
        if rate == 0 {
            return 0;
        }
        let scaled = i128::from(self.0) * i128::from(rate);
        saturate_i64(scaled.div_euclid(i128::from(TICKS_PER_SECOND)))
    }

    /// Nanoseconds, as `gstreamer::ClockTime` counts them, rounded to the nearest.
    ///
    /// A tick is coarser than a nanosecond, so `from_nanos(t.to_nanos())`
    /// always gives back `t`, while the opposite trip may move by 1 ns.
    pub fn to_nanos(self) -> i64 {
        saturate_i64(div_round(i128::from(self.0) * NANOS_PER_TICK_NUM, NANOS_PER_TICK_DEN))
    }

    /// Converts nanoseconds (as `gstreamer::ClockTime` counts them) to the nearest tick.
    pub fn from_nanos(ns: i64) -> Self {
        Time(saturate_i64(div_round(i128::from(ns) * NANOS_PER_TICK_DEN, NANOS_PER_TICK_NUM)))
    }

    /// Magnitude of a duration. Saturates for `i64::MIN` ticks, whose
    /// negation is not representable.
    pub const fn abs(self) -> Self {
        Time(self.0.saturating_abs())
    }
}

impl Add for Time {
    type Output = Time;
    fn add(self, rhs: Time) -> Time {
        Time(self.0 + rhs.0)
    }
}

impl Sub for Time {
    type Output = Time;
    fn sub(self, rhs: Time) -> Time {
        Time(self.0 - rhs.0)
    }
}

impl Neg for Time {
    type Output = Time;
    fn neg(self) -> Time {
        Time(-self.0)
    }
}

impl AddAssign for Time {
    fn add_assign(&mut self, rhs: Time) {
        self.0 += rhs.0;
    }
}

impl SubAssign for Time {
    fn sub_assign(&mut self, rhs: Time) {
        self.0 -= rhs.0;
    }
}

impl Mul<i64> for Time {
    type Output = Time;
    fn mul(self, rhs: i64) -> Time {
        Time(self.0 * rhs)
    }
}

impl fmt::Display for Time {
    /// Seconds with millisecond precision, e.g. `12.500s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Integer arithmetic so the printed digits are exact, and via i128 so
        // that `i64::MIN` has a magnitude.
        let millis = div_round(i128::from(self.0).abs(), i128::from(TICKS_PER_MILLI));
        // A value that rounds to zero prints unsigned; "-0.000s" would only
        // confuse.
        let sign = if self.0 < 0 && millis != 0 { "-" } else { "" };
        write!(f, "{sign}{}.{:03}s", millis / 1000, millis % 1000)
    }
}

/// Why a piece of text is not a valid [`Time`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimeParseErrorKind {
    /// Nothing but whitespace (or a bare sign) was given.
    #[error("the text is empty")]
    Empty,
    /// A field is not a plain decimal number.
    #[error("expected a decimal number such as 12.5, 1500ms, 01:02.250 or 1:02:03.5")]
    InvalidNumber,
    /// A unit suffix other than `s` or `ms` was given.
    #[error("unknown unit (expected \"s\", \"ms\" or no unit)")]
    UnknownUnit,
    /// Minutes or seconds in a clock form are 60 or more.
    #[error("minutes and seconds in a clock time must be below 60")]
    FieldOutOfRange,
    /// More than three `:`-separated fields.
    #[error("too many ':'-separated fields (at most h:mm:ss)")]
    TooManyFields,
    /// The value does not fit the tick range (about ±400 years).
    #[error("the value is too large")]
    OutOfRange,
}

/// A [`Time`] could not be parsed from text; carries the offending input so
/// the message can point at it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot parse {input:?} as a time: {kind}")]
pub struct TimeParseError {
    /// The text as the user supplied it.
    pub input: String,
    /// What was wrong with it.
    pub kind: TimeParseErrorKind,
}

/// Beyond this many fractional digits the value is far below one tick, and
/// more digits would only risk `i128` overflow.
const MAX_FRACTION_DIGITS: u32 = 20;

/// Parses an unsigned decimal (`12`, `12.5`, `.5`, `12.`) into
/// `mantissa / 10^scale`, without going through floating point.
fn parse_decimal(text: &str) -> Result<(i128, u32), TimeParseErrorKind> {
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, f),
        None => (text, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int_part.is_empty() && frac_part.is_empty())
        || !all_digits(int_part)
        || !all_digits(frac_part)
    {
        return Err(TimeParseErrorKind::InvalidNumber);
    }
    let frac_kept = &frac_part[..frac_part.len().min(MAX_FRACTION_DIGITS as usize)];
    let mut mantissa: i128 = 0;
    for digit in int_part.bytes().chain(frac_kept.bytes()) {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(i128::from(digit - b'0')))
            .ok_or(TimeParseErrorKind::OutOfRange)?;
    }
    // At most MAX_FRACTION_DIGITS, so the cast is lossless.
    Ok((mantissa, frac_kept.len() as u32))
}

/// Converts `mantissa / 10^scale` units of `unit_ticks` ticks each to the
/// nearest tick.
fn decimal_to_ticks(
    (mantissa, scale): (i128, u32),
    unit_ticks: i64,
) -> Result<i128, TimeParseErrorKind> {
    let numerator =
        mantissa.checked_mul(i128::from(unit_ticks)).ok_or(TimeParseErrorKind::OutOfRange)?;
    Ok(div_round(numerator, 10_i128.pow(scale)))
}

/// Parses an unsigned whole-number clock field (hours or minutes).
fn parse_clock_int(text: &str) -> Result<i128, TimeParseErrorKind> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TimeParseErrorKind::InvalidNumber);
    }
    match parse_decimal(text)? {
        (value, 0) => Ok(value),
        _ => Err(TimeParseErrorKind::InvalidNumber),
    }
}

/// Parses an unsigned time in any accepted notation into ticks.
fn parse_unsigned_ticks(text: &str) -> Result<i128, TimeParseErrorKind> {
    if text.contains(':') {
        let fields: Vec<&str> = text.split(':').collect();
        let (hours, minutes, seconds) = match fields.as_slice() {
            [m, s] => (0, parse_clock_int(m)?, *s),
            [h, m, s] => {
                let minutes = parse_clock_int(m)?;
                if minutes >= 60 {
                    return Err(TimeParseErrorKind::FieldOutOfRange);
                }
                (parse_clock_int(h)?, minutes, *s)
            }
            _ => return Err(TimeParseErrorKind::TooManyFields),
        };
        let secs = parse_decimal(seconds)?;
        if secs.0 >= 60 * 10_i128.pow(secs.1) {
            return Err(TimeParseErrorKind::FieldOutOfRange);
        }
        let whole_minutes = hours
            .checked_mul(60)
            .and_then(|m| m.checked_add(minutes))
            .and_then(|m| m.checked_mul(60 * i128::from(TICKS_PER_SECOND)))
            .ok_or(TimeParseErrorKind::OutOfRange)?;
        return whole_minutes
            .checked_add(decimal_to_ticks(secs, TICKS_PER_SECOND)?)
            .ok_or(TimeParseErrorKind::OutOfRange);
    }

    // Units are alphabetic and trail the number, so split them off first to
    // tell "12x" (bad unit) apart from "1x2" (bad number).
    let number = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &text[number.len()..];
    let unit_ticks = match unit {
        "" | "s" => TICKS_PER_SECOND,
        "ms" => TICKS_PER_MILLI,
        _ => return Err(TimeParseErrorKind::UnknownUnit),
    };
    decimal_to_ticks(parse_decimal(number.trim_end())?, unit_ticks)
}

impl FromStr for Time {
    type Err = TimeParseError;

    /// Accepts `12.5`, `12.5s`, `1500ms`, `01:02.250` (m:ss.fff) and
    /// `1:02:03.5` (h:mm:ss.fff), each optionally signed. Parsing is exact
    /// decimal arithmetic, rounded once to the nearest tick.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |kind| TimeParseError { input: s.to_owned(), kind };
        let trimmed = s.trim();
        let (negative, body) = match trimmed.as_bytes().first() {
            Some(b'-') => (true, &trimmed[1..]),
            Some(b'+') => (false, &trimmed[1..]),
            _ => (false, trimmed),
        };
        if body.is_empty() {
            return Err(fail(TimeParseErrorKind::Empty));
        }
        let magnitude = parse_unsigned_ticks(body).map_err(fail)?;
        let ticks = if negative { -magnitude } else { magnitude };
        i64::try_from(ticks).map(Time).map_err(|_| fail(TimeParseErrorKind::OutOfRange))
    }
}

/// Errors of the frame-rate and timecode model.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TimeError {
    /// A frame rate with a zero numerator or denominator.
    #[error("frame rate {num}/{den} is invalid: numerator and denominator must be non-zero")]
    ZeroFrameRate {
        /// Frames.
        num: u32,
        /// Per this many seconds.
        den: u32,
    },
    /// A frame rate whose frames would be shorter than one tick, so distinct
    /// frames could no longer have distinct start times.
    #[error(
        "frame rate {num}/{den} is too high: frames shorter than 1/{TICKS_PER_SECOND} s cannot be represented"
    )]
    FrameRateTooHigh {
        /// Frames.
        num: u32,
        /// Per this many seconds.
        den: u32,
    },
    /// Timecode counts from zero and has no sign.
    #[error("frame {0} is before the start of the timeline; timecode cannot be negative")]
    NegativeFrame(i64),
    /// The frame is so far out that its hour count does not fit a timecode.
    #[error("frame {0} is too far from zero to be written as a timecode")]
    FrameOutOfRange(i64),
    /// Drop-frame counting was requested for a rate it is not defined for.
    #[error("drop-frame timecode is only defined for 29.97 and 59.94 fps, not {0} fps")]
    DropFrameNotSupported(FrameRate),
    /// The rate rounds to zero whole frames per second, so a timecode frame
    /// field would have no valid values.
    #[error("{0} fps is too slow for timecode (less than half a frame per second)")]
    RateTooSlowForTimecode(FrameRate),
    /// A timecode field exceeds its range.
    #[error("timecode {field} value {value} is out of range: it must be below {limit}")]
    TimecodeFieldOutOfRange {
        /// Which field: "minutes", "seconds" or "frames".
        field: &'static str,
        /// The value given.
        value: u32,
        /// The exclusive upper bound.
        limit: u32,
    },
    /// A drop-frame label that the counting scheme skips, such as
    /// `00:01:00;00` at 29.97 fps.
    #[error(
        "timecode {0} does not exist: drop-frame counting skips the first frame labels of each minute not divisible by ten"
    )]
    DroppedFrameLabel(Timecode),
    /// Text that is not in `HH:MM:SS:FF` / `HH:MM:SS;FF` form.
    #[error(
        "cannot parse {input:?} as a timecode: expected HH:MM:SS:FF, or HH:MM:SS;FF for drop-frame"
    )]
    InvalidTimecodeSyntax {
        /// The text as given.
        input: String,
    },
}

#[cfg(test)]
mod tests;
