"""Error texts at the edges: rounding, arguments that are numbers but not real ones, and an
upload whose answer never came (it may have landed: check before sending the bytes again)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemo_video_mcp.backend import RateLimited
from nemo_video_mcp.emulator import Emulator, Fault
from nemo_video_mcp.tools._errors import describe
from reliability_support import fast_emulator
from support_common import connect, make_media, outlasting, settings_for, text_of


def test_a_sub_second_retry_after_never_reads_as_wait_zero() -> None:
    text = describe(RateLimited("slow down", retry_after=0.3))
    assert "wait 1 second," in text
    assert "retry_after_seconds=1" in text


@pytest.mark.anyio
@pytest.mark.parametrize("value", ["NaN", "Infinity"])
async def test_wait_seconds_must_be_a_real_number(emulator: Emulator, tmp_path: Path, value: str) -> None:
    async with connect(settings_for(emulator, tmp_path)) as client:
        result = await client.call_tool("get_edit_result", {"turn_id": "turn_x", "wait_seconds": value})
    assert result.is_error
    assert "wait_seconds" in text_of(result)
    assert "No edit turn" not in text_of(result)  # refused as an argument, before any lookup


@pytest.mark.anyio
async def test_an_upload_without_an_answer_says_to_check_before_resending(
    emulator: Emulator, tmp_path: Path
) -> None:
    fast_emulator(emulator)
    settings = settings_for(emulator, tmp_path)
    clip = make_media(tmp_path / "media")
    async with connect(settings) as client:
        await client.call_tool("get_state", {})  # the session exists before the upload
        emulator.inject(Fault("delay", path="/api/upload-video", seconds=outlasting(settings)))
        result = await client.call_tool("upload_media", {"paths": [str(clip)]})
    assert result.is_error
    assert "call get_state to see whether the file is on the timeline" in text_of(result)
    assert len(emulator.requests_to("/api/upload-video", "POST")) == 1  # not sent twice
