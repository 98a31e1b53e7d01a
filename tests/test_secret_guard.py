"""The suite-wide secret-leak check (tests/conftest.py `no_secret_leaks`) really fails a test that
lets a token through, wherever it shows (in any letter case): a tool result, stderr, a log line,
an error message, the SQLite store."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import find_leaks

pytest_plugins = ["pytester"]

INNER_TESTS = """
import logging
import sys

import anyio
import httpx2
from mcp import Client
from mcp.server.mcpserver import MCPServer

from nemo_video_mcp.backend import BackendError
from nemo_video_mcp.emulator import Emulator


def issue(emu):
    answer = httpx2.post(emu.url + "/api/auth/anonymous-token", headers={"X-Client-Id": "c-0123456789"})
    return answer.json()["data"]["token"]


def test_in_a_tool_result():
    with Emulator() as emu:
        token = issue(emu)
        server = MCPServer("leaky")

        @server.tool()
        def whoami() -> str:
            return f"you are {token}"

        async def go():
            async with Client(server, mode="legacy") as c:
                await c.call_tool("whoami", {})

        anyio.run(go)


def test_on_stderr():
    with Emulator() as emu:
        print("debug:", issue(emu), file=sys.stderr)


def test_in_a_log_line():
    with Emulator() as emu:
        logging.getLogger("nemo_video_mcp.x").warning("sending Bearer %s", issue(emu))


def test_in_an_error_message():
    with Emulator() as emu:
        try:
            raise BackendError(f"refused {issue(emu)}")
        except BackendError:
            pass


def test_client_id_in_a_log_line():
    with Emulator() as emu:
        issue(emu)
        logging.getLogger("x").warning("client c-0123456789")


def test_in_the_store(tmp_path):
    from nemo_video_mcp.service._store import Store

    with Emulator() as emu:
        token = issue(emu)
        store = Store(tmp_path / "state.sqlite3")
        store.add_session("1", "video-json-ai")
        store.add_turn("t", "1", "video-json-ai", "add music")
        store.update_turn("t", status="completed", reply=f"echoing {token.upper()}")
        store.close()


def test_clean():
    with Emulator() as emu:
        assert issue(emu).startswith("nmv_usr_")
        print("token fetched")
"""


def test_find_leaks_names_the_place_and_masks_the_token() -> None:
    token = "nmv_usr_0123456789abcdef"
    leaks = find_leaks([("stderr", f"x Bearer {token} y"), ("result", "clean")], {token, "short"})
    assert len(leaks) == 1
    assert "stderr" in leaks[0]
    assert "<TOKEN>" in leaks[0]
    assert token not in leaks[0]


def test_leaks_fail_their_test_and_clean_tests_pass(pytester: pytest.Pytester) -> None:
    pytester.makeconftest((Path(__file__).parent / "conftest.py").read_text())
    pytester.makepyfile(test_inner=INNER_TESTS)
    result = pytester.runpytest_subprocess("-q", "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 7, result.stdout.str()
    assert outcomes.get("errors") == 6, result.stdout.str()
    out = result.stdout.str()
    for where in (
        "the result of call_tool('whoami')",
        "captured stderr",
        "captured log",
        "BackendError",
        "the store file state.sqlite3",
    ):
        assert where in out, where
    assert "ERROR test_inner.py::test_clean" not in out
    # (with CI set, pytest's short summary repeats each message in full: count distinct ones)
    messages = {line for line in out.splitlines() if line.startswith("token ")}
    assert len(messages) == 6
    assert not any("nmv_usr_" in m or "c-0123456789" in m for m in messages)  # masked
