//! The tokenizer on small hand-made vocabularies: bad metadata gives clear errors, and the
//! merge rules of both vocabulary kinds behave as specified.

use edgecoder_model::tokenizer::{
    PreTokenizer, StreamDecoder, Tokenizer, TokenizerConfig, TokenizerError, VocabKind,
};

/// GPT-2's byte characters, in byte order (the 256 base tokens of a byte-level vocabulary).
fn byte_chars() -> Vec<String> {
    let mut out = Vec::new();
    let mut next = 256u32;
    for b in 0u32..256 {
        let printable =
            (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
        let cp = if printable {
            b
        } else {
            next += 1;
            next - 1
        };
        out.push(char::from_u32(cp).unwrap().to_string());
    }
    out
}

fn gpt2_config() -> TokenizerConfig {
    let mut tokens = byte_chars();
    tokens.extend(
        [
            "he", "ll", "hell", "hello", "Ġh", "Ġhe", "Ġhell", "Ġhello", "<|end|>", "<tool>",
        ]
        .map(String::from),
    );
    let mut types = vec![1; tokens.len()];
    let n = types.len();
    types[n - 2] = 3;
    types[n - 1] = 4;
    TokenizerConfig {
        model: "gpt2".into(),
        pre: Some("qwen2".into()),
        tokens,
        token_types: Some(types),
        merges: ["Ġ h", "h e", "l l", "Ġh e", "he ll", "Ġhe ll", "hell o", "Ġhell o"]
            .map(String::from)
            .to_vec(),
        eos_id: Some(n as u32 - 2),
        ..Default::default()
    }
}

fn err(config: TokenizerConfig) -> TokenizerError {
    Tokenizer::new(config).expect_err("config must be rejected")
}

#[test]
fn bad_metadata_is_a_clear_error() {
    assert!(matches!(
        err(TokenizerConfig {
            model: "gpt2".into(),
            ..Default::default()
        }),
        TokenizerError::EmptyVocab
    ));
    assert!(
        matches!(err(TokenizerConfig { model: "bert".into(), ..gpt2_config() }), TokenizerError::UnsupportedModel(m) if m == "bert")
    );
    assert!(
        matches!(err(TokenizerConfig { pre: Some("klingon".into()), ..gpt2_config() }), TokenizerError::UnsupportedPreTokenizer(p) if p == "klingon")
    );
    assert!(matches!(
        err(TokenizerConfig {
            pre: None,
            ..gpt2_config()
        }),
        TokenizerError::UnsupportedPreTokenizer(_)
    ));
    assert!(matches!(
        err(TokenizerConfig {
            token_types: Some(vec![1; 3]),
            ..gpt2_config()
        }),
        TokenizerError::LengthMismatch {
            what: "tokenizer.ggml.token_type",
            found: 3,
            ..
        }
    ));
    assert!(matches!(
        err(TokenizerConfig {
            merges: vec!["nospace".into()],
            ..gpt2_config()
        }),
        TokenizerError::BadMerge { index: 0, .. }
    ));
    assert!(matches!(
        err(TokenizerConfig {
            model: "llama".into(),
            scores: Some(vec![0.0; 2]),
            ..gpt2_config()
        }),
        TokenizerError::LengthMismatch {
            what: "tokenizer.ggml.scores",
            ..
        }
    ));
}

#[test]
fn byte_level_bpe_merges_by_rank() {
    let t = Tokenizer::new(gpt2_config()).unwrap();
    assert_eq!(t.kind(), VocabKind::BytePairEncoding(PreTokenizer::Qwen2));
    let id = |s: &str| t.token_id(s).unwrap();
    assert_eq!(
        t.encode("hello hello", false, false).unwrap(),
        [id("hello"), id("Ġhello")]
    );
    assert_eq!(t.encode("hell", false, false).unwrap(), [id("hell")]);
    // Unmerged bytes fall back to their byte tokens, including bytes of multi-byte characters.
    assert_eq!(t.encode("é", false, false).unwrap(), [id("Ã"), id("©")]);
    // Control tokens only with parse_special, user-defined tokens always.
    let end = id("<|end|>");
    let tool = id("<tool>");
    assert_eq!(t.encode("<|end|>", false, true).unwrap(), [end]);
    assert_ne!(t.encode("<|end|>", false, false).unwrap(), [end]);
    assert_eq!(t.encode("<tool>", false, false).unwrap(), [tool]);
    assert!(t.is_end_of_generation(end));
    // A byte without a token is left out, as llama.cpp does (SmolLM2 lacks a few control bytes).
    let mut missing_byte = gpt2_config();
    missing_byte.tokens[0x04] = "not a byte".into();
    let m = Tokenizer::new(missing_byte).unwrap();
    assert_eq!(m.encode("he\u{4}ll", false, false).unwrap(), [id("he"), id("ll")]);
    for text in [
        "",
        "hello\n\n  world\t!",
        "ünïcødé 中文 😀",
        "\u{0}\u{1}\u{7f}",
    ] {
        let ids = t.encode(text, false, false).unwrap();
        assert_eq!(t.decode(&ids, false).unwrap(), text);
    }
}

fn spm_config() -> TokenizerConfig {
    let mut tokens: Vec<String> = ["<unk>", "<s>", "</s>", "▁", "a", "b", "ab", "▁ab", "▁a"]
        .map(String::from)
        .to_vec();
    let mut scores = vec![0.0, 0.0, 0.0, -1.0, -2.0, -2.0, -0.5, -0.1, -3.0];
    let mut types = vec![2, 3, 3, 1, 1, 1, 1, 1, 1];
    for b in [0xE2u8, 0x82, 0xAC] {
        tokens.push(format!("<0x{b:02X}>"));
        scores.push(0.0);
        types.push(6);
    }
    TokenizerConfig {
        model: "llama".into(),
        tokens,
        token_types: Some(types),
        scores: Some(scores),
        ..Default::default()
    }
}

#[test]
fn sentencepiece_merges_by_score_with_byte_fallback() {
    let t = Tokenizer::new(spm_config()).unwrap();
    assert_eq!(t.kind(), VocabKind::SentencePiece);
    let id = |s: &str| t.token_id(s).unwrap();
    // Default SentencePiece settings: BOS added, a space put in front of the text.
    assert!(t.adds_bos());
    assert_eq!(
        t.encode("ab ab", true, false).unwrap(),
        [id("<s>"), id("▁ab"), id("▁ab")]
    );
    // "€" is not a token: it falls back to its three UTF-8 bytes.
    assert_eq!(
        t.encode("a€", false, false).unwrap(),
        [id("▁a"), id("<0xE2>"), id("<0x82>"), id("<0xAC>")]
    );
    let ids = t.encode("ab a€", false, false).unwrap();
    assert_eq!(t.decode(&ids, false).unwrap(), "ab a€");
    // A byte with no <0xNN> token cannot be encoded: an error, not a panic.
    assert!(matches!(
        t.encode("ü", false, false),
        Err(TokenizerError::NoByteFallback(0xC3))
    ));
    // Streaming a character split over byte tokens.
    let mut stream = StreamDecoder::new(false);
    let pieces: Vec<String> = ids.iter().map(|&i| stream.push(&t, i).unwrap()).collect();
    assert_eq!(pieces.concat(), "ab a€");
    assert!(pieces.iter().all(|p| !p.contains('\u{FFFD}')));
    // Without a space prefix the first word is not merged with "▁".
    let no_prefix = Tokenizer::new(TokenizerConfig {
        add_space_prefix: Some(false),
        ..spm_config()
    })
    .unwrap();
    assert_eq!(no_prefix.encode("ab", false, false).unwrap(), [id("ab")]);
}
