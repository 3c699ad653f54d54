// HTTP to the daemon with Node's own `http` module: over the unix socket (`socketPath`) or
// loopback TCP, always with the bearer token and a loopback `Host` (the daemon's DNS-rebinding
// guard refuses others), plus server-sent-event streams read as they arrive.

import * as http from "node:http";

import { type Endpoint, START_HINT, describeEndpoint } from "./discovery";
import { type SseEvent, SseParser } from "./sse";

/** Why a call to the daemon failed; `message` says what to do. */
export class DaemonError extends Error {
  /** `unreachable`: nothing answers; `http`: an error status; `protocol`: an unreadable answer; `aborted`: cancelled. */
  readonly kind: "unreachable" | "http" | "protocol" | "aborted";
  /** The HTTP status, for `http`. */
  readonly status: number | undefined;

  /** An error of `kind` (with the HTTP `status`, when there is one). */
  constructor(kind: "unreachable" | "http" | "protocol" | "aborted", message: string, status?: number) {
    super(message);
    this.name = "DaemonError";
    this.kind = kind;
    this.status = status;
  }
}

/** One HTTP answer, read whole. */
export interface RawResponse {
  /** The status code. */
  status: number;
  /** The headers (lower-case names). */
  headers: http.IncomingHttpHeaders;
  /** The body as text. */
  body: string;
}

/** Options of one request. */
export interface RequestOptions {
  /** A JSON body (sent with `Content-Type: application/json`). */
  json?: unknown;
  /** More headers. */
  headers?: Record<string, string>;
  /** Cancels the request. */
  signal?: AbortSignal;
  /** Gives up after this many milliseconds without the whole answer. */
  timeoutMs?: number;
}

/** The daemon's error text from an error body (`{"error": {"message"}}` or `{"error": "…"}`). */
export function errorMessage(body: string): string {
  try {
    const value = JSON.parse(body) as { error?: unknown };
    const error = value.error;
    if (typeof error === "string") {
      return error;
    }
    if (typeof error === "object" && error !== null && typeof (error as { message?: unknown }).message === "string") {
      return (error as { message: string }).message;
    }
  } catch {
    // Not JSON: the body itself is the message.
  }
  return body.trim() || "(no message)";
}

/** A connection to one daemon (endpoint + token); every method is one HTTP exchange. */
export class Transport {
  /** Where the daemon answers. */
  readonly endpoint: Endpoint;
  private readonly token: string;

  /** A transport to `endpoint` that sends `token`. */
  constructor(endpoint: Endpoint, token: string) {
    this.endpoint = endpoint;
    this.token = token;
  }

  private options(method: string, path: string, headers: Record<string, string>): http.RequestOptions {
    const base: http.RequestOptions = {
      method,
      path,
      headers: { Authorization: `Bearer ${this.token}`, ...headers },
      agent: false,
    };
    if (this.endpoint.kind === "unix") {
      base.socketPath = this.endpoint.socketPath;
      base.headers = { Host: "localhost", ...base.headers };
    } else {
      base.host = this.endpoint.host;
      base.port = this.endpoint.port;
    }
    return base;
  }

  private unreachable(error: NodeJS.ErrnoException): DaemonError {
    const where = describeEndpoint(this.endpoint);
    if (error.code === "EACCES") {
      return new DaemonError(
        "unreachable",
        `cannot use the daemon at ${where}: permission denied — if it is the system service, ask an administrator to run \`sudo adduser $USER edgecoder\`, then log in again`,
      );
    }
    if (error.code === "ECONNREFUSED" || error.code === "ENOENT" || error.code === "ECONNRESET") {
      return new DaemonError("unreachable", `the daemon is not running (nothing answers on ${where}): ${START_HINT}`);
    }
    return new DaemonError("unreachable", `cannot reach the daemon at ${where}: ${error.message}`);
  }

  private open(method: string, path: string, options: RequestOptions): Promise<http.IncomingMessage> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    let payload: string | undefined;
    if (options.json !== undefined) {
      payload = JSON.stringify(options.json);
      headers["Content-Type"] = "application/json";
      headers["Content-Length"] = String(Buffer.byteLength(payload));
    }
    return new Promise((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(new DaemonError("aborted", `${method} ${path} was cancelled`));
        return;
      }
      const request = http.request(this.options(method, path, headers));
      const onAbort = (): void => {
        request.destroy(new DaemonError("aborted", `${method} ${path} was cancelled`));
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
      let timer: NodeJS.Timeout | undefined;
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          request.destroy(new DaemonError("unreachable", `the daemon at ${describeEndpoint(this.endpoint)} did not answer ${method} ${path} within ${options.timeoutMs} ms`));
        }, options.timeoutMs);
      }
      const done = (): void => {
        if (timer) {
          clearTimeout(timer);
        }
        options.signal?.removeEventListener("abort", onAbort);
      };
      request.on("error", (error: NodeJS.ErrnoException) => {
        done();
        reject(error instanceof DaemonError ? error : this.unreachable(error));
      });
      request.on("response", (response) => {
        done();
        if (options.signal) {
          const stop = (): void => {
            response.destroy(new DaemonError("aborted", `${method} ${path} was cancelled`));
          };
          options.signal.addEventListener("abort", stop, { once: true });
          response.on("close", () => options.signal?.removeEventListener("abort", stop));
        }
        resolve(response);
      });
      request.end(payload);
    });
  }

  /** Sends a request and reads the whole answer, whatever its status. */
  async send(method: string, path: string, options: RequestOptions = {}): Promise<RawResponse> {
    const response = await this.open(method, path, options);
    response.setEncoding("utf8");
    let body = "";
    try {
      for await (const chunk of response) {
        body += chunk as string;
      }
    } catch (error) {
      throw error instanceof DaemonError ? error : new DaemonError("unreachable", `the daemon's answer to ${method} ${path} broke off: ${(error as Error).message}`);
    }
    return { status: response.statusCode ?? 0, headers: response.headers, body };
  }

  /** Sends a request and decodes its JSON answer; an error status becomes a {@link DaemonError} with the daemon's message. */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, { ...options, headers: { Accept: "application/json", ...(options.headers ?? {}) } });
    if (response.status < 200 || response.status >= 300) {
      throw httpError(method, path, response.status, response.body);
    }
    try {
      return JSON.parse(response.body) as T;
    } catch {
      throw new DaemonError("protocol", `the daemon's answer to ${method} ${path} is not JSON: ${response.body.slice(0, 200)}`);
    }
  }

  /**
   * Opens a server-sent-event stream and yields its events as they arrive, until the daemon ends
   * it or `signal` aborts it (then the generator just returns).
   */
  async *events(path: string, signal?: AbortSignal, headers: Record<string, string> = {}, method = "GET", json?: unknown): AsyncGenerator<SseEvent> {
    const options: RequestOptions = { headers: { Accept: "text/event-stream", ...headers } };
    if (signal) {
      options.signal = signal;
    }
    if (json !== undefined) {
      options.json = json;
    }
    let response: http.IncomingMessage;
    try {
      response = await this.open(method, path, options);
    } catch (error) {
      if (error instanceof DaemonError && error.kind === "aborted") {
        return;
      }
      throw error;
    }
    response.setEncoding("utf8");
    if ((response.statusCode ?? 0) < 200 || (response.statusCode ?? 0) >= 300) {
      let body = "";
      for await (const chunk of response) {
        body += chunk as string;
      }
      throw httpError(method, path, response.statusCode ?? 0, body);
    }
    const parser = new SseParser();
    try {
      for await (const chunk of response) {
        yield* parser.push(chunk as string);
      }
    } catch (error) {
      if (signal?.aborted) {
        return;
      }
      throw new DaemonError("unreachable", `the daemon's event stream ${path} broke off: ${(error as Error).message} — is the daemon still running?`);
    }
  }
}

/** The error of an error status, with the daemon's message and what to do for 401/403. */
export function httpError(method: string, path: string, status: number, body: string): DaemonError {
  const message = errorMessage(body);
  let hint = "";
  if (status === 401) {
    hint = " — the extension's token does not match the daemon's: check edgecoder.token / edgecoder.tokenFile (`edgecoder token` prints the right one)";
  } else if (status === 403) {
    hint = " — the daemon only answers loopback names: use 127.0.0.1 or localhost in edgecoder.tcpAddress";
  }
  return new DaemonError("http", `the daemon answered ${status} to ${method} ${path}: ${message}${hint}`, status);
}
