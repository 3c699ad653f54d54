//! Model providers: what answers a generation request. `edgecoder-local` runs the Burn engine
//! in this process; `openai-compatible` and `ollama-local` forward to another server. The APIs
//! only see the [`Provider`] trait, and [`Providers`] switches the active one at run time.

pub mod local;
pub mod ollama;
pub mod openai;
mod sse;

pub use sse::{Lines, client as upstream_client, error_chain, error_message};

use std::sync::{Arc, RwLock};
use std::time::Duration;

use edgecoder_model::chat::ChatMessage;
use futures_util::future::BoxFuture;
use serde::Serialize;
use tokio::sync::mpsc;

/// Name of the in-process Burn provider.
pub const LOCAL: &str = "edgecoder-local";
/// Name of the OpenAI-compatible upstream provider.
pub const OPENAI: &str = "openai-compatible";
/// Name of the Ollama upstream provider.
pub const OLLAMA: &str = "ollama-local";
/// Every provider name, in the order `status` shows them.
pub const NAMES: [&str; 3] = [LOCAL, OPENAI, OLLAMA];

/// Why a request could not be answered; the APIs map each to a status code.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderError {
    /// The request is invalid for this model (400).
    #[error("{0}")]
    BadRequest(String),
    /// The model is not served here (404).
    #[error("model {model:?} is not available here; available: {available}")]
    UnknownModel {
        /// The requested model.
        model: String,
        /// The models that are, comma-separated.
        available: String,
    },
    /// The queue is full (429).
    #[error("the model is busy: {waiting} requests are already waiting; retry later")]
    Busy {
        /// Requests waiting.
        waiting: usize,
    },
    /// The provider cannot answer at all (503).
    #[error("provider {provider} is unavailable: {reason}")]
    Unavailable {
        /// The provider's name.
        provider: &'static str,
        /// Why, with the fix where there is one.
        reason: String,
    },
    /// The upstream answered with an error (its status is kept).
    #[error("{provider} upstream answered {status}: {message}")]
    Upstream {
        /// The provider's name.
        provider: &'static str,
        /// The upstream's status code.
        status: u16,
        /// The upstream's message.
        message: String,
    },
    /// The engine failed while generating (500).
    #[error("generation failed: {0}")]
    Internal(String),
}

/// What to generate from.
#[derive(Debug, Clone, PartialEq)]
pub enum PromptInput {
    /// A conversation rendered with the model's chat template.
    Chat(Vec<ChatMessage>),
    /// Raw text, continued as is.
    Text(String),
    /// Fill in the middle between `prefix` and `suffix` (needs FIM tokens).
    Infill {
        /// Text before the gap.
        prefix: String,
        /// Text after the gap.
        suffix: String,
    },
}

/// Sampler settings of a request; `None` means the provider's default.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sampling {
    /// Softmax temperature (0 = greedy).
    pub temperature: Option<f32>,
    /// Nucleus sampling mass.
    pub top_p: Option<f32>,
    /// Keep the `k` most likely tokens.
    pub top_k: Option<usize>,
    /// Seed of the sampler.
    pub seed: Option<u64>,
}

/// One generation request, whatever API it came through.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateRequest {
    /// The model id the client asked for (empty: the provider's default).
    pub model: String,
    /// The prompt.
    pub input: PromptInput,
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Sampler settings.
    pub sampling: Sampling,
    /// Generation ends before any of these strings.
    pub stop: Vec<String>,
}

/// Why a generation ended, in the words of the APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Finish {
    /// End of text or a stop string.
    Stop,
    /// `max_tokens` or the context length was reached.
    Length,
    /// The request was cancelled.
    Cancelled,
}

impl Finish {
    /// The OpenAI / Ollama spelling (`stop` or `length`).
    pub fn as_str(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
            Finish::Cancelled => "cancelled",
        }
    }
}

/// The end of a generation: counts and timings.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The model that answered.
    pub model: String,
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Tokens generated.
    pub completion_tokens: usize,
    /// Why it ended.
    pub finish: Finish,
    /// Time the prompt took (prefill), where known.
    pub prompt_time: Duration,
    /// Time the generated tokens took, where known.
    pub generation_time: Duration,
}

/// One event of a generation stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A piece of generated text.
    Text(String),
    /// The generation ended.
    Done(Completion),
}

/// A stream of generation events; dropping it cancels the generation.
#[derive(Debug)]
pub struct TokenStream {
    events: mpsc::UnboundedReceiver<Result<StreamEvent, ProviderError>>,
    _cancel: Option<CancelOnDrop>,
}

impl TokenStream {
    /// A stream fed by `events`; `cancel` is set when the stream is dropped.
    pub fn new(
        events: mpsc::UnboundedReceiver<Result<StreamEvent, ProviderError>>,
        cancel: Option<edgecoder_model::engine::CancelToken>,
    ) -> Self {
        TokenStream { events, _cancel: cancel.map(CancelOnDrop) }
    }

    /// The next event; `None` after `Done` or an error.
    pub async fn next(&mut self) -> Option<Result<StreamEvent, ProviderError>> {
        self.events.recv().await
    }

    /// Reads the whole stream: the text and the completion.
    pub async fn collect(mut self) -> Result<(String, Completion), ProviderError> {
        let mut text = String::new();
        while let Some(event) = self.next().await {
            match event? {
                StreamEvent::Text(piece) => text.push_str(&piece),
                StreamEvent::Done(completion) => return Ok((text, completion)),
            }
        }
        Err(ProviderError::Internal("the generation ended without finishing".into()))
    }
}

#[derive(Debug)]
struct CancelOnDrop(edgecoder_model::engine::CancelToken);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A model a provider can serve.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ModelInfo {
    /// The id clients send as `model`.
    pub id: String,
    /// Architecture family (`qwen2`, `llama`, ...), where known.
    pub family: String,
    /// File size in bytes, where known.
    pub size: u64,
    /// Parameters, where known.
    pub parameters: u64,
    /// Quantization of most weights (`Q4_K`, ...), where known.
    pub quantization: String,
    /// Context length in tokens, where known.
    pub context_length: usize,
    /// Whether `suffix` (fill-in-the-middle) works.
    pub fill_in_the_middle: bool,
    /// Whether the model has a chat template.
    pub chat: bool,
    /// SHA-256 of the file, where known.
    pub digest: String,
}

/// A provider's health.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Whether it can answer now.
    pub ok: bool,
    /// What is wrong (or what it serves), in words.
    pub detail: String,
}

/// What answers generation requests.
pub trait Provider: Send + Sync {
    /// The provider's name (one of [`NAMES`]).
    fn name(&self) -> &'static str;
    /// The models it serves now.
    fn models(&self) -> BoxFuture<'_, Result<Vec<ModelInfo>, ProviderError>>;
    /// Whether it can answer now.
    fn health(&self) -> BoxFuture<'_, Health>;
    /// Starts a generation; events arrive on the stream.
    fn generate(&self, request: GenerateRequest) -> BoxFuture<'_, Result<TokenStream, ProviderError>>;
}

/// The providers of a daemon and which one is active.
pub struct Providers {
    local: Arc<local::LocalProvider>,
    upstreams: Vec<Arc<dyn Provider>>,
    active: RwLock<Arc<dyn Provider>>,
}

impl Providers {
    /// The local provider plus the configured upstreams; `active` names the one that answers.
    pub fn new(
        local: Arc<local::LocalProvider>,
        upstreams: Vec<Arc<dyn Provider>>,
        active: &str,
    ) -> Result<Self, ProviderError> {
        let first: Arc<dyn Provider> = local.clone();
        let providers = Providers {
            active: RwLock::new(first),
            local,
            upstreams,
        };
        providers.switch(active)?;
        Ok(providers)
    }

    /// The in-process provider (for model loading).
    pub fn local(&self) -> &Arc<local::LocalProvider> {
        &self.local
    }

    /// The provider that answers requests now.
    pub fn active(&self) -> Arc<dyn Provider> {
        self.active.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Every configured provider.
    pub fn all(&self) -> Vec<Arc<dyn Provider>> {
        let mut all: Vec<Arc<dyn Provider>> = vec![self.local.clone()];
        all.extend(self.upstreams.iter().cloned());
        all
    }

    /// Makes `name` the active provider; requests already running finish where they started.
    pub fn switch(&self, name: &str) -> Result<(), ProviderError> {
        let provider = self.all().into_iter().find(|p| p.name() == name).ok_or_else(|| {
            if NAMES.contains(&name) {
                let key = if name == OPENAI { "openai_url" } else { "ollama_url" };
                ProviderError::BadRequest(format!(
                    "provider {name} is not configured: set {key} in the daemon's config file and restart it"
                ))
            } else {
                ProviderError::BadRequest(format!("unknown provider {name:?}: use one of {}", NAMES.join(", ")))
            }
        })?;
        *self.active.write().unwrap_or_else(|e| e.into_inner()) = provider;
        tracing::info!(provider = name, "active provider switched");
        Ok(())
    }
}

/// The id a client means by `model` with Ollama's `:latest` tag removed.
pub fn strip_tag(model: &str) -> &str {
    model.strip_suffix(":latest").unwrap_or(model)
}
