//! Rewrites a checked AST so that the run-time guards see every loop iteration, every function
//! entry and every operation that can build a huge object in one step.
//!
//! The inserted calls go to builtins whose names start with `$`, which no Python source can spell
//! as an identifier:
//!
//! | inserted | where | what the guard does |
//! |---|---|---|
//! | `$step()` | first statement of every function body and `while` body; first operand of every `lambda` body | counts one step, checks the heap budget |
//! | `$iter(xs)` | the iterable of every `for` and every comprehension clause | wraps `xs` so each item counts one step |
//! | `$mul(a, b)`, `$pow(a, b)`, `$lshift(a, b)` | every `*`, `**`, `<<` | refuses results larger than the memory budget before they are built |
//! | `x = $imul(x, n)` (and `$ipow`, `$ilshift`) | `x *= n` etc. when the target has no side effects | the same, in place |

use rustpython_ruff_text_size::{Ranged, TextRange};
use rustpython_vm::compiler::ast::{
    self, AtomicNodeIndex, Expr, ExprContext, Operator, Stmt,
    visitor::transformer::{self, Transformer},
};

/// The probe names inserted into user code (all builtins of the sandboxed interpreter).
pub(crate) const PROBES: &[&str] =
    &["$step", "$iter", "$mul", "$pow", "$lshift", "$imul", "$ipow", "$ilshift"];

/// Instruments a module body in place.
pub(crate) fn instrument(body: &mut [Stmt]) {
    Instrumenter.visit_body(body);
}

struct Instrumenter;

fn name(id: &str, range: TextRange) -> Expr {
    Expr::Name(ast::ExprName {
        node_index: AtomicNodeIndex::NONE,
        range,
        id: ast::name::Name::new(id),
        ctx: ExprContext::Load,
    })
}

fn call(probe: &str, args: Vec<Expr>, range: TextRange) -> Expr {
    Expr::Call(ast::ExprCall {
        node_index: AtomicNodeIndex::NONE,
        range,
        func: Box::new(name(probe, range)),
        arguments: ast::Arguments {
            range,
            node_index: AtomicNodeIndex::NONE,
            args: args.into_boxed_slice(),
            keywords: Box::new([]),
        },
    })
}

fn step_stmt(range: TextRange) -> Stmt {
    Stmt::Expr(ast::StmtExpr {
        node_index: AtomicNodeIndex::NONE,
        range,
        value: Box::new(call("$step", Vec::new(), range)),
    })
}

fn take(expr: &mut Expr) -> Expr {
    let range = expr.range();
    std::mem::replace(
        expr,
        Expr::NoneLiteral(ast::ExprNoneLiteral { node_index: AtomicNodeIndex::NONE, range }),
    )
}

fn wrap(probe: &str, expr: &mut Expr) {
    let range = expr.range();
    let inner = take(expr);
    *expr = call(probe, vec![inner], range);
}

fn probe_for(op: Operator) -> Option<(&'static str, &'static str)> {
    match op {
        Operator::Mult => Some(("$mul", "$imul")),
        Operator::Pow => Some(("$pow", "$ipow")),
        Operator::LShift => Some(("$lshift", "$ilshift")),
        _ => None,
    }
}

/// A target that can be evaluated twice without side effects: names, and attributes or
/// subscripts whose parts are names or literals.
fn pure_target(expr: &Expr) -> bool {
    match expr {
        Expr::Name(_) | Expr::NumberLiteral(_) | Expr::StringLiteral(_) => true,
        Expr::Attribute(a) => pure_target(&a.value),
        Expr::Subscript(s) => pure_target(&s.value) && pure_target(&s.slice),
        _ => false,
    }
}

fn as_load(expr: &Expr) -> Expr {
    let mut copy = expr.clone();
    match &mut copy {
        Expr::Name(n) => n.ctx = ExprContext::Load,
        Expr::Attribute(a) => a.ctx = ExprContext::Load,
        Expr::Subscript(s) => s.ctx = ExprContext::Load,
        _ => {}
    }
    copy
}

fn has_docstring(body: &[Stmt]) -> bool {
    matches!(body.first(), Some(Stmt::Expr(e)) if matches!(*e.value, Expr::StringLiteral(_)))
}

impl Instrumenter {
    fn body(&self, body: &mut Vec<Stmt>) {
        for stmt in body.iter_mut() {
            self.visit_stmt(stmt);
        }
    }
}

impl Transformer for Instrumenter {
    fn visit_stmt(&self, stmt: &mut Stmt) {
        match stmt {
            Stmt::FunctionDef(f) => {
                for decorator in &mut f.decorator_list {
                    self.visit_decorator(decorator);
                }
                self.visit_parameters(&mut f.parameters);
                if let Some(returns) = &mut f.returns {
                    self.visit_annotation(returns);
                }
                self.body(&mut f.body);
                let at = usize::from(has_docstring(&f.body));
                f.body.insert(at, step_stmt(f.range));
            }
            Stmt::While(w) => {
                self.visit_expr(&mut w.test);
                self.body(&mut w.body);
                self.body(&mut w.orelse);
                w.body.insert(0, step_stmt(w.range));
            }
            Stmt::For(_) => {
                transformer::walk_stmt(self, stmt);
                if let Stmt::For(f) = stmt {
                    wrap("$iter", &mut f.iter);
                }
            }
            Stmt::AugAssign(_) => {
                transformer::walk_stmt(self, stmt);
                let Stmt::AugAssign(a) = stmt else { return };
                if let Some((_, in_place)) = probe_for(a.op)
                    && pure_target(&a.target)
                {
                    let range = a.range;
                    let target = (*a.target).clone();
                    let value = take(&mut a.value);
                    *stmt = Stmt::Assign(ast::StmtAssign {
                        node_index: AtomicNodeIndex::NONE,
                        range,
                        value: Box::new(call(in_place, vec![as_load(&target), value], range)),
                        targets: vec![target],
                    });
                }
            }
            _ => transformer::walk_stmt(self, stmt),
        }
    }

    fn visit_expr(&self, expr: &mut Expr) {
        transformer::walk_expr(self, expr);
        match expr {
            Expr::BinOp(b) => {
                if let Some((probe, _)) = probe_for(b.op) {
                    let range = b.range;
                    let left = take(&mut b.left);
                    let right = take(&mut b.right);
                    *expr = call(probe, vec![left, right], range);
                }
            }
            Expr::Lambda(l) => {
                let range = l.range;
                let body = take(&mut l.body);
                *l.body = Expr::BoolOp(ast::ExprBoolOp {
                    node_index: AtomicNodeIndex::NONE,
                    range,
                    op: ast::BoolOp::Or,
                    values: vec![call("$step", Vec::new(), range), body],
                });
            }
            _ => {}
        }
    }

    fn visit_comprehension(&self, comprehension: &mut ast::Comprehension) {
        transformer::walk_comprehension(self, comprehension);
        wrap("$iter", &mut comprehension.iter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustpython_vm::compiler::parser;

    fn probes_in(src: &str) -> String {
        let mut module = parser::parse_module(src).unwrap().into_syntax();
        instrument(&mut module.body);
        format!("{:?}", module.body)
    }

    #[test]
    fn loops_functions_and_big_operators_get_probes() {
        let dump = probes_in(
            "def f(n):\n    '''doc'''\n    while n:\n        n -= 1\n    return [i * 2 for i in range(n)]\nx = 2 ** 10\nx <<= 3\ng = lambda: 1",
        );
        for probe in ["$step", "$iter", "$mul", "$pow", "$ilshift"] {
            assert!(dump.contains(&format!("\"{probe}\"")), "{probe} missing in {dump}");
        }
    }

    #[test]
    fn impure_augmented_targets_are_left_alone() {
        let dump = probes_in("a[f()] *= 2");
        assert!(!dump.contains("$imul"), "{dump}");
        assert!(probes_in("a[i] *= 2").contains("$imul"));
    }
}
