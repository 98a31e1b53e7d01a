"""backend/sse.py + accumulator.py: NemoVideo's other event words (the streaming gateway's chunk,
text, done, thinking_*, tool_start/end, toolcall_*, message_accepted, error) and the trailing
"I encountered a temporary issue..." after normal replies."""

from __future__ import annotations

import json
from typing import Any

import pytest

from nemo_video_mcp.backend import (
    TRAILER_CODE,
    Activity,
    Done,
    EditResult,
    StreamFault,
    TextChunk,
    is_trailer,
)
from nemo_video_mcp.backend._accumulator import RunAccumulator
from nemo_video_mcp.backend._sse import parse_data

TRAILER = "I encountered a temporary issue. Please try again in a moment."


def fold(*payloads: dict[str, Any] | str) -> tuple[EditResult, str, list[Any]]:
    """(result, the text shown while streaming, the events passed on)."""
    acc = RunAccumulator()
    shown, passed = [], []
    for payload in payloads:
        for event in parse_data(payload if isinstance(payload, str) else json.dumps(payload)):
            new = acc.feed(event)
            if new:
                shown.append(new)
            if not acc.dropped:
                passed.append(event)
    return acc.result(), "".join(shown), passed


def test_words_parse_to_their_events() -> None:
    assert parse_data('{"type":"chunk","text":"Hel"}') == [TextChunk("Hel", partial=True)]
    assert parse_data('{"type":"chunk","content":"lo"}') == [TextChunk("lo", partial=True)]
    assert parse_data('{"type":"done"}') == [Done()]
    assert parse_data('{"type":"tool_start","tool":"edit_timeline","input":{}}') == [
        Activity("tool_start", "edit_timeline")
    ]
    for word in ("thinking_start", "thinking_delta", "thinking_end", "tool_end", "toolcall_start",
                 "toolcall_delta", "toolcall_end", "message_accepted"):  # fmt: skip
        [event] = parse_data(json.dumps({"type": word, "text": "secret plan"}))
        assert isinstance(event, Activity)
        assert event.kind == word
    assert parse_data('{"type":"error","error":"boom","code":"E42"}') == [StreamFault("boom", "E42")]
    assert parse_data('{"type":"error","message":"bang"}') == [StreamFault("bang")]
    assert parse_data('{"type":"something_new"}') == []


def test_chunks_then_the_text_that_repeats_them_are_shown_once() -> None:
    result, shown, _ = fold(
        {"type": "message_accepted"},
        {"type": "thinking_start"},
        {"type": "thinking_delta", "text": "The user wants..."},
        {"type": "thinking_end"},
        {"type": "chunk", "text": "Added the title "},
        {"type": "chunk", "content": '"Urban Dreams".'},
        {"type": "text", "text": 'Added the title "Urban Dreams".\n'},
        {"type": "done"},
    )
    assert result.text == 'Added the title "Urban Dreams".\n'
    assert shown == 'Added the title "Urban Dreams".\n'
    assert "user wants" not in result.text
    assert result.done
    assert result.error is None


def test_chunks_before_a_tool_and_their_late_repeat() -> None:
    result, shown, _ = fold(
        {"type": "chunk", "text": "Let me work "},
        {"type": "chunk", "text": "on that."},
        {"type": "tool_start", "tool": "edit_timeline"},
        {"type": "toolcall_start", "name": "edit_timeline"},
        {"type": "toolcall_end", "name": "edit_timeline"},
        {"type": "tool_end", "tool": "edit_timeline"},
        {"type": "text", "content": "Let me work on that."},  # repeats the chunks shown before the tool
        {"type": "chunk", "text": "Done: "},
        {"type": "chunk", "text": "trimmed to 8s."},
        {"type": "text", "text": "Done: trimmed to 8s."},
        {"type": "done"},
    )
    assert result.text == "Let me work on that.\n\nDone: trimmed to 8s."
    assert shown == result.text
    assert result.tool_calls == []  # the gateway's tool words are internal activity


def test_a_text_that_is_not_a_repeat_is_new() -> None:
    result, shown, _ = fold(
        {"type": "chunk", "text": "Working"},
        {"type": "text", "text": "Here is your video."},
    )
    assert result.text == "Working\n\nHere is your video."
    assert shown == result.text


def test_legacy_text_pieces_still_join_as_sent() -> None:
    result, _, _ = fold({"type": "text", "content": "Set the "}, {"type": "text", "content": "volume."})
    assert result.text == "Set the volume."


@pytest.mark.parametrize(
    "text",
    [TRAILER, "Sorry, I've encountered a temporary error, try later", "We ran into a transient problem."],
)
def test_trailer_wording(text: str) -> None:
    assert is_trailer(text)
    assert not is_trailer("Removed the car. I encountered a temporary issue earlier but it is fine.")


def test_trailing_text_after_a_reply_is_dropped() -> None:
    for trailer in (
        [{"type": "text", "content": TRAILER}],
        [{"type": "text", "content": "I encountered a temporary "}, {"type": "text", "content": "issue."}],
        [{"type": "chunk", "text": "I encountered "}, {"type": "chunk", "text": "a temporary issue."}],
    ):
        result, _, _ = fold({"type": "text", "content": "Removed the car."}, *trailer)
        assert result.text == "Removed the car."
        assert result.trailer_dropped
        assert result.error is None


def test_trailing_adk_partial_text_after_a_reply_is_dropped() -> None:
    def adk(text: str, partial: bool, inv: str) -> dict[str, Any]:
        return {"content": {"parts": [{"text": text}], "role": "model"}, "partial": partial,
                "invocationId": inv, "author": "nemo_agent"}  # fmt: skip

    result, _, _ = fold(
        adk("Added music.", False, "e-1"), adk("I encountered a ", True, "e-2"), adk(TRAILER, False, "e-2")
    )
    assert result.text == "Added music."
    assert result.trailer_dropped


@pytest.mark.parametrize(
    "frame",
    [
        {"error": TRAILER},
        {"type": "error", "message": TRAILER},
        {"errorCode": "UNKNOWN", "errorMessage": TRAILER},
    ],
)
def test_trailing_error_after_a_reply_is_not_a_failure_and_not_passed_on(frame: dict[str, Any]) -> None:
    result, _, passed = fold({"type": "text", "content": "Removed the car."}, frame)
    assert result.error is None
    assert result.text == "Removed the car."
    assert result.trailer_dropped
    assert not [e for e in passed if isinstance(e, StreamFault)]


def test_the_trailer_alone_is_the_runs_error() -> None:
    result, _, passed = fold({"type": "text", "content": TRAILER})
    assert result.text == ""
    assert result.error == TRAILER
    assert result.error_code == TRAILER_CODE
    error_only, _, passed = fold({"error": TRAILER})
    assert error_only.error == TRAILER
    assert [e for e in passed if isinstance(e, StreamFault)]  # alone, the error frame is an error


def test_other_errors_after_a_reply_stay_errors() -> None:
    result, _, passed = fold(
        {"type": "text", "content": "Removed the car."}, {"type": "error", "error": "GPU lost"}
    )
    assert result.error == "GPU lost"
    assert not result.trailer_dropped
    assert [e for e in passed if isinstance(e, StreamFault)]
