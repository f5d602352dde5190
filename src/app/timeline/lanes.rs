//! Drawing the lanes: the video and original-audio tracks, waveforms, clips with their fades,
//! gain line and isochrony overflow flag.

use super::*;

pub(super) fn video_and_original_ui(
    painter: &egui::Painter,
    input: &TimelineInput<'_>,
    view: &TimelineView,
) {
    let project = input.project;
    let tl = &project.timeline;
    for (lane, r) in &view.lanes {
        match lane {
            Lane::Video => {
                let Some(m) = tl.video.media.and_then(|id| project.media(id)) else { continue };
                let clip = Rect::from_x_y_ranges(
                    view.x_of(Time::ZERO)..=view.x_of(m.duration),
                    (r.top() + 2.0)..=(r.bottom() - 2.0),
                );
                painter.rect_filled(clip, 2.0, Color32::from_rgb(60, 60, 80));
                for (t, tex, size) in input.thumbnails {
                    let x = view.x_of(*t);
                    let h = clip.height();
                    let w = h * size.x / size.y.max(1.0);
                    let tr = Rect::from_min_size(Pos2::new(x, clip.top()), Vec2::new(w, h));
                    if tr.right() < view.clip_area.left()
                        || tr.left() > view.clip_area.right()
                        || tr.right() > clip.right() + w
                    {
                        continue;
                    }
                    painter.image(
                        *tex,
                        tr,
                        Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                        Color32::WHITE,
                    );
                }
                let name = m
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                painter.text(
                    Pos2::new(clip.left().max(view.clip_area.left()) + 4.0, clip.top() + 2.0),
                    Align2::LEFT_TOP,
                    name,
                    FontId::proportional(11.0),
                    Color32::WHITE,
                );
            }
            Lane::Original => {
                let Some(m) = tl.original_audio.media.and_then(|id| project.media(id)) else {
                    continue;
                };
                let clip = Rect::from_x_y_ranges(
                    view.x_of(Time::ZERO)..=view.x_of(m.duration),
                    (r.top() + 2.0)..=(r.bottom() - 2.0),
                );
                let fill = if tl.original_audio.mute {
                    Color32::from_gray(50)
                } else {
                    Color32::from_rgb(45, 70, 60)
                };
                painter.rect_filled(clip, 2.0, fill);
                if let Some(peaks) = input.waveforms.map(|w| w.original.as_slice()) {
                    draw_waveform(
                        painter,
                        clip.intersect(view.clip_area),
                        view,
                        peaks,
                        Time::ZERO,
                        Color32::from_rgb(120, 200, 160),
                    );
                }
                // Speech segments: a bar along the bottom of the lane.
                let area = clip.intersect(view.clip_area);
                for &(a, b) in input.waveforms.map(|w| w.speech.as_slice()).unwrap_or(&[]) {
                    let (x0, x1) = (view.x_of(a).max(area.left()), view.x_of(b).min(area.right()));
                    if x1 > x0 {
                        let bar = Rect::from_min_max(
                            egui::pos2(x0, area.bottom() - 4.0),
                            egui::pos2(x1, area.bottom() - 1.0),
                        );
                        painter.rect_filled(bar, 1.0, Color32::from_rgb(230, 200, 90));
                    }
                }
            }
            Lane::Me => {
                let Some(m) = tl.me_track.and_then(|id| project.media(id)) else { continue };
                let peaks = input.waveforms.map_or(&[][..], |w| w.me.as_slice());
                crate::app::me_track::me_lane_ui(painter, view, *r, m, tl.me_mute, peaks);
            }
            Lane::Dub(_) | Lane::Lips(_) | Lane::Speakers => {}
        }
    }
}

/// Draws peaks (one per `PEAK_BUCKET` samples, starting at timeline time `origin`) into `rect`.
pub(crate) fn draw_waveform(
    painter: &egui::Painter,
    rect: Rect,
    view: &TimelineView,
    peaks: &[Peak],
    origin: Time,
    color: Color32,
) {
    if rect.width() <= 0.0 || peaks.is_empty() {
        return;
    }
    let mid = rect.center().y;
    let half = rect.height() * 0.45;
    let per_sec = f64::from(crate::dsp::SAMPLE_RATE) / PEAK_BUCKET as f64;
    let mut x = rect.left().floor();
    let mut shapes = Vec::new();
    while x < rect.right() {
        let a = (view.time_at(x) - origin).as_seconds_f64() * per_sec;
        let b = (view.time_at(x + 1.0) - origin).as_seconds_f64() * per_sec;
        let (i0, i1) = (a.max(0.0) as usize, (b.max(0.0) as usize).max(a.max(0.0) as usize + 1));
        if i0 >= peaks.len() {
            break;
        }
        let (mut lo, mut hi) = (0.0f32, 0.0f32);
        for p in &peaks[i0..i1.min(peaks.len())] {
            lo = lo.min(p.min);
            hi = hi.max(p.max);
        }
        shapes.push(egui::Shape::line_segment(
            [
                Pos2::new(x, mid - hi.clamp(-1.0, 1.0) * half),
                Pos2::new(x, mid - lo.clamp(-1.0, 1.0) * half + 0.5),
            ],
            Stroke::new(1.0, color),
        ));
        x += 1.0;
    }
    painter.extend(shapes);
}

/// y of a clip gain within its rect: 0 dB at 35 % from the top, ±24 dB spans the rect.
pub(super) fn gain_y(rect: Rect, gain_db: f32) -> f32 {
    let zero = rect.top() + rect.height() * 0.35;
    // max/min rather than clamp: a clip cut by the panel edge can be thinner than the margins.
    (zero - gain_db / 24.0 * rect.height() * 0.6).min(rect.bottom() - 2.0).max(rect.top() + 2.0)
}

/// An aligned line (one with a warp or a cue) whose speech runs past its slot: a red frame and
/// the overflow in ms, so every line that does not fit shows at a glance.
pub(super) fn overflow_flag(
    painter: &egui::Painter,
    rect: Rect,
    clip: &Clip,
    waveforms: Option<&Waveforms>,
    rate: FrameRate,
) {
    if clip.warp.is_none() && clip.cue.is_none() {
        return;
    }
    let Some(w) = waveforms else { return };
    let dub_speech = w.clip_speech.get(&clip.media).map(Vec::as_slice);
    let Some(b) = crate::app::align_ui::timing_budget(clip, &w.speech, dub_speech, rate) else {
        return;
    };
    if b.fits {
        return;
    }
    let red = Color32::from_rgb(235, 60, 60);
    painter.rect_stroke(rect, 3.0, Stroke::new(2.0, red), egui::StrokeKind::Inside);
    painter.text(
        rect.right_top() + Vec2::new(-4.0, 3.0),
        Align2::RIGHT_TOP,
        format!("+{:.0} ms", b.over.as_seconds_f64() * 1000.0),
        FontId::proportional(11.0),
        Color32::WHITE,
    );
}

#[allow(clippy::too_many_arguments)]
pub(super) fn draw_clip(
    painter: &egui::Painter,
    rect: Rect,
    clip: &Clip,
    ti: usize,
    selected: bool,
    locked: bool,
    silent: bool,
    rate: FrameRate,
    view: &TimelineView,
    wave: Option<&[Peak]>,
) {
    let mut fill = clip_color(ti, selected, locked);
    if silent {
        fill = fill.gamma_multiply(0.5);
    }
    painter.rect_filled(rect, 3.0, fill);
    if let Some(peaks) = wave {
        // Peaks start at the media's start; the clip shows them from its source in.
        let skip =
            (clip.source_in.to_samples(crate::dsp::SAMPLE_RATE).max(0) as usize) / PEAK_BUCKET;
        let area = rect.shrink2(Vec2::new(0.0, 4.0)).intersect(view.clip_area);
        let color = Color32::from_black_alpha(90);
        draw_waveform(painter, area, view, peaks.get(skip..).unwrap_or(&[]), clip.position, color);
    }
    if selected {
        painter.rect_stroke(rect, 3.0, Stroke::new(2.0, Color32::WHITE), egui::StrokeKind::Inside);
    }
    // Fades as ramps, gain as a line.
    let fi = view.x_of(clip.position + clip.fade_in) - view.x_of(clip.position);
    let fo = view.x_of(clip.end()) - view.x_of(clip.end() - clip.fade_out);
    let dark = Color32::from_black_alpha(140);
    let gy = gain_y(rect, clip.gain_db);
    if fi > 1.0 {
        painter.line_segment(
            [Pos2::new(rect.left(), rect.bottom()), Pos2::new(rect.left() + fi, gy)],
            Stroke::new(1.0, dark),
        );
    }
    if fo > 1.0 {
        painter.line_segment(
            [Pos2::new(rect.right() - fo, gy), Pos2::new(rect.right(), rect.bottom())],
            Stroke::new(1.0, dark),
        );
    }
    painter.hline(
        (rect.left() + fi)..=(rect.right() - fo),
        gy,
        Stroke::new(1.0, Color32::from_rgb(250, 230, 120)),
    );
    if rect.width() > 30.0 {
        let mut text = if rect.width() > 120.0 {
            format!("{}  {}", clip.name, format_timecode(clip.duration(), rate, false))
        } else {
            clip.name.clone()
        };
        if let Some(w) = clip.warp.as_ref().filter(|_| rect.width() > 160.0) {
            text.push_str(&format!("  warp {} {:.2}x", w.mode.name(), w.factor));
        }
        let clip_painter = painter.with_clip_rect(rect.shrink(2.0).intersect(painter.clip_rect()));
        clip_painter.text(
            Pos2::new(rect.left().max(view.clip_area.left()) + 5.0, rect.bottom() - 4.0),
            Align2::LEFT_BOTTOM,
            text,
            FontId::proportional(11.0),
            Color32::WHITE,
        );
    }
    if locked {
        painter.text(
            rect.right_top() + Vec2::new(-4.0, 2.0),
            Align2::RIGHT_TOP,
            "locked",
            FontId::proportional(10.0),
            Color32::WHITE,
        );
    }
}
