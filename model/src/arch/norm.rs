//! RMSNorm: `x / sqrt(mean(x²) + eps) * w` over the last dimension.
//!
//! Gemma's `(1 + w)` form is handled at load time: llama.cpp's converter already stores `1 + w` in
//! Gemma GGUF files, and [`RmsNormConfig::unit_offset`] adds the one for checkpoints that do not.

use burn::tensor::Tensor;

use super::profile::{self, Op};

/// Configuration of an [`RmsNorm`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsNormConfig {
    /// Size of the normalized (last) dimension.
    pub dim: usize,
    /// Added to the mean square before the square root.
    pub eps: f32,
    /// Add one to the stored weight (Gemma checkpoints that keep `w` rather than `1 + w`).
    pub unit_offset: bool,
}

impl RmsNormConfig {
    /// Builds the layer around its weight (length `dim`).
    pub fn init(&self, weight: Tensor<1>) -> RmsNorm {
        let weight = if self.unit_offset { weight.add_scalar(1.0) } else { weight };
        RmsNorm { weight, eps: self.eps }
    }
}

/// Root-mean-square layer normalization.
#[derive(Debug, Clone)]
pub struct RmsNorm {
    weight: Tensor<1>,
    eps: f32,
}

impl RmsNorm {
    /// The weight (including Gemma's unit offset where the config asked for it) and epsilon.
    pub fn weight(&self) -> (&Tensor<1>, f32) {
        (&self.weight, self.eps)
    }

    /// Normalizes the last dimension of `x`.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        profile::time(Op::Norm, || {
            let mean_square = x.clone().square().mean_dim(D - 1);
            let inv = mean_square.add_scalar(self.eps).sqrt().recip();
            x * inv * self.weight.clone().unsqueeze::<D>()
        })
    }
}
