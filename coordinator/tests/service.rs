//! The coordinator service on a real broker: the embedded broker (rumqttd behind the ACL
//! gateway), the embedded store, and agents speaking MQTT with rumqttc.

use edgecoder_protocol::ids::MessageId;
use edgecoder_broker::{Broker, BrokerConfig, Credentials};
use edgecoder_coordinator::model::{Aggregate, Backoff, JobSpec, JobState, SubtaskSpec};
use edgecoder_coordinator::policy::{Policies, Scope, default_policy};
use edgecoder_coordinator::service::{Service, ServiceConfig};
use edgecoder_coordinator::store::{Embedded, Store, verify_audit};
use edgecoder_protocol::envelope::{Envelope, Message};
use edgecoder_protocol::ids::{AgentId, Sha256};
use edgecoder_protocol::run::{Lang, Limits};
use edgecoder_coordinator::rollout::{Plan, RolloutState};
use edgecoder_protocol::manifest::{ManifestFile, ModelManifest, SignedStatement, Statement};
use edgecoder_protocol::swarm::{
    Ask, Hello, InstallState, ManifestOffer, ModelReport, Policy, SandboxLayers, Snapshot, Work,
    WorkMode, WorkOutcome, WorkResult,
};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

const SNAPSHOT: Sha256 = Sha256([9; 32]);

struct Swarm {
    broker: Broker,
    credentials: Arc<Credentials>,
    service: Service,
    _dir: tempfile::TempDir,
}

async fn swarm() -> Swarm {
    let credentials = Arc::new(Credentials::new());
    credentials.add_coordinator("coordinator", "coordinator-secret");
    let config = BrokerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..BrokerConfig::default()
    };
    let broker = Broker::start(config, credentials.clone()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(Embedded::open(&dir.path().join("queue.redb"), Backoff::default()).unwrap());
    let mut config = ServiceConfig::new(broker.address(), "coordinator", "coordinator-secret");
    config.tick = Duration::from_millis(50);
    let policies = Arc::new(Policies::in_memory(default_policy()));
    let service = Service::start(config, store, policies, None).await.unwrap();
    Swarm {
        broker,
        credentials,
        service,
        _dir: dir,
    }
}

/// An agent's MQTT connection with its incoming publishes on a channel.
struct Agent {
    id: AgentId,
    client: AsyncClient,
    incoming: mpsc::UnboundedReceiver<(String, Vec<u8>)>,
}

impl Swarm {
    async fn agent(&self, name: &str) -> Agent {
        let id = AgentId::new(name).unwrap();
        let token = self.credentials.issue_enrolment_token(Duration::from_secs(60)).await.unwrap();
        let secret = self.credentials.enrol(&token, &id).await.unwrap().secret;
        let address = self.broker.address();
        let mut options = MqttOptions::new(name, address.ip().to_string(), address.port());
        options.set_credentials(name, secret);
        options.set_max_packet_size(300 * 1024, 300 * 1024);
        let (client, mut eventloop) = AsyncClient::new(options, 64);
        let (sender, incoming) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        if sender.send((p.topic.clone(), p.payload.to_vec())).is_err() {
                            return;
                        }
                    }
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        for leaf in ["work", "policy", "manifest", "features"] {
            client
                .subscribe(format!("ec/v1/agents/{name}/{leaf}"), QoS::AtLeastOnce)
                .await
                .unwrap();
        }
        Agent {
            id,
            client,
            incoming,
        }
    }
}

impl Agent {
    async fn send<M: Message>(&self, leaf: &str, message: &M) {
        let payload = Envelope::new::<M>(MessageId::random(), self.id.clone(), 1)
            .seal(message)
            .unwrap();
        self.client
            .publish(
                format!("ec/v1/agents/{}/{leaf}", self.id.as_str()),
                QoS::AtLeastOnce,
                false,
                payload,
            )
            .await
            .unwrap();
    }

    async fn hello(&self, sandbox: SandboxLayers) {
        let confined = sandbox.contains(SandboxLayers::REQUIRED_FOR_WORK);
        let hello = Hello {
            software: "edgecoder 0.1.0".try_into().unwrap(),
            platform: "linux-x86_64".try_into().unwrap(),
            cores: 2,
            memory_mb: 4096,
            models: heapless::Vec::new(),
            sandbox,
            // An agent that cannot confine work offers none (the hello's own rule).
            max_concurrency: if confined { 2 } else { 0 },
        };
        self.send("hello", &hello).await;
    }

    /// The next message on `leaf`, decoded, within five seconds.
    async fn next<M: Message>(&mut self, leaf: &str) -> Option<M> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let (topic, payload) = tokio::time::timeout_at(deadline, self.incoming.recv())
                .await
                .ok()??;
            if topic.ends_with(&format!("/{leaf}")) {
                return Some(Envelope::open::<M>(&payload).unwrap().message);
            }
        }
    }
}

async fn job_with(store: &dyn Store, n: u32) -> JobSpec {
    let spec = JobSpec {
        id: MessageId::random(),
        tenant: "acme".into(),
        lang: Lang::Python,
        instruction: "add numbers".into(),
        tests: None,
        snapshot: Snapshot {
            sha256: SNAPSHOT,
            bytes: 10,
        },
        aggregate: Aggregate::Concatenate,
        max_attempts: 3,
    };
    store.submit(spec.clone(), 0).await.unwrap();
    let subtasks = (0..n)
        .map(|i| SubtaskSpec {
            id: MessageId::random(),
            ordinal: i,
            instruction: format!("part {i}"),
            mode: WorkMode::Step,
            tests: None,
            deps: vec![],
            model: None,
            limits: Limits::default(),
            file: None,
        })
        .collect();
    store.plan(spec.id, subtasks, 0).await.unwrap();
    spec
}

fn result(work: &Work, snapshot: Sha256, output: &str) -> WorkResult {
    WorkResult {
        job: work.job,
        subtask: work.subtask,
        lease: work.lease,
        attempt: work.attempt,
        snapshot_sha256: snapshot,
        sandbox: SandboxLayers::REQUIRED_FOR_WORK,
        elapsed_ms: 5,
        outcome: WorkOutcome::Completed {
            output: output.into(),
            patch: None,
            report: None,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_gets_its_policy_and_work_and_its_results_finish_the_job() {
    let swarm = swarm().await;
    let store = swarm.service.store();
    let spec = job_with(&*store, 2).await;
    let mut agent = swarm.agent("laptop-1").await;
    agent.hello(SandboxLayers::REQUIRED_FOR_WORK).await;
    let policy: Policy = agent
        .next("policy")
        .await
        .expect("the policy arrives after hello");
    assert_eq!(policy.concurrency, 1);

    let mut outputs = Vec::new();
    for i in 0..2 {
        agent.send("ask", &Ask { slots: 4 }).await;
        let work: Work = agent.next("work").await.expect("work arrives");
        assert_eq!(work.snapshot.sha256, SNAPSHOT);
        let out = format!("answer {i}");
        agent.send("result", &result(&work, SNAPSHOT, &out)).await;
        outputs.push(out);
        // One slot by policy: no second work message for this ask.
        assert!(agent.next::<Work>("work").await.is_none() || i == 1);
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let view = store.job(spec.id).await.unwrap().unwrap();
        if let JobState::Done { result, .. } = &view.job.state {
            assert_eq!(result, "answer 0\n\nanswer 1");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job not done: {view:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stats = swarm.service.stats();
    assert_eq!((stats.work_sent, stats.results), (2, 2));
    verify_audit(&*store).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_work_without_the_sandbox_and_a_result_on_another_snapshot_is_a_failure() {
    let swarm = swarm().await;
    let store = swarm.service.store();
    let spec = job_with(&*store, 1).await;

    let mut open = swarm.agent("no-landlock").await;
    open.hello(SandboxLayers(
        SandboxLayers::REQUIRED_FOR_WORK.0 & !SandboxLayers::LANDLOCK.0,
    ))
    .await;
    let _: Policy = open.next("policy").await.unwrap();
    open.send("ask", &Ask { slots: 1 }).await;
    assert!(
        open.next::<Work>("work").await.is_none(),
        "an unconfined agent gets no work"
    );
    assert_eq!(swarm.service.stats().no_sandbox, 1);

    let mut agent = swarm.agent("laptop-2").await;
    agent.hello(SandboxLayers::REQUIRED_FOR_WORK).await;
    let _: Policy = agent.next("policy").await.unwrap();
    agent.send("ask", &Ask { slots: 1 }).await;
    let work: Work = agent.next("work").await.unwrap();
    agent
        .send("result", &result(&work, Sha256([1; 32]), "wrong tree"))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let view = store.job(spec.id).await.unwrap().unwrap();
        if let Some(failure) = &view.subtasks[0].last_failure {
            assert!(failure.contains("ran on snapshot"), "{failure}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(swarm.service.stats().wrong_snapshot, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_change_reaches_the_agent_and_garbage_is_counted() {
    let swarm = swarm().await;
    let mut agent = swarm.agent("pi-5").await;
    agent.hello(SandboxLayers::REQUIRED_FOR_WORK).await;
    let first: Policy = agent.next("policy").await.unwrap();
    let mut tighter = default_policy();
    tighter.cpu_cap_percent = 20;
    let version = swarm
        .service
        .set_policy(Scope::Agent(agent.id.clone()), tighter)
        .await
        .unwrap();
    let pushed: Policy = agent.next("policy").await.unwrap();
    assert_eq!((pushed.version, pushed.cpu_cap_percent), (version, 20));
    assert!(pushed.version > first.version);
    let mut bad = default_policy();
    bad.heartbeat_s = 0;
    assert!(swarm.service.set_policy(Scope::Default, bad).await.is_err());

    let wrong = ServiceConfig::new(swarm.broker.address(), "coordinator", "wrong password");
    let policies = Arc::new(Policies::in_memory(default_policy()));
    let error = Service::start(wrong, swarm.service.store(), policies, None)
        .await
        .err()
        .expect("a wrong password is refused");
    assert!(
        error.to_string().contains("username and password"),
        "{error}"
    );

    agent
        .client
        .publish(
            "ec/v1/agents/pi-5/heartbeat",
            QoS::AtLeastOnce,
            false,
            vec![0xff; 40],
        )
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while swarm.service.stats().rejected == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "garbage was not counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let agents = swarm.service.agents();
    assert_eq!(agents.len(), 1, "the agent is registered and still there");
}

fn signed_manifest() -> SignedStatement {
    use ed25519_dalek::Signer;
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let manifest = ModelManifest {
        model: "qwen2.5-coder-0.5b".into(),
        version: "1.1.0".into(),
        files: vec![ManifestFile {
            name: "model.gguf".into(),
            size: 1000,
            sha256: Sha256([1; 32]),
            sources: vec!["https://models.example.com/m.gguf".into()],
        }],
        min_daemon_version: "0.1.0".into(),
        runtime: "gguf".into(),
        quantization: "Q4_K_M".into(),
        issued_at: 1_780_000_000,
        expires_at: 1_790_000_000,
        sequence: 2,
        rollback: false,
    };
    let mut signed = SignedStatement {
        statement: postcard::to_allocvec(&Statement::Model(manifest)).unwrap(),
        key: edgecoder_protocol::ids::PublicKey(key.verifying_key().to_bytes()),
        signature: Vec::new(),
    };
    signed.signature = key.sign(&signed.signed_bytes()).to_bytes().to_vec();
    signed
}

fn install_report(offer: &ManifestOffer, state: InstallState, code: &str) -> ModelReport {
    ModelReport {
        rollout: offer.rollout,
        model: "qwen2.5-coder-0.5b".into(),
        version: "1.1.0".into(),
        sequence: 2,
        state,
        code: code.into(),
        message: "test".into(),
        done_bytes: 1000,
        total_bytes: 1000,
        rate_bps: 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_offers_the_signed_manifest_stage_by_stage_and_halts_on_failures() {
    let swarm = swarm().await;
    let mut fleet = Vec::new();
    for name in ["pi-1", "pi-2", "pi-3", "pi-4"] {
        let agent = swarm.agent(name).await;
        agent.hello(SandboxLayers::REQUIRED_FOR_WORK).await;
        fleet.push(agent);
    }
    for agent in &mut fleet {
        let _: Policy = agent.next("policy").await.unwrap();
    }
    let signed = signed_manifest();
    let plan = Plan {
        canary: vec![fleet[0].id.clone()],
        canary_count: 0,
        batches: vec![50, 100],
        max_failure_rate: 0.34,
        min_reports: 1,
        max_unhealthy_rate: None,
    };
    let rollout = swarm.service.start_rollout(signed.clone(), plan).await.unwrap();
    let offer: ManifestOffer = fleet[0].next("manifest").await.expect("the canary gets the offer");
    assert_eq!((offer.rollout, &offer.signed), (rollout.id, &signed));
    fleet[0]
        .send("model", &install_report(&offer, InstallState::Installed, ""))
        .await;
    // Reports are handled concurrently: the canary's must be in before pi-2's refusal, or the
    // halt would withdraw the canary's offer as one nobody acted on.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while swarm.service.rollout(rollout.id).unwrap().agents[&fleet[0].id].state != Some(InstallState::Installed) {
        assert!(tokio::time::Instant::now() < deadline, "the canary's report was not recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let advanced = swarm.service.advance_rollout(rollout.id).await.unwrap();
    let second = advanced
        .agents
        .keys()
        .find(|a| **a != fleet[0].id)
        .expect("50% of 4 agents: one more")
        .clone();
    assert_eq!(advanced.agents.len(), 2);
    let agent = fleet.iter_mut().find(|a| a.id == second).unwrap();
    let offer: ManifestOffer = agent.next("manifest").await.unwrap();
    agent
        .send("model", &install_report(&offer, InstallState::Refused, "bad_signature"))
        .await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = swarm.service.rollout(rollout.id).unwrap();
        if let RolloutState::Halted { reason } = &now.state {
            assert!(reason.contains("bad_signature"), "{reason}");
            assert_eq!(now.agents[&fleet[0].id].state, Some(InstallState::Installed));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the rollout did not halt: {:?}", now.state);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(swarm.service.advance_rollout(rollout.id).await.is_err());
    // The audit entries are written right after the state changes.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let steps: Vec<String> = loop {
        let audit = swarm.service.store().audit(0, 1000).await.unwrap();
        let steps: Vec<String> = audit
            .into_iter()
            .filter(|e| e.record.event == edgecoder_coordinator::audit::Event::Rollout)
            .map(|e| e.record.detail)
            .collect();
        if steps.iter().any(|d| d.contains("halted by itself")) || tokio::time::Instant::now() > deadline {
            break steps;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(steps.iter().any(|d| d.contains("started")), "{steps:?}");
    assert!(steps.iter().any(|d| d.contains("Refused (bad_signature)")), "{steps:?}");
    assert!(steps.iter().any(|d| d.contains("halted by itself")), "{steps:?}");
    verify_audit(swarm.service.store().as_ref()).await.unwrap().expect("the audit chain holds");
    assert_eq!(swarm.service.stats().model_reports, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_reaches_a_simulated_fleet_stage_by_stage_until_complete() {
    use edgecoder_coordinator::simulate::{Probe, agent};
    let swarm = swarm().await;
    let probe = Arc::new(Probe::default());
    let (ready_tx, mut ready) = mpsc::channel(64);
    let fleet = 40;
    for n in 0..fleet {
        let id = AgentId::new(&format!("sim-{n}")).unwrap();
        let token = swarm.credentials.issue_enrolment_token(Duration::from_secs(60)).await.unwrap();
        let secret = swarm.credentials.enrol(&token, &id).await.unwrap().secret;
        tokio::spawn(agent(id, secret, swarm.broker.address(), 1, probe.clone(), Some(ready_tx.clone()), None));
    }
    for _ in 0..fleet {
        tokio::time::timeout(Duration::from_secs(30), ready.recv()).await.unwrap().unwrap();
    }
    let plan = Plan { canary: Vec::new(), canary_count: 4, batches: vec![25, 100], max_failure_rate: 0.0, min_reports: 1, max_unhealthy_rate: None };
    let rollout = swarm.service.start_rollout(signed_manifest(), plan).await.unwrap();
    let wait_for = |installed: usize| {
        let service = &swarm.service;
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                let now = service.rollout(rollout.id).unwrap();
                if now.counts().1 == installed {
                    return now;
                }
                assert!(tokio::time::Instant::now() < deadline, "{} of {installed} installed", now.counts().1);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert_eq!(wait_for(4).await.counts(), (4, 4, 0, 0), "the canary");
    swarm.service.advance_rollout(rollout.id).await.unwrap();
    assert_eq!(wait_for(10).await.agents.len(), 10, "25% of 40");
    swarm.service.advance_rollout(rollout.id).await.unwrap();
    let done = wait_for(fleet).await;
    assert_eq!(done.state, RolloutState::Complete);
    assert_eq!(probe.offers.load(std::sync::atomic::Ordering::Relaxed), fleet as u64, "one offer each");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_reaches_only_agents_with_the_local_model_feature_on() {
    use edgecoder_coordinator::features::{Level, Mode, Setting};
    use edgecoder_protocol::swarm::{AgentFeatures, ModelMode};
    let swarm = swarm().await;
    let mut fleet = Vec::new();
    for name in ["pi-1", "pi-2", "pi-3"] {
        let agent = swarm.agent(name).await;
        agent.hello(SandboxLayers::REQUIRED_FOR_WORK).await;
        fleet.push(agent);
    }
    for agent in &mut fleet {
        let _: Policy = agent.next("policy").await.unwrap();
        let features: AgentFeatures = agent.next("features").await.unwrap();
        assert_eq!(features, AgentFeatures { local_model: true, mode: ModelMode::SwarmOnly }, "the fleet default, sent on hello");
    }
    swarm
        .service
        .set_feature(&Level::Fleet, Setting { local_model: Some(false), mode: Some(Mode::SwarmOnly) })
        .await
        .unwrap();
    let pi_2 = Level::Agent(fleet[1].id.clone());
    swarm.service.set_feature(&pi_2, Setting { local_model: Some(true), mode: Some(Mode::IdeEnabled) }).await.unwrap();
    let off: AgentFeatures = fleet[0].next("features").await.unwrap();
    assert!(!off.local_model, "each device hears of a change that concerns it");
    let _fleet_off: AgentFeatures = fleet[1].next("features").await.unwrap();
    let own: AgentFeatures = fleet[1].next("features").await.unwrap();
    assert_eq!(own, AgentFeatures { local_model: true, mode: ModelMode::IdeEnabled }, "pi-2's own setting wins");

    let plan = |canary: Vec<AgentId>, canary_count| Plan { canary, canary_count, batches: vec![100], max_failure_rate: 0.5, min_reports: 1, max_unhealthy_rate: None };
    let error = swarm.service.start_rollout(signed_manifest(), plan(vec![fleet[0].id.clone()], 0)).await.unwrap_err();
    assert!(error.to_string().contains("local-model feature off (decided by the fleet default)"), "{error}");
    assert!(swarm.service.rollouts().is_empty(), "a refused start leaves nothing behind");

    let rollout = swarm.service.start_rollout(signed_manifest(), plan(Vec::new(), 3)).await.unwrap();
    assert_eq!(rollout.agents.keys().collect::<Vec<_>>(), vec![&fleet[1].id], "only pi-2 has the feature on");
    let offer: ManifestOffer = fleet[1].next("manifest").await.expect("pi-2 gets the offer");
    assert_eq!(offer.rollout, rollout.id);

    // Turning the feature off withdraws the offer pi-2 has not acted on.
    swarm.service.set_feature(&pi_2, Setting { local_model: Some(false), mode: None }).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let withdrawn = loop {
        let (topic, payload) = tokio::time::timeout_at(deadline, fleet[1].incoming.recv()).await.unwrap().unwrap();
        if topic.ends_with("/manifest") {
            break payload;
        }
    };
    assert!(withdrawn.is_empty(), "an empty retained message withdraws the offer");
    assert!(swarm.service.rollout(rollout.id).unwrap().agents[&fleet[1].id].withdrawn);
    let audit = swarm.service.store().audit(0, 100).await.unwrap();
    assert!(audit.iter().any(|e| e.record.event == edgecoder_coordinator::audit::Event::Feature
        && e.record.detail.contains("agent pi-2: local_model off")), "{audit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_halts_when_an_agent_that_installed_it_goes_silent() {
    use edgecoder_protocol::swarm::Heartbeat;
    let swarm = swarm().await;
    // Heartbeats every second: an agent silent for three seconds is stale.
    let mut quick = default_policy();
    quick.heartbeat_s = 1;
    swarm.service.set_policy(Scope::Default, quick).await.unwrap();
    let mut fleet = Vec::new();
    for name in ["pi-1", "pi-2"] {
        let agent = swarm.agent(name).await;
        agent.hello(SandboxLayers::REQUIRED_FOR_WORK).await;
        fleet.push(agent);
    }
    let plan = Plan {
        canary: fleet.iter().map(|a| a.id.clone()).collect(),
        canary_count: 0,
        batches: vec![100],
        max_failure_rate: 0.5,
        min_reports: 2,
        max_unhealthy_rate: Some(0.4),
    };
    let rollout = swarm.service.start_rollout(signed_manifest(), plan).await.unwrap();
    for agent in &mut fleet {
        let offer: ManifestOffer = agent.next("manifest").await.unwrap();
        agent.send("model", &install_report(&offer, InstallState::Installed, "")).await;
    }
    // pi-2 keeps its heartbeat; pi-1 falls silent after installing.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let mut seq = 0;
    let reason = loop {
        seq += 1;
        let beat = Heartbeat { seq, cpu_busy_percent: 5, user_idle_s: 0, running: 0, free_memory_mb: 1000, policy_version: 2 };
        fleet[1].send("heartbeat", &beat).await;
        if let RolloutState::Halted { reason } = swarm.service.rollout(rollout.id).unwrap().state {
            break reason;
        }
        assert!(tokio::time::Instant::now() < deadline, "the rollout did not halt on its health signal");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(reason.contains("1 of 2 agents that installed it went silent") && reason.contains("pi-1"), "{reason}");
}
