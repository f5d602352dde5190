//! Never destroy input, never hang, bounded inputs (issue 22): outputs that are inputs or
//! devices are refused, a full disk ends an export at once, signals leave no temp file,
//! non-UTF-8 paths work, absurd times are rejected.

mod common;

use common::{redub, stderr};
use redub::media::testsrc::{write_bars_clip, write_wav};
use redub::model::FrameRate;
use std::path::{Path, PathBuf};

/// Exit 1 with one line on stderr that names `names`.
fn assert_refused(o: &std::process::Output, names: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "exit code; stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(err.contains(names), "message names {names}: {err}");
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A 2 s shot, a 1 s dub line at 0.5 s, and the project `p.redub` made from them.
fn make_project(d: &Path) -> PathBuf {
    let shot = d.join("shot.mp4");
    write_bars_clip(&shot, 50, 320, 240, FrameRate::FPS_25, 440.0).unwrap();
    let line = d.join("line.wav");
    let tone: Vec<f32> =
        (0..48_000).flat_map(|i| [0.1 * (i as f32 * 0.05).sin(); 2]).collect::<Vec<_>>();
    write_wav(&line, &tone).unwrap();
    let p = d.join("p.redub");
    let dub = format!("{}@0.5", s(&line));
    let o = redub(&["new", "--video", s(&shot), "--dub", &dub, "-o", s(&p)]);
    assert!(o.status.success(), "{}", stderr(&o));
    p
}

/// Every file of `dir` with its bytes (not following symlinks).
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| (e.path(), std::fs::read(e.path()).unwrap()))
        .collect();
    out.sort();
    out
}

#[test]
fn outputs_that_are_inputs_or_devices_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = make_project(d);
    let shot = d.join("shot.mp4");
    let cues = d.join("cues.srt");
    std::fs::write(&cues, "1\n00:00:00,500 --> 00:00:01,500\nHello.\n").unwrap();
    let lines = d.join("lines");
    std::fs::create_dir(&lines).unwrap();
    std::fs::copy(d.join("line.wav"), lines.join("01.wav")).unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&shot, d.join("link.mp4")).unwrap();
        std::os::unix::fs::symlink(&p, d.join("link.srt")).unwrap();
        std::os::unix::fs::symlink("/dev/null", d.join("null.mp4")).unwrap();
        let fifo = d.join("fifo.mp4");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    }
    let before = snapshot(d);
    let sub = d.join("lines/../p.redub");
    let [line, link_mp4, null_mp4, fifo_mp4, link_srt] =
        ["line.wav", "link.mp4", "null.mp4", "fifo.mp4", "link.srt"].map(|n| d.join(n));
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["render", s(&p), "-o", s(&p)], "the project being read"),
        (vec!["render", s(&p), "-o", s(&sub)], "the project being read"),
        (vec!["render", s(&p), "-o", s(&shot)], "media the project uses"),
        (vec!["render", s(&p), "-o", s(&line)], "media the project uses"),
        (vec!["render", s(&p), "-o", s(&link_mp4)], "shot.mp4"),
        (vec!["render", s(&p), "-o", s(&null_mp4)], "is a device"),
        (vec!["render", s(&p), "-o", s(&fifo_mp4)], "is a FIFO"),
        (vec!["render", s(&p), "-o", "/dev/null"], "/dev/null"),
        (vec!["render", s(&p), "-o", s(d)], "is a folder"),
        (vec!["render", s(&p), "--preset", "wav", "-o", s(&line)], "line.wav"),
        (vec!["new", "--video", s(&shot), "-o", s(&shot), "--force"], "the shot"),
        (vec!["new", "--video", s(&shot), "-o", "/dev/null", "--force"], "is a device"),
        (vec!["align", s(&p), "--clip", "1", "-o", s(&shot)], "media the project uses"),
        (vec!["align", s(&p), "--clip", "1", "-o", "/dev/null"], "/dev/null"),
        (
            vec![
                "lines",
                "import",
                s(&p),
                "--srt",
                s(&cues),
                "--folder",
                s(&lines),
                "-o",
                s(&shot),
            ],
            "media the project uses",
        ),
        (
            vec![
                "lines",
                "import",
                s(&p),
                "--srt",
                s(&cues),
                "--folder",
                s(&lines),
                "-o",
                s(&cues),
            ],
            "the subtitle file being imported",
        ),
        (vec!["lines", "export", s(&p), "-o", s(&link_srt)], "the project being read"),
    ];
    for (args, names) in &cases {
        let o = redub(args);
        assert_refused(&o, names);
        let first = stderr(&o);
        assert!(first.contains("refusing") || first.contains("not a regular file"), "{first}");
        assert_eq!(snapshot(d), before, "{args:?} changed a file");
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        assert!(std::fs::metadata("/dev/null").unwrap().file_type().is_char_device());
        let fifo = std::fs::symlink_metadata(d.join("fifo.mp4")).unwrap();
        assert!(fifo.file_type().is_fifo());
        let link = std::fs::symlink_metadata(d.join("null.mp4")).unwrap();
        assert!(link.file_type().is_symlink());
    }
    // The in-place forms still work: a project written over itself.
    let o = redub(&["bind", s(&p), "--track", "1", "--face", "0"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = redub(&["lines", "import", s(&p), "--srt", s(&cues), "--folder", s(&lines)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let leftovers: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part") || n.contains("redub-save"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
