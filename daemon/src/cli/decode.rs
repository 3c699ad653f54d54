//! `edgecoder decode`: a captured swarm payload as JSON, for operators.

use super::{Execute, Exit, Failure};
use anyhow::anyhow;
use clap::Args;
use edgecoder_protocol::swarm::AnyMessage;
use edgecoder_protocol::{Envelope, Topic};
use std::io::Read;
use std::path::PathBuf;

/// Decode a captured swarm payload (the body of an MQTT message on an `ec/v1/...` topic) into
/// JSON: the envelope's header (version, kind, id, sender, send time), whether it is signed,
/// and the message. A payload the swarm would reject is reported with its reason code
/// (`truncated`, `wrong_version`, `bad_body`, …) and exit code 1.
///
/// Capture one with e.g. `mosquitto_sub -t 'ec/v1/agents/+/heartbeat' -C 1 > hb.bin`, or as hex
/// with `mosquitto_sub -F %x ...` and `--hex`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The payload file; `-` reads stdin.
    #[arg(default_value = "-")]
    pub file: PathBuf,
    /// The input is hex text (whitespace ignored), not raw bytes.
    #[arg(long)]
    pub hex: bool,
    /// The topic it was captured on: also check that the message belongs there (its kind, and
    /// on an agent's own topics, its sender).
    #[arg(long)]
    pub topic: Option<String>,
    /// One line of JSON instead of indented JSON.
    #[arg(long)]
    pub compact: bool,
}

impl Execute for DecodeArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let input = self.read()?;
        let payload = if self.hex { parse_hex(&input)? } else { input };
        let topic = match &self.topic {
            Some(text) => Some(Topic::parse(text).map_err(|e| Failure::new(Exit::Usage, anyhow!("--topic {text}: {e}")))?),
            None => None,
        };
        let rejected = |code: &str, error: &dyn std::fmt::Display| {
            Failure::new(Exit::Failed, anyhow!("rejected payload ({code}): {error}"))
        };
        let raw = Envelope::parse(&payload).map_err(|e| rejected(e.code(), &e))?;
        if let Some(topic) = &topic {
            topic.admits(&raw.envelope).map_err(|e| rejected("wrong_topic", &e))?;
        }
        let message = AnyMessage::decode(&raw).map_err(|e| rejected(e.code(), &e))?;
        let shown = serde_json::json!({
            "bytes": payload.len(),
            "envelope": raw.envelope,
            "signed": raw.signature.is_some(),
            "topic": topic.map(|t| t.to_string()),
            "message": message,
        });
        let text = if self.compact { serde_json::to_string(&shown) } else { serde_json::to_string_pretty(&shown) };
        println!("{}", text.map_err(|e| Failure::new(Exit::Failed, anyhow!("cannot print JSON: {e}")))?);
        Ok(Exit::Ok)
    }
}

impl DecodeArgs {
    fn read(&self) -> Result<Vec<u8>, Failure> {
        let mut bytes = Vec::new();
        let result = if self.file.as_os_str() == "-" {
            std::io::stdin().read_to_end(&mut bytes).map(|_| ())
        } else {
            std::fs::File::open(&self.file).and_then(|mut f| f.read_to_end(&mut bytes)).map(|_| ())
        };
        result.map_err(|e| Failure::new(Exit::Io, anyhow!("cannot read {}: {e}", self.file.display())))?;
        Ok(bytes)
    }
}

fn parse_hex(text: &[u8]) -> Result<Vec<u8>, Failure> {
    let digits: Vec<u8> = text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    let bad = |why: String| Failure::new(Exit::Usage, anyhow!("--hex: {why} — pass hex digits, e.g. from `mosquitto_sub -F %x`"));
    if digits.len() % 2 != 0 {
        return Err(bad(format!("an odd number of hex digits ({})", digits.len())));
    }
    digits
        .chunks_exact(2)
        .enumerate()
        .map(|(i, pair)| {
            let text = std::str::from_utf8(pair).map_err(|_| bad(format!("a non-hex byte at digit {}", 2 * i)))?;
            u8::from_str_radix(text, 16).map_err(|_| bad(format!("`{text}` at digit {} is not hex", 2 * i)))
        })
        .collect()
}
