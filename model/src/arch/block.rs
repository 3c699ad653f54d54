//! One transformer block: pre-norm attention and feed-forward with residual connections, plus the
//! post-norms Gemma3 adds after each sub-layer.

use burn::tensor::Tensor;

use super::attention::Attention;
use super::kv_cache::LayerKvCache;
use super::mlp::FeedForward;
use super::norm::RmsNorm;
use super::profile::{self, Op};

/// The parts of a [`Block`].
#[derive(Debug, Clone)]
pub struct BlockConfig {
    /// Norm before attention.
    pub attn_norm: RmsNorm,
    /// Self-attention.
    pub attention: Attention,
    /// Norm of the attention output before the residual add (Gemma3).
    pub post_attn_norm: Option<RmsNorm>,
    /// Norm before the feed-forward network.
    pub ffn_norm: RmsNorm,
    /// Feed-forward network.
    pub ffn: FeedForward,
    /// Norm of the feed-forward output before the residual add (Gemma3).
    pub post_ffn_norm: Option<RmsNorm>,
}

impl BlockConfig {
    /// Builds the block.
    pub fn init(self) -> Block {
        Block { parts: self }
    }
}

/// A transformer block.
#[derive(Debug, Clone)]
pub struct Block {
    parts: BlockConfig,
}

impl Block {
    /// The block's parts.
    pub fn parts(&self) -> &BlockConfig {
        &self.parts
    }

    /// Runs the block on `x` (`[seq, hidden]`, first row at position `start`).
    pub fn forward(&self, x: Tensor<2>, start: usize, cache: &mut LayerKvCache) -> Tensor<2> {
        let p = &self.parts;
        let h = p.attention.forward(p.attn_norm.forward(x.clone()), start, cache);
        let h = match &p.post_attn_norm {
            Some(n) => n.forward(h),
            None => h,
        };
        let x = profile::time(Op::Residual, || x + h);
        let h = p.ffn.forward(p.ffn_norm.forward(x.clone()));
        let h = match &p.post_ffn_norm {
            Some(n) => n.forward(h),
            None => h,
        };
        profile::time(Op::Residual, || x + h)
    }
}
