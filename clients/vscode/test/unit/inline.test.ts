import { describe, expect, it } from "vitest";

import { type CompletionBackend, InlineCompleter, trimCompletion } from "../../src/core/inline";

const OPTIONS = { debounceMs: 40, maxTokens: 16, maxPrefixChars: 10, maxSuffixChars: 5 };

function backend(fim: boolean, answer = "  return a + b\n"): CompletionBackend & { calls: { prefix: string; suffix?: string; stop?: string[] }[]; shows: number } {
  const b = {
    calls: [] as { prefix: string; suffix?: string; stop?: string[] }[],
    shows: 0,
    model: async () => "m",
    fillInTheMiddle: async () => {
      b.shows++;
      return fim;
    },
    complete: async (input: { prefix: string; suffix?: string; stop?: string[] }, signal: AbortSignal) => {
      b.calls.push(input);
      await new Promise((resolve, reject) => {
        const t = setTimeout(resolve, 20);
        signal.addEventListener("abort", () => {
          clearTimeout(t);
          const e = new Error("aborted");
          e.name = "AbortError";
          reject(e);
        });
      });
      return answer;
    },
  };
  return b;
}

describe("inline completion", () => {
  it("sends the suffix to a fill-in-the-middle model, cut to the configured sizes", async () => {
    const b = backend(true);
    const text = await new InlineCompleter(b).complete("0123456789abcdef(", ")\nxyz123", OPTIONS, new AbortController().signal);
    expect(text).toBe("  return a + b");
    expect(b.calls).toEqual([{ model: "m", prefix: "789abcdef(", suffix: ")\nxyz", maxTokens: 16 }]);
  });

  it("sends the prefix only when the model has no FIM tokens, and asks about the model once", async () => {
    const b = backend(false);
    const completer = new InlineCompleter(b);
    await completer.complete("def f(", ")", OPTIONS, new AbortController().signal);
    await completer.complete("def g(", ")", OPTIONS, new AbortController().signal);
    expect(b.calls.map((c) => c.suffix)).toEqual([undefined, undefined]);
    expect(b.calls[0]!.stop).toEqual(["\n\n\n"]);
    expect(b.shows).toBe(1);
    completer.reset();
    await completer.complete("x", "", OPTIONS, new AbortController().signal);
    expect(b.shows).toBe(2);
  });

  it("cancelled during the debounce: no request at all", async () => {
    const b = backend(true);
    const abort = new AbortController();
    const pending = new InlineCompleter(b).complete("a", "b", OPTIONS, abort.signal);
    setTimeout(() => abort.abort(), 10);
    expect(await pending).toBeUndefined();
    expect(b.calls).toEqual([]);
  });

  it("cancelled during the request: the request is aborted and nothing is shown", async () => {
    const b = backend(true);
    const abort = new AbortController();
    const pending = new InlineCompleter(b).complete("a", "b", OPTIONS, abort.signal);
    setTimeout(() => abort.abort(), OPTIONS.debounceMs + 5);
    expect(await pending).toBeUndefined();
    expect(b.calls).toHaveLength(1);
  });

  it("a typing burst sends only the last request", async () => {
    const b = backend(true);
    const completer = new InlineCompleter(b);
    const results = [];
    let previous: AbortController | undefined;
    for (const prefix of ["d", "de", "def"]) {
      previous?.abort();
      previous = new AbortController();
      results.push(completer.complete(prefix, "", OPTIONS, previous.signal));
      await new Promise((r) => setTimeout(r, 5));
    }
    expect((await Promise.all(results)).slice(0, 2)).toEqual([undefined, undefined]);
    expect(b.calls.map((c) => c.prefix)).toEqual(["def"]);
  });

  it("errors other than cancellation reach the caller", async () => {
    const b = backend(true);
    b.complete = async () => {
      throw new Error("the daemon answered 503");
    };
    await expect(new InlineCompleter(b).complete("a", "b", OPTIONS, new AbortController().signal)).rejects.toThrow("503");
  });

  it("stops where the model starts repeating the text after the cursor", () => {
    expect(trimCompletion("x = 1\nreturn x\nmore", "\nreturn x\n", true)).toBe("x = 1");
    expect(trimCompletion("a\n\nb", "", false)).toBe("a");
  });
});
