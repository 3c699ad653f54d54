// The daemon's agent events (daemon/src/agent/events.rs, executor's TestReport in
// protocol/src/run.rs) as TypeScript types, and the reducer that folds a task's event stream into
// what the sidebar shows: the plan, each iteration's code and test run, and the end.

/** An agent state as the daemon writes it (`State::label`). */
export type AgentState = "plan" | "code" | "test" | "observe" | "fix" | "done" | "gave_up" | "queued_for_cloud";

/** Where the deciding tests came from (`TestsOrigin`). */
export type TestsOrigin = "user_file" | "task_check" | "task_examples" | "task_asserts" | "model_written";

/** The tests that decide whether a task is done (`TestSuite`). */
export interface TestSuite {
  /** The test source. */
  source: string;
  /** Where it came from. */
  origin: TestsOrigin;
}

/** How one test went (`TestStatus`: `"passed"` or a tagged failure). */
export type TestStatus =
  | "passed"
  | { failed: { message: string; line: number | null } }
  | { error: { kind: string; message: string; line: number | null } };

/** One test of a run (`TestCase`). */
export interface TestCase {
  /** `test_*`, `check` or `assert#N`. */
  name: string;
  /** How it went. */
  status: TestStatus;
}

/** The executor's run of solution plus tests (`RunResult`, the fields the sidebar shows). */
export interface RunResult {
  /** Captured standard output. */
  stdout: string;
  /** Captured standard error. */
  stderr: string;
  /** Wall time in microseconds. */
  wall_time_us: number;
  /** How the run ended: `"ok"`, `"timeout"`, … or a tagged object (`{error: {...}}`). */
  outcome: unknown;
}

/** A test run's report (`TestReport`). */
export interface TestReport {
  /** Every test found, in source order. */
  tests: TestCase[];
  /** The run itself. */
  run: RunResult;
}

/** What a failed run showed the model (`Diagnosis`). */
export interface Diagnosis {
  /** One line: which test failed and how. */
  summary: string;
  /** The failing test's name. */
  test: string | null;
  /** The failing test's source line. */
  test_source: string | null;
  /** The error. */
  error: string;
  /** What the left side of a failing `assert a == b` was. */
  got: string | null;
}

/** What a transition carries (`Detail`, tagged by `kind`). */
export type Detail =
  | { kind: "planned"; plan: string; tests: TestSuite | null }
  | { kind: "coded"; code: string; extraction: string; diff_from_previous: string | null }
  | { kind: "tested"; report: TestReport; passed: boolean }
  | { kind: "diagnosed"; diagnosis: Diagnosis }
  | { kind: "passed"; diff: string | null }
  | { kind: "refused"; reason: string; construct: string; line: number; message: string; queue_id: string | null }
  | { kind: "stopped"; reason: string; message: string };

/** A task's final report (`TaskReport`). */
export interface TaskReport {
  /** The task's id. */
  task_id: string;
  /** The terminal state. */
  state: AgentState;
  /** One sentence for the user. */
  message: string;
  /** The last code version. */
  code: string | null;
  /** The deciding tests. */
  tests: TestSuite | null;
  /** The last test report. */
  last_report: TestReport | null;
  /** Workspace mode: the file, relative to the workspace. */
  target: string | null;
  /** Workspace mode: the unified diff to apply (only in `done`). */
  diff: string | null;
  /** The cloud-review queue entry, when queued. */
  queue_id: string | null;
  /** The reason code, when queued. */
  reason: string | null;
  /** Counters (`TaskStats`). */
  stats: { iterations: number; generated_tokens: number; elapsed_ms: number; decode_tokens_per_s: number };
}

/** One retrieved workspace chunk (`ContextChunk`). */
export interface ContextChunk {
  /** File, relative to the workspace. */
  path: string;
  /** Definition name or heading path. */
  name: string;
  /** First line, 1-based. */
  start_line: number;
  /** Last line. */
  end_line: number;
}

/** One event of `GET /agent/tasks/{id}/events` (`AgentEvent`, tagged by `event`). */
export type AgentEvent =
  | { event: "started"; task_id: string; task: string; lang: string; model: string; target: string | null }
  | { event: "token"; state: AgentState; text: string }
  | {
      event: "transition";
      from: AgentState;
      to: AgentState;
      iteration: number;
      elapsed_ms: number;
      tokens_generated: number;
      detail: Detail;
    }
  | ({ event: "finished" } & TaskReport)
  | { event: "applied"; files: string[]; backups: string[] }
  | { event: "rejected"; reason: string }
  | { event: "retrieved"; mode: string; chunks: ContextChunk[]; tokens: number; notes: string[] };

/** The event kinds the daemon sends; anything else is refused by {@link parseAgentEvent}. */
const KINDS = new Set(["started", "token", "transition", "finished", "applied", "rejected", "retrieved"]);

/** Decodes one SSE `data:` payload of a task's stream, refusing what is not an agent event. */
export function parseAgentEvent(data: string): AgentEvent {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch (error) {
    throw new Error(`the daemon sent an event that is not JSON (${String(error)}): ${data.slice(0, 200)}`);
  }
  if (typeof value !== "object" || value === null || !KINDS.has(String((value as { event?: unknown }).event))) {
    throw new Error(`the daemon sent an unknown agent event: ${data.slice(0, 200)}`);
  }
  return value as AgentEvent;
}

/** One test run of a task (code → test → observe), as the sidebar shows it. */
export interface Iteration {
  /** 1 for the first code, then one more per fix. */
  number: number;
  /** The code tested in this iteration. */
  code?: string;
  /** A unified diff from the previous iteration's code (fixes only). */
  diffFromPrevious?: string | null;
  /** The test report. */
  report?: TestReport;
  /** Whether every test passed. */
  passed?: boolean;
  /** What failed, when something did. */
  diagnosis?: Diagnosis;
}

/** The user's decision on a workspace diff, as the daemon or the editor recorded it. */
export type Decision =
  | { kind: "applied"; files: string[]; backups: string[]; by: "daemon" | "editor" }
  | { kind: "rejected"; reason: string };

/** Everything the sidebar shows about one task, folded from its events. */
export interface Timeline {
  /** The task's id. */
  taskId: string;
  /** The task text. */
  task: string;
  /** `python` or `javascript`. */
  lang: string;
  /** The model working on it. */
  model: string;
  /** Workspace mode: the file being edited. */
  target: string | null;
  /** The agent's state now. */
  state: AgentState;
  /** The plan (empty when planning is off). */
  plan?: string;
  /** The deciding tests; `null` when there are none. */
  tests?: TestSuite | null;
  /** The workspace chunks retrieval put in the prompt. */
  retrieved?: { mode: string; chunks: ContextChunk[]; notes: string[] };
  /** The test runs so far. */
  iterations: Iteration[];
  /** Text the model is producing in the current state (reset on each transition). */
  live: { state: AgentState; text: string } | null;
  /** Tokens generated so far. */
  tokens: number;
  /** Milliseconds since the start, at the last transition. */
  elapsedMs: number;
  /** Set when the code left the on-device subset and was queued for cloud review. */
  refused?: { reason: string; construct: string; line: number; message: string; queueId: string | null };
  /** Set when the agent gave up. */
  stopped?: { reason: string; message: string };
  /** The final report, once the task finished. */
  report?: TaskReport;
  /** Apply or reject, once decided. */
  decision?: Decision;
}

/** A fresh timeline for a task that has only just been created (before `started`). */
export function emptyTimeline(taskId: string, task: string): Timeline {
  return { taskId, task, lang: "", model: "", target: null, state: "plan", iterations: [], live: null, tokens: 0, elapsedMs: 0 };
}

function iteration(timeline: Timeline, number: number): Iteration {
  let found = timeline.iterations.find((i) => i.number === number);
  if (!found) {
    found = { number };
    timeline.iterations.push(found);
    timeline.iterations.sort((a, b) => a.number - b.number);
  }
  return found;
}

/**
 * Folds one event into `timeline` (mutating and returning it). The same function runs in the
 * extension (status bar, apply) and in the sidebar's browser script, so both show one story.
 */
export function reduce(timeline: Timeline, event: AgentEvent): Timeline {
  switch (event.event) {
    case "started":
      timeline.taskId = event.task_id;
      timeline.task = event.task;
      timeline.lang = event.lang;
      timeline.model = event.model;
      timeline.target = event.target;
      break;
    case "retrieved":
      timeline.retrieved = { mode: event.mode, chunks: event.chunks, notes: event.notes };
      break;
    case "token":
      if (timeline.live && timeline.live.state === event.state) {
        timeline.live.text += event.text;
      } else {
        timeline.live = { state: event.state, text: event.text };
      }
      break;
    case "transition": {
      timeline.state = event.to;
      timeline.tokens = event.tokens_generated;
      timeline.elapsedMs = event.elapsed_ms;
      timeline.live = null;
      const detail = event.detail;
      switch (detail.kind) {
        case "planned":
          timeline.plan = detail.plan;
          timeline.tests = detail.tests;
          break;
        case "coded": {
          const it = iteration(timeline, event.iteration);
          it.code = detail.code;
          it.diffFromPrevious = detail.diff_from_previous;
          break;
        }
        case "tested": {
          const it = iteration(timeline, event.iteration);
          it.report = detail.report;
          it.passed = detail.passed;
          break;
        }
        case "diagnosed":
          iteration(timeline, event.iteration).diagnosis = detail.diagnosis;
          break;
        case "passed":
          break;
        case "refused":
          timeline.refused = {
            reason: detail.reason,
            construct: detail.construct,
            line: detail.line,
            message: detail.message,
            queueId: detail.queue_id,
          };
          break;
        case "stopped":
          timeline.stopped = { reason: detail.reason, message: detail.message };
          break;
      }
      break;
    }
    case "finished": {
      const { event: _kind, ...report } = event;
      timeline.report = report;
      timeline.state = report.state;
      timeline.live = null;
      break;
    }
    case "applied":
      timeline.decision = { kind: "applied", files: event.files, backups: event.backups, by: "daemon" };
      break;
    case "rejected":
      timeline.decision = { kind: "rejected", reason: event.reason };
      break;
  }
  return timeline;
}

/** Whether the task has ended (its `finished` event came). */
export function isFinished(timeline: Timeline): boolean {
  return timeline.report !== undefined;
}

/** The workspace diff waiting for the user's Apply or Reject, if there is one. */
export function pendingDiff(timeline: Timeline): { target: string; diff: string } | undefined {
  const report = timeline.report;
  if (!report || report.state !== "done" || !report.diff || !report.target || timeline.decision) {
    return undefined;
  }
  return { target: report.target, diff: report.diff };
}

/** Counts of a test report: passed and total. */
export function testCounts(report: TestReport): { passed: number; total: number } {
  return { passed: report.tests.filter((t) => t.status === "passed").length, total: report.tests.length };
}

/** One line per test failure, as the sidebar prints it. */
export function describeStatus(status: TestStatus): string {
  if (status === "passed") {
    return "passed";
  }
  if ("failed" in status) {
    const at = status.failed.line ? ` (line ${status.failed.line})` : "";
    return `failed${at}: ${status.failed.message}`;
  }
  const at = status.error.line ? ` (line ${status.error.line})` : "";
  return `${status.error.kind}${at}: ${status.error.message}`;
}
