//! The headless swarm worker (`edgecoder worker`): enrols with a coordinator, receives its
//! policy, asks for work only while the policy allows (time windows, idle-only, CPU cap,
//! concurrency), and runs each subtask in the executor's process sandbox on its verified,
//! read-only snapshot. A device whose sandbox lacks a required layer refuses all work and says
//! why. Models offered on its `manifest` topic are installed when this device's own keys and
//! allowlists accept them (`models`). It never uses the interactive agent (`crate::agent`).

pub mod credentials;
pub mod device;
pub mod edit;
pub mod gate;
pub mod models;
pub mod session;
pub mod snapshot;
pub mod solve;
pub mod throttle;
