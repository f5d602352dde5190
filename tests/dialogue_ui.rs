//! The editor's dialogue tools driven like a user, headless (egui_kittest on wgpu, as in
//! tests/editor_ui.rs): widgets found by role and label, the accessibility check on.
//! Auto-align and its undo, the timing budget, reset warp; the M&E track; marker rename; the
//! loudness meter fed by the playback mixer's tap and by an export; the shuttle notice.
//! Speech comes from espeak-ng (the tests SKIP with a printed reason without it).

mod common;
use common::{drag, harness, step_until};

use egui::accesskit::Role;
use egui_kittest::kittest::Queryable;
use redub::app::RedubApp;
use redub::app::command::{AppCommand, ExportRange};
use redub::app::playback::MixFeed;
use redub::app::timeline::Lane;
use redub::dsp::loudness::measure;
use redub::media::decode_audio;
use redub::media::testsrc::write_wav;
use redub::model::{AlignMode, FrameRate, MediaKind, Preset, Project, Time};
use redub::render::sources::load_sources;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

const SENTENCE: &str = "The quick brown fox jumps over the lazy dog near the river bank.";

/// Speaks `text` at `rate` words per minute into a WAV; `None` (and a printed SKIP) without
/// espeak-ng.
fn espeak(dir: &Path, name: &str, text: &str, rate: u32) -> Option<PathBuf> {
    let out = dir.join(name);
    let ok = Command::new("espeak-ng")
        .args(["-v", "en", "-s", &rate.to_string(), "-w"])
        .arg(&out)
        .arg(text)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("SKIP: espeak-ng is not available to make test speech");
        return None;
    }
    Some(out)
}

fn duration_of(path: &Path) -> Time {
    let a = decode_audio(path, None).unwrap();
    Time::from_samples(a.frames() as i64, a.rate)
}

/// The original line at 160 wpm from 0 s, and the same words slower (125 wpm) as a dub clip at
/// 0.3 s on track "Dub".
fn speech_project(dir: &Path) -> Option<PathBuf> {
    let orig = espeak(dir, "orig.wav", SENTENCE, 160)?;
    let dub = espeak(dir, "dub.wav", SENTENCE, 125)?;
    let mut p = Project::new("dialogue", FrameRate::FPS_25);
    let o_len = duration_of(&orig);
    let o = p.add_media(&orig, MediaKind::Audio, o_len).unwrap();
    p.timeline.original_audio.media = Some(o);
    let d = p.add_media(&dub, MediaKind::Audio, duration_of(&dub)).unwrap();
    p.timeline.duration = o_len + Time::from_millis(3000);
    let t = p.add_dub_track("Dub");
    p.add_clip(t, d, Time::from_millis(300)).unwrap();
    let file = dir.join("dialogue.redub");
    p.save(&file).unwrap();
    Some(file)
}

fn the_clip(app: &RedubApp) -> redub::model::Clip {
    app.project.timeline.dub_tracks[0].clips[0].clone()
}

#[test]
fn auto_align_sets_the_warp_as_one_undoable_edit() {
    let dir = tempfile::tempdir().unwrap();
    let Some(file) = speech_project(dir.path()) else { return };
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    step_until(&mut h, "audio loading", RedubApp::background_idle);
    // Select the clip with a click, as a user would.
    h.get_by_role_and_label(Role::Button, "Clip dub").click();
    h.run_ok();
    assert_eq!(h.state().selection.len(), 1);
    assert!(h.query_by_label("Timing budget").is_some(), "the inspector shows the budget");
    assert!(h.query_by_label("Warp: none").is_some());
    let before = h.state().project.clone();
    let unwarped = the_clip(h.state());

    h.get_by_label("Auto-align (ADR)").click();
    h.run_ok();
    let c = the_clip(h.state());
    let w = c.warp.clone().unwrap_or_else(|| panic!("no warp; log {:?}", h.state().log));
    w.validate().unwrap();
    assert_eq!(w.mode, AlignMode::Adr);
    assert_eq!(w.source_len(), c.source_out - c.source_in);
    // 125 → 160 wpm: the line must get shorter, and the time map must be more than one factor.
    assert!(w.factor < 0.95, "ADR factor {}", w.factor);
    assert!(w.points.len() > 2, "{} points", w.points.len());
    assert!(c.duration() < unwarped.duration());
    assert_eq!(h.state().history.undo_label(), Some("Auto-align (adr)"));
    let shown = format!("Warp: adr ({} points, {:.3}×)", w.points.len(), w.factor);
    assert!(h.query_by_label(&shown).is_some(), "the inspector shows {shown:?}");
    println!(
        "ADR: {} points, factor {:.3}, dub {:.0} ms → {:.0} ms, position {:.0} → {:.0} ms",
        w.points.len(),
        w.factor,
        unwarped.duration().as_seconds_f64() * 1000.0,
        c.duration().as_seconds_f64() * 1000.0,
        unwarped.position.as_seconds_f64() * 1000.0,
        c.position.as_seconds_f64() * 1000.0
    );

    // One undo restores the clip exactly; redo brings the warp back.
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_ok();
    assert_eq!(h.state().project, before);
    assert!(h.query_by_label("Warp: none").is_some());
    h.key_press_modifiers(egui::Modifiers::COMMAND | egui::Modifiers::SHIFT, egui::Key::Z);
    h.run_ok();
    assert_eq!(the_clip(h.state()).warp, Some(w));

    // Tighter: the slider moved with a key re-aligns with the new tightness, as one step.
    let loose = the_clip(h.state()).warp.unwrap();
    let undo_len = h.state().history.undo_len();
    h.get_by_role_and_label(Role::Slider, "Tighter / looser").focus();
    h.run_ok();
    for _ in 0..5 {
        h.key_press(egui::Key::ArrowRight);
    }
    h.run_ok();
    let tight = the_clip(h.state()).warp.unwrap();
    assert!(tight.tightness > loose.tightness, "{} → {}", loose.tightness, tight.tightness);
    assert_ne!(tight.points, loose.points);
    println!(
        "tighter: tightness {:.2} → {:.2}, points {} → {}, {} undo steps added",
        loose.tightness,
        tight.tightness,
        loose.points.len(),
        tight.points.len(),
        h.state().history.undo_len() - undo_len
    );
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_ok();

    // Isochrony: one factor within the default range, placed on the original speech.
    h.get_by_label("Auto-align (isochrony)").click();
    h.run_ok();
    let c = the_clip(h.state());
    let w = c.warp.clone().unwrap();
    assert_eq!((w.mode, w.points.len()), (AlignMode::Isochrony, 2));
    assert!((0.85..=1.20).contains(&w.factor), "factor {}", w.factor);
    assert!(h.query_by_label("Over / under").is_some());
    assert!(h.query_by_label(&format!("{:.3}×", w.factor)).is_some(), "stretch shown");
    println!("Isochrony: factor {:.3}, last log {:?}", w.factor, h.state().log.last());
    // The line that cannot fit is framed red on the timeline with its overflow (snapshot).
    // Toasts are timed: cleared, so the snapshot does not depend on how fast this ran.
    h.state_mut().toasts.clear();
    h.run_ok();
    h.snapshot_options(
        "isochrony_overflow",
        &egui_kittest::SnapshotOptions::new().max_failed_pixels(6500),
    );

    // Reset warp is one more step; undo brings the isochrony warp back.
    h.get_by_label("Reset warp").click();
    h.run_ok();
    assert!(the_clip(h.state()).warp.is_none());
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_ok();
    assert_eq!(the_clip(h.state()).warp, Some(w));

    // Split the warped clip at the playhead: both halves keep their part of the warp.
    let end = c.end();
    let mid = Time::from_ticks((c.position.ticks() + end.ticks()) / 2);
    h.state_mut().queue(AppCommand::Seek(mid));
    h.state_mut().queue(AppCommand::Split);
    h.run_ok();
    let clips = h.state().project.timeline.dub_tracks[0].clips.clone();
    assert_eq!(clips.len(), 2);
    assert_eq!(clips[1].end(), end, "the split moves nothing");
    assert!(clips.iter().all(|c| c.warp.as_ref().is_some_and(|w| w.validate().is_ok())));

    // Trim the end of the second (warped) half inward: the map is cut where it plays the source.
    let edge = h
        .get_all_by_role_and_label(egui::accesskit::Role::Button, "Trim end of dub")
        .last()
        .unwrap()
        .rect();
    let from = edge.center();
    drag(&mut h, from, from - egui::vec2(40.0, 0.0));
    let trimmed = h.state().project.timeline.dub_tracks[0].clips[1].clone();
    let w = trimmed.warp.clone().unwrap();
    assert!(trimmed.end() < end, "the end moved in: {:?} vs {:?}", trimmed.end(), end);
    assert!(w.validate().is_ok());
    assert_eq!(w.source_len(), trimmed.source_out - trimmed.source_in, "map covers the source");
    println!("trimmed warped clip: end {:?} -> {:?}", end, trimmed.end());
}

#[test]
fn me_track_is_added_muted_saved_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let me = dir.path().join("music.wav");
    let tone: Vec<f32> = (0..96_000)
        .flat_map(|i| {
            let v = 0.2 * (i as f32 * 0.03).sin();
            [v, v]
        })
        .collect();
    write_wav(&me, &tone).unwrap();
    let mut p = Project::new("me", FrameRate::FPS_25);
    p.add_media(&me, MediaKind::Audio, Time::from_millis(2000)).unwrap();
    p.timeline.duration = Time::from_millis(2000);
    let file = dir.path().join("me.redub");
    p.save(&file).unwrap();
    let mut h = harness(&dir.path().join("appdata"), Some(file.clone()));
    h.run_ok();
    assert!(!h.state().timeline.lanes.iter().any(|(l, _)| *l == Lane::Me));

    // Edit ▸ M&E track ▸ M&E: music.wav
    h.get_by_label("Edit").click();
    h.run_ok();
    h.get_by_label("M&E track").hover();
    h.run_ok();
    h.get_by_label("M&E: music.wav").click();
    h.run_ok();
    let id = h.state().project.media[0].id;
    assert_eq!(h.state().project.timeline.me_track, Some(id));
    assert!(h.state().timeline.lanes.iter().any(|(l, _)| *l == Lane::Me), "an M&E lane");
    step_until(&mut h, "audio loading", RedubApp::background_idle);

    // The M&E header's own toggle, found by its hover text's owner: the one in the M&E lane.
    let lane =
        h.state().timeline.lanes.iter().find(|(l, _)| *l == Lane::Me).map(|(_, r)| *r).unwrap();
    let toggle = h
        .query_all_by_label("M")
        .find(|n| lane.contains(n.rect().center()))
        .expect("mute toggle in the M&E header");
    toggle.click();
    h.run_ok();
    assert!(h.state().project.timeline.me_mute, "muted");

    h.state_mut().queue(AppCommand::Save);
    h.run_ok();
    let saved = h.state().project.clone();
    drop(h);
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    h.run_ok();
    assert_eq!(h.state().project, saved, "M&E and its mute are saved");
    assert!(h.state().project.timeline.me_mute);

    let lane = h.state().timeline.lanes.iter().find(|(l, _)| *l == Lane::Me).map(|(_, r)| *r);
    let lane = lane.expect("M&E lane after reopening");
    h.query_all_by_label("x")
        .find(|n| lane.contains(n.rect().center()))
        .expect("remove button in the M&E header")
        .click();
    h.run_ok();
    assert_eq!(h.state().project.timeline.me_track, None);
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_ok();
    assert_eq!(h.state().project.timeline.me_track, Some(id), "undo brings it back");
}

#[test]
fn markers_are_renamed_in_the_inspector() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(&dir.path().join("appdata"), None);
    h.run_ok();
    assert!(h.query_by_label("No markers (M adds one at the playhead).").is_some());
    h.key_press(egui::Key::M);
    h.run_ok();
    assert_eq!(h.state().project.timeline.markers[0].name, "Marker 1");
    let field = h.get_by_label("Marker name at 00:00:00:00");
    field.click();
    h.run_ok();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.run_ok();
    h.get_by_label("Marker name at 00:00:00:00").type_text("Door slam");
    h.run_ok();
    h.key_press(egui::Key::Enter);
    h.run_ok();
    assert_eq!(h.state().project.timeline.markers[0].name, "Door slam");
    assert_eq!(h.state().history.undo_label(), Some("Rename marker"));
    // The name field takes the panel's width: a name is not cut to a few letters.
    let field = h.get_by_label("Marker name at 00:00:00:00");
    let (width, field_right) = (field.rect().width(), field.rect().right());
    if let Some(d) = std::env::var_os("REDUB_SHOTS")
        && let Ok(img) = h.render()
    {
        let _ = img.save(std::path::Path::new(&d).join("marker_name.png"));
    }
    // ... and stops before the remove button, which stays on screen.
    let remove = h.get_by_label("x").rect();
    assert!(width > 100.0, "the name field is {width} px wide");
    assert!(field_right <= remove.left(), "the field runs under the remove button");
    assert!(remove.right() <= 1440.0, "the remove button is on screen");

    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    h.run_ok();
    assert_eq!(h.state().project.timeline.markers[0].name, "Marker 1");
}

#[test]
fn loudness_meter_reads_playback_and_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let Some(file) = speech_project(dir.path()) else { return };
    let mut h = harness(&dir.path().join("appdata"), Some(file.clone()));
    h.run_ok();
    h.get_by_label("View").click();
    h.run_ok();
    h.get_by_label("Loudness meter").click();
    h.run_ok();
    assert!(h.state().loudness.open);
    assert!(h.query_by_label("Loudness (EBU R128)").is_some());

    // Play the project through a fake output device (no sound card in tests) that pulls the
    // playback mixer with the panel's tap, as the real output does.
    let project = Project::load(&file).unwrap();
    let sources = Arc::new(load_sources(&project, dir.path(), false).unwrap());
    let (_feed, mut pull) = MixFeed::start(project.clone(), sources, 0).unwrap();
    pull.set_tap(h.state().loudness.tap());
    // Let the mixer fill its queue, as a device would after opening, then pull 10 ms buffers.
    std::thread::sleep(Duration::from_millis(300));
    let mut heard = Vec::new();
    let mut buf = vec![0.0f32; 480 * 2];
    while heard.len() < 48_000 * 2 * 4 {
        pull.pull(&mut buf, 2);
        heard.extend_from_slice(&buf);
        std::thread::sleep(Duration::from_millis(1));
    }
    step_until(&mut h, "the meter", |a| a.loudness.live.is_some_and(|l| l.seconds >= 3.9));
    let live = h.state().loudness.live.unwrap();
    let want = measure(&heard[..(live.seconds * 48_000.0) as usize * 2], 2, 48_000).unwrap();
    println!("meter: {live:?}; measured directly: {:.2} LUFS", want.integrated_lufs);
    assert!((live.integrated - want.integrated_lufs).abs() < 0.1, "{live:?} vs {want:?}");
    let shown = format!("{:6.1} LUFS", live.integrated);
    assert!(h.query_all_by_label(&shown).next().is_some(), "integrated {shown:?} shown");
    h.get_by_label("Reset meter").click();
    h.run_ok();
    assert!(h.state().loudness.live.is_none());

    // Export a WAV: the panel measures the written file.
    let out = dir.path().join("mix.wav");
    h.state_mut().queue(AppCommand::StartExport {
        preset: Preset::WavStems,
        range: ExportRange::Whole,
        output: out.clone(),
        past_picture: redub::model::PastPicture::Hold,
        allow_unconsented: false,
        disclosure: None,
    });
    step_until(&mut h, "export and its measurement", |a| {
        !a.exporting() && !a.loudness.measuring() && a.loudness.export.is_some()
    });
    let (file, r) = h.state().loudness.export.clone().unwrap().unwrap();
    assert_eq!(file, out);
    let direct = decode_audio(&out, None).unwrap();
    let direct = measure(&direct.samples, usize::from(direct.channels), direct.rate).unwrap();
    assert!((r.integrated_lufs - direct.integrated_lufs).abs() < 1e-9);
    assert!(h.query_by_label("Export integrated").is_some());
    println!("export measured: {r:?}");
}

#[test]
fn reverse_shuttle_says_it_is_silent() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Project::new("shuttle", FrameRate::FPS_25);
    p.timeline.duration = Time::from_millis(5000);
    let file = dir.path().join("s.redub");
    p.save(&file).unwrap();
    let mut h = harness(&dir.path().join("appdata"), Some(file));
    h.run_ok();
    h.state_mut().queue(AppCommand::Seek(Time::from_millis(4000)));
    h.run_ok();
    h.key_press(egui::Key::J);
    h.key_press(egui::Key::J);
    h.run_ok();
    assert!(h.state().is_playing());
    let notice = h.state().audio_notice.clone().unwrap_or_default();
    assert!(notice.contains("reverse plays silent"), "{notice}");
    assert!(h.query_by_label(&notice).is_some(), "shown in the status bar");
    h.key_press(egui::Key::K);
    h.run_ok();
}
