// The transport's mechanics against a plain Node HTTP server on a unix socket (not a daemon
// stand-in: the integration tests talk to the real daemon): token and Host headers, error
// messages, streamed events as they arrive, and cancellation.
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";

import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DaemonError, Transport, errorMessage } from "../../src/core/http";

let dir: string;
let socket: string;
let server: http.Server;
const seen: http.IncomingHttpHeaders[] = [];

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "edgecoder-http-"));
  socket = path.join(dir, "s.sock");
  server = http.createServer((req, res) => {
    seen.push(req.headers);
    if (req.url === "/ok") {
      res.setHeader("Content-Type", "application/json");
      res.end('{"model":"m"}');
    } else if (req.url === "/unauthorized") {
      res.statusCode = 401;
      res.end('{"error":{"message":"wrong bearer token: `edgecoder token` prints the daemon\'s token","type":"authentication_error"}}');
    } else if (req.url === "/stream") {
      res.setHeader("Content-Type", "text/event-stream");
      res.write("event: started\ndata: 1\n\n");
      setTimeout(() => res.write("event: tok"), 20);
      setTimeout(() => res.end("en\ndata: 2\n\n"), 40);
    } else if (req.url === "/forever") {
      res.setHeader("Content-Type", "text/event-stream");
      res.write("event: reviews\ndata: []\n\n");
    } else {
      res.statusCode = 404;
      res.end('{"error":"no such thing"}');
    }
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("the transport", () => {
  it("sends the bearer token and a loopback Host over the unix socket", async () => {
    const t = new Transport({ kind: "unix", socketPath: socket }, "tok-0123456789abcdef");
    expect(await t.json("GET", "/ok")).toEqual({ model: "m" });
    const headers = seen[seen.length - 1]!;
    expect(headers.authorization).toBe("Bearer tok-0123456789abcdef");
    expect(headers.host).toBe("localhost");
  });

  it("passes the daemon's message on and adds the fix for 401", async () => {
    const t = new Transport({ kind: "unix", socketPath: socket }, "x".repeat(20));
    await expect(t.json("GET", "/unauthorized")).rejects.toThrow(/answered 401 to GET \/unauthorized: wrong bearer token.*edgecoder.tokenFile/);
    await expect(t.json("GET", "/missing")).rejects.toMatchObject({ kind: "http", status: 404, message: expect.stringContaining("no such thing") });
  });

  it("says the daemon is not running when nothing listens", async () => {
    const t = new Transport({ kind: "unix", socketPath: path.join(dir, "gone.sock") }, "x".repeat(20));
    await expect(t.json("GET", "/ok")).rejects.toThrow(/the daemon is not running.*edgecoder serve/);
    const tcp = new Transport({ kind: "tcp", host: "127.0.0.1", port: 1 }, "x".repeat(20));
    await expect(tcp.json("GET", "/ok")).rejects.toMatchObject({ kind: "unreachable" });
  });

  it("yields events as they arrive, split across chunks", async () => {
    const t = new Transport({ kind: "unix", socketPath: socket }, "x".repeat(20));
    const events = [];
    for await (const e of t.events("/stream")) {
      events.push([e.event, e.data]);
    }
    expect(events).toEqual([
      ["started", "1"],
      ["token", "2"],
    ]);
  });

  it("stops a stream that never ends when aborted", async () => {
    const t = new Transport({ kind: "unix", socketPath: socket }, "x".repeat(20));
    const abort = new AbortController();
    const got = [];
    for await (const e of t.events("/forever", abort.signal)) {
      got.push(e.event);
      abort.abort();
    }
    expect(got).toEqual(["reviews"]);
    await expect(t.json("GET", "/ok", { signal: abort.signal })).rejects.toBeInstanceOf(DaemonError);
  });

  it("reads both error shapes", () => {
    expect(errorMessage('{"error":{"message":"m"}}')).toBe("m");
    expect(errorMessage('{"error":"o"}')).toBe("o");
    expect(errorMessage("plain")).toBe("plain");
  });
});
