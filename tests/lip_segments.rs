//! Per-segment lip settings through the render graph on real footage (raw frames, before any
//! encoder): a segment at intensity 0 leaves its frames bit-identical to the source while the
//! other segment is edited; the override is an undoable edit saved in the project.

mod common;
use common::dub_project;

use redub::jobs::Job;
use redub::media::testsrc::write_wav;
use redub::media::{VideoDecoder, decode_audio};
use redub::model::edit::Edit;
use redub::model::lip::{LipSegment, LipSettings};
use redub::model::{Project, Time};
use redub::render::{graph::FrameRenderer, lips::plan_project_lips};
use std::path::Path;

/// Two spoken lines 2 s apart, so the dub has (at least) two speech segments.
fn two_lines(dir: &Path) -> std::path::PathBuf {
    let a = dir.join("a.wav");
    let b = dir.join("b.wav");
    common::espeak("We choose to go there soon.", "en-us", &a);
    common::espeak("Because it is hard.", "en-us", &b);
    let (a, b) = (decode_audio(&a, Some(2)).unwrap(), decode_audio(&b, Some(2)).unwrap());
    let mut out = a.samples[..a.samples.len().min(2 * 48_000 * 2)].to_vec();
    out.resize(out.len() + 2 * 48_000 * 2, 0.0);
    out.extend_from_slice(&b.samples);
    let path = dir.join("dub.wav");
    write_wav(&path, &out).unwrap();
    path
}

#[test]
fn a_segment_at_zero_intensity_keeps_the_source_while_another_is_edited() {
    let test = "a_segment_at_zero_intensity_keeps_the_source_while_another_is_edited";
    let Some(media) = common::media_and_models(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let video = media.join("v1_retalking_face2.mp4");
    let mut project = dub_project(&video, &two_lines(dir.path()), Some(0));
    // The segments the plan finds (the timeline lane shows the same ones).
    let lips = plan_project_lips(&project, dir.path(), &Job::new()).unwrap();
    let spans: Vec<(Time, Time)> =
        lips.tracks()[0].segments.iter().map(|s| (s.segment.start, s.segment.end)).collect();
    println!("segments: {spans:?}");
    assert!(spans.len() >= 2, "two lines, two segments at least");
    assert!(lips.tracks()[0].segments.iter().all(|s| !s.segment.overridden));
    // The user turns the first segment's intensity down to 0 (an undoable edit).
    let (start, end) = spans[0];
    let track = project.timeline.dub_tracks[0].id;
    let edit = Edit::SetLipSegments {
        track,
        segments: vec![LipSegment {
            start,
            end,
            settings: LipSettings { intensity: 0.0, ..LipSettings::default() },
            mask: None,
        }],
    };
    let before = project.clone();
    let undo = edit.apply(&mut project).unwrap();
    // Saved in the project file and read back.
    let json = serde_json::to_string(&project).unwrap();
    let project: Project = serde_json::from_str(&json).unwrap();
    assert_eq!(project.timeline.dub_tracks[0].lip_segments.len(), 1);
    let mut undone = project.clone();
    undo.apply(&mut undone).unwrap();
    assert_eq!(undone, before, "undo restores the track settings");

    let lips = plan_project_lips(&project, dir.path(), &Job::new()).unwrap();
    let lt = &lips.tracks()[0];
    assert!(lt.segments[0].segment.overridden);
    assert_eq!(lt.segments[0].segment.settings.intensity, 0.0);
    assert!(lt.segments[1..].iter().all(|s| s.segment.settings.intensity == 1.0));
    let rate = project.timeline.frame_rate;
    let mut renderer = FrameRenderer::open(&video, lips).unwrap();
    let mut source = VideoDecoder::open_with_cache(&video, 0).unwrap();
    let frames = rate.time_to_frame(project.timeline.duration);
    let (mut in_first, mut changed_first, mut changed_later) = (0, 0, 0);
    for i in 0..frames {
        let t = rate.frame_to_time(i);
        let (out, _) = renderer.render(i).unwrap();
        let changed = out != source.frame(i).unwrap().data;
        if t >= start && t < end {
            in_first += 1;
            changed_first += usize::from(changed);
        } else if t >= spans[1].0 && changed {
            changed_later += 1;
        }
    }
    println!(
        "first segment: {in_first} frames, {changed_first} changed; later segments: {changed_later} frames changed"
    );
    assert!(in_first > 10, "the first segment covers frames");
    assert_eq!(changed_first, 0, "intensity 0: the first segment is the source, bit for bit");
    assert!(changed_later > 10, "the other segment is still edited");
}
