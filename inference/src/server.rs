//! The HTTP API: `POST /v1/decompose`, `POST /v1/escalate`, `POST /v1/resolve`, `GET /healthz`,
//! and the review API under `/review/v1` when it is configured. Errors are
//! [`ErrorResponse`] JSON: 400 for a bad request, 401 without the token, 422 when the model's
//! answers stayed invalid, 502 when the upstream failed, 500 when the local model failed.

use crate::backend::{Backend, BackendError};
use crate::decompose::{DecomposeError, decompose};
use crate::escalate::{EscalateError, escalate};
use crate::resolve::{ResolveError, resolve};
use crate::review::auth::ApiKeys;
use crate::review::{ReviewConfig, ReviewService};
use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use edgecoder_protocol::inference::{DecomposeRequest, ErrorResponse, EscalateRequest, ResolveRequest};
use edgecoder_protocol::run::Limits;
use std::sync::Arc;

/// How the service answers.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Answers tried per request before it fails.
    pub attempts: u32,
    /// Most tokens of one decomposition answer.
    pub decompose_tokens: usize,
    /// Most tokens of one escalation answer.
    pub escalate_tokens: usize,
    /// Most tokens of one resolved file.
    pub resolve_tokens: usize,
    /// The bearer token every `/v1` call must carry, when set.
    pub token: Option<String>,
    /// Executor limits for running escalated code against its tests.
    pub limits: Limits,
    /// The largest request body, in bytes.
    pub max_body_bytes: usize,
    /// The cloud-review API (`/review/v1`), when it is served: the API keys it accepts and how
    /// it works.
    pub review: Option<(ApiKeys, ReviewConfig)>,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            attempts: 3,
            decompose_tokens: 768,
            escalate_tokens: 1024,
            resolve_tokens: 2048,
            token: None,
            limits: Limits::default(),
            max_body_bytes: 1 << 20,
            review: None,
        }
    }
}

struct AppState {
    backend: Arc<dyn Backend>,
    config: ServerConfig,
}

/// An error answer.
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorResponse { error: self.1 })).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        ApiError(rejection.status(), format!("the request body is not valid: {}", rejection.body_text()))
    }
}

fn backend_status(error: &BackendError) -> StatusCode {
    match error {
        BackendError::Model(_) | BackendError::Load { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        BackendError::Unreachable { .. } | BackendError::Upstream { .. } | BackendError::Malformed(_) => {
            StatusCode::BAD_GATEWAY
        }
    }
}

impl From<DecomposeError> for ApiError {
    fn from(error: DecomposeError) -> ApiError {
        let status = match &error {
            DecomposeError::BadRequest(_) => StatusCode::BAD_REQUEST,
            DecomposeError::Backend(e) => backend_status(e),
            DecomposeError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError(status, error.to_string())
    }
}

impl From<EscalateError> for ApiError {
    fn from(error: EscalateError) -> ApiError {
        let status = match &error {
            EscalateError::BadRequest(_) => StatusCode::BAD_REQUEST,
            EscalateError::Backend(e) => backend_status(e),
            EscalateError::Failed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError(status, error.to_string())
    }
}

impl From<ResolveError> for ApiError {
    fn from(error: ResolveError) -> ApiError {
        let status = match &error {
            ResolveError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ResolveError::Backend(e) => backend_status(e),
            ResolveError::Failed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError(status, error.to_string())
    }
}

async fn post_decompose(
    State(state): State<Arc<AppState>>,
    body: Result<Json<DecomposeRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let config = &state.config;
    let answer = decompose(&*state.backend, &request, config.attempts, config.decompose_tokens).await?;
    Ok(Json(answer).into_response())
}

async fn post_escalate(
    State(state): State<Arc<AppState>>,
    body: Result<Json<EscalateRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let config = &state.config;
    let answer = escalate(&*state.backend, &request, config.attempts, config.escalate_tokens, &config.limits).await?;
    Ok(Json(answer).into_response())
}

async fn post_resolve(
    State(state): State<Arc<AppState>>,
    body: Result<Json<ResolveRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let config = &state.config;
    let answer = resolve(&*state.backend, &request, config.attempts, config.resolve_tokens, &config.limits).await?;
    Ok(Json(answer).into_response())
}

async fn healthz(State(state): State<Arc<AppState>>) -> Response {
    Json(serde_json::json!({"ok": true, "model": state.backend.name()})).into_response()
}

/// Equal in time whatever the position of the first difference.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn require_token(State(state): State<Arc<AppState>>, headers: HeaderMap, request: Request, next: Next) -> Response {
    if let Some(token) = &state.config.token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !same_secret(given.as_bytes(), token.as_bytes()) {
            return ApiError(
                StatusCode::UNAUTHORIZED,
                "missing or wrong bearer token: send `Authorization: Bearer <token>` with the service's token".into(),
            )
            .into_response();
        }
    }
    next.run(request).await
}

/// The service's routes over `backend`; with `config.review` set, the review API's too, whose
/// worker this starts (call inside a Tokio runtime).
pub fn router(backend: Arc<dyn Backend>, mut config: ServerConfig) -> Router {
    let max_body = config.max_body_bytes;
    let review = config.review.take().map(|(keys, review)| ReviewService::start(backend.clone(), keys, review));
    let state = Arc::new(AppState { backend, config });
    let api = Router::new()
        .route("/v1/decompose", post(post_decompose))
        .route("/v1/escalate", post(post_escalate))
        .route("/v1/resolve", post(post_resolve))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    let mut routes = api.route("/healthz", get(healthz)).with_state(state);
    if let Some(review) = review {
        routes = routes.merge(crate::review::api::routes(review));
    }
    routes
        .layer(DefaultBodyLimit::max(max_body))
        .layer(middleware::from_fn(trace_request))
}

async fn trace_request(request: Request, next: Next) -> Response {
    use tracing::Instrument;
    let span = tracing::info_span!("request", method = %request.method(), path = %request.uri().path());
    async move {
        let response = next.run(request).await;
        tracing::info!(status = response.status().as_u16(), "answered");
        response
    }
    .instrument(span)
    .await
}
