//! `edgecoder`: the EdgeCoder command-line interface (see `edgecoder --help`).

fn main() -> std::process::ExitCode {
    // First: when started as a sandbox child, serve the request and exit.
    edgecoder_executor::sandbox::child_main_if_requested();
    edgecoder_daemon::cli::main()
}
