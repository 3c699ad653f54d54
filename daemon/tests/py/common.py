"""Shared set-up of the SDK tests: the daemon's address, token and model come from the
environment set by daemon/tests/api.rs; each test is a function named test_*; a failing test
prints its traceback and the script exits 1."""

import os
import sys
import traceback

BASE = os.environ["EDGECODER_BASE_URL"]  # e.g. http://127.0.0.1:40123
TOKEN = os.environ["EDGECODER_TOKEN"]
MODEL = os.environ["EDGECODER_MODEL"]


def mcp_over_http(exercise):
    """Runs the coroutine function `exercise(client)` with an MCP client of the daemon's /mcp
    endpoint (streamable HTTP, with the bearer token)."""
    import asyncio

    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared._httpx_utils import create_mcp_http_client

    async def main():
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
        async with Client(streamable_http_client(f"{BASE}/mcp", http_client=http)) as client:
            await exercise(client)

    asyncio.run(main())


def mcp_over_stdio(exercise):
    """Runs `exercise(client)` with an MCP client of `edgecoder mcp` (EDGECODER_BIN, started by
    the SDK with the daemon's EDGECODER_CONFIG)."""
    import asyncio

    from mcp import Client, StdioServerParameters

    command = os.environ["EDGECODER_BIN"]
    params = StdioServerParameters(command=command, args=["mcp", "--config", os.environ["EDGECODER_CONFIG"]], env=dict(os.environ))

    async def main():
        async with Client(params) as client:
            await exercise(client)

    asyncio.run(main())


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
