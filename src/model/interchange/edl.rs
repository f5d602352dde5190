//! CMX 3600 edit decision lists: one track per list, cuts only. Each event names its source
//! in a `* FROM CLIP NAME:` comment and its file in a `* FROM FILE:` comment (the reel is `AX`,
//! the usual stand-in for file-based media); record times carry the start timecode, source
//! times count from 00:00:00:00 of the file. Drop-frame lists say `FCM: DROP FRAME` and write
//! `;` before the frames.

use super::{Cut, CutClip, CutTrack, InterchangeError, TrackKind, nearest_frame, url_to_path};
use crate::model::time::{FrameRate, Timecode};
use std::fmt::Write as _;

/// A track's label in lists and file names: `V1`, `A1`, `A2`…
pub fn track_labels(cut: &Cut) -> Vec<String> {
    let (mut v, mut a) = (0, 0);
    cut.tracks
        .iter()
        .map(|t| match t.kind {
            TrackKind::Video => {
                v += 1;
                format!("V{v}")
            }
            TrackKind::Audio => {
                a += 1;
                format!("A{a}")
            }
        })
        .collect()
}

fn tc(frame: i64, rate: FrameRate, df: bool) -> Result<String, InterchangeError> {
    Timecode::from_frame(frame, rate, df)
        .map(|t| t.to_string())
        .map_err(|e| InterchangeError::Unsupported(e.to_string()))
}

/// Keeps a name on one line (comments end at the line's end).
fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

/// The EDL text of track `index` of a cut.
pub fn write(cut: &Cut, index: usize) -> Result<String, InterchangeError> {
    let t = cut
        .tracks
        .get(index)
        .ok_or_else(|| InterchangeError::Unsupported(format!("no track {}", index + 1)))?;
    let rate = cut.rate;
    let df = cut.drop_frame.unwrap_or(rate.is_drop_frame_rate()) && rate.is_drop_frame_rate();
    let mut out = String::new();
    let title =
        if t.name.is_empty() { cut.name.clone() } else { format!("{} {}", cut.name, t.name) };
    let _ = writeln!(out, "TITLE: {}", one_line(&title));
    let _ = writeln!(out, "FCM: {}", if df { "DROP FRAME" } else { "NON-DROP FRAME" });
    let channel = match t.kind {
        TrackKind::Video => "V",
        TrackKind::Audio => "A",
    };
    for (n, c) in t.clips.iter().enumerate() {
        let rec_in = cut.start_frame + nearest_frame(c.position, rate);
        let rec_out = cut.start_frame + nearest_frame(c.end(), rate);
        let src_in = nearest_frame(c.source_in, rate);
        let src_out = src_in + (rec_out - rec_in);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:03}  {:<8} {:<5} C        {} {} {} {}",
            n + 1,
            "AX",
            channel,
            tc(src_in, rate, df)?,
            tc(src_out, rate, df)?,
            tc(rec_in, rate, df)?,
            tc(rec_out, rate, df)?
        );
        let _ = writeln!(out, "* FROM CLIP NAME: {}", one_line(&c.name));
        if let Some(path) = c.url.as_deref().and_then(url_to_path) {
            let _ = writeln!(out, "* FROM FILE: {}", one_line(&path.to_string_lossy()));
        }
    }
    Ok(out)
}

fn malformed(line: usize, what: &str) -> InterchangeError {
    InterchangeError::Malformed(format!("EDL line {line}: {what}"))
}

/// Reads an EDL (its rate is not in the file: `rate` gives it) into a cut of one track.
pub fn read(text: &str, rate: FrameRate, name: &str) -> Result<Cut, InterchangeError> {
    let mut cut = Cut {
        name: name.to_string(),
        rate,
        start_frame: 0,
        drop_frame: None,
        tracks: Vec::new(),
        markers: Vec::new(),
        redub: None,
        unsupported: Vec::new(),
        rendered: None,
    };
    let mut kind = None;
    let mut clips: Vec<(CutClip, i64)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if let Some(t) = line.strip_prefix("TITLE:") {
            cut.name = t.trim().to_string();
        } else if let Some(f) = line.strip_prefix("FCM:") {
            cut.drop_frame = Some(f.trim().eq_ignore_ascii_case("DROP FRAME"));
        } else if let Some(c) = line.strip_prefix('*') {
            let c = c.trim();
            let Some((clip, _)) = clips.last_mut() else { continue };
            if let Some(v) = c.strip_prefix("FROM CLIP NAME:") {
                clip.name = v.trim().to_string();
            } else if let Some(v) =
                c.strip_prefix("SOURCE FILE:").or_else(|| c.strip_prefix("FROM FILE:"))
            {
                clip.url = Some(v.trim().to_string());
            }
        } else if line
            .split_whitespace()
            .next()
            .is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit()))
        {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return Err(malformed(n, "an event needs 8 fields"));
            }
            let (channel, transition) = (f[2], f[3]);
            if transition != "C" {
                cut.unsupported.push(format!("transition {transition} at event {}", f[0]));
            }
            let k = if channel.starts_with('V') { TrackKind::Video } else { TrackKind::Audio };
            kind.get_or_insert(k);
            let times = &f[f.len() - 4..];
            let mut frames = [0i64; 4];
            let df = cut.drop_frame.unwrap_or(false) && rate.is_drop_frame_rate();
            for (slot, text) in frames.iter_mut().zip(times) {
                let mut t =
                    Timecode::parse(text, rate).map_err(|e| malformed(n, &e.to_string()))?;
                // The FCM line decides the counting, whatever separator a writer used.
                t.drop_frame = df;
                *slot = t.to_frame(rate).map_err(|e| malformed(n, &e.to_string()))?;
            }
            let [src_in, _, rec_in, rec_out] = frames;
            let reel = f[1];
            clips.push((
                CutClip {
                    name: reel.to_string(),
                    position: rate.frame_to_time(rec_in),
                    source_in: rate.frame_to_time(src_in),
                    duration: rate.frame_to_time(rec_out) - rate.frame_to_time(rec_in),
                    url: None,
                    media_duration: None,
                    gain_db: None,
                    redub: None,
                },
                rec_in,
            ));
        } else if !line.is_empty() {
            return Err(malformed(n, "not an event, a comment, TITLE: or FCM:"));
        }
    }
    // Record times carry the start timecode, which the list does not state: take the hour of
    // the first event (lists conventionally start at 00:00:00:00 or 01:00:00:00).
    let df = cut.drop_frame.unwrap_or(false) && rate.is_drop_frame_rate();
    let first = clips.iter().map(|(_, r)| *r).min().unwrap_or(0);
    let first = Timecode::from_frame(first, rate, df)
        .ok()
        .and_then(|t| Timecode { minutes: 0, seconds: 0, frames: 0, ..t }.to_frame(rate).ok())
        .unwrap_or(0);
    cut.start_frame = first;
    let offset = rate.frame_to_time(first);
    let clips = clips
        .into_iter()
        .map(|(mut c, _)| {
            c.position -= offset;
            c
        })
        .collect();
    cut.tracks.push(CutTrack {
        kind: kind.unwrap_or(TrackKind::Audio),
        name: cut.name.clone(),
        clips,
        redub: None,
    });
    Ok(cut)
}
