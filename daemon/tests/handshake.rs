//! The cloud-review handshake end to end, with real processes: `edgecoder-inference` as the
//! review server (the real model reviews; its API keys made by `edgecoder-inference api-key`),
//! the `edgecoder queue` commands as the device, and a recording TCP relay between them that
//! shows every byte the device sent.
//!
//! - Local mode sends nothing: a whole agent session (`edgecoder code` on the real model, in
//!   workspace mode) run under `strace` makes no connection to any address but loopback, and
//!   queueing a task sends nothing either — only `queue send` does.
//! - With the server down the entry stays queued (postponed with backoff) and goes out once the
//!   server is up: exactly one review request crosses the wire, redacted.
//! - The result comes back as a diff against the workspace file; Accept writes it with a backup
//!   and the secret the redaction took out put back; the decision reaches the server.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{free_port, text};

fn binary(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_BIN_EXE_edgecoder")).with_file_name(name);
    assert!(path.is_file(), "{} is missing: build the workspace (cargo build --workspace)", path.display());
    path
}

/// A TCP relay on loopback that records what clients send through it.
struct Relay {
    port: u16,
    sent: Arc<Mutex<Vec<u8>>>,
    connections: Arc<Mutex<u32>>,
}

impl Relay {
    fn start(upstream: u16) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(Mutex::new(0));
        let (log, count) = (sent.clone(), connections.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(mut client) = client else { continue };
                *count.lock().unwrap() += 1;
                // A server that is down: the client's connection is closed at once.
                let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                let (mut client_read, mut server_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                let log = log.clone();
                std::thread::spawn(move || {
                    let mut buffer = [0u8; 8192];
                    while let Ok(n) = client_read.read(&mut buffer) {
                        if n == 0 || server_write.write_all(&buffer[..n]).is_err() {
                            break;
                        }
                        log.lock().unwrap().extend_from_slice(&buffer[..n]);
                    }
                    let _ = server_write.shutdown(std::net::Shutdown::Write);
                });
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut server, &mut client);
                    let _ = client.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Relay { port, sent, connections }
    }

    fn sent(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().unwrap()).into_owned()
    }
}

struct Server(Child, PathBuf);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        if std::thread::panicking() {
            eprintln!("--- review server log ---\n{}", std::fs::read_to_string(&self.1).unwrap_or_default());
        }
    }
}

fn queue_cmd(args: &[&str], queue: &Path, config: &Path) -> std::process::Output {
    support::edgecoder_command()
        .args(["queue"])
        .args(args)
        .arg("--config")
        .arg(config)
        .env("EDGECODER_QUEUE", queue)
        .output()
        .expect("edgecoder starts")
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", text(&out.stdout), text(&out.stderr)))
}

const SECRET: &str = "sk-proj-Zq8RkT4mW2xV9nB7cL1pD5fH3jY6uA0s";
const STATS: &str = "API_KEY = \"sk-proj-Zq8RkT4mW2xV9nB7cL1pD5fH3jY6uA0s\"\n\n\ndef add(a, b):\n    return a - b\n";

#[test]
fn a_queued_task_leaves_only_when_sent_waits_out_a_server_that_is_down_and_comes_back_as_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    let (queue, ws) = (dir.path().join("queue"), dir.path().join("ws"));
    std::fs::create_dir(&ws).unwrap();
    std::fs::write(ws.join("stats.py"), STATS).unwrap();

    // The server's key file, and the device's copy of the key.
    let keys = dir.path().join("review-keys");
    let made = Command::new(binary("edgecoder-inference")).args(["api-key", "laptop-test", "--keys"]).arg(&keys).output().unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));
    let key = text(&made.stdout).trim().to_owned();
    assert!(key.starts_with("ecr_") && !std::fs::read_to_string(&keys).unwrap().contains(&key));
    std::fs::write(dir.path().join("review.key"), &key).unwrap();

    let server_port = free_port();
    let relay = Relay::start(server_port);
    let url = format!("http://127.0.0.1:{}", relay.port);
    let config = dir.path().join("edgecoderd.toml");
    std::fs::write(&config, format!("review_url = \"{url}\"\nreview_api_key_file = \"{}\"\n", dir.path().join("review.key").display())).unwrap();

    // Queued by the user: held on the device, nothing sent.
    let task = "Fix add in stats.py: it must return the sum of a and b.";
    let added = queue_cmd(&["add", task, "--file", "stats.py", "--workspace", ws.to_str().unwrap(), "--json"], &queue, &config);
    assert!(added.status.success(), "{}", text(&added.stderr));
    let id = json_of(&added)["id"].as_str().unwrap().to_owned();
    let shown = json_of(&queue_cmd(&["show", &id, "--json"], &queue, &config));
    assert_eq!(shown["entry"]["review"]["stage"], "held");
    let payload = shown["outgoing"]["request"].to_string();
    assert!(payload.contains("[REDACTED:") && !payload.contains(SECRET), "{payload}");
    assert_eq!(*relay.connections.lock().unwrap(), 0, "queueing sends nothing");

    // Sent while the server is down: it stays queued, postponed.
    let sent = queue_cmd(&["send", &id], &queue, &config);
    assert!(sent.status.success(), "{}\n{}", text(&sent.stdout), text(&sent.stderr));
    assert!(text(&sent.stdout).contains(&format!("postponed {id}")), "{}", text(&sent.stdout));
    let entry = json_of(&queue_cmd(&["show", &id, "--json"], &queue, &config))["entry"].clone();
    assert_eq!(entry["review"]["stage"], "waiting");
    assert_eq!(entry["review"]["attempts"], 1);
    assert!(entry["review"]["last_error"].as_str().unwrap().contains("cannot reach"), "{entry}");

    // The server comes up; the next passes send it, and follow it to its result.
    let log = dir.path().join("review-server.log");
    let child = Command::new(binary("edgecoder-inference"))
        .args(["--listen", &format!("127.0.0.1:{server_port}"), "--model", "qwen2.5-coder-0.5b", "--threads", "2", "--public-url", &url])
        .arg("--review-keys")
        .arg(&keys)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let _server = Server(child, log);
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", server_port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(120), "the review server did not start");
        std::thread::sleep(Duration::from_millis(200));
    }
    let synced = queue_cmd(&["sync", "--wait", "600", "--json"], &queue, &config);
    let synced = json_of(&synced);
    assert_eq!(synced["synced"]["answered"], serde_json::json!([id]), "{synced:#}");

    // On the wire: one token exchange and exactly one review request, redacted.
    let wire = relay.sent();
    assert_eq!(wire.matches("POST /review/v1/requests HTTP/1.1").count(), 1, "{wire}");
    assert_eq!(wire.matches("POST /review/v1/token HTTP/1.1").count(), 1, "{wire}");
    assert!(!wire.contains(SECRET) && wire.contains("[REDACTED:"), "the secret never left: {wire}");
    assert!(!wire.contains(ws.to_str().unwrap()), "no local paths: {wire}");

    // The result, as a diff against the file now.
    let result = json_of(&queue_cmd(&["result", &id, "--json"], &queue, &config));
    let diff = result["proposal"]["diff"].as_str().unwrap();
    assert!(diff.starts_with("--- a/stats.py\n+++ b/stats.py\n"), "{result:#}");
    assert!(result["result"]["verification"]["kind"] == "ran", "the server ran it: {result:#}");
    let proposed = result["proposal"]["code"].as_str().unwrap().to_owned();
    assert!(!proposed.contains(SECRET) || result["proposal"]["unresolved"] == 0, "{result:#}");

    // Accept: written with a backup, the secret back in place of its placeholder.
    let accepted = queue_cmd(&["accept", &id, "--json"], &queue, &config);
    assert!(accepted.status.success(), "{}\n{}\n{result:#}", text(&accepted.stdout), text(&accepted.stderr));
    let accepted = json_of(&accepted);
    assert_eq!(std::fs::read_to_string(ws.join("stats.py")).unwrap(), proposed);
    assert_eq!(std::fs::read_to_string(accepted["written"]["backup"].as_str().unwrap()).unwrap(), STATS);
    assert!(!proposed.contains("[REDACTED:"), "{proposed}");
    let again = queue_cmd(&["accept", &id], &queue, &config);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("accepted already"), "{}", text(&again.stderr));

    // The decision reaches the server, which forgets the review.
    let synced = json_of(&queue_cmd(&["sync", "--json"], &queue, &config));
    assert_eq!(synced["synced"]["acknowledged"], serde_json::json!([id]), "{synced:#}");
    assert!(relay.sent().contains("/ack HTTP/1.1"));
    assert!(relay.sent().contains("\"decision\":\"accepted\""));
}

#[test]
fn plain_http_to_another_host_is_refused_before_anything_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("edgecoderd.toml");
    std::fs::write(&config, "review_url = \"http://review.example.com\"\nreview_api_key_file = \"/dev/null\"\n").unwrap();
    let out = queue_cmd(&["sync"], &dir.path().join("queue"), &config);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("plain http is refused"), "{}", text(&out.stderr));
    std::fs::write(&config, "").unwrap();
    let out = queue_cmd(&["sync"], &dir.path().join("queue"), &config);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("no review server is set"), "{}", text(&out.stderr));
}

/// Every `connect` in an strace log to an internet address that is not loopback.
fn remote_connects(trace: &str) -> Vec<String> {
    trace
        .lines()
        .filter(|l| l.contains("connect(") && (l.contains("AF_INET") || l.contains("AF_INET6")))
        .filter(|l| !(l.contains("inet_addr(\"127.") || l.contains("inet_pton(AF_INET6, \"::1\"")))
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_local_agent_session_connects_to_nothing_but_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let ws = support::calc_workspace(dir.path());
    let trace = dir.path().join("strace.log");
    let model = support::model_path("qwen2.5-coder-0.5b");
    let out = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o"])
        .arg(&trace)
        .arg(env!("CARGO_BIN_EXE_edgecoder"))
        .args(["code", "Fix add in calc.py: it must return the sum of a and b.", "--workspace"])
        .arg(&ws)
        .arg("--model")
        .arg(&model)
        .args(["--no-plan", "--json", "--max-iterations", "2", "--no-daemon", "--yes"])
        .env("EDGECODER_QUEUE", dir.path().join("queue"))
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("strace runs (apt-get install strace)");
    let trace = std::fs::read_to_string(&trace).unwrap();
    assert!(text(&out.stdout).contains("\"state\""), "the session ran: {}\n{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(remote_connects(&trace), Vec::<String>::new(), "a local session must not reach the network");
    // The check itself does find a connection to a remote address.
    let sample = "1234 connect(9, {sa_family=AF_INET, sin_port=htons(443), sin_addr=inet_addr(\"93.184.216.34\")}, 16) = -1 ENETUNREACH";
    assert_eq!(remote_connects(sample).len(), 1);
    assert!(remote_connects("1 connect(3, {sa_family=AF_INET, sin_port=htons(1), sin_addr=inet_addr(\"127.0.0.1\")}, 16) = 0").is_empty());
}
