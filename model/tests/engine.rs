//! End-to-end tests of the engine on a real model (SmolLM2-135M): streaming, prefix reuse,
//! cancellation, limits, stop strings, seeds and the quantized kernels against plain f32 matmuls.

mod common;

use edgecoder_model::arch::ArchError;
use edgecoder_model::arch::loader::WeightMode;
use edgecoder_model::engine::{
    Backend, CancelToken, EngineError, FinishReason, GenerateParams, LoadOptions, Model, Prompt,
};
use edgecoder_model::sampling::SamplingParams;
use std::sync::OnceLock;

fn model() -> &'static Model {
    static MODEL: OnceLock<Model> = OnceLock::new();
    MODEL.get_or_init(|| {
        Model::load_with(common::smollm2(), LoadOptions { threads: 2, ..LoadOptions::default() })
            .expect("load SmolLM2")
    })
}

fn greedy(max_tokens: usize, reuse_prefix: bool) -> GenerateParams {
    GenerateParams { max_tokens, reuse_prefix, ..GenerateParams::default() }
}

fn run(model: &Model, prompt: Prompt, params: GenerateParams) -> (Vec<u32>, String, FinishReason) {
    let mut generation = model.generate(prompt, params).expect("start");
    let mut text = String::new();
    let mut tokens = Vec::new();
    for event in &mut generation {
        let event = event.expect("step");
        tokens.extend(event.token);
        text.push_str(&event.text);
    }
    let reason = generation.stats().finish_reason.expect("finished");
    (tokens, text, reason)
}

const PROMPT: &str = "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n";

#[test]
fn streamed_text_is_the_decoded_tokens() {
    let m = model();
    let (tokens, text, reason) = run(m, Prompt::Text(PROMPT.into()), greedy(24, false));
    assert_eq!(reason, FinishReason::MaxTokens);
    assert_eq!(tokens.len(), 24);
    assert_eq!(text, m.tokenizer().decode(&tokens, false).unwrap());
    assert!(!text.trim().is_empty());
}

#[test]
fn prefix_reuse_gives_the_same_tokens_and_skips_the_prefill() {
    let m = Model::load_with(common::smollm2(), LoadOptions { threads: 2, ..LoadOptions::default() })
        .unwrap();
    let base = format!("{PROMPT}    if n < 2:\n");
    let (first, _, _) = run(&m, Prompt::Text(base.clone()), greedy(8, true));
    let follow_up = format!("{base}        return n\n");
    let (cold, _, _) = run(&m, Prompt::Text(follow_up.clone()), greedy(16, false));
    let mut generation = m.generate(Prompt::Text(follow_up), greedy(16, true)).unwrap();
    let warm: Vec<u32> = (&mut generation).map(|e| e.unwrap()).filter_map(|e| e.token).collect();
    let stats = generation.stats().clone();
    assert!(!first.is_empty());
    assert_eq!(warm, cold, "reusing a cached prefix must not change the output");
    let base_len = m.tokenize(&Prompt::Text(base)).unwrap().len();
    assert!(
        stats.reused_prompt_tokens >= base_len - 1,
        "reused {} of a {base_len}-token prefix",
        stats.reused_prompt_tokens
    );
    assert!(stats.reused_prompt_tokens < stats.prompt_tokens);
}

#[test]
fn same_seed_repeats_and_sampling_params_are_validated() {
    let m = model();
    let params = |seed| GenerateParams {
        sampling: SamplingParams { temperature: 0.9, seed, ..SamplingParams::default() },
        max_tokens: 16,
        reuse_prefix: false,
        ..GenerateParams::default()
    };
    let a = run(m, Prompt::Text("Once upon a time".into()), params(42));
    let b = run(m, Prompt::Text("Once upon a time".into()), params(42));
    assert_eq!(a.0, b.0);
    let bad = GenerateParams {
        sampling: SamplingParams { top_p: 0.0, ..SamplingParams::default() },
        ..GenerateParams::default()
    };
    assert!(matches!(m.generate(Prompt::Text("x".into()), bad), Err(EngineError::Sampling(_))));
}

#[test]
fn cancellation_stops_between_steps() {
    let m = model();
    let cancel = CancelToken::new();
    let params = GenerateParams { max_tokens: 100, cancel: cancel.clone(), ..greedy(100, false) };
    let mut generation = m.generate(Prompt::Text(PROMPT.into()), params).unwrap();
    let mut steps = 0;
    for event in &mut generation {
        event.unwrap();
        steps += 1;
        if steps == 3 {
            cancel.cancel();
        }
    }
    assert_eq!(generation.stats().generated_tokens, 3);
    assert_eq!(generation.stats().finish_reason, Some(FinishReason::Cancelled));
}

#[test]
fn stop_strings_end_the_output_before_them() {
    let m = model();
    let (_, full, _) = run(m, Prompt::Text(PROMPT.into()), greedy(32, false));
    // Stop on a piece of what greedy decoding produces anyway.
    let cut = full.char_indices().nth(full.chars().count() / 2).map(|(i, _)| i).unwrap();
    let stop: String = full[cut..].chars().take(3).collect();
    let params = GenerateParams { stop: vec![stop.clone()], ..greedy(32, false) };
    let (_, text, reason) = run(m, Prompt::Text(PROMPT.into()), params);
    assert_eq!(reason, FinishReason::StopString);
    assert!(!text.contains(&stop));
    assert_eq!(text, full[..full.find(&stop).unwrap()]);
}

#[test]
fn bad_inputs_are_clear_errors() {
    let m = model();
    let vocab = m.config().vocab_size as u32;
    let err = m.generate(Prompt::Tokens(vec![vocab + 5]), greedy(4, false)).unwrap();
    let errors: Vec<_> = err.filter_map(Result::err).collect();
    assert!(matches!(
        errors.as_slice(),
        [EngineError::Arch(ArchError::TokenOutOfRange { .. })]
    ));
    assert!(matches!(m.generate(Prompt::Tokens(vec![]), greedy(4, false)), Err(EngineError::EmptyPrompt)));
    let too_long = vec![1u32; m.config().context_length];
    assert!(matches!(
        m.generate(Prompt::Tokens(too_long), greedy(4, false)),
        Err(EngineError::Arch(ArchError::ContextOverflow { .. }))
    ));
    assert!(matches!(
        Model::load("/no/such/model.gguf", Backend::Flex),
        Err(EngineError::Gguf(_))
    ));
    let (tokens, text, reason) = run(m, Prompt::Text(PROMPT.into()), greedy(0, false));
    assert!(tokens.is_empty() && text.is_empty());
    assert_eq!(reason, FinishReason::MaxTokens);
}

#[test]
fn quantized_kernels_agree_with_dequantized_matmuls() {
    let dense = Model::load_with(
        common::smollm2(),
        LoadOptions { threads: 2, weights: WeightMode::Dequantized, ..LoadOptions::default() },
    )
    .unwrap();
    let tokens = model().tokenize(&Prompt::Text(PROMPT.into())).unwrap();
    let q = model().logits(&tokens).unwrap();
    let d = dense.logits(&tokens).unwrap();
    let max = q.iter().zip(&d).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    // The kernels quantize activations to int8 blocks (as llama.cpp does), f32 matmuls do not:
    // through 30 layers that moves logits (range about ±30) by up to about 1; a wrong layout,
    // scale or bias moves them by far more.
    assert!(max < 2.0, "max |Δ logit| {max}");
    let argmax = |v: &[f32]| v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0;
    assert_eq!(argmax(&q), argmax(&d));
}

#[test]
fn ndarray_backend_matches_flex() {
    // f32 weights on both backends, so only Burn's own operations differ.
    let load = |backend| {
        Model::load_with(
            common::smollm2(),
            LoadOptions { threads: 2, backend, weights: WeightMode::Dequantized, ..LoadOptions::default() },
        )
        .unwrap()
    };
    let (flex, nd) = (load(Backend::Flex), load(Backend::NdArray));
    let tokens = flex.tokenize(&Prompt::Text(PROMPT.into())).unwrap();
    let a = flex.logits(&tokens).unwrap();
    let b = nd.logits(&tokens).unwrap();
    let max = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    assert!(max < 1e-3, "max |Δ logit| {max}");
}

#[test]
fn a_chat_reply_prompt_is_the_chat_prompt_followed_by_the_answer_s_start() {
    let m = model();
    let messages = vec![edgecoder_model::chat::ChatMessage::user("Write a function that adds two numbers.")];
    let chat = m.tokenize(&Prompt::Chat(messages.clone())).unwrap();
    let reply = m.tokenize(&Prompt::ChatReply { messages: messages.clone(), reply_start: "```python\n".into() }).unwrap();
    assert!(reply.len() > chat.len() && reply.starts_with(&chat), "{chat:?} is not a prefix of {reply:?}");
    let mut generation = m.generate(Prompt::ChatReply { messages: messages.clone(), reply_start: "```python\n".into() }, greedy(4, false)).unwrap();
    for event in &mut generation {
        event.expect("step");
    }
    assert_eq!(generation.stats().prompt_tokens, reply.len(), "the answer's start is part of the prompt the model reads");
    let empty = m.tokenize(&Prompt::ChatReply { messages, reply_start: String::new() }).unwrap();
    assert_eq!(empty, chat);
}
