//! The policy store: what each agent may do for the swarm, versioned and kept in a file so a
//! restart does not forget an operator's settings.
//!
//! One version counter covers every policy: each change increases it, and the policy an agent
//! gets carries it, so an agent (and its heartbeat) shows whether it runs the latest.

use edgecoder_protocol::ids::AgentId;
use edgecoder_protocol::swarm::Policy;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Why a policy change was refused or could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy fails its own checks.
    #[error("invalid policy: {0}")]
    Invalid(&'static str),
    /// The file could not be read or written.
    #[error("policy file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Which agents a policy is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every agent without its own.
    Default,
    /// One agent.
    Agent(AgentId),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Saved {
    version: u32,
    default: Policy,
    agents: HashMap<AgentId, Policy>,
}

/// The versioned policies.
pub struct Policies {
    path: Option<PathBuf>,
    saved: Mutex<Saved>,
}

/// A conservative default: swarm work enabled, half the CPU, one subtask at a time.
pub fn default_policy() -> Policy {
    Policy {
        version: 1,
        enabled: true,
        cpu_cap_percent: 50,
        memory_limit_mb: 512,
        windows: heapless::Vec::new(),
        idle_only: false,
        idle_after_s: 300,
        concurrency: 1,
        backoff_s: 30,
        heartbeat_s: 10,
    }
}

impl Policies {
    /// Policies kept only in memory (tests, the benchmark).
    pub fn in_memory(default: Policy) -> Policies {
        Policies {
            path: None,
            saved: Mutex::new(Saved {
                version: 1,
                default,
                agents: HashMap::new(),
            }),
        }
    }

    /// Loads the policies from `path`, or starts with `default` when the file does not exist.
    pub fn open(path: &Path, default: Policy) -> Result<Policies, PolicyError> {
        let file_error = |message: String| PolicyError::File {
            path: path.to_owned(),
            message,
        };
        let saved = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                file_error(format!(
                    "does not parse ({e}); fix or remove it to start over"
                ))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Saved {
                version: 1,
                default,
                agents: HashMap::new(),
            },
            Err(e) => return Err(file_error(e.to_string())),
        };
        Ok(Policies {
            path: Some(path.to_owned()),
            saved: Mutex::new(saved),
        })
    }

    /// The policy `agent` works under, carrying the current version.
    pub fn for_agent(&self, agent: &AgentId) -> Policy {
        let saved = self
            .saved
            .lock()
            .expect("the policy lock is never poisoned");
        let mut policy = saved.agents.get(agent).unwrap_or(&saved.default).clone();
        policy.version = saved.version;
        policy
    }

    /// The policy of agents without their own, carrying the current version.
    pub fn fleet_default(&self) -> Policy {
        let saved = self.saved.lock().expect("the policy lock is never poisoned");
        let mut policy = saved.default.clone();
        policy.version = saved.version;
        policy
    }

    /// The agents with their own policy, by id.
    pub fn overrides(&self) -> Vec<(AgentId, Policy)> {
        let saved = self.saved.lock().expect("the policy lock is never poisoned");
        let mut all: Vec<(AgentId, Policy)> = saved.agents.iter().map(|(a, p)| (a.clone(), p.clone())).collect();
        all.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        all
    }

    /// The current version.
    pub fn version(&self) -> u32 {
        self.saved
            .lock()
            .expect("the policy lock is never poisoned")
            .version
    }

    /// Sets the policy for `scope`; returns the new version. Nothing changes when the policy
    /// is invalid or cannot be saved.
    pub fn set(&self, scope: &Scope, mut policy: Policy) -> Result<u32, PolicyError> {
        use edgecoder_protocol::envelope::Message;
        let mut saved = self
            .saved
            .lock()
            .expect("the policy lock is never poisoned");
        let mut next = saved.clone();
        next.version += 1;
        policy.version = next.version;
        policy.validate().map_err(PolicyError::Invalid)?;
        match scope {
            Scope::Default => next.default = policy,
            Scope::Agent(agent) => {
                next.agents.insert(agent.clone(), policy);
            }
        }
        if let Some(path) = &self.path {
            crate::fsutil::write_atomically(
                path,
                &serde_json::to_vec_pretty(&next).expect("policies encode"),
            )
            .map_err(|e| PolicyError::File {
                path: path.clone(),
                message: e.to_string(),
            })?;
        }
        *saved = next;
        Ok(saved.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_versioned_saved_and_reloaded() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policies.json");
        let policies = Policies::open(&path, default_policy()).unwrap();
        let agent = AgentId::new("laptop-1").unwrap();
        let mut tight = default_policy();
        tight.cpu_cap_percent = 10;
        assert_eq!(
            policies.set(&Scope::Agent(agent.clone()), tight).unwrap(),
            2
        );
        assert_eq!(policies.for_agent(&agent).cpu_cap_percent, 10);
        assert_eq!(
            policies.for_agent(&AgentId::new("other").unwrap()).version,
            2
        );
        let reopened = Policies::open(&path, default_policy()).unwrap();
        assert_eq!(reopened.for_agent(&agent).cpu_cap_percent, 10);
        assert_eq!(reopened.version(), 2);
    }

    #[test]
    fn an_invalid_policy_changes_nothing() {
        let policies = Policies::in_memory(default_policy());
        let mut bad = default_policy();
        bad.cpu_cap_percent = 0;
        assert!(matches!(
            policies.set(&Scope::Default, bad),
            Err(PolicyError::Invalid(_))
        ));
        assert_eq!(policies.version(), 1);
        assert_eq!(
            policies
                .for_agent(&AgentId::new("a").unwrap())
                .cpu_cap_percent,
            50
        );
    }

    #[test]
    fn a_corrupt_file_is_reported_with_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policies.json");
        std::fs::write(&path, b"{not json").unwrap();
        let error = Policies::open(&path, default_policy())
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("fix or remove it"), "{error}");
    }
}
