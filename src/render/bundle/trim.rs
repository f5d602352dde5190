//! The bundle's "used ranges only" option: which part of each media file a project uses, and a
//! lossless cut of that part where the container allows one.
//!
//! A cut must give the render the very same samples at the clip's shifted source times, so only
//! what can be cut without decoding and re-encoding is cut: PCM and float WAV (the `data` chunk's
//! sample frames are copied as they are, from a frame that maps to a whole 48 kHz sample so the
//! resampler's phase is unchanged). Compressed audio (AAC, MP3, Opus: a cut restarts the
//! decoder's overlap and priming, so the first samples differ) and the picture (its frame
//! numbers key the face analysis, the banks and the lip segments) are kept whole, each with a
//! note saying why.

use crate::dsp::SAMPLE_RATE;
use crate::model::{MediaId, Project, Time};
use std::collections::BTreeMap;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Sound kept on each side of the used span: the decoder's and resampler's edge effects fall
/// in it, never in the used part.
pub const MARGIN: Time = Time::from_ticks(crate::model::time::TICKS_PER_SECOND);

/// How a project uses one media file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Use {
    /// Needed whole, and why.
    Whole(&'static str),
    /// Used between these source times only (before the margin).
    Span(Time, Time),
}

/// How `project` uses each of its media files (those it does not use at all are absent).
pub fn uses(project: &Project) -> BTreeMap<MediaId, Use> {
    let mut out: BTreeMap<MediaId, Use> = BTreeMap::new();
    let span = |id: MediaId, a: Time, b: Time, out: &mut BTreeMap<MediaId, Use>| {
        if let Use::Span(x, y) = out.entry(id).or_insert(Use::Span(a, b)) {
            *x = (*x).min(a);
            *y = (*y).max(b);
        }
    };
    let tl = &project.timeline;
    // The original sound and the M&E stem play from their start under the whole sequence.
    for id in [tl.original_audio.media, tl.me_track].into_iter().flatten() {
        span(id, Time::ZERO, tl.sequence_end(), &mut out);
    }
    for c in tl.dub_tracks.iter().flat_map(|t| &t.clips) {
        span(c.media, c.source_in, c.source_out, &mut out);
    }
    if let Some(v) = tl.video.media {
        out.insert(v, Use::Whole("the picture track uses it from its first frame"));
    }
    out
}

/// The layout of a WAV file that can be cut by copying sample frames.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WavLayout {
    /// The `fmt ` chunk's body.
    fmt: Vec<u8>,
    /// Where the sample data starts.
    data_at: u64,
    /// Sample data bytes.
    data_len: u64,
    /// Bytes per sample frame.
    block: u64,
    /// Sample frames per second.
    pub rate: u32,
}

impl WavLayout {
    /// Sample frames in the file.
    pub fn frames(&self) -> u64 {
        self.data_len / self.block
    }
}

/// The layout of `path` when it is a RIFF WAVE of PCM or float samples; `Ok(None)` for any
/// other file (or a WAV with compressed samples).
pub fn wav_layout(path: &Path) -> io::Result<Option<WavLayout>> {
    let mut file = std::fs::File::open(path)?;
    let len = file.metadata()?.len();
    let mut head = [0u8; 12];
    if file.read_exact(&mut head).is_err() || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Ok(None);
    }
    let mut at = 12u64;
    let mut fmt: Option<Vec<u8>> = None;
    for _ in 0..64 {
        let mut chunk = [0u8; 8];
        file.seek(SeekFrom::Start(at))?;
        if file.read_exact(&mut chunk).is_err() {
            return Ok(None);
        }
        let size = u64::from(u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]));
        if &chunk[0..4] == b"fmt " && (16..=1024).contains(&size) {
            let mut body = vec![0u8; size as usize];
            file.read_exact(&mut body)?;
            fmt = Some(body);
        } else if &chunk[0..4] == b"data" {
            let Some(fmt) = fmt else { return Ok(None) };
            let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
            let tag = u16_at(0);
            // PCM (1), IEEE float (3), or the extensible form with one of them as sub-format.
            let plain = match tag {
                1 | 3 => true,
                0xFFFE if fmt.len() >= 26 => matches!(u16_at(24), 1 | 3),
                _ => false,
            };
            let rate = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
            let block = u64::from(u16_at(12));
            let holds = len.saturating_sub(at + 8);
            // A size left open while recording (0 or all ones) means "to the end of the file".
            let data_len =
                if size == 0 || size == u64::from(u32::MAX) { holds } else { size.min(holds) };
            if !plain || block == 0 || rate == 0 {
                return Ok(None);
            }
            return Ok(Some(WavLayout { fmt, data_at: at + 8, data_len, block, rate }));
        }
        at += 8 + size + (size & 1);
    }
    Ok(None)
}

/// The sample frames of a file at `rate` to keep for the used span `a..b`: the margin either
/// side, the start moved down to a frame that is also a whole 48 kHz sample (so the audio
/// decoder's resampler runs in the same phase over the kept part as over the whole file).
pub fn kept_frames(rate: u32, total: u64, a: Time, b: Time) -> (u64, u64) {
    let step = u64::from(rate / gcd(rate, SAMPLE_RATE)).max(1);
    let from = (a - MARGIN).to_samples(rate).max(0) as u64;
    let from = (from / step * step).min(total);
    let to = ((b + MARGIN).to_samples(rate).max(0) as u64 + 1).clamp(from, total);
    (from, to)
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Writes sample frames `from..to` of the WAV at `path` (laid out as `layout`) to `out`: the
/// same `fmt ` chunk and the copied samples, nothing re-encoded.
pub fn write_wav_part(
    path: &Path,
    layout: &WavLayout,
    (from, to): (u64, u64),
    out: &Path,
) -> io::Result<()> {
    let mut src = std::fs::File::open(path)?;
    src.seek(SeekFrom::Start(layout.data_at + from * layout.block))?;
    let data = (to - from) * layout.block;
    let fmt_len = layout.fmt.len() as u64;
    let riff = 4 + 8 + fmt_len + (fmt_len & 1) + 8 + data + (data & 1);
    let (Ok(riff), Ok(data32)) = (u32::try_from(riff), u32::try_from(data)) else {
        return Err(io::Error::other("the part is too long for a WAV file"));
    };
    let mut w = io::BufWriter::with_capacity(1 << 20, std::fs::File::create(out)?);
    w.write_all(b"RIFF")?;
    w.write_all(&riff.to_le_bytes())?;
    w.write_all(b"WAVEfmt ")?;
    w.write_all(&(fmt_len as u32).to_le_bytes())?;
    w.write_all(&layout.fmt)?;
    if fmt_len & 1 == 1 {
        w.write_all(&[0])?;
    }
    w.write_all(b"data")?;
    w.write_all(&data32.to_le_bytes())?;
    let copied = io::copy(&mut (&mut src).take(data), &mut w)?;
    if copied != data {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the file is shorter than its header says",
        ));
    }
    if data & 1 == 1 {
        w.write_all(&[0])?;
    }
    w.flush()?;
    w.into_inner().map_err(io::IntoInnerError::into_error)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_frames_keep_the_margin_and_the_resampler_phase() {
        let s = |x: i64| Time::from_millis(x);
        // 48 kHz: any frame will do.
        assert_eq!(kept_frames(48_000, 480_000, s(5000), s(6000)), (192_000, 336_001));
        // 44.1 kHz: the start is a multiple of 147 frames (= 160 samples at 48 kHz).
        let (from, to) = kept_frames(44_100, 441_000, s(5000), s(6000));
        assert_eq!(from % 147, 0);
        assert!(from <= 176_400 && 176_400 - from < 147, "{from}");
        assert_eq!(to, 308_701);
        // Clamped to the file.
        assert_eq!(kept_frames(48_000, 100_000, s(0), s(5000)), (0, 100_000));
    }
}
