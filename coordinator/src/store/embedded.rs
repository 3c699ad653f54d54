//! The embedded store: the queue in memory, every change written to a redb file before the
//! caller is answered. Changes from concurrent callers are grouped into one transaction (group
//! commit), so throughput does not pay one disk flush per subtask.

use super::core::{Changes, Core};
use super::{Counts, Store, StoreError};
use crate::audit::{Entry, Head, Record};
use crate::model::{
    Accepted, Assignment, Backoff, Job, JobSpec, JobView, Millis, Report, Settlement, Subtask,
    SubtaskSpec,
};
use edgecoder_protocol::ids::{AgentId, MessageId};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;
use tokio::sync::oneshot;

const JOBS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("jobs");
const SUBTASKS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("subtasks");
const AUDIT: TableDefinition<u64, &[u8]> = TableDefinition::new("audit");

/// Most change sets written in one transaction.
const GROUP_MAX: usize = 4096;

type Ack = oneshot::Sender<Result<(), String>>;

/// The single-coordinator store in a redb file.
pub struct Embedded {
    core: Mutex<Core>,
    writes: Option<mpsc::Sender<(Changes, Ack)>>,
    writer: Option<std::thread::JoinHandle<()>>,
    db: Arc<Database>,
    broken: Arc<AtomicBool>,
}

fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

impl Embedded {
    /// Opens (or creates) the store at `path` and loads its queue.
    pub fn open(path: &Path, backoff: Backoff) -> Result<Embedded, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Backend(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let db = Database::create(path).map_err(|e| {
            StoreError::Backend(format!(
                "cannot open the queue file {}: {e} (is another coordinator using it?)",
                path.display()
            ))
        })?;
        let tx = db.begin_write().map_err(backend)?;
        for table in [JOBS, SUBTASKS] {
            tx.open_table(table).map_err(backend)?;
        }
        tx.open_table(AUDIT).map_err(backend)?;
        tx.commit().map_err(backend)?;

        let read = db.begin_read().map_err(backend)?;
        let jobs: Vec<Job> = rows(&read.open_table(JOBS).map_err(backend)?)?;
        let subtasks: Vec<Subtask> = rows(&read.open_table(SUBTASKS).map_err(backend)?)?;
        let audit = read.open_table(AUDIT).map_err(backend)?;
        let head = match audit.last().map_err(backend)? {
            Some((_, bytes)) => {
                let entry: Entry = decode(bytes.value())?;
                Head {
                    seq: entry.seq,
                    hash: entry.hash,
                }
            }
            None => Head::default(),
        };
        drop(audit);
        drop(read);
        let mut core = Core::new(backoff, head);
        core.load(jobs, subtasks);

        let db = Arc::new(db);
        let broken = Arc::new(AtomicBool::new(false));
        let (writes, queue) = mpsc::channel();
        let writer_db = db.clone();
        let writer_broken = broken.clone();
        let writer = std::thread::Builder::new()
            .name("edgecoder-queue-writer".into())
            .spawn(move || write_loop(&writer_db, &queue, &writer_broken))
            .map_err(backend)?;
        Ok(Embedded {
            core: Mutex::new(core),
            writes: Some(writes),
            writer: Some(writer),
            db,
            broken,
        })
    }

    /// Applies a change in memory and waits until it is on disk.
    async fn change<T>(
        &self,
        apply: impl FnOnce(&mut Core) -> Result<(T, Changes), StoreError>,
    ) -> Result<T, StoreError> {
        if self.broken.load(Ordering::Acquire) {
            return Err(StoreError::Backend(
                "an earlier write to the queue file failed; restart the coordinator to reload it"
                    .into(),
            ));
        }
        let (ack, done) = oneshot::channel();
        let out = {
            let mut core = self.core.lock().expect("the queue lock is never poisoned");
            let (out, changes) = apply(&mut core)?;
            if changes.jobs.is_empty() && changes.subtasks.is_empty() && changes.audit.is_empty() {
                return Ok(out);
            }
            self.writes
                .as_ref()
                .expect("the writer lives as long as the store")
                .send((changes, ack))
                .map_err(|_| StoreError::Backend("the queue writer stopped".into()))?;
            out
        };
        match done.await {
            Ok(Ok(())) => Ok(out),
            Ok(Err(e)) => Err(StoreError::Backend(e)),
            Err(_) => Err(StoreError::Backend("the queue writer stopped".into())),
        }
    }

    fn read<T>(&self, look: impl FnOnce(&Core) -> T) -> T {
        look(&self.core.lock().expect("the queue lock is never poisoned"))
    }
}

impl Drop for Embedded {
    /// Lets the writer finish what it was given and closes the file, so it can be opened again.
    fn drop(&mut self) {
        drop(self.writes.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Backend(format!("a stored row does not decode: {e}")))
}

fn rows<T: serde::de::DeserializeOwned>(
    table: &impl ReadableTable<&'static [u8], &'static [u8]>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    for item in table.iter().map_err(backend)? {
        let (_, value) = item.map_err(backend)?;
        out.push(decode(value.value())?);
    }
    Ok(out)
}

/// Writes change sets in groups until the store is dropped.
fn write_loop(db: &Database, queue: &mpsc::Receiver<(Changes, Ack)>, broken: &AtomicBool) {
    while let Ok(first) = queue.recv() {
        let mut group = vec![first];
        while group.len() < GROUP_MAX {
            match queue.try_recv() {
                Ok(more) => group.push(more),
                Err(_) => break,
            }
        }
        let result = write_group(db, &group).map_err(|e| e.to_string());
        if result.is_err() {
            broken.store(true, Ordering::Release);
        }
        for (_, ack) in group {
            let _ = ack.send(result.clone());
        }
    }
}

fn write_group(db: &Database, group: &[(Changes, Ack)]) -> Result<(), StoreError> {
    let tx = db.begin_write().map_err(backend)?;
    {
        let mut jobs = tx.open_table(JOBS).map_err(backend)?;
        let mut subtasks = tx.open_table(SUBTASKS).map_err(backend)?;
        let mut audit = tx.open_table(AUDIT).map_err(backend)?;
        for (changes, _) in group {
            for job in &changes.jobs {
                let bytes = serde_json::to_vec(job).map_err(backend)?;
                jobs.insert(&job.spec.id.0[..], &bytes[..])
                    .map_err(backend)?;
            }
            for subtask in &changes.subtasks {
                let bytes = serde_json::to_vec(subtask).map_err(backend)?;
                subtasks
                    .insert(&subtask.spec.id.0[..], &bytes[..])
                    .map_err(backend)?;
            }
            for entry in &changes.audit {
                let bytes = serde_json::to_vec(entry).map_err(backend)?;
                audit.insert(entry.seq, &bytes[..]).map_err(backend)?;
            }
        }
    }
    tx.commit().map_err(backend)
}

#[async_trait::async_trait]
impl Store for Embedded {
    async fn submit(&self, spec: JobSpec, now: Millis) -> Result<bool, StoreError> {
        self.change(|core| core.submit(spec, now)).await
    }

    async fn to_decompose(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        Ok(self.read(|core| core.to_decompose(limit)))
    }

    async fn plan(
        &self,
        job: MessageId,
        subtasks: Vec<SubtaskSpec>,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.change(|core| Ok(((), core.plan(job, subtasks, now)?)))
            .await
    }

    async fn fail_job(&self, job: MessageId, reason: &str, now: Millis) -> Result<(), StoreError> {
        self.change(|core| Ok(((), core.fail_job(job, reason, now)?)))
            .await
    }

    async fn to_merge(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        Ok(self.read(|core| core.to_merge(limit)))
    }

    async fn settle(
        &self,
        job: MessageId,
        settlement: Settlement,
        now: Millis,
    ) -> Result<(), StoreError> {
        self.change(|core| Ok(((), core.settle(job, settlement, now)?)))
            .await
    }

    async fn claim(
        &self,
        agent: &AgentId,
        models: &[String],
        slots: usize,
        limit: usize,
        lease: Duration,
        now: Millis,
    ) -> Result<Vec<Assignment>, StoreError> {
        self.change(|core| Ok(core.claim(agent, models, slots, limit, lease, now)))
            .await
    }

    async fn renew(
        &self,
        agent: &AgentId,
        running: usize,
        lease: Duration,
        now: Millis,
    ) -> Result<usize, StoreError> {
        self.change(|core| Ok(core.renew(agent, running, lease, now))).await
    }

    async fn report(
        &self,
        lease: MessageId,
        agent: &AgentId,
        report: Report,
        now: Millis,
    ) -> Result<Accepted, StoreError> {
        self.change(|core| Ok(core.report(lease, agent, report, now)))
            .await
    }

    async fn expire(&self, now: Millis) -> Result<usize, StoreError> {
        self.change(|core| Ok(core.expire(now))).await
    }

    async fn escalated(&self, limit: usize) -> Result<Vec<(Job, SubtaskSpec, String)>, StoreError> {
        Ok(self.read(|core| core.escalated(limit)))
    }

    async fn resolve(
        &self,
        subtask: MessageId,
        answer: Result<String, String>,
        now: Millis,
    ) -> Result<Accepted, StoreError> {
        self.change(|core| Ok(core.resolve(subtask, answer, now)))
            .await
    }

    async fn cancel(&self, job: MessageId, now: Millis) -> Result<bool, StoreError> {
        self.change(|core| core.cancel(job, now)).await
    }

    async fn job_only(&self, job: MessageId) -> Result<Option<Job>, StoreError> {
        Ok(self.read(|core| core.job_only(job)))
    }

    async fn job(&self, job: MessageId) -> Result<Option<JobView>, StoreError> {
        Ok(self.read(|core| core.job(job)))
    }

    async fn recent_jobs(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        Ok(self.read(|core| core.recent_jobs(limit)))
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        Ok(self.read(Core::counts))
    }

    async fn audit(&self, after: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let read = self.db.begin_read().map_err(backend)?;
        let table = read.open_table(AUDIT).map_err(backend)?;
        let mut out = Vec::new();
        for item in table.range(after + 1..).map_err(backend)?.take(limit) {
            let (_, value) = item.map_err(backend)?;
            out.push(decode(value.value())?);
        }
        Ok(out)
    }

    async fn audit_before(&self, before: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let read = self.db.begin_read().map_err(backend)?;
        let table = read.open_table(AUDIT).map_err(backend)?;
        let mut out = Vec::new();
        for item in table.range(..before).map_err(backend)?.rev().take(limit) {
            let (_, value) = item.map_err(backend)?;
            out.push(decode(value.value())?);
        }
        Ok(out)
    }

    async fn note(&self, record: Record) -> Result<(), StoreError> {
        self.change(|core| Ok(((), core.note(record)))).await
    }
}
