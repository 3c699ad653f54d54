//! A/B slots for models installed from manifests: a new version goes into the inactive slot and
//! becomes active only when the caller says it works (it loaded and passed a smoke
//! generation), by an atomic rename of the model's `active` pointer. A crash or power cut at any
//! step leaves the pointer on the slot that worked: a slot counts only once its `slot.json` is
//! written (after its files are synced), and the pointer is replaced, never edited.
//!
//! Layout under the root: `MODEL/a/`, `MODEL/b/` (the files and `slot.json`), `MODEL/active`
//! (JSON: the active slot, and the one before it for rollback).

use crate::manifest::Installed;
use edgecoder_protocol::manifest::{ManifestFile, ModelManifest};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a slot operation failed.
#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A slot record or the pointer is unreadable.
    #[error("{path} is damaged ({detail}); install the model again")]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A file the manifest lists was not given.
    #[error("{0} is listed in the manifest but was not downloaded")]
    MissingFile(String),
    /// Nothing to roll back to.
    #[error("model {0} has no earlier working slot to roll back to")]
    NoRollback(String),
    /// The model id cannot name a folder.
    #[error("{0:?} is not a usable model id (letters, digits, '-', '_' and '.' only)")]
    BadModelId(String),
}

/// One of the two slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Slot {
    /// Slot `a`.
    A,
    /// Slot `b`.
    B,
}

impl Slot {
    /// The other slot.
    pub fn other(self) -> Slot {
        match self {
            Slot::A => Slot::B,
            Slot::B => Slot::A,
        }
    }

    fn dir_name(self) -> &'static str {
        match self {
            Slot::A => "a",
            Slot::B => "b",
        }
    }
}

/// What a complete slot holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRecord {
    /// The manifest it was installed from.
    pub manifest: ModelManifest,
}

/// The `active` pointer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Pointer {
    active: Slot,
    previous: Option<Slot>,
}

/// A model's slots, as found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotState {
    /// The active slot and what it holds, if any.
    pub active: Option<(Slot, SlotRecord)>,
    /// The slot a rollback returns to, when it holds a complete install.
    pub previous: Option<(Slot, SlotRecord)>,
}

impl SlotState {
    /// What is installed, for the manifest rules (downgrade and replay checks).
    pub fn installed(&self) -> Option<Installed> {
        self.active.as_ref().map(|(_, r)| Installed { sequence: r.manifest.sequence, version: r.manifest.version.clone() })
    }
}

/// A version written to the inactive slot, waiting for [`Slots::activate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Staged {
    /// The model.
    pub model: String,
    /// The slot it is in.
    pub slot: Slot,
    /// The folder of its files (load the model from here for the smoke test).
    pub dir: PathBuf,
}

/// The A/B slots of every model under one folder.
#[derive(Debug, Clone)]
pub struct Slots {
    root: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SlotError + '_ {
    move |source| SlotError::Io { path: path.to_owned(), source }
}

/// Writes `bytes` to `path` through a synced temporary file and a rename, then syncs the folder.
pub(crate) fn replace_file(path: &Path, bytes: &[u8]) -> Result<(), SlotError> {
    let tmp = path.with_extension("tmp");
    let mut file = File::create(&tmp).map_err(io(&tmp))?;
    file.write_all(bytes).map_err(io(&tmp))?;
    file.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    sync_dir(path.parent().expect("a file in a folder"))
}

/// The JSON in `path`, or `None` when there is no such file.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, SlotError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| SlotError::Damaged { path: path.to_owned(), detail: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(SlotError::Io { path: path.to_owned(), source }),
    }
}

fn sync_dir(dir: &Path) -> Result<(), SlotError> {
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

impl Slots {
    /// The slots under `root`.
    pub fn at(root: impl Into<PathBuf>) -> Slots {
        Slots { root: root.into() }
    }

    fn model_dir(&self, model: &str) -> Result<PathBuf, SlotError> {
        let usable = !model.is_empty()
            && model != "."
            && model != ".."
            && model.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
        if !usable {
            return Err(SlotError::BadModelId(model.to_owned()));
        }
        Ok(self.root.join(model))
    }

    fn record(&self, model: &str, slot: Slot) -> Result<Option<SlotRecord>, SlotError> {
        read_json(&self.model_dir(model)?.join(slot.dir_name()).join("slot.json"))
    }

    fn pointer(&self, model: &str) -> Result<Option<Pointer>, SlotError> {
        read_json(&self.model_dir(model)?.join("active"))
    }

    /// The model's slots as they are on disk.
    pub fn state(&self, model: &str) -> Result<SlotState, SlotError> {
        let Some(pointer) = self.pointer(model)? else {
            return Ok(SlotState { active: None, previous: None });
        };
        let active = self.record(model, pointer.active)?.map(|r| (pointer.active, r));
        let previous = match pointer.previous {
            Some(slot) => self.record(model, slot)?.map(|r| (slot, r)),
            None => None,
        };
        Ok(SlotState { active, previous })
    }

    /// The folder a model's downloads wait in before they are staged (same file system as the
    /// slots, so staging is a rename).
    pub fn downloads_dir(&self, model: &str) -> Result<PathBuf, SlotError> {
        Ok(self.model_dir(model)?.join("downloads"))
    }

    /// The folder of the active slot's files, if the model has one.
    pub fn active_dir(&self, model: &str) -> Result<Option<PathBuf>, SlotError> {
        let state = self.state(model)?;
        Ok(match state.active {
            Some((slot, _)) => Some(self.model_dir(model)?.join(slot.dir_name())),
            None => None,
        })
    }

    /// The file a runtime loads from the active slot (the manifest's first `.gguf` file, else
    /// its first file) and the manifest's entry for it, if the model has an active slot.
    pub fn active_model_file(&self, model: &str) -> Result<Option<(PathBuf, ManifestFile)>, SlotError> {
        let Some((slot, record)) = self.state(model)?.active else { return Ok(None) };
        let files = &record.manifest.files;
        let Some(file) = files.iter().find(|f| f.name.ends_with(".gguf")).or(files.first()) else { return Ok(None) };
        Ok(Some((self.model_dir(model)?.join(slot.dir_name()).join(&file.name), file.clone())))
    }

    /// Writes a verified download into the inactive slot: `files` are `(name, path)` of each
    /// file the manifest lists (moved, so they must be on the same file system). The active slot
    /// is untouched.
    pub fn stage(&self, manifest: &ModelManifest, files: &[(String, PathBuf)]) -> Result<Staged, SlotError> {
        let model_dir = self.model_dir(&manifest.model)?;
        let pointer = self.pointer(&manifest.model)?;
        let slot = pointer.map_or(Slot::A, |p| p.active.other());
        if let Some(pointer) = pointer.filter(|p| p.previous == Some(slot)) {
            // The rollback target is about to be overwritten: forget it first.
            let kept = Pointer { active: pointer.active, previous: None };
            replace_file(&model_dir.join("active"), &serde_json::to_vec(&kept).expect("a pointer encodes"))?;
        }
        let dir = model_dir.join(slot.dir_name());
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(io(&dir))?;
        }
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        for listed in &manifest.files {
            let (_, from) = files.iter().find(|(name, _)| *name == listed.name).ok_or_else(|| SlotError::MissingFile(listed.name.clone()))?;
            let to = dir.join(&listed.name);
            File::open(from).and_then(|f| f.sync_all()).map_err(io(from))?;
            std::fs::rename(from, &to).map_err(io(&to))?;
        }
        sync_dir(&dir)?;
        let record = serde_json::to_vec_pretty(&SlotRecord { manifest: manifest.clone() }).expect("a record encodes");
        replace_file(&dir.join("slot.json"), &record)?;
        Ok(Staged { model: manifest.model.clone(), slot, dir })
    }

    /// Makes a staged slot the active one (after it loaded and passed a smoke generation); the
    /// slot it replaces is kept for a rollback.
    pub fn activate(&self, staged: &Staged) -> Result<(), SlotError> {
        let previous = self.pointer(&staged.model)?.map(|p| p.active).filter(|&s| s != staged.slot);
        let pointer = Pointer { active: staged.slot, previous };
        replace_file(&self.model_dir(&staged.model)?.join("active"), &serde_json::to_vec(&pointer).expect("a pointer encodes"))
    }

    /// Makes the previous slot active again; returns it.
    pub fn rollback(&self, model: &str) -> Result<Slot, SlotError> {
        let state = self.state(model)?;
        let (Some((active, _)), Some((previous, _))) = (state.active, state.previous) else {
            return Err(SlotError::NoRollback(model.to_owned()));
        };
        let pointer = Pointer { active: previous, previous: Some(active) };
        replace_file(&self.model_dir(model)?.join("active"), &serde_json::to_vec(&pointer).expect("a pointer encodes"))?;
        Ok(previous)
    }
}
