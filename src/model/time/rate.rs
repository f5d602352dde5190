//! Video frame rates as exact fractions, and frames ↔ ticks.

use super::*;

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
pub(super) struct FrameRateFields {
    num: u32,
    den: u32,
}

impl TryFrom<FrameRateFields> for FrameRate {
    type Error = TimeError;
    fn try_from(raw: FrameRateFields) -> Result<Self, TimeError> {
        FrameRate::new(raw.num, raw.den)
    }
}

pub(super) const fn gcd(mut a: u32, mut b: u32) -> u32 {
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
    pub(super) const STANDARD: [FrameRate; 8] = [
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

    pub(super) fn frame_start_ticks(self, frame: i128) -> i128 {
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
