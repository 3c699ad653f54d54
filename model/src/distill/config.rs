//! The TOML configuration of a distillation run: the student's shape and the training
//! settings.
//!
//! ```toml
//! [student]
//! base = "qwen2.5-coder-0.5b"   # tokenizer, chat template and vocabulary come from this model
//! layers = 2
//! hidden = 64
//! heads = 4
//! kv_heads = 2
//! ffn = 128
//!
//! [train]
//! steps = 40
//! learning_rate = 3e-3
//! ```

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::DistillError;

/// A whole run's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillConfig {
    /// The student model.
    pub student: StudentConfig,
    /// The optimisation.
    #[serde(default)]
    pub train: TrainConfig,
}

/// The student's shape (a Qwen2-style decoder with tied embeddings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudentConfig {
    /// The model whose tokenizer, chat template and vocabulary the student uses (a model id of
    /// the store or a GGUF path); the teacher must share its tokenizer.
    pub base: String,
    /// Transformer blocks.
    pub layers: usize,
    /// Width of the residual stream.
    pub hidden: usize,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads (grouped-query attention; divides `heads`).
    pub kv_heads: usize,
    /// Width of the feed-forward layer.
    pub ffn: usize,
    /// RoPE base frequency.
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f32,
    /// RMSNorm epsilon.
    #[serde(default = "default_rms_eps")]
    pub rms_eps: f32,
    /// Longest sequence the student is trained and exported for.
    #[serde(default = "default_context")]
    pub context: usize,
    /// Initial weights: a GGUF of the same width (e.g. the 0.5B model itself to fine-tune it,
    /// or with fewer `layers` to start from its first blocks). Random when absent.
    #[serde(default)]
    pub init_from: Option<String>,
}

/// How the student is trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Optimiser steps.
    pub steps: usize,
    /// Sequences per step.
    pub batch_size: usize,
    /// Peak learning rate (AdamW), reached after `warmup_steps` and decayed to a tenth by
    /// cosine.
    pub learning_rate: f64,
    /// Linear warm-up steps.
    pub warmup_steps: usize,
    /// AdamW weight decay.
    pub weight_decay: f32,
    /// Distillation temperature: teacher and student distributions are softened by it.
    pub temperature: f32,
    /// Weight of the distillation term; `1 - kd_weight` goes to cross-entropy on the verified
    /// samples' tokens. 0 is response-level distillation alone (plain fine-tuning on the
    /// teacher's verified answers).
    pub kd_weight: f32,
    /// Samples longer than this many tokens are skipped (counted in the run's summary).
    pub max_seq: usize,
    /// Seed of the initialisation and of the sample order.
    pub seed: u64,
    /// A checkpoint is written every this many steps (and at the end).
    pub checkpoint_every: usize,
}

fn default_rope_theta() -> f32 {
    1_000_000.0
}
fn default_rms_eps() -> f32 {
    1e-6
}
fn default_context() -> usize {
    2048
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            steps: 100,
            batch_size: 4,
            learning_rate: 1e-3,
            warmup_steps: 10,
            weight_decay: 0.01,
            temperature: 2.0,
            kd_weight: 0.5,
            max_seq: 512,
            seed: 42,
            checkpoint_every: 50,
        }
    }
}

impl DistillConfig {
    /// Reads and checks a TOML file.
    pub fn load(path: &Path) -> Result<Self, DistillError> {
        let text = std::fs::read_to_string(path).map_err(DistillError::io("cannot read", path))?;
        Self::parse(&text).map_err(|e| match e {
            DistillError::Config(why) => DistillError::Config(format!("{}: {why}", path.display())),
            other => other,
        })
    }

    /// Parses and checks TOML text.
    pub fn parse(text: &str) -> Result<Self, DistillError> {
        let config: Self = toml::from_str(text).map_err(|e| DistillError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Refuses shapes and settings that cannot train or export.
    pub fn validate(&self) -> Result<(), DistillError> {
        let s = &self.student;
        let t = &self.train;
        let bad = |why: String| Err(DistillError::Config(why));
        if s.layers == 0 || s.hidden == 0 || s.heads == 0 || s.kv_heads == 0 || s.ffn == 0 {
            return bad("student.layers, hidden, heads, kv_heads and ffn must all be positive".into());
        }
        if s.hidden % s.heads != 0 || (s.hidden / s.heads) % 2 != 0 {
            return bad(format!(
                "student.hidden ({}) must be a multiple of student.heads ({}) with an even head size",
                s.hidden, s.heads
            ));
        }
        if s.heads % s.kv_heads != 0 {
            return bad(format!("student.kv_heads ({}) must divide student.heads ({})", s.kv_heads, s.heads));
        }
        if s.hidden % 32 != 0 || s.ffn % 32 != 0 {
            return bad(format!(
                "student.hidden ({}) and student.ffn ({}) must be multiples of 32 (the block size of Q8_0/Q4_0 export)",
                s.hidden, s.ffn
            ));
        }
        if !(s.rope_theta > 0.0 && s.rms_eps > 0.0) {
            return bad("student.rope_theta and student.rms_eps must be positive".into());
        }
        if t.steps == 0 || t.batch_size == 0 || t.max_seq < 2 || t.checkpoint_every == 0 {
            return bad("train.steps, batch_size and checkpoint_every must be positive and train.max_seq at least 2".into());
        }
        if t.max_seq > s.context {
            return bad(format!("train.max_seq ({}) exceeds student.context ({})", t.max_seq, s.context));
        }
        if !(t.learning_rate > 0.0 && t.learning_rate.is_finite()) {
            return bad(format!("train.learning_rate must be positive, got {}", t.learning_rate));
        }
        if !(t.temperature > 0.0 && t.temperature.is_finite()) {
            return bad(format!("train.temperature must be positive, got {}", t.temperature));
        }
        if !(0.0..=1.0).contains(&t.kd_weight) {
            return bad(format!("train.kd_weight must be within 0..=1, got {}", t.kd_weight));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TINY: &str = "[student]\nbase = \"m\"\nlayers = 2\nhidden = 64\nheads = 4\nkv_heads = 2\nffn = 128\n[train]\nsteps = 5\n";

    #[test]
    fn a_tiny_config_parses_with_defaults() {
        let c = DistillConfig::parse(TINY).unwrap();
        assert_eq!(c.student.hidden, 64);
        assert_eq!(c.train.steps, 5);
        assert_eq!(c.train.batch_size, TrainConfig::default().batch_size);
        assert_eq!(c.student.rope_theta, 1_000_000.0);
    }

    #[test]
    fn bad_shapes_and_settings_are_refused_with_the_field_named() {
        for (from, to, field) in [
            ("kv_heads = 2", "kv_heads = 3", "kv_heads"),
            ("hidden = 64", "hidden = 48", "hidden"),
            ("ffn = 128", "ffn = 100", "ffn"),
            ("steps = 5", "steps = 5\nkd_weight = 1.5", "kd_weight"),
            ("steps = 5", "steps = 5\ntemperature = 0", "temperature"),
            ("steps = 5", "steps = 5\nmax_seq = 4096", "max_seq"),
            ("layers = 2", "layers = 0", "layers"),
            ("steps = 5", "stepz = 5", "stepz"),
        ] {
            let err = DistillConfig::parse(&TINY.replace(from, to)).unwrap_err().to_string();
            assert!(err.contains(field), "{to}: {err}");
        }
    }
}
