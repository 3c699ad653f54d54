//! Line-level reading of Python source, enough to combine the model's code with the code it
//! completes: split a module into top-level statements (decorators and comments attached to the
//! statement they precede), merge definitions into an existing module, and drop the demo code
//! (`if __name__ == "__main__":`, top-level `assert` and `print`) that small models add. Used
//! wherever a model's Python is run: the agent, the swarm worker, the inference service.

/// What a top-level statement is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// `def NAME`, `async def NAME` or `class NAME`.
    Def(String),
    /// `import ...` or `from ... import ...`.
    Import,
    /// `if __name__ == "__main__":`.
    Main,
    /// A top-level `assert` or `print(...)`: a demo, not part of the solution.
    Demo,
    /// Anything else (constants, helpers' data, calls).
    Other,
}

/// One top-level statement with the comments, decorators and blank lines before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// What it is.
    pub kind: Kind,
    /// Its source lines, each ending with a newline.
    pub text: String,
}

/// Tracks open brackets, triple-quoted strings and backslash continuations across lines.
#[derive(Default)]
struct Scanner {
    depth: i32,
    triple: Option<&'static str>,
    backslash: bool,
}

impl Scanner {
    /// Whether the next line continues the current statement.
    fn continues(&self) -> bool {
        self.depth > 0 || self.triple.is_some() || self.backslash
    }

    fn feed(&mut self, line: &str) {
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if let Some(close) = self.triple {
                match line[i..].find(close) {
                    Some(at) => {
                        i += at + 3;
                        self.triple = None;
                    }
                    None => i = bytes.len(),
                }
                continue;
            }
            match bytes[i] {
                b'#' => break,
                b'(' | b'[' | b'{' => self.depth += 1,
                b')' | b']' | b'}' => self.depth = (self.depth - 1).max(0),
                q @ (b'"' | b'\'') => {
                    let triple = if q == b'"' { "\"\"\"" } else { "'''" };
                    if line[i..].starts_with(triple) {
                        self.triple = Some(triple);
                        i += 3;
                        continue;
                    }
                    i += 1;
                    while i < bytes.len() && bytes[i] != q {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                }
                _ => {}
            }
            i += 1;
        }
        self.backslash = self.triple.is_none() && line.trim_end().ends_with('\\');
    }
}

fn kind_of(line: &str) -> Kind {
    let name_after = |rest: &str| {
        rest.trim_start().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>()
    };
    let t = line.trim_end();
    if let Some(rest) = t.strip_prefix("def ").or_else(|| t.strip_prefix("async def ")).or_else(|| t.strip_prefix("class ")) {
        Kind::Def(name_after(rest))
    } else if t.starts_with("import ") || t.starts_with("from ") {
        Kind::Import
    } else if t.starts_with("if __name__") {
        Kind::Main
    } else if t.starts_with("assert ") || t.starts_with("assert(") || t.starts_with("print(") {
        Kind::Demo
    } else {
        Kind::Other
    }
}

/// Splits a module into its top-level statements.
pub fn statements(source: &str) -> Vec<Statement> {
    let mut out: Vec<Statement> = Vec::new();
    let mut pending = String::new();
    let mut scanner = Scanner::default();
    let mut current: Option<Statement> = None;
    for line in source.lines() {
        let starts_statement = !scanner.continues() && !line.is_empty() && !line.starts_with([' ', '\t']);
        scanner.feed(line);
        if starts_statement {
            let t = line.trim_start();
            if t.starts_with('#') || t.starts_with('@') {
                if let Some(done) = current.take() {
                    out.push(done);
                }
                pending.push_str(line);
                pending.push('\n');
                continue;
            }
            if let Some(done) = current.take() {
                out.push(done);
            }
            let mut text = std::mem::take(&mut pending);
            text.push_str(line);
            text.push('\n');
            current = Some(Statement { kind: kind_of(line), text });
        } else if let Some(statement) = current.as_mut().filter(|_| pending.is_empty()) {
            statement.text.push_str(line);
            statement.text.push('\n');
        } else {
            pending.push_str(line);
            pending.push('\n');
        }
    }
    out.extend(current);
    if !pending.trim().is_empty() {
        out.push(Statement { kind: Kind::Other, text: pending });
    }
    out
}

fn defs(statements: &[Statement]) -> Vec<&str> {
    statements
        .iter()
        .filter_map(|s| match &s.kind {
            Kind::Def(name) => Some(name.as_str()),
            _ => None,
        })
        .collect()
}

fn join(statements: &[Statement]) -> String {
    let mut text = String::new();
    for s in statements {
        if !text.is_empty() && !text.ends_with("\n\n") && matches!(s.kind, Kind::Def(_)) {
            text.push('\n');
        }
        text.push_str(&s.text);
    }
    text
}

/// Combines the model's `new` code with the `base` it completes (the task's skeleton or the
/// workspace file): definitions in `new` replace those of the same name in `base`, new
/// definitions are appended, imports and other statements `base` lacks are added, and
/// everything else in `base` is kept. When `new` is only a function body (no definition), it is
/// appended to `base` as the body of its last function.
pub fn merge(base: &str, new: &str) -> String {
    if base.trim().is_empty() {
        return new.to_owned();
    }
    let new_statements = statements(new);
    if defs(&new_statements).is_empty() {
        let indented = new.lines().filter(|l| !l.trim().is_empty()).all(|l| l.starts_with([' ', '\t']));
        let body: String = if indented {
            new.to_owned()
        } else {
            new.lines().map(|l| if l.trim().is_empty() { "\n".to_owned() } else { format!("    {l}\n") }).collect()
        };
        return format!("{}\n{}", base.trim_end(), body);
    }
    let base_statements = statements(base);
    let base_defs = defs(&base_statements);
    let mut out: Vec<Statement> = base_statements
        .iter()
        .map(|b| match &b.kind {
            Kind::Def(name) => match new_statements.iter().find(|n| n.kind == Kind::Def(name.clone())) {
                // The replacement keeps the blank lines that followed the original.
                Some(n) => {
                    let blank = b.text.len() - b.text.trim_end().len();
                    let gap = b.text[b.text.len() - blank..].matches('\n').count().max(1);
                    Statement { kind: n.kind.clone(), text: format!("{}{}", n.text.trim_end(), "\n".repeat(gap)) }
                }
                None => b.clone(),
            },
            _ => b.clone(),
        })
        .collect();
    let known = |s: &Statement| base_statements.iter().any(|b| b.text.trim() == s.text.trim());
    let head: Vec<Statement> = new_statements
        .iter()
        .filter(|s| matches!(s.kind, Kind::Import | Kind::Other) && !known(s))
        .cloned()
        .collect();
    let at = out.iter().rposition(|s| s.kind == Kind::Import).map_or(0, |i| i + 1);
    out.splice(at..at, head);
    out.extend(
        new_statements
            .iter()
            .filter(|s| matches!(&s.kind, Kind::Def(name) if !base_defs.contains(&name.as_str())))
            .cloned(),
    );
    join(&out)
}

/// The code without its demo parts: `if __name__ == "__main__":` blocks and top-level `assert`
/// and `print` statements. What remains is what the tests run against.
pub fn tidy(code: &str) -> String {
    let kept: Vec<Statement> =
        statements(code).into_iter().filter(|s| !matches!(s.kind, Kind::Main | Kind::Demo)).collect();
    join(&kept)
}

/// The names of the top-level functions and classes of `source`.
pub fn defined_names(source: &str) -> Vec<String> {
    defs(&statements(source)).into_iter().map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SKELETON: &str = "from typing import List\n\n\ndef helper(x):\n    return x * 2\n\n\ndef solve(xs: List[int]) -> int:\n    \"\"\"Sum of doubles.\n    >>> solve([1])\n    2\n    \"\"\"\n";

    #[test]
    fn statements_keep_decorators_strings_and_brackets_together() {
        let src = "import math\n# doc\n@cache\ndef f(x):\n    s = '''\nnot a statement\n'''\n    return (x +\n1)\nX = [\n1,\n]\nif __name__ == \"__main__\":\n    print(f(1))\nassert f(1) == 2\n";
        let kinds: Vec<Kind> = statements(src).into_iter().map(|s| s.kind).collect();
        assert_eq!(kinds, vec![Kind::Import, Kind::Def("f".into()), Kind::Other, Kind::Main, Kind::Demo]);
        assert!(statements(src)[1].text.starts_with("# doc\n@cache\ndef f"));
    }

    #[test]
    fn merging_replaces_the_definition_and_keeps_imports_and_helpers() {
        let new = "def solve(xs):\n    return sum(helper(x) for x in xs)\n";
        let merged = merge(SKELETON, new);
        assert!(merged.starts_with("from typing import List\n"), "{merged}");
        assert!(merged.contains("def helper(x):\n    return x * 2\n"), "{merged}");
        assert!(merged.contains("return sum(helper(x) for x in xs)"), "{merged}");
        assert!(!merged.contains("Sum of doubles"), "{merged}");
    }

    #[test]
    fn merging_adds_new_imports_and_definitions() {
        let new = "import math\n\ndef solve(xs):\n    return isqrt(xs)\n\ndef isqrt(xs):\n    return math.isqrt(len(xs))\n";
        let merged = merge(SKELETON, new);
        let import = merged.find("import math").unwrap();
        assert!(import > merged.find("from typing").unwrap() && import < merged.find("def helper").unwrap(), "{merged}");
        assert!(merged.trim_end().ends_with("return math.isqrt(len(xs))"), "{merged}");
    }

    #[test]
    fn a_bare_body_completes_the_last_function() {
        let merged = merge(SKELETON, "    return sum(2 * x for x in xs)\n");
        assert!(merged.ends_with("    \"\"\"\n    return sum(2 * x for x in xs)\n"), "{merged}");
        let unindented = merge(SKELETON, "total = 0\nreturn total\n");
        assert!(unindented.ends_with("    total = 0\n    return total\n"), "{unindented}");
        assert_eq!(merge("", "x = 1\n"), "x = 1\n");
    }

    #[test]
    fn tidy_drops_demo_code_only() {
        let code = "def f():\n    print('kept')\n    return 1\n\nprint(f())\nassert f() == 1\nif __name__ == '__main__':\n    f()\n";
        assert_eq!(tidy(code), "def f():\n    print('kept')\n    return 1\n\n");
        assert_eq!(defined_names(SKELETON), vec!["helper", "solve"]);
    }
}
