//! Encoding: `appsrc` video + `appsrc` audio through the preset's encoders and muxer into a
//! temp file that is renamed onto the target only when everything succeeded.

use super::{MediaError, PixelFormat, make};
use crate::dsp::SAMPLE_RATE;
use crate::model::output::{part_stem, register_part, unregister_part};
pub use crate::model::output::{remove_part_files, remove_stale_parts};
use crate::model::{FrameRate, Preset, Time};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// x264 settings shared by export and the transcode benchmark, so the two compare like for like.
pub const X264_PROPS: &[(&str, &str)] =
    &[("speed-preset", "faster"), ("pass", "qual"), ("quantizer", "21")];

/// Samples of silence the AAC encoder puts before the first input sample. GStreamer's MP4
/// muxer writes no edit list for it, so without compensation every decoder (GStreamer's,
/// FFmpeg's) plays the audio 21 ms late; the writer drops this many input samples instead.
pub const AAC_PRIMING: usize = 1024;

fn priming(preset: Preset) -> usize {
    if preset == Preset::Mp4 { AAC_PRIMING } else { 0 }
}

/// Text written into output tags.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tags {
    /// Title (the project name).
    pub title: String,
    /// Free text, e.g. the disclosure that lips were edited.
    pub comment: String,
}

/// What a [`Writer`] encodes.
#[derive(Clone, Debug, PartialEq)]
pub struct WriterConfig {
    /// Container + codecs. [`Preset::WavStems`] writes one WAV of the audio.
    pub preset: Preset,
    /// Picture size and rate; `None` for audio-only output.
    pub video: Option<(u32, u32, FrameRate)>,
    /// Tags.
    pub tags: Tags,
    /// Maximum distance between keyframes, in frames (encoder default when `None`).
    pub keyframe_interval: Option<u32>,
}

/// Channels of the audio fed to a writer.
pub const WRITER_CHANNELS: usize = 2;

/// An encoding in progress. Dropping it without [`Writer::finish`] deletes the temp file, so a
/// cancelled or failed export leaves nothing at the target path.
pub struct Writer {
    pipeline: gst::Pipeline,
    video_src: Option<gst_app::AppSrc>,
    /// `None` for a picture-only writer (a render-farm piece).
    audio_src: Option<gst_app::AppSrc>,
    /// Whether the file is made reproducible before the rename (see [`WriterMode::stable`]).
    stable: bool,
    rate: Option<FrameRate>,
    frames: i64,
    samples: i64,
    /// Input samples still to drop to cancel the encoder's priming delay (see [`AAC_PRIMING`]).
    skip: usize,
    /// Zero samples to append at the end so the stream keeps its length after the skip.
    pad: usize,
    /// Counts buffers taken from the video and audio inputs (see [`Writer::push_to`]).
    video_drain: Arc<Drain>,
    audio_drain: Arc<Drain>,
    tmp: PathBuf,
    /// The MP4 muxer's spool file, beside the target.
    spool: Option<PathBuf>,
    target: PathBuf,
    finished: bool,
}

fn set_props(e: &gst::Element, props: &[(&str, &str)]) {
    for (k, v) in props {
        e.set_property_from_str(k, v);
    }
}

fn caps_filter(caps: gst::Caps) -> Result<gst::Element, MediaError> {
    let f = make("capsfilter")?;
    f.set_property("caps", caps);
    Ok(f)
}

/// Seconds of encoded video the queue before the muxer holds while the muxer waits for sound:
/// the writer is fed each frame's sound right after the frame, and the audio encoders hold
/// under 0.1 s, so a few seconds is ample.
const VIDEO_QUEUE: Duration = Duration::from_secs(3);

/// How far the pictures may run ahead of the sound pushed so far. The muxer interleaves by
/// time: with the pictures far ahead it waits for sound, the bounded video queue fills and a
/// push would wait for ever; beyond this the push fails with a message instead (each frame's
/// sound belongs right after it).
const MAX_VIDEO_AHEAD: Duration = Duration::from_secs(2);

/// Seconds of encoded sound the queue before the muxer holds beyond the video encoder's delay:
/// while x264 holds its look-ahead, the muxer waits for video and the sound piles up here.
const AUDIO_QUEUE: Duration = Duration::from_secs(10);

/// Frames x264 may hold before its first output (look-ahead, B-frames and frame threads on a
/// many-core machine), for the sound queue's bound.
const VIDEO_ENCODER_DELAY_FRAMES: u64 = 300;

/// Raw sound the writer takes ahead of its encoder: 2 s of interleaved stereo f32.
const AUDIO_INPUT_BYTES: u64 = 2 * SAMPLE_RATE as u64 * WRITER_CHANNELS as u64 * 4;

/// A queue before the muxer holding at most `limit` of encoded stream. A slow muxer or disk
/// then blocks the encoders and, through the inputs' byte limits, the feeding thread
/// (back-pressure) instead of the queues growing without bound. Only time bounds it: the bound
/// must hold the other stream's encoder delay, whatever the bit rate (a byte or buffer bound
/// could fill first and stop the single feeding thread, a muxer deadlock).
fn bounded_queue(limit: Duration) -> Result<gst::Element, MediaError> {
    let q = make("queue")?;
    q.set_property("max-size-buffers", 0u32);
    q.set_property("max-size-bytes", 0u32);
    q.set_property("max-size-time", u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX));
    Ok(q)
}

/// How much encoded sound the queue before the muxer may hold: [`AUDIO_QUEUE`] plus the video
/// encoder's delay at `rate` (300 frames are 12 s at 25 fps, 5 min at 1 fps).
fn audio_queue_limit(rate: Option<FrameRate>) -> Duration {
    let delay = rate.map_or(Duration::ZERO, |r| {
        let frames = i64::try_from(VIDEO_ENCODER_DELAY_FRAMES).unwrap_or(i64::MAX);
        Duration::from_secs_f64(r.frame_to_time(frames).as_seconds_f64().max(0.0))
    });
    AUDIO_QUEUE + delay
}

/// Checks that a preset can encode pictures of `width`×`height`, before anything is written:
/// every muxer (mp4mux, webmmux, qtmux) takes at least 16×16 pixels, and x264enc in 4:2:0 (the
/// MP4 preset) an even width and height. Otherwise GStreamer only says "Internal data stream
/// error" once the first frame is pushed.
pub fn check_frame_size(
    preset: Preset,
    width: u32,
    height: u32,
    target: &Path,
) -> Result<(), MediaError> {
    let (muxer, name) = match preset {
        Preset::Mp4 => ("mp4mux", "MP4"),
        Preset::Webm => ("webmmux", "WebM"),
        Preset::Mov => ("qtmux", "MOV"),
        Preset::WavStems => return Ok(()),
    };
    let mut needs = Vec::new();
    if width < 16 || height < 16 {
        needs.push(format!("{muxer} takes pictures of at least 16×16 pixels"));
    }
    if preset == Preset::Mp4 && (width % 2 == 1 || height % 2 == 1) {
        needs.push("x264enc (H.264 4:2:0) needs an even width and height".to_string());
    }
    if needs.is_empty() {
        return Ok(());
    }
    Err(MediaError::Encode {
        path: target.to_path_buf(),
        reason: format!(
            "cannot export a {width}×{height} picture as {name}: {}; scale or pad the shot first{}",
            needs.join(" and "),
            if preset == Preset::Mp4 && width >= 16 && height >= 16 {
                " (or choose the webm or mov preset)"
            } else {
                ""
            }
        ),
    })
}

/// Checks that every element a preset needs is installed.
pub fn check_preset(preset: Preset) -> Result<(), MediaError> {
    let needed: &[&str] = match preset {
        Preset::Mp4 => &["x264enc", "mp4mux", "h264parse"],
        Preset::Webm => &["vp9enc", "opusenc", "webmmux"],
        Preset::Mov => &["avenc_prores_ks", "qtmux"],
        Preset::WavStems => &["wavenc"],
    };
    for e in needed {
        make(e)?;
    }
    if preset == Preset::Mp4 {
        aac_encoder()?;
    }
    Ok(())
}

fn aac_encoder() -> Result<gst::Element, MediaError> {
    make(aac_encoder_name()?)
}

/// The AAC encoder the MP4 preset uses: FFmpeg's where installed, else VisualOn's.
pub fn aac_encoder_name() -> Result<&'static str, MediaError> {
    ["avenc_aac", "voaacenc"].into_iter().find(|n| super::has_element(n)).ok_or_else(|| {
        MediaError::MissingPlugin {
            element: "avenc_aac".into(),
            package: super::package_for_element("avenc_aac"),
        }
    })
}

/// How a [`Writer`] differs from a plain export's (see [`Writer::create_with`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterMode {
    /// Pictures only: no sound stream (a render-farm piece; its sound is rendered once).
    pub picture_only: bool,
    /// Reproducible bytes: the encoders run on a fixed number of threads, and the muxers'
    /// creation times and random ids are replaced by fixed values, so the same input written
    /// twice (on any machine) gives the same file.
    pub stable: bool,
}

/// x264 threads of a reproducible encoding: x264's output depends on its thread count, so it
/// must not follow the machine's cores.
pub const STABLE_X264_THREADS: u32 = 4;

fn video_chain(
    preset: Preset,
    keyint: Option<u32>,
    stable: bool,
) -> Result<Vec<gst::Element>, MediaError> {
    let raw =
        |fmt: &str| caps_filter(gst::Caps::builder("video/x-raw").field("format", fmt).build());
    Ok(match preset {
        Preset::Mp4 => {
            let enc = make("x264enc")?;
            set_props(&enc, X264_PROPS);
            if stable {
                enc.set_property("threads", STABLE_X264_THREADS);
                enc.set_property("sliced-threads", false);
            }
            if let Some(k) = keyint {
                enc.set_property("key-int-max", k);
            }
            let profile =
                caps_filter(gst::Caps::builder("video/x-h264").field("profile", "high").build())?;
            vec![super::video_converter()?, raw("I420")?, enc, profile, make("h264parse")?]
        }
        Preset::Webm => {
            let enc = make("vp9enc")?;
            set_props(
                &enc,
                &[
                    ("deadline", "1"),
                    ("cpu-used", "6"),
                    ("row-mt", "true"),
                    ("threads", "2"),
                    ("end-usage", "cq"),
                    ("cq-level", "28"),
                    ("target-bitrate", "0"),
                ],
            );
            if let Some(k) = keyint {
                enc.set_property("keyframe-max-dist", k as i32);
            }
            vec![super::video_converter()?, raw("I420")?, enc]
        }
        Preset::Mov => {
            let enc = make("avenc_prores_ks")?;
            enc.set_property_from_str("profile", "hq");
            enc.set_property_from_str("threads", "0");
            vec![super::video_converter()?, raw("I422_10LE")?, enc]
        }
        Preset::WavStems => Vec::new(),
    })
}

fn audio_chain(preset: Preset) -> Result<Vec<gst::Element>, MediaError> {
    let pcm =
        |fmt: &str| caps_filter(gst::Caps::builder("audio/x-raw").field("format", fmt).build());
    Ok(match preset {
        Preset::Mp4 => {
            let enc = aac_encoder()?;
            enc.set_property("bitrate", 192_000i32);
            vec![make("audioconvert")?, enc]
        }
        Preset::Webm => {
            let enc = make("opusenc")?;
            enc.set_property("bitrate", 160_000i32);
            vec![make("audioconvert")?, enc]
        }
        Preset::Mov => vec![make("audioconvert")?, pcm("S24LE")?],
        Preset::WavStems => vec![make("audioconvert")?, pcm("S24LE")?],
    })
}

pub(crate) fn muxer(preset: Preset, spool: &Path) -> Result<gst::Element, MediaError> {
    Ok(match preset {
        Preset::Mp4 => {
            let m = make("mp4mux")?;
            m.set_property("faststart", true);
            // Its default is a `qtmux-N` file in $TMPDIR, left behind when the export is killed
            // and filling another disk than the target's.
            m.set_property("faststart-file", spool.to_string_lossy().as_ref());
            m
        }
        Preset::Webm => make("webmmux")?,
        Preset::Mov => make("qtmux")?,
        Preset::WavStems => make("wavenc")?,
    })
}

/// A temp path beside `target` (same filesystem, so the final rename is atomic):
/// `.NAME.redub-PID.part.EXT`.
pub(crate) fn temp_path(target: &Path) -> PathBuf {
    let mut name = part_stem(target);
    name.push(format!("{}.part.", std::process::id()));
    name.push(target.extension().unwrap_or_default());
    target.with_file_name(name)
}

/// Where the MP4 muxer spools the media data until it writes the index first (faststart):
/// beside the target, `.NAME.redub-PID.part.spool.EXT`, not in `$TMPDIR`.
pub(crate) fn spool_path(target: &Path) -> PathBuf {
    let mut name = part_stem(target);
    name.push(format!("{}.part.spool.", std::process::id()));
    name.push(target.extension().unwrap_or_default());
    target.with_file_name(name)
}

/// Free bytes for an unprivileged writer on the filesystem holding `path` (a file or folder).
pub fn free_bytes(path: &Path) -> Option<u64> {
    #[cfg(unix)]
    {
        let dir = if path.is_dir() {
            path
        } else {
            path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."))
        };
        let st = rustix::fs::statvfs(dir).ok()?;
        Some(st.f_bavail.saturating_mul(st.f_frsize))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// Bytes an export of `duration` in `preset` is likely to take, erring high: x264 at quantizer
/// 21 and VP9 at cq 28 stay under about 0.25 bit per pixel on ordinary footage; ProRes 422 HQ
/// is about 3.6 bits per pixel; PCM is exact. MP4 counts twice: the muxer spools the media
/// beside the target, then writes the file with its index first.
pub fn estimate_bytes(preset: Preset, video: Option<(u32, u32, FrameRate)>, duration: Time) -> u64 {
    let secs = duration.as_seconds_f64().max(0.0);
    let pixels_per_s = video.map_or(0.0, |(w, h, fr)| f64::from(w) * f64::from(h) * fr.as_f64());
    let (video_bpp, audio_bps) = match preset {
        Preset::Mp4 => (0.25, 192_000.0),
        Preset::Webm => (0.25, 160_000.0),
        Preset::Mov => (3.6, 48_000.0 * 2.0 * 24.0),
        Preset::WavStems => (0.0, 48_000.0 * 2.0 * 24.0),
    };
    let bytes = (pixels_per_s * video_bpp + audio_bps) * secs / 8.0;
    let copies = if preset == Preset::Mp4 { 2.0 } else { 1.0 };
    (bytes * copies) as u64
}

/// A failed write: [`MediaError::DiskFull`] when GStreamer says there is no space left or the
/// disk is (nearly) full, else [`MediaError::Encode`] with its message.
pub(crate) fn write_failure(
    target: &Path,
    err: Option<gst::glib::Error>,
    fallback: &str,
) -> MediaError {
    let free = free_bytes(target);
    let nearly_full = free.is_some_and(|f| f < (1 << 20));
    match err {
        Some(e) if e.matches(gst::ResourceError::NoSpaceLeft) || nearly_full => {
            MediaError::DiskFull { path: target.to_path_buf(), free_mb: free.unwrap_or(0) >> 20 }
        }
        Some(e) => MediaError::Encode { path: target.to_path_buf(), reason: e.to_string() },
        None if nearly_full => {
            MediaError::DiskFull { path: target.to_path_buf(), free_mb: free.unwrap_or(0) >> 20 }
        }
        None => MediaError::Encode { path: target.to_path_buf(), reason: fallback.to_string() },
    }
}

/// The first error message waiting on a pipeline's bus.
pub(crate) fn pending_error(pipeline: &gst::Pipeline) -> Option<gst::glib::Error> {
    let bus = pipeline.bus()?;
    while let Some(msg) = bus.pop_filtered(&[gst::MessageType::Error]) {
        if let gst::MessageView::Error(err) = msg.view() {
            return Some(err.error());
        }
    }
    None
}

/// How long a push waits for room in an input queue before it looks at the bus again.
const PUSH_POLL: Duration = Duration::from_millis(20);

/// How long the encoder may take no input at all before the export is declared stalled.
const STALL: Duration = Duration::from_secs(300);

/// Counts buffers leaving an input queue, so a push waiting for room wakes when there is some.
#[derive(Default)]
struct Drain {
    taken: Mutex<u64>,
    cond: Condvar,
}

impl Drain {
    fn watch(self: &Arc<Self>, src: &gst_app::AppSrc) {
        let Some(pad) = src.static_pad("src") else { return };
        let drain = Arc::clone(self);
        pad.add_probe(gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST, move |_, _| {
            if let Ok(mut n) = drain.taken.lock() {
                *n += 1;
            }
            drain.cond.notify_all();
            gst::PadProbeReturn::Ok
        });
    }

    fn taken(&self) -> u64 {
        self.taken.lock().map_or(0, |n| *n)
    }

    /// Waits until a buffer leaves after `seen` were counted, or `timeout`.
    fn wait(&self, seen: u64, timeout: Duration) {
        if let Ok(n) = self.taken.lock()
            && *n == seen
        {
            let _ = self.cond.wait_timeout(n, timeout);
        }
    }
}

/// Checks that `target`'s folder exists and can take a new file, and that `target` is new or a
/// regular file (a device, FIFO or folder would be replaced by the final rename).
pub fn check_writable(target: &Path) -> Result<(), MediaError> {
    let write_err = |reason: String| MediaError::Write { path: target.to_path_buf(), reason };
    let dir = target.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(write_err(format!("folder {} does not exist", dir.display())));
    }
    crate::model::output::check_regular_or_new(target).map_err(|e| write_err(e.reason))?;
    let probe = tempfile::Builder::new().prefix(".redub-write-check").tempfile_in(dir);
    probe.map(drop).map_err(|e| write_err(e.to_string()))
}

impl Writer {
    /// Starts an encoding to `target` (written to a temp file beside it until [`Writer::finish`])
    /// fed RGBA frames ([`Writer::push_frame`]).
    pub fn create(target: &Path, cfg: &WriterConfig) -> Result<Self, MediaError> {
        Self::create_for(target, cfg, &PixelFormat::Rgba)
    }

    /// [`Writer::create`] for frames in `format`: with [`PixelFormat::I420`] (the decoder's caps)
    /// the writer takes I420 frames ([`Writer::push_frame_buffer`]) with the source's
    /// colorimetry, which the H.264 and VP9 presets encode without any conversion.
    pub fn create_for(
        target: &Path,
        cfg: &WriterConfig,
        format: &PixelFormat,
    ) -> Result<Self, MediaError> {
        Self::create_with(target, cfg, format, WriterMode::default())
    }

    /// [`Writer::create_for`] in another [`WriterMode`]: pictures only, reproducible bytes.
    pub fn create_with(
        target: &Path,
        cfg: &WriterConfig,
        format: &PixelFormat,
        mode: WriterMode,
    ) -> Result<Self, MediaError> {
        if mode.picture_only && cfg.video.is_none() {
            return Err(MediaError::Internal("a picture-only writer without pictures".into()));
        }
        check_writable(target)?;
        check_preset(cfg.preset)?;
        if let Some((w, h, _)) = cfg.video {
            check_frame_size(cfg.preset, w, h, target)?;
        }
        remove_stale_parts(target);
        let internal = |e: gst::glib::BoolError| MediaError::Internal(e.to_string());
        let tmp = temp_path(target);
        let spool = (cfg.preset == Preset::Mp4).then(|| spool_path(target));
        let pipeline = gst::Pipeline::new();
        let mux = muxer(cfg.preset, spool.as_deref().unwrap_or(&tmp))?;
        if mode.stable {
            super::stable::fix_muxer(&mux);
        }
        let sink = make("filesink")?;
        sink.set_property("location", &tmp);
        pipeline.add_many([&mux, &sink]).map_err(internal)?;
        mux.link(&sink).map_err(internal)?;
        set_tags(&mux, &cfg.tags);

        let mut video_src = None;
        let mut rate = None;
        if let Some((w, h, fr)) = cfg.video {
            let mut caps = gst::Caps::builder("video/x-raw");
            caps = match format {
                PixelFormat::Rgba => caps.field("format", "RGBA"),
                PixelFormat::I420(src) => {
                    caps = caps.field("format", "I420");
                    // Keep how the source's samples are to be read.
                    let src = gst::Caps::from_str(&src.caps)
                        .map_err(|e| MediaError::Internal(format!("source caps: {e}")))?;
                    if let Some(st) = src.structure(0) {
                        for f in ["colorimetry", "chroma-site"] {
                            if let Ok(v) = st.get::<String>(f) {
                                caps = caps.field(f, v);
                            }
                        }
                    }
                    caps
                }
            };
            let caps = caps
                .field("width", w as i32)
                .field("height", h as i32)
                .field("framerate", gst::Fraction::new(fr.num as i32, fr.den as i32))
                .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
                .build();
            let src = gst_app::AppSrc::builder()
                .caps(&caps)
                .format(gst::Format::Time)
                // Never block inside push_buffer: a push waits for room itself, watching the bus
                // (a full disk stops the pipeline, and a blocked push would wait forever).
                .block(false)
                .max_bytes((u64::from(w) * u64::from(h) * 4 * 4).max(1 << 20))
                .build();
            let mut chain = vec![src.clone().upcast::<gst::Element>()];
            chain.extend(video_chain(cfg.preset, cfg.keyframe_interval, mode.stable)?);
            chain.push(bounded_queue(VIDEO_QUEUE)?);
            pipeline.add_many(&chain).map_err(internal)?;
            gst::Element::link_many(&chain).map_err(internal)?;
            link_to_mux(&chain, &mux, "video_%u")?;
            video_src = Some(src);
            rate = Some(fr);
        }
        let audio_src = if mode.picture_only {
            None
        } else {
            let acaps = gst::Caps::builder("audio/x-raw")
                .field("format", "F32LE")
                .field("layout", "interleaved")
                .field("rate", SAMPLE_RATE as i32)
                .field("channels", WRITER_CHANNELS as i32)
                .field("channel-mask", gst::Bitmask::new(0x3))
                .build();
            let audio_src = gst_app::AppSrc::builder()
                .caps(&acaps)
                .format(gst::Format::Time)
                .block(false)
                .max_bytes(AUDIO_INPUT_BYTES)
                .build();
            let mut chain = vec![audio_src.clone().upcast::<gst::Element>()];
            chain.extend(audio_chain(cfg.preset)?);
            chain.push(bounded_queue(audio_queue_limit(rate))?);
            pipeline.add_many(&chain).map_err(internal)?;
            gst::Element::link_many(&chain).map_err(internal)?;
            link_to_mux(
                &chain,
                &mux,
                if cfg.preset == Preset::WavStems { "sink" } else { "audio_%u" },
            )?;
            Some(audio_src)
        };

        let (video_drain, audio_drain) = (Arc::new(Drain::default()), Arc::new(Drain::default()));
        if let Some(v) = &video_src {
            video_drain.watch(v);
        }
        if let Some(a) = &audio_src {
            audio_drain.watch(a);
        }
        register_part(&tmp);
        if let Some(sp) = &spool {
            register_part(sp);
        }
        let writer = Self {
            pipeline,
            video_src,
            audio_src,
            stable: mode.stable,
            rate,
            frames: 0,
            samples: 0,
            skip: if mode.picture_only { 0 } else { priming(cfg.preset) },
            pad: if mode.picture_only { 0 } else { priming(cfg.preset) },
            video_drain,
            audio_drain,
            tmp,
            spool,
            target: target.to_path_buf(),
            finished: false,
        };
        if writer.pipeline.set_state(gst::State::Playing).is_err() {
            return Err(writer.failure("cannot start the encoder"));
        }
        Ok(writer)
    }

    fn failure(&self, fallback: &str) -> MediaError {
        write_failure(&self.target, pending_error(&self.pipeline), fallback)
    }

    /// Pushes `buffer` into `src` once its queue has room, watching the bus meanwhile: an error
    /// anywhere in the pipeline (a full disk) ends the push at once instead of waiting forever
    /// for a queue nobody drains.
    fn push_to(
        &self,
        src: &gst_app::AppSrc,
        drain: &Drain,
        buffer: gst::Buffer,
        what: &str,
    ) -> Result<(), MediaError> {
        let max = src.max_bytes();
        let mut last_taken = (drain.taken(), Instant::now());
        loop {
            if let Some(e) = pending_error(&self.pipeline) {
                return Err(write_failure(&self.target, Some(e), what));
            }
            if src.current_level_bytes() < max {
                break;
            }
            let seen = drain.taken();
            if seen != last_taken.0 {
                last_taken = (seen, Instant::now());
            } else if last_taken.1.elapsed() > STALL {
                return Err(self.failure(&format!("{what}: no input taken for 5 minutes")));
            }
            drain.wait(seen, PUSH_POLL);
        }
        if src.push_buffer(buffer).is_err() {
            return Err(self.failure(what));
        }
        Ok(())
    }

    /// Appends one RGBA frame (`width * height * 4` bytes); its time follows the previous one.
    pub fn push_frame(&mut self, rgba: &[u8]) -> Result<(), MediaError> {
        self.push_frame_buffer(gst::Buffer::from_mut_slice(rgba.to_vec()))
    }

    /// Appends one frame in the writer's input format (see [`Writer::create_for`]) as a
    /// GStreamer buffer (which may share its bytes); its time follows the previous one.
    pub fn push_frame_buffer(&mut self, mut buffer: gst::Buffer) -> Result<(), MediaError> {
        let (Some(src), Some(rate)) = (&self.video_src, self.rate) else {
            return Err(MediaError::Internal("video pushed to an audio-only writer".into()));
        };
        let pts = rate.frame_to_time(self.frames);
        let next = rate.frame_to_time(self.frames + 1);
        let sound = Time::from_samples(self.samples, SAMPLE_RATE);
        let ahead = (pts - sound).as_seconds_f64();
        if self.audio_src.is_some() && ahead > MAX_VIDEO_AHEAD.as_secs_f64() {
            return Err(MediaError::Internal(format!(
                "the pictures were pushed {ahead:.1} s ahead of the sound (frame {}): push each \
                 frame's sound right after it (the writer's queues are bounded)",
                self.frames
            )));
        }
        if let Some(b) = buffer.get_mut() {
            b.set_pts(super::clock(pts));
            b.set_duration(super::clock(next - pts));
        }
        self.push_to(src, &self.video_drain, buffer, "the video encoder stopped")?;
        self.frames += 1;
        Ok(())
    }

    /// Appends interleaved stereo f32 samples at 48 kHz.
    pub fn push_audio(&mut self, interleaved: &[f32]) -> Result<(), MediaError> {
        let skip = (self.skip * WRITER_CHANNELS)
            .min(interleaved.len() / WRITER_CHANNELS * WRITER_CHANNELS);
        self.skip -= skip / WRITER_CHANNELS;
        self.push_audio_now(&interleaved[skip..])
    }

    fn push_audio_now(&mut self, interleaved: &[f32]) -> Result<(), MediaError> {
        let n = (interleaved.len() / WRITER_CHANNELS) as i64;
        if n == 0 {
            return Ok(());
        }
        let pts = Time::from_samples(self.samples, SAMPLE_RATE);
        let end = Time::from_samples(self.samples + n, SAMPLE_RATE);
        let Some(src) = &self.audio_src else {
            return Err(MediaError::Internal("sound pushed to a picture-only writer".into()));
        };
        let bytes: Vec<u8> = interleaved.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut buffer = gst::Buffer::from_slice(bytes);
        if let Some(b) = buffer.get_mut() {
            b.set_pts(super::clock(pts));
            b.set_duration(super::clock(end - pts));
        }
        self.push_to(src, &self.audio_drain, buffer, "the audio encoder stopped")?;
        self.samples += n;
        Ok(())
    }

    /// Frames pushed so far.
    pub fn frames_written(&self) -> i64 {
        self.frames
    }

    /// The encoding pipeline, for tests that stall or inspect it.
    #[doc(hidden)]
    pub fn pipeline(&self) -> &gst::Pipeline {
        &self.pipeline
    }

    /// Ends the streams, waits for the muxer, and renames the temp file onto the target.
    pub fn finish(mut self) -> Result<PathBuf, MediaError> {
        if let Some(v) = &self.video_src {
            let _ = v.end_of_stream();
        }
        if self.pad > 0 {
            let pad = vec![0.0; self.pad * WRITER_CHANNELS];
            self.push_audio_now(&pad)?;
        }
        if let Some(a) = &self.audio_src {
            let _ = a.end_of_stream();
        }
        let bus = self
            .pipeline
            .bus()
            .ok_or_else(|| MediaError::Internal("pipeline without bus".into()))?;
        let msg = bus.timed_pop_filtered(
            gst::ClockTime::from_seconds(600),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        );
        let outcome = match msg.as_ref().map(|m| m.view()) {
            Some(gst::MessageView::Eos(_)) => Ok(()),
            Some(gst::MessageView::Error(e)) => Err(Some(e.error())),
            _ => Err(None),
        };
        let _ = self.pipeline.set_state(gst::State::Null);
        outcome.map_err(|e| write_failure(&self.target, e, "timed out waiting for the encoder"))?;
        if self.stable {
            super::stable::fix_file(&self.tmp)
                .map_err(|e| MediaError::Write { path: self.tmp.clone(), reason: e.to_string() })?;
        }
        std::fs::rename(&self.tmp, &self.target)
            .map_err(|e| MediaError::Write { path: self.target.clone(), reason: e.to_string() })?;
        self.finished = true;
        self.remove_temp_files();
        Ok(self.target.clone())
    }
}

/// Sets the title, encoder and comment tags on a muxer that takes tags.
pub(crate) fn set_tags(mux: &gst::Element, tags: &Tags) {
    if let Some(setter) = mux.dynamic_cast_ref::<gst::TagSetter>() {
        let mut list = gst::TagList::new();
        {
            let t = list.make_mut();
            t.add::<gst::tags::Title>(&tags.title.as_str(), gst::TagMergeMode::Replace);
            let encoder = format!("Redub {}", crate::VERSION);
            t.add::<gst::tags::Encoder>(&encoder.as_str(), gst::TagMergeMode::Replace);
            t.add::<gst::tags::ApplicationName>(&encoder.as_str(), gst::TagMergeMode::Replace);
            t.add::<gst::tags::Comment>(&tags.comment.as_str(), gst::TagMergeMode::Replace);
        }
        setter.merge_tags(&list, gst::TagMergeMode::Replace);
    }
}

fn link_to_mux(
    chain: &[gst::Element],
    mux: &gst::Element,
    template: &str,
) -> Result<(), MediaError> {
    let last = chain.last().ok_or_else(|| MediaError::Internal("empty chain".into()))?;
    let src = last.static_pad("src").ok_or_else(|| MediaError::Internal("no src pad".into()))?;
    let sink = if template.contains('%') {
        mux.request_pad_simple(template)
    } else {
        mux.static_pad(template)
    }
    .ok_or_else(|| MediaError::Internal(format!("muxer has no pad {template}")))?;
    src.link(&sink).map_err(|e| MediaError::Internal(format!("cannot link to muxer: {e:?}")))?;
    Ok(())
}

impl Writer {
    /// Removes the temp file (unless renamed onto the target) and the muxer's spool file, and
    /// forgets them for [`remove_part_files`].
    fn remove_temp_files(&self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.tmp);
        }
        unregister_part(&self.tmp);
        if let Some(sp) = &self.spool {
            let _ = std::fs::remove_file(sp);
            unregister_part(sp);
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.pipeline.set_state(gst::State::Null);
            self.remove_temp_files();
        }
    }
}
