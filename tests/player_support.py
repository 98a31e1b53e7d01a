"""Helpers for the player tests: an `mcp.Client` that negotiates MCP Apps, a real short video made
with PyAV, and the upload -> edit -> export story that gives the player something to show."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

from mcp import Client
from mcp.client.extension import advertise
from mcp.server.apps import APP_MIME_TYPE, EXTENSION_ID

from nemo_video_mcp.settings import Settings
from support_common import make_media, text_of
from tools_support import server_for

PLAYER_URI = "ui://nemo-video/player"
META_KEY = "ai.nemovideo/player"
INSTRUCTION = 'add a title saying "Urban Dreams"'
CODECS = {"mp4": "libx264", "webm": "libvpx-vp9"}  # H.264 in MP4, VP9 in WebM


def apps_extension() -> Any:
    """What an Apps host advertises: the extension, with the app MIME type it renders."""
    return advertise(EXTENSION_ID, {"mimeTypes": [APP_MIME_TYPE]})


@asynccontextmanager
async def connect_apps(settings: Settings, mode: str, *, apps: bool = True) -> AsyncIterator[Client]:
    extensions = [apps_extension()] if apps else []
    async with Client(server_for(settings), mode=mode, extensions=extensions) as client:
        yield client


def make_video(
    path: Path, *, seconds: float = 3.0, width: int = 640, height: int = 360, fps: int = 24
) -> Path:
    """A real, playable video (H.264 for .mp4/.mov, VP9 for .webm): a moving colour gradient."""
    import av  # lazily, like the server does

    path.parent.mkdir(parents=True, exist_ok=True)
    codec = CODECS["webm" if path.suffix == ".webm" else "mp4"]
    options = {"movflags": "+faststart"} if path.suffix != ".webm" else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        cw, ch = width // 2, height // 2
        frames = int(seconds * fps)
        ramp = bytes(40 + (k % 512) // 3 for k in range(width + height + 6 * frames))
        for i in range(frames):
            frame = av.VideoFrame(width, height, "yuv420p")
            shift = i * 6
            frame.planes[0].update(b"".join(ramp[y + shift : y + shift + width] for y in range(height)))
            frame.planes[1].update(bytes((64 + x + shift // 2) % 256 for x in range(cw)) * ch)
            frame.planes[2].update(b"".join(bytes([(192 - y + shift // 3) % 256]) * cw for y in range(ch)))
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


async def edit_and_export(client: Client, media_dir: Path, **export_args: Any) -> tuple[Any, Any]:
    """Upload a clip, make one edit, export; returns (the edit result, the export result)."""
    up = await client.call_tool("upload_media", {"paths": [str(make_media(media_dir))]})
    assert not up.is_error, text_of(up)
    edit = await client.call_tool("send_edit", {"instruction": INSTRUCTION})
    assert not edit.is_error, text_of(edit)
    export = await client.call_tool("export_video", export_args)
    assert not export.is_error, text_of(export)
    return edit, export


def player_data(result: Any) -> dict[str, Any] | None:
    meta = result.meta or {}
    data = meta.get(META_KEY)
    return data if isinstance(data, dict) else None
