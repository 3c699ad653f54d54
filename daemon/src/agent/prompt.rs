//! Prompts for a sub-1B model: short, structured, the executor's subset rules stated once in the
//! system message, and the failing test with its error in every fix request. A
//! [`Conversation`] keeps the rendered prompt inside a token budget by dropping the oldest
//! fix turns and leaving a one-line summary of what they were.

use super::coder::CoderError;
use super::events::{Diagnosis, TestSuite};
use edgecoder_executor::Lang;
use edgecoder_model::chat::ChatMessage;

/// The fence tag of a language.
pub fn fence(lang: Lang) -> &'static str {
    match lang {
        Lang::Python => "python",
        Lang::JavaScript => "javascript",
    }
}

/// The system message: who the model is and the subset rules. For new code the modules are
/// not listed: a sub-1B model copies such a list into its answer as a row of imports (12 of the
/// first 64 HumanEval answers did, and failed). A task that edits a file keeps the wording with
/// the list, under which the 0.5B model makes the workspace tests' fix; without it, it copied the
/// file unchanged there.
pub fn system(lang: Lang, editing: bool) -> String {
    match lang {
        Lang::Python if editing => "You are an expert Python programmer. Your code runs in a sandbox.\n\
Rules:\n\
- Standard library only: math, re, string, itertools, functools, collections, heapq, bisect, typing, fractions, decimal, statistics, json, random, datetime.\n\
- No files, os, sys.argv, network, threads, subprocess, async, eval or exec.\n\
- Answer with one ```python code block."
            .to_owned(),
        Lang::Python => "You are an expert Python programmer. Your code runs in a sandbox: the Python standard library \
only (no numpy or other packages), and no files, os, sys.argv, network, threads, subprocess, async, eval or exec.\n\
Answer with one ```python code block."
            .to_owned(),
        Lang::JavaScript => "You are an expert JavaScript programmer. Your code runs in a sandbox.\n\
Rules:\n\
- Plain ES2023 script: no require, import, async/await, process, fetch, timers, eval or new Function.\n\
- Answer with one ```javascript code block."
            .to_owned(),
    }
}

/// The task as the model sees it: code-looking tasks are fenced.
pub fn task_block(task: &str, lang: Lang, current: Option<(&str, &str)>) -> String {
    let mut text = String::new();
    text.push_str("Task:\n");
    text.push_str(task.trim());
    if let Some((path, content)) = current {
        text.push_str(&format!("\n\nCurrent content of {path}:\n```{}\n{}\n```", fence(lang), content.trim_end()));
    }
    text
}

/// Asks for a short plan.
pub fn plan_request(task_block: &str) -> String {
    format!("{task_block}\n\nWrite a short plan: 2 to 4 numbered steps, one line each. No code.")
}

/// Asks for tests when the task has none.
pub fn tests_request(task_block: &str, lang: Lang) -> String {
    let shape = match lang {
        Lang::Python => "Python assert statements, like: assert add(2, 3) == 5",
        Lang::JavaScript => "JavaScript assertions, like: assert.strictEqual(add(2, 3), 5);",
    };
    format!(
        "{task_block}\n\nWrite 3 to 5 tests for a correct solution as {shape}. \
One per line, in one ```{} block. Only the tests, no solution.",
        fence(lang)
    )
}

/// Asks for the first code (`editing`: the task edits a file, see [`system`]).
pub fn code_request(task_block: &str, plan: &str, tests: Option<&TestSuite>, lang: Lang, editing: bool) -> String {
    let mut text = task_block.to_owned();
    if !plan.trim().is_empty() {
        text.push_str(&format!("\n\nPlan:\n{}", plan.trim()));
    }
    let shown: Vec<&str> = tests.map_or("", |t| t.source.as_str()).lines().filter(|l| !l.trim().is_empty()).take(12).collect();
    if !shown.is_empty() {
        text.push_str(&format!("\n\nThese tests must pass:\n```{}\n{}\n```", fence(lang), shown.join("\n")));
    }
    let imports = if editing { ", with its imports," } else { "" };
    let only = if editing { "" } else { " Import only what the code uses." };
    text.push_str(&format!(
        "\n\nWrite the complete code{imports} in one ```{} block.{only} Do not write tests or examples.",
        fence(lang)
    ));
    text
}

/// Tells the model what failed and asks for the whole corrected code.
pub fn fix_request(diagnosis: &Diagnosis, lang: Lang) -> String {
    let mut text = String::from("The code is wrong.\n");
    if let Some(source) = &diagnosis.test_source {
        text.push_str(&format!("Failing test: {source}\n"));
    }
    text.push_str(&format!("Error: {}\n", diagnosis.error));
    if let Some(got) = &diagnosis.got {
        text.push_str(&format!("The left side was: {got}\n"));
    }
    text.push_str(&format!(
        "Think about why, then write the whole corrected code in one ```{} block.",
        fence(lang)
    ));
    text
}

/// The code the model wrote, as it is kept in the conversation (fenced, without prose).
pub fn assistant_code(code: &str, lang: Lang) -> String {
    format!("```{}\n{}\n```", fence(lang), code.trim_end())
}

/// A conversation kept inside a token budget: system, the first request, then fix turns
/// (assistant code, user failure); the oldest turns are dropped first, and a one-line summary
/// of them is added to the first request.
#[derive(Debug, Clone)]
pub struct Conversation {
    system: String,
    first: String,
    turns: Vec<(String, String)>,
    dropped: Vec<String>,
}

/// The prompt did not fit the context budget even without history.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// The task (and file) alone take more than the budget.
    #[error(
        "the prompt takes {needed} tokens but the context budget is {budget} (including {reserve} for the answer): shorten the task or raise --context"
    )]
    TooLong {
        /// Tokens of the smallest prompt.
        needed: usize,
        /// The budget.
        budget: usize,
        /// Tokens reserved for the answer.
        reserve: usize,
    },
    /// The model could not count tokens.
    #[error(transparent)]
    Coder(#[from] CoderError),
}

impl Conversation {
    /// A conversation with its system message and first request.
    pub fn new(system: String, first: String) -> Self {
        Conversation { system, first, turns: Vec::new(), dropped: Vec::new() }
    }

    /// Adds a fix turn: the model's code and what was wrong with it (`summary` is the one line
    /// kept if the turn is dropped later).
    pub fn push(&mut self, assistant: String, user: String, summary: String) {
        self.turns.push((assistant, user));
        self.dropped.push(summary);
    }

    /// Whether fix turns follow the first request (a fresh conversation has none).
    pub fn has_turns(&self) -> bool {
        !self.turns.is_empty()
    }

    /// Turns dropped so far.
    pub fn dropped_turns(&self) -> usize {
        self.dropped.len() - self.turns.len()
    }

    fn messages(&self) -> Vec<ChatMessage> {
        let gone = self.dropped_turns();
        let mut first = self.first.clone();
        if gone > 0 {
            first.push_str(&format!(
                "\n\nEarlier attempts ({gone}, not shown) failed: {}.",
                self.dropped[..gone].join("; ")
            ));
        }
        let mut messages = vec![ChatMessage::system(self.system.clone()), ChatMessage::user(first)];
        for (assistant, user) in &self.turns {
            messages.push(ChatMessage::assistant(assistant.clone()));
            messages.push(ChatMessage::user(user.clone()));
        }
        messages
    }

    /// The messages to send, dropping the oldest turns until the prompt (as measured by
    /// `count`, the model's tokenizer over the rendered template) plus `reserve` answer tokens
    /// fits `budget`. The latest turn is always kept.
    pub fn fit(
        &mut self,
        count: &dyn Fn(&[ChatMessage]) -> Result<usize, CoderError>,
        budget: usize,
        reserve: usize,
    ) -> Result<Vec<ChatMessage>, FitError> {
        loop {
            let messages = self.messages();
            let needed = count(&messages)?;
            if needed + reserve <= budget {
                return Ok(messages);
            }
            if self.turns.len() <= 1 {
                return Err(FitError::TooLong { needed, budget, reserve });
            }
            self.turns.remove(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A length measure of the messages: a quarter token per byte plus four per message (the
    /// window's arithmetic does not depend on which tokenizer measures).
    fn by_bytes(messages: &[ChatMessage]) -> Result<usize, CoderError> {
        Ok(messages.iter().map(|m| m.content.len() / 4 + 4).sum())
    }

    #[test]
    fn the_window_drops_the_oldest_turns_and_summarizes_them() {
        let mut c = Conversation::new("s".repeat(40), "task ".repeat(20));
        for i in 0..5 {
            c.push("x".repeat(200), format!("fix {i}"), format!("attempt {i}: AssertionError"));
        }
        let all = c.fit(&by_bytes, 10_000, 100).unwrap();
        assert_eq!(all.len(), 12);
        let small = c.fit(&by_bytes, 250, 100).unwrap();
        assert!(small.len() < 12 && small.len() >= 4, "{}", small.len());
        let gone = c.dropped_turns();
        assert!(gone >= 1);
        assert!(small[1].content.contains(&format!("Earlier attempts ({gone}, not shown) failed: attempt 0: AssertionError")));
        assert_eq!(small.last().unwrap().content, "fix 4");
        let err = c.fit(&by_bytes, 60, 50).unwrap_err();
        assert!(err.to_string().contains("raise --context"), "{err}");
    }

    #[test]
    fn new_code_is_asked_for_without_a_module_list_and_edits_keep_theirs() {
        let fresh = code_request("Task:\nwrite add", "", None, Lang::Python, false);
        assert!(fresh.ends_with("Write the complete code in one ```python block. Import only what the code uses. Do not write tests or examples."), "{fresh}");
        assert!(!system(Lang::Python, false).contains("heapq"));
        let edit = code_request("Task:\nfix add", "", None, Lang::Python, true);
        assert!(edit.ends_with("Write the complete code, with its imports, in one ```python block. Do not write tests or examples."), "{edit}");
        assert!(system(Lang::Python, true).contains("Standard library only: math, re"));
    }

    #[test]
    fn fix_requests_carry_the_test_the_error_and_the_value() {
        let d = Diagnosis {
            summary: "assert#1 failed".into(),
            test: Some("assert#1".into()),
            test_source: Some("assert f(2) == 4".into()),
            error: "AssertionError".into(),
            got: Some("5".into()),
        };
        let text = fix_request(&d, Lang::Python);
        assert!(text.contains("Failing test: assert f(2) == 4\nError: AssertionError\nThe left side was: 5\n"), "{text}");
        assert!(system(Lang::Python, false).contains("no files, os"));
    }
}
