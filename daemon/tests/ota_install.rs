//! `edgecoder model install` with the real SmolLM2 fixture and manifests signed here: a signed
//! manifest is verified, its file fetched and checked, staged in an A/B slot, loaded and run
//! for a few tokens, then made active; a newer version goes to the other slot, a rollback
//! returns; every refusal (bad signature, unknown key, replay, source not allowlisted, digest
//! mismatch) prints its reason code and leaves the active slot as it was.

mod support;

use edgecoder_ota::manifest::{SigningKey, generate_key, sign};
use edgecoder_protocol::Sha256;
use edgecoder_protocol::manifest::{ManifestFile, ModelManifest, Statement};
use std::path::Path;
use support::{edgecoder_command, text};

fn manifest(source: &Path, version: &str, sequence: u64) -> ModelManifest {
    let spec = edgecoder_ota::catalog::find("smollm2-135m").unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    ModelManifest {
        model: "smollm2-135m".into(),
        version: version.into(),
        files: vec![ManifestFile {
            name: "model.gguf".into(),
            size: spec.size,
            sha256: Sha256::from_hex(&spec.sha256).unwrap(),
            sources: vec![format!("file://{}", source.display())],
        }],
        min_daemon_version: "0.1.0".into(),
        runtime: "gguf".into(),
        quantization: "Q4_1".into(),
        issued_at: now - 10,
        expires_at: now + 3_600,
        sequence,
        rollback: false,
    }
}

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
    let untrusting = edgecoder_command().env("EDGECODER_MODELS", dir.path().join("store")).args(["model", "install"]).arg(&fresh).output().unwrap();
    assert_eq!(untrusting.status.code(), Some(2), "without --trust nothing can be verified: a usage error");
    assert!(text(&untrusting.stderr).contains("--trust KEY_FILE"), "{}", text(&untrusting.stderr));

    let v2 = write_signed(dir.path(), "v2.signed", &Statement::Model(manifest(&source, "1.1.0", 2)), &key);
    let (code, json, stderr) = install(dir.path(), &v2, &trust, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(json["slot"], "b", "{json}");

    let rollback = edgecoder_command().env("EDGECODER_MODELS", dir.path().join("store")).args(["model", "rollback", "smollm2-135m"]).output().unwrap();
    assert_eq!(rollback.status.code(), Some(0), "{}", text(&rollback.stderr));
    assert!(text(&rollback.stdout).trim_end().ends_with("smollm2-135m/a"), "{}", text(&rollback.stdout));
}
