//! The decoder-only transformer: embeddings, blocks, final norm and output head.

use std::sync::Arc;

use burn::tensor::{Device, Tensor};

use super::ArchError;
use super::block::Block;
use super::config::ModelConfig;
use super::embedding::TokenEmbedding;
use super::host::HostModel;
use super::kv_cache::{KvCache, KvCacheConfig};
use super::linear::Linear;
use super::norm::RmsNorm;
use super::profile::{self, Op};
use crate::quant::Kernels;

/// Initial KV-cache capacity (positions); the cache grows geometrically past it.
const INITIAL_CACHE_CAPACITY: usize = 256;

/// The layers of a [`Transformer`], as built by the weight loader.
#[derive(Debug, Clone)]
pub struct TransformerParts {
    /// Token embeddings.
    pub embedding: TokenEmbedding,
    /// The blocks, in order.
    pub blocks: Vec<Block>,
    /// Final norm.
    pub norm: RmsNorm,
    /// Output head (`hidden → vocab`); the embedding matrix when the model ties them.
    pub output: Linear,
}

/// A decoder-only transformer ready to run.
#[derive(Debug, Clone)]
pub struct Transformer {
    config: ModelConfig,
    parts: TransformerParts,
    device: Device,
    host: Option<Arc<HostModel>>,
}

/// Which rows of logits [`Transformer::forward`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logits {
    /// Only the last position's (what generation needs).
    Last,
    /// Every position's, row after row (`seq × vocab`).
    All,
}

impl Transformer {
    /// Assembles a transformer; `device` is where activations are computed.
    pub fn new(config: ModelConfig, parts: TransformerParts, device: Device) -> Self {
        Self { config, parts, device, host: None }
    }

    /// Runs [`Transformer::forward`] on the CPU over plain buffers ([`super::host`]) instead of
    /// one Burn tensor per operation: the same weights and layers, with `kernels` splitting the
    /// attention heads as well as the matrix products. Only for CPU devices.
    pub fn with_host_path(mut self, kernels: Arc<Kernels>) -> Result<Self, ArchError> {
        let host = HostModel::new(&self.config, &self.parts, kernels, self.device.clone())?;
        self.host = Some(Arc::new(host));
        Ok(self)
    }

    /// Whether forward passes run on the host path.
    pub fn uses_host_path(&self) -> bool {
        self.host.is_some()
    }

    /// The hyperparameters.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The device activations live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// An empty KV cache sized for this model.
    pub fn new_cache(&self) -> KvCache {
        KvCacheConfig {
            n_layers: self.config.n_layers,
            n_kv_heads: self.config.n_kv_heads,
            head_dim: self.config.head_dim,
            initial_capacity: INITIAL_CACHE_CAPACITY,
        }
        .init(&self.device)
    }

    /// Runs `tokens` after the positions already in `cache` (which it extends) and returns logits.
    pub fn forward(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        logits: Logits,
    ) -> Result<Vec<f32>, ArchError> {
        if tokens.is_empty() {
            return Err(ArchError::EmptyInput);
        }
        let vocab = self.parts.embedding.vocab_size();
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= vocab) {
            return Err(ArchError::TokenOutOfRange { token: bad, vocab });
        }
        let start = cache.len();
        let needed = start + tokens.len();
        if needed > self.config.context_length {
            return Err(ArchError::ContextOverflow {
                needed,
                context_length: self.config.context_length,
            });
        }
        let _span = tracing::trace_span!("forward", start, len = tokens.len()).entered();
        if let Some(host) = &self.host {
            return host.forward(tokens, cache, logits);
        }
        let mut x =
            profile::time(Op::Embedding, || self.parts.embedding.forward(tokens, &self.device));
        for (i, block) in self.parts.blocks.iter().enumerate() {
            x = block.forward(x, start, cache.layer_mut(i));
        }
        let x = match logits {
            Logits::Last => x.narrow(0, tokens.len() - 1, 1),
            Logits::All => x,
        };
        let x = self.parts.norm.forward(x);
        let out: Tensor<2> = profile::time(Op::OutputHead, || self.parts.output.forward(x));
        out.into_data().try_into_vec::<f32>().map_err(|e| ArchError::Backend(format!("{e:?}")))
    }
}
