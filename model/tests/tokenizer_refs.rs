//! The tokenizer against llama.cpp's token ids for the real model files, plus round trips.
//!
//! Reference ids: `tests/data/token_refs/<model>.json`, written by
//! `tests/data/make_token_refs.py` with llama-cpp-python. The model files come from the model
//! store (`edgecoder model pull <id>`, `$EDGECODER_MODELS`).

mod common;

use std::path::PathBuf;

use edgecoder_model::gguf::GgufFile;
use edgecoder_model::tokenizer::{StreamDecoder, Tokenizer};
use serde_json::Value;

fn load(id: &str) -> Tokenizer {
    let file = GgufFile::open(common::model_path(id)).expect("open GGUF");
    Tokenizer::from_gguf(&file).expect("tokenizer from GGUF")
}

fn refs(id: &str) -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/data/token_refs/{id}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("read refs")).expect("parse refs")
}

/// Compares every reference case; returns the number of cases checked.
fn check_against_llama_cpp(id: &str) -> usize {
    let tokenizer = load(id);
    let doc = refs(id);
    let cases = doc["cases"].as_array().expect("cases");
    assert!(cases.len() >= 90, "expected at least 30 strings x 3 modes");
    let mut failures = Vec::new();
    for case in cases {
        let text = case["text"].as_str().unwrap();
        let add_special = case["add_special"].as_bool().unwrap();
        let parse_special = case["parse_special"].as_bool().unwrap();
        let expected: Vec<u32> = case["ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let got = tokenizer
            .encode(text, add_special, parse_special)
            .expect("encode");
        if got != expected {
            failures.push(format!("{text:?} add_special={add_special} parse_special={parse_special}\n  llama.cpp {expected:?}\n  ours      {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{id}: {} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    cases.len()
}

/// decode(encode(s)) == s, in one piece and through the streaming decoder token by token.
fn check_round_trips(id: &str) {
    let tokenizer = load(id);
    let doc = refs(id);
    for case in doc["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let parse_special = case["parse_special"].as_bool().unwrap();
        let ids = tokenizer.encode(text, false, parse_special).unwrap();
        assert_eq!(
            tokenizer.decode(&ids, parse_special).unwrap(),
            text,
            "{id}: round trip of {text:?}"
        );
        let mut stream = StreamDecoder::new(parse_special);
        let mut streamed = String::new();
        for &tok in &ids {
            streamed.push_str(&stream.push(&tokenizer, tok).unwrap());
        }
        assert!(
            stream.pending_bytes().is_empty(),
            "{id}: bytes left over after {text:?}"
        );
        streamed.push_str(&stream.finish());
        assert_eq!(streamed, text, "{id}: streamed round trip of {text:?}");
    }
}

#[test]
fn smollm2_matches_llama_cpp() {
    check_against_llama_cpp("smollm2-135m");
}

#[test]
fn qwen25_coder_matches_llama_cpp() {
    check_against_llama_cpp("qwen2.5-coder-0.5b");
}

#[test]
fn gemma3_matches_llama_cpp() {
    check_against_llama_cpp("gemma3-270m");
}

#[test]
fn smollm2_round_trips() {
    check_round_trips("smollm2-135m");
}

#[test]
fn qwen25_coder_round_trips() {
    check_round_trips("qwen2.5-coder-0.5b");
}

#[test]
fn gemma3_round_trips() {
    check_round_trips("gemma3-270m");
}

#[test]
fn qwen25_special_tokens_and_end_of_generation() {
    let tokenizer = load("qwen2.5-coder-0.5b");
    let im_start = tokenizer.token_id("<|im_start|>").unwrap();
    let im_end = tokenizer.token_id("<|im_end|>").unwrap();
    let eot = tokenizer.token_id("<|endoftext|>").unwrap();
    assert_eq!(tokenizer.eos_id(), Some(im_end));
    assert!(tokenizer.is_end_of_generation(im_end) && tokenizer.is_end_of_generation(eot));
    assert!(!tokenizer.is_end_of_generation(im_start));
    let ids = tokenizer.encode("<|im_start|>user", false, true).unwrap();
    assert_eq!(ids[0], im_start);
    // Without parse_special the control token is ordinary text.
    assert!(
        !tokenizer
            .encode("<|im_start|>user", false, false)
            .unwrap()
            .contains(&im_start)
    );
    // Control tokens decode to nothing unless asked for.
    assert_eq!(tokenizer.decode(&[im_start], false).unwrap(), "");
    assert_eq!(tokenizer.decode(&[im_start], true).unwrap(), "<|im_start|>");
    // Out-of-range ids are an error, not a panic.
    assert!(tokenizer.decode(&[u32::MAX], false).is_err());
    let mut stream = StreamDecoder::new(false);
    assert!(
        stream
            .push(&tokenizer, tokenizer.vocab_size() as u32)
            .is_err()
    );
}

#[test]
fn streaming_holds_back_split_characters() {
    let tokenizer = load("smollm2-135m");
    // An emoji is one character of four bytes; byte-level BPE spreads it over several tokens.
    let text = "😀🎉";
    let ids = tokenizer.encode(text, false, false).unwrap();
    assert!(
        ids.len() > 2,
        "expected the emoji to span several tokens: {ids:?}"
    );
    let mut stream = StreamDecoder::new(false);
    let pieces: Vec<String> = ids
        .iter()
        .map(|&id| stream.push(&tokenizer, id).unwrap())
        .collect();
    for piece in &pieces {
        assert!(
            piece.is_empty() || piece == "😀" || piece == "🎉" || piece == "😀🎉",
            "split character: {piece:?}"
        );
    }
    assert_eq!(pieces.concat(), text);
    // A stream cut in the middle of a character gives U+FFFD at the end, not a panic.
    let mut cut = StreamDecoder::new(false);
    let first = cut.push(&tokenizer, ids[0]).unwrap();
    assert!(first.is_empty());
    assert!(!cut.pending_bytes().is_empty());
    assert_eq!(cut.finish(), "\u{FFFD}");
}
