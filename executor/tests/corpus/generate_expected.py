#!/usr/bin/env python3
"""Generates the expected results of the executor's correctness corpus from the reference
interpreters: CPython 3.11 for `py/*.py` and node for `js/*.js`.

For every program `NNN_name.ext` it writes `NNN_name.expected.json`:
    {"stdout": "...", "outcome": "ok" | "error", "error_kind": "ZeroDivisionError" | null}

Portability guards, so an expectation never encodes behaviour that legitimately differs between
interpreters:
  * every Python program runs twice, with different PYTHONHASHSEED values, and must print the
    same thing both times (this catches iteration over sets of strings and similar);
  * JS programs run with a console.log that refuses anything but primitive arguments (node
    formats objects, arrays and BigInts with util.inspect, which is node-specific), -0, and
    printf-style `%` directives in the first argument.
A program that breaks a guard, times out, or ends in anything but success or an uncaught error
is reported and no expectation is written for it.

Usage:
    python3 generate_expected.py            # (re)write every expected file
    python3 generate_expected.py --check    # verify the committed files; exit 1 on any difference

This is a test tool only; the product never needs Python.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 20

# Runs one script file with script (not module) semantics, like the executor does, and reports an
# uncaught error's `name` on the last stderr line after a marker.
NODE_RUNNER = r"""
const fs = require('fs');
const vm = require('vm');
const proc = process; // a program may declare its own global `process`
const file = proc.argv[1];
const original = console.log.bind(console);
console.log = (...args) => {
  for (const a of args) {
    const t = typeof a;
    if (!(a === null || t === 'undefined' || t === 'string' || t === 'number' || t === 'boolean')) {
      throw new Error('PORTABILITY: console.log of a ' + t + ' (format it yourself)');
    }
    if (Object.is(a, -0)) throw new Error('PORTABILITY: console.log(-0)');
  }
  if (typeof args[0] === 'string' && /%[sdifjoOc%]/.test(args[0])) {
    throw new Error('PORTABILITY: printf directive in the first console.log argument');
  }
  original(...args);
};
try {
  vm.runInThisContext(fs.readFileSync(file, 'utf8'), { filename: file });
} catch (e) {
  const name = (e !== null && typeof e === 'object' && typeof e.name === 'string') ? e.name : 'non-Error value';
  const message = (e !== null && typeof e === 'object') ? String(e.message) : String(e);
  proc.stderr.write('\n@@ERROR_KIND@@' + name + '@@' + message + '\n');
  proc.exitCode = 1;
}
"""

KIND_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


class Unportable(Exception):
    """The program's reference result cannot be used as an expectation."""


def run_python(path: Path) -> dict:
    outputs = []
    for seed in ("0", "4242"):
        env = {"PATH": os.environ.get("PATH", ""), "PYTHONHASHSEED": seed, "LC_ALL": "C.UTF-8"}
        proc = subprocess.run(
            ["python3", "-I", "-X", "utf8", str(path)],
            capture_output=True, text=True, timeout=TIMEOUT_S, env=env, cwd=path.parent,
        )
        outputs.append(proc)
    a, b = outputs
    if (a.returncode, a.stdout) != (b.returncode, b.stdout):
        raise Unportable("output depends on the hash seed (iteration over a set/dict of str?)")
    if a.returncode == 0:
        return {"stdout": a.stdout, "outcome": "ok", "error_kind": None}
    lines = [line for line in a.stderr.splitlines() if line.strip()]
    if a.returncode != 1 or not lines or not any(l.startswith("Traceback") for l in lines):
        raise Unportable(f"exit code {a.returncode} without a traceback: {a.stderr[-300:]!r}")
    kind = lines[-1].split(":", 1)[0].strip()
    if not KIND_RE.match(kind):
        raise Unportable(f"cannot read the error kind from {lines[-1]!r} (multi-line message?)")
    return {"stdout": a.stdout, "outcome": "error", "error_kind": kind.rsplit(".", 1)[-1]}


def run_node(path: Path) -> dict:
    env = {"PATH": os.environ.get("PATH", ""), "TZ": "UTC", "LC_ALL": "C.UTF-8"}
    proc = subprocess.run(
        ["node", "-e", NODE_RUNNER, str(path)],
        capture_output=True, text=True, timeout=TIMEOUT_S, env=env, cwd=path.parent,
    )
    if proc.returncode == 0:
        return {"stdout": proc.stdout, "outcome": "ok", "error_kind": None}
    marker = proc.stderr.rsplit("@@ERROR_KIND@@", 1)
    if proc.returncode != 1 or len(marker) != 2:
        raise Unportable(f"exit code {proc.returncode}: {proc.stderr[-300:]!r}")
    kind, message = marker[1].strip().split("@@", 1)
    if message.startswith("PORTABILITY"):
        raise Unportable(message)
    if not KIND_RE.match(kind):
        raise Unportable(f"thrown value has no usable name: {kind!r}")
    return {"stdout": proc.stdout, "outcome": "error", "error_kind": kind}


def main() -> int:
    check_only = "--check" in sys.argv[1:]
    problems = []
    counts = {}
    for sub, ext, runner in (("py", ".py", run_python), ("js", ".js", run_node)):
        directory = HERE / sub
        programs = sorted(p for p in directory.iterdir() if p.suffix == ext)
        counts[sub] = {"ok": 0, "error": 0}
        stems = {p.stem for p in programs}
        for stray in sorted(directory.glob("*.expected.json")):
            if stray.name[: -len(".expected.json")] not in stems:
                problems.append(f"{sub}/{stray.name}: expected file without a program")
        for program in programs:
            rel = f"{sub}/{program.name}"
            if not re.match(r"^\d{3}_[a-z0-9_]+$", program.stem):
                problems.append(f"{rel}: name must be NNN_snake_case")
            try:
                expected = runner(program)
            except (Unportable, subprocess.TimeoutExpired) as err:
                problems.append(f"{rel}: {err}")
                continue
            counts[sub][expected["outcome"]] += 1
            target = program.with_name(program.stem + ".expected.json")
            text = json.dumps(expected, indent=2, ensure_ascii=False) + "\n"
            if check_only:
                if not target.exists() or target.read_text(encoding="utf-8") != text:
                    problems.append(f"{rel}: committed expectation differs from the reference")
            else:
                target.write_text(text, encoding="utf-8")
    for sub, c in counts.items():
        print(f"{sub}: {c['ok'] + c['error']} programs ({c['ok']} ok, {c['error']} ending in an error)")
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
