//! The inspector's dialogue section for one dub clip: its timing budget against the original
//! speech (or its cue) and the auto-align controls (ADR, isochrony, reset, tighter/looser).
//! Auto-align runs [`crate::dsp::align::align_clip`] on the editor's decoded audio and becomes
//! one undoable `SetClip` edit.

use super::command::AppCommand;
use crate::dsp::SAMPLE_RATE;
use crate::dsp::align::{AlignSettings, align_clip};
use crate::dsp::isochrony::StretchRange;
use crate::model::edit::{Edit, clip};
use crate::model::{AlignMode, Clip, ClipId, FrameRate, Project, Time, TrackId};
use crate::render::sources::Sources;

/// Inspector state of the dialogue section.
#[derive(Clone, Debug, Default)]
pub struct AlignUiState {
    /// Isochrony's allowed factors.
    pub range: StretchRange,
    /// The tighter/looser slider's value and the clip it belongs to (kept while dragging).
    tightness: Option<(ClipId, f32)>,
}

/// A dub clip's timing against the slot it should fill.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimingBudget {
    /// The clip's length on the timeline (warped).
    pub dub: Time,
    /// Its unwarped source length.
    pub source: Time,
    /// The slot: the clip's cue, or the original speech it overlaps.
    pub slot: (Time, Time),
    /// The line's speech on the timeline (warped), or the whole clip when its speech is not
    /// known.
    pub line: (Time, Time),
    /// Whether the slot is the clip's cue (else original speech).
    pub from_cue: bool,
    /// The stretch factor in effect (1 without a warp).
    pub factor: f64,
    /// Line (speech) end minus slot end: positive runs over, negative ends early.
    pub over: Time,
    /// Line (speech) start minus slot start.
    pub start_offset: Time,
    /// Within one frame of the slot's end or earlier (green), else red.
    pub fits: bool,
}

/// The span (first start, last end) of the speech segments overlapping `from..to`.
pub fn overlapping_speech(speech: &[(Time, Time)], from: Time, to: Time) -> Option<(Time, Time)> {
    let mut hits = speech.iter().filter(|(s, e)| *s < to && *e > from);
    let first = hits.next()?;
    let last = hits.next_back().unwrap_or(first);
    Some((first.0, last.1))
}

/// Where the speech of a clip's line plays on the timeline: `dub_speech` are the speech
/// segments of its media (media time), cut to the clip's source range and mapped through its
/// warp. `None` when no speech falls inside the clip.
pub fn line_speech(c: &Clip, dub_speech: &[(Time, Time)]) -> Option<(Time, Time)> {
    let (a, b) = overlapping_speech(dub_speech, c.source_in, c.source_out)?;
    let at = |s: Time| {
        let off = s.clamp(c.source_in, c.source_out) - c.source_in;
        c.position + c.warp.as_ref().map_or(off, |w| w.source_to_output(off))
    };
    Some((at(a), at(b)))
}

/// The budget of a clip: against its cue when it came from one, else against the original
/// speech under its unwarped span; `None` when there is neither. With `dub_speech` (its
/// media's speech segments) the line's speech is compared, else the whole clip.
pub fn timing_budget(
    c: &Clip,
    speech: &[(Time, Time)],
    dub_speech: Option<&[(Time, Time)]>,
    rate: FrameRate,
) -> Option<TimingBudget> {
    let source = c.source_out - c.source_in;
    let (slot, from_cue) = match &c.cue {
        Some(cue) => ((cue.start, cue.end), true),
        None => {
            (overlapping_speech(speech, c.position, c.position + source.max(c.duration()))?, false)
        }
    };
    let line = dub_speech.and_then(|d| line_speech(c, d)).unwrap_or((c.position, c.end()));
    let over = line.1 - slot.1;
    Some(TimingBudget {
        dub: c.duration(),
        source,
        slot,
        line,
        from_cue,
        factor: c.warp.as_ref().map_or(1.0, |w| w.factor),
        over,
        start_offset: line.0 - slot.0,
        fits: over <= rate.frame_to_time(1),
    })
}

fn ms(t: Time) -> f64 {
    t.as_seconds_f64() * 1000.0
}

/// Runs auto-align on a clip: the edit that sets its warp and position, and a summary line.
pub fn align_edit(
    project: &Project,
    sources: Option<&Sources>,
    dialogue: Option<&[f32]>,
    id: ClipId,
    settings: &AlignSettings,
) -> Result<(Edit, String), String> {
    let (track, c) = clip(project, id).ok_or_else(|| format!("no clip with id {}", id.0))?;
    let buf = sources
        .and_then(|s| s.clips.get(&c.media))
        .ok_or("the clip's audio is still loading; try again in a moment")?;
    let mono = buf.mono();
    let from = (c.source_in.to_samples(buf.rate).max(0) as usize).min(mono.len());
    let to = (c.source_out.to_samples(buf.rate).max(0) as usize).clamp(from, mono.len());
    use anyhow::Context as _;
    let aligned = align_clip(c, &mono[from..to], dialogue, SAMPLE_RATE, settings)
        .map_err(anyhow::Error::from)
        .and_then(|a| {
            a.warp.validate()?;
            Ok(a)
        })
        .with_context(|| format!("aligning clip {}", id.0));
    // The edge of the app: the error chain as one line for the status bar.
    let a = aligned.map_err(|e| format!("{e:#}"))?;
    let summary = match a.fit {
        Some(f) => format!(
            "Isochrony: factor {:.3} ({}) into a {:.0} ms slot",
            f.factor,
            f.colour(),
            ms(a.slot.1 - a.slot.0)
        ),
        None => format!(
            "ADR: warp with {} points, overall factor {:.3}, tightness {:.2}",
            a.warp.points.len(),
            a.warp.factor,
            settings.tightness
        ),
    };
    let mut n = c.clone();
    n.warp = Some(a.warp);
    n.position = a.position;
    Ok((Edit::SetClip { track, clip: n }, summary))
}

/// Draws the timing budget and the auto-align controls of one clip.
pub fn align_ui(
    ui: &mut egui::Ui,
    project: &Project,
    track: TrackId,
    c: &Clip,
    waveforms: Option<&super::timeline::Waveforms>,
    state: &mut AlignUiState,
    out: &mut Vec<AppCommand>,
) {
    let rate = project.timeline.frame_rate;
    let speech = waveforms.map_or(&[][..], |w| w.speech.as_slice());
    let dub_speech = waveforms.and_then(|w| w.clip_speech.get(&c.media)).map(Vec::as_slice);
    ui.separator();
    ui.label(egui::RichText::new("Timing budget").strong());
    match timing_budget(c, speech, dub_speech, rate) {
        None => {
            ui.label("No cue and no original speech under this clip.");
        }
        Some(b) => {
            let colour = if b.fits {
                egui::Color32::from_rgb(90, 200, 110)
            } else {
                egui::Color32::from_rgb(240, 90, 80)
            };
            egui::Grid::new("timing-budget").num_columns(2).show(ui, |ui| {
                ui.label("Dub length");
                ui.monospace(format!("{:.0} ms (source {:.0} ms)", ms(b.dub), ms(b.source)));
                ui.end_row();
                ui.label(if b.from_cue { "Cue slot" } else { "Original speech" });
                ui.monospace(format!(
                    "{:.0}–{:.0} ms ({:.0} ms)",
                    ms(b.slot.0),
                    ms(b.slot.1),
                    ms(b.slot.1 - b.slot.0)
                ));
                ui.end_row();
                ui.label("Line speech");
                ui.monospace(format!(
                    "{:.0}–{:.0} ms ({:.0} ms)",
                    ms(b.line.0),
                    ms(b.line.1),
                    ms(b.line.1 - b.line.0)
                ));
                ui.end_row();
                ui.label("Stretch");
                ui.monospace(format!("{:.3}×", b.factor));
                ui.end_row();
                ui.label("Start offset");
                ui.monospace(format!("{:+.0} ms", ms(b.start_offset)));
                ui.end_row();
                ui.label("Over / under");
                let text = if b.over > Time::ZERO {
                    format!("{:.0} ms over", ms(b.over))
                } else {
                    format!("{:.0} ms under", ms(-b.over))
                };
                ui.label(egui::RichText::new(text).monospace().color(colour));
                ui.end_row();
            });
        }
    }
    ui.separator();
    ui.label(egui::RichText::new("Auto-align").strong());
    match &c.warp {
        Some(w) => ui.label(format!(
            "Warp: {} ({} points, {:.3}×)",
            w.mode.name(),
            w.points.len(),
            w.factor
        )),
        None => ui.label("Warp: none"),
    };
    let tightness = match state.tightness {
        Some((id, t)) if id == c.id => t,
        _ => c.warp.as_ref().map_or(0.5, |w| w.tightness),
    };
    let settings = |mode, tightness| AlignSettings { mode, range: state.range, tightness };
    ui.horizontal_wrapped(|ui| {
        if ui
            .button("Auto-align (ADR)")
            .on_hover_text("Same words: DTW time map onto the original line")
            .clicked()
        {
            out.push(AppCommand::AutoAlign {
                clip: c.id,
                settings: settings(AlignMode::Adr, tightness),
            });
        }
        if ui
            .button("Auto-align (isochrony)")
            .on_hover_text("A translation: one factor to fit the slot")
            .clicked()
        {
            out.push(AppCommand::AutoAlign {
                clip: c.id,
                settings: settings(AlignMode::Isochrony, tightness),
            });
        }
        if ui
            .add_enabled(c.warp.is_some(), egui::Button::new("Reset warp"))
            .on_hover_text("Play the line at its own speed again")
            .clicked()
        {
            let mut n = c.clone();
            n.warp = None;
            out.push(AppCommand::Edit {
                edit: Edit::SetClip { track, clip: n },
                label: "Reset warp".into(),
            });
        }
    });
    let mut t = tightness;
    let label = ui.label("Tighter / looser");
    let r = ui
        .add(egui::Slider::new(&mut t, 0.0..=1.0))
        .labelled_by(label.id)
        .on_hover_text("ADR: 0 follows the original closely, 1 keeps nearly one factor");
    if r.changed() {
        state.tightness = Some((c.id, t));
    }
    // Re-align when the slider is let go (or moved by keys), not on every drag step.
    if (r.drag_stopped() || (r.changed() && !r.dragged()))
        && c.warp.as_ref().is_some_and(|w| w.mode == AlignMode::Adr)
    {
        out.push(AppCommand::AutoAlign { clip: c.id, settings: settings(AlignMode::Adr, t) });
    }
    ui.horizontal(|ui| {
        let label = ui.label("Isochrony range");
        ui.add(egui::DragValue::new(&mut state.range.min).range(0.5..=1.0).speed(0.01))
            .labelled_by(label.id)
            .on_hover_text("Shortest factor");
        ui.label("–");
        ui.add(egui::DragValue::new(&mut state.range.max).range(1.0..=2.0).speed(0.01))
            .on_hover_text("Longest factor");
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ClipCue, MediaId};

    #[test]
    fn budget_against_speech_and_cue() {
        let rate = FrameRate::FPS_25;
        let ms = Time::from_millis;
        let mut c = Clip::whole(ClipId(1), "l".into(), MediaId(1), ms(2300), ms(1000));
        let speech =
            [(ms(0), ms(500)), (ms(900), ms(1800)), (ms(2000), ms(3000)), (ms(5000), ms(6000))];
        let b = timing_budget(&c, &speech, None, rate).unwrap();
        assert_eq!(b.slot, (ms(900), ms(3000)));
        assert_eq!((b.over, b.start_offset, b.fits), (ms(300), ms(100), false));
        c.warp = Some(crate::model::Warp::uniform(AlignMode::Isochrony, ms(2300), 0.87));
        let b = timing_budget(&c, &speech, None, rate).unwrap();
        assert!(b.fits, "{b:?}");
        assert!((b.factor - 0.87).abs() < 1e-9);
        c.cue = Some(ClipCue { start: ms(1000), end: ms(2500), text: String::new() });
        let b = timing_budget(&c, &[], None, rate).unwrap();
        assert!(b.from_cue && !b.fits);
        c.cue = None;
        assert!(timing_budget(&c, &[], None, rate).is_none());
        // With the line's own speech (0.2–2.0 s of its media) only the speech counts: the
        // trailing silence of the clip does not run over.
        let b = timing_budget(&c, &speech, Some(&[(ms(200), ms(2000))]), rate).unwrap();
        let w = c.warp.as_ref().unwrap();
        assert_eq!(
            b.line,
            (ms(1000) + w.source_to_output(ms(200)), ms(1000) + w.source_to_output(ms(2000)))
        );
        assert_eq!(b.over, b.line.1 - ms(3000));
        assert!(b.fits && b.over < Time::ZERO);
    }
}
