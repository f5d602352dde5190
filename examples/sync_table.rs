//! Validation of `redub sync-check`'s measure on variants of real clips whose right answer is
//! known: `cargo run --release --example sync_table -- [--unrelated AUDIO]... [--edited
//! RENDER DUB ORIGINAL]... CLIP...`. For each clip it prints, as a Markdown table, the offset
//! (frames) and confidence (z against chance) of the mouth against:
//! - its own audio (expected 0 ± 1);
//! - its audio delayed by −6, −3, +3, +6 frames (expected: the own-audio offset plus the
//!   delay, ± 1; the own offset is the face's lead or lag, often a frame);
//! - the first and second halves of the clip alone (expected: the own-audio offset ± 1);
//! - the clip played backwards, picture and sound (expected: minus the own-audio offset ± 1);
//! - every unrelated audio and the other clips' audio (expected: no clear peak, confidence
//!   near 0 and below the own audio's).
//!
//! Each `--edited` render is measured against its dub (expected 0 ± 1) and against the
//! original clip's audio (expected: lower confidence).

use redub::analysis::mouth::shape::FileMouth;
use redub::dsp::SAMPLE_RATE;
use redub::lipsync::sync::{SyncReport, audio_envelope, sync_offset_multi};
use redub::media::decode_audio;
use std::path::{Path, PathBuf};

/// Searched lags, as in `redub sync-check`.
const MAX_LAG: i32 = 15;

/// Mono samples of a file's audio at [`SAMPLE_RATE`].
fn mono(path: &Path) -> Result<Vec<f32>, Box<dyn std::error::Error>> {
    Ok(decode_audio(path, Some(1))?.samples)
}

/// The measure on features (per frame) and sound.
fn check(features: &[Vec<f32>], sound: &[f32], fps: f64) -> SyncReport {
    let frames = features.first().map_or(0, Vec::len);
    let env = audio_envelope(sound, SAMPLE_RATE, fps, frames);
    let f: Vec<&[f32]> = features.iter().map(Vec::as_slice).collect();
    sync_offset_multi(&f, &env, fps, MAX_LAG)
}

/// `sound` delayed by `frames` video frames (negative: advanced), same length, silence padded.
fn delayed(sound: &[f32], frames: i32, fps: f64) -> Vec<f32> {
    let d = (f64::from(frames.unsigned_abs()) / fps * f64::from(SAMPLE_RATE)).round() as usize;
    let d = d.min(sound.len());
    if frames >= 0 {
        let mut v = vec![0.0; d];
        v.extend_from_slice(&sound[..sound.len() - d]);
        v
    } else {
        let mut v = sound[d..].to_vec();
        v.resize(sound.len(), 0.0);
        v
    }
}

/// The features of the clip played backwards. Level features are reversed; motion features
/// (change since the previous frame: the last two of [`FileMouth::features`]) move by a frame,
/// since frame t of the reversed clip follows what was frame t + 1.
fn reversed(features: &[Vec<f32>]) -> Vec<Vec<f32>> {
    let motion_from = features.len().saturating_sub(2);
    features
        .iter()
        .enumerate()
        .map(|(k, f)| {
            let n = f.len();
            if k < motion_from {
                f.iter().rev().copied().collect()
            } else {
                (0..n).map(|t| if t == 0 { 0.0 } else { f[n - t] }).collect()
            }
        })
        .collect()
}

fn row(clip: &str, variant: &str, expected: &str, r: &SyncReport, ok: Option<bool>) {
    let mark = match ok {
        Some(true) => "ok",
        Some(false) => "**no**",
        None => "",
    };
    println!(
        "| {clip} | {variant} | {expected} | {:+} | {:.2} | {mark} |",
        r.offset_frames, r.confidence
    );
}

fn name(p: &Path) -> String {
    p.file_name().unwrap_or_default().to_string_lossy().into_owned()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut clips, mut unrelated, mut edited) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(a) = args.next() {
        match a.as_str() {
            "--unrelated" => unrelated.push(PathBuf::from(args.next().ok_or("--unrelated FILE")?)),
            "--edited" => {
                let mut next =
                    || args.next().map(PathBuf::from).ok_or("--edited RENDER DUB ORIGINAL");
                edited.push((next()?, next()?, next()?));
            }
            _ => clips.push(PathBuf::from(a)),
        }
    }
    println!("| clip | variant | expected offset | offset | confidence | ok |");
    println!("|---|---|---|---|---|---|");
    let mut chance = Vec::new();
    for clip in &clips {
        let c = name(clip);
        let mouth = FileMouth::measure(clip)?;
        let (fps, n) = (mouth.fps, mouth.frames);
        let features = mouth.features();
        let sound = mono(clip)?;
        let own = check(&features, &sound, fps);
        row(&c, "own audio", "0", &own, Some(own.offset_frames.abs() <= 1));
        // The measure's own lead or lag on this face (mouths often move a frame or two before
        // the sound) carries over to the shifted audio: the shift is judged from it.
        for d in [-6, -3, 3, 6] {
            let r = check(&features, &delayed(&sound, d, fps), fps);
            let want = own.offset_frames + d;
            row(
                &c,
                &format!("audio delayed {d:+} frames"),
                &format!("{d:+} (own {:+} → {want:+})", own.offset_frames),
                &r,
                Some((r.offset_frames - want).abs() <= 1),
            );
        }
        let half = n / 2;
        let samples_at =
            |frame: usize| ((frame as f64 / fps) * f64::from(SAMPLE_RATE)).round() as usize;
        for (label, a, b) in [("first half", 0, half), ("second half", half, n)] {
            let f: Vec<Vec<f32>> = features.iter().map(|f| f[a..b].to_vec()).collect();
            let s = &sound[samples_at(a).min(sound.len())..samples_at(b).min(sound.len())];
            let r = check(&f, s, fps);
            let want = own.offset_frames;
            row(&c, label, &format!("own {want:+}"), &r, Some((r.offset_frames - want).abs() <= 1));
        }
        let mut back = sound[..samples_at(n).min(sound.len())].to_vec();
        back.reverse();
        // Played backwards, a mouth that leads its sound by a frame lags it by a frame.
        let r = check(&reversed(&features), &back, fps);
        let want = -own.offset_frames;
        row(
            &c,
            "played backwards",
            &format!("−own {want:+}"),
            &r,
            Some((r.offset_frames - want).abs() <= 1),
        );
        let others: Vec<&PathBuf> = clips.iter().filter(|o| *o != clip).collect();
        for audio in unrelated.iter().chain(others) {
            let r = check(&features, &mono(audio)?, fps);
            chance.push(r.confidence);
            row(
                &c,
                &format!("unrelated: {}", name(audio)),
                "none",
                &r,
                Some(r.confidence < own.confidence),
            );
        }
    }
    for (render, dub, original) in &edited {
        let mouth = FileMouth::measure(render)?;
        let features = mouth.features();
        let vs_dub = check(&features, &mono(dub)?, mouth.fps);
        let vs_orig = check(&features, &mono(original)?, mouth.fps);
        let r = name(render);
        row(
            &r,
            &format!("vs dub {}", name(dub)),
            "0",
            &vs_dub,
            Some(vs_dub.offset_frames.abs() <= 1),
        );
        row(
            &r,
            "vs original audio",
            "lower",
            &vs_orig,
            Some(vs_orig.confidence < vs_dub.confidence),
        );
    }
    if !chance.is_empty() {
        let m = chance.iter().sum::<f32>() / chance.len() as f32;
        let hi = chance.iter().copied().fold(f32::MIN, f32::max);
        println!(
            "\nunrelated audio: {} pairs, confidence mean {m:.2}, highest {hi:.2}",
            chance.len()
        );
    }
    Ok(())
}
