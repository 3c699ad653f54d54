//! The `edgecoder` CLI over the daemon's unix socket: `status`, `models`, `chat`, `token`,
//! `provider use`, and what it says when no daemon runs; file modes of the socket and token.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use support::{Daemon, text};

fn edgecoder(config: &std::path::Path, args: &[&str]) -> Output {
    support::edgecoder_command().args(args).arg("--config").arg(config).output().expect("edgecoder starts")
}

#[test]
fn the_cli_talks_to_the_daemon_over_its_socket() {
    let daemon = Daemon::start("smollm2-135m", "");
    let id = "smollm2-135m".to_owned();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&daemon.socket), 0o600, "socket mode");
    assert_eq!(mode(&daemon.dir.path().join("state/token")), 0o600, "token mode");

    let out = edgecoder(&daemon.config, &["token"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(text(&out.stdout).trim(), daemon.token);

    let out = edgecoder(&daemon.config, &["status"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let status = text(&out.stdout);
    assert!(status.contains(&id) && status.contains("* edgecoder-local") && status.contains("ok"), "{status}");

    let out = edgecoder(&daemon.config, &["status", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["provider"], "edgecoder-local");
    assert_eq!(json["queue_capacity"], 32);

    let out = edgecoder(&daemon.config, &["models"]);
    assert!(text(&out.stdout).contains(&id), "{}", text(&out.stdout));

    let out = edgecoder(&daemon.config, &["chat", "--max-tokens", "8", "What is 2+2?"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).trim().is_empty());

    let out = edgecoder(&daemon.config, &["provider", "use", "openai-compatible"]);
    assert_eq!(out.status.code(), Some(6));
    assert!(text(&out.stderr).contains("set openai_url"), "{}", text(&out.stderr));
    let out = edgecoder(&daemon.config, &["provider", "use", "gpt-9"]);
    assert!(text(&out.stderr).contains("unknown provider"), "{}", text(&out.stderr));
    let out = edgecoder(&daemon.config, &["provider", "use", "edgecoder-local"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let out = edgecoder(&daemon.config, &["models", "load", "no-such-model"]);
    assert_eq!(out.status.code(), Some(6));
    assert!(text(&out.stderr).contains("503"), "{}", text(&out.stderr));
    let out = edgecoder(&daemon.config, &["status", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["model"], id.as_str(), "a failed load must keep the model");
}

#[test]
fn without_a_daemon_the_cli_says_how_to_start_one() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("edgecoderd.toml");
    std::fs::write(&config, format!("socket = {:?}\ntoken_file = {:?}\n", dir.path().join("sock"), dir.path().join("token"))).unwrap();
    for args in [&["status"][..], &["models"], &["chat", "hi"], &["provider", "use", "edgecoder-local"]] {
        let out = edgecoder(&config, args);
        assert_eq!(out.status.code(), Some(6), "{args:?}");
        let err = text(&out.stderr);
        assert!(err.contains("not running") && err.contains("edgecoder serve"), "{args:?}: {err}");
    }
    let out = edgecoder(&config, &["serve", "--listen", "0.0.0.0:8080"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("allow_non_loopback"), "{}", text(&out.stderr));
    let out = edgecoder(&dir.path().join("missing.toml"), &["status"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("missing.toml"), "{}", text(&out.stderr));
}

#[test]
fn default_paths_follow_the_xdg_variables() {
    let dir = tempfile::tempdir().unwrap();
    let (config_home, state_home) = (dir.path().join("config"), dir.path().join("state"));
    let run = |args: &[&str]| {
        support::edgecoder_command()
            .args(args)
            .env("XDG_CONFIG_HOME", &config_home)
            .env("XDG_STATE_HOME", &state_home)
            .env_remove("XDG_RUNTIME_DIR")
            .output()
            .expect("edgecoder starts")
    };
    // No config file: the token is made under $XDG_STATE_HOME/edgecoder.
    let out = run(&["token"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let token = std::fs::read_to_string(state_home.join("edgecoder/token")).unwrap();
    assert_eq!(text(&out.stdout).trim(), token.trim());
    // The config file is read from $XDG_CONFIG_HOME/edgecoder/edgecoderd.toml.
    std::fs::create_dir_all(config_home.join("edgecoder")).unwrap();
    std::fs::write(config_home.join("edgecoder/edgecoderd.toml"), "queue_capacity = 0\n").unwrap();
    let out = run(&["token"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("queue_capacity"), "{}", text(&out.stderr));
}
