//! The EdgeCoder device: the `edgecoder` command-line interface today, the `edgecoderd` daemon
//! (local API, agent, swarm worker) as its issues land.

pub mod agent;
pub mod cli;
