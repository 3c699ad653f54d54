//! `edgecoder-local`: the Burn engine in this process. The engine is synchronous, so one
//! dedicated worker thread runs the generations one after another, fed by a bounded queue (a
//! full queue answers [`ProviderError::Busy`]); tokens go back over a channel, and a client that
//! goes away cancels its generation. Loading another model swaps it in for new requests while
//! the requests already queued finish on the model they started with.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use edgecoder_model::engine::{
    CancelToken, EngineError, FinishReason, GenerateParams, LoadOptions, Model, Prompt,
};
use edgecoder_model::gguf::GgufFile;
use edgecoder_ota::fleet::ModelUse;
use edgecoder_model::sampling::SamplingParams;
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use super::{
    Completion, Finish, GenerateRequest, Health, ModelInfo, PromptInput, Provider, ProviderError,
    StreamEvent, TokenStream, LOCAL,
};

/// The FIM control tokens, in the spellings models use (prefix, suffix, middle).
const FIM_SPELLINGS: [[&str; 3]; 3] = [
    ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"],
    ["<fim_prefix>", "<fim_suffix>", "<fim_middle>"],
    ["<fim-prefix>", "<fim-suffix>", "<fim-middle>"],
];

/// A loaded model and what clients are told about it.
pub struct LoadedModel {
    /// The id clients use.
    pub info: ModelInfo,
    /// The GGUF file.
    pub path: PathBuf,
    /// What it was loaded as (a model id, or a path).
    pub source: String,
    model: Model,
    /// Prefix, suffix and middle token ids, when the model can fill in the middle.
    fim: Option<[u32; 3]>,
}

impl std::fmt::Debug for LoadedModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedModel").field("info", &self.info).field("path", &self.path).finish()
    }
}

/// A model argument resolved to a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The id clients use (a catalog id, or a file's stem).
    pub id: String,
    /// The GGUF file.
    pub path: PathBuf,
    /// Its sha256 (hex), when the store knows it.
    pub digest: String,
}

/// Resolves a model argument: an existing GGUF path (its id is the file stem), else a model id
/// in the model store — the active A/B slot of a model installed from a signed manifest (when
/// the fleet, if any, lets the IDE use it), else the catalog install.
pub fn resolve(model: &str) -> Result<Resolved, ProviderError> {
    let path = Path::new(model);
    if path.is_file() {
        let id = path.file_stem().map_or_else(|| model.to_owned(), |s| s.to_string_lossy().into_owned());
        return Ok(Resolved { id, path: path.to_owned(), digest: String::new() });
    }
    let unavailable = |reason: String| ProviderError::Unavailable { provider: LOCAL, reason };
    let store = edgecoder_ota::ModelStore::from_env().map_err(|e| unavailable(e.to_string()))?;
    let (path, digest) = store.current(model, ModelUse::Ide).map_err(|e| match e {
        edgecoder_ota::OtaError::Withheld { .. } => unavailable(e.to_string()),
        e => unavailable(format!("{model:?} is neither a GGUF file nor an installed model: {e}")),
    })?;
    Ok(Resolved { id: model.to_owned(), path, digest })
}

impl LoadedModel {
    /// Loads `model` (a GGUF path or an installed catalog id); blocks for the load.
    pub fn load(model: &str, options: LoadOptions) -> Result<LoadedModel, ProviderError> {
        let Resolved { id, path, digest } = resolve(model)?;
        let failed = |e: String| ProviderError::Unavailable {
            provider: LOCAL,
            reason: format!("cannot load {}: {e}", path.display()),
        };
        let started = Instant::now();
        let engine = Model::load_with(&path, options).map_err(|e| failed(e.to_string()))?;
        let file = GgufFile::open(&path).map_err(|e| failed(e.to_string()))?;
        let mut by_type: std::collections::BTreeMap<&str, u64> = Default::default();
        for t in file.tensors() {
            *by_type.entry(t.ggml_type().name()).or_default() += t.n_bytes();
        }
        let quantization = by_type.iter().max_by_key(|(_, b)| **b).map(|(t, _)| t.to_string()).unwrap_or_default();
        let tokenizer = engine.tokenizer();
        let fim = FIM_SPELLINGS.iter().find_map(|[p, s, m]| {
            Some([tokenizer.token_id(p)?, tokenizer.token_id(s)?, tokenizer.token_id(m)?])
        });
        let info = ModelInfo {
            family: file.architecture().unwrap_or("unknown").to_owned(),
            size: file.file_size(),
            parameters: file.tensors().iter().map(|t| t.n_elements()).sum(),
            quantization,
            context_length: engine.config().context_length,
            fill_in_the_middle: fim.is_some(),
            chat: engine.has_chat_template(),
            digest,
            id,
        };
        tracing::info!(model = %info.id, seconds = started.elapsed().as_secs_f64(), "model loaded");
        Ok(LoadedModel { info, path, source: model.to_owned(), model: engine, fim })
    }

    /// The engine (for work run on the worker thread, see [`LocalProvider::run_on_engine`]).
    pub fn engine(&self) -> &Model {
        &self.model
    }

    fn prompt(&self, input: &PromptInput) -> Result<Prompt, ProviderError> {
        Ok(match input {
            PromptInput::Chat(messages) => Prompt::Chat(messages.clone()),
            PromptInput::Text(text) => Prompt::Text(text.clone()),
            PromptInput::Infill { prefix, suffix } => {
                let [pre, suf, mid] = self.fim.ok_or_else(|| no_fim(&self.info.id))?;
                let encode = |text: &str| {
                    self.model.tokenizer().encode(text, false, false).map_err(|e| ProviderError::BadRequest(e.to_string()))
                };
                let mut tokens = vec![pre];
                tokens.extend(encode(prefix)?);
                tokens.push(suf);
                tokens.extend(encode(suffix)?);
                tokens.push(mid);
                Prompt::Tokens(tokens)
            }
        })
    }
}

fn no_fim(id: &str) -> ProviderError {
    ProviderError::BadRequest(format!(
        "model {id} has no fill-in-the-middle tokens, so `suffix` cannot be used; drop `suffix` or load a model that has them (qwen2.5-coder-0.5b)"
    ))
}

/// Work for the engine thread: a closure run with the model it was queued for.
struct Job {
    model: Arc<LoadedModel>,
    work: Box<dyn FnOnce(&LoadedModel) + Send>,
    enqueued: Instant,
    span: tracing::Span,
}

/// The in-process provider.
pub struct LocalProvider {
    queue: mpsc::Sender<Job>,
    capacity: usize,
    current: RwLock<Result<Arc<LoadedModel>, String>>,
    loading: tokio::sync::Mutex<()>,
    options: LoadOptions,
}

impl LocalProvider {
    /// Starts the worker thread with a queue of `capacity` waiting requests; no model is loaded
    /// yet (see [`LocalProvider::load`]).
    pub fn start(options: LoadOptions, capacity: usize) -> std::io::Result<Arc<LocalProvider>> {
        let (queue, jobs) = mpsc::channel(capacity.max(1));
        std::thread::Builder::new().name("edgecoder-local".into()).spawn(move || worker(jobs))?;
        Ok(Arc::new(LocalProvider {
            queue,
            capacity: capacity.max(1),
            current: RwLock::new(Err("no model is loaded yet".into())),
            loading: tokio::sync::Mutex::new(()),
            options,
        }))
    }

    /// Loads `model` (a catalog id or a GGUF path) and makes it the one new requests use;
    /// requests in flight finish on the previous model. On failure the previous model stays.
    pub async fn load(&self, model: &str) -> Result<ModelInfo, ProviderError> {
        let _one_at_a_time = self.loading.lock().await;
        let (spec, options) = (model.to_owned(), self.options.clone());
        let loaded = tokio::task::spawn_blocking(move || LoadedModel::load(&spec, options))
            .await
            .map_err(|e| ProviderError::Internal(format!("the model loader panicked: {e}")))?;
        let loaded = match loaded {
            Ok(l) => Arc::new(l),
            Err(e) => {
                let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
                if current.is_err() {
                    *current = Err(e.to_string());
                }
                return Err(e);
            }
        };
        let info = loaded.info.clone();
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Ok(loaded);
        Ok(info)
    }

    /// The loaded model, or why there is none.
    pub fn current(&self) -> Result<Arc<LoadedModel>, ProviderError> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .map_err(|reason| ProviderError::Unavailable { provider: LOCAL, reason })
    }

    /// Requests waiting in the queue (not counting the one running).
    pub fn waiting(&self) -> usize {
        self.capacity - self.queue.capacity()
    }

    /// How many requests may wait.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn model_for(&self, requested: &str) -> Result<Arc<LoadedModel>, ProviderError> {
        let model = self.current()?;
        let requested = super::strip_tag(requested);
        if !requested.is_empty() && requested != model.info.id {
            return Err(ProviderError::UnknownModel {
                model: requested.to_owned(),
                available: format!("{} (load another with `edgecoder models load ID`)", model.info.id),
            });
        }
        Ok(model)
    }

    fn enqueue(&self, request: GenerateRequest) -> Result<TokenStream, ProviderError> {
        let model = self.model_for(&request.model)?;
        let context = model.info.context_length;
        if request.max_tokens == 0 {
            return Err(ProviderError::BadRequest("max_tokens must be at least 1".into()));
        }
        if request.max_tokens > context {
            return Err(ProviderError::BadRequest(format!(
                "max_tokens {} is more than the context length of {} ({context} tokens): ask for at most {context}",
                request.max_tokens, model.info.id
            )));
        }
        if matches!(request.input, PromptInput::Infill { .. }) && model.fim.is_none() {
            return Err(no_fim(&model.info.id));
        }
        if matches!(request.input, PromptInput::Chat(_)) && !model.info.chat {
            return Err(ProviderError::BadRequest(format!(
                "model {} has no chat template: use the completions endpoint (or Ollama's raw generate) instead",
                model.info.id
            )));
        }
        let (events, stream) = mpsc::unbounded_channel();
        let cancel = CancelToken::new();
        let token = cancel.clone();
        let work = move |model: &LoadedModel| {
            if events.is_closed() || token.is_cancelled() {
                tracing::debug!("the client left while the request waited");
                return;
            }
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(model, &request, &events, &token)));
            let error = match outcome {
                Ok(Ok(())) => return,
                Ok(Err(e)) => e,
                Err(_) => ProviderError::Internal("the engine panicked on this request (see the daemon log)".into()),
            };
            tracing::warn!(%error, "generation failed");
            let _ = events.send(Err(error));
        };
        let job = Job { model, work: Box::new(work), enqueued: Instant::now(), span: tracing::Span::current() };
        match self.queue.try_send(job) {
            Ok(()) => Ok(TokenStream::new(stream, Some(cancel))),
            Err(mpsc::error::TrySendError::Full(_)) => Err(ProviderError::Busy { waiting: self.capacity }),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(stopped()),
        }
    }

    /// Runs `work` with `model` on the engine thread, after the requests queued before it;
    /// waits for a place in the queue. Blocks the calling thread, so call it from a thread of
    /// its own (the agent's tasks do), never from the async runtime.
    pub fn run_on_engine(
        &self,
        model: Arc<LoadedModel>,
        work: impl FnOnce(&LoadedModel) + Send + 'static,
    ) -> Result<(), ProviderError> {
        let job = Job { model, work: Box::new(work), enqueued: Instant::now(), span: tracing::Span::current() };
        self.queue.blocking_send(job).map_err(|_| stopped())
    }
}

fn stopped() -> ProviderError {
    ProviderError::Unavailable { provider: LOCAL, reason: "the engine worker has stopped; restart the daemon".into() }
}

impl Provider for LocalProvider {
    fn name(&self) -> &'static str {
        LOCAL
    }

    fn models(&self) -> BoxFuture<'_, Result<Vec<ModelInfo>, ProviderError>> {
        Box::pin(async move { Ok(vec![self.current()?.info.clone()]) })
    }

    fn health(&self) -> BoxFuture<'_, Health> {
        Box::pin(async move {
            match self.current() {
                _ if self.queue.is_closed() => Health { ok: false, detail: "the engine worker has stopped".into() },
                Ok(m) => Health { ok: true, detail: format!("{} loaded from {}", m.info.id, m.path.display()) },
                Err(e) => Health { ok: false, detail: e.to_string() },
            }
        })
    }

    fn generate(&self, request: GenerateRequest) -> BoxFuture<'_, Result<TokenStream, ProviderError>> {
        Box::pin(async move { self.enqueue(request) })
    }
}

fn worker(mut jobs: mpsc::Receiver<Job>) {
    while let Some(job) = jobs.blocking_recv() {
        let span = tracing::info_span!(parent: &job.span, "local_generate", model = %job.model.info.id,
            queued_ms = job.enqueued.elapsed().as_millis() as u64);
        let _entered = span.enter();
        let model = job.model;
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (job.work)(&model))).is_err() {
            tracing::error!("the engine panicked; the worker goes on with the next request");
        }
    }
}

fn classify(error: EngineError) -> ProviderError {
    match error {
        EngineError::Sampling(_) | EngineError::Chat(_) | EngineError::EmptyPrompt | EngineError::Arch(_) => {
            ProviderError::BadRequest(error.to_string())
        }
        other => ProviderError::Internal(other.to_string()),
    }
}

fn run(
    loaded: &LoadedModel,
    request: &GenerateRequest,
    events: &mpsc::UnboundedSender<Result<StreamEvent, ProviderError>>,
    cancel: &CancelToken,
) -> Result<(), ProviderError> {
    let defaults = SamplingParams::default();
    let sampling = SamplingParams {
        temperature: request.sampling.temperature.unwrap_or(defaults.temperature),
        top_p: request.sampling.top_p.unwrap_or(defaults.top_p),
        top_k: request.sampling.top_k.unwrap_or(defaults.top_k),
        seed: request.sampling.seed.unwrap_or(defaults.seed),
        ..defaults
    };
    let params = GenerateParams {
        sampling,
        max_tokens: request.max_tokens,
        stop: request.stop.clone(),
        cancel: cancel.clone(),
        ..GenerateParams::default()
    };
    let stats = crate::engine::stream(&loaded.model, loaded.prompt(&request.input)?, params, &mut |text: &str| {
        if events.send(Ok(StreamEvent::Text(text.to_owned()))).is_err() {
            cancel.cancel();
        }
        ControlFlow::Continue(())
    })
    .map_err(classify)?;
    let finish = match stats.finish_reason {
        Some(FinishReason::EndOfText | FinishReason::StopString) => Finish::Stop,
        Some(FinishReason::MaxTokens | FinishReason::ContextLength) => Finish::Length,
        Some(FinishReason::Cancelled) | None => Finish::Cancelled,
    };
    let _ = events.send(Ok(StreamEvent::Done(Completion {
        model: loaded.info.id.clone(),
        prompt_tokens: stats.prompt_tokens,
        completion_tokens: stats.generated_tokens,
        finish,
        prompt_time: stats.prefill_time,
        generation_time: stats.decode_time,
    })));
    Ok(())
}
