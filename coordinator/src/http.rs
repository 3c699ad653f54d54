//! The coordinator's HTTP API (OpenAPI at `GET /openapi.json`):
//! - clients (bearer client token, or the admin token): upload a snapshot, submit a job, read
//!   its status and results, cancel it;
//! - agents: trade an enrolment token for credentials, download snapshots (HTTP basic auth with
//!   their id and secret);
//! - operators (admin token, from an allowed address only): agents, policies, enrolment tokens,
//!   model rollouts (start with a manifest signed offline, advance, halt, roll back), the audit
//!   log and the counters.

use edgecoder_protocol::envelope::unix_time_ms;
use crate::audit::Entry;
use crate::model::{Aggregate, JobSpec, JobState, Settlement, check_plan};
use crate::planner::subtasks_from;
use edgecoder_protocol::inference::{DecomposeResponse, PlannedSubtask};
use crate::features::{FeatureError, Level, Setting, parse_mode};
use crate::policy::Scope;
use crate::rollout::{Plan, Rollout, RolloutError};
use crate::service::Service;
use crate::merge::merge_stored;
use crate::snapshots::{SnapshotError, SnapshotStore};
use crate::store::StoreError;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use edgecoder_broker::{Authenticate, Credentials};
use edgecoder_protocol::ids::{AgentId, MessageId, Sha256};
use edgecoder_protocol::run::{Lang, Limits};
use edgecoder_protocol::topic::Role;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use utoipa::{OpenApi, ToSchema};

/// Who may call what.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// The operators' token (admin endpoints, and everything else).
    pub admin_token: String,
    /// Addresses the admin endpoints answer (e.g. `127.0.0.1/32`, `10.0.0.0/8`).
    pub admin_allow: Vec<IpNet>,
    /// The clients' token (jobs and snapshot uploads); without one, clients use the admin token.
    pub client_token: Option<String>,
    /// The MQTT address told to newly enrolled agents.
    pub broker: String,
    /// How long an issued enrolment token stays valid.
    pub enrolment_ttl: Duration,
}

/// What the API works on.
pub struct Api {
    /// Who may call what.
    pub config: ApiConfig,
    /// The MQTT service (agents, policies, counters) and its queue.
    pub service: Arc<Service>,
    /// The broker's credentials (enrolment).
    pub credentials: Arc<Credentials>,
    /// The snapshots.
    pub snapshots: Arc<SnapshotStore>,
}

/// An error answer: `{"error": "..."}` with what to do about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApiError {
    /// What went wrong.
    pub error: String,
    #[serde(skip)]
    status: StatusCode,
}

impl ApiError {
    fn new(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError { error: error.into(), status }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self)).into_response()
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        ApiError::new(rejection.status(), format!("the request body is not valid: {}", rejection.body_text()))
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        let status = match &error {
            StoreError::NoJob(_) => StatusCode::NOT_FOUND,
            StoreError::Conflict(_) | StoreError::WrongState { .. } | StoreError::SubtaskTaken(_) => {
                StatusCode::CONFLICT
            }
            StoreError::Plan(_) | StoreError::InvalidJob(_) => StatusCode::BAD_REQUEST,
            StoreError::Backend(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError::new(status, error.to_string())
    }
}

impl From<SnapshotError> for ApiError {
    fn from(error: SnapshotError) -> ApiError {
        let status = match &error {
            SnapshotError::Digest { .. } => StatusCode::BAD_REQUEST,
            SnapshotError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            SnapshotError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.to_string())
    }
}

type Shared = State<Arc<Api>>;

/// The largest job submit accepted: room for a client's plan of many subtasks.
const JOB_BODY_LIMIT: usize = 16 << 20;

fn digest(text: &str) -> Result<Sha256, ApiError> {
    Sha256::from_hex(text)
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, format!("{text:?} is not a sha256 (64 hex digits)")))
}

fn job_id(text: &str) -> Result<MessageId, ApiError> {
    MessageId::from_hex(text)
        .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, format!("{text:?} is not a job id (32 hex digits)")))
}

/// A job as a client submits it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubmitJob {
    /// The job's id (32 hex digits), chosen by the client so a retried submit makes one job;
    /// drawn at random when left out.
    pub id: Option<String>,
    /// The tenant it is billed to and shares fairly within.
    pub tenant: String,
    /// `python` or `js`.
    pub lang: String,
    /// What the job asks for.
    pub instruction: String,
    /// The job's tests, when it has them.
    pub tests: Option<String>,
    /// The sha256 of the snapshot it runs on, uploaded first with `PUT /v1/snapshots/{sha256}`.
    pub snapshot: String,
    /// Attempts per subtask before it goes to the parent model (at least 1; default 3).
    pub max_attempts: Option<u16>,
    /// How the subtasks' outputs become the result: `concatenate` (the default), or
    /// `merge_patches` (each output is a unified diff of the snapshot; they are merged
    /// three-way into one diff, and a conflict waits for `POST /v1/jobs/{id}/resolve`).
    pub aggregate: Option<String>,
    /// The job's subtasks, when the client planned it (at most 65,535; `after` names earlier
    /// positions); without them the inference service decomposes the job. Each is
    /// `{"instruction", "mode": "step", "tests"?, "after"?, "model"?}`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub subtasks: Option<Vec<PlannedSubtask>>,
}

/// The answer to a submit.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Submitted {
    /// The job's id.
    pub id: String,
    /// False when this exact job had been submitted before.
    pub created: bool,
}

/// One subtask, as the API shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SubtaskStatus {
    /// Its id.
    pub id: String,
    /// Its place in the job.
    pub ordinal: u32,
    /// `blocked`, `ready`, `leased`, `done`, `escalated`, …
    pub state: String,
    /// Attempts so far.
    pub attempts: u16,
    /// The last failure.
    pub last_failure: Option<String>,
}

/// A job's status.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobStatus {
    /// Its id.
    pub id: String,
    /// Its tenant.
    pub tenant: String,
    /// `decomposing`, `running`, `merging`, `conflict`, `done`, `failed` or `cancelled`.
    pub state: String,
    /// Why it failed, or the files in conflict with their conflict markers.
    pub reason: Option<String>,
    /// When it was submitted (ms since the epoch).
    pub submitted_ms: u64,
    /// When it ended.
    pub finished_ms: Option<u64>,
    /// Its subtasks, once decomposed.
    pub subtasks: Vec<SubtaskStatus>,
}

/// A finished job's results.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JobResults {
    /// The job's id.
    pub id: String,
    /// The aggregated result.
    pub result: String,
    /// Its sha256.
    pub result_hash: String,
    /// Each subtask's output, in order.
    pub outputs: Vec<String>,
}

/// A stored snapshot.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SnapshotInfo {
    /// Its sha256.
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
}

/// An enrolment request from a new agent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enrol {
    /// The single-use token the operator gave.
    pub token: String,
    /// The id the agent wants (letters, digits, `-`, `_`, `.`).
    pub agent_id: String,
}

/// A new agent's credentials, shown once.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Enrolment {
    /// Its id: its MQTT client id and username.
    pub agent_id: String,
    /// Its secret: its MQTT password and HTTP basic-auth password.
    pub secret: String,
    /// Where its MQTT connection goes.
    pub broker: String,
}

/// A fresh enrolment token.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrolmentToken {
    /// The token (single use).
    pub token: String,
    /// Seconds it stays valid.
    pub expires_in_s: u64,
}

/// A policy change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPolicy {
    /// `default`, or `agent:ID`.
    pub scope: String,
    /// The policy (its `version` is assigned by the coordinator).
    #[schema(value_type = Object)]
    pub policy: serde_json::Value,
}

/// The answer to a policy change.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PolicySet {
    /// The policy's new version.
    pub version: u32,
}

/// Paging of the audit log.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditPage {
    /// Entries after this sequence number (default 0).
    pub after: Option<u64>,
    /// Most entries (default 100, at most 1000).
    pub limit: Option<usize>,
}

/// Submits a job.
#[utoipa::path(post, path = "/v1/jobs", tag = "jobs", request_body = SubmitJob,
    responses((status = 201, body = Submitted), (status = 200, body = Submitted, description = "submitted before"),
        (status = 400, body = ApiError), (status = 409, body = ApiError, description = "the id is taken by another job")))]
async fn submit(State(api): Shared, body: Result<Json<SubmitJob>, JsonRejection>) -> Result<Response, ApiError> {
    let Json(job) = body?;
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m);
    let lang: Lang = job.lang.parse().map_err(|_| bad(format!("lang {:?}: use `python` or `js`", job.lang)))?;
    let aggregate: Aggregate = job.aggregate.as_deref().unwrap_or("concatenate").parse().map_err(bad)?;
    let id = match &job.id {
        Some(id) => job_id(id)?,
        None => MessageId::random(),
    };
    let sha = digest(&job.snapshot)?;
    let snapshot = api.snapshots.get(&sha).ok_or_else(|| {
        bad(format!("snapshot {sha} is not stored: upload it first with PUT /v1/snapshots/{sha}"))
    })?;
    if job.tenant.trim().is_empty() || job.instruction.trim().is_empty() {
        return Err(bad("tenant and instruction must not be empty".into()));
    }
    if job.max_attempts == Some(0) {
        return Err(bad("max_attempts must be at least 1: it counts the agents' tries of a subtask before the parent model gets it".into()));
    }
    let spec = JobSpec {
        id,
        tenant: job.tenant,
        lang,
        instruction: job.instruction,
        tests: job.tests,
        snapshot,
        aggregate,
        max_attempts: job.max_attempts.unwrap_or(3),
    };
    // A client's plan is checked before the job exists, so a bad one leaves nothing behind.
    let plan = match job.subtasks {
        Some(subtasks) => {
            if subtasks.len() > usize::from(u16::MAX) {
                return Err(bad(format!("{} subtasks: at most {} per job", subtasks.len(), u16::MAX)));
            }
            let plan = subtasks_from(id, DecomposeResponse { subtasks }, Limits::default()).map_err(|e| bad(e.to_string()))?;
            check_plan(&plan).map_err(StoreError::from)?;
            Some(plan)
        }
        None => None,
    };
    let now = unix_time_ms();
    let created = api.service.store().submit(spec, now).await?;
    if let Some(plan) = plan {
        match api.service.store().plan(id, plan, now).await {
            Ok(()) => {}
            // The same submit again: its plan is in place already.
            Err(StoreError::WrongState { .. }) if !created => {}
            Err(error) => return Err(error.into()),
        }
    }
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(Submitted { id: id.to_string(), created })).into_response())
}

/// A job's status and its subtasks.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", params(("id" = String, Path, description = "the job's id")),
    responses((status = 200, body = JobStatus), (status = 404, body = ApiError)))]
async fn status(State(api): Shared, Path(id): Path<String>) -> Result<Json<JobStatus>, ApiError> {
    let id = job_id(&id)?;
    let view = api.service.store().job(id).await?.ok_or(StoreError::NoJob(id))?;
    let job = &view.job;
    Ok(Json(JobStatus {
        id: id.to_string(),
        tenant: job.spec.tenant.clone(),
        state: job.state.name().to_owned(),
        reason: match &job.state {
            JobState::Failed { reason } | JobState::Conflict { detail: reason } => Some(reason.clone()),
            _ => None,
        },
        submitted_ms: job.submitted,
        finished_ms: job.finished,
        subtasks: view
            .subtasks
            .iter()
            .map(|s| SubtaskStatus {
                id: s.id.to_string(),
                ordinal: s.ordinal,
                state: s.state.clone(),
                attempts: s.attempts,
                last_failure: s.last_failure.clone(),
            })
            .collect(),
    }))
}

/// A finished job's results.
#[utoipa::path(get, path = "/v1/jobs/{id}/results", tag = "jobs", params(("id" = String, Path, description = "the job's id")),
    responses((status = 200, body = JobResults), (status = 404, body = ApiError), (status = 409, body = ApiError, description = "not done")))]
async fn results(State(api): Shared, Path(id): Path<String>) -> Result<Json<JobResults>, ApiError> {
    let id = job_id(&id)?;
    let view = api.service.store().job(id).await?.ok_or(StoreError::NoJob(id))?;
    match &view.job.state {
        JobState::Done { result, result_hash } => Ok(Json(JobResults {
            id: id.to_string(),
            result: result.clone(),
            result_hash: result_hash.to_string(),
            outputs: view.subtasks.iter().map(|s| s.output.clone().unwrap_or_default()).collect(),
        })),
        other => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("job {id} is {}: results exist once it is done (GET /v1/jobs/{id})", other.name()),
        )),
    }
}

/// Cancels a job.
#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", tag = "jobs", params(("id" = String, Path, description = "the job's id")),
    responses((status = 200, description = "`{\"cancelled\": bool}`: false when it had ended already"), (status = 404, body = ApiError)))]
async fn cancel(State(api): Shared, Path(id): Path<String>) -> Result<Response, ApiError> {
    let id = job_id(&id)?;
    let cancelled = api.service.store().cancel(id, unix_time_ms()).await?;
    Ok(Json(serde_json::json!({"cancelled": cancelled})).into_response())
}

/// A person's resolution of a job whose patches conflict.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resolve {
    /// The job's result: one unified diff of the snapshot, conflicts resolved.
    pub result: String,
}

/// Resolves a job in conflict with a person's diff, which must apply to the job's snapshot.
#[utoipa::path(post, path = "/v1/jobs/{id}/resolve", tag = "jobs", params(("id" = String, Path, description = "the job's id")), request_body = Resolve,
    responses((status = 200, description = "`{\"resolved\": true}`"), (status = 404, body = ApiError),
        (status = 409, body = ApiError, description = "the job is not in conflict"), (status = 422, body = ApiError, description = "the diff does not apply to the snapshot")))]
async fn resolve(State(api): Shared, Path(id): Path<String>, body: Result<Json<Resolve>, JsonRejection>) -> Result<Response, ApiError> {
    let Json(Resolve { result }) = body?;
    let id = job_id(&id)?;
    let job = api.service.store().job_only(id).await?.ok_or(StoreError::NoJob(id))?;
    if !matches!(job.state, JobState::Conflict { .. }) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("job {id} is {}: only a job in conflict takes a resolution", job.state.name()),
        ));
    }
    let (store, sha) = (api.snapshots.clone(), job.spec.snapshot.sha256);
    let checked = merge_stored(store, sha, vec![(0, result)], Vec::new())
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, format!("the job's snapshot {sha} is no longer stored: upload it again")))?
        .map_err(|e| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    api.service.store().settle(id, Settlement::ResolvedByPerson(checked), unix_time_ms()).await?;
    Ok(Json(serde_json::json!({"resolved": true})).into_response())
}

/// Uploads a snapshot (a tarball) under its sha256.
#[utoipa::path(put, path = "/v1/snapshots/{sha256}", tag = "snapshots", request_body(content = Vec<u8>, content_type = "application/x-tar"),
    params(("sha256" = String, Path, description = "the tarball's sha256")),
    responses((status = 201, body = SnapshotInfo), (status = 400, body = ApiError, description = "the bytes hash differently"), (status = 413, body = ApiError)))]
async fn put_snapshot(State(api): Shared, Path(sha): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let sha = digest(&sha)?;
    let store = api.snapshots.clone();
    let snapshot = tokio::task::spawn_blocking(move || store.put(sha, &body)).await.expect("no panic")?;
    let info = SnapshotInfo { sha256: snapshot.sha256.to_string(), bytes: snapshot.bytes };
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// Downloads a snapshot (agents: basic auth with their id and secret).
#[utoipa::path(get, path = "/v1/snapshots/{sha256}", tag = "snapshots", params(("sha256" = String, Path, description = "the tarball's sha256")),
    responses((status = 200, content_type = "application/x-tar", description = "the tarball"), (status = 404, body = ApiError)))]
async fn get_snapshot(State(api): Shared, Path(sha): Path<String>) -> Result<Response, ApiError> {
    let sha = digest(&sha)?;
    let store = api.snapshots.clone();
    match tokio::task::spawn_blocking(move || store.read(&sha)).await.expect("no panic")? {
        Some(bytes) => Ok(([(header::CONTENT_TYPE, "application/x-tar")], bytes).into_response()),
        None => Err(ApiError::new(StatusCode::NOT_FOUND, format!("no snapshot {sha}"))),
    }
}

/// Trades an enrolment token for an agent's credentials.
#[utoipa::path(post, path = "/v1/enrol", tag = "agents", request_body = Enrol,
    responses((status = 201, body = Enrolment), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 409, body = ApiError)))]
async fn enrol(State(api): Shared, body: Result<Json<Enrol>, JsonRejection>) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let agent = AgentId::new(&request.agent_id).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, format!("agent id {:?} is not valid: {e}", request.agent_id))
    })?;
    let enrolled = api.credentials.enrol(&request.token, &agent).await.map_err(|e| {
        let status = match e {
            edgecoder_broker::EnrolError::BadToken => StatusCode::FORBIDDEN,
            edgecoder_broker::EnrolError::IdTaken(_) => StatusCode::CONFLICT,
            edgecoder_broker::EnrolError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, e.to_string())
    })?;
    tracing::info!(agent = %enrolled.agent, "agent enrolled");
    let answer = Enrolment {
        agent_id: enrolled.agent.as_str().to_owned(),
        secret: enrolled.secret,
        broker: api.config.broker.clone(),
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// Issues a single-use enrolment token.
#[utoipa::path(post, path = "/v1/admin/enrolment-tokens", tag = "admin",
    responses((status = 201, body = EnrolmentToken), (status = 500, body = ApiError)))]
async fn issue_token(State(api): Shared) -> Result<Response, ApiError> {
    let ttl = api.config.enrolment_ttl;
    let token = api
        .credentials
        .issue_enrolment_token(ttl)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok((StatusCode::CREATED, Json(EnrolmentToken { token, expires_in_s: ttl.as_secs() })).into_response())
}

/// The agents that said hello, with their liveness and last heartbeat.
#[utoipa::path(get, path = "/v1/admin/agents", tag = "admin", responses((status = 200, description = "the agents")))]
async fn agents(State(api): Shared) -> Response {
    Json(api.service.agents()).into_response()
}

/// Sets a policy and pushes it to the agents it concerns.
#[utoipa::path(put, path = "/v1/admin/policies", tag = "admin", request_body = SetPolicy,
    responses((status = 200, body = PolicySet), (status = 400, body = ApiError)))]
async fn set_policy(State(api): Shared, body: Result<Json<SetPolicy>, JsonRejection>) -> Result<Json<PolicySet>, ApiError> {
    let Json(request) = body?;
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m);
    let scope = match request.scope.as_str() {
        "default" => Scope::Default,
        other => match other.strip_prefix("agent:").map(AgentId::new) {
            Some(Ok(agent)) => Scope::Agent(agent),
            _ => return Err(bad(format!("scope {other:?}: use `default` or `agent:ID`"))),
        },
    };
    let policy = serde_json::from_value(request.policy).map_err(|e| bad(format!("the policy is not valid: {e}")))?;
    let version = api.service.set_policy(scope, policy).await.map_err(|e| bad(e.to_string()))?;
    Ok(Json(PolicySet { version }))
}

/// A level's feature settings, as an operator sets them.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetFeatures {
    /// `fleet`, `tenant:NAME`, `group:NAME` or `agent:ID`.
    pub level: String,
    /// Whether agents may receive local models; left out: inherited from the level above.
    pub local_model: Option<bool>,
    /// `swarm-only` or `ide-enabled`; left out: inherited.
    pub mode: Option<String>,
}

/// A change of membership: an agent's group, or a group's tenant (an empty or missing target
/// takes it out).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMembership {
    /// The agent to move into `group`.
    pub agent: Option<String>,
    /// The group (of the agent, or to move into `tenant`).
    pub group: Option<String>,
    /// The tenant to move `group` into.
    pub tenant: Option<String>,
}

fn level_of(text: &str) -> Result<Level, ApiError> {
    let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m);
    match text.split_once(':') {
        None if text == "fleet" => Ok(Level::Fleet),
        Some(("tenant", name)) => Ok(Level::Tenant(name.to_owned())),
        Some(("group", name)) => Ok(Level::Group(name.to_owned())),
        Some(("agent", id)) => AgentId::new(id).map(Level::Agent).map_err(|e| bad(format!("agent {id:?}: {e}"))),
        _ => Err(bad(format!("level {text:?}: use fleet, tenant:NAME, group:NAME or agent:ID"))),
    }
}

impl From<FeatureError> for ApiError {
    fn from(error: FeatureError) -> ApiError {
        let status = match &error {
            FeatureError::Invalid(_) => StatusCode::BAD_REQUEST,
            FeatureError::File { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.to_string())
    }
}

/// Every level's own feature settings, and what each known agent ends up with (and from where).
#[utoipa::path(get, path = "/v1/admin/features", tag = "admin", responses((status = 200, description = "the settings")))]
async fn features(State(api): Shared) -> Json<serde_json::Value> {
    let features = api.service.features();
    let agents: Vec<serde_json::Value> = api
        .service
        .agents()
        .into_iter()
        .map(|a| serde_json::json!({ "id": a.id, "effective": features.effective(&a.id) }))
        .collect();
    Json(serde_json::json!({ "levels": features.tree(), "agents": agents }))
}

/// Sets one level's feature settings; offers not yet acted on are withdrawn from agents whose
/// local-model feature it turns off.
#[utoipa::path(put, path = "/v1/admin/features", tag = "admin", request_body = SetFeatures,
    responses((status = 204, description = "saved"), (status = 400, body = ApiError)))]
async fn set_features(State(api): Shared, body: Result<Json<SetFeatures>, JsonRejection>) -> Result<StatusCode, ApiError> {
    let Json(request) = body?;
    let level = level_of(&request.level)?;
    let mode = request.mode.as_deref().map(parse_mode).transpose()?;
    api.service.set_feature(&level, Setting { local_model: request.local_model, mode }).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Moves an agent into a group, or a group into a tenant.
#[utoipa::path(put, path = "/v1/admin/features/membership", tag = "admin", request_body = SetMembership,
    responses((status = 204, description = "saved"), (status = 400, body = ApiError)))]
async fn set_membership(State(api): Shared, body: Result<Json<SetMembership>, JsonRejection>) -> Result<StatusCode, ApiError> {
    let Json(request) = body?;
    let named = |t: &Option<String>| t.as_deref().map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned);
    let (group, tenant) = (named(&request.group), named(&request.tenant));
    match (&request.agent, &group) {
        (Some(agent), _) => {
            let agent = AgentId::new(agent).map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("agent {agent:?}: {e}")))?;
            api.service.assign_agent(&agent, group.as_deref()).await?;
        }
        (None, Some(group)) => api.service.assign_group(group, tenant.as_deref()).await?,
        (None, None) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "name an agent (to move into group) or a group (to move into tenant)",
            ));
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Audit entries after a sequence number.
#[utoipa::path(get, path = "/v1/admin/audit", tag = "admin", params(AuditPage), responses((status = 200, description = "the entries")))]
async fn audit(State(api): Shared, Query(page): Query<AuditPage>) -> Result<Json<Vec<Entry>>, ApiError> {
    let limit = page.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(api.service.store().audit(page.after.unwrap_or(0), limit).await?))
}

impl From<RolloutError> for ApiError {
    fn from(error: RolloutError) -> ApiError {
        let status = match &error {
            RolloutError::Manifest(_) | RolloutError::Plan(_) => StatusCode::BAD_REQUEST,
            RolloutError::Unknown(_) => StatusCode::NOT_FOUND,
            RolloutError::State { .. } => StatusCode::CONFLICT,
            RolloutError::File { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(status, error.to_string())
    }
}

/// A rollout as the API shows it: everything but the signed bytes.
fn rollout_json(rollout: &Rollout) -> serde_json::Value {
    let mut value = serde_json::to_value(rollout).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.remove("signed");
    }
    value
}

/// A signed statement as `edgecoder-sign sign` writes it.
pub(crate) fn signed_body(body: &[u8]) -> Result<edgecoder_protocol::manifest::SignedStatement, ApiError> {
    postcard::from_bytes(body).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, format!("the body is not a signed manifest ({e}): send the file `edgecoder-sign sign` wrote, e.g. curl --data-binary @model.signed"))
    })
}

/// How a new rollout proceeds (query parameters).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct RolloutPlan {
    /// Agents that get it first, comma-separated.
    pub canary: Option<String>,
    /// How many other agents join the canary.
    pub canary_count: Option<usize>,
    /// The percentages later stages reach, comma-separated, ascending, ending at 100 (default `100`).
    pub batches: Option<String>,
    /// The share (0–1) of finished installs that may fail before the rollout halts (default 0.2).
    pub max_failure_rate: Option<f64>,
    /// Finished installs needed before the failure rate is judged (default 1).
    pub min_reports: Option<usize>,
    /// The share (0–1) of agents that installed it and then went silent (no heartbeat) past
    /// which the rollout halts; left out: health is not judged.
    pub max_unhealthy_rate: Option<f64>,
}

impl RolloutPlan {
    pub(crate) fn plan(&self) -> Result<Plan, ApiError> {
        let bad = |m: String| ApiError::new(StatusCode::BAD_REQUEST, m);
        let list = |text: &Option<String>| -> Vec<String> {
            text.iter().flat_map(|t| t.split(',')).map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
        };
        let canary = list(&self.canary)
            .into_iter()
            .map(|id| AgentId::new(&id).map_err(|e| bad(format!("canary agent {id:?}: {e}"))))
            .collect::<Result<_, _>>()?;
        let batches = match &self.batches {
            None => vec![100],
            some => list(some)
                .into_iter()
                .map(|p| p.parse::<u8>().map_err(|_| bad(format!("batch {p:?} is not a percentage (1-100)"))))
                .collect::<Result<_, _>>()?,
        };
        Ok(Plan {
            canary,
            canary_count: self.canary_count.unwrap_or(0),
            batches,
            max_failure_rate: self.max_failure_rate.unwrap_or(0.2),
            min_reports: self.min_reports.unwrap_or(1),
            max_unhealthy_rate: self.max_unhealthy_rate,
        })
    }
}

/// Starts a rollout of a manifest signed offline (the body: the `.signed` file); its canary is
/// offered at once.
#[utoipa::path(post, path = "/v1/admin/rollouts", tag = "admin", params(RolloutPlan),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "the rollout"), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
async fn start_rollout(State(api): Shared, Query(plan): Query<RolloutPlan>, body: Bytes) -> Result<Response, ApiError> {
    let plan = plan.plan()?;
    let rollout = api.service.start_rollout(signed_body(&body)?, plan).await?;
    Ok((StatusCode::CREATED, Json(rollout_json(&rollout))).into_response())
}

/// Every rollout, newest first.
#[utoipa::path(get, path = "/v1/admin/rollouts", tag = "admin", responses((status = 200, description = "the rollouts")))]
async fn rollouts(State(api): Shared) -> Json<Vec<serde_json::Value>> {
    Json(api.service.rollouts().iter().map(rollout_json).collect())
}

fn rollout_id(text: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| ApiError::new(StatusCode::BAD_REQUEST, format!("{text:?} is not a rollout id (a number)")))
}

/// One rollout, with each agent's install.
#[utoipa::path(get, path = "/v1/admin/rollouts/{id}", tag = "admin", responses((status = 200, description = "the rollout"), (status = 404, body = ApiError)))]
async fn rollout(State(api): Shared, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let id = rollout_id(&id)?;
    let rollout = api.service.rollout(id).ok_or(RolloutError::Unknown(id))?;
    Ok(Json(rollout_json(&rollout)))
}

/// Offers a rollout's next stage.
#[utoipa::path(post, path = "/v1/admin/rollouts/{id}/advance", tag = "admin", responses((status = 200, description = "the rollout"), (status = 409, body = ApiError)))]
async fn advance_rollout(State(api): Shared, Path(id): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let rollout = api.service.advance_rollout(rollout_id(&id)?).await?;
    Ok(Json(rollout_json(&rollout)))
}

/// Why an operator halts a rollout.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Halt {
    /// The reason, for the audit log.
    pub reason: String,
}

/// Halts a rollout; offers nobody acted on are withdrawn.
#[utoipa::path(post, path = "/v1/admin/rollouts/{id}/halt", tag = "admin", request_body = Halt,
    responses((status = 200, description = "the rollout"), (status = 409, body = ApiError)))]
async fn halt_rollout(State(api): Shared, Path(id): Path<String>, body: Result<Json<Halt>, JsonRejection>) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(halt) = body?;
    if halt.reason.trim().is_empty() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "say why the rollout halts: {\"reason\": \"...\"}"));
    }
    let rollout = api.service.halt_rollout(rollout_id(&id)?, halt.reason.trim()).await?;
    Ok(Json(rollout_json(&rollout)))
}

/// Rolls a rollout back with a signed rollback manifest (the body: its `.signed` file), offered
/// at once to every agent the rollout reached.
#[utoipa::path(post, path = "/v1/admin/rollouts/{id}/rollback", tag = "admin",
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, description = "the rollback rollout"), (status = 400, body = ApiError), (status = 409, body = ApiError)))]
async fn roll_back(State(api): Shared, Path(id): Path<String>, body: Bytes) -> Result<Response, ApiError> {
    let rollout = api.service.roll_back(rollout_id(&id)?, signed_body(&body)?).await?;
    Ok((StatusCode::CREATED, Json(rollout_json(&rollout))).into_response())
}

/// Queue sizes and the service's counters.
#[utoipa::path(get, path = "/v1/admin/stats", tag = "admin", responses((status = 200, description = "queue counts and service counters")))]
async fn stats(State(api): Shared) -> Result<Response, ApiError> {
    let counts = api.service.store().counts().await?;
    let decode_errors: std::collections::BTreeMap<_, _> = api.service.decode_errors().into_iter().collect();
    Ok(Json(serde_json::json!({"queue": counts, "service": api.service.stats(), "decode_errors": decode_errors}))
        .into_response())
}

/// The OpenAPI document of this API.
#[utoipa::path(get, path = "/openapi.json", tag = "meta", responses((status = 200, description = "OpenAPI 3.1")))]
async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// The OpenAPI description of the coordinator's HTTP API.
#[derive(OpenApi)]
#[openapi(
    info(title = "edgecoder-coordinator", description = "The swarm coordinator's API. Jobs and snapshot uploads need `Authorization: Bearer <client token>`; snapshot downloads take an agent's basic auth; /v1/admin needs the admin token from an allowed address."),
    paths(submit, status, results, cancel, resolve, put_snapshot, get_snapshot, enrol, issue_token, agents, set_policy,
        start_rollout, rollouts, rollout, advance_rollout, halt_rollout, roll_back, features, set_features, set_membership, audit, stats, document)
)]
pub struct ApiDoc;

pub(crate) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ")
}

/// The agent an HTTP basic-auth header names, when its secret is right.
async fn basic_agent(headers: &HeaderMap, credentials: &Credentials) -> Option<AgentId> {
    use base64::Engine;
    let encoded = headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    match credentials.authenticate(id, id, secret).await? {
        Role::Agent(agent) => Some(agent),
        Role::Coordinator => None,
    }
}

fn is_admin(api: &Api, headers: &HeaderMap) -> bool {
    bearer(headers).is_some_and(|t| same_secret(t.as_bytes(), api.config.admin_token.as_bytes()))
}

fn is_client(api: &Api, headers: &HeaderMap) -> bool {
    is_admin(api, headers)
        || match (&api.config.client_token, bearer(headers)) {
            (Some(token), Some(given)) => same_secret(given.as_bytes(), token.as_bytes()),
            _ => false,
        }
}

fn unauthorized(what: &str) -> Response {
    ApiError::new(StatusCode::UNAUTHORIZED, format!("missing or wrong credentials: {what}")).into_response()
}

async fn admin_only(
    State(api): Shared,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    let ip: IpAddr = peer.ip().to_canonical();
    if !api.config.admin_allow.iter().any(|net| net.contains(&ip)) {
        tracing::warn!(%ip, "admin call from an address outside the allowlist");
        return ApiError::new(
            StatusCode::FORBIDDEN,
            format!("{ip} may not call admin endpoints: add it to the coordinator's --admin-allow"),
        )
        .into_response();
    }
    if !is_admin(&api, &headers) {
        return unauthorized("send `Authorization: Bearer <admin token>`");
    }
    next.run(request).await
}

async fn clients_only(State(api): Shared, headers: HeaderMap, request: Request, next: Next) -> Response {
    if !is_client(&api, &headers) {
        return unauthorized("send `Authorization: Bearer <client token>`");
    }
    next.run(request).await
}

async fn agents_or_clients(State(api): Shared, headers: HeaderMap, request: Request, next: Next) -> Response {
    if !is_client(&api, &headers) && basic_agent(&headers, &api.credentials).await.is_none() {
        return unauthorized("agents send HTTP basic auth with their id and secret, clients their bearer token");
    }
    next.run(request).await
}

async fn trace_request(request: Request, next: Next) -> Response {
    use tracing::Instrument;
    let span = tracing::info_span!("http", method = %request.method(), path = %request.uri().path());
    async move {
        let response = next.run(request).await;
        tracing::info!(status = response.status().as_u16(), "answered");
        response
    }
    .instrument(span)
    .await
}

/// The API's routes. Serve them with `into_make_service_with_connect_info::<SocketAddr>()`: the
/// admin allowlist reads the peer address.
pub fn router(api: Arc<Api>) -> Router {
    let snapshot_limit = api.snapshots.max_bytes + 1;
    let clients = Router::new()
        .route("/v1/jobs", post(submit).layer(DefaultBodyLimit::max(JOB_BODY_LIMIT)))
        .route("/v1/jobs/{id}", get(status))
        .route("/v1/jobs/{id}/results", get(results))
        .route("/v1/jobs/{id}/cancel", post(cancel))
        .route("/v1/jobs/{id}/resolve", post(resolve).layer(DefaultBodyLimit::max(JOB_BODY_LIMIT)))
        .route("/v1/snapshots/{sha256}", put(put_snapshot).layer(DefaultBodyLimit::max(snapshot_limit)))
        .route_layer(middleware::from_fn_with_state(api.clone(), clients_only));
    let downloads = Router::new()
        .route("/v1/snapshots/{sha256}", get(get_snapshot))
        .route_layer(middleware::from_fn_with_state(api.clone(), agents_or_clients));
    let admin = Router::new()
        .route("/v1/admin/enrolment-tokens", post(issue_token))
        .route("/v1/admin/agents", get(agents))
        .route("/v1/admin/policies", put(set_policy))
        .route("/v1/admin/rollouts", post(start_rollout).get(rollouts))
        .route("/v1/admin/rollouts/{id}", get(rollout))
        .route("/v1/admin/rollouts/{id}/advance", post(advance_rollout))
        .route("/v1/admin/rollouts/{id}/halt", post(halt_rollout))
        .route("/v1/admin/rollouts/{id}/rollback", post(roll_back))
        .route("/v1/admin/features", get(features).put(set_features))
        .route("/v1/admin/features/membership", put(set_membership))
        .route("/v1/admin/audit", get(audit))
        .route("/v1/admin/stats", get(stats))
        .route_layer(middleware::from_fn_with_state(api.clone(), admin_only));
    Router::new()
        .route("/v1/enrol", post(enrol))
        .route("/openapi.json", get(document))
        .merge(clients)
        .merge(downloads)
        .merge(admin)
        .with_state(api.clone())
        .merge(crate::dashboard::router(api))
        .layer(DefaultBodyLimit::max(1 << 20))
        .layer(middleware::from_fn(trace_request))
}
