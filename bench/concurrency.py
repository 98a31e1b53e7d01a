"""50 concurrent MCP sessions over the server's Streamable HTTP transport, each an edit
(`send_edit`, waited to completion) and a state read (`get_state`) on its own NemoVideo session.
Baseline: one session alone, the same calls. Latency = send_edit sent to get_state answered.
Also the emulator's own ceiling: the same edits and state reads sent to it directly (no server)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from .common import STATIC_TOKEN, Figure, Results, base_env, median, now, quartiles
from .mcp_http import HttpMCP, RawConnection
from .procs import EmulatorProcess
from .server_proc import SERVER

N = 50
TARGET = 1.5
INSTRUCTION = 'add a title "Bench"'
Job = Callable[[str], Awaitable[float]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def http_server(env: dict[str, str], log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("ab") as err:
        proc = subprocess.Popen(
            [SERVER, "--transport", "http", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=err,
            stderr=err,
        )
    try:
        deadline = now() + 30
        while now() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if proc.poll() is not None:
                raise RuntimeError(f"the HTTP server exited ({proc.returncode}); see {log}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def through_server(url: str) -> Job:
    async def job(sid: str) -> float:
        mcp = HttpMCP(url)
        await mcp.initialize()
        try:
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
    headers = {
        "Authorization": f"Bearer {STATIC_TOKEN}",
        "X-Skill-Source": "video-json-ai",
        "X-Skill-Version": "1",
        "X-Skill-Platform": "unknown",
        "Content-Type": "application/json",
    }

    async def job(sid: str) -> float:
        body = {
            "app_name": "nemo_agent",
            "user_id": "me",
            "session_id": sid,
            "new_message": {"role": "user", "parts": [{"text": INSTRUCTION}]},
        }
        conn = RawConnection(emulator_url)
        try:
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
    t0 = now()

    async def one(sid: str) -> float | str:
        try:
            return await asyncio.wait_for(job(sid), 120)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:300]

    outcomes = await asyncio.gather(*(one(s) for s in sids))
    wall = now() - t0
    return [o for o in outcomes if isinstance(o, float)], [o for o in outcomes if isinstance(o, str)], wall


def measure(
    job: Job, sids: list[str], rounds: int
) -> tuple[list[float], list[float], list[str], list[float]]:
    """(alone latencies, concurrent latencies, errors, concurrent batch wall times)."""
    asyncio.run(_batch(job, sids[:2]))  # warm up
    alone: list[float] = []
    together: list[float] = []
    errors: list[str] = []
    walls: list[float] = []
    for i in range(rounds):
        for turn in (0, 1) if i % 2 == 0 else (1, 0):
            if turn == 0:
                for sid in sids[:5]:
                    lat, err, _ = asyncio.run(_batch(job, [sid]))
                    alone += lat
                    errors += err
            else:
                lat, err, wall = asyncio.run(_batch(job, sids))
                together += lat
                errors += err
                walls.append(wall)
    return alone, together, errors, walls


def _ms(values: list[float]) -> str:
    lo, hi = quartiles(values)
    return f"p50 {median(values) * 1000:.0f} ms (IQR {lo * 1000:.0f}-{hi * 1000:.0f})"


def run(results: Results, work: Path, rounds: int = 5) -> None:
    with EmulatorProcess() as emu:
        sids = [emu.new_session() for _ in range(N)]
        seconds = 0.2  # EmulatorConfig.edit_seconds default: the simulated agent's time per edit
        alone, together, errors, walls = measure(direct(emu.url), sids, rounds)
        rate = N / median(walls)
        ratio = median(together) / median(alone)
        results.add(
            Figure(
                f"emulator ceiling: {N} concurrent edits + state reads, direct",
                _ms(alone),
                _ms(together),
                f"{ratio:.2f}x; {rate:.0f} edits/s",
                "(informative)",
                None,
                f"edit_seconds={seconds}, {len(errors)} errors",
            )
        )
        with http_server(base_env(work, emu.url), work / "http-server.log") as url:
            alone, together, errors, walls = measure(through_server(url), sids, rounds)
    for e in sorted(set(errors))[:5]:
        print(f"  error: {e}")
    ratio = median(together) / median(alone)
    ok = ratio <= TARGET and not errors
    results.add(
        Figure(
            f"{N} concurrent sessions over Streamable HTTP, edit + state read",
            _ms(alone),
            _ms(together),
            f"{ratio:.2f}x; {N / median(walls):.0f} sessions/s, {len(errors)} errors",
            f"<= {TARGET}x, no errors",
            ok,
            f"edit_seconds={seconds}",
        )
    )
