//! `edgecoder-coordinator`: runs the swarm coordinator, checks its audit log, and measures it.

use anyhow::Context;
use clap::{Parser, Subcommand};
use edgecoder_coordinator::model::Backoff;
use edgecoder_coordinator::store::{Embedded, Postgres, Store, verify_audit};
use std::path::PathBuf;
use std::sync::Arc;

/// The EdgeCoder swarm coordinator.
#[derive(Parser)]
#[command(name = "edgecoder-coordinator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where the queue is.
#[derive(clap::Args)]
struct StoreArgs {
    /// The embedded queue file.
    #[arg(
        long,
        default_value = "coordinator/queue.redb",
        conflicts_with = "postgres"
    )]
    queue: PathBuf,
    /// A PostgreSQL URL instead of the embedded file (several coordinators share it).
    #[arg(long, env = "EDGECODER_COORDINATOR_PG")]
    postgres: Option<String>,
    /// The PostgreSQL schema the queue's tables live in.
    #[arg(long, default_value = "edgecoder")]
    schema: String,
}

impl StoreArgs {
    async fn open(&self) -> anyhow::Result<Arc<dyn Store>> {
        Ok(match &self.postgres {
            Some(url) => Arc::new(Postgres::connect(url, &self.schema, Backoff::default()).await?),
            None => Arc::new(Embedded::open(&self.queue, Backoff::default())?),
        })
    }
}

#[derive(Subcommand)]
enum Command {
    /// Audit log commands.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Measures the coordinator with simulated agents over MQTT in one process: subtasks per
    /// second, assignment latency, policy propagation, memory. Prints a table, writes JSON.
    Bench {
        /// Simulated agents.
        #[arg(long, default_value_t = 1000)]
        agents: usize,
        /// Trivial subtasks in the job.
        #[arg(long, default_value_t = 100_000)]
        subtasks: u32,
        /// Subtasks an agent holds at once.
        #[arg(long, default_value_t = 4)]
        slots: u8,
        /// Run on PostgreSQL (a fresh schema) instead of the embedded store.
        #[arg(long)]
        postgres: Option<String>,
        /// Where the JSON report goes.
        #[arg(long, default_value = "coordinator-bench.json")]
        json: PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Checks the hash chain of the audit log; exits 1 and names the first altered entry
    /// when it was tampered with.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match Cli::parse().command {
        Command::Audit {
            command: AuditCommand::Verify { store, json },
        } => {
            let store = store.open().await?;
            match verify_audit(&*store).await? {
                Ok(head) => {
                    if json {
                        println!(
                            "{}",
                            serde_json::json!({"ok": true, "entries": head.seq, "head": head.hash.to_string()})
                        );
                    } else {
                        println!("audit log intact: {} entries, head {}", head.seq, head.hash);
                    }
                    Ok(())
                }
                Err(broken) => {
                    if json {
                        println!(
                            "{}",
                            serde_json::json!({"ok": false, "error": broken.to_string()})
                        );
                    } else {
                        eprintln!("audit log BROKEN: {broken}");
                    }
                    std::process::exit(1);
                }
            }
        }
        Command::Bench {
            agents,
            subtasks,
            slots,
            postgres,
            json,
        } => {
            let report =
                edgecoder_coordinator::bench::run(edgecoder_coordinator::bench::BenchConfig {
                    agents,
                    subtasks,
                    slots,
                    postgres,
                })
                .await?;
            println!(
                "| store | agents | subtasks | s | subtasks/s | assign p50 ms | assign p99 ms | policy p95 ms | RSS MiB | stale |"
            );
            println!("|---|---|---|---|---|---|---|---|---|---|");
            println!(
                "| {} | {} | {} | {:.1} | {:.0} | {:.1} | {:.1} | {:.1} | {:.0} | {} |",
                report.store,
                report.agents,
                report.subtasks,
                report.seconds,
                report.subtasks_per_second,
                report.assign_p50_ms,
                report.assign_p99_ms,
                report.policy_p95_ms,
                report.rss_mib,
                report.stale_results
            );
            std::fs::write(&json, serde_json::to_vec_pretty(&report)?)
                .with_context(|| format!("cannot write {}", json.display()))?;
            Ok(())
        }
    }
}
