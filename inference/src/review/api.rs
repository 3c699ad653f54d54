//! The review API's routes under `/review/v1` and their OpenAPI document (committed as
//! `docs/handshake-openapi.json`; `edgecoder-inference openapi` prints it).

use super::auth::{AuthError, Claims};
use super::{ReviewRefusal, ReviewService};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use edgecoder_protocol::inference::ErrorResponse;
use edgecoder_protocol::review::{
    API_KEY_HEADER, Acknowledgement, NONCE_HEADER, ReviewRequest, ReviewResult, ReviewStatus, TIMESTAMP_HEADER,
    TokenRequest, TokenResponse,
};
use std::convert::Infallible;
use std::sync::Arc;
use edgecoder_protocol::envelope::unix_time_s;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// The OpenAPI description of the review API.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "EdgeCoder cloud review (handshake) API",
        version = "1",
        description = "A device queues a task it could not do on its own for review by a larger model: it trades an API key for a short-lived, audience-bound delegation token, sends the redacted minimum (task, snippet, error), follows the review by polling or SSE, fetches a unified diff with an explanation, and acknowledges it. Every call but the token exchange carries the token, a single-use nonce and a timestamp (replays and stale timestamps are refused). Plain http is for loopback only: devices refuse it to any other host."
    ),
    paths(token, create, status, events, result, acknowledge),
    components(schemas(ErrorResponse)),
    modifiers(&Security)
)]
pub struct ReviewApi;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("delegation_token", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
        components.add_security_scheme("api_key", SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(API_KEY_HEADER))));
    }
}

/// The document as committed: pretty JSON with a final newline.
pub fn document() -> String {
    let mut text = ReviewApi::openapi().to_pretty_json().expect("the document encodes");
    text.push('\n');
    text
}

struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(ErrorResponse { error: self.1 })).into_response()
    }
}

impl From<AuthError> for ApiError {
    fn from(error: AuthError) -> ApiError {
        let status = match &error {
            AuthError::MissingNonce | AuthError::Stale(..) => StatusCode::BAD_REQUEST,
            AuthError::Replayed => StatusCode::CONFLICT,
            AuthError::Busy => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::UNAUTHORIZED,
        };
        ApiError(status, error.to_string())
    }
}

impl From<ReviewRefusal> for ApiError {
    fn from(refusal: ReviewRefusal) -> ApiError {
        let status = match &refusal {
            ReviewRefusal::BadRequest(_) => StatusCode::BAD_REQUEST,
            ReviewRefusal::NotFound(_) => StatusCode::NOT_FOUND,
            ReviewRefusal::NoResult(..) => StatusCode::CONFLICT,
            ReviewRefusal::Full(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        ApiError(status, refusal.to_string())
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> ApiError {
        ApiError(rejection.status(), format!("the request body is not valid: {}", rejection.body_text()))
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Trade an API key for a delegation token bound to this server.
#[utoipa::path(
    post, path = "/review/v1/token", tag = "review", request_body = TokenRequest,
    security(("api_key" = [])),
    responses(
        (status = 200, description = "A token", body = TokenResponse),
        (status = 401, description = "No or an unknown key, or another server's audience", body = ErrorResponse),
    )
)]
async fn token(
    State(service): State<Arc<ReviewService>>,
    headers: HeaderMap,
    body: Result<Json<TokenRequest>, JsonRejection>,
) -> Result<Json<TokenResponse>, ApiError> {
    let subject = service.keys().check(header_str(&headers, API_KEY_HEADER))?.to_owned();
    let Json(asked) = body?;
    let (token, claims) = service.issuer().issue(&subject, &asked.audience, unix_time_s())?;
    tracing::info!(subject = %claims.sub, expires_at = claims.exp, "delegation token issued");
    Ok(Json(TokenResponse { token, expires_at: claims.exp, audience: claims.aud }))
}

/// Checks the token, then the nonce and timestamp, of every call but the token exchange.
async fn authorize(State(service): State<Arc<ReviewService>>, headers: HeaderMap, mut request: Request, next: Next) -> Response {
    let checked = (|| {
        let bearer = header_str(&headers, header::AUTHORIZATION.as_str());
        let token = bearer.strip_prefix("Bearer ").filter(|t| !t.is_empty()).ok_or(AuthError::MissingToken)?;
        let now = unix_time_s();
        let claims = service.issuer().verify(token, now)?;
        service.nonces().accept(header_str(&headers, NONCE_HEADER), header_str(&headers, TIMESTAMP_HEADER), now)?;
        Ok::<Claims, AuthError>(claims)
    })();
    match checked {
        Ok(claims) => {
            request.extensions_mut().insert(claims);
            next.run(request).await
        }
        Err(error) => {
            tracing::warn!(%error, "review call refused");
            ApiError::from(error).into_response()
        }
    }
}

/// Queue a review (the same `queue_id` again returns the review it already made).
#[utoipa::path(
    post, path = "/review/v1/requests", tag = "review", request_body = ReviewRequest,
    security(("delegation_token" = [])),
    params(
        ("x-edgecoder-nonce" = String, Header, description = "16 to 64 characters of [A-Za-z0-9_-], never used before"),
        ("x-edgecoder-timestamp" = u64, Header, description = "The request's time, Unix seconds"),
    ),
    responses(
        (status = 202, description = "Queued (or already known)", body = ReviewStatus),
        (status = 400, description = "A bad request, nonce or timestamp", body = ErrorResponse),
        (status = 401, description = "No, a forged or an expired token", body = ErrorResponse),
        (status = 409, description = "A replayed nonce", body = ErrorResponse),
        (status = 503, description = "The server is full; try later", body = ErrorResponse),
    )
)]
async fn create(
    State(service): State<Arc<ReviewService>>,
    Extension(claims): Extension<Claims>,
    body: Result<Json<ReviewRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(request) = body?;
    let status = service.submit(&claims.sub, request)?;
    Ok((StatusCode::ACCEPTED, Json(status)).into_response())
}

/// A review's state.
#[utoipa::path(
    get, path = "/review/v1/requests/{id}", tag = "review",
    security(("delegation_token" = [])),
    params(("id" = String, Path, description = "The review's id"),
        ("x-edgecoder-nonce" = String, Header, description = "Single-use nonce"),
        ("x-edgecoder-timestamp" = u64, Header, description = "Unix seconds")),
    responses(
        (status = 200, description = "Its state", body = ReviewStatus),
        (status = 404, description = "Unknown here: send the request again", body = ErrorResponse),
    )
)]
async fn status(
    State(service): State<Arc<ReviewService>>,
    Extension(claims): Extension<Claims>,
    Path(id): Path<String>,
) -> Result<Json<ReviewStatus>, ApiError> {
    Ok(Json(service.status(&claims.sub, &id)?))
}

/// The review's state as server-sent events: one `status` event now and on every change, until
/// it is final.
#[utoipa::path(
    get, path = "/review/v1/requests/{id}/events", tag = "review",
    security(("delegation_token" = [])),
    params(("id" = String, Path, description = "The review's id"),
        ("x-edgecoder-nonce" = String, Header, description = "Single-use nonce"),
        ("x-edgecoder-timestamp" = u64, Header, description = "Unix seconds")),
    responses(
        (status = 200, description = "text/event-stream of `status` events, each a ReviewStatus", content_type = "text/event-stream"),
        (status = 404, description = "Unknown here", body = ErrorResponse),
    )
)]
async fn events(
    State(service): State<Arc<ReviewService>>,
    Extension(claims): Extension<Claims>,
    Path(id): Path<String>,
) -> Result<Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>>, ApiError> {
    service.status(&claims.sub, &id)?;
    let changes = service.changes();
    let start = (service, claims.sub, id, changes, None::<ReviewStatus>, false);
    let stream = futures_util::stream::unfold(start, |(service, subject, id, mut changes, last, ended)| async move {
        if ended {
            return None;
        }
        loop {
            let current = service.status(&subject, &id).ok();
            if current != last || current.is_none() {
                let done = current.as_ref().is_none_or(|s| s.state.is_final());
                let event = match &current {
                    Some(status) => Event::default().event("status").json_data(status).expect("a status encodes"),
                    None => Event::default().event("gone").data("the review was acknowledged or forgotten"),
                };
                return Some((Ok(event), (service, subject, id, changes, current, done)));
            }
            if changes.changed().await.is_err() {
                return None;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The proposed change, once the review is done.
#[utoipa::path(
    get, path = "/review/v1/requests/{id}/result", tag = "review",
    security(("delegation_token" = [])),
    params(("id" = String, Path, description = "The review's id"),
        ("x-edgecoder-nonce" = String, Header, description = "Single-use nonce"),
        ("x-edgecoder-timestamp" = u64, Header, description = "Unix seconds")),
    responses(
        (status = 200, description = "The diff, the code and the explanation", body = ReviewResult),
        (status = 404, description = "Unknown here", body = ErrorResponse),
        (status = 409, description = "Not done (yet, or it failed)", body = ErrorResponse),
    )
)]
async fn result(
    State(service): State<Arc<ReviewService>>,
    Extension(claims): Extension<Claims>,
    Path(id): Path<String>,
) -> Result<Json<ReviewResult>, ApiError> {
    Ok(Json(service.result(&claims.sub, &id)?))
}

/// The device has the result (and, when known, what the user did with it): the server forgets
/// the review.
#[utoipa::path(
    post, path = "/review/v1/requests/{id}/ack", tag = "review", request_body = Acknowledgement,
    security(("delegation_token" = [])),
    params(("id" = String, Path, description = "The review's id"),
        ("x-edgecoder-nonce" = String, Header, description = "Single-use nonce"),
        ("x-edgecoder-timestamp" = u64, Header, description = "Unix seconds")),
    responses(
        (status = 200, description = "Forgotten", body = ReviewStatus),
        (status = 404, description = "Unknown here", body = ErrorResponse),
    )
)]
async fn acknowledge(
    State(service): State<Arc<ReviewService>>,
    Extension(claims): Extension<Claims>,
    Path(id): Path<String>,
    body: Result<Json<Acknowledgement>, JsonRejection>,
) -> Result<Json<ReviewStatus>, ApiError> {
    let Json(ack) = body?;
    Ok(Json(service.acknowledge(&claims.sub, &id, ack.decision.map(|d| d.as_str()))?))
}

async fn openapi_document() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document()).into_response()
}

/// The review routes over `service`.
pub fn routes(service: Arc<ReviewService>) -> Router {
    let guarded = Router::new()
        .route("/review/v1/requests", post(create))
        .route("/review/v1/requests/{id}", get(status))
        .route("/review/v1/requests/{id}/events", get(events))
        .route("/review/v1/requests/{id}/result", get(result))
        .route("/review/v1/requests/{id}/ack", post(acknowledge))
        .route_layer(middleware::from_fn_with_state(service.clone(), authorize));
    Router::new()
        .route("/review/v1/token", post(token))
        .route("/review/v1/openapi.json", get(openapi_document))
        .merge(guarded)
        .with_state(service)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_document_is_the_generated_one() {
        let committed = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/handshake-openapi.json");
        let generated = super::document();
        if std::env::var_os("EDGECODER_BLESS").is_some() {
            std::fs::write(committed, &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(committed).unwrap_or_default();
        assert!(
            on_disk == generated,
            "docs/handshake-openapi.json is out of date: run `EDGECODER_BLESS=1 cargo test -p edgecoder-inference the_committed_document` (or `edgecoder-inference openapi > docs/handshake-openapi.json`)"
        );
    }
}
