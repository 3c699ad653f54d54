"""Shared set-up of the SDK tests: the daemon's address, token and model come from the
environment set by daemon/tests/api.rs; each test is a function named test_*; a failing test
prints its traceback and the script exits 1."""

import os
import sys
import traceback

BASE = os.environ["EDGECODER_BASE_URL"]  # e.g. http://127.0.0.1:40123
TOKEN = os.environ["EDGECODER_TOKEN"]
MODEL = os.environ["EDGECODER_MODEL"]


def run_tests(namespace):
    """Runs every test_* function of `namespace` (a module's globals) and exits."""
    failures = 0
    tests = [(name, fn) for name, fn in namespace.items() if name.startswith("test_") and callable(fn)]
    for name, fn in tests:
        try:
            fn()
            print(f"ok   {name}", flush=True)
        except Exception:  # noqa: BLE001 - report every failure and go on
            failures += 1
            print(f"FAIL {name}", flush=True)
            traceback.print_exc()
    print(f"{len(tests) - failures} passed, {failures} failed", flush=True)
    sys.exit(1 if failures else 0)
