//! The EdgeCoder device: the `edgecoder` command-line interface and the `edgecoderd` daemon
//! (local API, model providers; the agent and swarm worker as their issues land).

pub mod agent;
pub mod api;
pub mod cli;
pub mod engine;
pub mod handshake;
pub mod mcp;
pub mod patch;
pub mod providers;
pub mod retrieval;
pub mod server;
pub mod worker;
