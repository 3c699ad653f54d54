//! `edgecoder bench rollout`: the over-the-air rollout figures. A real coordinator
//! (`edgecoder-coordinator serve`, found beside this binary) rolls a model out to real workers
//! (`edgecoder worker run`, each with its own model store and pinned fleet key) and to
//! simulated agents (`edgecoder-coordinator simulate`), from a loopback HTTP source that cuts
//! every worker's first download halfway (the connection drops): time to full, the bytes each
//! worker fetched against the file's size (what resuming saved), then one rollout per rejection
//! case with the reason code the dashboard shows for it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use clap::Args;
use edgecoder_ota::manifest::{SigningKey, generate_key, sign};
use edgecoder_protocol::Sha256;
use edgecoder_protocol::manifest::{ManifestFile, ModelManifest, SignedStatement, Statement};
use serde::Serialize;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use std::process::Command;

use super::{Execute, Exit, Failure};

/// Options of `edgecoder bench rollout`.
#[derive(Debug, Args)]
pub struct RolloutBench {
    /// The model rolled out (a catalog id; its installed file is served over loopback HTTP).
    #[arg(long, default_value = edgecoder_ota::DEFAULT_MODEL)]
    pub model: String,
    /// Real workers (`edgecoder worker run` processes): the canary.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=16))]
    pub workers: u32,
    /// Simulated agents (`edgecoder-coordinator simulate`), reached by the last stage.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(0..=5000))]
    pub simulated: u32,
    /// Where to write the JSON results.
    #[arg(long, default_value = "bench-rollout.json")]
    pub json_out: PathBuf,
}

/// A worker's install, as it reported it.
#[derive(Debug, Serialize)]
pub struct WorkerInstall {
    /// The worker.
    pub agent: String,
    /// Its final report's message (slot, seconds, bytes fetched and resumed).
    pub message: String,
    /// Bytes it wrote from the network for the install, all attempts together (the file's
    /// size when resuming lost nothing it had kept).
    pub fetched_bytes: u64,
    /// Download attempts (2: the cut one, and the one that resumed it).
    pub attempts: u32,
}

/// One rejection case and the reason code shown for it.
#[derive(Debug, Serialize)]
pub struct Rejection {
    /// What was wrong with the manifest.
    pub case: String,
    /// The code the dashboard shows (or the coordinator's refusal).
    pub code: String,
    /// What the device (or the coordinator) said.
    pub message: String,
}

/// The results.
#[derive(Debug, Serialize)]
pub struct RolloutReport {
    /// The model.
    pub model: String,
    /// Its size.
    pub model_bytes: u64,
    /// Real workers.
    pub workers: u32,
    /// Simulated agents.
    pub simulated: u32,
    /// From the start of the rollout until the canary (the real workers) had installed it.
    pub canary_s: f64,
    /// From the start until every agent had it (the rollout complete).
    pub full_s: f64,
    /// Downloads the source cut halfway (one per worker).
    pub cut_downloads: u32,
    /// Bytes the source sent for the rollout (the rejection cases not counted).
    pub served_bytes: u64,
    /// Bytes the source sent beyond one copy per worker: what the cuts made it send twice
    /// (bytes in flight when the connection dropped; a download started over would add half
    /// the file per worker).
    pub sent_again_bytes: u64,
    /// Each worker's install.
    pub installs: Vec<WorkerInstall>,
    /// Each rejection case.
    pub rejections: Vec<Rejection>,
}

/// The loopback model source: `GET /model.gguf`, `Range: bytes=N-` honoured; the first
/// `cuts` answers without a range stop halfway and drop the connection.
struct Source {
    path: PathBuf,
    size: u64,
    cuts: AtomicU32,
    cut: AtomicU32,
    served: AtomicU64,
}

async fn serve_model(State(source): State<Arc<Source>>, headers: HeaderMap) -> Response {
    let start = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.strip_suffix('-'))
        .and_then(|v| v.parse::<u64>().ok());
    let cut_here = start.is_none() && source.cuts.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
    let from = start.unwrap_or(0).min(source.size);
    let stop = if cut_here {
        source.cut.fetch_add(1, Ordering::SeqCst);
        source.size / 2
    } else {
        source.size
    };
    let mut file = match tokio::fs::File::open(&source.path).await {
        Ok(file) => file,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    if let Err(e) = file.seek(std::io::SeekFrom::Start(from)).await {
        return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
    }
    let counter = source.clone();
    let body = futures_util::stream::unfold((file, from), move |(mut file, at)| {
        let counter = counter.clone();
        async move {
            if at >= stop {
                return (stop < counter.size && at == stop).then(|| {
                    (Err(std::io::Error::new(std::io::ErrorKind::ConnectionAborted, "the bench cuts this download")), (file, at + 1))
                });
            }
            let mut chunk = vec![0u8; (1 << 20).min((stop - at) as usize)];
            match file.read_exact(&mut chunk).await {
                Ok(_) => {
                    counter.served.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    let next = at + chunk.len() as u64;
                    Some((Ok(Bytes::from(chunk)), (file, next)))
                }
                Err(e) => Some((Err(e), (file, u64::MAX))),
            }
        }
    });
    let length = source.size - from;
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_LENGTH, length.into());
    headers.insert(header::ACCEPT_RANGES, header::HeaderValue::from_static("bytes"));
    if from > 0 {
        *response.status_mut() = StatusCode::PARTIAL_CONTENT;
        let range = format!("bytes {from}-{}/{}", source.size - 1, source.size);
        response.headers_mut().insert(header::CONTENT_RANGE, range.parse().expect("a valid header"));
    }
    response
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let me = std::env::current_exe().context("cannot find this binary")?;
    let path = me.with_file_name(name);
    if !path.is_file() {
        bail!("{} is missing: build it beside edgecoder (cargo build --workspace --bins)", path.display());
    }
    Ok(path)
}

/// A child process, killed when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a child process killed when the bench ends, its output in `log`.
fn spawn(program: &Path, args: &[&str], env: &[(&str, &Path)], log: &Path) -> anyhow::Result<Child> {
    let out = std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut command = Command::new(program);
    command.args(args).stdout(out.try_clone()?).stderr(out).stdin(std::process::Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().map(Child).with_context(|| format!("cannot start {}", program.display()))
}

/// Admin calls to the coordinator's API.
struct Admin {
    http: reqwest::Client,
    url: String,
    token: String,
}

impl Admin {
    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self.http.get(format!("{}{path}", self.url)).bearer_auth(&self.token).send().await?;
        Ok(response.json().await?)
    }

    async fn start(&self, signed: &SignedStatement, query: &str) -> anyhow::Result<Result<u64, String>> {
        let body = postcard::to_allocvec(signed)?;
        let response =
            self.http.post(format!("{}/v1/admin/rollouts?{query}", self.url)).bearer_auth(&self.token).body(body).send().await?;
        let status = response.status();
        let answer: Value = response.json().await?;
        Ok(if status.is_success() {
            Ok(answer["id"].as_u64().ok_or_else(|| anyhow!("no rollout id in {answer}"))?)
        } else {
            Err(answer["error"].as_str().unwrap_or_default().to_owned())
        })
    }

    /// Waits (at most `limit`) until rollout `id` satisfies `done`.
    async fn wait(&self, id: u64, limit: Duration, done: impl Fn(&Value) -> bool) -> anyhow::Result<Value> {
        let deadline = Instant::now() + limit;
        loop {
            let rollout = self.get(&format!("/v1/admin/rollouts/{id}")).await?;
            if done(&rollout) {
                return Ok(rollout);
            }
            if Instant::now() > deadline {
                bail!("rollout {id} did not get there within {limit:?}: {rollout:#}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// An operator's dashboard session (to read what the dashboard shows).
async fn dashboard_session(url: &str, token: &str) -> anyhow::Result<(reqwest::Client, String)> {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let login = http.get(format!("{url}/dashboard/login")).send().await?;
    let cookie = |response: &reqwest::Response, name: &str| -> Option<String> {
        response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|v| v.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap_or_default().to_owned()))
    };
    let nonce = cookie(&login, "ec_login").ok_or_else(|| anyhow!("the dashboard's login form set no cookie"))?;
    let form = serde_urlencoded::to_string([("token", token), ("csrf", nonce.as_str())])?;
    let answer = http
        .post(format!("{url}/dashboard/login"))
        .header(header::COOKIE, format!("ec_login={nonce}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await?;
    let session = cookie(&answer, "ec_session").ok_or_else(|| anyhow!("the dashboard refused the admin token ({})", answer.status()))?;
    Ok((http, format!("ec_session={session}")))
}

/// The reason code the dashboard's rollout page shows for `agent`.
async fn code_on_dashboard(http: &reqwest::Client, cookie: &str, url: &str, id: u64, agent: &str) -> anyhow::Result<String> {
    let page = http.get(format!("{url}/dashboard/rollouts/{id}")).header(header::COOKIE, cookie).send().await?.text().await?;
    let row = page
        .split(&format!(r#"<tr data-agent="{agent}">"#))
        .nth(1)
        .ok_or_else(|| anyhow!("the dashboard's rollout {id} has no row for {agent}"))?;
    let code = row.split(r#"<td class="code"><code>"#).nth(1).and_then(|rest| rest.split("</code>").next());
    Ok(code.unwrap_or_default().to_owned())
}

fn manifest(model: &str, version: &str, sequence: u64, size: u64, sha256: Sha256, source: &str) -> ModelManifest {
    let now = edgecoder_protocol::envelope::unix_time_ms() / 1000;
    ModelManifest {
        model: model.into(),
        version: version.into(),
        files: vec![ManifestFile { name: "model.gguf".into(), size, sha256, sources: vec![source.into()] }],
        min_daemon_version: "0.1.0".into(),
        runtime: "gguf".into(),
        quantization: "Q4_K_M".into(),
        issued_at: now - 60,
        expires_at: now + 3_600,
        sequence,
        rollback: false,
    }
}

/// The bytes fetched and the attempts in a worker's install message.
fn fetched_of(message: &str) -> (u64, u32) {
    let fetched = message.split(" bytes fetched").next().and_then(|s| s.rsplit('(').next()).and_then(|n| n.trim().parse().ok());
    let attempts = message.split(" bytes fetched in ").nth(1).and_then(|s| s.split(' ').next()).and_then(|n| n.parse().ok());
    (fetched.unwrap_or(0), attempts.unwrap_or(0))
}

impl RolloutBench {
    async fn measure(&self, dir: &Path) -> anyhow::Result<RolloutReport> {
        let store = edgecoder_ota::ModelStore::from_env()?;
        let spec = edgecoder_ota::catalog::find(&self.model)?;
        let model_path = store.path(&self.model).with_context(|| format!("install it first: edgecoder model pull {}", self.model))?;
        let sha256 = Sha256::from_hex(&spec.sha256).ok_or_else(|| anyhow!("the catalog's sha256 of {} is not hex", self.model))?;

        let source = Arc::new(Source {
            path: model_path.clone(),
            size: spec.size,
            cuts: AtomicU32::new(self.workers),
            cut: AtomicU32::new(0),
            served: AtomicU64::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let source_url = format!("http://{}/model.gguf", listener.local_addr()?);
        let app = axum::Router::new().route("/model.gguf", axum::routing::get(serve_model)).with_state(source.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });

        let coordinator_bin = sibling("edgecoder-coordinator")?;
        let (mqtt, http_port) = (free_port()?, free_port()?);
        let state = dir.join("coordinator");
        let mqtt_addr = format!("127.0.0.1:{mqtt}");
        let url = format!("http://127.0.0.1:{http_port}");
        let state_arg = state.display().to_string();
        let mut children = vec![spawn(
            &coordinator_bin,
            &["serve", "--state", &state_arg, "--mqtt", &mqtt_addr, "--http", &format!("127.0.0.1:{http_port}")],
            &[],
            &dir.join("coordinator.log"),
        )?];
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while http.get(format!("{url}/openapi.json")).send().await.is_err() {
            if Instant::now() > deadline {
                bail!("the coordinator did not come up: {}", std::fs::read_to_string(dir.join("coordinator.log")).unwrap_or_default());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let admin = Admin { http, url: url.clone(), token: std::fs::read_to_string(state.join("admin.token"))?.trim().to_owned() };

        let key: SigningKey = generate_key();
        let trust = dir.join("fleet.pub");
        std::fs::write(&trust, format!("{}\n", edgecoder_protocol::PublicKey(key.verifying_key().to_bytes())))?;
        let me = std::env::current_exe()?;
        let allow = source_url.trim_end_matches("model.gguf").to_owned();
        let mut workers = Vec::new();
        for n in 0..self.workers {
            let name = format!("bench-worker-{n}");
            let token = admin.http.post(format!("{url}/v1/admin/enrolment-tokens")).bearer_auth(&admin.token).send().await?;
            let token: Value = token.json().await?;
            let credentials = dir.join(format!("{name}.json"));
            let enrolled = Command::new(&me)
                .args(["worker", "enrol", "--coordinator", &url, "--id", &name, "--token"])
                .arg(token["token"].as_str().unwrap_or_default())
                .arg("--credentials")
                .arg(&credentials)
                .output()?;
            if !enrolled.status.success() {
                bail!("{name} could not enrol: {}", String::from_utf8_lossy(&enrolled.stderr));
            }
            let home = dir.join(&name);
            let (model_arg, credentials_arg, trust_arg, state_arg) =
                (model_path.display().to_string(), credentials.display().to_string(), trust.display().to_string(), home.display().to_string());
            children.push(spawn(
                &me,
                &[
                    "worker", "run", "--threads", "1", "--model", &model_arg, "--credentials", &credentials_arg, "--state", &state_arg,
                    "--trust", &trust_arg, "--allow-source", &allow, "--allow-model", &self.model,
                ],
                &[("EDGECODER_MODELS", &home.join("models"))],
                &dir.join(format!("{name}.log")),
            )?);
            workers.push(name);
        }
        if self.simulated > 0 {
            let token_file = state.join("admin.token").display().to_string();
            children.push(spawn(
                &coordinator_bin,
                &[
                    "simulate", "--url", &url, "--admin-token-file", &token_file, "--agents", &self.simulated.to_string(), "--prefix",
                    "bench-sim", "--broker", &mqtt_addr,
                ],
                &[],
                &dir.join("simulate.log"),
            )?);
        }
        let everyone = (self.workers + self.simulated) as usize;
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let agents = admin.get("/v1/admin/agents").await?;
            if agents.as_array().map_or(0, Vec::len) >= everyone {
                break;
            }
            if Instant::now() > deadline {
                bail!("only {} of {everyone} agents said hello", agents.as_array().map_or(0, Vec::len));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        eprintln!("bench rollout: {} workers and {} simulated agents online; rolling out {}", self.workers, self.simulated, self.model);

        let signed = sign(&Statement::Model(manifest(&self.model, "1.0.1", 10, spec.size, sha256, &source_url)), &key);
        let started = Instant::now();
        let id = admin
            .start(&signed, &format!("canary={}&batches=100&max_failure_rate=0", workers.join(",")))
            .await?
            .map_err(|e| anyhow!("the rollout was refused: {e}"))?;
        let installed = |r: &Value| workers.iter().all(|w| r["agents"][w]["state"] == "installed");
        let failed = |r: &Value| r["state"]["state"] == "halted";
        let canary = admin.wait(id, Duration::from_secs(900), |r| installed(r) || failed(r)).await?;
        if failed(&canary) {
            bail!("the canary failed: {canary:#}");
        }
        let canary_s = started.elapsed().as_secs_f64();
        admin.http.post(format!("{url}/v1/admin/rollouts/{id}/advance")).bearer_auth(&admin.token).send().await?;
        let full = admin.wait(id, Duration::from_secs(300), |r| r["state"]["state"] == "complete" || failed(r)).await?;
        if failed(&full) {
            bail!("the rollout halted: {full:#}");
        }
        let full_s = started.elapsed().as_secs_f64();
        let served_bytes = source.served.load(Ordering::SeqCst);
        let installs = workers
            .iter()
            .map(|w| {
                let message = full["agents"][w]["message"].as_str().unwrap_or_default().to_owned();
                let (fetched_bytes, attempts) = fetched_of(&message);
                WorkerInstall { agent: w.clone(), fetched_bytes, attempts, message }
            })
            .collect();

        let (dashboard, cookie) = dashboard_session(&url, &admin.token).await?;
        let stranger = generate_key();
        let mut wrong_digest = sha256;
        wrong_digest.0[0] ^= 1;
        let now = edgecoder_protocol::envelope::unix_time_ms() / 1000;
        let mut expired = manifest(&self.model, "1.0.3", 12, spec.size, sha256, &source_url);
        (expired.issued_at, expired.expires_at) = (now - 7_200, now - 3_600);
        let cases: Vec<(&str, SignedStatement)> = vec![
            ("signed by a key the devices do not trust", sign(&Statement::Model(manifest(&self.model, "1.0.2", 11, spec.size, sha256, &source_url)), &stranger)),
            ("expired", sign(&Statement::Model(expired), &key)),
            ("an older version and sequence (downgrade)", sign(&Statement::Model(manifest(&self.model, "1.0.0", 9, spec.size, sha256, &source_url)), &key)),
            ("a source not on the devices' allowlist", sign(&Statement::Model(manifest(&self.model, "1.0.4", 13, spec.size, sha256, "https://models.example.com/m.gguf")), &key)),
            ("a model the devices' policy does not allow", sign(&Statement::Model(manifest("gemma3-270m", "1.0.0", 14, spec.size, sha256, &source_url)), &key)),
            ("a wrong sha256", sign(&Statement::Model(manifest(&self.model, "1.0.5", 15, spec.size, wrong_digest, &source_url)), &key)),
            ("a file larger than declared", sign(&Statement::Model(manifest(&self.model, "1.0.6", 16, spec.size - 1, sha256, &source_url)), &key)),
        ];
        let mut rejections = Vec::new();
        let target = &workers[0];
        let mut tampered = sign(&Statement::Model(manifest(&self.model, "1.0.7", 17, spec.size, sha256, &source_url)), &key);
        if let Some(last) = tampered.statement.last_mut() {
            *last ^= 1;
        }
        match admin.start(&tampered, &format!("canary={target}")).await? {
            Ok(id) => bail!("the coordinator started rollout {id} of a tampered manifest"),
            Err(error) => rejections.push(Rejection { case: "a tampered manifest (bad signature)".into(), code: "refused by the coordinator (400)".into(), message: error }),
        }
        for (case, signed) in cases {
            let id = admin
                .start(&signed, &format!("canary={target}&max_failure_rate=0"))
                .await?
                .map_err(|e| anyhow!("the rollout for the case {case:?} was refused by the coordinator: {e}"))?;
            let halted = admin.wait(id, Duration::from_secs(300), failed).await?;
            let code = code_on_dashboard(&dashboard, &cookie, &url, id, target).await?;
            let message = halted["agents"][target]["message"].as_str().unwrap_or_default().to_owned();
            eprintln!("bench rollout: {case}: {code}");
            rejections.push(Rejection { case: case.into(), code, message });
        }
        drop(children);
        Ok(RolloutReport {
            model: self.model.clone(),
            model_bytes: spec.size,
            workers: self.workers,
            simulated: self.simulated,
            canary_s,
            full_s,
            cut_downloads: source.cut.load(Ordering::SeqCst),
            served_bytes,
            sent_again_bytes: served_bytes.saturating_sub(spec.size * u64::from(self.workers)),
            installs,
            rejections,
        })
    }
}

fn print_table(r: &RolloutReport) {
    println!(
        "edgecoder bench rollout — {} ({:.0} MB) to {} real workers and {} simulated agents",
        r.model,
        r.model_bytes as f64 / 1e6,
        r.workers,
        r.simulated
    );
    println!("canary (real workers) installed after {:.1} s; every agent after {:.1} s", r.canary_s, r.full_s);
    println!(
        "the source cut {} downloads halfway; it sent {:.1} MB for the rollout, {:.2} MB of it twice (resumed; starting over would resend {:.1} MB)",
        r.cut_downloads,
        r.served_bytes as f64 / 1e6,
        r.sent_again_bytes as f64 / 1e6,
        (r.model_bytes / 2 * u64::from(r.cut_downloads)) as f64 / 1e6
    );
    println!("{:<18} {:>14} {:>9}  message", "worker", "fetched", "attempts");
    for i in &r.installs {
        println!("{:<18} {:>11.1} MB {:>9}  {}", i.agent, i.fetched_bytes as f64 / 1e6, i.attempts, i.message);
    }
    println!("{:<46} {:<34}", "rejection case", "code on the dashboard");
    for x in &r.rejections {
        println!("{:<46} {:<34}", x.case, x.code);
    }
}

impl Execute for RolloutBench {
    fn execute(self) -> Result<Exit, Failure> {
        let dir = tempfile::tempdir().map_err(|e| Failure::new(Exit::Io, anyhow!("cannot make a temporary folder: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::new(Exit::Failed, anyhow!("cannot start the async runtime: {e}")))?;
        let report = runtime.block_on(self.measure(dir.path())).map_err(|e| {
            Failure::new(Exit::Failed, e.context(format!("the logs are in {}", dir.path().display())))
        });
        let report = match report {
            Ok(report) => report,
            Err(failure) => {
                // The logs the error points to stay.
                let _ = dir.keep();
                return Err(failure);
            }
        };
        print_table(&report);
        super::bench::write_json(&self.json_out, &report)?;
        Ok(Exit::Ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fetched_bytes_are_read_from_the_install_message() {
        let message = "active in slot A after 3.1 s (491400064 bytes fetched in 2 attempt(s), 0 kept from an earlier try)";
        assert_eq!(fetched_of(message), (491_400_064, 2));
        assert_eq!(fetched_of("already installed and active"), (0, 0));
    }
}
