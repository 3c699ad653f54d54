//! One sandboxed RustPython interpreter, used for exactly one run: how it is built (sandboxed
//! builtins, import guard, probes, captured output) and how a run or a test run executes on it.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rustpython_ruff_source_file::{SourceFile, SourceFileBuilder};
use rustpython_ruff_text_size::Ranged;
use rustpython_vm::builtins::{
    PyBaseExceptionRef, PyByteArray, PyBytes, PyClassMethod, PyDictRef, PyFunction, PyInt, PyList, PyProperty,
    PyStaticMethod, PyStr, PyTuple, PyTypeRef,
};
use rustpython_vm::compiler::ast::{self, Stmt};
use rustpython_vm::compiler::{CompileError, Mode, codegen, parser};
use rustpython_vm::function::FuncArgs;
use rustpython_vm::signal::{UserSignal, UserSignalSender, user_signal_channel};
use rustpython_vm::{
    AsObject, Context, Interpreter, PyObjectRef, PyResult, Settings, VirtualMachine, scope::Scope,
};

use super::{harden, heap, instrument, subset};
use crate::{Limits, Outcome, RunResult, TestCase, TestReport, TestStatus};

/// The highest recursion limit user code may set: deep enough for realistic recursion, shallow
/// enough for the worker thread's stack in debug builds.
pub(crate) const MAX_RECURSION_LIMIT: usize = 3_000;
/// The recursion limit a run starts with: CPython's default (RustPython's debug builds would
/// start at 256).
const DEFAULT_RECURSION_LIMIT: usize = 1_000;
/// The global that receives the value of a program's last expression (no Python source can
/// spell a name with `$`).
const VALUE_NAME: &str = "$value";

/// Modules imported while the interpreter is warmed up, before any job.
const PRELOADED: &[&str] = &[
    "math", "itertools", "functools", "collections", "heapq", "bisect", "re", "string", "operator",
    "random", "copy", "typing", "json",
];

/// Exit codes (as a script would have had): see `SUBSET.md`.
pub(crate) mod exit {
    /// The program ran to the end (or called `sys.exit(0)`).
    pub const OK: i32 = 0;
    /// An uncaught exception (or a syntax error).
    pub const ERROR: i32 = 1;
    /// The wall-clock budget ran out.
    pub const TIMEOUT: i32 = 124;
    /// The step budget ran out.
    pub const STEP_LIMIT: i32 = 125;
    /// The memory budget ran out.
    pub const MEMORY_LIMIT: i32 = 137;
    /// The output budget ran out.
    pub const OUTPUT_LIMIT: i32 = 141;
}

/// Why a run was stopped from outside the program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Stop {
    Timeout = 1,
    Steps = 2,
    Memory = 3,
    Output = 4,
}

impl Stop {
    fn from_u8(v: u8) -> Option<Stop> {
        match v {
            1 => Some(Stop::Timeout),
            2 => Some(Stop::Steps),
            3 => Some(Stop::Memory),
            4 => Some(Stop::Output),
            _ => None,
        }
    }

    fn outcome(self) -> Outcome {
        match self {
            Stop::Timeout => Outcome::Timeout,
            Stop::Steps => Outcome::StepLimit,
            Stop::Memory => Outcome::MemoryLimit,
            Stop::Output => Outcome::OutputLimit,
        }
    }

    fn exit_code(self) -> i32 {
        match self {
            Stop::Timeout => exit::TIMEOUT,
            Stop::Steps => exit::STEP_LIMIT,
            Stop::Memory => exit::MEMORY_LIMIT,
            Stop::Output => exit::OUTPUT_LIMIT,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Stop::Timeout => "wall-clock budget exhausted",
            Stop::Steps => "step budget exhausted",
            Stop::Memory => "memory budget exhausted",
            Stop::Output => "output budget exhausted",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Stop::Timeout => "Timeout",
            Stop::Steps => "StepLimit",
            Stop::Memory => "MemoryLimit",
            Stop::Output => "OutputLimit",
        }
    }
}

/// Captured stdout and stderr under one byte budget.
#[derive(Debug, Default)]
pub(crate) struct Output {
    pub stdout: String,
    pub stderr: String,
    cap: usize,
    used: usize,
    pub truncated: bool,
}

impl Output {
    fn new(cap: usize) -> Self {
        Output { cap, ..Default::default() }
    }

    /// Appends `text`; returns false when the budget ran out (the text is cut with a marker).
    fn push(&mut self, to_stderr: bool, text: &str) -> bool {
        if self.truncated {
            return false;
        }
        let room = self.cap.saturating_sub(self.used);
        let stream = if to_stderr { &mut self.stderr } else { &mut self.stdout };
        if text.len() <= room {
            stream.push_str(text);
            self.used += text.len();
            return true;
        }
        let mut cut = room;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        stream.push_str(&text[..cut]);
        stream.push_str(&format!("\n[output truncated: budget of {} bytes reached]\n", self.cap));
        self.used = self.cap;
        self.truncated = true;
        false
    }
}

/// What the caller's thread shares with the worker running its job: the stop reason, the way
/// to interrupt the interpreter, and the captured output.
#[derive(Debug)]
pub(crate) struct Control {
    stop: AtomicU8,
    signal: Mutex<Option<UserSignalSender>>,
    pub output: Mutex<Output>,
    /// What the worker thread's allocations are held to during the run.
    pub fence: heap::Fence,
}

impl Control {
    pub(crate) fn new(limits: &Limits) -> Self {
        Control {
            stop: AtomicU8::new(0),
            signal: Mutex::new(None),
            output: Mutex::new(Output::new(usize::try_from(limits.output_bytes).unwrap_or(usize::MAX))),
            fence: heap::Fence::default(),
        }
    }

    pub(crate) fn stopped(&self) -> Option<Stop> {
        Stop::from_u8(self.stop.load(Ordering::Acquire))
    }

    /// Records `why` (the first reason wins) and interrupts the interpreter: from now on every
    /// bytecode instruction it executes raises, so `except BaseException:` cannot swallow it.
    pub(crate) fn stop(&self, why: Stop) {
        let _ = self.stop.compare_exchange(0, why as u8, Ordering::AcqRel, Ordering::Acquire);
        if let Some(sender) = self.signal.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
            let _ = sender.send(interrupter(sender.clone()));
        }
    }
}

/// A signal closure that re-arms itself and raises, so the interpreter unwinds completely.
fn interrupter(sender: UserSignalSender) -> UserSignal {
    Box::new(move |vm: &VirtualMachine| {
        let _ = sender.send(interrupter(sender.clone()));
        Err(vm.new_exception_msg(
            vm.ctx.exceptions.keyboard_interrupt.to_owned(),
            "edgecoder: run stopped".into(),
        ))
    })
}

/// One unit of work for an interpreter.
#[derive(Debug, Clone)]
pub(crate) enum Work {
    Run { code: String },
    Tests { solution: String, tests: String },
}

/// Whether an interpreter imports the most used allowlisted modules while it is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Preload {
    /// Yes: it is built ahead of its job (a pool), so the imports are off the run's path.
    Yes,
    /// No: it is built for a job that is waiting; the program imports what it uses.
    No,
}

/// A freshly built interpreter waiting for its one job, sandbox already installed.
pub(crate) struct Warm {
    interp: Interpreter,
    signal: UserSignalSender,
    guard: Rc<Guard>,
    scope: Result<Scope, String>,
    /// The classes that were alive before this interpreter was built (the thread's own).
    classes_before: HashSet<usize>,
}

/// The interpreter's guard state, shared by the probes. Built unarmed with the interpreter;
/// armed with the job's limits when the job starts.
struct Guard {
    ctl: RefCell<Option<Arc<Control>>>,
    steps: Cell<u64>,
    step_limit: Cell<u64>,
    heap_base: Cell<Option<i64>>,
    memory_limit: Cell<u64>,
    teardown: Cell<bool>,
    limit_exc: PyTypeRef,
}

impl Guard {
    fn arm(&self, ctl: &Arc<Control>, limits: &Limits) {
        *self.ctl.borrow_mut() = Some(ctl.clone());
        self.step_limit.set(limits.steps);
        self.memory_limit.set(limits.memory_bytes);
        self.heap_base.set(heap::thread_net_bytes());
        heap::arm(&ctl.fence, limits.memory_bytes, fence_slack(limits.memory_bytes));
    }

    fn trip(&self, vm: &VirtualMachine, why: Stop) -> PyBaseExceptionRef {
        let why = match self.ctl.borrow().as_ref() {
            Some(ctl) => {
                ctl.stop(why);
                ctl.stopped().unwrap_or(why)
            }
            None => why,
        };
        vm.new_exception_msg(self.limit_exc.clone(), format!("edgecoder: {}", why.describe()).into())
    }

    fn heap_used(&self) -> u64 {
        match self.heap_base.get() {
            Some(base) => u64::try_from(heap::fast_net_bytes() - base).unwrap_or(0),
            None => 0,
        }
    }

    fn tick(&self, vm: &VirtualMachine) -> PyResult<()> {
        let steps = self.steps.get() + 1;
        self.steps.set(steps);
        if self.teardown.get() {
            return Err(vm.new_exception_msg(self.limit_exc.clone(), "edgecoder: run is over".into()));
        }
        if steps > self.step_limit.get() {
            return Err(self.trip(vm, Stop::Steps));
        }
        if self.heap_used() > self.memory_limit.get() {
            return Err(self.trip(vm, Stop::Memory));
        }
        let stopped = self.ctl.borrow().as_ref().and_then(|c| c.stopped());
        if let Some(why) = stopped {
            return Err(self.trip(vm, why));
        }
        Ok(())
    }

    /// Refuses to build an object of `bytes` bytes when it would not fit the budget.
    fn room_for(&self, vm: &VirtualMachine, bytes: f64) -> PyResult<()> {
        let left = self.memory_limit.get().saturating_sub(self.heap_used()) as f64;
        if bytes > left {
            return Err(self.trip(vm, Stop::Memory));
        }
        Ok(())
    }

    /// Writes captured output; past the budget the run stops with `OutputLimit`.
    fn write(&self, vm: &VirtualMachine, to_stderr: bool, text: &str) -> PyResult<()> {
        if self.heap_used() > self.memory_limit.get() {
            return Err(self.trip(vm, Stop::Memory));
        }
        let fits = match self.ctl.borrow().as_ref() {
            Some(ctl) => ctl.output.lock().unwrap_or_else(|e| e.into_inner()).push(to_stderr, text),
            None => true,
        };
        if fits { Ok(()) } else { Err(self.trip(vm, Stop::Output)) }
    }
}

/// How far past the memory budget a run may keep allocating inside one native call before the
/// allocator stops its thread for good (see [`heap::Fence`]).
fn fence_slack(budget: u64) -> u64 {
    (budget / 4).clamp(16 << 20, 256 << 20)
}

fn int_bits(obj: &PyObjectRef) -> Option<u64> {
    obj.downcast_ref::<PyInt>().map(|i| i.as_bigint().bits())
}

/// The size in bytes of `seq * n`, for the built-in sequences.
fn repeat_bytes(vm: &VirtualMachine, seq: &PyObjectRef, n: &PyObjectRef) -> Option<f64> {
    let n = n.downcast_ref::<PyInt>()?;
    let count = n.as_bigint();
    let count = if count.sign() == malachite_bigint::Sign::Minus {
        0.0
    } else {
        num_traits::ToPrimitive::to_f64(count).unwrap_or(f64::MAX)
    };
    let unit = if let Some(s) = seq.downcast_ref::<PyStr>() {
        s.byte_len() as f64
    } else if seq.downcast_ref::<PyBytes>().is_some() || seq.downcast_ref::<PyByteArray>().is_some()
    {
        seq.length(vm).ok()? as f64
    } else if seq.downcast_ref::<PyList>().is_some() || seq.downcast_ref::<PyTuple>().is_some() {
        seq.length(vm).ok()? as f64 * 8.0
    } else {
        return None;
    };
    Some(unit * count)
}

fn mul_bytes(vm: &VirtualMachine, a: &PyObjectRef, b: &PyObjectRef) -> Option<f64> {
    if let (Some(x), Some(y)) = (int_bits(a), int_bits(b)) {
        return Some((x + y) as f64 / 8.0);
    }
    repeat_bytes(vm, a, b).or_else(|| repeat_bytes(vm, b, a))
}

fn pow_bytes(a: &PyObjectRef, b: &PyObjectRef) -> Option<f64> {
    let base = a.downcast_ref::<PyInt>()?.as_bigint();
    let exp = b.downcast_ref::<PyInt>()?.as_bigint();
    if exp.sign() == malachite_bigint::Sign::Minus || base.bits() <= 1 {
        return None;
    }
    let exp = num_traits::ToPrimitive::to_f64(exp).unwrap_or(f64::MAX);
    Some(base.bits() as f64 * exp / 8.0)
}

fn lshift_bytes(a: &PyObjectRef, b: &PyObjectRef) -> Option<f64> {
    let bits = int_bits(a)?;
    if bits == 0 {
        return None;
    }
    let shift = b.downcast_ref::<PyInt>()?.as_bigint();
    let shift = num_traits::ToPrimitive::to_f64(shift).unwrap_or(f64::MAX);
    Some((bits as f64 + shift) / 8.0)
}

fn two_args(vm: &VirtualMachine, args: FuncArgs) -> PyResult<(PyObjectRef, PyObjectRef)> {
    let (a, b): (PyObjectRef, PyObjectRef) = args.bind(vm)?;
    Ok((a, b))
}

fn sandbox_error(vm: &VirtualMachine, code: &str, what: &str) -> PyBaseExceptionRef {
    vm.new_os_subtype_error(
        vm.ctx.exceptions.permission_error.to_owned(),
        None,
        format!("{what} is not available in the on-device sandbox ({code})"),
    )
    .upcast()
}

fn set_builtin(vm: &VirtualMachine, name: &'static str, value: impl Into<PyObjectRef>) -> PyResult<()> {
    vm.builtins.as_object().set_attr(name, value.into(), vm)
}

fn compile_error_outcome(err: &CompileError) -> (String, String, Option<u32>) {
    let (line, _) = err.python_location();
    ("SyntaxError".to_owned(), err.to_string(), u32::try_from(line).ok().filter(|l| *l > 0))
}

/// Parses, checks and instruments `source`, returning the body and its source file.
fn prepare(source: &str, file: &str) -> Result<(Vec<Stmt>, SourceFile), Prepared> {
    if let Some((line, message)) = subset::too_deep(source) {
        return Err(Prepared::TooDeep(line, message));
    }
    let source_file = SourceFileBuilder::new(file, source).finish();
    let parsed = parser::parse_module(source)
        .map_err(|e| Prepared::Syntax(CompileError::from_ruff_parse_error(e, &source_file)))?;
    let mut body = parsed.into_syntax().body;
    subset::check_module(source, &body).map_err(Prepared::Outside)?;
    instrument::instrument(&mut body);
    Ok((body, source_file))
}

enum Prepared {
    Syntax(CompileError),
    TooDeep(u32, &'static str),
    Outside(crate::SubsetViolation),
}

fn compile_body(
    vm: &VirtualMachine,
    body: Vec<Stmt>,
    source_file: SourceFile,
    mode: Mode,
) -> Result<rustpython_vm::PyRef<rustpython_vm::builtins::PyCode>, CompileError> {
    let range = body.first().map(Ranged::range).unwrap_or_default();
    let module = ast::ModModule { node_index: ast::AtomicNodeIndex::NONE, range, body };
    let code = codegen::compile::compile_top(
        ast::Mod::Module(module),
        source_file,
        mode,
        vm.compile_opts(),
    )
    .map_err(CompileError::from)?;
    Ok(vm.ctx.new_code(code))
}

/// An exception as the report needs it.
struct Raised {
    kind: String,
    message: String,
    line: Option<u32>,
    traceback: String,
    exit_code: Option<i32>,
}

fn describe_exception(vm: &VirtualMachine, exc: &PyBaseExceptionRef, file: &str) -> Raised {
    let kind = exc.class().name().to_string();
    let message = exc.as_object().str(vm).map(|s| s.to_string()).unwrap_or_default();
    let line = exc.__traceback__().and_then(|tb| {
        tb.iter()
            .filter(|t| t.frame.code.source_path().as_str() == file)
            .last()
            .map(|t| t.lineno.get() as u32)
    });
    let mut traceback = String::new();
    let _ = vm.write_exception(&mut traceback, exc);
    const TAIL: usize = 8 * 1024;
    if traceback.len() > TAIL {
        let mut cut = traceback.len() - TAIL;
        while !traceback.is_char_boundary(cut) {
            cut += 1;
        }
        traceback = format!("[traceback cut]\n{}", &traceback[cut..]);
    }
    let exit_code = if exc.as_object().fast_isinstance(vm.ctx.exceptions.system_exit) {
        let code = exc.as_object().get_attr("code", vm).ok();
        Some(match code {
            Some(c) if vm.is_none(&c) => 0,
            Some(c) => c
                .downcast_ref::<PyInt>()
                .and_then(|i| num_traits::ToPrimitive::to_i32(i.as_bigint()))
                .unwrap_or(1),
            None => 0,
        })
    } else {
        None
    };
    Raised { kind, message, line, traceback, exit_code }
}

impl Warm {
    /// Builds a sandboxed interpreter: stdlib frozen in, no host access, probes and guards
    /// installed, `__main__` ready. This is the expensive part, done before a job arrives.
    pub(crate) fn build(preload: Preload) -> Warm {
        forget_kept();
        let classes_before =
            heap_classes(Context::genesis().types.object_type).iter().map(|c| c.get_id()).collect();
        let (signal, rx) = user_signal_channel();
        let mut settings = Settings::default();
        settings.hash_seed = Some(0);
        settings.install_signal_handlers = false;
        settings.import_site = false;
        settings.isolated = true;
        settings.user_site_directory = false;
        settings.write_bytecode = false;
        settings.argv = vec![String::new()];
        let builder = Interpreter::builder(settings);
        let defs = rustpython_stdlib::stdlib_module_defs(&builder.ctx);
        let interp = builder
            .add_native_modules(&defs)
            .add_frozen_modules(rustpython_pylib::FROZEN_STDLIB)
            .init_hook(move |vm| {
                vm.set_user_signal_channel(rx);
                harden::prune_modules(vm);
            })
            .build();
        let (guard, scope) = interp.enter(|vm| {
            prune_subclass_lists(vm.ctx.types.object_type, &mut std::collections::HashSet::new());
            let limit_exc = vm.ctx.new_exception_type(
                "edgecoder",
                "ResourceLimit",
                Some(vec![vm.ctx.exceptions.base_exception_type.to_owned()]),
            );
            let guard = Rc::new(Guard {
                ctl: RefCell::new(None),
                steps: Cell::new(0),
                step_limit: Cell::new(0),
                heap_base: Cell::new(None),
                memory_limit: Cell::new(0),
                teardown: Cell::new(false),
                limit_exc,
            });
            let scope = install_sandbox(vm, &guard, preload).map_err(|exc| {
                let raised = describe_exception(vm, &exc, "<sandbox>");
                format!("{}: {}", raised.kind, raised.message)
            });
            (guard, scope)
        });
        Warm { interp, signal, guard, scope, classes_before }
    }

    /// Runs `work` under `limits`, hands the result to `reply`, then tears the interpreter down
    /// (it is never reused).
    pub(crate) fn execute(self, work: &Work, limits: &Limits, ctl: &Arc<Control>, reply: impl FnOnce(Execution)) {
        *ctl.signal.lock().unwrap_or_else(|e| e.into_inner()) = Some(self.signal.clone());
        let started = Instant::now();
        self.guard.arm(ctl, limits);
        let mut execution = self.interp.enter(|vm| {
            let mut execution = Execution::default();
            match &self.scope {
                Ok(scope) => match work {
                    Work::Run { code } => run_program(vm, scope, code, &mut execution),
                    Work::Tests { solution, tests } => run_tests(vm, scope, solution, tests, &mut execution),
                },
                Err(message) => {
                    execution.outcome = Some(Outcome::Error {
                        kind: "SandboxSetupError".into(),
                        message: message.clone(),
                        line: None,
                    });
                    execution.exit_code = exit::ERROR;
                }
            }
            execution
        });
        heap::disarm();
        execution.steps = self.guard.steps.get();
        execution.wall_time_us = started.elapsed().as_micros() as u64;
        // A huge allocation the program still holds at the end (e.g. `bytearray(10**10)`, which
        // the system hands out lazily) is over the budget even if no probe ran after it.
        if self.guard.heap_used() > limits.memory_bytes {
            ctl.stop(Stop::Memory);
        }
        if let Some(why) = ctl.stopped() {
            execution.outcome = Some(why.outcome());
            execution.exit_code = why.exit_code();
        }
        reply(execution);
        let tearing = Instant::now();
        self.teardown();
        tracing::debug!(us = tearing.elapsed().as_micros() as u64, "python interpreter torn down");
    }

    /// Frees the interpreter's object graph (module dicts and functions form reference cycles
    /// that plain dropping would leak). Every probe and every bytecode instruction raises from
    /// here on, so `__del__` methods cannot run user code.
    fn teardown(self) {
        self.guard.teardown.set(true);
        *self.guard.ctl.borrow_mut() = None;
        let _ = self.signal.send(interrupter(self.signal.clone()));
        let Warm { interp, guard, scope, classes_before, .. } = self;
        drop(scope);
        drop(guard);
        interp.enter(harden::forget_exit_callbacks);
        interp.enter(clear_module_dicts);
        interp.enter(|vm| break_class_cycles(vm, &classes_before));
        // What Rust still holds of the run must go before the collector runs, or the cycles it
        // reaches would outlive the interpreter.
        forget_kept();
        harden::forget_interpreter();
        interp.finalize(None);
    }
}

/// Empties the dict of every module the interpreter imported. Some of RustPython's native
/// objects (bound methods, code constants, ...) hold references the collector cannot see, so a
/// cycle through a module's globals that passes one of them is never collected: with the classes
/// of `collections`, `random`, `re`... that was ≈ 80 classes and 1.6 MB per run. At teardown no
/// code runs any more, so the globals can simply go. `sys` and `builtins` stay for
/// finalization (an exception raised by a `__del__` while the rest is freed is reported through
/// `sys`), which clears them last.
fn clear_module_dicts(vm: &VirtualMachine) {
    let Ok(modules) = vm.sys_module.get_attr("modules", vm) else { return };
    let Some(modules) = modules.downcast_ref::<rustpython_vm::builtins::PyDict>() else { return };
    let kept = [vm.sys_module.as_object().get_id(), vm.builtins.as_object().get_id()];
    let mut garbage: Vec<PyObjectRef> = Vec::new();
    for (_, module) in modules.items_vec() {
        if kept.contains(&module.get_id()) {
            continue;
        }
        if let Some(m) = module.downcast_ref::<rustpython_vm::builtins::PyModule>() {
            let dict = m.dict();
            garbage.extend(dict.items_vec().into_iter().map(|(_, v)| v));
            dict.clear();
        }
    }
    drop(garbage);
}

/// Every live class (heap type) below `ty`, found through the subclass lists.
fn heap_classes(ty: &rustpython_vm::Py<rustpython_vm::builtins::PyType>) -> Vec<PyTypeRef> {
    fn walk(ty: &rustpython_vm::Py<rustpython_vm::builtins::PyType>, seen: &mut HashSet<usize>, out: &mut Vec<PyTypeRef>) {
        let subclasses: Vec<PyTypeRef> = ty
            .subclasses
            .read()
            .iter()
            .filter_map(|weak| weak.upgrade())
            .filter_map(|obj| obj.downcast::<rustpython_vm::builtins::PyType>().ok())
            .collect();
        for sub in subclasses {
            if seen.insert(sub.get_id()) {
                walk(&sub, seen, out);
                if sub.heaptype_ext.is_some() {
                    out.push(sub);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(ty, &mut HashSet::new(), &mut out);
    out
}

/// Empties the dict (all but `__del__`) of every class the interpreter created (those not in
/// `before`) and drops its methods' `__annotate__`. RustPython's collector does not see every
/// reference a class's methods hold, so a class would keep its methods, their globals and so
/// the run's whole module graph alive (≈ 6 MB a run); with the dicts cut, the collector frees
/// the classes themselves. Called at teardown, when no user code can run any more.
fn break_class_cycles(vm: &VirtualMachine, before: &HashSet<usize>) {
    let classes: Vec<PyTypeRef> = heap_classes(vm.ctx.types.object_type)
        .into_iter()
        .filter(|class| !before.contains(&class.get_id()))
        .collect();
    // `__del__` stays: an instance freed later (with these values, or by the collector) finds
    // it, and RustPython aborts the drop of an instance whose class lost the `__del__` it had.
    let mut garbage: Vec<PyObjectRef> = Vec::new();
    for class in &classes {
        class.modified();
        let mut attributes = class.attributes.write();
        let del = attributes.swap_remove(vm.ctx.names.__del__);
        garbage.extend(std::mem::take(&mut *attributes).into_values());
        if let Some(del) = del {
            attributes.insert(vm.ctx.names.__del__, del);
        }
    }
    for value in &garbage {
        forget_annotate(vm, value);
    }
    drop(garbage);
    tracing::trace!(classes = classes.len(), "class cycles broken");
}

/// Drops the `__annotate__` function of a method (also inside a classmethod, staticmethod or
/// property). A method's annotate function holds its class body's namespace in a closure cell,
/// and RustPython's collector does not see the function → annotate edge, so that cycle (which
/// reaches the class through `super()`'s `__class__` cell) was never collected.
fn forget_annotate(vm: &VirtualMachine, value: &PyObjectRef) {
    let functions: Vec<PyObjectRef> = if value.downcast_ref::<PyFunction>().is_some() {
        vec![value.clone()]
    } else if value.downcast_ref::<PyClassMethod>().is_some() || value.downcast_ref::<PyStaticMethod>().is_some() {
        value.get_attr("__func__", vm).into_iter().collect()
    } else if value.downcast_ref::<PyProperty>().is_some() {
        ["fget", "fset", "fdel"].into_iter().filter_map(|name| value.get_attr(name, vm).ok()).collect()
    } else {
        Vec::new()
    };
    for function in functions.iter().filter(|f| f.downcast_ref::<PyFunction>().is_some()) {
        let _ = function.set_attr("__annotate__", vm.ctx.none(), vm);
    }
}

/// Drops the dead entries of the subclass lists of the built-in types, from `ty` down.
///
/// Built-in types belong to the thread's base context, which every interpreter the thread
/// builds shares; each class an interpreter creates adds a weak reference to its bases' lists,
/// and RustPython prunes those only when `__subclasses__()` is called. Without this, the lists of
/// `object`, `type`, `Exception`... grow with every interpreter and the collector traverses
/// them all, so each build and teardown got slower than the last.
fn prune_subclass_lists(ty: &rustpython_vm::Py<rustpython_vm::builtins::PyType>, seen: &mut std::collections::HashSet<usize>) {
    let live: Vec<PyTypeRef> = {
        let mut subclasses = ty.subclasses.write();
        subclasses.retain(|weak| weak.upgrade().is_some());
        subclasses
            .iter()
            .filter_map(|weak| weak.upgrade())
            .filter_map(|obj| obj.downcast::<rustpython_vm::builtins::PyType>().ok())
            .collect()
    };
    for sub in live {
        if sub.heaptype_ext.is_none() && seen.insert(sub.get_id()) {
            prune_subclass_lists(&sub, seen);
        }
    }
}

/// What a job produced, before the output is attached.
#[derive(Debug, Default)]
pub(crate) struct Execution {
    pub value: Option<String>,
    pub exit_code: i32,
    pub wall_time_us: u64,
    pub steps: u64,
    pub outcome: Option<Outcome>,
    pub tests: Option<Vec<TestCase>>,
    pub traceback: String,
}

impl Execution {
    /// Builds the final result with the captured output.
    pub(crate) fn into_report(self, output: &Output) -> TestReport {
        let mut stderr = output.stderr.clone();
        stderr.push_str(&self.traceback);
        let run = RunResult {
            stdout: output.stdout.clone(),
            stderr,
            value: self.value,
            exit_code: self.exit_code,
            wall_time_us: self.wall_time_us,
            steps: self.steps,
            outcome: self.outcome.unwrap_or(Outcome::Ok),
            isolation: None,
        };
        TestReport { tests: self.tests.unwrap_or_default(), run }
    }
}

thread_local! {
    /// What the native functions of this thread's current interpreter need. RustPython never
    /// frees a native function's closure (it is leaked into a `'static` method definition), so
    /// the closures capture only names and look their objects up here; [`forget_kept`] drops
    /// them when the interpreter goes away, and with them the run's whole object graph.
    static KEPT: KeptSlot = KeptSlot(RefCell::new(Kept::default()));
}

/// The thread-local slot of [`Kept`]. When a thread ends with objects still kept (an
/// interpreter dropped without its teardown), RustPython's own thread-locals may already be
/// gone, and dropping a Python object then aborts the process; so the slot leaks what is left
/// at thread exit instead. [`forget_kept`] drops its objects normally.
struct KeptSlot(RefCell<Kept>);

impl std::ops::Deref for KeptSlot {
    type Target = RefCell<Kept>;
    fn deref(&self) -> &RefCell<Kept> {
        &self.0
    }
}

impl Drop for KeptSlot {
    fn drop(&mut self) {
        std::mem::forget(std::mem::take(self.0.get_mut()));
    }
}

#[derive(Default)]
struct Kept {
    guard: Option<Rc<Guard>>,
    objects: std::collections::HashMap<&'static str, PyObjectRef>,
}

/// Keeps `obj` for this thread's interpreter under `key`.
fn keep(key: &'static str, obj: PyObjectRef) {
    KEPT.with(|k| k.borrow_mut().objects.insert(key, obj));
}

/// The object kept under `key`.
fn kept(vm: &VirtualMachine, key: &'static str) -> PyResult {
    KEPT.with(|k| k.borrow().objects.get(key).cloned())
        .ok_or_else(|| vm.new_runtime_error(format!("edgecoder: the sandbox's {key} is gone")))
}

/// The guard of this thread's interpreter.
fn kept_guard(vm: &VirtualMachine) -> PyResult<Rc<Guard>> {
    KEPT.with(|k| k.borrow().guard.clone())
        .ok_or_else(|| vm.new_runtime_error("edgecoder: the sandbox is gone"))
}

/// Drops what this thread's interpreter kept (at teardown, and before a new one is built).
fn forget_kept() {
    let kept = KEPT.with(|k| std::mem::take(&mut *k.borrow_mut()));
    drop(kept);
}

/// Installs the run-time guards into a fresh interpreter and returns the `__main__` scope.
fn install_sandbox(vm: &VirtualMachine, guard: &Rc<Guard>, preload: Preload) -> PyResult<Scope> {
    KEPT.with(|k| k.borrow_mut().guard = Some(guard.clone()));
    // Captured output.
    let sink = |to_stderr: bool| -> PyResult<PyObjectRef> {
        let dict = vm.ctx.new_dict();
        let write = vm.new_function("write", move |s: rustpython_vm::PyRef<PyStr>, vm: &VirtualMachine| {
            let text = s.as_wtf8().to_string_lossy();
            kept_guard(vm)?.write(vm, to_stderr, &text).map(|()| text.chars().count())
        });
        dict.set_item("write", write.into(), vm)?;
        dict.set_item("flush", vm.new_function("flush", |_: FuncArgs, _vm: &VirtualMachine| ()).into(), vm)?;
        dict.set_item("isatty", vm.new_function("isatty", |_: FuncArgs, _vm: &VirtualMachine| false).into(), vm)?;
        dict.set_item("encoding", vm.ctx.new_str("utf-8").into(), vm)?;
        let name = if to_stderr { "<stderr>" } else { "<stdout>" };
        Ok(vm.new_module(name, dict, None).into())
    };
    let stdout = sink(false)?;
    let stderr = sink(true)?;
    let sys = vm.sys_module.clone();
    sys.as_object().set_attr("stdout", stdout.clone(), vm)?;
    sys.as_object().set_attr("stderr", stderr.clone(), vm)?;
    sys.as_object().set_attr("__stdout__", stdout.clone(), vm)?;
    sys.as_object().set_attr("__stderr__", stderr.clone(), vm)?;
    let string_io = vm.import("_io", 0)?.get_attr("StringIO", vm)?;
    let stdin = string_io.call((), vm)?;
    sys.as_object().set_attr("stdin", stdin.clone(), vm)?;
    sys.as_object().set_attr("__stdin__", stdin.clone(), vm)?;

    // Recursion limit: CPython's default, and capped for the worker thread's stack.
    vm.recursion_limit.set(DEFAULT_RECURSION_LIMIT);
    keep("setrecursionlimit", sys.as_object().get_attr("setrecursionlimit", vm)?);
    let capped = vm.new_function("setrecursionlimit", |n: usize, vm: &VirtualMachine| {
        kept(vm, "setrecursionlimit")?.call((n.min(MAX_RECURSION_LIMIT),), vm)
    });
    sys.as_object().set_attr("setrecursionlimit", capped, vm)?;
    install_internal_modules(vm)?;
    super::fixes::install(vm);
    harden::install_types(vm);
    let scope = vm.new_scope_with_main()?;
    // The most used allowlisted modules are imported now, off the run's critical path; the
    // heavier ones (dataclasses pulls in inspect, ast, dis...) load when a program imports them.
    // The random generator gets a fixed seed so runs repeat.
    let preloaded = if preload == Preload::Yes { PRELOADED } else { &[] };
    for module in preloaded {
        if let Err(exc) = vm.import(*module, 0) {
            let raised = describe_exception(vm, &exc, "<sandbox>");
            tracing::warn!(module, error = %raised.message, "allowlisted module does not import");
        }
    }
    let random = vm.import("random", 0)?;
    vm.call_method(&random, "seed", (0,))?;
    harden::install_interpreter(vm)?;

    // The user's `sys`: a proxy with the harmless parts of the real one.
    let user_sys = {
        let dict = vm.ctx.new_dict();
        for name in [
            "argv", "byteorder", "exit", "float_info", "int_info", "hash_info", "maxsize",
            "maxunicode", "version", "version_info", "hexversion", "implementation", "platform",
            "getrecursionlimit", "setrecursionlimit", "getsizeof", "intern", "exc_info",
            "exception", "get_int_max_str_digits", "set_int_max_str_digits", "float_repr_style",
            "stdin", "stdout", "stderr", "__stdin__", "__stdout__", "__stderr__",
            "getdefaultencoding", "flags",
        ] {
            if let Ok(value) = sys.as_object().get_attr(name, vm) {
                dict.set_item(name, value, vm)?;
            }
        }
        vm.new_module("sys", dict, None)
    };
    // The user's `io`: in-memory streams only.
    let user_io = {
        let dict = vm.ctx.new_dict();
        let io = vm.import("_io", 0)?;
        for name in ["StringIO", "BytesIO"] {
            dict.set_item(name, io.get_attr(name, vm)?, vm)?;
        }
        vm.new_module("io", dict, None)
    };


    // Imports: user code (whose frames run in `__main__`'s globals) gets the allowlist;
    // the stdlib's own internal imports are unrestricted (the sandbox has no host modules).
    keep("__import__", vm.builtins.as_object().get_attr("__import__", vm)?);
    keep("user_sys", user_sys.into());
    keep("user_io", user_io.into());
    let guarded_import = vm.new_function("__import__", |args: FuncArgs, vm: &VirtualMachine| {
        let original_import = kept(vm, "__import__")?;
        let name: String = match args.args.first() {
            Some(n) => n.str(vm)?.to_string(),
            None => return original_import.call(args, vm),
        };
        let level = args
            .kwargs
            .get("level")
            .or_else(|| args.args.get(4))
            .and_then(|l| l.downcast_ref::<PyInt>().and_then(|i| num_traits::ToPrimitive::to_i64(i.as_bigint())))
            .unwrap_or(0);
        if harden::user_code_running(vm) {
            if level != 0 || !subset::module_allowed(&name) {
                let code = if level != 0 { crate::ReasonCode::PyImportDenied } else { subset::denied_module_code(&name) };
                return Err(vm.new_exception_msg(
                    vm.ctx.exceptions.module_not_found_error.to_owned(),
                    format!("import of '{name}' is not allowed in the on-device sandbox ({code})").into(),
                ));
            }
            if name == "sys" {
                return kept(vm, "user_sys");
            }
            if name == "io" {
                return kept(vm, "user_io");
            }
        }
        original_import.call(args, vm)
    });
    set_builtin(vm, "__import__", guarded_import)?;

    // File access, dynamic evaluation and introspection at run time.
    set_builtin(
        vm,
        "open",
        vm.new_function("open", |_: FuncArgs, vm: &VirtualMachine| -> PyResult<()> {
            Err(sandbox_error(vm, "PY_FILE_IO", "open()"))
        }),
    )?;
    for name in ["breakpoint", "help", "input"] {
        set_builtin(
            vm,
            name,
            vm.new_function(name, move |_: FuncArgs, vm: &VirtualMachine| -> PyResult<()> {
                Err(sandbox_error(vm, "PY_IMPORT_DENIED", &format!("{name}()")))
            }),
        )?;
    }
    let exit_fn = sys.as_object().get_attr("exit", vm)?;
    set_builtin(vm, "exit", exit_fn.clone())?;
    set_builtin(vm, "quit", exit_fn)?;
    for name in ["getattr", "setattr", "delattr", "hasattr"] {
        keep(name, vm.builtins.as_object().get_attr(name, vm)?);
        let guarded = vm.new_function(name, move |args: FuncArgs, vm: &VirtualMachine| {
            let original = kept(vm, name)?;
            if harden::asked_for_user(vm)
                && let Some(attr) = args.args.get(1).and_then(|a| a.downcast_ref::<PyStr>())
                && subset::DENIED_ATTRS.contains(&attr.as_wtf8().to_string_lossy().as_ref())
            {
                return Err(sandbox_error(vm, "PY_INTROSPECTION", &format!("attribute '{}'", attr.as_wtf8())));
            }
            original.call(args, vm)
        });
        set_builtin(vm, name, guarded)?;
    }
    let probes = install_probes(vm)?;
    for (name, mode) in [("eval", Mode::Eval), ("exec", Mode::Exec), ("compile", Mode::Exec)] {
        keep(name, vm.builtins.as_object().get_attr(name, vm)?);
        let guarded = vm.new_function(name, move |mut args: FuncArgs, vm: &VirtualMachine| {
            let original = kept(vm, name)?;
            let Some(source) = args.args.first().and_then(|s| s.downcast_ref::<PyStr>()) else {
                if name == "compile" {
                    return Err(sandbox_error(vm, "PY_DYNAMIC_EVAL", "compile() of a non-string"));
                }
                return original.call(args, vm);
            };
            let source = source.as_wtf8().to_string_lossy().into_owned();
            let mode = if name == "compile" {
                match args.args.get(2).map(|m| m.str(vm).map(|s| s.to_string())).transpose()?.as_deref() {
                    Some("eval") => Mode::Eval,
                    _ => Mode::Exec,
                }
            } else {
                mode
            };
            let code = compile_dynamic(vm, &source, mode)?;
            if name == "compile" {
                return Ok(code.into());
            }
            lend_probes(vm, &args)?;
            args.args[0] = code.into();
            original.call(args, vm)
        });
        set_builtin(vm, name, guarded)?;
    }

    // The same checks behind `pow()` and the `operator` module.
    keep("pow", vm.builtins.as_object().get_attr("pow", vm)?);
    let pow = vm.new_function("pow", |args: FuncArgs, vm: &VirtualMachine| {
        if args.args.len() == 2 && args.kwargs.is_empty() {
            kept(vm, "$pow")?.call(args, vm)
        } else {
            kept(vm, "pow")?.call(args, vm)
        }
    });
    set_builtin(vm, "pow", pow)?;
    for module in ["operator", "_operator"] {
        let m = vm.import(module, 0)?;
        for (probe, names) in [
            ("$mul", &["mul", "__mul__"][..]),
            ("$imul", &["imul", "__imul__"][..]),
            ("$pow", &["pow", "__pow__"][..]),
            ("$ipow", &["ipow", "__ipow__"][..]),
            ("$lshift", &["lshift", "__lshift__"][..]),
            ("$ilshift", &["ilshift", "__ilshift__"][..]),
        ] {
            if let Some((_, f)) = probes.iter().find(|(n, _)| *n == probe) {
                for name in names {
                    m.set_attr(*name, f.clone(), vm)?;
                }
            }
        }
    }
    Ok(scope)
}

/// The probes the instrumenter inserts (builtins named `$...`).
const PROBE_NAMES: [&str; 8] = ["$step", "$iter", "$mul", "$imul", "$pow", "$ipow", "$lshift", "$ilshift"];

/// Installs the probes the instrumenter inserts (builtins named `$...`) and returns them by name.
fn install_probes(vm: &VirtualMachine) -> PyResult<Vec<(&'static str, PyObjectRef)>> {
    let mut probes: Vec<(&'static str, PyObjectRef)> = Vec::new();
    probes.push(("$step", vm.new_function("$step", |vm: &VirtualMachine| kept_guard(vm)?.tick(vm)).into()));
    let tick = vm.new_function("$tick", |item: PyObjectRef, vm: &VirtualMachine| {
        kept_guard(vm)?.tick(vm).map(|()| item)
    });
    keep("$tick", tick.into());
    let iter = vm.new_function("$iter", |xs: PyObjectRef, vm: &VirtualMachine| {
        let map_type: PyObjectRef = vm.ctx.types.map_type.to_owned().into();
        map_type.call((kept(vm, "$tick")?, xs), vm)
    });
    probes.push(("$iter", iter.into()));
    type Op = fn(&VirtualMachine, &PyObjectRef, &PyObjectRef) -> PyResult;
    let checked: [(&'static str, Op, fn(&VirtualMachine, &PyObjectRef, &PyObjectRef) -> Option<f64>); 6] = [
        ("$mul", |vm, a, b| vm._mul(a, b), mul_bytes),
        ("$imul", |vm, a, b| vm._imul(a, b), mul_bytes),
        ("$pow", |vm, a, b| vm._pow(a, b, vm.ctx.none.as_object()), |_, a, b| pow_bytes(a, b)),
        ("$ipow", |vm, a, b| vm._ipow(a, b, vm.ctx.none.as_object()), |_, a, b| pow_bytes(a, b)),
        ("$lshift", |vm, a, b| vm._lshift(a, b), |_, a, b| lshift_bytes(a, b)),
        ("$ilshift", |vm, a, b| vm._ilshift(a, b), |_, a, b| lshift_bytes(a, b)),
    ];
    for (name, op, size) in checked {
        let f = vm.new_function(name, move |args: FuncArgs, vm: &VirtualMachine| {
            let (a, b) = two_args(vm, args)?;
            if let Some(bytes) = size(vm, &a, &b) {
                kept_guard(vm)?.room_for(vm, bytes)?;
            }
            op(vm, &a, &b)
        });
        probes.push((name, f.into()));
    }
    for (name, probe) in &probes {
        set_builtin(vm, name, probe.clone())?;
        keep(name, probe.clone());
    }
    Ok(probes)
}

/// Code given to `exec`/`eval` with its own `__builtins__` dict (the standard library does this,
/// e.g. `namedtuple` with `{'__builtins__': {}}`) is instrumented too: its probes are added to
/// that dict so they resolve.
fn lend_probes(vm: &VirtualMachine, args: &FuncArgs) -> PyResult<()> {
    let Some(globals) = args.args.get(1).or_else(|| args.kwargs.get("globals")) else { return Ok(()) };
    let Some(globals) = globals.downcast_ref::<rustpython_vm::builtins::PyDict>() else { return Ok(()) };
    let Some(builtins) = globals.get_item_opt("__builtins__", vm)? else { return Ok(()) };
    let Some(builtins) = builtins.downcast_ref::<rustpython_vm::builtins::PyDict>() else { return Ok(()) };
    if builtins.is(vm.builtins.dict().as_object()) {
        return Ok(());
    }
    for name in PROBE_NAMES {
        if !builtins.contains_key(name, vm) {
            builtins.set_item(name, kept(vm, name)?, vm)?;
        }
    }
    Ok(())
}

/// The interpreter is built without `os` and with an `io` that cannot import (no `FileIO`), yet
/// allowlisted modules import them (`random` takes `os.urandom`, `dataclasses` pulls in
/// `inspect`, `linecache`, `tokenize`, `io`). This registers file-less stand-ins for the standard
/// library's own use; user code cannot import them (the import guard) and they reach nothing on
/// the host.
fn install_internal_modules(vm: &VirtualMachine) -> PyResult<()> {
    let modules = vm.sys_module.as_object().get_attr("modules", vm)?;
    let io = vm.import("_io", 0)?;
    let io_dict = vm.ctx.new_dict();
    let io_items = io.as_object().get_attr("__dict__", vm)?.try_into_value::<PyDictRef>(vm)?.items_vec();
    for (name, value) in io_items {
        let key = name.str(vm)?.to_string();
        if !key.starts_with("__") {
            io_dict.set_item(key.as_str(), value, vm)?;
        }
    }
    for name in ["open", "open_code"] {
        io_dict.set_item(
            name,
            vm.new_function(name, move |_: FuncArgs, vm: &VirtualMachine| -> PyResult<()> {
                Err(sandbox_error(vm, "PY_FILE_IO", &format!("io.{name}()")))
            })
            .into(),
            vm,
        )?;
    }
    modules.set_item("io", vm.new_module("io", io_dict, None).into(), vm)?;

    let os = vm.ctx.new_dict();
    for (name, value) in [
        ("name", "posix"),
        ("sep", "/"),
        ("extsep", "."),
        ("pathsep", ":"),
        ("linesep", "\n"),
        ("defpath", "/bin:/usr/bin"),
        ("devnull", "/dev/null"),
        ("curdir", "."),
        ("pardir", ".."),
    ] {
        os.set_item(name, vm.ctx.new_str(value).into(), vm)?;
    }
    os.set_item("altsep", vm.ctx.none(), vm)?;
    os.set_item("environ", vm.ctx.new_dict().into(), vm)?;
    os.set_item("error", vm.ctx.exceptions.os_error.to_owned().into(), vm)?;
    os.set_item(
        "getenv",
        vm.new_function("getenv", |_key: PyObjectRef, default: rustpython_vm::function::OptionalArg, vm: &VirtualMachine| {
            default.unwrap_or_else(|| vm.ctx.none())
        })
        .into(),
        vm,
    )?;
    os.set_item("getcwd", vm.new_function("getcwd", |_vm: &VirtualMachine| "/".to_owned()).into(), vm)?;
    os.set_item(
        "fspath",
        vm.new_function("fspath", |p: PyObjectRef, vm: &VirtualMachine| -> PyResult {
            if p.downcast_ref::<PyStr>().is_some() || p.downcast_ref::<PyBytes>().is_some() {
                Ok(p)
            } else {
                Err(vm.new_type_error(format!("expected str or bytes, not {}", p.class().name())))
            }
        })
        .into(),
        vm,
    )?;
    // Deterministic "random" bytes: runs must repeat.
    let state = Cell::new(0x9E37_79B9_7F4A_7C15_u64);
    os.set_item(
        "urandom",
        vm.new_function("urandom", move |n: usize, vm: &VirtualMachine| {
            let bytes: Vec<u8> = (0..n)
                .map(|_| {
                    let mut x = state.get();
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    state.set(x);
                    (x >> 24) as u8
                })
                .collect();
            vm.ctx.new_bytes(bytes)
        })
        .into(),
        vm,
    )?;
    let os_module: PyObjectRef = vm.new_module("os", os, None).into();
    modules.set_item("os", os_module.clone(), vm)?;
    modules.set_item("posix", os_module.clone(), vm)?;
    let posixpath = vm.import("posixpath", 0)?;
    os_module.set_attr("path", posixpath.clone(), vm)?;
    modules.set_item("os.path", posixpath, vm)?;
    Ok(())
}

/// Compiles source given to `eval`/`exec`/`compile` at run time with the same check and probes
/// as the program itself.
fn compile_dynamic(
    vm: &VirtualMachine,
    source: &str,
    mode: Mode,
) -> PyResult<rustpython_vm::PyRef<rustpython_vm::builtins::PyCode>> {
    let file = "<string>";
    if let Some((_, message)) = subset::too_deep(source) {
        return Err(vm.new_exception_msg(vm.ctx.exceptions.syntax_error.to_owned(), message.into()));
    }
    let source_file = SourceFileBuilder::new(file, source).finish();
    let parse_mode = if matches!(mode, Mode::Eval) { parser::Mode::Expression } else { parser::Mode::Module };
    let parsed = parser::parse(source, parse_mode.into()).map_err(|e| {
        vm.new_syntax_error(&CompileError::from_ruff_parse_error(e, &source_file), Some(source))
    })?;
    let mut tree = parsed.into_syntax();
    let body: &mut Vec<Stmt> = match &mut tree {
        ast::Mod::Module(m) => &mut m.body,
        ast::Mod::Expression(e) => {
            let stmt = Stmt::Expr(ast::StmtExpr {
                node_index: ast::AtomicNodeIndex::NONE,
                range: e.range,
                value: e.body.clone(),
            });
            subset::check_module(source, std::slice::from_ref(&stmt))
                .map_err(|v| sandbox_error(vm, v.code.as_str(), &format!("`{}` in evaluated code", v.construct)))?;
            let mut wrapped = vec![stmt];
            instrument::instrument(&mut wrapped);
            if let Some(Stmt::Expr(s)) = wrapped.pop() {
                e.body = s.value;
            }
            let code = codegen::compile::compile_top(tree, source_file, mode, vm.compile_opts())
                .map_err(|e| vm.new_syntax_error(&CompileError::from(e), Some(source)))?;
            return Ok(vm.ctx.new_code(code));
        }
    };
    subset::check_module(source, body)
        .map_err(|v| sandbox_error(vm, v.code.as_str(), &format!("`{}` in evaluated code", v.construct)))?;
    instrument::instrument(body);
    let code = codegen::compile::compile_top(tree, source_file, mode, vm.compile_opts())
        .map_err(|e| vm.new_syntax_error(&CompileError::from(e), Some(source)))?;
    Ok(vm.ctx.new_code(code))
}

fn record_error(execution: &mut Execution, raised: Raised) {
    execution.exit_code = raised.exit_code.unwrap_or(exit::ERROR);
    execution.traceback = raised.traceback;
    execution.outcome = Some(if raised.exit_code == Some(0) {
        Outcome::Ok
    } else {
        Outcome::Error { kind: raised.kind, message: raised.message, line: raised.line }
    });
}

fn prepare_failure(execution: &mut Execution, failure: Prepared) {
    match failure {
        Prepared::Syntax(err) => {
            let (kind, message, line) = compile_error_outcome(&err);
            execution.traceback = format!("{kind}: {message} (line {})\n", line.unwrap_or(0));
            execution.outcome = Some(Outcome::Error { kind, message, line });
            execution.exit_code = exit::ERROR;
        }
        Prepared::TooDeep(line, message) => {
            execution.traceback = format!("SyntaxError: {message} (line {line})\n");
            execution.outcome =
                Some(Outcome::Error { kind: "SyntaxError".into(), message: message.into(), line: Some(line) });
            execution.exit_code = exit::ERROR;
        }
        Prepared::Outside(violation) => {
            execution.traceback = format!("{violation}\n");
            execution.outcome = Some(violation.into());
            execution.exit_code = 3;
        }
    }
}

const MAIN_FILE: &str = "<main>";
const SOLUTION_FILE: &str = "<solution>";
const TESTS_FILE: &str = "<tests>";

fn run_program(vm: &VirtualMachine, scope: &Scope, code: &str, execution: &mut Execution) {
    let (body, source_file) = match prepare(code, MAIN_FILE) {
        Ok(p) => p,
        Err(failure) => return prepare_failure(execution, failure),
    };
    let mut body = body;
    let ends_in_expr = keep_last_value(&mut body);
    let code_obj = match compile_body(vm, body, source_file, Mode::Exec) {
        Ok(c) => c,
        Err(err) => return prepare_failure(execution, Prepared::Syntax(err)),
    };
    match vm.run_code_obj(code_obj, scope.clone()) {
        Ok(_) => {
            execution.exit_code = exit::OK;
            let value = if ends_in_expr { scope.globals.get_item_opt(VALUE_NAME, vm).ok().flatten() } else { None };
            if let Some(value) = value.filter(|v| !vm.is_none(v)) {
                execution.value = value.repr(vm).ok().map(|r| r.to_string());
            }
        }
        Err(exc) => record_error(execution, describe_exception(vm, &exc, MAIN_FILE)),
    }
}

/// Turns a final expression statement into an assignment to [`VALUE_NAME`], so the module
/// compiles in plain exec mode (RustPython's block-expression mode skips the module's
/// annotation set-up) and the value can still be read; returns whether there was one.
fn keep_last_value(body: &mut [Stmt]) -> bool {
    let Some(Stmt::Expr(last)) = body.last_mut() else { return false };
    let range = last.range;
    let value = std::mem::replace(
        &mut last.value,
        Box::new(ast::Expr::NoneLiteral(ast::ExprNoneLiteral { node_index: ast::AtomicNodeIndex::NONE, range })),
    );
    let target = ast::Expr::Name(ast::ExprName {
        node_index: ast::AtomicNodeIndex::NONE,
        range,
        id: ast::name::Name::new(VALUE_NAME),
        ctx: ast::ExprContext::Store,
    });
    if let Some(slot) = body.last_mut() {
        *slot = Stmt::Assign(ast::StmtAssign { node_index: ast::AtomicNodeIndex::NONE, range, targets: vec![target], value });
    }
    true
}

/// One top-level piece of a test file.
enum Piece {
    /// A statement that sets things up (imports, helpers, data).
    Setup(Stmt),
    /// A bare `assert`: one test.
    Assert { stmt: Stmt, text: String },
    /// A `check(...)` call (HumanEval style): one test named `check`.
    Check(Stmt),
    /// A `def test_*`: defined now, called after everything else.
    TestDef(Stmt, String),
}

fn split_tests(tests: &str, body: Vec<Stmt>) -> Vec<Piece> {
    let has_check = body.iter().any(|s| matches!(s, Stmt::FunctionDef(f) if f.name.id.as_str() == "check"));
    body.into_iter()
        .map(|stmt| match &stmt {
            Stmt::Assert(a) => {
                let text = tests[a.range.start().to_usize()..a.range.end().to_usize()].to_owned();
                Piece::Assert { stmt, text }
            }
            Stmt::FunctionDef(f) if f.name.id.as_str().starts_with("test") => {
                let name = f.name.id.as_str().to_owned();
                Piece::TestDef(stmt, name)
            }
            Stmt::Expr(e)
                if has_check
                    && matches!(&*e.value, ast::Expr::Call(c) if matches!(&*c.func, ast::Expr::Name(n) if n.id.as_str() == "check")) =>
            {
                Piece::Check(stmt)
            }
            _ => Piece::Setup(stmt),
        })
        .collect()
}

fn call_stmt(name: &str, range: rustpython_ruff_text_size::TextRange) -> Stmt {
    let func = ast::Expr::Name(ast::ExprName {
        node_index: ast::AtomicNodeIndex::NONE,
        range,
        id: ast::name::Name::new(name),
        ctx: ast::ExprContext::Load,
    });
    Stmt::Expr(ast::StmtExpr {
        node_index: ast::AtomicNodeIndex::NONE,
        range,
        value: Box::new(ast::Expr::Call(ast::ExprCall {
            node_index: ast::AtomicNodeIndex::NONE,
            range,
            func: Box::new(func),
            arguments: ast::Arguments {
                range,
                node_index: ast::AtomicNodeIndex::NONE,
                args: Box::new([]),
                keywords: Box::new([]),
            },
        })),
    })
}

fn run_tests(vm: &VirtualMachine, scope: &Scope, solution: &str, tests: &str, execution: &mut Execution) {
    execution.tests = Some(Vec::new());
    let (solution_body, solution_file) = match prepare(solution, SOLUTION_FILE) {
        Ok(p) => p,
        Err(failure) => return prepare_failure(execution, failure),
    };
    let (tests_body, tests_file) = match prepare(tests, TESTS_FILE) {
        Ok(p) => p,
        Err(failure) => return prepare_failure(execution, failure),
    };
    let pieces = split_tests(tests, tests_body);
    let names: Vec<String> = {
        let mut asserts = 0;
        let mut names = Vec::new();
        for piece in &pieces {
            match piece {
                Piece::Assert { .. } => {
                    asserts += 1;
                    names.push(format!("assert#{asserts}"));
                }
                Piece::Check(_) => names.push("check".to_owned()),
                Piece::TestDef(_, name) => names.push(name.clone()),
                Piece::Setup(_) => {}
            }
        }
        names
    };
    let not_run = |kind: &str, message: &str| -> Vec<TestCase> {
        names
            .iter()
            .map(|name| TestCase {
                name: name.clone(),
                status: TestStatus::Error { kind: kind.to_owned(), message: message.to_owned(), line: None },
            })
            .collect()
    };

    let run = |body: Vec<Stmt>, file: &SourceFile| -> Result<(), PyBaseExceptionRef> {
        let code = compile_body(vm, body, file.clone(), Mode::Exec)
            .map_err(|e| vm.new_syntax_error(&e, None))?;
        vm.run_code_obj(code, scope.clone()).map(drop)
    };
    if let Err(exc) = run(solution_body, &solution_file) {
        let raised = describe_exception(vm, &exc, SOLUTION_FILE);
        execution.tests = Some(not_run(&raised.kind, &format!("the solution failed: {}", raised.message)));
        return record_error(execution, raised);
    }

    let mut results = Vec::new();
    let mut deferred = Vec::new();
    let mut index = 0;
    let stopped = |vm: &VirtualMachine, exc: &PyBaseExceptionRef| {
        exc.as_object().fast_isinstance(vm.ctx.exceptions.keyboard_interrupt)
            || !exc.as_object().fast_isinstance(vm.ctx.exceptions.exception_type)
    };
    let mut failure: Option<Raised> = None;
    let mut outcome_of = |exc: PyBaseExceptionRef, text: Option<&str>| -> (TestStatus, bool) {
        let raised = describe_exception(vm, &exc, TESTS_FILE);
        let fatal = stopped(vm, &exc);
        let status = if !fatal && exc.as_object().fast_isinstance(vm.ctx.exceptions.assertion_error) {
            let message = if raised.message.is_empty() {
                text.map(str::to_owned).unwrap_or_else(|| {
                    raised
                        .line
                        .and_then(|l| tests.lines().nth(l as usize - 1))
                        .map(|l| l.trim().to_owned())
                        .unwrap_or_else(|| "assertion failed".to_owned())
                })
            } else {
                raised.message.clone()
            };
            TestStatus::Failed { message, line: raised.line }
        } else {
            TestStatus::Error { kind: raised.kind.clone(), message: raised.message.clone(), line: raised.line }
        };
        if fatal {
            failure = Some(raised);
        }
        (status, fatal)
    };
    let mut aborted = false;
    for piece in pieces {
        if aborted {
            break;
        }
        match piece {
            Piece::Setup(stmt) => {
                if let Err(exc) = run(vec![stmt], &tests_file) {
                    let raised = describe_exception(vm, &exc, TESTS_FILE);
                    let message = format!("not run: the test setup failed: {}", raised.message);
                    execution.tests = Some(complete(results, &names, &raised.kind, &message));
                    return record_error(execution, raised);
                }
            }
            Piece::TestDef(stmt, name) => {
                let range = stmt.range();
                match run(vec![stmt], &tests_file) {
                    Ok(()) => deferred.push((index, name, range)),
                    Err(exc) => {
                        let (status, fatal) = outcome_of(exc, None);
                        results.push((index, TestCase { name, status }));
                        aborted = fatal;
                    }
                }
                index += 1;
            }
            Piece::Assert { stmt, text } => {
                let status = match run(vec![stmt], &tests_file) {
                    Ok(()) => TestStatus::Passed,
                    Err(exc) => {
                        let (status, fatal) = outcome_of(exc, Some(&text));
                        aborted = fatal;
                        status
                    }
                };
                results.push((index, TestCase { name: names[index].clone(), status }));
                index += 1;
            }
            Piece::Check(stmt) => {
                let status = match run(vec![stmt], &tests_file) {
                    Ok(()) => TestStatus::Passed,
                    Err(exc) => {
                        let (status, fatal) = outcome_of(exc, None);
                        aborted = fatal;
                        status
                    }
                };
                results.push((index, TestCase { name: "check".to_owned(), status }));
                index += 1;
            }
        }
    }
    for (i, name, range) in deferred {
        if aborted {
            break;
        }
        let status = match run(vec![call_stmt(&name, range)], &tests_file) {
            Ok(()) => TestStatus::Passed,
            Err(exc) => {
                let (status, fatal) = outcome_of(exc, None);
                aborted = fatal;
                status
            }
        };
        results.push((i, TestCase { name, status }));
    }
    let why = failure.as_ref().map(|r| r.kind.clone()).unwrap_or_default();
    let cases = complete(results, &names, &why, "not run: an earlier test stopped the run");
    if let Some(raised) = failure {
        record_error(execution, raised);
    } else {
        execution.exit_code = exit::OK;
    }
    execution.tests = Some(cases);
}

/// The tests that ran, in source order, followed by an error entry for each test that did not.
fn complete(mut ran: Vec<(usize, TestCase)>, names: &[String], kind: &str, message: &str) -> Vec<TestCase> {
    ran.sort_by_key(|(i, _)| *i);
    let done: std::collections::HashSet<usize> = ran.iter().map(|(i, _)| *i).collect();
    let mut cases: Vec<TestCase> = ran.into_iter().map(|(_, c)| c).collect();
    for (_, name) in names.iter().enumerate().filter(|(i, _)| !done.contains(i)) {
        cases.push(TestCase {
            name: name.clone(),
            status: TestStatus::Error { kind: kind.to_owned(), message: message.to_owned(), line: None },
        });
    }
    cases
}

/// Labels a test stopped by a limit with the limit's name.
pub(crate) fn relabel_stopped_tests(report: &mut TestReport, why: Stop) {
    for case in &mut report.tests {
        if let TestStatus::Error { kind, message, .. } = &mut case.status
            && (kind == "KeyboardInterrupt" || kind == "ResourceLimit")
        {
            *kind = why.kind().to_owned();
            *message = format!("edgecoder: {}", why.describe());
        }
    }
}
