//! Finds the tests a task carries: a `check(candidate)` function, `assert` lines, or examples
//! (doctests `>>> f(1)` / `2` or `>>> f(1) == 2`, and `f(1) == 2`, `f(1) ==> 2`, `f(1) ➞ 2`,
//! `f(1) => 2`, `f(1) = 2`, `f(1) returns 2` lines, also after leading prose), and turns the
//! model's proposed tests into a test file. Each assertion is kept only when it is inside the
//! subset and parses, so one bad line cannot break the whole file.

use super::events::{TestSuite, TestsOrigin};
use edgecoder_executor::pysrc;
use edgecoder_executor::{Lang, Limits, Outcome};

/// Whether brackets and quotes balance on one line (so it is a complete expression).
fn balanced(text: &str) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                chars.next();
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ')' | ']' | '}') => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0 && quote.is_none()
}

/// Where `needle` first occurs in `text` outside quotes and brackets.
fn find_top_level(text: &str, needle: &str) -> Option<usize> {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        if let Some(q) = quote {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                _ if c == q => quote = None,
                _ => {}
            }
            continue;
        }
        if depth == 0 && text[at..].starts_with(needle) {
            return Some(at);
        }
        match c {
            '\'' | '"' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Whether a single test line is inside the subset and parses on its own.
fn usable(line: &str, lang: Lang) -> bool {
    if edgecoder_executor::check(line, lang).is_err() {
        return false;
    }
    let limits = Limits { wall_time_ms: 2_000, ..Limits::default() };
    let report = edgecoder_executor::run_tests("", line, lang, &limits);
    !matches!(&report.run.outcome, Outcome::Error { kind, .. } if kind == "SyntaxError")
}

fn keep_usable(lines: Vec<String>, lang: Lang) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    lines.into_iter().filter(|l| seen.insert(l.clone()) && usable(l, lang)).collect()
}

fn is_assert_line(t: &str, lang: Lang) -> bool {
    match lang {
        Lang::Python => t.starts_with("assert ") || t.starts_with("assert("),
        Lang::JavaScript => t.starts_with("assert(") || t.starts_with("assert."),
    }
}

/// `assert` lines written in the task (outside any `def check`).
fn task_asserts(task: &str, lang: Lang) -> Vec<String> {
    task.lines()
        .map(str::trim)
        .filter(|t| is_assert_line(t, lang) && balanced(t))
        .map(|t| t.trim_end_matches(';').to_owned() + if lang == Lang::JavaScript { ";" } else { "" })
        .collect()
}

/// An example's assertion in `lang`: `assert f(1) == 2` or `assert.deepStrictEqual(f(1), 2);`.
fn example_assert(call: &str, expected: &str, lang: Lang) -> String {
    match lang {
        Lang::Python => format!("assert {call} == {expected}"),
        Lang::JavaScript => format!("assert.deepStrictEqual({call}, {expected});"),
    }
}

/// A line of the task without its comment leader: JavaScript examples live in `//` or `/** *`
/// comments, Python's in docstrings.
fn example_text(line: &str, lang: Lang) -> &str {
    let t = line.trim();
    match lang {
        Lang::Python => t,
        Lang::JavaScript => t.strip_prefix("//").or_else(|| t.strip_prefix('*')).unwrap_or(t).trim(),
    }
}

/// The functions a JavaScript task declares (`function name(`).
fn js_function_names(code: &str) -> Vec<String> {
    code.split("function ")
        .skip(1)
        .filter_map(|rest| {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '$').collect();
            (!name.is_empty() && rest[name.len()..].trim_start().starts_with('(')).then_some(name)
        })
        .collect()
}

/// Examples in the task (doctest-style `>>> f(1)` / `2`, or `f(1) == 2` lines) turned into
/// assertions in `lang`.
fn task_examples(task: &str, lang: Lang) -> Vec<String> {
    let names = match lang {
        Lang::Python => pysrc::defined_names(&code_of(task)),
        Lang::JavaScript => js_function_names(&code_of(task)),
    };
    let lines: Vec<&str> = task.lines().map(|l| example_text(l, lang)).collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i];
        if let Some(expr) = t.strip_prefix(">>> ") {
            // `>>> f(1) == 2` states its own expectation.
            if let Some(at) = find_top_level(expr, " == ") {
                let (call, expected) = (expr[..at].trim(), expr[at + 4..].trim());
                if balanced(call) && !expected.is_empty() && balanced(expected) {
                    out.push(example_assert(call, expected, lang));
                    i += 1;
                    continue;
                }
            }
            // The expected value: the next line, and more lines only while its brackets are open.
            let mut expected = Vec::new();
            let mut j = i + 1;
            while j < lines.len() {
                let e = lines[j];
                let complete = !expected.is_empty() && balanced(&expected.join(" "));
                if complete || e.is_empty() || e.starts_with(">>>") || e.starts_with("\"\"\"") || e.starts_with("'''") || e.starts_with("*/") {
                    break;
                }
                expected.push(e);
                j += 1;
            }
            let expected = expected.join(" ");
            if !expected.is_empty() && balanced(expr) && balanced(&expected) {
                out.push(example_assert(expr.trim(), &expected, lang));
            }
            i = j;
            continue;
        }
        if let Some(input) = t.strip_prefix("Input:") {
            // `Input: a = 1, b = [2]` (arguments over several lines too) then `Output: 3`.
            let mut args = vec![input.trim()];
            let mut j = i + 1;
            while j < lines.len() && !lines[j].starts_with("Output:") && !lines[j].starts_with("Input:") && j - i < 8 {
                args.push(lines[j]);
                j += 1;
            }
            if let (Some(name), Some(output)) = (names.last(), lines.get(j).and_then(|l| l.strip_prefix("Output:"))) {
                let output = output.trim();
                let expected = if output.is_empty() { lines.get(j + 1).copied().unwrap_or("") } else { output };
                if let Some(line) = call_with(name, &args.join(", "), expected, lang) {
                    out.push(line);
                }
                i = j + 1;
                continue;
            }
        }
        if let Some(line) = example_line(t, &names, lang).or_else(|| output_should_be(t, &names, lang)) {
            out.push(line);
        }
        i += 1;
    }
    out
}

/// The values of `text`'s arguments, written `a = 1, b = [2]`, `a : 1` or as bare values, split
/// at its top-level commas.
fn argument_values(text: &str) -> Vec<&str> {
    let mut values = Vec::new();
    let mut rest = text;
    loop {
        let end = find_top_level(rest, ",").unwrap_or(rest.len());
        let piece = rest[..end].trim();
        if !piece.is_empty() {
            let named = piece
                .find(['=', ':'])
                .filter(|&at| {
                    let name = piece[..at].trim();
                    !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') && !piece[at..].starts_with("==")
                })
                .map(|at| piece[at + 1..].trim());
            values.push(named.unwrap_or(piece));
        }
        if end == rest.len() {
            return values;
        }
        rest = &rest[end + 1..];
    }
}

/// The assertion that `name` called with the arguments of `args` gives `expected`.
fn call_with(name: &str, args: &str, expected: &str, lang: Lang) -> Option<String> {
    let values = argument_values(args);
    let expected = expected.trim().trim_end_matches(['.', ',', ';']).trim();
    let usable = |v: &str| !v.is_empty() && balanced(v);
    if values.is_empty() || !values.iter().all(|v| usable(v)) || !usable(expected) {
        return None;
    }
    Some(example_assert(&format!("{name}({})", values.join(", ")), expected, lang))
}

/// `For lst = [1,2,3] the output should be 6` (HumanEval's list examples).
fn output_should_be(t: &str, names: &[String], lang: Lang) -> Option<String> {
    let rest = t.strip_prefix("For ").or_else(|| t.strip_prefix("for "))?;
    let at = find_top_level(rest, " the output should be ")?;
    call_with(names.last()?, &rest[..at], &rest[at + " the output should be ".len()..], lang)
}

/// `f(1) == 2`, `f(1) ==> 2`, `f(1) ➞ 2`, `f(1) => 2`, `f(1) -> 2`, `f(1) = 2`,
/// `f(1) should return 2`, `f(1) returns 2` (and in JavaScript `f(1) === 2`, `f(1) // 2`) for a
/// function the task defines, also after leading prose (`for f(1) == 2`); a trailing `# …`
/// comment is dropped.
fn example_line(t: &str, names: &[String], lang: Lang) -> Option<String> {
    let t = t.trim_start_matches(['-', '*', ' ']);
    let (name, start) = names.iter().find_map(|n| call_start(t, n).map(|at| (n, at)))?;
    let t = &t[start..];
    let arrows: &[&str] = match lang {
        Lang::Python => &["==>", " == ", " ➞ ", " => ", " -> ", " should return ", " returns ", " = "],
        Lang::JavaScript => &["==>", " === ", " == ", " ➞ ", " => ", " -> ", " should return ", " returns ", " // "],
    };
    for arrow in arrows {
        let Some(at) = find_top_level(t, arrow) else { continue };
        // `f(x) # => y`: the arrow inside a comment after the call.
        let call = t[..at].trim();
        let call = if lang == Lang::Python { call.strip_suffix('#').unwrap_or(call).trim_end() } else { call };
        let mut expected = t[at + arrow.len()..].trim();
        if lang == Lang::Python
            && let Some(comment) = find_top_level(expected, "#")
        {
            expected = expected[..comment].trim();
        }
        let expected = expected.trim_end_matches(['.', ',', ';']).trim();
        if call.starts_with(name.as_str()) && call.ends_with(')') && balanced(call) && !expected.is_empty() && balanced(expected) {
            return Some(example_assert(call, expected, lang));
        }
    }
    None
}

/// Where a call of `name` starts in `t`: at its start, or after a space (leading prose).
fn call_start(t: &str, name: &str) -> Option<usize> {
    let call = format!("{name}(");
    if t.starts_with(&call) {
        return Some(0);
    }
    t.match_indices(&call).map(|(at, _)| at).find(|&at| t[..at].ends_with(' '))
}

/// The code inside the task: its fenced blocks, or the whole text when it has none.
pub fn code_of(task: &str) -> String {
    let mut blocks = String::new();
    let mut inside = false;
    for line in task.lines() {
        if line.trim_start().starts_with("```") {
            inside = !inside;
            continue;
        }
        if inside {
            blocks.push_str(line);
            blocks.push('\n');
        }
    }
    if blocks.trim().is_empty() { task.to_owned() } else { blocks }
}

/// A `def check(...)` in the task and the call that runs it.
fn task_check(task: &str) -> Option<String> {
    let code = code_of(task);
    let statements = pysrc::statements(&code);
    let check = statements.iter().find(|s| s.kind == pysrc::Kind::Def("check".into()))?;
    let call = task.lines().map(str::trim).find(|l| l.starts_with("check(") && balanced(l)).map(str::to_owned);
    let call = call.or_else(|| {
        let names = pysrc::defined_names(&code);
        names.into_iter().find(|n| n != "check").map(|n| format!("check({n})"))
    })?;
    Some(format!("{}\n{call}\n", check.text.trim_end()))
}

/// The tests written in the task, if it has any.
pub fn from_task(task: &str, lang: Lang) -> Option<TestSuite> {
    if lang == Lang::Python {
        if let Some(source) = task_check(task) {
            return Some(TestSuite { source, origin: TestsOrigin::TaskCheck });
        }
    }
    let asserts = keep_usable(task_asserts(task, lang), lang);
    let examples = keep_usable(task_examples(task, lang), lang);
    let origin = if asserts.is_empty() { TestsOrigin::TaskExamples } else { TestsOrigin::TaskAsserts };
    let all: Vec<String> = asserts.into_iter().chain(examples).collect();
    (!all.is_empty()).then(|| TestSuite { source: all.join("\n") + "\n", origin })
}

/// The test file made of the assertions in the model's reply (at most `max`).
pub fn from_model_reply(code: &str, lang: Lang, max: usize) -> Option<TestSuite> {
    let lines: Vec<String> = code
        .lines()
        .map(str::trim)
        .filter(|t| is_assert_line(t, lang) && balanced(t))
        .map(str::to_owned)
        .collect();
    let mut kept = keep_usable(lines, lang);
    kept.truncate(max);
    (!kept.is_empty()).then(|| TestSuite { source: kept.join("\n") + "\n", origin: TestsOrigin::ModelWritten })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doctests_and_example_lines_become_asserts() {
        let task = "def add(a, b):\n    \"\"\"Add.\n    >>> add(1, 2)\n    3\n    >>> add('a',\n    >>> add(2, 2)\n    4\n    add(5, 5) ➞ 10\n    add(1, 1) == 2\n    \"\"\"\n";
        let suite = from_task(task, Lang::Python).expect("tests");
        assert_eq!(suite.origin, TestsOrigin::TaskExamples);
        assert_eq!(suite.source, "assert add(1, 2) == 3\nassert add(2, 2) == 4\nassert add(5, 5) == 10\nassert add(1, 1) == 2\n");
    }

    #[test]
    fn the_example_forms_of_humaneval_become_asserts() {
        let task = "def f(x, y=0):\n    \"\"\"Do it.\n    >>> f([1, 5]) == [1, 5]\n    f(\"Mary had\", 4) ==> [\"little\"]\n    f([30, 13]) ==>0\n    f(5) returns [1, 5] # the odd ones, 1 and 5\n    f(\"1/5\", \"5/1\") = True\n    for f('my_class', ['AA', 'Be']) == 'my_class.AA'\n    f(2) = 1 + (2 / 2) = 2\n    f(n) = 1 + n / 2, if n is even.\n    f(\"a == b\") == 1\n    \"\"\"\n";
        let suite = from_task(task, Lang::Python).expect("tests");
        assert_eq!(
            suite.source,
            "assert f([1, 5]) == [1, 5]\nassert f(\"Mary had\", 4) == [\"little\"]\nassert f([30, 13]) == 0\nassert f(5) == [1, 5]\nassert f(\"1/5\", \"5/1\") == True\nassert f('my_class', ['AA', 'Be']) == 'my_class.AA'\nassert f(\"a == b\") == 1\n"
        );
        assert_eq!(find_top_level("g(\"a == b\") == 1", " == "), Some(11));
        assert_eq!(call_start("the sum f(1)", "f"), Some(8));
        assert_eq!(call_start("gf(1)", "f"), None);
    }

    #[test]
    fn input_output_pairs_and_output_should_be_lines_become_asserts() {
        let task = "def helper(x):\n    pass\ndef f(grid, k):\n    \"\"\"Find it.\n    Example 1:\n        Input: grid = [ [1,2,3], [4,5,6]], k = 3\n        Output: [1, 2, 1]\n    Example 2:\n        Input: \n            grid : [[0,0,1], [0,1,0]]\n            k : 1\n        Output: 6\n    Input: sentence = \"lets go, now\"\n    Output: \"go\"\n    For lst = [1,2,3] the output should be 14\n    f(\"example.txt\") # => 'Yes'\n    \"\"\"\n";
        let suite = from_task(task, Lang::Python).expect("tests");
        assert_eq!(
            suite.source,
            "assert f([ [1,2,3], [4,5,6]], 3) == [1, 2, 1]\nassert f([[0,0,1], [0,1,0]], 1) == 6\nassert f(\"lets go, now\") == \"go\"\nassert f([1,2,3]) == 14\nassert f(\"example.txt\") == 'Yes'\n"
        );
        assert_eq!(argument_values("a = 1, b == 2, [3, 4]"), ["1", "b == 2", "[3, 4]"]);
    }

    #[test]
    fn javascript_examples_in_comments_become_asserts() {
        let task = "Complete it.\n```javascript\n// Add two numbers.\n// >>> add(1, 2)\n// 3\n// >>> add([1,\n// >>> pair(1, 2)\n// [1,\n//  2]\n/**\n * add(2, 2) // 4\n * add(5, 5) === 10\n */\nfunction add(a, b){\n}\nfunction pair(a, b) {}\n```";
        let suite = from_task(task, Lang::JavaScript).expect("tests");
        assert_eq!(suite.origin, TestsOrigin::TaskExamples);
        assert_eq!(
            suite.source,
            "assert.deepStrictEqual(add(1, 2), 3);\nassert.deepStrictEqual(pair(1, 2), [1, 2]);\nassert.deepStrictEqual(add(2, 2), 4);\nassert.deepStrictEqual(add(5, 5), 10);\n"
        );
        assert_eq!(js_function_names("function f (x) {}\nconst g = function (y) {};\nfunction $h(){}"), ["f", "$h"]);
    }

    #[test]
    fn asserts_in_the_task_are_taken_and_broken_ones_dropped() {
        let task = "Write is_even(n).\nassert is_even(2)\nassert not is_even(3)\nassert is_even(4) ==\nassert open('x')\n";
        let suite = from_task(task, Lang::Python).expect("tests");
        assert_eq!(suite.origin, TestsOrigin::TaskAsserts);
        assert_eq!(suite.source, "assert is_even(2)\nassert not is_even(3)\n");
    }

    #[test]
    fn a_check_function_is_called_on_the_task_function() {
        let task = "```python\ndef sq(x):\n    pass\n\ndef check(candidate):\n    assert candidate(2) == 4\n```";
        let suite = from_task(task, Lang::Python).expect("tests");
        assert_eq!(suite.origin, TestsOrigin::TaskCheck);
        assert_eq!(suite.source, "def check(candidate):\n    assert candidate(2) == 4\ncheck(sq)\n");
        assert_eq!(from_task("Write a function that adds two numbers.", Lang::Python), None);
    }

    #[test]
    fn model_tests_keep_only_usable_asserts() {
        let reply = "assert f(1) == 2\nprint(f(1))\nassert f(2) == (\nassert __import__('os')\nassert f(3) == 4";
        let suite = from_model_reply(reply, Lang::Python, 5).expect("tests");
        assert_eq!(suite.source, "assert f(1) == 2\nassert f(3) == 4\n");
        assert_eq!(suite.origin, TestsOrigin::ModelWritten);
        let js = from_model_reply("assert.strictEqual(f(1), 2);\nconsole.log(1);", Lang::JavaScript, 5).unwrap();
        assert_eq!(js.source, "assert.strictEqual(f(1), 2);\n");
    }
}
