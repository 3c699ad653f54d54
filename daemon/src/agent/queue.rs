//! The cloud-review queue on disk: tasks the device could not do (code outside the on-device
//! subset, the local model gave up, or the user asked) wait here with their reason, held on the
//! device until the user lets them go (`edgecoder queue send`), then sent by the handshake client
//! (`crate::handshake`), which records the review's progress and result in the same entry. One
//! JSON file per entry, written atomically (temporary file, fsync, rename, fsync of the
//! directory), so a crash leaves either the whole entry or none; unreadable files are reported,
//! never deleted. Changes to an entry hold the queue's lock file, so the daemon following reviews
//! and a user's `edgecoder queue` command never undo each other's change.

use edgecoder_executor::{Lang, ReasonCode};
use edgecoder_protocol::review::{ContextFile, Decision, ReviewReason, ReviewResult};
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Errors of the queue.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// No place for the queue: neither `EDGECODER_QUEUE`, `XDG_STATE_HOME` nor `HOME` is set.
    #[error("cannot place the cloud-review queue: set EDGECODER_QUEUE (or HOME)")]
    NoRoot,
    /// A file operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// On which path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The entry could not be encoded.
    #[error("cannot encode the queue entry: {0}")]
    Encode(#[from] serde_json::Error),
    /// No entry has this id.
    #[error("no queue entry {0:?}: `edgecoder queue` lists the ids")]
    NotFound(String),
    /// The id is not one the queue makes.
    #[error("{0:?} is not a queue id (ids look like q1764038400123-1a2b-0)")]
    BadId(String),
}

/// What is queued: the task, the code and why it cannot be done on the device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEntry {
    /// The task text.
    pub task: String,
    /// The language.
    pub lang: Lang,
    /// The code the device has (refused, failing, or the file the user wants reviewed).
    pub code: String,
    /// Why it was queued.
    #[serde(default)]
    pub why: ReviewReason,
    /// The executor's reason code, when the code is outside the subset.
    pub reason: Option<ReasonCode>,
    /// The construct, as written.
    pub construct: String,
    /// Its line in the code.
    pub line: u32,
    /// The message shown to the user.
    pub message: String,
    /// The model that wrote the code.
    pub model: String,
    /// The workspace, in workspace mode.
    pub workspace: Option<PathBuf>,
    /// The file the task edits, relative to the workspace.
    #[serde(default)]
    pub file: Option<String>,
    /// That file's content when the task was queued (`None`: a new file); stays on the device,
    /// the base a result is applied against.
    #[serde(default)]
    pub before: Option<String>,
}

/// Where an entry's review is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// On the device only: nothing is sent until the user says so.
    #[default]
    Held,
    /// The user let it go: sent at the next chance (with backoff after failures).
    Waiting,
    /// The server has it (`server_id`).
    Sent,
    /// A result is here, waiting for the user's decision.
    Answered,
    /// The server could give no result (`last_error` says why); `send` tries again.
    Failed,
    /// The user decided (`decision`).
    Decided,
}

impl Stage {
    /// The name shown to users.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Held => "held",
            Stage::Waiting => "waiting",
            Stage::Sent => "sent",
            Stage::Answered => "answered",
            Stage::Failed => "failed",
            Stage::Decided => "decided",
        }
    }
}

/// An entry's review, as far as the device knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Review {
    /// The stage.
    pub stage: Stage,
    /// Failed tries to reach the server since the last success.
    pub attempts: u32,
    /// No try before this (seconds since the Unix epoch).
    pub next_attempt: u64,
    /// The last failure.
    pub last_error: Option<String>,
    /// The server's id of the review.
    pub server_id: Option<String>,
    /// The result, once it came.
    pub result: Option<ReviewResult>,
    /// What the user did with it.
    pub decision: Option<Decision>,
    /// Whether the server was told (it then forgets the review).
    pub acknowledged: bool,
}

/// A queued entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// Format version of the file (1).
    pub version: u32,
    /// The entry's id (also its file name without `.json`).
    pub id: String,
    /// When it was queued (RFC 3339, UTC).
    pub created: String,
    /// The entry.
    #[serde(flatten)]
    pub entry: NewEntry,
    /// Files the user chose to send with it besides the minimum (`edgecoder queue include`),
    /// as they were when included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<ContextFile>,
    /// Its review.
    #[serde(default)]
    pub review: Review,
}

/// A file in the queue directory that is not a readable entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BadFile {
    /// The file.
    pub path: PathBuf,
    /// Why it could not be read.
    pub error: String,
}

/// The queue's contents: entries oldest first, and the files that could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Listing {
    /// The entries.
    pub entries: Vec<QueueEntry>,
    /// Unreadable files (left in place).
    pub bad: Vec<BadFile>,
}

/// The queue directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloudQueue {
    dir: PathBuf,
}

/// The file whose exclusive lock serialises changes to entries (from every process).
const LOCK_FILE: &str = ".lock";

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> QueueError + 'a {
    move |source| QueueError::Io { what, path: path.to_owned(), source }
}

fn valid_id(id: &str) -> bool {
    id.starts_with('q') && id.len() < 64 && id[1..].chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

impl CloudQueue {
    /// The queue in `dir` (created on the first push).
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        CloudQueue { dir: dir.into() }
    }

    /// The queue at `$EDGECODER_QUEUE`, else `$XDG_STATE_HOME/edgecoder/queue`, else
    /// `$HOME/.local/state/edgecoder/queue`.
    pub fn from_env() -> Result<Self, QueueError> {
        let var = |k| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(dir) = var("EDGECODER_QUEUE") {
            return Ok(Self::at(dir));
        }
        let state = var("XDG_STATE_HOME").or_else(|| var("HOME").map(|h| h.join(".local/state"))).ok_or(QueueError::NoRoot)?;
        Ok(Self::at(state.join("edgecoder/queue")))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Adds an entry, durably, and returns it with its id.
    pub fn push(&self, entry: NewEntry) -> Result<QueueEntry, QueueError> {
        fs::create_dir_all(&self.dir).map_err(io("cannot create the queue directory", &self.dir))?;
        let now = SystemTime::now();
        let millis = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let id = format!("q{millis:013}-{:x}-{n}", std::process::id());
        let queued = QueueEntry {
            version: 1,
            id,
            created: humantime::format_rfc3339_seconds(now).to_string(),
            entry,
            context: Vec::new(),
            review: Review::default(),
        };
        self.write(&queued)?;
        tracing::info!(id = %queued.id, why = queued.entry.why.as_str(), "queued for cloud review (held on the device)");
        Ok(queued)
    }

    fn write(&self, entry: &QueueEntry) -> Result<(), QueueError> {
        let bytes = serde_json::to_vec_pretty(entry)?;
        let path = self.dir.join(format!("{}.json", entry.id));
        let tmp = self.dir.join(format!(".{}.json.tmp", entry.id));
        let mut file = fs::File::create(&tmp).map_err(io("cannot create", &tmp))?;
        file.write_all(&bytes).and_then(|()| file.sync_all()).map_err(io("cannot write", &tmp))?;
        fs::rename(&tmp, &path).map_err(io("cannot rename into place", &path))?;
        fs::File::open(&self.dir).and_then(|d| d.sync_all()).map_err(io("cannot sync", &self.dir))
    }

    /// Holds the queue's lock until the returned file is dropped.
    fn lock(&self) -> Result<fs::File, QueueError> {
        fs::create_dir_all(&self.dir).map_err(io("cannot create the queue directory", &self.dir))?;
        let path = self.dir.join(LOCK_FILE);
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io("cannot open the lock file", &path))?;
        file.lock().map_err(io("cannot lock", &path))?;
        Ok(file)
    }

    /// Changes the entry with this id by `change` and writes it back atomically, holding the
    /// queue's lock from the read to the write; returns it.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut QueueEntry)) -> Result<QueueEntry, QueueError> {
        let _lock = self.lock()?;
        let mut entry = self.get(id)?;
        change(&mut entry);
        self.write(&entry)?;
        Ok(entry)
    }

    /// Every entry, oldest first, and every file that is not a readable entry. An absent
    /// directory is an empty queue.
    pub fn list(&self) -> Result<Listing, QueueError> {
        let mut listing = Listing::default();
        let read = match fs::read_dir(&self.dir) {
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(listing),
            Err(e) => return Err(io("cannot list", &self.dir)(e)),
        };
        for item in read {
            let item = item.map_err(io("cannot list", &self.dir))?;
            let path = item.path();
            let name = item.file_name().to_string_lossy().into_owned();
            if name == LOCK_FILE {
                continue;
            }
            if name.starts_with('.') && name.ends_with(".tmp") {
                listing.bad.push(BadFile { path, error: "an unfinished write (the writer stopped before renaming it)".into() });
                continue;
            }
            let Some(id) = name.strip_suffix(".json") else {
                listing.bad.push(BadFile { path, error: "not a queue entry (entries are <id>.json)".into() });
                continue;
            };
            match fs::read(&path).map_err(|e| e.to_string()).and_then(|bytes| {
                serde_json::from_slice::<QueueEntry>(&bytes).map_err(|e| format!("not a valid entry: {e}"))
            }) {
                Ok(entry) if entry.id == id => listing.entries.push(entry),
                Ok(entry) => listing.bad.push(BadFile { path, error: format!("its id {:?} does not match its file name", entry.id) }),
                Err(error) => listing.bad.push(BadFile { path, error }),
            }
        }
        listing.entries.sort_by(|a, b| a.id.cmp(&b.id));
        listing.bad.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(listing)
    }

    /// The entry with this id.
    pub fn get(&self, id: &str) -> Result<QueueEntry, QueueError> {
        if !valid_id(id) {
            return Err(QueueError::BadId(id.to_owned()));
        }
        self.list()?.entries.into_iter().find(|e| e.id == id).ok_or_else(|| QueueError::NotFound(id.to_owned()))
    }

    /// Removes the entry with this id.
    pub fn remove(&self, id: &str) -> Result<QueueEntry, QueueError> {
        let _lock = self.lock()?;
        let entry = self.get(id)?;
        let path = self.dir.join(format!("{id}.json"));
        fs::remove_file(&path).map_err(io("cannot remove", &path))?;
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> NewEntry {
        NewEntry {
            task: "list files".into(),
            lang: Lang::Python,
            code: "import os\nprint(os.listdir('.'))\n".into(),
            why: ReviewReason::OutsideSubset,
            reason: Some(ReasonCode::PyImportDenied),
            construct: "import os".into(),
            line: 1,
            message: "uses `import os` (PY_IMPORT_DENIED) at line 1".into(),
            model: "qwen2.5-coder-0.5b".into(),
            workspace: None,
            file: None,
            before: None,
        }
    }

    #[test]
    fn entries_survive_a_reopen_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let queue = CloudQueue::at(dir.path().join("q"));
        assert_eq!(queue.list().unwrap(), Listing::default());
        let a = queue.push(entry()).unwrap();
        let b = queue.push(NewEntry { task: "second".into(), ..entry() }).unwrap();
        let reopened = CloudQueue::at(dir.path().join("q"));
        let listing = reopened.list().unwrap();
        assert_eq!(listing.entries, vec![a.clone(), b.clone()]);
        assert!(listing.bad.is_empty());
        assert_eq!(reopened.get(&b.id).unwrap().entry.task, "second");
        let updated = reopened.update(&b.id, |e| e.review.stage = Stage::Waiting).unwrap();
        assert_eq!(reopened.get(&b.id).unwrap(), updated, "an update is durable");
        let b = updated;
        reopened.remove(&a.id).unwrap();
        assert_eq!(reopened.list().unwrap().entries, vec![b]);
        assert!(matches!(reopened.get(&a.id), Err(QueueError::NotFound(_))));
        assert!(matches!(reopened.get("../etc/passwd"), Err(QueueError::BadId(_))));
    }

    #[test]
    fn changes_from_two_writers_at_once_are_all_kept() {
        let dir = tempfile::tempdir().unwrap();
        let queue = CloudQueue::at(dir.path());
        let id = queue.push(entry()).unwrap().id;
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    for _ in 0..40 {
                        queue.update(&id, |e| e.review.attempts += 1).unwrap();
                    }
                });
            }
        });
        assert_eq!(queue.get(&id).unwrap().review.attempts, 80);
        let listing = queue.list().unwrap();
        assert!(listing.bad.is_empty(), "the lock file is not an entry: {:?}", listing.bad);
    }

    #[test]
    fn an_entry_written_before_reviews_existed_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let old = r#"{"version":1,"id":"q0001-a-0","created":"2026-11-30T10:00:00Z","task":"t","lang":"python",
            "code":"import os\n","reason":"PY_IMPORT_DENIED","construct":"import os","line":1,"message":"m",
            "model":"qwen2.5-coder-0.5b","workspace":null}"#;
        fs::write(dir.path().join("q0001-a-0.json"), old).unwrap();
        let entry = CloudQueue::at(dir.path()).get("q0001-a-0").unwrap();
        assert_eq!((entry.entry.why, entry.entry.reason), (ReviewReason::OutsideSubset, Some(ReasonCode::PyImportDenied)));
        assert_eq!(entry.review, Review::default());
    }

    #[test]
    fn bad_and_unfinished_files_are_reported_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let queue = CloudQueue::at(dir.path());
        let good = queue.push(entry()).unwrap();
        fs::write(dir.path().join("q1-bad.json"), b"{ truncated").unwrap();
        fs::write(dir.path().join(".q2-x.json.tmp"), b"{").unwrap();
        fs::write(dir.path().join("notes.txt"), b"hi").unwrap();
        let listing = queue.list().unwrap();
        assert_eq!(listing.entries, vec![good]);
        assert_eq!(listing.bad.len(), 3, "{:?}", listing.bad);
        assert!(listing.bad.iter().any(|b| b.error.contains("not a valid entry")));
        assert!(listing.bad.iter().any(|b| b.error.contains("unfinished write")));
        assert!(dir.path().join("q1-bad.json").exists(), "bad files are never deleted");
    }

    #[test]
    fn an_unwritable_queue_is_an_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        fs::write(&blocker, b"x").unwrap();
        let err = CloudQueue::at(blocker.join("q")).push(entry()).unwrap_err();
        assert!(err.to_string().contains("cannot create the queue directory"), "{err}");
    }
}
