//! The viewer's lip-edit preview, driven like a user (egui_kittest on wgpu, Mesa lavapipe;
//! widgets found by role and label): before/after, clicking a face to bind the selected dub
//! track and undoing it, per-face edit on/off, the mask overlay snapshot; and preview = export:
//! the viewer's render path gives the raw export render path's frames bit for bit, and the
//! encoded export within 40 dB PSNR.
//!
//! Needs the MTCNN models and the astronaut fixture (preview = export also ../shared/media);
//! skips with a printed reason when absent.

mod common;
use common::{dub_project, harness, step_until_secs};

use egui::{Event, Modifiers};
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::{Harness, SnapshotOptions};
use redub::app::RedubApp;
use redub::app::command::AppCommand;
use redub::app::preview::NewPlan;
use redub::app::viewer::FrameFetcher;
use redub::jobs::Job;
use redub::media::VideoDecoder;
use redub::model::lip::FaceId;
use redub::model::{Preset, Time};
use redub::render::graph::FrameRenderer;
use redub::render::lips::plan_project_lips;
use redub::render::{RenderOptions, render_project};
use std::time::{Duration, Instant};

/// The viewer's before/after state as accessibility reports it (the image's value).
fn viewer_mode(h: &Harness<'_, RedubApp>) -> String {
    let node = h.get_by_role_and_label(egui::accesskit::Role::Image, "Viewer");
    node.accesskit_node().value().unwrap_or_default().to_string()
}

fn press(h: &mut Harness<'_, RedubApp>, key: egui::Key, modifiers: Modifiers) {
    for pressed in [true, false] {
        h.event(Event::Key { key, physical_key: None, pressed, repeat: false, modifiers });
    }
    h.run_ok();
}

#[test]
fn viewer_before_after_click_to_bind_undo_face_toggle_and_mask_snapshot() {
    let test = "viewer_before_after_click_to_bind_undo_face_toggle_and_mask_snapshot";
    if !common::models_or_skip(test) {
        return;
    }
    let Some(photo) = common::astronaut_or_skip(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    // Two faces (the astronaut photo and its mirror image): pictures that may go into the
    // committed snapshot, unlike the real clips of ../shared/media.
    let shot = dir.path().join("two_faces.mp4");
    common::astronaut_shot(&photo, 2, 360, 50, &shot);
    let dub = dir.path().join("dub.wav");
    common::espeak(
        "Because that goal will serve to organize the best of our energies.",
        "en-us",
        &dub,
    );
    let file = dir.path().join("two.redub");
    let mut project = dub_project(&shot, &dub, None);
    // Both faces of the shot: the test binds each of them (binding an unconsented face asks).
    common::record_consent(&mut project, 0);
    common::record_consent(&mut project, 1);
    project.save(&file).unwrap();
    let mut h = harness(&dir.path().join("appdata"), Some(file));

    step_until_secs(&mut h, "the face analysis", 240, |a| a.lip_preview.analysis.is_some());
    let analysis = h.state().lip_preview.analysis.clone().unwrap();
    assert_eq!(analysis.tracks.len(), 2, "two faces in the composite");
    // The right-hand face is the one this test binds.
    let right = analysis
        .tracks
        .iter()
        .find(|t| t.frames[0].bbox.center()[0] > 360.0)
        .expect("a face on the right half")
        .id;
    step_until_secs(&mut h, "the first frame", 60, |a| a.viewer.shown.is_some());

    // The timeline's Speaking lane: a row per face, and the face proposed as the speaker of
    // the original line; clicking the proposal binds the dub track playing over that line.
    step_until_secs(&mut h, "the speaking lane", 60, |a| {
        a.speakers.rows.len() == 2 && !a.speakers.proposals.is_empty()
    });
    h.get_by_label("Face 0 speaking");
    h.get_by_label("Face 1 speaking");
    let proposal = h.state().speakers.proposals[0].clone();
    println!("proposed speaker: {proposal:?}");
    // Two still photos: nobody is seen speaking, so the proposal is only a guess.
    assert!(h.state().speakers.rows.iter().all(|(_, s)| s.is_empty()), "still faces never speak");
    assert!(!proposal.speaking);
    h.get_by_role_and_label(
        egui::accesskit::Role::Button,
        &format!(
            "Face {} proposed for the line at {:.2} s",
            proposal.face,
            proposal.start.as_seconds_f64()
        ),
    )
    .click();
    h.run_ok();
    assert_eq!(h.state().project.timeline.dub_tracks[0].face, Some(FaceId(proposal.face)));
    press(&mut h, egui::Key::Z, Modifiers::COMMAND);
    assert_eq!(h.state().project.timeline.dub_tracks[0].face, None, "undo unbinds");

    // Before/after: the key `\` and the toolbar button.
    assert_eq!(viewer_mode(&h), "after");
    press(&mut h, egui::Key::Backslash, Modifiers::NONE);
    assert!(h.state().viewer.before);
    assert_eq!(viewer_mode(&h), "before");
    h.get_by_label("Before").click();
    h.run_ok();
    assert!(!h.state().viewer.before);
    assert_eq!(viewer_mode(&h), "after");

    // Click the right face: the only dub track gets bound to it, as one undo step.
    assert_eq!(h.state().project.timeline.dub_tracks[0].face, None);
    h.get_by_role_and_label(egui::accesskit::Role::Button, &format!("Face {right}")).click();
    h.run_ok();
    assert_eq!(h.state().project.timeline.dub_tracks[0].face, Some(FaceId(right)));
    press(&mut h, egui::Key::Z, Modifiers::COMMAND);
    assert_eq!(h.state().project.timeline.dub_tracks[0].face, None, "undo unbinds");
    press(&mut h, egui::Key::Z, Modifiers::COMMAND | Modifiers::SHIFT);
    assert_eq!(h.state().project.timeline.dub_tracks[0].face, Some(FaceId(right)), "redo");

    // Per-face edit on/off: saved in the project, undoable.
    h.get_by_label(&format!("Face {right} edit on")).click();
    h.run_ok();
    assert_eq!(h.state().project.timeline.faces_off, vec![FaceId(right)]);
    assert!(!redub::app::preview::has_bound_tracks(&h.state().project));
    press(&mut h, egui::Key::Z, Modifiers::COMMAND);
    assert!(h.state().project.timeline.faces_off.is_empty());
    h.get_by_label(&format!("Face {right} edit on"));

    // The plan for the bound face arrives in the background; the mask overlay shows it.
    step_until_secs(&mut h, "the lip plan", 300, |a| {
        !a.lip_preview.busy() && a.lip_preview.edited_faces == vec![right]
    });
    h.get_by_label("Mask").click();
    h.state_mut().queue(AppCommand::Seek(Time::from_millis(1200)));
    h.run_ok();
    step_until_secs(&mut h, "an edited frame with its mask", 120, |a| {
        a.viewer.shown.as_ref().is_some_and(|f| f.index == 30)
            && a.viewer.has_mask()
            && a.viewer.plan > 0
    });
    let shown = h.state().viewer.shown.clone().unwrap();
    let original = h.state().viewer.original.clone().unwrap();
    assert_ne!(shown.data, original.data, "the bound face's mouth is edited at 1.2 s");
    step_until_secs(&mut h, "background work", 120, |a| a.background_idle());
    // Toasts are timed: whether one still shows depends on the machine's speed.
    h.state_mut().toasts.clear();
    h.run_ok();
    // The overlay says what its tints mean.
    assert!(h.query_by_label_contains("Edited: the new mouth").is_some(), "legend: edited");
    assert!(h.query_by_label_contains("Kept: in front of the mouth").is_some(), "legend: kept");
    h.snapshot_options("viewer_mask_overlay", &SnapshotOptions::new().max_failed_pixels(6500));

    // The listening (unbound) face is never edited: pixels of the left half are untouched.
    let w = shown.width as usize;
    for y in 0..shown.height as usize {
        let a = &shown.data[y * w * 4..(y * w + w / 2) * 4];
        let b = &original.data[y * w * 4..(y * w + w / 2) * 4];
        assert_eq!(a, b, "row {y} of the listening face changed");
    }
}

fn psnr(a: &[u8], b: &[u8]) -> f64 {
    let (mut se, mut n) = (0.0f64, 0usize);
    for (pa, pb) in a.chunks_exact(4).zip(b.chunks_exact(4)) {
        for c in 0..3 {
            let d = f64::from(pa[c]) - f64::from(pb[c]);
            se += d * d;
            n += 1;
        }
    }
    let mse = se / n as f64;
    if mse == 0.0 { f64::INFINITY } else { 10.0 * (255.0f64 * 255.0 / mse).log10() }
}

/// Exports `project` with `preset` and returns the worst PSNR of its decoded frames at
/// `positions` against the viewer's `frames` (printing each).
fn export_psnr(
    project: &redub::model::Project,
    dir: &std::path::Path,
    preset: Preset,
    frames: &[std::sync::Arc<redub::media::Frame>],
    positions: &[i64],
) -> f64 {
    let out = dir.join(format!("out.{}", preset.extension()));
    let opts = RenderOptions::new(preset, out.clone(), None);
    render_project(project, dir, &opts, &Job::new(), |_| {}).unwrap();
    let mut dec = VideoDecoder::open(&out).unwrap();
    let mut worst = f64::INFINITY;
    for (f, &i) in frames.iter().zip(positions) {
        let e = dec.frame(i).unwrap();
        assert_eq!(e.index, i);
        let p = psnr(&f.data, &e.data);
        println!("{preset:?} frame {i}: PSNR viewer vs encoded export {p:.2} dB");
        worst = worst.min(p);
    }
    worst
}

#[test]
fn viewer_render_path_equals_export() {
    let test = "viewer_render_path_equals_export";
    let Some(media) = common::media_and_models(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let video = media.join("v1_retalking_face2.mp4");
    let project = dub_project(&video, &media.join("a2_sadtalker_RD_Radio31_000.wav"), Some(0));
    let job = Job::new();

    // The viewer's path: its render worker with a plan handed over as the editor does.
    let ctx = egui::Context::default();
    let fetcher = FrameFetcher::new(&video, ctx).unwrap();
    let lips = plan_project_lips(&project, dir.path(), &job).unwrap();
    assert_eq!(lips.tracks().len(), 1);
    fetcher.set_plan(NewPlan { version: 1, lips });
    // The raw export path: the export's frame loop (lip edits on three workers here), every
    // frame in order; the positions' frames kept in the viewer's display conversion.
    let positions: Vec<i64> = (0..10).map(|k| 5 + k * 12).collect();
    let mut raw = FrameRenderer::open_sequential(
        &video,
        plan_project_lips(&project, dir.path(), &job).unwrap(),
    )
    .unwrap();
    raw.set_workers(3);
    let mut exported = std::collections::HashMap::new();
    let mut next = 0;
    let n = raw.frame_count();
    raw.render_range(0, n, &job, |i, frame, _| {
        assert_eq!(i, next, "frames in order");
        next += 1;
        if positions.contains(&i) {
            exported.insert(i, redub::media::yuv::to_rgba(&frame).unwrap());
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(next, n);
    let mut viewer_frames = Vec::new();
    let mut edited = 0;
    for &i in &positions {
        fetcher.request(i, false, false);
        let start = Instant::now();
        let r = loop {
            assert!(start.elapsed() < Duration::from_secs(60), "viewer frame {i}");
            if let Some(r) = fetcher
                .poll()
                .into_iter()
                .filter_map(Result::ok)
                .find(|r| r.edited.index == i && r.plan == 1)
            {
                break r;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(r.edited.data == exported[&i], "frame {i}: viewer and raw export differ");
        edited += usize::from(r.edited.data != r.original.data);
        viewer_frames.push(r.edited);
    }
    println!(
        "preview = export: {} positions identical, {edited} of them lip-edited",
        positions.len()
    );
    assert!(edited >= 5, "most positions are inside the dub's speech: {edited}");

    // The encoded export (the mastering preset, ProRes in MOV): decoded frames within 40 dB of
    // the viewer's.
    let worst = export_psnr(&project, dir.path(), Preset::Mov, &viewer_frames, &positions);
    println!("worst PSNR over {} positions: {worst:.2} dB", positions.len());
    assert!(worst >= 40.0, "worst PSNR {worst:.2} dB");

    // The delivery preset (MP4, x264 at quantizer 21) gets the decoder's own I420 with the
    // source's colorimetry, so its frames are within 40 dB of the viewer's too.
    let worst = export_psnr(&project, dir.path(), Preset::Mp4, &viewer_frames, &positions);
    println!(
        "MP4: worst PSNR viewer vs encoded export over {} positions: {worst:.2} dB",
        positions.len()
    );
    assert!(worst >= 40.0, "MP4 worst PSNR {worst:.2} dB");
}
