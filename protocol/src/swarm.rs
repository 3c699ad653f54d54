//! The messages agents and coordinators exchange over MQTT, each sent in an
//! [`Envelope`](crate::Envelope) on its own topic (see [`crate::topic`]).
//!
//! The messages a small device sends or receives (hello, heartbeat, ask, status, policy) hold
//! only fixed-capacity fields, so they need no allocator; work items and their results carry
//! code and test reports and need the `alloc` feature.

use crate::envelope::{Kind, Message};
use serde::{Deserialize, Serialize};

/// Fixed-capacity text, for fields of the allocation-free messages.
pub type Text<const N: usize> = heapless::String<N>;

/// A set of sandbox layers (bit flags), as active for a run or as available on an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SandboxLayers(pub u8);

impl SandboxLayers {
    /// Landlock confines the file system.
    pub const LANDLOCK: SandboxLayers = SandboxLayers(1);
    /// A seccomp filter denies system calls outside the executor's needs (network included).
    pub const SECCOMP: SandboxLayers = SandboxLayers(1 << 1);
    /// Resource limits (address space, CPU seconds, processes, no core files).
    pub const RLIMITS: SandboxLayers = SandboxLayers(1 << 2);
    /// The run has no network (a network namespace or the seccomp filter).
    pub const NO_NETWORK: SandboxLayers = SandboxLayers(1 << 3);
    /// A cgroup v2 `cpu.max` enforces the policy's CPU cap.
    pub const CPU_CGROUP: SandboxLayers = SandboxLayers(1 << 4);
    /// An empty environment and a closed stdin.
    pub const CLEAN_ENV: SandboxLayers = SandboxLayers(1 << 5);

    const NAMES: [(SandboxLayers, &'static str); 6] = [
        (SandboxLayers::LANDLOCK, "landlock"),
        (SandboxLayers::SECCOMP, "seccomp"),
        (SandboxLayers::RLIMITS, "rlimits"),
        (SandboxLayers::NO_NETWORK, "no_network"),
        (SandboxLayers::CPU_CGROUP, "cpu_cgroup"),
        (SandboxLayers::CLEAN_ENV, "clean_env"),
    ];

    /// The layers the swarm requires before an agent may take work: all but the CPU cgroup
    /// (where cgroups are missing, the worker duty-cycles instead).
    pub const REQUIRED_FOR_WORK: SandboxLayers = SandboxLayers(
        SandboxLayers::LANDLOCK.0
            | SandboxLayers::SECCOMP.0
            | SandboxLayers::RLIMITS.0
            | SandboxLayers::NO_NETWORK.0
            | SandboxLayers::CLEAN_ENV.0,
    );

    /// Both sets together.
    pub const fn union(self, other: SandboxLayers) -> SandboxLayers {
        SandboxLayers(self.0 | other.0)
    }

    /// Whether every layer of `other` is in this set.
    pub const fn contains(self, other: SandboxLayers) -> bool {
        self.0 & other.0 == other.0
    }

    /// The names of the layers in this set.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        SandboxLayers::NAMES
            .into_iter()
            .filter(move |(layer, _)| self.contains(*layer))
            .map(|(_, name)| name)
    }

    /// The names of the layers of `wanted` missing from this set.
    pub fn missing(self, wanted: SandboxLayers) -> impl Iterator<Item = &'static str> {
        SandboxLayers(wanted.0 & !self.0).names()
    }
}

/// An agent introduces itself after connecting (and after every reconnect).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The agent software's version (`edgecoderd 0.1.0`, or a firmware's).
    pub software: Text<32>,
    /// Operating system and architecture (`linux-x86_64`, `esp-idf-xtensa`).
    pub platform: Text<32>,
    /// CPU cores the agent has.
    pub cores: u16,
    /// Memory the agent has, in MiB.
    pub memory_mb: u32,
    /// The models installed and loadable (ids), up to 8.
    pub models: heapless::Vec<Text<64>, 8>,
    /// The sandbox layers this agent can enforce on work.
    pub sandbox: SandboxLayers,
    /// How many subtasks it can run at once; 0 for a device that only reports (no executor).
    pub max_concurrency: u8,
}

impl Message for Hello {
    const KIND: Kind = Kind::Hello;
    const MAX_BODY: usize = 1024;

    fn validate(&self) -> Result<(), &'static str> {
        if self.cores == 0 {
            return Err("an agent has at least one core");
        }
        if self.max_concurrency > 0 && !self.sandbox.contains(SandboxLayers::REQUIRED_FOR_WORK) {
            return Err(
                "an agent that cannot enforce the required sandbox layers cannot offer to run work",
            );
        }
        Ok(())
    }
}

/// An agent's periodic sign of life, with what the scheduler needs to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Counts up by one per heartbeat since the agent started; a gap means lost heartbeats.
    pub seq: u32,
    /// CPU busy over the last interval, all cores, in percent (0–100).
    pub cpu_busy_percent: u8,
    /// Seconds since the device's user last gave input (`u32::MAX` when unknown).
    pub user_idle_s: u32,
    /// Subtasks running now.
    pub running: u8,
    /// Memory free now, in MiB.
    pub free_memory_mb: u32,
    /// The version of the policy the agent applies (0: none received yet).
    pub policy_version: u32,
}

impl Message for Heartbeat {
    const KIND: Kind = Kind::Heartbeat;
    const MAX_BODY: usize = 64;

    fn validate(&self) -> Result<(), &'static str> {
        if self.cpu_busy_percent > 100 {
            return Err("cpu_busy_percent is over 100");
        }
        Ok(())
    }
}

/// An agent asks for work, inside its policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ask {
    /// How many subtasks it can take now (1 or more).
    pub slots: u8,
}

impl Message for Ask {
    const KIND: Kind = Kind::Ask;
    const MAX_BODY: usize = 16;

    fn validate(&self) -> Result<(), &'static str> {
        if self.slots == 0 {
            return Err("an ask is for at least one slot");
        }
        Ok(())
    }
}

/// Whether an agent or coordinator is there and taking work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    /// Connected and taking work within its policy.
    Online,
    /// Gone (sent by the broker as the last will, or on a clean shutdown).
    Offline,
    /// Finishing its running work, taking no more (its user came back, or it is stopping).
    Draining,
    /// Connected but refusing all work, with the reason (e.g. a sandbox layer is missing).
    Refusing,
}

/// An agent's or coordinator's presence, retained on its status topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// Where it stands.
    pub presence: Presence,
    /// Why, for people (`"landlock is not available: kernel 5.4"`); may be empty.
    pub reason: Text<160>,
}

impl Message for Status {
    const KIND: Kind = Kind::Status;
    const MAX_BODY: usize = 256;

    fn validate(&self) -> Result<(), &'static str> {
        if self.presence == Presence::Refusing && self.reason.is_empty() {
            return Err("refusing work needs a reason");
        }
        Ok(())
    }
}

/// A weekly time window in which an agent may work, in the device's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// The days it applies to: bit 0 = Monday … bit 6 = Sunday.
    pub days: u8,
    /// Start, minutes after midnight (0–1439).
    pub start_minute: u16,
    /// End, minutes after midnight (1–1440); before `start_minute` when the window runs past
    /// midnight into the next day.
    pub end_minute: u16,
}

impl Window {
    /// Whether the window is open at `minute` (0–1439) of `weekday` (0 = Monday).
    pub fn contains(&self, weekday: u8, minute: u16) -> bool {
        let on = |day: u8| self.days & (1 << (day % 7)) != 0;
        if self.start_minute < self.end_minute {
            on(weekday) && (self.start_minute..self.end_minute).contains(&minute)
        } else {
            (on(weekday) && minute >= self.start_minute)
                || (on((weekday + 6) % 7) && minute < self.end_minute)
        }
    }
}

/// What an agent may do for the swarm; versioned, retained on the agent's policy topic and
/// applied before any work is asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Increases with every change; an agent ignores a policy older than the one it applies.
    pub version: u32,
    /// Whether the agent takes swarm work at all.
    pub enabled: bool,
    /// Most CPU the work may use, in percent of the whole machine (1–100).
    pub cpu_cap_percent: u8,
    /// Most memory a subtask may use, in MiB.
    pub memory_limit_mb: u32,
    /// When work is allowed; empty means at any time.
    pub windows: heapless::Vec<Window, 8>,
    /// Work only while the device's user is away.
    pub idle_only: bool,
    /// How long the user must have been away, in seconds, when `idle_only`.
    pub idle_after_s: u32,
    /// Most subtasks at once.
    pub concurrency: u8,
    /// How long to wait before asking again after a refusal or the user's return, in seconds.
    pub backoff_s: u32,
    /// How often to send a heartbeat, in seconds.
    pub heartbeat_s: u32,
}

impl Policy {
    /// Whether the time windows allow work at `minute` of `weekday` (0 = Monday).
    pub fn in_window(&self, weekday: u8, minute: u16) -> bool {
        self.windows.is_empty() || self.windows.iter().any(|w| w.contains(weekday, minute))
    }
}

impl Message for Policy {
    const KIND: Kind = Kind::Policy;
    const MAX_BODY: usize = 256;

    fn validate(&self) -> Result<(), &'static str> {
        if !(1..=100).contains(&self.cpu_cap_percent) {
            return Err("cpu_cap_percent must be 1-100");
        }
        if self.memory_limit_mb < 16 {
            return Err("memory_limit_mb must be at least 16");
        }
        if self.heartbeat_s == 0 {
            return Err("heartbeat_s must be at least 1");
        }
        for window in &self.windows {
            if window.days == 0 || window.days >= 1 << 7 {
                return Err("a window's days must name at least one day and only bits 0-6");
            }
            if window.start_minute >= 1440 || window.end_minute == 0 || window.end_minute > 1440 {
                return Err("a window's minutes must be 0-1439 (start) and 1-1440 (end)");
            }
            if window.start_minute == window.end_minute {
                return Err("a window cannot start and end at the same minute");
            }
        }
        Ok(())
    }
}

/// What a model the fleet installs on a device may serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelMode {
    /// Swarm work only; the device's IDE does not use it.
    SwarmOnly,
    /// Swarm work and the device's own IDE.
    IdeEnabled,
}

impl ModelMode {
    /// Every mode.
    pub const ALL: [ModelMode; 2] = [ModelMode::SwarmOnly, ModelMode::IdeEnabled];

    /// The name operators write (`swarm-only`, `ide-enabled`).
    pub fn name(self) -> &'static str {
        match self {
            ModelMode::SwarmOnly => "swarm-only",
            ModelMode::IdeEnabled => "ide-enabled",
        }
    }

    /// The mode with this name.
    pub fn from_name(name: &str) -> Option<ModelMode> {
        ModelMode::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The fleet's feature settings for one agent, as its coordinator decided them; retained on
/// the agent's `features` topic, so the device knows them whenever it connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentFeatures {
    /// Whether the local-model feature is on: the device may install models the fleet offers.
    pub local_model: bool,
    /// What those models may serve.
    pub mode: ModelMode,
}

impl Message for AgentFeatures {
    const KIND: Kind = Kind::Features;
    const MAX_BODY: usize = 16;

    fn validate(&self) -> Result<(), &'static str> {
        Ok(())
    }
}

#[cfg(feature = "alloc")]
pub use work::{
    AnyMessage, MAX_SNAPSHOT_PATH, check_snapshot_path, ContextItem, InstallState, ManifestOffer, ModelReport, Snapshot, Work, WorkMode,
    WorkOutcome, WorkResult,
};

#[cfg(feature = "alloc")]
mod work {
    use super::{AgentFeatures, Ask, Heartbeat, Hello, Policy, SandboxLayers, Status};
    use crate::envelope::{DecodeError, EncodeError, Envelope, Kind, Message, RawEnvelope};
    use crate::ids::{MessageId, Sha256};
    use crate::manifest::SignedStatement;
    use crate::run::{Lang, Limits, TestReport};
    use alloc::boxed::Box;
    use alloc::string::String;
    use alloc::vec::Vec;
    use serde::{Deserialize, Serialize};

    /// Most bytes of a path inside a snapshot.
    pub const MAX_SNAPSHOT_PATH: usize = 512;

    /// Checks that `path` names a file inside a snapshot: relative, `/`-separated, without `.`,
    /// `..` or empty parts, backslashes or control characters, at most [`MAX_SNAPSHOT_PATH`]
    /// bytes. The coordinator checks a plan's files with it and the agent checks the work it
    /// gets, so a path can never lead out of the unpacked snapshot.
    pub fn check_snapshot_path(path: &str) -> Result<(), &'static str> {
        if path.is_empty() || path.len() > MAX_SNAPSHOT_PATH {
            return Err("a snapshot path has 1 to 512 bytes");
        }
        if path.starts_with('/') {
            return Err("a snapshot path is relative to the snapshot's root, not absolute");
        }
        if path.chars().any(|c| c == '\\' || c.is_control()) {
            return Err("a snapshot path uses `/` between its parts and no control characters");
        }
        if path.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
            return Err("a snapshot path has no empty, `.` or `..` parts");
        }
        Ok(())
    }

    /// The frozen snapshot a subtask runs on: content-addressed, fetched read-only.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Snapshot {
        /// sha256 of the snapshot tarball.
        pub sha256: Sha256,
        /// Its size in bytes.
        pub bytes: u64,
    }

    /// How much of the agent loop a subtask asks for.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum WorkMode {
        /// One generation or one run, no iterations.
        Step,
        /// A plan → code → test → fix loop of at most this many code versions.
        MicroLoop {
            /// Most code versions.
            max_iterations: u8,
        },
        /// One step of a multi-step subtask; the context carries the earlier steps' outputs.
        MultiStep {
            /// This step, from 1.
            step: u16,
            /// How many steps there are.
            of: u16,
        },
    }

    /// A piece of context injected into a subtask (e.g. the output of a subtask it depends on).
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ContextItem {
        /// Where it comes from (`subtask 3: parse the config`).
        pub title: String,
        /// The text.
        pub text: String,
    }

    /// The coordinator hands an agent a subtask under a lease.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Work {
        /// The job the subtask belongs to.
        pub job: MessageId,
        /// The subtask; the same on every attempt.
        pub subtask: MessageId,
        /// This lease; a result must name it, and one naming an expired lease is dropped.
        pub lease: MessageId,
        /// How long the lease lasts from its grant, in milliseconds; renewed by heartbeats.
        pub lease_ms: u32,
        /// Which attempt this is, from 1.
        pub attempt: u16,
        /// The language of the code.
        pub lang: Lang,
        /// How much of the loop to run.
        pub mode: WorkMode,
        /// What to do.
        pub instruction: String,
        /// Context: relevant snippets, outputs of subtasks this one depends on.
        pub context: Vec<ContextItem>,
        /// Tests the result must pass, when the subtask has them.
        pub tests: Option<String>,
        /// The snapshot to run on.
        pub snapshot: Snapshot,
        /// The executor limits of every run.
        pub limits: Limits,
        /// The file of the snapshot the subtask edits (a path relative to the snapshot's root;
        /// a new file when the snapshot has none): the agent answers with a unified diff of the
        /// snapshot in [`WorkOutcome::Completed::patch`]. `None`: the answer is code.
        pub file: Option<String>,
    }

    impl Message for Work {
        const KIND: Kind = Kind::Work;
        const MAX_BODY: usize = 192 * 1024;

        fn validate(&self) -> Result<(), &'static str> {
            if self.instruction.trim().is_empty() {
                return Err("a subtask needs an instruction");
            }
            if self.lease_ms < 1000 {
                return Err("a lease lasts at least one second");
            }
            if self.attempt == 0 {
                return Err("attempts count from 1");
            }
            if let Some(file) = &self.file {
                check_snapshot_path(file)?;
            }
            match self.mode {
                WorkMode::MicroLoop { max_iterations: 0 } => {
                    Err("a micro-loop needs at least one iteration")
                }
                WorkMode::MultiStep { step, of } if step == 0 || step > of => {
                    Err("a step must be within 1..=of")
                }
                _ => Ok(()),
            }
        }
    }

    /// How a subtask ended on an agent.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum WorkOutcome {
        /// It produced a result (its tests passed, when it had any).
        Completed {
            /// The output (code, or text for a text step).
            output: String,
            /// A unified diff against the snapshot, when the subtask edits files.
            patch: Option<String>,
            /// The last test run, when the subtask had tests.
            report: Option<TestReport>,
        },
        /// It could not be done here; the coordinator retries or escalates.
        Failed {
            /// Why.
            reason: String,
            /// The last test run, when there was one.
            report: Option<TestReport>,
        },
        /// The agent gave the lease back unfinished (its user came back, its policy changed).
        Released {
            /// Why.
            reason: String,
        },
    }

    /// An agent reports a subtask's outcome.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct WorkResult {
        /// The job.
        pub job: MessageId,
        /// The subtask.
        pub subtask: MessageId,
        /// The lease the work was done under.
        pub lease: MessageId,
        /// The attempt.
        pub attempt: u16,
        /// sha256 of the snapshot the work ran on.
        pub snapshot_sha256: Sha256,
        /// The sandbox layers that were active for every run of the subtask.
        pub sandbox: SandboxLayers,
        /// Wall time on the agent, in milliseconds.
        pub elapsed_ms: u64,
        /// How it ended.
        pub outcome: WorkOutcome,
    }

    impl WorkResult {
        /// The result of `work`, run under `sandbox` for `elapsed_ms`: it names the work's job,
        /// subtask, lease, attempt and snapshot, as the coordinator checks them.
        pub fn answering(
            work: &Work,
            sandbox: SandboxLayers,
            elapsed_ms: u64,
            outcome: WorkOutcome,
        ) -> WorkResult {
            WorkResult {
                job: work.job,
                subtask: work.subtask,
                lease: work.lease,
                attempt: work.attempt,
                snapshot_sha256: work.snapshot.sha256,
                sandbox,
                elapsed_ms,
                outcome,
            }
        }
    }

    impl Message for WorkResult {
        const KIND: Kind = Kind::Result;
        const MAX_BODY: usize = 192 * 1024;

        fn validate(&self) -> Result<(), &'static str> {
            if self.attempt == 0 {
                return Err("attempts count from 1");
            }
            let ran_confined = self.sandbox.contains(SandboxLayers::REQUIRED_FOR_WORK);
            if matches!(self.outcome, WorkOutcome::Completed { .. }) && !ran_confined {
                return Err("a completed subtask must have run with every required sandbox layer");
            }
            Ok(())
        }
    }

    /// The coordinator offers an agent a model: a manifest signed offline, retained on the
    /// agent's `manifest` topic so an agent that was away finds the current one on reconnect.
    /// The agent verifies it itself (trusted keys, allowlists) before it downloads anything.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ManifestOffer {
        /// The rollout this offer belongs to; reports name it.
        pub rollout: u64,
        /// The signed manifest, as `edgecoder-sign` made it.
        pub signed: SignedStatement,
    }

    impl Message for ManifestOffer {
        const KIND: Kind = Kind::Manifest;
        const MAX_BODY: usize = 32 * 1024;

        fn validate(&self) -> Result<(), &'static str> {
            if self.signed.statement.is_empty() {
                return Err("an offer carries a signed statement");
            }
            Ok(())
        }
    }

    /// Where an agent's install of an offered model stands.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    pub enum InstallState {
        /// The manifest broke a rule (the code says which); nothing was downloaded or changed.
        Refused,
        /// Its files are being fetched.
        Downloading,
        /// The files are verified and in the inactive slot; the smoke test runs.
        Staged,
        /// The model passed its smoke test and is active.
        Installed,
        /// Something failed (the code says what); the active model is unchanged.
        Failed,
    }

    /// An agent reports an offered model's install: refusals with the reason code, download
    /// progress, the switch to the new slot.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ModelReport {
        /// The rollout of the offer.
        pub rollout: u64,
        /// The model (empty when the manifest could not even be read).
        pub model: String,
        /// Its version (empty when unknown).
        pub version: String,
        /// The manifest's sequence number (0 when unknown).
        pub sequence: u64,
        /// Where it stands.
        pub state: InstallState,
        /// The reason code of a refusal or failure (`bad_signature`, `digest_mismatch`,
        /// `download_failed`, …); empty otherwise.
        pub code: String,
        /// For people: what happened.
        pub message: String,
        /// Bytes fetched so far.
        pub done_bytes: u64,
        /// Bytes of all the model's files.
        pub total_bytes: u64,
        /// Download rate, in bytes per second.
        pub rate_bps: u64,
    }

    impl Message for ModelReport {
        const KIND: Kind = Kind::ModelReport;
        const MAX_BODY: usize = 2048;

        fn validate(&self) -> Result<(), &'static str> {
            let failed = matches!(self.state, InstallState::Refused | InstallState::Failed);
            if failed && self.code.is_empty() {
                return Err("a refusal or failure names its reason code");
            }
            if !failed && !self.code.is_empty() {
                return Err("only a refusal or failure has a reason code");
            }
            if self.done_bytes > self.total_bytes {
                return Err("more bytes done than the total");
            }
            if self.code.len() > 64 || self.model.len() > 128 || self.version.len() > 64 {
                return Err("code, model or version too long");
            }
            Ok(())
        }
    }

    /// Any swarm message, tagged with its kind: what `edgecoder decode` prints, and what a
    /// receiver that reads several topics matches on.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", content = "body", rename_all = "snake_case")]
    pub enum AnyMessage {
        /// See [`Hello`].
        Hello(Box<Hello>),
        /// See [`Heartbeat`].
        Heartbeat(Heartbeat),
        /// See [`Ask`].
        Ask(Ask),
        /// See [`Work`].
        Work(Box<Work>),
        /// See [`WorkResult`].
        Result(Box<WorkResult>),
        /// See [`Policy`].
        Policy(Policy),
        /// See [`Status`].
        Status(Status),
        /// See [`ManifestOffer`].
        Manifest(Box<ManifestOffer>),
        /// See [`ModelReport`].
        Model(Box<ModelReport>),
        /// See [`AgentFeatures`].
        Features(AgentFeatures),
    }

    impl AnyMessage {
        /// Decodes and checks the body of `raw` as the message its kind names.
        pub fn decode(raw: &RawEnvelope<'_>) -> Result<AnyMessage, DecodeError> {
            Ok(match raw.envelope.kind {
                Kind::Hello => AnyMessage::Hello(Box::new(raw.decode_body()?)),
                Kind::Heartbeat => AnyMessage::Heartbeat(raw.decode_body()?),
                Kind::Ask => AnyMessage::Ask(raw.decode_body()?),
                Kind::Work => AnyMessage::Work(Box::new(raw.decode_body()?)),
                Kind::Result => AnyMessage::Result(Box::new(raw.decode_body()?)),
                Kind::Policy => AnyMessage::Policy(raw.decode_body()?),
                Kind::Status => AnyMessage::Status(raw.decode_body()?),
                Kind::Manifest => AnyMessage::Manifest(Box::new(raw.decode_body()?)),
                Kind::ModelReport => AnyMessage::Model(Box::new(raw.decode_body()?)),
                Kind::Features => AnyMessage::Features(raw.decode_body()?),
            })
        }

        /// Encodes the message in an envelope with `header`'s id, sender and time (its kind is
        /// the message's), unsigned.
        pub fn seal(&self, header: &Envelope) -> Result<Vec<u8>, EncodeError> {
            let header = Envelope {
                kind: self.kind(),
                ..header.clone()
            };
            match self {
                AnyMessage::Hello(m) => header.seal(m.as_ref()),
                AnyMessage::Heartbeat(m) => header.seal(m),
                AnyMessage::Ask(m) => header.seal(m),
                AnyMessage::Work(m) => header.seal(m.as_ref()),
                AnyMessage::Result(m) => header.seal(m.as_ref()),
                AnyMessage::Policy(m) => header.seal(m),
                AnyMessage::Status(m) => header.seal(m),
                AnyMessage::Manifest(m) => header.seal(m.as_ref()),
                AnyMessage::Model(m) => header.seal(m.as_ref()),
                AnyMessage::Features(m) => header.seal(m),
            }
        }

        /// Its kind.
        pub fn kind(&self) -> Kind {
            match self {
                AnyMessage::Hello(_) => Kind::Hello,
                AnyMessage::Heartbeat(_) => Kind::Heartbeat,
                AnyMessage::Ask(_) => Kind::Ask,
                AnyMessage::Work(_) => Kind::Work,
                AnyMessage::Result(_) => Kind::Result,
                AnyMessage::Policy(_) => Kind::Policy,
                AnyMessage::Status(_) => Kind::Status,
                AnyMessage::Manifest(_) => Kind::Manifest,
                AnyMessage::Model(_) => Kind::ModelReport,
                AnyMessage::Features(_) => Kind::Features,
            }
        }
    }
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn windows_cover_their_days_and_run_past_midnight() {
        let weekdays_daytime = Window {
            days: 0b001_1111,
            start_minute: 9 * 60,
            end_minute: 17 * 60,
        };
        assert!(weekdays_daytime.contains(0, 9 * 60));
        assert!(
            !weekdays_daytime.contains(0, 17 * 60),
            "the end is exclusive"
        );
        assert!(!weekdays_daytime.contains(5, 12 * 60), "Saturday");
        // Friday 22:00 to Saturday 06:00 (Saturday itself is not a listed day).
        let nights = Window {
            days: 0b001_0000,
            start_minute: 22 * 60,
            end_minute: 6 * 60,
        };
        assert!(nights.contains(4, 23 * 60));
        assert!(
            nights.contains(5, 5 * 60),
            "Saturday early morning belongs to Friday's night"
        );
        assert!(!nights.contains(5, 23 * 60));
        assert!(
            !nights.contains(4, 5 * 60),
            "Friday early morning belongs to Thursday's night"
        );
        // Monday's early morning belongs to Sunday's night.
        let sunday_night = Window {
            days: 1 << 6,
            start_minute: 23 * 60,
            end_minute: 60,
        };
        assert!(sunday_night.contains(0, 30));
    }

    #[test]
    fn a_policy_without_windows_allows_any_time() {
        let mut policy = Policy {
            version: 1,
            enabled: true,
            cpu_cap_percent: 50,
            memory_limit_mb: 256,
            windows: heapless::Vec::new(),
            idle_only: false,
            idle_after_s: 0,
            concurrency: 1,
            backoff_s: 30,
            heartbeat_s: 10,
        };
        assert!(policy.in_window(3, 700));
        policy
            .windows
            .push(Window {
                days: 1,
                start_minute: 0,
                end_minute: 60,
            })
            .unwrap();
        assert!(policy.in_window(0, 59) && !policy.in_window(0, 60) && !policy.in_window(1, 0));
    }

    #[test]
    fn sandbox_layers_name_what_is_missing() {
        let have = SandboxLayers::LANDLOCK.union(SandboxLayers::RLIMITS);
        assert_eq!(have.names().collect::<Vec<_>>(), ["landlock", "rlimits"]);
        assert_eq!(
            have.missing(SandboxLayers::REQUIRED_FOR_WORK)
                .collect::<Vec<_>>(),
            ["seccomp", "no_network", "clean_env"]
        );
        assert!(
            SandboxLayers::REQUIRED_FOR_WORK
                .union(SandboxLayers::CPU_CGROUP)
                .contains(SandboxLayers::REQUIRED_FOR_WORK)
        );
    }
}
