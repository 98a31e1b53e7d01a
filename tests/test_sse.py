"""backend/sse.py: real ADK captures end to end, the older NemoVideo shape, error frames, the
"text exactly once" rule, robustness properties and throughput."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nemo_video_mcp.backend._accumulator import RunAccumulator
from nemo_video_mcp.backend._models import EditResult
from nemo_video_mcp.backend._sse import (
    Heartbeat,
    RunEvent,
    StateDelta,
    StreamFault,
    TextChunk,
    ToolCall,
    ToolResult,
    parse_comment,
    parse_data,
)

_CANDIDATES = (
    Path(__file__).resolve().parent / "fixtures" / "adk-sse",
    Path("/work/shared/fixtures/adk-sse"),
)
FIXTURES = next((p for p in _CANDIDATES if p.is_dir()), _CANDIDATES[0])
VERSIONS = ("adk-1.39.1", "adk-2.13.0")
EVENT_TYPES = (TextChunk, ToolCall, ToolResult, StateDelta, Heartbeat, StreamFault)


def sse_events(body: str) -> list[str | None]:
    """Split an SSE body: each event's joined `data:` lines, or None for a `:` comment."""
    events: list[str | None] = []
    data: list[str] = []
    for line in body.splitlines():
        if not line:
            if data:
                events.append("\n".join(data))
                data = []
        elif line.startswith(":"):
            events.append(None)
        elif line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
    if data:
        events.append("\n".join(data))
    return events


def run(payloads: list[str | None]) -> tuple[EditResult, list[str], list[RunEvent]]:
    """Feed payloads through parse_data/parse_comment and an accumulator."""
    acc = RunAccumulator()
    shown: list[str] = []
    events: list[RunEvent] = []
    for payload in payloads:
        for ev in [parse_comment()] if payload is None else parse_data(payload):
            events.append(ev)
            visible = acc.feed(ev)
            if visible is not None:
                shown.append(visible)
    return acc.result(), shown, events


def run_file(version: str, name: str) -> tuple[EditResult, list[str], list[RunEvent]]:
    return run(sse_events((FIXTURES / version / f"{name}.sse").read_text(encoding="utf-8")))


BOOM = 'model exploded: "quoted"\nsecond line'
WEATHER = [{"name": "get_weather", "args": {"city": "Paris"}}]
SUNNY = [{"name": "get_weather", "response": {"status": "success", "report": "Sunny in Paris, 25C"}}]
# name -> (text, tool calls, tool results, state delta, error, {version: error_code})
EXPECTED: dict[str, tuple[str, list[Any], list[Any], dict[str, Any], str | None, dict[str, str]]] = {
    "hello_stream": ("Hello there, friend.", [], [], {}, None, {}),
    "hello_nostream": ("Hello there, friend.", [], [], {}, None, {}),
    "statedelta": ("Hello there, friend.", [], [], {}, None, {}),
    "think": ("Answer: 42", [], [], {}, None, {}),
    "tool_stream": ("Let me check. It is sunny in Paris.", WEATHER, SUNNY, {"last_city": "Paris"}, None, {}),
    "tool_nostream": (
        "Let me check. It is sunny in Paris.",
        WEATHER,
        SUNNY,
        {"last_city": "Paris"},
        None,
        {},
    ),
    "approve": (
        "It is sunny in Paris.",
        [{"name": "ask_approval", "args": {"amount": 5}}],
        [{"name": "ask_approval", "response": {"status": "pending", "ticket": "T-1"}}],
        {},
        None,
        {},
    ),
    "artifact": (
        "It is sunny in Paris.",
        [{"name": "save_note", "args": {"body": "hello"}}],
        [{"name": "save_note", "response": {"saved": "note.txt", "version": 0}}],
        {},
        None,
        {},
    ),
    "safety": ("", [], [], {}, "blocked by fake safety", {"adk-1.39.1": "SAFETY", "adk-2.13.0": "SAFETY"}),
    "boom_stream": ("Partial before ", [], [], {}, BOOM, {"adk-2.13.0": "RuntimeError"}),
    "boom_nostream": ("", [], [], {}, BOOM, {"adk-2.13.0": "RuntimeError"}),
    # not event streams: HTTP errors the client maps before any parsing
    "badbody": ("", [], [], {}, None, {}),
    "noapp": ("", [], [], {}, None, {}),
    "nosession": ("", [], [], {}, None, {}),
}
CASES = [(v, p.stem) for v in VERSIONS for p in sorted((FIXTURES / v).glob("*.sse"))]


def test_every_capture_has_an_expectation() -> None:
    assert len(CASES) == 2 * len(EXPECTED), "fixtures missing? looked in " + str(FIXTURES)
    assert {name for _, name in CASES} == set(EXPECTED)


@pytest.mark.parametrize(("version", "name"), CASES)
def test_capture_end_to_end(version: str, name: str) -> None:
    text, calls, results, delta, error, codes = EXPECTED[name]
    res, shown, _ = run_file(version, name)
    assert res.text == text
    assert "".join(shown) == text  # what streamed to the user is the text, exactly once
    assert [{"name": c["name"], "args": c["args"]} for c in res.tool_calls] == calls
    assert [{"name": r["name"], "response": r["response"]} for r in res.tool_results] == results
    assert res.state_delta == delta
    assert res.error == error
    assert res.error_code == codes.get(version)


@pytest.mark.parametrize("version", VERSIONS)
def test_partial_chunks_stream_as_they_arrive(version: str) -> None:
    _, shown, _ = run_file(version, "hello_stream")
    assert shown == ["Hello", " there,", " friend."]
    _, shown, _ = run_file(version, "tool_stream")
    assert shown == ["Let me check. ", "It is sunny ", "in Paris."]


@pytest.mark.parametrize("version", VERSIONS)
def test_tool_call_reported_once_with_its_id(version: str) -> None:
    res, _, events = run_file(version, "tool_stream")
    calls = [e for e in events if isinstance(e, ToolCall)]
    assert len(calls) == 1  # the partial event's copy is not a second call
    assert calls[0].call_id is not None
    assert calls[0].call_id.startswith("adk-")
    assert res.tool_results[0]["id"] == calls[0].call_id


@pytest.mark.parametrize("version", VERSIONS)
def test_thoughts_never_surface(version: str) -> None:
    res, shown, events = run_file(version, "think")
    assert "pondering" not in res.text
    assert not any("pondering" in s for s in shown)
    assert all("pondering" not in e.text for e in events if isinstance(e, TextChunk))


def test_non_stream_bodies_are_not_events() -> None:
    for version in VERSIONS:
        for name in ("badbody", "noapp", "nosession"):
            body = (FIXTURES / version / f"{name}.sse").read_text(encoding="utf-8")
            assert parse_data(body) == []


def test_counts_events_and_heartbeats() -> None:
    res, _, _ = run(["", None, '{"type":"heartbeat"}', '{"type":"text","content":"hi"}', "  "])
    assert (res.events, res.heartbeats, res.text) == (5, 4, "hi")
    assert parse_comment() == Heartbeat()


def test_legacy_shape_stream() -> None:
    payloads: list[str | None] = [
        json.dumps(p)
        for p in [
            {"type": "heartbeat"},
            {"type": "text", "content": "Removing the car"},
            {"type": "tool_call", "name": "remove_object", "args": {"target": "car"}, "id": "c1"},
            {"type": "tool_result", "name": "remove_object", "result": {"ok": True}, "id": "c1"},
            {"type": "progress", "value": 50},
            {"type": "text", "content": " - done."},
        ]
    ]
    res, shown, events = run(payloads)
    assert res.text == "Removing the car - done."  # legacy pieces are joined as sent
    assert shown == ["Removing the car", " - done."]
    assert res.tool_calls == [{"name": "remove_object", "args": {"target": "car"}, "id": "c1"}]
    assert res.tool_results == [{"name": "remove_object", "response": {"ok": True}, "id": "c1"}]
    assert res.heartbeats == 1
    assert res.error is None
    assert TextChunk("Removing the car", False, None, None) in events


def test_legacy_tool_call_with_json_string_arguments_and_error_type() -> None:
    [call] = parse_data('{"type":"tool_call","tool":"trim","arguments":"{\\"to\\": 8}"}')
    assert call == ToolCall("trim", {"to": 8}, None)
    [fault] = parse_data('{"type":"error","message":"out of credits","code":2001}')
    assert fault == StreamFault("out of credits", "2001")


def test_error_frame_with_details_gives_code() -> None:
    payload = {"error": "RuntimeError: boom", "error_details": {"error_type": "RuntimeError"}}
    assert parse_data(json.dumps(payload)) == [StreamFault("RuntimeError: boom", "RuntimeError")]
    assert parse_data('{"error": {"code": 503, "message": "overloaded"}}') == [
        StreamFault("overloaded", "503")
    ]
    assert parse_data('{"errorCode": "MAX_TOKENS"}') == [StreamFault("MAX_TOKENS", "MAX_TOKENS")]


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ('{"error": "model exploded: "quoted"', 'model exploded: "quoted"'),  # unescaped, cut by newline
        ('{"error": "bad "x" thing"}', 'bad "x" thing'),
        ("{'error': 'boom'}", "boom"),
        ('{"error": "a\\nb", oops}', "a\nb"),
        ('{"error": Traceback (most recent call last)}', "Traceback (most recent call last)"),
        ('{"error": ', "the backend reported an error"),
    ],
)
def test_invalid_json_error_frames_are_salvaged(payload: str, message: str) -> None:
    assert parse_data(payload) == [StreamFault(message, None)]


@pytest.mark.parametrize("payload", ['{"text": ', "not json", "[1, 2", '{"errors": x}', "null", "[]", "42"])
def test_other_invalid_or_foreign_payloads_are_ignored(payload: str) -> None:
    assert parse_data(payload) == []


def adk(
    text: str | None = None, *, partial: bool = False, inv: str = "e-1", author: str = "a", **kw: Any
) -> str:
    event: dict[str, Any] = {"invocationId": inv, "author": author, "partial": partial, **kw}
    if text is not None:
        event["content"] = {"role": "model", "parts": [{"text": text}]}
    return json.dumps(event)


def test_aggregate_that_differs_from_partials_wins_in_the_result() -> None:
    res, shown, _ = run([adk("Helo", partial=True), adk(" world", partial=True), adk("Hello world")])
    assert res.text == "Hello world"
    assert shown == ["Helo", " world"]


def test_aggregate_that_extends_partials_shows_only_the_rest() -> None:
    res, shown, _ = run([adk("Hello", partial=True), adk("Hello world")])
    assert (res.text, shown) == ("Hello world", ["Hello", " world"])


def test_partials_of_a_broken_stream_are_kept() -> None:
    res, shown, _ = run([adk("Trimming ", partial=True), adk("the clip", partial=True)])
    assert res.text == "Trimming the clip" == "".join(shown)


def test_unaggregated_partials_then_another_segment_keep_both() -> None:
    payloads: list[str | None] = [
        adk("Step one. ", partial=True),
        adk("Step two.", partial=True),
        adk("Step two."),  # aggregates only the second reply
    ]
    res, shown, _ = run(payloads)
    assert res.text == "Step one. Step two." == "".join(shown)


def test_other_author_closes_the_open_segment() -> None:
    payloads: list[str | None] = [adk("Half", partial=True, author="planner"), adk("Done.", author="editor")]
    res, shown, _ = run(payloads)
    assert res.text == "Half\n\nDone." == "".join(shown)


def test_separate_replies_do_not_run_together() -> None:
    res, shown, _ = run([adk("I will remove the car."), adk("Done! The car is gone.")])
    assert res.text == "I will remove the car.\n\nDone! The car is gone." == "".join(shown)


def test_user_echo_and_thought_only_events_show_nothing() -> None:
    thought = {"content": {"parts": [{"text": "hmm", "thought": True}]}, "author": "a", "invocationId": "e"}
    res, shown, _ = run([adk("remove the car", author="user"), json.dumps(thought)])
    assert (res.text, shown) == ("", [])


def test_first_fault_wins_and_text_before_it_is_kept() -> None:
    payloads: list[str | None] = [
        adk("Working on it", partial=True),
        adk(errorCode="SAFETY", errorMessage="blocked"),
        '{"error": "later"}',
    ]
    res, _, _ = run(payloads)
    assert (res.text, res.error, res.error_code) == ("Working on it", "blocked", "SAFETY")


def test_state_deltas_merge_and_empty_ones_are_not_events() -> None:
    res, _, events = run(
        [
            adk(actions={"stateDelta": {"draft": {"t": []}, "x": 1}}),
            adk(actions={"stateDelta": {"x": 2}}),
            adk(actions={"stateDelta": {}}),
        ]
    )
    assert res.state_delta == {"draft": {"t": []}, "x": 2}
    assert sum(isinstance(e, StateDelta) for e in events) == 2


def test_one_event_with_text_and_call_yields_text_first() -> None:
    event = {
        "author": "a",
        "invocationId": "e",
        "content": {
            "parts": [
                {"functionCall": {"name": "trim", "args": {"to": 8}, "id": "c"}},
                {"text": "Trimming."},
                {"text": " Now."},
            ]
        },
    }
    assert parse_data(json.dumps(event)) == [
        TextChunk("Trimming. Now.", False, "a", "e"),
        ToolCall("trim", {"to": 8}, "c"),
    ]


# ---- properties -------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
ADK_KEYS = st.sampled_from(
    ["content", "parts", "text", "thought", "partial", "author", "invocationId", "actions", "stateDelta",
     "errorCode", "errorMessage", "error", "error_details", "type", "functionCall", "functionResponse",
     "name", "args", "response", "id"]
)  # fmt: skip
ADK_LIKE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=5)
    | st.sampled_from(["text", "tool_call", "heartbeat"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ADK_KEYS, inner, max_size=5),
    max_leaves=25,
)


@given(st.text())
def test_parse_data_never_raises_on_text(data: str) -> None:
    assert all(isinstance(e, EVENT_TYPES) for e in parse_data(data))
    assert all(isinstance(e, EVENT_TYPES) for e in parse_data('{"error": ' + data))


@given(JSON | ADK_LIKE)
def test_parse_data_never_raises_on_json(value: Any) -> None:
    events = parse_data(json.dumps(value))
    assert all(isinstance(e, EVENT_TYPES) for e in events)
    acc = RunAccumulator()
    for e in events:
        acc.feed(e)
    acc.result()


def test_parse_data_survives_deep_nesting() -> None:
    assert parse_data("[" * 100_000) == []
    assert parse_data('{"error": ' + "[" * 100_000) != []


OPT_ID = st.none() | st.sampled_from(["e-1", "e-2"])
EVENTS = st.one_of(
    st.builds(TextChunk, st.text(max_size=6), st.booleans(), OPT_ID, OPT_ID),
    st.builds(ToolCall, st.text(max_size=3), st.dictionaries(st.text(max_size=3), JSON, max_size=2), OPT_ID),
    st.builds(ToolResult, st.text(max_size=3), JSON, OPT_ID),
    st.builds(StateDelta, st.dictionaries(st.text(max_size=3), JSON, max_size=2)),
    st.just(Heartbeat()),
    st.builds(StreamFault, st.text(max_size=5), OPT_ID),
)


@given(st.lists(EVENTS, max_size=30))
def test_accumulator_never_raises(events: list[RunEvent]) -> None:
    acc = RunAccumulator()
    for e in events:
        out = acc.feed(e)
        assert out is None or (isinstance(out, str) and out)
    res = acc.result()
    assert res.events == len(events)
    assert res.heartbeats == sum(isinstance(e, Heartbeat) for e in events)
    faults = [e for e in events if isinstance(e, StreamFault)]
    assert res.error_code == (faults[0].code if faults else None)


WORDS = st.text(alphabet="abc .", min_size=1, max_size=5)


@given(st.lists(st.tuples(st.lists(WORDS, max_size=4), st.booleans()), max_size=6))
def test_well_formed_streams_show_every_text_exactly_once(segments: list[tuple[list[str], bool]]) -> None:
    """Segments of partial chunks, each followed by its aggregate (or by none at the very end)."""
    acc = RunAccumulator()
    shown: list[str] = []
    expected: list[str] = []
    for i, (words, aggregated) in enumerate(segments):
        chunks = [*words, "x "]  # a reply ending in a space: no separator needed
        events = [TextChunk(c, True, "agent", "e-1") for c in chunks]
        if aggregated or i < len(segments) - 1:
            events.append(TextChunk("".join(chunks), False, "agent", "e-1"))
        for ev in events:
            out = acc.feed(ev)
            if out:
                shown.append(out)
        expected.append("".join(chunks))
    assert acc.result().text == "".join(expected) == "".join(shown)


@settings(max_examples=50)
@given(st.text(alphabet="ab", min_size=1, max_size=4))
def test_same_event_id_on_partials_and_aggregate_is_not_deduplicated_as_text(word: str) -> None:
    """ADK 2.13 repeats one event id on every partial chunk and the aggregate."""
    res, shown, _ = run(
        [adk(word, partial=True, id="same"), adk(word, partial=True, id="same"), adk(word * 2, id="same")]
    )
    assert res.text == word * 2 == "".join(shown)
