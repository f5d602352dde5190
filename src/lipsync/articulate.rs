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

/// Zero mean, unit variance.
fn standardise(x: &[f32]) -> Vec<f32> {
    let n = x.len().max(1) as f32;
    let m = x.iter().sum::<f32>() / n;
    let sd = (x.iter().map(|v| (v - m).powi(2)).sum::<f32>() / n).sqrt().max(1e-6);
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
                let sd = |v: &mut dyn Iterator<Item = f32>| {
                    let v: Vec<f32> = v.collect();
                    let mu = v.iter().sum::<f32>() / v.len().max(1) as f32;
                    (v.iter().map(|a| (a - mu).powi(2)).sum::<f32>() / v.len().max(1) as f32).sqrt()
                };
                let truth = sd(&mut y.iter().map(|v| v[o]));
                let pred = sd(&mut held.iter().map(|v| v[o]));
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
