//! The reference review server of the handshake API (`edgecoder_protocol::review`): devices
//! trade an API key for a delegation token, send the redacted minimum of a task they could not
//! do, follow it (poll or SSE), fetch a unified diff with an explanation and acknowledge it. The
//! larger model does the work one review at a time ([`work::review`]); its code runs in the
//! executor before it is returned. Reviews live in memory: a device that asks about one the
//! server no longer knows (404, e.g. after a restart) sends it again.

pub mod api;
pub mod auth;
pub mod work;

use crate::backend::Backend;
use auth::{ApiKeys, NonceGuard, TokenIssuer};
use edgecoder_protocol::review::{self, ReviewRequest, ReviewResult, ReviewState, ReviewStatus};
use edgecoder_protocol::run::Limits;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, watch};
use tracing::Instrument;

/// How the review server works.
#[derive(Debug, Clone)]
pub struct ReviewConfig {
    /// The server's public base URL: the audience its tokens are bound to.
    pub audience: String,
    /// Seconds a delegation token lives.
    pub token_lifetime_s: u64,
    /// Seconds a request's timestamp may be away from the clock.
    pub window_s: u64,
    /// Reviews held at once (waiting, running or unacknowledged).
    pub max_reviews: usize,
    /// Answers tried per review.
    pub attempts: u32,
    /// Most tokens of one answer.
    pub max_tokens: usize,
    /// Executor limits for running proposed code.
    pub limits: Limits,
}

impl ReviewConfig {
    /// The defaults for a server at `audience`: 15-minute tokens, a 5-minute window, 1,000
    /// reviews, 3 answers of at most 1,024 tokens.
    pub fn new(audience: &str) -> ReviewConfig {
        ReviewConfig {
            audience: audience.to_owned(),
            token_lifetime_s: 900,
            window_s: 300,
            max_reviews: 1_000,
            attempts: 3,
            max_tokens: 1_024,
            limits: Limits::default(),
        }
    }
}

struct Review {
    subject: String,
    request: ReviewRequest,
    state: ReviewState,
    message: Option<String>,
    result: Option<ReviewResult>,
}

impl Review {
    fn status(&self, id: &str) -> ReviewStatus {
        ReviewStatus { id: id.to_owned(), queue_id: self.request.queue_id.clone(), state: self.state, message: self.message.clone() }
    }
}

#[derive(Default)]
struct Reviews {
    by_id: HashMap<String, Review>,
    by_entry: HashMap<(String, String), String>,
}

/// Why a review call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReviewRefusal {
    /// The request is unusable.
    #[error("{0}")]
    BadRequest(String),
    /// No review with this id for this caller.
    #[error("no review {0:?} here (acknowledged, or the server restarted): send the request again")]
    NotFound(String),
    /// The review has no result (yet, or it failed).
    #[error("review {0} has no result: it is {1:?}")]
    NoResult(String, ReviewState),
    /// The server holds as many reviews as it may.
    #[error("the review server holds {0} reviews, its limit: try again later")]
    Full(usize),
}

/// The review server's state: keys, tokens, nonces and the reviews.
pub struct ReviewService {
    backend: Arc<dyn Backend>,
    config: ReviewConfig,
    keys: ApiKeys,
    issuer: TokenIssuer,
    nonces: NonceGuard,
    reviews: Mutex<Reviews>,
    changes: watch::Sender<u64>,
    work: mpsc::UnboundedSender<String>,
}

fn new_id() -> String {
    format!("rv_{}", edgecoder_protocol::MessageId::random())
}

fn check_request(request: &ReviewRequest) -> Result<(), ReviewRefusal> {
    let bad = |m: &str| Err(ReviewRefusal::BadRequest(m.to_owned()));
    if request.version != review::REQUEST_VERSION {
        return Err(ReviewRefusal::BadRequest(format!("request version {} is not supported (this server speaks 1)", request.version)));
    }
    let id_ok = |id: &str| !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !id_ok(&request.queue_id) {
        return bad("queue_id must be 1 to 64 characters of [A-Za-z0-9_-]");
    }
    if request.task.trim().is_empty() {
        return bad("the task is empty: say what the code should do");
    }
    if request.task.len() > 16 << 10 || request.error.len() > 16 << 10 || request.code.len() > 64 << 10 {
        return bad("too large: the task and error may be 16 KiB each and the code 64 KiB (send the snippet, not the file)");
    }
    let relative = |file: &str| {
        let escapes = file.split(['/', '\\']).any(|part| part == "..") || file.starts_with('/') || file.contains(':');
        !file.is_empty() && file.len() <= 256 && !escapes
    };
    if request.file.as_deref().is_some_and(|file| !relative(file)) {
        return bad("file must be a relative path inside the workspace, at most 256 characters");
    }
    if !review::context_fits(&request.context) {
        return Err(ReviewRefusal::BadRequest(format!(
            "too much context: at most {} files and {} KiB in all",
            review::MAX_CONTEXT_FILES,
            review::MAX_CONTEXT_BYTES >> 10
        )));
    }
    if request.context.iter().any(|c| !relative(&c.name)) {
        return bad("each context file's name must be a relative path inside the workspace, at most 256 characters");
    }
    Ok(())
}

impl ReviewService {
    /// The service over `backend`, accepting `keys`; starts its worker (call inside a Tokio
    /// runtime).
    pub fn start(backend: Arc<dyn Backend>, keys: ApiKeys, config: ReviewConfig) -> Arc<ReviewService> {
        let (work, queue) = mpsc::unbounded_channel();
        let service = Arc::new(ReviewService {
            backend,
            issuer: TokenIssuer::new(&config.audience, config.token_lifetime_s),
            nonces: NonceGuard::new(config.window_s, 100_000),
            config,
            keys,
            reviews: Mutex::new(Reviews::default()),
            changes: watch::channel(0).0,
            work,
        });
        tokio::spawn(worker(Arc::downgrade(&service), queue));
        service
    }

    /// The token issuer.
    pub fn issuer(&self) -> &TokenIssuer {
        &self.issuer
    }

    /// The accepted API keys.
    pub fn keys(&self) -> &ApiKeys {
        &self.keys
    }

    /// The replay guard.
    pub fn nonces(&self) -> &NonceGuard {
        &self.nonces
    }

    fn reviews(&self) -> std::sync::MutexGuard<'_, Reviews> {
        self.reviews.lock().expect("the review map is never poisoned")
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n += 1);
    }

    /// Takes `request` from `subject`; the same queue entry sent again is the same review.
    pub fn submit(&self, subject: &str, request: ReviewRequest) -> Result<ReviewStatus, ReviewRefusal> {
        check_request(&request)?;
        let mut reviews = self.reviews();
        let key = (subject.to_owned(), request.queue_id.clone());
        if let Some(id) = reviews.by_entry.get(&key).cloned() {
            let review = reviews.by_id.get_mut(&id).expect("the two maps agree");
            if review.state == ReviewState::Failed {
                // Sent again after a failure: the user wants another try.
                review.state = ReviewState::Queued;
                review.message = None;
                let status = review.status(&id);
                drop(reviews);
                self.work.send(id).expect("the worker runs as long as the service");
                self.changed();
                return Ok(status);
            }
            return Ok(review.status(&id));
        }
        if reviews.by_id.len() >= self.config.max_reviews {
            return Err(ReviewRefusal::Full(self.config.max_reviews));
        }
        let id = new_id();
        tracing::info!(review = %id, queue_id = %request.queue_id, why = request.why.as_str(), "review requested");
        let review = Review { subject: subject.to_owned(), request, state: ReviewState::Queued, message: None, result: None };
        let status = review.status(&id);
        reviews.by_entry.insert(key, id.clone());
        reviews.by_id.insert(id.clone(), review);
        drop(reviews);
        self.work.send(id).expect("the worker runs as long as the service");
        self.changed();
        Ok(status)
    }

    /// The state of review `id` of `subject`.
    pub fn status(&self, subject: &str, id: &str) -> Result<ReviewStatus, ReviewRefusal> {
        let reviews = self.reviews();
        match reviews.by_id.get(id) {
            Some(review) if review.subject == subject => Ok(review.status(id)),
            _ => Err(ReviewRefusal::NotFound(id.to_owned())),
        }
    }

    /// The result of review `id` of `subject`.
    pub fn result(&self, subject: &str, id: &str) -> Result<ReviewResult, ReviewRefusal> {
        let reviews = self.reviews();
        match reviews.by_id.get(id) {
            Some(review) if review.subject == subject => {
                review.result.clone().ok_or(ReviewRefusal::NoResult(id.to_owned(), review.state))
            }
            _ => Err(ReviewRefusal::NotFound(id.to_owned())),
        }
    }

    /// Forgets review `id` of `subject` (its result is with the device).
    pub fn acknowledge(&self, subject: &str, id: &str, decision: Option<&str>) -> Result<ReviewStatus, ReviewRefusal> {
        let mut reviews = self.reviews();
        match reviews.by_id.get(id) {
            Some(review) if review.subject == subject => {}
            _ => return Err(ReviewRefusal::NotFound(id.to_owned())),
        }
        let review = reviews.by_id.remove(id).expect("checked above");
        reviews.by_entry.remove(&(review.subject.clone(), review.request.queue_id.clone()));
        drop(reviews);
        tracing::info!(review = %id, decision = decision.unwrap_or("none"), "review acknowledged");
        self.changed();
        let mut status = review.status(id);
        status.state = ReviewState::Acknowledged;
        Ok(status)
    }

    /// A receiver that sees every change of any review.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn set(&self, id: &str, state: ReviewState, message: Option<String>, result: Option<ReviewResult>) {
        if let Some(review) = self.reviews().by_id.get_mut(id) {
            review.state = state;
            review.message = message;
            review.result = result;
        }
        self.changed();
    }

    async fn run(&self, id: &str) {
        let Some(request) = self.reviews().by_id.get(id).map(|r| r.request.clone()) else {
            return;
        };
        self.set(id, ReviewState::Running, Some("the model is working on it".into()), None);
        let config = &self.config;
        match work::review(&*self.backend, &request, config.attempts, config.max_tokens, &config.limits).await {
            Ok(proposal) => {
                let result = ReviewResult {
                    id: id.to_owned(),
                    queue_id: request.queue_id.clone(),
                    diff: work::unified_diff(request.file.as_deref(), &request.code, &proposal.code),
                    code: proposal.code,
                    explanation: proposal.explanation,
                    verification: proposal.verification,
                };
                tracing::info!(review = %id, "review done");
                self.set(id, ReviewState::Done, None, Some(result));
            }
            Err(error) => {
                tracing::warn!(review = %id, %error, "review failed");
                self.set(id, ReviewState::Failed, Some(error.to_string()), None);
            }
        }
    }
}

/// Does the reviews one at a time, in the order they came, while the service lives.
async fn worker(service: std::sync::Weak<ReviewService>, mut queue: mpsc::UnboundedReceiver<String>) {
    while let Some(id) = queue.recv().await {
        let Some(service) = service.upgrade() else {
            return;
        };
        let span = tracing::info_span!("review", review = %id);
        service.run(&id).instrument(span).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgecoder_protocol::review::ReviewReason;
    use edgecoder_protocol::run::Lang;

    fn request(queue_id: &str) -> ReviewRequest {
        ReviewRequest {
            version: 1,
            queue_id: queue_id.into(),
            why: ReviewReason::UserRequest,
            reason: None,
            lang: Lang::Python,
            file: Some("src/calc.py".into()),
            task: "add two numbers".into(),
            code: "def add(a, b):\n    return a - b\n".into(),
            error: "add(1, 2) gave -1".into(),
            context: Vec::new(),
        }
    }

    fn context(name: &str, text: &str) -> edgecoder_protocol::review::ContextFile {
        edgecoder_protocol::review::ContextFile { name: name.into(), text: text.into() }
    }

    #[test]
    fn bad_requests_are_named() {
        assert!(check_request(&request("q1-a-0")).is_ok());
        let cases = [
            (ReviewRequest { version: 2, ..request("q") }, "version 2"),
            (request("../q"), "queue_id"),
            (request(""), "queue_id"),
            (ReviewRequest { task: " ".into(), ..request("q") }, "task is empty"),
            (ReviewRequest { code: "x".repeat(70_000), ..request("q") }, "too large"),
            (ReviewRequest { file: Some("../etc/passwd".into()), ..request("q") }, "relative path"),
            (ReviewRequest { file: Some("/etc/passwd".into()), ..request("q") }, "relative path"),
            (ReviewRequest { file: Some("C:\\x.py".into()), ..request("q") }, "relative path"),
            (ReviewRequest { context: vec![context("../secrets.py", "x")], ..request("q") }, "each context file"),
            (ReviewRequest { context: vec![context("a.py", &"x".repeat(130 << 10))], ..request("q") }, "too much context"),
            (ReviewRequest { context: (0..9).map(|i| context(&format!("f{i}.py"), "x")).collect(), ..request("q") }, "too much context"),
        ];
        for (bad, says) in cases {
            let err = check_request(&bad).unwrap_err().to_string();
            assert!(err.contains(says), "{says}: {err}");
        }
    }
}
