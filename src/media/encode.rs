//! Encoding: `appsrc` video + `appsrc` audio through the preset's encoders and muxer into a
//! temp file that is renamed onto the target only when everything succeeded.

use super::{MediaError, PixelFormat, bus_error, make};
use crate::dsp::SAMPLE_RATE;
use crate::model::{FrameRate, Preset, Time};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use std::path::{Path, PathBuf};
use std::str::FromStr;

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
    audio_src: gst_app::AppSrc,
    rate: Option<FrameRate>,
    frames: i64,
    samples: i64,
    /// Input samples still to drop to cancel the encoder's priming delay (see [`AAC_PRIMING`]).
    skip: usize,
    /// Zero samples to append at the end so the stream keeps its length after the skip.
    pad: usize,
    tmp: PathBuf,
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

fn unbounded_queue() -> Result<gst::Element, MediaError> {
    // Encoders with look-ahead hold many frames; a bounded queue on the other stream would then
    // block the single feeding thread (a classic muxer deadlock).
    let q = make("queue")?;
    q.set_property("max-size-buffers", 0u32);
    q.set_property("max-size-bytes", 0u32);
    q.set_property("max-size-time", 0u64);
    Ok(q)
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

fn video_chain(preset: Preset, keyint: Option<u32>) -> Result<Vec<gst::Element>, MediaError> {
    let raw =
        |fmt: &str| caps_filter(gst::Caps::builder("video/x-raw").field("format", fmt).build());
    Ok(match preset {
        Preset::Mp4 => {
            let enc = make("x264enc")?;
            set_props(&enc, X264_PROPS);
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

fn muxer(preset: Preset) -> Result<gst::Element, MediaError> {
    Ok(match preset {
        Preset::Mp4 => {
            let m = make("mp4mux")?;
            m.set_property("faststart", true);
            m
        }
        Preset::Webm => make("webmmux")?,
        Preset::Mov => make("qtmux")?,
        Preset::WavStems => make("wavenc")?,
    })
}

/// A temp path beside `target` (same filesystem, so the final rename is atomic).
fn temp_path(target: &Path) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = target.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default();
    target.with_file_name(format!(".{name}.redub-{}.part.{ext}", std::process::id()))
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
        check_writable(target)?;
        check_preset(cfg.preset)?;
        let internal = |e: gst::glib::BoolError| MediaError::Internal(e.to_string());
        let tmp = temp_path(target);
        let pipeline = gst::Pipeline::new();
        let mux = muxer(cfg.preset)?;
        let sink = make("filesink")?;
        sink.set_property("location", &tmp);
        pipeline.add_many([&mux, &sink]).map_err(internal)?;
        mux.link(&sink).map_err(internal)?;
        if let Some(setter) = mux.dynamic_cast_ref::<gst::TagSetter>() {
            let mut tags = gst::TagList::new();
            {
                let t = tags.make_mut();
                t.add::<gst::tags::Title>(&cfg.tags.title.as_str(), gst::TagMergeMode::Replace);
                let encoder = format!("Redub {}", crate::VERSION);
                t.add::<gst::tags::Encoder>(&encoder.as_str(), gst::TagMergeMode::Replace);
                t.add::<gst::tags::ApplicationName>(&encoder.as_str(), gst::TagMergeMode::Replace);
                t.add::<gst::tags::Comment>(&cfg.tags.comment.as_str(), gst::TagMergeMode::Replace);
            }
            setter.merge_tags(&tags, gst::TagMergeMode::Replace);
        }

        let mut video_src = None;
        let mut rate = None;
        if let Some((w, h, fr)) = cfg.video {
            let mut caps = gst::Caps::builder("video/x-raw");
            caps = match format {
                PixelFormat::Rgba => caps.field("format", "RGBA"),
                PixelFormat::I420(src) => {
                    caps = caps.field("format", "I420");
                    // Keep how the source's samples are to be read.
                    let src = gst::Caps::from_str(src)
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
                .block(true)
                .max_bytes((u64::from(w) * u64::from(h) * 4 * 4).max(1 << 20))
                .build();
            let mut chain = vec![src.clone().upcast::<gst::Element>()];
            chain.extend(video_chain(cfg.preset, cfg.keyframe_interval)?);
            chain.push(unbounded_queue()?);
            pipeline.add_many(&chain).map_err(internal)?;
            gst::Element::link_many(&chain).map_err(internal)?;
            link_to_mux(&chain, &mux, "video_%u")?;
            video_src = Some(src);
            rate = Some(fr);
        }
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
            .block(true)
            .max_bytes(64 << 20)
            .build();
        let mut chain = vec![audio_src.clone().upcast::<gst::Element>()];
        chain.extend(audio_chain(cfg.preset)?);
        chain.push(unbounded_queue()?);
        pipeline.add_many(&chain).map_err(internal)?;
        gst::Element::link_many(&chain).map_err(internal)?;
        link_to_mux(
            &chain,
            &mux,
            if cfg.preset == Preset::WavStems { "sink" } else { "audio_%u" },
        )?;

        let writer = Self {
            pipeline,
            video_src,
            audio_src,
            rate,
            frames: 0,
            samples: 0,
            skip: priming(cfg.preset),
            pad: priming(cfg.preset),
            tmp,
            target: target.to_path_buf(),
            finished: false,
        };
        if writer.pipeline.set_state(gst::State::Playing).is_err() {
            return Err(writer.failure("cannot start the encoder"));
        }
        Ok(writer)
    }

    fn failure(&self, fallback: &str) -> MediaError {
        let reason =
            self.pipeline.bus().and_then(|b| bus_error(&b)).unwrap_or_else(|| fallback.to_string());
        MediaError::Encode { path: self.target.clone(), reason }
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
        if let Some(b) = buffer.get_mut() {
            b.set_pts(super::clock(pts));
            b.set_duration(super::clock(next - pts));
        }
        if src.push_buffer(buffer).is_err() {
            return Err(self.failure("the video encoder stopped"));
        }
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
        let bytes: Vec<u8> = interleaved.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut buffer = gst::Buffer::from_slice(bytes);
        if let Some(b) = buffer.get_mut() {
            b.set_pts(super::clock(pts));
            b.set_duration(super::clock(end - pts));
        }
        if self.audio_src.push_buffer(buffer).is_err() {
            return Err(self.failure("the audio encoder stopped"));
        }
        self.samples += n;
        Ok(())
    }

    /// Frames pushed so far.
    pub fn frames_written(&self) -> i64 {
        self.frames
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
        let _ = self.audio_src.end_of_stream();
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
            Some(gst::MessageView::Error(e)) => Err(e.error().to_string()),
            _ => Err("timed out waiting for the encoder".to_string()),
        };
        let _ = self.pipeline.set_state(gst::State::Null);
        outcome.map_err(|reason| MediaError::Encode { path: self.target.clone(), reason })?;
        std::fs::rename(&self.tmp, &self.target)
            .map_err(|e| MediaError::Write { path: self.target.clone(), reason: e.to_string() })?;
        self.finished = true;
        Ok(self.target.clone())
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

impl Drop for Writer {
    fn drop(&mut self) {
        if !self.finished {
            let _ = self.pipeline.set_state(gst::State::Null);
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
