//! Deterministic mutation fuzzing of the SRT/WebVTT parsers (the same property as the
//! cargo-fuzz target in `fuzz/`): no input panics, and whatever parses survives write → parse
//! with the same cue count and times. A short run is part of the suite; the ignored test runs
//! 10⁶ executions and prints how long they took.

mod common;

use common::Rng;
use redub::model::subtitles::{SubtitleFormat, parse, write};

const SEEDS: [&str; 3] = [
    "1\n00:00:01,000 --> 00:00:02,500\nALICE: Hello there.\n\n2\n00:00:03,250 --> 00:00:05,000\nNo speaker\n",
    "WEBVTT\n\nNOTE x\n\nid\n00:01.000 --> 00:02.000 align:start\n<v Bob>Hi &amp; bye</v>\n",
    "WEBVTT - t\n\n01:00:00.500 --> 01:00:01.000\n<v.loud Carol Ann>Loud &lt;i>\n\n00:02.000 --> 00:03.000\nx\n",
];

/// Pieces that steer mutations towards the grammar.
const TOKENS: [&str; 14] = [
    "-->", "\n", "\r\n", "\n\n", ":", ",", ".", "<v ", "</v>", "&amp;", "WEBVTT", "NOTE", "00:",
    "\u{feff}",
];

fn mutate(rng: &mut Rng, input: &str) -> String {
    let mut s: Vec<char> = input.chars().collect();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(s.len() + 1);
        match rng.below(6) {
            0 if !s.is_empty() => {
                let at = at.min(s.len() - 1);
                s.remove(at);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                for (k, c) in t.chars().enumerate() {
                    s.insert(at + k, c);
                }
            }
            2 if !s.is_empty() => {
                let at = at.min(s.len() - 1);
                s[at] = char::from(b"0123456789:,.-> \n<>&vX"[rng.below(22)]);
            }
            3 => s.insert(at, char::from_u32(rng.below(0x3000) as u32).unwrap_or('?')),
            4 if !s.is_empty() => {
                // Duplicate a slice: repeated cues, repeated separators.
                let a = rng.below(s.len());
                let b = (a + rng.below(40)).min(s.len());
                let piece: Vec<char> = s[a..b].to_vec();
                for (k, c) in piece.into_iter().enumerate() {
                    s.insert(at.min(s.len()) + k, c);
                }
            }
            _ => s.truncate(at),
        }
    }
    s.into_iter().collect()
}

fn check(text: &str) -> bool {
    let mut parsed = false;
    for format in [SubtitleFormat::Srt, SubtitleFormat::Vtt] {
        if let Ok(cues) = parse(text, format) {
            parsed = true;
            let written = write(&cues, format);
            let again = parse(&written, format).unwrap_or_else(|e| {
                panic!("{format:?}: written text fails ({e}):\n{text:?}\n→\n{written:?}")
            });
            assert_eq!(again.len(), cues.len(), "{format:?} count:\n{text:?}\n→\n{written:?}");
            for (a, b) in cues.iter().zip(&again) {
                assert_eq!((a.start, a.end), (b.start, b.end), "{format:?} times:\n{text:?}");
                assert!(a.same_line(b), "{format:?} cue changed:\n{text:?}\n{a:?}\n{b:?}");
            }
        }
    }
    parsed
}

fn run(executions: usize) -> (usize, usize) {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut pool: Vec<String> = SEEDS.iter().map(|s| s.to_string()).collect();
    let mut parsed = 0;
    for i in 0..executions {
        let base = &pool[rng.below(pool.len())];
        let input = mutate(&mut rng, base);
        if check(&input) {
            parsed += 1;
            // Keep some inputs that still parse, so mutations go deeper; bounded pool.
            if i % 97 == 0 && input.len() < 4000 {
                if pool.len() < 256 {
                    pool.push(input);
                } else {
                    let k = rng.below(pool.len());
                    pool[k] = input;
                }
            }
        }
    }
    (executions, parsed)
}

#[test]
fn parsers_survive_mutated_input() {
    let (n, ok) = run(20_000);
    println!("{n} executions, {ok} parsed");
    assert!(ok > 100, "mutations should keep some inputs valid");
}

#[test]
#[ignore = "long: 10^6 executions; run with --ignored --nocapture"]
fn parsers_survive_a_million_mutated_inputs() {
    let t = std::time::Instant::now();
    let (n, ok) = run(1_000_000);
    println!(
        "{n} executions ({ok} parsed by at least one format) in {:.1} s",
        t.elapsed().as_secs_f64()
    );
}
