//! The daemon's APIs through real clients: the official `openai`, `ollama` and `mcp` Python
//! SDKs, and raw HTTP for bad input (malformed JSON, wrong types, unknown model, absurd
//! `max_tokens`, 10 MB bodies, slow loris, missing/wrong token, foreign Host/Origin), each
//! answered with the right status and body while the daemon keeps serving.

mod support;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::Daemon;

const SMOL: &str = "smollm2-135m";

fn smol(extra: &str) -> Daemon {
    Daemon::start(SMOL, extra)
}

fn smol_id() -> String {
    SMOL.to_owned()
}

#[test]
fn the_openai_sdk_chats_streams_completes_and_sees_errors() {
    let daemon = smol("queue_capacity = 20");
    daemon.run_python("openai_sdk.py", &smol_id(), &[]);
}

#[test]
fn the_ollama_sdk_lists_shows_chats_and_generates() {
    let daemon = smol("");
    daemon.run_python("ollama_sdk.py", &smol_id(), &[]);
}

#[test]
fn the_mcp_sdk_calls_the_tools_over_stdio_and_http() {
    let daemon = smol("");
    let config = daemon.config.to_string_lossy().into_owned();
    daemon.run_python(
        "mcp_sdk.py",
        &smol_id(),
        &[("EDGECODER_BIN", env!("CARGO_BIN_EXE_edgecoder")), ("EDGECODER_CONFIG", &config)],
    );
}

async fn still_serves(daemon: &Daemon, http: &reqwest::Client) {
    let r = http.get(format!("{}/v1/models", daemon.base)).send().await.unwrap();
    assert_eq!(r.status(), 200, "the daemon stopped serving:\n{}", daemon.log());
}

async fn expect_error(response: reqwest::Response, status: u16, needle: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let body: Value = response.json().await.expect("a JSON error body");
    let message = body["error"]["message"].as_str().or_else(|| body["error"].as_str()).unwrap_or_default();
    assert!(message.contains(needle), "{needle:?} not in {body}");
    body
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_the_right_status_and_the_daemon_keeps_serving() {
    let daemon = smol("header_timeout_secs = 2\nbody_timeout_secs = 2");
    let http = daemon.client();
    let chat = format!("{}/v1/chat/completions", daemon.base);
    let post = |body: &'static str| http.post(&chat).header("content-type", "application/json").body(body).send();

    let body = expect_error(post("{\"model\": ").await.unwrap(), 400, "invalid request body").await;
    assert_eq!(body["error"]["type"], "invalid_request_error");
    still_serves(&daemon, &http).await;

    expect_error(post(r#"{"model": "x", "messages": "hello"}"#).await.unwrap(), 400, "messages").await;
    expect_error(post(r#"{"model": "x", "messages": [], "max_tokens": "ten"}"#).await.unwrap(), 400, "max_tokens").await;
    let r = http.post(&chat).json(&json!({"model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]})).send().await.unwrap();
    let body = expect_error(r, 404, "no-such-model").await;
    assert_eq!(body["error"]["param"], "model");
    let r = http
        .post(&chat)
        .json(&json!({"model": smol_id(), "messages": [{"role": "user", "content": "hi"}], "max_tokens": 1_000_000_000_000u64}))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "max_tokens").await;
    let r = http
        .post(&chat)
        .json(&json!({"model": smol_id(), "messages": [{"role": "user", "content": "hi"}], "max_tokens": 100_000}))
        .send()
        .await
        .unwrap();
    expect_error(r, 400, "context length").await;
    let r = http.post(&chat).json(&json!({"model": smol_id(), "messages": [{"role": "user", "content": "hi"}], "temperature": 9})).send().await.unwrap();
    expect_error(r, 400, "temperature").await;
    let r = http.post(&chat).header("content-type", "text/plain").body("{}").send().await.unwrap();
    expect_error(r, 415, "application/json").await;
    still_serves(&daemon, &http).await;

    // 10 MB body: refused with 413 (the limit is 2 MiB by default).
    let big = format!("{{\"model\": \"x\", \"messages\": [{{\"role\": \"user\", \"content\": \"{}\"}}]}}", "a".repeat(10 << 20));
    match http.post(&chat).header("content-type", "application/json").body(big).send().await {
        Ok(r) => {
            expect_error(r, 413, "larger than").await;
        }
        // The daemon may answer and close before the client has written everything.
        Err(e) => assert!(e.is_request() || e.is_body(), "{e:?}"),
    }
    still_serves(&daemon, &http).await;

    // Ollama's error shape on /api.
    let r = http.post(format!("{}/api/chat", daemon.base)).header("content-type", "application/json").body("[1,").send().await.unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].as_str().is_some_and(|m| m.contains("invalid request body")), "{body}");

    // Token and Host/Origin checks.
    let anonymous = reqwest::Client::new();
    let r = anonymous.get(format!("{}/v1/models", daemon.base)).send().await.unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    expect_error(r, 401, "edgecoder token").await;
    let r = anonymous.get(format!("{}/v1/models", daemon.base)).bearer_auth("wrong").send().await.unwrap();
    expect_error(r, 401, "wrong bearer token").await;
    let r = http.get(format!("{}/v1/models", daemon.base)).header("host", "evil.example:80").send().await.unwrap();
    expect_error(r, 403, "not a loopback name").await;
    let r = http.get(format!("{}/v1/models", daemon.base)).header("origin", "https://evil.example").send().await.unwrap();
    expect_error(r, 403, "Origin").await;
    let r = http.get(format!("{}/v1/models", daemon.base)).header("origin", "http://localhost:3000").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = anonymous.post(format!("{}/mcp", daemon.base)).json(&json!({})).send().await.unwrap();
    assert_eq!(r.status(), 401, "an unauthenticated caller reached MCP (it runs code)");
    let r = http.get(format!("{}/v2/nothing", daemon.base)).send().await.unwrap();
    expect_error(r, 404, "no such endpoint").await;
    still_serves(&daemon, &http).await;

    // Slow loris: headers dribbled byte by byte are cut off after header_timeout_secs (2 s)
    // while other clients are served.
    let addr = daemon.base.trim_start_matches("http://").to_owned();
    let loris = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let started = Instant::now();
        let head = b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
        for byte in head.iter().chain(std::iter::repeat_n(&b'a', 60)) {
            if stream.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest);
        (started.elapsed(), String::from_utf8_lossy(&rest).into_owned())
    });
    still_serves(&daemon, &http).await;
    let (held, answer) = loris.join().unwrap();
    assert!(held < Duration::from_secs(10), "the slow client held its connection for {held:?}");
    assert!(!answer.contains("200 OK"), "{answer}");
    // Slow body: headers promise 1000 bytes that never come: 408 after body_timeout_secs.
    let addr = daemon.base.trim_start_matches("http://").to_owned();
    let token = daemon.token.clone();
    let slow_body = std::thread::spawn(move || {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let head = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{\"model\":"
        );
        stream.write_all(head.as_bytes()).unwrap();
        let mut answer = vec![0u8; 4096];
        let n = stream.read(&mut answer).unwrap_or(0);
        String::from_utf8_lossy(&answer[..n]).into_owned()
    });
    let answer = slow_body.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    still_serves(&daemon, &http).await;

    // Everything above was counted; the OpenAPI document describes the endpoints.
    let metrics = http.get(format!("{}/metrics", daemon.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("edgecoder_http_requests_total{route=\"/v1/chat/completions\",status=\"404\"} 1"), "{metrics}");
    assert!(metrics.contains("edgecoder_http_requests_total{route=\"/v1/models\",status=\"200\"}"), "{metrics}");
    let doc: Value = http.get(format!("{}/openapi.json", daemon.base)).send().await.unwrap().json().await.unwrap();
    assert!(doc["paths"]["/v1/chat/completions"]["post"].is_object(), "{doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_review_queue_is_listed_for_ides() {
    let daemon = smol("");
    let http = daemon.client();
    let list = |http: reqwest::Client| {
        let url = format!("{}/edgecoder/reviews", daemon.base);
        async move { http.get(url).send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(list(http.clone()).await, json!([]));
    let queue = edgecoder_daemon::agent::CloudQueue::at(daemon.dir.path().join("queue"));
    let entry = queue
        .push(edgecoder_daemon::agent::NewEntry {
            task: "read the config file\nand more".into(),
            lang: edgecoder_executor::Lang::Python,
            code: "print(open('c').read())\n".into(),
            why: Default::default(),
            reason: Some(edgecoder_executor::ReasonCode::PyFileIo),
            construct: "open".into(),
            line: 1,
            message: "uses `open`".into(),
            model: "m".into(),
            workspace: None,
            file: Some("cfg.py".into()),
            before: None,
        })
        .unwrap();
    let listed = list(http.clone()).await;
    assert_eq!(listed[0]["id"], entry.id.as_str(), "{listed}");
    assert_eq!((listed[0]["stage"].as_str(), listed[0]["task"].as_str(), listed[0]["has_result"].as_bool()), (Some("held"), Some("read the config file"), Some(false)));

    // The live stream: the list at once, then the list again and a notification when the entry
    // is answered (here changed on disk, as another process's `edgecoder queue sync` would).
    let mut stream = http.get(format!("{}/edgecoder/reviews/events", daemon.base)).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let mut seen = String::new();
    let mut read_until = async |needle: &str| {
        while !seen.contains(needle) {
            let chunk = tokio::time::timeout(std::time::Duration::from_secs(30), stream.chunk()).await.expect("an event in time");
            seen.push_str(&String::from_utf8_lossy(&chunk.unwrap().expect("the stream stays open")));
        }
        seen.clone()
    };
    let opening = read_until("event: reviews\n").await;
    assert!(opening.contains(&entry.id), "{opening}");
    queue.update(&entry.id, |e| e.review.stage = edgecoder_daemon::agent::Stage::Answered).unwrap();
    let after = read_until("event: answered\n").await;
    let note = after.split("event: answered\ndata: ").nth(1).and_then(|rest| rest.lines().next()).unwrap();
    let note: Value = serde_json::from_str(note).unwrap();
    assert_eq!((note["id"].as_str(), note["task"].as_str()), (Some(entry.id.as_str()), Some("read the config file")), "{after}");
    assert_eq!(after.matches("event: reviews\n").count(), 2, "{after}");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_count_tokens_and_time_to_first_token() {
    let daemon = smol("");
    let http = daemon.client();
    let r = daemon.post_json("/v1/completions", &json!({"model": smol_id(), "prompt": "def add(a, b):", "max_tokens": 6})).await;
    let generated = r["usage"]["completion_tokens"].as_u64().unwrap();
    assert!(generated > 0, "{r}");
    let metrics = http.get(format!("{}/metrics", daemon.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(&format!("edgecoder_generated_tokens_total {generated}")), "{metrics}");
    assert!(metrics.contains("edgecoder_time_to_first_token_seconds_count 1"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_the_request_in_flight_finish() {
    let mut daemon = smol("shutdown_grace_secs = 60");
    let http = daemon.client();
    let url = format!("{}/v1/completions", daemon.base);
    let request = http.post(&url).json(&json!({"model": smol_id(), "prompt": "Once upon a time", "max_tokens": 64, "stream": true})).send();
    let response = request.await.unwrap();
    assert_eq!(response.status(), 200);
    let socket = daemon.socket.clone();
    let stopper = std::thread::spawn(move || daemon.terminate(Duration::from_secs(60)));
    let text = response.text().await.unwrap();
    assert!(text.trim_end().ends_with("data: [DONE]"), "the stream was cut off:\n{text}");
    assert!(text.contains("\"finish_reason\":\"length\"") || text.contains("\"finish_reason\":\"stop\""), "{text}");
    let status = stopper.join().unwrap().expect("the daemon exits after the request");
    assert!(status.success(), "{status}");
    assert!(!socket.exists(), "the socket file is left behind");
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_off_for_loopback_opens_the_model_apis_only() {
    let daemon = smol("disable_auth_on_loopback = true");
    let anonymous = reqwest::Client::new();
    let r = anonymous.get(format!("{}/v1/models", daemon.base)).send().await.unwrap();
    assert_eq!(r.status(), 200, "the model API is open to loopback callers");
    let r = anonymous.get(format!("{}/api/tags", daemon.base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Whatever runs code, reads files or reconfigures the daemon still needs the token.
    let r = anonymous.post(format!("{}/mcp", daemon.base)).json(&json!({})).send().await.unwrap();
    expect_error(r, 401, "edgecoder token").await;
    let task = json!({"task": "def f(): return 1", "tests": "assert f() == 1"});
    let r = anonymous.post(format!("{}/agent/tasks", daemon.base)).json(&task).send().await.unwrap();
    expect_error(r, 401, "edgecoder token").await;
    let r = anonymous.put(format!("{}/edgecoder/provider", daemon.base)).json(&json!({"name": "edgecoder-local"})).send().await.unwrap();
    expect_error(r, 401, "edgecoder token").await;
    // A foreign Host is still refused (a DNS-rebinding page is a loopback peer too).
    let r = anonymous.get(format!("{}/v1/models", daemon.base)).header("host", "evil.example").send().await.unwrap();
    expect_error(r, 403, "not a loopback name").await;
    still_serves(&daemon, &daemon.client()).await;
}
