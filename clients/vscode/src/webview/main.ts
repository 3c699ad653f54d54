// The sidebar's script (bundled to dist/webview.js, run under the page's CSP): it folds the task's
// events with the same reducer as the extension and draws the plan, each iteration's code and
// test run, the live model output, the diff with Apply / Reject, and the cloud-review queue.
// Every piece of untrusted text (code, test output, task text) goes in through `textContent`.

import type { ReviewResultView } from "../core/cli";
import type { ReviewEntry } from "../core/client";
import { type Iteration, type Timeline, describeStatus, pendingDiff, reduce, testCounts } from "../core/events";
import type { StatusView } from "../core/status";
import type { ContextKind, FromWebview, ToWebview } from "./protocol";

interface VsCodeApi {
  postMessage(message: FromWebview): void;
  getState(): unknown;
  setState(state: unknown): void;
}

declare function acquireVsCodeApi(): VsCodeApi;

interface ViewState {
  status?: StatusView;
  timeline?: Timeline;
  reviews: ReviewEntry[];
  results: Record<string, ReviewResultView>;
  error?: string;
  draft: string;
  context: ContextKind;
}

const vscode = acquireVsCodeApi();
const saved = vscode.getState() as Partial<ViewState> | undefined;
const state: ViewState = { reviews: [], results: {}, draft: "", context: "file", ...(saved ?? {}) };

type Child = Node | string | null | undefined | false;

/** Creates an element; strings become text nodes, never HTML. */
function h(tag: string, props: { class?: string; title?: string; type?: string; [data: `data-${string}`]: string } = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "class") {
      el.className = value;
    } else {
      el.setAttribute(key, value);
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    el.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

function button(label: string, message: FromWebview, kind: "primary" | "secondary" = "secondary"): HTMLElement {
  const el = h("button", { class: `button ${kind}`, type: "button", "data-action": message.type }, label);
  el.addEventListener("click", () => vscode.postMessage(message));
  return el;
}

function pre(text: string, cls = "code"): HTMLElement {
  return h("pre", { class: cls }, h("code", {}, text));
}

/** A unified diff with each line classed by its kind. */
function diffView(diff: string): HTMLElement {
  const out = h("pre", { class: "diff" });
  for (const line of diff.replace(/\n$/, "").split("\n")) {
    let cls = "ctx";
    if (line.startsWith("+++") || line.startsWith("---")) cls = "meta";
    else if (line.startsWith("@@")) cls = "hunk";
    else if (line.startsWith("+")) cls = "add";
    else if (line.startsWith("-")) cls = "del";
    else if (line.startsWith("\\")) cls = "meta";
    out.append(h("span", { class: `line ${cls}` }, line === "" ? " " : line));
  }
  return out;
}

function section(title: string, ...children: Child[]): HTMLElement {
  return h("section", { class: "card" }, h("h2", {}, title), ...children);
}

const STATE_LABEL: Record<string, string> = {
  plan: "planning",
  code: "writing code",
  test: "running the tests",
  observe: "reading the test report",
  fix: "fixing",
  done: "done",
  gave_up: "gave up",
  queued_for_cloud: "queued for cloud review",
};

function header(): HTMLElement {
  const status = state.status;
  const where = status?.where ?? "down";
  const badge = where === "local" ? "running locally" : where === "queued" ? "queued for cloud" : "daemon down";
  return h(
    "header",
    { class: `status ${where}`, title: status?.tooltip ?? "" },
    h("span", { class: `badge ${where}` }, badge),
    h("span", { class: "status-text" }, status ? status.text.replace(/\$\([^)]*\)\s*/g, "") : "connecting to the daemon…"),
  );
}

function form(): HTMLElement {
  const area = h("textarea", { class: "task-input", "data-role": "task", title: "What should the code do?" }) as HTMLTextAreaElement;
  area.placeholder = "Describe the change: e.g. “fix add() so the tests pass”";
  area.value = state.draft;
  area.addEventListener("input", () => {
    state.draft = area.value;
    vscode.setState(state);
  });
  const select = h("select", { "data-role": "context", title: "What the agent gets as context" }) as HTMLSelectElement;
  for (const [value, label] of [
    ["file", "current file"],
    ["selection", "selection"],
    ["workspace", "workspace"],
  ] as const) {
    const option = h("option", {}, label) as HTMLOptionElement;
    option.value = value;
    option.selected = state.context === value;
    select.append(option);
  }
  select.addEventListener("change", () => {
    state.context = select.value as ContextKind;
    vscode.setState(state);
  });
  const run = h("button", { class: "button primary", type: "button", "data-action": "run" }, "Plan & code");
  run.addEventListener("click", () => {
    const task = area.value.trim();
    if (task !== "") {
      vscode.postMessage({ type: "run", task, context: state.context });
    }
  });
  const running = state.timeline !== undefined && state.timeline.report === undefined;
  const row = h("div", { class: "row" }, h("label", {}, "Context ", select), running ? button("Cancel", { type: "cancel" }) : run);
  return h("div", { class: "card task-form" }, area, row);
}

function iterationView(it: Iteration, timeline: Timeline): HTMLElement {
  const parts: Child[] = [];
  if (it.code !== undefined) {
    parts.push(h("h3", {}, it.number === 1 ? "Code" : "Fix"));
    parts.push(it.diffFromPrevious ? diffView(it.diffFromPrevious) : pre(it.code));
  }
  if (it.report) {
    const { passed, total } = testCounts(it.report);
    parts.push(h("h3", {}, `Test run: ${passed}/${total} passed`, h("span", { class: `pill ${it.passed ? "ok" : "bad"}` }, it.passed ? "pass" : "fail")));
    const list = h("ul", { class: "tests" });
    for (const test of it.report.tests) {
      const ok = test.status === "passed";
      list.append(h("li", { class: ok ? "ok" : "bad" }, h("span", { class: "name" }, test.name), " ", describeStatus(test.status)));
    }
    parts.push(list);
    const output = [it.report.run.stdout, it.report.run.stderr].filter((s) => s.trim() !== "").join("\n");
    if (output !== "") {
      parts.push(h("details", { class: "output" }, h("summary", {}, "Output"), pre(output, "output")));
    }
    parts.push(h("p", { class: "muted" }, `ran in ${(it.report.run.wall_time_us / 1000).toFixed(1)} ms in the sandbox`));
  }
  if (it.diagnosis) {
    parts.push(h("p", { class: "diagnosis" }, it.diagnosis.summary));
  }
  const current = timeline.report === undefined && it === timeline.iterations[timeline.iterations.length - 1];
  return h("section", { class: `card iteration${current ? " current" : ""}`, "data-iteration": String(it.number) }, h("h2", {}, `Iteration ${it.number}`), ...parts);
}

function taskView(timeline: Timeline): HTMLElement[] {
  const out: HTMLElement[] = [];
  const meta = [timeline.model && `model ${timeline.model}`, timeline.target && `file ${timeline.target}`, timeline.lang].filter(Boolean).join(" · ");
  out.push(
    h(
      "section",
      { class: "card task" },
      h("h2", {}, "Task"),
      h("p", { class: "task-text" }, timeline.task),
      h("p", { class: "muted" }, `${meta}${meta ? " · " : ""}${STATE_LABEL[timeline.state] ?? timeline.state} · ${timeline.tokens} tokens · ${(timeline.elapsedMs / 1000).toFixed(1)} s`),
    ),
  );
  if (timeline.retrieved && timeline.retrieved.chunks.length > 0) {
    const list = h("ul", { class: "chunks" });
    for (const c of timeline.retrieved.chunks) {
      list.append(h("li", {}, `${c.path}:${c.start_line}-${c.end_line} `, h("span", { class: "muted" }, c.name)));
    }
    out.push(section(`Context (${timeline.retrieved.mode || "none"})`, list));
  }
  if (timeline.plan !== undefined) {
    const tests = timeline.tests;
    out.push(
      section(
        "Plan",
        timeline.plan.trim() !== "" ? pre(timeline.plan, "plan") : h("p", { class: "muted" }, "planning was off"),
        h("h3", {}, tests ? `Tests (${tests.origin.replace(/_/g, " ")})` : "Tests: none — the code will be unverified"),
        tests ? pre(tests.source) : null,
        tests?.origin === "model_written" ? h("p", { class: "warn" }, "The model wrote these tests: check them, they may be wrong.") : null,
      ),
    );
  }
  for (const it of timeline.iterations) {
    out.push(iterationView(it, timeline));
  }
  if (timeline.live && timeline.live.text !== "") {
    out.push(section(`Live: ${STATE_LABEL[timeline.live.state] ?? timeline.live.state}`, pre(timeline.live.text, "live")));
  }
  const report = timeline.report;
  if (report) {
    const cls = report.state === "done" ? "ok" : report.state === "queued_for_cloud" ? "queued" : "bad";
    const end = section("Result", h("p", { class: `result ${cls}` }, report.message));
    if (timeline.refused) {
      end.append(h("p", { class: "muted" }, `${timeline.refused.reason}: ${timeline.refused.construct} (line ${timeline.refused.line})`));
      if (timeline.refused.queueId) {
        end.append(h("div", { class: "row" }, button("Send for cloud review", { type: "review-send", id: timeline.refused.queueId }, "primary")));
      }
    }
    const pending = pendingDiff(timeline);
    if (pending) {
      end.append(
        h("h3", {}, `Proposed change to ${pending.target}`),
        diffView(pending.diff),
        h("div", { class: "row actions" }, button("Apply", { type: "apply" }, "primary"), button("Show diff", { type: "show-diff" }), button("Reject", { type: "reject" })),
      );
    } else if (report.state === "done" && !report.target && report.code) {
      end.append(h("h3", {}, "Code"), pre(report.code));
    }
    if (timeline.decision) {
      const text =
        timeline.decision.kind === "applied"
          ? `Applied to ${timeline.decision.files.join(", ")}${timeline.decision.by === "editor" ? " in the editor (Undo reverts it)" : ""}.`
          : `Rejected: ${timeline.decision.reason}`;
      end.append(h("p", { class: `decision ${timeline.decision.kind}` }, text));
    }
    out.push(end);
  }
  return out;
}

const STAGE_LABEL: Record<string, string> = {
  held: "held on this device",
  waiting: "waiting to be sent",
  sent: "with the reviewer",
  answered: "answered",
  failed: "failed",
  decided: "decided",
};

function reviewsView(): HTMLElement | null {
  if (state.reviews.length === 0) {
    return null;
  }
  const list = h("ul", { class: "reviews" });
  for (const entry of state.reviews) {
    const item = h(
      "li",
      { class: `review ${entry.stage}`, "data-review": entry.id },
      h("span", { class: `pill ${entry.stage}` }, STAGE_LABEL[entry.stage] ?? entry.stage),
      " ",
      h("span", { class: "review-task" }, entry.task),
      entry.file ? h("span", { class: "muted" }, ` · ${entry.file}`) : null,
    );
    if (entry.last_error) {
      item.append(h("p", { class: "warn" }, entry.last_error));
    }
    const actions = h("div", { class: "row" });
    if (entry.stage === "held" || entry.stage === "failed") {
      actions.append(button("Send", { type: "review-send", id: entry.id }));
    }
    if (entry.has_result && entry.stage === "answered") {
      actions.append(button("Show result", { type: "review-open", id: entry.id }, "primary"));
    }
    if (actions.childElementCount > 0) {
      item.append(actions);
    }
    const result = state.results[entry.id];
    if (result && entry.stage === "answered") {
      item.append(reviewResultView(entry.id, result));
    }
    list.append(item);
  }
  return section("Cloud review", list);
}

function reviewResultView(id: string, view: ReviewResultView): HTMLElement {
  const verification = view.result.verification.kind === "ran" ? "checked: it ran in the reviewer's executor" : `not run by the reviewer: ${view.result.verification.reason}`;
  const box = h("div", { class: "review-result" }, h("p", {}, view.result.explanation), h("p", { class: "muted" }, verification));
  if (view.proposal.conflict) {
    box.append(h("p", { class: "warn" }, `${view.proposal.conflict.file} changed since the task was queued and the result does not merge: edit it to resolve.`), pre(view.proposal.conflict.merged));
  } else {
    box.append(diffView(view.proposal.diff));
  }
  if (view.proposal.unresolved > 0) {
    box.append(h("p", { class: "warn" }, `${view.proposal.unresolved} line(s) still hold [REDACTED:…] placeholders: use Edit.`));
  }
  box.append(
    h(
      "div",
      { class: "row actions" },
      view.proposal.conflict || view.proposal.unresolved > 0 ? null : button("Accept", { type: "review-accept", id }, "primary"),
      button("Edit", { type: "review-edit", id }),
      button("Reject", { type: "review-reject", id }),
    ),
  );
  return box;
}

let scheduled = false;

function render(): void {
  scheduled = false;
  const app = document.getElementById("app");
  if (!app) {
    return;
  }
  const children: Child[] = [header(), form()];
  if (state.error) {
    children.push(h("p", { class: "error", "data-role": "error" }, state.error));
  }
  if (state.timeline) {
    children.push(...taskView(state.timeline));
  } else {
    children.push(h("p", { class: "muted intro" }, "Describe a task and press Plan & code: the on-device agent plans, writes the code, runs the tests in the sandbox and iterates; you Apply or Reject the diff."));
  }
  children.push(reviewsView());
  app.replaceChildren(...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false));
  vscode.setState(state);
}

function schedule(): void {
  if (!scheduled) {
    scheduled = true;
    requestAnimationFrame(render);
  }
}

window.addEventListener("message", (message: MessageEvent<ToWebview>) => {
  const data = message.data;
  switch (data.type) {
    case "status":
      state.status = data.view;
      break;
    case "task":
      state.timeline = data.timeline;
      delete state.error;
      break;
    case "event":
      if (state.timeline) {
        reduce(state.timeline, data.event);
      }
      break;
    case "decision":
      if (state.timeline) {
        state.timeline.decision = data.decision;
      }
      break;
    case "reviews":
      state.reviews = data.entries;
      break;
    case "review-result":
      state.results[data.id] = data.result;
      break;
    case "error":
      state.error = data.message;
      break;
  }
  schedule();
});

render();
vscode.postMessage({ type: "ready" });
