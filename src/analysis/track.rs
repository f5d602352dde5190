//! Face tracks: detections linked across frames by overlap and position, closed at shot cuts or
//! after more than [`MAX_GAP`] missed frames, short gaps filled, landmarks smoothed.

use super::geometry::BBox;
use super::image::RgbImage;
use super::mouth::{LowerFacePatch, MOUTH_REGION, REFERENCE_REGION, normal_flow, region_crop_with};
use super::mtcnn::Detection;
use super::oneeuro::{OneEuroParams, smooth_zero_lag};
use crate::analysis::mouth::shape::{LipShape, lip_shape};
use serde::{Deserialize, Serialize};

/// Longest run of missed frames bridged inside one track (filled by interpolation).
pub const MAX_GAP: i64 = 5;

/// Fewest detected frames a track needs to be kept; shorter ones are stray false positives.
pub const MIN_DETECTIONS: usize = 5;

/// A detection counts as the same face when it overlaps the track's box this much...
const MIN_IOU: f32 = 0.3;
/// ...or its centre lies within this fraction of the track's box width.
const MAX_CENTER_SHIFT: f32 = 0.5;

/// A frame range `[start, end)` in frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// First frame.
    pub start: i64,
    /// One past the last frame.
    pub end: i64,
}

impl Segment {
    /// Number of frames.
    pub fn len(&self) -> i64 {
        (self.end - self.start).max(0)
    }

    /// Whether the segment has no frames.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One face in one frame of a track.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrackFrame {
    /// Frame index in the media.
    pub frame: i64,
    /// Face box (full-resolution pixels).
    pub bbox: BBox,
    /// Smoothed landmarks: eyes, nose tip, mouth corners (full-resolution pixels).
    pub landmarks: [[f32; 2]; 5],
    /// Landmarks as detected (interpolated in filled frames).
    pub raw_landmarks: [[f32; 2]; 5],
    /// Detector confidence, 0..1; 0 in filled frames.
    pub confidence: f32,
    /// Whether the face was not detected here and the frame was filled by interpolation.
    pub filled: bool,
    /// Mouth motion since the previous frame, in canonical face units (a 112-unit face; see
    /// [`super::mouth::normal_flow`]) measured on the aligned mouth region; filled frames take
    /// their neighbours' mean.
    pub mouth_energy: f32,
    /// The same measure on a face region that does not move with speech
    /// ([`super::mouth::REFERENCE_REGION`]): the face's own non-speech motion and noise.
    #[serde(default)]
    pub face_motion: f32,
}

/// One person's face through one shot.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaceTrack {
    /// Stable id within the analysis, in order of first appearance.
    pub id: u32,
    /// Consecutive frames, one per frame index from the first to the last.
    pub frames: Vec<TrackFrame>,
    /// Where the mouth moves like speech.
    pub speaking: Vec<Segment>,
}

impl FaceTrack {
    /// First frame index.
    pub fn start(&self) -> i64 {
        self.frames.first().map_or(0, |f| f.frame)
    }

    /// One past the last frame index.
    pub fn end(&self) -> i64 {
        self.frames.last().map_or(0, |f| f.frame + 1)
    }

    /// The track's frame at a media frame index.
    pub fn at(&self, frame: i64) -> Option<&TrackFrame> {
        let i = usize::try_from(frame - self.start()).ok()?;
        self.frames.get(i)
    }

    /// Median face-box width, the track's natural length unit.
    pub fn median_width(&self) -> f32 {
        let mut w: Vec<f32> = self.frames.iter().map(|f| f.bbox.width()).collect();
        w.sort_by(f32::total_cmp);
        w.get(w.len() / 2).copied().unwrap_or(1.0)
    }
}

#[derive(Clone, Debug)]
struct Obs {
    det: Detection,
    patch: PatchRef,
    /// The lips' shape (height, gap) as detected here; `None` where the lips could not be seen.
    lips: Option<LipShape>,
}

#[derive(Clone, Debug)]
struct Live {
    id: u32,
    start: i64,
    obs: Vec<Option<Obs>>,
    last_seen: i64,
    last_box: BBox,
}

impl Live {
    fn detections(&self) -> usize {
        self.obs.iter().filter(|o| o.is_some()).count()
    }
}

/// Where a [`PatchStore`] keeps a patch.
#[derive(Clone, Copy, Debug)]
enum PatchRef {
    /// At this offset of the temp file.
    Disk(u64),
    /// At this index of the in-memory list.
    Memory(usize),
}

/// The tracks' mouth patches, waiting for their track's end (the crops need the landmarks
/// smoothed over the whole track): 36 KiB per detected frame, about 550 MB for a 10-minute shot
/// at 25 fps. They go to an unnamed temp file (gone with the process, however it ends) beside the
/// analysis cache, so memory stays flat with the footage's length; in memory where no temp file
/// can be written.
#[derive(Debug, Default)]
struct PatchStore {
    file: Option<std::fs::File>,
    /// No temp file could be made: keep everything in memory.
    no_file: bool,
    len: u64,
    memory: Vec<LowerFacePatch>,
}

impl PatchStore {
    fn put(&mut self, patch: LowerFacePatch) -> PatchRef {
        if cfg!(unix) && self.file.is_none() && !self.no_file {
            // The analysis cache's folder (on disk, where $TMPDIR may be a RAM-backed tmpfs),
            // else the system's temp folder.
            let in_cache = super::cache::cache_dir()
                .filter(|d| std::fs::create_dir_all(d).is_ok())
                .and_then(|d| tempfile::tempfile_in(d).ok());
            self.file = in_cache.or_else(|| tempfile::tempfile().ok());
            self.no_file = self.file.is_none();
        }
        if let Some(file) = &self.file {
            use std::io::Write;
            let mut f: &std::fs::File = file;
            if f.write_all(&patch.to_bytes()).is_ok() {
                let at = self.len;
                self.len += LowerFacePatch::BYTES as u64;
                return PatchRef::Disk(at);
            }
            // A full disk: the rest stays in memory (the file's length is no longer known).
            self.file = None;
            self.no_file = true;
        }
        self.memory.push(patch);
        PatchRef::Memory(self.memory.len() - 1)
    }

    fn get(&self, at: PatchRef) -> Option<LowerFacePatch> {
        match at {
            PatchRef::Memory(i) => self.memory.get(i).cloned(),
            PatchRef::Disk(offset) => {
                let mut bytes = vec![0u8; LowerFacePatch::BYTES];
                #[cfg(unix)]
                {
                    use std::os::unix::fs::FileExt;
                    self.file.as_ref()?.read_exact_at(&mut bytes, offset).ok()?;
                }
                #[cfg(not(unix))]
                {
                    let _ = offset;
                    return None;
                }
                LowerFacePatch::from_bytes(&bytes)
            }
        }
    }
}

/// Streaming tracker: feed each frame's detections in order, then [`Tracker::finish`].
#[derive(Debug)]
pub struct Tracker {
    live: Vec<Live>,
    done: Vec<Live>,
    next_id: u32,
    dt: f32,
    patches: PatchStore,
}

impl Tracker {
    /// A tracker for footage at `fps` frames per second.
    pub fn new(fps: f32) -> Self {
        Self {
            live: Vec::new(),
            done: Vec::new(),
            next_id: 0,
            dt: 1.0 / fps.max(1.0),
            patches: PatchStore::default(),
        }
    }

    /// Boxes of the tracks still open, with their ids (for the O-Net-only refinement path).
    pub fn live_boxes(&self) -> Vec<(u32, BBox)> {
        self.live.iter().map(|l| (l.id, l.last_box)).collect()
    }

    /// Closes every open track (at a shot cut).
    pub fn cut(&mut self) {
        self.done.append(&mut self.live);
    }

    /// Adds one frame's detections (full-resolution coordinates). `work` is the working picture
    /// and `work_scale` maps full-resolution coordinates into it, for the mouth crops.
    pub fn update(&mut self, frame: i64, dets: &[Detection], work: &RgbImage, work_scale: f32) {
        // Close tracks that have been missing too long.
        let (keep, gone): (Vec<Live>, Vec<Live>) =
            self.live.drain(..).partition(|l| frame - l.last_seen <= MAX_GAP);
        self.live = keep;
        self.done.extend(gone);

        // Greedy association, best overlap first.
        let mut pairs = Vec::new();
        for (ti, t) in self.live.iter().enumerate() {
            for (di, d) in dets.iter().enumerate() {
                let iou = t.last_box.iou(&d.bbox);
                let [tx, ty] = t.last_box.center();
                let [dx, dy] = d.bbox.center();
                let shift = (tx - dx).hypot(ty - dy) / t.last_box.width().max(1.0);
                if iou >= MIN_IOU || shift <= MAX_CENTER_SHIFT {
                    pairs.push((iou - shift, ti, di));
                }
            }
        }
        pairs.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut track_used = vec![false; self.live.len()];
        let mut det_used = vec![false; dets.len()];
        for (_, ti, di) in pairs {
            if track_used[ti] || det_used[di] {
                continue;
            }
            track_used[ti] = true;
            det_used[di] = true;
            let patch = self.patches.put(capture(&dets[di], work, work_scale));
            let t = &mut self.live[ti];
            let lips = measure_lips(&dets[di], work, work_scale);
            let slot = usize::try_from(frame - t.start).unwrap_or(0);
            t.obs.resize(slot, None);
            t.obs.push(Some(Obs { det: dets[di], patch, lips }));
            t.last_seen = frame;
            t.last_box = dets[di].bbox;
        }
        for (di, d) in dets.iter().enumerate() {
            if det_used[di] {
                continue;
            }
            self.live.push(Live {
                id: self.next_id,
                start: frame,
                obs: vec![Some(Obs {
                    det: *d,
                    patch: self.patches.put(capture(d, work, work_scale)),
                    lips: measure_lips(d, work, work_scale),
                })],
                last_seen: frame,
                last_box: d.bbox,
            });
            self.next_id += 1;
        }
    }

    /// Closes all tracks and returns the kept ones, gap-filled and smoothed, renumbered in order
    /// of first appearance.
    pub fn finish(self) -> Vec<FaceTrack> {
        self.finish_with_lips().into_iter().map(|(t, _)| t).collect()
    }

    /// [`Tracker::finish`], each track with its lips' shape per frame (see [`lip_series`]).
    pub fn finish_with_lips(mut self) -> Vec<(FaceTrack, Vec<LipShape>)> {
        self.cut();
        let dt = self.dt;
        let mut lives: Vec<Live> =
            self.done.into_iter().filter(|l| l.detections() >= MIN_DETECTIONS).collect();
        lives.sort_by_key(|l| (l.start, l.id));
        let patches = &self.patches;
        lives.into_iter().enumerate().map(|(i, l)| build_track(i as u32, l, dt, patches)).collect()
    }
}

/// The lips' shape of a detection ([`lip_shape`] on the lip engine's canonical colour patch, cut
/// from the working picture around the face with the detected landmarks). Only the face's
/// surroundings are read, so the cost does not grow with the picture.
fn measure_lips(d: &Detection, work: &RgbImage, work_scale: f32) -> Option<LipShape> {
    let b = d.bbox.scaled(work_scale);
    let margin = 0.5 * b.width().max(b.height());
    let x0 = (b.x1 - margin).floor().clamp(0.0, work.width as f32) as usize;
    let y0 = (b.y1 - margin).floor().clamp(0.0, work.height as f32) as usize;
    let x1 = (b.x2 + margin).ceil().clamp(0.0, work.width as f32) as usize;
    let y1 = (b.y2 + margin).ceil().clamp(0.0, work.height as f32) as usize;
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let mut rgba = Vec::with_capacity((x1 - x0) * (y1 - y0) * 4);
    for y in y0..y1 {
        for p in work.data[(y * work.width + x0) * 3..(y * work.width + x1) * 3].chunks_exact(3) {
            rgba.extend_from_slice(&[p[0], p[1], p[2], 255]);
        }
    }
    let marks = d.landmarks.map(|[x, y]| [x * work_scale - x0 as f32, y * work_scale - y0 as f32]);
    let patch = crate::analysis::mouth_patch::extract_patch(&rgba, x1 - x0, y1 - y0, &marks)?;
    let shape = lip_shape(&patch);
    (shape.height > 0.0).then_some(shape)
}

/// The lower-face patch of a detection: a square one face-box wide around the mouth.
fn capture(d: &Detection, work: &RgbImage, work_scale: f32) -> LowerFacePatch {
    let [l, r] = [d.landmarks[3], d.landmarks[4]];
    let center = [0.5 * (l[0] + r[0]), 0.5 * (l[1] + r[1])];
    LowerFacePatch::capture(work, work_scale, center, d.bbox.width().max(4.0))
}

fn build_track(id: u32, live: Live, dt: f32, patches: &PatchStore) -> (FaceTrack, Vec<LipShape>) {
    let mut obs = live.obs;
    while matches!(obs.last(), Some(None)) {
        obs.pop();
    }
    let n = obs.len();
    // Fill gaps by linear interpolation between the detections on either side.
    let mut frames: Vec<TrackFrame> = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        if let Some(o) = &obs[i] {
            frames.push(TrackFrame {
                frame: live.start + i as i64,
                bbox: o.det.bbox,
                landmarks: o.det.landmarks,
                raw_landmarks: o.det.landmarks,
                confidence: o.det.score,
                filled: false,
                mouth_energy: 0.0,
                face_motion: 0.0,
            });
            i += 1;
            continue;
        }
        let next = (i..n).find(|&j| obs[j].is_some()).unwrap_or(n);
        let (Some(Some(a)), Some(Some(b))) = (i.checked_sub(1).map(|p| &obs[p]), obs.get(next))
        else {
            i = next;
            continue;
        };
        let span = (next - i + 1) as f32;
        for j in i..next {
            let t = (j - i + 1) as f32 / span;
            let lm = std::array::from_fn(|k| {
                [
                    a.det.landmarks[k][0] + (b.det.landmarks[k][0] - a.det.landmarks[k][0]) * t,
                    a.det.landmarks[k][1] + (b.det.landmarks[k][1] - a.det.landmarks[k][1]) * t,
                ]
            });
            frames.push(TrackFrame {
                frame: live.start + j as i64,
                bbox: a.det.bbox.lerp(&b.det.bbox, t),
                landmarks: lm,
                raw_landmarks: lm,
                confidence: 0.0,
                filled: true,
                mouth_energy: 0.0,
                face_motion: 0.0,
            });
        }
        i = next;
    }

    // Zero-lag One Euro smoothing of every landmark coordinate, in face widths.
    let mut track = FaceTrack { id, frames, speaking: Vec::new() };
    let unit = track.median_width().max(1.0);
    for k in 0..5 {
        for c in 0..2 {
            let series: Vec<f32> =
                track.frames.iter().map(|f| f.raw_landmarks[k][c] / unit).collect();
            let smooth = smooth_zero_lag(&series, dt, OneEuroParams::default());
            for (f, v) in track.frames.iter_mut().zip(smooth) {
                f.landmarks[k][c] = v * unit;
            }
        }
    }

    // Mouth and reference-region motion between consecutive detected frames, from crops of the
    // aligned face (smoothed landmarks) read from each frame's own patch; filled frames take the
    // neighbours' mean. One patch and the previous frame's crops in memory at a time.
    let mut mouth = MotionSeries::new(MOUTH_REGION);
    let mut face = MotionSeries::new(REFERENCE_REGION);
    for (o, f) in obs.iter().zip(&track.frames) {
        let patch = o.as_ref().and_then(|o| patches.get(o.patch));
        mouth.push(patch.as_ref(), &f.landmarks);
        face.push(patch.as_ref(), &f.landmarks);
    }
    let (mouth, face) = (mouth.finish(), face.finish());
    for ((f, m), r) in track.frames.iter_mut().zip(mouth).zip(face) {
        f.mouth_energy = m;
        f.face_motion = r;
    }
    let lips = lip_series(&obs);
    (track, lips)
}

/// The lips' shape per frame of a track; frames where it was not measured take the mean of the
/// nearest measured ones on either side (all zero when none was measured).
fn lip_series(obs: &[Option<Obs>]) -> Vec<LipShape> {
    let shapes: Vec<Option<LipShape>> =
        obs.iter().map(|o| o.as_ref().and_then(|o| o.lips)).collect();
    let height = fill_gaps(&shapes.iter().map(|s| s.map(|s| s.height)).collect::<Vec<_>>());
    let gap = fill_gaps(&shapes.iter().map(|s| s.map(|s| s.gap)).collect::<Vec<_>>());
    height.into_iter().zip(gap).map(|(height, gap)| LipShape { height, gap }).collect()
}

/// Normal flow between consecutive crops of one region, fed a frame at a time; frames without a
/// pair of crops take the mean of the nearest known values on either side.
struct MotionSeries {
    region: [f32; 4],
    previous: Option<Vec<f32>>,
    energy: Vec<Option<f32>>,
}

impl MotionSeries {
    fn new(region: [f32; 4]) -> Self {
        Self { region, previous: None, energy: Vec::new() }
    }

    /// The next frame: its patch (`None` for a filled frame) and smoothed landmarks.
    fn push(&mut self, patch: Option<&LowerFacePatch>, landmarks: &[[f32; 2]; 5]) {
        let crop =
            patch.and_then(|p| region_crop_with(landmarks, self.region, |x, y| p.luma_at(x, y)));
        let e = match (&self.previous, &crop) {
            (Some(a), Some(b)) if !self.energy.is_empty() => {
                Some(normal_flow(a, b, self.region[2] as usize))
            }
            _ => None,
        };
        self.energy.push(e);
        self.previous = crop;
    }

    fn finish(self) -> Vec<f32> {
        fill_gaps(&self.energy)
    }
}

/// The values, each missing one replaced by the mean of the nearest known values on either side
/// (the one known side alone at the ends; 0 when none is known).
fn fill_gaps(energy: &[Option<f32>]) -> Vec<f32> {
    let known: Vec<(usize, f32)> =
        energy.iter().enumerate().filter_map(|(i, e)| e.map(|e| (i, e))).collect();
    (0..energy.len())
        .map(|j| match energy[j] {
            Some(e) => e,
            None => {
                let before = known.iter().rev().find(|(i, _)| *i < j).map(|p| p.1);
                let after = known.iter().find(|(i, _)| *i > j).map(|p| p.1);
                match (before, after) {
                    (Some(a), Some(b)) => 0.5 * (a + b),
                    (Some(a), None) | (None, Some(a)) => a,
                    (None, None) => 0.0,
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, score: f32) -> Detection {
        let bbox = BBox { x1: x, y1: 10.0, x2: x + 40.0, y2: 50.0 };
        let landmarks = [
            [x + 12.0, 25.0],
            [x + 28.0, 25.0],
            [x + 20.0, 33.0],
            [x + 14.0, 42.0],
            [x + 26.0, 42.0],
        ];
        Detection { bbox, score, landmarks }
    }

    #[test]
    fn tracks_keep_ids_fill_short_gaps_and_split_at_cuts() {
        let work = RgbImage { width: 200, height: 100, data: vec![128; 200 * 100 * 3] };
        let mut t = Tracker::new(25.0);
        for f in 0..30 {
            let mut dets = vec![det(100.0 - f as f32, 0.99)];
            // The left face misses frames 10..13 (a 3-frame gap).
            if !(10..13).contains(&f) {
                dets.push(det(5.0 + f as f32 * 0.5, 0.95));
            }
            if f == 20 {
                t.cut();
            }
            t.update(f, &dets, &work, 1.0);
        }
        let tracks = t.finish();
        assert_eq!(tracks.len(), 4, "two faces, each split at the cut");
        let first: Vec<_> = tracks.iter().filter(|t| t.start() == 0).collect();
        assert_eq!(first.len(), 2);
        for tr in first {
            assert_eq!(tr.frames.len(), 20);
            assert!(tr.frames.iter().all(|f| f.frame >= 0 && f.frame < 20));
        }
        let filled: usize =
            tracks.iter().map(|t| t.frames.iter().filter(|f| f.filled).count()).sum();
        assert_eq!(filled, 3);
    }
}
