//! The one dispatcher: every [`AppCommand`] a panel emits is applied here, once per frame, with
//! the editing helpers the commands share (split, edit points, seek).

use super::*;
use crate::app::file_browser::BrowsePurpose;

impl RedubApp {
    /// Applies one command.
    pub fn apply(&mut self, cmd: AppCommand) {
        use AppCommand as C;
        match cmd {
            C::NewProject => self.guard_unsaved(AfterPrompt::New),
            C::Open(Some(p)) => self.guard_unsaved(AfterPrompt::Open(p)),
            C::Open(None) => {
                if let Some(p) = self.browse(BrowsePurpose::Open).and_then(|v| v.into_iter().next())
                {
                    self.guard_unsaved(AfterPrompt::Open(p));
                }
            }
            C::Save => match self.path.clone() {
                Some(p) => {
                    self.save_to(&p);
                }
                None => self.apply(C::SaveAs(None)),
            },
            C::SaveAs(Some(p)) => {
                // A "Save" answered to "save changes?" through the built-in browser goes on
                // with what waited for the answer once the file is written.
                if self.save_to(&p)
                    && let Some(after) = self.after_save.take()
                {
                    self.proceed(after);
                }
            }
            C::SaveAs(None) => {
                if let Some(p) =
                    self.browse(BrowsePurpose::SaveAs).and_then(|v| v.into_iter().next())
                {
                    self.save_to(&p);
                }
            }
            C::Import { paths: Some(paths), target } => {
                if let Err(e) = self.importer.start(paths, target, self.ctx.clone()) {
                    self.error(format!("cannot start import: {e}"));
                }
            }
            C::Import { paths: None, target } => {
                if let Some(paths) = self.browse(BrowsePurpose::Import(target)) {
                    self.apply(C::Import { paths: Some(paths), target });
                }
            }
            C::ImportSubtitles(None) => {
                if let Some(p) =
                    self.browse(BrowsePurpose::Subtitles).and_then(|v| v.into_iter().next())
                {
                    self.apply(C::ImportSubtitles(Some(p)));
                }
            }
            C::ImportSubtitles(Some(srt)) => self.import_subtitles(&srt),
            C::SelectMedia(m) => self.media_selection = m,
            C::PlaceMedia { media, track, at, mode } => self.place_media(media, track, at, mode),
            C::InsertAtPlayhead | C::OverwriteAtPlayhead => {
                let mode = if matches!(cmd, C::InsertAtPlayhead) {
                    PlaceMode::Insert
                } else {
                    PlaceMode::Overwrite
                };
                let Some(media) = self.media_selection else {
                    self.error("select an audio file in the Media panel first");
                    return;
                };
                if let Some(track) = self.target_track() {
                    self.place_media(media, track, self.playhead, mode);
                }
            }
            C::Edit { edit: Edit::SetTrackFace { track, face: Some(face) }, label }
                if !self.project.has_consent(face) && !self.consent_asked.contains(&face) =>
            {
                // Binding edits the mouth of a person without consent on record: ask, until
                // the user binds the face anyway.
                self.consent_prompt = Some((Edit::SetTrackFace { track, face: Some(face) }, label));
            }
            C::ConsentPrompt(bind) => {
                if let Some((edit, label)) = self.consent_prompt.take()
                    && bind
                {
                    if let Edit::SetTrackFace { face: Some(face), .. } = &edit {
                        self.consent_asked.insert(*face);
                    }
                    self.edit(edit, &label);
                }
            }
            C::Edit { edit, label } => self.edit(edit, &label),
            C::BeginGesture(label) => self.history.begin_gesture(&label),
            C::EndGesture => {
                self.history.end_gesture();
                self.changes += 1;
            }
            C::CancelGesture => self.history.cancel_gesture(&mut self.project),
            C::Undo => {
                self.stop();
                match self.history.undo(&mut self.project) {
                    Ok(Some(l)) => self.info(format!("Undo: {l}")),
                    Ok(None) => self.info("Nothing to undo"),
                    Err(e) => self.error(format!("{e}; the project is unchanged")),
                }
                self.after_change(true);
            }
            C::Redo => {
                self.stop();
                match self.history.redo(&mut self.project) {
                    Ok(Some(l)) => self.info(format!("Redo: {l}")),
                    Ok(None) => self.info("Nothing to redo"),
                    Err(e) => self.error(format!("{e}; the project is unchanged")),
                }
                self.after_change(true);
            }
            C::TogglePlay => {
                if self.play.is_some() {
                    self.stop();
                } else {
                    self.shuttle.speed = 1;
                    self.start_play(1);
                }
            }
            C::Shuttle(dir) => {
                let speed = self.shuttle.press(dir);
                self.stop();
                if speed != 0 {
                    self.start_play(speed);
                }
            }
            C::StepFrames(n) => {
                self.stop();
                let rate = self.project.timeline.frame_rate;
                let f = (rate.time_to_frame(self.playhead) + n).max(0);
                self.seek(rate.frame_to_time(f));
            }
            C::Seek(t) => {
                let playing = self.play.as_ref().map(|_| self.shuttle.speed);
                self.stop();
                self.seek(t.max(Time::ZERO));
                if let Some(s) = playing {
                    self.start_play(s);
                }
            }
            C::GoToStart | C::GoToEnd => {
                self.stop();
                let rate = self.project.timeline.frame_rate;
                let last = (rate.time_to_frame(self.end_time()) - 1).max(0);
                let frame = if matches!(cmd, C::GoToEnd) { last } else { 0 };
                self.seek(rate.frame_to_time(frame));
            }
            C::PrevEdit | C::NextEdit => {
                let next = matches!(cmd, C::NextEdit);
                if let Some(t) = self.edit_point(next) {
                    self.stop();
                    self.seek(t);
                }
            }
            C::SetIn => self.in_point = Some(self.playhead),
            C::SetOut => self.out_point = Some(self.playhead),
            C::AddMarker => {
                let mut m = self.project.timeline.markers.clone();
                if !m.iter().any(|x| x.time == self.playhead) {
                    m.push(Marker { time: self.playhead, name: format!("Marker {}", m.len() + 1) });
                    self.edit(Edit::SetMarkers(m), "Add marker");
                }
            }
            C::DeleteMarker(index) => {
                let mut m = self.project.timeline.markers.clone();
                if index < m.len() {
                    m.remove(index);
                    self.edit(Edit::SetMarkers(m), "Delete marker");
                }
            }
            C::DeleteMarkerAtPlayhead => {
                // At the playhead: within half a frame of it (markers sit on frames).
                let half =
                    Time::from_ticks(self.project.timeline.frame_rate.frame_duration().ticks() / 2);
                let at = self.playhead;
                let found = self
                    .project
                    .timeline
                    .markers
                    .iter()
                    .position(|m| (m.time - at).ticks().abs() <= half.ticks());
                match found {
                    Some(i) => self.apply(C::DeleteMarker(i)),
                    None => self.info("No marker at the playhead"),
                }
            }
            C::Split => self.split(),
            C::Delete => {
                let edits: Vec<Edit> = self
                    .editable_selection()
                    .into_iter()
                    .map(|clip| Edit::RemoveClip { clip })
                    .collect();
                if !edits.is_empty() {
                    self.edit(Edit::Batch(edits), "Delete clips");
                    self.selection.clear();
                }
            }
            C::RippleDelete => {
                let ids = self.editable_selection();
                if !ids.is_empty() {
                    let e = ripple_delete(&self.project, &ids);
                    self.edit(e, "Ripple delete");
                    self.selection.clear();
                }
            }
            C::ToggleSnap => self.snap = !self.snap,
            C::Select(ids, mode) => {
                // Selecting clips ends the lip segment selection.
                self.lip_ui.selected = None;
                match mode {
                    SelectMode::Replace => self.selection = ids,
                    SelectMode::Add => {
                        for id in ids {
                            if !self.selection.contains(&id) {
                                self.selection.push(id);
                            }
                        }
                    }
                    SelectMode::Toggle => {
                        for id in ids {
                            if let Some(i) = self.selection.iter().position(|s| *s == id) {
                                self.selection.remove(i);
                            } else {
                                self.selection.push(id);
                            }
                        }
                    }
                }
            }
            C::AddTrack => {
                let mut scratch = self.project.clone();
                let n = scratch.timeline.dub_tracks.len() + 1;
                let id = scratch.add_dub_track(format!("Dub {n}"));
                if let Some(track) =
                    scratch.timeline.dub_tracks.iter().find(|t| t.id == id).cloned()
                {
                    self.edit(Edit::AddTrack { index: usize::MAX, track }, "Add dub track");
                }
            }
            C::RemoveTrack(id) => self.edit(Edit::RemoveTrack { track: id }, "Remove dub track"),
            C::ZoomTimeline { factor, around } => self.timeline.zoom(factor, around),
            C::ViewerZoom(z) => self.viewer.zoom = z,
            C::ToggleSafeAreas => self.viewer.safe_areas = !self.viewer.safe_areas,
            C::ToggleBeforeAfter => self.viewer.before = !self.viewer.before,
            C::SetWipe(f) => self.viewer.split = f,
            C::ToggleMaskOverlay => self.viewer.mask_overlay = !self.viewer.mask_overlay,
            C::ToggleFaceBoxes => self.viewer.face_boxes = !self.viewer.face_boxes,
            C::CancelLipJob => self.lip_preview.cancel(),
            C::PlaybackStats { reset: true } => {
                self.dropped_frames = 0;
                self.viewer.played_frames = 0;
                self.stats_since = Some(Instant::now());
            }
            C::PlaybackStats { reset: false } => println!("{}", self.playback_stats()),
            C::RetryLipJob => self.lip_preview.retry(&self.ctx.clone()),
            C::ShowExport => self.export.show(&self.project, self.path.as_deref()),
            C::ShowFarmExport => self.farm.show(self.path.as_deref()),
            C::WriteFarmJob { pieces, format, output } => {
                self.write_farm_job(pieces, format, &output)
            }
            C::HideExport => {
                if self.export.running.is_none() {
                    self.export.open = false;
                }
            }
            C::StartExport {
                preset,
                range,
                output,
                past_picture,
                allow_unconsented,
                disclosure,
            } => self.start_export(
                preset,
                range,
                output,
                past_picture,
                allow_unconsented,
                disclosure,
            ),
            C::CancelExport => {
                if let Some(r) = &self.export.running {
                    r.job.cancel();
                }
            }
            C::BrowseExportOutput => {
                if let Some(p) =
                    self.browse(BrowsePurpose::ExportOutput).and_then(|v| v.into_iter().next())
                {
                    self.export.output = p.display().to_string();
                }
            }
            C::ShowInFolder(dir) => {
                if let Err(e) = std::process::Command::new("xdg-open").arg(&dir).spawn() {
                    self.error(format!("cannot open {}: {e}", dir.display()));
                }
            }
            C::RelinkFolder(Some(folder)) => {
                let (edit, left) = relink_edit(&self.project, &self.project_dir(), &folder);
                let n = match &edit {
                    Some(Edit::Batch(v)) => v.len(),
                    _ => 0,
                };
                if let Some(e) = edit {
                    self.edit(e, "Relink media");
                }
                self.missing_checked = None;
                self.info(format!("Relinked {n} file(s); {left} still missing"));
            }
            C::CollectProject(Some(p)) => self.collect_project(p),
            C::CollectProject(None) => {
                if let Some(p) =
                    self.browse(BrowsePurpose::CollectProject).and_then(|v| v.into_iter().next())
                {
                    self.collect_project(p);
                }
            }
            C::CancelBundle => {
                if let Some(j) = &self.bundle_job {
                    j.cancel();
                }
            }
            C::ExportTimeline(Some(p)) => self.export_timeline(&p),
            C::ExportTimeline(None) => {
                if let Some(p) =
                    self.browse(BrowsePurpose::ExportTimeline).and_then(|v| v.into_iter().next())
                {
                    self.export_timeline(&p);
                }
            }
            C::ImportTimeline(Some(p)) => self.guard_unsaved(AfterPrompt::ImportTimeline(p)),
            C::ImportTimeline(None) => {
                if let Some(p) =
                    self.browse(BrowsePurpose::ImportTimeline).and_then(|v| v.into_iter().next())
                {
                    self.guard_unsaved(AfterPrompt::ImportTimeline(p));
                }
            }
            C::RelinkFolder(None) => {
                if let Some(f) =
                    self.browse(BrowsePurpose::RelinkFolder).and_then(|v| v.into_iter().next())
                {
                    self.apply(C::RelinkFolder(Some(f)));
                }
            }
            C::RecoverAutosave => {
                if let Some(slot) = self.recovery.take() {
                    match slot.load() {
                        Ok(p) => {
                            self.replace_project(p, slot.source.clone());
                            self.history.mark_unsaved();
                            self.info("Recovered the autosaved project");
                        }
                        Err(e) => self.error(format!("{e:#}")),
                    }
                }
            }
            C::DiscardAutosave => {
                if let Some(slot) = self.recovery.take() {
                    slot.clear();
                }
            }
            C::Quit => self.guard_unsaved(AfterPrompt::Quit),
            C::Unsaved(choice) => {
                let Some(after) = self.unsaved_prompt.take() else { return };
                match choice {
                    UnsavedChoice::Cancel => {}
                    UnsavedChoice::Save => {
                        let saved = match self.path.clone() {
                            Some(p) => self.save_to(&p),
                            // With the built-in browser the choice comes later: what waited
                            // goes on once that save worked (see SaveAs).
                            None => match self
                                .browse(BrowsePurpose::SaveAs)
                                .and_then(|v| v.into_iter().next())
                            {
                                Some(p) => self.save_to(&p),
                                None => {
                                    if self.file_browser.is_some() {
                                        self.after_save = Some(after.clone());
                                    }
                                    false
                                }
                            },
                        };
                        if saved {
                            self.proceed(after);
                        }
                    }
                    UnsavedChoice::Discard => {
                        self.drop_autosave();
                        self.proceed(after);
                    }
                }
            }
            // Handled by the lip panels above.
            C::SelectLipSegment(s) => {
                self.lip_ui.select_segment(s);
                // The inspector's clip follows: the segment's own clip is the selection, so
                // the lip section and the clip section never show different clips.
                if let Some(seg) = s {
                    let clip = crate::app::lip_ui::LipUi::clip_of_segment(&self.project, &seg);
                    self.selection = clip.into_iter().collect();
                }
            }
            C::PaintLipMask(seg) => {
                if let Err(e) = self.lip_ui.open_painter(seg, &self.project) {
                    self.error(format!("lip edit: {e}"));
                }
            }
            C::AutoAlign { clip, settings } => {
                self.stop();
                let r = crate::app::align_ui::align_edit(
                    &self.project,
                    self.audio.sources.as_deref(),
                    self.audio.dialogue.as_ref().map(|d| d.as_slice()),
                    clip,
                    &settings,
                );
                match r {
                    Ok((edit, summary)) => {
                        self.edit(edit, &format!("Auto-align ({})", settings.mode.name()));
                        self.info(summary);
                    }
                    Err(e) => self.error(format!("Auto-align: {e}")),
                }
            }
            C::SetKeyPreset(p) => {
                self.key_preset = p;
                self.settings.key_preset = p;
                if let Err(e) = self.settings.save(&self.dirs) {
                    self.error(format!("{e:#}"));
                }
            }
        }
    }

    /// The dub track that insert and overwrite target: the track of the first selected clip,
    /// else the first unlocked one; a first "Dub 1" is added when there is none.
    pub(super) fn target_track(&mut self) -> Option<TrackId> {
        let tracks = &self.project.timeline.dub_tracks;
        let of_selection = tracks
            .iter()
            .filter(|t| !t.locked)
            .find(|t| t.clips.iter().any(|c| self.selection.contains(&c.id)));
        if let Some(t) = of_selection.or_else(|| tracks.iter().find(|t| !t.locked)) {
            return Some(t.id);
        }
        if !tracks.is_empty() {
            self.error("every dub track is locked");
            return None;
        }
        self.apply(AppCommand::AddTrack);
        self.project.timeline.dub_tracks.first().map(|t| t.id)
    }

    /// Puts the whole of a pool file on a dub track at `at` (a frame boundary), as one undo
    /// step, and selects the new clip.
    pub(super) fn place_media(
        &mut self,
        media: MediaId,
        track: TrackId,
        at: Time,
        mode: PlaceMode,
    ) {
        let Some(m) = self.project.media(media) else { return };
        let name = m.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if m.kind != MediaKind::Audio {
            self.error(format!("{name} is a video: only audio goes on a dub track"));
            return;
        }
        let Some(t) = self.project.timeline.dub_tracks.iter().find(|t| t.id == track) else {
            return;
        };
        let track_name = t.name.clone();
        if t.locked {
            self.error(format!("{track_name} is locked"));
            return;
        }
        let rate = self.project.timeline.frame_rate;
        let at = rate
            .frame_to_time((at.max(Time::ZERO).as_seconds_f64() * rate.as_f64()).round() as i64);
        match place_clip(&self.project, track, media, at, mode) {
            Ok((edit, id)) => {
                let verb = match mode {
                    PlaceMode::Insert => "Insert",
                    PlaceMode::Overwrite => "Add",
                };
                self.edit(edit, &format!("{verb} {name}"));
                self.selection = vec![id];
                self.media_selection = Some(media);
                let tc = format_timecode(at, rate, rate.is_drop_frame_rate());
                self.info(format!("{verb}ed {name} to {track_name} at {tc}"));
            }
            Err(e) => self.error(format!("cannot place {name}: {e}")),
        }
    }

    pub(super) fn editable_selection(&self) -> Vec<ClipId> {
        self.project
            .timeline
            .dub_tracks
            .iter()
            .filter(|t| !t.locked)
            .flat_map(|t| t.clips.iter().map(|c| c.id))
            .filter(|id| self.selection.contains(id))
            .collect()
    }

    pub(super) fn split(&mut self) {
        // The selection, or every clip under the playhead when nothing is selected.
        let at = self.playhead;
        let candidates: Vec<ClipId> = if self.selection.is_empty() {
            self.project
                .timeline
                .dub_tracks
                .iter()
                .filter(|t| !t.locked)
                .flat_map(|t| &t.clips)
                .filter(|c| c.position < at && c.end() > at)
                .map(|c| c.id)
                .collect()
        } else {
            self.editable_selection()
        };
        let mut scratch = self.project.clone();
        let mut edits = Vec::new();
        for id in candidates {
            let new_id = scratch.next_clip_id();
            if let Some(e) = split_clip(&scratch, id, at, new_id)
                && e.apply(&mut scratch).is_ok()
            {
                edits.push(e);
            }
        }
        if edits.is_empty() {
            self.info("Nothing to split at the playhead");
        } else {
            self.edit(Edit::Batch(edits), "Split clip");
        }
    }

    pub(super) fn edit_point(&self, next: bool) -> Option<Time> {
        let mut pts: Vec<Time> = vec![Time::ZERO, self.project.timeline.duration];
        for t in &self.project.timeline.dub_tracks {
            for c in &t.clips {
                pts.push(c.position);
                pts.push(c.end());
            }
        }
        pts.extend(self.project.timeline.markers.iter().map(|m| m.time));
        let p = self.playhead;
        if next {
            pts.into_iter().filter(|t| *t > p).min()
        } else {
            pts.into_iter().filter(|t| *t < p).max()
        }
    }

    /// Moves the playhead, kept within the timeline (0 to its end).
    pub(super) fn seek(&mut self, t: Time) {
        let t = t.max(Time::ZERO).min(self.end_time());
        self.playhead = t;
        self.timeline.reveal(t);
    }

    /// The end of the sequence (its last clip): the one length the header, the Project panel
    /// and the export show.
    pub(super) fn end_time(&self) -> Time {
        self.project.timeline.sequence_end()
    }

    // ----- playback -----
}
