//! Reading an upstream's streamed answer line by line (SSE `data:` lines or NDJSON).

use futures_util::StreamExt;
use futures_util::stream::BoxStream;

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

/// Sends an upstream request: a connection failure is [`super::ProviderError::Unavailable`], an
/// error status is [`super::ProviderError::Upstream`] with the upstream's own message.
pub async fn send(
    provider: &'static str,
    url: &str,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, super::ProviderError> {
    let response = request.send().await.map_err(|e| super::ProviderError::Unavailable {
        provider,
        reason: format!("cannot reach {url}: {}", error_chain(&e)),
    })?;
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.text().await.unwrap_or_default();
    Err(super::ProviderError::Upstream { provider, status: status.as_u16(), message: error_message(&body) })
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
