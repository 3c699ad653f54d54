//! A review's result, back on the device: the values redaction took out are put back, the
//! proposal is diffed against the file as it is *now*, and the user Accepts it (written
//! atomically with a backup, through the workspace's own apply), Edits it first, or Rejects it.
//! A file that changed since the task was queued is merged three-way; a merge that conflicts is
//! shown, never forced.

use super::{Redactor, outgoing};
use crate::agent::workspace::{Change, Workspace, WorkspaceError};
use crate::agent::{CloudQueue, QueueEntry, QueueError, Stage};
use edgecoder_protocol::review::Decision;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a decision could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// The queue failed.
    #[error(transparent)]
    Queue(#[from] QueueError),
    /// The entry has no result to decide on.
    #[error("entry {id} has no review result (it is {stage}): `edgecoder queue sync` fetches results")]
    NoResult {
        /// The entry.
        id: String,
        /// Its stage.
        stage: &'static str,
    },
    /// The entry was decided already.
    #[error("entry {id} was {decision} already")]
    Decided {
        /// The entry.
        id: String,
        /// The decision.
        decision: &'static str,
    },
    /// The workspace refused (outside it, changed meanwhile, I/O).
    #[error(transparent)]
    Workspace(#[from] WorkspaceError),
    /// The merge with the file's new content conflicts.
    #[error("{0}")]
    Conflict(String),
    /// Placeholders are left in the code.
    #[error("the proposal still holds {0} [REDACTED:…] placeholder(s) whose values could not be put back: edit them in (`edgecoder queue edit ID`)")]
    Placeholders(usize),
    /// Where to write is unknown or unusable.
    #[error("{0}")]
    Target(String),
}

/// A merge that conflicts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    /// The file.
    pub file: String,
    /// The merge with `<<<<<<<`/`>>>>>>>` markers where the two changes meet.
    pub merged: String,
}

/// A result as a change to the device's code now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proposal {
    /// The proposed code with the redacted values put back.
    pub code: String,
    /// Placeholders that could not be put back.
    pub unresolved: usize,
    /// The unified diff from the current file (or the queued code) to the proposal.
    pub diff: String,
    /// The change to the workspace file, when the entry has one and it merges.
    pub change: Option<Change>,
    /// The conflict, when the file changed since the task was queued and the proposal does not
    /// merge with that change.
    pub conflict: Option<Conflict>,
}

/// `proposed` with each line that still holds a `[REDACTED:…]` placeholder replaced by the
/// device's own line, where the line was sent as it is (`sent` is the redacted form of
/// `original`); returns the code and how many placeholder lines could not be put back.
pub fn restore(proposed: &str, sent: &str, original: &str) -> (String, usize) {
    let original_lines: Vec<&str> = original.split_inclusive('\n').collect();
    let sent_lines: Vec<&str> = sent.split_inclusive('\n').collect();
    let mut back = std::collections::HashMap::new();
    // In a changed run, each placeholder line stands for the original lines it can be: same text
    // before its first placeholder and after its last, and the next sent line starting right
    // after them (a multi-line private key became one placeholder line).
    let mut pair = |old_index: usize, old_len: usize, new_index: usize, new_len: usize| {
        let (old_end, new_end) = (old_index + old_len, new_index + new_len);
        let starts = |n: usize, o: usize| -> bool {
            if n == new_end {
                return o == old_end;
            }
            let (sent, original) = (sent_lines[n].trim_end(), original_lines.get(o).map_or("", |l| l.trim_end()));
            o < old_end && (original == sent || affixes(sent).is_some_and(|(before, _)| original.starts_with(before)))
        };
        let mut o = old_index;
        for n in new_index..new_end {
            let line = sent_lines[n].trim_end();
            let Some((before, after)) = affixes(line) else {
                if o < old_end && original_lines[o].trim_end() == line {
                    o += 1;
                }
                continue;
            };
            for k in 1..=old_end.saturating_sub(o) {
                let chunk = original_lines[o..o + k].concat();
                let chunk = chunk.trim_end();
                if chunk.len() >= before.len() + after.len() && chunk.starts_with(before) && chunk.ends_with(after) && starts(n + 1, o + k) {
                    back.insert(line, chunk.to_owned());
                    o += k;
                    break;
                }
            }
        }
    };
    // A changed run of lines is a replacement, or a deletion followed by an insertion.
    let mut deleted: Option<(usize, usize)> = None;
    for op in similar::capture_diff_slices(similar::Algorithm::Myers, &original_lines, &sent_lines) {
        match op {
            similar::DiffOp::Replace { old_index, old_len, new_index, new_len } => pair(old_index, old_len, new_index, new_len),
            similar::DiffOp::Delete { old_index, old_len, .. } => {
                deleted = Some((old_index, old_len));
                continue;
            }
            similar::DiffOp::Insert { new_index, new_len, .. } => {
                if let Some((old_index, old_len)) = deleted {
                    pair(old_index, old_len, new_index, new_len);
                }
            }
            similar::DiffOp::Equal { .. } => {}
        }
        deleted = None;
    }
    let mut unresolved = 0;
    let mut code = String::with_capacity(proposed.len());
    for line in proposed.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\n', '\r']);
        if !bare.contains("[REDACTED:") {
            code.push_str(line);
            continue;
        }
        match back.get(bare.trim_end()) {
            Some(original) => {
                code.push_str(original);
                code.push_str(&line[bare.len()..]);
            }
            None => {
                unresolved += 1;
                code.push_str(line);
            }
        }
    }
    (code, unresolved)
}

/// The text of `line` before its first `[REDACTED:…]` placeholder and after its last one.
fn affixes(line: &str) -> Option<(&str, &str)> {
    let first = line.find("[REDACTED:")?;
    let last = line.rfind("[REDACTED:")?;
    let end = last + line[last..].find(']')? + 1;
    Some((&line[..first], &line[end..]))
}

/// The proposal of `entry`'s result (or `edited`, the user's edit of it) against the device's
/// code now.
pub fn proposal(entry: &QueueEntry, redactor: &Redactor, edited: Option<&str>) -> Result<Proposal, DecideError> {
    let Some(result) = &entry.review.result else {
        return Err(DecideError::NoResult { id: entry.id.clone(), stage: entry.review.stage.as_str() });
    };
    let sent = outgoing(entry, redactor).request.code;
    let (code, unresolved) = restore(edited.unwrap_or(&result.code), &sent, &entry.entry.code);
    let (Some(root), Some(file)) = (&entry.entry.workspace, &entry.entry.file) else {
        let diff = crate::patch::diff(&entry.entry.code, &code, "a/queued", "b/proposed");
        return Ok(Proposal { code, unresolved, diff, change: None, conflict: None });
    };
    let workspace = Workspace::open(root)?;
    let now = workspace.read(file)?;
    let base = entry.entry.before.clone();
    let after = if now == base {
        code.clone()
    } else {
        // The file changed since the task was queued: the proposal's change merged into it.
        match diffy::merge(base.as_deref().unwrap_or(""), now.as_deref().unwrap_or(""), &code) {
            Ok(merged) => merged,
            Err(conflicted) => {
                let shown = crate::patch::diff(now.as_deref().unwrap_or(""), &conflicted, &format!("a/{file}"), &format!("b/{file}"));
                return Ok(Proposal { code, unresolved, diff: shown, change: None, conflict: Some(Conflict { file: file.clone(), merged: conflicted }) });
            }
        }
    };
    let change = Change { path: file.clone(), before: now, after };
    Ok(Proposal { code, unresolved, diff: change.diff(), change: Some(change), conflict: None })
}

/// What Accept or Edit wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Written {
    /// The file written.
    pub file: PathBuf,
    /// Where its previous content was saved, when it had one.
    pub backup: Option<PathBuf>,
}

fn undecided(entry: &QueueEntry) -> Result<(), DecideError> {
    match entry.review.decision {
        Some(decision) => Err(DecideError::Decided { id: entry.id.clone(), decision: decision.as_str() }),
        None => Ok(()),
    }
}

/// Writes `code` to `path` outside any workspace: atomically, the old content saved beside it.
fn write_file(path: &Path, code: &str) -> Result<Written, DecideError> {
    let target = |why: String| DecideError::Target(format!("{}: {why}", path.display()));
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let backup = if path.exists() {
        let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let mut name = path.file_name().unwrap_or_default().to_owned();
        name.push(format!(".edgecoder-backup-{stamp}"));
        let backup = parent.join(name);
        std::fs::copy(path, &backup).map_err(|e| target(format!("cannot save a backup: {e}")))?;
        Some(backup)
    } else {
        None
    };
    let mut tmp = tempfile::NamedTempFile::new_in(parent).map_err(|e| target(format!("cannot write beside it: {e}")))?;
    tmp.write_all(code.as_bytes()).and_then(|()| tmp.as_file().sync_all()).map_err(|e| target(e.to_string()))?;
    tmp.persist(path).map_err(|e| target(e.error.to_string()))?;
    Ok(Written { file: path.to_owned(), backup })
}

/// Applies entry `id`'s result (or the user's `edited` version of it): into its workspace file,
/// or to `to` for an entry without one; records the decision.
pub fn accept(queue: &CloudQueue, id: &str, redactor: &Redactor, to: Option<&Path>, edited: Option<&str>) -> Result<Written, DecideError> {
    let entry = queue.get(id)?;
    undecided(&entry)?;
    let proposal = proposal(&entry, redactor, edited)?;
    if proposal.unresolved > 0 {
        return Err(DecideError::Placeholders(proposal.unresolved));
    }
    if let Some(conflict) = &proposal.conflict {
        return Err(DecideError::Conflict(format!(
            "{} changed since the task was queued and the proposal does not merge with that change: nothing was written; `edgecoder queue result {id}` shows the conflict, `edgecoder queue edit {id}` lets you resolve it",
            conflict.file
        )));
    }
    let written = match (&proposal.change, to, &entry.entry.workspace) {
        (Some(change), None, Some(root)) => {
            let workspace = Workspace::open(root)?;
            let applied = workspace.apply(change)?;
            Written { file: root.join(&applied.file), backup: applied.backup.map(|b| root.join(b)) }
        }
        (_, Some(path), _) => write_file(path, &proposal.code)?,
        (_, None, _) => {
            return Err(DecideError::Target(format!(
                "entry {id} is not tied to a workspace file: name where to write it with --to FILE (or read it with `edgecoder queue result {id}`)"
            )));
        }
    };
    let decision = if edited.is_some() { Decision::Edited } else { Decision::Accepted };
    decide(queue, id, decision)?;
    tracing::info!(entry = %id, decision = decision.as_str(), file = %written.file.display(), "review result applied");
    Ok(written)
}

/// Records the user's decision; the next sync tells the server.
pub fn decide(queue: &CloudQueue, id: &str, decision: Decision) -> Result<QueueEntry, DecideError> {
    let entry = queue.get(id)?;
    undecided(&entry)?;
    if entry.review.result.is_none() {
        return Err(DecideError::NoResult { id: id.to_owned(), stage: entry.review.stage.as_str() });
    }
    Ok(queue.update(id, |e| {
        e.review.stage = Stage::Decided;
        e.review.decision = Some(decision);
        e.review.acknowledged = false;
        e.review.next_attempt = 0;
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_lines_are_put_back_where_they_were_sent_unchanged() {
        let original = "import os\nKEY = 'sk-live-1234567890abcdef'\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\nprint(1)\n";
        let sent = "import os\nKEY = '[REDACTED:api_key]'\n[REDACTED:private_key]\nprint(1)\n";
        let proposed = "KEY = '[REDACTED:api_key]'\n[REDACTED:private_key]\nprint(2)\nOTHER = '[REDACTED:api_key]' + x\n";
        let (code, unresolved) = restore(proposed, sent, original);
        assert_eq!(code, "KEY = 'sk-live-1234567890abcdef'\n-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\nprint(2)\nOTHER = '[REDACTED:api_key]' + x\n");
        assert_eq!(unresolved, 1, "a placeholder on a new line cannot be put back");
        assert_eq!(restore("a\n", "a\n", "a\n"), ("a\n".to_owned(), 0));
    }
}
