//! Pitch-preserving time-stretch by WSOLA (waveform-similarity overlap-add), driven by a
//! piecewise-linear time map so one pass applies a whole DTW warp.
//!
//! Each output frame (30 ms Hann, 50 % overlap) copies the input frame near where the map says
//! it belongs, moved by up to ±10 ms to the position most similar to the natural continuation of
//! the previous frame; overlap-adding whole waveform periods keeps the pitch.

use crate::model::Warp;

/// A monotone piecewise-linear map between source and output sample positions.
#[derive(Clone, Debug, PartialEq)]
pub struct TimeMap {
    /// `(source, output)` in samples, strictly increasing in both.
    points: Vec<(f64, f64)>,
}

impl TimeMap {
    /// A map from `(source, output)` sample pairs; points that do not move forward in both are
    /// dropped. Fewer than two usable points give the identity over the first point.
    pub fn new(points: &[(f64, f64)]) -> Self {
        let mut kept: Vec<(f64, f64)> = Vec::with_capacity(points.len());
        for &(s, o) in points {
            if !(s.is_finite() && o.is_finite()) {
                continue;
            }
            match kept.last() {
                Some(&(ls, lo)) if s <= ls || o <= lo => {}
                _ => kept.push((s, o)),
            }
        }
        if kept.len() < 2 {
            let (s, o) = kept.first().copied().unwrap_or((0.0, 0.0));
            kept = vec![(s, o), (s + 1.0, o + 1.0)];
        }
        Self { points: kept }
    }

    /// One factor: output = source × `factor` over `source_len` samples.
    pub fn uniform(source_len: f64, factor: f64) -> Self {
        Self::new(&[(0.0, 0.0), (source_len.max(1.0), source_len.max(1.0) * factor.max(1e-3))])
    }

    /// A clip's warp at `rate` Hz.
    pub fn from_warp(warp: &Warp, rate: u32) -> Self {
        let pts: Vec<(f64, f64)> = warp
            .points
            .iter()
            .map(|p| {
                (
                    p.source.as_seconds_f64() * f64::from(rate),
                    p.output.as_seconds_f64() * f64::from(rate),
                )
            })
            .collect();
        Self::new(&pts)
    }

    /// The breakpoints.
    pub fn points(&self) -> &[(f64, f64)] {
        &self.points
    }

    /// Output length in samples (the last point's output).
    pub fn output_len(&self) -> f64 {
        self.points.last().map_or(0.0, |p| p.1)
    }

    /// Source position played at output position `o` (extrapolated along the end segments).
    pub fn output_to_source(&self, o: f64) -> f64 {
        lerp(&self.points, o, |p| (p.1, p.0))
    }

    /// Output position of source position `s`.
    pub fn source_to_output(&self, s: f64) -> f64 {
        lerp(&self.points, s, |p| (p.0, p.1))
    }
}

fn lerp(points: &[(f64, f64)], x: f64, key: impl Fn(&(f64, f64)) -> (f64, f64)) -> f64 {
    let i = points.partition_point(|p| key(p).0 <= x).clamp(1, points.len() - 1);
    let (x0, y0) = key(&points[i - 1]);
    let (x1, y1) = key(&points[i]);
    y0 + (y1 - y0) * (x - x0) / (x1 - x0)
}

/// WSOLA settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StretchConfig {
    /// Frame length in ms (longer than two pitch periods of a low voice).
    pub frame_ms: f32,
    /// How far a frame may move from its nominal place to match the waveform, in ms.
    pub tolerance_ms: f32,
}

impl Default for StretchConfig {
    fn default() -> Self {
        Self { frame_ms: 30.0, tolerance_ms: 10.0 }
    }
}

/// Stretches interleaved audio by one factor (output length = input length × `factor`).
pub fn stretch(interleaved: &[f32], channels: usize, rate: u32, factor: f64) -> Vec<f32> {
    let frames = interleaved.len() / channels.max(1);
    let map = TimeMap::uniform(frames as f64, factor);
    stretch_map(interleaved, channels, rate, &map, &StretchConfig::default())
}

/// Applies a time map to interleaved audio: output sample `o` plays source sample
/// `map.output_to_source(o)`, with the pitch kept. The output has `map.output_len()` frames.
pub fn stretch_map(
    interleaved: &[f32],
    channels: usize,
    rate: u32,
    map: &TimeMap,
    cfg: &StretchConfig,
) -> Vec<f32> {
    let ch = channels.max(1);
    let in_frames = interleaved.len() / ch;
    let out_frames = map.output_len().round().max(0.0) as usize;
    let mut out = vec![0.0f32; out_frames * ch];
    if in_frames == 0 || out_frames == 0 {
        return out;
    }
    let len = (((cfg.frame_ms * rate as f32 / 1000.0) as usize).max(16) / 2) * 2;
    let hop = len / 2;
    let tol = (cfg.tolerance_ms * rate as f32 / 1000.0) as i64;
    // Periodic Hann: at 50 % overlap the windows sum to exactly 1.
    let window: Vec<f32> = (0..len)
        .map(|i| 0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / len as f32).cos())
        .collect();
    let mono = super::measure::to_mono(interleaved, ch);
    // Coarse search on a 4× decimated copy, refined at full rate: ~20× less work.
    const DEC: usize = 4;
    let coarse: Vec<f32> =
        mono.chunks(DEC).map(|c| c.iter().sum::<f32>() / c.len() as f32).collect();
    let at = |x: &[f32], i: i64| if i >= 0 && (i as usize) < x.len() { x[i as usize] } else { 0.0 };
    let half = (len / 2) as i64;
    let mut prev: Option<i64> = None;
    let mut k = 0usize;
    loop {
        let centre_out = (k * hop) as i64;
        if centre_out - half >= out_frames as i64 {
            break;
        }
        let nominal = map.output_to_source(centre_out as f64).round() as i64;
        let chosen = match prev {
            None => nominal,
            Some(p) => {
                // The input that would naturally follow what was copied last.
                let target = p + hop as i64;
                if (target - nominal).abs() <= 1 {
                    target
                } else {
                    best_match(&mono, &coarse, DEC, target, nominal, tol, len, &at)
                }
            }
        };
        let start_out = centre_out - half;
        let start_in = chosen - half;
        for (n, w) in window.iter().enumerate() {
            let o = start_out + n as i64;
            if o < 0 || o as usize >= out_frames {
                continue;
            }
            let s = start_in + n as i64;
            if s < 0 || s as usize >= in_frames {
                continue;
            }
            let (o, s) = (o as usize * ch, s as usize * ch);
            for c in 0..ch {
                out[o + c] += w * interleaved[s + c];
            }
        }
        prev = Some(chosen);
        k += 1;
    }
    out
}

/// Source centre within `nominal ± tol` whose frame best matches the frame centred at `target`.
#[allow(clippy::too_many_arguments)]
fn best_match(
    mono: &[f32],
    coarse: &[f32],
    dec: usize,
    target: i64,
    nominal: i64,
    tol: i64,
    len: usize,
    at: &dyn Fn(&[f32], i64) -> f32,
) -> i64 {
    let half = (len / 2) as i64;
    let score = |x: &[f32], a: i64, b: i64, n: i64, step: i64| -> f32 {
        // Normalised cross-correlation of the frames starting at a and b.
        let (mut ab, mut bb) = (0.0f32, 0.0f32);
        let mut i = 0;
        while i < n {
            let (va, vb) = (at(x, a + i), at(x, b + i));
            ab += va * vb;
            bb += vb * vb;
            i += step;
        }
        if bb > 0.0 { ab / bb.sqrt() } else { 0.0 }
    };
    let d = dec as i64;
    let (ct, cn, ctol, chalf) = (target / d, nominal / d, tol / d, half / d);
    let mut best = (f32::MIN, cn);
    for c in cn - ctol..=cn + ctol {
        let s = score(coarse, ct - chalf, c - chalf, 2 * chalf, 1);
        if s > best.0 {
            best = (s, c);
        }
    }
    let rough = best.1 * d;
    let mut fine = (f32::MIN, rough);
    for c in (rough - d).max(nominal - tol)..=(rough + d).min(nominal + tol) {
        let s = score(mono, target - half, c - half, len as i64, 2);
        if s > fine.0 {
            fine = (s, c);
        }
    }
    fine.1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(freq: f32, secs: f32) -> Vec<f32> {
        (0..(secs * 48_000.0) as usize)
            .map(|i| 0.5 * (std::f32::consts::TAU * freq * i as f32 / 48_000.0).sin())
            .collect()
    }

    #[test]
    fn identity_map_reproduces_the_input() {
        let x = tone(220.0, 0.5);
        let y = stretch(&x, 1, 48_000, 1.0);
        assert_eq!(y.len(), x.len());
        let err = x
            .iter()
            .zip(&y)
            .skip(1000)
            .take(20_000)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 1e-4, "{err}");
    }

    #[test]
    fn stretched_tone_keeps_its_frequency_and_gets_the_new_length() {
        let x = tone(220.0, 1.0);
        for factor in [0.8, 1.25] {
            let y = stretch(&x, 1, 48_000, factor);
            assert_eq!(y.len(), (48_000.0 * factor).round() as usize);
            let mid = &y[4800..y.len() - 4800];
            let a = super::super::measure::tone_amplitude(mid, 48_000, 220.0);
            assert!(a > 0.45, "factor {factor}: amplitude at 220 Hz {a}");
        }
    }

    #[test]
    fn time_map_interpolates_and_inverts() {
        let m = TimeMap::new(&[(0.0, 0.0), (100.0, 150.0), (200.0, 200.0), (150.0, 300.0)]);
        assert_eq!(m.points().len(), 3);
        assert_eq!(m.output_to_source(75.0), 50.0);
        assert_eq!(m.source_to_output(150.0), 175.0);
        assert_eq!(m.output_len(), 200.0);
    }
}
