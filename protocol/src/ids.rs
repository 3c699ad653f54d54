//! Identifiers carried on the wire: who sent a message and which message it is.

use core::fmt;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest agent id, in bytes.
pub const AGENT_ID_MAX: usize = 64;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id is empty.
    #[error("an agent id cannot be empty")]
    Empty,
    /// The id is longer than [`AGENT_ID_MAX`] bytes.
    #[error("an agent id has at most {AGENT_ID_MAX} bytes, this one has {0}")]
    TooLong(usize),
    /// The id holds a character outside `A–Z a–z 0–9 - _ .`, which could change the meaning of
    /// the MQTT topics it is put in (`/`, `+`, `#`) or of logs.
    #[error(
        "an agent id may hold only letters, digits, `-`, `_` and `.`; `{0}` at byte {1} is not allowed"
    )]
    BadChar(char, usize),
}

/// The id of an agent (a device in the swarm) or of a coordinator: 1–64 bytes of
/// `A–Z a–z 0–9 - _ .`, so it can be put into an MQTT topic as one level without escaping.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AgentId(heapless::String<AGENT_ID_MAX>);

impl AgentId {
    /// Checks and wraps `id`.
    pub fn new(id: &str) -> Result<AgentId, IdError> {
        if id.is_empty() {
            return Err(IdError::Empty);
        }
        if id.len() > AGENT_ID_MAX {
            return Err(IdError::TooLong(id.len()));
        }
        if let Some((at, bad)) = id
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        {
            return Err(IdError::BadChar(bad, at));
        }
        // "." and ".." are legal topic levels but read like paths in logs and file names.
        if id.bytes().all(|b| b == b'.') {
            return Err(IdError::BadChar('.', 0));
        }
        let mut owned = heapless::String::new();
        owned.push_str(id).map_err(|_| IdError::TooLong(id.len()))?;
        Ok(AgentId(owned))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgentId({})", self.0)
    }
}

impl core::str::FromStr for AgentId {
    type Err = IdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AgentId::new(s)
    }
}

impl Serialize for AgentId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for AgentId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = AgentId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an agent id (1-64 bytes of letters, digits, `-`, `_`, `.`)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<AgentId, E> {
                AgentId::new(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// Fixed-size bytes shown as lowercase hex in JSON (and other human-readable formats) and
/// sent as raw bytes in postcard.
macro_rules! hex_bytes {
    ($(#[$doc:meta])* $name:ident, $len:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// Parses the hex form.
            pub fn from_hex(text: &str) -> Option<$name> {
                let bytes = text.as_bytes();
                if bytes.len() != 2 * $len {
                    return None;
                }
                let mut out = [0u8; $len];
                for (i, pair) in bytes.chunks_exact(2).enumerate() {
                    let digit = |b: u8| (b as char).to_digit(16);
                    out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
                }
                Some($name(out))
            }
        }

        impl Default for $name {
            fn default() -> $name {
                $name([0; $len])
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                if serializer.is_human_readable() {
                    serializer.collect_str(self)
                } else {
                    self.0.serialize(serializer)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                if deserializer.is_human_readable() {
                    struct Visitor;
                    impl serde::de::Visitor<'_> for Visitor {
                        type Value = $name;
                        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                            write!(f, "{} hex digits", 2 * $len)
                        }
                        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                            $name::from_hex(v).ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(v), &self))
                        }
                    }
                    deserializer.deserialize_str(Visitor)
                } else {
                    <[u8; $len]>::deserialize(deserializer).map($name)
                }
            }
        }
    };
}

hex_bytes!(
    /// A 128-bit id, unique per message (or per job, subtask and lease): the sender draws it at
    /// random, receivers use it to drop duplicates.
    MessageId,
    16
);

#[cfg(feature = "std")]
impl MessageId {
    /// A fresh id from the operating system's random source, for a message, job, subtask or
    /// lease.
    pub fn random() -> MessageId {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        MessageId(bytes)
    }
}

hex_bytes!(
    /// A sha256 digest (of a snapshot, a model file, a result).
    Sha256,
    32
);

hex_bytes!(
    /// An ed25519 public key: one that signs model manifests.
    PublicKey,
    32
);

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;

    #[test]
    fn agent_ids_are_checked() {
        assert_eq!(
            AgentId::new("laptop-7.eu_1").unwrap().as_str(),
            "laptop-7.eu_1"
        );
        assert_eq!(AgentId::new(""), Err(IdError::Empty));
        assert_eq!(AgentId::new(&"a".repeat(65)), Err(IdError::TooLong(65)));
        assert!(AgentId::new(&"a".repeat(64)).is_ok());
        for bad in ["a/b", "a+b", "#", "a b", "é", "a\0", "..", "."] {
            assert!(AgentId::new(bad).is_err(), "{bad:?} was accepted");
        }
        let err = AgentId::new("x/y").unwrap_err().to_string();
        assert!(err.contains("`/` at byte 1"), "{err}");
    }

    #[test]
    fn agent_ids_are_checked_when_decoded_too() {
        let json = serde_json::to_string(&AgentId::new("pi-4").unwrap()).unwrap();
        assert_eq!(json, "\"pi-4\"");
        assert!(serde_json::from_str::<AgentId>("\"a/b\"").is_err());
        let wire = postcard::to_allocvec("a/+").unwrap();
        assert!(postcard::from_bytes::<AgentId>(&wire).is_err());
    }

    #[test]
    fn ids_are_hex_in_json_and_raw_bytes_on_the_wire() {
        let id = MessageId([0xab; 16]);
        let text = id.to_string();
        assert_eq!(text, "ab".repeat(16));
        assert_eq!(MessageId::from_hex(&text), Some(id));
        assert_eq!(MessageId::from_hex("zz"), None);
        assert_eq!(MessageId::from_hex(&"g".repeat(32)), None);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{text}\""));
        assert_eq!(
            serde_json::from_str::<MessageId>(&format!("\"{text}\"")).unwrap(),
            id
        );
        assert!(serde_json::from_str::<MessageId>("\"abc\"").is_err());
        assert_eq!(postcard::to_allocvec(&id).unwrap(), [0xab; 16]);
        let digest = Sha256([1; 32]);
        assert_eq!(
            postcard::from_bytes::<Sha256>(&postcard::to_allocvec(&digest).unwrap()).unwrap(),
            digest
        );
        assert_eq!(serde_json::to_string(&digest).unwrap().len(), 66);
    }
}
