//! The swarm link of a microcontroller-class agent, over any MQTT client that implements
//! `embedded-svc`'s traits (ESP-IDF's client does): it sends hellos, heartbeats and status,
//! receives its policy and the coordinator's presence, and never allocates.
//!
//! Such a device only reports and obeys policy; it runs no work (its hello says
//! `max_concurrency: 0`).

use crate::envelope::{DecodeCounters, DecodeError, EncodeError, Envelope, Message};
use crate::ids::{AgentId, MessageId};
use crate::swarm::{Policy, Status};
use crate::topic::{Leaf, Publisher, Topic};
use embedded_svc::mqtt::client::{Details, EventPayload, Publish, QoS};

/// The largest envelope a small device sends: a hello at its body limit plus the header.
const SEND_BUFFER: usize = 1280;

/// Why the link could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum LinkError<E: core::fmt::Debug> {
    /// The MQTT client failed.
    #[error("MQTT client error: {0:?}")]
    Client(E),
    /// The message could not be encoded.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A small device sends only on its own agent-published topics.
    #[error("an agent does not publish {0} messages")]
    NotAnAgentMessage(crate::envelope::Kind),
}

/// What a received MQTT message meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A newer policy: it is now the one in force.
    Policy(Policy),
    /// A policy not newer than the one in force; ignored.
    StalePolicy {
        /// Its version.
        version: u32,
    },
    /// The coordinator's presence changed.
    Coordinator(Status),
    /// Not a message for this agent (another topic, or an event that carries no message).
    Ignored,
    /// A payload was rejected (and counted); nothing changed.
    Rejected(DecodeError),
}

/// One agent's link to the swarm.
pub struct SwarmLink<C> {
    client: C,
    agent: AgentId,
    heartbeat_seq: u32,
    policy: Option<Policy>,
    /// Rejected payloads by reason.
    pub rejected: DecodeCounters,
}

impl<C: Publish + embedded_svc::mqtt::client::Client> SwarmLink<C> {
    /// A link for `agent` over a connected `client`.
    pub fn new(client: C, agent: AgentId) -> SwarmLink<C> {
        SwarmLink {
            client,
            agent,
            heartbeat_seq: 0,
            policy: None,
            rejected: DecodeCounters::new(),
        }
    }

    /// Subscribes to this agent's policy topic and to the coordinator's status (call it after
    /// every connect).
    pub fn subscribe(&mut self) -> Result<(), LinkError<C::Error>> {
        for topic in [
            Topic::agent(&self.agent, Leaf::Policy),
            Topic::CoordinatorStatus,
        ] {
            self.client
                .subscribe(topic.to_text().as_str(), QoS::AtLeastOnce)
                .map_err(LinkError::Client)?;
        }
        Ok(())
    }

    /// Sends `message` on this agent's topic for its kind; `id` must be fresh (e.g. from the
    /// device's hardware random number generator) and `now_ms` is the Unix time in milliseconds.
    pub fn send<M: Message>(
        &mut self,
        message: &M,
        id: MessageId,
        now_ms: u64,
    ) -> Result<(), LinkError<C::Error>> {
        let leaf = crate::topic::Leaf::ALL
            .into_iter()
            .find(|leaf| leaf.kind() == M::KIND && leaf.publisher() == Publisher::Agent)
            .ok_or(LinkError::NotAnAgentMessage(M::KIND))?;
        let topic = Topic::agent(&self.agent, leaf);
        let mut buffer = [0u8; SEND_BUFFER];
        let payload =
            Envelope::new::<M>(id, self.agent.clone(), now_ms).seal_into(message, &mut buffer)?;
        let qos = if topic.qos() == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        self.client
            .publish(topic.to_text().as_str(), qos, topic.retained(), payload)
            .map_err(LinkError::Client)?;
        Ok(())
    }

    /// The sequence number for the next heartbeat (counts up from 0 on every call).
    pub fn next_heartbeat_seq(&mut self) -> u32 {
        let seq = self.heartbeat_seq;
        self.heartbeat_seq = self.heartbeat_seq.wrapping_add(1);
        seq
    }

    /// The policy in force, once one was received.
    pub fn policy(&self) -> Option<&Policy> {
        self.policy.as_ref()
    }

    /// Handles an event from the client's connection.
    pub fn handle<E>(&mut self, event: &EventPayload<'_, E>) -> Received {
        match event {
            EventPayload::Received {
                topic: Some(topic),
                data,
                details,
                ..
            } => {
                if *details != Details::Complete {
                    // Swarm messages for small devices are far below any client's chunk size;
                    // a chunked one is not one of them.
                    return self.reject(DecodeError::TooLarge {
                        len: data.len(),
                        max: SEND_BUFFER,
                    });
                }
                self.receive(topic, data)
            }
            _ => Received::Ignored,
        }
    }

    /// Handles a message received on `topic`.
    pub fn receive(&mut self, topic: &str, payload: &[u8]) -> Received {
        let Ok(parsed) = Topic::parse(topic) else {
            return Received::Ignored;
        };
        let for_me = match &parsed {
            Topic::Agent {
                agent,
                leaf: Leaf::Policy,
            } => *agent == self.agent,
            Topic::CoordinatorStatus => true,
            Topic::Agent { .. } => false,
        };
        if !for_me {
            return Received::Ignored;
        }
        let raw = match Envelope::parse(payload) {
            Ok(raw) => raw,
            Err(error) => return self.reject(error),
        };
        if parsed.admits(&raw.envelope).is_err() {
            return self.reject(DecodeError::WrongKind {
                expected: parsed.kind(),
                got: raw.envelope.kind,
            });
        }
        match parsed {
            Topic::CoordinatorStatus => match raw.decode_body::<Status>() {
                Ok(status) => Received::Coordinator(status),
                Err(error) => self.reject(error),
            },
            Topic::Agent { .. } => match raw.decode_body::<Policy>() {
                Ok(policy)
                    if self
                        .policy
                        .as_ref()
                        .is_some_and(|p| p.version >= policy.version) =>
                {
                    Received::StalePolicy {
                        version: policy.version,
                    }
                }
                Ok(policy) => {
                    self.policy = Some(policy.clone());
                    Received::Policy(policy)
                }
                Err(error) => self.reject(error),
            },
        }
    }

    fn reject(&self, error: DecodeError) -> Received {
        Received::Rejected(self.rejected.record(error))
    }

    /// The client, e.g. to disconnect it.
    pub fn client(&mut self) -> &mut C {
        &mut self.client
    }
}
