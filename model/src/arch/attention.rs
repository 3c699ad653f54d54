//! Grouped-query self-attention with rotary embeddings, optional q/k norms (Gemma3) and an
//! optional sliding window, over the layer's [`LayerKvCache`].

use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Tensor, TensorData};

use super::kv_cache::LayerKvCache;
use super::linear::Linear;
use super::norm::RmsNorm;
use super::profile::{self, Op};
use super::rope::RotaryEmbedding;

/// Configuration of an [`Attention`] layer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttentionConfig {
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads (divides `n_heads`).
    pub n_kv_heads: usize,
    /// Width of one head.
    pub head_dim: usize,
    /// Scale of the attention scores.
    pub scale: f32,
    /// Sliding window: a query at position `p` sees keys at positions `> p - window`.
    pub window: Option<usize>,
    /// Initial KV-cache capacity in positions.
    pub cache_capacity: usize,
}

/// The projections and norms an [`Attention`] layer is made of.
#[derive(Debug, Clone)]
pub struct AttentionWeights {
    /// Query projection (`hidden → heads·head_dim`).
    pub q: Linear,
    /// Key projection (`hidden → kv_heads·head_dim`).
    pub k: Linear,
    /// Value projection (`hidden → kv_heads·head_dim`).
    pub v: Linear,
    /// Output projection (`heads·head_dim → hidden`).
    pub o: Linear,
    /// RMSNorm applied to each query head before RoPE (Gemma3).
    pub q_norm: Option<RmsNorm>,
    /// RMSNorm applied to each key head before RoPE (Gemma3).
    pub k_norm: Option<RmsNorm>,
}

impl AttentionConfig {
    /// Builds the layer from its weights and rotary embedding.
    pub fn init(&self, weights: AttentionWeights, rope: RotaryEmbedding) -> Attention {
        Attention { config: *self, weights, rope }
    }
}

/// Multi-head self-attention with grouped key/value heads.
#[derive(Debug, Clone)]
pub struct Attention {
    config: AttentionConfig,
    weights: AttentionWeights,
    rope: RotaryEmbedding,
}

impl Attention {
    /// The configuration, weights and rotary embedding the layer was built from.
    pub fn parts(&self) -> (&AttentionConfig, &AttentionWeights, &RotaryEmbedding) {
        (&self.config, &self.weights, &self.rope)
    }

    /// Attends `x` (`[seq, hidden]`, first row at position `start`) over the cache plus itself,
    /// appending its keys and values to `cache`.
    pub fn forward(&self, x: Tensor<2>, start: usize, cache: &mut LayerKvCache) -> Tensor<2> {
        let c = &self.config;
        let [seq, _] = x.dims();
        let (q, k, v) = profile::time(Op::Linear, || {
            (
                self.weights.q.forward(x.clone()).reshape([seq, c.n_heads, c.head_dim]),
                self.weights.k.forward(x.clone()).reshape([seq, c.n_kv_heads, c.head_dim]),
                self.weights.v.forward(x).reshape([seq, c.n_kv_heads, c.head_dim]),
            )
        });
        let q = match &self.weights.q_norm {
            Some(n) => n.forward(q),
            None => q,
        };
        let k = match &self.weights.k_norm {
            Some(n) => n.forward(k),
            None => k,
        };
        let q = self.rope.forward(q, start);
        let k = self.rope.forward(k, start);
        let out = profile::time(Op::Attention, || self.attend(q, k, v, start, cache));
        profile::time(Op::Linear, || self.weights.o.forward(out))
    }

    /// Appends `k`/`v` (`[seq, kv_heads, dim]`) to the cache and attends `q` (`[seq, heads, dim]`)
    /// over it, giving `[seq, heads·dim]`.
    fn attend(
        &self,
        q: Tensor<3>,
        k: Tensor<3>,
        v: Tensor<3>,
        start: usize,
        cache: &mut LayerKvCache,
    ) -> Tensor<2> {
        let c = &self.config;
        let [seq, _, _] = q.dims();
        // [seq, heads, dim] -> [1, heads, seq, dim]
        let k = k.swap_dims(0, 1).unsqueeze::<4>();
        let v = v.swap_dims(0, 1).unsqueeze::<4>();
        let (keys, values) = cache.append(k, v, c.cache_capacity);
        let total = start + seq;
        let group = c.n_heads / c.n_kv_heads;
        let options = |is_causal| AttentionModuleOptions {
            scale: Some(c.scale as f64),
            softcap: None,
            is_causal,
        };
        let out = if seq == 1 {
            // One query: fold the query heads of a group into rows, so that keys and values are
            // used as stored (no repeat), and keep only the window of visible keys.
            let visible = c.window.map_or(total, |w| w.min(total));
            let keys = keys.narrow(2, total - visible, visible);
            let values = values.narrow(2, total - visible, visible);
            let q = q.reshape([1, c.n_kv_heads, group, c.head_dim]);
            attention(q, keys, values, None, None, options(false))
                .reshape([1, c.n_heads, 1, c.head_dim])
        } else {
            let repeat = |t: Tensor<4>| {
                if group == 1 {
                    return t;
                }
                let [_, kvh, len, dim] = t.dims();
                t.reshape([1, kvh, 1, len, dim])
                    .expand([1, kvh, group, len, dim])
                    .reshape([1, kvh * group, len, dim])
            };
            let q = q.swap_dims(0, 1).unsqueeze::<4>();
            let needs_window = c.window.is_some_and(|w| total > w);
            if needs_window {
                let mask = window_mask(start, seq, total, c.window.unwrap_or(total), &q);
                attention(q, repeat(keys), repeat(values), Some(mask), None, options(false))
            } else {
                attention(q, repeat(keys), repeat(values), None, None, options(true))
            }
        };
        // [1, heads, seq, dim] -> [seq, heads·dim]
        out.squeeze_dim::<3>(0).swap_dims(0, 1).reshape([seq, c.n_heads * c.head_dim])
    }
}

/// Mask (`true` = hidden) for queries at `start..start+seq` over keys `0..total`: causal and
/// limited to the last `window` positions.
fn window_mask(start: usize, seq: usize, total: usize, window: usize, like: &Tensor<4>) -> Tensor<4, Bool> {
    let heads = like.dims()[1];
    let mut hidden = Vec::with_capacity(seq * total);
    for i in 0..seq {
        let p = start + i;
        for k in 0..total {
            hidden.push(k > p || p - k >= window);
        }
    }
    Tensor::<4, Bool>::from_data(TensorData::new(hidden, [1, 1, seq, total]), &like.device())
        .expand([1, heads, seq, total])
}
