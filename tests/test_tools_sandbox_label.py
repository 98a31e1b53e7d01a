"""Every tool result of a server started as the sandbox says in-band that it is simulated (issue 12
§1): `simulated: true` in the structured result (and its JSON text) and a sentence in the text,
errors included, so no assistant can present a sandbox result as NemoVideo's. A server on the real
backend (here the plain emulator) carries neither. Through `mcp.Client`, both protocol modes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import TextContent

from media_factory import make_video
from nemo_video_mcp.cli import sandboxed
from nemo_video_mcp.emulator import Emulator, EmulatorConfig
from nemo_video_mcp.settings import Settings
from support_common import connect, settings_for, text_of
from tools_support import MODES

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("mode", MODES)]

PHRASE = "Simulated by the sandbox: nothing was sent to NemoVideo, no credits spent"


@pytest.fixture
def sandbox(tmp_path: Path) -> Iterator[Emulator]:
    config = EmulatorConfig(real_media=True, data_dir=tmp_path / "sandbox", edit_seconds=0.05)
    with Emulator(config) as emu:
        yield emu


async def every_tool(c: Client, tmp_path: Path) -> tuple[dict[str, Any], list[Any]]:
    """One successful call of each tool (by name), and a few failures."""
    (tmp_path / "media").mkdir(exist_ok=True)
    clip = make_video(tmp_path / "media" / "clip.mp4", seconds=1.0, width=160, height=96)
    ok: dict[str, Any] = {}
    ok["upload_media"] = await c.call_tool("upload_media", {"paths": [str(clip.path)]})
    ok["send_edit"] = await c.call_tool("send_edit", {"instruction": "make it brighter", "wait_seconds": 0})
    turn_id = ok["send_edit"].structured_content["turn_id"]
    ok["get_edit_result"] = await c.call_tool("get_edit_result", {"turn_id": turn_id, "wait_seconds": 8})
    ok["get_state"] = await c.call_tool("get_state", {})
    ok["export_video"] = await c.call_tool("export_video", {"quality": "low", "wait_seconds": 0})
    rid = ok["export_video"].structured_content["render_id"]
    ok["get_export_status"] = await c.call_tool("get_export_status", {"render_id": rid, "wait_seconds": 8})
    while ok["get_export_status"].structured_content["status"] != "completed":
        ok["get_export_status"] = await c.call_tool(
            "get_export_status", {"render_id": rid, "wait_seconds": 8}
        )
    ok["save_generated"] = await c.call_tool("save_generated", {})
    ok["cancel"] = await c.call_tool("cancel", {"handle": rid})  # a finished export: a readable no-op
    ok["check_credits"] = await c.call_tool("check_credits", {})
    ok["view_frames"] = await c.call_tool("view_frames", {"path": str(clip.path), "at_seconds": [0.5]})
    ok["prepare_media"] = await c.call_tool(
        "prepare_media", {"path": str(clip.path), "max_height": 64, "wait_seconds": 60}
    )
    failures = [
        await c.call_tool("get_edit_result", {"turn_id": "turn_nope"}),  # the service's error
        await c.call_tool("export_video", {"format": "avi"}),  # the arguments' check
        await c.call_tool("view_frames", {"path": "/etc/hostname"}),  # the media policy
        await c.call_tool("no_such_tool", {}),  # the SDK's own
    ]
    return ok, failures


async def test_every_result_of_a_sandbox_server_says_it_is_simulated(
    sandbox: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(sandbox, tmp_path).with_overrides(sandbox=True)
    async with connect(settings, mode) as c:
        listed = {t.name for t in (await c.list_tools()).tools}
        ok, failures = await every_tool(c, tmp_path)
        prepare_id = ok["prepare_media"].structured_content["prepare_id"]
        stop_local = await c.call_tool("cancel", {"handle": prepare_id})  # local work: real, said so
        instructions = c.instructions or ""
    assert set(ok) == listed  # every tool the server has
    assert ok["cancel"].structured_content["outcome"] == "already_finished", text_of(ok["cancel"])
    assert not stop_local.is_error, text_of(stop_local)
    assert stop_local.structured_content["outcome"] == "already_finished", text_of(stop_local)
    assert stop_local.structured_content["simulated"] is False
    assert stop_local.content[0].text.startswith("Real, not simulated")
    real = ok.pop("prepare_media")  # local work: real in the sandbox too, and said to be
    assert not real.is_error, text_of(real)
    assert real.structured_content["status"] == "completed", text_of(real)
    assert real.structured_content["simulated"] is False
    assert real.content[0].text.startswith("Real, not simulated")
    assert "Simulated" not in text_of(real)
    for name, result in ok.items():
        assert not result.is_error, (name, text_of(result))
        assert result.structured_content["simulated"] is True, name
        first = result.content[0]
        assert isinstance(first, TextContent), name
        assert first.text.startswith(PHRASE), name
        # the JSON text of the structured result says it too
        (dumped,) = [json.loads(b.text) for b in result.content[1:] if isinstance(b, TextContent)]
        assert dumped == result.structured_content, name
    for result in failures:
        assert result.is_error
        assert PHRASE in text_of(result), text_of(result)
    assert ok["upload_media"].structured_content["previews"]  # the label leaves the images alone
    assert "SANDBOX" in instructions
    assert "never present it as NemoVideo's work" in instructions


async def test_a_server_on_nemovideo_says_nothing_of_the_kind(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    assert settings.sandbox is False
    async with connect(settings, mode) as c:
        ok, failures = await every_tool(c, tmp_path)
        instructions = c.instructions or ""
    for name, result in [*ok.items(), *(("failure", f) for f in failures)]:
        assert "simulated" not in (result.structured_content or {}), name
        assert "Simulated" not in text_of(result), name
        assert '"simulated"' not in text_of(result), name
    assert "SANDBOX" not in instructions


def test_the_cli_sandbox_marks_the_settings(tmp_path: Path, mode: str) -> None:
    """`--sandbox` is where the server learns it is the sandbox (cli.sandboxed)."""
    settings = Settings.from_env({"NEMO_STATE_DIR": str(tmp_path / "state")}, home=tmp_path)
    with sandboxed(settings, enabled=True) as inside:
        assert inside.sandbox is True
        assert inside.api_url.startswith("http://127.0.0.1:")
    with sandboxed(settings, enabled=False) as outside:
        assert outside.sandbox is False
