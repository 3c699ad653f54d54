//! Finding the files of a workspace worth indexing, and reading them safely.
//!
//! The walk honours `.gitignore`/`.ignore` files inside the workspace, skips hidden files and
//! folders, `node_modules` and `__pycache__`, and never follows a symbolic link (a link could
//! point out of the workspace). Files are read only when their extension is indexed; binary,
//! non-UTF-8, oversized and unreadable files are skipped with a reason.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::Serialize;

use super::chunk::Format;

/// Folders never indexed, whatever the ignore files say.
const SKIPPED_DIRS: &[&str] = &["node_modules", "__pycache__"];

/// A file the walk found: where it is and its metadata.
#[derive(Debug, Clone)]
pub struct Found {
    /// Path relative to the workspace, `/`-separated.
    pub rel: String,
    /// Absolute path.
    pub path: PathBuf,
    /// How it is chunked.
    pub format: Format,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: u128,
}

/// A file that was not indexed, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Path relative to the workspace.
    pub path: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Walks `root`, returning indexable files (sorted by path) and the ones skipped before reading
/// (symbolic links, special files, files over `max_bytes`).
pub fn walk(root: &Path, max_bytes: u64) -> (Vec<Found>, Vec<Skipped>) {
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    let walker = ignore::WalkBuilder::new(root)
        .follow_links(false)
        .hidden(true)
        .parents(false)
        .git_global(false)
        .require_git(false)
        .filter_entry(|e| !(e.file_type().is_some_and(|t| t.is_dir()) && SKIPPED_DIRS.iter().any(|d| e.file_name() == *d)))
        .build();
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                skipped.push(Skipped { path: String::new(), reason: format!("cannot list: {e}") });
                continue;
            }
        };
        let path = entry.path();
        let Some(format) = Format::of(path) else { continue };
        let Ok(rel) = path.strip_prefix(root) else { continue };
        let rel = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        let Some(kind) = entry.file_type() else { continue };
        if kind.is_symlink() {
            skipped.push(Skipped { path: rel, reason: "symbolic link (never followed)".into() });
            continue;
        }
        if !kind.is_file() {
            if !kind.is_dir() {
                skipped.push(Skipped { path: rel, reason: "not a regular file".into() });
            }
            continue;
        }
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) => {
                skipped.push(Skipped { path: rel, reason: format!("unreadable: {e}") });
                continue;
            }
        };
        if meta.len() > max_bytes {
            skipped.push(Skipped { path: rel, reason: format!("too large ({} bytes; the limit is {max_bytes})", meta.len()) });
            continue;
        }
        let mtime_ns = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        found.push(Found { rel, path: path.to_owned(), format, size: meta.len(), mtime_ns });
    }
    found.sort_by(|a, b| a.rel.cmp(&b.rel));
    (found, skipped)
}

/// Reads a found file as text: `Err(reason)` when it cannot be read, grew past `max_bytes`,
/// holds NUL bytes (binary) or is not UTF-8.
pub fn read_text(path: &Path, max_bytes: u64) -> Result<String, String> {
    let file = fs::File::open(path).map_err(|e| format!("unreadable: {e}"))?;
    let mut bytes = Vec::new();
    file.take(max_bytes + 1).read_to_end(&mut bytes).map_err(|e| format!("unreadable: {e}"))?;
    if bytes.len() as u64 > max_bytes {
        return Err(format!("too large (over {max_bytes} bytes)"));
    }
    if bytes.contains(&0) {
        return Err("binary (contains NUL bytes)".into());
    }
    String::from_utf8(bytes).map_err(|e| format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to()))
}
