//! Finds the tests in a JavaScript test source and rewrites it so that each test runs inside the
//! sandbox's test hook (`__edgecoder_test__(id, fn)`), which records its result.
//!
//! The supported test shapes (documented in `SUBSET.md`):
//! - a top-level statement containing an `assert(...)` / `assert.*(...)` call → `assert#N`;
//! - a top-level call of a function the tests declare, e.g. HumanEval's `check(candidate)` or
//!   MultiPL-E's `test()` → named after the function;
//! - a top-level `test('name', fn)` / `it('name', fn)` call → `name`;
//! - a top-level `function test_*()` that the tests never call → `test_*`, run after the rest.
//!
//! The rewrite only inserts text on the lines it wraps (and appends at the end), so line numbers
//! in the tests' stack traces are those of the original source.

use oxc_allocator::Allocator;
use oxc_ast::ast::{Argument, CallExpression, Expression, Statement};
use oxc_ast_visit::{Visit, walk};
use oxc_span::GetSpan;

use super::subset::{line_col, parse, too_deep};

/// The global test hook the prelude defines.
const HOOK: &str = "__edgecoder_test__";

/// One test found in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FoundTest {
    /// The test's name in the report.
    pub name: String,
    /// 1-based line of the test in the original source.
    pub line: u32,
}

/// The tests of a source and the source rewritten to run them through the hook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Discovered {
    /// The tests, in source order; a test's index is its id in the rewritten source.
    pub tests: Vec<FoundTest>,
    /// The rewritten source.
    pub source: String,
}

/// Whether a statement calls `assert` or `assert.*` anywhere inside it.
fn calls_assert(stmt: &Statement<'_>) -> bool {
    struct Finder(bool);
    impl<'a> Visit<'a> for Finder {
        fn visit_call_expression(&mut self, it: &CallExpression<'a>) {
            // `assert(...)`, `assert.x(...)`, `assert.strict.x(...)`: the callee's root is `assert`.
            let mut root = it.callee.without_parentheses();
            while let Some(member) = root.as_member_expression() {
                root = member.object().without_parentheses();
            }
            let is_assert = root.is_specific_id("assert");
            if is_assert {
                self.0 = true;
            } else {
                walk::walk_call_expression(self, it);
            }
        }
    }
    let mut finder = Finder(false);
    finder.visit_statement(stmt);
    finder.0
}

/// Finds the tests of `tests` and rewrites it; a source that does not parse yields no tests and
/// is returned unchanged (running it reports the syntax error).
pub(crate) fn discover(tests: &str) -> Discovered {
    if too_deep(tests).is_some() {
        return Discovered { tests: Vec::new(), source: tests.to_owned() };
    }
    let allocator = Allocator::default();
    let parsed = parse(&allocator, tests);
    if parsed.panicked || !parsed.diagnostics.is_empty() {
        return Discovered { tests: Vec::new(), source: tests.to_owned() };
    }
    let body = &parsed.program.body;
    let declared: Vec<&str> = body
        .iter()
        .filter_map(|s| match s {
            Statement::FunctionDeclaration(f) => f.id.as_ref().map(|id| id.name.as_str()),
            _ => None,
        })
        .collect();

    let mut found: Vec<FoundTest> = Vec::new();
    // (byte offset, text) insertions, in increasing offset order.
    let mut inserts: Vec<(usize, String)> = Vec::new();
    let mut called: Vec<&str> = Vec::new();
    let mut asserts = 0usize;

    for stmt in body {
        let name = match stmt {
            Statement::ExpressionStatement(es) => match es.expression.without_parentheses() {
                Expression::CallExpression(call) => match call.callee.without_parentheses() {
                    Expression::Identifier(id) if declared.contains(&id.name.as_str()) => {
                        called.push(id.name.as_str());
                        Some(id.name.as_str().to_owned())
                    }
                    Expression::Identifier(id) if matches!(id.name.as_str(), "test" | "it") => {
                        match call.arguments.first() {
                            Some(Argument::StringLiteral(s)) => Some(s.value.as_str().to_owned()),
                            _ => Some(id.name.as_str().to_owned()),
                        }
                    }
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        };
        let name = match name {
            Some(name) => Some(name),
            None if !is_declaration(stmt) && calls_assert(stmt) => {
                asserts += 1;
                Some(format!("assert#{asserts}"))
            }
            None => None,
        };
        let Some(name) = name else { continue };
        let span = stmt.span();
        let id = found.len();
        let name = unique(&found, name);
        found.push(FoundTest { name, line: line_col(tests, span.start).0 });
        inserts.push((span.start as usize, format!(";{HOOK}({id}, () => {{ ")));
        inserts.push((span.end as usize, " });".to_owned()));
    }

    let mut source = String::with_capacity(tests.len() + inserts.len() * 32);
    let mut at = 0;
    for (offset, text) in &inserts {
        source.push_str(&tests[at..*offset]);
        source.push_str(text);
        at = *offset;
    }
    source.push_str(&tests[at..]);

    for stmt in body {
        if let Statement::FunctionDeclaration(f) = stmt
            && let Some(id) = &f.id
            && id.name.starts_with("test_")
            && !called.contains(&id.name.as_str())
        {
            let index = found.len();
            let name = unique(&found, id.name.as_str().to_owned());
            found.push(FoundTest { name, line: line_col(tests, f.span.start).0 });
            source.push_str(&format!("\n;{HOOK}({index}, {});", id.name.as_str()));
        }
    }
    Discovered { tests: found, source }
}

/// `base`, or `base#N` when `base` is taken.
fn unique(found: &[FoundTest], base: String) -> String {
    let same =
        found.iter().filter(|t| t.name == base || t.name.starts_with(&format!("{base}#"))).count();
    if same == 0 { base } else { format!("{base}#{}", same + 1) }
}

fn is_declaration(stmt: &Statement<'_>) -> bool {
    matches!(
        stmt,
        Statement::VariableDeclaration(_)
            | Statement::FunctionDeclaration(_)
            | Statement::ClassDeclaration(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(d: &Discovered) -> Vec<&str> {
        d.tests.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn finds_every_supported_shape_in_source_order() {
        let src = "const x = 1;\nassert(x === 1);\nassert.strictEqual(x, 1)\nfunction check(c) { assert(c(1)); }\ncheck(f);\ntest('adds', () => {});\nfunction test_late() {}\nfor (const y of [1]) assert.ok(y);\n";
        let d = discover(src);
        assert_eq!(names(&d), ["assert#1", "assert#2", "check", "adds", "assert#3", "test_late"]);
        assert_eq!(d.tests.iter().map(|t| t.line).collect::<Vec<_>>(), [2, 3, 5, 6, 8, 7]);
        // Lines are kept: the wrapped statements stay on their own lines.
        assert_eq!(
            d.source.lines().nth(4).unwrap(),
            ";__edgecoder_test__(2, () => { check(f); });"
        );
        assert!(d.source.ends_with("\n;__edgecoder_test__(5, test_late);"));
    }

    #[test]
    fn a_called_test_function_is_not_run_twice_and_names_stay_unique() {
        let d = discover("function test_a() {}\ntest_a();\ntest_a();\n");
        assert_eq!(names(&d), ["test_a", "test_a#2"]);
        assert!(!d.source.contains("__edgecoder_test__(2"));
    }

    #[test]
    fn declarations_and_unparsable_sources_are_not_tests() {
        assert!(discover("const a = assert.ok;\nlet b = 2;").tests.is_empty());
        let broken = "assert(1 +);";
        let d = discover(broken);
        assert!(d.tests.is_empty());
        assert_eq!(d.source, broken);
    }
}
