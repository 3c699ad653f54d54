//! Staged model rollouts. An operator hands the coordinator a manifest that was signed offline
//! (the coordinator cannot sign; it checks only that the signature is intact, devices decide
//! whom they trust) and a plan: a canary set (named agents and/or a number of others), then
//! batches that each reach a percentage of the known agents, the last one 100. Each agent a
//! stage reaches gets the manifest as a retained offer on its `manifest` topic; its install
//! reports come back on its `model` topic. A rollout halts by itself when the share of
//! refused or failed installs crosses the plan's threshold; an operator can advance, halt, or
//! roll back with a signed rollback manifest, which is offered at once to every agent the
//! rollout reached. The rollouts are kept in a file, so a restarted coordinator offers the same
//! manifests again.

use edgecoder_protocol::ids::{AgentId, PublicKey};
use edgecoder_protocol::manifest::{SignedStatement, Statement};
use edgecoder_protocol::swarm::{InstallState, ManifestOffer, ModelReport};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Why a rollout request was refused.
#[derive(Debug, thiserror::Error)]
pub enum RolloutError {
    /// The manifest is not an intact signed model manifest.
    #[error("the manifest is not usable: {0}")]
    Manifest(String),
    /// The plan is not valid.
    #[error("the plan is not valid: {0}")]
    Plan(String),
    /// No rollout has this id.
    #[error("no rollout {0}")]
    Unknown(u64),
    /// The rollout cannot do that in its state.
    #[error("rollout {id} is {state}: {what}")]
    State {
        /// The rollout.
        id: u64,
        /// Its state.
        state: String,
        /// What cannot be done.
        what: String,
    },
    /// The file could not be read or written.
    #[error("rollout file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// How a rollout proceeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Agents that get it first, by name.
    #[serde(default)]
    pub canary: Vec<AgentId>,
    /// How many other agents (chosen by a stable pseudo-random order) join the canary.
    #[serde(default)]
    pub canary_count: usize,
    /// The percentages of the known agents each later stage reaches, ascending; the last is 100.
    pub batches: Vec<u8>,
    /// The share of finished installs (0–1) that may be refused or fail before the rollout
    /// halts by itself.
    pub max_failure_rate: f64,
    /// Finished installs needed before the failure rate is judged.
    #[serde(default = "one")]
    pub min_reports: usize,
    /// The health signal: the share (0–1) of agents that installed the model and then went
    /// silent (stale or offline: no heartbeat) past which the rollout halts by itself;
    /// `None` leaves health out. Judged once `min_reports` agents installed it.
    #[serde(default)]
    pub max_unhealthy_rate: Option<f64>,
}

fn one() -> usize {
    1
}

impl Plan {
    fn check(&self) -> Result<(), RolloutError> {
        let bad = |m: &str| Err(RolloutError::Plan(m.to_owned()));
        if self.batches.last() != Some(&100) {
            return bad("the last batch must reach 100 percent of the agents");
        }
        if self.batches.windows(2).any(|w| w[0] >= w[1]) || self.batches.iter().any(|&p| p == 0 || p > 100) {
            return bad("batches are percentages from 1 to 100, strictly ascending");
        }
        if !(0.0..=1.0).contains(&self.max_failure_rate) {
            return bad("max_failure_rate is a share from 0 to 1");
        }
        if self.max_unhealthy_rate.is_some_and(|rate| !(0.0..=1.0).contains(&rate)) {
            return bad("max_unhealthy_rate is a share from 0 to 1");
        }
        if self.min_reports == 0 {
            return bad("min_reports is at least 1");
        }
        Ok(())
    }

    /// The number of stages: the canary, then each batch.
    pub fn stages(&self) -> usize {
        1 + self.batches.len()
    }
}

/// Where a rollout stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum RolloutState {
    /// Stages are being offered.
    Running,
    /// Stopped: no further stage is offered (offers not yet acted on were withdrawn).
    Halted {
        /// Why (an operator's reason, or the failure rate that tripped).
        reason: String,
    },
    /// Every agent was offered it and every one installed it.
    Complete,
    /// Replaced by a rollback rollout.
    RolledBack {
        /// The rollback rollout.
        by: u64,
    },
}

impl RolloutState {
    fn name(&self) -> &'static str {
        match self {
            RolloutState::Running => "running",
            RolloutState::Halted { .. } => "halted",
            RolloutState::Complete => "complete",
            RolloutState::RolledBack { .. } => "rolled back",
        }
    }
}

/// An agent's last report about a rollout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentInstall {
    /// When the offer was made (ms since the Unix epoch).
    pub offered_at: u64,
    /// The stage that reached it (0: canary).
    pub stage: usize,
    /// Where its install stands; `None` until it reports.
    pub state: Option<InstallState>,
    /// The reason code of a refusal or failure.
    pub code: String,
    /// Its last message.
    pub message: String,
    /// Bytes fetched.
    pub done_bytes: u64,
    /// Bytes in all.
    pub total_bytes: u64,
    /// Its download rate, bytes per second.
    pub rate_bps: u64,
    /// When it last reported (ms since the Unix epoch).
    pub reported_at: Option<u64>,
    /// Whether its offer was withdrawn (the rollout halted before it began).
    pub withdrawn: bool,
}

impl AgentInstall {
    fn finished(&self) -> bool {
        matches!(self.state, Some(InstallState::Installed | InstallState::Refused | InstallState::Failed))
    }

    fn failed(&self) -> bool {
        matches!(self.state, Some(InstallState::Refused | InstallState::Failed))
    }
}

/// One rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    /// Its id (from 1).
    pub id: u64,
    /// The model.
    pub model: String,
    /// Its version.
    pub version: String,
    /// The manifest's sequence number.
    pub sequence: u64,
    /// Whether the manifest is a signed rollback.
    pub rollback: bool,
    /// Who signed it.
    pub signer: PublicKey,
    /// The manifest as signed.
    pub signed: SignedStatement,
    /// How it proceeds.
    pub plan: Plan,
    /// The stage reached (0: canary).
    pub stage: usize,
    /// Where it stands.
    pub state: RolloutState,
    /// When it started (ms since the Unix epoch).
    pub started_at: u64,
    /// The agents offered it, with their reports.
    pub agents: BTreeMap<AgentId, AgentInstall>,
}

impl Rollout {
    /// Counts by state: `(offered, installed, in progress, refused or failed)`.
    pub fn counts(&self) -> (usize, usize, usize, usize) {
        let installed = self.agents.values().filter(|a| a.state == Some(InstallState::Installed)).count();
        let failed = self.agents.values().filter(|a| a.failed()).count();
        let offered = self.agents.len();
        (offered, installed, offered - installed - failed, failed)
    }

    /// The offer agents receive.
    pub fn offer(&self) -> ManifestOffer {
        ManifestOffer { rollout: self.id, signed: self.signed.clone() }
    }

    fn refuse(&self, what: &str) -> RolloutError {
        RolloutError::State { id: self.id, state: self.state.name().to_owned(), what: what.to_owned() }
    }

    /// Offers the stage `stage` to the agents it adds, out of `known`.
    fn reach(&mut self, stage: usize, known: &[AgentId], now: u64) -> Vec<AgentId> {
        let wanted = if stage == 0 {
            let mut named: Vec<AgentId> = self.plan.canary.clone();
            let others: Vec<AgentId> = self.ordered(known).into_iter().filter(|a| !named.contains(a)).take(self.plan.canary_count).collect();
            named.extend(others);
            named
        } else {
            let percent = usize::from(self.plan.batches[stage - 1]);
            let target = (known.len() * percent).div_ceil(100);
            let have = self.agents.len();
            self.ordered(known).into_iter().filter(|a| !self.agents.contains_key(a)).take(target.saturating_sub(have)).collect()
        };
        let mut added = Vec::new();
        for agent in wanted {
            if self.agents.contains_key(&agent) {
                continue;
            }
            self.agents.insert(
                agent.clone(),
                AgentInstall {
                    offered_at: now,
                    stage,
                    state: None,
                    code: String::new(),
                    message: String::new(),
                    done_bytes: 0,
                    total_bytes: 0,
                    rate_bps: 0,
                    reported_at: None,
                    withdrawn: false,
                },
            );
            added.push(agent);
        }
        self.stage = stage;
        added
    }

    /// `known` in a stable pseudo-random order of this rollout (the same agents come first
    /// however often it is asked, and different rollouts start with different agents).
    fn ordered(&self, known: &[AgentId]) -> Vec<AgentId> {
        let mut keyed: Vec<([u8; 32], AgentId)> = known
            .iter()
            .map(|a| {
                let mut hash = Sha256::new();
                hash.update(self.id.to_le_bytes());
                hash.update(a.as_str().as_bytes());
                (hash.finalize().into(), a.clone())
            })
            .collect();
        keyed.sort();
        keyed.into_iter().map(|(_, a)| a).collect()
    }

    /// Halts when the failure rate crossed the plan's threshold; returns the reason.
    fn judge(&mut self) -> Option<String> {
        if self.state != RolloutState::Running {
            return None;
        }
        let finished: Vec<&AgentInstall> = self.agents.values().filter(|a| a.finished()).collect();
        let failed: Vec<&&AgentInstall> = finished.iter().filter(|a| a.failed()).collect();
        if finished.len() < self.plan.min_reports || finished.is_empty() {
            return None;
        }
        let rate = failed.len() as f64 / finished.len() as f64;
        if rate <= self.plan.max_failure_rate {
            if self.stage + 1 == self.plan.stages() && self.agents.values().all(|a| a.state == Some(InstallState::Installed)) {
                self.state = RolloutState::Complete;
            }
            return None;
        }
        let mut codes: BTreeMap<&str, usize> = BTreeMap::new();
        for a in &failed {
            *codes.entry(a.code.as_str()).or_default() += 1;
        }
        let codes: Vec<String> = codes.into_iter().map(|(c, n)| format!("{c} ×{n}")).collect();
        let reason = format!(
            "{} of {} finished installs failed ({:.0}% > {:.0}%): {}",
            failed.len(),
            finished.len(),
            rate * 100.0,
            self.plan.max_failure_rate * 100.0,
            codes.join(", ")
        );
        self.state = RolloutState::Halted { reason: reason.clone() };
        Some(reason)
    }

    /// Marks the offers nobody acted on as withdrawn; returns their agents.
    fn withdraw_untouched(&mut self) -> Vec<AgentId> {
        let mut withdrawn = Vec::new();
        for (agent, install) in &mut self.agents {
            if install.state.is_none() && !install.withdrawn {
                install.withdrawn = true;
                withdrawn.push(agent.clone());
            }
        }
        withdrawn
    }
}

/// What a change did: the rollout after it, agents to offer it to, offers to withdraw.
#[derive(Debug, Clone)]
pub struct Change {
    /// The rollout.
    pub rollout: Rollout,
    /// Agents to send the offer to now.
    pub offer_to: Vec<AgentId>,
    /// Agents whose retained offer is to be cleared.
    pub withdraw: Vec<AgentId>,
    /// Why it halted by itself, when it did.
    pub halted: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    next_id: u64,
    rollouts: Vec<Rollout>,
}

/// Every rollout, kept in a file.
#[derive(Debug)]
pub struct Rollouts {
    path: Option<PathBuf>,
    saved: Mutex<Saved>,
}

/// The model manifest in `signed`, once its signature is intact.
fn read_manifest(signed: &SignedStatement) -> Result<edgecoder_protocol::manifest::ModelManifest, RolloutError> {
    match signed.verify() {
        Ok(Statement::Model(m)) => Ok(m),
        Ok(Statement::RotateKey(_)) => Err(RolloutError::Manifest("this is a key rotation, not a model manifest".into())),
        Err(e) => Err(RolloutError::Manifest(e.to_string())),
    }
}

impl Rollouts {
    /// Rollouts kept only in memory (tests).
    pub fn in_memory() -> Rollouts {
        Rollouts { path: None, saved: Mutex::new(Saved { next_id: 1, rollouts: Vec::new() }) }
    }

    /// The rollouts in `path` (none when it does not exist yet).
    pub fn open(path: &Path) -> Result<Rollouts, RolloutError> {
        let saved = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| RolloutError::File {
                path: path.to_owned(),
                message: format!("does not parse ({e}); fix or remove it"),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Saved { next_id: 1, rollouts: Vec::new() },
            Err(e) => return Err(RolloutError::File { path: path.to_owned(), message: e.to_string() }),
        };
        Ok(Rollouts { path: Some(path.to_owned()), saved: Mutex::new(saved) })
    }

    fn save(&self, saved: &Saved) -> Result<(), RolloutError> {
        let Some(path) = &self.path else { return Ok(()) };
        let file_error = |message: String| RolloutError::File { path: path.clone(), message };
        let bytes = serde_json::to_vec_pretty(saved).map_err(|e| file_error(e.to_string()))?;
        crate::fsutil::write_atomically(path, &bytes).map_err(|e| file_error(e.to_string()))
    }

    /// Applies `change` to a copy of the rollouts and keeps it only when it was saved, so a
    /// failed write changes nothing.
    fn update<T>(&self, change: impl FnOnce(&mut Saved) -> Result<T, RolloutError>) -> Result<T, RolloutError> {
        let mut saved = self.saved.lock().expect("the rollout lock is never poisoned");
        let mut copy = Saved { next_id: saved.next_id, rollouts: saved.rollouts.clone() };
        let out = change(&mut copy)?;
        self.save(&copy)?;
        *saved = copy;
        Ok(out)
    }

    /// Starts a rollout of `signed` with `plan`; its canary is offered at once. Refused when a
    /// rollout of the same model is running.
    pub fn start(&self, signed: SignedStatement, plan: Plan, known: &[AgentId], now: u64) -> Result<Change, RolloutError> {
        plan.check()?;
        let manifest = read_manifest(&signed)?;
        if plan.canary.is_empty() && plan.canary_count == 0 {
            return Err(RolloutError::Plan("the canary is empty: name agents in canary, or set canary_count".into()));
        }
        self.update(|saved| {
            if let Some(running) = saved.rollouts.iter().find(|r| r.model == manifest.model && r.state == RolloutState::Running) {
                return Err(RolloutError::State {
                    id: running.id,
                    state: "running".into(),
                    what: format!("it rolls out {} already: halt it before starting another", manifest.model),
                });
            }
            let mut rollout = Rollout {
                id: saved.next_id,
                model: manifest.model.clone(),
                version: manifest.version.clone(),
                sequence: manifest.sequence,
                rollback: manifest.rollback,
                signer: signed.key,
                signed,
                plan,
                stage: 0,
                state: RolloutState::Running,
                started_at: now,
                agents: BTreeMap::new(),
            };
            saved.next_id += 1;
            let offer_to = rollout.reach(0, known, now);
            saved.rollouts.push(rollout.clone());
            Ok(Change { rollout, offer_to, withdraw: Vec::new(), halted: None })
        })
    }

    /// Offers the next stage to the agents it adds out of `known`.
    pub fn advance(&self, id: u64, known: &[AgentId], now: u64) -> Result<Change, RolloutError> {
        self.update(|saved| {
            let rollout = find(saved, id)?;
            if rollout.state != RolloutState::Running {
                return Err(rollout.refuse("only a running rollout advances"));
            }
            if rollout.stage + 1 >= rollout.plan.stages() {
                return Err(rollout.refuse("it reached every agent already"));
            }
            let next = rollout.stage + 1;
            let offer_to = rollout.reach(next, known, now);
            // The last stage may add nobody new: every agent it reaches has it already.
            let halted = rollout.judge();
            let withdraw = if halted.is_some() { rollout.withdraw_untouched() } else { Vec::new() };
            Ok(Change { rollout: rollout.clone(), offer_to, withdraw, halted })
        })
    }

    /// Halts a running rollout; offers nobody acted on are withdrawn.
    pub fn halt(&self, id: u64, reason: &str) -> Result<Change, RolloutError> {
        self.update(|saved| {
            let rollout = find(saved, id)?;
            if rollout.state != RolloutState::Running {
                return Err(rollout.refuse("only a running rollout halts"));
            }
            rollout.state = RolloutState::Halted { reason: reason.to_owned() };
            let withdraw = rollout.withdraw_untouched();
            Ok(Change { rollout: rollout.clone(), offer_to: Vec::new(), withdraw, halted: None })
        })
    }

    /// Rolls a rollout back: `signed` must be a signed rollback manifest of the same model; it
    /// becomes a new rollout offered at once to every agent the old one reached.
    pub fn roll_back(&self, id: u64, signed: SignedStatement, now: u64) -> Result<Change, RolloutError> {
        let manifest = read_manifest(&signed)?;
        self.update(|saved| {
            let next_id = saved.next_id;
            let old = find(saved, id)?;
            if !manifest.rollback || manifest.model != old.model {
                return Err(RolloutError::Manifest(format!(
                    "a rollback of rollout {id} needs a manifest of {} signed with \"rollback\": true",
                    old.model
                )));
            }
            if matches!(old.state, RolloutState::RolledBack { .. }) {
                return Err(old.refuse("it was rolled back already"));
            }
            let reached: Vec<AgentId> = old.agents.keys().cloned().collect();
            let withdraw = old.withdraw_untouched();
            old.state = RolloutState::RolledBack { by: next_id };
            let mut rollout = Rollout {
                id: next_id,
                model: manifest.model.clone(),
                version: manifest.version.clone(),
                sequence: manifest.sequence,
                rollback: true,
                signer: signed.key,
                signed,
                plan: Plan { canary: reached.clone(), canary_count: 0, batches: vec![100], max_failure_rate: 1.0, min_reports: 1, max_unhealthy_rate: None },
                stage: 0,
                state: RolloutState::Running,
                started_at: now,
                agents: BTreeMap::new(),
            };
            let offer_to = rollout.reach(0, &reached, now);
            rollout.stage = rollout.plan.stages() - 1;
            saved.next_id += 1;
            saved.rollouts.push(rollout.clone());
            let withdraw = withdraw.into_iter().filter(|a| !offer_to.contains(a)).collect();
            Ok(Change { rollout, offer_to, withdraw, halted: None })
        })
    }

    /// Records an agent's report; halts the rollout when its failure rate crossed the
    /// threshold. `None` when the report names no rollout this agent was offered.
    ///
    /// Progress of a download already reported as downloading is kept in memory only (agents
    /// send it about once a second); every change of state is written to the file.
    pub fn record(&self, agent: &AgentId, report: &ModelReport, now: u64) -> Result<Option<Change>, RolloutError> {
        if report.state == InstallState::Downloading {
            let mut saved = self.saved.lock().expect("the rollout lock is never poisoned");
            if let Some(rollout) = saved.rollouts.iter_mut().find(|r| r.id == report.rollout)
                && let Some(install) = rollout.agents.get_mut(agent)
                && install.state == Some(InstallState::Downloading)
            {
                take_report(install, report, now);
                return Ok(Some(Change { rollout: rollout.clone(), offer_to: Vec::new(), withdraw: Vec::new(), halted: None }));
            }
        }
        self.update(|saved| {
            let Some(rollout) = saved.rollouts.iter_mut().find(|r| r.id == report.rollout) else { return Ok(None) };
            let Some(install) = rollout.agents.get_mut(agent) else { return Ok(None) };
            take_report(install, report, now);
            let halted = rollout.judge();
            let withdraw = if halted.is_some() { rollout.withdraw_untouched() } else { Vec::new() };
            Ok(Some(Change { rollout: rollout.clone(), offer_to: Vec::new(), withdraw, halted }))
        })
    }

    /// Halts each running rollout whose health signal crossed its threshold: too many of the
    /// agents that installed it are `silent` (no heartbeat since). Returns the changes, each
    /// with its reason; nothing is written when no rollout halts.
    pub fn judge_health(&self, silent: &dyn Fn(&AgentId) -> bool) -> Result<Vec<Change>, RolloutError> {
        let unhealthy = |rollout: &Rollout| -> Option<String> {
            let limit = rollout.plan.max_unhealthy_rate?;
            if rollout.state != RolloutState::Running {
                return None;
            }
            let installed: Vec<&AgentId> =
                rollout.agents.iter().filter(|(_, i)| i.state == Some(InstallState::Installed)).map(|(a, _)| a).collect();
            if installed.is_empty() || installed.len() < rollout.plan.min_reports {
                return None;
            }
            let quiet: Vec<&str> = installed.iter().filter(|a| silent(a)).map(|a| a.as_str()).collect();
            let rate = quiet.len() as f64 / installed.len() as f64;
            (rate > limit).then(|| {
                format!(
                    "health: {} of {} agents that installed it went silent ({:.0}% > {:.0}%): {}",
                    quiet.len(),
                    installed.len(),
                    rate * 100.0,
                    limit * 100.0,
                    quiet.join(", ")
                )
            })
        };
        let halting: Vec<(u64, String)> = {
            let saved = self.saved.lock().expect("the rollout lock is never poisoned");
            saved.rollouts.iter().filter_map(|r| unhealthy(r).map(|reason| (r.id, reason))).collect()
        };
        if halting.is_empty() {
            return Ok(Vec::new());
        }
        self.update(|saved| {
            let mut changes = Vec::new();
            for (id, reason) in halting {
                let rollout = find(saved, id)?;
                if rollout.state != RolloutState::Running {
                    continue;
                }
                rollout.state = RolloutState::Halted { reason: reason.clone() };
                let withdraw = rollout.withdraw_untouched();
                changes.push(Change { rollout: rollout.clone(), offer_to: Vec::new(), withdraw, halted: Some(reason) });
            }
            Ok(changes)
        })
    }

    /// Withdraws the offers nobody acted on from `agents` in every running rollout; returns
    /// the agents whose retained offer is to be cleared.
    pub fn withdraw(&self, agents: &[AgentId]) -> Result<Vec<AgentId>, RolloutError> {
        if agents.is_empty() {
            return Ok(Vec::new());
        }
        self.update(|saved| {
            let mut withdrawn = Vec::new();
            for rollout in saved.rollouts.iter_mut().filter(|r| r.state == RolloutState::Running) {
                for agent in agents {
                    if let Some(install) = rollout.agents.get_mut(agent)
                        && install.state.is_none()
                        && !install.withdrawn
                    {
                        install.withdrawn = true;
                        withdrawn.push(agent.clone());
                    }
                }
            }
            Ok(withdrawn)
        })
    }

    /// Every rollout, newest first.
    pub fn list(&self) -> Vec<Rollout> {
        let saved = self.saved.lock().expect("the rollout lock is never poisoned");
        saved.rollouts.iter().rev().cloned().collect()
    }

    /// One rollout.
    pub fn get(&self, id: u64) -> Option<Rollout> {
        let saved = self.saved.lock().expect("the rollout lock is never poisoned");
        saved.rollouts.iter().find(|r| r.id == id).cloned()
    }

    /// The offer each agent should hold now (its `manifest` topic retains one): that of the
    /// newest rollout that reached it and did not withdraw it — what a restarted coordinator
    /// publishes again.
    pub fn current_offers(&self) -> Vec<(AgentId, ManifestOffer)> {
        let saved = self.saved.lock().expect("the rollout lock is never poisoned");
        let mut latest: BTreeMap<AgentId, &Rollout> = BTreeMap::new();
        for rollout in &saved.rollouts {
            for (agent, install) in &rollout.agents {
                if !install.withdrawn {
                    latest.insert(agent.clone(), rollout);
                }
            }
        }
        latest.into_iter().map(|(agent, rollout)| (agent, rollout.offer())).collect()
    }
}

fn take_report(install: &mut AgentInstall, report: &ModelReport, now: u64) {
    install.state = Some(report.state);
    install.code.clone_from(&report.code);
    install.message.clone_from(&report.message);
    install.done_bytes = report.done_bytes;
    install.total_bytes = report.total_bytes;
    install.rate_bps = report.rate_bps;
    install.reported_at = Some(now);
}

fn find(saved: &mut Saved, id: u64) -> Result<&mut Rollout, RolloutError> {
    saved.rollouts.iter_mut().find(|r| r.id == id).ok_or(RolloutError::Unknown(id))
}
