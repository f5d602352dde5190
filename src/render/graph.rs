//! The picture path of the render graph: decoded frame → lip edits → output frame, one frame
//! at a time for the viewer, or a range in order on worker threads for the export.

use super::RenderError;
use super::compositor::Backend;
use super::lips::LipRenderer;
use crate::jobs::Job;
use crate::media::{MediaError, VideoDecoder};
use std::path::Path;
use std::sync::Arc;

/// Where the export's thread spent its time, in seconds (for benchmarks).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExportTiming {
    /// From the start to the first frame: reading sources, opening the shot and the encoder,
    /// and waiting for the lip plan.
    pub start: f64,
    /// Decoding (pulling frames from the decoder, on its own thread when the lip edit runs on
    /// workers; where frames render one by one, their lip edit too).
    pub decode: f64,
    /// Waiting for decoded and lip-edited frames.
    pub wait: f64,
    /// Handing frames and sound to the encoder (blocks while the encoder is behind).
    pub write: f64,
    /// Closing the file (the encoder's last frames, the muxer).
    pub finish: f64,
}

/// The picture path of the render graph: decoded frame → lip edits → output frame. The viewer
/// and the export both use it, so what is previewed is what is written.
///
/// Frames stay in the decoder's own format (I420) from decode to encoder: the lip edit converts
/// only the mouth's rectangle to RGBA (in the frame and the neighbours the occlusion test
/// reads), blends there, and writes the change back ([`crate::render::pixels`]). The viewer's RGBA
/// is the display conversion of exactly the I420 picture the encoder receives.
pub struct FrameRenderer {
    decoder: VideoDecoder,
    lips: LipRenderer,
    /// The work pictures of the lip edit.
    editor: Editor,
    /// Lip-edit workers of [`FrameRenderer::render_range`] (`None`: by cores and frame size).
    workers: Option<usize>,
    /// The RGBA conversions of the last source frames (the viewer asks for a frame's source and
    /// its render, which are the same picture when nothing is edited).
    rgba: Vec<Arc<crate::media::Frame>>,
}

/// The lip edit of decoded I420 frames: RGBA work pictures of the last frames converted (the
/// frame and the neighbours its occlusion test reads; full size, only each one's edit region
/// written) and where the edit is blended. Each export worker has its own.
#[derive(Default)]
struct Editor {
    work: [WorkPicture; 3],
    scratch: Vec<u8>,
}

/// A frame's edit region converted to RGBA (see [`Editor::edit`]).
#[derive(Default)]
struct WorkPicture {
    /// The frame it holds, if any.
    index: Option<i64>,
    /// The converted rectangle.
    rect: crate::render::pixels::Rect,
    /// Full-size RGBA; only `rect` is meaningful.
    rgba: Vec<u8>,
}

/// Decoded frames handed to one export worker: a run of consecutive frames and, on each side,
/// the neighbour its occlusion test may read.
struct Chunk {
    /// Sequence number (results are written in this order).
    seq: usize,
    /// The frames to render.
    range: std::ops::Range<i64>,
    /// Those frames and their neighbours, as the decoder answered for each index asked (past
    /// the end it answers with the last frame, as in [`FrameRenderer::render_native`]).
    frames: Vec<(i64, Arc<crate::media::Frame>)>,
}

impl Chunk {
    fn get(&self, j: i64) -> Option<Arc<crate::media::Frame>> {
        self.frames.iter().find(|(i, _)| *i == j).map(|(_, f)| f.clone())
    }
}

/// Frames per [`Chunk`]: long enough that a worker converts most frames once (as the frame,
/// then as its neighbours' neighbour), short enough to keep every worker busy.
const CHUNK_FRAMES: i64 = 8;

/// Export workers for `w`×`h` frames: half the cores (the encoder takes the rest), at most 8,
/// and no more than 512 MB of work pictures (four full-size RGBA pictures each).
fn export_workers(w: u32, h: u32) -> usize {
    if let Some(n) =
        std::env::var("REDUB_EXPORT_WORKERS").ok().and_then(|v| v.parse::<usize>().ok())
    {
        return n.clamp(1, 64);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let per_worker = 16 * w as usize * h as usize;
    (cores / 2).clamp(1, 8).min((512 << 20) / per_worker.max(1)).max(1)
}

type Edited = (Arc<crate::media::Frame>, Option<Backend>);

/// The lip edit of decoded frame `frame` (asked for as frame `i`) when it is I420 and edited
/// there; `get(j)` gives the decoded neighbours. Otherwise the frame as it is (RGBA frames are
/// edited by [`FrameRenderer::render_native`] itself).
fn edit_decoded(
    lips: &LipRenderer,
    editor: &mut Editor,
    i: i64,
    frame: Arc<crate::media::Frame>,
    get: impl FnMut(i64) -> Option<Arc<crate::media::Frame>>,
) -> Result<Edited, RenderError> {
    match &frame.format {
        crate::media::PixelFormat::I420(caps) if lips.draws(i) => {
            let colorimetry = caps.colorimetry;
            editor.edit(lips, frame, colorimetry, get)
        }
        _ => Ok((frame, None)),
    }
}

impl Editor {
    /// Forgets the converted pictures (their regions come from the plan).
    fn reset(&mut self) {
        self.work.iter_mut().for_each(|w| w.index = None);
    }

    /// The slot of `work` that holds frame `j` with its edit region converted (see
    /// [`LipRenderer::region`]), converting it first unless it is there from an earlier frame
    /// (sequential rendering converts each frame once and reuses it as the next frame's
    /// neighbour). `None` when `j` is not given or has no region.
    fn converted(
        &mut self,
        lips: &LipRenderer,
        j: i64,
        frame: Option<Arc<crate::media::Frame>>,
    ) -> Result<Option<usize>, RenderError> {
        if j < 0 {
            return Ok(None);
        }
        if let Some(k) = self.work.iter().position(|w| w.index == Some(j)) {
            return Ok(Some(k));
        }
        let Some(frame) = frame.filter(|f| f.index == j) else { return Ok(None) };
        let (w, h) = (frame.width as usize, frame.height as usize);
        let Some(rect) = lips.region(j, w, h) else { return Ok(None) };
        // Reuse the slot of the frame furthest from `j`.
        let k = (0..self.work.len())
            .max_by_key(|&k| self.work[k].index.map_or(i64::MAX, |x| (x - j).abs()))
            .unwrap_or(0);
        let slot = &mut self.work[k];
        if slot.rgba.len() != w * h * 4 {
            slot.rgba = vec![0; w * h * 4];
        }
        slot.index = None;
        crate::render::pixels::roi_to_rgba(&frame, rect, &mut slot.rgba)?;
        (slot.index, slot.rect) = (Some(j), rect);
        Ok(Some(k))
    }

    /// The lip edit of I420 frame `frame` (index `i`, read with `colorimetry`); `get(j)` gives the
    /// decoded frame `j` for the neighbours. An unedited frame is returned as it is.
    fn edit(
        &mut self,
        lips: &LipRenderer,
        frame: Arc<crate::media::Frame>,
        colorimetry: crate::media::yuv::Colorimetry,
        mut get: impl FnMut(i64) -> Option<Arc<crate::media::Frame>>,
    ) -> Result<Edited, RenderError> {
        let i = frame.index;
        let Some(cur) = self.converted(lips, i, Some(frame.clone()))? else {
            return Ok((frame, None));
        };
        // The neighbours for the temporal occlusion test (decoded once: the frame cache keeps
        // them; converted once: the work slots keep them).
        let (prev, next) = if lips.needs_neighbours(i) {
            (self.converted(lips, i - 1, get(i - 1))?, self.converted(lips, i + 1, get(i + 1))?)
        } else {
            (None, None)
        };
        let (w, h) = (frame.width as usize, frame.height as usize);
        let rect = self.work[cur].rect;
        let src = &self.work[cur].rgba;
        let slice = |k: Option<usize>| k.map(|k| self.work[k].rgba.as_slice());
        let layers = lips.layers_with(i, src, w, h, [slice(prev), slice(next)]);
        // Only the part the layers can change is copied, blended and written back.
        let Some(fp) = LipRenderer::footprint(&layers, w, h).and_then(|f| f.intersect(rect)) else {
            return Ok((frame, None));
        };
        // The edit blends into a copy of the current frame's work picture: the slot itself
        // stays the source (it is the next frame's neighbour).
        let mut edit = std::mem::take(&mut self.scratch);
        if edit.len() != w * h * 4 {
            edit = vec![0; w * h * 4];
        }
        for y in fp.y0..fp.y1 {
            let r = (y * w + fp.x0) * 4..(y * w + fp.x1) * 4;
            edit[r.clone()].copy_from_slice(&src[r]);
        }
        let backend = lips.blend(layers, &mut edit, w, h);
        let mut out = Ok((frame.clone(), None));
        if backend.is_some() {
            let mut data = crate::media::video::pool::copy_of(&frame.data);
            let changed = crate::render::pixels::apply_rgba_edit(
                &mut data,
                colorimetry,
                w,
                h,
                fp,
                src,
                &edit,
            );
            out = Ok(if changed {
                (Arc::new(with_data(&frame, data)), backend)
            } else {
                (frame, backend)
            });
        }
        self.scratch = edit;
        out
    }
}

/// Decoded pictures a front-to-back render keeps in its decoder's cache (a few frames).
const SEQUENTIAL_CACHE_BYTES: usize = 16 << 20;

/// RGBA source pictures kept by a [`FrameRenderer`].
const RGBA_KEPT: usize = 4;

impl FrameRenderer {
    /// Opens the shot with planned lip edits.
    pub fn open(video: &Path, lips: LipRenderer) -> Result<Self, RenderError> {
        let decoder = VideoDecoder::open_i420(video, crate::media::video::DEFAULT_CACHE_BYTES)?;
        Ok(Self::with_decoder(decoder, lips))
    }

    /// [`FrameRenderer::open`] for rendering front to back (export): the decoder does not
    /// count the frames first (see [`VideoDecoder::open_i420_sequential`]).
    pub fn open_sequential(video: &Path, lips: LipRenderer) -> Result<Self, RenderError> {
        // Frames travel to the workers and the encoder with their chunk; the decoder keeps only
        // a few (so dropped pictures go back to the buffer pool instead of piling up).
        let decoder = VideoDecoder::open_i420_sequential(video, SEQUENTIAL_CACHE_BYTES)?;
        Ok(Self::with_decoder(decoder, lips))
    }

    fn with_decoder(decoder: VideoDecoder, lips: LipRenderer) -> Self {
        Self { decoder, lips, editor: Editor::default(), workers: None, rgba: Vec::new() }
    }

    /// Sets the number of lip-edit workers [`FrameRenderer::render_range`] uses (at least 1);
    /// by default half the cores, at most 8, fewer for very large frames.
    pub fn set_workers(&mut self, n: usize) {
        self.workers = Some(n.max(1));
    }

    /// Picture size.
    pub fn size(&self) -> (u32, u32) {
        self.decoder.size()
    }

    /// The lip edits.
    pub fn lips(&self) -> &LipRenderer {
        &self.lips
    }

    /// Frames in the shot (as the decoder counts them).
    pub fn frame_count(&self) -> i64 {
        self.decoder.frame_count()
    }

    /// Replaces the lip edits (the viewer swaps in a new plan without reopening the shot).
    pub fn set_lips(&mut self, lips: LipRenderer) {
        self.lips = lips;
        self.editor.reset();
    }

    /// The decoded source frame `i` in the decoder's own format, before any edit.
    pub fn source_native(&mut self, i: i64) -> Result<Arc<crate::media::Frame>, RenderError> {
        Ok(self.decoder.frame(i)?)
    }

    /// The decoded source frame `i` as RGBA, before any edit (the viewer's "before" and its
    /// masks).
    pub fn source(&mut self, i: i64) -> Result<Arc<crate::media::Frame>, RenderError> {
        let yuv = self.decoder.frame(i)?;
        if yuv.format == crate::media::PixelFormat::Rgba {
            return Ok(yuv);
        }
        if let Some(f) = self.rgba.iter().find(|f| f.index == yuv.index) {
            return Ok(f.clone());
        }
        let f = Arc::new(rgba_frame(&yuv, crate::media::yuv::to_rgba(&yuv)?));
        if self.rgba.len() >= RGBA_KEPT {
            self.rgba.remove(0);
        }
        self.rgba.push(f.clone());
        Ok(f)
    }

    /// [`FrameRenderer::render_native`] of a stream decoded to RGBA: the edit blends into a
    /// copy of the frame.
    fn render_rgba_frame(
        &mut self,
        i: i64,
        frame: Arc<crate::media::Frame>,
    ) -> Result<(Arc<crate::media::Frame>, Option<Backend>), RenderError> {
        let mut get = |j: i64| self.decoder.frame(j).ok().filter(|f| f.index == j);
        let [prev, next] =
            if self.lips.needs_neighbours(i) { [get(i - 1), get(i + 1)] } else { [None, None] };
        let (w, h) = (frame.width as usize, frame.height as usize);
        let mut data = crate::media::video::pool::copy_of(&frame.data);
        let neighbours =
            [prev.as_ref().map(|f| f.data.as_slice()), next.as_ref().map(|f| f.data.as_slice())];
        let Some(backend) = self.lips.apply_with(i, &mut data, w, h, neighbours) else {
            return Ok((frame, None));
        };
        Ok((Arc::new(with_data(&frame, data)), Some(backend)))
    }

    /// The output frame `i` in the decoder's own format (I420 for most streams, else RGBA: see
    /// [`VideoDecoder::open_i420`]), which the encoder takes, and which compositor edited it,
    /// if any. An unedited frame is the decoded frame itself (shared, not copied).
    pub fn render_native(
        &mut self,
        i: i64,
    ) -> Result<(Arc<crate::media::Frame>, Option<Backend>), RenderError> {
        let frame = self.decoder.frame(i)?;
        if frame.format == crate::media::PixelFormat::Rgba && self.lips.draws(i) {
            return self.render_rgba_frame(i, frame);
        }
        let decoder = &mut self.decoder;
        edit_decoded(&self.lips, &mut self.editor, i, frame, |j| decoder.frame(j).ok())
    }

    /// Renders frames `first..last` in order into `sink` (the export): the same pictures as
    /// [`FrameRenderer::render_native`], but the lip edit of I420 frames runs on worker threads
    /// (runs of [`CHUNK_FRAMES`] consecutive frames each) fed by a decoder thread, while this
    /// thread writes.
    /// RGBA streams render here, one frame after another.
    pub fn render_range(
        &mut self,
        first: i64,
        last: i64,
        job: &Job,
        mut sink: impl FnMut(i64, Arc<crate::media::Frame>, Option<Backend>) -> Result<(), RenderError>,
    ) -> Result<ExportTiming, RenderError> {
        let mut timing = ExportTiming::default();
        let clock = std::time::Instant::now;
        let (w, h) = self.size();
        let i420 = first < last
            && matches!(self.decoder.frame(first)?.format, crate::media::PixelFormat::I420(_));
        if !i420 || self.lips.is_empty() {
            for i in first..last {
                if job.is_cancelled() {
                    return Err(MediaError::Cancelled.into());
                }
                let t0 = clock();
                let (f, b) = self.render_native(i)?;
                let t1 = clock();
                sink(i, f, b)?;
                timing.decode += (t1 - t0).as_secs_f64();
                timing.write += t1.elapsed().as_secs_f64();
            }
            return Ok(timing);
        }
        let workers = self.workers.unwrap_or_else(|| export_workers(w, h));
        let lips = &self.lips;
        let decoder = &mut self.decoder;
        std::thread::scope(|scope| {
            let (chunk_tx, chunk_rx) = std::sync::mpsc::sync_channel::<Chunk>(workers);
            let chunk_rx = Arc::new(std::sync::Mutex::new(chunk_rx));
            let (done_tx, done_rx) = std::sync::mpsc::channel();
            for k in 0..workers {
                let (chunk_rx, done_tx) = (Arc::clone(&chunk_rx), done_tx.clone());
                std::thread::Builder::new()
                    .name(format!("export-lips-{k}"))
                    .spawn_scoped(scope, move || {
                        let mut editor = Editor::default();
                        loop {
                            let next = match chunk_rx.lock() {
                                Ok(rx) => rx.recv(),
                                Err(_) => return,
                            };
                            let Ok(chunk) = next else { return };
                            let out: Result<Vec<Edited>, RenderError> = chunk
                                .range
                                .clone()
                                .map(|i| {
                                    let frame = chunk.get(i).ok_or_else(|| {
                                        RenderError::Invalid(format!("frame {i} was not decoded"))
                                    })?;
                                    edit_decoded(lips, &mut editor, i, frame, |j| chunk.get(j))
                                })
                                .collect();
                            if done_tx.send((chunk.seq, chunk.range.start, out)).is_err() {
                                return;
                            }
                        }
                    })
                    .map_err(|e| {
                        RenderError::Invalid(format!("cannot start an export worker: {e}"))
                    })?;
            }
            // The decoder runs on a thread of its own, one chunk ahead per token: the window of
            // chunks in flight is the tokens handed out (2 per worker), and this thread gives one
            // back for every chunk it writes.
            let (token_tx, token_rx) = std::sync::mpsc::channel::<()>();
            let decoding = {
                let done_tx = done_tx.clone();
                std::thread::Builder::new()
                    .name("export-decode".into())
                    .spawn_scoped(scope, move || {
                        let mut busy = 0.0;
                        let mut before = if first > 0 {
                            decoder.frame(first - 1).ok().map(|f| (first - 1, f))
                        } else {
                            None
                        };
                        let (mut start, mut seq) = (first, 0usize);
                        while start < last && token_rx.recv().is_ok() {
                            let end = (start + CHUNK_FRAMES).min(last);
                            let mut frames: Vec<_> = before.take().into_iter().collect();
                            let t0 = clock();
                            let decoded = (start..end).try_for_each(|i| {
                                frames.push((i, decoder.frame(i)?));
                                Ok::<_, MediaError>(())
                            });
                            if let Err(e) = decoded {
                                let _ = done_tx.send((seq, start, Err(e.into())));
                                break;
                            }
                            if let Ok(after) = decoder.frame(end) {
                                frames.push((end, after));
                            }
                            busy += t0.elapsed().as_secs_f64();
                            before = frames.iter().find(|(i, _)| *i == end - 1).cloned();
                            if chunk_tx.send(Chunk { seq, range: start..end, frames }).is_err() {
                                break;
                            }
                            (seq, start) = (seq + 1, end);
                        }
                        busy
                    })
                    .map_err(|e| RenderError::Invalid(format!("cannot start the decoder: {e}")))?
            };
            drop(done_tx);
            for _ in 0..2 * workers {
                let _ = token_tx.send(());
            }
            let chunks =
                usize::try_from((last - first + CHUNK_FRAMES - 1) / CHUNK_FRAMES).unwrap_or(0);
            let mut waiting = std::collections::BTreeMap::new();
            let mut written = 0usize;
            while written < chunks {
                if job.is_cancelled() {
                    return Err(MediaError::Cancelled.into());
                }
                let t0 = clock();
                let (seq, at, out) = done_rx
                    .recv()
                    .map_err(|_| RenderError::Invalid("the export workers stopped".into()))?;
                timing.wait += t0.elapsed().as_secs_f64();
                waiting.insert(seq, (at, out));
                let t0 = clock();
                while let Some((at, out)) = waiting.remove(&written) {
                    let out: Result<Vec<Edited>, RenderError> = out;
                    for (k, (f, b)) in out?.into_iter().enumerate() {
                        sink(at + k as i64, f, b)?;
                    }
                    written += 1;
                    let _ = token_tx.send(());
                }
                timing.write += t0.elapsed().as_secs_f64();
            }
            drop(token_tx);
            timing.decode = decoding
                .join()
                .map_err(|_| RenderError::Invalid("the decoder thread panicked".into()))?;
            Ok(timing)
        })
    }

    /// The output frame `i` (RGBA: the display conversion of [`FrameRenderer::render_native`])
    /// and which compositor edited it, if any.
    pub fn render(&mut self, i: i64) -> Result<(Vec<u8>, Option<Backend>), RenderError> {
        let (frame, backend) = self.render_native(i)?;
        if frame.format == crate::media::PixelFormat::Rgba {
            return Ok((frame.data.clone(), backend));
        }
        // Unedited: the source picture itself, converted once for both.
        if Arc::ptr_eq(&frame, &self.decoder.frame(i)?) {
            return Ok((self.source(i)?.data.clone(), backend));
        }
        Ok((crate::media::yuv::to_rgba(&frame)?, backend))
    }
}

/// An RGBA frame with the index and times of `of`.
fn rgba_frame(of: &crate::media::Frame, data: Vec<u8>) -> crate::media::Frame {
    let mut f = with_data(of, data);
    f.format = crate::media::PixelFormat::Rgba;
    f
}

/// `frame` with other picture data (an edited copy).
fn with_data(frame: &crate::media::Frame, data: Vec<u8>) -> crate::media::Frame {
    crate::media::Frame {
        index: frame.index,
        pts: frame.pts,
        width: frame.width,
        height: frame.height,
        data,
        format: frame.format.clone(),
    }
}
