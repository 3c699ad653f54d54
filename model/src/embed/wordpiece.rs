//! BERT's WordPiece tokenizer (uncased): the "basic" pre-tokenizer (clean, split CJK characters,
//! lower-case and strip accents, split on whitespace and punctuation) followed by greedy
//! longest-match-first WordPiece over `vocab.txt`, as Hugging Face's `BertTokenizer` does it.

use std::collections::HashMap;

use unicode_general_category::{GeneralCategory as G, get_general_category};
use unicode_normalization::UnicodeNormalization;

use super::EmbedError;

/// Words longer than this many characters become `[UNK]` (as in BERT).
const MAX_WORD_CHARS: usize = 100;

/// A WordPiece tokenizer with the special tokens a BERT encoder needs.
#[derive(Debug, Clone)]
pub struct WordPiece {
    vocab: HashMap<String, u32>,
    unk: u32,
    cls: u32,
    sep: u32,
    pad: u32,
}

impl WordPiece {
    /// Builds the tokenizer from the text of a `vocab.txt` (one token per line, the line number
    /// is the id). `[UNK]`, `[CLS]`, `[SEP]` and `[PAD]` must be in it.
    pub fn from_vocab(text: &str) -> Result<Self, EmbedError> {
        let vocab: HashMap<String, u32> = text
            .lines()
            .enumerate()
            .map(|(i, line)| (line.trim_end_matches('\r').to_owned(), i as u32))
            .collect();
        let special = |t: &str| {
            vocab.get(t).copied().ok_or_else(|| EmbedError::BadVocab(format!("the special token {t} is missing")))
        };
        Ok(WordPiece { unk: special("[UNK]")?, cls: special("[CLS]")?, sep: special("[SEP]")?, pad: special("[PAD]")?, vocab })
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// The id used for padding.
    pub fn pad_id(&self) -> u32 {
        self.pad
    }

    /// Token ids of `text` as the encoder takes them: `[CLS] … [SEP]`, at most `max_tokens` ids
    /// in all (the words that do not fit are dropped, as Hugging Face's truncation does).
    pub fn encode(&self, text: &str, max_tokens: usize) -> Vec<u32> {
        let budget = max_tokens.saturating_sub(2);
        let mut ids = Vec::with_capacity(budget.min(64) + 2);
        ids.push(self.cls);
        'words: for word in basic_tokens(text) {
            for id in self.word_pieces(&word) {
                if ids.len() > budget {
                    break 'words;
                }
                ids.push(id);
            }
        }
        ids.push(self.sep);
        ids
    }

    /// Greedy longest-match-first split of one word into vocabulary pieces (`##` marks a piece
    /// that continues a word); a word with an unmatched part is one `[UNK]`.
    fn word_pieces(&self, word: &str) -> Vec<u32> {
        let chars: Vec<(usize, char)> = word.char_indices().collect();
        if chars.len() > MAX_WORD_CHARS {
            return vec![self.unk];
        }
        let mut pieces = Vec::new();
        let mut start = 0;
        let mut candidate = String::with_capacity(word.len() + 2);
        while start < chars.len() {
            let mut end = chars.len();
            let mut found = None;
            while start < end {
                let from = chars[start].0;
                let to = chars.get(end).map_or(word.len(), |c| c.0);
                candidate.clear();
                if start > 0 {
                    candidate.push_str("##");
                }
                candidate.push_str(&word[from..to]);
                if let Some(&id) = self.vocab.get(&candidate) {
                    found = Some(id);
                    break;
                }
                end -= 1;
            }
            match found {
                Some(id) => pieces.push(id),
                None => return vec![self.unk],
            }
            start = end;
        }
        pieces
    }
}

/// BERT's basic tokenization of uncased text: drop control characters and U+FFFD, put spaces
/// around CJK ideographs, lower-case, strip accents (NFD, then drop combining marks), and split
/// on whitespace and punctuation (each punctuation character is its own word).
fn basic_tokens(text: &str) -> Vec<String> {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' || c == '\u{fffd}' || is_control(c) {
            continue;
        }
        if is_whitespace(c) {
            cleaned.push(' ');
        } else if is_cjk(c) {
            cleaned.push(' ');
            cleaned.push(c);
            cleaned.push(' ');
        } else {
            cleaned.push(c);
        }
    }
    let mut words = Vec::new();
    for word in cleaned.split(' ').filter(|w| !w.is_empty()) {
        let normalized: String = word.to_lowercase().nfd().filter(|&c| get_general_category(c) != G::NonspacingMark).collect();
        let mut current = String::new();
        for c in normalized.chars() {
            if is_punctuation(c) {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
                words.push(c.to_string());
            } else {
                current.push(c);
            }
        }
        if !current.is_empty() {
            words.push(current);
        }
    }
    words
}

fn is_whitespace(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r') || get_general_category(c) == G::SpaceSeparator
}

fn is_control(c: char) -> bool {
    if matches!(c, '\t' | '\n' | '\r') {
        return false;
    }
    matches!(get_general_category(c), G::Control | G::Format)
}

fn is_punctuation(c: char) -> bool {
    let cp = c as u32;
    if (33..=47).contains(&cp) || (58..=64).contains(&cp) || (91..=96).contains(&cp) || (123..=126).contains(&cp) {
        return true;
    }
    matches!(
        get_general_category(c),
        G::ConnectorPunctuation
            | G::DashPunctuation
            | G::OpenPunctuation
            | G::ClosePunctuation
            | G::InitialPunctuation
            | G::FinalPunctuation
            | G::OtherPunctuation
    )
}

/// The CJK Unified Ideographs blocks BERT splits per character.
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B820..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> WordPiece {
        let vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "hello", "!", "caf", "##e", ",", "的"];
        WordPiece::from_vocab(&vocab.join("\n")).unwrap()
    }

    #[test]
    fn greedy_longest_match_with_continuations() {
        let t = tiny();
        assert_eq!(t.encode("unaffable", 512), [2, 4, 5, 6, 3]);
        assert_eq!(t.encode("Hello, UNAFFABLE!", 512), [2, 7, 11, 4, 5, 6, 8, 3]);
        // A word with a part the vocabulary cannot cover is one [UNK].
        assert_eq!(t.encode("unafx hello", 512), [2, 1, 7, 3]);
    }

    #[test]
    fn accents_control_characters_and_cjk() {
        let t = tiny();
        assert_eq!(t.encode("Café\u{7}", 512), [2, 9, 10, 3]);
        assert_eq!(t.encode("hello的hello", 512), [2, 7, 12, 7, 3]);
        assert_eq!(t.encode("", 512), [2, 3]);
        assert_eq!(t.encode("\u{fffd}\0 \t\n", 512), [2, 3]);
    }

    #[test]
    fn truncation_keeps_cls_and_sep() {
        let t = tiny();
        assert_eq!(t.encode("hello hello hello hello", 4), [2, 7, 7, 3]);
        assert_eq!(t.encode("unaffable", 4), [2, 4, 5, 3]);
    }

    #[test]
    fn a_vocabulary_without_special_tokens_is_refused() {
        let e = WordPiece::from_vocab("a\nb\n").unwrap_err();
        assert!(e.to_string().contains("[UNK]"), "{e}");
    }

    #[test]
    fn very_long_words_are_unknown() {
        let t = tiny();
        assert_eq!(t.encode(&"un".repeat(60), 512), [2, 1, 3]);
    }
}
