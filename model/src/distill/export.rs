//! Export of a trained student: GGUF (architecture `qwen2`, matrices as F16, Q8_0 or Q4_0 by
//! this crate's quantizer, the base model's tokenizer and chat template carried over), which
//! the engine and llama.cpp load, and safetensors with a Hugging Face `config.json`
//! (`Qwen2ForCausalLM`), which MLX and transformers load.

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::Tensor;

use super::DistillError;
use super::config::StudentConfig;
use super::student::Student;
use crate::gguf::{GgmlType, GgufFile, MetadataValue, TensorSpec, quantize, write_gguf};

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// GGUF with matrices as F16.
    GgufF16,
    /// GGUF with matrices as Q8_0.
    GgufQ8_0,
    /// GGUF with matrices as Q4_0.
    GgufQ4_0,
    /// A safetensors directory (`model.safetensors` F32 + `config.json`).
    Safetensors,
}

impl ExportFormat {
    /// Parses `f16`, `q8_0`, `q4_0` or `safetensors`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "f16" => Some(Self::GgufF16),
            "q8_0" => Some(Self::GgufQ8_0),
            "q4_0" => Some(Self::GgufQ4_0),
            "safetensors" => Some(Self::Safetensors),
            _ => None,
        }
    }

    /// The name [`Self::from_name`] reads.
    pub fn name(self) -> &'static str {
        match self {
            Self::GgufF16 => "f16",
            Self::GgufQ8_0 => "q8_0",
            Self::GgufQ4_0 => "q4_0",
            Self::Safetensors => "safetensors",
        }
    }
}

/// One named weight of the student in row-major order with its shape (outermost first).
struct Weight {
    gguf: String,
    hf: String,
    shape: Vec<usize>,
    values: Vec<f32>,
}

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default()
}

fn vector(t: Tensor<1>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_to_vec::<f32>().unwrap_or_default()
}

/// The student's weights with their GGUF and Hugging Face names; matrices as `[out, in]`.
fn weights(student: &Student) -> Vec<Weight> {
    let mut out = Vec::new();
    let embed = student.embed.weight.val();
    let [vocab, hidden] = embed.dims();
    out.push(Weight { gguf: "token_embd.weight".into(), hf: "model.embed_tokens.weight".into(), shape: vec![vocab, hidden], values: values(embed) });
    for (i, b) in student.blocks.iter().enumerate() {
        let norm = |gguf: &str, hf: &str, t: Tensor<1>| {
            let v = vector(t);
            Weight { gguf: format!("blk.{i}.{gguf}.weight"), hf: format!("model.layers.{i}.{hf}.weight"), shape: vec![v.len()], values: v }
        };
        out.push(norm("attn_norm", "input_layernorm", b.attn_norm.gamma.val()));
        for (linear, gguf, hf) in [
            (&b.q, "attn_q", "self_attn.q_proj"),
            (&b.k, "attn_k", "self_attn.k_proj"),
            (&b.v, "attn_v", "self_attn.v_proj"),
            (&b.o, "attn_output", "self_attn.o_proj"),
        ] {
            let w = linear.weight.val().transpose();
            let [o, n] = w.dims();
            out.push(Weight { gguf: format!("blk.{i}.{gguf}.weight"), hf: format!("model.layers.{i}.{hf}.weight"), shape: vec![o, n], values: values(w) });
            if let Some(bias) = &linear.bias {
                let v = vector(bias.val());
                out.push(Weight { gguf: format!("blk.{i}.{gguf}.bias"), hf: format!("model.layers.{i}.{hf}.bias"), shape: vec![v.len()], values: v });
            }
        }
        out.push(norm("ffn_norm", "post_attention_layernorm", b.ffn_norm.gamma.val()));
        for (linear, gguf, hf) in [(&b.gate, "ffn_gate", "mlp.gate_proj"), (&b.up, "ffn_up", "mlp.up_proj"), (&b.down, "ffn_down", "mlp.down_proj")] {
            let w = linear.weight.val().transpose();
            let [o, n] = w.dims();
            out.push(Weight { gguf: format!("blk.{i}.{gguf}.weight"), hf: format!("model.layers.{i}.{hf}.weight"), shape: vec![o, n], values: values(w) });
        }
    }
    let v = vector(student.norm.gamma.val());
    out.push(Weight { gguf: "output_norm.weight".into(), hf: "model.norm.weight".into(), shape: vec![v.len()], values: v });
    out
}

/// llama.cpp's `general.file_type` of a model whose matrices are `ty`.
fn file_type(ty: GgmlType) -> u32 {
    match ty {
        GgmlType::F16 => 1,
        GgmlType::Q4_0 => 2,
        _ => 7,
    }
}

/// Writes the student as a GGUF file at `out` with matrices of `format`'s type; `base` gives
/// the tokenizer and chat template.
pub fn export_gguf(
    student: &Student,
    config: &StudentConfig,
    base: &GgufFile,
    format: ExportFormat,
    name: &str,
    out: &Path,
) -> Result<u64, DistillError> {
    let ty = match format {
        ExportFormat::GgufF16 => GgmlType::F16,
        ExportFormat::GgufQ8_0 => GgmlType::Q8_0,
        ExportFormat::GgufQ4_0 => GgmlType::Q4_0,
        ExportFormat::Safetensors => return Err(DistillError::Export("safetensors is not a GGUF type: use export_safetensors".into())),
    };
    let u32v = |v: usize| MetadataValue::U32(v as u32);
    let mut metadata: Vec<(String, MetadataValue)> = vec![
        ("general.architecture".into(), MetadataValue::String("qwen2".into())),
        ("general.name".into(), MetadataValue::String(name.into())),
        ("general.file_type".into(), MetadataValue::U32(file_type(ty))),
        ("general.alignment".into(), MetadataValue::U32(32)),
        ("qwen2.block_count".into(), u32v(config.layers)),
        ("qwen2.context_length".into(), u32v(config.context)),
        ("qwen2.embedding_length".into(), u32v(config.hidden)),
        ("qwen2.feed_forward_length".into(), u32v(config.ffn)),
        ("qwen2.attention.head_count".into(), u32v(config.heads)),
        ("qwen2.attention.head_count_kv".into(), u32v(config.kv_heads)),
        ("qwen2.rope.freq_base".into(), MetadataValue::F32(config.rope_theta)),
        ("qwen2.attention.layer_norm_rms_epsilon".into(), MetadataValue::F32(config.rms_eps)),
    ];
    let carried: Vec<(String, MetadataValue)> =
        base.metadata().filter(|(k, _)| k.starts_with("tokenizer.")).map(|(k, v)| (k.to_owned(), v.clone())).collect();
    if !carried.iter().any(|(k, _)| k == "tokenizer.ggml.tokens") {
        return Err(DistillError::Export("the base model has no tokenizer (tokenizer.ggml.tokens) to carry over".into()));
    }
    metadata.extend(carried);
    let weights = weights(student);
    let specs: Vec<TensorSpec> = weights
        .iter()
        .map(|w| TensorSpec {
            name: w.gguf.clone(),
            dims: w.shape.iter().rev().map(|&d| d as u64).collect(),
            ty: if w.shape.len() == 2 { ty } else { GgmlType::F32 },
        })
        .collect();
    write_gguf(out, &metadata, &specs, |i| quantize(specs[i].ty, &weights[i].values).map_err(|e| e.to_string()))
        .map_err(|e| DistillError::Export(e.to_string()))?;
    std::fs::metadata(out).map(|m| m.len()).map_err(DistillError::io("cannot read", out))
}

/// Writes the student as `model.safetensors` (F32, Hugging Face `Qwen2ForCausalLM` names,
/// embeddings tied) and `config.json` into the directory `out`.
pub fn export_safetensors(student: &Student, config: &StudentConfig, out: &Path) -> Result<u64, DistillError> {
    std::fs::create_dir_all(out).map_err(DistillError::io("cannot create", out))?;
    let weights = weights(student);
    let bytes: Vec<Vec<u8>> = weights.iter().map(|w| w.values.iter().flat_map(|v| v.to_le_bytes()).collect()).collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = weights
        .iter()
        .zip(&bytes)
        .map(|(w, b)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, w.shape.clone(), b)
                .map(|view| (w.hf.clone(), view))
                .map_err(|e| DistillError::Export(format!("{}: {e}", w.hf)))
        })
        .collect::<Result<_, _>>()?;
    let mut info = std::collections::HashMap::new();
    info.insert("format".to_owned(), "pt".to_owned());
    let model_path = out.join("model.safetensors");
    safetensors::tensor::serialize_to_file(views, Some(info), &model_path)
        .map_err(|e| DistillError::Export(format!("{}: {e}", model_path.display())))?;
    let hf_config: BTreeMap<&str, serde_json::Value> = [
        ("architectures", serde_json::json!(["Qwen2ForCausalLM"])),
        ("model_type", "qwen2".into()),
        ("hidden_size", config.hidden.into()),
        ("intermediate_size", config.ffn.into()),
        ("num_hidden_layers", config.layers.into()),
        ("num_attention_heads", config.heads.into()),
        ("num_key_value_heads", config.kv_heads.into()),
        ("max_position_embeddings", config.context.into()),
        ("rope_theta", f64::from(config.rope_theta).into()),
        ("rms_norm_eps", f64::from(config.rms_eps).into()),
        ("vocab_size", student.vocab().into()),
        ("tie_word_embeddings", true.into()),
        ("hidden_act", "silu".into()),
        ("torch_dtype", "float32".into()),
    ]
    .into_iter()
    .collect();
    let config_path = out.join("config.json");
    let text = serde_json::to_string_pretty(&hf_config).map_err(|e| DistillError::Export(e.to_string()))?;
    std::fs::write(&config_path, text).map_err(DistillError::io("cannot write", &config_path))?;
    std::fs::metadata(&model_path).map(|m| m.len()).map_err(DistillError::io("cannot read", &model_path))
}
