//! Token embeddings, kept in the file's (quantized) format and expanded row by row on lookup.

use std::fmt;
use std::sync::Arc;

use burn::tensor::{Device, Tensor};

use super::linear::from_vec;

/// A table of embedding rows that can expand one row at a time.
pub trait EmbeddingRows: Send + Sync {
    /// Number of rows (the vocabulary size).
    fn rows(&self) -> usize;
    /// Width of a row (the hidden size).
    fn width(&self) -> usize;
    /// Writes row `index` (< `rows()`) as f32 into `out` (length `width()`).
    fn row(&self, index: usize, out: &mut [f32]);
}

/// The token embedding layer.
#[derive(Clone)]
pub struct TokenEmbedding {
    table: Arc<dyn EmbeddingRows>,
    scale: Option<f32>,
}

impl fmt::Debug for TokenEmbedding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenEmbedding({}x{}, scale {:?})", self.table.rows(), self.table.width(), self.scale)
    }
}

/// Configuration of a [`TokenEmbedding`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenEmbeddingConfig {
    /// Factor applied to looked-up rows (Gemma3: `sqrt(hidden)`).
    pub scale: Option<f32>,
}

impl TokenEmbeddingConfig {
    /// Builds the layer over a row table.
    pub fn init(&self, table: Arc<dyn EmbeddingRows>) -> TokenEmbedding {
        TokenEmbedding { table, scale: self.scale }
    }
}

impl TokenEmbedding {
    /// Vocabulary size.
    pub fn vocab_size(&self) -> usize {
        self.table.rows()
    }

    /// Writes the rows of `tokens` (each `< vocab_size`, checked by the caller) into `out`
    /// (`len × hidden`), scaled where the model asks for it.
    pub fn lookup(&self, tokens: &[u32], out: &mut [f32]) {
        let width = self.table.width();
        for (chunk, &t) in out.chunks_exact_mut(width).zip(tokens) {
            self.table.row(t as usize, chunk);
            if let Some(s) = self.scale {
                chunk.iter_mut().for_each(|v| *v *= s);
            }
        }
    }

    /// Width of a row (the hidden size).
    pub fn width(&self) -> usize {
        self.table.width()
    }

    /// Looks up `tokens` (each `< vocab_size`, checked by the caller) as `[len, hidden]`.
    pub fn forward(&self, tokens: &[u32], device: &Device) -> Tensor<2> {
        let width = self.table.width();
        let mut data = vec![0.0f32; tokens.len() * width];
        self.lookup(tokens, &mut data);
        from_vec(data, [tokens.len(), width], device)
    }
}
