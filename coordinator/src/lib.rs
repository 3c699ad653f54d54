//! The logic-only swarm coordinator: the durable job queue with leases, a DAG of subtasks per
//! job and a hash-chained audit log (in an embedded redb file or in PostgreSQL), the agent
//! registry, the versioned policy store, and the MQTT service that hands agents their work.
//!
//! It never runs a model: decomposition and escalation go to the inference service.

pub mod audit;
pub mod bench;
pub mod dashboard;
pub mod features;
mod fsutil;
pub mod http;
pub mod merge;
pub mod model;
pub mod planner;
pub mod policy;
pub mod registry;
pub mod rollout;
pub mod service;
pub mod simulate;
pub mod snapshots;
pub mod store;
