"""Uploads as background work, through `mcp.Client` against the emulator over real sockets: an
upload slower than the wait budget returns `running` with an `upload_id`; the same call again
(any order) joins it, never sends it twice; a cancelled call does not stop it; a failure reaches a
waiting call as a readable error and is then forgotten; a finished upload repeated within the
window is not sent again (after it, or with a changed file, it is); edits wait for the upload."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from nemo_video_mcp.emulator import Emulator, Fault
from nemo_video_mcp.service import _uploads as uploads
from support_common import connect, make_media, settings_for, text_of, wait_until
from tools_support import MODES, Progress

pytestmark = pytest.mark.anyio

UPLOAD = "/api/upload-video/"
RENDER_PATH = "/api/render/proxy/lambda"
RUN = "/run_sse"
SHORT_BUDGET = {"NEMO_WAIT_SECONDS": "0.3"}


def upload_posts(emu: Emulator) -> int:
    return len(emu.requests_to(UPLOAD, "POST"))


def held_upload(emu: Emulator) -> Fault:
    """The emulator keeps the next upload request waiting until the test calls `.release()`."""
    return emu.inject(Fault("hold", path=UPLOAD, method="POST"))


def slow_uploads(emu: Emulator, seconds: float, times: int = 1) -> None:
    """The emulator holds the next upload request(s) this long before reading them."""
    emu.inject(Fault("delay", path=UPLOAD, method="POST", seconds=seconds, times=times))


async def until_finished(c: Client, args: dict[str, Any], *, calls: int = 40) -> tuple[Any, set[str]]:
    """Call upload_media with `args` until it is no longer running; the last result and every
    upload_id seen on the way."""
    seen: set[str] = set()
    for _ in range(calls):
        result = await c.call_tool("upload_media", args)
        if result.is_error or result.structured_content["status"] != "running":
            return result, seen
        seen.add(result.structured_content["upload_id"])
    raise AssertionError(f"still running after {calls} calls")


def received(emu: Emulator, sid: str) -> list[str]:
    return [f["filename"] for f in emu.sessions[sid].files]


@pytest.mark.parametrize("mode", MODES)
async def test_slow_upload_returns_a_handle_and_the_same_call_finishes_it(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    slow_uploads(emulator, 1.5)
    settings = settings_for(emulator, tmp_path, SHORT_BUDGET)
    a = str(make_media(tmp_path / "media", "a.mp4", size=2 * 1024 * 1024))
    b = str(make_media(tmp_path / "media", "b.mp4"))
    async with connect(settings, mode) as c:
        progress = Progress()
        first = await c.call_tool("upload_media", {"paths": [a, b]}, progress_callback=progress)
        assert not first.is_error, text_of(first)
        out = first.structured_content
        assert out["status"] == "running"
        assert out["files"] == []
        assert out["upload_id"].startswith("upload_")
        assert out["session_id"] in emulator.sessions
        assert out["progress"] is not None
        assert 0 <= out["progress"] < 100
        assert "upload_media again with the same arguments" in out["message"]
        assert out["upload_id"] in out["message"]
        assert progress.messages[0].startswith("uploading ")
        assert progress.messages[0].endswith("/2.0 MB")

        # the same inputs in another order: keeps waiting on the same upload, sends nothing more
        done, seen = await until_finished(c, {"paths": [b, a]})
        assert not done.is_error, text_of(done)
        result = done.structured_content
        assert seen <= {out["upload_id"]}
        assert result["upload_id"] == out["upload_id"]
        assert result["status"] == "completed"
        assert result["progress"] == 100.0
        assert [f["filename"] for f in result["files"]] == ["a.mp4", "b.mp4"]
        assert result["session_id"] == out["session_id"]
        assert upload_posts(emulator) == 1

        # finished and asked again (a host retrying a call it cut): the result, not a second upload
        repeat = (await c.call_tool("upload_media", {"paths": [a, b]})).structured_content
        assert repeat["status"] == "completed"
        assert repeat["upload_id"] == out["upload_id"]
        assert repeat["files"] == result["files"]
        assert "nothing was sent again" in repeat["message"]
        assert upload_posts(emulator) == 1

        # a file changed since is a new upload
        stat = os.stat(a)
        os.utime(a, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        fresh = (await c.call_tool("upload_media", {"paths": [a, b]})).structured_content
    assert fresh["status"] == "completed"
    assert fresh["upload_id"] != out["upload_id"]
    assert upload_posts(emulator) == 2
    assert received(emulator, out["session_id"]) == ["a.mp4", "b.mp4", "a.mp4", "b.mp4"]


@pytest.mark.parametrize("mode", MODES)
async def test_cancelling_the_call_stops_the_wait_not_the_upload(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    slow_uploads(emulator, 1.0)
    settings = settings_for(emulator, tmp_path)  # a long budget: only the cancellation ends the call
    args = {"paths": [str(make_media(tmp_path / "media", "street.mp4"))]}
    async with connect(settings, mode) as c:
        async with anyio.create_task_group() as tg:
            tg.start_soon(c.call_tool, "upload_media", args)
            await wait_until(lambda: upload_posts(emulator) == 1)
            tg.cancel_scope.cancel()
        [sid] = emulator.sessions
        await wait_until(lambda: received(emulator, sid) == ["street.mp4"])
        again = await c.call_tool("upload_media", args)
    assert not again.is_error, text_of(again)
    assert again.structured_content["status"] == "completed"
    assert [f["filename"] for f in again.structured_content["files"]] == ["street.mp4"]
    assert upload_posts(emulator) == 1
    assert received(emulator, sid) == ["street.mp4"]


@pytest.mark.parametrize("mode", MODES)
async def test_a_failed_upload_is_reported_and_a_retry_uploads_again(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    emulator.inject(Fault("http", path=UPLOAD, method="POST", status=503))
    settings = settings_for(emulator, tmp_path)
    args = {"paths": [str(make_media(tmp_path / "media"))]}
    async with connect(settings, mode) as c:
        failed = await c.call_tool("upload_media", args)
        assert failed.is_error
        assert "try again in a minute" in text_of(failed)
        retry = await c.call_tool("upload_media", args)
    assert not retry.is_error, text_of(retry)
    assert retry.structured_content["status"] == "completed"
    assert upload_posts(emulator) == 2
    assert received(emulator, retry.structured_content["session_id"]) == ["clip.mp4"]


async def test_a_failure_after_the_budget_reaches_the_next_identical_call(
    emulator: Emulator, tmp_path: Path
) -> None:
    slow_uploads(emulator, 0.8)
    emulator.inject(Fault("http", path=UPLOAD, method="POST", status=503))
    settings = settings_for(emulator, tmp_path, SHORT_BUDGET)
    args = {"paths": [str(make_media(tmp_path / "media"))]}
    async with connect(settings, "legacy") as c:
        first = await c.call_tool("upload_media", args)
        assert first.structured_content["status"] == "running"
        await wait_until(lambda: emulator.requests_to(UPLOAD, "POST")[0].status == 503)
        await anyio.sleep(0.3)  # it fails while no call waits for it
        failed = await c.call_tool("upload_media", args)
        assert failed.is_error
        assert "HTTP 503" in text_of(failed)
        assert upload_posts(emulator) == 1  # the error was told, not a second upload started
        retry, _ = await until_finished(c, args)
    assert not retry.is_error, text_of(retry)
    assert retry.structured_content["upload_id"] != first.structured_content["upload_id"]
    assert upload_posts(emulator) == 2


@pytest.mark.parametrize("mode", MODES)
async def test_an_edit_is_refused_while_the_session_uploads(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    hold = held_upload(emulator)
    settings = settings_for(emulator, tmp_path, SHORT_BUDGET)
    args = {"paths": [str(make_media(tmp_path / "media", "street.mp4"))]}
    async with connect(settings, mode) as c:
        running = (await c.call_tool("upload_media", args)).structured_content
        assert running["status"] == "running"
        edit = await c.call_tool("send_edit", {"instruction": "add music"})
        assert edit.is_error
        text = text_of(edit)
        assert running["upload_id"] in text
        assert "street.mp4" in text
        assert "upload_media again with the same arguments" in text
        assert emulator.requests_to(RUN) == []
        hold.release()
        done, _ = await until_finished(c, args)
        assert done.structured_content["status"] == "completed"
        edit = await c.call_tool("send_edit", {"instruction": "add music"})
    assert not edit.is_error, text_of(edit)
    assert len(emulator.requests_to(RUN, "POST")) == 1


async def test_an_export_is_refused_while_the_session_uploads(emulator: Emulator, tmp_path: Path) -> None:
    settings = settings_for(emulator, tmp_path, SHORT_BUDGET)
    first = {"paths": [str(make_media(tmp_path / "media", "street.mp4"))]}
    second = {"paths": [str(make_media(tmp_path / "media", "beach.mp4"))]}
    async with connect(settings, "legacy") as c:
        assert (await c.call_tool("upload_media", first)).structured_content["status"] == "completed"
        hold = held_upload(emulator)
        running = (await c.call_tool("upload_media", second)).structured_content
        assert running["status"] == "running"
        export = await c.call_tool("export_video", {})
        assert export.is_error
        assert running["upload_id"] in text_of(export)
        assert "beach.mp4" in text_of(export)
        assert emulator.requests_to(RENDER_PATH) == []  # nothing submitted meanwhile
        hold.release()
        await until_finished(c, second)
        export = await c.call_tool("export_video", {})
    assert not export.is_error, text_of(export)
    assert len(emulator.requests_to(RENDER_PATH, "POST")) == 1


@pytest.mark.parametrize("mode", MODES)
async def test_identical_calls_at_once_share_one_upload(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    slow_uploads(emulator, 0.5)
    settings = settings_for(emulator, tmp_path)
    args = {"paths": [str(make_media(tmp_path / "media"))]}
    results: list[dict[str, Any]] = []
    async with connect(settings, mode) as c:

        async def upload() -> None:
            results.append((await c.call_tool("upload_media", args)).structured_content)

        async with anyio.create_task_group() as tg:
            tg.start_soon(upload)
            tg.start_soon(upload)
    assert [r["status"] for r in results] == ["completed", "completed"]
    assert results[0]["upload_id"] == results[1]["upload_id"]
    assert upload_posts(emulator) == 1


async def test_a_repeat_after_the_window_is_a_new_upload(
    emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(uploads, "REPEAT_WINDOW_SECONDS", 0.3)
    settings = settings_for(emulator, tmp_path)
    args = {"paths": [str(make_media(tmp_path / "media"))]}
    async with connect(settings, "legacy") as c:
        first = (await c.call_tool("upload_media", args)).structured_content
        await anyio.sleep(0.5)
        second = (await c.call_tool("upload_media", args)).structured_content
    assert first["upload_id"] != second["upload_id"]
    assert upload_posts(emulator) == 2
    assert received(emulator, first["session_id"]) == ["clip.mp4", "clip.mp4"]


async def test_slow_link_import_runs_in_the_background(emulator: Emulator, tmp_path: Path) -> None:
    slow_uploads(emulator, 1.0)
    settings = settings_for(emulator, tmp_path, SHORT_BUDGET)
    args = {"urls": ["https://example.com/holiday.mp4"]}
    async with connect(settings, "legacy") as c:
        progress = Progress()
        first = (await c.call_tool("upload_media", args, progress_callback=progress)).structured_content
        assert first["status"] == "running"
        assert first["progress"] is None  # no byte count for links
        assert "importing 1 link(s)" in first["message"]
        assert progress.messages[0].startswith("importing 1 link(s)")
        done, _ = await until_finished(c, args)
    assert done.structured_content["files"][0]["filename"] == "holiday.mp4"
    assert upload_posts(emulator) == 1
