//! The CLI's connection to a running daemon over its unix socket (or, where there is none, the
//! loopback TCP address the daemon wrote beside its token), with errors that say how to start
//! the daemon when it is not running.

use std::path::PathBuf;

use anyhow::anyhow;
use clap::Args;
use serde_json::Value;

use super::{Exit, Failure};
use crate::agent::AgentEvent;
use crate::api::agent::NewTask;
use crate::api::tasks::TaskView;
use crate::server::config::Config;

/// Where to find the daemon (shared by the commands that talk to it).
#[derive(Debug, Clone, Args)]
pub struct DaemonArgs {
    /// The daemon's config file (default: `$XDG_CONFIG_HOME/edgecoder/edgecoderd.toml`).
    #[arg(long, global = true, env = "EDGECODER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

impl DaemonArgs {
    /// Loads the config file, as a usage error when it is unusable.
    pub fn load(&self) -> Result<Config, Failure> {
        Config::load(self.config.as_deref()).map_err(|e| Failure::new(Exit::Usage, e))
    }
}

/// An HTTP client bound to the daemon's local endpoint, with the token.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    token: String,
    /// The URL requests' paths are joined to.
    base: String,
    /// Where the daemon was looked for (its socket, or its address file), for messages.
    endpoint: PathBuf,
}

/// A single-threaded async runtime for a CLI command.
pub fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(Exit::Failed, anyhow!("cannot start the async runtime: {e}")))
}

fn not_running(endpoint: &std::path::Path) -> Failure {
    Failure::new(
        Exit::Daemon,
        anyhow!(
            "the daemon is not running (nothing answers on {}): start it with `edgecoder serve` (foreground) or `systemctl --user start edgecoderd`",
            endpoint.display()
        ),
    )
}

fn no_access(what: &std::path::Path, error: &dyn std::fmt::Display) -> Failure {
    Failure::new(
        Exit::Daemon,
        anyhow!(
            "cannot use the daemon: {}: {error} — it is a system service shared with its group: ask an administrator to run `sudo adduser $USER edgecoder` (the Debian package's group), then log in again",
            what.display()
        ),
    )
}

fn denied(error: &std::io::Error) -> bool {
    error.kind() == std::io::ErrorKind::PermissionDenied
}

/// The URL the daemon at `endpoint` (its unix socket) answers on, once the socket is there.
#[cfg(all(unix, not(edgecoder_portable)))]
fn base_url(endpoint: &std::path::Path) -> Result<String, Failure> {
    match std::fs::metadata(endpoint) {
        Ok(_) => Ok("http://localhost".to_owned()),
        Err(e) if denied(&e) => Err(no_access(endpoint, &e)),
        Err(_) => Err(not_running(endpoint)),
    }
}

/// The URL the daemon serves on: the loopback address it wrote to `endpoint` (its address file).
#[cfg(any(not(unix), edgecoder_portable))]
fn base_url(endpoint: &std::path::Path) -> Result<String, Failure> {
    match std::fs::read_to_string(endpoint) {
        Ok(address) => Ok(format!("http://{}", address.trim())),
        Err(e) if denied(&e) => Err(no_access(endpoint, &e)),
        Err(_) => Err(not_running(endpoint)),
    }
}

impl Client {
    /// Connects to the daemon the config names.
    pub fn connect(args: &DaemonArgs) -> Result<Client, Failure> {
        let config = args.load()?;
        let endpoint = config.local_endpoint().map_err(|e| Failure::new(Exit::Usage, e))?;
        let base = base_url(&endpoint)?;
        let token_path = config.token_path().map_err(|e| Failure::new(Exit::Usage, e))?;
        let token = match crate::server::token::read(&token_path, crate::server::token::Sharing::of(config.group_access)) {
            Ok(token) => token,
            Err(crate::server::token::TokenError::Io { error, .. }) if denied(&error) => return Err(no_access(&token_path, &error)),
            Err(e) => return Err(Failure::new(Exit::Daemon, e)),
        };
        let builder = reqwest::Client::builder().no_proxy();
        #[cfg(all(unix, not(edgecoder_portable)))]
        let builder = builder.unix_socket(endpoint.clone());
        let http = builder.build().map_err(|e| Failure::new(Exit::Failed, anyhow!("cannot build the HTTP client: {e}")))?;
        Ok(Client { http, token, base, endpoint })
    }

    /// A request to `path` (e.g. `/edgecoder/status`) with the token.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token)
    }

    /// Sends a request; connection failures say the daemon is not running, error statuses
    /// carry the daemon's message.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, Failure> {
        let response = request.send().await.map_err(|e| {
            if e.is_connect() { not_running(&self.endpoint) } else { Failure::new(Exit::Daemon, anyhow!("the daemon did not answer: {e}")) }
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let message = crate::providers::error_message(&body);
        Err(Failure::new(Exit::Daemon, anyhow!("the daemon answered {status}: {message}")))
    }

    /// Sends a request and reads a JSON answer.
    pub async fn json(&self, request: reqwest::RequestBuilder) -> Result<Value, Failure> {
        let response = self.send(request).await?;
        response.json().await.map_err(|e| Failure::new(Exit::Daemon, anyhow!("the daemon's answer is not JSON: {e}")))
    }

    /// Starts an agent task on the daemon (`POST /agent/tasks`); returns its id.
    pub async fn start_task(&self, task: &NewTask) -> Result<String, Failure> {
        let created = self.json(self.request(reqwest::Method::POST, "/agent/tasks").json(task)).await?;
        created["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| Failure::new(Exit::Daemon, anyhow!("the daemon's answer has no task id: {created}")))
    }

    /// Passes the task's events (`GET /agent/tasks/{id}/events`) to `on_event` until the
    /// stream ends, then returns the task as the daemon shows it.
    pub async fn follow_task(
        &self,
        id: &str,
        on_event: &mut (dyn FnMut(&AgentEvent) -> Result<(), Failure> + Send),
    ) -> Result<TaskView, Failure> {
        let lost = |e: &dyn std::fmt::Display| Failure::new(Exit::Daemon, anyhow!("the event stream of task {id} broke: {e}"));
        let response = self.send(self.request(reqwest::Method::GET, &format!("/agent/tasks/{id}/events"))).await?;
        let mut lines = crate::providers::Lines::new(response);
        while let Some(line) = lines.next().await.map_err(|e| lost(&e))? {
            if let Some(data) = line.strip_prefix("data:") {
                let event: AgentEvent = serde_json::from_str(data.trim()).map_err(|e| lost(&e))?;
                on_event(&event)?;
            }
        }
        let view = self.json(self.request(reqwest::Method::GET, &format!("/agent/tasks/{id}"))).await?;
        serde_json::from_value(view).map_err(|e| Failure::new(Exit::Daemon, anyhow!("the daemon's task answer is unreadable: {e}")))
    }
}
