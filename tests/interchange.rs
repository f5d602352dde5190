//! Timeline interchange (OTIO JSON, FCP7 XML, CMX 3600 EDL): round trips through each format at
//! every broadcast rate with a non-zero start timecode, relinking, the one warning line of an
//! import, and (where the pinned OpenTimelineIO is installed by `packaging/setup.sh deps`; a
//! failure under CI=true) our files read by OpenTimelineIO and a cut written by it imported; and
//! the project bundle (`mod bundle`, in this binary to keep CI's link count down).

mod common;

use redub::media::{self, testsrc};
use redub::model::interchange::{Cut, Imported, edl, fcp7, otio};
use redub::model::lip::FaceId;
use redub::model::{
    Clip, FrameRate, Marker, MediaKind, Project, StartTimecode, Time, Timecode, TrackId,
};
use std::path::{Path, PathBuf};
use std::process::Command;

/// (rate, drop-frame, label).
const RATES: [(FrameRate, bool, &str); 8] = [
    (FrameRate::FPS_23_976, false, "23.976"),
    (FrameRate::FPS_24, false, "24"),
    (FrameRate::FPS_25, false, "25"),
    (FrameRate::FPS_29_97, true, "29.97 DF"),
    (FrameRate::FPS_29_97, false, "29.97 NDF"),
    (FrameRate::FPS_30, false, "30"),
    (FrameRate::FPS_50, false, "50"),
    (FrameRate::FPS_59_94, true, "59.94 DF"),
];

/// A stereo 48 kHz sine of `secs` seconds.
fn tone(path: &Path, secs: f32, hz: f32) {
    let n = (secs * 48_000.0) as usize;
    let samples: Vec<f32> = (0..n)
        .flat_map(|i| {
            let v = 0.1 * (i as f32 * hz * std::f32::consts::TAU / 48_000.0).sin();
            [v, v]
        })
        .collect();
    testsrc::write_wav(path, &samples).unwrap();
}

fn probe_duration(path: &Path) -> Time {
    media::probe(path).unwrap().duration
}

/// A project at `rate`: the shot (videotestsrc) with its audio, two dub tracks (the first bound
/// to face 0 with its own lip settings, holding two trimmed clips with gains and fades; the
/// second one clip), three markers, and the start timecode 01:00:00:00 (;00 drop-frame).
fn sample_project(dir: &Path, rate: FrameRate, drop_frame: bool) -> Project {
    let shot = dir.join("shot.mp4");
    testsrc::write_bars_clip(&shot, 120, 128, 96, rate, 440.0).unwrap();
    let (line1, line2) = (dir.join("line one.wav"), dir.join("line2.wav"));
    tone(&line1, 1.5, 300.0);
    tone(&line2, 1.0, 500.0);
    let mut p = Project::new("Interchange test", rate);
    let v = p.add_media(&shot, MediaKind::Video, probe_duration(&shot)).unwrap();
    p.timeline.video.media = Some(v);
    p.timeline.original_audio.media = Some(v);
    p.timeline.original_audio.gain_db = -4.0;
    p.timeline.duration = rate.frame_to_time(120);
    let start = Timecode { hours: 1, minutes: 0, seconds: 0, frames: 0, drop_frame };
    p.timeline.start_timecode =
        Some(StartTimecode { frame: start.to_frame(rate).unwrap(), drop_frame });
    let a1 = p.add_media(&line1, MediaKind::Audio, probe_duration(&line1)).unwrap();
    let a2 = p.add_media(&line2, MediaKind::Audio, probe_duration(&line2)).unwrap();
    let f = |n: i64| rate.frame_to_time(n);
    let t1 = p.add_dub_track("Anna");
    let t2 = p.add_dub_track("Ben");
    let mut clip = |track: TrackId, media, at: i64, src: (i64, i64), gain: f32, name: &str| {
        let id = p.next_clip_id();
        let mut c = Clip::whole(id, name.into(), media, f(src.1), f(at));
        c.source_in = f(src.0);
        c.gain_db = gain;
        c.fade_in = Time::from_millis(20);
        c.fade_out = Time::from_millis(35);
        let t = p.timeline.dub_tracks.iter_mut().find(|t| t.id == track).unwrap();
        t.clips.push(c);
        t.clips.sort_by_key(|c| c.position);
    };
    clip(t1, a1, 12, (0, 30), -3.5, "Anna line 1");
    clip(t1, a1, 70, (5, 25), 2.0, "Anna line 2");
    clip(t2, a2, 30, (3, 20), -6.0, "Ben line 1");
    let tr = &mut p.timeline.dub_tracks[0];
    tr.face = Some(FaceId(0));
    tr.auto_bind = false;
    tr.lip.intensity = 0.75;
    tr.lip.feather = 9.0;
    tr.gain_db = -1.5;
    for (at, name) in [(0, "head"), (47, "line <one> & \"two\""), (101, "tail")] {
        p.timeline.markers.push(Marker { time: f(at), name: name.into() });
    }
    p
}

fn import(cut: Cut, dir: &Path) -> Imported {
    cut.into_project(dir).unwrap()
}

/// What every format must carry: rate, start timecode, the shot and original audio, each dub
/// clip's name, position, source range and gain, and the markers.
fn assert_same_cut(a: &Project, b: &Project, what: &str) {
    let tl = (&a.timeline, &b.timeline);
    assert_eq!(tl.0.frame_rate, tl.1.frame_rate, "{what}: rate");
    assert_eq!(tl.0.start_timecode, tl.1.start_timecode, "{what}: start timecode");
    assert_eq!(tl.0.markers, tl.1.markers, "{what}: markers");
    let path = |p: &Project, id| p.media(id).unwrap().absolute_path.clone();
    assert_eq!(path(a, tl.0.video.media.unwrap()), path(b, tl.1.video.media.unwrap()), "{what}");
    assert_eq!(
        path(a, tl.0.original_audio.media.unwrap()),
        path(b, tl.1.original_audio.media.unwrap()),
        "{what}: original audio"
    );
    assert!((tl.0.original_audio.gain_db - tl.1.original_audio.gain_db).abs() < 1e-3, "{what}");
    assert_eq!(tl.0.dub_tracks.len(), tl.1.dub_tracks.len(), "{what}: dub tracks");
    for (x, y) in tl.0.dub_tracks.iter().zip(&tl.1.dub_tracks) {
        assert_eq!(x.clips.len(), y.clips.len(), "{what}: clips of {}", x.name);
        for (c, d) in x.clips.iter().zip(&y.clips) {
            assert_eq!(c.name, d.name, "{what}");
            assert_eq!(c.position, d.position, "{what}: position of {}", c.name);
            assert_eq!(c.source_in, d.source_in, "{what}: source in of {}", c.name);
            assert_eq!(c.source_out, d.source_out, "{what}: source out of {}", c.name);
            assert!((c.gain_db - d.gain_db).abs() < 1e-3, "{what}: gain of {}", c.name);
            assert_eq!(path(a, c.media), path(b, d.media), "{what}: media of {}", c.name);
        }
    }
}

#[test]
fn otio_and_fcp7_round_trips_keep_clips_positions_gains_and_markers_at_every_rate() {
    for (rate, df, label) in RATES {
        let dir = tempfile::tempdir().unwrap();
        let p = sample_project(dir.path(), rate, df);
        let cut = Cut::from_project(&p, dir.path());

        let text = otio::write(&cut);
        let back = import(otio::read(&text).unwrap(), dir.path());
        assert!(back.warnings.is_empty(), "{label}: {:?}", back.warnings);
        assert_same_cut(&p, &back.project, &format!("OTIO {label}"));
        // OTIO carries Redub's own data too: the whole tracks (face, lip settings, fades).
        let mut renumbered = p.timeline.dub_tracks.clone();
        for (t, u) in renumbered.iter_mut().zip(&back.project.timeline.dub_tracks) {
            for (c, d) in t.clips.iter_mut().zip(&u.clips) {
                c.id = d.id;
                c.media = d.media;
            }
        }
        assert_eq!(renumbered, back.project.timeline.dub_tracks, "OTIO {label}: dub tracks");
        assert_eq!(back.project.timeline.duration, p.timeline.duration, "{label}");

        let xml = fcp7::write(&cut).unwrap();
        let back = import(fcp7::read(&xml).unwrap(), dir.path());
        assert!(back.warnings.is_empty(), "{label}: {:?}", back.warnings);
        assert_same_cut(&p, &back.project, &format!("FCP7 {label}"));
        let names: Vec<&str> =
            back.project.timeline.dub_tracks.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["Anna", "Ben"], "FCP7 {label}");
        println!("{label}: OTIO and FCP7 XML round trips exact");
    }
}

#[test]
fn fcp7_xml_states_rate_timecode_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = sample_project(dir.path(), FrameRate::FPS_29_97, true);
    let xml = fcp7::write(&Cut::from_project(&p, dir.path())).unwrap();
    for needle in [
        "<xmeml version=\"5\">",
        "<timebase>30</timebase>",
        "<ntsc>TRUE</ntsc>",
        "<string>01:00:00;00</string>",
        "<displayformat>DF</displayformat>",
        "<pathurl>file://",
        "line%20one.wav</pathurl>",
        "<name>line &lt;one&gt; &amp; ",
        "<effectid>audiolevels</effectid>",
    ] {
        assert!(xml.contains(needle), "{needle} missing in\n{xml}");
    }
}

#[test]
fn edl_per_track_has_drop_frame_timecode_and_clip_names_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let rate = FrameRate::FPS_29_97;
    let p = sample_project(dir.path(), rate, true);
    let cut = Cut::from_project(&p, dir.path());
    assert_eq!(edl::track_labels(&cut), ["V1", "A1", "A2", "A3"]);
    let text = edl::write(&cut, 2).unwrap();
    println!("{text}");
    assert!(text.contains("FCM: DROP FRAME"), "{text}");
    // Anna line 1: frame 12 after 01:00:00;00, 30 frames long.
    assert!(
        text.contains(
            "001  AX       A     C        00:00:00;00 00:00:01;00 01:00:00;12 01:00:01;12"
        ),
        "{text}"
    );
    assert!(text.contains("* FROM CLIP NAME: Anna line 1"), "{text}");
    assert!(text.contains("* FROM FILE: "), "{text}");
    let back = edl::read(&text, rate, "x").unwrap();
    assert_eq!(back.start_frame, cut.start_frame);
    assert_eq!(back.drop_frame, Some(true));
    let (a, b) = (&cut.tracks[2].clips, &back.tracks[0].clips);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(b) {
        assert_eq!(
            (&x.name, x.position, x.source_in, x.duration),
            (&y.name, y.position, y.source_in, y.duration)
        );
    }
    // Non-drop 29.97 says so and uses ':'.
    let ndf = sample_project(dir.path(), rate, false);
    let text = edl::write(&Cut::from_project(&ndf, dir.path()), 2).unwrap();
    assert!(text.contains("FCM: NON-DROP FRAME") && text.contains("01:00:00:12"), "{text}");
}

#[test]
fn overlapping_clips_travel_as_lanes_and_come_back_on_one_track() {
    let dir = tempfile::tempdir().unwrap();
    let rate = FrameRate::FPS_25;
    let mut p = sample_project(dir.path(), rate, false);
    let mut extra = p.timeline.dub_tracks[1].clips[0].clone();
    extra.id = p.next_clip_id();
    extra.name = "Ben overlap".into();
    extra.position = rate.frame_to_time(35);
    p.timeline.dub_tracks[1].clips.push(extra);
    let cut = Cut::from_project(&p, dir.path());
    let names: Vec<&str> = cut.tracks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Picture", "Original audio", "Anna", "Ben", "Ben (overlap 1)"]);
    let back = import(otio::read(&otio::write(&cut)).unwrap(), dir.path()).project;
    assert_eq!(back.timeline.dub_tracks.len(), 2);
    let clips: Vec<&str> =
        back.timeline.dub_tracks[1].clips.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(clips, ["Ben line 1", "Ben overlap"]);
}

#[test]
fn import_relinks_media_by_name_then_by_content_hash() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    std::fs::create_dir_all(&a).unwrap();
    let p = sample_project(&a, FrameRate::FPS_24, false);
    let text = otio::write(&Cut::from_project(&p, &a));
    // The cut and its media move to another machine's folder; one file is renamed there.
    let b = dir.path().join("b");
    std::fs::rename(&a, &b).unwrap();
    std::fs::rename(b.join("line2.wav"), b.join("renamed.wav")).unwrap();
    let back = import(otio::read(&text).unwrap(), &b);
    assert!(back.warnings.is_empty(), "{:?}", back.warnings);
    let paths: Vec<PathBuf> = back.project.media.iter().map(|m| m.absolute_path.clone()).collect();
    assert!(paths.contains(&b.join("shot.mp4")), "{paths:?}");
    assert!(paths.contains(&b.join("line one.wav")), "{paths:?}");
    assert!(paths.contains(&b.join("renamed.wav")), "{paths:?}");
    // A file that is nowhere is named in the warnings and kept at the path the cut gave.
    std::fs::remove_file(b.join("renamed.wav")).unwrap();
    let back = import(otio::read(&text).unwrap(), &b);
    assert_eq!(back.warnings.len(), 1, "{:?}", back.warnings);
    assert!(back.warnings[0].contains("line2.wav"), "{:?}", back.warnings);
}

/// An OTIO file with what a project cannot hold: a second picture track, a transition, an effect.
const FOREIGN_OTIO: &str = r#"{
  "OTIO_SCHEMA": "Timeline.1", "name": "foreign", "metadata": {},
  "global_start_time": {"OTIO_SCHEMA": "RationalTime.1", "rate": 25.0, "value": 90000.0},
  "tracks": {"OTIO_SCHEMA": "Stack.1", "name": "tracks", "children": [
    {"OTIO_SCHEMA": "Track.1", "name": "V1", "kind": "Video", "children": [
      {"OTIO_SCHEMA": "Clip.2", "name": "shot", "source_range": {"OTIO_SCHEMA": "TimeRange.1",
        "start_time": {"OTIO_SCHEMA": "RationalTime.1", "rate": 25.0, "value": 0.0},
        "duration": {"OTIO_SCHEMA": "RationalTime.1", "rate": 25.0, "value": 100.0}},
       "media_references": {"DEFAULT_MEDIA": {"OTIO_SCHEMA": "ExternalReference.1",
         "target_url": "shot.mp4", "available_range": null}},
       "active_media_reference_key": "DEFAULT_MEDIA",
       "effects": [{"OTIO_SCHEMA": "Effect.1", "effect_name": "Blur", "name": "", "metadata": {}}]},
      {"OTIO_SCHEMA": "Transition.1", "name": "dissolve", "transition_type": "SMPTE_Dissolve"}]},
    {"OTIO_SCHEMA": "Track.1", "name": "V2", "kind": "Video", "children": [
      {"OTIO_SCHEMA": "Clip.2", "name": "title", "source_range": {"OTIO_SCHEMA": "TimeRange.1",
        "start_time": {"OTIO_SCHEMA": "RationalTime.1", "rate": 25.0, "value": 0.0},
        "duration": {"OTIO_SCHEMA": "RationalTime.1", "rate": 25.0, "value": 10.0}},
       "media_references": {"DEFAULT_MEDIA": {"OTIO_SCHEMA": "ExternalReference.1",
         "target_url": "title.png", "available_range": null}},
       "active_media_reference_key": "DEFAULT_MEDIA"}]}]}
}"#;

#[test]
fn cli_import_lists_what_it_left_out_in_one_warning_line() {
    let dir = tempfile::tempdir().unwrap();
    testsrc::write_bars_clip(&dir.path().join("shot.mp4"), 25, 64, 48, FrameRate::FPS_25, 440.0)
        .unwrap();
    let input = dir.path().join("foreign.otio");
    std::fs::write(&input, FOREIGN_OTIO).unwrap();
    let out = dir.path().join("p.redub");
    let o = common::redub(&["timeline", "import", s(&input), "-o", s(&out)]);
    let err = common::stderr(&o);
    assert!(o.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    for needle in ["Blur", "dissolve", "picture clip", "title.png"] {
        assert!(lines[0].contains(needle), "{needle} not in {err}");
    }
    let p = Project::load(&out).unwrap();
    assert_eq!(p.timeline.frame_rate, FrameRate::FPS_25);
    assert_eq!(p.timeline.start_timecode, Some(StartTimecode { frame: 90_000, drop_frame: false }));
    assert_eq!(p.media(p.timeline.video.media.unwrap()).unwrap().path, dir.path().join("shot.mp4"));
    // An existing project is not overwritten without --force.
    let o = common::redub(&["timeline", "import", s(&input), "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn cli_exports_each_format_and_imports_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let p = sample_project(dir.path(), FrameRate::FPS_23_976, false);
    let proj = dir.path().join("p.redub");
    p.save(&proj).unwrap();
    for ext in ["otio", "xml"] {
        let out = dir.path().join(format!("cut.{ext}"));
        let o = common::redub(&["timeline", "export", s(&proj), "-o", s(&out)]);
        assert!(o.status.success(), "{}", common::stderr(&o));
        let back = dir.path().join(format!("back-{ext}.redub"));
        let o = common::redub(&["timeline", "import", s(&out), "-o", s(&back)]);
        assert!(o.status.success(), "{}", common::stderr(&o));
        assert!(common::stderr(&o).is_empty(), "{}", common::stderr(&o));
        assert_same_cut(&p, &Project::load(&back).unwrap(), ext);
    }
    let o = common::redub(&["timeline", "export", s(&proj), "-o", s(&dir.path().join("cut.edl"))]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    for label in ["V1", "A1", "A2", "A3"] {
        assert!(dir.path().join(format!("cut.{label}.edl")).is_file(), "{label}");
    }
    let one = dir.path().join("anna.edl");
    let o = common::redub(&["timeline", "export", s(&proj), "-o", s(&one), "--track", "a2"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(std::fs::read_to_string(&one).unwrap().contains("Anna line 2"));
    let o = common::redub(&["timeline", "export", s(&proj), "-o", s(&one), "--track", "A9"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(common::stderr(&o).contains("V1, A1, A2, A3"), "{}", common::stderr(&o));
    let o = common::redub(&["timeline", "export", s(&proj), "-o", s(&dir.path().join("x.txt"))]);
    assert_eq!(o.status.code(), Some(1));
}

// ---------------------------------------------------------------- the real OpenTimelineIO

/// `python3` with OpenTimelineIO and its FCP7 XML and CMX 3600 adapters importable (from
/// `REDUB_OTIO_PYTHONPATH`, which `packaging/setup.sh` exports, or the user's own install), or
/// `None` after skipping (a failure under CI).
fn otio_python(test: &str) -> Option<Command> {
    let make = || {
        let mut c = Command::new("python3");
        if let Ok(p) = std::env::var("REDUB_OTIO_PYTHONPATH") {
            c.env("PYTHONPATH", p).env("PYTHONNOUSERSITE", "1");
        }
        c
    };
    let probe = make()
        .args([
            "-c",
            "import opentimelineio as o; n = o.adapters.available_adapter_names(); \
             assert 'fcp_xml' in n and 'cmx_3600' in n, n",
        ])
        .output();
    match probe {
        Ok(o) if o.status.success() => Some(make()),
        Ok(o) => {
            let why = String::from_utf8_lossy(&o.stderr);
            let last = why.lines().last().unwrap_or("").to_string();
            common::skip(
                test,
                &format!(
                    "OpenTimelineIO with the fcp_xml and cmx_3600 adapters is not importable \
                     ({last}); run packaging/setup.sh deps and export REDUB_OTIO_PYTHONPATH"
                ),
            );
            None
        }
        Err(e) => {
            common::skip(test, &format!("python3 cannot run: {e}"));
            None
        }
    }
}

/// Reads our files with OpenTimelineIO and prints one line per clip: kind, track, name, range in
/// the track and source range, in frames.
const READ_OURS: &str = r#"
import sys
import opentimelineio as otio
path, adapter, rate = sys.argv[1], sys.argv[2], float(sys.argv[3])
kw = {"rate": rate} if adapter == "cmx_3600" else {}
tl = otio.adapters.read_from_file(path, adapter_name=adapter, **kw)
if tl.global_start_time is not None:
    print("start", round(tl.global_start_time.rescaled_to(rate).value))
for i, tr in enumerate(tl.tracks):
    for c in tr.find_clips():
        r = c.range_in_parent()
        s = c.source_range
        print("clip", tr.kind, i, c.name, round(r.start_time.rescaled_to(rate).value),
              round(r.duration.rescaled_to(rate).value),
              round(s.start_time.rescaled_to(rate).value))
for m in tl.tracks.markers:
    print("marker", round(m.marked_range.start_time.rescaled_to(rate).value), m.name)
for v in [c for c in tl.find_clips() if c.parent().kind == "Video"][:1]:
    print("refs", " ".join(sorted(v.media_references().keys())))
for tr in tl.tracks:
    for m in tr.markers:
        print("marker", round(m.marked_range.start_time.rescaled_to(rate).value), m.name)
"#;

#[test]
fn opentimelineio_reads_our_otio_fcp7_xml_and_edl_with_the_same_clips() {
    let test = "opentimelineio_reads_our_otio_fcp7_xml_and_edl_with_the_same_clips";
    let Some(_) = otio_python(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let rate = FrameRate::FPS_29_97;
    let mut p = sample_project(dir.path(), rate, true);
    // A render on disk: OTIO offers it as the picture clip's alternative reference.
    let render = dir.path().join("dubbed.mp4");
    std::fs::write(&render, b"rendered").unwrap();
    p.export.output = Some(render);
    let cut = Cut::from_project(&p, dir.path());
    let files = [
        ("cut.otio", "otio_json", otio::write(&cut)),
        ("cut.xml", "fcp_xml", fcp7::write(&cut).unwrap()),
        ("cut.edl", "cmx_3600", edl::write(&cut, 2).unwrap()),
    ];
    let f = |t: Time| redub::model::interchange::nearest_frame(t, rate);
    for (name, adapter, text) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let o = otio_python(test)
            .unwrap()
            .args(["-c", READ_OURS, s(&path), adapter, &rate.as_f64().to_string()])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(o.status.success(), "{adapter}: {}\n{out}", String::from_utf8_lossy(&o.stderr));
        println!("{adapter}:\n{out}");
        let clips: Vec<Vec<&str>> = out
            .lines()
            .filter(|l| l.starts_with("clip "))
            .map(|l| l.split(' ').collect())
            .collect();
        // Every dub clip, by name, at its position with its length and source in.
        let tracks: Vec<&redub::model::interchange::CutTrack> =
            if adapter == "cmx_3600" { vec![&cut.tracks[2]] } else { cut.tracks.iter().collect() };
        // The CMX 3600 reader starts its track at the first event.
        let origin = if adapter == "cmx_3600" { f(cut.tracks[2].clips[0].position) } else { 0 };
        for t in tracks {
            for c in &t.clips {
                let words = c.name.split(' ').count();
                let hit = clips.iter().find(|l| l[3..3 + words].join(" ") == c.name);
                let hit =
                    hit.unwrap_or_else(|| panic!("{adapter}: no clip {:?} in\n{out}", c.name));
                let nums: Vec<i64> = hit[3 + words..].iter().map(|n| n.parse().unwrap()).collect();
                assert_eq!(
                    nums,
                    [f(c.position) - origin, f(c.duration), f(c.source_in)],
                    "{adapter}: {}",
                    c.name
                );
            }
        }
        if adapter == "otio_json" {
            assert!(out.contains("refs DEFAULT_MEDIA REDUB_RENDERED"), "{out}");
        }
        if adapter != "cmx_3600" {
            assert!(out.contains(&format!("start {}", cut.start_frame)), "{adapter}: {out}");
            for m in &p.timeline.markers {
                assert!(
                    out.contains(&format!("marker {} {}", f(m.time), m.name)),
                    "{adapter}: marker {} in\n{out}",
                    m.name
                );
            }
        }
    }
}

/// Writes with OpenTimelineIO a cut at 29.97 DF starting 01:00:00;00: a picture track with the
/// shot, two audio tracks (the shot's own sound; two dub lines with a gap), a marker.
const WRITE_CUT: &str = r#"
import sys
import opentimelineio as otio
out, shot, line1, line2 = sys.argv[1:5]
rate = 30000 / 1001
rt = lambda f: otio.opentime.RationalTime(f, rate)
tr = lambda s, d: otio.opentime.TimeRange(rt(s), rt(d))
ref = lambda p, d: otio.schema.ExternalReference(target_url="file://" + p, available_range=tr(0, d))
tl = otio.schema.Timeline(name="from otio")
tl.global_start_time = otio.opentime.from_timecode("01:00:00;00", rate)
v = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
v.append(otio.schema.Clip(name="shot", media_reference=ref(shot, 120), source_range=tr(0, 120)))
a1 = otio.schema.Track(name="Original", kind=otio.schema.TrackKind.Audio)
a1.append(otio.schema.Clip(name="shot audio", media_reference=ref(shot, 120), source_range=tr(0, 120)))
a2 = otio.schema.Track(name="ADR", kind=otio.schema.TrackKind.Audio)
a2.append(otio.schema.Gap(source_range=tr(0, 15)))
a2.append(otio.schema.Clip(name="adr 1", media_reference=ref(line1, 45), source_range=tr(3, 30)))
a2.append(otio.schema.Gap(source_range=tr(0, 10)))
a2.append(otio.schema.Clip(name="adr 2", media_reference=ref(line2, 30), source_range=tr(0, 24)))
tl.tracks.extend([v, a1, a2])
tl.tracks.markers.append(otio.schema.Marker(name="check lips", marked_range=tr(40, 0)))
otio.adapters.write_to_file(tl, out)
"#;

#[test]
fn a_cut_written_by_opentimelineio_imports_as_the_expected_project() {
    let test = "a_cut_written_by_opentimelineio_imports_as_the_expected_project";
    let Some(mut py) = otio_python(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let rate = FrameRate::FPS_29_97;
    let shot = dir.path().join("shot.mp4");
    testsrc::write_bars_clip(&shot, 120, 128, 96, rate, 440.0).unwrap();
    let (line1, line2) = (dir.path().join("adr1.wav"), dir.path().join("adr2.wav"));
    tone(&line1, 1.5, 300.0);
    tone(&line2, 1.0, 500.0);
    let cut = dir.path().join("cut.otio");
    let o = py.args(["-c", WRITE_CUT, s(&cut), s(&shot), s(&line1), s(&line2)]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = dir.path().join("p.redub");
    let o = common::redub(&["timeline", "import", s(&cut), "-o", s(&out)]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(common::stderr(&o).is_empty(), "{}", common::stderr(&o));
    let p = Project::load(&out).unwrap();
    let tl = &p.timeline;
    assert_eq!(tl.frame_rate, rate);
    // 01:00:00;00 drop-frame is frame 107 892.
    assert_eq!(tl.start_timecode, Some(StartTimecode { frame: 107_892, drop_frame: true }));
    assert_eq!(p.media(tl.video.media.unwrap()).unwrap().path, shot);
    assert_eq!(tl.original_audio.media, tl.video.media);
    assert_eq!(tl.dub_tracks.len(), 1);
    assert_eq!(tl.dub_tracks[0].name, "ADR");
    let f = |n: i64| rate.frame_to_time(n);
    let got: Vec<(&str, Time, Time, Time)> = tl.dub_tracks[0]
        .clips
        .iter()
        .map(|c| (c.name.as_str(), c.position, c.source_in, c.source_out))
        .collect();
    assert_eq!(got, [("adr 1", f(15), f(3), f(33)), ("adr 2", f(55), f(0), f(24))]);
    let paths: Vec<&Path> =
        tl.dub_tracks[0].clips.iter().map(|c| p.media(c.media).unwrap().path.as_path()).collect();
    assert_eq!(paths, [line1.as_path(), line2.as_path()]);
    assert_eq!(tl.markers, [Marker { time: f(40), name: "check lips".into() }]);
    assert_eq!(tl.duration, f(120));
}

#[test]
fn the_shots_sound_on_two_tracks_is_one_original_and_a_clip_without_media_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let rate = FrameRate::FPS_25;
    let p = sample_project(dir.path(), rate, false);
    let mut cut = Cut::from_project(&p, dir.path());
    // As an editor writes a stereo shot: its sound on A1 and A2, no Redub metadata.
    for t in &mut cut.tracks {
        t.redub = None;
        for c in &mut t.clips {
            c.redub = None;
        }
    }
    let mut right = cut.tracks[1].clone();
    right.name = "A2".into();
    cut.tracks.insert(2, right);
    cut.tracks[3].clips[0].url = None;
    let back = import(cut, dir.path());
    let tl = &back.project.timeline;
    assert_eq!(tl.original_audio.media, tl.video.media);
    let names: Vec<&str> = tl.dub_tracks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["Anna", "Ben"]);
    assert_eq!(tl.dub_tracks[0].clips.len(), 1, "the clip without media is not on the track");
    assert_eq!(back.warnings.len(), 2, "{:?}", back.warnings);
    assert!(back.warnings[0].contains("\"A2\""), "{:?}", back.warnings);
    assert!(back.warnings[1].contains("Anna line 1"), "{:?}", back.warnings);
}

/// The self-contained project bundle (`.redubz`): a lip-edited project collected, moved to
/// another folder with its original media renamed away, renders the same frames; a damaged,
/// truncated or unsafe bundle is refused with a clear error and leaves nothing unpacked.
mod bundle {
    use super::common;
    use redub::jobs::Job;
    use redub::media::testsrc::{write_bars_clip, write_wav};
    use redub::model::{FrameRate, MediaKind, Project, Time};
    use redub::render::bundle::{self, BundleError};
    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// Runs `redub` with its caches under `cache`.
    fn redub_in(cache: &Path, args: &[&str]) -> std::process::Output {
        let out = Command::new(env!("CARGO_BIN_EXE_redub"))
            .args(args)
            .env("REDUB_CACHE_DIR", cache)
            .output()
            .expect("run redub");
        assert!(
            out.status.success(),
            "redub {args:?}: {}\n{}",
            common::stderr(&out),
            common::stdout(&out)
        );
        out
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn a_collected_lip_edit_renders_the_same_frames_elsewhere_without_its_media() {
        let Some(media) = common::media_and_models("bundle_renders_the_same_frames") else {
            return;
        };
        let root = tempfile::tempdir().unwrap();
        let (src, here, there) =
            (root.path().join("src"), root.path().join("here"), root.path().join("there"));
        for d in [&src, &here, &there] {
            std::fs::create_dir_all(d).unwrap();
        }
        // The shot and a spoken dub bound to its face, in a folder of their own.
        let video = src.join("shot.mp4");
        std::fs::copy(media.join("v1_retalking_face2.mp4"), &video).unwrap();
        let dub = src.join("dub.wav");
        common::espeak("We choose to go there soon.", "en-us", &dub);
        let project = common::dub_project(&video, &dub, Some(0));
        let proj = here.join("scene.redub");
        project.save(&proj).unwrap();
        let p = |p: &Path| p.to_str().unwrap().to_string();

        // Before: rendered with this machine's caches (the analysis and bank are made here).
        let cache1 = root.path().join("cache1");
        let before = here.join("before.mp4");
        redub_in(
            &cache1,
            &["render", &p(&proj), "-o", &p(&before), "--range", "0..2", "--allow-unconsented"],
        );

        let out = here.join("scene.redubz");
        let t = std::time::Instant::now();
        let said = redub_in(&cache1, &["bundle", &p(&proj), "-o", &p(&out)]);
        println!("collect: {:.2} s: {}", t.elapsed().as_secs_f64(), common::stdout(&said).trim());
        let size = std::fs::metadata(&out).unwrap().len();
        println!("bundle size: {size} bytes");
        assert!(common::stdout(&said).contains("2 media file(s)"), "{}", common::stdout(&said));
        assert!(!common::stdout(&said).contains(" 0 cache file(s)"), "the caches are collected");

        // Elsewhere, with the original media renamed away and an empty cache.
        let moved = there.join("scene.redubz");
        std::fs::rename(&out, &moved).unwrap();
        std::fs::rename(&video, src.join("shot.gone")).unwrap();
        std::fs::rename(&dub, src.join("dub.gone")).unwrap();
        let cache2 = root.path().join("cache2");
        let after = there.join("after.mp4");
        let t = std::time::Instant::now();
        let said = redub_in(
            &cache2,
            &["render", &p(&moved), "-o", &p(&after), "--range", "0..2", "--allow-unconsented"],
        );
        println!("open + render: {:.2} s: {}", t.elapsed().as_secs_f64(), common::stderr(&said));
        assert!(common::stderr(&said).contains("unpacked"), "{}", common::stderr(&said));
        assert!(there.join("scene/scene.redub").is_file());
        assert!(there.join("scene/media/shot.mp4").is_file());
        // The analysis and the bank came along into this machine's (empty) caches.
        assert!(!names(&cache2.join("analysis")).is_empty());
        assert!(!names(&cache2.join("banks")).is_empty());
        // Media paths in the unpacked project are relative to it.
        let text = std::fs::read_to_string(there.join("scene/scene.redub")).unwrap();
        assert!(text.contains("\"path\": \"media/shot.mp4\""), "{text}");

        let (a, b) = (common::all_frames(&before), common::all_frames(&after));
        assert_eq!(a.len(), b.len());
        assert!(a.len() >= 45, "2 s of frames: {}", a.len());
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!(x.data == y.data, "frame {i} differs");
        }

        // Opening it again reuses the unpacked folder (and what was changed there).
        let t = std::time::Instant::now();
        let again = redub_in(&cache2, &["unbundle", &p(&moved)]);
        println!("open again: {:.2} s", t.elapsed().as_secs_f64());
        assert_eq!(common::stdout(&again).trim(), p(&there.join("scene/scene.redub")));
        assert!(common::stderr(&again).contains("unpacked before"), "{}", common::stderr(&again));
        assert_eq!(names(&there), ["after.mp4", "scene", "scene.redubz"]);
    }

    #[test]
    fn a_bundle_of_the_used_ranges_is_smaller_and_renders_the_same() {
        let root = tempfile::tempdir().unwrap();
        let (src, there) = (root.path().join("src"), root.path().join("there"));
        for d in [&src, &there] {
            std::fs::create_dir_all(d).unwrap();
        }
        // A 2 s shot with its sound, and 30 s of takes (a sweep: every sample differs, so a
        // cut off by one sample would show) of which two clips use 1.3 s.
        let video = src.join("shot.mp4");
        write_bars_clip(&video, 50, 160, 90, FrameRate::FPS_25, 440.0).unwrap();
        let takes = src.join("takes.wav");
        let sweep: Vec<f32> = (0..48_000 * 30)
            .flat_map(|i| {
                let t = i as f32 / 48_000.0;
                let v = 0.2 * (std::f32::consts::TAU * (200.0 + 15.0 * t) * t).sin();
                [v, -0.5 * v]
            })
            .collect();
        write_wav(&takes, &sweep).unwrap();
        let mut p = Project::new("trim", FrameRate::FPS_25);
        let v = p.add_media(&video, MediaKind::Video, Time::from_millis(2000)).unwrap();
        p.timeline.video.media = Some(v);
        p.timeline.original_audio.media = Some(v);
        p.timeline.duration = Time::from_millis(2000);
        let a = p.add_media(&takes, MediaKind::Audio, Time::from_millis(30_000)).unwrap();
        let t = p.add_dub_track("Dub");
        for (at, from, to) in [(100, 12_340, 12_940), (1000, 20_050, 20_750)] {
            p.add_clip(t, a, Time::from_millis(at)).unwrap();
            let c = p.timeline.dub_tracks[0].clips.last_mut().unwrap();
            c.source_in = Time::from_millis(from);
            c.source_out = Time::from_millis(to);
        }
        p.timeline.dub_tracks[0].clips.sort_by_key(|c| c.position);
        let proj = src.join("p.redub");
        p.save(&proj).unwrap();
        let s = |p: &Path| p.to_str().unwrap().to_string();
        let cache = root.path().join("cache");

        let before = src.join("before.mp4");
        redub_in(&cache, &["render", &s(&proj), "-o", &s(&before)]);
        let whole = src.join("whole.redubz");
        redub_in(&cache, &["bundle", &s(&proj), "-o", &s(&whole)]);
        let cut = src.join("cut.redubz");
        let t0 = std::time::Instant::now();
        let said = redub_in(&cache, &["bundle", &s(&proj), "-o", &s(&cut), "--trim"]);
        println!("collect --trim: {:.2} s: {}", t0.elapsed().as_secs_f64(), common::stdout(&said));
        assert!(common::stdout(&said).contains("cut 1 media file(s)"), "{}", common::stdout(&said));
        assert!(
            common::stderr(&said).contains("shot.mp4 kept whole: the picture"),
            "{}",
            common::stderr(&said)
        );
        let (w, c) =
            (std::fs::metadata(&whole).unwrap().len(), std::fs::metadata(&cut).unwrap().len());
        println!("bundle sizes: whole {w} bytes, used ranges {c} bytes");
        // 30 s of stereo takes against (8.7 - 11.3) + 2 s of margins.
        assert!(c + 4_000_000 < w, "{c} vs {w}");

        // Elsewhere, with the originals renamed away.
        let moved = there.join("cut.redubz");
        std::fs::rename(&cut, &moved).unwrap();
        std::fs::rename(&takes, src.join("takes.gone")).unwrap();
        std::fs::rename(&video, src.join("shot.gone")).unwrap();
        let after = there.join("after.mp4");
        redub_in(&cache, &["render", &s(&moved), "-o", &s(&after)]);
        let inside = Project::load(&there.join("cut/p.redub")).unwrap();
        let m = inside.media.iter().find(|m| m.kind == MediaKind::Audio).unwrap();
        assert!(m.duration < Time::from_millis(11_000), "{:?}", m.duration);
        let first = inside.timeline.dub_tracks[0].clips[0].source_in;
        assert_eq!(first, Time::from_millis(1_000), "the clip's source moved with the cut");

        let (x, y) = (common::all_frames(&before), common::all_frames(&after));
        assert_eq!(x.len(), y.len());
        assert!(x.len() >= 50, "{}", x.len());
        for (i, (f, g)) in x.iter().zip(&y).enumerate() {
            assert!(f.data == g.data, "frame {i} differs");
        }
        let (x, y) = (
            redub::media::decode_audio(&before, None).unwrap(),
            redub::media::decode_audio(&after, None).unwrap(),
        );
        assert_eq!(x.samples.len(), y.samples.len());
        assert!(x.samples.iter().any(|v| v.abs() > 0.05), "the mix is not silent");
        assert!(x.samples == y.samples, "the mixed sound differs");
    }

    /// A small project of generated media (no models needed), collected into `dir/p.redubz`.
    fn small_bundle(dir: &Path) -> PathBuf {
        let video = dir.join("shot.mp4");
        write_bars_clip(&video, 25, 160, 90, FrameRate::FPS_25, 440.0).unwrap();
        let line = dir.join("line.wav");
        write_wav(&line, &vec![0.1f32; 48_000 * 2]).unwrap();
        let mut p = Project::new("small", FrameRate::FPS_25);
        let v = p.add_media(&video, MediaKind::Video, Time::from_millis(1000)).unwrap();
        p.timeline.video.media = Some(v);
        p.timeline.duration = Time::from_millis(1000);
        let a = p.add_media(&line, MediaKind::Audio, Time::from_millis(1000)).unwrap();
        let t = p.add_dub_track("Dub");
        p.add_clip(t, a, Time::ZERO).unwrap();
        let proj = dir.join("p.redub");
        p.save(&proj).unwrap();
        let out = dir.join("p.redubz");
        let r = bundle::collect(&proj, &out, &Job::new()).unwrap();
        assert_eq!(r.media_files, 2);
        assert_eq!(r.size, std::fs::metadata(&out).unwrap().len());
        out
    }

    /// Opens `bytes` as a bundle in a fresh folder: the error, and what the folder holds after.
    fn open_bytes(bytes: &[u8]) -> (BundleError, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.redubz");
        std::fs::write(&path, bytes).unwrap();
        let e = bundle::open(&path, &Job::new()).expect_err("refused");
        (e, names(dir.path()))
    }

    #[test]
    fn a_damaged_or_truncated_bundle_is_refused_and_leaves_nothing_unpacked() {
        let dir = tempfile::tempdir().unwrap();
        let out = small_bundle(dir.path());
        let good = std::fs::read(&out).unwrap();
        // It opens as it is.
        let o = bundle::open(&out, &Job::new()).unwrap();
        assert!(!o.reused && o.project.is_file());
        let p = Project::load(&o.project).unwrap();
        assert!(p.media.iter().all(|m| m.path.starts_with(&o.folder)), "{:?}", p.media);

        // One byte flipped in the media, in a tar header, in the manifest.
        let key = b"\"redub_version\"";
        let manifest_at = good.windows(key.len()).rposition(|w| w == key).unwrap();
        for (what, at) in [("media", good.len() / 3), ("header", 0), ("manifest", manifest_at + 3)]
        {
            let mut bad = good.clone();
            bad[at] ^= 0x20;
            let (e, left) = open_bytes(&bad);
            println!("{what}: {e}");
            assert!(matches!(e, BundleError::Corrupt { .. }), "{what}: {e}");
            assert!(e.to_string().contains("not a usable Redub bundle"), "{e}");
            assert_eq!(left, ["b.redubz"], "{what}: nothing unpacked");
        }
        // Truncated anywhere: at the half, just before the manifest, one block short.
        for cut in [good.len() / 2, manifest_at - 600, good.len() - 1536] {
            let (e, left) = open_bytes(&good[..cut]);
            println!("cut at {cut}: {e}");
            assert!(matches!(e, BundleError::Corrupt { .. }), "{e}");
            assert!(e.to_string().contains("truncated"), "{e}");
            assert_eq!(left, ["b.redubz"], "nothing unpacked");
        }
        let (e, left) = open_bytes(b"not a bundle at all");
        assert!(matches!(e, BundleError::Corrupt { .. }), "{e}");
        assert_eq!(left, ["b.redubz"]);
    }

    #[test]
    fn a_bundle_entry_pointing_outside_its_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("evil.redubz");
        {
            let mut tar = tar::Builder::new(std::fs::File::create(&path).unwrap());
            let mut header = tar::Header::new_gnu();
            let name = b"../escaped.txt";
            header.as_old_mut().name[..name.len()].copy_from_slice(name);
            header.set_size(3);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            header.set_cksum();
            tar.append(&header, &b"bad"[..]).unwrap();
            tar.finish().unwrap();
        }
        let e = bundle::open(&path, &Job::new()).expect_err("refused");
        assert!(e.to_string().contains("outside the bundle"), "{e}");
        assert!(!dir.path().parent().unwrap().join("escaped.txt").exists());
        assert_eq!(names(dir.path()), ["evil.redubz"]);
    }

    #[test]
    fn a_cancelled_collect_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let out = small_bundle(dir.path());
        std::fs::remove_file(&out).unwrap();
        let job = Job::new();
        job.cancel();
        let e = bundle::collect(&dir.path().join("p.redub"), &out, &job).expect_err("cancelled");
        assert!(e.is_cancelled(), "{e}");
        assert_eq!(names(dir.path()), ["line.wav", "p.redub", "shot.mp4"]);
    }
}
