//! What the coordinator keeps: jobs, their subtasks, leases and how each ended.

use edgecoder_protocol::ids::{AgentId, MessageId, Sha256};
use edgecoder_protocol::run::{Lang, Limits};
use edgecoder_protocol::swarm::{Snapshot, WorkMode};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Milliseconds since the Unix epoch (`edgecoder_protocol::envelope::unix_time_ms`): every
/// time the coordinator stores.
pub type Millis = u64;

/// How the outputs of a job's subtasks become the job's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    /// The outputs in subtask order, separated by a blank line.
    Concatenate,
    /// Every output is a unified diff of the job's snapshot; they are merged three-way into one
    /// diff. Changes that overlap are a conflict the job waits in until a person resolves it.
    MergePatches,
}

impl std::str::FromStr for Aggregate {
    type Err = String;

    fn from_str(text: &str) -> Result<Aggregate, String> {
        match text {
            "concatenate" => Ok(Aggregate::Concatenate),
            "merge_patches" => Ok(Aggregate::MergePatches),
            other => Err(format!(
                "aggregate {other:?}: use `concatenate` or `merge_patches`"
            )),
        }
    }
}

/// A job as a client submits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Chosen by the client: submitting the same id twice creates one job.
    pub id: MessageId,
    /// Whose job it is (fair share is kept across jobs; the tenant is recorded for the audit).
    pub tenant: String,
    /// The language of the code.
    pub lang: Lang,
    /// What the job asks for.
    pub instruction: String,
    /// Tests the whole job's result must pass, when the client gave them.
    pub tests: Option<String>,
    /// The frozen snapshot every subtask runs on.
    pub snapshot: Snapshot,
    /// How results are put together.
    pub aggregate: Aggregate,
    /// How many times a subtask is tried on agents before it is escalated.
    pub max_attempts: u16,
}

/// One subtask of a job, as decomposition produces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskSpec {
    /// Its id (unique within the coordinator).
    pub id: MessageId,
    /// Its place in the job, from 0: the order results are aggregated in.
    pub ordinal: u32,
    /// What to do.
    pub instruction: String,
    /// How much of the agent loop it needs.
    pub mode: WorkMode,
    /// Tests its result must pass.
    pub tests: Option<String>,
    /// Subtasks of the same job whose outputs it needs (they run first; their outputs are
    /// handed to it as context).
    pub deps: Vec<MessageId>,
    /// The model it is best run with; agents that have it loaded get it first.
    pub model: Option<String>,
    /// The executor limits of each run.
    pub limits: Limits,
    /// The snapshot file it edits; its agent answers with a unified diff of the snapshot
    /// (`merge_patches` jobs). `None`: it answers with code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for the inference service to split it into subtasks.
    Decomposing,
    /// Its subtasks are being worked on.
    Running,
    /// Every subtask is done; their patches are being merged (and conflicts, where the
    /// coordinator has an inference service, resolved by the parent model).
    Merging,
    /// The subtasks' patches conflict and the parent model could not resolve them (or there is
    /// none); a person resolves it (`POST /v1/jobs/{id}/resolve`).
    Conflict {
        /// The conflicting files, and each with conflict markers.
        detail: String,
    },
    /// Every subtask is done; the aggregated result is ready.
    Done {
        /// The aggregated result.
        result: String,
        /// sha256 of the result.
        result_hash: Sha256,
    },
    /// It cannot be finished (decomposition failed, or escalation failed).
    Failed {
        /// Why.
        reason: String,
    },
    /// The client cancelled it.
    Cancelled,
}

impl JobState {
    /// Whether the job will not change any more.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            JobState::Done { .. } | JobState::Failed { .. } | JobState::Cancelled
        )
    }

    /// Its name, as stored and shown.
    pub fn name(&self) -> &'static str {
        match self {
            JobState::Decomposing => "decomposing",
            JobState::Running => "running",
            JobState::Merging => "merging",
            JobState::Conflict { .. } => "conflict",
            JobState::Done { .. } => "done",
            JobState::Failed { .. } => "failed",
            JobState::Cancelled => "cancelled",
        }
    }
}

/// How the merge of a job's patches ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The patches merged cleanly into this diff.
    Merged(String),
    /// The parent model resolved the conflicts; this diff is the result.
    ResolvedByParent(String),
    /// The patches conflict: the files with conflict markers (and why the parent model could
    /// not resolve them), for a person.
    Conflict(String),
    /// A person resolved the conflict with this diff.
    ResolvedByPerson(String),
}

/// Where a subtask is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum SubtaskState {
    /// Waiting for subtasks it depends on.
    Blocked,
    /// Can be claimed from this time on (later than now after a failed attempt: backoff).
    Ready {
        /// The earliest time it is handed out.
        not_before: Millis,
    },
    /// An agent holds it.
    Leased {
        /// The lease id the result must name.
        lease: MessageId,
        /// Who holds it.
        agent: AgentId,
        /// When the lease runs out unless renewed.
        expires: Millis,
    },
    /// Agents could not do it within the attempts allowed: waiting for the parent model.
    Escalated {
        /// The last failure.
        reason: String,
    },
    /// It has its result.
    Done {
        /// The output.
        output: String,
        /// sha256 of the output.
        result_hash: Sha256,
        /// Who produced it (an agent id, or `escalation`).
        by: String,
    },
    /// Its job was cancelled or failed before it ran.
    Cancelled,
}

impl SubtaskState {
    /// Its name, as stored and shown.
    pub fn name(&self) -> &'static str {
        match self {
            SubtaskState::Blocked => "blocked",
            SubtaskState::Ready { .. } => "ready",
            SubtaskState::Leased { .. } => "leased",
            SubtaskState::Escalated { .. } => "escalated",
            SubtaskState::Done { .. } => "done",
            SubtaskState::Cancelled => "cancelled",
        }
    }
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// What was submitted.
    pub spec: JobSpec,
    /// Submission order, from 1 (ties in fair share go to the older job).
    pub seq: u64,
    /// Where it is.
    pub state: JobState,
    /// When it was submitted.
    pub submitted: Millis,
    /// When it reached a final state.
    pub finished: Option<Millis>,
}

/// A stored subtask.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subtask {
    /// Its job.
    pub job: MessageId,
    /// Its job's submission order.
    pub job_seq: u64,
    /// What decomposition produced.
    pub spec: SubtaskSpec,
    /// Where it is.
    pub state: SubtaskState,
    /// Attempts handed out so far (leases granted that counted).
    pub attempts: u16,
    /// Why the last attempt failed, when one did.
    pub last_failure: Option<String>,
}

/// A subtask handed to an agent under a lease: everything the `Work` message needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The job.
    pub job: MessageId,
    /// The subtask.
    pub subtask: SubtaskSpec,
    /// The lease.
    pub lease: MessageId,
    /// When the lease runs out.
    pub expires: Millis,
    /// Which attempt, from 1.
    pub attempt: u16,
    /// The job's language.
    pub lang: Lang,
    /// The job's snapshot.
    pub snapshot: Snapshot,
    /// Outputs of the subtasks it depends on, in their order: (ordinal, instruction, output).
    pub context: Vec<(u32, String, String)>,
}

/// What an agent says about a lease it held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// It finished with this output.
    Completed {
        /// The output.
        output: String,
    },
    /// It failed; the coordinator retries with backoff, then escalates.
    Failed {
        /// Why.
        reason: String,
    },
    /// It gave the lease back unfinished; the attempt does not count.
    Released {
        /// Why.
        reason: String,
    },
}

/// What happened to a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// It was recorded; `job_done` when it finished its job.
    Recorded {
        /// Whether the job is now done.
        job_done: bool,
    },
    /// The lease is not current (it expired and the subtask was handed out again, or the
    /// result was already recorded): nothing changed.
    Stale,
}

/// Retry timing for failed attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait after the first failure.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            first: Duration::from_millis(500),
            max: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait before attempt `attempts + 1` after `attempts` failures (doubling).
    pub fn after(&self, attempts: u16) -> Duration {
        let factor = 1u32 << attempts.saturating_sub(1).min(16);
        self.first.saturating_mul(factor).min(self.max)
    }
}

/// A subtask as shown in a job's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubtaskView {
    /// Its id.
    pub id: MessageId,
    /// Its place in the job.
    pub ordinal: u32,
    /// Its state name.
    pub state: String,
    /// Attempts so far.
    pub attempts: u16,
    /// Its output, when done.
    pub output: Option<String>,
    /// The last failure, when there was one.
    pub last_failure: Option<String>,
    /// The agent holding its lease while leased; who produced it when done (an agent id, or
    /// `escalation`).
    #[serde(default)]
    pub agent: Option<String>,
}

/// A job with its subtasks, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobView {
    /// The job.
    pub job: Job,
    /// Its subtasks in order.
    pub subtasks: Vec<SubtaskView>,
}

/// Why decomposition output cannot become a job's subtasks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// No subtasks.
    #[error("a job needs at least one subtask")]
    Empty,
    /// Two subtasks share an id or an ordinal.
    #[error("subtask {0} appears twice (ids and ordinals must be unique)")]
    Duplicate(String),
    /// A dependency names no subtask of the job.
    #[error("subtask {subtask} depends on {missing}, which is not a subtask of this job")]
    UnknownDependency {
        /// The subtask.
        subtask: String,
        /// The missing dependency.
        missing: String,
    },
    /// A subtask names the same dependency twice.
    #[error("subtask {subtask} names dependency {dependency} twice")]
    RepeatedDependency {
        /// The subtask.
        subtask: String,
        /// The repeated dependency.
        dependency: String,
    },
    /// The dependencies form a cycle.
    #[error("the dependencies of subtasks {0} form a cycle")]
    Cycle(String),
    /// A subtask has no instruction.
    #[error("subtask {0} has an empty instruction")]
    EmptyInstruction(String),
    /// A subtask names a file that is not a path inside the snapshot.
    #[error("subtask {subtask} edits {file:?}: {reason}")]
    BadFile {
        /// The subtask.
        subtask: String,
        /// The path it names.
        file: String,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Checks that subtasks form a DAG with unique ids and ordinals.
pub fn check_plan(subtasks: &[SubtaskSpec]) -> Result<(), PlanError> {
    use std::collections::{HashMap, HashSet};
    if subtasks.is_empty() {
        return Err(PlanError::Empty);
    }
    let mut ids = HashMap::new();
    let mut ordinals = HashSet::new();
    for (index, s) in subtasks.iter().enumerate() {
        if ids.insert(s.id, index).is_some() || !ordinals.insert(s.ordinal) {
            return Err(PlanError::Duplicate(s.id.to_string()));
        }
        if s.instruction.trim().is_empty() {
            return Err(PlanError::EmptyInstruction(s.id.to_string()));
        }
        if let Some(file) = &s.file {
            edgecoder_protocol::swarm::check_snapshot_path(file).map_err(|reason| PlanError::BadFile {
                subtask: s.id.to_string(),
                file: file.clone(),
                reason,
            })?;
        }
    }
    for s in subtasks {
        for (k, dep) in s.deps.iter().enumerate() {
            if s.deps[..k].contains(dep) {
                return Err(PlanError::RepeatedDependency {
                    subtask: s.id.to_string(),
                    dependency: dep.to_string(),
                });
            }
            if !ids.contains_key(dep) || *dep == s.id {
                return Err(PlanError::UnknownDependency {
                    subtask: s.id.to_string(),
                    missing: dep.to_string(),
                });
            }
        }
    }
    // Kahn's algorithm over a dependents list (linear in subtasks + edges): whatever is left
    // unsorted sits on a cycle.
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); subtasks.len()];
    for (j, s) in subtasks.iter().enumerate() {
        for dep in &s.deps {
            dependents[ids[dep]].push(j);
        }
    }
    let mut waiting: Vec<usize> = subtasks.iter().map(|s| s.deps.len()).collect();
    let mut ready: Vec<usize> = (0..subtasks.len()).filter(|&i| waiting[i] == 0).collect();
    let mut sorted = 0;
    while let Some(i) = ready.pop() {
        sorted += 1;
        for &j in &dependents[i] {
            waiting[j] -= 1;
            if waiting[j] == 0 {
                ready.push(j);
            }
        }
    }
    if sorted < subtasks.len() {
        let on_cycle: Vec<String> = (0..subtasks.len())
            .filter(|&i| waiting[i] > 0)
            .map(|i| subtasks[i].ordinal.to_string())
            .collect();
        return Err(PlanError::Cycle(on_cycle.join(", ")));
    }
    Ok(())
}

/// The outputs of a job's subtasks in subtask order, separated by a blank line.
pub fn concatenate(outputs: &[(u32, String)]) -> String {
    let mut sorted: Vec<&(u32, String)> = outputs.iter().collect();
    sorted.sort_by_key(|(ordinal, _)| *ordinal);
    sorted
        .iter()
        .map(|(_, text)| text.trim_end())
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// sha256 of some text.
pub fn sha256(text: &[u8]) -> Sha256 {
    use sha2::Digest;
    Sha256(sha2::Sha256::digest(text).into())
}
