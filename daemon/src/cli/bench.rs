//! `edgecoder bench`: latency benchmarks with their peers, as a table and a JSON file.

use super::{Execute, Exit, Failure};
use clap::{Args, Subcommand};
use edgecoder_executor::{Isolation, Lang, Limits, Outcome};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run a benchmark and write its results as JSON.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// What to measure.
    #[command(subcommand)]
    pub target: BenchTarget,
}

/// The benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchTarget {
    /// p50/p95 of a function + 3 asserts: Python and JavaScript, in-process and in process
    /// isolation, against `python3 -c` and `node -e` subprocesses running the same program.
    /// "python in-process" starts each run once the interpreter pool is warm (a cold run on a
    /// fresh interpreter, the wait untimed); "back to back" includes waiting for the pool to
    /// rebuild, which is what a burst of runs costs. "process, warm child" hands each run to a
    /// pre-started, already confined child with its interpreter built (the wait untimed), "back
    /// to back" waits for the replacement child, "cold child" starts one per run.
    Executor(ExecutorBench),
    /// Our model engine against llama.cpp (llama-cpp-python) on the same GGUF file and thread
    /// count: prefill and decode tokens/s, time to first token, peak RSS, prefix reuse.
    Model(super::bench_model::ModelBench),
    /// Time to first token and tokens/s through the HTTP API vs the provider in-process (the
    /// API overhead), and the throughput of concurrent streaming clients.
    Api(super::bench_api::ApiBench),
    /// Recall@5 of BM25, vector and fused retrieval on a pinned PyPI package with queries
    /// answered in advance, index time (full, BM25-only, incremental) and query latency.
    Retrieval(super::bench_retrieval::RetrievalBench),
    /// A model rolled out over the air by a real coordinator to real workers and simulated
    /// agents, from a loopback source that cuts each first download halfway: time to full, the
    /// bytes downloaded again, and the reason code of each rejection case on the dashboard.
    Rollout(super::bench_rollout::RolloutBench),
    /// The cloud-review round trip against a running review server: HumanEval stubs sent as
    /// reviews; the share of results with a valid diff that Accept applies as proposed (the
    /// KPI: 95%), their hidden tests, and the seconds per review.
    Review(super::bench_review::ReviewBench),
    /// Perplexity of models on the same held-out code (HumanEval's reference solutions): what
    /// a quantization costs, as a ratio to the first model.
    Perplexity(super::bench_perplexity::PerplexityBench),
}

impl Execute for BenchArgs {
    fn execute(self) -> Result<Exit, Failure> {
        match self.target {
            BenchTarget::Executor(bench) => bench.execute(),
            BenchTarget::Model(bench) => bench.execute(),
            BenchTarget::Api(bench) => bench.execute(),
            BenchTarget::Retrieval(bench) => bench.execute(),
            BenchTarget::Rollout(bench) => bench.execute(),
            BenchTarget::Review(bench) => bench.execute(),
            BenchTarget::Perplexity(bench) => bench.execute(),
        }
    }
}

/// Writes a benchmark's results as pretty JSON to `path` and says so.
pub(super) fn write_json(path: &std::path::Path, report: &impl Serialize) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(report).map_err(|e| Failure::new(Exit::Failed, e))?;
    std::fs::write(path, text).map_err(|e| Failure::new(Exit::Io, anyhow::anyhow!("cannot write {}: {e}", path.display())))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// Options of `edgecoder bench executor`.
#[derive(Debug, Args)]
pub struct ExecutorBench {
    /// Measured runs per scenario (at least 1; the figures use 200 or more).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-executor.json")]
    pub json_out: PathBuf,
    /// Warm sandbox children kept in the process-isolation scenarios that use them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=16))]
    pub warm_children: u16,
}

/// The Python program every Python scenario runs: a function and three asserts.
pub const PY_PROGRAM: &str = "\
def add(a, b):
    return a + b

assert add(1, 2) == 3
assert add(-1, 1) == 0
assert add(2, 3) == 5
";

/// The JavaScript equivalent of [`PY_PROGRAM`].
pub const JS_PROGRAM: &str = "\
function add(a, b) { return a + b; }
function check(ok, what) { if (!ok) { throw new Error(what); } }
check(add(1, 2) === 3, 'add(1, 2)');
check(add(-1, 1) === 0, 'add(-1, 1)');
check(add(2, 3) === 5, 'add(2, 3)');
";

/// Unmeasured runs per scenario, to warm file caches.
const WARMUP: u32 = 3;

/// What a scenario runs.
#[derive(Debug, Clone)]
enum Runner {
    /// Our executor.
    Ours {
        /// In-process or in a sandboxed child.
        isolation: Isolation,
        /// Warm sandbox children kept during the scenario (0: every child starts cold).
        warm_children: usize,
        /// Each run starts once the executor is warm (in-process: the Python pool holds a built
        /// interpreter; process isolation: a warm child is confined with its interpreter built);
        /// the wait is not timed. Without it, runs go back to back and wait for the rebuild.
        on_warm: bool,
    },
    /// A peer interpreter started as `program flag PROGRAM`.
    Peer {
        program: PathBuf,
        flag: &'static str,
    },
}

#[derive(Debug, Clone)]
struct Scenario {
    name: &'static str,
    lang: Lang,
    runner: Runner,
    /// The peer scenario this one is compared with.
    peer: Option<&'static str>,
}

/// One scenario's results, as written to the JSON file.
#[derive(Debug, Serialize)]
pub struct ScenarioResult {
    /// Scenario name.
    pub name: String,
    /// `py` or `js`.
    pub lang: String,
    /// Measured runs that ended well.
    pub ok_runs: usize,
    /// Measured runs that did not (their times are left out).
    pub failed_runs: usize,
    /// Why the first failed run failed, or why the scenario could not run.
    pub first_failure: Option<String>,
    /// Median latency in milliseconds.
    pub p50_ms: Option<f64>,
    /// 95th percentile latency in milliseconds.
    pub p95_ms: Option<f64>,
    /// Mean latency in milliseconds.
    pub mean_ms: Option<f64>,
    /// The peer this scenario is compared with.
    pub peer: Option<String>,
    /// p50 of this scenario divided by the peer's p50 (below 1: we are faster).
    pub p50_ratio_to_peer: Option<f64>,
    /// This benchmark process's resident memory after the scenario, in MiB (Linux): growth
    /// from one scenario to the next shows what runs leave behind.
    pub rss_after_mib: Option<f64>,
}

/// This process's resident set size in MiB, from `/proc/self/status` (Linux only).
fn rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib / 1024.0)
}

/// The whole JSON file.
#[derive(Debug, Serialize)]
pub struct BenchReport {
    /// Measured runs per scenario.
    pub runs: u32,
    /// Operating system and CPU architecture.
    pub host: String,
    /// Logical CPUs.
    pub cpus: usize,
    /// The Python program.
    pub py_program: &'static str,
    /// The JavaScript program.
    pub js_program: &'static str,
    /// Every scenario.
    pub scenarios: Vec<ScenarioResult>,
}

/// The real interpreter behind `name`, as it prints its own path when run with `flag probe`
/// (pyenv and similar put shell shims first on PATH, which would make the peer look slower
/// than it is).
fn resolve_peer(name: &str, flag: &str, probe: &str) -> PathBuf {
    Command::new(name)
        .args([flag, probe])
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|s| PathBuf::from(s.trim()))
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| PathBuf::from(name))
}

fn scenarios(warm_children: usize) -> Vec<Scenario> {
    let python = resolve_peer("python3", "-c", "import sys; print(sys.executable)");
    let node = resolve_peer("node", "-e", "process.stdout.write(process.execPath)");
    let ours = |name, lang, isolation, warm_children, on_warm| Scenario {
        name,
        lang,
        runner: Runner::Ours {
            isolation,
            warm_children,
            on_warm,
        },
        peer: Some(if lang == Lang::Python { "python3 -c" } else { "node -e" }),
    };
    let (py, js) = (Lang::Python, Lang::JavaScript);
    let (inproc, process) = (Isolation::InProcess, Isolation::Process);
    vec![
        ours("python in-process", py, inproc, 0, true),
        ours("python in-process, back to back", py, inproc, 0, false),
        ours("python process, warm child", py, process, warm_children, true),
        ours("python process, back to back", py, process, warm_children, false),
        ours("python process, cold child", py, process, 0, false),
        ours("javascript in-process", js, inproc, 0, false),
        ours("javascript process, warm child", js, process, warm_children, true),
        ours("javascript process, cold child", js, process, 0, false),
        Scenario {
            name: "python3 -c",
            lang: Lang::Python,
            runner: Runner::Peer {
                program: python,
                flag: "-c",
            },
            peer: None,
        },
        Scenario {
            name: "node -e",
            lang: Lang::JavaScript,
            runner: Runner::Peer {
                program: node,
                flag: "-e",
            },
            peer: None,
        },
    ]
}

fn program(lang: Lang) -> &'static str {
    match lang {
        Lang::Python => PY_PROGRAM,
        Lang::JavaScript => JS_PROGRAM,
    }
}

/// Runs one sample; `Err` says why it did not end well.
fn sample(scenario: &Scenario) -> Result<Duration, String> {
    let code = program(scenario.lang);
    if let Runner::Ours { isolation, on_warm: true, .. } = scenario.runner {
        let wait = Duration::from_secs(60);
        let warm = match isolation {
            Isolation::InProcess => edgecoder_executor::python::wait_until_ready(wait),
            Isolation::Process => edgecoder_executor::sandbox::wait_until_warm(wait),
        };
        if !warm {
            return Err(format!("the executor was not warm within {} s", wait.as_secs()));
        }
    }
    let started = Instant::now();
    match &scenario.runner {
        Runner::Ours { isolation, .. } => {
            let limits = Limits {
                isolation: *isolation,
                ..Limits::default()
            };
            let result = edgecoder_executor::run(code, scenario.lang, &limits);
            let took = started.elapsed();
            match result.outcome {
                Outcome::Ok => Ok(took),
                other => Err(super::run::describe(&other)),
            }
        }
        Runner::Peer { program, flag } => {
            let status = Command::new(program)
                .arg(flag)
                .arg(code)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
            let took = started.elapsed();
            if status.success() {
                Ok(took)
            } else {
                Err(format!("{} exited with {status}", program.display()))
            }
        }
    }
}

/// The `q` quantile (nearest rank) of sorted samples, in milliseconds.
fn quantile_ms(sorted: &[Duration], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1].as_secs_f64() * 1000.0)
}

fn measure(scenario: &Scenario, runs: u32, bar: &ProgressBar) -> ScenarioResult {
    bar.set_message(scenario.name);
    let span = tracing::info_span!("bench_scenario", name = scenario.name);
    let _entered = span.enter();
    if let Runner::Ours { warm_children, .. } = scenario.runner {
        edgecoder_executor::sandbox::set_warm_children(warm_children);
    }
    let mut first_failure = None;
    for _ in 0..WARMUP {
        if let Err(why) = sample(scenario) {
            first_failure.get_or_insert(why);
        }
    }
    let mut times = Vec::with_capacity(runs as usize);
    let mut failed = 0;
    for _ in 0..runs {
        match sample(scenario) {
            Ok(took) => times.push(took),
            Err(why) => {
                failed += 1;
                first_failure.get_or_insert(why);
            }
        }
        bar.inc(1);
    }
    times.sort();
    let mean_ms = (!times.is_empty()).then(|| {
        times.iter().map(Duration::as_secs_f64).sum::<f64>() * 1000.0 / times.len() as f64
    });
    ScenarioResult {
        name: scenario.name.into(),
        lang: scenario.lang.short_name().into(),
        ok_runs: times.len(),
        failed_runs: failed,
        first_failure: if failed > 0 || times.is_empty() {
            first_failure
        } else {
            None
        },
        p50_ms: quantile_ms(&times, 0.50),
        p95_ms: quantile_ms(&times, 0.95),
        mean_ms,
        peer: scenario.peer.map(str::to_owned),
        p50_ratio_to_peer: None,
        rss_after_mib: rss_mib(),
    }
}

fn fill_ratios(results: &mut [ScenarioResult]) {
    let p50_of = |results: &[ScenarioResult], name: &str| {
        results
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.p50_ms)
    };
    for i in 0..results.len() {
        let ratio = match (&results[i].peer, results[i].p50_ms) {
            (Some(peer), Some(ours)) => {
                p50_of(results, peer).filter(|p| *p > 0.0).map(|p| ours / p)
            }
            _ => None,
        };
        results[i].p50_ratio_to_peer = ratio;
    }
}

fn ms(value: Option<f64>) -> String {
    value
        .map(|v| format!("{v:.2}"))
        .unwrap_or_else(|| "n/a".into())
}

/// The results as a fixed-width table.
pub fn table(results: &[ScenarioResult]) -> String {
    let mut out = format!(
        "{:<32} {:>6} {:>6} {:>9} {:>9} {:>9}  {}\n",
        "scenario", "ok", "failed", "p50 ms", "p95 ms", "RSS MiB", "p50 vs peer"
    );
    for r in results {
        let vs = match (&r.peer, r.p50_ratio_to_peer) {
            (Some(peer), Some(ratio)) => format!("{ratio:.2}× {peer}"),
            (Some(peer), None) => format!("n/a ({peer} unavailable)"),
            (None, _) => "(peer)".into(),
        };
        let rss = r
            .rss_after_mib
            .map(|v| format!("{v:.0}"))
            .unwrap_or_else(|| "n/a".into());
        out.push_str(&format!(
            "{:<32} {:>6} {:>6} {:>9} {:>9} {:>9}  {}\n",
            r.name,
            r.ok_runs,
            r.failed_runs,
            ms(r.p50_ms),
            ms(r.p95_ms),
            rss,
            vs
        ));
        if let Some(why) = &r.first_failure {
            out.push_str(&format!("{:<32} first failure: {why}\n", ""));
        }
    }
    out
}

impl Execute for ExecutorBench {
    fn execute(self) -> Result<Exit, Failure> {
        let scenarios = scenarios(usize::from(self.warm_children));
        let bar = ProgressBar::new(u64::from(self.runs) * scenarios.len() as u64);
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} {msg:30} [{bar:30}] {pos}/{len} ({eta} left)")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        let mut results: Vec<ScenarioResult> = scenarios
            .iter()
            .map(|s| measure(s, self.runs, &bar))
            .collect();
        bar.finish_and_clear();
        edgecoder_executor::sandbox::set_warm_children(0);
        fill_ratios(&mut results);
        let report = BenchReport {
            runs: self.runs,
            host: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            cpus: std::thread::available_parallelism()
                .map(usize::from)
                .unwrap_or(1),
            py_program: PY_PROGRAM,
            js_program: JS_PROGRAM,
            scenarios: results,
        };
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(table(&report.scenarios).as_bytes());
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| Failure::new(Exit::Failed, anyhow::anyhow!("cannot encode JSON: {e}")))?;
        std::fs::write(&self.json_out, json + "\n").map_err(|e| {
            Failure::new(
                Exit::Io,
                anyhow::anyhow!(
                    "cannot write {}: {e} — pass --json-out with a writable path",
                    self.json_out.display()
                ),
            )
        })?;
        let _ = writeln!(stdout, "results written to {}", self.json_out.display());
        let ours_failed = report
            .scenarios
            .iter()
            .any(|r| r.peer.is_some() && (r.failed_runs > 0 || r.ok_runs == 0));
        Ok(if ours_failed { Exit::Failed } else { Exit::Ok })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(name: &str, p50: Option<f64>, peer: Option<&str>) -> ScenarioResult {
        ScenarioResult {
            name: name.into(),
            lang: "py".into(),
            ok_runs: 1,
            failed_runs: 0,
            first_failure: None,
            p50_ms: p50,
            p95_ms: p50,
            mean_ms: p50,
            peer: peer.map(str::to_owned),
            p50_ratio_to_peer: None,
            rss_after_mib: None,
        }
    }

    #[test]
    fn quantiles_use_nearest_rank() {
        let times: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(quantile_ms(&times, 0.5), Some(50.0));
        assert_eq!(quantile_ms(&times, 0.95), Some(95.0));
        assert_eq!(quantile_ms(&times[..1], 0.95), Some(1.0));
        assert_eq!(quantile_ms(&[], 0.5), None);
    }

    #[test]
    fn ratios_compare_with_the_named_peer_and_survive_a_missing_one() {
        let mut results = vec![
            result("ours", Some(2.0), Some("peer")),
            result("peer", Some(20.0), None),
            result("orphan", Some(1.0), Some("absent")),
        ];
        fill_ratios(&mut results);
        assert_eq!(results[0].p50_ratio_to_peer, Some(0.1));
        assert_eq!(results[1].p50_ratio_to_peer, None);
        assert_eq!(results[2].p50_ratio_to_peer, None);
        let shown = table(&results);
        assert!(shown.contains("0.10× peer"), "{shown}");
        assert!(shown.contains("n/a (absent unavailable)"), "{shown}");
    }

    #[test]
    fn a_missing_peer_is_a_failure_not_a_number() {
        let scenario = Scenario {
            name: "ghost -c",
            lang: Lang::Python,
            runner: Runner::Peer {
                program: PathBuf::from("/nonexistent/ghost"),
                flag: "-c",
            },
            peer: None,
        };
        let measured = measure(&scenario, 3, &ProgressBar::hidden());
        assert_eq!((measured.ok_runs, measured.failed_runs), (0, 3));
        assert!(measured.p50_ms.is_none());
        assert!(
            measured
                .first_failure
                .unwrap()
                .contains("cannot start /nonexistent/ghost")
        );
    }
}
