// Starts a real `edgecoderd` for a test, the way daemon/tests/support does: a temporary folder
// with its config (socket, token file, loopback TCP on a free port, the small model), its state,
// queue and index there, waits until it listens, and stops it with SIGTERM.

import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";

/** The daemon binary: `$EDGECODER_DAEMON_BIN`, else the workspace's debug build. */
export const DAEMON_BIN = process.env.EDGECODER_DAEMON_BIN || path.join(os.homedir(), ".cache/edgecoder/target/debug/edgecoderd");

/** The CLI binary: `$EDGECODER_CLI_BIN`, else `edgecoder` beside the daemon. */
export const CLI_BIN = process.env.EDGECODER_CLI_BIN || path.join(path.dirname(DAEMON_BIN), "edgecoder");

/** The small, fast model the tests use. */
export const MODEL = process.env.EDGECODER_TEST_MODEL || "smollm2-135m";

/** A running daemon and its files. */
export interface RunningDaemon {
  /** The temporary folder (config, state, queue, logs). */
  dir: string;
  /** The config file. */
  config: string;
  /** The unix socket. */
  socket: string;
  /** The token file. */
  tokenFile: string;
  /** The token. */
  token: string;
  /** The TCP address. */
  tcp: { host: string; port: number };
  /** The environment the daemon runs with (and the CLI must use: same queue). */
  env: Record<string, string>;
  /** The daemon's log so far. */
  log(): string;
  /** SIGTERM, then SIGKILL after 15 s; removes the folder. */
  stop(): Promise<void>;
}

/** Fails with what to do when a binary is missing (never skips). */
export function requireBinary(file: string, variable: string): void {
  if (!fs.existsSync(file)) {
    throw new Error(
      `${file} does not exist: build the daemon first (\`cargo build -p edgecoder-daemon\`, as the repository's scripts/test does) or set ${variable} to the binary — the integration tests need a real daemon`,
    );
  }
}

/** Starts a daemon serving {@link MODEL}; `extra` is appended to its config. */
export async function startDaemon(extra = ""): Promise<RunningDaemon> {
  requireBinary(DAEMON_BIN, "EDGECODER_DAEMON_BIN");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "edgecoder-vscode-it-"));
  const socket = path.join(dir, "run/edgecoderd.sock");
  const tokenFile = path.join(dir, "state/edgecoder/token");
  const config = path.join(dir, "edgecoderd.toml");
  fs.writeFileSync(
    config,
    `socket = ${JSON.stringify(socket)}\ntoken_file = ${JSON.stringify(tokenFile)}\nlisten = "127.0.0.1:0"\nmodel = ${JSON.stringify(MODEL)}\nthreads = 2\nagent_tasks = 1\n${extra}\n`,
  );
  const env: Record<string, string> = {
    XDG_STATE_HOME: path.join(dir, "state"),
    XDG_RUNTIME_DIR: path.join(dir, "run"),
    EDGECODER_QUEUE: path.join(dir, "queue"),
    EDGECODER_INDEX_CACHE: path.join(dir, "index"),
    EDGECODER_RETRIEVAL: "bm25",
    EDGECODER_CONFIG: config,
  };
  const logFile = path.join(dir, "daemon.log");
  const log = fs.openSync(logFile, "w");
  const child: ChildProcess = spawn(DAEMON_BIN, ["--config", config], {
    env: { ...process.env, ...env, RUST_LOG: "info" },
    stdio: ["ignore", "pipe", log],
  });
  const readLog = (): string => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "");
  const tcp = await new Promise<{ host: string; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`edgecoderd did not start within 300 s:\n${readLog()}`)), 300_000);
    const lines = readline.createInterface({ input: child.stdout! });
    lines.on("line", (line) => {
      const m = /^edgecoderd listening on http:\/\/([\d.]+):(\d+)/.exec(line);
      if (m) {
        clearTimeout(timer);
        resolve({ host: m[1]!, port: Number(m[2]) });
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`edgecoderd exited (${code ?? signal}) before listening:\n${readLog()}`));
    });
  });
  const token = fs.readFileSync(tokenFile, "utf8").trim();
  return {
    dir,
    config,
    socket,
    tokenFile,
    token,
    tcp,
    env,
    log: readLog,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
        await exited;
        clearTimeout(timer);
      }
      fs.closeSync(log);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A workspace with the buggy `calc.py` and its test file (as daemon/tests/support's `calc_workspace`). */
export function calcWorkspace(parent: string): string {
  const ws = path.join(parent, "ws");
  fs.mkdirSync(ws, { recursive: true });
  fs.writeFileSync(path.join(ws, "calc.py"), BUGGY_ADD);
  fs.writeFileSync(path.join(ws, "test_calc.py"), "from calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n    assert add(-1, 1) == 0\n");
  return ws;
}

/** The buggy `add` of the workspace tests. */
export const BUGGY_ADD = "def add(a, b):\n    return a - b\n";
