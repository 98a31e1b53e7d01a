"""Every tool call returns within its wait budget (issue 14 §3), through `mcp.Client` in both
protocol modes, against an emulator that accepts a request, reads it and never answers (`hang`).

The read timeout is ten minutes, so a call that waited for NemoVideo's answer (as every one of these
did before the call budget existed: 1 try + retries, each a full read timeout) is stopped by
pytest's timeout (120 s) instead of passing. Nothing here measures time. Each case checks what
the call returns: a readable "not answering" error that counts its tries (as many as the requests
the backend received, or more when a connection could not even be opened in time on a loaded
machine: such a try is retried and counted, and never arrives), or the handle of work
that may have started (an export already sent stays a render to poll, an edit already sent stays a
running turn); and that nothing ran twice. With a short read timeout, every configured retry
happens inside the budget and is counted.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from nemo_video_mcp.emulator import Emulator, Fault
from reliability_support import RENDER, RUN, STATE, UPLOAD, fast_emulator, is_crash, posts
from support_common import connect, make_media, settings_for, text_of

pytestmark = pytest.mark.anyio

ANON = "/api/auth/anonymous-token"
CREDITS = "/api/credits/"
# NemoVideo never answers a hung request; the call's budget must end it long before this
HANG = {
    "NEMO_WAIT_SECONDS": "2",
    "NEMO_CONNECT_TIMEOUT": "5",
    "NEMO_READ_TIMEOUT": "600",
    "NEMO_MAX_RETRIES": "3",
    "NEMO_STREAM_STALL_SECONDS": "600",
}
_TRIED = re.compile(r"\(tried (\d+) times? in [\d.]+ s\)")


def not_answering(result: Any, emu: Emulator, path: str, before: int = 0) -> tuple[str, int]:
    """The error text of a call NemoVideo did not answer (readable, never a crash) and the tries it
    counts: the backend received at least one request to `path` (`before` were there already) and
    no more than the tries (a try whose connection never opened is counted but never arrives)."""
    text = text_of(result)
    assert result.is_error, text
    assert not is_crash(text), text
    assert "not answering" in text, text
    match = _TRIED.search(text)
    assert match, text
    tries = int(match.group(1))
    assert 1 <= len(emu.requests_to(path)) - before <= tries, text
    return text, tries


async def uploaded(c: Client, tmp: Path) -> str:
    up = await c.call_tool("upload_media", {"paths": [str(make_media(tmp / "media"))]})
    assert not up.is_error, text_of(up)
    return str(up.structured_content["session_id"])


# ---- the cases: each starts a server on its own emulator, sets up, hangs one endpoint, calls ----


async def credits_hang(c: Client, emu: Emulator, tmp: Path) -> None:
    emu.inject(Fault("hang", path=CREDITS, times=10))
    not_answering(await c.call_tool("check_credits", {}), emu, CREDITS)


async def state_hang(c: Client, emu: Emulator, tmp: Path) -> None:
    await uploaded(c, tmp)
    reads = len(emu.requests_to(STATE))
    emu.inject(Fault("hang", path=STATE, times=10))
    not_answering(await c.call_tool("get_state", {}), emu, STATE, reads)


async def edit_read_hang(c: Client, emu: Emulator, tmp: Path) -> None:
    """The read of the timeline before an edit hangs: nothing is sent, the call says why."""
    sid = await uploaded(c, tmp)
    reads = len(emu.requests_to(STATE))
    emu.inject(Fault("hang", path=STATE, times=10))
    sent = await c.call_tool("send_edit", {"instruction": "add music", "wait_seconds": 1})
    not_answering(sent, emu, STATE, reads)
    assert posts(emu, RUN) == 0
    assert emu.sessions[sid].messages == []


async def edit_run_hang(c: Client, emu: Emulator, tmp: Path) -> None:
    """The edit was sent and NemoVideo never answers: the call returns the running turn, which
    stays running (it may apply), never failed, and is never sent again."""
    await uploaded(c, tmp)
    emu.inject(Fault("hang", path=RUN, times=10))
    sent = await c.call_tool("send_edit", {"instruction": "add music", "wait_seconds": 1})
    assert not sent.is_error, text_of(sent)
    assert sent.structured_content["status"] == "running"
    turn = sent.structured_content["turn_id"]
    again = await c.call_tool("get_edit_result", {"turn_id": turn, "wait_seconds": 1})
    assert not again.is_error, text_of(again)
    assert again.structured_content["status"] == "running"
    assert posts(emu, RUN) == 1


async def export_submit_hang(c: Client, emu: Emulator, tmp: Path) -> None:
    """The export was sent and NemoVideo never answers: the error keeps the render's handle."""
    await uploaded(c, tmp)
    emu.inject(Fault("hang", path=RENDER, method="POST", times=10))
    text, _ = not_answering(await c.call_tool("export_video", {"wait_seconds": 1}), emu, RENDER)
    assert "may have started anyway" in text
    assert "get_export_status(render_id='render_" in text
    ids = {r.json["id"] for r in emu.requests_to(RENDER, "POST")}
    assert len(ids) == 1  # one render id, never a second export


async def export_read_hang(c: Client, emu: Emulator, tmp: Path) -> None:
    await uploaded(c, tmp)
    reads = len(emu.requests_to(STATE))
    emu.inject(Fault("hang", path=STATE, times=10))
    not_answering(await c.call_tool("export_video", {"wait_seconds": 1}), emu, STATE, reads)
    assert posts(emu, RENDER) == 0


async def token_hang(c: Client, emu: Emulator, tmp: Path) -> None:
    """The very first call also fetches the anonymous token: that request is bounded too."""
    emu.inject(Fault("hang", path=ANON, times=10))
    not_answering(await c.call_tool("check_credits", {}), emu, ANON)
    assert emu.requests_to(CREDITS) == []


async def upload_hang(c: Client, emu: Emulator, tmp: Path) -> None:
    """An upload sent and never answered stays a running upload with its handle."""
    sid = await uploaded(c, tmp)
    emu.inject(Fault("hang", path=UPLOAD, times=10))
    up = await c.call_tool("upload_media", {"paths": [str(make_media(tmp / "media", "second.mp4"))]})
    assert not up.is_error, text_of(up)
    assert up.structured_content["status"] == "running"
    assert up.structured_content["session_id"] == sid
    assert posts(emu, UPLOAD) == 2


async def retries_as_configured(c: Client, emu: Emulator, tmp: Path) -> None:
    """With a short read timeout the configured retries all happen inside the budget, and the
    error says how many tries were made (1 + NEMO_MAX_RETRIES)."""
    emu.inject(Fault("hang", path=CREDITS, times=10))
    _, tries = not_answering(await c.call_tool("check_credits", {}), emu, CREDITS)
    assert tries == 3


Case = Callable[[Client, Emulator, Path], Awaitable[None]]
CASES: dict[str, tuple[Case, dict[str, str]]] = {
    "check_credits, credits hang": (credits_hang, HANG),
    "get_state, state hang": (state_hang, HANG),
    "send_edit, the read before it hangs": (edit_read_hang, HANG),
    "send_edit, the run hangs": (edit_run_hang, HANG),
    "export_video, the submit hangs": (export_submit_hang, HANG),
    "export_video, the read before it hangs": (export_read_hang, HANG),
    "check_credits, the anonymous token hangs": (token_hang, HANG),
    "upload_media, the upload hangs": (upload_hang, HANG),
    "check_credits, every try times out": (
        retries_as_configured,
        {**HANG, "NEMO_READ_TIMEOUT": "0.5", "NEMO_MAX_RETRIES": "2"},
    ),
}
RUNS = [(name, mode) for name in CASES for mode in ("legacy", "auto")]


@pytest.fixture(scope="module")
def pool() -> Iterator[list[Emulator]]:
    with ExitStack() as stack:
        yield [fast_emulator(stack.enter_context(Emulator())) for _ in RUNS]


async def test_no_call_outlives_its_budget_when_nemovideo_never_answers(
    pool: list[Emulator], tmp_path: Path
) -> None:
    """The cases run side by side (each waits for its own budget), all failures reported."""
    failures: dict[tuple[str, str], str] = {}

    async def run(n: int, name: str, mode: str) -> None:
        case, env = CASES[name]
        emu, tmp = pool[n], tmp_path / str(n)
        try:
            async with connect(settings_for(emu.url, tmp, env), mode) as c:
                await case(c, emu, tmp)
            assert emu.faults == [] or all(f.used for f in emu.faults), "the hang was never reached"
        except Exception as exc:
            failures[(name, mode)] = "".join(traceback.format_exception(exc, limit=-3))

    async with anyio.create_task_group() as tg:
        for n, (name, mode) in enumerate(RUNS):
            tg.start_soon(run, n, name, mode)
    assert not failures, "\n\n".join(f"--- {name} ({mode}):\n{tb}" for (name, mode), tb in failures.items())
