//! `edgecoder mcp`: the MCP server over stdio, for MCP clients that start a command (Claude
//! Code, Cursor, VS Code). Code runs here in the executor's sandbox; `generate` asks the running
//! daemon.

use std::sync::Arc;

use anyhow::anyhow;
use clap::Args;
use rmcp::ServiceExt;

use super::client::{Client, DaemonArgs};
use super::{Execute, Exit, Failure};
use crate::mcp::{EdgecoderMcp, ViaDaemon};

/// Serve MCP over stdio.
#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(flatten)]
    daemon: DaemonArgs,
}

impl Execute for McpArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let client = match Client::connect(&self.daemon) {
            Ok(client) => Some(client),
            Err(failure) => {
                tracing::warn!(error = %failure.error, "generate will fail until the daemon runs");
                None
            }
        };
        // A long-lived server: keep one sandbox child warm for the process-isolated tool runs.
        edgecoder_executor::sandbox::set_warm_children(1);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| Failure::new(Exit::Failed, anyhow!("cannot start the async runtime: {e}")))?;
        runtime.block_on(async move {
            let generator: Arc<dyn crate::mcp::Generator> = match client {
                Some(client) => Arc::new(ViaDaemon(client)),
                None => Arc::new(crate::mcp::NoDaemon),
            };
            let server = EdgecoderMcp::new(generator, None)
                .serve(rmcp::transport::stdio())
                .await
                .map_err(|e| Failure::new(Exit::Failed, anyhow!("MCP start-up failed: {e}")))?;
            server.waiting().await.map_err(|e| Failure::new(Exit::Failed, anyhow!("the MCP server failed: {e}")))?;
            Ok(Exit::Ok)
        })
    }
}
