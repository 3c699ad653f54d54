//! Helpers shared by the test binaries of this crate: finding the real model files.

use std::path::PathBuf;

use edgecoder_ota::ModelStore;

/// The GGUF file of catalog model `id` in the model store (`$EDGECODER_MODELS`, else
/// `$XDG_DATA_HOME/edgecoder/models`, else `~/.local/share/edgecoder/models`), or a panic that
/// names the command that installs it.
pub fn model_path(id: &str) -> PathBuf {
    ModelStore::from_env()
        .and_then(|store| store.path(id))
        .unwrap_or_else(|e| panic!("model {id} is not available ({e}); run `edgecoder model pull {id}`"))
}

/// SmolLM2-135M-Instruct (llama architecture, Q4_1 + Q8_0): the fast fixture.
#[allow(dead_code)] // not every test binary uses every model
pub fn smollm2() -> PathBuf {
    model_path("smollm2-135m")
}

/// Qwen2.5-Coder-0.5B-Instruct Q4_K_M: the default model.
#[allow(dead_code)] // not every test binary uses every model
pub fn qwen05() -> PathBuf {
    model_path("qwen2.5-coder-0.5b")
}

/// Gemma 3 270M Q4_K_M (base model).
#[allow(dead_code)] // not every test binary uses every model
pub fn gemma3() -> PathBuf {
    model_path("gemma3-270m")
}

/// llama.cpp's outputs on one model (`tests/parity_reference.py`): the parity references.
#[allow(dead_code)] // not every test binary compares with llama.cpp
#[derive(Debug, serde::Deserialize)]
pub struct Reference {
    /// The model file's name.
    pub model: String,
    /// One record per prompt.
    pub prompts: Vec<Record>,
}

/// llama.cpp on one prompt: its tokens, the greedy continuation and the top first-step logits.
#[allow(dead_code)] // not every test binary compares with llama.cpp
#[derive(Debug, serde::Deserialize)]
pub struct Record {
    /// The prompt's name.
    pub name: String,
    /// The prompt.
    pub text: String,
    /// llama.cpp's tokens of the prompt.
    pub prompt_tokens: Vec<u32>,
    /// Its greedy continuation.
    pub generated: Vec<u32>,
    /// The 128 largest first-step logits (token id, value).
    pub top_logits: Vec<(u32, f32)>,
}
