//! The daemon's TOML configuration: where it listens, how it authenticates, which model and
//! provider it starts with, and the limits that protect it from bad clients.
//!
//! The file is `$XDG_CONFIG_HOME/edgecoder/edgecoderd.toml` (Linux and macOS; `%APPDATA%` on
//! Windows) unless `--config` names another; a missing default file means defaults.
//! Every key is optional:
//!
//! ```toml
//! socket = "/run/user/1000/edgecoder/edgecoderd.sock"
//! listen = "127.0.0.1:11435"
//! model = "qwen2.5-coder-0.5b"
//! queue_capacity = 32
//! # Signed model updates: the keys and sources this device accepts.
//! trusted_keys = ["3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"]
//! allowed_model_sources = ["https://models.example.com/", "pypi:"]
//! # Cloud review: more to remove from what leaves the device, besides the built-in secrets.
//! redact_patterns = ["corp\\.internal", "TICKET-[0-9]+"]
//! # The review server tasks go to once you send them (`edgecoder queue send ID`).
//! review_url = "https://review.example.com"
//! review_api_key_file = "/home/me/.config/edgecoder/review.key"
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// File name of the configuration inside the configuration directory.
pub const CONFIG_FILE: &str = "edgecoderd.toml";

/// Why the configuration cannot be used; each message names the fix.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named with `--config` does not exist or cannot be read.
    #[error("cannot read the config file {path}: {error} — check the path given to --config")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The file is not valid TOML or has unknown keys or wrong types.
    #[error("invalid config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said (with line and column).
        message: String,
    },
    /// A value is out of range or contradicts another.
    #[error("invalid config: {0}")]
    Invalid(String),
    /// No home/config/state directory can be found for the default paths.
    #[error("cannot find a {0} directory (is HOME set?) — set the path in the config file")]
    NoDirectory(&'static str),
}

/// The loopback address a daemon serves where unix sockets are not available (Windows) and no
/// `listen` address is configured.
pub const PORTABLE_LISTEN: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 11436);

/// The daemon's configuration (every field has a default).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The unix socket the daemon listens on (mode 0600); the CLI talks to it.
    pub socket: Option<PathBuf>,
    /// An additional TCP address (`127.0.0.1:PORT`; port 0 picks one) for IDEs.
    pub listen: Option<SocketAddr>,
    /// Allow `listen` on a non-loopback address (then `token_file` must be named and the token is
    /// always required).
    pub allow_non_loopback: bool,
    /// Extra `Host` names accepted besides loopback ones (for a non-loopback `listen`).
    pub allowed_hosts: Vec<String>,
    /// Accept model API requests (`/v1`, `/api`) without the token from loopback peers and the unix
    /// socket; `/mcp`, `/agent` and `/edgecoder` still need it. Refused with `allow_non_loopback`.
    pub disable_auth_on_loopback: bool,
    /// Where the bearer token is kept (created with mode 0600 on first start).
    pub token_file: Option<PathBuf>,
    /// Let the members of the daemon's group use it: the unix socket is made 0660 and the token
    /// file 0640 (instead of 0600), so a system service (user `edgecoder`) serves the users an
    /// administrator adds to its group (`sudo adduser $USER edgecoder`). Other users never can.
    pub group_access: bool,
    /// The model the local provider loads at start (a catalog id or a GGUF path).
    pub model: String,
    /// The provider that answers at start: `edgecoder-local`, `openai-compatible`, `ollama-local`.
    pub provider: String,
    /// Base URL of the OpenAI-compatible upstream (`openai-compatible`), e.g. `http://127.0.0.1:8080`.
    pub openai_url: Option<String>,
    /// API key sent to the OpenAI-compatible upstream.
    pub openai_api_key: Option<String>,
    /// Base URL of the Ollama server (`ollama-local`), e.g. `http://127.0.0.1:11434`.
    pub ollama_url: Option<String>,
    /// Bearer token sent to the Ollama upstream (Ollama ignores it; another edgecoderd needs it).
    pub ollama_api_key: Option<String>,
    /// Tensor backend of the local engine: `flex`, `ndarray` or `wgpu`.
    pub backend: String,
    /// Compute threads of the local engine (default: all cores).
    pub threads: Option<usize>,
    /// Requests that may wait for the local model; more get 429.
    pub queue_capacity: usize,
    /// Agent tasks (`POST /agent/tasks`) that may run at once; more get 429.
    pub agent_tasks: usize,
    /// Tokens generated when a request does not say (`max_tokens` absent).
    pub default_max_tokens: usize,
    /// Largest request body in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// Seconds a client may take to send the request headers (slow-loris guard).
    pub header_timeout_secs: u64,
    /// Seconds a client may take to send the request body.
    pub body_timeout_secs: u64,
    /// Seconds a request may take until its response starts.
    pub request_timeout_secs: u64,
    /// Seconds in-flight requests get to finish on SIGTERM/SIGINT before they are cancelled.
    pub shutdown_grace_secs: u64,
    /// Seconds an upstream provider may take to connect.
    pub upstream_connect_timeout_secs: u64,
    /// Seconds an upstream provider may send nothing (before its headers, or between two chunks
    /// of a streamed answer) before the request fails with 503 instead of hanging.
    pub upstream_idle_timeout_secs: u64,
    /// PEM file of extra CA certificates trusted for https upstreams (a private CA, or a
    /// self-signed upstream), besides the system's roots.
    pub upstream_ca_file: Option<PathBuf>,
    /// Public keys (64 hex digits, as in `edgecoder-sign keygen`'s `signing.pub`) trusted to
    /// sign model manifests, for `edgecoder model install` and the swarm worker.
    pub trusted_keys: Vec<String>,
    /// Source prefixes signed manifests may fetch from (`https://models.example.com/`, `pypi:`).
    pub allowed_model_sources: Vec<String>,
    /// Model ids signed manifests may install (empty: any).
    pub allowed_models: Vec<String>,
    /// Regular expressions of further text to remove before a task leaves the device for cloud
    /// review (internal host names, ticket ids, customer names), besides the built-in secrets.
    pub redact_patterns: Vec<String>,
    /// The cloud-review server's base URL (https://, or http:// to loopback only); none: tasks
    /// stay in the queue on this device.
    pub review_url: Option<String>,
    /// The file holding the review server's API key (owner-only, like the daemon's token).
    pub review_api_key_file: Option<PathBuf>,
    /// PEM file of extra CA certificates trusted for the review server, besides the system's.
    pub review_ca_file: Option<PathBuf>,
    /// Seconds between the daemon's passes over the review queue (send, follow, acknowledge).
    pub review_sync_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            socket: None,
            listen: None,
            allow_non_loopback: false,
            allowed_hosts: Vec::new(),
            disable_auth_on_loopback: false,
            token_file: None,
            group_access: false,
            model: edgecoder_ota::DEFAULT_MODEL.to_owned(),
            provider: crate::providers::LOCAL.to_owned(),
            openai_url: None,
            openai_api_key: None,
            ollama_url: None,
            ollama_api_key: None,
            backend: "flex".to_owned(),
            threads: None,
            queue_capacity: 32,
            agent_tasks: 2,
            default_max_tokens: 1024,
            max_body_bytes: 2 << 20,
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            request_timeout_secs: 600,
            shutdown_grace_secs: 10,
            upstream_connect_timeout_secs: 5,
            upstream_idle_timeout_secs: 120,
            upstream_ca_file: None,
            trusted_keys: Vec::new(),
            allowed_model_sources: vec!["https://".to_owned()],
            allowed_models: Vec::new(),
            redact_patterns: Vec::new(),
            review_url: None,
            review_api_key_file: None,
            review_ca_file: None,
            review_sync_secs: 30,
        }
    }
}

/// The config of the system-wide service the Debian package installs; used by the CLI when the
/// user has no config of their own, so it finds that daemon's socket and token.
pub const SYSTEM_CONFIG: &str = "/etc/edgecoder/edgecoderd.toml";

/// The default config file: `$XDG_CONFIG_HOME/edgecoder/edgecoderd.toml` (`%APPDATA%` on
/// Windows), else [`SYSTEM_CONFIG`] when only that one exists.
pub fn default_config_path() -> Result<PathBuf, ConfigError> {
    let own = config_base().ok_or(ConfigError::NoDirectory("config"))?.join("edgecoder").join(CONFIG_FILE);
    if !own.exists() && Path::new(SYSTEM_CONFIG).is_file() {
        return Ok(PathBuf::from(SYSTEM_CONFIG));
    }
    Ok(own)
}

/// The XDG base directory `var` names (when absolute), else `$HOME/{fallback}`: what Linux gets
/// from `dirs`, used on macOS too, where `dirs` would pick `~/Library/Application Support`.
#[cfg(target_os = "macos")]
fn xdg_base(var: &str, fallback: &str) -> Option<PathBuf> {
    std::env::var_os(var).map(PathBuf::from).filter(|p| p.is_absolute()).or_else(|| Some(dirs::home_dir()?.join(fallback)))
}

#[cfg(target_os = "macos")]
fn config_base() -> Option<PathBuf> {
    xdg_base("XDG_CONFIG_HOME", ".config")
}

#[cfg(not(target_os = "macos"))]
fn config_base() -> Option<PathBuf> {
    dirs::config_dir()
}

#[cfg(target_os = "macos")]
fn state_base() -> Option<PathBuf> {
    xdg_base("XDG_STATE_HOME", ".local/state")
}

#[cfg(not(target_os = "macos"))]
fn state_base() -> Option<PathBuf> {
    dirs::state_dir().or_else(dirs::data_local_dir)
}

fn state_dir() -> Result<PathBuf, ConfigError> {
    Ok(state_base().ok_or(ConfigError::NoDirectory("state"))?.join("edgecoder"))
}

impl Config {
    /// Reads `path`, or the default file when `path` is `None` (a missing default file gives the
    /// defaults; a missing explicit file is an error).
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let (path, explicit) = match path {
            Some(p) => (p.to_owned(), true),
            None => (default_config_path()?, false),
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(error) => return Err(ConfigError::Read { path, error }),
        };
        let config = Config::parse(&text).map_err(|message| ConfigError::Parse { path, message })?;
        config.validate()?;
        Ok(config)
    }

    /// Parses TOML text (no validation).
    pub fn parse(text: &str) -> Result<Config, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    /// Checks ranges and the rules of exposure: a non-loopback address needs
    /// `allow_non_loopback = true` and a `token_file` named in the config, and auth can never be
    /// turned off on a daemon that is exposed.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if let Some(addr) = self.listen
            && !addr.ip().is_loopback()
        {
            if !self.allow_non_loopback {
                return Err(ConfigError::Invalid(format!(
                    "refusing to listen on {addr}: it is not a loopback address; use 127.0.0.1:PORT, \
                     or set allow_non_loopback = true and token_file = \"PATH\" in the config file to expose the daemon"
                )));
            }
            if self.token_file.is_none() {
                return Err(ConfigError::Invalid(format!(
                    "refusing to listen on {addr} without a token named in the config: add token_file = \"PATH\" \
                     (created with mode 0600 on first start) so that every client on the network must send it"
                )));
            }
        }
        if self.allow_non_loopback && self.disable_auth_on_loopback {
            return Err(ConfigError::Invalid(
                "allow_non_loopback and disable_auth_on_loopback cannot both be set: an exposed daemon always \
                 needs the token (remove disable_auth_on_loopback)"
                    .into(),
            ));
        }
        if self.queue_capacity == 0 {
            return Err(ConfigError::Invalid("queue_capacity must be at least 1".into()));
        }
        if self.agent_tasks == 0 {
            return Err(ConfigError::Invalid("agent_tasks must be at least 1".into()));
        }
        if self.default_max_tokens == 0 {
            return Err(ConfigError::Invalid("default_max_tokens must be at least 1".into()));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid("max_body_bytes must be at least 1024".into()));
        }
        for (name, secs) in [
            ("header_timeout_secs", self.header_timeout_secs),
            ("body_timeout_secs", self.body_timeout_secs),
            ("request_timeout_secs", self.request_timeout_secs),
            ("upstream_connect_timeout_secs", self.upstream_connect_timeout_secs),
            ("upstream_idle_timeout_secs", self.upstream_idle_timeout_secs),
        ] {
            if secs == 0 {
                return Err(ConfigError::Invalid(format!("{name} must be at least 1")));
            }
        }
        for (i, key) in self.trusted_keys.iter().enumerate() {
            if edgecoder_protocol::PublicKey::from_hex(key.trim()).is_none() {
                return Err(ConfigError::Invalid(format!(
                    "trusted_keys[{i}] is not a public key: copy the 64 hex digits of the signing.pub that `edgecoder-sign keygen` wrote"
                )));
            }
        }
        if let Err(error) = crate::handshake::Redactor::new(&self.redact_patterns) {
            return Err(ConfigError::Invalid(format!("redact_patterns: {error}")));
        }
        if let Some(url) = &self.review_url {
            crate::handshake::check_url(url).map_err(|e| ConfigError::Invalid(e.to_string()))?;
            if self.review_api_key_file.is_none() {
                return Err(ConfigError::Invalid("review_url needs review_api_key_file: the file with the API key the review server's operator gave you".into()));
            }
        }
        if self.review_sync_secs == 0 {
            return Err(ConfigError::Invalid("review_sync_secs must be at least 1".into()));
        }
        if self.allowed_model_sources.iter().any(|s| s.trim().is_empty()) {
            return Err(ConfigError::Invalid("allowed_model_sources has an empty entry: it would allow every source".into()));
        }
        if !crate::providers::NAMES.contains(&self.provider.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "unknown provider {:?}: use one of {}",
                self.provider,
                crate::providers::NAMES.join(", ")
            )));
        }
        for (key, url) in [("openai_url", &self.openai_url), ("ollama_url", &self.ollama_url)] {
            if let Some(url) = url
                && !(url.starts_with("http://") || url.starts_with("https://"))
            {
                return Err(ConfigError::Invalid(format!(
                    "{key} = {url:?} is not an http:// or https:// URL"
                )));
            }
        }
        Ok(())
    }

    /// The unix socket path: `socket`, else `$XDG_RUNTIME_DIR/edgecoder/edgecoderd.sock`, else
    /// the state directory.
    pub fn socket_path(&self) -> Result<PathBuf, ConfigError> {
        if let Some(p) = &self.socket {
            return Ok(p.clone());
        }
        let dir = match dirs::runtime_dir() {
            Some(d) => d.join("edgecoder"),
            None => state_dir()?,
        };
        Ok(dir.join("edgecoderd.sock"))
    }

    /// A client of the cloud-review server this config names; `None` when `review_url` is unset
    /// (queued tasks then stay on this device).
    pub fn review_client(&self) -> Result<Option<crate::handshake::ReviewClient>, crate::handshake::ClientError> {
        let (Some(url), Some(key_file)) = (&self.review_url, &self.review_api_key_file) else { return Ok(None) };
        crate::handshake::ReviewClient::from_key_file(url, key_file, self.review_ca_file.as_deref()).map(Some)
    }

    /// The TCP address the daemon serves: `listen`; where unix sockets are not available
    /// (Windows) always one, [`PORTABLE_LISTEN`] when `listen` is unset.
    pub fn tcp_address(&self) -> Option<SocketAddr> {
        if cfg!(any(not(unix), edgecoder_portable)) { Some(self.listen.unwrap_or(PORTABLE_LISTEN)) } else { self.listen }
    }

    /// Where a daemon without a unix socket writes the TCP address it serves (beside the
    /// token), for the CLI to find it.
    #[cfg(any(not(unix), edgecoder_portable))]
    pub fn address_file(&self) -> Result<PathBuf, ConfigError> {
        Ok(self.token_path()?.with_file_name("edgecoderd.addr"))
    }

    /// Where the CLI finds the daemon: its unix socket, or where there is none, its address file.
    pub fn local_endpoint(&self) -> Result<PathBuf, ConfigError> {
        #[cfg(all(unix, not(edgecoder_portable)))]
        let endpoint = self.socket_path();
        #[cfg(any(not(unix), edgecoder_portable))]
        let endpoint = self.address_file();
        endpoint
    }

    /// The token file: `token_file`, else `$XDG_STATE_HOME/edgecoder/token`.
    pub fn token_path(&self) -> Result<PathBuf, ConfigError> {
        match &self.token_file {
            Some(p) => Ok(p.clone()),
            None => Ok(state_dir()?.join("token")),
        }
    }

    /// `header_timeout_secs` as a duration.
    pub fn header_timeout(&self) -> Duration {
        Duration::from_secs(self.header_timeout_secs)
    }

    /// `body_timeout_secs` as a duration.
    pub fn body_timeout(&self) -> Duration {
        Duration::from_secs(self.body_timeout_secs)
    }

    /// `request_timeout_secs` as a duration.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// `shutdown_grace_secs` as a duration.
    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown_grace_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace_file(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
    }

    #[test]
    fn every_device_profiles_daemon_config_is_valid() {
        let mut seen = 0;
        for item in std::fs::read_dir(workspace_file("targets")).unwrap() {
            let path = item.unwrap().path();
            if path.extension().is_none_or(|e| e != "toml") {
                continue;
            }
            let profile: toml::Table = toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let daemon = toml::to_string(profile["daemon"].as_table().expect("a [daemon] table")).unwrap();
            let config = Config::parse(&daemon).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            config.validate().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(edgecoder_ota::catalog::find(&config.model).is_ok(), "{}: unknown model {}", path.display(), config.model);
            seen += 1;
        }
        assert!(seen >= 7, "{seen} profiles");
    }

    #[test]
    fn the_debian_packages_config_is_the_laptop_profiles_plus_the_service() {
        let packaged = Config::parse(&std::fs::read_to_string(workspace_file("images/debian/edgecoderd.toml")).unwrap()).unwrap();
        packaged.validate().unwrap();
        let profile: toml::Table = toml::from_str(&std::fs::read_to_string(workspace_file("targets/laptop-linux.toml")).unwrap()).unwrap();
        let laptop = Config::parse(&toml::to_string(profile["daemon"].as_table().unwrap()).unwrap()).unwrap();
        assert_eq!((&packaged.model, &packaged.backend, packaged.threads), (&laptop.model, &laptop.backend, laptop.threads));
        assert!(packaged.group_access, "the service's users reach it through its group");
        assert_eq!(packaged.socket.as_deref(), Some(Path::new("/run/edgecoder/edgecoderd.sock")));
        assert_eq!(packaged.token_file.as_deref(), Some(Path::new("/var/lib/edgecoder/token")));
    }

    #[test]
    fn an_empty_file_gives_the_defaults() {
        let c = Config::parse("").unwrap();
        assert_eq!(c, Config::default());
        c.validate().unwrap();
    }

    #[test]
    fn pinned_manifest_keys_must_be_public_keys() {
        let key = "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29";
        let c = Config::parse(&format!("trusted_keys = [\"{key}\"]\nallowed_model_sources = [\"pypi:\"]")).unwrap();
        c.validate().unwrap();
        assert_eq!(c.allowed_model_sources, ["pypi:"]);
        let c = Config::parse(&format!("trusted_keys = [\"{key}\", \"not-a-key\"]")).unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("trusted_keys[1]") && e.contains("signing.pub"), "{e}");
        let c = Config::parse("allowed_model_sources = [\"\"]").unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("every source"));
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_named() {
        let e = Config::parse("listn = \"127.0.0.1:1\"").unwrap_err();
        assert!(e.contains("listn"), "{e}");
        let e = Config::parse("queue_capacity = \"many\"").unwrap_err();
        assert!(e.contains("queue_capacity") || e.contains("integer"), "{e}");
    }

    #[test]
    fn non_loopback_needs_the_explicit_switch() {
        let mut c = Config::parse("listen = \"0.0.0.0:8080\"").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("allow_non_loopback = true"), "{e}");
        c.allow_non_loopback = true;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("token_file"), "{e}");
        c.token_file = Some(PathBuf::from("/etc/edgecoder/token"));
        c.validate().unwrap();
        c.disable_auth_on_loopback = true;
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("disable_auth_on_loopback"), "{e}");
        Config::parse("listen = \"127.0.0.1:0\"").unwrap().validate().unwrap();
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in ["queue_capacity = 0", "provider = \"gpt\"", "ollama_url = \"localhost:1\"", "header_timeout_secs = 0"] {
            let c = Config::parse(bad).unwrap();
            assert!(c.validate().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_missing_explicit_file_is_an_error() {
        let e = Config::load(Some(Path::new("/no/such/edgecoderd.toml"))).unwrap_err().to_string();
        assert!(e.contains("/no/such/edgecoderd.toml") && e.contains("--config"), "{e}");
    }
}
