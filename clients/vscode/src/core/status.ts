// What the status bar says, worked out without VS Code: daemon up or down, model and provider,
// and the constant "running locally" vs "queued for cloud" state.

import type { ReviewEntry, DaemonStatus } from "./client";
import type { Timeline } from "./events";

/** What the extension knows at one moment. */
export interface StatusInput {
  /** The daemon's status, or the reason it cannot be reached. */
  daemon: { up: true; status: DaemonStatus; where: string } | { up: false; error: string };
  /** The cloud-review queue (empty when unknown). */
  reviews: ReviewEntry[];
  /** The task the sidebar shows, if any. */
  task: Timeline | undefined;
}

/** The status bar item's content. */
export interface StatusView {
  /** The text, with `$(icon)` codicons. */
  text: string;
  /** The tooltip (Markdown-free plain text). */
  tooltip: string;
  /** `error` (daemon down), `warning` (provider unhealthy) or `normal`. */
  severity: "error" | "warning" | "normal";
  /** `local`: everything runs on this device now; `queued`: something waits for cloud review. */
  where: "local" | "queued" | "down";
}

/** The review stages that mean "this work is waiting on the cloud". */
const OPEN_STAGES = new Set(["held", "waiting", "sent", "answered", "failed"]);

/** Builds the status bar item's content. */
export function statusView(input: StatusInput): StatusView {
  if (!input.daemon.up) {
    return { text: "$(circle-slash) EdgeCoder: daemon down", tooltip: input.daemon.error, severity: "error", where: "down" };
  }
  const status = input.daemon.status;
  const active = status.providers.find((p) => p.active);
  const model = status.model ?? "no model loaded";
  const open = input.reviews.filter((r) => OPEN_STAGES.has(r.stage));
  const answered = open.filter((r) => r.stage === "answered").length;
  const task = input.task;
  const running = task !== undefined && task.report === undefined;
  const queuedTask = task?.report?.state === "queued_for_cloud";
  const where: StatusView["where"] = open.length > 0 || queuedTask ? "queued" : "local";

  let text: string;
  if (running) {
    const iteration = task.iterations.length > 0 ? ` #${task.iterations[task.iterations.length - 1]!.number}` : "";
    text = `$(sync~spin) EdgeCoder: running locally — ${task.state}${iteration}`;
  } else if (where === "queued") {
    const n = Math.max(open.length, queuedTask ? 1 : 0);
    text = `$(cloud-upload) EdgeCoder: ${n} queued for cloud${answered > 0 ? ` (${answered} answered)` : ""}`;
  } else {
    text = `$(device-desktop) EdgeCoder: local · ${model}`;
  }
  const lines = [
    `EdgeCoder daemon ${status.version} at ${input.daemon.where}`,
    `model: ${model}`,
    `provider: ${status.provider}${active && !active.ok ? ` (unhealthy: ${active.detail})` : ""}`,
    `model queue: ${status.queue_waiting}/${status.queue_capacity} waiting`,
    where === "queued"
      ? `cloud review: ${open.length} entr${open.length === 1 ? "y" : "ies"} not decided yet (${open.map((r) => `${r.id} ${r.stage}`).join(", ") || "the last task"}) — nothing leaves the device until you send it`
      : "running locally: nothing is queued for the cloud",
  ];
  if (!status.model) {
    lines.push("no local model is loaded: run `edgecoder model pull MODEL`, then EdgeCoder: Switch model");
  }
  const severity = (active && !active.ok) || !status.model ? "warning" : "normal";
  return { text, tooltip: lines.join("\n"), severity, where };
}
