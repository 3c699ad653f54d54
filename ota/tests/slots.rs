//! A/B slots: a new version is staged beside the working one and only an explicit activation
//! (after the model loaded and passed its smoke generation) switches; rollback returns to the
//! previous slot; a crash at any step (simulated by stopping between steps and by leaving the
//! debris a crash leaves) keeps the device on the slot that worked.

use edgecoder_ota::slots::{Slot, SlotError, Slots};
use edgecoder_protocol::Sha256;
use edgecoder_protocol::manifest::{ManifestFile, ModelManifest};
use std::path::{Path, PathBuf};

fn manifest(version: &str, sequence: u64) -> ModelManifest {
    ModelManifest {
        model: "smollm2-135m".into(),
        version: version.into(),
        files: vec![ManifestFile { name: "model.gguf".into(), size: 5, sha256: Sha256([1; 32]), sources: vec!["file:///srv/m.gguf".into()] }],
        min_daemon_version: "0.1.0".into(),
        runtime: "gguf".into(),
        quantization: "Q4_1".into(),
        issued_at: 1,
        expires_at: 2,
        sequence,
        rollback: false,
    }
}

/// A downloaded file, ready to be staged.
fn download(dir: &Path, content: &str) -> Vec<(String, PathBuf)> {
    let path = dir.join(format!("download-{content}"));
    std::fs::write(&path, content).unwrap();
    vec![("model.gguf".into(), path)]
}

fn active_content(slots: &Slots) -> Option<String> {
    slots.active_dir("smollm2-135m").unwrap().map(|d| std::fs::read_to_string(d.join("model.gguf")).unwrap())
}

#[test]
fn a_staged_version_waits_for_activation_and_a_rollback_returns_to_the_last_one() {
    let dir = tempfile::tempdir().unwrap();
    let slots = Slots::at(dir.path().join("slots"));
    assert_eq!(slots.state("smollm2-135m").unwrap().active, None);

    let first = slots.stage(&manifest("1.0.0", 1), &download(dir.path(), "v1")).unwrap();
    assert_eq!(first.slot, Slot::A);
    assert_eq!(active_content(&slots), None, "nothing is active before the activation");
    slots.activate(&first).unwrap();
    assert_eq!(active_content(&slots).as_deref(), Some("v1"));

    let second = slots.stage(&manifest("1.1.0", 2), &download(dir.path(), "v2")).unwrap();
    assert_eq!(second.slot, Slot::B);
    assert_eq!(active_content(&slots).as_deref(), Some("v1"), "staging leaves the working slot active");
    // A crash here (staged, never activated): a fresh start still runs v1.
    let after_crash = Slots::at(dir.path().join("slots"));
    assert_eq!(active_content(&after_crash).as_deref(), Some("v1"));
    slots.activate(&second).unwrap();
    let state = slots.state("smollm2-135m").unwrap();
    assert_eq!(active_content(&slots).as_deref(), Some("v2"));
    assert_eq!(state.installed().map(|i| (i.sequence, i.version)), Some((2, "1.1.0".into())));
    assert_eq!(state.previous.map(|(s, r)| (s, r.manifest.version)), Some((Slot::A, "1.0.0".into())));

    assert_eq!(slots.rollback("smollm2-135m").unwrap(), Slot::A);
    assert_eq!(active_content(&slots).as_deref(), Some("v1"));
    assert_eq!(slots.rollback("smollm2-135m").unwrap(), Slot::B, "and forward again");
    assert_eq!(active_content(&slots).as_deref(), Some("v2"));

    // Staging over the rollback target forgets it: a rollback never lands on an untried slot.
    let third = slots.stage(&manifest("1.2.0", 3), &download(dir.path(), "v3")).unwrap();
    assert_eq!(third.slot, Slot::A);
    assert!(matches!(slots.rollback("smollm2-135m"), Err(SlotError::NoRollback(_))));
    assert_eq!(active_content(&slots).as_deref(), Some("v2"));
}

#[test]
fn the_debris_of_a_crash_never_changes_the_active_slot() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("slots");
    let slots = Slots::at(&root);
    let first = slots.stage(&manifest("1.0.0", 1), &download(dir.path(), "v1")).unwrap();
    slots.activate(&first).unwrap();

    // Killed while moving files into slot b: files, no slot.json.
    std::fs::create_dir_all(root.join("smollm2-135m/b")).unwrap();
    std::fs::write(root.join("smollm2-135m/b/model.gguf"), "half").unwrap();
    // Killed while writing the pointer: its temporary file is left.
    std::fs::write(root.join("smollm2-135m/active.tmp"), "{\"active\":\"b\"").unwrap();
    let state = slots.state("smollm2-135m").unwrap();
    assert_eq!(state.active.map(|(s, _)| s), Some(Slot::A));
    assert_eq!(state.previous, None, "an incomplete slot is no rollback target");
    assert_eq!(active_content(&slots).as_deref(), Some("v1"));

    let again = slots.stage(&manifest("1.1.0", 2), &download(dir.path(), "v2")).unwrap();
    assert_eq!(std::fs::read_to_string(again.dir.join("model.gguf")).unwrap(), "v2", "the debris is replaced");
    slots.activate(&again).unwrap();
    assert_eq!(active_content(&slots).as_deref(), Some("v2"));

    std::fs::write(root.join("smollm2-135m/active"), "garbage").unwrap();
    let error = slots.state("smollm2-135m").unwrap_err();
    assert!(error.to_string().contains("install the model again"), "{error}");
}

#[test]
fn missing_files_and_bad_model_ids_are_refused_before_anything_moves() {
    let dir = tempfile::tempdir().unwrap();
    let slots = Slots::at(dir.path().join("slots"));
    let error = slots.stage(&manifest("1.0.0", 1), &[]).unwrap_err();
    assert!(matches!(&error, SlotError::MissingFile(name) if name == "model.gguf"), "{error}");
    for bad in ["../escape", "", "..", "a/b"] {
        let mut m = manifest("1.0.0", 1);
        m.model = bad.into();
        assert!(matches!(slots.stage(&m, &download(dir.path(), "x")), Err(SlotError::BadModelId(_))), "{bad:?}");
    }
    assert!(!dir.path().join("escape").exists());
}

/// A model the fleet installed serves the IDE only in `ide-enabled` mode, and nobody when its
/// local-model feature is off; a device no fleet spoke to uses its slots for everything.
#[test]
fn the_fleets_settings_decide_who_runs_a_fleet_installed_model() {
    use edgecoder_ota::fleet::{FleetRecord, ModelUse};
    use edgecoder_ota::{ModelStore, OtaError};
    use edgecoder_protocol::swarm::{AgentFeatures, ModelMode};
    let dir = tempfile::tempdir().unwrap();
    let store = ModelStore::at(dir.path().join("models"));
    let mut fleet_only = manifest("1.0.0", 1);
    fleet_only.model = "fleet-coder".into();
    let staged = store.slots().stage(&fleet_only, &download(dir.path(), "v1")).unwrap();
    store.slots().activate(&staged).unwrap();
    let slot_file = staged.dir.join("model.gguf");
    for by in [ModelUse::Ide, ModelUse::Swarm] {
        assert_eq!(store.current("fleet-coder", by).unwrap().0, slot_file, "no fleet record: the slot serves {by:?}");
    }
    let set = |local_model, mode| {
        let record = FleetRecord { features: AgentFeatures { local_model, mode }, coordinator: "fleet.example:8883".into(), received_ms: 1 };
        store.fleet().write(&record).unwrap();
    };
    set(true, ModelMode::SwarmOnly);
    assert_eq!(store.current("fleet-coder", ModelUse::Swarm).unwrap().0, slot_file);
    let withheld = store.current("fleet-coder", ModelUse::Ide).unwrap_err();
    assert!(matches!(withheld, OtaError::Withheld { .. }), "{withheld}");
    let message = withheld.to_string();
    assert!(message.contains("swarm-only") && message.contains("fleet.example:8883") && message.contains("edgecoder model pull fleet-coder"), "{message}");
    set(true, ModelMode::IdeEnabled);
    assert_eq!(store.current("fleet-coder", ModelUse::Ide).unwrap().0, slot_file);
    set(false, ModelMode::IdeEnabled);
    for by in [ModelUse::Ide, ModelUse::Swarm] {
        let error = store.current("fleet-coder", by).unwrap_err().to_string();
        assert!(error.contains("local-model feature off"), "{by:?}: {error}");
    }
    // A catalog model withheld from the IDE falls back to the user's own copy, when there is one.
    let error = store.current("smollm2-135m", ModelUse::Ide).unwrap_err();
    assert!(matches!(error, OtaError::NotInstalled { .. }), "no slot, no copy: {error}");
}
