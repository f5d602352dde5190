//! Auto-align of a dub line to the original dialogue: ADR (DTW time map) and isochrony (one
//! factor into a slot). Pure maths on mono samples; the caller decodes and writes the project.

use super::dtw::{self, DtwError, MapConfig};
use super::isochrony::{self, IsochronyFit, StretchRange};
use super::mfcc::{MfccConfig, MfccExtractor};
use super::stretch::TimeMap;
use super::vad::{self, SpeechSegment, VadConfig};
use crate::model::{AlignMode, Time, Warp, WarpPoint};

/// Alignment failures.
#[derive(Debug, thiserror::Error)]
pub enum AlignError {
    /// No speech was found where it is needed.
    #[error("no speech found in the {0}")]
    NoSpeech(&'static str),
    /// From DTW.
    #[error(transparent)]
    Dtw(#[from] DtwError),
    /// Nothing to align to (no original audio, or no cue and no original speech under the clip).
    #[error("{0}")]
    NothingToAlignTo(String),
}

/// The span from the first to the last speech segment, if any.
pub fn speech_span(mono: &[f32], rate: u32) -> Option<SpeechSegment> {
    let segs = vad::detect_speech(mono, rate, &VadConfig::default());
    Some(SpeechSegment { start: segs.first()?.start, end: segs.last()?.end })
}

/// DTW time map from `dub` to `orig` (sample positions of the whole signals, ends pinned).
pub fn dtw_time_map(
    dub: &[f32],
    orig: &[f32],
    rate: u32,
    cfg: &MapConfig,
) -> Result<TimeMap, DtwError> {
    let ex = MfccExtractor::new(MfccConfig::speech(rate));
    let a = ex.mfcc_deltas_normalised(dub);
    let b = ex.mfcc_deltas_normalised(orig);
    // A wide band: lines may differ in length by far more than the local stretch limit.
    let path = dtw::dtw_path(&a, &b, 0.25)?;
    let map = dtw::path_to_map(&path, a.len(), b.len(), cfg);
    let hop = ex.config().layout.hop as f64;
    let pts: Vec<(f64, f64)> =
        map.iter().enumerate().map(|(i, &j)| (i as f64 * hop, j * hop)).collect();
    // 1 ms tolerance keeps the warp small in the project file without audible difference.
    let pts = dtw::simplify(&pts, f64::from(rate) / 1000.0);
    let mut pts = pts;
    // Frame centres stop short of the ends; carry the last rate to the true ends.
    if let (Some(&(s, o)), true) = (pts.last(), !dub.is_empty()) {
        let (ds, dout) = (dub.len() as f64 - s, orig.len() as f64 - o);
        if ds > 0.0 && dout > 0.0 {
            pts.push((dub.len() as f64, orig.len() as f64));
        }
    }
    Ok(TimeMap::new(&pts))
}

/// Result of an ADR alignment.
#[derive(Clone, Debug, PartialEq)]
pub struct AdrAlignment {
    /// The clip's new warp (source offsets → output offsets from the clip position).
    pub warp: Warp,
    /// Where the clip should start, as samples from the start of the original region.
    pub position: i64,
    /// Original speech span used, in region samples.
    pub original_speech: SpeechSegment,
    /// Dub speech span used, in clip samples.
    pub dub_speech: SpeechSegment,
}

/// Aligns a dub line (`dub`: the clip's source range, mono) to the original dialogue it
/// overlaps (`orig`: a region of the original, mono). Speech spans are found with the VAD; the
/// dub's speech is warped onto the original's with DTW; audio before and after the dub's speech
/// keeps its own speed.
pub fn adr_align(
    dub: &[f32],
    orig: &[f32],
    rate: u32,
    cfg: &MapConfig,
) -> Result<AdrAlignment, AlignError> {
    let os = speech_span(orig, rate).ok_or(AlignError::NoSpeech("original under the clip"))?;
    let ds = speech_span(dub, rate).ok_or(AlignError::NoSpeech("dub clip"))?;
    let map = dtw_time_map(&dub[ds.start..ds.end], &orig[os.start..os.end], rate, cfg)?;
    let lead = ds.start as f64;
    let mut pts: Vec<(f64, f64)> = vec![(0.0, 0.0)];
    pts.extend(map.points().iter().map(|&(s, o)| (s + lead, o + lead)));
    let tail_out = lead + map.output_len();
    if dub.len() > ds.end {
        pts.push((dub.len() as f64, tail_out + (dub.len() - ds.end) as f64));
    }
    let warp = warp_from_samples(AlignMode::Adr, &pts, rate, cfg.tightness);
    Ok(AdrAlignment {
        warp,
        position: os.start as i64 - ds.start as i64,
        original_speech: os,
        dub_speech: ds,
    })
}

/// Turns `(source, output)` sample pairs into a model warp (strictly increasing, from 0 → 0).
pub fn warp_from_samples(mode: AlignMode, pts: &[(f64, f64)], rate: u32, tightness: f32) -> Warp {
    let mut points: Vec<WarpPoint> = Vec::with_capacity(pts.len());
    for &(s, o) in pts {
        let p = WarpPoint {
            source: Time::from_samples(s.round() as i64, rate),
            output: Time::from_samples(o.round() as i64, rate),
        };
        match points.last() {
            Some(last) if p.source <= last.source || p.output <= last.output => {}
            _ => points.push(p),
        }
    }
    if points.first().is_none_or(|p| p.source != Time::ZERO || p.output != Time::ZERO) {
        points.insert(0, WarpPoint { source: Time::ZERO, output: Time::ZERO });
    }
    let (src, out) = points.last().map_or((1, 1), |p| (p.source.ticks().max(1), p.output.ticks()));
    Warp { mode, points, factor: out as f64 / src as f64, tightness }
}

/// Result of an isochrony fit.
#[derive(Clone, Debug, PartialEq)]
pub struct IsochronyAlignment {
    /// The uniform warp over the clip's whole source range.
    pub warp: Warp,
    /// The factor and verdict.
    pub fit: IsochronyFit,
    /// Where the clip should start relative to the slot start (negative when the dub has
    /// leading silence, so its speech starts on the slot).
    pub position: Time,
}

/// Fits a line's speech into `slot` with one factor within `range`. `dub` is the clip's source
/// range (mono); its speech span (VAD) is what must fit.
pub fn isochrony_align(
    dub: &[f32],
    rate: u32,
    slot: Time,
    range: StretchRange,
) -> IsochronyAlignment {
    let span = speech_span(dub, rate).unwrap_or(SpeechSegment { start: 0, end: dub.len() });
    let speech = Time::from_samples(span.len() as i64, rate);
    let fit = isochrony::fit(speech, slot, range);
    let total = Time::from_samples(dub.len() as i64, rate);
    let warp = Warp::uniform(AlignMode::Isochrony, total, fit.factor);
    let lead = Time::from_samples(span.start as i64, rate);
    let lead_out = Time::from_ticks((lead.ticks() as f64 * fit.factor).round() as i64);
    IsochronyAlignment { warp, fit, position: -lead_out }
}

/// Timeline span (first start, last end) of the original speech that overlaps `from..to`
/// (VAD over a window 3 s wider each side, so segments cut by the window edge are whole).
/// `orig` is the original dialogue, mono, from timeline time 0.
pub fn original_speech(orig: &[f32], rate: u32, from: Time, to: Time) -> Option<(Time, Time)> {
    let margin = Time::from_millis(3000);
    let w0 = (from - margin).max(Time::ZERO).to_samples(rate).max(0) as usize;
    let w1 = ((to + margin).to_samples(rate).max(0) as usize).min(orig.len());
    if w0 >= w1 {
        return None;
    }
    let (a, b) = (from.to_samples(rate).max(0) as usize, to.to_samples(rate).max(0) as usize);
    let segs: Vec<_> = vad::detect_speech(&orig[w0..w1], rate, &VadConfig::default())
        .into_iter()
        .map(|s| (s.start + w0, s.end + w0))
        .filter(|&(s, e)| s < b && e > a)
        .collect();
    let first = segs.first()?.0;
    let last = segs.last()?.1;
    Some((Time::from_samples(first as i64, rate), Time::from_samples(last as i64, rate)))
}

/// What auto-align decided for one clip of a project.
#[derive(Clone, Debug, PartialEq)]
pub struct ClipAlignment {
    /// The clip's new warp.
    pub warp: Warp,
    /// The clip's new timeline position (never negative).
    pub position: Time,
    /// The slot the line was fitted to (isochrony: the cue, or the original speech under it;
    /// ADR: the original speech span).
    pub slot: (Time, Time),
    /// The isochrony verdict (isochrony mode only).
    pub fit: Option<IsochronyFit>,
}

/// Settings of an auto-align run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AlignSettings {
    /// ADR (DTW time map) or isochrony (one factor); `Manual` is treated as ADR.
    pub mode: AlignMode,
    /// Isochrony's allowed factors.
    pub range: StretchRange,
    /// ADR smoothing, 0 = loose … 1 = tight.
    pub tightness: f32,
}

/// Aligns a project clip: `dub` is the clip's source range (mono), `orig` the original dialogue
/// (mono, from timeline 0) when the project has one. The clip's unwarped span from its
/// position is where its original line is looked for.
pub fn align_clip(
    clip: &crate::model::Clip,
    dub: &[f32],
    orig: Option<&[f32]>,
    rate: u32,
    settings: &AlignSettings,
) -> Result<ClipAlignment, AlignError> {
    let (span_from, span_to) = (clip.position, clip.position + (clip.source_out - clip.source_in));
    let speech = orig.and_then(|o| original_speech(o, rate, span_from, span_to));
    let what = |t: &str| AlignError::NothingToAlignTo(format!("clip {}: {t}", clip.id.0));
    let a = match settings.mode {
        AlignMode::Isochrony => {
            let slot = match (&clip.cue, speech) {
                (Some(c), _) => (c.start, c.end),
                (None, Some(s)) => s,
                (None, None) => return Err(what("no cue and no original speech under it")),
            };
            let a = isochrony_align(dub, rate, slot.1 - slot.0, settings.range);
            ClipAlignment { warp: a.warp, position: slot.0 + a.position, slot, fit: Some(a.fit) }
        }
        AlignMode::Adr | AlignMode::Manual => {
            let orig = orig.ok_or_else(|| what("the project has no original audio to align to"))?;
            let (s0, s1) = speech.ok_or_else(|| what("no original speech under it"))?;
            // A little room either side so the VAD sees the onsets whole.
            let pad = Time::from_millis(150);
            let r0 = (s0 - pad).max(Time::ZERO);
            let a0 = (r0.to_samples(rate).max(0) as usize).min(orig.len());
            let a1 = ((s1 + pad).to_samples(rate).max(0) as usize).clamp(a0, orig.len());
            let cfg = MapConfig { tightness: settings.tightness, ..MapConfig::default() };
            let a = adr_align(dub, &orig[a0..a1], rate, &cfg)?;
            let position = r0 + Time::from_samples(a.position, rate);
            ClipAlignment { warp: a.warp, position, slot: (s0, s1), fit: None }
        }
    };
    Ok(ClipAlignment { position: a.position.max(Time::ZERO), ..a })
}
