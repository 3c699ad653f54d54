//! Patch mode: a subtask that names a file of its snapshot gets that file in its prompt, answers
//! with the file's new content, and is reported as a unified diff of the snapshot, which the
//! coordinator merges with the other subtasks' patches.

use diffy::patch_set::{FileOperation, ParseOptions, PatchSet};
use edgecoder_protocol::run::Lang;
use edgecoder_protocol::swarm::check_snapshot_path;
use std::path::Path;

/// Most bytes of a file a subtask edits: it goes whole into the model's prompt.
pub const MAX_TARGET_BYTES: u64 = 32 * 1024;

/// The file a subtask edits, as its snapshot has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Its path, relative to the snapshot's root.
    pub path: String,
    /// Its content in the snapshot; `None`: the subtask creates it.
    pub original: Option<String>,
}

impl Target {
    /// Reads `path` from the snapshot unpacked at `root`; `Err` says why it cannot be edited.
    pub fn read(root: &Path, path: &str) -> Result<Target, String> {
        check_snapshot_path(path).map_err(|e| format!("the file {path:?} cannot be edited: {e}"))?;
        let full = root.join(path);
        let metadata = match std::fs::symlink_metadata(&full) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Target { path: path.to_owned(), original: None });
            }
            Err(e) => return Err(format!("cannot read {path} in the snapshot: {e}")),
            Ok(metadata) => metadata,
        };
        if !metadata.is_file() {
            return Err(format!("{path} is not a regular file in the snapshot, so it cannot be edited"));
        }
        if metadata.len() > MAX_TARGET_BYTES {
            return Err(format!(
                "{path} has {} bytes; a subtask edits files of at most {MAX_TARGET_BYTES} bytes (the whole file goes \
                 into the model's prompt): split the file or the job",
                metadata.len()
            ));
        }
        let bytes = std::fs::read(&full).map_err(|e| format!("cannot read {path} in the snapshot: {e}"))?;
        let text = String::from_utf8(bytes).map_err(|_| format!("{path} is not UTF-8 text, so it cannot be edited"))?;
        Ok(Target { path: path.to_owned(), original: Some(text) })
    }

    /// The file's new content from the model's `answer`
    /// ([`edgecoder_executor::extract::edited_content`]).
    pub fn content_from(&self, answer: &str, lang: Lang) -> String {
        edgecoder_executor::extract::edited_content(self.original.as_deref(), answer, lang)
    }

    /// The unified diff of the snapshot that gives this file `content`; `Err` when it changes
    /// nothing.
    pub fn patch(&self, content: &str) -> Result<String, String> {
        if self.original.as_deref() == Some(content) {
            return Err(format!("the answer leaves {} as it is", self.path));
        }
        Ok(crate::patch::file_diff(&self.path, self.original.as_deref(), content))
    }
}

/// Whether `path` holds code of `lang` (by its extension).
fn is_code_of(path: &str, lang: Lang) -> bool {
    let extension = path.rsplit_once('.').map_or("", |(_, e)| e);
    match lang {
        Lang::Python => extension == "py",
        Lang::JavaScript => matches!(extension, "js" | "mjs" | "cjs"),
    }
}

/// The code an earlier subtask's output stands for when it runs before this one: code as it is;
/// a patch (the answer of a subtask that edited a file) as the new content of each code file of
/// `lang` it changes, applied to the snapshot at `root` — except `editing`, the file this
/// subtask edits, which it sees as the snapshot has it (the coordinator merges both patches).
pub fn context_code(output: &str, root: &Path, lang: Lang, editing: Option<&str>) -> String {
    let looks_like_patch = output.starts_with("--- ") || output.starts_with("diff --git ");
    if !looks_like_patch {
        return output.to_owned();
    }
    let mut code = String::new();
    for file in PatchSet::parse(output, ParseOptions::unidiff()) {
        let Ok(file) = file else { return output.to_owned() };
        let Some(patch) = file.patch().as_text() else { continue };
        let path = match file.operation() {
            FileOperation::Modify { modified, .. } => modified.strip_prefix("b/").unwrap_or(modified),
            FileOperation::Create(path) => path.strip_prefix("b/").unwrap_or(path),
            _ => continue,
        };
        if !is_code_of(path, lang) || Some(path) == editing || check_snapshot_path(path).is_err() {
            continue;
        }
        let original = std::fs::read_to_string(root.join(path)).unwrap_or_default();
        if let Ok(changed) = diffy::apply(&original, patch) {
            code.push_str(changed.trim_end());
            code.push('\n');
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_read_from_the_snapshot_and_its_change_becomes_a_patch() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("src")).unwrap();
        std::fs::write(root.path().join("src/calc.py"), "def add(a, b):\n    return a + b\n").unwrap();
        let target = Target::read(root.path(), "src/calc.py").unwrap();
        let patch = target.patch("def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n").unwrap();
        assert!(patch.starts_with("--- a/src/calc.py\n+++ b/src/calc.py\n@@ -1,2 +1,6 @@\n"), "{patch}");
        let parsed = diffy::Patch::from_str(&patch).unwrap();
        assert_eq!(diffy::apply(target.original.as_deref().unwrap(), &parsed).unwrap().matches("def ").count(), 2);
        let unchanged = target.patch(target.original.as_deref().unwrap()).unwrap_err();
        assert!(unchanged.contains("leaves src/calc.py as it is"), "{unchanged}");

        let new = Target::read(root.path(), "text/shout.py").unwrap();
        assert_eq!(new.original, None);
        assert!(new.patch("def shout(s):\n    return s.upper()\n").unwrap().starts_with("--- /dev/null\n+++ b/text/shout.py\n"));
    }

    #[test]
    fn an_answer_with_only_the_new_function_keeps_the_rest_of_the_file() {
        let calc = Target { path: "calc.py".into(), original: Some("import math\n\n\ndef add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n".into()) };
        let content = calc.content_from("def sub(a, b):\n    return a - b\n\n\nassert sub(2, 1) == 1\n", Lang::Python);
        assert_eq!(content, "import math\n\n\ndef add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n\ndef sub(a, b):\n    return a - b\n");
        let changed = calc.content_from("def add(a, b):\n    return b + a\n", Lang::Python);
        assert!(changed.contains("return b + a") && !changed.contains("return a + b") && changed.contains("print(add"), "{changed}");
        let script = Target { path: "calc.js".into(), original: Some("const x = 1;\n".into()) };
        assert_eq!(script.content_from("const y = 2;\n", Lang::JavaScript), "const y = 2;\n");
    }

    #[test]
    fn files_that_cannot_be_edited_are_refused_with_the_reason() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("src")).unwrap();
        std::fs::write(root.path().join("big.py"), "x = 1\n".repeat(6000)).unwrap();
        std::fs::write(root.path().join("blob.py"), [0xff, 0xfe, 0x00]).unwrap();
        for (path, expected) in [
            ("../outside.py", "cannot be edited"),
            ("/etc/passwd", "cannot be edited"),
            ("src", "not a regular file"),
            ("big.py", "at most 32768 bytes"),
            ("blob.py", "not UTF-8"),
        ] {
            let error = Target::read(root.path(), path).unwrap_err();
            assert!(error.contains(expected), "{path}: {error}");
        }
    }

    #[test]
    fn an_earlier_subtasks_patch_runs_as_the_code_it_makes() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("calc.py"), "def add(a, b):\n    return a + b\n").unwrap();
        let calc = Target::read(root.path(), "calc.py").unwrap();
        let patch = calc.patch("def add(a, b):\n    return a + b\n\n\ndef twice(a):\n    return add(a, a)\n").unwrap();
        let notes = Target::read(root.path(), "NOTES.md").unwrap().patch("# notes\n").unwrap();
        let both = format!("{patch}{notes}");
        let code = context_code(&both, root.path(), Lang::Python, None);
        assert_eq!(code, "def add(a, b):\n    return a + b\n\n\ndef twice(a):\n    return add(a, a)\n", "the Markdown file is left out");
        assert_eq!(context_code(&both, root.path(), Lang::Python, Some("calc.py")), "", "the file being edited is left out");
        assert_eq!(context_code("def f():\n    return 1\n", root.path(), Lang::Python, None), "def f():\n    return 1\n");
    }
}
