//! The track headers: names, mute/solo/lock, gain, and the dub track's face binding.

use super::*;

pub(super) fn headers_ui(
    ui: &mut egui::Ui,
    input: &TimelineInput<'_>,
    view: &mut TimelineView,
    tracks_clip: Rect,
    out: &mut Vec<AppCommand>,
) {
    let project = input.project;
    let painter = ui.painter_at(tracks_clip);
    let lanes = view.lanes.clone();
    for (lane, r) in lanes {
        let hr = Rect::from_min_size(r.min, Vec2::new(HEADER_W, r.height()));
        if !hr.intersects(tracks_clip) {
            continue;
        }
        painter.rect_filled(hr, 0.0, Color32::from_gray(40));
        painter.vline(hr.right(), hr.y_range(), Stroke::new(1.0, Color32::from_gray(15)));
        let inner = hr.shrink2(Vec2::new(6.0, 4.0)).intersect(tracks_clip);
        if inner.height() < 14.0 {
            continue;
        }
        let mut child = ui.new_child(
            egui::UiBuilder::new().max_rect(inner).layout(egui::Layout::top_down(egui::Align::Min)),
        );
        child.set_clip_rect(inner);
        match lane {
            Lane::Video => {
                child.label("Video");
            }
            Lane::Original => {
                let o = &project.timeline.original_audio;
                child.horizontal(|ui| {
                    ui.label("Original");
                    if ui
                        .selectable_label(o.mute, "M")
                        .on_hover_text("Mute original audio")
                        .clicked()
                    {
                        let mut n = o.clone();
                        n.mute = !n.mute;
                        out.push(AppCommand::Edit {
                            edit: Edit::SetOriginalAudio(n),
                            label: "Mute original".into(),
                        });
                    }
                });
            }
            Lane::Me => crate::app::me_track::me_header_ui(&mut child, project, out),
            Lane::Dub(id) => {
                let Some(t) = project.timeline.dub_tracks.iter().find(|t| t.id == id) else {
                    continue;
                };
                let props = TrackProps::of(t);
                let set = |p: TrackProps, label: &str, out: &mut Vec<AppCommand>| {
                    out.push(AppCommand::Edit {
                        edit: Edit::SetTrackProps { track: id, props: p },
                        label: label.into(),
                    });
                };
                if let Some((rid, text)) = &mut view.renaming
                    && *rid == id
                {
                    let resp =
                        child.add(egui::TextEdit::singleline(text).desired_width(HEADER_W - 20.0));
                    let resp = resp.on_hover_text("Track name");
                    resp.request_focus();
                    if resp.lost_focus() {
                        let mut p = props.clone();
                        p.name = text.trim().to_string();
                        if !p.name.is_empty() && p.name != props.name {
                            set(p, "Rename track", out);
                        }
                        view.renaming = None;
                    }
                } else {
                    let name = child.add(
                        egui::Label::new(egui::RichText::new(&t.name).strong())
                            .sense(Sense::click()),
                    );
                    let name =
                        name.on_hover_text(format!("Track {}: double-click to rename", t.name));
                    if name.double_clicked() {
                        view.renaming = Some((id, t.name.clone()));
                    }
                    // Right-click on the name: the track's actions in one place.
                    name.context_menu(|ui| {
                        if ui.button("Rename").clicked() {
                            view.renaming = Some((id, t.name.clone()));
                            ui.close();
                        }
                        let flags: [(bool, &str, FlipFlag); 3] = [
                            (t.mute, "Mute", |p| p.mute = !p.mute),
                            (t.solo, "Solo", |p| p.solo = !p.solo),
                            (t.locked, "Lock", |p| p.locked = !p.locked),
                        ];
                        for (on, verb, flip) in flags {
                            let mut checked = on;
                            if ui.checkbox(&mut checked, verb).clicked() {
                                let mut p = props.clone();
                                flip(&mut p);
                                set(p, &format!("{verb} track"), out);
                                ui.close();
                            }
                        }
                        ui.separator();
                        if ui.button("Remove track").clicked() {
                            out.push(AppCommand::RemoveTrack(id));
                            ui.close();
                        }
                    });
                }
                child.horizontal(|ui| {
                    let toggles: [(bool, &str, &str, FlipFlag); 3] = [
                        (t.mute, "M", "Mute", |p| p.mute = !p.mute),
                        (t.solo, "S", "Solo", |p| p.solo = !p.solo),
                        (t.locked, "L", "Lock", |p| p.locked = !p.locked),
                    ];
                    for (on, key, verb, flip) in toggles {
                        let hover = format!("{verb} {}", t.name);
                        if ui.selectable_label(on, key).on_hover_text(hover).clicked() {
                            let mut p = props.clone();
                            flip(&mut p);
                            set(p, &format!("{verb} track"), out);
                        }
                    }
                    if ui.button("Rename").on_hover_text(format!("Rename {}", t.name)).clicked() {
                        view.renaming = Some((id, t.name.clone()));
                    }
                    if ui.button("x").on_hover_text(format!("Remove {}", t.name)).clicked() {
                        out.push(AppCommand::RemoveTrack(id));
                    }
                });
            }
            Lane::Lips(_) => {}
            Lane::Speakers => {
                if let Some(sp) = input.speakers {
                    crate::app::speakers::header_ui(&mut child, sp);
                }
            }
        }
    }
}
