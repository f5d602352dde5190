//! SRT and WebVTT cues: parse, write, speakers. Malformed input is an error that names the line.
//!
//! Speakers: WebVTT has a voice span (`<v Name>text`); SRT has none, so the common `NAME: text`
//! prefix on the first text line is read as the speaker and written back the same way.

use crate::model::time::Time;

/// One subtitle cue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cue {
    /// The SRT number or the WebVTT identifier, as written (not needed for writing: SRT output is
    /// renumbered from 1).
    pub id: Option<String>,
    /// Start on the timeline.
    pub start: Time,
    /// End on the timeline (≥ start).
    pub end: Time,
    /// Who speaks the line, if the file says.
    pub speaker: Option<String>,
    /// The text without the speaker; lines joined with `\n`.
    pub text: String,
}

impl Cue {
    /// Same timing, speaker and text (the id is ignored: SRT output renumbers).
    pub fn same_line(&self, other: &Cue) -> bool {
        self.start == other.start
            && self.end == other.end
            && self.speaker == other.speaker
            && self.text == other.text
    }
}

/// Subtitle file formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SubtitleFormat {
    /// SubRip `.srt`.
    Srt,
    /// WebVTT `.vtt`.
    Vtt,
}

impl SubtitleFormat {
    /// The format for a file name's extension (`.srt`, `.vtt`), if known.
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        let ext = path.extension()?.to_string_lossy().to_ascii_lowercase();
        match ext.as_str() {
            "srt" => Some(SubtitleFormat::Srt),
            "vtt" => Some(SubtitleFormat::Vtt),
            _ => None,
        }
    }
}

/// A malformed subtitle file: what is wrong and on which (1-based) line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SubtitleError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn err<T>(line: usize, message: impl Into<String>) -> Result<T, SubtitleError> {
    Err(SubtitleError { line, message: message.into() })
}

/// How subtitle bytes were read by [`decode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    /// UTF-8, with or without a byte-order mark.
    Utf8,
    /// UTF-16 with a little-endian byte-order mark.
    Utf16Le,
    /// UTF-16 with a big-endian byte-order mark.
    Utf16Be,
    /// Not valid UTF-8 and no BOM: read as Latin-1 (ISO 8859-1), byte for character.
    Latin1,
}

/// Subtitle file bytes as text: a UTF-16 byte-order mark selects UTF-16, valid UTF-8 is UTF-8,
/// anything else is read as Latin-1 (every byte is a character, so nothing is lost; callers
/// should say so). Bad UTF-16 sequences become U+FFFD.
pub fn decode(bytes: &[u8]) -> (String, TextEncoding) {
    let utf16 = |le: bool| {
        let units = bytes[2..].chunks_exact(2).map(|c| {
            let pair = [c[0], c[1]];
            if le { u16::from_le_bytes(pair) } else { u16::from_be_bytes(pair) }
        });
        char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect()
    };
    match bytes {
        [0xFF, 0xFE, ..] => (utf16(true), TextEncoding::Utf16Le),
        [0xFE, 0xFF, ..] => (utf16(false), TextEncoding::Utf16Be),
        _ => match std::str::from_utf8(bytes) {
            Ok(s) => (s.to_string(), TextEncoding::Utf8),
            Err(_) => (bytes.iter().map(|&b| char::from(b)).collect(), TextEncoding::Latin1),
        },
    }
}

/// Parses text in the given format.
pub fn parse(text: &str, format: SubtitleFormat) -> Result<Vec<Cue>, SubtitleError> {
    match format {
        SubtitleFormat::Srt => parse_srt(text),
        SubtitleFormat::Vtt => parse_vtt(text),
    }
}

/// Writes cues in the given format.
pub fn write(cues: &[Cue], format: SubtitleFormat) -> String {
    match format {
        SubtitleFormat::Srt => write_srt(cues),
        SubtitleFormat::Vtt => write_vtt(cues),
    }
}

/// Lines with their 1-based numbers, without a BOM or `\r`.
fn numbered_lines(text: &str) -> Vec<(usize, &str)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    text.split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .collect()
}

/// Parses SubRip text.
pub fn parse_srt(text: &str) -> Result<Vec<Cue>, SubtitleError> {
    let lines = numbered_lines(text);
    let mut cues = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (n, line) = lines[i];
        if line.trim().is_empty() {
            i += 1;
            continue;
        }
        // The number line is optional in the wild; a timing line may start the cue directly.
        let id = if line.contains("-->") {
            None
        } else {
            let t = line.trim();
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return err(n, format!("expected a cue number, found {:?}", clip_text(t)));
            }
            i += 1;
            Some(t.to_string())
        };
        let Some(&(tn, timing)) = lines.get(i) else {
            return err(n + 1, "expected a timing line after the cue number, found end of file");
        };
        let (start, end) = parse_timing(timing, tn, TimeStyle::Srt)?;
        i += 1;
        let mut body: Vec<&str> = Vec::new();
        while let Some(&(_, l)) = lines.get(i) {
            if l.trim().is_empty() {
                break;
            }
            body.push(l);
            i += 1;
        }
        let joined = body.join("\n");
        let (speaker, text) = match split_speaker_prefix(&joined) {
            Some((name, rest)) => (Some(name.to_string()), rest.to_string()),
            None => (None, joined),
        };
        cues.push(Cue { id, start, end, speaker, text });
    }
    Ok(cues)
}

/// Parses WebVTT text.
pub fn parse_vtt(text: &str) -> Result<Vec<Cue>, SubtitleError> {
    let lines = numbered_lines(text);
    let first = lines.first().map_or("", |l| l.1);
    let header_ok = first
        .strip_prefix("WEBVTT")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
    if !header_ok {
        return err(1, "a WebVTT file must start with \"WEBVTT\"");
    }
    // Skip the header block.
    let mut i = 1;
    while i < lines.len() && !lines[i].1.trim().is_empty() {
        i += 1;
    }
    let mut cues = Vec::new();
    while i < lines.len() {
        let (n, line) = lines[i];
        if line.trim().is_empty() {
            i += 1;
            continue;
        }
        let is_block = |kw: &str| {
            line.strip_prefix(kw).is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t']))
        };
        if is_block("NOTE") || is_block("STYLE") || is_block("REGION") {
            while i < lines.len() && !lines[i].1.trim().is_empty() {
                i += 1;
            }
            continue;
        }
        let id = if line.contains("-->") {
            None
        } else {
            i += 1;
            match lines.get(i) {
                Some((_, l)) if l.contains("-->") => Some(line.to_string()),
                Some(&(ln, l)) => {
                    return err(ln, format!("expected a timing line, found {:?}", clip_text(l)));
                }
                None => return err(n + 1, "expected a timing line, found end of file"),
            }
        };
        let (tn, timing) = lines[i];
        let (start, end) = parse_timing(timing, tn, TimeStyle::Vtt)?;
        i += 1;
        let mut body: Vec<&str> = Vec::new();
        while let Some(&(_, l)) = lines.get(i) {
            if l.trim().is_empty() {
                break;
            }
            body.push(l);
            i += 1;
        }
        let payload = body.join("\n");
        let (speaker, text) = split_voice(&payload);
        cues.push(Cue { id, start, end, speaker, text: unescape_vtt(&text) });
    }
    Ok(cues)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TimeStyle {
    Srt,
    Vtt,
}

fn clip_text(s: &str) -> String {
    s.chars().take(40).collect()
}

fn parse_timing(line: &str, n: usize, style: TimeStyle) -> Result<(Time, Time), SubtitleError> {
    let example = match style {
        TimeStyle::Srt => "00:00:01,000 --> 00:00:02,500",
        TimeStyle::Vtt => "00:01.000 --> 00:02.500",
    };
    let Some((a, rest)) = line.split_once("-->") else {
        return err(
            n,
            format!("expected a timing line like {example}, found {:?}", clip_text(line)),
        );
    };
    // WebVTT may put cue settings after the end time.
    let b = rest.split_whitespace().next().unwrap_or("");
    let start = parse_timestamp(a.trim(), style).ok_or_else(|| SubtitleError {
        line: n,
        message: format!("bad start time {:?}", clip_text(a.trim())),
    })?;
    let end = parse_timestamp(b, style).ok_or_else(|| SubtitleError {
        line: n,
        message: format!("bad end time {:?}", clip_text(b)),
    })?;
    if end < start {
        return err(n, format!("cue ends ({end}) before it starts ({start})"));
    }
    // Past any project's limit; the project's own (24 h unless it says) is checked on import.
    let max = crate::model::validate::MAX_TIMELINE_ANY;
    for (what, t, text) in [("start", start, a.trim()), ("end", end, b)] {
        if t > max {
            return err(
                n,
                format!(
                    "cue {what} {} is past the {} h limit of any timeline",
                    clip_text(text),
                    crate::model::validate::MAX_HOURS
                ),
            );
        }
    }
    Ok((start, end))
}

/// `HH:MM:SS,mmm` (SRT, `.` accepted too) or `[HH:]MM:SS.mmm` (WebVTT).
fn parse_timestamp(s: &str, style: TimeStyle) -> Option<Time> {
    let sep = |c: char| c == '.' || (style == TimeStyle::Srt && c == ',');
    let (hms, frac) = s.split_once(sep)?;
    if frac.is_empty() || frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let millis_frac: i64 = frac.parse::<i64>().ok()? * 10i64.pow(3 - frac.len() as u32);
    let parts: Vec<&str> = hms.split(':').collect();
    let num = |p: &str, max_len: usize| -> Option<i64> {
        if p.is_empty() || p.len() > max_len || !p.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        p.parse().ok()
    };
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => (num(h, 6)?, num(m, 2)?, num(s, 2)?),
        [m, s] if style == TimeStyle::Vtt => (0, num(m, 2)?, num(s, 2)?),
        _ => return None,
    };
    if m >= 60 || sec >= 60 {
        return None;
    }
    Some(Time::from_millis(((h * 60 + m) * 60 + sec) * 1000 + millis_frac))
}

/// Splits `NAME: text` into the speaker and the text. A speaker is 1–3 words of letters, digits,
/// `.`, `'`, `-`, `_`, starting with a letter, at most 32 characters, followed by `": "`.
fn split_speaker_prefix(text: &str) -> Option<(&str, &str)> {
    let (name, rest) = text.split_once(':')?;
    let rest = rest.strip_prefix(' ')?;
    let ok = !name.is_empty()
        && name.chars().count() <= 32
        && name.chars().next().is_some_and(char::is_alphabetic)
        && !name.ends_with(' ')
        && name.split(' ').count() <= 3
        && name.chars().all(|c| c.is_alphanumeric() || " .'-_".contains(c));
    ok.then_some((name, rest))
}

/// Reads a leading `<v Name>` voice span (with optional classes `<v.loud Name>`).
fn split_voice(payload: &str) -> (Option<String>, String) {
    let Some(rest) = payload.strip_prefix("<v") else { return (None, payload.to_string()) };
    if !rest.starts_with([' ', '\t', '.']) {
        return (None, payload.to_string());
    }
    let Some((annotation, text)) = rest.split_once('>') else {
        return (None, payload.to_string());
    };
    let name = annotation.split_once([' ', '\t']).map_or("", |(_, n)| n.trim());
    // Lines left blank by removing the closing tag would end the cue when written back.
    let lines: Vec<String> = text
        .split('\n')
        .enumerate()
        .filter_map(|(i, l)| {
            let mut cleaned = l.replace("</v>", "");
            // Removing one tag can join the halves of another ("</v</v>>").
            while cleaned.contains("</v>") {
                cleaned = cleaned.replace("</v>", "");
            }
            (i == 0 || cleaned == l || !cleaned.trim().is_empty()).then_some(cleaned)
        })
        .collect();
    let text = lines.join("\n");
    if name.is_empty() {
        // An empty voice tag alone on its line leaves a blank first line with no speaker to
        // carry it; written back it would end the cue.
        let text = match text.split_once('\n') {
            Some((first, rest)) if first.trim().is_empty() => rest.to_string(),
            _ => text,
        };
        return (None, text);
    }
    (Some(name.to_string()), text)
}

fn unescape_vtt(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&nbsp;", "\u{a0}").replace("&amp;", "&")
}

/// Escapes what WebVTT reserves, keeping simple markup tags such as `<i>` intact.
fn escape_vtt(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '&' => out.push_str("&amp;"),
            // Written raw it would make the line look blank and end the cue.
            '\u{a0}' => out.push_str("&nbsp;"),
            '<' if !chars.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic() || *n == '/') => {
                out.push_str("&lt;")
            }
            _ => out.push(c),
        }
    }
    out
}

fn format_timestamp(t: Time, style: TimeStyle) -> String {
    let ms = (t.max(Time::ZERO).ticks() as i128 * 1000
        + i128::from(crate::model::time::TICKS_PER_SECOND) / 2)
        / i128::from(crate::model::time::TICKS_PER_SECOND);
    let (h, m, s, f) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let sep = if style == TimeStyle::Srt { ',' } else { '.' };
    format!("{h:02}:{m:02}:{s:02}{sep}{f:03}")
}

/// Writes SubRip text, numbering cues from 1; a speaker becomes a `NAME: ` prefix.
pub fn write_srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    for (i, c) in cues.iter().enumerate() {
        out += &format!(
            "{}\n{} --> {}\n",
            i + 1,
            format_timestamp(c.start, TimeStyle::Srt),
            format_timestamp(c.end, TimeStyle::Srt)
        );
        if let Some(s) = &c.speaker {
            out += &format!("{s}: ");
        }
        out += &c.text;
        out += "\n\n";
    }
    out
}

/// An identifier line that reads back as an identifier (not a timing line or a block keyword).
fn is_writable_vtt_id(id: &str) -> bool {
    let keyword = ["NOTE", "STYLE", "REGION"]
        .iter()
        .any(|k| id.strip_prefix(k).is_some_and(|r| r.is_empty() || r.starts_with([' ', '\t'])));
    !id.contains("-->") && !id.trim().is_empty() && !id.contains(['\n', '\r']) && !keyword
}

/// Writes WebVTT text; a speaker becomes a `<v Name>` span.
pub fn write_vtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n\n");
    for c in cues {
        if let Some(id) = c.id.as_deref().filter(|id| is_writable_vtt_id(id)) {
            out += id;
            out += "\n";
        }
        out += &format!(
            "{} --> {}\n",
            format_timestamp(c.start, TimeStyle::Vtt),
            format_timestamp(c.end, TimeStyle::Vtt)
        );
        if let Some(s) = &c.speaker {
            out += &format!("<v {s}>");
        }
        out += &escape_vtt(&c.text);
        out += "\n\n";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRT: &str = "1\r\n00:00:01,000 --> 00:00:02,500\r\nALICE: Hello there.\r\n\r\n\
                       2\n00:00:03,250 --> 00:00:05,000\nNo speaker, two\nlines\n";

    #[test]
    fn srt_parses_times_speakers_and_lines() {
        let cues = parse_srt(SRT).unwrap();
        assert_eq!(cues.len(), 2);
        assert_eq!(cues[0].start, Time::from_millis(1000));
        assert_eq!(cues[0].end, Time::from_millis(2500));
        assert_eq!(cues[0].speaker.as_deref(), Some("ALICE"));
        assert_eq!(cues[0].text, "Hello there.");
        assert_eq!(cues[1].speaker, None);
        assert_eq!(cues[1].text, "No speaker, two\nlines");
        let back = parse_srt(&write_srt(&cues)).unwrap();
        assert!(cues.iter().zip(&back).all(|(a, b)| a.same_line(b)));
    }

    #[test]
    fn vtt_parses_voice_spans_notes_and_settings() {
        let text = "WEBVTT - demo\nKind: captions\n\nNOTE a comment\nstill the note\n\n\
                    intro\n00:01.000 --> 00:02.000 align:start\n<v Bob>Hi &amp; bye</v>\n\n\
                    01:00:00.500 --> 01:00:01.000\n<v.loud Carol Ann>Loud\n";
        let cues = parse_vtt(text).unwrap();
        assert_eq!(cues.len(), 2);
        assert_eq!(cues[0].id.as_deref(), Some("intro"));
        assert_eq!(cues[0].speaker.as_deref(), Some("Bob"));
        assert_eq!(cues[0].text, "Hi & bye");
        assert_eq!(cues[1].start, Time::from_millis(3_600_500));
        assert_eq!(cues[1].speaker.as_deref(), Some("Carol Ann"));
        let back = parse_vtt(&write_vtt(&cues)).unwrap();
        assert_eq!(back, cues);
    }

    #[test]
    fn malformed_input_names_the_line() {
        let e = parse_srt("1\n00:00:01,000 --> 00:00:02,000\nok\n\nx\n").unwrap_err();
        assert_eq!(e.line, 5);
        let e = parse_srt("1\n00:00:01,000 -> 00:00:02,000\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse_srt("1\n00:00:03,000 --> 00:00:02,000\nx\n").unwrap_err();
        assert!(e.to_string().contains("line 2: cue ends"), "{e}");
        let e = parse_srt("1\n00:61:00,000 --> 01:00:00,000\n").unwrap_err();
        assert!(e.message.contains("bad start"), "{e}");
        let e = parse_srt("7\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert_eq!(parse_vtt("WEBVTTX\n").unwrap_err().line, 1);
        assert_eq!(parse_vtt("WEBVTT\n\nid\nnot timing\n").unwrap_err().line, 4);
    }

    #[test]
    fn speaker_prefix_is_conservative() {
        assert_eq!(split_speaker_prefix("JOHN: hi"), Some(("JOHN", "hi")));
        assert_eq!(split_speaker_prefix("Mary Ann: hi"), Some(("Mary Ann", "hi")));
        assert_eq!(split_speaker_prefix("At 10:30 we go"), None);
        assert_eq!(split_speaker_prefix("This is a long sentence: yes"), None);
        assert_eq!(split_speaker_prefix("12: x"), None);
    }
}
