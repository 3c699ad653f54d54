//! Reads a failed test report into a [`Diagnosis`]: the first failing test, its source line,
//! the error, and for a failing `assert a == b` what `a` actually was (computed by running the
//! code and `a` once more in the executor).

use super::events::Diagnosis;
use edgecoder_executor::{Lang, Limits, Outcome, TestReport, TestStatus};

/// The left side of a top-level `==` in `assert LEFT == RIGHT`, if the line has that shape.
pub fn assert_lhs(line: &str) -> Option<&str> {
    let body = line.trim().strip_prefix("assert")?.trim_start();
    let bytes = body.as_bytes();
    let (mut depth, mut quote) = (0i32, None::<u8>);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(_) if b == b'\\' => i += 1,
            Some(q) if b == q => quote = None,
            Some(_) => {}
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth -= 1,
                b'=' if depth == 0 && bytes.get(i + 1) == Some(&b'=') => {
                    let before = bytes.get(i.wrapping_sub(1)).copied();
                    if !matches!(before, Some(b'!' | b'<' | b'>' | b'=')) {
                        let lhs = body[..i].trim();
                        return (!lhs.is_empty()).then_some(lhs);
                    }
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

/// Runs `code` then prints `repr(expr)`; the printed value, when the run succeeds.
fn evaluate(code: &str, expr: &str, limits: &Limits) -> Option<String> {
    let probe = format!("{code}\nprint(repr({expr}))\n");
    let limits = Limits { wall_time_ms: limits.wall_time_ms.min(3_000), ..limits.clone() };
    let result = edgecoder_executor::run(&probe, Lang::Python, &limits);
    if !result.outcome.is_ok() {
        return None;
    }
    let value = result.stdout.lines().last()?.trim();
    let mut shown: String = value.chars().take(300).collect();
    if shown.len() < value.len() {
        shown.push_str("...");
    }
    Some(shown)
}

fn describe(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok => "the run ended without an error".into(),
        Outcome::Error { kind, message, line } => {
            let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
            format!("{kind}: {message}{at}")
        }
        Outcome::Timeout => "Timeout: the code ran too long (an endless loop?)".into(),
        Outcome::StepLimit => "StepLimit: the code did too many steps (an endless loop?)".into(),
        Outcome::MemoryLimit => "MemoryLimit: the code used too much memory".into(),
        Outcome::OutputLimit => "OutputLimit: the code printed too much".into(),
        Outcome::OutsideSubset { message, .. } => message.clone(),
    }
}

/// The diagnosis of a report that did not pass.
pub fn diagnose(report: &TestReport, code: &str, tests: &str, lang: Lang, limits: &Limits) -> Diagnosis {
    let failing = report.tests.iter().find(|t| t.status != TestStatus::Passed);
    let Some(test) = failing else {
        let error = if report.tests.is_empty() && report.run.outcome.is_ok() {
            "no tests ran: the test file has no asserts, test_* functions or check()".to_owned()
        } else {
            describe(&report.run.outcome)
        };
        return Diagnosis { summary: format!("the run failed: {error}"), test: None, test_source: None, error, got: None };
    };
    let source_line = |line: Option<u32>| {
        line.and_then(|l| tests.lines().nth((l as usize).checked_sub(1)?)).map(|l| l.trim().to_owned())
    };
    let (test_source, error) = match &test.status {
        TestStatus::Passed => unreachable!("a failing test"),
        TestStatus::Failed { message, line } => {
            let source = source_line(*line);
            let same = source.as_deref().is_some_and(|s| s.contains(message.trim()));
            let error = if message.is_empty() || same { "AssertionError".to_owned() } else { format!("AssertionError: {message}") };
            (source, error)
        }
        TestStatus::Error { kind, message, line } => {
            if message.starts_with("the solution failed") {
                (None, format!("the code itself raised: {}", describe(&report.run.outcome)))
            } else {
                let error = if message.is_empty() { kind.clone() } else { format!("{kind}: {message}") };
                (source_line(*line), error)
            }
        }
    };
    let got = match (lang, test_source.as_deref().and_then(assert_lhs)) {
        (Lang::Python, Some(lhs)) if error.starts_with("AssertionError") => evaluate(code, lhs, limits),
        _ => None,
    };
    let summary = match &test_source {
        Some(source) => format!("{} failed: {source} — {error}", test.name),
        None => format!("{} failed — {error}", test.name),
    };
    Diagnosis { summary, test: Some(test.name.clone()), test_source, error, got }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_left_side_of_a_top_level_equality() {
        assert_eq!(assert_lhs("assert f(1) == 2"), Some("f(1)"));
        assert_eq!(assert_lhs("assert f('==', x == y) == [1]"), Some("f('==', x == y)"));
        assert_eq!(assert_lhs("assert f(1) != 2"), None);
        assert_eq!(assert_lhs("assert f(1) <= 2"), None);
        assert_eq!(assert_lhs("print(1)"), None);
    }

    #[test]
    fn a_failing_assert_is_diagnosed_with_the_actual_value() {
        let code = "def double(x):\n    return x + 2\n";
        let tests = "assert double(1) == 2\nassert double(3) == 6\n";
        let limits = Limits::default();
        let report = edgecoder_executor::run_tests(code, tests, Lang::Python, &limits);
        let d = diagnose(&report, code, tests, Lang::Python, &limits);
        assert_eq!(d.test.as_deref(), Some("assert#1"));
        assert_eq!(d.test_source.as_deref(), Some("assert double(1) == 2"));
        assert_eq!(d.error, "AssertionError");
        assert_eq!(d.got.as_deref(), Some("3"));
    }

    #[test]
    fn a_crashing_solution_and_a_missing_name_are_named() {
        let limits = Limits::default();
        let tests = "assert f(1) == 1\n";
        let broken = "def f(x):\n    return x +\n";
        let report = edgecoder_executor::run_tests(broken, tests, Lang::Python, &limits);
        let d = diagnose(&report, broken, tests, Lang::Python, &limits);
        assert!(d.error.contains("SyntaxError"), "{d:?}");
        let missing = "def g(x):\n    return x\n";
        let report = edgecoder_executor::run_tests(missing, tests, Lang::Python, &limits);
        let d = diagnose(&report, missing, tests, Lang::Python, &limits);
        assert!(d.error.contains("NameError"), "{d:?}");
        assert_eq!(d.got, None);
    }
}
