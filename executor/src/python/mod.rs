//! The Python half of the executor, on RustPython 0.5 built without host access.
//!
//! A program goes through three walls:
//! 1. the static subset check ([`check`]): RustPython's own parser (ruff's AST) and stable reason
//!    codes for what the device will not run (`SUBSET.md`);
//! 2. instrumentation: the checked AST gets probes at loop iterations, function entries and the
//!    operators that can build a huge object in one step (see `instrument.rs`), which drive the
//!    deterministic step budget and the memory budget;
//! 3. a sandboxed interpreter: no `os`, files, sockets, threads or signals are compiled in; the
//!    import guard, `open`, `eval`/`exec`/`compile`, the `getattr` family and `sys` are replaced
//!    by guarded versions; output is captured under a budget; the wall clock interrupts it.
//!
//! Each run gets a fresh interpreter from a pool of pre-built ones ([`warm_up`]), so no state
//! survives from one run to the next.

mod fixes;
mod harden;
mod heap;
mod instrument;
mod pool;
mod runtime;
mod subset;

pub use heap::HeapCounter;

use crate::{Limits, RunResult, SubsetViolation, TestReport};

#[cfg(test)]
#[global_allocator]
static TEST_HEAP: HeapCounter = HeapCounter;

/// Applies the Python subset check: `Ok(())` when the program may run on the device. A syntax
/// error is not a violation (the run reports it).
pub fn check(code: &str) -> Result<(), SubsetViolation> {
    subset::check(code)
}

/// Runs a Python program under `limits` in this process. The subset check is applied again
/// (the run refuses what [`check`] refuses), so calling this directly is safe.
pub fn run(code: &str, limits: &Limits) -> RunResult {
    let span = tracing::info_span!("python_run", bytes = code.len());
    let _entered = span.enter();
    let result = pool::execute(runtime::Work::Run { code: code.to_owned() }, limits).run;
    tracing::debug!(outcome = result.outcome.label(), steps = result.steps, us = result.wall_time_us, "python run done");
    result
}

/// Runs `solution`, then `tests` in the same namespace, and reports each test: every top-level
/// `assert` (`assert#N`), every `def test_*()` (called after all top-level statements), and a
/// HumanEval-style top-level `check(...)` call when the tests define `check` (named `check`).
pub fn run_tests(solution: &str, tests: &str, limits: &Limits) -> TestReport {
    let span = tracing::info_span!("python_tests", solution_bytes = solution.len(), tests_bytes = tests.len());
    let _entered = span.enter();
    let work = runtime::Work::Tests { solution: solution.to_owned(), tests: tests.to_owned() };
    let report = pool::execute(work, limits);
    tracing::debug!(passed = report.passed(), failed = report.failed(), outcome = report.run.outcome.label(), "python tests done");
    report
}

/// Declares that this process runs one program and exits (a sandbox child): Python runs then
/// get an interpreter built for them alone instead of starting the pool.
#[cfg(all(unix, not(edgecoder_portable)))] // only sandbox children call it
pub(crate) fn one_run_per_process() {
    pool::one_run_per_process();
}

/// Declares that this process runs one program and exits, and starts building its interpreter
/// (with the common modules imported) before the program is known: a warm sandbox child.
/// [`wait_until_ready`] tells when it is built.
#[cfg(all(unix, not(edgecoder_portable)))] // only sandbox children call it
pub(crate) fn one_warm_run_per_process() {
    pool::one_warm_run_per_process();
}

/// Starts the interpreter pool if needed and waits until an interpreter is built and idle, or
/// `timeout` passed; returns whether one is. A run started then pays no interpreter start-up
/// (runs back to back faster than the pool rebuilds interpreters do).
pub fn wait_until_ready(timeout: std::time::Duration) -> bool {
    pool::wait_until_ready(timeout)
}

/// Starts the interpreter pool in the background, so the first run does not pay for
/// interpreter start-up. Optional: the first run starts the pool anyway.
pub fn warm_up() {
    pool::warm_up();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Outcome, ReasonCode, TestStatus};

    fn limits() -> Limits {
        Limits { wall_time_ms: 10_000, ..Limits::default() }
    }

    fn run_ok(code: &str) -> RunResult {
        let r = run(code, &limits());
        assert_eq!(r.outcome, Outcome::Ok, "{code}\nstdout: {}\nstderr: {}", r.stdout, r.stderr);
        r
    }

    #[test]
    fn prints_and_the_last_expression_value() {
        let r = run_ok("print('hi', 1 + 1)\nx = [1, 2]\nx + [3]");
        assert_eq!(r.stdout, "hi 2\n");
        assert_eq!(r.value.as_deref(), Some("[1, 2, 3]"));
        assert_eq!(r.exit_code, 0);
        assert!(r.steps == 0 || r.steps < 10, "{}", r.steps);
        assert_eq!(run_ok("print('x')").value, None);
        assert_eq!(run_ok("'a' * 3").value.as_deref(), Some("'aaa'"));
    }

    #[test]
    fn language_features_work() {
        let code = r#"
import math, itertools, functools, collections, heapq, bisect, re, string, json, typing
import dataclasses, enum, fractions, decimal, statistics, random, operator, copy, textwrap, datetime, cmath
from dataclasses import dataclass
from collections import Counter, defaultdict, deque
from io import StringIO
import sys

@dataclass
class P:
    x: int
    y: int = 0
    def norm(self):
        return math.hypot(self.x, self.y)

class Color(enum.Enum):
    RED = 1

def gen(n):
    for i in range(n):
        yield i * i

def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)

class Ctx:
    def __enter__(self):
        return self
    def __exit__(self, *a):
        return False

try:
    1 / 0
except ZeroDivisionError as e:
    err = str(e)
with Ctx() as c:
    pass
out = [
    P(3, 4).norm(), list(gen(4)), {k: v for k, v in Counter('aab').items()}, 2 ** 100, fib(15),
    f"{3.14159:.2f}", Color.RED.name, json.dumps({'a': [1, 2]}), re.findall(r'\d+', 'a1b22'),
    str(fractions.Fraction(1, 3) + fractions.Fraction(1, 6)), str(decimal.Decimal('0.1') + decimal.Decimal('0.2')),
    statistics.mean([1, 2, 3, 4]), heapq.nsmallest(2, [5, 1, 3]), bisect.bisect([1, 2, 4], 3),
    functools.reduce(operator.mul, range(1, 6)), list(itertools.combinations('abc', 2))[0],
    copy.deepcopy({'a': [1]}), textwrap.shorten('hello world foo', 12), datetime.date(2024, 1, 31).isoformat(),
    string.ascii_lowercase[:3], err, cmath.sqrt(-1), typing.Optional[int] is not None, sys.maxsize > 0,
    sorted(deque([3, 1, 2])), defaultdict(int)['x'], random.randint(1, 1),
]
s = StringIO()
s.write('ok')
print(out, s.getvalue())
"#;
        let r = run_ok(code);
        assert!(r.stdout.contains("5.0, [0, 1, 4, 9], {'a': 2, 'b': 1}, 1267650600228229401496703205376, 610"), "{}", r.stdout);
        assert!(r.stdout.contains("'3.14', 'RED', '{\"a\": [1, 2]}', ['1', '22'], '1/2', '0.3', 2.5, [1, 3], 2, 120, ('a', 'b')"), "{}", r.stdout);
        assert!(r.stdout.contains("'2024-01-31', 'abc', 'division by zero', 1j, True, True, [1, 2, 3], 0, 1] ok"), "{}", r.stdout);
    }

    #[test]
    fn every_allowlisted_module_imports() {
        let failures: Vec<String> = subset::ALLOWED_MODULES
            .iter()
            .filter_map(|m| {
                let r = run(&format!("import {m}"), &limits());
                (r.outcome != Outcome::Ok).then(|| format!("{m}: {:?}", r.outcome))
            })
            .collect();
        assert!(failures.is_empty(), "{failures:#?}");
    }

    #[test]
    fn uncaught_errors_report_kind_message_and_line() {
        let r = run("x = 1\n\ndef f():\n    return {}['k']\nf()", &limits());
        assert_eq!(
            r.outcome,
            Outcome::Error { kind: "KeyError".into(), message: "'k'".into(), line: Some(4) }
        );
        assert_eq!(r.exit_code, 1);
        assert!(r.stderr.contains("KeyError"), "{}", r.stderr);
        let r = run("def f(:\n  pass", &limits());
        assert!(matches!(&r.outcome, Outcome::Error { kind, line: Some(1), .. } if kind == "SyntaxError"), "{:?}", r.outcome);
        let r = run("import sys\nprint('a')\nsys.exit(3)", &limits());
        assert_eq!((r.exit_code, r.stdout.as_str()), (3, "a\n"));
        assert_eq!(run("import sys\nsys.exit(0)", &limits()).outcome, Outcome::Ok);
    }

    #[test]
    fn code_outside_the_subset_is_refused_by_run_too() {
        let r = run("import os\nprint(os.getcwd())", &limits());
        assert!(matches!(r.outcome, Outcome::OutsideSubset { code: ReasonCode::PyImportDenied, line: 1, .. }), "{:?}", r.outcome);
        assert_eq!(r.stdout, "");
    }

    #[test]
    fn run_time_guards_stand_behind_the_check() {
        // Dynamic names the static check cannot see are refused when they run.
        let r = run("m = __import__('o' + 's')", &limits());
        assert!(matches!(&r.outcome, Outcome::OutsideSubset { code: ReasonCode::PyDynamicEval, .. }), "{:?}", r.outcome);
        for (code, kind) in [
            ("m = eval(\"__import__('os')\")", "PermissionError"),
            ("exec('import os')", "PermissionError"),
            ("f = lambda: 0\ngetattr(f, '__glo' + 'bals__')", "PermissionError"),
            ("b = eval('open')\nb('/etc/passwd')", "PermissionError"),
            ("import sys\nsys.modules", "AttributeError"),
        ] {
            let r = run(code, &limits());
            assert!(matches!(&r.outcome, Outcome::Error { kind: k, .. } if k == kind), "{code}: {:?}", r.outcome);
        }
        let r = run("x = eval('1 + 2')\nexec('y = x * 2')\ny", &limits());
        assert_eq!(r.value.as_deref(), Some("6"), "{:?}", r.outcome);
    }

    #[test]
    fn introspection_is_guarded_on_every_path_and_the_library_keeps_its_own() {
        for code in [
            "type.__dict__['__sub' + 'classes__'](object)",
            "vars(type)['__getattri' + 'bute__'](object, '__sub' + 'classes__')()",
            "import json\n('{0.__glo' + 'bals__}').format(json.dumps)",
            "import operator, json\noperator.attrgetter('__co' + 'de__')(json.dumps)",
            "import copy, json\nclass E:\n    def __reduce_ex__(self, p):\n        return (getattr, (json.dumps, '__glo' + 'bals__'))\ncopy.copy(E())",
            "type(print).__dict__['__se' + 'lf__'].__get__(print)",
            "import typing\nvars(vars(typing)['sys'])['_get' + 'frame'](0)",
        ] {
            let r = run(code, &limits());
            assert!(matches!(&r.outcome, Outcome::Error { kind, .. } if kind == "PermissionError"), "{code}: {:?}", r.outcome);
        }
        let r = run("exec(\"m = vars()['__buil' + 'tins__']\", g := {})\nb = g['m']\n(b if isinstance(b, dict) else vars(b))['__imp' + 'ort__']('ti' + 'me')", &limits());
        assert!(matches!(&r.outcome, Outcome::Error { kind, .. } if kind == "ModuleNotFoundError"), "{:?}", r.outcome);
        let library = "\
import collections.abc, dataclasses, enum, functools, typing
from collections import namedtuple
@dataclasses.dataclass
class P:
    x: int
    y: 'int' = 0
class Color(enum.Enum):
    RED = 1
@functools.singledispatch
def show(v):
    return 'any'
@show.register
def _(v: int):
    return 'int'
Pt = namedtuple('Pt', 'a b')
def f(a: 'int') -> 'str':
    return str(a)
[isinstance([], collections.abc.Sequence), isinstance(3, collections.abc.Sequence), P(1), Color.RED.name, show(1), show('x'), Pt(1, 2).b, typing.get_type_hints(f)['a'].__name__]";
        assert_eq!(
            run_ok(library).value.as_deref(),
            Some("[True, False, P(x=1, y=0), 'RED', 'int', 'any', 2, 'int']")
        );
    }

    #[test]
    fn an_infinite_loop_hits_the_step_limit_deterministically() {
        let l = Limits { steps: 100_000, ..limits() };
        let a = run("i = 0\nwhile True:\n    i += 1", &l);
        let b = run("i = 0\nwhile True:\n    i += 1", &l);
        assert_eq!(a.outcome, Outcome::StepLimit);
        assert_eq!(a.exit_code, 125);
        assert_eq!((a.steps, a.outcome.clone()), (b.steps, b.outcome));
        let swallow = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass";
        assert_eq!(run(swallow, &l).outcome, Outcome::StepLimit);
        let comp = run("sum(x for x in range(10**9))", &l);
        assert_eq!(comp.outcome, Outcome::StepLimit);
        let rec = run("def f(n):\n    return f(n + 1) if n < 50 else g(0)\ndef g(n):\n    return f(0)\nf(0)", &l);
        assert!(matches!(rec.outcome, Outcome::StepLimit | Outcome::Error { .. }), "{:?}", rec.outcome);
    }

    #[test]
    fn the_same_program_uses_the_same_steps_every_run() {
        let code = "def f(n):\n    return sum(i * i for i in range(n))\n[f(k) for k in range(50)]";
        let first = run_ok(code);
        for _ in 0..3 {
            let again = run_ok(code);
            assert_eq!((again.steps, &again.value), (first.steps, &first.value));
        }
        assert!(first.steps > 1_000, "{}", first.steps);
    }

    #[test]
    fn the_wall_clock_stops_a_program_without_a_step_budget() {
        let l = Limits { wall_time_ms: 200, steps: u64::MAX, ..limits() };
        let r = run("while True:\n    pass", &l);
        assert_eq!(r.outcome, Outcome::Timeout);
        assert_eq!(r.exit_code, 124);
        let r = run("while True:\n    try:\n        while True: pass\n    except:\n        pass", &l);
        assert_eq!(r.outcome, Outcome::Timeout);
    }

    #[test]
    fn output_is_capped_with_a_marker() {
        let l = Limits { output_bytes: 100, ..limits() };
        let r = run("while True:\n    print('flood' * 10)", &l);
        assert_eq!(r.outcome, Outcome::OutputLimit);
        assert_eq!(r.exit_code, 141);
        assert!(r.stdout.starts_with("floodflood"));
        assert!(r.stdout.ends_with("[output truncated: budget of 100 bytes reached]\n"), "{}", r.stdout);
        assert!(r.stdout.len() < 200);
        let r = run("import sys\nsys.stderr.write('e' * 1000)", &l);
        assert_eq!(r.outcome, Outcome::OutputLimit);
    }

    #[test]
    fn memory_bombs_end_in_memory_limit_and_the_host_survives() {
        let l = Limits { memory_bytes: 64 * 1024 * 1024, ..limits() };
        for code in [
            "'a' * 10**10",
            "[0] * 10**10",
            "x = 10**10**10",
            "x = 1 << 10**12",
            "pow(7, 10**12)",
            "import operator\noperator.mul([1], 10**11)",
            "b = b'x'\nb *= 10**11",
            "x = [0]\nwhile True:\n    x = x + x",
            "x = ['a']\nwhile True:\n    x.extend(x)",
            "s = 'ab'\nwhile True:\n    s = s * 2",
            "b = bytearray(10**10)\nprint(len(b))",
            "b = bytes(10**10)",
        ] {
            let r = run(code, &l);
            assert_eq!(r.outcome, Outcome::MemoryLimit, "{code}: {} {}", r.stdout, r.stderr);
            assert_eq!(r.exit_code, 137);
        }
        // Big but affordable numbers still work.
        assert_eq!(run_ok("len(str(2 ** 10000))").value.as_deref(), Some("3011"));
    }

    #[test]
    fn cpython_behaviour_where_rustpython_differs() {
        for (code, value) in [
            ("x: int = 1\nx + 1", "2"),
            ("from collections import namedtuple\nP = namedtuple('P', 'x y')\nP(1, 2)", "P(x=1, y=2)"),
            ("class A: pass\nclass B(A): pass\n[c.__name__ for c in B.__mro__]", "['B', 'A', 'object']"),
            ("def d(n):\n    return 0 if n == 0 else 1 + d(n - 1)\nd(900)", "900"),
            ("[round(2.675, 2), round(0.125, 2), round(2.5), round(-0.5)]", "[2.67, 0.12, 2, 0]"),
            ("[3 - (1+0j), (1j) ** 2, (1 + 2j) / (1 - 1j)]", "[(2+0j), (-1+0j), (-0.5+1.5j)]"),
            ("str(SyntaxError('unexpected $'))", "'unexpected $'"),
        ] {
            assert_eq!(run_ok(code).value.as_deref(), Some(value), "{code}");
        }
    }

    #[test]
    fn native_calls_stop_at_the_memory_budget() {
        let l = Limits { memory_bytes: 64 * 1024 * 1024, ..limits() };
        for code in ["x = list(range(10**9))", "s = 'x'.ljust(10**10)", "d = dict.fromkeys(range(10**8))"] {
            let r = run(code, &l);
            assert_eq!(r.outcome, Outcome::MemoryLimit, "{code}: {} {}", r.stdout, r.stderr);
        }
        assert_eq!(run_ok("len(list(range(10**5)))").value.as_deref(), Some("100000"));
    }

    /// A thread that builds an interpreter and drops it unused (a pool shutting down, an
    /// abandoned run) must end without aborting the process from its thread-local destructors.
    #[test]
    fn a_thread_that_drops_an_unused_interpreter_ends_cleanly() {
        let ended = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(|| {
                drop(runtime::Warm::build(runtime::Preload::Yes));
                drop(runtime::Warm::build(runtime::Preload::No));
            })
            .unwrap()
            .join();
        assert!(ended.is_ok());
        assert!(run_ok("print(6 * 7)").stdout == "42\n");
    }

    #[test]
    fn runs_cannot_see_each_other() {
        let polluter = "import math\nimport collections\nimport json\nmath.pi = 3\ncollections.Counter.extra = 1\njson.dumps = None\nsecret = 42\nlen = None\nprint('polluted')";
        assert_eq!(run_ok(polluter).stdout, "polluted\n");
        for _ in 0..4 {
            let r = run_ok(
                "import math, collections, json\n[math.pi, hasattr(collections.Counter, 'extra'), json.dumps([1]), 'secret' in globals(), len('ab')]",
            );
            assert_eq!(r.value.as_deref(), Some("[3.141592653589793, False, '[1]', False, 2]"));
        }
        let r = run_ok("try:\n    int.extra = 1\nexcept TypeError:\n    pass\nhasattr(int, 'extra')");
        assert_eq!(r.value.as_deref(), Some("False"));
    }

    #[test]
    fn random_is_reproducible() {
        let code = "import random\n[random.random() for _ in range(3)]";
        assert_eq!(run_ok(code).value, run_ok(code).value);
        let code = "print({'b', 'a', 'c', 'dd', 'e'})";
        assert_eq!(run_ok(code).stdout, run_ok(code).stdout);
    }

    #[test]
    fn deep_recursion_is_an_error_not_a_crash() {
        let r = run("import sys\nsys.setrecursionlimit(10**6)\ndef f(n):\n    return f(n + 1)\nf(0)", &limits());
        assert!(matches!(&r.outcome, Outcome::Error { kind, .. } if kind == "RecursionError"), "{:?}", r.outcome);
        let r = run_ok("import sys\nsys.setrecursionlimit(2500)\ndef f(n):\n    return 0 if n == 0 else 1 + f(n - 1)\nf(2000)");
        assert_eq!(r.value.as_deref(), Some("2000"));
    }

    #[test]
    fn tests_are_found_and_reported_one_by_one() {
        let solution = "def add(a, b):\n    return a + b\n";
        let tests = "assert add(1, 2) == 3\nassert add(1, 1) == 3, 'one plus one'\nassert add(2, 2) == 5\nassert add('a', 1)\n\ndef test_zero():\n    assert add(0, 0) == 0\n\ndef test_neg():\n    assert add(-1, -1) == -3\n";
        let report = run_tests(solution, tests, &limits());
        let names: Vec<&str> = report.tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["assert#1", "assert#2", "assert#3", "assert#4", "test_zero", "test_neg"]);
        assert_eq!(report.tests[0].status, TestStatus::Passed);
        assert_eq!(report.tests[1].status, TestStatus::Failed { message: "one plus one".into(), line: Some(2) });
        assert_eq!(
            report.tests[2].status,
            TestStatus::Failed { message: "assert add(2, 2) == 5".into(), line: Some(3) }
        );
        assert!(matches!(&report.tests[3].status, TestStatus::Error { kind, line: Some(4), .. } if kind == "TypeError"));
        assert_eq!(report.tests[4].status, TestStatus::Passed);
        assert_eq!(
            report.tests[5].status,
            TestStatus::Failed { message: "assert add(-1, -1) == -3".into(), line: Some(10) }
        );
        assert!(!report.all_passed());
        assert_eq!(report.passed(), 2);
        assert_eq!(report.run.outcome, Outcome::Ok);
    }

    #[test]
    fn humaneval_style_check_is_one_test() {
        let solution = "def inc(x):\n    return x + 1\n";
        let tests = "METADATA = {}\n\ndef check(candidate):\n    assert candidate(1) == 2\n    assert candidate(5) == 6\n\ncheck(inc)\n";
        let report = run_tests(solution, tests, &limits());
        assert_eq!(report.tests.len(), 1);
        assert_eq!(report.tests[0].name, "check");
        assert!(report.all_passed(), "{report:?}");
        let wrong = run_tests("def inc(x):\n    return None\n", tests, &limits());
        assert!(matches!(&wrong.tests[0].status, TestStatus::Failed { line: Some(4), .. }), "{wrong:?}");
        assert!(!wrong.all_passed());
    }

    #[test]
    fn no_tests_is_not_a_pass_and_failures_before_tests_are_reported() {
        let report = run_tests("x = 1", "y = 2", &limits());
        assert!(report.tests.is_empty());
        assert!(!report.all_passed());
        let broken = run_tests("raise ValueError('boom')", "assert True", &limits());
        assert!(matches!(&broken.tests[0].status, TestStatus::Error { kind, .. } if kind == "ValueError"), "{broken:?}");
        assert!(!broken.all_passed());
        let looping = run_tests(
            "def f():\n    while True:\n        pass",
            "assert f() is None\nassert True",
            &Limits { steps: 10_000, ..limits() },
        );
        assert_eq!(looping.run.outcome, Outcome::StepLimit);
        assert!(matches!(&looping.tests[0].status, TestStatus::Error { kind, .. } if kind == "StepLimit"), "{looping:?}");
        assert!(matches!(&looping.tests[1].status, TestStatus::Error { .. }), "{looping:?}");
    }

    /// Prints what building one sandboxed interpreter costs, with and without the preloaded
    /// modules (run with `--ignored --nocapture`): the pool's refill rate and a sandbox child's
    /// start-up depend on it.
    #[test]
    #[ignore]
    fn print_interpreter_build_time() {
        let measure = || for preload in [runtime::Preload::No, runtime::Preload::Yes] {
            let mut times: Vec<u128> = (0..10)
                .map(|_| {
                    let t = std::time::Instant::now();
                    let warm = runtime::Warm::build(preload);
                    let built = t.elapsed().as_micros();
                    drop(warm);
                    built
                })
                .collect();
            times.sort_unstable();
            println!("interpreter build ({preload:?}): p50 {} us, min {} us", times[5], times[0]);
        };
        std::thread::Builder::new().stack_size(256 << 20).spawn(measure).unwrap().join().unwrap();
    }

    /// Prints this process's resident memory every 20 of 100 runs (run with `--ignored
    /// --nocapture`): it must level off, since every interpreter is torn down after its run.
    #[test]
    #[ignore]
    fn print_rss_across_runs() {
        let rss = || {
            std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmRSS:")).map(|v| v.trim().to_owned()))
                .unwrap_or_default()
        };
        let code = "import collections, json\ndef add(a, b):\n    return a + b\nassert add(1, 2) == 3\nclass P:\n    pass\n[P() for _ in range(100)]";
        for i in 1..=100 {
            assert_eq!(run(code, &limits()).outcome, Outcome::Ok);
            if i % 20 == 0 {
                println!("after {i} runs: RSS {}", rss());
            }
        }
    }

    /// The names of the live classes (heap types), found through the subclass lists of `object`.
    fn live_class_names() -> Vec<String> {
        fn walk(ty: &rustpython_vm::Py<rustpython_vm::builtins::PyType>, seen: &mut std::collections::HashSet<usize>, out: &mut Vec<String>) {
            let subs: Vec<rustpython_vm::builtins::PyTypeRef> = ty
                .subclasses
                .read()
                .iter()
                .filter_map(|w| w.upgrade())
                .filter_map(|o| o.downcast::<rustpython_vm::builtins::PyType>().ok())
                .collect();
            for sub in subs {
                if seen.insert(rustpython_vm::AsObject::get_id(&sub)) {
                    walk(&sub, seen, out);
                    if sub.heaptype_ext.is_some() {
                        out.push(sub.name().to_string());
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(rustpython_vm::Context::genesis().types.object_type, &mut Default::default(), &mut out);
        out
    }

    /// Builds, runs `code` in and tears down `n` interpreters on one thread.
    fn run_interpreters(n: usize, preload: runtime::Preload, code: &str) {
        for _ in 0..n {
            let warm = runtime::Warm::build(preload);
            let ctl = std::sync::Arc::new(runtime::Control::new(&limits()));
            warm.execute(&runtime::Work::Run { code: code.into() }, &limits(), &ctl, |done| {
                assert_eq!(done.outcome, None, "the program failed: {done:?}");
            });
        }
    }

    #[test]
    fn classes_of_a_run_and_the_standard_library_die_with_the_interpreter() {
        // Every allowlisted module, classes with metaclasses, `super()`, annotated methods,
        // instances, enums, dataclasses, generics, and a `__del__` that raises while teardown
        // frees the globals.
        let code = "import json, re, random, collections, functools, itertools, heapq, bisect, string, \
                    operator, copy, math, fractions, decimal, statistics, dataclasses, enum, abc, \
                    datetime, textwrap, typing\n\
                    T = typing.TypeVar('T')\n\
                    class Box(typing.Generic[T]):\n    def get(self, x: T) -> T:\n        return x\n\
                    class A(abc.ABC):\n    def __init__(self):\n        super().__init__()\n\
                    class B(A):\n    pass\n\
                    class Color(enum.Enum):\n    RED = 1\n\
                    @dataclasses.dataclass\nclass P:\n    x: int = 0\n\
                    class Loud:\n    def __del__(self):\n        raise ValueError('freed')\n\
                    loud = Loud()\n\
                    Box.kept = Loud()\n\
                    objs = [B(), P(1), Color.RED, collections.OrderedDict(a=1), fractions.Fraction(1, 3), Box[int]().get(1)]\n";
        let check = move || {
            for preload in [runtime::Preload::No, runtime::Preload::Yes] {
                run_interpreters(2, preload, code);
                let before = live_class_names().len();
                run_interpreters(5, preload, code);
                let mut after = live_class_names();
                after.sort();
                assert_eq!(after.len(), before, "{preload:?}: classes outlived their interpreters: {after:?}");
            }
        };
        std::thread::Builder::new().stack_size(256 << 20).spawn(check).unwrap().join().unwrap();
    }

    /// Prints, every 10 of 40 interpreters built (with the preloaded modules), run and torn
    /// down on one thread, how many classes are still alive, which, and the resident memory
    /// (run with `--ignored --nocapture`): both numbers must stay flat.
    #[test]
    #[ignore]
    fn print_live_classes_across_interpreters() {
        let measure = || {
            for i in 1..=4 {
                run_interpreters(10, runtime::Preload::Yes, "class P:\n    pass\nimport json");
                let mut names = live_class_names();
                let rss = std::fs::read_to_string("/proc/self/status").ok().and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmRSS:")).map(|v| v.trim().to_owned())).unwrap_or_default();
                println!("after {} interpreters: {} live classes, RSS {rss}", i * 10, names.len());
                if i == 4 {
                    names.sort();
                    names.dedup();
                    println!("live classes: {names:?}");
                }
            }
        };
        std::thread::Builder::new().stack_size(256 << 20).spawn(measure).unwrap().join().unwrap();
    }

    /// Prints the in-process latency of a function plus three asserts on a warm pool (run with
    /// `--ignored --nocapture`, ideally in release): end to end as the caller sees it, and the
    /// run itself inside the worker. Not a benchmark gate: `edgecoder bench executor` is.
    #[test]
    #[ignore]
    fn print_latency_of_a_small_test_run() {
        warm_up();
        let pause = std::time::Duration::from_millis(1500);
        std::thread::sleep(pause);
        let solution = "def add(a, b):\n    return a + b\n";
        let tests = "assert add(1, 2) == 3\nassert add(0, 0) == 0\nassert add(-1, 1) == 0\n";
        let (mut end_to_end, mut inside) = (Vec::new(), Vec::new());
        for _ in 0..30 {
            let t = std::time::Instant::now();
            let report = run_tests(solution, tests, &limits());
            end_to_end.push(t.elapsed().as_micros() as u64);
            inside.push(report.run.wall_time_us);
            assert!(report.all_passed());
            std::thread::sleep(pause);
        }
        end_to_end.sort_unstable();
        inside.sort_unstable();
        let pct = |v: &[u64], p: usize| v[(v.len() - 1) * p / 100];
        println!(
            "python run_tests on a warm pool: end-to-end p50 {} us p95 {} us; run inside the worker p50 {} us p95 {} us",
            pct(&end_to_end, 50), pct(&end_to_end, 95), pct(&inside, 50), pct(&inside, 95)
        );
    }
}
