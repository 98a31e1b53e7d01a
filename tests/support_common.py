"""What every test shares. Use these rather than writing another copy:

- `settings_for(emulator_or_url, tmp, env)`: the one way tests build `Settings` (state, output and
  media under `tmp`, timeouts derived from the emulator's own timing, see `patience`);
- `connect(target, mode)`: an `mcp.Client` on the real server, in memory (given `Settings`) or over
  a transport (a URL, `StdioServerParameters`, a transport object);
- `wait_until(predicate, ...)`: wait for something another thread or process does (the emulator,
  a server), polling, with a deadline that only catches a hang;
- `refused_port()`: a local port on which connections are refused, held for the test;
- small real media files (H.264 MP4 made with PyAV, padded to any size), the skills loaded once,
  a tool result's text, and uvicorn serving an ASGI app in a thread on a pre-bound port.
"""

from __future__ import annotations

import inspect
import io
import shutil
import socket
import struct
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import anyio
import av
import psutil
import uvicorn
from mcp import Client

from nemo_video_mcp.app import create_server
from nemo_video_mcp.emulator import Emulator, EmulatorConfig
from nemo_video_mcp.http_transport import uvicorn_config
from nemo_video_mcp.settings import WAIT_CEILING_SECONDS, Settings
from nemo_video_mcp.skills import SkillRegistry

# an ISO base media file header (what the media policy's magic-byte check looks for)
MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
_SKILLS: list[SkillRegistry] = []
_TINY: list[bytes] = []


def skills() -> SkillRegistry:
    """The packaged skills, loaded once for the whole run (platform pinned for stable headers)."""
    if not _SKILLS:
        _SKILLS.append(SkillRegistry.load(platform_override="cursor"))
    return _SKILLS[0]


def tiny_mp4() -> bytes:
    """A real MP4 (H.264, 32x18, 4 frames at 4 fps, no sound) of about 1.5 KB, made once."""
    if not _TINY:
        buffer = io.BytesIO()
        with av.open(buffer, "w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=4, options={"preset": "ultrafast"})
            stream.width, stream.height, stream.pix_fmt = 32, 18, "yuv420p"
            for i in range(4):
                frame = av.VideoFrame(32, 18, "yuv420p")
                for plane in frame.planes:
                    plane.update(bytes([(60 * i) % 256]) * plane.buffer_size)
                frame.pts, frame.time_base = i, Fraction(1, 4)
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        _TINY.append(buffer.getvalue())
    return _TINY[0]


def make_media(root: Path, name: str = "clip.mp4", size: int = 4096) -> Path:
    """A real, decodable MP4 of exactly `size` bytes: `tiny_mp4()` then a `free` box (padding
    every MP4 reader skips), so the probe before an upload accepts it at any size."""
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    head = tiny_mp4()
    pad = size - len(head)
    assert pad >= 8, f"make_media needs at least {len(head) + 8} bytes"
    path.write_bytes(head + struct.pack(">I", pad) + b"free" + bytes(pad - 8))
    return path


def server_for(settings: Settings) -> Any:
    """The real server built in memory from `settings` (the skills loaded once)."""
    return create_server(settings, skills=skills())


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


@contextmanager
def serve_in_thread(make_app: Callable[[int], Any], *, stop_seconds: float = 10) -> Iterator[int]:
    """uvicorn in a thread on a 127.0.0.1 port bound before the app is built; yields the port and
    checks on the way out that the server really stopped."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn_config(make_app(port), host="127.0.0.1", port=port))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        assert server.started, "uvicorn did not start"
        yield port
    finally:
        server.should_exit = True
        thread.join(stop_seconds)
        sock.close()
        assert not thread.is_alive(), "the HTTP server did not stop"


# ---- settings -----------------------------------------------------------------------------------

# A busy 2-core machine (the suite runs on several workers at once) can hold a healthy answer back
# by a second or more, so a client timeout is never shorter than PATIENCE_FLOOR; above that it is
# PATIENCE_FACTOR times the longest silence the emulator itself plans (a heartbeat gap, an edit).
PATIENCE_FLOOR = 5.0
PATIENCE_FACTOR = 10
# A tool call waits WAIT_FACTOR times that by default, so that work which outlives one timeout (a
# stall, then the recovery) still finishes within the call on a busy machine.
WAIT_FACTOR = 3
_DEFAULT_RENDER_SECONDS = EmulatorConfig().render_seconds
SHORT_RENDER_SECONDS = 0.3


def patience(config: EmulatorConfig | None = None) -> float:
    """How long a client waits on a silent emulator before it calls the read or the stream stalled:
    long enough that only an injected stall or delay (make those longer than this) ever trips it."""
    if config is None:
        return PATIENCE_FLOOR
    planned = max(config.heartbeat_seconds, config.edit_seconds)
    return max(PATIENCE_FLOOR, PATIENCE_FACTOR * planned)


def outlasting(settings: Settings) -> float:
    """How long an injected `delay` or `sse_stall` must last to trip the client's read or stream
    timeout in `settings` (a test that wants a timeout waits for the timeout, not for the fault)."""
    return 2 * max(settings.read_timeout, settings.stream_stall_seconds)


def settings_for(backend: Emulator | str, tmp: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Settings for a server or client on `backend` (an emulator, or a URL): state in `tmp/state`,
    downloads in `tmp/out`, media accepted from `tmp/media`, home `tmp`; short polls; the read and
    stream-stall timeouts from `patience` (of the emulator's config, or the floor for a URL), a tool
    call's default wait WAIT_FACTOR times that (at most the ceiling Settings allows).
    `env` overrides any of it. Given an emulator whose renders still take the default 1 s, it
    shortens them to SHORT_RENDER_SECONDS (the tool tests wait for renders)."""
    if isinstance(backend, Emulator):
        if backend.config.render_seconds == _DEFAULT_RENDER_SECONDS:
            backend.config.render_seconds = SHORT_RENDER_SECONDS
        url, wait = backend.url, patience(backend.config)
    else:
        url, wait = backend, patience()
    base = {
        "NEMO_API_URL": url,
        "NEMO_STATE_DIR": str(tmp / "state"),
        "NEMO_OUTPUT_DIR": str(tmp / "out"),
        "NEMO_MEDIA_ROOTS": str(tmp / "media"),
        "NEMO_LANGUAGE": "en",
        "NEMO_WAIT_SECONDS": str(min(WAIT_FACTOR * wait, WAIT_CEILING_SECONDS)),
        "NEMO_CONNECT_TIMEOUT": "2",
        "NEMO_READ_TIMEOUT": str(wait),
        "NEMO_RETRY_AFTER_SECONDS": "1",
        "NEMO_MAX_RETRIES": "1",
        "NEMO_POLL_SECONDS": "0.05",
        "NEMO_POLL_MAX_SECONDS": "0.2",
        "NEMO_STREAM_STALL_SECONDS": str(wait),
        "NEMO_STREAM_MAX_SECONDS": "30",
        "NEMO_RECOVERY_POLL_SECONDS": "0.05",
        "NEMO_RECOVERY_MAX_UNCHANGED": "3",
    }
    return Settings.from_env({**base, **(env or {})}, home=tmp)


# ---- clients --------------------------------------------------------------------------------------


@asynccontextmanager
async def connect(target: Settings | Any, mode: str = "legacy", **client: Any) -> AsyncIterator[Client]:
    """An `mcp.Client` on the server. `Settings`: the real server built in memory from them (with
    the skills loaded once); anything else `mcp.Client` takes (a URL for Streamable HTTP,
    `StdioServerParameters`, a transport) is passed through. `mode` is the protocol mode ("legacy":
    the 2025-11-25 handshake; "auto": 2026-07-28 direct dispatch where the server offers it)."""
    server = create_server(target, skills=skills()) if isinstance(target, Settings) else target
    async with Client(server, mode=mode, **client) as session:
        yield session


# ---- waiting ----------------------------------------------------------------------------------------

WAIT_LIMIT = 30.0  # a hang guard, never a speed claim: a passing wait returns as soon as it holds
_EVERY = 0.01


async def wait_until(
    predicate: Callable[[], object],
    *,
    within: float = WAIT_LIMIT,
    what: str | Callable[[], object] | None = None,
) -> None:
    """Return as soon as `predicate()` is true (checked now and every 10 ms); fail with `what` (a
    text, or a function giving what to show, called then) or the predicate's source if it is still
    false after `within` seconds. For sync code (no event loop): `anyio.run(wait_until, predicate)`."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() >= deadline:
            shown = what() if callable(what) else what or _describe(predicate)
            raise AssertionError(f"not true after {within:g} s: {shown}")
        await anyio.sleep(_EVERY)


def _describe(predicate: Callable[[], object]) -> str:
    try:
        return inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return repr(predicate)


@contextmanager
def refused_port() -> Iterator[int]:
    """A 127.0.0.1 port that refuses connections (bound, never listening) and stays taken for the
    block, so no other test or xdist worker can start a server on it meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def server_script() -> str:
    """The `nemo-video-mcp` console script of this environment: the real process a host runs."""
    beside = Path(sys.executable).parent / (
        "nemo-video-mcp.exe" if sys.platform == "win32" else "nemo-video-mcp"
    )
    found = str(beside) if beside.is_file() else shutil.which("nemo-video-mcp")
    assert found, "the nemo-video-mcp console script is not installed (run `uv sync`)"
    return found


def server_process(state_dir: Path) -> psutil.Process:
    """The running server child of this test (found by its state folder in its environment)."""
    for child in psutil.Process().children(recursive=True):
        try:
            if child.environ().get("NEMO_STATE_DIR") == str(state_dir):
                return child
        except psutil.Error:
            continue
    raise AssertionError("the server process was not found")
