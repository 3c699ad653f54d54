//! The versioned envelope every swarm message travels in.
//!
//! On the wire (postcard, in this order): protocol version (varint `u16`), message kind (one
//! byte), message id (16 bytes), sender ([`AgentId`], length-prefixed), send time (varint
//! milliseconds since the Unix epoch), body (length-prefixed postcard bytes of the message),
//! then an optional 64-byte ed25519 signature. A signature covers every byte before it (the
//! "signed part"), so the header cannot be changed without breaking it; which kinds must be
//! signed, and by whom, is the receiver's rule (see the topic table in [`crate::topic`]).
//!
//! Decoding never panics and never trusts a length: oversized, truncated, wrong-version,
//! wrong-kind and malformed payloads come back as a [`DecodeError`], which a receiver counts in
//! its [`DecodeCounters`].

use crate::ids::{AgentId, IdError, MessageId};
use core::sync::atomic::{AtomicU32, Ordering};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_bytes::Bytes;

/// The protocol version this build speaks. A payload of another version is rejected with
/// [`DecodeError::WrongVersion`]. Version 2 added the file a subtask edits to `Work`; the
/// topics' second level (`ec/v1`) names their layout, which is unchanged since version 1.
pub const PROTOCOL_VERSION: u16 = 2;

/// The largest envelope accepted from the wire, in bytes.
pub const MAX_ENVELOPE_BYTES: usize = 256 * 1024;

/// The length of an ed25519 signature.
pub const SIGNATURE_BYTES: usize = 64;

/// What an envelope carries; each kind has exactly one message type and one topic leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An agent introduces itself: [`crate::swarm::Hello`].
    Hello,
    /// An agent's periodic liveness and load: [`crate::swarm::Heartbeat`].
    Heartbeat,
    /// An agent asks for work: [`crate::swarm::Ask`].
    Ask,
    /// The coordinator hands an agent a subtask under a lease: `swarm::Work`.
    Work,
    /// An agent reports a subtask's outcome: `swarm::WorkResult`.
    Result,
    /// The coordinator sets an agent's policy: [`crate::swarm::Policy`].
    Policy,
    /// An agent's or coordinator's presence: [`crate::swarm::Status`].
    Status,
    /// The coordinator offers an agent a signed model manifest: `swarm::ManifestOffer`.
    Manifest,
    /// An agent reports how installing an offered model goes: `swarm::ModelReport`.
    ModelReport,
    /// The coordinator sets an agent's feature settings: [`crate::swarm::AgentFeatures`].
    Features,
}

impl Kind {
    /// Every kind, in wire-code order.
    pub const ALL: [Kind; 10] = [
        Kind::Hello,
        Kind::Heartbeat,
        Kind::Ask,
        Kind::Work,
        Kind::Result,
        Kind::Policy,
        Kind::Status,
        Kind::Manifest,
        Kind::ModelReport,
        Kind::Features,
    ];

    /// The byte that stands for this kind on the wire.
    pub fn code(self) -> u8 {
        self as u8 + 1
    }

    /// The kind a wire byte stands for.
    pub fn from_code(code: u8) -> Option<Kind> {
        Kind::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }

    /// The kind's name, as in topics and JSON (`hello`, `heartbeat`, …).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Hello => "hello",
            Kind::Heartbeat => "heartbeat",
            Kind::Ask => "ask",
            Kind::Work => "work",
            Kind::Result => "result",
            Kind::Policy => "policy",
            Kind::Status => "status",
            Kind::Manifest => "manifest",
            Kind::ModelReport => "model",
            Kind::Features => "features",
        }
    }

    /// The kind with this name.
    pub fn from_name(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == name)
    }
}

impl core::fmt::Display for Kind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// A message that travels in an envelope.
pub trait Message: Serialize + DeserializeOwned {
    /// Its kind.
    const KIND: Kind;
    /// The largest body accepted for it, in bytes.
    const MAX_BODY: usize;

    /// Checks what the type system cannot (ranges, consistency); a receiver rejects a message
    /// that fails with [`DecodeError::Invalid`].
    fn validate(&self) -> Result<(), &'static str> {
        Ok(())
    }
}

/// The header of an envelope: everything but the body and the signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    /// The protocol version it was sent with.
    pub version: u16,
    /// What the body is.
    pub kind: Kind,
    /// Unique per message; receivers drop repeats.
    pub id: MessageId,
    /// Who sent it (an agent or a coordinator).
    pub sender: AgentId,
    /// When it was sent, milliseconds since the Unix epoch (the sender's clock).
    pub sent_at_ms: u64,
}

/// Why a message could not be put in an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// The message failed its own checks; sending it would only get it rejected.
    #[error("a {kind} message is invalid: {reason}")]
    Invalid {
        /// The message's kind.
        kind: Kind,
        /// What is wrong.
        reason: &'static str,
    },
    /// The encoded body is over the kind's limit.
    #[error("a {kind} body of {len} bytes is over its limit of {max} bytes")]
    BodyTooLarge {
        /// The message's kind.
        kind: Kind,
        /// The body's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The caller's buffer is too small for the envelope.
    #[error("the envelope needs a larger buffer")]
    BufferTooSmall,
}

/// Why a payload was rejected. Each variant has a stable [`code`](DecodeError::code) for
/// counting and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The payload is over [`MAX_ENVELOPE_BYTES`]; nothing of it was read.
    #[error("payload of {len} bytes is over the limit of {max} bytes")]
    TooLarge {
        /// The payload's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The payload ends inside a field.
    #[error("payload ends inside its {field}")]
    Truncated {
        /// The field being read.
        field: &'static str,
    },
    /// A field does not decode.
    #[error("malformed {field}")]
    Malformed {
        /// The field being read.
        field: &'static str,
    },
    /// The sender speaks another protocol version.
    #[error(
        "protocol version {got} is not supported (this build speaks {supported}): update the older side"
    )]
    WrongVersion {
        /// The version in the payload.
        got: u16,
        /// The version this build speaks.
        supported: u16,
    },
    /// The kind byte names no kind.
    #[error("unknown message kind {code}")]
    UnknownKind {
        /// The byte.
        code: u8,
    },
    /// The envelope holds another kind than the one expected (on this topic).
    #[error("expected a {expected} message, got a {got} message")]
    WrongKind {
        /// What the receiver expected.
        expected: Kind,
        /// What the envelope says.
        got: Kind,
    },
    /// The sender id is not a valid agent id.
    #[error("bad sender id: {0}")]
    BadSender(IdError),
    /// The signature is not 64 bytes.
    #[error("a signature has {SIGNATURE_BYTES} bytes, this one has {len}")]
    BadSignature {
        /// Its length.
        len: usize,
    },
    /// Bytes follow the envelope's last field.
    #[error("{count} bytes of garbage after the envelope")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// The body is over its kind's limit.
    #[error("a {kind} body of {len} bytes is over its limit of {max} bytes")]
    BodyTooLarge {
        /// The kind.
        kind: Kind,
        /// The body's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The body does not decode as its kind's message.
    #[error("the body is not a valid {kind} message")]
    BadBody {
        /// The kind.
        kind: Kind,
    },
    /// The body decodes but fails the message's own checks.
    #[error("invalid {kind} message: {reason}")]
    Invalid {
        /// The kind.
        kind: Kind,
        /// What is wrong.
        reason: &'static str,
    },
}

impl DecodeError {
    /// Every code, in the order of [`DecodeCounters::snapshot`].
    pub const CODES: [&'static str; 12] = [
        "too_large",
        "truncated",
        "malformed",
        "wrong_version",
        "unknown_kind",
        "wrong_kind",
        "bad_sender",
        "bad_signature",
        "trailing_bytes",
        "body_too_large",
        "bad_body",
        "invalid",
    ];

    fn index(&self) -> usize {
        match self {
            DecodeError::TooLarge { .. } => 0,
            DecodeError::Truncated { .. } => 1,
            DecodeError::Malformed { .. } => 2,
            DecodeError::WrongVersion { .. } => 3,
            DecodeError::UnknownKind { .. } => 4,
            DecodeError::WrongKind { .. } => 5,
            DecodeError::BadSender(_) => 6,
            DecodeError::BadSignature { .. } => 7,
            DecodeError::TrailingBytes { .. } => 8,
            DecodeError::BodyTooLarge { .. } => 9,
            DecodeError::BadBody { .. } => 10,
            DecodeError::Invalid { .. } => 11,
        }
    }

    /// A stable, snake_case name of the error's variant, for metrics and logs.
    pub fn code(&self) -> &'static str {
        Self::CODES[self.index()]
    }
}

/// Counts rejected payloads by [`DecodeError::code`]; shared by reference between the tasks
/// of a receiver, lock-free.
#[derive(Debug, Default)]
pub struct DecodeCounters {
    counts: [AtomicU32; DecodeError::CODES.len()],
}

impl DecodeCounters {
    /// All counts at zero.
    pub const fn new() -> DecodeCounters {
        DecodeCounters {
            counts: [const { AtomicU32::new(0) }; DecodeError::CODES.len()],
        }
    }

    /// Counts `error` and hands it back, for `.map_err(|e| counters.record(e))`.
    pub fn record(&self, error: DecodeError) -> DecodeError {
        self.counts[error.index()].fetch_add(1, Ordering::Relaxed);
        error
    }

    /// How many errors with this code were counted.
    pub fn get(&self, code: &str) -> u32 {
        DecodeError::CODES
            .iter()
            .position(|c| *c == code)
            .map_or(0, |i| self.counts[i].load(Ordering::Relaxed))
    }

    /// Every code with its count.
    pub fn snapshot(&self) -> [(&'static str, u32); DecodeError::CODES.len()] {
        core::array::from_fn(|i| {
            (
                DecodeError::CODES[i],
                self.counts[i].load(Ordering::Relaxed),
            )
        })
    }

    /// All errors counted so far.
    pub fn total(&self) -> u64 {
        self.counts
            .iter()
            .map(|c| u64::from(c.load(Ordering::Relaxed)))
            .sum()
    }
}

/// A parsed envelope whose body is still encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEnvelope<'a> {
    /// The header.
    pub envelope: Envelope,
    /// The encoded message.
    pub body: &'a [u8],
    /// The signature, when the sender signed it.
    pub signature: Option<&'a [u8; SIGNATURE_BYTES]>,
    /// The bytes the signature covers (everything before it).
    pub signed_part: &'a [u8],
}

/// A decoded envelope and its message.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened<'a, M> {
    /// The header.
    pub envelope: Envelope,
    /// The message.
    pub message: M,
    /// The signature, when the sender signed it.
    pub signature: Option<&'a [u8; SIGNATURE_BYTES]>,
    /// The bytes the signature covers.
    pub signed_part: &'a [u8],
}

/// The header fields and the body length as postcard writes them, which is the signed part
/// without the body bytes themselves.
type HeaderFields<'a> = (u16, u8, [u8; 16], &'a str, u64);

fn header_fields(envelope: &Envelope) -> HeaderFields<'_> {
    (
        envelope.version,
        envelope.kind.code(),
        envelope.id.0,
        envelope.sender.as_str(),
        envelope.sent_at_ms,
    )
}

/// The current time in milliseconds since the Unix epoch, the unit of `sent_at_ms`.
#[cfg(feature = "std")]
pub fn unix_time_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The current time in whole seconds since the Unix epoch, the unit of HTTP APIs' timestamps.
#[cfg(feature = "std")]
pub fn unix_time_s() -> u64 {
    unix_time_ms() / 1000
}

impl Envelope {
    /// A header for message kind `M`, in this build's protocol version.
    pub fn new<M: Message>(id: MessageId, sender: AgentId, sent_at_ms: u64) -> Envelope {
        Envelope {
            version: PROTOCOL_VERSION,
            kind: M::KIND,
            id,
            sender,
            sent_at_ms,
        }
    }

    /// A header for message kind `M` from `sender`, with a fresh random id and the current
    /// time: what every host-side sender puts on its messages.
    #[cfg(feature = "std")]
    pub fn stamped<M: Message>(sender: AgentId) -> Envelope {
        Envelope::new::<M>(MessageId::random(), sender, unix_time_ms())
    }

    fn check<M: Message>(&self, message: &M) -> Result<(), EncodeError> {
        debug_assert_eq!(self.kind, M::KIND, "a header made for another kind");
        message.validate().map_err(|reason| EncodeError::Invalid {
            kind: M::KIND,
            reason,
        })
    }

    /// Encodes `message` in this envelope, unsigned.
    #[cfg(feature = "alloc")]
    pub fn seal<M: Message>(&self, message: &M) -> Result<alloc::vec::Vec<u8>, EncodeError> {
        self.check(message)?;
        let body = postcard::to_allocvec(message).map_err(|_| EncodeError::BufferTooSmall)?;
        if body.len() > M::MAX_BODY {
            return Err(EncodeError::BodyTooLarge {
                kind: M::KIND,
                len: body.len(),
                max: M::MAX_BODY,
            });
        }
        let (v, k, id, sender, at) = header_fields(self);
        let mut out = postcard::to_allocvec(&(v, k, id, sender, at, Bytes::new(&body)))
            .map_err(|_| EncodeError::BufferTooSmall)?;
        out.push(0);
        Ok(out)
    }

    /// Encodes `message` in this envelope, unsigned, into `buffer` without allocating;
    /// returns the part of `buffer` that holds the envelope.
    pub fn seal_into<'b, M: Message>(
        &self,
        message: &M,
        buffer: &'b mut [u8],
    ) -> Result<&'b mut [u8], EncodeError> {
        self.check(message)?;
        let body_len = postcard::to_slice(message, buffer)
            .map_err(|_| EncodeError::BufferTooSmall)?
            .len();
        if body_len > M::MAX_BODY {
            return Err(EncodeError::BodyTooLarge {
                kind: M::KIND,
                len: body_len,
                max: M::MAX_BODY,
            });
        }
        // The body's length prefix is a varint like every postcard integer.
        let (v, k, id, sender, at) = header_fields(self);
        let mut header = [0u8; 128];
        let header_len = postcard::to_slice(&(v, k, id, sender, at, body_len as u64), &mut header)
            .map_err(|_| EncodeError::BufferTooSmall)?
            .len();
        let total = header_len + body_len + 1;
        if buffer.len() < total {
            return Err(EncodeError::BufferTooSmall);
        }
        buffer.copy_within(..body_len, header_len);
        buffer[..header_len].copy_from_slice(&header[..header_len]);
        buffer[total - 1] = 0;
        Ok(&mut buffer[..total])
    }

    /// Reads an envelope's header and finds its body and signature, without decoding the body.
    pub fn parse(payload: &[u8]) -> Result<RawEnvelope<'_>, DecodeError> {
        if payload.len() > MAX_ENVELOPE_BYTES {
            return Err(DecodeError::TooLarge {
                len: payload.len(),
                max: MAX_ENVELOPE_BYTES,
            });
        }
        let (version, rest) = take::<u16>(payload, "protocol version")?;
        if version != PROTOCOL_VERSION {
            return Err(DecodeError::WrongVersion {
                got: version,
                supported: PROTOCOL_VERSION,
            });
        }
        let (code, rest) = take::<u8>(rest, "message kind")?;
        let kind = Kind::from_code(code).ok_or(DecodeError::UnknownKind { code })?;
        let (id, rest) = take::<[u8; 16]>(rest, "message id")?;
        let (sender, rest) = take::<&str>(rest, "sender")?;
        let sender = AgentId::new(sender).map_err(DecodeError::BadSender)?;
        let (sent_at_ms, rest) = take::<u64>(rest, "send time")?;
        let (body, rest) = take::<&Bytes>(rest, "body")?;
        let signed_part = &payload[..payload.len() - rest.len()];
        let (signature, rest) = take::<Option<&Bytes>>(rest, "signature")?;
        let signature = match signature {
            None => None,
            Some(bytes) => Some(
                <&[u8; SIGNATURE_BYTES]>::try_from(&bytes[..])
                    .map_err(|_| DecodeError::BadSignature { len: bytes.len() })?,
            ),
        };
        if !rest.is_empty() {
            return Err(DecodeError::TrailingBytes { count: rest.len() });
        }
        let envelope = Envelope {
            version,
            kind,
            id: MessageId(id),
            sender,
            sent_at_ms,
        };
        Ok(RawEnvelope {
            envelope,
            body,
            signature,
            signed_part,
        })
    }

    /// Decodes an envelope that must hold a message of type `M`, and checks the message.
    pub fn open<M: Message>(payload: &[u8]) -> Result<Opened<'_, M>, DecodeError> {
        let raw = Envelope::parse(payload)?;
        let message = raw.decode_body::<M>()?;
        Ok(Opened {
            envelope: raw.envelope,
            message,
            signature: raw.signature,
            signed_part: raw.signed_part,
        })
    }
}

impl RawEnvelope<'_> {
    /// Decodes and checks the body as a message of type `M`.
    pub fn decode_body<M: Message>(&self) -> Result<M, DecodeError> {
        let kind = self.envelope.kind;
        if kind != M::KIND {
            return Err(DecodeError::WrongKind {
                expected: M::KIND,
                got: kind,
            });
        }
        if self.body.len() > M::MAX_BODY {
            return Err(DecodeError::BodyTooLarge {
                kind,
                len: self.body.len(),
                max: M::MAX_BODY,
            });
        }
        let message: M = match postcard::take_from_bytes(self.body) {
            Ok((message, [])) => message,
            _ => return Err(DecodeError::BadBody { kind }),
        };
        message
            .validate()
            .map_err(|reason| DecodeError::Invalid { kind, reason })?;
        Ok(message)
    }
}

/// Puts `signature` on an unsigned envelope made by [`Envelope::seal`]; the signature must be
/// over [`RawEnvelope::signed_part`], which is the envelope without its last byte.
#[cfg(feature = "alloc")]
pub fn attach_signature(
    unsigned: &[u8],
    signature: &[u8; SIGNATURE_BYTES],
) -> Result<alloc::vec::Vec<u8>, DecodeError> {
    let raw = Envelope::parse(unsigned)?;
    if raw.signature.is_some() {
        return Err(DecodeError::BadSignature {
            len: SIGNATURE_BYTES,
        });
    }
    let mut signed = raw.signed_part.to_vec();
    signed.push(1);
    signed.push(SIGNATURE_BYTES as u8);
    signed.extend_from_slice(signature);
    Ok(signed)
}

fn take<'a, T: Deserialize<'a>>(
    bytes: &'a [u8],
    field: &'static str,
) -> Result<(T, &'a [u8]), DecodeError> {
    postcard::take_from_bytes(bytes).map_err(|error| match error {
        postcard::Error::DeserializeUnexpectedEnd => DecodeError::Truncated { field },
        _ => DecodeError::Malformed { field },
    })
}
