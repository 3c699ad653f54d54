//! Transformer architectures (Llama, Qwen2, Gemma3) built from Burn tensor operations: one module
//! per layer with a `Config` beside it. Weight loading lives in [`loader`], apart from the layers.
//! On the CPU, [`host`] runs the same layers over plain buffers (see
//! [`Transformer::with_host_path`]).

pub mod attention;
pub mod block;
pub mod config;
pub mod embedding;
pub mod ggml_math;
pub mod host;
pub mod kv_cache;
pub mod linear;
pub mod loader;
pub mod mlp;
pub mod norm;
pub mod profile;
pub mod rope;
pub mod transformer;

pub use config::{Activation, Architecture, MetadataSource, ModelConfig, RopeStyle};
pub use kv_cache::KvCache;
pub use transformer::{Logits, Transformer};

/// Errors of the architecture layer: bad metadata, bad input, context overflow.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ArchError {
    /// `general.architecture` names a family this engine does not run.
    #[error("unsupported architecture {0:?} (supported: llama, qwen2, gemma3)")]
    UnsupportedArchitecture(String),
    /// A required metadata key is missing.
    #[error("missing GGUF metadata key {0}")]
    MissingMetadata(String),
    /// A metadata value is out of range or inconsistent.
    #[error("invalid GGUF metadata {0}: {1}")]
    InvalidMetadata(String, String),
    /// A tensor is missing or has the wrong shape or type.
    #[error("tensor {name}: {reason}")]
    Tensor {
        /// Tensor name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// `forward` was called with no tokens.
    #[error("no input tokens")]
    EmptyInput,
    /// A token id is not in the vocabulary.
    #[error("token id {token} is outside the vocabulary of {vocab}")]
    TokenOutOfRange {
        /// The bad id.
        token: u32,
        /// Vocabulary size.
        vocab: usize,
    },
    /// The sequence would exceed the model's context length.
    #[error("context length exceeded: {needed} tokens needed, the model allows {context_length}")]
    ContextOverflow {
        /// Tokens the request needs (cached + new).
        needed: usize,
        /// The model's context length.
        context_length: usize,
    },
    /// The tensor backend failed.
    #[error("backend error: {0}")]
    Backend(String),
}
