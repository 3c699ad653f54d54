//! Rotary position embedding (RoPE), in llama.cpp's two pairings: normal (adjacent pairs) and
//! NeoX (halves). Angles are computed like ggml does (`theta *= base^(-2/d)` in f32), so the
//! rotation matches the reference bit for bit where the hardware's `sin`/`cos` agree.

use burn::tensor::{Device, Tensor};

use super::config::RopeStyle;
use super::linear::from_vec;
use super::profile::{self, Op};

/// Configuration of a [`RotaryEmbedding`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RotaryEmbeddingConfig {
    /// Rotated width (the head dimension).
    pub head_dim: usize,
    /// Frequency base.
    pub base: f32,
    /// Dimension pairing.
    pub style: RopeStyle,
}

impl RotaryEmbeddingConfig {
    /// Builds the layer.
    pub fn init(&self) -> RotaryEmbedding {
        RotaryEmbedding { config: *self }
    }
}

/// Applies rotary position embedding to query or key heads.
#[derive(Debug, Clone)]
pub struct RotaryEmbedding {
    config: RotaryEmbeddingConfig,
}

impl RotaryEmbedding {
    /// cos and sin tables `[positions, head_dim/2]` for positions `start..start+len`.
    fn tables(&self, start: usize, len: usize, device: &Device) -> (Tensor<2>, Tensor<2>) {
        let half = self.config.head_dim / 2;
        let theta_scale = self.config.base.powf(-2.0 / self.config.head_dim as f32);
        let mut cos = Vec::with_capacity(len * half);
        let mut sin = Vec::with_capacity(len * half);
        for pos in start..start + len {
            let mut theta = pos as f32;
            for _ in 0..half {
                cos.push(theta.cos());
                sin.push(theta.sin());
                theta *= theta_scale;
            }
        }
        (from_vec(cos, [len, half], device), from_vec(sin, [len, half], device))
    }

    /// The configuration.
    pub fn config(&self) -> &RotaryEmbeddingConfig {
        &self.config
    }

    /// Rotates `x` of shape `[seq, heads, head_dim]` whose first row is at position `start`.
    pub fn forward(&self, x: Tensor<3>, start: usize) -> Tensor<3> {
        profile::time(Op::Rope, || self.rotate(x, start))
    }

    fn rotate(&self, x: Tensor<3>, start: usize) -> Tensor<3> {
        let [seq, heads, dim] = x.dims();
        let half = dim / 2;
        let (cos, sin) = self.tables(start, seq, &x.device());
        match self.config.style {
            RopeStyle::Neox => {
                let cos = cos.reshape([seq, 1, half]);
                let sin = sin.reshape([seq, 1, half]);
                let x1 = x.clone().narrow(2, 0, half);
                let x2 = x.narrow(2, half, half);
                let r1 = x1.clone() * cos.clone() - x2.clone() * sin.clone();
                let r2 = x2 * cos + x1 * sin;
                Tensor::cat(vec![r1, r2], 2)
            }
            RopeStyle::Normal => {
                let cos = cos.reshape([seq, 1, half, 1]);
                let sin = sin.reshape([seq, 1, half, 1]);
                let pairs = x.reshape([seq, heads, half, 2]);
                let even = pairs.clone().narrow(3, 0, 1);
                let odd = pairs.narrow(3, 1, 1);
                let r_even = even.clone() * cos.clone() - odd.clone() * sin.clone();
                let r_odd = odd * cos + even * sin;
                Tensor::cat(vec![r_even, r_odd], 3).reshape([seq, heads, dim])
            }
        }
    }
}
