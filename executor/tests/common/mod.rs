//! Helpers shared by the executor's data-driven test harnesses (corpus, HumanEval, security).

#![allow(dead_code)] // each harness uses a different subset of these helpers

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use edgecoder_executor::Outcome;
use serde::Deserialize;

/// The folder holding this crate's test data (`executor/tests`).
pub fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// A stable one-word label for an outcome, with the detail the corpora compare on:
/// `ok`, `error:ZeroDivisionError`, `timeout`, `step_limit`, `memory_limit`, `output_limit`,
/// `outside_subset:PY_IMPORT_DENIED`.
pub fn outcome_label(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Error { kind, .. } => format!("error:{kind}"),
        Outcome::OutsideSubset { code, .. } => format!("outside_subset:{code}"),
        other => other.label().to_owned(),
    }
}

/// Runs `f`, turning a panic into an `Err` with the panic's message, so that one panicking
/// case is reported with the others instead of hiding them.
pub fn catch<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_message(payload.as_ref()))
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = payload.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked with a non-string payload".to_owned()
    }
}

/// Cuts `text` to at most `max` characters for a failure report, marking the cut.
pub fn excerpt(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let head: String = text.chars().take(max).collect();
        format!("{head}…[{} more chars]", text.chars().count() - max)
    }
}

/// Describes where two outputs first differ, for a readable mismatch report.
pub fn first_difference(expected: &str, actual: &str) -> String {
    let exp: Vec<&str> = expected.split_inclusive('\n').collect();
    let act: Vec<&str> = actual.split_inclusive('\n').collect();
    for i in 0..exp.len().max(act.len()) {
        let (e, a) = (exp.get(i), act.get(i));
        if e != a {
            return format!(
                "stdout differs at line {}: expected {:?}, got {:?}",
                i + 1,
                e.map(|s| excerpt(s, 160)),
                a.map(|s| excerpt(s, 160)),
            );
        }
    }
    "stdout identical".to_owned()
}

/// Prints the one-line summary and every failure, then fails the test when there is any.
pub fn finish(name: &str, passed: usize, failures: &[String], notes: &[String]) {
    for note in notes {
        println!("note: {note}");
    }
    for failure in failures {
        println!("FAIL {failure}");
    }
    println!("{name}: {passed} passed, {} failed", failures.len());
    assert!(
        failures.is_empty(),
        "{name}: {passed} passed, {} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// One HumanEval-style problem, with the fields of HumanEval's data files (also used by the
/// JavaScript problem set).
#[derive(Debug, Deserialize)]
pub struct Problem {
    pub task_id: String,
    pub prompt: String,
    pub canonical_solution: String,
    pub test: String,
    pub entry_point: String,
}

/// Parses JSON-lines problems (blank lines skipped); `origin` names the source in panics.
pub fn parse_problems(lines: impl Iterator<Item = std::io::Result<String>>, origin: &str) -> Vec<Problem> {
    lines
        .enumerate()
        .filter(|(_, line)| line.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(|(n, line)| {
            let line = line.unwrap_or_else(|e| panic!("{origin}: line {}: {e}", n + 1));
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{origin}: line {}: {e}", n + 1))
        })
        .collect()
}
