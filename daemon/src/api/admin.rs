//! The daemon's own endpoints, used by the `edgecoder` CLI: `GET /edgecoder/status`,
//! `PUT /edgecoder/provider` (switch provider), `PUT /edgecoder/model` (hot-swap the local
//! model), `GET /edgecoder/reviews` (the cloud-review queue, for IDEs to show what is held, in
//! flight or answered), `GET /edgecoder/reviews/events` (the same as a live stream, with a
//! notification when a result arrives), and `GET /metrics`.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;
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
        .route("/edgecoder/reviews/events", get(review_events))
        .route("/metrics", get(metrics))
}

/// How often the review stream looks at the queue (changes come from this daemon's follower and
/// from `edgecoder queue` commands in other processes alike).
const REVIEW_POLL: Duration = Duration::from_secs(1);

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
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

/// The queue as the API shows it, oldest first.
async fn review_entries() -> Result<Vec<ReviewEntry>, ApiError> {
    let internal = |e: crate::agent::QueueError| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let queue = crate::agent::CloudQueue::from_env().map_err(internal)?;
    let listing = tokio::task::spawn_blocking(move || queue.list())
        .await
        .map_err(|e| ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(internal)?;
    Ok(listing
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
        .collect())
}

/// The cloud-review queue, oldest first.
#[utoipa::path(get, path = "/edgecoder/reviews", tag = "edgecoder", responses((status = 200, body = [ReviewEntry]), (status = 500, description = "the queue cannot be read")))]
pub async fn reviews() -> Result<Json<Vec<ReviewEntry>>, ApiError> {
    Ok(Json(review_entries().await?))
}

/// The events a change of the queue makes: the whole list, then a notification for each entry
/// that has just been answered or has failed.
fn review_changes(before: &[ReviewEntry], now: &[ReviewEntry]) -> Vec<Event> {
    let stages: HashMap<&str, &str> = before.iter().map(|e| (e.id.as_str(), e.stage.as_str())).collect();
    let mut events = vec![Event::default().event("reviews").json_data(now).expect("review entries serialise")];
    for entry in now {
        let was = stages.get(entry.id.as_str()).copied();
        if matches!(entry.stage.as_str(), "answered" | "failed") && was.is_some_and(|was| was != entry.stage) {
            let note = serde_json::json!({ "id": entry.id, "task": entry.task, "last_error": entry.last_error });
            events.push(Event::default().event(entry.stage.as_str()).data(note.to_string()));
        }
    }
    events
}

/// The cloud-review queue, live: a `reviews` event with the whole list now and after every
/// change, and an `answered` (or `failed`) event naming the entry when a review ends — the
/// notification an IDE shows ("a cloud review came back: Accept / Reject / Edit").
#[utoipa::path(get, path = "/edgecoder/reviews/events", tag = "edgecoder",
    responses((status = 200, content_type = "text/event-stream", description = "`reviews` events (the list, as `GET /edgecoder/reviews`), `answered` and `failed` events ({id, task, last_error})"),
        (status = 500, description = "the queue cannot be read")))]
pub async fn review_events() -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let first = review_entries().await?;
    let opening = Event::default().event("reviews").json_data(&first).expect("review entries serialise");
    let changes = futures_util::stream::unfold(first, |before| async move {
        loop {
            tokio::time::sleep(REVIEW_POLL).await;
            match review_entries().await {
                Ok(now) if now != before => {
                    let events = review_changes(&before, &now);
                    return Some((futures_util::stream::iter(events.into_iter().map(Ok)), now));
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(error = %error.message, "the cloud-review queue cannot be read"),
            }
        }
    });
    let stream = futures_util::StreamExt::chain(futures_util::stream::once(async move { Ok(opening) }), futures_util::StreamExt::flatten(changes));
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Prometheus metrics in the text format.
#[utoipa::path(get, path = "/metrics", tag = "edgecoder", responses((status = 200, description = "Prometheus text format")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.encode())
}
