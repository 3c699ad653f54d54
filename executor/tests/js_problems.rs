//! The JavaScript problem set (`tests/js_problems/problems.jsonl`, HumanEval-style): every
//! canonical solution passes its own `check(candidate)` in the executor, and a wrong variant of
//! every solution (the body replaced by `return undefined;`) does not.

mod common;

use std::io::BufRead;

use edgecoder_executor::{Lang, Limits, Outcome, TestStatus, run_tests};

use common::{Problem, parse_problems};

fn problems() -> Vec<Problem> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/js_problems/problems.jsonl");
    let text = std::fs::read(path).expect("read problems.jsonl");
    parse_problems(text.as_slice().lines(), path)
}

fn tests_of(p: &Problem) -> String {
    format!("{}\ncheck({});\n", p.test, p.entry_point)
}

#[test]
fn the_set_has_at_least_thirty_distinct_problems() {
    let set = problems();
    assert!(set.len() >= 30, "{} problems", set.len());
    let mut ids: Vec<_> = set.iter().map(|p| p.task_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), set.len(), "task ids are unique");
}

#[test]
fn every_canonical_solution_passes_in_process() {
    let limits = Limits::default();
    let mut failures = Vec::new();
    for p in problems() {
        let solution = format!("{}{}", p.prompt, p.canonical_solution);
        let report = run_tests(&solution, &tests_of(&p), Lang::JavaScript, &limits);
        if !report.all_passed() {
            failures.push(format!("{}: {:?} / {:?}", p.task_id, report.tests, report.run.outcome));
        }
        assert_eq!(report.tests.len(), 1, "{}: one `check` test", p.task_id);
        assert_eq!(report.tests[0].name, "check");
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_wrong_variant_fails() {
    let limits = Limits::default();
    for p in problems() {
        let wrong = format!("{}  return undefined;\n}}\n", p.prompt);
        let report = run_tests(&wrong, &tests_of(&p), Lang::JavaScript, &limits);
        assert!(!report.all_passed(), "{} passed with a wrong body", p.task_id);
        assert_eq!(report.run.outcome, Outcome::Ok, "{}: the run itself completes", p.task_id);
        assert!(
            matches!(report.tests[0].status, TestStatus::Failed { .. } | TestStatus::Error { .. }),
            "{}: {:?}",
            p.task_id,
            report.tests[0].status
        );
    }
}
