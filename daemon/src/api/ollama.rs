//! The Ollama-compatible API: `GET /api/version`, `GET /api/tags`, `POST /api/show`,
//! `POST /api/chat` and `POST /api/generate`, streamed as NDJSON (Ollama's default) or answered
//! as one object with `"stream": false`.

use std::time::{Instant, SystemTime};

use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use edgecoder_model::chat::{ChatMessage, Role};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{ApiError, JsonBody, Metered};
use crate::providers::{Completion, GenerateRequest, ModelInfo, PromptInput, Sampling, StreamEvent};
use crate::server::AppState;

/// The Ollama routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/version", get(version))
        .route("/api/tags", get(tags))
        .route("/api/show", post(show))
        .route("/api/chat", post(chat))
        .route("/api/generate", post(generate))
}

/// Ollama's `options` (the ones this daemon uses; others are ignored, as Ollama does).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct Options {
    /// Most tokens to generate (-1: the daemon's default).
    #[serde(default)]
    pub num_predict: Option<i64>,
    /// Sampling temperature.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus sampling mass.
    #[serde(default)]
    pub top_p: Option<f32>,
    /// Keep the `k` most likely tokens.
    #[serde(default)]
    pub top_k: Option<u64>,
    /// Sampler seed.
    #[serde(default)]
    pub seed: Option<i64>,
    /// Stop strings.
    #[serde(default)]
    pub stop: Option<Vec<String>>,
}

/// A chat message.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct Message {
    /// `system`, `user`, `assistant` or `tool`.
    pub role: String,
    /// The text.
    #[serde(default)]
    pub content: String,
    /// Images (not supported: must be absent or empty).
    #[serde(default)]
    pub images: Option<Vec<String>>,
}

/// `POST /api/chat` request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ChatRequest {
    /// A model name from `/api/tags`.
    pub model: String,
    /// The conversation.
    #[serde(default)]
    pub messages: Vec<Message>,
    /// Stream NDJSON (default true).
    #[serde(default)]
    pub stream: Option<bool>,
    /// Generation options.
    #[serde(default)]
    pub options: Option<Options>,
}

/// `POST /api/generate` request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct GenerateBody {
    /// A model name from `/api/tags`.
    pub model: String,
    /// The prompt (empty: nothing is generated).
    #[serde(default)]
    pub prompt: Option<String>,
    /// Text after the gap: fill in the middle.
    #[serde(default)]
    pub suffix: Option<String>,
    /// A system message (templated prompts only).
    #[serde(default)]
    pub system: Option<String>,
    /// Use the prompt as is, without the chat template.
    #[serde(default)]
    pub raw: Option<bool>,
    /// Stream NDJSON (default true).
    #[serde(default)]
    pub stream: Option<bool>,
    /// Generation options.
    #[serde(default)]
    pub options: Option<Options>,
    /// Images (not supported: must be absent or empty).
    #[serde(default)]
    pub images: Option<Vec<String>>,
}

/// `POST /api/show` request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ShowRequest {
    /// The model name.
    #[serde(default)]
    pub model: Option<String>,
    /// Older spelling of `model`.
    #[serde(default)]
    pub name: Option<String>,
}

/// Model details in Ollama's shape.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Details {
    /// Always empty.
    pub parent_model: String,
    /// `gguf`.
    pub format: String,
    /// Architecture family.
    pub family: String,
    /// Families (the one family).
    pub families: Vec<String>,
    /// Parameter count, e.g. `135M`.
    pub parameter_size: String,
    /// Quantization, e.g. `Q8_0`.
    pub quantization_level: String,
}

/// One model of `/api/tags`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tag {
    /// The model name.
    pub name: String,
    /// The model name (again, as Ollama sends it).
    pub model: String,
    /// When the model file changed (RFC 3339).
    pub modified_at: String,
    /// File size in bytes.
    pub size: u64,
    /// SHA-256 of the file.
    pub digest: String,
    /// Details.
    pub details: Details,
}

/// `GET /api/tags` answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TagList {
    /// The models.
    pub models: Vec<Tag>,
}

fn details(m: &ModelInfo) -> Details {
    let parameter_size = match m.parameters {
        0 => String::new(),
        p if p >= 1_000_000_000 => format!("{:.1}B", p as f64 / 1e9),
        p => format!("{}M", (p as f64 / 1e6).round()),
    };
    Details {
        parent_model: String::new(),
        format: "gguf".into(),
        family: m.family.clone(),
        families: vec![m.family.clone()],
        parameter_size,
        quantization_level: m.quantization.clone(),
    }
}

fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(SystemTime::now()).to_string()
}

/// The daemon's version.
#[utoipa::path(get, path = "/api/version", tag = "ollama", responses((status = 200, description = "`{\"version\": \"...\"}`")))]
pub async fn version() -> Json<Value> {
    Json(json!({"version": env!("CARGO_PKG_VERSION")}))
}

/// Lists the models the active provider serves.
#[utoipa::path(get, path = "/api/tags", tag = "ollama", responses((status = 200, body = TagList)))]
pub async fn tags(State(state): State<AppState>) -> Result<Json<TagList>, ApiError> {
    let models = state.providers.active().models().await.map_err(|e| ApiError::from(e).ollama())?;
    let modified_at = now_rfc3339();
    Ok(Json(TagList {
        models: models
            .iter()
            .map(|m| Tag {
                name: m.id.clone(),
                model: m.id.clone(),
                modified_at: modified_at.clone(),
                size: m.size,
                digest: m.digest.clone(),
                details: details(m),
            })
            .collect(),
    }))
}

/// Describes one model.
#[utoipa::path(post, path = "/api/show", tag = "ollama", request_body = ShowRequest,
    responses((status = 200, description = "details, model_info and capabilities"), (status = 404, description = "unknown model")))]
pub async fn show(State(state): State<AppState>, JsonBody(body): JsonBody<ShowRequest>) -> Result<Json<Value>, ApiError> {
    let name = body.model.or(body.name).unwrap_or_default();
    let models = state.providers.active().models().await.map_err(|e| ApiError::from(e).ollama())?;
    let wanted = crate::providers::strip_tag(&name);
    let Some(m) = models.iter().find(|m| m.id == wanted) else {
        let available: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
        return Err(ApiError::new(
            axum::http::StatusCode::NOT_FOUND,
            format!("model {name:?} not found; available: {}", available.join(", ")),
        )
        .ollama());
    };
    let mut capabilities = vec!["completion"];
    if m.fill_in_the_middle {
        capabilities.push("insert");
    }
    let mut model_info = serde_json::Map::new();
    model_info.insert("general.architecture".into(), json!(m.family));
    model_info.insert("general.parameter_count".into(), json!(m.parameters));
    model_info.insert(format!("{}.context_length", m.family), json!(m.context_length));
    Ok(Json(json!({
        "modelfile": format!("FROM {}\n", m.id),
        "parameters": "",
        "template": "",
        "details": details(m),
        "model_info": model_info,
        "capabilities": capabilities,
        "modified_at": now_rfc3339(),
    })))
}

fn options_request(model: String, input: PromptInput, options: Option<Options>, default_max: usize) -> Result<GenerateRequest, ApiError> {
    let o = options.unwrap_or_default();
    let max_tokens = match o.num_predict {
        None => default_max,
        Some(n) if n < 0 => default_max,
        Some(0) => return Err(ApiError::bad_param("options", "num_predict must be at least 1 (or -1 for the default)").ollama()),
        Some(n) if n as u64 > super::openai::MAX_TOKENS_LIMIT => {
            return Err(ApiError::bad_param("options", format!("num_predict {n} is absurd: ask for at most the model's context length")).ollama());
        }
        Some(n) => n as usize,
    };
    Ok(GenerateRequest {
        model,
        input,
        max_tokens,
        sampling: Sampling {
            temperature: o.temperature,
            top_p: o.top_p,
            top_k: o.top_k.map(|k| k as usize),
            seed: o.seed.map(|s| s as u64),
        },
        stop: o.stop.unwrap_or_default().into_iter().filter(|s| !s.is_empty()).collect(),
    })
}

fn no_images(images: &Option<Vec<String>>) -> Result<(), ApiError> {
    match images {
        Some(v) if !v.is_empty() => Err(ApiError::bad_param("images", "images are not supported: this model reads text only").ollama()),
        _ => Ok(()),
    }
}

fn role(name: &str) -> Result<Role, ApiError> {
    Ok(match name {
        "system" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        other => {
            return Err(ApiError::bad_param("messages", format!("unknown role {other:?}: use system, user, assistant or tool")).ollama());
        }
    })
}

/// Answers a chat conversation.
#[utoipa::path(post, path = "/api/chat", tag = "ollama", request_body = ChatRequest,
    responses((status = 200, description = "NDJSON objects (or one with `stream: false`)"), (status = 400, description = "invalid request"),
        (status = 404, description = "unknown model"), (status = 429, description = "queue full"), (status = 503, description = "provider unavailable")))]
pub async fn chat(State(state): State<AppState>, JsonBody(body): JsonBody<ChatRequest>) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    if body.messages.is_empty() {
        return Err(ApiError::bad_param("messages", "messages is empty: send at least one message").ollama());
    }
    let mut messages = Vec::with_capacity(body.messages.len());
    for m in body.messages {
        no_images(&m.images)?;
        messages.push(ChatMessage::new(role(&m.role)?, m.content));
    }
    let request = options_request(body.model, PromptInput::Chat(messages), body.options, state.config.default_max_tokens)?;
    answer(state, request, body.stream.unwrap_or(true), true, arrived).await
}

/// Continues a prompt (templated as a user message unless `raw`), or fills in the middle.
#[utoipa::path(post, path = "/api/generate", tag = "ollama", request_body = GenerateBody,
    responses((status = 200, description = "NDJSON objects (or one with `stream: false`)"), (status = 400, description = "invalid request"),
        (status = 404, description = "unknown model"), (status = 429, description = "queue full"), (status = 503, description = "provider unavailable")))]
pub async fn generate(State(state): State<AppState>, JsonBody(body): JsonBody<GenerateBody>) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    no_images(&body.images)?;
    let prompt = body.prompt.unwrap_or_default();
    if prompt.is_empty() && body.suffix.as_deref().unwrap_or_default().is_empty() {
        // Ollama's way to load a model: answer done at once.
        let models = state.providers.active().models().await.map_err(|e| ApiError::from(e).ollama())?;
        let wanted = crate::providers::strip_tag(&body.model);
        if !models.iter().any(|m| m.id == wanted) {
            return Err(ApiError::new(axum::http::StatusCode::NOT_FOUND, format!("model {:?} not found", body.model)).ollama());
        }
        return Ok(Json(json!({"model": body.model, "created_at": now_rfc3339(), "response": "", "done": true, "done_reason": "load"})).into_response());
    }
    let input = match body.suffix.filter(|s| !s.is_empty()) {
        Some(suffix) => PromptInput::Infill { prefix: prompt, suffix },
        None if body.raw.unwrap_or(false) => PromptInput::Text(prompt),
        None => {
            let mut messages = Vec::new();
            if let Some(system) = body.system.filter(|s| !s.is_empty()) {
                messages.push(ChatMessage::system(system));
            }
            messages.push(ChatMessage::user(prompt));
            PromptInput::Chat(messages)
        }
    };
    let request = options_request(body.model, input, body.options, state.config.default_max_tokens)?;
    answer(state, request, body.stream.unwrap_or(true), false, arrived).await
}

fn final_fields(object: &mut Value, done: &Completion, arrived: Instant) {
    let ns = |d: std::time::Duration| d.as_nanos() as u64;
    object["done"] = json!(true);
    object["done_reason"] = json!(done.finish.as_str());
    object["total_duration"] = json!(ns(arrived.elapsed()));
    object["load_duration"] = json!(0);
    object["prompt_eval_count"] = json!(done.prompt_tokens);
    object["prompt_eval_duration"] = json!(ns(done.prompt_time));
    object["eval_count"] = json!(done.completion_tokens);
    object["eval_duration"] = json!(ns(done.generation_time));
}

fn piece(model: &str, text: &str, chat: bool) -> Value {
    let mut object = json!({"model": model, "created_at": now_rfc3339(), "done": false});
    if chat {
        object["message"] = json!({"role": "assistant", "content": text});
    } else {
        object["response"] = json!(text);
    }
    object
}

async fn answer(state: AppState, request: GenerateRequest, stream: bool, chat: bool, arrived: Instant) -> Result<Response, ApiError> {
    let model = request.model.clone();
    let metered = Metered::start(&state, request, arrived).await.map_err(|e| ApiError::from(e).ollama())?;
    if !stream {
        let (text, done) = metered.collect().await.map_err(|e| ApiError::from(e).ollama())?;
        let mut object = piece(&model, &text, chat);
        final_fields(&mut object, &done, arrived);
        return Ok(Json(object).into_response());
    }
    let lines = futures_util::stream::unfold(Some(metered), move |metered| {
        let model = model.clone();
        async move {
            let mut metered = metered?;
            let line = match metered.next().await {
                Some(Ok(StreamEvent::Text(text))) => Some(piece(&model, &text, chat)),
                Some(Ok(StreamEvent::Done(done))) => {
                    let mut object = piece(&model, "", chat);
                    final_fields(&mut object, &done, arrived);
                    return Some((Ok::<_, std::convert::Infallible>(format!("{object}\n")), None));
                }
                Some(Err(e)) => return Some((Ok(format!("{}\n", ApiError::from(e).ollama().body())), None)),
                None => None,
            }?;
            Some((Ok(format!("{line}\n")), Some(metered)))
        }
    });
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(lines)).into_response())
}
