// The extension's link to the daemon: settings, discovery, the client, a status poll and the
// cloud-review stream (reconnected while the daemon restarts). Everything it decides is in the
// vscode-free core; this file only wires it to VS Code's events.

import * as vscode from "vscode";

import type { Cli } from "../core/cli";
import { DaemonClient, type DaemonStatus, type ReviewEntry } from "../core/client";
import { describeEndpoint, discover } from "../core/discovery";
import { Transport } from "../core/http";
import { type Settings, readSettings } from "../core/settings";

/** The daemon as last seen. */
export type DaemonState = { up: true; status: DaemonStatus; where: string } | { up: false; error: string };

/** The link to the daemon, shared by every command and view. */
export class Connection implements vscode.Disposable {
  /** The settings now. */
  settings: Settings;
  /** The daemon as last seen. */
  daemon: DaemonState = { up: false, error: "connecting to the daemon…" };
  /** The cloud-review queue as last streamed. */
  reviews: ReviewEntry[] = [];
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the daemon's state or the review queue changes. */
  readonly onDidChange = this.changed.event;
  private readonly answered = new vscode.EventEmitter<{ id: string; task: string; failed: boolean; error: string | null }>();
  /** Fires when a cloud review comes back (or fails). */
  readonly onReviewDone = this.answered.event;
  private timer: NodeJS.Timeout | undefined;
  private streamAbort: AbortController | undefined;
  private disposed = false;
  private problemsShown = "";

  /** A connection reading `edgecoder.*` settings. */
  constructor() {
    this.settings = this.read();
  }

  private read(): Settings {
    const config = vscode.workspace.getConfiguration("edgecoder");
    const { settings, problems } = readSettings((key) => config.get(key));
    const text = problems.join("\n");
    if (text !== "" && text !== this.problemsShown) {
      void vscode.window.showWarningMessage(`EdgeCoder settings: ${text}`);
    }
    this.problemsShown = text;
    return settings;
  }

  /** Starts the status poll and the review stream. */
  start(): void {
    void this.refresh();
    this.followReviews();
  }

  /** Re-reads the settings (after a change) and reconnects. */
  reload(): void {
    this.settings = this.read();
    this.streamAbort?.abort();
    void this.refresh();
  }

  /** A client for the daemon now; throws with what to do when it cannot be found. */
  client(): DaemonClient {
    const found = discover(this.settings);
    return new DaemonClient(new Transport(found.endpoint, found.token));
  }

  /** How to run the `edgecoder` CLI, with the daemon's config so both read the same file. */
  cli(): Cli {
    const env: Record<string, string> = {};
    if (this.settings.configFile !== "") {
      env.EDGECODER_CONFIG = this.settings.configFile;
    }
    return { path: this.settings.cliPath, env };
  }

  /** Checks the daemon now and schedules the next check. */
  async refresh(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
    }
    try {
      const client = this.client();
      const status = await client.status();
      this.daemon = { up: true, status, where: describeEndpoint(client.transport.endpoint) };
    } catch (error) {
      this.daemon = { up: false, error: (error as Error).message };
    }
    this.changed.fire();
    if (!this.disposed) {
      this.timer = setTimeout(() => void this.refresh(), this.settings.statusIntervalSecs * 1000);
    }
  }

  private followReviews(): void {
    const loop = async (): Promise<void> => {
      while (!this.disposed) {
        const abort = new AbortController();
        this.streamAbort = abort;
        try {
          for await (const event of this.client().reviewUpdates(abort.signal, this.settings.statusIntervalSecs * 1000)) {
            if (event.kind === "reviews") {
              this.reviews = event.entries;
              this.changed.fire();
            } else {
              this.answered.fire({ id: event.id, task: event.task, failed: event.kind === "failed", error: event.last_error });
            }
          }
        } catch {
          // The daemon is down or restarting: the status poll reports it; try again shortly.
        }
        await new Promise((resolve) => setTimeout(resolve, this.settings.statusIntervalSecs * 1000));
      }
    };
    void loop();
  }

  /** Stops the poll and the stream. */
  dispose(): void {
    this.disposed = true;
    if (this.timer) {
      clearTimeout(this.timer);
    }
    this.streamAbort?.abort();
    this.changed.dispose();
    this.answered.dispose();
  }
}
