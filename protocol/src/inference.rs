//! The inference service's HTTP API, which the coordinator calls to split a job into subtasks
//! to ask the larger (parent) model for a subtask agents could not do, and to have it resolve
//! patches that conflict. JSON over HTTP.

use crate::ids::MessageId;
use crate::run::Lang;
use crate::swarm::WorkMode;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

/// `POST /v1/decompose`: split a job into subtasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecomposeRequest {
    /// The job.
    pub job: MessageId,
    /// Its language.
    pub lang: Lang,
    /// What the job asks for.
    pub instruction: String,
    /// The job's tests, when it has them.
    pub tests: Option<String>,
    /// Most subtasks wanted.
    pub max_subtasks: u16,
    /// For a job whose subtasks answer with patches (`merge_patches`): the snapshot's text
    /// files, and each subtask must name the one file it edits (one of these, or a new one).
    /// Empty: the subtasks answer with code.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// One subtask in a decomposition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedSubtask {
    /// What to do.
    pub instruction: String,
    /// How much of the agent loop it needs.
    pub mode: WorkMode,
    /// Tests its result must pass.
    #[serde(default)]
    pub tests: Option<String>,
    /// Positions (from 0) of earlier subtasks in the list whose outputs it needs.
    #[serde(default)]
    pub after: Vec<u16>,
    /// The model it is best run with.
    #[serde(default)]
    pub model: Option<String>,
    /// The snapshot file it edits (relative to the snapshot's root; new when the snapshot has
    /// none): the agent answers with a unified diff of that file, for `merge_patches` jobs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// The answer to a [`DecomposeRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecomposeResponse {
    /// The subtasks in order.
    pub subtasks: Vec<PlannedSubtask>,
}

/// `POST /v1/escalate`: the parent model does a subtask the agents could not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalateRequest {
    /// The job.
    pub job: MessageId,
    /// The subtask.
    pub subtask: MessageId,
    /// The language.
    pub lang: Lang,
    /// What the whole job asks for.
    pub job_instruction: String,
    /// What the subtask asks for.
    pub instruction: String,
    /// Tests its result must pass.
    pub tests: Option<String>,
    /// How the last attempt on an agent failed.
    pub failure: String,
    /// The snapshot file the subtask edits, when it edits one: the answer is then the file's
    /// whole new content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<EditedFile>,
}

/// A file a subtask edits, as its job's snapshot has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EditedFile {
    /// Its path, relative to the snapshot's root.
    pub path: String,
    /// Its content; `None` when the subtask creates it.
    pub content: Option<String>,
}

/// The answer to an [`EscalateRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalateResponse {
    /// The subtask's output.
    pub output: String,
}

/// One file whose patches conflict, as the parent model is asked to resolve it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConflictedFile {
    /// Its path in the job's snapshot.
    pub path: String,
    /// Its content in the snapshot (empty when the patches create it).
    pub original: String,
    /// Its merged content, each pair of changes that overlap between conflict markers.
    pub marked: String,
}

/// `POST /v1/resolve`: the parent model merges patches of a job that conflict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveRequest {
    /// The job.
    pub job: MessageId,
    /// The job's language.
    pub lang: Lang,
    /// What the whole job asks for (the intent both changes serve).
    pub job_instruction: String,
    /// The job's tests, run against a resolved file of the job's language when there is one
    /// such file.
    pub tests: Option<String>,
    /// The conflicting files.
    pub files: Vec<ConflictedFile>,
}

/// A file's content after the parent model resolved its conflicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedFile {
    /// Its path in the job's snapshot.
    pub path: String,
    /// Its whole new content, without conflict markers.
    pub content: String,
}

/// The answer to a [`ResolveRequest`]: every file of the request, resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolveResponse {
    /// The resolved files, in the request's order.
    pub files: Vec<ResolvedFile>,
}

/// Whether `text` has a line that is a conflict marker (`<<<<<<<`, `|||||||`, `>>>>>>>` at
/// its start, or `=======` alone): a file still waiting for its conflicts to be resolved.
pub fn has_conflict_markers(text: &str) -> bool {
    text.lines().any(|line| {
        line.starts_with("<<<<<<<")
            || line.starts_with(">>>>>>>")
            || line.starts_with("|||||||")
            || line.trim_end() == "======="
    })
}

/// An error answer from the inference service (any non-2xx status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorResponse {
    /// What went wrong, with what to do about it.
    pub error: String,
}
