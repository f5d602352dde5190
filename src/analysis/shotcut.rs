//! Shot-cut detection by colour-histogram difference between consecutive frames: a cut changes
//! the whole colour distribution at once, while motion and speech inside a shot barely move it.

use super::image::RgbImage;

/// Bins per colour channel (a joint histogram of 8×8×8 cells).
const BINS: usize = 8;

/// Default threshold on the histogram distance (half the L1 distance, 0 = same, 1 = disjoint).
pub const DEFAULT_CUT_THRESHOLD: f32 = 0.5;

/// Normalised joint RGB histogram.
pub fn histogram(img: &RgbImage) -> Vec<f32> {
    let mut counts = vec![0u32; BINS * BINS * BINS];
    let shift = 8 - BINS.trailing_zeros();
    for p in img.data.chunks_exact(3) {
        let i = (usize::from(p[0] >> shift) * BINS + usize::from(p[1] >> shift)) * BINS
            + usize::from(p[2] >> shift);
        counts[i] += 1;
    }
    let n = (img.data.len() / 3).max(1) as f32;
    counts.into_iter().map(|c| c as f32 / n).collect()
}

/// Half the L1 distance between two normalised histograms (0..=1).
pub fn distance(a: &[f32], b: &[f32]) -> f32 {
    0.5 * a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>()
}

/// Streaming detector: feed frames in order, get `true` on the first frame of a new shot.
#[derive(Clone, Debug)]
pub struct ShotCutDetector {
    prev: Option<Vec<f32>>,
    threshold: f32,
}

impl ShotCutDetector {
    /// A detector with the given distance threshold.
    pub fn new(threshold: f32) -> Self {
        Self { prev: None, threshold }
    }

    /// Whether `img` starts a new shot (never true for the first frame).
    pub fn push(&mut self, img: &RgbImage) -> bool {
        let h = histogram(img);
        let cut = self.prev.as_ref().is_some_and(|p| distance(p, &h) > self.threshold);
        self.prev = Some(h);
        cut
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(v: [u8; 3], noise: u8) -> RgbImage {
        let data = (0..64 * 64)
            .flat_map(|i| {
                let n = (i % 7) as u8 % noise.max(1);
                [v[0].saturating_add(n), v[1].saturating_add(n), v[2]]
            })
            .collect();
        RgbImage { width: 64, height: 64, data }
    }

    #[test]
    fn cut_only_when_the_colours_change() {
        let mut d = ShotCutDetector::new(DEFAULT_CUT_THRESHOLD);
        assert!(!d.push(&flat([100, 50, 30], 3)));
        assert!(!d.push(&flat([101, 50, 30], 3)));
        assert!(d.push(&flat([20, 160, 200], 3)));
        assert!(!d.push(&flat([20, 160, 200], 2)));
    }
}
