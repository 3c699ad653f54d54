//! Decomposition and escalation: the coordinator asks the inference service, over HTTP, to
//! split a job into subtasks and to do a subtask the agents could not.

use crate::model::{Job, SubtaskSpec, random_id};
use edgecoder_protocol::inference::{
    DecomposeRequest, DecomposeResponse, ErrorResponse, EscalateRequest, EscalateResponse,
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
    /// The service answered with an error.
    #[error("the inference service refused: {0}")]
    Refused(String),
    /// The answer is not a valid plan.
    #[error("the inference service's answer is not a valid plan: {0}")]
    Invalid(String),
}

/// What splits jobs and answers escalations.
#[async_trait::async_trait]
pub trait Planner: Send + Sync {
    /// Splits a job into subtasks (a DAG).
    async fn decompose(&self, job: &Job) -> Result<Vec<SubtaskSpec>, PlannerError>;

    /// Does a subtask the agents could not; `failure` is how the last attempt failed.
    async fn escalate(
        &self,
        job: &Job,
        subtask: &SubtaskSpec,
        failure: &str,
    ) -> Result<String, PlannerError>;
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
            return Err(PlannerError::Refused(format!("{status}: {message}")));
        }
        serde_json::from_slice(&body).map_err(|e| PlannerError::Invalid(e.to_string()))
    }
}

/// Turns a decomposition answer into subtasks with fresh ids; positions become dependencies.
pub fn subtasks_from(
    answer: DecomposeResponse,
    limits: Limits,
) -> Result<Vec<SubtaskSpec>, PlannerError> {
    let ids: Vec<_> = answer.subtasks.iter().map(|_| random_id()).collect();
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
            })
        })
        .collect()
}

#[async_trait::async_trait]
impl Planner for InferenceClient {
    async fn decompose(&self, job: &Job) -> Result<Vec<SubtaskSpec>, PlannerError> {
        let request = DecomposeRequest {
            job: job.spec.id,
            lang: job.spec.lang,
            instruction: job.spec.instruction.clone(),
            tests: job.spec.tests.clone(),
            max_subtasks: self.max_subtasks,
        };
        let answer: DecomposeResponse = self.call("/v1/decompose", &request).await?;
        if answer.subtasks.is_empty() || answer.subtasks.len() > self.max_subtasks as usize {
            return Err(PlannerError::Invalid(format!(
                "{} subtasks; 1 to {} were asked for",
                answer.subtasks.len(),
                self.max_subtasks
            )));
        }
        subtasks_from(answer, self.limits.clone())
    }

    async fn escalate(
        &self,
        job: &Job,
        subtask: &SubtaskSpec,
        failure: &str,
    ) -> Result<String, PlannerError> {
        let request = EscalateRequest {
            job: job.spec.id,
            subtask: subtask.id,
            lang: job.spec.lang,
            job_instruction: job.spec.instruction.clone(),
            instruction: subtask.instruction.clone(),
            tests: subtask.tests.clone(),
            failure: failure.to_owned(),
        };
        let answer: EscalateResponse = self.call("/v1/escalate", &request).await?;
        Ok(answer.output)
    }
}
