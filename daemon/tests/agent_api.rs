//! The agent over the daemon with the real default model (Qwen2.5-Coder-0.5B): tasks started
//! with `POST /agent/tasks`, their events read as SSE (live and late), apply/reject/cancel with
//! the statuses they must answer, paths out of the workspace refused, the task limit (429),
//! `edgecoder code` streaming from the daemon, and `plan_and_code` through the official MCP
//! Python SDK over HTTP and stdio.

mod support;

use std::path::Path;
use std::time::Duration;

use edgecoder_daemon::agent::{AgentEvent, Detail, State, StopReason};
use serde_json::{Value, json};
use support::Daemon;

const QWEN: &str = "qwen2.5-coder-0.5b";

fn example(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples").join(name)).unwrap()
}

/// The events of an SSE body (its `data:` lines).
fn events(body: &str) -> Vec<AgentEvent> {
    body.lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(|d| serde_json::from_str(d.trim()).unwrap_or_else(|e| panic!("{e}: {d}")))
        .collect()
}

async fn start(daemon: &Daemon, body: Value) -> String {
    let r = daemon.client().post(format!("{}/agent/tasks", daemon.base)).json(&body).send().await.unwrap();
    let status = r.status();
    let answer: Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{answer}\n{}", daemon.log());
    assert_eq!(answer["events"], format!("/agent/tasks/{}/events", answer["id"].as_str().unwrap()));
    answer["id"].as_str().unwrap().to_owned()
}

/// Reads the task's SSE stream to its end.
async fn follow(daemon: &Daemon, id: &str) -> Vec<AgentEvent> {
    let r = daemon.client().get(format!("{}/agent/tasks/{id}/events", daemon.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    events(&r.text().await.unwrap())
}

async fn post(daemon: &Daemon, id: &str, action: &str) -> (u16, Value) {
    let r = daemon.client().post(format!("{}/agent/tasks/{id}/{action}", daemon.base)).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_else(|| panic!("no error message in {body}"))
}

fn finished(events: &[AgentEvent]) -> &edgecoder_daemon::agent::TaskReport {
    events.iter().find_map(|e| if let AgentEvent::Finished(r) = e { Some(r) } else { None }).expect("a finished event")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_task_streams_its_events_live_and_to_late_subscribers() {
    let daemon = Daemon::start(QWEN, "");
    let http = daemon.client();
    let id = start(&daemon, json!({"task": example("fizzbuzz_task.txt"), "tests": example("fizzbuzz_test.py")})).await;
    let live = follow(&daemon, &id).await;
    assert!(matches!(&live[0], AgentEvent::Started { task_id, model, .. } if *task_id == id && model == QWEN), "{:?}", live[0]);
    assert!(live.iter().any(|e| matches!(e, AgentEvent::Token { state: State::Code, .. })), "the model's text is streamed");
    assert!(live.iter().any(|e| matches!(e, AgentEvent::Transition(t) if matches!(t.detail, Detail::Planned { .. }))));
    let report = finished(&live);
    assert_eq!(report.state, State::Done, "{}\n{:?}", report.message, report.code);
    assert!(matches!(live.last(), Some(AgentEvent::Finished(_))), "the stream ends after `finished`");
    assert_eq!(report.last_report.as_ref().unwrap().passed(), 4);
    // The daemon runs a task's tests in sandbox children, never in its own process.
    let isolation = &report.last_report.as_ref().unwrap().run.isolation;
    assert!(isolation.is_some(), "the tests ran without a sandbox child (no isolation report)");

    // The task's test runs and tokens are in the metrics.
    let runs = live.iter().filter(|e| matches!(e, AgentEvent::Transition(t) if matches!(t.detail, Detail::Tested { .. }))).count();
    let metrics = http.get(format!("{}/metrics", daemon.base)).send().await.unwrap().text().await.unwrap();
    let counted: usize = metrics
        .lines()
        .filter(|l| l.starts_with("edgecoder_executor_runs_total{") && l.contains("lang=\"python\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<usize>().ok())
        .sum();
    assert_eq!(counted, runs, "{metrics}");
    assert!(metrics.contains(&format!("edgecoder_generated_tokens_total {}", report.stats.generated_tokens)), "{metrics}");

    // A late subscriber gets the same history, then the end.
    assert_eq!(follow(&daemon, &id).await, live);
    let view: Value = http.get(format!("{}/agent/tasks/{id}", daemon.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(view["status"], "finished");
    assert_eq!(view["state"], "done");
    assert_eq!(view["events"], live.len());
    assert!(view["steps"][0].as_str().unwrap().starts_with("plan → code"), "{view}");
    assert!(view["report"]["code"].as_str().unwrap().contains("def fizzbuzz"), "{view}");

    // No workspace, so nothing to apply or reject; a finished task cannot be cancelled.
    let (status, body) = post(&daemon, &id, "apply").await;
    assert_eq!(status, 409);
    assert!(message(&body).contains("no workspace"), "{body}");
    assert_eq!(post(&daemon, &id, "reject").await.0, 409);
    let (status, body) = post(&daemon, &id, "cancel").await;
    assert_eq!(status, 409);
    assert!(message(&body).contains("already finished"), "{body}");
    let doc: Value = http.get(format!("{}/openapi.json", daemon.base)).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/agent/tasks/{id}/events"]["get"].is_object(), "{doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn workspace_diffs_are_written_only_on_apply_and_bad_requests_are_refused() {
    let daemon = Daemon::start(QWEN, "");
    let dir = tempfile::tempdir().unwrap();
    let ws = support::calc_workspace(dir.path());
    let buggy = support::BUGGY_ADD;
    std::fs::write(dir.path().join("secret.py"), "x = 1\n").unwrap();
    std::os::unix::fs::symlink(dir.path(), ws.join("up")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret.py"), ws.join("link.py")).unwrap();
    let ws_path = ws.to_str().unwrap();
    let http = daemon.client();
    let tasks = format!("{}/agent/tasks", daemon.base);

    // Bad requests: each refused with its status and a message naming the fix; nothing runs.
    let cases = [
        (json!({"task": "edit it", "workspace": ws_path, "file": "../secret.py"}), 400, "outside the workspace"),
        (json!({"task": "edit it", "workspace": ws_path, "file": "up/secret.py"}), 400, "outside the workspace"),
        (json!({"task": "edit it", "workspace": ws_path, "file": "link.py"}), 400, "symlink"),
        (json!({"task": "edit it", "workspace": ws_path, "file": "/etc/hosts.py"}), 400, "outside the workspace"),
        (json!({"task": "edit it", "workspace": "ws"}), 400, "absolute"),
        (json!({"task": "edit it", "workspace": dir.path().join("missing")}), 400, "existing folder"),
        (json!({"task": "edit it", "file": "calc.py"}), 400, "needs `workspace`"),
        (json!({"task": "  "}), 400, "the task is empty"),
        (json!({"task": "x", "max_iterations": 0}), 400, "max_iterations"),
        (json!({"task": "x", "lang": "cobol"}), 400, "unknown language"),
        (json!({"task": "x", "model": "gpt-9"}), 404, "gpt-9"),
        (json!({"task": "x", "colour": "red"}), 400, "unknown field"),
        (json!({"task": 3}), 400, "invalid request body"),
    ];
    for (body, status, needle) in cases {
        let r = http.post(&tasks).json(&body).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{body}");
        let answer: Value = r.json().await.unwrap();
        assert!(message(&answer).contains(needle), "{needle:?} not in {answer} for {body}");
    }
    let anonymous = reqwest::Client::new();
    let r = anonymous.post(&tasks).json(&json!({"task": "x"})).send().await.unwrap();
    assert_eq!(r.status(), 401, "an unauthenticated caller could start a task");
    for (method, path) in [("GET", ""), ("GET", "/events"), ("POST", "/apply"), ("POST", "/reject"), ("POST", "/cancel")] {
        let url = format!("{tasks}/t-no-such{path}");
        let r = http.request(method.parse().unwrap(), &url).send().await.unwrap();
        assert_eq!(r.status(), 404, "{method} {url}");
        let body: Value = r.json().await.unwrap();
        assert!(message(&body).contains("no agent task"), "{body}");
    }

    // Apply: the diff is written once, with a backup.
    let fix = json!({"task": "Fix add in calc.py: it must return the sum of a and b.", "workspace": ws_path, "plan": false, "max_iterations": 3});
    let id = start(&daemon, fix.clone()).await;
    let events = follow(&daemon, &id).await;
    assert!(
        events.iter().any(|e| matches!(e, AgentEvent::Retrieved { chunks, .. } if chunks.iter().any(|c| c.path == "test_calc.py"))),
        "daemon tasks search the workspace like `edgecoder code` does: {events:?}"
    );
    let report = finished(&events).clone();
    assert_eq!(report.state, State::Done, "{}", report.message);
    assert!(report.diff.as_deref().is_some_and(|d| d.contains("--- a/calc.py")), "{:?}", report.diff);
    assert_eq!(std::fs::read_to_string(ws.join("calc.py")).unwrap(), buggy, "nothing is written before apply");
    let (status, applied) = post(&daemon, &id, "apply").await;
    assert_eq!(status, 200, "{applied}");
    assert_eq!(applied["event"], "applied");
    assert_eq!(applied["files"], json!(["calc.py"]));
    let fixed = std::fs::read_to_string(ws.join("calc.py")).unwrap();
    assert!(fixed.contains("a + b") || fixed.contains("b + a"), "{fixed}");
    assert_eq!(std::fs::read_to_string(ws.join(applied["backups"][0].as_str().unwrap())).unwrap(), buggy);
    let (status, body) = post(&daemon, &id, "apply").await;
    assert_eq!(status, 409);
    assert!(message(&body).contains("already applied"), "{body}");
    assert_eq!(post(&daemon, &id, "reject").await.0, 409);
    assert!(matches!(follow(&daemon, &id).await.last(), Some(AgentEvent::Applied { .. })), "late readers see the apply");

    // Reject: nothing is written, and the task cannot be applied afterwards.
    std::fs::write(ws.join("calc.py"), buggy).unwrap();
    let id = start(&daemon, fix).await;
    assert_eq!(finished(&follow(&daemon, &id).await).state, State::Done);
    let (status, rejected) = post(&daemon, &id, "reject").await;
    assert_eq!((status, rejected["event"].as_str()), (200, Some("rejected")), "{rejected}");
    let (status, body) = post(&daemon, &id, "apply").await;
    assert_eq!(status, 409);
    assert!(message(&body).contains("rejected"), "{body}");
    assert_eq!(std::fs::read_to_string(ws.join("calc.py")).unwrap(), buggy);
    assert_eq!(std::fs::read_to_string(dir.path().join("secret.py")).unwrap(), "x = 1\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn tasks_share_the_model_queue_with_chat_are_limited_and_can_be_cancelled() {
    let daemon = Daemon::start(QWEN, "agent_tasks = 1");
    let http = daemon.client();
    // Tests no code can pass: the task runs until it is cancelled.
    let impossible = "assert fizzbuzz(3) == 'Fizz'\nassert fizzbuzz(3) == 'Buzz'\n";
    let long = json!({"task": example("fizzbuzz_task.txt"), "tests": impossible, "max_iterations": 20});
    let id = start(&daemon, long.clone()).await;
    let r = http.post(format!("{}/agent/tasks", daemon.base)).json(&long).send().await.unwrap();
    assert_eq!(r.status(), 429);
    let body: Value = r.json().await.unwrap();
    assert!(message(&body).contains("agent_tasks"), "{body}");

    // A chat request is served while the task runs: both use the one model queue.
    let chat = http
        .post(format!("{}/v1/chat/completions", daemon.base))
        .json(&json!({"model": QWEN, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 4}))
        .send()
        .await
        .unwrap();
    assert_eq!(chat.status(), 200);
    let view: Value = http.get(format!("{}/agent/tasks/{id}", daemon.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(view["status"], "running", "the task should still run after one short chat: {view}");

    let (status, view) = post(&daemon, &id, "cancel").await;
    assert_eq!(status, 202, "{view}");
    let events = tokio::time::timeout(Duration::from_secs(60), follow(&daemon, &id)).await.expect("a cancelled task ends quickly");
    let stopped = events.iter().find_map(|e| match e {
        AgentEvent::Transition(t) => match &t.detail {
            Detail::Stopped { reason, .. } => Some(*reason),
            _ => None,
        },
        _ => None,
    });
    assert_eq!(stopped, Some(StopReason::Cancelled));
    assert_eq!(finished(&events).state, State::GaveUp);
    let id = start(&daemon, long).await;
    assert_eq!(post(&daemon, &id, "cancel").await.0, 202, "a slot is free again after the cancel");
}

#[test]
fn edgecoder_code_and_the_mcp_sdk_run_tasks_on_the_daemon() {
    let daemon = Daemon::start(QWEN, "");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_edgecoder"))
        .args(["code", &example("fizzbuzz_task.txt"), "--no-plan", "--json", "--tests"])
        .arg(dir.join("fizzbuzz_test.py"))
        .arg("--config")
        .arg(&daemon.config)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}\n{}", String::from_utf8_lossy(&out.stderr), daemon.log());
    let printed: Vec<AgentEvent> = stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let AgentEvent::Started { task_id, .. } = &printed[0] else { panic!("{:?}", printed[0]) };
    assert!(daemon.log().contains(task_id.as_str()), "the task did not run on the daemon:\n{}", daemon.log());
    assert_eq!(finished(&printed).state, State::Done);

    let config = daemon.config.to_string_lossy().into_owned();
    daemon.run_python("mcp_agent_sdk.py", QWEN, &[("EDGECODER_BIN", env!("CARGO_BIN_EXE_edgecoder")), ("EDGECODER_CONFIG", &config)]);
}
