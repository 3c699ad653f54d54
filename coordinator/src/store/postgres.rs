//! The PostgreSQL store: several stateless coordinators share one database. Claims take rows
//! with `FOR UPDATE SKIP LOCKED`, so concurrent coordinators never hand out the same subtask;
//! every other change locks its job row first (then its subtasks, then the audit head), one
//! order for every transaction, so they cannot deadlock.

use super::rules::{self, Moved};
use super::{Counts, Store, StoreError};
use crate::audit::{Entry, Event, Head, Record};
use crate::model::{
    Accepted, Assignment, Backoff, Job, JobSpec, JobState, JobView, Millis, Report, Settlement,
    Subtask, SubtaskSpec, SubtaskState, check_plan,
};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Transaction};
use edgecoder_broker::{AgentDirectory, Digest32, EnrolError};
use edgecoder_protocol::envelope::unix_time_ms;
use edgecoder_protocol::ids::{AgentId, MessageId, Sha256};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;
use tokio_postgres::types::ToSql;
use tokio_postgres::{NoTls, Row};

/// How many ready subtasks a claim looks at when it prefers those suiting the agent's models.
const MODEL_LOOKAHEAD: i64 = 64;

const SCHEMA: &str = "
CREATE SEQUENCE IF NOT EXISTS job_seq;
CREATE TABLE IF NOT EXISTS jobs (
    id bytea PRIMARY KEY,
    seq bigint NOT NULL UNIQUE,
    spec bytea NOT NULL,
    state text NOT NULL,
    reason text,
    result text,
    result_hash bytea,
    submitted bigint NOT NULL,
    finished bigint,
    remaining integer NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS jobs_decomposing ON jobs (seq) WHERE state = 'decomposing';
CREATE INDEX IF NOT EXISTS jobs_merging ON jobs (seq) WHERE state = 'merging';
CREATE TABLE IF NOT EXISTS subtasks (
    id bytea PRIMARY KEY,
    job bytea NOT NULL REFERENCES jobs (id),
    job_seq bigint NOT NULL,
    ordinal integer NOT NULL,
    spec bytea NOT NULL,
    model text,
    deps bytea[] NOT NULL,
    waiting integer NOT NULL,
    state text NOT NULL,
    not_before bigint,
    lease bytea,
    agent text,
    expires bigint,
    attempts integer NOT NULL DEFAULT 0,
    last_failure text,
    output text,
    result_hash bytea,
    done_by text,
    escalation text
);
CREATE INDEX IF NOT EXISTS subtasks_ready ON subtasks (ordinal, job_seq) WHERE state = 'ready';
CREATE UNIQUE INDEX IF NOT EXISTS subtasks_lease ON subtasks (lease);
CREATE INDEX IF NOT EXISTS subtasks_expiry ON subtasks (expires) WHERE state = 'leased';
CREATE INDEX IF NOT EXISTS subtasks_agent ON subtasks (agent) WHERE state = 'leased';
CREATE INDEX IF NOT EXISTS subtasks_job ON subtasks (job, state);
CREATE INDEX IF NOT EXISTS subtasks_escalated ON subtasks (job_seq) WHERE state = 'escalated';
CREATE TABLE IF NOT EXISTS audit (seq bigint PRIMARY KEY, entry bytea NOT NULL);
CREATE TABLE IF NOT EXISTS enrolled_agents (
    id text PRIMARY KEY,
    secret_hash bytea NOT NULL,
    enrolled bigint NOT NULL
);
CREATE TABLE IF NOT EXISTS enrolment_tokens (hash bytea PRIMARY KEY, expires bigint NOT NULL);
CREATE TABLE IF NOT EXISTS audit_head (
    one integer PRIMARY KEY CHECK (one = 1),
    seq bigint NOT NULL,
    hash bytea NOT NULL
);
INSERT INTO audit_head VALUES (1, 0, '\\x0000000000000000000000000000000000000000000000000000000000000000')
    ON CONFLICT DO NOTHING;
";

const SUBTASK_COLUMNS: &str = "job, job_seq, spec, state, not_before, lease, agent, expires, \
    attempts, last_failure, output, result_hash, done_by, escalation";

/// The store for several coordinators, in PostgreSQL.
pub struct Postgres {
    pool: Pool,
    backoff: Backoff,
    schema: String,
}


fn backend(error: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(error.to_string())
}

/// A database error with the server's own message (tokio-postgres shows only `db error`).
fn pg(error: tokio_postgres::Error) -> StoreError {
    match error.as_db_error() {
        Some(db) => StoreError::Backend(format!(
            "PostgreSQL: {}{}",
            db.message(),
            db.detail().map(|d| format!(" ({d})")).unwrap_or_default()
        )),
        None => StoreError::Backend(format!("PostgreSQL: {error}")),
    }
}

fn json<T: serde::Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).expect("stored types always encode")
}

fn unjson<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Backend(format!("a stored row does not decode: {e}")))
}

fn id(bytes: &[u8]) -> Result<MessageId, StoreError> {
    bytes
        .try_into()
        .map(MessageId)
        .map_err(|_| StoreError::Backend("a stored id is not 16 bytes".into()))
}

fn digest(bytes: Option<Vec<u8>>) -> Result<Sha256, StoreError> {
    bytes
        .and_then(|b| b.try_into().ok())
        .map(Sha256)
        .ok_or_else(|| StoreError::Backend("a stored digest is missing or not 32 bytes".into()))
}

impl Postgres {
    /// Connects to `url`, keeping the queue's tables in `schema` (created when missing).
    pub async fn connect(
        url: &str,
        schema: &str,
        backoff: Backoff,
    ) -> Result<Postgres, StoreError> {
        if schema.is_empty()
            || !schema
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            return Err(StoreError::Backend(format!(
                "schema name {schema:?}: use lowercase letters, digits and _"
            )));
        }
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Backend(format!("database URL {url:?}: {e}")))?;
        config.options(format!("-c search_path={schema}"));
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(8)
            .build()
            .map_err(backend)?;
        let client = pool.get().await.map_err(|e| {
            StoreError::Backend(format!(
                "cannot connect to {url}: {e} (is PostgreSQL running?)"
            ))
        })?;
        // Two coordinators starting at once both run the DDL: serialise them (the schema's
        // creation too: `CREATE SCHEMA IF NOT EXISTS` races with itself on the catalog's unique
        // index).
        client
            .batch_execute(&format!(
                "BEGIN; SELECT pg_advisory_xact_lock(hashtext('{schema}')); \
                 CREATE SCHEMA IF NOT EXISTS {schema}; {SCHEMA} COMMIT;"
            ))
            .await
            .map_err(pg)?;
        Ok(Postgres { pool, backoff, schema: schema.to_owned() })
    }

    /// Drops the schema and everything the queue kept in it (for throw-away schemas such as the
    /// benchmark's).
    pub async fn drop_schema(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(backend)?;
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema)).await.map_err(pg)
    }

    /// Jobs in `state` (a partially indexed one: `decomposing` or `merging`), oldest first.
    async fn jobs_in(&self, state: &'static str, limit: usize) -> Result<Vec<Job>, StoreError> {
        let client = self.pool.get().await.map_err(backend)?;
        let rows = client
            .query(
                &format!("SELECT *, remaining FROM jobs WHERE state = '{state}' ORDER BY seq LIMIT $1"),
                &[&(limit as i64)],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(job_from).collect()
    }
}

/// The broker's agent directory in the shared database: every coordinator on it admits the
/// agents any of them enrolled, and an enrolment token issued by one works at all.
#[async_trait::async_trait]
impl AgentDirectory for Postgres {
    async fn secret_hash(&self, agent: &AgentId) -> Result<Option<Digest32>, EnrolError> {
        let client = self.pool.get().await.map_err(directory)?;
        let row = client
            .query_opt("SELECT secret_hash FROM enrolled_agents WHERE id = $1", &[&agent.as_str()])
            .await
            .map_err(|e| directory(pg(e)))?;
        row.map(|row| {
            let bytes: Vec<u8> = row.get(0);
            bytes.try_into().map_err(|_| EnrolError::Store("a stored secret hash is not 32 bytes".into()))
        })
        .transpose()
    }

    async fn add_token(&self, token: Digest32, expires_ms: u64) -> Result<(), EnrolError> {
        let client = self.pool.get().await.map_err(directory)?;
        client
            .execute("DELETE FROM enrolment_tokens WHERE expires <= $1", &[&(unix_time_ms() as i64)])
            .await
            .map_err(|e| directory(pg(e)))?;
        client
            .execute("INSERT INTO enrolment_tokens (hash, expires) VALUES ($1, $2)", &[&&token[..], &(expires_ms as i64)])
            .await
            .map_err(|e| directory(pg(e)))?;
        Ok(())
    }

    async fn enrol(&self, token: Digest32, agent: &AgentId, secret: Digest32, now_ms: u64) -> Result<(), EnrolError> {
        let mut client = self.pool.get().await.map_err(directory)?;
        let transaction = client.transaction().await.map_err(|e| directory(pg(e)))?;
        // The DELETE locks the token's row: of two enrolments with one token, one finds it gone.
        let used = transaction
            .execute("DELETE FROM enrolment_tokens WHERE hash = $1 AND expires > $2", &[&&token[..], &(now_ms as i64)])
            .await
            .map_err(|e| directory(pg(e)))?;
        if used == 0 {
            return Err(EnrolError::BadToken);
        }
        let added = transaction
            .execute(
                "INSERT INTO enrolled_agents (id, secret_hash, enrolled) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING",
                &[&agent.as_str(), &&secret[..], &(now_ms as i64)],
            )
            .await
            .map_err(|e| directory(pg(e)))?;
        if added == 0 {
            // Dropping the transaction rolls it back: the token stays usable.
            return Err(EnrolError::IdTaken(agent.clone()));
        }
        transaction.commit().await.map_err(|e| directory(pg(e)))
    }

    async fn revoke(&self, agent: &AgentId) -> Result<bool, EnrolError> {
        let client = self.pool.get().await.map_err(directory)?;
        let removed = client
            .execute("DELETE FROM enrolled_agents WHERE id = $1", &[&agent.as_str()])
            .await
            .map_err(|e| directory(pg(e)))?;
        Ok(removed > 0)
    }

    async fn enrolled(&self) -> Result<usize, EnrolError> {
        let client = self.pool.get().await.map_err(directory)?;
        let row = client.query_one("SELECT count(*) FROM enrolled_agents", &[]).await.map_err(|e| directory(pg(e)))?;
        Ok(row.get::<_, i64>(0) as usize)
    }
}

fn directory(error: impl std::fmt::Display) -> EnrolError {
    EnrolError::Store(error.to_string())
}

fn retryable(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    matches!(
        e.code(),
        Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    )
}

/// Why a transaction's body stopped.
enum Failure {
    Db(tokio_postgres::Error),
    Store(StoreError),
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Failure {
        Failure::Db(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Failure {
        Failure::Store(e)
    }
}

type Step<T> = Result<T, Failure>;

fn job_from(row: &Row) -> Result<Job, StoreError> {
    let spec: JobSpec = unjson(row.get("spec"))?;
    let state = match row.get::<_, &str>("state") {
        "decomposing" => JobState::Decomposing,
        "running" => JobState::Running,
        "merging" => JobState::Merging,
        "conflict" => JobState::Conflict {
            detail: row.get::<_, Option<String>>("reason").unwrap_or_default(),
        },
        "done" => JobState::Done {
            result: row.get::<_, Option<String>>("result").unwrap_or_default(),
            result_hash: digest(row.get("result_hash"))?,
        },
        "failed" => JobState::Failed {
            reason: row.get::<_, Option<String>>("reason").unwrap_or_default(),
        },
        "cancelled" => JobState::Cancelled,
        other => return Err(StoreError::Backend(format!("unknown job state {other:?}"))),
    };
    Ok(Job {
        spec,
        seq: row.get::<_, i64>("seq") as u64,
        state,
        submitted: row.get::<_, i64>("submitted") as u64,
        finished: row.get::<_, Option<i64>>("finished").map(|t| t as u64),
    })
}

fn subtask_from(row: &Row) -> Result<Subtask, StoreError> {
    let spec: SubtaskSpec = unjson(row.get("spec"))?;
    let state = match row.get::<_, &str>("state") {
        "blocked" => SubtaskState::Blocked,
        "ready" => SubtaskState::Ready {
            not_before: row.get::<_, Option<i64>>("not_before").unwrap_or(0) as u64,
        },
        "leased" => SubtaskState::Leased {
            lease: id(row.get("lease"))?,
            agent: AgentId::new(row.get("agent")).map_err(backend)?,
            expires: row.get::<_, Option<i64>>("expires").unwrap_or(0) as u64,
        },
        "escalated" => SubtaskState::Escalated {
            reason: row
                .get::<_, Option<String>>("escalation")
                .unwrap_or_default(),
        },
        "done" => SubtaskState::Done {
            output: row.get::<_, Option<String>>("output").unwrap_or_default(),
            result_hash: digest(row.get("result_hash"))?,
            by: row.get::<_, Option<String>>("done_by").unwrap_or_default(),
        },
        "cancelled" => SubtaskState::Cancelled,
        other => {
            return Err(StoreError::Backend(format!(
                "unknown subtask state {other:?}"
            )));
        }
    };
    Ok(Subtask {
        job: id(row.get("job"))?,
        job_seq: row.get::<_, i64>("job_seq") as u64,
        spec,
        state,
        attempts: row.get::<_, i32>("attempts") as u16,
        last_failure: row.get("last_failure"),
    })
}

/// Writes a subtask's state columns.
async fn save_subtask(tx: &Transaction<'_>, s: &Subtask) -> Step<()> {
    let (mut not_before, mut lease, mut agent, mut expires) = (None, None, None, None);
    let (mut output, mut hash, mut by, mut escalation) = (None, None, None, None);
    match &s.state {
        SubtaskState::Ready { not_before: t } => not_before = Some(*t as i64),
        SubtaskState::Leased {
            lease: l,
            agent: a,
            expires: e,
        } => {
            lease = Some(l.0.to_vec());
            agent = Some(a.as_str().to_owned());
            expires = Some(*e as i64);
        }
        SubtaskState::Escalated { reason } => escalation = Some(reason.clone()),
        SubtaskState::Done {
            output: o,
            result_hash,
            by: b,
        } => {
            output = Some(o.clone());
            hash = Some(result_hash.0.to_vec());
            by = Some(b.clone());
        }
        SubtaskState::Blocked | SubtaskState::Cancelled => {}
    }
    let statement = tx
        .prepare_cached(
            "UPDATE subtasks SET state = $2, not_before = $3, lease = $4, agent = $5, \
             expires = $6, attempts = $7, last_failure = $8, output = $9, result_hash = $10, \
             done_by = $11, escalation = $12 WHERE id = $1",
        )
        .await?;
    tx.execute(
        &statement,
        &[
            &&s.spec.id.0[..],
            &s.state.name(),
            &not_before,
            &lease,
            &agent,
            &expires,
            &(s.attempts as i32),
            &s.last_failure,
            &output,
            &hash,
            &by,
            &escalation,
        ],
    )
    .await?;
    Ok(())
}

/// Writes a job's state columns.
async fn save_job(tx: &Transaction<'_>, job: &Job) -> Step<()> {
    let (mut reason, mut result, mut hash) = (None, None, None);
    match &job.state {
        JobState::Done {
            result: r,
            result_hash,
        } => {
            result = Some(r.clone());
            hash = Some(result_hash.0.to_vec());
        }
        JobState::Failed { reason: r } | JobState::Conflict { detail: r } => {
            reason = Some(r.clone())
        }
        _ => {}
    }
    let statement = tx
        .prepare_cached(
            "UPDATE jobs SET state = $2, reason = $3, result = $4, result_hash = $5, \
             finished = $6 WHERE id = $1",
        )
        .await?;
    tx.execute(
        &statement,
        &[
            &&job.spec.id.0[..],
            &job.state.name(),
            &reason,
            &result,
            &hash,
            &job.finished.map(|t| t as i64),
        ],
    )
    .await?;
    Ok(())
}

/// Locks and reads a job.
async fn lock_job(tx: &Transaction<'_>, job: MessageId) -> Step<Option<(Job, i32)>> {
    let statement = tx
        .prepare_cached("SELECT *, remaining FROM jobs WHERE id = $1 FOR UPDATE")
        .await?;
    match tx.query_opt(&statement, &[&&job.0[..]]).await? {
        Some(row) => Ok(Some((job_from(&row)?, row.get("remaining")))),
        None => Ok(None),
    }
}

/// Locks a subtask found by `column` (`id` or `lease`) and its job, job first (the lock order
/// every transaction keeps); `None` when there is no such subtask.
async fn lock_subtask(
    tx: &Transaction<'_>,
    column: &'static str,
    key: MessageId,
) -> Step<Option<(Job, Subtask)>> {
    // The subtask's job never changes, so finding it and locking it is one statement.
    let find = format!(
        "SELECT *, remaining FROM jobs WHERE id = (SELECT job FROM subtasks WHERE {column} = $1) FOR UPDATE"
    );
    let find = tx.prepare_cached(&find).await?;
    let Some(row) = tx.query_opt(&find, &[&&key.0[..]]).await? else {
        return Ok(None);
    };
    let job = job_from(&row)?;
    let lock = tx
        .prepare_cached(&format!("SELECT id, {SUBTASK_COLUMNS} FROM subtasks WHERE {column} = $1 FOR UPDATE"))
        .await?;
    match tx.query_opt(&lock, &[&&key.0[..]]).await? {
        Some(row) => Ok(Some((job, subtask_from(&row)?))),
        None => Ok(None),
    }
}

/// Locks up to `slots` subtasks that can be handed out now, in queue order, preferring those
/// among the next [`MODEL_LOOKAHEAD`] that name one of `models` (as the embedded store does).
/// Rows other claims hold are skipped, so concurrent claims never wait for each other.
async fn take_ready(tx: &Transaction<'_>, models: &[String], slots: usize, now: Millis) -> Step<Vec<Subtask>> {
    let mut chosen: Vec<Subtask> = Vec::new();
    if !models.is_empty() {
        let look = tx
            .prepare_cached(
                "SELECT id, model FROM subtasks WHERE state = 'ready' AND not_before <= $1 \
                 ORDER BY ordinal, job_seq LIMIT $2",
            )
            .await?;
        let suiting: Vec<Vec<u8>> = tx
            .query(&look, &[&(now as i64), &MODEL_LOOKAHEAD.max(slots as i64)])
            .await?
            .iter()
            .filter(|r| r.get::<_, Option<String>>(1).is_some_and(|m| models.contains(&m)))
            .map(|r| r.get(0))
            .collect();
        if !suiting.is_empty() {
            let take = tx
                .prepare_cached(&format!(
                    "SELECT id, {SUBTASK_COLUMNS} FROM subtasks \
                     WHERE id = ANY($1) AND state = 'ready' AND not_before <= $3 \
                     ORDER BY ordinal, job_seq LIMIT $2 FOR UPDATE SKIP LOCKED"
                ))
                .await?;
            for row in tx.query(&take, &[&suiting, &(slots as i64), &(now as i64)]).await? {
                chosen.push(subtask_from(&row)?);
            }
        }
    }
    if chosen.len() < slots {
        let taken: Vec<&[u8]> = chosen.iter().map(|s| &s.spec.id.0[..]).collect();
        let rest = tx
            .prepare_cached(&format!(
                "SELECT id, {SUBTASK_COLUMNS} FROM subtasks \
                 WHERE state = 'ready' AND not_before <= $1 AND NOT (id = ANY($2)) \
                 ORDER BY ordinal, job_seq LIMIT $3 FOR UPDATE SKIP LOCKED"
            ))
            .await?;
        let rows = tx.query(&rest, &[&(now as i64), &taken, &((slots - chosen.len()) as i64)]).await?;
        for row in rows {
            chosen.push(subtask_from(&row)?);
        }
    }
    Ok(chosen)
}

/// The outputs of a subtask's dependencies, in ordinal order: the context it is handed.
async fn dependency_outputs(tx: &Transaction<'_>, spec: &SubtaskSpec) -> Step<Vec<(u32, String, String)>> {
    if spec.deps.is_empty() {
        return Ok(Vec::new());
    }
    let deps: Vec<&[u8]> = spec.deps.iter().map(|d| &d.0[..]).collect();
    let rows = tx
        .query(
            "SELECT ordinal, spec, output FROM subtasks \
             WHERE id = ANY($1) AND state = 'done' ORDER BY ordinal",
            &[&deps],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let dep: SubtaskSpec = unjson(row.get(1))?;
            Ok((row.get::<_, i32>(0) as u32, dep.instruction, row.get::<_, Option<String>>(2).unwrap_or_default()))
        })
        .collect::<Result<_, StoreError>>()
        .map_err(Failure::from)
}

/// Appends audit records after the chain's head (locked last in every transaction).
async fn append(tx: &Transaction<'_>, records: Vec<Record>) -> Step<()> {
    if records.is_empty() {
        return Ok(());
    }
    let lock_head = tx.prepare_cached("SELECT seq, hash FROM audit_head WHERE one = 1 FOR UPDATE").await?;
    let head_row = tx.query_one(&lock_head, &[]).await?;
    let mut head = Head {
        seq: head_row.get::<_, i64>(0) as u64,
        hash: digest(head_row.get(1))?,
    };
    let mut seqs = Vec::with_capacity(records.len());
    let mut bodies = Vec::with_capacity(records.len());
    for record in records {
        let entry = head.append(record);
        seqs.push(entry.seq as i64);
        bodies.push(json(&entry));
    }
    let insert = tx
        .prepare_cached("INSERT INTO audit SELECT * FROM unnest($1::bigint[], $2::bytea[])")
        .await?;
    let move_head = tx.prepare_cached("UPDATE audit_head SET seq = $1, hash = $2 WHERE one = 1").await?;
    let (head_seq, head_hash) = (head.seq as i64, &head.hash.0[..]);
    let insert_params: [&(dyn ToSql + Sync); 2] = [&seqs, &bodies];
    let head_params: [&(dyn ToSql + Sync); 2] = [&head_seq, &head_hash];
    tokio::try_join!(tx.execute(&insert, &insert_params), tx.execute(&move_head, &head_params))?;
    Ok(())
}

/// After a subtask is done: unblock its dependents and finish the job when it was the last.
async fn after_done(
    tx: &Transaction<'_>,
    mut job: Job,
    done: &Subtask,
    now: Millis,
    audit: &mut Vec<Record>,
) -> Step<bool> {
    let unblock = tx
        .prepare_cached(
            "UPDATE subtasks SET waiting = waiting - 1, \
             state = CASE WHEN waiting = 1 THEN 'ready' ELSE state END, \
             not_before = CASE WHEN waiting = 1 THEN $3::bigint ELSE not_before END \
             WHERE job = $1 AND state = 'blocked' AND $2 = ANY(deps)",
        )
        .await?;
    let count_down = tx
        .prepare_cached("UPDATE jobs SET remaining = remaining - 1 WHERE id = $1 RETURNING remaining")
        .await?;
    // Both go to the server at once (pipelined on the transaction's connection).
    let (job_id, done_id, now_ms) = (&job.spec.id.0[..], &done.spec.id.0[..], now as i64);
    let unblock_params: [&(dyn ToSql + Sync); 3] = [&job_id, &done_id, &now_ms];
    let count_down_params: [&(dyn ToSql + Sync); 1] = [&job_id];
    let (_, remaining) = tokio::try_join!(
        tx.execute(&unblock, &unblock_params),
        tx.query_one(&count_down, &count_down_params),
    )?;
    let remaining: i32 = remaining.get(0);
    if remaining > 0 {
        return Ok(false);
    }
    let rows = tx
        .query(
            "SELECT ordinal, output FROM subtasks WHERE job = $1 AND state = 'done'",
            &[&&job.spec.id.0[..]],
        )
        .await?;
    let outputs: Vec<(u32, String)> = rows
        .iter()
        .map(|r| {
            (
                r.get::<_, i32>(0) as u32,
                r.get::<_, Option<String>>(1).unwrap_or_default(),
            )
        })
        .collect();
    audit.push(rules::finish(&mut job, &outputs, now));
    save_job(tx, &job).await?;
    Ok(true)
}

/// Ends a job (failed or cancelled) and cancels its unfinished subtasks.
async fn end_job(
    tx: &Transaction<'_>,
    mut job: Job,
    state: JobState,
    now: Millis,
    audit: &mut Vec<Record>,
) -> Step<()> {
    audit.push(rules::end(&mut job, state, now));
    save_job(tx, &job).await?;
    tx.execute(
        "UPDATE subtasks SET state = 'cancelled', lease = NULL, agent = NULL, expires = NULL, \
         not_before = NULL WHERE job = $1 AND state NOT IN ('done', 'cancelled')",
        &[&&job.spec.id.0[..]],
    )
    .await?;
    Ok(())
}

/// Runs a body in a transaction, retrying it on serialization failures and deadlocks.
macro_rules! in_tx {
    ($store:ident, |$tx:ident| $body:block) => {{
        let mut tries = 0u32;
        loop {
            let mut client = $store.pool.get().await.map_err(backend)?;
            let transaction = client.transaction().await.map_err(pg)?;
            let result: Step<_> = {
                let $tx = &transaction;
                async { $body }.await
            };
            let result = match result {
                Ok(value) => transaction
                    .commit()
                    .await
                    .map(|()| value)
                    .map_err(Failure::Db),
                Err(e) => Err(e),
            };
            match result {
                Ok(value) => break Ok(value),
                Err(Failure::Db(e)) if retryable(&e) && tries < 20 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(2 << tries.min(6))).await;
                }
                Err(Failure::Db(e)) => break Err(pg(e)),
                Err(Failure::Store(e)) => break Err(e),
            }
        }
    }};
}


#[async_trait::async_trait]
impl Store for Postgres {
    async fn submit(&self, spec: JobSpec, now: Millis) -> Result<bool, StoreError> {
        rules::check_job(&spec)?;
        let spec = &spec;
        in_tx!(self, |tx| {
            let inserted = tx
                .query_opt(
                    "INSERT INTO jobs (id, seq, spec, state, submitted) \
                     VALUES ($1, nextval('job_seq'), $2, 'decomposing', $3) \
                     ON CONFLICT (id) DO NOTHING RETURNING seq",
                    &[&&spec.id.0[..], &json(spec), &(now as i64)],
                )
                .await?;
            if inserted.is_none() {
                let row = tx
                    .query_one("SELECT spec FROM jobs WHERE id = $1", &[&&spec.id.0[..]])
                    .await?;
                let existing: JobSpec = unjson(row.get(0))?;
                return if existing == *spec {
                    Ok(false)
                } else {
                    Err(StoreError::Conflict(spec.id).into())
                };
            }
            let rec = rules::record(
                Event::Submit,
                now,
                spec.id,
                None,
                None,
                format!("tenant {}", spec.tenant),
            );
            append(tx, vec![rec]).await?;
            Ok(true)
        })
    }

    async fn to_decompose(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        self.jobs_in("decomposing", limit).await
    }

    async fn plan(
        &self,
        job_id: MessageId,
        subtasks: Vec<SubtaskSpec>,
        now: Millis,
    ) -> Result<(), StoreError> {
        check_plan(&subtasks)?;
        let subtasks = &subtasks;
        in_tx!(self, |tx| {
            let Some((mut job, _)) = lock_job(tx, job_id).await? else {
                return Err(StoreError::NoJob(job_id).into());
            };
            if job.state != JobState::Decomposing {
                return Err(StoreError::WrongState {
                    job: job_id,
                    state: job.state.name(),
                    what: "setting its subtasks",
                    wanted: "decomposing",
                }
                .into());
            }
            let ids: Vec<&[u8]> = subtasks.iter().map(|s| &s.id.0[..]).collect();
            if let Some(row) = tx
                .query_opt(
                    "SELECT id FROM subtasks WHERE id = ANY($1) LIMIT 1",
                    &[&ids],
                )
                .await?
            {
                return Err(StoreError::SubtaskTaken(id(row.get(0))?).into());
            }
            let mut ordinals = Vec::new();
            let mut specs = Vec::new();
            let mut models = Vec::new();
            let mut deps = Vec::new();
            let mut waiting = Vec::new();
            let mut states = Vec::new();
            for s in subtasks {
                ordinals.push(s.ordinal as i32);
                specs.push(json(s));
                models.push(s.model.clone());
                // Arrays of arrays must be rectangular: dependencies travel as one
                // concatenated bytea and are split again in SQL.
                deps.push(s.deps.iter().flat_map(|d| d.0).collect::<Vec<u8>>());
                waiting.push(s.deps.len() as i32);
                states.push(rules::first_state(s, now).name());
            }
            tx.execute(
                "INSERT INTO subtasks (id, job, job_seq, ordinal, spec, model, deps, waiting, \
                 state, not_before) \
                 SELECT u.id, $2, $3, u.ordinal, u.spec, u.model, \
                   ARRAY(SELECT substring(u.deps FROM g * 16 + 1 FOR 16) \
                         FROM generate_series(0, length(u.deps) / 16 - 1) AS g), \
                   u.waiting, u.state, CASE WHEN u.state = 'ready' THEN $4::bigint END \
                 FROM unnest($1::bytea[], $5::int[], $6::bytea[], $7::text[], $8::bytea[], \
                             $9::int[], $10::text[]) \
                   AS u(id, ordinal, spec, model, deps, waiting, state)",
                &[
                    &ids,
                    &&job_id.0[..],
                    &(job.seq as i64),
                    &(now as i64),
                    &ordinals,
                    &specs,
                    &models,
                    &deps,
                    &waiting,
                    &states,
                ],
            )
            .await?;
            job.state = JobState::Running;
            save_job(tx, &job).await?;
            tx.execute(
                "UPDATE jobs SET remaining = $2 WHERE id = $1",
                &[&&job_id.0[..], &(subtasks.len() as i32)],
            )
            .await?;
            let rec = rules::record(
                Event::Decompose,
                now,
                job_id,
                None,
                None,
                format!("{} subtasks", subtasks.len()),
            );
            append(tx, vec![rec]).await?;
            Ok(())
        })
    }

    async fn fail_job(
        &self,
        job_id: MessageId,
        reason: &str,
        now: Millis,
    ) -> Result<(), StoreError> {
        in_tx!(self, |tx| {
            let Some((job, _)) = lock_job(tx, job_id).await? else {
                return Err(StoreError::NoJob(job_id).into());
            };
            if job.state.is_final() {
                return Err(StoreError::WrongState {
                    job: job_id,
                    state: job.state.name(),
                    what: "failing it",
                    wanted: "decomposing or running",
                }
                .into());
            }
            let mut audit = Vec::new();
            let state = JobState::Failed {
                reason: reason.to_owned(),
            };
            end_job(tx, job, state, now, &mut audit).await?;
            append(tx, audit).await?;
            Ok(())
        })
    }

    async fn to_merge(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        self.jobs_in("merging", limit).await
    }

    async fn settle(
        &self,
        job_id: MessageId,
        settlement: Settlement,
        now: Millis,
    ) -> Result<(), StoreError> {
        in_tx!(self, |tx| {
            let Some((mut job, _)) = lock_job(tx, job_id).await? else {
                return Err(StoreError::NoJob(job_id).into());
            };
            let record = rules::settle(&mut job, settlement.clone(), now)?;
            save_job(tx, &job).await?;
            append(tx, vec![record]).await?;
            Ok(())
        })
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
        if slots == 0 || limit == 0 {
            return Ok(Vec::new());
        }
        in_tx!(self, |tx| {
            // Two coordinators answering the same agent at once must not both fill its limit.
            let serialise = tx.prepare_cached("SELECT pg_advisory_xact_lock(hashtext($1))").await?;
            tx.execute(&serialise, &[&agent.as_str()]).await?;
            let count = tx
                .prepare_cached("SELECT count(*) FROM subtasks WHERE state = 'leased' AND agent = $1")
                .await?;
            let held: i64 = tx.query_one(&count, &[&agent.as_str()]).await?.get(0);
            let slots = slots.min(limit.saturating_sub(held as usize));
            if slots == 0 {
                return Ok(Vec::new());
            }
            let locked = take_ready(tx, models, slots, now).await?;
            let mut audit = Vec::new();
            let mut granted = Vec::with_capacity(locked.len());
            for mut subtask in locked {
                audit.push(rules::grant(&mut subtask, agent, MessageId::random(), lease, now));
                granted.push(subtask);
            }
            futures_util::future::try_join_all(granted.iter().map(|s| save_subtask(tx, s))).await?;
            let mut jobs: Vec<&[u8]> = granted.iter().map(|s| &s.job.0[..]).collect();
            jobs.sort_unstable();
            jobs.dedup();
            let read_specs = tx.prepare_cached("SELECT id, spec FROM jobs WHERE id = ANY($1)").await?;
            let specs: HashMap<Vec<u8>, JobSpec> = tx
                .query(&read_specs, &[&jobs])
                .await?
                .iter()
                .map(|row| Ok((row.get::<_, Vec<u8>>(0), unjson::<JobSpec>(row.get(1))?)))
                .collect::<Result<_, StoreError>>()?;
            let mut out = Vec::with_capacity(granted.len());
            for subtask in granted {
                let spec = specs
                    .get(&subtask.job.0[..])
                    .ok_or_else(|| StoreError::NoJob(subtask.job))?;
                let context = dependency_outputs(tx, &subtask.spec).await?;
                let SubtaskState::Leased { lease, expires, .. } = subtask.state else {
                    unreachable!("granted subtasks are leased")
                };
                out.push(Assignment {
                    job: subtask.job,
                    subtask: subtask.spec,
                    lease,
                    expires,
                    attempt: subtask.attempts,
                    lang: spec.lang,
                    snapshot: spec.snapshot.clone(),
                    context,
                });
            }
            append(tx, audit).await?;
            Ok(out)
        })
    }

    async fn renew(
        &self,
        agent: &AgentId,
        running: usize,
        lease: Duration,
        now: Millis,
    ) -> Result<usize, StoreError> {
        if running == 0 {
            return Ok(0);
        }
        let client = self.pool.get().await.map_err(backend)?;
        let expires = (now + lease.as_millis() as u64) as i64;
        let statement = client
            .prepare_cached(
                "UPDATE subtasks SET expires = GREATEST(expires, $2) \
                 WHERE state = 'leased' AND agent = $1",
            )
            .await
            .map_err(pg)?;
        let n = client.execute(&statement, &[&agent.as_str(), &expires]).await.map_err(pg)?;
        Ok(n as usize)
    }

    async fn report(
        &self,
        lease: MessageId,
        agent: &AgentId,
        report: Report,
        now: Millis,
    ) -> Result<Accepted, StoreError> {
        let backoff = self.backoff;
        let report = &report;
        in_tx!(self, |tx| {
            let Some((job, mut subtask)) = lock_subtask(tx, "lease", lease).await? else {
                return Ok(Accepted::Stale);
            };
            if !rules::holds(&subtask, lease, agent) {
                return Ok(Accepted::Stale);
            }
            let (moved, rec) =
                rules::apply_report(&mut subtask, &job, report.clone(), agent, &backoff, now);
            save_subtask(tx, &subtask).await?;
            let mut audit = vec![rec];
            let job_done = if moved == Moved::Done {
                after_done(tx, job, &subtask, now, &mut audit).await?
            } else {
                false
            };
            append(tx, audit).await?;
            Ok(Accepted::Recorded { job_done })
        })
    }

    async fn expire(&self, now: Millis) -> Result<usize, StoreError> {
        let backoff = self.backoff;
        let mut total = 0;
        loop {
            let n = in_tx!(self, |tx| {
                let rows = tx
                    .query(
                        &format!(
                            "SELECT s.id, {} , j.spec AS job_spec, j.seq AS jseq \
                                 FROM subtasks s JOIN jobs j ON j.id = s.job \
                                 WHERE s.state = 'leased' AND s.expires <= $1 \
                                 ORDER BY s.expires LIMIT 500 FOR UPDATE OF s SKIP LOCKED",
                            SUBTASK_COLUMNS
                                .split(", ")
                                .map(|c| format!("s.{}", c.trim()))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        &[&(now as i64)],
                    )
                    .await?;
                let mut audit = Vec::new();
                for row in &rows {
                    let mut subtask = subtask_from(row)?;
                    let SubtaskState::Leased { agent, .. } = subtask.state.clone() else {
                        continue;
                    };
                    let job = Job {
                        spec: unjson(row.get("job_spec"))?,
                        seq: row.get::<_, i64>("jseq") as u64,
                        state: JobState::Running,
                        submitted: 0,
                        finished: None,
                    };
                    let (_, rec) = rules::fail(
                        &mut subtask,
                        &job,
                        "the lease expired",
                        Some(&agent),
                        &backoff,
                        now,
                    );
                    save_subtask(tx, &subtask).await?;
                    audit.push(rec);
                }
                append(tx, audit).await?;
                Ok(rows.len())
            })?;
            total += n;
            if n < 500 {
                return Ok(total);
            }
        }
    }

    async fn escalated(&self, limit: usize) -> Result<Vec<(Job, SubtaskSpec, String)>, StoreError> {
        let client = self.pool.get().await.map_err(backend)?;
        let rows = client
            .query(
                "SELECT s.spec AS sspec, s.escalation, j.*, j.remaining FROM subtasks s \
                 JOIN jobs j ON j.id = s.job WHERE s.state = 'escalated' \
                 ORDER BY s.job_seq, s.ordinal LIMIT $1",
                &[&(limit as i64)],
            )
            .await
            .map_err(pg)?;
        rows.iter()
            .map(|r| {
                Ok((
                    job_from(r)?,
                    unjson(r.get("sspec"))?,
                    r.get::<_, Option<String>>("escalation").unwrap_or_default(),
                ))
            })
            .collect()
    }

    async fn resolve(
        &self,
        subtask_id: MessageId,
        answer: Result<String, String>,
        now: Millis,
    ) -> Result<Accepted, StoreError> {
        let answer = &answer;
        in_tx!(self, |tx| {
            let Some((job, mut subtask)) = lock_subtask(tx, "id", subtask_id).await? else {
                return Ok(Accepted::Stale);
            };
            if !matches!(subtask.state, SubtaskState::Escalated { .. }) {
                return Ok(Accepted::Stale);
            }
            let mut audit = Vec::new();
            let accepted = match rules::apply_resolution(&mut subtask, answer.clone(), now) {
                Ok((_, rec)) => {
                    save_subtask(tx, &subtask).await?;
                    audit.push(rec);
                    let job_done = after_done(tx, job, &subtask, now, &mut audit).await?;
                    Accepted::Recorded { job_done }
                }
                Err(reason) => {
                    let state = JobState::Failed {
                        reason: format!(
                            "subtask {} failed on agents and the parent model: {reason}",
                            subtask.spec.ordinal
                        ),
                    };
                    end_job(tx, job, state, now, &mut audit).await?;
                    Accepted::Recorded { job_done: false }
                }
            };
            append(tx, audit).await?;
            Ok(accepted)
        })
    }

    async fn cancel(&self, job_id: MessageId, now: Millis) -> Result<bool, StoreError> {
        in_tx!(self, |tx| {
            let Some((job, _)) = lock_job(tx, job_id).await? else {
                return Err(StoreError::NoJob(job_id).into());
            };
            if job.state.is_final() {
                return Ok(false);
            }
            let mut audit = Vec::new();
            end_job(tx, job, JobState::Cancelled, now, &mut audit).await?;
            append(tx, audit).await?;
            Ok(true)
        })
    }

    async fn job_only(&self, job_id: MessageId) -> Result<Option<Job>, StoreError> {
        let client = self.pool.get().await.map_err(backend)?;
        let statement = client
            .prepare_cached("SELECT *, remaining FROM jobs WHERE id = $1")
            .await
            .map_err(pg)?;
        match client
            .query_opt(&statement, &[&&job_id.0[..]])
            .await
            .map_err(pg)?
        {
            Some(row) => Ok(Some(job_from(&row)?)),
            None => Ok(None),
        }
    }

    async fn job(&self, job_id: MessageId) -> Result<Option<JobView>, StoreError> {
        let client = self.pool.get().await.map_err(backend)?;
        let Some(row) = client
            .query_opt(
                "SELECT *, remaining FROM jobs WHERE id = $1",
                &[&&job_id.0[..]],
            )
            .await
            .map_err(pg)?
        else {
            return Ok(None);
        };
        let job = job_from(&row)?;
        let rows = client
            .query(
                &format!(
                    "SELECT id, {SUBTASK_COLUMNS} FROM subtasks WHERE job = $1 ORDER BY ordinal"
                ),
                &[&&job_id.0[..]],
            )
            .await
            .map_err(pg)?;
        let subtasks = rows
            .iter()
            .map(|r| subtask_from(r).map(|s| super::core::view(&s)))
            .collect::<Result<_, _>>()?;
        Ok(Some(JobView { job, subtasks }))
    }

    async fn recent_jobs(&self, limit: usize) -> Result<Vec<Job>, StoreError> {
        let client = self.pool.get().await.map_err(backend)?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        client
            .query("SELECT *, remaining FROM jobs ORDER BY seq DESC LIMIT $1", &[&limit])
            .await
            .map_err(pg)?
            .iter()
            .map(job_from)
            .collect()
    }

    async fn counts(&self) -> Result<Counts, StoreError> {
        let client = self.pool.get().await.map_err(backend)?;
        let jobs = client
            .query("SELECT state, count(*) FROM jobs GROUP BY state", &[])
            .await
            .map_err(pg)?;
        let subtasks = client
            .query("SELECT state, count(*) FROM subtasks GROUP BY state", &[])
            .await
            .map_err(pg)?;
        let mut counts = Counts::default();
        for row in jobs {
            let n = row.get::<_, i64>(1) as u64;
            match row.get::<_, &str>(0) {
                "decomposing" => counts.decomposing = n,
                "running" => counts.running = n,
                "done" => counts.done = n,
                _ => {}
            }
        }
        for row in subtasks {
            let n = row.get::<_, i64>(1) as u64;
            match row.get::<_, &str>(0) {
                "ready" => counts.ready = n,
                "leased" => counts.leased = n,
                "done" => counts.finished = n,
                "escalated" => counts.escalated = n,
                _ => {}
            }
        }
        Ok(counts)
    }

    async fn audit(&self, after: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let client = self.pool.get().await.map_err(backend)?;
        let rows = client
            .query(
                "SELECT entry FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                &[&(after as i64), &(limit as i64)],
            )
            .await
            .map_err(pg)?;
        rows.iter().map(|r| unjson(r.get(0))).collect()
    }

    async fn audit_before(&self, before: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let client = self.pool.get().await.map_err(backend)?;
        let before = i64::try_from(before).unwrap_or(i64::MAX);
        let rows = client
            .query("SELECT entry FROM audit WHERE seq < $1 ORDER BY seq DESC LIMIT $2", &[&before, &(limit as i64)])
            .await
            .map_err(pg)?;
        rows.iter().map(|r| unjson(r.get(0))).collect()
    }

    async fn note(&self, record: Record) -> Result<(), StoreError> {
        let record = &record;
        in_tx!(self, |tx| {
            append(tx, vec![record.clone()]).await?;
            Ok(())
        })
    }
}
