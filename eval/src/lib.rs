//! EdgeCoder-Eval: runs code benchmarks through a [`Solver`] (the daemon's agent implements it)
//! and scores the answers with the benchmark's hidden tests in the sandboxed executor.
//!
//! The crate knows nothing about models: a solver gets a problem's visible part (for HumanEval,
//! the prompt with its docstring examples) and returns the code it ends with; this crate runs
//! the hidden `check()` (never shown to the solver), aggregates pass@1, iterations, cloud-queue
//! rate with reason codes, time to first token, tokens/s and wall time, and writes the reports.

pub mod humaneval;
pub mod report;

pub use humaneval::{Problem, hidden_check, load_problems};
pub use report::{Mode, Report, Row, Summary};

use edgecoder_executor::ReasonCode;
use serde::{Deserialize, Serialize};

/// Errors of loading a benchmark or writing its report.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// The data set cannot be found.
    #[error("{0}")]
    NoData(String),
    /// A file could not be read or written.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A line of the data set is not a problem.
    #[error("{}: line {line}: {source}", path.display())]
    BadLine {
        /// The file.
        path: std::path::PathBuf,
        /// The 1-based line.
        line: usize,
        /// The decoding error.
        source: serde_json::Error,
    },
    /// The report could not be encoded.
    #[error("cannot encode the report: {0}")]
    Encode(#[from] serde_json::Error),
}

/// What a solver did with one problem.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The first code it wrote (its single-shot answer), if any.
    pub first_code: Option<String>,
    /// The code it ended with, if any.
    pub final_code: Option<String>,
    /// Its final state (`done`, `gave_up`, `queued_for_cloud`, or `error`).
    pub state: String,
    /// Test runs it used.
    pub iterations: u32,
    /// The reason code when the code was routed to cloud review.
    pub reason: Option<ReasonCode>,
    /// Where its visible tests came from (`task_examples`, `model_written`, ...; `none` when it
    /// had none and its code was handed back unverified).
    pub visible_tests: String,
    /// Milliseconds to the first generated token.
    pub ttft_ms: Option<u64>,
    /// Tokens generated.
    pub generated_tokens: u64,
    /// Decode speed.
    pub decode_tokens_per_s: f64,
    /// Wall time in milliseconds.
    pub wall_ms: u64,
    /// An error that stopped the solver, if any.
    pub error: Option<String>,
}

/// Something that solves benchmark problems (the agent, in the daemon).
pub trait Solver {
    /// The model's name, for the report.
    fn model(&self) -> String;
    /// Solves one problem from its visible part.
    fn solve(&mut self, problem: &Problem) -> Attempt;
}
