//! The loop itself: Plan → Code → Test → Observe → (Fix → Test …) → Done | GaveUp |
//! QueuedForCloud, under an iteration, token and time budget. Each state change is emitted as
//! an [`AgentEvent::Transition`] before the next step starts.

use super::coder::{Coder, CoderRequest, End};
use super::diagnose::diagnose;
use super::events::{AgentEvent, Detail, Diagnosis, State, StopReason, TaskReport, TaskStats, TestSuite, Transition};
use edgecoder_executor::extract::{extract_code, starts_code};
use super::prompt::{self, Conversation};
use super::queue::{CloudQueue, NewEntry};
use super::workspace::{Change, Workspace};
use super::testsrc;
use edgecoder_executor::pysrc;
use edgecoder_executor::{Lang, Limits, TestReport};
use edgecoder_model::chat::ChatMessage;
use edgecoder_model::engine::CancelToken;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::retrieval::RetrieverPool;

/// How much a task may use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budgets {
    /// Most test runs (code versions); 1 is single-shot.
    pub max_iterations: u32,
    /// Most tokens the model may generate over the whole task.
    pub max_tokens: u64,
    /// Most wall time for the whole task, in milliseconds.
    pub max_time_ms: u64,
}

impl Default for Budgets {
    fn default() -> Self {
        Budgets { max_iterations: 4, max_tokens: 2_048, max_time_ms: 600_000 }
    }
}

/// How the agent works.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// The budgets.
    pub budgets: Budgets,
    /// Ask the model for a short plan before the code.
    pub plan: bool,
    /// Context budget in tokens (prompt + answer); older fix turns are dropped to stay inside.
    pub context_tokens: usize,
    /// Executor limits of each test run.
    pub limits: Limits,
    /// Most tokens of a plan.
    pub plan_tokens: usize,
    /// Most tokens of model-written tests.
    pub tests_tokens: usize,
    /// Most tokens of one code answer.
    pub code_tokens: usize,
    /// Sampling temperature of fixes (the first code is greedy).
    pub fix_temperature: f32,
    /// Sampling temperature of a fresh start: when a fix repeats code already tried or fails the
    /// same test with the same error and value, the next attempt forgets the failed turns and samples a
    /// new answer to the original request (a sub-1B model rarely repairs code it keeps repeating,
    /// but a different sample often passes).
    pub restart_temperature: f32,
    /// Sampler seed.
    pub seed: u64,
    /// Tokens of workspace context (retrieved code and docs) in the prompt, in workspace mode
    /// when the agent has retrieval; 0 turns it off.
    pub retrieval_tokens: usize,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            budgets: Budgets::default(),
            plan: true,
            context_tokens: 3_072,
            limits: Limits { wall_time_ms: 5_000, ..Limits::default() },
            plan_tokens: 96,
            tests_tokens: 160,
            code_tokens: 512,
            fix_temperature: 0.3,
            restart_temperature: 0.8,
            seed: 0,
            retrieval_tokens: 512,
        }
    }
}

/// Which tests decide the task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestsInput {
    /// These tests (a user's file).
    Given(TestSuite),
    /// The tests written in the task; when it has none, the model writes some first.
    FromTask,
}

/// The file a workspace task edits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The workspace.
    pub workspace: Workspace,
    /// The file, relative to the workspace.
    pub path: String,
    /// Its content when the task started (`None`: a new file).
    pub before: Option<String>,
}

/// A task for the agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The task's id.
    pub id: String,
    /// What to do.
    pub text: String,
    /// The language of the code.
    pub lang: Lang,
    /// Which tests decide.
    pub tests: TestsInput,
    /// Workspace mode: the file to edit.
    pub target: Option<Target>,
}

impl Task {
    /// A task with a fresh id, deciding by the tests in its text (or model-written ones).
    pub fn new(text: impl Into<String>, lang: Lang) -> Self {
        static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("t{millis}-{:x}-{n}", std::process::id());
        Task { id, text: text.into(), lang, tests: TestsInput::FromTask, target: None }
    }
}

/// A task the agent cannot start; nothing has run.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// The task text is empty.
    #[error("the task is empty: describe what the code should do")]
    EmptyTask,
    /// The given tests use something the executor will not run.
    #[error("the tests use `{construct}` ({code}) at line {line}: outside the on-device subset, so they cannot run here — rewrite them without it")]
    TestsOutsideSubset {
        /// Reason code.
        code: edgecoder_executor::ReasonCode,
        /// The construct.
        construct: String,
        /// Its line in the tests.
        line: u32,
    },
    /// The given test file has no tests.
    #[error("the test file has no tests: write bare asserts, test_* functions or check(candidate)")]
    NoTests,
    /// The iteration budget is zero.
    #[error("--max-iterations must be at least 1")]
    ZeroIterations,
}

/// The agent: a model, a configuration and (optionally) the cloud-review queue.
pub struct Agent<C> {
    coder: C,
    config: AgentConfig,
    queue: Option<CloudQueue>,
    retrieval: Option<Arc<RetrieverPool>>,
}

/// Why the loop stopped early.
struct Stop(StopReason, String);

impl<C: Coder> Agent<C> {
    /// An agent; refused code is written to `queue` when there is one.
    pub fn new(coder: C, config: AgentConfig, queue: Option<CloudQueue>) -> Self {
        Agent { coder, config, queue, retrieval: None }
    }

    /// The same agent searching the workspace (code and docs) before Plan and Code in
    /// workspace mode, with the indexes of `pool`.
    pub fn with_retrieval(mut self, pool: Arc<RetrieverPool>) -> Self {
        self.retrieval = Some(pool);
        self
    }

    /// The model.
    pub fn coder(&self) -> &C {
        &self.coder
    }

    /// The configuration.
    pub fn config(&self) -> &AgentConfig {
        &self.config
    }

    /// Checks a task before anything runs.
    pub fn validate(&self, task: &Task) -> Result<(), TaskError> {
        if task.text.trim().is_empty() {
            return Err(TaskError::EmptyTask);
        }
        if self.config.budgets.max_iterations == 0 {
            return Err(TaskError::ZeroIterations);
        }
        if let TestsInput::Given(suite) = &task.tests {
            if let Err(v) = edgecoder_executor::check(&suite.source, task.lang) {
                return Err(TaskError::TestsOutsideSubset { code: v.code, construct: v.construct, line: v.line });
            }
            let has_tests = suite.source.lines().map(str::trim).any(|l| {
                l.starts_with("assert") || l.starts_with("def test") || l.starts_with("check(") || l.starts_with("function test")
                    || l.starts_with("test(") || l.starts_with("it(")
            });
            if !has_tests {
                return Err(TaskError::NoTests);
            }
        }
        Ok(())
    }

    /// Runs a task to its end, passing every event to `sink`; cancelling `cancel` stops it at
    /// the next token or step (as `GaveUp`).
    pub fn run(&self, task: &Task, cancel: &CancelToken, sink: &mut dyn FnMut(&AgentEvent)) -> Result<TaskReport, TaskError> {
        self.validate(task)?;
        let span = tracing::info_span!("agent_task", task_id = %task.id, lang = task.lang.short_name());
        let _entered = span.enter();
        sink(&AgentEvent::Started {
            task_id: task.id.clone(),
            task: task.text.clone(),
            lang: task.lang,
            model: self.coder.name().to_owned(),
            target: task.target.as_ref().map(|t| t.path.clone()),
        });
        let started = Instant::now();
        let mut run = Run {
            agent: self,
            task,
            cancel,
            sink,
            state: State::Plan,
            started,
            deadline: started + Duration::from_millis(self.config.budgets.max_time_ms),
            iteration: 0,
            stats: TaskStats::default(),
            decode: (0, Duration::ZERO),
            first_code: None,
            code: None,
            tests: None,
            last_report: None,
            diff: None,
            queued: None,
        };
        let message = match run.execute() {
            Ok(message) => message,
            Err(Stop(reason, message)) => {
                let message = run.hold_for_review(reason, message);
                run.go(State::GaveUp, Detail::Stopped { reason, message: message.clone() });
                message
            }
        };
        let report = run.report(message);
        tracing::info!(state = report.state.label(), iterations = report.stats.iterations, "task finished");
        (run.sink)(&AgentEvent::Finished(report.clone()));
        Ok(report)
    }
}

/// One running task.
struct Run<'a, C> {
    agent: &'a Agent<C>,
    task: &'a Task,
    cancel: &'a CancelToken,
    sink: &'a mut dyn FnMut(&AgentEvent),
    state: State,
    started: Instant,
    deadline: Instant,
    iteration: u32,
    stats: TaskStats,
    /// Tokens decoded after the first of each call, and the time they took.
    decode: (u64, Duration),
    first_code: Option<String>,
    code: Option<String>,
    tests: Option<TestSuite>,
    last_report: Option<TestReport>,
    diff: Option<String>,
    queued: Option<(Option<edgecoder_executor::ReasonCode>, Option<String>)>,
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// The code the task asks to complete (Python): its fenced blocks, or the whole task when it
/// starts like code; without `check` and demo statements.
fn skeleton(task: &str, lang: Lang) -> String {
    if lang != Lang::Python {
        return String::new();
    }
    let fenced = task.contains("```");
    let first = task.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if !fenced && !starts_code(first, lang) && !first.starts_with('#') {
        return String::new();
    }
    pysrc::statements(&testsrc::code_of(task))
        .into_iter()
        .filter(|s| !matches!(&s.kind, pysrc::Kind::Def(name) if name == "check"))
        .filter(|s| !matches!(s.kind, pysrc::Kind::Demo | pysrc::Kind::Main))
        .map(|s| s.text)
        .collect()
}

impl<C: Coder> Run<'_, C> {
    fn config(&self) -> &AgentConfig {
        &self.agent.config
    }

    fn go(&mut self, to: State, detail: Detail) {
        let transition = Transition {
            from: self.state,
            to,
            iteration: self.iteration,
            elapsed_ms: elapsed_ms(self.started),
            tokens_generated: self.stats.generated_tokens,
            detail,
        };
        tracing::debug!(from = self.state.label(), to = to.label(), iteration = self.iteration, "transition");
        self.state = to;
        (self.sink)(&AgentEvent::Transition(transition));
    }

    fn check_budgets(&self) -> Result<u64, Stop> {
        let budgets = &self.config().budgets;
        if self.cancel.is_cancelled() {
            return Err(Stop(StopReason::Cancelled, "the task was cancelled".into()));
        }
        if Instant::now() >= self.deadline {
            return Err(Stop(
                StopReason::TimeBudget,
                format!("the time budget of {} s ran out: raise --timeout", budgets.max_time_ms / 1000),
            ));
        }
        let left = budgets.max_tokens.saturating_sub(self.stats.generated_tokens);
        if left == 0 {
            return Err(Stop(
                StopReason::TokenBudget,
                format!("the token budget of {} tokens ran out: raise --max-tokens", budgets.max_tokens),
            ));
        }
        Ok(left)
    }

    /// One model call, streaming its text as `Token` events.
    fn generate(&mut self, messages: Vec<ChatMessage>, reply_start: &str, max_tokens: usize, temperature: f32) -> Result<String, Stop> {
        let left = self.check_budgets()?;
        let request = CoderRequest {
            messages,
            reply_start: reply_start.to_owned(),
            max_tokens: max_tokens.min(usize::try_from(left).unwrap_or(usize::MAX)),
            temperature,
            seed: self.config().seed.wrapping_add(u64::from(self.iteration)),
            deadline: Some(self.deadline),
            cancel: self.cancel.clone(),
        };
        let state = self.state;
        let sink = &mut self.sink;
        let mut on_text = |text: &str| {
            if !text.is_empty() {
                sink(&AgentEvent::Token { state, text: text.to_owned() });
            }
        };
        let completion = self
            .agent
            .coder
            .complete(&request, &mut on_text)
            .map_err(|e| Stop(StopReason::ModelError, e.to_string()))?;
        self.stats.generations += 1;
        self.stats.prompt_tokens += completion.prompt_tokens as u64;
        self.stats.generated_tokens += completion.generated_tokens as u64;
        if self.stats.first_token_ms.is_none() {
            self.stats.first_token_ms = Some(u64::try_from(completion.time_to_first_token.as_millis()).unwrap_or(u64::MAX));
        }
        self.decode.0 += completion.generated_tokens.saturating_sub(1) as u64;
        self.decode.1 += completion.decode_time;
        match completion.end {
            End::Deadline => self.check_budgets().map(drop)?,
            End::Cancelled => return Err(Stop(StopReason::Cancelled, "the task was cancelled".into())),
            End::Complete | End::MaxTokens => {}
        }
        Ok(completion.text)
    }

    /// Workspace mode with retrieval: searches the workspace for the task and returns the
    /// prompt section (none when nothing fits or retrieval failed: the event says why).
    fn retrieve(&mut self) -> Option<String> {
        let (pool, target) = (self.agent.retrieval.as_ref()?, self.task.target.as_ref()?);
        if self.config().retrieval_tokens == 0 {
            return None;
        }
        let coder = &self.agent.coder;
        let count = |text: &str| coder.count_tokens(&[ChatMessage::user(text)]).unwrap_or(usize::MAX);
        let found = super::context::gather(pool, target.workspace.root(), &self.task.text, &target.path, self.config().retrieval_tokens, &count);
        let (event, text) = match found {
            Ok(c) => (AgentEvent::Retrieved { mode: c.mode, chunks: c.chunks, tokens: c.tokens, notes: c.notes }, Some(c.text)),
            Err(e) => {
                tracing::warn!(error = %e, "workspace retrieval failed; continuing without context");
                (AgentEvent::Retrieved { mode: String::new(), chunks: Vec::new(), tokens: 0, notes: vec![format!("retrieval failed: {e}")] }, None)
            }
        };
        (self.sink)(&event);
        text.filter(|t| !t.is_empty())
    }

    fn system(&self) -> ChatMessage {
        ChatMessage::system(prompt::system(self.task.lang, self.task.target.is_some()))
    }

    /// Plan: the plan text and the tests that decide (`None`: the task has none and the model
    /// wrote none that run, so the code will be handed back unverified).
    fn plan(&mut self, block: &str) -> Result<(String, Option<TestSuite>), Stop> {
        let lang = self.task.lang;
        let plan = if self.config().plan {
            let messages = vec![self.system(), ChatMessage::user(prompt::plan_request(block))];
            self.generate(messages, "", self.config().plan_tokens, 0.0)?.trim().to_owned()
        } else {
            String::new()
        };
        let tests = match &self.task.tests {
            TestsInput::Given(suite) => Some(suite.clone()),
            TestsInput::FromTask => testsrc::from_task(&self.task.text, lang),
        };
        let tests = match tests {
            Some(tests) => tests,
            None => {
                let messages = vec![self.system(), ChatMessage::user(prompt::tests_request(block, lang))];
                let reply = self.generate(messages, "", self.config().tests_tokens, 0.0)?;
                let code = extract_code(&reply, lang).map_or(reply, |e| e.code);
                let written = testsrc::from_model_reply(&code, lang, 5);
                if written.is_none() {
                    tracing::info!("no tests: the code will be run but not verified");
                }
                return Ok((plan, written));
            }
        };
        Ok((plan, Some(tests)))
    }

    /// Runs the loop; `Ok` carries the final message of a terminal state it reached itself.
    fn execute(&mut self) -> Result<String, Stop> {
        let task = self.task;
        let lang = task.lang;
        let current = task.target.as_ref().map(|t| (t.path.as_str(), t.before.as_deref().unwrap_or("")));
        let mut block = prompt::task_block(&task.text, lang, current);
        if let Some(context) = self.retrieve() {
            block.push_str("\n\n");
            block.push_str(&context);
        }
        let (plan, tests) = self.plan(&block)?;
        self.tests.clone_from(&tests);
        self.go(State::Code, Detail::Planned { plan: plan.clone(), tests: tests.clone() });

        let base = match &task.target {
            Some(target) => target.before.clone().unwrap_or_default(),
            None => skeleton(&task.text, lang),
        };
        let editing = task.target.is_some();
        let fresh_conversation =
            || Conversation::new(prompt::system(lang, editing), prompt::code_request(&block, &plan, tests.as_ref(), lang, editing));
        let mut conversation = fresh_conversation();
        let budgets = self.config().budgets.clone();
        let mut tried: Vec<String> = Vec::new();
        let mut last_failure: Option<(Option<String>, String, Option<String>)> = None;
        let mut restart = false;
        loop {
            self.iteration += 1;
            let coder = &self.agent.coder;
            let messages = conversation
                .fit(&|m| coder.count_tokens(m), self.config().context_tokens, self.config().code_tokens)
                .map_err(|e| Stop(StopReason::ModelError, e.to_string()))?;
            let temperature = match (self.iteration, restart) {
                (1, _) => 0.0,
                (_, true) => self.config().restart_temperature,
                (_, false) => self.config().fix_temperature,
            };
            // A fresh request for new code gets its answer started with the opening fence: the
            // model then writes code at once, instead of prose or a row of imports it never uses.
            // Not for a file edit, which keeps the earlier wording (see `prompt::system`).
            let reply_start = if conversation.has_turns() || editing {
                String::new()
            } else {
                format!("```{}\n", prompt::fence(lang))
            };
            let reply = self.generate(messages, &reply_start, self.config().code_tokens, temperature)?;
            let Some(extracted) = extract_code(&reply, lang) else {
                let diagnosis = Diagnosis {
                    summary: "the answer had no code".into(),
                    test: None,
                    test_source: None,
                    error: "the answer had no code block".into(),
                    got: None,
                };
                if self.iteration >= budgets.max_iterations {
                    return Err(Stop(StopReason::MaxIterations, "the model wrote no code: try a more precise task".into()));
                }
                self.go(State::Fix, Detail::Diagnosed { diagnosis });
                let ask = format!("Your answer had no code. Write the whole code in one ```{} block.", prompt::fence(lang));
                conversation.push(reply.chars().take(400).collect(), ask, "no code".into());
                continue;
            };
            let merged = if lang == Lang::Python { pysrc::merge(&base, &extracted.code) } else { extracted.code.clone() };
            let code = if task.target.is_some() || lang != Lang::Python { merged } else { pysrc::tidy(&merged) };
            if self.first_code.is_none() {
                self.first_code = Some(code.clone());
            }
            let previous = self.code.replace(code.clone());
            if let Err(violation) = edgecoder_executor::check(&code, lang) {
                return Ok(self.queue(&code, violation));
            }
            let diff_from_previous = previous.map(|p| Change { path: "code".into(), before: Some(p), after: code.clone() }.diff());
            self.go(State::Test, Detail::Coded { code: code.clone(), extraction: extracted.how, diff_from_previous });
            let runnable = if lang == Lang::Python { pysrc::tidy(&code) } else { code.clone() };
            let test_source = tests.as_ref().map_or("", |t| t.source.as_str());
            let report = edgecoder_executor::run_tests(&runnable, test_source, lang, &self.config().limits);
            let passed = report.all_passed();
            self.stats.iterations = self.iteration;
            self.last_report = Some(report.clone());
            self.go(State::Observe, Detail::Tested { report: report.clone(), passed });
            match &tests {
                Some(tests) if passed => {
                    self.diff = task.target.as_ref().map(|t| self.change(t, &code).diff());
                    self.go(State::Done, Detail::Passed { diff: self.diff.clone() });
                    let origin = tests.origin.describe();
                    return Ok(format!("done: {} passed ({origin}) after {} iteration(s)", report.passed(), self.iteration));
                }
                None if report.run.outcome.is_ok() => {
                    return Err(Stop(
                        StopReason::NoTests,
                        "the code runs, but nothing checked it: the task has no tests and the model wrote none that run \
                         — read it before use, or pass --tests FILE or put asserts in the task"
                            .into(),
                    ));
                }
                _ => {}
            }
            let diagnosis = diagnose(&report, &runnable, test_source, lang, &self.config().limits);
            if self.iteration >= budgets.max_iterations {
                let what = if tests.is_some() { "tests still fail" } else { "the code still fails to run" };
                return Err(Stop(
                    StopReason::MaxIterations,
                    format!(
                        "{what} after {} iteration(s): {} — raise --max-iterations or make the task more precise",
                        self.iteration, diagnosis.summary
                    ),
                ));
            }
            self.check_budgets()?;
            let failure = (diagnosis.test_source.clone(), diagnosis.error.clone(), diagnosis.got.clone());
            restart = tried.contains(&code) || last_failure.as_ref() == Some(&failure);
            tried.push(code.clone());
            last_failure = Some(failure);
            let summary = diagnosis.summary.chars().take(120).collect();
            let ask = prompt::fix_request(&diagnosis, lang);
            self.go(State::Fix, Detail::Diagnosed { diagnosis });
            if restart {
                tracing::info!(iteration = self.iteration, "no progress: the next attempt starts afresh");
                conversation = fresh_conversation();
            } else {
                conversation.push(prompt::assistant_code(&code, lang), ask, summary);
            }
        }
    }

    fn change(&self, target: &Target, code: &str) -> Change {
        Change { path: target.path.clone(), before: target.before.clone(), after: code.to_owned() }
    }

    /// A task given up on after its budget, with code the tests still fail: held in the
    /// cloud-review queue (when there is one) so the user may send it; the message says how.
    fn hold_for_review(&mut self, reason: StopReason, message: String) -> String {
        let budget_ran_out = matches!(reason, StopReason::MaxIterations | StopReason::TokenBudget | StopReason::TimeBudget);
        let (Some(queue), Some(code), true) = (self.agent.queue.as_ref(), self.code.clone(), budget_ran_out) else {
            return message;
        };
        let task = self.task;
        let entry = queue.push(NewEntry {
            task: task.text.clone(),
            lang: task.lang,
            code,
            why: edgecoder_protocol::review::ReviewReason::GaveUp,
            reason: None,
            construct: String::new(),
            line: 0,
            message: format!("gave up after {} iteration(s): {message}", self.iteration),
            model: self.agent.coder.name().to_owned(),
            workspace: task.target.as_ref().map(|t| t.workspace.root().to_owned()),
            file: task.target.as_ref().map(|t| t.path.clone()),
            before: task.target.as_ref().and_then(|t| t.before.clone()),
        });
        match entry {
            Ok(entry) => {
                self.queued = Some((None, Some(entry.id.clone())));
                format!("{message}; held in the cloud-review queue as {0} (`edgecoder queue send {0}` asks a larger model)", entry.id)
            }
            Err(e) => format!("{message}; it could not be held for cloud review: {e}"),
        }
    }

    /// Code outside the subset: queue it (when there is a queue) and end in `QueuedForCloud`.
    fn queue(&mut self, code: &str, violation: edgecoder_executor::SubsetViolation) -> String {
        let task = self.task;
        let queued = self.agent.queue.as_ref().map(|queue| {
            queue.push(NewEntry {
                task: task.text.clone(),
                lang: task.lang,
                code: code.to_owned(),
                why: edgecoder_protocol::review::ReviewReason::OutsideSubset,
                reason: Some(violation.code),
                construct: violation.construct.clone(),
                line: violation.line,
                message: violation.message.clone(),
                model: self.agent.coder.name().to_owned(),
                workspace: task.target.as_ref().map(|t| t.workspace.root().to_owned()),
                file: task.target.as_ref().map(|t| t.path.clone()),
                before: task.target.as_ref().and_then(|t| t.before.clone()),
            })
        });
        let head = format!(
            "uses `{}` ({}) at line {}: outside the on-device subset",
            violation.construct, violation.code, violation.line
        );
        let (queue_id, message) = match queued {
            Some(Ok(entry)) => (
                Some(entry.id.clone()),
                format!("{head}; queued for cloud review as {0}, held on this device until you send it (`edgecoder queue show {0}` shows what would leave, `edgecoder queue send {0}` sends it)", entry.id),
            ),
            Some(Err(e)) => (None, format!("{head}; it could not be queued for cloud review: {e}")),
            None => (None, format!("{head}; not queued (this run has no cloud-review queue)")),
        };
        self.queued = Some((Some(violation.code), queue_id.clone()));
        self.go(
            State::QueuedForCloud,
            Detail::Refused {
                reason: violation.code,
                construct: violation.construct,
                line: violation.line,
                message: message.clone(),
                queue_id,
            },
        );
        message
    }

    fn report(&mut self, message: String) -> TaskReport {
        self.stats.elapsed_ms = elapsed_ms(self.started);
        let (n, t) = self.decode;
        self.stats.decode_tokens_per_s = if t.is_zero() { 0.0 } else { n as f64 / t.as_secs_f64() };
        TaskReport {
            task_id: self.task.id.clone(),
            state: self.state,
            message,
            code: self.code.clone(),
            first_code: self.first_code.clone(),
            tests: self.tests.clone(),
            last_report: self.last_report.clone(),
            target: self.task.target.as_ref().map(|t| t.path.clone()),
            diff: self.diff.clone(),
            queue_id: self.queued.as_ref().and_then(|q| q.1.clone()),
            reason: self.queued.as_ref().and_then(|q| q.0),
            stats: self.stats.clone(),
        }
    }
}

/// The change a finished workspace task proposes (`None` unless it is `Done` in workspace mode).
pub fn proposed_change(task: &Task, report: &TaskReport) -> Option<Change> {
    let target = task.target.as_ref()?;
    if report.state != State::Done {
        return None;
    }
    Some(Change { path: target.path.clone(), before: target.before.clone(), after: report.code.clone()? })
}
