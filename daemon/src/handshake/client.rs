//! The review API's client: trades the API key for a delegation token (and again when it
//! expires or the server forgets it), and sends every call with a fresh nonce and timestamp.
//! Plain http is refused for any host but loopback.

use crate::providers::{error_message, upstream_client};
use edgecoder_protocol::review::{
    API_KEY_HEADER, Acknowledgement, BASE_PATH, Decision, NONCE_HEADER, ReviewRequest, ReviewResult, ReviewStatus,
    TIMESTAMP_HEADER, TokenRequest, TokenResponse,
};
use reqwest::{Method, StatusCode, Url};
use std::net::IpAddr;
use std::path::Path;
use edgecoder_protocol::MessageId;
use edgecoder_protocol::envelope::unix_time_s;
use std::time::Duration;

/// Why a call to the review server failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The configured URL cannot be used.
    #[error("review url {url:?}: {why}")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong.
        why: String,
    },
    /// The server could not be reached (offline, down, refused, timed out): try later.
    #[error("cannot reach the review server: {0}")]
    Unreachable(String),
    /// The server does not know this review (it restarted, or the review was acknowledged).
    #[error("the review server does not know review {0}")]
    Unknown(String),
    /// The server refused the call.
    #[error("the review server refused ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// The file holding the API key cannot be read.
    #[error("cannot read the review API key file {path}: {why}")]
    KeyFile {
        /// The file.
        path: String,
        /// What went wrong.
        why: String,
    },
    /// The answer is not what the API says.
    #[error("the review server's answer is malformed: {0}")]
    Malformed(String),
}

impl ClientError {
    /// Whether trying again later may work (the server was unreachable, busy or failing).
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Unreachable(_) => true,
            ClientError::Refused { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// Checks a review server's base URL: https, or http to a loopback host only.
pub fn check_url(url: &str) -> Result<Url, ClientError> {
    let bad = |why: &str| ClientError::BadUrl { url: url.to_owned(), why: why.to_owned() };
    let parsed = Url::parse(url).map_err(|e| bad(&format!("not a URL: {e}")))?;
    match parsed.scheme() {
        "https" => {}
        "http" => {
            let host = parsed.host_str().unwrap_or("");
            let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>();
            let loopback = host.eq_ignore_ascii_case("localhost") || ip.is_ok_and(|ip| ip.is_loopback());
            if !loopback {
                return Err(bad("plain http is refused for any host but loopback (the task and code would cross the network unencrypted): use https://"));
            }
        }
        _ => return Err(bad("the scheme must be https:// (or http:// to loopback)")),
    }
    if parsed.host().is_none() || parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(bad("give the server's base URL, like https://review.example.com"));
    }
    Ok(parsed)
}

/// A client of one review server.
pub struct ReviewClient {
    base: String,
    api_key: String,
    http: reqwest::Client,
    token: Option<(String, u64)>,
}

impl ReviewClient {
    /// A client of the server at `url` with `api_key`; `ca_file` adds PEM certificates to the
    /// system's roots (a private CA).
    pub fn new(url: &str, api_key: &str, ca_file: Option<&Path>) -> Result<ReviewClient, ClientError> {
        let parsed = check_url(url)?;
        if api_key.trim().is_empty() {
            return Err(ClientError::BadUrl { url: url.to_owned(), why: "the API key is empty: put the key the server's operator gave you in review_api_key_file".into() });
        }
        let http = upstream_client(Duration::from_secs(10), Duration::from_secs(60), ca_file)
            .map_err(|e| ClientError::BadUrl { url: url.to_owned(), why: e.to_string() })?;
        let base = parsed.as_str().trim_end_matches('/').to_owned();
        Ok(ReviewClient { base, api_key: api_key.trim().to_owned(), http, token: None })
    }

    /// A client of the server at `url` with the API key kept in `key_file` (as
    /// `edgecoder-inference api-key` printed it).
    pub fn from_key_file(url: &str, key_file: &Path, ca_file: Option<&Path>) -> Result<ReviewClient, ClientError> {
        let key = std::fs::read_to_string(key_file)
            .map_err(|e| ClientError::KeyFile { path: key_file.display().to_string(), why: e.to_string() })?;
        ReviewClient::new(url, &key, ca_file)
    }

    /// The server's base URL (the audience of its tokens).
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response, ClientError> {
        let response = request
            .send()
            .await
            .map_err(|e| ClientError::Unreachable(crate::providers::error_chain(&e)))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let message = error_message(&response.text().await.unwrap_or_default());
        Err(ClientError::Refused { status: status.as_u16(), message })
    }

    async fn decode<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, ClientError> {
        let bytes = response.bytes().await.map_err(|e| ClientError::Unreachable(e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Malformed(e.to_string()))
    }

    async fn token(&mut self) -> Result<String, ClientError> {
        if let Some((token, expires_at)) = &self.token {
            // A minute of margin: a token about to expire is replaced before it is refused.
            if unix_time_s() + 60 < *expires_at {
                return Ok(token.clone());
            }
        }
        let request = self
            .http
            .post(format!("{}{BASE_PATH}/token", self.base))
            .header(API_KEY_HEADER, &self.api_key)
            .json(&TokenRequest { audience: self.base.clone() });
        let answer: TokenResponse = Self::decode(self.send(request).await?).await?;
        tracing::info!(expires_at = answer.expires_at, "review token obtained");
        self.token = Some((answer.token.clone(), answer.expires_at));
        Ok(answer.token)
    }

    async fn call<T: serde::de::DeserializeOwned>(
        &mut self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, ClientError> {
        for fresh_token in [false, true] {
            if fresh_token {
                self.token = None;
            }
            let token = self.token().await?;
            let mut request = self
                .http
                .request(method.clone(), format!("{}{BASE_PATH}{path}", self.base))
                .bearer_auth(token)
                .header(NONCE_HEADER, MessageId::random().to_string())
                .header(TIMESTAMP_HEADER, unix_time_s().to_string());
            if let Some(body) = &body {
                request = request.json(body);
            }
            match self.send(request).await {
                Ok(response) => return Self::decode(response).await,
                // The token expired or the server restarted (new secret): one more try with a
                // new token.
                Err(ClientError::Refused { status: 401, .. }) if !fresh_token => continue,
                Err(ClientError::Refused { status, message }) if status == StatusCode::NOT_FOUND.as_u16() => {
                    return Err(ClientError::Unknown(path.rsplit('/').find(|p| p.starts_with("rv_")).unwrap_or(&message).to_owned()));
                }
                Err(other) => return Err(other),
            }
        }
        unreachable!("the loop returns on its second pass")
    }

    /// Sends a review request.
    pub async fn submit(&mut self, request: &ReviewRequest) -> Result<ReviewStatus, ClientError> {
        let body = serde_json::to_value(request).map_err(|e| ClientError::Malformed(e.to_string()))?;
        self.call(Method::POST, "/requests", Some(body)).await
    }

    /// The state of review `id`.
    pub async fn status(&mut self, id: &str) -> Result<ReviewStatus, ClientError> {
        self.call(Method::GET, &format!("/requests/{id}"), None).await
    }

    /// The result of review `id`.
    pub async fn result(&mut self, id: &str) -> Result<ReviewResult, ClientError> {
        self.call(Method::GET, &format!("/requests/{id}/result"), None).await
    }

    /// Tells the server the device has review `id`'s result and what the user did with it.
    pub async fn acknowledge(&mut self, id: &str, decision: Option<Decision>) -> Result<ReviewStatus, ClientError> {
        let body = serde_json::to_value(Acknowledgement { decision }).map_err(|e| ClientError::Malformed(e.to_string()))?;
        self.call(Method::POST, &format!("/requests/{id}/ack"), Some(body)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_goes_to_loopback_only() {
        for good in ["https://review.example.com", "https://10.0.0.8:8443/", "http://127.0.0.1:8090", "http://localhost:1", "http://[::1]:9"] {
            assert!(check_url(good).is_ok(), "{good}");
        }
        for (bad, says) in [
            ("http://review.example.com", "plain http is refused"),
            ("http://10.0.0.8:8090", "plain http is refused"),
            ("http://127.0.0.1.nip.io", "plain http is refused"),
            ("ftp://review.example.com", "scheme"),
            ("review.example.com", "not a URL"),
            ("https://review.example.com/?next=x", "base URL"),
        ] {
            let err = check_url(bad).unwrap_err().to_string();
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert!(ReviewClient::new("https://review.example.com", " ", None).is_err());
    }
}
