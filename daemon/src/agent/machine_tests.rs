//! Tests of the state machine itself, with a scripted coder that returns fixed replies in
//! order (the real model is tested in `daemon/tests/agent.rs`).

use super::*;
use edgecoder_executor::{Lang, ReasonCode};
use edgecoder_model::chat::ChatMessage;
use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

/// Replies with the next scripted answer (a whole answer, whatever start the request gave it)
/// and records the prompts, answer starts and temperatures it was given.
struct Scripted {
    replies: Mutex<VecDeque<String>>,
    prompts: Mutex<Vec<Vec<ChatMessage>>>,
    reply_starts: Mutex<Vec<String>>,
    temperatures: Mutex<Vec<f32>>,
}

impl Scripted {
    fn new(replies: &[&str]) -> Self {
        Scripted {
            replies: Mutex::new(replies.iter().map(|r| r.to_string()).collect()),
            prompts: Mutex::new(Vec::new()),
            reply_starts: Mutex::new(Vec::new()),
            temperatures: Mutex::new(Vec::new()),
        }
    }
}

impl Coder for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    fn count_tokens(&self, messages: &[ChatMessage]) -> Result<usize, CoderError> {
        Ok(messages.iter().map(|m| m.content.len() / 4 + 4).sum())
    }
    fn complete(&self, request: &CoderRequest, on_text: &mut dyn FnMut(&str)) -> Result<Completion, CoderError> {
        self.prompts.lock().unwrap().push(request.messages.clone());
        self.temperatures.lock().unwrap().push(request.temperature);
        self.reply_starts.lock().unwrap().push(request.reply_start.clone());
        let reply = self.replies.lock().unwrap().pop_front().expect("a scripted reply is left");
        let tokens: Vec<&str> = reply.split_inclusive(' ').collect();
        let n = tokens.len().min(request.max_tokens);
        let text: String = tokens[..n].concat();
        on_text(&text);
        Ok(Completion {
            text,
            prompt_tokens: self.count_tokens(&request.messages)?,
            generated_tokens: n,
            time_to_first_token: Duration::from_millis(1),
            decode_time: Duration::from_millis(n as u64),
            end: if n < tokens.len() { End::MaxTokens } else { End::Complete },
        })
    }
}

fn config() -> AgentConfig {
    AgentConfig { plan: false, ..AgentConfig::default() }
}

fn run(agent: &Agent<Scripted>, task: &Task) -> (TaskReport, Vec<AgentEvent>) {
    let mut events = Vec::new();
    let report = agent.run(task, &Default::default(), &mut |e| events.push(e.clone())).expect("a valid task");
    (report, events)
}

fn path(events: &[AgentEvent]) -> Vec<(State, State)> {
    events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Transition(t) => Some((t.from, t.to)),
            _ => None,
        })
        .collect()
}

const ADD_TASK: &str = "Write add(a, b) that returns the sum.\nassert add(2, 3) == 5\nassert add(-1, 1) == 0";

#[test]
fn a_correct_first_answer_goes_straight_to_done() {
    let agent = Agent::new(Scripted::new(&["Here:\n```python\ndef add(a, b):\n    return a + b\n```"]), config(), None);
    let (report, events) = run(&agent, &Task::new(ADD_TASK, Lang::Python));
    use State::*;
    assert_eq!(path(&events), vec![(Plan, Code), (Code, Test), (Test, Observe), (Observe, Done)]);
    assert!(matches!(events.first(), Some(AgentEvent::Started { .. })));
    assert!(matches!(events.last(), Some(AgentEvent::Finished(r)) if r.state == Done));
    assert_eq!(report.state, Done);
    assert_eq!(report.stats.iterations, 1);
    assert_eq!(report.tests.unwrap().origin, TestsOrigin::TaskAsserts);
    assert_eq!(report.last_report.unwrap().passed(), 2);
    assert!(report.message.contains("2 passed"), "{}", report.message);
}

#[test]
fn a_failing_test_leads_to_a_fix_prompt_with_the_test_error_and_value() {
    let agent = Agent::new(
        Scripted::new(&["```python\ndef add(a, b):\n    return a - b\n```", "```python\ndef add(a, b):\n    return a + b\n```"]),
        config(),
        None,
    );
    let (report, events) = run(&agent, &Task::new(ADD_TASK, Lang::Python));
    use State::*;
    assert_eq!(
        path(&events),
        vec![(Plan, Code), (Code, Test), (Test, Observe), (Observe, Fix), (Fix, Test), (Test, Observe), (Observe, Done)]
    );
    assert_eq!(report.state, Done);
    assert_eq!(report.stats.iterations, 2);
    assert_eq!(report.first_code.as_deref(), Some("def add(a, b):\n    return a - b\n"));
    let prompts = agent.coder().prompts.lock().unwrap();
    let fix = &prompts[1].last().unwrap().content;
    assert!(fix.contains("Failing test: assert add(2, 3) == 5"), "{fix}");
    assert!(fix.contains("The left side was: -1"), "{fix}");
    let coded: Vec<&Detail> = events
        .iter()
        .filter_map(|e| match e {
            AgentEvent::Transition(t) if t.to == Test => Some(&t.detail),
            _ => None,
        })
        .collect();
    assert!(matches!(coded[1], Detail::Coded { diff_from_previous: Some(d), .. } if d.contains("+    return a + b")));
}

#[test]
fn a_fix_without_progress_is_followed_by_a_fresh_sample() {
    let wrong = "```python\ndef add(a, b):\n    return 0\n```";
    let also_wrong = "```python\ndef add(a, b):\n    return a * b\n```";
    let right = "```python\ndef add(a, b):\n    return a + b\n```";
    let agent = Agent::new(
        Scripted::new(&[wrong, wrong, also_wrong, also_wrong, right]),
        AgentConfig { budgets: Budgets { max_iterations: 5, ..Budgets::default() }, ..config() },
        None,
    );
    let (report, _) = run(&agent, &Task::new(ADD_TASK, Lang::Python));
    assert_eq!(report.state, State::Done);
    assert_eq!(report.stats.iterations, 5);
    let prompts = agent.coder().prompts.lock().unwrap();
    let lengths: Vec<usize> = prompts.iter().map(Vec::len).collect();
    // 1: first request; 2: a fix turn; 3: `wrong` repeated, so afresh; 4: a fix turn for the new
    // code; 5: `also_wrong` fails the same test the same way again, so afresh.
    assert_eq!(lengths, [2, 4, 2, 4, 2], "{prompts:#?}");
    assert_eq!(prompts[2], prompts[0], "a fresh start asks the original request again");
    let temperatures = agent.coder().temperatures.lock().unwrap().clone();
    let config = config();
    assert_eq!(
        temperatures,
        [0.0, config.fix_temperature, config.restart_temperature, config.fix_temperature, config.restart_temperature]
    );
    let starts = agent.coder().reply_starts.lock().unwrap().clone();
    assert_eq!(starts, ["```python\n", "", "```python\n", "", "```python\n"], "fresh requests for code get their answer started with the fence");
}

#[test]
fn the_iteration_budget_ends_in_gave_up() {
    let wrong = "```python\ndef add(a, b):\n    return 0\n```";
    let agent = Agent::new(
        Scripted::new(&[wrong, wrong]),
        AgentConfig { budgets: Budgets { max_iterations: 2, ..Budgets::default() }, ..config() },
        None,
    );
    let (report, events) = run(&agent, &Task::new(ADD_TASK, Lang::Python));
    assert_eq!(report.state, State::GaveUp);
    assert_eq!(report.stats.iterations, 2);
    assert!(report.message.contains("tests still fail after 2 iteration(s)"), "{}", report.message);
    assert!(report.message.contains("--max-iterations"), "{}", report.message);
    let last = path(&events).pop().unwrap();
    assert_eq!(last, (State::Observe, State::GaveUp));
}

#[test]
fn a_task_given_up_on_is_held_for_review_with_its_last_code() {
    let dir = tempfile::tempdir().unwrap();
    let queue = CloudQueue::at(dir.path());
    let wrong = "```python\ndef add(a, b):\n    return 0\n```";
    let agent = Agent::new(
        Scripted::new(&[wrong, wrong]),
        AgentConfig { budgets: Budgets { max_iterations: 2, ..Budgets::default() }, ..config() },
        Some(queue.clone()),
    );
    let (report, _) = run(&agent, &Task::new(ADD_TASK, Lang::Python));
    assert_eq!(report.state, State::GaveUp);
    let listing = queue.list().unwrap();
    assert_eq!(listing.entries.len(), 1);
    let entry = &listing.entries[0];
    assert_eq!(Some(&entry.id), report.queue_id.as_ref());
    assert_eq!(entry.entry.why, edgecoder_protocol::review::ReviewReason::GaveUp);
    assert_eq!(entry.review.stage, crate::agent::Stage::Held, "nothing is sent without the user");
    assert!(entry.entry.code.contains("return 0") && entry.entry.message.starts_with("gave up after 2 iteration(s): tests still fail"), "{entry:?}");
    assert!(report.message.contains(&format!("held in the cloud-review queue as {0} (`edgecoder queue send {0}`", entry.id)), "{}", report.message);
}

#[test]
fn code_outside_the_subset_is_queued_and_never_run() {
    let dir = tempfile::tempdir().unwrap();
    let queue = CloudQueue::at(dir.path());
    let agent = Agent::new(
        Scripted::new(&["```python\nimport asyncio\n\ndef add(a, b):\n    return a + b\n```"]),
        config(),
        Some(queue.clone()),
    );
    let (report, events) = run(&agent, &Task::new(ADD_TASK, Lang::Python));
    assert_eq!(report.state, State::QueuedForCloud);
    assert_eq!(report.reason, Some(ReasonCode::PyAsync));
    assert!(report.last_report.is_none(), "refused code is not run");
    assert!(!path(&events).contains(&(State::Code, State::Test)));
    assert!(report.message.starts_with("uses `import asyncio` (PY_ASYNC) at line 1: outside the on-device subset; queued for cloud review as q"), "{}", report.message);
    let listing = queue.list().unwrap();
    assert_eq!(listing.entries.len(), 1);
    assert_eq!(Some(&listing.entries[0].id), report.queue_id.as_ref());
    assert!(listing.entries[0].entry.code.contains("import asyncio"));
}

#[test]
fn the_token_budget_stops_the_task() {
    let agent = Agent::new(
        Scripted::new(&["```python\ndef add(a, b):\n    return a - b\n```"]),
        AgentConfig { budgets: Budgets { max_tokens: 3, ..Budgets::default() }, ..config() },
        None,
    );
    let (report, events) = run(&agent, &Task::new(ADD_TASK, Lang::Python));
    assert_eq!(report.state, State::GaveUp);
    assert!(report.message.contains("token budget of 3 tokens ran out"), "{}", report.message);
    assert!(events.iter().any(|e| matches!(e, AgentEvent::Transition(Transition { detail: Detail::Stopped { reason: StopReason::TokenBudget, .. }, .. }))));
}

#[test]
fn the_time_budget_and_cancel_stop_before_the_model_runs() {
    let agent = Agent::new(Scripted::new(&[]), AgentConfig { budgets: Budgets { max_time_ms: 0, ..Budgets::default() }, ..config() }, None);
    let (report, _) = run(&agent, &Task::new(ADD_TASK, Lang::Python));
    assert_eq!(report.state, State::GaveUp);
    assert!(report.message.contains("time budget"), "{}", report.message);
    let agent = Agent::new(Scripted::new(&[]), config(), None);
    let cancel = edgecoder_model::engine::CancelToken::new();
    cancel.cancel();
    let report = agent.run(&Task::new(ADD_TASK, Lang::Python), &cancel, &mut |_| {}).unwrap();
    assert_eq!(report.message, "the task was cancelled");
}

#[test]
fn without_tests_the_model_writes_them_first_and_they_are_marked() {
    let agent = Agent::new(
        Scripted::new(&[
            "1. Multiply.",
            "```python\nassert triple(2) == 6\nassert triple(0) == 0\nprint('not a test')\n```",
            "no code here, sorry",
            "```python\ndef triple(x):\n    return 3 * x\n```",
        ]),
        AgentConfig { plan: true, ..config() },
        None,
    );
    let (report, events) = run(&agent, &Task::new("Write triple(x) that multiplies x by three.", Lang::Python));
    assert_eq!(report.state, State::Done, "{}", report.message);
    let tests = report.tests.unwrap();
    assert_eq!(tests.origin, TestsOrigin::ModelWritten);
    assert_eq!(tests.source, "assert triple(2) == 6\nassert triple(0) == 0\n");
    assert!(matches!(&events[1], AgentEvent::Token { state: State::Plan, .. }));
    use State::*;
    assert_eq!(path(&events), vec![(Plan, Code), (Code, Fix), (Fix, Test), (Test, Observe), (Observe, Done)]);
}

#[test]
fn without_any_tests_the_code_is_run_fixed_until_it_runs_and_handed_back_unverified() {
    let agent = Agent::new(
        Scripted::new(&[
            "I cannot think of tests for this.",
            "```python\ndef greet(name):\n    return 'hi ' + name\n\ngreet(undefined_name)\n```",
            "```python\ndef greet(name):\n    return 'hi ' + name\n```",
        ]),
        config(),
        None,
    );
    let (report, events) = run(&agent, &Task::new("Write greet(name) that greets politely.", Lang::Python));
    assert_eq!(report.state, State::GaveUp, "{}", report.message);
    assert!(report.tests.is_none());
    assert_eq!(report.code.as_deref(), Some("def greet(name):\n    return 'hi ' + name\n"));
    assert!(report.message.contains("nothing checked it"), "{}", report.message);
    assert_eq!(report.stats.iterations, 2);
    let planned = events.iter().find_map(|e| match e {
        AgentEvent::Transition(Transition { detail: Detail::Planned { tests, .. }, .. }) => Some(tests.clone()),
        _ => None,
    });
    assert_eq!(planned, Some(None), "the Planned event says there are no tests");
    let diagnosed = events.iter().find_map(|e| match e {
        AgentEvent::Transition(Transition { detail: Detail::Diagnosed { diagnosis }, .. }) => Some(diagnosis.error.clone()),
        _ => None,
    });
    assert!(diagnosed.as_deref().is_some_and(|e| e.contains("undefined_name")), "{diagnosed:?}");
    let stopped = events.iter().find_map(|e| match e {
        AgentEvent::Transition(Transition { detail: Detail::Stopped { reason, .. }, .. }) => Some(*reason),
        _ => None,
    });
    assert_eq!(stopped, Some(StopReason::NoTests));
    use State::*;
    assert_eq!(
        path(&events),
        vec![(Plan, Code), (Code, Test), (Test, Observe), (Observe, Fix), (Fix, Test), (Test, Observe), (Observe, GaveUp)]
    );
}

#[test]
fn a_skeleton_in_the_task_is_completed_with_its_imports() {
    let task = "```python\nfrom typing import List\n\ndef total(xs: List[int]) -> int:\n    \"\"\"Sum.\n    >>> total([1, 2])\n    3\n    \"\"\"\n```";
    let agent = Agent::new(Scripted::new(&["```python\ndef total(xs):\n    return sum(xs)\n```"]), config(), None);
    let (report, _) = run(&agent, &Task::new(task, Lang::Python));
    assert_eq!(report.state, State::Done, "{}", report.message);
    assert_eq!(report.tests.unwrap().origin, TestsOrigin::TaskExamples);
    assert!(report.code.unwrap().starts_with("from typing import List\n"));
}

#[test]
fn bad_tasks_are_refused_before_anything_runs() {
    let agent = Agent::new(Scripted::new(&[]), config(), None);
    let mut task = Task::new("  ", Lang::Python);
    assert!(matches!(agent.validate(&task), Err(TaskError::EmptyTask)));
    task.text = "x".into();
    task.tests = TestsInput::Given(TestSuite { source: "import os\nassert os.sep\n".into(), origin: TestsOrigin::UserFile });
    let err = agent.run(&task, &Default::default(), &mut |_| panic!("no events")).unwrap_err();
    assert!(err.to_string().contains("`import os` (PY_IMPORT_DENIED) at line 1"), "{err}");
    task.tests = TestsInput::Given(TestSuite { source: "x = 1\n".into(), origin: TestsOrigin::UserFile });
    assert!(matches!(agent.validate(&task), Err(TaskError::NoTests)));
    let zero = Agent::new(Scripted::new(&[]), AgentConfig { budgets: Budgets { max_iterations: 0, ..Budgets::default() }, ..config() }, None);
    assert!(zero.validate(&Task::new("x", Lang::Python)).unwrap_err().to_string().contains("--max-iterations"));
}

#[test]
fn spawned_tasks_stream_events_over_a_channel() {
    let agent = std::sync::Arc::new(Agent::new(Scripted::new(&["```python\ndef add(a, b):\n    return a + b\n```"]), config(), None));
    let handle = spawn(agent, Task::new(ADD_TASK, Lang::Python)).unwrap();
    let events: Vec<AgentEvent> = handle.events.iter().collect();
    assert!(matches!(events.last(), Some(AgentEvent::Finished(_))));
    assert_eq!(handle_state(handle), State::Done);
}

fn handle_state(handle: TaskHandle) -> State {
    handle.wait().unwrap().state
}

#[test]
fn workspace_tasks_end_with_a_diff_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("calc.py"), "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n").unwrap();
    let ws = Workspace::open(dir.path()).unwrap();
    let before = ws.read("calc.py").unwrap();
    let mut task = Task::new("fix add in calc.py", Lang::Python);
    task.tests = TestsInput::Given(TestSuite { source: "assert add(1, 2) == 3\nassert sub(3, 1) == 2\n".into(), origin: TestsOrigin::UserFile });
    task.target = Some(Target { workspace: ws.clone(), path: "calc.py".into(), before: before.clone() });
    let agent = Agent::new(Scripted::new(&["```python\ndef add(a, b):\n    return a + b\n```"]), config(), None);
    let (report, _) = run(&agent, &task);
    assert_eq!(report.state, State::Done, "{}", report.message);
    assert_eq!(agent.coder().reply_starts.lock().unwrap().clone(), [""], "with the file in the prompt the answer is not started for the model");
    let diff = report.diff.clone().unwrap();
    assert!(diff.contains("-    return a - b\n+    return a + b\n"), "{diff}");
    assert!(report.code.as_deref().unwrap().contains("def sub(a, b):"), "the rest of the file is kept");
    assert_eq!(ws.read("calc.py").unwrap(), before, "nothing is written before Apply");
    let change = proposed_change(&task, &report).unwrap();
    ws.apply(&change).unwrap();
    assert!(ws.read("calc.py").unwrap().unwrap().contains("return a + b"));
}
