// Finding the daemon the way the `edgecoder` CLI does (daemon/src/cli/client.rs,
// daemon/src/server/config.rs): the config file, its `socket`/`token_file`/`group_access`, the
// default socket under $XDG_RUNTIME_DIR (else the state directory), the token file under
// $XDG_STATE_HOME, and the settings that override them (TCP address, token).

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

import type { Settings } from "./settings";

/** Where the daemon answers: its unix socket, or a loopback TCP address. */
export type Endpoint = { kind: "unix"; socketPath: string } | { kind: "tcp"; host: string; port: number };

/** A daemon found: where it answers and the token it wants. */
export interface Discovered {
  /** Where to connect. */
  endpoint: Endpoint;
  /** The bearer token. */
  token: string;
  /** The config file read (or the one that would be read; it may not exist). */
  configFile: string;
}

/** Why the daemon cannot be used; `message` says what to do. */
export class DiscoveryError extends Error {
  /** `not-running`: nothing at the socket; `token`: the token cannot be read; `config`: bad config. */
  readonly reason: "not-running" | "token" | "config";

  /** An error of `reason` with a message that names the fix. */
  constructor(reason: "not-running" | "token" | "config", message: string) {
    super(message);
    this.reason = reason;
    this.name = "DiscoveryError";
  }
}

/** The hint every "not running" message ends with. */
export const START_HINT = "start it with `edgecoder serve` (foreground) or `systemctl --user start edgecoderd`";

/** The system service's config (Debian package), used when the user has none of their own. */
export const SYSTEM_CONFIG = "/etc/edgecoder/edgecoderd.toml";

/** The environment variables discovery reads (a subset of `process.env`). */
export type Env = Record<string, string | undefined>;

/** The daemon's config keys the extension needs (every other key is ignored). */
export interface DaemonConfig {
  /** `socket`. */
  socket?: string;
  /** `token_file`. */
  tokenFile?: string;
  /** `group_access`: the token file may be 0640. */
  groupAccess: boolean;
}

/**
 * Reads the top-level `key = value` lines of the daemon's TOML config (it has no tables): basic
 * and literal strings, booleans, numbers and arrays are recognised; only the keys of
 * {@link DaemonConfig} are kept.
 */
export function parseDaemonConfig(text: string, file: string): DaemonConfig {
  const config: DaemonConfig = { groupAccess: false };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) {
      continue;
    }
    if (line.startsWith("[")) {
      break;
    }
    const eq = line.indexOf("=");
    if (eq < 0) {
      throw new DiscoveryError("config", `${file} line ${i + 1} is not \`key = value\`: fix the daemon's config file`);
    }
    const key = line.slice(0, eq).trim();
    const raw = line.slice(eq + 1).trim();
    const value = tomlValue(raw, () => `${file} line ${i + 1}: cannot read the value of ${key}`);
    switch (key) {
      case "socket":
      case "token_file":
        if (typeof value !== "string") {
          throw new DiscoveryError("config", `${file} line ${i + 1}: ${key} must be a string`);
        }
        if (key === "socket") {
          config.socket = value;
        } else {
          config.tokenFile = value;
        }
        break;
      case "group_access":
        config.groupAccess = value === true;
        break;
      default:
        break;
    }
  }
  return config;
}

function tomlValue(raw: string, where: () => string): string | boolean | number | null {
  if (raw.startsWith('"')) {
    let out = "";
    for (let i = 1; i < raw.length; i++) {
      const c = raw[i]!;
      if (c === '"') {
        return out;
      }
      if (c === "\\") {
        const next = raw[++i];
        const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\", b: "\b", f: "\f" };
        if (next !== undefined && next in simple) {
          out += simple[next];
        } else if (next === "u" || next === "U") {
          const len = next === "u" ? 4 : 8;
          out += String.fromCodePoint(parseInt(raw.slice(i + 1, i + 1 + len), 16));
          i += len;
        } else {
          throw new DiscoveryError("config", `${where()}: unknown escape \\${next ?? ""}`);
        }
      } else {
        out += c;
      }
    }
    throw new DiscoveryError("config", `${where()}: the string is not closed`);
  }
  if (raw.startsWith("'")) {
    const end = raw.indexOf("'", 1);
    if (end < 0) {
      throw new DiscoveryError("config", `${where()}: the string is not closed`);
    }
    return raw.slice(1, end);
  }
  const bare = raw.replace(/\s+#.*$/, "");
  if (bare === "true" || bare === "false") {
    return bare === "true";
  }
  if (/^[+-]?\d[\d_]*(\.\d+)?$/.test(bare)) {
    return Number(bare.replace(/_/g, ""));
  }
  // Arrays and other values: not needed here.
  return null;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value !== "" ? value : undefined;
}

/** `$HOME` from the environment, else the OS's idea of it. */
function home(env: Env): string {
  return nonEmpty(env.HOME) ?? os.homedir();
}

/** `$XDG_STATE_HOME/edgecoder` (absolute values only), else `~/.local/state/edgecoder`. */
export function stateDir(env: Env): string {
  const xdg = nonEmpty(env.XDG_STATE_HOME);
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(home(env), ".local/state"), "edgecoder");
}

/** The config file the CLI would read: `edgecoder.configFile`, `$EDGECODER_CONFIG`, the user's, else the system's. */
export function configPath(settings: Settings, env: Env, exists: (p: string) => boolean = fs.existsSync): string {
  if (settings.configFile !== "") {
    return expandHome(settings.configFile, env);
  }
  const fromEnv = nonEmpty(env.EDGECODER_CONFIG);
  if (fromEnv) {
    return fromEnv;
  }
  const xdg = nonEmpty(env.XDG_CONFIG_HOME);
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(home(env), ".config");
  const own = path.join(base, "edgecoder", "edgecoderd.toml");
  if (!exists(own) && exists(SYSTEM_CONFIG)) {
    return SYSTEM_CONFIG;
  }
  return own;
}

/** `~/x` → `$HOME/x`. */
export function expandHome(p: string, env: Env): string {
  return p === "~" || p.startsWith("~/") ? path.join(home(env), p.slice(1)) : p;
}

/** The socket the daemon listens on: the setting, the config's `socket`, `$XDG_RUNTIME_DIR/edgecoder/edgecoderd.sock`, else the state directory. */
export function socketPath(settings: Settings, config: DaemonConfig, env: Env): string {
  if (settings.socketPath !== "") {
    return expandHome(settings.socketPath, env);
  }
  if (config.socket) {
    return config.socket;
  }
  const runtime = nonEmpty(env.XDG_RUNTIME_DIR);
  if (runtime && path.isAbsolute(runtime)) {
    return path.join(runtime, "edgecoder", "edgecoderd.sock");
  }
  return path.join(stateDir(env), "edgecoderd.sock");
}

/** The token file: the setting, the config's `token_file`, else `$XDG_STATE_HOME/edgecoder/token`. */
export function tokenPath(settings: Settings, config: DaemonConfig, env: Env): string {
  if (settings.tokenFile !== "") {
    return expandHome(settings.tokenFile, env);
  }
  return config.tokenFile ?? path.join(stateDir(env), "token");
}

/**
 * Reads the token as the daemon's own `token::read` does: refuses a file others can read (with the
 * `chmod` that fixes it), a file this user may not read (with the group to join) and a garbled one.
 */
export function readToken(file: string, groupAccess: boolean): string {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EACCES") {
      throw new DiscoveryError(
        "token",
        `cannot read the daemon's token ${file}: permission denied — if the daemon is the system service, ask an administrator to run \`sudo adduser $USER edgecoder\`, then log in again`,
      );
    }
    throw new DiscoveryError(
      "token",
      `the daemon's token file ${file} does not exist: the daemon makes it on its first start — ${START_HINT}; or set edgecoder.tokenFile to where your daemon keeps it`,
    );
  }
  const wanted = groupAccess ? 0o640 : 0o600;
  const mode = stat.mode & 0o777;
  if (process.platform !== "win32" && (mode & ~wanted & 0o077) !== 0) {
    throw new DiscoveryError(
      "token",
      `the daemon's token file ${file} is readable by other users (mode ${mode.toString(8)}) — run \`chmod ${wanted.toString(8)} ${file}\``,
    );
  }
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8").trim();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const fix =
      code === "EACCES"
        ? `run \`chmod ${wanted.toString(8)} ${file}\` as its owner, or if the daemon is the system service ask an administrator to run \`sudo adduser $USER edgecoder\``
        : "check the file";
    throw new DiscoveryError("token", `cannot read the daemon's token ${file}: ${(error as Error).message} — ${fix}`);
  }
  if (text.length < 16 || !/^[A-Za-z0-9_-]+$/.test(text)) {
    throw new DiscoveryError("token", `the token file ${file} is empty or not a token — delete it and restart the daemon to make a new one`);
  }
  return text;
}

/**
 * Finds the daemon: TCP when `edgecoder.tcpAddress` is set (token from the settings, else the
 * token file), else the unix socket, which must exist. Throws a {@link DiscoveryError} that says
 * how to start the daemon or fix the token.
 */
export function discover(settings: Settings, env: Env = process.env): Discovered {
  const configFile = configPath(settings, env);
  let config: DaemonConfig = { groupAccess: false };
  let text: string | undefined;
  try {
    text = fs.readFileSync(configFile, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" || settings.configFile !== "") {
      throw new DiscoveryError("config", `cannot read the daemon's config ${configFile}: ${(error as Error).message} — check edgecoder.configFile`);
    }
  }
  if (text !== undefined) {
    config = parseDaemonConfig(text, configFile);
  }
  const token = (): string => settings.token || readToken(tokenPath(settings, config, env), config.groupAccess);
  if (settings.tcpAddress) {
    return { endpoint: { kind: "tcp", ...settings.tcpAddress }, token: token(), configFile };
  }
  const socket = socketPath(settings, config, env);
  try {
    fs.statSync(socket);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EACCES") {
      throw new DiscoveryError(
        "token",
        `cannot use the daemon's socket ${socket}: permission denied — it is a system service shared with its group: ask an administrator to run \`sudo adduser $USER edgecoder\`, then log in again`,
      );
    }
    throw new DiscoveryError("not-running", `the daemon is not running (nothing at ${socket}): ${START_HINT}`);
  }
  return { endpoint: { kind: "unix", socketPath: socket }, token: token(), configFile };
}

/** The endpoint in words, for the status bar's tooltip. */
export function describeEndpoint(endpoint: Endpoint): string {
  return endpoint.kind === "unix" ? `unix:${endpoint.socketPath}` : `http://${endpoint.host.includes(":") ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
}
