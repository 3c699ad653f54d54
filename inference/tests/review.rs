//! The review API over HTTP: the token exchange and every way a call is refused (unknown key,
//! another server's audience, forged, expired and missing tokens, replayed nonces, stale
//! timestamps), and a review done end to end — the model's first answers (outside the subset,
//! then crashing) refused by the executor and asked for again, the third returned as a diff — with
//! its progress followed over SSE. The model here is a scripted OpenAI-compatible upstream, since
//! these tests are about the rules; the real model reviews in `daemon/tests/handshake.rs`.

use axum::Json;
use axum::routing::post;
use edgecoder_inference::review::ReviewConfig;
use edgecoder_inference::review::auth::ApiKeys;
use edgecoder_inference::{OpenAiUpstream, ServerConfig, router};
use edgecoder_protocol::review::{ReviewReason, ReviewRequest, ReviewResult, ReviewState, ReviewStatus, TokenResponse};
use edgecoder_protocol::run::Lang;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

async fn scripted_upstream(replies: Vec<&'static str>) -> (String, Arc<Mutex<Vec<Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let replies = Arc::new(Mutex::new(replies.into_iter()));
    let recorder = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |Json(body): Json<Value>| {
            let reply = replies.lock().unwrap().next().expect("no more scripted replies");
            recorder.lock().unwrap().push(body);
            async move { Json(json!({"choices": [{"message": {"role": "assistant", "content": reply}}]})) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), seen)
}

struct Server {
    url: String,
    keys: [String; 2],
    http: reqwest::Client,
    seen: Arc<Mutex<Vec<Value>>>,
}

async fn server(replies: Vec<&'static str>, token_lifetime_s: u64) -> Server {
    let (upstream, seen) = scripted_upstream(replies).await;
    let backend = OpenAiUpstream::new(&upstream, "big-coder", None, Duration::from_secs(30));
    let (key_a, line_a) = ApiKeys::generate("laptop-a");
    let (key_b, line_b) = ApiKeys::generate("laptop-b");
    let keys = ApiKeys::parse(&format!("{line_a}\n{line_b}\n")).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut review = ReviewConfig::new(&url);
    review.token_lifetime_s = token_lifetime_s;
    let config = ServerConfig { review: Some((keys, review)), ..ServerConfig::default() };
    let app = router(Arc::new(backend), config);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Server { url, keys: [key_a, key_b], http: reqwest::Client::new(), seen }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn fresh_nonce() -> String {
    format!("n{:032x}", rand_u128())
}

fn rand_u128() -> u128 {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).unwrap();
    u128::from_le_bytes(bytes)
}

impl Server {
    async fn token(&self, key: &str, audience: &str) -> reqwest::Response {
        self.http
            .post(format!("{}/review/v1/token", self.url))
            .header("x-edgecoder-api-key", key)
            .json(&json!({"audience": audience}))
            .send()
            .await
            .unwrap()
    }

    async fn token_for(&self, key: usize) -> String {
        let answer = self.token(&self.keys[key], &self.url).await;
        assert_eq!(answer.status(), StatusCode::OK);
        answer.json::<TokenResponse>().await.unwrap().token
    }

    fn call(&self, method: reqwest::Method, path: &str, token: &str, nonce: &str, timestamp: u64) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}/review/v1{path}", self.url))
            .bearer_auth(token)
            .header("x-edgecoder-nonce", nonce)
            .header("x-edgecoder-timestamp", timestamp.to_string())
    }

    async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.call(reqwest::Method::GET, path, token, &fresh_nonce(), now()).send().await.unwrap()
    }
}

fn request(queue_id: &str) -> ReviewRequest {
    ReviewRequest {
        version: 1,
        queue_id: queue_id.into(),
        why: ReviewReason::OutsideSubset,
        reason: None,
        lang: Lang::Python,
        file: Some("tasks/fetch.py".into()),
        task: "Sum the numbers 1 to 10 concurrently and print the total.".into(),
        code: "import asyncio\n\nasync def main():\n    print(sum(range(1, 11)))\n\nasyncio.run(main())\n".into(),
        error: "uses `import asyncio` (PY_ASYNC) at line 1: outside the on-device subset".into(),
        context: Vec::new(),
    }
}

async fn error_of(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    (status, response.json::<Value>().await.unwrap()["error"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn calls_without_a_valid_token_nonce_and_timestamp_are_refused() {
    let server = server(vec![], 900).await;
    let (status, message) = error_of(server.token("ecr_not-a-key", &server.url).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message.contains("unknown API key"), "{message}");
    let (status, message) = error_of(server.token("", &server.url).await).await;
    assert_eq!((status, message.contains("no API key")), (StatusCode::UNAUTHORIZED, true), "{message}");
    let (status, message) = error_of(server.token(&server.keys[0], "https://elsewhere.example").await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message.contains("audience"), "{message}");

    let token = server.token_for(0).await;
    let post = |token: &str, nonce: &str, timestamp: u64| {
        server.call(reqwest::Method::POST, "/requests", token, nonce, timestamp).json(&request("q1-a-0")).send()
    };
    // No token, a forged one (its signature from another payload), garbage.
    let (status, message) = error_of(server.http.post(format!("{}/review/v1/requests", server.url)).json(&request("q1")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message.contains("no delegation token"), "{message}");
    let (head, signature) = token.rsplit_once('.').unwrap();
    let other_token = server.token_for(1).await;
    let forged = format!("{}.{signature}", other_token.rsplit_once('.').unwrap().0);
    assert_ne!(forged, token);
    for bad in [forged.as_str(), "ecd1.e30.AAAA", head] {
        let (status, message) = error_of(post(bad, &fresh_nonce(), now()).await.unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bad}: {message}");
        assert!(message.contains("malformed or its signature"), "{message}");
    }
    // Missing or malformed nonce, a stale timestamp, then a replay of an accepted call.
    let (status, message) = error_of(post(&token, "short", now()).await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("x-edgecoder-nonce"), "{message}");
    let (status, message) = error_of(post(&token, &fresh_nonce(), now() - 3_600).await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("clock"), "{message}");
    let nonce = fresh_nonce();
    let timestamp = now();
    assert_eq!(post(&token, &nonce, timestamp).await.unwrap().status(), StatusCode::ACCEPTED);
    let (status, message) = error_of(post(&token, &nonce, timestamp).await.unwrap()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(message.contains("replayed"), "{message}");

    // An expired token.
    let short = server_with_short_tokens().await;
    let token = short.token_for(0).await;
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    let (status, message) = error_of(short.get("/requests/rv_x", &token).await).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message.contains("expired"), "{message}");
}

async fn server_with_short_tokens() -> Server {
    server(vec![], 1).await
}

#[tokio::test]
async fn a_review_is_run_in_the_executor_fixed_and_returned_as_a_diff() {
    let server = server(
        vec![
            "Kept asyncio.\n```python\nimport asyncio\nasync def main():\n    print(sum(range(1, 11)))\nasyncio.run(main())\n```",
            "No asyncio now.\n```python\nprint(sum(range(1, 11)) / 0)\n```",
            "The sum needs no concurrency: a plain loop does it.\n```python\ntotal = 0\nfor n in range(1, 11):\n    total += n\nprint(total)\n```",
        ],
        900,
    )
    .await;
    let token = server.token_for(0).await;
    let created = server.call(reqwest::Method::POST, "/requests", &token, &fresh_nonce(), now()).json(&request("q1-a-0")).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::ACCEPTED);
    let created: ReviewStatus = created.json().await.unwrap();
    assert_eq!(created.queue_id, "q1-a-0");
    // The same entry sent again (a device that lost the answer) is the same review.
    let again: ReviewStatus = server.call(reqwest::Method::POST, "/requests", &token, &fresh_nonce(), now()).json(&request("q1-a-0")).send().await.unwrap().json().await.unwrap();
    assert_eq!(again.id, created.id);

    // Its progress over SSE, until it is final.
    let events = server.get(&format!("/requests/{}/events", created.id), &token).await;
    assert_eq!(events.status(), StatusCode::OK);
    let body = tokio::time::timeout(Duration::from_secs(60), events.text()).await.expect("the stream ends when the review is final").unwrap();
    let states: Vec<ReviewState> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str::<ReviewStatus>(d).unwrap().state)
        .collect();
    assert_eq!(states.last(), Some(&ReviewState::Done), "{body}");

    let result: ReviewResult = server.get(&format!("/requests/{}/result", created.id), &token).await.json().await.unwrap();
    assert!(result.diff.starts_with("--- a/tasks/fetch.py\n+++ b/tasks/fetch.py\n"), "{}", result.diff);
    assert!(result.diff.contains("-import asyncio") && result.diff.contains("+    total += n"), "{}", result.diff);
    assert_eq!(result.explanation, "The sum needs no concurrency: a plain loop does it.");
    assert_eq!(result.verification, edgecoder_protocol::review::Verification::Ran { stdout: "55\n".into() });
    {
        let seen = server.seen.lock().unwrap();
        assert_eq!(seen.len(), 3, "two answers refused, the third accepted");
        let retry = |i: usize| seen[i]["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_owned();
        assert!(retry(1).contains("asyncio"), "the subset refusal is shown: {}", retry(1));
        assert!(retry(2).contains("ZeroDivisionError"), "the crash is shown: {}", retry(2));
    }

    // Another key cannot see it; after the acknowledgement nobody can.
    let other = server.token_for(1).await;
    assert_eq!(server.get(&format!("/requests/{}", created.id), &other).await.status(), StatusCode::NOT_FOUND);
    let ack = server
        .call(reqwest::Method::POST, &format!("/requests/{}/ack", created.id), &token, &fresh_nonce(), now())
        .json(&json!({"decision": "accepted"}))
        .send()
        .await
        .unwrap();
    assert_eq!(ack.json::<ReviewStatus>().await.unwrap().state, ReviewState::Acknowledged);
    let (status, message) = error_of(server.get(&format!("/requests/{}", created.id), &token).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(message.contains("send the request again"), "{message}");
}

#[tokio::test]
async fn bad_requests_get_a_clear_400_and_nothing_is_queued() {
    let server = server(vec![], 900).await;
    let token = server.token_for(0).await;
    for (body, says) in [
        (json!({"version": 1}), "missing field"),
        (serde_json::to_value(ReviewRequest { file: Some("../../etc/passwd".into()), ..request("q2") }).unwrap(), "relative path"),
        (serde_json::to_value(ReviewRequest { version: 9, ..request("q3") }).unwrap(), "version 9"),
    ] {
        let response = server.call(reqwest::Method::POST, "/requests", &token, &fresh_nonce(), now()).json(&body).send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_client_error(), "{status}: {text}");
        assert!(text.contains(says), "{says}: {text}");
    }
    assert!(server.seen.lock().unwrap().is_empty(), "nothing reached the model");
}
