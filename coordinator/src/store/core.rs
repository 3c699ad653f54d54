//! The embedded store's state in memory, with the indexes a claim needs. Every change returns
//! the rows and audit entries it touched, which the embedded store writes before answering.

use super::rules::{self, Moved};
use super::{Counts, StoreError};
use crate::audit::{Entry, Event, Head, Record};
use crate::model::{
    Accepted, Assignment, Backoff, Job, JobSpec, JobState, JobView, Millis, Report, Settlement,
    Subtask, SubtaskSpec, SubtaskState, SubtaskView, check_plan,
};
use edgecoder_protocol::ids::{AgentId, MessageId};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

/// How many ready subtasks a claim looks at when it prefers those suiting the agent's models.
const MODEL_LOOKAHEAD: usize = 64;

/// Rows and audit entries a change touched.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub(crate) jobs: Vec<Job>,
    pub(crate) subtasks: Vec<Subtask>,
    pub(crate) audit: Vec<Entry>,
}

/// The queue in memory.
#[derive(Default)]
pub(crate) struct Core {
    jobs: HashMap<MessageId, Job>,
    subtasks: HashMap<MessageId, Subtask>,
    /// Each job's subtasks in ordinal order.
    by_job: HashMap<MessageId, Vec<MessageId>>,
    /// Subtasks that depend on each subtask.
    dependents: HashMap<MessageId, Vec<MessageId>>,
    /// Unfinished dependencies of each blocked subtask.
    waiting: HashMap<MessageId, usize>,
    /// Subtasks not finished per running job.
    remaining: HashMap<MessageId, usize>,
    /// Claimable now: (ordinal, job seq, id) — round-robin across jobs.
    ready: BTreeSet<(u32, u64, MessageId)>,
    /// Claimable later: (not before, id).
    delayed: BTreeSet<(Millis, MessageId)>,
    /// Current leases: lease → subtask.
    leases: HashMap<MessageId, MessageId>,
    /// Lease expiries: (expires, lease).
    expiries: BTreeSet<(Millis, MessageId)>,
    /// Leases per agent.
    held: HashMap<AgentId, HashSet<MessageId>>,
    decomposing: BTreeSet<(u64, MessageId)>,
    merging: BTreeSet<(u64, MessageId)>,
    escalated: BTreeSet<(u64, MessageId)>,
    next_seq: u64,
    head: Head,
    backoff: Backoff,
}

impl Core {
    /// An empty queue whose audit chain continues from `head`.
    pub(crate) fn new(backoff: Backoff, head: Head) -> Core {
        Core {
            backoff,
            head,
            next_seq: 1,
            ..Core::default()
        }
    }

    /// Rebuilds the queue from stored rows.
    pub(crate) fn load(&mut self, jobs: Vec<Job>, subtasks: Vec<Subtask>) {
        for job in jobs {
            self.next_seq = self.next_seq.max(job.seq + 1);
            match job.state {
                JobState::Decomposing => {
                    self.decomposing.insert((job.seq, job.spec.id));
                }
                JobState::Merging => {
                    self.merging.insert((job.seq, job.spec.id));
                }
                _ => {}
            }
            self.jobs.insert(job.spec.id, job);
        }
        let mut sorted = subtasks;
        sorted.sort_by_key(|s| (s.job_seq, s.spec.ordinal));
        let done: HashSet<MessageId> = sorted
            .iter()
            .filter(|s| matches!(s.state, SubtaskState::Done { .. }))
            .map(|s| s.spec.id)
            .collect();
        for subtask in sorted {
            let id = subtask.spec.id;
            self.by_job.entry(subtask.job).or_default().push(id);
            for dep in &subtask.spec.deps {
                self.dependents.entry(*dep).or_default().push(id);
            }
            if !matches!(
                subtask.state,
                SubtaskState::Done { .. } | SubtaskState::Cancelled
            ) {
                *self.remaining.entry(subtask.job).or_default() += 1;
            }
            if subtask.state == SubtaskState::Blocked {
                let open = subtask
                    .spec
                    .deps
                    .iter()
                    .filter(|d| !done.contains(d))
                    .count();
                self.waiting.insert(id, open);
            }
            self.index(&subtask);
            self.subtasks.insert(id, subtask);
        }
    }

    /// Adds a subtask to the index its state belongs in.
    fn index(&mut self, subtask: &Subtask) {
        let id = subtask.spec.id;
        match &subtask.state {
            SubtaskState::Ready { not_before } => {
                self.delayed.insert((*not_before, id));
            }
            SubtaskState::Leased {
                lease,
                agent,
                expires,
            } => {
                self.leases.insert(*lease, id);
                self.expiries.insert((*expires, *lease));
                self.held.entry(agent.clone()).or_default().insert(*lease);
            }
            SubtaskState::Escalated { .. } => {
                self.escalated.insert((subtask.job_seq, id));
            }
            SubtaskState::Blocked | SubtaskState::Done { .. } | SubtaskState::Cancelled => {}
        }
    }

    /// Removes a subtask from the index of its current state.
    fn unindex(&mut self, subtask: &Subtask) {
        let id = subtask.spec.id;
        match &subtask.state {
            SubtaskState::Ready { not_before } => {
                self.delayed.remove(&(*not_before, id));
                self.ready
                    .remove(&(subtask.spec.ordinal, subtask.job_seq, id));
            }
            SubtaskState::Leased {
                lease,
                agent,
                expires,
            } => {
                self.leases.remove(lease);
                self.expiries.remove(&(*expires, *lease));
                if let Some(set) = self.held.get_mut(agent) {
                    set.remove(lease);
                    if set.is_empty() {
                        self.held.remove(agent);
                    }
                }
            }
            SubtaskState::Escalated { .. } => {
                self.escalated.remove(&(subtask.job_seq, id));
            }
            SubtaskState::Blocked | SubtaskState::Done { .. } | SubtaskState::Cancelled => {}
        }
    }

    /// Moves delayed subtasks whose time has come into the ready set.
    fn promote(&mut self, now: Millis) {
        while let Some(&(at, id)) = self.delayed.first() {
            if at > now {
                break;
            }
            self.delayed.pop_first();
            if let Some(s) = self.subtasks.get(&id) {
                self.ready.insert((s.spec.ordinal, s.job_seq, id));
            }
        }
    }

    /// Changes a subtask with `change`, keeping the indexes right; returns its new row.
    fn update<T>(&mut self, id: MessageId, change: impl FnOnce(&mut Subtask) -> T) -> (T, Subtask) {
        let mut subtask = self.subtasks.remove(&id).expect("indexed subtasks exist");
        self.unindex(&subtask);
        let out = change(&mut subtask);
        self.index(&subtask);
        let row = subtask.clone();
        self.subtasks.insert(id, subtask);
        (out, row)
    }

    fn audit(&mut self, changes: &mut Changes, record: Record) {
        changes.audit.push(self.head.append(record));
    }

    pub(crate) fn submit(
        &mut self,
        spec: JobSpec,
        now: Millis,
    ) -> Result<(bool, Changes), StoreError> {
        rules::check_job(&spec)?;
        if let Some(existing) = self.jobs.get(&spec.id) {
            return if existing.spec == spec {
                Ok((false, Changes::default()))
            } else {
                Err(StoreError::Conflict(spec.id))
            };
        }
        let job = Job {
            seq: self.next_seq,
            state: JobState::Decomposing,
            submitted: now,
            finished: None,
            spec,
        };
        self.next_seq += 1;
        let mut changes = Changes::default();
        let rec = rules::record(
            Event::Submit,
            now,
            job.spec.id,
            None,
            None,
            format!("tenant {}", job.spec.tenant),
        );
        self.audit(&mut changes, rec);
        self.decomposing.insert((job.seq, job.spec.id));
        changes.jobs.push(job.clone());
        self.jobs.insert(job.spec.id, job);
        Ok((true, changes))
    }

    pub(crate) fn to_decompose(&self, limit: usize) -> Vec<Job> {
        self.decomposing
            .iter()
            .take(limit)
            .map(|(_, id)| self.jobs[id].clone())
            .collect()
    }

    fn job_in(
        &self,
        id: MessageId,
        wanted: JobState,
        what: &'static str,
    ) -> Result<&Job, StoreError> {
        let job = self.jobs.get(&id).ok_or(StoreError::NoJob(id))?;
        if std::mem::discriminant(&job.state) != std::mem::discriminant(&wanted) {
            return Err(StoreError::WrongState {
                job: id,
                state: job.state.name(),
                what,
                wanted: wanted.name(),
            });
        }
        Ok(job)
    }

    pub(crate) fn plan(
        &mut self,
        job_id: MessageId,
        specs: Vec<SubtaskSpec>,
        now: Millis,
    ) -> Result<Changes, StoreError> {
        let job_seq = self
            .job_in(job_id, JobState::Decomposing, "setting its subtasks")?
            .seq;
        check_plan(&specs)?;
        if let Some(taken) = specs.iter().find(|s| self.subtasks.contains_key(&s.id)) {
            return Err(StoreError::SubtaskTaken(taken.id));
        }
        let mut changes = Changes::default();
        let mut sorted = specs;
        sorted.sort_by_key(|s| s.ordinal);
        let count = sorted.len();
        let rec = rules::record(
            Event::Decompose,
            now,
            job_id,
            None,
            None,
            format!("{count} subtasks"),
        );
        self.audit(&mut changes, rec);
        for spec in sorted {
            let id = spec.id;
            let subtask = Subtask {
                job: job_id,
                job_seq,
                state: rules::first_state(&spec, now),
                attempts: 0,
                last_failure: None,
                spec,
            };
            for dep in &subtask.spec.deps {
                self.dependents.entry(*dep).or_default().push(id);
            }
            if subtask.state == SubtaskState::Blocked {
                self.waiting.insert(id, subtask.spec.deps.len());
            }
            self.by_job.entry(job_id).or_default().push(id);
            self.index(&subtask);
            changes.subtasks.push(subtask.clone());
            self.subtasks.insert(id, subtask);
        }
        self.remaining.insert(job_id, count);
        let job = self.jobs.get_mut(&job_id).expect("checked above");
        self.decomposing.remove(&(job.seq, job_id));
        job.state = JobState::Running;
        changes.jobs.push(job.clone());
        Ok(changes)
    }

    pub(crate) fn fail_job(
        &mut self,
        job_id: MessageId,
        reason: &str,
        now: Millis,
    ) -> Result<Changes, StoreError> {
        let job = self.jobs.get(&job_id).ok_or(StoreError::NoJob(job_id))?;
        if job.state.is_final() {
            return Err(StoreError::WrongState {
                job: job_id,
                state: job.state.name(),
                what: "failing it",
                wanted: "decomposing or running",
            });
        }
        Ok(self.end_job(
            job_id,
            JobState::Failed {
                reason: reason.to_owned(),
            },
            now,
        ))
    }

    pub(crate) fn to_merge(&self, limit: usize) -> Vec<Job> {
        self.merging
            .iter()
            .take(limit)
            .map(|(_, id)| self.jobs[id].clone())
            .collect()
    }

    pub(crate) fn settle(
        &mut self,
        job_id: MessageId,
        settlement: Settlement,
        now: Millis,
    ) -> Result<Changes, StoreError> {
        let mut settled = self
            .jobs
            .get(&job_id)
            .ok_or(StoreError::NoJob(job_id))?
            .clone();
        let rec = rules::settle(&mut settled, settlement, now)?;
        self.merging.remove(&(settled.seq, job_id));
        self.jobs.insert(job_id, settled.clone());
        let mut changes = Changes::default();
        changes.jobs.push(settled);
        self.audit(&mut changes, rec);
        Ok(changes)
    }

    /// Ends a job (failed or cancelled) and cancels its unfinished subtasks.
    fn end_job(&mut self, job_id: MessageId, state: JobState, now: Millis) -> Changes {
        let mut changes = Changes::default();
        let job = self.jobs.get_mut(&job_id).expect("callers checked the job");
        self.decomposing.remove(&(job.seq, job_id));
        self.merging.remove(&(job.seq, job_id));
        let rec = rules::end(job, state, now);
        changes.jobs.push(job.clone());
        self.audit(&mut changes, rec);
        self.remaining.remove(&job_id);
        for id in self.by_job.get(&job_id).cloned().unwrap_or_default() {
            if matches!(
                self.subtasks[&id].state,
                SubtaskState::Done { .. } | SubtaskState::Cancelled
            ) {
                continue;
            }
            self.waiting.remove(&id);
            let ((), row) = self.update(id, |s| s.state = SubtaskState::Cancelled);
            changes.subtasks.push(row);
        }
        changes
    }

    pub(crate) fn claim(
        &mut self,
        agent: &AgentId,
        models: &[String],
        slots: usize,
        limit: usize,
        lease: Duration,
        now: Millis,
    ) -> (Vec<Assignment>, Changes) {
        self.promote(now);
        let mut changes = Changes::default();
        let held = self.held.get(agent).map_or(0, HashSet::len);
        let slots = slots.min(limit.saturating_sub(held));
        if slots == 0 || self.ready.is_empty() {
            return (Vec::new(), changes);
        }
        let look: Vec<MessageId> = self
            .ready
            .iter()
            .take(MODEL_LOOKAHEAD.max(slots))
            .map(|&(_, _, id)| id)
            .collect();
        let suits = |id: &MessageId| {
            self.subtasks[id]
                .spec
                .model
                .as_ref()
                .is_some_and(|m| models.iter().any(|have| have == m))
        };
        let (mut chosen, rest): (Vec<MessageId>, Vec<MessageId>) =
            look.into_iter().partition(suits);
        chosen.extend(rest);
        chosen.truncate(slots);
        let mut out = Vec::with_capacity(chosen.len());
        for id in chosen {
            let lease_id = MessageId::random();
            let (rec, row) = self.update(id, |s| rules::grant(s, agent, lease_id, lease, now));
            self.audit(&mut changes, rec);
            out.push(self.assignment(&row));
            changes.subtasks.push(row);
        }
        (out, changes)
    }

    fn assignment(&self, subtask: &Subtask) -> Assignment {
        let SubtaskState::Leased { lease, expires, .. } = subtask.state else {
            unreachable!("assignments are made of leased subtasks")
        };
        let job = &self.jobs[&subtask.job];
        let mut context: Vec<(u32, String, String)> = subtask
            .spec
            .deps
            .iter()
            .filter_map(|dep| {
                let d = self.subtasks.get(dep)?;
                match &d.state {
                    SubtaskState::Done { output, .. } => {
                        Some((d.spec.ordinal, d.spec.instruction.clone(), output.clone()))
                    }
                    _ => None,
                }
            })
            .collect();
        context.sort_by_key(|(ordinal, _, _)| *ordinal);
        Assignment {
            job: subtask.job,
            subtask: subtask.spec.clone(),
            lease,
            expires,
            attempt: subtask.attempts,
            lang: job.spec.lang,
            snapshot: job.spec.snapshot.clone(),
            context,
        }
    }

    pub(crate) fn renew(
        &mut self,
        agent: &AgentId,
        running: usize,
        lease: Duration,
        now: Millis,
    ) -> (usize, Changes) {
        let mut changes = Changes::default();
        if running == 0 {
            return (0, changes);
        }
        let leases: Vec<MessageId> = self
            .held
            .get(agent)
            .map(|set| set.iter().copied().collect())
            .unwrap_or_default();
        let expires = now + lease.as_millis() as u64;
        for lease_id in &leases {
            let id = self.leases[lease_id];
            let ((), row) = self.update(id, |s| {
                if let SubtaskState::Leased { expires: e, .. } = &mut s.state {
                    *e = (*e).max(expires);
                }
            });
            changes.subtasks.push(row);
        }
        (leases.len(), changes)
    }

    pub(crate) fn report(
        &mut self,
        lease: MessageId,
        agent: &AgentId,
        report: Report,
        now: Millis,
    ) -> (Accepted, Changes) {
        let mut changes = Changes::default();
        let Some(&id) = self.leases.get(&lease) else {
            return (Accepted::Stale, changes);
        };
        if !rules::holds(&self.subtasks[&id], lease, agent) {
            return (Accepted::Stale, changes);
        }
        let job = self.jobs[&self.subtasks[&id].job].clone();
        let backoff = self.backoff;
        let ((moved, rec), row) = self.update(id, |s| {
            rules::apply_report(s, &job, report, agent, &backoff, now)
        });
        self.audit(&mut changes, rec);
        let job_done = self.after_move(&row, moved, now, &mut changes);
        changes.subtasks.push(row);
        (Accepted::Recorded { job_done }, changes)
    }

    /// Follows a subtask's move: unblocks dependents and finishes the job when it was the last.
    fn after_move(
        &mut self,
        row: &Subtask,
        moved: Moved,
        now: Millis,
        changes: &mut Changes,
    ) -> bool {
        if moved != Moved::Done {
            return false;
        }
        for dependent in self
            .dependents
            .get(&row.spec.id)
            .cloned()
            .unwrap_or_default()
        {
            let Some(open) = self.waiting.get_mut(&dependent) else {
                continue;
            };
            *open -= 1;
            if *open == 0 {
                self.waiting.remove(&dependent);
                let ((), dep_row) = self.update(dependent, |s| {
                    s.state = SubtaskState::Ready { not_before: now }
                });
                changes.subtasks.push(dep_row);
            }
        }
        let remaining = self
            .remaining
            .get_mut(&row.job)
            .expect("running jobs are counted");
        *remaining -= 1;
        if *remaining > 0 {
            return false;
        }
        self.remaining.remove(&row.job);
        let mut outputs: Vec<(u32, String)> = Vec::new();
        for id in &self.by_job[&row.job] {
            let s = if *id == row.spec.id {
                row
            } else {
                &self.subtasks[id]
            };
            if let SubtaskState::Done { output, .. } = &s.state {
                outputs.push((s.spec.ordinal, output.clone()));
            }
        }
        let job = self.jobs.get_mut(&row.job).expect("subtasks have jobs");
        let rec = rules::finish(job, &outputs, now);
        if job.state == JobState::Merging {
            self.merging.insert((job.seq, job.spec.id));
        }
        changes.jobs.push(job.clone());
        self.audit(changes, rec);
        true
    }

    pub(crate) fn expire(&mut self, now: Millis) -> (usize, Changes) {
        let mut changes = Changes::default();
        let mut count = 0;
        while let Some(&(expires, lease)) = self.expiries.first() {
            if expires > now {
                break;
            }
            let id = self.leases[&lease];
            let job = self.jobs[&self.subtasks[&id].job].clone();
            let backoff = self.backoff;
            let agent = match &self.subtasks[&id].state {
                SubtaskState::Leased { agent, .. } => agent.clone(),
                _ => unreachable!("leases index leased subtasks"),
            };
            let ((_, rec), row) = self.update(id, |s| {
                rules::fail(s, &job, "the lease expired", Some(&agent), &backoff, now)
            });
            self.audit(&mut changes, rec);
            changes.subtasks.push(row);
            count += 1;
        }
        (count, changes)
    }

    pub(crate) fn escalated(&self, limit: usize) -> Vec<(Job, SubtaskSpec, String)> {
        self.escalated
            .iter()
            .take(limit)
            .map(|(_, id)| {
                let s = &self.subtasks[id];
                let reason = match &s.state {
                    SubtaskState::Escalated { reason } => reason.clone(),
                    _ => unreachable!("the escalated index holds escalated subtasks"),
                };
                (self.jobs[&s.job].clone(), s.spec.clone(), reason)
            })
            .collect()
    }

    pub(crate) fn resolve(
        &mut self,
        id: MessageId,
        answer: Result<String, String>,
        now: Millis,
    ) -> (Accepted, Changes) {
        let mut changes = Changes::default();
        let Some(subtask) = self.subtasks.get(&id) else {
            return (Accepted::Stale, changes);
        };
        if !matches!(subtask.state, SubtaskState::Escalated { .. }) {
            return (Accepted::Stale, changes);
        }
        let job_id = subtask.job;
        let mut copy = subtask.clone();
        match rules::apply_resolution(&mut copy, answer, now) {
            Ok((moved, rec)) => {
                let ((), row) = self.update(id, |s| *s = copy);
                self.audit(&mut changes, rec);
                let job_done = self.after_move(&row, moved, now, &mut changes);
                changes.subtasks.push(row);
                (Accepted::Recorded { job_done }, changes)
            }
            Err(reason) => {
                let ended = self.end_job(
                    job_id,
                    JobState::Failed {
                        reason: format!(
                            "subtask {} failed on agents and the parent model: {reason}",
                            copy.spec.ordinal
                        ),
                    },
                    now,
                );
                (Accepted::Recorded { job_done: false }, ended)
            }
        }
    }

    pub(crate) fn cancel(
        &mut self,
        job_id: MessageId,
        now: Millis,
    ) -> Result<(bool, Changes), StoreError> {
        let job = self.jobs.get(&job_id).ok_or(StoreError::NoJob(job_id))?;
        if job.state.is_final() {
            return Ok((false, Changes::default()));
        }
        Ok((true, self.end_job(job_id, JobState::Cancelled, now)))
    }

    pub(crate) fn job_only(&self, job_id: MessageId) -> Option<Job> {
        self.jobs.get(&job_id).cloned()
    }

    pub(crate) fn recent_jobs(&self, limit: usize) -> Vec<Job> {
        let mut jobs: Vec<&Job> = self.jobs.values().collect();
        jobs.sort_unstable_by_key(|j| std::cmp::Reverse(j.seq));
        jobs.into_iter().take(limit).cloned().collect()
    }

    pub(crate) fn job(&self, job_id: MessageId) -> Option<JobView> {
        let job = self.jobs.get(&job_id)?.clone();
        let subtasks = self
            .by_job
            .get(&job_id)
            .map(|ids| ids.iter().map(|id| view(&self.subtasks[id])).collect())
            .unwrap_or_default();
        Some(JobView { job, subtasks })
    }

    pub(crate) fn counts(&self) -> Counts {
        let mut counts = Counts {
            decomposing: self.decomposing.len() as u64,
            ready: (self.ready.len() + self.delayed.len()) as u64,
            leased: self.leases.len() as u64,
            escalated: self.escalated.len() as u64,
            ..Counts::default()
        };
        for job in self.jobs.values() {
            match job.state {
                JobState::Running => counts.running += 1,
                JobState::Done { .. } => counts.done += 1,
                _ => {}
            }
        }
        counts.finished = self
            .subtasks
            .values()
            .filter(|s| matches!(s.state, SubtaskState::Done { .. }))
            .count() as u64;
        counts
    }

    pub(crate) fn note(&mut self, record: Record) -> Changes {
        let mut changes = Changes::default();
        self.audit(&mut changes, record);
        changes
    }
}

/// A subtask as the API shows it.
pub(crate) fn view(s: &Subtask) -> SubtaskView {
    SubtaskView {
        id: s.spec.id,
        ordinal: s.spec.ordinal,
        state: s.state.name().to_owned(),
        attempts: s.attempts,
        output: match &s.state {
            SubtaskState::Done { output, .. } => Some(output.clone()),
            _ => None,
        },
        last_failure: s.last_failure.clone(),
        agent: match &s.state {
            SubtaskState::Leased { agent, .. } => Some(agent.as_str().to_owned()),
            SubtaskState::Done { by, .. } => Some(by.clone()),
            _ => None,
        },
    }
}
