//! Generated media for tests, benchmarks and the demo: GStreamer test sources, frames with their
//! index encoded as blocks, and a flash+beep sync clip. No file from outside is needed.

use super::encode::{Tags, Writer, WriterConfig};
use super::{MediaError, init};
use crate::dsp::SAMPLE_RATE;
use crate::model::{FrameRate, Preset};
use gstreamer as gst;
use gstreamer::prelude::*;
use std::path::Path;

/// Bits of the frame index encoded per frame.
const INDEX_BITS: u32 = 16;

/// Writes an H.264 + AAC MP4 from `videotestsrc` (SMPTE bars + time overlay) and a sine tone at
/// amplitude 0.1 (about −23 dBFS RMS, a typical dialogue level).
pub fn write_bars_clip(
    path: &Path,
    frames: u32,
    width: u32,
    height: u32,
    rate: FrameRate,
    tone_hz: f32,
) -> Result<(), MediaError> {
    write_bars_clip_as(path, frames, width, height, rate, tone_hz, None)
}

/// [`write_bars_clip`] with the picture format x264 encodes (`Some("I420")`: 8-bit 4:2:0, what
/// cameras and phones record; `None`: x264's own choice, 10-bit 4:4:4 here).
pub fn write_bars_clip_as(
    path: &Path,
    frames: u32,
    width: u32,
    height: u32,
    rate: FrameRate,
    tone_hz: f32,
    format: Option<&str>,
) -> Result<(), MediaError> {
    init()?;
    let format = format.map(|f| format!("video/x-raw,format={f} ! ")).unwrap_or_default();
    let samples_per_frame =
        (u64::from(SAMPLE_RATE) * u64::from(rate.den) / u64::from(rate.num)).max(1);
    let audio_buffers = (u64::from(frames) * u64::from(SAMPLE_RATE) * u64::from(rate.den))
        .div_ceil(u64::from(rate.num) * samples_per_frame);
    let desc = format!(
        "videotestsrc num-buffers={frames} pattern=smpte ! video/x-raw,width={width},height={height},framerate={}/{} \
         ! timeoverlay ! videoconvert ! {format}x264enc speed-preset=ultrafast key-int-max=50 ! h264parse ! mp4mux name=m \
         ! filesink location=\"{}\" \
         audiotestsrc num-buffers={audio_buffers} samplesperbuffer={samples_per_frame} wave=sine freq={tone_hz} volume=0.1 \
         ! audio/x-raw,rate={SAMPLE_RATE},channels=2 ! audioconvert ! avenc_aac bitrate=192000 ! m.",
        rate.num,
        rate.den,
        path.display()
    );
    run_to_eos(&desc, path)
}

/// Runs a `gst-launch`-style description until EOS.
pub fn run_to_eos(desc: &str, path: &Path) -> Result<(), MediaError> {
    init()?;
    let pipeline = gst::parse::launch(desc).map_err(|e| MediaError::Internal(e.to_string()))?;
    let bus = pipeline.bus().ok_or_else(|| MediaError::Internal("pipeline without bus".into()))?;
    pipeline.set_state(gst::State::Playing).map_err(|e| MediaError::Internal(e.to_string()))?;
    let msg = bus.timed_pop_filtered(
        gst::ClockTime::from_seconds(600),
        &[gst::MessageType::Eos, gst::MessageType::Error],
    );
    let _ = pipeline.set_state(gst::State::Null);
    match msg.as_ref().map(|m| m.view()) {
        Some(gst::MessageView::Eos(_)) => Ok(()),
        Some(gst::MessageView::Error(e)) => {
            Err(MediaError::Encode { path: path.to_path_buf(), reason: e.error().to_string() })
        }
        _ => Err(MediaError::Encode { path: path.to_path_buf(), reason: "timed out".into() }),
    }
}

/// Paints `index` as 16 black/white blocks across the top band of an RGBA picture; the rest is a
/// grey ramp so encoders see ordinary content.
pub fn paint_index(rgba: &mut [u8], width: u32, height: u32, index: u32) {
    let (w, h) = (width as usize, height as usize);
    let band = h / 4;
    let block = w / INDEX_BITS as usize;
    for y in 0..h {
        for x in 0..w {
            let o = (y * w + x) * 4;
            let v = if y < band && x / block.max(1) < INDEX_BITS as usize {
                let bit = (index >> (x / block.max(1))) & 1;
                if bit == 1 { 235 } else { 16 }
            } else {
                (64 + (x * 128) / w.max(1)) as u8
            };
            rgba[o..o + 4].copy_from_slice(&[v, v, v, 255]);
        }
    }
}

/// Reads an index painted by [`paint_index`] (sampling the centre of each block).
pub fn read_index(rgba: &[u8], width: u32, height: u32) -> u32 {
    let (w, h) = (width as usize, height as usize);
    let block = w / INDEX_BITS as usize;
    let y = h / 8;
    (0..INDEX_BITS).fold(0, |acc, bit| {
        let x = bit as usize * block + block / 2;
        let o = (y * w + x) * 4;
        let luma = (u32::from(rgba[o]) + u32::from(rgba[o + 1]) + u32::from(rgba[o + 2])) / 3;
        if luma > 128 { acc | (1 << bit) } else { acc }
    })
}

/// Encodes a generated clip: `picture(i, rgba)` paints frame `i`, `sample(s)` gives the mono
/// value of audio sample `s` (written to both channels), frame by frame so A/V stay interleaved.
#[allow(clippy::too_many_arguments)]
fn write_generated(
    path: &Path,
    preset: Preset,
    frames: u32,
    (width, height, rate): (u32, u32, FrameRate),
    keyframe_interval: Option<u32>,
    mut picture: impl FnMut(u32, &mut [u8]),
    sample: impl Fn(i64) -> f32,
) -> Result<(), MediaError> {
    let cfg = WriterConfig {
        preset,
        video: Some((width, height, rate)),
        tags: Tags::default(),
        keyframe_interval,
    };
    let mut w = Writer::create(path, &cfg)?;
    let mut rgba = vec![0u8; (width * height * 4) as usize];
    let mut next = 0i64;
    for i in 0..frames {
        picture(i, &mut rgba);
        w.push_frame(&rgba)?;
        let end = rate.frame_to_time(i64::from(i) + 1).to_samples(SAMPLE_RATE);
        let audio: Vec<f32> = (next..end).flat_map(|s| [sample(s); 2]).collect();
        w.push_audio(&audio)?;
        next = end;
    }
    w.finish().map(drop)
}

/// Writes a clip whose frames carry their index (see [`paint_index`]) with a quiet 440 Hz
/// tone, through the given preset's encoder.
pub fn write_numbered_clip(
    path: &Path,
    preset: Preset,
    frames: u32,
    width: u32,
    height: u32,
    rate: FrameRate,
    keyframe_interval: u32,
) -> Result<(), MediaError> {
    let tone = |s: i64| 0.1 * (std::f32::consts::TAU * 440.0 * s as f32 / SAMPLE_RATE as f32).sin();
    let paint = |i: u32, rgba: &mut [u8]| paint_index(rgba, width, height, i);
    write_generated(
        path,
        preset,
        frames,
        (width, height, rate),
        Some(keyframe_interval),
        paint,
        tone,
    )
}

/// Writes a dark clip with a white flash on frame `flash_frame` and a 1 kHz beep starting at the
/// same instant and lasting one frame, for A/V sync tests.
pub fn write_flash_beep_clip(
    path: &Path,
    preset: Preset,
    frames: u32,
    width: u32,
    height: u32,
    rate: FrameRate,
    flash_frame: u32,
) -> Result<(), MediaError> {
    let beep_start = rate.frame_to_time(i64::from(flash_frame)).to_samples(SAMPLE_RATE);
    let beep_end = rate.frame_to_time(i64::from(flash_frame) + 1).to_samples(SAMPLE_RATE);
    let beep = |s: i64| {
        if s >= beep_start && s < beep_end {
            0.5 * (std::f32::consts::TAU * 1000.0 * (s - beep_start) as f32 / SAMPLE_RATE as f32)
                .sin()
        } else {
            0.0
        }
    };
    let flash = |i: u32, rgba: &mut [u8]| rgba.fill(if i == flash_frame { 235 } else { 16 });
    write_generated(path, preset, frames, (width, height, rate), None, flash, beep)
}

/// Writes a WAV of interleaved stereo f32 samples at 48 kHz (24-bit PCM).
pub fn write_wav(path: &Path, interleaved: &[f32]) -> Result<(), MediaError> {
    let cfg = WriterConfig {
        preset: Preset::WavStems,
        video: None,
        tags: Tags::default(),
        keyframe_interval: None,
    };
    let mut w = Writer::create(path, &cfg)?;
    w.push_audio(interleaved)?;
    w.finish().map(drop)
}
