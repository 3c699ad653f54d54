//! `edgecoder-coordinator audit verify` on an intact embedded log and a tampered PostgreSQL one;
//! `bench` on PostgreSQL leaves no schema behind; `simulate` refuses an empty failure marker.

use edgecoder_protocol::ids::MessageId;
use edgecoder_coordinator::model::{Aggregate, Backoff, JobSpec};
use edgecoder_coordinator::store::{Embedded, Postgres, Store};
use edgecoder_protocol::ids::Sha256;
use edgecoder_protocol::run::Lang;
use edgecoder_protocol::swarm::Snapshot;
use std::process::Command;

fn job() -> JobSpec {
    JobSpec {
        id: MessageId::random(),
        tenant: "acme".into(),
        lang: Lang::Python,
        instruction: "something".into(),
        tests: None,
        snapshot: Snapshot {
            sha256: Sha256([3; 32]),
            bytes: 1,
        },
        aggregate: Aggregate::Concatenate,
        max_attempts: 2,
    }
}

fn coordinator(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_edgecoder-coordinator"))
        .args(args)
        .output()
        .unwrap()
}

#[tokio::test]
async fn verify_passes_an_intact_log_and_names_the_altered_entry() {
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("queue.redb");
    {
        let store = Embedded::open(&queue, Backoff::default()).unwrap();
        store.submit(job(), 1).await.unwrap();
        store.submit(job(), 2).await.unwrap();
    }
    let out = coordinator(&[
        "audit",
        "verify",
        "--queue",
        queue.to_str().unwrap(),
        "--json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (report["ok"].as_bool(), report["entries"].as_u64()),
        (Some(true), Some(2))
    );

    let url = std::env::var("EDGECODER_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1/test".into());
    let schema = format!("ec_cli_{}", MessageId::random());
    let store = Postgres::connect(&url, &schema, Backoff::default())
        .await
        .unwrap();
    for at in 0..3 {
        store.submit(job(), at).await.unwrap();
    }
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
        .execute(&format!("DELETE FROM {schema}.audit WHERE seq = 2"), &[])
        .await
        .unwrap();
    let out = coordinator(&["audit", "verify", "--postgres", &url, "--schema", &schema]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("audit entry 3 follows entry 1"), "{said}");
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();

    let out = coordinator(&[
        "audit",
        "verify",
        "--postgres",
        "postgres://nobody@127.0.0.1:1/none",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is PostgreSQL running?"));
}

/// The schemas the coordinator's benchmark makes.
async fn bench_schemas(url: &str) -> Vec<String> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let rows = client
        .query("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'ec\\_bench\\_%'", &[])
        .await
        .unwrap();
    rows.iter().map(|row| row.get(0)).collect()
}

#[tokio::test]
async fn a_postgres_bench_reports_and_drops_its_schema() {
    let url = std::env::var("EDGECODER_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1/test".into());
    let before = bench_schemas(&url).await;
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = coordinator(&[
        "bench", "--agents", "4", "--subtasks", "40", "--postgres", &url, "--json", json.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!((report["store"].as_str(), report["subtasks"].as_u64()), (Some("postgres"), Some(40)));
    assert!(report["subtasks_per_second"].as_f64().is_some_and(|rate| rate > 0.0), "{report}");
    let left: Vec<String> = bench_schemas(&url).await.into_iter().filter(|s| !before.contains(s)).collect();
    assert!(left.is_empty(), "the bench left its schema behind: {left:?}");
}

#[test]
fn simulate_refuses_an_empty_failure_marker() {
    let out = coordinator(&["simulate", "--fail-marked", ""]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--fail-marked"), "{stderr}");
}
