"""The MCP surface itself: tool schemas and annotations (checked against a snapshot, so changing the
public interface is a deliberate diff), server instructions, resources and prompts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from nemo_video_mcp.emulator import Emulator
from support_common import connect, make_media, settings_for, skills
from tools_support import MODES

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("mode", MODES)]

SNAPSHOT = Path(__file__).parent / "snapshots" / "tools.json"
TOOLS = (
    "upload_media",
    "prepare_media",
    "send_edit",
    "get_edit_result",
    "get_state",
    "export_video",
    "get_export_status",
    "save_generated",
    "cancel",
    "check_credits",
    "view_frames",
)
SKILLS = ("objectremover-video", "video-json-ai", "editor-remastered")


def surface(tools: list[Any]) -> dict[str, Any]:
    return {
        t.name: {
            "input_schema": t.input_schema,
            "output_schema": t.output_schema,
            "annotations": t.annotations.model_dump(mode="json", exclude_none=True, by_alias=True),
        }
        for t in sorted(tools, key=lambda t: t.name)
    }


async def test_tools_match_the_snapshot(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        listed = (await c.list_tools()).tools
    current = surface(listed)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    expected = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert current == expected, "the tool interface changed: rerun with UPDATE_SNAPSHOTS=1 if on purpose"
    assert emulator.requests == []  # listing tools touches no backend


async def test_tool_names_arguments_and_annotations(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        tools = {t.name: t for t in (await c.list_tools()).tools}
    assert set(tools) == set(TOOLS)
    args = {name: set(t.input_schema["properties"]) for name, t in tools.items()}
    assert args["upload_media"] == {"paths", "urls", "session_id", "skill"}
    assert args["send_edit"] == {"instruction", "session_id", "skill", "wait_seconds"}
    assert args["get_edit_result"] == {"turn_id", "wait_seconds"}
    assert args["get_state"] == {"session_id"}
    assert args["export_video"] == {"session_id", "format", "quality", "wait_seconds", "download"}
    assert args["get_export_status"] == {"render_id", "wait_seconds", "download"}
    assert args["check_credits"] == set()
    assert args["save_generated"] == {"session_id", "items"}
    assert args["cancel"] == {"handle"}
    assert tools["cancel"].annotations.destructive_hint is True
    assert tools["cancel"].annotations.idempotent_hint is True
    assert tools["save_generated"].annotations.destructive_hint is False
    assert args["prepare_media"] == {
        "path",
        "start_seconds",
        "end_seconds",
        "max_height",
        "max_size_mb",
        "cancel",
    }
    assert args["view_frames"] == {"path", "render_id", "at_seconds"}
    read_only = {name for name, t in tools.items() if t.annotations.read_only_hint}
    assert read_only == {
        "get_state",
        "check_credits",
        "get_edit_result",
        "view_frames",
    }  # get_export_status saves files
    # view_frames and prepare_media work on local files only; every other tool reaches NemoVideo
    open_world = {name for name, t in tools.items() if t.annotations.open_world_hint}
    assert open_world == set(TOOLS) - {"view_frames", "prepare_media"}
    assert tools["send_edit"].annotations.idempotent_hint is False
    assert tools["get_export_status"].annotations.idempotent_hint is True  # a second call saves nothing more
    for name in (
        "upload_media",
        "prepare_media",
        "export_video",
        "get_export_status",
        "get_state",
        "check_credits",
    ):
        assert tools[name].annotations.destructive_hint is False
    for name in TOOLS:
        assert tools[name].output_schema is not None
        assert tools[name].description
    assert "objectremover-video" in tools["send_edit"].description
    assert "editor-remastered" in tools["upload_media"].description


async def test_instructions_summarise_the_workflow(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        text = c.instructions or ""
        name = c.server_info.name if c.server_info else None
    for step in ("upload_media", "send_edit", "get_edit_result", "get_state", "export_video"):
        assert step in text
    assert name in ("nemo-video", None)


async def test_resources_timeline_state_and_skills(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        templates = {t.uri_template for t in (await c.list_resource_templates()).resource_templates}
        assert templates == {
            "nemo://sessions/{session_id}/timeline",
            "nemo://sessions/{session_id}/state",
        } | {
            f"nemo://renders/{{render_id}}/video.{ext}" for ext in ("mp4", "webm", "mov")
        }  # the player's videos (tests/test_player.py)
        listed = {str(r.uri) for r in (await c.list_resources()).resources}
        assert listed == {f"nemo://skills/{slug}" for slug in SKILLS} | {"ui://nemo-video/player"}

        up = await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        sid = up.structured_content["session_id"]
        timeline = (await c.read_resource(f"nemo://sessions/{sid}/timeline")).contents[0]
        assert timeline.text == 'Timeline (1 track): 1. Video: "clip" (0-10s)'
        state = (await c.read_resource(f"nemo://sessions/{sid}/state")).contents[0]
        assert state.mime_type == "application/json"
        data = json.loads(state.text)
        assert data["session_id"] == sid
        assert data["export_ready"] is True
        assert data["draft"]["t"][0]["tt"] == 0
        for slug in SKILLS:
            doc = (await c.read_resource(f"nemo://skills/{slug}")).contents[0]
            assert doc.text == skills()[slug].text


async def test_prompts_walk_through_each_skill(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        prompts = {p.name: p for p in (await c.list_prompts()).prompts}
        assert set(prompts) == set(SKILLS)
        assert {a.name for a in prompts["video-json-ai"].arguments or []} == {"request", "file"}
        assert not any(a.required for a in prompts["video-json-ai"].arguments or [])
        filled = await c.get_prompt(
            "objectremover-video", {"request": "remove the red cone", "file": "/videos/road.mp4"}
        )
        bare = await c.get_prompt("editor-remastered", {})
    text = filled.messages[0].content.text
    assert "remove the red cone" in text
    assert "/videos/road.mp4" in text
    for step in ("upload_media", "send_edit", "get_edit_result", "get_state", "export_video"):
        assert step in text
    assert "Remove the car parked in the background from the entire video" in text  # from its SKILL.md
    bare_text = bare.messages[0].content.text
    assert "Ask the user what they want" in bare_text
    assert 'skill="editor-remastered"' in bare_text
    assert emulator.requests == []  # prompts touch no backend
