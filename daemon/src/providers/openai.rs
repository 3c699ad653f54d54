//! `openai-compatible`: forwards generations to any OpenAI-compatible server (llama.cpp's
//! server, LM Studio, vLLM) and streams its answer back.

use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::sse::{Lines, Protocol, Step, Upstream, relay, send};
use super::{
    Completion, Finish, GenerateRequest, Health, ModelInfo, OPENAI, PromptInput, Provider,
    ProviderError, TokenStream,
};

/// The OpenAI-compatible upstream provider.
pub struct OpenAiProvider {
    upstream: Upstream,
}

impl OpenAiProvider {
    /// A provider for the server at `base_url` (with or without a trailing `/v1`) through
    /// `client` (see [`super::upstream_client`]).
    pub fn new(base_url: &str, api_key: Option<String>, client: reqwest::Client) -> Self {
        let base = base_url.trim_end_matches('/').trim_end_matches("/v1").to_owned();
        OpenAiProvider { upstream: Upstream::new(client, base, "v1", api_key) }
    }

    async fn list(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        let (url, request) = self.upstream.request(reqwest::Method::GET, "models");
        let response = send(OPENAI, &url, request.timeout(Duration::from_secs(10))).await?;
        let body: Value = response.json().await.map_err(|e| bad_answer(&url, e))?;
        let ids = body["data"].as_array().ok_or_else(|| bad_answer(&url, "no `data` array"))?;
        Ok(ids
            .iter()
            .filter_map(|m| m["id"].as_str())
            .map(|id| ModelInfo {
                id: id.to_owned(),
                family: String::new(),
                size: 0,
                parameters: 0,
                quantization: String::new(),
                context_length: 0,
                fill_in_the_middle: false,
                chat: true,
                digest: String::new(),
            })
            .collect())
    }

    async fn start(&self, request: GenerateRequest) -> Result<TokenStream, ProviderError> {
        let model = if request.model.is_empty() {
            self.list().await?.into_iter().next().map(|m| m.id).unwrap_or_default()
        } else {
            request.model.clone()
        };
        let mut body = json!({
            "model": model,
            "max_tokens": request.max_tokens,
            "stream": true,
            "stream_options": {"include_usage": true},
        });
        let (path, chat) = match &request.input {
            PromptInput::Chat(messages) => {
                body["messages"] = serde_json::to_value(messages).map_err(|e| ProviderError::Internal(e.to_string()))?;
                ("chat/completions", true)
            }
            PromptInput::Text(text) => {
                body["prompt"] = json!(text);
                ("completions", false)
            }
            PromptInput::Infill { prefix, suffix } => {
                body["prompt"] = json!(prefix);
                body["suffix"] = json!(suffix);
                ("completions", false)
            }
        };
        let s = &request.sampling;
        for (key, value) in [
            ("temperature", s.temperature.map(|v| json!(v))),
            ("top_p", s.top_p.map(|v| json!(v))),
            ("top_k", s.top_k.map(|v| json!(v))),
            ("seed", s.seed.map(|v| json!(v))),
        ] {
            if let Some(v) = value {
                body[key] = v;
            }
        }
        if !request.stop.is_empty() {
            body["stop"] = json!(request.stop);
        }
        let (url, builder) = self.upstream.request(reqwest::Method::POST, path);
        let response = send(OPENAI, &url, builder.json(&body)).await?;
        let (events, stream) = mpsc::unbounded_channel();
        let chunks = Chunks {
            model,
            chat,
            started: Instant::now(),
            first_token: None,
            pieces: 0,
            finish: Finish::Stop,
            usage: None,
        };
        tokio::spawn(relay(Lines::new(response), events, chunks, url));
        Ok(TokenStream::new(stream, None))
    }
}

fn bad_answer(url: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Unavailable { provider: OPENAI, reason: format!("{url} did not answer like an OpenAI-compatible server: {e}") }
}

/// OpenAI's streamed chunks: `data:` lines until `data: [DONE]`, usage in the last chunk.
struct Chunks {
    model: String,
    chat: bool,
    started: Instant,
    first_token: Option<Duration>,
    pieces: usize,
    finish: Finish,
    usage: Option<(usize, usize)>,
}

impl Chunks {
    fn completion(&mut self) -> Completion {
        let (prompt_tokens, completion_tokens) = self.usage.unwrap_or((0, self.pieces));
        let prompt_time = self.first_token.unwrap_or_default();
        Completion {
            model: std::mem::take(&mut self.model),
            prompt_tokens,
            completion_tokens,
            finish: self.finish,
            prompt_time,
            generation_time: self.started.elapsed().saturating_sub(prompt_time),
        }
    }
}

impl Protocol for Chunks {
    fn provider(&self) -> &'static str {
        OPENAI
    }

    fn read(&mut self, line: &str) -> Result<Step, ProviderError> {
        let Some(data) = line.strip_prefix("data:").map(str::trim) else { return Ok(Step::default()) };
        if data == "[DONE]" {
            return Ok(Step { text: None, done: Some(self.completion()) });
        }
        let Ok(chunk) = serde_json::from_str::<Value>(data) else { return Ok(Step::default()) };
        if let Some(error) = chunk.get("error") {
            let message = super::sse::error_message(&json!({"error": error}).to_string());
            return Err(ProviderError::Upstream { provider: OPENAI, status: 500, message });
        }
        if let Some(u) = chunk.get("usage").filter(|u| !u.is_null()) {
            let n = |k: &str| u[k].as_u64().unwrap_or(0) as usize;
            self.usage = Some((n("prompt_tokens"), n("completion_tokens")));
        }
        let Some(choice) = chunk["choices"].get(0) else { return Ok(Step::default()) };
        let text = if self.chat { choice["delta"]["content"].as_str() } else { choice["text"].as_str() };
        let text = text.filter(|t| !t.is_empty()).map(str::to_owned);
        if text.is_some() {
            self.pieces += 1;
            self.first_token.get_or_insert_with(|| self.started.elapsed());
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish = if reason == "length" { Finish::Length } else { Finish::Stop };
        }
        Ok(Step { text, done: None })
    }

    fn end_marker(&self) -> &'static str {
        "`data: [DONE]`"
    }
}

impl Provider for OpenAiProvider {
    fn name(&self) -> &'static str {
        OPENAI
    }

    fn models(&self) -> BoxFuture<'_, Result<Vec<ModelInfo>, ProviderError>> {
        Box::pin(self.list())
    }

    fn health(&self) -> BoxFuture<'_, Health> {
        Box::pin(async move {
            match self.list().await {
                Ok(models) => Health {
                    ok: true,
                    detail: format!("{} serves {}", self.upstream.base, models.iter().map(|m| m.id.as_str()).collect::<Vec<_>>().join(", ")),
                },
                Err(e) => Health { ok: false, detail: e.to_string() },
            }
        })
    }

    fn generate(&self, request: GenerateRequest) -> BoxFuture<'_, Result<TokenStream, ProviderError>> {
        Box::pin(self.start(request))
    }
}
