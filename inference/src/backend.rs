//! What writes the text: the larger model on this machine ([`LocalModel`]) or an
//! OpenAI-compatible server ([`OpenAiUpstream`]).

use edgecoder_model::chat::ChatMessage;
use edgecoder_model::engine::{GenerateParams, LoadOptions, Model, Prompt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// `system`, `user` or `assistant`.
    pub role: &'static str,
    /// The text.
    pub content: String,
}

impl Turn {
    /// A system message.
    pub fn system(content: impl Into<String>) -> Turn {
        Turn { role: "system", content: content.into() }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Turn {
        Turn { role: "user", content: content.into() }
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Turn {
        Turn { role: "assistant", content: content.into() }
    }
}

/// Why a backend gave no text.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The local model failed.
    #[error("the local model failed: {0}")]
    Model(#[from] edgecoder_model::engine::EngineError),
    /// The local model could not be found or installed.
    #[error("the model {model:?} cannot be loaded: {message}")]
    Load {
        /// The id or path asked for.
        model: String,
        /// Why.
        message: String,
    },
    /// The upstream server could not be reached or did not answer in time.
    #[error("the upstream at {url} cannot be reached: {message} — check that it runs and the URL is right")]
    Unreachable {
        /// The URL called.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The upstream answered with an error status.
    #[error("the upstream at {url} answered {status}: {body}")]
    Upstream {
        /// The URL called.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of its answer.
        body: String,
    },
    /// The upstream's answer is not an OpenAI chat completion.
    #[error("the upstream's answer is not a chat completion: {0}")]
    Malformed(String),
}

/// Something that answers a conversation.
#[async_trait::async_trait]
pub trait Backend: Send + Sync {
    /// The model's name, for logs and `GET /healthz`.
    fn name(&self) -> String;

    /// The assistant's reply to `turns`, greedy, at most `max_tokens` tokens.
    async fn chat(&self, turns: &[Turn], max_tokens: usize) -> Result<String, BackendError>;
}

/// A language's name in prompts and its code fence's tag (`Python`, `python`).
pub fn lang_names(lang: edgecoder_protocol::run::Lang) -> (&'static str, &'static str) {
    match lang {
        edgecoder_protocol::run::Lang::Python => ("Python", "python"),
        edgecoder_protocol::run::Lang::JavaScript => ("JavaScript", "javascript"),
    }
}

/// Asks `backend` to answer `turns` until `check` accepts a reply, at most `attempts` times; a
/// refused reply goes back to the model with `again(failure)` as the next user turn. The inner
/// `Err` is the last failure when every reply was refused.
pub async fn ask_until<T, F, Fut>(
    backend: &dyn Backend,
    mut turns: Vec<Turn>,
    attempts: u32,
    max_tokens: usize,
    mut check: F,
    again: impl Fn(&str) -> String,
) -> Result<Result<T, String>, BackendError>
where
    F: FnMut(&str) -> Fut,
    Fut: std::future::Future<Output = Result<T, String>>,
{
    let mut last = String::new();
    for attempt in 1..=attempts.max(1) {
        let reply = backend.chat(&turns, max_tokens).await?;
        match check(&reply).await {
            Ok(value) => {
                tracing::info!(attempt, "answer accepted");
                return Ok(Ok(value));
            }
            Err(failure) => {
                tracing::warn!(attempt, %failure, "answer refused; asking again");
                turns.push(Turn::assistant(reply));
                turns.push(Turn::user(again(&failure)));
                last = failure;
            }
        }
    }
    Ok(Err(last))
}

/// A GGUF model run on this machine, one generation at a time.
pub struct LocalModel {
    name: String,
    model: Arc<Model>,
    turn: tokio::sync::Mutex<()>,
}

impl LocalModel {
    /// Loads `model`: a GGUF path, else a catalog id (installed into the model store first when
    /// missing, e.g. `qwen2.5-coder-1.5b`).
    pub fn load(model: &str, threads: Option<usize>) -> Result<LocalModel, BackendError> {
        let path = if Path::new(model).is_file() {
            Path::new(model).to_path_buf()
        } else {
            let load_error = |message: String| BackendError::Load { model: model.to_owned(), message };
            edgecoder_ota::ModelStore::from_env()
                .map_err(|e| load_error(format!("cannot open the model store: {e}")))?
                .ensure(model)
                .map_err(|e| load_error(e.to_string()))?
        };
        let mut options = LoadOptions::default();
        if let Some(threads) = threads {
            options.threads = threads.max(1);
        }
        let loaded = Model::load_with(&path, options)?;
        if !loaded.has_chat_template() {
            return Err(BackendError::Load {
                model: model.to_owned(),
                message: "it has no chat template: use an instruction-tuned model".into(),
            });
        }
        Ok(LocalModel { name: model.to_owned(), model: Arc::new(loaded), turn: tokio::sync::Mutex::new(()) })
    }
}

#[async_trait::async_trait]
impl Backend for LocalModel {
    fn name(&self) -> String {
        self.name.clone()
    }

    async fn chat(&self, turns: &[Turn], max_tokens: usize) -> Result<String, BackendError> {
        let messages: Vec<ChatMessage> = turns
            .iter()
            .map(|t| match t.role {
                "system" => ChatMessage::system(&t.content),
                "assistant" => ChatMessage::assistant(&t.content),
                _ => ChatMessage::user(&t.content),
            })
            .collect();
        let _turn = self.turn.lock().await;
        let model = self.model.clone();
        let span = tracing::info_span!("generate", model = %self.name, max_tokens);
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let params = GenerateParams { max_tokens, ..GenerateParams::default() };
            let mut generation = model.generate(Prompt::Chat(messages), params)?;
            let mut text = String::new();
            for event in &mut generation {
                text.push_str(&event?.text);
            }
            tracing::info!(tokens = generation.stats().generated_tokens, "generated");
            Ok(text)
        })
        .await
        .expect("the generation thread does not panic")
    }
}

/// An OpenAI-compatible chat completions server (`POST {base}/v1/chat/completions`).
pub struct OpenAiUpstream {
    base: String,
    model: String,
    api_key: Option<String>,
    http: reqwest::Client,
}

impl OpenAiUpstream {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:11435`), asking for `model`,
    /// with `api_key` as bearer token when given; each call may take `timeout`.
    pub fn new(base: &str, model: &str, api_key: Option<String>, timeout: Duration) -> OpenAiUpstream {
        OpenAiUpstream {
            base: base.trim_end_matches('/').trim_end_matches("/v1").to_owned(),
            model: model.to_owned(),
            api_key,
            http: reqwest::Client::builder().timeout(timeout).build().expect("an HTTP client with a timeout builds"),
        }
    }
}

#[async_trait::async_trait]
impl Backend for OpenAiUpstream {
    fn name(&self) -> String {
        format!("{} at {}", self.model, self.base)
    }

    async fn chat(&self, turns: &[Turn], max_tokens: usize) -> Result<String, BackendError> {
        let url = format!("{}/v1/chat/completions", self.base);
        let messages: Vec<_> =
            turns.iter().map(|t| serde_json::json!({"role": t.role, "content": t.content})).collect();
        let body = serde_json::json!({
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": false,
        });
        let mut request = self.http.post(&url).json(&body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let unreachable = |e: reqwest::Error| BackendError::Unreachable { url: url.clone(), message: e.to_string() };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?;
        if !status.is_success() {
            let body: String = String::from_utf8_lossy(&bytes).chars().take(500).collect();
            return Err(BackendError::Upstream { url, status: status.as_u16(), body });
        }
        let answer: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(|e| BackendError::Malformed(e.to_string()))?;
        answer["choices"][0]["message"]["content"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| BackendError::Malformed("no choices[0].message.content".into()))
    }
}
