//! `edgecoder-inference`: serves decomposition and escalation to the swarm coordinator.

use anyhow::Context;
use clap::Parser;
use edgecoder_inference::review::auth::ApiKeys;
use edgecoder_inference::review::{ReviewConfig, api};
use edgecoder_inference::{Backend, LocalModel, OpenAiUpstream, ServerConfig, router};
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The EdgeCoder inference service: splits jobs into subtasks (`POST /v1/decompose`) and does
/// subtasks the agents could not (`POST /v1/escalate`), with the larger model on this machine or
/// an OpenAI-compatible upstream. With `--review-keys` it is also the cloud-review server devices
/// queue hard tasks to (`/review/v1`, see docs/handshake-openapi.json).
#[derive(Parser)]
#[command(name = "edgecoder-inference", version, about)]
struct Cli {
    /// A task other than serving.
    #[command(subcommand)]
    command: Option<Command>,
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// The local model: a catalog id (installed when missing) or a GGUF path.
    #[arg(long, default_value = "qwen2.5-coder-1.5b", conflicts_with = "upstream")]
    model: String,
    /// Compute threads of the local model (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// An OpenAI-compatible server to forward to instead of the local model (e.g.
    /// `http://127.0.0.1:11435`).
    #[arg(long, requires = "upstream_model")]
    upstream: Option<String>,
    /// The model name sent to the upstream.
    #[arg(long)]
    upstream_model: Option<String>,
    /// The environment variable holding the upstream's API key.
    #[arg(long, default_value = "EDGECODER_UPSTREAM_KEY")]
    upstream_key_env: String,
    /// Seconds one upstream call may take.
    #[arg(long, default_value_t = 300)]
    upstream_timeout: u64,
    /// Answers tried per request before it fails.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=10))]
    attempts: u32,
    /// A file holding the bearer token callers must send (none: no token needed).
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Serve the cloud-review API, accepting the API keys in this file (`NAME SHA256-HEX` lines;
    /// `edgecoder-inference api-key NAME --keys FILE` adds one).
    #[arg(long, value_name = "FILE")]
    review_keys: Option<PathBuf>,
    /// The base URL devices reach this server at: the audience its delegation tokens are bound
    /// to (default: http://LISTEN).
    #[arg(long, value_name = "URL", requires = "review_keys")]
    public_url: Option<String>,
    /// Minutes a delegation token lives.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=1440))]
    token_minutes: u64,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Make an API key for a device or user: prints the key once and adds its sha256 to the key
    /// file (created when missing, owner-only).
    ApiKey {
        /// Who the key is for (shown in the server's log).
        name: String,
        /// The key file.
        #[arg(long, value_name = "FILE")]
        keys: PathBuf,
    },
    /// Print the review API's OpenAPI document (JSON).
    Openapi,
}

fn add_api_key(name: &str, keys: &std::path::Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c)),
        "the name {name:?} must be letters, digits and -_.@ only"
    );
    let (key, line) = ApiKeys::generate(name);
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(keys).with_context(|| format!("cannot open the key file {}", keys.display()))?;
    writeln!(file, "{line}").and_then(|()| file.sync_all()).with_context(|| format!("cannot write {}", keys.display()))?;
    eprintln!("added a key for {name} to {} (only its sha256 is kept there); the key, shown once:", keys.display());
    println!("{key}");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::ApiKey { name, keys }) => return add_api_key(name, keys),
        Some(Command::Openapi) => {
            print!("{}", api::document());
            return Ok(());
        }
        None => {}
    }
    let review = match &cli.review_keys {
        Some(path) => {
            let keys = ApiKeys::load(path)?;
            let audience = cli.public_url.clone().unwrap_or_else(|| format!("http://{}", cli.listen));
            let mut config = ReviewConfig::new(&audience);
            config.token_lifetime_s = cli.token_minutes * 60;
            config.attempts = cli.attempts;
            Some((keys, config))
        }
        None => None,
    };
    let backend: Arc<dyn Backend> = match (&cli.upstream, &cli.upstream_model) {
        (Some(url), Some(model)) => {
            let key = std::env::var(&cli.upstream_key_env).ok().filter(|k| !k.is_empty());
            Arc::new(OpenAiUpstream::new(url, model, key, Duration::from_secs(cli.upstream_timeout)))
        }
        _ => {
            let (model, threads) = (cli.model.clone(), cli.threads);
            eprintln!("loading {model} …");
            Arc::new(tokio::task::spawn_blocking(move || LocalModel::load(&model, threads)).await??)
        }
    };
    let token = match &cli.token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the token file {}", path.display()))?
                .trim()
                .to_owned(),
        )
        .filter(|t| !t.is_empty()),
        None => None,
    };
    if cli.token_file.is_some() && token.is_none() {
        anyhow::bail!("the token file is empty: write a token into it, or leave out --token-file");
    }
    let config = ServerConfig { attempts: cli.attempts, token, review, ..ServerConfig::default() };
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("cannot listen on {}: choose another --listen address", cli.listen))?;
    eprintln!("edgecoder-inference: {} on http://{}", backend.name(), listener.local_addr()?);
    axum::serve(listener, router(backend, config))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    Ok(())
}

/// Resolves on Ctrl-C, and on SIGTERM where there are signals.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler installs");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
