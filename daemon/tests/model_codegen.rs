//! The default instruct model writes working code: qwen2.5-coder-0.5b is asked for
//! `is_palindrome` through its chat template (greedy decoding), and the code it answers with
//! must pass three tests in the sandboxed executor.
//!
//! Needs the model in the store: `edgecoder model pull qwen2.5-coder-0.5b`.

use edgecoder_executor::{Lang, Limits};
use edgecoder_model::chat::ChatMessage;
use edgecoder_model::engine::{GenerateParams, LoadOptions, Model, Prompt};

#[global_allocator]
static HEAP: edgecoder_executor::python::HeapCounter = edgecoder_executor::python::HeapCounter;

const TASK: &str = "Write a Python function `is_palindrome(s: str) -> bool` that returns True \
when `s` reads the same forwards and backwards, ignoring case and every character that is not \
a letter or a digit. Answer with the code only, in one ```python block.";

const TESTS: &str = "\
assert is_palindrome('A man, a plan, a canal: Panama')
assert is_palindrome('racecar')
assert not is_palindrome('hello')
";

/// The body of the first fenced code block of `answer` (or the whole answer without one).
fn code_block(answer: &str) -> &str {
    let Some(start) = answer.find("```") else {
        return answer;
    };
    let after = &answer[start + 3..];
    let body = after.find('\n').map_or(after, |nl| &after[nl + 1..]);
    body.find("```").map_or(body, |end| &body[..end])
}

#[test]
fn code_block_takes_the_first_fence() {
    assert_eq!(code_block("Sure:\n```python\nx = 1\n```\nDone."), "x = 1\n");
    assert_eq!(code_block("```\ny = 2\n"), "y = 2\n");
    assert_eq!(code_block("z = 3"), "z = 3");
}

#[test]
fn qwen_coder_writes_an_is_palindrome_that_passes_its_tests() {
    let path = edgecoder_ota::ModelStore::from_env()
        .and_then(|store| store.path("qwen2.5-coder-0.5b"))
        .unwrap_or_else(|e| panic!("{e}; run `edgecoder model pull qwen2.5-coder-0.5b`"));
    let model = Model::load_with(&path, LoadOptions { threads: 2, ..LoadOptions::default() })
        .expect("load the model");
    let params = GenerateParams { max_tokens: 200, ..GenerateParams::default() };
    let mut generation =
        model.generate(Prompt::Chat(vec![ChatMessage::user(TASK)]), params).expect("generate");
    let mut answer = String::new();
    for event in &mut generation {
        answer.push_str(&event.expect("generation step").text);
    }
    let code = code_block(&answer);
    let report = edgecoder_executor::run_tests(code, TESTS, Lang::Python, &Limits::default());
    assert!(
        report.tests.len() == 3 && report.failed() == 0,
        "the model's answer did not pass its tests:\n{answer}\n---\n{report:#?}"
    );
}
