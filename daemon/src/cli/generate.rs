//! `edgecoder generate`: run the on-device model on a prompt without the daemon, streaming the
//! text, then a summary (or one JSON object with `--json`).

use super::{Execute, Exit, Failure};
use anyhow::{Context, anyhow};
use clap::Args;
use edgecoder_model::chat::ChatMessage;
use edgecoder_model::engine::{
    Backend, GenerateParams, GenerationStats, LoadOptions, Model, Prompt,
};
use edgecoder_model::sampling::SamplingParams;
use serde::Serialize;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::PathBuf;

/// Generate text with a local model.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// A model id from the catalog (see `edgecoder model list`) or the path of a GGUF file.
    #[arg(long)]
    pub model: String,
    /// The prompt text.
    #[arg(long)]
    pub prompt: String,
    /// Treat the prompt as a user message and render it with the model's chat template.
    #[arg(long)]
    pub chat: bool,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 256)]
    pub max_tokens: usize,
    /// Sampling temperature; 0 is greedy.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub temperature: f32,
    /// Seed of the sampler (same seed, same output).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Compute threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Tensor backend: flex (default), ndarray, or wgpu (needs the `gpu` feature).
    #[arg(long, default_value = "flex")]
    pub backend: String,
    /// End the output with one JSON object of statistics instead of the summary line.
    #[arg(long)]
    pub json: bool,
}

/// The statistics printed at the end (the JSON object of `--json`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GenerateSummary {
    /// Tokens in the prompt.
    pub prompt_tokens: usize,
    /// Tokens generated.
    pub generated_tokens: usize,
    /// Seconds from the start of the generation to the first token.
    pub ttft_s: f64,
    /// Prompt tokens prefilled per second.
    pub prefill_tokens_per_s: f64,
    /// Tokens decoded per second.
    pub decode_tokens_per_s: f64,
    /// Peak resident memory of this process (VmHWM), in bytes.
    pub peak_rss_bytes: u64,
}

impl GenerateSummary {
    /// The summary of a finished generation.
    pub fn from_stats(stats: &GenerationStats) -> Self {
        Self {
            prompt_tokens: stats.prompt_tokens,
            generated_tokens: stats.generated_tokens,
            ttft_s: stats.time_to_first_token.as_secs_f64(),
            prefill_tokens_per_s: stats.prefill_tokens_per_s(),
            decode_tokens_per_s: stats.decode_tokens_per_s(),
            peak_rss_bytes: peak_rss_bytes().unwrap_or(0),
        }
    }
}

/// Peak resident set size of this process (`VmHWM` in `/proc/self/status`), where available.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resolves `--model` as the daemon does for the IDE: an existing file path, else a model id
/// in the model store (the over-the-air slot when the fleet, if any, allows the IDE to use it,
/// else the installed catalog copy).
pub fn resolve_model(model: &str) -> Result<PathBuf, Failure> {
    crate::providers::local::resolve(model).map(|resolved| resolved.path).map_err(|e| {
        Failure::new(Exit::Usage, anyhow!(e).context(format!("cannot use {model:?} (see `edgecoder model list`)")))
    })
}

/// Builds the load options of `--backend` and `--threads`.
pub fn load_options(backend: &str, threads: Option<u32>) -> Result<LoadOptions, Failure> {
    let backend = Backend::from_name(backend).ok_or_else(|| {
        Failure::new(Exit::Usage, anyhow!("unknown backend {backend:?}: use flex, ndarray or wgpu"))
    })?;
    let mut options = LoadOptions { backend, ..LoadOptions::default() };
    if let Some(t) = threads {
        options.threads = t as usize;
    }
    Ok(options)
}

impl Execute for GenerateArgs {
    fn execute(self) -> Result<Exit, Failure> {
        if !(self.temperature >= 0.0 && self.temperature.is_finite()) {
            return Err(Failure::new(
                Exit::Usage,
                anyhow!("--temperature must be 0 (greedy) or a positive number, got {}", self.temperature),
            ));
        }
        let path = resolve_model(&self.model)?;
        let options = load_options(&self.backend, self.threads)?;
        let model = Model::load_with(&path, options)
            .with_context(|| format!("cannot load {}", path.display()))
            .map_err(|e| Failure::new(Exit::Failed, e))?;
        let prompt = if self.chat {
            Prompt::Chat(vec![ChatMessage::user(self.prompt)])
        } else {
            Prompt::Text(self.prompt)
        };
        let params = GenerateParams {
            sampling: SamplingParams {
                temperature: self.temperature,
                seed: self.seed,
                ..SamplingParams::default()
            },
            max_tokens: self.max_tokens,
            ..GenerateParams::default()
        };
        let mut stdout = std::io::stdout().lock();
        let mut written = Ok(());
        let stats = crate::engine::stream(&model, prompt, params, &mut |text: &str| {
            written = write!(stdout, "{text}").and_then(|_| stdout.flush());
            if written.is_ok() { ControlFlow::Continue(()) } else { ControlFlow::Break(()) }
        })
        .map_err(|e| Failure::new(Exit::Usage, anyhow!(e)))?;
        written.map_err(|e| Failure::new(Exit::Io, e))?;
        let summary = GenerateSummary::from_stats(&stats);
        let line = if self.json {
            serde_json::to_string(&summary).map_err(|e| Failure::new(Exit::Failed, e))?
        } else {
            format!(
                "[{} prompt tokens, {} generated, ttft {:.3} s, prefill {:.1} tok/s, decode {:.1} tok/s, peak RSS {} MiB]",
                summary.prompt_tokens,
                summary.generated_tokens,
                summary.ttft_s,
                summary.prefill_tokens_per_s,
                summary.decode_tokens_per_s,
                summary.peak_rss_bytes >> 20
            )
        };
        writeln!(stdout, "\n{line}").map_err(|e| Failure::new(Exit::Io, e))?;
        Ok(Exit::Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_rss_is_read_on_linux() {
        let rss = peak_rss_bytes().expect("VmHWM in /proc/self/status");
        assert!(rss > 1 << 20, "{rss}");
    }

    #[test]
    fn bad_backend_and_missing_model_are_usage_errors() {
        let err = load_options("tpu", None).unwrap_err();
        assert_eq!(err.exit, Exit::Usage);
        assert!(err.error.to_string().contains("flex, ndarray or wgpu"));
        let err = resolve_model("no-such-model-id").unwrap_err();
        assert!(matches!(err.exit, Exit::Usage | Exit::Io));
    }

    #[test]
    fn summary_json_has_the_documented_keys() {
        let s = GenerateSummary::from_stats(&GenerationStats::default());
        let v = serde_json::to_value(&s).unwrap();
        for key in [
            "prompt_tokens",
            "generated_tokens",
            "ttft_s",
            "prefill_tokens_per_s",
            "decode_tokens_per_s",
            "peak_rss_bytes",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
    }
}
