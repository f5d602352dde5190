//! The burned-in disclosure label ("Lips edited — Redub"): it appears at the chosen corner, on
//! the frames asked for (throughout, or the lip-edited ranges only), and nowhere else.

mod common;

use redub::media::testsrc::write_bars_clip;
use redub::media::{Frame, VideoDecoder};
use redub::model::disclosure::Corner;
use redub::model::lip::FaceId;
use redub::model::{FrameRate, MediaKind, Project, Time};
use redub::render::label::label_rect;
use std::path::Path;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Mean absolute difference of the RGB values of two RGBA frames inside a rectangle.
fn diff_in(a: &Frame, b: &Frame, (x0, y0, w, h): (u32, u32, u32, u32)) -> f64 {
    let mut sum = 0u64;
    for y in y0..y0 + h {
        for x in x0..x0 + w {
            let i = ((y * a.width + x) * 4) as usize;
            for c in 0..3 {
                sum += u64::from(a.data[i + c].abs_diff(b.data[i + c]));
            }
        }
    }
    sum as f64 / f64::from(w * h * 3)
}

/// Per frame of `out`, whether the label box at `corner` differs from `source` (mean > 20) and
/// the largest mean difference in the other corners' boxes (those clear of it: in a small
/// picture the two labels of one edge overlap).
pub fn label_frames(source: &Path, out: &Path, corner: Corner, frames: i64) -> Vec<(bool, f64)> {
    let (mut src, mut dst) =
        (VideoDecoder::open(source).unwrap(), VideoDecoder::open(out).unwrap());
    let (w, h) = dst.size();
    (0..frames)
        .map(|i| {
            let (a, b) = (src.frame(i).unwrap(), dst.frame(i).unwrap());
            let rect = |c| {
                let (x, y, bw, bh, _) = label_rect(w, h, c);
                (x, y, bw, bh)
            };
            let here = diff_in(&a, &b, rect(corner));
            let (x, y, w, h) = rect(corner);
            let clear = |&(ox, oy, ow, oh): &(u32, u32, u32, u32)| {
                ox >= x + w || x >= ox + ow || oy >= y + h || y >= oy + oh
            };
            let others = Corner::ALL
                .into_iter()
                .filter(|c| *c != corner)
                .map(rect)
                .filter(clear)
                .map(|r| diff_in(&a, &b, r))
                .fold(0.0, f64::max);
            (here > 20.0, others)
        })
        .collect()
}

#[test]
fn a_label_throughout_is_on_every_frame_at_its_corner_only() {
    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join("bars.mp4");
    write_bars_clip(&video, 25, 320, 240, FrameRate::FPS_25, 440.0).unwrap();
    let info = redub::media::probe(&video).unwrap();
    let mut p = Project::new("label", FrameRate::FPS_25);
    let v = p.add_media(&video, MediaKind::Video, info.duration).unwrap();
    p.timeline.video.media = Some(v);
    p.timeline.original_audio.media = Some(v);
    p.timeline.duration = info.duration;
    let proj = dir.path().join("label.redub");
    p.save(&proj).unwrap();

    let out = dir.path().join("always.mp4");
    let o = common::redub(&[
        "render",
        s(&proj),
        "-o",
        s(&out),
        "--label",
        "top-left",
        "--label-on",
        "always",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let seen = label_frames(&video, &out, Corner::TopLeft, 25);
    for (i, (here, others)) in seen.iter().enumerate() {
        assert!(*here, "frame {i}: no label at the top left");
        assert!(*others < 8.0, "frame {i}: the other corners changed by {others:.1}");
    }
    // On the edited ranges only, a project that edits no mouth gets no label at all.
    let out = dir.path().join("edited.mp4");
    let o = common::redub(&["render", s(&proj), "-o", s(&out), "--label", "bottom-right"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let seen = label_frames(&video, &out, Corner::BottomRight, 25);
    assert!(seen.iter().all(|(here, others)| !here && *others < 8.0), "{seen:?}");
}

#[test]
fn a_label_on_the_edited_ranges_follows_the_dub_line() {
    let test = "a_label_on_the_edited_ranges_follows_the_dub_line";
    let Some(media) = common::media_and_models(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let video = media.join("v8_voxceleb_00086.mp4");
    let line = dir.path().join("line.wav");
    common::espeak("We choose to go.", "en-us", &line);
    let info = redub::media::probe(&video).unwrap();
    let rate = info.video.as_ref().unwrap().frame_rate;
    let mut p = Project::new("label", rate);
    let v = p.add_media(&video, MediaKind::Video, info.duration).unwrap();
    p.timeline.video.media = Some(v);
    p.timeline.original_audio.media = Some(v);
    p.timeline.duration = info.duration;
    let d = redub::media::probe(&line).unwrap().duration;
    let l = p.add_media(&line, MediaKind::Audio, d).unwrap();
    let t = p.add_dub_track("Dub");
    p.add_clip(t, l, Time::from_millis(400)).unwrap();
    p.timeline.dub_tracks[0].face = Some(FaceId(0));
    let proj = dir.path().join("edited.redub");
    p.save(&proj).unwrap();
    let edited = p.lip_edit_frames(rate);
    assert_eq!(edited.len(), 1);

    let out = dir.path().join("edited.mp4");
    let o = common::redub(&[
        "render",
        s(&proj),
        "-o",
        s(&out),
        "--range",
        "0..2",
        "--label",
        "bottom-left",
        "--allow-unconsented",
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let seen = label_frames(&video, &out, Corner::BottomLeft, 50);
    for (i, (here, others)) in seen.iter().enumerate() {
        let inside = edited[0].contains(&(i as i64));
        assert_eq!(*here, inside, "frame {i}: label {here}, edited range {:?}", edited[0]);
        assert!(*others < 8.0, "frame {i}: the other corners changed by {others:.1}");
    }
}
