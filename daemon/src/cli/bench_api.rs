//! `edgecoder bench api`: what the HTTP API adds to a generation. It starts the daemon's app in
//! this process on `127.0.0.1:0`, then alternates the same streamed completion through the
//! provider in-process and through `POST /v1/completions` over HTTP (SSE), and reports time to
//! first token, tokens/s, the API overhead (paired HTTP − in-process differences, p50, of wall
//! time and of the process's CPU time), and the throughput of concurrent streaming clients.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use clap::Args;
use serde::Serialize;
use serde_json::{Value, json};

use super::{Execute, Exit, Failure};
use crate::providers::{GenerateRequest, PromptInput, Sampling, StreamEvent};
use crate::server::AppState;
use crate::server::config::Config;

/// Options of `edgecoder bench api`.
#[derive(Debug, Args)]
pub struct ApiBench {
    /// The model (a catalog id or a GGUF path).
    #[arg(long, default_value = "smollm2-135m")]
    pub model: String,
    /// Measured requests per path (in-process and HTTP, alternating).
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..))]
    pub requests: u32,
    /// Tokens per request.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_tokens: u32,
    /// Concurrent streaming clients in the throughput run.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub clients: u32,
    /// Compute threads of the engine (default: all cores). With fewer threads than cores the
    /// API's own work runs beside the engine instead of taking time from it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-api.json")]
    pub json_out: PathBuf,
}

const PROMPT: &str = "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n";

/// One measured generation.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// CPU time the whole process used during the request (engine, server and client).
    cpu: Duration,
    ttft: Duration,
    total: Duration,
    tokens: usize,
}

/// Percentiles of a set of durations, in milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
}

fn percentiles(mut v: Vec<f64>) -> Percentiles {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    Percentiles { p50_ms: at(0.5), p95_ms: at(0.95) }
}

/// One path's figures.
#[derive(Debug, Clone, Serialize)]
pub struct PathFigures {
    /// Time to first token.
    pub ttft: Percentiles,
    /// Whole request.
    pub total: Percentiles,
    /// Generated tokens per second after the first token (median).
    pub tokens_per_s_p50: f64,
}

/// The results written as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct ApiBenchReport {
    /// The model.
    pub model: String,
    /// Requests per path.
    pub requests: u32,
    /// Tokens per request asked for.
    pub max_tokens: u32,
    /// Through the provider in this process.
    pub in_process: PathFigures,
    /// Through `POST /v1/completions` (SSE) on 127.0.0.1.
    pub http: PathFigures,
    /// Paired HTTP − in-process difference of time to first token.
    pub overhead_ttft: Percentiles,
    /// Paired HTTP − in-process difference of the whole request.
    pub overhead_total: Percentiles,
    /// Paired HTTP − in-process difference of the process's CPU time per request (the API's
    /// own work: server and this benchmark's client), steadier than wall time on a busy machine.
    pub overhead_cpu: Percentiles,
    /// Concurrent clients of the throughput run.
    pub clients: u32,
    /// Tokens per second over all concurrent clients.
    pub concurrent_tokens_per_s: f64,
    /// Whole-request latency of the concurrent clients.
    pub concurrent_total: Percentiles,
}

fn request(model: &str, max_tokens: u32) -> GenerateRequest {
    GenerateRequest {
        model: model.to_owned(),
        input: PromptInput::Text(PROMPT.into()),
        max_tokens: max_tokens as usize,
        sampling: Sampling::default(),
        stop: Vec::new(),
    }
}

async fn in_process(state: &AppState, model: &str, max_tokens: u32) -> anyhow::Result<Sample> {
    let started = Instant::now();
    let mut stream = state.providers.active().generate(request(model, max_tokens)).await?;
    let mut ttft = None;
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Text(_) => {
                ttft.get_or_insert_with(|| started.elapsed());
            }
            StreamEvent::Done(done) => {
                return Ok(Sample { cpu: Duration::ZERO, ttft: ttft.unwrap_or_default(), total: started.elapsed(), tokens: done.completion_tokens });
            }
        }
    }
    bail!("the in-process generation ended without finishing")
}

async fn over_http(http: &reqwest::Client, url: &str, token: &str, model: &str, max_tokens: u32) -> anyhow::Result<Sample> {
    let body = json!({"model": model, "prompt": PROMPT, "max_tokens": max_tokens, "temperature": 0,
        "stream": true, "stream_options": {"include_usage": true}});
    let started = Instant::now();
    let response = http.post(url).bearer_auth(token).json(&body).send().await?.error_for_status()?;
    let mut lines = crate::providers::Lines::new(response);
    let (mut ttft, mut tokens) = (None, 0);
    while let Some(line) = lines.next().await? {
        let Some(data) = line.strip_prefix("data: ") else { continue };
        if data == "[DONE]" {
            return Ok(Sample { cpu: Duration::ZERO, ttft: ttft.unwrap_or_default(), total: started.elapsed(), tokens });
        }
        let chunk: Value = serde_json::from_str(data)?;
        if chunk["choices"][0]["text"].as_str().is_some_and(|t| !t.is_empty()) {
            ttft.get_or_insert_with(|| started.elapsed());
        }
        if let Some(n) = chunk["usage"]["completion_tokens"].as_u64() {
            tokens = n as usize;
        }
    }
    bail!("the HTTP stream ended without [DONE]")
}

/// CPU time this process has used (all threads).
fn process_cpu() -> Duration {
    cpu_time::ProcessTime::try_now().map_or(Duration::ZERO, |t| t.as_duration())
}

/// Runs one measured request and records the CPU time the process used meanwhile.
async fn with_cpu(request: impl std::future::Future<Output = anyhow::Result<Sample>>) -> anyhow::Result<Sample> {
    let before = process_cpu();
    let sample = request.await?;
    Ok(Sample { cpu: process_cpu().saturating_sub(before), ..sample })
}

fn figures(samples: &[Sample]) -> PathFigures {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut rates: Vec<f64> = samples
        .iter()
        .filter(|s| s.tokens > 1 && s.total > s.ttft)
        .map(|s| (s.tokens - 1) as f64 / (s.total - s.ttft).as_secs_f64())
        .collect();
    rates.sort_by(f64::total_cmp);
    PathFigures {
        ttft: percentiles(samples.iter().map(|s| ms(s.ttft)).collect()),
        total: percentiles(samples.iter().map(|s| ms(s.total)).collect()),
        tokens_per_s_p50: rates.get(rates.len() / 2).copied().unwrap_or(0.0),
    }
}

impl ApiBench {
    async fn measure(&self) -> anyhow::Result<ApiBenchReport> {
        let dir = tempfile::tempdir().context("cannot make a temporary directory")?;
        let config = Config {
            model: self.model.clone(),
            token_file: Some(dir.path().join("token")),
            queue_capacity: (self.clients as usize).max(32),
            threads: self.threads.map(|t| t as usize),
            ..Config::default()
        };
        let token = crate::server::token::load_or_create(&dir.path().join("token"), crate::server::token::Sharing::Owner)?;
        let state = AppState::new(config, token.clone()).await?;
        let model = state.providers.local().current().map_err(|e| anyhow!("{e}"))?.info.id.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/v1/completions", listener.local_addr()?);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let app = crate::server::app(state.clone());
        let server = tokio::spawn(async move {
            crate::server::listen::serve(crate::server::listen::tcp(&listener), app, Duration::from_secs(10), stopped, Duration::from_secs(1)).await;
        });
        let http = reqwest::Client::new();
        for _ in 0..3 {
            in_process(&state, &model, self.max_tokens).await?;
            over_http(&http, &url, &token, &model, self.max_tokens).await?;
        }
        let (mut local, mut remote) = (Vec::new(), Vec::new());
        let bar = indicatif::ProgressBar::new(u64::from(self.requests));
        for _ in 0..self.requests {
            local.push(with_cpu(in_process(&state, &model, self.max_tokens)).await?);
            remote.push(with_cpu(over_http(&http, &url, &token, &model, self.max_tokens)).await?);
            bar.inc(1);
        }
        bar.finish_and_clear();
        let ms = |d: f64| d * 1e3;
        let diff = |f: fn(&Sample) -> Duration| -> Vec<f64> {
            local.iter().zip(&remote).map(|(l, r)| ms(f(r).as_secs_f64() - f(l).as_secs_f64())).collect()
        };
        let overhead_ttft = percentiles(diff(|s| s.ttft));
        let overhead_total = percentiles(diff(|s| s.total));
        let overhead_cpu = percentiles(diff(|s| s.cpu));
        let started = Instant::now();
        let runs: Vec<_> = (0..self.clients)
            .map(|_| {
                let (http, url, token, model) = (http.clone(), url.clone(), token.clone(), model.clone());
                let max_tokens = self.max_tokens;
                tokio::spawn(async move { over_http(&http, &url, &token, &model, max_tokens).await })
            })
            .collect();
        let mut concurrent = Vec::new();
        for run in runs {
            concurrent.push(run.await??);
        }
        let wall = started.elapsed().as_secs_f64();
        let _ = stop.send(true);
        let _ = server.await;
        Ok(ApiBenchReport {
            model,
            requests: self.requests,
            max_tokens: self.max_tokens,
            in_process: figures(&local),
            http: figures(&remote),
            overhead_ttft,
            overhead_total,
            overhead_cpu,
            clients: self.clients,
            concurrent_tokens_per_s: concurrent.iter().map(|s| s.tokens).sum::<usize>() as f64 / wall,
            concurrent_total: percentiles(concurrent.iter().map(|s| s.total.as_secs_f64() * 1e3).collect()),
        })
    }
}

fn print_table(r: &ApiBenchReport) {
    println!("edgecoder bench api — {} , {} requests per path, {} tokens each", r.model, r.requests, r.max_tokens);
    println!("{:<24} {:>10} {:>10} {:>11} {:>11} {:>10}", "path", "ttft p50", "ttft p95", "total p50", "total p95", "tok/s p50");
    for (name, f) in [("in-process provider", &r.in_process), ("HTTP /v1/completions", &r.http)] {
        println!(
            "{name:<24} {:>8.2}ms {:>8.2}ms {:>9.2}ms {:>9.2}ms {:>10.1}",
            f.ttft.p50_ms, f.ttft.p95_ms, f.total.p50_ms, f.total.p95_ms, f.tokens_per_s_p50
        );
    }
    println!(
        "API overhead (paired)   ttft p50 {:.3} ms (p95 {:.3}), total p50 {:.3} ms (p95 {:.3}) — target p50 < 2 ms",
        r.overhead_ttft.p50_ms, r.overhead_ttft.p95_ms, r.overhead_total.p50_ms, r.overhead_total.p95_ms
    );
    println!(
        "API CPU per request     p50 {:.3} ms (p95 {:.3}) — server and client work, without the waiting",
        r.overhead_cpu.p50_ms, r.overhead_cpu.p95_ms
    );
    println!(
        "{} concurrent streaming clients: {:.1} tokens/s in all, request p50 {:.0} ms, p95 {:.0} ms",
        r.clients, r.concurrent_tokens_per_s, r.concurrent_total.p50_ms, r.concurrent_total.p95_ms
    );
}

impl Execute for ApiBench {
    fn execute(self) -> Result<Exit, Failure> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::new(Exit::Failed, anyhow!("cannot start the async runtime: {e}")))?;
        let report = runtime.block_on(self.measure()).map_err(|e| Failure::new(Exit::Failed, e))?;
        print_table(&report);
        super::bench::write_json(&self.json_out, &report)?;
        Ok(Exit::Ok)
    }
}
