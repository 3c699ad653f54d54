//! The daemon's HTTP APIs: OpenAI-compatible (`/v1`), Ollama-compatible (`/api`), the daemon's
//! own control endpoints (`/edgecoder`), the agent (`/agent/tasks`), `/metrics` and
//! `/openapi.json`. Each API is one router; [`router`] merges them.

pub mod admin;
pub mod agent;
pub mod ollama;
pub mod openai;
pub mod openapi;
pub mod tasks;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::providers::{GenerateRequest, ProviderError, StreamEvent, TokenStream};
use crate::server::AppState;
use crate::server::metrics::Metrics;

/// Every route the daemon serves (the metrics label requests by these).
pub const ROUTES: &[&str] = &[
    "/v1/models",
    "/v1/chat/completions",
    "/v1/completions",
    "/api/version",
    "/api/tags",
    "/api/show",
    "/api/chat",
    "/api/generate",
    "/edgecoder/status",
    "/edgecoder/provider",
    "/edgecoder/model",
    "/metrics",
    "/openapi.json",
    "/mcp",
    "/agent/tasks",
];

/// Which API's error shape a response uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `{"error": {"message", "type", "param", "code"}}`.
    OpenAi,
    /// `{"error": "message"}`.
    Ollama,
}

impl Flavor {
    /// The flavor of a request path (`/api/...` is Ollama's).
    pub fn of_path(path: &str) -> Flavor {
        if path.starts_with("/api/") { Flavor::Ollama } else { Flavor::OpenAi }
    }
}

/// An error answer: status, message (naming the fix) and the API shape it is written in.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What went wrong and what to do.
    pub message: String,
    /// The request field at fault, where there is one.
    pub param: Option<&'static str>,
    /// Error shape.
    pub flavor: Flavor,
}

impl ApiError {
    /// An OpenAI-shaped error.
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), param: None, flavor: Flavor::OpenAi }
    }

    /// A 400 about `param`.
    pub fn bad_param(param: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { param: Some(param), ..ApiError::new(StatusCode::BAD_REQUEST, message) }
    }

    /// The same error in Ollama's shape.
    pub fn ollama(self) -> ApiError {
        ApiError { flavor: Flavor::Ollama, ..self }
    }

    /// The same error in `flavor`'s shape.
    pub fn with_flavor(self, flavor: Flavor) -> ApiError {
        ApiError { flavor, ..self }
    }

    fn kind(&self) -> &'static str {
        match self.status.as_u16() {
            401 => "authentication_error",
            403 => "permission_error",
            404 => "not_found_error",
            408 => "timeout_error",
            413 | 400 | 415 | 422 => "invalid_request_error",
            429 => "rate_limit_error",
            503 => "service_unavailable",
            _ => "server_error",
        }
    }

    /// The JSON body of this error.
    pub fn body(&self) -> serde_json::Value {
        match self.flavor {
            Flavor::OpenAi => serde_json::json!({"error": {
                "message": self.message,
                "type": self.kind(),
                "param": self.param,
                "code": self.status.as_u16().to_string(),
            }}),
            Flavor::Ollama => serde_json::json!({"error": self.message}),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

impl From<ProviderError> for ApiError {
    fn from(error: ProviderError) -> ApiError {
        let status = match &error {
            ProviderError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ProviderError::UnknownModel { .. } => StatusCode::NOT_FOUND,
            ProviderError::Busy { .. } => StatusCode::TOO_MANY_REQUESTS,
            ProviderError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProviderError::Upstream { status, .. } => match *status {
                400 | 404 | 413 | 422 | 429 => StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY),
                _ => StatusCode::BAD_GATEWAY,
            },
            ProviderError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let param = matches!(error, ProviderError::UnknownModel { .. }).then_some("model");
        ApiError { param, ..ApiError::new(status, error.to_string()) }
    }
}

/// A JSON request body whose rejections are answered in the API's error shape, with 413 for
/// bodies over `max_body_bytes` and 408 for bodies that arrive too slowly.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let flavor = Flavor::of_path(request.uri().path());
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(rejection_error(rejection, state).with_flavor(flavor)),
        }
    }
}

fn rejection_error(rejection: JsonRejection, state: &AppState) -> ApiError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&rejection);
    while let Some(error) = source {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!("the request body did not arrive within {} s; send it at once", state.config.body_timeout_secs),
            );
        }
        source = error.source();
    }
    match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than {} bytes (max_body_bytes in the daemon's config)",
                state.config.max_body_bytes
            ),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be JSON: send the header `Content-Type: application/json`",
        ),
        _ => ApiError::new(StatusCode::BAD_REQUEST, format!("invalid request body: {}", rejection.body_text())),
    }
}

/// A generation stream that records the metrics as it goes (time to first token from the
/// request's arrival, tokens, tokens per second).
pub struct Metered {
    stream: TokenStream,
    metrics: Arc<Metrics>,
    arrived: Instant,
    first_text: Option<Instant>,
}

impl Metered {
    /// Starts `request` on the active provider.
    pub async fn start(state: &AppState, request: GenerateRequest, arrived: Instant) -> Result<Metered, ProviderError> {
        let stream = state.providers.active().generate(request).await?;
        Ok(Metered { stream, metrics: state.metrics.clone(), arrived, first_text: None })
    }

    /// The next event.
    pub async fn next(&mut self) -> Option<Result<StreamEvent, ProviderError>> {
        let event = self.stream.next().await;
        match &event {
            Some(Ok(StreamEvent::Text(_))) if self.first_text.is_none() => {
                self.first_text = Some(Instant::now());
                self.metrics.time_to_first_token.observe(self.arrived.elapsed().as_secs_f64());
            }
            Some(Ok(StreamEvent::Done(done))) => {
                self.metrics.tokens.inc_by(done.completion_tokens as u64);
                if let Some(first) = self.first_text {
                    let secs = first.elapsed().as_secs_f64();
                    if done.completion_tokens > 1 && secs > 0.0 {
                        self.metrics.tokens_per_second.observe((done.completion_tokens - 1) as f64 / secs);
                    }
                }
            }
            _ => {}
        }
        event
    }

    /// Reads the whole answer.
    pub async fn collect(mut self) -> Result<(String, crate::providers::Completion), ProviderError> {
        let mut text = String::new();
        while let Some(event) = self.next().await {
            match event? {
                StreamEvent::Text(piece) => text.push_str(&piece),
                StreamEvent::Done(done) => return Ok((text, done)),
            }
        }
        Err(ProviderError::Internal("the generation ended without finishing".into()))
    }
}

/// Every API route, with the daemon's state.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(openai::router())
        .merge(ollama::router())
        .merge(admin::router())
        .merge(agent::router())
        .merge(openapi::router())
        .nest_service("/mcp", crate::mcp::http_service(state.clone()))
        .fallback(not_found)
        .with_state(state)
}

async fn not_found(State(_): State<AppState>, request: Request) -> ApiError {
    let path = request.uri().path().to_owned();
    ApiError::new(StatusCode::NOT_FOUND, format!("no such endpoint: {} {path} (see /openapi.json)", request.method()))
        .with_flavor(Flavor::of_path(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_each_apis_shape() {
        let e = ApiError::from(ProviderError::Busy { waiting: 3 });
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        let body = e.clone().body();
        assert_eq!(body["error"]["type"], "rate_limit_error");
        assert!(body["error"]["message"].as_str().unwrap().contains("busy"));
        assert_eq!(e.ollama().body(), serde_json::json!({"error": "the model is busy: 3 requests are already waiting; retry later"}));
        let gone = ApiError::from(ProviderError::Unavailable { provider: "ollama-local", reason: "down".into() });
        assert_eq!(gone.status, StatusCode::SERVICE_UNAVAILABLE);
        let upstream = ApiError::from(ProviderError::Upstream { provider: "openai-compatible", status: 500, message: "x".into() });
        assert_eq!(upstream.status, StatusCode::BAD_GATEWAY);
        assert_eq!(Flavor::of_path("/api/chat"), Flavor::Ollama);
        assert_eq!(Flavor::of_path("/v1/chat/completions"), Flavor::OpenAi);
    }
}
