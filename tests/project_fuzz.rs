//! Deterministic mutation fuzzing of the project loader (issue 22): no project text panics the
//! loader or asks for a huge allocation, and whatever loads also renders its first frame without
//! a panic or a huge allocation (a clear error is allowed: a mutated media path, say). A short
//! run is part of the suite; the ignored test runs 10⁶ loads and prints how long they took.

mod common;

use common::Rng;
use redub::jobs::Job;
use redub::media::testsrc::{write_bars_clip, write_wav};
use redub::model::{FrameRate, MediaKind, Preset, Project, Time};
use redub::render::export::{RenderOptions, render_project};
use serde_json::Value;
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The largest single allocation a load or a first-frame render may ask for. Above it the
/// allocator refuses, and the process aborts naming the size: the test fails loudly.
const HUGE: usize = 1 << 30;

/// The system allocator, refusing requests above [`HUGE`] and remembering the largest request.
struct Guard;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Guard {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        if layout.size() > HUGE {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        if new_size > HUGE {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Guard = Guard;

/// Numbers that break arithmetic: zero, signs, the integer limits, huge and tiny floats, 24 h
/// and just past it in ticks (705 600 000 a second).
fn extreme(rng: &mut Rng) -> Value {
    let ints: [i64; 12] = [
        0,
        1,
        -1,
        i64::MAX,
        i64::MIN,
        1 << 62,
        -(1 << 62),
        705_600_000,
        86_400 * 705_600_000,
        86_401 * 705_600_000,
        i64::from(u32::MAX),
        i64::from(i32::MAX) + 1,
    ];
    match rng.below(4) {
        0 => Value::from(u64::MAX),
        1 => Value::from([1e308, -1e308, 1e-308, 0.5, -0.5, 1e9, 65_536.5][rng.below(7)]),
        _ => Value::from(ints[rng.below(ints.len())]),
    }
}

/// All the places in `v` (paths of keys and indices).
fn places(v: &Value, at: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, c) in m {
                at.push(k.clone());
                places(c, at, out);
                at.pop();
            }
        }
        Value::Array(a) => {
            for (i, c) in a.iter().enumerate() {
                at.push(i.to_string());
                places(c, at, out);
                at.pop();
            }
        }
        _ => {}
    }
}

fn node<'a>(v: &'a mut Value, at: &[String]) -> Option<&'a mut Value> {
    at.iter().try_fold(v, |v, k| match v {
        Value::Object(m) => m.get_mut(k),
        Value::Array(a) => k.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
        _ => None,
    })
}

/// One to three structural mutations of the project's JSON, or a cut of its text.
fn mutate(rng: &mut Rng, seed: &Value) -> String {
    let mut v = seed.clone();
    for _ in 0..1 + rng.below(3) {
        let mut all = Vec::new();
        places(&v, &mut Vec::new(), &mut all);
        let at = &all[rng.below(all.len())];
        let Some(n) = node(&mut v, at) else { continue };
        match rng.below(8) {
            0..=2 => *n = extreme(rng),
            3 => {
                *n = [Value::Null, Value::from(true), Value::from("x"), Value::from(vec![0; 3])]
                    [rng.below(4)]
                .clone()
            }
            4 => {
                if let Value::Object(m) = n
                    && !m.is_empty()
                {
                    let k = m.keys().nth(rng.below(m.len())).cloned().unwrap_or_default();
                    m.remove(&k);
                }
            }
            5 => {
                if let Value::Array(a) = n
                    && !a.is_empty()
                {
                    // Repeated entries: duplicate ids, overlapping clips.
                    let c = a[rng.below(a.len())].clone();
                    for _ in 0..1 + rng.below(3) {
                        a.push(c.clone());
                    }
                }
            }
            6 => {
                if let Some(x) = n.as_i64() {
                    *n = Value::from(x.wrapping_add([1, -1, 1000, -1000][rng.below(4)]));
                }
            }
            _ => {
                if let Value::String(s) = n {
                    *s = ["", "../../../../dev/zero", "/dev/null", "\u{0}", "é"][rng.below(5)]
                        .to_string();
                }
            }
        }
    }
    let text = serde_json::to_string(&v).unwrap_or_default();
    if rng.below(16) == 0 {
        let cut = rng.below(text.len() + 1);
        text.char_indices().take_while(|(i, _)| *i < cut).map(|(_, c)| c).collect()
    } else {
        text
    }
}

/// A 2 s shot (a tone), a 1 s dub line on a dub track, two markers and an export range, saved
/// as `p.redub` in `dir`. Returns the project path.
fn seed_project(dir: &Path) -> PathBuf {
    let shot = dir.join("shot.mp4");
    write_bars_clip(&shot, 50, 160, 120, FrameRate::FPS_25, 440.0).unwrap();
    let line = dir.join("line.wav");
    let tone: Vec<f32> = (0..48_000).flat_map(|i| [0.1 * (i as f32 * 0.05).sin(); 2]).collect();
    write_wav(&line, &tone).unwrap();
    let mut p = Project::new("fuzz", FrameRate::FPS_25);
    let v = p.add_media(&shot, MediaKind::Video, Time::from_seconds_f64(2.0)).unwrap();
    p.timeline.video.media = Some(v);
    p.timeline.original_audio.media = Some(v);
    p.timeline.duration = Time::from_seconds_f64(2.0);
    let a = p.add_media(&line, MediaKind::Audio, Time::from_seconds_f64(1.0)).unwrap();
    let t = p.add_dub_track("Dub 1");
    p.add_clip(t, a, Time::from_millis(500)).unwrap();
    for (s, name) in [(0.2, "A"), (1.5, "B")] {
        p.timeline
            .markers
            .push(redub::model::Marker { time: Time::from_seconds_f64(s), name: name.into() });
    }
    p.export.range = Some((Time::ZERO, Time::from_seconds_f64(1.0)));
    let path = dir.join("p.redub");
    p.save(&path).unwrap();
    path
}

/// Renders the first frame of a loaded project to an MP4 in `dir`: it may fail with a message,
/// never panic.
fn render_first_frame(p: &Project, dir: &Path) -> Result<(), String> {
    let rate = p.timeline.frame_rate;
    let opts = RenderOptions::new(
        Preset::Mp4,
        dir.join("first.mp4"),
        Some((Time::ZERO, rate.frame_to_time(1))),
    );
    render_project(p, dir, &opts, &Job::new(), |_| {}).map(|_| ()).map_err(|e| e.to_string())
}

/// Loads `runs` mutants; renders the first frame of up to `renders` distinct ones that load.
/// Returns (loaded, rendered, render errors).
fn fuzz(runs: usize, renders: usize) -> (usize, usize, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let path = seed_project(dir.path());
    let seed: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut rng = Rng(0x05ee_d0f2_ed0b);
    let (mut loaded, mut rendered, mut errors) = (0, 0, Vec::new());
    let mut seen = std::collections::HashSet::new();
    for _ in 0..runs {
        let text = mutate(&mut rng, &seed);
        let Ok(p) = Project::from_json(&text, &path) else { continue };
        loaded += 1;
        p.validate().expect("what loads is valid");
        let frames = p.timeline.frame_rate.time_to_frame(p.timeline.duration);
        assert!((0..=86_400 * 1_000).contains(&frames), "frame count {frames} of a loaded project");
        if rendered < renders && seen.insert(text.clone()) {
            rendered += 1;
            if std::env::var_os("FUZZ_SHOW").is_some() {
                eprintln!("RENDER {text}");
            }
            if let Err(e) = render_first_frame(&p, dir.path()) {
                errors.push(e);
            }
        }
    }
    (loaded, rendered, errors)
}

#[test]
fn the_loader_survives_mutated_projects_and_what_loads_renders() {
    let (loaded, rendered, errors) = fuzz(3_000, 40);
    let largest = LARGEST.load(Ordering::Relaxed);
    println!(
        "3000 mutants: {loaded} loaded, {rendered} first frames rendered ({} with an error), \
         largest allocation {} MiB",
        errors.len(),
        largest >> 20
    );
    for e in errors.iter().take(5) {
        println!("  render error: {e}");
    }
    assert!(loaded >= 300, "enough mutants load to test the renderer ({loaded})");
    assert!(rendered == 40);
    // Most mutants that load keep their media and render; an error is a message, never empty.
    assert!(errors.len() * 2 < rendered, "{errors:#?}");
    assert!(errors.iter().all(|e| !e.trim().is_empty()));
    assert!(largest <= HUGE);
}

#[test]
#[ignore = "long: 10^6 loads; run with --ignored --nocapture"]
fn the_loader_survives_a_million_mutated_projects() {
    let began = std::time::Instant::now();
    let (loaded, rendered, errors) = fuzz(1_000_000, 200);
    println!(
        "10^6 mutants in {:.0} s: {loaded} loaded, {rendered} rendered ({} errors), largest \
         allocation {} MiB",
        began.elapsed().as_secs_f64(),
        errors.len(),
        LARGEST.load(Ordering::Relaxed) >> 20
    );
    assert!(errors.len() * 2 < rendered, "{errors:#?}");
}
