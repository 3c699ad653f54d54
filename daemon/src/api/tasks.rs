//! The daemon's agent tasks: each runs on a thread of its own, and its model calls go through
//! the `edgecoder-local` worker queue with the chat requests ([`EngineCoder`]). Every event is
//! kept, so a late subscriber gets the history first; the diff of a workspace task is written
//! only by [`AgentTasks::apply`].

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use edgecoder_executor::{Isolation, Limits};
use edgecoder_model::chat::ChatMessage;
use edgecoder_model::engine::CancelToken;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use utoipa::ToSchema;

use super::ApiError;
use crate::agent::coder::{self, Coder, CoderError, CoderRequest, Completion};
use crate::agent::{
    Agent, AgentConfig, AgentEvent, CloudQueue, Detail, State, Task, TaskReport, TaskSpec, WorkspaceError, proposed_change,
};
use crate::providers::local::{LoadedModel, LocalProvider};
use crate::providers::{ProviderError, strip_tag};
use crate::server::metrics::Metrics;

/// Finished tasks kept for late readers; older ones are forgotten first.
const KEEP_FINISHED: usize = 64;

/// The agent's model calls on the `edgecoder-local` engine thread, queued with chat requests.
pub struct EngineCoder {
    local: Arc<LocalProvider>,
    model: Arc<LoadedModel>,
}

enum Piece {
    Text(String),
    End(Result<Completion, CoderError>),
}

impl Coder for EngineCoder {
    fn name(&self) -> &str {
        &self.model.info.id
    }

    fn count_tokens(&self, messages: &[ChatMessage]) -> Result<usize, CoderError> {
        coder::count_tokens(self.model.engine(), messages)
    }

    fn complete(&self, request: &CoderRequest, on_text: &mut dyn FnMut(&str)) -> Result<Completion, CoderError> {
        let (pieces, received) = std::sync::mpsc::channel();
        let call = request.clone();
        self.local
            .run_on_engine(self.model.clone(), move |loaded| {
                let mut forward = |text: &str| {
                    if pieces.send(Piece::Text(text.to_owned())).is_err() {
                        call.cancel.cancel();
                    }
                };
                let result = coder::complete(loaded.engine(), &call, &mut forward);
                let _ = pieces.send(Piece::End(result));
            })
            .map_err(|e| CoderError::Unavailable(e.to_string()))?;
        for piece in received {
            match piece {
                Piece::Text(text) => on_text(&text),
                Piece::End(result) => return result,
            }
        }
        Err(CoderError::Unavailable("the engine thread dropped the call (see the daemon log)".into()))
    }
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// The agent is working.
    #[default]
    Running,
    /// The agent finished (see the report's state); a workspace diff waits for apply/reject.
    Finished,
    /// The diff was written.
    Applied,
    /// The diff was rejected; nothing was written.
    Rejected,
}

/// Everything a task has produced so far.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Every event, in order.
    pub events: Vec<AgentEvent>,
    /// Where the task is.
    pub status: TaskStatus,
    /// The report, once finished.
    pub report: Option<TaskReport>,
}

/// One task of the daemon.
pub struct TaskEntry {
    /// The task's id.
    pub id: String,
    task: Task,
    progress: watch::Sender<Progress>,
    cancel: CancelToken,
}

impl TaskEntry {
    /// A receiver of the task's progress (the whole history is in it).
    pub fn subscribe(&self) -> watch::Receiver<Progress> {
        self.progress.subscribe()
    }

    /// What `GET /agent/tasks/{id}` answers.
    pub fn view(&self) -> TaskView {
        let progress = self.progress.borrow();
        let mut state = State::Plan;
        let mut steps = Vec::new();
        for event in &progress.events {
            if let AgentEvent::Transition(t) = event {
                state = t.to;
                steps.push(step_line(t));
            }
        }
        TaskView {
            id: self.id.clone(),
            status: progress.status,
            state: state.label().to_owned(),
            events: progress.events.len(),
            steps,
            report: progress.report.clone(),
        }
    }
}

fn step_line(t: &crate::agent::Transition) -> String {
    let head = format!("{} → {} (iteration {}, {:.1} s)", t.from.label(), t.to.label(), t.iteration, t.elapsed_ms as f64 / 1000.0);
    let what = match &t.detail {
        Detail::Planned { tests: Some(tests), .. } => format!("tests: {}", tests.origin.describe()),
        Detail::Planned { tests: None, .. } => "tests: none, the code will be unverified".into(),
        Detail::Coded { code, .. } => format!("{} lines of code", code.lines().count()),
        Detail::Tested { report, .. } => format!("{}/{} tests passed", report.passed(), report.tests.len()),
        Detail::Diagnosed { diagnosis } => diagnosis.summary.clone(),
        Detail::Passed { diff } => if diff.is_some() { "a diff to apply".into() } else { "tests passed".into() },
        Detail::Refused { message, .. } | Detail::Stopped { message, .. } => message.clone(),
    };
    format!("{head}: {what}")
}

/// A task as `GET /agent/tasks/{id}` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskView {
    /// The task's id.
    pub id: String,
    /// Where the task is in its life.
    pub status: TaskStatus,
    /// The agent's state (`plan`, `code`, `test`, `observe`, `fix`, `done`, `gave_up`,
    /// `queued_for_cloud`).
    pub state: String,
    /// Events so far (`GET /agent/tasks/{id}/events` streams them).
    pub events: usize,
    /// One line per state change: the event summary.
    pub steps: Vec<String>,
    /// The final report (code, tests, last test report, diff, counters), once finished.
    #[schema(value_type = Option<Object>)]
    pub report: Option<TaskReport>,
}

/// The daemon's agent tasks.
pub struct AgentTasks {
    tasks: Mutex<VecDeque<Arc<TaskEntry>>>,
    max_running: usize,
    metrics: Arc<Metrics>,
}

fn conflict(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::CONFLICT, message)
}

/// The status and message of a workspace error.
pub fn workspace_error(error: WorkspaceError) -> ApiError {
    let status = match &error {
        WorkspaceError::Changed(_) => StatusCode::CONFLICT,
        WorkspaceError::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        WorkspaceError::BadRoot { .. } | WorkspaceError::Outside { .. } | WorkspaceError::NoTarget(_) => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, error.to_string())
}

impl AgentTasks {
    /// No tasks yet; at most `max_running` run at once; their test runs and tokens are counted
    /// in `metrics`.
    pub fn new(max_running: usize, metrics: Arc<Metrics>) -> Self {
        AgentTasks { tasks: Mutex::default(), max_running: max_running.max(1), metrics }
    }

    /// The task `id`, or 404.
    pub fn get(&self, id: &str) -> Result<Arc<TaskEntry>, ApiError> {
        let tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        tasks.iter().find(|t| t.id == id).cloned().ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, format!("no agent task {id:?} (finished tasks are forgotten after {KEEP_FINISHED} newer ones)"))
        })
    }

    /// Checks `spec` and starts it on the local model (`model`, when given, must be the loaded
    /// one): 400 for a bad task or a path outside the workspace, 503 without a model, 429 when
    /// `max_running` tasks run or the model's queue is full.
    pub fn start(
        &self,
        local: &Arc<LocalProvider>,
        spec: &TaskSpec,
        config: AgentConfig,
        model: Option<&str>,
    ) -> Result<Arc<TaskEntry>, ApiError> {
        let loaded = local.current()?;
        if let Some(model) = model.map(strip_tag).filter(|m| !m.is_empty() && *m != loaded.info.id) {
            return Err(ProviderError::UnknownModel {
                model: model.to_owned(),
                available: format!("{} (load another with `edgecoder models load ID`)", loaded.info.id),
            }
            .into());
        }
        let task = spec.task().map_err(workspace_error)?;
        // Model-written code never runs inside the daemon: a task's test runs happen in sandbox
        // children (Landlock, seccomp, rlimits; a warm child costs ≈ 5 ms).
        let config = AgentConfig { limits: Limits { isolation: Isolation::Process, ..config.limits }, ..config };
        let queue = CloudQueue::from_env().map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
        let mut agent = Agent::new(EngineCoder { local: local.clone(), model: loaded }, config, Some(queue));
        if task.target.is_some() {
            agent = agent.with_retrieval(crate::retrieval::RetrieverPool::shared());
        }
        agent.validate(&task).map_err(|e| ApiError::bad_param("task", e.to_string()))?;
        let mut tasks = self.tasks.lock().unwrap_or_else(|e| e.into_inner());
        let running = tasks.iter().filter(|t| t.progress.borrow().status == TaskStatus::Running).count();
        if running >= self.max_running {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("{running} agent tasks are already running (agent_tasks in the daemon's config); retry when one finishes"),
            ));
        }
        if local.waiting() >= local.capacity() {
            return Err(ProviderError::Busy { waiting: local.waiting() }.into());
        }
        let entry = Arc::new(TaskEntry {
            id: task.id.clone(),
            task: task.clone(),
            progress: watch::Sender::new(Progress::default()),
            cancel: CancelToken::new(),
        });
        let worker = entry.clone();
        let metrics = self.metrics.clone();
        let span = tracing::info_span!("agent_http_task", task_id = %entry.id);
        std::thread::Builder::new()
            .name(format!("agent-{}", entry.id))
            .spawn(move || {
                let _entered = span.enter();
                let sink = &mut |event: &AgentEvent| {
                    metrics.agent_event(task.lang, event);
                    worker.progress.send_modify(|p| p.events.push(event.clone()))
                };
                let outcome = agent.run(&task, &worker.cancel, sink);
                worker.progress.send_modify(|p| {
                    p.status = TaskStatus::Finished;
                    p.report = outcome.ok();
                });
            })
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, format!("cannot start the task's thread: {e}")))?;
        tasks.push_back(entry.clone());
        let mut finished = tasks.iter().filter(|t| t.progress.borrow().status != TaskStatus::Running).count();
        while finished > KEEP_FINISHED {
            let Some(at) = tasks.iter().position(|t| t.progress.borrow().status != TaskStatus::Running) else { break };
            tasks.remove(at);
            finished -= 1;
        }
        Ok(entry)
    }

    /// Writes the task's diff (atomically, with a backup; the workspace checks every path
    /// again): 409 unless the task finished `done` in workspace mode and was neither applied
    /// nor rejected, or when the file changed since the agent read it.
    pub fn apply(&self, entry: &TaskEntry) -> Result<AgentEvent, ApiError> {
        self.decide(entry, TaskStatus::Applied, |task, report| {
            let change = proposed_change(task, report).ok_or_else(|| nothing_to_decide(task, report))?;
            let workspace = &task.target.as_ref().expect("a change has a target").workspace;
            let applied = workspace.apply(&change).map_err(workspace_error)?;
            Ok(AgentEvent::Applied { files: vec![applied.file], backups: applied.backup.into_iter().collect() })
        })
    }

    /// Drops the task's diff; nothing is written. 409 as for [`AgentTasks::apply`].
    pub fn reject(&self, entry: &TaskEntry) -> Result<AgentEvent, ApiError> {
        self.decide(entry, TaskStatus::Rejected, |task, report| {
            proposed_change(task, report).ok_or_else(|| nothing_to_decide(task, report))?;
            Ok(AgentEvent::Rejected { reason: "rejected by the client; nothing was written".into() })
        })
    }

    fn decide(
        &self,
        entry: &TaskEntry,
        to: TaskStatus,
        act: impl FnOnce(&Task, &TaskReport) -> Result<AgentEvent, ApiError>,
    ) -> Result<AgentEvent, ApiError> {
        let mut outcome = None;
        entry.progress.send_if_modified(|p| {
            let result = match (p.status, &p.report) {
                (TaskStatus::Running, _) => Err(conflict(format!("task {} is still running: wait for its `finished` event", entry.id))),
                (TaskStatus::Applied, _) => Err(conflict(format!("task {} was already applied", entry.id))),
                (TaskStatus::Rejected, _) => Err(conflict(format!("task {} was rejected, so nothing can be applied: run the task again", entry.id))),
                (TaskStatus::Finished, None) => Err(conflict(format!("task {} ended without a report", entry.id))),
                (TaskStatus::Finished, Some(report)) => act(&entry.task, report),
            };
            let changed = if let Ok(event) = &result {
                p.events.push(event.clone());
                p.status = to;
                true
            } else {
                false
            };
            outcome = Some(result);
            changed
        });
        outcome.expect("send_if_modified runs its closure")
    }

    /// Stops a running task at its next token or step (it then finishes as `gave_up`); 409
    /// when it has finished.
    pub fn cancel(&self, entry: &TaskEntry) -> Result<(), ApiError> {
        if entry.progress.borrow().status != TaskStatus::Running {
            return Err(conflict(format!("task {} has already finished", entry.id)));
        }
        entry.cancel.cancel();
        Ok(())
    }
}

fn nothing_to_decide(task: &Task, report: &TaskReport) -> ApiError {
    if task.target.is_none() {
        conflict(format!("task {} has no workspace, so there is no diff to apply or reject (its code is in the report)", report.task_id))
    } else {
        conflict(format!("task {} ended in `{}`, so there is no diff to apply or reject", report.task_id, report.state.label()))
    }
}
