//! Wire types shared by every EdgeCoder component.
//!
//! Everything that crosses a process boundary (executor child process, daemon API, swarm
//! messages) is a type in this crate, encoded with `postcard` on the wire and mirrored as JSON
//! (serde) for people and scripts. This crate does no I/O.
//!
//! The swarm speaks MQTT: [`topic`] names every topic and who may publish or subscribe to it,
//! [`envelope`] wraps every message in a versioned, optionally signed envelope, and [`swarm`]
//! holds the messages themselves. Without the default `alloc` feature the crate is `no_std` and
//! allocation-free, so a microcontroller-class device can send hellos, heartbeats and status and
//! receive its policy; the `embedded-svc` feature adds an MQTT adapter for such devices.
#![cfg_attr(not(feature = "std"), no_std)]

#[cfg(feature = "alloc")]
extern crate alloc;

#[cfg(feature = "embedded-svc")]
pub mod embedded;
pub mod envelope;
pub mod ids;
#[cfg(feature = "alloc")]
pub mod inference;
#[cfg(feature = "alloc")]
pub mod manifest;
#[cfg(feature = "alloc")]
pub mod review;
#[cfg(feature = "alloc")]
pub mod run;
pub mod swarm;
pub mod topic;

pub use envelope::{
    DecodeCounters, DecodeError, EncodeError, Envelope, Kind, Message, Opened, PROTOCOL_VERSION,
};
pub use ids::{AgentId, IdError, MessageId, PublicKey, Sha256};
#[cfg(feature = "alloc")]
pub use run::{
    ExecRequest, ExecResponse, ExitCode, Isolation, IsolationReport, Lang, Limits, Outcome,
    ReasonCode, RunResult, TestCase, TestReport, TestStatus,
};
pub use topic::{Role, Topic, TopicError};

/// Errors from encoding or decoding a wire payload.
#[derive(Debug)]
pub struct CodecError(pub postcard::Error);

impl core::fmt::Display for CodecError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "malformed payload: {}", self.0)
    }
}

impl core::error::Error for CodecError {}

/// Encodes a wire type as postcard bytes.
#[cfg(feature = "alloc")]
pub fn encode<T: serde::Serialize>(value: &T) -> Result<alloc::vec::Vec<u8>, CodecError> {
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
