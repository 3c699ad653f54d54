//! `ollama-local`: forwards generations to an Ollama server (`/api/chat`, `/api/generate`) and
//! streams its NDJSON answer back.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::sse::{Lines, Protocol, Step, Upstream, relay, send};
use super::{
    Completion, Finish, GenerateRequest, Health, ModelInfo, OLLAMA, PromptInput, Provider,
    ProviderError, TokenStream,
};

/// The Ollama upstream provider.
pub struct OllamaProvider {
    upstream: Upstream,
}

impl OllamaProvider {
    /// A provider for the Ollama server at `base_url` through `client` (see
    /// [`super::upstream_client`]); `api_key`, when set, is sent as a bearer token (an
    /// `edgecoderd` upstream needs one; Ollama ignores it).
    pub fn new(base_url: &str, api_key: Option<String>, client: reqwest::Client) -> Self {
        OllamaProvider { upstream: Upstream::new(client, base_url.trim_end_matches('/').to_owned(), "api", api_key) }
    }

    async fn list(&self) -> Result<Vec<ModelInfo>, ProviderError> {
        let (url, request) = self.upstream.request(reqwest::Method::GET, "tags");
        let response = send(OLLAMA, &url, request.timeout(Duration::from_secs(10))).await?;
        let body: Value = response.json().await.map_err(|e| bad_answer(&url, e))?;
        let models = body["models"].as_array().ok_or_else(|| bad_answer(&url, "no `models` array"))?;
        Ok(models
            .iter()
            .filter_map(|m| {
                let id = m["model"].as_str().or_else(|| m["name"].as_str())?;
                Some(ModelInfo {
                    id: super::strip_tag(id).to_owned(),
                    family: m["details"]["family"].as_str().unwrap_or_default().to_owned(),
                    size: m["size"].as_u64().unwrap_or(0),
                    parameters: 0,
                    quantization: m["details"]["quantization_level"].as_str().unwrap_or_default().to_owned(),
                    context_length: 0,
                    fill_in_the_middle: false,
                    chat: true,
                    digest: m["digest"].as_str().unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }

    async fn start(&self, request: GenerateRequest) -> Result<TokenStream, ProviderError> {
        let model = if request.model.is_empty() {
            self.list().await?.into_iter().next().map(|m| m.id).unwrap_or_default()
        } else {
            request.model.clone()
        };
        let s = &request.sampling;
        let mut options = json!({"num_predict": request.max_tokens});
        for (key, value) in [
            ("temperature", s.temperature.map(|v| json!(v))),
            ("top_p", s.top_p.map(|v| json!(v))),
            ("top_k", s.top_k.map(|v| json!(v))),
            ("seed", s.seed.map(|v| json!(v))),
        ] {
            if let Some(v) = value {
                options[key] = v;
            }
        }
        if !request.stop.is_empty() {
            options["stop"] = json!(request.stop);
        }
        let mut body = json!({"model": model, "stream": true, "options": options});
        let (path, chat) = match &request.input {
            PromptInput::Chat(messages) => {
                body["messages"] = serde_json::to_value(messages).map_err(|e| ProviderError::Internal(e.to_string()))?;
                ("chat", true)
            }
            PromptInput::Text(text) => {
                body["prompt"] = json!(text);
                body["raw"] = json!(true);
                ("generate", false)
            }
            PromptInput::Infill { prefix, suffix } => {
                body["prompt"] = json!(prefix);
                body["suffix"] = json!(suffix);
                ("generate", false)
            }
        };
        let (url, builder) = self.upstream.request(reqwest::Method::POST, path);
        let response = send(OLLAMA, &url, builder.json(&body)).await?;
        let (events, stream) = mpsc::unbounded_channel();
        tokio::spawn(relay(Lines::new(response), events, Objects { model, chat }, url));
        Ok(TokenStream::new(stream, None))
    }
}

fn bad_answer(url: &str, e: impl std::fmt::Display) -> ProviderError {
    ProviderError::Unavailable { provider: OLLAMA, reason: format!("{url} did not answer like an Ollama server: {e}") }
}

/// Ollama's streamed NDJSON objects, until one says `done`.
struct Objects {
    model: String,
    chat: bool,
}

impl Protocol for Objects {
    fn provider(&self) -> &'static str {
        OLLAMA
    }

    fn read(&mut self, line: &str) -> Result<Step, ProviderError> {
        let Ok(object) = serde_json::from_str::<Value>(line) else { return Ok(Step::default()) };
        if let Some(error) = object["error"].as_str() {
            return Err(ProviderError::Upstream { provider: OLLAMA, status: 500, message: error.to_owned() });
        }
        let text = if self.chat { object["message"]["content"].as_str() } else { object["response"].as_str() };
        let done = (object["done"].as_bool() == Some(true)).then(|| {
            let n = |k: &str| object[k].as_u64().unwrap_or(0);
            Completion {
                model: std::mem::take(&mut self.model),
                prompt_tokens: n("prompt_eval_count") as usize,
                completion_tokens: n("eval_count") as usize,
                finish: if object["done_reason"].as_str() == Some("length") { Finish::Length } else { Finish::Stop },
                prompt_time: Duration::from_nanos(n("prompt_eval_duration")),
                generation_time: Duration::from_nanos(n("eval_duration")),
            }
        });
        Ok(Step { text: text.map(str::to_owned), done })
    }

    fn end_marker(&self) -> &'static str {
        "`done`"
    }
}

impl Provider for OllamaProvider {
    fn name(&self) -> &'static str {
        OLLAMA
    }

    fn models(&self) -> BoxFuture<'_, Result<Vec<ModelInfo>, ProviderError>> {
        Box::pin(self.list())
    }

    fn health(&self) -> BoxFuture<'_, Health> {
        Box::pin(async move {
            let (url, request) = self.upstream.request(reqwest::Method::GET, "version");
            match send(OLLAMA, &url, request.timeout(Duration::from_secs(5))).await {
                Ok(response) => {
                    let version: Value = response.json().await.unwrap_or_default();
                    Health { ok: true, detail: format!("{} (version {})", self.upstream.base, version["version"].as_str().unwrap_or("?")) }
                }
                Err(e) => Health { ok: false, detail: e.to_string() },
            }
        })
    }

    fn generate(&self, request: GenerateRequest) -> BoxFuture<'_, Result<TokenStream, ProviderError>> {
        Box::pin(self.start(request))
    }
}
