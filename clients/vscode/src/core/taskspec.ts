// The `POST /agent/tasks` body for "Plan & code" with the selection, the current file or the
// workspace as context (the daemon's NewTask, daemon/src/api/agent.rs).

import * as path from "node:path";

import type { NewTask } from "./client";
import type { Settings } from "./settings";

/** What the editor knows when the user asks for a task. */
export interface EditorContext {
  /** `selection`, `file` or `workspace`. */
  kind: "selection" | "file" | "workspace";
  /** The workspace folder holding the file (absolute), if any. */
  workspaceRoot?: string;
  /** The active file (absolute), if any. */
  file?: string;
  /** The selected text and its 1-based lines. */
  selection?: { text: string; startLine: number; endLine: number };
}

/** The language the daemon runs for a file name (`py`, `js`), if it is one. */
export function langOf(file: string): "py" | "js" | undefined {
  const ext = path.extname(file).toLowerCase();
  if (ext === ".py") {
    return "py";
  }
  if ([".js", ".mjs", ".cjs"].includes(ext)) {
    return "js";
  }
  return undefined;
}

/**
 * The task body: workspace mode with the file (selection and file context; a file outside every
 * workspace folder uses its own folder), or the workspace alone (the daemon picks the file the
 * task names); the selection is quoted into the task text. Throws with what to do when the
 * context is missing.
 */
export function buildTask(text: string, context: EditorContext, settings: Settings): NewTask {
  const task = text.trim();
  if (task === "") {
    throw new Error("the task is empty: say what the code should do");
  }
  const body: NewTask = { task, max_iterations: settings.maxIterations, plan: settings.plan };
  if (context.kind === "workspace") {
    const root = context.workspaceRoot ?? (context.file ? path.dirname(context.file) : undefined);
    if (!root) {
      throw new Error("no workspace folder is open: open a folder, or choose the current file as context");
    }
    body.workspace = root;
    return body;
  }
  if (!context.file) {
    throw new Error("no file is open: open the file to change, or choose the workspace as context");
  }
  const root = context.workspaceRoot && !path.relative(context.workspaceRoot, context.file).startsWith("..") ? context.workspaceRoot : path.dirname(context.file);
  body.workspace = root;
  body.file = path.relative(root, context.file).split(path.sep).join("/");
  const lang = langOf(context.file);
  if (lang) {
    body.lang = lang;
  }
  if (context.kind === "selection") {
    const sel = context.selection;
    if (!sel || sel.text.trim() === "") {
      throw new Error("nothing is selected: select the code the task is about, or choose the current file as context");
    }
    body.task = `${task}\n\nThe task is about lines ${sel.startLine}-${sel.endLine} of ${body.file}:\n\`\`\`\n${sel.text.replace(/\n$/, "")}\n\`\`\``;
  }
  return body;
}
