//! `edgecoder status`: the running daemon's providers, their health, the model and the queue.

use clap::Args;

use super::client::{Client, DaemonArgs, runtime};
use super::{Execute, Exit, Failure};
use crate::api::admin::Status;

/// Show the daemon's status.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    daemon: DaemonArgs,
    /// Print the status as one JSON object.
    #[arg(long)]
    json: bool,
}

impl Execute for StatusArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let client = Client::connect(&self.daemon)?;
        let runtime = runtime()?;
        let value = runtime.block_on(client.json(client.request(reqwest::Method::GET, "/edgecoder/status")))?;
        if self.json {
            println!("{value}");
            return Ok(Exit::Ok);
        }
        let status: Status = serde_json::from_value(value)
            .map_err(|e| Failure::new(Exit::Daemon, anyhow::anyhow!("unexpected status answer: {e}")))?;
        println!("edgecoderd {} up {} s, listening on {}", status.version, status.uptime_secs, status.listening.join(", "));
        println!("model     {}", status.model.as_deref().unwrap_or("(none loaded)"));
        println!("queue     {} waiting of {}", status.queue_waiting, status.queue_capacity);
        println!("providers");
        for p in &status.providers {
            let mark = if p.active { "*" } else { " " };
            let health = if p.ok { "ok  " } else { "DOWN" };
            println!("  {mark} {:<18} {health} {}", p.name, p.detail);
        }
        Ok(Exit::Ok)
    }
}
