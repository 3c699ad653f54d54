//! The worker's enrolment: an operator's single-use token traded for an agent id and secret at
//! the coordinator, kept in an owner-only file.

use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a worker needs to join its swarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerCredentials {
    /// The coordinator's HTTP API (snapshots).
    pub coordinator: String,
    /// The broker: `host:port`, or `mqtts://host:port` for TLS.
    pub broker: String,
    /// The CA certificates (PEM) a TLS broker's certificate must chain to; `None` trusts the
    /// system's roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// The agent id: MQTT client id and username.
    pub agent_id: String,
    /// The agent's secret: MQTT and HTTP basic-auth password.
    pub secret: String,
}

/// Why enrolment or the credentials file failed.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// No credentials file: the worker was never enrolled.
    #[error("this device is not enrolled ({0} is missing): run `edgecoder worker enrol --coordinator URL --token TOKEN`")]
    NotEnrolled(PathBuf),
    /// The file is unreadable or malformed.
    #[error("cannot read the worker credentials in {path}: {message} — enrol again to replace them")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The file could not be written.
    #[error("cannot save the worker credentials to {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The coordinator could not be reached.
    #[error("cannot reach the coordinator at {url}: {message}")]
    Unreachable {
        /// Its URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The coordinator refused the enrolment.
    #[error("the coordinator refused the enrolment: {0}")]
    Refused(String),
}

/// `$EDGECODER_WORKER_CREDENTIALS`, else `~/.config/edgecoder/worker.json`.
pub fn default_path() -> PathBuf {
    std::env::var_os("EDGECODER_WORKER_CREDENTIALS").map(PathBuf::from).unwrap_or_else(|| {
        dirs::config_dir().unwrap_or_else(|| PathBuf::from(".")).join("edgecoder").join("worker.json")
    })
}

/// Reads the credentials at `path`.
pub fn load(path: &Path) -> Result<WorkerCredentials, CredentialsError> {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(CredentialsError::NotEnrolled(path.into())),
        Err(e) => return Err(CredentialsError::Unreadable { path: path.into(), message: e.to_string() }),
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| CredentialsError::Unreadable { path: path.into(), message: e.to_string() })
}

/// Writes `credentials` to `path` (owner-only, atomically).
pub fn save(path: &Path, credentials: &WorkerCredentials) -> Result<(), CredentialsError> {
    let write = |source| CredentialsError::Write { path: path.into(), source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write)?;
    }
    let partial = path.with_extension("partial");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&partial).map_err(write)?;
    let text = serde_json::to_vec_pretty(credentials).expect("credentials serialize");
    file.write_all(&text).and_then(|()| file.sync_all()).map_err(write)?;
    std::fs::rename(&partial, path).map_err(write)
}

/// Trades `token` for credentials under `agent_id` at the coordinator's API `coordinator`.
pub async fn enrol(coordinator: &str, token: &str, agent_id: &str) -> Result<WorkerCredentials, CredentialsError> {
    let base = coordinator.trim_end_matches('/');
    let url = format!("{base}/v1/enrol");
    let response = reqwest::Client::new()
        .post(&url)
        .json(&serde_json::json!({"token": token, "agent_id": agent_id}))
        .timeout(std::time::Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| CredentialsError::Unreachable { url: url.clone(), message: e.to_string() })?;
    let status = response.status();
    let body: serde_json::Value = response
        .json()
        .await
        .map_err(|e| CredentialsError::Refused(format!("{status}, and the answer is not JSON: {e}")))?;
    if !status.is_success() {
        return Err(CredentialsError::Refused(body["error"].as_str().unwrap_or("no reason given").to_owned()));
    }
    let field = |name: &str| {
        body[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| CredentialsError::Refused(format!("the answer lacks {name:?}")))
    };
    Ok(WorkerCredentials {
        coordinator: base.to_owned(),
        broker: field("broker")?,
        ca_pem: None,
        agent_id: field("agent_id")?,
        secret: field("secret")?,
    })
}
