// What the daemon's HTTP API does not offer goes through the `edgecoder` CLI (daemon/src/cli):
// queueing a file for cloud review, sending it, a review's result and the Accept / Edit / Reject
// decision (daemon/src/cli/queue.rs, daemon/src/handshake/decide.rs), and the installed models.

import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** Why a CLI call failed; `message` says what to do. */
export class CliError extends Error {
  /** The exit code, when the CLI ran. */
  readonly exitCode: number | null;

  /** An error with the CLI's own message. */
  constructor(message: string, exitCode: number | null) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

/** How to run the CLI: its path and extra environment (e.g. `EDGECODER_QUEUE`, `EDGECODER_CONFIG`). */
export interface Cli {
  /** The `edgecoder` program (a path, or a name looked up on PATH). */
  path: string;
  /** Variables added to the extension's environment. */
  env?: Record<string, string>;
  /** Gives up after this many milliseconds (default 120 s). */
  timeoutMs?: number;
}

/** Runs `edgecoder ARGS` and answers its stdout; a non-zero exit throws with its stderr. */
export function runCli(cli: Cli, args: string[], extraEnv: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      cli.path,
      args,
      { env: { ...process.env, ...(cli.env ?? {}), ...extraEnv }, timeout: cli.timeoutMs ?? 120_000, maxBuffer: 32 << 20 },
      (error, stdout, stderr) => {
        if (!error) {
          resolve(stdout);
          return;
        }
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT") {
          reject(new CliError(`the edgecoder CLI was not found (${cli.path}): install EdgeCoder or set edgecoder.cliPath to the \`edgecoder\` program`, null));
          return;
        }
        const said = stderr.trim() || stdout.trim() || error.message;
        reject(new CliError(`\`edgecoder ${args.join(" ")}\` failed: ${said}`, typeof error.code === "number" ? error.code : null));
      },
    );
  });
}

function parse<T>(args: string[], stdout: string): T {
  try {
    return JSON.parse(stdout) as T;
  } catch {
    throw new CliError(`\`edgecoder ${args.join(" ")}\` printed something that is not JSON: ${stdout.slice(0, 200)}`, 0);
  }
}

async function json<T>(cli: Cli, args: string[], extraEnv: Record<string, string> = {}): Promise<T> {
  return parse<T>(args, await runCli(cli, args, extraEnv));
}

/** A queue entry as `edgecoder queue … --json` prints it (`QueueEntry`, the fields used here). */
export interface QueuedEntry {
  /** The entry's id. */
  id: string;
  /** The task. */
  task: string;
  /** The workspace, in workspace mode. */
  workspace: string | null;
  /** The file, relative to the workspace. */
  file: string | null;
  /** The review's progress. */
  review: { stage: string; last_error: string | null };
}

/** `edgecoder queue result ID --json`: the reviewer's answer and the proposal against the file now. */
export interface ReviewResultView {
  /** The entry's id. */
  id: string;
  /** The reviewer's answer (`ReviewResult`). */
  result: { explanation: string; verification: { kind: "ran"; stdout: string } | { kind: "not_run"; reason: string }; diff: string; code: string };
  /** The proposal (`Proposal`). */
  proposal: {
    /** The proposed code with redacted values put back. */
    code: string;
    /** Placeholders that could not be put back. */
    unresolved: number;
    /** Unified diff from the file now to the proposal. */
    diff: string;
    /** The change, when it merges. */
    change: { path: string; before: string | null; after: string } | null;
    /** The conflict, when the file changed and the proposal does not merge. */
    conflict: { file: string; merged: string } | null;
  };
}

/** What Accept or Edit wrote (`Written`). */
export interface Written {
  /** The file written. */
  file: string;
  /** The previous content's backup. */
  backup: string | null;
}

/** One model of `edgecoder model list --json`. */
export interface CatalogModel {
  /** The id. */
  id: string;
  /** Whether it is installed. */
  installed: boolean;
  /** Whether it is the default. */
  default: boolean;
  /** What it is. */
  description: string;
}

/** Queues `file` (relative to `workspace`) for cloud review; it stays on the device until sent. */
export function queueAdd(cli: Cli, task: string, workspace: string, file: string, error = ""): Promise<QueuedEntry> {
  const args = ["queue", "add", task, "--workspace", workspace, "--file", file, "--json"];
  if (error !== "") {
    args.push("--error", error);
  }
  return json(cli, args);
}

/** Releases an entry to the review server (the user's consent) and sends it now. */
export async function queueSend(cli: Cli, id: string): Promise<void> {
  await runCli(cli, ["queue", "send", id, "--json"]);
}

/** One entry with the exact payload a review of it sends (`edgecoder queue show ID --json`). */
export async function queueShow(cli: Cli, id: string): Promise<QueuedEntry> {
  const shown = await json<{ entry: QueuedEntry }>(cli, ["queue", "show", id, "--json"]);
  return shown.entry;
}

/** The result of a review, as a proposal against the file now. */
export function queueResult(cli: Cli, id: string): Promise<ReviewResultView> {
  return json(cli, ["queue", "result", id, "--json"]);
}

/** Accepts a result: the CLI writes it (atomically, with a backup) and records the decision. */
export async function queueAccept(cli: Cli, id: string): Promise<Written> {
  return (await json<{ written: Written }>(cli, ["queue", "accept", id, "--json"])).written;
}

/**
 * Accepts `edited` instead of the proposal: `edgecoder queue edit ID` opens "the editor" on the
 * proposal, and the editor given to it copies the user's version over it, so the CLI applies and
 * records exactly what the user edited in VS Code.
 */
export async function queueEdit(cli: Cli, id: string, edited: string): Promise<Written> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "edgecoder-edit-"));
  const file = path.join(dir, "edited");
  try {
    fs.writeFileSync(file, edited, { mode: 0o600 });
    const quoted = `'${file.replace(/'/g, `'\\''`)}'`;
    return (await json<{ written: Written }>(cli, ["queue", "edit", id, "--json"], { VISUAL: `cp -- ${quoted}`, EDITOR: `cp -- ${quoted}` })).written;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Rejects a result: nothing is written. */
export async function queueReject(cli: Cli, id: string): Promise<void> {
  await runCli(cli, ["queue", "reject", id, "--json"]);
}

/** The catalog's models and whether each is installed. */
export function modelList(cli: Cli): Promise<CatalogModel[]> {
  return json(cli, ["model", "list", "--json"]);
}
