//! The durable queue behind the coordinator, with two backends that behave the same:
//! [`Embedded`] (one coordinator, a redb file) and [`Postgres`] (several stateless coordinators
//! behind a load balancer, claims with `FOR UPDATE SKIP LOCKED`).
//!
//! Every change and its audit entries are written in one transaction before the call returns,
//! so whatever a caller was told survives a crash of the coordinator.

mod core;
mod embedded;
mod postgres;
mod rules;

pub use embedded::Embedded;
pub use postgres::Postgres;

use crate::audit::{Broken, Entry, Head};
use crate::model::{
    Accepted, Assignment, Job, JobSpec, JobView, Millis, PlanError, Report, Settlement,
    SubtaskSpec,
};
use edgecoder_protocol::ids::{AgentId, MessageId};
use std::time::Duration;

/// Why a store call failed. Nothing was changed when one is returned.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No job has this id.
    #[error("no job {0}")]
    NoJob(MessageId),
    /// A job with this id exists with different content.
    #[error("job {0} exists with a different specification: choose a new id for a new job")]
    Conflict(MessageId),
    /// The job is not in a state that allows the call.
    #[error("job {job} is {state}: {what} needs it to be {wanted}")]
    WrongState {
        /// The job.
        job: MessageId,
        /// Its state.
        state: &'static str,
        /// The call.
        what: &'static str,
        /// The state it needs.
        wanted: &'static str,
    },
    /// A subtask id is taken by another job.
    #[error("subtask id {0} is already used")]
    SubtaskTaken(MessageId),
    /// The subtasks do not form a valid plan.
    #[error("invalid decomposition: {0}")]
    Plan(#[from] PlanError),
    /// The job specification is not valid.
    #[error("invalid job: {0}")]
    InvalidJob(&'static str),
    /// The backend failed (disk, database, connection).
    #[error("store backend: {0}")]
    Backend(String),
}

/// Queue sizes, for the dashboard and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Jobs waiting for decomposition.
    pub decomposing: u64,
    /// Jobs running.
    pub running: u64,
    /// Jobs done.
    pub done: u64,
    /// Subtasks that can be handed out (now or after their backoff).
    pub ready: u64,
    /// Subtasks held by agents.
    pub leased: u64,
    /// Subtasks finished.
    pub finished: u64,
    /// Subtasks waiting for the parent model.
    pub escalated: u64,
}

/// The queue's operations. Times are passed in, so tests and the benchmark control the clock.
#[async_trait::async_trait]
pub trait Store: Send + Sync {
    /// Records a job, waiting for decomposition; `Ok(false)` when this exact job exists
    /// already (submitting is idempotent).
    async fn submit(&self, spec: JobSpec, now: Millis) -> Result<bool, StoreError>;

    /// Jobs waiting for decomposition, oldest first.
    async fn to_decompose(&self, limit: usize) -> Result<Vec<Job>, StoreError>;

    /// Gives a decomposing job its subtasks (a DAG); the job starts running.
    async fn plan(
        &self,
        job: MessageId,
        subtasks: Vec<SubtaskSpec>,
        now: Millis,
    ) -> Result<(), StoreError>;

    /// Ends a job that cannot be finished (decomposition or escalation failed).
    async fn fail_job(&self, job: MessageId, reason: &str, now: Millis) -> Result<(), StoreError>;

    /// Jobs whose patches wait to be merged, oldest first.
    async fn to_merge(&self, limit: usize) -> Result<Vec<Job>, StoreError>;

    /// Settles a merging job: a merged or parent-resolved diff ends it as done, a conflict
    /// leaves it in `conflict` for a person, whose resolution ends it.
    async fn settle(
        &self,
        job: MessageId,
        settlement: Settlement,
        now: Millis,
    ) -> Result<(), StoreError>;

    /// Leases up to `slots` ready subtasks to an agent, never letting it hold more than `limit`
    /// at once (the leases it holds already count): those its loaded models suit first, then
    /// round-robin across jobs (each job's next subtask before any job's one after).
    async fn claim(
        &self,
        agent: &AgentId,
        models: &[String],
        slots: usize,
        limit: usize,
        lease: Duration,
        now: Millis,
    ) -> Result<Vec<Assignment>, StoreError>;

    /// Extends every lease the agent holds to `now + lease` (its heartbeat) when it says it is
    /// `running` work; returns how many. An agent running nothing holds no live lease: leases
    /// whose work or result was lost on the way (a broker restart) are left to expire and be
    /// handed out again.
    async fn renew(
        &self,
        agent: &AgentId,
        running: usize,
        lease: Duration,
        now: Millis,
    ) -> Result<usize, StoreError>;

    /// Records what an agent says about a lease. A report on a lease that is not current
    /// (expired and handed out again, already reported, another agent's) changes nothing.
    async fn report(
        &self,
        lease: MessageId,
        agent: &AgentId,
        report: Report,
        now: Millis,
    ) -> Result<Accepted, StoreError>;

    /// Requeues every subtask whose lease ran out before `now`; returns how many.
    async fn expire(&self, now: Millis) -> Result<usize, StoreError>;

    /// Subtasks waiting for the parent model, with their job, oldest job first.
    async fn escalated(&self, limit: usize) -> Result<Vec<(Job, SubtaskSpec, String)>, StoreError>;

    /// Records the parent model's answer for an escalated subtask (`Err`: the job fails).
    async fn resolve(
        &self,
        subtask: MessageId,
        answer: Result<String, String>,
        now: Millis,
    ) -> Result<Accepted, StoreError>;

    /// Cancels a job that is not final; `Ok(false)` when it was final already.
    async fn cancel(&self, job: MessageId, now: Millis) -> Result<bool, StoreError>;

    /// A job without its subtasks (cheap, for checks on every result).
    async fn job_only(&self, job: MessageId) -> Result<Option<Job>, StoreError>;

    /// A job and its subtasks.
    async fn job(&self, job: MessageId) -> Result<Option<JobView>, StoreError>;

    /// The newest jobs, newest first, at most `limit` (without their subtasks).
    async fn recent_jobs(&self, limit: usize) -> Result<Vec<Job>, StoreError>;

    /// Queue sizes.
    async fn counts(&self) -> Result<Counts, StoreError>;

    /// Audit entries after `after`, in order, at most `limit`.
    async fn audit(&self, after: u64, limit: usize) -> Result<Vec<Entry>, StoreError>;

    /// Audit entries before `before` (`u64::MAX`: from the end), newest first, at most `limit`:
    /// reading a long log from its end.
    async fn audit_before(&self, before: u64, limit: usize) -> Result<Vec<Entry>, StoreError>;

    /// Appends a record that concerns no queue change (a policy change).
    async fn note(&self, record: crate::audit::Record) -> Result<(), StoreError>;
}

/// Reads the whole audit log through a store and checks its chain.
pub async fn verify_audit(store: &dyn Store) -> Result<Result<Head, Broken>, StoreError> {
    let mut entries = Vec::new();
    let mut after = 0;
    loop {
        let page = store.audit(after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        entries.extend(page);
    }
    Ok(crate::audit::verify(entries))
}
