// The daemon's API as typed calls (shapes from daemon/src/api/{agent,tasks,admin,openai,ollama}.rs):
// status, provider and model switches, agent tasks with their live events, apply/reject/cancel,
// the cloud-review queue and its live stream, and text completion for inline suggestions.

import { type AgentEvent, type TaskReport, type Timeline, emptyTimeline, parseAgentEvent, reduce } from "./events";
import { DaemonError, Transport } from "./http";

/** One provider in the status (`ProviderStatus`). */
export interface ProviderStatus {
  /** Its name. */
  name: string;
  /** Whether it answers requests now. */
  active: boolean;
  /** Whether it is healthy. */
  ok: boolean;
  /** Its health in words. */
  detail: string;
}

/** `GET /edgecoder/status` (`Status`). */
export interface DaemonStatus {
  /** Daemon version. */
  version: string;
  /** Seconds since start. */
  uptime_secs: number;
  /** The active provider. */
  provider: string;
  /** Every configured provider. */
  providers: ProviderStatus[];
  /** The local model, when one is loaded. */
  model: string | null;
  /** Its file. */
  model_file: string | null;
  /** Requests waiting for the local model. */
  queue_waiting: number;
  /** How many may wait. */
  queue_capacity: number;
  /** Where the daemon listens. */
  listening: string[];
}

/** `POST /agent/tasks` request (`NewTask`). */
export interface NewTask {
  /** What the code should do. */
  task: string;
  /** `py` or `js`. */
  lang?: string;
  /** Workspace mode: the absolute folder. */
  workspace?: string;
  /** The file to edit or create, relative to the workspace. */
  file?: string;
  /** Test source that decides success. */
  tests?: string;
  /** Must be the loaded model. */
  model?: string;
  /** 1 to 50. */
  max_iterations?: number;
  /** Token budget. */
  max_tokens?: number;
  /** 1 to 3600. */
  timeout_secs?: number;
  /** Ask for a plan first. */
  plan?: boolean;
}

/** `GET /agent/tasks/{id}` (`TaskView`). */
export interface TaskView {
  /** The task's id. */
  id: string;
  /** `running`, `finished`, `applied`, `rejected`. */
  status: "running" | "finished" | "applied" | "rejected";
  /** The agent's state. */
  state: string;
  /** Events so far. */
  events: number;
  /** One line per state change. */
  steps: string[];
  /** The final report. */
  report: TaskReport | null;
}

/** One entry of the cloud-review queue (`ReviewEntry`). */
export interface ReviewEntry {
  /** The entry's id. */
  id: string;
  /** RFC 3339. */
  created: string;
  /** The first line of the task. */
  task: string;
  /** `outside_subset`, `gave_up`, `user_request`. */
  why: string;
  /** `held`, `waiting`, `sent`, `answered`, `failed`, `decided`. */
  stage: "held" | "waiting" | "sent" | "answered" | "failed" | "decided";
  /** The file, relative to its workspace. */
  file: string | null;
  /** Whether a result is here. */
  has_result: boolean;
  /** The last error talking to the review server. */
  last_error: string | null;
}

/** An event of `GET /edgecoder/reviews/events`. */
export type ReviewStreamEvent =
  | { kind: "reviews"; entries: ReviewEntry[] }
  | { kind: "answered" | "failed"; id: string; task: string; last_error: string | null };

/** A fill-in-the-middle (or prefix-only) completion request. */
export interface CompletionInput {
  /** The model id. */
  model: string;
  /** Text before the cursor. */
  prefix: string;
  /** Text after the cursor; sent only when the model has FIM tokens. */
  suffix?: string;
  /** Most tokens. */
  maxTokens: number;
  /** Stop strings (at most 4). */
  stop?: string[];
}

/** The daemon's API over one {@link Transport}. */
export class DaemonClient {
  /** The connection. */
  readonly transport: Transport;

  /** A client over `transport`. */
  constructor(transport: Transport) {
    this.transport = transport;
  }

  /** The daemon's state: providers, model, queue (`GET /edgecoder/status`). */
  status(timeoutMs = 5000): Promise<DaemonStatus> {
    return this.transport.json("GET", "/edgecoder/status", { timeoutMs });
  }

  /** The models the active provider serves (`GET /v1/models`). */
  async models(): Promise<string[]> {
    const list = await this.transport.json<{ data: { id: string }[] }>("GET", "/v1/models", { timeoutMs: 10_000 });
    return list.data.map((m) => m.id);
  }

  /** The model's capabilities (`POST /api/show`): `insert` means fill-in-the-middle works. */
  async capabilities(model: string): Promise<string[]> {
    const shown = await this.transport.json<{ capabilities?: string[] }>("POST", "/api/show", { json: { model }, timeoutMs: 10_000 });
    return shown.capabilities ?? [];
  }

  /** Makes `name` answer new requests (`PUT /edgecoder/provider`). */
  async useProvider(name: string): Promise<void> {
    await this.transport.json("PUT", "/edgecoder/provider", { json: { name }, timeoutMs: 10_000 });
  }

  /** Loads another local model (`PUT /edgecoder/model`); answers its `ModelInfo`. */
  loadModel(model: string): Promise<{ id: string; fill_in_the_middle: boolean }> {
    return this.transport.json("PUT", "/edgecoder/model", { json: { model }, timeoutMs: 300_000 });
  }

  /** Starts an agent task (`POST /agent/tasks`); answers its id. */
  async createTask(task: NewTask): Promise<string> {
    const created = await this.transport.json<{ id: string; events: string }>("POST", "/agent/tasks", { json: task, timeoutMs: 60_000 });
    return created.id;
  }

  /** The task's events, history first, until the stream ends (`GET /agent/tasks/{id}/events`). */
  async *taskEvents(id: string, signal?: AbortSignal): AsyncGenerator<AgentEvent> {
    for await (const sse of this.transport.events(`/agent/tasks/${encodeURIComponent(id)}/events`, signal)) {
      if (sse.event === "error") {
        throw new DaemonError("protocol", `the daemon could not encode an event of task ${id}: ${sse.data}`);
      }
      yield parseAgentEvent(sse.data);
    }
  }

  /** The task as the daemon shows it (`GET /agent/tasks/{id}`). */
  task(id: string): Promise<TaskView> {
    return this.transport.json("GET", `/agent/tasks/${encodeURIComponent(id)}`, { timeoutMs: 10_000 });
  }

  /** Drops the task's diff; nothing is written. */
  reject(id: string): Promise<AgentEvent> {
    return this.transport.json("POST", `/agent/tasks/${encodeURIComponent(id)}/reject`, { timeoutMs: 30_000 });
  }

  /** Stops a running task at its next token or step. */
  async cancel(id: string): Promise<void> {
    await this.transport.json("POST", `/agent/tasks/${encodeURIComponent(id)}/cancel`, { timeoutMs: 10_000 });
  }

  /** The cloud-review queue, oldest first (`GET /edgecoder/reviews`). */
  reviews(): Promise<ReviewEntry[]> {
    return this.transport.json("GET", "/edgecoder/reviews", { timeoutMs: 10_000 });
  }

  /** The cloud-review queue, live (`GET /edgecoder/reviews/events`): the list now and on every change, and each answer or failure. */
  async *reviewEvents(signal?: AbortSignal): AsyncGenerator<ReviewStreamEvent> {
    for await (const sse of this.transport.events("/edgecoder/reviews/events", signal)) {
      let data: unknown;
      try {
        data = JSON.parse(sse.data);
      } catch {
        throw new DaemonError("protocol", `the review stream sent an event that is not JSON: ${sse.data.slice(0, 200)}`);
      }
      if (sse.event === "reviews") {
        yield { kind: "reviews", entries: data as ReviewEntry[] };
      } else if (sse.event === "answered" || sse.event === "failed") {
        const note = data as { id: string; task: string; last_error: string | null };
        yield { kind: sse.event, id: note.id, task: note.task, last_error: note.last_error };
      }
    }
  }

  /**
   * The review queue's changes, whichever way the daemon offers them: its live stream, or — for
   * a daemon without `/edgecoder/reviews/events` (404) — `GET /edgecoder/reviews` every
   * `pollMs`, with the same events worked out by {@link reviewChanges}.
   */
  async *reviewUpdates(signal: AbortSignal, pollMs: number): AsyncGenerator<ReviewStreamEvent> {
    try {
      yield* this.reviewEvents(signal);
      return;
    } catch (error) {
      if (!(error instanceof DaemonError && error.status === 404)) {
        throw error;
      }
    }
    let before: ReviewEntry[] | undefined;
    while (!signal.aborted) {
      const now = await this.reviews();
      if (before === undefined || JSON.stringify(before) !== JSON.stringify(now)) {
        yield* reviewChanges(before ?? [], now, before === undefined);
        before = now;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, pollMs);
        signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        }, { once: true });
      });
    }
  }

  /** Completes text (`POST /v1/completions`); with `suffix`, fills in the middle. */
  async complete(input: CompletionInput, signal?: AbortSignal): Promise<string> {
    const body: Record<string, unknown> = { model: input.model, prompt: input.prefix, max_tokens: input.maxTokens, temperature: 0 };
    if (input.suffix !== undefined && input.suffix !== "") {
      body.suffix = input.suffix;
    }
    if (input.stop && input.stop.length > 0) {
      body.stop = input.stop.slice(0, 4);
    }
    const options: { json: unknown; signal?: AbortSignal; timeoutMs: number } = { json: body, timeoutMs: 60_000 };
    if (signal) {
      options.signal = signal;
    }
    const answer = await this.transport.json<{ choices: { text: string }[] }>("POST", "/v1/completions", options);
    return answer.choices[0]?.text ?? "";
  }

  /**
   * Starts `task` and follows its events to the end, calling `onEvent` with each event and the
   * timeline so far; answers the final timeline. Aborting `signal` cancels the task on the daemon.
   */
  async runTask(task: NewTask, onEvent: (event: AgentEvent, timeline: Timeline) => void, signal?: AbortSignal): Promise<Timeline> {
    const id = await this.createTask(task);
    const timeline = emptyTimeline(id, task.task);
    const cancel = (): void => {
      this.cancel(id).catch(() => undefined);
    };
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      for await (const event of this.taskEvents(id)) {
        reduce(timeline, event);
        onEvent(event, timeline);
      }
    } finally {
      signal?.removeEventListener("abort", cancel);
    }
    if (!timeline.report) {
      throw new DaemonError("protocol", `the event stream of task ${id} ended without a \`finished\` event — see the daemon's log`);
    }
    return timeline;
  }
}

/**
 * The events a change of the queue makes, as the daemon's stream sends them
 * (daemon/src/api/admin.rs `review_changes`): the whole list, then an `answered` or `failed`
 * event for each entry that has just reached that stage (none on the first look).
 */
export function reviewChanges(before: ReviewEntry[], now: ReviewEntry[], first = false): ReviewStreamEvent[] {
  const stages = new Map(before.map((e) => [e.id, e.stage]));
  const events: ReviewStreamEvent[] = [{ kind: "reviews", entries: now }];
  if (first) {
    return events;
  }
  for (const entry of now) {
    const was = stages.get(entry.id);
    if ((entry.stage === "answered" || entry.stage === "failed") && was !== undefined && was !== entry.stage) {
      events.push({ kind: entry.stage, id: entry.id, task: entry.task, last_error: entry.last_error });
    }
  }
  return events;
}
