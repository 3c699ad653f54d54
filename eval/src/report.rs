//! Scoring and reporting: one [`Row`] per problem, a [`Summary`], the JSON report, a markdown
//! table, and one line appended to `eval/results.md` (commit, model, machine, date).

use super::{Attempt, EvalError, Problem, Solver, hidden_check};
use edgecoder_executor::Limits;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// How the agent is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// One code answer, tested once (no fixes).
    Single,
    /// The full loop: fixes from the visible tests' failures. Its first answer is also scored,
    /// as the single-shot result of the same run (the first answer is greedy either way).
    Loop,
}

/// One problem's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// `HumanEval/N`.
    pub task_id: String,
    /// The hidden tests pass on the first answer.
    pub single_pass: bool,
    /// The hidden tests pass on the final answer (loop mode).
    pub loop_pass: Option<bool>,
    /// The solver's report.
    pub attempt: Attempt,
}

/// Aggregates over all problems.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The benchmark.
    pub benchmark: String,
    /// The mode.
    pub mode: Mode,
    /// The model.
    pub model: String,
    /// Problems run.
    pub problems: usize,
    /// pass@1 of the first answer.
    pub single_pass_at_1: f64,
    /// pass@1 of the final answer (loop mode).
    pub loop_pass_at_1: Option<f64>,
    /// Share of problems where the agent reached `done` (its visible tests passed).
    pub done_rate: f64,
    /// Share of problems routed to cloud review.
    pub queued_rate: f64,
    /// Reason codes of the queued problems.
    pub queue_reasons: BTreeMap<String, usize>,
    /// Mean test runs per problem.
    pub mean_iterations: f64,
    /// Mean time to first token, milliseconds.
    pub mean_ttft_ms: f64,
    /// Mean decode speed, tokens per second.
    pub mean_tokens_per_s: f64,
    /// Mean wall time per problem, seconds.
    pub mean_wall_s: f64,
    /// Problems whose visible tests were written by the model (no docstring examples).
    pub model_written_tests: usize,
    /// Problems with no visible tests at all (none in the task, none the model wrote that run):
    /// their code was only run, and handed back unverified.
    #[serde(default)]
    pub no_visible_tests: usize,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The summary.
    pub summary: Summary,
    /// Per problem.
    pub rows: Vec<Row>,
    /// `git rev-parse --short HEAD`, or `unknown`.
    pub commit: String,
    /// OS, architecture and cores.
    pub machine: String,
    /// When it ran (RFC 3339, UTC).
    pub date: String,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

fn passes(problem: &Problem, code: Option<&str>, limits: &Limits) -> bool {
    code.is_some_and(|code| hidden_check(problem, code, limits).all_passed())
}

/// The commit of the working tree, or `unknown`.
pub fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".into())
}

/// The machine in a few words.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{} {}, {cores} cores", std::env::consts::OS, std::env::consts::ARCH)
}

/// Runs every problem through `solver` and scores it; `progress` sees each row as it is done.
pub fn evaluate(
    benchmark: &str,
    problems: &[Problem],
    solver: &mut dyn Solver,
    mode: Mode,
    limits: &Limits,
    progress: &mut dyn FnMut(usize, &Row),
) -> Report {
    // The code that runs is the code checked out at the start, whatever is committed meanwhile.
    let commit = commit();
    let mut rows = Vec::new();
    for (i, problem) in problems.iter().enumerate() {
        let span = tracing::info_span!("eval_problem", task_id = %problem.task_id);
        let _entered = span.enter();
        let attempt = solver.solve(problem);
        let single_pass = passes(problem, attempt.first_code.as_deref(), limits);
        let loop_pass = (mode == Mode::Loop).then(|| passes(problem, attempt.final_code.as_deref(), limits));
        let row = Row { task_id: problem.task_id.clone(), single_pass, loop_pass, attempt };
        progress(i, &row);
        rows.push(row);
    }
    let n = rows.len().max(1) as f64;
    let rate = |f: &dyn Fn(&Row) -> bool| rows.iter().filter(|r| f(r)).count() as f64 / n;
    let mut queue_reasons = BTreeMap::new();
    for reason in rows.iter().filter_map(|r| r.attempt.reason) {
        *queue_reasons.entry(reason.as_str().to_owned()).or_insert(0) += 1;
    }
    let summary = Summary {
        benchmark: benchmark.to_owned(),
        mode,
        model: solver.model(),
        problems: rows.len(),
        single_pass_at_1: rate(&|r| r.single_pass),
        loop_pass_at_1: (mode == Mode::Loop).then(|| rate(&|r| r.loop_pass == Some(true))),
        done_rate: rate(&|r| r.attempt.state == "done"),
        queued_rate: rate(&|r| r.attempt.state == "queued_for_cloud"),
        queue_reasons,
        mean_iterations: mean(rows.iter().map(|r| f64::from(r.attempt.iterations))),
        mean_ttft_ms: mean(rows.iter().filter_map(|r| r.attempt.ttft_ms).map(|t| t as f64)),
        mean_tokens_per_s: mean(rows.iter().map(|r| r.attempt.decode_tokens_per_s).filter(|t| *t > 0.0)),
        mean_wall_s: mean(rows.iter().map(|r| r.attempt.wall_ms as f64 / 1000.0)),
        model_written_tests: rows.iter().filter(|r| r.attempt.visible_tests == "model_written").count(),
        no_visible_tests: rows.iter().filter(|r| r.attempt.visible_tests == "none").count(),
    };
    Report {
        summary,
        rows,
        commit,
        machine: machine(),
        date: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

impl Report {
    /// The report as a markdown document: summary table, then one row per problem.
    pub fn markdown(&self) -> String {
        let s = &self.summary;
        let mut md = format!(
            "# {} · {} · {:?}\n\n{} · commit {} · {}\n\n| metric | value |\n|---|---|\n",
            s.benchmark, s.model, s.mode, self.date, self.commit, self.machine
        );
        let reasons = if s.queue_reasons.is_empty() {
            "none".to_owned()
        } else {
            s.queue_reasons.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        };
        let rows = [
            ("problems", s.problems.to_string()),
            ("pass@1 single-shot (first answer)", pct(s.single_pass_at_1)),
            ("pass@1 with the loop", s.loop_pass_at_1.map_or("—".into(), pct)),
            ("agent reached done (visible tests pass)", pct(s.done_rate)),
            ("queued for cloud review", format!("{} ({reasons})", pct(s.queued_rate))),
            ("mean iterations", format!("{:.2}", s.mean_iterations)),
            ("mean time to first token", format!("{:.2} s", s.mean_ttft_ms / 1000.0)),
            ("mean decode speed", format!("{:.1} tok/s", s.mean_tokens_per_s)),
            ("mean wall time per problem", format!("{:.1} s", s.mean_wall_s)),
            ("problems with model-written visible tests", s.model_written_tests.to_string()),
            ("problems with no visible tests (code unverified)", s.no_visible_tests.to_string()),
        ];
        for (k, v) in rows {
            md.push_str(&format!("| {k} | {v} |\n"));
        }
        md.push_str("\n| problem | state | iterations | single | loop | visible tests | tokens | wall s |\n|---|---|---|---|---|---|---|---|\n");
        let mark = |b: bool| if b { "✓" } else { "✗" };
        for r in &self.rows {
            md.push_str(&format!(
                "| {} | {}{} | {} | {} | {} | {} | {} | {:.1} |\n",
                r.task_id,
                r.attempt.state,
                r.attempt.reason.map(|c| format!(" ({c})")).unwrap_or_default(),
                r.attempt.iterations,
                mark(r.single_pass),
                r.loop_pass.map_or("—", mark),
                r.attempt.visible_tests,
                r.attempt.generated_tokens,
                r.attempt.wall_ms as f64 / 1000.0
            ));
        }
        md
    }

    /// One line for `eval/results.md`.
    pub fn results_line(&self) -> String {
        let s = &self.summary;
        format!(
            "| {} | {} | {} | {} | {} | {:?} | {} | {} | {} | {} | {:.2} | {:.2} s | {:.1} | {:.1} s |\n",
            self.date,
            self.commit,
            self.machine,
            s.benchmark,
            s.model,
            s.mode,
            s.problems,
            pct(s.single_pass_at_1),
            s.loop_pass_at_1.map_or("—".into(), pct),
            pct(s.queued_rate),
            s.mean_iterations,
            s.mean_ttft_ms / 1000.0,
            s.mean_tokens_per_s,
            s.mean_wall_s
        )
    }

    /// Writes `<stem>.json` and `<stem>.md` into `dir` and appends [`Report::results_line`] to
    /// `results` (creating it with a header); returns the two report paths.
    pub fn write(&self, dir: &Path, stem: &str, results: &Path) -> Result<(PathBuf, PathBuf), EvalError> {
        let io = |what, path: &Path| {
            let path = path.to_owned();
            move |source| EvalError::Io { what, path, source }
        };
        std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
        let json = dir.join(format!("{stem}.json"));
        std::fs::write(&json, serde_json::to_vec_pretty(self)?).map_err(io("cannot write", &json))?;
        let md = dir.join(format!("{stem}.md"));
        std::fs::write(&md, self.markdown()).map_err(io("cannot write", &md))?;
        let fresh = !results.exists();
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(results).map_err(io("cannot open", results))?;
        if fresh {
            file.write_all(RESULTS_HEADER.as_bytes()).map_err(io("cannot write", results))?;
        }
        file.write_all(self.results_line().as_bytes()).map_err(io("cannot write", results))?;
        Ok((json, md))
    }
}

/// The header of `eval/results.md`.
pub const RESULTS_HEADER: &str = "# EdgeCoder-Eval results\n\nOne line per run of `edgecoder eval`.\n\n| date | commit | machine | benchmark | model | mode | problems | pass@1 single | pass@1 loop | queued | iterations | TTFT | tok/s | s/problem |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n";

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers each problem with fixed code: a right first answer for `inc`, a wrong then right
    /// pair for `dec` (the scoring is what is tested here, not a model).
    struct Fixed;

    impl Solver for Fixed {
        fn model(&self) -> String {
            "fixed".into()
        }
        fn solve(&mut self, problem: &Problem) -> Attempt {
            let (first, last) = match problem.entry_point.as_str() {
                "inc" => ("def inc(x):\n    return x + 1\n", "def inc(x):\n    return x + 1\n"),
                _ => ("def dec(x):\n    return x\n", "def dec(x):\n    return x - 1\n"),
            };
            Attempt {
                first_code: Some(first.into()),
                final_code: Some(last.into()),
                state: "done".into(),
                iterations: if first == last { 1 } else { 2 },
                visible_tests: "task_examples".into(),
                ttft_ms: Some(500),
                decode_tokens_per_s: 7.0,
                wall_ms: 2_000,
                ..Attempt::default()
            }
        }
    }

    fn problem(name: &str, expected: i32) -> Problem {
        Problem {
            task_id: format!("T/{name}"),
            prompt: format!("def {name}(x):\n    pass\n"),
            test: format!("def check(candidate):\n    assert candidate(1) == {expected}\n"),
            entry_point: name.into(),
            canonical_solution: String::new(),
            lang: edgecoder_executor::Lang::Python,
        }
    }

    #[test]
    fn the_report_scores_single_and_loop_and_appends_a_results_line() {
        let problems = [problem("inc", 2), problem("dec", 0)];
        let mut seen = 0;
        let report = evaluate("humaneval", &problems, &mut Fixed, Mode::Loop, &Limits::default(), &mut |_, _| seen += 1);
        assert_eq!(seen, 2);
        assert_eq!(report.summary.single_pass_at_1, 0.5);
        assert_eq!(report.summary.loop_pass_at_1, Some(1.0));
        assert_eq!(report.summary.mean_iterations, 1.5);
        let md = report.markdown();
        assert!(md.contains("| pass@1 single-shot (first answer) | 50.0% |"), "{md}");
        assert!(md.contains("| T/dec | done | 2 | ✗ | ✓ |"), "{md}");
        let dir = tempfile::tempdir().unwrap();
        let results = dir.path().join("results.md");
        report.write(dir.path(), "run", &results).unwrap();
        report.write(dir.path(), "run2", &results).unwrap();
        let text = std::fs::read_to_string(&results).unwrap();
        assert!(text.starts_with("# EdgeCoder-Eval results"));
        assert_eq!(text.matches("| humaneval | fixed | Loop | 2 | 50.0% | 100.0% |").count(), 2, "{text}");
        let json: Report = serde_json::from_slice(&std::fs::read(dir.path().join("run.json")).unwrap()).unwrap();
        assert_eq!(json, report);
    }
}
