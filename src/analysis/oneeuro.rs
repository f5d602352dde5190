//! The One Euro filter (Casiez, Roussel, Vogel, CHI 2012): a low-pass whose cutoff rises with the
//! signal's speed, so a still landmark stops jittering while a fast one (a mouth opening at a
//! speech onset) is followed without lag.

use std::f32::consts::TAU;

/// Filter settings, in the units of the filtered value per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OneEuroParams {
    /// Cutoff (Hz) when the value is still: lower = less jitter.
    pub min_cutoff: f32,
    /// How fast the cutoff rises with speed: higher = less lag on fast moves.
    pub beta: f32,
    /// Cutoff (Hz) of the speed estimate itself.
    pub d_cutoff: f32,
}

impl Default for OneEuroParams {
    /// Settings for landmarks measured in face widths: 1.5 Hz at rest, +12 Hz per face width per
    /// second of motion.
    fn default() -> Self {
        Self { min_cutoff: 1.5, beta: 12.0, d_cutoff: 1.0 }
    }
}

/// One filtered scalar.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OneEuro {
    params: OneEuroParams,
    prev: Option<(f32, f32)>,
}

fn alpha(cutoff: f32, dt: f32) -> f32 {
    let tau = 1.0 / (TAU * cutoff.max(1e-3));
    1.0 / (1.0 + tau / dt)
}

impl OneEuro {
    /// A filter with no history.
    pub fn new(params: OneEuroParams) -> Self {
        Self { params, prev: None }
    }

    /// Filters the next sample, `dt` seconds after the previous one.
    pub fn filter(&mut self, x: f32, dt: f32) -> f32 {
        let dt = dt.max(1e-6);
        let Some((px, pdx)) = self.prev else {
            self.prev = Some((x, 0.0));
            return x;
        };
        let dx = (x - px) / dt;
        let edx = pdx + alpha(self.params.d_cutoff, dt) * (dx - pdx);
        let cutoff = self.params.min_cutoff + self.params.beta * edx.abs();
        let y = px + alpha(cutoff, dt) * (x - px);
        self.prev = Some((y, edx));
        y
    }
}

/// Offline zero-lag smoothing: the One Euro filter run forwards and backwards, averaged. The
/// forward pass lags exactly where the backward pass leads, so onsets stay where they are.
pub fn smooth_zero_lag(values: &[f32], dt: f32, params: OneEuroParams) -> Vec<f32> {
    let mut fwd = OneEuro::new(params);
    let forward: Vec<f32> = values.iter().map(|&v| fwd.filter(v, dt)).collect();
    let mut bwd = OneEuro::new(params);
    let mut backward: Vec<f32> = values.iter().rev().map(|&v| bwd.filter(v, dt)).collect();
    backward.reverse();
    forward.iter().zip(&backward).map(|(a, b)| 0.5 * (a + b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_euro_quiets_noise_and_keeps_steps_in_place() {
        let dt = 1.0 / 25.0;
        // Alternating ±0.01 noise around 0, then a step to 1 at sample 50.
        let values: Vec<f32> = (0..100)
            .map(|i| if i < 50 { 0.0 } else { 1.0 } + if i % 2 == 0 { 0.01 } else { -0.01 })
            .collect();
        let s = smooth_zero_lag(&values, dt, OneEuroParams::default());
        let jitter_in: f32 = values[10..40].windows(2).map(|w| (w[1] - w[0]).abs()).sum();
        let jitter_out: f32 = s[10..40].windows(2).map(|w| (w[1] - w[0]).abs()).sum();
        assert!(jitter_out < 0.3 * jitter_in, "{jitter_out} vs {jitter_in}");
        // The step's midpoint stays between samples 49 and 50 (no lag).
        let cross = s.iter().position(|&v| v > 0.5).unwrap();
        assert!((49..=50).contains(&cross), "crossed at {cross}");
    }
}
