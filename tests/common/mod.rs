//! Helpers shared by the integration tests: generated media, skip logic, CLI runner.
#![allow(dead_code)]

use redub::media::{self, VideoDecoder};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Whether this run is CI (`CI=true`, set by `.ci/run`): there a missing fixture fails the
/// test instead of skipping it, so a test cannot pass by not running.
pub fn under_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// Skips `test` for `why` (a missing fixture or tool): prints it locally, fails under CI.
pub fn skip(test: &str, why: &str) {
    assert!(!under_ci(), "{test}: {why} (CI=true: a missing fixture is a failure)");
    println!("SKIP {test}: {why}");
}

/// The shared test media folder, or `None` after [`skip`]ping.
pub fn shared_media(test: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/media");
    if dir.is_dir() {
        Some(dir)
    } else {
        skip(test, &format!("{} is absent", dir.display()));
        None
    }
}

/// The shared test media folder when it and the models are there, or `None` after [`skip`]ping.
pub fn media_and_models(test: &str) -> Option<PathBuf> {
    let media = shared_media(test)?;
    models_or_skip(test).then_some(media)
}

/// Whether the MTCNN models and ONNX Runtime are installed; [`skip`]s the test if not.
pub fn models_or_skip(test: &str) -> bool {
    let dir = redub::inference::models_dir();
    let ok = dir.join("mtcnn/pnet.onnx").is_file() && redub::inference::find_library().is_ok();
    if !ok {
        let why = format!(
            "models or ONNX Runtime absent under {} (run packaging/setup.sh deps)",
            dir.display()
        );
        skip(test, &why);
    }
    ok
}

/// Speaks `text` with espeak-ng into a WAV file.
pub fn espeak(text: &str, voice: &str, path: &Path) {
    let status = Command::new("espeak-ng")
        .args(["-v", voice, "-w"])
        .arg(path)
        .arg(text)
        .status()
        .expect("espeak-ng is installed by packaging/setup.sh");
    assert!(status.success(), "espeak-ng failed");
}

/// Decodes every frame of a file; returns (count, pts of each frame in seconds).
pub fn all_frames(path: &Path) -> Vec<std::sync::Arc<media::Frame>> {
    let mut dec = VideoDecoder::open_with_cache(path, 0).expect("open");
    let mut frames = Vec::new();
    let mut i = 0;
    loop {
        let f = dec.frame(i).expect("frame");
        if f.index < i {
            break; // held last frame: end of stream
        }
        frames.push(f);
        i += 1;
    }
    frames
}

/// A dub with speech, a 2 s gap, and speech again: espeak-ng lines placed into one WAV.
pub fn dub_with_gap(dir: &Path) -> (std::path::PathBuf, f64) {
    let a = dir.join("a.wav");
    let b = dir.join("b.wav");
    espeak("We choose to go there soon.", "en-us", &a);
    espeak("Because it is hard.", "en-us", &b);
    let (a, b) =
        (media::decode_audio(&a, Some(2)).unwrap(), media::decode_audio(&b, Some(2)).unwrap());
    let a_len = a.samples.len().min(2 * 48_000 * 2);
    let mut out = a.samples[..a_len].to_vec();
    out.resize(out.len() + 2 * 48_000 * 2, 0.0); // the 2 s gap
    out.extend_from_slice(&b.samples);
    let path = dir.join("dub.wav");
    media::testsrc::write_wav(&path, &out).unwrap();
    (path, a_len as f64 / 2.0 / 48_000.0)
}

/// v1 with a [`dub_with_gap`] dub (written into `dir`) bound to its face 0, and its lip plan.
pub struct GapDubbed {
    /// The shot.
    pub video: PathBuf,
    /// The project.
    pub project: redub::model::Project,
    /// Its lip plan: one track.
    pub lips: redub::render::lips::LipRenderer,
    /// Length of the dub's first line, s.
    pub first_line: f64,
}

/// [`GapDubbed`] of the shared media folder `media`, planned in `dir`.
pub fn v1_gap_dubbed(media: &Path, dir: &Path) -> GapDubbed {
    let video = media.join("v1_retalking_face2.mp4");
    let (dub, first_line) = dub_with_gap(dir);
    let project = dub_project(&video, &dub, Some(0));
    let lips =
        redub::render::lips::plan_project_lips(&project, dir, &redub::jobs::Job::new()).unwrap();
    assert_eq!(lips.tracks().len(), 1);
    GapDubbed { video, project, lips, first_line }
}

/// Renders every frame of `video` with the planned `lips` of `project` and checks the edit's
/// guarantee: nothing outside the mouth patch footprint changes anywhere (inside the dub's
/// silence over the actor's original speech the mouth rests: `tests/lip_rest.rs`). Returns how
/// many frames changed.
pub fn edits_stay_in_the_mouth(
    video: &Path,
    project: &redub::model::Project,
    lips: redub::render::lips::LipRenderer,
) -> usize {
    use redub::analysis::mouth_patch::{PATCH_H, PATCH_W, patch_to_image};
    use redub::render::graph::FrameRenderer;
    let face = lips.tracks()[0].face.clone();
    let mut renderer = FrameRenderer::open(video, lips).unwrap();
    let mut source = VideoDecoder::open_with_cache(video, 0).unwrap();
    let (w, h) = renderer.size();
    let (w, h) = (w as usize, h as usize);
    let mut changed_frames = 0;
    for i in 0..project.timeline.frame_rate.time_to_frame(project.timeline.duration) {
        let (out, _) = renderer.render(i).unwrap();
        let src = source.frame(i).unwrap();
        if out != src.data {
            changed_frames += 1;
        }
        // Outside the patch footprint (with a pixel of bilinear reach) nothing changes.
        let Some(tf) = face.at(i) else {
            assert!(out == src.data, "frame {i} without a face is untouched");
            continue;
        };
        let to_patch = patch_to_image(&tf.landmarks).unwrap().inverse();
        for y in 0..h {
            for x in 0..w {
                let p = to_patch.apply([x as f32, y as f32]);
                let outside = p[0] < -1.5
                    || p[1] < -1.5
                    || p[0] > PATCH_W as f32 + 0.5
                    || p[1] > PATCH_H as f32 + 0.5;
                let o = (y * w + x) * 4;
                if outside {
                    assert_eq!(
                        out[o..o + 4],
                        src.data[o..o + 4],
                        "frame {i} pixel ({x},{y}) outside the mouth patch"
                    );
                }
            }
        }
    }
    println!("frames changed: {changed_frames}");
    changed_frames
}

/// Runs the `redub` binary.
pub fn redub(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_redub")).args(args).output().expect("run redub")
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Mean luma of an RGBA frame.
pub fn mean_luma(f: &media::Frame) -> f64 {
    let sum: u64 = f
        .data
        .chunks_exact(4)
        .map(|p| (u64::from(p[0]) + u64::from(p[1]) + u64::from(p[2])) / 3)
        .sum();
    sum as f64 / (f.width as f64 * f.height as f64)
}

/// A project on `video` (its own audio as the original dialogue) with `dub` on one dub track at
/// 0.2 s, bound to `face` when given.
pub fn dub_project(video: &Path, dub: &Path, face: Option<u32>) -> redub::model::Project {
    use redub::model::{MediaKind, Project, Time, lip::FaceId};
    let info = media::probe(video).unwrap();
    let v = info.video.unwrap();
    let mut p = Project::new("test", v.frame_rate);
    let vid = p.add_media(video, MediaKind::Video, info.duration).unwrap();
    p.timeline.video.media = Some(vid);
    p.timeline.original_audio.media = Some(vid);
    let frames = VideoDecoder::open(video).unwrap().frame_count();
    p.timeline.duration = v.frame_rate.frame_to_time(frames);
    let d = media::probe(dub).unwrap();
    let a = p.add_media(dub, MediaKind::Audio, d.duration).unwrap();
    let t = p.add_dub_track("Dub 1");
    p.add_clip(t, a, Time::from_millis(200)).unwrap();
    p.timeline.dub_tracks[0].face = face.map(FaceId);
    p
}

/// The editor in a headless 1440×900 window (egui_kittest on wgpu), its data under `data`,
/// no audio device.
pub fn harness(
    data: &Path,
    project: Option<PathBuf>,
) -> egui_kittest::Harness<'static, redub::app::RedubApp> {
    use redub::app::{AppOptions, RedubApp, storage::Dirs};
    let options = AppOptions { project, dirs: Some(Dirs::under(data)), audio: false, script: None };
    egui_kittest::Harness::builder()
        .with_size([1440.0, 900.0])
        .with_max_steps(400)
        .wgpu()
        .build_eframe(move |cc| {
            redub::app::share_render_device(cc);
            RedubApp::new(cc.egui_ctx.clone(), options)
        })
}

/// Steps the editor until `done` holds (its workers run in real time); panics after `secs`
/// with the log, the viewer's state and the lip preview's status.
pub fn step_until_secs(
    h: &mut egui_kittest::Harness<'_, redub::app::RedubApp>,
    what: &str,
    secs: u64,
    done: impl Fn(&redub::app::RedubApp) -> bool,
) {
    let start = std::time::Instant::now();
    while !done(h.state()) {
        if start.elapsed() > std::time::Duration::from_secs(secs) {
            let a = h.state();
            panic!(
                "timed out waiting for {what}; log {:?}; shown {:?}; viewer error {:?}; \
                 playhead {:?}; preview {:?}",
                a.log,
                a.viewer.shown.as_ref().map(|f| f.index),
                a.viewer.error,
                a.playhead,
                a.lip_preview.status_text()
            );
        }
        h.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    h.run_ok();
}

/// [`step_until_secs`] with a 90 s limit.
pub fn step_until(
    h: &mut egui_kittest::Harness<'_, redub::app::RedubApp>,
    what: &str,
    done: impl Fn(&redub::app::RedubApp) -> bool,
) {
    step_until_secs(h, what, 90, done);
}

/// A real mouse drag: press, move in steps, release.
pub fn drag(
    h: &mut egui_kittest::Harness<'_, redub::app::RedubApp>,
    from: egui::Pos2,
    to: egui::Pos2,
) {
    h.event(egui::Event::PointerMoved(from));
    h.step();
    h.event(egui::Event::PointerButton {
        pos: from,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: egui::Modifiers::NONE,
    });
    h.step();
    for k in 1..=8 {
        let p = from + (to - from) * (k as f32 / 8.0);
        h.event(egui::Event::PointerMoved(p));
        h.step();
    }
    h.event(egui::Event::PointerButton {
        pos: to,
        button: egui::PointerButton::Primary,
        pressed: false,
        modifiers: egui::Modifiers::NONE,
    });
    h.step();
    h.run_ok();
}

/// Writes an MP4 shot of `n` frames of `w`×`h` RGBA from `frame(i)`, with `audio` (48 kHz
/// interleaved stereo, padded with silence or cut to the video's length) as its sound.
pub fn write_shot(
    out: &Path,
    (w, h): (u32, u32),
    rate: redub::model::FrameRate,
    n: usize,
    audio: &[f32],
    mut frame: impl FnMut(usize) -> Vec<u8>,
) {
    use redub::media::encode::{Tags, Writer, WriterConfig};
    let cfg = WriterConfig {
        preset: redub::model::Preset::Mp4,
        video: Some((w, h, rate)),
        tags: Tags::default(),
        keyframe_interval: None,
    };
    let mut writer = Writer::create(out, &cfg).unwrap();
    let per_frame = (48_000.0 / rate.as_f64()).round() as usize * 2;
    for i in 0..n {
        writer.push_frame(&frame(i)).unwrap();
        let s = (i * per_frame).min(audio.len());
        let e = ((i + 1) * per_frame).min(audio.len());
        let mut chunk = audio[s..e].to_vec();
        chunk.resize(per_frame, 0.0);
        writer.push_audio(&chunk).unwrap();
    }
    writer.finish().unwrap();
}

/// The public-domain astronaut photo installed by `packaging/setup.sh deps` (a face whose
/// pictures may go into committed snapshots), or `None` after [`skip`]ping.
pub fn astronaut_or_skip(test: &str) -> Option<image::RgbaImage> {
    let path = redub::inference::models_dir().join("fixtures/astronaut.png");
    match image::open(&path) {
        Ok(img) => Some(img.to_rgba8()),
        Err(e) => {
            skip(test, &format!("{} unreadable ({e})", path.display()));
            None
        }
    }
}

/// A talking-head shot made from the astronaut photo: `faces` copies side by side (every other
/// one mirrored), each `size`×`size`, `n` frames at 25 fps, with an espeak-ng line as its sound.
/// Each frame drifts by a pixel or two, like a hand-held camera, so frames are not all alike.
pub fn astronaut_shot(photo: &image::RgbaImage, faces: u32, size: u32, n: usize, out: &Path) {
    let line = out.with_extension("line.wav");
    espeak("We choose to go to the moon in this decade and do the other things.", "en-us", &line);
    let audio = media::decode_audio(&line, Some(2)).unwrap();
    let big =
        image::imageops::resize(photo, size + 4, size + 4, image::imageops::FilterType::Triangle);
    let mirrored = image::imageops::flip_horizontal(&big);
    let (w, h) = (faces * size, size);
    write_shot(out, (w, h), redub::model::FrameRate::FPS_25, n, &audio.samples, |i| {
        let (dx, dy) = ((i % 5) as u32, ((i / 2) % 3) as u32);
        let mut canvas = image::RgbaImage::new(w, h);
        for k in 0..faces {
            let src = if k % 2 == 0 { &big } else { &mirrored };
            let view = image::imageops::crop_imm(src, dx.min(4), dy, size, size).to_image();
            image::imageops::replace(&mut canvas, &view, i64::from(k * size), 0);
        }
        canvas.into_raw()
    });
}

/// A deterministic random source for the mutation fuzzers (xorshift64*: fast, reproducible).
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Records consent to a lip edit of `face` in `project` (for tests about binding and drawing, not
/// about the consent prompt: binding an unconsented face asks first).
pub fn record_consent(project: &mut redub::model::Project, face: u32) {
    project.timeline.consent.push(redub::model::consent::FaceConsent {
        face: redub::model::lip::FaceId(face),
        person: "Test face".into(),
        given: true,
        recorded_by: "test".into(),
        recorded_at: "2026-01-01 00:00:00 UTC".into(), // fixed: snapshots show it
        scope: String::new(),
        reference: None,
    });
}
