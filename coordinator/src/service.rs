//! The coordinator on MQTT: reads agents' hello, heartbeat, ask, result and status messages,
//! hands out work under leases, pushes policies, and keeps the queue moving (expired leases,
//! decomposition, escalation).

use edgecoder_protocol::ids::MessageId;
use edgecoder_protocol::envelope::unix_time_ms;
use crate::audit::{Event, Record};
use crate::features::{FeatureError, Features, Level, Setting};
use crate::merge::{MergeError, describe_conflicts, merge_stored};
use crate::model::{Aggregate, Assignment, Job, Report, Settlement, SubtaskSpec};
use crate::snapshots::SnapshotStore;
use crate::planner::{Planner, PlannerError};
use crate::policy::{Policies, PolicyError, Scope};
use crate::registry::{Liveness, Registry};
use crate::rollout::{Change, Plan, Rollout, RolloutError, Rollouts};
use crate::store::{Store, StoreError};
use edgecoder_protocol::envelope::{DecodeCounters, Envelope, Message};
use edgecoder_protocol::ids::AgentId;
use edgecoder_protocol::inference::{ConflictedFile, EditedFile};
use edgecoder_protocol::manifest::SignedStatement;
use edgecoder_protocol::swarm::{
    AgentFeatures, Ask, ContextItem, Heartbeat, Hello, InstallState, ModelReport, Policy, Presence, SandboxLayers,
    Status, Work, WorkOutcome, WorkResult,
};
use edgecoder_protocol::topic::{Leaf, Topic};
use rumqttc::{AsyncClient, Event as MqttEvent, MqttOptions, Packet, QoS};
use serde::Serialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// How the coordinator reaches its broker and paces its work.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// The broker's address (the embedded broker's gateway, or a cluster's).
    pub broker: SocketAddr,
    /// The coordinator's broker login.
    pub username: String,
    /// Its password.
    pub password: String,
    /// The sender id on the coordinator's envelopes (also its MQTT client id).
    pub id: AgentId,
    /// How long a lease lasts without a heartbeat.
    pub lease: Duration,
    /// How often expired leases, decomposition and escalation are looked at.
    pub tick: Duration,
    /// Most messages handled at once.
    pub parallel: usize,
    /// The snapshots jobs run on, read to merge the patches of `merge_patches` jobs; such jobs
    /// wait in `merging` while the service has none.
    pub snapshots: Option<Arc<SnapshotStore>>,
    /// The model rollouts (in memory unless the caller opens a file).
    pub rollouts: Arc<Rollouts>,
    /// The feature settings per tenant, group and agent (in memory unless the caller opens a
    /// file): rollouts reach only agents with the local-model feature on.
    pub features: Arc<Features>,
}

impl ServiceConfig {
    /// A configuration with the usual pacing for a broker at `broker`.
    pub fn new(broker: SocketAddr, username: &str, password: &str) -> ServiceConfig {
        ServiceConfig {
            broker,
            username: username.to_owned(),
            password: password.to_owned(),
            id: AgentId::new("coordinator").expect("a valid id"),
            lease: Duration::from_secs(60),
            tick: Duration::from_millis(250),
            parallel: 256,
            snapshots: None,
            rollouts: Arc::new(Rollouts::in_memory()),
            features: Arc::new(Features::in_memory()),
        }
    }
}

/// Counters of what the service did, for the dashboard and the benchmark.
#[derive(Debug, Default)]
struct Counters {
    received: AtomicU64,
    rejected: AtomicU64,
    unknown_agent: AtomicU64,
    no_sandbox: AtomicU64,
    work_sent: AtomicU64,
    results: AtomicU64,
    stale_results: AtomicU64,
    wrong_snapshot: AtomicU64,
    policies_sent: AtomicU64,
    features_sent: AtomicU64,
    offers_sent: AtomicU64,
    model_reports: AtomicU64,
    store_errors: AtomicU64,
}

/// A copy of the service's counters.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ServiceStats {
    /// Messages received.
    pub received: u64,
    /// Messages dropped because they did not decode or did not belong on their topic.
    pub rejected: u64,
    /// Messages from agents that never said hello.
    pub unknown_agent: u64,
    /// Asks refused because the agent's sandbox lacks a required layer.
    pub no_sandbox: u64,
    /// Work messages sent.
    pub work_sent: u64,
    /// Results recorded.
    pub results: u64,
    /// Results dropped as stale (late, duplicate, another agent's lease).
    pub stale_results: u64,
    /// Completed results that ran on another snapshot than their job's (counted as failures).
    pub wrong_snapshot: u64,
    /// Policy messages sent.
    pub policies_sent: u64,
    /// Feature settings sent (local-model feature and mode).
    pub features_sent: u64,
    /// Model offers sent (and withdrawn).
    pub offers_sent: u64,
    /// Model install reports received.
    pub model_reports: u64,
    /// Store calls that failed.
    pub store_errors: u64,
}

struct Inner {
    config: ServiceConfig,
    store: Arc<dyn Store>,
    policies: Arc<Policies>,
    registry: Registry,
    planner: Option<Arc<dyn Planner>>,
    client: AsyncClient,
    counters: Counters,
    decode_errors: DecodeCounters,
    /// Jobs and subtasks whose planner call failed for a transient reason: when to ask again,
    /// and how many times it failed.
    planner_retry: std::sync::Mutex<HashMap<MessageId, (Instant, u32)>>,
    /// Counts up whenever something an operator sees may have changed (the dashboard's live
    /// updates follow it).
    changes: tokio::sync::watch::Sender<u64>,
}

/// The longest wait before asking an unavailable inference service again.
const PLANNER_RETRY_MAX: Duration = Duration::from_secs(30);

/// How long [`Service::start`] waits for the broker to accept its login and subscriptions.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The broker did not accept the coordinator in time.
    #[error(
        "the broker at {0} did not accept the coordinator's login and subscriptions within 10 s: \
         check that it runs there and that the coordinator's username and password are right"
    )]
    Broker(SocketAddr),
}

/// The running coordinator service. Dropping it stops its tasks.
pub struct Service {
    inner: Arc<Inner>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Service {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Service {
    /// Connects to the broker and starts serving agents.
    pub async fn start(
        config: ServiceConfig,
        store: Arc<dyn Store>,
        policies: Arc<Policies>,
        planner: Option<Arc<dyn Planner>>,
    ) -> Result<Service, ServiceError> {
        let mut options = MqttOptions::new(
            config.id.as_str(),
            config.broker.ip().to_string(),
            config.broker.port(),
        );
        options.set_credentials(&config.username, &config.password);
        options.set_keep_alive(Duration::from_secs(15));
        options.set_max_packet_size(
            edgecoder_protocol::envelope::MAX_ENVELOPE_BYTES + 1024,
            edgecoder_protocol::envelope::MAX_ENVELOPE_BYTES + 1024,
        );
        options.set_inflight(1000);
        options.set_clean_session(true);
        let offline = seal(
            &config.id,
            &Status {
                presence: Presence::Offline,
                reason: "the coordinator went away".try_into().unwrap_or_default(),
            },
        );
        options.set_last_will(rumqttc::LastWill::new(
            "ec/v1/coord/status",
            offline,
            QoS::AtLeastOnce,
            true,
        ));
        let (client, eventloop) = AsyncClient::new(options, 65_536);
        let inner = Arc::new(Inner {
            config,
            store,
            policies,
            registry: Registry::default(),
            planner,
            client,
            counters: Counters::default(),
            decode_errors: DecodeCounters::new(),
            planner_retry: std::sync::Mutex::default(),
            changes: tokio::sync::watch::Sender::new(0),
        });
        let (ready_tx, mut ready) = tokio::sync::watch::channel(false);
        let broker = inner.config.broker;
        let service = Service {
            tasks: vec![
                tokio::spawn(receive(inner.clone(), eventloop, ready_tx)),
                tokio::spawn(tick(inner.clone())),
            ],
            inner,
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, ready.wait_for(|r| *r)).await {
            Ok(Ok(_)) => Ok(service),
            _ => Err(ServiceError::Broker(broker)),
        }
    }

    /// Sets a policy and pushes it at once to the agents it concerns.
    pub async fn set_policy(&self, scope: Scope, policy: Policy) -> Result<u32, PolicyError> {
        let version = self.inner.policies.set(&scope, policy)?;
        let agent = match &scope {
            Scope::Agent(a) => Some(a),
            Scope::Default => None,
        };
        self.inner.audit(Event::PolicyChange, agent, format!("policy version {version}")).await;
        let targets: Vec<AgentId> = match scope {
            Scope::Agent(agent) => vec![agent],
            Scope::Default => self
                .inner
                .registry
                .all()
                .into_iter()
                .map(|a| a.id)
                .collect(),
        };
        for agent in targets {
            self.inner.push_policy(&agent).await;
        }
        self.inner.changed();
        Ok(version)
    }

    /// The policies.
    pub fn policies(&self) -> &Policies {
        &self.inner.policies
    }

    /// The feature settings.
    pub fn features(&self) -> &Features {
        &self.inner.config.features
    }

    /// Sets one level's feature settings; offers not yet acted on are withdrawn from agents
    /// whose local-model feature it turns off.
    pub async fn set_feature(&self, level: &Level, setting: Setting) -> Result<(), FeatureError> {
        let detail = format!(
            "{level}: local_model {}, mode {}",
            setting.local_model.map_or("inherited".into(), |on| if on { "on".to_string() } else { "off".to_string() }),
            setting.mode.map_or("inherited", |m| m.name())
        );
        self.change_features(level, detail, |features| features.set(level, setting)).await
    }

    /// Puts an agent in a group (`None`: in none).
    pub async fn assign_agent(&self, agent: &AgentId, group: Option<&str>) -> Result<(), FeatureError> {
        let detail = format!("agent {agent} moves to group {}", group.unwrap_or("(none)"));
        self.change_features(&Level::Agent(agent.clone()), detail, |features| features.assign_agent(agent, group))
            .await
    }

    /// Puts a group in a tenant (`None`: in none).
    pub async fn assign_group(&self, group: &str, tenant: Option<&str>) -> Result<(), FeatureError> {
        let detail = format!("group {group} moves to tenant {}", tenant.unwrap_or("(none)"));
        self.change_features(&Level::Group(group.to_owned()), detail, |features| features.assign_group(group, tenant))
            .await
    }

    async fn change_features(
        &self,
        level: &Level,
        detail: String,
        change: impl FnOnce(&Features) -> Result<(), FeatureError>,
    ) -> Result<(), FeatureError> {
        let features = &self.inner.config.features;
        let agents: Vec<AgentId> = self.inner.registry.all().into_iter().map(|a| a.id).collect();
        let before: Vec<bool> = agents.iter().map(|a| features.effective(a).local_model.value).collect();
        change(features)?;
        for agent in &agents {
            self.inner.push_features(agent).await;
        }
        let turned_off: Vec<AgentId> = agents
            .into_iter()
            .zip(before)
            .filter(|(agent, was_on)| *was_on && !features.effective(agent).local_model.value)
            .map(|(agent, _)| agent)
            .collect();
        let agent = match level {
            Level::Agent(a) => Some(a),
            _ => None,
        };
        self.inner.audit(Event::Feature, agent, detail).await;
        match self.inner.config.rollouts.withdraw(&turned_off) {
            Ok(withdrawn) => {
                for agent in withdrawn {
                    self.inner.publish_offer(&agent, None).await;
                }
            }
            Err(error) => tracing::error!(%error, "offers to agents whose local-model feature was turned off could not be withdrawn"),
        }
        self.inner.changed();
        Ok(())
    }

    /// Follows changes an operator may want to see (a counter that goes up; the dashboard's
    /// live updates).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.changes.subscribe()
    }

    /// Starts a rollout of a manifest signed offline; its canary is offered at once. A canary
    /// agent named in the plan must have the local-model feature on.
    pub async fn start_rollout(&self, signed: SignedStatement, plan: Plan) -> Result<Rollout, RolloutError> {
        for agent in &plan.canary {
            let local_model = self.inner.config.features.effective(agent).local_model;
            if !local_model.value {
                return Err(RolloutError::Plan(format!(
                    "canary agent {agent} has the local-model feature off (decided by the {}): turn it on or leave the agent out",
                    local_model.from
                )));
            }
        }
        let change = self.inner.config.rollouts.start(signed, plan, &self.inner.known_agents(), unix_time_ms())?;
        self.inner.apply(&change, "started").await;
        Ok(change.rollout)
    }

    /// Offers a rollout's next stage.
    pub async fn advance_rollout(&self, id: u64) -> Result<Rollout, RolloutError> {
        let change = self.inner.config.rollouts.advance(id, &self.inner.known_agents(), unix_time_ms())?;
        self.inner.apply(&change, &format!("advanced to stage {}", change.rollout.stage)).await;
        Ok(change.rollout)
    }

    /// Halts a rollout; offers nobody acted on are withdrawn.
    pub async fn halt_rollout(&self, id: u64, reason: &str) -> Result<Rollout, RolloutError> {
        let change = self.inner.config.rollouts.halt(id, reason)?;
        self.inner.apply(&change, &format!("halted: {reason}")).await;
        Ok(change.rollout)
    }

    /// Rolls a rollout back with a signed rollback manifest, offered at once to every agent it
    /// reached.
    pub async fn roll_back(&self, id: u64, signed: SignedStatement) -> Result<Rollout, RolloutError> {
        let change = self.inner.config.rollouts.roll_back(id, signed, unix_time_ms())?;
        self.inner.apply(&change, &format!("rolls back rollout {id}")).await;
        Ok(change.rollout)
    }

    /// Every rollout, newest first.
    pub fn rollouts(&self) -> Vec<Rollout> {
        self.inner.config.rollouts.list()
    }

    /// One rollout.
    pub fn rollout(&self, id: u64) -> Option<Rollout> {
        self.inner.config.rollouts.get(id)
    }

    /// The agents that said hello.
    pub fn agents(&self) -> Vec<crate::registry::AgentView> {
        self.inner.registry.all()
    }

    /// The store behind the service.
    pub fn store(&self) -> Arc<dyn Store> {
        self.inner.store.clone()
    }

    /// The service's counters.
    pub fn stats(&self) -> ServiceStats {
        let c = &self.inner.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ServiceStats {
            received: get(&c.received),
            rejected: get(&c.rejected),
            unknown_agent: get(&c.unknown_agent),
            no_sandbox: get(&c.no_sandbox),
            work_sent: get(&c.work_sent),
            results: get(&c.results),
            stale_results: get(&c.stale_results),
            wrong_snapshot: get(&c.wrong_snapshot),
            policies_sent: get(&c.policies_sent),
            features_sent: get(&c.features_sent),
            offers_sent: get(&c.offers_sent),
            model_reports: get(&c.model_reports),
            store_errors: get(&c.store_errors),
        }
    }

    /// Decode errors by reason code.
    pub fn decode_errors(&self) -> Vec<(&'static str, u32)> {
        self.inner.decode_errors.snapshot().to_vec()
    }
}

/// Encodes a message from `sender` with a fresh id and the current time.
pub(crate) fn seal<M: Message>(sender: &AgentId, message: &M) -> Vec<u8> {
    Envelope::stamped::<M>(sender.clone())
        .seal(message)
        .expect("the coordinator's own messages are valid")
}

/// Reads the broker's packets; each publish is handled in its own task (bounded).
async fn receive(
    inner: Arc<Inner>,
    mut eventloop: rumqttc::EventLoop,
    ready: tokio::sync::watch::Sender<bool>,
) {
    let permits = Arc::new(Semaphore::new(inner.config.parallel));
    // Handlers live in a set owned by this task, so stopping the service stops them too.
    let mut handlers = tokio::task::JoinSet::new();
    let mut subscribed = 0;
    loop {
        while handlers.try_join_next().is_some() {}
        match eventloop.poll().await {
            Ok(MqttEvent::Incoming(Packet::SubAck(_))) => {
                subscribed += 1;
                if subscribed == AGENT_LEAVES.len() {
                    ready.send_replace(true);
                }
            }
            Ok(MqttEvent::Incoming(Packet::ConnAck(_))) => {
                subscribed = 0;
                tracing::info!(broker = %inner.config.broker, "coordinator connected");
                let inner = inner.clone();
                tokio::spawn(async move { inner.announce().await });
            }
            Ok(MqttEvent::Incoming(Packet::Publish(publish))) => {
                inner.counters.received.fetch_add(1, Ordering::Relaxed);
                // The permit is taken inside the task: the event loop must keep polling
                // (keep-alive pings, acks) while every handler waits on a slow store, or the
                // broker drops the coordinator.
                let (inner, permits) = (inner.clone(), permits.clone());
                handlers.spawn(async move {
                    let Ok(_permit) = permits.acquire_owned().await else {
                        return;
                    };
                    inner.handle(&publish.topic, &publish.payload).await;
                    inner.changed();
                });
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(%error, "broker connection lost; reconnecting");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}

/// Expires leases, marks silent agents, decomposes, escalates and merges, every tick.
async fn tick(inner: Arc<Inner>) {
    let mut interval = tokio::time::interval(inner.config.tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let now = unix_time_ms();
        match inner.store.expire(now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(requeued = n, "leases expired"),
            Err(error) => {
                inner.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, "expiring leases failed");
            }
        }
        let heartbeat_ms = inner.policies.for_agent(&inner.config.id).heartbeat_s as u64 * 1000;
        if inner.registry.sweep(heartbeat_ms, now) {
            inner.changed();
            inner.judge_rollout_health().await;
        }
        if let Some(planner) = &inner.planner {
            inner.plan_pending(planner.as_ref()).await;
            inner.escalate_pending(planner.as_ref()).await;
        }
        if let Some(snapshots) = &inner.config.snapshots {
            inner.merge_pending(snapshots).await;
        }
    }
}

/// The agent topics the coordinator reads.
const AGENT_LEAVES: [Leaf; 6] = [
    Leaf::Hello,
    Leaf::Heartbeat,
    Leaf::Ask,
    Leaf::Result,
    Leaf::Status,
    Leaf::Model,
];

impl Inner {
    /// Subscribes to the agents' topics and says the coordinator is online.
    async fn announce(&self) {
        for leaf in AGENT_LEAVES {
            let filter = format!("ec/v1/agents/+/{}", leaf.name());
            let qos = if leaf.qos() == 0 {
                QoS::AtMostOnce
            } else {
                QoS::AtLeastOnce
            };
            if let Err(error) = self.client.subscribe(filter, qos).await {
                tracing::error!(%error, "cannot subscribe");
            }
        }
        let online = seal(
            &self.config.id,
            &Status {
                presence: Presence::Online,
                reason: heapless::String::new(),
            },
        );
        let _ = self
            .client
            .publish("ec/v1/coord/status", QoS::AtLeastOnce, true, online)
            .await;
        // The broker may have restarted with the coordinator: the offers it retained are gone.
        for (agent, offer) in self.config.rollouts.current_offers() {
            self.publish_offer(&agent, Some(seal(&self.config.id, &offer))).await;
        }
    }

    /// The agents a rollout stage may reach: those that said hello and have the local-model
    /// feature on.
    fn known_agents(&self) -> Vec<AgentId> {
        self.registry
            .all()
            .into_iter()
            .map(|a| a.id)
            .filter(|a| self.config.features.effective(a).local_model.value)
            .collect()
    }

    /// Halts rollouts whose installed agents went silent past their plan's threshold.
    async fn judge_rollout_health(&self) {
        let silent = |agent: &AgentId| {
            // An agent not heard from since the coordinator started is not judged: it may not
            // have said hello again yet.
            self.registry.get(agent).is_some_and(|a| matches!(a.liveness, Liveness::Stale | Liveness::Offline))
        };
        match self.config.rollouts.judge_health(&silent) {
            Ok(changes) => {
                for change in changes {
                    let reason = change.halted.clone().unwrap_or_default();
                    tracing::warn!(rollout = change.rollout.id, %reason, "rollout halted by its health signal");
                    self.apply(&change, &format!("halted by itself: {reason}")).await;
                }
            }
            Err(error) => tracing::error!(%error, "a rollout that failed its health check could not be halted"),
        }
    }

    /// Tells the dashboard's live updates that something changed.
    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Sets (or, with `None`, clears) the offer retained on an agent's manifest topic.
    async fn publish_offer(&self, agent: &AgentId, payload: Option<Vec<u8>>) {
        let topic = Topic::agent(agent, Leaf::Manifest).to_text();
        match self.client.publish(topic.as_str(), QoS::AtLeastOnce, true, payload.unwrap_or_default()).await {
            Ok(()) => {
                self.counters.offers_sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => tracing::error!(%error, %agent, "cannot send the model offer"),
        }
    }

    /// Sends a rollout change's offers and withdrawals, and audits it.
    async fn apply(&self, change: &Change, what: &str) {
        let rollout = &change.rollout;
        let _span = tracing::info_span!("rollout", id = rollout.id, model = %rollout.model, version = %rollout.version);
        let payload = seal(&self.config.id, &rollout.offer());
        for agent in &change.offer_to {
            self.publish_offer(agent, Some(payload.clone())).await;
        }
        for agent in &change.withdraw {
            self.publish_offer(agent, None).await;
        }
        let detail = format!(
            "rollout {} of {} {} (sequence {}, signed by {}) {what}; offered to {}, withdrawn from {}",
            rollout.id,
            rollout.model,
            rollout.version,
            rollout.sequence,
            rollout.signer,
            change.offer_to.len(),
            change.withdraw.len()
        );
        tracing::info!("{detail}");
        self.audit(Event::Rollout, None, detail).await;
        self.changed();
    }

    /// Writes an operator-level event (policy, feature, rollout) to the audit log; a failure is
    /// counted and logged, never fatal.
    async fn audit(&self, event: Event, agent: Option<&AgentId>, detail: String) {
        let record = Record {
            event,
            at: unix_time_ms(),
            job: None,
            subtask: None,
            agent: agent.map(|a| a.as_str().to_owned()),
            result_hash: None,
            detail,
        };
        if let Err(error) = self.store.note(record).await {
            self.counters.store_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%error, event = event.name(), "the change could not be audited");
        }
    }

    /// Records an agent's install report; finished installs are audited, and a rollout whose
    /// failure rate crossed its threshold halts.
    async fn on_model_report(&self, agent: &AgentId, report: ModelReport) {
        self.counters.model_reports.fetch_add(1, Ordering::Relaxed);
        let change = match self.config.rollouts.record(agent, &report, unix_time_ms()) {
            Ok(Some(change)) => change,
            Ok(None) => {
                tracing::warn!(%agent, rollout = report.rollout, "a report about a rollout this agent was not offered");
                return;
            }
            Err(error) => {
                tracing::error!(%error, "the report could not be recorded");
                return;
            }
        };
        if matches!(report.state, InstallState::Installed | InstallState::Refused | InstallState::Failed) {
            let code = if report.code.is_empty() { String::new() } else { format!(" ({})", report.code) };
            let detail = format!(
                "rollout {}: {} {} {:?}{code}: {}",
                report.rollout, report.model, report.version, report.state, report.message
            );
            self.audit(Event::Rollout, Some(agent), detail).await;
        }
        if let Some(reason) = &change.halted {
            tracing::warn!(rollout = report.rollout, %reason, "rollout halted by itself");
            self.apply(&change, &format!("halted by itself: {reason}")).await;
        }
    }

    async fn handle(&self, topic: &str, payload: &[u8]) {
        let Ok(Topic::Agent { agent, leaf }) = Topic::parse(topic) else {
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let raw = match Envelope::parse(payload) {
            Ok(raw) => raw,
            Err(error) => {
                self.decode_errors.record(error);
                self.counters.rejected.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%agent, %error, "payload rejected");
                return;
            }
        };
        if let Err(mismatch) = Topic::agent(&agent, leaf).admits(&raw.envelope) {
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%agent, ?mismatch, "message does not belong on its topic");
            return;
        }
        let span = tracing::debug_span!("agent_message", %agent, kind = leaf.name());
        let outcome = async {
            match leaf {
                Leaf::Hello => self.on_hello(&agent, raw.decode_body::<Hello>()?).await,
                Leaf::Heartbeat => {
                    self.on_heartbeat(&agent, raw.decode_body::<Heartbeat>()?)
                        .await
                }
                Leaf::Ask => self.on_ask(&agent, raw.decode_body::<Ask>()?).await,
                Leaf::Result => {
                    self.on_result(&agent, raw.decode_body::<WorkResult>()?)
                        .await
                }
                Leaf::Status => {
                    let status = raw.decode_body::<Status>()?;
                    self.registry
                        .status(&agent, status.presence, &status.reason, unix_time_ms());
                }
                Leaf::Model => {
                    self.on_model_report(&agent, raw.decode_body::<ModelReport>()?)
                        .await
                }
                Leaf::Work | Leaf::Policy | Leaf::Manifest | Leaf::Features => {}
            }
            Ok::<(), edgecoder_protocol::envelope::DecodeError>(())
        }
        .instrument(span)
        .await;
        if let Err(error) = outcome {
            self.decode_errors.record(error);
            self.counters.rejected.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn on_hello(&self, agent: &AgentId, hello: Hello) {
        tracing::info!(%agent, software = %hello.software, platform = %hello.platform, "agent said hello");
        self.registry.hello(agent, hello, unix_time_ms());
        self.push_policy(agent).await;
        self.push_features(agent).await;
    }

    async fn on_heartbeat(&self, agent: &AgentId, heartbeat: Heartbeat) {
        let behind = heartbeat.policy_version < self.policies.version();
        let running = usize::from(heartbeat.running);
        if !self.registry.heartbeat(agent, heartbeat, unix_time_ms()) {
            self.counters.unknown_agent.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if let Err(error) = self
            .store
            .renew(agent, running, self.config.lease, unix_time_ms())
            .await
        {
            self.counters.store_errors.fetch_add(1, Ordering::Relaxed);
            tracing::error!(%error, "renewing leases failed");
        }
        if behind {
            self.push_policy(agent).await;
        }
    }

    async fn push_policy(&self, agent: &AgentId) {
        let policy = self.policies.for_agent(agent);
        let topic = Topic::agent(agent, Leaf::Policy).to_text();
        let payload = seal(&self.config.id, &policy);
        match self
            .client
            .publish(topic.as_str(), QoS::AtLeastOnce, true, payload)
            .await
        {
            Ok(()) => {
                self.counters.policies_sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => tracing::error!(%error, %agent, "cannot send the policy"),
        }
    }

    /// Sends an agent its feature settings (retained): the device enforces them too.
    async fn push_features(&self, agent: &AgentId) {
        let effective = self.config.features.effective(agent);
        let features = AgentFeatures { local_model: effective.local_model.value, mode: effective.mode.value };
        let topic = Topic::agent(agent, Leaf::Features).to_text();
        match self.client.publish(topic.as_str(), QoS::AtLeastOnce, true, seal(&self.config.id, &features)).await {
            Ok(()) => {
                self.counters.features_sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => tracing::error!(%error, %agent, "cannot send the feature settings"),
        }
    }

    async fn on_ask(&self, agent: &AgentId, ask: Ask) {
        let Some(view) = self.registry.get(agent) else {
            self.counters.unknown_agent.fetch_add(1, Ordering::Relaxed);
            return;
        };
        if !view
            .hello
            .sandbox
            .contains(SandboxLayers::REQUIRED_FOR_WORK)
        {
            self.counters.no_sandbox.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%agent, "asked for work without every required sandbox layer");
            return;
        }
        if matches!(view.liveness, Liveness::Refusing | Liveness::Offline) {
            return;
        }
        let policy = self.policies.for_agent(agent);
        if !policy.enabled {
            return;
        }
        let limit = usize::from(policy.concurrency);
        let models: Vec<String> = view.hello.models.iter().map(|m| m.to_string()).collect();
        let assignments = match self
            .store
            .claim(
                agent,
                &models,
                usize::from(ask.slots),
                limit,
                self.config.lease,
                unix_time_ms(),
            )
            .await
        {
            Ok(a) => a,
            Err(error) => {
                self.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, "claiming work failed");
                return;
            }
        };
        let topic = Topic::agent(agent, Leaf::Work).to_text();
        for assignment in assignments {
            let work = work_message(&assignment, self.config.lease);
            let payload = match Envelope::stamped::<Work>(self.config.id.clone())
                .seal(&work)
            {
                Ok(p) => p,
                Err(error) => {
                    // Too large or invalid: fail the attempt so it is retried or escalated.
                    tracing::error!(%error, subtask = %assignment.subtask.id, "work cannot be sent");
                    let report = Report::Failed {
                        reason: format!("the work message cannot be sent: {error}"),
                    };
                    let _ = self
                        .store
                        .report(assignment.lease, agent, report, unix_time_ms())
                        .await;
                    continue;
                }
            };
            if let Err(error) = self
                .client
                .publish(topic.as_str(), QoS::AtLeastOnce, false, payload)
                .await
            {
                tracing::error!(%error, "cannot send work; the lease will expire");
                continue;
            }
            self.counters.work_sent.fetch_add(1, Ordering::Relaxed);
        }
    }

    async fn on_result(&self, agent: &AgentId, result: WorkResult) {
        let job = match self.store.job_only(result.job).await {
            Ok(Some(job)) => job,
            Ok(None) => {
                self.counters.stale_results.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(error) => {
                self.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, "reading the job failed");
                return;
            }
        };
        let report = match result.outcome {
            WorkOutcome::Completed { .. } if result.snapshot_sha256 != job.spec.snapshot.sha256 => {
                self.counters.wrong_snapshot.fetch_add(1, Ordering::Relaxed);
                Report::Failed {
                    reason: format!(
                        "ran on snapshot {}, not the job's {}",
                        result.snapshot_sha256, job.spec.snapshot.sha256
                    ),
                }
            }
            WorkOutcome::Completed { output, patch, .. } => Report::Completed {
                output: patch.unwrap_or(output),
            },
            WorkOutcome::Failed { reason, .. } => Report::Failed { reason },
            WorkOutcome::Released { reason } => Report::Released { reason },
        };
        match self
            .store
            .report(result.lease, agent, report, unix_time_ms())
            .await
        {
            Ok(crate::model::Accepted::Recorded { .. }) => {
                self.counters.results.fetch_add(1, Ordering::Relaxed);
            }
            Ok(crate::model::Accepted::Stale) => {
                self.counters.stale_results.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                self.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, "recording a result failed");
            }
        }
    }

    /// Whether a planner call for `id` is due (none failed transiently, or its wait is over).
    fn planner_due(&self, id: MessageId) -> bool {
        self.planner_retry.lock().unwrap().get(&id).is_none_or(|(at, _)| Instant::now() >= *at)
    }

    /// Records how a planner call for `id` ended: a transient failure waits (doubling, at most
    /// [`PLANNER_RETRY_MAX`]) before the next try; anything else forgets `id`. Waits long past
    /// are forgotten too: their job was cancelled or planned elsewhere meanwhile.
    fn planner_outcome(&self, id: MessageId, transient: bool) {
        let mut retry = self.planner_retry.lock().unwrap();
        let now = Instant::now();
        retry.retain(|_, (at, _)| now.saturating_duration_since(*at) < 2 * PLANNER_RETRY_MAX);
        if transient {
            let failures = retry.get(&id).map_or(1, |(_, n)| n + 1);
            let wait = Duration::from_millis(500 << failures.min(6)).min(PLANNER_RETRY_MAX);
            retry.insert(id, (now + wait, failures));
        } else {
            retry.remove(&id);
        }
    }

    async fn plan_pending(&self, planner: &dyn Planner) {
        let Ok(jobs) = self.store.to_decompose(8).await else {
            return;
        };
        for job in jobs.into_iter().filter(|job| self.planner_due(job.spec.id)) {
            let span = tracing::info_span!("decompose", job = %job.spec.id);
            async {
                let files = match self.editable_files(&job).await {
                    Ok(files) => files,
                    Err(reason) => {
                        tracing::error!(%reason, "decomposition failed");
                        let _ = self.store.fail_job(job.spec.id, &reason, unix_time_ms()).await;
                        return;
                    }
                };
                let now = unix_time_ms();
                let answer = planner.decompose(&job, &files).await;
                self.planner_outcome(job.spec.id, answer.as_ref().is_err_and(PlannerError::is_transient));
                match answer {
                    Ok(subtasks) => match self.store.plan(job.spec.id, subtasks, now).await {
                        Ok(()) => {}
                        // Planned meanwhile by its client or another coordinator, or cancelled.
                        Err(error @ StoreError::WrongState { .. }) => {
                            tracing::info!(%error, "the decomposition is no longer needed");
                        }
                        Err(error) => {
                            tracing::error!(%error, "the decomposition was refused");
                            let _ = self
                                .store
                                .fail_job(job.spec.id, &error.to_string(), now)
                                .await;
                        }
                    },
                    Err(error) if error.is_transient() => {
                        tracing::warn!(%error, "decomposition postponed: the inference service is unavailable");
                    }
                    Err(error) => {
                        tracing::error!(%error, "decomposition failed");
                        let _ = self
                            .store
                            .fail_job(job.spec.id, &error.to_string(), now)
                            .await;
                    }
                }
            }
            .instrument(span)
            .await;
        }
    }

    /// Reads `job`'s snapshot off the async threads and gives its tarball to `read`; `Err` says
    /// why it cannot be had (`needed_for` ends the message: what could not be done).
    async fn from_snapshot<T: Send + 'static>(
        &self,
        job: &Job,
        needed_for: &str,
        read: impl FnOnce(&[u8]) -> Result<T, crate::merge::MergeError> + Send + 'static,
    ) -> Result<T, String> {
        let Some(store) = self.config.snapshots.clone() else {
            return Err(format!("this coordinator keeps no snapshots, so {needed_for}"));
        };
        let sha256 = job.spec.snapshot.sha256;
        let got = tokio::task::spawn_blocking(move || store.read(&sha256).map(|t| t.map(|t| read(&t))))
            .await
            .expect("reading a snapshot does not panic");
        match got {
            Ok(Some(Ok(value))) => Ok(value),
            Ok(None) => Err(format!("its snapshot {sha256} is no longer stored, so {needed_for}")),
            Ok(Some(Err(error))) => Err(error.to_string()),
            Err(error) => Err(format!("reading its snapshot {sha256} failed: {error}")),
        }
    }

    /// The file `subtask` edits, as its job's snapshot has it (`None` when it edits none);
    /// `Err` says why it cannot be read.
    async fn edited_file(&self, job: &Job, subtask: &SubtaskSpec) -> Result<Option<EditedFile>, String> {
        let Some(path) = subtask.file.clone() else {
            return Ok(None);
        };
        let wanted = path.clone();
        let needed_for = format!("{path} cannot be read for the parent model");
        let content = self.from_snapshot(job, &needed_for, move |t| crate::merge::text_file(t, &wanted)).await?;
        Ok(Some(EditedFile { path, content }))
    }

    /// The text files of a `merge_patches` job's snapshot, which its subtasks edit (empty for
    /// other jobs); `Err` says why the job cannot be decomposed.
    async fn editable_files(&self, job: &Job) -> Result<Vec<String>, String> {
        if job.spec.aggregate != Aggregate::MergePatches {
            return Ok(Vec::new());
        }
        self.from_snapshot(job, "its files cannot be planned", crate::merge::text_files).await
    }

    /// Merges the patches of jobs whose subtasks are all done: a clean merge ends the job; a
    /// conflict goes to the parent model (through the inference service) and, when it cannot
    /// resolve it or there is none, waits for a person; a patch that does not fit the snapshot
    /// fails the job.
    async fn merge_pending(&self, snapshots: &Arc<SnapshotStore>) {
        let jobs = match self.store.to_merge(8).await {
            Ok(jobs) => jobs,
            Err(error) => {
                self.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, "listing jobs to merge failed");
                return;
            }
        };
        for job in jobs.into_iter().filter(|job| self.planner_due(job.spec.id)) {
            let span = tracing::info_span!("merge", job = %job.spec.id);
            self.merge_job(snapshots, &job).instrument(span).await;
        }
    }

    async fn merge_job(&self, snapshots: &Arc<SnapshotStore>, job: &Job) {
        let (id, snapshot) = (job.spec.id, job.spec.snapshot.sha256);
        let view = match self.store.job(id).await {
            Ok(Some(view)) => view,
            Ok(None) => return,
            Err(error) => {
                self.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, "reading the job to merge failed");
                return;
            }
        };
        let patches: Vec<(u32, String)> = view
            .subtasks
            .into_iter()
            .filter_map(|s| Some((s.ordinal, s.output?)))
            .collect();
        let now = unix_time_ms();
        let settlement = match merge_stored(snapshots.clone(), snapshot, patches.clone(), Vec::new()).await {
            Err(error) => {
                tracing::error!(%error, "the snapshot cannot be read; the merge waits");
                return;
            }
            Ok(None) => {
                let reason = format!("its snapshot {snapshot} is no longer stored, so its patches cannot be merged");
                return self.record_merge(self.store.fail_job(id, &reason, now).await);
            }
            Ok(Some(Ok(diff))) => {
                tracing::info!(bytes = diff.len(), "patches merged");
                Settlement::Merged(diff)
            }
            Ok(Some(Err(MergeError::Conflict(files)))) => {
                let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
                tracing::warn!(?paths, "the patches conflict");
                match self.parent_resolution(snapshots, job, &patches, &files).await {
                    None => return,
                    Some(Ok(diff)) => Settlement::ResolvedByParent(diff),
                    Some(Err(why)) => {
                        tracing::warn!(%why, "the conflict waits for a person");
                        Settlement::Conflict(describe_conflicts(&files, &why))
                    }
                }
            }
            Ok(Some(Err(error))) => {
                tracing::warn!(%error, "the patches cannot be merged");
                return self.record_merge(self.store.fail_job(id, &error.to_string(), now).await);
            }
        };
        self.record_merge(self.store.settle(id, settlement, unix_time_ms()).await);
    }

    /// Asks the parent model to resolve the conflicting `files` of `job` and merges again with
    /// its answer: the merged diff, or why a person must resolve it; `None` while the
    /// inference service is unavailable (the merge is tried again later).
    async fn parent_resolution(
        &self,
        snapshots: &Arc<SnapshotStore>,
        job: &Job,
        patches: &[(u32, String)],
        files: &[ConflictedFile],
    ) -> Option<Result<String, String>> {
        let Some(planner) = &self.planner else {
            return Some(Err("the coordinator has no inference service (--inference), so a person resolves them".into()));
        };
        let answer = planner.resolve(job, files).await;
        self.planner_outcome(job.spec.id, answer.as_ref().is_err_and(PlannerError::is_transient));
        let resolved = match answer {
            Ok(resolved) => resolved,
            Err(error) if error.is_transient() => {
                tracing::warn!(%error, "conflict resolution postponed: the inference service is unavailable");
                return None;
            }
            Err(error) => return Some(Err(format!("the parent model could not resolve them ({error}), so a person does"))),
        };
        match merge_stored(snapshots.clone(), job.spec.snapshot.sha256, patches.to_vec(), resolved).await {
            Ok(Some(Ok(diff))) => {
                tracing::info!(bytes = diff.len(), "the parent model resolved the conflict");
                Some(Ok(diff))
            }
            Ok(Some(Err(error))) => Some(Err(format!("the parent model's resolution was refused ({error}), so a person resolves them"))),
            Ok(None) | Err(_) => None,
        }
    }

    /// Logs how recording a merge's outcome went.
    fn record_merge(&self, stored: Result<(), StoreError>) {
        match stored {
            Ok(()) => {}
            // Cancelled meanwhile, or merged by another coordinator.
            Err(error @ StoreError::WrongState { .. }) => tracing::info!(%error, "the merge is no longer needed"),
            Err(error) => {
                self.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::error!(%error, "recording the merge failed");
            }
        }
    }

    async fn escalate_pending(&self, planner: &dyn Planner) {
        let Ok(pending) = self.store.escalated(8).await else {
            return;
        };
        for (job, subtask, failure) in pending.into_iter().filter(|pending| self.planner_due(pending.1.id)) {
            let span = tracing::info_span!("escalate", job = %job.spec.id, subtask = %subtask.id);
            async {
                let file = match self.edited_file(&job, &subtask).await {
                    Ok(file) => file,
                    Err(reason) => {
                        tracing::error!(%reason, "escalation failed");
                        if let Err(error) = self.store.resolve(subtask.id, Err(reason), unix_time_ms()).await {
                            tracing::error!(%error, "recording the escalation failed");
                        }
                        return;
                    }
                };
                let answer = planner.escalate(&job, &subtask, &failure, file.as_ref()).await;
                self.planner_outcome(subtask.id, answer.as_ref().is_err_and(PlannerError::is_transient));
                // A subtask that edits a file is answered with the file's new content; its
                // output, like an agent's, is the diff of the snapshot.
                let answer = match (answer, &file) {
                    (Ok(content), Some(file)) => {
                        let diff = crate::merge::file_diff(&file.path, file.content.as_ref(), Some(&content));
                        if diff.is_empty() {
                            Err(PlannerError::Invalid(format!("the parent model left {} as it is", file.path)))
                        } else {
                            Ok(diff)
                        }
                    }
                    (answer, _) => answer,
                };
                match answer {
                    Err(error) if error.is_transient() => {
                        tracing::warn!(%error, "escalation postponed: the inference service is unavailable");
                    }
                    answer => {
                        let answer = answer.map_err(|e| e.to_string());
                        if let Err(error) = self.store.resolve(subtask.id, answer, unix_time_ms()).await {
                            tracing::error!(%error, "recording the escalation failed");
                        }
                    }
                }
            }
            .instrument(span)
            .await;
        }
    }
}

/// The `Work` message for an assignment.
pub fn work_message(assignment: &Assignment, lease: Duration) -> Work {
    Work {
        job: assignment.job,
        subtask: assignment.subtask.id,
        lease: assignment.lease,
        lease_ms: lease.as_millis().min(u32::MAX as u128) as u32,
        attempt: assignment.attempt,
        lang: assignment.lang,
        mode: assignment.subtask.mode,
        instruction: assignment.subtask.instruction.clone(),
        context: assignment
            .context
            .iter()
            .map(|(ordinal, instruction, output)| ContextItem {
                title: format!("subtask {ordinal}: {instruction}"),
                text: output.clone(),
            })
            .collect(),
        tests: assignment.subtask.tests.clone(),
        snapshot: assignment.snapshot.clone(),
        limits: assignment.subtask.limits.clone(),
        file: assignment.subtask.file.clone(),
    }
}
