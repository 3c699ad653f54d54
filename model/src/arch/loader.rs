//! Builds a [`Transformer`] from a GGUF file: maps llama.cpp's tensor names onto the layers.
//!
//! Linear weights stay in the file's block format (borrowed from the memory map, no copy) and run
//! through the quantized kernels of [`crate::quant`]; only norms and biases (small, f32 in the file)
//! become dense Burn tensors. [`WeightMode::Dequantized`] expands every linear weight to f32
//! instead, for checking the kernels against plain matmuls on small models.

use std::sync::Arc;

use burn::tensor::{Device, Tensor};
use bytes::Bytes;

use super::attention::{AttentionConfig, AttentionWeights};
use super::block::BlockConfig;
use super::config::{MetadataSource, ModelConfig};
use super::embedding::{EmbeddingRows, TokenEmbeddingConfig};
use super::linear::{Linear, LinearConfig, LinearWeight, MatmulKernel, from_vec};
use super::mlp::FeedForwardConfig;
use super::norm::{RmsNorm, RmsNormConfig};
use super::rope::RotaryEmbeddingConfig;
use super::transformer::{Transformer, TransformerParts};
use super::{Architecture, ArchError};
use crate::gguf::GgufFile;
use crate::quant::{Kernels, QuantMatrix, QuantType};

/// How linear weights are held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WeightMode {
    /// In the file's block format, multiplied by the quantized kernels (the default).
    #[default]
    Quantized,
    /// Expanded to f32 and multiplied by Burn's matmul (memory-hungry; for small models).
    Dequantized,
}

impl MetadataSource for GgufFile {
    fn meta_u64(&self, key: &str) -> Option<u64> {
        self.get(key)?.as_u64()
    }
    fn meta_f32(&self, key: &str) -> Option<f32> {
        self.get(key)?.as_f32()
    }
    fn meta_str(&self, key: &str) -> Option<String> {
        self.get(key)?.as_str().map(str::to_string)
    }
}

/// Loads a transformer from `file` onto `device`, running linear layers with `kernels`.
pub fn load_transformer(
    file: Arc<GgufFile>,
    device: &Device,
    kernels: Arc<Kernels>,
    mode: WeightMode,
) -> Result<Transformer, ArchError> {
    let _span = tracing::info_span!("load_transformer").entered();
    let loader = Loader { file: file.clone(), device: device.clone(), kernels, mode };
    let embd = loader.info("token_embd.weight")?;
    let vocab_size = embd.1[1];
    let config = ModelConfig::from_metadata(file.as_ref(), vocab_size)?;
    if embd.1[0] != config.hidden_size {
        return Err(tensor_err("token_embd.weight", "width differs from embedding_length"));
    }
    let gemma = config.arch == Architecture::Gemma3;
    let norm_config = |dim| RmsNormConfig { dim, eps: config.rms_eps, unit_offset: false };
    let qkv_bias = config.arch == Architecture::Qwen2;
    let mut blocks = Vec::with_capacity(config.n_layers);
    for i in 0..config.n_layers {
        let name = |t: &str| format!("blk.{i}.{t}");
        let h = config.hidden_size;
        let q_out = config.n_heads * config.head_dim;
        let kv_out = config.n_kv_heads * config.head_dim;
        let norm = |t: &str| loader.norm(&name(t), norm_config(h));
        let head_norm = |t: &str| loader.norm(&name(t), norm_config(config.head_dim));
        let local = config.is_local_layer(i);
        let attention = AttentionConfig {
            n_heads: config.n_heads,
            n_kv_heads: config.n_kv_heads,
            head_dim: config.head_dim,
            scale: config.attention_scale,
            window: if local { config.sliding_window } else { None },
            cache_capacity: 256,
        }
        .init(
            AttentionWeights {
                q: loader.linear(&name("attn_q"), h, q_out, qkv_bias)?,
                k: loader.linear(&name("attn_k"), h, kv_out, qkv_bias)?,
                v: loader.linear(&name("attn_v"), h, kv_out, qkv_bias)?,
                o: loader.linear(&name("attn_output"), q_out, h, false)?,
                q_norm: if gemma { Some(head_norm("attn_q_norm.weight")?) } else { None },
                k_norm: if gemma { Some(head_norm("attn_k_norm.weight")?) } else { None },
            },
            RotaryEmbeddingConfig {
                head_dim: config.head_dim,
                base: if local { config.rope_base_local } else { config.rope_base },
                style: config.rope_style,
            }
            .init(),
        );
        let ffn = FeedForwardConfig { activation: config.activation }.init(
            loader.linear(&name("ffn_gate"), h, config.ffn_size, false)?,
            loader.linear(&name("ffn_up"), h, config.ffn_size, false)?,
            loader.linear(&name("ffn_down"), config.ffn_size, h, false)?,
        );
        blocks.push(
            BlockConfig {
                attn_norm: norm("attn_norm.weight")?,
                attention,
                post_attn_norm: if gemma { Some(norm("post_attention_norm.weight")?) } else { None },
                ffn_norm: norm("ffn_norm.weight")?,
                ffn,
                post_ffn_norm: if gemma { Some(norm("post_ffw_norm.weight")?) } else { None },
            }
            .init(),
        );
    }
    let output_name =
        if file.tensor_info("output.weight").is_some() { "output" } else { "token_embd" };
    let parts = TransformerParts {
        embedding: TokenEmbeddingConfig { scale: config.embedding_scale }
            .init(Arc::new(GgufRows::new(file.clone(), "token_embd.weight")?)),
        blocks,
        norm: loader.norm("output_norm.weight", norm_config(config.hidden_size))?,
        output: loader.linear(output_name, config.hidden_size, vocab_size, false)?,
    };
    Ok(Transformer::new(config, parts, device.clone()))
}

fn tensor_err(name: &str, reason: impl Into<String>) -> ArchError {
    ArchError::Tensor { name: name.to_string(), reason: reason.into() }
}

struct Loader {
    file: Arc<GgufFile>,
    device: Device,
    kernels: Arc<Kernels>,
    mode: WeightMode,
}

impl Loader {
    /// The ggml type id and the first two dims (`[cols, rows]`, rows = 1 for vectors).
    fn info(&self, name: &str) -> Result<(u32, [usize; 2]), ArchError> {
        let info = self.file.tensor_info(name).ok_or_else(|| tensor_err(name, "missing"))?;
        let dims = info.dims();
        if dims.is_empty() || dims.len() > 2 {
            return Err(tensor_err(name, format!("expected 1 or 2 dims, found {dims:?}")));
        }
        let cols = dims[0] as usize;
        let rows = dims.get(1).copied().unwrap_or(1) as usize;
        Ok((info.ggml_type().id(), [cols, rows]))
    }

    fn f32_vec(&self, name: &str) -> Result<Vec<f32>, ArchError> {
        self.file
            .tensor(name)
            .and_then(|t| t.to_f32())
            .map_err(|e| tensor_err(name, e.to_string()))
    }

    fn vector(&self, name: &str, len: usize) -> Result<Tensor<1>, ArchError> {
        let (_, [cols, rows]) = self.info(name)?;
        if cols != len || rows != 1 {
            return Err(tensor_err(name, format!("expected {len} elements, found {cols}x{rows}")));
        }
        Ok(from_vec(self.f32_vec(name)?, [len], &self.device))
    }

    fn norm(&self, name: &str, config: RmsNormConfig) -> Result<RmsNorm, ArchError> {
        Ok(config.init(self.vector(name, config.dim)?))
    }

    fn linear(
        &self,
        base: &str,
        in_features: usize,
        out_features: usize,
        bias: bool,
    ) -> Result<Linear, ArchError> {
        let name = format!("{base}.weight");
        let (type_id, [cols, rows]) = self.info(&name)?;
        if cols != in_features || rows != out_features {
            return Err(tensor_err(
                &name,
                format!("expected {out_features}x{in_features}, found {rows}x{cols}"),
            ));
        }
        let weight = match (self.mode, QuantType::from_ggml_id(type_id)) {
            (WeightMode::Quantized, Ok(ty)) => {
                let bytes = Bytes::from_owner(TensorBytes::new(self.file.clone(), &name)?);
                let matrix = QuantMatrix::new(ty, rows, cols, bytes)
                    .map_err(|e| tensor_err(&name, e.to_string()))?;
                LinearWeight::Kernel(Arc::new(QuantLinear { matrix, kernels: self.kernels.clone() }))
            }
            _ => {
                let w: Tensor<2> = from_vec(self.f32_vec(&name)?, [rows, cols], &self.device);
                LinearWeight::Dense(w.transpose())
            }
        };
        let bias = if bias {
            Some(self.vector(&format!("{base}.bias"), out_features)?)
        } else {
            None
        };
        Ok(Linear::new(LinearConfig { in_features, out_features }, weight, bias))
    }
}

/// A quantized matrix together with the kernel context that multiplies it.
struct QuantLinear {
    matrix: QuantMatrix,
    kernels: Arc<Kernels>,
}

impl MatmulKernel for QuantLinear {
    fn in_features(&self) -> usize {
        self.matrix.cols()
    }
    fn out_features(&self) -> usize {
        self.matrix.rows()
    }
    fn matmul(&self, x: &[f32], rows: usize, y: &mut [f32]) {
        // Lengths are fixed by the layer's shape, checked when the layer was built.
        self.matrix
            .matmul(&self.kernels, x, rows, y)
            .expect("activation and output lengths match the matrix shape");
    }
    fn weight_bytes(&self) -> usize {
        self.matrix.data().len()
    }
    fn quant_matrix(&self) -> Option<&QuantMatrix> {
        Some(&self.matrix)
    }
}

/// Owner of one tensor's bytes inside the memory-mapped file (keeps the file alive).
struct TensorBytes {
    file: Arc<GgufFile>,
    name: String,
}

impl TensorBytes {
    fn new(file: Arc<GgufFile>, name: &str) -> Result<Self, ArchError> {
        file.tensor(name).map_err(|e| tensor_err(name, e.to_string()))?;
        Ok(Self { file, name: name.to_string() })
    }
}

impl AsRef<[u8]> for TensorBytes {
    fn as_ref(&self) -> &[u8] {
        // The tensor was found in `new` and the file is immutable, so the lookup cannot fail.
        self.file.tensor(&self.name).map(|t| t.data()).unwrap_or(&[])
    }
}

/// Embedding rows expanded on demand from the file's (quantized) tensor.
struct GgufRows {
    file: Arc<GgufFile>,
    name: String,
    rows: usize,
    width: usize,
}

impl GgufRows {
    fn new(file: Arc<GgufFile>, name: &str) -> Result<Self, ArchError> {
        let t = file.tensor(name).map_err(|e| tensor_err(name, e.to_string()))?;
        let (width, rows) = (t.info().row_len(), t.info().n_rows());
        if !t.ggml_type().can_dequantize() {
            return Err(tensor_err(name, format!("type {} cannot be expanded", t.ggml_type().name())));
        }
        Ok(Self { file, name: name.to_string(), rows, width })
    }
}

impl EmbeddingRows for GgufRows {
    fn rows(&self) -> usize {
        self.rows
    }
    fn width(&self) -> usize {
        self.width
    }
    fn row(&self, index: usize, out: &mut [f32]) {
        // Index and width are checked by the caller and in `new`; the type can be dequantized.
        if let Ok(t) = self.file.tensor(&self.name) {
            if t.dequantize_row(index, out).is_err() {
                out.fill(f32::NAN);
            }
        }
    }
}
