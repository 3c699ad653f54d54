//! Process isolation: runs a request in a confined child process.
//!
//! The child is a re-exec of one of our own binaries (by default the current executable) with
//! the single argument [`CHILD_ARG`]. Every binary of ours calls [`child_main_if_requested`]
//! first in `main`; when the process was started as a sandbox child, that function never
//! returns: it reads the postcard-encoded request and limits from its stdin, confines itself
//! (see below), runs [`crate::execute_in_process`], writes the postcard answer to its stdout and
//! exits.
//!
//! Confinement layers, applied in the child before any untrusted code is parsed:
//! - an empty environment (the parent clears it) and `/dev/null` as stdin, once the request
//!   has been read;
//! - `PR_SET_NO_NEW_PRIVS`;
//! - rlimits: address space (the memory budget plus the child's own footprint), CPU seconds
//!   (a backstop behind the parent's wall clock), no core files, no file writes;
//! - Landlock: every filesystem access right of every ABI is handled with no rule allowing
//!   anything, TCP bind/connect (ABI 4+) likewise, and signals / abstract UNIX sockets are
//!   scoped to the sandbox (ABI 6+);
//! - seccomp: sockets, `execve`/`execveat`, `ptrace`, `fork`/`vfork`, `clone` without
//!   `CLONE_THREAD` (threads stay allowed: the interpreters run on a thread of their own),
//!   namespaces, mounts, `bpf`, `perf_event_open` and similar are refused with `EPERM`;
//!   `clone3` answers `ENOSYS` so the C library falls back to the inspectable `clone`.
//!
//! `RLIMIT_NPROC` is deliberately not lowered: the kernel counts threads against it, per user,
//! so a tight value would stop the interpreter's own thread for unprivileged users; new
//! processes are refused by the seccomp filter instead.
//!
//! Where the kernel lacks a layer the run still happens and [`IsolationReport`] says which
//! layers were active; the report is sent before the untrusted code runs, so it is known even
//! when the child then dies. The parent enforces the wall clock (the budget plus
//! [`WALL_CLOCK_GRACE`]), kills the child when it is over, always reaps it, and maps a child
//! killed by a signal or a limit to an [`Outcome`].

#[cfg(all(unix, not(edgecoder_portable)))]
mod child;
#[cfg(all(target_os = "linux", not(edgecoder_portable)))]
mod confine;
#[cfg(all(unix, not(target_os = "linux"), not(edgecoder_portable)))]
mod confine {
    //! Confinement needs Linux; elsewhere every layer is reported as missing.
    use crate::{IsolationReport, Limits};

    /// Nothing is applied before the job.
    pub(super) struct Early;

    pub(super) fn confine_early() -> Early {
        Early
    }

    pub(super) fn confine_job(_early: &Early, _limits: &Limits, clean_env: bool) -> IsolationReport {
        IsolationReport {
            landlock: "not_enforced: Landlock needs Linux".into(),
            seccomp: false,
            rlimits: false,
            clean_env,
        }
    }
}
#[cfg(all(unix, not(edgecoder_portable)))]
mod parent;
#[cfg(any(not(unix), edgecoder_portable))]
mod portable;
#[cfg(all(unix, not(edgecoder_portable)))]
mod warm;

#[cfg(all(unix, not(edgecoder_portable)))]
pub use child::{child_main_if_requested, serve_child_if_requested};
#[cfg(all(unix, not(edgecoder_portable)))]
pub use parent::{execute, execute_with};
#[cfg(any(not(unix), edgecoder_portable))]
pub use portable::{
    child_main_if_requested, execute, execute_with, serve_child_if_requested, set_warm_children, wait_until_warm,
    warm_child_pids, warm_children,
};
#[cfg(all(unix, not(edgecoder_portable)))]
pub use warm::{set_warm_children, wait_until_warm, warm_child_pids, warm_children};

/// What a sandbox child runs a request with, once it is confined. Production binaries use
/// [`crate::execute_in_process`] through [`child_main_if_requested`].
pub type ChildRunner = fn(&ExecRequest, &Limits) -> ExecResponse;

use crate::{ExecRequest, ExecResponse, IsolationReport, Limits, Outcome, RunResult, TestReport};
use std::path::PathBuf;
use std::sync::RwLock;
use std::time::Duration;

/// The argument that starts one of our binaries as a sandbox child.
pub const CHILD_ARG: &str = "__edgecoder-sandbox-child";

/// The second argument that starts a sandbox child warm: it confines itself and builds its
/// interpreter before it reads its request (see [`set_warm_children`]).
pub const WARM_ARG: &str = "warm";

/// The byte a warm child writes on its answer pipe once it is confined and its interpreter is
/// built, before it reads its request.
#[cfg(all(unix, not(edgecoder_portable)))]
const READY: u8 = 0x52;

/// The environment variable that names the child executable when none was set in code.
pub const CHILD_EXE_ENV: &str = "EDGECODER_SANDBOX_EXE";

/// How long past the wall-clock budget the parent waits before it kills the child. The child
/// enforces the budget itself; this only catches a child that does not.
pub const WALL_CLOCK_GRACE: Duration = Duration::from_millis(500);

static CHILD_EXE: RwLock<Option<PathBuf>> = RwLock::new(None);

/// Errors that stop a sandboxed run before the child could answer.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// No executable was configured and the current one could not be found.
    #[error(
        "cannot find the sandbox child executable: {0}; set it with \
         sandbox::set_child_executable or {CHILD_EXE_ENV}"
    )]
    NoExecutable(#[source] std::io::Error),
    /// The child process could not be started.
    #[error(
        "cannot start the sandbox child `{path}`: {source}; check that the file exists and is \
         executable"
    )]
    Spawn {
        /// The executable that failed to start.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Talking to the child over its pipes failed.
    #[error("sandbox pipe error: {0}")]
    Pipe(#[source] std::io::Error),
    /// The request could not be encoded.
    #[error("cannot encode the request for the sandbox child: {0}")]
    Encode(String),
}

/// Sets the executable that sandboxed runs start (for example a test binary that calls
/// [`serve_child_if_requested`]). Without it, [`CHILD_EXE_ENV`] is read, then the current
/// executable is used.
pub fn set_child_executable(path: impl Into<PathBuf>) {
    let mut slot = CHILD_EXE
        .write()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    *slot = Some(path.into());
}

/// The executable that sandboxed runs start: the one set with [`set_child_executable`], else
/// the one named by [`CHILD_EXE_ENV`], else the current executable.
pub fn child_executable() -> Result<PathBuf, SandboxError> {
    let configured = CHILD_EXE
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    if let Some(path) = configured {
        return Ok(path);
    }
    if let Some(path) = std::env::var_os(CHILD_EXE_ENV).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    std::env::current_exe().map_err(SandboxError::NoExecutable)
}

/// Wraps a run result in the response shape that `request` expects.
fn respond(request: &ExecRequest, run: RunResult) -> ExecResponse {
    match request {
        ExecRequest::Run { .. } => ExecResponse::Run(run),
        ExecRequest::Tests { .. } => ExecResponse::Tests(TestReport {
            tests: Vec::new(),
            run,
        }),
    }
}

/// The run result of a sandboxed run that ended without a valid answer from the child.
fn failed_run(
    outcome: Outcome,
    explanation: String,
    exit_code: i32,
    wall: Duration,
    isolation: Option<IsolationReport>,
) -> RunResult {
    RunResult {
        stdout: String::new(),
        stderr: format!("{explanation}\n"),
        value: None,
        exit_code,
        wall_time_us: u64::try_from(wall.as_micros()).unwrap_or(u64::MAX),
        steps: 0,
        outcome,
        isolation,
    }
}

/// The address-space limit for a child whose own footprint is `base_bytes`: the memory budget
/// plus the footprint plus room for the interpreter thread's stack and allocator arenas.
#[cfg(all(target_os = "linux", not(edgecoder_portable)))]
fn address_space_limit(limits: &Limits, base_bytes: u64) -> u64 {
    const OVERHEAD: u64 = 512 * 1024 * 1024;
    base_bytes
        .saturating_add(limits.memory_bytes)
        .saturating_add(OVERHEAD)
}

/// The soft CPU-seconds limit for a child: the wall-clock budget rounded up, plus one second.
#[cfg(all(unix, not(edgecoder_portable)))]
fn cpu_seconds_limit(limits: &Limits) -> u64 {
    limits.wall_time_ms.div_ceil(1000).saturating_add(1)
}
