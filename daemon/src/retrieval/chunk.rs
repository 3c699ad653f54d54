//! Cutting files into searchable chunks along their syntax.
//!
//! - Python: top-level functions, classes (their header, docstring and attributes up to the
//!   first method) and each method as `Class.method`, parsed with the RustPython (ruff) parser
//!   the executor uses; the module's remaining top-level code is one `<module>` chunk.
//! - JavaScript/TypeScript: top-level functions, classes and methods, and `const f = () => …`,
//!   exported or not, parsed with `oxc` (the executor's JavaScript parser).
//! - Markdown: one chunk per heading section, named by the heading path (`Install > Linux`).
//! - Anything else, and code that does not parse: windows of [`WINDOW_LINES`] lines.
//!
//! Every chunk is cut to at most [`MAX_CHUNK_LINES`] lines; the rest of a long definition follows
//! in further chunks with the same name.

use std::path::Path;

use oxc_allocator::Allocator;
use oxc_ast::ast::{ClassElement, Declaration, ExportDefaultDeclarationKind, Expression, Statement};
use oxc_parser::Parser;
use oxc_span::{GetSpan, SourceType};
use rustpython_ruff_text_size::Ranged;
use rustpython_vm::compiler::{ast, parser};
use serde::{Deserialize, Serialize};

/// Lines in a fallback window.
pub const WINDOW_LINES: usize = 60;

/// The most lines one chunk holds.
pub const MAX_CHUNK_LINES: usize = 150;

/// Stack for the parsers: deeply nested sources recurse deeply (as in the executor).
const PARSER_STACK: usize = 64 << 20;

/// What a chunk is: code (searched by `search_code`) or documentation (`search_docs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Source code.
    Code,
    /// Prose documentation.
    Doc,
}

impl Kind {
    /// `code` or `doc`.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Code => "code",
            Kind::Doc => "doc",
        }
    }
}

/// How a file is chunked, decided by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.py`, `.pyi`.
    Python,
    /// `.js`, `.mjs`, `.cjs`, `.jsx`, `.ts`, `.tsx`, `.mts`, `.cts`.
    JavaScript,
    /// `.md`, `.markdown`.
    Markdown,
    /// Other documentation (`.rst`, `.txt`, `.adoc`): windows.
    Text,
    /// Other source code: windows.
    OtherCode,
}

/// Source extensions indexed as code with line windows.
const OTHER_CODE: &[&str] = &[
    "rs", "go", "c", "h", "cc", "cpp", "hpp", "java", "kt", "swift", "rb", "php", "sh", "bash", "lua", "cs", "scala",
    "toml", "yaml", "yml", "json", "cfg", "ini", "sql", "html", "css",
];

impl Format {
    /// The format of `path`, or `None` for files that are not indexed.
    pub fn of(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "py" | "pyi" => Format::Python,
            "js" | "mjs" | "cjs" | "jsx" | "ts" | "tsx" | "mts" | "cts" => Format::JavaScript,
            "md" | "markdown" => Format::Markdown,
            "rst" | "txt" | "adoc" => Format::Text,
            e if OTHER_CODE.contains(&e) => Format::OtherCode,
            _ => return None,
        })
    }

    /// Whether chunks of this format are code or docs.
    pub fn kind(self) -> Kind {
        match self {
            Format::Markdown | Format::Text => Kind::Doc,
            _ => Kind::Code,
        }
    }
}

/// A piece of a file: what it is called and which lines it spans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Piece {
    /// The definition's (qualified) name, the heading path, or `lines N-M`.
    pub name: String,
    /// First line, 1-based.
    pub start_line: u32,
    /// Last line, inclusive.
    pub end_line: u32,
    /// The lines' text.
    pub text: String,
}

/// Cuts `text` (the content of a file in `format`) into pieces.
pub fn chunk(text: &str, format: Format) -> Vec<Piece> {
    let lines = Lines::new(text);
    let definitions = match format {
        Format::Python => big_stack(|| python_spans(text, &lines)).flatten(),
        Format::JavaScript => big_stack(|| js_spans(text, &lines)).flatten(),
        Format::Markdown | Format::Text | Format::OtherCode => None,
    };
    let mut pieces = Vec::new();
    let spans = match (format, definitions) {
        (_, Some(spans)) => {
            pieces.extend(module_rest(&spans, &lines));
            spans
        }
        (Format::Markdown, None) => markdown_spans(text),
        (_, None) => windows(lines.count()),
    };
    for (name, start, end) in spans {
        let mut s = start;
        while s <= end {
            let e = end.min(s + MAX_CHUNK_LINES as u32 - 1);
            let body = lines.slice(s, e);
            if !body.trim().is_empty() {
                pieces.push(Piece { name: name.clone(), start_line: s, end_line: e, text: body.to_owned() });
            }
            s = e + 1;
        }
    }
    pieces
}

/// `(name, first line, last line)` of a definition.
type Span = (String, u32, u32);

/// Line starts of a text, for byte offset → line and line range → text.
struct Lines<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1).filter(|&i| i < text.len()));
        Lines { text, starts }
    }

    fn count(&self) -> u32 {
        if self.text.is_empty() { 0 } else { self.starts.len() as u32 }
    }

    /// The 1-based line of byte `offset`.
    fn line_of(&self, offset: usize) -> u32 {
        self.starts.partition_point(|&s| s <= offset) as u32
    }

    /// The line of the last byte before `end` (an exclusive end offset).
    fn last_line(&self, start: usize, end: usize) -> u32 {
        self.line_of(end.saturating_sub(1).max(start))
    }

    /// Lines `first..=last` (1-based).
    fn slice(&self, first: u32, last: u32) -> &'a str {
        let from = self.starts.get(first as usize - 1).copied().unwrap_or(self.text.len());
        let to = self.starts.get(last as usize).copied().unwrap_or(self.text.len());
        &self.text[from..to]
    }
}

fn big_stack<R: Send>(f: impl FnOnce() -> R + Send) -> Option<R> {
    std::thread::scope(|s| std::thread::Builder::new().stack_size(PARSER_STACK).spawn_scoped(s, f).ok()?.join().ok())
}

fn windows(count: u32) -> Vec<Span> {
    let w = WINDOW_LINES as u32;
    (0..count.div_ceil(w))
        .map(|i| {
            let (s, e) = (i * w + 1, ((i + 1) * w).min(count));
            (format!("lines {s}-{e}"), s, e)
        })
        .collect()
}

/// The top-level lines no definition covers (imports, constants, the module docstring) as one
/// `<module>` piece of at most [`MAX_CHUNK_LINES`] lines, when there are any.
fn module_rest(spans: &[Span], lines: &Lines) -> Option<Piece> {
    let count = lines.count();
    let mut covered = vec![false; count as usize + 1];
    for (_, s, e) in spans {
        (*s..=*e).for_each(|l| covered[l as usize] = true);
    }
    let rest: Vec<u32> = (1..=count)
        .filter(|&l| !covered[l as usize] && !lines.slice(l, l).trim().is_empty())
        .take(MAX_CHUNK_LINES)
        .collect();
    let (&first, &last) = (rest.first()?, rest.last()?);
    let text = rest.iter().map(|&l| lines.slice(l, l)).collect();
    Some(Piece { name: "<module>".into(), start_line: first, end_line: last, text })
}

fn python_spans(text: &str, lines: &Lines) -> Option<Vec<Span>> {
    let module = parser::parse_module(text).ok()?.into_syntax();
    let mut spans = Vec::new();
    for stmt in &module.body {
        let range = stmt.range();
        let (start, end) = (lines.line_of(range.start().to_usize()), lines.last_line(range.start().to_usize(), range.end().to_usize()));
        match stmt {
            ast::Stmt::FunctionDef(f) => spans.push((f.name.as_str().to_owned(), start, end)),
            ast::Stmt::ClassDef(c) => {
                let class = c.name.as_str();
                let methods: Vec<&ast::StmtFunctionDef> = c.body.iter().filter_map(|s| s.as_function_def_stmt()).collect();
                let header_end = methods.first().map_or(end, |m| lines.line_of(m.range.start().to_usize()).saturating_sub(1).max(start));
                spans.push((class.to_owned(), start, header_end));
                for m in methods {
                    let r = m.range;
                    let (s, e) = (lines.line_of(r.start().to_usize()), lines.last_line(r.start().to_usize(), r.end().to_usize()));
                    spans.push((format!("{class}.{}", m.name.as_str()), s, e));
                }
            }
            _ => {}
        }
    }
    Some(spans)
}

fn js_spans(text: &str, lines: &Lines) -> Option<Vec<Span>> {
    // JavaScript (with JSX) first, then TypeScript: the same chunker serves .js and .ts files.
    let kinds = [SourceType::unambiguous().with_jsx(true), SourceType::unambiguous().with_typescript(true).with_jsx(true)];
    kinds.iter().find_map(|&kind| {
        let allocator = Allocator::default();
        let ret = Parser::new(&allocator, text, kind).parse();
        (!ret.panicked && ret.diagnostics.is_empty()).then(|| js_program_spans(&ret.program, lines))
    })
}

fn js_program_spans(program: &oxc_ast::ast::Program, lines: &Lines) -> Vec<Span> {
    let mut spans = Vec::new();
    let line_span = |span: oxc_span::Span| {
        let (s, e) = (span.start as usize, span.end as usize);
        (lines.line_of(s), lines.last_line(s, e))
    };
    for stmt in &program.body {
        let outer = line_span(stmt.span());
        match stmt {
            Statement::ExportDeclaration(e) => js_declaration(&e.declaration, outer, &line_span, &mut spans),
            Statement::ExportDefaultDeclaration(e) => match &e.declaration {
                ExportDefaultDeclarationKind::FunctionDeclaration(f) => {
                    let name = f.name().map_or("default".to_owned(), |n| n.as_str().to_owned());
                    spans.push((name, outer.0, outer.1));
                }
                ExportDefaultDeclarationKind::ClassDeclaration(c) => {
                    let name = c.name().map_or("default".to_owned(), |n| n.as_str().to_owned());
                    js_class(&name, &c.body.body, outer, &line_span, &mut spans);
                }
                _ => {}
            },
            other => {
                if let Some(d) = other.as_declaration() {
                    js_declaration(d, outer, &line_span, &mut spans);
                }
            }
        }
    }
    spans
}

fn js_declaration(d: &Declaration, outer: (u32, u32), line_span: &dyn Fn(oxc_span::Span) -> (u32, u32), spans: &mut Vec<Span>) {
    match d {
        Declaration::FunctionDeclaration(f) => {
            if let Some(name) = f.name() {
                spans.push((name.as_str().to_owned(), outer.0, outer.1));
            }
        }
        Declaration::ClassDeclaration(c) => {
            let name = c.name().map_or("class".to_owned(), |n| n.as_str().to_owned());
            js_class(&name, &c.body.body, outer, line_span, spans);
        }
        Declaration::VariableDeclaration(v) => {
            for decl in &v.declarations {
                let is_function = matches!(
                    decl.init,
                    Some(Expression::ArrowFunctionExpression(_) | Expression::FunctionExpression(_) | Expression::ClassExpression(_))
                );
                if let (true, Some(name)) = (is_function, decl.id.get_identifier_name()) {
                    let (s, e) = line_span(decl.span);
                    // `export const f = …` alone: the chunk starts at `export`.
                    let s = if v.declarations.len() == 1 { outer.0 } else { s };
                    spans.push((name.as_str().to_owned(), s, e));
                }
            }
        }
        _ => {}
    }
}

fn js_class(
    name: &str,
    body: &[ClassElement],
    outer: (u32, u32),
    line_span: &dyn Fn(oxc_span::Span) -> (u32, u32),
    spans: &mut Vec<Span>,
) {
    let methods: Vec<(String, (u32, u32))> = body
        .iter()
        .filter_map(|el| match el {
            ClassElement::MethodDefinition(m) => Some((m.key.static_name()?.into_owned(), line_span(m.span))),
            _ => None,
        })
        .collect();
    let header_end = methods.first().map_or(outer.1, |(_, (s, _))| s.saturating_sub(1).max(outer.0));
    spans.push((name.to_owned(), outer.0, header_end));
    for (method, (s, e)) in methods {
        spans.push((format!("{name}.{method}"), s, e));
    }
}

/// One span per heading section (ATX `#` headings outside fenced code blocks); text before the
/// first heading is named `<preamble>`.
fn markdown_spans(text: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut current = ("<preamble>".to_owned(), 1u32);
    let mut fence: Option<&str> = None;
    let mut count = 0u32;
    for (i, line) in text.lines().enumerate() {
        let n = i as u32 + 1;
        count = n;
        let t = line.trim_start();
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = Some(&t[..3]);
            continue;
        }
        let level = t.chars().take_while(|&c| c == '#').count();
        if (1..=6).contains(&level) && t[level..].starts_with([' ', '\t']) && line.len() - t.len() < 4 {
            if n > current.1 {
                spans.push((current.0.clone(), current.1, n - 1));
            }
            let title = t[level..].trim().trim_end_matches('#').trim().to_owned();
            path.retain(|(l, _)| *l < level);
            path.push((level, title));
            current = (path.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join(" > "), n);
        }
    }
    if count >= current.1 {
        spans.push((current.0, current.1, count));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pieces: &[Piece]) -> Vec<(&str, u32, u32)> {
        pieces.iter().map(|p| (p.name.as_str(), p.start_line, p.end_line)).collect()
    }

    #[test]
    fn python_functions_classes_methods_and_module_rest() {
        let src = "\"\"\"Doc.\"\"\"\nimport os\n\n@cache\ndef f(x):\n    return x\n\nclass A(B):\n    \"\"\"An A.\"\"\"\n    n = 1\n\n    def m(self):\n        pass\n\n    async def n2(self):\n        pass\n\nX = 3\n";
        let p = chunk(src, Format::Python);
        assert_eq!(
            names(&p),
            [("<module>", 1, 18), ("f", 4, 6), ("A", 8, 11), ("A.m", 12, 13), ("A.n2", 15, 16)]
        );
        assert_eq!(p[0].text, "\"\"\"Doc.\"\"\"\nimport os\nX = 3\n");
        assert!(p[1].text.starts_with("@cache\ndef f(x):"));
        assert!(p[2].text.contains("An A.") && !p[2].text.contains("def m"));
    }

    #[test]
    fn python_that_does_not_parse_falls_back_to_windows() {
        let src = format!("def broken(:\n{}", "x = 1\n".repeat(70));
        let p = chunk(&src, Format::Python);
        assert_eq!(names(&p), [("lines 1-60", 1, 60), ("lines 61-71", 61, 71)]);
    }

    #[test]
    fn javascript_declarations_exports_and_classes() {
        let src = "import x from 'y';\nexport function add(a, b) {\n  return a + b;\n}\nconst sub = (a, b) => a - b;\nclass Stack {\n  constructor() { this.items = []; }\n  push(v) {\n    this.items.push(v);\n  }\n}\nexport default function main() {}\n";
        let p = chunk(src, Format::JavaScript);
        let n = names(&p);
        assert!(n.contains(&("add", 2, 4)), "{n:?}");
        assert!(n.contains(&("sub", 5, 5)), "{n:?}");
        assert!(n.contains(&("Stack.push", 8, 10)), "{n:?}");
        assert!(n.contains(&("Stack.constructor", 7, 7)), "{n:?}");
        assert!(n.contains(&("main", 12, 12)), "{n:?}");
        assert!(n.iter().any(|(name, s, _)| *name == "<module>" && *s == 1), "{n:?}");
    }

    #[test]
    fn markdown_sections_by_heading_ignoring_fences() {
        let src = "intro\n# Install\ntext\n```sh\n# not a heading\n```\n## Linux\napt\n# Use\nrun it\n";
        let p = chunk(src, Format::Markdown);
        assert_eq!(
            names(&p),
            [("<preamble>", 1, 1), ("Install", 2, 6), ("Install > Linux", 7, 8), ("Use", 9, 10)]
        );
    }

    #[test]
    fn long_definitions_are_split_and_empty_files_have_no_chunks() {
        let body = "    x = 1\n".repeat(200);
        let p = chunk(&format!("def big():\n{body}"), Format::Python);
        assert_eq!(names(&p), [("big", 1, 150), ("big", 151, 201)]);
        assert!(chunk("", Format::Python).is_empty());
        assert!(chunk("\n\n", Format::Markdown).is_empty());
    }

    #[test]
    fn deeply_nested_code_does_not_overflow_the_stack() {
        let src = format!("x = {}1{}\n", "(".repeat(5000), ")".repeat(5000));
        let p = chunk(&src, Format::Python);
        assert_eq!(p.len(), 1, "one chunk, parsed or as a window");
    }
}
