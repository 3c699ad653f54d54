//! The inference service the coordinator calls over HTTP: it splits a job into subtasks
//! (`POST /v1/decompose`), does a subtask the agents could not (`POST /v1/escalate`) and
//! combines patches that conflict (`POST /v1/resolve`), with the larger model run by
//! `edgecoder-model` or with any OpenAI-compatible upstream.
//!
//! A model's decomposition is checked against the plan schema ([`decompose::PlanReply`] and its
//! rules); an invalid one is asked for again with the error shown to the model, and after the
//! last attempt the request fails with that error — there is no rule-based fallback. An
//! escalation's code is run against the subtask's tests in the executor before it is returned;
//! a resolved file must be free of conflict markers and, in the job's language, run (against
//! the job's tests when it is the only file).
//!
//! With API keys configured it is also the reference server of the cloud-review (handshake) API
//! (`review`): devices send what they could not do and get back a diff, checked in the executor.

pub mod backend;
pub mod decompose;
pub mod escalate;
pub mod resolve;
pub mod review;
pub mod server;

pub use backend::{Backend, BackendError, LocalModel, OpenAiUpstream, Turn};
pub use server::{ServerConfig, router};
