//! The whole over-the-air install of one signed manifest, shared by `edgecoder model install`
//! and the swarm worker: verify it (trusted key, not expired, no replay or unsigned downgrade,
//! allowlisted sources, an allowed model, a daemon new enough), check the disk has room, fetch
//! each file through the manifest's size and sha256 check, stage the files in the inactive A/B
//! slot, let the caller load the model and run a smoke generation, and only then switch the
//! active slot. Any failure leaves the active slot as it was; a download that broke off is
//! resumed by the next try.

use crate::download::{DownloadError, DownloadOptions, fetch};
use crate::manifest::{DeviceRules, Rejection, TrustedKeys, verify_manifest};
use crate::slots::{Slot, SlotError, Slots};
use edgecoder_protocol::manifest::{ModelManifest, SignedStatement, Statement};
use std::path::{Path, PathBuf};

/// Room kept free on the disk beyond what a download needs.
pub const DISK_MARGIN: u64 = 64 * 1024 * 1024;

/// Why an install did not happen.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The manifest or a downloaded file was refused by a rule.
    #[error("refused: {0}")]
    Refused(#[from] Rejection),
    /// A file could not be fetched from any of its sources.
    #[error("download failed: {0}")]
    Download(DownloadError),
    /// The disk cannot hold the files.
    #[error("not enough disk space in {dir}: {needed} bytes needed (with a {DISK_MARGIN}-byte margin), {available} available; free some space and try again")]
    NoSpace {
        /// Where the files would go.
        dir: PathBuf,
        /// Bytes needed.
        needed: u64,
        /// Bytes available.
        available: u64,
    },
    /// Staging or switching slots failed.
    #[error(transparent)]
    Slots(#[from] SlotError),
    /// The staged model did not load or generate.
    #[error("{model} {version} was staged in slot {slot:?} but failed its smoke test ({detail}); the active slot is unchanged")]
    Smoke {
        /// The model.
        model: String,
        /// Its version.
        version: String,
        /// The slot it was staged in.
        slot: Slot,
        /// What failed.
        detail: String,
    },
}

impl InstallError {
    /// The reason code reported to the coordinator (a [`crate::manifest::RejectCode`] for
    /// refusals, else `download_failed`, `no_space`, `install_failed` or `smoke_failed`).
    pub fn code(&self) -> &'static str {
        match self {
            InstallError::Refused(r) | InstallError::Download(DownloadError::Rejected(r)) => r.code.as_str(),
            InstallError::Download(_) => "download_failed",
            InstallError::NoSpace { .. } => "no_space",
            InstallError::Slots(_) => "install_failed",
            InstallError::Smoke { .. } => "smoke_failed",
        }
    }
}

impl From<DownloadError> for InstallError {
    fn from(error: DownloadError) -> InstallError {
        match error {
            DownloadError::Rejected(r) => InstallError::Refused(r),
            other => InstallError::Download(other),
        }
    }
}

/// How far an install has come, for progress bars and the coordinator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The manifest passed every rule; its files are about to be fetched.
    Verified {
        /// The manifest.
        manifest: Box<ModelManifest>,
    },
    /// Bytes of the files arrived.
    Downloading {
        /// The file being fetched.
        file: String,
        /// Bytes of all files so far (kept partial bytes included).
        done: u64,
        /// Bytes of all files.
        total: u64,
    },
    /// The files are in the inactive slot; the smoke test runs next.
    Staged {
        /// The slot.
        slot: Slot,
    },
}

/// A finished install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The manifest installed.
    pub manifest: ModelManifest,
    /// The slot now active.
    pub slot: Slot,
    /// Its folder.
    pub dir: PathBuf,
    /// Bytes fetched by this install.
    pub received: u64,
    /// Bytes that were already there from an earlier, interrupted try.
    pub resumed: u64,
    /// Download attempts, all files together (more than one per file: a dropped connection
    /// was resumed from where it stopped).
    pub attempts: u32,
}

/// What an install needs besides the manifest.
pub struct Installer<'a> {
    /// The slots of this device's models.
    pub slots: &'a Slots,
    /// The keys trusted to sign manifests.
    pub trusted: &'a TrustedKeys,
    /// The device's own rules (allowlists, daemon version).
    pub rules: &'a DeviceRules,
    /// Download behaviour.
    pub download: &'a DownloadOptions,
}

impl Installer<'_> {
    /// The model a signed manifest is for, once its signature is checked (to report about it
    /// even when a later rule refuses it).
    pub fn model_of(&self, signed: &SignedStatement) -> Result<ModelManifest, Rejection> {
        match self.trusted.open(signed)? {
            Statement::Model(m) => Ok(m),
            Statement::RotateKey(_) => Err(Rejection {
                code: crate::manifest::RejectCode::Malformed,
                message: "this is a key rotation, not a model manifest".into(),
            }),
        }
    }

    /// Installs the model `signed` describes, `now` being seconds since the Unix epoch. `smoke`
    /// loads the staged model from its folder and generates a few tokens; the slot becomes
    /// active only when it succeeds.
    pub fn install(
        &self,
        signed: &SignedStatement,
        now: u64,
        progress: &mut dyn FnMut(Progress),
        smoke: &mut dyn FnMut(&Path, &ModelManifest) -> Result<(), String>,
    ) -> Result<Outcome, InstallError> {
        let model = self.model_of(signed)?.model;
        let _span = tracing::info_span!("ota_install", model).entered();
        let installed = self.slots.state(&model)?.installed();
        let manifest = verify_manifest(signed, self.trusted, installed.as_ref(), self.rules, now)?;
        tracing::info!(version = manifest.version, sequence = manifest.sequence, "manifest verified");
        progress(Progress::Verified { manifest: Box::new(manifest.clone()) });
        let downloads = self.slots.downloads_dir(&manifest.model)?;
        std::fs::create_dir_all(&downloads).map_err(|source| SlotError::Io { path: downloads.clone(), source })?;
        check_space(&downloads, &manifest)?;

        let total: u64 = manifest.files.iter().map(|f| f.size).sum();
        let (mut before, mut received, mut resumed, mut attempts, mut files) = (0u64, 0, 0, 0, Vec::new());
        for file in &manifest.files {
            let partial = downloads.join(format!("{}.partial", file.name));
            let report = fetch(file, &partial, self.download, &mut |done, _| {
                progress(Progress::Downloading { file: file.name.clone(), done: before + done, total });
            })?;
            before += file.size;
            received += report.received;
            resumed += report.resumed_from;
            attempts += report.attempts;
            files.push((file.name.clone(), partial));
        }
        let staged = self.slots.stage(&manifest, &files)?;
        progress(Progress::Staged { slot: staged.slot });
        smoke(&staged.dir, &manifest).map_err(|detail| InstallError::Smoke {
            model: manifest.model.clone(),
            version: manifest.version.clone(),
            slot: staged.slot,
            detail,
        })?;
        self.slots.activate(&staged)?;
        tracing::info!(slot = ?staged.slot, received, resumed, attempts, "installed and active");
        Ok(Outcome { manifest, slot: staged.slot, dir: staged.dir, received, resumed, attempts })
    }
}

/// Refuses a download the disk cannot hold (what is already downloaded counts as room).
fn check_space(downloads: &Path, manifest: &ModelManifest) -> Result<(), InstallError> {
    let mut needed = DISK_MARGIN;
    for file in &manifest.files {
        let partial = downloads.join(format!("{}.partial", file.name));
        let have = std::fs::metadata(&partial).map(|m| m.len()).unwrap_or(0);
        // A staged copy is made by rename, so each file needs its size once.
        needed += file.size.saturating_sub(have);
    }
    let available = fs4::available_space(downloads).map_err(|source| SlotError::Io { path: downloads.to_owned(), source })?;
    if available < needed {
        return Err(InstallError::NoSpace { dir: downloads.to_owned(), needed, available });
    }
    Ok(())
}
