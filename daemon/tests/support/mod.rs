//! Starting a real `edgecoderd` for a test: a temporary config, socket and token, the real
//! model from the store, and `127.0.0.1:0`; stopped with SIGTERM when dropped.

#![allow(dead_code)] // each test binary uses a different part of this module

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The path of an installed model, or a panic that says how to install it.
pub fn model_path(id: &str) -> PathBuf {
    let store = edgecoder_ota::ModelStore::from_env().expect("a model store location (HOME)");
    store
        .path(id)
        .unwrap_or_else(|e| panic!("model {id} is not installed ({e}): run `edgecoder model pull {id}`"))
}

/// A manifest of the SmolLM2 fixture (installed by `scripts/test`) with one `file://` source,
/// valid for an hour.
pub fn smollm2_manifest(source: &Path, version: &str, sequence: u64) -> edgecoder_protocol::manifest::ModelManifest {
    use edgecoder_protocol::manifest::{ManifestFile, ModelManifest};
    use edgecoder_protocol::Sha256;
    let spec = edgecoder_ota::catalog::find("smollm2-135m").unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    ModelManifest {
        model: "smollm2-135m".into(),
        version: version.into(),
        files: vec![ManifestFile {
            name: "model.gguf".into(),
            size: spec.size,
            sha256: Sha256::from_hex(&spec.sha256).unwrap(),
            sources: vec![format!("file://{}", source.display())],
        }],
        min_daemon_version: "0.1.0".into(),
        runtime: "gguf".into(),
        quantization: "Q4_1".into(),
        issued_at: now - 10,
        expires_at: now + 3_600,
        sequence,
        rollback: false,
    }
}

/// The Python of the test venv (`EDGECODER_TEST_VENV`, set by scripts/test).
pub fn python() -> PathBuf {
    let venv = std::env::var_os("EDGECODER_TEST_VENV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/edgecoder/venv")
    });
    let python = venv.join("bin/python");
    assert!(python.is_file(), "no Python at {}: run scripts/test once to create the test venv", python.display());
    python
}

/// A running daemon.
pub struct Daemon {
    child: Child,
    /// Temporary directory with config, token, socket and logs.
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The bearer token.
    pub token: String,
    /// The config file.
    pub config: PathBuf,
    /// The unix socket.
    pub socket: PathBuf,
    /// Lines the daemon printed on stdout after start-up.
    pub stdout: mpsc::Receiver<String>,
}

impl Daemon {
    /// Starts a daemon serving `model` (an installed catalog id) with extra config lines.
    pub fn start(model: &str, extra: &str) -> Daemon {
        Daemon::start_with(model, extra, &[], &[])
    }

    /// [`Daemon::start`] with extra environment variables, run through `wrapper` (a program
    /// and its arguments, e.g. `unshare ...`) when it is not empty.
    pub fn start_with(model: &str, extra: &str, env: &[(&str, &std::ffi::OsStr)], wrapper: &[&std::ffi::OsStr]) -> Daemon {
        model_path(model);
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("run/edgecoderd.sock");
        let token_file = dir.path().join("state/token");
        let config = dir.path().join("edgecoderd.toml");
        std::fs::write(
            &config,
            format!(
                "socket = {socket:?}\ntoken_file = {token_file:?}\nlisten = \"127.0.0.1:0\"\nmodel = {model:?}\nthreads = 2\n{extra}\n"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("daemon.log")).unwrap();
        let daemon = std::ffi::OsStr::new(env!("CARGO_BIN_EXE_edgecoderd"));
        let mut command = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(daemon);
                c
            }
            None => Command::new(daemon),
        };
        let mut child = command
            .envs(env.iter().copied())
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info")
            .env("EDGECODER_QUEUE", dir.path().join("queue"))
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("edgecoderd starts");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(300);
        let base = loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some(addr) = line.strip_prefix("edgecoderd listening on http://") {
                        break format!("http://{addr}");
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = child.wait().unwrap();
                    let log = std::fs::read_to_string(dir.path().join("daemon.log")).unwrap_or_default();
                    panic!("edgecoderd exited ({status}) before listening:\n{log}");
                }
            }
            assert!(Instant::now() < deadline, "edgecoderd did not start within 300 s");
        };
        let token = std::fs::read_to_string(&token_file).expect("token file").trim().to_owned();
        Daemon { child, dir, base, token, config, socket, stdout: rx }
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("daemon.log")).unwrap_or_default()
    }

    /// Sends SIGTERM and waits for the exit status (at most `timeout`).
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        // SAFETY: kill(2) on our own child's pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// An HTTP client with the daemon's token as default header.
    pub fn client(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {}", self.token).parse().unwrap());
        reqwest::Client::builder().default_headers(headers).build().unwrap()
    }

    /// Posts `body` to the daemon's `path` (with the token) and reads the JSON answer.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> serde_json::Value {
        let response = self.client().post(format!("{}{path}", self.base)).json(body).send().await.unwrap();
        response.json().await.unwrap()
    }

    /// Runs `daemon/tests/py/SCRIPT` with the daemon's address, token and `model`; panics with
    /// its output when it fails.
    pub fn run_python(&self, script: &str, model: &str, env: &[(&str, &str)]) {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/py");
        let out = Command::new(python())
            .arg(dir.join(script))
            .current_dir(&dir)
            .env("EDGECODER_BASE_URL", &self.base)
            .env("EDGECODER_TOKEN", &self.token)
            .env("EDGECODER_MODEL", model)
            .envs(env.iter().copied())
            .output()
            .expect("python starts");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        println!("{stdout}\n{stderr}");
        assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}\ndaemon log:\n{}", self.log());
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.terminate(Duration::from_secs(15)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `edgecoder` binary as a command: no `RUST_LOG`, stdin closed (so nothing can prompt).
pub fn edgecoder_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_edgecoder"));
    command.env_remove("RUST_LOG").stdin(Stdio::null());
    command
}

/// Runs `edgecoder ARGS` to its end.
pub fn edgecoder(args: &[&str]) -> std::process::Output {
    edgecoder_command().args(args).output().expect("the edgecoder binary starts")
}

/// Bytes of a process's output as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The buggy `add` of the workspace tests.
pub const BUGGY_ADD: &str = "def add(a, b):\n    return a - b\n";

/// A workspace folder `ws` in `dir` with the buggy `calc.py` and its `test_calc.py`.
pub fn calc_workspace(dir: &Path) -> PathBuf {
    let ws = dir.join("ws");
    std::fs::create_dir(&ws).unwrap();
    std::fs::write(ws.join("calc.py"), BUGGY_ADD).unwrap();
    std::fs::write(ws.join("test_calc.py"), "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n    assert add(-1, 1) == 0\n").unwrap();
    ws
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
