// Proposed file contents as read-only virtual documents (`edgecoder-proposal:`), shown in VS
// Code's own diff editor against the file on disk, and applied through a `WorkspaceEdit` built
// from the core's diff logic, so the change is one undoable step in the editor.

import * as path from "node:path";
import * as vscode from "vscode";

import { type TextEdit, editsFor, parseUnifiedDiff } from "../core/diff";

/** The URI scheme of proposals. */
export const SCHEME = "edgecoder-proposal";

/** What a proposal belongs to: the sidebar's task, or a cloud-review entry. */
export type ProposalOwner = { kind: "task"; taskId: string } | { kind: "review"; id: string };

/** The virtual documents holding proposed contents. */
export class Proposals implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly contents = new Map<string, { text: string; owner: ProposalOwner }>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  /** Fires when a proposal's text is replaced. */
  readonly onDidChange = this.changed.event;
  private counter = 0;

  /** The text of a proposal document. */
  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString())?.text ?? "";
  }

  /** Who owns the proposal shown at `uri`, if it is one. */
  owner(uri: vscode.Uri): ProposalOwner | undefined {
    return this.contents.get(uri.toString())?.owner;
  }

  /** Opens VS Code's diff editor: `file` as it is now against `proposed`. */
  async showDiff(file: vscode.Uri, proposed: string, owner: ProposalOwner, title: string): Promise<void> {
    const uri = vscode.Uri.from({ scheme: SCHEME, path: `/${this.counter++}/${path.basename(file.fsPath)}` });
    this.contents.set(uri.toString(), { text: proposed, owner });
    this.changed.fire(uri);
    let left = file;
    try {
      await vscode.workspace.fs.stat(file);
    } catch {
      // A new file: compare with an empty proposal document.
      left = vscode.Uri.from({ scheme: SCHEME, path: `/${this.counter++}/empty` });
      this.contents.set(left.toString(), { text: "", owner });
    }
    await vscode.commands.executeCommand("vscode.diff", left, uri, title, { preview: true });
  }

  /** Forgets the proposals of `owner`. */
  forget(owner: ProposalOwner): void {
    for (const [key, value] of this.contents) {
      if (JSON.stringify(value.owner) === JSON.stringify(owner)) {
        this.contents.delete(key);
      }
    }
  }

  /** Stops the provider. */
  dispose(): void {
    this.changed.dispose();
  }
}

/**
 * Applies a unified diff to `file` through a `WorkspaceEdit` (one undoable step; the document
 * is left unsaved for the user to check). A file that changed so the diff no longer matches is
 * refused with the reason. Answers the edits made.
 */
export async function applyDiffToFile(file: vscode.Uri, diff: string): Promise<TextEdit[]> {
  const parsed = parseUnifiedDiff(diff);
  const edit = new vscode.WorkspaceEdit();
  let edits: TextEdit[];
  if (parsed.oldPath === null) {
    let exists = true;
    try {
      await vscode.workspace.fs.stat(file);
    } catch {
      exists = false;
    }
    if (!exists) {
      edits = editsFor("", parsed);
      edit.createFile(file, { ignoreIfExists: false });
      edit.insert(file, new vscode.Position(0, 0), edits.map((e) => e.text).join(""));
      if (!(await vscode.workspace.applyEdit(edit))) {
        throw new Error(`VS Code refused to create ${file.fsPath}`);
      }
      return edits;
    }
  }
  const document = await vscode.workspace.openTextDocument(file);
  edits = editsFor(document.getText(), parsed);
  for (const e of edits) {
    edit.replace(file, new vscode.Range(document.positionAt(e.start), document.positionAt(e.end)), e.text);
  }
  if (!(await vscode.workspace.applyEdit(edit))) {
    throw new Error(`VS Code refused the edit of ${file.fsPath} (is it read-only?)`);
  }
  return edits;
}
