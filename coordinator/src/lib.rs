//! The logic-only swarm coordinator: the durable job queue with leases, a DAG of subtasks per
//! job and a hash-chained audit log, in an embedded redb file or in PostgreSQL.
//!
//! It never runs a model: decomposition and escalation go to the inference service.

pub mod audit;
pub mod model;
pub mod store;
