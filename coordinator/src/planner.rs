//! Decomposition, escalation and conflict resolution: the coordinator asks the inference
//! service, over HTTP, to split a job into subtasks, to do a subtask the agents could not, and
//! to resolve patches that conflict.

use crate::model::{Job, SubtaskSpec};
use edgecoder_protocol::ids::MessageId;
use edgecoder_protocol::inference::{
    EditedFile,
    ConflictedFile, DecomposeRequest, DecomposeResponse, ErrorResponse, EscalateRequest,
    EscalateResponse, ResolveRequest, ResolveResponse, ResolvedFile,
};
use edgecoder_protocol::run::Limits;
use std::time::Duration;

/// Why the planner could not answer.
#[derive(Debug, thiserror::Error)]
pub enum PlannerError {
    /// The service could not be reached or did not answer in time.
    #[error("the inference service at {url} cannot be reached: {message}")]
    Unreachable {
        /// Its URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The service answered, but is overloaded or failing (HTTP 429 or 5xx).
    #[error("the inference service at {url} is unavailable ({status}): {message}")]
    Unavailable {
        /// Its URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// Its message.
        message: String,
    },
    /// The service answered with an error about the request itself.
    #[error("the inference service refused: {0}")]
    Refused(String),
    /// The answer is not a valid plan.
    #[error("the inference service's answer is not a valid plan: {0}")]
    Invalid(String),
}

impl PlannerError {
    /// Whether asking again later may succeed (the service is down or overloaded), as opposed
    /// to an answer about the job itself.
    pub fn is_transient(&self) -> bool {
        matches!(self, PlannerError::Unreachable { .. } | PlannerError::Unavailable { .. })
    }
}

/// What splits jobs and answers escalations.
#[async_trait::async_trait]
pub trait Planner: Send + Sync {
    /// Splits a job into subtasks (a DAG). `files` are the snapshot's text files when the
    /// job's subtasks answer with patches (each subtask then names the file it edits), else
    /// empty.
    async fn decompose(&self, job: &Job, files: &[String]) -> Result<Vec<SubtaskSpec>, PlannerError>;

    /// Does a subtask the agents could not; `failure` is how the last attempt failed.
    /// `file` is the snapshot file the subtask edits, as the snapshot has it; the answer is
    /// then that file's whole new content.
    async fn escalate(
        &self,
        job: &Job,
        subtask: &SubtaskSpec,
        failure: &str,
        file: Option<&EditedFile>,
    ) -> Result<String, PlannerError>;

    /// Resolves the files whose patches conflict: each one's whole new content.
    async fn resolve(
        &self,
        job: &Job,
        files: &[ConflictedFile],
    ) -> Result<Vec<ResolvedFile>, PlannerError>;
}

/// The inference service's HTTP client.
pub struct InferenceClient {
    base: String,
    http: reqwest::Client,
    /// Most subtasks asked for per job.
    pub max_subtasks: u16,
    /// Executor limits given to every subtask.
    pub limits: Limits,
}

impl InferenceClient {
    /// A client for the service at `base` (e.g. `http://127.0.0.1:8090`).
    pub fn new(base: &str, timeout: Duration) -> InferenceClient {
        InferenceClient {
            base: base.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .timeout(timeout)
                .build()
                .expect("an HTTP client with a timeout builds"),
            max_subtasks: 16,
            limits: Limits::default(),
        }
    }

    async fn call<Q: serde::Serialize, A: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        request: &Q,
    ) -> Result<A, PlannerError> {
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .post(&url)
            .json(request)
            .send()
            .await
            .map_err(|e| PlannerError::Unreachable {
                url: url.clone(),
                message: e.to_string(),
            })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| PlannerError::Unreachable {
                url: url.clone(),
                message: e.to_string(),
            })?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorResponse>(&body)
                .map(|e| e.error)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
            if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                return Err(PlannerError::Unavailable { url, status: status.as_u16(), message });
            }
            return Err(PlannerError::Refused(format!("{status}: {message}")));
        }
        serde_json::from_slice(&body).map_err(|e| PlannerError::Invalid(e.to_string()))
    }
}

/// The id of subtask `ordinal` of `job`: the same for the same job and place, so a plan given
/// twice (a retried submit, a second coordinator) names the same subtasks.
pub fn subtask_id(job: MessageId, ordinal: u32) -> MessageId {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(b"edgecoder subtask\0")
        .chain_update(job.0)
        .chain_update(ordinal.to_le_bytes())
        .finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    MessageId(id)
}

/// Turns a decomposition of `job` into subtasks; positions become dependencies.
pub fn subtasks_from(
    job: MessageId,
    answer: DecomposeResponse,
    limits: Limits,
) -> Result<Vec<SubtaskSpec>, PlannerError> {
    let ids: Vec<_> = (0..answer.subtasks.len()).map(|i| subtask_id(job, i as u32)).collect();
    answer
        .subtasks
        .into_iter()
        .enumerate()
        .map(|(i, planned)| {
            let deps = planned
                .after
                .iter()
                .map(|&p| {
                    ids.get(p as usize)
                        .filter(|_| (p as usize) < i)
                        .copied()
                        .ok_or_else(|| {
                            PlannerError::Invalid(format!(
                                "subtask {i} depends on {p}, which is not an earlier subtask"
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(SubtaskSpec {
                id: ids[i],
                ordinal: i as u32,
                instruction: planned.instruction,
                mode: planned.mode,
                tests: planned.tests,
                deps,
                model: planned.model,
                limits: limits.clone(),
                file: planned.file,
            })
        })
        .collect()
}

#[async_trait::async_trait]
impl Planner for InferenceClient {
    async fn decompose(&self, job: &Job, files: &[String]) -> Result<Vec<SubtaskSpec>, PlannerError> {
        let request = DecomposeRequest {
            job: job.spec.id,
            lang: job.spec.lang,
            instruction: job.spec.instruction.clone(),
            tests: job.spec.tests.clone(),
            max_subtasks: self.max_subtasks,
            files: files.to_vec(),
        };
        let answer: DecomposeResponse = self.call("/v1/decompose", &request).await?;
        if answer.subtasks.is_empty() || answer.subtasks.len() > self.max_subtasks as usize {
            return Err(PlannerError::Invalid(format!(
                "{} subtasks; 1 to {} were asked for",
                answer.subtasks.len(),
                self.max_subtasks
            )));
        }
        if !files.is_empty() && let Some(i) = answer.subtasks.iter().position(|s| s.file.is_none()) {
            return Err(PlannerError::Invalid(format!(
                "subtask {i} names no file, and every subtask of a merge_patches job edits one"
            )));
        }
        subtasks_from(job.spec.id, answer, self.limits.clone())
    }

    async fn escalate(
        &self,
        job: &Job,
        subtask: &SubtaskSpec,
        failure: &str,
        file: Option<&EditedFile>,
    ) -> Result<String, PlannerError> {
        let request = EscalateRequest {
            job: job.spec.id,
            subtask: subtask.id,
            lang: job.spec.lang,
            job_instruction: job.spec.instruction.clone(),
            instruction: subtask.instruction.clone(),
            tests: subtask.tests.clone(),
            failure: failure.to_owned(),
            file: file.cloned(),
        };
        let answer: EscalateResponse = self.call("/v1/escalate", &request).await?;
        Ok(answer.output)
    }

    async fn resolve(
        &self,
        job: &Job,
        files: &[ConflictedFile],
    ) -> Result<Vec<ResolvedFile>, PlannerError> {
        let request = ResolveRequest {
            job: job.spec.id,
            lang: job.spec.lang,
            job_instruction: job.spec.instruction.clone(),
            tests: job.spec.tests.clone(),
            files: files.to_vec(),
        };
        let answer: ResolveResponse = self.call("/v1/resolve", &request).await?;
        let answered: Vec<&str> = answer.files.iter().map(|f| f.path.as_str()).collect();
        let asked: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        if answered != asked {
            return Err(PlannerError::Invalid(format!(
                "resolved {answered:?}; {asked:?} were asked for"
            )));
        }
        Ok(answer.files)
    }
}
