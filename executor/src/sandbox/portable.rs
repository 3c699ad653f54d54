//! Process isolation where it cannot be had (Windows, and builds with `--cfg edgecoder_portable`,
//! which check this path on Linux): a run asked for with [`Isolation::Process`] runs on an
//! interpreter thread of this process instead, under the same wall-clock, step, memory and
//! output budgets the interpreters enforce themselves, and its [`IsolationReport`] says that no
//! layer was applied. The first such run logs a warning with what to do about it.
//!
//! [`Isolation::Process`]: crate::Isolation::Process

use super::{ChildRunner, WALL_CLOCK_GRACE, failed_run, respond};
use crate::{ExecRequest, ExecResponse, IsolationReport, Limits, Outcome};
use std::path::Path;
use std::sync::Once;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Why no layer of the sandbox is there, as the report and the warning say it.
const WHY: &str = "not_enforced: process isolation needs Linux or macOS; the code ran on a thread of this process \
                   under the interpreter's own budgets (run untrusted code on a Linux device, or in WSL)";

static WARNED: Once = Once::new();

fn report() -> IsolationReport {
    IsolationReport { landlock: WHY.into(), seccomp: false, rlimits: false, clean_env: false }
}

/// There are no sandbox children on this platform: this returns at once.
pub fn child_main_if_requested() {}

/// There are no sandbox children on this platform: this returns at once.
pub fn serve_child_if_requested(_runner: ChildRunner) {}

/// Runs `request` on an interpreter thread (see the module's documentation).
pub fn execute(request: &ExecRequest, limits: &Limits) -> ExecResponse {
    WARNED.call_once(|| tracing::warn!("{WHY}"));
    let started = Instant::now();
    let (answer, answered) = mpsc::channel();
    let (job, job_limits) = (request.clone(), limits.clone());
    let spawned = std::thread::Builder::new().name("edgecoder-run".into()).spawn(move || {
        let _ = answer.send(crate::execute_in_process(&job, &job_limits));
    });
    if let Err(error) = spawned {
        let outcome = Outcome::Error { kind: "SandboxError".into(), message: error.to_string(), line: None };
        return respond(request, failed_run(outcome, format!("cannot start the interpreter thread: {error}"), 1, started.elapsed(), Some(report())));
    }
    let deadline = Duration::from_millis(limits.wall_time_ms).saturating_add(WALL_CLOCK_GRACE);
    match answered.recv_timeout(deadline) {
        Ok(response) => with_report(response),
        Err(_) => respond(
            request,
            failed_run(
                Outcome::Timeout,
                format!("the program did not stop within its {} ms budget", limits.wall_time_ms),
                124,
                started.elapsed(),
                Some(report()),
            ),
        ),
    }
}

/// Runs `request` as [`execute`] does: there is no child executable on this platform.
pub fn execute_with(_executable: &Path, request: &ExecRequest, limits: &Limits) -> ExecResponse {
    execute(request, limits)
}

fn with_report(mut response: ExecResponse) -> ExecResponse {
    match &mut response {
        ExecResponse::Run(run) => run.isolation = Some(report()),
        ExecResponse::Tests(tests) => tests.run.isolation = Some(report()),
    }
    response
}

/// There are no warm children on this platform: this does nothing.
pub fn set_warm_children(_count: usize) {}

/// There are no warm children on this platform: always 0.
pub fn warm_children() -> usize {
    0
}

/// There are no warm children on this platform: always empty.
pub fn warm_child_pids() -> Vec<u32> {
    Vec::new()
}

/// There are no warm children to wait for on this platform: always true.
pub fn wait_until_warm(_timeout: Duration) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Isolation, Lang};

    #[test]
    fn a_process_isolated_run_runs_in_process_and_says_nothing_was_enforced() {
        let limits = Limits { isolation: Isolation::Process, ..Limits::default() };
        let run = crate::run("print(6 * 7)", Lang::Python, &limits);
        assert_eq!(run.stdout, "42\n");
        let isolation = run.isolation.expect("a report");
        assert!(isolation.landlock.starts_with("not_enforced: process isolation needs Linux or macOS"), "{isolation:?}");
        assert!(!isolation.seccomp && !isolation.rlimits);
        let endless = crate::run("while True:\n    pass\n", Lang::Python, &Limits { wall_time_ms: 300, ..limits });
        assert!(matches!(endless.outcome, Outcome::Timeout | Outcome::StepLimit), "{endless:?}");
    }
}
