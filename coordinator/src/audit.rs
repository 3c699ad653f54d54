//! The audit log: every lifecycle event, hash-chained so that changing, removing or reordering
//! an entry is detected by [`verify`].
//!
//! Entry `n`'s hash is `sha256(hash(n-1) ‖ postcard(entry n without its hash))`; the first
//! entry chains from 32 zero bytes. Both stores append entries in the same transaction as the
//! change they record.

use crate::model::{Millis, sha256};
use edgecoder_protocol::ids::{MessageId, Sha256};
use serde::{Deserialize, Serialize};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A job was submitted.
    Submit,
    /// A job was split into subtasks.
    Decompose,
    /// A subtask was leased to an agent.
    Assign,
    /// A subtask's result was recorded.
    Complete,
    /// A subtask went back to the queue (failure, expired lease, released lease).
    Requeue,
    /// A subtask was handed to the parent model.
    Escalate,
    /// A job finished, failed or was cancelled.
    JobEnd,
    /// An agent's policy changed.
    PolicyChange,
    /// A job's patches went to be merged, or conflicted.
    Merge,
    /// A model rollout started, advanced, halted or was rolled back, or an agent finished
    /// (or refused) installing it.
    Rollout,
    /// A tenant's, group's or agent's feature settings or membership changed.
    Feature,
}

impl Event {
    /// Every event, in the order they are listed.
    pub const ALL: [Event; 11] = [
        Event::Submit,
        Event::Decompose,
        Event::Assign,
        Event::Complete,
        Event::Requeue,
        Event::Escalate,
        Event::JobEnd,
        Event::PolicyChange,
        Event::Merge,
        Event::Rollout,
        Event::Feature,
    ];

    /// Its name as the API writes it (`policy_change`).
    pub fn name(self) -> &'static str {
        match self {
            Event::Submit => "submit",
            Event::Decompose => "decompose",
            Event::Assign => "assign",
            Event::Complete => "complete",
            Event::Requeue => "requeue",
            Event::Escalate => "escalate",
            Event::JobEnd => "job_end",
            Event::PolicyChange => "policy_change",
            Event::Merge => "merge",
            Event::Rollout => "rollout",
            Event::Feature => "feature",
        }
    }
}

/// One event with what it touched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// What happened.
    pub event: Event,
    /// When.
    pub at: Millis,
    /// The job, when there is one.
    pub job: Option<MessageId>,
    /// The subtask, when there is one.
    pub subtask: Option<MessageId>,
    /// The agent, when there is one.
    pub agent: Option<String>,
    /// sha256 of the result, for completions and job ends.
    pub result_hash: Option<Sha256>,
    /// A short human-readable detail (`lease expired`, `attempt 2 failed: …`).
    pub detail: String,
}

/// An entry of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its position, from 1.
    pub seq: u64,
    /// The event.
    pub record: Record,
    /// The hash of the previous entry.
    pub prev: Sha256,
    /// This entry's hash.
    pub hash: Sha256,
}

/// The end of the chain: where the next entry goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Head {
    /// The last entry's seq (0: empty).
    pub seq: u64,
    /// The last entry's hash (zeros: empty).
    pub hash: Sha256,
}

impl Head {
    /// Chains a record after this head and moves the head to it.
    pub fn append(&mut self, record: Record) -> Entry {
        let seq = self.seq + 1;
        let hash = chain_hash(&self.hash, seq, &record);
        let entry = Entry {
            seq,
            record,
            prev: self.hash,
            hash,
        };
        *self = Head { seq, hash };
        entry
    }
}

fn chain_hash(prev: &Sha256, seq: u64, record: &Record) -> Sha256 {
    let body = postcard::to_allocvec(&(seq, record)).expect("audit records always encode");
    let mut bytes = Vec::with_capacity(32 + body.len());
    bytes.extend_from_slice(&prev.0);
    bytes.extend_from_slice(&body);
    sha256(&bytes)
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Broken {
    /// An entry's seq is not the one after its predecessor's (removed or reordered entries).
    #[error("audit entry {found} follows entry {after}: entries are missing or out of order")]
    Gap {
        /// The previous seq.
        after: u64,
        /// The seq found.
        found: u64,
    },
    /// An entry does not name its predecessor's hash.
    #[error("audit entry {0} does not chain from the entry before it: the log was altered")]
    Link(u64),
    /// An entry's content does not match its hash.
    #[error("audit entry {0} was changed after it was written: its hash does not match")]
    Content(u64),
}

/// Checks a chain from its first entry; returns how many entries it holds and its head.
pub fn verify<I: IntoIterator<Item = Entry>>(entries: I) -> Result<Head, Broken> {
    let mut head = Head::default();
    for entry in entries {
        if entry.seq != head.seq + 1 {
            return Err(Broken::Gap {
                after: head.seq,
                found: entry.seq,
            });
        }
        if entry.prev != head.hash {
            return Err(Broken::Link(entry.seq));
        }
        if chain_hash(&entry.prev, entry.seq, &entry.record) != entry.hash {
            return Err(Broken::Content(entry.seq));
        }
        head = Head {
            seq: entry.seq,
            hash: entry.hash,
        };
    }
    Ok(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_are_the_api_names() {
        for event in Event::ALL {
            assert_eq!(serde_json::to_value(event).unwrap(), event.name());
        }
    }

    fn record(detail: &str) -> Record {
        Record {
            event: Event::Submit,
            at: 1,
            job: None,
            subtask: None,
            agent: None,
            result_hash: None,
            detail: detail.into(),
        }
    }

    fn chain(n: usize) -> Vec<Entry> {
        let mut head = Head::default();
        (0..n)
            .map(|i| head.append(record(&format!("e{i}"))))
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify(chain(5)).unwrap().seq, 5);
    }

    #[test]
    fn a_changed_entry_is_found() {
        let mut entries = chain(5);
        entries[2].record.detail = "forged".into();
        assert_eq!(verify(entries), Err(Broken::Content(3)));
    }

    #[test]
    fn a_removed_entry_is_found() {
        let mut entries = chain(5);
        entries.remove(1);
        assert_eq!(verify(entries), Err(Broken::Gap { after: 1, found: 3 }));
    }

    #[test]
    fn a_rehashed_forgery_breaks_the_next_link() {
        let mut entries = chain(5);
        entries[2].record.detail = "forged".into();
        entries[2].hash = chain_hash(&entries[2].prev, 3, &entries[2].record);
        assert_eq!(verify(entries), Err(Broken::Link(4)));
    }
}
