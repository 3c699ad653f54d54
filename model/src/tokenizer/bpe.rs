//! Byte-level BPE: merge adjacent symbols of one pre-tokenized word by merge rank.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use super::TokenId;

/// The merge table: `(left, right) -> (rank, merged token)`.
pub(crate) type MergeTable = HashMap<(TokenId, TokenId), (u32, TokenId)>;

/// Reusable buffers for [`merge_word`], so encoding a long text allocates once.
#[derive(Default)]
pub(crate) struct Scratch {
    symbols: Vec<TokenId>,
    next: Vec<usize>,
    prev: Vec<usize>,
    alive: Vec<bool>,
    heap: BinaryHeap<Reverse<(u32, usize, usize, TokenId, TokenId)>>,
}

const NONE: usize = usize::MAX;

/// Merges `initial` (one token per byte of the word) and appends the resulting ids to `out`.
///
/// The lowest-ranked adjacent pair merges first, the leftmost on ties: the order llama.cpp and
/// the reference BPE use.
pub(crate) fn merge_word(
    initial: &[TokenId],
    merges: &MergeTable,
    scratch: &mut Scratch,
    out: &mut Vec<TokenId>,
) {
    if initial.len() < 2 {
        out.extend_from_slice(initial);
        return;
    }
    let n = initial.len();
    let Scratch {
        symbols,
        next,
        prev,
        alive,
        heap,
    } = scratch;
    symbols.clear();
    symbols.extend_from_slice(initial);
    next.clear();
    next.extend((1..=n).map(|i| if i == n { NONE } else { i }));
    prev.clear();
    prev.extend((0..n).map(|i| if i == 0 { NONE } else { i - 1 }));
    alive.clear();
    alive.resize(n, true);
    heap.clear();

    let push = |heap: &mut BinaryHeap<_>, symbols: &[TokenId], left: usize, right: usize| {
        if left == NONE || right == NONE {
            return;
        }
        if let Some(&(rank, _)) = merges.get(&(symbols[left], symbols[right])) {
            heap.push(Reverse((rank, left, right, symbols[left], symbols[right])));
        }
    };
    for i in 0..n - 1 {
        push(heap, symbols, i, i + 1);
    }
    while let Some(Reverse((_, left, right, left_id, right_id))) = heap.pop() {
        // Skip pairs made stale by an earlier merge.
        if !alive[left]
            || !alive[right]
            || next[left] != right
            || symbols[left] != left_id
            || symbols[right] != right_id
        {
            continue;
        }
        let Some(&(_, merged)) = merges.get(&(left_id, right_id)) else {
            continue;
        };
        symbols[left] = merged;
        alive[right] = false;
        let after = next[right];
        next[left] = after;
        if after != NONE {
            prev[after] = left;
        }
        push(heap, symbols, prev[left], left);
        push(heap, symbols, left, after);
    }
    let mut i = 0;
    while i != NONE {
        out.push(symbols[i]);
        i = next[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_by_rank_then_leftmost() {
        // tokens: 0=a 1=b 2=ab 3=aa 4=aab
        let mut merges = MergeTable::new();
        merges.insert((0, 1), (1, 2));
        merges.insert((0, 0), (0, 3));
        merges.insert((3, 1), (2, 4));
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        merge_word(&[0, 0, 1], &merges, &mut scratch, &mut out);
        assert_eq!(out, [4]);
        out.clear();
        merge_word(&[0, 0, 0], &merges, &mut scratch, &mut out);
        assert_eq!(out, [3, 0]);
        out.clear();
        merge_word(&[1, 0], &merges, &mut scratch, &mut out);
        assert_eq!(out, [1, 0]);
    }
}
