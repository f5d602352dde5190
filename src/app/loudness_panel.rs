//! The EBU R128 meter panel: momentary, short-term, integrated, loudness range and true peak of
//! what the audio output plays (fed by the playback mixer's tap), plus the figures measured on
//! the last exported file.

use crate::dsp::SAMPLE_RATE;
use crate::dsp::loudness::{LoudnessMeter, LoudnessReport, measure};
use crate::dsp::mix::CHANNELS;
use crate::jobs::Task;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

/// Chunks the tap may queue before the meter drops some (about 5 s of audio).
const TAP_CHUNKS: usize = 256;

/// The live values shown by the meter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LiveLoudness {
    /// Last 400 ms, LUFS.
    pub momentary: f64,
    /// Last 3 s, LUFS.
    pub short_term: f64,
    /// Integrated since the last reset, LUFS.
    pub integrated: f64,
    /// Loudness range since the last reset, LU.
    pub range: f64,
    /// Highest true peak since the last reset, dBTP.
    pub true_peak: f64,
    /// Seconds metered since the last reset.
    pub seconds: f64,
}

/// What the export measurement reports.
type ExportMeasure = Result<(PathBuf, LoudnessReport), String>;

/// State of the meter panel.
pub struct LoudnessPanel {
    /// Window shown.
    pub open: bool,
    meter: Option<LoudnessMeter>,
    tx: SyncSender<Vec<f32>>,
    rx: Receiver<Vec<f32>>,
    /// Current values (`None` before any audio was metered).
    pub live: Option<LiveLoudness>,
    /// The last export's measured figures.
    pub export: Option<ExportMeasure>,
    export_task: Option<Task<ExportMeasure>>,
}

impl Default for LoudnessPanel {
    fn default() -> Self {
        let (tx, rx) = sync_channel(TAP_CHUNKS);
        Self { open: false, meter: None, tx, rx, live: None, export: None, export_task: None }
    }
}

fn fmt(v: f64, unit: &str) -> String {
    if v.is_finite() { format!("{v:6.1} {unit}") } else { format!("  -inf {unit}") }
}

impl LoudnessPanel {
    /// The sending end for the playback mixer's tap.
    pub fn tap(&self) -> SyncSender<Vec<f32>> {
        self.tx.clone()
    }

    /// Starts metering afresh.
    pub fn reset(&mut self) {
        while self.rx.try_recv().is_ok() {}
        self.meter = None;
        self.live = None;
    }

    /// Feeds interleaved stereo 48 kHz samples (what the output played).
    pub fn push(&mut self, samples: &[f32]) {
        if self.meter.is_none() {
            self.meter = LoudnessMeter::new(CHANNELS, SAMPLE_RATE).ok();
        }
        let Some(m) = self.meter.as_mut() else { return };
        if m.push(samples).is_err() {
            return;
        }
        let (Ok(momentary), Ok(short_term), Ok(r)) = (m.momentary(), m.short_term(), m.report())
        else {
            return;
        };
        self.live = Some(LiveLoudness {
            momentary,
            short_term,
            integrated: r.integrated_lufs,
            range: r.loudness_range_lu,
            true_peak: r.true_peak_dbtp,
            seconds: r.duration_s,
        });
    }

    /// Drains the tap and the export measurement; true when something changed.
    pub fn poll(&mut self) -> bool {
        let chunks: Vec<Vec<f32>> = self.rx.try_iter().collect();
        if !chunks.is_empty() {
            let joined: Vec<f32> = chunks.concat();
            self.push(&joined);
        }
        let mut changed = !chunks.is_empty();
        if let Some(task) = &mut self.export_task
            && let Some(r) = task.try_recv()
        {
            self.export = Some(r);
            self.export_task = None;
            changed = true;
        }
        changed
    }

    /// Whether the export measurement is still running.
    pub fn measuring(&self) -> bool {
        self.export_task.is_some()
    }

    /// Measures an exported file on a worker thread (decoded back from disk, so the figures are
    /// those of the file as written).
    pub fn measure_export(&mut self, file: &Path, ctx: &egui::Context) {
        let file = file.to_path_buf();
        let ctx = ctx.clone();
        let spawned = Task::spawn("export-loudness", 1, move |_, out| {
            use anyhow::Context as _;
            // The edge of the app: the chain of errors with the file, as one line.
            let r = crate::media::decode_audio(&file, None)
                .map_err(anyhow::Error::from)
                .and_then(|a| Ok(measure(&a.samples, usize::from(a.channels), a.rate)?))
                .with_context(|| format!("measuring the loudness of {}", file.display()))
                .map_err(|e| format!("{e:#}"))
                .map(|r| (file, r));
            out.send(r);
            ctx.request_repaint();
        });
        match spawned {
            // Measured in the background; the panel shows it when the user opens it (View >
            // Loudness meter), instead of popping up over every finished export.
            Ok(task) => self.export_task = Some(task),
            Err(e) => self.export = Some(Err(e.to_string())),
        }
    }

    /// Draws the panel as a window.
    pub fn ui(&mut self, ctx: &egui::Context) {
        if !self.open {
            return;
        }
        let mut open = true;
        let mut reset = false;
        egui::Window::new("Loudness (EBU R128)").open(&mut open).default_size([260.0, 220.0]).show(
            ctx,
            |ui| {
                ui.label(egui::RichText::new("Playback").strong());
                let l = self.live;
                egui::Grid::new("loudness-live").num_columns(2).show(ui, |ui| {
                    let rows: [(&str, Option<String>); 6] = [
                        ("Momentary", l.map(|l| fmt(l.momentary, "LUFS"))),
                        ("Short-term", l.map(|l| fmt(l.short_term, "LUFS"))),
                        ("Integrated", l.map(|l| fmt(l.integrated, "LUFS"))),
                        ("Loudness range", l.map(|l| fmt(l.range, "LU"))),
                        ("True peak", l.map(|l| fmt(l.true_peak, "dBTP"))),
                        ("Metered", l.map(|l| format!("{:6.1} s", l.seconds))),
                    ];
                    for (name, v) in rows {
                        ui.label(name);
                        let text = v.unwrap_or_else(|| "—".into());
                        let over = name == "True peak" && l.is_some_and(|l| l.true_peak > -1.0);
                        let rich = egui::RichText::new(text).monospace();
                        ui.label(if over {
                            rich.color(egui::Color32::from_rgb(240, 90, 80))
                        } else {
                            rich
                        });
                        ui.end_row();
                    }
                });
                if ui.button("Reset meter").on_hover_text("Start metering afresh").clicked() {
                    reset = true;
                }
                ui.separator();
                ui.label(egui::RichText::new("Last export").strong());
                match &self.export {
                    _ if self.export_task.is_some() => {
                        ui.horizontal(|ui| {
                            ui.spinner();
                            ui.label("Measuring the exported file…");
                        });
                    }
                    None => {
                        ui.label("No export measured yet.");
                    }
                    Some(Err(e)) => {
                        ui.colored_label(egui::Color32::from_rgb(240, 90, 80), e);
                    }
                    Some(Ok((file, r))) => {
                        ui.label(
                            file.file_name()
                                .map(|n| n.to_string_lossy().into_owned())
                                .unwrap_or_default(),
                        );
                        egui::Grid::new("loudness-export").num_columns(2).show(ui, |ui| {
                            for (name, v) in [
                                ("Export integrated", fmt(r.integrated_lufs, "LUFS")),
                                ("Export range", fmt(r.loudness_range_lu, "LU")),
                                ("Export true peak", fmt(r.true_peak_dbtp, "dBTP")),
                                ("Export momentary max", fmt(r.momentary_max_lufs, "LUFS")),
                                ("Export short-term max", fmt(r.short_term_max_lufs, "LUFS")),
                            ] {
                                ui.label(name);
                                ui.monospace(v);
                                ui.end_row();
                            }
                        });
                    }
                }
            },
        );
        if reset {
            self.reset();
        }
        self.open = open;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tapped_sine_reads_its_level_and_reset_clears() {
        let mut p = LoudnessPanel::default();
        // 1 kHz at −20 dBFS in both channels, fed in output-sized chunks: the live figures must
        // equal a measurement of the whole signal at once.
        let amp = 10f32.powf(-20.0 / 20.0);
        let tone: Vec<f32> = (0..48_000 * 4)
            .flat_map(|i| {
                let v = amp * (std::f32::consts::TAU * 1000.0 * i as f32 / 48_000.0).sin();
                [v, v]
            })
            .collect();
        for chunk in tone.chunks(2048) {
            p.tap().send(chunk.to_vec()).unwrap();
            p.poll();
        }
        let whole = measure(&tone, 2, 48_000).unwrap();
        let l = p.live.unwrap();
        assert!((l.integrated - whole.integrated_lufs).abs() < 0.05, "{l:?} vs {whole:?}");
        assert!((l.momentary - whole.integrated_lufs).abs() < 0.1, "{l:?}");
        assert!((l.true_peak - (-20.0)).abs() < 0.2, "{l:?}");
        assert!((l.seconds - 4.0).abs() < 1e-6);
        p.reset();
        assert!(p.live.is_none());
    }
}
