//! What the executor is asked to run and what it reports back.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// A language the executor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Python 3 (the on-device subset, run by RustPython).
    Python,
    /// JavaScript (ES2023 scripts, run by QuickJS).
    #[serde(rename = "js")]
    JavaScript,
}

impl Lang {
    /// Guesses the language from a file name's extension (`.py`, `.js`, `.mjs`, `.cjs`).
    pub fn from_path(path: &str) -> Option<Lang> {
        let ext = path.rsplit_once('.')?.1;
        match ext.to_ascii_lowercase().as_str() {
            "py" => Some(Lang::Python),
            "js" | "mjs" | "cjs" => Some(Lang::JavaScript),
            _ => None,
        }
    }

    /// The short name used on the command line and in JSON (`py` or `js`).
    pub fn short_name(self) -> &'static str {
        match self {
            Lang::Python => "py",
            Lang::JavaScript => "js",
        }
    }
}

impl core::str::FromStr for Lang {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "py" | "python" | "python3" => Ok(Lang::Python),
            "js" | "javascript" | "node" => Ok(Lang::JavaScript),
            other => Err(format!("unknown language `{other}`: use `py` or `js`")),
        }
    }
}

/// Where a run happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Isolation {
    /// In the calling process, on a dedicated thread: fastest, for interactive use.
    #[default]
    InProcess,
    /// In a child process confined by Landlock, seccomp and rlimits: required for swarm work.
    Process,
}

/// The budgets a run must stay within. The same code with the same limits gives the same
/// outcome on every run, except for `wall_time_ms`, which is a safety net behind `steps`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Wall-clock budget in milliseconds.
    pub wall_time_ms: u64,
    /// Deterministic budget of interpreter steps (see the executor's docs for what a step is).
    pub steps: u64,
    /// Memory budget for the interpreter's heap, in bytes.
    pub memory_bytes: u64,
    /// Captured stdout + stderr budget in bytes; output past it is cut with a marker.
    pub output_bytes: u64,
    /// Where the run happens.
    pub isolation: Isolation,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            wall_time_ms: 5_000,
            steps: 50_000_000,
            memory_bytes: 256 * 1024 * 1024,
            output_bytes: 64 * 1024,
            isolation: Isolation::InProcess,
        }
    }
}

/// The process exit code a run would have had as a script (0 on success, 1 on an uncaught
/// error, others as documented by the executor).
pub type ExitCode = i32;

/// A stable reason code for code the executor will not run on the device. Each code is
/// documented in `executor/SUBSET.md`; codes are never renamed, only added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ReasonCode {
    /// Python `async def`, `await`, `async for/with`, or `asyncio`.
    PyAsync,
    /// Python import of a module outside the allowlist.
    PyImportDenied,
    /// Python file access (`open`, `io.FileIO`, `pathlib`, ...).
    PyFileIo,
    /// Python `eval`/`exec`/`compile`/`__import__` of non-literal input.
    PyDynamicEval,
    /// Python dunder escapes: `__subclasses__`, `__globals__`, `__builtins__`, `__code__`, frames.
    PyIntrospection,
    /// Python threads, processes or signals.
    PyConcurrency,
    /// JavaScript `import`/`require`/dynamic `import()` of a module.
    JsModule,
    /// JavaScript `eval`, `new Function`, or a string passed to a timer.
    JsDynamicEval,
    /// JavaScript host APIs the sandbox does not have (`process`, `fetch`, `Deno`, timers, ...).
    JsHostApi,
    /// JavaScript `async`/`await` and top-level promises.
    JsAsync,
}

impl ReasonCode {
    /// The stable code as shown to users and logged (e.g. `PY_ASYNC`).
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::PyAsync => "PY_ASYNC",
            ReasonCode::PyImportDenied => "PY_IMPORT_DENIED",
            ReasonCode::PyFileIo => "PY_FILE_IO",
            ReasonCode::PyDynamicEval => "PY_DYNAMIC_EVAL",
            ReasonCode::PyIntrospection => "PY_INTROSPECTION",
            ReasonCode::PyConcurrency => "PY_CONCURRENCY",
            ReasonCode::JsModule => "JS_MODULE",
            ReasonCode::JsDynamicEval => "JS_DYNAMIC_EVAL",
            ReasonCode::JsHostApi => "JS_HOST_API",
            ReasonCode::JsAsync => "JS_ASYNC",
        }
    }
}

impl core::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a run ended. Externally tagged on the wire (`"ok"`, `{"error": {...}}`), as postcard
/// needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The program ran to the end.
    Ok,
    /// The program raised an uncaught error (`kind` is e.g. `ZeroDivisionError`, `TypeError`).
    Error {
        /// The exception's type name.
        kind: String,
        /// The exception's message.
        message: String,
        /// The 1-based source line where it was raised, when known.
        line: Option<u32>,
    },
    /// The wall-clock budget ran out.
    Timeout,
    /// The step budget ran out.
    StepLimit,
    /// The memory budget ran out.
    MemoryLimit,
    /// The output budget ran out; the captured output ends with a truncation marker.
    OutputLimit,
    /// The subset check refused the code before it ran.
    OutsideSubset {
        /// The stable reason code.
        code: ReasonCode,
        /// The offending construct as written (e.g. `import os`).
        construct: String,
        /// 1-based line.
        line: u32,
        /// 1-based column.
        col: u32,
        /// A sentence for the user: what, where, and that the task can be queued for cloud review.
        message: String,
    },
}

impl Outcome {
    /// Whether the run finished without any error or limit.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }

    /// A short, stable label (`ok`, `error`, `timeout`, ...), used in metrics and tables.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error { .. } => "error",
            Outcome::Timeout => "timeout",
            Outcome::StepLimit => "step_limit",
            Outcome::MemoryLimit => "memory_limit",
            Outcome::OutputLimit => "output_limit",
            Outcome::OutsideSubset { .. } => "outside_subset",
        }
    }
}

/// Which confinement layers were active for a process-isolated run. Where the kernel lacks a
/// layer the run still happens, and the missing layer is reported here, never silently.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IsolationReport {
    /// Landlock status (`fully_enforced`, `partially_enforced (ABI n)`, `not_enforced: why`).
    pub landlock: String,
    /// Whether the seccomp filter was installed.
    pub seccomp: bool,
    /// Whether the rlimits (address space, CPU, processes, core files) were set.
    pub rlimits: bool,
    /// Whether the child started with an empty environment and a closed stdin.
    pub clean_env: bool,
}

/// Everything a run produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResult {
    /// Captured standard output (cut at the output budget, with a marker).
    pub stdout: String,
    /// Captured standard error (tracebacks end up here).
    pub stderr: String,
    /// `repr` of the value of the last expression statement, if the program ended in one.
    pub value: Option<String>,
    /// The exit code the program would have had as a script.
    pub exit_code: ExitCode,
    /// Wall time of the run in microseconds, start-up included.
    pub wall_time_us: u64,
    /// Interpreter steps used.
    pub steps: u64,
    /// How the run ended.
    pub outcome: Outcome,
    /// The confinement layers, for process-isolated runs.
    pub isolation: Option<IsolationReport>,
}

/// The result of one test inside a test run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestStatus {
    /// The test ran and its assertions held.
    Passed,
    /// An assertion failed.
    Failed {
        /// The assertion's message, or the failing assertion's source when it had none.
        message: String,
        /// 1-based line of the failing assertion in the test source, when known.
        line: Option<u32>,
    },
    /// The test raised something other than an assertion failure, or hit a limit.
    Error {
        /// The exception's type name or the limit hit.
        kind: String,
        /// The message.
        message: String,
        /// 1-based line, when known.
        line: Option<u32>,
    },
}

/// One test and how it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestCase {
    /// The test's name (a `test_*` function, `check`, or `assert#N` for a bare assertion).
    pub name: String,
    /// How it went.
    pub status: TestStatus,
}

/// The result of running a solution against its tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestReport {
    /// Every test that was found, in source order.
    pub tests: Vec<TestCase>,
    /// The underlying run of solution plus tests.
    pub run: RunResult,
}

impl TestReport {
    /// Number of tests that passed.
    pub fn passed(&self) -> usize {
        self.tests
            .iter()
            .filter(|t| t.status == TestStatus::Passed)
            .count()
    }

    /// Number of tests that did not pass.
    pub fn failed(&self) -> usize {
        self.tests.len() - self.passed()
    }

    /// True only when at least one test ran and every test passed: a run that merely exited 0
    /// without tests is not a pass.
    pub fn all_passed(&self) -> bool {
        !self.tests.is_empty() && self.failed() == 0 && self.run.outcome.is_ok()
    }

    /// One line saying why the run did not pass, for a model's fix prompt or a result: the
    /// first failing test with its line, else the run's own error.
    pub fn failure_summary(&self) -> String {
        let at = |line: &Option<u32>| line.map(|n| format!(" at line {n}")).unwrap_or_default();
        for test in &self.tests {
            match &test.status {
                TestStatus::Passed => {}
                TestStatus::Failed { message, line } => {
                    return format!("test {} failed{}: {message}", test.name, at(line));
                }
                TestStatus::Error { kind, message, line } => {
                    return format!("test {} raised {kind}{}: {message}", test.name, at(line));
                }
            }
        }
        match &self.run.outcome {
            Outcome::Ok if self.tests.is_empty() => "no test ran".into(),
            Outcome::Ok => "the tests did not pass".into(),
            Outcome::Error { kind, message, line } => format!("{kind}{}: {message}", at(line)),
            other => format!("{other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> RunResult {
        RunResult {
            stdout: "hi\n".into(),
            stderr: String::new(),
            value: Some("3".into()),
            exit_code: 0,
            wall_time_us: 1200,
            steps: 42,
            outcome: Outcome::OutsideSubset {
                code: ReasonCode::PyAsync,
                construct: "async def".into(),
                line: 3,
                col: 1,
                message: "uses `async def` (PY_ASYNC) at line 3".into(),
            },
            isolation: Some(IsolationReport::default()),
        }
    }

    #[test]
    fn run_result_round_trips_through_postcard_and_json() {
        let r = sample();
        let bytes = crate::encode(&r).unwrap();
        assert_eq!(crate::decode::<RunResult>(&bytes).unwrap(), r);
        let json = serde_json::to_string(&r).unwrap();
        assert!(
            json.contains("\"outside_subset\":{\"code\":\"PY_ASYNC\""),
            "{json}"
        );
        assert_eq!(serde_json::from_str::<RunResult>(&json).unwrap(), r);
    }

    #[test]
    fn a_failure_summary_names_the_first_failing_test_else_the_run_error() {
        let case = |name: &str, status: TestStatus| TestCase { name: name.into(), status };
        let mut run = sample();
        run.outcome = Outcome::Ok;
        let report = TestReport {
            tests: alloc::vec![
                case("test_ok", TestStatus::Passed),
                case("test_sum", TestStatus::Failed { message: "3 != 4".into(), line: Some(7) }),
                case("test_div", TestStatus::Error { kind: "ZeroDivisionError".into(), message: "division by zero".into(), line: None }),
            ],
            run: run.clone(),
        };
        assert_eq!(report.failure_summary(), "test test_sum failed at line 7: 3 != 4");
        let report = TestReport { tests: report.tests[2..].to_vec(), run: run.clone() };
        assert_eq!(report.failure_summary(), "test test_div raised ZeroDivisionError: division by zero");
        assert_eq!(TestReport { tests: Vec::new(), run: run.clone() }.failure_summary(), "no test ran");
        run.outcome = Outcome::Error { kind: "SyntaxError".into(), message: "invalid syntax".into(), line: Some(2) };
        assert_eq!(TestReport { tests: Vec::new(), run: run.clone() }.failure_summary(), "SyntaxError at line 2: invalid syntax");
        run.outcome = Outcome::Timeout;
        assert_eq!(TestReport { tests: Vec::new(), run }.failure_summary(), "Timeout");
    }

    #[test]
    fn truncated_and_padded_payloads_are_rejected() {
        let bytes = crate::encode(&sample()).unwrap();
        for cut in 0..bytes.len() {
            assert!(
                crate::decode::<RunResult>(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut padded = bytes.clone();
        padded.push(0);
        assert!(crate::decode::<RunResult>(&padded).is_err());
    }

    #[test]
    fn test_reports_round_trip_through_postcard_and_json() {
        let mut run = sample();
        run.outcome = Outcome::Error {
            kind: "AssertionError".into(),
            message: "x".into(),
            line: Some(2),
        };
        let report = TestReport {
            tests: vec![
                TestCase {
                    name: "check".into(),
                    status: TestStatus::Passed,
                },
                TestCase {
                    name: "assert#2".into(),
                    status: TestStatus::Failed {
                        message: "1 != 2".into(),
                        line: Some(2),
                    },
                },
            ],
            run,
        };
        let bytes = crate::encode(&ExecResponse::Tests(report.clone())).unwrap();
        assert_eq!(
            crate::decode::<ExecResponse>(&bytes).unwrap(),
            ExecResponse::Tests(report.clone())
        );
        let json = serde_json::to_string(&report).unwrap();
        assert_eq!(serde_json::from_str::<TestReport>(&json).unwrap(), report);
        assert_eq!((report.passed(), report.failed()), (1, 1));
    }

    #[test]
    fn a_report_without_tests_is_not_a_pass() {
        let mut run = sample();
        run.outcome = Outcome::Ok;
        let report = TestReport { tests: vec![], run };
        assert!(!report.all_passed());
    }

    #[test]
    fn languages_parse_from_names_and_paths() {
        assert_eq!("py".parse::<Lang>().unwrap(), Lang::Python);
        assert_eq!("JavaScript".parse::<Lang>().unwrap(), Lang::JavaScript);
        assert!(
            "ruby"
                .parse::<Lang>()
                .unwrap_err()
                .contains("use `py` or `js`")
        );
        assert_eq!(Lang::from_path("a/b.mjs"), Some(Lang::JavaScript));
        assert_eq!(Lang::from_path("x.PY"), Some(Lang::Python));
        assert_eq!(Lang::from_path("Makefile"), None);
    }
}

/// A unit of work for the executor, as sent to a sandboxed child process or a swarm worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecRequest {
    /// Run one program.
    Run {
        /// The language.
        lang: Lang,
        /// The program's source.
        code: String,
    },
    /// Run a solution against its tests.
    Tests {
        /// The language.
        lang: Lang,
        /// The solution's source.
        solution: String,
        /// The tests' source (bare asserts, `test_*` functions, or a `check(candidate)` call).
        tests: String,
    },
}

/// What the executor returns for an [`ExecRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExecResponse {
    /// The result of [`ExecRequest::Run`].
    Run(RunResult),
    /// The result of [`ExecRequest::Tests`].
    Tests(TestReport),
}
