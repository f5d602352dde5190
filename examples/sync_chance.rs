//! The chance distribution behind `redub sync-check`'s confidence, and how the dev clips'
//! own audio compares with wrong audio: for each clip in `../shared/media` (or the folder
//! given), its lip opening against its own audio (keeping the null windows: the same mouth
//! against the audio reversed and far shifted, each standardised as the confidence is), the
//! other clips' audio, and its own audio delayed by 0.5 s.
//!
//! `cargo run --release --example sync_chance [MEDIA_DIR]`

use redub::dsp::SAMPLE_RATE;
use redub::jobs::Job;
use redub::lipsync::sync::{LipMouth, SYNC_THRESHOLD_Z, Verdict};
use redub::media::decode_audio;
use std::path::PathBuf;

const CLIPS: [&str; 6] = [
    "v1_retalking_face2.mp4",
    "v3_retalking_face5.mp4",
    "v4_sadtalker_WDA_KatieHill_000.mp4",
    "v6_retalking_face4.mp4",
    "v7_voxceleb_00015.mp4",
    "v8_voxceleb_00086.mp4",
];

fn quantile(sorted: &[f32], q: f64) -> f32 {
    let i = ((sorted.len().saturating_sub(1)) as f64 * q).round() as usize;
    sorted.get(i).copied().unwrap_or(f32::NAN)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let media = std::env::args().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/media"),
        PathBuf::from,
    );
    let audio: Vec<Vec<f32>> = CLIPS
        .iter()
        .map(|c| decode_audio(&media.join(c), Some(1)).map(|s| s.samples))
        .collect::<Result<_, _>>()?;
    let job = Job::new();
    for with_change in [false, true] {
        println!("== signal: {}", if with_change { "opening+change" } else { "opening" });
        let mut null = Vec::new();
        println!(
            "clip | own z (offset) | best wrong z (audio) | wrong z all | own +0.5 s: z (offset), verdict | analysis mouth motion"
        );
        for (i, clip) in CLIPS.iter().enumerate() {
            let mouth = LipMouth::measure(&media.join(clip), &job)?;
            let own = mouth.check(&audio[i], with_change);
            null.extend_from_slice(&own.null_z);
            let wrong: Vec<(f32, &str)> = CLIPS
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(j, c)| (mouth.check(&audio[j], with_change).confidence, *c))
                .collect();
            let best =
                wrong.iter().copied().fold((f32::MIN, ""), |a, b| if b.0 > a.0 { b } else { a });
            let d = (0.5 * f64::from(SAMPLE_RATE)) as usize;
            let n = audio[i].len();
            let delayed: Vec<f32> = std::iter::repeat_n(0.0, d.min(n))
                .chain(audio[i][..n - d.min(n)].iter().copied())
                .collect();
            let late = mouth.check(&delayed, with_change);
            // The analysis's mouth-motion energy, for comparison (not the sync-check signal).
            let motion = |a: &[f32]| {
                redub::lipsync::sync::sync_offset(
                    &mouth.mouth_energy,
                    &mouth.envelope(a),
                    mouth.fps,
                    15,
                )
                .confidence
            };
            let wrong_motion = (0..CLIPS.len())
                .filter(|j| *j != i)
                .map(|j| motion(&audio[j]))
                .fold(f32::MIN, f32::max);
            let all: Vec<String> = wrong.iter().map(|(z, _)| format!("{z:.2}")).collect();
            println!(
                "{clip} | {:.2} ({:+}, {:?}) | {:.2} ({}) | {} | {:.2} ({:+}, {:?}) | motion own {:.2}, best wrong {:.2}",
                own.confidence,
                own.offset_frames,
                Verdict::of(&own, mouth.fps),
                best.0,
                best.1,
                all.join(" "),
                late.confidence,
                late.offset_frames,
                Verdict::of(&late, mouth.fps),
                motion(&audio[i]),
                wrong_motion
            );
        }
        null.sort_by(f32::total_cmp);
        let above = null.iter().filter(|z| **z >= SYNC_THRESHOLD_Z).count();
        println!(
            "chance (null windows of the six clips, n = {}): 95% {:.2}, 99% {:.2}, 99.9% {:.2}, max {:.2}; at or above {SYNC_THRESHOLD_Z}: {above} ({:.2}%)",
            null.len(),
            quantile(&null, 0.95),
            quantile(&null, 0.99),
            quantile(&null, 0.999),
            null.last().copied().unwrap_or(f32::NAN),
            100.0 * above as f64 / null.len().max(1) as f64
        );
    }
    Ok(())
}
