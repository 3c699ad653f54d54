// The cloud-review round trip the extension drives, against real processes: `edgecoder-inference`
// as the review server (its real model reviews; its API key made by `edgecoder-inference api-key`),
// a real `edgecoderd` configured to follow the queue, and the extension's own client layer — the
// CLI calls behind "Queue for cloud review", "Send now", the notification from the live review
// stream, the diff view's proposal, and Accept, Edit and Reject.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { CliError, queueAccept, queueAdd, queueEdit, queueReject, queueResult, queueSend, queueShow, runCli } from "../../src/core/cli";
import { DaemonClient } from "../../src/core/client";
import { discover } from "../../src/core/discovery";
import { Transport } from "../../src/core/http";
import { DEFAULTS } from "../../src/core/settings";
import { CLI_BIN, DAEMON_BIN, type RunningDaemon, requireBinary, startDaemon } from "../support/daemon";

/** The review server binary, beside the daemon. */
const INFERENCE_BIN = process.env.EDGECODER_INFERENCE_BIN || path.join(path.dirname(DAEMON_BIN), "edgecoder-inference");

/** The reviewer: the default model, which fixes the workspace's bug (the small test model cannot). */
const REVIEWER = process.env.EDGECODER_REVIEW_MODEL || "qwen2.5-coder-0.5b";

const TASK = "Fix add in stats.py: it must return the sum of a and b.";

/** A secret the redaction must keep on the device (and put back on Accept). */
const SECRET = "sk-proj-Zq8RkT4mW2xV9nB7cL1pD5fH3jY6uA0s";

/** The file under review: a buggy `add` beside a secret (as daemon/tests/handshake.rs). */
const STATS = `API_KEY = "${SECRET}"\n\n\ndef add(a, b):\n    return a - b\n`;

/** A workspace holding `stats.py`. */
function statsWorkspace(parent: string): string {
  const ws = path.join(parent, "ws");
  fs.mkdirSync(ws, { recursive: true });
  fs.writeFileSync(path.join(ws, "stats.py"), STATS);
  return ws;
}

let scratch: string;
let server: ChildProcess | undefined;
let serverLog: string;
let daemon: RunningDaemon;
let client: DaemonClient;
let cli: { path: string; env: Record<string, string> };

/** A port nothing listens on yet. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts connections on `port`. */
async function listening(port: number, withinMs: number): Promise<void> {
  const until = Date.now() + withinMs;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (up) {
      return;
    }
    if (server?.exitCode !== null || Date.now() > until) {
      throw new Error(`the review server did not start:\n${fs.readFileSync(serverLog, "utf8")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(async () => {
  requireBinary(CLI_BIN, "EDGECODER_CLI_BIN");
  requireBinary(INFERENCE_BIN, "EDGECODER_INFERENCE_BIN");
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "edgecoder-vscode-review-"));
  const keys = path.join(scratch, "review-keys");
  const key = execFileSync(INFERENCE_BIN, ["api-key", "vscode-test", "--keys", keys], { encoding: "utf8" }).trim();
  expect(key).toMatch(/^ecr_/);
  const keyFile = path.join(scratch, "review.key");
  fs.writeFileSync(keyFile, key, { mode: 0o600 });

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  serverLog = path.join(scratch, "review-server.log");
  const log = fs.openSync(serverLog, "w");
  server = spawn(INFERENCE_BIN, ["--listen", `127.0.0.1:${port}`, "--model", REVIEWER, "--threads", "2", "--public-url", url, "--review-keys", keys], {
    stdio: ["ignore", "ignore", log],
  });
  fs.closeSync(log);
  await listening(port, 120_000);

  daemon = await startDaemon(`review_url = ${JSON.stringify(url)}\nreview_api_key_file = ${JSON.stringify(keyFile)}\nreview_sync_secs = 1\n`);
  const found = discover({ ...DEFAULTS, configFile: daemon.config }, { HOME: os.homedir(), ...daemon.env });
  client = new DaemonClient(new Transport(found.endpoint, found.token));
  cli = { path: CLI_BIN, env: daemon.env };
});

afterAll(async () => {
  await daemon?.stop();
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server!.once("exit", resolve));
    server.kill("SIGTERM");
    await exited;
  }
  if (scratch) {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
});

/**
 * Waits on the live review stream (as the extension's notifier does) until every id in `ids` has
 * ended; returns how each ended and which ones came as a notification (`answered`/`failed` event).
 */
async function answered(ids: string[], withinMs: number): Promise<{ ends: Map<string, string>; notified: Set<string> }> {
  const ends = new Map<string, string>();
  const notified = new Set<string>();
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), withinMs);
  try {
    for await (const event of client.reviewUpdates(abort.signal, 1_000)) {
      if ((event.kind === "answered" || event.kind === "failed") && ids.includes(event.id)) {
        ends.set(event.id, event.kind === "failed" ? `failed: ${event.last_error}` : "answered");
        notified.add(event.id);
      }
      // A review may have ended before the stream was opened: the list says so.
      if (event.kind === "reviews") {
        for (const entry of event.entries.filter((e) => ids.includes(e.id) && !ends.has(e.id))) {
          if (entry.stage === "answered" || entry.stage === "failed") {
            ends.set(entry.id, entry.stage === "failed" ? `failed: ${entry.last_error}` : "answered");
          }
        }
      }
      if (ids.every((id) => ends.has(id))) {
        abort.abort();
      }
    }
  } catch (error) {
    if (!abort.signal.aborted) {
      throw error;
    }
  } finally {
    clearTimeout(timer);
  }
  return { ends, notified };
}

describe("a cloud review, from the queue to the workspace", () => {
  it("is held until sent, comes back through the live stream, and is accepted, edited or rejected", async () => {
    const workspaces = ["accept", "edit", "reject"].map((name) => statsWorkspace(path.join(scratch, name)));
    const entries = [];
    for (const ws of workspaces) {
      const entry = await queueAdd(cli, TASK, ws, "stats.py");
      expect(entry.review.stage).toBe("held");
      entries.push(entry);
    }
    // What would leave the device has the secret taken out.
    const payload = await runCli(cli, ["queue", "show", entries[0]!.id, "--json"]);
    expect(payload).toContain("[REDACTED:");
    expect(payload.split("outgoing")[1]).not.toContain(SECRET);
    const ids = entries.map((e) => e.id);
    // Nothing goes out before the user's consent: the daemon's follower leaves held entries alone.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    for (const id of ids) {
      expect((await queueShow(cli, id)).review.stage).toBe("held");
    }

    for (const id of ids) {
      await queueSend(cli, id);
    }
    const { ends, notified } = await answered(ids, 900_000);
    expect(Object.fromEntries(ends), `the review server's log:\n${fs.readFileSync(serverLog, "utf8").slice(-4000)}\n${daemon.log().slice(-4000)}`).toEqual(
      Object.fromEntries(ids.map((id) => [id, "answered"])),
    );
    // The server reviews one at a time: at least the last answer comes after the stream opened.
    expect(notified.size).toBeGreaterThan(0);

    // What the diff view shows: the proposal against the file as it is now.
    const [toAccept, toEdit, toReject] = ids as [string, string, string];
    const result = await queueResult(cli, toAccept);
    expect(result.result.verification.kind).toBe("ran");
    expect(result.proposal.diff.startsWith("--- a/stats.py\n+++ b/stats.py\n")).toBe(true);
    expect(result.proposal.change?.path).toBe("stats.py");
    expect(result.proposal.conflict).toBeNull();

    // Accept: the proposal, written with a backup of what was there, the secret back in place.
    const accepted = await queueAccept(cli, toAccept);
    expect(accepted.file).toBe(path.join(workspaces[0]!, "stats.py"));
    expect(fs.readFileSync(accepted.file, "utf8")).toBe(result.proposal.code);
    expect(result.proposal.code).not.toContain("[REDACTED:");
    expect(fs.readFileSync(accepted.backup!, "utf8")).toBe(STATS);
    await expect(queueAccept(cli, toAccept)).rejects.toThrow(/accepted already/);

    // Edit: exactly what the user typed over the proposal is written.
    const proposal = (await queueResult(cli, toEdit)).proposal.code;
    const edited = `${proposal.trimEnd()}\n\n\ndef double(a):\n    return add(a, a)\n`;
    const written = await queueEdit(cli, toEdit, edited);
    expect(fs.readFileSync(written.file, "utf8")).toBe(edited);
    expect(fs.readFileSync(written.backup!, "utf8")).toBe(STATS);

    // Reject: nothing is written, and the entry cannot be accepted afterwards.
    await queueReject(cli, toReject);
    expect(fs.readFileSync(path.join(workspaces[2]!, "stats.py"), "utf8")).toBe(STATS);
    const late = await queueAccept(cli, toReject).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(CliError);
    expect((late as CliError).message).toMatch(/rejected already/);

    // The three decisions reach the review server through the daemon's follower.
    const until = Date.now() + 60_000;
    let decided: { decision: string; acknowledged: boolean }[] = [];
    while (Date.now() < until) {
      decided = await Promise.all(
        ids.map(async (id) => {
          const shown = JSON.parse(await runCli(cli, ["queue", "show", id, "--json"])) as { entry: { review: { decision: string; acknowledged: boolean } } };
          return shown.entry.review;
        }),
      );
      if (decided.every((r) => r.acknowledged)) {
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    expect(decided.map((r) => [r.decision, r.acknowledged])).toEqual([
      ["accepted", true],
      ["edited", true],
      ["rejected", true],
    ]);
  }, 1_200_000);
});
