//! Measurements used by tests, benchmarks and sync checks: correlation, tone level, onsets.

/// Pearson correlation of two equally long signals (0 when either is silent).
pub fn correlation(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    if n == 0 {
        return 0.0;
    }
    let (a, b) = (&a[..n], &b[..n]);
    let ma = a.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
    let mb = b.iter().map(|&x| f64::from(x)).sum::<f64>() / n as f64;
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x) - ma, f64::from(y) - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    if saa <= 0.0 || sbb <= 0.0 { 0.0 } else { (sab / (saa * sbb).sqrt()) as f32 }
}

/// Amplitude of a sine of `freq` Hz in a mono signal (projection on sin/cos; exact for a pure tone
/// over whole periods, and deaf to other frequencies over long windows).
pub fn tone_amplitude(mono: &[f32], rate: u32, freq: f32) -> f32 {
    if mono.is_empty() {
        return 0.0;
    }
    let w = std::f64::consts::TAU * f64::from(freq) / f64::from(rate);
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for (i, &x) in mono.iter().enumerate() {
        let ph = w * i as f64;
        s += f64::from(x) * ph.sin();
        c += f64::from(x) * ph.cos();
    }
    (2.0 * (s * s + c * c).sqrt() / mono.len() as f64) as f32
}

/// Root mean square.
pub fn rms(x: &[f32]) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    (x.iter().map(|&v| f64::from(v) * f64::from(v)).sum::<f64>() / x.len() as f64).sqrt() as f32
}

/// Mono mix-down of interleaved audio.
pub fn to_mono(interleaved: &[f32], channels: usize) -> Vec<f32> {
    let channels = channels.max(1);
    interleaved.chunks(channels).map(|f| f.iter().sum::<f32>() / channels as f32).collect()
}

/// First sample index where the RMS over `window` samples rises above `threshold`, if any.
pub fn first_onset(mono: &[f32], window: usize, threshold: f32) -> Option<usize> {
    let window = window.max(1);
    let mut acc = 0.0f64;
    let t2 = f64::from(threshold) * f64::from(threshold) * window as f64;
    for (i, &x) in mono.iter().enumerate() {
        acc += f64::from(x) * f64::from(x);
        if i >= window {
            let old = f64::from(mono[i - window]);
            acc -= old * old;
        }
        if i + 1 >= window && acc > t2 {
            return Some(i + 1 - window);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_amplitude_finds_the_sine_and_ignores_others() {
        let rate = 48_000;
        let x: Vec<f32> = (0..rate)
            .map(|i| {
                let t = i as f32 / rate as f32;
                0.5 * (std::f32::consts::TAU * 1000.0 * t).sin()
                    + 0.3 * (std::f32::consts::TAU * 300.0 * t).sin()
            })
            .collect();
        assert!((tone_amplitude(&x, rate as u32, 1000.0) - 0.5).abs() < 1e-3);
        assert!((tone_amplitude(&x, rate as u32, 300.0) - 0.3).abs() < 1e-3);
        assert!(tone_amplitude(&x, rate as u32, 2000.0) < 1e-3);
    }

    #[test]
    fn correlation_and_onset() {
        let a: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.1).sin()).collect();
        let b: Vec<f32> = a.iter().map(|x| 3.0 * x).collect();
        assert!((correlation(&a, &b) - 1.0).abs() < 1e-5);
        let neg: Vec<f32> = a.iter().map(|x| -x).collect();
        assert!((correlation(&a, &neg) + 1.0).abs() < 1e-5);
        let mut s = vec![0.0f32; 1000];
        s[600..].iter_mut().for_each(|v| *v = 0.5);
        assert_eq!(first_onset(&s, 10, 0.2), Some(592));
        assert_eq!(rms(&[3.0, -3.0]), 3.0);
        assert_eq!(to_mono(&[1.0, 3.0, 2.0, 4.0], 2), vec![2.0, 3.0]);
    }
}
