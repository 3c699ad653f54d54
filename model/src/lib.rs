//! On-device transformer inference with Burn: GGUF weights, tokenizer, KV cache, sampling.
pub mod arch;
pub mod engine;
pub mod sampling;
pub mod quant;
pub mod gguf;
pub mod tokenizer;
pub mod chat;
pub mod embed;
#[cfg(feature = "train")]
pub mod distill;
