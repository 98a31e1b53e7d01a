"""NemoVideo's questions through `mcp.Client` (both protocol eras) against the emulator: a turn that
ends in `ask_question` is `needs_answer` (structured questions, quoted words, nothing changed); the
answer is a new message written as NemoVideo's clients write it; the same instruction again is
never re-sent; a host with form elicitation is asked inside the call (accept, decline, none); the
question survives a restart."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp_types as t
import pytest
from mcp import Client

from nemo_video_mcp.emulator import Emulator, Fault
from support_common import connect, make_media, server_for, settings_for, text_of
from tools_support import MODES

pytestmark = [pytest.mark.anyio, pytest.mark.parametrize("mode", MODES)]

RUN = "/run_sse"
ASK = "remove which car"
PROMPT = "Which object should be removed?"
TIMELINE = 'Timeline (1 track): 1. Video: "clip" (0-10s)'


@asynccontextmanager
async def connect_with(settings: Any, mode: str, callback: Any) -> AsyncIterator[Client]:
    async with Client(server_for(settings), mode=mode, elicitation_callback=callback) as client:
        yield client


async def _uploaded(c: Client, tmp_path: Path) -> str:
    up = await c.call_tool("upload_media", {"paths": [str(make_media(tmp_path / "media"))]})
    assert not up.is_error, text_of(up)
    return str(up.structured_content["session_id"])


def _assert_needs_answer(out: dict[str, Any]) -> None:
    assert out["status"] == "needs_answer", out
    assert out["changes"] == []
    assert out["timeline"] == TIMELINE
    (question,) = out["questions"]
    assert question["prompt"] == PROMPT
    assert question["options"] == ["the red car", "the blue van"]
    assert question["allow_multiple"] is False
    assert "NemoVideo asked" in out["reply"]
    assert f"1. «{PROMPT}»" in out["reply"]  # NemoVideo's words, quoted as its own
    assert "«the red car»" in out["reply"]
    assert "send_edit" in out["reply"]
    assert "Ask the user" in out["reply"]


async def test_a_question_is_needs_answer_and_the_answer_a_new_message(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:  # no elicitation capability: the question comes back
        sid = await _uploaded(c, tmp_path)
        before = emulator.sessions[sid].draft
        asked = await c.call_tool("send_edit", {"instruction": ASK})
        assert not asked.is_error, text_of(asked)
        out = asked.structured_content
        _assert_needs_answer(out)
        assert emulator.sessions[sid].draft == before  # the timeline is untouched
        again = await c.call_tool("get_edit_result", {"turn_id": out["turn_id"]})
        _assert_needs_answer(again.structured_content)
        # the same instruction again is not a new edit (and not an answer): nothing is sent
        repeat = await c.call_tool("send_edit", {"instruction": ASK})
        assert repeat.structured_content["turn_id"] == out["turn_id"]
        assert len(emulator.requests_to(RUN, "POST")) == 1
        answered = await c.call_tool("send_edit", {"instruction": "the red car"})
        assert not answered.is_error, text_of(answered)
    result = answered.structured_content
    assert result["status"] == "completed", result
    assert result["turn_id"] != out["turn_id"]
    assert result["changes"], result
    assert f"1. {PROMPT}: the red car" in result["reply"]  # says what was sent
    assert emulator.sessions[sid].messages == [ASK, f"1. {PROMPT}: the red car"]
    assert len(emulator.requests_to(RUN, "POST")) == 2
    assert "red car" in str(emulator.sessions[sid].draft)


async def test_an_answer_equal_to_an_earlier_answer_is_still_sent(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    """The duplicate guard never swallows an answer: two questions answered with the same words."""
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        sid = await _uploaded(c, tmp_path)
        await c.call_tool("send_edit", {"instruction": ASK})
        emulator.inject(Fault("sse_question"))  # the answer's run asks again
        first = (await c.call_tool("send_edit", {"instruction": "the red car"})).structured_content
        assert first["status"] == "needs_answer", first
        second = (await c.call_tool("send_edit", {"instruction": "the red car"})).structured_content
    assert second["status"] == "completed", second
    assert len(emulator.sessions[sid].messages) == 3
    assert len(emulator.requests_to(RUN, "POST")) == 3


async def test_a_host_with_forms_is_asked_in_the_call(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    seen: list[t.ElicitRequestParams] = []

    async def accept(_ctx: Any, params: t.ElicitRequestParams) -> t.ElicitResult:
        seen.append(params)
        return t.ElicitResult(action="accept", content={"q1": "the blue van"})

    settings = settings_for(emulator, tmp_path)
    async with connect_with(settings, mode, accept) as c:
        sid = await _uploaded(c, tmp_path)
        result = await c.call_tool("send_edit", {"instruction": ASK})
    assert not result.is_error, text_of(result)
    out = result.structured_content
    assert out["status"] == "completed", out
    assert out["changes"]
    assert len(seen) == 1
    assert PROMPT in seen[0].message
    schema = seen[0].requested_schema
    assert schema["properties"]["q1"]["enum"] == ["the red car", "the blue van"]
    assert "q1_other" in schema["properties"]  # the agent accepts free words too
    assert emulator.sessions[sid].messages == [ASK, f"1. {PROMPT}: the blue van"]  # sent once each


async def test_own_words_in_the_form_are_sent_as_they_are(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    async def own_words(_ctx: Any, _params: t.ElicitRequestParams) -> t.ElicitResult:
        return t.ElicitResult(action="accept", content={"q1_other": "the bicycle"})

    settings = settings_for(emulator, tmp_path)
    async with connect_with(settings, mode, own_words) as c:
        sid = await _uploaded(c, tmp_path)
        result = await c.call_tool("send_edit", {"instruction": ASK})
    assert not result.is_error, text_of(result)
    assert emulator.sessions[sid].messages[-1] == f"1. {PROMPT}: the bicycle"


@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_a_declined_form_is_needs_answer(
    emulator: Emulator, tmp_path: Path, mode: str, action: str
) -> None:
    async def refuse(_ctx: Any, _params: t.ElicitRequestParams) -> t.ElicitResult:
        return t.ElicitResult(action=action)  # type: ignore[arg-type]

    settings = settings_for(emulator, tmp_path)
    async with connect_with(settings, mode, refuse) as c:
        sid = await _uploaded(c, tmp_path)
        result = await c.call_tool("send_edit", {"instruction": ASK})
    out = result.structured_content
    _assert_needs_answer(out)
    assert "did not answer in the form" in out["reply"]
    assert emulator.sessions[sid].messages == [ASK]


async def test_several_questions_and_multiple_choice(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await _uploaded(c, tmp_path)
        emulator.inject(Fault("sse_question", multiple=True, title="Before I remove anything"))
        out = (await c.call_tool("send_edit", {"instruction": "remove the car"})).structured_content
    assert out["status"] == "needs_answer"
    assert out["question_title"] == "Before I remove anything"
    assert out["questions"][0]["allow_multiple"] is True
    assert "«Before I remove anything»" in out["reply"]


async def test_a_question_after_the_budget_is_reported_by_get_edit_result(
    emulator: Emulator, tmp_path: Path, mode: str
) -> None:
    emulator.config.edit_seconds = 1.0
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        await _uploaded(c, tmp_path)
        started = (await c.call_tool("send_edit", {"instruction": ASK, "wait_seconds": 0})).structured_content
        assert started["status"] == "running"
        done = await c.call_tool("get_edit_result", {"turn_id": started["turn_id"], "wait_seconds": 8})
    _assert_needs_answer(done.structured_content)


async def test_the_question_survives_a_restart(emulator: Emulator, tmp_path: Path, mode: str) -> None:
    settings = settings_for(emulator, tmp_path)
    async with connect(settings, mode) as c:
        sid = await _uploaded(c, tmp_path)
        turn_id = (await c.call_tool("send_edit", {"instruction": ASK})).structured_content["turn_id"]
    async with connect(settings, mode) as again:  # a new server process on the same state folder
        told = await again.call_tool("get_edit_result", {"turn_id": turn_id})
        _assert_needs_answer(told.structured_content)
        answered = await again.call_tool("send_edit", {"instruction": "2"})  # an option by its number
    assert answered.structured_content["status"] == "completed", answered.structured_content
    assert emulator.sessions[sid].messages == [ASK, f"1. {PROMPT}: the blue van"]
