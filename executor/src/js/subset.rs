//! The JavaScript subset check: parse with `oxc_parser`, walk the AST, and refuse what the
//! on-device executor will not run, with a stable [`ReasonCode`] (see `SUBSET.md`).

use oxc_allocator::Allocator;
use oxc_ast::ast::{
    Argument, ArrowFunctionExpression, AwaitExpression, BinaryExpression, BindingIdentifier,
    CallExpression, ComputedMemberExpression, Expression, ForOfStatement, Function,
    IdentifierReference, ImportExpression, ImportMeta, MemberExpression, ModuleDeclaration,
    NewExpression, Program, StaticMemberExpression,
};
use oxc_ast_visit::{Visit, walk};
use oxc_parser::{Parser, ParserReturn};
use oxc_span::{GetSpan, SourceType, Span};
use oxc_syntax::{operator::BinaryOperator, scope::ScopeFlags};

use crate::{ReasonCode, SubsetViolation};

/// Global names of host APIs the sandbox does not provide. A program that declares a binding
/// with one of these names (e.g. a parameter called `process`) may use it freely.
const HOST_APIS: &[&str] = &[
    "process",
    "fetch",
    "XMLHttpRequest",
    "WebSocket",
    "Deno",
    "Bun",
    "WebAssembly",
    "SharedArrayBuffer",
    "Atomics",
    "Worker",
    "setTimeout",
    "setInterval",
    "setImmediate",
    "clearTimeout",
    "clearInterval",
    "__dirname",
    "__filename",
];

/// Names that reach the host when read as properties of the global object
/// (`globalThis.os`, `window.fetch`, ...).
const GLOBAL_OBJECTS: &[&str] = &["globalThis", "window", "self", "global"];

/// Host-only properties of the global object besides [`HOST_APIS`]: QuickJS's `std` and `os`
/// modules, which this sandbox never enables.
const GLOBAL_HOST_PROPERTIES: &[&str] = &["os", "std"];

/// Module names `require` may load: the sandbox's built-in `assert` (node-compatible subset).
pub(crate) const ALLOWED_REQUIRES: &[&str] =
    &["assert", "node:assert", "assert/strict", "node:assert/strict"];

/// Parses `code` as a script-or-module (so that `import`/`export` and top-level `await` parse)
/// into `allocator`.
pub(crate) fn parse<'a>(allocator: &'a Allocator, code: &'a str) -> ParserReturn<'a> {
    Parser::new(allocator, code, SourceType::unambiguous()).parse()
}

/// The deepest bracket nesting (`(`, `[`, `{`, `${`) the executor parses.
pub(crate) const MAX_NESTING: usize = 1000;

/// The most arrow functions (`=>`) a source may have: arrow chains nest without brackets.
pub(crate) const MAX_ARROWS: usize = 10_000;

/// Skips template text from `i` up to the template's closing backtick or into its next `${`
/// (which opens one more nesting level); returns the index of the backtick, or of the `{`.
fn template_text(bytes: &[u8], mut i: usize, depth: &mut usize, max: &mut usize, templates: &mut Vec<usize>) -> usize {
    while i < bytes.len() && bytes[i] != b'`' {
        if bytes[i] == b'\\' {
            i += 1;
        } else if bytes[i] == b'$' && bytes.get(i + 1) == Some(&b'{') {
            *depth += 1;
            *max = (*max).max(*depth);
            templates.push(*depth);
            return i + 1;
        }
        i += 1;
    }
    i
}

/// Why a source is too deeply nested to parse safely, if it is. Parsers and AST walks recurse
/// once per level; this cheap scan (strings, templates and comments skipped; regular expression
/// literals are not recognised, which can only shift the count by their unbalanced brackets)
/// keeps them inside the stack of the thread they run on.
pub(crate) fn too_deep(code: &str) -> Option<String> {
    let bytes = code.as_bytes();
    let (mut depth, mut max, mut arrows) = (0usize, 0usize, 0usize);
    // Template literals nest through `${`: the brace depth at which each open template resumes.
    let mut templates: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\'' | b'"' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'`' => i = template_text(bytes, i + 1, &mut depth, &mut max, &mut templates),
            b'(' | b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' if templates.last() == Some(&depth) => {
                // The end of a `${...}`: back into the template's text.
                templates.pop();
                depth = depth.saturating_sub(1);
                i = template_text(bytes, i + 1, &mut depth, &mut max, &mut templates);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'=' if bytes.get(i + 1) == Some(&b'>') => arrows += 1,
            _ => {}
        }
        i += 1;
    }
    if max > MAX_NESTING {
        Some(format!(
            "the source nests {max} levels deep (brackets, braces, template substitutions); the executor parses at most {MAX_NESTING}"
        ))
    } else if arrows > MAX_ARROWS {
        Some(format!(
            "the source has {arrows} arrow functions; the executor parses at most {MAX_ARROWS}"
        ))
    } else {
        None
    }
}

/// Applies the subset check to `code`; see the module docs. Run it on a thread with a large
/// stack (see `PARSE_STACK_BYTES`).
pub(crate) fn check(code: &str) -> Result<(), SubsetViolation> {
    if too_deep(code).is_some() {
        // Not a subset question: the run refuses such a source as a SyntaxError.
        return Ok(());
    }
    let allocator = Allocator::default();
    let parsed = parse(&allocator, code);
    if parsed.panicked || !parsed.diagnostics.is_empty() {
        // A syntax error is not a subset violation: the run reports it as a SyntaxError.
        return Ok(());
    }
    let mut checker = Checker { code, declared: declared_names(&parsed.program), found: None };
    checker.visit_program(&parsed.program);
    match checker.found {
        Some(v) => Err(v),
        None => Ok(()),
    }
}

/// Every name the program declares anywhere (variables, functions, classes, parameters, catch
/// bindings), used to tell a user's own `process` apart from the host's.
fn declared_names<'a>(program: &Program<'a>) -> Vec<&'a str> {
    struct Names<'a>(Vec<&'a str>);
    impl<'a> Visit<'a> for Names<'a> {
        fn visit_binding_identifier(&mut self, it: &BindingIdentifier<'a>) {
            self.0.push(it.name.as_str());
        }
    }
    let mut names = Names(Vec::new());
    names.visit_program(program);
    names.0
}

/// 1-based line and column (in characters) of byte offset `offset` in `code`.
pub(crate) fn line_col(code: &str, offset: u32) -> (u32, u32) {
    let offset = (offset as usize).min(code.len());
    let before = code.get(..offset).unwrap_or(code);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(col).unwrap_or(u32::MAX))
}

/// The source text of `span`, on one line and at most 60 characters.
fn snippet(code: &str, span: Span) -> String {
    let text = code.get(span.start as usize..span.end as usize).unwrap_or("");
    let first_line = text.lines().next().unwrap_or("").trim_end();
    let mut out: String = first_line.chars().take(60).collect();
    if out.len() < text.trim_end().len() {
        out.push_str(" …");
    }
    out
}

struct Checker<'s> {
    code: &'s str,
    declared: Vec<&'s str>,
    found: Option<SubsetViolation>,
}

impl Checker<'_> {
    fn flag(&mut self, code: ReasonCode, span: Span, what: &str) {
        if self.found.is_some() {
            return;
        }
        let (line, col) = line_col(self.code, span.start);
        let construct = snippet(self.code, span);
        let message = format!(
            "uses `{construct}` ({code}) at line {line}, col {col}: {what}, which is outside the \
             on-device subset; queue it for cloud review with `edgecoder queue`"
        );
        self.found = Some(SubsetViolation { code, construct, line, col, message });
    }

    fn is_host_name(&self, name: &str) -> bool {
        HOST_APIS.contains(&name) && !self.declared.contains(&name)
    }

    /// Flags `globalThis.process`, `window['fetch']`, `globalThis.os`, ...
    fn check_global_member(&mut self, member: &MemberExpression<'_>, span: Span) {
        let Expression::Identifier(object) = member.object().without_parentheses() else {
            return;
        };
        if !GLOBAL_OBJECTS.contains(&object.name.as_str())
            || self.declared.contains(&object.name.as_str())
        {
            return;
        }
        match member.static_property_name() {
            Some(name) if HOST_APIS.contains(&name) || GLOBAL_HOST_PROPERTIES.contains(&name) => {
                self.flag(ReasonCode::JsHostApi, span, "a host API the sandbox does not have");
            }
            Some("eval" | "Function") => {
                self.flag(ReasonCode::JsDynamicEval, span, "code built at run time");
            }
            Some("require") => self.flag(ReasonCode::JsModule, span, "module loading"),
            _ => {}
        }
    }

    /// Flags a call or `new` of a host API (`fetch(url)`, `process.exit(1)`, `new Worker(f)`)
    /// with the whole call as the construct.
    fn check_host_call(&mut self, callee: &Expression<'_>, span: Span) {
        let mut root = callee.without_parentheses();
        while let Some(member) = root.as_member_expression() {
            root = member.object().without_parentheses();
        }
        if let Expression::Identifier(id) = root
            && self.is_host_name(id.name.as_str())
        {
            self.flag(ReasonCode::JsHostApi, span, "a host API the sandbox does not have");
        }
    }

    /// Flags calls and `new` of a function constructor reached through `.constructor`:
    /// `x.constructor.constructor(...)`, `(function(){}).constructor(...)`,
    /// `Object.getPrototypeOf(f).constructor(...)`.
    fn check_constructor_call(&mut self, callee: &Expression<'_>, span: Span) {
        let Some(member) = callee.without_parentheses().as_member_expression() else {
            return;
        };
        if member.static_property_name() != Some("constructor") {
            return;
        }
        let object = member.object().without_parentheses();
        let reaches_function = match object {
            Expression::FunctionExpression(_) | Expression::ArrowFunctionExpression(_) => true,
            Expression::CallExpression(call) => call.callee_name() == Some("getPrototypeOf"),
            other => other.as_member_expression().is_some_and(|m| {
                matches!(m.static_property_name(), Some("constructor" | "__proto__"))
            }),
        };
        if reaches_function {
            self.flag(ReasonCode::JsDynamicEval, span, "code built at run time");
        }
    }
}

fn first_arg_is_string(args: &[Argument<'_>]) -> bool {
    matches!(
        args.first(),
        Some(
            Argument::StringLiteral(_)
                | Argument::TemplateLiteral(_)
                | Argument::BinaryExpression(_)
        )
    )
}

fn literal_require_name<'a>(call: &CallExpression<'a>) -> Option<&'a str> {
    match call.arguments.first() {
        Some(Argument::StringLiteral(s)) if call.arguments.len() == 1 => Some(s.value.as_str()),
        _ => None,
    }
}

impl<'a> Visit<'a> for Checker<'_> {
    fn visit_module_declaration(&mut self, it: &ModuleDeclaration<'a>) {
        match it {
            ModuleDeclaration::ImportDeclaration(_) => {
                self.flag(ReasonCode::JsModule, it.span(), "module loading")
            }
            _ => self.flag(ReasonCode::JsModule, it.span(), "a module export"),
        }
    }

    fn visit_import_expression(&mut self, it: &ImportExpression<'a>) {
        self.flag(ReasonCode::JsModule, it.span, "dynamic module loading");
    }

    fn visit_import_meta(&mut self, it: &ImportMeta) {
        self.flag(ReasonCode::JsModule, it.span, "module metadata");
    }

    fn visit_call_expression(&mut self, it: &CallExpression<'a>) {
        match it.callee.without_parentheses() {
            Expression::Identifier(id) if id.name == "require" => {
                if !literal_require_name(it).is_some_and(|m| ALLOWED_REQUIRES.contains(&m)) {
                    self.flag(ReasonCode::JsModule, it.span, "module loading");
                }
                // `require('assert')` loads the built-in assert: skip the `require` identifier.
                for arg in &it.arguments {
                    self.visit_argument(arg);
                }
                return;
            }
            Expression::Identifier(id)
                if matches!(id.name.as_str(), "setTimeout" | "setInterval" | "setImmediate")
                    && first_arg_is_string(&it.arguments) =>
            {
                self.flag(ReasonCode::JsDynamicEval, it.span, "a string run as code by a timer");
            }
            _ => {
                self.check_host_call(&it.callee, it.span);
                self.check_constructor_call(&it.callee, it.span);
            }
        }
        walk::walk_call_expression(self, it);
    }

    fn visit_new_expression(&mut self, it: &NewExpression<'a>) {
        self.check_host_call(&it.callee, it.span);
        self.check_constructor_call(&it.callee, it.span);
        walk::walk_new_expression(self, it);
    }

    fn visit_identifier_reference(&mut self, it: &IdentifierReference<'a>) {
        match it.name.as_str() {
            "eval" | "Function" => {
                self.flag(ReasonCode::JsDynamicEval, it.span, "code built at run time");
            }
            "require" => self.flag(ReasonCode::JsModule, it.span, "module loading"),
            name if self.is_host_name(name) => {
                self.flag(ReasonCode::JsHostApi, it.span, "a host API the sandbox does not have");
            }
            _ => {}
        }
    }

    fn visit_static_member_expression(&mut self, it: &StaticMemberExpression<'a>) {
        if it.property.name == "constructor"
            && let Some(inner) = it.object.without_parentheses().as_member_expression()
            && inner.static_property_name() == Some("constructor")
        {
            self.flag(ReasonCode::JsDynamicEval, it.span, "code built at run time");
        }
        walk::walk_static_member_expression(self, it);
    }

    fn visit_computed_member_expression(&mut self, it: &ComputedMemberExpression<'a>) {
        if it.static_property_name().is_some_and(|p| p.as_str() == "constructor")
            && let Some(inner) = it.object.without_parentheses().as_member_expression()
            && inner.static_property_name() == Some("constructor")
        {
            self.flag(ReasonCode::JsDynamicEval, it.span, "code built at run time");
        }
        walk::walk_computed_member_expression(self, it);
    }

    fn visit_member_expression(&mut self, it: &MemberExpression<'a>) {
        self.check_global_member(it, it.span());
        walk::walk_member_expression(self, it);
    }

    fn visit_expression(&mut self, it: &Expression<'a>) {
        // `new Function(...)` / `Function(...)`: a call or `new` whose callee is `Function`.
        match it {
            Expression::CallExpression(call)
                if call.callee.without_parentheses().is_specific_id("Function") =>
            {
                self.flag(ReasonCode::JsDynamicEval, call.span, "code built at run time");
            }
            Expression::NewExpression(new)
                if new.callee.without_parentheses().is_specific_id("Function") =>
            {
                self.flag(ReasonCode::JsDynamicEval, new.span, "code built at run time");
            }
            _ => {}
        }
        walk::walk_expression(self, it);
    }

    fn visit_binary_expression(&mut self, it: &BinaryExpression<'a>) {
        // `x instanceof Function` only compares: it cannot build code.
        if it.operator == BinaryOperator::Instanceof
            && it.right.without_parentheses().is_specific_id("Function")
        {
            self.visit_expression(&it.left);
            return;
        }
        walk::walk_binary_expression(self, it);
    }

    fn visit_function(&mut self, it: &Function<'a>, flags: ScopeFlags) {
        if it.r#async {
            self.flag(ReasonCode::JsAsync, it.span, "an async function");
        }
        walk::walk_function(self, it, flags);
    }

    fn visit_arrow_function_expression(&mut self, it: &ArrowFunctionExpression<'a>) {
        if it.r#async {
            self.flag(ReasonCode::JsAsync, it.span, "an async function");
        }
        walk::walk_arrow_function_expression(self, it);
    }

    fn visit_await_expression(&mut self, it: &AwaitExpression<'a>) {
        self.flag(ReasonCode::JsAsync, it.span, "`await`");
        walk::walk_await_expression(self, it);
    }

    fn visit_for_of_statement(&mut self, it: &ForOfStatement<'a>) {
        if it.r#await {
            self.flag(ReasonCode::JsAsync, it.span, "`for await`");
        }
        walk::walk_for_of_statement(self, it);
    }
}
