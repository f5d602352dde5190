//! Helpers shared by the integration tests: generated media, skip logic, CLI runner.
#![allow(dead_code)]

use redub::media::{self, VideoDecoder};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The shared test media folder, or `None` after printing why the test is skipped.
pub fn shared_media(test: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/media");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("SKIP {test}: {} is absent", dir.display());
        None
    }
}

/// Speaks `text` with espeak-ng into a WAV file.
pub fn espeak(text: &str, voice: &str, path: &Path) {
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-w"])
        .arg(path)
        .arg(text)
        .status()
        .expect("espeak-ng is installed by packaging/setup.sh");
    assert!(status.success(), "espeak-ng failed");
}

/// Decodes every frame of a file; returns (count, pts of each frame in seconds).
pub fn all_frames(path: &Path) -> Vec<std::sync::Arc<media::Frame>> {
    let mut dec = VideoDecoder::open_with_cache(path, 0).expect("open");
    let mut frames = Vec::new();
    let mut i = 0;
    loop {
        let f = dec.frame(i).expect("frame");
        if f.index < i {
            break; // held last frame: end of stream
        }
        frames.push(f);
        i += 1;
    }
    frames
}

/// Runs the `redub` binary.
pub fn redub(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_redub")).args(args).output().expect("run redub")
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Mean luma of an RGBA frame.
pub fn mean_luma(f: &media::Frame) -> f64 {
    let sum: u64 = f
        .data
        .chunks_exact(4)
        .map(|p| (u64::from(p[0]) + u64::from(p[1]) + u64::from(p[2])) / 3)
        .sum();
    sum as f64 / (f.width as f64 * f.height as f64)
}
