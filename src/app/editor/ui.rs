//! The per-frame layout of the editor: menus, transport bar, status bar, dialogs and the
//! panels, plus keyboard shortcuts and dropped files. Panels emit commands; nothing is applied
//! here (see `command_handling`).

use super::*;

impl RedubApp {
    pub(super) fn keys(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let preset = self.key_preset;
        let cmds: Vec<AppCommand> = ctx.input(|i| {
            let k_held = i.key_down(egui::Key::K);
            i.events
                .iter()
                .filter_map(|e| match e {
                    egui::Event::Key { key, pressed: true, modifiers, .. } => {
                        command_for_key(preset, *key, *modifiers, k_held && *key != egui::Key::K)
                    }
                    _ => None,
                })
                .collect()
        });
        self.pending.extend(cmds);
    }

    pub(super) fn dropped_files(&mut self, ctx: &egui::Context) {
        let (files, pos) = ctx.input(|i| {
            (
                i.raw.dropped_files.iter().map(|f| f.path().to_path_buf()).collect::<Vec<_>>(),
                i.pointer.hover_pos(),
            )
        });
        if files.is_empty() {
            return;
        }
        // A bundle dropped on the editor opens (as File ▸ Open would).
        if let Some(b) = files.iter().find(|f| crate::render::bundle::is_bundle(f)) {
            self.pending.push(AppCommand::Open(Some(b.clone())));
            return;
        }
        let rate = self.project.timeline.frame_rate;
        // Drops land on a frame boundary, like every other edit.
        let target = pos.and_then(|p| self.timeline.drop_target(p)).map(|(t, at)| {
            let f = (at.as_seconds_f64() * rate.as_f64()).round() as i64;
            (t, rate.frame_to_time(f))
        });
        self.pending.push(AppCommand::Import { paths: Some(files), target });
    }

    pub(super) fn menu_ui(&mut self, ui: &mut egui::Ui) {
        let out = &mut self.pending;
        let preset = self.key_preset;
        // A menu entry with the key that does the same, as Premiere and Resolve show it.
        let item = |ui: &mut egui::Ui, label: &str, cmd: AppCommand, out: &mut Vec<AppCommand>| {
            super::super::keys::menu_item(ui, label, cmd, preset, out);
        };
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                item(ui, "New", AppCommand::NewProject, out);
                item(ui, "Open…", AppCommand::Open(None), out);
                ui.menu_button("Open recent", |ui| {
                    if self.settings.recent.is_empty() {
                        ui.label("No recent projects");
                    }
                    for p in &self.settings.recent {
                        if ui.button(p.display().to_string()).clicked() {
                            out.push(AppCommand::Open(Some(p.clone())));
                        }
                    }
                });
                item(ui, "Save", AppCommand::Save, out);
                item(ui, "Save as…", AppCommand::SaveAs(None), out);
                ui.separator();
                item(ui, "Import…", AppCommand::Import { paths: None, target: None }, out);
                if ui
                    .button("Import subtitles…")
                    .on_hover_text(
                        "Dub lines from a .srt or .vtt file and the line recordings beside it: one \
                         clip per cue, on the speaker's dub track",
                    )
                    .clicked()
                {
                    out.push(AppCommand::ImportSubtitles(None));
                    ui.close();
                }
                if ui.button("Relink missing media…").clicked() {
                    out.push(AppCommand::RelinkFolder(None));
                }
                item(ui, "Export…", AppCommand::ShowExport, out);
                if ui
                    .button("Export for render farm…")
                    .on_hover_text(
                        "Job files that render the project in pieces on several machines: Open \
                         Job Description, Slurm or GNU parallel",
                    )
                    .clicked()
                {
                    out.push(AppCommand::ShowFarmExport);
                    ui.close();
                }
                ui.separator();
                item(ui, "Import timeline…", AppCommand::ImportTimeline(None), out);
                item(ui, "Export timeline…", AppCommand::ExportTimeline(None), out);
                if ui
                    .button("Collect project…")
                    .on_hover_text(
                        "One .redubz file with the project, its media, the face analyses and \
                         mouth banks, and the list of models it needs: opens on another machine \
                         with everything relinked",
                    )
                    .clicked()
                {
                    out.push(AppCommand::CollectProject(None));
                    ui.close();
                }
                let trimmed = ui
                    .checkbox(&mut self.settings.collect_trimmed, "Collect used ranges only")
                    .on_hover_text(
                        "Collect project… takes only the part of each sound file the timeline \
                         uses (with a 1 s margin), cut without re-encoding (PCM WAV); the \
                         picture and compressed files go whole",
                    );
                if trimmed.changed()
                    && let Err(e) = self.settings.save(&self.dirs)
                {
                    tracing::warn!("settings not saved: {e:#}");
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    out.push(AppCommand::Quit);
                }
            });
            ui.menu_button("Edit", |ui| {
                let undo =
                    self.history.undo_label().map_or("Undo".to_string(), |l| format!("Undo {l}"));
                if ui
                    .add_enabled(
                        self.history.undo_len() > 0,
                        egui::Button::new(undo).shortcut_text("Ctrl+Z"),
                    )
                    .on_hover_text("Undo")
                    .clicked()
                {
                    out.push(AppCommand::Undo);
                }
                let redo =
                    self.history.redo_label().map_or("Redo".to_string(), |l| format!("Redo {l}"));
                if ui
                    .add_enabled(
                        self.history.redo_len() > 0,
                        egui::Button::new(redo).shortcut_text("Ctrl+Shift+Z"),
                    )
                    .on_hover_text("Redo")
                    .clicked()
                {
                    out.push(AppCommand::Redo);
                }
                ui.separator();
                for (label, cmd) in [
                    ("Insert at playhead", AppCommand::InsertAtPlayhead),
                    ("Overwrite at playhead", AppCommand::OverwriteAtPlayhead),
                    ("Split at playhead", AppCommand::Split),
                    ("Delete", AppCommand::Delete),
                    ("Ripple delete", AppCommand::RippleDelete),
                    ("Add marker", AppCommand::AddMarker),
                    ("Add dub track", AppCommand::AddTrack),
                    ("Toggle snapping", AppCommand::ToggleSnap),
                ] {
                    item(ui, label, cmd, out);
                }
                crate::app::me_track::me_menu_ui(ui, &self.project, out);
            });
            ui.menu_button("View", |ui| {
                if ui.button("Fit frame").clicked() {
                    out.push(AppCommand::ViewerZoom(ViewerZoom::Fit));
                }
                if ui.button("100 %").clicked() {
                    out.push(AppCommand::ViewerZoom(ViewerZoom::Scale(1.0)));
                }
                if ui.button("Safe areas").clicked() {
                    out.push(AppCommand::ToggleSafeAreas);
                }
                if ui.button("Log").clicked() {
                    self.show_log = !self.show_log;
                }
                if ui.button("Loudness meter").clicked() {
                    self.loudness.open = !self.loudness.open;
                }
            });
            ui.menu_button("Playback", |ui| {
                for (label, cmd) in [
                    ("Play / pause", AppCommand::TogglePlay),
                    ("Go to start", AppCommand::GoToStart),
                    ("Go to end", AppCommand::GoToEnd),
                    ("Set in", AppCommand::SetIn),
                    ("Set out", AppCommand::SetOut),
                ] {
                    item(ui, label, cmd, out);
                }
            });
            ui.menu_button("Keys", |ui| {
                for p in [KeyPreset::Premiere, KeyPreset::Resolve] {
                    if ui.radio(self.key_preset == p, p.name()).clicked() {
                        out.push(AppCommand::SetKeyPreset(p));
                    }
                }
            });
            ui.menu_button("Help", |ui| {
                if ui.button("System check…").clicked() {
                    // What `redub doctor` prints: a second or so (the models' checksums).
                    self.system_report = Some(crate::render::system::gather(None));
                }
                if ui.button("Models…").clicked() {
                    // Reads the manifests and checks each file's sha256 (a second or so).
                    self.models = Some(crate::app::models_ui::ModelsWindow::new());
                }
            });
        });
    }

    pub(super) fn transport_ui(&mut self, ui: &mut egui::Ui) {
        let rate = self.project.timeline.frame_rate;
        let end = self.end_time();
        ui.horizontal(|ui| {
            let out = &mut self.pending;
            if ui.button("|<").on_hover_text("Go to start").clicked() {
                out.push(AppCommand::Seek(Time::ZERO));
            }
            if ui.button("<").on_hover_text("Previous frame").clicked() {
                out.push(AppCommand::StepFrames(-1));
            }
            let play = if self.play.is_some() { "Pause" } else { "Play" };
            if ui.button(play).on_hover_text("Play or pause (Space)").clicked() {
                out.push(AppCommand::TogglePlay);
            }
            if ui.button(">").on_hover_text("Next frame").clicked() {
                out.push(AppCommand::StepFrames(1));
            }
            ui.monospace(format_timecode(self.playhead, rate, rate.is_drop_frame_rate()));
            ui.label("/");
            ui.monospace(format_timecode(end, rate, rate.is_drop_frame_rate()));
            if let (Some(a), Some(b)) = (self.in_point, self.out_point) {
                ui.label(format!(
                    "In {} Out {}",
                    format_timecode(a, rate, false),
                    format_timecode(b, rate, false)
                ));
            }
        });
    }

    pub(super) fn status_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            let state = if self.play.is_some() { "Playing" } else { "Stopped" };
            ui.label(state);
            ui.separator();
            ui.label(format!("Dropped frames: {}", self.dropped_frames));
            ui.separator();
            crate::app::preview::status_ui(ui, &self.lip_preview, &self.viewer, &mut self.pending);
            ui.separator();
            ui.label(format!("Keys: {}", self.key_preset.name()));
            if let Some(n) = &self.audio_notice {
                ui.separator();
                if n.starts_with("Shuttle") && !n.contains("audio output off") {
                    // A mode of the transport, shown while it lasts.
                    ui.colored_label(egui::Color32::from_rgb(240, 190, 80), n);
                } else {
                    // The sound problem: an icon with the reason, not a line of text that
                    // would push results out of the bar.
                    let r = muted_speaker_icon(ui).on_hover_text(n.as_str());
                    r.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, n));
                }
            }
            if self.importer.busy() {
                ui.separator();
                ui.spinner();
                ui.label("Importing…");
            }
            if let Some(r) = &self.export.running {
                ui.separator();
                ui.add(
                    egui::ProgressBar::new(r.job.progress() as f32)
                        .desired_width(120.0)
                        .text("Exporting"),
                );
            }
            if !self.log.is_empty() {
                // Results show as toasts; the log keeps every message.
                ui.separator();
                let errors = self.log.iter().filter(|l| l.error).count();
                let text = match errors {
                    0 => format!("Log ({})", self.log.len()),
                    n => format!(
                        "Log ({}, {n} error{})",
                        self.log.len(),
                        if n == 1 { "" } else { "s" }
                    ),
                };
                let color = if errors > 0 {
                    egui::Color32::from_rgb(240, 90, 80)
                } else {
                    ui.visuals().weak_text_color()
                };
                if ui
                    .add(egui::Button::new(egui::RichText::new(text).color(color)).frame(false))
                    .on_hover_text("Show every message")
                    .clicked()
                {
                    self.show_log = true;
                }
            }
        });
    }

    /// The newest messages, over the bottom right corner, each for a few seconds; a click
    /// opens the log.
    fn toasts_ui(&mut self, ctx: &egui::Context) {
        self.toasts.retain(|t| t.since.elapsed() < t.lifetime());
        let n = self.toasts.len();
        let shown = &self.toasts[n.saturating_sub(4)..];
        if shown.is_empty() {
            return;
        }
        let mut open_log = false;
        egui::Area::new(egui::Id::unique("toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, egui::vec2(-12.0, -40.0))
            .order(egui::Order::Foreground)
            .interactable(true)
            .show(ctx, |ui| {
                ui.set_max_width(420.0);
                for t in shown {
                    let color = if t.error {
                        egui::Color32::from_rgb(240, 90, 80)
                    } else {
                        ui.visuals().strong_text_color()
                    };
                    let r = egui::Frame::popup(ui.style())
                        .show(ui, |ui| {
                            ui.add(
                                egui::Label::new(egui::RichText::new(&t.text).color(color)).wrap(),
                            )
                        })
                        .response
                        .interact(egui::Sense::click());
                    if r.on_hover_text("Click for the log").clicked() {
                        open_log = true;
                    }
                }
            });
        if open_log {
            self.show_log = true;
        }
        if let Some(left) =
            shown.iter().map(|t| t.lifetime().saturating_sub(t.since.elapsed())).min()
        {
            ctx.request_repaint_after(left);
        }
    }

    pub(super) fn dialogs_ui(&mut self, ctx: &egui::Context) {
        if let Some(slot) = &self.recovery {
            let when = std::fs::metadata(&slot.file)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .map_or(String::new(), |d| format!(" ({} s ago)", d.as_secs()));
            egui::Modal::new(egui::Id::unique("recovery")).show(ctx, |ui| {
                ui.heading("Recover unsaved changes?");
                ui.label(format!(
                    "An autosave of this project is newer than the saved file{when}."
                ));
                ui.horizontal(|ui| {
                    if ui.button("Recover").clicked() {
                        self.pending.push(AppCommand::RecoverAutosave);
                    }
                    if ui.button("Discard autosave").clicked() {
                        self.pending.push(AppCommand::DiscardAutosave);
                    }
                });
            });
        }
        if let Some((Edit::SetTrackFace { face: Some(face), .. }, _)) = &self.consent_prompt {
            let face = *face;
            egui::Modal::new(egui::Id::unique("consent prompt")).show(ctx, |ui| {
                ui.heading("No consent on record");
                ui.label(format!(
                    "Face {} has no recorded consent to a lip edit. Binding a dub track to it \
                     changes what the person appears to say. Record their consent in the Faces \
                     panel; an export of the edit is refused until it is recorded or you \
                     confirm the export (which is written into the file).",
                    face.0
                ));
                ui.horizontal(|ui| {
                    if ui.button("Bind anyway").clicked() {
                        self.pending.push(AppCommand::ConsentPrompt(true));
                    }
                    if ui.button("Don't bind").clicked() {
                        self.pending.push(AppCommand::ConsentPrompt(false));
                    }
                });
            });
        }
        if self.unsaved_prompt.is_some() {
            egui::Modal::new(egui::Id::unique("unsaved")).show(ctx, |ui| {
                ui.heading("Save changes?");
                ui.label("The project has unsaved changes.");
                ui.horizontal(|ui| {
                    if ui.button("Save").clicked() {
                        self.pending.push(AppCommand::Unsaved(UnsavedChoice::Save));
                    }
                    if ui.button("Don't save").clicked() {
                        self.pending.push(AppCommand::Unsaved(UnsavedChoice::Discard));
                    }
                    if ui.button("Cancel").clicked() {
                        self.pending.push(AppCommand::Unsaved(UnsavedChoice::Cancel));
                    }
                });
            });
        }
        if let Some(path) = self.changed_on_disk.clone() {
            let mut choice = None;
            egui::Modal::new(egui::Id::unique("changed on disk")).show(ctx, |ui| {
                ui.heading("The project changed on disk");
                ui.label(format!(
                    "{} was changed by another program (a redub command, another editor) since \
                     it was opened or saved here. Saving now replaces those changes.",
                    path.display()
                ));
                ui.horizontal(|ui| {
                    if ui.button("Overwrite with this version").clicked() {
                        choice = Some(true);
                    }
                    if ui.button("Don't save").clicked() {
                        choice = Some(false);
                    }
                });
            });
            match choice {
                Some(true) => {
                    self.changed_on_disk = None;
                    self.save_over(&path);
                }
                Some(false) => self.changed_on_disk = None,
                None => {}
            }
        }
        if let Some((title, reason)) = self.failure.clone() {
            egui::Modal::new(egui::Id::unique("failure")).show(ctx, |ui| {
                ui.heading(&title);
                ui.label(&reason);
                if ui.button("OK").clicked() {
                    self.failure = None;
                }
            });
        }
        if let Some(b) = self.file_browser.as_mut() {
            use crate::app::file_browser::{BrowsePurpose as B, BrowserAction, file_browser_ui};
            let action = file_browser_ui(ctx, b, &self.settings.recent_folders);
            let purpose = b.purpose.clone();
            match action {
                BrowserAction::None => {}
                BrowserAction::Cancel => {
                    self.file_browser = None;
                    self.after_save = None;
                }
                BrowserAction::Chosen(p) => {
                    self.file_browser = None;
                    self.remember_folder(&p);
                    let cmd = match purpose {
                        B::Import(target) => {
                            Some(AppCommand::Import { paths: Some(vec![p]), target })
                        }
                        B::Open => Some(AppCommand::Open(Some(p))),
                        B::SaveAs => Some(AppCommand::SaveAs(Some(p))),
                        B::RelinkFolder => Some(AppCommand::RelinkFolder(Some(p))),
                        B::Subtitles => Some(AppCommand::ImportSubtitles(Some(p))),
                        B::ExportTimeline => Some(AppCommand::ExportTimeline(Some(p))),
                        B::ImportTimeline => Some(AppCommand::ImportTimeline(Some(p))),
                        B::CollectProject => Some(AppCommand::CollectProject(Some(p))),
                        B::ExportOutput => {
                            self.export.output = p.display().to_string();
                            None
                        }
                    };
                    self.pending.extend(cmd);
                }
            }
        }
        self.toasts_ui(ctx);
        if let Some(job) = &self.bundle_job {
            crate::app::bundle_ui::bundle_window(ctx, job, &mut self.pending);
        }
        if let Some(report) = &self.system_report {
            let mut open = true;
            egui::Window::new("System check").open(&mut open).default_size([720.0, 480.0]).show(
                ctx,
                |ui| {
                    let verdict = if report.failed() {
                        "Something Redub needs is missing (FAIL below); `redub doctor` prints the same."
                    } else {
                        "Everything Redub needs is here; `redub doctor` prints the same."
                    };
                    ui.label(verdict);
                    egui::ScrollArea::vertical().show(ui, |ui| {
                        ui.monospace(report.to_text());
                    });
                },
            );
            if !open {
                self.system_report = None;
            }
        }
        if let Some(models) = &mut self.models
            && !models.ui(ctx)
        {
            // Dropping the window drops its fetch task, which cancels it.
            self.models = None;
        }
        if self.show_log {
            let mut open = true;
            egui::Window::new("Log").open(&mut open).default_size([520.0, 260.0]).show(ctx, |ui| {
                egui::ScrollArea::vertical().stick_to_bottom(true).show(ui, |ui| {
                    for l in &self.log {
                        let c = if l.error {
                            egui::Color32::from_rgb(240, 90, 80)
                        } else {
                            ui.visuals().text_color()
                        };
                        ui.colored_label(c, &l.text);
                    }
                });
            });
            self.show_log = open;
        }
        let in_out = self.in_point.zip(self.out_point);
        let length = crate::app::export_dialog::ExportLength {
            picture_end: self.project.timeline.picture_end(),
            sequence_end: self.end_time(),
            rate: self.project.timeline.frame_rate,
        };
        let consent = crate::model::consent::ConsentSummary::of(&self.project, false);
        export_dialog_ui(ctx, &mut self.export, in_out, length, &consent, &mut self.pending);
        crate::app::farm_dialog::farm_dialog_ui(
            ctx,
            &mut self.farm,
            self.path.is_some(),
            &mut self.pending,
        );
        self.loudness.ui(ctx);
    }

    /// Builds one frame of the whole UI (also what the benchmark and the tests call).
    pub fn frame_ui(&mut self, ui: &mut egui::Ui) {
        let began = Instant::now();
        let ctx = ui.ctx().clone();
        self.poll_workers();
        self.refresh_missing();
        for cmd in self.script.due() {
            self.pending.push(cmd);
        }

        // An edit during playback: restart the mixer from here so what is heard stays the
        // project as it is now (not during a drag, which would stutter; at its end instead).
        let stale = self
            .play
            .as_ref()
            .and_then(|p| p.mixed_changes)
            .is_some_and(|c| c != self.changes && !self.history.in_gesture());
        if stale {
            let t = self.play.as_ref().map_or(self.playhead, |p| p.clock.now());
            let speed = self.shuttle.speed.max(1);
            self.stop();
            self.playhead = t;
            self.shuttle.speed = speed;
            self.start_play(speed);
        }
        // Playback clock drives the playhead.
        if let Some(p) = &self.play {
            let t = p.clock.now();
            let end = self.end_time();
            if t >= end || t < Time::ZERO {
                self.playhead = t.clamp(Time::ZERO, end);
                self.stop();
            } else {
                self.playhead = t;
                self.timeline.reveal(t);
                // Draw again when the next frame is due, not as fast as the renderer can (with
                // no vsync, as under Xvfb, that starved the decoder); decoded frames arriving
                // early ask for their own repaint.
                let rate = self.project.timeline.frame_rate;
                let next = rate.frame_to_time(frame_at(rate, t) + 1);
                let speed = self.shuttle.speed.unsigned_abs().max(1);
                let wait = (next - t).as_seconds_f64().max(0.001) / f64::from(speed);
                ctx.request_repaint_after(Duration::from_secs_f64(wait));
            }
            if let Some(p) = self.play.as_mut() {
                p.ui_frames += 1;
            }
        }
        let dir = self.project_dir();
        let video_path = self
            .project
            .timeline
            .video
            .media
            .and_then(|id| self.project.media(id))
            .and_then(|m| resolve_media_path(m, &dir));
        self.viewer.set_source(video_path.as_deref(), &ctx);
        self.lip_preview.set_source(video_path.as_deref(), &ctx);
        if let Some(plan) = self.lip_preview.update(&self.project, &dir, &ctx) {
            self.viewer.set_plan(plan);
        }
        if std::mem::take(&mut self.lip_preview.models_needed) && self.models.is_none() {
            // The first use of a feature that needs a model found one (or ONNX Runtime) missing
            // or damaged: the Models window says which and offers to fetch it.
            self.models = Some(crate::app::models_ui::ModelsWindow::new());
        }
        let shot_len = self
            .project
            .timeline
            .video
            .media
            .and_then(|id| self.project.media(id))
            .map_or(Time::ZERO, |m| m.duration);
        self.thumbnails.set_source(video_path.as_deref(), shot_len, &ctx);
        self.thumbnails.poll(&ctx);
        let shot = self.project.timeline.video.media.and_then(|id| self.project.media(id));
        let shot = video_path.as_deref().zip(shot.map(|m| m.content_hash.as_str()));
        self.lip_ui.update(&self.project, self.audio.sources.as_ref(), shot, &ctx);
        // The faces list shows the analysis the preview job computed.
        if let Some(a) = &self.lip_preview.analysis {
            self.lip_ui.faces.set_analysis(a.clone(), &ctx);
        }
        self.auto_bind();
        self.speakers.update(
            self.lip_preview.analysis.as_ref(),
            self.audio.dialogue.as_ref(),
            self.audio.peaks.as_ref().map_or(&[][..], |w| w.speech.as_slice()),
        );
        let index = frame_at(self.project.timeline.frame_rate, self.playhead);
        self.dropped_frames += self.viewer.update(&ctx, index, self.play.is_some());

        self.keys(&ctx);
        self.dropped_files(&ctx);
        self.poll_bundle();
        if ctx.input(|i| i.viewport().close_requested()) && !self.allow_close && self.is_dirty() {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.unsaved_prompt = Some(AfterPrompt::Quit);
        }

        egui::Panel::top("menu").show(ui, |ui| self.menu_ui(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_ui(ui));
        egui::Panel::bottom("timeline").resizable(true).default_size(330.0).min_size(160.0).show(
            ui,
            |ui| {
                let thumbs: Vec<(Time, egui::TextureId, egui::Vec2)> =
                    self.thumbnails.items.iter().map(|(t, tex, s)| (*t, tex.id(), *s)).collect();
                let input = TimelineInput {
                    project: &self.project,
                    selection: &self.selection,
                    playhead: self.playhead,
                    in_point: self.in_point,
                    out_point: self.out_point,
                    snap: self.snap,
                    waveforms: self.audio.peaks.as_deref(),
                    thumbnails: &thumbs,
                    lip_segments: &self.lip_ui.segments,
                    lip_selected: self.lip_ui.selected,
                    speakers: Some(&self.speakers),
                    bind_target: self.lip_ui.target_track(&self.project, &self.selection),
                    preset: self.key_preset,
                };
                timeline_ui(ui, &input, &mut self.timeline, &mut self.pending);
            },
        );
        egui::Panel::left("media-bin").resizable(true).default_size(220.0).show(ui, |ui| {
            let thumb = self.thumbnails.items.first().map(|(_, t, s)| (t.id(), *s));
            let bin = BinInput {
                missing: &self.missing,
                facts: &self.facts.facts,
                shot_thumb: thumb,
                busy: self.importer.busy(),
                selected: self.media_selection,
                playhead: self.playhead,
            };
            media_bin_ui(ui, &self.project, &bin, &mut self.pending);
            ui.separator();
            self.lip_ui.faces_ui(ui, &self.project, &self.selection, &mut self.pending);
        });
        egui::Panel::right("inspector").resizable(true).default_size(270.0).show(ui, |ui| {
            egui::ScrollArea::vertical().id_salt("inspector-scroll").show(ui, |ui| {
                self.lip_ui.inspector_ui(ui, &self.project, &mut self.pending);
                inspector_ui(
                    ui,
                    &self.project,
                    &self.selection,
                    self.audio.peaks.as_deref(),
                    &mut self.inspector,
                    &mut self.pending,
                );
            });
        });
        egui::CentralPanel::default().show(ui, |ui| {
            self.transport_ui(ui);
            let has_video = self.project.timeline.video.media.is_some();
            let faces = FaceContext {
                analysis: self.lip_preview.analysis.as_deref(),
                project: &self.project,
                bind_track: bind_target(&self.project, &self.selection),
            };
            viewer_ui(ui, &self.viewer, has_video, &faces, &mut self.pending);
        });
        self.dialogs_ui(&ctx);
        self.lip_ui.windows_ui(&ctx, &self.project, &mut self.pending);

        if !self.pending.is_empty() {
            // Commands change what the panels show: draw once more with the new state.
            ctx.request_repaint();
        }
        self.apply_pending();
        self.autosave_tick();

        let title = self.window_title();
        if title != self.title {
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
            self.title = title;
        }
        if !self.background_idle() {
            ctx.request_repaint_after(Duration::from_millis(100));
        }
        if let Some(wait) = self.script.next_wait() {
            ctx.request_repaint_after(wait);
        }
        if let Some(p) = self.play.as_mut() {
            p.ui_time += began.elapsed();
        }
    }
}

/// A speaker with a slash across it, drawn (the bundled fonts have no such glyph).
fn muted_speaker_icon(ui: &mut egui::Ui) -> egui::Response {
    let (rect, resp) = ui.allocate_exact_size(egui::vec2(18.0, 14.0), egui::Sense::hover());
    let p = ui.painter();
    let c = egui::Color32::from_rgb(240, 190, 80);
    let (l, t, h) = (rect.left() + 2.0, rect.top() + 1.0, rect.height() - 2.0);
    let pt = |x: f32, y: f32| egui::pos2(l + x, t + y * h);
    p.add(egui::Shape::convex_polygon(
        vec![
            pt(0.0, 0.35),
            pt(3.0, 0.35),
            pt(8.0, 0.0),
            pt(8.0, 1.0),
            pt(3.0, 0.65),
            pt(0.0, 0.65),
        ],
        c,
        egui::Stroke::NONE,
    ));
    p.line_segment([pt(10.0, 0.15), pt(15.0, 0.85)], egui::Stroke::new(1.5, c));
    p.line_segment([pt(15.0, 0.15), pt(10.0, 0.85)], egui::Stroke::new(1.5, c));
    resp
}
