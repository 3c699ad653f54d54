//! Models offered over the swarm: a signed manifest retained on the agent's `manifest` topic is
//! installed through `edgecoder_ota::install` — checked against this device's own trusted keys
//! and allowlists (the coordinator cannot sign), downloaded, staged in the inactive A/B slot,
//! smoke-tested, switched — and every step is reported on the agent's `model` topic: refusals
//! and failures with their reason code, download progress (bytes, total, rate) about once a
//! second, then the install.

use edgecoder_ota::ModelStore;
use edgecoder_ota::download::DownloadOptions;
use edgecoder_ota::fleet::{FleetError, FleetRecord, FleetSettings};
use edgecoder_ota::install::{Installer, Progress};
use edgecoder_ota::manifest::{DeviceRules, TrustedKeys};
use edgecoder_ota::slots::Slots;
use edgecoder_protocol::manifest::ModelManifest;
use edgecoder_protocol::swarm::{AgentFeatures, InstallState, ManifestOffer, ModelReport};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Loads a staged model from its folder and generates a few tokens.
pub type SmokeTest = dyn Fn(&Path, &ModelManifest) -> Result<(), String> + Send + Sync;

/// What the worker installs offered models with.
pub struct ModelUpdates {
    /// The A/B slots of manifest-installed models.
    pub slots: Slots,
    /// What the fleet allows (its local-model feature and mode), kept for the daemon too.
    pub fleet: FleetSettings,
    /// The keys this device trusts to sign manifests (pinned by its owner, never from the
    /// coordinator).
    pub trusted: TrustedKeys,
    /// Allowlists and the daemon's version.
    pub rules: DeviceRules,
    /// Download behaviour.
    pub download: DownloadOptions,
    /// The smoke test a staged model must pass.
    pub smoke: Box<SmokeTest>,
    /// One install at a time.
    busy: Mutex<()>,
}

/// The longest message a report carries (its body is at most 2 KiB).
const MESSAGE_MAX: usize = 1024;

/// `text` cut to at most `max` bytes on a character boundary.
fn clip(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// How often download progress is reported.
const PROGRESS_EVERY: Duration = Duration::from_secs(1);

impl ModelUpdates {
    /// Model updates into `store`'s slots, with these keys, rules and smoke test.
    pub fn new(store: &ModelStore, trusted: TrustedKeys, rules: DeviceRules, download: DownloadOptions, smoke: Box<SmokeTest>) -> ModelUpdates {
        ModelUpdates { slots: store.slots(), fleet: store.fleet(), trusted, rules, download, smoke, busy: Mutex::new(()) }
    }

    /// Records the fleet's feature settings, as received from `coordinator`: offers are refused
    /// while the local-model feature is off, and the daemon serves fleet-installed models to
    /// the IDE only in `ide-enabled` mode.
    pub fn set_features(&self, features: AgentFeatures, coordinator: &str) -> Result<(), FleetError> {
        if self.fleet.read().ok().flatten().is_some_and(|r| r.features == features && r.coordinator == coordinator) {
            return Ok(());
        }
        let record = FleetRecord { features, coordinator: coordinator.to_owned(), received_ms: edgecoder_protocol::envelope::unix_time_ms() };
        self.fleet.write(&record)
    }

    /// Installs the model `offer` names, passing each report to `report`. Blocks (downloads
    /// and the smoke test): run it on a blocking thread. An offer of what is already active is
    /// reported as installed without doing anything, so a retained offer seen again on
    /// reconnect costs nothing.
    pub fn handle(&self, offer: &ManifestOffer, sink: &mut dyn FnMut(ModelReport)) {
        let mut report = |mut r: ModelReport| {
            r.message = clip(&r.message, MESSAGE_MAX);
            sink(r);
        };
        let _one_at_a_time = self.busy.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let installer = Installer { slots: &self.slots, trusted: &self.trusted, rules: &self.rules, download: &self.download };
        let mut base = ModelReport {
            rollout: offer.rollout,
            model: String::new(),
            version: String::new(),
            sequence: 0,
            state: InstallState::Refused,
            code: String::new(),
            message: String::new(),
            done_bytes: 0,
            total_bytes: 0,
            rate_bps: 0,
        };
        let manifest = match installer.model_of(&offer.signed) {
            Ok(manifest) => manifest,
            Err(rejection) => {
                report(ModelReport { code: rejection.code.as_str().into(), message: rejection.message, ..base });
                return;
            }
        };
        base.model = manifest.model.clone();
        base.version = manifest.version.clone();
        base.sequence = manifest.sequence;
        base.total_bytes = manifest.files.iter().map(|f| f.size).sum();
        match self.fleet.read() {
            Ok(Some(record)) if !record.features.local_model => {
                let message = format!("the fleet ({}) turned this device's local-model feature off: no model is installed", record.coordinator);
                report(ModelReport { code: "local_model_off".into(), message, ..base });
                return;
            }
            Err(error) => {
                report(ModelReport { code: "local_model_off".into(), message: format!("the fleet's settings cannot be read ({error}): nothing is installed until the fleet sends them again"), ..base });
                return;
            }
            Ok(_) => {}
        }
        let active = self.slots.state(&manifest.model).ok().and_then(|s| s.active).map(|(_, record)| record.manifest);
        if active.as_ref() == Some(&manifest) {
            report(ModelReport {
                state: InstallState::Installed,
                message: "already installed and active".into(),
                done_bytes: base.total_bytes,
                ..base
            });
            return;
        }
        let started = Instant::now();
        let mut last_sent: Option<Instant> = None;
        // The bytes done at the first progress report, and when: a resumed download starts
        // with its partial file counted as done, and those bytes are not this try's rate.
        let mut first_seen: Option<(u64, Instant)> = None;
        let mut progress = |step: Progress| {
            let (state, done, message) = match step {
                Progress::Verified { .. } => (InstallState::Downloading, 0, "verified; downloading".to_owned()),
                Progress::Downloading { done, total, file } => {
                    first_seen.get_or_insert((done, Instant::now()));
                    let due = last_sent.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) || done == total;
                    if !due {
                        return;
                    }
                    (InstallState::Downloading, done, format!("downloading {file}"))
                }
                Progress::Staged { slot } => (InstallState::Staged, base.total_bytes, format!("staged in slot {slot:?}; smoke test")),
            };
            last_sent = Some(Instant::now());
            let rate_bps = first_seen.map_or(0, |(done_at_first, first_at)| {
                (done.saturating_sub(done_at_first) as f64 / first_at.elapsed().as_secs_f64().max(0.001)) as u64
            });
            report(ModelReport { state, message, done_bytes: done, rate_bps, ..base.clone() });
        };
        let outcome = installer.install(&offer.signed, edgecoder_protocol::envelope::unix_time_ms() / 1000, &mut progress, &mut |dir, manifest| (self.smoke)(dir, manifest));
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(done) => {
                tracing::info!(model = base.model, version = base.version, slot = ?done.slot, "offered model installed");
                report(ModelReport {
                    state: InstallState::Installed,
                    message: format!(
                        "active in slot {:?} after {seconds:.1} s ({} bytes fetched in {} attempt(s), {} kept from an earlier try)",
                        done.slot, done.received, done.attempts, done.resumed
                    ),
                    done_bytes: base.total_bytes,
                    rate_bps: (done.received as f64 / seconds.max(0.001)) as u64,
                    ..base
                });
            }
            Err(error) => {
                tracing::warn!(model = base.model, code = error.code(), %error, "offered model not installed");
                let state = if matches!(error, edgecoder_ota::install::InstallError::Refused(_)) {
                    InstallState::Refused
                } else {
                    InstallState::Failed
                };
                report(ModelReport { state, code: error.code().into(), message: error.to_string(), ..base });
            }
        }
    }
}
