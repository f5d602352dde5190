//! Memory does not grow with the media's length (issue 22, item 6): rendering the sound of a
//! clip nine times longer peaks at about the same RSS, with and without a loudness target, and a
//! short range of the long clip costs no more than the short clip. Each render is a child
//! `redub` process whose own peak RSS (`VmHWM`) is read from `/proc` while it runs. Face analysis likewise: a talking
//! face looped to six times the length peaks at about the same RSS.

mod common;

use common::stderr;
use redub::media::testsrc::write_bars_clip;
use redub::model::FrameRate;
use std::path::{Path, PathBuf};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A `seconds`-long 64×48 10 fps bars + tone clip and a project `name.redub` made from it.
fn project(d: &Path, name: &str, seconds: u32) -> PathBuf {
    let clip = d.join(format!("{name}.mp4"));
    let rate = FrameRate::new(10, 1).unwrap();
    write_bars_clip(&clip, seconds * 10, 64, 48, rate, 440.0).unwrap();
    let p = d.join(format!("{name}.redub"));
    let o = common::redub(&["new", "--video", s(&clip), "-o", s(&p)]);
    assert!(o.status.success(), "{}", stderr(&o));
    p
}

/// Runs `redub ARGS` to the end; returns its peak RSS in MiB: the child's own `VmHWM`, read
/// from `/proc` every 10 ms while it runs. Not `wait4`'s `ru_maxrss`: a child spawned with
/// `posix_spawn` (vfork) inherits the test process's own peak into it at exec, and this
/// process's tests run side by side, decoding and encoding their clips.
#[cfg(target_os = "linux")]
fn peak_rss_mib(args: &[&str]) -> f64 {
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_redub"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let hwm_kib = || -> Option<f64> {
        let text = std::fs::read_to_string(&status).ok()?;
        let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let mut peak: f64 = 0.0;
    let exit = loop {
        // Read before reaping: a zombie's /proc entry has no memory figures.
        peak = peak.max(hwm_kib().unwrap_or(0.0));
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert!(exit.success(), "redub {args:?} failed");
    peak / 1024.0
}

#[cfg(target_os = "linux")]
#[test]
fn render_memory_does_not_grow_with_the_media_length() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 20 s and 3 min: the long clip's sound alone is 66 MiB as f32 stereo, 200 MiB as the three
    // stems a loudness pass used to hold (measured before streaming: 90 → 377 MiB with
    // `--loudness`); the rest of a render is the same for both.
    let short = project(d, "short", 20);
    let long = project(d, "long", 180);
    let stems = d.join("o.wav");
    let mut report = Vec::new();
    // The WAV stems carry the whole audio path (original streamed, mix, loudness passes) and
    // no video encoder, whose own queues ahead of the muxer are not this test's subject.
    for extra in [vec![], vec!["--loudness", "-16"]] {
        let mut args = vec!["render", "", "-o", s(&stems)];
        args.extend(extra.iter());
        args[1] = s(&short);
        let a = peak_rss_mib(&args);
        args[1] = s(&long);
        let b = peak_rss_mib(&args);
        report.push(format!("wav {extra:?}: 20 s {a:.0} MiB, 3 min {b:.0} MiB"));
        assert!(
            b <= a * 1.10 + 4.0,
            "wav {extra:?}: 20 s peaks at {a:.0} MiB, 3 min at {b:.0} MiB"
        );
    }
    // Five seconds of the long clip, with video, cost what the whole short clip costs (the
    // sound is read from the range's start, not decoded whole: before, 185 against 95 MiB).
    let target = d.join("range.mov");
    let range = peak_rss_mib(&[
        "render",
        s(&long),
        "-o",
        s(&target),
        "--range",
        "0..5",
        "--allow-unconsented",
    ]);
    let whole_short = peak_rss_mib(&["render", s(&short), "-o", s(&target), "--allow-unconsented"]);
    report.push(format!(
        "mov --range 0..5 of 3 min: {range:.0} MiB, whole 20 s: {whole_short:.0} MiB"
    ));
    println!("{}", report.join("\n"));
    assert!(range <= whole_short * 1.10 + 4.0, "range {range:.0} MiB vs 20 s {whole_short:.0} MiB");
}

/// `frames` frames of `clip` (decoded RGBA) played forth and back (so the loop points do not jump), as an MP4
/// with a silent sound track.
fn looped(clip: &Path, frames: usize, out: &Path) {
    let source = common::all_frames(clip);
    let (w, h) = (source[0].width, source[0].height);
    let rate = FrameRate::FPS_25;
    common::write_shot(out, (w, h), rate, frames, &[], |k| {
        let n = source.len();
        let lap = k / n;
        let i = if lap.is_multiple_of(2) { k % n } else { n - 1 - k % n };
        source[i].data.clone()
    });
}

#[cfg(target_os = "linux")]
#[test]
fn analysis_memory_does_not_grow_with_the_media_length() {
    let test = "analysis_memory_does_not_grow_with_the_media_length";
    let Some(media) = common::media_and_models(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A 224×224 talking face, 20 s and 2 min: one track over every frame. Before the mouth
    // patches went to a temp file each detected frame kept 36 KiB (2 min: 105 MiB more).
    let face = media.join("v7_voxceleb_00015.mp4");
    let (short, long) = (d.join("short.mp4"), d.join("long.mp4"));
    looped(&face, 500, &short);
    looped(&face, 3000, &long);
    let a = peak_rss_mib(&["analyze", s(&short), "--no-cache"]);
    let b = peak_rss_mib(&["analyze", s(&long), "--no-cache"]);
    println!("analyze: 20 s {a:.0} MiB, 2 min {b:.0} MiB");
    assert!(b <= a * 1.10 + 4.0, "analyze: 20 s peaks at {a:.0} MiB, 2 min at {b:.0} MiB");
    // And it found the face all along.
    let o = common::redub(&["analyze", s(&long)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = common::stdout(&o);
    assert!(out.contains("1 face track(s)") && out.contains("frames 0..3000"), "{out}");
}
