//! Real processes: `edgecoder-coordinator serve`, `edgecoder-coordinator simulate` agents and
//! `edgecoder-inference` with the default model, killed with SIGKILL mid-run. On the embedded
//! store, a 10,000-subtask job survives the coordinator's death and restart, its agents'
//! replacement, and the inference service's death while it answers the subtasks the agents
//! failed (escalations wait for its restart); on PostgreSQL, two coordinators
//! share a job and one of them dies. Every subtask completes with its own output, the audit log
//! holds exactly one completion per subtask, and its hash chain verifies. And the patches agents
//! return are merged into one diff, a conflict waiting for a person's resolution.
//!
//! The inference binary is found next to the coordinator's (cargo builds every workspace binary
//! for `--workspace` test runs).

use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};


fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A process killed when dropped; its output goes to `<dir>/<name>.log`, printed on failure.
struct Running {
    name: String,
    child: Child,
    log: PathBuf,
}

/// A binary of the workspace, next to the coordinator's.
fn binary(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_edgecoder-coordinator")).with_file_name(name);
    assert!(path.is_file(), "{} is missing: build the workspace (cargo build --workspace)", path.display());
    path
}

impl Running {
    fn spawn(name: &str, args: &[&str], dir: &Path) -> Running {
        Running::spawn_program(Path::new(env!("CARGO_BIN_EXE_edgecoder-coordinator")), name, args, dir)
    }

    fn spawn_program(program: &Path, name: &str, args: &[&str], dir: &Path) -> Running {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = Command::new(program)
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        Running { name: name.into(), child, log }
    }

    fn kill_9(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends `signal` to the process (SIGSTOP freezes it where it is, SIGCONT lets it go on).
    fn signal(&self, signal: i32) {
        assert_eq!(unsafe { libc::kill(self.child.id() as i32, signal) }, 0, "signal {signal} to {}", self.name);
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn stop(&mut self) {
        self.signal(libc::SIGTERM);
        let status = self.child.wait().unwrap();
        assert!(status.success() || status.code().is_none(), "{} stopped with {status}", self.name);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("----- {} -----\n{}", self.name, self.log());
        }
    }
}

/// Fails the test when one of `processes` has exited.
fn assert_alive(processes: &mut [&mut Running]) {
    for p in processes.iter_mut() {
        if let Some(status) = p.child.try_wait().unwrap() {
            panic!("{} exited ({status})", p.name);
        }
    }
}

struct Api {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Api {
    async fn call(&self, request: reqwest::RequestBuilder) -> Option<(u16, Value)> {
        let response = request.bearer_auth(&self.token).send().await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.json().await.unwrap_or(Value::Null)))
    }

    async fn get(&self, path: &str) -> Option<Value> {
        self.call(self.http.get(format!("{}{path}", self.base))).await.map(|(_, body)| body)
    }

    async fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.get("/openapi.json").await.is_none() {
            assert!(Instant::now() < deadline, "the coordinator did not come up at {}", self.base);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until some subtasks are leased out (so a kill right after it strands leases).
    async fn wait_for_leases(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.get("/v1/admin/stats").await.is_some_and(|s| s["queue"]["leased"].as_u64().is_some_and(|n| n > 0)) {
            assert!(Instant::now() < deadline, "no subtask was leased out in a minute");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Waits until at least `count` subtasks are finished.
    async fn wait_for(&self, count: u64, processes: &mut [&mut Running]) {
        let what = format!("{count} subtasks finished");
        self.wait_until(&what, processes, |queue| queue["finished"].as_u64().is_some_and(|n| n >= count)).await;
    }

    /// Waits (five minutes at most, while `processes` live) until the queue's counts in
    /// `/v1/admin/stats` satisfy `reached`.
    async fn wait_until(&self, what: &str, processes: &mut [&mut Running], reached: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            if self.get("/v1/admin/stats").await.is_some_and(|stats| reached(&stats["queue"])) {
                return;
            }
            assert_alive(processes);
            assert!(Instant::now() < deadline, "not reached in 5 minutes: {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Stores `snapshot` at the coordinator; returns its sha256.
async fn upload_snapshot(api: &Api, snapshot: Vec<u8>) -> String {
    let sha = {
        use sha2::Digest;
        sha2::Sha256::digest(&snapshot).iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let (status, _) = api.call(api.http.put(format!("{}/v1/snapshots/{sha}", api.base)).body(snapshot)).await.unwrap();
    assert_eq!(status, 201);
    sha
}

/// What the simulated agents fail (`simulate --fail-marked`), so those subtasks go to the
/// parent model.
const FAIL_MARKER: &str = "[agents fail this]";

/// Submits a client-planned job of `count` subtasks `echo <i>`, except those at the ordinals
/// `for_parent`: a function with tests, marked for the agents to fail, which the inference
/// service answers after the job's two attempts. Returns the job's id.
async fn submit(api: &Api, snapshot: &str, count: usize, for_parent: &[usize]) -> String {
    let subtasks: Vec<Value> = (0..count)
        .map(|i| match for_parent.contains(&i) {
            true => json!({
                "instruction": format!("Write a Python function double(x) that returns x times two. {FAIL_MARKER}"),
                "mode": "step",
                "tests": "assert double(3) == 6\nassert double(-2) == -4",
            }),
            false => json!({"instruction": format!("echo {i}"), "mode": "step"}),
        })
        .collect();
    let job = json!({"tenant": "faults", "lang": "python", "instruction": "many small steps", "snapshot": snapshot, "subtasks": subtasks, "max_attempts": 2});
    let (status, submitted) = api.call(api.http.post(format!("{}/v1/jobs", api.base)).json(&job)).await.unwrap();
    assert_eq!(status, 201, "{submitted}");
    submitted["id"].as_str().unwrap().to_owned()
}

/// Waits for the job's results and checks each subtask's output is its own: `echo <i>`, or the
/// parent model's `double` for the ordinals in `for_parent`.
async fn check_results(api: &Api, id: &str, count: usize, for_parent: &[usize]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let results = loop {
        let (status, body) = api.call(api.http.get(format!("{}/v1/jobs/{id}/results", api.base))).await.unwrap();
        if status == 200 {
            break body;
        }
        assert!(Instant::now() < deadline, "the job did not end: {body}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let outputs = results["outputs"].as_array().unwrap();
    assert_eq!(outputs.len(), count);
    for (i, output) in outputs.iter().enumerate() {
        let output = output.as_str().unwrap_or_default();
        match for_parent.contains(&i) {
            true => assert!(output.contains("def double"), "subtask {i} holds the parent model's function: {output}"),
            false => assert_eq!(output, format!("echo {i}"), "subtask {i}"),
        }
    }
}

/// What the audit log says: completions per subtask, requeues, escalations, and the agents that
/// completed.
struct Audit {
    completions: HashMap<String, usize>,
    requeues: usize,
    escalations: usize,
    agents: HashMap<String, usize>,
}

async fn read_audit(api: &Api) -> Audit {
    let mut audit = Audit { completions: HashMap::new(), requeues: 0, escalations: 0, agents: HashMap::new() };
    let mut after = 0;
    loop {
        let page = api.get(&format!("/v1/admin/audit?after={after}&limit=1000")).await.unwrap();
        let entries = page.as_array().unwrap();
        let Some(last) = entries.last() else { break };
        after = last["seq"].as_u64().unwrap();
        for entry in entries {
            let record = &entry["record"];
            match record["event"].as_str().unwrap() {
                "complete" => {
                    *audit.completions.entry(record["subtask"].to_string()).or_default() += 1;
                    let fleet = record["agent"].as_str().unwrap_or("").split('-').next().unwrap_or("").to_owned();
                    *audit.agents.entry(fleet).or_default() += 1;
                }
                "requeue" => audit.requeues += 1,
                "escalate" => audit.escalations += 1,
                _ => {}
            }
        }
    }
    audit
}

impl Audit {
    /// Exactly one accepted result per subtask, and some work was handed out again.
    fn check(&self, count: usize) {
        assert_eq!(self.completions.len(), count, "every subtask completed");
        let twice: Vec<_> = self.completions.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "results accepted twice: {twice:?}");
        assert!(self.requeues > 0, "the killed process's leases expired and their subtasks were handed out again");
    }
}

/// `edgecoder-coordinator audit verify --json` with `store` arguments.
fn verify_audit(store: &[&str]) {
    let verify = Command::new(env!("CARGO_BIN_EXE_edgecoder-coordinator"))
        .args(["audit", "verify", "--json"])
        .args(store)
        .output()
        .unwrap();
    let verdict: Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(verdict["ok"], true, "{verdict}");
}

fn simulate(api: &Api, token_file: &Path, prefix: &str, dir: &Path) -> Running {
    let args = [
        "simulate", "--url", &api.base, "--admin-token-file", token_file.to_str().unwrap(), "--agents", "20", "--prefix", prefix,
        "--fail-marked", FAIL_MARKER,
    ];
    Running::spawn(&format!("agents-{prefix}"), &args, dir)
}

/// `edgecoder-inference` with the default model on `address`, up when this returns.
async fn start_inference(name: &str, address: &str, dir: &Path, processes: &mut [&mut Running]) -> Running {
    let args = ["--listen", address, "--model", "qwen2.5-coder-0.5b", "--threads", "2"];
    let mut inference = Running::spawn_program(&binary("edgecoder-inference"), name, &args, dir);
    let deadline = Instant::now() + Duration::from_secs(300);
    let health = format!("http://{address}/healthz");
    while !reqwest::get(&health).await.is_ok_and(|r| r.status().is_success()) {
        assert_alive(&mut [&mut inference]);
        assert_alive(processes);
        assert!(Instant::now() < deadline, "the inference service did not come up at {address}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    inference
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_coordinator_the_agents_and_the_inference_service_loses_no_subtask_and_accepts_none_twice() {
    const SUBTASKS: usize = 10_000;
    const FOR_PARENT: [usize; 3] = [6_000, 6_001, 6_002];
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (mqtt, http, inference) = (free_port(), free_port(), free_port());
    let (mqtt, http, inference) = (format!("127.0.0.1:{mqtt}"), format!("127.0.0.1:{http}"), format!("127.0.0.1:{inference}"));
    let mut inference_service = start_inference("inference", &inference, dir.path(), &mut []).await;
    let state_arg = state.to_str().unwrap();
    let inference_url = format!("http://{inference}");
    let serve = ["serve", "--state", state_arg, "--mqtt", &mqtt, "--http", &http, "--lease", "3s", "--inference", &inference_url];
    let mut coordinator = Running::spawn("coordinator", &serve, dir.path());
    let mut api = Api { base: format!("http://{http}"), token: String::new(), http: reqwest::Client::new() };
    api.wait_until_up().await;
    let token_file = state.join("admin.token");
    api.token = std::fs::read_to_string(&token_file).unwrap();
    let mut agents = simulate(&api, &token_file, "first", dir.path());
    let snapshot = upload_snapshot(&api, b"a snapshot".to_vec()).await;
    let id = submit(&api, &snapshot, SUBTASKS, &FOR_PARENT).await;

    // The coordinator dies with leases out and results in flight, and comes back on its state.
    api.wait_for(2_000, &mut [&mut coordinator, &mut agents, &mut inference_service]).await;
    api.wait_for_leases().await;
    coordinator.kill_9();
    coordinator = Running::spawn("coordinator-restarted", &serve, dir.path());
    api.wait_until_up().await;

    // The agents die holding leases; a new fleet takes over once those leases expire.
    api.wait_for(5_000, &mut [&mut coordinator, &mut agents, &mut inference_service]).await;
    api.wait_for_leases().await;
    agents.kill_9();
    let mut agents = simulate(&api, &token_file, "second", dir.path());

    // The agents fail the marked subtasks twice, so they go to the parent model; the inference
    // service dies as it answers them, and the escalations wait for its return while the agents
    // go on with the rest of the job.
    let escalated = format!("{} subtasks escalated", FOR_PARENT.len());
    api.wait_until(&escalated, &mut [&mut coordinator, &mut agents, &mut inference_service], |queue| {
        queue["escalated"].as_u64().is_some_and(|n| n >= FOR_PARENT.len() as u64)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    inference_service.kill_9();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !coordinator.log().contains("escalation postponed") {
        assert!(Instant::now() < deadline, "the coordinator did not notice the missing inference service");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let waiting = api.get("/v1/admin/stats").await.unwrap();
    assert!(waiting["queue"]["escalated"].as_u64().is_some_and(|n| n > 0), "escalations wait for the parent model: {waiting}");
    let mut inference_service =
        start_inference("inference-restarted", &inference, dir.path(), &mut [&mut coordinator, &mut agents]).await;

    api.wait_for(SUBTASKS as u64, &mut [&mut coordinator, &mut agents, &mut inference_service]).await;
    check_results(&api, &id, SUBTASKS, &FOR_PARENT).await;
    let audit = read_audit(&api).await;
    audit.check(SUBTASKS);
    assert_eq!(audit.escalations, FOR_PARENT.len(), "each marked subtask went to the parent model once");
    agents.stop();
    coordinator.stop();
    inference_service.stop();
    verify_audit(&["--queue", state.join("queue.redb").to_str().unwrap()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_coordinators_on_postgresql_share_a_job_and_one_of_them_dies() {
    const SUBTASKS: usize = 2_000;
    let url = std::env::var("EDGECODER_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1/test".into());
    let schema = format!("ec_faults_{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let snapshots = dir.path().join("snapshots");
    let start = |name: &str| {
        let state = dir.path().join(name);
        let (mqtt, http) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
        let args = [
            "serve", "--state", state.to_str().unwrap(), "--mqtt", &mqtt, "--http", &http, "--lease", "3s",
            "--postgres", &url, "--schema", &schema, "--snapshots", snapshots.to_str().unwrap(),
        ];
        (Running::spawn(name, &args, dir.path()), format!("http://{http}"), state.join("admin.token"))
    };
    let (mut a, a_url, a_token) = start("coordinator-a");
    let mut api_a = Api { base: a_url, token: String::new(), http: reqwest::Client::new() };
    api_a.wait_until_up().await;
    let (mut b, b_url, b_token) = start("coordinator-b");
    let mut api_b = Api { base: b_url, token: String::new(), http: reqwest::Client::new() };
    api_b.wait_until_up().await;
    api_a.token = std::fs::read_to_string(&a_token).unwrap();
    api_b.token = std::fs::read_to_string(&b_token).unwrap();
    let mut fleet_a = simulate(&api_a, &a_token, "a", dir.path());
    let mut fleet_b = simulate(&api_b, &b_token, "b", dir.path());

    let snapshot = upload_snapshot(&api_a, b"a snapshot".to_vec()).await;
    let id = submit(&api_a, &snapshot, SUBTASKS, &[]).await;
    let (_, shown) = api_b.call(api_b.http.get(format!("{}/v1/jobs/{id}", api_b.base))).await.unwrap();
    assert_eq!(shown["state"], "running", "coordinator b sees the job submitted to a: {shown}");

    // Coordinator b dies mid-run while its agents hold leases; the leases expire and a's agents
    // finish the job. The fleet is frozen first, so the leases seen in the database are still
    // held when both die (a fleet between two claims holds none).
    api_a.wait_for(600, &mut [&mut a, &mut b, &mut fleet_a, &mut fleet_b]).await;
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let held_by_b = format!("SELECT count(*) FROM {schema}.subtasks WHERE state = 'leased' AND agent LIKE 'b-%'");
    let deadline = Instant::now() + Duration::from_secs(60);
    let held = async || client.query_one(&held_by_b, &[]).await.unwrap().get::<_, i64>(0);
    loop {
        assert!(Instant::now() < deadline, "fleet b held no lease in a minute");
        if held().await == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        fleet_b.signal(libc::SIGSTOP);
        tokio::time::sleep(Duration::from_millis(300)).await;
        if held().await > 0 {
            break;
        }
        fleet_b.signal(libc::SIGCONT);
    }
    b.kill_9();
    fleet_b.kill_9();
    api_a.wait_for(SUBTASKS as u64, &mut [&mut a, &mut fleet_a]).await;
    check_results(&api_a, &id, SUBTASKS, &[]).await;
    let audit = read_audit(&api_a).await;
    audit.check(SUBTASKS);
    assert!(audit.agents.get("a").is_some_and(|&n| n > 0) && audit.agents.get("b").is_some_and(|&n| n > 0), "both fleets worked: {:?}", audit.agents);
    fleet_a.stop();
    a.stop();
    verify_audit(&["--postgres", &url, "--schema", &schema]);
    client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
}

const CALC: &str = "def add(a, b):\n    return 0\n\n\ndef middle():\n    pass\n\n\ndef sub(a, b):\n    return 0\n";

/// A unified diff of `calc.py` that turns `return 0` at `line` (1-based) into `new`.
fn calc_patch(line: usize, new: &str) -> String {
    let header = CALC.lines().nth(line - 2).unwrap();
    format!("--- a/calc.py\n+++ b/calc.py\n@@ -{0},2 +{0},2 @@\n {header}\n-    return 0\n+    {new}\n", line - 1)
}

/// Submits a job whose subtasks' instructions are `patches` (simulated agents answer with the
/// instruction, so they return these patches); returns its id.
async fn submit_patches(api: &Api, snapshot: &str, patches: &[String]) -> String {
    let subtasks: Vec<Value> = patches.iter().map(|p| json!({"instruction": p, "mode": "step"})).collect();
    let job = json!({"tenant": "merge", "lang": "python", "instruction": "edit calc.py", "snapshot": snapshot,
        "aggregate": "merge_patches", "subtasks": subtasks});
    let (status, submitted) = api.call(api.http.post(format!("{}/v1/jobs", api.base)).json(&job)).await.unwrap();
    assert_eq!(status, 201, "{submitted}");
    submitted["id"].as_str().unwrap().to_owned()
}

/// Waits until the job is in one of `states`; returns its status.
async fn wait_for_state(api: &Api, id: &str, states: &[&str]) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, job) = api.call(api.http.get(format!("{}/v1/jobs/{id}", api.base))).await.unwrap();
        if states.iter().any(|s| job["state"] == *s) {
            return job;
        }
        assert!(Instant::now() < deadline, "job {id} never reached {states:?}: {job}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patches_from_agents_are_merged_and_a_conflict_waits_for_a_person() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let (mqtt, http) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
    let serve = ["serve", "--state", state.to_str().unwrap(), "--mqtt", &mqtt, "--http", &http];
    let mut coordinator = Running::spawn("coordinator", &serve, dir.path());
    let mut api = Api { base: format!("http://{http}"), token: String::new(), http: reqwest::Client::new() };
    api.wait_until_up().await;
    let token_file = state.join("admin.token");
    api.token = std::fs::read_to_string(&token_file).unwrap();
    let mut agents = simulate(&api, &token_file, "patch", dir.path());
    let mut tarball = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(CALC.len() as u64);
    header.set_mode(0o644);
    tarball.append_data(&mut header, "calc.py", CALC.as_bytes()).unwrap();
    let snapshot = upload_snapshot(&api, tarball.into_inner().unwrap()).await;

    // Two agents change different functions of the same file: one diff with both changes.
    let add = calc_patch(2, "return a + b");
    let sub = calc_patch(10, "return a - b");
    let id = submit_patches(&api, &snapshot, &[add.clone(), sub]).await;
    let job = wait_for_state(&api, &id, &["done", "failed", "conflict"]).await;
    assert_eq!(job["state"], "done", "{job}");
    let (_, results) = api.call(api.http.get(format!("{}/v1/jobs/{id}/results", api.base))).await.unwrap();
    let diff = results["result"].as_str().unwrap();
    assert_eq!(diff.matches("--- a/calc.py").count(), 1, "one file in the merged diff: {diff}");
    assert!(diff.contains("+    return a + b") && diff.contains("+    return a - b"), "{diff}");

    // Two agents change the same line two ways: the job waits in `conflict` for a person.
    let id = submit_patches(&api, &snapshot, &[add.clone(), calc_patch(2, "return b + a")]).await;
    let job = wait_for_state(&api, &id, &["done", "failed", "conflict"]).await;
    assert_eq!(job["state"], "conflict", "{job}");
    let reason = job["reason"].as_str().unwrap();
    assert!(reason.contains("calc.py") && reason.contains("<<<<<<<") && reason.contains("return b + a"), "{reason}");
    let (status, _) = api.call(api.http.get(format!("{}/v1/jobs/{id}/results", api.base))).await.unwrap();
    assert_eq!(status, 409, "no result while in conflict");
    let resolve = format!("{}/v1/jobs/{id}/resolve", api.base);
    let (status, refused) = api.call(api.http.post(&resolve).json(&json!({"result": calc_patch(5, "return 1")}))).await.unwrap();
    assert_eq!(status, 422, "a resolution that does not apply to the snapshot: {refused}");
    assert_eq!(wait_for_state(&api, &id, &["conflict"]).await["state"], "conflict", "a refused resolution changes nothing");
    let (status, body) = api.call(api.http.post(&resolve).json(&json!({"result": add}))).await.unwrap();
    assert_eq!(status, 200, "{body}");
    let (_, results) = api.call(api.http.get(format!("{}/v1/jobs/{id}/results", api.base))).await.unwrap();
    assert!(results["result"].as_str().unwrap().contains("+    return a + b"), "{results}");
    let (status, _) = api.call(api.http.post(&resolve).json(&json!({"result": add}))).await.unwrap();
    assert_eq!(status, 409, "a done job takes no second resolution");

    agents.stop();
    coordinator.stop();
    verify_audit(&["--queue", state.join("queue.redb").to_str().unwrap()]);
}
