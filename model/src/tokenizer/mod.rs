//! Tokenizer built from a GGUF file's metadata, matching llama.cpp token for token.
//!
//! Two vocabulary kinds are supported, as `tokenizer.ggml.model` names them:
//! - `"gpt2"`: byte-level BPE (Qwen2, SmolLM2, Llama 3, ...). Text is split into words by the
//!   pre-tokenizer that `tokenizer.ggml.pre` names ([`PreTokenizer`]), every byte of a word is
//!   mapped to a printable character, and adjacent symbols merge by `tokenizer.ggml.merges` rank.
//! - `"llama"`: SentencePiece-style BPE (Gemma 3, Llama 2): spaces become `▁`, adjacent symbols
//!   merge by `tokenizer.ggml.scores`, and what is left falls back to `<0xNN>` byte tokens.
//!
//! Special tokens (control, user-defined and unknown tokens, e.g. `<|im_start|>`) are matched
//! as whole tokens in the text before the vocabulary tokenizer runs, longest first, like
//! llama.cpp: control tokens only when the caller asks for it (`parse_special`), user-defined
//! tokens always.
//!
//! Decoding turns ids back into bytes; [`StreamDecoder`] does it one token at a time without
//! ever splitting a multi-byte UTF-8 character.
//!
//! ```no_run
//! use edgecoder_model::gguf::GgufFile;
//! use edgecoder_model::tokenizer::Tokenizer;
//!
//! let file = GgufFile::open("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")?;
//! let tokenizer = Tokenizer::from_gguf(&file)?;
//! let ids = tokenizer.encode("<|im_start|>user\nhi<|im_end|>", false, true)?;
//! assert_eq!(tokenizer.decode(&ids, true)?, "<|im_start|>user\nhi<|im_end|>");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bpe;
mod gguf;
mod pretok;
mod special;
mod spm;
mod stream;
mod unicode;

use std::collections::{HashMap, HashSet};

pub use pretok::PreTokenizer;
pub use stream::StreamDecoder;

use crate::gguf::GgufError;

/// A token id: an index into the vocabulary.
pub type TokenId = u32;

/// Why a tokenizer could not be built, or an input could not be tokenized or decoded.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// A GGUF metadata key is missing or has the wrong type.
    #[error("tokenizer metadata: {0}")]
    Gguf(#[from] GgufError),
    /// `tokenizer.ggml.model` names a vocabulary kind this tokenizer does not implement.
    #[error(
        "unsupported tokenizer model {0:?} (supported: \"gpt2\" byte-level BPE, \"llama\" SentencePiece BPE)"
    )]
    UnsupportedModel(String),
    /// `tokenizer.ggml.pre` names split rules this tokenizer does not implement.
    #[error(
        "unsupported pre-tokenizer {0:?} (supported: qwen2, smollm, gpt-2, llama-bpe and their aliases)"
    )]
    UnsupportedPreTokenizer(String),
    /// The vocabulary has no tokens.
    #[error("the vocabulary is empty")]
    EmptyVocab,
    /// A per-token array does not have one entry per token.
    #[error("{what} has {found} entries but the vocabulary has {expected} tokens")]
    LengthMismatch {
        /// Which array.
        what: &'static str,
        /// The vocabulary size.
        expected: usize,
        /// The array's length.
        found: usize,
    },
    /// A SentencePiece vocabulary has no `<0xNN>` token for a byte that needs the fallback.
    #[error(
        "the text needs byte fallback for 0x{0:02X}, but the vocabulary has no <0x{0:02X}> token"
    )]
    NoByteFallback(u8),
    /// A merge rule is not two space-separated tokens.
    #[error("merge rule {index} ({rule:?}) is not \"left right\"")]
    BadMerge {
        /// Position in `tokenizer.ggml.merges`.
        index: usize,
        /// The rule's text.
        rule: String,
    },
    /// A token id outside the vocabulary was given to decode.
    #[error("token id {id} is outside the vocabulary (size {vocab_size})")]
    InvalidTokenId {
        /// The id.
        id: TokenId,
        /// The vocabulary size.
        vocab_size: usize,
    },
}

/// What a token is, from `tokenizer.ggml.token_type` (llama.cpp's numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// 0: no type given.
    Undefined,
    /// 1: an ordinary vocabulary entry.
    Normal,
    /// 2: the unknown token.
    Unknown,
    /// 3: a control token (`<|im_start|>`, `<bos>`): matched in text only with `parse_special`,
    /// decoded only when special tokens are shown.
    Control,
    /// 4: a user-defined token: always matched whole in text, always decoded as its text.
    UserDefined,
    /// 5: an unused slot.
    Unused,
    /// 6: a byte token `<0xNN>`.
    Byte,
}

impl TokenType {
    /// The type for a `tokenizer.ggml.token_type` value (unknown values are `Undefined`).
    pub fn from_gguf(value: i32) -> Self {
        match value {
            1 => TokenType::Normal,
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            _ => TokenType::Undefined,
        }
    }

    /// Whether the token is matched as a whole in text before tokenization.
    fn is_special(self) -> bool {
        matches!(
            self,
            TokenType::Control | TokenType::UserDefined | TokenType::Unknown
        )
    }
}

/// The vocabulary kind, as `tokenizer.ggml.model` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VocabKind {
    /// `"gpt2"`: byte-level BPE with merges and a pre-tokenizer.
    BytePairEncoding(PreTokenizer),
    /// `"llama"`: SentencePiece-style BPE with scores and byte fallback.
    SentencePiece,
}

/// Everything a [`Tokenizer`] is built from, as plain values (what the GGUF metadata holds).
#[derive(Clone, Debug, Default)]
pub struct TokenizerConfig {
    /// `tokenizer.ggml.model`: `"gpt2"` or `"llama"`.
    pub model: String,
    /// `tokenizer.ggml.pre`: the pre-tokenizer name (byte-level BPE only).
    pub pre: Option<String>,
    /// `tokenizer.ggml.tokens`: the token texts, indexed by id.
    pub tokens: Vec<String>,
    /// `tokenizer.ggml.token_type`: one [`TokenType`] value per token (all normal if absent).
    pub token_types: Option<Vec<i32>>,
    /// `tokenizer.ggml.scores`: one score per token (SentencePiece merge priority).
    pub scores: Option<Vec<f32>>,
    /// `tokenizer.ggml.merges`: `"left right"` rules, highest priority first (byte-level BPE).
    pub merges: Vec<String>,
    /// `tokenizer.ggml.bos_token_id`.
    pub bos_id: Option<TokenId>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos_id: Option<TokenId>,
    /// `tokenizer.ggml.eot_token_id`.
    pub eot_id: Option<TokenId>,
    /// `tokenizer.ggml.unknown_token_id`.
    pub unk_id: Option<TokenId>,
    /// `tokenizer.ggml.padding_token_id`.
    pub pad_id: Option<TokenId>,
    /// `tokenizer.ggml.add_bos_token` (default: true for SentencePiece, false for BPE).
    pub add_bos: Option<bool>,
    /// `tokenizer.ggml.add_eos_token` (default: false).
    pub add_eos: Option<bool>,
    /// `tokenizer.ggml.add_space_prefix` (default: true for SentencePiece, false for BPE).
    pub add_space_prefix: Option<bool>,
}

/// Token texts that end a turn or a text, beyond the eos/eot ids. llama.cpp recognises them by
/// text and treats them as control tokens whatever type the file gives them.
const END_OF_GENERATION_TEXTS: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<\u{ff5c}end\u{2581}of\u{2581}sentence\u{ff5c}>",
    "[e~[",
];

/// Fill-in-the-middle token texts by role (prefix, suffix, middle, pad, repo, file separator),
/// which llama.cpp also treats as control tokens; the first text found in each group counts.
const FIM_TEXTS: [&[&str]; 6] = [
    &["<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\u{ff5c}fim\u{2581}begin\u{ff5c}>", "<PRE>", "\u{2581}<PRE>", "<|code_prefix|>", "<|prefix|>"],
    &["<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\u{ff5c}fim\u{2581}hole\u{ff5c}>", "<SUF>", "\u{2581}<SUF>", "<|code_suffix|>", "<|suffix|>"],
    &["<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\u{ff5c}fim\u{2581}end\u{ff5c}>", "<MID>", "\u{2581}<MID>", "<|code_middle|>", "<|middle|>"],
    &["<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"],
    &["<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"],
    &["<|file_sep|>"],
];

/// Promotes the end-of-generation and fill-in-the-middle tokens to control tokens, as
/// llama.cpp does when it loads a vocabulary, and returns the end-of-generation ids: those
/// tokens, the FIM pad/repo/separator tokens, and the given eos/eot ids.
fn mark_control_tokens(
    token_to_id: &HashMap<String, TokenId>,
    types: &mut [TokenType],
    eos_eot: [Option<TokenId>; 2],
) -> HashSet<TokenId> {
    let mut end_of_generation: HashSet<TokenId> = eos_eot.into_iter().flatten().collect();
    // A model with these markers has an ordinary `</s>` (Gemma 4, PLaMo).
    let plain_s = token_to_id.contains_key("<|tool_response>") || token_to_id.contains_key("<|plamo:eos|>");
    for text in END_OF_GENERATION_TEXTS {
        if *text == "</s>" && plain_s {
            continue;
        }
        if let Some(&id) = token_to_id.get(*text) {
            end_of_generation.insert(id);
            promote_to_control(&mut types[id as usize]);
        }
    }
    for (role, group) in FIM_TEXTS.iter().enumerate() {
        if let Some(&id) = group.iter().find_map(|text| token_to_id.get(*text)) {
            promote_to_control(&mut types[id as usize]);
            if role >= 3 {
                end_of_generation.insert(id);
            }
        }
    }
    end_of_generation
}

/// Control behaviour for a token that llama.cpp flags as control; unknown tokens already match
/// the same way and keep their type.
fn promote_to_control(ty: &mut TokenType) {
    if *ty != TokenType::Unknown {
        *ty = TokenType::Control;
    }
}

/// The kind-specific part of a tokenizer.
enum Engine {
    Bpe {
        pre: PreTokenizer,
        merges: bpe::MergeTable,
        /// The token of each byte's GPT-2 character (some vocabularies lack a few).
        byte_tokens: [Option<TokenId>; 256],
        /// Look a whole word up in the vocabulary before merging (Llama 3 family).
        ignore_merges: bool,
    },
    Spm {
        scores: Vec<f32>,
        byte_tokens: Box<[Option<TokenId>; 256]>,
        add_space_prefix: bool,
    },
}

/// A tokenizer: text to token ids and back, exactly as llama.cpp does it for the same file.
pub struct Tokenizer {
    engine: Engine,
    tokens: Vec<String>,
    types: Vec<TokenType>,
    token_to_id: HashMap<String, TokenId>,
    /// The bytes each token decodes to (special tokens: their text).
    pieces: Vec<Vec<u8>>,
    specials: special::SpecialTokens,
    bos_id: Option<TokenId>,
    eos_id: Option<TokenId>,
    eot_id: Option<TokenId>,
    unk_id: Option<TokenId>,
    pad_id: Option<TokenId>,
    add_bos: bool,
    add_eos: bool,
    end_of_generation: HashSet<TokenId>,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("kind", &self.kind())
            .field("vocab_size", &self.tokens.len())
            .field("bos_id", &self.bos_id)
            .field("eos_id", &self.eos_id)
            .finish_non_exhaustive()
    }
}

impl Tokenizer {
    /// Builds a tokenizer from plain vocabulary data (see [`Tokenizer::from_gguf`] for a file).
    pub fn new(config: TokenizerConfig) -> Result<Self, TokenizerError> {
        let TokenizerConfig {
            model,
            pre,
            mut tokens,
            token_types,
            scores,
            merges,
            bos_id,
            eos_id,
            eot_id,
            unk_id,
            pad_id,
            add_bos,
            add_eos,
            add_space_prefix,
        } = config;
        let n = tokens.len();
        if n == 0 {
            return Err(TokenizerError::EmptyVocab);
        }
        let mut types: Vec<TokenType> = match token_types {
            Some(t) if t.len() < n => {
                return Err(TokenizerError::LengthMismatch {
                    what: "tokenizer.ggml.token_type",
                    expected: n,
                    found: t.len(),
                });
            }
            Some(t) => t[..n].iter().map(|&v| TokenType::from_gguf(v)).collect(),
            None => vec![TokenType::Normal; n],
        };
        if let Some(s) = &scores
            && s.len() < n
        {
            return Err(TokenizerError::LengthMismatch {
                what: "tokenizer.ggml.scores",
                expected: n,
                found: s.len(),
            });
        }
        for (i, t) in tokens.iter_mut().enumerate() {
            if t.is_empty() {
                *t = format!("[EMPTY_{i}]");
            }
        }
        let mut token_to_id = HashMap::with_capacity(n);
        for (i, t) in tokens.iter().enumerate() {
            // The last entry wins on duplicate texts, as in llama.cpp.
            token_to_id.insert(t.clone(), i as TokenId);
        }

        let is_spm;
        let engine = match model.as_str() {
            "gpt2" => {
                is_spm = false;
                let pre_name = pre.unwrap_or_default();
                let pre_tokenizer = PreTokenizer::from_gguf_name(&pre_name)
                    .ok_or_else(|| TokenizerError::UnsupportedPreTokenizer(pre_name.clone()))?;
                let table = unicode::byte_to_char_table();
                let mut byte_tokens = [None; 256];
                for (b, slot) in byte_tokens.iter_mut().enumerate() {
                    *slot = token_to_id.get(table[b].encode_utf8(&mut [0; 4]) as &str).copied();
                }
                let merges = build_merges(&merges, &token_to_id)?;
                let ignore_merges = matches!(
                    pre_name.as_str(),
                    "llama3"
                        | "llama-v3"
                        | "llama-bpe"
                        | "falcon3"
                        | "falcon-h1"
                        | "pixtral"
                        | "midm-2.0"
                        | "lfm2"
                );
                Engine::Bpe {
                    pre: pre_tokenizer,
                    merges,
                    byte_tokens,
                    ignore_merges,
                }
            }
            "llama" => {
                is_spm = true;
                let mut byte_tokens = Box::new([None; 256]);
                for (b, slot) in byte_tokens.iter_mut().enumerate() {
                    *slot = token_to_id
                        .get(&format!("<0x{b:02X}>"))
                        .copied()
                        .or_else(|| {
                            (b < 0x80)
                                .then(|| token_to_id.get(&(b as u8 as char).to_string()).copied())
                                .flatten()
                        });
                }
                Engine::Spm {
                    scores: scores
                        .map(|mut s| {
                            s.truncate(n);
                            s
                        })
                        .unwrap_or_else(|| vec![0.0; n]),
                    byte_tokens,
                    add_space_prefix: add_space_prefix.unwrap_or(true),
                }
            }
            other => return Err(TokenizerError::UnsupportedModel(other.to_string())),
        };

        let in_range = |key: &str, id: Option<TokenId>| match id {
            Some(id) if (id as usize) < n => Some(id),
            Some(id) => {
                tracing::warn!(
                    key,
                    id,
                    vocab_size = n,
                    "special token id outside the vocabulary; ignored"
                );
                None
            }
            None => None,
        };
        let (bos_default, eos_default, unk_default) = if is_spm {
            (Some(1), Some(2), Some(0))
        } else {
            (None, None, None)
        };
        let bos_id = in_range("bos", bos_id.or(bos_default));
        let eos_id = in_range("eos", eos_id.or(eos_default));
        let eot_id = in_range("eot", eot_id);
        let unk_id = in_range("unk", unk_id.or(unk_default));
        let pad_id = in_range("pad", pad_id);

        let end_of_generation = mark_control_tokens(&token_to_id, &mut types, [eos_id, eot_id]);

        let pieces = build_pieces(&tokens, &types, is_spm);
        let specials = special::SpecialTokens::new(&tokens, &types);
        Ok(Tokenizer {
            engine,
            tokens,
            types,
            token_to_id,
            pieces,
            specials,
            bos_id,
            eos_id,
            eot_id,
            unk_id,
            pad_id,
            add_bos: add_bos.unwrap_or(is_spm),
            add_eos: add_eos.unwrap_or(false),
            end_of_generation,
        })
    }

    /// The vocabulary kind.
    pub fn kind(&self) -> VocabKind {
        match &self.engine {
            Engine::Bpe { pre, .. } => VocabKind::BytePairEncoding(*pre),
            Engine::Spm { .. } => VocabKind::SentencePiece,
        }
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// The beginning-of-sequence token, if the vocabulary has one.
    pub fn bos_id(&self) -> Option<TokenId> {
        self.bos_id
    }

    /// The end-of-sequence token, if the vocabulary has one.
    pub fn eos_id(&self) -> Option<TokenId> {
        self.eos_id
    }

    /// The end-of-turn token, if the metadata names one.
    pub fn eot_id(&self) -> Option<TokenId> {
        self.eot_id
    }

    /// The unknown token, if any.
    pub fn unk_id(&self) -> Option<TokenId> {
        self.unk_id
    }

    /// The padding token, if any.
    pub fn pad_id(&self) -> Option<TokenId> {
        self.pad_id
    }

    /// Whether [`Tokenizer::encode`] with `add_special` puts the BOS token first.
    pub fn adds_bos(&self) -> bool {
        self.add_bos
    }

    /// Whether generation should stop at `id`: eos, eot, and the end-of-turn tokens llama.cpp
    /// recognises by text (`<|im_end|>`, `<|endoftext|>`, `<end_of_turn>`, ...).
    pub fn is_end_of_generation(&self, id: TokenId) -> bool {
        self.end_of_generation.contains(&id)
    }

    /// The text of token `id` as stored in the vocabulary (GPT-2 byte characters, `▁`, ...).
    pub fn token_text(&self, id: TokenId) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The type of token `id`.
    pub fn token_type(&self, id: TokenId) -> Option<TokenType> {
        self.types.get(id as usize).copied()
    }

    /// The id of the token whose vocabulary text is exactly `text` (e.g. `"<|im_end|>"`).
    pub fn token_id(&self, text: &str) -> Option<TokenId> {
        self.token_to_id.get(text).copied()
    }

    /// Tokenizes `text`.
    ///
    /// `add_special` adds BOS/EOS where the model asks for them; `parse_special` matches
    /// control tokens written in the text (`<|im_start|>`) as single tokens instead of
    /// tokenizing their characters. User-defined tokens are always matched.
    pub fn encode(
        &self,
        text: &str,
        add_special: bool,
        parse_special: bool,
    ) -> Result<Vec<TokenId>, TokenizerError> {
        let _span = tracing::trace_span!("tokenize", bytes = text.len()).entered();
        let mut out = Vec::with_capacity(text.len() / 3 + 2);
        if add_special
            && self.add_bos
            && let Some(bos) = self.bos_id
        {
            out.push(bos);
        }
        let fragments = self.specials.partition(text, parse_special);
        match &self.engine {
            Engine::Bpe {
                pre,
                merges,
                byte_tokens,
                ignore_merges,
            } => {
                let mut words = Vec::new();
                let mut initial = Vec::new();
                let mut scratch = bpe::Scratch::default();
                let mut encoded = String::new();
                let table = unicode::byte_to_char_table();
                let mut dropped = 0usize;
                for fragment in &fragments {
                    let range = match fragment {
                        special::Fragment::Token(id) => {
                            out.push(*id);
                            continue;
                        }
                        special::Fragment::Text(range) => range.clone(),
                    };
                    let chunk = &text[range];
                    pre.split(chunk, &mut words);
                    for word in &words {
                        let bytes = chunk[word.clone()].as_bytes();
                        if *ignore_merges {
                            encoded.clear();
                            encoded.extend(bytes.iter().map(|&b| table[b as usize]));
                            if let Some(&id) = self.token_to_id.get(&encoded) {
                                out.push(id);
                                continue;
                            }
                        }
                        // A byte without a token never merges and yields no token: llama.cpp
                        // drops it, so the word is merged in the runs between such bytes.
                        initial.clear();
                        for &b in bytes {
                            match byte_tokens[b as usize] {
                                Some(id) => initial.push(id),
                                None => {
                                    dropped += 1;
                                    bpe::merge_word(&initial, merges, &mut scratch, &mut out);
                                    initial.clear();
                                }
                            }
                        }
                        bpe::merge_word(&initial, merges, &mut scratch, &mut out);
                    }
                }
                if dropped > 0 {
                    tracing::warn!(dropped, "the vocabulary has no token for some bytes of the text; they were left out");
                }
            }
            Engine::Spm {
                scores,
                byte_tokens,
                add_space_prefix,
            } => {
                let mut previous_was_special = true;
                for fragment in &fragments {
                    match fragment {
                        special::Fragment::Token(id) => {
                            out.push(*id);
                            previous_was_special = true;
                        }
                        special::Fragment::Text(range) => {
                            let mut escaped = String::with_capacity(range.len() + 3);
                            if *add_space_prefix && previous_was_special {
                                escaped.push('▁');
                            }
                            for c in text[range.clone()].chars() {
                                escaped.push(if c == ' ' { '▁' } else { c });
                            }
                            spm::encode(
                                &escaped,
                                &self.token_to_id,
                                scores,
                                byte_tokens,
                                &mut out,
                            )?;
                            previous_was_special = false;
                        }
                    }
                }
            }
        }
        if add_special
            && self.add_eos
            && let Some(eos) = self.eos_id
        {
            out.push(eos);
        }
        Ok(out)
    }

    /// The bytes token `id` stands for. Control and unknown tokens give their text when
    /// `special` is true and nothing otherwise; unused and untyped tokens give nothing.
    pub fn token_bytes(&self, id: TokenId, special: bool) -> Result<&[u8], TokenizerError> {
        let i = id as usize;
        let ty = *self.types.get(i).ok_or(TokenizerError::InvalidTokenId {
            id,
            vocab_size: self.tokens.len(),
        })?;
        Ok(match ty {
            TokenType::Control | TokenType::Unknown if !special => &[],
            TokenType::Unused | TokenType::Undefined => &[],
            _ => self.pieces[i].as_slice(),
        })
    }

    /// Decodes `ids` into bytes (see [`Tokenizer::token_bytes`] for `special`). For
    /// SentencePiece vocabularies that add a leading space, the first space is removed again.
    pub fn decode_bytes(&self, ids: &[TokenId], special: bool) -> Result<Vec<u8>, TokenizerError> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        let mut strip = self.strips_leading_space();
        for &id in ids {
            let piece = self.token_bytes(id, special)?;
            let piece = if strip {
                piece.strip_prefix(b" ").unwrap_or(piece)
            } else {
                piece
            };
            strip = false;
            out.extend_from_slice(piece);
        }
        Ok(out)
    }

    /// Decodes `ids` into text; byte sequences that are not valid UTF-8 become U+FFFD.
    pub fn decode(&self, ids: &[TokenId], special: bool) -> Result<String, TokenizerError> {
        let bytes = self.decode_bytes(ids, special)?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// Whether decoding drops the space that encoding put in front of the text.
    fn strips_leading_space(&self) -> bool {
        matches!(
            self.engine,
            Engine::Spm {
                add_space_prefix: true,
                ..
            }
        )
    }
}

/// Parses the merge rules into a table of token-id pairs. A rule whose parts or result are not
/// tokens can never fire in llama.cpp either (its result would not be a token), so it is skipped.
fn build_merges(
    rules: &[String],
    token_to_id: &HashMap<String, TokenId>,
) -> Result<bpe::MergeTable, TokenizerError> {
    let mut table = bpe::MergeTable::with_capacity(rules.len());
    for (index, rule) in rules.iter().enumerate() {
        // The separator is the first space after the first byte (a rule may merge a space).
        let split = rule.bytes().skip(1).position(|b| b == b' ').map(|p| p + 1);
        let Some(split) = split else {
            return Err(TokenizerError::BadMerge {
                index,
                rule: rule.clone(),
            });
        };
        let (left, right) = (&rule[..split], &rule[split + 1..]);
        let (Some(&l), Some(&r)) = (token_to_id.get(left), token_to_id.get(right)) else {
            continue;
        };
        let Some(&merged) = token_to_id.get(&format!("{left}{right}")) else {
            continue;
        };
        table.entry((l, r)).or_insert((index as u32, merged));
    }
    Ok(table)
}

/// The bytes every token decodes to.
fn build_pieces(tokens: &[String], types: &[TokenType], is_spm: bool) -> Vec<Vec<u8>> {
    let char_to_byte: HashMap<char, u8> = unicode::byte_to_char_table()
        .iter()
        .enumerate()
        .map(|(b, &c)| (c, b as u8))
        .collect();
    tokens
        .iter()
        .zip(types)
        .map(|(text, ty)| match ty {
            TokenType::Byte => {
                parse_byte_token(text).map_or_else(|| text.as_bytes().to_vec(), |b| vec![b])
            }
            TokenType::Normal if is_spm => text.replace('▁', " ").into_bytes(),
            TokenType::Normal => {
                let mut bytes = Vec::with_capacity(text.len());
                for c in text.chars() {
                    match char_to_byte.get(&c) {
                        Some(&b) => bytes.push(b),
                        None => bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                    }
                }
                bytes
            }
            _ => text.as_bytes().to_vec(),
        })
        .collect()
}

/// The byte of a `<0xNN>` token.
fn parse_byte_token(text: &str) -> Option<u8> {
    let hex = text.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}
