//! The student: a Qwen2-style decoder in Burn modules (so autodiff trains it) with exactly the
//! arithmetic of the engine's `qwen2` path — RMSNorm, NeoX-pairing RoPE, grouped-query
//! attention with q/k/v biases, SwiGLU, tied embeddings — so that an exported file computes
//! what was trained.

use burn::module::{Module, Param};
use burn::nn::{Embedding, EmbeddingConfig, Initializer, Linear, LinearConfig, RmsNorm, RmsNormConfig};
use burn::tensor::activation::{silu, softmax};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::DistillError;
use super::config::StudentConfig;
use crate::gguf::GgufFile;

/// One transformer block.
#[derive(Module, Debug)]
pub struct Block {
    /// Norm before attention.
    pub attn_norm: RmsNorm,
    /// Query projection (with bias).
    pub q: Linear,
    /// Key projection (with bias).
    pub k: Linear,
    /// Value projection (with bias).
    pub v: Linear,
    /// Attention output projection.
    pub o: Linear,
    /// Norm before the feed-forward layer.
    pub ffn_norm: RmsNorm,
    /// SwiGLU gate.
    pub gate: Linear,
    /// SwiGLU up projection.
    pub up: Linear,
    /// SwiGLU down projection.
    pub down: Linear,
}

/// The student model.
#[derive(Module, Debug)]
pub struct Student {
    /// Token embeddings, also the output head (tied).
    pub embed: Embedding,
    /// The blocks.
    pub blocks: Vec<Block>,
    /// The final norm.
    pub norm: RmsNorm,
    /// Query heads.
    pub heads: usize,
    /// Key/value heads.
    pub kv_heads: usize,
    /// RoPE base.
    pub rope_theta: f32,
}

fn init() -> Initializer {
    Initializer::Normal { mean: 0.0, std: 0.02 }
}

impl Student {
    /// A randomly initialised student (seeded through the device's RNG by the caller).
    pub fn new(config: &StudentConfig, vocab: usize, device: &Device) -> Self {
        let h = config.hidden;
        let head = h / config.heads;
        let kv = head * config.kv_heads;
        let linear = |i: usize, o: usize, bias: bool| {
            LinearConfig::new(i, o).with_bias(bias).with_initializer(init()).init(device)
        };
        let norm = || RmsNormConfig::new(h).with_epsilon(f64::from(config.rms_eps)).init(device);
        let blocks = (0..config.layers)
            .map(|_| Block {
                attn_norm: norm(),
                q: linear(h, h, true),
                k: linear(h, kv, true),
                v: linear(h, kv, true),
                o: linear(h, h, false),
                ffn_norm: norm(),
                gate: linear(h, config.ffn, false),
                up: linear(h, config.ffn, false),
                down: linear(config.ffn, h, false),
            })
            .collect();
        Self {
            embed: EmbeddingConfig::new(vocab, h).with_initializer(init()).init(device),
            blocks,
            norm: norm(),
            heads: config.heads,
            kv_heads: config.kv_heads,
            rope_theta: config.rope_theta,
        }
    }

    /// A student whose weights come from a GGUF model of the same width and head layout (the
    /// first `config.layers` of its blocks): fine-tuning the base model, or a shallower model
    /// started from it.
    pub fn from_gguf(config: &StudentConfig, file: &GgufFile, device: &Device) -> Result<Self, DistillError> {
        let path = file.path().map_or_else(|| "(in memory)".to_owned(), |p| p.display().to_string());
        let fail = |why: String| DistillError::Gguf { path: path.clone(), why };
        let arch = file.architecture().map_err(|e| fail(e.to_string()))?.to_owned();
        if arch != "qwen2" {
            return Err(fail(format!("architecture {arch}: a student starts only from a qwen2 model")));
        }
        let meta = |k: &str| file.get_u32(&format!("qwen2.{k}")).map(|v| v as usize).map_err(|e| fail(e.to_string()));
        let have = (meta("embedding_length")?, meta("attention.head_count")?, meta("attention.head_count_kv")?, meta("feed_forward_length")?, meta("block_count")?);
        if (have.0, have.1, have.2, have.3) != (config.hidden, config.heads, config.kv_heads, config.ffn) || config.layers > have.4 {
            return Err(fail(format!(
                "the file has hidden {}, heads {}, kv_heads {}, ffn {}, {} layers; the student asks hidden {}, heads {}, kv_heads {}, ffn {}, {} layers: set the [student] shape to the file's (layers at most {})",
                have.0, have.1, have.2, have.3, have.4, config.hidden, config.heads, config.kv_heads, config.ffn, config.layers, have.4
            )));
        }
        let tensor = |name: &str| -> Result<(Vec<f32>, Vec<usize>), DistillError> {
            let view = file.tensor(name).map_err(|e| fail(e.to_string()))?;
            let values = view.to_f32().map_err(|e| fail(format!("{name}: {e}")))?;
            Ok((values, view.info().dims().iter().map(|&d| d as usize).collect()))
        };
        // A ggml matrix [in, out] (fastest first) is row-major [out][in]; Burn's Linear holds
        // [in, out].
        let matrix = |name: &str| -> Result<Param<Tensor<2>>, DistillError> {
            let (values, dims) = tensor(name)?;
            let t = Tensor::<2>::from_data(TensorData::new(values, [dims[1], dims[0]]), device);
            Ok(Param::from_tensor(t.transpose()))
        };
        let vector = |name: &str| -> Result<Param<Tensor<1>>, DistillError> {
            let (values, dims) = tensor(name)?;
            Ok(Param::from_tensor(Tensor::<1>::from_data(TensorData::new(values, [dims[0]]), device)))
        };
        let (embed_values, embed_dims) = tensor("token_embd.weight")?;
        let vocab = embed_dims[1];
        let mut student = Self::new(config, vocab, device);
        student.embed.weight =
            Param::from_tensor(Tensor::<2>::from_data(TensorData::new(embed_values, [vocab, config.hidden]), device));
        student.norm.gamma = vector("output_norm.weight")?;
        for (i, block) in student.blocks.iter_mut().enumerate() {
            let n = |t: &str| format!("blk.{i}.{t}");
            block.attn_norm.gamma = vector(&n("attn_norm.weight"))?;
            block.ffn_norm.gamma = vector(&n("ffn_norm.weight"))?;
            for (linear, name) in [
                (&mut block.q, "attn_q"),
                (&mut block.k, "attn_k"),
                (&mut block.v, "attn_v"),
                (&mut block.o, "attn_output"),
                (&mut block.gate, "ffn_gate"),
                (&mut block.up, "ffn_up"),
                (&mut block.down, "ffn_down"),
            ] {
                linear.weight = matrix(&n(&format!("{name}.weight")))?;
                if linear.bias.is_some() {
                    linear.bias = Some(vector(&n(&format!("{name}.bias")))?);
                }
            }
        }
        Ok(student)
    }

    /// Vocabulary size.
    pub fn vocab(&self) -> usize {
        self.embed.weight.dims()[0]
    }

    /// Residual width.
    pub fn hidden(&self) -> usize {
        self.embed.weight.dims()[1]
    }

    /// Logits `[batch, seq, vocab]` for `tokens` `[batch, seq]`, every position attending to
    /// itself and the positions before it.
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let [batch, seq] = tokens.dims();
        let device = tokens.device();
        let hidden = self.hidden();
        let head = hidden / self.heads;
        let (cos, sin) = rope_tables(seq, head, self.rope_theta, &device);
        let mask = causal_mask(seq, &device);
        let mut x = self.embed.forward(tokens);
        for block in &self.blocks {
            let h = block.attn_norm.forward(x.clone());
            let heads = |t: Tensor<3>, n: usize| t.reshape([batch, seq, n, head]).swap_dims(1, 2);
            let q = rope(heads(block.q.forward(h.clone()), self.heads), &cos, &sin);
            let k = rope(heads(block.k.forward(h.clone()), self.kv_heads), &cos, &sin);
            let v = heads(block.v.forward(h), self.kv_heads);
            let group = self.heads / self.kv_heads;
            let widen = |t: Tensor<4>| {
                t.unsqueeze_dim::<5>(2).repeat_dim(2, group).reshape([batch, self.heads, seq, head])
            };
            let (k, v) = (widen(k), widen(v));
            let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(1.0 / (head as f32).sqrt()) + mask.clone();
            let attended = softmax(scores, 3).matmul(v).swap_dims(1, 2).reshape([batch, seq, hidden]);
            x = x + block.o.forward(attended);
            let h = block.ffn_norm.forward(x.clone());
            x = x + block.down.forward(silu(block.gate.forward(h.clone())) * block.up.forward(h));
        }
        let x = self.norm.forward(x).reshape([batch * seq, hidden]);
        let logits = x.matmul(self.embed.weight.val().transpose());
        logits.reshape([batch, seq, self.vocab()])
    }

    /// Parameters in all.
    pub fn parameters(&self) -> usize {
        self.num_params()
    }
}

/// `cos` and `sin` of the NeoX RoPE angles, `[1, 1, seq, head / 2]`.
fn rope_tables(seq: usize, head: usize, theta: f32, device: &Device) -> (Tensor<4>, Tensor<4>) {
    let half = head / 2;
    let mut cos = Vec::with_capacity(seq * half);
    let mut sin = Vec::with_capacity(seq * half);
    for pos in 0..seq {
        for i in 0..half {
            let freq = theta.powf(-2.0 * i as f32 / head as f32);
            let angle = pos as f32 * freq;
            cos.push(angle.cos());
            sin.push(angle.sin());
        }
    }
    let t = |v: Vec<f32>| Tensor::<4>::from_data(TensorData::new(v, [1, 1, seq, half]), device);
    (t(cos), t(sin))
}

/// RoPE with NeoX pairing: dimension `i` rotates with `i + head/2`.
fn rope(x: Tensor<4>, cos: &Tensor<4>, sin: &Tensor<4>) -> Tensor<4> {
    let [_, _, _, head] = x.dims();
    let half = head / 2;
    let x1 = x.clone().narrow(3, 0, half);
    let x2 = x.narrow(3, half, half);
    let a = x1.clone() * cos.clone() - x2.clone() * sin.clone();
    let b = x2 * cos.clone() + x1 * sin.clone();
    Tensor::cat(vec![a, b], 3)
}

/// An additive mask `[1, 1, seq, seq]`: 0 where a position may attend, a large negative
/// number above the diagonal.
fn causal_mask(seq: usize, device: &Device) -> Tensor<4> {
    let mut m = vec![0.0f32; seq * seq];
    for i in 0..seq {
        for j in i + 1..seq {
            m[i * seq + j] = -1e9;
        }
    }
    Tensor::<4>::from_data(TensorData::new(m, [1, 1, seq, seq]), device)
}
