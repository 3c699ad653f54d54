//! The agent over HTTP: `POST /agent/tasks` starts a task, `GET /agent/tasks/{id}/events`
//! streams its events as server-sent events (history first, then live: the same events
//! `edgecoder code --json` prints), `GET /agent/tasks/{id}` shows it, and
//! `POST /agent/tasks/{id}/apply`, `/reject` and `/cancel` decide or stop it.

use std::convert::Infallible;
use std::path::PathBuf;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use rmcp::schemars;
use utoipa::ToSchema;

use super::tasks::{TaskStatus, TaskView};
use super::{ApiError, JsonBody};
use crate::agent::{AgentConfig, AgentEvent, Budgets, TaskSpec};
use crate::server::AppState;

/// The agent routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/agent/tasks", post(create))
        .route("/agent/tasks/{id}", get(show))
        .route("/agent/tasks/{id}/events", get(events))
        .route("/agent/tasks/{id}/apply", post(apply))
        .route("/agent/tasks/{id}/reject", post(reject))
        .route("/agent/tasks/{id}/cancel", post(cancel))
}

/// `POST /agent/tasks` request (also the input of the MCP tool `plan_and_code`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// What the code should do.
    pub task: String,
    /// `py` or `js` (default: from `file`, else `py`).
    #[serde(default)]
    pub lang: Option<String>,
    /// Workspace mode: an absolute path of the folder whose file the agent edits; nothing is
    /// written before `apply`.
    #[serde(default)]
    pub workspace: Option<String>,
    /// The file to edit or create, relative to the workspace (default: the file the task
    /// names, or the workspace's only source file).
    #[serde(default)]
    pub file: Option<String>,
    /// Test source that decides success (bare asserts, `test_*` functions or
    /// `check(candidate)`); default: the test file beside the target, else the tests in the
    /// task, else tests the model writes first.
    #[serde(default)]
    pub tests: Option<String>,
    /// The model; it must be the daemon's loaded local model (default: that one).
    #[serde(default)]
    pub model: Option<String>,
    /// Most code versions to test, 1 to 50 (default 4).
    #[serde(default)]
    pub max_iterations: Option<u32>,
    /// Most tokens the model may generate for the task (default 2048).
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// Time budget in seconds, 1 to 3600 (default 600).
    #[serde(default)]
    pub timeout_secs: Option<u64>,
    /// Ask the model for a short plan first (default true).
    #[serde(default)]
    pub plan: Option<bool>,
}

impl NewTask {
    /// The task spec and the agent's configuration, with every field checked.
    pub fn checked(&self) -> Result<(TaskSpec, AgentConfig), ApiError> {
        let lang = self
            .lang
            .as_deref()
            .map(str::parse)
            .transpose()
            .map_err(|e: String| ApiError::bad_param("lang", e))?;
        let workspace = self.workspace.as_ref().map(PathBuf::from);
        if let Some(dir) = &workspace
            && !dir.is_absolute()
        {
            return Err(ApiError::bad_param(
                "workspace",
                format!("workspace {:?} is not an absolute path: the daemon does not know the client's folder, send the full path", dir.display()),
            ));
        }
        if self.file.is_some() && workspace.is_none() {
            return Err(ApiError::bad_param("file", "`file` needs `workspace`: name the folder the file is in"));
        }
        let defaults = Budgets::default();
        let max_iterations = self.max_iterations.unwrap_or(defaults.max_iterations);
        if !(1..=50).contains(&max_iterations) {
            return Err(ApiError::bad_param("max_iterations", format!("max_iterations {max_iterations} is out of range: use 1 to 50")));
        }
        let max_tokens = self.max_tokens.unwrap_or(defaults.max_tokens);
        if !(1..=1 << 20).contains(&max_tokens) {
            return Err(ApiError::bad_param("max_tokens", format!("max_tokens {max_tokens} is out of range: use 1 to {}", 1 << 20)));
        }
        let timeout = self.timeout_secs.unwrap_or(defaults.max_time_ms / 1000);
        if !(1..=3600).contains(&timeout) {
            return Err(ApiError::bad_param("timeout_secs", format!("timeout_secs {timeout} is out of range: use 1 to 3600")));
        }
        let spec = TaskSpec { text: self.task.clone(), lang, workspace, file: self.file.clone(), tests: self.tests.clone() };
        let config = AgentConfig {
            budgets: Budgets { max_iterations, max_tokens, max_time_ms: timeout * 1000 },
            plan: self.plan.unwrap_or(true),
            ..AgentConfig::default()
        };
        Ok((spec, config))
    }
}

/// `POST /agent/tasks` answer.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Created {
    /// The task's id.
    pub id: String,
    /// Where its events stream (`GET`, server-sent events).
    pub events: String,
}

/// Starts an agent task on the local model (plan → code → test → fix); its model calls wait in
/// the same queue as chat requests.
#[utoipa::path(post, path = "/agent/tasks", tag = "agent", request_body = NewTask,
    responses((status = 201, body = Created), (status = 400, description = "bad task, budget or path (outside the workspace)"),
        (status = 404, description = "`model` is not the loaded model"), (status = 429, description = "too many tasks, or the model's queue is full"),
        (status = 503, description = "no local model is loaded")))]
pub async fn create(State(state): State<AppState>, JsonBody(body): JsonBody<NewTask>) -> Result<(StatusCode, Json<Created>), ApiError> {
    let (spec, config) = body.checked()?;
    let local = state.providers.local().clone();
    let tasks = state.tasks.clone();
    let model = body.model.clone();
    // Opening the workspace reads files: off the async threads.
    let entry = tokio::task::spawn_blocking(move || tasks.start(&local, &spec, config, model.as_deref()))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("the task could not start: {e}")))??;
    tracing::info!(task_id = %entry.id, "agent task started");
    let events = format!("/agent/tasks/{}/events", entry.id);
    Ok((StatusCode::CREATED, Json(Created { id: entry.id.clone(), events })))
}

/// A task's status, event summary and (once finished) its report.
#[utoipa::path(get, path = "/agent/tasks/{id}", tag = "agent", params(("id" = String, Path, description = "the task's id")),
    responses((status = 200, body = TaskView), (status = 404, description = "no such task")))]
pub async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<TaskView>, ApiError> {
    Ok(Json(state.tasks.get(&id)?.view()))
}

/// The task's events as server-sent events: every event so far, then each new one; the stream
/// ends after `finished` (and after `applied`/`rejected` when those came first). Each event's
/// `event:` field is its kind and its `data:` the JSON that `edgecoder code --json` prints.
#[utoipa::path(get, path = "/agent/tasks/{id}/events", tag = "agent", params(("id" = String, Path, description = "the task's id")),
    responses((status = 200, content_type = "text/event-stream", description = "`started`, `token`, `transition`, `finished`, `applied`, `rejected` events"),
        (status = 404, description = "no such task")))]
pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let receiver = state.tasks.get(&id)?.subscribe();
    let batches = futures_util::stream::unfold(Some((receiver, 0usize)), |feed| async move {
        let (mut receiver, sent) = feed?;
        loop {
            let (batch, ended) = {
                let progress = receiver.borrow_and_update();
                (progress.events[sent..].to_vec(), progress.status != TaskStatus::Running)
            };
            if !batch.is_empty() || ended {
                let next = (!ended).then_some((receiver, sent + batch.len()));
                return Some((futures_util::stream::iter(batch.into_iter().enumerate().map(move |(i, e)| sse_event(sent + i, &e))), next));
            }
            if receiver.changed().await.is_err() {
                return None;
            }
        }
    });
    Ok(Sse::new(batches.flatten()).keep_alive(KeepAlive::default()))
}

fn sse_event(index: usize, event: &AgentEvent) -> Result<Event, Infallible> {
    let sse = Event::default().id(index.to_string()).event(event.kind());
    Ok(sse.json_data(event).unwrap_or_else(|e| Event::default().event("error").data(e.to_string())))
}

/// Writes the task's diff into its workspace (atomically, the previous content saved under
/// `.edgecoder/backups/`); answers the `applied` event.
#[utoipa::path(post, path = "/agent/tasks/{id}/apply", tag = "agent", params(("id" = String, Path, description = "the task's id")),
    responses((status = 200, description = "the `applied` event"), (status = 404, description = "no such task"),
        (status = 409, description = "still running, already applied or rejected, no diff, or the file changed since")))]
pub async fn apply(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<AgentEvent>, ApiError> {
    let entry = state.tasks.get(&id)?;
    let tasks = state.tasks.clone();
    let event = tokio::task::spawn_blocking(move || tasks.apply(&entry))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("apply failed: {e}")))??;
    tracing::info!(task_id = %id, "agent task applied");
    Ok(Json(event))
}

/// Drops the task's diff; nothing is written. Answers the `rejected` event.
#[utoipa::path(post, path = "/agent/tasks/{id}/reject", tag = "agent", params(("id" = String, Path, description = "the task's id")),
    responses((status = 200, description = "the `rejected` event"), (status = 404, description = "no such task"),
        (status = 409, description = "still running, already applied or rejected, or no diff")))]
pub async fn reject(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<AgentEvent>, ApiError> {
    let entry = state.tasks.get(&id)?;
    Ok(Json(state.tasks.reject(&entry)?))
}

/// Stops a running task at its next token or step; it finishes as `gave_up` (reason
/// `cancelled`). Answers 202 with the task.
#[utoipa::path(post, path = "/agent/tasks/{id}/cancel", tag = "agent", params(("id" = String, Path, description = "the task's id")),
    responses((status = 202, body = TaskView), (status = 404, description = "no such task"), (status = 409, description = "already finished")))]
pub async fn cancel(State(state): State<AppState>, Path(id): Path<String>) -> Result<(StatusCode, Json<TaskView>), ApiError> {
    let entry = state.tasks.get(&id)?;
    state.tasks.cancel(&entry)?;
    Ok((StatusCode::ACCEPTED, Json(entry.view())))
}
