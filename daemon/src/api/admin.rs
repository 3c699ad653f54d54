//! The daemon's own endpoints, used by the `edgecoder` CLI: `GET /edgecoder/status`,
//! `PUT /edgecoder/provider` (switch provider), `PUT /edgecoder/model` (hot-swap the local
//! model), `GET /edgecoder/reviews` (the cloud-review queue, for IDEs to show what is held, in
//! flight or answered), and `GET /metrics`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiError, JsonBody};
use crate::providers::{Health, ModelInfo};
use crate::server::AppState;

/// The control routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/edgecoder/status", get(status))
        .route("/edgecoder/provider", put(use_provider))
        .route("/edgecoder/model", put(load_model))
        .route("/edgecoder/reviews", get(reviews))
        .route("/metrics", get(metrics))
}

/// One provider in the status.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ProviderStatus {
    /// Its name.
    pub name: String,
    /// Whether it answers requests now.
    pub active: bool,
    /// Whether it is healthy.
    pub ok: bool,
    /// Its health in words.
    pub detail: String,
}

/// `GET /edgecoder/status` answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Status {
    /// Daemon version.
    pub version: String,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// The active provider.
    pub provider: String,
    /// Every configured provider and its health.
    pub providers: Vec<ProviderStatus>,
    /// The local model, when one is loaded.
    pub model: Option<String>,
    /// Its file (an over-the-air update moves it to the other A/B slot).
    pub model_file: Option<String>,
    /// Requests waiting for the local model.
    pub queue_waiting: usize,
    /// How many may wait.
    pub queue_capacity: usize,
    /// Where the daemon listens.
    pub listening: Vec<String>,
}

/// The daemon's state: providers, their health, the model and the queue.
#[utoipa::path(get, path = "/edgecoder/status", tag = "edgecoder", responses((status = 200, body = Status)))]
pub async fn status(State(state): State<AppState>) -> Json<Status> {
    let active = state.providers.active().name();
    let mut providers = Vec::new();
    for p in state.providers.all() {
        let Health { ok, detail } = p.health().await;
        providers.push(ProviderStatus { name: p.name().to_owned(), active: p.name() == active, ok, detail });
    }
    let local = state.providers.local();
    Json(Status {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_secs: state.started.elapsed().as_secs(),
        provider: active.to_owned(),
        providers,
        model: local.current().ok().map(|m| m.info.id.clone()),
        model_file: local.current().ok().map(|m| m.path.display().to_string()),
        queue_waiting: local.waiting(),
        queue_capacity: local.capacity(),
        listening: state.listening.read().unwrap_or_else(|e| e.into_inner()).clone(),
    })
}

/// `PUT /edgecoder/provider` request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UseProvider {
    /// `edgecoder-local`, `openai-compatible` or `ollama-local`.
    pub name: String,
}

/// Makes another provider answer new requests (requests in flight finish where they are).
#[utoipa::path(put, path = "/edgecoder/provider", tag = "edgecoder", request_body = UseProvider,
    responses((status = 200, body = UseProvider), (status = 400, description = "unknown or unconfigured provider")))]
pub async fn use_provider(State(state): State<AppState>, JsonBody(body): JsonBody<UseProvider>) -> Result<Json<UseProvider>, ApiError> {
    state.providers.switch(&body.name)?;
    Ok(Json(body))
}

/// `PUT /edgecoder/model` request.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoadModel {
    /// A catalog id installed in the model store, or a GGUF path.
    pub model: String,
}

/// Loads another local model; requests in flight finish on the previous one.
#[utoipa::path(put, path = "/edgecoder/model", tag = "edgecoder", request_body = LoadModel,
    responses((status = 200, body = ModelInfo), (status = 503, description = "the model cannot be loaded (the previous one stays)")))]
pub async fn load_model(State(state): State<AppState>, JsonBody(body): JsonBody<LoadModel>) -> Result<Json<ModelInfo>, ApiError> {
    Ok(Json(state.providers.local().load(&body.model).await?))
}

/// One entry of the cloud-review queue, as an IDE shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReviewEntry {
    /// The entry's id (`edgecoder queue show ID`).
    pub id: String,
    /// When it was queued (RFC 3339).
    pub created: String,
    /// The first line of the task.
    pub task: String,
    /// Why it was queued: `outside_subset`, `gave_up`, `user_request`.
    pub why: String,
    /// `held` (on this device only), `waiting`, `sent`, `answered`, `failed`, `decided`.
    pub stage: String,
    /// The file it is about, relative to its workspace.
    pub file: Option<String>,
    /// Whether a result is here to accept, edit or reject.
    pub has_result: bool,
    /// The last error talking to the review server.
    pub last_error: Option<String>,
}

/// The cloud-review queue, oldest first.
#[utoipa::path(get, path = "/edgecoder/reviews", tag = "edgecoder", responses((status = 200, body = [ReviewEntry]), (status = 500, description = "the queue cannot be read")))]
pub async fn reviews() -> Result<Json<Vec<ReviewEntry>>, ApiError> {
    let internal = |e: crate::agent::QueueError| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let queue = crate::agent::CloudQueue::from_env().map_err(internal)?;
    let listing = tokio::task::spawn_blocking(move || queue.list())
        .await
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(internal)?;
    Ok(Json(
        listing
            .entries
            .into_iter()
            .map(|e| ReviewEntry {
                task: e.entry.task.lines().next().unwrap_or("").to_owned(),
                why: e.entry.why.as_str().to_owned(),
                stage: e.review.stage.as_str().to_owned(),
                file: e.entry.file,
                has_result: e.review.result.is_some(),
                last_error: e.review.last_error,
                id: e.id,
                created: e.created,
            })
            .collect(),
    ))
}

/// Prometheus metrics in the text format.
#[utoipa::path(get, path = "/metrics", tag = "edgecoder", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.encode())
}
