//! `edgecoder serve` and the `edgecoderd` binary: run the daemon in the foreground until
//! SIGTERM/SIGINT.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::anyhow;
use clap::{Args, Parser};

use super::{Execute, Exit, Failure, LogFormat};
use crate::server::config::Config;

/// Run the daemon in the foreground.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// The config file (default: `$XDG_CONFIG_HOME/edgecoder/edgecoderd.toml`).
    #[arg(long, env = "EDGECODER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also listen on this TCP address (loopback unless the config allows others), e.g.
    /// `127.0.0.1:11435`; port 0 picks a free port.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// The model to load (a catalog id or a GGUF path), instead of the config's.
    #[arg(long, value_name = "ID")]
    pub model: Option<String>,
    /// Sandbox children kept warm for process-isolated runs (MCP tools, swarm work): started
    /// ahead, already confined, interpreter built; 0 starts a fresh child for every run.
    #[arg(long, env = "EDGECODER_WARM_SANDBOX_CHILDREN", default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u16).range(0..=16))]
    pub warm_sandbox_children: u16,
}

impl ServeArgs {
    /// The config file with the command-line overrides applied.
    pub fn config(&self) -> Result<Config, Failure> {
        let mut config = Config::load(self.config.as_deref()).map_err(|e| Failure::new(Exit::Usage, e))?;
        if let Some(listen) = self.listen {
            config.listen = Some(listen);
        }
        if let Some(model) = &self.model {
            config.model = model.clone();
        }
        config.validate().map_err(|e| Failure::new(Exit::Usage, e))?;
        Ok(config)
    }
}

impl Execute for ServeArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let config = self.config()?;
        edgecoder_executor::sandbox::set_warm_children(usize::from(self.warm_sandbox_children));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::new(Exit::Failed, anyhow!("cannot start the async runtime: {e}")))?;
        runtime
            .block_on(crate::server::run(config))
            .map_err(|e| Failure::new(Exit::Failed, e))?;
        Ok(Exit::Ok)
    }
}

/// `edgecoderd`: the EdgeCoder daemon. It serves the on-device model over OpenAI- and
/// Ollama-compatible APIs on a unix socket (and optionally 127.0.0.1:PORT) until SIGTERM.
#[derive(Debug, Parser)]
#[command(name = "edgecoderd", version)]
struct DaemonCli {
    /// Log format on stderr (under systemd: native journal entries instead).
    #[arg(long, value_enum, default_value_t = LogFormat::Pretty)]
    log_format: LogFormat,
    #[command(flatten)]
    serve: ServeArgs,
}

/// Installs the daemon's logging (`RUST_LOG`, default `info`). Under systemd (stderr connected
/// to the journal, `JOURNAL_STREAM` set) events go to journald natively, with their fields and
/// spans as journal fields; when the journal socket is missing, compact lines go to stderr
/// instead. Otherwise pretty or JSON lines go to stderr.
fn init_logging(format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let stderr = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let mut journal_error = None;
    let installed = if std::env::var_os("JOURNAL_STREAM").is_some() {
        match tracing_journald::layer() {
            Ok(journal) => registry.with(journal.with_syslog_identifier("edgecoderd".into())).try_init(),
            Err(error) => {
                journal_error = Some(error);
                // The journal stamps time and unit itself.
                registry.with(stderr.without_time().with_ansi(false).compact()).try_init()
            }
        }
    } else {
        match format {
            LogFormat::Pretty => registry.with(stderr).try_init(),
            LogFormat::Json => registry.with(stderr.json()).try_init(),
        }
    };
    match installed {
        Err(error) => eprintln!("edgecoderd: logging is not available: {error}"),
        Ok(()) => {
            if let Some(error) = journal_error {
                tracing::warn!(%error, "JOURNAL_STREAM is set but the journal socket cannot be used: logging to stderr");
            }
        }
    }
}

/// The `edgecoderd` binary's main: parse flags, log, serve.
pub fn daemon_main() -> ExitCode {
    let cli = DaemonCli::parse();
    init_logging(cli.log_format);
    match cli.serve.execute() {
        Ok(exit) => exit.into(),
        Err(failure) => {
            eprintln!("edgecoderd: {:#}", failure.error);
            failure.exit.into()
        }
    }
}
