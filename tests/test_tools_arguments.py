"""Arguments that break a tool's input schema come back as one sentence per argument, naming the
argument, what was given and what is allowed, with none of pydantic's report (error codes, the
model's name, the errors.pydantic.dev link), in both protocol modes; nothing reaches NemoVideo."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from nemo_video_mcp.emulator import Emulator
from nemo_video_mcp.tools._arguments import describe_argument_errors
from support_common import connect, settings_for, text_of
from tools_support import MODES

PREFIX = "Error executing tool "  # the SDK's; what follows is ours

CASES = [
    (
        "export_video",
        {"format": "avi"},
        'Argument format was "avi", but format must be one of "mp4", "mov" or "webm", '
        'or be left out (default "mp4").',
    ),
    (
        "send_edit",
        {"instruction": "remove the car", "skill": "nope"},
        'Argument skill was "nope", but skill must be one of "objectremover-video", "video-json-ai" '
        'or "editor-remastered", or be left out.',
    ),
    (
        "send_edit",
        {"instruction": "remove the car", "wait_seconds": -5},
        "Argument wait_seconds was -5, but wait_seconds must be a number of at least 0, or be left out.",
    ),
    (
        "send_edit",
        {},
        "Argument instruction is required and was not given: it must be a string "
        "(what to change, in the user's words).",
    ),
    (
        "get_edit_result",
        {"turn_id": "turn_1", "wait_seconds": "Infinity"},
        'Argument wait_seconds was "Infinity", but wait_seconds must be a finite number of at least 0, '
        "or be left out.",
    ),
    (
        "upload_media",
        {"paths": "/home/me/Movies/clip.mp4"},
        'Argument paths was "/home/me/Movies/clip.mp4", but paths must be a list of strings, or be left out.',
    ),
    (
        "upload_media",
        {"paths": ["/a.mp4", 7]},
        "Argument paths[1] was 7, but paths must be a list of strings, or be left out.",
    ),
    (
        "export_video",
        {"download": "maybe"},
        'Argument download was "maybe", but download must be true or false, or be left out (default true).',
    ),
    (
        "get_export_status",
        {},
        "Argument render_id is required and was not given: it must be a string "
        "(the render_id export_video returned).",
    ),
]


def _ours(result: Any) -> str:
    assert result.is_error
    text = text_of(result)
    assert text.startswith(PREFIX), text
    return text.split(": ", 1)[1]


def _assert_plain(text: str) -> None:
    for raw in ("pydantic", "validation error", "[type=", "input_value", "Arguments", "https://", "\n"):
        assert raw not in text, (raw, text)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", CASES, ids=[f"{tool}-{','.join(args) or 'none'}" for tool, args, _ in CASES])
async def test_argument_error_is_one_sentence(
    emulator: Emulator, tmp_path: Path, mode: str, case: tuple[str, dict[str, Any], str]
) -> None:
    tool, arguments, expected = case
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        text = _ours(await c.call_tool(tool, arguments))
    assert text == expected
    _assert_plain(text)
    assert emulator.requests == []  # refused before anything was sent


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_each_wrong_argument_gets_its_sentence(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        wrong = {"format": "gif", "quality": "ultra", "wait_seconds": -1}
        text = _ours(await c.call_tool("export_video", wrong))
    sentences = re.split(r"(?<=\.) (?=Argument )", text)
    assert [s.split()[1] for s in sentences] == ["format", "quality", "wait_seconds"], text
    assert '"gif"' in sentences[0]
    assert '"ultra"' in sentences[1]
    assert 'one of "low", "medium" or "high"' in sentences[1]
    assert "-1" in sentences[2]
    _assert_plain(text)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_a_valid_call_is_untouched(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    async with connect(settings_for(emulator, tmp_path), mode) as c:
        result = await c.call_tool("check_credits", {})
        assert not result.is_error, text_of(result)
        failed = await c.call_tool("get_edit_result", {"turn_id": "turn_unknown"})
    # a tool's own error (not an argument error) keeps its own text
    assert failed.is_error
    assert "turn_unknown" in text_of(failed)
    assert "Argument" not in text_of(failed)


def test_long_values_are_cut_and_schema_kinds_are_named() -> None:
    schema = {
        "properties": {
            "count": {"type": "integer", "minimum": 1, "maximum": 10},
            "tags": {"type": "array", "items": {"$ref": "#/$defs/Tag"}},
            "mode": {"const": "fast"},
        },
        "required": ["count", "tags", "mode"],
        "$defs": {"Tag": {"enum": ["a", "b"], "type": "string"}},
    }
    errors = [
        {"type": "int_parsing", "loc": ("count",), "msg": "x", "input": "x" * 500},
        {"type": "enum", "loc": ("tags", 0), "msg": "x", "input": "c"},
        {"type": "literal_error", "loc": ("mode",), "msg": "x", "input": "slow"},
        {"type": "model_type", "loc": (), "msg": "Input should be an object", "input": 3},
    ]
    text = describe_argument_errors(errors, schema)
    first, second, third, fourth = re.split(r"(?<=\.) (?=[A-Z])", text)
    assert first.startswith('Argument count was "xxxx')
    assert len(first) < 200
    assert first.endswith("…, but count must be a whole number of at least 1 and at most 10.")
    assert second == 'Argument tags[0] was "c", but tags must be a list of values, each one of "a" or "b".'
    assert third == 'Argument mode was "slow", but mode must be "fast".'
    assert fourth == "The arguments were not understood: Input should be an object."
