//! Pre-tokenizers of the byte-level BPE models: split text into words before BPE runs.
//!
//! Each model family's split regex (named by `tokenizer.ggml.pre` in the GGUF file) is written
//! out by hand as a scanner over code points, the way llama.cpp does it, so the words (and so
//! the token ids) are exactly llama.cpp's, and no backtracking regex engine runs per prompt.

use super::unicode::CharClass;

/// Which split rules a byte-level BPE vocabulary uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreTokenizer {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    Gpt2,
    /// Every digit on its own first, then the GPT-2 rules (SmolLM, StarCoder, Refact, ...).
    DigitsThenGpt2,
    /// Qwen2: case-insensitive contractions, `[^\r\n\p{L}\p{N}]?\p{L}+`, single digits,
    /// punctuation runs with trailing newlines, newline runs, whitespace.
    Qwen2,
    /// Llama 3: as Qwen2, but digits in groups of up to three.
    Llama3,
}

impl PreTokenizer {
    /// The pre-tokenizer for a `tokenizer.ggml.pre` name, or `None` when it is not supported.
    pub fn from_gguf_name(name: &str) -> Option<Self> {
        Some(match name {
            "gpt-2" | "gpt2" | "phi-2" | "mpt" | "olmo" | "jais" | "roberta-bpe" | "jina-v1-en"
            | "jina-v2-code" | "exaone4" | "trillion" | "granite-docling" => PreTokenizer::Gpt2,
            "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone"
            | "minerva-7b" => PreTokenizer::DigitsThenGpt2,
            "qwen2" | "deepseek-r1-qwen" | "stablelm2" | "megrez" | "hunyuan" | "kormo"
            | "f2llmv2" => PreTokenizer::Qwen2,
            "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral"
            | "midm-2.0" | "lfm2" | "dbrx" | "smaug-bpe" | "chatglm-bpe" => PreTokenizer::Llama3,
            _ => return None,
        })
    }

    /// Splits `text` into words, returned as byte ranges that cover `text` in order.
    pub(crate) fn split(self, text: &str, words: &mut Vec<std::ops::Range<usize>>) {
        words.clear();
        if text.is_empty() {
            return;
        }
        let chars: Vec<char> = text.chars().collect();
        let mut bounds: Vec<usize> = vec![chars.len()];
        let mut next = Vec::with_capacity(chars.len() / 3 + 1);
        match self {
            PreTokenizer::Gpt2 => split_fragments(&chars, &bounds, &mut next, gpt2),
            PreTokenizer::DigitsThenGpt2 => {
                split_fragments(&chars, &bounds, &mut next, isolate_digits);
                std::mem::swap(&mut bounds, &mut next);
                split_fragments(&chars, &bounds, &mut next, gpt2);
            }
            PreTokenizer::Qwen2 => split_fragments(&chars, &bounds, &mut next, |c, s, e, o| {
                qwen2_like(c, s, e, o, 1)
            }),
            PreTokenizer::Llama3 => split_fragments(&chars, &bounds, &mut next, |c, s, e, o| {
                qwen2_like(c, s, e, o, 3)
            }),
        }
        // `next` holds the end (in chars) of every word; turn them into byte ranges.
        let byte_of: Vec<usize> = text
            .char_indices()
            .map(|(b, _)| b)
            .chain(std::iter::once(text.len()))
            .collect();
        let mut start = 0usize;
        for &end in &next {
            words.push(byte_of[start]..byte_of[end]);
            start = end;
        }
    }
}

/// Runs `scan` over every fragment `[start, end)` delimited by `bounds` (fragment ends, in
/// chars), collecting the ends of the words it finds.
fn split_fragments(
    chars: &[char],
    bounds: &[usize],
    out: &mut Vec<usize>,
    scan: impl Fn(&[char], usize, usize, &mut Vec<usize>),
) {
    out.clear();
    let mut start = 0;
    for &end in bounds {
        scan(chars, start, end, out);
        start = end;
    }
}

/// Cursor helpers shared by the scanners: classes and characters inside one fragment.
struct Fragment<'a> {
    chars: &'a [char],
    start: usize,
    end: usize,
}

impl Fragment<'_> {
    fn class(&self, pos: usize) -> CharClass {
        if pos >= self.start && pos < self.end {
            CharClass::of(self.chars[pos])
        } else {
            CharClass::none()
        }
    }

    fn char(&self, pos: usize) -> Option<char> {
        if pos >= self.start && pos < self.end {
            Some(self.chars[pos])
        } else {
            None
        }
    }

    /// Length of the contraction (`'s`, `'re`, ...) starting at `pos`, if there is one.
    fn contraction(&self, pos: usize, case_insensitive: bool) -> usize {
        if self.char(pos) != Some('\'') {
            return 0;
        }
        let lower = |c: Option<char>| {
            c.map(|c| {
                if case_insensitive {
                    c.to_ascii_lowercase()
                } else {
                    c
                }
            })
        };
        let c1 = lower(self.char(pos + 1));
        if matches!(c1, Some('s' | 't' | 'm' | 'd')) {
            return 2;
        }
        let c2 = lower(self.char(pos + 2));
        match (c1, c2) {
            (Some('r'), Some('e')) | (Some('v'), Some('e')) | (Some('l'), Some('l')) => 3,
            _ => 0,
        }
    }

    /// Number of whitespace characters starting at `pos`.
    fn whitespace_run(&self, pos: usize) -> usize {
        let mut n = 0;
        while self.class(pos + n).is_whitespace() {
            n += 1;
        }
        n
    }
}

/// `\p{N}` as its own word; the text between numbers stays whole.
fn isolate_digits(chars: &[char], start: usize, end: usize, out: &mut Vec<usize>) {
    let mut run_start = start;
    for pos in start..end {
        if CharClass::of(chars[pos]).is_number() {
            if pos > run_start {
                out.push(pos);
            }
            out.push(pos + 1);
            run_start = pos + 1;
        }
    }
    if end > run_start {
        out.push(end);
    }
}

/// The GPT-2 split rules over one fragment.
fn gpt2(chars: &[char], start: usize, end: usize, out: &mut Vec<usize>) {
    let f = Fragment { chars, start, end };
    let mut pos = start;
    while pos < end {
        let c = chars[pos];
        let n = f.contraction(pos, false);
        if n > 0 {
            pos += n;
            out.push(pos);
            continue;
        }
        let lead = if c == ' ' {
            f.class(pos + 1)
        } else {
            f.class(pos)
        };
        let skip_space = usize::from(c == ' ');
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
        let rule: Option<fn(CharClass) -> bool> = if lead.is_letter() {
            Some(CharClass::is_letter)
        } else if lead.is_number() {
            Some(CharClass::is_number)
        } else if lead.is_present() && !lead.is_whitespace() {
            Some(|k: CharClass| {
                k.is_present() && !k.is_whitespace() && !k.is_letter() && !k.is_number()
            })
        } else {
            None
        };
        if let Some(rule) = rule {
            pos += skip_space;
            while rule(f.class(pos)) {
                pos += 1;
            }
            out.push(pos);
            continue;
        }
        pos = whitespace_rules(&f, pos, false);
        out.push(pos);
    }
}

/// `\s*[\r\n]+` (when `newline_runs`), `\s+(?!\S)`, `\s+`, or a single character when nothing
/// matches; returns the end of the word that starts at `pos`.
fn whitespace_rules(f: &Fragment<'_>, pos: usize, newline_runs: bool) -> usize {
    let n = f.whitespace_run(pos);
    if newline_runs {
        let last_newline = (0..n)
            .rev()
            .find(|&i| matches!(f.char(pos + i), Some('\r' | '\n')));
        if let Some(i) = last_newline {
            return pos + i + 1;
        }
    }
    if n > 1 && f.char(pos + n).is_some() {
        // `\s+(?!\S)`: leave the last space to prefix the next word.
        return pos + n - 1;
    }
    if n > 0 {
        return pos + n;
    }
    pos + 1
}

/// The Qwen2 (`max_digits == 1`) and Llama 3 (`max_digits == 3`) split rules over one fragment.
fn qwen2_like(chars: &[char], start: usize, end: usize, out: &mut Vec<usize>, max_digits: usize) {
    let f = Fragment { chars, start, end };
    let mut pos = start;
    while pos < end {
        let c = chars[pos];
        let class = f.class(pos);
        let n = f.contraction(pos, true);
        if n > 0 {
            pos += n;
            out.push(pos);
            continue;
        }
        // `[^\r\n\p{L}\p{N}]?\p{L}+`
        if !(c == '\r' || c == '\n' || class.is_number())
            && (class.is_letter() || f.class(pos + 1).is_letter())
        {
            pos += 1;
            while f.class(pos).is_letter() {
                pos += 1;
            }
            out.push(pos);
            continue;
        }
        // `\p{N}{1,max_digits}`
        if class.is_number() {
            let mut run = 0;
            while f.class(pos).is_number() {
                pos += 1;
                run += 1;
                if run == max_digits {
                    out.push(pos);
                    run = 0;
                }
            }
            if run > 0 {
                out.push(pos);
            }
            continue;
        }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        let lead = if c == ' ' { f.class(pos + 1) } else { class };
        if !(lead.is_whitespace() || lead.is_letter() || lead.is_number()) {
            pos += usize::from(c == ' ');
            loop {
                let k = f.class(pos);
                if k.is_present() && !(k.is_whitespace() || k.is_letter() || k.is_number()) {
                    pos += 1;
                } else {
                    break;
                }
            }
            while matches!(f.char(pos), Some('\r' | '\n')) {
                pos += 1;
            }
            out.push(pos);
            continue;
        }
        pos = whitespace_rules(&f, pos, true);
        out.push(pos);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(pre: PreTokenizer, text: &str) -> Vec<String> {
        let mut ranges = Vec::new();
        pre.split(text, &mut ranges);
        ranges.into_iter().map(|r| text[r].to_string()).collect()
    }

    #[test]
    fn gpt2_rules() {
        assert_eq!(
            words(PreTokenizer::Gpt2, "Hello world's  end!!\n"),
            ["Hello", " world", "'s", " ", " end", "!!", "\n"]
        );
        assert_eq!(
            words(PreTokenizer::Gpt2, "x = 12345"),
            ["x", " =", " 12345"]
        );
        assert_eq!(words(PreTokenizer::Gpt2, "   "), ["   "]);
        assert_eq!(words(PreTokenizer::Gpt2, ""), Vec::<String>::new());
    }

    #[test]
    fn digits_then_gpt2() {
        assert_eq!(
            words(PreTokenizer::DigitsThenGpt2, "x = 123"),
            ["x", " =", " ", "1", "2", "3"]
        );
    }

    #[test]
    fn qwen2_rules() {
        assert_eq!(
            words(PreTokenizer::Qwen2, "def f(x):\n    return x+1\n\n"),
            [
                "def", " f", "(x", "):\n", "   ", " return", " x", "+", "1", "\n\n"
            ]
        );
        assert_eq!(words(PreTokenizer::Qwen2, "I'M 中文"), ["I", "'M", " 中文"]);
        assert_eq!(words(PreTokenizer::Llama3, "1234567"), ["123", "456", "7"]);
    }

    #[test]
    fn words_cover_text() {
        let text = "héllo\t\t wörld 😀😀 ١٢٣ \r\n end";
        for pre in [
            PreTokenizer::Gpt2,
            PreTokenizer::DigitsThenGpt2,
            PreTokenizer::Qwen2,
            PreTokenizer::Llama3,
        ] {
            assert_eq!(words(pre, text).concat(), text);
        }
    }
}
