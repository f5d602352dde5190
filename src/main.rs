//! The `redub` binary: the editor with no arguments or `edit`, else the command line.
//! (The cli never imports the app, so the split happens here.)

use std::ffi::OsString;

fn main() -> std::process::ExitCode {
    // Library code logs through tracing; this is where its lines reach the user.
    let _ = tracing::subscriber::set_global_default(StderrLog);
    // Arguments are paths, and paths need not be UTF-8: the command line (clap) takes them as
    // `OsString`s; only the editor's few arguments must be text.
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    match args.first().map(|a| a.to_str()) {
        None | Some(Some("edit" | "bench-timeline")) => {
            let mut text = Vec::with_capacity(args.len());
            for a in &args {
                match a.to_str() {
                    Some(s) => text.push(s.to_string()),
                    None => {
                        eprintln!(
                            "redub: {}: the editor's arguments must be UTF-8; rename the file or \
                             open it from the editor",
                            a.to_string_lossy()
                        );
                        return std::process::ExitCode::from(1);
                    }
                }
            }
            redub::app::main(&text)
        }
        _ => {
            quiet_headless_vulkan();
            redub::cli::main()
        }
    }
}

/// Mesa's Vulkan device-select layer connects to a Wayland display to order the GPUs; with no
/// display (a render on a server, over ssh) libwayland then prints "XDG_RUNTIME_DIR is invalid"
/// as the first line of a successful render. The command line opens no window, so the layer is
/// switched off for it (its own `NODEVICE_SELECT` switch) unless the user set that already.
fn quiet_headless_vulkan() {
    if std::env::var_os("NODEVICE_SELECT").is_none() {
        // SAFETY: the first thing the command line does, before any thread is started.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
}

/// The process's tracing subscriber: Redub's own events at INFO and above go to stderr as
/// `redub: <message>` (dependencies' events, e.g. ONNX Runtime's, are left out). No spans.
struct StderrLog;

impl tracing::Subscriber for StderrLog {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        *meta.level() <= tracing::Level::INFO && meta.target().starts_with("redub")
    }

    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }

    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}

    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}

    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        eprintln!("redub: {}", message.0);
    }

    fn enter(&self, _: &tracing::span::Id) {}

    fn exit(&self, _: &tracing::span::Id) {}
}
