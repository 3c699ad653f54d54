//! The coordinator's HTTP API on a real broker, service and embedded store: snapshots, jobs,
//! enrolment and the admin endpoints, with their refusals.

use edgecoder_broker::{Authenticate, Broker, BrokerConfig, Credentials};
use edgecoder_coordinator::http::{Api, ApiConfig, Enrolment, JobStatus, Submitted, router};
use edgecoder_coordinator::model::{Backoff, sha256};
use edgecoder_coordinator::policy::{Policies, default_policy};
use edgecoder_coordinator::service::{Service, ServiceConfig};
use edgecoder_coordinator::snapshots::SnapshotStore;
use edgecoder_coordinator::store::{Embedded, Store};
use edgecoder_protocol::topic::Role;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

struct Coordinator {
    url: String,
    credentials: Arc<Credentials>,
    http: reqwest::Client,
    _broker: Broker,
    _dir: tempfile::TempDir,
}

const ADMIN: &str = "admin-token";
const CLIENT: &str = "client-token";

async fn coordinator(admin_allow: &str) -> Coordinator {
    let dir = tempfile::tempdir().unwrap();
    let credentials = Arc::new(Credentials::persistent(&dir.path().join("agents.json")).unwrap());
    credentials.add_coordinator("coordinator", "pw");
    let config = BrokerConfig { listen: "127.0.0.1:0".parse().unwrap(), ..BrokerConfig::default() };
    let broker = Broker::start(config, credentials.clone()).await.unwrap();
    let store: Arc<dyn Store> = Arc::new(Embedded::open(&dir.path().join("queue.redb"), Backoff::default()).unwrap());
    let policies = Arc::new(Policies::open(&dir.path().join("policies.json"), default_policy()).unwrap());
    let service = Service::start(ServiceConfig::new(broker.address(), "coordinator", "pw"), store, policies, None)
        .await
        .unwrap();
    let api = Arc::new(Api {
        config: ApiConfig {
            admin_token: ADMIN.into(),
            admin_allow: vec![admin_allow.parse().unwrap()],
            client_token: Some(CLIENT.into()),
            broker: broker.address().to_string(),
            enrolment_ttl: Duration::from_secs(60),
        },
        service: Arc::new(service),
        credentials: credentials.clone(),
        snapshots: Arc::new(SnapshotStore::open(&dir.path().join("snapshots"), 1024).unwrap()),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(listener, router(api).into_make_service_with_connect_info::<SocketAddr>()).await.unwrap()
    });
    Coordinator { url, credentials, http: reqwest::Client::new(), _broker: broker, _dir: dir }
}

impl Coordinator {
    async fn call(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn upload(&self, bytes: &'static [u8]) -> String {
        let sha = sha256(bytes).to_string();
        let response = self
            .http
            .put(format!("{}/v1/snapshots/{sha}", self.url))
            .bearer_auth(CLIENT)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        sha
    }
}

fn error(body: &Value) -> &str {
    body["error"].as_str().unwrap_or_else(|| panic!("an error answer: {body}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshots_are_stored_by_digest_and_read_by_enrolled_agents() {
    let c = coordinator("127.0.0.1/32").await;
    let wrong = sha256(b"something else").to_string();
    let response = c.http.put(format!("{}/v1/snapshots/{wrong}", c.url)).bearer_auth(CLIENT).body("tarball").send().await.unwrap();
    assert_eq!(response.status(), 400);
    assert!(response.text().await.unwrap().contains("upload the snapshot under its own sha256"));
    let response = c.http.put(format!("{}/v1/snapshots/{wrong}", c.url)).body("tarball").send().await.unwrap();
    assert_eq!(response.status(), 401, "uploads need the client token");
    let too_big = c.http.put(format!("{}/v1/snapshots/{wrong}", c.url)).bearer_auth(CLIENT).body(vec![0u8; 4096]).send().await.unwrap();
    assert_eq!(too_big.status(), 413);

    let sha = c.upload(b"tarball").await;
    let (status, token) = c.call(reqwest::Method::POST, "/v1/admin/enrolment-tokens", Some(ADMIN), None).await;
    assert_eq!(status, 201);
    let (status, body) = c
        .call(reqwest::Method::POST, "/v1/enrol", None, Some(json!({"token": token["token"], "agent_id": "laptop-1"})))
        .await;
    assert_eq!(status, 201, "{body}");
    let enrolment: Enrolment = serde_json::from_value(body).unwrap();
    assert!(matches!(c.credentials.authenticate("laptop-1", "laptop-1", &enrolment.secret), Some(Role::Agent(_))));
    let (status, body) = c
        .call(reqwest::Method::POST, "/v1/enrol", None, Some(json!({"token": token["token"], "agent_id": "laptop-2"})))
        .await;
    assert_eq!(status, 403, "a token is single use");
    assert!(error(&body).contains("ask the operator for a new one"));

    let download = |auth: Option<(&str, &str)>| {
        let mut request = c.http.get(format!("{}/v1/snapshots/{sha}", c.url));
        if let Some((user, password)) = auth {
            request = request.basic_auth(user, Some(password));
        }
        request.send()
    };
    let ok = download(Some(("laptop-1", &enrolment.secret))).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(&ok.bytes().await.unwrap()[..], b"tarball");
    assert_eq!(download(Some(("laptop-1", "wrong"))).await.unwrap().status(), 401);
    assert_eq!(download(None).await.unwrap().status(), 401);
    let (status, _) = c.call(reqwest::Method::GET, &format!("/v1/snapshots/{}", "0".repeat(64)), Some(CLIENT), None).await;
    assert_eq!(status, 404);
    let (status, body) = c.call(reqwest::Method::GET, "/v1/snapshots/xyz", Some(CLIENT), None).await;
    assert_eq!(status, 400);
    assert!(error(&body).contains("64 hex digits"));
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_are_submitted_once_shown_and_cancelled() {
    let c = coordinator("127.0.0.1/32").await;
    let sha = c.upload(b"tarball").await;
    let job = json!({"tenant": "acme", "lang": "python", "instruction": "write add(a, b)", "snapshot": sha,
                     "id": "00112233445566778899aabbccddeeff"});

    let (status, body) = c.call(reqwest::Method::POST, "/v1/jobs", None, Some(job.clone())).await;
    assert_eq!(status, 401, "{body}");
    let mut unknown_snapshot = job.clone();
    unknown_snapshot["snapshot"] = json!("ab".repeat(32));
    let (status, body) = c.call(reqwest::Method::POST, "/v1/jobs", Some(CLIENT), Some(unknown_snapshot)).await;
    assert_eq!(status, 400);
    assert!(error(&body).contains("upload it first"), "{body}");
    let mut bad_lang = job.clone();
    bad_lang["lang"] = json!("cobol");
    let (status, body) = c.call(reqwest::Method::POST, "/v1/jobs", Some(CLIENT), Some(bad_lang)).await;
    assert_eq!(status, 400);
    assert!(error(&body).contains("`python` or `js`"));
    let (status, body) = c.call(reqwest::Method::POST, "/v1/jobs", Some(CLIENT), Some(json!({"tenant": 3}))).await;
    assert_eq!(status, 422, "{body}");
    assert!(error(&body).contains("tenant: invalid type"), "{body}");

    let (status, body) = c.call(reqwest::Method::POST, "/v1/jobs", Some(CLIENT), Some(job.clone())).await;
    assert_eq!(status, 201, "{body}");
    let submitted: Submitted = serde_json::from_value(body).unwrap();
    assert!(submitted.created);
    let (status, body) = c.call(reqwest::Method::POST, "/v1/jobs", Some(CLIENT), Some(job.clone())).await;
    assert_eq!((status, body["created"].as_bool()), (200, Some(false)), "a repeated submit is the same job");
    let mut changed = job.clone();
    changed["instruction"] = json!("something else");
    let (status, _) = c.call(reqwest::Method::POST, "/v1/jobs", Some(CLIENT), Some(changed)).await;
    assert_eq!(status, 409);

    let path = format!("/v1/jobs/{}", submitted.id);
    let (status, body) = c.call(reqwest::Method::GET, &path, Some(CLIENT), None).await;
    assert_eq!(status, 200);
    let shown: JobStatus = serde_json::from_value(body).unwrap();
    assert_eq!((shown.state.as_str(), shown.tenant.as_str()), ("decomposing", "acme"));
    let (status, body) = c.call(reqwest::Method::GET, &format!("{path}/results"), Some(CLIENT), None).await;
    assert_eq!(status, 409);
    assert!(error(&body).contains("is decomposing"));
    let (status, body) = c.call(reqwest::Method::POST, &format!("{path}/cancel"), Some(CLIENT), None).await;
    assert_eq!((status, body["cancelled"].as_bool()), (200, Some(true)));
    let (_, body) = c.call(reqwest::Method::GET, &path, Some(ADMIN), None).await;
    assert_eq!(body["state"], "cancelled");
    let (status, _) = c.call(reqwest::Method::GET, &format!("/v1/jobs/{}", "0".repeat(32)), Some(CLIENT), None).await;
    assert_eq!(status, 404);

    let (status, body) = c.call(reqwest::Method::GET, "/v1/admin/audit?after=0&limit=10", Some(ADMIN), None).await;
    assert_eq!(status, 200);
    let events: Vec<String> = body.as_array().unwrap().iter().map(|e| e["record"]["event"].to_string()).collect();
    assert!(events.len() >= 2, "submit and cancel are audited: {events:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_planned_job_is_checked_first_and_runs_without_decomposition() {
    let c = coordinator("127.0.0.1/32").await;
    let sha = c.upload(b"tarball").await;
    let id = "ffeeddccbbaa99887766554433221100";
    let mut job = json!({"tenant": "acme", "lang": "python", "instruction": "two steps", "snapshot": sha, "id": id,
                         "subtasks": [{"instruction": "write add", "mode": "step"},
                                      {"instruction": "use add", "mode": "step", "after": [1]}]});

    let (status, body) = c.call(reqwest::Method::POST, "/v1/jobs", Some(CLIENT), Some(job.clone())).await;
    assert_eq!(status, 400, "a subtask after itself: {body}");
    assert!(error(&body).contains("not an earlier subtask"), "{body}");
    let (status, _) = c.call(reqwest::Method::GET, &format!("/v1/jobs/{id}"), Some(CLIENT), None).await;
    assert_eq!(status, 404, "a refused plan leaves no job behind");
    job["subtasks"][1]["instruction"] = json!("  ");
    job["subtasks"][1]["after"] = json!([0]);
    let (status, body) = c.call(reqwest::Method::POST, "/v1/jobs", Some(CLIENT), Some(job.clone())).await;
    assert_eq!(status, 400, "an empty instruction: {body}");
    job["subtasks"][1]["instruction"] = json!("use add");
    let (status, body) = c.call(reqwest::Method::POST, "/v1/jobs", Some(CLIENT), Some(job.clone())).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = c.call(reqwest::Method::POST, "/v1/jobs", Some(CLIENT), Some(job.clone())).await;
    assert_eq!((status, body["created"].as_bool()), (200, Some(false)), "a repeated submit keeps its plan: {body}");

    let (_, body) = c.call(reqwest::Method::GET, &format!("/v1/jobs/{id}"), Some(CLIENT), None).await;
    let shown: JobStatus = serde_json::from_value(body).unwrap();
    assert_eq!(shown.state, "running");
    let states: Vec<&str> = shown.subtasks.iter().map(|s| s.state.as_str()).collect();
    assert_eq!(states, ["ready", "blocked"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_endpoints_need_the_token_and_an_allowed_address() {
    let c = coordinator("127.0.0.1/32").await;
    let (status, body) = c.call(reqwest::Method::GET, "/v1/admin/stats", Some(CLIENT), None).await;
    assert_eq!(status, 401, "the client token is not the admin token");
    assert!(error(&body).contains("admin token"));
    let (status, body) = c.call(reqwest::Method::GET, "/v1/admin/stats", Some(ADMIN), None).await;
    assert_eq!(status, 200);
    assert!(body["queue"].is_object() && body["service"]["received"].is_number(), "{body}");
    let (status, body) = c.call(reqwest::Method::GET, "/v1/admin/agents", Some(ADMIN), None).await;
    assert_eq!((status, body.as_array().map(Vec::len)), (200, Some(0)));

    let policy = json!({"version": 0, "enabled": true, "cpu_cap_percent": 30, "memory_limit_mb": 256, "windows": [],
        "idle_only": true, "idle_after_s": 120, "concurrency": 1, "backoff_s": 10, "heartbeat_s": 5});
    let (status, body) =
        c.call(reqwest::Method::PUT, "/v1/admin/policies", Some(ADMIN), Some(json!({"scope": "default", "policy": policy}))).await;
    assert_eq!(status, 200, "{body}");
    let first = body["version"].as_u64().unwrap();
    let (status, body) = c
        .call(reqwest::Method::PUT, "/v1/admin/policies", Some(ADMIN), Some(json!({"scope": "agent:pi-4", "policy": policy})))
        .await;
    assert_eq!((status, body["version"].as_u64()), (200, Some(first + 1)));
    let mut bad = policy.clone();
    bad["cpu_cap_percent"] = json!(0);
    let (status, body) =
        c.call(reqwest::Method::PUT, "/v1/admin/policies", Some(ADMIN), Some(json!({"scope": "default", "policy": bad}))).await;
    assert_eq!(status, 400);
    assert!(error(&body).contains("cpu_cap_percent"), "{body}");
    let (status, body) =
        c.call(reqwest::Method::PUT, "/v1/admin/policies", Some(ADMIN), Some(json!({"scope": "group:x", "policy": policy}))).await;
    assert_eq!(status, 400);
    assert!(error(&body).contains("`default` or `agent:ID`"));

    let (status, doc) = c.call(reqwest::Method::GET, "/openapi.json", None, None).await;
    assert_eq!(status, 200);
    for path in ["/v1/jobs", "/v1/jobs/{id}", "/v1/jobs/{id}/results", "/v1/jobs/{id}/cancel", "/v1/snapshots/{sha256}",
        "/v1/enrol", "/v1/admin/enrolment-tokens", "/v1/admin/agents", "/v1/admin/policies", "/v1/admin/audit", "/v1/admin/stats"]
    {
        assert!(doc["paths"].get(path).is_some(), "{path} is documented");
    }

    let elsewhere = coordinator("10.0.0.0/8").await;
    let (status, body) = elsewhere.call(reqwest::Method::GET, "/v1/admin/stats", Some(ADMIN), None).await;
    assert_eq!(status, 403, "the right token from an address outside the allowlist");
    assert!(error(&body).contains("--admin-allow"));
}
