//! `edgecoder run`: run a file (or its tests) in the executor and report how it went.

use super::{Execute, Exit, Failure, language, read_source};
use clap::{Args, ValueEnum};
use edgecoder_executor::{
    Isolation, IsolationReport, Lang, Limits, Outcome, RunResult, TestReport, TestStatus,
};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Where the run happens, as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IsolationArg {
    /// In this process, on a dedicated thread (fastest).
    InProcess,
    /// In a child process confined by Landlock, seccomp and rlimits.
    Process,
}

impl From<IsolationArg> for Isolation {
    fn from(arg: IsolationArg) -> Isolation {
        match arg {
            IsolationArg::InProcess => Isolation::InProcess,
            IsolationArg::Process => Isolation::Process,
        }
    }
}

fn parse_bytes(text: &str) -> Result<u64, String> {
    text.parse::<bytesize::ByteSize>()
        .map(|size| size.as_u64())
        .map_err(|error| format!("{error} (write e.g. 256MiB or 1GiB)"))
}

/// The limits flags shared by `run` and `bench`.
#[derive(Debug, Clone, Args)]
pub struct LimitArgs {
    /// Wall-clock budget (e.g. 500ms, 2s).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Deterministic budget of interpreter steps.
    #[arg(long, default_value_t = Limits::default().steps)]
    pub steps: u64,
    /// Memory budget (e.g. 256MiB).
    #[arg(long, default_value = "256MiB", value_parser = parse_bytes)]
    pub memory: u64,
    /// Budget of captured output (e.g. 64KiB); output past it is cut with a marker.
    #[arg(long, default_value = "64KiB", value_parser = parse_bytes)]
    pub output: u64,
    /// Where the run happens.
    #[arg(long, value_enum, default_value_t = IsolationArg::InProcess)]
    pub isolation: IsolationArg,
}

impl LimitArgs {
    /// The executor limits these flags describe.
    pub fn limits(&self) -> Limits {
        Limits {
            wall_time_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            steps: self.steps,
            memory_bytes: self.memory,
            output_bytes: self.output,
            isolation: self.isolation.into(),
        }
    }
}

/// Run FILE, print its output, then a summary line on stderr. With --tests, run the tests in
/// TESTS against FILE and print one line per test.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The program to run (.py, .js, .mjs, .cjs).
    pub file: PathBuf,
    /// Language; guessed from FILE's extension when absent.
    #[arg(long)]
    pub lang: Option<Lang>,
    /// A test file to run against FILE: bare asserts, `test_*` functions, or `check(candidate)`.
    #[arg(long, value_name = "TESTS")]
    pub tests: Option<PathBuf>,
    /// Print the RunResult (or the TestReport with --tests) as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// The limits.
    #[command(flatten)]
    pub limits: LimitArgs,
}

impl Execute for RunArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let lang = language(&self.file, self.lang)?;
        let code = read_source(&self.file)?;
        let limits = self.limits.limits();
        let span =
            tracing::info_span!("run", file = %self.file.display(), lang = lang.short_name());
        let _entered = span.enter();
        match &self.tests {
            None => {
                let result = edgecoder_executor::run(&code, lang, &limits);
                if self.json {
                    print_json(&result)?;
                } else {
                    print_run(&result);
                }
                Ok(run_exit(&result))
            }
            Some(tests_path) => {
                let tests = read_source(tests_path)?;
                let report = edgecoder_executor::run_tests(&code, &tests, lang, &limits);
                if self.json {
                    print_json(&report)?;
                } else {
                    print_tests(&report);
                }
                Ok(tests_exit(&report))
            }
        }
    }
}

fn print_json<T: serde::Serialize>(value: &T) -> Result<(), Failure> {
    let json = serde_json::to_string(value)
        .map_err(|e| Failure::new(Exit::Failed, anyhow::anyhow!("cannot encode JSON: {e}")))?;
    println!("{json}");
    Ok(())
}

/// The exit code for a finished run.
pub fn run_exit(result: &RunResult) -> Exit {
    match result.outcome {
        Outcome::Ok if result.exit_code == 0 => Exit::Ok,
        Outcome::Ok | Outcome::Error { .. } => Exit::Failed,
        Outcome::OutsideSubset { .. } => Exit::OutsideSubset,
        Outcome::Timeout | Outcome::StepLimit | Outcome::MemoryLimit | Outcome::OutputLimit => {
            Exit::Limit
        }
    }
}

/// The exit code for a finished test run.
pub fn tests_exit(report: &TestReport) -> Exit {
    match run_exit(&report.run) {
        Exit::Ok if report.all_passed() => Exit::Ok,
        Exit::Ok => Exit::Failed,
        other => other,
    }
}

fn at_line(line: Option<u32>) -> String {
    line.map(|l| format!(" (line {l})")).unwrap_or_default()
}

/// A one-line description of an outcome.
pub fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok => "ok".into(),
        Outcome::Error {
            kind,
            message,
            line,
        } => format!("error: {kind}: {message}{}", at_line(*line)),
        Outcome::Timeout => "timeout: the wall-clock budget ran out (raise --timeout)".into(),
        Outcome::StepLimit => "step limit: the step budget ran out (raise --steps)".into(),
        Outcome::MemoryLimit => "memory limit: the memory budget ran out (raise --memory)".into(),
        Outcome::OutputLimit => "output limit: output was cut (raise --output)".into(),
        Outcome::OutsideSubset { code, message, .. } => {
            format!("outside the subset [{code}]: {message}")
        }
    }
}

fn describe_isolation(report: &IsolationReport) -> String {
    let on = |b: bool| if b { "on" } else { "OFF" };
    format!(
        "isolation: landlock {}, seccomp {}, rlimits {}, clean env {}",
        report.landlock,
        on(report.seccomp),
        on(report.rlimits),
        on(report.clean_env)
    )
}

fn summary(result: &RunResult) -> String {
    let mark = if result.outcome.is_ok() && result.exit_code == 0 {
        "✓"
    } else {
        "✗"
    };
    format!(
        "{mark} {} · {:.1} ms · {} steps",
        describe(&result.outcome),
        result.wall_time_us as f64 / 1000.0,
        result.steps
    )
}

fn print_run(result: &RunResult) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(result.stdout.as_bytes());
    let _ = out.flush();
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(result.stderr.as_bytes());
    if let Some(value) = &result.value {
        let _ = writeln!(err, "value: {value}");
    }
    if let Some(report) = &result.isolation {
        let _ = writeln!(err, "{}", describe_isolation(report));
    }
    let _ = writeln!(err, "{}", summary(result));
}

fn print_tests(report: &TestReport) {
    let mut out = std::io::stdout().lock();
    for test in &report.tests {
        let _ = match &test.status {
            TestStatus::Passed => writeln!(out, "✓ {}", test.name),
            TestStatus::Failed { message, line } => {
                writeln!(out, "✗ {} — {message}{}", test.name, at_line(*line))
            }
            TestStatus::Error {
                kind,
                message,
                line,
            } => {
                writeln!(out, "✗ {} — {kind}: {message}{}", test.name, at_line(*line))
            }
        };
    }
    let _ = out.flush();
    let mut err = std::io::stderr().lock();
    if !report.run.outcome.is_ok() || report.tests.is_empty() {
        let _ = err.write_all(report.run.stderr.as_bytes());
    }
    if report.tests.is_empty() && report.run.outcome.is_ok() {
        let _ = writeln!(
            err,
            "no tests found: write bare asserts, test_* functions or check(candidate)"
        );
    }
    if let Some(isolation) = &report.run.isolation {
        let _ = writeln!(err, "{}", describe_isolation(isolation));
    }
    let _ = writeln!(
        err,
        "{} passed, {} failed · {} · {:.1} ms",
        report.passed(),
        report.failed(),
        describe(&report.run.outcome),
        report.run.wall_time_us as f64 / 1000.0
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgecoder_executor::{ReasonCode, TestCase};

    fn result(outcome: Outcome, exit_code: i32) -> RunResult {
        RunResult {
            stdout: String::new(),
            stderr: String::new(),
            value: None,
            exit_code,
            wall_time_us: 1500,
            steps: 10,
            outcome,
            isolation: None,
        }
    }

    #[test]
    fn outcomes_map_to_documented_exit_codes() {
        assert_eq!(run_exit(&result(Outcome::Ok, 0)), Exit::Ok);
        assert_eq!(run_exit(&result(Outcome::Ok, 2)), Exit::Failed);
        let error = Outcome::Error {
            kind: "ValueError".into(),
            message: "x".into(),
            line: Some(2),
        };
        assert_eq!(run_exit(&result(error, 1)), Exit::Failed);
        for limit in [
            Outcome::Timeout,
            Outcome::StepLimit,
            Outcome::MemoryLimit,
            Outcome::OutputLimit,
        ] {
            assert_eq!(run_exit(&result(limit, 1)), Exit::Limit);
        }
        let outside = Outcome::OutsideSubset {
            code: ReasonCode::PyImportDenied,
            construct: "import os".into(),
            line: 1,
            col: 1,
            message: "no".into(),
        };
        assert_eq!(run_exit(&result(outside, 3)), Exit::OutsideSubset);
    }

    #[test]
    fn a_test_run_passes_only_with_passing_tests() {
        let passed = TestCase {
            name: "t".into(),
            status: TestStatus::Passed,
        };
        let failed = TestCase {
            name: "u".into(),
            status: TestStatus::Failed {
                message: "assert 1 == 2".into(),
                line: Some(3),
            },
        };
        let report = |tests| TestReport {
            tests,
            run: result(Outcome::Ok, 0),
        };
        assert_eq!(tests_exit(&report(vec![passed.clone()])), Exit::Ok);
        assert_eq!(tests_exit(&report(vec![passed, failed])), Exit::Failed);
        assert_eq!(tests_exit(&report(vec![])), Exit::Failed);
        let timed_out = TestReport {
            tests: vec![],
            run: result(Outcome::Timeout, 1),
        };
        assert_eq!(tests_exit(&timed_out), Exit::Limit);
    }

    #[test]
    fn limits_flags_parse_units_and_reject_garbage() {
        assert_eq!(parse_bytes("256MiB"), Ok(256 * 1024 * 1024));
        assert_eq!(parse_bytes("1KiB"), Ok(1024));
        assert!(parse_bytes("lots").unwrap_err().contains("256MiB"));
        let args = LimitArgs {
            timeout: Duration::from_millis(1500),
            steps: 7,
            memory: 1 << 20,
            output: 100,
            isolation: IsolationArg::Process,
        };
        let limits = args.limits();
        assert_eq!(limits.wall_time_ms, 1500);
        assert_eq!(limits.isolation, Isolation::Process);
        assert_eq!(
            (limits.steps, limits.memory_bytes, limits.output_bytes),
            (7, 1 << 20, 100)
        );
    }

    #[test]
    fn summaries_say_what_to_raise() {
        assert!(describe(&Outcome::Timeout).contains("--timeout"));
        assert!(summary(&result(Outcome::Ok, 0)).starts_with("✓ ok · 1.5 ms · 10 steps"));
    }
}
