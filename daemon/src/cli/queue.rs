//! `edgecoder queue`: the tasks waiting for cloud review (code outside the on-device subset).

use super::{Execute, Exit, Failure};
use crate::agent::{CloudQueue, QueueError};
use crate::handshake::{self, Redactor};
use clap::{Args, Subcommand};

/// List, show or remove the tasks queued for cloud review.
#[derive(Debug, Args)]
pub struct QueueArgs {
    /// What to do (default: list).
    #[command(subcommand)]
    pub command: Option<QueueCommand>,
    /// Print JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// The daemon config file with the `redact_patterns` applied to what leaves the device
    /// (default: edgecoderd.toml in the config directory; a missing default file adds none).
    #[arg(long = "config", value_name = "FILE", global = true)]
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
    /// Remove one entry.
    Remove {
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

fn json<T: serde::Serialize>(value: &T) -> Result<(), Failure> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Failure::new(Exit::Failed, e))?;
    println!("{text}");
    Ok(())
}

impl Execute for QueueArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let queue = CloudQueue::from_env().map_err(failure)?;
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
                        println!("{}  {}  {:<16}  line {:<4} {task}", e.id, e.created, e.entry.reason.as_str(), e.entry.line);
                    }
                    for bad in &listing.bad {
                        eprintln!("unreadable: {} — {} (left in place)", bad.path.display(), bad.error);
                    }
                }
                Ok(if listing.bad.is_empty() { Exit::Ok } else { Exit::Io })
            }
            QueueCommand::Show { id } => {
                let entry = queue.get(&id).map_err(failure)?;
                let config = crate::server::config::Config::load(self.config.as_deref()).map_err(|e| Failure::new(Exit::Usage, e))?;
                let redactor = Redactor::new(&config.redact_patterns).map_err(|e| Failure::new(Exit::Usage, e))?;
                let outgoing = handshake::outgoing(&entry, &redactor);
                if self.json {
                    json(&serde_json::json!({ "entry": entry, "outgoing": outgoing }))?;
                } else {
                    println!("id: {}\ncreated: {}\nmodel: {}\nreason: {} — {}\ntask:\n{}\ncode:\n{}", entry.id, entry.created, entry.entry.model, entry.entry.reason, entry.entry.message, entry.entry.task, entry.entry.code);
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
            QueueCommand::Remove { id } => {
                let entry = queue.remove(&id).map_err(failure)?;
                println!("removed {}", entry.id);
                Ok(Exit::Ok)
            }
        }
    }
}
