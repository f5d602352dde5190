//! Waveform peaks for drawing: min/max per bucket of samples.

/// Min and max of one bucket.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Peak {
    /// Lowest sample.
    pub min: f32,
    /// Highest sample.
    pub max: f32,
}

/// Peaks of interleaved audio (all channels folded together), one per `bucket` frames.
pub fn peaks(interleaved: &[f32], channels: usize, bucket: usize) -> Vec<Peak> {
    let channels = channels.max(1);
    let step = bucket.max(1) * channels;
    interleaved
        .chunks(step)
        .map(|chunk| {
            chunk.iter().fold(Peak { min: f32::MAX, max: f32::MIN }, |p, &s| Peak {
                min: p.min.min(s),
                max: p.max.max(s),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_cover_every_sample() {
        let samples: Vec<f32> = (0..10).map(|i| i as f32 - 5.0).collect();
        let p = peaks(&samples, 2, 2);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0], Peak { min: -5.0, max: -2.0 });
        assert_eq!(p[2], Peak { min: 3.0, max: 4.0 });
    }
}
