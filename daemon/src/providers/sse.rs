//! The upstreams' HTTP plumbing: the client (https with rustls, plus an optional CA file),
//! sending with errors that name the fix, and reading a streamed answer line by line (SSE
//! `data:` lines or NDJSON).

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use tokio::sync::mpsc;

use super::{Completion, ProviderError, StreamEvent};

/// Splits a streamed HTTP body into text lines.
pub struct Lines {
    body: BoxStream<'static, reqwest::Result<axum::body::Bytes>>,
    buffer: Vec<u8>,
    ended: bool,
}

impl Lines {
    /// Lines of `response`'s body.
    pub fn new(response: reqwest::Response) -> Lines {
        Lines { body: response.bytes_stream().boxed(), buffer: Vec::new(), ended: false }
    }

    /// The next line without its line break; `None` at the end of the body.
    pub async fn next(&mut self) -> reqwest::Result<Option<String>> {
        loop {
            if let Some(end) = self.buffer.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
            }
            if self.ended {
                if self.buffer.is_empty() {
                    return Ok(None);
                }
                let rest = std::mem::take(&mut self.buffer);
                return Ok(Some(String::from_utf8_lossy(&rest).into_owned()));
            }
            match self.body.next().await {
                Some(chunk) => self.buffer.extend_from_slice(&chunk?),
                None => self.ended = true,
            }
        }
    }
}

/// An HTTP client for an upstream: connects within `connect_timeout`, gives up on an upstream
/// that sends nothing (no headers, no next chunk) for `idle_timeout`, so a stalled upstream ends
/// in an error instead of a hang, and speaks https with rustls (the system's roots, plus the PEM
/// certificates of `ca_file` when given, e.g. a private CA or a self-signed upstream).
pub fn client(
    connect_timeout: std::time::Duration,
    idle_timeout: std::time::Duration,
    ca_file: Option<&std::path::Path>,
) -> Result<reqwest::Client, ProviderError> {
    let mut builder = reqwest::Client::builder().connect_timeout(connect_timeout).read_timeout(idle_timeout);
    if let Some(path) = ca_file {
        let bad = |why: String| ProviderError::BadRequest(format!("upstream_ca_file {}: {why}", path.display()));
        let pem = std::fs::read(path).map_err(|e| bad(format!("{e} — check the path in the daemon's config")))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(format!("not PEM certificates: {e}")))?;
        if certs.is_empty() {
            return Err(bad("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into()));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| ProviderError::Internal(format!("cannot build the HTTP client: {}", error_chain(&e))))
}

/// An upstream server: its HTTP client, base URL, the API's path prefix (`v1`, `api`) and the
/// bearer key sent with every request, if any.
pub(super) struct Upstream {
    client: reqwest::Client,
    /// The base URL, for messages.
    pub base: String,
    prefix: &'static str,
    api_key: Option<String>,
}

impl Upstream {
    /// The upstream at `base` whose API lives under `/{prefix}/`.
    pub fn new(client: reqwest::Client, base: String, prefix: &'static str, api_key: Option<String>) -> Self {
        Upstream { client, base, prefix, api_key }
    }

    /// A request to the API's `path`, with the key; and its URL (for messages).
    pub fn request(&self, method: reqwest::Method, path: &str) -> (String, reqwest::RequestBuilder) {
        let url = format!("{}/{}/{path}", self.base, self.prefix);
        let mut builder = self.client.request(method, &url);
        if let Some(key) = &self.api_key {
            builder = builder.bearer_auth(key);
        }
        (url, builder)
    }
}

/// Sends an upstream request: a connection failure is [`ProviderError::Unavailable`], an
/// error status is [`ProviderError::Upstream`] with the upstream's own message.
pub async fn send(
    provider: &'static str,
    url: &str,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, ProviderError> {
    let response = request.send().await.map_err(|e| {
        let chain = error_chain(&e);
        let hint = if e.is_timeout() {
            " — the upstream sent nothing within upstream_idle_timeout_secs; check that it is not stuck or overloaded"
        } else if chain.contains("certificate") {
            " — if the upstream's certificate comes from a private CA or is self-signed, name its CA's PEM file as upstream_ca_file in the daemon's config"
        } else {
            ""
        };
        ProviderError::Unavailable { provider, reason: format!("cannot reach {url}: {chain}{hint}") }
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    Err(ProviderError::Upstream { provider, status: status.as_u16(), message: error_message(&body) })
}

/// The message of an error body in OpenAI's (`{"error": {"message"}}`) or Ollama's
/// (`{"error": "..."}`) shape, else the body itself.
pub fn error_message(body: &str) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let message = parsed.as_ref().and_then(|v| {
        let e = v.get("error")?;
        e.as_str().or_else(|| e.get("message")?.as_str()).map(str::to_owned)
    });
    message.unwrap_or_else(|| body.chars().take(500).collect())
}

/// An error and its sources, joined with `: `.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// What one line of an upstream's streamed answer carried.
#[derive(Debug, Default)]
pub(super) struct Step {
    /// Text to pass on.
    pub text: Option<String>,
    /// The end of the answer.
    pub done: Option<Completion>,
}

/// One upstream protocol's reading of its streamed lines (OpenAI's SSE chunks, Ollama's NDJSON).
pub(super) trait Protocol: Send + 'static {
    /// The provider's name, for errors.
    fn provider(&self) -> &'static str;
    /// Reads one line.
    fn read(&mut self, line: &str) -> Result<Step, ProviderError>;
    /// What marks the end of a whole answer (a body that ends without it was cut off).
    fn end_marker(&self) -> &'static str;
}

/// Reads `lines` with `protocol` and forwards the text, then the end or the error, to `events`
/// (until the client goes away).
pub(super) async fn relay(
    mut lines: Lines,
    events: mpsc::UnboundedSender<Result<StreamEvent, ProviderError>>,
    mut protocol: impl Protocol,
    url: String,
) {
    let provider = protocol.provider();
    loop {
        let step = match lines.next().await {
            Ok(Some(line)) => protocol.read(&line),
            Ok(None) => Err(ProviderError::Unavailable { provider, reason: format!("{url} ended its answer without {}", protocol.end_marker()) }),
            Err(e) if e.is_timeout() => Err(ProviderError::Unavailable {
                provider,
                reason: format!("{url} stalled: nothing arrived within upstream_idle_timeout_secs ({})", error_chain(&e)),
            }),
            Err(e) => Err(ProviderError::Unavailable { provider, reason: format!("{url} broke off its answer: {}", error_chain(&e)) }),
        };
        let step = match step {
            Ok(step) => step,
            Err(error) => {
                let _ = events.send(Err(error));
                return;
            }
        };
        if let Some(text) = step.text.filter(|t| !t.is_empty())
            && events.send(Ok(StreamEvent::Text(text))).is_err()
        {
            return;
        }
        if let Some(done) = step.done {
            let _ = events.send(Ok(StreamEvent::Done(done)));
            return;
        }
    }
}
