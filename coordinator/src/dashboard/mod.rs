//! The ops dashboard, served by the coordinator under `/dashboard`: server-rendered pages of the
//! fleet, each agent, feature settings, policies, rollouts, jobs, the audit log and model
//! provenance, with live updates over server-sent events. No build step: the HTML comes from
//! Rust (maud, escaped at compile time), plus one small script and one stylesheet.
//!
//! Who may use it: an operator who logs in with the admin token from an address on the admin
//! allowlist. The login gives a session cookie (`HttpOnly`, `SameSite=Strict`, 30 minutes idle,
//! 12 hours at most); every form carries the session's CSRF token and a form without it is
//! refused; the pages forbid framing and any script or style from elsewhere.

mod pages;

use crate::features::{FeatureError, Level, Setting, parse_mode};
use crate::http::{Api, RolloutPlan, same_secret, signed_body};
use crate::policy::Scope;
use crate::rollout::RolloutError;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use edgecoder_protocol::ids::AgentId;
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The cookie that carries an operator's session.
const SESSION_COOKIE: &str = "ec_session";
/// The cookie that ties the login form to the browser that loaded it.
const LOGIN_COOKIE: &str = "ec_login";
/// A session ends after this long without a request.
const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after the login, whatever happens.
const SESSION_MAX: Duration = Duration::from_secs(12 * 60 * 60);
/// Most sessions kept at once; the oldest goes first.
const MAX_SESSIONS: usize = 256;
/// The largest form accepted (a signed manifest upload).
const FORM_LIMIT: usize = 4 << 20;
/// Live updates are sent at most this often.
const LIVE_EVERY: Duration = Duration::from_millis(500);

struct Session {
    csrf: String,
    created: Instant,
    seen: Instant,
}

/// The logged-in operator of a request: what its forms must carry.
#[derive(Clone)]
struct Operator {
    csrf: String,
}

impl Operator {
    /// The refusal of a form whose CSRF token is not this session's; `None` when it is.
    fn refuse_forged(&self, given: &str) -> Option<Response> {
        (!same_secret(given.as_bytes(), self.csrf.as_bytes())).then(|| {
            refusal(
                StatusCode::FORBIDDEN,
                "This form is stale or did not come from the dashboard (its CSRF token does not match): reload the page and try again.",
            )
        })
    }
}

/// The dashboard's state: the API it shows, and the operators' sessions.
struct Board {
    api: Arc<Api>,
    sessions: Mutex<HashMap<String, Session>>,
}

impl Board {
    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().expect("the session lock is never poisoned")
    }

    /// Starts a session; returns its id.
    fn open_session(&self) -> String {
        let id = random_token();
        let mut sessions = self.sessions();
        let now = Instant::now();
        sessions.retain(|_, s| alive(s, now));
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(id.clone(), Session { csrf: random_token(), created: now, seen: now });
        id
    }

    /// The operator whose session `id` names, when it is alive (and marks it seen).
    fn operator(&self, id: &str) -> Option<Operator> {
        let mut sessions = self.sessions();
        let now = Instant::now();
        let session = sessions.get_mut(id)?;
        if !alive(session, now) {
            sessions.remove(id);
            return None;
        }
        session.seen = now;
        Some(Operator { csrf: session.csrf.clone() })
    }
}

fn alive(session: &Session, now: Instant) -> bool {
    now.duration_since(session.seen) < SESSION_IDLE && now.duration_since(session.created) < SESSION_MAX
}

/// 32 bytes from the operating system's random source, as hex.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn set_cookie(name: &str, value: &str, max_age: Duration) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/dashboard; HttpOnly; SameSite=Strict; Max-Age={}",
        max_age.as_secs()
    ))
    .expect("cookie values are hex")
}

/// A short page that says why a request was refused and what to do.
fn refusal(status: StatusCode, message: &str) -> Response {
    (status, pages::message_page("Refused", message)).into_response()
}

fn allowed(allow: &[IpNet], peer: SocketAddr) -> bool {
    let ip: IpAddr = peer.ip().to_canonical();
    allow.iter().any(|net| net.contains(&ip))
}

/// Every dashboard response: only the allowlist's addresses, and headers that keep the pages
/// from being framed, sniffed, cached or given scripts from elsewhere.
async fn harden(
    State(board): State<Arc<Board>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let mut response = if allowed(&board.api.config.admin_allow, peer) {
        next.run(request).await
    } else {
        tracing::warn!(ip = %peer.ip(), "dashboard request from an address outside the allowlist");
        refusal(
            StatusCode::FORBIDDEN,
            &format!("{} may not use the dashboard: add it to the coordinator's --admin-allow.", peer.ip()),
        )
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

/// Pages behind the login: the session's operator goes into the request; without a live
/// session a page load goes to the login form, and anything else is refused.
async fn logged_in(State(board): State<Arc<Board>>, mut request: Request, next: Next) -> Response {
    let operator = cookie(request.headers(), SESSION_COOKIE).and_then(|id| board.operator(id));
    let Some(operator) = operator else {
        if request.method() == axum::http::Method::GET {
            return Redirect::to("/dashboard/login").into_response();
        }
        return refusal(StatusCode::UNAUTHORIZED, "Your session ended: log in again.");
    };
    request.extensions_mut().insert(operator);
    next.run(request).await
}

async fn login_form() -> Response {
    let nonce = random_token();
    let mut response = pages::login_page(&nonce, None).into_response();
    response.headers_mut().insert(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, &nonce, Duration::from_secs(600)));
    response
}

/// The login form's fields.
#[derive(Deserialize)]
struct Login {
    token: String,
    csrf: String,
}

async fn log_in(State(board): State<Arc<Board>>, headers: HeaderMap, form: Result<Form<Login>, axum::extract::rejection::FormRejection>) -> Response {
    let Ok(Form(login)) = form else {
        return refusal(StatusCode::BAD_REQUEST, "The login form was not filled in: open /dashboard/login and enter the admin token.");
    };
    let nonce = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if nonce.is_empty() || !same_secret(nonce.as_bytes(), login.csrf.as_bytes()) {
        return refusal(StatusCode::FORBIDDEN, "This login form is stale (its CSRF token does not match): reload /dashboard/login.");
    }
    if !same_secret(login.token.trim().as_bytes(), board.api.config.admin_token.as_bytes()) {
        tracing::warn!("dashboard login with a wrong token");
        let nonce = random_token();
        let mut response = (
            StatusCode::UNAUTHORIZED,
            pages::login_page(&nonce, Some("That is not the admin token (it is in the coordinator's state folder, admin.token).")),
        )
            .into_response();
        response.headers_mut().insert(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, &nonce, Duration::from_secs(600)));
        return response;
    }
    tracing::info!("operator logged in to the dashboard");
    let session = board.open_session();
    let mut response = Redirect::to("/dashboard").into_response();
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &session, SESSION_MAX));
    headers.append(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", Duration::ZERO));
    response
}

/// A form that carries only its CSRF token.
#[derive(Deserialize)]
struct Plain {
    csrf: String,
}

async fn log_out(State(board): State<Arc<Board>>, Extension(operator): Extension<Operator>, headers: HeaderMap, Form(form): Form<Plain>) -> Response {
    if let Some(refused) = operator.refuse_forged(&form.csrf) {
        return refused;
    }
    if let Some(id) = cookie(&headers, SESSION_COOKIE) {
        board.sessions().remove(id);
    }
    let mut response = Redirect::to("/dashboard/login").into_response();
    response.headers_mut().insert(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", Duration::ZERO));
    response
}

/// Where a form goes back to, with what happened.
fn back(to: &str, outcome: Result<String, String>) -> Response {
    let (key, text) = match outcome {
        Ok(text) => ("ok", text),
        Err(text) => ("error", text),
    };
    let query = serde_urlencoded::to_string([(key, text.as_str())]).unwrap_or_default();
    Redirect::to(&format!("{to}?{query}")).into_response()
}

/// The feature form: a level's own settings.
#[derive(Deserialize)]
struct FeatureForm {
    csrf: String,
    /// `fleet`, `tenant` or `group` (agents use their own page).
    #[serde(default)]
    level: String,
    #[serde(default)]
    name: String,
    /// `inherit`, `on` or `off`.
    local_model: String,
    /// `inherit`, `swarm-only` or `ide-enabled`.
    mode: String,
}

fn setting_of(local_model: &str, mode: &str) -> Result<Setting, String> {
    let local_model = match local_model {
        "inherit" => None,
        "on" => Some(true),
        "off" => Some(false),
        other => return Err(format!("local model {other:?}: choose inherit, on or off")),
    };
    let mode = match mode {
        "inherit" => None,
        other => Some(parse_mode(other).map_err(|e| e.to_string())?),
    };
    Ok(Setting { local_model, mode })
}

async fn set_agent_features(
    State(board): State<Arc<Board>>,
    Extension(operator): Extension<Operator>,
    Path(id): Path<String>,
    Form(form): Form<FeatureForm>,
) -> Response {
    if let Some(refused) = operator.refuse_forged(&form.csrf) {
        return refused;
    }
    let Ok(agent) = AgentId::new(&id) else {
        return refusal(StatusCode::BAD_REQUEST, &format!("{id:?} is not an agent id."));
    };
    let to = format!("/dashboard/agents/{agent}");
    let outcome = match setting_of(&form.local_model, &form.mode) {
        Ok(setting) => board
            .api
            .service
            .set_feature(&Level::Agent(agent.clone()), setting)
            .await
            .map(|()| format!("Saved {agent}'s features."))
            .map_err(|e| e.to_string()),
        Err(error) => Err(error),
    };
    back(&to, outcome)
}

/// The group form of an agent's page.
#[derive(Deserialize)]
struct GroupForm {
    csrf: String,
    group: String,
}

async fn set_agent_group(
    State(board): State<Arc<Board>>,
    Extension(operator): Extension<Operator>,
    Path(id): Path<String>,
    Form(form): Form<GroupForm>,
) -> Response {
    if let Some(refused) = operator.refuse_forged(&form.csrf) {
        return refused;
    }
    let Ok(agent) = AgentId::new(&id) else {
        return refusal(StatusCode::BAD_REQUEST, &format!("{id:?} is not an agent id."));
    };
    let group = Some(form.group.trim()).filter(|g| !g.is_empty());
    let outcome = board
        .api
        .service
        .assign_agent(&agent, group)
        .await
        .map(|()| format!("{agent} is in group {}.", group.unwrap_or("(none)")))
        .map_err(|e| e.to_string());
    back(&format!("/dashboard/agents/{agent}"), outcome)
}

async fn set_level_features(State(board): State<Arc<Board>>, Extension(operator): Extension<Operator>, Form(form): Form<FeatureForm>) -> Response {
    if let Some(refused) = operator.refuse_forged(&form.csrf) {
        return refused;
    }
    let name = form.name.trim().to_owned();
    let level = match form.level.as_str() {
        "fleet" => Ok(Level::Fleet),
        "tenant" => Ok(Level::Tenant(name)),
        "group" => Ok(Level::Group(name)),
        other => Err(format!("level {other:?}: choose fleet, tenant or group")),
    };
    let outcome = match (level, setting_of(&form.local_model, &form.mode)) {
        (Ok(level), Ok(setting)) => board
            .api
            .service
            .set_feature(&level, setting)
            .await
            .map(|()| format!("Saved the {level}'s features."))
            .map_err(|e: FeatureError| e.to_string()),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    back("/dashboard/features", outcome)
}

/// The membership form: a group's tenant.
#[derive(Deserialize)]
struct TenantForm {
    csrf: String,
    group: String,
    tenant: String,
}

async fn set_group_tenant(State(board): State<Arc<Board>>, Extension(operator): Extension<Operator>, Form(form): Form<TenantForm>) -> Response {
    if let Some(refused) = operator.refuse_forged(&form.csrf) {
        return refused;
    }
    let group = form.group.trim();
    let tenant = Some(form.tenant.trim()).filter(|t| !t.is_empty());
    let outcome = board
        .api
        .service
        .assign_group(group, tenant)
        .await
        .map(|()| format!("Group {group} is in tenant {}.", tenant.unwrap_or("(none)")))
        .map_err(|e| e.to_string());
    back("/dashboard/features", outcome)
}

/// The policy form.
#[derive(Deserialize)]
struct PolicyForm {
    csrf: String,
    /// `default`, or an agent id.
    scope: String,
    /// The policy as JSON.
    policy: String,
}

async fn set_policy(State(board): State<Arc<Board>>, Extension(operator): Extension<Operator>, Form(form): Form<PolicyForm>) -> Response {
    if let Some(refused) = operator.refuse_forged(&form.csrf) {
        return refused;
    }
    let scope = match form.scope.trim() {
        "" | "default" => Ok(Scope::Default),
        id => AgentId::new(id).map(Scope::Agent).map_err(|e| format!("scope {id:?}: {e}; use default or an agent id")),
    };
    let policy = serde_json::from_str(&form.policy).map_err(|e| format!("the policy is not valid JSON of a policy: {e}"));
    let outcome = match (scope, policy) {
        (Ok(scope), Ok(policy)) => board.api.service.set_policy(scope, policy).await.map_err(|e| e.to_string()),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match outcome {
        Ok(version) => back("/dashboard/policies", Ok(format!("Saved as policy version {version}; pushed to the agents it concerns."))),
        // The operator's text stays in the form, with the reason beside it.
        Err(error) => (
            StatusCode::BAD_REQUEST,
            pages::policies(&board.api, &operator.csrf, &pages::Flash { ok: None, error: Some(error) }, Some((&form.scope, &form.policy))),
        )
            .into_response(),
    }
}

/// The fields of a multipart form, text ones as text and the `manifest` file as bytes.
struct Fields {
    text: HashMap<String, String>,
    manifest: Option<Vec<u8>>,
}

async fn read_multipart(mut multipart: Multipart) -> Result<Fields, String> {
    let mut fields = Fields { text: HashMap::new(), manifest: None };
    while let Some(field) = multipart.next_field().await.map_err(|e| format!("the form could not be read: {e}"))? {
        let name = field.name().unwrap_or_default().to_owned();
        let bytes = field.bytes().await.map_err(|e| format!("the form field {name} could not be read: {e}"))?;
        if name == "manifest" {
            fields.manifest = Some(bytes.to_vec());
        } else {
            fields.text.insert(name, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok(fields)
}

impl Fields {
    fn get(&self, name: &str) -> Option<String> {
        self.text.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    fn manifest(&self) -> Result<edgecoder_protocol::manifest::SignedStatement, String> {
        match &self.manifest {
            Some(bytes) if !bytes.is_empty() => signed_body(bytes).map_err(|e| e.error),
            _ => Err("choose the .signed manifest file (`edgecoder-sign sign` writes it)".into()),
        }
    }
}

async fn start_rollout(State(board): State<Arc<Board>>, Extension(operator): Extension<Operator>, multipart: Multipart) -> Response {
    let fields = match read_multipart(multipart).await {
        Ok(fields) => fields,
        Err(error) => return back("/dashboard/rollouts", Err(error)),
    };
    if let Some(refused) = operator.refuse_forged(&fields.get("csrf").unwrap_or_default()) {
        return refused;
    }
    let number = |name: &str| -> Result<Option<f64>, String> {
        fields.get(name).map(|v| v.parse::<f64>().map_err(|_| format!("{name} {v:?} is not a number"))).transpose()
    };
    let plan = (|| {
        let request = RolloutPlan {
            canary: fields.get("canary"),
            canary_count: number("canary_count")?.map(|n| n as usize),
            batches: fields.get("batches"),
            max_failure_rate: number("max_failure_rate")?,
            min_reports: number("min_reports")?.map(|n| n as usize),
            max_unhealthy_rate: number("max_unhealthy_rate")?,
        };
        request.plan().map_err(|e| e.error)
    })();
    let outcome = match (fields.manifest(), plan) {
        (Ok(signed), Ok(plan)) => board.api.service.start_rollout(signed, plan).await.map_err(|e: RolloutError| e.to_string()),
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    match outcome {
        Ok(rollout) => back(
            &format!("/dashboard/rollouts/{}", rollout.id),
            Ok(format!("Rollout {} of {} {} started: offered to {} agents.", rollout.id, rollout.model, rollout.version, rollout.agents.len())),
        ),
        Err(error) => back("/dashboard/rollouts", Err(error)),
    }
}

fn not_a_rollout(id: &str) -> Response {
    refusal(StatusCode::BAD_REQUEST, &format!("{id:?} is not a rollout id (a number)."))
}

async fn advance_rollout(
    State(board): State<Arc<Board>>,
    Extension(operator): Extension<Operator>,
    Path(id): Path<String>,
    Form(form): Form<Plain>,
) -> Response {
    if let Some(refused) = operator.refuse_forged(&form.csrf) {
        return refused;
    }
    let Ok(id) = id.parse::<u64>() else {
        return not_a_rollout(&id);
    };
    let outcome = board
        .api
        .service
        .advance_rollout(id)
        .await
        .map(|r| format!("Advanced to stage {}: offered to {} agents in all.", r.stage, r.agents.len()))
        .map_err(|e| e.to_string());
    back(&format!("/dashboard/rollouts/{id}"), outcome)
}

/// The halt form.
#[derive(Deserialize)]
struct HaltForm {
    csrf: String,
    #[serde(default)]
    reason: String,
}

async fn halt_rollout(
    State(board): State<Arc<Board>>,
    Extension(operator): Extension<Operator>,
    Path(id): Path<String>,
    Form(form): Form<HaltForm>,
) -> Response {
    if let Some(refused) = operator.refuse_forged(&form.csrf) {
        return refused;
    }
    let Ok(id) = id.parse::<u64>() else {
        return not_a_rollout(&id);
    };
    let reason = Some(form.reason.trim()).filter(|r| !r.is_empty()).unwrap_or("halted by an operator on the dashboard");
    let outcome = board.api.service.halt_rollout(id, reason).await.map(|_| "Halted; offers nobody acted on were withdrawn.".to_owned()).map_err(|e| e.to_string());
    back(&format!("/dashboard/rollouts/{id}"), outcome)
}

async fn roll_back(
    State(board): State<Arc<Board>>,
    Extension(operator): Extension<Operator>,
    Path(id): Path<String>,
    multipart: Multipart,
) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return not_a_rollout(&id);
    };
    let to = format!("/dashboard/rollouts/{id}");
    let fields = match read_multipart(multipart).await {
        Ok(fields) => fields,
        Err(error) => return back(&to, Err(error)),
    };
    if let Some(refused) = operator.refuse_forged(&fields.get("csrf").unwrap_or_default()) {
        return refused;
    }
    let outcome = match fields.manifest() {
        Ok(signed) => board.api.service.roll_back(id, signed).await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    match outcome {
        Ok(rollback) => back(
            &format!("/dashboard/rollouts/{}", rollback.id),
            Ok(format!("Rolling back: rollout {} offers {} {} to the {} agents rollout {id} reached.", rollback.id, rollback.model, rollback.version, rollback.agents.len())),
        ),
        Err(error) => back(&to, Err(error)),
    }
}

/// Live updates: an event named `change` whenever something an operator sees may have
/// changed (at most every half second), until the session ends.
async fn live(
    State(board): State<Arc<Board>>,
    headers: HeaderMap,
) -> Sse<impl futures_util::Stream<Item = Result<SseEvent, Infallible>>> {
    let session = cookie(&headers, SESSION_COOKIE).unwrap_or_default().to_owned();
    let changes = board.api.service.changes();
    let stream = futures_util::stream::unfold((board, session, changes, false), |(board, session, mut changes, ended)| async move {
        if ended {
            return None;
        }
        tokio::time::sleep(LIVE_EVERY).await;
        if changes.changed().await.is_err() || board.operator(&session).is_none() {
            let event = SseEvent::default().event("logout").data("the session ended");
            return Some((Ok(event), (board, session, changes, true)));
        }
        let seen = *changes.borrow_and_update();
        let event = SseEvent::default().event("change").data(seen.to_string());
        Some((Ok(event), (board, session, changes, false)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("app.js")).into_response()
}

async fn icon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml")], include_str!("favicon.svg")).into_response()
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("app.css")).into_response()
}

/// The dashboard's routes under `/dashboard`. Served with the API (it needs the peer address:
/// `into_make_service_with_connect_info::<SocketAddr>()`).
pub fn router(api: Arc<Api>) -> Router {
    let board = Arc::new(Board { api, sessions: Mutex::new(HashMap::new()) });
    let pages = Router::new()
        .route("/dashboard", get(pages::fleet))
        .route("/dashboard/agents/{id}", get(pages::agent))
        .route("/dashboard/agents/{id}/features", post(set_agent_features))
        .route("/dashboard/agents/{id}/group", post(set_agent_group))
        .route("/dashboard/features", get(pages::features).post(set_level_features))
        .route("/dashboard/features/tenant", post(set_group_tenant))
        .route("/dashboard/policies", get(pages::policies_page).post(set_policy))
        .route("/dashboard/rollouts", get(pages::rollouts).post(start_rollout))
        .route("/dashboard/rollouts/{id}", get(pages::rollout))
        .route("/dashboard/rollouts/{id}/advance", post(advance_rollout))
        .route("/dashboard/rollouts/{id}/halt", post(halt_rollout))
        .route("/dashboard/rollouts/{id}/rollback", post(roll_back))
        .route("/dashboard/jobs", get(pages::jobs))
        .route("/dashboard/jobs/{id}", get(pages::job))
        .route("/dashboard/audit", get(pages::audit))
        .route("/dashboard/models", get(pages::models))
        .route("/dashboard/events", get(live))
        .route("/dashboard/logout", post(log_out))
        .route_layer(middleware::from_fn_with_state(board.clone(), logged_in));
    Router::new()
        .route("/dashboard/login", get(login_form).post(log_in))
        .route("/dashboard/static/app.js", get(script))
        .route("/dashboard/static/app.css", get(stylesheet))
        .route("/dashboard/static/favicon.svg", get(icon))
        .merge(pages)
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
        .layer(middleware::from_fn_with_state(board.clone(), harden))
        .with_state(board)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::Mode;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; ec_session=abc123;other=1"));
        assert_eq!(cookie(&headers, SESSION_COOKIE), Some("abc123"));
        assert_eq!(cookie(&headers, LOGIN_COOKIE), None);
    }

    #[test]
    fn flash_text_is_encoded_for_the_query() {
        let response = back("/dashboard/features", Err("a b&c=<d>".into()));
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[header::LOCATION], "/dashboard/features?error=a+b%26c%3D%3Cd%3E");
    }

    #[test]
    fn settings_read_from_the_forms() {
        assert_eq!(setting_of("inherit", "inherit").unwrap(), Setting::default());
        assert_eq!(
            setting_of("off", "ide-enabled").unwrap(),
            Setting { local_model: Some(false), mode: Some(Mode::IdeEnabled) }
        );
        assert!(setting_of("maybe", "inherit").unwrap_err().contains("inherit, on or off"));
        assert!(setting_of("on", "all").unwrap_err().contains("swarm-only or ide-enabled"));
    }
}
