// The reducer over a recorded real event stream (test/fixtures/task-calc.sse, recorded from
// edgecoderd by scripts/record-fixtures): it must tell the same story as the daemon's own view.
import * as fs from "node:fs";
import * as path from "node:path";

import { describe, expect, it } from "vitest";

import { applyDiff } from "../../src/core/diff";
import { type AgentEvent, describeStatus, emptyTimeline, isFinished, parseAgentEvent, pendingDiff, reduce, testCounts } from "../../src/core/events";
import { parseSse } from "../../src/core/sse";

const fixtures = path.resolve(__dirname, "../fixtures");
const sse = parseSse(fs.readFileSync(path.join(fixtures, "task-calc.sse"), "utf8"));
const view = JSON.parse(fs.readFileSync(path.join(fixtures, "task-calc.view.json"), "utf8"));
const events: AgentEvent[] = sse.map((e) => parseAgentEvent(e.data));

describe("a recorded task's events", () => {
  it("are named and numbered as the daemon sends them", () => {
    expect(sse.length).toBe(view.events);
    expect(sse.map((e) => e.id)).toEqual(sse.map((_, i) => String(i)));
    for (const [i, e] of sse.entries()) {
      expect(e.event).toBe(events[i]!.event);
    }
    expect(events[0]!.event).toBe("started");
    expect(events[events.length - 1]!.event).toBe("finished");
  });

  it("fold into the timeline the daemon reports", () => {
    const timeline = emptyTimeline(view.id, "");
    const seen: string[] = [];
    for (const event of events) {
      reduce(timeline, event);
      seen.push(timeline.state);
    }
    expect(isFinished(timeline)).toBe(true);
    expect(timeline.taskId).toBe(view.id);
    expect(timeline.state).toBe(view.state);
    expect(timeline.target).toBe("calc.py");
    expect(timeline.report).toEqual(view.report);
    expect(timeline.iterations).toHaveLength(view.report.stats.iterations);
    expect(timeline.plan).toBeDefined();
    expect(timeline.tests?.origin).toBe("user_file");
    expect(timeline.live).toBeNull();
    const transitions = events.filter((e) => e.event === "transition").length;
    expect(view.steps).toHaveLength(transitions);
    const last = timeline.iterations[timeline.iterations.length - 1]!;
    expect(last.passed).toBe(true);
    const counts = testCounts(last.report!);
    expect(counts.passed).toBe(counts.total);
    expect(last.report!.tests.map((t) => describeStatus(t.status))).toEqual(last.report!.tests.map(() => "passed"));
  });

  it("stream the model's text into the live view until the next transition", () => {
    const timeline = emptyTimeline("t", "");
    const firstToken = events.findIndex((e) => e.event === "token");
    expect(firstToken).toBeGreaterThan(0);
    let text = "";
    for (const event of events.slice(0, firstToken + 1)) {
      reduce(timeline, event);
      if (event.event === "token") text += event.text;
    }
    expect(timeline.live?.text).toBe(text);
    const next = events.findIndex((e, i) => i > firstToken && e.event === "transition");
    for (const event of events.slice(firstToken + 1, next + 1)) {
      reduce(timeline, event);
    }
    expect(timeline.live).toBeNull();
  });

  it("end in a diff that turns the workspace's file into the tested code", () => {
    const timeline = events.reduce((t, e) => reduce(t, e), emptyTimeline("", ""));
    const pending = pendingDiff(timeline)!;
    expect(pending.target).toBe("calc.py");
    expect(applyDiff("def add(a, b):\n    return a - b\n", pending.diff)).toBe(timeline.report!.code);
    reduce(timeline, { event: "rejected", reason: "rejected by the client; nothing was written" });
    expect(pendingDiff(timeline)).toBeUndefined();
  });

  it("refuse payloads that are not agent events", () => {
    expect(() => parseAgentEvent("{")).toThrow(/not JSON/);
    expect(() => parseAgentEvent('{"event":"exploded"}')).toThrow(/unknown agent event/);
  });
});
