// A parser for server-sent events (the WHATWG `text/event-stream` format) that takes the body in
// chunks as they arrive, so a task's events reach the sidebar while the agent works.

/** One server-sent event: its `event:` name (default `message`), joined `data:` lines and `id:`. */
export interface SseEvent {
  /** The event's name (`started`, `transition`, `reviews`, …; `message` when the server named none). */
  event: string;
  /** The data lines joined with `\n`. */
  data: string;
  /** The last `id:` seen, if any. */
  id?: string;
}

/**
 * An incremental event-stream parser: feed it decoded text in any chunking (a chunk may end in
 * the middle of a line or of a CRLF pair) and it returns the events completed so far.
 */
export class SseParser {
  private buffer = "";
  private event = "";
  private data: string[] = [];
  private lastId: string | undefined;
  private pendingCr = false;

  /** Parses `chunk` and returns the events it completed (an event ends at an empty line). */
  push(chunk: string): SseEvent[] {
    let text = chunk;
    if (this.pendingCr) {
      this.pendingCr = false;
      if (text.startsWith("\n")) {
        text = text.slice(1);
      }
    }
    this.buffer += text;
    const out: SseEvent[] = [];
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer);
      if (!match) {
        break;
      }
      if (match[0] === "\r" && match.index === this.buffer.length - 1) {
        // A lone CR at the end may be the first half of CRLF: wait for the next chunk.
        this.pendingCr = true;
        const line = this.buffer.slice(0, match.index);
        this.buffer = "";
        this.line(line, out);
        break;
      }
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      this.line(line, out);
    }
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === "") {
      if (this.data.length > 0) {
        const event: SseEvent = { event: this.event || "message", data: this.data.join("\n") };
        if (this.lastId !== undefined) {
          event.id = this.lastId;
        }
        out.push(event);
      }
      this.event = "";
      this.data = [];
      return;
    }
    if (line.startsWith(":")) {
      return;
    }
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) {
      value = value.slice(1);
    }
    switch (field) {
      case "event":
        this.event = value;
        break;
      case "data":
        this.data.push(value);
        break;
      case "id":
        if (!value.includes("\0")) {
          this.lastId = value;
        }
        break;
      default:
        break;
    }
  }
}

/** Parses a whole event-stream body (a recorded stream) into its events; an event without its closing empty line is dropped, as the format says. */
export function parseSse(body: string): SseEvent[] {
  const parser = new SseParser();
  return parser.push(body);
}
