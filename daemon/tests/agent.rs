//! The agent with the real default model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M) and the real
//! executor: a small task solved end to end, code outside the subset routed to the queue, the
//! token budget, and workspace mode through the `edgecoder code` binary (reject leaves the file
//! alone, apply writes it with a backup, paths outside the workspace are refused). The model
//! decodes a few tokens per second on a 2-core machine, so the tasks are small.

mod support;

use edgecoder_daemon::agent::{
    Agent, AgentConfig, AgentEvent, Budgets, CloudQueue, Detail, ModelCoder, State, StopReason, Task, TestSuite,
    TestsInput, TestsOrigin, load_model,
};
use edgecoder_executor::{Lang, ReasonCode};
use std::path::PathBuf;
use std::process::Output;
use support::text;
use std::sync::OnceLock;

/// The default model's file: the developer copy in `~/.cache/edgecoder/dev-models` when present,
/// else the model store (pulled once if missing).
fn model_file() -> PathBuf {
    if let Some(home) = std::env::var_os("HOME") {
        let dev = PathBuf::from(home).join(".cache/edgecoder/dev-models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf");
        if dev.is_file() {
            return dev;
        }
    }
    let store = edgecoder_ota::ModelStore::from_env().expect("a model store location");
    store.ensure("qwen2.5-coder-0.5b").unwrap_or_else(|e| panic!("cannot get the default model: {e}"))
}

fn coder() -> &'static ModelCoder {
    static CODER: OnceLock<ModelCoder> = OnceLock::new();
    CODER.get_or_init(|| load_model(model_file().to_str().unwrap(), None).expect("load the default model"))
}

fn config(max_iterations: u32) -> AgentConfig {
    AgentConfig { plan: false, budgets: Budgets { max_iterations, max_tokens: 768, ..Budgets::default() }, ..AgentConfig::default() }
}

fn given(source: &str) -> TestsInput {
    TestsInput::Given(TestSuite { source: source.into(), origin: TestsOrigin::UserFile })
}

#[test]
fn a_small_task_is_solved_end_to_end() {
    let agent = Agent::new(coder(), config(3), None);
    let mut task = Task::new("Write a Python function `is_even(n)` that returns True when the integer n is even, else False.", Lang::Python);
    task.tests = given("assert is_even(2)\nassert not is_even(3)\nassert is_even(0)\nassert not is_even(-7)\n");
    let mut events = Vec::new();
    let report = agent.run(&task, &Default::default(), &mut |e| events.push(e.clone())).unwrap();
    assert_eq!(report.state, State::Done, "{}\n{:?}", report.message, report.code);
    let code = report.code.as_deref().unwrap();
    assert!(code.contains("def is_even"), "{code}");
    assert_eq!(report.last_report.as_ref().unwrap().passed(), 4);
    assert!(events.iter().any(|e| matches!(e, AgentEvent::Token { state: State::Code, .. })), "the model's text is streamed");
    assert!(events.iter().any(|e| matches!(e, AgentEvent::Transition(t) if matches!(t.detail, Detail::Coded { .. }))));
    assert!(report.stats.generated_tokens > 0 && report.stats.first_token_ms.is_some());
}

#[test]
fn code_outside_the_subset_is_queued_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let queue = CloudQueue::at(dir.path());
    let agent = Agent::new(coder(), config(1), Some(queue.clone()));
    let mut task = Task::new(
        "Write a Python function `list_names(folder)` that uses os.listdir to return the sorted names of the files in folder.",
        Lang::Python,
    );
    task.tests = given("assert callable(list_names)\n");
    let report = agent.run(&task, &Default::default(), &mut |_| {}).unwrap();
    assert_eq!(report.state, State::QueuedForCloud, "{}\n{:?}", report.message, report.code);
    assert!(matches!(report.reason, Some(ReasonCode::PyImportDenied | ReasonCode::PyFileIo)), "{:?}", report.reason);
    assert!(report.last_report.is_none(), "refused code is never run");
    assert!(report.message.contains("outside the on-device subset; queued for cloud review as q"), "{}", report.message);
    let listing = queue.list().unwrap();
    assert_eq!(listing.entries.len(), 1);
    assert_eq!(listing.entries[0].entry.model, coder_name());
}

fn coder_name() -> String {
    use edgecoder_daemon::agent::Coder;
    coder().name().to_owned()
}

#[test]
fn the_token_budget_stops_the_real_model() {
    let agent = Agent::new(coder(), AgentConfig { budgets: Budgets { max_tokens: 8, ..Budgets::default() }, ..config(4) }, None);
    let mut task = Task::new("Write a Python function `fib(n)` returning the n-th Fibonacci number.", Lang::Python);
    task.tests = given("assert fib(10) == 55\n");
    let mut stopped = None;
    let report = agent
        .run(&task, &Default::default(), &mut |e| {
            if let AgentEvent::Transition(t) = e {
                if let Detail::Stopped { reason, .. } = t.detail {
                    stopped = Some(reason);
                }
            }
        })
        .unwrap();
    assert_eq!(report.state, State::GaveUp);
    assert_eq!(stopped, Some(StopReason::TokenBudget));
    assert!(report.stats.generated_tokens <= 8, "{}", report.stats.generated_tokens);
}

fn edgecoder(args: &[&str], queue: &std::path::Path) -> Output {
    support::edgecoder_command().args(args).env("EDGECODER_QUEUE", queue).output().expect("the edgecoder binary starts")
}

#[test]
fn workspace_mode_rejects_without_a_terminal_and_applies_with_yes() {
    let dir = tempfile::tempdir().unwrap();
    let ws = support::calc_workspace(dir.path());
    let buggy = support::BUGGY_ADD;
    let model = model_file();
    let args = |yes: bool| {
        let mut a = vec!["code", "Fix add in calc.py: it must return the sum of a and b.", "--workspace", ws.to_str().unwrap(), "--model", model.to_str().unwrap(), "--no-plan", "--json", "--max-iterations", "3", "--no-daemon"];
        if yes {
            a.push("--yes");
        }
        a.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let queue = dir.path().join("queue");
    let run = |yes: bool| {
        let a = args(yes);
        edgecoder(&a.iter().map(String::as_str).collect::<Vec<_>>(), &queue)
    };
    let rejected = run(false);
    let stdout = text(&rejected.stdout);
    assert_eq!(rejected.status.code(), Some(0), "{stdout}\n{}", text(&rejected.stderr));
    let events: Vec<AgentEvent> = stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(matches!(events.iter().rev().nth(1), Some(AgentEvent::Finished(r)) if r.state == State::Done && r.diff.is_some()));
    assert!(matches!(events.last(), Some(AgentEvent::Rejected { reason }) if reason.contains("--yes")), "{:?}", events.last());
    assert_eq!(std::fs::read_to_string(ws.join("calc.py")).unwrap(), buggy, "a rejected change writes nothing");

    let applied = run(true);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied.stderr));
    let last: AgentEvent = serde_json::from_str(text(&applied.stdout).lines().last().unwrap()).unwrap();
    let AgentEvent::Applied { files, backups } = last else { panic!("{last:?}") };
    assert_eq!(files, vec!["calc.py".to_owned()]);
    let fixed = std::fs::read_to_string(ws.join("calc.py")).unwrap();
    assert!(fixed.contains("a + b") || fixed.contains("b + a"), "{fixed}");
    assert_eq!(std::fs::read_to_string(ws.join(&backups[0])).unwrap(), buggy);
}

#[test]
fn paths_outside_the_workspace_are_refused_before_the_model_loads() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().join("ws");
    std::fs::create_dir(&ws).unwrap();
    std::fs::write(dir.path().join("secret.py"), "x = 1\n").unwrap();
    std::os::unix::fs::symlink(dir.path(), ws.join("up")).unwrap();
    for file in ["../secret.py", "/etc/hosts.py", "up/secret.py"] {
        let out = edgecoder(&["code", "edit it", "--workspace", ws.to_str().unwrap(), "--file", file, "--model", "/no/model.gguf"], &dir.path().join("q"));
        assert_eq!(out.status.code(), Some(2), "{file}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("outside the workspace"), "{file}: {}", text(&out.stderr));
    }
    let out = edgecoder(&["code", "x", "--workspace", dir.path().join("missing").to_str().unwrap()], &dir.path().join("q"));
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("pass an existing folder to --workspace"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(dir.path().join("secret.py")).unwrap(), "x = 1\n");
}

#[test]
fn the_queue_command_lists_entries_and_reports_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = edgecoder(&["queue"], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stdout).contains("the cloud-review queue is empty"));
    let entry = CloudQueue::at(dir.path())
        .push(edgecoder_daemon::agent::queue::NewEntry {
            task: "read a file".into(),
            lang: Lang::Python,
            code: "print(open('x').read())\n".into(),
            why: Default::default(),
            reason: Some(ReasonCode::PyFileIo),
            construct: "open".into(),
            line: 1,
            message: "uses `open` (PY_FILE_IO) at line 1".into(),
            model: "m".into(),
            workspace: None,
            file: None,
            before: None,
        })
        .unwrap();
    let out = edgecoder(&["queue"], dir.path());
    assert!(text(&out.stdout).contains(&entry.id) && text(&out.stdout).contains("PY_FILE_IO"), "{}", text(&out.stdout));
    let shown = edgecoder(&["queue", "show", &entry.id, "--json"], dir.path());
    let shown: serde_json::Value = serde_json::from_slice(&shown.stdout).unwrap();
    let back: edgecoder_daemon::agent::QueueEntry = serde_json::from_value(shown["entry"].clone()).unwrap();
    assert_eq!(back, entry);
    assert_eq!(shown["outgoing"]["request"]["code"], "print(open('x').read())\n", "{shown:#}");

    // What leaves the device is shown redacted, with the config's own patterns applied too.
    let secret = CloudQueue::at(dir.path())
        .push(edgecoder_daemon::agent::queue::NewEntry {
            task: "upload the build for TICKET-4411 to s3".into(),
            lang: Lang::Python,
            code: "import boto3\nKEY = 'AKIAIOSFODNN7EXAMPLE'\n".into(),
            why: Default::default(),
            reason: Some(ReasonCode::PyImportDenied),
            construct: "import boto3".into(),
            line: 1,
            message: "uses `import boto3` (PY_IMPORT_DENIED) at line 1".into(),
            model: "m".into(),
            workspace: None,
            file: None,
            before: None,
        })
        .unwrap();
    let config = dir.path().join("edgecoderd.toml");
    std::fs::write(&config, "redact_patterns = [\"TICKET-[0-9]+\"]\n").unwrap();
    let out = edgecoder(&["queue", "show", &secret.id, "--config", config.to_str().unwrap()], dir.path());
    let stdout = text(&out.stdout);
    let payload = &stdout[stdout.find("what a cloud review of this entry sends").expect("the payload is shown")..];
    assert!(payload.contains("[REDACTED:aws_access_key]") && payload.contains("[REDACTED:custom]"), "{stdout}");
    assert!(!payload.contains("AKIAIOSFODNN7EXAMPLE") && !payload.contains("TICKET-4411"), "{stdout}");
    assert!(payload.contains("removed before sending: 2 (custom in task line 1, aws_access_key in code line 2)"), "{stdout}");
    std::fs::write(&config, "redact_patterns = [\"(unclosed\"]\n").unwrap();
    let out = edgecoder(&["queue", "show", &secret.id, "--config", config.to_str().unwrap()], dir.path());
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("redact_patterns") && text(&out.stderr).contains("not a valid regular expression"), "{}", text(&out.stderr));
    assert_eq!(edgecoder(&["queue", "remove", &secret.id], dir.path()).status.code(), Some(0));
    std::fs::write(dir.path().join("q1-broken.json"), "{").unwrap();
    let out = edgecoder(&["queue"], dir.path());
    assert_eq!(out.status.code(), Some(5));
    assert!(text(&out.stderr).contains("q1-broken.json") && text(&out.stderr).contains("left in place"));
    assert_eq!(edgecoder(&["queue", "show", "nope"], dir.path()).status.code(), Some(2));
    assert_eq!(edgecoder(&["queue", "remove", &entry.id], dir.path()).status.code(), Some(0));
}
