"""The official `mcp` Python SDK against EdgeCoder's MCP server: over stdio (`edgecoder mcp`,
started by the SDK) and over streamable HTTP (`/mcp` on the daemon, with the bearer token)."""

import asyncio
import json
import os
import tempfile

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from common import BASE, mcp_over_http, mcp_over_stdio, run_tests


async def exercise(client):
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert {"run_python", "run_js", "check_subset", "generate", "plan_and_code", "search_code", "search_docs", "get_snippet"} <= set(tools), tools.keys()
    schema = tools["run_python"].input_schema
    assert schema["properties"]["code"]["type"] == "string" and "code" in schema["required"], schema

    r = await client.call_tool("run_python", {"code": "def f(x):\n    return x * 7\nprint(f(6))"})
    out = json.loads(r.content[0].text)
    assert not r.is_error and out["stdout"] == "42\n" and out["outcome"] == "ok", out

    r = await client.call_tool("run_python", {"code": "1/0"})
    out = json.loads(r.content[0].text)
    assert out["outcome"]["error"]["kind"] == "ZeroDivisionError", out

    r = await client.call_tool("run_js", {"code": "console.log([1, 2, 3].map(x => x * 2).join(','))"})
    out = json.loads(r.content[0].text)
    assert out["stdout"] == "2,4,6\n", out

    r = await client.call_tool("check_subset", {"code": "import os\nos.listdir('/')", "lang": "python"})
    out = json.loads(r.content[0].text)
    assert out["ok"] is False and out["code"] == "PY_IMPORT_DENIED", out
    r = await client.call_tool("check_subset", {"code": "print(1)", "lang": "python"})
    assert json.loads(r.content[0].text) == {"ok": True}

    r = await client.call_tool("check_subset", {"code": "x", "lang": "cobol"})
    assert r.is_error and "python or javascript" in r.content[0].text, r

    r = await client.call_tool("run_python", {"code": "print(1)", "timeout_ms": 10**9})
    assert r.is_error and "timeout_ms" in r.content[0].text, r

    r = await client.call_tool("generate", {"prompt": "def add(a, b):\n    return", "raw": True, "max_tokens": 8})
    assert not r.is_error and r.content[0].text.strip(), r

    with tempfile.TemporaryDirectory() as ws:
        with open(os.path.join(ws, "shapes.py"), "w") as f:
            f.write("def circle_area(radius):\n    return 3.14159 * radius * radius\n\n\ndef square_area(side):\n    return side * side\n")
        with open(os.path.join(ws, "NOTES.md"), "w") as f:
            f.write("# Notes\n\n## Deploying\n\nCopy the wheel to the server.\n")
        r = await client.call_tool("search_code", {"workspace": ws, "query": "area of a circle", "limit": 1, "mode": "bm25"})
        out = json.loads(r.content[0].text)
        assert not r.is_error and out["mode"] == "bm25", out
        assert [(h["path"], h["name"], h["start_line"]) for h in out["hits"]] == [("shapes.py", "circle_area", 1)], out
        r = await client.call_tool("search_docs", {"workspace": ws, "query": "deploying to the server"})
        out = json.loads(r.content[0].text)
        assert out["hits"][0]["name"] == "Notes > Deploying", out
        r = await client.call_tool("get_snippet", {"workspace": ws, "path": "shapes.py", "start_line": 5, "end_line": 6})
        out = json.loads(r.content[0].text)
        assert out["text"] == "def square_area(side):\n    return side * side", out
        r = await client.call_tool("get_snippet", {"workspace": ws, "path": "../etc/passwd", "start_line": 1, "end_line": 2})
        assert r.is_error and "inside the workspace" in r.content[0].text, r
        r = await client.call_tool("search_code", {"workspace": ws, "query": "x", "mode": "psychic"})
        assert r.is_error and "bm25, vector or fused" in r.content[0].text, r
        r = await client.call_tool("search_code", {"workspace": os.path.join(ws, "missing"), "query": "x"})
        assert r.is_error and "--workspace" in r.content[0].text, r


def test_stdio():
    mcp_over_stdio(exercise)


def test_streamable_http():
    mcp_over_http(exercise)


def test_streamable_http_needs_the_token():
    async def main():
        async with Client(streamable_http_client(f"{BASE}/mcp")) as client:
            await client.list_tools()

    # The SDK reports the daemon's 401 as a generic error response (the status itself is
    # asserted by the Rust test over raw HTTP).
    try:
        asyncio.run(main())
    except BaseException as e:  # noqa: BLE001 - the SDK wraps the error in exception groups
        assert "error response" in repr(e), repr(e)
    else:
        raise AssertionError("the MCP endpoint answered without a token")


run_tests(globals())
