//! The interactive agent: plan → code → test → iterate on the device, with no network.
//!
//! A task ([`Task`]) goes through the state machine of [`machine`] with a model behind the
//! [`Coder`] trait ([`ModelCoder`] over the on-device engine) and the sandboxed executor; every
//! state change is an [`AgentEvent`] (serde, for JSON lines and SSE). Code outside the
//! executor's subset is never run: it goes to the on-disk [`CloudQueue`]. In workspace mode the
//! result is a [`Change`] shown as a unified diff and written only by [`Workspace::apply`].
//!
//! ```no_run
//! use edgecoder_daemon::agent::{Agent, AgentConfig, CloudQueue, Task, load_model};
//! use edgecoder_executor::Lang;
//! let coder = load_model("qwen2.5-coder-0.5b", None)?;
//! let agent = Agent::new(coder, AgentConfig::default(), Some(CloudQueue::from_env()?));
//! let task = Task::new("Write `add(a, b)`.\nassert add(2, 3) == 5", Lang::Python);
//! let report = agent.run(&task, &Default::default(), &mut |event| println!("{}", serde_json::to_string(event).unwrap()))?;
//! println!("{:?}: {}", report.state, report.message);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod coder;
pub mod context;
pub mod diagnose;
pub mod events;
pub mod machine;
pub mod prompt;
pub mod queue;
pub mod spec;
pub mod testsrc;
pub mod workspace;

#[cfg(test)]
mod machine_tests;

pub use coder::{Coder, CoderError, CoderRequest, Completion, End, ModelCoder};
pub use events::{AgentEvent, Detail, Diagnosis, Extraction, State, StopReason, TaskReport, TaskStats, TestSuite, TestsOrigin, Transition};
pub use machine::{Agent, AgentConfig, Budgets, Target, Task, TaskError, TestsInput, proposed_change};
pub use queue::{CloudQueue, NewEntry, QueueEntry, QueueError, Review, Stage};
pub use spec::TaskSpec;
pub use workspace::{Applied, Change, Workspace, WorkspaceError};

use edgecoder_model::engine::{CancelToken, LoadOptions, Model};
use edgecoder_ota::fleet::ModelUse;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;

/// Why a model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The id is neither a file nor an installed model.
    #[error("{0}")]
    NotFound(String),
    /// The engine could not load the file.
    #[error("cannot load {}: {source}", path.display())]
    Engine {
        /// The file.
        path: PathBuf,
        /// The engine's error.
        source: edgecoder_model::engine::EngineError,
    },
}

/// The GGUF file of `model` for `by`: an existing path, else a model id — the fleet-installed
/// slot when the fleet lets `by` use it, else the catalog copy, installed first when missing.
pub fn model_path(model: &str, by: ModelUse) -> Result<PathBuf, LoadError> {
    let path = PathBuf::from(model);
    if path.is_file() {
        return Ok(path);
    }
    let store = edgecoder_ota::ModelStore::from_env().map_err(|e| LoadError::NotFound(format!("cannot find the model store: {e}")))?;
    match store.current(model, by) {
        Ok((path, _)) => return Ok(path),
        Err(withheld @ edgecoder_ota::OtaError::Withheld { .. }) if edgecoder_ota::catalog::find(model).is_err() => {
            return Err(LoadError::NotFound(withheld.to_string()));
        }
        Err(_) => {}
    }
    store.ensure(model).map_err(|e| LoadError::NotFound(format!("{model:?} is neither a GGUF file nor a model that could be installed: {e}")))
}

/// Loads `model` (a catalog id or a GGUF path) as a [`ModelCoder`] named after it.
pub fn load_model(model: &str, threads: Option<usize>) -> Result<ModelCoder, LoadError> {
    let path = model_path(model, ModelUse::Ide)?;
    let mut options = LoadOptions::default();
    if let Some(threads) = threads {
        options.threads = threads.max(1);
    }
    let loaded = Model::load_with(&path, options).map_err(|source| LoadError::Engine { path: path.clone(), source })?;
    Ok(ModelCoder::new(loaded, model))
}

/// A task running on its own thread: its events, a way to cancel it, and its end.
pub struct TaskHandle {
    /// The events, in order; the channel closes after `Finished`.
    pub events: mpsc::Receiver<AgentEvent>,
    /// Cancels the task at its next token or step.
    pub cancel: CancelToken,
    join: std::thread::JoinHandle<Result<TaskReport, TaskError>>,
}

impl TaskHandle {
    /// Waits for the task's end.
    pub fn wait(self) -> Result<TaskReport, TaskError> {
        self.join.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    }
}

/// Starts `task` on a new thread (what the daemon's `POST /agent/tasks` and the MCP tool call);
/// read the events from the handle.
pub fn spawn<C: Coder + Send + Sync + 'static>(agent: Arc<Agent<C>>, task: Task) -> std::io::Result<TaskHandle> {
    let (tx, events) = mpsc::channel();
    let cancel = CancelToken::new();
    let token = cancel.clone();
    let join = std::thread::Builder::new()
        .name(format!("agent-{}", task.id))
        .spawn(move || agent.run(&task, &token, &mut |event| drop(tx.send(event.clone()))))?;
    Ok(TaskHandle { events, cancel, join })
}
