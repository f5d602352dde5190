//! The `redub` binary: the editor with no arguments or `edit`, else the command line.
//! (The cli never imports the app, so the split happens here.)

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("edit") | Some("bench-timeline") => redub::app::main(&args),
        _ => redub::cli::main(),
    }
}
