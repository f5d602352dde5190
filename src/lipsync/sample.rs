//! Which frames of a long shot the lip plan learns from: the mouth bank, the measured lip shapes
//! and the sound → shape map need a few minutes of the actor speaking, not every frame of an
//! hour-long take. Past [`LEARN_SECONDS`] of usable face the plan learns from evenly spaced
//! stretches of the shot, so building the bank and measuring the lips costs the same for a
//! ten-minute shot as for a two-minute one (issue 22, item 7); shorter shots are learned whole,
//! exactly as before.

use super::engine::{TrackFrame, usable};

/// Seconds of usable face the plan learns from at most (`REDUB_LEARN_SECONDS` overrides it for
/// comparisons). Two minutes is several times the footage the sample clips' figures were
/// measured on (`redub eval reconstruct`: a 3× longer bank raised the leave-out score from 0.35
/// to 0.66), and bounds the one-off cost of a shot's bank and lip shapes.
pub const LEARN_SECONDS: f64 = 120.0;

/// Length of one learned stretch: long enough to keep a few syllables of filmed continuity
/// (the bank's free natural successors, the map's sound context), short enough that the
/// stretches cover the whole shot's range of poses, light and speech.
pub const STRETCH_SECONDS: f64 = 2.0;

/// The learning budget in seconds: `REDUB_LEARN_SECONDS` when set to a positive number, else
/// [`LEARN_SECONDS`].
pub fn learn_seconds() -> f64 {
    std::env::var("REDUB_LEARN_SECONDS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
        .unwrap_or(LEARN_SECONDS)
}

/// Per frame of `track`: whether the plan learns from it. All usable frames when they fit in
/// `budget_s` seconds at `fps`; else stretches of [`STRETCH_SECONDS`] of consecutive usable
/// frames, one from the middle of each of equal parts of the usable frames, together within the
/// budget (stretches of face-less footage are skipped, not counted).
pub fn learning_frames(track: &[Option<TrackFrame>], fps: f64, budget_s: f64) -> Vec<bool> {
    let usable_at: Vec<usize> = (0..track.len()).filter(|&i| usable(track[i]).is_some()).collect();
    let budget = (budget_s * fps).round().max(1.0) as usize;
    if usable_at.len() <= budget {
        return track.iter().map(|t| usable(*t).is_some()).collect();
    }
    let n = usable_at.len();
    let stretch = ((STRETCH_SECONDS * fps).round() as usize).clamp(1, budget);
    let parts = budget / stretch;
    let mut out = vec![false; track.len()];
    for p in 0..parts {
        // Each part holds at least `stretch` usable frames, since n > parts × stretch.
        let (lo, hi) = (p * n / parts, (p + 1) * n / parts);
        let start = ((lo + hi) / 2).saturating_sub(stretch / 2).clamp(lo, hi - stretch);
        for &i in &usable_at[start..start + stretch] {
            out[i] = true;
        }
    }
    out
}

/// `track` with the frames outside `learn` left out (what the bank is built from).
pub fn learned_track(track: &[Option<TrackFrame>], learn: &[bool]) -> Vec<Option<TrackFrame>> {
    track
        .iter()
        .enumerate()
        .map(|(i, tf)| tf.filter(|_| learn.get(i).copied().unwrap_or(false)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::mouth_patch::canonical;

    fn track(n: usize, gap: impl Fn(usize) -> bool) -> Vec<Option<TrackFrame>> {
        (0..n)
            .map(|i| (!gap(i)).then_some(TrackFrame { landmarks: canonical(), score: 0.99 }))
            .collect()
    }

    #[test]
    fn a_short_shot_is_learned_whole() {
        let t = track(500, |i| (100..120).contains(&i));
        let learn = learning_frames(&t, 25.0, 120.0);
        assert_eq!(learn.iter().filter(|&&l| l).count(), 480);
        assert!(learn.iter().zip(&t).all(|(l, tf)| *l == tf.is_some()));
    }

    #[test]
    fn a_long_shot_is_learned_from_spread_stretches_within_the_budget() {
        // Ten minutes at 25 fps with a face-less minute in the middle.
        let t = track(15000, |i| (7000..8500).contains(&i));
        let learn = learning_frames(&t, 25.0, 120.0);
        let taken: Vec<usize> = (0..t.len()).filter(|&i| learn[i]).collect();
        assert_eq!(taken.len(), 3000);
        assert!(taken.iter().all(|&i| t[i].is_some()), "only usable frames");
        // The stretches span the shot: the first in its first tenth, the last in its last.
        assert!(taken[0] < 1500 && *taken.last().unwrap() > 13500);
        // They come in runs of two seconds (filmed continuity), 60 of them, none in the gap.
        let runs = taken.windows(2).filter(|w| w[1] != w[0] + 1).count() + 1;
        assert_eq!(runs, 60);
        // The same budget for an hour: the same number of frames.
        let hour = track(90000, |_| false);
        let n = learning_frames(&hour, 25.0, 120.0).iter().filter(|&&l| l).count();
        assert_eq!(n, 3000);
        let kept = learned_track(&t, &learn);
        assert_eq!(kept.iter().flatten().count(), taken.len());
    }
}
