//! The pool of warm interpreters.
//!
//! Building an interpreter costs ≈ 10 ms (release), far more than a small run, so worker
//! threads build the next interpreter *before* a job arrives. Each interpreter serves exactly one
//! job and is then dropped: no state can leak from one run into the next, by construction.
//! Workers are long-lived threads with a 256 MiB stack (RustPython recurses on the native stack;
//! a debug build overflows 8 MiB), because the interpreter's base context is per thread.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::runtime::{Control, Execution, Stop, Warm, Work, exit, relabel_stopped_tests};
use crate::{Limits, Outcome, RunResult, TestReport};

/// Stack size of a worker thread (virtual; only touched pages cost memory). The parser and the
/// compiler recurse per nesting level, RustPython per Python call.
const STACK_BYTES: usize = 256 * 1024 * 1024;
/// How long a caller waits for a worker to pick its job up (interpreter start-up included).
const START_WAIT: Duration = Duration::from_secs(120);
/// After the wall clock ran out, how long the interpreter gets to unwind before the run is
/// abandoned (a native call, e.g. `sum(range(10**12))`, does not see the interrupt).
const GRACE: Duration = Duration::from_millis(500);
/// How often the interrupt is re-armed during the grace period.
const REARM: Duration = Duration::from_millis(5);

struct Job {
    work: Work,
    limits: Limits,
    ctl: Arc<Control>,
    reply: Sender<Msg>,
    abandoned: Arc<AtomicBool>,
}

enum Msg {
    Started,
    Done(Execution),
}

struct Pool {
    submit: Mutex<Sender<Job>>,
    queue: Arc<Mutex<Receiver<Job>>>,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let (submit, queue) = mpsc::channel();
        let pool = Pool { submit: Mutex::new(submit), queue: Arc::new(Mutex::new(queue)) };
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 4);
        for _ in 0..workers {
            spawn_worker(pool.queue.clone());
        }
        pool
    })
}

/// Starts the pool's workers (each builds its first interpreter in the background). Calling it
/// early, e.g. at daemon start, keeps the first run from paying for interpreter start-up.
pub(crate) fn warm_up() {
    pool();
}

fn spawn_worker(queue: Arc<Mutex<Receiver<Job>>>) {
    let spawned = std::thread::Builder::new()
        .name("edgecoder-python".into())
        .stack_size(STACK_BYTES)
        .spawn(move || worker(queue));
    if let Err(err) = spawned {
        tracing::error!(%err, "could not start a Python worker thread");
    }
}

fn worker(queue: Arc<Mutex<Receiver<Job>>>) {
    loop {
        let warm = catch_unwind(Warm::build);
        if warm.is_err() {
            tracing::error!("building a Python interpreter panicked");
        }
        let job = {
            let queue = queue.lock().unwrap_or_else(|e| e.into_inner());
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let _ = job.reply.send(Msg::Started);
        let internal = |message: &str| Execution {
            exit_code: exit::ERROR,
            outcome: Some(Outcome::Error { kind: "InternalError".into(), message: message.into(), line: None }),
            ..Execution::default()
        };
        let reply = job.reply.clone();
        let replied = std::cell::Cell::new(false);
        let ran = match warm {
            Ok(warm) => catch_unwind(AssertUnwindSafe(|| {
                warm.execute(&job.work, &job.limits, &job.ctl, |execution| {
                    replied.set(true);
                    let _ = reply.send(Msg::Done(execution));
                })
            })),
            Err(_) => Ok(()),
        };
        if !replied.get() {
            let message = if ran.is_err() { "the Python interpreter panicked" } else { "no Python interpreter could be built" };
            let _ = job.reply.send(Msg::Done(internal(message)));
        }
        if job.abandoned.load(Ordering::Acquire) {
            // A replacement worker was started when this job was abandoned.
            return;
        }
    }
}

fn finish(execution: Execution, ctl: &Control) -> TestReport {
    let output = ctl.output.lock().unwrap_or_else(|e| e.into_inner());
    let mut report = execution.into_report(&output);
    if let Some(why) = ctl.stopped() {
        relabel_stopped_tests(&mut report, why);
    }
    report
}

fn failed(ctl: &Control, outcome: Outcome, exit_code: i32, wall: Duration) -> TestReport {
    let output = ctl.output.lock().unwrap_or_else(|e| e.into_inner());
    TestReport {
        tests: Vec::new(),
        run: RunResult {
            stdout: output.stdout.clone(),
            stderr: output.stderr.clone(),
            value: None,
            exit_code,
            wall_time_us: wall.as_micros() as u64,
            steps: 0,
            outcome,
            isolation: None,
        },
    }
}

/// Runs `work` on a warm interpreter under `limits` and waits for it, enforcing the wall clock.
pub(crate) fn execute(work: Work, limits: &Limits) -> TestReport {
    let ctl = Arc::new(Control::new(limits));
    let abandoned = Arc::new(AtomicBool::new(false));
    let (reply, replies) = mpsc::channel();
    let job = Job { work, limits: limits.clone(), ctl: ctl.clone(), reply, abandoned: abandoned.clone() };
    let pool = pool();
    let submitted = pool.submit.lock().unwrap_or_else(|e| e.into_inner()).send(job);
    let internal = |message: &str| Outcome::Error {
        kind: "InternalError".into(),
        message: message.into(),
        line: None,
    };
    if submitted.is_err() {
        return failed(&ctl, internal("the Python worker pool is gone"), exit::ERROR, Duration::ZERO);
    }
    match replies.recv_timeout(START_WAIT) {
        Ok(Msg::Started) => {}
        Ok(Msg::Done(execution)) => return finish(execution, &ctl),
        Err(_) => {
            return failed(&ctl, internal("no Python worker became available"), exit::ERROR, Duration::ZERO);
        }
    }
    let started = Instant::now();
    let wall = Duration::from_millis(limits.wall_time_ms);
    match replies.recv_timeout(wall) {
        Ok(Msg::Done(execution)) => return finish(execution, &ctl),
        Ok(Msg::Started) | Err(RecvTimeoutError::Disconnected) => {
            return failed(&ctl, internal("the Python worker stopped"), exit::ERROR, started.elapsed());
        }
        Err(RecvTimeoutError::Timeout) => ctl.stop(Stop::Timeout),
    }
    let give_up = Instant::now() + GRACE;
    while Instant::now() < give_up {
        match replies.recv_timeout(REARM) {
            Ok(Msg::Done(execution)) => return finish(execution, &ctl),
            Ok(Msg::Started) | Err(RecvTimeoutError::Disconnected) => break,
            // Other interpreters may consume the process-wide "signal pending" flag: re-arm.
            Err(RecvTimeoutError::Timeout) => ctl.stop(Stop::Timeout),
        }
    }
    abandoned.store(true, Ordering::Release);
    tracing::warn!(
        wall_ms = limits.wall_time_ms,
        "a Python run did not stop within its grace period (native call); its thread is abandoned"
    );
    spawn_worker(pool.queue.clone());
    failed(&ctl, Outcome::Timeout, exit::TIMEOUT, started.elapsed())
}
