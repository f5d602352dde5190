//! Every change to a project is an [`Edit`]. Applying one returns its inverse, so the history can
//! undo anything without snapshots of the whole project.

use super::project::{
    Clip, ClipId, DubTrack, Ducking, Marker, MediaId, MediaRef, OriginalAudioTrack,
};
use super::{ExportSettings, Project, Time, TrackId};

/// Why an edit could not be applied. The project is left unchanged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EditError {
    /// The edit names a track that is not in the project.
    #[error("no dub track with id {0}")]
    NoTrack(u32),
    /// The edit names a clip that is not in the project.
    #[error("no clip with id {0}")]
    NoClip(u32),
    /// The edit names a media file that is not in the pool.
    #[error("no media with id {0}")]
    NoMedia(u32),
    /// An id that must be new is already used.
    #[error("id {0} is already used")]
    DuplicateId(u32),
    /// The edit would break an invariant (e.g. an empty clip).
    #[error("{0}")]
    Invalid(String),
}

/// The editable properties of a dub track (everything but its id and clips).
#[derive(Clone, Debug, PartialEq)]
pub struct TrackProps {
    /// Display name.
    pub name: String,
    /// Track gain in dB.
    pub gain_db: f32,
    /// Muted.
    pub mute: bool,
    /// Soloed.
    pub solo: bool,
    /// Locked against edits.
    pub locked: bool,
}

impl TrackProps {
    /// The properties of a track.
    pub fn of(track: &DubTrack) -> Self {
        Self {
            name: track.name.clone(),
            gain_db: track.gain_db,
            mute: track.mute,
            solo: track.solo,
            locked: track.locked,
        }
    }

    fn store(&self, track: &mut DubTrack) {
        track.name.clone_from(&self.name);
        track.gain_db = self.gain_db;
        track.mute = self.mute;
        track.solo = self.solo;
        track.locked = self.locked;
    }
}

/// One reversible change to a project.
#[derive(Clone, Debug, PartialEq)]
pub enum Edit {
    /// Puts a new clip on a track (its id must be unused).
    AddClip {
        /// Target track.
        track: TrackId,
        /// The clip.
        clip: Clip,
    },
    /// Takes a clip off its track.
    RemoveClip {
        /// The clip.
        clip: ClipId,
    },
    /// Replaces a clip (same id) by a new state, optionally on another track: move, trim, slip,
    /// gain and fades are all this one edit, so a merge with new clip fields stays easy.
    SetClip {
        /// Track the clip ends up on.
        track: TrackId,
        /// New state; its id names the clip.
        clip: Clip,
    },
    /// Inserts a dub track at an index (with its clips).
    AddTrack {
        /// Position among the dub tracks (clamped).
        index: usize,
        /// The track.
        track: DubTrack,
    },
    /// Removes a dub track and its clips.
    RemoveTrack {
        /// The track.
        track: TrackId,
    },
    /// Renames, mutes, solos, locks or sets the gain of a track.
    SetTrackProps {
        /// The track.
        track: TrackId,
        /// New properties.
        props: TrackProps,
    },
    /// Binds a dub track to a face of the shot (or unbinds it with `None`); either way the
    /// editor no longer binds the track by itself ([`crate::model::DubTrack::auto_bind`]).
    SetTrackFace {
        /// The track.
        track: TrackId,
        /// The face its speech drives.
        face: Option<crate::model::lip::FaceId>,
    },
    /// Sets a dub track's face and [`crate::model::DubTrack::auto_bind`] as they were: the
    /// inverse of [`Edit::SetTrackFace`].
    RestoreTrackFace {
        /// The track.
        track: TrackId,
        /// The face.
        face: Option<crate::model::lip::FaceId>,
        /// Whether the editor may bind the track by itself.
        auto_bind: bool,
    },
    /// Replaces a dub track's per-segment lip settings (the overrides of its lip segments).
    SetLipSegments {
        /// The track.
        track: TrackId,
        /// The overrides, in any order (stored sorted by start).
        segments: Vec<crate::model::lip::LipSegment>,
    },
    /// Switches the lip edit of one face of the shot on or off (off: never edited).
    SetFaceEdit {
        /// The face.
        face: crate::model::lip::FaceId,
        /// Edit on.
        on: bool,
    },
    /// Records (or with `None` removes) what is on record about a face's consent to a lip edit.
    SetConsent {
        /// The face.
        face: crate::model::lip::FaceId,
        /// The entry; its `face` is set to `face`.
        consent: Option<crate::model::consent::FaceConsent>,
    },
    /// Replaces the marker list (kept sorted by time).
    SetMarkers(Vec<Marker>),
    /// Sets the ducking of the original.
    SetDucking(Ducking),
    /// Sets the original audio track.
    SetOriginalAudio(OriginalAudioTrack),
    /// Sets (or removes, with `None`) the M&E stem and its mute state.
    SetMeTrack {
        /// The stem's media.
        media: Option<MediaId>,
        /// Muted.
        mute: bool,
    },
    /// Sets the shot.
    SetVideo(Option<MediaId>),
    /// Sets the timeline duration.
    SetDuration(Time),
    /// Inserts a media file into the pool at an index (clamped); its id must be unused.
    InsertMedia {
        /// Position in the pool.
        index: usize,
        /// The media.
        media: MediaRef,
    },
    /// Removes a media file from the pool.
    RemoveMedia(MediaId),
    /// Replaces a media reference (same id): relinking.
    SetMedia(MediaRef),
    /// Sets the export settings.
    SetExport(ExportSettings),
    /// Renames the project.
    SetName(String),
    /// Several edits as one; the inverse undoes them in reverse order.
    Batch(Vec<Edit>),
}

fn sort_clips(track: &mut DubTrack) {
    // Ties broken by id so that removing and re-adding a clip restores the same order.
    track.clips.sort_by_key(|c| (c.position, c.id));
}

fn find_clip(project: &Project, id: ClipId) -> Option<(usize, usize)> {
    project
        .timeline
        .dub_tracks
        .iter()
        .enumerate()
        .find_map(|(ti, t)| t.clips.iter().position(|c| c.id == id).map(|ci| (ti, ci)))
}

fn track_index(project: &Project, id: TrackId) -> Result<usize, EditError> {
    project.timeline.dub_tracks.iter().position(|t| t.id == id).ok_or(EditError::NoTrack(id.0))
}

fn check_clip(clip: &Clip) -> Result<(), EditError> {
    if clip.source_out <= clip.source_in {
        return Err(EditError::Invalid(format!("clip {} would be empty", clip.id.0)));
    }
    Ok(())
}

impl Edit {
    /// Applies the edit and returns its inverse. On error the project is unchanged.
    pub fn apply(&self, project: &mut Project) -> Result<Edit, EditError> {
        let tl = &mut project.timeline;
        Ok(match self {
            Edit::AddClip { track, clip } => {
                check_clip(clip)?;
                if find_clip(project, clip.id).is_some() {
                    return Err(EditError::DuplicateId(clip.id.0));
                }
                let ti = track_index(project, *track)?;
                let t = &mut project.timeline.dub_tracks[ti];
                t.clips.push(clip.clone());
                sort_clips(t);
                Edit::RemoveClip { clip: clip.id }
            }
            Edit::RemoveClip { clip } => {
                let (ti, ci) = find_clip(project, *clip).ok_or(EditError::NoClip(clip.0))?;
                let t = &mut project.timeline.dub_tracks[ti];
                let old = t.clips.remove(ci);
                Edit::AddClip { track: t.id, clip: old }
            }
            Edit::SetClip { track, clip } => {
                check_clip(clip)?;
                let (ti, ci) = find_clip(project, clip.id).ok_or(EditError::NoClip(clip.id.0))?;
                let to = track_index(project, *track)?;
                let tracks = &mut project.timeline.dub_tracks;
                let old_track = tracks[ti].id;
                let old = tracks[ti].clips.remove(ci);
                tracks[to].clips.push(clip.clone());
                sort_clips(&mut tracks[to]);
                Edit::SetClip { track: old_track, clip: old }
            }
            Edit::AddTrack { index, track } => {
                if tl.dub_tracks.iter().any(|t| t.id == track.id) {
                    return Err(EditError::DuplicateId(track.id.0));
                }
                if let Some(c) = track.clips.iter().find(|c| find_clip(project, c.id).is_some()) {
                    return Err(EditError::DuplicateId(c.id.0));
                }
                let tl = &mut project.timeline;
                let i = (*index).min(tl.dub_tracks.len());
                tl.dub_tracks.insert(i, track.clone());
                Edit::RemoveTrack { track: track.id }
            }
            Edit::RemoveTrack { track } => {
                let i = track_index(project, *track)?;
                let old = project.timeline.dub_tracks.remove(i);
                Edit::AddTrack { index: i, track: old }
            }
            Edit::SetTrackProps { track, props } => {
                let i = track_index(project, *track)?;
                let t = &mut project.timeline.dub_tracks[i];
                let old = TrackProps::of(t);
                props.store(t);
                Edit::SetTrackProps { track: *track, props: old }
            }
            Edit::SetTrackFace { track, face } => {
                let i = track_index(project, *track)?;
                let t = &mut project.timeline.dub_tracks[i];
                let old = std::mem::replace(&mut t.face, *face);
                let auto_bind = std::mem::replace(&mut t.auto_bind, false);
                Edit::RestoreTrackFace { track: *track, face: old, auto_bind }
            }
            Edit::RestoreTrackFace { track, face, auto_bind } => {
                let i = track_index(project, *track)?;
                let t = &mut project.timeline.dub_tracks[i];
                let old = std::mem::replace(&mut t.face, *face);
                let old_auto = std::mem::replace(&mut t.auto_bind, *auto_bind);
                Edit::RestoreTrackFace { track: *track, face: old, auto_bind: old_auto }
            }
            Edit::SetLipSegments { track, segments } => {
                let i = track_index(project, *track)?;
                let mut v = segments.clone();
                v.sort_by_key(|s| (s.start, s.end));
                let old = std::mem::replace(&mut project.timeline.dub_tracks[i].lip_segments, v);
                Edit::SetLipSegments { track: *track, segments: old }
            }
            Edit::SetFaceEdit { face, on } => {
                let off = &mut tl.faces_off;
                let was_on = !off.contains(face);
                off.retain(|f| f != face);
                if !*on {
                    off.push(*face);
                    off.sort_by_key(|f| f.0);
                }
                Edit::SetFaceEdit { face: *face, on: was_on }
            }
            Edit::SetConsent { face, consent } => {
                let list = &mut tl.consent;
                let old = list.iter().position(|c| c.face == *face).map(|i| list.remove(i));
                if let Some(c) = consent {
                    list.push(crate::model::consent::FaceConsent { face: *face, ..c.clone() });
                    list.sort_by_key(|c| c.face.0);
                }
                Edit::SetConsent { face: *face, consent: old }
            }
            Edit::SetMarkers(markers) => {
                let mut m = markers.clone();
                m.sort_by_key(|m| m.time);
                Edit::SetMarkers(std::mem::replace(&mut tl.markers, m))
            }
            Edit::SetDucking(d) => Edit::SetDucking(std::mem::replace(&mut tl.ducking, *d)),
            Edit::SetOriginalAudio(o) => {
                Edit::SetOriginalAudio(std::mem::replace(&mut tl.original_audio, o.clone()))
            }
            Edit::SetMeTrack { media, mute } => {
                if let Some(id) = media
                    && project.media(*id).is_none()
                {
                    return Err(EditError::NoMedia(id.0));
                }
                let tl = &mut project.timeline;
                Edit::SetMeTrack {
                    media: std::mem::replace(&mut tl.me_track, *media),
                    mute: std::mem::replace(&mut tl.me_mute, *mute),
                }
            }
            Edit::SetVideo(v) => Edit::SetVideo(std::mem::replace(&mut tl.video.media, *v)),
            Edit::SetDuration(d) => Edit::SetDuration(std::mem::replace(&mut tl.duration, *d)),
            Edit::InsertMedia { index, media } => {
                if project.media(media.id).is_some() {
                    return Err(EditError::DuplicateId(media.id.0));
                }
                let i = (*index).min(project.media.len());
                project.media.insert(i, media.clone());
                Edit::RemoveMedia(media.id)
            }
            Edit::RemoveMedia(id) => {
                let i = project
                    .media
                    .iter()
                    .position(|m| m.id == *id)
                    .ok_or(EditError::NoMedia(id.0))?;
                let old = project.media.remove(i);
                Edit::InsertMedia { index: i, media: old }
            }
            Edit::SetMedia(media) => {
                let m = project
                    .media
                    .iter_mut()
                    .find(|m| m.id == media.id)
                    .ok_or(EditError::NoMedia(media.id.0))?;
                Edit::SetMedia(std::mem::replace(m, media.clone()))
            }
            Edit::SetExport(e) => {
                Edit::SetExport(std::mem::replace(&mut project.export, e.clone()))
            }
            Edit::SetName(n) => Edit::SetName(std::mem::replace(&mut project.name, n.clone())),
            Edit::Batch(edits) => {
                let mut inverses = Vec::with_capacity(edits.len());
                for e in edits {
                    match e.apply(project) {
                        Ok(inv) => inverses.push(inv),
                        Err(err) => {
                            // Roll back what was done so a failed batch leaves no trace.
                            for inv in inverses.iter().rev() {
                                let _ = inv.apply(project);
                            }
                            return Err(err);
                        }
                    }
                }
                inverses.reverse();
                Edit::Batch(inverses)
            }
        })
    }

    /// Whether the edit changes the structure of the project (clips, tracks, media) rather than
    /// a setting: those trigger an immediate autosave.
    pub fn is_structural(&self) -> bool {
        match self {
            Edit::AddClip { .. }
            | Edit::RemoveClip { .. }
            | Edit::AddTrack { .. }
            | Edit::RemoveTrack { .. }
            | Edit::InsertMedia { .. }
            | Edit::RemoveMedia(_)
            | Edit::SetMeTrack { .. }
            | Edit::SetVideo(_)
            // Consent is kept at once (autosave), not only at the next save.
            | Edit::SetConsent { .. } => true,
            Edit::Batch(v) => v.iter().any(Edit::is_structural),
            _ => false,
        }
    }
}

/// Finds a clip and the id of the track that holds it.
pub fn clip(project: &Project, id: ClipId) -> Option<(TrackId, &Clip)> {
    find_clip(project, id).map(|(ti, ci)| {
        let t = &project.timeline.dub_tracks[ti];
        (t.id, &t.clips[ci])
    })
}

/// A new clip using the whole of a media file at `position`, with an id not used yet.
/// The one place in the editor that builds a `Clip` from scratch (so new clip fields have one
/// default to set).
pub fn new_clip(project: &Project, media: MediaId, position: Time) -> Result<Clip, EditError> {
    let m = project.media(media).ok_or(EditError::NoMedia(media.0))?;
    if m.duration <= Time::ZERO {
        return Err(EditError::Invalid(format!("{} has no duration", m.path.display())));
    }
    let name = m.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Clip::whole(project.next_clip_id(), name, media, m.duration, position))
}

/// The edit that splits a clip at timeline time `at`, or `None` when `at` is not strictly
/// inside it. The right half gets `new_id`; fades stay on the outer ends.
pub fn split_clip(project: &Project, id: ClipId, at: Time, new_id: ClipId) -> Option<Edit> {
    let (track, c) = clip(project, id)?;
    if at <= c.position || at >= c.end() {
        return None;
    }
    let mut left = c.clone();
    let mut right = c.clone();
    // A warped clip is cut where the warp plays the source at `at`, and each half keeps its
    // part of the time map, so nothing moves in time.
    let cut = match &c.warp {
        Some(w) => {
            let (source, l, r) = w.split_at_output(at - c.position)?;
            left.warp = Some(l);
            right.warp = Some(r);
            c.source_in + source
        }
        None => c.source_in + (at - c.position),
    };
    left.source_out = cut;
    left.fade_out = Time::ZERO;
    right.id = new_id;
    right.source_in = cut;
    right.position = at;
    right.fade_in = Time::ZERO;
    Some(Edit::Batch(vec![
        Edit::SetClip { track, clip: left },
        Edit::AddClip { track, clip: right },
    ]))
}

/// The edit that removes clips and closes the gap each leaves on its track (ripple delete):
/// later clips on the same track move left by the removed length.
pub fn ripple_delete(project: &Project, ids: &[ClipId]) -> Edit {
    let mut edits = Vec::new();
    for t in &project.timeline.dub_tracks {
        let removed: Vec<&Clip> = t.clips.iter().filter(|c| ids.contains(&c.id)).collect();
        if removed.is_empty() {
            continue;
        }
        for c in &removed {
            edits.push(Edit::RemoveClip { clip: c.id });
        }
        for c in t.clips.iter().filter(|c| !ids.contains(&c.id)) {
            let shift: Time = removed
                .iter()
                .filter(|r| r.end() <= c.position)
                .fold(Time::ZERO, |acc, r| acc + r.duration());
            if shift > Time::ZERO {
                let mut moved = c.clone();
                moved.position = c.position - shift;
                edits.push(Edit::SetClip { track: t.id, clip: moved });
            }
        }
    }
    Edit::Batch(edits)
}

/// How a clip placed from the media pool treats the clips already on its track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlaceMode {
    /// Replace what lies under the new clip (Premiere's overwrite, `.`).
    Overwrite,
    /// Push what starts at or after the new clip right by its length; a clip under the insert
    /// point is split there (Premiere's insert, `,`).
    Insert,
}

/// The edit that places the whole of `media` on `track` at `at`, as an overwrite or an insert
/// (see [`PlaceMode`]). Returns the edit and the new clip's id.
pub fn place_clip(
    project: &Project,
    track: TrackId,
    media: MediaId,
    at: Time,
    mode: PlaceMode,
) -> Result<(Edit, ClipId), EditError> {
    let ti = track_index(project, track)?;
    let mut scratch = project.clone();
    let mut edits = Vec::new();
    let mut push = |e: Edit, scratch: &mut Project| -> Result<(), EditError> {
        e.apply(scratch)?;
        edits.push(e);
        Ok(())
    };
    let len = new_clip(project, media, at)?.duration();
    let end = at + len;
    // Cut the track's clips at the insert point (and, to overwrite, at the new clip's end).
    let cuts: &[Time] = match mode {
        PlaceMode::Overwrite => &[at, end],
        PlaceMode::Insert => &[at],
    };
    for &cut in cuts {
        let spanning: Vec<ClipId> = scratch.timeline.dub_tracks[ti]
            .clips
            .iter()
            .filter(|c| c.position < cut && c.end() > cut)
            .map(|c| c.id)
            .collect();
        for id in spanning {
            let new_id = scratch.next_clip_id();
            if let Some(e) = split_clip(&scratch, id, cut, new_id) {
                push(e, &mut scratch)?;
            }
        }
    }
    let later: Vec<Clip> = scratch.timeline.dub_tracks[ti]
        .clips
        .iter()
        .filter(|c| match mode {
            PlaceMode::Overwrite => c.position >= at && c.end() <= end,
            PlaceMode::Insert => c.position >= at,
        })
        .cloned()
        .collect();
    for c in later {
        let e = match mode {
            PlaceMode::Overwrite => Edit::RemoveClip { clip: c.id },
            PlaceMode::Insert => {
                let mut moved = c;
                moved.position += len;
                Edit::SetClip { track, clip: moved }
            }
        };
        push(e, &mut scratch)?;
    }
    let clip = new_clip(&scratch, media, at)?;
    let id = clip.id;
    push(Edit::AddClip { track, clip }, &mut scratch)?;
    Ok((Edit::Batch(edits), id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FrameRate, MediaKind};
    use proptest::prelude::*;
    use std::path::PathBuf;

    fn media(id: u32, secs: i64) -> MediaRef {
        MediaRef {
            id: MediaId(id),
            kind: MediaKind::Audio,
            path: PathBuf::from(format!("/m/line{id}.wav")),
            absolute_path: PathBuf::from(format!("/m/line{id}.wav")),
            content_hash: format!("sha256:{id}"),
            size: 10,
            duration: Time::from_millis(secs * 1000),
        }
    }

    fn base() -> Project {
        let mut p = Project::new("t", FrameRate::FPS_25);
        p.media.push(media(1, 2));
        p.media.push(media(2, 3));
        let a = p.add_dub_track("A");
        p.add_dub_track("B");
        p.add_clip(a, MediaId(1), Time::from_millis(500)).unwrap();
        p
    }

    #[test]
    fn binding_or_unbinding_ends_auto_binding_and_undo_restores_it() {
        let mut p = base();
        let orig = p.clone();
        let track = p.timeline.dub_tracks[0].id;
        assert!(p.timeline.dub_tracks[0].auto_bind, "a new track may be bound by the editor");
        let face = Some(crate::model::lip::FaceId(0));
        let bind = Edit::SetTrackFace { track, face }.apply(&mut p).unwrap();
        let unbind = Edit::SetTrackFace { track, face: None }.apply(&mut p).unwrap();
        assert_eq!(p.timeline.dub_tracks[0].face, None);
        assert!(!p.timeline.dub_tracks[0].auto_bind, "unbound on purpose");
        // Saved and read back, the decision stays; a project from before the field binds.
        let text = serde_json::to_string(&p).unwrap();
        let back: Project = serde_json::from_str(&text).unwrap();
        assert!(!back.timeline.dub_tracks[0].auto_bind);
        let text = serde_json::to_string(&orig).unwrap();
        assert!(!text.contains("auto_bind"), "the default is not written: {text}");
        let back: Project = serde_json::from_str(&text).unwrap();
        assert!(back.timeline.dub_tracks[0].auto_bind);
        unbind.apply(&mut p).unwrap();
        bind.apply(&mut p).unwrap();
        assert_eq!(p, orig, "undo restores the face and the auto binding");
    }

    #[test]
    fn split_then_undo_restores_the_clip() {
        let mut p = base();
        let orig = p.clone();
        let id = p.timeline.dub_tracks[0].clips[0].id;
        let e = split_clip(&p, id, Time::from_millis(1500), p.next_clip_id()).unwrap();
        let inv = e.apply(&mut p).unwrap();
        let clips = &p.timeline.dub_tracks[0].clips;
        assert_eq!(clips.len(), 2);
        assert_eq!(clips[0].end(), clips[1].position);
        assert_eq!(clips[1].source_in, Time::from_millis(1000));
        inv.apply(&mut p).unwrap();
        assert_eq!(p, orig);
    }

    #[test]
    fn splitting_a_warped_clip_splits_its_warp() {
        use crate::model::{AlignMode, Warp, WarpPoint};
        let mut p = base();
        let id = p.timeline.dub_tracks[0].clips[0].id;
        let pt = |s, o| WarpPoint { source: Time::from_millis(s), output: Time::from_millis(o) };
        // 2 s of source played in 2.4 s: slow first half, fast second half.
        let warp = Warp {
            mode: AlignMode::Adr,
            points: vec![pt(0, 0), pt(1000, 1600), pt(2000, 2400)],
            factor: 1.2,
            tightness: 0.5,
        };
        let mut c = p.timeline.dub_tracks[0].clips[0].clone();
        c.warp = Some(warp.clone());
        let track = p.timeline.dub_tracks[0].id;
        Edit::SetClip { track, clip: c.clone() }.apply(&mut p).unwrap();
        let orig = p.clone();
        // Clip at 0.5 s: timeline 1.3 s is output 0.8 s, which plays source 0.5 s.
        let e = split_clip(&p, id, Time::from_millis(1300), p.next_clip_id()).unwrap();
        let inv = e.apply(&mut p).unwrap();
        let clips = &p.timeline.dub_tracks[0].clips;
        let (l, r) = (&clips[0], &clips[1]);
        assert_eq!(l.source_out, Time::from_millis(500));
        assert_eq!(r.source_in, Time::from_millis(500));
        assert_eq!((l.end(), r.position), (Time::from_millis(1300), Time::from_millis(1300)));
        // Nothing moved: the halves end where the whole did, and every warp covers its range.
        assert_eq!(r.end(), c.end());
        for h in [l, r] {
            let w = h.warp.as_ref().unwrap();
            w.validate().unwrap();
            assert_eq!(w.source_len(), h.source_out - h.source_in);
        }
        assert_eq!(l.warp.as_ref().unwrap().points, vec![pt(0, 0), pt(500, 800)]);
        assert_eq!(r.warp.as_ref().unwrap().points, vec![pt(0, 0), pt(500, 800), pt(1500, 1600)]);
        // Every timeline instant plays the same source instant as before the split.
        for ms in [600, 1000, 1299, 1301, 2000, 2800] {
            let t = Time::from_millis(ms);
            let before = c.source_in + warp.output_to_source(t - c.position);
            let h = if t < l.end() { l } else { r };
            let after = h.source_in + h.warp.as_ref().unwrap().output_to_source(t - h.position);
            assert_eq!(after, before, "at {ms} ms");
        }
        inv.apply(&mut p).unwrap();
        assert_eq!(p, orig);
    }

    #[test]
    fn failed_batch_leaves_project_unchanged() {
        let mut p = base();
        let orig = p.clone();
        let e = Edit::Batch(vec![Edit::SetName("x".into()), Edit::RemoveClip { clip: ClipId(99) }]);
        assert_eq!(e.apply(&mut p), Err(EditError::NoClip(99)));
        assert_eq!(p, orig);
    }

    #[test]
    fn ripple_delete_closes_the_gap() {
        let mut p = base();
        let t = p.timeline.dub_tracks[0].id;
        p.add_clip(t, MediaId(2), Time::from_millis(3000)).unwrap();
        let first = p.timeline.dub_tracks[0].clips[0].id;
        ripple_delete(&p, &[first]).apply(&mut p).unwrap();
        assert_eq!(p.timeline.dub_tracks[0].clips.len(), 1);
        assert_eq!(p.timeline.dub_tracks[0].clips[0].position, Time::from_millis(1000));
    }

    /// Builds a random but valid edit for the current project from a few random numbers.
    fn pick_edit(p: &Project, k: u8, a: u32, b: i64) -> Option<Edit> {
        let clips: Vec<(TrackId, Clip)> = p
            .timeline
            .dub_tracks
            .iter()
            .flat_map(|t| t.clips.iter().map(move |c| (t.id, c.clone())))
            .collect();
        let tracks: Vec<TrackId> = p.timeline.dub_tracks.iter().map(|t| t.id).collect();
        let any_clip = || clips.get(a as usize % clips.len().max(1)).cloned();
        let any_track = || tracks.get(a as usize % tracks.len().max(1)).copied();
        let t = Time::from_millis(b.rem_euclid(10_000));
        Some(match k % 12 {
            0 => Edit::AddClip {
                track: any_track()?,
                clip: new_clip(p, MediaId(1 + a % 2), t).ok()?,
            },
            1 => Edit::RemoveClip { clip: any_clip()?.1.id },
            2 => {
                let (_, mut c) = any_clip()?;
                c.position = t;
                Edit::SetClip { track: any_track()?, clip: c }
            }
            3 => {
                let (tr, mut c) = any_clip()?;
                c.source_out = c.source_in + Time::from_millis(1 + b.rem_euclid(900));
                c.gain_db = (b % 12) as f32;
                Edit::SetClip { track: tr, clip: c }
            }
            4 => split_clip(p, any_clip()?.1.id, t, p.next_clip_id())?,
            5 => {
                let id = TrackId(tracks.iter().map(|t| t.0 + 1).max().unwrap_or(1));
                let mut q = Project::new("x", FrameRate::FPS_25);
                q.add_dub_track(format!("T{a}"));
                let mut tr = q.timeline.dub_tracks.remove(0);
                tr.id = id;
                Edit::AddTrack { index: a as usize, track: tr }
            }
            6 => Edit::RemoveTrack { track: any_track()? },
            7 => Edit::SetTrackProps {
                track: any_track()?,
                props: TrackProps {
                    name: format!("n{b}"),
                    gain_db: 1.0,
                    mute: a.is_multiple_of(2),
                    solo: b.rem_euclid(2) == 0,
                    locked: false,
                },
            },
            8 => {
                let mut m = p.timeline.markers.clone();
                m.push(Marker { time: t, name: format!("m{a}") });
                Edit::SetMarkers(m)
            }
            10 => Edit::SetTrackFace {
                track: any_track()?,
                face: (b % 3 != 0).then_some(crate::model::lip::FaceId(a % 4)),
            },
            9 => {
                let track = any_track()?;
                let mut segments = p
                    .timeline
                    .dub_tracks
                    .iter()
                    .find(|x| x.id == track)
                    .map(|x| x.lip_segments.clone())
                    .unwrap_or_default();
                segments.push(crate::model::lip::LipSegment {
                    start: t,
                    end: t + Time::from_millis(500),
                    settings: crate::model::lip::LipSettings {
                        intensity: (a % 101) as f32 / 100.0,
                        ..Default::default()
                    },
                    mask: None,
                });
                segments.sort_by_key(|s| (s.start, s.end));
                Edit::SetLipSegments { track, segments }
            }
            11 => Edit::SetFaceEdit { face: crate::model::lip::FaceId(a % 4), on: b % 2 == 0 },
            _ => ripple_delete(p, &[any_clip()?.1.id]),
        })
    }

    proptest! {
        #[test]
        fn undoing_every_edit_restores_the_project(
            steps in prop::collection::vec((any::<u8>(), any::<u32>(), any::<i64>()), 1..40)
        ) {
            let mut p = base();
            let orig = p.clone();
            let mut inverses = Vec::new();
            let mut states = Vec::new();
            for (k, a, b) in steps {
                if let Some(e) = pick_edit(&p, k, a, b) {
                    let before = p.clone();
                    if let Ok(inv) = e.apply(&mut p) {
                        inverses.push(inv);
                        states.push(before);
                    } else {
                        prop_assert_eq!(&p, &before);
                    }
                }
            }
            while let Some(inv) = inverses.pop() {
                inv.apply(&mut p).unwrap();
                prop_assert_eq!(&p, &states.pop().unwrap());
            }
            prop_assert_eq!(p, orig);
        }
    }

    #[test]
    fn overwrite_replaces_what_lies_under_and_insert_pushes_it_right() {
        let ms = Time::from_millis;
        // Track A: a 2 s clip at 0.5 s (0.5–2.5 s). Place the 3 s media 2 at 1 s.
        let p = base();
        let a = p.timeline.dub_tracks[0].id;
        let (e, id) = place_clip(&p, a, MediaId(2), ms(1000), PlaceMode::Overwrite).unwrap();
        let mut o = p.clone();
        let inv = e.apply(&mut o).unwrap();
        let spans: Vec<(Time, Time)> =
            o.timeline.dub_tracks[0].clips.iter().map(|c| (c.position, c.end())).collect();
        assert_eq!(spans, vec![(ms(500), ms(1000)), (ms(1000), ms(4000))]);
        assert_eq!(o.timeline.dub_tracks[0].clips[1].id, id);
        inv.apply(&mut o).unwrap();
        assert_eq!(o, p, "one undo");

        let (e, _) = place_clip(&p, a, MediaId(2), ms(1000), PlaceMode::Insert).unwrap();
        let mut i = p.clone();
        e.apply(&mut i).unwrap();
        let spans: Vec<(Time, Time)> =
            i.timeline.dub_tracks[0].clips.iter().map(|c| (c.position, c.end())).collect();
        // Split at 1 s; the right part (1.5 s long) moves right by the new clip's 3 s.
        assert_eq!(spans, vec![(ms(500), ms(1000)), (ms(1000), ms(4000)), (ms(4000), ms(5500))]);
    }
}
