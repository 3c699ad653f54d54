//! The frozen snapshots jobs run on: tarballs stored content-addressed by sha256, written once,
//! read by workers. A snapshot's name is its digest, so a stored file never changes.

use edgecoder_protocol::ids::Sha256;
use edgecoder_protocol::swarm::Snapshot;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a snapshot could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The bytes do not hash to the digest they were uploaded under.
    #[error("the upload hashes to {actual}, not {expected}: upload the snapshot under its own sha256")]
    Digest {
        /// The digest in the request.
        expected: Sha256,
        /// The digest of the bytes.
        actual: Sha256,
    },
    /// The snapshot is larger than allowed.
    #[error("the snapshot is {bytes} bytes; at most {limit} are accepted")]
    TooLarge {
        /// Its size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// The disk failed.
    #[error("snapshot store at {path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// A folder of snapshots named by their sha256.
#[derive(Debug)]
pub struct SnapshotStore {
    dir: PathBuf,
    /// The largest snapshot accepted, in bytes.
    pub max_bytes: usize,
}

impl SnapshotStore {
    /// Opens (creating it when missing) the store in `dir`; leftovers of interrupted uploads are
    /// removed.
    pub fn open(dir: &Path, max_bytes: usize) -> Result<SnapshotStore, SnapshotError> {
        let io = |source| SnapshotError::Io { path: dir.to_path_buf(), source };
        std::fs::create_dir_all(dir).map_err(io)?;
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().is_some_and(|e| e == "partial") {
                std::fs::remove_file(&path).map_err(io)?;
            }
        }
        Ok(SnapshotStore { dir: dir.to_path_buf(), max_bytes })
    }

    fn path(&self, sha256: &Sha256) -> PathBuf {
        self.dir.join(format!("{sha256}.tar"))
    }

    /// Stores `bytes`, which must hash to `expected`; storing the same snapshot again is a no-op.
    pub fn put(&self, expected: Sha256, bytes: &[u8]) -> Result<Snapshot, SnapshotError> {
        if bytes.len() > self.max_bytes {
            return Err(SnapshotError::TooLarge { bytes: bytes.len(), limit: self.max_bytes });
        }
        let actual = crate::model::sha256(bytes);
        if actual != expected {
            return Err(SnapshotError::Digest { expected, actual });
        }
        let path = self.path(&actual);
        let snapshot = Snapshot { sha256: actual, bytes: bytes.len() as u64 };
        if path.is_file() {
            return Ok(snapshot);
        }
        let io = |source| SnapshotError::Io { path: path.clone(), source };
        let partial = path.with_extension(format!("{}.partial", edgecoder_protocol::ids::MessageId::random()));
        let mut file = std::fs::File::create(&partial).map_err(io)?;
        file.write_all(bytes).and_then(|()| file.sync_all()).map_err(io)?;
        std::fs::rename(&partial, &path).map_err(io)?;
        if let Ok(dir) = std::fs::File::open(&self.dir) {
            dir.sync_all().map_err(io)?;
        }
        Ok(snapshot)
    }

    /// The snapshot's size, when it is stored.
    pub fn get(&self, sha256: &Sha256) -> Option<Snapshot> {
        let bytes = std::fs::metadata(self.path(sha256)).ok()?.len();
        Some(Snapshot { sha256: *sha256, bytes })
    }

    /// The snapshot's bytes, when it is stored.
    pub fn read(&self, sha256: &Sha256) -> Result<Option<Vec<u8>>, SnapshotError> {
        let path = self.path(sha256);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SnapshotError::Io { path, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_are_stored_under_their_digest_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("x.abc.partial"), b"torn").unwrap();
        let store = SnapshotStore::open(dir.path(), 16).unwrap();
        assert!(!dir.path().join("x.abc.partial").exists(), "a torn upload is cleaned up");
        let digest = crate::model::sha256(b"tarball");
        let snapshot = store.put(digest, b"tarball").unwrap();
        assert_eq!(snapshot.bytes, 7);
        assert_eq!(store.put(digest, b"tarball").unwrap(), snapshot, "idempotent");
        assert_eq!(store.read(&digest).unwrap().unwrap(), b"tarball");
        assert!(matches!(store.put(digest, b"other"), Err(SnapshotError::Digest { .. })));
        assert!(matches!(store.put(digest, &[0; 17]), Err(SnapshotError::TooLarge { .. })));
        assert_eq!(store.read(&Sha256([0; 32])).unwrap(), None);
        assert_eq!(store.get(&digest), Some(snapshot));
    }
}
