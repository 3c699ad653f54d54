//! `edgecoderd`: the EdgeCoder daemon (`edgecoderd --help`). `edgecoder serve` runs the same
//! daemon in the foreground.

/// Counts each thread's heap use, so the Python executor's memory budget sees gradual growth.
#[global_allocator]
static HEAP: edgecoder_executor::python::HeapCounter = edgecoder_executor::python::HeapCounter;

fn main() -> std::process::ExitCode {
    // First: when started as a sandbox child, serve the request and exit.
    edgecoder_executor::sandbox::child_main_if_requested();
    edgecoder_daemon::cli::serve::daemon_main()
}
