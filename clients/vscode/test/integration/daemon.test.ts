// The client layer against a real `edgecoderd` (started here, with the small model): discovery
// through the daemon's own config and token, status over the unix socket and TCP, a workspace
// task from POST to its last event, its diff applied to the temp workspace the way the editor
// applies it (the daemon then refuses to write over it), reject and cancel, the cloud-review queue through the CLI and the live stream
// (a whole review against a real review server is review.test.ts),
// code search over MCP, and inline completion with cancellation.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { CliError, queueAdd, queueResult } from "../../src/core/cli";
import { DaemonClient } from "../../src/core/client";
import { applyDiff } from "../../src/core/diff";
import { discover } from "../../src/core/discovery";
import { type AgentEvent, pendingDiff, reduce } from "../../src/core/events";
import { DaemonError, Transport } from "../../src/core/http";
import { InlineCompleter } from "../../src/core/inline";
import { searchCode } from "../../src/core/mcp";
import { DEFAULTS } from "../../src/core/settings";
import { buildTask } from "../../src/core/taskspec";
import { BUGGY_ADD, CLI_BIN, MODEL, type RunningDaemon, calcWorkspace, requireBinary, startDaemon } from "../support/daemon";

let daemon: RunningDaemon;
let client: DaemonClient;
let scratch: string;

/** The task the small model finishes: the fix is one character, the workspace's tests decide. */
const FIX = "Fix add in calc.py: it must return the sum of a and b.";

beforeAll(async () => {
  requireBinary(CLI_BIN, "EDGECODER_CLI_BIN");
  daemon = await startDaemon();
  const found = discover({ ...DEFAULTS, configFile: daemon.config }, { HOME: os.homedir(), ...daemon.env });
  client = new DaemonClient(new Transport(found.endpoint, found.token));
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "edgecoder-vscode-ws-"));
});

afterAll(async () => {
  await daemon?.stop();
  if (scratch) {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
});

describe("the daemon, found and asked", () => {
  it("is found through its config file, and its status names the model over the socket and over TCP", async () => {
    expect(client.transport.endpoint).toEqual({ kind: "unix", socketPath: daemon.socket });
    const status = await client.status();
    expect(status.model, `the model did not load — is ${MODEL} installed (\`edgecoder model pull ${MODEL}\`)?\n${daemon.log()}`).toBe(MODEL);
    expect(status.provider).toBe("edgecoder-local");
    expect(status.listening).toContain(`unix:${daemon.socket}`);
    const tcp = discover({ ...DEFAULTS, tcpAddress: daemon.tcp, token: daemon.token }, { HOME: os.homedir() });
    const overTcp = await new DaemonClient(new Transport(tcp.endpoint, tcp.token)).status();
    expect(overTcp.model).toBe(MODEL);
  });

  it("refuses a wrong token with the fix in the message", async () => {
    const wrong = new DaemonClient(new Transport({ kind: "tcp", ...daemon.tcp }, "f".repeat(64)));
    await expect(wrong.status()).rejects.toThrow(/answered 401.*`edgecoder token`/);
  });

  it("explains a provider that does not exist, and reloads the model", async () => {
    await expect(client.useProvider("no-such-provider")).rejects.toMatchObject({ kind: "http", status: 400 });
    expect((await client.loadModel(MODEL)).id).toBe(MODEL);
    expect(await client.models()).toEqual([MODEL]);
  });
});

describe("a workspace task", () => {
  it("streams plan → code → test → done, and its diff applies to the file as the editor applies it", async () => {
    const ws = calcWorkspace(path.join(scratch, "apply"));
    const events: AgentEvent[] = [];
    const body = buildTask(FIX, { kind: "file", workspaceRoot: ws, file: path.join(ws, "calc.py") }, { ...DEFAULTS, maxIterations: 3 });
    const timeline = await client.runTask(body, (event) => events.push(event));

    expect(events[0]).toMatchObject({ event: "started", target: "calc.py", model: MODEL, lang: "python" });
    const kinds = events.filter((e) => e.event === "transition").map((e) => (e.event === "transition" ? `${e.from}>${e.to}` : ""));
    expect(kinds[0]).toBe("plan>code");
    expect(kinds).toContain("code>test");
    expect(kinds).toContain("test>observe");
    expect(events[events.length - 1]!.event).toBe("finished");
    const view = await client.task(timeline.taskId);
    expect(view.events).toBe(events.length);
    expect(view.state).toBe(timeline.state);

    const report = timeline.report!;
    expect(report.state, `${report.message}\n${report.code}`).toBe("done");
    expect(fs.readFileSync(path.join(ws, "calc.py"), "utf8")).toBe(BUGGY_ADD);
    const pending = pendingDiff(timeline)!;
    expect(pending.target).toBe("calc.py");
    expect(pending.diff).toContain("--- a/calc.py");

    // The editor's Apply: the diff's edits on the file as it is now, written to the workspace.
    const file = path.join(ws, "calc.py");
    fs.writeFileSync(file, applyDiff(fs.readFileSync(file, "utf8"), pending.diff));
    const written = fs.readFileSync(file, "utf8");
    expect(written).toBe(report.code);
    expect(written).not.toBe(BUGGY_ADD);
    expect(written).toMatch(/a \+ b|b \+ a/);
    // The daemon no longer writes over it: the file is not what the agent read.
    await expect(client.transport.json("POST", `/agent/tasks/${timeline.taskId}/apply`)).rejects.toMatchObject({
      status: 409,
      message: expect.stringContaining("changed since the agent read it"),
    });
  });

  it("reject writes nothing, and the daemon then refuses to apply", async () => {
    const ws = calcWorkspace(path.join(scratch, "reject"));
    const body = buildTask(FIX, { kind: "file", workspaceRoot: ws, file: path.join(ws, "calc.py") }, { ...DEFAULTS, maxIterations: 3 });
    const timeline = await client.runTask(body, () => undefined);
    expect(timeline.report!.state, timeline.report!.message).toBe("done");
    const rejected = await client.reject(timeline.taskId);
    expect(rejected).toMatchObject({ event: "rejected" });
    reduce(timeline, rejected);
    expect(pendingDiff(timeline)).toBeUndefined();
    expect(fs.readFileSync(path.join(ws, "calc.py"), "utf8")).toBe(BUGGY_ADD);
    expect((await client.task(timeline.taskId)).status).toBe("rejected");
    await expect(client.transport.json("POST", `/agent/tasks/${timeline.taskId}/apply`)).rejects.toMatchObject({ status: 409, message: expect.stringContaining("rejected") });
  });

  it("is cancelled on the daemon when the client aborts", async () => {
    const abort = new AbortController();
    const impossible = "assert add(2, 3) == 5\nassert add(2, 3) == 6\n";
    const timeline = await client.runTask({ task: "Write add(a, b) returning a + b.", tests: impossible, max_iterations: 20, plan: false }, (event) => {
      if (event.event === "transition" && !abort.signal.aborted) {
        abort.abort();
      }
    }, abort.signal);
    expect(timeline.report!.state).toBe("gave_up");
    expect(timeline.stopped?.reason).toBe("cancelled");
  });
});

describe("the cloud-review queue", () => {
  it("an entry queued through the CLI shows up in the live review updates, held on the device", async () => {
    const ws = calcWorkspace(path.join(scratch, "review"));
    const cli = { path: CLI_BIN, env: daemon.env };
    const entry = await queueAdd(cli, "make add fast", ws, "calc.py");
    expect(entry.review.stage).toBe("held");
    expect(entry.file).toBe("calc.py");
    const abort = new AbortController();
    let seen;
    for await (const event of client.reviewUpdates(abort.signal, 500)) {
      if (event.kind === "reviews" && event.entries.some((e) => e.id === entry.id)) {
        seen = event.entries.find((e) => e.id === entry.id);
        abort.abort();
      }
    }
    expect(seen).toMatchObject({ id: entry.id, stage: "held", task: "make add fast", file: "calc.py", has_result: false });
    expect((await client.reviews()).map((r) => r.id)).toContain(entry.id);
    const noResult = await queueResult(cli, entry.id).catch((e: unknown) => e);
    expect(noResult).toBeInstanceOf(CliError);
    expect((noResult as CliError).message).toMatch(/has no review result/);
  });
});

describe("search and completion", () => {
  it("search_code over MCP finds the function", async () => {
    const ws = calcWorkspace(path.join(scratch, "search"));
    const found = await searchCode(client.transport, ws, "add");
    expect(found.mode).toBe("bm25");
    expect(found.hits.some((h) => h.path === "calc.py" && h.name.includes("add"))).toBe(true);
  });

  it("completes inline: prefix-only for a model without FIM tokens, and a suffix is refused by the daemon", async () => {
    const caps = await client.capabilities(MODEL);
    expect(caps).toContain("completion");
    expect(caps).not.toContain("insert");
    await expect(client.complete({ model: MODEL, prefix: "def f(", suffix: "):", maxTokens: 4 })).rejects.toThrow(/fill-in-the-middle/);
    const completer = new InlineCompleter({
      model: async () => (await client.status()).model ?? "",
      fillInTheMiddle: async (model) => (await client.capabilities(model)).includes("insert"),
      complete: (input, signal) => client.complete(input, signal),
    });
    const options = { debounceMs: 10, maxTokens: 8, maxPrefixChars: 200, maxSuffixChars: 50 };
    const text = await completer.complete("def add(a, b):\n    return", "\n", options, new AbortController().signal);
    expect(typeof text).toBe("string");
    const abort = new AbortController();
    const pending = completer.complete("def mul(a, b):\n", "", { ...options, maxTokens: 200 }, abort.signal);
    setTimeout(() => abort.abort(), 30);
    expect(await pending).toBeUndefined();
    await expect(client.complete({ model: MODEL, prefix: "x", maxTokens: 4 }, AbortSignal.abort())).rejects.toBeInstanceOf(DaemonError);
  });
});
