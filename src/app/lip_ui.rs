//! The editor's lip-edit panels in one place: the lip lanes' data and selection, the inspector's
//! lip section, the faces list and the painted-mask window (so the editor calls a few methods).

use super::command::AppCommand;
use super::faces::FacesPanel;
use super::inspector::lip_segment_ui;
use super::lip_lane::{LipLanes, LipSegmentRef, find_segment};
use super::mask_paint::{MaskPainter, mask_painter_ui};
use crate::lipsync::plan::LipSegmentPlan;
use crate::model::{ClipId, Project, TrackId};
use crate::render::sources::Sources;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// State of the lip panels.
#[derive(Default)]
pub struct LipUi {
    /// Lip segments of the dub tracks (speech spans computed in the background).
    pub lanes: LipLanes,
    /// The selected lip segment.
    pub selected: Option<LipSegmentRef>,
    /// Face thumbnails and the shot's analysis.
    pub faces: FacesPanel,
    /// The painted-mask window, when open.
    pub painter: Option<MaskPainter>,
    /// The lip segments with the project's current settings (refreshed every frame).
    pub segments: Vec<(TrackId, Vec<LipSegmentPlan>)>,
    video: Option<PathBuf>,
}

impl LipUi {
    /// Per frame: follows the project, its decoded audio and the shot (path, content hash).
    pub fn update(
        &mut self,
        project: &Project,
        sources: Option<&Arc<Sources>>,
        shot: Option<(&Path, &str)>,
        ctx: &egui::Context,
    ) {
        self.lanes.update(project, sources, ctx);
        self.faces.update(shot, ctx);
        self.video = shot.map(|(p, _)| p.to_path_buf());
        self.segments = self.lanes.segments(project);
    }

    /// Whether a background computation runs.
    pub fn busy(&self) -> bool {
        self.lanes.busy() || self.faces.busy()
    }

    /// The selected segment with its current settings.
    pub fn selected_segment(&self) -> Option<&LipSegmentPlan> {
        find_segment(&self.segments, self.selected.as_ref()?)
    }

    /// The dub track a "bind" acts on: the selected lip segment's, else the selected clip's,
    /// else the only dub track.
    pub fn target_track(&self, project: &Project, selection: &[ClipId]) -> Option<TrackId> {
        let tracks = &project.timeline.dub_tracks;
        self.selected
            .map(|s| s.track)
            .or_else(|| {
                selection.iter().find_map(|c| crate::model::edit::clip(project, *c).map(|(t, _)| t))
            })
            .or_else(|| (tracks.len() == 1).then(|| tracks[0].id))
    }

    /// The clip a lip segment belongs to: the clip of its track it overlaps most (a segment
    /// is speech within the clips; `None` when it overlaps none).
    pub fn clip_of_segment(project: &Project, seg: &LipSegmentRef) -> Option<ClipId> {
        let track = project.timeline.dub_tracks.iter().find(|t| t.id == seg.track)?;
        let overlap = |c: &crate::model::Clip| c.end().min(seg.end) - c.position.max(seg.start);
        let best = track.clips.iter().max_by_key(|c| overlap(c))?;
        (overlap(best) > crate::model::Time::ZERO).then_some(best.id)
    }

    /// Selects a lip segment (or none); the mask painter of another segment closes.
    pub fn select_segment(&mut self, s: Option<LipSegmentRef>) {
        self.selected = s;
        if self.painter.as_ref().is_some_and(|p| Some(p.segment) != s) {
            self.painter = None;
        }
    }

    /// Opens the painted-mask window of `seg` (selecting it); an error message for the log
    /// when the segment or its shot cannot be opened.
    pub fn open_painter(&mut self, seg: LipSegmentRef, project: &Project) -> Result<(), String> {
        self.selected = Some(seg);
        let current = find_segment(&self.segments, &seg).ok_or("no such lip segment")?;
        let analysis = self.faces.analysis().map(Arc::as_ref);
        self.painter =
            Some(MaskPainter::open(project, seg, current, analysis, self.video.as_deref())?);
        Ok(())
    }

    /// The inspector's lip section (when a lip segment is selected).
    pub fn inspector_ui(&self, ui: &mut egui::Ui, project: &Project, out: &mut Vec<AppCommand>) {
        let (Some(seg), Some(current)) = (self.selected, self.selected_segment()) else {
            return;
        };
        lip_segment_ui(ui, project, &seg, current, out);
        ui.separator();
    }

    /// The faces list.
    pub fn faces_ui(
        &mut self,
        ui: &mut egui::Ui,
        project: &Project,
        selection: &[ClipId],
        out: &mut Vec<AppCommand>,
    ) {
        let target = self.target_track(project, selection);
        self.faces.ui(ui, project, target, out);
    }

    /// Windows (the painted-mask panel).
    pub fn windows_ui(
        &mut self,
        ctx: &egui::Context,
        project: &Project,
        out: &mut Vec<AppCommand>,
    ) {
        let Some(p) = &mut self.painter else { return };
        let current = find_segment(&self.segments, &p.segment);
        if !mask_painter_ui(ctx, p, project, current, out) {
            self.painter = None;
        }
    }
}
