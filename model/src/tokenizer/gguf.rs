//! Building a [`Tokenizer`] from a GGUF file's `tokenizer.*` metadata.

use crate::gguf::{GgufError, GgufFile};

use super::{Tokenizer, TokenizerConfig, TokenizerError};

/// `Ok(None)` when `key` is absent, an error when it is present with the wrong type.
fn optional<T>(
    file: &GgufFile,
    key: &str,
    get: impl FnOnce(&GgufFile, &str) -> Result<T, GgufError>,
) -> Result<Option<T>, GgufError> {
    if file.get(key).is_none() {
        Ok(None)
    } else {
        get(file, key).map(Some)
    }
}

impl Tokenizer {
    /// Builds the tokenizer a GGUF file describes (`tokenizer.ggml.*` keys).
    pub fn from_gguf(file: &GgufFile) -> Result<Self, TokenizerError> {
        let _span = tracing::debug_span!("tokenizer_from_gguf").entered();
        let config = TokenizerConfig {
            model: file.get_str("tokenizer.ggml.model")?.to_string(),
            pre: optional(file, "tokenizer.ggml.pre", |f, k| {
                f.get_str(k).map(str::to_string)
            })?,
            tokens: file.get_str_array("tokenizer.ggml.tokens")?.to_vec(),
            token_types: optional(file, "tokenizer.ggml.token_type", |f, k| {
                f.get_i32_array(k).map(<[i32]>::to_vec)
            })?,
            scores: optional(file, "tokenizer.ggml.scores", |f, k| {
                f.get_f32_array(k).map(<[f32]>::to_vec)
            })?,
            merges: optional(file, "tokenizer.ggml.merges", |f, k| {
                f.get_str_array(k).map(<[String]>::to_vec)
            })?
            .unwrap_or_default(),
            bos_id: optional(file, "tokenizer.ggml.bos_token_id", GgufFile::get_u32)?,
            eos_id: optional(file, "tokenizer.ggml.eos_token_id", GgufFile::get_u32)?,
            eot_id: optional(file, "tokenizer.ggml.eot_token_id", GgufFile::get_u32)?,
            unk_id: optional(file, "tokenizer.ggml.unknown_token_id", GgufFile::get_u32)?,
            pad_id: optional(file, "tokenizer.ggml.padding_token_id", GgufFile::get_u32)?,
            add_bos: optional(file, "tokenizer.ggml.add_bos_token", GgufFile::get_bool)?,
            add_eos: optional(file, "tokenizer.ggml.add_eos_token", GgufFile::get_bool)?,
            add_space_prefix: optional(
                file,
                "tokenizer.ggml.add_space_prefix",
                GgufFile::get_bool,
            )?,
        };
        Tokenizer::new(config)
    }
}
