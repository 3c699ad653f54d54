//! The child side of a sandboxed run: read the request, confine, run, answer, exit.

use super::confine::{confine_early, confine_job};
use super::{CHILD_ARG, ChildRunner, READY, WARM_ARG};
use crate::{ExecRequest, ExecResponse, IsolationReport, Limits};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Exit code of a child that could not read or decode its request.
pub(super) const EXIT_BAD_REQUEST: i32 = 65;
/// Exit code of a child that could not set up its pipes or write its answer.
pub(super) const EXIT_IO: i32 = 74;
/// How long a warm child waits for its interpreter to be built before it says it is ready
/// anyway (the run then builds one, or reports why it cannot).
const WARM_BUILD_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Call this first in every binary's `main`. When the process was started as a sandbox child
/// (its first argument is [`CHILD_ARG`]) it serves the request with
/// [`crate::execute_in_process`] and exits; otherwise it returns at once.
pub fn child_main_if_requested() {
    serve_child_if_requested(crate::execute_in_process);
}

/// Like [`child_main_if_requested`] with a chosen runner; for test binaries that need to
/// observe the confinement from inside (production binaries use [`child_main_if_requested`]).
pub fn serve_child_if_requested(runner: ChildRunner) {
    let mut args = std::env::args_os();
    if !args.nth(1).is_some_and(|a| a == CHILD_ARG) {
        return;
    }
    match (args.next(), args.next()) {
        (None, _) => std::process::exit(serve(runner, false)),
        (Some(mode), None) if mode == WARM_ARG => std::process::exit(serve(runner, true)),
        _ => {}
    }
}

/// Writes one length-prefixed frame.
fn write_frame(out: &mut File, payload: &[u8]) -> std::io::Result<()> {
    let len = u32::try_from(payload.len())
        .map_err(|_| std::io::Error::other("answer larger than 4 GiB"))?;
    out.write_all(&len.to_le_bytes())?;
    out.write_all(payload)
}

/// Moves the answer pipe off fd 1 and puts `null` (`/dev/null`) on fds 0 and 1, so that
/// nothing the runner prints can corrupt the answer and the untrusted code has no stdin.
fn take_answer_pipe(null: &File) -> std::io::Result<File> {
    // SAFETY: F_DUPFD_CLOEXEC duplicates fd 1, which the parent opened for us; the new fd is
    // owned by the returned File and by nothing else.
    let answer = unsafe { libc::fcntl(1, libc::F_DUPFD_CLOEXEC, 3) };
    if answer < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `answer` is a fresh descriptor that nothing else owns.
    let answer = File::from(unsafe { OwnedFd::from_raw_fd(answer) });
    for target in [0, 1] {
        // SAFETY: dup2 onto the standard descriptors, which this process owns.
        if unsafe { libc::dup2(null.as_raw_fd(), target) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(answer)
}

/// Closes every descriptor above stderr that the child may have inherited by mistake.
#[cfg(target_os = "linux")]
fn close_inherited_fds() {
    // SAFETY: close_range takes integers; no descriptor above 2 is in use yet in the child.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
    }
}

/// Elsewhere every descriptor we open is close-on-exec already.
#[cfg(not(target_os = "linux"))]
fn close_inherited_fds() {}

/// Serves one request. A warm child (`warm`) confines itself and builds its Python interpreter
/// before it reads the request, then writes [`READY`] on its answer pipe: the parent may hand
/// it a request long after it started. A cold child reads the request first and builds what
/// the request needs.
fn serve(runner: ChildRunner, warm: bool) -> i32 {
    close_inherited_fds();
    // Opened before Landlock closes the filesystem.
    let null = match File::options().read(true).write(true).open("/dev/null") {
        Ok(null) => null,
        Err(error) => {
            eprintln!("sandbox child: cannot open /dev/null: {error}");
            return EXIT_IO;
        }
    };
    let clean_env = std::env::vars_os().next().is_none();
    let early = confine_early();
    if warm {
        crate::python::one_warm_run_per_process();
        if !crate::python::wait_until_ready(WARM_BUILD_WAIT) {
            eprintln!("sandbox child: no Python interpreter was built within {WARM_BUILD_WAIT:?}");
        }
        // fd 1 is still the answer pipe.
        // SAFETY: write(2) of one byte from a local to fd 1, which the parent opened for us.
        if unsafe { libc::write(1, [READY].as_ptr().cast(), 1) } != 1 {
            return EXIT_IO;
        }
    } else {
        crate::python::one_run_per_process();
    }
    let mut input = Vec::new();
    if let Err(error) = std::io::stdin().lock().read_to_end(&mut input) {
        eprintln!("sandbox child: cannot read the request: {error}");
        return EXIT_BAD_REQUEST;
    }
    let (request, limits): (ExecRequest, Limits) = match edgecoder_protocol::decode(&input) {
        Ok(decoded) => decoded,
        Err(error) => {
            eprintln!("sandbox child: cannot decode the request: {error}");
            return EXIT_BAD_REQUEST;
        }
    };
    drop(input);
    let mut answer = match take_answer_pipe(&null) {
        Ok(answer) => answer,
        Err(error) => {
            eprintln!("sandbox child: cannot set up its pipes: {error}");
            return EXIT_IO;
        }
    };
    let report = confine_job(&early, &limits, clean_env);
    let sent = encode_frame(&report).and_then(|frame| write_frame(&mut answer, &frame));
    if let Err(error) = sent {
        eprintln!("sandbox child: cannot send its isolation report: {error}");
        return EXIT_IO;
    }
    let response = with_report(runner(&request, &limits), report);
    match encode_frame(&response).and_then(|frame| write_frame(&mut answer, &frame)) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("sandbox child: cannot send its answer: {error}");
            EXIT_IO
        }
    }
}

fn encode_frame<T: serde::Serialize>(value: &T) -> std::io::Result<Vec<u8>> {
    edgecoder_protocol::encode(value).map_err(std::io::Error::other)
}

fn with_report(response: ExecResponse, report: IsolationReport) -> ExecResponse {
    match response {
        ExecResponse::Run(mut run) => {
            run.isolation = Some(report);
            ExecResponse::Run(run)
        }
        ExecResponse::Tests(mut tests) => {
            tests.run.isolation = Some(report);
            ExecResponse::Tests(tests)
        }
    }
}
