//! Correctness corpus: realistic Python and JavaScript programs whose expected stdout and outcome
//! were produced by the reference interpreters (CPython 3.11, node) with
//! `tests/corpus/generate_expected.py`. Every program runs in-process with default limits; the
//! harness compares stdout exactly and the outcome kind (`ok`, or `error` with the error's
//! kind), reports every mismatch, and fails at the end.
//!
//! Programs the interpreters get wrong today may be listed in `tests/corpus/known_failures.txt`
//! with the reason; they still run, are reported, and a listed program that now passes is a
//! failure (so the list is kept honest).

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use edgecoder_executor::{Lang, Limits, run};
use serde::Deserialize;

use common::{catch, excerpt, finish, first_difference, outcome_label, tests_dir};

/// The reference result stored beside each program as `NNN_name.expected.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    stdout: String,
    outcome: String,
    error_kind: Option<String>,
}

impl Expected {
    fn label(&self, path: &Path) -> String {
        match (self.outcome.as_str(), &self.error_kind) {
            ("ok", None) => "ok".to_owned(),
            ("error", Some(kind)) => format!("error:{kind}"),
            _ => panic!("{}: malformed expectation {self:?}", path.display()),
        }
    }
}

fn corpus_dir() -> PathBuf {
    tests_dir().join("corpus")
}

/// `known_failures.txt`: `lang/file: reason` per line, `#` comments.
fn known_failures() -> BTreeMap<String, String> {
    let path = corpus_dir().join("known_failures.txt");
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut known = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (file, reason) = line.split_once(':').unwrap_or_else(|| {
            panic!("known_failures.txt:{}: expected `lang/file: reason`", n + 1)
        });
        let reason = reason.trim();
        assert!(
            !reason.is_empty(),
            "known_failures.txt:{}: a reason is required",
            n + 1
        );
        known.insert(file.trim().to_owned(), reason.to_owned());
    }
    known
}

fn run_corpus(sub: &str, ext: &str, lang: Lang, minimum: usize) {
    let dir = corpus_dir().join(sub);
    let mut programs: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    programs.sort();
    let known: BTreeMap<String, String> = known_failures()
        .into_iter()
        .filter(|(k, _)| k.starts_with(&format!("{sub}/")))
        .collect();

    let limits = Limits::default();
    let mut passed = 0;
    let mut failures = Vec::new();
    let mut notes = Vec::new();
    if programs.len() < minimum {
        failures.push(format!(
            "{sub}: only {} programs, the corpus needs ≥ {minimum}",
            programs.len()
        ));
    }
    for name in known.keys() {
        if !dir.join(&name[sub.len() + 1..]).exists() {
            failures.push(format!(
                "known_failures.txt lists {name}, which does not exist"
            ));
        }
    }
    for program in &programs {
        let file = program.file_name().unwrap().to_string_lossy().into_owned();
        let key = format!("{sub}/{file}");
        let expected_path = program.with_extension("expected.json");
        let expected: Expected = match fs::read_to_string(&expected_path)
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(expected) => expected,
            Err(e) => {
                failures.push(format!(
                    "{key}: no usable expectation ({e}); run generate_expected.py"
                ));
                continue;
            }
        };
        let code = fs::read_to_string(program).expect("read program");
        let want = expected.label(&expected_path);
        let problem = match catch(|| run(&code, lang, &limits)) {
            Err(panic) => Some(panic),
            Ok(result) => {
                let got = outcome_label(&result.outcome);
                let mut why = Vec::new();
                if got != want {
                    why.push(format!("outcome: expected {want}, got {got}"));
                    if !result.stderr.is_empty() {
                        why.push(format!("stderr: {:?}", excerpt(&result.stderr, 400)));
                    }
                }
                if result.stdout != expected.stdout {
                    why.push(first_difference(&expected.stdout, &result.stdout));
                }
                (!why.is_empty()).then(|| why.join("; "))
            }
        };
        match (problem, known.get(&key)) {
            (None, None) => passed += 1,
            (None, Some(_)) => failures.push(format!(
                "{key}: listed in known_failures.txt but passes now: remove it"
            )),
            (Some(problem), None) => failures.push(format!("{key}: {problem}")),
            (Some(problem), Some(reason)) => {
                notes.push(format!("known failure {key} ({reason}): {problem}"))
            }
        }
    }
    if !known.is_empty() {
        notes.push(format!(
            "{} {sub} programs excluded as known failures",
            known.len()
        ));
    }
    finish(&format!("{sub} corpus"), passed, &failures, &notes);
}

#[test]
fn python_corpus_matches_cpython() {
    run_corpus("py", "py", Lang::Python, 200);
}

#[test]
fn javascript_corpus_matches_node() {
    run_corpus("js", "js", Lang::JavaScript, 100);
}
