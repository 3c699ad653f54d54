//! `edgecoder-inference`: serves decomposition and escalation to the swarm coordinator.

use anyhow::Context;
use clap::Parser;
use edgecoder_inference::{Backend, LocalModel, OpenAiUpstream, ServerConfig, router};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The EdgeCoder inference service: splits jobs into subtasks (`POST /v1/decompose`) and does
/// subtasks the agents could not (`POST /v1/escalate`), with the larger model on this machine or
/// an OpenAI-compatible upstream.
#[derive(Parser)]
#[command(name = "edgecoder-inference", version, about)]
struct Cli {
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
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
    let config = ServerConfig { attempts: cli.attempts, token, ..ServerConfig::default() };
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
