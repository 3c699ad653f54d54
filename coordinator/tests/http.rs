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
    assert!(matches!(c.credentials.authenticate("laptop-1", "laptop-1", &enrolment.secret).await, Some(Role::Agent(_))));
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
    let mut no_attempts = job.clone();
    no_attempts["max_attempts"] = json!(0);
    let (status, body) = c.call(reqwest::Method::POST, "/v1/jobs", Some(CLIENT), Some(no_attempts)).await;
    assert_eq!(status, 400, "{body}");
    assert!(error(&body).contains("max_attempts must be at least 1"), "{body}");
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

/// A browser's view of the dashboard: the cookies it holds, no redirects followed.
struct Browser<'a> {
    c: &'a Coordinator,
    http: reqwest::Client,
    cookies: std::collections::BTreeMap<String, String>,
}

impl<'a> Browser<'a> {
    fn new(c: &'a Coordinator) -> Browser<'a> {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { c, http, cookies: Default::default() }
    }

    fn keep_cookies(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            let value = value.to_str().unwrap();
            assert!(value.contains("HttpOnly") && value.contains("SameSite=Strict"), "{value}");
            let (name, rest) = value.split_once('=').unwrap();
            let content = rest.split(';').next().unwrap();
            if content.is_empty() {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_owned(), content.to_owned());
            }
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn get(&mut self, path: &str) -> (u16, String, reqwest::header::HeaderMap) {
        let response = self.http.get(format!("{}{path}", self.c.url)).header("cookie", self.cookie_header()).send().await.unwrap();
        self.keep_cookies(&response);
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        (status, response.text().await.unwrap(), headers)
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> (u16, String, reqwest::header::HeaderMap) {
        let response = self
            .http
            .post(format!("{}{path}", self.c.url))
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap())
            .send()
            .await
            .unwrap();
        self.keep_cookies(&response);
        let (status, headers) = (response.status().as_u16(), response.headers().clone());
        (status, response.text().await.unwrap(), headers)
    }
}

/// The value of the first hidden `csrf` field of a page.
fn csrf_of(page: &str) -> String {
    let at = page.find(r#"name="csrf" value=""#).unwrap_or_else(|| panic!("a form with a CSRF token: {page}"));
    let rest = &page[at + r#"name="csrf" value=""#.len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_needs_a_login_and_a_csrf_token_on_every_form() {
    let c = coordinator("127.0.0.1/32").await;
    let mut browser = Browser::new(&c);
    let (status, _, headers) = browser.get("/dashboard").await;
    assert_eq!((status, headers["location"].to_str().unwrap()), (303, "/dashboard/login"));
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(headers["x-frame-options"], "DENY");

    let (status, page, _) = browser.get("/dashboard/login").await;
    assert_eq!(status, 200);
    let nonce = csrf_of(&page);
    assert_eq!(browser.cookies["ec_login"], nonce);

    let (status, page, _) = browser.post("/dashboard/login", &[("token", "guess"), ("csrf", &nonce)]).await;
    assert_eq!(status, 401);
    assert!(page.contains("not the admin token"), "{page}");
    assert!(!browser.cookies.contains_key("ec_session"));
    let nonce = csrf_of(&page);
    let (status, page, _) = browser.post("/dashboard/login", &[("token", ADMIN), ("csrf", "forged")]).await;
    assert_eq!(status, 403, "a login form from elsewhere");
    assert!(page.contains("stale"), "{page}");
    let (status, _, headers) = browser.post("/dashboard/login", &[("token", ADMIN), ("csrf", &nonce)]).await;
    assert_eq!((status, headers["location"].to_str().unwrap()), (303, "/dashboard"));
    assert!(browser.cookies.contains_key("ec_session") && !browser.cookies.contains_key("ec_login"));

    let (status, page, _) = browser.get("/dashboard").await;
    assert_eq!(status, 200);
    assert!(page.contains("No agent has said hello yet"), "{page}");
    let csrf = csrf_of(&page);

    // A form without the session's token changes nothing.
    let form = [("level", "fleet"), ("local_model", "off"), ("mode", "ide-enabled"), ("csrf", "forged")];
    let (status, page, _) = browser.post("/dashboard/features", &form).await;
    assert_eq!(status, 403);
    assert!(page.contains("CSRF"), "{page}");
    let (_, features) = c.call(reqwest::Method::GET, "/v1/admin/features", Some(ADMIN), None).await;
    assert_eq!(features["levels"]["fleet"], json!({"local_model": true, "mode": "swarm-only"}));

    let form = [("level", "fleet"), ("local_model", "off"), ("mode", "ide-enabled"), ("csrf", &csrf)];
    let (status, _, headers) = browser.post("/dashboard/features", &form).await;
    assert_eq!(status, 303);
    assert!(headers["location"].to_str().unwrap().starts_with("/dashboard/features?ok="));
    let (_, features) = c.call(reqwest::Method::GET, "/v1/admin/features", Some(ADMIN), None).await;
    assert_eq!(features["levels"]["fleet"], json!({"local_model": false, "mode": "ide-enabled"}));

    // An agent's own setting wins over the fleet default, and the page says where it comes from.
    let form = [("local_model", "on"), ("mode", "inherit"), ("csrf", &csrf)];
    let (status, _, _) = browser.post("/dashboard/agents/laptop-1/features", &form).await;
    assert_eq!(status, 303);
    let (status, page, _) = browser.get("/dashboard/agents/laptop-1").await;
    assert_eq!(status, 200);
    assert!(page.contains("on <span class=\"origin\""), "{page}");
    assert!(page.contains("(agent laptop-1)") && page.contains("(fleet default)"), "{page}");
    let (status, _, headers) = browser.post("/dashboard/features", &[("level", "group"), ("name", "no spaces"), ("local_model", "on"), ("mode", "inherit"), ("csrf", &csrf)]).await;
    assert_eq!(status, 303);
    assert!(headers["location"].to_str().unwrap().contains("error="), "a bad group name comes back as an error");

    // A refused policy keeps the operator's text, escaped.
    let (status, page, _) = browser.post("/dashboard/policies", &[("scope", "default"), ("policy", "{\"<script>\": 1}"), ("csrf", &csrf)]).await;
    assert_eq!(status, 400);
    assert!(page.contains("not valid JSON of a policy") && page.contains("{&quot;&lt;script&gt;&quot;: 1}"), "{page}");
    assert!(!page.contains("<script>\""), "the operator's text is escaped: {page}");

    // Every page renders for a logged-in operator.
    for path in ["/dashboard/features", "/dashboard/policies", "/dashboard/rollouts", "/dashboard/jobs", "/dashboard/models", "/dashboard/audit?event=feature"] {
        let (status, page, _) = browser.get(path).await;
        assert_eq!(status, 200, "{path}: {page}");
    }
    let (_, page, _) = browser.get("/dashboard/audit?verify=1").await;
    assert!(page.contains("The chain verifies"), "{page}");
    let (status, _, _) = browser.get("/dashboard/rollouts/99").await;
    assert_eq!(status, 404);

    // Live updates: a change is announced on the event stream.
    let mut events = browser
        .http
        .get(format!("{}/dashboard/events", c.url))
        .header("cookie", browser.cookie_header())
        .send()
        .await
        .unwrap();
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let (status, _) = c.call(reqwest::Method::PUT, "/v1/admin/features", Some(ADMIN), Some(json!({"level": "tenant:acme", "local_model": true}))).await;
    assert_eq!(status, 204);
    let chunk = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let chunk = events.chunk().await.unwrap().unwrap();
            let text = String::from_utf8_lossy(&chunk).into_owned();
            if text.contains("event: change") {
                return text;
            }
        }
    })
    .await
    .expect("a change event within 10 s");
    assert!(chunk.contains("data: "), "{chunk}");

    let (status, _, headers) = browser.post("/dashboard/logout", &[("csrf", &csrf)]).await;
    assert_eq!((status, headers["location"].to_str().unwrap()), (303, "/dashboard/login"));
    let (status, _, _) = browser.get("/dashboard").await;
    assert_eq!(status, 303, "the session is gone");

    let elsewhere = coordinator("10.0.0.0/8").await;
    let (status, page, _) = Browser::new(&elsewhere).get("/dashboard/login").await;
    assert_eq!(status, 403);
    assert!(page.contains("--admin-allow"), "{page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn feature_settings_through_the_api_are_checked() {
    let c = coordinator("127.0.0.1/32").await;
    for (body, wanted) in [
        (json!({"level": "planet:earth", "local_model": true}), "use fleet, tenant:NAME"),
        (json!({"level": "fleet", "local_model": true}), "sets both"),
        (json!({"level": "group:x", "mode": "everywhere"}), "swarm-only or ide-enabled"),
        (json!({"level": "agent:bad id", "mode": "swarm-only"}), "agent"),
    ] {
        let (status, answer) = c.call(reqwest::Method::PUT, "/v1/admin/features", Some(ADMIN), Some(body.clone())).await;
        assert_eq!(status, 400, "{body}");
        assert!(error(&answer).contains(wanted), "{body}: {answer}");
    }
    let (status, _) = c.call(reqwest::Method::PUT, "/v1/admin/features/membership", Some(ADMIN), Some(json!({"group": "farm", "tenant": "acme"}))).await;
    assert_eq!(status, 204);
    let (status, _) = c.call(reqwest::Method::PUT, "/v1/admin/features/membership", Some(ADMIN), Some(json!({"agent": "pi-4", "group": "farm"}))).await;
    assert_eq!(status, 204);
    let (status, _) = c.call(reqwest::Method::PUT, "/v1/admin/features", Some(ADMIN), Some(json!({"level": "tenant:acme", "local_model": false}))).await;
    assert_eq!(status, 204);
    let (_, features) = c.call(reqwest::Method::GET, "/v1/admin/features", Some(ADMIN), None).await;
    assert_eq!(features["levels"]["groups"]["farm"]["tenant"], "acme");
    assert_eq!(features["levels"]["agents"]["pi-4"]["group"], "farm");
    let (status, answer) = c.call(reqwest::Method::PUT, "/v1/admin/features/membership", Some(ADMIN), Some(json!({}))).await;
    assert_eq!(status, 400);
    assert!(error(&answer).contains("name an agent"));
    let (_, audit) = c.call(reqwest::Method::GET, "/v1/admin/audit", Some(ADMIN), None).await;
    let features_audited = audit.as_array().unwrap().iter().filter(|e| e["record"]["event"] == "feature").count();
    assert_eq!(features_audited, 3, "{audit}");
}
