//! The handshake client's device side. What a task queued for cloud review sends is built from
//! the queue entry with only the minimum a reviewer needs (the task, the code, the error, the
//! file's name) and passed through [`Redactor`] first, so the user can read the exact payload
//! before anything leaves the device (`edgecoder queue show ID`). Nothing is sent before the user
//! lets an entry go (`edgecoder queue send`); [`sync`] then sends it with backoff while the
//! server is out of reach, follows it and stores the result in the entry, and [`decide`] turns
//! the result into a change the user Accepts, Rejects or Edits.

mod client;
mod decide;
mod redact;
mod sync;

pub use client::{ClientError, ReviewClient, check_url};
pub use decide::{Conflict, DecideError, Proposal, Written, accept, decide, proposal, restore};
pub use redact::{Finding, PatternError, Redacted, Redactor};
pub use sync::{Synced, backoff_s, sync};

use crate::agent::QueueEntry;
use edgecoder_protocol::review::{ContextFile, REQUEST_VERSION, ReviewRequest};
use serde::Serialize;

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
        version: REQUEST_VERSION,
        queue_id: entry.id.clone(),
        why: entry.entry.why,
        reason: entry.entry.reason,
        lang: entry.entry.lang,
        file: entry.entry.file.as_ref().map(|f| clean("file", f)),
        task: clean("task", &entry.entry.task),
        code: clean("code", &entry.entry.code),
        error: clean("error", &entry.entry.message),
        context: entry.context.iter().map(|c| ContextFile { name: clean("context", &c.name), text: clean("context", &c.text) }).collect(),
    };
    Outgoing { request, removed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::{CloudQueue, NewEntry};
    use edgecoder_executor::{Lang, ReasonCode};
    use edgecoder_protocol::review::ReviewReason;

    #[test]
    fn the_payload_holds_the_task_code_and_error_with_secrets_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let queue = CloudQueue::at(dir.path());
        let entry = queue
            .push(NewEntry {
                task: "fetch the report for ops@example.com".into(),
                lang: Lang::Python,
                code: "import requests\nTOKEN = 'ghp_0123456789abcdefghijABCDEFGHIJ012345'\nrequests.get(URL)\n".into(),
                why: ReviewReason::OutsideSubset,
                reason: Some(ReasonCode::PyImportDenied),
                construct: "import requests".into(),
                line: 1,
                message: "uses `import requests` (PY_IMPORT_DENIED) at line 1".into(),
                model: "qwen2.5-coder-0.5b".into(),
                workspace: Some(dir.path().join("private-project")),
                file: Some("report.py".into()),
                before: Some("SECRET_BASE = 1\n".into()),
            })
            .unwrap();
        let out = outgoing(&entry, &Redactor::new(&[]).unwrap());
        assert_eq!(out.request.task, "fetch the report for [REDACTED:email]");
        assert_eq!(out.request.code, "import requests\nTOKEN = '[REDACTED:github_token]'\nrequests.get(URL)\n");
        assert_eq!(out.removed.iter().map(|(field, f)| (*field, f.kind)).collect::<Vec<_>>(), [("task", "email"), ("code", "github_token")]);
        let json = serde_json::to_string(&out.request).unwrap();
        assert!(!json.contains("private-project") && !json.contains("qwen"), "no workspace path, no model: {json}");
        assert!(!json.contains("SECRET_BASE"), "the file's content before the task stays on the device: {json}");
        assert_eq!(out.request.file.as_deref(), Some("report.py"));
        assert!(out.request.context.is_empty() && !json.contains("\"context\""), "only the minimum unless the user adds more: {json}");

        // More context only when the user includes it, redacted like the rest.
        let with = queue
            .update(&entry.id, |e| {
                e.context = vec![ContextFile { name: "test_report.py".into(), text: "KEY = 'ghp_0123456789abcdefghijABCDEFGHIJ012345'\nassert report()\n".into() }]
            })
            .unwrap();
        let out = outgoing(&with, &Redactor::new(&[]).unwrap());
        assert_eq!(out.request.context.len(), 1);
        assert_eq!(out.request.context[0].name, "test_report.py");
        assert!(out.request.context[0].text.contains("[REDACTED:") && !out.request.context[0].text.contains("ghp_"), "{:?}", out.request.context);
        assert!(out.removed.iter().any(|(field, _)| *field == "context"));
    }
}
