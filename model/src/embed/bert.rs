//! A BERT encoder built from Burn tensor operations: token + position + type embeddings, then
//! post-norm layers of bidirectional multi-head attention and a GELU feed-forward block. The same
//! code runs on every Burn backend (the CPU backends, or wgpu with the `gpu` feature).
//!
//! Weights come from a Hugging Face `model.safetensors` (F32) with the `BertModel` names
//! (`embeddings.*`, `encoder.layer.N.*`); [`BertConfig`] is read from its `config.json`.

use std::path::Path;

use burn::tensor::activation::gelu;
use burn::tensor::module::{attention, layer_norm};
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;

use super::EmbedError;

/// The fields of a Hugging Face BERT `config.json` the encoder uses.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct BertConfig {
    /// Must be `bert`.
    pub model_type: String,
    /// Width of the hidden states.
    pub hidden_size: usize,
    /// Number of encoder layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer (divides `hidden_size`).
    pub num_attention_heads: usize,
    /// Width of the feed-forward block.
    pub intermediate_size: usize,
    /// Longest sequence the position embeddings cover.
    pub max_position_embeddings: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Epsilon of the layer norms.
    pub layer_norm_eps: f64,
    /// Must be `gelu` (the exact, erf-based GELU).
    pub hidden_act: String,
}

impl BertConfig {
    /// Parses and checks a `config.json`.
    pub fn from_json(text: &str) -> Result<Self, EmbedError> {
        let c: BertConfig = serde_json::from_str(text).map_err(|e| EmbedError::BadConfig(e.to_string()))?;
        if c.model_type != "bert" {
            return Err(EmbedError::BadConfig(format!("model_type is {:?}, expected \"bert\"", c.model_type)));
        }
        if c.hidden_act != "gelu" {
            return Err(EmbedError::BadConfig(format!("hidden_act {:?} is not supported (only \"gelu\")", c.hidden_act)));
        }
        if c.num_attention_heads == 0 || c.hidden_size % c.num_attention_heads != 0 {
            return Err(EmbedError::BadConfig(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                c.hidden_size, c.num_attention_heads
            )));
        }
        Ok(c)
    }
}

/// A dense layer with its weight stored transposed (`[in, out]`) for `x · w + b`.
#[derive(Debug, Clone)]
struct Dense {
    weight: Tensor<2>,
    bias: Tensor<1>,
}

impl Dense {
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        x.matmul(self.weight.clone()) + self.bias.clone().unsqueeze::<2>()
    }
}

/// Layer-norm scale and shift.
#[derive(Debug, Clone)]
struct Norm {
    gamma: Tensor<1>,
    beta: Tensor<1>,
}

#[derive(Debug, Clone)]
struct Layer {
    query: Dense,
    key: Dense,
    value: Dense,
    attn_out: Dense,
    attn_norm: Norm,
    ffn_in: Dense,
    ffn_out: Dense,
    ffn_norm: Norm,
}

/// The BERT encoder: embeddings and layers, ready to run on one Burn device.
#[derive(Debug, Clone)]
pub struct BertEncoder {
    config: BertConfig,
    device: Device,
    /// Word embeddings, `vocab × hidden`, kept on the host for row lookups.
    words: Vec<f32>,
    /// Position embeddings plus the type-0 embedding, `positions × hidden`, on the host.
    positions: Vec<f32>,
    embed_norm: Norm,
    layers: Vec<Layer>,
}

/// Reads F32 tensors out of a safetensors file, checking names and shapes.
struct Weights<'a> {
    file: SafeTensors<'a>,
}

impl Weights<'_> {
    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, EmbedError> {
        let bad = |reason: String| EmbedError::BadWeights { name: name.to_owned(), reason };
        let view = self.file.tensor(name).map_err(|_| bad("missing from model.safetensors".into()))?;
        if view.dtype() != Dtype::F32 {
            return Err(bad(format!("dtype {:?}, only F32 is supported", view.dtype())));
        }
        if view.shape() != shape {
            return Err(bad(format!("shape {:?}, expected {shape:?}", view.shape())));
        }
        Ok(view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    }

    fn vector(&self, name: &str, len: usize, device: &Device) -> Result<Tensor<1>, EmbedError> {
        Ok(Tensor::from_data(TensorData::new(self.get(name, &[len])?, [len]), device))
    }

    fn dense(&self, prefix: &str, input: usize, output: usize, device: &Device) -> Result<Dense, EmbedError> {
        let w = self.get(&format!("{prefix}.weight"), &[output, input])?;
        let mut t = vec![0.0f32; w.len()];
        for o in 0..output {
            for i in 0..input {
                t[i * output + o] = w[o * input + i];
            }
        }
        Ok(Dense {
            weight: Tensor::from_data(TensorData::new(t, [input, output]), device),
            bias: self.vector(&format!("{prefix}.bias"), output, device)?,
        })
    }

    fn norm(&self, prefix: &str, len: usize, device: &Device) -> Result<Norm, EmbedError> {
        Ok(Norm {
            gamma: self.vector(&format!("{prefix}.weight"), len, device)?,
            beta: self.vector(&format!("{prefix}.bias"), len, device)?,
        })
    }
}

impl BertEncoder {
    /// Loads the encoder from a `model.safetensors` file.
    pub fn load(path: &Path, config: BertConfig, device: Device) -> Result<Self, EmbedError> {
        let bytes = std::fs::read(path).map_err(|source| EmbedError::Io { path: path.to_owned(), source })?;
        let file = SafeTensors::deserialize(&bytes).map_err(|e| EmbedError::BadWeights {
            name: path.display().to_string(),
            reason: format!("not a safetensors file ({e})"),
        })?;
        let w = Weights { file };
        let (h, f) = (config.hidden_size, config.intermediate_size);
        let words = w.get("embeddings.word_embeddings.weight", &[config.vocab_size, h])?;
        let mut positions = w.get("embeddings.position_embeddings.weight", &[config.max_position_embeddings, h])?;
        let types = w.get("embeddings.token_type_embeddings.weight", &[2, h])?;
        for row in positions.chunks_exact_mut(h) {
            row.iter_mut().zip(&types[..h]).for_each(|(p, t)| *p += t);
        }
        let embed_norm = w.norm("embeddings.LayerNorm", h, &device)?;
        let layers = (0..config.num_hidden_layers)
            .map(|i| {
                let p = format!("encoder.layer.{i}");
                Ok(Layer {
                    query: w.dense(&format!("{p}.attention.self.query"), h, h, &device)?,
                    key: w.dense(&format!("{p}.attention.self.key"), h, h, &device)?,
                    value: w.dense(&format!("{p}.attention.self.value"), h, h, &device)?,
                    attn_out: w.dense(&format!("{p}.attention.output.dense"), h, h, &device)?,
                    attn_norm: w.norm(&format!("{p}.attention.output.LayerNorm"), h, &device)?,
                    ffn_in: w.dense(&format!("{p}.intermediate.dense"), h, f, &device)?,
                    ffn_out: w.dense(&format!("{p}.output.dense"), f, h, &device)?,
                    ffn_norm: w.norm(&format!("{p}.output.LayerNorm"), h, &device)?,
                })
            })
            .collect::<Result<_, EmbedError>>()?;
        Ok(BertEncoder { config, device, words, positions, embed_norm, layers })
    }

    /// The configuration the encoder was built from.
    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// Encodes a batch of id sequences (each non-empty, at most `max_position_embeddings` long,
    /// ids inside the vocabulary: checked by the caller) and returns, per sequence, the mean of
    /// its last hidden states over its own tokens (padding excluded).
    pub fn mean_pooled(&self, batch: &[Vec<u32>]) -> Vec<Vec<f32>> {
        let h = self.config.hidden_size;
        let heads = self.config.num_attention_heads;
        let hd = h / heads;
        let b = batch.len();
        let len = batch.iter().map(Vec::len).max().unwrap_or(0);
        if b == 0 || len == 0 {
            return Vec::new();
        }
        let mut x = vec![0.0f32; b * len * h];
        let mut pad = vec![false; b * len];
        for (s, ids) in batch.iter().enumerate() {
            for p in 0..len {
                let row = &mut x[(s * len + p) * h..(s * len + p + 1) * h];
                match ids.get(p) {
                    Some(&id) => {
                        let word = &self.words[id as usize * h..(id as usize + 1) * h];
                        let pos = &self.positions[p * h..(p + 1) * h];
                        row.iter_mut().zip(word.iter().zip(pos)).for_each(|(r, (w, q))| *r = w + q);
                    }
                    None => pad[s * len + p] = true,
                }
            }
        }
        let eps = self.config.layer_norm_eps;
        let norm = |t: Tensor<2>, n: &Norm| layer_norm(t, n.gamma.clone(), Some(n.beta.clone()), eps);
        let mut x = norm(Tensor::from_data(TensorData::new(x, [b * len, h]), &self.device), &self.embed_norm);
        // Keys that are padding are masked out of every query's softmax.
        let mask: Tensor<4, Bool> = Tensor::<2, Bool>::from_data(TensorData::new(pad, [b, len]), &self.device)
            .reshape([b, 1, 1, len])
            .expand([b, heads, len, len]);
        let split = |t: Tensor<2>| t.reshape([b, len, heads, hd]).swap_dims(1, 2);
        let options = AttentionModuleOptions { scale: None, softcap: None, is_causal: false };
        for layer in &self.layers {
            let q = split(layer.query.forward(x.clone()));
            let k = split(layer.key.forward(x.clone()));
            let v = split(layer.value.forward(x.clone()));
            let a = attention(q, k, v, Some(mask.clone()), None, options).swap_dims(1, 2).reshape([b * len, h]);
            x = norm(x + layer.attn_out.forward(a), &layer.attn_norm);
            let f = layer.ffn_out.forward(gelu(layer.ffn_in.forward(x.clone())));
            x = norm(x + f, &layer.ffn_norm);
        }
        let data = x.into_data();
        let hidden = data.as_slice::<f32>().expect("hidden states are f32");
        batch
            .iter()
            .enumerate()
            .map(|(s, ids)| {
                let mut sum = vec![0.0f32; h];
                for p in 0..ids.len() {
                    let row = &hidden[(s * len + p) * h..(s * len + p + 1) * h];
                    sum.iter_mut().zip(row).for_each(|(a, v)| *a += v);
                }
                sum.iter_mut().for_each(|v| *v /= ids.len() as f32);
                sum
            })
            .collect()
    }
}
