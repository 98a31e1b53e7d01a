"""Fuzzing (hypothesis) of what the backend and the host can send us, beyond the properties that
tests/test_sse.py and tests/test_draft.py already hold (parse_data on text and JSON, the
accumulator on event lists, Draft.parse/summary/diff/tracks_view on JSON):

- raw bytes through the client's own SSE line framing (`SSEDecoder`), split anywhere;
- every answer parser of the client: envelopes and refusals, Retry-After, render status,
  uploaded files: only the documented `NemoError`s, never anything else;
- any draft through the `get_state` result model (what the tool returns must serialise);
- the whole server: any draft in the backend's state, read through `get_state` and the
  resources; and JSON values of every shape for every argument of every tool, through
  `mcp.Client.call_tool`: a validation error or a readable ToolError, never a crash.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client
from mcp.shared.exceptions import MCPError

from nemo_video_mcp.backend import Draft, NemoError, RenderStatus, UploadedFile
from nemo_video_mcp.backend._edit import SSEDecoder
from nemo_video_mcp.backend._envelope import ErrorContext, decode, error_for_response, unwrap
from nemo_video_mcp.backend._renders import parse_render
from nemo_video_mcp.backend._retry import parse_retry_after
from nemo_video_mcp.backend._sse import Heartbeat, StateDelta, StreamFault, TextChunk, ToolCall, ToolResult
from nemo_video_mcp.backend._upload import parse_files
from nemo_video_mcp.emulator import Emulator
from nemo_video_mcp.service._workspace_views import StateView
from nemo_video_mcp.tools._timeline_words import state_result
from reliability_support import fast_emulator, is_crash
from support_common import connect, make_media, settings_for, text_of

EVENT_TYPES = (TextChunk, ToolCall, ToolResult, StateDelta, Heartbeat, StreamFault)
FAST = settings(max_examples=60, deadline=None)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
ENVELOPE_KEYS = st.sampled_from(
    ["code", "message", "msg", "data", "success", "error", "status", "state", "progress", "output",
     "url", "outputUrl", "render", "files", "items", "cdn_url", "filename", "duration", "width", "fps"]
)  # fmt: skip
ANSWER = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ENVELOPE_KEYS, inner, max_size=6),
    max_leaves=25,
)


# ---- the client's SSE framing on raw bytes --------------------------------------------------


def _decode(chunks: list[bytes]) -> list[Any]:
    dec = SSEDecoder()
    events: list[Any] = []
    for chunk in chunks:
        events.extend(dec.feed(chunk))
    events.extend(dec.close())
    return events


SSE_BYTES = st.lists(
    st.binary(max_size=40)
    | st.sampled_from(
        [b"data: ", b"data:", b"\n", b"\r\n", b"\r", b": ping", b"event: x", b'{"type":"text",']
    )
    | JSON.map(lambda v: b"data: " + json.dumps(v).encode() + b"\n\n"),
    max_size=12,
).map(b"".join)


@FAST
@given(SSE_BYTES, st.lists(st.integers(0, 200), max_size=6))
def test_any_bytes_split_anywhere_give_the_same_events(body: bytes, cuts: list[int]) -> None:
    points = sorted({min(c, len(body)) for c in cuts})
    chunks = [body[a:b] for a, b in zip([0, *points], [*points, len(body)], strict=True)]
    whole = _decode([body])
    assert all(isinstance(e, EVENT_TYPES) for e in whole)
    assert _decode(chunks) == whole


# ---- the client's answer parsers ------------------------------------------------------------


@FAST
@given(ANSWER, st.integers(100, 599), st.one_of(st.none(), st.floats(0, 1e6)))
def test_any_answer_decodes_or_raises_a_documented_error(
    payload: Any, status: int, retry: float | None
) -> None:
    ctx = ErrorContext(what="do it", session_id="1234567890123456789", user_id="anon_x")
    unwrap(payload)
    failure: NemoError | None = None
    try:
        decode(payload, ctx)
    except NemoError as exc:
        failure = exc
    if failure is not None:
        assert str(failure)
        assert "\n" not in str(failure)
    refusal = error_for_response(status, payload, ctx, retry_after=retry)
    assert isinstance(refusal, NemoError)
    assert str(refusal)
    assert "{" not in str(refusal), "a refusal message must not carry raw JSON"


@FAST
@given(st.text(max_size=40) | st.none())
def test_any_retry_after_is_none_or_a_finite_wait(value: str | None) -> None:
    seconds = parse_retry_after(value)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)


@FAST
@given(ANSWER)
def test_any_render_answer_is_a_status(payload: Any) -> None:
    status = parse_render(payload, "render_1")
    assert isinstance(status, RenderStatus)
    assert status.phase in ("pending", "processing", "completed", "failed", "cancelled", "unknown")
    assert status.progress is None or 0 <= status.progress <= 100
    status.model_dump_json()


@FAST
@given(ANSWER)
def test_any_upload_answer_is_a_list_of_files(payload: Any) -> None:
    files = parse_files(payload)
    assert all(isinstance(f, UploadedFile) for f in files)
    for f in files:
        f.model_dump_json()


# ---- any draft through the get_state result model --------------------------------------------

DRAFT_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                ["t", "tt", "sg", "s", "st", "start", "d", "m", "name", "text", "title", "volume"]
            ),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@FAST
@given(DRAFT_VALUES)
def test_any_draft_makes_a_valid_get_state_result(raw: Any) -> None:
    draft = Draft.parse(raw)
    view = StateView(
        "1",
        "video-json-ai",
        draft,
        draft.tracks_view(),
        draft.export_ready(),
        None,
        None,
        draft.raw,
    )
    result = state_result(view)
    json.loads(result.model_dump_json())
    assert result.timeline


# ---- the whole server ------------------------------------------------------------------------


@dataclass
class Live:
    """One server session (client + emulator) kept open across hypothesis examples."""

    portal: anyio.from_thread.BlockingPortal
    client: Client
    emu: Emulator
    sid: str
    turn_id: str
    render_id: str

    def call(self, tool: str, args: dict[str, Any]) -> tuple[bool, str]:
        """(is_error, text) of a tool call; a protocol-level refusal of the arguments counts as an error."""
        try:
            result = self.portal.call(self.client.call_tool, tool, args)
        except MCPError as exc:
            return True, f"protocol error: {exc}"
        return bool(result.is_error), text_of(result)


@contextmanager
def _live(tmp: Path) -> Iterator[Live]:
    """An emulator and a server session with an uploaded clip, a finished edit and a render."""
    make_media(tmp / "media")
    with Emulator() as emu, anyio.from_thread.start_blocking_portal() as portal:
        fast_emulator(emu)
        with portal.wrap_async_context_manager(connect(settings_for(emu, tmp))) as client:
            up = portal.call(client.call_tool, "upload_media", {"paths": [str(tmp / "media" / "clip.mp4")]})
            edit = portal.call(client.call_tool, "send_edit", {"instruction": "add music"})
            export = portal.call(client.call_tool, "export_video", {"download": False})
            assert [up.is_error, edit.is_error, export.is_error] == [False, False, False]
            yield Live(
                portal,
                client,
                emu,
                up.structured_content["session_id"],
                edit.structured_content["turn_id"],
                export.structured_content["render_id"],
            )


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with _live(tmp_path_factory.mktemp("fuzz")) as it:
        yield it


WIRE_JSON = st.recursive(  # what JSON on the wire can carry (no NaN or infinity)
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["t", "tt", "sg", "s", "d", "m", "name", "text", "volume", "x"]),
            inner,
            max_size=5,
        )
    ),
    max_leaves=30,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(WIRE_JSON)
def test_any_backend_draft_is_shown_never_crashes(live: Live, raw: Any) -> None:
    live.emu.sessions[live.sid].draft = raw
    is_error, text = live.call("get_state", {"session_id": live.sid})
    assert not is_error, text
    timeline = live.portal.call(live.client.read_resource, f"nemo://sessions/{live.sid}/timeline")
    assert timeline.contents[0].text == json.loads(text)["timeline"]
    state = live.portal.call(live.client.read_resource, f"nemo://sessions/{live.sid}/state")
    assert json.loads(state.contents[0].text)["session_id"] == live.sid


ANY_VALUE = JSON | st.floats() | st.text(max_size=300) | st.just("")


def _arguments(live: Live) -> dict[str, dict[str, Any]]:
    """For each tool, its arguments with valid values (the fuzzed one is replaced in turn)."""
    return {
        "upload_media": {"paths": [], "urls": [], "session_id": live.sid, "skill": "video-json-ai"},
        "send_edit": {"instruction": "add music", "session_id": live.sid, "skill": None, "wait_seconds": 5},
        "get_edit_result": {"turn_id": live.turn_id, "wait_seconds": 0},
        "get_state": {"session_id": live.sid},
        "export_video": {
            "session_id": live.sid,
            "format": "mp4",
            "quality": "low",
            "wait_seconds": 0,
            "download": False,
        },
        "get_export_status": {"render_id": live.render_id, "wait_seconds": 0, "download": False},
        "check_credits": {},
    }


TOOL_ARGUMENTS = [
    ("upload_media", "paths"), ("upload_media", "urls"), ("upload_media", "session_id"),
    ("upload_media", "skill"), ("send_edit", "instruction"), ("send_edit", "session_id"),
    ("send_edit", "skill"), ("send_edit", "wait_seconds"), ("get_edit_result", "turn_id"),
    ("get_edit_result", "wait_seconds"), ("get_state", "session_id"), ("export_video", "session_id"),
    ("export_video", "format"), ("export_video", "quality"), ("export_video", "wait_seconds"),
    ("export_video", "download"), ("get_export_status", "render_id"), ("get_export_status", "wait_seconds"),
    ("get_export_status", "download"), ("check_credits", None),
]  # fmt: skip


@pytest.mark.parametrize(("tool", "argument"), TOOL_ARGUMENTS)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=ANY_VALUE, extra=st.dictionaries(st.text(max_size=6), JSON, max_size=2))
def test_any_argument_value_is_refused_readably_or_works(
    live: Live, tool: str, argument: str | None, value: Any, extra: dict[str, Any]
) -> None:
    args = dict(_arguments(live)[tool])
    if argument is not None:
        args[argument] = value
    args = {**extra, **args}
    if tool == "send_edit" and isinstance(args.get("wait_seconds"), int | float):
        args["wait_seconds"] = min(abs(args["wait_seconds"]), 5) if math.isfinite(args["wait_seconds"]) else 5
    is_error, text = live.call(tool, args)
    assert not is_crash(text), f"{tool}({args!r}) crashed: {text!r}"
    if is_error:
        assert len(text) > len(f"Error executing tool {tool}: ") + 10, text
    assert live.emu.sessions[live.sid].max_active_runs <= 1, "two runs at once in one session"


HOSTILE = [None, -1, 1e308, "", "x" * 300, "../../etc/passwd", "\x00", {"a": 1}, [1, 2], True]


def test_a_session_stays_usable_after_hostile_arguments(tmp_path: Path) -> None:
    """Every hostile value for every argument of every tool, on a session of its own (so the
    outcome does not depend on which fuzz examples ran before, or where): then it still works."""
    with _live(tmp_path) as live:
        sent = len(live.emu.requests_to("/run_sse", "POST"))
        turns: set[str] = set()
        for tool, argument in TOOL_ARGUMENTS:
            for value in HOSTILE if argument is not None else [None]:
                args = dict(_arguments(live)[tool])
                if argument is not None:
                    args[argument] = value
                if tool == "send_edit":
                    args["wait_seconds"] = 0 if argument != "wait_seconds" else value
                _, text = live.call(tool, args)
                assert not is_crash(text), f"{tool}({args!r}) crashed: {text!r}"
                turns |= set(re.findall(r"turn_[0-9a-f]{16}", text))
        for turn in turns:  # the edits the hostile calls started: let them end (or fail)
            live.call("get_edit_result", {"turn_id": turn, "wait_seconds": 8})
        assert len(live.emu.requests_to("/run_sse", "POST")) > sent  # hostile edits did reach it
        is_error, text = live.call("check_credits", {})
        assert not is_error, text
        is_error, text = live.call("get_state", {"session_id": live.sid})
        assert not is_error, text
        last = {"instruction": 'add a title "Still here"', "session_id": live.sid, "wait_seconds": 8}
        is_error, text = live.call("send_edit", last)
        assert not is_error, text
        assert json.loads(text)["status"] == "completed", text
        session = live.emu.sessions[live.sid]
        assert session.max_active_runs <= 1, "two runs at once in one session"
        assert session.messages[-1] == 'add a title "Still here"'
