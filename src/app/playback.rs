//! Playback: a mixer thread feeds `dsp::mix::mix_range` of the project (the exact mix export
//! writes) to the audio output, and the number of samples the output has consumed is the
//! master clock. Without an audio device a wall clock runs at real time instead.

use crate::dsp::SAMPLE_RATE;
use crate::dsp::mix::{CHANNELS, mix_range};
use crate::model::{FrameRate, Project, Time};
use crate::render::export::{Sources, mix_input};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::time::Instant;

/// Sample frames per mixed chunk (about 21 ms).
pub const CHUNK_FRAMES: usize = 1024;
/// Chunks buffered ahead of the output (about 170 ms).
const AHEAD_CHUNKS: usize = 8;

/// The consumer end of the mixer: what an audio callback (or a test's fake device) pulls from.
/// Pulling never locks: chunks arrive over a bounded channel and a missing chunk is silence.
pub struct MixPull {
    rx: Receiver<Vec<f32>>,
    current: Vec<f32>,
    pos: usize,
    played: Arc<AtomicU64>,
    underruns: Arc<AtomicU64>,
}

impl MixPull {
    /// Fills `out` (interleaved, `channels` per frame) and advances the clock by its frames.
    /// Stereo goes to the first two channels; any others stay silent.
    pub fn pull(&mut self, out: &mut [f32], channels: usize) {
        let channels = channels.max(1);
        for frame in out.chunks_mut(channels) {
            if self.pos >= self.current.len() {
                match self.rx.try_recv() {
                    Ok(chunk) => {
                        self.current = chunk;
                        self.pos = 0;
                    }
                    Err(_) => {
                        self.underruns.fetch_add(1, Ordering::Relaxed);
                        frame.fill(0.0);
                        // The clock still runs: the device played silence for this time.
                        self.played.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                }
            }
            let (l, r) = (self.current[self.pos], self.current[self.pos + 1]);
            self.pos += CHANNELS;
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
    }
}

/// The producer thread: mixes the project chunk by chunk ahead of the output.
pub struct MixFeed {
    stop: Arc<AtomicBool>,
}

impl MixFeed {
    /// Starts mixing at timeline sample `start`; returns the feed and the pull end.
    pub fn start(
        project: Project,
        sources: Arc<Sources>,
        start: i64,
    ) -> std::io::Result<(Self, MixPull)> {
        let (tx, rx) = sync_channel::<Vec<f32>>(AHEAD_CHUNKS);
        let stop = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("playback-mix".into())
            .spawn(move || mix_loop(&project, &sources, start, &tx, &s))?;
        let pull = MixPull {
            rx,
            current: Vec::new(),
            pos: 0,
            played: Arc::new(AtomicU64::new(0)),
            underruns: Arc::new(AtomicU64::new(0)),
        };
        Ok((Self { stop }, pull))
    }
}

impl Drop for MixFeed {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn mix_loop(
    project: &Project,
    sources: &Sources,
    start: i64,
    tx: &SyncSender<Vec<f32>>,
    stop: &AtomicBool,
) {
    let input = mix_input(project, sources);
    let mut at = start;
    while !stop.load(Ordering::Relaxed) {
        let mut chunk = mix_range(&input, at, CHUNK_FRAMES).mix;
        loop {
            match tx.try_send(chunk) {
                Ok(()) => break,
                Err(TrySendError::Full(c)) => {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    chunk = c;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                Err(TrySendError::Disconnected(_)) => return,
            }
        }
        at += CHUNK_FRAMES as i64;
    }
}

/// Where playback time comes from.
#[derive(Clone, Debug)]
pub enum Clock {
    /// Samples consumed by the audio output (the master clock).
    Audio {
        /// Frames the output has taken.
        played: Arc<AtomicU64>,
        /// Timeline time of the first frame.
        start: Time,
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
            Clock::Audio { played, start } => {
                *start + Time::from_samples(played.load(Ordering::Relaxed) as i64, SAMPLE_RATE)
            }
            Clock::Wall { since, start, speed } => {
                *start + Time::from_seconds_f64(since.elapsed().as_secs_f64() * speed)
            }
        }
    }
}

impl MixPull {
    /// A clock that reads this pull end's consumed samples.
    pub fn clock(&self, start: Time) -> Clock {
        Clock::Audio { played: Arc::clone(&self.played), start }
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
pub fn open_output(mut pull: MixPull) -> Result<AudioOut, String> {
    use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
    let host = cpal::default_host();
    let device = host.default_output_device().ok_or("no audio output device")?;
    let supported = device.default_output_config().map_err(|e| e.to_string())?;
    let channels = supported.channels();
    let config = cpal::StreamConfig {
        channels,
        sample_rate: SAMPLE_RATE,
        buffer_size: cpal::BufferSize::Default,
    };
    let stream = device
        .build_output_stream(
            config,
            move |data: &mut [f32], _info: &cpal::OutputCallbackInfo| {
                pull.pull(data, usize::from(channels));
            },
            |e| eprintln!("redub: audio output error: {e}"),
            Some(std::time::Duration::from_secs(2)),
        )
        .map_err(|e| e.to_string())?;
    stream.play().map_err(|e| e.to_string())?;
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
    fn frame_at_is_newest_frame_not_after_the_clock() {
        let r = FrameRate::FPS_25;
        assert_eq!(frame_at(r, Time::from_millis(39)), 0);
        assert_eq!(frame_at(r, Time::from_millis(40)), 1);
        assert_eq!(frame_at(r, Time::from_millis(-5)), 0);
    }
}
