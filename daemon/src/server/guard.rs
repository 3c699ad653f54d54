//! The checks every request passes before any handler: `Host` and `Origin` must be loopback
//! names (or hosts the config allows), which stops DNS-rebinding attacks from web pages, and the
//! bearer token must match. The config may turn the token off for loopback peers, but only for
//! the model APIs: whatever runs code, reads files or reconfigures the daemon (`/mcp`, `/agent`,
//! `/edgecoder`) needs the token from every caller.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::api::{ApiError, Flavor};

/// Who is on the other end of a connection; inserted into each request by the accept loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// A loopback TCP peer or the unix socket.
    pub loopback: bool,
    /// The peer's address, for logs.
    pub address: String,
}

/// The host part of a `Host` value or an origin's authority (port and brackets removed).
fn host_name(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.rsplit_once(':').map_or(authority, |(host, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) { host } else { authority }
    })
}

/// Whether `host` (without port) names this machine's loopback interface.
pub fn is_loopback_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn allowed(host: &str, extra: &[String]) -> bool {
    is_loopback_name(host) || extra.iter().any(|h| h.eq_ignore_ascii_case(host))
}

/// Checks an `Origin` value: absent is fine (not a browser), otherwise its host must be allowed.
fn origin_allowed(origin: &str, extra: &[String]) -> bool {
    let Some((_, rest)) = origin.split_once("://") else { return false };
    allowed(host_name(rest.split('/').next().unwrap_or(rest)), extra)
}

/// Whether `path` reaches an endpoint that runs code, reads files or changes the daemon, which
/// needs the token even where the config turns auth off for loopback peers.
pub fn always_needs_token(path: &str) -> bool {
    ["/mcp", "/agent", "/edgecoder"]
        .iter()
        .any(|prefix| path == *prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('/')))
}

fn refuse(flavor: Flavor, status: StatusCode, message: String) -> Response {
    let mut response = ApiError::new(status, message).with_flavor(flavor).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    }
    response
}

/// The middleware: refuses foreign `Host`/`Origin` with 403 and a missing or wrong token with 401.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let flavor = Flavor::of_path(request.uri().path());
    let headers = request.headers();
    let extra = &state.config.allowed_hosts;
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).or_else(|| request.uri().host());
    match host {
        None => return refuse(flavor, StatusCode::BAD_REQUEST, "the request has no Host header".into()),
        Some(h) if !allowed(host_name(h), extra) => {
            return refuse(
                flavor,
                StatusCode::FORBIDDEN,
                format!("Host {h:?} is not a loopback name: call the daemon as 127.0.0.1 or localhost (DNS-rebinding guard; allowed_hosts in the config adds names)"),
            );
        }
        Some(_) => {}
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !origin_allowed(origin, extra) {
            return refuse(
                flavor,
                StatusCode::FORBIDDEN,
                format!("Origin {origin:?} is not a loopback origin: web pages from other sites cannot call the daemon"),
            );
        }
    }
    let loopback = request.extensions().get::<Peer>().is_some_and(|p| p.loopback);
    let token_waived = state.config.disable_auth_on_loopback && loopback && !always_needs_token(request.uri().path());
    if !token_waived {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
        match given {
            None => {
                return refuse(
                    flavor,
                    StatusCode::UNAUTHORIZED,
                    "missing bearer token: send `Authorization: Bearer <token>`; `edgecoder token` prints it".into(),
                );
            }
            Some(token) if !super::token::matches(&state.token, token.trim()) => {
                return refuse(
                    flavor,
                    StatusCode::UNAUTHORIZED,
                    "wrong bearer token: `edgecoder token` prints the daemon's token".into(),
                );
            }
            Some(_) => {}
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_pass_and_others_do_not() {
        for ok in ["localhost", "127.0.0.1", "::1", "127.1.2.3", "LOCALHOST", "app.localhost"] {
            assert!(is_loopback_name(ok), "{ok}");
        }
        for bad in ["evil.com", "10.0.0.1", "localhost.evil.com", "0.0.0.0", ""] {
            assert!(!is_loopback_name(bad), "{bad}");
        }
    }

    #[test]
    fn ports_and_brackets_are_removed() {
        assert_eq!(host_name("localhost:8080"), "localhost");
        assert_eq!(host_name("[::1]:8080"), "::1");
        assert_eq!(host_name("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_name("evil.com:80"), "evil.com");
    }

    #[test]
    fn code_running_and_control_paths_always_need_the_token() {
        for path in ["/mcp", "/mcp/", "/agent/tasks", "/agent/tasks/1/apply", "/edgecoder/provider", "/edgecoder/model"] {
            assert!(always_needs_token(path), "{path}");
        }
        for path in ["/v1/chat/completions", "/api/chat", "/metrics", "/openapi.json", "/mcpx", "/agents"] {
            assert!(!always_needs_token(path), "{path}");
        }
    }

    #[test]
    fn origins_are_checked_by_host() {
        let none: Vec<String> = Vec::new();
        assert!(origin_allowed("http://localhost:3000", &none));
        assert!(origin_allowed("vscode-webview://127.0.0.1", &none));
        assert!(!origin_allowed("https://evil.com", &none));
        assert!(!origin_allowed("null", &none));
        assert!(origin_allowed("https://box.lan", &["box.lan".to_owned()]));
    }
}
