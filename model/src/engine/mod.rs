//! The public inference API: load a GGUF model, generate text as a stream of tokens with text
//! pieces, cancel between steps, and read the run's statistics.
//!
//! ```no_run
//! use edgecoder_model::engine::{Backend, GenerateParams, Model, Prompt};
//! let model = Model::load("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", Backend::default())?;
//! let mut generation = model.generate(Prompt::Text("def add(a, b):".into()), GenerateParams::default())?;
//! for event in &mut generation {
//!     print!("{}", event?.text);
//! }
//! println!("\n{:?}", generation.stats());
//! # Ok::<(), edgecoder_model::engine::EngineError>(())
//! ```

mod generate;
pub mod prefix_cache;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use burn::tensor::Device;

pub use generate::{FinishReason, Generation, GenerationStats, TokenEvent};
pub use prefix_cache::{PrefixCache, PrefixCacheConfig};

use crate::arch::loader::{WeightMode, load_transformer};
use crate::arch::{ArchError, Logits, ModelConfig, Transformer};
use crate::chat::{ChatMessage, ChatOptions, ChatTemplate, ChatTemplateError};
use crate::gguf::{GgufError, GgufFile};
use crate::quant::{Kernels, QuantError};
use crate::sampling::{SamplingError, SamplingParams};
use crate::tokenizer::{Tokenizer, TokenizerError};

/// Errors of loading a model or generating with it.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The GGUF file could not be read.
    #[error(transparent)]
    Gguf(#[from] GgufError),
    /// The architecture or its weights are not usable.
    #[error(transparent)]
    Arch(#[from] ArchError),
    /// The tokenizer could not be built or failed.
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    /// The quantized kernels could not be set up.
    #[error(transparent)]
    Quant(#[from] QuantError),
    /// Invalid sampling parameters.
    #[error(transparent)]
    Sampling(#[from] SamplingError),
    /// The chat template is missing or failed to render.
    #[error("chat template: {0}")]
    Chat(String),
    /// The prompt is empty after tokenization.
    #[error("the prompt is empty")]
    EmptyPrompt,
    /// The requested backend is not compiled into this build.
    #[error("backend {0} is not available in this build (enable the `gpu` feature for wgpu)")]
    BackendUnavailable(&'static str),
}

/// Where tensor operations run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// Burn's pure-Rust CPU backend `flex` (the default; measured faster than ndarray here).
    #[default]
    Flex,
    /// Burn's deprecated `ndarray` CPU backend (kept for comparison).
    NdArray,
    /// Burn's `wgpu` backend (feature `gpu`).
    Wgpu,
}

impl Backend {
    /// Parses `flex`, `ndarray` or `wgpu`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "flex" | "cpu" => Some(Self::Flex),
            "ndarray" => Some(Self::NdArray),
            "wgpu" | "gpu" => Some(Self::Wgpu),
            _ => None,
        }
    }

    /// The backend's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Flex => "flex",
            Self::NdArray => "ndarray",
            Self::Wgpu => "wgpu",
        }
    }

    /// The Burn device for this backend.
    pub fn device(self) -> Result<Device, EngineError> {
        match self {
            Self::Flex => Ok(Device::flex()),
            #[allow(deprecated)] // ndarray is deprecated upstream; kept to measure against flex
            Self::NdArray => Ok(Device::ndarray()),
            #[cfg(feature = "gpu")]
            Self::Wgpu => Ok(Device::wgpu(Default::default())),
            #[cfg(not(feature = "gpu"))]
            Self::Wgpu => Err(EngineError::BackendUnavailable("wgpu")),
        }
    }
}

/// Options of [`Model::load_with`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    /// Tensor backend.
    pub backend: Backend,
    /// Threads of the quantized kernels.
    pub threads: usize,
    /// How linear weights are held.
    pub weights: WeightMode,
    /// Bounds of the prompt-prefix cache.
    pub prefix_cache: PrefixCacheConfig,
    /// On CPU backends, run the layers over plain buffers (the fast path, default) rather than
    /// one Burn tensor operation at a time; the wgpu backend always uses Burn operations.
    pub host_path: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            backend: Backend::default(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            weights: WeightMode::Quantized,
            prefix_cache: PrefixCacheConfig::default(),
            host_path: true,
        }
    }
}

/// What to generate from.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    /// Raw text, tokenized as is (with BOS where the model wants one).
    Text(String),
    /// Chat messages, rendered with the model's chat template (generation prompt appended).
    Chat(Vec<ChatMessage>),
    /// Chat messages as in [`Prompt::Chat`], followed by the first words of the answer, which
    /// the model goes on from (e.g. an opening code fence, so the answer is code from its
    /// first token).
    ChatReply {
        /// The conversation so far.
        messages: Vec<ChatMessage>,
        /// The start of the assistant's answer.
        reply_start: String,
    },
    /// Token ids, used as they are.
    Tokens(Vec<u32>),
}

/// A flag that stops a generation between two steps; clones share the flag.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A fresh, unset token.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the generation to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// True once [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Parameters of one generation.
#[derive(Debug, Clone)]
pub struct GenerateParams {
    /// Sampler settings (greedy by default).
    pub sampling: SamplingParams,
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Generation ends before any of these strings; they are not part of the output.
    pub stop: Vec<String>,
    /// Checked between steps.
    pub cancel: CancelToken,
    /// Reuse and keep KV caches of shared prompt prefixes.
    pub reuse_prefix: bool,
    /// Keep going past end-of-generation tokens (for benchmarks that need a fixed length).
    pub ignore_eos: bool,
}

impl Default for GenerateParams {
    fn default() -> Self {
        Self {
            sampling: SamplingParams::greedy(),
            max_tokens: 256,
            stop: Vec::new(),
            cancel: CancelToken::new(),
            reuse_prefix: true,
            ignore_eos: false,
        }
    }
}

/// A loaded model: weights, tokenizer, chat template and the prompt-prefix cache.
pub struct Model {
    transformer: Transformer,
    tokenizer: Tokenizer,
    /// The chat template, or why there is none (missing or not compilable).
    chat_template: Result<ChatTemplate, String>,
    prefix_cache: Mutex<PrefixCache>,
    backend: Backend,
    threads: usize,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("config", self.transformer.config())
            .field("backend", &self.backend)
            .field("threads", &self.threads)
            .finish()
    }
}

impl Model {
    /// Loads a GGUF model with default options on `backend`.
    pub fn load(path: impl AsRef<Path>, backend: Backend) -> Result<Self, EngineError> {
        Self::load_with(path, LoadOptions { backend, ..LoadOptions::default() })
    }

    /// Loads a GGUF model with explicit options.
    pub fn load_with(path: impl AsRef<Path>, options: LoadOptions) -> Result<Self, EngineError> {
        let path = path.as_ref();
        let _span = tracing::info_span!("model_load", path = %path.display()).entered();
        let device = options.backend.device()?;
        let file = Arc::new(GgufFile::open(path)?);
        let tokenizer = Tokenizer::from_gguf(&file)?;
        let chat_template = ChatTemplate::from_gguf(&file, &tokenizer).map_err(|e| match e {
            ChatTemplateError::Missing => "the model has no chat template".to_string(),
            other => other.to_string(),
        });
        let kernels = Arc::new(Kernels::new(options.threads.max(1))?);
        let mut transformer = load_transformer(file, &device, kernels.clone(), options.weights)?;
        if options.host_path && options.backend != Backend::Wgpu {
            transformer = transformer.with_host_path(kernels)?;
        }
        Ok(Self {
            transformer,
            tokenizer,
            chat_template,
            prefix_cache: Mutex::new(PrefixCache::new(options.prefix_cache)),
            backend: options.backend,
            threads: options.threads.max(1),
        })
    }

    /// The model's hyperparameters.
    pub fn config(&self) -> &ModelConfig {
        self.transformer.config()
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// The backend the model runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Whether the model ships a chat template.
    pub fn has_chat_template(&self) -> bool {
        self.chat_template.is_ok()
    }

    /// Tokenizes a prompt the way [`Model::generate`] does.
    pub fn tokenize(&self, prompt: &Prompt) -> Result<Vec<u32>, EngineError> {
        let tokens = match prompt {
            Prompt::Text(text) => self.tokenizer.encode(text, true, true)?,
            Prompt::Chat(messages) => self.tokenizer.encode(&self.render_chat(messages)?, false, true)?,
            Prompt::ChatReply { messages, reply_start } => {
                let text = self.render_chat(messages)? + reply_start;
                self.tokenizer.encode(&text, false, true)?
            }
            Prompt::Tokens(tokens) => tokens.clone(),
        };
        if tokens.is_empty() {
            return Err(EngineError::EmptyPrompt);
        }
        Ok(tokens)
    }

    /// `messages` rendered with the chat template, the generation prompt appended.
    fn render_chat(&self, messages: &[ChatMessage]) -> Result<String, EngineError> {
        let template = self.chat_template.as_ref().map_err(|e| EngineError::Chat(e.clone()))?;
        template.render(messages, &ChatOptions::default()).map_err(|e| EngineError::Chat(e.to_string()))
    }

    /// The logits after running `tokens` from an empty cache (one row of `vocab` values).
    pub fn logits(&self, tokens: &[u32]) -> Result<Vec<f32>, EngineError> {
        let mut cache = self.transformer.new_cache();
        Ok(self.transformer.forward(tokens, &mut cache, Logits::Last)?)
    }

    /// The natural log of the probability the model gives each token of `tokens` after the
    /// ones before it (`tokens.len() - 1` values; the first token has no context). Perplexity
    /// is `exp(-mean)`.
    pub fn log_likelihoods(&self, tokens: &[u32]) -> Result<Vec<f32>, EngineError> {
        if tokens.len() < 2 {
            return Ok(Vec::new());
        }
        let mut cache = self.transformer.new_cache();
        let rows = self.transformer.forward(&tokens[..tokens.len() - 1], &mut cache, Logits::All)?;
        let vocab = rows.len() / (tokens.len() - 1);
        Ok(rows
            .chunks_exact(vocab)
            .zip(&tokens[1..])
            .map(|(row, &next)| {
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let sum: f64 = row.iter().map(|&l| f64::from(l - max).exp()).sum();
                row.get(next as usize).map_or(f32::NEG_INFINITY, |&l| l - max - sum.ln() as f32)
            })
            .collect())
    }

    /// For each position of `tokens` from `from` on (`from >= 1`), the `k` most likely tokens
    /// to follow the ones before it, with their logits, most likely first: the teacher's
    /// distribution that token-level distillation learns from.
    pub fn top_logits(&self, tokens: &[u32], from: usize, k: usize) -> Result<Vec<(Vec<u32>, Vec<f32>)>, EngineError> {
        if from == 0 || from > tokens.len() || k == 0 {
            return Ok(Vec::new());
        }
        let mut cache = self.transformer.new_cache();
        let rows = self.transformer.forward(&tokens[..tokens.len() - 1], &mut cache, Logits::All)?;
        let vocab = rows.len() / (tokens.len() - 1);
        Ok(rows
            .chunks_exact(vocab)
            .skip(from - 1)
            .map(|row| {
                let mut order: Vec<u32> = (0..vocab as u32).collect();
                let k = k.min(vocab);
                order.select_nth_unstable_by(k - 1, |&a, &b| row[b as usize].total_cmp(&row[a as usize]));
                order.truncate(k);
                order.sort_by(|&a, &b| row[b as usize].total_cmp(&row[a as usize]));
                let logits = order.iter().map(|&t| row[t as usize]).collect();
                (order, logits)
            })
            .collect())
    }

    /// Starts a generation; tokens are produced by iterating over the result.
    pub fn generate(
        &self,
        prompt: Prompt,
        params: GenerateParams,
    ) -> Result<Generation<'_>, EngineError> {
        let tokens = self.tokenize(&prompt)?;
        Generation::start(self, tokens, params)
    }

    /// Drops every cached prompt prefix.
    pub fn clear_prefix_cache(&self) {
        if let Ok(mut cache) = self.prefix_cache.lock() {
            cache.clear();
        }
    }

    fn transformer(&self) -> &Transformer {
        &self.transformer
    }

    fn prefix_cache(&self) -> std::sync::MutexGuard<'_, PrefixCache> {
        // A panic while holding the lock leaves a consistent store (every operation is atomic
        // with respect to the entries), so a poisoned lock is still usable.
        self.prefix_cache.lock().unwrap_or_else(|e| e.into_inner())
    }
}
