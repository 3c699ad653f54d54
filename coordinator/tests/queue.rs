//! The queue's behaviour, run against both stores: the embedded redb file and PostgreSQL
//! (`EDGECODER_TEST_PG`, default `postgres://postgres@127.0.0.1/test`; each test gets its own
//! schema).

use edgecoder_coordinator::audit::{Entry, Event, Record};
use edgecoder_coordinator::model::{Settlement, 
    Accepted, Aggregate, Backoff, JobSpec, JobState, Report, SubtaskSpec,
};
use edgecoder_coordinator::store::{Embedded, Postgres, Store, StoreError, verify_audit};
use edgecoder_protocol::ids::{AgentId, MessageId, Sha256};
use edgecoder_protocol::run::{Lang, Limits};
use edgecoder_protocol::swarm::{Snapshot, WorkMode};
use std::sync::Arc;
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(10);

fn backoff() -> Backoff {
    Backoff {
        first: Duration::from_millis(100),
        max: Duration::from_secs(1),
    }
}

fn pg_url() -> String {
    std::env::var("EDGECODER_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1/test".into())
}

/// A fresh embedded store in its own folder (kept alive by the returned guard).
fn embedded() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Embedded::open(&dir.path().join("queue.redb"), backoff()).unwrap();
    (Arc::new(store), dir)
}

/// A fresh PostgreSQL schema.
async fn postgres() -> (Arc<dyn Store>, String) {
    let schema = format!("ec_test_{}", MessageId::random()).to_lowercase();
    let store = Postgres::connect(&pg_url(), &schema, backoff())
        .await
        .expect("PostgreSQL at EDGECODER_TEST_PG must be running for the coordinator tests");
    (Arc::new(store), schema)
}

async fn drop_schema(schema: &str) {
    let (client, connection) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

/// Runs a scenario against both stores.
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        mod embedded_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, _dir) = super::embedded();
                    super::$name(store).await;
                }
            )*
        }
        mod postgres_store {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let (store, schema) = super::postgres().await;
                    super::$name(store).await;
                    super::drop_schema(&schema).await;
                }
            )*
        }
    };
}

on_both_stores!(
    submitting_is_idempotent_and_a_changed_spec_is_refused,
    a_dag_runs_in_dependency_order_and_passes_outputs_as_context,
    an_invalid_decomposition_leaves_the_job_waiting,
    an_expired_lease_is_requeued_and_its_late_result_is_dropped,
    failures_back_off_then_escalate_to_the_parent_model,
    a_failed_escalation_fails_the_job_and_cancels_the_rest,
    heartbeats_renew_leases,
    an_agent_asking_again_never_holds_more_than_its_limit,
    leases_an_idle_agent_never_received_expire_and_free_its_slots,
    patches_wait_for_their_merge_and_a_conflict_for_a_resolution,
    a_released_lease_does_not_count_as_an_attempt,
    claims_prefer_the_loaded_model_and_share_fairly_across_jobs,
    an_agent_cannot_report_on_another_agents_lease,
    a_cancelled_job_hands_out_nothing_and_ignores_results,
    concurrent_claimers_never_get_the_same_subtask,
    recent_jobs_come_newest_first,
    the_audit_log_reads_from_its_end,
);

/// A limit that never binds, for scenarios about other rules than the per-agent limit.
const NO_CAP: usize = usize::MAX;

fn agent(name: &str) -> AgentId {
    AgentId::new(name).unwrap()
}

fn job_spec(max_attempts: u16) -> JobSpec {
    JobSpec {
        id: MessageId::random(),
        tenant: "acme".into(),
        lang: Lang::Python,
        instruction: "write a calculator".into(),
        tests: None,
        snapshot: Snapshot {
            sha256: Sha256([7; 32]),
            bytes: 1234,
        },
        aggregate: Aggregate::Concatenate,
        max_attempts,
    }
}

fn subtask(ordinal: u32, deps: &[MessageId]) -> SubtaskSpec {
    SubtaskSpec {
        id: MessageId::random(),
        ordinal,
        instruction: format!("step {ordinal}"),
        mode: WorkMode::Step,
        tests: None,
        deps: deps.to_vec(),
        model: None,
        limits: Limits::default(),
        file: None,
    }
}

/// A submitted and planned job of `n` independent subtasks.
async fn running_job(store: &dyn Store, n: u32, max_attempts: u16) -> (JobSpec, Vec<SubtaskSpec>) {
    let spec = job_spec(max_attempts);
    store.submit(spec.clone(), 0).await.unwrap();
    let subtasks: Vec<SubtaskSpec> = (0..n).map(|i| subtask(i, &[])).collect();
    store.plan(spec.id, subtasks.clone(), 0).await.unwrap();
    (spec, subtasks)
}

async fn done(
    store: &dyn Store,
    lease: MessageId,
    who: &AgentId,
    output: &str,
    now: u64,
) -> Accepted {
    store
        .report(
            lease,
            who,
            Report::Completed {
                output: output.into(),
            },
            now,
        )
        .await
        .unwrap()
}

async fn assert_audit_verifies(store: &dyn Store) -> u64 {
    verify_audit(store)
        .await
        .unwrap()
        .expect("the audit chain verifies")
        .seq
}

async fn recent_jobs_come_newest_first(store: Arc<dyn Store>) {
    assert!(store.recent_jobs(10).await.unwrap().is_empty());
    let specs: Vec<JobSpec> = (0..3).map(|_| job_spec(3)).collect();
    for (i, spec) in specs.iter().enumerate() {
        store.submit(spec.clone(), i as u64).await.unwrap();
    }
    let recent = store.recent_jobs(2).await.unwrap();
    let ids: Vec<MessageId> = recent.iter().map(|j| j.spec.id).collect();
    assert_eq!(ids, vec![specs[2].id, specs[1].id]);
    assert_eq!(recent[0].state, JobState::Decomposing);
}

async fn the_audit_log_reads_from_its_end(store: Arc<dyn Store>) {
    assert!(store.audit_before(u64::MAX, 10).await.unwrap().is_empty());
    for n in 0..5 {
        store
            .note(Record {
                event: Event::PolicyChange,
                at: n,
                job: None,
                subtask: None,
                agent: None,
                result_hash: None,
                detail: format!("change {n}"),
            })
            .await
            .unwrap();
    }
    let seqs = |entries: Vec<Entry>| entries.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(seqs(store.audit_before(u64::MAX, 2).await.unwrap()), vec![5, 4]);
    assert_eq!(seqs(store.audit_before(4, 10).await.unwrap()), vec![3, 2, 1]);
    assert!(store.audit_before(1, 10).await.unwrap().is_empty());
    let newest = store.audit_before(u64::MAX, 1).await.unwrap();
    assert_eq!(newest[0].record.detail, "change 4");
}

async fn submitting_is_idempotent_and_a_changed_spec_is_refused(store: Arc<dyn Store>) {
    let spec = job_spec(3);
    assert!(store.submit(spec.clone(), 1).await.unwrap());
    assert!(
        !store.submit(spec.clone(), 2).await.unwrap(),
        "a repeat creates nothing"
    );
    let mut changed = spec.clone();
    changed.instruction = "something else".into();
    assert!(matches!(
        store.submit(changed, 3).await,
        Err(StoreError::Conflict(id)) if id == spec.id
    ));
    let mut empty = job_spec(3);
    empty.instruction = "  ".into();
    assert!(matches!(
        store.submit(empty, 4).await,
        Err(StoreError::InvalidJob(_))
    ));
    let waiting = store.to_decompose(10).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].spec, spec);
    let audit = store.audit(0, 100).await.unwrap();
    assert_eq!(audit.len(), 1, "one submit recorded: {audit:?}");
    assert_eq!(audit[0].record.event, Event::Submit);
    assert_audit_verifies(&*store).await;
}

async fn a_dag_runs_in_dependency_order_and_passes_outputs_as_context(store: Arc<dyn Store>) {
    let spec = job_spec(3);
    store.submit(spec.clone(), 0).await.unwrap();
    let a = subtask(0, &[]);
    let b = subtask(1, &[]);
    let c = subtask(2, &[b.id, a.id]);
    let d = subtask(3, &[c.id]);
    store
        .plan(
            spec.id,
            vec![d.clone(), c.clone(), b.clone(), a.clone()],
            10,
        )
        .await
        .unwrap();
    assert!(store.to_decompose(10).await.unwrap().is_empty());
    let w = agent("w1");
    let first = store.claim(&w, &[], 10, NO_CAP, LEASE, 20).await.unwrap();
    let mut got: Vec<u32> = first.iter().map(|x| x.subtask.ordinal).collect();
    got.sort();
    assert_eq!(
        got,
        [0, 1],
        "only subtasks without open dependencies are handed out"
    );
    assert!(
        first
            .iter()
            .all(|x| x.attempt == 1 && x.snapshot == spec.snapshot)
    );
    for x in &first {
        let out = format!("out {}", x.subtask.ordinal);
        assert_eq!(
            done(&*store, x.lease, &w, &out, 30).await,
            Accepted::Recorded { job_done: false }
        );
    }
    let second = store.claim(&w, &[], 10, NO_CAP, LEASE, 40).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].subtask.id, c.id);
    assert_eq!(
        second[0].context,
        vec![
            (0, "step 0".to_string(), "out 0".to_string()),
            (1, "step 1".to_string(), "out 1".to_string())
        ],
        "the outputs of both dependencies, in order"
    );
    assert_eq!(
        done(&*store, second[0].lease, &w, "out 2", 50).await,
        Accepted::Recorded { job_done: false }
    );
    let third = store.claim(&w, &[], 10, NO_CAP, LEASE, 60).await.unwrap();
    assert_eq!(third[0].subtask.id, d.id);
    assert_eq!(third[0].context.len(), 1);
    assert_eq!(
        done(&*store, third[0].lease, &w, "out 3\n", 70).await,
        Accepted::Recorded { job_done: true }
    );
    let view = store.job(spec.id).await.unwrap().unwrap();
    match view.job.state {
        JobState::Done { result, .. } => assert_eq!(result, "out 0\n\nout 1\n\nout 2\n\nout 3"),
        other => panic!("job not done: {other:?}"),
    }
    assert!(view.subtasks.iter().all(|s| s.state == "done"));
    let events: Vec<Event> = store
        .audit(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.record.event)
        .collect();
    assert_eq!(events.iter().filter(|e| **e == Event::Complete).count(), 4);
    assert_eq!(events.last(), Some(&Event::JobEnd));
    assert_audit_verifies(&*store).await;
}

async fn an_invalid_decomposition_leaves_the_job_waiting(store: Arc<dyn Store>) {
    let spec = job_spec(3);
    store.submit(spec.clone(), 0).await.unwrap();
    let a = subtask(0, &[]);
    let mut b = subtask(1, &[]);
    let c = subtask(2, &[b.id]);
    b.deps = vec![c.id];
    let bad_plans: Vec<(Vec<SubtaskSpec>, &str)> = vec![
        (vec![], "a job needs at least one subtask"),
        (vec![a.clone(), b.clone(), c.clone()], "form a cycle"),
        (
            vec![a.clone(), subtask(1, &[MessageId::random()])],
            "is not a subtask of this job",
        ),
        (vec![a.clone(), a.clone()], "appears twice"),
        (vec![a.clone(), subtask(1, &[a.id, a.id])], "twice"),
    ];
    for (plan, wanted) in bad_plans {
        let error = store.plan(spec.id, plan, 1).await.unwrap_err();
        assert!(
            error.to_string().contains(wanted),
            "{error} should say {wanted:?}"
        );
    }
    assert_eq!(
        store.to_decompose(10).await.unwrap().len(),
        1,
        "the job still waits"
    );
    assert!(
        store
            .claim(&agent("w"), &[], 5, NO_CAP, LEASE, 2)
            .await
            .unwrap()
            .is_empty()
    );
    store.plan(spec.id, vec![a.clone()], 3).await.unwrap();
    assert!(matches!(
        store.plan(spec.id, vec![subtask(0, &[])], 4).await,
        Err(StoreError::WrongState { .. })
    ));
    let other = job_spec(3);
    store.submit(other.clone(), 5).await.unwrap();
    assert!(matches!(
        store.plan(other.id, vec![a.clone()], 6).await,
        Err(StoreError::SubtaskTaken(id)) if id == a.id
    ));
    assert!(matches!(
        store.plan(MessageId::random(), vec![subtask(0, &[])], 7).await,
        Err(StoreError::NoJob(_))
    ));
    assert_audit_verifies(&*store).await;
}

async fn an_expired_lease_is_requeued_and_its_late_result_is_dropped(store: Arc<dyn Store>) {
    let (spec, _) = running_job(&*store, 1, 3).await;
    let (slow, fast) = (agent("slow"), agent("fast"));
    let first = store
        .claim(&slow, &[], 1, NO_CAP, Duration::from_secs(1), 1000)
        .await
        .unwrap();
    assert_eq!(store.expire(1999).await.unwrap(), 0, "not yet expired");
    assert_eq!(store.expire(2000).await.unwrap(), 1);
    assert!(
        store
            .claim(&fast, &[], 1, NO_CAP, LEASE, 2050)
            .await
            .unwrap()
            .is_empty(),
        "the retry waits for its backoff"
    );
    let second = store.claim(&fast, &[], 1, NO_CAP, LEASE, 2100).await.unwrap();
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].attempt, 2);
    assert_ne!(second[0].lease, first[0].lease);
    assert_eq!(
        done(&*store, first[0].lease, &slow, "late", 2200).await,
        Accepted::Stale
    );
    assert_eq!(
        done(&*store, second[0].lease, &fast, "on time", 2300).await,
        Accepted::Recorded { job_done: true }
    );
    assert_eq!(
        done(&*store, second[0].lease, &fast, "again", 2400).await,
        Accepted::Stale
    );
    let view = store.job(spec.id).await.unwrap().unwrap();
    assert_eq!(view.subtasks[0].output.as_deref(), Some("on time"));
    assert!(
        view.subtasks[0]
            .last_failure
            .as_deref()
            .unwrap()
            .contains("lease expired")
    );
    let completes = store
        .audit(0, 100)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.record.event == Event::Complete)
        .count();
    assert_eq!(completes, 1, "a result is accepted at most once");
    assert_audit_verifies(&*store).await;
}

async fn failures_back_off_then_escalate_to_the_parent_model(store: Arc<dyn Store>) {
    let (spec, subtasks) = running_job(&*store, 1, 2).await;
    let w = agent("w");
    let fail = |reason: &str| Report::Failed {
        reason: reason.into(),
    };
    let a = store.claim(&w, &[], 1, NO_CAP, LEASE, 0).await.unwrap();
    store
        .report(a[0].lease, &w, fail("tests failed"), 10)
        .await
        .unwrap();
    assert!(
        store.claim(&w, &[], 1, NO_CAP, LEASE, 50).await.unwrap().is_empty(),
        "100 ms backoff"
    );
    let b = store.claim(&w, &[], 1, NO_CAP, LEASE, 110).await.unwrap();
    assert_eq!(b[0].attempt, 2);
    store
        .report(b[0].lease, &w, fail("still failing"), 120)
        .await
        .unwrap();
    assert!(
        store
            .claim(&w, &[], 1, NO_CAP, LEASE, 10_000)
            .await
            .unwrap()
            .is_empty(),
        "escalated, not requeued"
    );
    let escalated = store.escalated(10).await.unwrap();
    assert_eq!(escalated.len(), 1);
    assert_eq!(escalated[0].1.id, subtasks[0].id);
    assert!(escalated[0].2.contains("still failing"));
    assert_eq!(
        store
            .resolve(subtasks[0].id, Ok("parent answer".into()), 200)
            .await
            .unwrap(),
        Accepted::Recorded { job_done: true }
    );
    assert_eq!(
        store
            .resolve(subtasks[0].id, Ok("again".into()), 300)
            .await
            .unwrap(),
        Accepted::Stale
    );
    assert!(store.escalated(10).await.unwrap().is_empty());
    let view = store.job(spec.id).await.unwrap().unwrap();
    assert!(
        matches!(view.job.state, JobState::Done { ref result, .. } if result == "parent answer")
    );
    let events: Vec<Event> = store
        .audit(0, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.record.event)
        .collect();
    assert!(events.contains(&Event::Requeue) && events.contains(&Event::Escalate));
    assert_audit_verifies(&*store).await;
}

async fn a_failed_escalation_fails_the_job_and_cancels_the_rest(store: Arc<dyn Store>) {
    let (spec, subtasks) = running_job(&*store, 3, 1).await;
    let w = agent("w");
    let got = store.claim(&w, &[], 1, NO_CAP, LEASE, 0).await.unwrap();
    store
        .report(
            got[0].lease,
            &w,
            Report::Failed {
                reason: "no".into(),
            },
            1,
        )
        .await
        .unwrap();
    store
        .resolve(subtasks[0].id, Err("the parent model failed too".into()), 2)
        .await
        .unwrap();
    let view = store.job(spec.id).await.unwrap().unwrap();
    assert!(
        matches!(&view.job.state, JobState::Failed { reason } if reason.contains("parent model failed too"))
    );
    assert!(view.subtasks[1..].iter().all(|s| s.state == "cancelled"));
    assert!(store.claim(&w, &[], 5, NO_CAP, LEASE, 3).await.unwrap().is_empty());
    assert!(matches!(
        store.fail_job(spec.id, "again", 4).await,
        Err(StoreError::WrongState { .. })
    ));
    assert_audit_verifies(&*store).await;
}

async fn heartbeats_renew_leases(store: Arc<dyn Store>) {
    running_job(&*store, 2, 3).await;
    let w = agent("w");
    store
        .claim(&w, &[], 2, NO_CAP, Duration::from_secs(1), 0)
        .await
        .unwrap();
    assert_eq!(
        store.renew(&w, 0, Duration::from_secs(1), 500).await.unwrap(),
        0,
        "an agent that runs nothing keeps nothing alive"
    );
    assert_eq!(
        store.renew(&w, 2, Duration::from_secs(1), 900).await.unwrap(),
        2
    );
    assert_eq!(
        store
            .renew(&agent("idle"), 1, Duration::from_secs(1), 900)
            .await
            .unwrap(),
        0
    );
    assert_eq!(store.expire(1500).await.unwrap(), 0, "renewed until 1900");
    assert_eq!(store.expire(1900).await.unwrap(), 2);
    assert_audit_verifies(&*store).await;
}

async fn an_agent_asking_again_never_holds_more_than_its_limit(store: Arc<dyn Store>) {
    running_job(&*store, 10, 3).await;
    let w = agent("w");
    assert_eq!(store.claim(&w, &[], 3, 4, LEASE, 0).await.unwrap().len(), 3);
    let second = store.claim(&w, &[], 3, 4, LEASE, 1).await.unwrap();
    assert_eq!(second.len(), 1, "3 held + 1 reaches the limit of 4");
    assert!(store.claim(&w, &[], 3, 4, LEASE, 2).await.unwrap().is_empty());
    assert_eq!(
        store.claim(&agent("other"), &[], 3, 4, LEASE, 3).await.unwrap().len(),
        3,
        "the limit is per agent"
    );
    store
        .report(second[0].lease, &w, Report::Completed { output: "ok".into() }, 4)
        .await
        .unwrap();
    assert_eq!(
        store.claim(&w, &[], 3, 4, LEASE, 5).await.unwrap().len(),
        1,
        "a reported lease frees its slot"
    );
    assert_eq!(store.counts().await.unwrap().leased, 7);
    assert_audit_verifies(&*store).await;
}

async fn leases_an_idle_agent_never_received_expire_and_free_its_slots(store: Arc<dyn Store>) {
    running_job(&*store, 2, 3).await;
    let w = agent("w");
    let lease = Duration::from_secs(1);
    // Work sent just before the broker went away never reached the agent.
    assert_eq!(store.claim(&w, &[], 2, 2, lease, 0).await.unwrap().len(), 2);
    assert!(store.claim(&w, &[], 2, 2, lease, 100).await.unwrap().is_empty());
    assert_eq!(store.renew(&w, 0, lease, 900).await.unwrap(), 0);
    assert_eq!(store.expire(1000).await.unwrap(), 2);
    let again = store.claim(&w, &[], 2, 2, lease, 1200).await.unwrap();
    assert_eq!(again.len(), 2, "the expired leases no longer count against the agent");
    assert!(again.iter().all(|a| a.attempt == 2), "{again:?}");
    assert_audit_verifies(&*store).await;
}

async fn patches_wait_for_their_merge_and_a_conflict_for_a_resolution(store: Arc<dyn Store>) {
    let w = agent("w");
    let mut ids = Vec::new();
    for t in 0..2 {
        let mut spec = job_spec(3);
        spec.aggregate = Aggregate::MergePatches;
        store.submit(spec.clone(), t).await.unwrap();
        store.plan(spec.id, vec![subtask(0, &[]), subtask(1, &[])], t).await.unwrap();
        for got in store.claim(&w, &[], 2, NO_CAP, LEASE, 10 + t).await.unwrap() {
            done(&*store, got.lease, &w, "--- a/f\n+++ b/f\n", 20 + t).await;
        }
        ids.push(spec.id);
    }
    let state = |id| {
        let store = store.clone();
        async move { store.job(id).await.unwrap().unwrap().job.state }
    };
    assert_eq!(state(ids[0]).await, JobState::Merging, "every subtask done: the patches wait");
    let waiting: Vec<_> = store.to_merge(10).await.unwrap().iter().map(|j| j.spec.id).collect();
    assert_eq!(waiting, ids, "oldest first");

    store.settle(ids[0], Settlement::Merged("merged diff".into()), 30).await.unwrap();
    assert!(matches!(state(ids[0]).await, JobState::Done { result, .. } if result == "merged diff"));
    store.settle(ids[1], Settlement::Conflict("the patches conflict in f".into()), 31).await.unwrap();
    assert_eq!(state(ids[1]).await, JobState::Conflict { detail: "the patches conflict in f".into() });
    assert!(store.to_merge(10).await.unwrap().is_empty(), "settled jobs are not merged again");

    let again = store.settle(ids[1], Settlement::Conflict("another conflict".into()), 32).await.unwrap_err();
    assert!(matches!(again, StoreError::WrongState { .. }), "a conflict waits for a resolution, not another merge: {again}");
    let by_parent = store.settle(ids[1], Settlement::ResolvedByParent("too late".into()), 33).await.unwrap_err();
    assert!(matches!(by_parent, StoreError::WrongState { .. }), "the parent model resolves only while merging: {by_parent}");
    store.settle(ids[1], Settlement::ResolvedByPerson("resolved by a person".into()), 33).await.unwrap();
    assert!(matches!(state(ids[1]).await, JobState::Done { result, .. } if result == "resolved by a person"));
    let late = store.settle(ids[0], Settlement::ResolvedByPerson("late".into()), 34).await.unwrap_err();
    assert!(matches!(late, StoreError::WrongState { .. }), "{late}");
    assert!(matches!(store.settle(MessageId::random(), Settlement::Merged(String::new()), 35).await, Err(StoreError::NoJob(_))));

    let mut spec = job_spec(3);
    spec.aggregate = Aggregate::MergePatches;
    store.submit(spec.clone(), 40).await.unwrap();
    store.plan(spec.id, vec![subtask(0, &[])], 40).await.unwrap();
    let got = store.claim(&w, &[], 1, NO_CAP, LEASE, 41).await.unwrap();
    done(&*store, got[0].lease, &w, "patch", 42).await;
    assert!(store.cancel(spec.id, 43).await.unwrap(), "a merging job can be cancelled");
    assert!(store.to_merge(10).await.unwrap().is_empty());
    assert_audit_verifies(&*store).await;
}

async fn a_released_lease_does_not_count_as_an_attempt(store: Arc<dyn Store>) {
    running_job(&*store, 1, 1).await;
    let w = agent("w");
    let a = store.claim(&w, &[], 1, NO_CAP, LEASE, 0).await.unwrap();
    let released = Report::Released {
        reason: "the user came back".into(),
    };
    assert_eq!(
        store.report(a[0].lease, &w, released, 5).await.unwrap(),
        Accepted::Recorded { job_done: false }
    );
    let b = store.claim(&w, &[], 1, NO_CAP, LEASE, 5).await.unwrap();
    assert_eq!(b.len(), 1, "ready again at once");
    assert_eq!(b[0].attempt, 1, "the released attempt did not count");
    assert_audit_verifies(&*store).await;
}

async fn claims_prefer_the_loaded_model_and_share_fairly_across_jobs(store: Arc<dyn Store>) {
    let (one, _) = running_job(&*store, 3, 3).await;
    let (two, _) = running_job(&*store, 3, 3).await;
    let three = job_spec(3);
    store.submit(three.clone(), 0).await.unwrap();
    let mut special = subtask(5, &[]);
    special.model = Some("qwen2.5-coder-1.5b".into());
    store
        .plan(three.id, vec![special.clone()], 0)
        .await
        .unwrap();

    let big = agent("big");
    let got = store
        .claim(&big, &["qwen2.5-coder-1.5b".into()], 1, NO_CAP, LEASE, 1)
        .await
        .unwrap();
    assert_eq!(
        got[0].subtask.id, special.id,
        "the subtask for the loaded model comes first"
    );

    let small = agent("small");
    let mut order = Vec::new();
    for t in 0..6 {
        let got = store.claim(&small, &[], 1, NO_CAP, LEASE, 2 + t).await.unwrap();
        order.push((got[0].job, got[0].subtask.ordinal));
    }
    assert_eq!(
        order,
        vec![
            (one.id, 0),
            (two.id, 0),
            (one.id, 1),
            (two.id, 1),
            (one.id, 2),
            (two.id, 2)
        ],
        "round-robin across jobs, older job first"
    );
}

async fn an_agent_cannot_report_on_another_agents_lease(store: Arc<dyn Store>) {
    let (spec, _) = running_job(&*store, 1, 3).await;
    let (a, b) = (agent("a"), agent("b"));
    let got = store.claim(&a, &[], 1, NO_CAP, LEASE, 0).await.unwrap();
    assert_eq!(
        done(&*store, got[0].lease, &b, "forged", 1).await,
        Accepted::Stale
    );
    assert_eq!(
        done(&*store, MessageId::random(), &a, "unknown lease", 1).await,
        Accepted::Stale
    );
    let view = store.job(spec.id).await.unwrap().unwrap();
    assert_eq!(view.subtasks[0].state, "leased");
    assert_eq!(view.subtasks[0].agent.as_deref(), Some("a"), "the view names the lease holder");
    assert_eq!(
        done(&*store, got[0].lease, &a, "real", 2).await,
        Accepted::Recorded { job_done: true }
    );
    let view = store.job(spec.id).await.unwrap().unwrap();
    assert_eq!(view.subtasks[0].agent.as_deref(), Some("a"), "and who produced the result");
}

async fn a_cancelled_job_hands_out_nothing_and_ignores_results(store: Arc<dyn Store>) {
    let (spec, _) = running_job(&*store, 3, 3).await;
    let w = agent("w");
    let got = store.claim(&w, &[], 1, NO_CAP, LEASE, 0).await.unwrap();
    assert!(store.cancel(spec.id, 1).await.unwrap());
    assert!(!store.cancel(spec.id, 2).await.unwrap(), "already final");
    assert!(store.claim(&w, &[], 5, NO_CAP, LEASE, 3).await.unwrap().is_empty());
    assert_eq!(
        done(&*store, got[0].lease, &w, "too late", 4).await,
        Accepted::Stale
    );
    assert_eq!(
        store.expire(u64::MAX / 2).await.unwrap(),
        0,
        "cancelled leases do not expire into the queue"
    );
    let view = store.job(spec.id).await.unwrap().unwrap();
    assert_eq!(view.job.state, JobState::Cancelled);
    assert!(view.subtasks.iter().all(|s| s.state == "cancelled"));
    assert!(matches!(
        store.cancel(MessageId::random(), 5).await,
        Err(StoreError::NoJob(_))
    ));
    assert_audit_verifies(&*store).await;
}

async fn concurrent_claimers_never_get_the_same_subtask(store: Arc<dyn Store>) {
    let (spec, _) = running_job(&*store, 300, 3).await;
    let mut workers = Vec::new();
    for i in 0..6 {
        let store = store.clone();
        workers.push(tokio::spawn(async move {
            let me = agent(&format!("w{i}"));
            let mut mine = Vec::new();
            loop {
                let got = store.claim(&me, &[], 4, NO_CAP, LEASE, 1).await.unwrap();
                if got.is_empty() {
                    return mine;
                }
                for x in got {
                    let out = format!("{}", x.subtask.ordinal);
                    assert!(matches!(
                        done(&*store, x.lease, &me, &out, 2).await,
                        Accepted::Recorded { .. }
                    ));
                    mine.push(x.subtask.id);
                }
            }
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(
        (total, all.len()),
        (300, 300),
        "each subtask handed out exactly once"
    );
    let view = store.job(spec.id).await.unwrap().unwrap();
    assert!(matches!(view.job.state, JobState::Done { .. }));
    assert_eq!(assert_audit_verifies(&*store).await, 1 + 1 + 300 + 300 + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_queue_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.redb");
    let w = agent("w");
    let (spec, lease) = {
        let store = Embedded::open(&path, backoff()).unwrap();
        let (spec, _) = running_job(&store, 3, 3).await;
        let a = store.claim(&w, &[], 2, NO_CAP, LEASE, 0).await.unwrap();
        done(&store, a[0].lease, &w, "kept", 1).await;
        (spec, a[1].lease)
    };
    let store = Embedded::open(&path, backoff()).unwrap();
    let view = store.job(spec.id).await.unwrap().unwrap();
    let states: Vec<&str> = view.subtasks.iter().map(|s| s.state.as_str()).collect();
    assert_eq!(states, ["done", "leased", "ready"]);
    assert_eq!(view.subtasks[0].output.as_deref(), Some("kept"));
    assert_eq!(
        done(&store, lease, &w, "after restart", 2).await,
        Accepted::Recorded { job_done: false }
    );
    let c = store.claim(&w, &[], 5, NO_CAP, LEASE, 3).await.unwrap();
    assert_eq!(c.len(), 1);
    assert_eq!(
        done(&store, c[0].lease, &w, "last", 4).await,
        Accepted::Recorded { job_done: true }
    );
    assert_audit_verifies(&store).await;
}

/// Reports arriving all at once on PostgreSQL, each lease's twice and once from another agent:
/// each lease is recorded once, the others are stale, every job ends, the chain is intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_concurrent_reports_is_recorded_once_per_lease() {
    let (store, schema) = postgres().await;
    let (one, _) = running_job(&*store, 150, 3).await;
    let (two, _) = running_job(&*store, 150, 3).await;
    let me = agent("burst");
    let claimed = store.claim(&me, &[], 300, NO_CAP, LEASE, 1).await.unwrap();
    assert_eq!(claimed.len(), 300);
    let mut reports = Vec::new();
    for (i, assignment) in claimed.iter().enumerate() {
        for who in [me.clone(), me.clone(), agent("intruder")] {
            let (store, lease) = (store.clone(), assignment.lease);
            reports.push(tokio::spawn(async move { (lease, who.clone(), done(&*store, lease, &who, &format!("out {i}"), 2).await) }));
        }
    }
    let mut recorded = std::collections::HashMap::new();
    for report in reports {
        let (lease, who, accepted) = report.await.unwrap();
        match accepted {
            Accepted::Recorded { .. } => {
                assert_eq!(who, me, "only the lease's holder is recorded");
                assert!(recorded.insert(lease, ()).is_none(), "a lease is recorded once");
            }
            Accepted::Stale => {}
        }
    }
    assert_eq!(recorded.len(), 300);
    for job in [one.id, two.id] {
        let view = store.job(job).await.unwrap().unwrap();
        assert!(matches!(view.job.state, JobState::Done { .. }), "{:?}", view.job.state);
    }
    let completions = store.audit(0, 10_000).await.unwrap().iter().filter(|e| e.record.event == Event::Complete).count();
    assert_eq!(completions, 300);
    assert_audit_verifies(&*store).await;
    drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_postgres_coordinators_share_one_queue_and_a_forged_audit_entry_is_found() {
    let (first, schema) = postgres().await;
    let second: Arc<dyn Store> = Arc::new(
        Postgres::connect(&pg_url(), &schema, backoff())
            .await
            .unwrap(),
    );
    let (spec, _) = running_job(&*first, 200, 3).await;
    let mut handles = Vec::new();
    for (i, store) in [first.clone(), second.clone(), first.clone(), second.clone()]
        .into_iter()
        .enumerate()
    {
        handles.push(tokio::spawn(async move {
            let me = agent(&format!("w{i}"));
            let mut n = Vec::new();
            while let Some(x) = store
                .claim(&me, &[], 3, NO_CAP, LEASE, 1)
                .await
                .unwrap()
                .into_iter()
                .next()
                .map(Some)
                .unwrap_or(None)
            {
                assert!(matches!(
                    done(&*store, x.lease, &me, "x", 2).await,
                    Accepted::Recorded { .. }
                ));
                n.push(x.subtask.id);
            }
            n
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    // Each claim took up to 3 and reported only the first: the rest expire and are redone.
    assert!(second.expire(u64::MAX / 4).await.unwrap() > 0);
    loop {
        let got = second
            .claim(&agent("late"), &[], 50, NO_CAP, LEASE, u64::MAX / 4 + 1_000_000)
            .await
            .unwrap();
        if got.is_empty() {
            break;
        }
        for x in got {
            done(
                &*second,
                x.lease,
                &agent("late"),
                "x",
                u64::MAX / 4 + 1_000_001,
            )
            .await;
            all.push(x.subtask.id);
        }
    }
    let total = all.len();
    all.sort();
    all.dedup();
    assert_eq!(
        (total, all.len()),
        (200, 200),
        "each result accepted exactly once"
    );
    let view = first.job(spec.id).await.unwrap().unwrap();
    assert!(matches!(view.job.state, JobState::Done { .. }));
    assert_audit_verifies(&*first).await;

    let (client, connection) = tokio_postgres::connect(&pg_url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one(
            &format!("SELECT entry FROM {schema}.audit WHERE seq = 5"),
            &[],
        )
        .await
        .unwrap();
    let forged = String::from_utf8(row.get::<_, Vec<u8>>(0))
        .unwrap()
        .replace("\"w", "\"X");
    client
        .execute(
            &format!("UPDATE {schema}.audit SET entry = $1 WHERE seq = 5"),
            &[&forged.as_bytes()],
        )
        .await
        .unwrap();
    let broken = verify_audit(&*first).await.unwrap().unwrap_err();
    assert_eq!(
        broken.to_string(),
        "audit entry 5 was changed after it was written: its hash does not match"
    );
    drop_schema(&schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_store_still_knows_its_merging_jobs_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.redb");
    let mut spec = job_spec(3);
    spec.aggregate = Aggregate::MergePatches;
    {
        let store = Embedded::open(&path, backoff()).unwrap();
        store.submit(spec.clone(), 0).await.unwrap();
        store.plan(spec.id, vec![subtask(0, &[])], 0).await.unwrap();
        let w = agent("w");
        let got = store.claim(&w, &[], 1, NO_CAP, LEASE, 1).await.unwrap();
        done(&store, got[0].lease, &w, "patch", 2).await;
    }
    let store = Embedded::open(&path, backoff()).unwrap();
    let waiting: Vec<_> = store.to_merge(10).await.unwrap().iter().map(|j| j.spec.id).collect();
    assert_eq!(waiting, [spec.id]);
    store.settle(spec.id, Settlement::Merged("diff".into()), 3).await.unwrap();
    assert!(store.to_merge(10).await.unwrap().is_empty());
}
