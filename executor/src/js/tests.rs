//! Unit tests of the JavaScript executor: subset codes, limits, capture, tests, isolation.

use super::*;
use crate::ReasonCode;

fn limits() -> Limits {
    Limits {
        wall_time_ms: 10_000,
        steps: 20_000_000,
        memory_bytes: 64 * 1024 * 1024,
        output_bytes: 4096,
        ..Limits::default()
    }
}

fn violation(code: &str) -> SubsetViolation {
    check(code).expect_err(code)
}

fn error_kind(r: &RunResult) -> (&str, &str, Option<u32>) {
    match &r.outcome {
        Outcome::Error { kind, message, line } => (kind.as_str(), message.as_str(), *line),
        other => panic!("expected an error, got {other:?} (stderr: {})", r.stderr),
    }
}

// ---- subset check ---------------------------------------------------------------------------

#[test]
fn module_syntax_and_require_are_js_module() {
    let v = violation("const x = 1;\nconst fs = require('fs');\n");
    assert_eq!(v.code, ReasonCode::JsModule);
    assert_eq!((v.line, v.col), (2, 12));
    assert_eq!(v.construct, "require('fs')");
    assert!(
        v.message.contains("uses `require('fs')` (JS_MODULE) at line 2, col 12"),
        "{}",
        v.message
    );
    assert!(v.message.contains("edgecoder queue"), "{}", v.message);
    for code in [
        "import fs from 'fs';",
        "import { readFileSync } from 'node:fs';\nreadFileSync('x');",
        "export const a = 1;",
        "export default function f() {}",
        "export * from 'x';",
        "const m = import('fs');",
        "console.log(import.meta.url);",
        "const r = require; r('fs');",
        "require(name);",
        "globalThis.require('fs');",
    ] {
        assert_eq!(violation(code).code, ReasonCode::JsModule, "{code}");
    }
}

#[test]
fn positions_count_characters_and_lines_in_any_line_ending() {
    let v = violation("const café = 'é';\r\n/* ☃ */ const x = 1; eval('x');\r\n");
    assert_eq!((v.line, v.col), (2, 22));
    assert_eq!(v.construct, "eval");
    // A long construct is cut to its first line and 60 characters.
    let long = format!("fetch('{}'\n);", "a".repeat(100));
    let v = violation(&long);
    assert!(v.construct.chars().count() <= 62 && v.construct.ends_with('…'), "{}", v.construct);
}

#[test]
fn empty_and_comment_only_programs_run() {
    for code in ["", "// nothing", "/* nothing */\n\n", ";;"] {
        assert_eq!(check(code), Ok(()));
        let r = run(code, &limits());
        assert_eq!(
            (r.outcome.clone(), r.value.clone(), r.exit_code),
            (Outcome::Ok, None, 0),
            "{code:?}"
        );
    }
}

#[test]
fn dynamic_code_is_js_dynamic_eval() {
    for code in [
        "eval('1 + 1');",
        "const e = eval; e('1');",
        "new Function('a', 'return a')(1);",
        "Function('return this')();",
        "setTimeout('alert(1)', 10);",
        "[].constructor.constructor('return this')();",
        "''['constructor']['constructor']('return 1')();",
        "(function(){}).constructor('return 1')();",
        "(() => 1).constructor('return 1');",
        "Object.getPrototypeOf(function*(){}).constructor('yield 1');",
        "Reflect.construct(Function, ['return 1']);",
        "globalThis.eval('1');",
    ] {
        assert_eq!(violation(code).code, ReasonCode::JsDynamicEval, "{code}");
    }
}

#[test]
fn host_apis_are_js_host_api() {
    for code in [
        "process.exit(1);",
        "fetch('http://example.com');",
        "new XMLHttpRequest();",
        "Deno.readTextFile('x');",
        "Bun.file('x');",
        "globalThis.os.exec(['ls']);",
        "globalThis.std.loadFile('/etc/passwd');",
        "new WebAssembly.Module(bytes);",
        "new SharedArrayBuffer(8);",
        "Atomics.wait(a, 0, 0);",
        "new Worker('w.js');",
        "setTimeout(() => 1, 10);",
        "window.fetch('x');",
    ] {
        assert_eq!(violation(code).code, ReasonCode::JsHostApi, "{code}");
    }
}

#[test]
fn host_calls_are_reported_whole() {
    assert_eq!(violation("process.exit(1);").construct, "process.exit(1)");
    assert_eq!(violation("const w = new Worker('w.js');").construct, "new Worker('w.js')");
    assert_eq!(violation("const e = process.env;").construct, "process");
}

#[test]
fn async_code_is_js_async() {
    for code in [
        "async function f() {}",
        "const f = async () => 1;",
        "const o = { async m() {} };",
        "await Promise.resolve(1);",
        "function* g() {} async function h() { for await (const x of g()) {} }",
    ] {
        assert_eq!(violation(code).code, ReasonCode::JsAsync, "{code}");
    }
}

#[test]
fn look_alikes_are_not_violations() {
    for code in [
        "let requireCount = 0; requireCount++;",
        "const s = 'import x from \"y\"'; const t = `require('fs')`;",
        "const obj = { eval: (x) => x, process: 1 }; obj.eval(2); obj.process;",
        "function run(process) { return process + 1; } run(1);",
        "const fetch = (x) => x; fetch(1);",
        "function f() {} f instanceof Function;",
        "class A { constructor() { this.x = 1; } } new A().constructor;",
        "const p = Promise.resolve(1).then((x) => x + 1);",
        "function* gen() { yield 1; } [...gen()];",
        "const assert = require('assert'); assert.ok(true);",
        "const { strictEqual } = require('node:assert/strict');",
        "module.exports = { a: 1 };",
        "const E = globalThis[name];",
        "const x = 1 +;", // a syntax error is reported by the run, not the check
    ] {
        assert_eq!(check(code), Ok(()), "{code}");
    }
}

// ---- runs -----------------------------------------------------------------------------------

#[test]
fn console_output_is_captured_node_style() {
    let r = run(
        "console.log('a', 1, [1, 'b', {c: null}], {x: undefined}, -0);\nconsole.error('oops');\nprint('p');\nconsole.log('%s=%d', 'n', 42);\nconsole.log(new Map([[1, 'one']]), new Set([1]), [,1], function named() {});",
        &limits(),
    );
    assert_eq!(r.outcome, Outcome::Ok, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "a 1 [ 1, 'b', { c: null } ] { x: undefined } -0\np\nn=42\nMap(1) { 1 => 'one' } Set(1) { 1 } [ <1 empty item>, 1 ] [Function: named]\n"
    );
    assert_eq!(r.stderr, "oops\n");
    assert_eq!(r.exit_code, 0);
}

#[test]
fn completion_value_is_inspected() {
    assert_eq!(run("1 + 2", &limits()).value.as_deref(), Some("3"));
    assert_eq!(run("'hi'", &limits()).value.as_deref(), Some("'hi'"));
    assert_eq!(
        run("({a: [1, 2], 'b c': 'd'})", &limits()).value.as_deref(),
        Some("{ a: [ 1, 2 ], 'b c': 'd' }")
    );
    assert_eq!(run("let x = 1;", &limits()).value, None);
    assert_eq!(run("undefined", &limits()).value, None);
    assert_eq!(
        run("const o = {}; o.self = o; o", &limits()).value.as_deref(),
        Some("{ self: [Circular *1] }")
    );
}

#[test]
fn uncaught_errors_have_kind_message_and_line() {
    let r = run("const a = 1;\n\nnull.x;\n", &limits());
    let (kind, message, line) = error_kind(&r);
    assert_eq!(kind, "TypeError");
    assert!(message.contains("null"), "{message}");
    assert_eq!(line, Some(3));
    assert_eq!(r.exit_code, 1);
    assert!(r.stderr.starts_with("Uncaught TypeError"), "{}", r.stderr);

    let r = run("function f() {\n  throw new RangeError('bad');\n}\nf();", &limits());
    assert_eq!(error_kind(&r), ("RangeError", "bad", Some(2)));

    let r = run("throw 'plain';", &limits());
    assert_eq!(error_kind(&r).0, "Uncaught");
    assert_eq!(error_kind(&r).1, "'plain'");

    let r = run("let x = ;", &limits());
    assert_eq!(error_kind(&r).0, "SyntaxError");

    let r = run("a\0b", &limits());
    assert_eq!(error_kind(&r).0, "SyntaxError");
}

#[test]
fn output_is_capped_with_a_marker() {
    let r = run("while (true) console.log('flood flood flood');", &limits());
    assert_eq!(r.outcome, Outcome::OutputLimit);
    assert!(r.stdout.len() < 4096 + 100, "{}", r.stdout.len());
    assert!(
        r.stdout.ends_with("[output truncated: budget of 4096 bytes reached]\n"),
        "{}",
        r.stdout
    );
    assert_eq!(r.exit_code, 141);
    // A single huge write is cut on a character boundary.
    let r = run("console.log('é'.repeat(5000));", &limits());
    assert_eq!(r.outcome, Outcome::OutputLimit);
    assert!(r.stdout.contains("[output truncated"));
}

#[test]
fn memory_bombs_end_in_memory_limit() {
    let small = Limits { memory_bytes: 16 * 1024 * 1024, ..limits() };
    // Past QuickJS's maximum string length (2**30 - 1) nothing is allocated: a RangeError, as
    // in node.
    let r = run("'a'.repeat(2 ** 30);", &small);
    assert_eq!(error_kind(&r), ("RangeError", "invalid string length", Some(1)));
    // Doubling a string builds ropes without copying: it reaches the maximum length first.
    let r = run("let s = 'x'; while (true) s += s;", &small);
    assert_eq!(error_kind(&r), ("InternalError", "string too long", Some(1)));
    for code in [
        "'a'.repeat(2 ** 28);",
        "let a = [1]; while (true) a = a.concat(a);",
        "const keep = []; while (true) keep.push(new Array(100000).fill(1));",
        // Catching the error does not hide it.
        "try { 'a'.repeat(2 ** 28); } catch (e) {} 'survived'",
    ] {
        let r = run(code, &small);
        assert_eq!(r.outcome, Outcome::MemoryLimit, "{code}: {}", r.stderr);
        assert_eq!(r.value, None, "{code}");
    }
}

#[test]
fn a_budget_too_small_for_the_sandbox_is_a_memory_limit() {
    // QuickJS crashes when it runs out of memory while it builds a runtime or context; the
    // budget is armed after set-up, so tiny budgets are a clean MemoryLimit.
    for bytes in [0, 1000, 44_000, 64 * 1024, 200 * 1024] {
        let tiny = Limits { memory_bytes: bytes, ..limits() };
        let r = run("1 + 1", &tiny);
        assert_eq!(r.outcome, Outcome::MemoryLimit, "{bytes}: {}", r.stderr);
        let report = run_tests(SOLUTION, "assert(add(1, 1) === 2);", &tiny);
        assert_eq!(report.run.outcome, Outcome::MemoryLimit, "{bytes}");
        assert!(
            matches!(&report.tests[0].status, TestStatus::Error { kind, .. } if kind == "MemoryLimit"),
            "{bytes}: {:?}",
            report.tests[0]
        );
    }
    // An empty sandbox takes ≈ 0.3 MB: 1 MiB runs small programs and stops bigger ones.
    let small = Limits { memory_bytes: 1024 * 1024, ..limits() };
    assert_eq!(run("[1, 2, 3].map((x) => x * 2)", &small).value.as_deref(), Some("[ 2, 4, 6 ]"));
    assert_eq!(run("new Array(1e6).fill(0).length", &small).outcome, Outcome::MemoryLimit);
}

#[test]
fn infinite_loops_hit_the_step_limit_deterministically() {
    let l = Limits { steps: 1_000_000, ..limits() };
    let code = "let i = 0; while (true) { i++; }";
    let a = run(code, &l);
    let b = run(code, &l);
    assert_eq!(a.outcome, Outcome::StepLimit);
    assert_eq!(a.outcome, b.outcome);
    assert_eq!(a.steps, b.steps);
    assert!(a.steps > 1_000_000 && a.steps <= 1_000_000 + POLL_INTERVAL, "{}", a.steps);
    // Catching cannot swallow the interrupt.
    let r = run("for (;;) { try { while (true) {} } catch (e) {} }", &l);
    assert_eq!(r.outcome, Outcome::StepLimit);
    // A finite program reports the same steps every time.
    let code = "let s = 0; for (let i = 0; i < 200000; i++) s += i; s";
    let (a, b) = (run(code, &limits()), run(code, &limits()));
    assert_eq!(a.outcome, Outcome::Ok);
    assert_eq!(a.value.as_deref(), Some("19999900000"));
    assert!(a.steps > 0);
    assert_eq!(a.steps, b.steps);
}

#[test]
fn math_random_is_seeded_so_runs_repeat() {
    let code = "const xs = Array.from({length: 1000}, () => Math.random());\nconsole.log(xs.slice(0, 3).join(' '));\nxs.every((x) => x >= 0 && x < 1) && new Set(xs).size === 1000";
    let (a, b) = (run(code, &limits()), run(code, &limits()));
    assert_eq!(a.value.as_deref(), Some("true"), "{}", a.stderr);
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.steps, b.steps);
}

#[test]
fn the_wall_clock_stops_a_loop_when_steps_are_plenty() {
    let l = Limits { wall_time_ms: 50, steps: u64::MAX, ..limits() };
    let r = run("while (true) {}", &l);
    assert_eq!(r.outcome, Outcome::Timeout);
    assert!(r.wall_time_us >= 50_000);
}

#[test]
fn deep_recursion_is_a_range_error() {
    let r = run("function f(n) { return f(n + 1) + 1; }\nf(0);", &limits());
    let (kind, _, _) = error_kind(&r);
    assert!(kind == "RangeError" || kind == "InternalError", "{kind}");
    // Reasonable recursion works.
    let r = run("function d(n) { return n === 0 ? 0 : 1 + d(n - 1); } d(5000)", &limits());
    assert_eq!(r.value.as_deref(), Some("5000"), "{}", r.stderr);
}

#[test]
fn unhandled_rejections_are_uncaught_errors_as_in_node() {
    let r = run("Promise.reject(new TypeError('nope'));", &limits());
    assert_eq!(error_kind(&r), ("TypeError", "nope", Some(1)));
    let r = run("new Promise((_, reject) => reject(new Error('later'))).then(() => 1);", &limits());
    assert_eq!(error_kind(&r).1, "later");
    let r = run("Promise.reject(42);", &limits());
    assert_eq!(error_kind(&r), ("Uncaught", "42", None));
    // Handled after the fact, or caught: fine.
    let r = run("const p = Promise.reject(1);\np.catch(() => console.log('handled'));", &limits());
    assert_eq!(r.outcome, Outcome::Ok, "{}", r.stderr);
    assert_eq!(r.stdout, "handled\n");
    let report = run_tests(
        "",
        "test('rejects', () => { Promise.reject(new RangeError('r')); });",
        &limits(),
    );
    assert_eq!(report.tests[0].status, TestStatus::Passed);
    assert_eq!(error_kind(&report.run).0, "RangeError");
}

#[test]
fn promises_run_and_unhandled_rejections_do_not_crash() {
    let r = run("Promise.resolve(2).then((x) => console.log('got', x * 2));", &limits());
    assert_eq!(r.outcome, Outcome::Ok);
    assert_eq!(r.stdout, "got 4\n");
    let r = run("Promise.reject(new Error('no')).catch((e) => console.log(e.message));", &limits());
    assert_eq!(r.stdout, "no\n");
    // A job that loops forever is still under the step budget.
    let r = run(
        "Promise.resolve().then(() => { while (true) {} });",
        &Limits { steps: 500_000, ..limits() },
    );
    assert_eq!(r.outcome, Outcome::StepLimit);
}

#[test]
fn host_features_do_not_exist_at_run_time() {
    let r = run(
        "[typeof process, typeof require('assert'), typeof os, typeof std, typeof setTimeout, typeof fetch].join(',')",
        &limits(),
    );
    assert_eq!(
        r.value.as_deref(),
        Some("'undefined,function,undefined,undefined,undefined,undefined'")
    );
    let r = run("require('fs')", &limits());
    assert!(error_kind(&r).1.contains("outside the on-device subset"));
}

#[test]
fn code_built_at_run_time_cannot_run_even_past_the_check() {
    for code in [
        "globalThis['ev' + 'al']('1 + 1')",
        "const F = [].map.constructor; F('return 1')()",
        "const G = Object.getPrototypeOf(function* () {}).constructor; G('yield 1')",
        "const k = 'constr' + 'uctor'; (() => 1)[k]('return 1')()",
    ] {
        assert_eq!(check(code), Ok(()), "{code}: the check does not see these");
        let r = run(code, &limits());
        let (kind, _, _) = error_kind(&r);
        assert!(kind == "EvalError" || kind == "TypeError", "{code}: {kind}");
    }
    // What stays usable: instanceof, Function.prototype methods, inspecting functions.
    let r = run(
        "function* g() {}
[(() => 1) instanceof Function, typeof Function.prototype.call, Math.max.apply(null, [1, 3])].join() + ' ' + [g].toString().length",
        &limits(),
    );
    assert_eq!(r.outcome, Outcome::Ok, "{}", r.stderr);
    let r = run(
        "function* g() {}
console.log(g, Function)",
        &limits(),
    );
    assert_eq!(r.stdout, "[GeneratorFunction: g] [Function: Function]\n");
}

#[test]
fn absurd_nesting_is_refused_without_overflowing_any_stack() {
    let cases = [
        format!("const x = {}1{};", "[".repeat(50_000), "]".repeat(50_000)),
        format!("const x = {}1{};", "(".repeat(50_000), ")".repeat(50_000)),
        format!("const x = {}1{};", "`${".repeat(5_000), "}`".repeat(5_000)),
        format!("const f = {}1;", "x => ".repeat(20_000)),
        format!("{}{}", "function f() {".repeat(5_000), "}".repeat(5_000)),
    ];
    for code in &cases {
        // On a small stack like a test thread's: the check moves to its own thread.
        assert_eq!(check(code), Ok(()));
        let r = run(code, &limits());
        let (kind, message, _) = error_kind(&r);
        assert_eq!(kind, "SyntaxError");
        assert!(message.contains("the executor parses at most"), "{message}");
        let report = run_tests("", code, &limits());
        assert!(report.tests.is_empty());
        assert_eq!(error_kind(&report.run).0, "SyntaxError");
    }
    // Deep but sane code still runs, and chains without brackets parse fine.
    let r = run(&format!("{}1{}", "[".repeat(500), "]".repeat(500)), &limits());
    assert_eq!(r.outcome, Outcome::Ok, "{}", r.stderr);
    let r = run(&format!("1{}", " + 1".repeat(50_000)), &limits());
    assert_eq!(r.value.as_deref(), Some("50001"), "{}", r.stderr);
    // Brackets inside strings, comments and template text do not count.
    let quoted = format!(
        "const s = '{}'; // {}\nconst t = `{}`; s.length + t.length",
        "[".repeat(3000),
        "(".repeat(3000),
        "{".repeat(3000)
    );
    assert_eq!(run(&quoted, &limits()).value.as_deref(), Some("6000"));
}

#[test]
fn nothing_leaks_between_runs() {
    let r = run(
        "globalThis.leak = 1; Object.prototype.polluted = 'yes'; Array.prototype.push = null; console.log = null; var v = 3;",
        &limits(),
    );
    assert_eq!(r.outcome, Outcome::Ok);
    let r = run(
        "console.log(typeof leak, ({}).polluted, typeof [].push, typeof v); [].push(1)",
        &limits(),
    );
    assert_eq!(r.outcome, Outcome::Ok, "{}", r.stderr);
    assert_eq!(r.stdout, "undefined undefined function undefined\n");
}

// ---- tests ----------------------------------------------------------------------------------

const SOLUTION: &str = "function add(a, b) {\n  return a + b;\n}\n";

#[test]
fn every_test_shape_is_reported() {
    let tests = "assert(add(1, 2) === 3);\nassert.strictEqual(add(2, 2), 5);\nfunction check(candidate) {\n  assert.deepStrictEqual([candidate(1, 1)], [2]);\n}\ncheck(add);\ntest('adds zero', () => { assert.equal(add(0, 0), 0); });\nfunction test_error() { add.nope(); }\nassert.throws(() => { throw new TypeError('x'); }, TypeError);\n";
    let report = run_tests(SOLUTION, tests, &limits());
    let names: Vec<_> = report.tests.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["assert#1", "assert#2", "check", "adds zero", "assert#3", "test_error"]);
    assert_eq!(report.tests[0].status, TestStatus::Passed);
    match &report.tests[1].status {
        TestStatus::Failed { message, line } => {
            assert_eq!(*line, Some(2));
            assert!(
                message.starts_with(
                    "assert.strictEqual(add(2, 2), 5);: Expected values to be strictly equal"
                ),
                "{message}"
            );
            assert!(message.contains("4 !== 5"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(report.tests[2].status, TestStatus::Passed);
    assert_eq!(report.tests[3].status, TestStatus::Passed);
    assert_eq!(report.tests[4].status, TestStatus::Passed);
    match &report.tests[5].status {
        TestStatus::Error { kind, line, .. } => {
            assert_eq!(kind, "TypeError");
            assert_eq!(*line, Some(8));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(report.passed(), 4);
    assert!(!report.all_passed());
    assert_eq!(report.run.outcome, Outcome::Ok);
    assert_eq!(report.run.exit_code, 1);
}

#[test]
fn a_user_message_is_kept_and_failures_inside_check_point_at_the_assert() {
    let tests = "function check(candidate) {\n  assert.ok(candidate(1, 1) === 2);\n  assert.strictEqual(candidate(1, 2), 4, 'one plus two');\n}\ncheck(add);\n";
    let report = run_tests(SOLUTION, tests, &limits());
    assert_eq!(
        report.tests[0].status,
        TestStatus::Failed { message: "one plus two".into(), line: Some(3) }
    );
}

#[test]
fn multipl_e_style_tests_with_require_assert_pass() {
    let tests = "const assert = require('node:assert');\nfunction test() {\n  let candidate = add;\n  assert.deepEqual(candidate(1, 2), 3);\n}\n\ntest();\n";
    let report = run_tests(SOLUTION, tests, &limits());
    assert!(report.all_passed(), "{report:?}");
    assert_eq!(report.tests[0].name, "test");
}

#[test]
fn a_broken_solution_fails_every_test_with_the_reason() {
    let report = run_tests(
        "function add(a, b) {\n  return a +;\n}",
        "assert(add(1, 1) === 2);\nassert(true);",
        &limits(),
    );
    assert_eq!(report.tests.len(), 2);
    for t in &report.tests {
        match &t.status {
            TestStatus::Error { kind, message, .. } => {
                assert_eq!(kind, "NotRun");
                assert!(message.contains("the solution failed to load"), "{message}");
                assert!(message.contains("SyntaxError"), "{message}");
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(error_kind(&report.run).0, "SyntaxError");
}

#[test]
fn a_limit_inside_a_test_marks_it_and_the_rest_not_run() {
    let tests = "assert(add(1, 1) === 2);\nassert((() => { while (true) {} })());\nassert(true);\n";
    let report = run_tests(SOLUTION, tests, &Limits { steps: 1_000_000, ..limits() });
    assert_eq!(report.tests[0].status, TestStatus::Passed);
    assert!(
        matches!(&report.tests[1].status, TestStatus::Error { kind, .. } if kind == "StepLimit"),
        "{:?}",
        report.tests[1]
    );
    assert!(
        matches!(&report.tests[2].status, TestStatus::Error { kind, .. } if kind == "NotRun"),
        "{:?}",
        report.tests[2]
    );
    assert_eq!(report.run.outcome, Outcome::StepLimit);

    let tests = "assert(true);\nconst s = 'x'.repeat(2 ** 29);\nassert(true);\n";
    let report = run_tests(SOLUTION, tests, &Limits { memory_bytes: 16 * 1024 * 1024, ..limits() });
    assert_eq!(report.run.outcome, Outcome::MemoryLimit);
    assert_eq!(report.tests[0].status, TestStatus::Passed);
    assert!(matches!(&report.tests[1].status, TestStatus::Error { kind, .. } if kind == "NotRun"));

    let tests = "assert(true);\nassert((() => { 'x'.repeat(2 ** 29); })());\n";
    let report = run_tests(SOLUTION, tests, &Limits { memory_bytes: 16 * 1024 * 1024, ..limits() });
    assert!(
        matches!(&report.tests[1].status, TestStatus::Error { kind, .. } if kind == "MemoryLimit"),
        "{:?}",
        report.tests[1]
    );
}

#[test]
fn assert_has_node_semantics() {
    let ok = [
        "assert.deepStrictEqual({a: [1, {b: 2}]}, {a: [1, {b: 2}]})",
        "assert.deepStrictEqual(new Map([[1, {x: 1}]]), new Map([[1, {x: 1}]]))",
        "assert.deepStrictEqual(new Set([[1]]), new Set([[1]]))",
        "assert.deepStrictEqual(NaN, NaN)",
        "assert.deepEqual({a: 1}, {a: '1'})",
        "assert.notDeepStrictEqual({a: 1}, {a: '1'})",
        "assert.notDeepStrictEqual([1, 2], [2, 1])",
        "assert.notDeepStrictEqual(0, -0)",
        "assert.notStrictEqual(1, '1')",
        "assert.equal(1, '1')",
        "assert.notEqual(1, 2)",
        "assert.throws(() => { throw new Error('boom'); }, /boom/)",
        "assert.throws(() => { throw new Error('boom'); }, { message: 'boom' })",
        "assert.doesNotThrow(() => 1)",
        "assert.match('abc', /b/)",
        "assert.strict.equal(1, 1)",
    ];
    let tests: String = ok.iter().map(|t| format!("{t};\n")).collect();
    let report = run_tests("", &tests, &limits());
    assert!(report.all_passed(), "{:#?}", report.tests);

    let bad = [
        "assert.deepStrictEqual({a: 1}, {a: '1'})",
        "assert.deepStrictEqual([1, 2], [1, 2, 3])",
        "assert.strictEqual(1, '1')",
        "assert.throws(() => 1)",
        "assert.throws(() => { throw new TypeError('x'); }, RangeError)",
        "assert.fail('nope')",
        "assert.strict.equal(1, '1')",
        "assert(0)",
        "assert.ok('')",
    ];
    let tests: String = bad.iter().map(|t| format!("{t};\n")).collect();
    let report = run_tests("", &tests, &limits());
    assert_eq!(report.tests.len(), bad.len());
    for (t, code) in report.tests.iter().zip(bad) {
        assert!(matches!(t.status, TestStatus::Failed { .. }), "{code}: {:?}", t.status);
    }
}

#[test]
fn test_runs_do_not_leak_either() {
    let first = run_tests(
        "Object.prototype.x = 1; globalThis.add = () => 3;",
        "assert(({}).x === 1);",
        &limits(),
    );
    assert!(first.all_passed());
    let second =
        run_tests("", "assert(({}).x === undefined && typeof add === 'undefined');", &limits());
    assert!(second.all_passed(), "{:?}", second.tests);
}

#[test]
fn no_tests_found_is_not_a_pass() {
    let report = run_tests(SOLUTION, "const x = add(1, 2);", &limits());
    assert!(report.tests.is_empty());
    assert_eq!(report.run.outcome, Outcome::Ok);
    assert!(!report.all_passed());
}

#[test]
fn speed_of_a_function_with_three_asserts() {
    // Printed, not asserted: benchmarks measure speed (see `edgecoder bench executor`).
    let tests = "assert.strictEqual(add(1, 2), 3);\nassert.strictEqual(add(-1, 1), 0);\nassert.strictEqual(add(2, 2), 4);\n";
    let mut times: Vec<u64> = (0..50)
        .map(|_| {
            let start = Instant::now();
            let report = run_tests(SOLUTION, tests, &limits());
            assert!(report.all_passed());
            micros(start.elapsed())
        })
        .collect();
    times.sort_unstable();
    println!(
        "js run_tests (function + 3 asserts): p50 {} µs, max {} µs over {} runs",
        times[times.len() / 2],
        times[times.len() - 1],
        times.len()
    );
}
