//! Engine-independent measurements of a face track in footage: mouth opening per frame (for
//! sync checks) and the mouth-region pixels (for flicker).

use super::bank::mouth_opening;
use super::geometry::{Landmarks5, Region, extract_patch, region_mask};

/// The lips region with a hard edge, built once for every frame measured.
fn lips_mask() -> &'static [f32] {
    static MASK: std::sync::OnceLock<Vec<f32>> = std::sync::OnceLock::new();
    MASK.get_or_init(|| region_mask(Region::Lips, 1.0))
}

/// Per-frame mouth measurements of one face.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MouthSeries {
    /// Mouth opening per frame (0 where the face is absent).
    pub opening: Vec<f32>,
    /// Luma of the lips region per frame (empty where the face is absent).
    pub region: Vec<Vec<f32>>,
}

impl MouthSeries {
    /// Adds one frame: its RGBA picture and the face's landmarks there, if any.
    pub fn push(
        &mut self,
        rgba: &[u8],
        width: usize,
        height: usize,
        landmarks: Option<&Landmarks5>,
    ) {
        let patch = landmarks.and_then(|lm| extract_patch(rgba, width, height, lm));
        match patch {
            Some(p) => {
                self.opening.push(mouth_opening(&p));
                self.region.push(
                    p.rgb
                        .iter()
                        .zip(lips_mask())
                        .filter(|(_, m)| **m >= 1.0)
                        .map(|(c, _)| 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2])
                        .collect(),
                );
            }
            None => {
                self.opening.push(0.0);
                self.region.push(Vec::new());
            }
        }
    }

    /// Flicker of the lips region: mean absolute luma change between consecutive frames where
    /// the face is present in both.
    pub fn flicker(&self) -> f32 {
        super::sync::flicker(&self.region)
    }
}
