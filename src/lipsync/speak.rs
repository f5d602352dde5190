//! The plan that makes the mouth say the dub (see [`super::articulate`]): measured lip shapes
//! of the shot, the actor's sound → shape map, the wanted shape of every edited frame, and the
//! bank chosen by shape. Where the dub pauses over the actor's original speech the mouth rests.

use super::articulate::{
    Articulator, OpeningModel, frame_descriptors, loudness, rest_shape, select_by_shape,
};
use super::bank::{Bank, SelectParams};
use super::engine::{Look, Planned, finish_plan};
use crate::analysis::lip_shapes::track_shapes_where;
use crate::analysis::track::FaceTrack;
use crate::dsp::SAMPLE_RATE;
use crate::dsp::vad::{VadConfig, detect_speech};
use crate::jobs::Job;
use crate::model::Time;
use std::path::Path;

/// What [`plan_by_shape`] needs of one bound dub track.
pub struct ShapeInputs<'a> {
    /// The shot.
    pub video: &'a Path,
    /// The bound face.
    pub face: &'a FaceTrack,
    /// The actor's mouths.
    pub bank: &'a Bank,
    /// The sound filmed with the shot, mono 48 kHz from its first frame.
    pub original: &'a [f32],
    /// The track's dub dialogue, mono 48 kHz, timeline-aligned.
    pub dub: &'a [f32],
    /// Frames per second.
    pub fps: f64,
    /// Frames planned.
    pub frames: usize,
    /// Per frame: the dub speaks there and its segment is edited (the mouth says the dub).
    pub speak: &'a [bool],
    /// Per frame: inside one of the dub's speech segments (edited or not).
    pub dub_speech: &'a [bool],
    /// Per frame: whether the plan learns from it (see [`super::sample::learning_frames`]): the
    /// lips are measured there only.
    pub learn: &'a [bool],
    /// Per frame: the original dialogue is replaced there by this track (see the caller).
    pub replaced: &'a [bool],
    /// Looks of the bank entries.
    pub entry_looks: &'a [Option<Look>],
    /// Looks of the target frames.
    pub target_looks: &'a [Option<Look>],
    /// Progress and cancel of the lip shape measurement.
    pub job: &'a Job,
    /// Shot frames the plan must not learn from nor take mouths from (evaluation).
    pub held_out: Option<std::ops::Range<i64>>,
}

/// A plan by shape.
pub struct Shaped {
    /// Per frame, the mouth chosen.
    pub plan: Vec<Option<Planned>>,
    /// Where the mouth rests (dub silent over original speech), in timeline time.
    pub rest_spans: Vec<(Time, Time)>,
}

/// Speaking frames either side whose predicted shapes are averaged into a frame's wanted shape
/// (`REDUB_ART_SMOOTH` overrides). Off: ±1 moved the held-out halves' opening correlation by
/// +0.01 (within noise) and made the edited v1 follow a human dub less than its replaced sound
/// in `sync-check` (tests/lip_sync.rs).
pub const SMOOTH_RADIUS: usize = 0;

/// Index of the inner upper lip (mesh point 13) and lower lip (14) in a shape vector: the
/// outer contour's 20 points come first, then the inner contour's.
const INNER_UPPER: usize = 20 + 15;
const INNER_LOWER: usize = 20 + 5;

/// The inner-lip opening of a shape vector (x, y pairs).
pub fn shape_opening(s: &[f32]) -> f32 {
    let p =
        |k: usize| [s.get(2 * k).copied().unwrap_or(0.0), s.get(2 * k + 1).copied().unwrap_or(0.0)];
    let (a, b) = (p(INNER_UPPER), p(INNER_LOWER));
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Per frame, whether the speech detector hears speech in `mono` (48 kHz, from frame 0).
fn speech_frames(mono: &[f32], fps: f64, frames: usize) -> Vec<bool> {
    let mut out = vec![false; frames];
    for s in detect_speech(mono, SAMPLE_RATE, &VadConfig::default()) {
        let a = (s.start as f64 / f64::from(SAMPLE_RATE) * fps).floor().max(0.0) as usize;
        let b = (s.end as f64 / f64::from(SAMPLE_RATE) * fps).ceil().max(0.0) as usize;
        for f in out.iter_mut().take(b.min(frames)).skip(a) {
            *f = true;
        }
    }
    out
}

/// Wanted shapes of speaking frames averaged over ±`radius` speaking frames (the per-frame
/// prediction is noisy; lips move smoothly).
fn smooth_spoken(
    wanted: &[Option<Vec<f32>>],
    speak: &[bool],
    radius: usize,
) -> Vec<Option<Vec<f32>>> {
    let is = |j: usize| speak.get(j).copied().unwrap_or(false);
    wanted
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let w = w.as_ref()?;
            if !is(i) {
                return Some(w.clone());
            }
            let lo = i.saturating_sub(radius);
            let hi = (i + radius).min(wanted.len() - 1);
            let near: Vec<&Vec<f32>> =
                (lo..=hi).filter(|&j| is(j)).filter_map(|j| wanted[j].as_ref()).collect();
            let n = near.len() as f32;
            Some((0..w.len()).map(|o| near.iter().map(|v| v[o]).sum::<f32>() / n).collect())
        })
        .collect()
}

/// Plans a dub track by lip shape. `None` when the lips of the shot cannot be measured (the
/// lip-landmark model is missing, or too few frames show the face): the caller falls back to
/// the loudness-driven plan.
pub fn plan_by_shape(inp: &ShapeInputs<'_>) -> Option<Shaped> {
    inp.job.set_stage("measuring lip shapes");
    let shapes = match track_shapes_where(inp.video, inp.face, inp.job, Some(inp.learn)) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(
                "lip shapes of {}: {e}; the mouth follows the dub's loudness",
                inp.video.display()
            );
            return None;
        }
    };
    let mut shapes = shapes;
    shapes.resize(inp.frames, None);
    if let Some(h) = &inp.held_out {
        for (i, s) in shapes.iter_mut().enumerate() {
            if h.contains(&(i as i64)) {
                *s = None;
            }
        }
    }
    let original = frame_descriptors(inp.original, SAMPLE_RATE, inp.fps, inp.frames);
    let dub = frame_descriptors(inp.dub, SAMPLE_RATE, inp.fps, inp.frames);
    let articulator = Articulator::learn(&original, &shapes)?;
    let original_speech = speech_frames(inp.original, inp.fps, inp.frames);
    let silent: Vec<bool> = original_speech.iter().map(|s| !s).collect();
    let rest = rest_shape(&shapes, &silent, shape_opening)?;
    let face_at = |i: usize| inp.face.at(i as i64).is_some();
    let mut wanted: Vec<Option<Vec<f32>>> = (0..inp.frames)
        .map(|i| {
            let get = |v: &[bool]| v.get(i).copied().unwrap_or(false);
            if get(inp.speak) {
                Some(articulator.predict(&dub, i))
            } else if !get(inp.dub_speech)
                && get(&original_speech)
                && get(inp.replaced)
                && face_at(i)
            {
                Some(rest.clone())
            } else {
                None
            }
        })
        .collect();
    // How open the mouth is follows the dub's loudness as much as the learned map (the map,
    // learned from seconds of one shot, is surer of the shape than of the opening).
    if let Some(model) = OpeningModel::learn(&shapes, &original_speech, shape_opening) {
        let speaking: Vec<usize> =
            (0..inp.frames).filter(|&i| inp.speak.get(i).copied().unwrap_or(false)).collect();
        model.blend_loudness(&mut wanted, &speaking, &loudness(&dub), shape_opening);
    }
    let smooth: usize = std::env::var("REDUB_ART_SMOOTH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SMOOTH_RADIUS);
    let wanted = if smooth > 0 { smooth_spoken(&wanted, inp.speak, smooth) } else { wanted };
    let entry_shapes: Vec<Option<Vec<f32>>> = inp
        .bank
        .entries
        .iter()
        .map(|e| shapes.get(usize::try_from(e.frame).ok()?).cloned().flatten())
        .collect();
    let look = |t: usize, e: usize| match (inp.target_looks.get(t), inp.entry_looks.get(e)) {
        (Some(Some(a)), Some(Some(b))) => a.cost(b),
        _ => 0.0,
    };
    let chosen = select_by_shape(inp.bank, &entry_shapes, &wanted, SelectParams::from_env(), look);
    // Rest spans: runs of frames that rest, as timeline times (frame edges at half frames).
    let resting: Vec<bool> = (0..inp.frames)
        .map(|i| wanted[i].is_some() && !inp.speak.get(i).copied().unwrap_or(false))
        .collect();
    let rest_spans = crate::dsp::agreement::runs(&resting)
        .into_iter()
        .map(|(a, b)| {
            (
                Time::from_seconds_f64(((a as f64) - 0.5).max(0.0) / inp.fps),
                Time::from_seconds_f64((b as f64 + 0.5) / inp.fps),
            )
        })
        .collect();
    Some(Shaped { plan: finish_plan(inp.bank, chosen), rest_spans })
}
