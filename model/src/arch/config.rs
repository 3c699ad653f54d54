//! Hyperparameters of a decoder-only transformer, read from GGUF metadata
//! (`{arch}.block_count`, `{arch}.embedding_length`, `{arch}.attention.head_count`, ...).

use super::ArchError;

/// The transformer families this engine runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// Llama (and SmolLM2): RMSNorm, normal RoPE, SwiGLU, no biases.
    Llama,
    /// Qwen2 (and Qwen2.5-Coder): like Llama with q/k/v biases and NeoX RoPE.
    Qwen2,
    /// Gemma 3: scaled embeddings, q/k norms, post-norms, GeGLU, sliding-window layers.
    Gemma3,
}

impl Architecture {
    /// Maps `general.architecture` to a supported family.
    pub fn from_name(name: &str) -> Result<Self, ArchError> {
        match name {
            "llama" => Ok(Self::Llama),
            "qwen2" => Ok(Self::Qwen2),
            "gemma3" => Ok(Self::Gemma3),
            other => Err(ArchError::UnsupportedArchitecture(other.to_string())),
        }
    }

    /// The metadata key prefix (`general.architecture` value).
    pub fn name(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Qwen2 => "qwen2",
            Self::Gemma3 => "gemma3",
        }
    }

    /// How rotary embeddings pair dimensions, as llama.cpp does for this architecture
    /// (`LLAMA_ROPE_TYPE_NORM` for llama, `LLAMA_ROPE_TYPE_NEOX` for qwen2 and gemma3).
    pub fn rope_style(self) -> RopeStyle {
        match self {
            Self::Llama => RopeStyle::Normal,
            Self::Qwen2 | Self::Gemma3 => RopeStyle::Neox,
        }
    }
}

/// Which dimensions rotary position embedding rotates together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeStyle {
    /// Adjacent pairs `(2i, 2i+1)` (GGUF llama weights are permuted for this).
    Normal,
    /// Halves: `i` with `i + head_dim/2` (GPT-NeoX style).
    Neox,
}

/// The gated feed-forward activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `silu(gate) * up` (SwiGLU).
    Silu,
    /// `gelu_tanh(gate) * up` (GeGLU with the tanh approximation).
    GeluTanh,
}

/// Read access to GGUF metadata, so the configuration does not depend on the reader's types.
pub trait MetadataSource {
    /// An unsigned integer value (any integer width), if present and non-negative.
    fn meta_u64(&self, key: &str) -> Option<u64>;
    /// A float value (f32 or f64), if present.
    fn meta_f32(&self, key: &str) -> Option<f32>;
    /// A string value, if present.
    fn meta_str(&self, key: &str) -> Option<String>;
}

/// Everything the architecture needs to build its layers.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelConfig {
    /// The transformer family.
    pub arch: Architecture,
    /// Number of token embeddings (rows of `token_embd`).
    pub vocab_size: usize,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Number of transformer blocks.
    pub n_layers: usize,
    /// Number of query heads.
    pub n_heads: usize,
    /// Number of key/value heads (grouped-query attention when smaller than `n_heads`).
    pub n_kv_heads: usize,
    /// Width of one attention head.
    pub head_dim: usize,
    /// Inner width of the feed-forward network.
    pub ffn_size: usize,
    /// Epsilon of every RMSNorm.
    pub rms_eps: f32,
    /// RoPE base of global-attention layers.
    pub rope_base: f32,
    /// RoPE base of sliding-window layers (Gemma3), when different.
    pub rope_base_local: f32,
    /// Pairing of dimensions for RoPE.
    pub rope_style: RopeStyle,
    /// The longest sequence (prompt + generated) the model was trained for.
    pub context_length: usize,
    /// Sliding-window size for local layers (Gemma3), if any.
    pub sliding_window: Option<usize>,
    /// Every `sliding_pattern`-th layer is global; the others are local (Gemma3: 6).
    pub sliding_pattern: usize,
    /// Scale applied to attention scores (`1/sqrt(head_dim)` unless the model says otherwise).
    pub attention_scale: f32,
    /// Factor the token embeddings are multiplied by (Gemma3: `sqrt(hidden_size)`).
    pub embedding_scale: Option<f32>,
    /// Feed-forward activation.
    pub activation: Activation,
}

impl ModelConfig {
    /// Reads the hyperparameters from GGUF metadata; `vocab_size` comes from the embedding tensor.
    pub fn from_metadata(meta: &impl MetadataSource, vocab_size: usize) -> Result<Self, ArchError> {
        let arch_name = meta
            .meta_str("general.architecture")
            .ok_or(ArchError::MissingMetadata("general.architecture".into()))?;
        let arch = Architecture::from_name(&arch_name)?;
        let p = arch.name();
        let req = |k: &str| -> Result<usize, ArchError> {
            let key = format!("{p}.{k}");
            let v = meta.meta_u64(&key).ok_or(ArchError::MissingMetadata(key.clone()))?;
            usize::try_from(v).map_err(|_| ArchError::InvalidMetadata(key, v.to_string()))
        };
        let opt = |k: &str| meta.meta_u64(&format!("{p}.{k}")).map(|v| v as usize);
        let hidden_size = req("embedding_length")?;
        let n_layers = req("block_count")?;
        let n_heads = req("attention.head_count")?;
        let n_kv_heads = opt("attention.head_count_kv").unwrap_or(n_heads);
        let ffn_size = req("feed_forward_length")?;
        let context_length = req("context_length")?;
        if n_heads == 0 || n_kv_heads == 0 || n_heads % n_kv_heads != 0 {
            return Err(ArchError::InvalidMetadata(
                format!("{p}.attention.head_count_kv"),
                format!("{n_kv_heads} kv heads for {n_heads} heads"),
            ));
        }
        let head_dim = match opt("attention.key_length") {
            Some(d) => d,
            None if hidden_size % n_heads == 0 => hidden_size / n_heads,
            None => {
                return Err(ArchError::InvalidMetadata(
                    format!("{p}.embedding_length"),
                    format!("{hidden_size} is not divisible by {n_heads} heads"),
                ));
            }
        };
        if head_dim == 0 || head_dim % 2 != 0 {
            return Err(ArchError::InvalidMetadata(
                format!("{p}.attention.key_length"),
                format!("head dimension {head_dim} must be even and positive"),
            ));
        }
        let rms_eps = meta
            .meta_f32(&format!("{p}.attention.layer_norm_rms_epsilon"))
            .unwrap_or(1e-6);
        let rope_base = meta.meta_f32(&format!("{p}.rope.freq_base")).unwrap_or(10_000.0);
        let (sliding_window, sliding_pattern, rope_base_local, embedding_scale, activation) =
            match arch {
                Architecture::Gemma3 => (
                    opt("attention.sliding_window"),
                    opt("attention.sliding_window_pattern").unwrap_or(6),
                    // llama.cpp hard-codes the local base for gemma3 (rope_freq_base_train_swa).
                    10_000.0,
                    Some((hidden_size as f32).sqrt()),
                    Activation::GeluTanh,
                ),
                _ => (None, 1, rope_base, None, Activation::Silu),
            };
        if sliding_pattern == 0 {
            return Err(ArchError::InvalidMetadata(
                format!("{p}.attention.sliding_window_pattern"),
                "0".into(),
            ));
        }
        Ok(Self {
            arch,
            vocab_size,
            hidden_size,
            n_layers,
            n_heads,
            n_kv_heads,
            head_dim,
            ffn_size,
            rms_eps,
            rope_base,
            rope_base_local,
            rope_style: arch.rope_style(),
            context_length,
            sliding_window,
            sliding_pattern,
            attention_scale: 1.0 / (head_dim as f32).sqrt(),
            embedding_scale,
            activation,
        })
    }

    /// True when layer `layer` uses sliding-window (local) attention.
    pub fn is_local_layer(&self, layer: usize) -> bool {
        self.sliding_window.is_some() && (layer % self.sliding_pattern) < self.sliding_pattern - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Meta(HashMap<&'static str, String>);

    impl MetadataSource for Meta {
        fn meta_u64(&self, key: &str) -> Option<u64> {
            self.0.get(key)?.parse().ok()
        }
        fn meta_f32(&self, key: &str) -> Option<f32> {
            self.0.get(key)?.parse().ok()
        }
        fn meta_str(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
    }

    fn qwen_meta() -> Meta {
        Meta(
            [
                ("general.architecture", "qwen2"),
                ("qwen2.embedding_length", "896"),
                ("qwen2.block_count", "24"),
                ("qwen2.attention.head_count", "14"),
                ("qwen2.attention.head_count_kv", "2"),
                ("qwen2.feed_forward_length", "4864"),
                ("qwen2.context_length", "32768"),
                ("qwen2.rope.freq_base", "1000000"),
                ("qwen2.attention.layer_norm_rms_epsilon", "0.000001"),
            ]
            .into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect(),
        )
    }

    #[test]
    fn qwen2_hyperparameters() {
        let c = ModelConfig::from_metadata(&qwen_meta(), 151_936).unwrap();
        assert_eq!(c.arch, Architecture::Qwen2);
        assert_eq!(c.head_dim, 64);
        assert_eq!(c.rope_style, RopeStyle::Neox);
        assert_eq!(c.rope_base, 1.0e6);
        assert!(!c.is_local_layer(0));
    }

    #[test]
    fn bad_metadata_is_a_clear_error() {
        let mut m = qwen_meta();
        m.0.insert("general.architecture", "mamba".into());
        assert_eq!(
            ModelConfig::from_metadata(&m, 10),
            Err(ArchError::UnsupportedArchitecture("mamba".into()))
        );
        let mut m = qwen_meta();
        m.0.remove("qwen2.block_count");
        assert_eq!(
            ModelConfig::from_metadata(&m, 10),
            Err(ArchError::MissingMetadata("qwen2.block_count".into()))
        );
        let mut m = qwen_meta();
        m.0.insert("qwen2.attention.head_count_kv", "3".into());
        assert!(matches!(
            ModelConfig::from_metadata(&m, 10),
            Err(ArchError::InvalidMetadata(..))
        ));
    }

    #[test]
    fn gemma3_local_layer_pattern() {
        let mut g = Meta(HashMap::new());
        for (k, v) in [
            ("general.architecture", "gemma3"),
            ("gemma3.embedding_length", "640"),
            ("gemma3.block_count", "18"),
            ("gemma3.attention.head_count", "4"),
            ("gemma3.attention.head_count_kv", "1"),
            ("gemma3.attention.key_length", "256"),
            ("gemma3.feed_forward_length", "2048"),
            ("gemma3.context_length", "32768"),
            ("gemma3.attention.sliding_window", "512"),
        ] {
            g.0.insert(k, v.to_string());
        }
        let c = ModelConfig::from_metadata(&g, 262_144).unwrap();
        assert_eq!(c.head_dim, 256);
        let local: Vec<bool> = (0..7).map(|l| c.is_local_layer(l)).collect();
        assert_eq!(local, [true, true, true, true, true, false, true]);
        assert_eq!(c.embedding_scale, Some(640f32.sqrt()));
        assert_eq!(c.activation, Activation::GeluTanh);
    }
}
