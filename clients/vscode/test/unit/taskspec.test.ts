import { describe, expect, it } from "vitest";

import { buildTask, langOf } from "../../src/core/taskspec";
import { DEFAULTS } from "../../src/core/settings";

describe("Plan & code's task body", () => {
  it("edits the current file in workspace mode", () => {
    expect(buildTask(" fix add ", { kind: "file", workspaceRoot: "/ws", file: "/ws/pkg/calc.py" }, DEFAULTS)).toEqual({
      task: "fix add",
      workspace: "/ws",
      file: "pkg/calc.py",
      lang: "py",
      max_iterations: 4,
      plan: true,
    });
  });

  it("quotes the selection into the task", () => {
    const body = buildTask("make it faster", { kind: "selection", workspaceRoot: "/ws", file: "/ws/a.js", selection: { text: "let x = 1;\n", startLine: 3, endLine: 3 } }, DEFAULTS);
    expect(body.task).toBe("make it faster\n\nThe task is about lines 3-3 of a.js:\n```\nlet x = 1;\n```");
    expect(body.lang).toBe("js");
  });

  it("sends only the workspace for workspace context", () => {
    expect(buildTask("add a cli", { kind: "workspace", workspaceRoot: "/ws", file: "/ws/a.py" }, { ...DEFAULTS, plan: false, maxIterations: 2 })).toEqual({
      task: "add a cli",
      workspace: "/ws",
      max_iterations: 2,
      plan: false,
    });
  });

  it("uses the file's own folder when it is outside every workspace folder", () => {
    expect(buildTask("x", { kind: "file", workspaceRoot: "/ws", file: "/tmp/s.py" }, DEFAULTS)).toMatchObject({ workspace: "/tmp", file: "s.py" });
  });

  it("says what is missing", () => {
    expect(() => buildTask("  ", { kind: "file", file: "/a.py" }, DEFAULTS)).toThrow(/task is empty/);
    expect(() => buildTask("x", { kind: "file" }, DEFAULTS)).toThrow(/no file is open/);
    expect(() => buildTask("x", { kind: "selection", file: "/a.py" }, DEFAULTS)).toThrow(/nothing is selected/);
    expect(() => buildTask("x", { kind: "workspace" }, DEFAULTS)).toThrow(/no workspace folder/);
    expect(langOf("x.md")).toBeUndefined();
  });
});
