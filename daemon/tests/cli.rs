//! End-to-end tests of the `edgecoder` binary: exit codes, error messages, and that the binary
//! serves sandbox children before anything else.

mod support;

use std::io::Write;
use std::process::Stdio;

use support::{edgecoder, edgecoder_command, text};


#[test]
fn help_explains_the_commands_and_exit_codes() {
    let out = edgecoder(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let help = text(&out.stdout);
    for needle in [
        "run",
        "check",
        "bench",
        "Exit codes:",
        "3  the code is outside",
        "5  a file",
    ] {
        assert!(help.contains(needle), "missing `{needle}` in:\n{help}");
    }
    let run_help = text(&edgecoder(&["run", "--help"]).stdout);
    for flag in [
        "--lang",
        "--tests",
        "--timeout",
        "--steps",
        "--memory",
        "--isolation",
        "--json",
    ] {
        assert!(run_help.contains(flag), "missing `{flag}` in:\n{run_help}");
    }
}

#[test]
fn a_missing_file_exits_5_and_names_the_fix() {
    let out = edgecoder(&["run", "/no/such/dir/prog.py"]);
    assert_eq!(out.status.code(), Some(5));
    assert!(text(&out.stderr).contains("file not found: /no/such/dir/prog.py — check the path"));
    let out = edgecoder(&["check", "/no/such/dir/prog.js"]);
    assert_eq!(out.status.code(), Some(5));
}

#[test]
fn an_unknown_extension_is_a_usage_error() {
    let dir = std::env::temp_dir().join(format!("edgecoder-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let notes = dir.join("notes.txt");
    std::fs::write(&notes, "print(1)\n").unwrap();
    let out = edgecoder(&["run", notes.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("pass --lang py or --lang js"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    assert_eq!(
        edgecoder(&["run", "--lang", "ruby", "x.rb"]).status.code(),
        Some(2)
    );
    assert_eq!(
        edgecoder(&["run", "--timeout", "soon", "x.py"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        edgecoder(&["run", "--memory", "lots", "x.py"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        edgecoder(&["run", "--isolation", "vm", "x.py"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        edgecoder(&["bench", "executor", "--runs", "0"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(edgecoder(&["frobnicate"]).status.code(), Some(2));
}

#[test]
fn the_binary_serves_sandbox_children_first() {
    let mut child = edgecoder_command()
        .arg(edgecoder_executor::sandbox::CHILD_ARG)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the edgecoder binary starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"\xff\xff\xff not postcard")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(65), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot decode the request"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "a child answers only valid requests");
}

/// A file of the repository's `examples/` folder.
fn example(name: &str) -> String {
    format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn real_programs_run_end_to_end_with_their_documented_exit_codes() {
    let out = edgecoder(&["run", &example("hello.py")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("the: 3\n"), "{}", text(&out.stdout));
    let out = edgecoder(&["run", "--isolation", "process", &example("hello.js")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("the: 3\n"), "{}", text(&out.stdout));

    let out = edgecoder(&["run", "--json", "--isolation", "process", &example("hello.py")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json prints one RunResult");
    assert_eq!(result["outcome"], "ok", "{result}");
    assert!(result["stdout"].as_str().unwrap().starts_with("the: 3\n"), "{result}");
    assert!(result["isolation"].is_object(), "process runs report their sandbox layers: {result}");

    let out = edgecoder(&["run", "--tests", &example("fizzbuzz_test.py"), &example("fizzbuzz.py")]);
    assert_eq!(out.status.code(), Some(0), "{}\n{}", text(&out.stdout), text(&out.stderr));

    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("fizzbuzz.py");
    std::fs::write(&wrong, "def fizzbuzz(n):\n    return str(n)\n").unwrap();
    let out = edgecoder(&["run", "--tests", &example("fizzbuzz_test.py"), wrong.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "a failing test exits 1: {}", text(&out.stdout));
    let raises = dir.path().join("raises.js");
    std::fs::write(&raises, "throw new TypeError('boom');\n").unwrap();
    let out = edgecoder(&["run", raises.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(format!("{}{}", text(&out.stdout), text(&out.stderr)).contains("boom"));

    let out = edgecoder(&["check", &example("outside_subset.py")]);
    assert_eq!(out.status.code(), Some(3));
    assert!(format!("{}{}", text(&out.stdout), text(&out.stderr)).contains("PY_IMPORT_DENIED"));
    let out = edgecoder(&["run", &example("outside_subset.py")]);
    assert_eq!(out.status.code(), Some(3), "outside the subset is never run");
    let out = edgecoder(&["check", &example("hello.py")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = edgecoder(&["run", "--timeout", "500ms", "--isolation", "process", &example("runaway.py")]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
}

/// Runs `edgecoder decode ARGS` with `stdin` as its input.
fn decode(args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = edgecoder_command()
        .arg("decode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn decode_shows_a_captured_swarm_payload_as_json_and_names_what_is_wrong() {
    use edgecoder_protocol::swarm::Heartbeat;
    use edgecoder_protocol::{AgentId, Envelope, MessageId};
    let heartbeat = Heartbeat { seq: 7, cpu_busy_percent: 35, user_idle_s: 900, running: 1, free_memory_mb: 2048, policy_version: 4 };
    let wire = Envelope::new::<Heartbeat>(MessageId([0x11; 16]), AgentId::new("pi-5").unwrap(), 1_780_000_000_000)
        .seal(&heartbeat)
        .unwrap();

    let out = decode(&["--compact", "--topic", "ec/v1/agents/pi-5/heartbeat"], &wire);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    assert_eq!(json["envelope"]["kind"], "heartbeat");
    assert_eq!(json["envelope"]["sender"], "pi-5");
    assert_eq!(json["envelope"]["id"], "11".repeat(16));
    assert_eq!(json["signed"], false);
    assert_eq!(json["message"]["body"]["cpu_busy_percent"], 35);
    assert_eq!(json["bytes"], wire.len());

    // The same payload as hex text (as `mosquitto_sub -F %x` prints it), from a file.
    let dir = std::env::temp_dir().join(format!("edgecoder-decode-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hex_file = dir.join("hb.hex");
    let hex: String = wire.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&hex_file, format!("{hex}\n")).unwrap();
    let out = decode(&["--hex", hex_file.to_str().unwrap()], b"");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("\"policy_version\": 4"));

    // On another agent's topic, truncated, and as bad hex: each says why.
    let out = decode(&["--topic", "ec/v1/agents/pi-6/heartbeat"], &wire);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("rejected payload (wrong_topic)"), "{}", text(&out.stderr));
    let out = decode(&[], &wire[..wire.len() - 3]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("rejected payload (truncated)"), "{}", text(&out.stderr));
    let out = decode(&["--hex"], b"0g");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`0g` at digit 0 is not hex"), "{}", text(&out.stderr));
    let out = decode(&["--topic", "ec/v1/agents/a/shell"], &wire);
    assert_eq!(out.status.code(), Some(2));
}
