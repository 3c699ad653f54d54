//! `edgecoder-coordinator`: runs the swarm coordinator, checks its audit log, and measures it.

use anyhow::Context;
use clap::{Parser, Subcommand};
use edgecoder_broker::{Broker, BrokerConfig, Credentials, DevCa, TlsListener, random_secret};
use edgecoder_coordinator::http::{Api, ApiConfig};
use edgecoder_coordinator::model::Backoff;
use edgecoder_coordinator::planner::{InferenceClient, Planner};
use edgecoder_coordinator::policy::{Policies, default_policy};
use edgecoder_coordinator::service::{Service, ServiceConfig};
use edgecoder_coordinator::simulate::{FleetConfig, Probe, start_fleet};
use edgecoder_coordinator::snapshots::SnapshotStore;
use edgecoder_coordinator::store::{Embedded, Postgres, Store, verify_audit};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The EdgeCoder swarm coordinator.
#[derive(Parser)]
#[command(name = "edgecoder-coordinator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the queue is.
#[derive(clap::Args)]
struct StoreArgs {
    /// The embedded queue file.
    #[arg(
        long,
        default_value = "coordinator/queue.redb",
        conflicts_with = "postgres"
    )]
    queue: PathBuf,
    /// A PostgreSQL URL instead of the embedded file (several coordinators share it).
    #[arg(long, env = "EDGECODER_COORDINATOR_PG", conflicts_with = "queue")]
    postgres: Option<String>,
    /// The PostgreSQL schema the queue's tables live in.
    #[arg(long, default_value = "edgecoder")]
    schema: String,
}

impl StoreArgs {
    async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        Ok(match &self.postgres {
            Some(url) => Arc::new(Postgres::connect(url, &self.schema, Backoff::default()).await?),
            None => Arc::new(Embedded::open(&self.queue, Backoff::default())?),
        })
    }
}

/// Options of `serve`.
#[derive(clap::Args)]
struct ServeArgs {
    /// Folder of the coordinator's state: queue.redb (embedded store), policies.json,
    /// rollouts.json (model rollouts), features.json (feature settings per tenant, group and
    /// agent), agents.json (enrolled agents; in the database with --postgres), snapshots/,
    /// admin.token.
    #[arg(long, default_value = "coordinator-state")]
    state: PathBuf,
    /// A PostgreSQL URL for the queue and the enrolled agents instead of the embedded file and
    /// agents.json (several coordinators share it, and each admits every agent enrolled at any).
    #[arg(long, env = "EDGECODER_COORDINATOR_PG")]
    postgres: Option<String>,
    /// The PostgreSQL schema the queue's tables live in.
    #[arg(long, default_value = "edgecoder")]
    schema: String,
    /// Where agents connect over MQTT.
    #[arg(long, default_value = "127.0.0.1:1883")]
    mqtt: SocketAddr,
    /// Where the HTTP API listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    http: SocketAddr,
    /// A TLS listener for agents beside the plain one (e.g. 0.0.0.0:8883), serving
    /// --tls-cert and --tls-key.
    #[arg(long)]
    mqtt_tls: Option<SocketAddr>,
    /// The TLS certificate chain, PEM (default: <state>/tls/server.pem, as written by
    /// `edgecoder-coordinator certs`).
    #[arg(long, requires = "mqtt_tls")]
    tls_cert: Option<PathBuf>,
    /// The TLS private key, PEM (default: <state>/tls/server.key).
    #[arg(long, requires = "mqtt_tls")]
    tls_key: Option<PathBuf>,
    /// The MQTT address told to enrolling agents (default: mqtts://<--mqtt-tls> with TLS,
    /// else --mqtt).
    #[arg(long)]
    public_mqtt: Option<String>,
    /// The inference service that decomposes jobs and answers escalations (without it, jobs
    /// wait in `decomposing`).
    #[arg(long, env = "EDGECODER_INFERENCE_URL")]
    inference: Option<String>,
    /// The file holding the admin token (created with a random token when missing).
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    /// A file holding the clients' token (without it, clients use the admin token).
    #[arg(long)]
    client_token_file: Option<PathBuf>,
    /// Networks the admin endpoints answer (repeat the flag for several).
    #[arg(long, default_values = ["127.0.0.1/32", "::1/128"])]
    admin_allow: Vec<ipnet::IpNet>,
    /// How long a lease lasts without a heartbeat (e.g. 60s, 5m).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    lease: Duration,
    /// How long an enrolment token stays valid.
    #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
    enrolment_ttl: Duration,
    /// The snapshot folder (default: <state>/snapshots); coordinators that share a PostgreSQL
    /// queue must share it too.
    #[arg(long)]
    snapshots: Option<PathBuf>,
    /// The largest snapshot accepted, in MiB.
    #[arg(long, default_value_t = 256)]
    max_snapshot_mib: usize,
}

/// Reads a token file, or creates it with a random token (owner-only permissions).
fn token_from(path: &Path, create: bool) -> anyhow::Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
        Ok(_) => anyhow::bail!("the token file {} is empty: write a token into it or delete it", path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
            let token = random_secret();
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            use std::io::Write;
            options
                .open(path)
                .and_then(|mut f| f.write_all(token.as_bytes()).and_then(|()| f.sync_all()))
                .with_context(|| format!("cannot create the token file {}", path.display()))?;
            Ok(token)
        }
        Err(e) => Err(e).with_context(|| format!("cannot read the token file {}", path.display())),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.state)
        .with_context(|| format!("cannot create the state folder {}", args.state.display()))?;
    let admin_token_file = args.admin_token_file.clone().unwrap_or_else(|| args.state.join("admin.token"));
    let admin_token = token_from(&admin_token_file, true)?;
    let client_token = args.client_token_file.as_deref().map(|p| token_from(p, false)).transpose()?;
    // On PostgreSQL the enrolled agents and enrolment tokens live in the database too, so every
    // coordinator sharing it admits the agents any of them enrolled.
    let (store, credentials): (Arc<dyn Store>, Credentials) = match &args.postgres {
        Some(url) => {
            let shared = Arc::new(Postgres::connect(url, &args.schema, Backoff::default()).await?);
            (shared.clone(), Credentials::shared(shared))
        }
        None => (
            Arc::new(Embedded::open(&args.state.join("queue.redb"), Backoff::default())?),
            Credentials::persistent(&args.state.join("agents.json"))?,
        ),
    };
    let credentials = Arc::new(credentials);
    let policies = Arc::new(Policies::open(&args.state.join("policies.json"), default_policy())?);
    let password = random_secret();
    credentials.add_coordinator("coordinator", &password);
    let tls = args.mqtt_tls.map(|listen| TlsListener {
        listen,
        certificate: args.tls_cert.clone().unwrap_or_else(|| args.state.join("tls").join("server.pem")),
        key: args.tls_key.clone().unwrap_or_else(|| args.state.join("tls").join("server.key")),
    });
    let broker = Broker::start(BrokerConfig { listen: args.mqtt, tls, ..BrokerConfig::default() }, credentials.clone()).await?;
    let public_mqtt = args.public_mqtt.clone().unwrap_or_else(|| match broker.tls_address() {
        Some(tls) => format!("mqtts://{tls}"),
        None => broker.address().to_string(),
    });
    let planner = args.inference.as_deref().map(|url| {
        Arc::new(InferenceClient::new(url, Duration::from_secs(600))) as Arc<dyn Planner>
    });
    if planner.is_none() {
        tracing::warn!("no --inference service: submitted jobs wait in `decomposing` until one is configured");
    }
    let snapshots = Arc::new(SnapshotStore::open(
        &args.snapshots.clone().unwrap_or_else(|| args.state.join("snapshots")),
        args.max_snapshot_mib << 20,
    )?);
    let mut config = ServiceConfig::new(broker.address(), "coordinator", &password);
    config.lease = args.lease;
    config.snapshots = Some(snapshots.clone());
    config.rollouts = Arc::new(edgecoder_coordinator::rollout::Rollouts::open(&args.state.join("rollouts.json"))?);
    config.features = Arc::new(edgecoder_coordinator::features::Features::open(&args.state.join("features.json"))?);
    let service = Arc::new(Service::start(config, store, policies, planner).await?);
    let api = Arc::new(Api {
        config: ApiConfig {
            admin_token,
            admin_allow: args.admin_allow.clone(),
            client_token,
            broker: public_mqtt.clone(),
            enrolment_ttl: args.enrolment_ttl,
        },
        service,
        credentials,
        snapshots,
    });
    let listener = tokio::net::TcpListener::bind(args.http)
        .await
        .with_context(|| format!("cannot listen on {} for HTTP: choose another --http address", args.http))?;
    let http = listener.local_addr()?;
    let tls_note = broker.tls_address().map(|a| format!(" and {a} (TLS)")).unwrap_or_default();
    eprintln!(
        "edgecoder-coordinator: MQTT on {}{tls_note} (agents are told {public_mqtt}), HTTP on http://{http} (dashboard: http://{http}/dashboard), state in {}, admin token in {}",
        broker.address(),
        args.state.display(),
        admin_token_file.display()
    );
    axum::serve(
        listener,
        edgecoder_coordinator::http::router(api).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await?;
    Ok(())
}

/// Resolves on Ctrl-C, and on SIGTERM where there are signals.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler installs");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

#[derive(Subcommand)]
enum Command {
    /// Runs the coordinator: the embedded MQTT broker, the queue, the MQTT service and the HTTP
    /// API (OpenAPI at /openapi.json).
    Serve(ServeArgs),
    /// Makes a development CA and a server certificate for the TLS listener: ca.pem (give it
    /// to agents: `edgecoder worker enrol --ca ca.pem`), ca.key, server.pem, server.key.
    /// Existing files are never replaced.
    Certs {
        /// The folder the files go to.
        #[arg(long, default_value = "coordinator-state/tls")]
        out: PathBuf,
        /// A DNS name or IP address agents use to reach the coordinator (repeat the flag for
        /// several).
        #[arg(long = "host", default_values = ["localhost", "127.0.0.1"])]
        hosts: Vec<String>,
    },
    /// Asks a running coordinator for a single-use enrolment token for a new agent.
    EnrolToken {
        /// The coordinator's HTTP API.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// The file holding the admin token.
        #[arg(long, default_value = "coordinator-state/admin.token")]
        admin_token_file: PathBuf,
        /// Print the answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Runs simulated agents against a running coordinator until Ctrl-C or SIGTERM: each
    /// answers its work at once with the subtask's instruction. For soak and fault runs.
    Simulate {
        /// The coordinator's HTTP API.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// The file holding the admin token (agents are enrolled with tokens it issues).
        #[arg(long, default_value = "coordinator-state/admin.token")]
        admin_token_file: PathBuf,
        /// How many agents.
        #[arg(long, default_value_t = 50)]
        agents: usize,
        /// Subtasks each agent holds at once.
        #[arg(long, default_value_t = 4)]
        slots: u8,
        /// Agent ids are `<prefix>-<n>` (a fresh prefix per run: ids are enrolled once).
        #[arg(long, default_value = "simulated")]
        prefix: String,
        /// The coordinator's plain MQTT listener, when enrolment names a TLS one.
        #[arg(long, value_name = "HOST:PORT")]
        broker: Option<std::net::SocketAddr>,
        /// Report work whose instruction contains TEXT as failed, so the run drives retries and,
        /// after the job's last attempt, escalation to the parent model.
        #[arg(long, value_name = "TEXT", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        fail_marked: Option<String>,
    },
    /// Audit log commands.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Measures the coordinator with simulated agents over MQTT in one process: subtasks per
    /// second, assignment latency, policy propagation, memory. Prints a table, writes JSON.
    Bench {
        /// Simulated agents.
        #[arg(long, default_value_t = 1000)]
        agents: usize,
        /// Trivial subtasks in the job.
        #[arg(long, default_value_t = 100_000)]
        subtasks: u32,
        /// Subtasks an agent holds at once.
        #[arg(long, default_value_t = 4)]
        slots: u8,
        /// Run on PostgreSQL (a fresh schema, dropped when the run ends) instead of the
        /// embedded store.
        #[arg(long)]
        postgres: Option<String>,
        /// Where the JSON report goes.
        #[arg(long, default_value = "coordinator-bench.json")]
        json: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Checks the hash chain of the audit log; exits 1 and names the first altered entry
    /// when it was tampered with.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
        Command::Certs { out, hosts } => {
            let files = DevCa::generate(&hosts)?.write(&out)?;
            for file in &files {
                println!("{}", file.display());
            }
            eprintln!(
                "development CA written for {}: serve with `--mqtt-tls ADDR --tls-cert {} --tls-key {}`; agents enrol with `--ca {}`",
                hosts.join(", "),
                files[2].display(),
                files[3].display(),
                files[0].display()
            );
            Ok(())
        }
        Command::EnrolToken { url, admin_token_file, json } => {
            let token = token_from(&admin_token_file, false)?;
            let response = reqwest::Client::new()
                .post(format!("{}/v1/admin/enrolment-tokens", url.trim_end_matches('/')))
                .bearer_auth(token)
                .send()
                .await
                .with_context(|| format!("cannot reach the coordinator at {url}: is `edgecoder-coordinator serve` running?"))?;
            let status = response.status();
            let body: serde_json::Value = response.json().await.context("the coordinator's answer is not JSON")?;
            if !status.is_success() {
                anyhow::bail!("the coordinator refused ({status}): {}", body["error"].as_str().unwrap_or("?"));
            }
            if json {
                println!("{body}");
            } else {
                println!(
                    "{}\n(single use, valid {} s: the agent runs `edgecoder worker enrol --token …`)",
                    body["token"].as_str().unwrap_or_default(),
                    body["expires_in_s"]
                );
            }
            Ok(())
        }
        Command::Simulate { url, admin_token_file, agents, slots, prefix, broker, fail_marked } => {
            let admin_token = token_from(&admin_token_file, false)?;
            let probe = Arc::new(Probe::default());
            let config = FleetConfig {
                coordinator: url.clone(),
                admin_token,
                agents,
                slots: slots.max(1),
                prefix,
                broker,
                fail_marker: fail_marked,
            };
            start_fleet(&config, probe.clone())
                .await
                .with_context(|| format!("cannot enrol simulated agents at {url}: is `edgecoder-coordinator serve` running, and is the admin token right?"))?;
            eprintln!("edgecoder-coordinator simulate: {agents} agents working for {url}; Ctrl-C stops");
            let report = async {
                let mut last = 0;
                loop {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    let completed = probe.completed.load(std::sync::atomic::Ordering::Relaxed);
                    eprintln!("completed {completed} (+{} in 2 s)", completed - last);
                    last = completed;
                }
            };
            tokio::select! {
                () = shutdown_signal() => {}
                () = report => {}
            }
            println!("{}", probe.completed.load(std::sync::atomic::Ordering::Relaxed));
            Ok(())
        }
        Command::Audit {
            command: AuditCommand::Verify { store, json },
        } => {
            let store = store.open().await?;
            match verify_audit(&*store).await? {
                Ok(head) => {
                    if json {
                        println!(
                            "{}",
                            serde_json::json!({"ok": true, "entries": head.seq, "head": head.hash.to_string()})
                        );
                    } else {
                        println!("audit log intact: {} entries, head {}", head.seq, head.hash);
                    }
                    Ok(())
                }
                Err(broken) => {
                    if json {
                        println!(
                            "{}",
                            serde_json::json!({"ok": false, "error": broken.to_string()})
                        );
                    } else {
                        eprintln!("audit log BROKEN: {broken}");
                    }
                    std::process::exit(1);
                }
            }
        }
        Command::Bench {
            agents,
            subtasks,
            slots,
            postgres,
            json,
        } => {
            let report =
                edgecoder_coordinator::bench::run(edgecoder_coordinator::bench::BenchConfig {
                    agents,
                    subtasks,
                    slots,
                    postgres,
                })
                .await?;
            println!(
                "| store | agents | subtasks | s | subtasks/s | assign p50 ms | assign p99 ms | policy p95 ms | RSS MiB | stale |"
            );
            println!("|---|---|---|---|---|---|---|---|---|---|");
            println!(
                "| {} | {} | {} | {:.1} | {:.0} | {:.1} | {:.1} | {:.1} | {:.0} | {} |",
                report.store,
                report.agents,
                report.subtasks,
                report.seconds,
                report.subtasks_per_second,
                report.assign_p50_ms,
                report.assign_p99_ms,
                report.policy_p95_ms,
                report.rss_mib,
                report.stale_results
            );
            std::fs::write(&json, serde_json::to_vec_pretty(&report)?)
                .with_context(|| format!("cannot write {}", json.display()))?;
            Ok(())
        }
    }
}
