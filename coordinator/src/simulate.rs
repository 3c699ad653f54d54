//! Simulated agents: MQTT clients that answer each work item at once with its instruction, for
//! the benchmark and for soak and fault runs against a running coordinator
//! (`edgecoder-coordinator simulate`); work whose instruction holds a chosen marker is answered
//! with a failure instead, so a run can drive retries and escalations to the parent model. They acknowledge model offers with an `installed` report
//! that says it was simulated (they download nothing), so rollouts can be driven across a large
//! simulated fleet.

use crate::service::seal;
use edgecoder_protocol::envelope::Envelope;
use edgecoder_protocol::ids::AgentId;
use edgecoder_protocol::swarm::{
    Ask, Heartbeat, Hello, InstallState, ManifestOffer, ModelReport, Policy, Presence, SandboxLayers, Status, Work,
    WorkOutcome, WorkResult,
};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// What the simulated agents measure, shared by all of them.
#[derive(Default)]
pub struct Probe {
    /// Set when the agents should stop asking for work.
    pub done: AtomicBool,
    /// Results sent.
    pub completed: AtomicU64,
    /// Times from an ask to its first work message, in milliseconds.
    pub assign_ms: Mutex<Vec<f64>>,
    /// Times from `policy_sent` to each agent's receipt of that policy version, in ms.
    pub policy_ms: Mutex<Vec<f64>>,
    /// A policy version being timed, and when it was set.
    pub policy_sent: Mutex<Option<(u32, Instant)>>,
    /// Model offers acknowledged.
    pub offers: AtomicU64,
}

/// What the MQTT event loop hands the agent.
enum Incoming {
    /// (Re)connected: subscriptions and the hello are due again (the session is clean).
    Connected,
    /// A message.
    Publish(Publish),
}

/// One simulated agent: hello, then ask → work → result as fast as the coordinator allows,
/// with heartbeats at the policy's period, reconnecting when the broker goes away. `ready` is told when the first policy arrived.
/// Work whose instruction contains `fail_marker` is reported as failed.
pub async fn agent(
    id: AgentId,
    secret: String,
    broker: SocketAddr,
    slots: u8,
    probe: Arc<Probe>,
    mut ready: Option<tokio::sync::mpsc::Sender<()>>,
    fail_marker: Option<Arc<str>>,
) {
    let mut options = MqttOptions::new(id.as_str(), broker.ip().to_string(), broker.port());
    options.set_credentials(id.as_str(), secret);
    options.set_keep_alive(Duration::from_secs(60));
    options.set_max_packet_size(300 * 1024, 300 * 1024);
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let base = format!("ec/v1/agents/{}", id.as_str());
    let hello = Hello {
        software: "edgecoder-simulated".try_into().unwrap_or_default(),
        platform: "simulated".try_into().unwrap_or_default(),
        cores: 1,
        memory_mb: 1024,
        models: heapless::Vec::new(),
        sandbox: SandboxLayers::REQUIRED_FOR_WORK,
        max_concurrency: slots,
    };
    let ask = |client: AsyncClient, id: AgentId, base: String| async move {
        let _ = client.publish(format!("{base}/ask"), QoS::AtLeastOnce, false, seal(&id, &Ask { slots })).await;
    };
    // The event loop runs in its own task: cancelling `poll()` (a timeout around it) can drop
    // the connection mid-packet, so the agent waits on a channel instead.
    let (forward, mut incoming) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let event = match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => Incoming::Connected,
                Ok(Event::Incoming(Packet::Publish(publish))) => Incoming::Publish(publish),
                Ok(_) => continue,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            if forward.send(event).is_err() {
                return;
            }
        }
    });
    let mut started = false;
    let mut policy: Option<(u32, Duration)> = None;
    let mut heartbeat_seq = 0u32;
    let mut next_heartbeat = Instant::now();
    let mut since_ask = 0u8;
    let mut asked: Option<Instant> = None;
    let mut first_after_ask = true;
    loop {
        // Heartbeats at the policy's period, as a real agent sends them.
        if let Some((version, period)) = policy
            && Instant::now() >= next_heartbeat
        {
            heartbeat_seq += 1;
            let beat = Heartbeat {
                seq: heartbeat_seq,
                cpu_busy_percent: 0,
                user_idle_s: u32::MAX,
                running: 0,
                free_memory_mb: 1024,
                policy_version: version,
            };
            let _ = client.publish(format!("{base}/heartbeat"), QoS::AtMostOnce, false, seal(&id, &beat)).await;
            next_heartbeat = Instant::now() + period;
        }
        let Ok(received) = tokio::time::timeout(Duration::from_millis(300), incoming.recv()).await else {
            // Nothing arrived for a while: ask again (the queue may have been empty).
            if started && !probe.done.load(Ordering::Acquire) {
                since_ask = 0;
                asked = Some(Instant::now());
                first_after_ask = true;
                ask(client.clone(), id.clone(), base.clone()).await;
            }
            continue;
        };
        let publish = match received {
            None => return,
            Some(Incoming::Connected) => {
                let _ = client.subscribe(format!("{base}/work"), QoS::AtLeastOnce).await;
                let _ = client.subscribe(format!("{base}/policy"), QoS::AtLeastOnce).await;
                let _ = client.subscribe(format!("{base}/manifest"), QoS::AtLeastOnce).await;
                let _ = client.subscribe("ec/v1/coord/status", QoS::AtLeastOnce).await;
                let _ = client.publish(format!("{base}/hello"), QoS::AtLeastOnce, false, seal(&id, &hello)).await;
                continue;
            }
            Some(Incoming::Publish(publish)) => publish,
        };
        if publish.topic.ends_with("/policy") {
            let Ok(opened) = Envelope::open::<Policy>(&publish.payload) else {
                continue;
            };
            let period = Duration::from_secs(u64::from(opened.message.heartbeat_s.max(1)));
            if policy.is_none() {
                next_heartbeat = Instant::now() + period;
            }
            policy = Some((opened.message.version, period));
            if !started {
                started = true;
                if let Some(ready) = ready.take() {
                    let _ = ready.send(()).await;
                }
                asked = Some(Instant::now());
                ask(client.clone(), id.clone(), base.clone()).await;
            } else if let Some((version, sent)) = *probe.policy_sent.lock().await
                && opened.message.version >= version
            {
                probe.policy_ms.lock().await.push(sent.elapsed().as_secs_f64() * 1000.0);
            }
            continue;
        }
        if publish.topic == "ec/v1/coord/status" {
            // A coordinator that (re)started after this agent connected missed its hello.
            if Envelope::open::<Status>(&publish.payload).is_ok_and(|o| o.message.presence == Presence::Online) {
                let _ = client.publish(format!("{base}/hello"), QoS::AtLeastOnce, false, seal(&id, &hello)).await;
            }
            continue;
        }
        if publish.topic.ends_with("/manifest") {
            if let Ok(opened) = Envelope::open::<ManifestOffer>(&publish.payload) {
                let report = ModelReport {
                    rollout: opened.message.rollout,
                    model: String::new(),
                    version: String::new(),
                    sequence: 0,
                    state: InstallState::Installed,
                    code: String::new(),
                    message: "simulated agent: acknowledged, nothing downloaded".into(),
                    done_bytes: 0,
                    total_bytes: 0,
                    rate_bps: 0,
                };
                if client.publish(format!("{base}/model"), QoS::AtLeastOnce, false, seal(&id, &report)).await.is_ok() {
                    probe.offers.fetch_add(1, Ordering::Relaxed);
                }
            }
            continue;
        }
        let Ok(opened) = Envelope::open::<Work>(&publish.payload) else {
            continue;
        };
        if first_after_ask && let Some(at) = asked {
            probe.assign_ms.lock().await.push(at.elapsed().as_secs_f64() * 1000.0);
            first_after_ask = false;
        }
        let work = opened.message;
        let outcome = match &fail_marker {
            Some(marker) if work.instruction.contains(&**marker) => WorkOutcome::Failed {
                reason: format!("simulated agent: the instruction holds {marker:?}"),
                report: None,
            },
            _ => WorkOutcome::Completed { output: work.instruction.clone(), patch: None, report: None },
        };
        let result = WorkResult::answering(&work, SandboxLayers::REQUIRED_FOR_WORK, 0, outcome);
        if client.publish(format!("{base}/result"), QoS::AtLeastOnce, false, seal(&id, &result)).await.is_ok() {
            probe.completed.fetch_add(1, Ordering::Relaxed);
        }
        since_ask += 1;
        if since_ask >= slots {
            since_ask = 0;
            asked = Some(Instant::now());
            first_after_ask = true;
            ask(client.clone(), id.clone(), base.clone()).await;
        }
    }
}

/// A fleet of simulated agents for a running coordinator.
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// The coordinator's HTTP API, e.g. `http://127.0.0.1:8080`.
    pub coordinator: String,
    /// Its admin token (the agents are enrolled with tokens it issues).
    pub admin_token: String,
    /// How many agents.
    pub agents: usize,
    /// Subtasks each holds at once.
    pub slots: u8,
    /// Agent ids are `<prefix>-<n>`.
    pub prefix: String,
    /// The plain MQTT listener to use instead of the one enrolment names (a coordinator that
    /// tells agents `mqtts://…` also listens on plain MQTT).
    pub broker: Option<SocketAddr>,
    /// Work whose instruction contains this text is reported as failed (to drive retries and
    /// escalations).
    pub fail_marker: Option<String>,
}

/// Enrols `config.agents` agents at the coordinator and starts them; they run until `probe.done`
/// is set or the process ends.
pub async fn start_fleet(config: &FleetConfig, probe: Arc<Probe>) -> anyhow::Result<()> {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?;
    let base = config.coordinator.trim_end_matches('/');
    let fail_marker: Option<Arc<str>> = config.fail_marker.as_deref().map(Arc::from);
    for n in 0..config.agents {
        let id = AgentId::new(&format!("{}-{n}", config.prefix))?;
        let token: serde_json::Value = http
            .post(format!("{base}/v1/admin/enrolment-tokens"))
            .bearer_auth(&config.admin_token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let enrolled: serde_json::Value = http
            .post(format!("{base}/v1/enrol"))
            .json(&serde_json::json!({"token": token["token"], "agent_id": id.as_str()}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let named = enrolled["broker"].as_str().unwrap_or_default();
        let broker: SocketAddr = match config.broker {
            Some(broker) => broker,
            None => named.parse().map_err(|_| {
                anyhow::anyhow!("the coordinator names the broker {named:?}: simulated agents need a plain host:port (pass --broker HOST:PORT of its plain MQTT listener)")
            })?,
        };
        let secret = enrolled["secret"].as_str().unwrap_or_default().to_owned();
        tokio::spawn(agent(id, secret, broker, config.slots, probe.clone(), None, fail_marker.clone()));
    }
    Ok(())
}
