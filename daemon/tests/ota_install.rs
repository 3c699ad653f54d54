//! `edgecoder model install` with the real SmolLM2 fixture and manifests signed here: a signed
//! manifest is verified, its file fetched and checked, staged in an A/B slot, loaded and run
//! for a few tokens, then made active; a newer version goes to the other slot, a rollback
//! returns; every refusal (bad signature, unknown key, replay, source not allowlisted, digest
//! mismatch) prints its reason code and leaves the active slot as it was.

mod support;

use edgecoder_ota::manifest::{SigningKey, generate_key, sign};
use edgecoder_protocol::Sha256;
use edgecoder_protocol::manifest::Statement;
use std::path::Path;
use support::{edgecoder_command, smollm2_manifest as manifest, text};

/// Runs `edgecoder model install` with the store in `dir`; returns the exit code and the JSON line.
fn install(dir: &Path, signed: &Path, trust: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = edgecoder_command()
        .env("EDGECODER_MODELS", dir.join("store"))
        .args(["model", "install", "--json", "--allow-source", "file:///"])
        .arg(signed)
        .arg("--trust")
        .arg(trust)
        .args(extra)
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    let json = stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).unwrap_or_default();
    (out.status.code(), json, text(&out.stderr))
}

fn write_signed(dir: &Path, name: &str, statement: &Statement, key: &SigningKey) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, postcard::to_allocvec(&sign(statement, key)).unwrap()).unwrap();
    path
}

#[test]
fn a_signed_manifest_installs_into_a_slot_after_a_smoke_generation_and_every_refusal_has_its_code() {
    let source = support::model_path("smollm2-135m");
    let dir = tempfile::tempdir().unwrap();
    let (key, stranger) = (generate_key(), generate_key());
    let trust = dir.path().join("signing.pub");
    std::fs::write(&trust, format!("{}\n", edgecoder_protocol::PublicKey(key.verifying_key().to_bytes()))).unwrap();

    let v1 = write_signed(dir.path(), "v1.signed", &Statement::Model(manifest(&source, "1.0.0", 1)), &key);
    let (code, json, stderr) = install(dir.path(), &v1, &trust, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!((json["ok"].as_bool(), json["slot"].as_str(), json["version"].as_str()), (Some(true), Some("a"), Some("1.0.0")), "{json}");
    let slot_a = dir.path().join("store/slots/smollm2-135m/a/model.gguf");
    assert_eq!(std::fs::metadata(&slot_a).unwrap().len(), std::fs::metadata(&source).unwrap().len());

    let refused = |signed: &Path, extra: &[&str], expected: &str| {
        let (code, json, stderr) = install(dir.path(), signed, &trust, extra);
        assert_ne!(code, Some(0), "{json} {stderr}");
        assert_eq!(json["code"], expected, "{json} {stderr}");
        assert!(stderr.contains("nothing was installed"), "{stderr}");
    };
    refused(&v1, &[], "downgrade");
    let mut bytes = std::fs::read(&v1).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 1;
    let tampered = dir.path().join("tampered.signed");
    std::fs::write(&tampered, bytes).unwrap();
    let (code, json, _) = install(dir.path(), &tampered, &trust, &[]);
    assert_ne!(code, Some(0));
    assert!(json["code"] == "bad_signature" || json["code"] == "malformed", "{json}");
    refused(&write_signed(dir.path(), "foreign.signed", &Statement::Model(manifest(&source, "1.1.0", 2)), &stranger), &[], "unknown_key");
    refused(&v1, &["--allow-model", "qwen2.5-coder-0.5b"], "model_not_allowed");
    let mut wrong = manifest(&source, "1.1.0", 2);
    wrong.files[0].sha256 = Sha256([7; 32]);
    refused(&write_signed(dir.path(), "wrong.signed", &Statement::Model(wrong), &key), &[], "digest_mismatch");
    let fresh = write_signed(dir.path(), "fresh.signed", &Statement::Model(manifest(&source, "1.1.0", 2)), &key);
    let out = edgecoder_command()
        .env("EDGECODER_MODELS", dir.path().join("store"))
        .args(["model", "install", "--json"])
        .arg(&fresh)
        .arg("--trust")
        .arg(&trust)
        .output()
        .unwrap();
    assert!(text(&out.stdout).contains("source_not_allowed"), "the default allowlist is https:// only: {}", text(&out.stdout));
    let untrusting = edgecoder_command()
        .env("EDGECODER_MODELS", dir.path().join("store"))
        .env("XDG_CONFIG_HOME", dir.path().join("no-config"))
        .args(["model", "install"])
        .arg(&fresh)
        .output()
        .unwrap();
    assert_eq!(untrusting.status.code(), Some(2), "without a trusted key nothing can be verified: a usage error");
    assert!(text(&untrusting.stderr).contains("--trust KEY_FILE"), "{}", text(&untrusting.stderr));

    // The key and the allowed sources pinned in the daemon's config file instead of flags.
    let config = dir.path().join("edgecoderd.toml");
    let pinned = edgecoder_protocol::PublicKey(key.verifying_key().to_bytes());
    std::fs::write(&config, format!("trusted_keys = [\"{pinned}\"]\nallowed_model_sources = [\"file:///\"]\n")).unwrap();
    let v2 = write_signed(dir.path(), "v2.signed", &Statement::Model(manifest(&source, "1.1.0", 2)), &key);
    let out = edgecoder_command()
        .env("EDGECODER_MODELS", dir.path().join("store"))
        .args(["model", "install", "--json", "--config"])
        .arg(&config)
        .arg(&v2)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_str(text(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(json["slot"], "b", "{json}");

    let rollback = edgecoder_command().env("EDGECODER_MODELS", dir.path().join("store")).args(["model", "rollback", "smollm2-135m"]).output().unwrap();
    assert_eq!(rollback.status.code(), Some(0), "{}", text(&rollback.stderr));
    assert!(text(&rollback.stdout).trim_end().ends_with("smollm2-135m/a"), "{}", text(&rollback.stdout));
}

/// A new key trusted through `signing.pub` in `dir`, and SmolLM2 manifests 1.0.0 and 1.1.0
/// signed with it: `(trust, v1, v2)`.
fn two_versions(dir: &Path, source: &Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let key = generate_key();
    let trust = dir.join("signing.pub");
    std::fs::write(&trust, format!("{}\n", edgecoder_protocol::PublicKey(key.verifying_key().to_bytes()))).unwrap();
    let v1 = write_signed(dir, "v1.signed", &Statement::Model(manifest(source, "1.0.0", 1)), &key);
    let v2 = write_signed(dir, "v2.signed", &Statement::Model(manifest(source, "1.1.0", 2)), &key);
    (trust, v1, v2)
}

/// Whether the active slot of SmolLM2 in `store` is complete: its files are there with the sizes
/// its manifest lists. Returns the active version.
fn active_version(store: &Path) -> String {
    let slots = edgecoder_ota::slots::Slots::at(store.join("slots"));
    let (slot, record) = slots.state("smollm2-135m").unwrap().active.expect("a model is always active");
    let dir = slots.active_dir("smollm2-135m").unwrap().unwrap();
    for file in &record.manifest.files {
        let size = std::fs::metadata(dir.join(&file.name)).map(|m| m.len());
        assert_eq!(size.ok(), Some(file.size), "slot {slot:?} lists {} but does not hold it whole", file.name);
    }
    record.manifest.version
}

/// `edgecoder model install` killed with SIGKILL at moments spread over a whole install (while
/// the file is copied, staged, loaded for the smoke test, switched): after every kill the store
/// is on a complete, working slot — the old version or the new one, never a broken one — and the
/// next install finishes the job.
#[test]
fn a_kill_at_any_moment_of_an_install_leaves_a_working_model_active() {
    let source = support::model_path("smollm2-135m");
    let dir = tempfile::tempdir().unwrap();
    let (trust, v1, v2) = two_versions(dir.path(), &source);
    let start = |store: &Path, signed: &Path| {
        edgecoder_command()
            .env("EDGECODER_MODELS", store)
            .args(["model", "install", "--json", "--allow-source", "file:///"])
            .arg(signed)
            .arg("--trust")
            .arg(&trust)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // How long an uninterrupted install of the new version takes here.
    let timing = dir.path().join("timing/store");
    assert!(start(&timing, &v1).wait().unwrap().success());
    let begun = std::time::Instant::now();
    assert!(start(&timing, &v2).wait().unwrap().success());
    let whole = begun.elapsed();

    let mut outcomes = Vec::new();
    for step in 0..8u32 {
        let run = dir.path().join(format!("run-{step}"));
        let store = run.join("store");
        assert!(start(&store, &v1).wait().unwrap().success());
        let mut child = start(&store, &v2);
        std::thread::sleep(whole * step / 8);
        unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
        child.wait().unwrap();
        let after_kill = active_version(&store);
        assert!(["1.0.0", "1.1.0"].contains(&after_kill.as_str()), "{after_kill}");
        // The next try ends on the new version (or finds it active already: a replay refused).
        let (code, json, stderr) = install(&run, &v2, &trust, &[]);
        if after_kill == "1.0.0" {
            assert_eq!(code, Some(0), "the install after a kill at {step}/8 finishes: {json} {stderr}");
        } else {
            assert_eq!(json["code"], "downgrade", "{json} {stderr}");
        }
        assert_eq!(active_version(&store), "1.1.0");
        outcomes.push(after_kill);
    }
    assert_eq!(outcomes[0], "1.0.0", "killed at once: the old version stays active");
}

/// A running `edgecoderd` serving SmolLM2 from an A/B slot follows an install of a new version:
/// it loads the new slot by itself (hot reload) while requests keep coming, and not one of them
/// fails across the switch.
#[tokio::test(flavor = "multi_thread")]
async fn the_daemon_switches_to_an_installed_update_without_failing_a_request() {
    let source = support::model_path("smollm2-135m");
    let dir = tempfile::tempdir().unwrap();
    let (trust, v1, v2) = two_versions(dir.path(), &source);
    let (code, _, stderr) = install(dir.path(), &v1, &trust, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let store = dir.path().join("store");
    let daemon = support::Daemon::start_with("smollm2-135m", "", &[("EDGECODER_MODELS", store.as_os_str())], &[]);
    let http = daemon.client();
    let model_file = || async {
        let status: serde_json::Value = http.get(format!("{}/edgecoder/status", daemon.base)).send().await.unwrap().json().await.unwrap();
        status["model_file"].as_str().unwrap_or_default().to_owned()
    };
    assert!(model_file().await.ends_with("slots/smollm2-135m/a/model.gguf"), "the daemon runs the installed slot");

    let installer = {
        let (dir, v2, trust) = (dir.path().to_owned(), v2.clone(), trust.clone());
        tokio::task::spawn_blocking(move || install(&dir, &v2, &trust, &[]))
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let mut served = 0;
    while !model_file().await.ends_with("slots/smollm2-135m/b/model.gguf") {
        assert!(std::time::Instant::now() < deadline, "the daemon did not switch to slot b:\n{}", daemon.log());
        let answer = http
            .post(format!("{}/v1/completions", daemon.base))
            .json(&serde_json::json!({"model": "smollm2-135m", "prompt": "def add(a, b):", "max_tokens": 8}))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "request {served} failed during the update");
        let body: serde_json::Value = answer.json().await.unwrap();
        assert!(body["usage"]["completion_tokens"].as_u64().unwrap() > 0, "{body}");
        served += 1;
    }
    let (code, json, stderr) = installer.await.unwrap();
    assert_eq!((code, json["slot"].as_str()), (Some(0), Some("b")), "{stderr}");
    assert!(served > 0, "requests were served while the update went in");
    assert!(daemon.log().contains("now serving the updated model"), "{}", daemon.log());
}
