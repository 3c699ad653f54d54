//! A running generation: an iterator of [`TokenEvent`]s that prefills on the first step, decodes
//! one token per step, and hands its KV cache back to the prefix cache when dropped.

use std::time::{Duration, Instant};

use super::{EngineError, GenerateParams, Model};
use crate::arch::{ArchError, KvCache, Logits};
use crate::sampling::{Sampler, StopMatcher};
use crate::tokenizer::StreamDecoder;

/// One generated token and the text it completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEvent {
    /// The token id; `None` for the final flush of held-back text.
    pub token: Option<u32>,
    /// Text that became final with this token (may be empty: an incomplete character, or text
    /// that could still be the start of a stop string, is held back).
    pub text: String,
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model produced an end-of-generation token.
    EndOfText,
    /// `max_tokens` were generated.
    MaxTokens,
    /// A stop string appeared.
    StopString,
    /// The cancel token was set.
    Cancelled,
    /// The model's context length was reached.
    ContextLength,
}

/// Counters and timings of one generation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GenerationStats {
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Prompt tokens whose KV cache came from the prefix cache (not prefilled).
    pub reused_prompt_tokens: usize,
    /// Tokens generated (including an end-of-generation token).
    pub generated_tokens: usize,
    /// From the start of the generation to the first generated token.
    pub time_to_first_token: Duration,
    /// Time spent prefilling the prompt (the forward pass over the new prompt tokens).
    pub prefill_time: Duration,
    /// Time spent on the decode steps after the first token.
    pub decode_time: Duration,
    /// Why the generation ended, once it has.
    pub finish_reason: Option<FinishReason>,
}

impl GenerationStats {
    /// Prompt tokens prefilled per second.
    pub fn prefill_tokens_per_s(&self) -> f64 {
        let n = self.prompt_tokens - self.reused_prompt_tokens;
        rate(n, self.prefill_time)
    }

    /// Tokens decoded per second (after the first, which comes from the prefill).
    pub fn decode_tokens_per_s(&self) -> f64 {
        rate(self.generated_tokens.saturating_sub(1), self.decode_time)
    }
}

fn rate(n: usize, t: Duration) -> f64 {
    if t.is_zero() { 0.0 } else { n as f64 / t.as_secs_f64() }
}

/// A generation in progress; iterate to get tokens.
pub struct Generation<'m> {
    model: &'m Model,
    params: GenerateParams,
    cache: Option<KvCache>,
    /// Every token of the sequence: prompt, then generated.
    tokens: Vec<u32>,
    /// How many of `tokens` have keys and values in `cache`.
    cached: usize,
    sampler: Sampler,
    decoder: StreamDecoder,
    stop: StopMatcher,
    started: Instant,
    stats: GenerationStats,
    done: bool,
    flushed: bool,
    span: tracing::Span,
}

impl<'m> Generation<'m> {
    pub(super) fn start(
        model: &'m Model,
        tokens: Vec<u32>,
        params: GenerateParams,
    ) -> Result<Self, EngineError> {
        let started = Instant::now();
        let context_length = model.config().context_length;
        if tokens.len() >= context_length {
            return Err(ArchError::ContextOverflow {
                needed: tokens.len() + 1,
                context_length,
            }
            .into());
        }
        let sampler = Sampler::new(params.sampling.clone())?;
        let stop = StopMatcher::new(params.stop.clone());
        let span = tracing::info_span!("generate", prompt_tokens = tokens.len());
        let prompt_tokens = tokens.len();
        Ok(Self {
            model,
            cache: None,
            tokens,
            cached: 0,
            sampler,
            decoder: StreamDecoder::new(false),
            stop,
            started,
            stats: GenerationStats {
                prompt_tokens,
                finish_reason: (params.max_tokens == 0).then_some(FinishReason::MaxTokens),
                ..Default::default()
            },
            done: params.max_tokens == 0,
            flushed: false,
            params,
            span,
        })
    }

    /// The statistics so far (final once the iterator returned `None`).
    pub fn stats(&self) -> &GenerationStats {
        &self.stats
    }

    /// The prompt and generated token ids so far.
    pub fn tokens(&self) -> &[u32] {
        &self.tokens
    }

    /// Runs the tokens not yet in the cache and samples the next token.
    fn step(&mut self) -> Result<u32, EngineError> {
        let transformer = self.model.transformer();
        let prefill = self.cache.is_none();
        if prefill {
            let reuse = if self.params.reuse_prefix {
                self.model.prefix_cache().take(&self.tokens)
            } else {
                None
            };
            let (cache, reused) = match reuse {
                Some(r) => (r.cache, r.reused),
                None => (transformer.new_cache(), 0),
            };
            self.cache = Some(cache);
            self.cached = reused;
            self.stats.reused_prompt_tokens = reused;
        }
        let t0 = Instant::now();
        let cache = self.cache.as_mut().expect("set above");
        let mut logits = transformer.forward(&self.tokens[self.cached..], cache, Logits::Last)?;
        self.cached = self.tokens.len();
        let token = self.sampler.sample(&mut logits, &self.tokens)?;
        if prefill {
            self.stats.prefill_time = t0.elapsed();
            self.stats.time_to_first_token = self.started.elapsed();
        } else {
            self.stats.decode_time += t0.elapsed();
        }
        Ok(token)
    }

    fn finish(&mut self, reason: FinishReason) {
        self.done = true;
        self.stats.finish_reason = Some(reason);
        tracing::debug!(parent: &self.span, ?reason, generated = self.stats.generated_tokens, "generation finished");
    }

    fn flush(&mut self) -> Option<TokenEvent> {
        if self.flushed {
            return None;
        }
        self.flushed = true;
        let mut text = String::new();
        if self.stats.finish_reason != Some(FinishReason::StopString) {
            let step = self.stop.push(&self.decoder.finish());
            text = step.emit;
            if !step.stopped {
                text.push_str(&self.stop.finish());
            }
        }
        (!text.is_empty()).then_some(TokenEvent { token: None, text })
    }
}

impl Iterator for Generation<'_> {
    type Item = Result<TokenEvent, EngineError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return self.flush().map(Ok);
        }
        let _enter = self.span.clone().entered();
        if self.params.cancel.is_cancelled() {
            self.finish(FinishReason::Cancelled);
            return self.flush().map(Ok);
        }
        if self.tokens.len() >= self.model.config().context_length {
            self.finish(FinishReason::ContextLength);
            return self.flush().map(Ok);
        }
        let token = match self.step() {
            Ok(t) => t,
            Err(e) => {
                self.done = true;
                self.flushed = true;
                return Some(Err(e));
            }
        };
        self.tokens.push(token);
        self.stats.generated_tokens += 1;
        if !self.params.ignore_eos && self.model.tokenizer().is_end_of_generation(token) {
            self.finish(FinishReason::EndOfText);
            return self.flush().map(Ok);
        }
        let piece = match self.decoder.push(self.model.tokenizer(), token) {
            Ok(p) => p,
            Err(e) => {
                self.done = true;
                self.flushed = true;
                return Some(Err(e.into()));
            }
        };
        let step = self.stop.push(&piece);
        if step.stopped {
            self.finish(FinishReason::StopString);
        } else if self.stats.generated_tokens >= self.params.max_tokens {
            self.finish(FinishReason::MaxTokens);
            let mut text = step.emit;
            if let Some(rest) = self.flush() {
                text.push_str(&rest.text);
            }
            return Some(Ok(TokenEvent { token: Some(token), text }));
        }
        Some(Ok(TokenEvent { token: Some(token), text: step.emit }))
    }
}

impl Drop for Generation<'_> {
    fn drop(&mut self) {
        if !self.params.reuse_prefix {
            return;
        }
        if let Some(cache) = self.cache.take() {
            let cached = self.cached.min(cache.len());
            if cached > 0 {
                let tokens = self.tokens[..cached].to_vec();
                self.model.prefix_cache().put(tokens, cache);
            }
        }
    }
}
