//! The redaction pass every cloud-review payload goes through before it can leave the device:
//! secrets (cloud and service API keys, tokens, private keys, passwords in URLs, `.env` values
//! and credentials assigned in code), e-mail addresses and the user's own patterns are replaced
//! by `[REDACTED:kind]`, and each replacement is reported so the user sees what was removed.
//!
//! The rules aim at what a secret looks like (a vendor's key format, a credential-named variable
//! given a literal), not at every long string, so ordinary code is left alone: a
//! `password = input()` or an `API_KEY = os.environ["API_KEY"]` is code, not a secret.

use regex::Regex;
use serde::Serialize;

/// One replacement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// What was removed (`aws_access_key`, `password_in_url`, `email`, `custom`, …).
    pub kind: &'static str,
    /// The line it was on (1-based) in the text as it was when the rule ran.
    pub line: usize,
}

/// A text after redaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Redacted {
    /// The text, secrets replaced.
    pub text: String,
    /// What was replaced, in the order the rules found it.
    pub findings: Vec<Finding>,
}

/// A pattern the user configured is not a valid regular expression.
#[derive(Debug, thiserror::Error)]
#[error("redaction pattern {pattern:?} is not a valid regular expression: {source}")]
pub struct PatternError {
    /// The pattern.
    pub pattern: String,
    /// Why.
    pub source: regex::Error,
}

/// Which part of a match is the secret.
#[derive(Debug, Clone, Copy)]
enum Part {
    /// The whole match.
    Whole,
    /// One capture group (the rest, e.g. the variable name, stays).
    Group(usize),
}

struct Rule {
    kind: &'static str,
    regex: Regex,
    part: Part,
    /// Whether the secret part really looks like one (the regex crate has no look-around).
    accept: fn(&str) -> bool,
}

fn any(_: &str) -> bool {
    true
}

/// Letters and digits mixed, as generated keys are (and English words and numbers are not).
fn mixed(value: &str) -> bool {
    value.chars().any(|c| c.is_ascii_digit()) && value.chars().any(|c| c.is_ascii_alphabetic())
}

/// A literal given to a credential-named variable: long enough, one token (a sentence is a
/// prompt or a message, not a password), not a format string, and with a digit or a symbol
/// (a plain word such as a type name is not a secret; a key or a password has them).
fn credential_literal(value: &str) -> bool {
    value.chars().count() >= 8
        && !value.chars().any(char::is_whitespace)
        && !value.contains('{')
        && !value.contains("%s")
        && value.chars().any(|c| c.is_ascii_digit() || "!@#$%^&*+/=?~|<>;,".contains(c))
}

/// A value on a `.env` or shell line: quoted, or a bare run of key characters with letters and
/// digits mixed (code such as `os.environ["KEY"]` or `get_key()` has other characters).
fn env_value(value: &str) -> bool {
    let quoted = value.len() >= 2 && (value.starts_with('"') || value.starts_with('\''));
    let inner = if quoted { &value[1..value.len() - 1] } else { value };
    if quoted {
        return credential_literal(inner);
    }
    inner.len() >= 8 && mixed(inner) && inner.chars().all(|c| c.is_ascii_alphanumeric() || "+/=_-.".contains(c))
}

/// The built-in rules, most specific first (a vendor's key before the generic assignment rule,
/// so the finding names the vendor).
fn builtin() -> Vec<Rule> {
    let rule = |kind, pattern: &str, part, accept: fn(&str) -> bool| Rule {
        kind,
        regex: Regex::new(pattern).expect("a built-in redaction pattern compiles"),
        part,
        accept,
    };
    vec![
        rule("private_key", r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----.*?-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----", Part::Whole, any),
        rule("private_key", r"(?s)-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----.*", Part::Whole, any),
        rule("password_in_url", r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'\x22]+:([^\s@/'\x22]+)@", Part::Group(1), any),
        rule("aws_access_key", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b", Part::Whole, any),
        rule("aws_secret_key", r#"(?i)aws_?secret_?(?:access_?)?key["'\]]*\s*[:=]+\s*["']?([A-Za-z0-9/+=]{40})"#, Part::Group(1), any),
        rule("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})", Part::Whole, any),
        rule("gitlab_token", r"\bglpat-[A-Za-z0-9_-]{20,}", Part::Whole, any),
        rule("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}", Part::Whole, any),
        rule("slack_webhook", r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+", Part::Whole, any),
        rule("stripe_key", r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,}", Part::Whole, any),
        rule("anthropic_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}", Part::Whole, any),
        rule("openai_key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}", Part::Whole, mixed),
        rule("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}", Part::Whole, any),
        rule("huggingface_token", r"\bhf_[A-Za-z0-9]{30,}", Part::Whole, any),
        rule("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b", Part::Whole, any),
        rule("pypi_token", r"\bpypi-[A-Za-z0-9_-]{50,}", Part::Whole, any),
        rule("sendgrid_key", r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}", Part::Whole, any),
        rule("twilio_key", r"\bSK[0-9a-f]{32}\b", Part::Whole, any),
        rule("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}", Part::Whole, any),
        rule("azure_key", r"(?i)\b(?:AccountKey|SharedAccessKey)=([A-Za-z0-9+/=]{20,})", Part::Group(1), any),
        rule("authorization", r"(?i)\b(?:authorization|proxy-authorization)[\x22'\]]*\s*[:=]\s*[\x22']?\s*(?:bearer|basic|token|bot)\s+([A-Za-z0-9._~+/=-]{8,})", Part::Group(1), any),
        rule("bearer_token", r"(?i)\bbearer\s+([A-Za-z0-9._~+/-]{20,}=*)", Part::Group(1), mixed),
        rule(
            "credential",
            r#"(?i)\b[A-Za-z0-9_]*(?:password|passwd|passphrase|pwd|secret|token|api_?key|apikey|access_?key|private_?key|auth_?key|credentials?)[A-Za-z0-9_]*["'\]]{0,2}\s*(?::=|=>|=|:)\s*[bru]?["']([^"'\n]+)["']"#,
            Part::Group(1),
            credential_literal,
        ),
        rule(
            "env_secret",
            r#"(?m)^[ \t]*(?:export[ \t]+)?[A-Z][A-Z0-9_]*(?:KEY|SECRET|TOKEN|PASSWORD|PASSWD|PASS|PWD|CREDENTIALS?)[A-Z0-9_]*[ \t]*=[ \t]*("[^"\n]*"|'[^'\n]*'|[^\s"'#]+)"#,
            Part::Group(1),
            env_value,
        ),
        rule("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b", Part::Whole, any),
    ]
}

/// The redaction pass: the built-in rules and the user's patterns.
pub struct Redactor {
    rules: Vec<Rule>,
}

impl Redactor {
    /// The built-in rules plus `patterns` (regular expressions from the configuration; each
    /// whole match is removed as `custom`).
    pub fn new(patterns: &[String]) -> Result<Redactor, PatternError> {
        let mut rules = builtin();
        for pattern in patterns {
            let regex = Regex::new(pattern).map_err(|source| PatternError { pattern: pattern.clone(), source })?;
            rules.push(Rule { kind: "custom", regex, part: Part::Whole, accept: any });
        }
        Ok(Redactor { rules })
    }

    /// `text` with every secret the rules find replaced.
    pub fn redact(&self, text: &str) -> Redacted {
        let mut text = text.to_owned();
        let mut findings = Vec::new();
        for rule in &self.rules {
            let mut out = String::with_capacity(text.len());
            let mut last = 0;
            for captures in rule.regex.captures_iter(&text) {
                let secret = match rule.part {
                    Part::Whole => captures.get(0),
                    Part::Group(n) => captures.get(n),
                };
                let Some(secret) = secret.filter(|m| !m.as_str().is_empty() && (rule.accept)(m.as_str())) else { continue };
                if secret.as_str().contains("[REDACTED:") {
                    continue;
                }
                out.push_str(&text[last..secret.start()]);
                out.push_str("[REDACTED:");
                out.push_str(rule.kind);
                out.push(']');
                last = secret.end();
                findings.push(Finding { kind: rule.kind, line: text[..secret.start()].matches('\n').count() + 1 });
            }
            if last > 0 {
                out.push_str(&text[last..]);
                text = out;
            }
        }
        Redacted { text, findings }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(text: &str) -> Redacted {
        Redactor::new(&[]).unwrap().redact(text)
    }

    #[test]
    fn the_secret_goes_and_the_code_around_it_stays() {
        let out = redact("client = Client(api_key=\"k8Jd02mZqPw7xLr5\")\nprint(client)\n");
        assert_eq!(out.text, "client = Client(api_key=\"[REDACTED:credential]\")\nprint(client)\n");
        assert_eq!(out.findings, vec![Finding { kind: "credential", line: 1 }]);
        let out = redact("db = connect('postgres://app:S3cret!pw@db.internal:5432/app')");
        assert_eq!(out.text, "db = connect('postgres://app:[REDACTED:password_in_url]@db.internal:5432/app')");
    }

    #[test]
    fn code_that_only_names_secrets_is_left_alone() {
        let code = "password = input('Password: ')\nAPI_KEY = os.environ[\"API_KEY\"]\ntoken = next(tokens)\n\
                    secret_number = random.randint(1, 10)\nkey = lambda x: x[0]\nmsg = 'the token is invalid'\n\
                    MAX_TOKENS = 1024\nSECRET_KEY = get_secret()\n@property\ndef token_count(self):\n    return 3\n";
        let out = redact(code);
        assert_eq!(out.text, code, "{:?}", out.findings);
    }

    #[test]
    fn a_private_key_goes_whole_even_when_cut_off() {
        let out = redact("KEY = '''-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabc\n-----END RSA PRIVATE KEY-----'''\nrest()");
        assert_eq!(out.text, "KEY = '''[REDACTED:private_key]'''\nrest()");
        let out = redact("pem = \"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ");
        assert_eq!(out.text, "pem = \"[REDACTED:private_key]");
    }

    #[test]
    fn the_users_patterns_apply_and_a_bad_one_is_refused() {
        let redactor = Redactor::new(&["ACME-[0-9]{6}".to_owned()]).unwrap();
        assert_eq!(redactor.redact("ticket ACME-123456 opened").text, "ticket [REDACTED:custom] opened");
        let error = Redactor::new(&["(unclosed".to_owned()]).err().unwrap().to_string();
        assert!(error.contains("\"(unclosed\" is not a valid regular expression"), "{error}");
    }
}
