//! Multi-output ridge regression with standardised inputs, and the penalty chosen by
//! cross-validation over contiguous blocks (neighbouring video frames are not independent, so
//! a random split would leak). Small problems only: a few hundred input dimensions, solved by
//! Cholesky in f64.

/// A fitted linear map from a feature vector to several outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct Ridge {
    mean: Vec<f64>,
    scale: Vec<f64>,
    /// `weights[o][d]`: output o's weight of standardised input d.
    weights: Vec<Vec<f64>>,
    bias: Vec<f64>,
    /// The penalty used.
    pub lambda: f64,
}

/// Solves `a x = b` for symmetric positive definite `a` (n × n, row-major) by Cholesky, in
/// place of `b` (n × m, row-major). `None` when `a` is not positive definite.
fn cholesky_solve(a: &mut [f64], n: usize, b: &mut [f64], m: usize) -> Option<()> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d <= 0.0 || !d.is_finite() {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut s = a[i * n + j];
            for k in 0..j {
                s -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = s / d;
        }
    }
    for c in 0..m {
        // L y = b
        for i in 0..n {
            let mut s = b[i * m + c];
            for k in 0..i {
                s -= a[i * n + k] * b[k * m + c];
            }
            b[i * m + c] = s / a[i * n + i];
        }
        // Lᵀ x = y
        for i in (0..n).rev() {
            let mut s = b[i * m + c];
            for k in i + 1..n {
                s -= a[k * n + i] * b[k * m + c];
            }
            b[i * m + c] = s / a[i * n + i];
        }
    }
    Some(())
}

impl Ridge {
    /// Fits `y ≈ W x + b` over the samples with penalty `lambda` (on standardised inputs, per
    /// sample: the penalty is `lambda × samples`). `None` with no sample or mismatched sizes.
    pub fn fit(x: &[&[f32]], y: &[&[f32]], lambda: f64) -> Option<Self> {
        let n = x.len();
        let d = x.first()?.len();
        let m = y.first()?.len();
        if n == 0
            || y.len() != n
            || x.iter().any(|v| v.len() != d)
            || y.iter().any(|v| v.len() != m)
        {
            return None;
        }
        let mean: Vec<f64> =
            (0..d).map(|j| x.iter().map(|v| f64::from(v[j])).sum::<f64>() / n as f64).collect();
        let scale: Vec<f64> = (0..d)
            .map(|j| {
                let var =
                    x.iter().map(|v| (f64::from(v[j]) - mean[j]).powi(2)).sum::<f64>() / n as f64;
                if var > 1e-12 { 1.0 / var.sqrt() } else { 0.0 }
            })
            .collect();
        let bias: Vec<f64> =
            (0..m).map(|o| y.iter().map(|v| f64::from(v[o])).sum::<f64>() / n as f64).collect();
        let z: Vec<Vec<f64>> = x
            .iter()
            .map(|v| (0..d).map(|j| (f64::from(v[j]) - mean[j]) * scale[j]).collect())
            .collect();
        let mut a = vec![0.0f64; d * d];
        let mut b = vec![0.0f64; d * m];
        for (zi, yi) in z.iter().zip(y) {
            for j in 0..d {
                let zj = zi[j];
                if zj == 0.0 {
                    continue;
                }
                for k in 0..=j {
                    a[j * d + k] += zj * zi[k];
                }
                for o in 0..m {
                    b[j * m + o] += zj * (f64::from(yi[o]) - bias[o]);
                }
            }
        }
        for j in 0..d {
            for k in 0..j {
                a[k * d + j] = a[j * d + k];
            }
            a[j * d + j] += lambda * n as f64 + 1e-9;
        }
        cholesky_solve(&mut a, d, &mut b, m)?;
        let weights = (0..m).map(|o| (0..d).map(|j| b[j * m + o]).collect()).collect();
        Some(Self { mean, scale, weights, bias, lambda })
    }

    /// Fits with the penalty from `lambdas` of least squared error over `folds` contiguous
    /// blocks (each block predicted by a fit on the others); the final fit uses all samples.
    pub fn fit_cv(x: &[&[f32]], y: &[&[f32]], lambdas: &[f64], folds: usize) -> Option<Self> {
        let n = x.len();
        let folds = folds.clamp(2, n.max(2));
        let mut best: Option<(f64, f64)> = None;
        for &lambda in lambdas {
            let mut err = 0.0f64;
            for f in 0..folds {
                let (lo, hi) = (f * n / folds, (f + 1) * n / folds);
                let keep = |i: &usize| *i < lo || *i >= hi;
                let tx: Vec<&[f32]> = (0..n).filter(keep).map(|i| x[i]).collect();
                let ty: Vec<&[f32]> = (0..n).filter(keep).map(|i| y[i]).collect();
                let Some(model) = Self::fit(&tx, &ty, lambda) else { continue };
                for i in lo..hi {
                    let p = model.predict(x[i]);
                    err += p.iter().zip(y[i]).map(|(a, b)| f64::from(a - b).powi(2)).sum::<f64>();
                }
            }
            if best.is_none_or(|(_, e)| err < e) {
                best = Some((lambda, err));
            }
        }
        Self::fit(x, y, best?.0)
    }

    /// The outputs for one input.
    pub fn predict(&self, x: &[f32]) -> Vec<f32> {
        self.weights
            .iter()
            .zip(&self.bias)
            .map(|(w, b)| {
                let s: f64 = w
                    .iter()
                    .zip(x)
                    .zip(self.mean.iter().zip(&self.scale))
                    .map(|((w, &v), (m, s))| w * (f64::from(v) - m) * s)
                    .sum();
                (s + b) as f32
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ridge_recovers_a_linear_map_and_cv_prefers_little_penalty_on_clean_data() {
        // y0 = 2 a − b + 1, y1 = 0.5 c, with an irrelevant input of large scale.
        let xs: Vec<Vec<f32>> = (0..200)
            .map(|i| {
                let t = i as f32;
                vec![(t * 0.37).sin(), (t * 0.91).cos(), (t * 0.13).sin(), 100.0 * (t * 2.3).sin()]
            })
            .collect();
        let ys: Vec<Vec<f32>> =
            xs.iter().map(|v| vec![2.0 * v[0] - v[1] + 1.0, 0.5 * v[2]]).collect();
        let x: Vec<&[f32]> = xs.iter().map(Vec::as_slice).collect();
        let y: Vec<&[f32]> = ys.iter().map(Vec::as_slice).collect();
        let m = Ridge::fit_cv(&x, &y, &[1e-6, 1e-2, 1.0, 100.0], 5).unwrap();
        assert!(m.lambda <= 1e-2, "{}", m.lambda);
        let p = m.predict(&[0.5, -0.5, 0.2, 3.0]);
        assert!((p[0] - 2.5).abs() < 1e-2 && (p[1] - 0.1).abs() < 1e-2, "{p:?}");
        // A huge penalty shrinks to the mean.
        let flat = Ridge::fit(&x, &y, 1e9).unwrap().predict(&[0.5, -0.5, 0.2, 3.0]);
        let mean0 = ys.iter().map(|v| v[0]).sum::<f32>() / ys.len() as f32;
        assert!((flat[0] - mean0).abs() < 1e-3, "{flat:?}");
        assert!(Ridge::fit(&[], &[], 1.0).is_none());
    }
}
