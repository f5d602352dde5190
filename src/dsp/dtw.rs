//! Dynamic time warping between two feature sequences, and the path turned into a smooth,
//! monotone time map whose local stretch stays within limits.

use super::mfcc::Features;

/// DTW failures.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DtwError {
    /// One of the sequences has no frames.
    #[error("cannot align an empty sequence")]
    Empty,
    /// The sequences have different feature dimensions.
    #[error("feature dimensions differ ({0} vs {1})")]
    Dimension(usize, usize),
    /// The cost matrix would be too large.
    #[error("lines too long to align ({0} × {1} frames); split them")]
    TooLong(usize, usize),
}

/// Largest cost matrix we build (about 60 s against 60 s at 10 ms).
const MAX_CELLS: usize = 40_000_000;

/// Lowest-cost monotone path from (0, 0) to (n−1, m−1) between `a` and `b` (Euclidean frame
/// distance; diagonal steps weigh twice so the path has no bias towards them). Cells further than
/// `band` (fraction of the longer length, plus the length difference) from the diagonal are
/// skipped.
pub fn dtw_path(a: &Features, b: &Features, band: f32) -> Result<Vec<(usize, usize)>, DtwError> {
    let (n, m) = (a.len(), b.len());
    if n == 0 || m == 0 {
        return Err(DtwError::Empty);
    }
    if a.dim != b.dim {
        return Err(DtwError::Dimension(a.dim, b.dim));
    }
    if n.saturating_mul(m) > MAX_CELLS {
        return Err(DtwError::TooLong(n, m));
    }
    let width = (band.max(0.0) * n.max(m) as f32) as i64 + (n as i64 - m as i64).abs() + 2;
    let inf = f32::INFINITY;
    let mut cost = vec![inf; n * m];
    // 0 = diagonal, 1 = from (i−1, j), 2 = from (i, j−1).
    let mut step = vec![0u8; n * m];
    for i in 0..n {
        let centre = (i as i64 * (m as i64 - 1)) / (n as i64 - 1).max(1);
        let lo = (centre - width).max(0) as usize;
        let hi = ((centre + width) as usize).min(m - 1);
        let fa = a.frame(i);
        for j in lo..=hi {
            let d = fa.iter().zip(b.frame(j)).map(|(x, y)| (x - y) * (x - y)).sum::<f32>().sqrt();
            let idx = i * m + j;
            if i == 0 && j == 0 {
                cost[idx] = d;
                continue;
            }
            let diag = if i > 0 && j > 0 { cost[idx - m - 1] + 2.0 * d } else { inf };
            let up = if i > 0 { cost[idx - m] + d } else { inf };
            let left = if j > 0 { cost[idx - 1] + d } else { inf };
            let (c, s) = if diag <= up && diag <= left {
                (diag, 0)
            } else if up <= left {
                (up, 1)
            } else {
                (left, 2)
            };
            cost[idx] = c;
            step[idx] = s;
        }
    }
    let mut path = Vec::with_capacity(n + m);
    let (mut i, mut j) = (n - 1, m - 1);
    loop {
        path.push((i, j));
        if i == 0 && j == 0 {
            break;
        }
        match step[i * m + j] {
            _ if i == 0 => j -= 1,
            _ if j == 0 => i -= 1,
            0 => {
                i -= 1;
                j -= 1;
            }
            1 => i -= 1,
            _ => j -= 1,
        }
    }
    path.reverse();
    Ok(path)
}

/// How a DTW path becomes a time map.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MapConfig {
    /// 0 = loose (follows the path closely) … 1 = tight (nearly one factor for the line).
    pub tightness: f32,
    /// Largest local stretch either way (1.5 = local rate between 1/1.5 and 1.5).
    pub max_stretch: f32,
}

impl Default for MapConfig {
    fn default() -> Self {
        Self { tightness: 0.5, max_stretch: 1.5 }
    }
}

/// For every frame of the first sequence (`n` frames), the matching fractional frame of the
/// second (`m` frames): the path averaged per frame, smoothed (more when tighter), blended
/// towards one straight line when tightness passes 0.5, and held monotone with local slope
/// within `[1/max_stretch, max_stretch]`. Starts at 0 and ends at `m − 1`.
pub fn path_to_map(path: &[(usize, usize)], n: usize, m: usize, cfg: &MapConfig) -> Vec<f64> {
    if n == 0 {
        return Vec::new();
    }
    let mut sum = vec![0.0f64; n];
    let mut count = vec![0u32; n];
    for &(i, j) in path {
        if i < n {
            sum[i] += j as f64;
            count[i] += 1;
        }
    }
    let end = (m.max(1) - 1) as f64;
    let mut raw: Vec<f64> = Vec::with_capacity(n);
    for i in 0..n {
        let v = if count[i] > 0 {
            sum[i] / f64::from(count[i])
        } else {
            raw.last().copied().unwrap_or(0.0)
        };
        raw.push(v);
    }
    let t = f64::from(cfg.tightness.clamp(0.0, 1.0));
    let radius = (3.0 + 20.0 * t).round() as usize;
    let smooth = moving_average(&raw, radius);
    let line = |i: usize| if n > 1 { end * i as f64 / (n - 1) as f64 } else { 0.0 };
    let blend = ((t - 0.5) * 2.0).max(0.0).powi(2);
    let mut map: Vec<f64> =
        smooth.iter().enumerate().map(|(i, v)| (1.0 - blend) * v + blend * line(i)).collect();
    limit_slope(&mut map, end, f64::from(cfg.max_stretch.max(1.0)));
    map
}

/// Centred moving average with the window shrinking at the ends, so the ends stay put.
fn moving_average(x: &[f64], radius: usize) -> Vec<f64> {
    let n = x.len();
    let mut prefix = vec![0.0f64; n + 1];
    for i in 0..n {
        prefix[i + 1] = prefix[i] + x[i];
    }
    (0..n)
        .map(|i| {
            let r = radius.min(i).min(n - 1 - i);
            (prefix[i + r + 1] - prefix[i - r]) / (2 * r + 1) as f64
        })
        .collect()
}

/// Pins the ends to 0 and `end` and keeps every step within `[1/max, max]`: steps are clamped,
/// then what the clamping added or removed is spread over the steps that still have room, until
/// the steps add up to `end` again. When no such map exists the steps are made equal.
fn limit_slope(map: &mut [f64], end: f64, max: f64) {
    let n = map.len();
    if n < 2 {
        return;
    }
    let (lo, hi) = (1.0 / max, max);
    let steps_n = (n - 1) as f64;
    let mut steps: Vec<f64> = map.windows(2).map(|w| w[1] - w[0]).collect();
    if end < lo * steps_n || end > hi * steps_n {
        steps.iter_mut().for_each(|s| *s = end / steps_n);
    } else {
        for _ in 0..50 {
            steps.iter_mut().for_each(|s| *s = s.clamp(lo, hi));
            let excess = end - steps.iter().sum::<f64>();
            if excess.abs() < 1e-9 {
                break;
            }
            // Room each step has in the needed direction.
            let room: Vec<f64> =
                steps.iter().map(|&s| if excess > 0.0 { hi - s } else { s - lo }).collect();
            let total: f64 = room.iter().sum();
            if total <= 0.0 {
                break;
            }
            let share = (excess.abs() / total).min(1.0) * excess.signum();
            for (s, r) in steps.iter_mut().zip(&room) {
                *s += share * r;
            }
        }
    }
    map[0] = 0.0;
    for i in 1..n {
        map[i] = map[i - 1] + steps[i - 1];
    }
}

/// Keeps the fewest points of a polyline such that linear interpolation between them stays
/// within `tolerance` of every dropped point (in y), always keeping the ends.
pub fn simplify(points: &[(f64, f64)], tolerance: f64) -> Vec<(f64, f64)> {
    if points.len() <= 2 {
        return points.to_vec();
    }
    let mut keep = vec![false; points.len()];
    keep[0] = true;
    keep[points.len() - 1] = true;
    let mut stack = vec![(0usize, points.len() - 1)];
    while let Some((a, b)) = stack.pop() {
        let (x0, y0) = points[a];
        let (x1, y1) = points[b];
        let mut worst = (0.0f64, a);
        for (k, &(x, y)) in points.iter().enumerate().take(b).skip(a + 1) {
            let yi = if x1 > x0 { y0 + (y1 - y0) * (x - x0) / (x1 - x0) } else { y0 };
            let e = (y - yi).abs();
            if e > worst.0 {
                worst = (e, k);
            }
        }
        if worst.0 > tolerance {
            keep[worst.1] = true;
            stack.push((a, worst.1));
            stack.push((worst.1, b));
        }
    }
    points.iter().zip(keep).filter(|(_, k)| *k).map(|(p, _)| *p).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(values: &[f32]) -> Features {
        Features { dim: 1, hop_seconds: 0.01, data: values.to_vec() }
    }

    #[test]
    fn dtw_finds_a_repeated_frame() {
        let a = seq(&[0.0, 1.0, 2.0, 3.0]);
        let b = seq(&[0.0, 1.0, 1.0, 2.0, 3.0]);
        let p = dtw_path(&a, &b, 1.0).unwrap();
        assert_eq!(p, vec![(0, 0), (1, 1), (1, 2), (2, 3), (3, 4)]);
        assert_eq!(dtw_path(&seq(&[]), &b, 1.0), Err(DtwError::Empty));
    }

    #[test]
    fn map_is_monotone_pinned_and_slope_limited() {
        // A path that stalls for 30 frames: the map must not exceed the stretch limit.
        let mut path: Vec<(usize, usize)> = (0..50).map(|i| (i, i)).collect();
        path.extend((50..80).map(|i| (i, 50)));
        path.extend((80..100).map(|i| (i, i - 29)));
        let map = path_to_map(&path, 100, 71, &MapConfig { tightness: 0.0, max_stretch: 1.5 });
        assert_eq!(map[0], 0.0);
        assert!((map[99] - 70.0).abs() < 1e-9);
        for w in map.windows(2) {
            let s = w[1] - w[0];
            assert!((1.0 / 1.5 - 1e-6..=1.5 + 1e-9).contains(&s), "{s}");
        }
    }

    #[test]
    fn simplify_keeps_corners() {
        let pts: Vec<(f64, f64)> = (0..100)
            .map(|i| (i as f64, if i < 50 { i as f64 } else { 50.0 + 2.0 * (i - 50) as f64 }))
            .collect();
        let s = simplify(&pts, 0.01);
        assert_eq!(s, vec![(0.0, 0.0), (50.0, 50.0), (99.0, 148.0)]);
    }
}
