//! The agent's states and the events it streams: one [`AgentEvent::Transition`] per state
//! change, carrying what the step produced (plan, tests, code, test report, diagnosis, diff).
//! Every type is serde, so the stream can be printed as JSON lines or sent as SSE.

pub use edgecoder_executor::extract::Extraction;
use edgecoder_executor::{Lang, ReasonCode, TestReport};
use serde::{Deserialize, Serialize};

/// A state of the agent's loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Planning and settling which tests decide success.
    Plan,
    /// Writing the first version of the code.
    Code,
    /// Running the code against the tests in the executor.
    Test,
    /// Reading the test report: done, fix, or give up.
    Observe,
    /// Writing a corrected version from the failing test and its error.
    Fix,
    /// The tests ran and passed (terminal).
    Done,
    /// A budget ran out, the model failed, or the task was cancelled (terminal).
    GaveUp,
    /// The code is outside the on-device subset and was queued for cloud review (terminal).
    QueuedForCloud,
}

impl State {
    /// Whether the loop ends in this state.
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Done | State::GaveUp | State::QueuedForCloud)
    }

    /// The state's name as written in events (`plan`, `gave_up`, ...).
    pub fn label(self) -> &'static str {
        match self {
            State::Plan => "plan",
            State::Code => "code",
            State::Test => "test",
            State::Observe => "observe",
            State::Fix => "fix",
            State::Done => "done",
            State::GaveUp => "gave_up",
            State::QueuedForCloud => "queued_for_cloud",
        }
    }
}

/// Where the tests that decide success came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TestsOrigin {
    /// A test file the user gave (`--tests`, or found beside the file in the workspace).
    UserFile,
    /// A `check(candidate)` function in the task.
    TaskCheck,
    /// Examples in the task: doctests (`>>> f(1)` / `2`) or `f(1) == 2` lines.
    TaskExamples,
    /// `assert` lines in the task.
    TaskAsserts,
    /// Written by the model because the task had none: shown to the user, and may be wrong.
    ModelWritten,
}

impl TestsOrigin {
    /// A few words for the terminal.
    pub fn describe(self) -> &'static str {
        match self {
            TestsOrigin::UserFile => "your test file",
            TestsOrigin::TaskCheck => "the check() in the task",
            TestsOrigin::TaskExamples => "the examples in the task",
            TestsOrigin::TaskAsserts => "the asserts in the task",
            TestsOrigin::ModelWritten => "tests written by the model (check them: they may be wrong)",
        }
    }
}

/// The tests that decide whether the task is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestSuite {
    /// The test source, run after the solution in the same namespace.
    pub source: String,
    /// Where it came from.
    pub origin: TestsOrigin,
}

/// What went wrong in a failed test run, as shown to the model in the fix prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// One line: which test failed and how.
    pub summary: String,
    /// The failing test's name (`assert#2`, `test_empty`, `check`), when a test failed.
    pub test: Option<String>,
    /// The failing test's source line, when known.
    pub test_source: Option<String>,
    /// The error: `AssertionError`, `NameError: name 'x' is not defined`, a limit, ...
    pub error: String,
    /// What the left side of a failing `assert a == b` evaluated to, when it could be computed.
    pub got: Option<String>,
}

/// Why the agent gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The maximum number of test runs was reached with tests still failing.
    MaxIterations,
    /// The token budget ran out.
    TokenBudget,
    /// The time budget ran out.
    TimeBudget,
    /// The task was cancelled.
    Cancelled,
    /// The task had no tests and the model wrote none that run: the code ran without error
    /// but is unverified.
    NoTests,
    /// The model failed (an engine error) or the prompt did not fit the context.
    ModelError,
}

/// What a transition carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Detail {
    /// Plan → Code: the plan (empty when planning is off) and the tests that will decide.
    Planned {
        /// The plan text.
        plan: String,
        /// The tests; `None` when the task has none and the model wrote none that run: the code
        /// is then only run, and handed back unverified (`GaveUp` with `no_tests`).
        tests: Option<TestSuite>,
    },
    /// Code → Test or Fix → Test: the code that will be run.
    Coded {
        /// The code, as it will be written.
        code: String,
        /// How it was found in the reply.
        extraction: Extraction,
        /// A unified diff from the previous version (fixes only).
        diff_from_previous: Option<String>,
    },
    /// Test → Observe: the executor's report.
    Tested {
        /// The report of every test.
        report: TestReport,
        /// Tests ran and all passed.
        passed: bool,
    },
    /// Observe → Fix, or Observe → GaveUp: what failed.
    Diagnosed {
        /// The diagnosis.
        diagnosis: Diagnosis,
    },
    /// Observe → Done: the tests passed; the diff to apply in workspace mode.
    Passed {
        /// The unified diff of the workspace change, in workspace mode.
        diff: Option<String>,
    },
    /// Code/Fix → QueuedForCloud: the code is outside the on-device subset.
    Refused {
        /// The reason code.
        reason: ReasonCode,
        /// The offending construct.
        construct: String,
        /// Its line in the code.
        line: u32,
        /// The message for the user.
        message: String,
        /// The id of the cloud-review queue entry (`edgecoder queue`), when queued.
        queue_id: Option<String>,
    },
    /// Any state → GaveUp: why.
    Stopped {
        /// Why.
        reason: StopReason,
        /// A sentence for the user that names what to change.
        message: String,
    },
}

/// One state change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// The test run this belongs to (1 for the first code).
    pub iteration: u32,
    /// Milliseconds since the task started.
    pub elapsed_ms: u64,
    /// Tokens generated so far in this task.
    pub tokens_generated: u64,
    /// What the step produced.
    pub detail: Detail,
}

/// Counters of one task.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskStats {
    /// Test runs (code versions tested).
    pub iterations: u32,
    /// Model calls.
    pub generations: u32,
    /// Prompt tokens over all model calls.
    pub prompt_tokens: u64,
    /// Generated tokens over all model calls.
    pub generated_tokens: u64,
    /// Time to the first token of the first model call, in milliseconds.
    pub first_token_ms: Option<u64>,
    /// Generated tokens per second of decoding, over all model calls.
    pub decode_tokens_per_s: f64,
    /// Wall time of the task in milliseconds.
    pub elapsed_ms: u64,
}

/// The end of a task: its final state and everything needed to apply or report it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskReport {
    /// The task's id.
    pub task_id: String,
    /// The terminal state.
    pub state: State,
    /// One sentence for the user.
    pub message: String,
    /// The last code version (the tested one in `Done`).
    pub code: Option<String>,
    /// The first code version (for single-shot measurements).
    pub first_code: Option<String>,
    /// The tests that decided.
    pub tests: Option<TestSuite>,
    /// The last test report.
    pub last_report: Option<TestReport>,
    /// Workspace mode: the file the change is for, relative to the workspace.
    pub target: Option<String>,
    /// Workspace mode: the unified diff to apply (only in `Done`).
    pub diff: Option<String>,
    /// The cloud-review queue entry, when queued.
    pub queue_id: Option<String>,
    /// The reason code, when queued.
    pub reason: Option<ReasonCode>,
    /// Counters.
    pub stats: TaskStats,
}

/// One event of a task's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum AgentEvent {
    /// The task started.
    Started {
        /// The task's id.
        task_id: String,
        /// The task text.
        task: String,
        /// The language of the code.
        lang: Lang,
        /// The model's name.
        model: String,
        /// Workspace mode: the file being edited, relative to the workspace.
        target: Option<String>,
    },
    /// Text the model produced in the current state (streamed as it is generated).
    Token {
        /// The state the model is working in.
        state: State,
        /// The text.
        text: String,
    },
    /// A state change.
    Transition(Transition),
    /// The task ended.
    Finished(TaskReport),
    /// Workspace mode: the diff was written (after the user's Apply).
    Applied {
        /// The files written, relative to the workspace.
        files: Vec<String>,
        /// Where the previous contents were saved.
        backups: Vec<String>,
    },
    /// Workspace mode: the diff was not written.
    Rejected {
        /// Why (the user said no, or no one could be asked).
        reason: String,
    },
    /// Workspace mode with retrieval, before Plan: the workspace chunks put in the prompt.
    Retrieved {
        /// The ranking used (`fused`, `bm25`; empty when retrieval failed).
        mode: String,
        /// The chunks, best first.
        chunks: Vec<super::context::ContextChunk>,
        /// Tokens of the prompt section.
        tokens: usize,
        /// Notes (BM25 only because the embedding model is missing, index recoveries, errors).
        notes: Vec<String>,
    },
}

impl AgentEvent {
    /// The event's kind as written in its `event` field (`started`, `token`, `transition`,
    /// `finished`, `applied`, `rejected`, `retrieved`).
    pub fn kind(&self) -> &'static str {
        match self {
            AgentEvent::Started { .. } => "started",
            AgentEvent::Token { .. } => "token",
            AgentEvent::Transition(_) => "transition",
            AgentEvent::Finished(_) => "finished",
            AgentEvent::Applied { .. } => "applied",
            AgentEvent::Rejected { .. } => "rejected",
            AgentEvent::Retrieved { .. } => "retrieved",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_as_tagged_json() {
        let event = AgentEvent::Transition(Transition {
            from: State::Observe,
            to: State::GaveUp,
            iteration: 3,
            elapsed_ms: 10,
            tokens_generated: 99,
            detail: Detail::Stopped { reason: StopReason::MaxIterations, message: "m".into() },
        });
        let json = serde_json::to_string(&event).unwrap();
        assert!(json.starts_with(r#"{"event":"transition","from":"observe","to":"gave_up""#), "{json}");
        assert!(json.contains(r#""detail":{"kind":"stopped","reason":"max_iterations""#), "{json}");
        assert_eq!(serde_json::from_str::<AgentEvent>(&json).unwrap(), event);
        assert_eq!(event.kind(), "transition");
        assert!(State::QueuedForCloud.is_terminal() && !State::Fix.is_terminal());
        assert_eq!(State::GaveUp.label(), "gave_up");
    }
}
