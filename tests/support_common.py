"""What every test helper module shares: small real media files of any size, the skills loaded
once, a tool result's text, and uvicorn serving an ASGI app in a thread on a pre-bound port."""

from __future__ import annotations

import io
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import uvicorn

from nemo_video_mcp.http_transport import uvicorn_config
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
