"""An edit whose run this server lost (the stream dropped, or the server restarted during it) is
never settled from a few reads while NemoVideo may still be running it (issue 14, item 1): it
stays `running`, watched through the timeline, until the timeline changes (`completed`) or the
run's ceiling (NEMO_STREAM_MAX_SECONDS since it started) has passed with no change (only then
"it did not apply"). Meanwhile the same instruction is answered from that turn and a different
one is refused, saying when it will be accepted. Both protocol modes, against the emulator; the
crash of a real process is in tests/test_crash_mid_edit.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from nemo_video_mcp.emulator import Emulator, Fault
from nemo_video_mcp.emulator.drafts import apply_instruction
from support_common import connect, make_media, settings_for, text_of, wait_until
from tools_support import MODES

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("mode", MODES)]

RUN = "/run_sse"
MUSIC = "add background music"
LATER = 'add a title "Later"'
NEVER = Fault("sse_slow_heartbeats", interval=0.2, total=600)  # NemoVideo keeps at it for 10 minutes


async def uploaded(c: Client, tmp_path: Path) -> str:
    result = await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
    assert not result.is_error, text_of(result)
    return str(result.structured_content["session_id"])


async def settled(c: Client, turn_id: str) -> dict[str, Any]:
    """The turn's result once it is no longer running (each call returns as soon as it is over)."""
    while True:
        out = (
            await c.call_tool("get_edit_result", {"turn_id": turn_id, "wait_seconds": 5})
        ).structured_content
        if out["status"] != "running":
            return dict(out)


def no_resend_invited(reply: str) -> bool:
    return "do not send the instruction again" in reply and "send the instruction again only if" not in reply


async def test_a_dropped_stream_on_long_work_is_watched_past_a_few_reads(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    emulator.config.edit_seconds = 3.0  # applies 2.1 s after it was sent; 3 reads take 0.15 s
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        await uploaded(c, tmp_path)
        emulator.inject(Fault("sse_drop", after_events=1))
        out = (await c.call_tool("send_edit", {"instruction": MUSIC})).structured_content
    assert out["status"] == "completed", out
    assert out["changes"] == ['added a BGM track "Lo-fi" (0-10s)']
    assert "dropped" in out["reply"]
    assert len(emulator.requests_to(RUN, "POST")) == 1


async def test_a_dropped_stream_says_it_did_not_apply_only_past_the_ceiling(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path, {"NEMO_STREAM_MAX_SECONDS": "2"})
    async with connect(settings, mode) as c:
        await uploaded(c, tmp_path)
        emulator.inject(Fault("sse_slow_heartbeats", interval=0.05, total=600))
        emulator.inject(Fault("sse_drop", after_events=0))
        started = anyio.current_time()
        first = (
            await c.call_tool("send_edit", {"instruction": MUSIC, "wait_seconds": 0.5})
        ).structured_content
        await wait_until(lambda: len(emulator.requests_to("/api/state/")) >= 6)  # reads, well past "5 reads"
        watching = (
            await c.call_tool("get_edit_result", {"turn_id": first["turn_id"], "wait_seconds": 0})
        ).structured_content
        final = await settled(c, first["turn_id"])
        ended = anyio.current_time()
    if watching["status"] == "running":  # (a slow machine may reach the 2 s ceiling before this read)
        assert "dropped" in watching["reply"]
        assert "NemoVideo may still be working on it" in watching["reply"]
        assert no_resend_invited(watching["reply"])
    assert first["status"] == "running"
    assert no_resend_invited(first["reply"])
    assert final["status"] == "failed", final
    assert "did not apply" in final["reply"]
    assert "send the instruction again only if it is still needed" in final["reply"]
    assert ended - started >= 2.0  # not before the ceiling
    assert len(emulator.requests_to(RUN, "POST")) == 1


async def test_an_edit_cut_by_a_restart_is_watched_and_blocks_other_edits_until_it_applies(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as first:
        sid = await uploaded(first, tmp_path)
        emulator.inject(NEVER)
        sent = (
            await first.call_tool("send_edit", {"instruction": MUSIC, "wait_seconds": 0.1})
        ).structured_content
        await wait_until(lambda: emulator.sessions[sid].messages == [MUSIC])
    assert sent["status"] == "running"
    async with connect(settings, mode) as second:
        report = (
            await second.call_tool("get_edit_result", {"turn_id": sent["turn_id"], "wait_seconds": 0})
        ).structured_content
        same = (
            await second.call_tool("send_edit", {"instruction": MUSIC, "wait_seconds": 0})
        ).structured_content
        other = await second.call_tool("send_edit", {"instruction": LATER})
        # NemoVideo finishes the run it was given (the backend's timeline changes)
        session = emulator.sessions[sid]
        session.draft = apply_instruction(session.draft, MUSIC, 0)[0]
        done = await settled(second, sent["turn_id"])
        after = (await second.call_tool("send_edit", {"instruction": LATER})).structured_content

    assert report["status"] == "running", report
    assert "The server restarted while this edit was running" in report["reply"]
    assert no_resend_invited(report["reply"])
    assert same["turn_id"] == sent["turn_id"]
    assert other.is_error
    assert "may still be running" in text_of(other)
    assert "at the latest" in text_of(other)
    assert done["status"] == "completed"
    assert done["changes"] == ['added a BGM track "Lo-fi" (0-10s)']
    assert after["status"] == "completed"  # once it is over, the new instruction runs
    assert [r.json["new_message"]["parts"][0]["text"] for r in emulator.requests_to(RUN, "POST")] == [
        MUSIC,
        LATER,
    ]


async def test_an_edit_cut_by_a_restart_did_not_apply_only_past_the_ceiling(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path, {"NEMO_STREAM_MAX_SECONDS": "2"})
    async with connect(settings, mode) as first:
        sid = await uploaded(first, tmp_path)
        emulator.inject(NEVER)
        started = anyio.current_time()
        sent = (
            await first.call_tool("send_edit", {"instruction": MUSIC, "wait_seconds": 0.1})
        ).structured_content
        await wait_until(lambda: emulator.sessions[sid].messages == [MUSIC])
    async with connect(settings, mode) as second:
        final = await settled(second, sent["turn_id"])
        ended = anyio.current_time()
    assert final["status"] == "failed", final
    assert "did not apply" in final["reply"]
    assert "send the instruction again only if it is still needed" in final["reply"]
    assert ended - started >= 2.0  # never before the ceiling
    assert len(emulator.requests_to(RUN, "POST")) == 1
