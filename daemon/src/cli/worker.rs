//! `edgecoder worker`: lend this device to a swarm. `enrol` trades an operator's token for
//! credentials, `probe` shows what this device can enforce, `run` works until stopped.

use super::{Execute, Exit, Failure};
use crate::worker::credentials::{self, WorkerCredentials};
use crate::worker::models::ModelUpdates;
use crate::worker::session::WorkerSession;
use crate::worker::snapshot::Snapshots;
use crate::worker::solve::{ModelWriter, probe_sandbox};
use crate::worker::throttle::{Enforcement, Throttle};
use clap::{Args, Subcommand};
use edgecoder_ota::download::DownloadOptions;
use edgecoder_protocol::ids::AgentId;
use edgecoder_protocol::swarm::SandboxLayers;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Lend this device's idle CPU to a swarm: enrol once, then run the worker.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: WorkerCommand,
    /// The credentials file (default: $EDGECODER_WORKER_CREDENTIALS, else
    /// ~/.config/edgecoder/worker.json).
    #[arg(long, global = true)]
    pub credentials: Option<PathBuf>,
}

/// The `edgecoder worker` subcommands.
#[derive(Debug, Subcommand)]
pub enum WorkerCommand {
    /// Enrol with a coordinator using a single-use token from its operator
    /// (`edgecoder-coordinator enrol-token`).
    Enrol {
        /// The coordinator's HTTP API, e.g. http://coordinator:8080.
        #[arg(long)]
        coordinator: String,
        /// The enrolment token.
        #[arg(long)]
        token: String,
        /// The agent id to ask for (default: this machine's host name).
        #[arg(long)]
        id: Option<String>,
        /// The CA certificate (PEM) of a TLS broker (`mqtts://`), e.g. the `ca.pem` of
        /// `edgecoder-coordinator certs`; without it the system's roots are trusted.
        #[arg(long)]
        ca: Option<PathBuf>,
    },
    /// Show the sandbox layers and the CPU-cap enforcement this device has.
    Probe {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Work for the swarm until Ctrl-C or SIGTERM.
    Run {
        /// The model that writes code (catalog id or GGUF path).
        #[arg(long, default_value = edgecoder_ota::DEFAULT_MODEL)]
        model: String,
        /// Compute threads of the model (default: all cores; the policy's CPU cap still applies).
        #[arg(long, env = "EDGECODER_SWARM_THREADS")]
        threads: Option<usize>,
        /// Where snapshots are cached (default: ~/.cache/edgecoder/worker).
        #[arg(long)]
        state: Option<PathBuf>,
        /// Do not try a cgroup for the CPU cap; duty-cycle instead.
        #[arg(long)]
        no_cgroup: bool,
        /// The most CPU swarm work may ever use on this device, in percent of the machine
        /// (1–100): a coordinator's policy asking for more gets this (device profiles set it,
        /// e.g. 50 on a Raspberry Pi).
        #[arg(long, env = "EDGECODER_SWARM_MAX_CPU_PERCENT", default_value_t = 100, value_parser = clap::value_parser!(u8).range(1..=100))]
        max_cpu_percent: u8,
        /// Which models offered by the coordinator this device installs: only manifests signed
        /// by a trusted key, from allowed sources, of allowed models (without a trusted key every
        /// offer is refused and reported as `unknown_key`).
        #[command(flatten)]
        rules: super::model::ManifestRules,
    },
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "worker".into())
}

fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| Failure::new(Exit::Failed, e))
}

impl Execute for WorkerArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let path = self.credentials.unwrap_or_else(credentials::default_path);
        match self.command {
            WorkerCommand::Enrol { coordinator, token, id, ca } => {
                let id = id.unwrap_or_else(host_name);
                AgentId::new(&id).map_err(|e| Failure::new(Exit::Usage, anyhow::anyhow!("agent id {id:?}: {e}")))?;
                let ca_pem = ca
                    .map(|ca| {
                        std::fs::read_to_string(&ca)
                            .ok()
                            .filter(|pem| pem.contains("-----BEGIN CERTIFICATE-----"))
                            .ok_or_else(|| anyhow::anyhow!("--ca {}: not a readable PEM certificate file", ca.display()))
                    })
                    .transpose()
                    .map_err(|e| Failure::new(Exit::Usage, e))?;
                let mut enrolled = runtime()?
                    .block_on(credentials::enrol(&coordinator, &token, &id))
                    .map_err(|e| Failure::new(Exit::Daemon, e))?;
                enrolled.ca_pem = ca_pem;
                credentials::save(&path, &enrolled).map_err(|e| Failure::new(Exit::Io, e))?;
                println!("enrolled as {} (broker {}); credentials in {}", enrolled.agent_id, enrolled.broker, path.display());
                Ok(Exit::Ok)
            }
            WorkerCommand::Probe { json } => {
                let (layers, report) = probe_sandbox();
                let throttle = Throttle::new(1, false);
                let missing: Vec<_> = layers.missing(SandboxLayers::REQUIRED_FOR_WORK).collect();
                if json {
                    let value = serde_json::json!({
                        "layers": layers.names().collect::<Vec<_>>(),
                        "missing": missing,
                        "may_work": missing.is_empty(),
                        "isolation": report,
                        "cpu_cap": format!("{:?}", throttle.enforcement()),
                    });
                    println!("{value}");
                } else {
                    println!("sandbox layers: {}", layers.names().collect::<Vec<_>>().join(", "));
                    println!("landlock: {}", report.landlock);
                    if missing.is_empty() {
                        println!("this device may take swarm work");
                    } else {
                        println!("this device refuses swarm work: missing {}", missing.join(", "));
                    }
                }
                Ok(if missing.is_empty() { Exit::Ok } else { Exit::Failed })
            }
            WorkerCommand::Run { model, threads, state, no_cgroup, max_cpu_percent, rules } => {
                let creds: WorkerCredentials = credentials::load(&path).map_err(|e| Failure::new(Exit::Usage, e))?;
                let agent = AgentId::new(&creds.agent_id)
                    .map_err(|e| Failure::new(Exit::Usage, anyhow::anyhow!("the agent id in {}: {e}", path.display())))?;
                let (layers, report) = probe_sandbox();
                let missing: Vec<_> = layers.missing(SandboxLayers::REQUIRED_FOR_WORK).collect();
                let refusing = (!missing.is_empty())
                    .then(|| format!("sandbox incomplete: {} missing (landlock: {})", missing.join(", "), report.landlock));
                if let Some(reason) = &refusing {
                    eprintln!("edgecoder worker: refusing all work — {reason}");
                }
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u32;
                let throttle = Arc::new(Throttle::new(cores, !no_cgroup).with_ceiling(max_cpu_percent));
                if let Enforcement::DutyCycle { why } = throttle.enforcement() {
                    eprintln!("edgecoder worker: CPU cap by duty-cycling ({why})");
                }
                let path = crate::agent::model_path(&model, edgecoder_ota::fleet::ModelUse::Swarm).map_err(|e| Failure::new(Exit::Io, e))?;
                let mut options = edgecoder_model::engine::LoadOptions::default();
                if let Some(threads) = threads {
                    options.threads = threads.max(1);
                }
                let loaded = edgecoder_model::engine::Model::load_with(&path, options)
                    .map_err(|e| Failure::new(Exit::Failed, anyhow::anyhow!("cannot load {model}: {e}")))?;
                let (trusted, device_rules) = rules.resolve().map_err(|e| Failure::new(Exit::Usage, e))?;
                if trusted.keys().is_empty() {
                    eprintln!("edgecoder worker: no key is trusted to sign model manifests (--trust, or trusted_keys in edgecoderd.toml): offered models will be refused");
                }
                let store = edgecoder_ota::ModelStore::from_env().map_err(|e| Failure::new(Exit::Io, e))?;
                let models = ModelUpdates::new(
                    &store,
                    trusted,
                    device_rules,
                    DownloadOptions::default(),
                    Box::new(|dir, manifest| super::model::smoke_test(dir, manifest).map_err(|e| format!("{e:#}"))),
                );
                let cache = state.unwrap_or_else(|| {
                    dirs::cache_dir().unwrap_or_else(|| PathBuf::from(".")).join("edgecoder").join("worker")
                });
                let session = WorkerSession {
                    snapshots: Arc::new(Snapshots::new(&cache.join("snapshots"), &creds.coordinator, agent.as_str(), &creds.secret)),
                    agent,
                    broker: creds.broker.clone(),
                    ca_pem: creds.ca_pem.clone(),
                    secret: creds.secret.clone(),
                    writer: Arc::new(ModelWriter::new(loaded, &model)),
                    throttle,
                    sandbox: layers,
                    refusing,
                    tick: Duration::from_millis(500),
                    models: Arc::new(models),
                };
                eprintln!("edgecoder worker: {} working for {} with {model}", creds.agent_id, creds.broker);
                let stats = runtime()?.block_on(session.run(crate::server::shutdown_signal())).map_err(|e| Failure::new(Exit::Usage, e))?;
                eprintln!(
                    "edgecoder worker: stopped ({} completed, {} failed, {} given back)",
                    stats.completed, stats.failed, stats.released
                );
                Ok(Exit::Ok)
            }
        }
    }
}
