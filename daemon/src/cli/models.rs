//! `edgecoder models`: the models the running daemon serves; `edgecoder models load ID` swaps
//! the local model without dropping requests in flight.

use clap::{Args, Subcommand};
use serde_json::json;

use super::client::{Client, DaemonArgs, runtime};
use super::{Execute, Exit, Failure};

/// List (or load) the daemon's models.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(flatten)]
    daemon: DaemonArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(subcommand)]
    command: Option<ModelsCommand>,
}

/// The `edgecoder models` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Load another local model (a catalog id or a GGUF path); requests in flight finish on the
    /// previous one.
    Load {
        /// The model.
        model: String,
    },
}

impl Execute for ModelsArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let client = Client::connect(&self.daemon)?;
        let runtime = runtime()?;
        if let Some(ModelsCommand::Load { model }) = self.command {
            let info = runtime.block_on(client.json(client.request(reqwest::Method::PUT, "/edgecoder/model").json(&json!({"model": model}))))?;
            if self.json {
                println!("{info}");
            } else {
                println!("loaded {}", info["id"].as_str().unwrap_or(&model));
            }
            return Ok(Exit::Ok);
        }
        let list = runtime.block_on(client.json(client.request(reqwest::Method::GET, "/v1/models")))?;
        if self.json {
            println!("{list}");
            return Ok(Exit::Ok);
        }
        for m in list["data"].as_array().into_iter().flatten() {
            println!("{:<28} {}", m["id"].as_str().unwrap_or("?"), m["owned_by"].as_str().unwrap_or(""));
        }
        Ok(Exit::Ok)
    }
}
