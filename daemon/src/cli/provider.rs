//! `edgecoder provider use NAME`: switch the running daemon to another provider.

use clap::{Args, Subcommand};
use serde_json::json;

use super::client::{Client, DaemonArgs, runtime};
use super::{Execute, Exit, Failure};

/// Switch the daemon's model provider.
#[derive(Debug, Args)]
pub struct ProviderArgs {
    #[command(flatten)]
    daemon: DaemonArgs,
    #[command(subcommand)]
    command: ProviderCommand,
}

/// The `edgecoder provider` subcommands.
#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Answer new requests with NAME: edgecoder-local, openai-compatible or ollama-local.
    Use {
        /// The provider.
        name: String,
    },
}

impl Execute for ProviderArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let ProviderCommand::Use { name } = self.command;
        let client = Client::connect(&self.daemon)?;
        let runtime = runtime()?;
        runtime.block_on(client.json(client.request(reqwest::Method::PUT, "/edgecoder/provider").json(&json!({"name": name}))))?;
        println!("now using {name}");
        Ok(Exit::Ok)
    }
}
