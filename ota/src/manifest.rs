//! Signed model manifests on the device's side: signing (the offline `edgecoder-sign` tool),
//! the trusted keys pinned in the daemon's config (rotated only by a statement the current
//! key signed), and the rules a manifest must pass before a single byte is fetched. Every
//! refusal has a [`RejectCode`] the daemon reports to the coordinator.
//!
//! ```
//! use edgecoder_ota::manifest::{DeviceRules, TrustedKeys, generate_key, sign, verify_manifest};
//! use edgecoder_protocol::manifest::{ManifestFile, ModelManifest, Statement};
//! use edgecoder_protocol::{PublicKey, Sha256};
//! let key = generate_key();
//! let manifest = ModelManifest {
//!     model: "qwen2.5-coder-0.5b".into(), version: "1.0.0".into(),
//!     files: vec![ManifestFile { name: "model.gguf".into(), size: 4, sha256: Sha256([0; 32]),
//!         sources: vec!["https://models.example.com/model.gguf".into()] }],
//!     min_daemon_version: "0.1.0".into(), runtime: "gguf".into(), quantization: "Q4_K_M".into(),
//!     issued_at: 100, expires_at: 200, sequence: 1, rollback: false,
//! };
//! let signed = sign(&Statement::Model(manifest), &key);
//! let trusted = TrustedKeys::new(vec![PublicKey(key.verifying_key().to_bytes())]);
//! let rules = DeviceRules { sources: vec!["https://models.example.com/".into()], models: None, daemon_version: "0.1.0".into() };
//! assert!(verify_manifest(&signed, &trusted, None, &rules, 150).is_ok());
//! assert!(verify_manifest(&signed, &trusted, None, &rules, 250).is_err());
//! ```

use ed25519_dalek::Signer;
/// The private key that signs statements (kept offline).
pub use ed25519_dalek::SigningKey;
use edgecoder_protocol::PublicKey;
use edgecoder_protocol::manifest::{KeyRotation, ModelManifest, SignatureError, SignedStatement, Statement};
use semver::Version;
use serde::Serialize;
use sha2::Digest;
use std::fmt;

/// Why a manifest was refused, as reported to the coordinator and shown on the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectCode {
    /// The bytes are not a signed statement (or not a model manifest where one was expected).
    Malformed,
    /// There is no signature.
    Unsigned,
    /// The signature does not verify.
    BadSignature,
    /// The signer's key is not one of the trusted keys.
    UnknownKey,
    /// The manifest expired, or was issued in the future.
    Expired,
    /// Its sequence number is not above the installed one (a replay), or its version is lower
    /// without being an explicit rollback.
    Downgrade,
    /// One of its sources is not on the device's allowlist.
    SourceNotAllowed,
    /// The device's policy does not allow this model.
    ModelNotAllowed,
    /// The model needs a newer daemon.
    DaemonTooOld,
    /// A downloaded file's sha256 differs from the manifest's.
    DigestMismatch,
    /// A download grew past the size the manifest declares.
    SizeExceeded,
}

impl RejectCode {
    /// The code as reported (`snake_case`).
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::Malformed => "malformed",
            RejectCode::Unsigned => "unsigned",
            RejectCode::BadSignature => "bad_signature",
            RejectCode::UnknownKey => "unknown_key",
            RejectCode::Expired => "expired",
            RejectCode::Downgrade => "downgrade",
            RejectCode::SourceNotAllowed => "source_not_allowed",
            RejectCode::ModelNotAllowed => "model_not_allowed",
            RejectCode::DaemonTooOld => "daemon_too_old",
            RejectCode::DigestMismatch => "digest_mismatch",
            RejectCode::SizeExceeded => "size_exceeded",
        }
    }
}

/// A refused manifest (or download): the code and what it means for this manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message} ({})", code.as_str())]
pub struct Rejection {
    /// Why, as a code.
    pub code: RejectCode,
    /// Why, for a person.
    pub message: String,
}

fn reject(code: RejectCode, message: impl Into<String>) -> Rejection {
    Rejection { code, message: message.into() }
}

/// A new signing key from the operating system's random source.
pub fn generate_key() -> SigningKey {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the operating system's random source is available");
    SigningKey::from_bytes(&seed)
}

/// Reads a key file written by `edgecoder-sign keygen`: 64 hex digits (a public key, or the
/// seed of a private one).
pub fn read_key_file(path: &std::path::Path) -> std::io::Result<PublicKey> {
    let text = std::fs::read_to_string(path)?;
    PublicKey::from_hex(text.trim()).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "not a key: expected 64 hex digits")
    })
}

/// Signs `statement` with `key`.
pub fn sign(statement: &Statement, key: &SigningKey) -> SignedStatement {
    let mut signed = SignedStatement {
        statement: postcard::to_allocvec(statement).expect("a statement encodes"),
        key: PublicKey(key.verifying_key().to_bytes()),
        signature: Vec::new(),
    };
    signed.signature = key.sign(&signed.signed_bytes()).to_bytes().to_vec();
    signed
}

/// Decodes a published signed statement (postcard).
pub fn decode(bytes: &[u8]) -> Result<SignedStatement, Rejection> {
    postcard::from_bytes(bytes).map_err(|e| reject(RejectCode::Malformed, format!("not a signed statement: {e}")))
}

/// Checks that `signed` carries a valid ed25519 signature by its own key, then decodes the
/// statement. Whether that key is trusted is the caller's question.
pub fn check_signature(signed: &SignedStatement) -> Result<Statement, Rejection> {
    signed.verify().map_err(|error| {
        let code = match error {
            SignatureError::Unsigned => RejectCode::Unsigned,
            SignatureError::NotAStatement(_) => RejectCode::Malformed,
            SignatureError::WrongLength(_) | SignatureError::NotAKey(_) | SignatureError::DoesNotVerify(_) => RejectCode::BadSignature,
        };
        reject(code, error.to_string())
    })
}

/// The public keys whose signatures a device accepts (pinned in the daemon's config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: Vec<PublicKey>,
}

impl TrustedKeys {
    /// Trusts `keys`.
    pub fn new(keys: Vec<PublicKey>) -> TrustedKeys {
        TrustedKeys { keys }
    }

    /// The trusted keys.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// Checks the signature and that a trusted key made it; returns the statement.
    pub fn open(&self, signed: &SignedStatement) -> Result<Statement, Rejection> {
        let statement = check_signature(signed)?;
        if !self.keys.contains(&signed.key) {
            return Err(reject(
                RejectCode::UnknownKey,
                format!("key {} is not trusted: pin it in the daemon's config (trusted_keys), or rotate to it with a statement the current key signs", signed.key),
            ));
        }
        Ok(statement)
    }

    /// Applies a key rotation signed by a trusted key: its new key replaces the signer's.
    /// Returns the rotation.
    pub fn rotate(&mut self, signed: &SignedStatement) -> Result<KeyRotation, Rejection> {
        let Statement::RotateKey(rotation) = self.open(signed)? else {
            return Err(reject(RejectCode::Malformed, "this is a model manifest, not a key rotation"));
        };
        self.keys.retain(|k| *k != signed.key);
        if !self.keys.contains(&rotation.new_key) {
            self.keys.push(rotation.new_key);
        }
        Ok(rotation)
    }
}

impl fmt::Display for TrustedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys: Vec<String> = self.keys.iter().map(ToString::to_string).collect();
        f.write_str(&keys.join(", "))
    }
}

/// The model a device runs now, as far as manifests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    /// The sequence number of the manifest it was installed from.
    pub sequence: u64,
    /// Its version.
    pub version: String,
}

/// The device's own rules for manifests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRules {
    /// Allowed source prefixes (e.g. `https://models.example.com/`, `pypi:`, `file:///srv/models/`).
    pub sources: Vec<String>,
    /// The models the device's policy allows (`None`: any).
    pub models: Option<Vec<String>>,
    /// This daemon's version (semver).
    pub daemon_version: String,
}

fn version(text: &str, what: &str) -> Result<Version, Rejection> {
    Version::parse(text).map_err(|e| reject(RejectCode::Malformed, format!("{what} {text:?} is not a semver version: {e}")))
}

/// Checks a signed model manifest against the trusted keys, what is installed, the device's
/// rules and the time `now` (seconds since the Unix epoch). Only a manifest that passes may be
/// downloaded; its files are then checked with [`FileCheck`].
pub fn verify_manifest(
    signed: &SignedStatement,
    trusted: &TrustedKeys,
    installed: Option<&Installed>,
    rules: &DeviceRules,
    now: u64,
) -> Result<ModelManifest, Rejection> {
    let Statement::Model(manifest) = trusted.open(signed)? else {
        return Err(reject(RejectCode::Malformed, "this is a key rotation, not a model manifest"));
    };
    if now >= manifest.expires_at {
        return Err(reject(RejectCode::Expired, format!("the manifest of {} expired at {} (now {now}): sign a new one", manifest.model, manifest.expires_at)));
    }
    if manifest.issued_at > now + 300 {
        return Err(reject(RejectCode::Expired, format!("the manifest was issued at {}, in the future (now {now}): check the clocks", manifest.issued_at)));
    }
    if let Some(models) = &rules.models
        && !models.contains(&manifest.model)
    {
        return Err(reject(RejectCode::ModelNotAllowed, format!("the policy does not allow model {} (allowed: {})", manifest.model, models.join(", "))));
    }
    let offered = version(&manifest.version, "the model version")?;
    let needed = version(&manifest.min_daemon_version, "the minimum daemon version")?;
    if version(&rules.daemon_version, "the daemon version")? < needed {
        return Err(reject(RejectCode::DaemonTooOld, format!("{} needs daemon {needed} or newer; this is {}: update the daemon first", manifest.model, rules.daemon_version)));
    }
    if let Some(installed) = installed {
        if manifest.sequence <= installed.sequence {
            return Err(reject(RejectCode::Downgrade, format!("sequence {} is not above the installed {}: an old manifest cannot be replayed", manifest.sequence, installed.sequence)));
        }
        if offered < version(&installed.version, "the installed version")? && !manifest.rollback {
            return Err(reject(RejectCode::Downgrade, format!("version {offered} is below the installed {}: a downgrade must be a signed rollback manifest", installed.version)));
        }
    }
    if manifest.files.is_empty() {
        return Err(reject(RejectCode::Malformed, "the manifest lists no files"));
    }
    for file in &manifest.files {
        if file.sources.is_empty() {
            return Err(reject(RejectCode::Malformed, format!("{} has no source", file.name)));
        }
        // Each part of a joined `pypi:` source is checked on its own.
        let parts = file.sources.iter().flat_map(|s| if s.starts_with("pypi:") { s.split('+').collect() } else { vec![s.as_str()] });
        if let Some(source) = parts.into_iter().find(|s| !rules.sources.iter().any(|allowed| s.starts_with(allowed.as_str()))) {
            return Err(reject(RejectCode::SourceNotAllowed, format!("source {source} of {} is not on the allowlist ({})", file.name, rules.sources.join(", "))));
        }
    }
    Ok(manifest)
}

/// Checks a file's bytes as they arrive against the manifest's size and sha256: a download is
/// stopped as soon as it grows past the declared size, and refused at the end when its digest
/// differs.
pub struct FileCheck {
    name: String,
    expected_size: u64,
    expected_sha256: edgecoder_protocol::Sha256,
    seen: u64,
    hasher: sha2::Sha256,
}

impl FileCheck {
    /// A check for `file` of a manifest.
    pub fn new(file: &edgecoder_protocol::manifest::ManifestFile) -> FileCheck {
        FileCheck { name: file.name.clone(), expected_size: file.size, expected_sha256: file.sha256, seen: 0, hasher: sha2::Sha256::new() }
    }

    /// Takes the next bytes of the file.
    pub fn update(&mut self, bytes: &[u8]) -> Result<(), Rejection> {
        self.seen += bytes.len() as u64;
        if self.seen > self.expected_size {
            return Err(reject(RejectCode::SizeExceeded, format!("{} grew past its declared {} bytes: the download was stopped", self.name, self.expected_size)));
        }
        self.hasher.update(bytes);
        Ok(())
    }

    /// Ends the check: the whole file arrived and its digest is the manifest's.
    pub fn finish(self) -> Result<(), Rejection> {
        if self.seen != self.expected_size {
            return Err(reject(RejectCode::DigestMismatch, format!("{} has {} bytes, the manifest says {}", self.name, self.seen, self.expected_size)));
        }
        let digest = edgecoder_protocol::Sha256(self.hasher.finalize().into());
        if digest != self.expected_sha256 {
            return Err(reject(RejectCode::DigestMismatch, format!("{} hashes to {digest}, the manifest says {}", self.name, self.expected_sha256)));
        }
        Ok(())
    }
}
