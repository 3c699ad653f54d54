// The messages between the extension and the sidebar's script (both directions), shared so the
// two sides cannot drift apart.

import type { ReviewResultView } from "../core/cli";
import type { ReviewEntry } from "../core/client";
import type { AgentEvent, Decision, Timeline } from "../core/events";
import type { StatusView } from "../core/status";

/** Where a task's context comes from. */
export type ContextKind = "selection" | "file" | "workspace";

/** Extension → sidebar. */
export type ToWebview =
  | { type: "status"; view: StatusView }
  | { type: "task"; timeline: Timeline }
  | { type: "event"; event: AgentEvent }
  | { type: "decision"; decision: Decision }
  | { type: "reviews"; entries: ReviewEntry[] }
  | { type: "review-result"; id: string; result: ReviewResultView }
  | { type: "error"; message: string };

/** Sidebar → extension. */
export type FromWebview =
  | { type: "ready" }
  | { type: "run"; task: string; context: ContextKind }
  | { type: "cancel" }
  | { type: "show-diff" }
  | { type: "apply" }
  | { type: "reject" }
  | { type: "review-open"; id: string }
  | { type: "review-send"; id: string }
  | { type: "review-accept"; id: string }
  | { type: "review-reject"; id: string }
  | { type: "review-edit"; id: string };
