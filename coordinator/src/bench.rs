//! `edgecoder-coordinator bench`: the whole coordinator path under load in one process — the
//! embedded broker, the store, the service, and many simulated agents speaking MQTT.

use edgecoder_protocol::ids::MessageId;
use edgecoder_protocol::envelope::unix_time_ms;
use crate::model::{Aggregate, Backoff, JobSpec, JobState, SubtaskSpec};
use crate::policy::{Policies, Scope, default_policy};
use crate::service::{Service, ServiceConfig};
use crate::simulate::{Probe, agent};
use crate::store::{Embedded, Postgres, Store};
use edgecoder_broker::{Broker, BrokerConfig, Credentials};
use edgecoder_protocol::ids::{AgentId, Sha256};
use edgecoder_protocol::run::{Lang, Limits};
use edgecoder_protocol::swarm::{Snapshot, WorkMode};
use serde::Serialize;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Agents started together; each wave waits until the one before it is connected.
const AGENTS_PER_WAVE: usize = 100;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Simulated agents.
    pub agents: usize,
    /// Trivial subtasks in the job.
    pub subtasks: u32,
    /// Subtasks each agent holds at once.
    pub slots: u8,
    /// PostgreSQL URL; the embedded store when `None`.
    pub postgres: Option<String>,
}

/// What was measured.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The store (`embedded` or `postgres`).
    pub store: String,
    /// Simulated agents.
    pub agents: usize,
    /// Subtasks completed.
    pub subtasks: u32,
    /// Wall time from the first ask to the job's end, in seconds.
    pub seconds: f64,
    /// Subtasks completed per second.
    pub subtasks_per_second: f64,
    /// Median time from an ask to its first work message, in milliseconds.
    pub assign_p50_ms: f64,
    /// 99th percentile of the same.
    pub assign_p99_ms: f64,
    /// 95th percentile of the time from a policy change to its arrival at each agent, ms.
    pub policy_p95_ms: f64,
    /// The process's resident memory at the end, in MiB.
    pub rss_mib: f64,
    /// Results dropped as stale (must be 0 in a run without faults).
    pub stale_results: u64,
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kib| kib / 1024.0)
        .unwrap_or(0.0)
}

/// Runs the benchmark.
pub async fn run(config: BenchConfig) -> anyhow::Result<BenchReport> {
    let credentials = Arc::new(Credentials::new());
    let password = edgecoder_broker::random_secret();
    credentials.add_coordinator("coordinator", &password);
    let broker = Broker::start(
        BrokerConfig {
            listen: "127.0.0.1:0".parse()?,
            ..BrokerConfig::default()
        },
        credentials.clone(),
    )
    .await?;
    let dir = tempfile::tempdir()?;
    match &config.postgres {
        Some(url) => {
            let schema = format!("ec_bench_{}", MessageId::random());
            let store = Arc::new(Postgres::connect(url, &schema, Backoff::default()).await?);
            // The schema is thrown away however the run ends, Ctrl-C included.
            let outcome = tokio::select! {
                outcome = measure(&config, store.clone(), "postgres", &broker, &credentials, &password) => outcome,
                _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
            };
            // Handlers still finishing their last statements may hold locks the drop needs
            // (PostgreSQL then ends one side as a deadlock): try again shortly.
            let mut tries = 0;
            while let Err(error) = store.drop_schema().await {
                tries += 1;
                if tries == 10 {
                    eprintln!("edgecoder-coordinator bench: could not drop the schema {schema}: {error}; drop it by hand");
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            outcome
        }
        None => {
            let store = Arc::new(Embedded::open(&dir.path().join("queue.redb"), Backoff::default())?);
            // Ctrl-C ends the run here too, so the temporary queue file is removed.
            tokio::select! {
                outcome = measure(&config, store, "embedded", &broker, &credentials, &password) => outcome,
                _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
            }
        }
    }
}

/// Runs the job of `config.subtasks` through the service on `store` with simulated agents.
async fn measure(
    config: &BenchConfig,
    store: Arc<dyn Store>,
    store_name: &str,
    broker: &Broker,
    credentials: &Credentials,
    password: &str,
) -> anyhow::Result<BenchReport> {
    let mut policy = default_policy();
    policy.concurrency = config.slots;
    policy.heartbeat_s = 60;
    let policies = Arc::new(Policies::in_memory(policy.clone()));
    let mut service_config = ServiceConfig::new(broker.address(), "coordinator", password);
    service_config.lease = Duration::from_secs(300);
    let service = Service::start(service_config, store.clone(), policies, None).await?;

    let snapshot = Snapshot {
        sha256: Sha256([1; 32]),
        bytes: 1,
    };
    let job = JobSpec {
        id: MessageId::random(),
        tenant: "bench".into(),
        lang: Lang::Python,
        instruction: "benchmark".into(),
        tests: None,
        snapshot: snapshot.clone(),
        aggregate: Aggregate::Concatenate,
        max_attempts: 3,
    };
    let shared = Arc::new(Probe::default());
    let progress = indicatif::ProgressBar::new(config.subtasks as u64);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<()>(config.agents);
    let mut ready = 0;
    for n in 0..config.agents {
        // The fleet comes up a hundred agents at a time: a thousand CONNECTs at once outlast
        // the clients' connect timeout, their retries replace sessions on the broker, and runs
        // started that way lost work in flight and waited out its leases.
        while ready + AGENTS_PER_WAVE <= n {
            ready_rx.recv().await;
            ready += 1;
        }
        let id = AgentId::new(&format!("bench-{n}"))?;
        let token = credentials.issue_enrolment_token(Duration::from_secs(60)).await?;
        let secret = credentials.enrol(&token, &id).await?.secret;
        tokio::spawn(agent(
            id,
            secret,
            broker.address(),
            config.slots,
            shared.clone(),
            Some(ready_tx.clone()),
            None,
        ));
    }
    while ready < config.agents {
        ready_rx.recv().await;
        ready += 1;
    }
    // The job goes in once every agent is connected and asking, so the clock measures work
    // only (agents that were ready early would otherwise work through the fleet's start-up).
    store.submit(job.clone(), 0).await?;
    let subtasks: Vec<SubtaskSpec> = (0..config.subtasks)
        .map(|i| SubtaskSpec {
            id: MessageId::random(),
            ordinal: i,
            instruction: "x".into(),
            mode: WorkMode::Step,
            tests: None,
            deps: vec![],
            model: None,
            limits: Limits::default(),
            file: None,
        })
        .collect();
    store.plan(job.id, subtasks, unix_time_ms()).await?;

    let started = Instant::now();
    // Without a terminal the bar hides itself: a line every ten seconds shows the run is alive.
    let mut next_line = (!std::io::stderr().is_terminal()).then(|| started + Duration::from_secs(10));
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let view = store.job_only(job.id).await?.expect("the job exists");
        // The service's own counter: counting the store's rows would scan them under the
        // queue's lock while agents claim.
        let results = service.stats().results;
        progress.set_position(results);
        if matches!(view.state, JobState::Done { .. }) {
            break;
        }
        if let Some(at) = next_line
            && Instant::now() >= at
        {
            let seconds = started.elapsed().as_secs_f64();
            eprintln!(
                "edgecoder-coordinator bench: {results} of {} subtasks after {seconds:.0} s ({:.0}/s)",
                config.subtasks,
                results as f64 / seconds
            );
            next_line = Some(at + Duration::from_secs(10));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    progress.finish_and_clear();
    shared.done.store(true, Ordering::Release);

    // Policy propagation: change the default and time its arrival at every agent.
    policy.cpu_cap_percent = 40;
    let sent = Instant::now();
    {
        let mut slot = shared.policy_sent.lock().await;
        let version = service.set_policy(Scope::Default, policy).await?;
        *slot = Some((version, sent));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while shared.policy_ms.lock().await.len() < config.agents && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut assign = shared.assign_ms.lock().await.clone();
    assign.sort_by(f64::total_cmp);
    let mut policy_ms = shared.policy_ms.lock().await.clone();
    policy_ms.sort_by(f64::total_cmp);
    if policy_ms.len() < config.agents {
        anyhow::bail!(
            "the policy change reached only {} of {} agents within 30 s",
            policy_ms.len(),
            config.agents
        );
    }
    Ok(BenchReport {
        store: store_name.into(),
        agents: config.agents,
        subtasks: config.subtasks,
        seconds,
        subtasks_per_second: config.subtasks as f64 / seconds,
        assign_p50_ms: percentile(&assign, 0.5),
        assign_p99_ms: percentile(&assign, 0.99),
        policy_p95_ms: percentile(&policy_ms, 0.95),
        rss_mib: rss_mib(),
        stale_results: service.stats().stale_results,
    })
}
