//! Sentence embeddings with an encoder model (all-MiniLM-L6-v2): WordPiece tokenization, a BERT
//! encoder run by Burn, mean pooling over the tokens and L2 normalisation — the pipeline the
//! model's sentence-transformers configuration prescribes. Retrieval uses it for vector search.
//!
//! A model directory holds `model.safetensors`, `vocab.txt` and `config.json` (what
//! `edgecoder model pull all-minilm-l6-v2` installs).
//!
//! ```no_run
//! use edgecoder_model::embed::Embedder;
//! use edgecoder_model::engine::Backend;
//!
//! let embedder = Embedder::load("/path/to/all-minilm-l6-v2".as_ref(), Backend::Flex)?;
//! let v = embedder.embed(&["split a list into chunks", "def chunked(it, n): ..."])?;
//! let cosine: f32 = v[0].iter().zip(&v[1]).map(|(a, b)| a * b).sum();
//! println!("{} dims, cosine {cosine:.3}", embedder.dims());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bert;
mod wordpiece;

use std::path::{Path, PathBuf};

pub use bert::{BertConfig, BertEncoder};
pub use wordpiece::WordPiece;

use crate::engine::Backend;

/// Longest input in tokens, `[CLS]` and `[SEP]` included (all-MiniLM-L6-v2's
/// `max_seq_length`); longer texts are truncated.
pub const MAX_TOKENS: usize = 256;

/// Sequences encoded together in one batch (sorted by length first, so padding stays small).
const BATCH: usize = 16;

/// Errors of loading or running an embedding model.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    /// A model file could not be read.
    #[error("cannot read {path}: {source}; install the model with `edgecoder model pull all-minilm-l6-v2`")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// `config.json` is not a BERT configuration this encoder runs.
    #[error("bad config.json: {0}")]
    BadConfig(String),
    /// `vocab.txt` lacks what the tokenizer needs.
    #[error("bad vocab.txt: {0}")]
    BadVocab(String),
    /// A weight is missing or has the wrong type or shape.
    #[error("bad weight {name}: {reason}")]
    BadWeights {
        /// Tensor (or file) name.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// The tensor backend is not usable.
    #[error("backend: {0}")]
    Backend(String),
}

/// An embedding model ready to embed text.
#[derive(Debug, Clone)]
pub struct Embedder {
    tokenizer: WordPiece,
    encoder: BertEncoder,
    max_tokens: usize,
}

impl Embedder {
    /// Loads `model.safetensors`, `vocab.txt` and `config.json` from `dir` onto `backend`.
    pub fn load(dir: &Path, backend: Backend) -> Result<Self, EmbedError> {
        let _span = tracing::info_span!("embedder_load", dir = %dir.display()).entered();
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| EmbedError::Io { path, source })
        };
        let config = BertConfig::from_json(&read("config.json")?)?;
        let tokenizer = WordPiece::from_vocab(&read("vocab.txt")?)?;
        if tokenizer.vocab_size() != config.vocab_size {
            return Err(EmbedError::BadVocab(format!(
                "{} tokens, but config.json says vocab_size {}",
                tokenizer.vocab_size(),
                config.vocab_size
            )));
        }
        let device = backend.device().map_err(|e| EmbedError::Backend(e.to_string()))?;
        let max_tokens = MAX_TOKENS.min(config.max_position_embeddings);
        let encoder = BertEncoder::load(&dir.join("model.safetensors"), config, device)?;
        Ok(Embedder { tokenizer, encoder, max_tokens })
    }

    /// Width of an embedding.
    pub fn dims(&self) -> usize {
        self.encoder.config().hidden_size
    }

    /// Longest input in tokens; longer texts are truncated.
    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// The token ids the encoder sees for `text` (`[CLS] … [SEP]`, truncated).
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        self.tokenizer.encode(text, self.max_tokens)
    }

    /// Embeds each text: unit-length vectors of [`Embedder::dims`] floats, in input order, so
    /// that the dot product of two is their cosine similarity.
    pub fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let _span = tracing::debug_span!("embed", texts = texts.len()).entered();
        let ids: Vec<Vec<u32>> = texts.iter().map(|t| self.tokenize(t.as_ref())).collect();
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| ids[i].len());
        let mut out = vec![Vec::new(); ids.len()];
        for group in order.chunks(BATCH) {
            let batch: Vec<Vec<u32>> = group.iter().map(|&i| ids[i].clone()).collect();
            for (&i, mut v) in group.iter().zip(self.encoder.mean_pooled(&batch)) {
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
                v.iter_mut().for_each(|x| *x /= norm);
                out[i] = v;
            }
        }
        Ok(out)
    }
}
