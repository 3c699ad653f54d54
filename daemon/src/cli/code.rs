//! `edgecoder code "TASK"`: runs the agent on the running daemon (its events streamed over the
//! socket), or in this process when no daemon runs: live progress of each step on stderr (or the
//! event stream as JSON lines with `--json`), then the code, or in workspace mode the diff and
//! an Apply/Reject question (`--yes` applies without asking).

use super::client::{self, Client, DaemonArgs};
use super::{Execute, Exit, Failure, read_source};
use crate::agent::{
    Agent, AgentConfig, AgentEvent, Budgets, CloudQueue, Detail, State, Task, TaskReport, TaskSpec, TestsOrigin,
    WorkspaceError, load_model, proposed_change,
};
use crate::api::agent::NewTask;
use anyhow::anyhow;
use clap::Args;
use edgecoder_executor::{Lang, TestStatus};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

/// Plan, write, test and fix code for TASK with the on-device model. The tests that decide are
/// --tests FILE, else the tests in the task (asserts, doctests, a check() function), else tests
/// the model writes first (shown, and marked as model-written). Runs on the daemon when one is
/// running (its model, its queue), else in this process.
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
    /// Model id (see `edgecoder model list`) or GGUF path [default: the daemon's model, or
    /// qwen2.5-coder-0.5b in this process].
    #[arg(long)]
    pub model: Option<String>,
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
    /// Compute threads in this process (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub threads: Option<u32>,
    /// Run in this process even when a daemon is running.
    #[arg(long)]
    pub no_daemon: bool,
    #[command(flatten)]
    daemon: DaemonArgs,
}

fn usage(error: impl Into<anyhow::Error>) -> Failure {
    Failure::new(Exit::Usage, error)
}

impl CodeArgs {
    /// The language: --lang, else from --file, else from --tests (else the spec decides).
    fn language(&self) -> Option<Lang> {
        let from = |p: Option<&str>| p.and_then(Lang::from_path);
        self.lang.or_else(|| from(self.file.as_deref())).or_else(|| from(self.tests.as_ref().and_then(|p| p.to_str())))
    }

    /// The task as given, with the test file read and the workspace made absolute.
    fn spec(&self) -> Result<TaskSpec, Failure> {
        let workspace = match &self.workspace {
            Some(dir) => Some(dir.canonicalize().map_err(|e| usage(WorkspaceError::BadRoot { path: dir.clone(), why: e.to_string() }))?),
            None => None,
        };
        let tests = self.tests.as_deref().map(read_source).transpose()?;
        Ok(TaskSpec { text: self.task.clone(), lang: self.language(), workspace, file: self.file.clone(), tests })
    }

    /// What the daemon is sent.
    fn new_task(&self, spec: &TaskSpec) -> NewTask {
        NewTask {
            task: spec.text.clone(),
            lang: spec.lang.map(|l| l.short_name().to_owned()),
            workspace: spec.workspace.as_ref().map(|w| w.to_string_lossy().into_owned()),
            file: spec.file.clone(),
            tests: spec.tests.clone(),
            model: self.model.clone(),
            max_iterations: Some(self.max_iterations),
            max_tokens: Some(self.max_tokens),
            timeout_secs: Some(self.timeout.as_secs().max(1)),
            plan: Some(!self.no_plan),
        }
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
            Detail::Planned { tests: None, .. } => {
                self.line("   tests: none (the task has none and the model wrote none that run): the code will only be run, not verified");
            }
            Detail::Planned { tests: Some(tests), .. } => {
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

/// Where events go: the progress view, or JSON lines on stdout (the first failed print is kept).
struct Output {
    json: bool,
    progress: Progress,
    failed_print: Option<Failure>,
}

impl Output {
    fn emit(&mut self, event: &AgentEvent) {
        if !self.json {
            self.progress.show(event);
            return;
        }
        let printed = serde_json::to_string(event).map_err(|e| Failure::new(Exit::Failed, e)).and_then(|json| {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{json}").and_then(|()| out.flush()).map_err(|e| Failure::new(Exit::Io, e))
        });
        if let Err(e) = printed {
            self.failed_print.get_or_insert(e);
        }
    }

    fn finish(self) -> Result<(), Failure> {
        self.failed_print.map_or(Ok(()), Err)
    }
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

/// How the user's Apply / Reject is carried out.
trait Decide {
    /// Writes the diff; answers the `applied` event.
    fn apply(&mut self) -> Result<AgentEvent, Failure>;
    /// Drops the diff; answers the `rejected` event with `reason`.
    fn reject(&mut self, reason: &str) -> Result<AgentEvent, Failure>;
}

/// In this process: the workspace writes the change.
struct Here<'a>(&'a Task, &'a TaskReport);

impl Decide for Here<'_> {
    fn apply(&mut self) -> Result<AgentEvent, Failure> {
        let change = proposed_change(self.0, self.1).expect("only a task with a change is decided");
        let workspace = &self.0.target.as_ref().expect("a change has a target").workspace;
        let applied = workspace.apply(&change).map_err(|e| Failure::new(Exit::Io, anyhow!(e)))?;
        Ok(AgentEvent::Applied { files: vec![applied.file], backups: applied.backup.into_iter().collect() })
    }

    fn reject(&mut self, reason: &str) -> Result<AgentEvent, Failure> {
        Ok(AgentEvent::Rejected { reason: reason.to_owned() })
    }
}

/// On the daemon: `POST /agent/tasks/{id}/apply` or `/reject`.
struct OnDaemon<'a> {
    client: &'a Client,
    runtime: &'a tokio::runtime::Runtime,
    id: &'a str,
}

impl Decide for OnDaemon<'_> {
    fn apply(&mut self) -> Result<AgentEvent, Failure> {
        let path = format!("/agent/tasks/{}/apply", self.id);
        let answer = self.runtime.block_on(self.client.json(self.client.request(reqwest::Method::POST, &path)))?;
        serde_json::from_value(answer).map_err(|e| Failure::new(Exit::Daemon, anyhow!("the daemon's apply answer is unreadable: {e}")))
    }

    fn reject(&mut self, reason: &str) -> Result<AgentEvent, Failure> {
        let path = format!("/agent/tasks/{}/reject", self.id);
        self.runtime.block_on(self.client.send(self.client.request(reqwest::Method::POST, &path)))?;
        Ok(AgentEvent::Rejected { reason: reason.to_owned() })
    }
}

impl CodeArgs {
    /// The running daemon, unless --no-daemon or none answers.
    fn daemon(&self) -> Option<(Client, tokio::runtime::Runtime)> {
        if self.no_daemon {
            return None;
        }
        let client = Client::connect(&self.daemon).ok()?;
        let runtime = client::runtime().ok()?;
        let status = runtime.block_on(client.send(client.request(reqwest::Method::GET, "/edgecoder/status")));
        status.ok().map(|_| (client, runtime))
    }

    fn in_process(&self, task: &Task, out: &mut Output) -> Result<Exit, Failure> {
        let queue = CloudQueue::from_env().map_err(|e| Failure::new(Exit::Io, e))?;
        let model = self.model.as_deref().unwrap_or(edgecoder_ota::DEFAULT_MODEL);
        if !self.json {
            eprintln!("loading {model} …");
        }
        let coder = load_model(model, self.threads.map(|t| t as usize)).map_err(usage)?;
        let mut agent = Agent::new(coder, self.config(), Some(queue));
        if task.target.is_some() {
            agent = agent.with_retrieval(std::sync::Arc::new(crate::retrieval::RetrieverPool::new(Default::default())));
        }
        agent.validate(task).map_err(usage)?;
        let report = agent.run(task, &Default::default(), &mut |event| out.emit(event)).map_err(usage)?;
        self.conclude(task, &report, out, &mut Here(task, &report))
    }

    fn via_daemon(&self, client: &Client, runtime: &tokio::runtime::Runtime, spec: &TaskSpec, task: &Task, out: &mut Output) -> Result<Exit, Failure> {
        if !self.json {
            eprintln!("running on the daemon (--no-daemon runs in this process) …");
        }
        let id = runtime.block_on(client.start_task(&self.new_task(spec)))?;
        let view = runtime.block_on(client.follow_task(&id, &mut |event: &AgentEvent| {
            out.emit(event);
            Ok(())
        }))?;
        let report = view
            .report
            .ok_or_else(|| Failure::new(Exit::Daemon, anyhow!("task {id} ended without a report (see the daemon's log)")))?;
        self.conclude(task, &report, out, &mut OnDaemon { client, runtime, id: &id })
    }

    /// Prints the code, or shows the diff and asks whether to apply it.
    fn conclude(&self, task: &Task, report: &TaskReport, out: &mut Output, decide: &mut dyn Decide) -> Result<Exit, Failure> {
        let Some(change) = proposed_change(task, report) else {
            if let (false, Some(code), None) = (self.json, &report.code, &task.target) {
                print!("{code}");
            }
            return Ok(exit_of(report));
        };
        if !self.json {
            print!("{}", report.diff.clone().unwrap_or_else(|| change.diff()));
            let _ = std::io::stdout().flush();
        }
        let decision = if self.yes { Some(true) } else { ask(&change.path) };
        let event = match decision {
            Some(true) => decide.apply()?,
            Some(false) => decide.reject("rejected by the user; nothing was written")?,
            None => decide.reject("no terminal to ask: pass --yes to apply; nothing was written")?,
        };
        out.emit(&event);
        Ok(exit_of(report))
    }
}

impl Execute for CodeArgs {
    fn execute(self) -> Result<Exit, Failure> {
        let spec = self.spec()?;
        let task = spec.task().map_err(|e| match e {
            WorkspaceError::Io { .. } => Failure::new(Exit::Io, e),
            _ => usage(e),
        })?;
        let mut out = Output { json: self.json, progress: Progress { at_line_start: true }, failed_print: None };
        let exit = match self.daemon() {
            Some((client, runtime)) => self.via_daemon(&client, &runtime, &spec, &task, &mut out)?,
            None => self.in_process(&task, &mut out)?,
        };
        out.finish()?;
        Ok(exit)
    }
}
