"""Every tool x every backend fault that can hit its endpoints, through `mcp.Client`.

Each case sets up real work against the emulator (a session with a clip, a running edit or
render), injects one fault on the endpoint the tool depends on, calls the tool, and checks

- the documented outcome: success after the client's retry, or a readable `ToolError` carrying
  the guidance of the contract's error table (retry-after seconds, registration link, supported
  formats, size limit, upgrade message, the new session's id...);
- that nothing was lost: the session's timeline in the emulator is unchanged by a failed call and
  changed exactly once by a successful edit; no message was run twice and no render submitted
  twice (billed work counted in the emulator); the turn or render handle can still be fetched.

The last test checks the table against what exists: every tool the server lists, every fault kind
and error code the emulator can produce.
"""

from __future__ import annotations

import re
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import anyio
import pytest
from mcp import Client

from media_factory import make_video
from nemo_video_mcp.emulator import Emulator, Fault
from nemo_video_mcp.emulator.config import ENVELOPE_MESSAGES, FaultKind
from reliability_support import CREDITS, RENDER, RUN, STATE, UPLOAD, draft_of, fast_emulator, is_crash, posts
from support_common import connect, make_media, outlasting, refused_port, settings_for, text_of

pytestmark = pytest.mark.anyio

TOOLS = (
    "upload_media",
    "send_edit",
    "get_edit_result",
    "get_state",
    "export_video",
    "get_export_status",
    "save_generated",
    "cancel",
    "check_credits",
)
# local work on this machine: no NemoVideo endpoint to fault (proved below with none reachable)
LOCAL_TOOLS = {"prepare_media", "view_frames"}
SESSION_TOOLS = {
    "upload_media",
    "send_edit",
    "get_edit_result",
    "get_state",
    "export_video",
    "save_generated",
}
READ_ONLY_SESSION_TOOLS = {"get_state", "save_generated"}  # a lost session is reported, never replaced
EDIT_TOOLS = {"send_edit", "get_edit_result"}
EXPORT_TOOLS = {"export_video", "get_export_status"}
GENERIC = (
    "429 with Retry-After",
    "429 without Retry-After",
    "429 with a long Retry-After",
    "5xx",
    "connection reset",
    "stall",
    "1001 once",
    "1001 twice",
)
# the endpoint each tool depends on: (path prefix, method)
TARGET: dict[str, tuple[str, str]] = {
    "upload_media": (UPLOAD, "POST"),
    "send_edit": (RUN, "POST"),
    "get_edit_result": (RUN, "POST"),
    "get_state": (STATE, "GET"),
    "export_video": (RENDER, "POST"),
    "get_export_status": (RENDER + "/", "GET"),
    "save_generated": (STATE, "GET"),
    "cancel": (RENDER + "/", "POST"),  # the cancel endpoint (a submit is POSTed to RENDER itself)
    "check_credits": (CREDITS, "GET"),
}


def applicable(tool: str) -> list[str]:
    """Which faults can reach a tool's endpoints (independent of the expectations below)."""
    faults = list(GENERIC)
    if tool in SESSION_TOOLS:
        faults.append("1002")
    if tool in EDIT_TOOLS:
        faults += ["2001", "dropped stream", "silent stream", "stream error frame"]
    if tool == "upload_media":
        faults += ["4001", "4002"]
    if tool == "export_video":
        faults.append("402")
    if tool in EXPORT_TOOLS:
        faults.append("render failure")
    return faults


def faults_for(tool: str, fault: str, stall: float = 60.0) -> list[Fault]:
    """The faults of one case; a stall lasts `stall` seconds (longer than the client's timeouts)."""
    path, method = TARGET[tool]
    on = {"path": path, "method": method}
    sse = path == RUN
    table: dict[str, Callable[[], list[Fault]]] = {
        "429 with Retry-After": lambda: [Fault("http", **on, status=429, retry_after=0.2)],
        "429 without Retry-After": lambda: [Fault("http", **on, status=429)],
        "429 with a long Retry-After": lambda: [Fault("http", **on, status=429, retry_after=600)],
        "5xx": lambda: [Fault("http", **on, status=503)],
        "connection reset": lambda: [Fault("reset", **on)],
        "stall": lambda: (
            [Fault("sse_stall", after_events=1, seconds=stall)]
            if sse
            else [Fault("delay", **on, seconds=stall)]
        ),
        "1001 once": lambda: [Fault("envelope", **on, code=1001)],
        "1001 twice": lambda: [Fault("envelope", **on, code=1001, times=2)],
        "1002": lambda: (
            [Fault("sse_404")]
            if sse
            else [Fault("envelope", path=STATE if tool == "export_video" else path, method=None, code=1002)]
        ),
        "2001": lambda: [Fault("envelope", **on, code=2001)],
        "402": lambda: [
            Fault(
                "http", **on, status=402, body={"success": False, "error": "export blocked on the free plan"}
            )
        ],
        "4001": lambda: [Fault("envelope", **on, code=4001)],
        "4002": lambda: [Fault("envelope", **on, code=4002)],
        "dropped stream": lambda: [Fault("sse_drop", after_events=1)],
        "silent stream": lambda: [Fault("sse_silent")],
        "stream error frame": lambda: [Fault("sse_error", variant="json", message="the model refused")],
        "render failure": lambda: [Fault("render_fail", error="render failed: encoder crashed")],
    }
    return table[fault]()


# ---- expected outcomes ------------------------------------------------------------------------

TIMELINE = 'Timeline (1 track): 1. Video: "clip" (0-10s)'
RATE = ("HTTP 429", "wait 600 seconds", "retry_after_seconds=600")
SERVER = ("HTTP 503", "nothing was lost", "try again")
RESET = ("could not reach NemoVideo", "Check the internet connection")
TIMEOUT = ("did not answer in time", "Try again")
AUTH = ("code 1001", "NEMO_TOKEN")
LOST = ("code 1002", "was created and is now the current one", "Last known timeline of the lost session")
LOST_READ = ("code 1002", "This read replaced nothing", "Last known timeline of the lost session")
CREDITS_LINK = ("code 2001", "https://nemovideo.com/register?bind=anon_")
PLAN = ("HTTP 402", "register or upgrade your plan to unlock export", "not a credits problem")
FORMATS = (
    "code 4001",
    "Supported formats: mp4, mov, avi, webm, mkv, jpg, jpeg, png, gif, webp, mp3, wav, m4a, aac",
)
LARGE = ("code 4002", "500 MB", "Compress it")
RENDER_FAILED = (
    "NemoVideo said: «render failed: encoder crashed»",
    "The timeline is unchanged",
    "call export_video again",
)


@dataclass(frozen=True)
class Expect:
    kind: str  # "ok": the tool succeeds; "error": a ToolError; "failed": a result saying the edit failed
    says: tuple[str, ...] = ()


OK = Expect("ok")


def _err(*says: str) -> Expect:
    return Expect("error", says)


_EDIT = {
    "429 with Retry-After": OK,
    "429 without Retry-After": OK,
    "429 with a long Retry-After": _err(*RATE),
    "5xx": _err(*SERVER),
    "connection reset": _err(*RESET),
    "stall": Expect("ok", ("dropped before the edit finished", "not sent again")),
    "1001 once": OK,
    "1001 twice": _err(*AUTH),
    "1002": _err(*LOST, TIMELINE),
    "2001": _err(*CREDITS_LINK),
    "dropped stream": Expect("ok", ("dropped before the edit finished", "not sent again")),
    "silent stream": Expect("ok", ("without a written reply",)),
    "stream error frame": Expect("failed", ("The edit failed; NemoVideo reported: «the model refused»",)),
}
_READ = {  # idempotent GETs: transient failures are retried
    "429 with Retry-After": OK,
    "429 without Retry-After": OK,
    "429 with a long Retry-After": _err(*RATE),
    "5xx": OK,
    "connection reset": OK,
    "stall": OK,
    "1001 once": OK,
    "1001 twice": _err(*AUTH),
}
# billed or non-idempotent POSTs (upload, render submit): never retried past a refusal
_BILLED: dict[str, Expect] = {
    "429 with Retry-After": OK,
    "429 without Retry-After": OK,
    "429 with a long Retry-After": _err(*RATE),
    "5xx": _err(*SERVER),
    "connection reset": _err(*RESET),
    "stall": _err(*TIMEOUT),
    "1001 once": OK,
    "1001 twice": _err(*AUTH),
    "1002": _err(*LOST, TIMELINE),
}
EXPECTED: dict[str, dict[str, Expect]] = {
    "upload_media": {
        **_BILLED,
        "4001": _err(*FORMATS),
        "4002": _err(*LARGE),
    },
    "send_edit": _EDIT,
    "get_edit_result": _EDIT,
    "get_state": {**_READ, "1002": _err(*LOST_READ, TIMELINE)},
    "save_generated": {**_READ, "1002": _err(*LOST_READ, TIMELINE)},
    "cancel": {**_READ, "429 with a long Retry-After": _err(*RATE)},
    "export_video": {
        **_BILLED,
        "402": _err(*PLAN),
        "render failure": _err(*RENDER_FAILED),
    },
    "get_export_status": {
        **_READ,
        "429 with a long Retry-After": OK,  # a failed poll is skipped: the next one polls the same id
        "5xx": OK,
        "render failure": _err(*RENDER_FAILED),
    },
    "check_credits": _READ,
}
# faults that refuse a /run_sse before the backend starts the run: nothing runs, nothing is billed
REFUSED_RUN = {"429 with a long Retry-After", "5xx", "connection reset", "1001 twice", "1002", "2001"}
CASES = [(tool, fault) for tool in TOOLS for fault in EXPECTED[tool]]
# Fault kinds of the emulator the matrix does not inject, and why (a new kind must be added to the
# matrix or here: test_matrix_covers_every_tool_and_every_fault checks it).
NOT_IN_MATRIX = {
    "sse_slow_heartbeats": "slow but healthy: a stream that keeps beating is no fault (test_edit_stream)",
    "expire_token": "the 1001 cases answer the code itself; renewing an expired token is test_client's",
    "hold": "a test's way to pace the backend, not a failure",
    "hang": "a backend that accepts and never answers, on every tool at once: test_call_budget",
    "trickle": "a download fed byte by byte (caps, deadline, resume): test_download_limits/_restart",
    "render_no_url": "a completed render without a link, and the download fallback: test_render_fallback",
    "sse_question": "not a failure: the agent asks the user (needs_answer): test_edit_questions",
    "sse_trailer": "not a failure: a finished reply's trailing apology, dropped: test_edit_questions",
}

# the gateway's other words for 1001: the same renewal, on every endpoint, in test_client_contract11
CODES_ELSEWHERE = {1010: "token renewal, as 1001", 1011: "token renewal, as 1001"}


# ---- the cases ----------------------------------------------------------------------------------


# One test per tool, so xdist spreads the tools over its workers; within a test the tool's cases
# run side by side, each on an emulator of its own.
LANES = max(len(EXPECTED[tool]) for tool in TOOLS)


@pytest.fixture(scope="module")
def pool() -> Iterator[list[Emulator]]:
    with ExitStack() as stack:
        yield [fast_emulator(stack.enter_context(Emulator())) for _ in range(LANES)]


@dataclass
class Case:
    emu: Emulator
    tool: str
    fault: str
    expect: Expect
    sid: str = ""
    before: dict[str, Any] = field(default_factory=dict)  # the session's draft before the call
    handle: str | None = None  # a running turn_id or render_id, for the tools that take one


async def _setup(c: Client, case: Case, tmp: Path) -> None:
    """A session with one clip on its timeline, read back once (every tool's work starts there)."""
    up = await c.call_tool("upload_media", {"paths": [str(make_media(tmp / "media", "clip.mp4"))]})
    assert not up.is_error, text_of(up)
    case.sid = up.structured_content["session_id"]
    state = await c.call_tool("get_state", {})
    assert state.structured_content["timeline"] == TIMELINE
    case.before = draft_of(case.emu, case.sid)


SIMPLE_CALLS: dict[str, dict[str, Any]] = {
    "send_edit": {"instruction": "add music"},
    "get_state": {},
    "save_generated": {},
    "export_video": {},
    "check_credits": {},
}


async def _call(c: Client, case: Case, tmp: Path) -> Any:
    """The tool call under test; tools taking a handle first start the work it names (wait 0)."""
    tool = case.tool
    if tool in SIMPLE_CALLS:
        return await c.call_tool(tool, SIMPLE_CALLS[tool])
    if tool == "upload_media":
        return await c.call_tool("upload_media", {"paths": [str(make_media(tmp / "media", "second.mp4"))]})
    if tool == "get_edit_result":
        started = await c.call_tool("send_edit", {"instruction": "add music", "wait_seconds": 0})
        assert not started.is_error, text_of(started)
        assert started.structured_content["status"] == "running"
        case.handle = started.structured_content["turn_id"]
        return await c.call_tool("get_edit_result", {"turn_id": case.handle})
    started = await c.call_tool("export_video", {"wait_seconds": 0})
    assert not started.is_error, text_of(started)
    case.handle = started.structured_content["render_id"]
    if tool == "cancel":
        return await c.call_tool("cancel", {"handle": case.handle})
    return await c.call_tool("get_export_status", {"render_id": case.handle})


def _check_outcome(case: Case, result: Any) -> None:
    emu, tool, expect = case.emu, case.tool, case.expect
    text = text_of(result)
    if expect.kind == "error":
        assert result.is_error, f"expected a ToolError, got {result.structured_content}"
        assert not is_crash(text), text
    else:
        assert not result.is_error, text
        out = result.structured_content
        text = out.get("reply") or out.get("message") or text
        if tool in EDIT_TOOLS:
            assert out["status"] == ("completed" if expect.kind == "ok" else "failed"), out
            if expect.kind == "ok":
                assert len(out["changes"]) == 1, out
                assert out["changes"][0].startswith('added a BGM track "Lo-fi"'), out
        if tool in EXPORT_TOOLS:
            assert out["status"] == "completed", out
            assert Path(out["path"]).read_bytes() == emu.render_content()
        if tool == "cancel":
            assert out["outcome"] == "cancelled", out
    for phrase in expect.says:
        assert phrase.lower() in text.lower(), f"{phrase!r} not in {text!r}"
    if "code 2001" in expect.says:  # the link binds this anonymous user's work
        user = next(iter(emu.users))
        assert f"https://nemovideo.com/register?bind={user}" in text
    if tool in READ_ONLY_SESSION_TOOLS and "code 1002" in expect.says:
        assert set(emu.sessions) == {case.sid}, "a read must not create a session"
    elif "code 1002" in expect.says:
        match = re.search(r"session (\d{19}) was created", text)
        assert match, text
        assert match.group(1) in emu.sessions


def _check_nothing_lost(case: Case) -> None:
    emu, tool, fault, expect = case.emu, case.tool, case.fault, case.expect
    session = emu.sessions[case.sid]
    after = session.draft
    # billed work: a message runs at most once, a render is submitted at most once
    assert len(session.messages) <= 1, session.messages
    assert all(r.submits == 1 for r in emu.renders.values())
    limit = 2 if fault.startswith(("429", "1001")) else 1  # refused before acting: sent again once
    if tool in EDIT_TOOLS:
        assert posts(emu, RUN) <= limit
        ran = fault not in REFUSED_RUN  # the backend started the run (and billed it) exactly once
        assert len(session.messages) == (1 if ran else 0), session.messages
        if expect.kind == "ok":
            assert after != case.before, "a successful edit must change the timeline"
            assert [t["tt"] for t in after["t"]] == [0, 1], "the edit applied exactly once"
        else:
            assert after == case.before, "a failed edit must leave the timeline as it was"
    elif tool == "upload_media":
        assert posts(emu, UPLOAD) <= limit + 1  # + the setup's upload
        names = [f["filename"] for f in session.files]
        if expect.kind == "ok":
            assert names == ["clip.mp4", "second.mp4"]
        elif fault == "stall":  # the backend may still act on a request that timed out; never twice
            assert names in (["clip.mp4"], ["clip.mp4", "second.mp4"])
        else:
            assert names == ["clip.mp4"]
            assert after == case.before
    else:
        assert after == case.before, "a call that does not edit must leave the timeline as it was"
    if tool in EXPORT_TOOLS:
        assert posts(emu, RENDER) <= (limit if tool == "export_video" else 1)
        assert len(emu.renders) <= 1


async def _check_handles(c: Client, case: Case) -> None:
    """The work's handle still answers (and a failed poll did not lose the render)."""
    if case.tool == "get_edit_result":
        again = await c.call_tool("get_edit_result", {"turn_id": case.handle, "wait_seconds": 0})
        if case.expect.kind == "error":
            assert again.is_error
        else:
            want = "completed" if case.expect.kind == "ok" else "failed"
            assert again.structured_content["status"] == want
    if case.tool == "get_export_status":
        again = await c.call_tool("get_export_status", {"render_id": case.handle})
        if case.fault == "render failure":
            assert again.is_error
            assert "encoder crashed" in text_of(again)
        else:  # even after a refused poll the same render finishes: it is never submitted again
            assert not again.is_error, text_of(again)
            assert again.structured_content["status"] == "completed"
            assert posts(case.emu, RENDER) == 1
    if case.expect.kind == "error" and case.fault != "1002":
        state = await c.call_tool("get_state", {})
        assert not state.is_error, text_of(state)
        assert state.structured_content["session_id"] == case.sid


async def _run_case(emu: Emulator, tmp: Path, tool: str, fault: str, mode: str) -> None:
    case = Case(emu, tool, fault, EXPECTED[tool][fault])
    emu.reset()
    fast_emulator(emu)
    # room for a loaded machine where timing matters: the error frame must come before the edit
    # would apply, and the render must outlast the injection of a poll fault
    if fault == "stream error frame":
        emu.config.edit_seconds = 1.0
    if tool == "get_export_status":
        emu.config.render_seconds = 1.0
    if tool == "cancel":
        emu.config.render_seconds = 20.0  # still running when it is cancelled
    settings = settings_for(emu, tmp)
    async with connect(settings, mode) as c:
        await _setup(c, case, tmp)
        for f in faults_for(tool, fault, stall=outlasting(settings)):
            emu.inject(f)
        result = await _call(c, case, tmp)
        _check_outcome(case, result)
        _check_nothing_lost(case)
        await _check_handles(c, case)
    assert emu.faults == [], f"fault not reached: {emu.faults}"


def _explain(exc: BaseException) -> str:
    """The innermost errors (task groups wrap them) with their last frames."""
    if isinstance(exc, BaseExceptionGroup):
        return "\n".join(_explain(e) for e in exc.exceptions)
    return "".join(traceback.format_exception(exc, limit=-2))


@pytest.mark.parametrize("tool", TOOLS)
async def test_every_fault_on(
    tool: str, pool: list[Emulator], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The tool's cases run side by side, each on an emulator of its own; all failures are reported."""
    failures: dict[tuple[str, str], str] = {}
    passed: list[tuple[str, str]] = []
    free = list(pool)
    lanes = anyio.Semaphore(len(pool))

    async def run(n: int, fault: str) -> None:
        async with lanes:
            emu = free.pop()
            try:
                with anyio.fail_after(60):  # a hang guard; a stall case waits out a 5 s timeout
                    await _run_case(emu, tmp_path / str(n), tool, fault, "legacy" if n % 2 else "auto")
            except Exception as exc:
                failures[(tool, fault)] = _explain(exc)
            else:
                passed.append((tool, fault))
            finally:
                free.append(emu)

    async with anyio.create_task_group() as tg:
        for n, (name, fault) in enumerate(CASES):  # the protocol mode alternates over the whole matrix
            if name == tool:
                tg.start_soon(run, n, fault)
    assert not failures, "\n\n".join(f"--- {tool} x {fault}:\n{tb}" for (tool, fault), tb in failures.items())
    outcomes = Counter(e.kind for e in EXPECTED[tool].values())
    summary = (
        f"fault matrix, {tool}: {len(EXPECTED[tool])} faults; expected outcomes: {outcomes['ok']} success "
        f"(after retry/recovery), {outcomes['error']} readable ToolError, {outcomes['failed']} failed turn; "
        f"passed: {len(passed)}"
    )
    print(summary)
    request.node.user_properties.append(("fault_matrix", summary))


async def test_matrix_covers_every_tool_and_every_fault(tmp_path: Path) -> None:
    """The matrix is checked against what exists, not against itself: the tools the server lists,
    the fault kinds and the error codes the emulator can produce."""
    async with connect(settings_for("http://127.0.0.1:1", tmp_path)) as c:
        served = {t.name for t in (await c.list_tools()).tools}
    assert set(TOOLS) | LOCAL_TOOLS == served, "a tool without fault cases, or cases for a tool that is gone"
    assert not set(TOOLS) & LOCAL_TOOLS
    pairs = {(tool, fault) for tool in TOOLS for fault in applicable(tool)}
    assert set(CASES) == pairs, "an applicable fault without an expected outcome, or the reverse"
    injected = [f for tool, fault in CASES for f in faults_for(tool, fault)]
    kinds = {f.kind for f in injected}
    assert kinds | set(NOT_IN_MATRIX) == set(get_args(FaultKind)), "a fault kind neither injected nor excused"
    assert not kinds & set(NOT_IN_MATRIX)
    codes = {int(f["code"]) for f in injected if f.kind == "envelope"}
    assert codes | set(CODES_ELSEWHERE) == set(ENVELOPE_MESSAGES), "a backend error code never answered with"
    for tool, fault in CASES:  # every fault lands on the endpoint the tool depends on
        path, method = TARGET[tool]
        for f in faults_for(tool, fault):
            assert f.method in (method, None), (tool, fault, f)
            if (tool, fault) != ("export_video", "1002"):  # the session is found lost reading its state
                assert path.startswith(f.path), (tool, fault, f)


async def test_local_tools_need_no_nemovideo(tmp_path: Path) -> None:
    """prepare_media and view_frames work with NemoVideo unreachable (a port that refuses every
    connection): no backend fault can reach them, which is why the matrix has no cases for them."""
    (tmp_path / "media").mkdir()
    clip = make_video(tmp_path / "media" / "street.mp4", seconds=1.0)
    with refused_port() as port:
        async with connect(settings_for(f"http://127.0.0.1:{port}", tmp_path)) as c:
            frames = await c.call_tool("view_frames", {"path": str(clip.path), "at_seconds": [0.5]})
            prepared = await c.call_tool(
                "prepare_media", {"path": str(clip.path), "max_height": 64, "wait_seconds": 60}
            )
            credits = await c.call_tool("check_credits", {})
    assert not frames.is_error, text_of(frames)
    assert [b.type for b in frames.content].count("image") == 1
    assert not prepared.is_error, text_of(prepared)
    assert prepared.structured_content["status"] == "completed", text_of(prepared)
    assert prepared.structured_content["output"]["height"] == 64
    assert credits.is_error  # the same server does need NemoVideo for the rest
    assert "Could not reach NemoVideo" in text_of(credits)
