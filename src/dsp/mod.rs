//! Pure sample maths on `&[f32]`: mixing with ducking and fades, waveform peaks, measurements,
//! MFCC, VAD, DTW, time-stretch, isochrony and loudness. Imports `model` only.

pub mod agreement;
pub mod align;
pub mod dtw;
pub mod isochrony;
pub mod loudness;
pub mod measure;
pub mod mfcc;
pub mod mix;
pub mod peaks;
pub mod pitch;
pub mod ridge;
pub mod spectrum;
pub mod stretch;
pub mod vad;

/// Sample rate of every internal audio buffer.
pub const SAMPLE_RATE: u32 = 48_000;

/// dB to linear amplitude.
pub fn db_to_gain(db: f32) -> f32 {
    10f32.powf(db / 20.0)
}

/// Linear amplitude to dB (−inf for 0).
pub fn gain_to_db(gain: f32) -> f32 {
    20.0 * gain.log10()
}
