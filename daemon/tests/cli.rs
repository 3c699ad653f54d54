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
