//! The `redub` command line: see `redub --help`.

fn main() -> std::process::ExitCode {
    redub::cli::main()
}
