use super::*;
use proptest::prelude::*;

const SAMPLE_RATES: [u32; 6] = [8000, 16_000, 22_050, 44_100, 48_000, 96_000];

fn any_standard_rate() -> impl Strategy<Value = FrameRate> {
    prop::sample::select(FrameRate::STANDARD.to_vec())
}

/// Arbitrary valid rates, including ones whose frame starts must be
/// rounded (e.g. 11 fps), to exercise the robust floor.
fn any_valid_rate() -> impl Strategy<Value = FrameRate> {
    (1u32..=240_000, 1u32..=2_000).prop_filter_map("valid rate", |(n, d)| FrameRate::new(n, d).ok())
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
    assert_eq!(Timecode::from_frame(0, slow, false), Err(TimeError::RateTooSlowForTimecode(slow)));
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
