//! The `merge_patches` aggregate: every subtask's output is a unified diff of the job's
//! snapshot; the coordinator merges them three-way, file by file, into one diff. Changes that
//! overlap are a conflict, which a person (or the parent model) resolves.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use diffy::patch_set::{FileOperation, ParseOptions, PatchSet};
use edgecoder_protocol::ids::Sha256;
use edgecoder_protocol::inference::{ConflictedFile, ResolvedFile, has_conflict_markers};

use crate::snapshots::{SnapshotError, SnapshotStore};

/// Why patches could not be merged into one.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The snapshot tarball cannot be read.
    #[error("the job's snapshot is not a readable tarball: {0}")]
    Snapshot(std::io::Error),
    /// A subtask's output is not a unified diff the merge understands.
    #[error("subtask {ordinal}'s output is not a usable unified diff: {detail}")]
    NotAPatch {
        /// The subtask.
        ordinal: u32,
        /// What is wrong with it.
        detail: String,
    },
    /// A subtask's patch does not fit the snapshot it was made for.
    #[error("subtask {ordinal}'s patch does not apply to {path}: {detail}")]
    DoesNotApply {
        /// The subtask.
        ordinal: u32,
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// Two or more patches change the same lines differently.
    #[error("the patches conflict in {}", conflict_paths(.0))]
    Conflict(Vec<ConflictedFile>),
    /// A resolution given for a conflicting file is not usable.
    #[error("the resolution of {path} is not usable: {detail}")]
    BadResolution {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
}

fn conflict_paths(files: &[ConflictedFile]) -> String {
    files.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join(", ")
}

/// The conflicts as a person reads them: which files and `why` they wait for a person, then
/// each file with its markers.
pub fn describe_conflicts(files: &[ConflictedFile], why: &str) -> String {
    let mut text = format!("the patches conflict in {}; {why}\n", conflict_paths(files));
    for file in files {
        text.push_str(&format!("=== {}\n{}", file.path, file.marked));
        if !file.marked.ends_with('\n') {
            text.push('\n');
        }
    }
    text
}

/// A file's content after one subtask's patch: `None` when the patch deletes it.
type Version = Option<String>;

/// Merges the subtasks' patches (`(ordinal, unified diff)`) against the files of `snapshot` (a
/// tar archive) into one unified diff of the snapshot, files in path order.
pub fn merge_patches(snapshot: &[u8], patches: &[(u32, String)]) -> Result<String, MergeError> {
    merge_resolved(snapshot, patches, &[])
}

/// Like [`merge_patches`], with the content of files whose patches conflict taken from
/// `resolved` (the parent model's answer); a conflicting file it does not cover is still a
/// conflict, and a resolution that keeps conflict markers is refused.
pub fn merge_resolved(
    snapshot: &[u8],
    patches: &[(u32, String)],
    resolved: &[ResolvedFile],
) -> Result<String, MergeError> {
    let base = read_snapshot(snapshot)?;
    let mut sorted: Vec<&(u32, String)> = patches.iter().collect();
    sorted.sort_by_key(|(ordinal, _)| *ordinal);
    let mut versions: BTreeMap<String, Vec<(u32, Version)>> = BTreeMap::new();
    for (ordinal, text) in sorted {
        for (path, version) in apply_patch(&base, *ordinal, text)? {
            versions.entry(path).or_default().push((*ordinal, version));
        }
    }
    let mut diff = String::new();
    let mut conflicts = Vec::new();
    for (path, changes) in &versions {
        let original = base.get(path);
        match merge_file(original.map(String::as_str), changes) {
            Ok(merged) => diff.push_str(&file_diff(path, original, merged.as_deref())),
            Err(marked) => match resolved.iter().find(|r| &r.path == path) {
                Some(resolution) => {
                    if has_conflict_markers(&resolution.content) {
                        return Err(MergeError::BadResolution {
                            path: path.clone(),
                            detail: "it still holds conflict markers".into(),
                        });
                    }
                    diff.push_str(&file_diff(path, original, Some(&resolution.content)));
                }
                None => conflicts.push(ConflictedFile {
                    path: path.clone(),
                    original: original.cloned().unwrap_or_default(),
                    marked,
                }),
            },
        }
    }
    if conflicts.is_empty() {
        Ok(diff)
    } else {
        Err(MergeError::Conflict(conflicts))
    }
}

/// Reads snapshot `sha256` from `store` and merges `patches` on it as [`merge_resolved`] does,
/// off the async threads; `Ok(None)` when the snapshot is no longer stored.
pub async fn merge_stored(
    store: Arc<SnapshotStore>,
    sha256: Sha256,
    patches: Vec<(u32, String)>,
    resolved: Vec<ResolvedFile>,
) -> Result<Option<Result<String, MergeError>>, SnapshotError> {
    tokio::task::spawn_blocking(move || {
        Ok(store.read(&sha256)?.map(|tarball| merge_resolved(&tarball, &patches, &resolved)))
    })
    .await
    .expect("merging does not panic")
}

/// The paths of the text files in `snapshot` (a tar archive), sorted: what a `merge_patches`
/// job's subtasks may edit.
pub fn text_files(snapshot: &[u8]) -> Result<Vec<String>, MergeError> {
    Ok(read_snapshot(snapshot)?.into_keys().collect())
}

/// The text file at `path` in `snapshot` (a tar archive); `None` when it has none there.
pub fn text_file(snapshot: &[u8], path: &str) -> Result<Option<String>, MergeError> {
    Ok(read_snapshot(snapshot)?.remove(path))
}

/// The snapshot's text files by path (binary files are left out: patches cannot change them).
fn read_snapshot(snapshot: &[u8]) -> Result<BTreeMap<String, String>, MergeError> {
    let mut archive = tar::Archive::new(snapshot);
    let mut files = BTreeMap::new();
    for entry in archive.entries().map_err(MergeError::Snapshot)? {
        let mut entry = entry.map_err(MergeError::Snapshot)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(MergeError::Snapshot)?;
        let path = path.to_string_lossy().trim_start_matches("./").to_owned();
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(MergeError::Snapshot)?;
        if let Ok(text) = String::from_utf8(bytes) {
            files.insert(path, text);
        }
    }
    Ok(files)
}

/// A path of the patch relative to the snapshot: git's `a/` and `b/` prefixes dropped; absolute
/// paths and `..` refused.
fn snapshot_path(path: &str, prefix: &str, ordinal: u32) -> Result<String, MergeError> {
    let relative = path.strip_prefix(prefix).unwrap_or(path);
    let escapes = relative.starts_with('/') || relative.split('/').any(|part| part == "..");
    if escapes || relative.is_empty() {
        return Err(MergeError::NotAPatch {
            ordinal,
            detail: format!("the path {path:?} is not inside the snapshot"),
        });
    }
    Ok(relative.to_owned())
}

/// Applies one subtask's patch to the snapshot: each file it touches, with its new content.
fn apply_patch(
    base: &BTreeMap<String, String>,
    ordinal: u32,
    text: &str,
) -> Result<Vec<(String, Version)>, MergeError> {
    let not_a_patch = |detail: String| MergeError::NotAPatch { ordinal, detail };
    let mut out = Vec::new();
    for file in PatchSet::parse(text, ParseOptions::unidiff()) {
        let file = file.map_err(|e| not_a_patch(e.to_string()))?;
        let Some(patch) = file.patch().as_text() else {
            return Err(not_a_patch("binary patches cannot be merged".into()));
        };
        let (path, original) = match file.operation() {
            FileOperation::Modify { original, modified } => {
                let from = snapshot_path(original, "a/", ordinal)?;
                let to = snapshot_path(modified, "b/", ordinal)?;
                if from != to {
                    return Err(not_a_patch(format!(
                        "renaming {from} to {to} is not supported; change files in place"
                    )));
                }
                let Some(original) = base.get(&to) else {
                    return Err(MergeError::DoesNotApply {
                        ordinal,
                        path: to,
                        detail: "the snapshot has no such text file".into(),
                    });
                };
                (to, original.as_str())
            }
            FileOperation::Create(path) => {
                let path = snapshot_path(path, "b/", ordinal)?;
                if base.contains_key(&path) {
                    return Err(MergeError::DoesNotApply {
                        ordinal,
                        path,
                        detail: "the patch creates a file the snapshot already has".into(),
                    });
                }
                (path, "")
            }
            FileOperation::Delete(path) => {
                let path = snapshot_path(path, "a/", ordinal)?;
                if !base.contains_key(&path) {
                    return Err(MergeError::DoesNotApply {
                        ordinal,
                        path,
                        detail: "the patch deletes a file the snapshot does not have".into(),
                    });
                }
                out.push((path, None));
                continue;
            }
            FileOperation::Rename { .. } | FileOperation::Copy { .. } => {
                return Err(not_a_patch(
                    "renames and copies are not supported; change files in place".into(),
                ));
            }
        };
        let changed = diffy::apply(original, patch).map_err(|e| MergeError::DoesNotApply {
            ordinal,
            path: path.clone(),
            detail: e.to_string(),
        })?;
        out.push((path, Some(changed)));
    }
    Ok(out)
}

/// Merges every version of one file, in subtask order, against its snapshot content
/// (`original`, `None` for a new file). `Err` holds the content with conflict markers.
fn merge_file(original: Option<&str>, changes: &[(u32, Version)]) -> Result<Version, String> {
    let ancestor = original.unwrap_or("");
    let mut merged: Version = changes[0].1.clone();
    for (ordinal, theirs) in &changes[1..] {
        merged = match (merged.as_deref(), theirs.as_deref()) {
            (None, None) => None,
            (Some(ours), Some(theirs)) => Some(diffy::merge(ancestor, ours, theirs)?),
            (Some(kept), None) | (None, Some(kept)) if kept == ancestor => None,
            (Some(_), None) | (None, Some(_)) => {
                return Err(format!(
                    "subtask {ordinal}: one patch deletes the file and another changes it\n"
                ));
            }
        };
    }
    Ok(merged)
}

/// The unified diff of one file from `original` (`None`: it is new) to `merged` (`None`:
/// deleted), with git-style `a/` and `b/` names; empty when nothing changes.
pub fn file_diff(path: &str, original: Option<&String>, merged: Option<&str>) -> String {
    let mut options = diffy::DiffOptions::new();
    options
        .set_original_filename(match original {
            Some(_) => format!("a/{path}"),
            None => "/dev/null".to_owned(),
        })
        .set_modified_filename(match merged {
            Some(_) => format!("b/{path}"),
            None => "/dev/null".to_owned(),
        });
    let before = original.map_or("", String::as_str);
    let after = merged.unwrap_or("");
    if before == after && original.is_some() == merged.is_some() {
        return String::new();
    }
    options.create_patch(before, after).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tarball(files: &[(&str, &str)]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            builder
                .append_data(&mut header, path, text.as_bytes())
                .unwrap();
        }
        builder.into_inner().unwrap()
    }

    const CALC: &str = "def add(a, b):\n    return 0\n\n\ndef middle():\n    pass\n\n\ndef sub(a, b):\n    return 0\n";

    fn edit(path: &str, before: &str, after: &str) -> String {
        diffy::DiffOptions::new()
            .set_original_filename(format!("a/{path}"))
            .set_modified_filename(format!("b/{path}"))
            .create_patch(before, after)
            .to_string()
    }

    #[test]
    fn patches_to_different_parts_of_a_file_and_to_other_files_merge_into_one_diff() {
        let snapshot = tarball(&[("calc.py", CALC), ("README.md", "# calc\n")]);
        let add = edit("calc.py", CALC, &CALC.replace("return 0\n\n\ndef middle", "return a + b\n\n\ndef middle"));
        let sub = edit("calc.py", CALC, &CALC.replace("def sub(a, b):\n    return 0", "def sub(a, b):\n    return a - b"));
        let new_test = "--- /dev/null\n+++ b/test_calc.py\n@@ -0,0 +1,2 @@\n+def test_add():\n+    assert add(1, 2) == 3\n".to_owned();
        let diff = merge_patches(&snapshot, &[(2, sub), (0, add), (1, new_test)]).unwrap();
        let files: Vec<_> = PatchSet::parse(&diff, ParseOptions::unidiff()).collect::<Result<_, _>>().unwrap();
        assert_eq!(files.len(), 2, "{diff}");
        let merged = diffy::apply(CALC, files[0].patch().as_text().unwrap()).unwrap();
        assert!(merged.contains("return a + b") && merged.contains("return a - b"), "{merged}");
        assert!(diff.contains("+++ b/test_calc.py"), "{diff}");
        assert!(!diff.contains("README"), "an untouched file is not in the diff");
    }

    #[test]
    fn the_same_lines_changed_two_ways_is_a_conflict_with_markers() {
        let snapshot = tarball(&[("calc.py", CALC)]);
        let one = edit("calc.py", CALC, &CALC.replacen("return 0", "return a + b", 1));
        let two = edit("calc.py", CALC, &CALC.replacen("return 0", "return b + a", 1));
        let patches = [(0, one), (1, two)];
        let Err(MergeError::Conflict(files)) = merge_patches(&snapshot, &patches) else {
            panic!("expected a conflict")
        };
        assert_eq!(files.len(), 1);
        assert_eq!((files[0].path.as_str(), files[0].original.as_str()), ("calc.py", CALC));
        let marked = &files[0].marked;
        assert!(has_conflict_markers(marked) && marked.contains("return a + b") && marked.contains("return b + a"), "{marked}");
        let described = describe_conflicts(&files, "a person resolves them");
        assert!(described.starts_with("the patches conflict in calc.py; a person resolves them\n=== calc.py\ndef add(a, b):\n<<<<<<< ours"), "{described}");

        let resolution = |content: &str| [ResolvedFile { path: "calc.py".into(), content: content.into() }];
        let both = CALC.replacen("return 0", "return a + b  # == b + a", 1);
        let diff = merge_resolved(&snapshot, &patches, &resolution(&both)).unwrap();
        assert!(diff.contains("+    return a + b  # == b + a") && diff.starts_with("--- a/calc.py"), "{diff}");
        let error = merge_resolved(&snapshot, &patches, &resolution(marked)).unwrap_err();
        assert!(error.to_string().contains("still holds conflict markers"), "{error}");
        let other = [ResolvedFile { path: "other.py".into(), content: both }];
        assert!(matches!(merge_resolved(&snapshot, &patches, &other), Err(MergeError::Conflict(_))));
    }

    #[test]
    fn identical_changes_and_a_deletion_with_an_unchanged_copy_merge_cleanly() {
        let snapshot = tarball(&[("calc.py", CALC), ("old.py", "x = 1\n")]);
        let fix = edit("calc.py", CALC, &CALC.replacen("return 0", "return a + b", 1));
        let delete = "--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-x = 1\n".to_owned();
        let diff = merge_patches(&snapshot, &[(0, fix.clone()), (1, fix), (2, delete.clone()), (3, delete)]).unwrap();
        assert!(diff.contains("+++ /dev/null"), "{diff}");
        assert_eq!(diff.matches("+    return a + b").count(), 1, "{diff}");
    }

    #[test]
    fn patches_that_do_not_fit_the_snapshot_are_refused_with_the_subtask_named() {
        let snapshot = tarball(&[("calc.py", CALC)]);
        let cases: [(&str, &str); 7] = [
            ("just some prose, no diff", "no valid patches"),
            ("", "no valid patches"),
            ("--- a/missing.py\n+++ b/missing.py\n@@ -1 +1 @@\n-a\n+b\n", "no such text file"),
            ("--- a/calc.py\n+++ b/calc.py\n@@ -1 +1 @@\n-def mul(a, b):\n+def mul(x, y):\n", "calc.py"),
            ("--- a/../etc/passwd\n+++ b/../etc/passwd\n@@ -1 +1 @@\n-a\n+b\n", "not inside the snapshot"),
            ("--- /dev/null\n+++ b/calc.py\n@@ -0,0 +1 @@\n+x\n", "already has"),
            ("--- a/calc.py\n+++ b/other.py\n@@ -1 +1 @@\n-def add(a, b):\n+def add(x, y):\n", "renaming"),
        ];
        for (patch, expected) in cases {
            let error = merge_patches(&snapshot, &[(7, patch.to_owned())]).unwrap_err().to_string();
            assert!(error.contains("subtask 7") && error.contains(expected), "{patch:?}: {error}");
        }
        let truncated = &snapshot[..600];
        let fix = edit("calc.py", CALC, &CALC.replacen("return 0", "return a + b", 1));
        assert!(matches!(merge_patches(truncated, &[(0, fix)]), Err(MergeError::Snapshot(_))));
    }
}
