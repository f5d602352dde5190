//! Fuzzes the SRT and WebVTT parsers: no input may panic, and whatever parses must survive
//! write → parse with the same cues.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redub::model::subtitles::{SubtitleFormat, parse, write};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for format in [SubtitleFormat::Srt, SubtitleFormat::Vtt] {
        if let Ok(cues) = parse(text, format) {
            let again = parse(&write(&cues, format), format);
            let Ok(again) = again else { panic!("written {format:?} does not parse: {again:?}") };
            assert_eq!(again.len(), cues.len(), "{format:?} cue count changed");
            for (a, b) in cues.iter().zip(&again) {
                assert_eq!((a.start, a.end), (b.start, b.end), "{format:?} times changed");
            }
        }
    }
});
