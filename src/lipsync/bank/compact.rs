//! Bank mouths in memory: packed 4:2:0 ([`CompactPatch`], 1.5 bytes a pixel) and the cache of
//! the last few unpacked to floats for drawing ([`DecodedCache`]).

use super::*;

/// A canonical patch stored compactly: luma at full resolution and both chroma planes at half
/// resolution each way (4:2:0 Y'CbCr, BT.601 full range), 1.5 bytes per pixel instead of 3.
/// The source footage is itself 4:2:0 almost always, so the halved chroma loses next to nothing
/// that was filmed; the luma, which carries the lips' and teeth's detail, is kept whole.
/// The default is an empty patch.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompactPatch {
    w: usize,
    h: usize,
    y: Vec<u8>,
    cb: Vec<u8>,
    cr: Vec<u8>,
}

pub(super) fn to_ycc(p: [f32; 3]) -> [f32; 3] {
    let y = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
    [y, 128.0 + 0.564 * (p[2] - y), 128.0 + 0.713 * (p[0] - y)]
}

pub(super) fn byte(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

impl CompactPatch {
    /// Packs a patch (of any detail; its size gives its width and height).
    pub fn new(patch: &Patch) -> Self {
        let (w, h) = dims_of(patch.rgb.len());
        let ycc: Vec<[f32; 3]> = patch.rgb.iter().map(|&p| to_ycc(p)).collect();
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let mut cb = Vec::with_capacity(cw * ch);
        let mut cr = Vec::with_capacity(cw * ch);
        for v in 0..ch {
            for u in 0..cw {
                let mut acc = [0.0f32; 2];
                let mut n = 0.0f32;
                for y in 2 * v..(2 * v + 2).min(h) {
                    for x in 2 * u..(2 * u + 2).min(w) {
                        let q = ycc[y * w + x];
                        acc[0] += q[1];
                        acc[1] += q[2];
                        n += 1.0;
                    }
                }
                cb.push(byte(acc[0] / n));
                cr.push(byte(acc[1] / n));
            }
        }
        Self { w, h, y: ycc.iter().map(|q| byte(q[0])).collect(), cb, cr }
    }

    /// A patch from its planes (`y`: `w × h`, `cb` and `cr`: `⌈w/2⌉ × ⌈h/2⌉`), if they fit.
    pub fn from_planes(w: usize, h: usize, y: Vec<u8>, cb: Vec<u8>, cr: Vec<u8>) -> Option<Self> {
        let c = w.div_ceil(2) * h.div_ceil(2);
        (y.len() == w * h && cb.len() == c && cr.len() == c).then_some(Self { w, h, y, cb, cr })
    }

    /// The luma, Cb and Cr planes.
    pub fn planes(&self) -> (&[u8], &[u8], &[u8]) {
        (&self.y, &self.cb, &self.cr)
    }

    /// Width and height in pixels.
    pub fn dims(&self) -> (usize, usize) {
        (self.w, self.h)
    }

    /// Pixels in the patch.
    pub fn len(&self) -> usize {
        self.y.len()
    }

    /// Whether the patch has no pixels.
    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    /// Bytes the pixels take.
    pub fn bytes(&self) -> usize {
        self.y.len() + self.cb.len() + self.cr.len()
    }

    /// The RGB patch: chroma interpolated bilinearly between the half-resolution samples (each
    /// sits at the centre of its 2×2 block).
    pub fn to_patch(&self) -> Patch {
        let (w, h) = (self.w, self.h);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        // Per output column/row: the two chroma samples and the weight of the second.
        let taps = |n: usize, cn: usize| -> Vec<(usize, usize, f32)> {
            (0..n)
                .map(|x| {
                    let c = (x as f32 - 0.5) / 2.0;
                    let lo = c.floor().max(0.0) as usize;
                    let hi = (lo + 1).min(cn - 1);
                    let t = (c - lo as f32).clamp(0.0, 1.0);
                    (lo.min(cn - 1), hi, t)
                })
                .collect()
        };
        let (tx, ty) = (taps(w, cw), taps(h, ch));
        let mut rgb = Vec::with_capacity(w * h);
        // Separable: each output row first blends its two chroma rows, then each pixel its two
        // chroma columns.
        let (mut row_b, mut row_r) = (vec![0.0f32; cw], vec![0.0f32; cw]);
        for (y, &(y0, y1, fy)) in ty.iter().enumerate() {
            for (plane, row) in [(&self.cb, &mut row_b), (&self.cr, &mut row_r)] {
                let (top, bottom) = (&plane[y0 * cw..y0 * cw + cw], &plane[y1 * cw..y1 * cw + cw]);
                for ((r, &t), &b) in row.iter_mut().zip(top).zip(bottom) {
                    let t = f32::from(t);
                    *r = t + fy * (f32::from(b) - t) - 128.0;
                }
            }
            let luma = &self.y[y * w..y * w + w];
            for (&(x0, x1, fx), &l) in tx.iter().zip(luma) {
                let l = f32::from(l);
                let b = row_b[x0] + fx * (row_b[x1] - row_b[x0]);
                let r = row_r[x0] + fx * (row_r[x1] - row_r[x0]);
                let red = l + r / 0.713;
                let blue = l + b / 0.564;
                let green = (l - 0.299 * red - 0.114 * blue) / 0.587;
                rgb.push([red, green, blue].map(|v| v.clamp(0.0, 255.0)));
            }
        }
        Patch { rgb }
    }
}

/// A bank mouth decoded to floats: at the bank's detail and at analysis size.
#[derive(Debug)]
pub struct DecodedEntry {
    /// [`BankEntry::to_patch`].
    pub patch: Patch,
    /// `patch` at analysis size (`PATCH_W × PATCH_H`, see [`downsample`]).
    pub small: Patch,
    /// The luma of `small` (see [`luma_of`]).
    pub luma: Vec<f32>,
}

/// Entries kept decoded by a [`DecodedCache`] of [`DecodedCache::default`]: a few for each
/// render worker (export runs one per two cores), each drawing a mouth and up to two neighbours.
pub(super) fn decoded_kept() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    6 + 3 * (cores / 2).clamp(1, 8)
}

/// The last few bank mouths decoded to floats. Consecutive frames draw the same mouths (a
/// frame's mouth is its neighbours' mix, a filmed run repeats none), so each is unpacked once
/// rather than once per frame and per role. Shared by render workers.
#[derive(Debug)]
pub struct DecodedCache(crate::lipsync::kept::Kept<usize, DecodedEntry>);

impl Default for DecodedCache {
    fn default() -> Self {
        Self::new(decoded_kept())
    }
}

impl DecodedCache {
    /// A cache of at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        Self(crate::lipsync::kept::Kept::new(capacity))
    }

    /// Entry `entry` of `bank`, decoded (from the cache when it is there).
    pub fn get(&self, bank: &Bank, entry: usize) -> Option<std::sync::Arc<DecodedEntry>> {
        self.0.get_or_make(entry, || {
            let patch = bank.entries.get(entry)?.to_patch();
            let small = downsample(&patch);
            let luma = luma_of(&small);
            Some(DecodedEntry { patch, small, luma })
        })
    }
}
