//! The inference service over HTTP: with the real model (qwen2.5-coder-0.5b from the model
//! store, called through the coordinator's own client) decomposing, escalating and resolving a
//! merge conflict, and with a scripted OpenAI-compatible upstream where a test is about the
//! retry rules and the error answers.

use edgecoder_protocol::ids::MessageId;
use axum::Json;
use axum::routing::post;
use edgecoder_coordinator::merge::{MergeError, merge_patches, merge_resolved};
use edgecoder_coordinator::model::{Aggregate, Job, JobSpec, JobState, SubtaskSpec};
use edgecoder_coordinator::planner::{InferenceClient, Planner, PlannerError};
use edgecoder_inference::{Backend, LocalModel, OpenAiUpstream, ServerConfig, router};
use edgecoder_protocol::ids::Sha256;
use edgecoder_protocol::inference::{ConflictedFile, EditedFile};
use edgecoder_protocol::run::{Lang, Limits};
use edgecoder_protocol::swarm::{Snapshot, WorkMode};
use std::sync::{Arc, Mutex};
use std::time::Duration;

async fn serve(backend: Arc<dyn Backend>, config: ServerConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(backend, config)).await.unwrap() });
    format!("http://{address}")
}

fn job(instruction: &str, tests: Option<&str>) -> Job {
    Job {
        spec: JobSpec {
            id: MessageId::random(),
            tenant: "acme".into(),
            lang: Lang::Python,
            instruction: instruction.into(),
            tests: tests.map(str::to_owned),
            snapshot: Snapshot { sha256: Sha256([7; 32]), bytes: 1 },
            aggregate: Aggregate::Concatenate,
            max_attempts: 3,
        },
        seq: 1,
        state: JobState::Decomposing,
        submitted: 0,
        finished: None,
    }
}

fn subtask(instruction: &str, tests: Option<&str>) -> SubtaskSpec {
    SubtaskSpec {
        id: MessageId::random(),
        ordinal: 0,
        instruction: instruction.into(),
        mode: WorkMode::Step,
        tests: tests.map(str::to_owned),
        deps: vec![],
        model: None,
        limits: Limits::default(),
        file: None,
    }
}

const PRIMES_JOB: &str = "Write two Python functions: is_prime(n), which tells whether the integer n \
                          is a prime number, and primes_below(n), which returns the list of primes \
                          smaller than n and uses is_prime.";
const PRIMES_TESTS: &str = "assert is_prime(7)\nassert not is_prime(8)\nassert primes_below(10) == [2, 3, 5, 7]\n";

#[tokio::test(flavor = "multi_thread")]
async fn the_real_model_decomposes_a_job_and_escalates_a_subtask() {
    let backend = tokio::task::spawn_blocking(|| LocalModel::load("qwen2.5-coder-0.5b", None)).await.unwrap().unwrap();
    let url = serve(Arc::new(backend), ServerConfig::default()).await;
    let client = InferenceClient::new(&url, Duration::from_secs(600));
    let job = job(PRIMES_JOB, Some(PRIMES_TESTS));

    let subtasks = client.decompose(&job, &[]).await.expect("a valid decomposition");
    assert!(!subtasks.is_empty() && subtasks.len() <= client.max_subtasks as usize);
    for (i, s) in subtasks.iter().enumerate() {
        assert!(!s.instruction.trim().is_empty());
        assert_eq!(s.ordinal, i as u32);
        let earlier: Vec<_> = subtasks[..i].iter().map(|e| e.id).collect();
        assert!(s.deps.iter().all(|d| earlier.contains(d)), "subtask {i} depends only on earlier ones");
    }
    let text: String = subtasks.iter().map(|s| s.instruction.to_lowercase()).collect();
    assert!(text.contains("prime"), "the plan is about the job: {subtasks:#?}");

    let escalated = subtask("Write is_prime(n) and primes_below(n) as the job says.", Some(PRIMES_TESTS));
    let code = client.escalate(&job, &escalated, "NameError: name 'is_prime' is not defined", None).await.unwrap();
    let report = edgecoder_executor::run_tests(&code, PRIMES_TESTS, Lang::Python, &Limits::default());
    assert!(report.all_passed(), "the returned code passes the tests: {code}\n{report:?}");
}

const CALC: &str = "def add(a, b):\n    return a + b\n";
const CALC_TESTS: &str = "assert add(1, 2) == 3\nassert sub(3, 1) == 2\nassert mul(2, 3) == 6\n";

/// The conflict of two patches that each append a function to `calc.py` (`sub` and `mul`),
/// as the coordinator's merge finds it, with the snapshot and the patches.
fn calc_conflict() -> (Vec<u8>, Vec<(u32, String)>, Vec<ConflictedFile>) {
    let mut tarball = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(CALC.len() as u64);
    header.set_mode(0o644);
    tarball.append_data(&mut header, "calc.py", CALC.as_bytes()).unwrap();
    let snapshot = tarball.into_inner().unwrap();
    let append = |name: &str, op: &str| {
        format!("--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,6 @@\n def add(a, b):\n     return a + b\n+\n+\n+def {name}(a, b):\n+    return a {op} b\n")
    };
    let patches = vec![(0, append("sub", "-")), (1, append("mul", "*"))];
    let Err(MergeError::Conflict(files)) = merge_patches(&snapshot, &patches) else { panic!("the patches conflict") };
    (snapshot, patches, files)
}

fn calc_job() -> Job {
    job("Add sub(a, b) and mul(a, b) to calc.py.", Some(CALC_TESTS))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_real_model_resolves_conflicting_patches_into_code_that_passes_the_jobs_tests() {
    let backend = tokio::task::spawn_blocking(|| LocalModel::load("qwen2.5-coder-0.5b", None)).await.unwrap().unwrap();
    let url = serve(Arc::new(backend), ServerConfig::default()).await;
    let client = InferenceClient::new(&url, Duration::from_secs(600));
    let (snapshot, patches, files) = calc_conflict();

    let resolved = client.resolve(&calc_job(), &files).await.expect("a resolution");
    assert_eq!(resolved.len(), 1);
    let content = &resolved[0].content;
    let report = edgecoder_executor::run_tests(content, CALC_TESTS, Lang::Python, &Limits::default());
    assert!(report.all_passed(), "the resolved file passes the job's tests: {content}\n{report:?}");
    let diff = merge_resolved(&snapshot, &patches, &resolved).unwrap();
    assert!(diff.starts_with("--- a/calc.py") && diff.contains("+def sub(a, b):") && diff.contains("+def mul(a, b):"), "{diff}");
}

#[tokio::test]
async fn a_resolution_with_markers_or_failing_tests_is_asked_for_again_and_then_refused() {
    let marked = "```python\ndef add(a, b):\n    return a + b\n<<<<<<< ours\ndef sub(a, b):\n    return a - b\n=======\n>>>>>>> theirs\n```";
    let wrong = "```python\ndef add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n```";
    let right = "```python\ndef add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n```";
    let (url, seen) = service_over(vec![marked, wrong, right], ServerConfig::default()).await;
    let client = InferenceClient::new(&url, Duration::from_secs(30));
    let (_, _, files) = calc_conflict();
    let resolved = client.resolve(&calc_job(), &files).await.unwrap();
    assert!(resolved[0].content.contains("def mul(a, b):\n    return a * b"), "{resolved:?}");
    let seen = seen.lock().unwrap();
    let asked = seen[0]["messages"][1]["content"].as_str().unwrap();
    assert!(asked.contains("calc.py") && asked.contains("Add sub(a, b)"), "{asked}");
    assert!(asked.contains("after the first change") && asked.contains("def sub") && asked.contains("def mul"), "each side is shown whole: {asked}");
    assert!(!asked.contains("<<<<<<<"), "no markers for the model to copy: {asked}");
    let again = |i: usize| seen[i]["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_owned();
    assert!(again(1).contains("conflict markers"), "{}", again(1));
    assert!(again(2).contains("tests failed") && again(2).contains("mul"), "{}", again(2));
    drop(seen);

    let (url, _) = service_over(vec![marked, marked], ServerConfig { attempts: 2, ..ServerConfig::default() }).await;
    let error = InferenceClient::new(&url, Duration::from_secs(30)).resolve(&calc_job(), &files).await.unwrap_err();
    let PlannerError::Refused(message) = error else { panic!("refused, not {error:?}") };
    assert!(message.starts_with("422") && message.contains("could not resolve calc.py in 2 answers"), "{message}");

    let (url, seen) = service_over(vec![], ServerConfig::default()).await;
    let mut unmarked = files.clone();
    unmarked[0].marked = CALC.into();
    let error = InferenceClient::new(&url, Duration::from_secs(30)).resolve(&calc_job(), &unmarked).await.unwrap_err();
    assert!(error.to_string().contains("400") && error.to_string().contains("no conflict markers"), "{error}");
    let error = InferenceClient::new(&url, Duration::from_secs(30)).resolve(&calc_job(), &[]).await.unwrap_err();
    assert!(error.to_string().contains("no conflicting files"), "{error}");
    assert!(seen.lock().unwrap().is_empty(), "nothing reached the model");
}

/// An OpenAI-compatible upstream that answers with the given replies in turn and records the
/// conversations it was sent.
async fn scripted_upstream(replies: Vec<&'static str>) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let replies = Arc::new(Mutex::new(replies.into_iter()));
    let recorder = seen.clone();
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(move |Json(body): Json<serde_json::Value>| {
            let reply = replies.lock().unwrap().next().expect("no more scripted replies");
            recorder.lock().unwrap().push(body);
            async move { Json(serde_json::json!({"choices": [{"message": {"role": "assistant", "content": reply}}]})) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), seen)
}

async fn service_over(replies: Vec<&'static str>, config: ServerConfig) -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let (upstream, seen) = scripted_upstream(replies).await;
    let backend = OpenAiUpstream::new(&upstream, "big-coder", Some("upstream-key".into()), Duration::from_secs(30));
    (serve(Arc::new(backend), config).await, seen)
}

#[tokio::test]
async fn an_invalid_plan_is_asked_for_again_with_the_error_shown_to_the_model() {
    let (url, seen) = service_over(
        vec![
            "Sure! First write is_prime, then primes_below.",
            "```json\n{\"subtasks\": [{\"instruction\": \"Write is_prime(n).\", \"tests\": \"assert is_prime(7)\"}, {\"instruction\": \"Write primes_below(n) using is_prime.\", \"after\": [0]}]}\n```",
        ],
        ServerConfig::default(),
    )
    .await;
    let subtasks = InferenceClient::new(&url, Duration::from_secs(30)).decompose(&job(PRIMES_JOB, None), &[]).await.unwrap();
    assert_eq!(subtasks.len(), 2);
    assert_eq!(subtasks[0].mode, WorkMode::MicroLoop { max_iterations: 3 });
    assert_eq!(subtasks[1].deps, vec![subtasks[0].id]);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0]["model"], "big-coder");
    let retry = seen[1]["messages"].as_array().unwrap();
    let last = retry.last().unwrap()["content"].as_str().unwrap();
    assert!(last.contains("invalid: there is no JSON object"), "{last}");
}

#[tokio::test]
async fn a_job_that_edits_files_gets_a_plan_naming_the_file_of_each_subtask() {
    let (url, seen) = service_over(
        vec![
            "{\"subtasks\": [{\"instruction\": \"Add sub(a, b) to calc.py.\"}]}",
            "{\"subtasks\": [{\"instruction\": \"Add sub(a, b) to calc.py.\", \"file\": \"calc.py\"}, \
             {\"instruction\": \"Write shout(s) in text/shout.py.\", \"file\": \"text/shout.py\"}]}",
        ],
        ServerConfig::default(),
    )
    .await;
    let files = ["calc.py".to_owned(), "README.md".to_owned()];
    let job = job("Add sub(a, b) to calc.py and write shout(s) in text/shout.py.", None);
    let subtasks = InferenceClient::new(&url, Duration::from_secs(30)).decompose(&job, &files).await.unwrap();
    let edited: Vec<_> = subtasks.iter().map(|s| s.file.as_deref()).collect();
    assert_eq!(edited, vec![Some("calc.py"), Some("text/shout.py")]);
    {
        let seen = seen.lock().unwrap();
        let first = seen[0]["messages"].as_array().unwrap();
        assert!(first[1]["content"].as_str().unwrap().contains("The job's files: calc.py, README.md"), "{first:?}");
        let retry = seen[1]["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_owned();
        assert!(retry.contains("subtask 0 has no \"file\""), "{retry}");
    }

    // A file list that leads out of the snapshot is refused before the model is asked.
    let error = InferenceClient::new(&url, Duration::from_secs(30))
        .decompose(&job, &["../../etc/passwd".to_owned()])
        .await
        .unwrap_err();
    assert!(error.to_string().contains("not a snapshot path"), "{error}");
    assert_eq!(seen.lock().unwrap().len(), 2, "nothing more reached the model");
}

#[tokio::test]
async fn a_plan_that_stays_invalid_fails_the_request_with_the_last_error() {
    let cyclic = "{\"subtasks\": [{\"instruction\": \"a\", \"after\": [0]}]}";
    let (url, seen) = service_over(vec![cyclic, cyclic], ServerConfig { attempts: 2, ..ServerConfig::default() }).await;
    let error = InferenceClient::new(&url, Duration::from_secs(30)).decompose(&job(PRIMES_JOB, None), &[]).await.unwrap_err();
    let PlannerError::Refused(message) = error else { panic!("refused, not {error:?}") };
    assert!(message.starts_with("422"), "{message}");
    assert!(message.contains("invalid 2 times") && message.contains("not an earlier subtask"), "{message}");
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn escalated_code_is_run_against_the_tests_and_fixed() {
    let (url, seen) = service_over(
        vec![
            "```python\ndef is_prime(n):\n    return n % 2 == 1\n```",
            "```python\nimport os\n```",
            "```python\ndef is_prime(n):\n    return n > 1 and all(n % d for d in range(2, int(n ** 0.5) + 1))\n```",
        ],
        ServerConfig::default(),
    )
    .await;
    let tests = "assert is_prime(7)\nassert not is_prime(9)\nassert not is_prime(1)\n";
    let client = InferenceClient::new(&url, Duration::from_secs(30));
    let code = client.escalate(&job(PRIMES_JOB, None), &subtask("Write is_prime(n).", Some(tests)), "wrong", None).await.unwrap();
    assert!(code.contains("all(n % d"), "{code}");
    let seen = seen.lock().unwrap();
    let fix = seen[1]["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_owned();
    assert!(fix.contains("assert#2") || fix.contains("failed"), "the failing test is shown: {fix}");
    let subset = seen[2]["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_owned();
    assert!(subset.contains("os"), "the subset refusal is shown: {subset}");
}

#[tokio::test]
async fn an_escalated_subtask_that_edits_a_file_sees_the_file_and_answers_with_all_of_it() {
    let calc = "def add(a, b):\n    return a + b\n";
    let (url, seen) = service_over(
        vec![
            "```python\ndef sub(a, b):\n    return b - a\n```",
            "```python\ndef add(a, b):\n    return a + b\n```",
            "```python\ndef sub(a, b):\n    return a - b\n\n\nprint(sub(5, 3))\n```",
        ],
        ServerConfig::default(),
    )
    .await;
    let client = InferenceClient::new(&url, Duration::from_secs(30));
    let mut edit = subtask("Add sub(a, b) to calc.py.", Some("assert add(1, 2) == 3\nassert sub(5, 3) == 2\n"));
    edit.file = Some("calc.py".into());
    let file = EditedFile { path: "calc.py".into(), content: Some(calc.into()) };
    let content = client.escalate(&job("Add sub to calc.py.", None), &edit, "add was lost", Some(&file)).await.unwrap();
    // The answer's new function joins the file; the demo print is dropped.
    assert_eq!(content, "def add(a, b):\n    return a + b\n\ndef sub(a, b):\n    return a - b\n");
    let seen = seen.lock().unwrap();
    let first = seen[0]["messages"].as_array().unwrap();
    assert!(first[0]["content"].as_str().unwrap().contains("the functions and classes you add or change"), "{first:?}");
    assert!(first[1]["content"].as_str().unwrap().contains("The file calc.py now:\n```python\ndef add(a, b):"), "{first:?}");
    let wrong = seen[1]["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_owned();
    assert!(
        wrong.contains("assert#2") && wrong.contains("the functions and classes you add or change"),
        "the failing test is shown, and the retry asks for the answer the first prompt asked for: {wrong}"
    );
    let unchanged = seen[2]["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap().to_owned();
    assert!(unchanged.contains("leaves calc.py as it is"), "{unchanged}");
}

#[tokio::test]
async fn escalation_that_keeps_failing_is_a_422_naming_the_failure() {
    let wrong = "```python\ndef is_prime(n):\n    return True\n```";
    let (url, _) = service_over(vec![wrong, wrong, wrong], ServerConfig::default()).await;
    let client = InferenceClient::new(&url, Duration::from_secs(30));
    let error = client
        .escalate(&job(PRIMES_JOB, None), &subtask("Write is_prime(n).", Some("assert not is_prime(9)\n")), "x", None)
        .await
        .unwrap_err();
    let PlannerError::Refused(message) = error else { panic!("refused, not {error:?}") };
    assert!(message.starts_with("422") && message.contains("failed 3 times"), "{message}");
}

#[tokio::test]
async fn bad_requests_tokens_and_a_dead_upstream_get_clear_answers() {
    let (url, seen) =
        service_over(vec![], ServerConfig { token: Some("s3cret".into()), ..ServerConfig::default() }).await;
    let http = reqwest::Client::new();

    let health: serde_json::Value = http.get(format!("{url}/healthz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["model"].as_str().unwrap().split(' ').next(), Some("big-coder"));

    let no_token = http.post(format!("{url}/v1/decompose")).body("{}").send().await.unwrap();
    assert_eq!(no_token.status(), 401);
    assert!(no_token.text().await.unwrap().contains("bearer token"));

    let bad = http
        .post(format!("{url}/v1/decompose"))
        .bearer_auth("s3cret")
        .header("content-type", "application/json")
        .body("{\"job\": 12")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 422, "a cut-off body is not the expected JSON");
    let body: serde_json::Value = bad.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("not valid"), "{body}");

    let empty = serde_json::json!({"job": MessageId::random(), "lang": "python", "instruction": " ", "tests": null, "max_subtasks": 4});
    let answer = http.post(format!("{url}/v1/decompose")).bearer_auth("s3cret").json(&empty).send().await.unwrap();
    assert_eq!(answer.status(), 400);
    let huge = "x".repeat(2 << 20);
    let answer = http
        .post(format!("{url}/v1/escalate"))
        .bearer_auth("s3cret")
        .header("content-type", "application/json")
        .body(huge).send().await.unwrap();
    assert_eq!(answer.status(), 413);
    assert!(seen.lock().unwrap().is_empty(), "nothing reached the model");

    let dead = OpenAiUpstream::new("http://127.0.0.1:9", "big-coder", None, Duration::from_secs(5));
    let url = serve(Arc::new(dead), ServerConfig::default()).await;
    let error = InferenceClient::new(&url, Duration::from_secs(30)).decompose(&job(PRIMES_JOB, None), &[]).await.unwrap_err();
    assert!(error.is_transient(), "a dead upstream is worth asking again later: {error:?}");
    let PlannerError::Unavailable { status, message, .. } = error else { panic!("unavailable, not {error:?}") };
    assert!(status == 502 && message.contains("127.0.0.1:9"), "{status} {message}");
}
