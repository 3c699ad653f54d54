//! What a caller asks of the agent, before it is checked: the task text, its language, and in
//! workspace mode the folder, the file and the tests. [`TaskSpec::task`] checks it (every path
//! inside the workspace, the test file found beside the target) and makes the [`Task`]; the
//! `edgecoder code` command and the daemon's `POST /agent/tasks` share it.

use super::events::{TestSuite, TestsOrigin};
use super::machine::{Target, Task, TestsInput};
use super::workspace::{Workspace, WorkspaceError, strip_local_imports};
use edgecoder_executor::Lang;
use std::path::PathBuf;

/// A task as a caller describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskSpec {
    /// What the code should do.
    pub text: String,
    /// The language; default: from `file`, else Python.
    pub lang: Option<Lang>,
    /// Workspace mode: the folder whose file the agent edits.
    pub workspace: Option<PathBuf>,
    /// The file to edit or create, relative to the workspace (default: the file the task names,
    /// or the workspace's only source file).
    pub file: Option<String>,
    /// Test source that decides success (default: the test file beside the target in workspace
    /// mode, else the tests in the task, else model-written ones).
    pub tests: Option<String>,
}

impl TaskSpec {
    /// Checks the spec and makes the task; nothing is written.
    pub fn task(&self) -> Result<Task, WorkspaceError> {
        let from_file = self.file.as_deref().and_then(Lang::from_path);
        let mut task = Task::new(self.text.clone(), self.lang.or(from_file).unwrap_or(Lang::Python));
        if let Some(dir) = &self.workspace {
            let workspace = Workspace::open(dir)?;
            let path = workspace.pick_target(&self.text, task.lang, self.file.as_deref())?;
            if self.lang.is_none() {
                task.lang = Lang::from_path(&path).unwrap_or(task.lang);
            }
            let before = workspace.read(&path)?;
            if self.tests.is_none()
                && let Some(found) = workspace.tests_for(&path)
            {
                let text = workspace.read(&found)?.unwrap_or_default();
                task.tests = TestsInput::Given(TestSuite { source: strip_local_imports(&text, &path), origin: TestsOrigin::UserFile });
            }
            task.target = Some(Target { workspace, path, before });
        }
        if let Some(text) = &self.tests {
            let source = match &task.target {
                Some(target) => strip_local_imports(text, &target.path),
                None => text.clone(),
            };
            task.tests = TestsInput::Given(TestSuite { source, origin: TestsOrigin::UserFile });
        }
        Ok(task)
    }
}
