//! The editor's lip-edit preview jobs: when a shot is set, its face analysis runs in the
//! background (cached on disk by content hash, so a reopen is instant), then the lip plans of
//! the bound dub tracks are computed with the export's own planner
//! ([`plan_project_lips`]). The plan is redone, debounced, whenever what it depends on changes;
//! until the new one is ready the viewer keeps the previous valid plan (or the source) and the
//! status bar says "lip plan updating". Nothing here ever blocks the UI or playback.

use crate::analysis::pipeline::{Analysis, AnalysisOptions};
use crate::analysis::{AnalysisError, AnalysisWorker, spawn_analysis};
use crate::jobs::Task;
use crate::model::Project;
use crate::render::lips::LipRenderer;
use crate::render::lips::plan_project_lips;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long the project must stay unchanged before a new plan starts.
pub const PLAN_DEBOUNCE: Duration = Duration::from_millis(400);

/// What the lip plan depends on, hashed: the shot, the timeline length and rate, the original
/// audio, every dub track (clips, gain, mute/solo, binding, lip settings) and the faces whose
/// edit is off. Any change makes the shown plan stale.
pub fn plan_key(project: &Project) -> u64 {
    let tl = &project.timeline;
    let text = serde_json::to_string(&(
        tl.video.media,
        tl.duration,
        tl.frame_rate,
        &tl.original_audio,
        tl.me_track,
        &tl.dub_tracks,
        &tl.faces_off,
        &project.media,
    ))
    .unwrap_or_default();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

/// Whether any dub track would edit a mouth (bound, enabled, audible, face edit on).
pub fn has_bound_tracks(project: &Project) -> bool {
    project.timeline.dub_tracks.iter().any(|t| {
        t.lip.enabled && project.is_audible(t) && t.face.is_some_and(|f| project.face_edit_on(f))
    })
}

type PlanResult = Result<LipRenderer, String>;

struct Planning {
    key: u64,
    task: Task<PlanResult>,
}

/// A new plan for the viewer: swap it into the render path.
pub struct NewPlan {
    /// Increases with every plan handed out.
    pub version: u64,
    /// The lip edits.
    pub lips: LipRenderer,
}

/// The state of the analysis and planning jobs of the current shot.
#[derive(Default)]
pub struct LipPreview {
    source: Option<PathBuf>,
    analysis_job: Option<AnalysisWorker>,
    /// The shot's face analysis, once done.
    pub analysis: Option<Arc<Analysis>>,
    /// Whether it came from the disk cache.
    pub from_cache: bool,
    /// Why the analysis or the last plan failed (shown in the status bar).
    pub error: Option<String>,
    /// The analysis failed for want of a model or of ONNX Runtime: the editor opens Help ▸
    /// Models… once (it takes the flag).
    pub models_needed: bool,
    planning: Option<Planning>,
    /// Key of the plan the viewer shows (`None`: no plan yet).
    shown_key: Option<u64>,
    /// Key of the project as it is now and when it last changed.
    wanted: Option<(u64, Instant)>,
    /// A key the user cancelled planning for: not retried until the project changes.
    cancelled_key: Option<u64>,
    version: u64,
    /// Which compositor the current plan draws with ("GPU (…)" / "CPU"), once a plan exists.
    pub backend: Option<String>,
    /// Faces edited by the current plan.
    pub edited_faces: Vec<u32>,
}

impl LipPreview {
    /// The shot being analysed.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// Whether a job runs or a plan waits for its debounce.
    pub fn busy(&self) -> bool {
        self.analysis_job.is_some() || self.planning.is_some() || self.plan_pending()
    }

    /// Whether the plan on screen is not the project's current one.
    pub fn plan_pending(&self) -> bool {
        self.analysis.is_some()
            && self.error.is_none()
            && match self.wanted {
                Some((k, _)) => self.shown_key != Some(k) && self.cancelled_key != Some(k),
                None => false,
            }
    }

    /// Progress (0..1) and label of the running job, for the status bar.
    pub fn progress(&self) -> Option<(f64, String)> {
        if let Some(task) = &self.analysis_job {
            return Some((task.progress(), "Analysing faces".into()));
        }
        if let Some(p) = &self.planning {
            let stage = p.task.job().stage();
            let what = if stage.is_empty() {
                "Lip plan updating".into()
            } else {
                format!("Lip plan: {stage}")
            };
            return Some((p.task.progress(), what));
        }
        None
    }

    /// Cancels the running job (analysis or planning); it is not restarted until the shot or
    /// the plan's inputs change, or [`LipPreview::retry`].
    pub fn cancel(&mut self) {
        if let Some(task) = self.analysis_job.take() {
            task.cancel();
            self.error = Some("face analysis cancelled".into());
        }
        if let Some(p) = self.planning.take() {
            p.task.cancel();
            self.cancelled_key = Some(p.key);
        }
    }

    /// Starts over: analysis (from the cache when there) and plan.
    pub fn retry(&mut self, ctx: &egui::Context) {
        let src = self.source.take();
        self.reset();
        self.set_source(src.as_deref(), ctx);
    }

    fn reset(&mut self) {
        // Dropping a running task (analysis or plan) cancels it.
        self.analysis_job = None;
        self.planning = None;
        let version = self.version;
        *self = Self { version, ..Self::default() };
    }

    /// Points the jobs at a shot; a new shot restarts the analysis.
    pub fn set_source(&mut self, path: Option<&Path>, ctx: &egui::Context) {
        if self.source.as_deref() == path {
            return;
        }
        self.reset();
        self.source = path.map(Path::to_path_buf);
        let Some(p) = path else { return };
        match spawn_analysis(p.to_path_buf(), AnalysisOptions::default(), true) {
            Ok(j) => self.analysis_job = Some(j),
            Err(e) => self.error = Some(format!("cannot start face analysis: {e}")),
        }
        ctx.request_repaint_after(Duration::from_millis(100));
    }

    /// Advances the jobs; returns a new plan for the viewer when one is ready. `project_dir`
    /// resolves the project's relative media paths.
    pub fn update(
        &mut self,
        project: &Project,
        project_dir: &Path,
        ctx: &egui::Context,
    ) -> Option<NewPlan> {
        let done = match self.analysis_job.as_mut() {
            Some(task) => match task.try_recv() {
                Some(result) => Some(Some(result)),
                // Ended without a result: the work panicked.
                None if task.is_finished() => Some(None),
                None => None,
            },
            None => None,
        };
        if let Some(result) = done {
            self.analysis_job = None;
            match result {
                Some(Ok((a, src))) => {
                    self.from_cache = src == crate::analysis::Source::Cache;
                    self.analysis = Some(Arc::new(a));
                }
                Some(Err(AnalysisError::Cancelled)) => {
                    self.error = Some("face analysis cancelled".into())
                }
                Some(Err(e)) => {
                    self.models_needed |= matches!(e, AnalysisError::Inference(_));
                    self.error = Some(format!("face analysis: {e}"));
                }
                None => self.error = Some("face analysis crashed".into()),
            }
        }
        self.analysis.as_ref()?;
        let key = plan_key(project);
        match self.wanted {
            Some((k, _)) if k == key => {}
            _ => {
                self.wanted = Some((key, Instant::now()));
                // A change after a failed or cancelled plan tries again.
                if self.error.as_deref().is_some_and(|e| e.starts_with("lip plan")) {
                    self.error = None;
                }
            }
        }
        let mut out = None;
        if let Some(p) = &mut self.planning {
            let plan_key = p.key;
            if let Some(r) = p.task.try_recv() {
                self.planning = None;
                match r {
                    Ok(lips) => out = Some(self.accept(plan_key, lips)),
                    Err(e) => {
                        self.error = Some(format!("lip plan: {e}"));
                        self.cancelled_key = Some(plan_key);
                    }
                }
            } else if p.task.is_finished() {
                self.planning = None;
            } else if plan_key != key {
                // Inputs changed under a running plan: it would be stale, drop it (which
                // cancels it).
                self.planning = None;
            }
        }
        if self.planning.is_none()
            && self.shown_key != Some(key)
            && self.cancelled_key != Some(key)
            && self.error.is_none()
        {
            if !has_bound_tracks(project) {
                // Nothing to plan: the source is the preview, at once.
                return Some(self.accept(key, LipRenderer::new(Vec::new())));
            }
            let since = self.wanted.map_or(Duration::MAX, |(_, t)| t.elapsed());
            if since >= PLAN_DEBOUNCE {
                self.start_plan(key, project, project_dir, ctx);
            } else {
                ctx.request_repaint_after(PLAN_DEBOUNCE - since);
            }
        }
        out
    }

    fn accept(&mut self, key: u64, lips: LipRenderer) -> NewPlan {
        self.shown_key = Some(key);
        self.version += 1;
        self.backend = (!lips.is_empty()).then(|| lips.backend().to_string());
        self.edited_faces = lips.tracks().iter().map(|t| t.face.id).collect();
        NewPlan { version: self.version, lips }
    }

    fn start_plan(&mut self, key: u64, project: &Project, dir: &Path, ctx: &egui::Context) {
        let (p, d, c) = (project.clone(), dir.to_path_buf(), ctx.clone());
        let task = Task::spawn("lip-plan", 1, move |job, out| {
            let r = plan_project_lips(&p, &d, job).map_err(crate::app::error_line);
            if !job.is_cancelled() {
                out.send(r);
            }
            c.request_repaint();
        });
        match task {
            Ok(task) => self.planning = Some(Planning { key, task }),
            Err(e) => self.error = Some(format!("lip plan: cannot start: {e}")),
        }
    }

    /// One line for the status bar: what the preview shows and what runs.
    pub fn status_text(&self) -> String {
        if let Some(e) = &self.error {
            return e.clone();
        }
        if self.analysis_job.is_some() {
            return "Analysing faces…".into();
        }
        let Some(a) = &self.analysis else { return String::new() };
        let faces = format!(
            "{} face{}{}",
            a.tracks.len(),
            if a.tracks.len() == 1 { "" } else { "s" },
            if self.from_cache { " (cached analysis)" } else { "" }
        );
        if self.planning.is_some() || self.plan_pending() {
            return format!("{faces} · lip plan updating");
        }
        if self.edited_faces.is_empty() {
            return format!("{faces} · no lip edit (bind a dub track to a face)");
        }
        let ids: Vec<String> = self.edited_faces.iter().map(|f| format!("face {f}")).collect();
        format!("{faces} · lip edit on {}", ids.join(", "))
    }
}

/// The status bar's part for the preview: which compositor runs, the job's progress with a
/// cancel button, and what the plan covers.
pub fn status_ui(
    ui: &mut egui::Ui,
    preview: &LipPreview,
    viewer: &super::viewer::Viewer,
    out: &mut Vec<super::command::AppCommand>,
) {
    use super::command::AppCommand;
    let compositor = viewer
        .backend
        .clone()
        .or_else(|| preview.backend.clone())
        .unwrap_or_else(|| "CPU".to_string());
    let edited = !preview.edited_faces.is_empty();
    // "CPU (why)": the bar says CPU, the reason the GPU is not used goes in the hover text.
    let (shown, why) = match compositor.strip_prefix("CPU (") {
        Some(reason) => ("CPU", reason.strip_suffix(')')),
        None => (compositor.as_str(), None),
    };
    let hover = "Which compositor draws the lip edit (REDUB_FORCE_CPU=1 forces the CPU)";
    let hover = match why {
        Some(why) if edited => format!("{hover}\nThe CPU draws because: {why}"),
        _ => hover.to_string(),
    };
    ui.label(format!("Compositor: {}", if edited { shown } else { "idle" })).on_hover_text(hover);
    if let Some((p, what)) = preview.progress() {
        ui.separator();
        ui.add(
            egui::ProgressBar::new(p as f32)
                .desired_width(220.0)
                .text(format!("{what} {:.0} %", p * 100.0)),
        );
        if ui.small_button("Cancel").on_hover_text("Stop the face analysis / lip plan").clicked() {
            out.push(AppCommand::CancelLipJob);
        }
    }
    let text = preview.status_text();
    if !text.is_empty() {
        ui.separator();
        let updating = text.contains("updating");
        if preview.error.is_some() {
            ui.colored_label(egui::Color32::from_rgb(240, 190, 80), text);
            if ui.small_button("Retry").clicked() {
                out.push(AppCommand::RetryLipJob);
            }
        } else if updating {
            ui.colored_label(egui::Color32::from_rgb(240, 190, 80), text);
        } else {
            ui.label(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::lip::FaceId;
    use crate::model::{Edit, FrameRate};

    #[test]
    fn plan_key_follows_bindings_and_face_toggles_and_undo_restores_it() {
        let mut p = Project::new("k", FrameRate::FPS_25);
        let t = p.add_dub_track("Dub 1");
        let k0 = plan_key(&p);
        assert_eq!(k0, plan_key(&p.clone()), "same inputs, same key");
        assert!(!has_bound_tracks(&p));
        let undo_bind =
            Edit::SetTrackFace { track: t, face: Some(FaceId(1)) }.apply(&mut p).unwrap();
        let k1 = plan_key(&p);
        assert_ne!(k1, k0);
        assert!(has_bound_tracks(&p));
        let undo_off = Edit::SetFaceEdit { face: FaceId(1), on: false }.apply(&mut p).unwrap();
        assert_ne!(plan_key(&p), k1);
        assert!(!has_bound_tracks(&p), "a face switched off is never edited");
        undo_off.apply(&mut p).unwrap();
        assert_eq!(plan_key(&p), k1);
        undo_bind.apply(&mut p).unwrap();
        assert_eq!(plan_key(&p), k0);
        // A name change does not touch the plan's inputs.
        p.name = "renamed".into();
        assert_eq!(plan_key(&p), k0);
    }
}
