//! The lip panels driven like a user, headless (egui_kittest on wgpu, Mesa lavapipe): the lip
//! lane under a dub track, selecting a lip segment, a slider drag on its intensity as one undo
//! step, the painted-mask panel, and the faces list binding a dub track to a face.
//!
//! Snapshots live in tests/snapshots (`UPDATE_SNAPSHOTS=1` rewrites them); the diff allowance
//! is the same as tests/editor_ui.rs (0.5 % of the window).

mod common;
use common::{drag, harness, step_until};

use egui::Pos2;
use egui::accesskit::Role;
use egui_kittest::SnapshotOptions;
use egui_kittest::kittest::Queryable;
use redub::app::RedubApp;
use redub::app::command::AppCommand;
use redub::media::testsrc::write_bars_clip;
use redub::model::lip::FaceId;
use redub::model::{FrameRate, MediaKind, Project, Time};
use std::path::{Path, PathBuf};

fn snapshot_options() -> SnapshotOptions {
    SnapshotOptions::new().max_failed_pixels(6500)
}

/// A shot of test bars and one dub track with two spoken lines (two lip segments).
fn project_with_lines(dir: &Path) -> PathBuf {
    let video = dir.join("shot.mp4");
    write_bars_clip(&video, 125, 320, 180, FrameRate::FPS_25, 440.0).unwrap();
    let (a, b) = (dir.join("a.wav"), dir.join("b.wav"));
    common::espeak("We choose to go there.", "en-us", &a);
    common::espeak("Because it is hard.", "en-us", &b);
    let mut p = Project::new("lips", FrameRate::FPS_25);
    let v = p.add_media(&video, MediaKind::Video, Time::from_millis(5000)).unwrap();
    p.timeline.video.media = Some(v);
    p.timeline.duration = Time::from_millis(5000);
    let t = p.add_dub_track("Alice");
    for (path, at) in [(&a, 300), (&b, 3000)] {
        let d = redub::media::probe(path).unwrap().duration;
        let m = p.add_media(path, MediaKind::Audio, d).unwrap();
        p.add_clip(t, m, Time::from_millis(at)).unwrap();
    }
    let file = dir.join("lips.redub");
    p.save(&file).unwrap();
    file
}

#[test]
fn select_a_lip_segment_drag_its_intensity_and_undo() {
    let dir = tempfile::tempdir().unwrap();
    let file = project_with_lines(dir.path());
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    step_until(&mut h, "lip segments", |a| {
        a.background_idle() && a.lip_ui.segments.first().is_some_and(|(_, s)| s.len() >= 2)
    });
    let segs = h.state().lip_ui.segments[0].1.clone();
    println!(
        "lip segments: {:?}",
        segs.iter().map(|s| (s.start.as_seconds_f64(), s.end.as_seconds_f64())).collect::<Vec<_>>()
    );
    assert!(segs[0].start >= Time::from_millis(250) && segs[0].end <= Time::from_millis(3000));
    assert!(segs[1].start >= Time::from_millis(2950));
    // The lane drew them where the timeline puts those times.
    assert_eq!(h.state().timeline.lip_rects.len(), segs.len());
    let before = h.state().project.clone();

    // Click the second segment in its lane.
    h.get_by_label("Lip segment 2 of Alice").click();
    h.run_ok();
    let sel = h.state().lip_ui.selected.expect("a lip segment is selected");
    assert_eq!((sel.start, sel.end), (segs[1].start, segs[1].end));
    // The inspector's lip section: drag the intensity slider from 100 % toward the left.
    let slider = h.get_by_role_and_label(Role::Slider, "Intensity").rect();
    drag(
        &mut h,
        Pos2::new(slider.right() - 2.0, slider.center().y),
        Pos2::new(slider.left() + slider.width() * 0.3, slider.center().y),
    );
    let after = h.state().project.clone();
    let o = &after.timeline.dub_tracks[0].lip_segments;
    assert_eq!(o.len(), 1, "one override, for the selected segment");
    assert_eq!((o[0].start, o[0].end), (segs[1].start, segs[1].end));
    let intensity = o[0].settings.intensity;
    println!("intensity after the drag: {intensity}");
    assert!(intensity > 0.05 && intensity < 0.6, "intensity {intensity}");
    let resolved = &h.state().lip_ui.segments[0].1;
    assert!(resolved[1].overridden && !resolved[0].overridden);
    assert_eq!(resolved[0].settings.intensity, 1.0, "the other segment keeps the track's");
    // Pointer off the widgets, so no hover tooltip is in the snapshot; no timed toasts.
    h.hover_at(Pos2::new(1000.0, 860.0));
    h.state_mut().toasts.clear();
    h.run_ok();
    let opts = snapshot_options();
    h.snapshot_options("lip_segment_inspector", &opts);

    // The whole drag is one undo step.
    h.state_mut().queue(AppCommand::Undo);
    h.run_ok();
    assert_eq!(h.state().project, before, "one undo restores the segment");
    h.state_mut().queue(AppCommand::Redo);
    h.run_ok();
    assert_eq!(h.state().project, after);

    // Switch the segment off from the inspector: its lane colour dims, the edit is saved.
    h.get_by_label("Lip edit on").click();
    h.run_ok();
    assert!(!h.state().project.timeline.dub_tracks[0].lip_segments[0].settings.enabled);
}

#[test]
fn selecting_a_lip_segment_selects_its_clip_so_the_inspector_shows_one_clip() {
    let dir = tempfile::tempdir().unwrap();
    let file = project_with_lines(dir.path());
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    step_until(&mut h, "lip segments", |a| {
        a.background_idle() && a.lip_ui.segments.first().is_some_and(|(_, s)| s.len() >= 2)
    });
    let clips: Vec<_> =
        h.state().project.timeline.dub_tracks[0].clips.iter().map(|c| c.id).collect();
    let (a, b) = (clips[0], clips[1]);
    // Clip b selected, then the lip segment of clip a clicked: the inspector follows to a.
    let replace = redub::app::command::SelectMode::Replace;
    h.state_mut().queue(AppCommand::Select(vec![b], replace));
    h.run_ok();
    h.get_by_label("Lip segment 1 of Alice").click();
    h.run_ok();
    assert!(h.state().lip_ui.selected.is_some());
    assert_eq!(h.state().selection, vec![a], "the segment's clip is the selection");
    assert!(h.query_by_label_contains("Alice · a · ").is_some(), "the lip section names clip a");
    assert!(h.query_by_label("on Alice").is_some(), "the clip section shows a clip");
    h.hover_at(Pos2::new(1000.0, 860.0));
    h.state_mut().toasts.clear();
    h.run_ok();
    if let Some(d) = std::env::var_os("REDUB_SHOTS")
        && let Ok(img) = h.render()
    {
        let _ = img.save(Path::new(&d).join("3_lip_segment_and_clip.png"));
    }
    h.get_by_label("Lip segment 2 of Alice").click();
    h.run_ok();
    assert_eq!(h.state().selection, vec![b]);
    assert!(h.query_by_label_contains("Alice · b · ").is_some(), "and now clip b");
    // Selecting a clip ends the segment selection: never a segment of another clip.
    h.state_mut().queue(AppCommand::Select(vec![a], replace));
    h.run_ok();
    assert!(h.state().lip_ui.selected.is_none());
    assert!(h.query_by_label_contains("Alice · b · ").is_none());
}

#[test]
fn faces_list_shows_thumbnails_binds_the_selected_track_and_paints_a_mask() {
    let test = "faces_list_shows_thumbnails_binds_the_selected_track_and_paints_a_mask";
    if !common::models_or_skip(test) {
        return;
    }
    let Some(photo) = common::astronaut_or_skip(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    // A shot of the public-domain astronaut photo: its face may appear in the committed
    // snapshots (thumbnail, canonical mouth crop), unlike the real clips of ../shared/media.
    let video = dir.path().join("astronaut.mp4");
    common::astronaut_shot(&photo, 1, 480, 100, &video);
    // The shot's analysis, stored in the analysis cache where the faces list finds it.
    let opts = redub::analysis::pipeline::AnalysisOptions::default();
    let (analysis, _) =
        redub::analysis::job::analyze_file(&video, &opts, &redub::jobs::Job::new(), true).unwrap();
    assert!(!analysis.tracks.is_empty());
    let line = dir.path().join("line.wav");
    common::espeak("We choose to go to the moon.", "en-us", &line);
    let info = redub::media::probe(&video).unwrap();
    let mut p = Project::new("faces", info.video.unwrap().frame_rate);
    let v = p.add_media(&video, MediaKind::Video, info.duration).unwrap();
    p.timeline.video.media = Some(v);
    p.timeline.original_audio.media = Some(v);
    p.timeline.duration = info.duration;
    let d = redub::media::probe(&line).unwrap().duration;
    let l = p.add_media(&line, MediaKind::Audio, d).unwrap();
    p.add_dub_track("Alice");
    let bob = p.add_dub_track("Bob");
    let clip = p.add_clip(bob, l, Time::from_millis(300)).unwrap();
    common::record_consent(&mut p, 0);
    let file = dir.path().join("faces.redub");
    p.save(&file).unwrap();

    let mut h = harness(&dir.path().join("appdata"), Some(file));
    step_until(&mut h, "faces and thumbnails", |a| {
        a.background_idle()
            && !a.lip_ui.faces.tracks().is_empty()
            && a.lip_ui.faces.thumbs.len() == a.lip_ui.faces.tracks().len()
    });
    // Select Bob's clip: the faces list binds Bob.
    h.state_mut().queue(AppCommand::Select(vec![clip], redub::app::command::SelectMode::Replace));
    h.run_ok();
    let before = h.state().project.clone();
    h.get_by_label("Bind selected dub track to face 0").click();
    h.run_ok();
    let bob_face = |a: &RedubApp| a.project.timeline.dub_tracks[1].face;
    assert_eq!(bob_face(h.state()), Some(FaceId(0)));
    assert_eq!(h.state().project.timeline.dub_tracks[0].face, None, "Alice is not bound");
    h.hover_at(Pos2::new(1000.0, 860.0));
    h.run_ok();
    let opts_s = snapshot_options();
    let full = h.render().unwrap();
    let faces = image::imageops::crop_imm(&full, 0, 0, 230, 480).to_image();
    egui_kittest::image_snapshot_options(&faces, "faces_panel", &opts_s);
    h.state_mut().queue(AppCommand::Undo);
    h.run_ok();
    assert_eq!(h.state().project, before, "undo unbinds");
    h.state_mut().queue(AppCommand::Redo);
    h.run_ok();

    // The painted mask: open the panel on Bob's lip segment and paint a stroke.
    step_until(&mut h, "Bob's lip segment", |a| {
        a.background_idle() && a.lip_ui.segments.iter().any(|(t, s)| *t == bob && !s.is_empty())
    });
    h.get_by_label("Lip segment 1 of Bob").click();
    h.run_ok();
    h.get_by_label("Paint mask…").click();
    h.run_ok();
    assert!(h.state().lip_ui.painter.is_some(), "mask panel open: {:?}", h.state().log);
    let canvas = h.get_by_label("Mask canvas").rect();
    drag(
        &mut h,
        Pos2::new(canvas.left() + canvas.width() * 0.3, canvas.center().y),
        Pos2::new(canvas.left() + canvas.width() * 0.6, canvas.center().y),
    );
    h.run_ok();
    let seg = &h.state().project.timeline.dub_tracks[1].lip_segments;
    assert_eq!(seg.len(), 1, "the stroke is saved as the segment's mask");
    let mask = seg[0].mask.as_ref().expect("painted mask");
    let painted = mask.values.iter().filter(|&&v| v > 0.0).count();
    println!(
        "painted {painted} of {} patch pixels on keyframe {}",
        mask.values.len(),
        mask.keyframe
    );
    assert!(painted > 200, "a stroke across the patch");
    assert!(seg[0].settings.occlusion.uses_painted());
    h.hover_at(Pos2::new(1000.0, 860.0));
    // Toasts are timed: cleared, so the snapshot does not depend on how fast this ran.
    h.state_mut().toasts.clear();
    h.run_ok();
    h.snapshot_options("mask_painter", &opts_s);
    h.state_mut().queue(AppCommand::Undo);
    h.run_ok();
    assert!(
        h.state().project.timeline.dub_tracks[1].lip_segments.is_empty(),
        "one stroke, one undo"
    );
}

/// The astronaut shot (one face) and a spoken line, for the binding tests; `None` after
/// skipping (models or the photo absent).
fn one_face_shot(test: &str, dir: &Path) -> Option<(PathBuf, PathBuf)> {
    if !common::models_or_skip(test) {
        return None;
    }
    let photo = common::astronaut_or_skip(test)?;
    let video = dir.join("astronaut.mp4");
    common::astronaut_shot(&photo, 1, 480, 50, &video);
    let line = dir.join("line.wav");
    common::espeak("We choose to go to the moon.", "en-us", &line);
    Some((video, line))
}

#[test]
fn one_face_and_one_dub_track_are_bound_automatically_and_undo_keeps_them_apart() {
    let test = "one_face_and_one_dub_track_are_bound_automatically_and_undo_keeps_them_apart";
    let dir = tempfile::tempdir().unwrap();
    let Some((video, line)) = one_face_shot(test, dir.path()) else { return };
    let info = redub::media::probe(&video).unwrap();
    let mut p = Project::new("bind", info.video.unwrap().frame_rate);
    let v = p.add_media(&video, MediaKind::Video, info.duration).unwrap();
    p.timeline.video.media = Some(v);
    p.timeline.duration = info.duration;
    let d = redub::media::probe(&line).unwrap().duration;
    let l = p.add_media(&line, MediaKind::Audio, d).unwrap();
    let t = p.add_dub_track("Dub 1");
    p.add_clip(t, l, Time::from_millis(200)).unwrap();
    let file = dir.path().join("bind.redub");
    p.save(&file).unwrap();

    let mut h = harness(&dir.path().join("appdata"), Some(file.clone()));
    step_until(&mut h, "the face analysis", |a| {
        a.lip_preview.analysis.is_some() && a.project.timeline.dub_tracks[0].face.is_some()
    });
    let a = h.state();
    assert_eq!(a.lip_preview.analysis.as_ref().unwrap().tracks.len(), 1, "one face");
    assert_eq!(a.project.timeline.dub_tracks[0].face, Some(FaceId(0)));
    let said = a.log.iter().any(|l| l.text.contains("Dub 1 now drives face 0"));
    assert!(said, "the log says so: {:?}", a.log);
    assert!(a.is_dirty(), "a real edit of the project");
    if let Some(d) = std::env::var_os("REDUB_SHOTS")
        && let Ok(img) = h.render()
    {
        let _ = img.save(Path::new(&d).join("2_auto_bind.png"));
    }
    // Undo unbinds, and the editor does not bind it again behind the user's back.
    h.state_mut().queue(AppCommand::Undo);
    h.run_ok();
    for _ in 0..5 {
        h.step();
    }
    assert_eq!(h.state().project.timeline.dub_tracks[0].face, None);
    // Nothing drives a face now: the faces list says what to do.
    assert!(h.query_by_label_contains("No dub track drives a face yet").is_some());

    // Bound by hand and unbound again, then saved: opened again, it stays unbound.
    for face in [Some(FaceId(0)), None] {
        h.state_mut().queue(AppCommand::Edit {
            edit: redub::model::edit::Edit::SetTrackFace { track: t, face },
            label: "bind".into(),
        });
        h.run_ok();
    }
    h.state_mut().queue(AppCommand::Save);
    h.run_ok();
    assert!(!h.state().is_dirty(), "saved");
    drop(h);
    let saved = Project::load(&file).unwrap();
    assert!(!saved.timeline.dub_tracks[0].auto_bind, "the unbind is saved");
    let mut h = harness(&dir.path().join("appdata2"), Some(file));
    step_until(&mut h, "the face analysis after reopening", |a| {
        a.lip_preview.analysis.is_some() && a.background_idle()
    });
    for _ in 0..5 {
        h.step();
    }
    assert_eq!(h.state().project.timeline.dub_tracks[0].face, None, "not bound again");
    assert!(!h.state().is_dirty());
}
