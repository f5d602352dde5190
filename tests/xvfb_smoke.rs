//! The real binary in a real window under Xvfb (Mesa software rendering): plays for 2 s and
//! takes a screenshot that must not be blank; then a run killed with SIGKILL right after an
//! edit must be offered for recovery at the next start, with the edit intact.
//! Skipped (with a message) where Xvfb or ImageMagick's `import` is missing; a failure under CI.

mod common;

use redub::media::testsrc::{write_bars_clip, write_wav};
use redub::model::{FrameRate, MediaKind, Project, Time};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Xvfb {
    child: Child,
    display: String,
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        // SIGTERM first: Xvfb then removes its socket and lock file.
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(3) {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Starts Xvfb on a display number it picks itself (`-displayfd`), so stale lock files of
/// earlier servers never collide with this one.
fn start_xvfb() -> Xvfb {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new("Xvfb")
        .args(["-displayfd", "1", "-screen", "0", "1600x1000x24", "-nolisten", "tcp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(out).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(10)).expect("Xvfb did not start");
    let n: u32 = line.trim().parse().expect("Xvfb printed no display number");
    let display = format!(":{n}");
    Xvfb { child, display }
}

fn editor(x: &Xvfb, data: &Path, project: &Path, script: &str, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_redub"))
        .args(["edit", project.to_str().unwrap(), "--script", script])
        .env("DISPLAY", &x.display)
        .env_remove("WAYLAND_DISPLAY")
        .env("REDUB_DATA_DIR", data)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap()
}

fn demo_project(dir: &Path) -> PathBuf {
    let video = dir.join("shot.mp4");
    write_bars_clip(&video, 125, 640, 360, FrameRate::FPS_25, 440.0).unwrap();
    let line = dir.join("line.wav");
    let samples: Vec<f32> = (0..72_000).flat_map(|i| [0.2 * (i as f32 * 0.03).sin(); 2]).collect();
    write_wav(&line, &samples).unwrap();
    let mut p = Project::new("smoke", FrameRate::FPS_25);
    let v = p.add_media(&video, MediaKind::Video, Time::from_millis(5000)).unwrap();
    p.timeline.video.media = Some(v);
    p.timeline.original_audio.media = Some(v);
    p.timeline.duration = Time::from_millis(5000);
    let l = p.add_media(&line, MediaKind::Audio, Time::from_millis(1500)).unwrap();
    let t = p.add_dub_track("Dub 1");
    p.add_clip(t, l, Time::from_millis(800)).unwrap();
    let file = dir.join("smoke.redub");
    p.save(&file).unwrap();
    file
}

fn wait_exit(child: &mut Child, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if child.try_wait().ok().flatten().is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn real_window_plays_and_a_killed_session_is_recovered() {
    if !have("Xvfb") || !have("import") {
        common::skip(
            "real_window_plays_and_a_killed_session_is_recovered",
            "Xvfb or ImageMagick import not installed",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("appdata");
    let project = demo_project(dir.path());
    let x = start_xvfb();

    // Run 1: play 2 s, screenshot while the window is up.
    let log1 = dir.path().join("run1.log");
    let mut app = editor(&x, &data, &project, "wait:1500;play;wait:2000;play", &log1);
    std::thread::sleep(Duration::from_secs(8));
    let shot = dir.path().join("shot.png");
    let ok = Command::new("import")
        .args(["-display", &x.display, "-window", "root", shot.to_str().unwrap()])
        .status()
        .unwrap();
    let _ = app.kill();
    let _ = app.wait();
    assert!(ok.success(), "screenshot failed");
    let img = image::open(&shot).unwrap().to_rgb8();
    let mut colors = std::collections::HashSet::new();
    for p in img.pixels().step_by(7) {
        colors.insert(p.0);
    }
    if let Ok(keep) = std::env::var("REDUB_KEEP_SCREENSHOT") {
        let _ = std::fs::copy(&shot, keep);
    }
    println!(
        "screenshot: {} distinct colours (sampled); log:\n{}",
        colors.len(),
        std::fs::read_to_string(&log1).unwrap_or_default()
    );
    assert!(colors.len() > 50, "the window is blank ({} colours)", colors.len());

    // Run 2: an edit (a new dub track autosaves at once), then SIGKILL.
    let log2 = dir.path().join("run2.log");
    let mut app = editor(&x, &data, &project, "wait:1500;add-track;wait:60000", &log2);
    std::thread::sleep(Duration::from_secs(6));
    let _ = app.kill(); // SIGKILL
    let _ = app.wait();
    assert_eq!(
        Project::load(&project).unwrap().timeline.dub_tracks.len(),
        1,
        "the file itself was not saved"
    );

    // Run 3: recovery is offered; recover, save and quit through the script.
    let log3 = dir.path().join("run3.log");
    let mut app = editor(&x, &data, &project, "wait:1500;recover;save;quit", &log3);
    let exited = wait_exit(&mut app, Duration::from_secs(30));
    if !exited {
        let _ = app.kill();
        let _ = app.wait();
    }
    let log = std::fs::read_to_string(&log3).unwrap_or_default();
    assert!(log.contains("offering recovery"), "no recovery offered; log:\n{log}");
    assert!(exited, "the editor did not quit; log:\n{log}");
    assert_eq!(
        Project::load(&project).unwrap().timeline.dub_tracks.len(),
        2,
        "the recovered edit is in the saved file"
    );
}
