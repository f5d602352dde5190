//! Render-farm renders (#18): the Open Job Description template run locally with `openjd run`,
//! the GNU parallel script run locally, the Slurm script checked; pieces compared with a
//! single-machine export of the same lip-edited project (a 3 s range of a shared clip).

mod common;

use redub::media::{self, VideoDecoder};
use redub::model::Time;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A lip-edited project on the first 3 s of shared clip v3 (a dub bound to its face), saved as
/// `dir/film.redub`.
fn project(media: &Path, dir: &Path) -> PathBuf {
    let video = media.join("v3_retalking_face5.mp4");
    let dub = dir.join("dub.wav");
    common::espeak("We choose to go there soon, because it is hard.", "en-us", &dub);
    let mut p = common::dub_project(&video, &dub, Some(0));
    p.timeline.duration = Time::from_millis(3000);
    let path = dir.join("film.redub");
    p.save(&path).unwrap();
    // Unattended farm steps edit only faces with recorded consent.
    let o = common::redub(&["plan", s(&path)]);
    assert!(!o.status.success(), "a plan of an unconsented face is refused");
    let why = common::stderr(&o);
    assert!(why.contains("face 0") && why.contains("redub faces consent"), "{why}");
    run_ok(&[
        "faces",
        "consent",
        s(&path),
        "--face",
        "0",
        "--name",
        "Test face",
        "--by",
        "farm test",
    ]);
    path
}

fn run_ok(args: &[&str]) -> String {
    let o = common::redub(args);
    assert!(o.status.success(), "redub {args:?}: {}", common::stderr(&o));
    common::stdout(&o)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Every frame of a file as decoded, in the stream's own Y'CbCr (the pictures as coded; the
/// RGB conversion for display would amplify chroma differences).
fn coded_frames(path: &Path) -> Vec<std::sync::Arc<media::Frame>> {
    let mut dec = VideoDecoder::open_i420(path, 0).unwrap();
    let n = dec.frame_count();
    (0..n).map(|i| dec.frame(i).unwrap()).collect()
}

/// PSNR (dB) over all the frames' samples; infinite when identical.
fn psnr(a: &[std::sync::Arc<media::Frame>], b: &[std::sync::Arc<media::Frame>]) -> f64 {
    let (mut se, mut n) = (0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        for (p, q) in x.data.iter().zip(&y.data) {
            let d = f64::from(*p) - f64::from(*q);
            se += d * d;
        }
        n += x.data.len() as f64;
    }
    if se == 0.0 { f64::INFINITY } else { 10.0 * (255.0f64 * 255.0 / (se / n)).log10() }
}

/// Checks a joined film against the single-machine export: frame count, duration, pictures
/// (PSNR at least `min_db`, or identical for `f64::INFINITY`) and sound samples (identical).
fn same_as_single(joined: &Path, single: &Path, min_db: f64) {
    let (a, b) = (media::probe(joined).unwrap(), media::probe(single).unwrap());
    let (va, vb) = (a.video.unwrap(), b.video.unwrap());
    assert_eq!(va.frame_count, vb.frame_count, "frame count");
    assert_eq!(a.duration, b.duration, "duration");
    let (fa, fb) = (coded_frames(joined), coded_frames(single));
    assert_eq!(fa.len(), fb.len(), "decoded frames");
    let db = psnr(&fa, &fb);
    println!(
        "{}: {} frames, PSNR {db:.1} dB against the single export",
        joined.display(),
        fa.len()
    );
    assert!(db >= min_db, "PSNR {db:.2} dB < {min_db}");
    let (sa, sb) = (
        media::decode_audio(joined, Some(2)).unwrap().samples,
        media::decode_audio(single, Some(2)).unwrap().samples,
    );
    assert_eq!(sa.len(), sb.len(), "sound length");
    assert!(sa == sb, "sound samples differ");
}

/// `python3 -m openjd` from the pinned install (`REDUB_OPENJD_PYTHONPATH`, exported by
/// packaging/setup.sh), or `None` after skipping.
fn openjd(test: &str) -> Option<Command> {
    let make = || {
        let mut c = Command::new("python3");
        if let Ok(p) = std::env::var("REDUB_OPENJD_PYTHONPATH") {
            c.env("PYTHONPATH", p).env("PYTHONNOUSERSITE", "1");
        }
        c.args(["-m", "openjd"]);
        c
    };
    match make().arg("--version").output() {
        Ok(o) if o.status.success() => Some(make()),
        _ => {
            common::skip(
                test,
                "openjd-cli is not importable; run packaging/setup.sh deps and export \
                 REDUB_OPENJD_PYTHONPATH",
            );
            None
        }
    }
}

#[test]
fn openjd_job_matches_a_single_export_and_pieces_are_reproducible() {
    let test = "openjd_job_matches_a_single_export";
    let Some(media) = common::media_and_models(test) else { return };
    let Some(mut ojd) = openjd(test) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let proj = project(&media, dir);
    let single = dir.join("single.mp4");
    run_ok(&["render", s(&proj), "-o", s(&single), "--allow-unconsented"]);

    // A template's default paths must stay in its folder: the job file beside the project holds
    // them all; one elsewhere is run with its parameter file.
    let elsewhere = dir.join("jobs/job.yaml");
    std::fs::create_dir_all(dir.join("jobs")).unwrap();
    let said = run_ok(&["farm", s(&proj), "-o", s(&elsewhere)]);
    assert!(said.contains("--job-param file://"), "{said}");
    let params = std::fs::read_to_string(dir.join("jobs/job.params.json")).unwrap();
    assert!(params.contains("film.redub"), "{params}");
    let job = dir.join("job.yaml");
    let film = dir.join("farm.mp4");
    run_ok(&["farm", s(&proj), "--pieces", "4", "-o", s(&job), "--render-to", s(&film)]);
    let text = std::fs::read_to_string(&job).unwrap();
    assert!(text.contains("specificationVersion: 'jobtemplate-2023-09'"));
    for step in ["Plan", "Render", "Audio", "Concat"] {
        assert!(text.contains(&format!("- name: {step}\n")), "step {step}");
    }
    let out = ojd.arg("run").arg(&job).output().unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "openjd run: {log}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(log.contains("Session ended successfully"), "{log}");
    same_as_single(&film, &single, 45.0);

    // A piece run again (a retried task) writes the same bytes.
    let pieces = dir.join("film-pieces");
    let first = std::fs::read(pieces.join("piece-1.mp4")).unwrap();
    let again = dir.join("again.mp4");
    run_ok(&["render", s(&proj), "--piece", "--part", "1/4", "-o", s(&again)]);
    assert!(std::fs::read(&again).unwrap() == first, "a piece rendered twice differs");

    // Gaps and overlaps are refused.
    let p = |k: u32| pieces.join(format!("piece-{k}.mp4"));
    let sound = pieces.join("sound.m4a");
    let out_bad = dir.join("bad.mp4");
    let gap = common::redub(&[
        "concat",
        s(&proj),
        s(&p(0)),
        s(&p(1)),
        s(&p(3)),
        "--audio",
        s(&sound),
        "-o",
        s(&out_bad),
    ]);
    assert_eq!(gap.status.code(), Some(1));
    assert!(common::stderr(&gap).contains("missing"), "{}", common::stderr(&gap));
    let twice = common::redub(&[
        "concat",
        s(&proj),
        s(&p(0)),
        s(&p(1)),
        s(&again),
        s(&p(2)),
        s(&p(3)),
        "-o",
        s(&out_bad),
    ]);
    assert_eq!(twice.status.code(), Some(1));
    assert!(common::stderr(&twice).contains("overlaps"), "{}", common::stderr(&twice));
    assert!(!out_bad.exists());

    // After a change to the project, the old pieces (and the old plan) are refused.
    let mut changed = redub::model::Project::load(&proj).unwrap();
    changed.timeline.dub_tracks[0].clips[0].position = Time::from_millis(300);
    changed.save(&proj).unwrap();
    let stale = common::redub(&[
        "concat",
        s(&proj),
        s(&p(0)),
        s(&p(1)),
        s(&p(2)),
        s(&p(3)),
        "--audio",
        s(&sound),
        "-o",
        s(&out_bad),
    ]);
    assert_eq!(stale.status.code(), Some(1));
    let msg = common::stderr(&stale);
    assert!(msg.contains("another plan or version of the project"), "{msg}");
    let old_plan =
        common::redub(&["render", s(&proj), "--piece", "--part", "0/4", "-o", s(&again)]);
    assert_eq!(old_plan.status.code(), Some(1));
    assert!(common::stderr(&old_plan).contains("out of date"), "{}", common::stderr(&old_plan));
    assert!(!out_bad.exists());
}

#[test]
fn prores_pieces_join_bit_identical() {
    let test = "prores_pieces_join_bit_identical";
    let Some(media) = common::media_and_models(test) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let proj = project(&media, dir);
    let single = dir.join("single.mov");
    run_ok(&["render", s(&proj), "-o", s(&single), "--allow-unconsented"]);
    run_ok(&["plan", s(&proj)]);
    let mut pieces = Vec::new();
    for k in 0..3 {
        let piece = dir.join(format!("p{k}.mov"));
        run_ok(&["render", s(&proj), "--piece", "--part", &format!("{k}/3"), "-o", s(&piece)]);
        pieces.push(piece);
    }
    let sound = dir.join("sound.mov");
    run_ok(&["render", s(&proj), "--audio-only", "-o", s(&sound)]);
    let film = dir.join("film.mov");
    let mut args = vec!["concat", s(&proj)];
    args.extend(pieces.iter().rev().map(|p| s(p))); // any order
    args.extend(["--audio", s(&sound), "-o", s(&film)]);
    run_ok(&args);
    same_as_single(&film, &single, f64::INFINITY);
}

#[test]
fn parallel_script_matches_and_slurm_script_is_sound() {
    let test = "parallel_script_matches";
    let Some(media) = common::media_and_models(test) else { return };
    if Command::new("parallel").arg("--version").output().is_err() {
        common::skip(test, "GNU parallel is not installed (packaging/setup.sh deps installs it)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let proj = project(&media, dir);
    let single = dir.join("single.mp4");
    run_ok(&["render", s(&proj), "-o", s(&single), "--allow-unconsented"]);

    let slurm = dir.join("job-slurm.sh");
    run_ok(&["farm", s(&proj), "--pieces", "4", "--format", "slurm", "-o", s(&slurm)]);
    let syntax = Command::new("bash").arg("-n").arg(&slurm).output().unwrap();
    assert!(syntax.status.success(), "{}", String::from_utf8_lossy(&syntax.stderr));
    let text = std::fs::read_to_string(&slurm).unwrap();
    assert!(text.contains("--array=0-3 --dependency=afterok:$plan"), "{text}");
    assert!(text.contains("--dependency=afterok:$render:$audio"), "{text}");
    assert!(text.contains("--piece --part \"$SLURM_ARRAY_TASK_ID/$PIECES\""), "{text}");
    // sbatch reads its directives only before the first command.
    let lines: Vec<&str> = text.lines().collect();
    let first_command = lines.iter().position(|l| !l.is_empty() && !l.starts_with('#')).unwrap();
    let last_directive = lines.iter().rposition(|l| l.starts_with("#SBATCH")).unwrap();
    assert!(last_directive < first_command);

    let script = dir.join("job-parallel.sh");
    let film = dir.join("parallel.mp4");
    run_ok(&[
        "farm",
        s(&proj),
        "--pieces",
        "4",
        "--format",
        "parallel",
        "-o",
        s(&script),
        "--render-to",
        s(&film),
    ]);
    let out = Command::new("bash").arg(&script).output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    same_as_single(&film, &single, 45.0);
    // The frames a piece holds are its share of the timeline.
    let frames = VideoDecoder::open(&dir.join("film-pieces/piece-0.mp4")).unwrap().frame_count();
    assert_eq!(frames, 75 / 4);
}

/// Runs `redub ARGS` with its caches under `cache`; stdout and stderr.
fn redub_in(cache: &Path, args: &[&str]) -> (String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_redub"))
        .args(args)
        .env("REDUB_CACHE_DIR", cache)
        .output()
        .unwrap();
    assert!(o.status.success(), "redub {args:?}: {}", common::stderr(&o));
    (common::stdout(&o), common::stderr(&o))
}

/// The parts of a clip's analysis (`analysis/*-partA-B.json`) stored under `cache`.
fn stored_parts(cache: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(cache.join("analysis"))
        .map(|r| {
            r.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains("-part") && n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// What of an analysis must not depend on how it was run: the tracks, cuts and frame count.
fn analysis_result(json: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    serde_json::json!([v["frame_count"], v["shot_cuts"], v["tracks"]])
}

#[test]
fn analysis_in_parts_resumes_after_a_kill_and_spreads_by_range() {
    let Some(media) = common::media_and_models("analysis_in_parts") else { return };
    // 132 frames of 224×224: parts of 20 frames (7 parts), then of 40 (4 parts).
    let video = media.join("v8_voxceleb_00086.mp4");
    let tmp = tempfile::tempdir().unwrap();
    let v = s(&video);
    let t0 = std::time::Instant::now();
    let (fresh, _) = redub_in(
        &tmp.path().join("unused"),
        &["analyze", v, "--json", "--no-cache", "--part-frames", "20"],
    );
    let fresh = analysis_result(&fresh);
    println!("uncached analysis: {:.2} s", t0.elapsed().as_secs_f64());

    // Killed once its first part is stored.
    let cache = tmp.path().join("cache");
    let mut child = Command::new(env!("CARGO_BIN_EXE_redub"))
        .args(["analyze", v, "--part-frames", "20"])
        .env("REDUB_CACHE_DIR", &cache)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while stored_parts(&cache).is_empty() && t0.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = stored_parts(&cache);
    println!("killed with {} part(s) stored: {kept:?}", kept.len());
    assert!(!kept.is_empty() && kept.len() < 7, "{kept:?}");
    let (said, _) = redub_in(&cache, &["analyze", v, "--part-frames", "20"]);
    println!("{said}");
    assert!(
        said.contains(&format!("7 parts, {} resumed from the cache", kept.len())),
        "the finished parts are not redone: {said}"
    );
    assert!(stored_parts(&cache).is_empty(), "the parts go once the whole is stored");
    let (resumed, _) = redub_in(&cache, &["analyze", v, "--json", "--part-frames", "20"]);
    assert_eq!(analysis_result(&resumed), fresh, "the resumed analysis is the same");

    // Spread by range over two runs sharing one cache folder.
    let (fresh40, _) = redub_in(
        &tmp.path().join("unused"),
        &["analyze", v, "--json", "--no-cache", "--part-frames", "40"],
    );
    let shared = tmp.path().join("shared");
    let (said, _) = redub_in(&shared, &["analyze", v, "--part-frames", "40", "--range", "0..60"]);
    println!("{said}");
    assert!(said.contains("2 computed, 0 already in the cache; 2 of 4 part(s)"), "{said}");
    assert!(!said.contains("whole analysis"), "{said}");
    let (said, _) = redub_in(&shared, &["analyze", v, "--part-frames", "40", "--range", "60..132"]);
    println!("{said}");
    assert!(said.contains("2 computed, 1 already in the cache; 4 of 4 part(s)"), "{said}");
    assert!(said.contains("the whole analysis is in the cache"), "{said}");
    let (merged, _) = redub_in(&shared, &["analyze", v, "--json", "--part-frames", "40"]);
    assert_eq!(analysis_result(&merged), analysis_result(&fresh40));
}

#[test]
fn a_piece_shows_its_eta_and_the_farm_bench_prints_the_cpu_ratio() {
    if !common::models_or_skip("farm_bench") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A generated 2 s shot with a dub line: no face, so no lip edit (cheap).
    let video = dir.join("shot.mp4");
    media::testsrc::write_bars_clip(&video, 50, 160, 90, redub::model::FrameRate::FPS_25, 440.0)
        .unwrap();
    let dub = dir.join("dub.wav");
    media::testsrc::write_wav(&dub, &vec![0.05f32; 48_000 * 2]).unwrap();
    let p = common::dub_project(&video, &dub, None);
    let proj = dir.join("p.redub");
    p.save(&proj).unwrap();
    let cache = dir.join("cache");
    redub_in(&cache, &["plan", s(&proj)]);
    let piece = dir.join("piece.mp4");
    let (_, err) =
        redub_in(&cache, &["render", s(&proj), "--piece", "--range", "0..25", "-o", s(&piece)]);
    println!("{err}");
    assert!(err.contains("frames 0..25: 100% (25/25)"), "{err}");
    assert!(err.contains(", ETA "), "{err}");

    let t0 = std::time::Instant::now();
    let (said, _) = redub_in(&cache, &["bench", "--farm", s(&proj), "--pieces", "2"]);
    println!("bench --farm: {:.2} s\n{said}", t0.elapsed().as_secs_f64());
    let ratio: f64 = said
        .split("CPU ratio farm/single: ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| panic!("no ratio: {said}"));
    assert!(ratio.is_finite() && ratio > 0.0, "{said}");
    assert!(said.contains("pieces") && said.contains("single export: CPU"), "{said}");
}
