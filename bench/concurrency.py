"""50 concurrent MCP sessions over the server's Streamable HTTP transport. Every session is opened
first (initialize); then, all at once, each runs an edit (`send_edit`, waited to completion) and a
state read (`get_state`) on its own NemoVideo session. Latency = send_edit sent to get_state
answered. Baseline: one session alone, the same calls. Also reported: the server's CPU per session,
the emulator's own ceiling (the same edits and state reads sent to it directly), and the SDK's floor
(the same calls to an empty MCPServer served the same way, `sdk_floor_server.py`).

The target is judged with the contract's shortest edit (10 s: "Edits 10-30 s"); 2 s and 0.2 s
(the emulator's default, a stress test) are reported beside it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import psutil

from .common import PY, ROOT, STATIC_TOKEN, Figure, Results, base_env, median, now, quartiles
from .mcp_http import HttpMCP, RawConnection
from .procs import EmulatorProcess
from .server_proc import SERVER

N = 50
TARGET = 1.5
REAL_EDIT = 10.0  # ../shared/backend-api.md (the backend contract): "Edits 10-30 s"
STRESS_EDIT = 0.2  # the emulator's default edit
SERVER_ARGS = [SERVER, "--transport", "http", "--port", "{port}"]
INSTRUCTION = 'add a title "Bench"'
Ready = Callable[[], Awaitable[None]]
Job = Callable[[str, Ready], Awaitable[float]]  # job(session, ready): set up, await ready(), timed part


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def http_server(args: list[str], env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """`args` (with "{port}" for a free loopback port) serving MCP at /mcp: (MCP URL, pid)."""
    port = free_port()
    with log.open("ab") as err:
        argv = [a.replace("{port}", str(port)) for a in args]
        proc = subprocess.Popen(argv, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    try:
        deadline = now() + 30
        while now() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"the HTTP server exited ({proc.returncode}); see {log}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp", proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def through_server(url: str) -> Job:
    async def job(sid: str, ready: Ready) -> float:
        mcp = HttpMCP(url)
        try:
            await mcp.initialize()
            await ready()
            t0 = now()
            edit = await mcp.call("send_edit", {"instruction": INSTRUCTION, "session_id": sid})
            status = (edit.get("structuredContent") or {}).get("status")
            if status != "completed":
                raise RuntimeError(f"send_edit ended {status!r}")
            await mcp.call("get_state", {"session_id": sid})
            return now() - t0
        finally:
            await mcp.close()

    return job


def direct(emulator_url: str) -> Job:
    headers = {"Authorization": f"Bearer {STATIC_TOKEN}", "Content-Type": "application/json"}
    headers.update({"X-Skill-Source": "video-json-ai", "X-Skill-Version": "1", "X-Skill-Platform": "unknown"})

    async def job(sid: str, ready: Ready) -> float:
        message = {"role": "user", "parts": [{"text": INSTRUCTION}]}
        body = {"app_name": "nemo_agent", "user_id": "me", "session_id": sid, "new_message": message}
        conn = RawConnection(emulator_url)
        try:
            await ready()
            t0 = now()
            edit = await conn.request("POST", "/run_sse", headers, json.dumps(body).encode())
            state = await conn.request("GET", f"/api/state/nemo_agent/me/{sid}/latest", headers)
            if edit.status != 200 or state.status != 200 or b"data:" not in edit.body:
                raise RuntimeError(f"HTTP {edit.status} / {state.status}")
            return now() - t0
        finally:
            await conn.close()

    return job


async def _batch(job: Job, sids: list[str]) -> tuple[list[float], list[str], float]:
    """Run `job` for every session; the timed parts start together once all are set up."""
    arrived = 0
    go = asyncio.Event()
    started: list[float] = []

    def arrive() -> None:
        nonlocal arrived
        arrived += 1
        if arrived == len(sids):
            started.append(now())
            go.set()

    async def one(sid: str) -> float | str:
        waited = False

        async def ready() -> None:
            nonlocal waited
            waited = True
            arrive()
            await go.wait()

        try:
            return await asyncio.wait_for(job(sid, ready), 120)
        except Exception as exc:
            if not waited:
                arrive()
            return f"{type(exc).__name__}: {exc}"[:300]

    outcomes = await asyncio.gather(*(one(s) for s in sids))
    wall = now() - (started[0] if started else now())
    return [o for o in outcomes if isinstance(o, float)], [o for o in outcomes if isinstance(o, str)], wall


@contextlib.contextmanager
def cpu_of(pid: int | None, into: list[float]) -> Iterator[None]:
    proc = psutil.Process(pid) if pid else None
    before = sum(proc.cpu_times()[:2]) if proc else 0.0
    yield
    if proc:
        into.append(sum(proc.cpu_times()[:2]) - before)


def measure(
    job: Job, sids: list[str], rounds: int, pid: int | None = None, alone: int = 5
) -> dict[str, list]:
    """Alone and together latencies, errors, wall times of the concurrent batches, server CPU."""
    asyncio.run(_batch(job, sids[:2]))  # warm up
    got: dict[str, list] = {"alone": [], "together": [], "errors": [], "walls": [], "cpu": []}
    for i in range(rounds):
        for turn in (0, 1) if i % 2 == 0 else (1, 0):
            if turn == 0:
                for sid in sids[:alone]:
                    lat, err, _ = asyncio.run(_batch(job, [sid]))
                    got["alone"] += lat
                    got["errors"] += err
            else:
                with cpu_of(pid, got["cpu"]):
                    lat, err, wall = asyncio.run(_batch(job, sids))
                got["together"] += lat
                got["errors"] += err
                got["walls"].append(wall)
    return got


def _ms(values: list[float]) -> str:
    lo, hi = quartiles(values)
    return f"p50 {median(values) * 1000:.0f} ms (IQR {lo * 1000:.0f}-{hi * 1000:.0f})"


def _server_figure(name: str, s: dict[str, list], target: str | None = None) -> Figure:
    """A figure from `measure`; `target` None: informative (the 1.5x is shown for comparison)."""
    ratio = median(s["together"]) / median(s["alone"])
    cpu_ms = median(s["cpu"]) / N * 1000
    for e in sorted(set(s["errors"]))[:5]:
        print(f"  error: {e}")
    return Figure(
        name,
        _ms(s["alone"]),
        _ms(s["together"]),
        f"{ratio:.2f}x; {len(s['errors'])} errors; server CPU {cpu_ms:.1f} ms/session",
        target or f"(informative; <= {TARGET}x)",
        (ratio <= TARGET and not s["errors"]) if target else None,
    )


def stress(results: Results, work: Path, rounds: int) -> None:
    """0.2 s edits: the emulator's own ceiling, the SDK's floor, and this server (all informative)."""
    edit_seconds = STRESS_EDIT
    with EmulatorProcess(edit_seconds=edit_seconds) as emu:
        sids = [emu.new_session() for _ in range(N)]
        d = measure(direct(emu.url), sids, rounds)
        ratio = median(d["together"]) / median(d["alone"])
        results.add(
            Figure(
                f"emulator ceiling: {N} concurrent edits + state reads, direct, edits of {edit_seconds:g} s",
                _ms(d["alone"]),
                _ms(d["together"]),
                f"{ratio:.2f}x; {N / median(d['walls']):.0f} edits/s",
                "(informative)",
                None,
                f"{len(d['errors'])} errors",
            )
        )
        floor_args = [PY, "-m", "bench.sdk_floor_server", "{port}", str(edit_seconds)]
        with http_server(floor_args, base_env(work, emu.url), work / "sdk-floor.log") as (url, pid):
            f = measure(through_server(url), sids, rounds, pid)
        results.add(
            _server_figure(
                f"SDK floor: {N} concurrent sessions over Streamable HTTP on an empty MCPServer whose "
                f"send_edit sleeps {edit_seconds:g} s (no backend, no store)",
                f,
            )
        )
        with http_server(SERVER_ARGS, base_env(work, emu.url), work / "http-server.log") as (url, pid):
            s = measure(through_server(url), sids, rounds, pid)
    results.add(
        _server_figure(
            f"{N} concurrent sessions over Streamable HTTP, edit + state read, edits of {edit_seconds:g} s "
            "(stress: 50-150 times shorter than a real edit)",
            s,
        )
    )


def one_setting(
    results: Results, work: Path, rounds: int, edit_seconds: float, *, alone: int, target: str | None
) -> None:
    with EmulatorProcess(edit_seconds=edit_seconds) as emu:
        sids = [emu.new_session() for _ in range(N)]
        with http_server(SERVER_ARGS, base_env(work, emu.url), work / "http-server.log") as (url, pid):
            s = measure(through_server(url), sids, rounds, pid, alone=alone)
    name = f"{N} concurrent sessions over Streamable HTTP, edit + state read, edits of {edit_seconds:g} s"
    results.add(_server_figure(name, s, target))


def run(results: Results, work: Path, rounds: int = 5) -> None:
    # The contract: "Edits 10-30 s". The headline uses its shortest edit; 2 s and 0.2 s show how the
    # fixed per-session cost grows into the ratio as edits get shorter (0.2 s is a stress test).
    stress(results, work, rounds)
    one_setting(results, work, max(2, rounds // 2), 2.0, alone=5, target=None)
    real_rounds = 2 if rounds >= 4 else 1
    one_setting(results, work, real_rounds, REAL_EDIT, alone=3, target=f"<= {TARGET}x, no errors")
