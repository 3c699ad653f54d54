//! `edgecoder code "TASK"`: runs the agent in this process (no daemon needed): live progress of
//! each step on stderr (or the event stream as JSON lines with `--json`), then the code, or in
//! workspace mode the diff and an Apply/Reject question (`--yes` applies without asking).

use super::{Execute, Exit, Failure, read_source};
use crate::agent::{
    Agent, AgentConfig, AgentEvent, Budgets, CloudQueue, Detail, State, Target, Task, TaskReport, TestSuite, TestsInput,
    TestsOrigin, Workspace, load_model, proposed_change, workspace::strip_local_imports,
};
use anyhow::anyhow;
use clap::Args;
use edgecoder_executor::{Lang, TestStatus};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

/// Plan, write, test and fix code for TASK with the on-device model. The tests that decide are
/// --tests FILE, else the tests in the task (asserts, doctests, a check() function), else tests
/// the model writes first (shown, and marked as model-written).
#[derive(Debug, Args)]
pub struct CodeArgs {
    /// What the code should do.
    pub task: String,
    /// Edit a file in this folder; the result is a diff to apply.
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The file to edit or create, relative to the workspace (default: the file the task
    /// names, or the workspace's only source file).
    #[arg(long, requires = "workspace", value_name = "PATH")]
    pub file: Option<String>,
    /// A test file that decides success (bare asserts, test_* functions or check(candidate)).
    #[arg(long, value_name = "FILE")]
    pub tests: Option<PathBuf>,
    /// Language (py or js); default: from --file, else from --tests, else py.
    #[arg(long)]
    pub lang: Option<Lang>,
    /// Apply the final diff without asking.
    #[arg(long)]
    pub yes: bool,
    /// Print the event stream as JSON lines on stdout.
    #[arg(long)]
    pub json: bool,
    /// Model id (see `edgecoder model list`) or GGUF path.
    #[arg(long, default_value = edgecoder_ota::DEFAULT_MODEL)]
    pub model: String,
    /// Most code versions to test (1 = single shot).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub max_iterations: u32,
    /// Most tokens the model may generate for the task.
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_tokens: u64,
    /// Time budget for the task (e.g. 90s, 10m).
    #[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Context budget in tokens (prompt + answer).
    #[arg(long, default_value_t = 3072, value_parser = clap::value_parser!(u64).range(1024..=32768))]
    pub context: u64,
    /// Skip the planning step.
    #[arg(long)]
    pub no_plan: bool,
    /// Compute threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
}

fn usage(error: impl Into<anyhow::Error>) -> Failure {
    Failure::new(Exit::Usage, error)
}

impl CodeArgs {
    fn language(&self) -> Lang {
        let from = |p: Option<&str>| p.and_then(Lang::from_path);
        self.lang
            .or_else(|| from(self.file.as_deref()))
            .or_else(|| from(self.tests.as_ref().and_then(|p| p.to_str())))
            .unwrap_or(Lang::Python)
    }

    /// The task, with everything checked before the model is loaded.
    fn task(&self) -> Result<Task, Failure> {
        let mut lang = self.language();
        let mut task = Task::new(self.task.clone(), lang);
        if let Some(dir) = &self.workspace {
            let workspace = Workspace::open(dir).map_err(|e| Failure::new(Exit::Usage, e))?;
            let path = workspace.pick_target(&self.task, lang, self.file.as_deref()).map_err(usage)?;
            if self.lang.is_none() {
                lang = Lang::from_path(&path).unwrap_or(lang);
                task.lang = lang;
            }
            let before = workspace.read(&path).map_err(|e| Failure::new(Exit::Io, e))?;
            if self.tests.is_none() {
                if let Some(found) = workspace.tests_for(&path) {
                    let text = workspace.read(&found).map_err(|e| Failure::new(Exit::Io, e))?.unwrap_or_default();
                    task.tests = TestsInput::Given(TestSuite {
                        source: strip_local_imports(&text, &path),
                        origin: TestsOrigin::UserFile,
                    });
                }
            }
            task.target = Some(Target { workspace, path, before });
        }
        if let Some(file) = &self.tests {
            let text = read_source(file)?;
            let source = match &task.target {
                Some(target) => strip_local_imports(&text, &target.path),
                None => text,
            };
            task.tests = TestsInput::Given(TestSuite { source, origin: TestsOrigin::UserFile });
        }
        Ok(task)
    }

    fn config(&self) -> AgentConfig {
        AgentConfig {
            budgets: Budgets {
                max_iterations: self.max_iterations,
                max_tokens: self.max_tokens,
                max_time_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            },
            plan: !self.no_plan,
            context_tokens: usize::try_from(self.context).unwrap_or(usize::MAX),
            ..AgentConfig::default()
        }
    }
}

/// Prints events for a person: a header per step, the model's text as it streams, results.
struct Progress {
    at_line_start: bool,
}

impl Progress {
    fn line(&mut self, text: &str) {
        let mut err = std::io::stderr().lock();
        if !self.at_line_start {
            let _ = writeln!(err);
        }
        let _ = writeln!(err, "{text}");
        self.at_line_start = true;
    }

    fn show(&mut self, event: &AgentEvent) {
        match event {
            AgentEvent::Started { task_id, model, lang, target, .. } => {
                let target = target.as_ref().map(|t| format!(", editing {t}")).unwrap_or_default();
                self.line(&format!("● task {task_id} · model {model} · {}{target}", lang.short_name()));
            }
            AgentEvent::Token { text, .. } => {
                let mut err = std::io::stderr().lock();
                let _ = write!(err, "\x1b[2m{text}\x1b[0m");
                let _ = err.flush();
                self.at_line_start = text.ends_with('\n');
            }
            AgentEvent::Transition(t) => {
                let head = format!("── {} → {} (iteration {}, {:.1} s, {} tokens)", t.from.label(), t.to.label(), t.iteration, t.elapsed_ms as f64 / 1000.0, t.tokens_generated);
                self.line(&head);
                self.detail(&t.detail);
            }
            AgentEvent::Finished(report) => {
                let mark = if report.state == State::Done { "✓" } else { "✗" };
                self.line(&format!(
                    "{mark} {} · {} iteration(s) · {} tokens · {:.1} tok/s · {:.1} s",
                    report.message,
                    report.stats.iterations,
                    report.stats.generated_tokens,
                    report.stats.decode_tokens_per_s,
                    report.stats.elapsed_ms as f64 / 1000.0
                ));
            }
            AgentEvent::Applied { files, backups } => {
                self.line(&format!("applied: {} (previous content in {})", files.join(", "), backups.join(", ")));
            }
            AgentEvent::Rejected { reason } => self.line(&format!("not applied: {reason}")),
            AgentEvent::Retrieved { mode, chunks, tokens, notes } => {
                let found: Vec<String> = chunks.iter().map(|c| format!("{}:{} {}", c.path, c.start_line, c.name)).collect();
                self.line(&format!("── context: {} chunk(s), {tokens} tokens ({mode}) {}", chunks.len(), found.join(", ")));
                for note in notes {
                    self.line(&format!("   note: {note}"));
                }
            }
        }
    }

    fn detail(&mut self, detail: &Detail) {
        match detail {
            Detail::Planned { tests, .. } => {
                let count = tests.source.lines().filter(|l| !l.trim().is_empty()).count();
                self.line(&format!("   tests: {} ({count} lines)", tests.origin.describe()));
                if tests.origin == TestsOrigin::ModelWritten {
                    for line in tests.source.lines() {
                        self.line(&format!("     {line}"));
                    }
                }
            }
            Detail::Coded { code, extraction, .. } => {
                self.line(&format!("   code: {} lines ({extraction:?})", code.lines().count()));
            }
            Detail::Tested { report, .. } => {
                for test in &report.tests {
                    let line = match &test.status {
                        TestStatus::Passed => format!("   ✓ {}", test.name),
                        TestStatus::Failed { message, .. } => format!("   ✗ {} — {message}", test.name),
                        TestStatus::Error { kind, message, .. } => format!("   ✗ {} — {kind}: {message}", test.name),
                    };
                    self.line(&line);
                }
            }
            Detail::Diagnosed { diagnosis } => {
                let got = diagnosis.got.as_ref().map(|g| format!(" (got {g})")).unwrap_or_default();
                self.line(&format!("   {}{got}", diagnosis.summary));
            }
            Detail::Passed { .. } => {}
            Detail::Refused { message, .. } | Detail::Stopped { message, .. } => self.line(&format!("   {message}")),
        }
    }
}

fn print_json(event: &AgentEvent) -> Result<(), Failure> {
    let json = serde_json::to_string(event).map_err(|e| Failure::new(Exit::Failed, e))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{json}").and_then(|()| out.flush()).map_err(|e| Failure::new(Exit::Io, e))
}

/// Asks on the terminal whether to apply; `None` when there is no terminal to ask.
fn ask(file: &str) -> Option<bool> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    eprint!("Apply this change to {file}? [y/N] ");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer).ok()?;
    Some(matches!(answer.trim(), "y" | "Y" | "yes" | "Yes"))
}

fn exit_of(report: &TaskReport) -> Exit {
    match report.state {
        State::Done => Exit::Ok,
        State::QueuedForCloud => Exit::OutsideSubset,
        _ => Exit::Failed,
    }
}

impl Execute for CodeArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let task = self.task()?;
        let queue = CloudQueue::from_env().map_err(|e| Failure::new(Exit::Io, e))?;
        if !self.json {
            eprintln!("loading {} …", self.model);
        }
        let coder = load_model(&self.model, self.threads.map(|t| t as usize)).map_err(usage)?;
        let mut agent = Agent::new(coder, self.config(), Some(queue));
        if task.target.is_some() {
            agent = agent.with_retrieval(std::sync::Arc::new(crate::retrieval::RetrieverPool::new(Default::default())));
        }
        agent.validate(&task).map_err(usage)?;
        let mut progress = Progress { at_line_start: true };
        let mut failed_print = None;
        let json = self.json;
        let mut emit = |event: &AgentEvent| {
            if json {
                if let Err(e) = print_json(event) {
                    failed_print.get_or_insert(e);
                }
            } else {
                progress.show(event);
            }
        };
        let report = agent.run(&task, &Default::default(), &mut emit).map_err(usage)?;
        let Some(change) = proposed_change(&task, &report) else {
            if let (false, Some(code), None) = (json, &report.code, &task.target) {
                print!("{code}");
            }
            drop(emit);
            if let Some(e) = failed_print {
                return Err(e);
            }
            return Ok(exit_of(&report));
        };
        if !json {
            print!("{}", change.diff());
            let _ = std::io::stdout().flush();
        }
        let decision = if self.yes { Some(true) } else { ask(&change.path) };
        let workspace = &task.target.as_ref().expect("a change has a target").workspace;
        let event = match decision {
            Some(true) => {
                let applied = workspace.apply(&change).map_err(|e| Failure::new(Exit::Io, anyhow!(e)))?;
                AgentEvent::Applied { files: vec![applied.file], backups: applied.backup.into_iter().collect() }
            }
            Some(false) => AgentEvent::Rejected { reason: "rejected by the user; nothing was written".into() },
            None => AgentEvent::Rejected { reason: "no terminal to ask: pass --yes to apply; nothing was written".into() },
        };
        emit(&event);
        drop(emit);
        if let Some(e) = failed_print {
            return Err(e);
        }
        Ok(exit_of(&report))
    }
}
