import { describe, expect, it } from "vitest";

import { SseParser, parseSse } from "../../src/core/sse";

describe("the event-stream parser", () => {
  it("reads named events with ids and JSON data, as axum writes them", () => {
    const body = 'id: 0\nevent: started\ndata: {"event":"started"}\n\nid: 1\nevent: token\ndata: {"event":"token","text":"x"}\n\n';
    expect(parseSse(body)).toEqual([
      { event: "started", data: '{"event":"started"}', id: "0" },
      { event: "token", data: '{"event":"token","text":"x"}', id: "1" },
    ]);
  });

  it("joins multi-line data, skips comments (keep-alives) and defaults the name to message", () => {
    expect(parseSse(": keep-alive\n\ndata: a\ndata: b\n\n")).toEqual([{ event: "message", data: "a\nb" }]);
  });

  it("gives the same events whatever the chunking, CRLF split across chunks included", () => {
    const body = "event: reviews\r\ndata: []\r\n\r\nevent: answered\r\ndata: {\"id\":\"q1\"}\r\n\r\n";
    const whole = parseSse(body);
    for (let size = 1; size <= body.length; size++) {
      const parser = new SseParser();
      const events = [];
      for (let i = 0; i < body.length; i += size) {
        events.push(...parser.push(body.slice(i, i + size)));
      }
      expect(events, `chunks of ${size}`).toEqual(whole);
    }
    expect(whole.map((e) => e.event)).toEqual(["reviews", "answered"]);
  });

  it("drops an event that is not closed by an empty line, and events without data", () => {
    expect(parseSse("event: x\n\nevent: y\ndata: 1\n")).toEqual([]);
  });

  it("keeps text after the first colon and strips one leading space only", () => {
    expect(parseSse("data:  two spaces: and a colon\n\n")).toEqual([{ event: "message", data: " two spaces: and a colon" }]);
  });
});
