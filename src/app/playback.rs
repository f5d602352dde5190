//! Playback: a mixer task feeds `dsp::mix::mix_range` of the project (the exact mix export
//! writes) to the audio output, and the number of samples the output has consumed is the
//! master clock, less the output's latency (what was handed to the device but not heard yet).
//! Without an audio device a wall clock runs at real time instead.
//!
//! Shuttle speeds other than 1× are audible: the mixer mixes `speed` times as much timeline
//! per chunk and resamples it to the chunk (a tape-style shuttle: pitch goes up with speed).
//! Reverse shuttle plays silence (the caller says so in the status bar).

use crate::dsp::SAMPLE_RATE;
use crate::dsp::mix::{CHANNELS, mix_range};
use crate::jobs::{Job, Results, Task};
use crate::model::{ClipId, FrameRate, Project, Time};
use crate::render::sources::{Sources, mix_input_with};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::Instant;

/// Sample frames per mixed chunk (about 21 ms).
pub const CHUNK_FRAMES: usize = 1024;
/// Chunks buffered ahead of the output (about 170 ms).
const AHEAD_CHUNKS: usize = 8;

/// The consumer end of the mixer: what an audio callback (or a test's fake device) pulls from.
/// Pulling never locks: chunks arrive over the mixer task's bounded channel and a missing chunk
/// is silence. Dropping it ends the mixer.
pub struct MixPull {
    mixer: Task<Vec<f32>>,
    current: Vec<f32>,
    pos: usize,
    played: Arc<AtomicU64>,
    underruns: Arc<AtomicU64>,
    latency: Arc<AtomicU64>,
    tap: Option<SyncSender<Vec<f32>>>,
    /// Frames played since the last send to the tap (stereo, silence for underruns).
    tapped: Vec<f32>,
}

impl MixPull {
    /// Fills `out` (interleaved, `channels` per frame) and advances the clock by its frames.
    /// Stereo goes to the first two channels; any others stay silent.
    pub fn pull(&mut self, out: &mut [f32], channels: usize) {
        let channels = channels.max(1);
        for frame in out.chunks_mut(channels) {
            if self.pos >= self.current.len() {
                match self.mixer.try_recv() {
                    Some(chunk) => {
                        self.current = chunk;
                        self.pos = 0;
                    }
                    None => {
                        self.underruns.fetch_add(1, Ordering::Relaxed);
                        frame.fill(0.0);
                        if self.tap.is_some() {
                            self.tapped.extend_from_slice(&[0.0; CHANNELS]);
                        }
                        // The clock still runs: the device played silence for this time.
                        self.played.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                }
            }
            let (l, r) = (self.current[self.pos], self.current[self.pos + 1]);
            self.pos += CHANNELS;
            if self.tap.is_some() {
                self.tapped.extend_from_slice(&[l, r]);
            }
            match frame {
                [mono] => *mono = 0.5 * (l + r),
                [a, b, rest @ ..] => {
                    *a = l;
                    *b = r;
                    rest.fill(0.0);
                }
                [] => {}
            }
            self.played.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(tap) = &self.tap
            && self.tapped.len() >= CHUNK_FRAMES * CHANNELS
        {
            // Exactly what the output played, in order; a meter that falls behind misses
            // chunks, the output never waits for it.
            let chunk = std::mem::replace(
                &mut self.tapped,
                Vec::with_capacity(2 * CHUNK_FRAMES * CHANNELS),
            );
            let _ = tap.try_send(chunk);
        }
    }
}

/// Stretched samples of warped clips, by clip.
pub type Warped = Arc<HashMap<ClipId, Arc<Vec<f32>>>>;

/// The producer: a task that mixes the project chunk by chunk ahead of the output. Dropping
/// the feed stops it.
pub struct MixFeed {
    job: Arc<Job>,
}

impl MixFeed {
    /// Starts mixing at timeline sample `start` at 1×, with the warps `sources` was loaded
    /// with; returns the feed and the pull end.
    pub fn start(
        project: Project,
        sources: Arc<Sources>,
        start: i64,
    ) -> std::io::Result<(Self, MixPull)> {
        let warped = Arc::new(sources.warped.clone());
        Self::start_at_speed(project, sources, warped, start, 1)
    }

    /// Starts mixing at timeline sample `start` at a shuttle `speed` (1 = normal; > 1 plays
    /// faster, resampled; ≤ 0 plays silence while the clock runs at that speed), with the
    /// given stretched samples of warped clips.
    pub fn start_at_speed(
        project: Project,
        sources: Arc<Sources>,
        warped: Warped,
        start: i64,
        speed: i32,
    ) -> std::io::Result<(Self, MixPull)> {
        let mixer = Task::spawn("playback-mix", AHEAD_CHUNKS, move |job, out| {
            mix_loop(&project, &sources, &warped, start, speed, out, job);
        })?;
        let job = Arc::clone(mixer.job());
        let pull = MixPull {
            mixer,
            current: Vec::new(),
            pos: 0,
            played: Arc::new(AtomicU64::new(0)),
            underruns: Arc::new(AtomicU64::new(0)),
            latency: Arc::new(AtomicU64::new(0)),
            tap: None,
            tapped: Vec::new(),
        };
        Ok((Self { job }, pull))
    }
}

impl Drop for MixFeed {
    fn drop(&mut self) {
        self.job.cancel();
    }
}

/// Resamples interleaved stereo `src` (any number of frames) to `frames` frames, linearly.
fn resample_chunk(src: &[f32], frames: usize) -> Vec<f32> {
    let n = src.len() / CHANNELS;
    let mut out = vec![0.0f32; frames * CHANNELS];
    if n == 0 {
        return out;
    }
    let step = n as f64 / frames as f64;
    for (i, o) in out.chunks_mut(CHANNELS).enumerate() {
        let x = i as f64 * step;
        let k = (x as usize).min(n - 1);
        let k1 = (k + 1).min(n - 1);
        let f = (x - k as f64) as f32;
        for c in 0..CHANNELS {
            o[c] = src[k * CHANNELS + c] * (1.0 - f) + src[k1 * CHANNELS + c] * f;
        }
    }
    out
}

fn mix_loop(
    project: &Project,
    sources: &Sources,
    warped: &HashMap<ClipId, Arc<Vec<f32>>>,
    start: i64,
    speed: i32,
    out: &Results<Vec<f32>>,
    job: &Job,
) {
    let input = mix_input_with(project, sources, warped);
    let mut at = start;
    let span = CHUNK_FRAMES * speed.unsigned_abs() as usize;
    while !job.is_cancelled() {
        let mut chunk = match speed {
            1 => mix_range(&input, at, CHUNK_FRAMES).mix,
            s if s > 1 => resample_chunk(&mix_range(&input, at, span).mix, CHUNK_FRAMES),
            // Reverse shuttle: silence, but the clock still runs.
            _ => vec![0.0; CHUNK_FRAMES * CHANNELS],
        };
        loop {
            match out.try_send(chunk) {
                Ok(true) => break,
                Ok(false) => return,
                Err(c) => {
                    if job.is_cancelled() {
                        return;
                    }
                    chunk = c;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
            }
        }
        at += span as i64 * i64::from(speed.signum());
    }
}

/// Where playback time comes from.
#[derive(Clone, Debug)]
pub enum Clock {
    /// Samples consumed by the audio output (the master clock).
    Audio {
        /// Frames the output has taken.
        played: Arc<AtomicU64>,
        /// Frames taken but not heard yet (the device's buffer and latency).
        latency: Arc<AtomicU64>,
        /// Timeline time of the first frame.
        start: Time,
        /// Shuttle speed: timeline time per output time.
        speed: i32,
    },
    /// Real time, for no audio device or shuttle speeds other than 1×.
    Wall {
        /// When it started.
        since: Instant,
        /// Timeline time at `since`.
        start: Time,
        /// Speed (negative plays backwards).
        speed: f64,
    },
}

impl Clock {
    /// The timeline time now.
    pub fn now(&self) -> Time {
        match self {
            Clock::Audio { played, latency, start, speed } => {
                let heard =
                    played.load(Ordering::Relaxed).saturating_sub(latency.load(Ordering::Relaxed));
                *start + Time::from_samples(heard as i64 * i64::from(*speed), SAMPLE_RATE)
            }
            Clock::Wall { since, start, speed } => {
                *start + Time::from_seconds_f64(since.elapsed().as_secs_f64() * speed)
            }
        }
    }
}

impl MixPull {
    /// A clock that reads this pull end's consumed samples (less the latency set with
    /// [`MixPull::set_latency_frames`]), at 1×.
    pub fn clock(&self, start: Time) -> Clock {
        self.clock_at_speed(start, 1)
    }

    /// A clock for a shuttle speed: timeline time advances `speed` times the output's.
    pub fn clock_at_speed(&self, start: Time, speed: i32) -> Clock {
        Clock::Audio {
            played: Arc::clone(&self.played),
            latency: Arc::clone(&self.latency),
            start,
            speed,
        }
    }

    /// The output's latency in frames: taken from the mixer but not heard yet. The clock
    /// subtracts it so the picture matches what is heard.
    pub fn set_latency_frames(&self, frames: u64) {
        self.latency.store(frames, Ordering::Relaxed);
    }

    /// A handle for the audio callback to report the latency.
    pub fn latency_handle(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.latency)
    }

    /// Sends what the output plays (stereo, underruns as silence) to `tap` in chunks of at
    /// least [`CHUNK_FRAMES`] (a loudness meter); chunks
    /// are dropped when the receiver is behind.
    pub fn set_tap(&mut self, tap: SyncSender<Vec<f32>>) {
        self.tap = Some(tap);
    }

    /// How many sample frames were filled with silence because the mixer was late.
    pub fn underruns(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.underruns)
    }
}

/// The frame shown at clock time `t`: the newest one whose pts is ≤ `t`.
pub fn frame_at(rate: FrameRate, t: Time) -> i64 {
    rate.time_to_frame(t.max(Time::ZERO))
}

/// A running audio output.
pub struct AudioOut {
    _stream: cpal::Stream,
}

/// Opens the default output device at 48 kHz and plays `pull` through it.
pub fn open_output(mut pull: MixPull) -> anyhow::Result<AudioOut> {
    use anyhow::Context as _;
    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    let host = cpal::default_host();
    let device = host.default_output_device().context("no audio output device")?;
    let supported = device.default_output_config().context("the audio output's configuration")?;
    let channels = supported.channels();
    let latency = pull.latency_handle();
    let config = cpal::StreamConfig {
        channels,
        sample_rate: SAMPLE_RATE,
        buffer_size: cpal::BufferSize::Default,
    };
    let stream = device
        .build_output_stream(
            config,
            move |data: &mut [f32], info: &cpal::OutputCallbackInfo| {
                pull.pull(data, usize::from(channels));
                // This buffer is heard from `playback` on, `delay` after now: until then, what
                // was just taken plus the delay is not heard yet.
                let ts = info.timestamp();
                let delay = ts.playback.duration_since(ts.callback);
                let frames = data.len() / usize::from(channels.max(1));
                let delay_frames = (delay.as_secs_f64() * f64::from(SAMPLE_RATE)).round() as u64;
                latency.store(frames as u64 + delay_frames, Ordering::Relaxed);
            },
            |e| tracing::error!("audio output error: {e}"),
            Some(std::time::Duration::from_secs(2)),
        )
        .context("opening the audio output")?;
    stream.play().context("starting the audio output")?;
    Ok(AudioOut { _stream: stream })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_runs_at_speed() {
        let c = Clock::Wall { since: Instant::now(), start: Time::from_millis(1000), speed: -1.0 };
        assert!(c.now() <= Time::from_millis(1000));
    }

    #[test]
    fn audio_clock_subtracts_latency_and_runs_at_speed() {
        let played = Arc::new(AtomicU64::new(48_000));
        let latency = Arc::new(AtomicU64::new(2_400));
        let c = Clock::Audio {
            played: Arc::clone(&played),
            latency: Arc::clone(&latency),
            start: Time::from_millis(1000),
            speed: 1,
        };
        assert_eq!(c.now(), Time::from_millis(1950));
        let fast = Clock::Audio { played, latency, start: Time::ZERO, speed: 4 };
        assert_eq!(fast.now(), Time::from_millis(3800));
    }

    #[test]
    fn fast_shuttle_resamples_the_mix_and_reverse_is_silent() {
        let mut p = Project::new("s", FrameRate::FPS_25);
        p.timeline.duration = Time::from_millis(2000);
        // A 2 s ramp as the original: at 2× a chunk covers twice the timeline.
        let ramp: Vec<f32> =
            (0..96_000).flat_map(|i| [i as f32 / 96_000.0, i as f32 / 96_000.0]).collect();
        let sources = Sources {
            video: None,
            original: Some(crate::media::AudioBuffer { samples: ramp, channels: 2, rate: 48_000 }),
            original_file: None,
            is_me: false,
            clips: HashMap::new(),
            warped: HashMap::new(),
        };
        let sources = Arc::new(sources);
        let none: Warped = Arc::new(HashMap::new());
        let (_f, mut pull) =
            MixFeed::start_at_speed(p.clone(), Arc::clone(&sources), none.clone(), 0, 2).unwrap();
        let mut out = vec![0.0f32; CHUNK_FRAMES * 2 * 2];
        std::thread::sleep(std::time::Duration::from_millis(100));
        pull.pull(&mut out, 2);
        // After one 2× chunk the ramp is at 2 × CHUNK_FRAMES.
        let v = out[CHUNK_FRAMES * 2];
        assert!((v - (2 * CHUNK_FRAMES) as f32 / 96_000.0).abs() < 1e-3, "{v}");
        let (_f, mut pull) = MixFeed::start_at_speed(p, sources, none, 48_000, -2).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
        pull.pull(&mut out, 2);
        assert!(out.iter().all(|v| *v == 0.0));
        // Two chunks taken at −2×: the clock ran back twice their length.
        assert_eq!(
            pull.clock_at_speed(Time::from_millis(1000), -2).now(),
            Time::from_millis(1000) - Time::from_samples(2 * 2 * CHUNK_FRAMES as i64, SAMPLE_RATE)
        );
    }

    #[test]
    fn preview_plays_the_current_warp_of_a_clip() {
        use crate::model::project::{MediaId, MediaKind, MediaRef};
        use crate::model::{AlignMode, Warp};
        use crate::render::warp_cache::WarpCache;
        let mut p = Project::new("w", FrameRate::FPS_25);
        p.timeline.duration = Time::from_millis(3000);
        p.media.push(MediaRef {
            id: MediaId(1),
            kind: MediaKind::Audio,
            path: "line.wav".into(),
            absolute_path: "/line.wav".into(),
            content_hash: String::new(),
            size: 0,
            duration: Time::from_millis(1000),
        });
        let t = p.add_dub_track("A");
        p.add_clip(t, MediaId(1), Time::ZERO).unwrap();
        // 1 s of a 220 Hz tone, warped to 1.5 s: the preview must be heard for 1.5 s.
        let tone: Vec<f32> = (0..48_000)
            .flat_map(|i| {
                let v = 0.5 * (std::f32::consts::TAU * 220.0 * i as f32 / 48_000.0).sin();
                [v, v]
            })
            .collect();
        p.timeline.dub_tracks[0].clips[0].warp =
            Some(Warp::uniform(AlignMode::Isochrony, Time::from_millis(1000), 1.5));
        let mut clips = HashMap::new();
        clips.insert(
            MediaId(1),
            crate::media::AudioBuffer { samples: tone, channels: 2, rate: 48_000 },
        );
        let warped = crate::render::sources::warped_clips(&p, &clips, &mut WarpCache::new());
        let sources = Arc::new(Sources {
            video: None,
            original: None,
            original_file: None,
            is_me: false,
            clips,
            warped: HashMap::new(),
        });
        let (_f, mut pull) = MixFeed::start_at_speed(p, sources, Arc::new(warped), 0, 1).unwrap();
        let mut heard = Vec::new();
        let underruns = pull.underruns();
        // A device pulling 10 ms buffers in real time.
        let mut buf = vec![0.0f32; 480 * 2];
        std::thread::sleep(std::time::Duration::from_millis(100));
        while heard.len() < 48_000 * 2 * 2 {
            std::thread::sleep(std::time::Duration::from_millis(10));
            pull.pull(&mut buf, 2);
            heard.extend_from_slice(&buf);
        }
        assert_eq!(underruns.load(Ordering::Relaxed), 0, "the mixer kept up");
        let last = heard.chunks(2).rposition(|f| f[0].abs() > 0.05).unwrap();
        let secs = last as f64 / 48_000.0;
        assert!((secs - 1.5).abs() < 0.02, "heard until {secs} s");
    }

    #[test]
    fn frame_at_is_newest_frame_not_after_the_clock() {
        let r = FrameRate::FPS_25;
        assert_eq!(frame_at(r, Time::from_millis(39)), 0);
        assert_eq!(frame_at(r, Time::from_millis(40)), 1);
        assert_eq!(frame_at(r, Time::from_millis(-5)), 0);
    }
}
