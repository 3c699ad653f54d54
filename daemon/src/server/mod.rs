//! The daemon: configuration, token, listeners, the middleware every request passes (tracing
//! span, metrics, timeouts, body limit, Host/Origin and token checks), systemd notification
//! and graceful shutdown. The APIs themselves are in [`crate::api`].
//!
//! ```no_run
//! # async fn example() -> Result<(), edgecoder_daemon::server::ServerError> {
//! let config = edgecoder_daemon::server::config::Config::load(None)?;
//! edgecoder_daemon::server::run(config).await
//! # }
//! ```

pub mod config;
pub mod guard;
pub mod listen;
pub mod metrics;
pub mod notify;
pub mod token;

use std::sync::{Arc, RwLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::Response;
use edgecoder_model::engine::{Backend, LoadOptions};
use tokio::sync::watch;
use tower_http::timeout::{RequestBodyDeadlineLayer, TimeoutLayer};
use tower_http::trace::{DefaultMakeSpan, TraceLayer};

use crate::providers::local::LocalProvider;
use tracing::Instrument;
use crate::providers::ollama::OllamaProvider;
use crate::providers::openai::OpenAiProvider;
use crate::providers::{Provider, ProviderError, Providers};
use config::{Config, ConfigError};
use metrics::{Metrics, RequestLabels};

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The token file is unusable.
    #[error(transparent)]
    Token(#[from] token::TokenError),
    /// A provider could not be set up.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// A listener could not be bound.
    #[error("cannot listen on {what}: {error}")]
    Bind {
        /// The address or socket path.
        what: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// Another start-up step failed.
    #[error("{0}")]
    Other(String),
}

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The configuration.
    pub config: Arc<Config>,
    /// The providers and the active one.
    pub providers: Arc<Providers>,
    /// Prometheus metrics.
    pub metrics: Arc<Metrics>,
    /// When the daemon started.
    pub started: Instant,
    /// The bearer token.
    pub token: Arc<str>,
    /// Where the daemon listens (`unix:PATH`, `http://ADDR`).
    pub listening: Arc<RwLock<Vec<String>>>,
    /// The agent's tasks.
    pub tasks: Arc<crate::api::tasks::AgentTasks>,
}

impl AppState {
    /// Builds the providers of `config` and loads its model (a model that fails to load leaves
    /// `edgecoder-local` answering 503 with the reason until another is loaded).
    pub async fn new(config: Config, token: String) -> Result<AppState, ServerError> {
        let backend = Backend::from_name(&config.backend).ok_or_else(|| {
            ConfigError::Invalid(format!("unknown backend {:?}: use flex, ndarray or wgpu", config.backend))
        })?;
        let mut options = LoadOptions { backend, ..LoadOptions::default() };
        if let Some(threads) = config.threads {
            options.threads = threads.max(1);
        }
        let local = LocalProvider::start(options, config.queue_capacity)
            .map_err(|e| ServerError::Other(format!("cannot start the engine thread: {e}")))?;
        notify::status(&format!("loading {}", config.model));
        if let Err(error) = local.load(&config.model).await {
            tracing::warn!(%error, "no model loaded");
            eprintln!("edgecoderd: {error} — edgecoder-local answers 503 until a model loads (`edgecoder models load ID`)");
        }
        follow_model_updates(local.clone());
        let connect = std::time::Duration::from_secs(config.upstream_connect_timeout_secs);
        let idle = std::time::Duration::from_secs(config.upstream_idle_timeout_secs);
        let client = || crate::providers::upstream_client(connect, idle, config.upstream_ca_file.as_deref());
        let mut upstreams: Vec<Arc<dyn Provider>> = Vec::new();
        if let Some(url) = &config.openai_url {
            upstreams.push(Arc::new(OpenAiProvider::new(url, config.openai_api_key.clone(), client()?)));
        }
        if let Some(url) = &config.ollama_url {
            upstreams.push(Arc::new(OllamaProvider::new(url, config.ollama_api_key.clone(), client()?)));
        }
        let providers = Providers::new(local, upstreams, &config.provider)?;
        let metrics = Arc::new(Metrics::new());
        Ok(AppState {
            providers: Arc::new(providers),
            metrics: metrics.clone(),
            started: Instant::now(),
            token: token.into(),
            listening: Arc::default(),
            tasks: Arc::new(crate::api::tasks::AgentTasks::new(config.agent_tasks, metrics)),
            config: Arc::new(config),
        })
    }
}

/// How often the local model's file is looked up again.
const MODEL_WATCH: std::time::Duration = std::time::Duration::from_secs(5);

/// Hot-reloads the local model when its file changes under the same id: an over-the-air
/// install (`edgecoder model install`, or the swarm worker) switches the model's active A/B
/// slot, and new requests then go to the new model while those in flight finish on the old one.
/// A model that fails to load is not tried again until its file changes; the old one serves.
fn follow_model_updates(local: Arc<LocalProvider>) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(MODEL_WATCH);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failed: Option<std::path::PathBuf> = None;
        loop {
            interval.tick().await;
            let Ok(current) = local.current() else { continue };
            if std::path::Path::new(&current.source).is_file() {
                continue;
            }
            let source = current.source.clone();
            let Ok(Ok(resolved)) = tokio::task::spawn_blocking(move || crate::providers::local::resolve(&source)).await else {
                continue;
            };
            if resolved.path == current.path || failed.as_ref() == Some(&resolved.path) {
                continue;
            }
            let span = tracing::info_span!("model_update", model = %current.source, to = %resolved.path.display());
            failed = async {
                tracing::info!(from = %current.path.display(), "the model's file changed; loading it");
                match local.load(&current.source).await {
                    Ok(_) => {
                        tracing::info!("now serving the updated model");
                        None
                    }
                    Err(error) => {
                        tracing::warn!(%error, "the updated model did not load; the previous one keeps serving");
                        Some(resolved.path)
                    }
                }
            }
            .instrument(span)
            .await;
        }
    });
}

/// The whole HTTP application: the API routes behind the middleware stack.
pub fn app(state: AppState) -> Router {
    let config = state.config.clone();
    crate::api::router(state.clone())
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), guard::guard))
        .layer(RequestBodyDeadlineLayer::new(config.body_timeout()))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.request_timeout()))
        .layer(middleware::from_fn_with_state(state, track))
        .layer(TraceLayer::new_for_http().make_span_with(DefaultMakeSpan::new().level(tracing::Level::INFO)))
}

/// Counts requests by route and status.
async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let route = if crate::api::ROUTES.contains(&path) { path.to_owned() } else { "other".to_owned() };
    state.metrics.in_flight.inc();
    let response = next.run(request).await;
    state.metrics.in_flight.dec();
    state.metrics.requests.get_or_create(&RequestLabels { route, status: response.status().as_u16() }).inc();
    response
}

/// Resolves on SIGTERM or SIGINT (the daemon and the swarm worker stop on it).
pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// Follows the cloud-review queue while the daemon runs, when a review server is configured:
/// entries the user sent go out (with backoff while the server is out of reach), results are
/// fetched into the queue (and logged, so `journalctl` and the IDE's log show them), decisions
/// are reported. Nothing is sent that the user did not release with `edgecoder queue send`.
fn follow_reviews(config: &Config) {
    let every = std::time::Duration::from_secs(config.review_sync_secs);
    let setup = || -> Result<_, String> {
        let Some(client) = config.review_client().map_err(|e| e.to_string())? else { return Ok(None) };
        let redactor = crate::handshake::Redactor::new(&config.redact_patterns).map_err(|e| e.to_string())?;
        let queue = crate::agent::CloudQueue::from_env().map_err(|e| e.to_string())?;
        Ok(Some((client, redactor, queue)))
    };
    let (mut client, redactor, queue) = match setup() {
        Ok(Some(parts)) => parts,
        Ok(None) => return,
        Err(error) => {
            tracing::warn!(%error, "cloud review is configured but cannot start; queued tasks stay on this device");
            return;
        }
    };
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            let now = edgecoder_protocol::envelope::unix_time_s();
            match crate::handshake::sync(&queue, &mut client, &redactor, now).await {
                Ok(synced) => {
                    for id in &synced.answered {
                        tracing::info!(entry = %id, "a cloud review result arrived: `edgecoder queue result {id}`");
                    }
                    for (id, why) in &synced.failed {
                        tracing::warn!(entry = %id, %why, "a cloud review failed");
                    }
                }
                Err(error) => tracing::warn!(%error, "the cloud-review queue cannot be read"),
            }
        }
    });
}

/// Runs the daemon until SIGTERM/SIGINT: loads the model, binds the unix socket (and the TCP
/// address, if any), prints one `edgecoderd listening on ...` line per listener on stdout, tells
/// systemd it is ready, and drains requests on shutdown.
pub async fn run(config: Config) -> Result<(), ServerError> {
    config.validate()?;
    let sharing = token::Sharing::of(config.group_access);
    let token = token::load_or_create(&config.token_path()?, sharing)?;
    #[cfg(all(unix, not(edgecoder_portable)))]
    let socket_path = config.socket_path()?;
    let state = AppState::new(config, token).await?;
    let config = state.config.clone();
    #[cfg(all(unix, not(edgecoder_portable)))]
    let unix = listen::bind_unix(&socket_path, sharing)
        .await
        .map_err(|error| ServerError::Bind { what: socket_path.display().to_string(), error })?;
    let tcp = match config.tcp_address() {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|error| ServerError::Bind { what: addr.to_string(), error })?,
        ),
        None => None,
    };
    #[cfg(all(unix, not(edgecoder_portable)))]
    let mut listening = vec![format!("unix:{}", socket_path.display())];
    #[cfg(any(not(unix), edgecoder_portable))]
    let mut listening = Vec::new();
    let tcp_addr = tcp
        .as_ref()
        .map(|tcp| tcp.local_addr())
        .transpose()
        .map_err(|error| ServerError::Bind { what: "tcp".into(), error })?;
    if let Some(addr) = tcp_addr {
        listening.push(format!("http://{addr}"));
    }
    #[cfg(any(not(unix), edgecoder_portable))]
    let address_file = {
        let addr = tcp_addr.expect("bound above: the TCP address is always set here");
        let file = config.address_file()?;
        std::fs::write(&file, format!("{addr}\n")).map_err(|error| ServerError::Bind { what: file.display().to_string(), error })?;
        tracing::warn!(%addr, "unix sockets need Linux or macOS: the CLI and IDEs reach this daemon over loopback TCP with the token (its address is in {})", file.display());
        file
    };
    for l in &listening {
        println!("edgecoderd listening on {l}");
    }
    *state.listening.write().unwrap_or_else(|e| e.into_inner()) = listening.clone();
    let app = app(state.clone());
    let (stop, stopped) = watch::channel(false);
    let (header_timeout, grace) = (config.header_timeout(), config.shutdown_grace());
    notify::ready(&format!("serving {} on {}", state.providers.active().name(), listening.join(", ")));
    let watchdog = notify::spawn_watchdog();
    follow_reviews(&config);
    tracing::info!(?listening, "edgecoderd ready");
    #[cfg(all(unix, not(edgecoder_portable)))]
    let unix_loop = listen::serve(listen::unix(&unix), app.clone(), header_timeout, stopped.clone(), grace);
    #[cfg(any(not(unix), edgecoder_portable))]
    let unix_loop = async {};
    let tcp_loop = async {
        if let Some(tcp) = &tcp {
            listen::serve(listen::tcp(tcp), app.clone(), header_timeout, stopped.clone(), grace).await;
        }
    };
    let signal = async {
        shutdown_signal().await;
        tracing::info!("shutting down: finishing requests in flight");
        notify::stopping();
        let _ = stop.send(true);
    };
    tokio::join!(unix_loop, tcp_loop, signal);
    if let Some(watchdog) = watchdog {
        watchdog.abort();
    }
    #[cfg(all(unix, not(edgecoder_portable)))]
    let _ = std::fs::remove_file(&socket_path);
    #[cfg(any(not(unix), edgecoder_portable))]
    let _ = std::fs::remove_file(&address_file);
    Ok(())
}
