//! Mouth shapes that say the dub.
//!
//! The actor's own shot teaches how their mouth moves with their voice: for every frame of the
//! shot we know the sound around it (the original dialogue) and the lip shape filmed (Face Mesh
//! lip contours, pose-normalised). A ridge regression from a window of speaker-normalised audio
//! features (±[`CONTEXT_FRAMES`] video frames of MFCCs and speech-band loudness) to the lip shape is learned at plan time
//! from the shot alone, with its penalty chosen by cross-validation over contiguous blocks.
//! The dub's audio, normalised the same way over its own speech, then gives a wanted lip shape
//! per frame, and the bank mouths are chosen in shape space (Viterbi: nearest shapes, filmed
//! runs free, jumps priced by how unlike the two mouths look).
//!
//! Normalising each track's features over its own speech (mean and variance of every MFCC
//! coefficient) removes most of what differs between two voices and two recordings (vocal
//! tract length, channel, level), so the mapping learned on the actor's voice carries over to
//! another speaker or language.

use crate::dsp::mfcc::{Features, MfccConfig, MfccExtractor};
use crate::dsp::ridge::Ridge;

/// Video frames of audio context either side of a frame (the mouth moves ahead of the sound it
/// makes, and a syllable spans several frames).
pub const CONTEXT_FRAMES: i64 = 3;

/// Ridge penalties tried (per sample, on standardised inputs).
const LAMBDAS: [f64; 7] = [0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0];

/// Cross-validation blocks.
const FOLDS: usize = 5;

/// Fewest frames with a measured shape to learn from.
pub const MIN_TRAINING_FRAMES: usize = 20;

/// Per video frame, the speaker-normalised MFCCs of a track's audio (mono, `rate` Hz) around
/// the frame's time (pooled over the frame's duration).
pub fn frame_descriptors(mono: &[f32], rate: u32, fps: f64, frames: usize) -> Vec<Vec<f32>> {
    let extractor = MfccExtractor::new(MfccConfig::speech(rate));
    let mut mfcc = extractor.mfcc(mono);
    normalise_over_speech(&mut mfcc);
    let half = 0.5 / fps.max(1.0);
    // The speech-band loudness as its own feature: how open the mouth is follows it closely,
    // and MFCCs hold it only spread over c0 and the spectral tilt.
    let envelope = standardise(&super::sync::audio_envelope(mono, rate, fps, frames));
    (0..frames)
        .map(|i| {
            let mut v = mfcc.pool(i as f64 / fps, half);
            v.push(envelope.get(i).copied().unwrap_or(0.0));
            v
        })
        .collect()
}

/// Per frame, the speech-band loudness of [`frame_descriptors`] (standardised over the track).
pub fn loudness(descriptors: &[Vec<f32>]) -> Vec<f32> {
    descriptors.iter().map(|d| d.last().copied().unwrap_or(0.0)).collect()
}

/// Zero mean, unit variance.
fn standardise(x: &[f32]) -> Vec<f32> {
    let (m, sd) = mean_sd(x);
    let sd = sd.max(1e-6);
    x.iter().map(|v| (v - m) / sd).collect()
}

/// Mean and variance normalisation of every coefficient over the frames that carry speech
/// (c0, the log energy, above a threshold between the quiet and loud ends of the track), so
/// pauses do not weigh on the statistics; silence keeps its low energy relative to speech.
fn normalise_over_speech(f: &mut Features) {
    let n = f.len();
    if n == 0 || f.dim == 0 {
        return;
    }
    let mut c0: Vec<f32> = (0..n).map(|i| f.frame(i)[0]).collect();
    c0.sort_by(f32::total_cmp);
    let q = |p: f32| c0[((n - 1) as f32 * p).round() as usize];
    let threshold = q(0.1) + 0.4 * (q(0.95) - q(0.1));
    let speech: Vec<usize> = (0..n).filter(|&i| f.frame(i)[0] >= threshold).collect();
    let frames: &[usize] = if speech.len() >= 10 { &speech } else { &[] };
    let all: Vec<usize> = (0..n).collect();
    let frames = if frames.is_empty() { &all[..] } else { frames };
    let dim = f.dim;
    for d in 0..dim {
        let m = frames.iter().map(|&i| f64::from(f.data[i * dim + d])).sum::<f64>()
            / frames.len() as f64;
        let v = frames.iter().map(|&i| (f64::from(f.data[i * dim + d]) - m).powi(2)).sum::<f64>()
            / frames.len() as f64;
        let s = if v > 1e-12 { 1.0 / v.sqrt() } else { 0.0 };
        for i in 0..n {
            let x = &mut f.data[i * dim + d];
            *x = ((f64::from(*x) - m) * s) as f32;
        }
    }
}

/// The descriptors of frames `i − CONTEXT_FRAMES ..= i + CONTEXT_FRAMES`, concatenated (edges
/// repeat the first or last frame).
pub fn context(descriptors: &[Vec<f32>], i: usize) -> Vec<f32> {
    let last = descriptors.len().saturating_sub(1) as i64;
    (-CONTEXT_FRAMES..=CONTEXT_FRAMES)
        .flat_map(|o| {
            let j = (i as i64 + o).clamp(0, last) as usize;
            descriptors.get(j).map(Vec::as_slice).unwrap_or(&[]).iter().copied()
        })
        .collect()
}

/// The learned sound → lip-shape map of one face.
#[derive(Clone, Debug)]
pub struct Articulator {
    ridge: Ridge,
    /// Mean shape of the training frames.
    mean: Vec<f32>,
    /// Per output: how much to widen the prediction's spread about the mean so it matches the
    /// filmed shapes' spread (ridge shrinks toward the mean; a mouth that only ever half opens
    /// is the failure this prevents).
    gain: Vec<f32>,
}

impl Articulator {
    /// Learns from the shot: `descriptors[i]` of the original audio at frame `i` and the
    /// filmed lip shape there (`None` where not measured). `None` with fewer than
    /// [`MIN_TRAINING_FRAMES`] measured frames.
    pub fn learn(descriptors: &[Vec<f32>], shapes: &[Option<Vec<f32>>]) -> Option<Self> {
        let rows: Vec<(Vec<f32>, &Vec<f32>)> = shapes
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((context(descriptors, i), s.as_ref()?)))
            .filter(|(x, _)| !x.is_empty())
            .collect();
        if rows.len() < MIN_TRAINING_FRAMES {
            return None;
        }
        let x: Vec<&[f32]> = rows.iter().map(|(x, _)| x.as_slice()).collect();
        let y: Vec<&[f32]> = rows.iter().map(|(_, y)| y.as_slice()).collect();
        let ridge = Ridge::fit_cv(&x, &y, &LAMBDAS, FOLDS)?;
        let m = y[0].len();
        let n = y.len() as f32;
        let mean: Vec<f32> = (0..m).map(|o| y.iter().map(|v| v[o]).sum::<f32>() / n).collect();
        // The spread of held-out predictions against the filmed spread, per output.
        let held = held_out_predictions(&x, &y, ridge.lambda);
        let gain = (0..m)
            .map(|o| {
                let sd = |v: Vec<f32>| mean_sd(&v).1;
                let truth = sd(y.iter().map(|v| v[o]).collect());
                let pred = sd(held.iter().map(|v| v[o]).collect());
                if pred > 1e-6 { (truth / pred).clamp(1.0, 3.0) } else { 1.0 }
            })
            .collect();
        Some(Self { ridge, mean, gain })
    }

    /// The wanted lip shape at frame `i` of a track whose descriptors are `descriptors`.
    pub fn predict(&self, descriptors: &[Vec<f32>], i: usize) -> Vec<f32> {
        let p = self.ridge.predict(&context(descriptors, i));
        p.iter().zip(&self.mean).zip(&self.gain).map(|((p, m), g)| m + (p - m) * g).collect()
    }

    /// The ridge penalty chosen.
    pub fn lambda(&self) -> f64 {
        self.ridge.lambda
    }
}

/// Predictions of each contiguous block by a fit on the others (for calibration).
fn held_out_predictions(x: &[&[f32]], y: &[&[f32]], lambda: f64) -> Vec<Vec<f32>> {
    let n = x.len();
    let mut out = vec![Vec::new(); n];
    for f in 0..FOLDS {
        let (lo, hi) = (f * n / FOLDS, (f + 1) * n / FOLDS);
        let keep = |i: &usize| *i < lo || *i >= hi;
        let tx: Vec<&[f32]> = (0..n).filter(keep).map(|i| x[i]).collect();
        let ty: Vec<&[f32]> = (0..n).filter(keep).map(|i| y[i]).collect();
        if let Some(model) = Ridge::fit(&tx, &ty, lambda) {
            for (i, slot) in out.iter_mut().enumerate().take(hi).skip(lo) {
                *slot = model.predict(x[i]);
            }
        }
    }
    out.into_iter().zip(y).map(|(p, y)| if p.is_empty() { y.to_vec() } else { p }).collect()
}

/// Squared distance of two shapes over the mean squared spread of the bank's shapes (`scale`):
/// about 2 between two unrelated mouths of the actor, the audio distance's scale.
pub fn shape_cost(a: &[f32], b: &[f32], scale: f32) -> f32 {
    let d: f32 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum();
    d / scale.max(1e-9)
}

/// The mean squared distance of shapes from their mean (the spread [`shape_cost`] divides by).
pub fn shape_spread(shapes: &[&[f32]]) -> f32 {
    let Some(first) = shapes.first() else { return 1.0 };
    let m = first.len();
    let n = shapes.len() as f32;
    let mean: Vec<f32> = (0..m).map(|o| shapes.iter().map(|s| s[o]).sum::<f32>() / n).collect();
    shapes.iter().map(|s| shape_cost(s, &mean, 1.0)).sum::<f32>() / n
}

/// What a frame of the plan asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// Keep the filmed mouth (no dub speech, no original speech, or no face).
    Keep,
    /// Say the dub's sound at this frame.
    Speak,
    /// Rest: the dub is silent where the actor spoke in the original.
    Rest,
}

/// Chooses a bank entry per frame by lip shape. `entry_shapes[e]` is bank entry `e`'s filmed
/// lip shape (`None`: not measured, never chosen); `wanted[i]` the shape wanted at frame `i`
/// (`None`: keep the filmed mouth); `look(i, e)` an extra per-frame cost (pose, lighting). The
/// path is smoothed by the bank's Viterbi (filmed runs free, jumps priced by how unlike the two
/// mouths look).
pub fn select_by_shape(
    bank: &super::bank::Bank,
    entry_shapes: &[Option<Vec<f32>>],
    wanted: &[Option<Vec<f32>>],
    params: super::bank::SelectParams,
    look: impl Fn(usize, usize) -> f32,
) -> Vec<Option<usize>> {
    let measured: Vec<&[f32]> = entry_shapes.iter().flatten().map(Vec::as_slice).collect();
    let scale = shape_spread(&measured);
    // The audio distance is switched off (empty targets): the shape cost is the per-entry cost.
    let targets: Vec<Option<Vec<f32>>> =
        wanted.iter().map(|w| w.as_ref().map(|_| Vec::new())).collect();
    let extra = |t: usize, e: usize| -> f32 {
        let shape = match (wanted.get(t), entry_shapes.get(e)) {
            (Some(Some(w)), Some(Some(s))) => SHAPE_WEIGHT * shape_cost(w, s, scale),
            _ => UNMEASURED_COST,
        };
        shape + look(t, e)
    };
    bank.select_with(&targets, params, extra)
}

/// Share of a speaking frame's wanted opening that follows the dub's loudness rather than the
/// learned map (see [`OpeningModel::blend_loudness`]): the two predictors weigh equally.
///
/// The map is learned from a few seconds of one shot, so it is right about the mouth's shape
/// but noisy about how open it is; loudness knows nothing of shape but tracks how open a
/// speaking mouth is in any voice. On `eval reconstruct` halves of the six sample clips, the
/// wanted opening alone correlated 0.38 with the truth, the dub's loudness alone 0.40, and the
/// even mix 0.55 (decided on v1, v3, v4 and v7: 0.56; v6 and v8, held out: 0.46 and 0.62).
pub const LOUDNESS_SHARE: f32 = 0.5;

/// How the actor's lip shape changes with the mouth's opening, learned from the shot: the
/// opening's mean and spread over the frames where the actor speaks, and the shape change per
/// unit of opening (a regression of every shape coordinate on the opening, over every measured
/// frame).
#[derive(Clone, Debug)]
pub struct OpeningModel {
    mean: f32,
    spread: f32,
    direction: Vec<f32>,
}

impl OpeningModel {
    /// `None` with fewer than [`MIN_TRAINING_FRAMES`] measured frames or a mouth that never
    /// moves.
    pub fn learn(
        shapes: &[Option<Vec<f32>>],
        speech: &[bool],
        opening: impl Fn(&[f32]) -> f32,
    ) -> Option<Self> {
        let measured: Vec<(&Vec<f32>, f32, bool)> = shapes
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let s = s.as_ref()?;
                Some((s, opening(s), speech.get(i).copied().unwrap_or(false)))
            })
            .collect();
        if measured.len() < MIN_TRAINING_FRAMES {
            return None;
        }
        let spoken: Vec<f32> = measured.iter().filter(|m| m.2).map(|m| m.1).collect();
        let all: Vec<f32> = measured.iter().map(|m| m.1).collect();
        let (mean, spread) =
            mean_sd(if spoken.len() >= MIN_TRAINING_FRAMES { &spoken } else { &all });
        let (all_mean, all_sd) = mean_sd(&all);
        if spread < 1e-6 || all_sd < 1e-6 {
            return None;
        }
        let dim = measured[0].0.len();
        let n = measured.len() as f32;
        let mut centre = vec![0.0f32; dim];
        for (s, _, _) in &measured {
            for (c, v) in centre.iter_mut().zip(s.iter()) {
                *c += v / n;
            }
        }
        let mut direction = vec![0.0f32; dim];
        for (s, o, _) in &measured {
            let w = (o - all_mean) / (n * all_sd * all_sd);
            for ((d, v), c) in direction.iter_mut().zip(s.iter()).zip(&centre) {
                *d += w * (v - c);
            }
        }
        Some(Self { mean, spread, direction })
    }

    /// Moves each wanted shape of `frames` (the speaking frames of one dub) along the
    /// opening direction so that its opening becomes the mix of the learned one and the dub's
    /// `loudness` there, each standardised over these frames, the mix given this model's
    /// mean and spread ([`LOUDNESS_SHARE`] of it from the loudness). Fewer than three frames,
    /// or a flat loudness or prediction: unchanged.
    pub fn blend_loudness(
        &self,
        wanted: &mut [Option<Vec<f32>>],
        frames: &[usize],
        loudness: &[f32],
        opening: impl Fn(&[f32]) -> f32,
    ) {
        let rows: Vec<(usize, f32, f32)> = frames
            .iter()
            .filter_map(|&i| {
                let w = wanted.get(i)?.as_ref()?;
                Some((i, opening(w), *loudness.get(i)?))
            })
            .collect();
        if rows.len() < 3 {
            return;
        }
        let (pm, ps) = mean_sd(&rows.iter().map(|r| r.1).collect::<Vec<_>>());
        let (lm, ls) = mean_sd(&rows.iter().map(|r| r.2).collect::<Vec<_>>());
        if ps < 1e-6 || ls < 1e-6 {
            return;
        }
        let mixed: Vec<f32> = rows
            .iter()
            .map(|r| (1.0 - LOUDNESS_SHARE) * (r.1 - pm) / ps + LOUDNESS_SHARE * (r.2 - lm) / ls)
            .collect();
        let (mm, ms) = mean_sd(&mixed);
        if ms < 1e-6 {
            return;
        }
        for ((i, now, _), m) in rows.iter().zip(&mixed) {
            let target = self.mean + self.spread * (m - mm) / ms;
            if let Some(Some(w)) = wanted.get_mut(*i) {
                for (v, d) in w.iter_mut().zip(&self.direction) {
                    *v += (target - now) * d;
                }
            }
        }
    }
}

/// Mean and standard deviation.
fn mean_sd(x: &[f32]) -> (f32, f32) {
    let n = x.len().max(1) as f32;
    let m = x.iter().sum::<f32>() / n;
    (m, (x.iter().map(|v| (v - m).powi(2)).sum::<f32>() / n).sqrt())
}

/// Weight of the shape distance (in units of the bank's shape spread) against the jump cost.
pub const SHAPE_WEIGHT: f32 = 2.0;

/// Cost of a bank entry whose shape was not measured: never preferred to a measured one.
const UNMEASURED_COST: f32 = 1e3;

/// The actor's rest mouth: the mean of the least open half of the shot's frames where the
/// original is silent (`silent[i]`; a pause starts and ends with the mouth still closing or
/// opening, so its settled half is the rest), or of the least open tenth of all frames when the
/// shot has no pause.
pub fn rest_shape(
    shapes: &[Option<Vec<f32>>],
    silent: &[bool],
    opening: impl Fn(&[f32]) -> f32,
) -> Option<Vec<f32>> {
    let by_opening = |v: &mut Vec<&Vec<f32>>| v.sort_by(|a, b| opening(a).total_cmp(&opening(b)));
    let quiet: Vec<&Vec<f32>> =
        shapes.iter().zip(silent).filter_map(|(s, q)| s.as_ref().filter(|_| *q)).collect();
    let (mut pool, share) =
        if quiet.len() >= 10 { (quiet, 2) } else { (shapes.iter().flatten().collect(), 10) };
    by_opening(&mut pool);
    pool.truncate(pool.len().div_ceil(share));
    let first = pool.first()?;
    let n = pool.len() as f32;
    Some((0..first.len()).map(|o| pool.iter().map(|s| s[o]).sum::<f32>() / n).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rest_mouth_is_the_settled_half_of_the_pauses() {
        // Shapes are one number, the opening. Pauses: 12 frames closing from 0.5 to 0.1 and
        // settled at 0.1; speech frames wide open.
        let open = |s: &[f32]| s[0];
        let pause = [0.5, 0.4, 0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1];
        let mut shapes: Vec<Option<Vec<f32>>> = pause.iter().map(|o| Some(vec![*o])).collect();
        let mut silent = vec![true; pause.len()];
        shapes.extend((0..20).map(|_| Some(vec![0.8])));
        silent.extend([false; 20]);
        let rest = rest_shape(&shapes, &silent, open).unwrap();
        assert!((rest[0] - 0.1).abs() < 1e-6, "{rest:?}");
        // No pause: the least open tenth of all frames.
        let shapes: Vec<Option<Vec<f32>>> = (0..30).map(|i| Some(vec![i as f32])).collect();
        let rest = rest_shape(&shapes, &[false; 30], open).unwrap();
        assert!((rest[0] - 1.0).abs() < 1e-6, "{rest:?}");
        assert!(rest_shape(&[None, None], &[true, true], open).is_none());
    }

    #[test]
    fn the_wanted_opening_mixes_the_map_and_the_loudness() {
        // Shapes: (opening, width); the width grows with the opening. The actor speaks with
        // openings 0.2..0.59 (mean 0.395).
        let open = |s: &[f32]| s[0];
        let shapes: Vec<Option<Vec<f32>>> =
            (0..40).map(|i| Some(vec![0.2 + 0.01 * i as f32, 1.0 + 0.005 * i as f32])).collect();
        let model = OpeningModel::learn(&shapes, &[true; 40], open).unwrap();
        // The map wants the same mouth everywhere but one frame; the loudness rises.
        let mut wanted: Vec<Option<Vec<f32>>> = (0..10).map(|_| Some(vec![0.3, 1.05])).collect();
        wanted[9] = Some(vec![0.35, 1.075]);
        wanted.push(None);
        let loud: Vec<f32> = (0..11).map(|i| i as f32).collect();
        let frames: Vec<usize> = (0..11).collect();
        model.blend_loudness(&mut wanted, &frames, &loud, open);
        let o: Vec<f32> = wanted.iter().flatten().map(|w| w[0]).collect();
        assert_eq!(o.len(), 10);
        // Openings now rise with the loudness, centred on the actor's speaking mean, and the
        // width follows the opening as in the shot.
        assert!(o.windows(2).all(|p| p[1] > p[0]), "{o:?}");
        let mean = o.iter().sum::<f32>() / 10.0;
        assert!((mean - 0.395).abs() < 1e-3, "{mean}");
        for w in wanted.iter().flatten() {
            assert!((w[1] - (1.0 + 0.5 * (w[0] - 0.2))).abs() < 1e-3, "{w:?}");
        }
        assert!(wanted[10].is_none());
        // A flat loudness changes nothing.
        let mut same: Vec<Option<Vec<f32>>> =
            (0..5).map(|i| Some(vec![0.3 + 0.01 * i as f32, 1.0])).collect();
        let before = same.clone();
        model.blend_loudness(&mut same, &[0, 1, 2, 3, 4], &[1.0; 5], open);
        assert_eq!(same, before);
    }

    #[test]
    fn context_repeats_the_edges() {
        let d: Vec<Vec<f32>> = (0..5).map(|i| vec![i as f32]).collect();
        assert_eq!(context(&d, 0), vec![0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0]);
        assert_eq!(context(&d, 4), vec![1.0, 2.0, 3.0, 4.0, 4.0, 4.0, 4.0]);
    }

    #[test]
    fn an_articulator_learns_a_delayed_opening_and_keeps_its_spread() {
        // Sound "energy" e(t); the mouth opens with the energy two frames later.
        let n: usize = 300;
        let energy: Vec<f32> =
            (0..n).map(|i| ((i as f32 * 0.31).sin() + (i as f32 * 0.07).cos()).max(0.0)).collect();
        let descriptors: Vec<Vec<f32>> =
            energy.iter().enumerate().map(|(i, e)| vec![*e, ((i * 7919) % 13) as f32]).collect();
        let shapes: Vec<Option<Vec<f32>>> = (0..n)
            .map(|i| (i % 17 != 0).then(|| vec![0.3 * energy[i.saturating_sub(2)], 1.0]))
            .collect();
        let a = Articulator::learn(&descriptors, &shapes).unwrap();
        let pred: Vec<f32> = (0..n).map(|i| a.predict(&descriptors, i)[0]).collect();
        let truth: Vec<f32> = (0..n).map(|i| 0.3 * energy[i.saturating_sub(2)]).collect();
        let r = crate::dsp::measure::correlation(&pred[5..], &truth[5..]);
        assert!(r > 0.95, "{r}");
        // Too few frames: nothing learned.
        assert!(Articulator::learn(&descriptors[..10], &shapes[..10]).is_none());
    }

    #[test]
    fn speech_normalisation_makes_a_louder_copy_alike() {
        let tone: Vec<f32> = (0..48_000)
            .map(|i| {
                let t = i as f32 / 48_000.0;
                let on = if (t * 4.0).fract() < 0.5 { 1.0 } else { 0.0 };
                // A recording's noise floor scales with its gain, like the speech.
                let noise = 0.002 * (((i as u64 * 2_654_435_761) % 1000) as f32 / 500.0 - 1.0);
                on * 0.2 * (t * 2.0 * std::f32::consts::PI * 220.0).sin() + noise
            })
            .collect();
        let loud: Vec<f32> = tone.iter().map(|v| v * 4.0).collect();
        let a = frame_descriptors(&tone, 48_000, 25.0, 25);
        let b = frame_descriptors(&loud, 48_000, 25.0, 25);
        let diff: f32 = a
            .iter()
            .zip(&b)
            .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
            .sum::<f32>()
            / (25.0 * a[0].len() as f32);
        assert!(diff < 0.05, "{diff}");
    }
}
