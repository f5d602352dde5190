//! `redub eval occlusion`: what is in front of the mouth stays, measured.
//!
//! Each clip gets one generated occluder of each kind drawn over the mouth for a stretch of
//! frames (a microphone-like dark grey textured bar rising over part of the mouth; a finger in
//! the actor's own skin colour, sampled from the cheek; a white card edge rising over the lower
//! lip; a hand-shaped blob moving across the mouth and back). The occluded clip is analysed and
//! lip-edited as a user would (its own face analysis, a dub bound to the face: the clip's sound
//! rotated by half, so speech runs over the whole shot and differs from the filmed one) through
//! the product's render graph, and two things are measured:
//! - occluder fidelity: PSNR of the occluder's own pixels at least 3 px inside its edge (within
//!   the mouth patch's footprint, where an edit can reach), rendered vs the occluded input,
//!   pooled over the frames (the mean) and per frame (the worst);
//! - the edit still runs: the mean absolute change of the mouth region in the frames without the
//!   occluder, against the same frames of the clean clip's edit.

use super::CliError;
use super::eval::{dub_project, face_of};
use crate::analysis::mouth_patch::{PATCH_H, PATCH_W, extract_patch, patch_to_image};
use crate::analysis::track::FaceTrack;
use crate::jobs::Job;
use crate::lipsync::occlusion::mouth_zone;
use crate::media::encode::{Tags, Writer, WriterConfig};
use crate::media::{VideoDecoder, decode_audio};
use crate::model::project::Preset;
use crate::render::graph::FrameRenderer;
use crate::render::lips::plan_project_lips;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Pixels inside the occluder's edge that are measured (the feather band is left out).
const INSET: i64 = 3;

/// Reported in place of an infinite PSNR (identical pixels).
const PSNR_CAP: f64 = 99.0;

/// The generated occluders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A dark grey textured bar with a rounded head rising over part of the mouth.
    Mic,
    /// A finger in the actor's cheek colour, upright in front of one side of the mouth.
    Finger,
    /// A white card whose top edge rises over the lower lip.
    Card,
    /// A hand (palm and four fingers) in the cheek colour moving across the mouth and back.
    Hand,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 4] = [Kind::Mic, Kind::Finger, Kind::Card, Kind::Hand];

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Its name on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Mic => "mic",
            Kind::Finger => "finger",
            Kind::Card => "card",
            Kind::Hand => "hand",
        }
    }
}

/// Options of `eval occlusion`.
pub struct OcclusionArgs<'a> {
    /// The clips.
    pub clips: &'a [PathBuf],
    /// Print JSON.
    pub json: bool,
    /// The kinds of occluder.
    pub kinds: &'a [Kind],
    /// Frames the occluder is in the picture (fewer on a short clip).
    pub frames: i64,
    /// Write before/after crop strips (PNG) of each kind here.
    pub strips: Option<&'a Path>,
    /// Keep the work files here instead of a temp folder.
    pub keep: Option<&'a Path>,
}

/// The figures of one occluder kind on one clip.
#[derive(Clone, Debug, Serialize)]
pub struct KindReport {
    /// The occluder.
    pub kind: Kind,
    /// Frames with the occluder in the picture.
    pub occluded_frames: usize,
    /// Frames edited (the dub speaks and the face is tracked).
    pub edited_frames: usize,
    /// PSNR (dB) of the occluder's pixels pooled over the frames ([`PSNR_CAP`]: identical).
    pub psnr: f64,
    /// The worst frame's PSNR.
    pub worst_frame_psnr: f64,
    /// That frame.
    pub worst_frame: i64,
    /// Mean absolute change (0..255) of the mouth region by the edit in frames without the
    /// occluder.
    pub mouth_change: f64,
    /// The same frames' change when the clip has no occluder.
    pub mouth_change_clean: f64,
}

/// One clip.
#[derive(Clone, Debug, Serialize)]
pub struct ClipReport {
    /// The clip.
    pub clip: String,
    /// Per kind.
    pub kinds: Vec<KindReport>,
}

/// The mouth's place in the picture over the clip: median centre and width, from the clean
/// clip's track.
#[derive(Clone, Copy, Debug)]
struct Place {
    centre: [f32; 2],
    width: f32,
    /// The actor's cheek colour.
    skin: [f32; 3],
}

/// A small deterministic hash noise in −1..1.
fn noise(x: i64, y: i64, seed: u32) -> f32 {
    let mut h = (x as u32).wrapping_mul(0x9E37_79B1)
        ^ (y as u32).wrapping_mul(0x85EB_CA77)
        ^ seed.wrapping_mul(0xC2B2_AE3D);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^= h >> 12;
    (h & 0xFFFF) as f32 / 32_767.5 - 1.0
}

/// The stretch of frames with the occluder: `frames` of them from frame 10, fewer on a clip
/// shorter than `frames + 20`.
fn event(total: i64, frames: i64) -> std::ops::Range<i64> {
    let len = frames.min(total - 20).max(1);
    let start = ((total - len) / 2).clamp(0, 10);
    start..start + len
}

/// 0..1..0 over the event: rises over `ramp` frames, holds, falls over the last `ramp`.
fn rise(t: i64, ev: &std::ops::Range<i64>, ramp: f32) -> f32 {
    let a = (t - ev.start) as f32 / ramp;
    let b = (ev.end - 1 - t) as f32 / ramp;
    a.min(b).clamp(0.0, 1.0)
}

fn smooth(v: f32) -> f32 {
    v * v * (3.0 - 2.0 * v)
}

/// Inside a capsule from `a` to `b` of radius `r`.
fn in_capsule(p: [f32; 2], a: [f32; 2], b: [f32; 2], r: f32) -> bool {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = (dx * dx + dy * dy).max(1e-6);
    let t = (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0);
    let (qx, qy) = (a[0] + t * dx - p[0], a[1] + t * dy - p[1]);
    qx * qx + qy * qy <= r * r
}

/// The occluder of `kind` at frame `t`: its colour at picture point (x, y), or `None` where it
/// is not. `ev` is the event; `h` the picture height.
fn occluder(
    kind: Kind,
    place: &Place,
    ev: &std::ops::Range<i64>,
    t: i64,
    h: f32,
) -> impl Fn(i64, i64) -> Option<[f32; 3]> {
    let [cx, cy] = place.centre;
    let mw = place.width;
    let skin = place.skin;
    let up = rise(t, ev, 20.0);
    // Skin-coloured shading across a round object: darker towards its sides.
    let shade = move |c: [f32; 3], across: f32, x: i64, y: i64, seed: u32| -> [f32; 3] {
        let s = 0.82 + 0.22 * (1.0 - across * across).max(0.0).sqrt();
        let n = 3.0 * noise(x, y, seed);
        c.map(|v| (v * s + n).clamp(0.0, 255.0))
    };
    let phase = (t - ev.start) as f32;
    move |x, y| {
        let (fx, fy) = (x as f32, y as f32);
        match kind {
            Kind::Mic => {
                // Rises from below the chin to just above the mouth's centre line, bobbing.
                let bob = 0.04 * mw * (phase * std::f32::consts::TAU / 40.0).sin();
                let top = cy - 0.05 * mw + (1.0 - smooth(up)) * 1.8 * mw + bob;
                let half = 0.24 * mw;
                let mx = cx + 0.2 * mw;
                let across = (fx - mx) / half;
                let head = top + half; // centre of the round head
                let inside = (across.abs() <= 1.0 && fy >= head && fy < h)
                    || (fx - mx).powi(2) + (fy - head).powi(2) <= half * half;
                if up <= 0.0 || !inside {
                    return None;
                }
                // A grille: darker dots every 4 px, a cylinder's shading and grain.
                let dot = (x.rem_euclid(4) < 2 && y.rem_euclid(4) < 2) as i32 as f32;
                let s = 0.75 + 0.35 * (1.0 - across.clamp(-1.0, 1.0).powi(2)).sqrt();
                let v = (58.0 - 16.0 * dot) * s + 4.0 * noise(x, y, 1);
                Some([v, v, v * 1.03].map(|c| c.clamp(0.0, 255.0)))
            }
            Kind::Finger => {
                // Upright over one side of the mouth, tip above the upper lip.
                let r = 0.14 * mw;
                let fxc = cx - 0.18 * mw;
                let tip = cy - 0.35 * mw + (1.0 - smooth(up)) * 2.0 * mw;
                if up <= 0.0 || !in_capsule([fx, fy], [fxc, tip + r], [fxc, h + r], r) {
                    return None;
                }
                Some(shade(skin, (fx - fxc) / r, x, y, 2))
            }
            Kind::Card => {
                // A white card, slightly tilted, its top edge rising over the lower lip.
                let top = cy + 0.12 * mw + (1.0 - smooth(up)) * 1.8 * mw + 0.06 * (fx - cx);
                if up <= 0.0 || fy < top || (fx - cx).abs() > 1.6 * mw {
                    return None;
                }
                // Paper white with a soft gradient, grain and a few printed lines below.
                let depth = fy - top;
                let line = depth > 0.5 * mw && (depth / (0.12 * mw)).fract() < 0.25;
                let v = if line { 90.0 } else { 236.0 - 8.0 * ((fx - cx) / mw) };
                let v = v + 2.5 * noise(x, y, 3);
                Some([v, v, v - 4.0].map(|c| c.clamp(0.0, 255.0)))
            }
            Kind::Hand => {
                // A palm with four fingers up, sweeping from one side of the mouth to the other
                // and back over the event.
                let span = (ev.end - ev.start).max(2) as f32;
                let u = phase / span * 2.0;
                let u = if u <= 1.0 { u } else { 2.0 - u };
                let hx = cx + (smooth(u) * 2.0 - 1.0) * 1.5 * mw;
                let hy = cy + 0.45 * mw;
                let (rx, ry) = (0.5 * mw, 0.55 * mw);
                let palm = ((fx - hx) / rx).powi(2) + ((fy - hy) / ry).powi(2) <= 1.0;
                let fr = 0.1 * mw;
                let finger = (0..4).any(|k| {
                    let x0 = hx + (k as f32 - 1.5) * 0.24 * mw;
                    let len = [0.55, 0.7, 0.66, 0.5][k] * mw;
                    in_capsule([fx, fy], [x0, hy - 0.3 * mw], [x0, hy - 0.3 * mw - len], fr)
                });
                if !(palm || finger) {
                    return None;
                }
                let c = skin.map(|v| v * 0.95);
                Some(shade(c, ((fx - hx) / (rx * 1.3)).clamp(-1.0, 1.0), x, y, 4))
            }
        }
    }
}

/// Draws the occluder into `rgba` and returns its coverage (`w × h`).
fn draw(
    kind: Kind,
    place: &Place,
    ev: &std::ops::Range<i64>,
    t: i64,
    rgba: &mut [u8],
    w: usize,
    h: usize,
) -> Vec<bool> {
    let mut cover = vec![false; w * h];
    if !ev.contains(&t) {
        return cover;
    }
    let f = occluder(kind, place, ev, t, h as f32);
    for y in 0..h {
        for x in 0..w {
            if let Some(c) = f(x as i64, y as i64) {
                cover[y * w + x] = true;
                let o = (y * w + x) * 4;
                for k in 0..3 {
                    rgba[o + k] = c[k].round() as u8;
                }
            }
        }
    }
    cover
}

/// `cover` shrunk by [`INSET`] pixels (a pixel stays when every pixel within INSET does).
fn inset(cover: &[bool], w: usize, h: usize) -> Vec<bool> {
    let r = INSET;
    let (wi, hi) = (w as i64, h as i64);
    // Rows first, then columns (a square structuring element is separable).
    let mut rows = vec![false; cover.len()];
    for y in 0..hi {
        for x in 0..wi {
            rows[(y * wi + x) as usize] =
                (x - r..=x + r).all(|xx| xx >= 0 && xx < wi && cover[(y * wi + xx) as usize]);
        }
    }
    let mut out = vec![false; cover.len()];
    for y in 0..hi {
        for x in 0..wi {
            out[(y * wi + x) as usize] =
                (y - r..=y + r).all(|yy| yy >= 0 && yy < hi && rows[(yy * wi + x) as usize]);
        }
    }
    out
}

/// The picture's pixels under the mouth patch of `track` at frame `t` (its bounding box).
fn patch_box(
    track: &FaceTrack,
    t: i64,
    w: usize,
    h: usize,
) -> Option<(usize, usize, usize, usize)> {
    let to_image = patch_to_image(&track.at(t)?.landmarks)?;
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for c in
        [[0.0, 0.0], [PATCH_W as f32, 0.0], [0.0, PATCH_H as f32], [PATCH_W as f32, PATCH_H as f32]]
    {
        let p = to_image.apply(c);
        (x0, y0, x1, y1) = (x0.min(p[0]), y0.min(p[1]), x1.max(p[0]), y1.max(p[1]));
    }
    let cl = |v: f32, m: usize| (v.max(0.0) as usize).min(m);
    Some((cl(x0, w), cl(y0, h), cl(x1.ceil(), w), cl(y1.ceil(), h)))
}

/// The mouth's median place over the clean clip, and the cheek colour of its first tracked
/// frame.
fn place_of(clip: &Path, track: &FaceTrack) -> Result<Place, CliError> {
    let mut xs = Vec::new();
    let mut ys = Vec::new();
    let mut ws = Vec::new();
    for f in &track.frames {
        let l = f.landmarks;
        xs.push(0.5 * (l[3][0] + l[4][0]));
        ys.push(0.5 * (l[3][1] + l[4][1]));
        ws.push(((l[4][0] - l[3][0]).powi(2) + (l[4][1] - l[3][1]).powi(2)).sqrt());
    }
    let med = |v: &mut Vec<f32>| {
        v.sort_by(f32::total_cmp);
        v.get(v.len() / 2).copied()
    };
    let (Some(cx), Some(cy), Some(mw)) = (med(&mut xs), med(&mut ys), med(&mut ws)) else {
        return Err(CliError::User(format!("{}: no face track", clip.display())));
    };
    // The cheek: below the left eye, beside the left mouth corner; a median over a small square.
    let first = track.frames.first().map(|f| (f.frame, f.landmarks));
    let Some((t0, l)) = first else {
        return Err(CliError::User(format!("{}: no face track", clip.display())));
    };
    let mut dec = VideoDecoder::open_with_cache(clip, 0)?;
    let (w, h) = dec.size();
    let (w, h) = (w as usize, h as usize);
    let frame = dec.frame(t0)?;
    let px = 0.5 * (l[0][0] + l[3][0]) - 0.1 * mw;
    let py = 0.4 * l[0][1] + 0.6 * l[3][1];
    let r = (0.06 * mw).max(2.0) as i64;
    let mut chans: [Vec<f32>; 3] = Default::default();
    for y in py as i64 - r..=py as i64 + r {
        for x in px as i64 - r..=px as i64 + r {
            if x >= 0 && y >= 0 && (x as usize) < w && (y as usize) < h {
                let o = (y as usize * w + x as usize) * 4;
                for (c, v) in chans.iter_mut().enumerate() {
                    v.push(f32::from(frame.data[o + c]));
                }
            }
        }
    }
    let [mut r0, mut g0, mut b0] = chans;
    let skin = [med(&mut r0), med(&mut g0), med(&mut b0)];
    let skin = skin.map(|v| v.unwrap_or(180.0));
    Ok(Place { centre: [cx, cy], width: mw, skin })
}

/// Writes `clip` with the occluder of `kind` (none: the clip as it is) as `out` (ProRes: near
/// lossless, so the edit is judged against the same picture it reads) with its sound; returns
/// each frame's occluder coverage.
fn write_occluded(
    clip: &Path,
    kind: Option<Kind>,
    place: &Place,
    ev: &std::ops::Range<i64>,
    out: &Path,
) -> Result<Vec<Vec<bool>>, CliError> {
    let mut dec = VideoDecoder::open_with_cache(clip, 0)?;
    let (w, h) = dec.size();
    let cfg = WriterConfig {
        preset: Preset::Mov,
        video: Some((w, h, dec.frame_rate())),
        tags: Tags::default(),
        keyframe_interval: None,
    };
    let sound = decode_audio(clip, Some(2))?;
    let mut writer = Writer::create(out, &cfg)?;
    let mut covers = Vec::new();
    // Each frame's sound right after it: the writer's queues are bounded, so all the pictures
    // first would fill the video queue while the muxer waits for sound.
    let rate = dec.frame_rate();
    let len = sound.samples.len();
    let at = |i: i64| {
        (rate.frame_to_time(i).to_samples(crate::dsp::SAMPLE_RATE).max(0) as usize * 2).min(len)
    };
    let frames = dec.frame_count();
    for i in 0..frames {
        let mut f = dec.frame(i)?.data.clone();
        let cover = match kind {
            Some(k) => draw(k, place, ev, i, &mut f, w as usize, h as usize),
            None => Vec::new(),
        };
        covers.push(cover);
        writer.push_frame(&f)?;
        writer.push_audio(&sound.samples[at(i)..at(i + 1)])?;
    }
    writer.push_audio(&sound.samples[at(frames)..])?;
    writer.finish()?;
    Ok(covers)
}

/// The dub: the clip's sound rotated by half (second half first), as WAV.
fn rotated_dub(clip: &Path, out: &Path) -> Result<(), CliError> {
    let sound = decode_audio(clip, Some(2))?;
    let half = (sound.samples.len() / 4) * 2;
    let mut s = sound.samples[half..].to_vec();
    s.extend_from_slice(&sound.samples[..half]);
    crate::media::testsrc::write_wav(out, &s)
        .map_err(|e| CliError::Internal(format!("{}: {e}", out.display())))?;
    Ok(())
}

/// One edit of `shot`: per frame, the rendered picture and the source's, handed to `f`; the
/// number of edited frames.
fn edit_frames(
    shot: &Path,
    dub: &Path,
    dir: &Path,
    mut f: impl FnMut(i64, &[u8], &[u8], usize, usize),
) -> Result<usize, CliError> {
    let job = Job::new();
    let track = face_of(shot, &job)?;
    let mut source = VideoDecoder::open_with_cache(shot, 0)?;
    let n = source.frame_count();
    let project = dub_project(shot, dub, track.id, n)?;
    let lips = plan_project_lips(&project, dir, &job)?;
    let mut renderer = FrameRenderer::open(shot, lips)?;
    let (w, h) = renderer.size();
    let mut edited = 0;
    for i in 0..n {
        let (out, backend) = renderer.render(i)?;
        if backend.is_some() {
            edited += 1;
        }
        let src = source.frame(i)?;
        f(i, &out, &src.data, w as usize, h as usize);
    }
    Ok(edited)
}

/// Mean absolute change (0..255) of the mouth zone of the canonical patch at `lm`.
fn mouth_change(
    a: &[u8],
    b: &[u8],
    w: usize,
    h: usize,
    lm: &[[f32; 2]; 5],
    zone: &[bool],
) -> Option<f64> {
    let pa = extract_patch(a, w, h, lm)?;
    let pb = extract_patch(b, w, h, lm)?;
    let (mut s, mut n) = (0.0f64, 0usize);
    for ((x, y), &z) in pa.rgb.iter().zip(&pb.rgb).zip(zone) {
        if z {
            s += (0..3).map(|c| f64::from((x[c] - y[c]).abs())).sum::<f64>() / 3.0;
            n += 1;
        }
    }
    (n > 0).then(|| s / n as f64)
}

fn psnr(se: f64, count: u64) -> f64 {
    if count == 0 || se == 0.0 {
        return PSNR_CAP;
    }
    (10.0 * (255.0f64 * 255.0 * count as f64 / se).log10()).min(PSNR_CAP)
}

/// A crop strip: the crops of `frames` (each a square around the mouth, scaled to `side`
/// pixels) side by side, inputs above, renders below.
struct Strip {
    side: usize,
    cols: usize,
    rgb: Vec<u8>,
}

impl Strip {
    fn new(cols: usize, side: usize) -> Self {
        Self { side, cols, rgb: vec![0; cols * side * 2 * side * 3] }
    }

    fn put(&mut self, col: usize, row: usize, rgba: &[u8], w: usize, h: usize, place: &Place) {
        let half = 1.3 * place.width;
        let (x0, y0) = (place.centre[0] - half, place.centre[1] + 0.25 * place.width - half);
        let stride = self.cols * self.side * 3;
        for v in 0..self.side {
            for u in 0..self.side {
                let x = (x0 + (u as f32 + 0.5) / self.side as f32 * 2.0 * half) as i64;
                let y = (y0 + (v as f32 + 0.5) / self.side as f32 * 2.0 * half) as i64;
                let x = x.clamp(0, w as i64 - 1) as usize;
                let y = y.clamp(0, h as i64 - 1) as usize;
                let o = (row * self.side + v) * stride + (col * self.side + u) * 3;
                self.rgb[o..o + 3].copy_from_slice(&rgba[(y * w + x) * 4..(y * w + x) * 4 + 3]);
            }
        }
    }

    fn save(self, path: &Path) -> Result<(), CliError> {
        let (w, h) = ((self.cols * self.side) as u32, (2 * self.side) as u32);
        let img = image::RgbImage::from_raw(w, h, self.rgb)
            .ok_or_else(|| CliError::Internal(format!("strip of {w}×{h}: wrong pixel count")))?;
        img.save(path).map_err(|e| CliError::User(format!("{}: {e}", path.display())))
    }
}

/// Frames of the event shown in a strip.
const STRIP_FRAMES: usize = 6;

fn clip_report(clip: &Path, args: &OcclusionArgs<'_>, dir: &Path) -> Result<ClipReport, CliError> {
    let job = Job::new();
    let track = face_of(clip, &job)?;
    let place = place_of(clip, &track)?;
    let total = VideoDecoder::open(clip)?.frame_count();
    if total < 40 {
        return Err(CliError::User(format!("{}: {total} frames; too short", clip.display())));
    }
    let ev = event(total, args.frames);
    let zone = mouth_zone();
    let dub = dir.join("dub.wav");
    rotated_dub(clip, &dub)?;
    // The clean clip through the same writer: the reference of how much the edit changes the
    // mouth where nothing covers it.
    let clean = dir.join("clean.mov");
    write_occluded(clip, None, &place, &ev, &clean)?;
    let mut clean_change: Vec<Option<f64>> = vec![None; total as usize];
    edit_frames(&clean, &dub, dir, |i, out, src, w, h| {
        if let Some(f) = track.at(i) {
            clean_change[i as usize] = mouth_change(out, src, w, h, &f.landmarks, &zone);
        }
    })?;
    let stem = clip.file_stem().map_or_else(|| "clip".into(), |s| s.to_string_lossy().into_owned());
    let mut kinds = Vec::new();
    for &kind in args.kinds {
        let shot = dir.join(format!("occluded_{}.mov", kind.name()));
        let covers = write_occluded(clip, Some(kind), &place, &ev, &shot)?;
        let (mut se, mut count) = (0.0f64, 0u64);
        let mut worst = (PSNR_CAP, -1i64);
        let (mut change, mut change_clean, mut changed) = (0.0f64, 0.0f64, 0usize);
        let step = (ev.end - ev.start) / STRIP_FRAMES as i64;
        let shown: Vec<i64> =
            (0..STRIP_FRAMES as i64).map(|k| ev.start + step / 2 + k * step).collect();
        let mut strip = args.strips.map(|_| Strip::new(STRIP_FRAMES, 160));
        let edited = edit_frames(&shot, &dub, dir, |i, out, src, w, h| {
            if let (Some(s), Some(col)) = (strip.as_mut(), shown.iter().position(|&f| f == i)) {
                s.put(col, 0, src, w, h, &place);
                s.put(col, 1, out, w, h, &place);
            }
            let cover = &covers[i as usize];
            if cover.iter().any(|&c| c) {
                let inner = inset(cover, w, h);
                let Some((x0, y0, x1, y1)) = patch_box(&track, i, w, h) else { return };
                let (mut fse, mut fcount) = (0.0f64, 0u64);
                for y in y0..y1 {
                    for x in x0..x1 {
                        if inner[y * w + x] {
                            let o = (y * w + x) * 4;
                            for c in 0..3 {
                                let d = f64::from(out[o + c]) - f64::from(src[o + c]);
                                fse += d * d;
                            }
                            fcount += 3;
                        }
                    }
                }
                if fcount >= 60 {
                    se += fse;
                    count += fcount;
                    let p = psnr(fse, fcount);
                    if p < worst.0 {
                        worst = (p, i);
                    }
                }
            } else if let (Some(f), Some(Some(c))) = (track.at(i), clean_change.get(i as usize))
                && let Some(m) = mouth_change(out, src, w, h, &f.landmarks, &zone)
            {
                change += m;
                change_clean += c;
                changed += 1;
            }
        })?;
        if let (Some(s), Some(d)) = (strip, args.strips) {
            std::fs::create_dir_all(d)
                .map_err(|e| CliError::User(format!("{}: {e}", d.display())))?;
            s.save(&d.join(format!("{stem}_{}.png", kind.name())))?;
        }
        let per = |v: f64| if changed == 0 { 0.0 } else { v / changed as f64 };
        kinds.push(KindReport {
            kind,
            occluded_frames: covers.iter().filter(|c| c.iter().any(|&b| b)).count(),
            edited_frames: edited,
            psnr: psnr(se, count),
            worst_frame_psnr: worst.0,
            worst_frame: worst.1,
            mouth_change: per(change),
            mouth_change_clean: per(change_clean),
        });
    }
    Ok(ClipReport { clip: clip.display().to_string(), kinds })
}

/// Per kind over the clips: the mean of the clips' PSNR, the lowest, and the worst frame.
#[derive(Debug, Serialize)]
pub struct KindSummary {
    /// The occluder.
    pub kind: Kind,
    /// Mean over the clips of the pooled PSNR.
    pub mean_psnr: f64,
    /// The lowest clip's pooled PSNR.
    pub lowest_psnr: f64,
    /// The worst frame over all clips.
    pub worst_frame_psnr: f64,
    /// Mean over the clips of mouth change / clean mouth change in unoccluded frames.
    pub mouth_change_ratio: f64,
}

fn summarise(reports: &[ClipReport], kinds: &[Kind]) -> Vec<KindSummary> {
    kinds
        .iter()
        .map(|&kind| {
            let of: Vec<&KindReport> =
                reports.iter().flat_map(|r| r.kinds.iter().filter(|k| k.kind == kind)).collect();
            let n = of.len().max(1) as f64;
            KindSummary {
                kind,
                mean_psnr: of.iter().map(|k| k.psnr).sum::<f64>() / n,
                lowest_psnr: of.iter().map(|k| k.psnr).fold(PSNR_CAP, f64::min),
                worst_frame_psnr: of.iter().map(|k| k.worst_frame_psnr).fold(PSNR_CAP, f64::min),
                mouth_change_ratio: of
                    .iter()
                    .map(|k| k.mouth_change / k.mouth_change_clean.max(1e-6))
                    .sum::<f64>()
                    / n,
            }
        })
        .collect()
}

pub(super) fn occlusion(args: OcclusionArgs<'_>) -> Result<(), CliError> {
    let mut reports = Vec::new();
    for clip in args.clips {
        let work = super::eval::Work::for_clip(args.keep, clip)?;
        let dir = work.path().to_path_buf();
        let r = clip_report(clip, &args, &dir)?;
        if !args.json {
            println!("{}", r.clip);
            println!(
                "  {:<7} {:>8} {:>7} {:>9} {:>12} {:>13}",
                "kind", "frames", "edited", "PSNR dB", "worst (frame)", "mouth Δ/clean"
            );
            for k in &r.kinds {
                println!(
                    "  {:<7} {:>8} {:>7} {:>9.1} {:>6.1} ({:>4}) {:>6.2}/{:.2}",
                    k.kind.name(),
                    k.occluded_frames,
                    k.edited_frames,
                    k.psnr,
                    k.worst_frame_psnr,
                    k.worst_frame,
                    k.mouth_change,
                    k.mouth_change_clean
                );
            }
        }
        reports.push(r);
    }
    let summary = summarise(&reports, args.kinds);
    if args.json {
        let out = serde_json::json!({ "clips": reports, "summary": summary });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        println!("summary over {} clips", reports.len());
        for s in &summary {
            println!(
                "  {:<7} mean {:.1} dB, lowest clip {:.1} dB, worst frame {:.1} dB, mouth change {:.2}× clean",
                s.kind.name(),
                s.mean_psnr,
                s.lowest_psnr,
                s.worst_frame_psnr,
                s.mouth_change_ratio
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_inset_leaves_out_the_edge_band() {
        let (w, h) = (20, 20);
        let mut cover = vec![false; w * h];
        for y in 2..18 {
            for x in 2..18 {
                cover[y * w + x] = true;
            }
        }
        let inner = inset(&cover, w, h);
        assert!(inner[5 * w + 5] && !inner[4 * w + 5] && inner[14 * w + 14] && !inner[15 * w + 14]);
        assert_eq!(event(200, 100), 10..110);
        assert_eq!(event(110, 100), 10..100);
        assert_eq!(rise(10, &(10..110), 20.0), 0.0);
        assert_eq!(rise(60, &(10..110), 20.0), 1.0);
    }
}
