//! The parent side of a sandboxed run: start the child, feed it, watch the clock, reap it, and
//! turn whatever happened into a response.

use super::child::{EXIT_BAD_REQUEST, EXIT_IO};
use super::{
    CHILD_ARG, READY, SandboxError, WALL_CLOCK_GRACE, WARM_ARG, child_executable,
    cpu_seconds_limit, failed_run, respond, warm,
};
use crate::{ExecRequest, ExecResponse, IsolationReport, Limits, Outcome};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;
use std::process::{ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a run waits for the warm child it was handed to finish building its interpreter.
const READY_WAIT: Duration = Duration::from_secs(30);

/// How much of the child's own stderr (panic messages, allocator aborts) is kept.
const STDERR_KEEP: usize = 16 * 1024;

/// Runs `request` in a confined child process started from [`child_executable`].
pub fn execute(request: &ExecRequest, limits: &Limits) -> ExecResponse {
    match child_executable() {
        Ok(executable) => execute_with(&executable, request, limits),
        Err(error) => respond(request, setup_failure(&error, Duration::ZERO)),
    }
}

/// Runs `request` in a confined child process started from `executable`, which must call
/// [`super::child_main_if_requested`] (or [`super::serve_child_if_requested`]) first in `main`.
/// Never panics and never leaves the child behind: every path kills and reaps it.
///
/// When warm children are kept ([`super::set_warm_children`]), the run is handed to one that is
/// already confined with its interpreter built, and a replacement is started in the background;
/// a warm child that died before it took the request is replaced by a cold start. Each child
/// serves exactly one run.
pub fn execute_with(executable: &Path, request: &ExecRequest, limits: &Limits) -> ExecResponse {
    let span = tracing::info_span!(
        "sandboxed_run",
        executable = %executable.display(),
        request = request_kind(request),
        wall_time_ms = limits.wall_time_ms,
    );
    let _entered = span.enter();
    let started = Instant::now();
    let response = match run_in_child(executable, request, limits, started) {
        Ok(end) => conclude(request, limits, executable, end, started.elapsed()),
        Err(error) => respond(request, setup_failure(&error, started.elapsed())),
    };
    tracing::debug!(
        elapsed_us = started.elapsed().as_micros() as u64,
        "sandboxed run finished"
    );
    response
}

fn request_kind(request: &ExecRequest) -> &'static str {
    match request {
        ExecRequest::Run { .. } => "run",
        ExecRequest::Tests { .. } => "tests",
    }
}

fn setup_failure(error: &SandboxError, wall: Duration) -> crate::RunResult {
    tracing::warn!(%error, "sandboxed run could not start");
    let outcome = Outcome::Error {
        kind: "SandboxError".into(),
        message: error.to_string(),
        line: None,
    };
    failed_run(outcome, error.to_string(), 1, wall, None)
}

/// Runs `request` in a warm child when one is kept for `executable`, else in a fresh one.
fn run_in_child(
    executable: &Path,
    request: &ExecRequest,
    limits: &Limits,
    started: Instant,
) -> Result<ChildEnd, SandboxError> {
    let payload = edgecoder_protocol::encode(&(request, limits))
        .map_err(|e| SandboxError::Encode(e.to_string()))?;
    let warm_child = warm::take(executable);
    // Whether a live child was taken or only dead ones were reaped, the pool is short now.
    warm::replenish(executable);
    if let Some(child) = warm_child {
        let pid = child.reaper.pid;
        let end = supervise(child, &payload, limits, started)?;
        // The isolation report is sent before any untrusted code runs: a child that sent
        // nothing died before it took the run (e.g. killed while idle), so a fresh child may
        // take the run instead.
        if !end.answer.is_empty() {
            tracing::debug!(pid, "ran in a warm sandbox child");
            return Ok(end);
        }
        tracing::warn!(pid, termination = ?end.termination, "a warm sandbox child died before it took its run; starting a fresh one");
    }
    supervise(start(executable, false)?, &payload, limits, started)
}

/// A started sandbox child and its pipes, not yet handed a request.
pub(super) struct Started {
    /// Kills and reaps the child unless it was reaped.
    pub(super) reaper: Reaper,
    pub(super) stdin: ChildStdin,
    pub(super) stdout: ChildStdout,
    pub(super) stderr: ChildStderr,
    /// A warm child whose [`READY`] byte has not been read yet.
    pub(super) awaiting_ready: bool,
}

/// Starts a sandbox child from `executable`: warm (it confines itself and builds its
/// interpreter before it reads a request) or cold.
pub(super) fn start(executable: &Path, warm: bool) -> Result<Started, SandboxError> {
    let mut command = Command::new(executable);
    command.arg(CHILD_ARG);
    if warm {
        command.arg(WARM_ARG);
    }
    let mut child = command
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| SandboxError::Spawn {
            path: executable.to_owned(),
            source,
        })?;
    let pid = libc::pid_t::try_from(child.id()).unwrap_or(libc::pid_t::MAX);
    let reaper = Reaper { pid, reaped: false };
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(SandboxError::Pipe(std::io::Error::other(
            "child pipes missing",
        )));
    };
    for fd in [stdin.as_raw_fd(), stdout.as_raw_fd(), stderr.as_raw_fd()] {
        set_nonblocking(fd).map_err(SandboxError::Pipe)?;
    }
    Ok(Started {
        reaper,
        stdin,
        stdout,
        stderr,
        awaiting_ready: warm,
    })
}

/// How the child process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Termination {
    /// It exited with this code.
    Exited(i32),
    /// A signal killed it.
    Signaled(i32),
}

/// Everything observed about one child.
#[derive(Debug)]
struct ChildEnd {
    termination: Termination,
    /// User plus system CPU time the child used.
    cpu: Duration,
    /// The parent killed it at the wall-clock deadline.
    killed_at_deadline: bool,
    /// The parent killed it because its answer passed the cap.
    answer_overflow: bool,
    /// Bytes read from the child's answer pipe.
    answer: Vec<u8>,
    /// The start of the child's stderr.
    stderr: Vec<u8>,
}

/// Owns the child's pid until it is reaped; kills and reaps it when dropped early.
pub(super) struct Reaper {
    pub(super) pid: libc::pid_t,
    reaped: bool,
}

impl Reaper {
    pub(super) fn kill(&self) {
        if !self.reaped {
            // SAFETY: the pid is our unreaped child, so it cannot have been recycled.
            unsafe { libc::kill(self.pid, libc::SIGKILL) };
        }
    }

    /// Waits for the child; with `block` false, returns `None` while it still runs.
    pub(super) fn wait(&mut self, block: bool) -> std::io::Result<Option<(Termination, Duration)>> {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = if block { 0 } else { libc::WNOHANG };
        loop {
            // SAFETY: wait4 writes into the two locals we pass.
            let rc = unsafe { libc::wait4(self.pid, &mut status, flags, &mut usage) };
            if rc == 0 {
                return Ok(None);
            }
            if rc < 0 {
                let error = std::io::Error::last_os_error();
                if error.kind() == ErrorKind::Interrupted {
                    continue;
                }
                return Err(error);
            }
            self.reaped = true;
            let termination = if libc::WIFSIGNALED(status) {
                Termination::Signaled(libc::WTERMSIG(status))
            } else {
                Termination::Exited(libc::WEXITSTATUS(status))
            };
            let cpu = timeval(usage.ru_utime) + timeval(usage.ru_stime);
            return Ok(Some((termination, cpu)));
        }
    }
}

impl Drop for Reaper {
    fn drop(&mut self) {
        if !self.reaped {
            self.kill();
            let _ = self.wait(true);
        }
    }
}

fn timeval(t: libc::timeval) -> Duration {
    Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
        + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
}

fn set_nonblocking(fd: RawFd) -> std::io::Result<()> {
    // SAFETY: fcntl on a descriptor we own, with integer arguments.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The most answer bytes accepted from a child before it is stopped with `OutputLimit`.
fn answer_cap(limits: &Limits) -> usize {
    let cap = limits
        .output_bytes
        .saturating_mul(8)
        .saturating_add(16 * 1024 * 1024);
    usize::try_from(cap).unwrap_or(usize::MAX)
}

/// Reads what is available from a non-blocking pipe into `sink` (keeping at most `keep`
/// bytes in total). Returns whether the pipe is still open.
fn drain(pipe: &mut impl Read, sink: &mut Vec<u8>, keep: usize) -> std::io::Result<bool> {
    let mut buf = [0u8; 64 * 1024];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return Ok(false),
            Ok(n) => {
                let room = keep.saturating_sub(sink.len());
                sink.extend_from_slice(&buf[..n.min(room)]);
                if n > room && sink.len() <= keep {
                    // One byte past the cap marks it; the caller decides whether that is an
                    // overflow (the answer) or just the end of what is kept (stderr).
                    sink.push(0);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn supervise(
    child: Started,
    payload: &[u8],
    limits: &Limits,
    started: Instant,
) -> Result<ChildEnd, SandboxError> {
    let Started {
        mut reaper,
        stdin,
        mut stdout,
        mut stderr,
        mut awaiting_ready,
    } = child;
    let budget = Duration::from_millis(limits.wall_time_ms) + WALL_CLOCK_GRACE;
    // A warm child still building its interpreter starts the clock once it is ready.
    let mut deadline = if awaiting_ready {
        started + READY_WAIT
    } else {
        started + budget
    };
    let cap = answer_cap(limits);
    let mut stdin = Some(stdin);
    let mut written = 0usize;
    let (mut answer, mut err_bytes) = (Vec::new(), Vec::new());
    let (mut out_open, mut err_open) = (true, true);
    let (mut killed_at_deadline, mut answer_overflow) = (false, false);

    while out_open || err_open {
        let now = Instant::now();
        if now >= deadline {
            killed_at_deadline = true;
            break;
        }
        let mut fds = Vec::with_capacity(3);
        if let Some(pipe) = &stdin {
            fds.push(libc::pollfd {
                fd: pipe.as_raw_fd(),
                events: libc::POLLOUT,
                revents: 0,
            });
        }
        if out_open {
            fds.push(libc::pollfd {
                fd: stdout.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        if err_open {
            fds.push(libc::pollfd {
                fd: stderr.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        let wait_ms = (deadline - now)
            .as_millis()
            .saturating_add(1)
            .min(i32::MAX as u128) as i32;
        // SAFETY: `fds` is a live, correctly sized array of pollfd.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, wait_ms) };
        if rc < 0 {
            let error = std::io::Error::last_os_error();
            if error.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(SandboxError::Pipe(error));
        }
        let ready = |fd: RawFd| fds.iter().any(|p| p.fd == fd && p.revents != 0);
        if let Some(pipe) = stdin.as_mut().filter(|p| ready(p.as_raw_fd())) {
            match pipe.write(&payload[written..]) {
                Ok(n) => written += n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::Interrupted) => {}
                // The child went away before reading everything; its exit tells why.
                Err(_) => written = payload.len(),
            }
            if written >= payload.len() {
                stdin = None;
            }
        }
        if out_open && ready(stdout.as_raw_fd()) {
            out_open = drain(&mut stdout, &mut answer, cap).map_err(SandboxError::Pipe)?;
            if awaiting_ready && !answer.is_empty() {
                awaiting_ready = false;
                if answer[0] == READY {
                    answer.remove(0);
                    deadline = Instant::now() + budget;
                } else {
                    answer.clear();
                    return Err(SandboxError::Pipe(std::io::Error::other(
                        "the warm sandbox child did not start its answer with its ready mark",
                    )));
                }
            }
            if answer.len() > cap {
                answer_overflow = true;
                break;
            }
        }
        if err_open && ready(stderr.as_raw_fd()) {
            err_open =
                drain(&mut stderr, &mut err_bytes, STDERR_KEEP).map_err(SandboxError::Pipe)?;
        }
    }
    drop(stdin);
    if killed_at_deadline || answer_overflow {
        reaper.kill();
    }
    // Both pipes are closed, so the child is exiting; still, never wait past the deadline.
    let (termination, cpu) = loop {
        if let Some(end) = reaper.wait(false).map_err(SandboxError::Pipe)? {
            break end;
        }
        if !killed_at_deadline && Instant::now() >= deadline {
            killed_at_deadline = true;
            reaper.kill();
        }
        if killed_at_deadline || answer_overflow {
            if let Some(end) = reaper.wait(true).map_err(SandboxError::Pipe)? {
                break end;
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    };
    err_bytes.truncate(STDERR_KEEP);
    Ok(ChildEnd {
        termination,
        cpu,
        killed_at_deadline,
        answer_overflow,
        answer,
        stderr: err_bytes,
    })
}

/// Splits `bytes` into its leading length-prefixed frame and the rest.
fn split_frame(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let body = bytes.get(4..4usize.checked_add(len)?)?;
    Some((body, &bytes[4 + len..]))
}

/// Decodes the child's answer: its isolation report, then its response (either may be
/// missing when the child died early).
fn parse_answer(bytes: &[u8]) -> (Option<IsolationReport>, Option<ExecResponse>) {
    let Some((report, rest)) = split_frame(bytes) else {
        return (None, None);
    };
    let report = edgecoder_protocol::decode::<IsolationReport>(report).ok();
    let response = split_frame(rest)
        .filter(|(_, tail)| tail.is_empty())
        .and_then(|(body, _)| edgecoder_protocol::decode::<ExecResponse>(body).ok());
    (report, response)
}

fn conclude(
    request: &ExecRequest,
    limits: &Limits,
    executable: &Path,
    end: ChildEnd,
    wall: Duration,
) -> ExecResponse {
    let wall_us = u64::try_from(wall.as_micros()).unwrap_or(u64::MAX);
    let (report, response) = parse_answer(&end.answer);
    let clean = end.termination == Termination::Exited(0)
        && !end.killed_at_deadline
        && !end.answer_overflow;
    if let (true, Some(mut response)) = (clean, response) {
        match &mut response {
            ExecResponse::Run(run) => run.wall_time_us = wall_us,
            ExecResponse::Tests(tests) => tests.run.wall_time_us = wall_us,
        }
        return response;
    }
    let verdict = classify(&end, limits, executable);
    tracing::info!(
        outcome = verdict.outcome.label(),
        termination = ?end.termination,
        "sandbox child ended without a valid answer"
    );
    let stderr = String::from_utf8_lossy(&end.stderr);
    let explanation = if stderr.trim().is_empty() {
        verdict.explanation
    } else {
        format!(
            "{}\nsandbox child stderr:\n{}",
            verdict.explanation,
            stderr.trim_end()
        )
    };
    respond(
        request,
        failed_run(
            verdict.outcome,
            explanation,
            verdict.exit_code,
            wall,
            report,
        ),
    )
}

/// What a child that gave no valid answer amounts to.
#[derive(Debug)]
struct Verdict {
    outcome: Outcome,
    explanation: String,
    exit_code: i32,
}

fn error(kind: &str, message: String) -> Outcome {
    Outcome::Error {
        kind: kind.into(),
        message,
        line: None,
    }
}

fn signal_name(signal: i32) -> &'static str {
    match signal {
        libc::SIGKILL => "SIGKILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGBUS => "SIGBUS",
        libc::SIGSYS => "SIGSYS",
        libc::SIGXCPU => "SIGXCPU",
        libc::SIGXFSZ => "SIGXFSZ",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGTERM => "SIGTERM",
        libc::SIGPIPE => "SIGPIPE",
        _ => "a signal",
    }
}

/// Maps how a child ended, when it gave no valid answer, to an outcome and an explanation.
fn classify(end: &ChildEnd, limits: &Limits, executable: &Path) -> Verdict {
    let stderr = String::from_utf8_lossy(&end.stderr);
    let out_of_memory =
        stderr.contains("memory allocation of") || stderr.contains("Cannot allocate memory");
    let cpu_limit = Duration::from_secs(cpu_seconds_limit(limits));
    let verdict = |outcome, explanation: String, exit_code| Verdict {
        outcome,
        explanation,
        exit_code,
    };
    if end.answer_overflow {
        return verdict(
            Outcome::OutputLimit,
            format!(
                "the sandbox child's answer passed {} bytes, so it was stopped",
                answer_cap(limits)
            ),
            1,
        );
    }
    if end.killed_at_deadline {
        return verdict(
            Outcome::Timeout,
            format!(
                "the run passed its wall-clock budget of {} ms (+{} ms grace) and was killed",
                limits.wall_time_ms,
                WALL_CLOCK_GRACE.as_millis()
            ),
            124,
        );
    }
    match end.termination {
        Termination::Signaled(signal) => {
            let code = 128 + signal;
            match signal {
                libc::SIGXCPU => verdict(
                    Outcome::Timeout,
                    format!(
                        "the run used its CPU-time limit of {} s",
                        cpu_limit.as_secs()
                    ),
                    code,
                ),
                libc::SIGKILL if end.cpu >= cpu_limit => verdict(
                    Outcome::Timeout,
                    format!(
                        "the run passed its CPU-time limit of {} s and was killed",
                        cpu_limit.as_secs()
                    ),
                    code,
                ),
                libc::SIGKILL => verdict(
                    Outcome::MemoryLimit,
                    "the sandbox child was killed by SIGKILL, most likely by the kernel's \
                     out-of-memory killer"
                        .into(),
                    code,
                ),
                libc::SIGSYS => verdict(
                    error(
                        "SandboxViolation",
                        "the program made a system call that the sandbox forbids (seccomp)".into(),
                    ),
                    "the sandbox child was killed by SIGSYS from its seccomp filter".into(),
                    code,
                ),
                libc::SIGXFSZ => verdict(
                    error(
                        "SandboxViolation",
                        "the program tried to write a file, which the sandbox forbids".into(),
                    ),
                    "the sandbox child was killed by SIGXFSZ (file size limit 0)".into(),
                    code,
                ),
                _ if out_of_memory => verdict(
                    Outcome::MemoryLimit,
                    format!(
                        "the sandbox child ran out of its address space ({})",
                        signal_name(signal)
                    ),
                    code,
                ),
                _ if stderr.contains("overflowed its stack") => verdict(
                    error(
                        "StackOverflow",
                        "the program overflowed the interpreter's stack (recursion too deep)"
                            .into(),
                    ),
                    "the sandbox child overflowed its stack".into(),
                    code,
                ),
                _ => verdict(
                    error(
                        "SandboxCrash",
                        format!(
                            "the sandbox child died from signal {signal} ({})",
                            signal_name(signal)
                        ),
                    ),
                    format!(
                        "the sandbox child died from signal {signal} ({})",
                        signal_name(signal)
                    ),
                    code,
                ),
            }
        }
        Termination::Exited(_) if out_of_memory => verdict(
            Outcome::MemoryLimit,
            "the sandbox child ran out of its address space".into(),
            1,
        ),
        Termination::Exited(EXIT_BAD_REQUEST) => verdict(
            error(
                "SandboxError",
                format!(
                    "the sandbox child `{}` could not read the request; is it the same build \
                     as this program?",
                    executable.display()
                ),
            ),
            "the sandbox child rejected the request".into(),
            1,
        ),
        Termination::Exited(EXIT_IO) => verdict(
            error(
                "SandboxError",
                "the sandbox child could not answer over its pipe".into(),
            ),
            "the sandbox child had a pipe error".into(),
            1,
        ),
        Termination::Exited(101) => {
            let panic = stderr
                .lines()
                .find(|l| l.contains("panicked"))
                .map(str::to_owned)
                .unwrap_or_else(|| "the sandbox child panicked".into());
            verdict(
                error("SandboxPanic", panic),
                "the sandbox child panicked".into(),
                1,
            )
        }
        Termination::Exited(code) => {
            let message = format!(
                "the sandbox child `{}` exited with code {code} without a valid answer; the \
                 binary must call edgecoder_executor::sandbox::child_main_if_requested() first \
                 in main",
                executable.display()
            );
            verdict(error("SandboxError", message.clone()), message, 1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(termination: Termination) -> ChildEnd {
        ChildEnd {
            termination,
            cpu: Duration::ZERO,
            killed_at_deadline: false,
            answer_overflow: false,
            answer: Vec::new(),
            stderr: Vec::new(),
        }
    }

    fn outcome(e: &ChildEnd) -> Outcome {
        classify(e, &Limits::default(), Path::new("/x")).outcome
    }

    fn kind(o: &Outcome) -> &str {
        match o {
            Outcome::Error { kind, .. } => kind,
            other => other.label(),
        }
    }

    #[test]
    fn signals_map_to_outcomes() {
        assert_eq!(
            outcome(&end(Termination::Signaled(libc::SIGXCPU))),
            Outcome::Timeout
        );
        assert_eq!(
            outcome(&end(Termination::Signaled(libc::SIGKILL))),
            Outcome::MemoryLimit
        );
        let mut burned = end(Termination::Signaled(libc::SIGKILL));
        burned.cpu = Duration::from_secs(60);
        assert_eq!(outcome(&burned), Outcome::Timeout);
        assert_eq!(
            kind(&outcome(&end(Termination::Signaled(libc::SIGSYS)))),
            "SandboxViolation"
        );
        assert_eq!(
            kind(&outcome(&end(Termination::Signaled(libc::SIGXFSZ)))),
            "SandboxViolation"
        );
        assert_eq!(
            kind(&outcome(&end(Termination::Signaled(libc::SIGSEGV)))),
            "SandboxCrash"
        );
        let mut oom = end(Termination::Signaled(libc::SIGABRT));
        oom.stderr = b"memory allocation of 1073741824 bytes failed\n".to_vec();
        assert_eq!(outcome(&oom), Outcome::MemoryLimit);
        let mut deep = end(Termination::Signaled(libc::SIGABRT));
        deep.stderr = b"thread 'main' has overflowed its stack\n".to_vec();
        assert_eq!(kind(&outcome(&deep)), "StackOverflow");
    }

    #[test]
    fn the_parent_kill_and_overflow_win_over_the_signal() {
        let mut late = end(Termination::Signaled(libc::SIGKILL));
        late.killed_at_deadline = true;
        assert_eq!(outcome(&late), Outcome::Timeout);
        let mut flood = end(Termination::Signaled(libc::SIGKILL));
        flood.answer_overflow = true;
        assert_eq!(outcome(&flood), Outcome::OutputLimit);
    }

    #[test]
    fn exits_without_an_answer_are_explained() {
        let silent = classify(
            &end(Termination::Exited(0)),
            &Limits::default(),
            Path::new("/bin/true"),
        );
        match silent.outcome {
            Outcome::Error { kind, message, .. } => {
                assert_eq!(kind, "SandboxError");
                assert!(message.contains("child_main_if_requested"), "{message}");
                assert!(message.contains("/bin/true"), "{message}");
            }
            other => panic!("unexpected {other:?}"),
        }
        let mut panicked = end(Termination::Exited(101));
        panicked.stderr = b"thread 'main' panicked at src/x.rs:1:1:\nboom\n".to_vec();
        assert_eq!(kind(&outcome(&panicked)), "SandboxPanic");
        assert_eq!(
            kind(&outcome(&end(Termination::Exited(EXIT_BAD_REQUEST)))),
            "SandboxError"
        );
    }

    #[test]
    fn answers_are_framed_and_strict() {
        let report = IsolationReport {
            seccomp: true,
            ..IsolationReport::default()
        };
        let frame = |bytes: Vec<u8>| {
            let mut out = (bytes.len() as u32).to_le_bytes().to_vec();
            out.extend(bytes);
            out
        };
        let only_report = frame(edgecoder_protocol::encode(&report).unwrap());
        assert_eq!(parse_answer(&only_report), (Some(report.clone()), None));
        assert_eq!(parse_answer(&only_report[..3]), (None, None));
        assert_eq!(parse_answer(b""), (None, None));
        let mut huge_len = u32::MAX.to_le_bytes().to_vec();
        huge_len.extend_from_slice(b"abc");
        assert_eq!(parse_answer(&huge_len), (None, None));
        let mut with_junk = only_report.clone();
        with_junk.extend(frame(vec![0xff, 0xff, 0xff]));
        assert_eq!(parse_answer(&with_junk), (Some(report), None));
    }
}
