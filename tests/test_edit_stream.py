"""`client.edit(...)` (/run_sse) against the emulator: every stream shape, heartbeats, silent
edits, error frames, stalls, drops (never re-POSTed) and the state recovery that follows; plus
the SSE line decoder on its own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from backend_support import SKILL, STATIC_TOKEN, Sleeps, make_client
from nemo_video_mcp.backend import (
    Draft,
    Heartbeat,
    NemoClient,
    NoCredits,
    ServerError,
    SessionLost,
    StreamError,
    StreamFault,
    StreamStalled,
    TextChunk,
    ToolCall,
    ToolResult,
    TransportError,
    draft_changes,
)
from nemo_video_mcp.backend._edit import SSEDecoder
from nemo_video_mcp.emulator import Fault

pytestmark = pytest.mark.anyio

RUN = "/run_sse"
INTRO = "Let me work on that. "


HANG = 60  # only a hang guard: each of these runs ends by its timeout, well before


@pytest.fixture
async def client(emulator: Any, tmp_path: Path) -> Any:
    async with make_client(emulator.url, tmp_path / "state", sleep=Sleeps()) as c:
        yield c


async def run_edit(client: NemoClient, sid: str, message: str = "add a title") -> tuple[Any, list[Any], str]:
    events: list[Any] = []
    shown = ""
    async with client.edit(sid, message, skill=SKILL) as run:
        async for ev in run:
            events.append(ev)
            if run.new_text:
                shown += run.new_text
    return run, events, shown


@pytest.mark.parametrize("shape", ["adk-partial", "adk", "legacy"])
@pytest.mark.parametrize("gui_talk", [False, True])
async def test_every_stream_shape_shows_the_text_exactly_once(
    client: NemoClient, emulator: Any, shape: str, gui_talk: bool
) -> None:
    emulator.config.sse_shape = shape
    emulator.config.gui_talk = gui_talk
    info = await client.create_session(skill=SKILL)
    run, events, shown = await run_edit(client, info.session_id)
    result = run.result
    assert result.text
    assert shown == result.text  # what streamed is what the result holds: nothing shown twice
    assert result.text.count(INTRO.strip()) == 1
    assert result.error is None
    assert not run.failed
    assert run.finished
    assert run.bytes_received > 0
    assert any(isinstance(e, ToolCall) for e in events)
    assert any(isinstance(e, ToolResult) for e in events)
    assert any(isinstance(e, Heartbeat) for e in events)
    assert result.heartbeats > 0
    assert len(emulator.requests_to(RUN)) == 1
    body = emulator.requests_to(RUN)[0].json
    assert body == {
        "app_name": "nemo_agent",
        "user_id": "me",
        "session_id": info.session_id,
        "new_message": {"role": "user", "parts": [{"text": "add a title"}]},
    }
    assert emulator.requests_to(RUN)[0].headers["accept"] == "text/event-stream"


async def test_silent_edit_has_no_text_but_the_draft_changed(client: NemoClient, emulator: Any) -> None:
    emulator.config.silent_edits = True
    info = await client.create_session(skill=SKILL)
    before = Draft.parse((await client.get_state(info.session_id, skill=SKILL)).draft)
    run, events, _ = await run_edit(client, info.session_id, "add a title Urban Dreams")
    assert run.result.text == ""
    assert not any(isinstance(e, TextChunk) and e.text for e in events)
    assert run.result.tool_calls
    after = Draft.parse((await client.get_state(info.session_id, skill=SKILL)).draft)
    assert draft_changes(before, after)


async def test_sse_silent_fault_and_slow_heartbeats(client: NemoClient, emulator: Any) -> None:
    info = await client.create_session(skill=SKILL)
    emulator.inject(Fault("sse_silent"))
    run, _, _ = await run_edit(client, info.session_id)
    assert run.result.text == ""
    assert not run.failed

    emulator.inject(Fault("sse_slow_heartbeats", interval=0.1, total=0.5))
    run, _, _ = await run_edit(client, info.session_id)
    assert run.result.heartbeats >= 4
    assert run.result.text


@pytest.mark.parametrize("variant", ["json", "details", "badjson", "errorcode"])
@pytest.mark.parametrize("after_events", [0, 2])
async def test_error_frames_of_every_kind_set_result_error(
    client: NemoClient, emulator: Any, variant: str, after_events: int
) -> None:
    info = await client.create_session(skill=SKILL)
    emulator.inject(Fault("sse_error", variant=variant, after_events=after_events))
    run, events, _ = await run_edit(client, info.session_id)
    assert run.failed
    assert run.result.error
    assert any(isinstance(e, StreamFault) for e in events)
    if variant == "errorcode":
        assert run.result.error_code == "SAFETY"
        assert "safety" in run.result.error.lower()
    else:
        assert "model exploded" in run.result.error
    assert len(emulator.requests_to(RUN)) == 1


async def test_404_before_the_stream_is_session_lost(client: NemoClient, emulator: Any) -> None:
    info = await client.create_session(skill=SKILL)
    emulator.inject(Fault("sse_404"))
    with pytest.raises(SessionLost) as exc:
        async with client.edit(info.session_id, "hi", skill=SKILL):
            pytest.fail("the stream must not open")
    assert exc.value.session_id == info.session_id
    assert len(emulator.requests_to(RUN)) == 1


async def test_json_answer_with_code_2001_is_no_credits(client: NemoClient, emulator: Any) -> None:
    info = await client.create_session(skill=SKILL)
    emulator.inject(Fault("envelope", path=RUN, code=2001))
    with pytest.raises(NoCredits) as exc:
        async with client.edit(info.session_id, "hi", skill=SKILL):
            pass
    assert exc.value.bind_url == f"https://nemovideo.com/register?bind={client.user_id}"
    assert len(emulator.requests_to(RUN)) == 1


async def test_no_credits_left_is_refused_as_2001(emulator: Any, tmp_path: Path) -> None:
    emulator.config.credits = 0
    async with make_client(emulator.url, tmp_path / "s") as c:
        info = await c.create_session(skill=SKILL)
        with pytest.raises(NoCredits):
            await run_edit(c, info.session_id)


async def test_json_answer_with_code_2001_for_a_registered_user_has_no_link(
    emulator: Any, tmp_path: Path
) -> None:
    async with make_client(emulator.url, tmp_path / "s", NEMO_TOKEN=STATIC_TOKEN) as c:
        info = await c.create_session(skill=SKILL)
        emulator.inject(Fault("envelope", path=RUN, code=2001))
        with pytest.raises(NoCredits) as exc:
            async with c.edit(info.session_id, "hi", skill=SKILL):
                pass
    assert exc.value.bind_url is None


async def test_1001_before_the_stream_renews_and_sends_again(client: NemoClient, emulator: Any) -> None:
    info = await client.create_session(skill=SKILL)
    emulator.inject(Fault("envelope", path=RUN, code=1001))
    run, _, _ = await run_edit(client, info.session_id)
    assert run.result.text
    posts = emulator.requests_to(RUN)
    assert len(posts) == 2  # refused before acting: sending again is safe
    assert posts[0].headers["authorization"] != posts[1].headers["authorization"]


async def test_5xx_before_the_stream_is_not_sent_again(client: NemoClient, emulator: Any) -> None:
    info = await client.create_session(skill=SKILL)
    emulator.inject(Fault("http", path=RUN, status=502))
    with pytest.raises(ServerError):
        async with client.edit(info.session_id, "hi", skill=SKILL):
            pass
    assert len(emulator.requests_to(RUN)) == 1


async def test_connection_reset_before_the_stream_is_not_sent_again(
    client: NemoClient, emulator: Any
) -> None:
    info = await client.create_session(skill=SKILL)
    emulator.inject(Fault("reset", path=RUN))
    with pytest.raises(TransportError):
        async with client.edit(info.session_id, "hi", skill=SKILL):
            pass
    assert len(emulator.requests_to(RUN)) == 1


async def test_stall_raises_stream_stalled(emulator: Any, tmp_path: Path) -> None:
    async with make_client(emulator.url, tmp_path / "s", NEMO_STREAM_STALL_SECONDS="0.3") as c:
        info = await c.create_session(skill=SKILL)
        emulator.inject(Fault("sse_stall", after_events=1, seconds=2.0))
        with anyio.fail_after(HANG):
            with pytest.raises(StreamStalled) as exc:
                await run_edit(c, info.session_id)
    assert exc.value.code == "stalled"
    assert len(emulator.requests_to(RUN)) == 1


async def test_ceiling_raises_stream_stalled(emulator: Any, tmp_path: Path) -> None:
    env = {"NEMO_STREAM_MAX_SECONDS": "0.4", "NEMO_STREAM_STALL_SECONDS": "5"}
    async with make_client(emulator.url, tmp_path / "s", **env) as c:
        info = await c.create_session(skill=SKILL)
        emulator.inject(Fault("sse_slow_heartbeats", interval=0.05, total=3.0))
        with anyio.fail_after(HANG):
            with pytest.raises(StreamStalled) as exc:
                await run_edit(c, info.session_id)
    assert exc.value.code == "ceiling"
    assert len(emulator.requests_to(RUN)) == 1


async def test_ceiling_longer_than_the_stall_timeout_still_ends_on_time(
    emulator: Any, tmp_path: Path
) -> None:
    """Heartbeats keep the stream alive past the ceiling: reading starts without a timer (the stall
    timeout bounds each read) and the ceiling still ends the run on time."""
    env = {"NEMO_STREAM_MAX_SECONDS": "0.8", "NEMO_STREAM_STALL_SECONDS": "0.3"}
    async with make_client(emulator.url, tmp_path / "s", **env) as c:
        info = await c.create_session(skill=SKILL)
        emulator.inject(Fault("sse_slow_heartbeats", interval=0.05, total=3.0))
        started = anyio.current_time()
        with anyio.fail_after(HANG):
            with pytest.raises(StreamStalled) as exc:
                await run_edit(c, info.session_id)
    assert exc.value.code == "ceiling"
    assert anyio.current_time() - started >= 0.8  # not early; not late: "ceiling", the stream lasts 3 s
    assert len(emulator.requests_to(RUN)) == 1


async def test_drop_raises_stream_error_is_never_resent_and_recovery_sees_the_change(
    client: NemoClient, emulator: Any
) -> None:
    info = await client.create_session(skill=SKILL)
    before = Draft.parse((await client.get_state(info.session_id, skill=SKILL)).draft)
    emulator.inject(Fault("sse_drop", after_events=1))
    async with client.edit(info.session_id, "add a title Urban Dreams", skill=SKILL) as run:
        with pytest.raises(StreamError) as exc:
            async for _ in run:
                pass
    assert exc.value.code == "dropped"
    assert not isinstance(exc.value, StreamStalled)
    assert run.bytes_received > 0
    assert len(emulator.requests_to(RUN)) == 1  # exactly ONE POST: never sent again

    after = await client.recover_state(
        info.session_id, before, skill=SKILL, intervals=[0.2], max_unchanged=20
    )
    assert after.raw != before.raw
    assert draft_changes(before, after)
    assert len(emulator.requests_to(RUN)) == 1


async def test_recover_state_gives_up_after_unchanged_reads(client: NemoClient, emulator: Any) -> None:
    info = await client.create_session(skill=SKILL)
    before = Draft.parse((await client.get_state(info.session_id, skill=SKILL)).draft)
    state_reads = len(emulator.requests_to("/api/state/"))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async with make_client(emulator.url, Path(str(client.settings.state_dir)), sleep=sleep) as c:
        last = await c.recover_state(
            info.session_id, before, skill=SKILL, intervals=[30, 60], max_unchanged=4
        )
    assert last.raw == before.raw
    assert waits == [30, 60, 60, 60]
    assert len(emulator.requests_to("/api/state/")) == state_reads + 4


async def test_recover_state_gives_up_on_no_change_only_past_the_ceiling(
    client: NemoClient, emulator: Any
) -> None:
    """Generation runs last minutes: 5 unchanged reads are not "no change" while NemoVideo may still
    be running the message; only its ceiling (NEMO_STREAM_MAX_SECONDS since the run began) is."""
    info = await client.create_session(skill=SKILL)
    before = Draft.parse((await client.get_state(info.session_id, skill=SKILL)).draft)
    state_reads = len(emulator.requests_to("/api/state/"))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    env = {"NEMO_STREAM_MAX_SECONDS": "900", "NEMO_RECOVERY_MAX_UNCHANGED": "5"}
    async with make_client(emulator.url, Path(str(client.settings.state_dir)), sleep=sleep, **env) as c:
        last = await c.recover_state(info.session_id, before, skill=SKILL, intervals=[30, 60])
        assert last.raw == before.raw
        assert waits == [30] + [60] * 15  # read at 30 s, 90 s, ... 930 s: the first past 900 s
        waits.clear()
        started = anyio.current_time() - 600  # a run that began 10 minutes ago: 5 minutes are left
        await c.recover_state(
            info.session_id, before, skill=SKILL, intervals=[30, 60], deadline=started + 900
        )
        assert waits == [30, 60, 60, 60, 60, 60]
    assert len(emulator.requests_to("/api/state/")) == state_reads + 16 + 6


async def test_recover_state_uses_the_settings_by_default(emulator: Any, tmp_path: Path) -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    env = {"NEMO_RECOVERY_POLL_SECONDS": "30,60", "NEMO_RECOVERY_MAX_UNCHANGED": "5"}
    async with make_client(emulator.url, tmp_path / "s", sleep=sleep, **env) as c:
        info = await c.create_session(skill=SKILL)
        before = Draft.parse((await c.get_state(info.session_id, skill=SKILL)).draft)
        await c.recover_state(info.session_id, before, skill=SKILL)
    assert waits == [30, 60, 60, 60, 60]


async def test_one_run_at_a_time_per_session(client: NemoClient, emulator: Any) -> None:
    emulator.config.edit_seconds = 0.3
    a = await client.create_session(skill=SKILL)
    b = await client.create_session(skill=SKILL)
    spans: dict[str, list[tuple[float, float]]] = {a.session_id: [], b.session_id: []}

    async def one(sid: str) -> None:
        async with client.edit(sid, "add a title", skill=SKILL) as run:
            start = anyio.current_time()
            async for _ in run:
                pass
            spans[sid].append((start, anyio.current_time()))

    async with anyio.create_task_group() as tg:
        for sid in (a.session_id, a.session_id, b.session_id):
            tg.start_soon(one, sid)
    (_, e1), (s2, _) = sorted(spans[a.session_id])
    assert s2 >= e1  # the second run of session a started after the first ended
    sb, _ = spans[b.session_id][0]
    assert sb < e1  # another session ran alongside


async def test_iterating_without_async_with_is_a_usage_error(client: NemoClient) -> None:
    run = client.edit("1234567890123456789", "hi", skill=SKILL)
    with pytest.raises(RuntimeError, match="async with"):
        run.__aiter__()


async def test_a_run_cannot_be_entered_twice(client: NemoClient, emulator: Any) -> None:
    info = await client.create_session(skill=SKILL)
    run = client.edit(info.session_id, "add a title", skill=SKILL)
    async with run:
        async for _ in run:
            pass
    with pytest.raises(RuntimeError, match="only once"):
        async with run:
            pass
    assert len(emulator.requests_to(RUN)) == 1


async def test_breaking_out_early_releases_the_session(client: NemoClient, emulator: Any) -> None:
    info = await client.create_session(skill=SKILL)
    async with client.edit(info.session_id, "add a title", skill=SKILL) as run:
        async for _ in run:
            break
    run2, _, _ = await run_edit(client, info.session_id)
    assert run2.result.text


# --- the decoder on its own -------------------------------------------------------------------


def _decode(chunks: list[bytes]) -> list[Any]:
    dec = SSEDecoder()
    out: list[Any] = []
    for c in chunks:
        out.extend(dec.feed(c))
    out.extend(dec.close())
    return out


def test_decoder_handles_every_line_ending_and_split_points() -> None:
    ev = {"type": "text", "content": "héllo"}
    payload = b"data: " + json.dumps(ev, ensure_ascii=False).encode() + b"\n\n"
    for sep in (b"\n", b"\r\n", b"\r"):
        body = (payload.replace(b"\n", sep)) * 2 + b": ping" + sep + sep + b"data:" + sep + sep
        whole = _decode([body])
        assert [type(e) for e in whole] == [TextChunk, TextChunk, Heartbeat, Heartbeat]
        for size in (1, 2, 3, 7):
            pieces = [body[i : i + size] for i in range(0, len(body), size)]
            assert _decode(pieces) == whole


def test_decoder_joins_multiline_data_and_flushes_the_last_event() -> None:
    body = (
        b'data: {"type":"text",\ndata: "content":"a"}\n\nevent: x\nid: 3\ndata: {"type":"text","content":"b"}'
    )
    events = _decode([body])
    assert [e.text for e in events if isinstance(e, TextChunk)] == ["a", "b"]


def test_decoder_error_frames() -> None:
    events = _decode([b'data: {"error": "boom"}\n\n', b'data: {"error": "bad "json""}\n\n'])
    assert all(isinstance(e, StreamFault) for e in events)
    assert len(events) == 2
