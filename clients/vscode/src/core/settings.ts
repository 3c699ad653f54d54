// The extension's settings (`edgecoder.*` in package.json), read through a getter so the same
// checks run in the extension and in tests; every problem comes back as a sentence naming the fix.

/** The extension's settings after checking, with defaults filled in. */
export interface Settings {
  /** The daemon's unix socket; empty: found like the CLI finds it. */
  socketPath: string;
  /** `HOST:PORT` of the daemon's TCP listener; set, it is used instead of the socket. */
  tcpAddress: { host: string; port: number } | null;
  /** The bearer token itself (TCP setups); empty: read from the token file. */
  token: string;
  /** The token file; empty: from the daemon's config, else `$XDG_STATE_HOME/edgecoder/token`. */
  tokenFile: string;
  /** The daemon's config file; empty: `$EDGECODER_CONFIG`, else the default location. */
  configFile: string;
  /** The `edgecoder` CLI (cloud-review decisions, model list, starting the daemon). */
  cliPath: string;
  /** Seconds between status checks of the daemon. */
  statusIntervalSecs: number;
  /** Most code versions the agent may test per task. */
  maxIterations: number;
  /** Ask the model for a plan first. */
  plan: boolean;
  /** Open VS Code's diff editor as soon as a task ends with a diff. */
  openDiffOnFinish: boolean;
  /** Inline (ghost-text) completions through the daemon. */
  inline: {
    /** Off unless the user turns it on. */
    enabled: boolean;
    /** Milliseconds of typing pause before a request. */
    debounceMs: number;
    /** Most tokens per completion. */
    maxTokens: number;
    /** Characters of text before the cursor sent as the prefix. */
    maxPrefixChars: number;
    /** Characters after the cursor sent as the suffix (fill-in-the-middle models). */
    maxSuffixChars: number;
  };
}

/** The defaults, as package.json declares them. */
export const DEFAULTS: Settings = {
  socketPath: "",
  tcpAddress: null,
  token: "",
  tokenFile: "",
  configFile: "",
  cliPath: "edgecoder",
  statusIntervalSecs: 10,
  maxIterations: 4,
  plan: true,
  openDiffOnFinish: true,
  inline: { enabled: false, debounceMs: 300, maxTokens: 48, maxPrefixChars: 4000, maxSuffixChars: 1000 },
};

/** Reads one setting by its key below `edgecoder.` (`undefined` when unset). */
export type SettingGetter = (key: string) => unknown;

/** Settings and the problems found reading them (each falls back to its default). */
export interface ReadSettings {
  /** The usable settings. */
  settings: Settings;
  /** One sentence per bad value, naming the setting and what to put there. */
  problems: string[];
}

/** Parses `HOST:PORT` of a loopback TCP listener (`127.0.0.1:11435`, `localhost:1`, `[::1]:2`). */
export function parseTcpAddress(text: string): { host: string; port: number } {
  const trimmed = text.trim().replace(/^https?:\/\//, "").replace(/\/+$/, "");
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(trimmed);
  if (!match) {
    throw new Error(`"${text}" is not HOST:PORT — use the daemon's listen address, e.g. 127.0.0.1:11435`);
  }
  const host = match[1]!.replace(/^\[|\]$/g, "");
  const port = Number(match[2]);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`port ${match[2]} in "${text}" is out of range: use 1 to 65535`);
  }
  return { host, port };
}

/** Reads and checks every setting through `get`. */
export function readSettings(get: SettingGetter): ReadSettings {
  const problems: string[] = [];
  const text = (key: string, fallback: string): string => {
    const value = get(key);
    if (value === undefined || value === null) {
      return fallback;
    }
    if (typeof value !== "string") {
      problems.push(`edgecoder.${key} must be text; using "${fallback}"`);
      return fallback;
    }
    return value.trim();
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const value = get(key);
    if (value === undefined || value === null) {
      return fallback;
    }
    if (typeof value !== "boolean") {
      problems.push(`edgecoder.${key} must be true or false; using ${fallback}`);
      return fallback;
    }
    return value;
  };
  const integer = (key: string, fallback: number, min: number, max: number): number => {
    const value = get(key);
    if (value === undefined || value === null) {
      return fallback;
    }
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      problems.push(`edgecoder.${key} = ${JSON.stringify(value)} is out of range: use a whole number from ${min} to ${max}; using ${fallback}`);
      return fallback;
    }
    return value;
  };

  let tcpAddress: Settings["tcpAddress"] = null;
  const tcp = text("tcpAddress", "");
  if (tcp !== "") {
    try {
      tcpAddress = parseTcpAddress(tcp);
    } catch (error) {
      problems.push(`edgecoder.tcpAddress: ${(error as Error).message}; using the unix socket`);
    }
  }
  const token = text("token", "");
  if (token !== "" && !/^[A-Za-z0-9_-]{16,}$/.test(token)) {
    problems.push("edgecoder.token is not a daemon token (16 or more letters, digits, - or _): paste the output of `edgecoder token`");
  }
  const settings: Settings = {
    socketPath: text("socketPath", DEFAULTS.socketPath),
    tcpAddress,
    token: problems.some((p) => p.startsWith("edgecoder.token ")) ? "" : token,
    tokenFile: text("tokenFile", DEFAULTS.tokenFile),
    configFile: text("configFile", DEFAULTS.configFile),
    cliPath: text("cliPath", DEFAULTS.cliPath) || DEFAULTS.cliPath,
    statusIntervalSecs: integer("statusIntervalSecs", DEFAULTS.statusIntervalSecs, 2, 3600),
    maxIterations: integer("maxIterations", DEFAULTS.maxIterations, 1, 50),
    plan: flag("plan", DEFAULTS.plan),
    openDiffOnFinish: flag("openDiffOnFinish", DEFAULTS.openDiffOnFinish),
    inline: {
      enabled: flag("inlineCompletion.enabled", DEFAULTS.inline.enabled),
      debounceMs: integer("inlineCompletion.debounceMs", DEFAULTS.inline.debounceMs, 0, 5000),
      maxTokens: integer("inlineCompletion.maxTokens", DEFAULTS.inline.maxTokens, 1, 512),
      maxPrefixChars: integer("inlineCompletion.maxPrefixChars", DEFAULTS.inline.maxPrefixChars, 100, 100_000),
      maxSuffixChars: integer("inlineCompletion.maxSuffixChars", DEFAULTS.inline.maxSuffixChars, 0, 100_000),
    },
  };
  return { settings, problems };
}
