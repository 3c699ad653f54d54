//! The frozen snapshots work runs on: fetched from the coordinator with the agent's
//! credentials, checked against their sha256, unpacked once into a read-only folder and cached.

use edgecoder_protocol::ids::Sha256;
use edgecoder_protocol::swarm::Snapshot;
use sha2::Digest;
use std::path::{Path, PathBuf};

/// Why a snapshot is not usable.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The download failed.
    #[error("cannot download snapshot {sha256} from {url}: {message}")]
    Download {
        /// The digest.
        sha256: Sha256,
        /// The URL.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The bytes are not the snapshot the work names.
    #[error("snapshot {expected} arrived with sha256 {actual} and {bytes} bytes (expected {expected_bytes}): refusing it")]
    Mismatch {
        /// The digest the work names.
        expected: Sha256,
        /// The digest of the bytes.
        actual: Sha256,
        /// Their size.
        bytes: u64,
        /// The size the work names.
        expected_bytes: u64,
    },
    /// The tarball could not be unpacked.
    #[error("snapshot {sha256} cannot be unpacked: {message}")]
    Unpack {
        /// The digest.
        sha256: Sha256,
        /// What went wrong.
        message: String,
    },
}

/// The snapshot cache of one worker.
pub struct Snapshots {
    dir: PathBuf,
    coordinator: String,
    agent: String,
    secret: String,
    http: reqwest::Client,
}

impl Snapshots {
    /// A cache in `dir` fetching from `coordinator` as `agent`.
    pub fn new(dir: &Path, coordinator: &str, agent: &str, secret: &str) -> Snapshots {
        Snapshots {
            dir: dir.to_path_buf(),
            coordinator: coordinator.trim_end_matches('/').to_owned(),
            agent: agent.to_owned(),
            secret: secret.to_owned(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(600))
                .build()
                .expect("an HTTP client with a timeout builds"),
        }
    }

    /// The unpacked, read-only folder of `snapshot`, fetched and checked first when it is not
    /// cached.
    pub async fn ensure(&self, snapshot: &Snapshot) -> Result<PathBuf, SnapshotError> {
        let target = self.dir.join(snapshot.sha256.to_string());
        if target.is_dir() {
            return Ok(target);
        }
        let url = format!("{}/v1/snapshots/{}", self.coordinator, snapshot.sha256);
        let download = |message: String| SnapshotError::Download { sha256: snapshot.sha256, url: url.clone(), message };
        let response = self
            .http
            .get(&url)
            .basic_auth(&self.agent, Some(&self.secret))
            .send()
            .await
            .map_err(|e| download(e.to_string()))?;
        if !response.status().is_success() {
            let status = response.status();
            return Err(download(format!("{status}: {}", response.text().await.unwrap_or_default())));
        }
        let bytes = response.bytes().await.map_err(|e| download(e.to_string()))?;
        let actual = Sha256(sha2::Sha256::digest(&bytes).into());
        if actual != snapshot.sha256 || bytes.len() as u64 != snapshot.bytes {
            return Err(SnapshotError::Mismatch {
                expected: snapshot.sha256,
                actual,
                bytes: bytes.len() as u64,
                expected_bytes: snapshot.bytes,
            });
        }
        let (dir, sha256) = (self.dir.clone(), snapshot.sha256);
        tokio::task::spawn_blocking(move || unpack(&bytes, &dir, sha256)).await.expect("unpacking does not panic")
    }
}

/// Unpacks `tarball` into `<dir>/<sha256>` (through a temporary folder, so a crash leaves no
/// half snapshot) and makes it read-only. Entries that would land outside are refused.
pub fn unpack(tarball: &[u8], dir: &Path, sha256: Sha256) -> Result<PathBuf, SnapshotError> {
    let fail = |message: String| SnapshotError::Unpack { sha256, message };
    let target = dir.join(sha256.to_string());
    std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    let staging = tempfile::Builder::new().prefix(".unpack-").tempdir_in(dir).map_err(|e| fail(e.to_string()))?;
    let mut archive = tar::Archive::new(tarball);
    archive.set_preserve_permissions(false);
    archive.set_unpack_xattrs(false);
    for entry in archive.entries().map_err(|e| fail(e.to_string()))? {
        let mut entry = entry.map_err(|e| fail(e.to_string()))?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            let path = entry.path().map(|p| p.display().to_string()).unwrap_or_default();
            return Err(fail(format!("{path}: only files and folders are allowed in a snapshot")));
        }
        // `unpack_in` refuses paths with `..` or a root and reports them as not unpacked.
        if !entry.unpack_in(staging.path()).map_err(|e| fail(e.to_string()))? {
            let path = entry.path().map(|p| p.display().to_string()).unwrap_or_default();
            return Err(fail(format!("{path}: the path leaves the snapshot")));
        }
    }
    make_read_only(staging.path()).map_err(|e| fail(e.to_string()))?;
    let staged = staging.keep();
    match std::fs::rename(&staged, &target) {
        Ok(()) => Ok(target),
        Err(_) if target.is_dir() => {
            let _ = std::fs::remove_dir_all(&staged);
            Ok(target)
        }
        Err(e) => Err(fail(e.to_string())),
    }
}

fn make_read_only(path: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(path)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            make_read_only(&entry.path())?;
        }
        let mut permissions = entry.metadata()?.permissions();
        permissions.set_readonly(true);
        std::fs::set_permissions(entry.path(), permissions)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            builder.append_data(&mut header, path, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn a_snapshot_unpacks_read_only_and_escapes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = tarball(&[("src/lib.py", b"def f():\n    return 1\n"), ("README.md", b"hi")]);
        let unpacked = unpack(&bytes, dir.path(), Sha256([1; 32])).unwrap();
        assert_eq!(std::fs::read_to_string(unpacked.join("src/lib.py")).unwrap(), "def f():\n    return 1\n");
        assert!(std::fs::metadata(unpacked.join("README.md")).unwrap().permissions().readonly());

        let mut evil = tar::Header::new_gnu();
        evil.set_size(1);
        evil.set_entry_type(tar::EntryType::Regular);
        let mut raw = evil.as_bytes().to_vec();
        raw[..12].copy_from_slice(b"../escape.py");
        raw[12..100].fill(0);
        let mut header = tar::Header::from_byte_slice(&raw).clone();
        header.set_cksum();
        let mut builder = tar::Builder::new(Vec::new());
        builder.append(&header, &b"x"[..]).unwrap();
        let error = unpack(&builder.into_inner().unwrap(), dir.path(), Sha256([2; 32])).unwrap_err();
        assert!(error.to_string().contains("leaves the snapshot"), "{error}");
        assert!(!dir.path().join("escape.py").exists());
        assert!(!dir.path().join(Sha256([2; 32]).to_string()).exists(), "no half snapshot is left");
    }
}
