// Inline completion without VS Code: wait for a pause in typing (debounce), cut the prefix and
// suffix around the cursor, ask the daemon's `/v1/completions` — with `suffix` (fill in the
// middle) when the model has FIM tokens (`/api/show` lists `insert`), else the prefix alone — and
// give up at once when the editor cancels.

/** What the completer needs from the daemon. */
export interface CompletionBackend {
  /** The model that answers (the loaded one). */
  model(): Promise<string>;
  /** Whether `model` fills in the middle. */
  fillInTheMiddle(model: string): Promise<boolean>;
  /** One completion. */
  complete(input: { model: string; prefix: string; suffix?: string; maxTokens: number; stop?: string[] }, signal: AbortSignal): Promise<string>;
}

/** The completer's knobs (from the `edgecoder.inlineCompletion.*` settings). */
export interface InlineOptions {
  /** Milliseconds of quiet before a request. */
  debounceMs: number;
  /** Most tokens. */
  maxTokens: number;
  /** Characters before the cursor sent. */
  maxPrefixChars: number;
  /** Characters after the cursor sent (FIM only). */
  maxSuffixChars: number;
}

/** Resolves after `ms`, or rejects with an `AbortError` as soon as `signal` aborts. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortError());
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortError());
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

function abortError(): Error {
  const error = new Error("the completion was cancelled");
  error.name = "AbortError";
  return error;
}

/** Whether `error` is a cancellation (ours, or the transport's). */
export function isCancellation(error: unknown): boolean {
  return error instanceof Error && (error.name === "AbortError" || (error as { kind?: string }).kind === "aborted");
}

/**
 * Trims a completion for display: stops where the model starts repeating the text after the
 * cursor, and keeps a prefix-only completion to the current block (it cannot see what follows).
 */
export function trimCompletion(text: string, suffix: string, fim: boolean): string {
  let out = text;
  const next = suffix.split("\n").find((l) => l.trim() !== "")?.trim();
  if (next) {
    const at = out.split("\n").findIndex((l, i) => i > 0 && l.trim() === next);
    if (at > 0) {
      out = out.split("\n").slice(0, at).join("\n");
    }
  }
  if (!fim) {
    const blank = out.indexOf("\n\n");
    if (blank >= 0) {
      out = out.slice(0, blank);
    }
  }
  return out.replace(/\s+$/, (tail) => (tail.includes("\n") ? "" : tail));
}

/** Debounced, cancellable completions; one instance per editor session (it caches FIM support per model). */
export class InlineCompleter {
  private readonly backend: CompletionBackend;
  private readonly fim = new Map<string, boolean>();

  /** A completer that asks `backend`. */
  constructor(backend: CompletionBackend) {
    this.backend = backend;
  }

  /** Forgets what it learnt about models (after a model switch). */
  reset(): void {
    this.fim.clear();
  }

  /**
   * The completion at the cursor between `before` and `after`, or `undefined` when cancelled
   * during the debounce or the request (errors other than cancellation are thrown).
   */
  async complete(before: string, after: string, options: InlineOptions, signal: AbortSignal): Promise<string | undefined> {
    try {
      await sleep(options.debounceMs, signal);
      const model = await this.backend.model();
      let fim = this.fim.get(model);
      if (fim === undefined) {
        fim = await this.backend.fillInTheMiddle(model);
        this.fim.set(model, fim);
      }
      signal.throwIfAborted();
      const prefix = before.slice(Math.max(0, before.length - options.maxPrefixChars));
      const suffix = after.slice(0, options.maxSuffixChars);
      const input: { model: string; prefix: string; suffix?: string; maxTokens: number; stop?: string[] } = { model, prefix, maxTokens: options.maxTokens };
      if (fim && suffix !== "") {
        input.suffix = suffix;
      } else {
        input.stop = ["\n\n\n"];
      }
      const text = await this.backend.complete(input, signal);
      return trimCompletion(text, suffix, fim);
    } catch (error) {
      if (isCancellation(error) || signal.aborted) {
        return undefined;
      }
      throw error;
    }
  }
}
