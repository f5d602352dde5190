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

/// Prints why a test cannot run here and skips it, or fails under `CI=true` (where every test
/// must run).
fn skip(test: &str, reason: &str) {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{test} cannot run under CI: {reason}");
    println!("SKIP {test}: {reason}");
}

/// A small tmpfs mounted on a new folder, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts one of `size` (e.g. "1m"), or skips the test (see [`skip`]).
    fn mount(test: &str, size: &str) -> Option<Self> {
        let dir = tempfile::Builder::new().prefix("redub-tmpfs").tempdir().unwrap().keep();
        let o = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output();
        match o {
            Ok(o) if o.status.success() => Some(Tmpfs(dir)),
            Ok(o) => {
                skip(test, &format!("cannot mount a tmpfs: {}", stderr(&o).trim()));
                None
            }
            Err(e) => {
                skip(test, &format!("cannot run mount: {e}"));
                None
            }
        }
    }

    /// Fills the filesystem with one file until `free` bytes are left.
    fn leave_free(&self, free: u64) {
        let filler = self.0.join("filler");
        let _ = std::fs::remove_file(&filler);
        let now = redub::media::encode::free_bytes(&self.0).unwrap();
        let size = now.saturating_sub(free) as usize;
        std::fs::write(&filler, vec![0u8; size]).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Names in `dir` that look like temp files (ours or the MP4 muxer's).
fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part") || n.starts_with("qtmux") || n.contains("redub-"))
        .collect()
}

#[test]
fn a_full_disk_ends_the_export_at_once() {
    let test = "a_full_disk_ends_the_export_at_once";
    let Some(fs) = Tmpfs::mount(test, "1m") else { return };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = make_project(d);
    let spool = tempfile::tempdir().unwrap();
    for (ext, free) in [("mov", 1 << 20), ("webm", 16 << 10), ("mp4", 16 << 10)] {
        fs.leave_free(free);
        let out = fs.0.join(format!("out.{ext}"));
        let began = std::time::Instant::now();
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_redub"))
            .args(["render", s(&p), "-o", s(&out)])
            .env("TMPDIR", spool.path())
            .output()
            .unwrap();
        let took = began.elapsed();
        let err = stderr(&o);
        println!("{ext}: {took:?}: {err}");
        assert_eq!(o.status.code(), Some(1), "{ext}: {err}");
        assert!(took.as_secs_f64() < 5.0, "{ext}: took {took:?}");
        let line = err.lines().last().unwrap_or_default();
        assert!(line.starts_with("redub: disk full writing "), "{ext}: {err}");
        assert!(line.contains(&format!("out.{ext}")) && line.contains("MB free)"), "{line}");
        assert!(!out.exists(), "{ext}: no output");
        assert_eq!(temp_files(&fs.0), Vec::<String>::new(), "{ext}: temp files left");
        assert_eq!(temp_files(spool.path()), Vec::<String>::new(), "{ext}: spool in TMPDIR");
    }

    // PCM's size is known: refused before starting.
    fs.leave_free(64 << 10);
    let mix = fs.0.join("mix.wav");
    let o = redub(&["render", s(&p), "--preset", "wav", "-o", s(&mix)]);
    assert_refused(&o, "not enough disk space");
    assert_eq!(temp_files(&fs.0), Vec::<String>::new());

    // A writer whose disk fills mid-stream (the WAV that used to hang) fails within seconds.
    use redub::media::MediaError;
    use redub::media::encode::{Tags, Writer, WriterConfig};
    let cfg = WriterConfig {
        preset: redub::model::Preset::WavStems,
        video: None,
        tags: Tags::default(),
        keyframe_interval: None,
    };
    let target = mix.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut w = Writer::create(&target, &cfg).unwrap();
        let second = vec![0.25f32; 96_000];
        let r =
            (0..600).try_for_each(|_| w.push_audio(&second)).and_then(|()| w.finish().map(drop));
        let _ = tx.send(r);
    });
    let r = rx.recv_timeout(std::time::Duration::from_secs(10)).expect("the writer hangs");
    match r {
        Err(MediaError::DiskFull { path, .. }) => assert_eq!(path, mix),
        other => panic!("expected disk full, got {other:?}"),
    }
    assert_eq!(temp_files(&fs.0), Vec::<String>::new());
}

/// A 10 s 640×360 project for a render that is still running when signalled.
fn long_project(d: &Path) -> PathBuf {
    let shot = d.join("long.mp4");
    write_bars_clip(&shot, 250, 640, 360, FrameRate::FPS_25, 440.0).unwrap();
    let p = d.join("long.redub");
    let o = redub(&["new", "--video", s(&shot), "-o", s(&p)]);
    assert!(o.status.success(), "{}", stderr(&o));
    p
}

#[cfg(unix)]
#[test]
fn signals_leave_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = long_project(d);
    let spool = tempfile::tempdir().unwrap();
    for (signal, code) in [("TERM", Some(143)), ("INT", Some(130)), ("KILL", None)] {
        for ext in ["mp4", "mov"] {
            let out = d.join(format!("out.{ext}"));
            // An earlier export of the same name: left as it was.
            let previous = format!("the previous {ext} export").into_bytes();
            std::fs::write(&out, &previous).unwrap();
            let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_redub"))
                .args(["render", s(&p), "-o", s(&out)])
                .env("TMPDIR", spool.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            // Wait for the render to be writing.
            let began = std::time::Instant::now();
            while temp_files(d).iter().all(|n| !n.contains(".part.")) {
                assert!(began.elapsed().as_secs() < 30, "no part file appeared");
                assert!(child.try_wait().unwrap().is_none(), "render ended before the signal");
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            let pid = child.id().to_string();
            assert!(
                std::process::Command::new("kill")
                    .args([&format!("-{signal}"), &pid])
                    .status()
                    .unwrap()
                    .success()
            );
            let o = child.wait_with_output().unwrap();
            assert_eq!(o.status.code(), code, "SIG{signal} {ext}: {}", stderr(&o));
            assert_eq!(std::fs::read(&out).unwrap(), previous, "SIG{signal} {ext}: output intact");
            assert_eq!(temp_files(spool.path()), Vec::<String>::new(), "SIG{signal} {ext} TMPDIR");
            if code.is_some() {
                assert_eq!(temp_files(d), Vec::<String>::new(), "SIG{signal} {ext}");
            } else {
                // Killed outright: its part files stay until the next write beside them.
                for f in temp_files(d) {
                    std::fs::remove_file(d.join(f)).unwrap();
                }
            }
            std::fs::remove_file(&out).unwrap();
        }
    }

    // kill -9 leaves the part file; the next write beside it removes it (its process is gone),
    // but not the part file of a process still running.
    let dead = {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        pid
    };
    let stale = d.join(format!(".out.mp4.redub-{dead}.part.mp4"));
    let stale_spool = d.join(format!(".out.mp4.redub-{dead}.part.spool.mp4"));
    let live = d.join(format!(".out.mp4.redub-{}.part.mp4", std::process::id()));
    for f in [&stale, &stale_spool, &live] {
        std::fs::write(f, b"left over").unwrap();
    }
    let out = d.join("out.mp4");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_redub"))
        .args(["render", s(&p), "-o", s(&out), "--range", "0..1"])
        .env("TMPDIR", spool.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stale.exists() && !stale_spool.exists(), "stale part files removed");
    assert!(live.exists(), "a running process's part file stays");
    // A finished MP4 render leaves nothing in TMPDIR either.
    assert_eq!(temp_files(spool.path()), Vec::<String>::new());
}

/// Runs the binary with arguments that need not be UTF-8.
fn redub_os(args: &[&std::ffi::OsStr]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_redub")).args(args).output().unwrap()
}

#[cfg(unix)]
#[test]
fn non_utf8_paths_work_end_to_end() {
    use std::ffi::{OsStr, OsString};
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = make_project(d);
    let bad = |name: &[u8]| d.join(OsString::from_vec(name.to_vec()));
    // Probe of a real clip under a Latin-1 name.
    let clip = bad(b"bad\xff.mp4");
    std::fs::copy(d.join("shot.mp4"), &clip).unwrap();
    let o = redub_os(&[OsStr::new("probe"), clip.as_os_str()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(common::stdout(&o).contains("320x240"), "{}", common::stdout(&o));
    // Render to such a name: the file is there, whole, under exactly that name.
    let out = bad(b"out\xe9.webm");
    let o = redub_os(&[OsStr::new("render"), p.as_os_str(), OsStr::new("-o"), out.as_os_str()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(common::all_frames(&out).len(), 50);
    // A dub clip under such a name (FILE@TIME splits at the last @).
    let line = bad(b"line\xfe.wav");
    std::fs::copy(d.join("line.wav"), &line).unwrap();
    let mut dub = line.as_os_str().to_os_string();
    dub.push("@0.5");
    let p2 = d.join("p2.redub");
    let o = redub_os(&[
        OsStr::new("new"),
        OsStr::new("--video"),
        d.join("shot.mp4").as_os_str(),
        OsStr::new("--dub"),
        &dub,
        OsStr::new("-o"),
        p2.as_os_str(),
    ]);
    // A project file stores paths as text: such a name is a clear error, never a panic.
    let code = o.status.code();
    assert!(code == Some(0) || code == Some(1), "{code:?}: {}", stderr(&o));
    if code == Some(1) {
        assert_refused(&o, "line");
        assert!(!p2.exists());
    }
    // Options and subcommands given as non-UTF-8 bytes: a usage error, exit 1, no panic.
    let o = redub_os(&[OsStr::from_bytes(b"pr\xffobe")]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = redub_os(&[OsStr::new("edit"), clip.as_os_str()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
}
#[test]
fn absurd_times_are_rejected_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = make_project(d);
    let good: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    let out = d.join("out.mp4");
    let huge = serde_json::json!(1i64 << 62);
    let cases: Vec<(&str, serde_json::Value, &str)> = vec![
        ("/timeline/duration", huge.clone(), "timeline duration = "),
        (
            "/timeline/dub_tracks/0/clips/0/position",
            serde_json::json!(-705_600_000i64),
            "clip 1 position = -1.000s: negative",
        ),
        (
            "/timeline/dub_tracks/0/clips/0/source_in",
            serde_json::json!(705_600_000i64 * 2),
            "clip 1 source_out = 1.000s: before source_in 2.000s",
        ),
        ("/timeline/dub_tracks/0/clips/0/fade_in", huge.clone(), "clip 1 fade_in = "),
        (
            "/timeline/dub_tracks/0/clips/0/position",
            serde_json::json!(705_600_000i64 * 86_400),
            "clip 1 end = 86401.000s: past the 24 h limit",
        ),
    ];
    for (pointer, value, names) in cases {
        let mut v = good.clone();
        *v.pointer_mut(pointer).unwrap() = value;
        let bad = d.join("bad.redub");
        let text = serde_json::to_string_pretty(&v).unwrap();
        std::fs::write(&bad, &text).unwrap();
        let o = redub(&["render", s(&bad), "-o", s(&out)]);
        assert_refused(&o, names);
        assert!(stderr(&o).contains("bad.redub: "), "{}", stderr(&o));
        assert_eq!(std::fs::read_to_string(&bad).unwrap(), text);
        assert!(!out.exists());
    }

    // A subtitle cue 114 years in: the cue's line is named, the project untouched.
    let before = std::fs::read(&p).unwrap();
    let cues = d.join("far.srt");
    std::fs::write(&cues, "1\n999999:59:59,000 --> 999999:59:59,500\nHello.\n").unwrap();
    let lines = d.join("lines");
    std::fs::create_dir(&lines).unwrap();
    std::fs::copy(d.join("line.wav"), lines.join("01.wav")).unwrap();
    let o = redub(&["lines", "import", s(&p), "--srt", s(&cues), "--folder", s(&lines)]);
    assert_refused(&o, "far.srt: line 2: cue start");
    assert!(stderr(&o).contains("168 h limit of any timeline"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&p).unwrap(), before);

    // Past 24 h: refused unless the user raises the project's limit (up to a week).
    std::fs::write(&cues, "1\n30:00:00,000 --> 30:00:00,500\nHello.\n").unwrap();
    let import = |extra: &[&str]| {
        let mut args = vec!["lines", "import", s(&p), "--srt", s(&cues), "--folder", s(&lines)];
        args.extend_from_slice(extra);
        redub(&args)
    };
    let o = import(&[]);
    assert_refused(&o, "far.srt: cue 1 ends at 108000.500s, past the 24 h limit");
    assert!(stderr(&o).contains("--max-hours"), "says how to allow it: {}", stderr(&o));
    assert_eq!(std::fs::read(&p).unwrap(), before);
    for bad in ["0", "169", "100000"] {
        let o = import(&["--max-hours", bad]);
        assert_refused(&o, &format!("--max-hours: timeline max_hours = {bad}: must be 1 to 168"));
        assert_eq!(std::fs::read(&p).unwrap(), before);
    }
    let o = import(&["--max-hours", "31"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
    assert_eq!(v["timeline"]["max_hours"], 31, "the limit is kept in the project");
    // It loads (renders) with its own limit; lowered by hand below the cue, it is refused.
    let wav = d.join("first.wav");
    let o = redub(&["render", s(&p), "--range", "0..0.5", "-o", s(&wav)]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (hours, names) in [
        (serde_json::json!(30), "past the 30 h limit of this timeline"),
        (serde_json::json!(1000), "timeline max_hours = 1000: must be 1 to 168"),
    ] {
        let mut w = v.clone();
        w["timeline"]["max_hours"] = hours;
        let q = d.join("q.redub");
        std::fs::write(&q, serde_json::to_string(&w).unwrap()).unwrap();
        assert_refused(&redub(&["render", s(&q), "-o", s(&out)]), names);
    }
    // `new --max-hours` stores it too.
    let p3 = d.join("p3.redub");
    let o = redub(&["new", "--video", s(&d.join("shot.mp4")), "--max-hours", "48", "-o", s(&p3)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::read_to_string(&p3).unwrap().contains("\"max_hours\": 48"));

    // A dub placed before the start.
    let p2 = d.join("p2.redub");
    let dub = format!("{}@-3", s(&d.join("line.wav")));
    let o = redub(&["new", "--video", s(&d.join("shot.mp4")), "--dub", &dub, "-o", s(&p2)]);
    assert_refused(&o, "-3");
    assert!(!p2.exists());
}

#[test]
fn silent_audio_and_legacy_subtitle_encodings() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = make_project(d);
    // sync-check against silence: no speech to measure, exit 1 (before any face analysis).
    let silent = d.join("silent.wav");
    write_wav(&silent, &vec![0.0; 48_000 * 2 * 2]).unwrap();
    let o = redub(&["sync-check", s(&d.join("shot.mp4")), "--audio", s(&silent)]);
    assert_refused(&o, "silent.wav: no speech");

    // UTF-16 (with a BOM) and Latin-1 cues import; Latin-1 with a note.
    let lines = d.join("lines");
    std::fs::create_dir(&lines).unwrap();
    std::fs::copy(d.join("line.wav"), lines.join("01.wav")).unwrap();
    let text = "1\r\n00:00:00,500 --> 00:00:01,500\r\nCafé olé\r\n";
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let latin1: Vec<u8> = text.chars().map(|c| c as u8).collect();
    for (name, bytes, note) in [("u16.srt", utf16, false), ("l1.srt", latin1, true)] {
        let cues = d.join(name);
        std::fs::write(&cues, bytes).unwrap();
        let out = d.join(format!("{name}.redub"));
        let o = redub(&[
            "lines",
            "import",
            s(&p),
            "--srt",
            s(&cues),
            "--folder",
            s(&lines),
            "-o",
            s(&out),
        ]);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert_eq!(stderr(&o).contains("read as Latin-1"), note, "{}", stderr(&o));
        let back = d.join(format!("{name}.out.srt"));
        let o = redub(&["lines", "export", s(&out), "-o", s(&back)]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(std::fs::read_to_string(&back).unwrap().contains("Café olé"), "{name}");
    }
}

/// A WAV whose header claims 37 hours in a one-second file is named as inconsistent at once.
#[test]
fn a_wav_header_claiming_more_than_the_file_holds_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("liar.wav");
    write_wav(&wav, &vec![0.0; 48_000 * 2]).unwrap();
    let mut bytes = std::fs::read(&wav).unwrap();
    let at = bytes.windows(4).position(|w| w == b"data").unwrap();
    let holds = bytes.len() - at - 8;
    // 37 h of 24-bit stereo at 48 kHz does not fit in 32 bits; claim the largest size short
    // of the "unknown length" marker instead (about 8 h of it).
    let claim = u32::MAX - 1;
    bytes[at + 4..at + 8].copy_from_slice(&claim.to_le_bytes());
    std::fs::write(&wav, &bytes).unwrap();
    let began = std::time::Instant::now();
    let o = redub(&["probe", s(&wav)]);
    assert!(began.elapsed().as_secs() < 5, "answered in {:?}", began.elapsed());
    assert_refused(&o, "liar.wav");
    let err = stderr(&o);
    assert!(err.contains("header is inconsistent"), "{err}");
    assert!(err.contains(&claim.to_string()) && err.contains(&holds.to_string()), "{err}");
}

/// A picture the muxers cannot take (1×1) is refused before the export starts, naming the
/// constraint; an odd size names x264's in MP4 only.
#[test]
fn an_unencodable_picture_size_is_named_before_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tiny = d.join("tiny.mkv");
    let desc = format!(
        "videotestsrc num-buffers=10 ! video/x-raw,width=1,height=1,framerate=25/1 ! vp8enc \
         ! matroskamux ! filesink location=\"{}\"",
        tiny.display()
    );
    redub::media::testsrc::run_to_eos(&desc, &tiny).unwrap();
    let p = d.join("tiny.redub");
    let o = redub(&["new", "--video", s(&tiny), "-o", s(&p)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = d.join("out.mp4");
    let o = redub(&["render", s(&p), "-o", s(&out)]);
    assert_refused(&o, "1×1");
    assert!(stderr(&o).contains("at least 16×16"), "{}", stderr(&o));
    assert!(!out.exists());
    assert_eq!(temp_files(d), Vec::<String>::new());

    use redub::media::encode::check_frame_size;
    use redub::model::Preset;
    let odd = check_frame_size(Preset::Mp4, 17, 17, &out).unwrap_err().to_string();
    assert!(odd.contains("even width and height") && !odd.contains("16×16"), "{odd}");
    assert!(check_frame_size(Preset::Webm, 17, 17, &out).is_ok());
    assert!(check_frame_size(Preset::Mov, 17, 17, &out).is_ok());
    assert!(check_frame_size(Preset::Mp4, 16, 16, &out).is_ok());
}

/// Media replaced on disk after the project was made is refused at render, naming the file and
/// what changed (size, or content at the same size), and the output is not written.
#[test]
fn media_changed_on_disk_is_refused_at_render() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = make_project(d);
    let shot = d.join("shot.mp4");
    let out = d.join("out.mp4");
    let good = std::fs::read(&shot).unwrap();
    // Same size, other content.
    let mut other = good.clone();
    let mid = other.len() / 2;
    other[mid] ^= 0xFF;
    std::fs::write(&shot, &other).unwrap();
    let o = redub(&["render", s(&p), "-o", s(&out)]);
    assert_refused(&o, "shot.mp4");
    assert!(
        stderr(&o).contains("content changed") && stderr(&o).contains("relink"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    // Another file under the same name.
    write_bars_clip(&shot, 40, 320, 240, FrameRate::FPS_25, 880.0).unwrap();
    let o = redub(&["render", s(&p), "-o", s(&out)]);
    assert_refused(&o, "shot.mp4");
    let size = std::fs::metadata(&shot).unwrap().len();
    assert!(stderr(&o).contains(&format!("to {size} bytes")), "{}", stderr(&o));
    // The original back: it renders.
    std::fs::write(&shot, &good).unwrap();
    let o = redub(&["render", s(&p), "-o", s(&out)]);
    assert!(o.status.success(), "{}", stderr(&o));
}

/// `lines` holding `n` line files and `cues.srt` with `n` cues, one a second from 0.1 s.
fn many_lines(d: &Path, n: usize) -> (PathBuf, PathBuf) {
    let lines = d.join("lines");
    std::fs::create_dir_all(&lines).unwrap();
    let mut srt = String::new();
    for k in 0..n {
        std::fs::copy(d.join("line.wav"), lines.join(format!("{:03}.wav", k + 1))).unwrap();
        let t = |ms: usize| format!("00:{:02}:{:02},{:03}", ms / 60_000, ms / 1000 % 60, ms % 1000);
        let start = 100 + k * 1000;
        srt += &format!("{}\n{} --> {}\nLine {k}.\n\n", k + 1, t(start), t(start + 800));
    }
    let cues = d.join("cues.srt");
    std::fs::write(&cues, srt).unwrap();
    (cues, lines)
}

fn clip_count(p: &Path) -> usize {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    v["timeline"]["dub_tracks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["clips"].as_array().unwrap().len())
        .sum()
}

/// Whether some process holds the lock on `lock` (a lock file nobody holds is taken over).
#[cfg(unix)]
fn lock_held(lock: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(f) = std::fs::File::open(lock) else { return false };
    // SAFETY: flock on a descriptor we own; released when `f` closes.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) != 0 }
}

#[cfg(unix)]
#[test]
fn a_save_cut_short_by_a_signal_leaves_the_old_or_the_new_project() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = make_project(d);
    let (cues, lines) = many_lines(d, 2);
    let original = std::fs::read(&p).unwrap();
    // Signals at moments spread over the whole import (probing, building, writing, renaming).
    let (mut old, mut new) = (0, 0);
    for k in 0..24u64 {
        std::fs::write(&p, &original).unwrap();
        let signal = ["KILL", "TERM", "INT"][k as usize % 3];
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_redub"))
            .args(["lines", "import", s(&p), "--srt", s(&cues), "--folder", s(&lines)])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(k * 6));
        let _ = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status();
        child.wait().unwrap();
        let now = std::fs::read(&p).unwrap();
        if now == original {
            old += 1;
        } else {
            let loaded = redub::model::Project::load(&p);
            assert!(loaded.is_ok(), "SIG{signal} after {} ms: {:?}", k * 6, loaded.err());
            assert_eq!(clip_count(&p), 3, "the whole import");
            new += 1;
        }
        let left = temp_files(d);
        if signal == "KILL" {
            // The lock file and a part file may stay: the next writer takes them over.
            assert!(left.iter().all(|n| n.contains(".part.") || n == ".p.redub.lock"), "{left:?}");
        } else {
            assert_eq!(left, Vec::<String>::new(), "SIG{signal} after {} ms", k * 6);
            assert!(!lock_held(&d.join(".p.redub.lock")), "SIG{signal}: the lock is released");
        }
    }
    println!("old project {old} times, new {new} times");
    // What a killed save left is cleared by the next one, which works.
    std::fs::write(&p, &original).unwrap();
    let o = redub(&["lines", "import", s(&p), "--srt", s(&cues), "--folder", s(&lines)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(clip_count(&p), 3);
    assert_eq!(temp_files(d), Vec::<String>::new());
    assert!(!d.join(".p.redub.lock").exists());
}

#[cfg(unix)]
#[test]
fn a_second_writer_of_a_project_is_refused_naming_the_first() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = make_project(d);
    let (cues, lines) = many_lines(d, 1);
    let before = std::fs::read(&p).unwrap();
    let import = || redub(&["lines", "import", s(&p), "--srt", s(&cues), "--folder", s(&lines)]);

    // Another process holds the lock (as a running `lines import` would).
    let lock = d.join(".p.redub.lock");
    let mut held = std::fs::File::create(&lock).unwrap();
    assert_eq!(unsafe { libc::flock(held.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) }, 0);
    writeln!(held, "redub lines import (pid 4242, since 2026-12-07 17:00:00 UTC)").unwrap();
    for o in [
        import(),
        redub(&["bind", s(&p), "--track", "1", "--face", "1"]),
        redub(&["align", s(&p), "--clip", "1"]),
    ] {
        assert_refused(&o, "p.redub is being changed by redub lines import (pid 4242, since");
        assert!(stderr(&o).contains("nothing was written"), "{}", stderr(&o));
        assert_eq!(std::fs::read(&p).unwrap(), before, "project untouched");
    }
    drop(held);

    // Its process gone (killed: the lock file names a dead pid), the next writer goes ahead.
    assert!(lock.exists());
    let o = import();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!lock.exists(), "released when done");
    assert_eq!(clip_count(&p), 2);

    // Two imports at once: each either lands or is refused by name; none is lost silently.
    for round in 0..4 {
        std::fs::write(&p, &before).unwrap();
        let spawn = || {
            std::process::Command::new(env!("CARGO_BIN_EXE_redub"))
                .args(["lines", "import", s(&p), "--srt", s(&cues), "--folder", s(&lines)])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let mut landed = 0;
        for o in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
            if o.status.success() {
                landed += 1;
            } else {
                assert_refused(&o, "p.redub is being changed by redub lines import (pid ");
            }
        }
        assert!(landed >= 1, "round {round}: one of them lands");
        assert_eq!(clip_count(&p), 1 + landed, "round {round}: every import that said so landed");
    }
}

#[test]
fn a_stalled_muxer_holds_the_writer_back_instead_of_queueing_without_bound() {
    use gstreamer as gst;
    use gstreamer::prelude::*;
    use redub::media::encode::{Tags, Writer, WriterConfig};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("slow.mov");
    let cfg = WriterConfig {
        preset: redub::model::Preset::Mov,
        video: Some((160, 120, FrameRate::FPS_25)),
        tags: Tags::default(),
        keyframe_interval: None,
    };
    let mut w = Writer::create(&out, &cfg).unwrap();
    // The disk stops taking data: the file sink's input is blocked.
    let sink = w
        .pipeline()
        .iterate_elements()
        .into_iter()
        .filter_map(Result::ok)
        .find(|e| e.factory().is_some_and(|f| f.name() == "filesink"))
        .unwrap();
    let pad = sink.static_pad("sink").unwrap();
    let probe = pad.add_probe(gst::PadProbeType::BLOCK_DOWNSTREAM, |_, _| gst::PadProbeReturn::Ok);
    let frames = 2500; // 100 s
    let pushed = std::sync::Arc::new(AtomicUsize::new(0));
    let feeder = {
        let pushed = pushed.clone();
        std::thread::spawn(move || {
            let picture = vec![128u8; 160 * 120 * 4];
            let sound = vec![0.1f32; 1920 * 2];
            for _ in 0..frames {
                w.push_frame(&picture)?;
                w.push_audio(&sound)?;
                pushed.fetch_add(1, Ordering::SeqCst);
            }
            w.finish().map(drop)
        })
    };
    // Wait until the feeder stops (held back) or has pushed everything (queued without bound).
    let (mut last, mut since) = (0, std::time::Instant::now());
    let began = std::time::Instant::now();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let n = pushed.load(Ordering::SeqCst);
        if n == frames || since.elapsed().as_secs_f64() > 2.0 {
            break;
        }
        if n != last {
            (last, since) = (n, std::time::Instant::now());
        }
        assert!(began.elapsed().as_secs() < 120, "the feeder never settles: {n} frames");
    }
    let held_at = pushed.load(Ordering::SeqCst);
    println!("held back after {held_at} of {frames} frames");
    assert!(held_at < 500, "a stalled muxer stops the feeder within seconds: {held_at} frames");
    // The disk takes data again: the export completes, whole.
    if let Some(id) = probe {
        pad.remove_probe(id);
    }
    feeder.join().unwrap().unwrap();
    let info = redub::media::probe(&out).unwrap();
    assert!((info.duration.as_seconds_f64() - 100.0).abs() < 0.2, "{:?}", info.duration);
}
