//! Durable file writes shared by the coordinator's JSON state (policies, features, rollouts).

use std::io::Write;
use std::path::{Path, PathBuf};

/// The temporary file `write_atomically` writes before renaming it over `path`: the full name
/// with `.tmp` added, next to it.
pub(crate) fn temporary_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Writes a file so that a crash leaves either the old or the new content, and the rename
/// itself is on disk when this returns. Its folder must exist: a state folder that vanished is
/// an error to report, not something to recreate empty.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let temporary = temporary_of(path);
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)?;
    std::fs::File::open(parent)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policies.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert!(!temporary_of(&path).exists());
        assert_eq!(temporary_of(&path).file_name().unwrap(), "policies.json.tmp");
    }

    #[test]
    fn a_vanished_folder_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(write_atomically(&dir.path().join("gone").join("rollouts.json"), b"x").is_err());
        assert!(!dir.path().join("gone").exists());
    }

    #[test]
    fn a_failed_write_keeps_the_old_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("features.json");
        write_atomically(&path, b"old").unwrap();
        std::fs::create_dir(temporary_of(&path)).unwrap();
        assert!(write_atomically(&path, b"new").is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
    }
}
