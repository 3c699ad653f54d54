import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

import { afterEach, beforeEach, describe, expect, it } from "vitest";

import { DiscoveryError, configPath, discover, parseDaemonConfig, readToken, socketPath, tokenPath } from "../../src/core/discovery";
import { DEFAULTS, type Settings } from "../../src/core/settings";

let dir: string;
const TOKEN = "a".repeat(64);

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "edgecoder-discovery-"));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function writeToken(file: string, mode = 0o600): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${TOKEN}\n`, { mode });
  fs.chmodSync(file, mode);
}

function listen(socket: string): Promise<net.Server> {
  fs.mkdirSync(path.dirname(socket), { recursive: true });
  const server = net.createServer();
  return new Promise((resolve) => server.listen(socket, () => resolve(server)));
}

describe("finding the daemon like the CLI does", () => {
  it("reads socket and token_file from the daemon's TOML config", () => {
    const config = parseDaemonConfig(
      '# comment\nsocket = "/run/edgecoder/edgecoderd.sock"\ntoken_file = \'/var/lib/edgecoder/token\'\nlisten = "127.0.0.1:11435"\ngroup_access = true\nqueue_capacity = 32\nredact_patterns = ["x"]\n',
      "edgecoderd.toml",
    );
    expect(config).toEqual({ socket: "/run/edgecoder/edgecoderd.sock", tokenFile: "/var/lib/edgecoder/token", groupAccess: true });
    expect(() => parseDaemonConfig("socket = 3\n", "f.toml")).toThrow(/socket must be a string/);
    expect(() => parseDaemonConfig('socket = "open\n', "f.toml")).toThrow(/not closed/);
  });

  it("uses the CLI's default paths: $XDG_RUNTIME_DIR for the socket, $XDG_STATE_HOME for the token", () => {
    const env = { HOME: "/home/u", XDG_RUNTIME_DIR: "/run/user/1000", XDG_STATE_HOME: "/home/u/.st" };
    expect(socketPath(DEFAULTS, { groupAccess: false }, env)).toBe("/run/user/1000/edgecoder/edgecoderd.sock");
    expect(tokenPath(DEFAULTS, { groupAccess: false }, env)).toBe("/home/u/.st/edgecoder/token");
    expect(socketPath(DEFAULTS, { groupAccess: false }, { HOME: "/home/u" })).toBe("/home/u/.local/state/edgecoder/edgecoderd.sock");
    expect(configPath(DEFAULTS, { HOME: "/home/u" }, () => false)).toBe("/home/u/.config/edgecoder/edgecoderd.toml");
    expect(configPath(DEFAULTS, { HOME: "/home/u" }, (p) => p === "/etc/edgecoder/edgecoderd.toml")).toBe("/etc/edgecoder/edgecoderd.toml");
    expect(configPath(DEFAULTS, { HOME: "/home/u", EDGECODER_CONFIG: "/x.toml" })).toBe("/x.toml");
  });

  it("finds a running daemon's socket and token through its config", async () => {
    const socket = path.join(dir, "run/edgecoderd.sock");
    const token = path.join(dir, "state/token");
    const config = path.join(dir, "edgecoderd.toml");
    fs.writeFileSync(config, `socket = ${JSON.stringify(socket)}\ntoken_file = ${JSON.stringify(token)}\n`);
    writeToken(token);
    const server = await listen(socket);
    try {
      const found = discover({ ...DEFAULTS, configFile: config }, { HOME: dir });
      expect(found).toEqual({ endpoint: { kind: "unix", socketPath: socket }, token: TOKEN, configFile: config });
    } finally {
      server.close();
    }
  });

  it("says how to start the daemon when nothing is at the socket", () => {
    const settings: Settings = { ...DEFAULTS, socketPath: path.join(dir, "none.sock") };
    const error = (() => {
      try {
        discover(settings, { HOME: dir });
      } catch (e) {
        return e as DiscoveryError;
      }
      throw new Error("no error");
    })();
    expect(error.reason).toBe("not-running");
    expect(error.message).toMatch(/the daemon is not running.*edgecoder serve.*systemctl --user start edgecoderd/);
  });

  it("uses TCP with the token from the settings", () => {
    const found = discover({ ...DEFAULTS, tcpAddress: { host: "127.0.0.1", port: 11435 }, token: "b".repeat(20) }, { HOME: dir });
    expect(found.endpoint).toEqual({ kind: "tcp", host: "127.0.0.1", port: 11435 });
    expect(found.token).toBe("b".repeat(20));
  });

  it("refuses a token others can read, with the chmod that fixes it", () => {
    const file = path.join(dir, "token");
    writeToken(file, 0o644);
    expect(() => readToken(file, false)).toThrow(`run \`chmod 600 ${file}\``);
    fs.chmodSync(file, 0o640);
    expect(readToken(file, true)).toBe(TOKEN);
    expect(() => readToken(file, false)).toThrow(/chmod 600/);
  });

  it("explains a missing or garbled token file", () => {
    expect(() => readToken(path.join(dir, "missing"), false)).toThrow(/makes it on its first start.*edgecoder serve/);
    const file = path.join(dir, "token");
    fs.writeFileSync(file, "short\n", { mode: 0o600 });
    expect(() => readToken(file, false)).toThrow(/delete it and restart the daemon/);
  });
});
