//! Process-isolation tests. This test binary is its own sandbox child: `main` first serves a
//! child request with a runner that understands `probe:*` programs, which make raw system
//! calls from inside the confined child and report what the kernel answered. The probes exist
//! only in this test binary; production binaries serve children with
//! `edgecoder_executor::execute_in_process`, which has no such hook.

use edgecoder_executor::sandbox::{self, serve_child_if_requested};
use edgecoder_executor::{
    ExecRequest, ExecResponse, Isolation, IsolationReport, Lang, Limits, Outcome, RunResult,
    execute, execute_in_process,
};
use libtest_mimic::{Arguments, Failed, Trial};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::path::Path;
use std::time::{Duration, Instant};

fn main() {
    serve_child_if_requested(probe_runner);
    let mut args = Arguments::from_args();
    // The zombie checks look at all children of this process: run one test at a time.
    args.test_threads = Some(1);
    let trials = vec![
        Trial::test(
            "raw_syscalls_are_denied_inside_the_child",
            raw_syscalls_are_denied,
        ),
        Trial::test(
            "the_child_has_an_empty_environment_and_no_stdin",
            clean_environment,
        ),
        Trial::test("a_busy_loop_is_killed_at_the_deadline", busy_loop_times_out),
        Trial::test(
            "a_sleeping_child_is_killed_at_the_deadline",
            sleep_times_out,
        ),
        Trial::test("allocation_past_the_budget_is_a_memory_limit", memory_limit),
        Trial::test("allocation_inside_the_budget_runs", memory_within_budget),
        Trial::test("stack_overflow_is_reported", stack_overflow),
        Trial::test("an_abort_is_reported_as_a_crash", abort_is_a_crash),
        Trial::test("an_exit_without_answer_names_the_fix", exit_without_answer),
        Trial::test("an_answer_flood_is_an_output_limit", answer_flood),
        Trial::test("a_missing_executable_is_a_clear_error", missing_executable),
        Trial::test("a_foreign_executable_is_a_clear_error", foreign_executable),
        Trial::test("test_requests_keep_their_shape_on_failure", tests_shape),
        Trial::test("parallel_runs_do_not_mix", parallel_runs),
        Trial::test(
            "dispatch_through_execute_uses_the_child",
            dispatch_through_execute,
        ),
        Trial::test(
            "warm_children_are_confined_like_cold_ones",
            warm_children_are_confined,
        ),
        Trial::test(
            "warm_children_serve_one_run_each_and_leak_nothing",
            warm_children_leak_nothing,
        ),
        Trial::test(
            "a_killed_warm_child_is_replaced",
            killed_warm_child_is_replaced,
        ),
        Trial::test(
            "warm_children_enforce_each_runs_limits",
            warm_children_enforce_limits,
        ),
    ];
    libtest_mimic::run(&args, trials).exit();
}

// ---- the child side -------------------------------------------------------------------------

fn probe_runner(request: &ExecRequest, limits: &Limits) -> ExecResponse {
    let ExecRequest::Run { code, .. } = request else {
        return execute_in_process(request, limits);
    };
    let Some(probe) = code.strip_prefix("probe:") else {
        return execute_in_process(request, limits);
    };
    let (name, arg) = probe.split_once(':').unwrap_or((probe, ""));
    let stdout = match name {
        "syscalls" => syscall_probe(arg),
        "env" => env_probe(),
        "spin" => spin(),
        "sleep" => loop {
            std::thread::sleep(Duration::from_secs(60));
        },
        "alloc" => {
            let bytes: usize = arg.parse().expect("probe:alloc:BYTES");
            let mut block: Vec<u8> = Vec::with_capacity(bytes);
            block.resize(bytes, 1);
            format!(
                "allocated {}",
                block.iter().map(|&b| b as usize).sum::<usize>()
            )
        }
        "stack" => format!("{}", recurse(1)),
        "rlimits" => rlimits_probe(),
        "abort" => std::process::abort(),
        "exit" => std::process::exit(arg.parse().expect("probe:exit:CODE")),
        "flood" => "x".repeat(arg.parse().expect("probe:flood:BYTES")),
        other => panic!("unknown probe {other}"),
    };
    ExecResponse::Run(RunResult {
        stdout,
        stderr: String::new(),
        value: None,
        exit_code: 0,
        wall_time_us: 0,
        steps: 0,
        outcome: Outcome::Ok,
        isolation: None,
    })
}

fn spin() -> String {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let pad = std::hint::black_box([depth; 64]);
    recurse(depth + 1) + pad[3]
}

/// `ok` or `errno N` for a raw system call's return value.
fn verdict(rc: libc::c_long) -> String {
    if rc >= 0 {
        "ok".into()
    } else {
        format!(
            "errno {}",
            std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
        )
    }
}

fn syscall_probe(write_target: &str) -> String {
    let mut out = BTreeMap::new();
    let hostname = CString::new("/etc/hostname").unwrap();
    let target = CString::new(write_target).unwrap();
    let root = CString::new("/").unwrap();
    let tru = CString::new("/bin/true").unwrap();
    // SAFETY (whole block): raw system calls with valid pointers to locals; any process these
    // calls would create exits at once, so a failing filter shows up as `ok`, never as chaos.
    unsafe {
        let fd = libc::open(hostname.as_ptr(), libc::O_RDONLY);
        out.insert("read_etc_hostname", verdict(fd as libc::c_long));
        let fd = libc::open(target.as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o600);
        out.insert("create_tmp_file", verdict(fd as libc::c_long));
        let fd = libc::open(root.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY);
        out.insert("list_root", verdict(fd as libc::c_long));
        let s = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
        out.insert("socket_inet", verdict(s as libc::c_long));
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_port = 22u16.to_be();
        addr.sin_addr.s_addr = u32::from_be_bytes([127, 0, 0, 1]).to_be();
        let rc = libc::connect(
            0,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        out.insert("connect_loopback", verdict(rc as libc::c_long));
        let mut pair = [0; 2];
        let rc = libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, pair.as_mut_ptr());
        out.insert("socketpair", verdict(rc as libc::c_long));
        let rc = libc::syscall(libc::SYS_fork);
        if rc == 0 {
            libc::_exit(0);
        }
        out.insert("fork", verdict(rc));
        let rc = libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_long, 0, 0, 0, 0);
        if rc == 0 {
            libc::_exit(0);
        }
        out.insert("clone_process", verdict(rc));
        let rc = libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 88usize);
        out.insert("clone3", verdict(rc));
        let argv = [tru.as_ptr(), std::ptr::null()];
        let envp = [std::ptr::null()];
        let rc = libc::execve(tru.as_ptr(), argv.as_ptr(), envp.as_ptr());
        out.insert("execve", verdict(rc as libc::c_long));
        let rc = libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
        out.insert("ptrace", verdict(rc));
        let rc = libc::kill(libc::getppid(), 0);
        out.insert("signal_parent", verdict(rc as libc::c_long));
        let rc = libc::unshare(libc::CLONE_NEWUSER);
        out.insert("unshare", verdict(rc as libc::c_long));
        let name = CString::new("x").unwrap();
        let rc = libc::syscall(libc::SYS_memfd_create, name.as_ptr(), 0);
        out.insert("memfd_create", verdict(rc));
    }
    let thread = std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| 7)
        .map(|h| h.join());
    out.insert(
        "spawn_thread",
        if matches!(thread, Ok(Ok(7))) {
            "ok".into()
        } else {
            "failed".into()
        },
    );
    out.iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

fn env_probe() -> String {
    let vars = std::env::vars_os().count();
    let mut buf = [0u8; 16];
    // SAFETY: read into a local buffer of the given size.
    let got = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
    format!(
        "vars={vars}\nstdin_read={got}\ncore={}\nfsize={}\n",
        soft_limit(libc::RLIMIT_CORE),
        soft_limit(libc::RLIMIT_FSIZE)
    )
}

/// The type `getrlimit` takes its resource as (it differs between C libraries).
#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

/// The soft limit of `resource` as this process sees it (`u64::MAX` when unknown).
fn soft_limit(resource: Resource) -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: getrlimit writes into the local.
    unsafe { libc::getrlimit(resource, &mut limit) };
    limit.rlim_cur as u64
}

/// The CPU and address-space limits as the run sees them, with the CPU seconds used so far.
fn rlimits_probe() -> String {
    // SAFETY: getrusage writes into the local.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let used_us = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1_000_000
        + usage.ru_utime.tv_usec
        + usage.ru_stime.tv_usec;
    format!(
        "cpu_soft={} cpu_used_us={used_us} as={}",
        soft_limit(libc::RLIMIT_CPU),
        soft_limit(libc::RLIMIT_AS)
    )
}

// ---- the parent side ------------------------------------------------------------------------

fn limits(wall_time_ms: u64) -> Limits {
    Limits {
        wall_time_ms,
        isolation: Isolation::Process,
        ..Limits::default()
    }
}

fn probe(code: &str, limits: &Limits) -> RunResult {
    let request = ExecRequest::Run {
        lang: Lang::Python,
        code: code.to_owned(),
    };
    match sandbox::execute(&request, limits) {
        ExecResponse::Run(run) => run,
        ExecResponse::Tests(t) => t.run,
    }
}

fn ensure(cond: bool, what: impl std::fmt::Display) -> Result<(), Failed> {
    if cond {
        Ok(())
    } else {
        Err(what.to_string().into())
    }
}

/// Fails when this process still has a child (running or zombie).
fn no_children_left() -> Result<(), Failed> {
    // SAFETY: waitpid with WNOHANG and a null status pointer.
    let rc = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
    let errno = std::io::Error::last_os_error().raw_os_error();
    ensure(
        rc == -1 && errno == Some(libc::ECHILD),
        format!("a child is left: waitpid={rc}"),
    )
}

fn error_kind(outcome: &Outcome) -> Option<&str> {
    match outcome {
        Outcome::Error { kind, .. } => Some(kind),
        _ => None,
    }
}

fn report(run: &RunResult) -> Result<&IsolationReport, Failed> {
    run.isolation
        .as_ref()
        .ok_or_else(|| Failed::from("no isolation report"))
}

fn raw_syscalls_are_denied() -> Result<(), Failed> {
    let target =
        std::env::temp_dir().join(format!("edgecoder-sandbox-probe-{}", std::process::id()));
    let _ = std::fs::remove_file(&target);
    let run = probe(
        &format!("probe:syscalls:{}", target.display()),
        &limits(5_000),
    );
    ensure(run.outcome == Outcome::Ok, format!("probe failed: {run:?}"))?;
    let layers = report(&run)?;
    ensure(
        layers.seccomp && layers.rlimits && layers.clean_env,
        format!("layers: {layers:?}"),
    )?;
    let seen: BTreeMap<&str, &str> = run
        .stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .collect();
    let eperm = format!("errno {}", libc::EPERM);
    let eacces = format!("errno {}", libc::EACCES);
    let enosys = format!("errno {}", libc::ENOSYS);
    let mut expected = BTreeMap::from([
        ("socket_inet", eperm.as_str()),
        ("connect_loopback", eperm.as_str()),
        ("socketpair", eperm.as_str()),
        ("fork", eperm.as_str()),
        ("clone_process", eperm.as_str()),
        ("clone3", enosys.as_str()),
        ("execve", eperm.as_str()),
        ("ptrace", eperm.as_str()),
        ("unshare", eperm.as_str()),
        ("memfd_create", eperm.as_str()),
        ("spawn_thread", "ok"),
    ]);
    if layers.landlock.starts_with("fully_enforced") || layers.landlock.starts_with("partially") {
        expected.insert("read_etc_hostname", eacces.as_str());
        expected.insert("create_tmp_file", eacces.as_str());
        expected.insert("list_root", eacces.as_str());
    } else {
        // Without Landlock, the file layers are missing and must say so.
        ensure(
            layers.landlock.starts_with("not_enforced: "),
            &layers.landlock,
        )?;
    }
    for (name, want) in &expected {
        ensure(
            seen.get(name) == Some(want),
            format!("{name}: want {want}, got {:?}", seen.get(name)),
        )?;
    }
    // Whatever the layers, the host file system is untouched.
    ensure(
        !target.exists(),
        format!("{} was created", target.display()),
    )?;
    no_children_left()
}

fn clean_environment() -> Result<(), Failed> {
    // SAFETY: single-threaded test process (one test at a time); only this test reads it.
    unsafe { std::env::set_var("EDGECODER_SECRET_TOKEN", "leak-me") };
    let run = probe("probe:env", &limits(5_000));
    // SAFETY: as above.
    unsafe { std::env::remove_var("EDGECODER_SECRET_TOKEN") };
    ensure(run.outcome == Outcome::Ok, format!("{run:?}"))?;
    ensure(
        run.stdout == "vars=0\nstdin_read=0\ncore=0\nfsize=0\n",
        &run.stdout,
    )?;
    ensure(report(&run)?.clean_env, "clean_env not reported")
}

fn timed(code: &str, wall_ms: u64) -> (RunResult, Duration) {
    let started = Instant::now();
    let run = probe(code, &limits(wall_ms));
    (run, started.elapsed())
}

fn busy_loop_times_out() -> Result<(), Failed> {
    let (run, took) = timed("probe:spin", 300);
    ensure(run.outcome == Outcome::Timeout, format!("{run:?}"))?;
    ensure(took < Duration::from_secs(5), format!("took {took:?}"))?;
    ensure(
        run.stderr.contains("wall-clock budget of 300 ms"),
        &run.stderr,
    )?;
    ensure(report(&run)?.seccomp, "layers sent before the run are kept")?;
    no_children_left()
}

fn sleep_times_out() -> Result<(), Failed> {
    let (run, took) = timed("probe:sleep", 200);
    ensure(run.outcome == Outcome::Timeout, format!("{run:?}"))?;
    ensure(took < Duration::from_secs(5), format!("took {took:?}"))?;
    no_children_left()
}

fn memory_limit() -> Result<(), Failed> {
    let limits = Limits {
        memory_bytes: 64 << 20,
        ..limits(10_000)
    };
    let run = probe(&format!("probe:alloc:{}", 4u64 << 30), &limits);
    ensure(run.outcome == Outcome::MemoryLimit, format!("{run:?}"))?;
    no_children_left()
}

fn memory_within_budget() -> Result<(), Failed> {
    let limits = Limits {
        memory_bytes: 64 << 20,
        ..limits(10_000)
    };
    let run = probe(&format!("probe:alloc:{}", 32u64 << 20), &limits);
    ensure(run.outcome == Outcome::Ok, format!("{run:?}"))?;
    ensure(
        run.stdout == format!("allocated {}", 32u64 << 20),
        &run.stdout,
    )
}

fn stack_overflow() -> Result<(), Failed> {
    let run = probe("probe:stack", &limits(10_000));
    ensure(
        error_kind(&run.outcome) == Some("StackOverflow"),
        format!("{run:?}"),
    )?;
    no_children_left()
}

fn abort_is_a_crash() -> Result<(), Failed> {
    let run = probe("probe:abort", &limits(5_000));
    match &run.outcome {
        Outcome::Error { kind, message, .. } => {
            ensure(kind == "SandboxCrash", kind)?;
            ensure(message.contains("SIGABRT"), message)?;
        }
        other => return Err(format!("unexpected {other:?}").into()),
    }
    ensure(run.exit_code == 128 + libc::SIGABRT, run.exit_code)?;
    no_children_left()
}

fn exit_without_answer() -> Result<(), Failed> {
    let run = probe("probe:exit:3", &limits(5_000));
    match &run.outcome {
        Outcome::Error { kind, message, .. } => {
            ensure(kind == "SandboxError", kind)?;
            ensure(message.contains("exited with code 3"), message)?;
        }
        other => return Err(format!("unexpected {other:?}").into()),
    }
    no_children_left()
}

fn answer_flood() -> Result<(), Failed> {
    let limits = Limits {
        output_bytes: 1024,
        ..limits(10_000)
    };
    let run = probe(&format!("probe:flood:{}", 40u64 << 20), &limits);
    ensure(
        run.outcome == Outcome::OutputLimit,
        format!("{:?}", run.outcome),
    )?;
    no_children_left()
}

fn run_with(exe: &Path, limits: &Limits) -> RunResult {
    let request = ExecRequest::Run {
        lang: Lang::Python,
        code: "print(1)".into(),
    };
    match sandbox::execute_with(exe, &request, limits) {
        ExecResponse::Run(run) => run,
        ExecResponse::Tests(t) => t.run,
    }
}

fn missing_executable() -> Result<(), Failed> {
    let run = run_with(Path::new("/nonexistent/edgecoder"), &limits(1_000));
    match &run.outcome {
        Outcome::Error { kind, message, .. } => {
            ensure(kind == "SandboxError", kind)?;
            ensure(message.contains("/nonexistent/edgecoder"), message)?;
            ensure(message.contains("check that the file exists"), message)?;
        }
        other => return Err(format!("unexpected {other:?}").into()),
    }
    ensure(
        run.isolation.is_none(),
        "no layers can be claimed when nothing started",
    )
}

fn foreign_executable() -> Result<(), Failed> {
    let run = run_with(Path::new("/bin/true"), &limits(1_000));
    match &run.outcome {
        Outcome::Error { kind, message, .. } => {
            ensure(kind == "SandboxError", kind)?;
            ensure(message.contains("child_main_if_requested"), message)?;
        }
        other => return Err(format!("unexpected {other:?}").into()),
    }
    no_children_left()
}

fn tests_shape() -> Result<(), Failed> {
    let request = ExecRequest::Tests {
        lang: Lang::Python,
        solution: "def f(): pass".into(),
        tests: "assert f() is None".into(),
    };
    match sandbox::execute_with(Path::new("/bin/true"), &request, &limits(1_000)) {
        ExecResponse::Tests(report) => ensure(
            report.tests.is_empty() && !report.all_passed(),
            format!("{report:?}"),
        ),
        other => Err(format!("wrong shape: {other:?}").into()),
    }
}

fn parallel_runs() -> Result<(), Failed> {
    let handles: Vec<_> = (0..6)
        .map(|i| {
            std::thread::spawn(move || {
                let bytes = (i + 1) * 1024 * 1024;
                (
                    bytes,
                    probe(&format!("probe:alloc:{bytes}"), &limits(10_000)),
                )
            })
        })
        .collect();
    for handle in handles {
        let (bytes, run) = handle.join().map_err(|_| Failed::from("thread panicked"))?;
        ensure(
            run.stdout == format!("allocated {bytes}"),
            format!("{bytes}: {run:?}"),
        )?;
    }
    no_children_left()
}

fn dispatch_through_execute() -> Result<(), Failed> {
    let request = ExecRequest::Run {
        lang: Lang::Python,
        code: "probe:env".into(),
    };
    match execute(&request, &limits(5_000)) {
        ExecResponse::Run(run) => {
            ensure(
                run.isolation.is_some(),
                "process isolation must report its layers",
            )?;
            ensure(run.wall_time_us > 0, "the parent measures the wall time")
        }
        other => Err(format!("wrong shape: {other:?}").into()),
    }
}

// ---- warm children --------------------------------------------------------------------------

/// Turns warm children on and waits until one is ready.
fn warm_one() -> Result<(), Failed> {
    sandbox::set_warm_children(1);
    ensure(
        sandbox::wait_until_warm(Duration::from_secs(60)),
        "no warm child became ready within 60 s",
    )
}

/// Turns warm children off (killing and reaping the idle ones) and checks none is left.
fn warm_off() -> Result<(), Failed> {
    sandbox::set_warm_children(0);
    // A replacement child that was still starting is killed by its starter thread once it is
    // up (turning warm children off does not wait for it): give that a few seconds. A zombie
    // (a child nobody reaped) fails at once.
    let deadline = Instant::now() + Duration::from_secs(10);
    while still_running_child() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    no_children_left()
}

/// Whether this process has a child that is still running (not a zombie).
fn still_running_child() -> bool {
    // SAFETY: waitid with WNOHANG | WNOWAIT only looks; a zeroed siginfo is valid to pass.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::waitid(libc::P_ALL, 0, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT) };
    // No child has exited (si_pid stays 0) while some child exists.
    rc == 0 && unsafe { info.si_pid() } == 0
}

/// Whether `pid` still names a process (a reaped child does not).
fn alive(pid: u32) -> bool {
    // SAFETY: kill with signal 0 only checks that the process exists.
    unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
}

fn warm_children_are_confined() -> Result<(), Failed> {
    let target =
        std::env::temp_dir().join(format!("edgecoder-sandbox-warm-probe-{}", std::process::id()));
    let code = format!("probe:syscalls:{}", target.display());
    let cold = probe(&code, &limits(5_000));
    let cold_env = probe("probe:env", &limits(5_000));
    warm_one()?;
    let warm = probe(&code, &limits(5_000));
    let warm_env = probe("probe:env", &limits(5_000));
    warm_off()?;
    ensure(warm.outcome == Outcome::Ok, format!("{warm:?}"))?;
    ensure(
        warm.stdout == cold.stdout,
        format!("warm:\n{}\ncold:\n{}", warm.stdout, cold.stdout),
    )?;
    ensure(warm_env.stdout == cold_env.stdout, &warm_env.stdout)?;
    ensure(
        warm.isolation == cold.isolation,
        format!("warm {:?} vs cold {:?}", warm.isolation, cold.isolation),
    )?;
    ensure(!target.exists(), "the warm child created a file")
}

fn warm_children_leak_nothing() -> Result<(), Failed> {
    warm_one()?;
    let first = sandbox::warm_child_pids();
    let polluter = "import math, json, collections\nmath.pi = 3\njson.dumps = None\n\
                    collections.Counter.extra = 1\nsecret = 42\nhog = bytearray(100 * 1024 * 1024)\n\
                    print('polluted')";
    let run = probe(polluter, &limits(10_000));
    ensure(run.stdout == "polluted\n", format!("{run:?}"))?;
    ensure(
        first.iter().all(|pid| !alive(*pid)),
        format!("the child that served the run is still there: {first:?}"),
    )?;
    ensure(
        sandbox::wait_until_warm(Duration::from_secs(60)),
        "no replacement became ready",
    )?;
    let second = sandbox::warm_child_pids();
    ensure(
        !second.is_empty() && second.iter().all(|pid| !first.contains(pid)),
        format!("the replacement is a new process: {first:?} -> {second:?}"),
    )?;
    let checker = "import math, json, collections\n\
                   [math.pi, json.dumps([1]), hasattr(collections.Counter, 'extra'), 'secret' in globals(), 'hog' in globals()]";
    let tight = Limits {
        memory_bytes: 64 << 20,
        ..limits(10_000)
    };
    let run = probe(checker, &tight);
    let result = ensure(
        run.value.as_deref() == Some("[3.141592653589793, '[1]', False, False, False]"),
        format!("{run:?}"),
    );
    warm_off()?;
    result
}

fn killed_warm_child_is_replaced() -> Result<(), Failed> {
    warm_one()?;
    let victims = sandbox::warm_child_pids();
    for pid in &victims {
        // SAFETY: kill of our own idle child.
        unsafe { libc::kill(*pid as libc::pid_t, libc::SIGKILL) };
    }
    // Once they are zombies the next run reaps them while looking for a live one and finds
    // none: the pool must still be refilled.
    ensure(
        victims.iter().all(|pid| became_zombie(*pid, Duration::from_secs(10))),
        "the killed children did not die",
    )?;
    let run = probe("print(6 * 7)", &limits(5_000));
    ensure(
        run.outcome == Outcome::Ok && run.stdout == "42\n",
        format!("{run:?}"),
    )?;
    ensure(report(&run)?.seccomp, "the fallback run is confined")?;
    ensure(
        sandbox::wait_until_warm(Duration::from_secs(60)),
        "no replacement became ready",
    )?;
    let now = sandbox::warm_child_pids();
    ensure(
        now.iter().all(|pid| !victims.contains(pid)),
        format!("{victims:?} -> {now:?}"),
    )?;
    // A child that crashes or times out during its run is not reused either.
    let crash = probe("probe:abort", &limits(5_000));
    ensure(error_kind(&crash.outcome) == Some("SandboxCrash"), format!("{crash:?}"))?;
    let (late, took) = timed("probe:spin", 300);
    ensure(late.outcome == Outcome::Timeout, format!("{late:?}"))?;
    ensure(took < Duration::from_secs(5), format!("took {took:?}"))?;
    let run = probe("print(6 * 7)", &limits(5_000));
    ensure(run.stdout == "42\n", format!("{run:?}"))?;
    warm_off()
}

/// Waits until process `pid` has exited and awaits its reaping; false after `timeout`.
fn became_zombie(pid: u32, timeout: Duration) -> bool {
    let give_up = Instant::now() + timeout;
    while Instant::now() < give_up {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return true;
        };
        // The state follows the parenthesised command name, which may itself hold spaces.
        if stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z')) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}

fn warm_children_enforce_limits() -> Result<(), Failed> {
    warm_one()?;
    let result = (|| {
        let tight = Limits {
            memory_bytes: 64 << 20,
            ..limits(10_000)
        };
        let over = probe(&format!("probe:alloc:{}", 4u64 << 30), &tight);
        ensure(over.outcome == Outcome::MemoryLimit, format!("{over:?}"))?;
        let within = probe(&format!("probe:alloc:{}", 32u64 << 20), &tight);
        ensure(within.outcome == Outcome::Ok, format!("{within:?}"))?;
        let python = probe("b = bytearray(10**9)", &tight);
        ensure(python.outcome == Outcome::MemoryLimit, format!("{python:?}"))?;
        let (late, took) = timed("while True:\n    pass", 300);
        ensure(late.outcome == Outcome::Timeout, format!("{late:?}"))?;
        ensure(took < Duration::from_secs(5), format!("took {took:?}"))?;
        ensure(sandbox::wait_until_warm(Duration::from_secs(60)), "no warm child")?;
        // The CPU limit counts from the run's start: the budget rounded up plus one second,
        // on top of the whole seconds the child had used before.
        let run = probe("probe:rlimits", &limits(5_000));
        let field = |name: &str| -> Option<u64> {
            run.stdout
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
        };
        let (Some(soft), Some(used_us), Some(address_space)) =
            (field("cpu_soft"), field("cpu_used_us"), field("as"))
        else {
            return Err(format!("{run:?}").into());
        };
        ensure(
            soft >= 6 && soft <= used_us / 1_000_000 + 6,
            format!("cpu soft limit {soft} s with {used_us} us used"),
        )?;
        ensure(
            address_space >= (512 << 20) + Limits::default().memory_bytes,
            format!("address space {address_space}"),
        )
    })();
    warm_off()?;
    result
}
