//! The dialogue mixer: dub clips with gain and fades over the original audio, which is ducked
//! under them. Works on any range of the timeline so export can stream it in chunks.
//!
//! All buffers are interleaved stereo at [`super::SAMPLE_RATE`]; sample indices count frames
//! (one left + right pair).

use super::db_to_gain;

/// Interleaved channel count of every mixer buffer.
pub const CHANNELS: usize = 2;

/// One dub clip, already cut to its used source range.
#[derive(Clone, Copy, Debug)]
pub struct ClipSignal<'a> {
    /// Stereo samples of the clip (`source_in..source_out`).
    pub samples: &'a [f32],
    /// Timeline sample where the clip starts.
    pub position: i64,
    /// Linear gain (clip × track).
    pub gain: f32,
    /// Fade-in length in samples.
    pub fade_in: usize,
    /// Fade-out length in samples.
    pub fade_out: usize,
    /// This clip's own ducking of the original, instead of [`MixInput::ducking`].
    pub duck: Option<DuckParams>,
}

impl ClipSignal<'_> {
    /// Length in sample frames.
    pub fn len(&self) -> usize {
        self.samples.len() / CHANNELS
    }

    /// Whether the clip has no samples.
    pub fn is_empty(&self) -> bool {
        self.samples.len() < CHANNELS
    }

    /// Timeline sample after the last one.
    pub fn end(&self) -> i64 {
        self.position + self.len() as i64
    }

    /// Fade gain at clip-relative frame `i` (linear ramps, so a crossfade keeps amplitude).
    fn fade(&self, i: usize) -> f32 {
        let n = self.len();
        let mut g = 1.0;
        if self.fade_in > 0 && i < self.fade_in {
            g *= i as f32 / self.fade_in as f32;
        }
        let from_end = n - 1 - i;
        if self.fade_out > 0 && from_end < self.fade_out {
            g *= from_end as f32 / self.fade_out as f32;
        }
        g
    }
}

/// Ducking in samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DuckParams {
    /// Attenuation in dB (positive).
    pub depth_db: f32,
    /// Ramp-down samples, ending where the dub starts (the dub never starts over full original).
    pub attack: usize,
    /// Ramp-up samples after the dub ends.
    pub release: usize,
}

/// Everything the mixer reads.
#[derive(Clone, Debug)]
pub struct MixInput<'a> {
    /// The original audio, stereo, its first sample at timeline sample `original_start`
    /// (export streams it in chunks; the editor holds all of it from 0).
    pub original: Option<&'a [f32]>,
    /// Timeline sample of `original`'s first sample.
    pub original_start: i64,
    /// Linear gain of the original.
    pub original_gain: f32,
    /// Audible dub clips of all tracks.
    pub clips: Vec<ClipSignal<'a>>,
    /// Ducking of the original under the clips.
    pub ducking: DuckParams,
}

/// The three stems of a mixed range, each interleaved stereo.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stems {
    /// Dub speech only.
    pub dialogue: Vec<f32>,
    /// The original audio after ducking.
    pub background: Vec<f32>,
    /// dialogue + background.
    pub mix: Vec<f32>,
}

/// How much the original is ducked at timeline sample `t`: 0 = not at all, 1 = full depth.
/// Uses `duck` for every clip (see [`duck_gain`] for per-clip settings).
pub fn duck_amount(clips: &[ClipSignal<'_>], duck: DuckParams, t: i64) -> f32 {
    clips.iter().filter(|c| !c.is_empty()).map(|c| clip_duck_amount(c, duck, t)).fold(0.0, f32::max)
}

/// Linear gain of the original at timeline sample `t`: the deepest ducking of any clip there,
/// each clip using its own [`ClipSignal::duck`] or else `default`.
pub fn duck_gain(clips: &[ClipSignal<'_>], default: DuckParams, t: i64) -> f32 {
    clips
        .iter()
        .filter(|c| !c.is_empty())
        .map(|c| {
            let d = c.duck.unwrap_or(default);
            let floor = db_to_gain(-d.depth_db.abs());
            1.0 - clip_duck_amount(c, d, t) * (1.0 - floor)
        })
        .fold(1.0, f32::min)
}

fn clip_duck_amount(c: &ClipSignal<'_>, duck: DuckParams, t: i64) -> f32 {
    if t >= c.position && t < c.end() {
        1.0
    } else if t < c.position && duck.attack > 0 && c.position - t <= duck.attack as i64 {
        1.0 - (c.position - t) as f32 / duck.attack as f32
    } else if t >= c.end() && duck.release > 0 && t - c.end() < duck.release as i64 {
        1.0 - (t - c.end() + 1) as f32 / duck.release as f32
    } else {
        0.0
    }
}

/// The dialogue stem alone of `len` sample frames from timeline sample `start` (what the lip
/// plan listens to: no background or mix stems beside it).
pub fn dialogue_range(input: &MixInput<'_>, start: i64, len: usize) -> Vec<f32> {
    let mut dialogue = vec![0.0f32; len * CHANNELS];
    let end = start + len as i64;
    for c in &input.clips {
        let from = c.position.max(start);
        let to = c.end().min(end);
        for t in from..to {
            let i = (t - c.position) as usize;
            let g = c.gain * c.fade(i);
            let o = (t - start) as usize * CHANNELS;
            for ch in 0..CHANNELS {
                dialogue[o + ch] += g * c.samples[i * CHANNELS + ch];
            }
        }
    }
    dialogue
}

/// Mixes `len` sample frames of the timeline starting at sample `start`.
pub fn mix_range(input: &MixInput<'_>, start: i64, len: usize) -> Stems {
    let dialogue = dialogue_range(input, start, len);
    let mut background = vec![0.0f32; len * CHANNELS];
    let end = start + len as i64;
    if let Some(orig) = input.original {
        let relevant: Vec<ClipSignal<'_>> = input
            .clips
            .iter()
            .copied()
            .filter(|c| {
                let d = c.duck.unwrap_or(input.ducking);
                c.end() + d.release as i64 > start && c.position - (d.attack as i64) < end
            })
            .collect();
        let orig_start = input.original_start.max(0);
        let orig_end = input.original_start + (orig.len() / CHANNELS) as i64;
        for t in start.max(orig_start)..end.min(orig_end) {
            let g = input.original_gain * duck_gain(&relevant, input.ducking, t);
            let o = (t - start) as usize * CHANNELS;
            let s = (t - input.original_start) as usize * CHANNELS;
            for ch in 0..CHANNELS {
                background[o + ch] = g * orig[s + ch];
            }
        }
    }
    let mix = dialogue.iter().zip(&background).map(|(a, b)| a + b).collect();
    Stems { dialogue, background, mix }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ones(frames: usize) -> Vec<f32> {
        vec![1.0; frames * CHANNELS]
    }

    #[test]
    fn clip_lands_at_its_position_with_gain_and_fades() {
        let clip = ones(100);
        let input = MixInput {
            original: None,
            original_gain: 1.0,
            original_start: 0,
            clips: vec![ClipSignal {
                samples: &clip,
                position: 50,
                gain: 0.5,
                fade_in: 10,
                fade_out: 10,
                duck: None,
            }],
            ducking: DuckParams { depth_db: 12.0, attack: 0, release: 0 },
        };
        let s = mix_range(&input, 0, 200);
        assert_eq!(s.dialogue[49 * 2], 0.0);
        assert_eq!(s.dialogue[50 * 2], 0.0, "fade-in starts at zero");
        assert!((s.dialogue[55 * 2] - 0.25).abs() < 1e-6);
        assert!((s.dialogue[80 * 2] - 0.5).abs() < 1e-6);
        assert_eq!(s.dialogue[149 * 2], 0.0, "fade-out ends at zero");
        assert_eq!(s.dialogue[150 * 2], 0.0);
        // Mixing in two chunks equals mixing at once.
        let a = mix_range(&input, 0, 120);
        let b = mix_range(&input, 120, 80);
        assert_eq!([a.mix, b.mix].concat(), s.mix);
    }

    #[test]
    fn original_is_ducked_by_depth_under_clip_with_ramps() {
        let orig = ones(1000);
        let clip = vec![0.0f32; 200 * CHANNELS];
        let input = MixInput {
            original: Some(&orig),
            original_gain: 1.0,
            original_start: 0,
            clips: vec![ClipSignal {
                samples: &clip,
                position: 400,
                gain: 1.0,
                fade_in: 0,
                fade_out: 0,
                duck: None,
            }],
            ducking: DuckParams { depth_db: 20.0, attack: 100, release: 100 },
        };
        let s = mix_range(&input, 0, 1000);
        assert_eq!(s.background[299 * 2], 1.0);
        assert!((s.background[400 * 2] - 0.1).abs() < 1e-6);
        assert!((s.background[599 * 2] - 0.1).abs() < 1e-6);
        let mid_attack = s.background[350 * 2];
        assert!(mid_attack > 0.1 && mid_attack < 1.0);
        assert!((s.background[700 * 2] - 1.0).abs() < 1e-6);
        let mid_release = s.background[650 * 2];
        assert!(mid_release > 0.1 && mid_release < 1.0);
    }

    #[test]
    fn a_clip_can_override_the_ducking() {
        let orig = ones(1000);
        let clip = vec![0.0f32; 100 * CHANNELS];
        let signal = |position, duck| ClipSignal {
            samples: &clip,
            position,
            gain: 1.0,
            fade_in: 0,
            fade_out: 0,
            duck,
        };
        let input = MixInput {
            original: Some(&orig),
            original_gain: 1.0,
            original_start: 0,
            clips: vec![
                signal(100, None),
                signal(500, Some(DuckParams { depth_db: 6.0, attack: 0, release: 0 })),
            ],
            ducking: DuckParams { depth_db: 20.0, attack: 0, release: 0 },
        };
        let s = mix_range(&input, 0, 1000);
        assert!((s.background[150 * 2] - 0.1).abs() < 1e-6);
        assert!((s.background[550 * 2] - db_to_gain(-6.0)).abs() < 1e-6);
        assert_eq!(s.background[700 * 2], 1.0);
    }

    #[test]
    fn the_original_given_in_chunks_mixes_as_the_whole() {
        let orig: Vec<f32> = (0..3000 * CHANNELS).map(|i| (i as f32 * 0.01).sin()).collect();
        let clip = ones(300);
        let clips = vec![ClipSignal {
            samples: &clip,
            position: 1000,
            gain: 0.5,
            fade_in: 50,
            fade_out: 50,
            duck: None,
        }];
        let ducking = DuckParams { depth_db: 12.0, attack: 200, release: 300 };
        let whole = MixInput {
            original: Some(&orig),
            original_gain: 0.8,
            original_start: 0,
            clips: clips.clone(),
            ducking,
        };
        let all = mix_range(&whole, 0, 3000);
        let mut chunked = Stems::default();
        for start in (0..3000).step_by(700) {
            let n = 700.min(3000 - start);
            let part = &orig[start * CHANNELS..(start + n) * CHANNELS];
            let input =
                MixInput { original: Some(part), original_start: start as i64, ..whole.clone() };
            let s = mix_range(&input, start as i64, n);
            chunked.dialogue.extend(s.dialogue);
            chunked.background.extend(s.background);
            chunked.mix.extend(s.mix);
        }
        assert_eq!(chunked, all);
    }
}
