// The daemon's MCP tools over streamable HTTP at `/mcp` (daemon/src/mcp/mod.rs, rmcp): one
// session per call — initialize, the `initialized` notification, `tools/call`, then DELETE — used
// for `search_code`, which searches with the daemon's own index and embedding model.

import { DaemonError, type Transport, httpError } from "./http";
import { parseSse } from "./sse";

/** The MCP protocol version the extension speaks (sessions, SSE answers). */
export const MCP_PROTOCOL_VERSION = "2025-06-18";

/** One search hit of `search_code` / `search_docs` (`retrieval` hits). */
export interface SearchHit {
  /** File, relative to the workspace. */
  path: string;
  /** Definition name or heading path. */
  name: string;
  /** `function`, `class`, `method`, `section`, … */
  kind: string;
  /** First line, 1-based. */
  start_line: number;
  /** Last line. */
  end_line: number;
  /** The ranking's score. */
  score: number;
  /** The chunk's text. */
  text: string;
}

/** What `search_code` answers. */
export interface SearchResult {
  /** `bm25`, `vector` or `fused`. */
  mode: string;
  /** Index notes (BM25 only, recoveries). */
  notes: string[];
  /** The hits, best first. */
  hits: SearchHit[];
}

interface JsonRpcAnswer {
  id?: number;
  result?: { content?: { type: string; text?: string }[]; isError?: boolean };
  error?: { code: number; message: string };
}

async function rpc(transport: Transport, id: number, method: string, params: unknown, headers: Record<string, string>): Promise<{ answer: JsonRpcAnswer; session?: string }> {
  const response = await transport.send("POST", "/mcp", {
    json: { jsonrpc: "2.0", id, method, params },
    headers: { Accept: "application/json, text/event-stream", ...headers },
    timeoutMs: 120_000,
  });
  if (response.status < 200 || response.status >= 300) {
    throw httpError("POST", "/mcp", response.status, response.body);
  }
  const type = String(response.headers["content-type"] ?? "");
  const messages: string[] = [];
  if (type.startsWith("text/event-stream")) {
    for (const event of parseSse(response.body)) {
      if (event.data.trim() !== "") {
        messages.push(event.data);
      }
    }
  } else {
    messages.push(response.body);
  }
  for (const message of messages) {
    const answer = JSON.parse(message) as JsonRpcAnswer;
    if (answer.id === id) {
      const session = response.headers["mcp-session-id"];
      return typeof session === "string" ? { answer, session } : { answer };
    }
  }
  throw new DaemonError("protocol", `the daemon's MCP server did not answer ${method}`);
}

/** Calls one MCP tool of the daemon and answers its text content (an error result throws with its text). */
export async function callTool(transport: Transport, name: string, args: Record<string, unknown>): Promise<string> {
  const init = await rpc(
    transport,
    1,
    "initialize",
    { protocolVersion: MCP_PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "edgecoder-vscode", version: "0.1.0" } },
    {},
  );
  if (init.answer.error) {
    throw new DaemonError("protocol", `the daemon's MCP server refused to start a session: ${init.answer.error.message}`);
  }
  const headers: Record<string, string> = { "MCP-Protocol-Version": MCP_PROTOCOL_VERSION };
  if (init.session) {
    headers["Mcp-Session-Id"] = init.session;
  }
  try {
    const note = await transport.send("POST", "/mcp", {
      json: { jsonrpc: "2.0", method: "notifications/initialized" },
      headers: { Accept: "application/json, text/event-stream", ...headers },
      timeoutMs: 10_000,
    });
    if (note.status < 200 || note.status >= 300) {
      throw httpError("POST", "/mcp", note.status, note.body);
    }
    const { answer } = await rpc(transport, 2, "tools/call", { name, arguments: args }, headers);
    if (answer.error) {
      throw new DaemonError("protocol", `the MCP tool ${name} failed: ${answer.error.message}`);
    }
    const text = (answer.result?.content ?? []).map((c) => c.text ?? "").join("");
    if (answer.result?.isError) {
      throw new DaemonError("http", `${name}: ${text}`);
    }
    return text;
  } finally {
    if (init.session) {
      await transport.send("DELETE", "/mcp", { headers, timeoutMs: 5_000 }).catch(() => undefined);
    }
  }
}

/** Searches the code of `workspace` (an absolute folder) with the daemon's `search_code` tool. */
export async function searchCode(transport: Transport, workspace: string, query: string, limit = 20): Promise<SearchResult> {
  const text = await callTool(transport, "search_code", { workspace, query, limit });
  try {
    return JSON.parse(text) as SearchResult;
  } catch {
    throw new DaemonError("protocol", `search_code answered something that is not JSON: ${text.slice(0, 200)}`);
  }
}
