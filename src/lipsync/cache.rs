//! On-disk cache of mouth banks, beside the analysis cache: building a bank decodes every frame
//! of the shot, so reopening a project (or exporting again) reads it back instead. Keyed by the
//! media's content hash, the face track (id and a fingerprint of its landmarks) and
//! [`BANK_VERSION`], which changes whenever the patch, feature or opening recipe does.

use super::bank::{Bank, BankEntry, CompactPatch, FrameLook, JAW_LEN};
use super::engine::TrackFrame;
use super::occlusion::{COLOUR_BINS, FaceModel};
use crate::analysis::mouth_patch::{MAX_DETAIL, PATCH_H, PATCH_W, detail_dims};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Version of everything a cached bank holds (patches in 4:2:0 and their detail, run
/// continuity, descriptors, audio features with their loudness weights, mouth openings, the
/// frame looks with their jaw profiles, the occlusion model), and the canonical frame they
/// are cut in (23: placed by the eyes and nose only).
pub const BANK_VERSION: u32 = 23;

const MAGIC: &[u8; 8] = b"RDBANK\0\0";

/// The bank cache folder: `$REDUB_CACHE_DIR/banks` when set (tests), else the user's cache dir
/// for redub (e.g. `~/.cache/redub/banks`).
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("REDUB_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir).join("banks"));
    }
    directories::ProjectDirs::from("", "", "redub").map(|d| d.cache_dir().join("banks"))
}

/// The cache key of a face track's bank in a media file (`media_hash` as `sha256:<hex>`), built
/// within `budget` bytes.
pub fn key(media_hash: &str, face: u32, track: &[Option<TrackFrame>], budget: usize) -> String {
    let mut h = Sha256::new();
    h.update((budget as u64).to_le_bytes());
    for tf in track {
        match tf {
            Some(t) => {
                h.update([1u8]);
                t.landmarks.iter().flatten().for_each(|v| h.update(v.to_le_bytes()));
                h.update(t.score.to_le_bytes());
            }
            None => h.update([0u8]),
        }
    }
    let track_hash: String = h.finalize().iter().take(8).map(|b| format!("{b:02x}")).collect();
    let media = media_hash.trim_start_matches("sha256:");
    format!("{media}-face{face}-{track_hash}-v{BANK_VERSION}")
}

fn put_f32s(out: &mut Vec<u8>, v: impl IntoIterator<Item = f32>) {
    for x in v {
        out.extend_from_slice(&x.to_le_bytes());
    }
}

/// Serialises a bank and its face model (little-endian, patches as 4:2:0 planes: ~18 KB per
/// entry at detail 1, ~74 KB at detail 2).
pub fn encode(bank: &Bank, model: Option<&FaceModel>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&BANK_VERSION.to_le_bytes());
    out.extend_from_slice(&(bank.entries.len() as u64).to_le_bytes());
    out.extend_from_slice(&(bank.detail() as u32).to_le_bytes());
    for e in &bank.entries {
        out.extend_from_slice(&e.frame.to_le_bytes());
        out.extend_from_slice(&e.opening.to_le_bytes());
        out.push(u8::from(e.continues));
        let (y, cb, cr) = e.patch.planes();
        out.extend_from_slice(y);
        out.extend_from_slice(cb);
        out.extend_from_slice(cr);
        out.extend_from_slice(&(e.descriptor.len() as u32).to_le_bytes());
        put_f32s(&mut out, e.descriptor.iter().copied());
        out.extend_from_slice(&(e.features.len() as u32).to_le_bytes());
        put_f32s(&mut out, e.features.iter().copied());
    }
    out.extend_from_slice(&(bank.looks.len() as u64).to_le_bytes());
    for l in &bank.looks {
        out.extend_from_slice(&l.frame.to_le_bytes());
        put_f32s(&mut out, l.light.iter().chain(&l.jaw).copied());
    }
    match model {
        Some(m) => {
            out.push(1);
            let (mean, std) = m.parts();
            put_f32s(&mut out, mean.iter().chain(std).flatten().copied());
            out.extend(m.mouth_colours().iter().map(|&b| u8::from(b)));
        }
        None => out.push(0),
    }
    out
}

/// Reads a byte buffer front to back.
/// Reads a little-endian binary file front to back (the bank cache's, the farm's stored plan):
/// each read is `None` past the end.
pub(crate) struct Reader<'a>(pub(crate) &'a [u8]);

impl<'a> Reader<'a> {
    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Some(a)
    }
    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }
    fn u32(&mut self) -> Option<u32> {
        self.array().map(u32::from_le_bytes)
    }
    fn f32s(&mut self, n: usize) -> Option<Vec<f32>> {
        let bytes = self.take(n.checked_mul(4)?)?;
        Some(bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    }
    fn rgb(&mut self, n: usize) -> Option<Vec<[f32; 3]>> {
        Some(self.f32s(n * 3)?.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect())
    }
}

/// The inverse of [`encode`]; `None` for anything malformed or of another version.
pub fn decode(bytes: &[u8]) -> Option<(Bank, Option<FaceModel>)> {
    let mut r = Reader(bytes);
    if r.take(MAGIC.len())? != MAGIC || r.u32()? != BANK_VERSION {
        return None;
    }
    let n = usize::try_from(u64::from_le_bytes(r.array()?)).ok()?;
    let detail = r.u32()? as usize;
    if !(1..=MAX_DETAIL).contains(&detail) {
        return None;
    }
    let (dw, dh) = detail_dims(detail);
    let patch_len = PATCH_W * PATCH_H;
    let mut entries = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        let frame = i64::from_le_bytes(r.array()?);
        let opening = f32::from_le_bytes(r.array()?);
        let continues = r.take(1)?[0] != 0;
        let c = dw.div_ceil(2) * dh.div_ceil(2);
        let y = r.take(dw * dh)?.to_vec();
        let (cb, cr) = (r.take(c)?.to_vec(), r.take(c)?.to_vec());
        let patch = CompactPatch::from_planes(dw, dh, y, cb, cr)?;
        let d = r.u32()? as usize;
        let descriptor = r.f32s(d)?;
        let f = r.u32()? as usize;
        let features = r.f32s(f)?;
        entries.push(BankEntry { frame, continues, patch, descriptor, features, opening });
    }
    let n = usize::try_from(u64::from_le_bytes(r.array()?)).ok()?;
    let mut looks = Vec::with_capacity(n.min(1 << 20));
    for _ in 0..n {
        let frame = i64::from_le_bytes(r.array()?);
        let v = r.f32s(3 + JAW_LEN)?;
        let light = [v[0], v[1], v[2]];
        let jaw = v[3..].try_into().ok()?;
        looks.push(FrameLook { frame, light, jaw });
    }
    let model = match r.take(1)?[0] {
        1 => {
            let (mean, std) = (r.rgb(patch_len)?, r.rgb(patch_len)?);
            let colours = r.take(COLOUR_BINS)?.iter().map(|&b| b != 0).collect();
            Some(FaceModel::from_parts(mean, std, colours)?)
        }
        _ => None,
    };
    r.0.is_empty().then_some((Bank { entries, looks }, model))
}

/// The cached bank for `key` in `dir`, if present and readable.
pub fn load(dir: &Path, key: &str) -> Option<(Bank, Option<FaceModel>)> {
    decode(&std::fs::read(dir.join(format!("{key}.bank"))).ok()?)
}

/// Writes a bank atomically (temp file in the same folder, then rename).
pub fn store(
    dir: &Path,
    key: &str,
    bank: &Bank,
    model: Option<&FaceModel>,
) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("{key}.bank"));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(&encode(bank, model))?;
    tmp.persist(&path).map_err(|e| e.error)?;
    Ok(path)
}

/// The bank for `key`: read from the cache in `dir` when there, else built by `build` (which
/// returns `None` when cancelled) and stored. A cache that cannot be written only costs the
/// rebuild next time.
pub fn load_or_build(
    dir: Option<&Path>,
    key: &str,
    build: impl FnOnce() -> Option<(Bank, Option<FaceModel>)>,
) -> Option<(Bank, Option<FaceModel>)> {
    if let Some(hit) = dir.and_then(|d| load(d, key)) {
        return Some(hit);
    }
    let (bank, model) = build()?;
    if let Some(d) = dir
        && let Err(e) = store(d, key, &bank, model.as_ref())
    {
        tracing::warn!("bank cache {}: {e}", d.display());
    }
    Some((bank, model))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::mouth_patch::Patch;

    fn sample() -> (Bank, Option<FaceModel>) {
        let entries = (0..5)
            .map(|i| {
                let rgb = (0..PATCH_W * PATCH_H)
                    .map(|k| [(k % 251) as f32, (i * 40) as f32, ((k / 7) % 256) as f32])
                    .collect();
                BankEntry::new(i, &Patch { rgb }, vec![i as f32, -0.5, 1e-3])
            })
            .collect::<Vec<_>>();
        let patches: Vec<Patch> = entries.iter().map(BankEntry::to_patch).collect();
        let model = FaceModel::learn(&patches.iter().collect::<Vec<_>>());
        let mut bank = Bank::new(entries);
        bank.looks = (0..3)
            .map(|i| FrameLook {
                frame: i * 2,
                light: [0.5, -1.0, i as f32],
                jaw: [i as f32; JAW_LEN],
            })
            .collect();
        (bank, model)
    }

    #[test]
    fn round_trips_and_builds_once() {
        let (bank, model) = sample();
        assert!(model.is_some());
        let bytes = encode(&bank, model.as_ref());
        assert_eq!(decode(&bytes), Some((bank.clone(), model.clone())));
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None, "truncated");
        let dir = tempfile::tempdir().unwrap();
        let mut builds = 0;
        for _ in 0..2 {
            let got = load_or_build(Some(dir.path()), "k", || {
                builds += 1;
                Some((bank.clone(), model.clone()))
            });
            assert_eq!(got, Some((bank.clone(), model.clone())));
        }
        assert_eq!(builds, 1, "the second call reads the cache");
        // A cancelled build stores nothing.
        assert_eq!(load_or_build(Some(dir.path()), "other", || None), None);
        assert!(load(dir.path(), "other").is_none());
        // A bank of detail-2 patches round-trips too.
        let fine: Vec<BankEntry> = (0..3)
            .map(|i| {
                let rgb =
                    (0..PATCH_W * PATCH_H * 4).map(|k| [(k % 253) as f32, 7.0, i as f32]).collect();
                BankEntry::new(i, &Patch { rgb }, vec![1.0])
            })
            .collect();
        let fine = Bank::new(fine);
        assert_eq!(fine.detail(), 2);
        assert_eq!(decode(&encode(&fine, model.as_ref())), Some((fine, model.clone())));
        // The key changes with the track.
        let tf = TrackFrame { landmarks: [[1.0, 2.0]; 5], score: 1.0 };
        let moved = TrackFrame { landmarks: [[1.5, 2.0]; 5], score: 1.0 };
        let k = |face, t: TrackFrame, budget| key("sha256:ab", face, &[Some(t)], budget);
        assert_ne!(k(0, tf, 1), k(0, moved, 1));
        assert_ne!(k(0, tf, 1), k(1, tf, 1));
        assert_ne!(k(0, tf, 1), k(0, tf, 2), "the budget changes the bank");
    }
}
