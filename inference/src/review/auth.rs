//! The review API's authentication: API keys (kept as sha256 digests in a key file), the
//! short-lived, audience-bound delegation tokens a key buys (HMAC-SHA256 over the claims, with a
//! secret that lives only in the server's memory), and replay protection (each request's nonce
//! is accepted once within the timestamp window).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

/// Why a caller was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token exchange came without a key.
    #[error("no API key: send it in the x-edgecoder-api-key header")]
    MissingKey,
    /// The key is not in the key file.
    #[error("unknown API key: ask the server's operator for a key (`edgecoder-inference api-key NAME`)")]
    UnknownKey,
    /// A token was asked for another server.
    #[error("this server's audience is {ours:?}, not {asked:?}: set the device's review url to {ours}")]
    WrongAudience {
        /// The server's audience.
        ours: String,
        /// What the caller named.
        asked: String,
    },
    /// No bearer token.
    #[error("no delegation token: send `Authorization: Bearer <token>` (POST /review/v1/token gives one)")]
    MissingToken,
    /// The token is not one this server issued, or was altered.
    #[error("the delegation token is malformed or its signature does not match: get a new one")]
    Forged,
    /// The token's time is over.
    #[error("the delegation token expired {0} s ago: get a new one")]
    Expired(u64),
    /// No or an unreadable nonce/timestamp.
    #[error("every request needs the x-edgecoder-nonce (16 to 64 characters of [A-Za-z0-9_-]) and x-edgecoder-timestamp (Unix seconds) headers")]
    MissingNonce,
    /// The timestamp is outside the window.
    #[error("the request's timestamp is {0} s away from the server's clock (at most {1} s): check the device's clock")]
    Stale(u64, u64),
    /// The nonce was used before.
    #[error("this nonce was used before: a replayed request is refused")]
    Replayed,
    /// Too many nonces in the window.
    #[error("too many requests in the replay window: try again in a minute")]
    Busy,
}

/// A key file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("the API key file {path}: {message}")]
pub struct KeyFileError {
    path: String,
    message: String,
}

/// The API keys the server accepts: each key's sha256 digest with the name it was issued to.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    names: HashMap<[u8; 32], String>,
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl ApiKeys {
    /// Reads a key file: one `NAME SHA256-HEX` line per key; `#` starts a comment.
    pub fn load(path: &Path) -> Result<ApiKeys, KeyFileError> {
        let error = |message: String| KeyFileError { path: path.display().to_string(), message };
        let text = std::fs::read_to_string(path).map_err(|e| error(format!("cannot be read: {e}")))?;
        let keys = ApiKeys::parse(&text).map_err(error)?;
        if keys.names.is_empty() {
            return Err(error("holds no keys: add one with `edgecoder-inference api-key NAME --keys FILE`".into()));
        }
        Ok(keys)
    }

    /// Parses the text of a key file.
    pub fn parse(text: &str) -> Result<ApiKeys, String> {
        let mut names = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (name, hex) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| format!("line {}: expected `NAME SHA256-HEX`", n + 1))?;
            let bytes = decode_hex(hex.trim()).ok_or_else(|| format!("line {}: {:?} is not 64 hex digits", n + 1, hex.trim()))?;
            names.insert(bytes, name.to_owned());
        }
        Ok(ApiKeys { names })
    }

    /// A new random key for `name`, and the key-file line that accepts it.
    pub fn generate(name: &str) -> (String, String) {
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).expect("the system's random source works");
        let key = format!("ecr_{}", URL_SAFE_NO_PAD.encode(bytes));
        let hex: String = digest(&key).iter().map(|b| format!("{b:02x}")).collect();
        (key.clone(), format!("{name} {hex}"))
    }

    /// The name of `key`, when it is accepted.
    pub fn check(&self, key: &str) -> Result<&str, AuthError> {
        if key.is_empty() {
            return Err(AuthError::MissingKey);
        }
        self.names.get(&digest(key)).map(String::as_str).ok_or(AuthError::UnknownKey)
    }
}

fn decode_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// What a delegation token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The API key's name.
    pub sub: String,
    /// The server it is for.
    pub aud: String,
    /// Issued at (Unix seconds).
    pub iat: u64,
    /// Expires at (Unix seconds).
    pub exp: u64,
}

/// Issues and checks delegation tokens for one audience.
pub struct TokenIssuer {
    secret: [u8; 32],
    audience: String,
    lifetime_s: u64,
}

const TOKEN_PREFIX: &str = "ecd1.";

impl TokenIssuer {
    /// An issuer for `audience` (trailing `/` ignored) with a fresh random secret; its tokens
    /// live `lifetime_s` seconds.
    pub fn new(audience: &str, lifetime_s: u64) -> TokenIssuer {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).expect("the system's random source works");
        TokenIssuer { secret, audience: audience.trim_end_matches('/').to_owned(), lifetime_s }
    }

    /// The audience.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    fn mac(&self, payload: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(TOKEN_PREFIX.as_bytes());
        mac.update(payload.as_bytes());
        mac
    }

    /// A token for `subject`, asked for `audience`, at `now` (Unix seconds).
    pub fn issue(&self, subject: &str, audience: &str, now: u64) -> Result<(String, Claims), AuthError> {
        let asked = audience.trim_end_matches('/');
        if asked != self.audience {
            return Err(AuthError::WrongAudience { ours: self.audience.clone(), asked: asked.to_owned() });
        }
        let claims = Claims { sub: subject.to_owned(), aud: self.audience.clone(), iat: now, exp: now + self.lifetime_s };
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).expect("claims encode"));
        let signature = URL_SAFE_NO_PAD.encode(self.mac(&payload).finalize().into_bytes());
        Ok((format!("{TOKEN_PREFIX}{payload}.{signature}"), claims))
    }

    /// The claims of `token` when this issuer signed it for its audience and it has not expired
    /// at `now`.
    pub fn verify(&self, token: &str, now: u64) -> Result<Claims, AuthError> {
        let (payload, signature) = token
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|rest| rest.split_once('.'))
            .ok_or(AuthError::Forged)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|_| AuthError::Forged)?;
        self.mac(payload).verify_slice(&signature).map_err(|_| AuthError::Forged)?;
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| AuthError::Forged)?;
        let claims: Claims = serde_json::from_slice(&json).map_err(|_| AuthError::Forged)?;
        if claims.aud != self.audience {
            return Err(AuthError::WrongAudience { ours: self.audience.clone(), asked: claims.aud });
        }
        if now >= claims.exp {
            return Err(AuthError::Expired(now - claims.exp));
        }
        Ok(claims)
    }
}

/// Remembers the nonces seen within the timestamp window, so each is accepted once.
pub struct NonceGuard {
    window_s: u64,
    capacity: usize,
    seen: Mutex<HashMap<String, u64>>,
}

impl NonceGuard {
    /// A guard accepting timestamps within `window_s` seconds of the clock, remembering at most
    /// `capacity` nonces at once.
    pub fn new(window_s: u64, capacity: usize) -> NonceGuard {
        NonceGuard { window_s, capacity, seen: Mutex::new(HashMap::new()) }
    }

    /// Accepts `nonce` at `timestamp` once, when the timestamp is within the window of `now`.
    pub fn accept(&self, nonce: &str, timestamp: &str, now: u64) -> Result<(), AuthError> {
        let well_formed = (16..=64).contains(&nonce.len())
            && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let timestamp: u64 = timestamp.parse().map_err(|_| AuthError::MissingNonce)?;
        if !well_formed {
            return Err(AuthError::MissingNonce);
        }
        let skew = now.abs_diff(timestamp);
        if skew > self.window_s {
            return Err(AuthError::Stale(skew, self.window_s));
        }
        let mut seen = self.seen.lock().expect("the nonce map is never poisoned");
        if seen.contains_key(nonce) {
            return Err(AuthError::Replayed);
        }
        if seen.len() >= self.capacity {
            seen.retain(|_, forget_at| *forget_at > now);
            if seen.len() >= self.capacity {
                return Err(AuthError::Busy);
            }
        }
        // A nonce can come back only with a timestamp inside the window, so it is kept until
        // the window around its own timestamp has passed.
        seen.insert(nonce.to_owned(), timestamp + self.window_s + 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked_by_digest_and_bad_lines_are_named() {
        let (key, line) = ApiKeys::generate("laptop-7");
        let keys = ApiKeys::parse(&format!("# devices\n{line}\n\n")).unwrap();
        assert_eq!(keys.check(&key), Ok("laptop-7"));
        assert_eq!(keys.check("ecr_other"), Err(AuthError::UnknownKey));
        assert_eq!(keys.check(""), Err(AuthError::MissingKey));
        assert!(!line.contains(&key), "the file holds the digest, never the key");
        assert!(ApiKeys::parse("laptop abc").unwrap_err().contains("line 1"));
        assert!(ApiKeys::parse("lonely").unwrap_err().contains("NAME SHA256-HEX"));
    }

    #[test]
    fn tokens_are_refused_when_forged_expired_or_for_another_server() {
        let issuer = TokenIssuer::new("https://review.example/", 900);
        let (token, claims) = issuer.issue("laptop-7", "https://review.example", 1_000).unwrap();
        assert_eq!((claims.exp, claims.aud.as_str()), (1_900, "https://review.example"));
        assert_eq!(issuer.verify(&token, 1_899).unwrap(), claims);
        assert_eq!(issuer.verify(&token, 1_905), Err(AuthError::Expired(5)));
        assert!(matches!(issuer.issue("x", "https://other.example", 1_000), Err(AuthError::WrongAudience { .. })));

        // Another server's secret, an altered payload, garbage.
        let other = TokenIssuer::new("https://review.example", 900);
        assert_eq!(other.verify(&token, 1_000), Err(AuthError::Forged));
        let (_, signature) = token.rsplit_once('.').unwrap();
        let longer = Claims { exp: 99_999, ..claims };
        let forged = format!("{TOKEN_PREFIX}{}.{signature}", URL_SAFE_NO_PAD.encode(serde_json::to_vec(&longer).unwrap()));
        assert_eq!(issuer.verify(&forged, 1_000), Err(AuthError::Forged));
        for junk in ["", "ecd1.", "ecd1.a.b", "Bearer x", &token[..token.len() - 2]] {
            assert_eq!(issuer.verify(junk, 1_000), Err(AuthError::Forged), "{junk}");
        }
    }

    #[test]
    fn a_nonce_is_accepted_once_and_old_timestamps_never() {
        let guard = NonceGuard::new(300, 3);
        let nonce = "n0123456789abcdef";
        assert_eq!(guard.accept(nonce, "1000", 1_010), Ok(()));
        assert_eq!(guard.accept(nonce, "1000", 1_010), Err(AuthError::Replayed));
        assert_eq!(guard.accept(nonce, "1200", 1_250), Err(AuthError::Replayed), "still inside its window");
        assert_eq!(guard.accept("n1123456789abcdef", "600", 1_010), Err(AuthError::Stale(410, 300)));
        assert_eq!(guard.accept("short", "1000", 1_000), Err(AuthError::MissingNonce));
        assert_eq!(guard.accept("n2123456789abcdef", "soon", 1_000), Err(AuthError::MissingNonce));
        guard.accept("n3123456789abcdef", "1000", 1_000).unwrap();
        guard.accept("n4123456789abcdef", "1000", 1_000).unwrap();
        assert_eq!(guard.accept("n5123456789abcdef", "1000", 1_000), Err(AuthError::Busy));
        // Once the window has passed the old nonces are forgotten and room comes back; a replay
        // of one of them then fails on its timestamp instead.
        guard.accept("n6123456789abcdef", "1400", 1_400).unwrap();
        assert_eq!(guard.accept(nonce, "1000", 1_400), Err(AuthError::Stale(400, 300)));
    }
}
