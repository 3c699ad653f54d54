//! The pool of warm interpreters.
//!
//! Building an interpreter costs ≈ 10 ms (release), far more than a small run, so worker
//! threads build the next interpreter *before* a job arrives. Each interpreter serves exactly one
//! job and is then dropped: no state can leak from one run into the next, by construction.
//! Workers are long-lived threads with a 256 MiB stack (RustPython recurses on the native stack;
//! a debug build overflows 8 MiB), because the interpreter's base context is per thread.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::runtime::{Control, Execution, Preload, Stop, Warm, Work, exit, relabel_stopped_tests};
use crate::{Limits, Outcome, RunResult, TestReport};

/// Stack size of a worker thread (virtual; only touched pages cost memory). The parser and the
/// compiler recurse per nesting level, RustPython per Python call.
const STACK_BYTES: usize = 256 * 1024 * 1024;
/// How long a caller waits for a worker to pick its job up (interpreter start-up included).
const START_WAIT: Duration = Duration::from_secs(120);
/// After the wall clock ran out, how long the interpreter gets to unwind before the run is
/// abandoned (a native call, e.g. `sum(range(10**12))`, does not see the interrupt).
const GRACE: Duration = Duration::from_millis(500);
/// How often a caller looks at the worker's allocation fence (and re-arms the interrupt during
/// the grace period) while it waits.
const POLL: Duration = Duration::from_millis(5);

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
        let workers = if ONE_JOB.load(Ordering::Acquire) {
            1
        } else {
            std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(2, 4)
        };
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

/// Workers holding a built interpreter and waiting for a job.
static READY: AtomicUsize = AtomicUsize::new(0);

/// Starts the pool if needed and waits until a worker holds a built interpreter, or `timeout`
/// passed; returns whether one does.
pub(crate) fn wait_until_ready(timeout: Duration) -> bool {
    pool();
    let give_up = Instant::now() + timeout;
    while READY.load(Ordering::Acquire) == 0 {
        if Instant::now() >= give_up {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    true
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
        let building = Instant::now();
        let warm = catch_unwind(|| Warm::build(Preload::Yes));
        tracing::debug!(us = building.elapsed().as_micros() as u64, "python interpreter built");
        READY.fetch_add(1, Ordering::AcqRel);
        let job = {
            let queue = queue.lock().unwrap_or_else(|e| e.into_inner());
            let job = queue.recv();
            READY.fetch_sub(1, Ordering::AcqRel);
            match job {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let abandoned = job.abandoned.clone();
        serve(warm, job);
        if abandoned.load(Ordering::Acquire) || ONE_JOB.load(Ordering::Acquire) {
            // A replacement worker was started when this job was abandoned.
            return;
        }
    }
}

/// Runs one job on its interpreter (or reports why there is none) and always replies.
fn serve(warm: std::thread::Result<Warm>, job: Job) {
    if warm.is_err() {
        tracing::error!("building a Python interpreter panicked");
    }
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
}

/// Serves `job` on a thread of its own with an interpreter built for it alone (no pool, no
/// preloaded modules): for a process that runs one program and exits, e.g. a sandbox child.
fn serve_alone(job: Job) {
    let reply = job.reply.clone();
    let spawned = std::thread::Builder::new()
        .name("edgecoder-python".into())
        .stack_size(STACK_BYTES)
        .spawn(move || serve(catch_unwind(|| Warm::build(Preload::No)), job));
    if let Err(err) = spawned {
        tracing::error!(%err, "could not start a Python thread");
        drop(reply);
    }
}

/// Whether this process serves one run only (see [`one_run_per_process`]).
static ALONE: AtomicBool = AtomicBool::new(false);

/// Whether this process serves one run on an interpreter built ahead of it (see
/// [`one_warm_run_per_process`]): the pool has one worker, which serves one job.
static ONE_JOB: AtomicBool = AtomicBool::new(false);

/// Declares that this process runs a single program and exits, and builds that program's
/// interpreter now, before the program is known (a warm sandbox child): one worker thread
/// starts building it at once; [`wait_until_ready`] tells when it is built.
#[cfg(all(unix, not(edgecoder_portable)))] // only sandbox children call it
pub(crate) fn one_warm_run_per_process() {
    ONE_JOB.store(true, Ordering::Release);
    warm_up();
}

/// Declares that this process runs a single program and exits (a sandbox child): the run gets an
/// interpreter built for it on the spot instead of a pool of warm ones that would compete with
/// it for the CPU.
#[cfg(all(unix, not(edgecoder_portable)))] // only sandbox children call it
pub(crate) fn one_run_per_process() {
    ALONE.store(true, Ordering::Release);
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
    // A thread parked by its allocation fence may hold the output lock: never wait for it.
    let (stdout, stderr) = match ctl.output.try_lock() {
        Ok(output) => (output.stdout.clone(), output.stderr.clone()),
        Err(std::sync::TryLockError::Poisoned(output)) => {
            let output = output.into_inner();
            (output.stdout.clone(), output.stderr.clone())
        }
        Err(std::sync::TryLockError::WouldBlock) => (String::new(), String::new()),
    };
    TestReport {
        tests: Vec::new(),
        run: RunResult {
            stdout,
            stderr,
            value: None,
            exit_code,
            wall_time_us: wall.as_micros() as u64,
            steps: 0,
            outcome,
            isolation: None,
        },
    }
}

/// Runs stuck in native code whose threads were given up (asleep in the allocator or still
/// finishing a native call): each holds memory and maybe a CPU, so in-process Python refuses to
/// run once there are [`MAX_STUCK`] of them.
static STUCK: AtomicUsize = AtomicUsize::new(0);
/// See [`STUCK`].
const MAX_STUCK: usize = 16;

/// How the wait for a running job ended.
enum Waited {
    Done(Execution),
    /// The worker went away without an answer.
    Lost,
    /// The worker's allocation fence put it to sleep: the run went over its memory budget inside
    /// a native call.
    Parked,
    /// The deadline passed.
    Late,
}

/// Waits for the job's answer until `deadline`, watching the worker's allocation fence.
fn wait(replies: &Receiver<Msg>, ctl: &Control, deadline: Instant, rearm: Option<Stop>) -> Waited {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return Waited::Late;
        }
        match replies.recv_timeout((deadline - now).min(POLL)) {
            Ok(Msg::Done(execution)) => return Waited::Done(execution),
            Ok(Msg::Started) | Err(RecvTimeoutError::Disconnected) => return Waited::Lost,
            Err(RecvTimeoutError::Timeout) => {
                if ctl.fence.parked() {
                    return Waited::Parked;
                }
                if ctl.fence.over() {
                    ctl.stop(Stop::Memory);
                }
                // Other interpreters may consume the process-wide "signal pending" flag: re-arm.
                if let Some(why) = rearm {
                    ctl.stop(why);
                }
            }
        }
    }
}

/// Runs `work` on a warm interpreter under `limits` and waits for it, enforcing the wall clock.
pub(crate) fn execute(work: Work, limits: &Limits) -> TestReport {
    let ctl = Arc::new(Control::new(limits));
    let internal = |message: &str| Outcome::Error {
        kind: "InternalError".into(),
        message: message.into(),
        line: None,
    };
    let stuck = STUCK.load(Ordering::Acquire);
    if stuck >= MAX_STUCK {
        let message = format!(
            "{stuck} earlier runs are stuck in native code and hold memory or a CPU; restart the \
             process, or run untrusted code with process isolation (`--isolation process`)"
        );
        return failed(&ctl, Outcome::Error { kind: "SandboxExhausted".into(), message, line: None }, exit::ERROR, Duration::ZERO);
    }
    let abandoned = Arc::new(AtomicBool::new(false));
    let (reply, replies) = mpsc::channel();
    let job = Job { work, limits: limits.clone(), ctl: ctl.clone(), reply, abandoned: abandoned.clone() };
    let alone = ALONE.load(Ordering::Acquire);
    let submitted = if alone {
        serve_alone(job);
        Ok(())
    } else {
        pool().submit.lock().unwrap_or_else(|e| e.into_inner()).send(job).map_err(drop)
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
    let lost = |ctl: &Control| failed(ctl, internal("the Python worker stopped"), exit::ERROR, started.elapsed());
    match wait(&replies, &ctl, started + wall, None) {
        Waited::Done(execution) => return finish(execution, &ctl),
        Waited::Lost => return lost(&ctl),
        Waited::Parked => {}
        Waited::Late => {
            ctl.stop(Stop::Timeout);
            match wait(&replies, &ctl, Instant::now() + GRACE, Some(Stop::Timeout)) {
                Waited::Done(execution) => return finish(execution, &ctl),
                Waited::Lost => return lost(&ctl),
                Waited::Parked | Waited::Late => {}
            }
        }
    }
    // The worker is stuck in native code: give its thread up and replace it.
    abandoned.store(true, Ordering::Release);
    ctl.fence.abandon();
    let stuck = STUCK.fetch_add(1, Ordering::AcqRel) + 1;
    let (outcome, exit_code) = if ctl.fence.over() {
        (Outcome::MemoryLimit, exit::MEMORY_LIMIT)
    } else {
        (Outcome::Timeout, exit::TIMEOUT)
    };
    tracing::warn!(
        wall_ms = limits.wall_time_ms,
        outcome = outcome.label(),
        stuck,
        "a Python run did not stop inside a native call; its thread is given up"
    );
    if !alone {
        spawn_worker(pool().queue.clone());
    }
    failed(&ctl, outcome, exit_code, started.elapsed())
}
