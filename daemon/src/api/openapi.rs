//! The OpenAPI document of every endpoint, generated from the handlers and types with utoipa and
//! served at `GET /openapi.json`.

use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::path::{HttpMethod, OperationBuilder};
use utoipa::openapi::response::ResponseBuilder;
use utoipa::{Modify, OpenApi};

use super::{admin, agent, ollama, openai};
use crate::server::AppState;

/// The OpenAPI description of the daemon's HTTP API.
#[derive(OpenApi)]
#[openapi(
    info(title = "edgecoderd", description = "EdgeCoder's local API: OpenAI-compatible (/v1), Ollama-compatible (/api), the agent (/agent/tasks) and the daemon's control endpoints. Every request needs `Authorization: Bearer <token>` (`edgecoder token`)."),
    paths(
        openai::models, openai::chat_completions, openai::completions,
        ollama::version, ollama::tags, ollama::show, ollama::chat, ollama::generate,
        admin::status, admin::use_provider, admin::load_model, admin::reviews, admin::review_events, admin::metrics,
        agent::create, agent::show, agent::events, agent::apply, agent::reject, agent::cancel,
        document,
    ),
    components(schemas(crate::providers::ModelInfo, crate::providers::Health)),
    modifiers(&McpEndpoint)
)]
pub struct ApiDoc;

/// Adds `/mcp`, which rmcp's streamable-HTTP service answers (so no handler here carries its
/// description): JSON-RPC messages in, JSON or SSE out.
struct McpEndpoint;

impl Modify for McpEndpoint {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let operation = |summary: &str| {
            OperationBuilder::new()
                .tag("mcp")
                .summary(Some(summary))
                .description(Some(
                    "The Model Context Protocol over streamable HTTP (tools run_python, run_js, check_subset, generate, \
                     plan_and_code, search_code, search_docs, get_snippet). Speak it with an MCP client; the token is always required.",
                ))
                .response("200", ResponseBuilder::new().description("a JSON-RPC response, or an SSE stream of them"))
                .response("401", ResponseBuilder::new().description("missing or wrong bearer token"))
                .build()
        };
        openapi.paths.add_path_operation("/mcp", vec![HttpMethod::Post], operation("Send MCP JSON-RPC messages"));
        openapi.paths.add_path_operation("/mcp", vec![HttpMethod::Get], operation("Open the MCP server-to-client SSE stream"));
        openapi.paths.add_path_operation("/mcp", vec![HttpMethod::Delete], operation("End an MCP session"));
    }
}

/// This OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "edgecoder", responses((status = 200, description = "the OpenAPI 3.1 document of every endpoint")))]
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The `/openapi.json` route.
pub fn router() -> Router<AppState> {
    Router::new().route("/openapi.json", get(document))
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
            "/agent/tasks/{id}/cancel", "/openapi.json", "/mcp"]
        {
            assert!(doc["paths"].get(path).is_some(), "{path} missing");
        }
        assert!(doc["components"]["schemas"].get("ChatCompletionRequest").is_some());
        for method in ["post", "get", "delete"] {
            assert!(doc["paths"]["/mcp"][method]["responses"]["401"].is_object(), "/mcp {method}");
        }
    }
}
