//! The MQTT topics of the swarm, and who may publish and subscribe to each.
//!
//! | topic | message | published by | read by | retained | QoS |
//! |---|---|---|---|---|---|
//! | `ec/v1/agents/{id}/hello` | [`Hello`](crate::swarm::Hello) | agent `{id}` | coordinator | no | 1 |
//! | `ec/v1/agents/{id}/heartbeat` | [`Heartbeat`](crate::swarm::Heartbeat) | agent `{id}` | coordinator | no | 0 |
//! | `ec/v1/agents/{id}/ask` | [`Ask`](crate::swarm::Ask) | agent `{id}` | coordinator | no | 1 |
//! | `ec/v1/agents/{id}/result` | `WorkResult` | agent `{id}` | coordinator | no | 1 |
//! | `ec/v1/agents/{id}/status` | [`Status`](crate::swarm::Status) | agent `{id}` (its last will too) | coordinator | yes | 1 |
//! | `ec/v1/agents/{id}/work` | `Work` | coordinator | agent `{id}` | no | 1 |
//! | `ec/v1/agents/{id}/policy` | [`Policy`](crate::swarm::Policy) | coordinator | agent `{id}` | yes | 1 |
//! | `ec/v1/agents/{id}/manifest` | `ManifestOffer` (a signed model manifest) | coordinator | agent `{id}` | yes | 1 |
//! | `ec/v1/agents/{id}/model` | `ModelReport` (install progress, refusals with their code) | agent `{id}` | coordinator | no | 1 |
//! | `ec/v1/agents/{id}/features` | [`AgentFeatures`](crate::swarm::AgentFeatures) (local-model feature, mode) | coordinator | agent `{id}` | yes | 1 |
//! | `ec/v1/coord/status` | [`Status`](crate::swarm::Status) | coordinator (its last will too) | everyone | yes | 1 |
//!
//! An agent may publish only under its own id, and subscribe only to its own `work`, `policy`,
//! `manifest` and `features` topics and to `ec/v1/coord/status`, by exact name (no wildcards). A coordinator may
//! publish the coordinator-published topics of any agent and subscribe to anything under
//! `ec/v1/`. The broker enforces [`may_publish`] and [`may_subscribe`]; receivers also check
//! that an envelope's kind is the one its topic carries and that its sender is the topic's
//! agent.

use crate::envelope::{Envelope, Kind};
use crate::ids::{AgentId, IdError};
use core::fmt::{self, Write};

/// The first two levels of every swarm topic.
pub const PREFIX: &str = "ec/v1";

/// The longest topic, in bytes.
pub const TOPIC_MAX: usize = 96;

/// Which side publishes on a topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Publisher {
    /// The agent the topic belongs to.
    Agent,
    /// The coordinator.
    Coordinator,
}

/// The last level of an agent's topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Leaf {
    /// `hello`.
    Hello,
    /// `heartbeat`.
    Heartbeat,
    /// `ask`.
    Ask,
    /// `result`.
    Result,
    /// `status`.
    Status,
    /// `work`.
    Work,
    /// `policy`.
    Policy,
    /// `manifest`.
    Manifest,
    /// `model`.
    Model,
    /// `features`.
    Features,
}

impl Leaf {
    /// Every leaf.
    pub const ALL: [Leaf; 10] = [
        Leaf::Hello,
        Leaf::Heartbeat,
        Leaf::Ask,
        Leaf::Result,
        Leaf::Status,
        Leaf::Work,
        Leaf::Policy,
        Leaf::Manifest,
        Leaf::Model,
        Leaf::Features,
    ];

    /// Its name in the topic.
    pub fn name(self) -> &'static str {
        self.kind().name()
    }

    /// The message kind it carries.
    pub fn kind(self) -> Kind {
        match self {
            Leaf::Hello => Kind::Hello,
            Leaf::Heartbeat => Kind::Heartbeat,
            Leaf::Ask => Kind::Ask,
            Leaf::Result => Kind::Result,
            Leaf::Status => Kind::Status,
            Leaf::Work => Kind::Work,
            Leaf::Policy => Kind::Policy,
            Leaf::Manifest => Kind::Manifest,
            Leaf::Model => Kind::ModelReport,
            Leaf::Features => Kind::Features,
        }
    }

    /// Who publishes on it.
    pub fn publisher(self) -> Publisher {
        match self {
            Leaf::Work | Leaf::Policy | Leaf::Manifest | Leaf::Features => Publisher::Coordinator,
            _ => Publisher::Agent,
        }
    }

    /// Whether messages on it are retained by the broker (the latest one is what a new
    /// subscriber needs).
    pub fn retained(self) -> bool {
        matches!(self, Leaf::Status | Leaf::Policy | Leaf::Manifest | Leaf::Features)
    }

    /// The MQTT QoS to publish with: heartbeats are frequent and superseded, so at most once;
    /// everything else at least once (receivers drop repeats by message id).
    pub fn qos(self) -> u8 {
        if self == Leaf::Heartbeat { 0 } else { 1 }
    }

    fn from_name(name: &str) -> Option<Leaf> {
        Leaf::ALL.into_iter().find(|leaf| leaf.name() == name)
    }
}

/// A swarm topic.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// One of an agent's topics.
    Agent {
        /// The agent.
        agent: AgentId,
        /// Which one.
        leaf: Leaf,
    },
    /// The coordinator's presence.
    CoordinatorStatus,
}

/// Why a string is not a swarm topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// It does not start with `ec/`.
    #[error("not an EdgeCoder topic (they start with `{PREFIX}/`)")]
    NotOurs,
    /// It is for another protocol version.
    #[error("topic of another protocol version (this build speaks `{PREFIX}`)")]
    WrongVersion,
    /// Its levels are not those of any topic in the table.
    #[error("no such topic in the swarm's topic table")]
    Unknown,
    /// The agent level is not a valid agent id.
    #[error("bad agent id in topic: {0}")]
    BadAgent(IdError),
}

impl Topic {
    /// An agent's topic.
    pub fn agent(agent: &AgentId, leaf: Leaf) -> Topic {
        Topic::Agent {
            agent: agent.clone(),
            leaf,
        }
    }

    /// Parses a topic name (no wildcards).
    pub fn parse(topic: &str) -> Result<Topic, TopicError> {
        let mut levels = topic.split('/');
        if levels.next() != Some("ec") {
            return Err(TopicError::NotOurs);
        }
        if levels.next() != Some("v1") {
            return Err(TopicError::WrongVersion);
        }
        let parsed = match (levels.next(), levels.next(), levels.next()) {
            (Some("agents"), Some(agent), Some(leaf)) => {
                let leaf = Leaf::from_name(leaf).ok_or(TopicError::Unknown)?;
                let agent = AgentId::new(agent).map_err(TopicError::BadAgent)?;
                Topic::Agent { agent, leaf }
            }
            (Some("coord"), Some("status"), None) => Topic::CoordinatorStatus,
            _ => return Err(TopicError::Unknown),
        };
        if levels.next().is_some() {
            return Err(TopicError::Unknown);
        }
        Ok(parsed)
    }

    /// The message kind the topic carries.
    pub fn kind(&self) -> Kind {
        match self {
            Topic::Agent { leaf, .. } => leaf.kind(),
            Topic::CoordinatorStatus => Kind::Status,
        }
    }

    /// Whether its messages are retained.
    pub fn retained(&self) -> bool {
        match self {
            Topic::Agent { leaf, .. } => leaf.retained(),
            Topic::CoordinatorStatus => true,
        }
    }

    /// The QoS to publish with.
    pub fn qos(&self) -> u8 {
        match self {
            Topic::Agent { leaf, .. } => leaf.qos(),
            Topic::CoordinatorStatus => 1,
        }
    }

    /// The topic name, without allocating.
    pub fn to_text(&self) -> heapless::String<TOPIC_MAX> {
        let mut text = heapless::String::new();
        // Ids are at most 64 bytes, so the longest topic (87 bytes) fits.
        let _ = write!(text, "{self}");
        text
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topic::Agent { agent, leaf } => write!(f, "{PREFIX}/agents/{agent}/{}", leaf.name()),
            Topic::CoordinatorStatus => write!(f, "{PREFIX}/coord/status"),
        }
    }
}

/// Why an envelope does not belong on the topic it arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    /// The topic carries another kind of message.
    #[error("a {envelope} message on a {topic} topic")]
    Kind {
        /// What the topic carries.
        topic: Kind,
        /// What the envelope holds.
        envelope: Kind,
    },
    /// An agent's topic carries a message whose sender is another agent.
    #[error("a message from another agent on this agent's topic")]
    Sender,
}

impl Topic {
    /// Checks that `envelope` may travel on this topic: the kind is the topic's, and on the
    /// topics an agent publishes, the sender is that agent.
    pub fn admits(&self, envelope: &Envelope) -> Result<(), Mismatch> {
        if envelope.kind != self.kind() {
            return Err(Mismatch::Kind {
                topic: self.kind(),
                envelope: envelope.kind,
            });
        }
        match self {
            Topic::Agent { agent, leaf }
                if leaf.publisher() == Publisher::Agent && envelope.sender != *agent =>
            {
                Err(Mismatch::Sender)
            }
            _ => Ok(()),
        }
    }
}

/// Who is connected to the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A coordinator (or an operator's tool with coordinator credentials).
    Coordinator,
    /// An agent, by its enrolled id.
    Agent(AgentId),
}

/// Whether `role` may publish to `topic`.
pub fn may_publish(role: &Role, topic: &str) -> bool {
    match (role, Topic::parse(topic)) {
        (_, Err(_)) => false,
        (Role::Coordinator, Ok(Topic::Agent { leaf, .. })) => {
            leaf.publisher() == Publisher::Coordinator
        }
        (Role::Coordinator, Ok(Topic::CoordinatorStatus)) => true,
        (Role::Agent(me), Ok(Topic::Agent { agent, leaf })) => {
            agent == *me && leaf.publisher() == Publisher::Agent
        }
        (Role::Agent(_), Ok(Topic::CoordinatorStatus)) => false,
    }
}

/// Whether `role` may subscribe to `filter` (a topic name or an MQTT filter with `+`/`#`).
pub fn may_subscribe(role: &Role, filter: &str) -> bool {
    match role {
        Role::Coordinator => filter_stays_under_prefix(filter),
        Role::Agent(me) => match Topic::parse(filter) {
            Ok(Topic::Agent { agent, leaf }) => {
                agent == *me && leaf.publisher() == Publisher::Coordinator
            }
            Ok(Topic::CoordinatorStatus) => true,
            Err(_) => false,
        },
    }
}

/// Whether every topic `filter` can match lies under `ec/v1/` (a well-formed filter whose first
/// two levels are literal).
fn filter_stays_under_prefix(filter: &str) -> bool {
    let levels: heapless::Vec<&str, 16> = match filter
        .split('/')
        .try_fold(heapless::Vec::new(), |mut v, level| {
            v.push(level).map(|()| v).map_err(|_| ())
        }) {
        Ok(levels) => levels,
        Err(()) => return false,
    };
    let well_formed = levels.iter().enumerate().all(|(i, level)| match *level {
        "#" => i == levels.len() - 1,
        "+" => true,
        other => !other.contains(['+', '#']),
    });
    well_formed && levels.len() >= 3 && levels[0] == "ec" && levels[1] == "v1"
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn id(text: &str) -> AgentId {
        AgentId::new(text).unwrap()
    }

    #[test]
    fn every_topic_round_trips_through_its_name() {
        let agent = id("pi-5.kitchen");
        for leaf in Leaf::ALL {
            let topic = Topic::agent(&agent, leaf);
            let name = topic.to_string();
            assert_eq!(
                name,
                alloc::format!("ec/v1/agents/pi-5.kitchen/{}", leaf.name())
            );
            assert_eq!(Topic::parse(&name), Ok(topic.clone()));
            assert_eq!(topic.to_text().as_str(), name);
            assert_eq!(topic.kind(), leaf.kind());
        }
        assert_eq!(
            Topic::parse("ec/v1/coord/status"),
            Ok(Topic::CoordinatorStatus)
        );
        let longest = Topic::agent(&id(&"a".repeat(64)), Leaf::Heartbeat);
        assert_eq!(longest.to_text().len(), longest.to_string().len());
    }

    #[test]
    fn bad_topics_are_named_precisely() {
        assert_eq!(
            Topic::parse("foo/v1/agents/a/hello"),
            Err(TopicError::NotOurs)
        );
        assert_eq!(
            Topic::parse("ec/v2/agents/a/hello"),
            Err(TopicError::WrongVersion)
        );
        assert_eq!(
            Topic::parse("ec/v1/agents/a/shell"),
            Err(TopicError::Unknown)
        );
        assert_eq!(
            Topic::parse("ec/v1/agents/a/hello/x"),
            Err(TopicError::Unknown)
        );
        assert_eq!(Topic::parse("ec/v1/agents/a"), Err(TopicError::Unknown));
        assert_eq!(
            Topic::parse("ec/v1/coord/status/x"),
            Err(TopicError::Unknown)
        );
        assert!(matches!(
            Topic::parse("ec/v1/agents/+/hello"),
            Err(TopicError::BadAgent(_))
        ));
        assert!(matches!(
            Topic::parse("ec/v1/agents//hello"),
            Err(TopicError::BadAgent(IdError::Empty))
        ));
    }

    #[test]
    fn an_agent_publishes_only_as_itself_and_reads_only_its_own_work() {
        let a = Role::Agent(id("a"));
        assert!(may_publish(&a, "ec/v1/agents/a/heartbeat"));
        assert!(may_publish(&a, "ec/v1/agents/a/result"));
        assert!(
            !may_publish(&a, "ec/v1/agents/b/heartbeat"),
            "publishing as b"
        );
        assert!(
            !may_publish(&a, "ec/v1/agents/a/policy"),
            "granting itself a policy"
        );
        assert!(!may_publish(&a, "ec/v1/agents/a/work"));
        assert!(
            !may_publish(&a, "ec/v1/agents/a/manifest"),
            "offering itself a model"
        );
        assert!(may_publish(&a, "ec/v1/agents/a/model"));
        assert!(!may_publish(&a, "ec/v1/agents/b/model"), "reporting as b");
        assert!(!may_publish(&a, "ec/v1/coord/status"));
        assert!(!may_publish(&a, "ec/v1/agents/+/heartbeat"));
        assert!(!may_publish(&a, "elsewhere"));

        assert!(may_subscribe(&a, "ec/v1/agents/a/work"));
        assert!(may_subscribe(&a, "ec/v1/agents/a/policy"));
        assert!(may_subscribe(&a, "ec/v1/agents/a/manifest"));
        assert!(may_subscribe(&a, "ec/v1/coord/status"));
        for filter in [
            "ec/v1/agents/b/work",
            "ec/v1/agents/b/manifest",
            "ec/v1/agents/a/model",
            "ec/v1/agents/+/work",
            "ec/v1/agents/a/#",
            "ec/v1/#",
            "#",
            "ec/v1/agents/a/+",
            "ec/v1/agents/b/heartbeat",
            "ec/v1/agents/a/heartbeat",
        ] {
            assert!(
                !may_subscribe(&a, filter),
                "agent a may not subscribe to {filter}"
            );
        }
    }

    #[test]
    fn the_coordinator_drives_agents_but_does_not_speak_for_them() {
        let c = Role::Coordinator;
        assert!(may_publish(&c, "ec/v1/agents/a/work"));
        assert!(may_publish(&c, "ec/v1/agents/a/policy"));
        assert!(may_publish(&c, "ec/v1/coord/status"));
        assert!(
            !may_publish(&c, "ec/v1/agents/a/result"),
            "forging an agent's result"
        );
        assert!(!may_publish(&c, "ec/v1/agents/+/policy"));
        assert!(may_subscribe(&c, "ec/v1/agents/+/heartbeat"));
        assert!(may_subscribe(&c, "ec/v1/#"));
        for filter in [
            "#",
            "ec/#",
            "+/v1/agents/a/work",
            "ec/v1/a#",
            "ec/v1/#/x",
            "$SYS/#",
            "other/topic",
        ] {
            assert!(!may_subscribe(&c, filter), "{filter}");
        }
    }

    #[test]
    fn each_leaf_has_its_own_kind_and_publisher() {
        let kinds: alloc::collections::BTreeSet<_> = Leaf::ALL.iter().map(|l| l.kind()).collect();
        assert_eq!(kinds.len(), Leaf::ALL.len());
        assert!(Leaf::Policy.retained() && Leaf::Status.retained() && !Leaf::Work.retained());
        assert_eq!(Leaf::Heartbeat.qos(), 0);
        assert_eq!(Leaf::Result.qos(), 1);
    }
}
