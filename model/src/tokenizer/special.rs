//! Matching special tokens as whole tokens in text, before the vocabulary tokenizer runs.

use std::ops::Range;

use aho_corasick::AhoCorasick;

use super::{TokenId, TokenType};

/// A piece of the input: plain text still to tokenize, or a special token found in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Fragment {
    /// A byte range of the input.
    Text(Range<usize>),
    /// A special token matched in the input.
    Token(TokenId),
}

/// The special tokens of a vocabulary, longest text first, with an automaton that finds which
/// of them occur in a text in one pass.
pub(crate) struct SpecialTokens {
    /// `(id, text, is_control_or_unknown)`, longest text first (ties: lower id first).
    tokens: Vec<(TokenId, String, bool)>,
    finder: Option<AhoCorasick>,
}

impl SpecialTokens {
    pub(crate) fn new(texts: &[String], types: &[TokenType]) -> Self {
        let mut tokens: Vec<(TokenId, String, bool)> = types
            .iter()
            .enumerate()
            .filter(|(_, ty)| ty.is_special())
            .map(|(i, ty)| {
                (
                    i as TokenId,
                    texts[i].clone(),
                    *ty != TokenType::UserDefined,
                )
            })
            .collect();
        tokens.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then(a.0.cmp(&b.0)));
        let finder = if tokens.is_empty() {
            None
        } else {
            // Building can only fail on pathological pattern sets; without the automaton every
            // special token is simply tried in turn.
            AhoCorasick::new(tokens.iter().map(|t| t.1.as_str())).ok()
        };
        SpecialTokens { tokens, finder }
    }

    /// Splits `text` at the special tokens it contains. Longer tokens are matched first across
    /// the whole text, then shorter ones in what is left, as llama.cpp does; control and
    /// unknown tokens only when `parse_special` is true.
    pub(crate) fn partition(&self, text: &str, parse_special: bool) -> Vec<Fragment> {
        if text.is_empty() {
            return Vec::new();
        }
        let mut fragments = vec![Fragment::Text(0..text.len())];
        let present: Vec<bool> = match &self.finder {
            Some(finder) => {
                let mut present = vec![false; self.tokens.len()];
                for m in finder.find_overlapping_iter(text) {
                    present[m.pattern().as_usize()] = true;
                }
                present
            }
            None => vec![true; self.tokens.len()],
        };
        for (index, (id, token, control)) in self.tokens.iter().enumerate() {
            if !present[index] || (*control && !parse_special) {
                continue;
            }
            let mut next = Vec::with_capacity(fragments.len() + 2);
            for fragment in fragments {
                let Fragment::Text(range) = fragment else {
                    next.push(fragment);
                    continue;
                };
                let mut start = range.start;
                while let Some(found) = text[start..range.end].find(token.as_str()) {
                    let at = start + found;
                    if at > start {
                        next.push(Fragment::Text(start..at));
                    }
                    next.push(Fragment::Token(*id));
                    start = at + token.len();
                }
                if start < range.end {
                    next.push(Fragment::Text(start..range.end));
                }
            }
            fragments = next;
        }
        fragments
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specials() -> SpecialTokens {
        let texts: Vec<String> = ["a", "<s>", "<|im_start|>", "<tool>", "<|im"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let types = [
            TokenType::Normal,
            TokenType::Control,
            TokenType::Control,
            TokenType::UserDefined,
            TokenType::Control,
        ];
        SpecialTokens::new(&texts, &types)
    }

    #[test]
    fn longest_first_and_control_only_when_asked() {
        let s = specials();
        let text = "x<|im_start|>y<tool><s>";
        assert_eq!(
            s.partition(text, true),
            [
                Fragment::Text(0..1),
                Fragment::Token(2),
                Fragment::Text(13..14),
                Fragment::Token(3),
                Fragment::Token(1)
            ]
        );
        assert_eq!(
            s.partition(text, false),
            [
                Fragment::Text(0..14),
                Fragment::Token(3),
                Fragment::Text(20..23)
            ]
        );
        assert_eq!(s.partition("", true), []);
        assert_eq!(s.partition("<|im", true), [Fragment::Token(4)]);
    }
}
