//! The inputs of a render: the shot's path, the decoded sound of the original (or the M&E stem)
//! and of every audible dub clip, the stretched samples of warped clips, and the mixer input
//! built from them. Export and the editor's playback mix from the same [`Sources`], so what
//! plays is what is written.

use super::RenderError;
use crate::dsp::SAMPLE_RATE;
use crate::dsp::db_to_gain;
use crate::dsp::mix::{self, ClipSignal, DuckParams, MixInput};
use crate::media::{AudioBuffer, MediaError, decode_audio};
use crate::model::project::{media_change, resolve_media_path};
use crate::model::{ClipId, MediaId, Project, Time};
use crate::render::warp_cache::WarpCache;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Decoded inputs of a render; the editor's playback mixes from the same struct so that what
/// it plays is what export writes.
pub struct Sources {
    /// The shot's path, when video is rendered.
    pub video: Option<PathBuf>,
    /// The original audio, or the M&E stem that replaces it (stereo 48 kHz); `None` when
    /// [`Sources::original_file`] streams it instead.
    pub original: Option<AudioBuffer>,
    /// The file of the original audio (or M&E stem) when it is streamed rather than decoded
    /// whole ([`load_sources_streamed`]: export, whose memory must not grow with the media).
    pub original_file: Option<PathBuf>,
    /// Whether `original` is an M&E stem (never ducked: it has no dialogue).
    pub is_me: bool,
    /// Every audible dub clip's media, stereo 48 kHz.
    pub clips: HashMap<MediaId, AudioBuffer>,
    /// Stretched samples of warped clips.
    pub warped: HashMap<ClipId, Arc<Vec<f32>>>,
}

pub(crate) fn media_path(
    project: &Project,
    dir: &Path,
    id: MediaId,
) -> Result<PathBuf, RenderError> {
    let m = project.media(id).ok_or_else(|| {
        RenderError::Invalid(format!("project refers to unknown media id {}", id.0))
    })?;
    let path = resolve_media_path(m, dir)
        .ok_or_else(|| RenderError::MissingMedia { path: m.path.clone() })?;
    // Other content under the same name would render silently, and a bound lip edit would land
    // on another face: refuse it.
    let changed = media_change(m, &path)
        .map_err(|e| RenderError::Invalid(format!("{}: {e}", path.display())))?;
    match changed {
        Some(what) => Err(RenderError::MediaChanged { path, what }),
        None => Ok(path),
    }
}

/// The shot's path (an error when the project has none).
pub(crate) fn video_path(project: &Project, dir: &Path) -> Result<PathBuf, RenderError> {
    match project.timeline.video.media {
        Some(id) => media_path(project, dir, id),
        None => Err(RenderError::Invalid("the project has no video; use the wav preset".into())),
    }
}

/// Decodes what a render of `project` needs (relative media paths resolve against `dir`).
pub fn load_sources(
    project: &Project,
    dir: &Path,
    need_video: bool,
) -> Result<Sources, RenderError> {
    load(project, dir, need_video, false, None)
}

/// [`load_sources`] for playback: a sound that cannot be found or decoded is left out (its
/// clips play silent, an original that fails plays none) and listed with its error, instead of
/// failing the whole load: one unreadable file must not silence every other one.
pub fn load_sources_lenient(
    project: &Project,
    dir: &Path,
) -> Result<(Sources, Vec<(MediaId, RenderError)>), RenderError> {
    let mut skipped = Vec::new();
    let sources = load(project, dir, false, false, Some(&mut skipped))?;
    Ok((sources, skipped))
}

/// [`load_sources`] with the original audio (or M&E stem) left in its file, to be streamed
/// ([`Sources::original_file`]); only the dub clips are decoded.
pub fn load_sources_streamed(
    project: &Project,
    dir: &Path,
    need_video: bool,
) -> Result<Sources, RenderError> {
    load(project, dir, need_video, true, None)
}

/// Loads the sources; with `skipped`, a media file that cannot be found or decoded is left out
/// and listed there instead of failing the load.
fn load(
    project: &Project,
    dir: &Path,
    need_video: bool,
    stream_original: bool,
    mut skipped: Option<&mut Vec<(MediaId, RenderError)>>,
) -> Result<Sources, RenderError> {
    let video = if need_video { Some(video_path(project, dir)?) } else { None };
    let is_me = project.timeline.me_track.is_some();
    // What to decode: the original sound (or the M&E stem replacing it) and each audible dub
    // clip's media once; decoded side by side, as many at once as there are cores.
    let original_media = match (project.timeline.me_track, project.timeline.original_audio.media) {
        // The M&E stem replaces the original entirely, also when muted.
        (Some(_), _) if project.timeline.me_mute => None,
        (Some(me), _) => Some(me),
        (None, Some(id)) if !project.timeline.original_audio.mute => Some(id),
        _ => None,
    };
    let mut clip_media: Vec<MediaId> = Vec::new();
    for track in project.timeline.dub_tracks.iter().filter(|t| project.is_audible(t)) {
        for clip in &track.clips {
            if !clip_media.contains(&clip.media) {
                clip_media.push(clip.media);
            }
        }
    }
    let mut original_file = None;
    let original_media = match original_media {
        Some(id) if stream_original => {
            let path = media_path(project, dir, id)?;
            match crate::media::probe(&path)?.audio {
                Some(_) => original_file = Some(path),
                // A shot without sound plays none (an M&E stem without sound is an error).
                None if !is_me => {}
                None => return Err(MediaError::NoStream { path, what: "audio" }.into()),
            }
            None
        }
        other => other,
    };
    // Each sound to decode (the original first, when there is one) with its path; a path that
    // cannot be resolved is skipped when allowed.
    let wanted = original_media.map(|id| (true, id)).into_iter();
    let wanted = wanted.chain(clip_media.iter().map(|&id| (false, id)));
    let mut located: Vec<(bool, MediaId, PathBuf)> = Vec::new();
    for (is_original, id) in wanted {
        match (media_path(project, dir, id), skipped.as_deref_mut()) {
            (Ok(p), _) => located.push((is_original, id, p)),
            (Err(e), Some(list)) => list.push((id, e)),
            (Err(e), None) => return Err(e),
        }
    }
    let paths: Vec<PathBuf> = located.iter().map(|(_, _, p)| p.clone()).collect();
    let mut original = None;
    let mut clips = HashMap::new();
    for ((is_original, id, _), decoded) in located.into_iter().zip(decode_all(&paths)) {
        let e = match decoded {
            Ok(a) if is_original => {
                original = Some(a);
                continue;
            }
            Ok(a) => {
                clips.insert(id, a);
                continue;
            }
            // A shot without sound plays none (an M&E stem without sound is an error).
            Err(MediaError::NoStream { .. }) if is_original && !is_me => continue,
            Err(e) => e,
        };
        match skipped.as_deref_mut() {
            Some(list) => list.push((id, e.into())),
            None => return Err(e.into()),
        }
    }
    let warped = warped_clips(project, &clips, &mut WarpCache::new());
    Ok(Sources { video, original, original_file, is_me, clips, warped })
}

/// Decodes each file's sound (stereo 48 kHz), several at once (one per core), in order.
fn decode_all(paths: &[PathBuf]) -> Vec<Result<AudioBuffer, MediaError>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(paths.len());
    if threads <= 1 {
        return paths.iter().map(|p| decode_audio(p, Some(2))).collect();
    }
    // Each worker takes the next file until none is left; results come back with their index.
    let next = std::sync::atomic::AtomicUsize::new(0);
    type Decoded = (usize, Result<AudioBuffer, MediaError>);
    let joined: Option<Vec<Vec<Decoded>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let Some(p) = paths.get(k) else { return done };
                        done.push((k, decode_audio(p, Some(2))));
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().ok()).collect()
    });
    let Some(joined) = joined else {
        return vec![Err(MediaError::Internal("an audio decoder panicked".into()))];
    };
    let mut out: Vec<_> = joined.into_iter().flatten().collect();
    out.sort_by_key(|(k, _)| *k);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Stretched samples of every audible warped clip of `project` (the cache keeps the ones whose
/// warp and source range did not change: the editor calls this after each edit).
pub fn warped_clips(
    project: &Project,
    clips: &HashMap<MediaId, AudioBuffer>,
    cache: &mut WarpCache,
) -> HashMap<ClipId, Arc<Vec<f32>>> {
    let mut warped = HashMap::new();
    for track in project.timeline.dub_tracks.iter().filter(|t| project.is_audible(t)) {
        for clip in track.clips.iter().filter(|c| c.warp.is_some()) {
            let Some(buf) = clips.get(&clip.media) else { continue };
            if let Some(w) = cache.get(clip, used_range(buf, clip), SAMPLE_RATE) {
                warped.insert(clip.id, w);
            }
        }
    }
    warped
}

/// The part of a decoded source a clip uses (`source_in..source_out`), interleaved stereo.
fn used_range<'a>(buf: &'a AudioBuffer, clip: &crate::model::Clip) -> &'a [f32] {
    let samples = |t: Time| t.to_samples(SAMPLE_RATE).max(0) as usize;
    let total = buf.frames();
    let from = samples(clip.source_in).min(total);
    let to = samples(clip.source_out).clamp(from, total);
    &buf.samples[from * mix::CHANNELS..to * mix::CHANNELS]
}

/// Builds the mixer input for a project from decoded sources.
pub fn mix_input<'a>(project: &Project, sources: &'a Sources) -> MixInput<'a> {
    mix_input_with(project, sources, &sources.warped)
}

/// [`mix_input`] with the stretched samples of warped clips from elsewhere (the editor's,
/// kept up to date with its edits); a clip without a warp always plays its source.
pub fn mix_input_with<'a>(
    project: &Project,
    sources: &'a Sources,
    warped: &'a HashMap<ClipId, Arc<Vec<f32>>>,
) -> MixInput<'a> {
    let ms = |v: f32| (v.max(0.0) * SAMPLE_RATE as f32 / 1000.0) as usize;
    let samples = |t: Time| t.to_samples(SAMPLE_RATE).max(0) as usize;
    let mut clips = Vec::new();
    for track in project.timeline.dub_tracks.iter().filter(|t| project.is_audible(t)) {
        for c in &track.clips {
            let Some(buf) = sources.clips.get(&c.media) else { continue };
            let used = match warped.get(&c.id).filter(|_| c.warp.is_some()) {
                Some(w) => w.as_slice(),
                None => used_range(buf, c),
            };
            let duck = |d: crate::model::Ducking| DuckParams {
                depth_db: d.depth_db,
                attack: ms(d.attack_ms),
                release: ms(d.release_ms),
            };
            clips.push(ClipSignal {
                samples: used,
                position: c.position.to_samples(SAMPLE_RATE),
                gain: db_to_gain(c.gain_db + track.gain_db),
                fade_in: samples(c.fade_in),
                fade_out: samples(c.fade_out),
                // An M&E stem has no dialogue to duck.
                duck: if sources.is_me { None } else { c.ducking.map(duck) },
            });
        }
    }
    let d = project.timeline.ducking;
    MixInput {
        // Muting is checked here too: the editor decodes muted tracks so unmuting is instant.
        original: sources
            .original
            .as_ref()
            .filter(|_| {
                let tl = &project.timeline;
                if sources.is_me { !tl.me_mute } else { !tl.original_audio.mute }
            })
            .map(|b| b.samples.as_slice()),
        original_start: 0,
        // The M&E stem plays at unity: the original track's gain is for the original.
        original_gain: if sources.is_me {
            1.0
        } else {
            db_to_gain(project.timeline.original_audio.gain_db)
        },
        clips,
        ducking: DuckParams {
            depth_db: if sources.is_me { 0.0 } else { d.depth_db },
            attack: ms(d.attack_ms),
            release: ms(d.release_ms),
        },
    }
}
