//! `edgecoder bench perplexity`: what a quantization costs in quality — the perplexity of
//! several models (a shipped file and copies re-quantized by `edgecoder model quantize`) on
//! the same held-out code: HumanEval's reference solutions, each scored with its prompt as
//! context. The first model is the baseline; the others are reported as a ratio to it.

use super::bench::write_json;
use super::{Execute, Exit, Failure};
use anyhow::anyhow;
use clap::Args;
use edgecoder_model::engine::{Model, Prompt};
use serde::Serialize;
use std::path::PathBuf;
use std::time::Instant;

/// Options of `edgecoder bench perplexity`.
#[derive(Debug, Args)]
pub struct PerplexityBench {
    /// A model id or GGUF path; repeat it to compare (the first is the baseline).
    #[arg(long = "model", value_name = "ID|FILE", required = true)]
    pub models: Vec<String>,
    /// How many HumanEval problems to score (from the first).
    #[arg(long, default_value_t = 40, value_parser = clap::value_parser!(u32).range(1..=164))]
    pub problems: u32,
    /// The problems (default: $EDGECODER_HUMANEVAL, else the test venv's HumanEval).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Engine threads (default: all cores).
    #[arg(long)]
    pub threads: Option<u32>,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-perplexity.json")]
    pub json_out: PathBuf,
}

/// One model's score.
#[derive(Debug, Serialize)]
pub struct PerplexityRow {
    /// The model as given.
    pub model: String,
    /// Its file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub bytes: u64,
    /// Solution tokens scored.
    pub tokens: usize,
    /// Mean negative log-likelihood per token (nats).
    pub mean_nll: f64,
    /// `exp(mean_nll)`.
    pub perplexity: f64,
    /// Perplexity divided by the baseline's.
    pub ratio_to_baseline: f64,
    /// Seconds spent scoring.
    pub seconds: f64,
}

/// The JSON file.
#[derive(Debug, Serialize)]
pub struct PerplexityReport {
    /// Where the code came from.
    pub data: String,
    /// Problems scored.
    pub problems: usize,
    /// One row per model, the baseline first.
    pub models: Vec<PerplexityRow>,
}

impl Execute for PerplexityBench {
    fn execute(self) -> Result<Exit, Failure> {
        let usage = |e: anyhow::Error| Failure::new(Exit::Usage, e);
        let data = match &self.data {
            Some(path) => path.clone(),
            None => edgecoder_eval::humaneval::data_path().map_err(|e| usage(e.into()))?,
        };
        let problems = edgecoder_eval::humaneval::load_problems(&data).map_err(|e| usage(e.into()))?;
        let problems: Vec<_> = problems.into_iter().filter(|p| !p.canonical_solution.is_empty()).take(self.problems as usize).collect();
        if problems.is_empty() {
            return Err(usage(anyhow!("{} has no problems with a reference solution (canonical_solution)", data.display())));
        }
        let options = super::generate::load_options("flex", self.threads)?;
        let mut rows: Vec<PerplexityRow> = Vec::new();
        for name in &self.models {
            let path = super::generate::resolve_model(name)?;
            let model = Model::load_with(&path, options.clone())
                .map_err(|e| Failure::new(Exit::Failed, anyhow!("cannot load {}: {e}", path.display())))?;
            let bar = indicatif::ProgressBar::new(problems.len() as u64);
            bar.set_style(indicatif::ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} problems eta {eta}").expect("a valid template"));
            bar.set_message(name.clone());
            let started = Instant::now();
            let (mut nll, mut tokens) = (0.0f64, 0usize);
            for problem in &problems {
                let failed = |e: edgecoder_model::engine::EngineError| Failure::new(Exit::Failed, anyhow!("{}: {e}", problem.task_id));
                let context = model.tokenize(&Prompt::Text(problem.prompt.clone())).map_err(failed)?;
                let whole = model.tokenize(&Prompt::Text(format!("{}{}", problem.prompt, problem.canonical_solution))).map_err(failed)?;
                // Only the solution's tokens are scored; the prompt is context.
                let scored_from = context.iter().zip(&whole).take_while(|(a, b)| a == b).count().max(1);
                let logs = model.log_likelihoods(&whole).map_err(failed)?;
                for log in &logs[scored_from - 1..] {
                    nll -= f64::from(*log);
                    tokens += 1;
                }
                bar.inc(1);
            }
            bar.finish_and_clear();
            let mean_nll = nll / tokens.max(1) as f64;
            let perplexity = mean_nll.exp();
            let baseline = rows.first().map_or(perplexity, |b| b.perplexity);
            rows.push(PerplexityRow {
                model: name.clone(),
                bytes: std::fs::metadata(&path).map_or(0, |m| m.len()),
                path,
                tokens,
                mean_nll,
                perplexity,
                ratio_to_baseline: perplexity / baseline,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        let report = PerplexityReport { data: data.display().to_string(), problems: problems.len(), models: rows };
        println!("{:<40} {:>10} {:>8} {:>11} {:>9} {:>8}", "model", "size MiB", "tokens", "perplexity", "ratio", "seconds");
        for row in &report.models {
            println!(
                "{:<40} {:>10.1} {:>8} {:>11.4} {:>9.4} {:>8.1}",
                row.model,
                row.bytes as f64 / (1u64 << 20) as f64,
                row.tokens,
                row.perplexity,
                row.ratio_to_baseline,
                row.seconds
            );
        }
        write_json(&self.json_out, &report)?;
        Ok(Exit::Ok)
    }
}
