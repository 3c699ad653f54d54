//! Workspace mode: the agent edits files inside one folder. Paths are checked before anything
//! is read or written (no absolute paths, no `..`, no symlinks leading out); a change is shown
//! as a unified diff (the `similar` crate) and written only on Apply, atomically, after saving
//! the previous content under `.edgecoder/backups/`.

use edgecoder_executor::Lang;
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

/// Errors of workspace mode; each message names the fix.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    /// The workspace folder is missing or not a folder.
    #[error("workspace {}: {why} — pass an existing folder to --workspace", path.display())]
    BadRoot {
        /// The path given.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// A path points outside the workspace.
    #[error("{path:?} is outside the workspace ({why}): only files inside the workspace can be edited")]
    Outside {
        /// The path as given.
        path: String,
        /// Why it is outside.
        why: &'static str,
    },
    /// The file to edit cannot be chosen.
    #[error("{0}")]
    NoTarget(String),
    /// A file operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file changed after the agent read it.
    #[error("{0} changed since the agent read it: not applied (run the task again)")]
    Changed(String),
}

fn io<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> WorkspaceError + 'a {
    move |source| WorkspaceError::Io { what, path: path.to_owned(), source }
}

/// A workspace folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workspace {
    root: PathBuf,
}

/// Folders never searched for source files.
const SKIPPED_DIRS: &[&str] = &["node_modules", "__pycache__", "target", "venv", ".venv", "dist", "build"];

impl Workspace {
    /// Opens an existing folder.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, WorkspaceError> {
        let dir = dir.as_ref();
        let bad = |why: String| WorkspaceError::BadRoot { path: dir.to_owned(), why };
        let root = dir.canonicalize().map_err(|e| bad(e.to_string()))?;
        if !root.is_dir() {
            return Err(bad("not a folder".into()));
        }
        Ok(Workspace { root })
    }

    /// The folder (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of `relative`, refusing absolute paths, `..`, and paths that leave the
    /// workspace through a symlink. The file itself need not exist.
    pub fn resolve(&self, relative: &str) -> Result<PathBuf, WorkspaceError> {
        let outside = |why| WorkspaceError::Outside { path: relative.to_owned(), why };
        let rel = Path::new(relative);
        if relative.is_empty() {
            return Err(outside("an empty path"));
        }
        for component in rel.components() {
            match component {
                Component::Normal(_) | Component::CurDir => {}
                Component::ParentDir => return Err(outside("it uses `..`")),
                Component::RootDir | Component::Prefix(_) => return Err(outside("it is absolute")),
            }
        }
        let path = self.root.join(rel);
        // The deepest part that exists decides where the path really goes.
        let mut existing = path.as_path();
        while fs::symlink_metadata(existing).is_err() {
            existing = existing.parent().ok_or_else(|| outside("it has no parent"))?;
        }
        let real = existing.canonicalize().map_err(io("cannot resolve", existing))?;
        if !real.starts_with(&self.root) {
            return Err(outside("a symlink leads out of it"));
        }
        if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(outside("it is a symlink; edit the file it points to"));
        }
        Ok(path)
    }

    /// The content of `relative`, or `None` when the file does not exist yet.
    pub fn read(&self, relative: &str) -> Result<Option<String>, WorkspaceError> {
        let path = self.resolve(relative)?;
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io("cannot read", &path)(e)),
        }
    }

    /// Source files of `lang` in the workspace (relative paths, sorted), skipping hidden and
    /// build folders; at most 500.
    pub fn source_files(&self, lang: Lang) -> Vec<String> {
        let mut found = Vec::new();
        let mut stack = vec![(self.root.clone(), 0usize)];
        while let Some((dir, depth)) = stack.pop() {
            let Ok(read) = fs::read_dir(&dir) else { continue };
            for item in read.flatten() {
                let name = item.file_name().to_string_lossy().into_owned();
                let Ok(kind) = item.file_type() else { continue };
                if name.starts_with('.') || kind.is_symlink() {
                    continue;
                }
                if kind.is_dir() && depth < 6 && !SKIPPED_DIRS.contains(&name.as_str()) {
                    stack.push((item.path(), depth + 1));
                } else if kind.is_file() && Lang::from_path(&name) == Some(lang) {
                    if let Ok(rel) = item.path().strip_prefix(&self.root) {
                        found.push(rel.to_string_lossy().into_owned());
                    }
                }
            }
        }
        found.sort();
        found.truncate(500);
        found
    }

    /// The file a task is about: `explicit` when given; else a workspace file the task names;
    /// else the only source file that is not a test.
    pub fn pick_target(&self, task: &str, lang: Lang, explicit: Option<&str>) -> Result<String, WorkspaceError> {
        if let Some(path) = explicit {
            self.resolve(path)?;
            return Ok(path.to_owned());
        }
        let files = self.source_files(lang);
        let named: Vec<&String> = files
            .iter()
            .filter(|f| {
                let base = Path::new(f.as_str()).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                task.contains(f.as_str()) || task.split(|c: char| c.is_whitespace() || "`'\",;:()".contains(c)).any(|w| w == base)
            })
            .collect();
        if let [one] = named.as_slice() {
            return Ok((*one).clone());
        }
        let sources: Vec<&String> = files.iter().filter(|f| !is_test_file(f)).collect();
        match (named.len(), sources.as_slice()) {
            (0, [one]) => Ok((*one).clone()),
            (0, []) => Err(WorkspaceError::NoTarget(format!(
                "the workspace has no .{} files: name the file to create with --file",
                lang.short_name()
            ))),
            _ => Err(WorkspaceError::NoTarget(format!(
                "cannot tell which file to edit among {}: name it in the task or pass --file",
                sources.iter().take(8).map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            ))),
        }
    }

    /// The test file beside `target` (`test_x.py`, `x_test.py`, `tests/test_x.py`,
    /// `x.test.js`), if there is one.
    pub fn tests_for(&self, target: &str) -> Option<String> {
        let path = Path::new(target);
        let stem = path.file_stem()?.to_string_lossy().into_owned();
        let ext = path.extension()?.to_string_lossy().into_owned();
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let candidates = [
            dir.join(format!("test_{stem}.{ext}")),
            dir.join(format!("{stem}_test.{ext}")),
            dir.join(format!("{stem}.test.{ext}")),
            dir.join("tests").join(format!("test_{stem}.{ext}")),
            PathBuf::from("tests").join(format!("test_{stem}.{ext}")),
        ];
        candidates
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .find(|c| self.resolve(c).is_ok_and(|p| p.is_file()))
    }
}

fn is_test_file(path: &str) -> bool {
    let name = Path::new(path).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.starts_with("test_") || name.contains("_test.") || name.contains(".test.") || path.starts_with("tests/")
}

/// Drops the test file's imports of the module under test (`from fizzbuzz import fizzbuzz`):
/// the executor runs the tests in the solution's namespace, where those names already exist.
pub fn strip_local_imports(tests: &str, target: &str) -> String {
    let module = Path::new(target).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    tests
        .lines()
        .filter(|l| {
            let t = l.trim();
            !(t.starts_with(&format!("from {module} import")) || t == format!("import {module}"))
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

/// A change to one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Change {
    /// The file, relative to the workspace.
    pub path: String,
    /// Its content when the agent read it (`None`: a new file).
    pub before: Option<String>,
    /// The new content.
    pub after: String,
}

impl Change {
    /// The unified diff of this change (`a/PATH` → `b/PATH`; `/dev/null` for a new file).
    pub fn diff(&self) -> String {
        crate::patch::file_diff(&self.path, self.before.as_deref(), &self.after)
    }
}

/// What Apply wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The file written (relative).
    pub file: String,
    /// Where the previous content was saved (relative), when there was one.
    pub backup: Option<String>,
}

impl Workspace {
    /// Writes `change`: checks the path again and that the file still has the content the agent
    /// read, saves that content under `.edgecoder/backups/<time>/`, then writes the new content
    /// to a temporary file beside it and renames it into place.
    pub fn apply(&self, change: &Change) -> Result<Applied, WorkspaceError> {
        let path = self.resolve(&change.path)?;
        let now = self.read(&change.path)?;
        if now != change.before {
            return Err(WorkspaceError::Changed(change.path.clone()));
        }
        let backup = match &change.before {
            Some(before) => {
                let stamp = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis());
                let rel = format!(".edgecoder/backups/{stamp}/{}", change.path);
                let backup_path = self.root.join(&rel);
                if let Some(parent) = backup_path.parent() {
                    fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
                }
                fs::write(&backup_path, before).map_err(io("cannot write the backup", &backup_path))?;
                Some(rel)
            }
            None => None,
        };
        let parent = path.parent().unwrap_or(&self.root);
        fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
        let mut tmp = tempfile::NamedTempFile::new_in(parent).map_err(io("cannot create a temporary file in", parent))?;
        tmp.write_all(change.after.as_bytes()).and_then(|()| tmp.as_file().sync_all()).map_err(io("cannot write", tmp.path()))?;
        if let Ok(meta) = fs::metadata(&path) {
            fs::set_permissions(tmp.path(), meta.permissions()).map_err(io("cannot set permissions of", &path))?;
        }
        tmp.persist(&path).map_err(|e| WorkspaceError::Io { what: "cannot replace", path: path.clone(), source: e.error })?;
        Ok(Applied { file: change.path.clone(), backup })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workspace() -> (tempfile::TempDir, Workspace) {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("calc.py"), "def add(a, b):\n    return a - b\n").unwrap();
        fs::write(dir.path().join("test_calc.py"), "from calc import add\nassert add(1, 2) == 3\n").unwrap();
        let ws = Workspace::open(dir.path()).unwrap();
        (dir, ws)
    }

    #[test]
    fn paths_outside_the_workspace_are_refused() {
        let (dir, ws) = workspace();
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret.py"), "x = 1\n").unwrap();
        let mut bad_paths = vec!["../x.py", "/etc/passwd", "a/../../x.py", ""];
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outside.path(), dir.path().join("out")).unwrap();
            std::os::unix::fs::symlink(outside.path().join("secret.py"), dir.path().join("link.py")).unwrap();
            bad_paths.extend(["out/secret.py", "out/new.py", "link.py"]);
        }
        for bad in bad_paths {
            let err = ws.resolve(bad).unwrap_err();
            assert!(matches!(err, WorkspaceError::Outside { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("outside the workspace"), "{err}");
        }
        assert_eq!(ws.resolve("calc.py").unwrap(), ws.root().join("calc.py"));
        assert_eq!(ws.resolve("new/dir/file.py").unwrap(), ws.root().join("new/dir/file.py"));
        assert!(Workspace::open(dir.path().join("missing")).unwrap_err().to_string().contains("--workspace"));
    }

    #[test]
    fn the_target_and_its_tests_are_found() {
        let (dir, ws) = workspace();
        assert_eq!(ws.pick_target("fix add", Lang::Python, None).unwrap(), "calc.py");
        assert_eq!(ws.tests_for("calc.py").as_deref(), Some("test_calc.py"));
        fs::write(dir.path().join("other.py"), "x = 1\n").unwrap();
        assert!(ws.pick_target("fix add", Lang::Python, None).unwrap_err().to_string().contains("--file"));
        assert_eq!(ws.pick_target("fix add in calc.py", Lang::Python, None).unwrap(), "calc.py");
        assert!(ws.pick_target("x", Lang::Python, Some("../calc.py")).is_err());
        let tests = strip_local_imports(&fs::read_to_string(dir.path().join("test_calc.py")).unwrap(), "calc.py");
        assert_eq!(tests, "assert add(1, 2) == 3\n");
    }

    #[test]
    fn apply_writes_atomically_with_a_backup_and_refuses_stale_changes() {
        let (dir, ws) = workspace();
        let before = ws.read("calc.py").unwrap();
        let change = Change { path: "calc.py".into(), before: before.clone(), after: "def add(a, b):\n    return a + b\n".into() };
        let diff = change.diff();
        assert!(diff.starts_with("--- a/calc.py\n+++ b/calc.py\n"), "{diff}");
        assert!(diff.contains("-    return a - b\n+    return a + b\n"), "{diff}");
        assert_eq!(fs::read_to_string(dir.path().join("calc.py")).unwrap(), before.clone().unwrap(), "nothing written before Apply");
        let applied = ws.apply(&change).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("calc.py")).unwrap(), change.after);
        let backup = applied.backup.expect("a backup");
        assert_eq!(fs::read_to_string(dir.path().join(backup)).unwrap(), before.unwrap());
        let err = ws.apply(&change).unwrap_err();
        assert!(matches!(err, WorkspaceError::Changed(_)), "{err}");
        let new = Change { path: "pkg/new.py".into(), before: None, after: "x = 1\n".into() };
        assert!(new.diff().starts_with("--- /dev/null\n+++ b/pkg/new.py\n"));
        assert_eq!(ws.apply(&new).unwrap().backup, None);
        assert_eq!(fs::read_to_string(dir.path().join("pkg/new.py")).unwrap(), "x = 1\n");
    }
}
