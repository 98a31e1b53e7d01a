"""Every value in the tools' input and output schemas says what kind of JSON it is: strict schema
checkers (the MCP Inspector's `--strict`) flag a schema with no validation keyword, which accepts
anything, and hosts mapping tool schemas onto a single-`type` dialect reject a `type` list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nemo_video_mcp.emulator import Emulator
from support_common import connect, settings_for, text_of
from tools_support import MODES

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("mode", MODES)]

KEYWORDS = ("type", "anyOf", "oneOf", "allOf", "$ref", "enum", "const")


def _nodes(schema: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema a value must match: properties, items, union members, $defs."""
    if not isinstance(schema, dict):
        return
    yield path, schema
    for name, sub in schema.get("properties", {}).items():
        yield from _nodes(sub, f"{path}.properties.{name}")
    for name, sub in schema.get("$defs", {}).items():
        yield from _nodes(sub, f"{path}.$defs.{name}")
    if "items" in schema:
        yield from _nodes(schema["items"], f"{path}.items")
    for key in ("anyOf", "oneOf", "allOf"):
        for i, sub in enumerate(schema.get(key, [])):
            yield from _nodes(sub, f"{path}.{key}[{i}]")


async def test_every_schema_value_has_a_type(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        tools = (await c.list_tools()).tools
    untyped, listed = [], []
    for tool in tools:
        for which, schema in (("input", tool.input_schema), ("output", tool.output_schema)):
            for path, node in _nodes(schema, f"{tool.name}.{which}"):
                if not any(k in node for k in KEYWORDS):
                    untyped.append(path)
                if isinstance(node.get("type"), list):
                    listed.append(path)
    assert untyped == []
    assert listed == []


async def test_state_passes_nemovideo_data_on_as_it_came(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    """video_infos and generated_media are typed in the schema, yet any shape NemoVideo sends gets through."""
    from support_common import make_media

    async with connect(settings_for(emulator, tmp_path), mode) as c:
        up = await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
        sid = up.structured_content["session_id"]
        odd = [{"url": "https://cdn.example/x.json"}, "a note", 3, None, [1, 2]]
        emulator.sessions[sid].generated_media.extend(odd)
        state = await c.call_tool("get_state", {})
    assert not state.is_error, text_of(state)
    assert state.structured_content["generated_media"][-5:] == odd
    assert isinstance(state.structured_content["video_infos"], list | dict)
