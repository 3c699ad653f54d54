"""The official `mcp` Python SDK calling EdgeCoder's `plan_and_code` tool (the on-device agent)
over streamable HTTP (`/mcp` on the daemon) and over stdio (`edgecoder mcp`, which asks the
running daemon)."""

import json

from common import mcp_over_http, mcp_over_stdio, run_tests

TASK = "Write a Python function `is_even(n)` that returns True when the integer n is even, else False."
TESTS = "assert is_even(2)\nassert not is_even(3)\nassert is_even(0)\nassert not is_even(-7)\n"


async def exercise(client):
    tools = {t.name: t for t in (await client.list_tools()).tools}
    schema = tools["plan_and_code"].input_schema
    assert "task" in schema["required"] and schema["properties"]["tests"], schema

    r = await client.call_tool("plan_and_code", {"task": TASK, "tests": TESTS, "max_iterations": 3})
    assert not r.is_error, r
    out = json.loads(r.content[0].text)
    assert out["status"] == "finished" and out["state"] == "done", out
    report = out["report"]
    assert "def is_even" in report["code"], report
    assert all(t["status"] == "passed" for t in report["last_report"]["tests"]), report["last_report"]
    assert out["steps"] and any("tests passed" in s for s in out["steps"]), out["steps"]

    r = await client.call_tool("plan_and_code", {"task": TASK, "workspace": "relative/dir"})
    assert r.is_error and "absolute" in r.content[0].text, r
    r = await client.call_tool("plan_and_code", {"task": TASK, "max_iterations": 0})
    assert r.is_error and "max_iterations" in r.content[0].text, r


def test_streamable_http():
    mcp_over_http(exercise)


def test_stdio():
    mcp_over_stdio(exercise)


run_tests(globals())
