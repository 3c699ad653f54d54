// The inline completion provider: off unless `edgecoder.inlineCompletion.enabled` is set; each
// request goes through the core's debounced completer, and VS Code's CancellationToken aborts
// both the debounce and the HTTP request (an AbortController per request).

import * as vscode from "vscode";

import type { InlineCompleter } from "../core/inline";
import type { Connection } from "./connection";

/** Ghost-text completions from the daemon's `/v1/completions`. */
export class InlineProvider implements vscode.InlineCompletionItemProvider {
  private readonly connection: Connection;
  private readonly completer: InlineCompleter;

  /** A provider reading settings from `connection` and asking `completer`. */
  constructor(connection: Connection, completer: InlineCompleter) {
    this.connection = connection;
    this.completer = completer;
  }

  /** Called by VS Code as the user types. */
  async provideInlineCompletionItems(
    document: vscode.TextDocument,
    position: vscode.Position,
    _context: vscode.InlineCompletionContext,
    token: vscode.CancellationToken,
  ): Promise<vscode.InlineCompletionItem[]> {
    const settings = this.connection.settings.inline;
    if (!settings.enabled || !this.connection.daemon.up || token.isCancellationRequested) {
      return [];
    }
    const abort = new AbortController();
    const listener = token.onCancellationRequested(() => abort.abort());
    try {
      const offset = document.offsetAt(position);
      const text = document.getText();
      const completion = await this.completer.complete(text.slice(0, offset), text.slice(offset), settings, abort.signal);
      if (!completion || token.isCancellationRequested) {
        return [];
      }
      return [new vscode.InlineCompletionItem(completion, new vscode.Range(position, position))];
    } catch (error) {
      console.warn(`EdgeCoder inline completion failed: ${(error as Error).message}`);
      return [];
    } finally {
      listener.dispose();
    }
  }
}
