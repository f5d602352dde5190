//! Rational time model.
//!
//! Every instant and duration in a project is an integer number of ticks.
//! The tick is chosen so that the frame boundaries of all broadcast frame
//! rates and the sample boundaries of all common audio rates fall exactly on
//! a tick, which keeps edits frame- and sample-accurate no matter how many
//! times they are moved, trimmed or re-timed. Floating-point seconds only
//! appear at the edges (user input, display, DSP parameters).

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

/// A video frame rate as the exact fraction `num / den` frames per second.
///
/// [`FrameRate::new`] keeps the fraction reduced and in range, which the
/// derived equality and hashing rely on; deserialization goes through the
/// same check. Building one with a struct literal bypasses it, and a zero
/// field then makes the conversion methods panic on division by zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "FrameRateFields")]
pub struct FrameRate {
    /// Frames…
    pub num: u32,
    /// …per this many seconds.
    pub den: u32,
}

/// The unchecked wire shape of [`FrameRate`], so project files cannot smuggle
/// in a zero or unreduced rate.
#[derive(Deserialize)]
struct FrameRateFields {
    num: u32,
    den: u32,
}

impl TryFrom<FrameRateFields> for FrameRate {
    type Error = TimeError;
    fn try_from(raw: FrameRateFields) -> Result<Self, TimeError> {
        FrameRate::new(raw.num, raw.den)
    }
}

const fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        let r = a % b;
        a = b;
        b = r;
    }
    a
}

impl FrameRate {
    /// 24 fps (cinema).
    pub const FPS_24: FrameRate = FrameRate { num: 24, den: 1 };
    /// 25 fps (PAL).
    pub const FPS_25: FrameRate = FrameRate { num: 25, den: 1 };
    /// 30 fps.
    pub const FPS_30: FrameRate = FrameRate { num: 30, den: 1 };
    /// 24000/1001 ≈ 23.976 fps (film transferred to NTSC).
    pub const FPS_23_976: FrameRate = FrameRate { num: 24_000, den: 1001 };
    /// 30000/1001 ≈ 29.97 fps (NTSC).
    pub const FPS_29_97: FrameRate = FrameRate { num: 30_000, den: 1001 };
    /// 50 fps.
    pub const FPS_50: FrameRate = FrameRate { num: 50, den: 1 };
    /// 60000/1001 ≈ 59.94 fps.
    pub const FPS_59_94: FrameRate = FrameRate { num: 60_000, den: 1001 };
    /// 60 fps.
    pub const FPS_60: FrameRate = FrameRate { num: 60, den: 1 };

    /// Every named constant, for snapping guesses and for tests.
    const STANDARD: [FrameRate; 8] = [
        Self::FPS_23_976,
        Self::FPS_24,
        Self::FPS_25,
        Self::FPS_29_97,
        Self::FPS_30,
        Self::FPS_50,
        Self::FPS_59_94,
        Self::FPS_60,
    ];

    /// `num / den` frames per second, reduced to lowest terms.
    ///
    /// # Errors
    ///
    /// [`TimeError::ZeroFrameRate`] for a zero component, and
    /// [`TimeError::FrameRateTooHigh`] when a frame would be shorter than one
    /// tick, since frames could then share a start time.
    pub fn new(num: u32, den: u32) -> Result<Self, TimeError> {
        if num == 0 || den == 0 {
            return Err(TimeError::ZeroFrameRate { num, den });
        }
        if u64::from(num) > u64::from(den) * TICKS_PER_SECOND as u64 {
            return Err(TimeError::FrameRateTooHigh { num, den });
        }
        let g = gcd(num, den);
        Ok(FrameRate { num: num / g, den: den / g })
    }

    /// Frames per second as a float, for display and DSP only.
    pub fn as_f64(self) -> f64 {
        f64::from(self.num) / f64::from(self.den)
    }

    /// Start time of `frame`, rounded to the nearest tick (exact for every
    /// rate whose frame duration is a whole number of ticks, which includes
    /// all the named constants).
    pub fn frame_to_time(self, frame: i64) -> Time {
        Time(saturate_i64(self.frame_start_ticks(i128::from(frame))))
    }

    fn frame_start_ticks(self, frame: i128) -> i128 {
        div_round(frame * i128::from(self.den) * i128::from(TICKS_PER_SECOND), i128::from(self.num))
    }

    /// Index of the frame on screen at `t`: the last frame whose start time
    /// is at or before `t`.
    ///
    /// Defined against [`FrameRate::frame_to_time`] rather than by plain
    /// division so that `time_to_frame(frame_to_time(n)) == n` holds even for
    /// rates whose frame starts had to be rounded.
    pub fn time_to_frame(self, t: Time) -> i64 {
        let exact_floor = (i128::from(t.0) * i128::from(self.num))
            .div_euclid(i128::from(self.den) * i128::from(TICKS_PER_SECOND));
        // The true start of `exact_floor` is at or before `t`, so its rounded
        // start is too. The next frame's true start lies after `t`, but
        // rounding may pull it back onto `t`; the one after that is at least
        // a whole tick later and cannot be.
        let next = exact_floor + 1;
        let frame =
            if self.frame_start_ticks(next) <= i128::from(t.0) { next } else { exact_floor };
        saturate_i64(frame)
    }

    /// Duration of one frame (rounded to the nearest tick; exact for the
    /// named constants).
    pub fn frame_duration(self) -> Time {
        self.frame_to_time(1)
    }

    /// Frames per second rounded to a whole number, as timecode counts them:
    /// 30 for 29.97.
    pub fn nominal_fps(self) -> u32 {
        let rounded = (u64::from(self.num) + u64::from(self.den) / 2) / u64::from(self.den);
        // At most `num`, so it always fits.
        u32::try_from(rounded).unwrap_or(u32::MAX)
    }

    /// Whether SMPTE drop-frame timecode is defined for this rate
    /// (30000/1001 and 60000/1001).
    pub fn is_drop_frame_rate(self) -> bool {
        self == Self::FPS_29_97 || self == Self::FPS_59_94
    }

    /// Best exact rate for a float reported by a demuxer or typed by a user.
    ///
    /// Values close to a standard rate snap to it (the tolerance admits the
    /// customary "23.98" and "29.97"), near-integers become `n/1`, anything
    /// else becomes a fraction over 1000. Returns `None` for non-positive or
    /// non-finite input and for rates that [`FrameRate::new`] rejects.
    pub fn from_f64_guess(fps: f64) -> Option<Self> {
        const NTSC_TOLERANCE: f64 = 0.005;
        const INTEGER_TOLERANCE: f64 = 0.001;
        if !fps.is_finite() || fps <= 0.0 {
            return None;
        }
        if let Some(rate) = Self::STANDARD
            .into_iter()
            .filter(|r| r.den == 1001)
            .find(|r| (r.as_f64() - fps).abs() < NTSC_TOLERANCE)
        {
            return Some(rate);
        }
        let nearest_integer = fps.round();
        if (fps - nearest_integer).abs() < INTEGER_TOLERANCE {
            return u32::try_from(nearest_integer as u64).ok().and_then(|n| Self::new(n, 1).ok());
        }
        let millis = (fps * 1000.0).round();
        u32::try_from(millis as u64).ok().and_then(|n| Self::new(n, 1000).ok())
    }
}

impl fmt::Display for FrameRate {
    /// Whole rates print as integers ("25"); others with up to three
    /// decimals and no trailing zeros ("29.97", "23.976").
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let den = u64::from(self.den.max(1));
        if den == 1 {
            return write!(f, "{}", self.num);
        }
        let thousandths = (u64::from(self.num) * 1000 + den / 2) / den;
        let (whole, frac) = (thousandths / 1000, thousandths % 1000);
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:03}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

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
struct Counting {
    /// Frame labels per second.
    fps: i64,
    /// Labels skipped at the start of each minute not divisible by ten
    /// (zero for non-drop counting).
    dropped: i64,
}

impl Counting {
    fn for_rate(rate: FrameRate, drop_frame: bool) -> Result<Self, TimeError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SAMPLE_RATES: [u32; 6] = [8000, 16_000, 22_050, 44_100, 48_000, 96_000];

    fn any_standard_rate() -> impl Strategy<Value = FrameRate> {
        prop::sample::select(FrameRate::STANDARD.to_vec())
    }

    /// Arbitrary valid rates, including ones whose frame starts must be
    /// rounded (e.g. 11 fps), to exercise the robust floor.
    fn any_valid_rate() -> impl Strategy<Value = FrameRate> {
        (1u32..=240_000, 1u32..=2_000)
            .prop_filter_map("valid rate", |(n, d)| FrameRate::new(n, d).ok())
    }

    /// Whether frames `n` and `n + 1` start inside the tick range, which very
    /// slow rates leave after a few hundred million frames.
    fn in_range(rate: FrameRate, n: i64) -> bool {
        let ticks = rate.frame_start_ticks(i128::from(n) + 1);
        i64::try_from(ticks).is_ok() && i64::try_from(rate.frame_start_ticks(i128::from(n))).is_ok()
    }

    fn timecode_cases() -> impl Strategy<Value = (FrameRate, bool)> {
        prop::sample::select(vec![
            (FrameRate::FPS_29_97, true),
            (FrameRate::FPS_29_97, false),
            (FrameRate::FPS_59_94, true),
            (FrameRate::FPS_59_94, false),
            (FrameRate::FPS_25, false),
            (FrameRate::FPS_24, false),
            (FrameRate::FPS_30, false),
        ])
    }

    fn t(s: &str) -> Time {
        s.parse().unwrap()
    }

    fn parse_err(s: &str) -> TimeParseErrorKind {
        let err = s.parse::<Time>().unwrap_err();
        assert_eq!(err.input, s);
        err.kind
    }

    #[test]
    fn tick_rate_divides_all_standard_rates() {
        for rate in FrameRate::STANDARD {
            let exact = i64::from(rate.den) * TICKS_PER_SECOND;
            assert_eq!(exact % i64::from(rate.num), 0, "{rate}");
        }
        for rate in [8000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 88_200, 96_000] {
            assert_eq!(TICKS_PER_SECOND % rate, 0, "{rate}");
        }
    }

    #[test]
    fn constants_are_reduced() {
        for rate in FrameRate::STANDARD {
            assert_eq!(FrameRate::new(rate.num, rate.den), Ok(rate));
        }
    }

    #[test]
    fn frame_rate_new_validates_and_reduces() {
        assert_eq!(FrameRate::new(50, 2), Ok(FrameRate::FPS_25));
        assert_eq!(FrameRate::new(60_000, 2002), Ok(FrameRate::FPS_29_97));
        assert_eq!(FrameRate::new(0, 1), Err(TimeError::ZeroFrameRate { num: 0, den: 1 }));
        assert_eq!(FrameRate::new(25, 0), Err(TimeError::ZeroFrameRate { num: 25, den: 0 }));
        assert!(matches!(FrameRate::new(u32::MAX, 1), Err(TimeError::FrameRateTooHigh { .. })));
    }

    #[test]
    fn frame_rate_serde_round_trip_and_validation() {
        let json = serde_json::to_string(&FrameRate::FPS_29_97).unwrap();
        assert_eq!(json, r#"{"num":30000,"den":1001}"#);
        assert_eq!(serde_json::from_str::<FrameRate>(&json).unwrap(), FrameRate::FPS_29_97);
        assert_eq!(
            serde_json::from_str::<FrameRate>(r#"{"num":50,"den":2}"#).unwrap(),
            FrameRate::FPS_25
        );
        assert!(serde_json::from_str::<FrameRate>(r#"{"num":25,"den":0}"#).is_err());
    }

    #[test]
    fn time_serde_is_plain_ticks() {
        let time = Time::from_millis(1500);
        let json = serde_json::to_string(&time).unwrap();
        assert_eq!(json, "1058400000");
        assert_eq!(serde_json::from_str::<Time>(&json).unwrap(), time);
    }

    #[test]
    fn frame_rate_display_and_nominal() {
        let shown: Vec<String> = FrameRate::STANDARD.iter().map(|r| r.to_string()).collect();
        assert_eq!(shown, ["23.976", "24", "25", "29.97", "30", "50", "59.94", "60"]);
        assert_eq!(FrameRate::new(25, 2).unwrap().to_string(), "12.5");
        let nominal: Vec<u32> = FrameRate::STANDARD.iter().map(|r| r.nominal_fps()).collect();
        assert_eq!(nominal, [24, 24, 25, 30, 30, 50, 60, 60]);
        assert!(FrameRate::FPS_29_97.is_drop_frame_rate());
        assert!(FrameRate::FPS_59_94.is_drop_frame_rate());
        assert!(!FrameRate::FPS_23_976.is_drop_frame_rate());
        assert!(!FrameRate::FPS_30.is_drop_frame_rate());
        assert!((FrameRate::FPS_29_97.as_f64() - 29.970_029_97).abs() < 1e-6);
    }

    #[test]
    fn frame_rate_guess() {
        let guess = FrameRate::from_f64_guess;
        assert_eq!(guess(29.970_029_97), Some(FrameRate::FPS_29_97));
        assert_eq!(guess(29.97), Some(FrameRate::FPS_29_97));
        assert_eq!(guess(23.976), Some(FrameRate::FPS_23_976));
        assert_eq!(guess(23.98), Some(FrameRate::FPS_23_976));
        assert_eq!(guess(59.94), Some(FrameRate::FPS_59_94));
        assert_eq!(guess(25.0), Some(FrameRate::FPS_25));
        assert_eq!(guess(24.0), Some(FrameRate::FPS_24));
        assert_eq!(guess(59.9999), Some(FrameRate::FPS_60));
        assert_eq!(guess(12.5), FrameRate::new(25, 2).ok());
        assert_eq!(guess(14.985), FrameRate::new(2997, 200).ok());
        assert_eq!(guess(0.0), None);
        assert_eq!(guess(-25.0), None);
        assert_eq!(guess(f64::NAN), None);
        assert_eq!(guess(f64::INFINITY), None);
        assert_eq!(guess(0.0001), None);
    }

    #[test]
    fn standard_frame_durations_are_exact() {
        assert_eq!(FrameRate::FPS_25.frame_duration().ticks(), 28_224_000);
        assert_eq!(FrameRate::FPS_29_97.frame_duration().ticks(), 1001 * 23_520);
        for rate in FrameRate::STANDARD {
            let d = rate.frame_duration();
            assert_eq!(rate.frame_to_time(1_000_000), d * 1_000_000, "{rate}");
        }
        // One hour of 29.97 is not a whole number of frames; frame 107892
        // starts just before it, at 3599.9964 s.
        assert_eq!(FrameRate::FPS_29_97.time_to_frame(Time(3600 * TICKS_PER_SECOND)), 107_892);
    }

    #[test]
    fn time_to_frame_floors_including_negative_times() {
        let rate = FrameRate::FPS_25;
        let d = rate.frame_duration();
        assert_eq!(rate.time_to_frame(Time::ZERO), 0);
        assert_eq!(rate.time_to_frame(d - Time(1)), 0);
        assert_eq!(rate.time_to_frame(d), 1);
        assert_eq!(rate.time_to_frame(Time(-1)), -1);
        assert_eq!(rate.time_to_frame(-d), -1);
        assert_eq!(rate.time_to_frame(-d - Time(1)), -2);
    }

    #[test]
    fn non_exact_rate_round_trips() {
        // 11 fps does not divide the tick rate, so frame starts are rounded.
        let rate = FrameRate::new(11, 1).unwrap();
        for n in -1000..1000 {
            assert_eq!(rate.time_to_frame(rate.frame_to_time(n)), n);
        }
    }

    #[test]
    fn time_basic_conversions() {
        assert_eq!(Time::from_millis(1).ticks(), 705_600);
        assert_eq!(Time::from_seconds_f64(12.5), Time::from_millis(12_500));
        assert_eq!(Time::from_seconds_f64(0.1), Time::from_millis(100));
        assert_eq!(Time::from_seconds_f64(-0.1), Time::from_millis(-100));
        assert_eq!(Time::from_seconds_f64(f64::NAN), Time::ZERO);
        assert_eq!(Time::from_seconds_f64(f64::INFINITY), Time(i64::MAX));
        assert_eq!(Time::from_millis(12_500).as_seconds_f64(), 12.5);
        assert_eq!(Time::from_millis(-250).as_seconds_f64(), -0.25);
        assert_eq!(Time::from_nanos(1_000_000_000), Time(TICKS_PER_SECOND));
        assert_eq!(Time(TICKS_PER_SECOND).to_nanos(), 1_000_000_000);
        assert_eq!(Time::from_samples(48_000, 48_000), Time(TICKS_PER_SECOND));
        assert_eq!(Time::from_samples(1, 0), Time::ZERO);
        assert_eq!(Time(TICKS_PER_SECOND).to_samples(0), 0);
        // 11 Hz does not divide the tick rate, so the start is rounded.
        assert_eq!(Time::from_samples(1, 11).ticks(), 64_145_455);
        assert_eq!(Time(-1).to_samples(48_000), -1);
        assert_eq!(Time(i64::MIN).abs(), Time(i64::MAX));
        assert_eq!(Time(-5).abs(), Time(5));
        assert_eq!(Time::from_millis(i64::MAX), Time(i64::MAX));
    }

    #[test]
    fn time_arithmetic() {
        let mut a = Time::from_millis(1500);
        let b = Time::from_millis(500);
        assert_eq!(a + b, Time::from_millis(2000));
        assert_eq!(a - b, Time::from_millis(1000));
        assert_eq!(-b, Time::from_millis(-500));
        assert_eq!(b * 3, a);
        a += b;
        assert_eq!(a, Time::from_millis(2000));
        a -= b * 4;
        assert_eq!(a, Time::ZERO);
        assert_eq!(Time::ZERO.max(b), b);
        assert_eq!(Time::default(), Time::ZERO);
    }

    #[test]
    fn time_display() {
        assert_eq!(Time::from_millis(12_500).to_string(), "12.500s");
        assert_eq!(Time::ZERO.to_string(), "0.000s");
        assert_eq!(Time::from_millis(-1_250).to_string(), "-1.250s");
        assert_eq!(Time(-1).to_string(), "0.000s");
        assert_eq!(Time(352_800).to_string(), "0.001s"); // exactly half a ms
        assert_eq!(Time(352_799).to_string(), "0.000s");
        assert_eq!(Time::from_millis(3_723_004).to_string(), "3723.004s");
        assert!(!Time(i64::MIN).to_string().is_empty());
    }

    #[test]
    fn time_from_str_accepts() {
        assert_eq!(t("12.5"), Time::from_millis(12_500));
        assert_eq!(t("12.5s"), Time::from_millis(12_500));
        assert_eq!(t("12.5 s"), Time::from_millis(12_500));
        assert_eq!(t("  7  "), Time::from_millis(7000));
        assert_eq!(t("1500ms"), Time::from_millis(1500));
        assert_eq!(t("1.5ms"), Time(1_058_400));
        assert_eq!(t("01:02.250"), Time::from_millis(62_250));
        assert_eq!(t("90:00"), Time::from_millis(5_400_000));
        assert_eq!(t("1:02:03.5"), Time::from_millis(3_723_500));
        assert_eq!(t("0:00:00"), Time::ZERO);
        assert_eq!(t("01:59.9999"), Time::from_millis(119_999) + Time(635_040));
        assert_eq!(t("-1.5"), Time::from_millis(-1500));
        assert_eq!(t("+1.5"), Time::from_millis(1500));
        assert_eq!(t("-01:00"), Time::from_millis(-60_000));
        assert_eq!(t(".5"), Time::from_millis(500));
        assert_eq!(t("5."), Time::from_millis(5000));
        // Sub-tick precision rounds to the nearest tick without floats.
        assert_eq!(t("0.000000001"), Time(1));
        assert_eq!(t("0.0000000007"), Time(0));
        assert_eq!(t("1.0000000000000000000000000000001"), Time(TICKS_PER_SECOND));
        // The displayed form parses back.
        assert_eq!(t(&Time::from_millis(-3250).to_string()), Time::from_millis(-3250));
    }

    #[test]
    fn time_from_str_rejects() {
        use TimeParseErrorKind::*;
        assert_eq!(parse_err(""), Empty);
        assert_eq!(parse_err("   "), Empty);
        assert_eq!(parse_err("-"), Empty);
        assert_eq!(parse_err("abc"), UnknownUnit);
        assert_eq!(parse_err("12x"), UnknownUnit);
        assert_eq!(parse_err("12min"), UnknownUnit);
        assert_eq!(parse_err("."), InvalidNumber);
        assert_eq!(parse_err("1.2.3"), InvalidNumber);
        assert_eq!(parse_err("1e3"), InvalidNumber);
        assert_eq!(parse_err("--1"), InvalidNumber);
        assert_eq!(parse_err("1 2"), InvalidNumber);
        assert_eq!(parse_err("12é"), InvalidNumber);
        assert_eq!(parse_err("1é5s"), InvalidNumber);
        assert_eq!(parse_err("٣"), InvalidNumber);
        assert_eq!(parse_err("ms"), InvalidNumber);
        assert_eq!(parse_err("01:60"), FieldOutOfRange);
        assert_eq!(parse_err("01:60.0"), FieldOutOfRange);
        assert_eq!(parse_err("1:60:00"), FieldOutOfRange);
        assert_eq!(parse_err("1:2:3:4"), TooManyFields);
        assert_eq!(parse_err("1::3"), InvalidNumber);
        assert_eq!(parse_err(":30"), InvalidNumber);
        assert_eq!(parse_err("01:02.250s"), InvalidNumber);
        assert_eq!(parse_err("1.5:00"), InvalidNumber);
        assert_eq!(parse_err("99999999999999999999"), OutOfRange);
        assert_eq!(parse_err("99999999999999999999999999999999999999999"), OutOfRange);
        let err = "12x".parse::<Time>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot parse \"12x\" as a time: unknown unit (expected \"s\", \"ms\" or no unit)"
        );
    }

    #[test]
    fn drop_frame_known_values() {
        let df = |frame, rate| Timecode::from_frame(frame, rate, true).unwrap().to_string();
        assert_eq!(df(1800, FrameRate::FPS_29_97), "00:01:00;02");
        assert_eq!(df(1799, FrameRate::FPS_29_97), "00:00:59;29");
        assert_eq!(df(17_982, FrameRate::FPS_29_97), "00:10:00;00");
        assert_eq!(df(17_981, FrameRate::FPS_29_97), "00:09:59;29");
        assert_eq!(df(107_892, FrameRate::FPS_29_97), "01:00:00;00");
        assert_eq!(df(3600, FrameRate::FPS_59_94), "00:01:00;04");
        assert_eq!(df(3599, FrameRate::FPS_59_94), "00:00:59;59");
        assert_eq!(
            Timecode::from_frame(90_000, FrameRate::FPS_25, false).unwrap().to_string(),
            "01:00:00:00"
        );
        assert_eq!(
            Timecode::from_frame(1800, FrameRate::FPS_29_97, false).unwrap().to_string(),
            "00:01:00:00"
        );
        let parsed = Timecode::parse("00:01:00;02", FrameRate::FPS_29_97).unwrap();
        assert_eq!(parsed.to_frame(FrameRate::FPS_29_97), Ok(1800));
        assert!(parsed.drop_frame);
        for sep in [".", ","] {
            let text = format!("00:10:00{sep}00");
            let tc = Timecode::parse(&text, FrameRate::FPS_29_97).unwrap();
            assert_eq!(tc.to_frame(FrameRate::FPS_29_97), Ok(17_982));
        }
    }

    #[test]
    fn dropped_labels_are_rejected() {
        let err = Timecode::parse("00:01:00;00", FrameRate::FPS_29_97).unwrap_err();
        assert!(matches!(err, TimeError::DroppedFrameLabel(_)), "{err}");
        assert!(Timecode::parse("00:01:00;01", FrameRate::FPS_29_97).is_err());
        assert!(Timecode::parse("00:01:00;03", FrameRate::FPS_59_94).is_err());
        assert!(Timecode::parse("00:01:00;04", FrameRate::FPS_59_94).is_ok());
        // Minutes divisible by ten keep every label.
        assert!(Timecode::parse("00:10:00;00", FrameRate::FPS_29_97).is_ok());
        assert!(Timecode::parse("01:00:00;01", FrameRate::FPS_29_97).is_ok());
        // The same label is fine in non-drop counting.
        assert!(Timecode::parse("00:01:00:00", FrameRate::FPS_29_97).is_ok());
    }

    #[test]
    fn timecode_errors() {
        let tc = |h, m, s, f, drop_frame| Timecode {
            hours: h,
            minutes: m,
            seconds: s,
            frames: f,
            drop_frame,
        };
        assert_eq!(
            Timecode::from_frame(-1, FrameRate::FPS_25, false),
            Err(TimeError::NegativeFrame(-1))
        );
        assert_eq!(
            Timecode::from_frame(0, FrameRate::FPS_25, true),
            Err(TimeError::DropFrameNotSupported(FrameRate::FPS_25))
        );
        assert_eq!(
            Timecode::from_frame(i64::MAX, FrameRate::FPS_25, false),
            Err(TimeError::FrameOutOfRange(i64::MAX))
        );
        let slow = FrameRate::new(1, 3).unwrap();
        assert_eq!(
            Timecode::from_frame(0, slow, false),
            Err(TimeError::RateTooSlowForTimecode(slow))
        );
        assert_eq!(
            tc(0, 0, 0, 25, false).to_frame(FrameRate::FPS_25),
            Err(TimeError::TimecodeFieldOutOfRange { field: "frames", value: 25, limit: 25 })
        );
        assert!(tc(0, 60, 0, 0, false).to_frame(FrameRate::FPS_25).is_err());
        assert!(tc(0, 0, 60, 0, false).to_frame(FrameRate::FPS_25).is_err());
        assert!(tc(0, 0, 1, 0, true).to_frame(FrameRate::FPS_30).is_err());
        assert_eq!(tc(100, 0, 0, 0, false).to_frame(FrameRate::FPS_25), Ok(9_000_000));
        for bad in [
            "",
            "00:00:00",
            "00:00:00:",
            "00:00:00:0x",
            "00:00:00:00:00",
            "00:000:00:00",
            "0a:00:00:00",
            "00:00;00:00",
            "-00:00:00:00",
            "00:00:00:0000",
            "00:00:00:é",
            "é0:00:00:00",
        ] {
            assert!(
                matches!(
                    Timecode::parse(bad, FrameRate::FPS_25),
                    Err(TimeError::InvalidTimecodeSyntax { .. })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            Timecode::parse("00:00:00;00", FrameRate::FPS_25),
            Err(TimeError::DropFrameNotSupported(FrameRate::FPS_25))
        );
        assert!(Timecode::parse("00:00:00:25", FrameRate::FPS_25).is_err());
        assert!(Timecode::parse(" 1:02:03:04 ", FrameRate::FPS_25).is_ok());
    }

    #[test]
    fn error_messages_are_human() {
        let err = Timecode::parse("00:01:00;00", FrameRate::FPS_29_97).unwrap_err();
        assert!(err.to_string().contains("00:01:00;00"), "{err}");
        let err = Timecode::from_frame(0, FrameRate::FPS_25, true).unwrap_err();
        assert!(err.to_string().contains("not 25 fps"), "{err}");
    }

    #[test]
    fn format_timecode_for_ui() {
        let rate = FrameRate::FPS_25;
        assert_eq!(format_timecode(Time::ZERO, rate, false), "00:00:00:00");
        assert_eq!(format_timecode(Time::from_millis(3_600_000), rate, false), "01:00:00:00");
        assert_eq!(format_timecode(-rate.frame_duration(), rate, false), "-00:00:00:01");
        assert_eq!(format_timecode(Time::from_millis(-2000), rate, false), "-00:00:02:00");
        // Drop-frame silently falls back where the rate lacks it.
        assert_eq!(format_timecode(Time::ZERO, rate, true), "00:00:00:00");
        let ntsc = FrameRate::FPS_29_97;
        assert_eq!(format_timecode(ntsc.frame_to_time(1800), ntsc, true), "00:01:00;02");
        assert!(format_timecode(Time(i64::MAX), rate, false).len() >= 11);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn frame_time_round_trip_standard(rate in any_standard_rate(), n in -1_000_000_000i64..=1_000_000_000) {
            prop_assert_eq!(rate.time_to_frame(rate.frame_to_time(n)), n);
        }

        #[test]
        fn frame_time_round_trip_any_rate(rate in any_valid_rate(), n in -1_000_000_000i64..=1_000_000_000) {
            prop_assume!(in_range(rate, n));
            prop_assert_eq!(rate.time_to_frame(rate.frame_to_time(n)), n);
        }

        #[test]
        fn time_to_frame_is_floor(rate in any_valid_rate(), ticks in -(1i64 << 50)..(1i64 << 50)) {
            let t = Time(ticks);
            let n = rate.time_to_frame(t);
            prop_assert!(rate.frame_to_time(n) <= t);
            prop_assert!(rate.frame_to_time(n + 1) > t);
        }

        #[test]
        fn time_to_frame_is_monotone(rate in any_valid_rate(), a in any::<i64>(), b in any::<i64>()) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(rate.time_to_frame(Time(lo)) <= rate.time_to_frame(Time(hi)));
        }

        #[test]
        fn frame_steps_match_duration(rate in any_valid_rate(), n in -1_000_000_000i64..=1_000_000_000) {
            prop_assume!(in_range(rate, n));
            let step = rate.frame_to_time(n + 1) - rate.frame_to_time(n);
            prop_assert!((step - rate.frame_duration()).abs() <= Time(1));
        }

        #[test]
        fn standard_frame_steps_are_exact(rate in any_standard_rate(), n in -1_000_000_000i64..=1_000_000_000) {
            prop_assert_eq!(rate.frame_to_time(n + 1) - rate.frame_to_time(n), rate.frame_duration());
        }

        #[test]
        fn samples_round_trip(rate in prop::sample::select(SAMPLE_RATES.to_vec()), n in -(1i64 << 40)..(1i64 << 40)) {
            prop_assert_eq!(Time::from_samples(n, rate).to_samples(rate), n);
        }

        #[test]
        fn to_samples_is_floor(rate in prop::sample::select(SAMPLE_RATES.to_vec()), ticks in -(1i64 << 50)..(1i64 << 50)) {
            let t = Time(ticks);
            let n = t.to_samples(rate);
            prop_assert!(Time::from_samples(n, rate) <= t);
            prop_assert!(Time::from_samples(n + 1, rate) > t);
        }

        #[test]
        fn nanos_round_trip(ticks in -(1i64 << 60)..(1i64 << 60)) {
            let t = Time(ticks);
            prop_assert_eq!(Time::from_nanos(t.to_nanos()), t);
        }

        #[test]
        fn millis_parse_display_round_trip(ms in -(1i64 << 40)..(1i64 << 40)) {
            let t = Time::from_millis(ms);
            prop_assert_eq!(t.to_string().parse::<Time>(), Ok(t));
        }

        #[test]
        fn timecode_round_trip((rate, drop_frame) in timecode_cases(), seed in 0u64..u64::MAX) {
            let day = i64::from(rate.nominal_fps()) * 86_400;
            let frame = i64::try_from(seed % u64::try_from(day).unwrap()).unwrap();
            let tc = Timecode::from_frame(frame, rate, drop_frame).unwrap();
            let text = tc.to_string();
            let parsed = Timecode::parse(&text, rate).unwrap();
            prop_assert_eq!(parsed, tc);
            prop_assert_eq!(parsed.to_frame(rate), Ok(frame));
        }

        #[test]
        fn parsers_never_panic(text in "\\PC{0,24}", clockish in "[0-9:;.,+\\-ms ]{0,16}") {
            let _ = text.parse::<Time>();
            let _ = clockish.parse::<Time>();
            let _ = Timecode::parse(&text, FrameRate::FPS_29_97);
            let _ = Timecode::parse(&clockish, FrameRate::FPS_29_97);
        }

        #[test]
        fn timecode_labels_are_increasing((rate, drop_frame) in timecode_cases(), frame in 0i64..5_200_000) {
            let a = Timecode::from_frame(frame, rate, drop_frame).unwrap();
            let b = Timecode::from_frame(frame + 1, rate, drop_frame).unwrap();
            let key = |tc: Timecode| (tc.hours, tc.minutes, tc.seconds, tc.frames);
            prop_assert!(key(a) < key(b));
        }
    }
}
