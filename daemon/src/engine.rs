//! The one token loop over the on-device engine, shared by the `edgecoder-local` provider, the
//! agent's model calls and `edgecoder generate`: it runs a generation and hands each piece of
//! text to a callback, which may stop it early.

use std::ops::ControlFlow;

use edgecoder_model::engine::{EngineError, GenerateParams, GenerationStats, Model, Prompt};

/// Runs one generation of `prompt` on `model`, passing each non-empty piece of text to
/// `on_text`; `ControlFlow::Break` stops it (its finish reason then stays `None`). Returns the
/// generation's statistics.
pub fn stream(
    model: &Model,
    prompt: Prompt,
    params: GenerateParams,
    on_text: &mut dyn FnMut(&str) -> ControlFlow<()>,
) -> Result<GenerationStats, EngineError> {
    let mut generation = model.generate(prompt, params)?;
    while let Some(event) = generation.next() {
        let event = event?;
        if !event.text.is_empty() && on_text(&event.text).is_break() {
            break;
        }
    }
    Ok(generation.stats().clone())
}
