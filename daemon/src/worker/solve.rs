//! Does one subtask: the local model writes code for it (with the outputs of the subtasks it
//! depends on as context), the code runs against the subtask's tests in the executor's process
//! sandbox, and in a micro-loop the failure goes back to the model for a fix. A subtask that
//! names a file of its snapshot edits that file and is answered with a patch ([`super::edit`]).

use super::edit::{Target, context_code};
use super::throttle::Throttle;
use edgecoder_executor::extract::{answer_shape, extract_code};
use edgecoder_model::chat::ChatMessage;
use edgecoder_model::engine::{CancelToken, GenerateParams, Model, Prompt};
use edgecoder_protocol::run::{Isolation, IsolationReport, Lang, Limits, TestReport, TestStatus};
use edgecoder_protocol::swarm::{SandboxLayers, Work, WorkMode, WorkOutcome};
use std::ops::ControlFlow;
use std::path::Path;

/// What writes code for a subtask.
pub trait Writer: Send + Sync {
    /// The model's id, announced in the hello.
    fn model_id(&self) -> &str;

    /// The reply to `messages`, at most `max_tokens` tokens; `between_tokens` runs after each
    /// piece of text (pacing), and `cancel` stops the generation.
    fn write(
        &self,
        messages: Vec<ChatMessage>,
        max_tokens: usize,
        cancel: &CancelToken,
        between_tokens: &mut dyn FnMut(),
    ) -> Result<String, String>;
}

/// The on-device model as a [`Writer`].
pub struct ModelWriter {
    model: Model,
    id: String,
}

impl ModelWriter {
    /// Wraps a loaded model named `id`.
    pub fn new(model: Model, id: &str) -> ModelWriter {
        ModelWriter { model, id: id.to_owned() }
    }
}

impl Writer for ModelWriter {
    fn model_id(&self) -> &str {
        &self.id
    }

    fn write(
        &self,
        messages: Vec<ChatMessage>,
        max_tokens: usize,
        cancel: &CancelToken,
        between_tokens: &mut dyn FnMut(),
    ) -> Result<String, String> {
        let params = GenerateParams { max_tokens, cancel: cancel.clone(), ..GenerateParams::default() };
        let mut text = String::new();
        crate::engine::stream(&self.model, Prompt::Chat(messages), params, &mut |piece| {
            text.push_str(piece);
            between_tokens();
            ControlFlow::Continue(())
        })
        .map_err(|e| e.to_string())?;
        Ok(text)
    }
}

/// How a subtask went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Solution {
    /// The outcome reported to the coordinator.
    pub outcome: WorkOutcome,
    /// The sandbox layers active in every run of the subtask (none when nothing ran).
    pub layers: SandboxLayers,
}

/// The layers an isolation report shows as active.
pub fn layers_of(report: Option<&IsolationReport>) -> SandboxLayers {
    let Some(report) = report else { return SandboxLayers::default() };
    let mut layers = SandboxLayers::default();
    if report.landlock.starts_with("fully_enforced") || report.landlock.starts_with("partially_enforced") {
        layers = layers.union(SandboxLayers::LANDLOCK);
    }
    if report.seccomp {
        // The filter refuses every socket call: no network.
        layers = layers.union(SandboxLayers::SECCOMP).union(SandboxLayers::NO_NETWORK);
    }
    if report.rlimits {
        layers = layers.union(SandboxLayers::RLIMITS);
    }
    if report.clean_env {
        layers = layers.union(SandboxLayers::CLEAN_ENV);
    }
    layers
}

/// Runs a trivial program in the process sandbox and returns the layers it had: what this
/// device can enforce on work.
pub fn probe_sandbox() -> (SandboxLayers, IsolationReport) {
    let limits = Limits { isolation: Isolation::Process, ..Limits::default() };
    let run = edgecoder_executor::run("1 + 1", Lang::Python, &limits);
    let report = run.isolation.clone().unwrap_or(IsolationReport {
        landlock: format!("not_enforced: the sandbox did not start ({:?})", run.outcome),
        seccomp: false,
        rlimits: false,
        clean_env: false,
    });
    (layers_of(Some(&report)), report)
}

fn fence(lang: Lang) -> &'static str {
    match lang {
        Lang::Python => "python",
        Lang::JavaScript => "javascript",
    }
}

fn language(lang: Lang) -> &'static str {
    match lang {
        Lang::Python => "Python",
        Lang::JavaScript => "JavaScript",
    }
}

fn system_prompt(lang: Lang, editing: bool) -> String {
    let restricted = "The code runs in a restricted interpreter: standard library only; no files, network, \
                      processes, threads or async.";
    let answer = format!("Answer with {} in one ```{} block and nothing else.", answer_shape(lang, editing), fence(lang));
    if editing {
        format!(
            "You edit one {} file for one subtask of a larger job. {restricted} Keep what the file already \
             has unless the subtask asks to change it. {answer}",
            language(lang)
        )
    } else {
        format!("You write {} code for one subtask of a larger job. {restricted} {answer}", language(lang))
    }
}

fn user_prompt(work: &Work, target: Option<&Target>) -> String {
    let mut prompt = format!("Subtask: {}\n", work.instruction.trim());
    if let WorkMode::MultiStep { step, of } = work.mode {
        prompt.push_str(&format!("This is step {step} of {of}.\n"));
    }
    match target {
        Some(Target { path, original: Some(text) }) => {
            prompt.push_str(&format!("\nThe file {path} now:\n```{}\n{}\n```\n", fence(work.lang), text.trim_end()));
        }
        Some(Target { path, original: None }) => prompt.push_str(&format!("\nThe file {path} is new: write all of it.\n")),
        None => {}
    }
    if !work.context.is_empty() {
        prompt.push_str("\nCode already written (it is available to your code; do not repeat it):\n");
        for item in &work.context {
            prompt.push_str(&format!("# {}\n```{}\n{}\n```\n", item.title, fence(work.lang), item.text.trim_end()));
        }
    }
    if let Some(tests) = &work.tests {
        prompt.push_str(&format!("\nTests it must pass:\n```{}\n{}\n```\n", fence(work.lang), tests.trim_end()));
    }
    prompt
}

/// The code of the subtasks this one depends on, run before its own (a dependency that edited
/// files contributes their new content, read against the snapshot at `root`).
fn prelude(work: &Work, root: &Path) -> String {
    work.context
        .iter()
        .map(|c| format!("{}\n", context_code(&c.text, root, work.lang, work.file.as_deref()).trim_end()))
        .collect()
}

/// Most tokens of one answer.
const MAX_TOKENS: usize = 1024;

/// Does `work` with `writer` on its snapshot, unpacked at `snapshot`; every run happens in the
/// process sandbox with at most `memory_limit_mb`, and `throttle` paces the work. `cancel` ends
/// it with `Released`. A subtask that names a file is answered with a patch of the snapshot.
pub fn solve(
    writer: &dyn Writer,
    work: &Work,
    snapshot: &Path,
    memory_limit_mb: u32,
    throttle: &Throttle,
    cancel: &CancelToken,
) -> Solution {
    let target = match work.file.as_deref().map(|file| Target::read(snapshot, file)).transpose() {
        Ok(target) => target,
        Err(reason) => return Solution { outcome: WorkOutcome::Failed { reason, report: None }, layers: SandboxLayers::default() },
    };
    let mut limits = work.limits.clone();
    limits.isolation = Isolation::Process;
    limits.memory_bytes = limits.memory_bytes.min(u64::from(memory_limit_mb) << 20);
    let versions = match work.mode {
        WorkMode::MicroLoop { max_iterations } => u32::from(max_iterations.max(1)),
        WorkMode::Step | WorkMode::MultiStep { .. } => 1,
    };
    let mut messages = vec![
        ChatMessage::system(system_prompt(work.lang, target.is_some())),
        ChatMessage::user(user_prompt(work, target.as_ref())),
    ];
    let prelude = prelude(work, snapshot);
    let mut layers: Option<SandboxLayers> = None;
    let mut last_failure = String::from("no attempt was made");
    let mut last_report = None;
    let released = |reason: &str| WorkOutcome::Released { reason: reason.to_owned() };
    for version in 1..=versions {
        if cancel.is_cancelled() {
            return Solution { outcome: released("the worker stopped taking work"), layers: layers.unwrap_or_default() };
        }
        let reply = match writer.write(messages.clone(), MAX_TOKENS, cancel, &mut || {
            throttle.pace();
        }) {
            Ok(reply) => reply,
            Err(error) => {
                last_failure = format!("the model failed: {error}");
                break;
            }
        };
        if cancel.is_cancelled() {
            return Solution { outcome: released("the worker stopped taking work"), layers: layers.unwrap_or_default() };
        }
        let verdict: Result<(), String> = match extract_code(&reply, work.lang) {
            None => Err("the answer holds no code".to_owned()),
            Some(mut found) => {
                match &target {
                    Some(target) => found.code = target.content_from(&found.code, work.lang),
                    // Small models append demo asserts and prints, sometimes wrong ones.
                    None if work.lang == Lang::Python => found.code = edgecoder_executor::pysrc::tidy(&found.code),
                    None => {}
                }
                match edgecoder_executor::check(&found.code, work.lang) {
                Err(violation) => Err(violation.to_string()),
                Ok(()) => {
                    let program = format!("{prelude}{}", found.code);
                    let report = match &work.tests {
                        Some(tests) => edgecoder_executor::run_tests(&program, tests, work.lang, &limits),
                        None => {
                            let run = edgecoder_executor::run(&program, work.lang, &limits);
                            let passed = run.outcome.is_ok();
                            let case = edgecoder_protocol::run::TestCase {
                                name: "runs".into(),
                                status: if passed {
                                    TestStatus::Passed
                                } else {
                                    TestStatus::Error { kind: "run".into(), message: format!("{:?}", run.outcome), line: None }
                                },
                            };
                            TestReport { tests: vec![case], run }
                        }
                    };
                    throttle.pace();
                    let ran = layers_of(report.run.isolation.as_ref());
                    layers = Some(layers.map_or(ran, |l| SandboxLayers(l.0 & ran.0)));
                    let passed = report.all_passed();
                    let failure = report.failure_summary();
                    last_report = Some(report.clone());
                    let patch = target.as_ref().map(|t| t.patch(&found.code)).transpose();
                    match (passed, patch) {
                        (true, Ok(patch)) => {
                            let report = work.tests.as_ref().map(|_| report);
                            return Solution {
                                outcome: WorkOutcome::Completed { output: found.code, patch, report },
                                layers: layers.unwrap_or_default(),
                            };
                        }
                        (true, Err(unchanged)) => Err(unchanged),
                        (false, _) => Err(failure),
                    }
                }
            }
            }
        };
        if let Err(failure) = verdict {
            tracing::info!(subtask = %work.subtask, version, %failure, "subtask attempt failed");
            messages.push(ChatMessage::assistant(reply));
            messages.push(ChatMessage::user(format!(
                "That failed: {failure}. Fix it and answer with {} in one block.",
                answer_shape(work.lang, target.is_some())
            )));
            last_failure = failure;
        }
    }
    Solution {
        outcome: WorkOutcome::Failed { reason: last_failure, report: last_report.filter(|_| work.tests.is_some()) },
        layers: layers.unwrap_or_default(),
    }
}
