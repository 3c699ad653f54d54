//! Who may connect to the broker: agents with the secret they got at enrolment, and
//! coordinators. Enrolled agents and enrolment tokens live in an [`AgentDirectory`]: this
//! coordinator's own file ([`LocalAgents`]), or a database that several coordinators share, so
//! that an agent enrolled at one is admitted by all.

use edgecoder_protocol::AgentId;
use edgecoder_protocol::topic::Role;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Decides who a connecting client is, from its MQTT client id and login.
#[async_trait::async_trait]
pub trait Authenticate: Send + Sync + 'static {
    /// The client's role, or `None` to refuse the connection.
    async fn authenticate(&self, client_id: &str, username: &str, password: &str) -> Option<Role>;
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
    /// The directory could not be read or written; nothing changed.
    #[error("the credentials could not be saved: {0}")]
    Store(String),
}

/// Why the credentials file could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read the agents' credentials from {path}: {message} — restore it from a backup, or move it away to start with no enrolled agents")]
pub struct CredentialsFileError {
    /// The file.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
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

/// A sha256 digest: of an agent's secret, or of an enrolment token.
pub type Digest32 = [u8; 32];

/// Where enrolled agents (the sha256 of each one's secret) and unused enrolment tokens (their
/// sha256 and expiry) are kept.
#[async_trait::async_trait]
pub trait AgentDirectory: Send + Sync + 'static {
    /// The sha256 of `agent`'s secret, `None` when it is not enrolled.
    async fn secret_hash(&self, agent: &AgentId) -> Result<Option<Digest32>, EnrolError>;
    /// Keeps the enrolment token with sha256 `token` until `expires_ms` (Unix milliseconds);
    /// expired tokens may be dropped meanwhile.
    async fn add_token(&self, token: Digest32, expires_ms: u64) -> Result<(), EnrolError>;
    /// Uses up `token` (valid at `now_ms`) and records `agent` with the secret hash `secret`,
    /// both or neither: a taken id leaves the token usable.
    async fn enrol(&self, token: Digest32, agent: &AgentId, secret: Digest32, now_ms: u64) -> Result<(), EnrolError>;
    /// Removes `agent`; `Ok(false)` when it was not enrolled.
    async fn revoke(&self, agent: &AgentId) -> Result<bool, EnrolError>;
    /// How many agents are enrolled.
    async fn enrolled(&self) -> Result<usize, EnrolError>;
}

fn hash(secret: &str) -> Digest32 {
    Sha256::digest(secret.as_bytes()).into()
}

fn to_hex(bytes: &Digest32) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Option<Digest32> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn unix_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// Writes the agents' secret hashes to `path`: a temporary file, fsynced, renamed over it.
fn save(path: &Path, agents: &HashMap<AgentId, Digest32>) -> std::io::Result<()> {
    let map: std::collections::BTreeMap<&str, String> =
        agents.iter().map(|(id, h)| (id.as_str(), to_hex(h))).collect();
    let text = serde_json::to_vec_pretty(&serde_json::json!({ "agents": map }))?;
    let partial = path.with_extension("partial");
    let mut file = std::fs::File::create(&partial)?;
    file.write_all(&text)?;
    file.sync_all()?;
    std::fs::rename(&partial, path)?;
    if let Some(dir) = path.parent().and_then(|d| std::fs::File::open(d).ok()) {
        dir.sync_all()?;
    }
    Ok(())
}

/// A random 256-bit secret as 64 hex digits.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two digests in time independent of where they differ.
fn same(a: &Digest32, b: &Digest32) -> bool {
    a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// One coordinator's own directory: agents in memory and, when a file is given, in that file
/// (so they survive restarts); enrolment tokens in memory.
#[derive(Default)]
pub struct LocalAgents {
    agents: RwLock<HashMap<AgentId, Digest32>>,
    tokens: RwLock<HashMap<Digest32, u64>>,
    file: Option<PathBuf>,
}

impl LocalAgents {
    /// A directory whose agents live in `path` (created on the first enrolment).
    pub fn persistent(path: &Path) -> Result<LocalAgents, CredentialsFileError> {
        let error = |message: String| CredentialsFileError { path: path.to_path_buf(), message };
        let mut agents = HashMap::new();
        match std::fs::read(path) {
            Ok(bytes) => {
                let saved: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| error(e.to_string()))?;
                let map = saved["agents"].as_object().ok_or_else(|| error("no \"agents\" object".into()))?;
                for (id, digest) in map {
                    let agent = AgentId::new(id).map_err(|e| error(format!("agent id {id:?}: {e}")))?;
                    let digest = digest
                        .as_str()
                        .and_then(from_hex)
                        .ok_or_else(|| error(format!("agent {id:?}: the secret hash is not 64 hex digits")))?;
                    agents.insert(agent, digest);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(error(e.to_string())),
        }
        Ok(LocalAgents { agents: RwLock::new(agents), file: Some(path.to_path_buf()), ..LocalAgents::default() })
    }

    fn persist(&self, agents: &HashMap<AgentId, Digest32>) -> Result<(), EnrolError> {
        match &self.file {
            Some(path) => save(path, agents).map_err(|e| EnrolError::Store(format!("{}: {e}", path.display()))),
            None => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl AgentDirectory for LocalAgents {
    async fn secret_hash(&self, agent: &AgentId) -> Result<Option<Digest32>, EnrolError> {
        Ok(self.agents.read().unwrap_or_else(|p| p.into_inner()).get(agent).copied())
    }

    async fn add_token(&self, token: Digest32, expires_ms: u64) -> Result<(), EnrolError> {
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        let now = unix_ms();
        tokens.retain(|_, expires| *expires > now);
        tokens.insert(token, expires_ms);
        Ok(())
    }

    async fn enrol(&self, token: Digest32, agent: &AgentId, secret: Digest32, now_ms: u64) -> Result<(), EnrolError> {
        let mut tokens = self.tokens.write().unwrap_or_else(|p| p.into_inner());
        match tokens.get(&token) {
            Some(expires) if *expires > now_ms => {}
            _ => return Err(EnrolError::BadToken),
        }
        let mut agents = self.agents.write().unwrap_or_else(|p| p.into_inner());
        if agents.contains_key(agent) {
            return Err(EnrolError::IdTaken(agent.clone()));
        }
        agents.insert(agent.clone(), secret);
        if let Err(error) = self.persist(&agents) {
            agents.remove(agent);
            return Err(error);
        }
        tokens.remove(&token);
        Ok(())
    }

    async fn revoke(&self, agent: &AgentId) -> Result<bool, EnrolError> {
        let mut agents = self.agents.write().unwrap_or_else(|p| p.into_inner());
        let Some(digest) = agents.remove(agent) else {
            return Ok(false);
        };
        if let Err(error) = self.persist(&agents) {
            agents.insert(agent.clone(), digest);
            return Err(error);
        }
        Ok(true)
    }

    async fn enrolled(&self) -> Result<usize, EnrolError> {
        Ok(self.agents.read().unwrap_or_else(|p| p.into_inner()).len())
    }
}

/// The broker's credentials: coordinator logins (in memory) and the agent directory.
pub struct Credentials {
    coordinators: RwLock<HashMap<String, Digest32>>,
    agents: Arc<dyn AgentDirectory>,
}

impl Default for Credentials {
    fn default() -> Credentials {
        Credentials::shared(Arc::new(LocalAgents::default()))
    }
}

impl Credentials {
    /// Credentials with agents kept in memory only.
    pub fn new() -> Credentials {
        Credentials::default()
    }

    /// Credentials whose enrolled agents live in `path` (created on the first enrolment), so
    /// they survive restarts.
    pub fn persistent(path: &Path) -> Result<Credentials, CredentialsFileError> {
        Ok(Credentials::shared(Arc::new(LocalAgents::persistent(path)?)))
    }

    /// Credentials whose agents and enrolment tokens live in `agents` (e.g. a database that
    /// every coordinator of a fleet shares).
    pub fn shared(agents: Arc<dyn AgentDirectory>) -> Credentials {
        Credentials { coordinators: RwLock::new(HashMap::new()), agents }
    }

    /// How many agents are enrolled.
    pub async fn enrolled(&self) -> Result<usize, EnrolError> {
        self.agents.enrolled().await
    }

    /// Lets a coordinator log in as `username` with `password`.
    pub fn add_coordinator(&self, username: &str, password: &str) {
        self.coordinators
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(username.to_owned(), hash(password));
    }

    /// Issues a single-use enrolment token valid for `ttl`.
    pub async fn issue_enrolment_token(&self, ttl: Duration) -> Result<String, EnrolError> {
        let token = random_secret();
        self.agents.add_token(hash(&token), unix_ms().saturating_add(ttl.as_millis() as u64)).await?;
        Ok(token)
    }

    /// Trades an enrolment token for credentials under the agent id `wanted`; the token is
    /// used up only when this succeeds.
    pub async fn enrol(&self, token: &str, wanted: &AgentId) -> Result<Enrolled, EnrolError> {
        let secret = random_secret();
        self.agents.enrol(hash(token), wanted, hash(&secret), unix_ms()).await?;
        Ok(Enrolled { agent: wanted.clone(), secret })
    }

    /// Removes an agent: its next connection is refused (a connected one stays until it
    /// disconnects). `Ok(false)` when it was not enrolled.
    pub async fn revoke(&self, agent: &AgentId) -> Result<bool, EnrolError> {
        self.agents.revoke(agent).await
    }
}

#[async_trait::async_trait]
impl Authenticate for Credentials {
    async fn authenticate(&self, client_id: &str, username: &str, password: &str) -> Option<Role> {
        let given = hash(password);
        let coordinator = self.coordinators.read().unwrap_or_else(|p| p.into_inner()).get(username).copied();
        if let Some(known) = coordinator {
            return same(&known, &given).then_some(Role::Coordinator);
        }
        // An agent's MQTT session is its identity: client id and username must both be its id.
        if client_id != username {
            return None;
        }
        let agent = AgentId::new(username).ok()?;
        let known = match self.agents.secret_hash(&agent).await {
            Ok(known) => known?,
            Err(error) => {
                tracing::warn!(%agent, %error, "the agent directory cannot be read: login refused");
                return None;
            }
        };
        same(&known, &given).then_some(Role::Agent(agent))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn enrolment_tokens_are_single_use_and_expire() {
        let store = Credentials::new();
        let id = AgentId::new("laptop-1").unwrap();
        let token = store.issue_enrolment_token(Duration::from_secs(60)).await.unwrap();
        let enrolled = store.enrol(&token, &id).await.unwrap();
        assert_eq!(enrolled.secret.len(), 64);
        assert_eq!(
            store.enrol(&token, &AgentId::new("laptop-2").unwrap()).await,
            Err(EnrolError::BadToken)
        );
        let second = store.issue_enrolment_token(Duration::from_secs(60)).await.unwrap();
        assert_eq!(
            store.enrol(&second, &id).await,
            Err(EnrolError::IdTaken(id.clone()))
        );
        assert!(
            store
                .enrol(&second, &AgentId::new("laptop-2").unwrap())
                .await
                .is_ok(),
            "a refused id leaves the token usable"
        );
        let expired = store.issue_enrolment_token(Duration::ZERO).await.unwrap();
        assert_eq!(
            store.enrol(&expired, &AgentId::new("laptop-3").unwrap()).await,
            Err(EnrolError::BadToken)
        );
        assert_eq!(
            store.enrol("made-up", &AgentId::new("laptop-4").unwrap()).await,
            Err(EnrolError::BadToken)
        );
    }

    #[tokio::test]
    async fn an_agent_logs_in_only_as_itself_with_its_secret() {
        let store = Credentials::new();
        store.add_coordinator("coord", "coord-pass");
        let a = AgentId::new("a").unwrap();
        let secret = store
            .enrol(&store.issue_enrolment_token(Duration::from_secs(60)).await.unwrap(), &a).await
            .unwrap()
            .secret;
        assert_eq!(
            store.authenticate("a", "a", &secret).await,
            Some(Role::Agent(a.clone()))
        );
        assert_eq!(
            store.authenticate("b", "a", &secret).await,
            None,
            "another client id"
        );
        assert_eq!(store.authenticate("a", "a", "wrong").await, None);
        assert_eq!(
            store.authenticate("x", "coord", "coord-pass").await,
            Some(Role::Coordinator)
        );
        assert_eq!(store.authenticate("x", "coord", &secret).await, None);
        assert!(store.revoke(&a).await.unwrap());
        assert_eq!(store.authenticate("a", "a", &secret).await, None, "revoked");
    }

    #[tokio::test]
    async fn enrolled_agents_survive_a_restart_and_a_broken_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("agents.json");
        let store = Credentials::persistent(&path).unwrap();
        let (a, b) = (AgentId::new("a").unwrap(), AgentId::new("b").unwrap());
        let secret = store.enrol(&store.issue_enrolment_token(Duration::from_secs(60)).await.unwrap(), &a).await.unwrap().secret;
        store.enrol(&store.issue_enrolment_token(Duration::from_secs(60)).await.unwrap(), &b).await.unwrap();
        assert!(store.revoke(&b).await.unwrap());
        drop(store);
        let reopened = Credentials::persistent(&path).unwrap();
        assert_eq!(reopened.enrolled().await.unwrap(), 1);
        assert_eq!(reopened.authenticate("a", "a", &secret).await, Some(Role::Agent(a.clone())));
        assert!(!std::fs::read_to_string(&path).unwrap().contains(&secret), "only the hash is kept");

        std::fs::write(&path, b"{\"agents\": {\"a\": \"zz\"}}").unwrap();
        let error = Credentials::persistent(&path).err().unwrap().to_string();
        assert!(error.contains("agents.json") && error.contains("64 hex"), "{error}");

        let unwritable = Credentials::persistent(&dir.path().join("missing-dir/agents.json")).unwrap();
        let token = unwritable.issue_enrolment_token(Duration::from_secs(60)).await.unwrap();
        assert!(matches!(unwritable.enrol(&token, &a).await, Err(EnrolError::Store(_))));
        assert_eq!(unwritable.enrolled().await.unwrap(), 0, "a failed save leaves no agent behind");
        assert!(
            matches!(unwritable.enrol(&token, &a).await, Err(EnrolError::Store(_))),
            "the token was not used up: a retry fails on the disk again, not on the token"
        );
    }
}
