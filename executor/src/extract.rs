//! Finds the code in a model's reply: a fenced block (the best one when there are several), an
//! opening fence the reply never closed, or code that starts after some prose. Shared by
//! everything that runs a model's code: the interactive agent, the swarm worker and the
//! inference service.

use crate::Lang;
use serde::{Deserialize, Serialize};

/// How the code was found in the model's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Extraction {
    /// A complete fenced block.
    Fenced,
    /// An opening fence without its closing one (the reply was cut off).
    UnclosedFence,
    /// No fence: the code started after some prose.
    Unfenced,
}

/// Code found in a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// The code, ending with one newline.
    pub code: String,
    /// How it was found.
    pub how: Extraction,
}

/// One fenced block of a reply.
struct Block<'a> {
    info: &'a str,
    body: String,
    closed: bool,
}

fn fence_blocks(reply: &str) -> Vec<Block<'_>> {
    let mut blocks = Vec::new();
    let mut current: Option<(&str, Vec<&str>)> = None;
    for line in reply.lines() {
        let trimmed = line.trim_start();
        let is_fence = trimmed.starts_with("```");
        match (&mut current, is_fence) {
            (None, true) => current = Some((trimmed.trim_start_matches('`').trim(), Vec::new())),
            (Some(_), true) => {
                let (info, lines) = current.take().expect("inside a block");
                blocks.push(Block { info, body: lines.join("\n"), closed: true });
            }
            (Some((_, lines)), false) => lines.push(line),
            (None, false) => {}
        }
    }
    if let Some((info, lines)) = current {
        blocks.push(Block { info, body: lines.join("\n"), closed: false });
    }
    blocks
}

fn tag_matches(info: &str, lang: Lang) -> bool {
    let tag = info.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
    match lang {
        Lang::Python => matches!(tag.as_str(), "python" | "py" | "python3"),
        Lang::JavaScript => matches!(tag.as_str(), "javascript" | "js" | "node" | "mjs"),
    }
}

fn tag_is_other(info: &str, lang: Lang) -> bool {
    let tag = info.split_whitespace().next().unwrap_or("");
    !tag.is_empty() && !tag_matches(info, lang)
}

/// Whether a line starts code (as opposed to prose) in `lang`.
pub fn starts_code(line: &str, lang: Lang) -> bool {
    let t = line.trim_start();
    let starters: &[&str] = match lang {
        Lang::Python => &["def ", "class ", "import ", "from ", "@", "async def "],
        Lang::JavaScript => &["function ", "const ", "let ", "var ", "class ", "\"use strict\"", "'use strict'"],
    };
    starters.iter().any(|s| t.starts_with(s))
}

/// Whether a non-indented line after code is prose that ends the code.
fn is_prose(line: &str, lang: Lang) -> bool {
    let t = line.trim();
    if t.is_empty() || line.starts_with([' ', '\t']) || starts_code(line, lang) {
        return false;
    }
    let code_marks = match lang {
        Lang::Python => ["=", "(", "#", "[", "{"].as_slice(),
        Lang::JavaScript => ["=", "(", "//", "}", ";", "[", "{"].as_slice(),
    };
    let first = t.split_whitespace().next().unwrap_or("");
    let keywords = [
        "return", "if", "for", "while", "else", "elif", "try", "except", "finally", "with", "print", "assert", "match",
        "case", "raise", "pass", "del", "global", "nonlocal", "yield", "break", "continue", "lambda", "await",
    ];
    if keywords.contains(&first.trim_end_matches(':')) {
        return false;
    }
    // Prose: words without code's symbols, or a heading such as `Explanation:`.
    (t.contains(' ') && !code_marks.iter().any(|m| t.contains(m))) || (lang == Lang::Python && t.ends_with(':'))
}

/// Finds the code in `reply`, or `None` when there is none.
pub fn extract_code(reply: &str, lang: Lang) -> Option<Extracted> {
    let blocks = fence_blocks(reply);
    let usable: Vec<&Block> =
        blocks.iter().filter(|b| !b.body.trim().is_empty() && !tag_is_other(b.info, lang)).collect();
    if let Some(best) = usable
        .iter()
        .max_by_key(|b| (tag_matches(b.info, lang), b.closed, defines_something(&b.body, lang), b.body.len()))
    {
        let how = if best.closed { Extraction::Fenced } else { Extraction::UnclosedFence };
        return Some(Extracted { code: finish(&best.body), how });
    }
    let lines: Vec<&str> = reply.lines().collect();
    let start = lines.iter().position(|l| starts_code(l, lang))?;
    let mut end = lines.len();
    for (i, line) in lines.iter().enumerate().skip(start + 1) {
        if is_prose(line, lang) {
            end = i;
            break;
        }
    }
    let code = lines[start..end].join("\n");
    (!code.trim().is_empty()).then(|| Extracted { code: finish(&code), how: Extraction::Unfenced })
}

fn defines_something(body: &str, lang: Lang) -> bool {
    body.lines().any(|l| match lang {
        Lang::Python => l.starts_with("def ") || l.starts_with("class "),
        Lang::JavaScript => l.starts_with("function ") || l.contains("=>") || l.starts_with("class "),
    })
}

fn finish(code: &str) -> String {
    let trimmed = code.trim_end();
    let start = trimmed.lines().take_while(|l| l.trim().is_empty()).map(|l| l.len() + 1).sum::<usize>();
    format!("{}\n", &trimmed[start.min(trimmed.len())..])
}

/// What a model is asked to answer with when it edits a file of `lang`: in Python only the
/// functions and classes it adds or changes (what small models give even when asked for the
/// whole file; [`edited_content`] puts them into the file), in JavaScript the whole file.
pub fn edit_answer_shape(lang: Lang) -> &'static str {
    match lang {
        Lang::Python => "the functions and classes you add or change, whole",
        Lang::JavaScript => "the complete new content of the file",
    }
}

/// What a model is asked to answer with, in its first prompt and in each retry: when it edits a
/// file, [`edit_answer_shape`]; otherwise the complete code.
pub fn answer_shape(lang: Lang, editing: bool) -> &'static str {
    if editing { edit_answer_shape(lang) } else { "the complete code" }
}

/// A file's new content from a model's `answer` (code already extracted) to an edit of
/// `original` (`None`: a new file). In Python the answer's definitions replace those of the same
/// name, new ones are appended, the rest of the file is kept, and the demo asserts and prints
/// models append are dropped; in JavaScript the answer is the whole file. It ends with one
/// newline.
pub fn edited_content(original: Option<&str>, answer: &str, lang: Lang) -> String {
    let content = match (lang, original) {
        (Lang::Python, Some(original)) => crate::pysrc::merge(original, &crate::pysrc::tidy(answer)),
        (Lang::Python, None) => crate::pysrc::tidy(answer),
        (Lang::JavaScript, _) => answer.to_owned(),
    };
    format!("{}\n", content.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn py(reply: &str) -> Extracted {
        extract_code(reply, Lang::Python).expect("code")
    }

    #[test]
    fn a_fenced_block_after_prose() {
        let e = py("Sure! Here is the code:\n\n```python\ndef f(x):\n    return x + 1\n```\n\nThis adds one.");
        assert_eq!(e.code, "def f(x):\n    return x + 1\n");
        assert_eq!(e.how, Extraction::Fenced);
    }

    #[test]
    fn the_python_block_wins_over_other_languages_and_shorter_blocks() {
        let reply = "```bash\npip install x\n```\n```\nf(1)\n```\n```python\ndef f(x):\n    return 2 * x\n```";
        assert_eq!(py(reply).code, "def f(x):\n    return 2 * x\n");
    }

    #[test]
    fn an_unclosed_fence_is_taken_to_the_end() {
        let e = py("```python\ndef f(x):\n    if x:\n        return 1");
        assert_eq!(e.how, Extraction::UnclosedFence);
        assert_eq!(e.code, "def f(x):\n    if x:\n        return 1\n");
    }

    #[test]
    fn unfenced_code_after_prose_stops_at_trailing_prose() {
        let reply = "The function below works.\nimport math\n\ndef area(r):\n    return math.pi * r ** 2\nExplanation:\nThis uses the formula.";
        let e = py(reply);
        assert_eq!(e.how, Extraction::Unfenced);
        assert_eq!(e.code, "import math\n\ndef area(r):\n    return math.pi * r ** 2\n");
    }

    #[test]
    fn javascript_blocks_and_no_code_at_all() {
        let e = extract_code("```js\nfunction add(a, b) { return a + b; }\n```", Lang::JavaScript).unwrap();
        assert_eq!(e.code, "function add(a, b) { return a + b; }\n");
        assert_eq!(extract_code("I cannot help with that.", Lang::Python), None);
        assert_eq!(extract_code("```python\n\n```", Lang::Python), None);
    }
}
