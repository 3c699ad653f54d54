//! Helpers shared by the engine and parity tests: finding real model files.

use std::path::PathBuf;

/// The GGUF file of catalog model `id`: the developer copy in
/// `$HOME/.cache/edgecoder/dev-models/<file>` when present, else the model store
/// (`edgecoder model pull` semantics: pulled once, then cached).
pub fn model_path(id: &str, dev_file: &str) -> PathBuf {
    if let Some(home) = std::env::var_os("HOME") {
        let dev = PathBuf::from(home).join(".cache/edgecoder/dev-models").join(dev_file);
        if dev.is_file() {
            return dev;
        }
    }
    let store = edgecoder_ota::ModelStore::from_env().expect("a model store location");
    store.ensure(id).unwrap_or_else(|e| panic!("cannot get model {id}: {e}"))
}

/// SmolLM2-135M-Instruct (llama architecture, Q4_1 + Q8_0): the fast fixture.
pub fn smollm2() -> PathBuf {
    model_path("smollm2-135m", "SmolLM2-135M-Instruct.Q4_1.gguf")
}

/// Qwen2.5-Coder-0.5B-Instruct Q4_K_M: the default model.
#[allow(dead_code)] // not every test binary uses every model
pub fn qwen05() -> PathBuf {
    model_path("qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
}

/// Gemma 3 270M Q4_K_M (base model).
#[allow(dead_code)] // not every test binary uses every model
pub fn gemma3() -> PathBuf {
    model_path("gemma3-270m", "gemma-3-270m-q4_k_m.gguf")
}
