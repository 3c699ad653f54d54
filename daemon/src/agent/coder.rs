//! The agent's view of a model: the [`Coder`] trait, and [`ModelCoder`], the real implementation
//! over the on-device engine (`edgecoder_model::engine::Model`), which renders the messages with
//! the chat template shipped in the model's weights file.

use edgecoder_model::chat::ChatMessage;
use edgecoder_model::engine::{CancelToken, FinishReason, GenerateParams, Model, Prompt};
use edgecoder_model::sampling::SamplingParams;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

/// Why a model call failed.
#[derive(Debug, thiserror::Error)]
pub enum CoderError {
    /// The engine failed (load, template, tokenizer, context overflow).
    #[error("the model failed: {0}")]
    Engine(#[from] edgecoder_model::engine::EngineError),
    /// The engine cannot take the call (no model loaded, its worker stopped).
    #[error("the model is unavailable: {0}")]
    Unavailable(String),
}

/// One model call.
#[derive(Debug, Clone)]
pub struct CoderRequest {
    /// The conversation, rendered with the model's chat template.
    pub messages: Vec<ChatMessage>,
    /// The first words of the answer, which the model goes on from (empty: none). An opening
    /// code fence here makes a small model answer with code from its first token.
    pub reply_start: String,
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Sampling temperature (0 = greedy).
    pub temperature: f32,
    /// Sampler seed.
    pub seed: u64,
    /// The call stops when this instant passes.
    pub deadline: Option<Instant>,
    /// The call stops when this is cancelled.
    pub cancel: CancelToken,
}

/// How a model call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The model finished its answer.
    Complete,
    /// `max_tokens` were generated.
    MaxTokens,
    /// The deadline passed.
    Deadline,
    /// The call was cancelled.
    Cancelled,
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The answer: the request's `reply_start`, then the generated text.
    pub text: String,
    /// Tokens in the rendered prompt.
    pub prompt_tokens: usize,
    /// Tokens generated.
    pub generated_tokens: usize,
    /// Time to the first generated token.
    pub time_to_first_token: Duration,
    /// Time spent decoding after the first token.
    pub decode_time: Duration,
    /// How it ended.
    pub end: End,
}

/// What the agent needs from a model.
pub trait Coder {
    /// A name for events and reports (the model id).
    fn name(&self) -> &str;
    /// Tokens the rendered `messages` take (with the generation prompt).
    fn count_tokens(&self, messages: &[ChatMessage]) -> Result<usize, CoderError>;
    /// Generates an answer, passing each piece of text to `on_text` as it is produced.
    fn complete(&self, request: &CoderRequest, on_text: &mut dyn FnMut(&str)) -> Result<Completion, CoderError>;
}

impl<C: Coder + ?Sized> Coder for &C {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn count_tokens(&self, messages: &[ChatMessage]) -> Result<usize, CoderError> {
        (**self).count_tokens(messages)
    }
    fn complete(&self, request: &CoderRequest, on_text: &mut dyn FnMut(&str)) -> Result<Completion, CoderError> {
        (**self).complete(request, on_text)
    }
}

/// The on-device model as a [`Coder`].
pub struct ModelCoder {
    model: Model,
    name: String,
}

impl std::fmt::Debug for ModelCoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModelCoder").field("name", &self.name).finish_non_exhaustive()
    }
}

impl ModelCoder {
    /// Wraps a loaded model; `name` is shown in events (e.g. the catalog id).
    pub fn new(model: Model, name: impl Into<String>) -> Self {
        ModelCoder { model, name: name.into() }
    }

    /// The wrapped model.
    pub fn model(&self) -> &Model {
        &self.model
    }
}

impl Coder for ModelCoder {
    fn name(&self) -> &str {
        &self.name
    }

    fn count_tokens(&self, messages: &[ChatMessage]) -> Result<usize, CoderError> {
        count_tokens(&self.model, messages)
    }

    fn complete(&self, request: &CoderRequest, on_text: &mut dyn FnMut(&str)) -> Result<Completion, CoderError> {
        complete(&self.model, request, on_text)
    }
}

/// Tokens the rendered `messages` take on `model` (with the generation prompt).
pub fn count_tokens(model: &Model, messages: &[ChatMessage]) -> Result<usize, CoderError> {
    Ok(model.tokenize(&Prompt::Chat(messages.to_vec()))?.len())
}

/// One model call on `model`: what [`ModelCoder`] runs in this thread, and what the daemon's
/// agent tasks run on the engine's worker thread.
pub fn complete(model: &Model, request: &CoderRequest, on_text: &mut dyn FnMut(&str)) -> Result<Completion, CoderError> {
    let params = GenerateParams {
        sampling: SamplingParams { temperature: request.temperature, seed: request.seed, ..SamplingParams::greedy() },
        max_tokens: request.max_tokens,
        cancel: request.cancel.clone(),
        ..GenerateParams::default()
    };
    let mut past_deadline = false;
    let mut text = request.reply_start.clone();
    let prompt = if text.is_empty() {
        Prompt::Chat(request.messages.clone())
    } else {
        on_text(&text);
        Prompt::ChatReply { messages: request.messages.clone(), reply_start: text.clone() }
    };
    let stats = crate::engine::stream(model, prompt, params, &mut |piece: &str| {
        on_text(piece);
        text.push_str(piece);
        past_deadline = request.deadline.is_some_and(|d| Instant::now() > d);
        if past_deadline { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    })?;
    let end = if past_deadline {
        End::Deadline
    } else {
        match stats.finish_reason {
            Some(FinishReason::MaxTokens | FinishReason::ContextLength) => End::MaxTokens,
            Some(FinishReason::Cancelled) => End::Cancelled,
            _ => End::Complete,
        }
    };
    Ok(Completion {
        text,
        prompt_tokens: stats.prompt_tokens,
        generated_tokens: stats.generated_tokens,
        time_to_first_token: stats.time_to_first_token,
        decode_time: stats.decode_time,
        end,
    })
}
