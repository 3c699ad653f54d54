//! The lifecycle rules both stores apply: one place decides what a claim, a report or an
//! expired lease does to a subtask, and which audit record it leaves.

use super::StoreError;
use crate::audit::{Event, Record};
use crate::model::{
    Aggregate, Backoff, Job, JobSpec, JobState, Millis, Report, Settlement, Subtask,
    SubtaskSpec, SubtaskState, concatenate, sha256,
};
use edgecoder_protocol::ids::{AgentId, MessageId};
use std::time::Duration;

/// Checks a submitted job.
pub(crate) fn check_job(spec: &JobSpec) -> Result<(), StoreError> {
    if spec.instruction.trim().is_empty() {
        return Err(StoreError::InvalidJob("the instruction is empty"));
    }
    if spec.tenant.trim().is_empty() {
        return Err(StoreError::InvalidJob("the tenant is empty"));
    }
    if spec.max_attempts == 0 {
        return Err(StoreError::InvalidJob("max_attempts must be at least 1"));
    }
    Ok(())
}

/// An audit record about a job (and maybe a subtask and an agent).
pub(crate) fn record(
    event: Event,
    at: Millis,
    job: MessageId,
    subtask: Option<MessageId>,
    agent: Option<&AgentId>,
    detail: String,
) -> Record {
    Record {
        event,
        at,
        job: Some(job),
        subtask,
        agent: agent.map(|a| a.as_str().to_owned()),
        result_hash: None,
        detail,
    }
}

/// A new subtask's first state.
pub(crate) fn first_state(spec: &SubtaskSpec, now: Millis) -> SubtaskState {
    if spec.deps.is_empty() {
        SubtaskState::Ready { not_before: now }
    } else {
        SubtaskState::Blocked
    }
}

/// Leases a ready subtask.
pub(crate) fn grant(
    subtask: &mut Subtask,
    agent: &AgentId,
    lease: MessageId,
    duration: Duration,
    now: Millis,
) -> Record {
    subtask.attempts += 1;
    let expires = now + duration.as_millis() as u64;
    subtask.state = SubtaskState::Leased {
        lease,
        agent: agent.clone(),
        expires,
    };
    record(
        Event::Assign,
        now,
        subtask.job,
        Some(subtask.spec.id),
        Some(agent),
        format!("attempt {} lease {lease}", subtask.attempts),
    )
}

/// What a report or an expiry did to a subtask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Moved {
    /// It is done with this output.
    Done,
    /// It is ready again (possibly after a backoff).
    Requeued,
    /// It waits for the parent model.
    Escalated,
}

/// Whether `lease` held by `agent` is the subtask's current lease.
pub(crate) fn holds(subtask: &Subtask, lease: MessageId, agent: &AgentId) -> bool {
    matches!(&subtask.state, SubtaskState::Leased { lease: l, agent: a, .. } if *l == lease && a == agent)
}

/// Applies an agent's report to the subtask it holds (the caller checked [`holds`]).
pub(crate) fn apply_report(
    subtask: &mut Subtask,
    job: &Job,
    report: Report,
    agent: &AgentId,
    backoff: &Backoff,
    now: Millis,
) -> (Moved, Record) {
    match report {
        Report::Completed { output } => {
            let result_hash = sha256(output.as_bytes());
            let mut rec = record(
                Event::Complete,
                now,
                subtask.job,
                Some(subtask.spec.id),
                Some(agent),
                format!("attempt {}", subtask.attempts),
            );
            rec.result_hash = Some(result_hash);
            subtask.state = SubtaskState::Done {
                output,
                result_hash,
                by: agent.as_str().to_owned(),
            };
            (Moved::Done, rec)
        }
        Report::Failed { reason } => fail(subtask, job, &reason, Some(agent), backoff, now),
        Report::Released { reason } => {
            subtask.attempts = subtask.attempts.saturating_sub(1);
            subtask.state = SubtaskState::Ready { not_before: now };
            let rec = record(
                Event::Requeue,
                now,
                subtask.job,
                Some(subtask.spec.id),
                Some(agent),
                format!("released by the agent: {reason}"),
            );
            (Moved::Requeued, rec)
        }
    }
}

/// A failed attempt (reported, or an expired lease): retry after a backoff while attempts
/// remain, escalate after the last.
pub(crate) fn fail(
    subtask: &mut Subtask,
    job: &Job,
    reason: &str,
    agent: Option<&AgentId>,
    backoff: &Backoff,
    now: Millis,
) -> (Moved, Record) {
    let reason = format!("attempt {} failed: {reason}", subtask.attempts);
    subtask.last_failure = Some(reason.clone());
    if subtask.attempts >= job.spec.max_attempts {
        subtask.state = SubtaskState::Escalated {
            reason: reason.clone(),
        };
        let rec = record(
            Event::Escalate,
            now,
            subtask.job,
            Some(subtask.spec.id),
            agent,
            reason,
        );
        (Moved::Escalated, rec)
    } else {
        let wait = backoff.after(subtask.attempts).as_millis() as u64;
        subtask.state = SubtaskState::Ready {
            not_before: now + wait,
        };
        let rec = record(
            Event::Requeue,
            now,
            subtask.job,
            Some(subtask.spec.id),
            agent,
            format!("{reason}; retry in {wait} ms"),
        );
        (Moved::Requeued, rec)
    }
}

/// Records the parent model's answer for an escalated subtask.
pub(crate) fn apply_resolution(
    subtask: &mut Subtask,
    answer: Result<String, String>,
    now: Millis,
) -> Result<(Moved, Record), String> {
    match answer {
        Ok(output) => {
            let result_hash = sha256(output.as_bytes());
            let mut rec = record(
                Event::Complete,
                now,
                subtask.job,
                Some(subtask.spec.id),
                None,
                "answered by the parent model".into(),
            );
            rec.result_hash = Some(result_hash);
            subtask.state = SubtaskState::Done {
                output,
                result_hash,
                by: "escalation".into(),
            };
            Ok((Moved::Done, rec))
        }
        Err(reason) => Err(reason),
    }
}

/// Follows a job's last subtask: concatenated outputs end the job; patches wait to be merged.
pub(crate) fn finish(job: &mut Job, outputs: &[(u32, String)], now: Millis) -> Record {
    match job.spec.aggregate {
        Aggregate::Concatenate => done(job, concatenate(outputs), now, "done"),
        Aggregate::MergePatches => {
            job.state = JobState::Merging;
            let detail = format!("merging {} patches", outputs.len());
            record(Event::Merge, now, job.spec.id, None, None, detail)
        }
    }
}

/// Ends a job as done with `result`.
fn done(job: &mut Job, result: String, now: Millis, detail: &str) -> Record {
    let result_hash = sha256(result.as_bytes());
    job.state = JobState::Done {
        result,
        result_hash,
    };
    job.finished = Some(now);
    let mut rec = record(Event::JobEnd, now, job.spec.id, None, None, detail.into());
    rec.result_hash = Some(result_hash);
    rec
}

/// Settles a merging job: a merged or parent-resolved diff ends it, a conflict makes it wait
/// for a person, whose resolution ends a job in conflict.
pub(crate) fn settle(job: &mut Job, settlement: Settlement, now: Millis) -> Result<Record, StoreError> {
    match (&job.state, settlement) {
        (JobState::Merging, Settlement::Merged(diff)) => Ok(done(job, diff, now, "done: patches merged")),
        (JobState::Merging, Settlement::ResolvedByParent(diff)) => {
            Ok(done(job, diff, now, "done: conflict resolved by the parent model"))
        }
        (JobState::Conflict { .. }, Settlement::ResolvedByPerson(diff)) => {
            Ok(done(job, diff, now, "done: conflict resolved by a person"))
        }
        (JobState::Merging, Settlement::Conflict(detail)) => {
            let summary = detail.lines().next().unwrap_or_default().to_owned();
            job.state = JobState::Conflict { detail };
            Ok(record(Event::Merge, now, job.spec.id, None, None, summary))
        }
        (state, _) => Err(StoreError::WrongState {
            job: job.spec.id,
            state: state.name(),
            what: "settling its merge",
            wanted: "merging (or conflict, for a person's resolution)",
        }),
    }
}

/// Ends a job as failed or cancelled.
pub(crate) fn end(job: &mut Job, state: JobState, now: Millis) -> Record {
    let detail = match &state {
        JobState::Failed { reason } => format!("failed: {reason}"),
        other => other.name().to_owned(),
    };
    job.state = state;
    job.finished = Some(now);
    record(Event::JobEnd, now, job.spec.id, None, None, detail)
}
