//! The worker's MQTT session: hello and a retained status on connect, heartbeats, asks for work
//! only while the policy allows, subtasks run on their verified snapshot, results back; work is
//! given back (`Released`) when the user returns or the policy changes mid-run.

use super::device::{CpuMeter, free_memory_mb, total_memory_mb, user_idle_s};
use super::gate::{Conditions, Refusal, local_time, may_work};
use super::models::ModelUpdates;
use super::snapshot::Snapshots;
use super::solve::{Solution, Writer, solve};
use super::throttle::Throttle;
use edgecoder_model::engine::CancelToken;
use edgecoder_protocol::envelope::{Envelope, Message};
use edgecoder_protocol::ids::{AgentId, MessageId};
use edgecoder_protocol::swarm::{
    AgentFeatures, Ask, Heartbeat, Hello, ManifestOffer, ModelReport, Policy, Presence, SandboxLayers, Status, Work, WorkOutcome, WorkResult,
};
use edgecoder_protocol::topic::{Leaf, Topic};
use rustls::pki_types::pem::PemObject;
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS};
use std::collections::HashMap;
use std::net::ToSocketAddrs;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::Instrument;

/// What a worker session runs with.
pub struct WorkerSession {
    /// The agent's id.
    pub agent: AgentId,
    /// The broker: `host:port` (or `mqtt://host:port`), or `mqtts://host:port` for TLS.
    pub broker: String,
    /// For TLS: the CA certificates (PEM) the broker's certificate must chain to; `None`
    /// trusts the system's roots.
    pub ca_pem: Option<String>,
    /// The agent's secret.
    pub secret: String,
    /// The model that writes code.
    pub writer: Arc<dyn Writer>,
    /// The snapshot cache.
    pub snapshots: Arc<Snapshots>,
    /// The CPU cap.
    pub throttle: Arc<Throttle>,
    /// The sandbox layers this device enforces.
    pub sandbox: SandboxLayers,
    /// Why the worker refuses all work (a required sandbox layer is missing), if it does.
    pub refusing: Option<String>,
    /// How often the gate and the asks are looked at.
    pub tick: Duration,
    /// Installs the models offered on the agent's `manifest` topic.
    pub models: Arc<ModelUpdates>,
}

/// Why the session ended.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The broker address is not usable.
    #[error("the broker address {0:?} is not host:port, mqtt://host:port or mqtts://host:port")]
    BrokerAddress(String),
    /// TLS to the broker cannot be set up.
    #[error("cannot set up TLS to the broker: {0}")]
    Tls(String),
}

/// MQTT options for `broker` (see [`WorkerSession::broker`]), with TLS for `mqtts://`.
fn connection(client_id: &str, broker: &str, ca_pem: Option<&str>) -> Result<MqttOptions, SessionError> {
    let bad = || SessionError::BrokerAddress(broker.to_owned());
    let (tls, rest) = match broker.split_once("://") {
        Some(("mqtts", rest)) => (true, rest),
        Some(("mqtt", rest)) => (false, rest),
        Some(_) => return Err(bad()),
        None => (false, broker),
    };
    let (host, port) = rest.trim_end_matches('/').rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad());
    }
    if !tls {
        // Resolved here so that a name that does not resolve is reported before connecting.
        let address = (host, port).to_socket_addrs().ok().and_then(|mut a| a.next()).ok_or_else(bad)?;
        return Ok(MqttOptions::new(client_id, address.ip().to_string(), address.port()));
    }
    let mut roots = rustls::RootCertStore::empty();
    match ca_pem {
        Some(pem) => {
            for certificate in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
                let certificate = certificate.map_err(|e| SessionError::Tls(format!("the CA certificate: {e}")))?;
                roots.add(certificate).map_err(|e| SessionError::Tls(format!("the CA certificate: {e}")))?;
            }
            if roots.is_empty() {
                return Err(SessionError::Tls("the CA file holds no CERTIFICATE block: enrol again with --ca".into()));
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(SessionError::Tls("no system CA certificates found: enrol again with --ca FILE".into()));
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| SessionError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut options = MqttOptions::new(client_id, host, port);
    options.set_transport(rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(Arc::new(config))));
    Ok(options)
}

/// Counters a caller (and the tests) can read.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SessionStats {
    /// Work messages received.
    pub work_received: u64,
    /// Results sent, by outcome.
    pub completed: u64,
    /// Failed results sent.
    pub failed: u64,
    /// Leases given back.
    pub released: u64,
    /// Asks sent.
    pub asks: u64,
}

struct State {
    policy: Option<Policy>,
    running: HashMap<MessageId, CancelToken>,
    stats: SessionStats,
    asked_at: Option<Instant>,
    backoff_until: Option<Instant>,
    refusal: Option<Refusal>,
}

fn seal<M: Message>(agent: &AgentId, message: &M) -> Vec<u8> {
    Envelope::stamped::<M>(agent.clone()).seal(message).expect("the worker's messages are valid")
}

fn text<const N: usize>(s: &str) -> heapless::String<N> {
    let mut out = heapless::String::new();
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

impl WorkerSession {
    fn topic(&self, leaf: Leaf) -> String {
        Topic::agent(&self.agent, leaf).to_text().as_str().to_owned()
    }

    fn hello(&self) -> Hello {
        let mut models = heapless::Vec::new();
        let _ = models.push(text(self.writer.model_id()));
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as u16;
        Hello {
            software: text(&format!("edgecoder {}", env!("CARGO_PKG_VERSION"))),
            platform: text(&format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)),
            cores,
            memory_mb: total_memory_mb(),
            models,
            sandbox: self.sandbox,
            max_concurrency: if self.refusing.is_some() { 0 } else { cores.min(8) as u8 },
        }
    }

    async fn publish<M: Message>(&self, client: &AsyncClient, leaf: Leaf, message: &M) {
        let qos = if leaf.qos() == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce };
        if let Err(error) = client.publish(self.topic(leaf), qos, leaf.retained(), seal(&self.agent, message)).await {
            tracing::warn!(%error, leaf = leaf.name(), "cannot publish");
        }
    }

    async fn status(&self, client: &AsyncClient, presence: Presence, reason: &str) {
        self.publish(client, Leaf::Status, &Status { presence, reason: text(reason) }).await;
    }

    /// Runs until `stop` resolves; then gives back running work and says it is offline.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) -> Result<SessionStats, SessionError> {
        let session = Arc::new(self);
        let mut options = connection(session.agent.as_str(), &session.broker, session.ca_pem.as_deref())?;
        options.set_credentials(session.agent.as_str(), &session.secret);
        options.set_keep_alive(Duration::from_secs(30));
        options.set_max_packet_size(300 * 1024, 300 * 1024);
        options.set_clean_session(true);
        let offline = Status { presence: Presence::Offline, reason: text("the worker went away") };
        options.set_last_will(LastWill::new(session.topic(Leaf::Status), seal(&session.agent, &offline), QoS::AtLeastOnce, true));
        let (client, mut eventloop) = AsyncClient::new(options, 256);
        let state = Arc::new(Mutex::new(State {
            policy: None,
            running: HashMap::new(),
            stats: SessionStats::default(),
            asked_at: None,
            backoff_until: None,
            refusal: None,
        }));
        let (incoming_tx, mut incoming) = tokio::sync::mpsc::unbounded_channel();
        let poller = tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        if incoming_tx.send(None).is_err() {
                            return;
                        }
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if incoming_tx.send(Some(p)).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "broker connection lost; reconnecting");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            }
        });
        let mut ticker = tokio::time::interval(session.tick);
        let mut heartbeat_seq = 0u32;
        let mut next_heartbeat = Instant::now();
        let mut cpu = CpuMeter::default();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                received = incoming.recv() => match received {
                    None => break,
                    Some(None) => session.on_connect(&client).await,
                    Some(Some(publish)) => session.on_publish(&client, &state, &publish.topic, &publish.payload).await,
                },
                _ = ticker.tick() => {
                    let heartbeat_s = state.lock().unwrap().policy.as_ref().map_or(10, |p| p.heartbeat_s);
                    if Instant::now() >= next_heartbeat {
                        heartbeat_seq = heartbeat_seq.wrapping_add(1);
                        let beat = {
                            let s = state.lock().unwrap();
                            Heartbeat {
                                seq: heartbeat_seq,
                                cpu_busy_percent: cpu.busy_percent(),
                                user_idle_s: user_idle_s(),
                                running: s.running.len().min(255) as u8,
                                free_memory_mb: free_memory_mb(),
                                policy_version: s.policy.as_ref().map_or(0, |p| p.version),
                            }
                        };
                        session.publish(&client, Leaf::Heartbeat, &beat).await;
                        next_heartbeat = Instant::now() + Duration::from_secs(u64::from(heartbeat_s.max(1)));
                    }
                    session.look(&client, &state).await;
                }
            }
        }
        let tokens: Vec<CancelToken> = state.lock().unwrap().running.values().cloned().collect();
        for token in &tokens {
            token.cancel();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while !state.lock().unwrap().running.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        session.status(&client, Presence::Offline, "the worker stopped").await;
        let _ = client.disconnect().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        poller.abort();
        let stats = state.lock().unwrap().stats;
        Ok(stats)
    }

    async fn on_connect(&self, client: &AsyncClient) {
        // Features before the manifest: a retained offer is judged with the fleet's settings.
        for leaf in [Leaf::Features, Leaf::Work, Leaf::Policy, Leaf::Manifest] {
            let _ = client.subscribe(self.topic(leaf), QoS::AtLeastOnce).await;
        }
        let coordinator = Topic::CoordinatorStatus.to_text();
        let _ = client.subscribe(coordinator.as_str(), QoS::AtLeastOnce).await;
        self.publish(client, Leaf::Hello, &self.hello()).await;
        match &self.refusing {
            Some(reason) => self.status(client, Presence::Refusing, reason).await,
            None => self.status(client, Presence::Online, "").await,
        }
        tracing::info!(agent = %self.agent, "connected to the swarm");
    }

    /// Checks the gate: gives back work when it closed, asks for work when it is open and a
    /// slot is free.
    async fn look(self: &Arc<Self>, client: &AsyncClient, state: &Arc<Mutex<State>>) {
        if self.refusing.is_some() {
            return;
        }
        let (idle_s, (weekday, minute)) = (user_idle_s(), local_time());
        let ask = {
            let mut s = state.lock().unwrap();
            let verdict = may_work(s.policy.as_ref(), &Conditions { weekday, minute, user_idle_s: idle_s });
            match verdict {
                Err(refusal) => {
                    if !s.running.is_empty() {
                        tracing::info!(%refusal, "giving back running work");
                        for token in s.running.values() {
                            token.cancel();
                        }
                    }
                    if s.refusal.as_ref() != Some(&refusal) && !matches!(refusal, Refusal::NoPolicy) {
                        let backoff = s.policy.as_ref().map_or(30, |p| p.backoff_s);
                        s.backoff_until = Some(Instant::now() + Duration::from_secs(u64::from(backoff)));
                    }
                    s.refusal = Some(refusal);
                    None
                }
                Ok(()) => {
                    s.refusal = None;
                    let policy = s.policy.as_ref().expect("the gate needs a policy");
                    let free = usize::from(policy.concurrency).saturating_sub(s.running.len());
                    let backing_off = s.backoff_until.is_some_and(|t| Instant::now() < t);
                    let waiting = s.asked_at.is_some_and(|t| t.elapsed() < Duration::from_secs(2));
                    if free > 0 && !backing_off && !waiting {
                        s.asked_at = Some(Instant::now());
                        s.stats.asks += 1;
                        Some(free.min(255) as u8)
                    } else {
                        None
                    }
                }
            }
        };
        if let Some(slots) = ask {
            self.publish(client, Leaf::Ask, &Ask { slots }).await;
        }
    }

    async fn on_publish(self: &Arc<Self>, client: &AsyncClient, state: &Arc<Mutex<State>>, topic: &str, payload: &[u8]) {
        match Topic::parse(topic) {
            Ok(Topic::Agent { leaf: Leaf::Policy, .. }) => match Envelope::open::<Policy>(payload) {
                Ok(opened) => {
                    let policy = opened.message;
                    let mut s = state.lock().unwrap();
                    if s.policy.as_ref().is_some_and(|p| p.version > policy.version) {
                        return;
                    }
                    match self.throttle.set_cap(policy.cpu_cap_percent) {
                        Ok(cap) => tracing::info!(version = policy.version, asked = policy.cpu_cap_percent, cap, "policy applied"),
                        Err(error) => tracing::error!(%error, "the CPU cap could not be applied"),
                    }
                    s.policy = Some(policy);
                }
                Err(error) => tracing::warn!(%error, "an unreadable policy was ignored"),
            },
            Ok(Topic::Agent { leaf: Leaf::Features, .. }) => match Envelope::open::<AgentFeatures>(payload) {
                Ok(opened) => {
                    let features = opened.message;
                    let models = self.models.clone();
                    let coordinator = self.broker.clone();
                    let saved = tokio::task::spawn_blocking(move || models.set_features(features, &coordinator)).await;
                    match saved {
                        Ok(Ok(())) => tracing::info!(local_model = features.local_model, mode = features.mode.name(), "fleet features applied"),
                        Ok(Err(error)) => tracing::error!(%error, "the fleet's features could not be recorded"),
                        Err(error) => tracing::error!(%error, "recording the fleet's features panicked"),
                    }
                }
                Err(error) => tracing::warn!(%error, "unreadable feature settings were ignored"),
            },
            Ok(Topic::Agent { leaf: Leaf::Work, .. }) => match Envelope::open::<Work>(payload) {
                Ok(opened) => self.on_work(client, state, opened.message).await,
                Err(error) => tracing::warn!(%error, "an unreadable work message was ignored"),
            },
            Ok(Topic::CoordinatorStatus) => {
                // A coordinator that (re)started after this worker connected missed its hello.
                if Envelope::open::<Status>(payload).is_ok_and(|o| o.message.presence == Presence::Online) {
                    self.publish(client, Leaf::Hello, &self.hello()).await;
                }
            }
            Ok(Topic::Agent { leaf: Leaf::Manifest, .. }) if payload.is_empty() => {
                tracing::info!("the coordinator withdrew its model offer");
            }
            Ok(Topic::Agent { leaf: Leaf::Manifest, .. }) => match Envelope::open::<ManifestOffer>(payload) {
                Ok(opened) => self.on_offer(client, opened.message),
                Err(error) => tracing::warn!(%error, "an unreadable manifest offer was ignored"),
            },
            _ => tracing::warn!(topic, "a message on an unexpected topic was ignored"),
        }
    }

    /// Installs an offered model on a blocking thread; its reports go out as they come.
    fn on_offer(self: &Arc<Self>, client: &AsyncClient, offer: ManifestOffer) {
        let (reports_tx, mut reports) = tokio::sync::mpsc::unbounded_channel::<ModelReport>();
        let models = self.models.clone();
        let span = tracing::info_span!("model_offer", rollout = offer.rollout);
        tokio::task::spawn_blocking(move || {
            let _span = span.entered();
            models.handle(&offer, &mut |report| {
                let _ = reports_tx.send(report);
            });
        });
        let (session, client) = (self.clone(), client.clone());
        tokio::spawn(async move {
            while let Some(report) = reports.recv().await {
                session.publish(&client, Leaf::Model, &report).await;
            }
        });
    }

    async fn on_work(self: &Arc<Self>, client: &AsyncClient, state: &Arc<Mutex<State>>, work: Work) {
        let (memory_mb, refusal) = {
            let mut s = state.lock().unwrap();
            s.stats.work_received += 1;
            s.asked_at = None;
            let refusal = if self.refusing.is_some() {
                Some("this worker refuses work: its sandbox is incomplete".to_owned())
            } else {
                match &s.policy {
                    None => Some(Refusal::NoPolicy.to_string()),
                    Some(policy) if s.running.len() >= usize::from(policy.concurrency) => Some("no free slot".to_owned()),
                    Some(_) => s.refusal.as_ref().map(|r| r.to_string()),
                }
            };
            if refusal.is_none() {
                s.running.insert(work.lease, CancelToken::new());
            }
            (s.policy.as_ref().map_or(256, |p| p.memory_limit_mb), refusal)
        };
        if let Some(reason) = refusal {
            let solution = Solution { outcome: WorkOutcome::Released { reason }, layers: SandboxLayers::default() };
            self.report(client, state, &work, solution, Duration::ZERO).await;
            return;
        }
        let cancel = state.lock().unwrap().running[&work.lease].clone();
        let (session, client, state) = (self.clone(), client.clone(), state.clone());
        let span = tracing::info_span!("subtask", job = %work.job, subtask = %work.subtask, attempt = work.attempt);
        tokio::spawn(
            async move {
                let started = Instant::now();
                let solution = match session.snapshots.ensure(&work.snapshot).await {
                    Err(error) => Solution {
                        outcome: WorkOutcome::Failed { reason: error.to_string(), report: None },
                        layers: SandboxLayers::default(),
                    },
                    Ok(unpacked) => {
                        let (writer, throttle, job) = (session.writer.clone(), session.throttle.clone(), work.clone());
                        tokio::task::spawn_blocking(move || solve(&*writer, &job, &unpacked, memory_mb, &throttle, &cancel))
                            .await
                            .unwrap_or_else(|panic| Solution {
                                outcome: WorkOutcome::Failed { reason: format!("the worker crashed: {panic}"), report: None },
                                layers: SandboxLayers::default(),
                            })
                    }
                };
                session.report(&client, &state, &work, solution, started.elapsed()).await;
                state.lock().unwrap().running.remove(&work.lease);
                session.look(&client, &state).await;
            }
            .instrument(span),
        );
    }

    async fn report(&self, client: &AsyncClient, state: &Arc<Mutex<State>>, work: &Work, solution: Solution, elapsed: Duration) {
        let mut outcome = solution.outcome;
        if matches!(outcome, WorkOutcome::Completed { .. }) && !solution.layers.contains(SandboxLayers::REQUIRED_FOR_WORK) {
            let missing: Vec<_> = solution.layers.missing(SandboxLayers::REQUIRED_FOR_WORK).collect();
            outcome = WorkOutcome::Failed {
                reason: format!("the sandbox lacked {} during the run", missing.join(", ")),
                report: None,
            };
        }
        {
            let mut s = state.lock().unwrap();
            match &outcome {
                WorkOutcome::Completed { .. } => s.stats.completed += 1,
                WorkOutcome::Failed { .. } => s.stats.failed += 1,
                WorkOutcome::Released { .. } => s.stats.released += 1,
            }
        }
        tracing::info!(outcome = ?std::mem::discriminant(&outcome), elapsed_ms = elapsed.as_millis() as u64, "subtask reported");
        let result = WorkResult::answering(
            work,
            solution.layers,
            elapsed.as_millis() as u64,
            outcome,
        );
        self.publish(client, Leaf::Result, &result).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_addresses_are_parsed_with_their_scheme() {
        assert!(connection("a", "127.0.0.1:1883", None).is_ok());
        assert!(connection("a", "mqtt://127.0.0.1:1883/", None).is_ok());
        for bad in ["127.0.0.1", "http://127.0.0.1:1883", "mqtt://:1883", "mqtt://127.0.0.1:port", "mqtts://"] {
            assert!(matches!(connection("a", bad, None), Err(SessionError::BrokerAddress(_))), "{bad}");
        }
        let no_certificate = connection("a", "mqtts://localhost:8883", Some("not a certificate"));
        assert!(matches!(&no_certificate, Err(SessionError::Tls(m)) if m.contains("--ca")), "{:?}", no_certificate.err());
    }
}
