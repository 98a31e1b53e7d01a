"""The real console script over stdio: an MCP client lists tools and calls one; stdout is pure JSON-RPC."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import IO, Any

import anyio
from mcp import StdioServerParameters

from support_common import connect, server_script


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        "NEMO_STATE_DIR": str(tmp_path / "state"),
        "NEMO_OUTPUT_DIR": str(tmp_path / "out"),
        "NEMO_MEDIA_ROOTS": str(tmp_path),
    }


def test_client_lists_tools_and_checks_credits(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=server_script(), args=["--sandbox"], env=_env(tmp_path), cwd=tmp_path
    )

    async def go() -> tuple[list[str], Any]:
        with anyio.fail_after(90):
            async with connect(params, "auto") as client:
                tools = [t.name for t in (await client.list_tools()).tools]
                return tools, await client.call_tool("check_credits", {})

    tools, result = anyio.run(go)
    assert {"upload_media", "send_edit", "get_edit_result", "get_state", "export_video"} <= set(tools)
    assert {"get_export_status", "check_credits"} <= set(tools)
    assert not result.is_error, result
    text = " ".join(getattr(c, "text", "") for c in result.content)
    assert "100" in text
    assert {p.name for p in tmp_path.iterdir()} <= {"state", "out"}  # nothing in the working directory


def _drain(stream: IO[str], sink: list[str]) -> None:
    for line in stream:
        sink.append(line)


def test_stdout_carries_only_json_rpc(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [server_script(), "--sandbox", "-v"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        cwd=tmp_path,
        env={**_base_env(), **_env(tmp_path)},
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    assert proc.stderr is not None
    err: list[str] = []
    err_thread = threading.Thread(target=_drain, args=(proc.stderr, err), daemon=True)
    err_thread.start()
    out: list[str] = []

    def send(message: dict[str, Any]) -> None:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(message) + "\n")
        proc.stdin.flush()

    def read_until(msg_id: int) -> dict[str, Any]:
        assert proc.stdout is not None
        while True:
            line = proc.stdout.readline()
            assert line, f"stdout closed before the answer to {msg_id}; stderr: {''.join(err)[-2000:]}"
            out.append(line)
            message = json.loads(line)
            if message.get("id") == msg_id:
                return dict(message)

    try:
        send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "raw-test", "version": "0"},
                },
            }
        )
        assert "result" in read_until(1)
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        send({"jsonrpc": "2.0", "id": 2, "method": "tools/list"})
        listed = read_until(2)
        assert any(t["name"] == "check_credits" for t in listed["result"]["tools"])
        send(
            {
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {"name": "check_credits", "arguments": {}, "_meta": {"progressToken": "p1"}},
            }
        )
        called = read_until(3)
        assert called["result"].get("isError") is not True, called
        proc.stdin.close()  # end of input: the server must exit by itself
        out.extend(proc.stdout.read().splitlines(keepends=True))
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    err_thread.join(10)

    assert proc.returncode == 0, "".join(err)[-2000:]
    assert out
    for line in out:
        message = json.loads(line)  # every stdout line is one JSON-RPC message
        assert message.get("jsonrpc") == "2.0", line
        assert ("id" in message) or ("method" in message), line
    logs = "".join(err)
    assert "SANDBOX" in logs  # the sandbox notice and the debug logs went to stderr
    assert "debug" in logs.lower()


def _base_env() -> dict[str, str]:
    import os

    keep = ("PATH", "HOME", "SYSTEMROOT", "TEMP", "TMP", "LANG", "LC_ALL")
    return {k: v for k, v in os.environ.items() if k in keep}
