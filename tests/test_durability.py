"""Restarts the other restart tests (tests/test_tools_restart.py) do not cover:

- a crash: the real `nemo-video-mcp` process is killed (SIGKILL, no shutdown at all) while a render
  and two edits are in flight; a new process on the same state folder finishes the render without
  submitting it again, reports each edit from the timeline as it is now (one applied meanwhile;
  the other still `running`, watched, since NemoVideo may still be running it), never sends an
  edit twice, and keeps the current session of every skill;
- expiry: records of finished work are forgotten after NEMO_RECORD_TTL_HOURS (a readable "unknown
  handle" error, the saved file left alone), while unfinished work and current sessions stay.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest
from mcp import StdioServerParameters

from nemo_video_mcp.emulator import Emulator, Fault
from reliability_support import RENDER, RUN, fast_emulator, read
from support_common import (
    connect,
    make_media,
    server_process,
    server_script,
    settings_for,
    text_of,
    wait_until,
)

pytestmark = pytest.mark.anyio
SKILLS = ("objectremover-video", "video-json-ai", "editor-remastered")


def _has_track(emu: Emulator, sid: str, kind: int) -> bool:
    return any(t.get("tt") == kind for t in emu.sessions[sid].draft.get("t", []))


@pytest.mark.slow
async def test_a_killed_server_loses_nothing(emulator: Emulator, tmp_path: Path) -> None:
    fast_emulator(emulator)
    emulator.config.edit_seconds = 1.5
    emulator.config.render_seconds = 2.0
    clip = str(make_media(tmp_path / "media"))
    settings = settings_for(emulator, tmp_path)
    env = {
        "NEMO_API_URL": emulator.url,
        "NEMO_STATE_DIR": str(settings.state_dir),
        "NEMO_OUTPUT_DIR": str(settings.output_dir),
        "NEMO_MEDIA_ROOTS": str(tmp_path / "media"),
        "NEMO_LANGUAGE": "en",
        "NEMO_POLL_SECONDS": "0.1",
        "NEMO_POLL_MAX_SECONDS": "0.2",
        "NEMO_WAIT_SECONDS": "10",
        "NEMO_RECOVERY_POLL_SECONDS": "0.1",
        "PATH": os.environ.get("PATH", ""),
    }
    params = StdioServerParameters(command=server_script(), env=env, cwd=tmp_path)
    sids: dict[str, str] = {}

    with anyio.fail_after(60):
        async with connect(params, "auto") as first:
            for skill in SKILLS:
                up = await first.call_tool("upload_media", {"paths": [clip], "skill": skill})
                assert not up.is_error, text_of(up)
                sids[skill] = up.structured_content["session_id"]
            a, b = sids["objectremover-video"], sids["video-json-ai"]
            # edit A applies while the server is down (its request is held until then); edit B
            # not before the end of the test
            hold_a = emulator.inject(Fault("hold", path=RUN, method="POST"))
            applied = await first.call_tool(
                "send_edit", {"instruction": "add music", "session_id": a, "wait_seconds": 0}
            )
            await wait_until(lambda: emulator.requests_to(RUN, "POST") != [])
            emulator.inject(Fault("sse_slow_heartbeats", interval=0.5, total=120))
            pending = await first.call_tool(
                "send_edit", {"instruction": 'add a title "Later"', "session_id": b, "wait_seconds": 0}
            )
            await wait_until(lambda: emulator.sessions[b].messages != [])
            export = await first.call_tool("export_video", {"session_id": a, "wait_seconds": 0})
            assert [applied.structured_content["status"], pending.structured_content["status"]] == [
                "running"
            ] * 2
            assert export.structured_content["status"] in ("pending", "processing")
            proc = server_process(settings.state_dir)
            proc.kill()  # SIGKILL: no lifespan exit, no store close, no goodbye
            proc.wait(10)

        assert emulator.sessions[a].messages == []  # the backend had not started edit A...
        hold_a.release()
        await wait_until(lambda: _has_track(emulator, a, 1))  # ...and finishes it while the server is down
        assert not _has_track(emulator, b, 7)

        async with connect(params, "auto") as second:
            rid = export.structured_content["render_id"]
            done = await second.call_tool("get_export_status", {"render_id": rid})
            report_a = await second.call_tool(
                "get_edit_result", {"turn_id": applied.structured_content["turn_id"]}
            )
            report_b = await second.call_tool(
                "get_edit_result", {"turn_id": pending.structured_content["turn_id"], "wait_seconds": 0}
            )
            again = {
                skill: await second.call_tool("upload_media", {"paths": [clip], "skill": skill})
                for skill in SKILLS
            }

    assert not done.is_error, text_of(done)
    assert done.structured_content["status"] == "completed"
    assert read(done.structured_content["path"]) == emulator.render_content()
    assert len(emulator.requests_to(RENDER, "POST")) == 1
    assert emulator.renders[rid].submits == 1

    a_out, b_out = report_a.structured_content, report_b.structured_content
    assert a_out["status"] == "completed", a_out
    assert "server restarted" in a_out["reply"]
    assert a_out["changes"] == ['added a BGM track "Lo-fi" (0-10s)']
    assert b_out["status"] == "running", b_out  # NemoVideo may still be running it: unknown, not failed
    assert "NemoVideo may still be working on it" in b_out["reply"]
    assert "do not send the instruction again" in b_out["reply"]
    assert "send the instruction again only if" not in b_out["reply"]
    assert b_out["changes"] == []
    assert len(emulator.requests_to(RUN, "POST")) == 2, "an edit was sent again after the restart"

    assert {skill: r.structured_content["session_id"] for skill, r in again.items()} == sids
    assert len(emulator.sessions) == 3


async def test_finished_work_expires_after_the_ttl(emulator: Emulator, tmp_path: Path) -> None:
    fast_emulator(emulator)
    ttl = {"NEMO_RECORD_TTL_HOURS": str(0.5 / 3600)}  # half a second
    settings = settings_for(emulator, tmp_path, ttl)
    async with connect(settings) as first:
        up = await first.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        sid = up.structured_content["session_id"]
        edit = (await first.call_tool("send_edit", {"instruction": "add music"})).structured_content
        finished = (await first.call_tool("export_video", {})).structured_content
        assert [edit["status"], finished["status"]] == ["completed", "completed"]
        emulator.config.render_seconds = 60.0
        unfinished = (await first.call_tool("export_video", {"wait_seconds": 0})).structured_content
        assert unfinished["status"] in ("pending", "processing")
    await anyio.sleep(0.7)
    async with connect(settings) as second:
        turn = await second.call_tool("get_edit_result", {"turn_id": edit["turn_id"]})
        render = await second.call_tool("get_export_status", {"render_id": finished["render_id"]})
        running = await second.call_tool(
            "get_export_status", {"render_id": unfinished["render_id"], "wait_seconds": 0}
        )
        state = await second.call_tool("get_state", {})
    assert turn.is_error
    assert f"No edit turn '{edit['turn_id']}' is known (it may have expired)" in text_of(turn)
    assert "get_state" in text_of(turn)
    assert render.is_error
    assert f"No render '{finished['render_id']}' is known (it may have expired)" in text_of(render)
    assert read(finished["path"]) == emulator.render_content(), "expiry must never touch the user's files"
    assert not running.is_error, text_of(running)
    assert running.structured_content["status"] in ("pending", "processing")
    assert state.structured_content["session_id"] == sid  # the current session is not finished work
    assert len(emulator.requests_to(RENDER, "POST")) == 2


async def test_records_within_the_ttl_survive_a_restart(emulator: Emulator, tmp_path: Path) -> None:
    fast_emulator(emulator)
    settings = settings_for(emulator, tmp_path, {"NEMO_RECORD_TTL_HOURS": "1"})
    async with connect(settings) as first:
        await first.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        edit = (await first.call_tool("send_edit", {"instruction": "add music"})).structured_content
    await anyio.sleep(0.7)
    async with connect(settings) as second:
        again = await second.call_tool("get_edit_result", {"turn_id": edit["turn_id"]})
    assert not again.is_error, text_of(again)
    assert again.structured_content["changes"] == edit["changes"]


async def test_a_long_running_server_expires_finished_work_without_a_restart(
    emulator: Emulator, tmp_path: Path
) -> None:
    from nemo_video_mcp.service._store import Store

    fast_emulator(emulator)
    ttl = {"NEMO_RECORD_TTL_HOURS": str(0.4 / 3600)}  # 0.4 s: the sweep runs every 0.2 s
    settings = settings_for(emulator, tmp_path, ttl)
    async with connect(settings) as client:
        await client.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        edit = (await client.call_tool("send_edit", {"instruction": "add music"})).structured_content
        assert edit["status"] == "completed"
        look = Store.in_dir(settings.state_dir)  # a second connection, as another process would
        try:
            assert look.get_turn(edit["turn_id"]) is not None
            await wait_until(lambda: look.get_turn(edit["turn_id"]) is None)
        finally:
            look.close()


async def test_a_session_lost_right_after_an_upload_still_tells_its_timeline(
    emulator: Emulator, tmp_path: Path
) -> None:
    fast_emulator(emulator)
    settings = settings_for(emulator, tmp_path)
    async with connect(settings) as client:
        up = await client.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        assert not up.is_error, text_of(up)
        emulator.inject(Fault("envelope", path="/api/state", code=1002))
        lost = await client.call_tool("get_state", {})
    assert lost.is_error
    text = text_of(lost)
    assert "Last known timeline of the lost session: Timeline (1 track)" in text, text
    assert "never read" not in text
