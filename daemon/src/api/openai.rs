//! The OpenAI-compatible API: `GET /v1/models`, `POST /v1/chat/completions` and
//! `POST /v1/completions`, streamed as server-sent events ending in `data: [DONE]`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Instant;

use axum::extract::State;
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use edgecoder_model::chat::{ChatMessage, Role, ToolCall};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{ApiError, Metered};
use edgecoder_protocol::envelope::unix_time_s;
use crate::api::JsonBody;
use crate::providers::{Completion, Finish, GenerateRequest, PromptInput, Sampling, StreamEvent};
use crate::server::AppState;

/// Largest `max_tokens` the API passes on (providers check their own context length).
pub const MAX_TOKENS_LIMIT: u64 = 1 << 20;

/// The OpenAI routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/models", get(models))
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/completions", post(completions))
}

/// `stop`: one string or a list of up to four.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Stop {
    /// One stop string.
    One(String),
    /// Several stop strings.
    Many(Vec<String>),
}

/// `stream_options`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct StreamOptions {
    /// Send a last chunk with the usage counts.
    #[serde(default)]
    pub include_usage: bool,
}

/// A part of an array-of-parts message content; only `text` parts are accepted.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ContentPart {
    /// The part's type (`text`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a `text` part.
    #[serde(default)]
    pub text: Option<String>,
}

/// Message content: a string or an array of parts.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Content {
    /// Plain text.
    Text(String),
    /// Text parts, concatenated.
    Parts(Vec<ContentPart>),
}

/// The function of a tool call in a request message.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct FunctionCallIn {
    /// Function name.
    pub name: String,
    /// Arguments as a JSON string.
    #[serde(default)]
    pub arguments: String,
}

/// A tool call the assistant made earlier in the conversation.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ToolCallIn {
    /// The function called.
    pub function: FunctionCallIn,
}

/// One message of a chat request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct MessageIn {
    /// `system` (or `developer`), `user`, `assistant` or `tool`.
    pub role: String,
    /// The content (may be absent on an assistant message with tool calls).
    #[serde(default)]
    pub content: Option<Content>,
    /// Tool calls of an assistant message.
    #[serde(default)]
    pub tool_calls: Option<Vec<ToolCallIn>>,
}

/// `POST /v1/chat/completions` request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ChatCompletionRequest {
    /// A model id from `GET /v1/models`.
    pub model: String,
    /// The conversation.
    pub messages: Vec<MessageIn>,
    /// Stream server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Streaming options.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Most tokens to generate.
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// Newer name of `max_tokens` (wins when both are given).
    #[serde(default)]
    pub max_completion_tokens: Option<u64>,
    /// Sampling temperature, 0 to 2 (default 0: greedy on the local engine).
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus sampling mass, (0, 1].
    #[serde(default)]
    pub top_p: Option<f32>,
    /// Stop strings.
    #[serde(default)]
    pub stop: Option<Stop>,
    /// Sampler seed.
    #[serde(default)]
    pub seed: Option<i64>,
    /// Number of choices (only 1).
    #[serde(default)]
    pub n: Option<u32>,
}

/// A prompt: a string or a list holding one string.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum PromptSpec {
    /// One prompt.
    One(String),
    /// A batch (only one element is accepted).
    Many(Vec<String>),
}

/// `POST /v1/completions` request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CompletionRequest {
    /// A model id from `GET /v1/models`.
    pub model: String,
    /// The text to continue (the prefix when `suffix` is given).
    pub prompt: PromptSpec,
    /// Text after the gap: fill in the middle (models with FIM tokens only).
    #[serde(default)]
    pub suffix: Option<String>,
    /// Most tokens to generate (default 16).
    #[serde(default)]
    pub max_tokens: Option<u64>,
    /// Sampling temperature, 0 to 2.
    #[serde(default)]
    pub temperature: Option<f32>,
    /// Nucleus sampling mass, (0, 1].
    #[serde(default)]
    pub top_p: Option<f32>,
    /// Stop strings.
    #[serde(default)]
    pub stop: Option<Stop>,
    /// Sampler seed.
    #[serde(default)]
    pub seed: Option<i64>,
    /// Stream server-sent events.
    #[serde(default)]
    pub stream: bool,
    /// Streaming options.
    #[serde(default)]
    pub stream_options: Option<StreamOptions>,
    /// Number of choices (only 1).
    #[serde(default)]
    pub n: Option<u32>,
}

/// Token counts of an answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Tokens generated.
    pub completion_tokens: usize,
    /// Their sum.
    pub total_tokens: usize,
}

impl From<&Completion> for Usage {
    fn from(c: &Completion) -> Usage {
        Usage {
            prompt_tokens: c.prompt_tokens,
            completion_tokens: c.completion_tokens,
            total_tokens: c.prompt_tokens + c.completion_tokens,
        }
    }
}

/// The answer's message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageOut {
    /// Always `assistant`.
    pub role: &'static str,
    /// The generated text.
    pub content: String,
}

/// One choice of a chat completion.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChatChoice {
    /// Always 0.
    pub index: u32,
    /// The answer.
    pub message: MessageOut,
    /// `stop` or `length`.
    pub finish_reason: &'static str,
}

/// A non-streamed answer: `chat.completion` with [`ChatChoice`]s (`POST /v1/chat/completions`)
/// or `text_completion` with [`TextChoice`]s (`POST /v1/completions`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Answer<C> {
    /// Answer id.
    pub id: String,
    /// `chat.completion` or `text_completion`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: u64,
    /// The model that answered.
    pub model: String,
    /// One choice.
    pub choices: Vec<C>,
    /// Token counts.
    pub usage: Usage,
}

/// One choice of a text completion.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TextChoice {
    /// Always 0.
    pub index: u32,
    /// The generated text.
    pub text: String,
    /// `stop` or `length`.
    pub finish_reason: &'static str,
    /// Always null.
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<Value>,
}

/// One entry of `GET /v1/models`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModelEntry {
    /// The id to send as `model`.
    pub id: String,
    /// Always `model`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: u64,
    /// Who serves it (the provider's name).
    pub owned_by: String,
}

/// `GET /v1/models` answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: &'static str,
    /// The models.
    pub data: Vec<ModelEntry>,
}

/// Lists the models the active provider serves.
#[utoipa::path(get, path = "/v1/models", tag = "openai",
    responses((status = 200, body = ModelList), (status = 503, description = "provider unavailable")))]
pub async fn models(State(state): State<AppState>) -> Result<Json<ModelList>, ApiError> {
    let provider = state.providers.active();
    let models = provider.models().await?;
    let created = unix_time_s();
    Ok(Json(ModelList {
        object: "list",
        data: models
            .into_iter()
            .map(|m| ModelEntry { id: m.id, object: "model", created, owned_by: provider.name().to_owned() })
            .collect(),
    }))
}

fn sampling(temperature: Option<f32>, top_p: Option<f32>, seed: Option<i64>) -> Result<Sampling, ApiError> {
    if let Some(t) = temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(ApiError::bad_param("temperature", format!("temperature {t} is out of range: use 0 to 2")));
    }
    if let Some(p) = top_p
        && !(p > 0.0 && p <= 1.0)
    {
        return Err(ApiError::bad_param("top_p", format!("top_p {p} is out of range: use a value in (0, 1]")));
    }
    Ok(Sampling { temperature, top_p, top_k: None, seed: seed.map(|s| s as u64) })
}

fn stops(stop: Option<Stop>) -> Result<Vec<String>, ApiError> {
    let stops = match stop {
        None => Vec::new(),
        Some(Stop::One(s)) => vec![s],
        Some(Stop::Many(v)) => v,
    };
    if stops.len() > 4 {
        return Err(ApiError::bad_param("stop", format!("{} stop strings given: at most 4 are allowed", stops.len())));
    }
    if stops.iter().any(String::is_empty) {
        return Err(ApiError::bad_param("stop", "stop strings must not be empty"));
    }
    Ok(stops)
}

fn max_tokens(given: Option<u64>, default: usize) -> Result<usize, ApiError> {
    match given {
        None => Ok(default),
        Some(0) => Err(ApiError::bad_param("max_tokens", "max_tokens must be at least 1")),
        Some(n) if n > MAX_TOKENS_LIMIT => Err(ApiError::bad_param(
            "max_tokens",
            format!("max_tokens {n} is absurd: ask for at most the model's context length (see /api/show)"),
        )),
        Some(n) => Ok(n as usize),
    }
}

fn one_choice(n: Option<u32>) -> Result<(), ApiError> {
    match n {
        None | Some(1) => Ok(()),
        Some(n) => Err(ApiError::bad_param("n", format!("n = {n} is not supported: ask for one choice (n = 1)"))),
    }
}

fn message(m: MessageIn) -> Result<ChatMessage, ApiError> {
    let role = match m.role.as_str() {
        "system" | "developer" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        other => {
            return Err(ApiError::bad_param(
                "messages",
                format!("unknown role {other:?}: use system, user, assistant or tool"),
            ));
        }
    };
    let content = match m.content {
        None => String::new(),
        Some(Content::Text(text)) => text,
        Some(Content::Parts(parts)) => {
            let mut text = String::new();
            for part in parts {
                match (part.kind.as_str(), part.text) {
                    ("text", Some(t)) => text.push_str(&t),
                    ("text", None) => return Err(ApiError::bad_param("messages", "a text part has no `text`")),
                    (kind, _) => {
                        return Err(ApiError::bad_param(
                            "messages",
                            format!("content parts of type {kind:?} are not supported: this model reads text parts only"),
                        ));
                    }
                }
            }
            text
        }
    };
    let tool_calls = m
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .map(|c| {
            let arguments = serde_json::from_str(&c.function.arguments).unwrap_or(Value::String(c.function.arguments));
            ToolCall::function(c.function.name, arguments)
        })
        .collect();
    Ok(ChatMessage { role, content, tool_calls })
}

/// The generation request of a chat completion request.
pub fn chat_request(body: ChatCompletionRequest, default_max_tokens: usize) -> Result<GenerateRequest, ApiError> {
    one_choice(body.n)?;
    if body.messages.is_empty() {
        return Err(ApiError::bad_param("messages", "messages is empty: send at least one message"));
    }
    let messages = body.messages.into_iter().map(message).collect::<Result<Vec<_>, _>>()?;
    Ok(GenerateRequest {
        model: body.model,
        input: PromptInput::Chat(messages),
        max_tokens: max_tokens(body.max_completion_tokens.or(body.max_tokens), default_max_tokens)?,
        sampling: sampling(body.temperature, body.top_p, body.seed)?,
        stop: stops(body.stop)?,
    })
}

/// The generation request of a completion request.
pub fn completion_request(body: CompletionRequest) -> Result<GenerateRequest, ApiError> {
    one_choice(body.n)?;
    let prompt = match body.prompt {
        PromptSpec::One(p) => p,
        PromptSpec::Many(mut v) if v.len() == 1 => v.remove(0),
        PromptSpec::Many(v) => {
            return Err(ApiError::bad_param(
                "prompt",
                format!("{} prompts given: send one prompt per request", v.len()),
            ));
        }
    };
    let input = match body.suffix.filter(|s| !s.is_empty()) {
        Some(suffix) => PromptInput::Infill { prefix: prompt, suffix },
        None => PromptInput::Text(prompt),
    };
    Ok(GenerateRequest {
        model: body.model,
        input,
        max_tokens: max_tokens(body.max_tokens, 16)?,
        sampling: sampling(body.temperature, body.top_p, body.seed)?,
        stop: stops(body.stop)?,
    })
}

fn answer_id(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    format!("{prefix}-{}-{}", unix_time_s(), NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// Answers a chat conversation.
#[utoipa::path(post, path = "/v1/chat/completions", tag = "openai", request_body = ChatCompletionRequest,
    responses((status = 200, body = Answer<ChatChoice>, description = "the answer, or `text/event-stream` chunks when `stream` is true"),
        (status = 400, description = "invalid request"), (status = 404, description = "unknown model"),
        (status = 429, description = "queue full"), (status = 503, description = "provider unavailable")))]
pub async fn chat_completions(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<ChatCompletionRequest>,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let (stream, include_usage) = (body.stream, body.stream_options.as_ref().is_some_and(|o| o.include_usage));
    let request = chat_request(body, state.config.default_max_tokens)?;
    answer(&state, request, arrived, Kind::Chat, stream, include_usage).await
}

/// Continues a text, or fills in the middle when `suffix` is given.
#[utoipa::path(post, path = "/v1/completions", tag = "openai", request_body = CompletionRequest,
    responses((status = 200, body = Answer<TextChoice>, description = "the answer, or `text/event-stream` chunks when `stream` is true"),
        (status = 400, description = "invalid request (e.g. `suffix` on a model without FIM tokens)"),
        (status = 404, description = "unknown model"), (status = 429, description = "queue full"),
        (status = 503, description = "provider unavailable")))]
pub async fn completions(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<CompletionRequest>,
) -> Result<Response, ApiError> {
    let arrived = Instant::now();
    let (stream, include_usage) = (body.stream, body.stream_options.as_ref().is_some_and(|o| o.include_usage));
    let request = completion_request(body)?;
    answer(&state, request, arrived, Kind::Text, stream, include_usage).await
}

/// The two answer shapes: chat (messages and deltas) and text completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Chat,
    Text,
}

impl Kind {
    /// The `object` of a streamed chunk.
    fn chunk_object(self) -> &'static str {
        match self {
            Kind::Chat => "chat.completion.chunk",
            Kind::Text => "text_completion",
        }
    }

    /// A streamed choice: `text` (or the end, with `finish`).
    fn choice(self, text: Option<&str>, finish: Option<Finish>) -> Value {
        let finish = finish.map(Finish::as_str);
        match self {
            Kind::Chat => {
                let delta = text.map_or_else(|| json!({}), |t| json!({"content": t}));
                json!({"index": 0, "delta": delta, "finish_reason": finish, "logprobs": null})
            }
            Kind::Text => json!({"index": 0, "text": text.unwrap_or(""), "finish_reason": finish, "logprobs": null}),
        }
    }
}

/// Runs `request` and answers in `kind`'s shape: one JSON answer, or SSE chunks when `stream`.
async fn answer(
    state: &AppState,
    request: GenerateRequest,
    arrived: Instant,
    kind: Kind,
    stream: bool,
    include_usage: bool,
) -> Result<Response, ApiError> {
    let requested = request.model.clone();
    let metered = Metered::start(state, request, arrived).await?;
    let id = answer_id(if kind == Kind::Chat { "chatcmpl" } else { "cmpl" });
    let created = unix_time_s();
    if stream {
        return Ok(sse(metered, move |step| {
            let chunk = |choices: Value| json!({"id": id, "object": kind.chunk_object(), "created": created, "model": requested, "choices": choices});
            match step {
                Step::Start if kind == Kind::Chat => vec![chunk(json!([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null, "logprobs": null}]))],
                Step::Start => Vec::new(),
                Step::Text(text) => vec![chunk(json!([kind.choice(Some(&text), None)]))],
                Step::Done(done) => {
                    let mut out = vec![chunk(json!([kind.choice(None, Some(done.finish))]))];
                    if include_usage {
                        let mut usage = chunk(json!([]));
                        usage["usage"] = json!(Usage::from(&done));
                        out.push(usage);
                    }
                    out
                }
            }
        })
        .into_response());
    }
    let (text, done) = metered.collect().await?;
    let model = if requested.is_empty() { done.model.clone() } else { requested };
    let (usage, finish_reason) = (Usage::from(&done), done.finish.as_str());
    Ok(match kind {
        Kind::Chat => Json(Answer {
            id,
            object: "chat.completion",
            created,
            model,
            choices: vec![ChatChoice { index: 0, message: MessageOut { role: "assistant", content: text }, finish_reason }],
            usage,
        })
        .into_response(),
        Kind::Text => Json(Answer {
            id,
            object: "text_completion",
            created,
            model,
            choices: vec![TextChoice { index: 0, text, finish_reason, logprobs: None }],
            usage,
        })
        .into_response(),
    })
}

/// A step of a streamed answer, turned into chunks by the endpoint.
pub enum Step {
    /// Before the first text.
    Start,
    /// A piece of text.
    Text(String),
    /// The end.
    Done(Completion),
}

/// Streams `metered` as server-sent events: the chunks `format` makes of each step, an error
/// object if the generation fails midway, then `[DONE]`.
fn sse(
    metered: Metered,
    format: impl FnMut(Step) -> Vec<Value> + Send + 'static,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    struct Feed<F> {
        metered: Metered,
        format: F,
        pending: VecDeque<String>,
        started: bool,
        finished: bool,
    }
    let feed = Feed { metered, format, pending: VecDeque::new(), started: false, finished: false };
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        loop {
            if let Some(data) = feed.pending.pop_front() {
                return Some((Ok(Event::default().data(data)), feed));
            }
            if feed.finished {
                return None;
            }
            if !feed.started {
                feed.started = true;
                feed.pending.extend((feed.format)(Step::Start).iter().map(Value::to_string));
                continue;
            }
            let chunks = match feed.metered.next().await {
                Some(Ok(StreamEvent::Text(text))) => (feed.format)(Step::Text(text)),
                Some(Ok(StreamEvent::Done(done))) => {
                    feed.finished = true;
                    (feed.format)(Step::Done(done))
                }
                Some(Err(e)) => {
                    feed.finished = true;
                    vec![ApiError::from(e).body()]
                }
                None => {
                    feed.finished = true;
                    vec![ApiError::from(crate::providers::ProviderError::Internal("the generation ended without finishing".into())).body()]
                }
            };
            feed.pending.extend(chunks.iter().map(Value::to_string));
            if feed.finished {
                feed.pending.push_back("[DONE]".to_owned());
            }
        }
    });
    Sse::new(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(body: Value) -> Result<GenerateRequest, ApiError> {
        chat_request(serde_json::from_value(body).expect("valid shape"), 100)
    }

    #[test]
    fn string_and_parts_content_become_the_same_message() {
        let a = chat(json!({"model": "m", "messages": [{"role": "user", "content": "ab"}]})).unwrap();
        let b = chat(json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}]}))
        .unwrap();
        assert_eq!(a.input, b.input);
        assert_eq!(a.max_tokens, 100);
    }

    #[test]
    fn every_role_maps_and_tool_calls_are_kept() {
        let r = chat(json!({"model": "m", "max_tokens": 5, "messages": [
            {"role": "developer", "content": "s"}, {"role": "user", "content": "u"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "1", "type": "function",
                "function": {"name": "f", "arguments": "{\"x\": 1}"}}]},
            {"role": "tool", "tool_call_id": "1", "content": "2"}]}))
        .unwrap();
        let PromptInput::Chat(messages) = r.input else { panic!() };
        let roles: Vec<Role> = messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::System, Role::User, Role::Assistant, Role::Tool]);
        assert_eq!(messages[2].tool_calls[0].function.arguments, json!({"x": 1}));
        assert_eq!(r.max_tokens, 5);
    }

    #[test]
    fn bad_requests_name_the_field() {
        for (body, param) in [
            (json!({"model": "m", "messages": [{"role": "wizard", "content": "x"}]}), "messages"),
            (json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]}), "messages"),
            (json!({"model": "m", "messages": []}), "messages"),
            (json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}), "max_tokens"),
            (json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 1u64 << 40}), "max_tokens"),
            (json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2}), "n"),
            (json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "top_p": 0}), "top_p"),
            (json!({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": ["a", "b", "c", "d", "e"]}), "stop"),
        ] {
            let e = chat(body.clone()).unwrap_err();
            assert_eq!(e.status, 400, "{body}");
            assert_eq!(e.param, Some(param), "{body}: {}", e.message);
        }
    }

    #[test]
    fn a_suffix_asks_for_fill_in_the_middle() {
        let parse = |v: Value| completion_request(serde_json::from_value(v).unwrap());
        let r = parse(json!({"model": "m", "prompt": "a", "suffix": "b"})).unwrap();
        assert_eq!(r.input, PromptInput::Infill { prefix: "a".into(), suffix: "b".into() });
        assert_eq!(r.max_tokens, 16);
        let r = parse(json!({"model": "m", "prompt": ["a"], "suffix": ""})).unwrap();
        assert_eq!(r.input, PromptInput::Text("a".into()));
        assert!(parse(json!({"model": "m", "prompt": ["a", "b"]})).is_err());
    }
}
