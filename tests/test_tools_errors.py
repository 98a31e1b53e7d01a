"""Every backend failure reaches the assistant as text it can act on (both protocol modes, the
emulator over real sockets): the useful fields are there (code, retry-after, registration link,
formats, limits), raw backend JSON and tokens are not."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from nemo_video_mcp.emulator import Emulator, Fault
from support_common import connect, make_media, settings_for, text_of
from tools_support import MODES

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("mode", MODES)]

RUN = "/run_sse"
RENDER = "/api/render/proxy/lambda"
UPLOAD = "/api/upload-video/"
STATE = "/api/state/"
CREDITS = "/api/credits/balance/simple"


def readable_error(emulator: Emulator, result: Any) -> str:
    """The error text, checked for what must never be in it."""
    assert result.is_error
    text = text_of(result)
    prefix = "Error executing tool "  # the SDK's; what follows is ours
    assert text.startswith(prefix)
    assert len(text.partition(": ")[2]) > 40
    for token in emulator.issued_tokens:
        assert token not in text
    assert "Traceback" not in text
    assert '"code"' not in text
    assert "{" not in text
    return text


async def uploaded(c: Client, tmp_path: Path) -> str:
    result = await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
    assert not result.is_error, text_of(result)
    return str(result.structured_content["session_id"])


async def test_1001_twice_asks_to_check_the_token(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        emulator.inject(Fault("envelope", path=CREDITS, code=1001, times=2))
        text = readable_error(emulator, await c.call_tool("check_credits", {}))
    assert "1001" in text
    assert "NEMO_TOKEN" in text


async def test_1002_names_the_new_session_and_the_lost_timeline(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        old = await uploaded(c, tmp_path)
        await c.call_tool("get_state", {})  # the last timeline the server saw
        emulator.inject(Fault("envelope", path=STATE, code=1002))
        text = readable_error(emulator, await c.call_tool("send_edit", {"instruction": "remove the dog"}))
        (new,) = set(emulator.sessions) - {old}
        assert old in text
        assert new in text
        assert "1002" in text
        assert 'Timeline (1 track): 1. Video: "clip" (0-10s)' in text
        assert "upload the media again" in text
        now = (await c.call_tool("get_state", {})).structured_content
        assert now["session_id"] == new  # the new session is the current one
        lost = await c.call_tool("get_state", {"session_id": old})
        assert old in readable_error(emulator, lost)
        assert new in text_of(lost)
    assert emulator.requests_to(RUN) == []


async def test_session_missing_at_run_time_is_replaced_too(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        old = await uploaded(c, tmp_path)
        emulator.inject(Fault("sse_404"))
        text = readable_error(emulator, await c.call_tool("send_edit", {"instruction": "remove the dog"}))
    (new,) = set(emulator.sessions) - {old}
    assert old in text
    assert new in text


async def test_2001_gives_the_registration_link(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    emulator.config.credits = 0
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        await uploaded(c, tmp_path)
        text = readable_error(emulator, await c.call_tool("send_edit", {"instruction": "remove the dog"}))
    (user,) = [u for u in emulator.users if u.startswith("anon")]
    assert "2001" in text
    assert f"https://nemovideo.com/register?bind={user}" in text


async def test_4001_lists_the_supported_formats(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        emulator.inject(Fault("envelope", path=UPLOAD, code=4001))
        result = await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
    text = readable_error(emulator, result)
    assert "4001" in text
    assert "mp4, mov, avi, webm, mkv" in text


async def test_4002_gives_the_limit(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        emulator.inject(Fault("envelope", path=UPLOAD, code=4002))
        result = await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
    text = readable_error(emulator, result)
    assert "4002" in text
    assert "500 MB" in text
    assert "trim" in text


async def test_402_is_a_plan_matter_not_credits(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        await uploaded(c, tmp_path)
        emulator.inject(Fault("http", path=RENDER, method="POST", status=402))
        text = readable_error(emulator, await c.call_tool("export_video", {}))
    assert "register or upgrade your plan to unlock export" in text
    assert "not a credits problem" in text


async def test_429_says_how_long_to_wait(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        emulator.inject(Fault("http", path=CREDITS, status=429, retry_after=1, times=2))
        text = readable_error(emulator, await c.call_tool("check_credits", {}))
    assert "429" in text
    assert "wait 1 second" in text
    assert "retry_after_seconds=1" in text


async def test_5xx_is_called_temporary(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        emulator.inject(Fault("http", path=CREDITS, status=503, times=5))
        text = readable_error(emulator, await c.call_tool("check_credits", {}))
    assert "HTTP 503" in text
    assert "temporary" in text


async def test_render_failure_gives_the_backend_reason(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        await uploaded(c, tmp_path)
        emulator.inject(Fault("render_fail", error="encoder crashed on frame 12"))
        text = readable_error(emulator, await c.call_tool("export_video", {}))
        (render_id,) = emulator.renders
        assert "encoder crashed on frame 12" in text
        assert render_id in text
        again = await c.call_tool("get_export_status", {"render_id": render_id})
        assert "encoder crashed on frame 12" in readable_error(emulator, again)
    assert len(emulator.requests_to(RENDER, "POST")) == 1


@pytest.mark.parametrize("variant", ["json", "details", "badjson", "errorcode"])
async def test_error_frames_in_the_stream_fail_the_turn_readably(
    emulator: Emulator, tmp_path: Path, mode: str, variant: str
) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        await uploaded(c, tmp_path)
        emulator.inject(Fault("sse_error", variant=variant, message="the model is overloaded"))
        result = await c.call_tool("send_edit", {"instruction": "remove the dog"})
    assert not result.is_error
    out = result.structured_content
    assert out["status"] == "failed"
    assert "The edit failed" in out["reply"]
    assert "overloaded" in out["reply"]
    assert all(t not in out["reply"] for t in emulator.issued_tokens)
    assert len(emulator.requests_to(RUN, "POST")) == 1


async def test_dropped_stream_is_recovered_from_the_state(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        await uploaded(c, tmp_path)
        emulator.inject(Fault("sse_drop", after_events=1))
        result = await c.call_tool("send_edit", {"instruction": 'add a title "Hello"'})
    out = result.structured_content
    assert out["status"] == "completed"
    assert out["changes"] == ['added a text track "Hello" (0-3s)']
    assert "dropped" in out["reply"]
    assert "not sent again" in out["reply"]
    assert len(emulator.requests_to(RUN, "POST")) == 1


async def test_stalled_stream_is_recovered_without_resending(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path, {"NEMO_STREAM_STALL_SECONDS": "0.5"})
    async with connect(settings, mode) as c:
        await uploaded(c, tmp_path)
        emulator.inject(Fault("sse_stall", after_events=1, seconds=3))
        result = await c.call_tool("send_edit", {"instruction": "remove the music and the bird"})
    out = result.structured_content
    assert out["status"] == "completed"
    assert out["changes"]
    assert len(emulator.requests_to(RUN, "POST")) == 1


async def test_export_lost_in_transit_is_checked_not_resubmitted(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        await uploaded(c, tmp_path)
        emulator.inject(Fault("reset", path=RENDER, method="POST"))
        text = readable_error(emulator, await c.call_tool("export_video", {}))
        assert "Could not reach NemoVideo" in text
        match = re.search(r"get_export_status\(render_id='(render_[\w]+)'\)", text)
        assert match, text
        check = await c.call_tool("get_export_status", {"render_id": match.group(1)})
        checked = readable_error(emulator, check)
    assert "has no export" in checked
    assert "Call export_video again" in checked
    assert emulator.renders == {}
