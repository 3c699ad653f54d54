// The status bar's text from a recorded status and review list (test/fixtures/).
import * as fs from "node:fs";
import * as path from "node:path";

import { describe, expect, it } from "vitest";

import { type DaemonStatus, type ReviewEntry, reviewChanges } from "../../src/core/client";
import { emptyTimeline } from "../../src/core/events";
import { statusView } from "../../src/core/status";

const fixtures = path.resolve(__dirname, "../fixtures");
const status: DaemonStatus = JSON.parse(fs.readFileSync(path.join(fixtures, "status.json"), "utf8"));
const reviews: ReviewEntry[] = JSON.parse(fs.readFileSync(path.join(fixtures, "reviews.json"), "utf8"));
const where = "unix:/run/user/1000/edgecoder/edgecoderd.sock";

describe("the status bar", () => {
  it("says local, with the model, when nothing is queued", () => {
    const view = statusView({ daemon: { up: true, status, where }, reviews: [], task: undefined });
    expect(view.where).toBe("local");
    expect(view.text).toBe(`$(device-desktop) EdgeCoder: local · ${status.model}`);
    expect(view.tooltip).toContain(`provider: ${status.provider}`);
    expect(view.tooltip).toContain("running locally");
    expect(view.severity).toBe("normal");
  });

  it("says queued for cloud while a review entry is open", () => {
    expect(reviews.length).toBeGreaterThan(0);
    const view = statusView({ daemon: { up: true, status, where }, reviews, task: undefined });
    expect(view.where).toBe("queued");
    expect(view.text).toBe(`$(cloud-upload) EdgeCoder: ${reviews.length} queued for cloud`);
    expect(view.tooltip).toContain("nothing leaves the device until you send it");
    const decided = reviews.map((r) => ({ ...r, stage: "decided" as const }));
    expect(statusView({ daemon: { up: true, status, where }, reviews: decided, task: undefined }).where).toBe("local");
  });

  it("shows a running task's state", () => {
    const task = emptyTimeline("t", "x");
    task.state = "test";
    task.iterations.push({ number: 2 });
    expect(statusView({ daemon: { up: true, status, where }, reviews: [], task }).text).toBe("$(sync~spin) EdgeCoder: running locally — test #2");
  });

  it("says the daemon is down, with the reason as the tooltip", () => {
    const view = statusView({ daemon: { up: false, error: "the daemon is not running: start it with `edgecoder serve`" }, reviews, task: undefined });
    expect(view).toMatchObject({ where: "down", severity: "error", text: "$(circle-slash) EdgeCoder: daemon down" });
    expect(view.tooltip).toContain("edgecoder serve");
  });

  it("warns when no model is loaded", () => {
    const view = statusView({ daemon: { up: true, status: { ...status, model: null }, where }, reviews: [], task: undefined });
    expect(view.severity).toBe("warning");
    expect(view.tooltip).toContain("edgecoder model pull");
  });
});

describe("review queue changes (the polling fallback)", () => {
  it("announce an entry that reaches answered or failed, as the daemon's stream does", () => {
    const held = reviews[0]!;
    expect(reviewChanges([], reviews, true)).toEqual([{ kind: "reviews", entries: reviews }]);
    const answered = [{ ...held, stage: "answered" as const, has_result: true }];
    expect(reviewChanges([{ ...held, stage: "sent" }], answered)).toEqual([
      { kind: "reviews", entries: answered },
      { kind: "answered", id: held.id, task: held.task, last_error: null },
    ]);
    const failed = [{ ...held, stage: "failed" as const, last_error: "the review server is unreachable" }];
    expect(reviewChanges([held], failed)[1]).toEqual({ kind: "failed", id: held.id, task: held.task, last_error: "the review server is unreachable" });
    expect(reviewChanges([], answered)).toHaveLength(1);
  });
});
