"""Load: 20 sessions edit and export at once over the Streamable HTTP transport, with seeded random
backend faults. Every call completes or fails with a readable message, no message runs twice, and
nothing leaks: file descriptors, sockets, threads and the server's asyncio tasks come back to where
they were, and memory stays bounded."""

from __future__ import annotations

import asyncio
import gc
import os
import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import psutil
import pytest

from nemo_video_mcp.app import create_server
from nemo_video_mcp.emulator import Emulator, Fault
from nemo_video_mcp.http_transport import build_app
from reliability_support import RUN, fast_emulator, is_crash
from support_common import connect, make_media, serve_in_thread, settings_for, skills, text_of, wait_until

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SESSIONS = 20
SEED = 20261120
STATIC_TOKEN = "nmv_test_static"  # the emulator's registered user (EmulatorConfig.static_tokens)
RSS_GROWTH_LIMIT = 200 * 1024 * 1024


def _fault_pool() -> list[Fault]:
    """Faults a real backend throws under load; a seeded sample of them is injected."""
    state, render = "/api/state/", "/api/render/proxy/lambda"
    return [
        Fault("http", path=state, method="GET", status=503),
        Fault("http", path=state, method="GET", status=502, times=2),
        Fault("http", path=RUN, method="POST", status=429, retry_after=0.1),
        Fault("http", path="/api/upload-video/", method="POST", status=500),
        Fault("reset", path=render + "/", method="GET", times=2),
        Fault("reset", path=state, method="GET"),
        Fault("delay", path="/api/upload-video/", method="POST", seconds=0.3, times=3),
        Fault("sse_drop", after_events=1, times=2),
        Fault("sse_silent", times=3),
        Fault("sse_error", variant="details", message="model overloaded"),
        Fault("render_fail", error="render failed: out of memory"),
        Fault("http", path=render, method="POST", status=503),
        Fault("envelope", path=state, method="GET", code=4002),  # nonsense from the backend
    ]


@dataclass
class Served:
    port: int
    loop: asyncio.AbstractEventLoop | None = None
    app: Any = None

    def tasks(self) -> int:
        """The number of asyncio tasks alive in the server's event loop."""
        assert self.loop is not None

        async def count() -> int:
            return len(asyncio.all_tasks())

        return asyncio.run_coroutine_threadsafe(count(), self.loop).result(10)


@contextmanager
def serving(settings: Any) -> Iterator[Served]:
    """The real server over Streamable HTTP, uvicorn in a thread, on a port bound beforehand."""
    served = Served(0)

    def make_app(port: int) -> Any:
        served.port = port
        inner = build_app(create_server(settings, skills=skills()), settings, host="127.0.0.1", port=port)

        async def app(scope: Any, receive: Any, send: Any) -> None:
            served.loop = asyncio.get_running_loop()
            await inner(scope, receive, send)

        return app

    with serve_in_thread(make_app, stop_seconds=15):
        yield served


def _fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@dataclass
class Tally:
    outcomes: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def failed(self) -> int:
        return sum(n for label, n in self.outcomes.items() if label.endswith((": error", ": failed")))

    def count(self, label: str) -> int:
        return self.outcomes[label]

    def see(self, tool: str, result: Any) -> dict[str, Any]:
        text = text_of(result)
        if result.is_error:
            if is_crash(text) or len(text) < len(f"Error executing tool {tool}: ") + 15:
                self.problems.append(f"{tool}: {text!r}")
            self.outcomes[f"{tool}: error"] += 1
            return {}
        out: dict[str, Any] = result.structured_content
        self.outcomes[f"{tool}: {out.get('status', 'ok')}"] += 1
        return out


async def _one_session(url: str, sid: str, clip: Path, tally: Tally) -> None:
    async with connect(url, "auto", read_timeout_seconds=30) as c:
        tally.see(
            "upload_media", await c.call_tool("upload_media", {"paths": [str(clip)], "session_id": sid})
        )
        edit = tally.see(
            "send_edit", await c.call_tool("send_edit", {"instruction": "add music", "session_id": sid})
        )
        if edit.get("status") == "running":
            tally.see("get_edit_result", await c.call_tool("get_edit_result", {"turn_id": edit["turn_id"]}))
        tally.see("get_state", await c.call_tool("get_state", {"session_id": sid}))
        export = tally.see("export_video", await c.call_tool("export_video", {"session_id": sid}))
        if export.get("status") in ("pending", "processing", "downloading"):
            render = {"render_id": export["render_id"], "wait_seconds": 10}
            tally.see("get_export_status", await c.call_tool("get_export_status", render))


def _backend_sessions(url: str, n: int) -> list[str]:
    """Sessions made on the backend by the same user elsewhere (this server adopts them by id)."""
    with httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {STATIC_TOKEN}"}) as http:
        return [
            http.post("/api/tasks/me/with-session/nemo_agent", json={"task_name": "load"}).json()["data"][
                "session_id"
            ]
            for _ in range(n)
        ]


async def test_twenty_sessions_at_once_over_http(emulator: Emulator, tmp_path: Path) -> None:
    fast_emulator(emulator)
    emulator.config.render_seconds = 0.5
    settings = settings_for(
        emulator,
        tmp_path,
        {"NEMO_TOKEN": STATIC_TOKEN, "NEMO_READ_TIMEOUT": "5", "NEMO_STREAM_STALL_SECONDS": "5"},
    )
    clip = make_media(tmp_path / "media", size=64 * 1024)
    sids = _backend_sessions(emulator.url, SESSIONS)
    rng = random.Random(SEED)
    injected = rng.sample(_fault_pool(), 9)
    process = psutil.Process()
    gc.collect()
    fds, threads, rss = _fds(), threading.active_count(), process.memory_info().rss
    own_tasks = len(asyncio.all_tasks())  # this test's event loop (the clients' side)

    with serving(settings) as served:
        url = f"http://127.0.0.1:{served.port}/mcp"
        async with connect(url, "auto") as warm:  # the workspace opens with the first connection's lifespan
            assert not (await warm.call_tool("check_credits", {})).is_error
        idle_tasks = served.tasks()
        for fault in injected:
            emulator.inject(fault)
        tally = Tally()
        with anyio.fail_after(90):
            async with anyio.create_task_group() as tg:
                for sid in sids:
                    tg.start_soon(_one_session, url, sid, clip, tally)
        assert not tally.problems, tally.problems
        # background work is over and the clients are gone: the server's tasks are back to idle
        await wait_until(lambda: served.tasks() <= idle_tasks, what=lambda: (served.tasks(), idle_tasks))
        await wait_until(lambda: len(asyncio.all_tasks()) <= own_tasks, what=asyncio.all_tasks)
        peak_fds = _fds()

    assert sum(tally.outcomes.values()) >= SESSIONS * 4  # upload, edit, state, export (+ waits)
    # Every call works but those an injected fault broke: each use of a fault fails one call at
    # most, plus the export of a session whose upload failed (nothing on its timeline to export).
    budget = sum(f.times for f in injected) + tally.count("upload_media: error")
    assert tally.failed() <= budget < sum(tally.outcomes.values()) // 4, (budget, tally.outcomes)
    for sid in sids:
        assert len(emulator.sessions[sid].messages) <= 1, "a message ran twice"
        assert emulator.sessions[sid].max_active_runs <= 1
    assert all(r.submits == 1 for r in emulator.renders.values())
    assert len(emulator.requests_to(RUN, "POST")) <= SESSIONS + 1  # + the one refused with 429
    # nothing leaks once the server has stopped
    gc.collect()
    await wait_until(
        lambda: _fds() <= fds + 2, what=lambda: f"fds: {fds} before, {_fds()} after (peak {peak_fds})"
    )
    await wait_until(lambda: threading.active_count() <= threads + 1, what=threading.enumerate)
    growth = process.memory_info().rss - rss
    assert growth < RSS_GROWTH_LIMIT, f"RSS grew by {growth / 2**20:.0f} MB"
    print(
        f"load: {SESSIONS} sessions over HTTP, faults {[f.kind for f in injected]}; outcomes "
        f"{dict(sorted(tally.outcomes.items()))}; fds {fds}->{peak_fds}->{_fds()}; "
        f"RSS +{growth / 2**20:.0f} MB"
    )
