//! How closely one mouth-movement series agrees with another (a lip edit against the real
//! frames of the same words): correlation at the best lag, closure events matched in time,
//! shape distance with each series' mean removed, and SSIM of two grey images. Pure maths on
//! per-frame series where a frame may be missing (`None`: no face measured there).

use super::measure::correlation;

/// Pearson correlation of the frames where both series have a value, with `pred` shifted by
/// `lag` frames (`pred[i + lag]` against `truth[i]`); `None` with fewer than 8 such frames.
pub fn lagged_correlation(pred: &[Option<f32>], truth: &[Option<f32>], lag: i64) -> Option<f32> {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for (i, t) in truth.iter().enumerate() {
        let j = i as i64 + lag;
        let Some(p) = usize::try_from(j).ok().and_then(|j| pred.get(j)) else { continue };
        if let (Some(p), Some(t)) = (p, t) {
            a.push(*p);
            b.push(*t);
        }
    }
    (a.len() >= 8).then(|| correlation(&a, &b))
}

/// The lag within ±`max_lag` frames at which `pred` correlates best with `truth`, and that
/// correlation (ties go to the smaller |lag|). `None` when no lag has enough common frames.
pub fn best_lag(pred: &[Option<f32>], truth: &[Option<f32>], max_lag: i64) -> Option<(i64, f32)> {
    let mut lags: Vec<i64> = (-max_lag..=max_lag).collect();
    lags.sort_by_key(|l| l.abs());
    let mut best: Option<(i64, f32)> = None;
    for lag in lags {
        if let Some(r) = lagged_correlation(pred, truth, lag)
            && best.is_none_or(|(_, b)| r > b)
        {
            best = Some((lag, r));
        }
    }
    best
}

/// Maximal runs of `true` as `(first, last)` frame indices (inclusive).
pub fn runs(flags: &[bool]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, &f) in flags.iter().enumerate() {
        match (f, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, i - 1));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, flags.len() - 1));
    }
    out
}

/// Closure events matched between two series of closed-mouth flags, within `tolerance` frames:
/// `(recall, precision)`. Recall is the share of `truth`'s closure events (maximal runs of
/// closed frames) during which, or within `tolerance` frames of which, `pred` shows a closed
/// mouth; precision is the same with the roles swapped. `None` where a side has no event.
pub fn closure_match(
    pred: &[bool],
    truth: &[bool],
    tolerance: usize,
) -> (Option<f32>, Option<f32>) {
    let hit = |events: &[(usize, usize)], other: &[bool]| -> Option<f32> {
        if events.is_empty() {
            return None;
        }
        let matched = events
            .iter()
            .filter(|&&(a, b)| {
                let lo = a.saturating_sub(tolerance);
                let hi = (b + tolerance).min(other.len().saturating_sub(1));
                (lo..=hi).any(|i| other.get(i).copied().unwrap_or(false))
            })
            .count();
        Some(matched as f32 / events.len() as f32)
    };
    (hit(&runs(truth), pred), hit(&runs(pred), truth))
}

/// Mean distance between two series of shape vectors (points as consecutive x, y pairs) after
/// removing each series' own mean shape over the frames where both are present: how far the
/// movement differs, whatever each mouth's resting shape. Distance per frame is the mean
/// Euclidean distance of the points. `None` with no common frame.
pub fn dynamic_distance(pred: &[Option<Vec<f32>>], truth: &[Option<Vec<f32>>]) -> Option<f32> {
    let both: Vec<(&Vec<f32>, &Vec<f32>)> = pred
        .iter()
        .zip(truth)
        .filter_map(|(p, t)| Some((p.as_ref()?, t.as_ref()?)))
        .filter(|(p, t)| p.len() == t.len() && p.len() >= 2)
        .collect();
    let (first, _) = both.first()?;
    let dim = first.len();
    if both.iter().any(|(p, _)| p.len() != dim) {
        return None;
    }
    let mean = |side: usize| {
        let mut m = vec![0.0f64; dim];
        for pair in &both {
            let v = if side == 0 { pair.0 } else { pair.1 };
            for (acc, x) in m.iter_mut().zip(v) {
                *acc += f64::from(*x);
            }
        }
        m.iter().map(|v| (v / both.len() as f64) as f32).collect::<Vec<f32>>()
    };
    let mp = mean(0);
    let mt = mean(1);
    let points = dim / 2;
    let total: f64 = both
        .iter()
        .map(|(p, t)| {
            (0..points)
                .map(|k| {
                    let dx = (p[2 * k] - mp[2 * k]) - (t[2 * k] - mt[2 * k]);
                    let dy = (p[2 * k + 1] - mp[2 * k + 1]) - (t[2 * k + 1] - mt[2 * k + 1]);
                    f64::from((dx * dx + dy * dy).sqrt())
                })
                .sum::<f64>()
                / points as f64
        })
        .sum();
    Some((total / both.len() as f64) as f32)
}

/// Structural similarity of two grey images (0..255 levels, row-major, `w × h`), the mean over
/// 7×7 windows at every pixel where the window fits (Wang et al. 2004 constants).
pub fn ssim(a: &[f32], b: &[f32], w: usize, h: usize) -> Option<f32> {
    const R: usize = 3;
    if a.len() != w * h || b.len() != w * h || w <= 2 * R || h <= 2 * R {
        return None;
    }
    let c1 = (0.01f64 * 255.0).powi(2);
    let c2 = (0.03f64 * 255.0).powi(2);
    let n = ((2 * R + 1) * (2 * R + 1)) as f64;
    let mut sum = 0.0f64;
    let mut count = 0usize;
    for y in R..h - R {
        for x in R..w - R {
            let (mut sa, mut sb, mut saa, mut sbb, mut sab) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
            for yy in y - R..=y + R {
                for xx in x - R..=x + R {
                    let (p, q) = (f64::from(a[yy * w + xx]), f64::from(b[yy * w + xx]));
                    sa += p;
                    sb += q;
                    saa += p * p;
                    sbb += q * q;
                    sab += p * q;
                }
            }
            let (ma, mb) = (sa / n, sb / n);
            let va = (saa / n - ma * ma).max(0.0);
            let vb = (sbb / n - mb * mb).max(0.0);
            let cov = sab / n - ma * mb;
            sum += ((2.0 * ma * mb + c1) * (2.0 * cov + c2))
                / ((ma * ma + mb * mb + c1) * (va + vb + c2));
            count += 1;
        }
    }
    Some((sum / count as f64) as f32)
}

/// Mean of the present values.
pub fn mean_of(values: impl IntoIterator<Item = Option<f32>>) -> Option<f32> {
    let v: Vec<f32> = values.into_iter().flatten().collect();
    (!v.is_empty()).then(|| v.iter().sum::<f32>() / v.len() as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wave(n: usize, shift: f32) -> Vec<Option<f32>> {
        (0..n).map(|i| Some(((i as f32 + shift) * 0.4).sin())).collect()
    }

    #[test]
    fn the_best_lag_undoes_a_shift() {
        let truth = wave(60, 0.0);
        // pred[i + 2] = truth[i]: the prediction is two frames late.
        let pred = wave(60, -2.0);
        let (lag, r) = best_lag(&pred, &truth, 5).unwrap();
        assert_eq!(lag, 2);
        assert!(r > 0.99, "{r}");
        assert!(lagged_correlation(&pred, &truth, 0).unwrap() < r);
        // Missing frames are skipped, too few common frames give no figure.
        let sparse: Vec<Option<f32>> = (0..60).map(|i| (i < 5).then_some(1.0)).collect();
        assert_eq!(lagged_correlation(&sparse, &truth, 0), None);
    }

    #[test]
    fn closures_match_within_the_tolerance_and_count_events_not_frames() {
        let f = |s: &str| s.chars().map(|c| c == '#').collect::<Vec<bool>>();
        assert_eq!(runs(&f("..##...#")), vec![(2, 3), (7, 7)]);
        // Truth has three closures; pred finds the first (one frame late), the second (inside),
        // misses the third, and adds one of its own.
        let truth = f("##.....###.......##....");
        let pred = f("..#......#...##........");
        let (recall, precision) = closure_match(&pred, &truth, 1);
        assert!((recall.unwrap() - 2.0 / 3.0).abs() < 1e-6);
        assert!((precision.unwrap() - 2.0 / 3.0).abs() < 1e-6);
        // Exact timing needed with no tolerance: the first closure is then missed.
        assert!((closure_match(&pred, &truth, 0).0.unwrap() - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(closure_match(&f("...."), &f("...."), 1), (None, None));
    }

    #[test]
    fn dynamic_distance_ignores_the_resting_shape() {
        let series = |offset: f32, amp: f32| -> Vec<Option<Vec<f32>>> {
            (0..20)
                .map(|i| {
                    let o = amp * (i as f32 * 0.5).sin();
                    Some(vec![offset, offset + o, 1.0 + offset, offset - o])
                })
                .collect()
        };
        // Same movement on another resting shape: no distance.
        assert!(dynamic_distance(&series(5.0, 1.0), &series(0.0, 1.0)).unwrap() < 1e-5);
        // A still mouth against a moving one: the distance is the movement's mean size.
        let still = dynamic_distance(&series(0.0, 0.0), &series(0.0, 1.0)).unwrap();
        let half = dynamic_distance(&series(0.0, 0.5), &series(0.0, 1.0)).unwrap();
        assert!(still > 0.3 && (half - still / 2.0).abs() < 1e-4, "{still} {half}");
        assert_eq!(dynamic_distance(&[None], &[Some(vec![0.0, 0.0])]), None);
    }

    #[test]
    fn ssim_is_one_for_the_same_image_and_lower_for_a_changed_one() {
        let (w, h) = (24, 20);
        let img: Vec<f32> = (0..w * h).map(|i| ((i * 37) % 255) as f32).collect();
        assert!((ssim(&img, &img, w, h).unwrap() - 1.0).abs() < 1e-6);
        let noisy: Vec<f32> = img
            .iter()
            .enumerate()
            .map(|(i, v)| v + if i % 2 == 0 { 40.0 } else { -40.0 })
            .collect();
        let s = ssim(&img, &noisy, w, h).unwrap();
        assert!(s < 0.9, "{s}");
        assert_eq!(ssim(&img, &img[1..], w, h), None);
    }
}
