"""One slow call never stalls the others, and no echo of a caller's input is unbounded (issue 14,
item 4).

- The checks of `upload_media` read the disk (and search the media folders for similar names):
  they run in a worker thread, so while one client's call is busy there, another client's
  `check_credits` over HTTP is answered. Event-driven: the file-system listing of the media
  folder is held by a gate until `check_credits` has answered; on the event loop, the gate would
  hold the whole server and `check_credits` could only answer after it gave up.
- The work is bounded: at most `MAX_INPUTS` files and links per call, the folders read once per
  call (at most `SCAN_LIMIT` entries), suggestions for the first `SUGGESTED_PATHS` missing paths.
- Every echo of an input is bounded by `echo.shorten` / `echo.bounded` and says how much was cut.
"""

from __future__ import annotations

import io
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from nemo_video_mcp import logs
from nemo_video_mcp.echo import ECHO_CHARS, INSTRUCTION_CHARS, LIST_ITEMS, LOG_CHARS
from nemo_video_mcp.emulator import Emulator
from nemo_video_mcp.http_transport import build_app
from nemo_video_mcp.service._uploads import MAX_INPUTS
from support_common import connect, make_media, serve_in_thread, server_for, settings_for, text_of, wait_until
from tools_support import MODES

pytestmark = pytest.mark.anyio

GATE_SECONDS = 20.0  # only a guard against a deadlock: the test never waits for it to pass


class Gate:
    """Holds the first listing of `folder` (os.listdir or os.scandir, whichever the code uses)
    until `release` is set, or until GATE_SECONDS have passed (then `gave_up` is set)."""

    def __init__(self, folder: Path) -> None:
        self.folder = str(folder)
        self.entered = threading.Event()
        self.release = threading.Event()
        self.gave_up = threading.Event()

    def hold(self, path: Any) -> None:
        if os.fspath(path) != self.folder or self.entered.is_set():
            return
        self.entered.set()
        if not self.release.wait(GATE_SECONDS):
            self.gave_up.set()


@pytest.fixture
def gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    g = Gate(tmp_path / "media")
    listdir, scandir = os.listdir, os.scandir

    def held_listdir(path: Any = ".") -> Any:
        g.hold(path)
        return listdir(path)

    def held_scandir(path: Any = ".") -> Any:
        g.hold(path)
        return scandir(path)

    monkeypatch.setattr(os, "listdir", held_listdir)
    monkeypatch.setattr(os, "scandir", held_scandir)
    yield g
    g.release.set()


def _big_root(media: Path, files: int = 5000) -> None:
    media.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        (media / f"clip_{i:05d}.mp4").touch()
    make_media(media, "interview_final.mp4")


@pytest.mark.parametrize("mode", MODES)
async def test_a_slow_upload_check_does_not_hold_another_clients_call(
    emulator: Emulator, tmp_path: Path, gate: Gate, mode: str
) -> None:
    media = tmp_path / "media"
    _big_root(media)
    missing = [str(media / f"missing_{i:03d}.mp4") for i in range(MAX_INPUTS)]
    settings = settings_for(emulator, tmp_path)
    server = server_for(settings)
    with serve_in_thread(lambda port: build_app(server, settings, host="127.0.0.1", port=port)) as port:
        url = f"http://127.0.0.1:{port}/mcp"
        async with (
            httpx2.AsyncClient(timeout=60) as http_a,
            httpx2.AsyncClient(timeout=60) as http_b,
            Client(streamable_http_client(url, http_client=http_a), mode=mode) as a,
            Client(streamable_http_client(url, http_client=http_b), mode=mode) as b,
        ):
            slow: list[Any] = []

            async def upload() -> None:
                slow.append(await a.call_tool("upload_media", {"paths": missing}))

            async with anyio.create_task_group() as tg:
                tg.start_soon(upload)
                await wait_until(gate.entered.is_set, within=GATE_SECONDS)
                credits = await b.call_tool("check_credits", {})
                answered_while_held = not gate.gave_up.is_set() and not slow
                gate.release.set()
    assert not credits.is_error, text_of(credits)
    assert credits.structured_content["available"] == emulator.config.credits
    assert answered_while_held, "check_credits waited for the other client's file-system work"
    (refused,) = slow
    text = text_of(refused)
    assert refused.is_error
    assert f"{MAX_INPUTS} of {MAX_INPUTS} input(s) were refused" in text
    assert f"… and {MAX_INPUTS - LIST_ITEMS} more" in text
    assert sum(line.startswith("- ") for line in text.splitlines()) == LIST_ITEMS


async def test_many_missing_paths_get_bounded_suggestions(emulator: Emulator, tmp_path: Path) -> None:
    """Suggestions still come for a mistyped name, for the first few missing paths only."""
    media = tmp_path / "media"
    _big_root(media, files=300)
    paths = [str(media / "interview_finl.mp4")] + [str(media / f"zz_{i}.mp4") for i in range(40)]
    async with connect(settings_for(emulator, tmp_path), "legacy") as c:
        refused = await c.call_tool("upload_media", {"paths": paths})
        too_many = await c.call_tool("upload_media", {"paths": [*paths] * 3})
    text = text_of(refused)
    assert refused.is_error
    assert "Similar files: " in text
    assert str(media / "interview_final.mp4") in text
    assert "… and 31 more" in text
    assert too_many.is_error
    assert f"at most {MAX_INPUTS} per call" in text_of(too_many)
    assert len(text_of(too_many)) < 400
    assert emulator.requests == []  # refused before anything was sent


# ---- echoes -------------------------------------------------------------------------------------


def _cut(text: str, total: int, limit: int) -> bool:
    return f"… ({total - limit} more characters)" in text


@pytest.mark.parametrize("mode", MODES)
async def test_long_ids_and_paths_are_echoed_shortened(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    long_id = "t" * 100_000
    long_path = "/nowhere/" + "p" * 100_000 + ".mp4"
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        turn = await c.call_tool("get_edit_result", {"turn_id": long_id})
        render = await c.call_tool("get_export_status", {"render_id": long_id})
        session = await c.call_tool("get_state", {"session_id": long_id})
        path = await c.call_tool("upload_media", {"paths": [long_path]})
        link = await c.call_tool("upload_media", {"urls": ["ftp://" + "u" * 100_000]})
    for result, total in ((turn, 100_000), (render, 100_000), (session, 100_000)):
        text = text_of(result)
        assert result.is_error
        assert len(text) < ECHO_CHARS + 400, text[:500]
        assert _cut(text, total, ECHO_CHARS), text[:500]
    for result in (path, link):
        text = text_of(result)
        assert result.is_error
        assert len(text) < 3 * ECHO_CHARS + 600, text[:500]
        assert "more characters)" in text


@pytest.mark.parametrize("mode", MODES)
async def test_a_huge_running_instruction_is_quoted_shortened(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    emulator.config.edit_seconds = 3.0
    instruction = "add a title " + "x" * 2_000_000
    settings = settings_for(emulator, tmp_path, {"NEMO_WAIT_SECONDS": "0.2"})
    async with connect(settings, mode) as c:
        first = await c.call_tool("send_edit", {"instruction": instruction})
        assert first.structured_content["status"] == "running", text_of(first)
        busy = await c.call_tool("send_edit", {"instruction": "something else"})
    text = text_of(busy)
    assert busy.is_error
    assert "still running" in text
    assert len(text) < INSTRUCTION_CHARS + 600
    assert _cut(text, len(instruction), INSTRUCTION_CHARS)


def test_a_log_line_is_bounded() -> None:
    out = io.StringIO()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    logs.configure("INFO", stream=out)
    try:
        logging.getLogger("some.library").info("echo: %s", "z" * 1_000_000)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in handlers:
            root.addHandler(handler)
        root.setLevel(level)
    (line, *_) = out.getvalue().splitlines()
    assert len(out.getvalue()) < LOG_CHARS + 100
    assert "more characters)" in line
