//! The bearer token: 32 random bytes in hex, made on first start and kept in a file that only
//! the owner can read (mode 0600).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why the token could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The file or its directory could not be read or written.
    #[error("cannot use the token file {path}: {error} — check its permissions or set token_file in the config")]
    Io {
        /// The token file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// Other users can read the file.
    #[error("the token file {path} is readable by other users (mode {mode:o}) — run `chmod {wanted:o} {path}`")]
    TooOpen {
        /// The token file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
        /// The bits it should have.
        wanted: u32,
    },
    /// The file holds no usable token.
    #[error("the token file {path} is empty or not a token — delete it and start the daemon to make a new one")]
    Malformed {
        /// The token file.
        path: PathBuf,
    },
    /// The system random source failed.
    #[error("cannot make a token: the system random source failed: {0}")]
    Random(String),
}

/// Who may read the token file besides its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Only the owner (mode 0600).
    Owner,
    /// The owner and the file's group (mode 0640): a system service and its group's members.
    Group,
}

impl Sharing {
    /// The sharing a config asks for.
    pub fn of(group_access: bool) -> Sharing {
        if group_access { Sharing::Group } else { Sharing::Owner }
    }

    /// The permission bits a file shared this way gets.
    pub fn mode(self) -> u32 {
        match self {
            Sharing::Owner => 0o600,
            Sharing::Group => 0o640,
        }
    }
}

/// Reads the token in `path`, or makes one (parent directories 0700, file 0600, or 0640 when
/// shared with the group) when there is none yet.
pub fn load_or_create(path: &Path, sharing: Sharing) -> Result<String, TokenError> {
    match read(path, sharing) {
        Err(TokenError::Io { error, .. }) if error.kind() == std::io::ErrorKind::NotFound => create(path, sharing),
        other => other,
    }
}

/// Reads the token in `path`, refusing a file that other users (or, unless shared, the group)
/// can read.
pub fn read(path: &Path, sharing: Sharing) -> Result<String, TokenError> {
    let io = |error| TokenError::Io { path: path.to_owned(), error };
    let meta = std::fs::metadata(path).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & !sharing.mode() & 0o077 != 0 {
            return Err(TokenError::TooOpen { path: path.to_owned(), mode, wanted: sharing.mode() });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    let token = std::fs::read_to_string(path).map_err(io)?.trim().to_owned();
    if token.len() < 16 || !token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(TokenError::Malformed { path: path.to_owned() });
    }
    Ok(token)
}

fn create(path: &Path, sharing: Sharing) -> Result<String, TokenError> {
    let io = |error| TokenError::Io { path: path.to_owned(), error };
    if let Some(dir) = path.parent() {
        create_private_dir(dir).map_err(io)?;
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| TokenError::Random(e.to_string()))?;
    let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(sharing.mode());
    }
    match options.open(path) {
        Ok(mut file) => {
            // The mode is set again: the process's umask may have taken the group's bit away.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                file.set_permissions(std::fs::Permissions::from_mode(sharing.mode())).map_err(io)?;
            }
            file.write_all(format!("{token}\n").as_bytes()).map_err(io)?;
            Ok(token)
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read(path, sharing),
        Err(e) => Err(io(e)),
    }
}

/// Creates `dir` and its parents; new directories get mode 0700.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Compares two tokens in time that does not depend on where they differ.
pub fn matches(expected: &str, given: &str) -> bool {
    let (a, b) = (expected.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_made_once_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/edgecoder/token");
        let first = load_or_create(&path, Sharing::Owner).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create(&path, Sharing::Owner).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    #[cfg(unix)]
    fn an_open_or_garbled_file_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "0123456789abcdef0123\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read(&path, Sharing::Owner).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read(&path, Sharing::Owner).unwrap(), "0123456789abcdef0123");
        std::fs::write(&path, "short\n").unwrap();
        assert!(read(&path, Sharing::Owner).unwrap_err().to_string().contains("delete it"));
    }

    #[test]
    #[cfg(unix)]
    fn a_token_shared_with_the_group_is_0640_and_still_refused_to_others() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let token = load_or_create(&path, Sharing::Group).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
        assert_eq!(read(&path, Sharing::Group).unwrap(), token);
        let e = read(&path, Sharing::Owner).unwrap_err().to_string();
        assert!(e.contains("chmod 600"), "{e}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = read(&path, Sharing::Group).unwrap_err().to_string();
        assert!(e.contains("chmod 640"), "{e}");
    }

    #[test]
    fn comparison_is_exact() {
        assert!(matches("abc", "abc"));
        assert!(!matches("abc", "abd"));
        assert!(!matches("abc", "abcd"));
        assert!(!matches("abc", ""));
    }
}
