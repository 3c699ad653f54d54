//! llama.cpp parity: our engine against llama.cpp on the same GGUF files.
//!
//! The references in `tests/data/parity/*.json` were written by `tests/parity_reference.py`
//! (llama-cpp-python from the shared venv; see that script for the exact settings). For every
//! prompt they hold llama.cpp's prompt token ids, its greedy continuation (64 tokens or up to an
//! end-of-generation token) and its 128 largest first-step logits.
//!
//! Two comparisons per model:
//!
//! * **f32 weights** (`<model>.f32.json`, `parity_reference.py --f32`): llama.cpp runs a copy of
//!   the file dequantized to f32 by gguf-py, we run the same file with
//!   [`WeightMode::Dequantized`] (our dequantizers equal gguf-py's bit for bit). Nothing is
//!   quantized on either side, so what is left is the order of f32 sums: greedy continuations
//!   must be identical for all but one prompt and first-step logits within [`F32_TOLERANCE`].
//!   This checks the architecture: every layer, norm, RoPE pairing, attention window, scale.
//! * **the quantized file as shipped** (`<model>.json`): both engines quantize every activation
//!   row to int8 blocks before each matrix product, and rounding a value to an int8 step is
//!   discontinuous: a last-bit difference anywhere moves some values to the neighbouring step,
//!   and from there two runs drift apart by as much as the int8 quantization itself perturbs
//!   the model (measured before we matched llama.cpp's float order: SmolLM2 5/20 identical,
//!   max |Δ| 0.85). So the CPU path does every float operation in llama.cpp's order (see
//!   `arch/ggml_math.rs` and `quant/scalar.rs`), and the result is the same bits: all greedy
//!   continuations identical and first-step logits equal (measured max |Δ| 0 on all three
//!   models). See [`QUANT_TOLERANCE`].
//!
//! The matrix kernels themselves are checked exactly elsewhere: SIMD paths bit-identical to the
//! scalar reference, and within the int8 error bound of gguf-py's f32 dequantization
//! (`quant_kernels.rs`, `quant_real.rs`).

mod common;

use edgecoder_model::arch::loader::WeightMode;
use edgecoder_model::engine::{GenerateParams, LoadOptions, Model, Prompt};
use common::Reference;
use std::path::Path;

/// Bound on `max |Δ logit|` over llama.cpp's top-128 first-step logits with f32 weights.
///
/// Same weights, no quantization of activations: the only differences are f32 rounding in sums
/// taken in another order (SIMD widths, tiling of the products, attention and norm reductions)
/// and ggml's SIMD `exp` in SiLU and softmax. Measured: SmolLM2 4e-5; Gemma3 0.014 (likely its
/// GELU, which rounds inputs and outputs to f16 as ggml's table does: a last-bit difference in
/// a gate value can move that rounding by a whole f16 step). 2e-2 bounds that, and any real
/// mistake (a wrong RoPE pairing or base, a missing bias, norm or scale, a window off by one)
/// moves logits by whole units.
const F32_TOLERANCE: f32 = 2e-2;

/// Bound on `max |Δ logit|` over llama.cpp's top-128 first-step logits on the quantized file.
///
/// Measured: 0 (bit-identical) on SmolLM2, Qwen 0.5B and Gemma3, because the host path runs
/// llama.cpp's own order of float operations for the kernels llama.cpp picks on this CPU
/// (AVX-512 VNNI: `ggml_vec_dot_*`, repacked Q4_K gemm/gemv, the tiled K-quant matmul,
/// `ggml_v_expf`, ...). 1e-4 leaves room for a last-bit difference in one logit (e.g. a libm
/// `tanhf`/`cosf` that rounds differently on another machine), while a single int8 flip
/// anywhere upstream already moves logits by 1e-2 or more, so this still catches any drift.
/// The references must be written on a CPU with the same kernels (`parity_reference.py`).
const QUANT_TOLERANCE: f32 = 1e-4;

struct Outcome {
    identical: usize,
    total: usize,
    max_delta: f32,
    tokenizer_mismatches: Vec<String>,
    diverged: Vec<String>,
}

fn run(model_path: &Path, reference: &str, options: LoadOptions) -> Outcome {
    let reference: Reference = serde_json::from_str(reference).expect("parity reference JSON");
    let model = Model::load_with(model_path, options)
        .unwrap_or_else(|e| panic!("cannot load {}: {e}", reference.model));
    let mut outcome = Outcome {
        identical: 0,
        total: reference.prompts.len(),
        max_delta: 0.0,
        tokenizer_mismatches: Vec::new(),
        diverged: Vec::new(),
    };
    for record in &reference.prompts {
        let ours = model.tokenize(&Prompt::Text(record.text.clone())).expect("tokenize");
        if ours != record.prompt_tokens {
            outcome.tokenizer_mismatches.push(record.name.clone());
        }
        let params = GenerateParams {
            max_tokens: record.generated.len(),
            reuse_prefix: false,
            ..GenerateParams::default()
        };
        let logits = model.logits(&record.prompt_tokens).expect("logits");
        for &(id, theirs) in &record.top_logits {
            let delta = (logits[id as usize] - theirs).abs();
            outcome.max_delta = outcome.max_delta.max(delta);
        }
        let mut generation =
            model.generate(Prompt::Tokens(record.prompt_tokens.clone()), params).expect("generate");
        for event in &mut generation {
            event.expect("generation step");
        }
        let generated = &generation.tokens()[record.prompt_tokens.len()..];
        if generated == record.generated.as_slice() {
            outcome.identical += 1;
        } else {
            let at = generated.iter().zip(&record.generated).take_while(|(a, b)| a == b).count();
            outcome.diverged.push(format!("{} (at token {at})", record.name));
        }
    }
    eprintln!(
        "{}: {}/{} identical, max |Δ logit| {:.5}, diverged: {:?}, tokenizer mismatches: {:?}",
        reference.model,
        outcome.identical,
        outcome.total,
        outcome.max_delta,
        outcome.diverged,
        outcome.tokenizer_mismatches
    );
    outcome
}

fn check(outcome: Outcome, min_identical: usize, tolerance: f32) {
    assert!(
        outcome.tokenizer_mismatches.is_empty(),
        "tokenizer differs from llama.cpp on {:?}",
        outcome.tokenizer_mismatches
    );
    assert!(
        outcome.identical >= min_identical,
        "only {}/{} greedy continuations identical (at least {min_identical} needed); diverged: {:?}",
        outcome.identical,
        outcome.total,
        outcome.diverged
    );
    assert!(
        outcome.max_delta <= tolerance,
        "first-step logits differ by {} (tolerance {tolerance})",
        outcome.max_delta
    );
}

fn f32_weights(host_path: bool) -> LoadOptions {
    LoadOptions { threads: 2, weights: WeightMode::Dequantized, host_path, ..LoadOptions::default() }
}

fn quantized() -> LoadOptions {
    LoadOptions { threads: 2, ..LoadOptions::default() }
}

#[test]
fn smollm2_f32_matches_llama_cpp() {
    let outcome = run(&common::smollm2(), include_str!("data/parity/smollm2-135m.f32.json"), f32_weights(true));
    assert_eq!(outcome.total, 20);
    check(outcome, 19, F32_TOLERANCE);
}

/// The Burn-operations path (what the wgpu backend runs) on the first 4 prompts: 20/20 identical,
/// max |Δ| 4e-5 when run on all 20, but one tensor per operation makes it take minutes.
#[test]
fn smollm2_f32_burn_ops_match_llama_cpp() {
    let reference = include_str!("data/parity/smollm2-135m.f32.json");
    let mut doc: serde_json::Value = serde_json::from_str(reference).expect("parity reference JSON");
    doc["prompts"].as_array_mut().expect("prompts").truncate(4);
    let outcome = run(&common::smollm2(), &doc.to_string(), f32_weights(false));
    assert_eq!(outcome.total, 4);
    check(outcome, 4, F32_TOLERANCE);
}

/// The wgpu backend (`Backend::Wgpu`): the Burn-operations path above, compiled to compute
/// shaders. On these CPU-only machines wgpu finds no Vulkan driver and comes up on its GL backend
/// (OpenGL ES through EGL) on Mesa's software renderer (llvmpipe, `swrast_dri.so`): the shaders a
/// laptop GPU or a Jetson runs, executed on the CPU. `scripts/test` runs it as a step of its own
/// (`--features gpu`).
///
/// Slow there (≈ 1.2 s per decode step on 2 cores, one shader dispatch per tensor operation), so
/// only the first [`WGPU_PROMPTS`] prompts, each decoded to the fixture's full length: 2/2
/// identical, max |Δ logit| 4e-5, 154 s (4/4 and 4e-5 on the first 4 prompts, 403 s). That is
/// the CPU Burn path's figure: the GPU reductions sum in another order, but f32 rounding in any
/// order stays far inside [`F32_TOLERANCE`], so wgpu is held to the same bound.
#[cfg(feature = "gpu")]
#[test]
fn smollm2_f32_wgpu_matches_llama_cpp() {
    use edgecoder_model::engine::Backend;
    let reference = include_str!("data/parity/smollm2-135m.f32.json");
    let mut doc: serde_json::Value = serde_json::from_str(reference).expect("parity reference JSON");
    doc["prompts"].as_array_mut().expect("prompts").truncate(WGPU_PROMPTS);
    let options = LoadOptions { backend: Backend::Wgpu, ..f32_weights(false) };
    let started = std::time::Instant::now();
    let outcome = run(&common::smollm2(), &doc.to_string(), options);
    eprintln!("wgpu (Mesa software renderer): {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(outcome.total, WGPU_PROMPTS);
    check(outcome, WGPU_PROMPTS, F32_TOLERANCE);
}

/// Prompts of [`smollm2_f32_wgpu_matches_llama_cpp`] (≈ 80 s each on llvmpipe with 2 cores).
#[cfg(feature = "gpu")]
const WGPU_PROMPTS: usize = 2;

#[test]
fn qwen2_5_coder_0_5b_f32_matches_llama_cpp() {
    let outcome = run(&common::qwen05(), include_str!("data/parity/qwen2.5-coder-0.5b.f32.json"), f32_weights(true));
    assert_eq!(outcome.total, 20);
    check(outcome, 19, F32_TOLERANCE);
}

#[test]
fn gemma3_270m_f32_matches_llama_cpp() {
    let outcome = run(&common::gemma3(), include_str!("data/parity/gemma3-270m.f32.json"), f32_weights(true));
    assert!(outcome.total >= 5);
    let min = outcome.total - 1;
    check(outcome, min, F32_TOLERANCE);
}

#[test]
fn smollm2_quantized_matches_llama_cpp() {
    let outcome = run(&common::smollm2(), include_str!("data/parity/smollm2-135m.json"), quantized());
    assert_eq!(outcome.total, 20);
    check(outcome, 19, QUANT_TOLERANCE);
}

#[test]
fn qwen2_5_coder_0_5b_quantized_matches_llama_cpp() {
    let outcome = run(&common::qwen05(), include_str!("data/parity/qwen2.5-coder-0.5b.json"), quantized());
    assert_eq!(outcome.total, 20);
    check(outcome, 19, QUANT_TOLERANCE);
}

#[test]
fn gemma3_270m_quantized_matches_llama_cpp() {
    let outcome = run(&common::gemma3(), include_str!("data/parity/gemma3-270m.json"), quantized());
    assert!(outcome.total >= 5);
    let min = outcome.total - 1;
    check(outcome, min, QUANT_TOLERANCE);
}
