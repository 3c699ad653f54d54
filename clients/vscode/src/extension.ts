// The extension's entry point: activation wires the connection, the status bar, the sidebar, the
// commands and the inline completion provider. Decisions live in src/core (vscode-free, tested);
// this layer turns VS Code's events into calls and the results into UI.

import * as path from "node:path";
import * as vscode from "vscode";

import { modelList, queueAccept, queueAdd, queueEdit, queueReject, queueResult, queueSend, queueShow } from "./core/cli";
import { type Timeline, emptyTimeline, isFinished, pendingDiff, reduce } from "./core/events";
import { InlineCompleter } from "./core/inline";
import { searchCode } from "./core/mcp";
import { statusView } from "./core/status";
import { type EditorContext, buildTask } from "./core/taskspec";
import { Connection } from "./vscode/connection";
import { InlineProvider } from "./vscode/inline";
import { Proposals, SCHEME, applyDiffToFile } from "./vscode/proposals";
import { Sidebar, VIEW_ID } from "./vscode/sidebar";
import type { ContextKind, FromWebview } from "./webview/protocol";

/** The running task and what the extension needs to apply it. */
interface CurrentTask {
  timeline: Timeline;
  workspace: string | undefined;
  abort: AbortController;
}

let current: CurrentTask | undefined;
let editingReview: { id: string; document: vscode.TextDocument } | undefined;

/** Called by VS Code on start-up: registers everything and starts watching the daemon. */
export function activate(context: vscode.ExtensionContext): void {
  const connection = new Connection();
  const proposals = new Proposals();
  const sidebar = new Sidebar(context.extensionUri, (message) => void onSidebar(message));
  const status = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 100);
  status.command = "edgecoder.statusMenu";
  status.show();
  const completer = new InlineCompleter({
    model: async () => {
      const s = await connection.client().status();
      return s.model ?? (await connection.client().models())[0] ?? "";
    },
    fillInTheMiddle: async (model) => (await connection.client().capabilities(model)).includes("insert"),
    complete: (input, signal) => connection.client().complete(input, signal),
  });

  const fail = (error: unknown): void => {
    const message = (error as Error).message ?? String(error);
    sidebar.post({ type: "error", message });
    const down = (error as { reason?: string }).reason === "not-running" || (error as { kind?: string }).kind === "unreachable";
    void vscode.window.showErrorMessage(`EdgeCoder: ${message}`, ...(down ? ["Start the daemon"] : [])).then((pick) => {
      if (pick) {
        void vscode.commands.executeCommand("edgecoder.startDaemon");
      }
    });
  };

  let warnedDown = false;
  const updateStatus = (): void => {
    const view = statusView({ daemon: connection.daemon, reviews: connection.reviews, task: current?.timeline });
    status.text = view.text;
    status.tooltip = view.tooltip;
    status.backgroundColor =
      view.severity === "error" ? new vscode.ThemeColor("statusBarItem.errorBackground") : view.severity === "warning" ? new vscode.ThemeColor("statusBarItem.warningBackground") : undefined;
    sidebar.post({ type: "status", view });
    sidebar.post({ type: "reviews", entries: connection.reviews });
    if (!connection.daemon.up && !warnedDown) {
      warnedDown = true;
      void vscode.window.showWarningMessage(`EdgeCoder: ${connection.daemon.error}`, "Start the daemon").then((pick) => {
        if (pick) {
          void vscode.commands.executeCommand("edgecoder.startDaemon");
        }
      });
    }
    if (connection.daemon.up) {
      warnedDown = false;
    }
  };

  const editorContext = (kind: ContextKind): EditorContext => {
    const editor = vscode.window.activeTextEditor;
    const file = editor && editor.document.uri.scheme === "file" ? editor.document.uri.fsPath : undefined;
    const folder = (editor && vscode.workspace.getWorkspaceFolder(editor.document.uri)) ?? vscode.workspace.workspaceFolders?.[0];
    const ctx: EditorContext = { kind };
    if (file) {
      ctx.file = file;
    }
    if (folder) {
      ctx.workspaceRoot = folder.uri.fsPath;
    }
    if (editor && !editor.selection.isEmpty) {
      ctx.selection = { text: editor.document.getText(editor.selection), startLine: editor.selection.start.line + 1, endLine: editor.selection.end.line + 1 };
    }
    return ctx;
  };

  const showTaskDiff = async (): Promise<void> => {
    const task = current;
    const pending = task && pendingDiff(task.timeline);
    if (!task || !pending || !task.workspace || !task.timeline.report?.code) {
      void vscode.window.showInformationMessage("EdgeCoder: there is no change waiting to be applied");
      return;
    }
    const file = vscode.Uri.file(path.join(task.workspace, pending.target));
    await proposals.showDiff(file, task.timeline.report.code, { kind: "task", taskId: task.timeline.taskId }, `EdgeCoder: ${pending.target} ↔ proposed`);
  };

  const runTask = async (text: string, kind: ContextKind): Promise<void> => {
    if (current && !isFinished(current.timeline)) {
      void vscode.window.showWarningMessage("EdgeCoder: a task is already running — cancel it first");
      return;
    }
    let body;
    try {
      body = buildTask(text, editorContext(kind), connection.settings);
    } catch (error) {
      fail(error);
      return;
    }
    const abort = new AbortController();
    const task: CurrentTask = { timeline: emptyTimeline("", body.task), workspace: body.workspace, abort };
    current = task;
    void vscode.commands.executeCommand("setContext", "edgecoder.hasProposal", false);
    await sidebar.reveal();
    try {
      const client = connection.client();
      const id = await client.createTask(body);
      task.timeline = emptyTimeline(id, body.task);
      sidebar.post({ type: "task", timeline: task.timeline });
      abort.signal.addEventListener("abort", () => void client.cancel(id).catch(fail), { once: true });
      for await (const event of client.taskEvents(id)) {
        reduce(task.timeline, event);
        sidebar.post({ type: "event", event });
        if (event.event === "transition" || event.event === "finished" || event.event === "started") {
          updateStatus();
        }
      }
    } catch (error) {
      if (current === task && !isFinished(task.timeline)) {
        current = undefined;
      }
      fail(error);
      return;
    } finally {
      updateStatus();
    }
    const pending = pendingDiff(task.timeline);
    const report = task.timeline.report;
    if (pending) {
      void vscode.commands.executeCommand("setContext", "edgecoder.hasProposal", true);
      if (connection.settings.openDiffOnFinish) {
        await showTaskDiff();
      }
      const pick = await vscode.window.showInformationMessage(`EdgeCoder: the tests pass — apply the change to ${pending.target}?`, "Apply", "Show diff", "Reject");
      if (pick === "Apply") {
        await applyTask();
      } else if (pick === "Show diff") {
        await showTaskDiff();
      } else if (pick === "Reject") {
        await rejectTask();
      }
    } else if (report?.state === "queued_for_cloud") {
      const id = report.queue_id;
      const pick = await vscode.window.showWarningMessage(`EdgeCoder: ${report.message}`, ...(id ? ["Send for cloud review"] : []));
      if (pick && id) {
        await sendReview(id);
      }
    } else if (report) {
      void vscode.window.showInformationMessage(`EdgeCoder: ${report.message}`);
    }
  };

  const applyTask = async (): Promise<void> => {
    const task = current;
    const pending = task && pendingDiff(task.timeline);
    if (!task || !pending || !task.workspace) {
      void vscode.window.showInformationMessage("EdgeCoder: there is no change waiting to be applied");
      return;
    }
    const file = vscode.Uri.file(path.join(task.workspace, pending.target));
    try {
      await applyDiffToFile(file, pending.diff);
    } catch (error) {
      fail(error);
      return;
    }
    const decision = { kind: "applied" as const, files: [pending.target], backups: [], by: "editor" as const };
    task.timeline.decision = decision;
    sidebar.post({ type: "decision", decision });
    proposals.forget({ kind: "task", taskId: task.timeline.taskId });
    void vscode.commands.executeCommand("setContext", "edgecoder.hasProposal", false);
    await vscode.window.showTextDocument(file);
    void vscode.window.showInformationMessage(`EdgeCoder: applied to ${pending.target} — unsaved; Undo reverts it`);
  };

  const rejectTask = async (): Promise<void> => {
    const task = current;
    if (!task || !pendingDiff(task.timeline)) {
      return;
    }
    try {
      const event = await connection.client().reject(task.timeline.taskId);
      reduce(task.timeline, event);
      sidebar.post({ type: "event", event });
    } catch (error) {
      fail(error);
      return;
    }
    proposals.forget({ kind: "task", taskId: task.timeline.taskId });
    void vscode.commands.executeCommand("setContext", "edgecoder.hasProposal", false);
    await vscode.commands.executeCommand("workbench.action.closeActiveEditor");
  };

  const sendReview = async (id: string): Promise<void> => {
    const consent = await vscode.window.showWarningMessage(
      `Send queue entry ${id} to the cloud-review server? Only the task, the code, the error and the file name leave the device, with secrets removed (\`edgecoder queue show ${id}\` prints the exact payload).`,
      { modal: true },
      "Send",
    );
    if (consent !== "Send") {
      return;
    }
    try {
      await queueSend(connection.cli(), id);
      void vscode.window.showInformationMessage(`EdgeCoder: ${id} was sent for cloud review; the result shows up here when it comes back`);
    } catch (error) {
      fail(error);
    }
  };

  const openReview = async (id: string): Promise<void> => {
    try {
      const cli = connection.cli();
      const [result, entry] = await Promise.all([queueResult(cli, id), queueShow(cli, id)]);
      sidebar.post({ type: "review-result", id, result });
      await sidebar.reveal();
      if (entry.workspace && entry.file) {
        const proposed = result.proposal.conflict?.merged ?? result.proposal.code;
        await proposals.showDiff(vscode.Uri.file(path.join(entry.workspace, entry.file)), proposed, { kind: "review", id }, `EdgeCoder cloud review: ${entry.file} ↔ proposed`);
      }
    } catch (error) {
      fail(error);
    }
  };

  const acceptReview = async (id: string): Promise<void> => {
    try {
      const written = await queueAccept(connection.cli(), id);
      proposals.forget({ kind: "review", id });
      void vscode.window.showInformationMessage(`EdgeCoder: accepted ${id}: wrote ${written.file}${written.backup ? ` (previous content in ${written.backup})` : ""}`);
    } catch (error) {
      fail(error);
    }
  };

  const rejectReview = async (id: string): Promise<void> => {
    try {
      await queueReject(connection.cli(), id);
      proposals.forget({ kind: "review", id });
      void vscode.window.showInformationMessage(`EdgeCoder: rejected ${id}; nothing was written`);
    } catch (error) {
      fail(error);
    }
  };

  const editReview = async (id: string): Promise<void> => {
    try {
      const cli = connection.cli();
      const [result, entry] = await Promise.all([queueResult(cli, id), queueShow(cli, id)]);
      const language = entry.file?.endsWith(".js") ? "javascript" : "python";
      const document = await vscode.workspace.openTextDocument({ content: result.proposal.conflict?.merged ?? result.proposal.code, language });
      editingReview = { id, document };
      void vscode.commands.executeCommand("setContext", "edgecoder.editingReview", true);
      await vscode.window.showTextDocument(document);
      void vscode.window.showInformationMessage(`EdgeCoder: edit the proposal for ${entry.file ?? id}, then press "Accept edited review" in the editor's title bar`);
    } catch (error) {
      fail(error);
    }
  };

  const acceptEditedReview = async (): Promise<void> => {
    const editing = editingReview;
    if (!editing) {
      return;
    }
    try {
      const written = await queueEdit(connection.cli(), editing.id, editing.document.getText());
      editingReview = undefined;
      void vscode.commands.executeCommand("setContext", "edgecoder.editingReview", false);
      void vscode.window.showInformationMessage(`EdgeCoder: accepted your edit of ${editing.id}: wrote ${written.file}`);
    } catch (error) {
      fail(error);
    }
  };

  const onSidebar = async (message: FromWebview): Promise<void> => {
    switch (message.type) {
      case "run":
        await runTask(message.task, message.context);
        break;
      case "cancel":
        current?.abort.abort();
        break;
      case "show-diff":
        await showTaskDiff();
        break;
      case "apply":
        await applyTask();
        break;
      case "reject":
        await rejectTask();
        break;
      case "review-open":
        await openReview(message.id);
        break;
      case "review-send":
        await sendReview(message.id);
        break;
      case "review-accept":
        await acceptReview(message.id);
        break;
      case "review-reject":
        await rejectReview(message.id);
        break;
      case "review-edit":
        await editReview(message.id);
        break;
      case "ready":
        break;
    }
  };

  const proposalOwner = () => {
    const uri = vscode.window.activeTextEditor?.document.uri;
    return uri && uri.scheme === SCHEME ? proposals.owner(uri) : undefined;
  };

  context.subscriptions.push(
    connection,
    proposals,
    status,
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, proposals),
    vscode.window.registerWebviewViewProvider(VIEW_ID, sidebar, { webviewOptions: { retainContextWhenHidden: true } }),
    vscode.languages.registerInlineCompletionItemProvider({ pattern: "**" }, new InlineProvider(connection, completer)),
    connection.onDidChange(updateStatus),
    connection.onReviewDone((done) => {
      const text = done.failed ? `the cloud review of "${done.task}" failed: ${done.error ?? "see the queue"}` : `a cloud review came back: "${done.task}"`;
      void vscode.window.showInformationMessage(`EdgeCoder: ${text}`, ...(done.failed ? [] : ["Show result"])).then((pick) => {
        if (pick) {
          void openReview(done.id);
        }
      });
    }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (e.affectsConfiguration("edgecoder")) {
        connection.reload();
        completer.reset();
      }
    }),
    vscode.commands.registerCommand("edgecoder.planAndCode", async () => {
      const editor = vscode.window.activeTextEditor;
      const options: (vscode.QuickPickItem & { kind2: ContextKind })[] = [];
      if (editor && !editor.selection.isEmpty) {
        options.push({ label: "$(selection) The selection", kind2: "selection" });
      }
      if (editor && editor.document.uri.scheme === "file") {
        options.push({ label: `$(file) The current file (${path.basename(editor.document.uri.fsPath)})`, kind2: "file" });
      }
      if (vscode.workspace.workspaceFolders?.length) {
        options.push({ label: "$(folder) The workspace", kind2: "workspace" });
      }
      if (options.length === 0) {
        fail(new Error("open a file or a folder first: the agent needs a file or a workspace to work in"));
        return;
      }
      const picked = options.length === 1 ? options[0] : await vscode.window.showQuickPick(options, { placeHolder: "Context for the task" });
      if (!picked) {
        return;
      }
      const text = await vscode.window.showInputBox({ prompt: "What should the code do?", placeHolder: "e.g. fix add() so the tests pass", ignoreFocusOut: true });
      if (text) {
        await runTask(text, picked.kind2);
      }
    }),
    vscode.commands.registerCommand("edgecoder.queueForCloud", async () => {
      const ctx = editorContext("file");
      if (!ctx.file) {
        fail(new Error("open the .py or .js file to send for cloud review first"));
        return;
      }
      const root = ctx.workspaceRoot ?? path.dirname(ctx.file);
      const task = await vscode.window.showInputBox({ prompt: "What should the reviewer do with this file?", ignoreFocusOut: true });
      if (!task) {
        return;
      }
      try {
        const entry = await queueAdd(connection.cli(), task, root, path.relative(root, ctx.file));
        void connection.refresh();
        const pick = await vscode.window.showInformationMessage(`EdgeCoder: queued ${entry.id}; it stays on this device until you send it.`, "Send now", "Keep on this device");
        if (pick === "Send now") {
          await sendReview(entry.id);
        }
      } catch (error) {
        fail(error);
      }
    }),
    vscode.commands.registerCommand("edgecoder.showQueue", async () => {
      let entries = connection.reviews;
      try {
        entries = await connection.client().reviews();
      } catch (error) {
        fail(error);
        return;
      }
      if (entries.length === 0) {
        void vscode.window.showInformationMessage("EdgeCoder: the cloud-review queue is empty — everything ran locally");
        return;
      }
      const picked = await vscode.window.showQuickPick(
        entries.map((e) => ({ label: e.task, description: `${e.stage}${e.file ? ` · ${e.file}` : ""}`, detail: `${e.id} · ${e.created}${e.last_error ? ` · ${e.last_error}` : ""}`, entry: e })),
        { placeHolder: "The cloud-review queue (nothing leaves the device until you send it)" },
      );
      if (!picked) {
        return;
      }
      if (picked.entry.stage === "answered") {
        await openReview(picked.entry.id);
      } else if (picked.entry.stage === "held" || picked.entry.stage === "failed") {
        await sendReview(picked.entry.id);
      } else {
        await sidebar.reveal();
      }
    }),
    vscode.commands.registerCommand("edgecoder.switchModel", async () => {
      let ids: string[];
      try {
        ids = (await modelList(connection.cli())).filter((m) => m.installed).map((m) => m.id);
      } catch (error) {
        fail(error);
        return;
      }
      if (ids.length === 0) {
        fail(new Error("no model is installed: run `edgecoder model pull MODEL` (e.g. qwen2.5-coder-0.5b)"));
        return;
      }
      const loaded = connection.daemon.up ? connection.daemon.status.model : null;
      const picked = await vscode.window.showQuickPick(
        ids.map((id) => ({ label: id, description: id === loaded ? "loaded" : "" })),
        { placeHolder: "The model the daemon loads (requests in flight finish on the previous one)" },
      );
      if (!picked) {
        return;
      }
      try {
        await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `EdgeCoder: loading ${picked.label}…` }, () => connection.client().loadModel(picked.label));
        completer.reset();
        await connection.refresh();
      } catch (error) {
        fail(error);
      }
    }),
    vscode.commands.registerCommand("edgecoder.switchProvider", async () => {
      if (!connection.daemon.up) {
        fail(new Error(connection.daemon.error));
        return;
      }
      const picked = await vscode.window.showQuickPick(
        connection.daemon.status.providers.map((p) => ({ label: p.name, description: `${p.active ? "active · " : ""}${p.ok ? "healthy" : "down"}`, detail: p.detail })),
        { placeHolder: "The provider that answers new requests" },
      );
      if (!picked) {
        return;
      }
      try {
        await connection.client().useProvider(picked.label);
        completer.reset();
        await connection.refresh();
      } catch (error) {
        fail(error);
      }
    }),
    vscode.commands.registerCommand("edgecoder.searchCode", async () => {
      const folder = vscode.workspace.workspaceFolders?.[0];
      if (!folder) {
        fail(new Error("open a folder first: search looks through a workspace's code"));
        return;
      }
      const query = await vscode.window.showInputBox({ prompt: "Search the workspace's code (words or identifiers)" });
      if (!query) {
        return;
      }
      try {
        const found = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: "EdgeCoder: searching…" }, () =>
          searchCode(connection.client().transport, folder.uri.fsPath, query),
        );
        const picked = await vscode.window.showQuickPick(
          found.hits.map((hit) => ({
            label: hit.name || hit.path,
            description: `${hit.path}:${hit.start_line} · ${hit.kind}`,
            detail: hit.text.split("\n").find((l) => l.trim() !== "")?.trim() ?? "",
            hit,
          })),
          { placeHolder: `${found.hits.length} results (${found.mode})${found.notes.length ? ` — ${found.notes.join("; ")}` : ""}`, matchOnDescription: true, matchOnDetail: true },
        );
        if (picked) {
          const document = await vscode.workspace.openTextDocument(vscode.Uri.file(path.join(folder.uri.fsPath, picked.hit.path)));
          const line = Math.max(0, picked.hit.start_line - 1);
          await vscode.window.showTextDocument(document, { selection: new vscode.Range(line, 0, line, 0) });
        }
      } catch (error) {
        fail(error);
      }
    }),
    vscode.commands.registerCommand("edgecoder.startDaemon", async () => {
      const pick = await vscode.window.showInformationMessage(
        "The EdgeCoder daemon is started with `edgecoder serve` (foreground) or, when installed as a service, `systemctl --user start edgecoderd` (the Debian package's system service: `sudo systemctl start edgecoderd`).",
        "Run `edgecoder serve` in a terminal",
        "Run `systemctl --user start edgecoderd`",
      );
      if (!pick) {
        return;
      }
      const terminal = vscode.window.createTerminal({ name: "edgecoderd" });
      terminal.show();
      terminal.sendText(pick.includes("systemctl") ? "systemctl --user start edgecoderd" : `${JSON.stringify(connection.settings.cliPath)} serve`);
      setTimeout(() => void connection.refresh(), 3000);
    }),
    vscode.commands.registerCommand("edgecoder.applyProposal", async () => {
      const owner = proposalOwner();
      if (owner?.kind === "review") {
        await acceptReview(owner.id);
      } else {
        await applyTask();
      }
    }),
    vscode.commands.registerCommand("edgecoder.rejectProposal", async () => {
      const owner = proposalOwner();
      if (owner?.kind === "review") {
        await rejectReview(owner.id);
      } else {
        await rejectTask();
      }
    }),
    vscode.commands.registerCommand("edgecoder.acceptEditedReview", acceptEditedReview),
    vscode.commands.registerCommand("edgecoder.statusMenu", async () => {
      const actions: { label: string; command: string }[] = [
        { label: "$(sparkle) Plan & code", command: "edgecoder.planAndCode" },
        { label: "$(cloud-upload) Show the cloud-review queue", command: "edgecoder.showQueue" },
        { label: "$(symbol-class) Switch model", command: "edgecoder.switchModel" },
        { label: "$(server-process) Switch provider", command: "edgecoder.switchProvider" },
        { label: "$(search) Search code", command: "edgecoder.searchCode" },
      ];
      if (!connection.daemon.up) {
        actions.unshift({ label: "$(play) Start the daemon", command: "edgecoder.startDaemon" });
      }
      const picked = await vscode.window.showQuickPick(actions, { placeHolder: status.tooltip?.toString() ?? "EdgeCoder" });
      if (picked) {
        await vscode.commands.executeCommand(picked.command);
      }
    }),
  );
  connection.start();
  updateStatus();
}

/** Called by VS Code on shutdown: a running task is cancelled on the daemon. */
export function deactivate(): void {
  current?.abort.abort();
}
