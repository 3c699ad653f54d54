//! The OpenAPI document of every endpoint, generated from the handlers and types with utoipa and
//! served at `GET /openapi.json`.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use super::{admin, agent, ollama, openai};
use crate::server::AppState;

/// The OpenAPI description of the daemon's HTTP API.
#[derive(OpenApi)]
#[openapi(
    info(title = "edgecoderd", description = "EdgeCoder's local API: OpenAI-compatible (/v1), Ollama-compatible (/api), the agent (/agent/tasks) and the daemon's control endpoints. Every request needs `Authorization: Bearer <token>` (`edgecoder token`)."),
    paths(
        openai::models, openai::chat_completions, openai::completions,
        ollama::version, ollama::tags, ollama::show, ollama::chat, ollama::generate,
        admin::status, admin::use_provider, admin::load_model, admin::metrics,
        agent::create, agent::show, agent::events, agent::apply, agent::reject, agent::cancel,
    ),
    components(schemas(crate::providers::ModelInfo, crate::providers::Health))
)]
pub struct ApiDoc;

/// The `/openapi.json` route.
pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_documented() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        for path in ["/v1/models", "/v1/chat/completions", "/v1/completions", "/api/tags", "/api/show", "/api/chat",
            "/api/generate", "/api/version", "/edgecoder/status", "/edgecoder/provider", "/edgecoder/model", "/metrics",
            "/agent/tasks", "/agent/tasks/{id}", "/agent/tasks/{id}/events", "/agent/tasks/{id}/apply", "/agent/tasks/{id}/reject",
            "/agent/tasks/{id}/cancel"]
        {
            assert!(doc["paths"].get(path).is_some(), "{path} missing");
        }
        assert!(doc["components"]["schemas"].get("ChatCompletionRequest").is_some());
    }
}
