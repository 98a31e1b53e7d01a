"""`client.edit` against the emulator over real sockets, for what NemoVideo's agent really sends:
its questions (ADK functionCall, legacy tool_call, bare ask_question) answered by the next
message, the streaming gateway's words (chunk/text/done, internal activity, errors), and the
trailing "I encountered a temporary issue..." after normal replies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backend_support import SKILL, Sleeps, make_client
from nemo_video_mcp.backend import (
    TRAILER_CODE,
    Activity,
    AskQuestion,
    Done,
    NemoClient,
    StreamFault,
    StreamStalled,
    ToolCall,
    answer_message,
)
from nemo_video_mcp.emulator import Fault
from support_common import make_media

pytestmark = pytest.mark.anyio

RUN = "/run_sse"
SHAPES = ["adk-partial", "adk", "legacy", "gateway"]
# every stream shape with every way of asking it carries (an ADK functionCall only in ADK streams)
ASKING = [
    (shape, asked)
    for shape in SHAPES
    for asked in ("auto", "adk", "tool_call", "bare")
    if asked != "adk" or shape.startswith("adk")
]


@pytest.fixture
async def client(emulator: Any, tmp_path: Path) -> Any:
    async with make_client(emulator.url, tmp_path / "state", sleep=Sleeps()) as c:
        yield c


async def session_with_clip(client: NemoClient, tmp_path: Path) -> str:
    sid = (await client.create_session(skill=SKILL)).session_id
    await client.upload_files(sid, [make_media(tmp_path / "media")], skill=SKILL)
    return sid


async def run_edit(client: NemoClient, sid: str, message: str) -> tuple[Any, list[Any], str]:
    events: list[Any] = []
    shown = ""
    async with client.edit(sid, message, skill=SKILL) as run:
        async for event in run:
            events.append(event)
            shown += run.new_text or ""
    return run, events, shown


# --- questions ------------------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "question_shape"), ASKING)
async def test_the_agent_asks_and_the_answer_applies_the_edit(
    client: NemoClient, emulator: Any, tmp_path: Path, shape: str, question_shape: str
) -> None:
    emulator.config.sse_shape = shape
    emulator.config.question_shape = question_shape
    sid = await session_with_clip(client, tmp_path)
    before = emulator.sessions[sid].draft
    run, events, _ = await run_edit(client, sid, "remove the car, which one?")
    result = run.result
    assert result.needs_answer
    [question] = result.questions
    assert question.prompt == "Which object should be removed?"
    assert question.labels == ["the red car", "the blue van"]
    assert question.allow_multiple is False
    assert result.asked is not None
    assert result.asked.title == "Before I edit"
    assert [e for e in events if isinstance(e, AskQuestion)]
    assert not [e for e in events if isinstance(e, ToolCall) and e.name == "ask_question"]
    assert result.error is None
    assert emulator.sessions[sid].draft == before  # nothing done while asking

    # the answer is a new message (the question's own message is never sent again)
    answer = answer_message(result.asked, "The red car")
    assert answer == "1. Which object should be removed?: the red car"
    second, _, _ = await run_edit(client, sid, answer)
    assert not second.result.needs_answer
    fx = emulator.sessions[sid].draft["t"][0]["sg"][0]["m"]["fx"]
    assert fx == ["object_removed:red car"]
    sent = [r.json["new_message"]["parts"][0]["text"] for r in emulator.requests_to(RUN)]
    assert sent == ["remove the car, which one?", answer]


@pytest.mark.parametrize("shape", SHAPES)
async def test_a_question_forced_by_fault_single_top_level_and_multiple(
    client: NemoClient, emulator: Any, tmp_path: Path, shape: str
) -> None:
    emulator.config.sse_shape = shape
    sid = await session_with_clip(client, tmp_path)
    emulator.inject(Fault("sse_question", single=True, multiple=True))
    run, _, _ = await run_edit(client, sid, "add some music")
    [question] = run.result.questions
    assert question.prompt == "Which music style do you want?"
    assert question.labels == ["Lo-fi", "Upbeat"]
    assert question.allow_multiple
    assert run.result.text == "I need one detail before I edit."  # its intro, shown once
    assert not [t for t in emulator.sessions[sid].draft["t"] if t["tt"] == 1]
    answer = answer_message(run.result.asked, "upbeat")
    assert answer == "1. Which music style do you want?: Upbeat"
    await run_edit(client, sid, answer)
    assert [t for t in emulator.sessions[sid].draft["t"] if t["tt"] == 1]


async def test_a_skipped_answer_is_sent_as_skipped(client: NemoClient, emulator: Any, tmp_path: Path) -> None:
    sid = await session_with_clip(client, tmp_path)
    run, _, _ = await run_edit(client, sid, "remove which logo")
    answer = answer_message(run.result.asked, [None])
    assert answer == "1. Which object should be removed?: Skipped"
    second, _, _ = await run_edit(client, sid, answer)
    assert not second.result.needs_answer
    assert "fx" not in emulator.sessions[sid].draft["t"][0]["sg"][0]["m"]


# --- the gateway's words --------------------------------------------------------------------


async def test_gateway_stream_shows_each_text_once_and_keeps_internals_internal(
    client: NemoClient, emulator: Any, tmp_path: Path
) -> None:
    emulator.config.sse_shape = "gateway"
    emulator.config.gui_talk = False
    sid = await session_with_clip(client, tmp_path)
    run, events, shown = await run_edit(client, sid, 'add a title "Urban Dreams"')
    expected = 'Let me work on that. Added the title "Urban Dreams" (0-3s).'
    assert run.result.text == expected
    assert shown == expected
    assert "plan the edit" not in run.result.text  # thinking_delta never shown
    assert run.result.done
    assert run.finished
    assert {e.kind for e in events if isinstance(e, Activity)} >= {
        "message_accepted", "thinking_start", "thinking_end", "tool_start", "toolcall_start",
        "toolcall_end", "tool_end",
    }  # fmt: skip
    assert [e for e in events if isinstance(e, Done)] == [Done()]
    assert run.result.tool_calls == []
    assert run.result.error is None


async def test_done_ends_the_run_even_when_the_stream_stays_open(
    client: NemoClient, emulator: Any, tmp_path: Path
) -> None:
    emulator.config.sse_shape = "gateway"
    emulator.config.after_done_seconds = 60  # far beyond the 5 s stall timeout of these settings
    sid = await session_with_clip(client, tmp_path)
    try:
        run, _, _ = await run_edit(client, sid, "add some music")
    except StreamStalled:  # the reader waited for the body to end instead of stopping at `done`
        pytest.fail("the run did not end at `done`")
    assert run.finished
    assert run.result.done
    assert 'Added background music "Lo-fi" at 35% volume.' in run.result.text


@pytest.mark.parametrize(("variant", "key"), [("gateway", "error"), ("gateway-message", "message")])
async def test_gateway_error_words_are_errors(
    client: NemoClient, emulator: Any, tmp_path: Path, variant: str, key: str
) -> None:
    emulator.config.sse_shape = "gateway"
    sid = await session_with_clip(client, tmp_path)
    emulator.inject(Fault("sse_error", variant=variant, after_events=2, message=f"agent crashed ({key})"))
    run, events, _ = await run_edit(client, sid, "add some music")
    assert run.failed
    assert run.result.error == f"agent crashed ({key})"
    assert [e for e in events if isinstance(e, StreamFault)]


# --- the trailer ----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("variant", ["text", "error"])
async def test_a_trailing_temporary_issue_after_the_reply_is_dropped(
    client: NemoClient, emulator: Any, tmp_path: Path, shape: str, variant: str
) -> None:
    emulator.config.sse_shape = shape
    emulator.config.gui_talk = False
    sid = await session_with_clip(client, tmp_path)
    emulator.inject(Fault("sse_trailer", variant=variant))
    run, events, _ = await run_edit(client, sid, "add some music")
    result = run.result
    assert result.text.endswith('Added background music "Lo-fi" at 35% volume.')
    assert "temporary issue" not in result.text
    assert result.error is None
    assert not run.failed
    assert result.trailer_dropped
    assert not [e for e in events if isinstance(e, StreamFault)]


@pytest.mark.parametrize("shape", SHAPES)
async def test_the_trailer_alone_fails_the_run(
    client: NemoClient, emulator: Any, tmp_path: Path, shape: str
) -> None:
    emulator.config.sse_shape = shape
    sid = await session_with_clip(client, tmp_path)
    emulator.inject(Fault("sse_silent"))
    emulator.inject(Fault("sse_trailer", variant="text"))
    run, _, _ = await run_edit(client, sid, "add some music")
    assert run.failed
    assert run.result.error == "I encountered a temporary issue. Please try again in a moment."
    assert run.result.error_code == TRAILER_CODE
    assert run.result.text == ""
