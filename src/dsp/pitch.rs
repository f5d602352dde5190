//! Fundamental frequency by normalised autocorrelation, for checking that a stretch kept the
//! pitch and for voiced/unvoiced decisions.

/// f0 search range and voicing threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PitchConfig {
    /// Lowest f0 in Hz.
    pub min_hz: f32,
    /// Highest f0 in Hz.
    pub max_hz: f32,
    /// A frame is voiced when its best normalised autocorrelation reaches this.
    pub voicing: f32,
    /// Frames more than this many dB below the loudest frame are unvoiced (silence, breath).
    pub range_db: f32,
}

impl Default for PitchConfig {
    fn default() -> Self {
        Self { min_hz: 60.0, max_hz: 400.0, voicing: 0.8, range_db: 30.0 }
    }
}

/// Analysis rate: 12 kHz is plenty for f0 up to 400 Hz and makes the search 16× cheaper.
const ANALYSIS_RATE: u32 = 12_000;

/// f0 per 10 ms frame (40 ms analysis window); `None` for unvoiced frames.
pub fn f0_track(mono: &[f32], rate: u32, cfg: &PitchConfig) -> Vec<Option<f32>> {
    let dec = (rate / ANALYSIS_RATE).max(1) as usize;
    let ar = rate as f32 / dec as f32;
    // One-pole low-pass twice (≈ 1.2 kHz) before decimating, so high harmonics do not fold down.
    let a = (-std::f32::consts::TAU * 1200.0 / rate as f32).exp();
    let (mut y1, mut y2) = (0.0f32, 0.0f32);
    let mut x = Vec::with_capacity(mono.len() / dec + 1);
    for (i, &v) in mono.iter().enumerate() {
        y1 = (1.0 - a) * v + a * y1;
        y2 = (1.0 - a) * y1 + a * y2;
        if i % dec == 0 {
            x.push(y2);
        }
    }
    let win = (0.040 * ar) as usize;
    let hop = (0.010 * ar) as usize;
    let lag_min = (ar / cfg.max_hz).floor().max(2.0) as usize;
    let lag_max = (ar / cfg.min_hz).ceil() as usize;
    if x.len() < win + lag_max || hop == 0 {
        return Vec::new();
    }
    let frames = (x.len() - win - lag_max) / hop + 1;
    let energies: Vec<f32> =
        (0..frames).map(|f| x[f * hop..f * hop + win].iter().map(|v| v * v).sum::<f32>()).collect();
    let loudest = energies.iter().copied().fold(0.0f32, f32::max);
    let gate = loudest * 10f32.powf(-cfg.range_db / 10.0);
    let mut out = Vec::with_capacity(frames);
    let mut r = vec![0.0f32; lag_max + 2];
    for (f, &e0) in energies.iter().enumerate() {
        let s = f * hop;
        if e0 <= gate || e0 <= 0.0 {
            out.push(None);
            continue;
        }
        let frame = &x[s..s + win];
        for lag in lag_min - 1..=lag_max + 1 {
            let other = &x[s + lag..s + lag + win];
            let (mut xy, mut yy) = (0.0f32, 0.0f32);
            for (p, q) in frame.iter().zip(other) {
                xy += p * q;
                yy += q * q;
            }
            r[lag] = if yy > 0.0 { xy / (e0 * yy).sqrt() } else { 0.0 };
        }
        let best = (lag_min..=lag_max).map(|l| r[l]).fold(f32::MIN, f32::max);
        if best < cfg.voicing {
            out.push(None);
            continue;
        }
        // The shortest lag that is a local peak close to the best avoids octave-down errors.
        let Some(lag) = (lag_min..=lag_max)
            .find(|&l| r[l] >= 0.9 * best && r[l] >= r[l - 1] && r[l] >= r[l + 1])
        else {
            out.push(None);
            continue;
        };
        let (a, b, c) = (r[lag - 1], r[lag], r[lag + 1]);
        let denom = a - 2.0 * b + c;
        let shift = if denom.abs() > 1e-9 { (0.5 * (a - c) / denom).clamp(-0.5, 0.5) } else { 0.0 };
        out.push(Some(ar / (lag as f32 + shift)));
    }
    out
}

/// Median f0 over voiced frames, if any.
pub fn median_f0(mono: &[f32], rate: u32, cfg: &PitchConfig) -> Option<f32> {
    let mut v: Vec<f32> = f0_track(mono, rate, cfg).into_iter().flatten().collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f32::total_cmp);
    Some(v[v.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harmonic_tone_reads_its_fundamental() {
        for f0 in [95.0f32, 180.0, 310.0] {
            let x: Vec<f32> = (0..48_000)
                .map(|i| {
                    let t = i as f32 / 48_000.0;
                    (1..6)
                        .map(|h| 0.2 / h as f32 * (std::f32::consts::TAU * f0 * h as f32 * t).sin())
                        .sum()
                })
                .collect();
            let m = median_f0(&x, 48_000, &PitchConfig::default()).unwrap();
            assert!((m / f0 - 1.0).abs() < 0.005, "{f0}: {m}");
        }
        assert_eq!(median_f0(&vec![0.0; 48_000], 48_000, &PitchConfig::default()), None);
    }
}
