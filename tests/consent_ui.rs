//! Consent per face in the editor, driven like a user, headless (egui_kittest on wgpu, Mesa
//! lavapipe): the Faces panel shows what is on record and records consent through its form; the
//! export dialog refuses lip edits of a face without consent until the user confirms; binding a
//! dub track to such a face asks first, and once the user binds anyway, not again.

mod common;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use redub::analysis::geometry::BBox;
use redub::analysis::track::{FaceTrack, TrackFrame};
use redub::app::command::{AppCommand, ExportRange};
use redub::app::export_dialog::{ExportDialog, ExportLength, export_dialog_ui};
use redub::app::faces::{ConsentForm, faces_ui};
use redub::model::consent::ConsentSummary;
use redub::model::lip::FaceId;
use redub::model::{Edit, FrameRate, Project, Time};
use std::collections::HashMap;

/// A face track of `n` detected frames.
fn face_track(id: u32, n: i64) -> FaceTrack {
    let frame = |i| TrackFrame {
        frame: i,
        bbox: BBox { x1: 100.0, y1: 80.0, x2: 200.0, y2: 200.0 },
        landmarks: [[130.0, 120.0], [170.0, 120.0], [150.0, 150.0], [135.0, 175.0], [165.0, 175.0]],
        raw_landmarks: [
            [130.0, 120.0],
            [170.0, 120.0],
            [150.0, 150.0],
            [135.0, 175.0],
            [165.0, 175.0],
        ],
        confidence: 0.99,
        filled: false,
        mouth_energy: 0.0,
        face_motion: 0.0,
    };
    FaceTrack { id, frames: (0..n).map(frame).collect(), speaking: Vec::new() }
}

struct Panel {
    project: Project,
    tracks: Vec<FaceTrack>,
    form: Option<ConsentForm>,
    out: Vec<AppCommand>,
}

#[test]
fn the_faces_panel_shows_and_records_consent() {
    let mut project = Project::new("consent", FrameRate::FPS_25);
    let t = project.add_dub_track("Spanish");
    project.timeline.dub_tracks[0].face = Some(FaceId(0));
    let state = Panel { project, tracks: vec![face_track(0, 50)], form: None, out: Vec::new() };
    let mut h = Harness::builder().with_size([520.0, 420.0]).wgpu().build_ui_state(
        |ui, s: &mut Panel| {
            let thumbs = HashMap::new();
            faces_ui(ui, &s.project, &s.tracks, &thumbs, Some(t), &mut s.form, &mut s.out);
        },
        state,
    );
    h.run();
    h.get_by_label("No consent to a lip edit recorded");
    // Record button stays off until the person and the recorder are named.
    h.get_by_label("Consent of face 0…").click();
    h.run();
    assert!(h.get_by_label("Record consent").accesskit_node().is_disabled());
    for (field, text) in [
        ("Person", "Ana Ruiz"),
        ("Recorded by", "J. Doe"),
        ("Scope", "es; web"),
        ("Reference", "release-17"),
    ] {
        h.get_by_label(field).click();
        h.run();
        h.get_by_label(field).type_text(text);
        h.run();
    }
    h.get_by_label("Record consent").click();
    h.run();
    let edit = match h.state_mut().out.pop() {
        Some(AppCommand::Edit { edit, .. }) => edit,
        other => panic!("expected a consent edit, got {other:?}"),
    };
    let Edit::SetConsent { face, consent: Some(c) } = &edit else { panic!("{edit:?}") };
    assert_eq!(*face, FaceId(0));
    assert_eq!(
        (c.person.as_str(), c.recorded_by.as_str(), c.scope.as_str(), c.reference.as_deref()),
        ("Ana Ruiz", "J. Doe", "es; web", Some("release-17"))
    );
    assert!(c.given);
    assert!(h.state().form.is_none(), "the form closes");
    // Applied (as the app does), the panel shows it.
    edit.apply(&mut h.state_mut().project).unwrap();
    h.run();
    assert!(h.query_by_label("No consent to a lip edit recorded").is_none());
    h.get_by_label_contains("Ana Ruiz: consent recorded by J. Doe");
    if let Ok(dir) = std::env::var("REDUB_SCREENSHOTS") {
        let img = h.render().expect("render");
        img.save(std::path::Path::new(&dir).join("faces-consent-panel.png")).unwrap();
    }
}

struct Dialog {
    dialog: ExportDialog,
    consent: ConsentSummary,
    out: Vec<AppCommand>,
}

#[test]
fn the_export_dialog_refuses_unconsented_lip_edits_until_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.mp4");
    let mut dialog = ExportDialog { open: true, ..Default::default() };
    dialog.output = output.display().to_string();
    let consent = ConsentSummary { faces: vec![(FaceId(2), None)], allowed_without: false };
    let length = ExportLength {
        picture_end: Time::from_millis(4000),
        sequence_end: Time::from_millis(4000),
        rate: FrameRate::FPS_25,
    };
    let state = Dialog { dialog, consent, out: Vec::new() };
    let mut h = Harness::builder().with_size([640.0, 420.0]).wgpu().build_ui_state(
        move |ui, s: &mut Dialog| {
            let ctx = ui.ctx().clone();
            export_dialog_ui(&ctx, &mut s.dialog, None, length, &s.consent, &mut s.out);
        },
        state,
    );
    h.run();
    h.get_by_label_contains("edits the lips of face 2 without recorded consent");
    let export = h.get_by_role_and_label(Role::Button, "Export");
    assert!(export.accesskit_node().is_disabled(), "refused until confirmed");
    export.click();
    h.run();
    assert!(h.state().out.is_empty(), "nothing starts: {:?}", h.state().out);
    h.get_by_label_contains("Export anyway").click();
    h.run();
    assert!(!h.get_by_role_and_label(Role::Button, "Export").accesskit_node().is_disabled());
    h.get_by_role_and_label(Role::Button, "Export").click();
    h.run();
    assert_eq!(
        h.state().out,
        vec![AppCommand::StartExport {
            preset: redub::model::Preset::Mp4,
            range: ExportRange::Whole,
            output,
            past_picture: redub::model::PastPicture::Hold,
            allow_unconsented: true,
            disclosure: None,
        }]
    );
}

#[test]
fn binding_a_face_without_consent_asks_until_the_user_binds_anyway() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Project::new("ask", FrameRate::FPS_25);
    let track = p.add_dub_track("Spanish");
    let file = dir.path().join("ask.redub");
    p.save(&file).unwrap();
    let mut h = common::harness(&dir.path().join("appdata"), Some(file));
    h.run_ok();
    let bind = AppCommand::Edit {
        edit: Edit::SetTrackFace { track, face: Some(FaceId(0)) },
        label: "Bind".into(),
    };
    let face =
        |h: &Harness<'_, redub::app::RedubApp>| h.state().project.timeline.dub_tracks[0].face;
    h.state_mut().queue(bind.clone());
    h.run_ok();
    assert!(h.state().consent_prompt.is_some(), "asks before binding");
    assert_eq!(face(&h), None);
    h.get_by_label("Don't bind").click();
    h.run_ok();
    assert!(h.state().consent_prompt.is_none());
    assert_eq!(face(&h), None, "not bound");
    // Asked again (the user did not bind), then bound anyway.
    h.state_mut().queue(bind.clone());
    h.run_ok();
    h.get_by_label("Bind anyway").click();
    h.run_ok();
    assert_eq!(face(&h), Some(FaceId(0)));
    // Unbound and bound again: not asked a second time.
    h.state_mut().queue(AppCommand::Edit {
        edit: Edit::SetTrackFace { track, face: None },
        label: "Unbind".into(),
    });
    h.state_mut().queue(bind);
    h.run_ok();
    assert!(h.state().consent_prompt.is_none());
    assert_eq!(face(&h), Some(FaceId(0)));
    // With consent on record, a face never asks.
    let c = redub::model::consent::FaceConsent {
        face: FaceId(5),
        person: "Ana".into(),
        given: true,
        recorded_by: "J".into(),
        recorded_at: "2026-12-08 03:00:00 UTC".into(),
        scope: String::new(),
        reference: None,
    };
    h.state_mut().queue(AppCommand::Edit {
        edit: Edit::SetConsent { face: FaceId(5), consent: Some(c) },
        label: "Record consent".into(),
    });
    h.state_mut().queue(AppCommand::Edit {
        edit: Edit::SetTrackFace { track, face: Some(FaceId(5)) },
        label: "Bind".into(),
    });
    h.run_ok();
    assert!(h.state().consent_prompt.is_none());
    assert_eq!(face(&h), Some(FaceId(5)));
}
