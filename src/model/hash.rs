//! Content hash of a media file, for relinking moved media: size + SHA-256 of the first and last MiB.

use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

const CHUNK: u64 = 1 << 20;

/// Returns `"sha256:<hex>"` over the file size, its first MiB and its last MiB.
///
/// Hashing the ends only keeps this instant on multi-gigabyte camera files while still telling
/// apart files that merely share a name.
pub fn content_hash(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut hasher = Sha256::new();
    hasher.update(size.to_le_bytes());
    let mut buf = Vec::with_capacity(CHUNK as usize);
    (&mut file).take(CHUNK).read_to_end(&mut buf)?;
    hasher.update(&buf);
    if size > CHUNK {
        let tail_start = size.saturating_sub(CHUNK).max(CHUNK);
        file.seek(SeekFrom::Start(tail_start))?;
        buf.clear();
        file.take(CHUNK).read_to_end(&mut buf)?;
        hasher.update(&buf);
    }
    Ok(format!("sha256:{}", hex(&hasher.finalize())))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_depends_on_content_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.bin");
        let b = dir.path().join("b.bin");
        std::fs::write(&a, vec![1u8; 3 * CHUNK as usize]).unwrap();
        let mut other = vec![1u8; 3 * CHUNK as usize];
        *other.last_mut().unwrap() = 2;
        std::fs::write(&b, &other).unwrap();
        let ha = content_hash(&a).unwrap();
        assert!(ha.starts_with("sha256:") && ha.len() == 7 + 64);
        assert_ne!(ha, content_hash(&b).unwrap());
        std::fs::write(&b, vec![1u8; 3 * CHUNK as usize]).unwrap();
        assert_eq!(ha, content_hash(&b).unwrap());
    }
}
