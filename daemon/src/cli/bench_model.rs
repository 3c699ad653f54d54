//! `edgecoder bench model`: our engine against llama.cpp (llama-cpp-python from a venv) on the
//! same GGUF file, the same prompt token ids and the same thread count: prefill and decode
//! tokens/s, time to first token and peak RSS, plus the prompt-prefix reuse measurement and the
//! per-operation time split of our engine.

use super::generate::{peak_rss_bytes, resolve_model};
use super::{Execute, Exit, Failure};
use anyhow::{Context, anyhow};
use clap::Args;
use edgecoder_model::arch::profile;
use edgecoder_model::engine::{GenerateParams, GenerationStats, LoadOptions, Model, Prompt};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

/// Options of `edgecoder bench model`.
#[derive(Debug, Args)]
pub struct ModelBench {
    /// A catalog model id or a GGUF path.
    #[arg(long, default_value = "qwen2.5-coder-0.5b")]
    pub model: String,
    /// Threads for both engines.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: u32,
    /// Prompt length for the prefill measurement.
    #[arg(long, default_value_t = 512, value_parser = clap::value_parser!(u32).range(2..))]
    pub prompt_tokens: u32,
    /// Tokens to decode.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u32).range(2..))]
    pub decode_tokens: u32,
    /// New tokens appended to the cached prompt for the prefix-reuse measurement.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..))]
    pub reuse_tokens: u32,
    /// The Python with llama-cpp-python installed (default: the shared dev venv).
    #[arg(long)]
    pub python: Option<PathBuf>,
    /// Skip llama.cpp (measure our engine only).
    #[arg(long)]
    pub no_llama_cpp: bool,
    /// Run our layers as one Burn tensor operation at a time instead of the CPU host path (to
    /// measure what the host path gains).
    #[arg(long)]
    pub burn_ops: bool,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-model.json")]
    pub json_out: PathBuf,
}

/// One engine's figures.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EngineFigures {
    /// Seconds to load the model.
    pub load_s: f64,
    /// Prompt tokens per second during prefill.
    pub prefill_tokens_per_s: f64,
    /// Generated tokens per second after the first.
    pub decode_tokens_per_s: f64,
    /// Seconds from the start to the first generated token.
    pub ttft_s: f64,
    /// Peak resident memory of the process running the engine.
    pub peak_rss_bytes: u64,
}

/// Time spent in one operation category of our engine.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OpTime {
    /// Category name.
    pub op: &'static str,
    /// Total seconds.
    pub seconds: f64,
    /// Number of calls.
    pub calls: u64,
}

/// The whole report written as JSON.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ModelBenchReport {
    /// The GGUF file measured.
    pub model: String,
    /// Threads used by both engines.
    pub threads: u32,
    /// How our layers ran: `host` (plain buffers) or `burn` (Burn tensor operations).
    pub path: &'static str,
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Decoded tokens.
    pub decode_tokens: usize,
    /// Our engine.
    pub ours: EngineFigures,
    /// llama.cpp, when measured.
    pub llama_cpp: Option<EngineFigures>,
    /// ours / llama.cpp for prefill and decode tokens/s (higher is better for us).
    pub ratio_prefill: Option<f64>,
    /// ours / llama.cpp for decode tokens/s.
    pub ratio_decode: Option<f64>,
    /// Time to first token of a call that adds `reuse_new_tokens` to the cached prompt.
    pub prefix_reuse_ttft_s: f64,
    /// Prompt tokens served from the prefix cache in that call.
    pub prefix_reuse_reused_tokens: usize,
    /// New tokens prefilled in that call.
    pub prefix_reuse_new_tokens: usize,
    /// Where our engine's time went during the prefill+decode run.
    pub profile: Vec<OpTime>,
}

/// Source text the benchmark prompt is cut from (code-like, deterministic).
fn prompt_source() -> String {
    let mut s = String::new();
    for i in 0..400 {
        s.push_str(&format!(
            "def function_{i}(values, limit={i}):\n    \"\"\"Return the values below {i} squared.\"\"\"\n    return [v * v for v in values if v < limit]\n\n"
        ));
    }
    s
}

const LLAMA_SCRIPT: &str = r#"
import json, resource, sys, time
import numpy as np
import llama_cpp
req = json.load(sys.stdin)
t0 = time.perf_counter()
llm = llama_cpp.Llama(model_path=req["model"], n_ctx=req["n_ctx"], n_batch=512, n_ubatch=512,
                      n_threads=req["threads"], n_threads_batch=req["threads"], verbose=False)
load_s = time.perf_counter() - t0
n_vocab = llm.n_vocab()
def next_token():
    ptr = llama_cpp.llama_get_logits_ith(llm._ctx.ctx, -1)
    return int(np.argmax(np.ctypeslib.as_array(ptr, shape=(n_vocab,))))
prompt = req["prompt"]
t0 = time.perf_counter()
llm.eval(prompt)
tok = next_token()
prefill_s = time.perf_counter() - t0
decode_s = 0.0
for _ in range(req["decode"] - 1):
    t = time.perf_counter()
    llm.eval([tok])
    decode_s += time.perf_counter() - t
    tok = next_token()
print(json.dumps({
    "load_s": load_s,
    "prefill_tokens_per_s": len(prompt) / prefill_s,
    "decode_tokens_per_s": (req["decode"] - 1) / decode_s,
    "ttft_s": prefill_s,
    "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
}))
"#;

fn default_python() -> PathBuf {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    home.join(".cache/edgecoder/venv/bin/python")
}

fn run_llama_cpp(
    python: &Path,
    model: &Path,
    prompt: &[u32],
    decode: usize,
    threads: u32,
) -> anyhow::Result<EngineFigures> {
    let request = serde_json::json!({
        "model": model,
        "prompt": prompt,
        "decode": decode,
        "threads": threads,
        "n_ctx": prompt.len() + decode + 16,
    });
    let mut child = Command::new(python)
        .arg("-c")
        .arg(LLAMA_SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run {} (pass --python or --no-llama-cpp)", python.display()))?;
    child
        .stdin
        .take()
        .ok_or_else(|| anyhow!("no stdin for the llama.cpp process"))?
        .write_all(request.to_string().as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        return Err(anyhow!(
            "llama.cpp run failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let last = String::from_utf8_lossy(&output.stdout)
        .lines()
        .last()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("llama.cpp run printed nothing"))?;
    serde_json::from_str(&last).with_context(|| format!("unexpected llama.cpp output: {last}"))
}

fn drain(model: &Model, prompt: Vec<u32>, params: GenerateParams) -> anyhow::Result<GenerationStats> {
    let mut generation = model.generate(Prompt::Tokens(prompt), params)?;
    for event in &mut generation {
        event?;
    }
    Ok(generation.stats().clone())
}

impl ModelBench {
    fn measure(self) -> anyhow::Result<ModelBenchReport> {
        let path = resolve_model(&self.model).map_err(|f| f.error)?;
        let t0 = Instant::now();
        let model = Model::load_with(
            &path,
            LoadOptions {
                threads: self.threads as usize,
                host_path: !self.burn_ops,
                ..LoadOptions::default()
            },
        )?;
        let load_s = t0.elapsed().as_secs_f64();
        let all = model.tokenize(&Prompt::Text(prompt_source()))?;
        let n_prompt = self.prompt_tokens as usize;
        let n_reuse = self.reuse_tokens as usize;
        if all.len() < n_prompt + n_reuse {
            return Err(anyhow!("the benchmark text has only {} tokens", all.len()));
        }
        let prompt = all[..n_prompt].to_vec();
        let decode = self.decode_tokens as usize;
        eprintln!("ours: prefill {n_prompt} tokens, decode {decode} ...");
        profile::reset();
        profile::set_enabled(true);
        let stats = drain(
            &model,
            prompt.clone(),
            GenerateParams { max_tokens: decode, ignore_eos: true, reuse_prefix: true, ..GenerateParams::default() },
        )?;
        profile::set_enabled(false);
        let profile = profile::snapshot()
            .into_iter()
            .map(|(op, d, calls)| OpTime { op: op.name(), seconds: d.as_secs_f64(), calls })
            .collect();
        // Follow-up call on a cache that holds the prompt alone (the decode run also cached its
        // continuation, which may repeat the text): the prompt plus new tokens.
        model.clear_prefix_cache();
        drain(&model, prompt.clone(), GenerateParams { max_tokens: 1, ..GenerateParams::default() })?;
        let mut follow_up = prompt.clone();
        follow_up.extend_from_slice(&all[1..n_reuse + 1]);
        let reuse = drain(
            &model,
            follow_up,
            GenerateParams { max_tokens: 1, reuse_prefix: true, ..GenerateParams::default() },
        )?;
        let ours = EngineFigures {
            load_s,
            prefill_tokens_per_s: stats.prefill_tokens_per_s(),
            decode_tokens_per_s: stats.decode_tokens_per_s(),
            ttft_s: stats.time_to_first_token.as_secs_f64(),
            peak_rss_bytes: peak_rss_bytes().unwrap_or(0),
        };
        drop(model);
        let llama_cpp = if self.no_llama_cpp {
            None
        } else {
            eprintln!("llama.cpp: prefill {n_prompt} tokens, decode {decode} ...");
            let python = self.python.clone().unwrap_or_else(default_python);
            Some(run_llama_cpp(&python, &path, &prompt, decode, self.threads)?)
        };
        let ratio = |f: fn(&EngineFigures) -> f64| llama_cpp.as_ref().map(|l| f(&ours) / f(l));
        Ok(ModelBenchReport {
            model: path.display().to_string(),
            threads: self.threads,
            path: if self.burn_ops { "burn" } else { "host" },
            prompt_tokens: n_prompt,
            decode_tokens: decode,
            ratio_prefill: ratio(|e| e.prefill_tokens_per_s),
            ratio_decode: ratio(|e| e.decode_tokens_per_s),
            ours,
            llama_cpp,
            prefix_reuse_ttft_s: reuse.time_to_first_token.as_secs_f64(),
            prefix_reuse_reused_tokens: reuse.reused_prompt_tokens,
            prefix_reuse_new_tokens: reuse.prompt_tokens - reuse.reused_prompt_tokens,
            profile,
        })
    }
}

fn print_table(r: &ModelBenchReport) {
    let l = r.llama_cpp.as_ref();
    let row = |name: &str, ours: f64, theirs: Option<f64>, unit: &str| {
        let theirs_s = theirs.map_or("-".to_string(), |t| format!("{t:.2}"));
        let ratio = theirs.map_or("-".to_string(), |t| format!("{:.2}x", ours / t));
        println!("{name:<22} {ours:>12.2} {theirs_s:>12} {ratio:>8}  {unit}");
    };
    println!("model: {}  threads: {}  our layers: {}", r.model, r.threads, r.path);
    println!("{:<22} {:>12} {:>12} {:>8}", "metric", "ours", "llama.cpp", "ratio");
    row("prefill", r.ours.prefill_tokens_per_s, l.map(|l| l.prefill_tokens_per_s), "tok/s");
    row("decode", r.ours.decode_tokens_per_s, l.map(|l| l.decode_tokens_per_s), "tok/s");
    row("time to first token", r.ours.ttft_s, l.map(|l| l.ttft_s), "s");
    row("load", r.ours.load_s, l.map(|l| l.load_s), "s");
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    row("peak RSS", mib(r.ours.peak_rss_bytes), l.map(|l| mib(l.peak_rss_bytes)), "MiB");
    println!(
        "prefix reuse: {} new tokens on {} cached -> first token in {:.3} s",
        r.prefix_reuse_new_tokens, r.prefix_reuse_reused_tokens, r.prefix_reuse_ttft_s
    );
    let total: f64 = r.profile.iter().map(|p| p.seconds).sum();
    println!("where our time went (prefill + decode run):");
    for p in &r.profile {
        let share = if total > 0.0 { 100.0 * p.seconds / total } else { 0.0 };
        println!("  {:<12} {:>8.3} s {:>5.1}%  {:>7} calls", p.op, p.seconds, share, p.calls);
    }
}

impl Execute for ModelBench {
    fn execute(self) -> Result<Exit, Failure> {
        let out = self.json_out.clone();
        let report = self.measure().map_err(|e| Failure::new(Exit::Failed, e))?;
        print_table(&report);
        let json = serde_json::to_string_pretty(&report).map_err(|e| Failure::new(Exit::Failed, e))?;
        std::fs::write(&out, json + "\n").map_err(|e| {
            Failure::new(Exit::Io, anyhow!(e).context(format!("cannot write {}", out.display())))
        })?;
        println!("results written to {}", out.display());
        Ok(Exit::Ok)
    }
}
