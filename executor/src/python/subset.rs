//! The static subset check: parses with RustPython's own parser (ruff's AST) and refuses what the
//! on-device executor will not run, with a stable reason code and a line/column.

use std::collections::HashSet;

use rustpython_ruff_source_file::LineIndex;
use rustpython_ruff_text_size::{Ranged, TextRange};
use rustpython_vm::compiler::ast::{
    self, Expr, Stmt,
    visitor::{self, Visitor},
};
use rustpython_vm::compiler::parser;

use crate::{ReasonCode, SubsetViolation};

/// Top-level modules user code may import. Everything else is refused statically
/// (`PY_IMPORT_DENIED`, or the more precise code from [`denied_module_code`]) and at run time.
pub(crate) const ALLOWED_MODULES: &[&str] = &[
    "__future__",
    "abc",
    "array",
    "base64",
    "binascii",
    "bisect",
    "cmath",
    "collections",
    "contextlib",
    "copy",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "fractions",
    "functools",
    "hashlib",
    "heapq",
    "io",
    "itertools",
    "json",
    "keyword",
    "math",
    "numbers",
    "operator",
    "pprint",
    "random",
    "re",
    "statistics",
    "string",
    "struct",
    "sys",
    "textwrap",
    "typing",
    "unicodedata",
    "warnings",
];

/// Attribute names that reach interpreter internals (frames, globals, code objects, the class
/// graph). Refused as attributes, as string literals, and by the run-time `getattr` family.
/// `__mro__` is not among them: it only lists classes the program already holds (realistic code
/// reads it for cooperative inheritance), while the walk down to classes it never imported
/// (`__subclasses__`) stays refused.
pub(crate) const DENIED_ATTRS: &[&str] = &[
    "__subclasses__",
    "__globals__",
    "__builtins__",
    "__code__",
    "__closure__",
    "__self__",
    "__bases__",
    "__base__",
    "__loader__",
    "__spec__",
    "__getattribute__",
    "__import__",
    "f_back",
    "f_globals",
    "f_locals",
    "f_builtins",
    "f_code",
    "gi_frame",
    "gi_code",
    "cr_frame",
    "cr_code",
    "ag_frame",
    "tb_frame",
    "_getframe",
    "settrace",
    "setprofile",
];

/// Names in the `io` module that touch files; `io.StringIO`/`io.BytesIO` stay allowed.
const FILE_IO_NAMES: &[&str] = &["open", "FileIO", "open_code", "BufferedReader", "BufferedWriter"];

/// Whether a top-level module name may be imported by user code.
pub(crate) fn module_allowed(name: &str) -> bool {
    let top = name.split('.').next().unwrap_or(name);
    ALLOWED_MODULES.contains(&top)
}

/// The reason code for importing a module that is not allowed.
pub(crate) fn denied_module_code(name: &str) -> ReasonCode {
    let top = name.split('.').next().unwrap_or(name);
    match top {
        "asyncio" => ReasonCode::PyAsync,
        "threading" | "_thread" | "multiprocessing" | "concurrent" | "subprocess" | "signal"
        | "sched" | "queue" => ReasonCode::PyConcurrency,
        "pathlib" | "shutil" | "tempfile" | "glob" | "fileinput" | "filecmp" | "mmap" => {
            ReasonCode::PyFileIo
        }
        _ => ReasonCode::PyImportDenied,
    }
}

/// The user-facing sentence for a violation: what, where, and how to get it run anyway.
pub(crate) fn violation_message(construct: &str, code: ReasonCode, line: u32, col: u32) -> String {
    format!(
        "uses `{construct}` ({code}) at line {line}, col {col}: outside the on-device subset; \
         queue it for cloud review with `edgecoder queue`"
    )
}

/// CPython's own limits: deeper nesting is a syntax error there too.
const MAX_BRACKET_DEPTH: usize = 200;
const MAX_INDENT_LEVELS: usize = 100;
/// Stack for parsing: the parser recurses per nesting level.
const PARSE_STACK_BYTES: usize = 256 * 1024 * 1024;

/// Finds nesting the parser must not be given (it recurses on the native stack): more than 200
/// open brackets or 100 indentation levels, as CPython refuses. Returns the 1-based line and
/// the message. Strings and comments are skipped.
pub(crate) fn too_deep(code: &str) -> Option<(u32, &'static str)> {
    let bytes = code.as_bytes();
    let (mut depth, mut line, mut i) = (0usize, 1u32, 0usize);
    let mut indents: Vec<usize> = Vec::new();
    let mut at_line_start = true;
    while i < bytes.len() {
        let c = bytes[i];
        if at_line_start && depth == 0 {
            let width = bytes[i..].iter().take_while(|b| **b == b' ' || **b == b'\t').count();
            let rest = bytes.get(i + width).copied();
            if !matches!(rest, Some(b'\n' | b'\r' | b'#') | None) {
                while indents.last().is_some_and(|w| *w >= width) && width > 0 {
                    indents.pop();
                }
                if width == 0 {
                    indents.clear();
                } else if indents.last().is_none_or(|w| *w < width) {
                    indents.push(width);
                }
                if indents.len() > MAX_INDENT_LEVELS {
                    return Some((line, "too many levels of indentation"));
                }
            }
            at_line_start = false;
        }
        match c {
            b'\n' => {
                line += 1;
                at_line_start = true;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_BRACKET_DEPTH {
                    return Some((line, "too many nested parentheses"));
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'\'' | b'"' => {
                let triple = bytes[i..].starts_with(&[c, c, c]);
                let quote_len = if triple { 3 } else { 1 };
                i += quote_len;
                while i < bytes.len() {
                    if bytes[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if bytes[i] == b'\n' {
                        line += 1;
                        if !triple {
                            break;
                        }
                    }
                    if bytes[i] == c && (!triple || bytes[i..].starts_with(&[c, c, c])) {
                        i += quote_len;
                        break;
                    }
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Runs `f` on a thread with a large stack: the parser, the AST walks and the AST's drop all
/// recurse once per nesting level, and deeply nested source must not overflow the caller's
/// stack. `None` if the thread could not run.
pub(crate) fn on_big_stack<R: Send>(f: impl FnOnce() -> R + Send) -> Option<R> {
    std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("edgecoder-py-parse".into())
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(scope, f)
            .ok()
            .and_then(|handle| handle.join().ok())
    })
}

/// Parses `code` and returns the first violation in source order. A syntax error is not a
/// violation: it is reported when the program runs.
pub(crate) fn check(code: &str) -> Result<(), SubsetViolation> {
    if too_deep(code).is_some() {
        return Ok(());
    }
    on_big_stack(|| match parser::parse_module(code) {
        Ok(parsed) => check_module(code, &parsed.syntax().body),
        Err(_) => Ok(()),
    })
    .unwrap_or(Ok(()))
}

/// Checks an already parsed module body.
pub(crate) fn check_module(code: &str, body: &[Stmt]) -> Result<(), SubsetViolation> {
    let mut bound = BoundNames::default();
    bound.visit_body(body);
    let mut checker = Checker { user_bound: bound.names, found: Vec::new() };
    checker.visit_body(body);
    let Some((range, code_, construct)) = checker.found.into_iter().min_by_key(|(r, _, _)| r.start())
    else {
        return Ok(());
    };
    let index = LineIndex::from_source_text(code);
    let lc = index.line_column(range.start(), code);
    let line = lc.line.get() as u32;
    let col = lc.column.get() as u32;
    Err(SubsetViolation {
        code: code_,
        message: violation_message(&construct, code_, line, col),
        construct,
        line,
        col,
    })
}

/// Names the program binds itself (definitions, assignments, parameters, imports): a call to
/// `open` is only file I/O when `open` is the builtin.
#[derive(Default)]
struct BoundNames {
    names: HashSet<String>,
}

impl<'a> Visitor<'a> for BoundNames {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(f) => {
                self.names.insert(f.name.id.as_str().to_owned());
            }
            Stmt::ClassDef(c) => {
                self.names.insert(c.name.id.as_str().to_owned());
            }
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        if let Expr::Name(n) = expr
            && !matches!(n.ctx, ast::ExprContext::Load)
        {
            self.names.insert(n.id.as_str().to_owned());
        }
        visitor::walk_expr(self, expr);
    }

    fn visit_parameter(&mut self, parameter: &'a ast::Parameter) {
        self.names.insert(parameter.name.id.as_str().to_owned());
        visitor::walk_parameter(self, parameter);
    }

    fn visit_alias(&mut self, alias: &'a ast::Alias) {
        let bound = alias.asname.as_ref().unwrap_or(&alias.name);
        self.names.insert(bound.id.as_str().split('.').next().unwrap_or_default().to_owned());
    }
}

struct Checker {
    user_bound: HashSet<String>,
    found: Vec<(TextRange, ReasonCode, String)>,
}

impl Checker {
    fn flag(&mut self, range: TextRange, code: ReasonCode, construct: impl Into<String>) {
        self.found.push((range, code, construct.into()));
    }

    fn import(&mut self, range: TextRange, module: &str, construct: String) {
        if !module_allowed(module) {
            self.flag(range, denied_module_code(module), construct);
        }
    }

    fn is_builtin(&self, expr: &Expr, name: &str) -> bool {
        matches!(expr, Expr::Name(n) if n.id.as_str() == name && !self.user_bound.contains(name))
    }

    fn call(&mut self, call: &ast::ExprCall) {
        let first = call.arguments.args.first();
        let literal = first.and_then(string_literal);
        let func = &*call.func;
        // `eval` of a built string stays: it is one expression, and the guarded `eval` runs this
        // check and the instrumentation on it at run time (HumanEval/160 evaluates arithmetic it
        // assembles). Statements built at run time (`exec`, `compile`) are refused here.
        for name in ["exec", "compile"] {
            if self.is_builtin(func, name) && literal.is_none() {
                self.flag(call.range, ReasonCode::PyDynamicEval, format!("{name}(...)"));
            }
        }
        if self.is_builtin(func, "__import__") {
            match literal {
                Some(module) => self.import(call.range, &module, format!("__import__('{module}')")),
                None => self.flag(call.range, ReasonCode::PyDynamicEval, "__import__(...)"),
            }
        }
        if self.is_builtin(func, "open") {
            self.flag(call.range, ReasonCode::PyFileIo, "open(...)");
        }
        if let Expr::Attribute(a) = func
            && let Expr::Name(module) = &*a.value
            && module.id.as_str() == "io"
            && FILE_IO_NAMES.contains(&a.attr.id.as_str())
        {
            self.flag(call.range, ReasonCode::PyFileIo, format!("io.{}(...)", a.attr.id.as_str()));
        }
    }
}

fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::StringLiteral(s) => Some(s.value.to_str().to_owned()),
        _ => None,
    }
}

impl<'a> Visitor<'a> for Checker {
    fn visit_stmt(&mut self, stmt: &'a Stmt) {
        match stmt {
            Stmt::FunctionDef(f) if f.is_async => {
                self.flag(f.range, ReasonCode::PyAsync, format!("async def {}", f.name.id.as_str()));
            }
            Stmt::For(f) if f.is_async => self.flag(f.range, ReasonCode::PyAsync, "async for"),
            Stmt::With(w) if w.is_async => self.flag(w.range, ReasonCode::PyAsync, "async with"),
            Stmt::Import(i) => {
                for alias in &i.names {
                    self.import(alias.range, alias.name.id.as_str(), format!("import {}", alias.name.id.as_str()));
                }
            }
            Stmt::ImportFrom(i) => {
                let module = i.module.as_ref().map(|m| m.id.as_str().to_owned()).unwrap_or_default();
                if i.level > 0 {
                    let dots = ".".repeat(i.level as usize);
                    self.flag(
                        i.range,
                        ReasonCode::PyImportDenied,
                        format!("from {dots}{module} import ..."),
                    );
                } else if !module_allowed(&module) {
                    self.import(i.range, &module, format!("from {module} import ..."));
                } else if module == "io" {
                    for alias in &i.names {
                        if FILE_IO_NAMES.contains(&alias.name.id.as_str()) {
                            self.flag(
                                alias.range,
                                ReasonCode::PyFileIo,
                                format!("from io import {}", alias.name.id.as_str()),
                            );
                        }
                    }
                }
            }
            _ => {}
        }
        visitor::walk_stmt(self, stmt);
    }

    fn visit_expr(&mut self, expr: &'a Expr) {
        match expr {
            Expr::Await(a) => self.flag(a.range, ReasonCode::PyAsync, "await"),
            Expr::Call(call) => self.call(call),
            Expr::Attribute(a) if DENIED_ATTRS.contains(&a.attr.id.as_str()) => {
                self.flag(a.attr.range, ReasonCode::PyIntrospection, format!(".{}", a.attr.id.as_str()));
            }
            Expr::Name(n) if n.id.as_str() == "__builtins__" => {
                self.flag(n.range, ReasonCode::PyIntrospection, "__builtins__");
            }
            Expr::StringLiteral(s) => {
                let text = s.value.to_str();
                if DENIED_ATTRS.contains(&text) {
                    self.flag(s.range, ReasonCode::PyIntrospection, format!("'{text}'"));
                } else if super::instrument::PROBES.iter().any(|p| text.contains(p)) {
                    self.flag(s.range, ReasonCode::PyIntrospection, format!("'{text}'"));
                }
            }
            _ => {}
        }
        visitor::walk_expr(self, expr);
    }

    fn visit_comprehension(&mut self, comprehension: &'a ast::Comprehension) {
        if comprehension.is_async {
            self.flag(comprehension.range, ReasonCode::PyAsync, "async for");
        }
        visitor::walk_comprehension(self, comprehension);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(src: &str) -> Option<(ReasonCode, u32, u32)> {
        check(src).err().map(|v| (v.code, v.line, v.col))
    }

    #[test]
    fn allowed_programs_pass() {
        for src in [
            "import math\nprint(math.sqrt(2))",
            "from collections import Counter, defaultdict\nimport itertools as it",
            "open_count = 3\nprint(open_count)",
            "s = 'import os'\nprint(s)",
            "def open(p):\n    return p\nopen('x')",
            "x = eval('1 + 2')",
            "import collections.abc\nfrom io import StringIO",
            "class A:\n    def __init__(self):\n        self.__dict__['x'] = 1",
            "print(type(3).__name__, (1).__class__)",
            "def f(:\n",
            "from __future__ import annotations",
        ] {
            assert_eq!(check(src), Ok(()), "{src}");
        }
    }

    #[test]
    fn each_reason_code_is_found_with_its_position() {
        assert_eq!(code_of("x = 1\n\nimport os"), Some((ReasonCode::PyImportDenied, 3, 8)));
        assert_eq!(code_of("from os import path"), Some((ReasonCode::PyImportDenied, 1, 1)));
        assert_eq!(code_of("m = __import__('socket')"), Some((ReasonCode::PyImportDenied, 1, 5)));
        assert_eq!(code_of("from . import x"), Some((ReasonCode::PyImportDenied, 1, 1)));
        assert_eq!(code_of("async def f():\n    pass"), Some((ReasonCode::PyAsync, 1, 1)));
        assert_eq!(code_of("import asyncio"), Some((ReasonCode::PyAsync, 1, 8)));
        assert_eq!(
            code_of("def g(xs):\n    return [x async for x in xs]"),
            Some((ReasonCode::PyAsync, 2, 15))
        );
        assert_eq!(code_of("f = open('a.txt')"), Some((ReasonCode::PyFileIo, 1, 5)));
        assert_eq!(code_of("import pathlib"), Some((ReasonCode::PyFileIo, 1, 8)));
        assert_eq!(code_of("import io\nio.open('x')"), Some((ReasonCode::PyFileIo, 2, 1)));
        assert_eq!(code_of("src = input()\nexec(src)"), Some((ReasonCode::PyDynamicEval, 2, 1)));
        assert_eq!(code_of("e = '1' + '+2'\nprint(eval(e))"), None, "eval of a built string is checked when it runs");
        assert_eq!(code_of("exec(compile(s, 'f', 'exec'))").map(|c| c.0), Some(ReasonCode::PyDynamicEval));
        assert_eq!(code_of("m = __import__(name)"), Some((ReasonCode::PyDynamicEval, 1, 5)));
        assert_eq!(
            code_of("().__class__.__bases__[0].__subclasses__()"),
            Some((ReasonCode::PyIntrospection, 1, 14))
        );
        assert_eq!(code_of("f.__globals__['x']"), Some((ReasonCode::PyIntrospection, 1, 3)));
        assert_eq!(code_of("b = __builtins__"), Some((ReasonCode::PyIntrospection, 1, 5)));
        assert_eq!(code_of("getattr(f, '__code__')"), Some((ReasonCode::PyIntrospection, 1, 12)));
        assert_eq!(code_of("import sys\nsys._getframe(0)"), Some((ReasonCode::PyIntrospection, 2, 5)));
        assert_eq!(code_of("def g():\n    yield\ng().gi_frame"), Some((ReasonCode::PyIntrospection, 3, 5)));
        assert_eq!(code_of("import threading"), Some((ReasonCode::PyConcurrency, 1, 8)));
        assert_eq!(code_of("import subprocess"), Some((ReasonCode::PyConcurrency, 1, 8)));
        assert_eq!(code_of("from multiprocessing import Pool"), Some((ReasonCode::PyConcurrency, 1, 1)));
        assert_eq!(code_of("import signal"), Some((ReasonCode::PyConcurrency, 1, 8)));
    }

    #[test]
    fn the_first_violation_in_source_order_wins_and_the_message_says_what_to_do() {
        let v = check("import math\nimport os\nimport socket").unwrap_err();
        assert_eq!((v.line, v.col, v.construct.as_str()), (2, 8, "import os"));
        assert_eq!(
            v.message,
            "uses `import os` (PY_IMPORT_DENIED) at line 2, col 8: outside the on-device subset; \
             queue it for cloud review with `edgecoder queue`"
        );
    }

    #[test]
    fn deep_nesting_is_a_syntax_error_not_a_stack_overflow() {
        let deep = format!("x = {}1{}", "[".repeat(20_000), "]".repeat(20_000));
        assert_eq!(too_deep(&deep), Some((1, "too many nested parentheses")));
        assert_eq!(check(&deep), Ok(()));
        let fine = format!("x = {}1{}\ns = '{}'", "(".repeat(150), ")".repeat(150), "(".repeat(500));
        assert_eq!(too_deep(&fine), None);
        let mut nested = String::new();
        for level in 0..120 {
            nested.push_str(&format!("{}if True:\n", " ".repeat(level)));
        }
        nested.push_str(&format!("{}pass\n", " ".repeat(120)));
        assert_eq!(too_deep(&nested).map(|(_, m)| m), Some("too many levels of indentation"));
        let nots = format!("x = {}True", "not ".repeat(20_000));
        assert_eq!(check(&nots), Ok(()));
    }

    #[test]
    fn reserved_probe_names_cannot_be_spelled_in_strings() {
        assert_eq!(code_of("globals()['$step'] = print").map(|c| c.0), Some(ReasonCode::PyIntrospection));
    }
}
