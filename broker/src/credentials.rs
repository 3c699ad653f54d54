//! Who may connect to the broker: agents with the secret they got at enrolment, and
//! coordinators.

use edgecoder_protocol::AgentId;
use edgecoder_protocol::topic::Role;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

/// Decides who a connecting client is, from its MQTT client id and login.
pub trait Authenticate: Send + Sync + 'static {
    /// The client's role, or `None` to refuse the connection.
    fn authenticate(&self, client_id: &str, username: &str, password: &str) -> Option<Role>;
}

/// Why an enrolment failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnrolError {
    /// The token was never issued, was used already, or expired.
    #[error(
        "enrolment token unknown, used or expired: ask the operator for a new one (`edgecoder-coordinator enrol-token`)"
    )]
    BadToken,
    /// The agent id asked for is taken by another agent.
    #[error("agent id `{0}` is taken by another agent: choose another one")]
    IdTaken(AgentId),
}

/// A freshly enrolled agent's credentials: its MQTT client id and username are the agent id,
/// its password the secret. The secret is shown once and only its hash is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrolled {
    /// The agent's id.
    pub agent: AgentId,
    /// Its secret (64 hex digits).
    pub secret: String,
}

/// The broker's credential store: coordinator logins, enrolled agents (sha256 of their
/// secrets), and single-use enrolment tokens.
#[derive(Default)]
pub struct Credentials {
    coordinators: RwLock<HashMap<String, [u8; 32]>>,
    agents: RwLock<HashMap<AgentId, [u8; 32]>>,
    tokens: RwLock<HashMap<[u8; 32], Instant>>,
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A random 256-bit secret as 64 hex digits.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two digests in time independent of where they differ.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

impl Credentials {
    /// An empty store.
    pub fn new() -> Credentials {
        Credentials::default()
    }

    /// Lets a coordinator log in as `username` with `password`.
    pub fn add_coordinator(&self, username: &str, password: &str) {
        self.coordinators
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(username.to_owned(), hash(password));
    }

    /// Issues a single-use enrolment token valid for `ttl`.
    pub fn issue_enrolment_token(&self, ttl: Duration) -> String {
        let token = random_secret();
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        tokens.retain(|_, expires| *expires > now);
        tokens.insert(hash(&token), now + ttl);
        token
    }

    /// Trades an enrolment token for credentials under the agent id `wanted`; the token is
    /// used up only when this succeeds.
    pub fn enrol(&self, token: &str, wanted: &AgentId) -> Result<Enrolled, EnrolError> {
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        let key = hash(token);
        match tokens.get(&key) {
            Some(expires) if *expires > Instant::now() => {}
            _ => return Err(EnrolError::BadToken),
        }
        let mut agents = self.agents.write().unwrap_or_else(|p| p.into_inner());
        if agents.contains_key(wanted) {
            return Err(EnrolError::IdTaken(wanted.clone()));
        }
        tokens.remove(&key);
        let secret = random_secret();
        agents.insert(wanted.clone(), hash(&secret));
        Ok(Enrolled {
            agent: wanted.clone(),
            secret,
        })
    }

    /// Removes an agent: its next connection is refused (a connected one stays until it
    /// disconnects).
    pub fn revoke(&self, agent: &AgentId) -> bool {
        self.agents
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .remove(agent)
            .is_some()
    }
}

impl Authenticate for Credentials {
    fn authenticate(&self, client_id: &str, username: &str, password: &str) -> Option<Role> {
        let given = hash(password);
        if let Some(known) = self
            .coordinators
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(username)
        {
            return same(known, &given).then_some(Role::Coordinator);
        }
        // An agent's MQTT session is its identity: client id and username must both be its id.
        if client_id != username {
            return None;
        }
        let agent = AgentId::new(username).ok()?;
        let agents = self.agents.read().unwrap_or_else(|p| p.into_inner());
        let known = agents.get(&agent)?;
        same(known, &given).then_some(Role::Agent(agent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrolment_tokens_are_single_use_and_expire() {
        let store = Credentials::new();
        let id = AgentId::new("laptop-1").unwrap();
        let token = store.issue_enrolment_token(Duration::from_secs(60));
        let enrolled = store.enrol(&token, &id).unwrap();
        assert_eq!(enrolled.secret.len(), 64);
        assert_eq!(
            store.enrol(&token, &AgentId::new("laptop-2").unwrap()),
            Err(EnrolError::BadToken)
        );
        let second = store.issue_enrolment_token(Duration::from_secs(60));
        assert_eq!(
            store.enrol(&second, &id),
            Err(EnrolError::IdTaken(id.clone()))
        );
        assert!(
            store
                .enrol(&second, &AgentId::new("laptop-2").unwrap())
                .is_ok(),
            "a refused id leaves the token usable"
        );
        let expired = store.issue_enrolment_token(Duration::ZERO);
        assert_eq!(
            store.enrol(&expired, &AgentId::new("laptop-3").unwrap()),
            Err(EnrolError::BadToken)
        );
        assert_eq!(
            store.enrol("made-up", &AgentId::new("laptop-4").unwrap()),
            Err(EnrolError::BadToken)
        );
    }

    #[test]
    fn an_agent_logs_in_only_as_itself_with_its_secret() {
        let store = Credentials::new();
        store.add_coordinator("coord", "coord-pass");
        let a = AgentId::new("a").unwrap();
        let secret = store
            .enrol(&store.issue_enrolment_token(Duration::from_secs(60)), &a)
            .unwrap()
            .secret;
        assert_eq!(
            store.authenticate("a", "a", &secret),
            Some(Role::Agent(a.clone()))
        );
        assert_eq!(
            store.authenticate("b", "a", &secret),
            None,
            "another client id"
        );
        assert_eq!(store.authenticate("a", "a", "wrong"), None);
        assert_eq!(
            store.authenticate("x", "coord", "coord-pass"),
            Some(Role::Coordinator)
        );
        assert_eq!(store.authenticate("x", "coord", &secret), None);
        assert!(store.revoke(&a));
        assert_eq!(store.authenticate("a", "a", &secret), None, "revoked");
    }
}
