//! The agent registry: who has said hello, what they run, when they were last heard from.

use crate::model::Millis;
use edgecoder_protocol::ids::AgentId;
use edgecoder_protocol::swarm::{Heartbeat, Hello, Presence};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;

/// How an agent is doing, as the coordinator sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Liveness {
    /// Heard from within three heartbeat periods.
    Online,
    /// Silent for three heartbeat periods: no new work.
    Stale,
    /// Said it is gone (or its will said so), or silent for ten heartbeat periods.
    Offline,
    /// Connected but refusing work (its own status said why).
    Refusing,
}

/// One agent.
#[derive(Debug, Clone, Serialize)]
pub struct AgentView {
    /// Its id.
    pub id: AgentId,
    /// What it said in its hello.
    pub hello: Hello,
    /// How it is doing.
    pub liveness: Liveness,
    /// When it said hello.
    pub since: Millis,
    /// When it was last heard from.
    pub last_seen: Millis,
    /// Its latest heartbeat.
    pub heartbeat: Option<Heartbeat>,
    /// Why it refuses work, when it does.
    pub reason: Option<String>,
}

/// Every agent that said hello since the coordinator started.
#[derive(Default)]
pub struct Registry {
    agents: Mutex<HashMap<AgentId, AgentView>>,
}

impl Registry {
    /// Records a hello (a new agent, or one that reconnected).
    pub fn hello(&self, id: &AgentId, hello: Hello, now: Millis) {
        let mut agents = self
            .agents
            .lock()
            .expect("the registry lock is never poisoned");
        agents.insert(
            id.clone(),
            AgentView {
                id: id.clone(),
                hello,
                liveness: Liveness::Online,
                since: now,
                last_seen: now,
                heartbeat: None,
                reason: None,
            },
        );
    }

    /// Records a heartbeat; `false` when the agent never said hello (it must, first).
    pub fn heartbeat(&self, id: &AgentId, heartbeat: Heartbeat, now: Millis) -> bool {
        let mut agents = self
            .agents
            .lock()
            .expect("the registry lock is never poisoned");
        let Some(agent) = agents.get_mut(id) else {
            return false;
        };
        agent.last_seen = now;
        agent.heartbeat = Some(heartbeat);
        if matches!(agent.liveness, Liveness::Stale | Liveness::Offline) {
            agent.liveness = Liveness::Online;
        }
        true
    }

    /// Records a status message.
    pub fn status(&self, id: &AgentId, presence: Presence, reason: &str, now: Millis) {
        let mut agents = self
            .agents
            .lock()
            .expect("the registry lock is never poisoned");
        if let Some(agent) = agents.get_mut(id) {
            agent.last_seen = now;
            agent.liveness = match presence {
                Presence::Online | Presence::Draining => Liveness::Online,
                Presence::Offline => Liveness::Offline,
                Presence::Refusing => Liveness::Refusing,
            };
            agent.reason = (!reason.is_empty()).then(|| reason.to_owned());
        }
    }

    /// The agent, when it said hello.
    pub fn get(&self, id: &AgentId) -> Option<AgentView> {
        self.agents
            .lock()
            .expect("the registry lock is never poisoned")
            .get(id)
            .cloned()
    }

    /// Every agent, by id.
    pub fn all(&self) -> Vec<AgentView> {
        let mut all: Vec<AgentView> = self
            .agents
            .lock()
            .expect("the registry lock is never poisoned")
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        all
    }

    /// Marks agents silent for too long as stale or offline (`heartbeat_ms`: their period);
    /// whether any agent changed.
    pub fn sweep(&self, heartbeat_ms: u64, now: Millis) -> bool {
        let mut agents = self
            .agents
            .lock()
            .expect("the registry lock is never poisoned");
        let mut changed = false;
        for agent in agents.values_mut() {
            let silent = now.saturating_sub(agent.last_seen);
            let before = agent.liveness;
            if silent >= 10 * heartbeat_ms {
                agent.liveness = Liveness::Offline;
            } else if silent >= 3 * heartbeat_ms && agent.liveness == Liveness::Online {
                agent.liveness = Liveness::Stale;
            }
            changed |= agent.liveness != before;
        }
        changed
    }
}
