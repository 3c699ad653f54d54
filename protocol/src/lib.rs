//! Wire types shared by every EdgeCoder component.
//!
//! Everything that crosses a process boundary (executor child process, daemon API, swarm
//! messages) is a type in this crate, encoded with `postcard` on the wire and mirrored as JSON
//! for people and scripts. This crate does no I/O.

pub mod run;

pub use run::{
    ExecRequest, ExecResponse, ExitCode, Isolation, IsolationReport, Lang, Limits, Outcome,
    ReasonCode, RunResult, TestCase, TestReport, TestStatus,
};

/// Errors from encoding or decoding a wire payload.
#[derive(Debug)]
pub struct CodecError(pub postcard::Error);

impl core::fmt::Display for CodecError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "malformed payload: {}", self.0)
    }
}

impl std::error::Error for CodecError {}

/// Encodes a wire type as postcard bytes.
pub fn encode<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    postcard::to_allocvec(value).map_err(CodecError)
}

/// Decodes postcard bytes into a wire type, rejecting trailing garbage.
pub fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, CodecError> {
    let (value, rest) = postcard::take_from_bytes(bytes).map_err(CodecError)?;
    if rest.is_empty() {
        Ok(value)
    } else {
        Err(CodecError(postcard::Error::DeserializeBadEncoding))
    }
}
