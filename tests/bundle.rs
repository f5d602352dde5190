//! The self-contained project bundle (`.redubz`): a lip-edited project collected, moved to
//! another folder with its original media renamed away, renders the same frames; a damaged,
//! truncated or unsafe bundle is refused with a clear error and leaves nothing unpacked.

mod common;

use redub::jobs::Job;
use redub::media::testsrc::{write_bars_clip, write_wav};
use redub::model::{FrameRate, MediaKind, Project, Time};
use redub::render::bundle::{self, BundleError};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `redub` with its caches under `cache`.
fn redub_in(cache: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_redub"))
        .args(args)
        .env("REDUB_CACHE_DIR", cache)
        .output()
        .expect("run redub");
    assert!(
        out.status.success(),
        "redub {args:?}: {}\n{}",
        common::stderr(&out),
        common::stdout(&out)
    );
    out
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_collected_lip_edit_renders_the_same_frames_elsewhere_without_its_media() {
    let Some(media) = common::media_and_models("bundle_renders_the_same_frames") else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let (src, here, there) =
        (root.path().join("src"), root.path().join("here"), root.path().join("there"));
    for d in [&src, &here, &there] {
        std::fs::create_dir_all(d).unwrap();
    }
    // The shot and a spoken dub bound to its face, in a folder of their own.
    let video = src.join("shot.mp4");
    std::fs::copy(media.join("v1_retalking_face2.mp4"), &video).unwrap();
    let dub = src.join("dub.wav");
    common::espeak("We choose to go there soon.", "en-us", &dub);
    let project = common::dub_project(&video, &dub, Some(0));
    let proj = here.join("scene.redub");
    project.save(&proj).unwrap();
    let p = |p: &Path| p.to_str().unwrap().to_string();

    // Before: rendered with this machine's caches (the analysis and bank are made here).
    let cache1 = root.path().join("cache1");
    let before = here.join("before.mp4");
    redub_in(&cache1, &["render", &p(&proj), "-o", &p(&before), "--range", "0..2"]);

    let out = here.join("scene.redubz");
    let t = std::time::Instant::now();
    let said = redub_in(&cache1, &["bundle", &p(&proj), "-o", &p(&out)]);
    println!("collect: {:.2} s: {}", t.elapsed().as_secs_f64(), common::stdout(&said).trim());
    let size = std::fs::metadata(&out).unwrap().len();
    println!("bundle size: {size} bytes");
    assert!(common::stdout(&said).contains("2 media file(s)"), "{}", common::stdout(&said));
    assert!(!common::stdout(&said).contains(" 0 cache file(s)"), "the caches are collected");

    // Elsewhere, with the original media renamed away and an empty cache.
    let moved = there.join("scene.redubz");
    std::fs::rename(&out, &moved).unwrap();
    std::fs::rename(&video, src.join("shot.gone")).unwrap();
    std::fs::rename(&dub, src.join("dub.gone")).unwrap();
    let cache2 = root.path().join("cache2");
    let after = there.join("after.mp4");
    let t = std::time::Instant::now();
    let said = redub_in(&cache2, &["render", &p(&moved), "-o", &p(&after), "--range", "0..2"]);
    println!("open + render: {:.2} s: {}", t.elapsed().as_secs_f64(), common::stderr(&said));
    assert!(common::stderr(&said).contains("unpacked"), "{}", common::stderr(&said));
    assert!(there.join("scene/scene.redub").is_file());
    assert!(there.join("scene/media/shot.mp4").is_file());
    // The analysis and the bank came along into this machine's (empty) caches.
    assert!(!names(&cache2.join("analysis")).is_empty());
    assert!(!names(&cache2.join("banks")).is_empty());
    // Media paths in the unpacked project are relative to it.
    let text = std::fs::read_to_string(there.join("scene/scene.redub")).unwrap();
    assert!(text.contains("\"path\": \"media/shot.mp4\""), "{text}");

    let (a, b) = (common::all_frames(&before), common::all_frames(&after));
    assert_eq!(a.len(), b.len());
    assert!(a.len() >= 45, "2 s of frames: {}", a.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(x.data == y.data, "frame {i} differs");
    }

    // Opening it again reuses the unpacked folder (and what was changed there).
    let t = std::time::Instant::now();
    let again = redub_in(&cache2, &["unbundle", &p(&moved)]);
    println!("open again: {:.2} s", t.elapsed().as_secs_f64());
    assert_eq!(common::stdout(&again).trim(), p(&there.join("scene/scene.redub")));
    assert!(common::stderr(&again).contains("unpacked before"), "{}", common::stderr(&again));
    assert_eq!(names(&there), ["after.mp4", "scene", "scene.redubz"]);
}

/// A small project of generated media (no models needed), collected into `dir/p.redubz`.
fn small_bundle(dir: &Path) -> PathBuf {
    let video = dir.join("shot.mp4");
    write_bars_clip(&video, 25, 160, 90, FrameRate::FPS_25, 440.0).unwrap();
    let line = dir.join("line.wav");
    write_wav(&line, &vec![0.1f32; 48_000 * 2]).unwrap();
    let mut p = Project::new("small", FrameRate::FPS_25);
    let v = p.add_media(&video, MediaKind::Video, Time::from_millis(1000)).unwrap();
    p.timeline.video.media = Some(v);
    p.timeline.duration = Time::from_millis(1000);
    let a = p.add_media(&line, MediaKind::Audio, Time::from_millis(1000)).unwrap();
    let t = p.add_dub_track("Dub");
    p.add_clip(t, a, Time::ZERO).unwrap();
    let proj = dir.join("p.redub");
    p.save(&proj).unwrap();
    let out = dir.join("p.redubz");
    let r = bundle::collect(&proj, &out, &Job::new()).unwrap();
    assert_eq!(r.media_files, 2);
    assert_eq!(r.size, std::fs::metadata(&out).unwrap().len());
    out
}

/// Opens `bytes` as a bundle in a fresh folder: the error, and what the folder holds after.
fn open_bytes(bytes: &[u8]) -> (BundleError, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.redubz");
    std::fs::write(&path, bytes).unwrap();
    let e = bundle::open(&path, &Job::new()).expect_err("refused");
    (e, names(dir.path()))
}

#[test]
fn a_damaged_or_truncated_bundle_is_refused_and_leaves_nothing_unpacked() {
    let dir = tempfile::tempdir().unwrap();
    let out = small_bundle(dir.path());
    let good = std::fs::read(&out).unwrap();
    // It opens as it is.
    let o = bundle::open(&out, &Job::new()).unwrap();
    assert!(!o.reused && o.project.is_file());
    let p = Project::load(&o.project).unwrap();
    assert!(p.media.iter().all(|m| m.path.starts_with(&o.folder)), "{:?}", p.media);

    // One byte flipped in the media, in a tar header, in the manifest.
    let key = b"\"redub_version\"";
    let manifest_at = good.windows(key.len()).rposition(|w| w == key).unwrap();
    for (what, at) in [("media", good.len() / 3), ("header", 0), ("manifest", manifest_at + 3)] {
        let mut bad = good.clone();
        bad[at] ^= 0x20;
        let (e, left) = open_bytes(&bad);
        println!("{what}: {e}");
        assert!(matches!(e, BundleError::Corrupt { .. }), "{what}: {e}");
        assert!(e.to_string().contains("not a usable Redub bundle"), "{e}");
        assert_eq!(left, ["b.redubz"], "{what}: nothing unpacked");
    }
    // Truncated anywhere: at the half, just before the manifest, one block short.
    for cut in [good.len() / 2, manifest_at - 600, good.len() - 1536] {
        let (e, left) = open_bytes(&good[..cut]);
        println!("cut at {cut}: {e}");
        assert!(matches!(e, BundleError::Corrupt { .. }), "{e}");
        assert_eq!(left, ["b.redubz"], "nothing unpacked");
    }
    let (e, left) = open_bytes(b"not a bundle at all");
    assert!(matches!(e, BundleError::Corrupt { .. }), "{e}");
    assert_eq!(left, ["b.redubz"]);
}

#[test]
fn a_bundle_entry_pointing_outside_its_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("evil.redubz");
    {
        let mut tar = tar::Builder::new(std::fs::File::create(&path).unwrap());
        let mut header = tar::Header::new_gnu();
        let name = b"../escaped.txt";
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.set_size(3);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        tar.append(&header, &b"bad"[..]).unwrap();
        tar.finish().unwrap();
    }
    let e = bundle::open(&path, &Job::new()).expect_err("refused");
    assert!(e.to_string().contains("outside the bundle"), "{e}");
    assert!(!dir.path().parent().unwrap().join("escaped.txt").exists());
    assert_eq!(names(dir.path()), ["evil.redubz"]);
}

#[test]
fn a_cancelled_collect_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = small_bundle(dir.path());
    std::fs::remove_file(&out).unwrap();
    let job = Job::new();
    job.cancel();
    let e = bundle::collect(&dir.path().join("p.redub"), &out, &job).expect_err("cancelled");
    assert!(e.is_cancelled(), "{e}");
    assert_eq!(names(dir.path()), ["line.wav", "p.redub", "shot.mp4"]);
}
