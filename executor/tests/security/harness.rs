//! Security corpus: escape attempts (file access, imports by every trick, introspection, dynamic
//! evaluation, host APIs, infinite loops, deep recursion, memory bombs, output floods, process
//! and network attempts) in `tests/security/{py,js}`. Every case runs in BOTH isolation modes
//! with tight limits (process isolation twice: on warm children, the daemon's path, and on
//! children started per run, the CLI's), and each run must:
//! - end in one of the outcomes its `expect:` header allows (all of them safe ones);
//! - end within the wall-clock limit plus a grace (a safety property, not a benchmark);
//! - leave the host process alive (this test keeps running and, at the end, the executor still
//!   runs a plain program correctly);
//! - create no file: each case may try to write `{{CANARY}}`, a path in a fresh temporary
//!   folder, which must not exist afterwards (and the folder must hold nothing new);
//! - read no secret: `{{SECRET_PATH}}` names a file holding a random secret, which must never
//!   appear in stdout, stderr or the value, and must be left unchanged.
//!
//! Header of a case (first lines, `#` or `//` comments):
//! `attempt: what it tries` and `expect: label | label ...` where a label is `ok`, `timeout`,
//! `step_limit`, `memory_limit`, `output_limit`, `outside_subset:CODE`, `error:Kind`, or
//! `error:*` (any uncaught error of the program; never the sandbox's own `Sandbox*` failures).
//!
//! This binary is its own sandbox child (`harness = false`): `main` first serves a child
//! request when started as one, so process-isolated runs re-execute this very binary.
//! It is wired as its own test target in `executor/Cargo.toml` (it needs the sandbox API):
//! `[[test]] name = "security"`, `path = "tests/security/harness.rs"`, `harness = false`.
//! `tests/security/known_failures.txt` may exclude a case from one mode with a reason (a case
//! that would take the host down cannot simply be run); excluded cases are reported.

#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use edgecoder_executor::{Isolation, Lang, Limits, Outcome, RunResult, run, sandbox};
use libtest_mimic::{Arguments, Failed, Trial};

use common::{catch, excerpt, outcome_label, tests_dir};

/// The product's binaries count each run's heap growth with this allocator (it is what stops
/// gradual growth at the memory budget); the security corpus runs under the same configuration,
/// in-process and in the sandbox child, which is this binary too.
#[global_allocator]
static HEAP: edgecoder_executor::python::HeapCounter = edgecoder_executor::python::HeapCounter;

/// Wall-clock budget of every security run.
const WALL_MS: u64 = 2_000;
/// How long past the budget a run may take before it counts as not stopped in time.
const GRACE: Duration = Duration::from_secs(3);
/// Memory budget of every security run.
const MEMORY_BYTES: u64 = 256 * 1024 * 1024;
/// Output budget of every security run.
const OUTPUT_BYTES: u64 = 64 * 1024;

fn main() {
    sandbox::child_main_if_requested();
    let mut args = Arguments::from_args();
    // Wall-clock checks are only meaningful when the cases do not compete with each other.
    args.test_threads = Some(1);
    let trials = vec![
        Trial::test("security_corpus_in_process", || {
            run_mode(Isolation::InProcess)
        }),
        Trial::test("security_corpus_process_isolation_warm_children", || {
            sandbox::set_warm_children(1);
            let result = run_mode(Isolation::Process);
            sandbox::set_warm_children(0);
            result
        }),
        Trial::test("security_corpus_process_isolation_cold_children", || {
            sandbox::set_warm_children(0);
            run_mode(Isolation::Process)
        }),
    ];
    libtest_mimic::run(&args, trials).exit();
}

/// One escape attempt.
struct Case {
    /// `py/NNN_name.py`
    rel: String,
    lang: Lang,
    code: String,
    attempt: String,
    allowed: Vec<String>,
}

fn security_dir() -> PathBuf {
    tests_dir().join("security")
}

fn is_valid_label(label: &str) -> bool {
    const CODES: [&str; 10] = [
        "PY_ASYNC",
        "PY_IMPORT_DENIED",
        "PY_FILE_IO",
        "PY_DYNAMIC_EVAL",
        "PY_INTROSPECTION",
        "PY_CONCURRENCY",
        "JS_MODULE",
        "JS_DYNAMIC_EVAL",
        "JS_HOST_API",
        "JS_ASYNC",
    ];
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !s.starts_with("Sandbox")
    };
    match label.split_once(':') {
        None => [
            "ok",
            "timeout",
            "step_limit",
            "memory_limit",
            "output_limit",
        ]
        .contains(&label),
        Some(("outside_subset", code)) => CODES.contains(&code),
        Some(("error", kind)) => kind == "*" || ident(kind),
        Some(_) => false,
    }
}

fn load_cases() -> Result<Vec<Case>, Vec<String>> {
    let mut cases = Vec::new();
    let mut problems = Vec::new();
    for (sub, ext, lang, comment) in [
        ("py", "py", Lang::Python, "#"),
        ("js", "js", Lang::JavaScript, "//"),
    ] {
        let dir = security_dir().join(sub);
        let mut files: Vec<PathBuf> = match fs::read_dir(&dir) {
            Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                problems.push(format!("cannot list {}: {e}", dir.display()));
                continue;
            }
        };
        files.retain(|p| p.extension().is_some_and(|e| e == ext));
        files.sort();
        for path in files {
            let rel = format!("{sub}/{}", path.file_name().unwrap().to_string_lossy());
            let code = match fs::read_to_string(&path) {
                Ok(code) => code,
                Err(e) => {
                    problems.push(format!("{rel}: {e}"));
                    continue;
                }
            };
            let header: Vec<&str> = code
                .lines()
                .take_while(|l| l.starts_with(comment))
                .map(|l| l[comment.len()..].trim())
                .collect();
            let field = |name: &str| {
                header
                    .iter()
                    .find_map(|l| l.strip_prefix(name))
                    .map(str::trim)
            };
            let attempt = field("attempt:").unwrap_or_default().to_owned();
            let allowed: Vec<String> = field("expect:")
                .map(|e| {
                    e.split('|')
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            if attempt.is_empty() {
                problems.push(format!("{rel}: missing `attempt:` header"));
            }
            if allowed.is_empty() {
                problems.push(format!("{rel}: missing `expect:` header"));
            }
            for bad in allowed.iter().filter(|l| !is_valid_label(l)) {
                problems.push(format!("{rel}: `{bad}` is not a safe outcome label"));
            }
            cases.push(Case {
                rel,
                lang,
                code,
                attempt,
                allowed,
            });
        }
    }
    if problems.is_empty() {
        Ok(cases)
    } else {
        Err(problems)
    }
}

/// `known_failures.txt`: `lang/file mode: reason`, mode being `in-process`, `process` or `both`.
fn excluded(mode: Isolation) -> Result<BTreeMap<String, String>, String> {
    let path = security_dir().join("known_failures.txt");
    let text =
        fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = line.split_once(':').and_then(|(head, reason)| {
            let (file, which) = head.trim().split_once(' ')?;
            Some((file.trim(), which.trim(), reason.trim()))
        });
        let Some((file, which, reason)) = parsed.filter(|(_, _, r)| !r.is_empty()) else {
            return Err(format!(
                "known_failures.txt:{}: expected `lang/file mode: reason`",
                n + 1
            ));
        };
        let applies = match which {
            "both" => true,
            "in-process" => mode == Isolation::InProcess,
            "process" => mode == Isolation::Process,
            other => {
                return Err(format!(
                    "known_failures.txt:{}: unknown mode `{other}`",
                    n + 1
                ));
            }
        };
        if applies {
            out.insert(file.to_owned(), reason.to_owned());
        }
    }
    Ok(out)
}

/// A fresh random secret (std's `RandomState` is keyed from the OS's randomness).
fn random_secret() -> String {
    let mut words = [0u64; 2];
    for (i, w) in words.iter_mut().enumerate() {
        let mut h = RandomState::new().build_hasher();
        h.write_usize(i);
        *w = h.finish();
    }
    format!("EDGECODER-SECRET-{:016x}{:016x}", words[0], words[1])
}

fn matches(allowed: &[String], outcome: &Outcome) -> bool {
    let label = outcome_label(outcome);
    allowed.iter().any(|a| {
        *a == label
            || (a == "error:*"
                && matches!(outcome, Outcome::Error { kind, .. } if !kind.starts_with("Sandbox")))
    })
}

/// Runs one case in `mode` and returns what went wrong, if anything.
fn run_case(case: &Case, mode: Isolation) -> Vec<String> {
    let mut problems = Vec::new();
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => return vec![format!("cannot create a temporary folder: {e}")],
    };
    let secret = random_secret();
    let secret_path = dir.path().join("secret.txt");
    let canary = dir.path().join("canary.txt");
    if let Err(e) = fs::write(&secret_path, &secret) {
        return vec![format!("cannot write the secret file: {e}")];
    }
    let code = case
        .code
        .replace("{{SECRET_PATH}}", &secret_path.to_string_lossy())
        .replace("{{CANARY}}", &canary.to_string_lossy());
    let limits = Limits {
        wall_time_ms: WALL_MS,
        memory_bytes: MEMORY_BYTES,
        output_bytes: OUTPUT_BYTES,
        isolation: mode,
        ..Limits::default()
    };
    let (tx, rx) = mpsc::channel();
    let lang = case.lang;
    let started = Instant::now();
    let spawned = std::thread::Builder::new()
        .name(format!("security {}", case.rel))
        .spawn(move || {
            // The receiver may be gone when the run overran: nothing is left to tell then.
            let _ = tx.send(catch(|| run(&code, lang, &limits)));
        });
    if let Err(e) = spawned {
        return vec![format!("cannot start the run thread: {e}")];
    }
    let deadline = Duration::from_millis(WALL_MS) + GRACE;
    let result: Option<RunResult> = match rx.recv_timeout(deadline) {
        Ok(Ok(result)) => Some(result),
        Ok(Err(panic)) => {
            problems.push(format!("the executor {panic}"));
            None
        }
        Err(_) => {
            problems.push(format!(
                "did not end within {} ms + {} s grace (its thread is left running)",
                WALL_MS,
                GRACE.as_secs()
            ));
            None
        }
    };
    let elapsed = started.elapsed();
    if result.is_some() && elapsed > deadline {
        problems.push(format!(
            "ended after {elapsed:?}, past {WALL_MS} ms + {} s grace",
            GRACE.as_secs()
        ));
    }
    if let Some(result) = &result {
        if !matches(&case.allowed, &result.outcome) {
            problems.push(format!(
                "outcome {} is not one of [{}]; stderr: {:?}",
                outcome_label(&result.outcome),
                case.allowed.join(", "),
                excerpt(&result.stderr, 300)
            ));
        }
        for (what, text) in [
            ("stdout", result.stdout.as_str()),
            ("stderr", result.stderr.as_str()),
            ("value", result.value.as_deref().unwrap_or("")),
        ] {
            if text.contains(&secret) {
                problems.push(format!("the secret leaked into {what}"));
            }
        }
        if mode == Isolation::Process && result.isolation.is_none() {
            problems
                .push("process run without an isolation report (did the child run at all?)".into());
        }
    }
    if canary.exists() {
        problems.push(format!("the canary file {} was created", canary.display()));
    }
    problems.extend(unexpected_files(dir.path(), &secret_path));
    if fs::read_to_string(&secret_path).ok().as_deref() != Some(secret.as_str()) {
        problems.push("the secret file was changed or removed".into());
    }
    problems
}

fn unexpected_files(dir: &Path, secret_path: &Path) -> Vec<String> {
    match fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p != secret_path)
            .map(|p| format!("a file appeared in the temporary folder: {}", p.display()))
            .collect(),
        Err(e) => vec![format!("cannot list the temporary folder: {e}")],
    }
}

/// After every attack, the executor must still run an ordinary program correctly.
fn still_works(mode: Isolation) -> Option<String> {
    let limits = Limits {
        isolation: mode,
        ..Limits::default()
    };
    let checks = [
        (Lang::Python, "print(6 * 7)"),
        (Lang::JavaScript, "console.log(6 * 7)"),
    ];
    let broken: Vec<String> = checks
        .iter()
        .filter_map(|(lang, code)| match catch(|| run(code, *lang, &limits)) {
            Ok(r) if r.outcome.is_ok() && r.stdout == "42\n" => None,
            Ok(r) => Some(format!(
                "{lang:?}: {} {:?}",
                outcome_label(&r.outcome),
                excerpt(&r.stderr, 200)
            )),
            Err(panic) => Some(format!("{lang:?}: {panic}")),
        })
        .collect();
    (!broken.is_empty()).then(|| {
        format!(
            "after the corpus the executor no longer runs plain programs: {}",
            broken.join("; ")
        )
    })
}

fn run_mode(mode: Isolation) -> Result<(), Failed> {
    let name = match mode {
        Isolation::InProcess => "security (in-process)",
        Isolation::Process => "security (process isolation)",
    };
    let cases = load_cases().map_err(|problems| Failed::from(problems.join("\n")))?;
    let skip = excluded(mode).map_err(Failed::from)?;
    let mut failures = Vec::new();
    let mut passed = 0;
    for file in skip.keys().filter(|f| !cases.iter().any(|c| &&c.rel == f)) {
        failures.push(format!(
            "known_failures.txt lists {file}, which does not exist"
        ));
    }
    if cases.len() < 60 {
        failures.push(format!("only {} cases, the corpus needs ≥ 60", cases.len()));
    }
    for case in &cases {
        if let Some(reason) = skip.get(&case.rel) {
            println!(
                "note: {} NOT RUN in this mode (known failure: {reason})",
                case.rel
            );
            continue;
        }
        let problems = run_case(case, mode);
        if problems.is_empty() {
            passed += 1;
        } else {
            failures.push(format!(
                "{} ({}): {}",
                case.rel,
                case.attempt,
                problems.join("; ")
            ));
        }
    }
    if let Some(problem) = still_works(mode) {
        failures.push(problem);
    }
    for failure in &failures {
        println!("FAIL {failure}");
    }
    if !skip.is_empty() {
        println!(
            "note: {} cases excluded in this mode by known_failures.txt",
            skip.len()
        );
    }
    let summary = format!("{name}: {passed} passed, {} failed", failures.len());
    println!("{summary}");
    if failures.is_empty() {
        Ok(())
    } else {
        Err(Failed::from(format!("{summary}:\n{}", failures.join("\n"))))
    }
}
