"""Results that agree with themselves (issue 15 §3), through `mcp.Client` in both protocol modes:
an export's progress words say the number sent with them, an edit's progress has a total a host
can draw a bar against, a tool that saves files is not annotated read-only, and an upload's
message says what to do next. Also: an export whose file URL fails still lands (issue 10 §5: the
client's `download_render` gets its real caller)."""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import pytest

from nemo_video_mcp.emulator import Emulator, Fault
from support_common import connect, make_media, settings_for, text_of
from tools_support import MODES, Progress, file_bytes

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("mode", MODES)]


def _increasing(values: list[float]) -> bool:
    return all(a < b for a, b in itertools.pairwise(values))


async def test_export_progress_words_say_the_number_sent(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    emulator.config.render_seconds = 3.0  # progress is reported at once and 2.5 s later, mid-render
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        progress = Progress()
        done = await c.call_tool("export_video", {"wait_seconds": 8}, progress_callback=progress)
    assert not done.is_error, text_of(done)
    assert done.structured_content["status"] == "completed"
    assert file_bytes(done.structured_content["path"]) == emulator.render_content()
    exporting = [(p, t, m) for p, t, m in progress.seen if m and m.startswith("exporting ")]
    assert any(": rendering (" in m for _, _, m in exporting)
    assert any(p > 0 for p, _, m in exporting if ": rendering (" in m)  # a mid-render figure was sent
    for p, total, message in exporting:
        assert total == 100
        shown = re.match(r"exporting (\d+)%: ", message)
        assert shown, message
        assert int(shown.group(1)) == math.floor(p), (p, message)
    assert _increasing([p for p, _, _ in progress.seen])


async def test_edit_progress_is_a_bar_against_the_wait(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    emulator.config.edit_seconds = 4.5  # the follow-up call sees it at once and 2.5 s later
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        first = Progress()
        sent = await c.call_tool(
            "send_edit", {"instruction": "upscale it", "wait_seconds": 1.0}, progress_callback=first
        )
        assert sent.structured_content["status"] == "running"
        later = Progress()
        done = await c.call_tool(
            "get_edit_result",
            {"turn_id": sent.structured_content["turn_id"], "wait_seconds": 6},
            progress_callback=later,
        )
    assert done.structured_content["status"] == "completed"
    assert len(later.seen) >= 2  # at once, and 2.5 s later
    for seen, budget in ((first, 1.0), (later, 6.0)):
        assert seen.seen
        totals = {t for _, t, _ in seen.seen}
        assert len(totals) == 1  # one bar per call
        total = totals.pop()
        assert total is not None
        assert total >= budget  # the turn's age when this call stops waiting
        assert all(0 <= p < total for p, _, _ in seen.seen)
        assert _increasing([p for p, _, _ in seen.seen])
        assert all(m.startswith("editing: ") and m.endswith(" s)…") for m in seen.messages)
    # the follow-up call's bar continues the edit's: it starts where the first call left off
    assert later.seen[0][0] >= 1.0
    assert later.seen[-1][0] > later.seen[0][0]


async def test_get_export_status_saves_files_so_is_not_read_only(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        tools = {t.name: t.annotations for t in (await c.list_tools()).tools}
        await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        exported = await c.call_tool("export_video", {"download": False, "wait_seconds": 8})
        url_only = exported.structured_content
        assert url_only["status"] == "completed"
        assert url_only["path"] is None
        assert not list(settings.output_dir.glob("*.mp4"))
        saved = await c.call_tool("get_export_status", {"render_id": url_only["render_id"], "download": True})
        again = await c.call_tool("get_export_status", {"render_id": url_only["render_id"], "download": True})
    path = saved.structured_content["path"]
    assert file_bytes(path) == emulator.render_content()  # it wrote a file...
    assert tools["get_export_status"].read_only_hint is False  # ...so it does not claim to be read-only
    assert tools["get_export_status"].destructive_hint is False  # never over another file
    # a second identical call changes nothing more: idempotent
    assert again.structured_content["path"] == path
    assert len(list(settings.output_dir.glob("*.mp4"))) == 1
    assert tools["get_export_status"].idempotent_hint is True


async def test_upload_message_names_the_next_step(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path)
    clip = make_media(tmp_path / "media")
    async with connect(settings, mode) as c:
        up = (await c.call_tool("upload_media", {"paths": [str(clip)]})).structured_content
        repeat = (await c.call_tool("upload_media", {"paths": [str(clip)]})).structured_content
        sid = up["session_id"]
        for message in (up["message"], repeat["message"]):
            assert f"Next: describe the edit with send_edit(session_id={sid!r})." in message
        # following the advice works: the edit sees the uploaded media
        edit = await c.call_tool("send_edit", {"instruction": "add a title", "session_id": sid})
    assert not edit.is_error, text_of(edit)
    assert edit.structured_content["status"] == "completed"
    assert edit.structured_content["session_id"] == sid


async def test_export_whose_file_url_fails_is_saved_through_the_fallback(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    """The render's URL answers 404 every time: the export still lands, through NemoVideo's
    download endpoint (`NemoClient.download_render`, which had no caller but the tests)."""
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        emulator.inject(Fault("http", path="/files/", status=404, times=10))
        done = await c.call_tool("export_video", {"wait_seconds": 8})
    out = done.structured_content
    assert not done.is_error, text_of(done)
    assert out["status"] == "completed"
    assert file_bytes(out["path"]) == emulator.render_content()
    assert Path(out["path"]).parent == settings.output_dir
    assert emulator.requests_to(f"/api/render/proxy/{out['render_id']}/download")
