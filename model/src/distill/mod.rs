//! Distillation (feature `train`): a small Qwen2-style student trained with Burn's autodiff on
//! executor-verified teacher samples (token-level knowledge distillation mixed with
//! cross-entropy), resumable checkpoints and a loss log, and export to GGUF (F16, Q8_0, Q4_0,
//! loadable by this crate's engine and by llama.cpp) and to safetensors with a Hugging Face
//! `config.json` (MLX, transformers).
//!
//! The teacher side — sampling the teacher through the engine, running each sample's tests in
//! the executor, keeping the passing ones — lives with the executor in the daemon
//! (`edgecoder distill data`); this module defines the data format both sides share
//! ([`data`]).

pub mod config;
pub mod data;
pub mod export;
pub mod student;
pub mod train;

pub use config::{DistillConfig, StudentConfig, TrainConfig};
pub use data::{DistillSample, TeacherTopK};
pub use student::Student;

/// Errors of the distillation pipeline.
#[derive(Debug, thiserror::Error)]
pub enum DistillError {
    /// A file could not be read or written.
    #[error("{what} {path}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The configuration is not usable; the message says what to change.
    #[error("bad distillation config: {0}")]
    Config(String),
    /// The data set is not usable; the message names the line.
    #[error("bad distillation data: {0}")]
    Data(String),
    /// A GGUF file (the base model or the initial weights) could not be used.
    #[error("GGUF {path}: {why}")]
    Gguf {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
    /// A checkpoint could not be saved or restored.
    #[error("checkpoint {path}: {why}")]
    Checkpoint {
        /// The checkpoint directory.
        path: String,
        /// Why.
        why: String,
    },
    /// Writing an export failed.
    #[error("export: {0}")]
    Export(String),
}

impl DistillError {
    pub(crate) fn io(what: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.display().to_string();
        move |source| Self::Io { what, path, source }
    }
}
