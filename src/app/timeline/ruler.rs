//! The SMPTE ruler: tick spacing by zoom, timecode labels, seeking by click and drag.

use super::*;

/// Picks a ruler step (seconds) so labels are at least ~90 points apart.
pub(super) fn ruler_step(px_per_sec: f32, rate: FrameRate) -> f64 {
    let frame = 1.0 / rate.as_f64();
    let steps = [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0];
    let min_sec = 90.0 / f64::from(px_per_sec);
    for f in [1.0, 2.0, 5.0, 10.0] {
        if f * frame >= min_sec {
            return f * frame;
        }
    }
    steps.into_iter().find(|s| *s >= min_sec).unwrap_or(7200.0)
}

pub(super) fn ruler_ui(
    ui: &mut egui::Ui,
    painter: &egui::Painter,
    input: &TimelineInput<'_>,
    view: &TimelineView,
    full: Rect,
    rate: FrameRate,
    out: &mut Vec<AppCommand>,
) {
    let ruler = Rect::from_min_max(
        Pos2::new(view.clip_area.left(), full.top()),
        Pos2::new(full.right(), full.top() + RULER_H),
    );
    let corner = Rect::from_min_max(full.min, Pos2::new(view.clip_area.left(), ruler.bottom()));
    painter.rect_filled(corner, 0.0, Color32::from_gray(36));
    painter.text(
        corner.left_center() + Vec2::new(6.0, 0.0),
        Align2::LEFT_CENTER,
        format_timecode(input.playhead, rate, rate.is_drop_frame_rate()),
        FontId::monospace(13.0),
        Color32::from_rgb(235, 90, 80),
    );
    let rp = painter.with_clip_rect(ruler);
    rp.rect_filled(ruler, 0.0, Color32::from_gray(44));
    let step = ruler_step(view.px_per_sec, rate);
    let first = (view.scroll_sec / step).floor() as i64;
    let mut k = first;
    loop {
        let s = k as f64 * step;
        let x = view.x_of(Time::from_seconds_f64(s));
        if x > ruler.right() {
            break;
        }
        if s >= 0.0 {
            rp.vline(
                x,
                (ruler.bottom() - 8.0)..=ruler.bottom(),
                Stroke::new(1.0, Color32::from_gray(160)),
            );
            rp.text(
                Pos2::new(x + 3.0, ruler.top() + 2.0),
                Align2::LEFT_TOP,
                format_timecode(Time::from_seconds_f64(s + 1e-9), rate, rate.is_drop_frame_rate()),
                FontId::monospace(10.0),
                Color32::from_gray(200),
            );
            let sub = view.x_of(Time::from_seconds_f64(s + step / 2.0));
            rp.vline(
                sub,
                (ruler.bottom() - 4.0)..=ruler.bottom(),
                Stroke::new(1.0, Color32::from_gray(110)),
            );
        }
        k += 1;
    }
    // In and out points as brackets, also when only one of them is set.
    let bracket = Color32::from_rgb(140, 140, 255);
    for (t, dir) in [(input.in_point, 1.0f32), (input.out_point, -1.0)] {
        if let Some(t) = t {
            let x = view.x_of(t);
            rp.vline(x, ruler.y_range(), Stroke::new(2.0, bracket));
            rp.hline(x..=x + 6.0 * dir, ruler.top() + 1.0, Stroke::new(2.0, bracket));
            rp.hline(x..=x + 6.0 * dir, ruler.bottom() - 1.0, Stroke::new(2.0, bracket));
        }
    }
    for m in &input.project.timeline.markers {
        let x = view.x_of(m.time);
        let tri = vec![
            Pos2::new(x - 5.0, ruler.bottom() - 9.0),
            Pos2::new(x + 5.0, ruler.bottom() - 9.0),
            Pos2::new(x, ruler.bottom()),
        ];
        rp.add(egui::Shape::convex_polygon(tri, Color32::from_rgb(90, 200, 240), Stroke::NONE));
        painter.with_clip_rect(view.clip_area).vline(
            x,
            view.clip_area.y_range(),
            Stroke::new(1.0, Color32::from_rgba_unmultiplied(90, 200, 240, 90)),
        );
    }
    let resp = ui.interact(ruler, Id::unique("timeline-ruler"), Sense::click_and_drag());
    resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Slider, true, "Timeline ruler"));
    let resp = resp.on_hover_text("Click or drag to move the playhead");
    if (resp.clicked() || resp.dragged())
        && let Some(p) = resp.interact_pointer_pos()
    {
        out.push(AppCommand::Seek(quantize_floor(view.time_at(p.x).max(Time::ZERO), rate)));
    }
    ruler_markers_ui(ui, input, view, ruler, rate, out);
}

/// The markers on the ruler as widgets over it (added after the ruler, so they take the
/// pointer): a click goes to the marker; a right-click offers Rename (typed in the menu, Enter
/// commits one undoable edit), Go to and Delete.
fn ruler_markers_ui(
    ui: &mut egui::Ui,
    input: &TimelineInput<'_>,
    view: &TimelineView,
    ruler: Rect,
    rate: FrameRate,
    out: &mut Vec<AppCommand>,
) {
    let project = input.project;
    for (i, m) in project.timeline.markers.iter().enumerate() {
        let x = view.x_of(m.time);
        if x < ruler.left() - 6.0 || x > ruler.right() + 6.0 {
            continue;
        }
        let hit =
            Rect::from_x_y_ranges((x - 6.0)..=(x + 6.0), (ruler.bottom() - 12.0)..=ruler.bottom());
        let resp = ui.interact(hit, Id::unique(("timeline-marker", i)), Sense::click());
        let name = format!("Marker {}", m.name);
        resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &name));
        let tc = format_timecode(m.time, rate, rate.is_drop_frame_rate());
        let resp = resp.on_hover_text(format!(
            "{} at {tc}: click to go there, right-click to rename or delete",
            m.name
        ));
        if resp.clicked() {
            out.push(AppCommand::Seek(m.time));
        }
        let typed = Id::unique(("marker-rename", i));
        if resp.secondary_clicked() {
            // A fresh menu starts from the marker's name, not what was typed last time.
            ui.data_mut(|d| d.remove::<String>(typed));
        }
        resp.context_menu(|ui| {
            ui.label(egui::RichText::new(format!("{} · {tc}", m.name)).weak());
            ui.horizontal(|ui| {
                let l = ui.label("Rename");
                let mut text =
                    ui.data_mut(|d| d.get_temp::<String>(typed)).unwrap_or_else(|| m.name.clone());
                let r = ui
                    .add(egui::TextEdit::singleline(&mut text).desired_width(140.0))
                    .labelled_by(l.id)
                    .on_hover_text("Type a name; Enter renames the marker");
                if r.lost_focus() && ui.input(|k| k.key_pressed(egui::Key::Enter)) {
                    if let Some(edit) =
                        crate::app::markers_ui::rename_marker_edit(project, i, &text)
                    {
                        out.push(AppCommand::Edit { edit, label: "Rename marker".into() });
                    }
                    ui.data_mut(|d| d.remove::<String>(typed));
                    ui.close();
                } else {
                    ui.data_mut(|d| d.insert_temp(typed, text));
                }
            });
            let item =
                |ui: &mut egui::Ui, label: &str, cmd: AppCommand, out: &mut Vec<AppCommand>| {
                    crate::app::keys::menu_item(ui, label, cmd, input.preset, out);
                };
            item(ui, "Go to", AppCommand::Seek(m.time), out);
            item(ui, "Delete", AppCommand::DeleteMarker(i), out);
        });
    }
}

pub(super) fn quantize_floor(t: Time, rate: FrameRate) -> Time {
    rate.frame_to_time(rate.time_to_frame(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruler_steps_grow_with_zoom_out() {
        let r = FrameRate::FPS_25;
        assert!(ruler_step(2000.0, r) < ruler_step(100.0, r));
        assert!(ruler_step(1.0, r) >= 60.0);
    }
}
