//! The swarm end to end with real processes on loopback: `edgecoder-inference` (the model on
//! this machine), `edgecoder-coordinator serve` (embedded broker, queue, HTTP API) and three
//! `edgecoder worker run` processes enrolled through the API, reaching the broker over TLS with a
//! development CA (`edgecoder-coordinator certs`). A job goes in over HTTP, is
//! decomposed by the inference service (killed with SIGKILL as the job arrives and restarted:
//! the job waits for it), worked on by the workers in their sandboxes, and its result passes
//! the job's tests; then a job of conflicting patches (from simulated agents) is resolved by
//! the parent model; then a model rollout: a manifest of the SmolLM2 fixture signed here is
//! offered over MQTT, the canary workers verify it with their pinned key, install it into an A/B
//! slot after a smoke generation and report back, and a manifest signed by a key the workers do
//! not trust is refused by them with `unknown_key`, which halts its rollout; the audit chain
//! verifies afterwards. The same on PostgreSQL with two coordinators sharing the queue: the job
//! goes to one, the workers of the other run it. And the ops dashboard in a real browser
//! (`tests/browser/dashboard.cjs`, Debian's chromium through playwright-core): feature toggles,
//! a canary rollout watched live until the real worker installed it, a refusal's reason code.
//!
//! The coordinator and inference binaries are found next to this package's binaries (cargo
//! builds every workspace binary for `--workspace` test runs).

mod support;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn binary(name: &str) -> PathBuf {
    let edgecoder = PathBuf::from(env!("CARGO_BIN_EXE_edgecoder"));
    let path = edgecoder.with_file_name(name);
    assert!(path.is_file(), "{} is missing: build the workspace (cargo build --workspace)", path.display());
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed when dropped, its output in a log file shown on failure.
struct Process {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn start(name: &str, command: &mut Command, dir: &Path) -> Process {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).unwrap();
        let child = command
            .env("RUST_LOG", "info")
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Process { name: name.into(), child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn terminate(&mut self) {
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("----- {} -----\n{}", self.name, self.log());
        }
    }
}

/// Blocking calls to an HTTP API with a bearer token.
struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    token: String,
}

impl Http {
    fn send(&self, request: reqwest::RequestBuilder) -> (u16, serde_json::Value) {
        self.runtime.block_on(async {
            let response = request.bearer_auth(&self.token).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json().await.unwrap_or(serde_json::Value::Null))
        })
    }

    fn get(&self, url: &str) -> serde_json::Value {
        self.send(self.client.get(url)).1
    }

    fn post(&self, url: &str, body: &serde_json::Value) -> serde_json::Value {
        self.send(self.client.post(url).json(body)).1
    }

    fn up(&self, url: &str) -> bool {
        self.runtime.block_on(async { self.client.get(url).send().await.is_ok() })
    }
}

fn wait_for_http(http: &Http, url: &str, what: &str, processes: &mut [&mut Process]) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while Instant::now() < deadline {
        if http.up(url) {
            return;
        }
        for p in processes.iter_mut() {
            if let Some(status) = p.child.try_wait().unwrap() {
                panic!("{} exited ({status}) before {what} came up:\n{}", p.name, p.log());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("{what} did not come up at {url}");
}

fn tarball(files: &[(&str, &str)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        builder.append_data(&mut header, path, text.as_bytes()).unwrap();
    }
    builder.into_inner().unwrap()
}

/// The folder of the public key the workers trust for model manifests (`signing.pub` in it)
/// and the signing key, made once per test folder.
fn fleet_key(dir: &Path) -> edgecoder_ota::manifest::SigningKey {
    let seed = dir.join("fleet.seed");
    if !seed.exists() {
        let key = edgecoder_ota::manifest::generate_key();
        std::fs::write(&seed, key.to_bytes()).unwrap();
        std::fs::write(dir.join("fleet.pub"), format!("{}\n", edgecoder_protocol::PublicKey(key.verifying_key().to_bytes()))).unwrap();
    }
    edgecoder_ota::manifest::SigningKey::from_bytes(&std::fs::read(&seed).unwrap().try_into().unwrap())
}

/// Enrols worker `name` at the coordinator's API and starts `edgecoder worker run` for it
/// (`ca`: the development CA of a TLS broker). Each worker has its own model store (its A/B
/// slots) and trusts the fleet key for model manifests from `file:///` sources.
fn start_worker(client: &Http, api: &str, name: &str, ca: Option<&Path>, dir: &Path) -> Process {
    fleet_key(dir);
    let coder = edgecoder_ota::ModelStore::from_env().unwrap().path("qwen2.5-coder-0.5b").unwrap();
    let token = client.post(&format!("{api}/v1/admin/enrolment-tokens"), &serde_json::Value::Null);
    let credentials = dir.join(format!("{name}.json"));
    let mut enrol = Command::new(env!("CARGO_BIN_EXE_edgecoder"));
    enrol.args(["worker", "enrol", "--coordinator", api, "--token", token["token"].as_str().unwrap(), "--id", name]);
    if let Some(ca) = ca {
        enrol.arg("--ca").arg(ca);
    }
    let enrolled = enrol.arg("--credentials").arg(&credentials).output().unwrap();
    assert!(enrolled.status.success(), "{}", String::from_utf8_lossy(&enrolled.stderr));
    Process::start(
        name,
        Command::new(env!("CARGO_BIN_EXE_edgecoder"))
            .env("EDGECODER_MODELS", dir.join(name).join("models"))
            .args(["worker", "run", "--threads", "1", "--allow-source", "file:///"])
            .arg("--model")
            .arg(&coder)
            .arg("--trust")
            .arg(dir.join("fleet.pub"))
            .arg("--credentials")
            .arg(&credentials)
            .arg("--state")
            .arg(dir.join(name)),
        dir,
    )
}

/// Uploads a snapshot of `files`; returns its sha256.
fn upload_snapshot(client: &Http, api: &str, files: &[(&str, &str)]) -> String {
    let snapshot = tarball(files);
    let sha = {
        use sha2::Digest;
        sha2::Sha256::digest(&snapshot).iter().map(|b| format!("{b:02x}")).collect::<String>()
    };
    let (status, _) = client.send(client.client.put(format!("{api}/v1/snapshots/{sha}")).body(snapshot));
    assert_eq!(status, 201);
    sha
}

/// The prime job's snapshot.
const PRIME_SNAPSHOT: &[(&str, &str)] = &[("README.md", "A prime number library.\n")];

/// The job every test runs: two functions the inference service splits into subtasks.
fn prime_job(sha: &str) -> serde_json::Value {
    serde_json::json!({
        "tenant": "acme",
        "lang": "python",
        "instruction": "Write two Python functions: is_prime(n), which tells whether the integer n is a prime \
                        number, and primes_below(n), which returns the list of primes smaller than n using is_prime.",
        "tests": JOB_TESTS,
        "snapshot": sha,
    })
}

/// Waits up to 15 minutes until job `id` ends (done, failed, cancelled, or in conflict) while
/// every process stays up; returns its status.
fn wait_for_end(client: &Http, api: &str, id: &str, processes: &mut [&mut Process]) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let status = client.get(&format!("{api}/v1/jobs/{id}"));
        if ["done", "failed", "cancelled", "conflict"].contains(&status["state"].as_str().unwrap_or("")) {
            return status;
        }
        assert!(Instant::now() < deadline, "the job did not finish in 15 minutes: {status:#}");
        for p in processes.iter_mut() {
            if let Some(exit) = p.child.try_wait().unwrap() {
                panic!("{} exited ({exit}) while the job ran:\n{}", p.name, p.log());
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Waits until job `id` ends while every process stays up; checks it is done and its result
/// passes the job's tests.
fn wait_until_done(client: &Http, api: &str, id: &str, processes: &mut [&mut Process]) {
    let status = wait_for_end(client, api, id, processes);
    assert_eq!(status["state"], "done", "{status:#}");
    let results = client.get(&format!("{api}/v1/jobs/{id}/results"));
    let code = results["result"].as_str().unwrap();
    let report = edgecoder_executor::run_tests(code, JOB_TESTS, edgecoder_executor::Lang::Python, &Default::default());
    assert!(report.all_passed(), "the job's result passes its tests:\n{code}\n{report:#?}");
}

/// `edgecoder-coordinator audit verify --json` on `store`: the chain verifies, with at least
/// submit, decompose, assign and complete in it.
fn verify_audit(store: &[&std::ffi::OsStr]) {
    let verify = Command::new(binary("edgecoder-coordinator")).args(["audit", "verify", "--json"]).args(store).output().unwrap();
    let verdict: serde_json::Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(verdict["ok"], true, "{verdict}");
    assert!(verdict["entries"].as_u64().unwrap() >= 4, "submit, decompose, assign, complete: {verdict}");
}

const JOB_TESTS: &str = "assert is_prime(7)\nassert not is_prime(8)\nassert not is_prime(1)\nassert primes_below(12) == [2, 3, 5, 7, 11]\n";

#[test]
fn a_job_runs_through_inference_coordinator_and_three_sandboxed_workers() {
    let dir = tempfile::tempdir().unwrap();
    let (mqtt, mqtt_tls, http, inference) = (free_port(), free_port(), free_port(), free_port());
    let start_inference = |name: &str| {
        Process::start(
            name,
            Command::new(binary("edgecoder-inference"))
                .args(["--listen", &format!("127.0.0.1:{inference}"), "--model", "qwen2.5-coder-0.5b", "--threads", "2"]),
            dir.path(),
        )
    };
    let mut inference_service = start_inference("inference");
    let state = dir.path().join("coordinator");
    // The agents reach the broker over TLS, trusting a development CA.
    let certs = Command::new(binary("edgecoder-coordinator"))
        .args(["certs", "--out"])
        .arg(state.join("tls"))
        .output()
        .unwrap();
    assert!(certs.status.success(), "{}", String::from_utf8_lossy(&certs.stderr));
    let mut coordinator = Process::start(
        "coordinator",
        Command::new(binary("edgecoder-coordinator")).arg("serve").arg("--state").arg(&state).args([
            "--mqtt",
            &format!("127.0.0.1:{mqtt}"),
            "--mqtt-tls",
            &format!("127.0.0.1:{mqtt_tls}"),
            "--http",
            &format!("127.0.0.1:{http}"),
            "--inference",
            &format!("http://127.0.0.1:{inference}"),
            "--lease",
            "120s",
        ]),
        dir.path(),
    );
    let api = format!("http://127.0.0.1:{http}");
    let mut client = Http {
        runtime: tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
        client: reqwest::Client::new(),
        token: String::new(),
    };
    wait_for_http(&client, &format!("{api}/openapi.json"), "the coordinator", &mut [&mut coordinator]);
    wait_for_http(&client, &format!("http://127.0.0.1:{inference}/healthz"), "the inference service", &mut [&mut inference_service]);
    client.token = std::fs::read_to_string(state.join("admin.token")).unwrap();

    let ca = state.join("tls").join("ca.pem");
    let mut workers: Vec<Process> = (0..3).map(|n| start_worker(&client, &api, &format!("worker-{n}"), Some(&ca), dir.path())).collect();
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.path().join("worker-0.json")).unwrap()).unwrap();
    assert_eq!(saved["broker"], format!("mqtts://127.0.0.1:{mqtt_tls}"), "the workers reach the broker over TLS");

    let sha = upload_snapshot(&client, &api, PRIME_SNAPSHOT);
    let job = prime_job(&sha);
    // The inference service dies (kill -9) as the job comes in: the job waits for it instead
    // of failing, and is decomposed once the service is back.
    inference_service.child.kill().unwrap();
    inference_service.child.wait().unwrap();
    let submitted = client.post(&format!("{api}/v1/jobs"), &job);
    let id = submitted["id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !coordinator.log().contains("decomposition postponed") {
        assert!(Instant::now() < deadline, "the coordinator did not notice the missing inference service:\n{}", coordinator.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(client.get(&format!("{api}/v1/jobs/{id}"))["state"], "decomposing");
    inference_service = start_inference("inference-restarted");
    wait_for_http(&client, &format!("http://127.0.0.1:{inference}/healthz"), "the restarted inference service", &mut [&mut inference_service]);

    let mut processes: Vec<&mut Process> = workers.iter_mut().chain([&mut coordinator, &mut inference_service]).collect();
    wait_until_done(&client, &api, &id, &mut processes);

    let agents = client.get(&format!("{api}/v1/admin/agents"));
    assert_eq!(agents.as_array().unwrap().len(), 3, "three workers said hello: {agents:#}");
    let stats = client.get(&format!("{api}/v1/admin/stats"));
    assert_eq!(stats["service"]["wrong_snapshot"], 0);
    assert_eq!(stats["service"]["no_sandbox"], 0);

    let mut processes: Vec<&mut Process> = workers.iter_mut().chain([&mut coordinator]).collect();
    workers_answer_with_patches_that_merge_into_one_diff(&client, &api, &mut processes);
    a_rollout_reaches_the_workers_over_mqtt(&client, &api, dir.path(), &mut processes);

    for worker in &mut workers {
        worker.terminate();
    }
    let plain_mqtt = format!("127.0.0.1:{mqtt}");
    conflicting_patches_are_resolved_by_the_parent_model(&client, &api, &plain_mqtt, &state, dir.path(), &mut [&mut coordinator, &mut inference_service]);
    coordinator.terminate();
    inference_service.terminate();
    verify_audit(&["--queue".as_ref(), state.join("queue.redb").as_os_str()]);
}

/// A manifest of the SmolLM2 fixture (installed by `scripts/test`), from a `file:///` source.
fn smollm2_manifest(sequence: u64) -> edgecoder_protocol::manifest::ModelManifest {
    support::smollm2_manifest(&support::model_path("smollm2-135m"), &format!("1.0.{sequence}"), sequence)
}

/// Starts a rollout of `signed` through the admin API; returns its id.
fn start_rollout(client: &Http, api: &str, signed: &edgecoder_protocol::manifest::SignedStatement, query: &str) -> u64 {
    let body = postcard::to_allocvec(signed).unwrap();
    let (status, rollout) = client.send(client.client.post(format!("{api}/v1/admin/rollouts?{query}")).body(body));
    assert_eq!(status, 201, "{rollout:#}");
    rollout["id"].as_u64().unwrap()
}

/// Waits until `check` holds for rollout `id` (two minutes at most) while every process stays up.
fn wait_for_rollout(client: &Http, api: &str, id: u64, processes: &mut [&mut Process], check: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let rollout = client.get(&format!("{api}/v1/admin/rollouts/{id}"));
        if check(&rollout) {
            return rollout;
        }
        assert!(Instant::now() < deadline, "rollout {id} did not get there: {rollout:#}");
        for p in processes.iter_mut() {
            if let Some(exit) = p.child.try_wait().unwrap() {
                panic!("{} exited ({exit}) during the rollout:\n{}", p.name, p.log());
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A rollout to two canary workers installs SmolLM2 on both (verified with their pinned key,
/// copied, staged, smoke-tested, switched), and on the third once it advances to 100%; a
/// tampered manifest is refused by the coordinator;
/// one signed by a key the workers do not trust is refused by the canary with `unknown_key`
/// and the rollout halts by itself.
fn a_rollout_reaches_the_workers_over_mqtt(client: &Http, api: &str, dir: &Path, processes: &mut [&mut Process]) {
    let key = fleet_key(dir);
    let signed = edgecoder_ota::manifest::sign(&edgecoder_protocol::manifest::Statement::Model(smollm2_manifest(1)), &key);
    let id = start_rollout(client, api, &signed, "canary=worker-0,worker-1&batches=100");
    let installed = |r: &serde_json::Value| {
        ["worker-0", "worker-1"].iter().all(|w| r["agents"][w]["state"] == "installed")
    };
    let rollout = wait_for_rollout(client, api, id, processes, installed);
    assert_eq!(rollout["state"]["state"], "running", "the canary is done, the last batch is not: {rollout:#}");
    assert!(!dir.join("worker-2/models/slots").exists(), "worker-2 was not in the canary");
    let (status, advanced) = client.send(client.client.post(format!("{api}/v1/admin/rollouts/{id}/advance")));
    assert_eq!(status, 200, "{advanced:#}");
    let rollout = wait_for_rollout(client, api, id, processes, |r| r["state"]["state"] == "complete");
    for worker in ["worker-0", "worker-1", "worker-2"] {
        let slot = dir.join(worker).join("models/slots/smollm2-135m/a/model.gguf");
        assert!(slot.is_file(), "{worker} installed into slot a: {}", slot.display());
        assert_eq!(rollout["agents"][worker]["done_bytes"], rollout["agents"][worker]["total_bytes"]);
    }

    let mut tampered = edgecoder_ota::manifest::sign(&edgecoder_protocol::manifest::Statement::Model(smollm2_manifest(2)), &key);
    *tampered.statement.last_mut().unwrap() ^= 1;
    let (status, error) = client.send(client.client.post(format!("{api}/v1/admin/rollouts?canary=worker-2")).body(postcard::to_allocvec(&tampered).unwrap()));
    assert_eq!(status, 400, "{error}");
    assert!(error["error"].as_str().unwrap().contains("does not verify"), "{error}");

    let stranger = edgecoder_ota::manifest::generate_key();
    let foreign = edgecoder_ota::manifest::sign(&edgecoder_protocol::manifest::Statement::Model(smollm2_manifest(3)), &stranger);
    let id = start_rollout(client, api, &foreign, "canary=worker-2&batches=100&max_failure_rate=0");
    let halted = wait_for_rollout(client, api, id, processes, |r| r["state"]["state"] == "halted");
    assert_eq!(halted["agents"]["worker-2"]["code"], "unknown_key", "{halted:#}");
    assert!(halted["state"]["reason"].as_str().unwrap().contains("unknown_key"), "{halted:#}");
    assert!(!dir.join("worker-2/models/slots/smollm2-135m/b").exists(), "nothing was staged: slot a stays active");

    the_fleets_features_bind_the_devices_own_use_of_its_models(client, api, dir, processes);
}

/// The coordinator's feature settings reach each device (retained on its `features` topic) and
/// the worker records them in the model store, where the user's own tools obey them: the fleet
/// default is swarm-only, so `edgecoder generate` on a worker's store cannot run the model the
/// fleet installed there; `ide-enabled` lets it; the local-model feature off withholds it from
/// everyone.
fn the_fleets_features_bind_the_devices_own_use_of_its_models(client: &Http, api: &str, dir: &Path, processes: &mut [&mut Process]) {
    let fleet = |worker: &str| -> serde_json::Value {
        std::fs::read(dir.join(worker).join("models/fleet.json")).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    };
    let wait_for_fleet = |worker: &str, processes: &mut [&mut Process], check: &dyn Fn(&serde_json::Value) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !check(&fleet(worker)["features"]) {
            assert!(Instant::now() < deadline, "{worker} did not record the fleet's features: {:#}", fleet(worker));
            for p in processes.iter_mut() {
                assert!(p.child.try_wait().unwrap().is_none(), "{} exited:\n{}", p.name, p.log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let generate = |worker: &str| {
        Command::new(env!("CARGO_BIN_EXE_edgecoder"))
            .env("EDGECODER_MODELS", dir.join(worker).join("models"))
            .args(["generate", "--model", "smollm2-135m", "--prompt", "def add(", "--max-tokens", "2", "--threads", "1"])
            .output()
            .unwrap()
    };
    let set = |level: &str, body: serde_json::Value| {
        let mut body = body;
        body["level"] = level.into();
        let (status, answer) = client.send(client.client.put(format!("{api}/v1/admin/features")).json(&body));
        assert_eq!(status, 204, "{answer}");
    };

    wait_for_fleet("worker-0", processes, &|f| f["local_model"] == true && f["mode"] == "swarm-only");
    let refused = generate("worker-0");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "a swarm-only device's IDE side cannot run the fleet's model");
    assert!(stderr.contains("swarm-only") && stderr.contains("edgecoder model pull smollm2-135m"), "{stderr}");

    set("agent:worker-0", serde_json::json!({"mode": "ide-enabled"}));
    wait_for_fleet("worker-0", processes, &|f| f["mode"] == "ide-enabled");
    let allowed = generate("worker-0");
    assert!(allowed.status.success(), "ide-enabled: the IDE side runs the fleet's model:\n{}", String::from_utf8_lossy(&allowed.stderr));

    set("agent:worker-1", serde_json::json!({"local_model": false, "mode": "ide-enabled"}));
    wait_for_fleet("worker-1", processes, &|f| f["local_model"] == false);
    let off = generate("worker-1");
    let stderr = String::from_utf8_lossy(&off.stderr);
    assert!(!off.status.success() && stderr.contains("local-model feature off"), "{stderr}");
    let stats = client.get(&format!("{api}/v1/admin/stats"));
    assert!(stats["service"]["features_sent"].as_u64().unwrap() >= 5, "sent on each hello and each change: {stats:#}");
}

const CALC: &str = "def add(a, b):\n    return a + b\n";

/// Applies a multi-file unified diff (the coordinator's merged result) to `files`.
fn apply_diff(files: &mut std::collections::BTreeMap<String, String>, diff: &str) {
    use diffy::patch_set::{FileOperation, ParseOptions, PatchSet};
    for file in PatchSet::parse(diff, ParseOptions::unidiff()) {
        let file = file.unwrap_or_else(|e| panic!("{e}: {diff}"));
        let patch = file.patch().as_text().unwrap();
        let path = match file.operation() {
            FileOperation::Modify { modified, .. } => modified.strip_prefix("b/").unwrap().to_owned(),
            FileOperation::Create(path) => path.strip_prefix("b/").unwrap().to_owned(),
            other => panic!("the merge only changes and creates files here: {other:?}"),
        };
        let before = files.get(&path).cloned().unwrap_or_default();
        files.insert(path, diffy::apply(&before, patch).unwrap_or_else(|e| panic!("{e}: {diff}")));
    }
}

/// A `merge_patches` job whose two subtasks each edit a file of the snapshot — `calc.py`, which
/// it has, and `text/shout.py`, which it has not — run by the real workers with the 0.5B model:
/// each worker answers with a unified diff of the snapshot, and the coordinator merges them into
/// one diff that, applied to the snapshot, passes every subtask's tests.
fn workers_answer_with_patches_that_merge_into_one_diff(client: &Http, api: &str, processes: &mut [&mut Process]) {
    let sha = upload_snapshot(client, api, &[("calc.py", CALC), ("README.md", "A calculator.\n")]);
    let sub_tests = "assert add(1, 2) == 3\nassert sub(5, 3) == 2\n";
    let shout_tests = "assert shout('hi') == 'HI!'\n";
    let micro_loop = serde_json::json!({"micro_loop": {"max_iterations": 3}});
    let job = serde_json::json!({
        "tenant": "acme", "lang": "python", "snapshot": sha, "aggregate": "merge_patches",
        "instruction": "Add sub(a, b) to calc.py and write shout(s) in text/shout.py.",
        "subtasks": [
            {"instruction": "Add a function sub(a, b) that returns a - b; keep add.", "mode": micro_loop,
             "tests": sub_tests, "file": "calc.py"},
            {"instruction": "Write a function shout(s) that returns s in upper case followed by '!'.", "mode": micro_loop,
             "tests": shout_tests, "file": "text/shout.py"},
        ],
    });
    let submitted = client.post(&format!("{api}/v1/jobs"), &job);
    let id = submitted["id"].as_str().unwrap_or_else(|| panic!("{submitted}")).to_owned();
    let status = wait_for_end(client, api, &id, processes);
    assert_eq!(status["state"], "done", "{status:#}");
    let diff = client.get(&format!("{api}/v1/jobs/{id}/results"))["result"].as_str().unwrap().to_owned();
    assert!(diff.contains("--- a/calc.py\n+++ b/calc.py\n") && diff.contains("--- /dev/null\n+++ b/text/shout.py\n"), "{diff}");
    assert!(!diff.contains("README.md"), "only the edited files change: {diff}");
    eprintln!("the workers' patches, merged by the coordinator:\n{diff}");
    let mut files: std::collections::BTreeMap<String, String> =
        [("calc.py".to_owned(), CALC.to_owned()), ("README.md".to_owned(), "A calculator.\n".to_owned())].into();
    apply_diff(&mut files, &diff);
    for (file, tests) in [("calc.py", sub_tests), ("text/shout.py", shout_tests)] {
        let report = edgecoder_executor::run_tests(&files[file], tests, edgecoder_executor::Lang::Python, &Default::default());
        assert!(report.all_passed(), "{file} after the merged diff passes its subtask's tests:\n{}\n{report:#?}", files[file]);
    }
}
const CALC_TESTS: &str = "assert add(1, 2) == 3\nassert sub(3, 1) == 2\nassert mul(2, 3) == 6\n";

/// A `merge_patches` job whose two subtasks each append a function to `calc.py` (simulated
/// agents answer with their instruction, so these patches come back): the patches conflict,
/// the coordinator asks the inference service, and the parent model's resolution ends the job
/// with one diff that has both functions and passes the job's tests.
fn conflicting_patches_are_resolved_by_the_parent_model(client: &Http, api: &str, mqtt: &str, state: &Path, dir: &Path, processes: &mut [&mut Process]) {
    let mut agents = Process::start(
        "simulated-agents",
        Command::new(binary("edgecoder-coordinator"))
            .args(["simulate", "--url", api, "--broker", mqtt, "--agents", "2", "--prefix", "patcher", "--admin-token-file"])
            .arg(state.join("admin.token")),
        dir,
    );
    let sha = upload_snapshot(client, api, &[("calc.py", CALC)]);
    let append = |name: &str, op: &str| {
        format!("--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,6 @@\n def add(a, b):\n     return a + b\n+\n+\n+def {name}(a, b):\n+    return a {op} b\n")
    };
    let job = serde_json::json!({
        "tenant": "acme", "lang": "python", "snapshot": sha, "aggregate": "merge_patches",
        "instruction": "Add sub(a, b) and mul(a, b) to calc.py.", "tests": CALC_TESTS,
        "subtasks": [{"instruction": append("sub", "-"), "mode": "step"}, {"instruction": append("mul", "*"), "mode": "step"}],
    });
    let submitted = client.post(&format!("{api}/v1/jobs"), &job);
    let id = submitted["id"].as_str().unwrap_or_else(|| panic!("{submitted}")).to_owned();
    let deadline = Instant::now() + Duration::from_secs(600);
    let status = loop {
        let status = client.get(&format!("{api}/v1/jobs/{id}"));
        if ["done", "failed", "cancelled", "conflict"].contains(&status["state"].as_str().unwrap_or("")) {
            break status;
        }
        assert!(Instant::now() < deadline, "the merge job did not end in 10 minutes: {status:#}");
        for p in processes.iter_mut().map(|p| &mut **p).chain([&mut agents]) {
            if let Some(exit) = p.child.try_wait().unwrap() {
                panic!("{} exited ({exit}) while the merge job ran:\n{}", p.name, p.log());
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(status["state"], "done", "{status:#}");
    let diff = client.get(&format!("{api}/v1/jobs/{id}/results"))["result"].as_str().unwrap().to_owned();
    let patch = diffy::Patch::from_str(&diff).unwrap_or_else(|e| panic!("{e}: {diff}"));
    let merged = diffy::apply(CALC, &patch).unwrap();
    let report = edgecoder_executor::run_tests(&merged, CALC_TESTS, edgecoder_executor::Lang::Python, &Default::default());
    assert!(report.all_passed(), "the resolved file passes the job's tests:\n{merged}\n{report:#?}");
    assert!(processes[0].log().contains("the parent model resolved the conflict"), "{}", processes[0].log());
    agents.terminate();
}

#[test]
fn on_postgresql_a_job_submitted_to_one_coordinator_runs_on_the_workers_of_another() {
    let url = std::env::var("EDGECODER_TEST_PG").unwrap_or_else(|_| "postgres://postgres@127.0.0.1/test".into());
    let schema = format!("ec_swarm_{}", std::process::id());
    let dir = tempfile::tempdir().unwrap();
    let inference = free_port();
    let mut inference_service = Process::start(
        "inference",
        Command::new(binary("edgecoder-inference"))
            .args(["--listen", &format!("127.0.0.1:{inference}"), "--model", "qwen2.5-coder-0.5b", "--threads", "2"]),
        dir.path(),
    );
    let snapshots = dir.path().join("snapshots");
    // Coordinator a decomposes (it alone knows the inference service); b serves the workers.
    let start = |name: &str, planner: bool| {
        let (mqtt, http) = (free_port(), free_port());
        let mut command = Command::new(binary("edgecoder-coordinator"));
        command
            .arg("serve")
            .arg("--state")
            .arg(dir.path().join(name))
            .args(["--mqtt", &format!("127.0.0.1:{mqtt}"), "--http", &format!("127.0.0.1:{http}"), "--lease", "120s"])
            .args(["--postgres", &url, "--schema", &schema])
            .arg("--snapshots")
            .arg(&snapshots);
        if planner {
            command.args(["--inference", &format!("http://127.0.0.1:{inference}")]);
        }
        (Process::start(name, &mut command, dir.path()), format!("http://127.0.0.1:{http}"))
    };
    let (mut a, api_a) = start("coordinator-a", true);
    let (mut b, api_b) = start("coordinator-b", false);
    let mut client = Http {
        runtime: tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
        client: reqwest::Client::new(),
        token: String::new(),
    };
    wait_for_http(&client, &format!("{api_a}/openapi.json"), "coordinator a", &mut [&mut a]);
    wait_for_http(&client, &format!("{api_b}/openapi.json"), "coordinator b", &mut [&mut b]);
    wait_for_http(&client, &format!("http://127.0.0.1:{inference}/healthz"), "the inference service", &mut [&mut inference_service]);
    let token_a = std::fs::read_to_string(dir.path().join("coordinator-a").join("admin.token")).unwrap();
    let token_b = std::fs::read_to_string(dir.path().join("coordinator-b").join("admin.token")).unwrap();

    client.token = token_b.clone();
    let mut workers: Vec<Process> = (0..2).map(|n| start_worker(&client, &api_b, &format!("worker-{n}"), None, dir.path())).collect();
    client.token = token_a;
    let sha = upload_snapshot(&client, &api_a, PRIME_SNAPSHOT);
    let id = client.post(&format!("{api_a}/v1/jobs"), &prime_job(&sha))["id"].as_str().unwrap().to_owned();
    let mut processes: Vec<&mut Process> = workers.iter_mut().chain([&mut a, &mut b, &mut inference_service]).collect();
    wait_until_done(&client, &api_a, &id, &mut processes);
    client.token = token_b;
    assert_eq!(client.get(&format!("{api_b}/v1/jobs/{id}"))["state"], "done", "b sees the job it ran end");
    let agents = client.get(&format!("{api_b}/v1/admin/agents"));
    assert_eq!(agents.as_array().unwrap().len(), 2, "both workers said hello to b: {agents:#}");

    for worker in &mut workers {
        worker.terminate();
    }
    a.terminate();
    b.terminate();
    inference_service.terminate();
    verify_audit(&["--postgres".as_ref(), url.as_ref(), "--schema".as_ref(), schema.as_ref()]);
    let dropped = Command::new("psql")
        .arg(&url)
        .args(["-q", "-c", &format!("DROP SCHEMA {schema} CASCADE")])
        .output()
        .expect("psql (Debian's postgresql-client) drops the test schema");
    assert!(dropped.status.success(), "{}", String::from_utf8_lossy(&dropped.stderr));
}

/// Where the dashboard test's screenshots go (kept after the run, beside the test binaries).
fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The ops dashboard in a real browser (Debian's chromium driven by playwright-core, both set up
/// by scripts/test): an operator logs in, turns the local-model feature off for the fleet and on
/// for worker-a, starts a canary of two random agents — only worker-a is offered the model — and
/// watches the real worker download, verify and install it through the page's live updates; a
/// manifest signed by a key the workers do not trust shows `unknown_key` and halts. The
/// screenshots are kept (their folder is printed).
#[test]
fn the_dashboard_drives_a_rollout_to_a_real_worker_in_a_real_browser() {
    let modules = std::env::var_os("EDGECODER_TEST_NODE_MODULES").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/edgecoder/node/node_modules")
    });
    assert!(modules.join("playwright-core").is_dir(), "playwright-core is not in {}: run scripts/test once to install it", modules.display());
    let chromium = std::env::var("EDGECODER_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(Path::new(&chromium).is_file(), "no browser at {chromium}: run scripts/test once (it installs Debian's chromium)");

    let dir = tempfile::tempdir().unwrap();
    let (mqtt, http) = (free_port(), free_port());
    let state = dir.path().join("coordinator");
    let mut coordinator = Process::start(
        "coordinator",
        Command::new(binary("edgecoder-coordinator")).arg("serve").arg("--state").arg(&state).args([
            "--mqtt",
            &format!("127.0.0.1:{mqtt}"),
            "--http",
            &format!("127.0.0.1:{http}"),
        ]),
        dir.path(),
    );
    let url = format!("http://127.0.0.1:{http}");
    let mut client = Http {
        runtime: tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap(),
        client: reqwest::Client::new(),
        token: String::new(),
    };
    wait_for_http(&client, &format!("{url}/openapi.json"), "the coordinator", &mut [&mut coordinator]);
    client.token = std::fs::read_to_string(state.join("admin.token")).unwrap();
    let mut workers: Vec<Process> = ["worker-a", "worker-b"].iter().map(|name| start_worker(&client, &url, name, None, dir.path())).collect();
    let deadline = Instant::now() + Duration::from_secs(120);
    while client.get(&format!("{url}/v1/admin/agents")).as_array().map_or(0, Vec::len) < 2 {
        assert!(Instant::now() < deadline, "the workers did not say hello:\n{}\n{}", workers[0].log(), workers[1].log());
        std::thread::sleep(Duration::from_millis(200));
    }

    let key = fleet_key(dir.path());
    let signed = edgecoder_ota::manifest::sign(&edgecoder_protocol::manifest::Statement::Model(smollm2_manifest(1)), &key);
    let manifest = dir.path().join("smollm2.signed");
    std::fs::write(&manifest, postcard::to_allocvec(&signed).unwrap()).unwrap();
    let stranger = edgecoder_ota::manifest::generate_key();
    let foreign = edgecoder_ota::manifest::sign(&edgecoder_protocol::manifest::Statement::Model(smollm2_manifest(2)), &stranger);
    let foreign_manifest = dir.path().join("foreign.signed");
    std::fs::write(&foreign_manifest, postcard::to_allocvec(&foreign).unwrap()).unwrap();

    let screenshots = screenshot_dir();
    let browser = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/dashboard.cjs"))
        .env("NODE_PATH", &modules)
        .env("CHROMIUM", &chromium)
        .env("DASHBOARD_URL", &url)
        .env("ADMIN_TOKEN", client.token.trim())
        .env("MANIFEST", &manifest)
        .env("FOREIGN_MANIFEST", &foreign_manifest)
        .env("AGENT", "worker-a")
        .env("OTHER_AGENT", "worker-b")
        .env("SCREENSHOTS", &screenshots)
        .output()
        .expect("node runs the browser script");
    let stdout = String::from_utf8_lossy(&browser.stdout);
    assert!(browser.status.success(), "the browser run failed:\n{stdout}\n{}\n{}", String::from_utf8_lossy(&browser.stderr), coordinator.log());
    let seen: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    eprintln!("dashboard screenshots in {}: {}", screenshots.display(), seen["screenshots"]);

    assert_eq!(seen["offered"], serde_json::json!(["worker-a"]), "only the enabled agent is offered the model: {seen:#}");
    assert!(seen["agent_local_model"].as_str().unwrap().contains("on (agent worker-a)"), "{seen:#}");
    assert!(seen["installed_message"].as_str().unwrap().contains("active in slot A"), "{seen:#}");
    assert_eq!(seen["after_advance"], "complete", "the last stage adds nobody new: {seen:#}");
    assert_eq!(seen["refusal_code"], "unknown_key", "{seen:#}");
    assert!(seen["provenance"].as_str().unwrap().contains("worker-a"), "{seen:#}");
    assert!(seen["audit_chain"].as_str().unwrap().contains("The chain verifies"), "{seen:#}");
    assert_eq!(seen["page_errors"], serde_json::json!([]), "no script errors on the pages");
    assert_eq!(seen["screenshots"].as_array().unwrap().len(), 6);
    for shot in seen["screenshots"].as_array().unwrap() {
        assert!(std::fs::metadata(shot.as_str().unwrap()).unwrap().len() > 10_000, "{shot} is an image");
    }
    assert!(dir.path().join("worker-a/models/slots/smollm2-135m/a/model.gguf").is_file(), "worker-a installed it");
    assert!(!dir.path().join("worker-b/models/slots").exists(), "worker-b has the feature off: nothing was offered");
    let rollouts = client.get(&format!("{url}/v1/admin/rollouts"));
    assert_eq!(rollouts[1]["agents"]["worker-a"]["state"], "installed", "{rollouts:#}");
    assert_eq!(rollouts[1]["state"]["state"], "complete", "{rollouts:#}");
    assert_eq!(rollouts[0]["state"]["state"], "halted", "{rollouts:#}");

    for worker in &mut workers {
        worker.terminate();
    }
    coordinator.terminate();
}

/// `edgecoder bench rollout` end to end on a small fleet: the real worker resumes its cut
/// download instead of starting over, and every rejection case shows its reason code on the
/// dashboard.
#[test]
fn the_rollout_bench_resumes_cut_downloads_and_shows_every_rejection_code() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench-rollout.json");
    let run = Command::new(env!("CARGO_BIN_EXE_edgecoder"))
        .args(["bench", "rollout", "--workers", "1", "--simulated", "5", "--json-out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}\n{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(report["cut_downloads"], 1, "{report:#}");
    // Resumed, not started over: at most the bytes in flight at the cut are sent twice (a
    // restart would resend half the file).
    assert!(report["sent_again_bytes"].as_u64().unwrap() < 8 << 20, "{report:#}");
    assert_eq!(report["installs"][0]["fetched_bytes"], report["model_bytes"], "{report:#}");
    assert_eq!(report["installs"][0]["attempts"], 2, "the cut attempt and the one that resumed it: {report:#}");
    let codes: Vec<&str> = report["rejections"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "refused by the coordinator (400)",
            "unknown_key",
            "expired",
            "downgrade",
            "source_not_allowed",
            "model_not_allowed",
            "digest_mismatch",
            "size_exceeded"
        ],
        "{report:#}"
    );
}
