//! Staged rollouts as the coordinator keeps them: manifests that are not intact are refused,
//! stages reach the agents the plan says, installs that fail past the threshold halt the
//! rollout by itself, a signed rollback replaces it, and the file survives a restart while a
//! write that fails changes nothing.

use ed25519_dalek::{Signer, SigningKey};
use edgecoder_coordinator::rollout::{Plan, RolloutError, RolloutState, Rollouts};
use edgecoder_protocol::ids::{AgentId, PublicKey, Sha256};
use edgecoder_protocol::manifest::{KeyRotation, ManifestFile, ModelManifest, SignedStatement, Statement};
use edgecoder_protocol::swarm::{InstallState, ModelReport};

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7; 32])
}

fn sign(statement: &Statement) -> SignedStatement {
    let key = key();
    let mut signed = SignedStatement {
        statement: postcard::to_allocvec(statement).unwrap(),
        key: PublicKey(key.verifying_key().to_bytes()),
        signature: Vec::new(),
    };
    signed.signature = key.sign(&signed.signed_bytes()).to_bytes().to_vec();
    signed
}

fn manifest(version: &str, sequence: u64, rollback: bool) -> ModelManifest {
    ModelManifest {
        model: "qwen2.5-coder-0.5b".into(),
        version: version.into(),
        files: vec![ManifestFile { name: "model.gguf".into(), size: 1000, sha256: Sha256([1; 32]), sources: vec!["https://models.example.com/m.gguf".into()] }],
        min_daemon_version: "0.1.0".into(),
        runtime: "gguf".into(),
        quantization: "Q4_K_M".into(),
        issued_at: 1_780_000_000,
        expires_at: 1_790_000_000,
        sequence,
        rollback,
    }
}

fn agents(n: usize) -> Vec<AgentId> {
    (1..=n).map(|i| AgentId::new(&format!("laptop-{i:02}")).unwrap()).collect()
}

fn plan(canary: &[&str], batches: &[u8], max_failure_rate: f64) -> Plan {
    Plan {
        canary: canary.iter().map(|a| AgentId::new(a).unwrap()).collect(),
        canary_count: 0,
        batches: batches.to_vec(),
        max_failure_rate,
        min_reports: 1,
        max_unhealthy_rate: None,
    }
}

fn report(rollout: u64, state: InstallState, code: &str) -> ModelReport {
    ModelReport {
        rollout,
        model: "qwen2.5-coder-0.5b".into(),
        version: "1.1.0".into(),
        sequence: 2,
        state,
        code: code.into(),
        message: String::new(),
        done_bytes: 0,
        total_bytes: 1000,
        rate_bps: 0,
    }
}

#[test]
fn broken_manifests_and_bad_plans_are_refused() {
    let rollouts = Rollouts::in_memory();
    let known = agents(3);
    let good = sign(&Statement::Model(manifest("1.1.0", 2, false)));
    let mut tampered = good.clone();
    *tampered.statement.last_mut().unwrap() ^= 1;
    let mut unsigned = good.clone();
    unsigned.signature.clear();
    let rotation = sign(&Statement::RotateKey(KeyRotation { new_key: PublicKey([3; 32]), issued_at: 1 }));
    for (signed, says) in [(tampered, "does not verify"), (unsigned, "no signature"), (rotation, "key rotation")] {
        let error = rollouts.start(signed, plan(&["laptop-01"], &[100], 0.2), &known, 1).unwrap_err();
        assert!(matches!(&error, RolloutError::Manifest(m) if m.contains(says)), "{error}");
    }
    for (bad, says) in [
        (plan(&["laptop-01"], &[50], 0.2), "100 percent"),
        (plan(&["laptop-01"], &[50, 20, 100], 0.2), "ascending"),
        (plan(&["laptop-01"], &[100], 1.5), "share"),
        (plan(&[], &[100], 0.2), "canary is empty"),
    ] {
        let error = rollouts.start(good.clone(), bad, &known, 1).unwrap_err();
        assert!(matches!(&error, RolloutError::Plan(m) if m.contains(says)), "{error}");
    }
    assert!(rollouts.list().is_empty(), "nothing was started");
}

#[test]
fn stages_reach_the_planned_share_and_a_finished_rollout_completes() {
    let rollouts = Rollouts::in_memory();
    let known = agents(10);
    let signed = sign(&Statement::Model(manifest("1.1.0", 2, false)));
    let mut canary = plan(&["laptop-03"], &[50, 100], 0.2);
    canary.canary_count = 1;
    let started = rollouts.start(signed.clone(), canary, &known, 1).unwrap();
    assert_eq!(started.offer_to.len(), 2);
    assert_eq!(started.offer_to[0].as_str(), "laptop-03");
    assert_eq!(started.rollout.offer().signed, signed, "agents get the manifest exactly as signed");
    let again = rollouts.start(signed.clone(), plan(&["laptop-01"], &[100], 0.2), &known, 2).unwrap_err();
    assert!(matches!(again, RolloutError::State { id: 1, .. }), "{again}");

    let half = rollouts.advance(1, &known, 3).unwrap();
    assert_eq!(half.offer_to.len(), 3, "50% of 10 agents, 2 of them had it");
    let all = rollouts.advance(1, &known, 4).unwrap();
    assert_eq!(all.offer_to.len(), 5);
    assert!(matches!(rollouts.advance(1, &known, 5), Err(RolloutError::State { .. })));
    assert!(matches!(rollouts.advance(9, &known, 5), Err(RolloutError::Unknown(9))));

    for agent in &known {
        let change = rollouts.record(agent, &report(1, InstallState::Installed, ""), 6).unwrap().unwrap();
        assert_eq!(change.halted, None);
    }
    let done = rollouts.get(1).unwrap();
    assert_eq!(done.state, RolloutState::Complete);
    assert_eq!(done.counts(), (10, 10, 0, 0));
    // Reports about rollouts an agent was not offered change nothing.
    assert!(rollouts.record(&AgentId::new("stranger").unwrap(), &report(1, InstallState::Failed, "x"), 7).unwrap().is_none());
    assert!(rollouts.record(&known[0], &report(5, InstallState::Failed, "x"), 7).unwrap().is_none());
}

#[test]
fn failures_past_the_threshold_halt_the_rollout_and_withdraw_untouched_offers() {
    let rollouts = Rollouts::in_memory();
    let known = agents(4);
    let signed = sign(&Statement::Model(manifest("1.1.0", 2, false)));
    let started = rollouts.start(signed, plan(&["laptop-01", "laptop-02", "laptop-03"], &[100], 0.34), &known, 1).unwrap();
    assert_eq!(started.offer_to.len(), 3);
    let ok = rollouts.record(&known[0], &report(1, InstallState::Installed, ""), 2).unwrap().unwrap();
    assert_eq!(ok.halted, None);
    let progress = rollouts.record(&known[1], &report(1, InstallState::Downloading, ""), 2).unwrap().unwrap();
    assert_eq!(progress.halted, None);
    let bad = rollouts.record(&known[1], &report(1, InstallState::Refused, "digest_mismatch"), 3).unwrap().unwrap();
    let reason = bad.halted.expect("1 of 2 failed: 50% > 34%");
    assert!(reason.contains("digest_mismatch ×1") && reason.contains("50%"), "{reason}");
    assert_eq!(bad.withdraw.iter().map(AgentId::as_str).collect::<Vec<_>>(), ["laptop-03"], "laptop-03 had not begun");
    assert!(matches!(rollouts.get(1).unwrap().state, RolloutState::Halted { .. }));
    assert!(matches!(rollouts.advance(1, &known, 4), Err(RolloutError::State { .. })), "a halted rollout does not advance");
    assert!(matches!(rollouts.halt(1, "again"), Err(RolloutError::State { .. })));
    let offers = rollouts.current_offers();
    assert_eq!(offers.len(), 2, "the withdrawn offer is not published again");
}

#[test]
fn a_signed_rollback_replaces_the_rollout_on_every_agent_it_reached() {
    let rollouts = Rollouts::in_memory();
    let known = agents(5);
    let signed = sign(&Statement::Model(manifest("1.1.0", 2, false)));
    rollouts.start(signed, plan(&["laptop-01", "laptop-02"], &[100], 0.5), &known, 1).unwrap();
    let not_a_rollback = sign(&Statement::Model(manifest("1.0.0", 3, false)));
    let error = rollouts.roll_back(1, not_a_rollback, 2).unwrap_err();
    assert!(matches!(&error, RolloutError::Manifest(m) if m.contains("\"rollback\": true")), "{error}");
    let mut other_model = manifest("1.0.0", 3, true);
    other_model.model = "gemma3-270m".into();
    assert!(matches!(rollouts.roll_back(1, sign(&Statement::Model(other_model)), 2), Err(RolloutError::Manifest(_))));

    let back = rollouts.roll_back(1, sign(&Statement::Model(manifest("1.0.0", 3, true))), 2).unwrap();
    assert_eq!(back.rollout.id, 2);
    assert!(back.rollout.rollback);
    assert_eq!(back.offer_to.len(), 2, "every agent the rollout reached, at once");
    assert!(back.withdraw.is_empty(), "their offer is replaced, not cleared");
    assert_eq!(rollouts.get(1).unwrap().state, RolloutState::RolledBack { by: 2 });
    assert!(rollouts.current_offers().iter().all(|(_, offer)| offer.rollout == 2));
    assert!(matches!(rollouts.roll_back(1, sign(&Statement::Model(manifest("1.0.0", 4, true))), 3), Err(RolloutError::State { .. })));
}

#[test]
fn rollouts_survive_a_restart_and_a_failed_write_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rollouts.json");
    let known = agents(3);
    let signed = sign(&Statement::Model(manifest("1.1.0", 2, false)));
    {
        let rollouts = Rollouts::open(&path).unwrap();
        rollouts.start(signed.clone(), plan(&["laptop-01"], &[100], 0.2), &known, 1).unwrap();
        rollouts.record(&known[0], &report(1, InstallState::Downloading, ""), 2).unwrap();
    }
    let reopened = Rollouts::open(&path).unwrap();
    let rollout = reopened.get(1).unwrap();
    assert_eq!(rollout.agents[&known[0]].state, Some(InstallState::Downloading));
    assert_eq!(reopened.current_offers().len(), 1);

    // Progress of a download goes to memory only; the next change of state is written.
    let written = std::fs::read(&path).unwrap();
    let mut progress = report(1, InstallState::Downloading, "");
    progress.done_bytes = 500;
    reopened.record(&known[0], &progress, 3).unwrap().unwrap();
    assert_eq!(reopened.get(1).unwrap().agents[&known[0]].done_bytes, 500);
    assert_eq!(std::fs::read(&path).unwrap(), written, "a progress report rewrote rollouts.json");
    reopened.record(&known[0], &report(1, InstallState::Staged, ""), 4).unwrap().unwrap();
    assert_eq!(Rollouts::open(&path).unwrap().get(1).unwrap().agents[&known[0]].state, Some(InstallState::Staged));

    // The file's folder disappears: the change is refused and the rollouts stay as they were.
    let gone = dir.path().join("gone");
    std::fs::create_dir(&gone).unwrap();
    let unwritable = Rollouts::open(&gone.join("rollouts.json")).unwrap();
    std::fs::remove_dir(&gone).unwrap();
    let error = unwritable.start(signed, plan(&["laptop-01"], &[100], 0.2), &known, 3).unwrap_err();
    assert!(matches!(error, RolloutError::File { .. }), "{error}");
    assert!(unwritable.list().is_empty());

    std::fs::write(&path, b"{ not json").unwrap();
    let error = Rollouts::open(&path).unwrap_err();
    assert!(error.to_string().contains("fix or remove it"), "{error}");
}

#[test]
fn a_rollout_halts_when_agents_that_installed_it_go_silent() {
    let rollouts = Rollouts::in_memory();
    let known = agents(4);
    let mut with_health = plan(&["laptop-01", "laptop-02", "laptop-03"], &[100], 0.5);
    with_health.max_unhealthy_rate = Some(0.4);
    with_health.min_reports = 2;
    rollouts.start(sign(&Statement::Model(manifest("1.1.0", 2, false))), with_health, &known, 1).unwrap();
    let silent_one = |a: &AgentId| a == &known[0];
    rollouts.record(&known[0], &report(1, InstallState::Installed, ""), 2).unwrap();
    assert!(rollouts.judge_health(&silent_one).unwrap().is_empty(), "one install is below min_reports");
    rollouts.record(&known[1], &report(1, InstallState::Installed, ""), 3).unwrap();
    let changes = rollouts.judge_health(&silent_one).unwrap();
    assert_eq!(changes.len(), 1, "1 of 2 silent: 50% > 40%");
    let reason = changes[0].halted.clone().unwrap();
    assert!(reason.contains("1 of 2 agents that installed it went silent") && reason.contains("laptop-01"), "{reason}");
    assert_eq!(changes[0].withdraw, vec![known[2].clone()], "the offer laptop-03 did not act on is withdrawn");
    assert!(matches!(rollouts.get(1).unwrap().state, RolloutState::Halted { .. }));
    assert!(rollouts.judge_health(&|_: &AgentId| true).unwrap().is_empty(), "a halted rollout is not judged again");

    let error = rollouts
        .start(sign(&Statement::Model(manifest("1.2.0", 3, false))), Plan { max_unhealthy_rate: Some(1.5), ..plan(&["laptop-04"], &[100], 0.2) }, &known, 4)
        .unwrap_err();
    assert!(error.to_string().contains("max_unhealthy_rate"), "{error}");
}

#[test]
fn a_last_stage_that_reaches_nobody_new_completes_the_rollout() {
    let rollouts = Rollouts::in_memory();
    let known = agents(1);
    rollouts.start(sign(&Statement::Model(manifest("1.1.0", 2, false))), plan(&["laptop-01"], &[100], 0.2), &known, 1).unwrap();
    rollouts.record(&known[0], &report(1, InstallState::Installed, ""), 2).unwrap();
    assert_eq!(rollouts.get(1).unwrap().state, RolloutState::Running, "the canary is done, the last stage is not offered yet");
    let change = rollouts.advance(1, &known, 3).unwrap();
    assert!(change.offer_to.is_empty());
    assert_eq!(change.rollout.state, RolloutState::Complete);
}
