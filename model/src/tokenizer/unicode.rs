//! Code point classes for the pre-tokenizers, with the meaning llama.cpp gives them.
//!
//! The split rules (`\p{L}`, `\p{N}`, `\s`, ...) are defined on Unicode general categories;
//! whitespace is the fixed set llama.cpp uses (which, unlike Python's `\s`, leaves out the
//! ASCII separators 0x1C..0x1F). A position outside the current fragment has no class at all,
//! which is how the hand-written splitters express "end of input".

use unicode_general_category::{GeneralCategory as G, get_general_category};

/// The class of one code point (or of "no code point", past the end of a fragment).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CharClass(u8);

impl CharClass {
    const LETTER: u8 = 1;
    const NUMBER: u8 = 2;
    const WHITESPACE: u8 = 4;
    const PRESENT: u8 = 8;

    /// The class of `c`.
    pub(crate) fn of(c: char) -> Self {
        let mut bits = Self::PRESENT;
        if c.is_ascii() {
            if c.is_ascii_alphabetic() {
                bits |= Self::LETTER;
            } else if c.is_ascii_digit() {
                bits |= Self::NUMBER;
            } else if matches!(c, '\t' | '\n' | '\x0B' | '\x0C' | '\r' | ' ') {
                bits |= Self::WHITESPACE;
            }
            return CharClass(bits);
        }
        match get_general_category(c) {
            G::UppercaseLetter
            | G::LowercaseLetter
            | G::TitlecaseLetter
            | G::ModifierLetter
            | G::OtherLetter => bits |= Self::LETTER,
            G::DecimalNumber | G::LetterNumber | G::OtherNumber => bits |= Self::NUMBER,
            _ => {}
        }
        if is_unicode_whitespace(c) {
            bits |= Self::WHITESPACE;
        }
        CharClass(bits)
    }

    /// The class of a position past the end of the fragment.
    pub(crate) const fn none() -> Self {
        CharClass(0)
    }

    /// `\p{L}`.
    pub(crate) fn is_letter(self) -> bool {
        self.0 & Self::LETTER != 0
    }

    /// `\p{N}`.
    pub(crate) fn is_number(self) -> bool {
        self.0 & Self::NUMBER != 0
    }

    /// `\s`.
    pub(crate) fn is_whitespace(self) -> bool {
        self.0 & Self::WHITESPACE != 0
    }

    /// True for every real code point, false past the end of the fragment.
    pub(crate) fn is_present(self) -> bool {
        self.0 & Self::PRESENT != 0
    }
}

/// Non-ASCII whitespace as llama.cpp lists it.
fn is_unicode_whitespace(c: char) -> bool {
    matches!(
        c,
        '\u{85}' | '\u{A0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

/// GPT-2's reversible byte-to-character table: printable Latin-1 bytes map to themselves, the
/// other 68 bytes to U+0100.. in byte order, so every byte sequence becomes printable text.
pub(crate) fn byte_to_char_table() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for (byte, slot) in table.iter_mut().enumerate() {
        let b = byte as u32;
        let printable =
            (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
        let cp = if printable {
            b
        } else {
            let cp = next;
            next += 1;
            cp
        };
        // Every value here is below 0x200, so it is always a valid scalar value.
        *slot = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_general_categories() {
        assert!(CharClass::of('a').is_letter());
        assert!(CharClass::of('é').is_letter());
        assert!(CharClass::of('中').is_letter());
        assert!(CharClass::of('7').is_number());
        assert!(CharClass::of('²').is_number());
        assert!(CharClass::of('٣').is_number());
        assert!(CharClass::of(' ').is_whitespace());
        assert!(CharClass::of('\u{3000}').is_whitespace());
        assert!(!CharClass::of('\u{1F}').is_whitespace());
        let emoji = CharClass::of('😀');
        assert!(
            emoji.is_present()
                && !emoji.is_letter()
                && !emoji.is_number()
                && !emoji.is_whitespace()
        );
        assert!(!CharClass::none().is_present());
    }

    #[test]
    fn byte_table_is_gpt2s() {
        let t = byte_to_char_table();
        assert_eq!(t[b'!' as usize], '!');
        assert_eq!(t[b' ' as usize], 'Ġ');
        assert_eq!(t[b'\n' as usize], 'Ċ');
        assert_eq!(t[0], 'Ā');
        assert_eq!(t[0xAD], '\u{143}');
        let mut seen = std::collections::HashSet::new();
        assert!(t.iter().all(|c| seen.insert(*c)));
    }
}
