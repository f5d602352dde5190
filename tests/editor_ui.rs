//! The editor driven like a user, headless (egui_kittest on wgpu, Mesa lavapipe): widgets are
//! found by role and label; drops and drags are real pointer events.
//!
//! Snapshots live in tests/snapshots. `UPDATE_SNAPSHOTS=1 cargo test --test editor_ui` rewrites
//! them. Diff threshold: egui_kittest's default per-pixel threshold (weighted YIQ distance 0.6)
//! and at most 6 500 differing pixels (0.5 % of the 1440×900 window, `snapshot_options`):
//! software rasterisers differ in a few anti-aliased edge pixels between Mesa versions, which
//! that allowance absorbs, while any layout or colour change still fails.

mod common;
use common::{drag, harness, step_until};

use egui::{Event, Modifiers, PointerButton, Pos2, Rect, accesskit::Role};
use egui_kittest::kittest::Queryable;
use egui_kittest::{Harness, SnapshotOptions};
use redub::app::RedubApp;
use redub::app::command::AppCommand;
use redub::app::timeline::Lane;
use redub::media::testsrc::{write_bars_clip, write_wav};
use redub::model::{FrameRate, Project, Time};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn media(dir: &Path) -> (PathBuf, PathBuf) {
    let video = dir.join("shot.mp4");
    write_bars_clip(&video, 100, 320, 180, FrameRate::FPS_25, 440.0).unwrap();
    let line = dir.join("line.wav");
    let samples: Vec<f32> = (0..96_000)
        .flat_map(|i| {
            let v = 0.3 * (i as f32 * 0.05).sin();
            [v, v]
        })
        .collect();
    write_wav(&line, &samples).unwrap();
    (video, line)
}

/// A file dropped from the desktop, as the windowing integration would hand it to egui.
#[derive(Debug)]
struct DesktopFile(PathBuf);

impl egui::DroppedFile for DesktopFile {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

fn drop_file(h: &mut Harness<'_, RedubApp>, at: Pos2, path: &Path) {
    h.hover_at(at);
    h.step();
    h.input_mut().dropped_files.push(std::sync::Arc::new(DesktopFile(path.to_path_buf())));
    h.step();
}

fn dub_lane(h: &Harness<'_, RedubApp>, index: usize) -> Rect {
    let app = h.state();
    let id = app.project.timeline.dub_tracks[index].id;
    app.timeline.lanes.iter().find(|(l, _)| *l == Lane::Dub(id)).map(|(_, r)| *r).unwrap()
}

fn only_clips(p: &Project) -> Vec<(Time, Time, Time)> {
    p.timeline
        .dub_tracks
        .iter()
        .flat_map(|t| t.clips.iter().map(|c| (c.position, c.source_in, c.source_out)))
        .collect()
}

#[test]
fn edit_a_dub_line_with_mouse_and_keys_then_save_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (video, line) = media(dir.path());
    let mut h = harness(&dir.path().join("appdata"), None);
    h.run_ok();
    assert_eq!(h.state().window_title(), "Untitled — Redub");

    // Drop the shot on the viewer: it becomes the video and the original audio.
    let viewer = h.get_by_role_and_label(Role::Image, "Viewer").rect();
    drop_file(&mut h, viewer.center(), &video);
    step_until(&mut h, "the shot import", |a| {
        a.project.timeline.video.media.is_some() && !a.importing()
    });
    assert!(h.state().project.timeline.original_audio.media.is_some());
    assert!(h.state().window_title().contains('*'), "unsaved marker in the title");

    // Add a dub track with its button, then drop the line on it at about 1 s.
    h.get_by_label("+ Dub track").click();
    h.run_ok();
    assert_eq!(h.state().project.timeline.dub_tracks.len(), 1);
    let lane = dub_lane(&h, 0);
    let x1s = h.state().timeline.x_of(Time::from_millis(1000));
    drop_file(&mut h, Pos2::new(x1s, lane.center().y), &line);
    step_until(&mut h, "the dub line import", |a| !a.clip_ids().is_empty() && !a.importing());
    let after_drop = h.state().project.clone();
    let clips = only_clips(&after_drop);
    assert_eq!(clips.len(), 1);
    assert!((clips[0].0.as_seconds_f64() - 1.0).abs() < 0.05, "dropped at 1 s: {:?}", clips[0].0);
    assert!((clips[0].2.as_seconds_f64() - 2.0).abs() < 0.01);

    // Move it right by a drag on the clip (80 points = 1 s at the default zoom).
    let body = h.get_by_role_and_label(Role::Button, "Clip line").rect();
    drag(&mut h, body.center(), body.center() + egui::vec2(80.0, 0.0));
    let after_move = h.state().project.clone();
    let moved = only_clips(&after_move)[0].0;
    assert!((moved.as_seconds_f64() - 2.0).abs() < 0.1, "moved to about 2 s: {moved:?}");
    assert_eq!(h.state().history.undo_label(), Some("Move clip"));

    // Trim its end by dragging the right edge 40 points left (0.5 s).
    let edge = h.get_by_role_and_label(Role::Button, "Trim end of line").rect();
    drag(&mut h, edge.center(), edge.center() - egui::vec2(40.0, 0.0));
    let after_trim = h.state().project.clone();
    let (_, src_in, src_out) = only_clips(&after_trim)[0];
    assert!(((src_out - src_in).as_seconds_f64() - 1.5).abs() < 0.1, "trimmed to about 1.5 s");

    // Put the playhead inside the clip by clicking the ruler, split with the Premiere key.
    let ruler = h.get_by_label("Timeline ruler").rect();
    let x = h.state().timeline.x_of(moved + Time::from_millis(500));
    h.event(Event::PointerMoved(Pos2::new(x, ruler.center().y)));
    h.step();
    let pos = Pos2::new(x, ruler.center().y);
    h.event(Event::PointerButton {
        pos,
        button: PointerButton::Primary,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    h.event(Event::PointerButton {
        pos,
        button: PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    h.run_ok();
    assert!(h.state().playhead > moved);
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::K);
    h.run_ok();
    let after_split = h.state().project.clone();
    assert_eq!(only_clips(&after_split).len(), 2, "split in two");

    // Undo three times (split, trim, move), then redo once (move).
    for _ in 0..3 {
        h.key_press_modifiers(Modifiers::COMMAND, egui::Key::Z);
        h.run_ok();
    }
    assert_eq!(h.state().project, after_drop);
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, egui::Key::Z);
    h.run_ok();
    assert_eq!(h.state().project, after_move);

    // Save (by command: file dialogs are not driven in tests) and reopen.
    let file = dir.path().join("edited.redub");
    h.state_mut().queue(AppCommand::SaveAs(Some(file.clone())));
    h.run_ok();
    assert!(!h.state().is_dirty());
    assert_eq!(h.state().window_title(), "edited.redub — Redub");
    let saved = h.state().project.clone();
    drop(h);

    let mut h2 = harness(&dir.path().join("appdata"), Some(file.clone()));
    h2.run_ok();
    assert_eq!(h2.state().project, saved);
    assert!(h2.state().recovery.is_none(), "a clean save leaves nothing to recover");
}

#[test]
fn autosave_is_offered_after_a_crash_with_the_edit() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("appdata");
    let file = dir.path().join("p.redub");
    Project::new("p", FrameRate::FPS_25).save(&file).unwrap();
    let mut h = harness(&data, Some(file.clone()));
    h.run_ok();
    std::thread::sleep(Duration::from_millis(20));
    h.get_by_label("+ Dub track").click();
    h.run_ok();
    h.state_mut().flush_autosave();
    // "Crash": drop the harness without the clean shutdown (eframe's on_exit is not called).
    std::mem::forget(h);

    let mut h2 = harness(&data, Some(file));
    h2.run_ok();
    assert!(h2.state().recovery.is_some(), "recovery offered");
    h2.get_by_label("Recover").click();
    h2.run_ok();
    assert_eq!(h2.state().project.timeline.dub_tracks.len(), 1, "the edit is back");
    assert!(h2.state().is_dirty());
}

#[test]
fn quitting_with_unsaved_changes_asks() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&dir.path().join("appdata"), None);
    h.run_ok();
    h.get_by_label("+ Dub track").click();
    h.run_ok();
    h.state_mut().queue(AppCommand::Quit);
    h.run_ok();
    assert!(h.state().unsaved_prompt.is_some());
    h.get_by_label("Cancel").click();
    h.run_ok();
    assert!(h.state().unsaved_prompt.is_none());
}

fn snapshot_options() -> SnapshotOptions {
    // See the module doc: 0.5 % of a 1440×900 window.
    SnapshotOptions::new().max_failed_pixels(6500)
}

#[test]
fn snapshots_of_main_window_timeline_and_export_dialog() {
    let dir = tempfile::tempdir().unwrap();
    let (video, line) = media(dir.path());
    let mut p = Project::new("snapshot", FrameRate::FPS_25);
    let v = p.add_media(&video, redub::model::MediaKind::Video, Time::from_millis(4000)).unwrap();
    p.timeline.video.media = Some(v);
    p.timeline.original_audio.media = Some(v);
    p.timeline.duration = Time::from_millis(4000);
    let l = p.add_media(&line, redub::model::MediaKind::Audio, Time::from_millis(2000)).unwrap();
    let t1 = p.add_dub_track("Alice");
    let t2 = p.add_dub_track("Bob");
    p.add_clip(t1, l, Time::from_millis(400)).unwrap();
    p.add_clip(t2, l, Time::from_millis(1800)).unwrap();
    p.timeline
        .markers
        .push(redub::model::Marker { time: Time::from_millis(1200), name: "M1".into() });
    let file = dir.path().join("snap.redub");
    p.save(&file).unwrap();

    let mut h = harness(&dir.path().join("appdata"), Some(file));
    h.state_mut().queue(AppCommand::Seek(Time::from_millis(1000)));
    step_until(&mut h, "the frame at the playhead", |a| {
        a.viewer.shown.as_ref().is_some_and(|f| f.index >= 25)
    });
    // Waveforms, thumbnails and probe facts arrive in the background: wait for all of them so
    // the snapshot is the same every run.
    step_until(&mut h, "background work", |a| a.background_idle() && a.thumbnails.items.len() == 4);
    h.run_ok();
    let opts = snapshot_options();
    h.snapshot_options("main_window", &opts);

    let full = h.render().unwrap();
    let area = h.state().timeline.lanes.first().map(|(_, r)| *r).unwrap();
    let top = (area.top() - redub::app::timeline::RULER_H - 24.0).max(0.0) as u32;
    let crop = image::imageops::crop_imm(
        &full,
        0,
        top,
        full.width(),
        full.height().saturating_sub(top + 30),
    )
    .to_image();
    egui_kittest::image_snapshot_options(&crop, "timeline", &opts);

    h.state_mut().queue(AppCommand::ShowExport);
    h.run_ok();
    h.state_mut().export.output = "/home/user/Videos/snapshot.mp4".into();
    h.run_ok();
    h.snapshot_options("export_dialog", &opts);
}

/// A project with the shot, two dub tracks and one 2 s line on the first at 0.5 s.
fn two_track_project(dir: &Path) -> PathBuf {
    let (video, line) = media(dir);
    let mut p = Project::new("two", FrameRate::FPS_25);
    let v = p.add_media(&video, redub::model::MediaKind::Video, Time::from_millis(4000)).unwrap();
    p.timeline.video.media = Some(v);
    p.timeline.original_audio.media = Some(v);
    p.timeline.duration = Time::from_millis(4000);
    let l = p.add_media(&line, redub::model::MediaKind::Audio, Time::from_millis(2000)).unwrap();
    let t1 = p.add_dub_track("Alice");
    p.add_dub_track("Bob");
    p.add_clip(t1, l, Time::from_millis(500)).unwrap();
    let file = dir.join("two.redub");
    p.save(&file).unwrap();
    file
}

#[test]
fn drag_moves_a_clip_to_another_dub_track_and_box_select_picks_clips() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_track_project(dir.path());
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    h.run_ok();
    let body = h.get_by_role_and_label(Role::Button, "Clip line").rect();
    let down = dub_lane(&h, 1).center().y - dub_lane(&h, 0).center().y;
    drag(&mut h, body.center(), body.center() + egui::vec2(0.0, down));
    let tracks = &h.state().project.timeline.dub_tracks;
    assert!(tracks[0].clips.is_empty(), "left Alice");
    assert_eq!(tracks[1].clips.len(), 1, "landed on Bob");
    assert_eq!(tracks[1].clips[0].position, Time::from_millis(500), "same time");

    // Box-select from empty space across the clip.
    h.state_mut().queue(AppCommand::Select(Vec::new(), redub::app::command::SelectMode::Replace));
    h.run_ok();
    let lane = dub_lane(&h, 1);
    let x0 = h.state().timeline.x_of(Time::from_millis(3000));
    let x1 = h.state().timeline.x_of(Time::from_millis(1000));
    drag(&mut h, Pos2::new(x0, lane.top() + 2.0), Pos2::new(x1, lane.bottom() - 2.0));
    assert_eq!(h.state().selection.len(), 1, "box selected the clip");
}

#[test]
fn export_dialog_renders_on_a_worker_with_progress() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_track_project(dir.path());
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    h.run_ok();
    h.state_mut().queue(AppCommand::ShowExport);
    h.run_ok();
    let out = dir.path().join("stems.wav");
    h.state_mut().export.preset = redub::model::Preset::WavStems;
    h.state_mut().export.output = out.display().to_string();
    h.run_ok();
    h.get_by_role_and_label(Role::Button, "Export").click();
    h.run_ok();
    step_until(&mut h, "the export", |a| !a.exporting() && a.export.finished.is_some());
    let done = h.state().export.finished.clone().unwrap();
    assert!(done.is_ok(), "{done:?}");
    assert!(out.is_file());
    assert!(h.get_by_label("Show in folder").rect().width() > 0.0);
}

#[test]
fn keys_mark_step_and_ripple_delete_and_alt_drag_slips() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_track_project(dir.path());
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    h.run_ok();
    // Arrows step frames, I/O set in and out, M adds a marker.
    for _ in 0..5 {
        h.key_press(egui::Key::ArrowRight);
    }
    h.run_ok();
    assert_eq!(h.state().playhead, FrameRate::FPS_25.frame_to_time(5));
    h.key_press(egui::Key::I);
    h.key_press_modifiers(Modifiers::SHIFT, egui::Key::ArrowRight);
    h.key_press(egui::Key::O);
    h.key_press(egui::Key::M);
    h.run_ok();
    assert_eq!(h.state().in_point, Some(FrameRate::FPS_25.frame_to_time(5)));
    assert_eq!(h.state().out_point, Some(FrameRate::FPS_25.frame_to_time(15)));
    assert_eq!(h.state().project.timeline.markers.len(), 1);
    // Up jumps to the previous edit point (the clip start at 0.5 s).
    h.key_press(egui::Key::ArrowUp);
    h.run_ok();
    assert_eq!(h.state().playhead, Time::from_millis(500));
    // End goes to the last frame, Home to the first.
    h.key_press(egui::Key::End);
    h.run_ok();
    let rate = h.state().project.timeline.frame_rate;
    let last = rate.time_to_frame(h.state().project.timeline.duration) - 1;
    assert!(rate.time_to_frame(h.state().playhead) >= last, "End: {}", h.state().playhead);
    h.key_press(egui::Key::Home);
    h.run_ok();
    assert_eq!(h.state().playhead, Time::ZERO);

    // Trim the clip's start so there is source to slip, then Alt+drag slips it.
    let edge = h.get_by_role_and_label(Role::Button, "Trim start of line").rect();
    drag(&mut h, edge.center(), edge.center() + egui::vec2(40.0, 0.0));
    let before = h.state().project.timeline.dub_tracks[0].clips[0].clone();
    assert!(before.source_in > Time::ZERO);
    let body = h.get_by_role_and_label(Role::Button, "Clip line").rect();
    let from = body.center();
    h.event(Event::PointerMoved(from));
    h.event(Event::ModifiersChanged(Modifiers::ALT));
    h.step();
    h.event(Event::PointerButton {
        pos: from,
        button: PointerButton::Primary,
        pressed: true,
        modifiers: Modifiers::ALT,
    });
    h.step();
    for k in 1..=4 {
        h.event(Event::PointerMoved(from + egui::vec2(5.0 * k as f32, 0.0)));
        h.step();
    }
    h.event(Event::PointerButton {
        pos: from + egui::vec2(20.0, 0.0),
        button: PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::ALT,
    });
    h.step();
    h.event(Event::ModifiersChanged(Modifiers::NONE));
    h.run_ok();
    let after = h.state().project.timeline.dub_tracks[0].clips[0].clone();
    assert_eq!(after.position, before.position, "slip keeps the clip in place");
    assert!(after.source_in < before.source_in, "and shows earlier source");
    assert_eq!(after.duration(), before.duration());

    // Shift+Delete ripple-deletes the selected clip.
    h.key_press_modifiers(Modifiers::SHIFT, egui::Key::Delete);
    h.run_ok();
    assert!(h.state().project.timeline.dub_tracks[0].clips.is_empty());
}
