"""Uploads and sessions through `mcp.Client` (both protocol modes) against the emulator: byte
progress, refusals that upload nothing, links, and sessions per skill side by side."""

from __future__ import annotations

from pathlib import Path

import pytest

from nemo_video_mcp.emulator import Emulator
from support_common import connect, make_media, settings_for, text_of
from tools_support import MODES, Progress

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("mode", MODES)]

UPLOAD = "/api/upload-video/"


async def test_upload_progress_counts_bytes(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path)
    clip = make_media(tmp_path / "media", size=3 * 1024 * 1024)
    async with connect(settings, mode) as c:
        progress = Progress()
        result = await c.call_tool("upload_media", {"paths": [str(clip)]}, progress_callback=progress)
    assert not result.is_error
    assert progress.messages[0].startswith("uploading ")
    assert progress.messages[0].endswith("/3.0 MB")


async def test_refused_paths_upload_nothing_and_are_all_explained(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    good = make_media(tmp_path / "media", "good.mp4")
    outside = make_media(tmp_path / "elsewhere", "outside.mp4")
    text = tmp_path / "media" / "notes.txt"
    text.write_text("hello")
    async with connect(settings, mode) as c:
        result = await c.call_tool(
            "upload_media",
            {"paths": [str(good), str(outside), str(text)], "urls": ["ftp://example.com/a.mp4"]},
        )
    assert result.is_error
    message = text_of(result)
    assert "Nothing was uploaded: 3 of 4" in message
    for item in (str(outside), str(text), "ftp://example.com/a.mp4"):
        assert item in message
    assert "mp4" in message
    assert "500 MB" in message
    assert emulator.requests_to(UPLOAD) == []


async def test_urls_are_imported(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        result = await c.call_tool("upload_media", {"urls": ["https://example.com/holiday.mp4"]})
    assert not result.is_error, text_of(result)
    assert result.structured_content["files"]
    assert emulator.requests_to(UPLOAD)[0].json == {
        "urls": ["https://example.com/holiday.mp4"],
        "source_type": "url",
    }


async def test_sessions_per_skill_live_side_by_side(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path)
    clip = str(make_media(tmp_path / "media"))
    async with connect(settings, mode) as c:
        a = (
            await c.call_tool("upload_media", {"paths": [clip], "skill": "video-json-ai"})
        ).structured_content
        b = (
            await c.call_tool("upload_media", {"paths": [clip], "skill": "editor-remastered"})
        ).structured_content
        assert a["session_id"] != b["session_id"]
        # without a skill, the call follows the session worked on last
        last = (await c.call_tool("get_state", {})).structured_content
        assert last["session_id"] == b["session_id"]
        named = (await c.call_tool("get_state", {"session_id": a["session_id"]})).structured_content
        assert named["session_id"] == a["session_id"]
        again = (
            await c.call_tool("upload_media", {"paths": [clip], "skill": "video-json-ai"})
        ).structured_content
        assert again["session_id"] == a["session_id"]
    runs = {r.headers["x-skill-source"] for r in emulator.requests_to(UPLOAD)}
    assert runs == {"video-json-ai", "editor-remastered"}


async def test_check_credits(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        result = await c.call_tool("check_credits", {})
    assert result.structured_content == {"available": 100.0, "frozen": 0.0, "total": 100.0}
