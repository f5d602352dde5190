//! Reproducible files: the muxers write the wall-clock time (MP4/MOV `mvhd`, `tkhd`, `mdhd`;
//! Matroska `DateUTC`) and a random Matroska `SegmentUID`. A render-farm piece run twice, on
//! any machine, must give the same bytes (a retried task must not change the result), so
//! stable writers fix the creation time on the muxer and patch what is left in the file.

use gstreamer as gst;
use gstreamer::prelude::*;
use sha2::{Digest, Sha256};
use std::io;
use std::path::Path;

/// Gives a muxer a fixed creation time where it has the property (Matroska/WebM: 2001-01-01,
/// the format's own epoch). MP4/MOV take the clock; [`fix_file`] patches them.
pub fn fix_muxer(mux: &gst::Element) {
    if mux.find_property("creation-time").is_some()
        && let Ok(t) = gst::glib::DateTime::from_utc(2001, 1, 1, 0, 0, 0.0)
    {
        mux.set_property("creation-time", t);
    }
}

/// Replaces the creation and modification times of an ISO/QuickTime file (movie, track and
/// media headers) with 0, and a Matroska file's `SegmentUID` with a hash of the file, in place.
/// Other files are left as they are.
pub fn fix_file(path: &Path) -> io::Result<()> {
    let mut bytes = std::fs::read(path)?;
    let changed = if bytes.get(4..8) == Some(b"ftyp") || bytes.get(4..8) == Some(b"moov") {
        let len = bytes.len();
        zero_iso_times(&mut bytes, 0, len, 0)
    } else if bytes.starts_with(&[0x1a, 0x45, 0xdf, 0xa3]) {
        fix_segment_uid(&mut bytes)
    } else {
        false
    };
    if changed {
        std::fs::write(path, &bytes)?;
    }
    Ok(())
}

/// Walks the boxes of `bytes[start..end]`, descending into the containers on the way to the
/// headers; returns whether a time was changed.
fn zero_iso_times(bytes: &mut [u8], start: usize, end: usize, depth: u32) -> bool {
    let mut changed = false;
    let mut at = start;
    while at + 8 <= end && depth < 8 {
        let mut size =
            u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let kind: [u8; 4] = [bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]];
        let mut header = 8;
        if size == 1 {
            let Some(large) = bytes.get(at + 8..at + 16) else { break };
            let mut b = [0u8; 8];
            b.copy_from_slice(large);
            size = usize::try_from(u64::from_be_bytes(b)).unwrap_or(usize::MAX);
            header = 16;
        } else if size == 0 {
            size = end - at;
        }
        if size < header || at + size > end {
            break;
        }
        let body = at + header;
        match &kind {
            b"moov" | b"trak" | b"mdia" => {
                changed |= zero_iso_times(bytes, body, at + size, depth + 1);
            }
            b"mvhd" | b"tkhd" | b"mdhd" => {
                // version (1 byte) + flags (3), then creation and modification: 32 bits each in
                // version 0, 64 bits each in version 1.
                let width = if bytes.get(body) == Some(&1) { 16 } else { 8 };
                if body + 4 + width <= at + size {
                    bytes[body + 4..body + 4 + width].fill(0);
                    changed = true;
                }
            }
            _ => {}
        }
        at += size;
    }
    changed
}

/// Sets the `SegmentUID` (element 0x73A4, 16 bytes) and every `TrackUID` (0x73C5, 8 bytes)
/// of a Matroska file, random as the muxer writes them, to values derived from the SHA-256 of the
/// file with them zeroed: stable, and still unique to the content. Only the header, before the
/// first Cluster, is searched (the ids live there; the media data could hold the same bytes).
fn fix_segment_uid(bytes: &mut [u8]) -> bool {
    let head = bytes
        .windows(4)
        .position(|w| w == [0x1f, 0x43, 0xb6, 0x75])
        .unwrap_or(bytes.len().min(64 << 10));
    let find = |bytes: &[u8], id: [u8; 3], len: usize| -> Vec<std::ops::Range<usize>> {
        bytes[..head]
            .windows(3)
            .enumerate()
            .filter(|(_, w)| *w == id)
            .map(|(k, _)| k + 3..k + 3 + len)
            .filter(|r| r.end <= head)
            .collect()
    };
    let segment = find(bytes, [0x73, 0xa4, 0x90], 16);
    let tracks = find(bytes, [0x73, 0xc5, 0x88], 8);
    if segment.is_empty() && tracks.is_empty() {
        return false;
    }
    for r in segment.iter().chain(&tracks) {
        bytes[r.clone()].fill(0);
    }
    let digest = Sha256::digest(&*bytes);
    for r in &segment {
        bytes[r.clone()].copy_from_slice(&digest[..16]);
    }
    for (k, r) in tracks.iter().enumerate() {
        let mut h = Sha256::new();
        h.update(digest);
        h.update((k as u64).to_le_bytes());
        bytes[r.clone()].copy_from_slice(&h.finalize()[..8]);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeroes_the_header_times_of_a_movie() {
        // ftyp, then moov { mvhd v0, trak { tkhd v0, mdia { mdhd v1 } } }.
        let full_box = |kind: &[u8; 4], version: u8, body: usize| {
            let mut b = ((8 + 4 + body) as u32).to_be_bytes().to_vec();
            b.extend_from_slice(kind);
            b.extend_from_slice(&[version, 0, 0, 0]);
            b.extend(std::iter::repeat_n(0xab, body));
            b
        };
        let container = |kind: &[u8; 4], inner: Vec<u8>| {
            let mut b = ((8 + inner.len()) as u32).to_be_bytes().to_vec();
            b.extend_from_slice(kind);
            b.extend(inner);
            b
        };
        let mut file = container(b"ftyp", b"isom".to_vec());
        let mdia = container(b"mdia", full_box(b"mdhd", 1, 32));
        let mut trak_inner = full_box(b"tkhd", 0, 80);
        trak_inner.extend(mdia);
        let mut moov_inner = full_box(b"mvhd", 0, 96);
        moov_inner.extend(container(b"trak", trak_inner));
        file.extend(container(b"moov", moov_inner));
        let before = file.clone();
        assert!(zero_iso_times(&mut file, 0, before.len(), 0));
        let changed: Vec<usize> = (0..file.len()).filter(|&i| file[i] != before[i]).collect();
        // 8 bytes of mvhd, 8 of tkhd, 16 of mdhd.
        assert_eq!(changed.len(), 32);
    }
}
