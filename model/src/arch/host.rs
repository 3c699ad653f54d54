//! The forward pass on the CPU over plain f32 buffers: the layers of this folder (it reads their
//! weights) without one tensor per operation, so a decode step costs its matrix products and
//! little else.
//!
//! Where the order of float operations is a free choice, it is llama.cpp's CPU backend's, the
//! reference the parity tests hold us to (see [`super::ggml_math`] for why it must be the same
//! bits, not just close): RMSNorm sums the squares in f64, scales, then multiplies by the weight;
//! RoPE angles come from repeated multiplication by `base^(-2/d)` and rotate with one fused
//! multiply-add each, as GCC compiles ggml's rope; attention, softmax and SiLU run
//! [`super::ggml_math`]; Gemma's GELU goes through f16 as ggml's lookup table does, and Gemma
//! scales its queries before the dot products. Inputs that several matrices read (Q/K/V,
//! gate/up) are quantized once per int8 format. Attention heads run on the kernel threads.

use std::sync::{Arc, Mutex};

use burn::tensor::{Device, Tensor};
use half::f16;

use super::ArchError;
use super::block::Block;
use super::config::{Activation, Architecture, ModelConfig, RopeStyle};
use super::embedding::TokenEmbedding;
use super::ggml_math::{self, WeightedSum};
use super::kv_cache::{KvCache, LayerKvCache};
use super::linear::{Linear, LinearWeight, from_vec};
use super::norm::RmsNorm;
use super::profile::{self, Op};
use super::transformer::{Logits, TransformerParts};
use crate::quant::{ActFormat, Kernels, QuantizedActs};

/// ggml's `SQRT_2_OVER_PI`.
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
/// ggml's `GELU_COEF_A`.
const GELU_COEF_A: f32 = 0.044_715;

fn backend_err(e: impl std::fmt::Display) -> ArchError {
    ArchError::Backend(e.to_string())
}

/// The values of a 1-D tensor on the host.
fn host_vec(t: &Tensor<1>) -> Result<Vec<f32>, ArchError> {
    t.clone().into_data().try_into_vec::<f32>().map_err(|e| ArchError::Backend(format!("{e:?}")))
}

/// RMSNorm with its weight on the host.
struct Norm {
    weight: Vec<f32>,
    eps: f32,
}

impl Norm {
    fn new(norm: &RmsNorm) -> Result<Self, ArchError> {
        let (weight, eps) = norm.weight();
        Ok(Norm { weight: host_vec(weight)?, eps })
    }

    /// Normalizes every row (of the weight's length) of `x` in place.
    fn apply(&self, x: &mut [f32]) {
        profile::time(Op::Norm, || {
            let n = self.weight.len();
            for row in x.chunks_exact_mut(n) {
                let sum: f64 = row.iter().map(|&v| (v * v) as f64).sum();
                let mean = (sum / n as f64) as f32;
                let scale = 1.0 / (mean + self.eps).sqrt();
                for (v, w) in row.iter_mut().zip(&self.weight) {
                    *v = (*v * scale) * w;
                }
            }
        })
    }
}

/// A linear layer with its bias on the host.
struct HostLinear {
    linear: Linear,
    bias: Option<Vec<f32>>,
}

impl HostLinear {
    fn new(linear: &Linear) -> Result<Self, ArchError> {
        let bias = linear.bias().map(host_vec).transpose()?;
        Ok(HostLinear { linear: linear.clone(), bias })
    }

    fn out_features(&self) -> usize {
        self.linear.config().out_features
    }
}

/// Everything a layer's products need: the kernel threads and the device of dense weights.
struct Ctx<'a> {
    kernels: &'a Kernels,
    device: &'a Device,
}

impl Ctx<'_> {
    /// Runs `linears`, which all read `x` (`rows × in`), and returns their outputs (`rows ×
    /// out` each, bias added). `x` is quantized once per int8 format the matrices need.
    fn project(&self, linears: &[&HostLinear], x: &[f32], rows: usize) -> Result<Vec<Vec<f32>>, ArchError> {
        profile::time(Op::Linear, || self.project_untimed(linears, x, rows))
    }

    fn project_untimed(
        &self,
        linears: &[&HostLinear],
        x: &[f32],
        rows: usize,
    ) -> Result<Vec<Vec<f32>>, ArchError> {
        let mut acts: Vec<(ActFormat, QuantizedActs)> = Vec::new();
        let mut outs = Vec::with_capacity(linears.len());
        for l in linears {
            let mut y = vec![0.0f32; rows * l.out_features()];
            match l.linear.weight() {
                LinearWeight::Kernel(kernel) => {
                    let quant = kernel.quant_matrix().and_then(|m| Some((m, m.ty().act_format()?)));
                    match quant {
                        Some((m, format)) => {
                            let i = match acts.iter().position(|(f, _)| *f == format) {
                                Some(i) => i,
                                None => {
                                    let a = m.quantize_input(self.kernels, x, rows).map_err(backend_err)?;
                                    acts.push((format, a));
                                    acts.len() - 1
                                }
                            };
                            m.matmul_quantized(self.kernels, &acts[i].1, &mut y).map_err(backend_err)?;
                        }
                        None => kernel.matmul(x, rows, &mut y),
                    }
                }
                LinearWeight::Dense(w) => {
                    let cols = l.linear.config().in_features;
                    let t = from_vec(x.to_vec(), [rows, cols], self.device).matmul(w.clone());
                    y = t.into_data().try_into_vec::<f32>().map_err(|e| ArchError::Backend(format!("{e:?}")))?;
                }
            }
            if let Some(b) = &l.bias {
                for row in y.chunks_exact_mut(b.len()) {
                    row.iter_mut().zip(b).for_each(|(v, b)| *v += b);
                }
            }
            outs.push(y);
        }
        Ok(outs)
    }
}

/// Rotary position embedding on the host.
struct Rope {
    head_dim: usize,
    theta_scale: f32,
    style: RopeStyle,
}

impl Rope {
    /// Rotates `x` (`seq × heads × head_dim`) whose first row is at position `start`.
    fn apply(&self, x: &mut [f32], heads: usize, start: usize) {
        profile::time(Op::Rope, || {
            #[cfg(target_arch = "x86_64")]
            if ggml_math::has_fma() {
                // SAFETY: the features `rotate_fma` enables were just detected.
                return unsafe { self.rotate_fma(x, heads, start) };
            }
            self.rotate(x, heads, start)
        })
    }

    /// [`Rope::rotate`] built for AVX2 + FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn rotate_fma(&self, x: &mut [f32], heads: usize, start: usize) {
        self.rotate(x, heads, start)
    }

    /// The body of [`Rope::apply`].
    #[inline(always)]
    fn rotate(&self, x: &mut [f32], heads: usize, start: usize) {
        let d = self.head_dim;
        let half = d / 2;
        let mut cs = vec![(0.0f32, 0.0f32); half];
        for (i, token) in x.chunks_exact_mut(heads * d).enumerate() {
            let mut theta = (start + i) as f32;
            for c in cs.iter_mut() {
                *c = (theta.cos(), theta.sin());
                theta *= self.theta_scale;
            }
            for row in token.chunks_exact_mut(d) {
                for (j, &(cos, sin)) in cs.iter().enumerate() {
                    let (a, b) = match self.style {
                        RopeStyle::Neox => (j, j + half),
                        RopeStyle::Normal => (2 * j, 2 * j + 1),
                    };
                    let (x0, x1) = (row[a], row[b]);
                    row[a] = x0.mul_add(cos, -(x1 * sin));
                    row[b] = x0.mul_add(sin, x1 * cos);
                }
            }
        }
    }
}

/// Self-attention of one layer on the host.
struct HostAttention {
    q: HostLinear,
    k: HostLinear,
    v: HostLinear,
    o: HostLinear,
    q_norm: Option<Norm>,
    k_norm: Option<Norm>,
    rope: Rope,
    n_heads: usize,
    n_kv_heads: usize,
    head_dim: usize,
    window: Option<usize>,
    /// Applied to the queries after RoPE (Gemma3, as llama.cpp does).
    q_scale: Option<f32>,
    /// Applied to the scores before softmax.
    kq_scale: f32,
}

impl HostAttention {
    /// Attends `x` (`seq × hidden`, already normed; first row at `start`) over the cache plus
    /// itself, appending its keys and values; returns the output projection (`seq × hidden`).
    fn forward(&self, ctx: &Ctx<'_>, x: &[f32], seq: usize, start: usize, cache: &mut LayerKvCache) -> Result<Vec<f32>, ArchError> {
        let mut qkv = ctx.project(&[&self.q, &self.k, &self.v], x, seq)?.into_iter();
        let (mut q, mut k, v) = match (qkv.next(), qkv.next(), qkv.next()) {
            (Some(q), Some(k), Some(v)) => (q, k, v),
            _ => return Err(ArchError::Backend("projection count".into())),
        };
        if let Some(n) = &self.q_norm {
            n.apply(&mut q);
        }
        if let Some(n) = &self.k_norm {
            n.apply(&mut k);
        }
        self.rope.apply(&mut q, self.n_heads, start);
        self.rope.apply(&mut k, self.n_kv_heads, start);
        if let Some(s) = self.q_scale {
            q.iter_mut().for_each(|v| *v *= s);
        }
        let width = self.n_kv_heads * self.head_dim;
        let (keys, values) = cache.append_host(&k, &v, width);
        let out = profile::time(Op::Attention, || self.attend(ctx.kernels, &q, keys, values, seq, start));
        let mut o = ctx.project(&[&self.o], &out, seq)?;
        Ok(o.swap_remove(0))
    }

    /// Scaled dot-product attention of `q` (`seq × heads × dim`) over every cached position,
    /// heads spread over the kernel threads; returns `seq × heads·dim`.
    fn attend(&self, kernels: &Kernels, q: &[f32], keys: &[f32], values: &[f32], seq: usize, start: usize) -> Vec<f32> {
        let (hd, heads) = (self.head_dim, self.n_heads);
        let per_head: Vec<Mutex<Vec<f32>>> = (0..heads).map(|_| Mutex::new(Vec::new())).collect();
        kernels.for_each((0..heads).collect(), |h| {
            #[cfg(target_arch = "x86_64")]
            let out = if ggml_math::has_fma() {
                // SAFETY: the features `attend_head_fma` enables were just detected.
                unsafe { self.attend_head_fma(h, q, keys, values, seq, start) }
            } else {
                self.attend_head(h, q, keys, values, seq, start)
            };
            #[cfg(not(target_arch = "x86_64"))]
            let out = self.attend_head(h, q, keys, values, seq, start);
            *per_head[h].lock().unwrap_or_else(|e| e.into_inner()) = out;
        });
        let mut out = vec![0.0f32; seq * heads * hd];
        for (h, m) in per_head.into_iter().enumerate() {
            let part = m.into_inner().unwrap_or_else(|e| e.into_inner());
            for i in 0..seq {
                out[(i * heads + h) * hd..][..hd].copy_from_slice(&part[i * hd..(i + 1) * hd]);
            }
        }
        out
    }

    /// [`HostAttention::attend_head`] built for AVX2 + FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn attend_head_fma(&self, h: usize, q: &[f32], keys: &[f32], values: &[f32], seq: usize, start: usize) -> Vec<f32> {
        self.attend_head(h, q, keys, values, seq, start)
    }

    /// Head `h`'s attention output for every query row (`seq × head_dim`).
    #[inline(always)]
    fn attend_head(&self, h: usize, q: &[f32], keys: &[f32], values: &[f32], seq: usize, start: usize) -> Vec<f32> {
        let (hd, heads) = (self.head_dim, self.n_heads);
        let group = heads / self.n_kv_heads;
        let width = self.n_kv_heads * hd;
        let g = h / group;
        let mut out = vec![0.0f32; seq * hd];
        let mut scores = Vec::with_capacity(start + seq);
        let mut sum = WeightedSum::new(hd, seq > 1);
        for i in 0..seq {
            let p = start + i;
            let lo = self.window.map_or(0, |w| (p + 1).saturating_sub(w));
            let qr = &q[(i * heads + h) * hd..][..hd];
            scores.clear();
            for j in lo..=p {
                scores.push(ggml_math::dot(&keys[j * width + g * hd..][..hd], qr) * self.kq_scale);
            }
            ggml_math::softmax(&mut scores, lo);
            for (j, &w) in (lo..=p).zip(scores.iter()) {
                sum.add(j, w, &values[j * width + g * hd..][..hd]);
            }
            sum.finish(&mut out[i * hd..(i + 1) * hd]);
        }
        out
    }
}

/// ggml's GELU (tanh form) as its f16 lookup table computes it: input and output rounded to f16.
#[inline(always)]
fn gelu_f16_table(x: f32) -> f32 {
    if x <= -10.0 {
        return 0.0;
    }
    if x >= 10.0 {
        return x;
    }
    let x = f16::from_f32(x).to_f32();
    // `1 + A·x·x` is one fused multiply-add, as GCC compiles ggml's `ggml_gelu_f32`.
    let y = 0.5 * x * (1.0 + (SQRT_2_OVER_PI * x * (GELU_COEF_A * x).mul_add(x, 1.0)).tanh());
    f16::from_f32(y).to_f32()
}

/// The gated feed-forward network on the host.
struct HostFfn {
    gate: HostLinear,
    up: HostLinear,
    down: HostLinear,
    activation: Activation,
}

impl HostFfn {
    fn forward(&self, ctx: &Ctx<'_>, x: &[f32], rows: usize) -> Result<Vec<f32>, ArchError> {
        let mut gu = ctx.project(&[&self.gate, &self.up], x, rows)?;
        let up = gu.pop().unwrap_or_default();
        let mut h = gu.pop().unwrap_or_default();
        profile::time(Op::Activation, || {
            #[cfg(target_arch = "x86_64")]
            if ggml_math::has_fma() {
                // SAFETY: the features `gate_fma` enables were just detected.
                return unsafe { gate_fma(self.activation, &mut h, &up) };
            }
            gate(self.activation, &mut h, &up)
        });
        let mut down = ctx.project(&[&self.down], &h, rows)?;
        Ok(down.swap_remove(0))
    }
}

/// [`gate`] built for AVX2 + FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gate_fma(activation: Activation, h: &mut [f32], up: &[f32]) {
    gate(activation, h, up)
}

/// `h ← act(h) · up`, the gated activation of the feed-forward layer.
#[inline(always)]
fn gate(activation: Activation, h: &mut [f32], up: &[f32]) {
    match activation {
        Activation::Silu => {
            for (g, u) in h.iter_mut().zip(up) {
                *g = ggml_math::silu(*g) * u;
            }
        }
        Activation::GeluTanh => {
            for (g, u) in h.iter_mut().zip(up) {
                *g = gelu_f16_table(*g) * u;
            }
        }
    }
}

/// One transformer block on the host.
struct HostBlock {
    attn_norm: Norm,
    attention: HostAttention,
    post_attn_norm: Option<Norm>,
    ffn_norm: Norm,
    ffn: HostFfn,
    post_ffn_norm: Option<Norm>,
}

fn add_into(x: &mut [f32], h: &[f32]) {
    profile::time(Op::Residual, || x.iter_mut().zip(h).for_each(|(a, b)| *a += b));
}

impl HostBlock {
    fn new(block: &Block, config: &ModelConfig) -> Result<Self, ArchError> {
        let p = block.parts();
        let (ac, w, rope) = p.attention.parts();
        let (activation, gate, up, down) = p.ffn.parts();
        let gemma = config.arch == Architecture::Gemma3;
        let rc = rope.config();
        let opt_norm = |n: &Option<RmsNorm>| n.as_ref().map(Norm::new).transpose();
        Ok(HostBlock {
            attn_norm: Norm::new(&p.attn_norm)?,
            attention: HostAttention {
                q: HostLinear::new(&w.q)?,
                k: HostLinear::new(&w.k)?,
                v: HostLinear::new(&w.v)?,
                o: HostLinear::new(&w.o)?,
                q_norm: opt_norm(&w.q_norm)?,
                k_norm: opt_norm(&w.k_norm)?,
                rope: Rope {
                    head_dim: rc.head_dim,
                    theta_scale: rc.base.powf(-2.0 / rc.head_dim as f32),
                    style: rc.style,
                },
                n_heads: ac.n_heads,
                n_kv_heads: ac.n_kv_heads,
                head_dim: ac.head_dim,
                window: ac.window,
                q_scale: gemma.then_some(ac.scale),
                kq_scale: if gemma { 1.0 } else { ac.scale },
            },
            post_attn_norm: opt_norm(&p.post_attn_norm)?,
            ffn_norm: Norm::new(&p.ffn_norm)?,
            ffn: HostFfn {
                gate: HostLinear::new(gate)?,
                up: HostLinear::new(up)?,
                down: HostLinear::new(down)?,
                activation,
            },
            post_ffn_norm: opt_norm(&p.post_ffn_norm)?,
        })
    }

    /// Runs the block on `x` (`seq × hidden`, first row at `start`). With `last_only`, the
    /// feed-forward half runs on the last row alone and `x` keeps only that row.
    fn forward(
        &self,
        ctx: &Ctx<'_>,
        x: &mut Vec<f32>,
        seq: usize,
        start: usize,
        cache: &mut LayerKvCache,
        last_only: bool,
    ) -> Result<(), ArchError> {
        let hidden = x.len() / seq;
        let mut h = x.clone();
        self.attn_norm.apply(&mut h);
        let mut a = self.attention.forward(ctx, &h, seq, start, cache)?;
        let rows = if last_only {
            x.drain(..(seq - 1) * hidden);
            a.drain(..(seq - 1) * hidden);
            1
        } else {
            seq
        };
        if let Some(n) = &self.post_attn_norm {
            n.apply(&mut a);
        }
        add_into(x, &a);
        let mut h = x.clone();
        self.ffn_norm.apply(&mut h);
        let mut f = self.ffn.forward(ctx, &h, rows)?;
        if let Some(n) = &self.post_ffn_norm {
            n.apply(&mut f);
        }
        add_into(x, &f);
        Ok(())
    }
}

/// The whole model on the host, built from a transformer's parts (sharing their weights).
pub struct HostModel {
    embedding: TokenEmbedding,
    blocks: Vec<HostBlock>,
    norm: Norm,
    output: HostLinear,
    kernels: Arc<Kernels>,
    device: Device,
}

impl std::fmt::Debug for HostModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HostModel({} blocks, {:?})", self.blocks.len(), self.kernels)
    }
}

impl HostModel {
    /// Reads the weights of `parts` (norm weights and biases are copied to the host; matrices
    /// are shared). `device` runs the products of dense (f32) weights.
    pub fn new(
        config: &ModelConfig,
        parts: &TransformerParts,
        kernels: Arc<Kernels>,
        device: Device,
    ) -> Result<Self, ArchError> {
        Ok(HostModel {
            embedding: parts.embedding.clone(),
            blocks: parts.blocks.iter().map(|b| HostBlock::new(b, config)).collect::<Result<_, _>>()?,
            norm: Norm::new(&parts.norm)?,
            output: HostLinear::new(&parts.output)?,
            kernels,
            device,
        })
    }

    /// Runs `tokens` (checked by the caller) after the `cache.len()` cached positions and
    /// returns the logits the caller asked for.
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache, logits: Logits) -> Result<Vec<f32>, ArchError> {
        self.kernels.install(|| self.forward_on_pool(tokens, cache, logits))
    }

    fn forward_on_pool(&self, tokens: &[u32], cache: &mut KvCache, logits: Logits) -> Result<Vec<f32>, ArchError> {
        let ctx = Ctx { kernels: &self.kernels, device: &self.device };
        let start = cache.len();
        let seq = tokens.len();
        let mut x = vec![0.0f32; seq * self.embedding.width()];
        profile::time(Op::Embedding, || self.embedding.lookup(tokens, &mut x));
        let last = self.blocks.len().saturating_sub(1);
        for (i, block) in self.blocks.iter().enumerate() {
            let last_only = i == last && logits == Logits::Last && seq > 1;
            block.forward(&ctx, &mut x, seq, start, cache.layer_mut(i), last_only)?;
        }
        let rows = x.len() / self.embedding.width();
        self.norm.apply(&mut x);
        let mut out = profile::time(Op::OutputHead, || ctx.project_untimed(&[&self.output], &x, rows))?;
        Ok(out.swap_remove(0))
    }
}
