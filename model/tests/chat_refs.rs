//! Chat templates rendered with minijinja against renderings by Python's jinja2 (set up like
//! Hugging Face transformers), from `tests/data/chat_refs/*.json` written by
//! `tests/data/chat_refs/make_chat_refs.py`.

mod common;

use std::path::PathBuf;

use edgecoder_model::chat::{
    ChatMessage, ChatOptions, ChatTemplate, ChatTemplateError, Role, ToolCall,
};
use edgecoder_model::gguf::GgufFile;
use edgecoder_model::tokenizer::Tokenizer;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/chat_refs/{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read fixture"))
        .expect("parse fixture")
}

fn message(v: &Value) -> ChatMessage {
    let role = match v["role"].as_str().unwrap() {
        "system" => Role::System,
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "tool" => Role::Tool,
        other => panic!("unknown role {other}"),
    };
    let mut m = ChatMessage::new(role, v["content"].as_str().unwrap());
    if let Some(calls) = v.get("tool_calls").and_then(Value::as_array) {
        m.tool_calls = calls
            .iter()
            .map(|c| {
                ToolCall::function(
                    c["function"]["name"].as_str().unwrap(),
                    c["function"]["arguments"].clone(),
                )
            })
            .collect();
    }
    m
}

/// Renders every case of fixture `name` and compares with jinja2's output or exception.
fn check_fixture(name: &str) {
    let doc = fixture(name);
    let template = ChatTemplate::new(
        doc["template"].as_str().unwrap(),
        doc["bos_token"].as_str().unwrap(),
        doc["eos_token"].as_str().unwrap(),
    )
    .expect("template compiles");
    let cases = doc["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    for case in cases {
        let case_name = case["name"].as_str().unwrap();
        let messages: Vec<ChatMessage> = case["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(message)
            .collect();
        let options = ChatOptions {
            add_generation_prompt: case["add_generation_prompt"].as_bool().unwrap(),
            tools: case
                .get("tools")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        };
        let result = template.render(&messages, &options);
        match (
            case.get("expected").and_then(Value::as_str),
            case.get("error").and_then(Value::as_str),
        ) {
            (Some(expected), _) => {
                let got = result.unwrap_or_else(|e| panic!("{name}/{case_name}: {e}"));
                assert_eq!(got, expected, "{name}/{case_name}");
            }
            (None, Some(error)) => match result {
                Err(ChatTemplateError::Raised(message)) => {
                    assert_eq!(message, error, "{name}/{case_name}")
                }
                other => panic!(
                    "{name}/{case_name}: expected the template to raise {error:?}, got {other:?}"
                ),
            },
            _ => panic!("{name}/{case_name}: fixture has neither expected nor error"),
        }
    }
}

#[test]
fn qwen25_coder_template_matches_jinja2() {
    check_fixture("qwen2.5-coder-0.5b");
}

#[test]
fn smollm2_template_matches_jinja2() {
    check_fixture("smollm2-135m");
}

#[test]
fn raise_exception_and_python_methods_match_jinja2() {
    check_fixture("alternating");
}

#[test]
fn loop_controls_namespace_and_tojson_match_jinja2() {
    check_fixture("features");
}

#[test]
fn template_syntax_errors_are_reported() {
    let err = ChatTemplate::new("{% for m in messages %}{{ m.content }", "", "").unwrap_err();
    assert!(matches!(err, ChatTemplateError::Syntax(_)), "{err:?}");
}

#[test]
fn render_errors_are_reported_not_panics() {
    let template = ChatTemplate::new("{{ messages[0].content | no_such_filter }}", "", "").unwrap();
    let err = template
        .render(&[ChatMessage::user("x")], &ChatOptions::default())
        .unwrap_err();
    assert!(matches!(err, ChatTemplateError::Render(_)), "{err:?}");
    // Indexing past the end is undefined in Jinja, and calling a method on it is an error.
    let template = ChatTemplate::new("{{ messages[5].content.strip() }}", "", "").unwrap();
    assert!(template.render(&[], &ChatOptions::default()).is_err());
}

/// The template read from a real GGUF file is the one the fixtures were rendered with.
#[test]
fn templates_from_gguf_files() {
    for id in ["qwen2.5-coder-0.5b", "smollm2-135m"] {
        let file = GgufFile::open(common::model_path(id)).unwrap();
        let tokenizer = Tokenizer::from_gguf(&file).unwrap();
        let template = ChatTemplate::from_gguf(&file, &tokenizer).unwrap();
        let doc = fixture(id);
        assert_eq!(
            file.get_str("tokenizer.chat_template").unwrap(),
            doc["template"].as_str().unwrap()
        );
        let case = &doc["cases"][0];
        let messages: Vec<ChatMessage> = case["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(message)
            .collect();
        let prompt = template.render(&messages, &ChatOptions::default()).unwrap();
        assert_eq!(prompt, case["expected"].as_str().unwrap(), "{id}");
        // The rendered prompt tokenizes with its control tokens as single tokens.
        let ids = tokenizer.encode(&prompt, false, true).unwrap();
        assert_eq!(ids[0], tokenizer.token_id("<|im_start|>").unwrap());
    }
    // Gemma 3 270M is a base model without a template: a clear, matchable error.
    let file = GgufFile::open(common::model_path("gemma3-270m")).unwrap();
    let tokenizer = Tokenizer::from_gguf(&file).unwrap();
    assert!(matches!(
        ChatTemplate::from_gguf(&file, &tokenizer),
        Err(ChatTemplateError::Missing)
    ));
}
