// The sidebar's webview view: the page from src/webview/html.ts (strict CSP, scripts only from
// the extension's dist/ by nonce), messages to it, and the user's clicks back to the extension.

import * as vscode from "vscode";

import { makeNonce, sidebarHtml } from "../webview/html";
import type { FromWebview, ToWebview } from "../webview/protocol";

/** The view's id in package.json. */
export const VIEW_ID = "edgecoder.sidebar";

/** The sidebar: holds the last message of each kind so a re-opened view shows the same state. */
export class Sidebar implements vscode.WebviewViewProvider {
  private view: vscode.WebviewView | undefined;
  private readonly extensionUri: vscode.Uri;
  private readonly onMessage: (message: FromWebview) => void;
  private readonly latest = new Map<string, ToWebview>();
  private events: ToWebview[] = [];

  /** A sidebar serving files from `extensionUri`, passing clicks to `onMessage`. */
  constructor(extensionUri: vscode.Uri, onMessage: (message: FromWebview) => void) {
    this.extensionUri = extensionUri;
    this.onMessage = onMessage;
  }

  /** Called by VS Code when the view is shown. */
  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const webview = view.webview;
    const dist = vscode.Uri.joinPath(this.extensionUri, "dist");
    const media = vscode.Uri.joinPath(this.extensionUri, "media");
    webview.options = { enableScripts: true, enableForms: false, localResourceRoots: [dist, media] };
    webview.html = sidebarHtml({
      cspSource: webview.cspSource,
      nonce: makeNonce(),
      scriptUri: webview.asWebviewUri(vscode.Uri.joinPath(dist, "webview.js")).toString(),
      styleUri: webview.asWebviewUri(vscode.Uri.joinPath(media, "webview.css")).toString(),
    });
    webview.onDidReceiveMessage((message: FromWebview) => {
      if (message.type === "ready") {
        this.replay();
      } else {
        this.onMessage(message);
      }
    });
    view.onDidDispose(() => {
      this.view = undefined;
    });
  }

  private replay(): void {
    for (const message of this.latest.values()) {
      void this.view?.webview.postMessage(message);
    }
    for (const message of this.events) {
      void this.view?.webview.postMessage(message);
    }
  }

  /** Sends a message; the last of each kind (and a task's events since its start) is replayed to a re-opened view. */
  post(message: ToWebview): void {
    if (message.type === "task") {
      this.events = [];
      this.latest.set("task", { type: "task", timeline: structuredClone(message.timeline) });
      void this.view?.webview.postMessage(message);
      return;
    }
    if (message.type === "event" || message.type === "decision") {
      this.events.push(message);
    } else if (message.type === "review-result") {
      this.latest.set(`review-result:${message.id}`, message);
    } else {
      this.latest.set(message.type, message);
    }
    void this.view?.webview.postMessage(message);
  }

  /** Shows the sidebar. */
  async reveal(): Promise<void> {
    await vscode.commands.executeCommand(`${VIEW_ID}.focus`);
  }
}
