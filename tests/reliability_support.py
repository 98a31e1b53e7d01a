"""Helpers for the cross-cutting reliability and security tests (fault matrix, fuzzing, load,
restarts, upload/download security): fast settings pointed at an emulator, media files with the
right magic bytes, an in-process `mcp.Client` on the real server, and result helpers."""

from __future__ import annotations

import copy
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from mcp import Client

from nemo_video_mcp.app import create_server
from nemo_video_mcp.emulator import Emulator
from nemo_video_mcp.settings import Settings
from support_common import skills

RUN = "/run_sse"
RENDER = "/api/render/proxy/lambda"
UPLOAD = "/api/upload-video/"
STATE = "/api/state/"
CREDITS = "/api/credits/"


def fast_settings(url: str, tmp: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Settings with every wait short enough for a test, the state and output under `tmp`."""
    base = {
        "NEMO_API_URL": url,
        "NEMO_STATE_DIR": str(tmp / "state"),
        "NEMO_OUTPUT_DIR": str(tmp / "out"),
        "NEMO_MEDIA_ROOTS": str(tmp / "media"),
        "NEMO_LANGUAGE": "en",
        "NEMO_WAIT_SECONDS": "10",
        "NEMO_CONNECT_TIMEOUT": "2",
        "NEMO_READ_TIMEOUT": "0.6",
        "NEMO_RETRY_AFTER_SECONDS": "0.2",
        "NEMO_MAX_RETRIES": "1",
        "NEMO_POLL_SECONDS": "0.05",
        "NEMO_POLL_MAX_SECONDS": "0.1",
        "NEMO_STREAM_STALL_SECONDS": "0.6",
        "NEMO_STREAM_MAX_SECONDS": "20",
        "NEMO_RECOVERY_POLL_SECONDS": "0.05",
        "NEMO_RECOVERY_MAX_UNCHANGED": "4",
    }
    return Settings.from_env({**base, **(env or {})}, home=tmp)


def fast_emulator(emu: Emulator) -> Emulator:
    """Short edits and renders (the shapes stay the defaults)."""
    emu.config.edit_seconds = 0.1
    emu.config.heartbeat_seconds = 0.02
    emu.config.render_seconds = 0.3
    emu.config.render_bytes = 8192
    return emu


@asynccontextmanager
async def connect(settings: Settings, mode: str = "legacy") -> AsyncIterator[Client]:
    async with Client(create_server(settings, skills=skills()), mode=mode) as client:
        yield client


def draft_of(emu: Emulator, sid: str) -> dict[str, Any]:
    return copy.deepcopy(emu.sessions[sid].draft)


def posts(emu: Emulator, prefix: str) -> int:
    return len(emu.requests_to(prefix, "POST"))


def is_crash(text: str) -> bool:
    """What the SDK shows for an exception that is not a ToolError: the tool's name, no reason."""
    return re.fullmatch(r"Error executing tool [\w-]+:?", text.strip()) is not None


def read(path: str | Path) -> bytes:
    """A file's bytes (a plain function: async tests may call it without blocking lint)."""
    return Path(path).read_bytes()


def is_link(path: str | Path) -> bool:
    return Path(path).is_symlink()
