//! The desktop editor (eframe on wgpu): viewer, timeline, media bin, inspector, export dialog.
//! Panels read the state and emit [`command::AppCommand`]s; [`RedubApp`] applies them once per
//! frame. Nothing else in the crate imports this module.

pub mod align_ui;
pub mod bench;
pub mod bundle_ui;
pub mod command;
mod editor;
pub mod export_dialog;
pub mod faces;
pub mod farm_dialog;
pub mod file_browser;
pub mod inspector;
pub mod keys;
pub mod lip_lane;
pub mod lip_ui;
pub mod loudness_panel;
pub mod markers_ui;
pub mod mask_paint;
pub mod me_track;
pub mod media_bin;
pub mod models_ui;
pub mod overlay;
pub mod playback;
pub mod preview;
pub mod script;
pub mod speakers;
pub mod storage;
pub mod thumbs;
pub mod timeline;
pub mod viewer;

pub use editor::{AfterPrompt, AppOptions, LogEntry, RedubApp};

use std::path::PathBuf;
use std::process::ExitCode;

/// The edge of the app: an error with its context and sources as one line for the status bar,
/// a toast or a dialog. A source whose text the line already holds (a message that quotes its
/// cause) is not repeated.
pub(crate) fn error_line(e: impl Into<anyhow::Error>) -> String {
    let e = e.into();
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.is_empty() {
            line = text;
        } else if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
    }
    line
}

/// Usage of `redub edit`.
const USAGE: &str = "usage: redub edit [PROJECT | VIDEO] [--script STEPS]   (a video opens as a new project)\n       redub bench-timeline [--clips N] [--tracks N] [--frames N]";

/// Runs `redub` with no subcommand, `redub edit [PROJECT]`, or `redub bench-timeline`.
/// `args` are the process arguments after the program name.
pub fn main(args: &[String]) -> ExitCode {
    let mut args: &[String] = args;
    if args.first().map(String::as_str) == Some("bench-timeline") {
        return bench::main(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("edit") {
        args = &args[1..];
    }
    let mut options = AppOptions { audio: true, ..AppOptions::default() };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--script" => options.script = it.next().cloned(),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            s if s.starts_with('-') => {
                eprintln!("redub: unknown option {s}\n{USAGE}");
                return ExitCode::from(1);
            }
            s => options.project = Some(PathBuf::from(s)),
        }
    }
    match run(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redub: cannot start the editor: {e}");
            ExitCode::from(2)
        }
    }
}

/// Gives the lip compositor the window's wgpu device (one device for drawing and compositing;
/// a software rasteriser is still refused in favour of the CPU compositor).
pub fn share_render_device(cc: &eframe::CreationContext<'_>) {
    if let Some(rs) = cc.wgpu_render_state.as_ref() {
        let msg = crate::render::compositor::gpu::install_shared(
            &rs.adapter.get_info(),
            rs.device.clone(),
            rs.queue.clone(),
        );
        tracing::info!("{msg}");
    }
}

/// Opens the editor window and runs until it closes.
pub fn run(options: AppOptions) -> Result<(), eframe::Error> {
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_inner_size([1440.0, 900.0])
            .with_min_inner_size([900.0, 600.0])
            .with_title("Redub")
            .with_app_id("redub"),
        ..Default::default()
    };
    eframe::run_native(
        "Redub",
        native,
        Box::new(move |cc| {
            share_render_device(cc);
            Ok(Box::new(RedubApp::new(cc.egui_ctx.clone(), options)))
        }),
    )
}
