//! JavaScript on QuickJS (`rquickjs`): the subset check, one run, and test runs.
//!
//! Every run gets a fresh QuickJS runtime and context on a dedicated thread, so nothing a program
//! does (globals, prototype pollution, pending jobs) can reach the next run. The runtime has:
//! - a heap budget (`Limits::memory_bytes`) enforced by the run's own allocator, which also
//!   remembers that the budget was hit, so a caught out-of-memory error is still `MemoryLimit`;
//! - a native stack budget ([`JS_STACK_BYTES`]); deep recursion ends in a `RangeError`;
//! - an interrupt handler for the step budget and the wall clock. QuickJS polls it once every
//!   [`POLL_INTERVAL`] internal checkpoints (backward jumps, calls, ...); a *step* is one
//!   checkpoint, so the step count is `handler calls × POLL_INTERVAL` and is the same on every run
//!   of the same code with the same limits. The interrupt cannot be caught by the program;
//! - no `std`/`os` modules, no module loader, no timers: host access does not exist, whatever
//!   gets past the subset check; and no `eval` or working function constructor, so code built at
//!   run time cannot run either.
//!
//! The sandbox's own JavaScript (`prelude.js`) provides `console` and `print` (captured, capped
//! at `Limits::output_bytes` with a truncation marker), a node-compatible `assert`, `test`/`it`,
//! a `require` that only knows `assert`, and CommonJS `module`/`exports` objects. Promise jobs
//! are run to completion after the script, under the same budgets.

mod alloc;
mod discover;
mod subset;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rquickjs::context::EvalOptions;
use rquickjs::module::WriteOptions;
use rquickjs::{Context, Ctx, Function, Module, Runtime, Value};

use crate::{Limits, Outcome, RunResult, SubsetViolation, TestCase, TestReport, TestStatus};
use alloc::{BudgetAllocator, MemoryBudget};
use discover::{Discovered, discover};

/// How many QuickJS checkpoints pass between two calls of the interrupt handler (QuickJS's
/// `JS_INTERRUPT_COUNTER_INIT`): the unit in which steps are counted.
pub const POLL_INTERVAL: u64 = 10_000;

/// The JavaScript stack budget: deep recursion past it throws a `RangeError`.
pub const JS_STACK_BYTES: usize = 8 * 1024 * 1024;

/// The native stack of the threads that parse and run (room for the JS stack, and for the
/// parser and AST walks of sources up to [`subset::MAX_NESTING`] levels deep; measured: 10 000
/// levels of any construct fit in 64 MiB in a debug build). Only the pages used are committed.
const THREAD_STACK_BYTES: usize = 128 * 1024 * 1024;

/// The most bytes of an uncaught error's text added to stderr.
const ERROR_TEXT_BYTES: usize = 4096;

/// The sandbox's own JavaScript, set up in every context before the user's code.
const PRELUDE: &str = include_str!("prelude.js");

/// The prelude's global function the promise rejection tracker reports to.
const TRACK_GLOBAL: &str = "__edgecoder_track__";

/// The global the prelude module leaves its set-up function in (removed at once).
const PRELUDE_GLOBAL: &str = "__edgecoder_prelude__";

/// The prelude compiled once per process to QuickJS bytecode: loading it costs a tenth of
/// parsing it (measured: ≈ 0.17 ms against ≈ 1.3 ms per run, release build).
fn prelude_bytecode() -> Result<&'static [u8], &'static str> {
    static BYTECODE: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    BYTECODE
        .get_or_init(|| {
            let runtime = Runtime::new().map_err(|e| e.to_string())?;
            let context = Context::full(&runtime).map_err(|e| e.to_string())?;
            let source = format!("globalThis.{PRELUDE_GLOBAL} = {PRELUDE};");
            context.with(|ctx| {
                let module = Module::declare(ctx.clone(), "<edgecoder>", source).map_err(|e| {
                    ctx.catch();
                    e.to_string()
                })?;
                module.write(WriteOptions::default()).map_err(|e| e.to_string())
            })
        })
        .as_ref()
        .map(Vec::as_slice)
        .map_err(String::as_str)
}

/// Applies the JavaScript subset check (see `SUBSET.md`). A syntax error is not a violation.
pub fn check(code: &str) -> Result<(), SubsetViolation> {
    // Parsing recurses once per nesting level: never on the caller's (possibly small) stack.
    on_run_thread(|| Ok(subset::check(code))).unwrap_or_else(|message| {
        tracing::error!(%message, "the JavaScript subset check could not run");
        Ok(())
    })
}

/// Runs one script under `limits` in a fresh QuickJS context. `value` is the script's completion
/// value (as node's `util.inspect` would print it) unless it is `undefined`.
pub fn run(code: &str, limits: &Limits) -> RunResult {
    let span = tracing::info_span!("js_run", code_bytes = code.len());
    let started = Instant::now();
    let result =
        on_run_thread(|| span.in_scope(|| Sandbox::start(limits, started).map(|sb| sb.run(code))));
    let result = result.unwrap_or_else(|message| host_failure(message, started));
    tracing::debug!(
        outcome = result.outcome.label(),
        steps = result.steps,
        wall_us = result.wall_time_us,
        "js run done"
    );
    result
}

/// Runs `solution`, then `tests` in the same context, and reports every test found in `tests`
/// (the shapes are listed in `SUBSET.md`).
pub fn run_tests(solution: &str, tests: &str, limits: &Limits) -> TestReport {
    let span = tracing::info_span!(
        "js_run_tests",
        solution_bytes = solution.len(),
        tests_bytes = tests.len()
    );
    let started = Instant::now();
    let mut found = Discovered { tests: Vec::new(), source: tests.to_owned() };
    let report = on_run_thread(|| {
        span.in_scope(|| {
            found = discover(tests);
            Sandbox::start(limits, started).map(|sb| sb.run_tests(solution, tests, &found))
        })
    });
    let report = report.unwrap_or_else(|message| {
        let run = host_failure(message.clone(), started);
        let tests = found
            .tests
            .iter()
            .map(|t| TestCase {
                name: t.name.clone(),
                status: TestStatus::Error {
                    kind: "ExecutorError".into(),
                    message: message.clone(),
                    line: Some(t.line),
                },
            })
            .collect();
        TestReport { tests, run }
    });
    tracing::debug!(
        passed = report.passed(),
        failed = report.failed(),
        outcome = report.run.outcome.label(),
        "js tests done"
    );
    report
}

/// Runs `f` on a fresh thread with a stack large enough for [`JS_STACK_BYTES`].
fn on_run_thread<T: Send>(f: impl FnOnce() -> Result<T, String> + Send) -> Result<T, String> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new()
            .name("edgecoder-js".into())
            .stack_size(THREAD_STACK_BYTES)
            .spawn_scoped(scope, f)
            .map_err(|e| format!("could not start the JavaScript thread: {e}"))?;
        handle.join().map_err(|_| "the JavaScript engine panicked".to_owned())?
    })
}

/// The result of a run the executor itself could not carry out.
fn host_failure(message: String, started: Instant) -> RunResult {
    RunResult {
        stdout: String::new(),
        stderr: format!("{message}\n"),
        value: None,
        exit_code: 1,
        wall_time_us: micros(started.elapsed()),
        steps: 0,
        outcome: Outcome::Error { kind: "ExecutorError".into(), message, line: None },
        isolation: None,
    }
}

/// The exit code of an outcome, the same as the Python executor's (see `SUBSET.md`).
fn exit_code(outcome: &Outcome) -> i32 {
    match outcome {
        Outcome::Ok => 0,
        Outcome::Error { .. } => 1,
        Outcome::OutsideSubset { .. } => 3,
        Outcome::Timeout => 124,
        Outcome::StepLimit => 125,
        Outcome::MemoryLimit => 137,
        Outcome::OutputLimit => 141,
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// The result of a run whose memory budget cannot hold an empty context.
fn too_small(limits: &Limits, started: Instant) -> RunResult {
    let message =
        format!("{}: it cannot hold an empty JavaScript context", Stop::Memory.describe(limits));
    RunResult {
        stdout: String::new(),
        stderr: format!("{message}\n"),
        value: None,
        exit_code: exit_code(&Outcome::MemoryLimit),
        wall_time_us: micros(started.elapsed()),
        steps: 0,
        outcome: Outcome::MemoryLimit,
        isolation: None,
    }
}

/// Why a run was stopped from outside the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Steps,
    Time,
    Output,
    Memory,
}

impl Stop {
    fn outcome(self) -> Outcome {
        match self {
            Stop::Steps => Outcome::StepLimit,
            Stop::Time => Outcome::Timeout,
            Stop::Output => Outcome::OutputLimit,
            Stop::Memory => Outcome::MemoryLimit,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Stop::Steps => "StepLimit",
            Stop::Time => "Timeout",
            Stop::Output => "OutputLimit",
            Stop::Memory => "MemoryLimit",
        }
    }

    fn describe(self, limits: &Limits) -> String {
        match self {
            Stop::Steps => format!("the step budget ({} steps) ran out", limits.steps),
            Stop::Time => format!("the wall-clock budget ({} ms) ran out", limits.wall_time_ms),
            Stop::Output => format!("the output budget ({} bytes) ran out", limits.output_bytes),
            Stop::Memory => format!("the memory budget ({} bytes) ran out", limits.memory_bytes),
        }
    }
}

/// A thrown value, described by the prelude.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Thrown {
    kind: String,
    message: String,
    stack: String,
}

impl Thrown {
    fn line_in(&self, file: &str) -> Option<u32> {
        frame_line(&self.stack, file)
    }
}

/// A test's result as the prelude's hook reported it.
#[derive(Debug, Clone)]
struct Record {
    /// 0 passed, 1 assertion failed, 2 other error.
    status: u32,
    thrown: Thrown,
    generated_message: bool,
}

/// Captured output under a byte budget.
#[derive(Debug, Default)]
struct Output {
    stdout: String,
    stderr: String,
    used: u64,
    truncated: bool,
}

/// The bookkeeping of one run, shared by the host functions and the interrupt handler.
struct Shared {
    limits: Limits,
    deadline: Instant,
    budget: Rc<MemoryBudget>,
    polls: Cell<u64>,
    stop: Cell<Option<Stop>>,
    output: RefCell<Output>,
    current_test: Cell<Option<u32>>,
    records: RefCell<Vec<(u32, Record)>>,
}

impl Shared {
    fn halt(&self, why: Stop) {
        if self.stop.get().is_none() {
            self.stop.set(Some(why));
        }
    }

    /// The stop, if any; an exhausted heap counts even when the program caught the error.
    fn stopped(&self) -> Option<Stop> {
        if self.stop.get().is_none() && self.budget.was_hit() {
            self.halt(Stop::Memory);
        }
        self.stop.get()
    }

    fn interrupt(&self) -> bool {
        let polls = self.polls.get() + 1;
        self.polls.set(polls);
        if self.stopped().is_some() {
            return true;
        }
        if polls.saturating_mul(POLL_INTERVAL) > self.limits.steps {
            self.halt(Stop::Steps);
            return true;
        }
        if Instant::now() >= self.deadline {
            self.halt(Stop::Time);
            return true;
        }
        false
    }

    fn write(&self, stream: i32, text: &str) {
        if self.stopped().is_some() {
            return;
        }
        let mut out = self.output.borrow_mut();
        let room = self.limits.output_bytes.saturating_sub(out.used);
        let (kept, over) = if text.len() as u64 <= room {
            (text, false)
        } else {
            let mut cut = usize::try_from(room).unwrap_or(usize::MAX).min(text.len());
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            (&text[..cut], true)
        };
        out.used += kept.len() as u64;
        let marker =
            format!("\n[output truncated: budget of {} bytes reached]\n", self.limits.output_bytes);
        let target = if stream == 2 { &mut out.stderr } else { &mut out.stdout };
        target.push_str(kept);
        if over {
            target.push_str(&marker);
            out.truncated = true;
            drop(out);
            self.halt(Stop::Output);
        }
    }

    fn begin(&self, id: u32) {
        if self.stopped().is_none() {
            self.current_test.set(Some(id));
        }
    }

    fn record(&self, id: u32, record: Record) {
        if self.stop.get().is_some() {
            return;
        }
        let record = if self.budget.was_hit() {
            self.halt(Stop::Memory);
            let message = Stop::Memory.describe(&self.limits);
            Record {
                status: 2,
                thrown: Thrown { kind: "MemoryLimit".into(), message, stack: String::new() },
                generated_message: false,
            }
        } else {
            record
        };
        self.records.borrow_mut().push((id, record));
        self.current_test.set(None);
    }
}

/// One run's runtime and context.
struct Sandbox {
    shared: Rc<Shared>,
    started: Instant,
    // Field order matters: the context must be dropped before its runtime.
    context: Context,
    _runtime: Runtime,
}

fn eval_options(file: &str) -> EvalOptions {
    let mut options = EvalOptions::default();
    options.strict = false;
    options.filename = Some(file.to_owned());
    options
}

/// The 1-based line of the first stack frame in `file` (`... (file:LINE:COL)` / `at file:LINE`).
fn frame_line(stack: &str, file: &str) -> Option<u32> {
    let needle = format!("{file}:");
    stack.lines().find_map(|line| {
        let rest = &line[line.find(&needle)? + needle.len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    })
}

/// The prelude's helpers inside a context.
struct Helpers<'js> {
    inspect: Function<'js>,
    describe: Function<'js>,
    first_unhandled: Function<'js>,
}

impl<'js> Helpers<'js> {
    fn inspect(&self, value: Value<'js>) -> Option<String> {
        self.inspect.call::<_, String>((value,)).ok()
    }

    fn describe(&self, ctx: &Ctx<'js>, value: Value<'js>) -> Thrown {
        let described = self
            .describe
            .call::<_, rquickjs::Array>((value,))
            .and_then(|a| Ok(Thrown { kind: a.get(0)?, message: a.get(1)?, stack: a.get(2)? }));
        match described {
            Ok(thrown) => thrown,
            Err(_) => {
                ctx.catch();
                Thrown {
                    kind: "Uncaught".into(),
                    message: "an undescribable value was thrown".into(),
                    stack: String::new(),
                }
            }
        }
    }
}

impl Sandbox {
    fn start(limits: &Limits, started: Instant) -> Result<Sandbox, String> {
        let budget = MemoryBudget::unarmed();
        let runtime = Runtime::new_with_alloc(BudgetAllocator::new(budget.clone()))
            .map_err(|e| format!("could not create a JavaScript runtime: {e}"))?;
        runtime.set_max_stack_size(JS_STACK_BYTES);
        let shared = Rc::new(Shared {
            limits: limits.clone(),
            deadline: started + Duration::from_millis(limits.wall_time_ms),
            budget,
            polls: Cell::new(0),
            stop: Cell::new(None),
            output: RefCell::new(Output::default()),
            current_test: Cell::new(None),
            records: RefCell::new(Vec::new()),
        });
        let handler = shared.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || handler.interrupt())));
        runtime.set_host_promise_rejection_tracker(Some(Box::new(
            |ctx, promise, reason, handled| {
                // Before the prelude has run there is nothing to report to.
                if let Ok(track) = ctx.globals().get::<_, Function>(TRACK_GLOBAL)
                    && track.call::<_, ()>((promise, reason, handled)).is_err()
                {
                    ctx.catch();
                }
            },
        )));
        let context = Context::full(&runtime)
            .map_err(|e| format!("could not create a JavaScript context: {e}"))?;
        Ok(Sandbox { shared, started, context, _runtime: runtime })
    }

    /// Evaluates the prelude and hands it the host functions.
    fn install<'js>(&self, ctx: &Ctx<'js>) -> Result<Helpers<'js>, Thrown> {
        let fail = |what: &str| Thrown {
            kind: "ExecutorError".into(),
            message: format!("sandbox set-up failed: {what}"),
            stack: String::new(),
        };
        let bytecode = prelude_bytecode().map_err(fail)?;
        // SAFETY: the bytes were written by `Module::write` of this same QuickJS build, in this
        // process, and live in a static for the rest of it (QuickJS may keep pointing into them).
        let module = unsafe { Module::load(ctx.clone(), bytecode) };
        let prelude: Function = module
            .and_then(|m| m.eval())
            .and_then(|_| ctx.globals().get::<_, Function>(PRELUDE_GLOBAL))
            .and_then(|f| ctx.globals().remove(PRELUDE_GLOBAL).map(|()| f))
            .map_err(|e| {
                ctx.catch();
                fail(&e.to_string())
            })?;
        let s = self.shared.clone();
        let write =
            Function::new(ctx.clone(), move |stream: i32, text: String| s.write(stream, &text));
        let s = self.shared.clone();
        let begin = Function::new(ctx.clone(), move |id: u32| s.begin(id));
        let s = self.shared.clone();
        let record = Function::new(
            ctx.clone(),
            move |id: u32,
                  status: u32,
                  kind: String,
                  message: String,
                  stack: String,
                  generated: bool| {
                s.record(
                    id,
                    Record {
                        status,
                        thrown: Thrown { kind, message, stack },
                        generated_message: generated,
                    },
                );
            },
        );
        let (write, begin, record) = match (write, begin, record) {
            (Ok(w), Ok(b), Ok(r)) => (w, b, r),
            _ => return Err(fail("host functions")),
        };
        let helpers: rquickjs::Object = prelude.call((write, begin, record)).map_err(|e| {
            ctx.catch();
            fail(&e.to_string())
        })?;
        match (helpers.get("inspect"), helpers.get("describe"), helpers.get("firstUnhandled")) {
            (Ok(inspect), Ok(describe), Ok(first_unhandled)) => {
                Ok(Helpers { inspect, describe, first_unhandled })
            }
            _ => Err(fail("prelude helpers")),
        }
    }

    /// Arms the memory budget now that the sandbox is set up; false when the empty sandbox
    /// already uses more than the budget.
    fn arm_memory(&self) -> bool {
        let limit = usize::try_from(self.shared.limits.memory_bytes).unwrap_or(usize::MAX);
        self.shared.budget.arm(limit)
    }

    /// Evaluates `code` as a sloppy-mode global script named `file`, then runs pending jobs.
    fn eval<'js>(
        &self,
        ctx: &Ctx<'js>,
        helpers: &Helpers<'js>,
        code: &str,
        file: &str,
    ) -> Result<Value<'js>, Thrown> {
        if let Some(why) = subset::too_deep(code) {
            return Err(Thrown { kind: "SyntaxError".into(), message: why, stack: String::new() });
        }
        let result = ctx.eval_with_options::<Value, _>(code, eval_options(file));
        let value = match result {
            Ok(value) => value,
            Err(rquickjs::Error::Exception) => {
                let thrown = ctx.catch();
                return Err(if self.shared.stopped().is_some() {
                    self.stop_thrown()
                } else {
                    helpers.describe(ctx, thrown)
                });
            }
            Err(rquickjs::Error::InvalidString(_)) => {
                return Err(Thrown {
                    kind: "SyntaxError".into(),
                    message: "the source contains a NUL character".into(),
                    stack: String::new(),
                });
            }
            Err(other) => {
                return Err(Thrown {
                    kind: "ExecutorError".into(),
                    message: other.to_string(),
                    stack: String::new(),
                });
            }
        };
        while self.shared.stopped().is_none() && ctx.execute_pending_job() {}
        if self.shared.stopped().is_some() {
            return Err(self.stop_thrown());
        }
        // A rejection nobody handled by now ends the run as an uncaught error, as in node.
        let unhandled = helpers
            .first_unhandled
            .call::<_, rquickjs::Array>(())
            .and_then(|a| Ok(if a.get::<bool>(0)? { Some(a.get::<Value>(1)?) } else { None }));
        match unhandled {
            Ok(None) => Ok(value),
            Ok(Some(reason)) => Err(helpers.describe(ctx, reason)),
            Err(_) => {
                ctx.catch();
                Err(self.shared.stopped().map_or_else(
                    || Thrown {
                        kind: "ExecutorError".into(),
                        message: "could not read the unhandled promise rejections".into(),
                        stack: String::new(),
                    },
                    |_| self.stop_thrown(),
                ))
            }
        }
    }

    fn stop_thrown(&self) -> Thrown {
        let stop = self.shared.stopped().unwrap_or(Stop::Time);
        Thrown {
            kind: stop.kind().into(),
            message: stop.describe(&self.shared.limits),
            stack: String::new(),
        }
    }

    fn finish(&self, value: Option<String>, error: Option<&Thrown>, file: &str) -> RunResult {
        let output = std::mem::take(&mut *self.shared.output.borrow_mut());
        let mut stderr = output.stderr;
        let outcome = match (self.shared.stopped(), error) {
            (Some(stop), _) => stop.outcome(),
            (None, Some(e)) => {
                let mut text = format!("Uncaught {}: {}\n", e.kind, e.message);
                text.push_str(e.stack.trim_end_matches('\n'));
                let mut cut = text.len().min(ERROR_TEXT_BYTES);
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                stderr.push_str(text[..cut].trim_end());
                stderr.push('\n');
                Outcome::Error {
                    kind: e.kind.clone(),
                    message: e.message.clone(),
                    line: e.line_in(file),
                }
            }
            (None, None) => Outcome::Ok,
        };
        RunResult {
            stdout: output.stdout,
            stderr,
            value,
            exit_code: exit_code(&outcome),
            wall_time_us: micros(self.started.elapsed()),
            steps: self.shared.polls.get().saturating_mul(POLL_INTERVAL),
            outcome,
            isolation: None,
        }
    }

    fn run(self, code: &str) -> RunResult {
        self.context.with(|ctx| {
            let helpers = match self.install(&ctx) {
                Ok(h) => h,
                Err(e) => return self.finish(None, Some(&e), "main.js"),
            };
            if !self.arm_memory() {
                return too_small(&self.shared.limits, self.started);
            }
            match self.eval(&ctx, &helpers, code, "main.js") {
                Ok(value) => {
                    let value = if value.is_undefined() { None } else { helpers.inspect(value) };
                    // Inspecting may run user code (getters, proxies): it may hit a limit too.
                    let value = if self.shared.stopped().is_some() { None } else { value };
                    self.finish(value, None, "main.js")
                }
                Err(e) => self.finish(None, Some(&e), "main.js"),
            }
        })
    }

    fn run_tests(self, solution: &str, tests: &str, found: &Discovered) -> TestReport {
        self.context.with(|ctx| {
            let (run, not_run) = match self.install(&ctx) {
                Err(e) => (
                    self.finish(None, Some(&e), "tests.js"),
                    format!("the sandbox failed: {}", e.message),
                ),
                Ok(_) if !self.arm_memory() => {
                    let run = too_small(&self.shared.limits, self.started);
                    let tests = found
                        .tests
                        .iter()
                        .map(|t| TestCase {
                            name: t.name.clone(),
                            status: TestStatus::Error {
                                kind: Stop::Memory.kind().into(),
                                message: run.stderr.trim_end().to_owned(),
                                line: Some(t.line),
                            },
                        })
                        .collect();
                    return TestReport { tests, run };
                }
                Ok(helpers) => match self.eval(&ctx, &helpers, solution, "solution.js") {
                    Err(e) => {
                        let why =
                            self.not_run_reason("the solution failed to load", &e, "solution.js");
                        (self.finish(None, Some(&e), "solution.js"), why)
                    }
                    Ok(_) => match self.eval(&ctx, &helpers, &found.source, "tests.js") {
                        Err(e) => {
                            let why = self.not_run_reason("the tests stopped", &e, "tests.js");
                            (self.finish(None, Some(&e), "tests.js"), why)
                        }
                        Ok(_) => (self.finish(None, None, "tests.js"), String::new()),
                    },
                },
            };
            let cases = self.cases(tests, found, &not_run);
            let mut run = run;
            if run.outcome.is_ok() && cases.iter().any(|c| c.status != TestStatus::Passed) {
                run.exit_code = 1;
            }
            TestReport { tests: cases, run }
        })
    }

    fn not_run_reason(&self, what: &str, e: &Thrown, file: &str) -> String {
        match (self.shared.stopped(), e.line_in(file)) {
            (Some(stop), _) => stop.describe(&self.shared.limits),
            (None, Some(line)) => {
                format!("{what} at {file} line {line}: {}: {}", e.kind, e.message)
            }
            (None, None) => format!("{what}: {}: {}", e.kind, e.message),
        }
    }

    /// Every found test with its result; tests without one were cut off by a stop or an error.
    fn cases(&self, tests: &str, found: &Discovered, not_run: &str) -> Vec<TestCase> {
        let records = self.shared.records.borrow();
        let current = self.shared.current_test.get();
        found
            .tests
            .iter()
            .enumerate()
            .map(|(index, test)| {
                let id = u32::try_from(index).unwrap_or(u32::MAX);
                let status = match records.iter().find(|(rid, _)| *rid == id) {
                    Some((_, record)) => status_of(record, tests, test.line),
                    None => match (current == Some(id), self.shared.stopped()) {
                        (true, Some(stop)) => TestStatus::Error {
                            kind: stop.kind().into(),
                            message: stop.describe(&self.shared.limits),
                            line: Some(test.line),
                        },
                        _ => TestStatus::Error {
                            kind: "NotRun".into(),
                            message: format!(
                                "not run: {}",
                                if not_run.is_empty() {
                                    "the test hook was never reached"
                                } else {
                                    not_run
                                }
                            ),
                            line: Some(test.line),
                        },
                    },
                };
                TestCase { name: test.name.clone(), status }
            })
            .collect()
    }
}

/// Turns a hook record into a status; generated assertion messages get the assertion's source.
fn status_of(record: &Record, tests: &str, test_line: u32) -> TestStatus {
    let line = record.thrown.line_in("tests.js").or(Some(test_line));
    match record.status {
        0 => TestStatus::Passed,
        1 => {
            let source = line
                .and_then(|l| tests.lines().nth(l.saturating_sub(1) as usize))
                .map(str::trim)
                .filter(|s| !s.is_empty());
            let message = match (record.generated_message, source) {
                (true, Some(source)) => format!("{source}: {}", record.thrown.message.trim_end()),
                _ => record.thrown.message.trim_end().to_owned(),
            };
            TestStatus::Failed { message, line }
        }
        _ => TestStatus::Error {
            kind: record.thrown.kind.clone(),
            message: record.thrown.message.clone(),
            line,
        },
    }
}

#[cfg(test)]
mod tests;
