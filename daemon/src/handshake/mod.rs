//! The handshake client's device side: what a task queued for cloud review would send, built
//! from the queue entry with only the minimum a reviewer needs (the task, the code, the error)
//! and passed through [`Redactor`] first, so the user can read the exact payload before anything
//! leaves the device (`edgecoder queue show ID`).

mod redact;

pub use redact::{Finding, PatternError, Redacted, Redactor};

use crate::agent::QueueEntry;
use edgecoder_executor::{Lang, ReasonCode};
use serde::Serialize;

/// A review request as it would leave the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewRequest {
    /// Format version (1).
    pub version: u32,
    /// The queue entry it comes from.
    pub queue_id: String,
    /// The code's language.
    pub lang: Lang,
    /// Why the task could not be done on the device.
    pub reason: ReasonCode,
    /// The task, redacted.
    pub task: String,
    /// The code the local model wrote, redacted.
    pub code: String,
    /// What stopped it on the device, redacted.
    pub error: String,
}

/// A request and what the redaction removed from each of its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Outgoing {
    /// The request, exactly as it would be sent.
    pub request: ReviewRequest,
    /// What was removed: the field, and the finding in it.
    pub removed: Vec<(&'static str, Finding)>,
}

/// The request for `entry`, redacted by `redactor`.
pub fn outgoing(entry: &QueueEntry, redactor: &Redactor) -> Outgoing {
    let mut removed = Vec::new();
    let mut clean = |field: &'static str, text: &str| {
        let redacted = redactor.redact(text);
        removed.extend(redacted.findings.into_iter().map(|f| (field, f)));
        redacted.text
    };
    let request = ReviewRequest {
        version: 1,
        queue_id: entry.id.clone(),
        lang: entry.entry.lang,
        reason: entry.entry.reason,
        task: clean("task", &entry.entry.task),
        code: clean("code", &entry.entry.code),
        error: clean("error", &entry.entry.message),
    };
    Outgoing { request, removed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::CloudQueue;
    use crate::agent::queue::NewEntry;

    #[test]
    fn the_payload_holds_the_task_code_and_error_with_secrets_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let queue = CloudQueue::at(dir.path());
        let entry = queue
            .push(NewEntry {
                task: "fetch the report for ops@example.com".into(),
                lang: Lang::Python,
                code: "import requests\nTOKEN = 'ghp_0123456789abcdefghijABCDEFGHIJ012345'\nrequests.get(URL)\n".into(),
                reason: ReasonCode::PyImportDenied,
                construct: "import requests".into(),
                line: 1,
                message: "uses `import requests` (PY_IMPORT_DENIED) at line 1".into(),
                model: "qwen2.5-coder-0.5b".into(),
                workspace: Some(dir.path().join("private-project")),
            })
            .unwrap();
        let out = outgoing(&entry, &Redactor::new(&[]).unwrap());
        assert_eq!(out.request.task, "fetch the report for [REDACTED:email]");
        assert_eq!(out.request.code, "import requests\nTOKEN = '[REDACTED:github_token]'\nrequests.get(URL)\n");
        assert_eq!(out.removed.iter().map(|(field, f)| (*field, f.kind)).collect::<Vec<_>>(), [("task", "email"), ("code", "github_token")]);
        let json = serde_json::to_string(&out.request).unwrap();
        assert!(!json.contains("private-project") && !json.contains("qwen"), "no workspace path, no model: {json}");
    }
}
