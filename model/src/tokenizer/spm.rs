//! SentencePiece-style BPE (`tokenizer.ggml.model = "llama"`): merge the adjacent pair whose
//! joined text is the vocabulary entry with the highest score, then fall back to `<0xNN>` byte
//! tokens for whatever is left that is not a token.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

use super::{TokenId, TokenizerError};

/// One candidate merge.
struct Bigram {
    score: f32,
    left: usize,
    right: usize,
    len: usize,
}

impl PartialEq for Bigram {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Bigram {}
impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Bigram {
    /// Highest score first; on equal scores, the leftmost pair.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.left.cmp(&self.left))
    }
}

/// A symbol: a byte range of the text, empty once merged into its left neighbour.
#[derive(Clone, Copy)]
struct Symbol {
    start: usize,
    len: usize,
    prev: usize,
    next: usize,
}

const NONE: usize = usize::MAX;

/// Tokenizes `text` (spaces already replaced by `▁`) and appends the ids to `out`.
pub(crate) fn encode(
    text: &str,
    token_to_id: &HashMap<String, TokenId>,
    scores: &[f32],
    byte_tokens: &[Option<TokenId>; 256],
    out: &mut Vec<TokenId>,
) -> Result<(), TokenizerError> {
    let mut symbols: Vec<Symbol> = Vec::with_capacity(text.len());
    for (start, c) in text.char_indices() {
        let i = symbols.len();
        symbols.push(Symbol {
            start,
            len: c.len_utf8(),
            prev: if i == 0 { NONE } else { i - 1 },
            next: i + 1,
        });
    }
    if let Some(last) = symbols.last_mut() {
        last.next = NONE;
    }
    let mut heap = BinaryHeap::new();
    let try_add = |heap: &mut BinaryHeap<Bigram>, symbols: &[Symbol], left: usize, right: usize| {
        if left == NONE || right == NONE {
            return;
        }
        let (l, r) = (symbols[left], symbols[right]);
        let joined = &text[l.start..l.start + l.len + r.len];
        if let Some(&id) = token_to_id.get(joined) {
            let score = scores.get(id as usize).copied().unwrap_or(0.0);
            heap.push(Bigram {
                score,
                left,
                right,
                len: joined.len(),
            });
        }
    };
    for i in 1..symbols.len() {
        try_add(&mut heap, &symbols, i - 1, i);
    }
    while let Some(b) = heap.pop() {
        let (l, r) = (symbols[b.left], symbols[b.right]);
        if l.len == 0 || r.len == 0 || l.len + r.len != b.len {
            continue;
        }
        symbols[b.left].len += r.len;
        symbols[b.right].len = 0;
        symbols[b.left].next = r.next;
        if r.next != NONE {
            symbols[r.next].prev = b.left;
        }
        let (prev, next) = (symbols[b.left].prev, symbols[b.left].next);
        try_add(&mut heap, &symbols, prev, b.left);
        try_add(&mut heap, &symbols, b.left, next);
    }
    let mut i = if symbols.is_empty() { NONE } else { 0 };
    while i != NONE {
        let s = symbols[i];
        let piece = &text[s.start..s.start + s.len];
        if let Some(&id) = token_to_id.get(piece) {
            out.push(id);
        } else {
            for &byte in piece.as_bytes() {
                out.push(byte_tokens[byte as usize].ok_or(TokenizerError::NoByteFallback(byte))?);
            }
        }
        i = s.next;
    }
    Ok(())
}
