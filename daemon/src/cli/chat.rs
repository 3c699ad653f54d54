//! `edgecoder chat [MESSAGE]`: talk to the daemon's model, streaming the answer. With a
//! message it answers once; without one it reads messages from stdin, one per line, and keeps
//! the conversation.

use std::io::{BufRead, Write};

use anyhow::anyhow;
use clap::Args;
use serde_json::{Value, json};

use super::client::{Client, DaemonArgs, runtime};
use super::{Execute, Exit, Failure};

/// Chat with the daemon's model.
#[derive(Debug, Args)]
pub struct ChatArgs {
    #[command(flatten)]
    daemon: DaemonArgs,
    /// The message (without it: read messages from stdin, one per line).
    message: Option<String>,
    /// The model (default: the one the daemon serves).
    #[arg(long, default_value = "")]
    model: String,
    /// A system message.
    #[arg(long)]
    system: Option<String>,
    /// Most tokens per answer.
    #[arg(long, default_value_t = 512)]
    max_tokens: u32,
    /// Sampling temperature (0: greedy).
    #[arg(long, default_value_t = 0.0)]
    temperature: f32,
}

impl ChatArgs {
    /// Streams one answer to stdout and returns its text.
    async fn answer(&self, client: &Client, messages: &[Value]) -> Result<String, Failure> {
        let body = json!({"model": self.model, "messages": messages, "stream": true,
            "max_tokens": self.max_tokens, "temperature": self.temperature});
        let response = client.send(client.request(reqwest::Method::POST, "/v1/chat/completions").json(&body)).await?;
        let mut lines = crate::providers::Lines::new(response);
        let mut text = String::new();
        let mut stdout = std::io::stdout();
        let broken = |e: reqwest::Error| Failure::new(Exit::Daemon, anyhow!("the answer broke off: {e}"));
        while let Some(line) = lines.next().await.map_err(broken)? {
            let Some(data) = line.strip_prefix("data: ") else { continue };
            if data == "[DONE]" {
                break;
            }
            let chunk: Value = serde_json::from_str(data).map_err(|e| Failure::new(Exit::Daemon, anyhow!("bad chunk {data:?}: {e}")))?;
            if let Some(message) = chunk["error"]["message"].as_str() {
                return Err(Failure::new(Exit::Daemon, anyhow!("the generation failed: {message}")));
            }
            if let Some(piece) = chunk["choices"][0]["delta"]["content"].as_str() {
                text.push_str(piece);
                let _ = write!(stdout, "{piece}").and_then(|_| stdout.flush());
            }
        }
        println!();
        Ok(text)
    }
}

impl Execute for ChatArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let client = Client::connect(&self.daemon)?;
        let runtime = runtime()?;
        let mut messages = Vec::new();
        if let Some(system) = &self.system {
            messages.push(json!({"role": "system", "content": system}));
        }
        if let Some(message) = &self.message {
            messages.push(json!({"role": "user", "content": message}));
            runtime.block_on(self.answer(&client, &messages))?;
            return Ok(Exit::Ok);
        }
        for line in std::io::stdin().lock().lines() {
            let line = line.map_err(|e| Failure::new(Exit::Io, e))?;
            if line.trim().is_empty() {
                continue;
            }
            messages.push(json!({"role": "user", "content": line}));
            let answer = runtime.block_on(self.answer(&client, &messages))?;
            messages.push(json!({"role": "assistant", "content": answer}));
        }
        Ok(Exit::Ok)
    }
}
