"""Work survives a restart: a new server instance on the same state folder finishes a render the
previous one started (polling the stored id, never resubmitting; one whose submit was cut off is
checked at start-up), and reports an edit that was in flight from the timeline as it is now
(never sending it again)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nemo_video_mcp.emulator import Emulator, Fault
from nemo_video_mcp.service._store import RenderRecord, Store
from nemo_video_mcp.settings import Settings
from support_common import connect, make_media, settings_for, text_of, wait_until
from tools_support import MODES, file_bytes

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("mode", MODES)]

RUN = "/run_sse"
RENDER = "/api/render/proxy/lambda"


async def test_new_instance_finishes_a_render_started_before(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    emulator.config.render_seconds = 1.0
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as first:
        await first.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        started = (await first.call_tool("export_video", {"wait_seconds": 0.1})).structured_content
        assert started["status"] in ("pending", "processing")
    # the first server is gone, and its background polling with it
    async with connect(settings, mode) as second:
        done = await second.call_tool(
            "get_export_status", {"render_id": started["render_id"], "wait_seconds": 8}
        )
        out = done.structured_content
        assert not done.is_error, text_of(done)
        assert out["status"] == "completed"
        assert file_bytes(out["path"]) == emulator.render_content()
    async with connect(settings, mode) as third:  # a finished render is answered from the records
        before = len(emulator.requests_to(RENDER))
        again = (
            await third.call_tool("get_export_status", {"render_id": started["render_id"]})
        ).structured_content
        assert again["path"] == out["path"]
        assert len(emulator.requests_to(RENDER)) == before
    assert len(emulator.requests_to(RENDER, "POST")) == 1


async def test_new_instance_downloads_a_render_it_was_told_not_to(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as first:
        await first.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        started = (await first.call_tool("export_video", {"download": False})).structured_content
        assert started["status"] == "completed"
        assert started["path"] is None
        assert started["url"]
    async with connect(settings, mode) as second:
        args = {"render_id": started["render_id"], "download": True}
        saved = (await second.call_tool("get_export_status", args)).structured_content
    assert file_bytes(saved["path"]) == emulator.render_content()
    assert len(emulator.requests_to(RENDER, "POST")) == 1


async def test_new_instance_reports_an_edit_that_was_in_flight(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    emulator.config.edit_seconds = 1.0
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as first:
        up = await first.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        sid = up.structured_content["session_id"]
        args = {"instruction": 'add a title "Back Again"', "wait_seconds": 0.1}
        running = (await first.call_tool("send_edit", args)).structured_content
        assert running["status"] == "running"
    # the backend finishes the run whether or not anyone listens
    await wait_until(lambda: any(t.get("tt") == 7 for t in emulator.sessions[sid].draft.get("t", [])))
    async with connect(settings, mode) as second:
        # the same instruction again is answered from the state, not sent again
        again = (await second.call_tool("send_edit", args)).structured_content
        report = (
            await second.call_tool("get_edit_result", {"turn_id": running["turn_id"]})
        ).structured_content
    assert again["turn_id"] == running["turn_id"]
    assert report["status"] == "completed"
    assert "server restarted" in report["reply"]
    assert report["changes"] == ['added a text track "Back Again" (0-3s)']
    assert '"Back Again"' in report["timeline"]
    assert len(emulator.requests_to(RUN, "POST")) == 1


async def test_current_session_survives_a_restart(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path)
    clip = str(make_media(tmp_path / "media"))
    async with connect(settings, mode) as first:
        sid = (await first.call_tool("upload_media", {"paths": [clip]})).structured_content["session_id"]
    async with connect(settings, mode) as second:
        state = (await second.call_tool("get_state", {})).structured_content
    assert state["session_id"] == sid
    assert state["export_ready"] is True
    assert len(emulator.sessions) == 1


async def test_other_status_words_for_done_are_understood(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    emulator.config.render_seconds = 30.0  # it would not finish during the test by itself
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as first:
        await first.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        render_id = (await first.call_tool("export_video", {"wait_seconds": 0.05})).structured_content[
            "render_id"
        ]
    done = {"status": "done", "progress": 100, "outputUrl": f"{emulator.url}/files/{render_id}.mp4"}
    emulator.inject(
        Fault(
            "http",
            path=f"{RENDER}/{render_id}",
            method="GET",
            status=200,
            body={"success": True, "data": done},
            times=1000,  # every poll says so: a late poll of the closed first server must not use it up
        )
    )
    async with connect(settings, mode) as second:
        result = await second.call_tool("get_export_status", {"render_id": render_id, "wait_seconds": 5})
    assert not result.is_error, text_of(result)
    assert result.structured_content["status"] == "completed"
    assert file_bytes(result.structured_content["path"]) == emulator.render_content()


def _record(settings: Settings, render_id: str) -> RenderRecord | None:
    """The render's record as another process would read it."""
    look = Store.in_dir(settings.state_dir)
    try:
        return look.get_render(render_id)
    finally:
        look.close()


async def test_a_submit_cut_off_before_its_answer_is_checked_on_the_next_start(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    """Issue 14, item 8: the render's id is polled (never submitted again) when the server starts,
    without anyone asking; NemoVideo has no such render, so the record is over and expires."""
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as first:
        await first.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        emulator.inject(Fault("reset", path=RENDER, method="POST"))
        cut = await first.call_tool("export_video", {})
    assert cut.is_error
    match = re.search(r"render_id='(render_\w+)'", text_of(cut))
    assert match, text_of(cut)
    render_id = match.group(1)
    pending = _record(settings, render_id)
    assert pending is not None
    assert pending.status == "pending"

    async with connect(settings, mode) as second:
        await wait_until(
            lambda: (r := _record(settings, render_id)) is not None and r.finished_at is not None
        )
        asked = await second.call_tool("get_export_status", {"render_id": render_id})
    assert emulator.requests_to(f"{RENDER}/{render_id}", "GET"), "its id was polled"
    assert asked.is_error
    assert "has no export" in text_of(asked)
    assert len(emulator.requests_to(RENDER, "POST")) == 1  # never submitted again

    look = Store.in_dir(settings.state_dir)  # finished, so it expires like the others
    try:
        assert look.expire(0.0).renders == 1
        assert look.get_render(render_id) is None
    finally:
        look.close()


async def test_a_submit_whose_answer_was_lost_is_finished_on_the_next_start(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    """The submit reached NemoVideo but its answer did not come back: the next start finds the
    render by its id, waits for it and saves the file that was asked for, without a new submit."""
    settings = settings_for(emulator, tmp_path, {"NEMO_READ_TIMEOUT": "0.5"})
    async with connect(settings, mode) as first:
        await first.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        emulator.inject(Fault("delay", path=RENDER, method="POST", seconds=1.5))
        cut = await first.call_tool("export_video", {})
    assert cut.is_error
    match = re.search(r"render_id='(render_\w+)'", text_of(cut))
    assert match, text_of(cut)
    render_id = match.group(1)
    await wait_until(lambda: render_id in emulator.renders)  # NemoVideo got it after all

    async with connect(settings, mode) as second:
        await wait_until(lambda: (r := _record(settings, render_id)) is not None and r.path is not None)
        done = (await second.call_tool("get_export_status", {"render_id": render_id})).structured_content
    assert done["status"] == "completed"
    assert file_bytes(done["path"]) == emulator.render_content()
    assert len(emulator.requests_to(RENDER, "POST")) == 1
    assert emulator.renders[render_id].submits == 1
