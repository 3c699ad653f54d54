//! `edgecoder`: the EdgeCoder command-line interface (see `edgecoder --help`).

/// Counts each thread's heap use, so the Python executor's memory budget sees gradual growth.
#[global_allocator]
static HEAP: edgecoder_executor::python::HeapCounter = edgecoder_executor::python::HeapCounter;

fn main() -> std::process::ExitCode {
    // First: when started as a sandbox child, serve the request and exit.
    edgecoder_executor::sandbox::child_main_if_requested();
    edgecoder_daemon::cli::main()
}
