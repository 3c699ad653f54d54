// Unified diffs as the daemon writes them (the `similar` crate: `--- a/PATH`, `+++ b/PATH`,
// `@@ -l,s +l,s @@`, `\ No newline at end of file`), turned into text edits against the file as
// it is *now* in the editor: each hunk is found by its context (at its line, or shifted when lines
// were added above it), and a hunk that no longer matches is a conflict, never a guess.

/** One line of a hunk. */
export interface HunkLine {
  /** ` ` context, `-` removed, `+` added. */
  op: " " | "-" | "+";
  /** The line's text without its end of line. */
  text: string;
  /** Whether the line has no newline at its end (the file's last line). */
  noNewline: boolean;
}

/** One `@@` hunk. */
export interface Hunk {
  /** First old line, 1-based (0 for an empty old file). */
  oldStart: number;
  /** Old lines covered. */
  oldLines: number;
  /** First new line, 1-based. */
  newStart: number;
  /** New lines covered. */
  newLines: number;
  /** The lines. */
  lines: HunkLine[];
}

/** A parsed single-file unified diff. */
export interface FileDiff {
  /** The old name without `a/` (`null` for `/dev/null`: a new file). */
  oldPath: string | null;
  /** The new name without `b/`. */
  newPath: string;
  /** The hunks in order. */
  hunks: Hunk[];
}

/** A replacement of the characters `start..end` of the text by `text` (offsets in UTF-16 units, as VS Code counts). */
export interface TextEdit {
  /** First character replaced. */
  start: number;
  /** One past the last character replaced. */
  end: number;
  /** The new text. */
  text: string;
}

/** Why a diff cannot be applied to the text as it is now. */
export class DiffConflict extends Error {
  /** A conflict naming the file and the hunk that no longer matches. */
  constructor(message: string) {
    super(message);
    this.name = "DiffConflict";
  }
}

function stripPrefix(name: string): string | null {
  const path = name.split("\t")[0]!.trim();
  if (path === "/dev/null") {
    return null;
  }
  return path.replace(/^[ab]\//, "");
}

/** Parses a unified diff of one file; throws on anything that is not one. */
export function parseUnifiedDiff(diff: string): FileDiff {
  const lines = diff.split("\n");
  if (lines[lines.length - 1] === "") {
    lines.pop();
  }
  let i = 0;
  while (i < lines.length && !lines[i]!.startsWith("--- ")) {
    i++;
  }
  if (i + 1 >= lines.length || !lines[i + 1]!.startsWith("+++ ")) {
    throw new Error("not a unified diff: no `---`/`+++` header");
  }
  const oldPath = stripPrefix(lines[i]!.slice(4));
  const newPath = stripPrefix(lines[i + 1]!.slice(4));
  if (newPath === null) {
    throw new Error("the diff deletes the file; deletions are not proposed by the agent");
  }
  i += 2;
  const hunks: Hunk[] = [];
  while (i < lines.length) {
    const header = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(lines[i]!);
    if (!header) {
      if (lines[i]!.startsWith("--- ")) {
        throw new Error("the diff changes more than one file; the agent proposes one file per task");
      }
      throw new Error(`unexpected line ${i + 1} in the diff: ${lines[i]}`);
    }
    const hunk: Hunk = {
      oldStart: Number(header[1]),
      oldLines: header[2] === undefined ? 1 : Number(header[2]),
      newStart: Number(header[3]),
      newLines: header[4] === undefined ? 1 : Number(header[4]),
      lines: [],
    };
    i++;
    let oldSeen = 0;
    let newSeen = 0;
    while (i < lines.length && (oldSeen < hunk.oldLines || newSeen < hunk.newLines || lines[i]!.startsWith("\\"))) {
      const line = lines[i]!;
      if (line.startsWith("\\")) {
        const last = hunk.lines[hunk.lines.length - 1];
        if (!last) {
          throw new Error(`a \`\\ No newline\` marker before any line in hunk ${hunks.length + 1}`);
        }
        last.noNewline = true;
        i++;
        continue;
      }
      const op = line[0] === undefined ? " " : line[0];
      if (op !== " " && op !== "-" && op !== "+") {
        throw new Error(`unexpected line ${i + 1} in hunk ${hunks.length + 1}: ${line}`);
      }
      hunk.lines.push({ op, text: line.slice(1), noNewline: false });
      if (op !== "+") oldSeen++;
      if (op !== "-") newSeen++;
      i++;
    }
    if (oldSeen !== hunk.oldLines || newSeen !== hunk.newLines) {
      throw new Error(`hunk ${hunks.length + 1} is cut short: its header promises -${hunk.oldLines} +${hunk.newLines} lines`);
    }
    hunks.push(hunk);
  }
  return { oldPath, newPath, hunks };
}

/** A text cut into lines that remember where they start and whether they end with a newline (`\n` or `\r\n`). */
interface Line {
  text: string;
  start: number;
  end: number;
  eol: string;
}

function splitLines(text: string): Line[] {
  const out: Line[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf("\n", start);
    if (nl < 0) {
      out.push({ text: text.slice(start), start, end: text.length, eol: "" });
      break;
    }
    const cr = nl > start && text[nl - 1] === "\r";
    out.push({ text: text.slice(start, cr ? nl - 1 : nl), start, end: nl + 1, eol: cr ? "\r\n" : "\n" });
    start = nl + 1;
  }
  return out;
}

function matchesAt(lines: Line[], at: number, old: HunkLine[]): boolean {
  if (at < 0 || at + old.length > lines.length) {
    return false;
  }
  return old.every((h, k) => {
    const line = lines[at + k]!;
    return line.text === h.text && (h.noNewline ? line.eol === "" : line.eol !== "");
  });
}

/**
 * The edits that turn `current` into the diff's new version, one per hunk, located by context
 * (the hunk's own line first, then the nearest shift either way). The line endings of `current`
 * (LF or CRLF) are kept. Throws {@link DiffConflict} when a hunk's old lines are not in the text.
 */
export function editsFor(current: string, diff: FileDiff): TextEdit[] {
  const lines = splitLines(current);
  const eol = lines.find((l) => l.eol !== "")?.eol ?? "\n";
  if (diff.oldPath === null && current !== "") {
    throw new DiffConflict(`${diff.newPath} exists now, but the agent proposed it as a new file: run the task again`);
  }
  const edits: TextEdit[] = [];
  let shift = 0;
  let floor = 0;
  for (const [index, hunk] of diff.hunks.entries()) {
    const old = hunk.lines.filter((l) => l.op !== "+");
    const expected = Math.max(0, (hunk.oldLines === 0 ? hunk.oldStart : hunk.oldStart - 1) + shift);
    let at = -1;
    for (let distance = 0; at < 0 && distance <= lines.length; distance++) {
      for (const candidate of distance === 0 ? [expected] : [expected - distance, expected + distance]) {
        if (candidate >= floor && matchesAt(lines, candidate, old)) {
          at = candidate;
          break;
        }
      }
    }
    if (at < 0) {
      throw new DiffConflict(
        `${diff.newPath} changed since the agent read it: hunk ${index + 1} (near line ${hunk.oldStart}) no longer matches — run the task again or apply it by hand from the diff`,
      );
    }
    const start = at < lines.length ? lines[at]!.start : current.length;
    const last = old.length > 0 ? lines[at + old.length - 1]! : undefined;
    const end = last ? last.end : start;
    const added = hunk.lines.filter((l) => l.op !== "-");
    const text = added.map((l) => l.text + (l.noNewline ? "" : eol)).join("");
    edits.push({ start, end, text });
    shift = at - (hunk.oldLines === 0 ? hunk.oldStart : hunk.oldStart - 1);
    floor = at + old.length;
  }
  return edits;
}

/** Applies non-overlapping edits (in any order) to `text`. */
export function applyEdits(text: string, edits: TextEdit[]): string {
  const sorted = [...edits].sort((a, b) => b.start - a.start);
  let out = text;
  let limit = Infinity;
  for (const edit of sorted) {
    if (edit.end > limit || edit.start > edit.end) {
      throw new Error("overlapping edits");
    }
    out = out.slice(0, edit.start) + edit.text + out.slice(edit.end);
    limit = edit.start;
  }
  return out;
}

/** The new content of the file: `current` with the diff applied (throws {@link DiffConflict}). */
export function applyDiff(current: string, diff: string): string {
  return applyEdits(current, editsFor(current, parseUnifiedDiff(diff)));
}
