//! Incremental decoding that never splits a multi-byte UTF-8 character.

use super::{TokenId, Tokenizer, TokenizerError};

/// Turns a stream of token ids into text pieces as they are generated.
///
/// A token can end in the middle of a UTF-8 character (byte-level BPE and `<0xNN>` tokens do
/// this for emoji and CJK text); the incomplete bytes are held back until the character is
/// complete. Bytes that can never become valid UTF-8 are emitted as U+FFFD.
///
/// ```no_run
/// # use edgecoder_model::tokenizer::{StreamDecoder, Tokenizer};
/// # fn demo(tokenizer: &Tokenizer, ids: &[u32]) -> Result<(), edgecoder_model::tokenizer::TokenizerError> {
/// let mut decoder = StreamDecoder::new(false);
/// let mut text = String::new();
/// for &id in ids {
///     text.push_str(&decoder.push(tokenizer, id)?);
/// }
/// text.push_str(&decoder.finish());
/// # Ok(()) }
/// ```
#[derive(Debug, Default, Clone)]
pub struct StreamDecoder {
    pending: Vec<u8>,
    started: bool,
    special: bool,
}

impl StreamDecoder {
    /// A decoder; `special` shows control tokens as their text (see [`Tokenizer::token_bytes`]).
    pub fn new(special: bool) -> Self {
        StreamDecoder {
            pending: Vec::new(),
            started: false,
            special,
        }
    }

    /// Adds one token and returns the text that is complete now (possibly empty).
    pub fn push(&mut self, tokenizer: &Tokenizer, id: TokenId) -> Result<String, TokenizerError> {
        let piece = tokenizer.token_bytes(id, self.special)?;
        let piece = if !self.started && tokenizer.strips_leading_space() {
            piece.strip_prefix(b" ").unwrap_or(piece)
        } else {
            piece
        };
        self.started = true;
        self.pending.extend_from_slice(piece);
        Ok(self.take_complete())
    }

    /// Returns whatever is still held back (an incomplete character becomes U+FFFD).
    pub fn finish(&mut self) -> String {
        let rest = std::mem::take(&mut self.pending);
        String::from_utf8_lossy(&rest).into_owned()
    }

    /// Bytes held back because they end in an incomplete character.
    pub fn pending_bytes(&self) -> &[u8] {
        &self.pending
    }

    fn take_complete(&mut self) -> String {
        let mut out = String::new();
        let mut start = 0;
        loop {
            match std::str::from_utf8(&self.pending[start..]) {
                Ok(s) => {
                    out.push_str(s);
                    start = self.pending.len();
                    break;
                }
                Err(e) => {
                    let valid = start + e.valid_up_to();
                    // The prefix up to `valid` was just checked to be UTF-8.
                    out.push_str(&String::from_utf8_lossy(&self.pending[start..valid]));
                    match e.error_len() {
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            start = valid + bad;
                        }
                        None => {
                            start = valid;
                            break;
                        }
                    }
                }
            }
        }
        self.pending.drain(..start);
        out
    }
}
