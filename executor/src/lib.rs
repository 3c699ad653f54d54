//! Runs untrusted Python and JavaScript on the device.
//!
//! One API for both languages: [`run`] executes a program under [`Limits`] and returns a
//! [`RunResult`]; [`run_tests`] runs a solution against its tests and reports each test;
//! [`check`] only applies the subset check. Code outside the on-device subset is refused before
//! it runs with a stable [`ReasonCode`] (see `SUBSET.md`), and the run-time guards stay in place
//! behind that check.

pub mod extract;
pub mod js;
pub mod pysrc;
pub mod python;
pub mod sandbox;

pub use edgecoder_protocol::{
    ExecRequest, ExecResponse, Isolation, IsolationReport, Lang, Limits, Outcome, ReasonCode,
    RunResult, TestCase, TestReport, TestStatus,
};

/// Why the subset check refused a program: what, where, and the stable reason code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SubsetViolation {
    /// The stable reason code.
    pub code: ReasonCode,
    /// The offending construct as written (e.g. `import os`).
    pub construct: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
    /// A sentence for the user: what, where, and that the task can be queued for cloud review.
    pub message: String,
}

impl From<SubsetViolation> for Outcome {
    fn from(v: SubsetViolation) -> Outcome {
        Outcome::OutsideSubset {
            code: v.code,
            construct: v.construct,
            line: v.line,
            col: v.col,
            message: v.message,
        }
    }
}

/// Applies the subset check only. `Ok(())` means the program may run on the device; a syntax
/// error is not a subset violation (it is reported when the program runs).
pub fn check(code: &str, lang: Lang) -> Result<(), SubsetViolation> {
    match lang {
        Lang::Python => python::check(code),
        Lang::JavaScript => js::check(code),
    }
}

/// Runs one program under `limits`, in-process or in a sandboxed child as `limits.isolation`
/// says. Code outside the subset is not run: the result's outcome is `OutsideSubset`.
pub fn run(code: &str, lang: Lang, limits: &Limits) -> RunResult {
    let request = ExecRequest::Run { lang, code: code.to_owned() };
    match execute(&request, limits) {
        ExecResponse::Run(result) => result,
        ExecResponse::Tests(report) => report.run,
    }
}

/// Runs `solution` against `tests` under `limits` and reports every test. A report counts as a
/// pass only when tests were found, ran, and all passed.
pub fn run_tests(solution: &str, tests: &str, lang: Lang, limits: &Limits) -> TestReport {
    let request =
        ExecRequest::Tests { lang, solution: solution.to_owned(), tests: tests.to_owned() };
    match execute(&request, limits) {
        ExecResponse::Tests(report) => report,
        ExecResponse::Run(run) => TestReport { tests: Vec::new(), run },
    }
}

/// Executes a request under `limits`, honouring `limits.isolation`.
pub fn execute(request: &ExecRequest, limits: &Limits) -> ExecResponse {
    match limits.isolation {
        Isolation::InProcess => execute_in_process(request, limits),
        Isolation::Process => sandbox::execute(request, limits),
    }
}

/// Executes a request on this process's interpreters, after the subset check (Python applies
/// it on the parse it runs, so the source is parsed once).
pub fn execute_in_process(request: &ExecRequest, limits: &Limits) -> ExecResponse {
    match request {
        ExecRequest::Run { lang: Lang::Python, code } => ExecResponse::Run(python::run(code, limits)),
        ExecRequest::Tests { lang: Lang::Python, solution, tests } => {
            ExecResponse::Tests(python::run_tests(solution, tests, limits))
        }
        ExecRequest::Run { lang: Lang::JavaScript, code } => ExecResponse::Run(match js::check(code) {
            Err(violation) => refused(violation),
            Ok(()) => js::run(code, limits),
        }),
        ExecRequest::Tests { lang: Lang::JavaScript, solution, tests } => {
            let checked = js::check(solution).and_then(|()| js::check(tests));
            ExecResponse::Tests(match checked {
                Err(violation) => TestReport { tests: Vec::new(), run: refused(violation) },
                Ok(()) => js::run_tests(solution, tests, limits),
            })
        }
    }
}

fn refused(violation: SubsetViolation) -> RunResult {
    RunResult {
        stdout: String::new(),
        stderr: format!("{violation}\n"),
        value: None,
        exit_code: 3,
        wall_time_us: 0,
        steps: 0,
        outcome: violation.into(),
        isolation: None,
    }
}
