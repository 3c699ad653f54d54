//! `edgecoder queue`: the tasks queued for cloud review — held on the device until the user sends
//! them, then sent, followed, and their results accepted, edited or rejected.

use super::{Execute, Exit, Failure};
use crate::agent::{CloudQueue, NewEntry, QueueEntry, QueueError, Stage};
use crate::handshake::{self, DecideError, Redactor, ReviewClient, Synced};
use crate::server::config::Config;
use clap::{Args, Subcommand};
use edgecoder_executor::Lang;
use edgecoder_protocol::review::{self, Decision, ReviewReason, Verification};
use std::path::{Path, PathBuf};
use edgecoder_protocol::envelope::unix_time_s;
use std::time::{Duration, Instant};

/// The cloud-review queue: tasks the device could not do wait here, held on this device until you
/// send them (`send`); results come back as a diff you accept, edit or reject. The review server is
/// set by `review_url` and `review_api_key_file` in the daemon's config.
#[derive(Debug, Args)]
pub struct QueueArgs {
    /// What to do (default: list).
    #[command(subcommand)]
    pub command: Option<QueueCommand>,
    /// Print JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// The daemon config file with the `redact_patterns` applied to what leaves the device
    /// (default: $EDGECODER_CONFIG, else edgecoderd.toml in the config directory; a missing
    /// default file adds none).
    #[arg(long = "config", value_name = "FILE", global = true, env = "EDGECODER_CONFIG")]
    pub config: Option<std::path::PathBuf>,
}

/// The `edgecoder queue` subcommands.
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// List the entries, oldest first, and any unreadable files.
    List,
    /// Print one entry (task, reason, code) and the exact payload a cloud review of it sends:
    /// the task, the code and the error, with secrets and e-mail addresses removed.
    Show {
        /// The entry's id.
        id: String,
    },
    /// Send more than the minimum with an entry that is still held: add files (the test file, a
    /// module it uses) as context; `show` then prints them in the payload, redacted like the rest.
    Include {
        /// The entry's id.
        id: String,
        /// The files, inside the entry's workspace (relative to it, or to the current directory
        /// for an entry without one).
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Remove one entry.
    Remove {
        /// The entry's id.
        id: String,
    },
    /// Queue a task for review yourself: the task, and the file it is about.
    Add {
        /// What the code should do (or what is wrong with it).
        task: String,
        /// The file, relative to --workspace (or a plain path without it); its content is the
        /// snippet sent, and an accepted result is written back to it.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// The workspace the file is in (default: the current directory).
        #[arg(long, value_name = "DIR")]
        workspace: Option<PathBuf>,
        /// The error you see, if any.
        #[arg(long, default_value = "")]
        error: String,
    },
    /// Let entries go to the review server (your consent), and send them now; a server out of
    /// reach is tried again with backoff (`sync`, or the daemon while it runs).
    Send {
        /// The entries' ids.
        #[arg(required_unless_present = "all")]
        ids: Vec<String>,
        /// Every held entry.
        #[arg(long, conflicts_with = "ids")]
        all: bool,
        /// Wait up to this many seconds for the results.
        #[arg(long, value_name = "SECS")]
        wait: Option<u64>,
    },
    /// One pass over the queue: send what is due, fetch results, report decisions.
    Sync {
        /// Keep going until nothing is in flight, for at most this many seconds.
        #[arg(long, value_name = "SECS")]
        wait: Option<u64>,
    },
    /// Show an entry's result: the explanation, how it was checked, and the diff against the file
    /// as it is now (a conflict when the file changed and the result does not merge).
    Result {
        /// The entry's id.
        id: String,
    },
    /// Apply an entry's result (atomically, the old file saved under .edgecoder/backups).
    Accept {
        /// The entry's id.
        id: String,
        /// Where to write it, for an entry not tied to a workspace file.
        #[arg(long, value_name = "FILE")]
        to: Option<PathBuf>,
    },
    /// Open the result in $VISUAL or $EDITOR and apply what you save.
    Edit {
        /// The entry's id.
        id: String,
        /// Where to write it, for an entry not tied to a workspace file.
        #[arg(long, value_name = "FILE")]
        to: Option<PathBuf>,
    },
    /// Discard an entry's result; nothing is written.
    Reject {
        /// The entry's id.
        id: String,
    },
}

fn failure(e: QueueError) -> Failure {
    let exit = match &e {
        QueueError::NotFound(_) | QueueError::BadId(_) => Exit::Usage,
        _ => Exit::Io,
    };
    Failure::new(exit, e)
}

fn decide_failure(e: DecideError) -> Failure {
    let exit = match &e {
        DecideError::Queue(QueueError::NotFound(_) | QueueError::BadId(_)) => Exit::Usage,
        DecideError::Queue(_) => Exit::Io,
        DecideError::Workspace(_) | DecideError::Target(_) => Exit::Io,
        DecideError::Conflict(_) | DecideError::Placeholders(_) => Exit::Failed,
        DecideError::NoResult { .. } | DecideError::Decided { .. } => Exit::Usage,
    };
    Failure::new(exit, e)
}

fn review_client(config: &Config) -> Result<ReviewClient, Failure> {
    match config.review_client() {
        Ok(Some(client)) => Ok(client),
        Ok(None) => Err(Failure::new(
            Exit::Usage,
            anyhow::anyhow!("no review server is set: add review_url and review_api_key_file to the daemon's config (edgecoderd.toml); until then entries stay on this device"),
        )),
        Err(e @ handshake::ClientError::KeyFile { .. }) => Err(Failure::new(Exit::Io, e)),
        Err(e) => Err(Failure::new(Exit::Usage, e)),
    }
}

fn print_synced(synced: &Synced) {
    for id in &synced.sent {
        println!("sent {id}");
    }
    for id in &synced.answered {
        println!("answered {id}: `edgecoder queue result {id}` shows it");
    }
    for (id, why) in &synced.failed {
        println!("failed {id}: {why}");
    }
    for id in &synced.acknowledged {
        println!("reported the decision on {id}");
    }
    let now = unix_time_s();
    for (id, why, next) in &synced.postponed {
        println!("postponed {id}: {why} (next try in {} s)", next.saturating_sub(now));
    }
}

/// Sync passes until none of `watch` (every entry when empty) is waiting or sent, or `wait` runs
/// out; returns every pass's report merged.
fn sync_until(queue: &CloudQueue, config: &Config, redactor: &Redactor, watch: &[String], wait: Option<u64>, quiet: bool) -> Result<Synced, Failure> {
    let mut client = review_client(config)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Failure::new(Exit::Failed, e))?;
    let deadline = Instant::now() + Duration::from_secs(wait.unwrap_or(0));
    let bar = if wait.is_some() && !quiet { indicatif::ProgressBar::new_spinner() } else { indicatif::ProgressBar::hidden() };
    let mut all = Synced::default();
    loop {
        let synced = runtime.block_on(handshake::sync(queue, &mut client, redactor, unix_time_s())).map_err(failure)?;
        if !quiet {
            bar.suspend(|| print_synced(&synced));
        }
        all.sent.extend(synced.sent);
        all.answered.extend(synced.answered);
        all.failed.extend(synced.failed);
        all.acknowledged.extend(synced.acknowledged);
        all.postponed = synced.postponed;
        all.pending = synced.pending;
        let in_flight: Vec<QueueEntry> = queue
            .list()
            .map_err(failure)?
            .entries
            .into_iter()
            .filter(|e| watch.is_empty() || watch.contains(&e.id))
            .filter(|e| matches!(e.review.stage, Stage::Waiting | Stage::Sent))
            .collect();
        if in_flight.is_empty() || Instant::now() >= deadline {
            bar.finish_and_clear();
            return Ok(all);
        }
        bar.set_message(format!("{} in flight ({}); waiting for the review server …", in_flight.len(), in_flight.iter().map(|e| format!("{} {}", e.id, e.review.stage.as_str())).collect::<Vec<_>>().join(", ")));
        let pause = Instant::now() + Duration::from_secs(2);
        while Instant::now() < pause.min(deadline) {
            bar.tick();
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Adds `files` to a held entry's context: each must be inside its workspace; a file included
/// again is replaced by its current text.
fn include(queue: &CloudQueue, id: &str, files: &[PathBuf]) -> Result<QueueEntry, Failure> {
    let entry = queue.get(id).map_err(failure)?;
    let usage = |m: String| Failure::new(Exit::Usage, anyhow::anyhow!(m));
    if entry.review.stage != Stage::Held {
        return Err(usage(format!("{id} was already let go ({}): context can only be added while it is held", entry.review.stage.as_str())));
    }
    let root = match &entry.entry.workspace {
        Some(workspace) => workspace.clone(),
        None => std::env::current_dir().map_err(|e| Failure::new(Exit::Io, e))?,
    };
    let workspace = crate::agent::Workspace::open(&root).map_err(|e| usage(e.to_string()))?;
    let mut added = Vec::new();
    for file in files {
        let relative = file.strip_prefix(workspace.root()).unwrap_or(file).to_string_lossy().replace('\\', "/");
        let text = workspace
            .read(&relative)
            .map_err(|e| usage(e.to_string()))?
            .ok_or_else(|| usage(format!("{} does not exist in {}", relative, workspace.root().display())))?;
        added.push(review::ContextFile { name: relative, text });
    }
    let mut context = entry.context.clone();
    for file in added {
        context.retain(|c| c.name != file.name);
        context.push(file);
    }
    if !review::context_fits(&context) {
        return Err(usage(format!(
            "too much context for one review: at most {} files and {} KiB in all",
            review::MAX_CONTEXT_FILES,
            review::MAX_CONTEXT_BYTES >> 10
        )));
    }
    queue.update(id, |e| e.context = context).map_err(failure)
}

fn json<T: serde::Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::new(Exit::Failed, e))?;
    println!("{text}");
    Ok(())
}

impl Execute for QueueArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let queue = CloudQueue::from_env().map_err(failure)?;
        let config = || Config::load(self.config.as_deref()).map_err(|e| Failure::new(Exit::Usage, e));
        let redactor = |config: &Config| Redactor::new(&config.redact_patterns).map_err(|e| Failure::new(Exit::Usage, e));
        match self.command.unwrap_or(QueueCommand::List) {
            QueueCommand::List => {
                let listing = queue.list().map_err(failure)?;
                if self.json {
                    json(&listing)?;
                } else {
                    if listing.entries.is_empty() {
                        println!("the cloud-review queue is empty ({})", queue.dir().display());
                    }
                    for e in &listing.entries {
                        let task: String = e.entry.task.lines().next().unwrap_or("").chars().take(60).collect();
                        let why = e.entry.reason.map_or(e.entry.why.as_str(), |r| r.as_str());
                        println!("{}  {}  {:<8}  {:<16}  {task}", e.id, e.created, e.review.stage.as_str(), why);
                    }
                    for bad in &listing.bad {
                        eprintln!("unreadable: {} — {} (left in place)", bad.path.display(), bad.error);
                    }
                }
                Ok(if listing.bad.is_empty() { Exit::Ok } else { Exit::Io })
            }
            QueueCommand::Show { id } => {
                let entry = queue.get(&id).map_err(failure)?;
                let outgoing = handshake::outgoing(&entry, &redactor(&config()?)?);
                if self.json {
                    json(&serde_json::json!({ "entry": entry, "outgoing": outgoing }))?;
                } else {
                    let why = entry.entry.reason.map_or(entry.entry.why.as_str(), |r| r.as_str());
                    println!("id: {}\ncreated: {}\nstage: {}\nmodel: {}\nreason: {why} — {}\ntask:\n{}\ncode:\n{}", entry.id, entry.created, entry.review.stage.as_str(), entry.entry.model, entry.entry.message, entry.entry.task, entry.entry.code);
                    if let Some(error) = &entry.review.last_error {
                        println!("last review error: {error}");
                    }
                    let payload = serde_json::to_string_pretty(&outgoing.request).map_err(|e| Failure::new(Exit::Failed, e))?;
                    println!("\nwhat a cloud review of this entry sends, exactly (nothing else leaves the device):\n{payload}");
                    let removed: Vec<String> = outgoing.removed.iter().map(|(field, f)| format!("{} in {field} line {}", f.kind, f.line)).collect();
                    match removed.len() {
                        0 => println!("removed before sending: nothing"),
                        n => println!("removed before sending: {n} ({})", removed.join(", ")),
                    }
                }
                Ok(Exit::Ok)
            }
            QueueCommand::Include { id, files } => {
                let entry = include(&queue, &id, &files)?;
                if self.json {
                    json(&entry)?;
                } else {
                    let names: Vec<&str> = entry.context.iter().map(|c| c.name.as_str()).collect();
                    println!("{id} will also send: {} — `edgecoder queue show {id}` prints the payload", names.join(", "));
                }
                Ok(Exit::Ok)
            }
            QueueCommand::Remove { id } => {
                let entry = queue.remove(&id).map_err(failure)?;
                println!("removed {}", entry.id);
                Ok(Exit::Ok)
            }
            QueueCommand::Add { task, file, workspace, error } => {
                let entry = add(&queue, task, &file, workspace.as_deref(), error)?;
                if self.json {
                    json(&entry)?;
                } else {
                    println!("queued {0} (held on this device): `edgecoder queue show {0}` shows what would leave, `edgecoder queue send {0}` sends it", entry.id);
                }
                Ok(Exit::Ok)
            }
            QueueCommand::Send { ids, all, wait } => {
                let config = config()?;
                let redactor = redactor(&config)?;
                let ids = if all {
                    let listing = queue.list().map_err(failure)?;
                    listing.entries.into_iter().filter(|e| matches!(e.review.stage, Stage::Held | Stage::Failed)).map(|e| e.id).collect()
                } else {
                    ids
                };
                for id in &ids {
                    let entry = queue.get(id).map_err(failure)?;
                    if !matches!(entry.review.stage, Stage::Held | Stage::Failed) {
                        return Err(Failure::new(Exit::Usage, anyhow::anyhow!("{id} is {} already: `edgecoder queue sync` follows it", entry.review.stage.as_str())));
                    }
                }
                for id in &ids {
                    queue
                        .update(id, |e| {
                            e.review.stage = Stage::Waiting;
                            e.review.server_id = None;
                            e.review.attempts = 0;
                            e.review.next_attempt = 0;
                            e.review.last_error = None;
                        })
                        .map_err(failure)?;
                    tracing::info!(entry = %id, "released for cloud review by the user");
                }
                let synced = sync_until(&queue, &config, &redactor, &ids, wait, self.json)?;
                finish(&queue, &ids, &synced, self.json)
            }
            QueueCommand::Sync { wait } => {
                let config = config()?;
                let synced = sync_until(&queue, &config, &redactor(&config)?, &[], wait, self.json)?;
                finish(&queue, &[], &synced, self.json)
            }
            QueueCommand::Result { id } => {
                let entry = queue.get(&id).map_err(failure)?;
                let proposal = handshake::proposal(&entry, &redactor(&config()?)?, None).map_err(decide_failure)?;
                let result = entry.review.result.as_ref().expect("a proposal has a result");
                if self.json {
                    json(&serde_json::json!({ "id": entry.id, "result": result, "proposal": proposal }))?;
                    return Ok(Exit::Ok);
                }
                println!("{}\n", result.explanation);
                match &result.verification {
                    Verification::Ran { .. } => println!("checked: it ran in the review server's executor"),
                    Verification::NotRun { reason } => println!("not run by the reviewer: {reason}"),
                }
                if let Some(conflict) = &proposal.conflict {
                    println!("CONFLICT: {} changed since the task was queued and the result does not merge with that change; the merge with markers:\n{}", conflict.file, conflict.merged);
                } else {
                    println!("\n{}", proposal.diff);
                }
                if proposal.unresolved > 0 {
                    println!("note: {} line(s) still hold [REDACTED:…] placeholders: use `edgecoder queue edit {id}`", proposal.unresolved);
                }
                println!("`edgecoder queue accept {id}` applies it, `edit` lets you change it first, `reject` discards it");
                Ok(Exit::Ok)
            }
            QueueCommand::Accept { id, to } => {
                let written = handshake::accept(&queue, &id, &redactor(&config()?)?, to.as_deref(), None).map_err(decide_failure)?;
                report_written(&id, &written, Decision::Accepted, self.json)
            }
            QueueCommand::Edit { id, to } => {
                let redactor = redactor(&config()?)?;
                let entry = queue.get(&id).map_err(failure)?;
                let proposal = handshake::proposal(&entry, &redactor, None).map_err(decide_failure)?;
                let start = proposal.conflict.as_ref().map_or(&proposal.code, |c| &c.merged);
                let edited = edit(start, entry.entry.lang)?;
                let written = handshake::accept(&queue, &id, &redactor, to.as_deref(), Some(&edited)).map_err(decide_failure)?;
                report_written(&id, &written, Decision::Edited, self.json)
            }
            QueueCommand::Reject { id } => {
                handshake::decide(&queue, &id, Decision::Rejected).map_err(decide_failure)?;
                if self.json {
                    json(&serde_json::json!({ "id": id, "decision": "rejected" }))?;
                } else {
                    println!("rejected {id}: nothing was written");
                }
                Ok(Exit::Ok)
            }
        }
    }
}

fn add(queue: &CloudQueue, task: String, file: &Path, workspace: Option<&Path>, error: String) -> Result<QueueEntry, Failure> {
    let usage = |m: String| Failure::new(Exit::Usage, anyhow::anyhow!(m));
    let root = match workspace {
        Some(dir) => dir.to_owned(),
        None => std::env::current_dir().map_err(|e| Failure::new(Exit::Io, e))?,
    };
    let workspace = crate::agent::Workspace::open(&root).map_err(|e| usage(e.to_string()))?;
    let relative = file.to_string_lossy().into_owned();
    let code = workspace
        .read(&relative)
        .map_err(|e| usage(e.to_string()))?
        .ok_or_else(|| usage(format!("{} does not exist in {}", relative, root.display())))?;
    let lang = Lang::from_path(&relative).ok_or_else(|| usage(format!("{relative}: only .py and .js files can be reviewed")))?;
    if task.trim().is_empty() {
        return Err(usage("the task is empty: say what the code should do".into()));
    }
    queue
        .push(NewEntry {
            task,
            lang,
            code: code.clone(),
            why: ReviewReason::UserRequest,
            reason: None,
            construct: String::new(),
            line: 0,
            message: error,
            model: String::new(),
            workspace: Some(workspace.root().to_owned()),
            file: Some(relative),
            before: Some(code),
        })
        .map_err(failure)
}

fn finish(queue: &CloudQueue, ids: &[String], synced: &Synced, as_json: bool) -> Result<Exit, Failure> {
    if as_json {
        let entries: Vec<QueueEntry> = queue.list().map_err(failure)?.entries.into_iter().filter(|e| ids.is_empty() || ids.contains(&e.id)).collect();
        json(&serde_json::json!({ "synced": synced, "entries": entries }))?;
    } else if !synced.pending.is_empty() {
        println!("{} still in flight: `edgecoder queue sync` (or the daemon) follows them", synced.pending.len() + synced.postponed.len());
    }
    Ok(if synced.failed.is_empty() { Exit::Ok } else { Exit::Failed })
}

fn report_written(id: &str, written: &handshake::Written, decision: Decision, as_json: bool) -> Result<Exit, Failure> {
    if as_json {
        json(&serde_json::json!({ "id": id, "decision": decision.as_str(), "written": written }))?;
    } else {
        println!("{} {id}: wrote {}", decision.as_str(), written.file.display());
        if let Some(backup) = &written.backup {
            println!("the previous content is in {}", backup.display());
        }
    }
    Ok(Exit::Ok)
}

/// Opens `code` in the user's editor and returns what they saved.
fn edit(code: &str, lang: Lang) -> Result<String, Failure> {
    let editor = std::env::var("VISUAL")
        .ok()
        .or_else(|| std::env::var("EDITOR").ok())
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| Failure::new(Exit::Usage, anyhow::anyhow!("set $VISUAL or $EDITOR to the editor to open (e.g. EDITOR=nano)")))?;
    let suffix = match lang {
        Lang::Python => ".py",
        Lang::JavaScript => ".js",
    };
    let file = tempfile::Builder::new().prefix("edgecoder-review-").suffix(suffix).tempfile().map_err(|e| Failure::new(Exit::Io, e))?;
    std::fs::write(file.path(), code).map_err(|e| Failure::new(Exit::Io, e))?;
    // Through the shell, so an editor given with its arguments (`code --wait`) works.
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(file.path())
        .status()
        .map_err(|e| Failure::new(Exit::Failed, anyhow::anyhow!("cannot start {editor}: {e}")))?;
    if !status.success() {
        return Err(Failure::new(Exit::Failed, anyhow::anyhow!("{editor} exited with {status}: nothing was written")));
    }
    std::fs::read_to_string(file.path()).map_err(|e| Failure::new(Exit::Io, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_is_added_only_from_inside_the_workspace_and_only_while_held() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().join("ws");
        std::fs::create_dir_all(workspace.join("tests")).unwrap();
        std::fs::write(workspace.join("calc.py"), "def add(a, b):\n    return a - b\n").unwrap();
        std::fs::write(workspace.join("tests/test_calc.py"), "assert add(2, 3) == 5\n").unwrap();
        std::fs::write(dir.path().join("outside.py"), "secret = 1\n").unwrap();
        let queue = CloudQueue::at(dir.path().join("queue"));
        let entry = add(&queue, "fix add".into(), Path::new("calc.py"), Some(&workspace), String::new()).unwrap();

        let e = include(&queue, &entry.id, &[PathBuf::from("../outside.py")]).unwrap_err();
        assert!(e.error.to_string().contains("outside the workspace"), "{}", e.error);
        let included = include(&queue, &entry.id, &[PathBuf::from("tests/test_calc.py")]).unwrap();
        assert_eq!(included.context.len(), 1);
        assert_eq!((included.context[0].name.as_str(), included.context[0].text.as_str()), ("tests/test_calc.py", "assert add(2, 3) == 5\n"));
        std::fs::write(workspace.join("tests/test_calc.py"), "assert add(1, 1) == 2\n").unwrap();
        let again = include(&queue, &entry.id, &[PathBuf::from("tests/test_calc.py")]).unwrap();
        assert_eq!(again.context.len(), 1, "included again: replaced, not doubled");
        assert_eq!(again.context[0].text, "assert add(1, 1) == 2\n");

        queue.update(&entry.id, |e| e.review.stage = Stage::Waiting).unwrap();
        let e = include(&queue, &entry.id, &[PathBuf::from("calc.py")]).unwrap_err();
        assert!(e.error.to_string().contains("already let go"), "{}", e.error);
    }
}
