import { describe, expect, it } from "vitest";

import { DiffConflict, applyDiff, applyEdits, editsFor, parseUnifiedDiff } from "../../src/core/diff";

// Diffs written the way the daemon's `Change::diff` (the `similar` crate) writes them.
const FIX = "--- a/calc.py\n+++ b/calc.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n";
const NEW_FILE = "--- /dev/null\n+++ b/double.py\n@@ -0,0 +1,2 @@\n+def double(x):\n+    return x * 2\n";
const NO_NEWLINE = "--- a/m.js\n+++ b/m.js\n@@ -1 +1 @@\n-const a = 1\n\\ No newline at end of file\n+const a = 2;\n";

describe("unified diffs", () => {
  it("parses the daemon's header and hunks", () => {
    const diff = parseUnifiedDiff(FIX);
    expect(diff.oldPath).toBe("calc.py");
    expect(diff.newPath).toBe("calc.py");
    expect(diff.hunks).toHaveLength(1);
    expect(diff.hunks[0]!.lines.map((l) => l.op).join("")).toBe(" -+");
    expect(parseUnifiedDiff(NEW_FILE).oldPath).toBeNull();
  });

  it("applies a fix as one minimal edit to the file as it is", () => {
    const before = "def add(a, b):\n    return a - b\n";
    const edits = editsFor(before, parseUnifiedDiff(FIX));
    expect(edits).toEqual([{ start: 0, end: before.length, text: "def add(a, b):\n    return a + b\n" }]);
    expect(applyDiff(before, FIX)).toBe("def add(a, b):\n    return a + b\n");
  });

  it("finds a hunk that moved because lines were added above it", () => {
    const moved = "import math\n\n\ndef add(a, b):\n    return a - b\n";
    expect(applyDiff(moved, FIX)).toBe("import math\n\n\ndef add(a, b):\n    return a + b\n");
  });

  it("keeps CRLF line endings of the file", () => {
    expect(applyDiff("def add(a, b):\r\n    return a - b\r\n", FIX)).toBe("def add(a, b):\r\n    return a + b\r\n");
  });

  it("creates a new file, and refuses when that file exists by now", () => {
    expect(applyDiff("", NEW_FILE)).toBe("def double(x):\n    return x * 2\n");
    expect(() => applyDiff("x = 1\n", NEW_FILE)).toThrow(DiffConflict);
  });

  it("honours `No newline at end of file` on either side", () => {
    expect(applyDiff("const a = 1", NO_NEWLINE)).toBe("const a = 2;\n");
    expect(() => applyDiff("const a = 1\n", NO_NEWLINE)).toThrow(/changed since the agent read it/);
  });

  it("is a conflict, never a guess, when the file changed under the hunk", () => {
    expect(() => applyDiff("def add(a, b):\n    return b - a\n", FIX)).toThrow(/calc.py changed since the agent read it: hunk 1/);
  });

  it("applies several hunks in order, with their shifts", () => {
    const before = Array.from({ length: 20 }, (_, i) => `line ${i + 1}\n`).join("");
    const diff =
      "--- a/f.py\n+++ b/f.py\n@@ -1,4 +1,5 @@\n+top\n line 1\n line 2\n line 3\n line 4\n@@ -15,4 +16,4 @@\n line 15\n line 16\n-line 17\n+LINE 17\n line 18\n";
    const after = applyDiff(before, diff);
    expect(after.startsWith("top\nline 1\n")).toBe(true);
    expect(after).toContain("line 16\nLINE 17\nline 18\n");
    expect(after.split("\n")).toHaveLength(22);
  });

  it("refuses what is not one file's unified diff", () => {
    expect(() => parseUnifiedDiff("hello")).toThrow(/not a unified diff/);
    expect(() => parseUnifiedDiff(FIX + FIX)).toThrow(/more than one file/);
    expect(() => parseUnifiedDiff("--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n a\n")).toThrow(/cut short/);
  });

  it("applies edits from the end so offsets stay valid, and refuses overlaps", () => {
    expect(applyEdits("abcdef", [{ start: 0, end: 1, text: "X" }, { start: 4, end: 6, text: "Y" }])).toBe("XbcdY");
    expect(() => applyEdits("abcdef", [{ start: 0, end: 3, text: "" }, { start: 2, end: 4, text: "" }])).toThrow(/overlapping/);
  });
});
