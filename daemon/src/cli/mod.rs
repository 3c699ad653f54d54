//! The `edgecoder` command line: one module per subcommand, registered in [`subcommands!`].
//!
//! To add a subcommand, write `cli/NAME.rs` with a `clap::Args` struct that implements
//! [`Execute`], then add one line to the `subcommands!` list below.

use clap::{Parser, Subcommand, ValueEnum};
use std::process::ExitCode;

/// The exit codes of every `edgecoder` command, as documented in `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: the program ran without error, or every test passed.
    Ok = 0,
    /// 1: the program raised an error, a test failed, or the sandbox failed.
    Failed = 1,
    /// 2: the command line was wrong (also used by clap for its own usage errors).
    Usage = 2,
    /// 3: the code is outside the on-device subset (see `edgecoder check`).
    OutsideSubset = 3,
    /// 4: a limit was hit: time, steps, memory or output.
    Limit = 4,
    /// 5: a file could not be read or written.
    Io = 5,
    /// 6: the daemon is not running, or it refused the request.
    Daemon = 6,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

/// An error that ends a command: what to tell the user and which exit code to use.
#[derive(Debug)]
pub struct Failure {
    /// The exit code.
    pub exit: Exit,
    /// The message, which names the fix.
    pub error: anyhow::Error,
}

impl Failure {
    /// A failure with this exit code and message.
    pub fn new(exit: Exit, error: impl Into<anyhow::Error>) -> Failure {
        Failure {
            exit,
            error: error.into(),
        }
    }
}

/// What every subcommand implements: run it and say how the process should exit.
pub trait Execute {
    /// Runs the subcommand.
    fn execute(self) -> Result<Exit, Failure>;
}

const EXIT_CODES: &str = "\
Exit codes:
  0  ok: the program ran without error, or every test passed
  1  the program raised an error, a test failed, or the sandbox failed
  2  usage error (bad flags, unknown language)
  3  the code is outside the on-device subset (reason code printed)
  4  a limit was hit: timeout, steps, memory or output
  5  a file could not be read or written
  6  the daemon is not running, or it refused the request

Logs go to stderr; set RUST_LOG (e.g. RUST_LOG=debug) to see more.";

/// Declares the subcommands: one line each, `Variant(module::ArgsType)`, with its help text.
macro_rules! subcommands {
    ($($(#[doc = $doc:literal])* $variant:ident($module:ident :: $args:ident),)*) => {
        $(pub mod $module;)*

        /// The subcommands.
        #[derive(Debug, Subcommand)]
        pub enum Command {
            $($(#[doc = $doc])* $variant($module::$args),)*
        }

        impl Execute for Command {
            fn execute(self) -> Result<Exit, Failure> {
                match self {
                    $(Command::$variant(args) => args.execute(),)*
                }
            }
        }
    };
}

subcommands! {
    /// Run a Python or JavaScript file in the sandboxed executor (or its tests with --tests).
    Run(run::RunArgs),
    /// Check whether a file is inside the on-device subset, without running it.
    Check(check::CheckArgs),
    /// Measure the executor against `python3 -c` and `node -e`.
    Bench(bench::BenchArgs),
    /// Fetch models into the store (`model pull`), list them, print paths, summarize GGUF files.
    Model(model::ModelArgs),
    /// Generate text with the on-device model, streamed, then a summary (or JSON with --json).
    Generate(generate::GenerateArgs),
    /// Run the daemon (edgecoderd) in the foreground.
    Serve(serve::ServeArgs),
    /// Print the daemon's bearer token (the API key for IDEs).
    Token(token::TokenArgs),
    /// Show the running daemon's providers, model and queue.
    Status(status::StatusArgs),
    /// List the running daemon's models, or load another (`models load ID`).
    Models(models::ModelsArgs),
    /// Chat with the running daemon's model.
    Chat(chat::ChatArgs),
    /// Switch the running daemon's provider (`provider use NAME`).
    Provider(provider::ProviderArgs),
    /// Serve the MCP tools (run_python, run_js, check_subset, generate) over stdio.
    Mcp(mcp::McpArgs),
    /// Plan, write, test and fix code for a task with the on-device model (the agent).
    Code(code::CodeArgs),
    /// List, show or remove the tasks queued for cloud review.
    Queue(queue::QueueArgs),
    /// Run a benchmark (HumanEval) through the agent and report pass@1.
    Eval(eval::EvalArgs),
    /// Search a workspace's code and docs (BM25, vector or fused), indexing changes first.
    Search(search::SearchArgs),
    /// Decode a captured swarm (MQTT) payload into JSON, or say why the swarm would reject it.
    Decode(decode::DecodeArgs),
    /// Lend this device to a swarm: enrol, probe the sandbox, run the worker.
    Worker(worker::WorkerArgs),
    /// Distil a teacher model into a small student: executor-verified data, training, export.
    Distill(distill::DistillArgs),
}

/// The module of `edgecoder bench model` (a target of [`bench::BenchTarget`]).
pub mod bench_model;

/// The module of `edgecoder bench api` (a target of [`bench::BenchTarget`]).
pub mod bench_api;
/// The module of `edgecoder bench retrieval` (a target of [`bench::BenchTarget`]).
pub mod bench_retrieval;
pub mod bench_rollout;
pub mod bench_review;
/// The module of `edgecoder bench perplexity` (a target of [`bench::BenchTarget`]).
pub mod bench_perplexity;
/// The HTTP client the CLI commands use to talk to a running daemon over its socket.
pub mod client;

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable, multi-line.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// EdgeCoder: an on-device coding agent. This CLI runs code in its sandboxed Python and
/// JavaScript executor.
#[derive(Debug, Parser)]
#[command(name = "edgecoder", version, after_help = EXIT_CODES, after_long_help = EXIT_CODES)]
pub struct Cli {
    /// Log format on stderr (the level comes from RUST_LOG, default `warn`).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Pretty => builder.pretty().try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    if let Err(error) = installed {
        eprintln!("edgecoder: logging is not available: {error}");
    }
}

/// Parses the command line, runs the subcommand and returns the process exit code. Binaries
/// call `edgecoder_executor::sandbox::child_main_if_requested()` before this.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    match cli.command.execute() {
        Ok(exit) => exit.into(),
        Err(failure) => {
            eprintln!("edgecoder: {:#}", failure.error);
            failure.exit.into()
        }
    }
}

/// Reads a source file, with an error that names the fix.
pub(crate) fn read_source(path: &std::path::Path) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|error| {
        let shown = path.display();
        let message = match error.kind() {
            std::io::ErrorKind::NotFound => format!("file not found: {shown} — check the path"),
            std::io::ErrorKind::PermissionDenied => {
                format!("cannot read {shown}: permission denied — check the file's permissions")
            }
            std::io::ErrorKind::InvalidData => {
                format!("cannot read {shown}: it is not UTF-8 text — pass a source file")
            }
            std::io::ErrorKind::IsADirectory => {
                format!("cannot read {shown}: it is a directory — pass a source file")
            }
            _ => format!("cannot read {shown}: {error}"),
        };
        Failure::new(Exit::Io, anyhow::anyhow!(message))
    })
}

/// The language of `path`: `explicit` when given, else guessed from the extension.
pub(crate) fn language(
    path: &std::path::Path,
    explicit: Option<edgecoder_executor::Lang>,
) -> Result<edgecoder_executor::Lang, Failure> {
    if let Some(lang) = explicit {
        return Ok(lang);
    }
    edgecoder_executor::Lang::from_path(&path.to_string_lossy()).ok_or_else(|| {
        Failure::new(
            Exit::Usage,
            anyhow::anyhow!(
                "cannot tell the language of {} from its extension — pass --lang py or --lang js",
                path.display()
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn help_documents_every_exit_code() {
        let help = Cli::command().render_long_help().to_string();
        for code in [
            "0  ok",
            "1  the program",
            "2  usage",
            "3  the code is outside",
            "4  a limit",
            "5  a file",
            "6  the daemon",
        ] {
            assert!(help.contains(code), "missing `{code}` in:\n{help}");
        }
    }

    #[test]
    fn missing_files_name_the_fix() {
        let failure = read_source(std::path::Path::new("/no/such/x.py")).unwrap_err();
        assert_eq!(failure.exit, Exit::Io);
        assert_eq!(
            failure.error.to_string(),
            "file not found: /no/such/x.py — check the path"
        );
        let dir = read_source(std::path::Path::new("/")).unwrap_err();
        assert_eq!(dir.exit, Exit::Io);
    }

    #[test]
    fn the_language_comes_from_the_flag_or_the_extension() {
        use edgecoder_executor::Lang;
        let p = std::path::Path::new("a/b.js");
        assert_eq!(language(p, None).unwrap(), Lang::JavaScript);
        assert_eq!(language(p, Some(Lang::Python)).unwrap(), Lang::Python);
        let unknown = language(std::path::Path::new("notes.txt"), None).unwrap_err();
        assert_eq!(unknown.exit, Exit::Usage);
        assert!(unknown.error.to_string().contains("--lang py"));
    }
}
