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
from nemo_video_mcp.skills import SkillRegistry

MP4_HEAD = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
RUN = "/run_sse"
RENDER = "/api/render/proxy/lambda"
UPLOAD = "/api/upload-video/"
STATE = "/api/state/"
CREDITS = "/api/credits/"
_SKILLS: list[SkillRegistry] = []


def skills() -> SkillRegistry:
    if not _SKILLS:
        _SKILLS.append(SkillRegistry.load(platform_override="cursor"))
    return _SKILLS[0]


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


def make_media(root: Path, name: str = "clip.mp4", size: int = 4096) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / name
    path.write_bytes(MP4_HEAD + bytes(size - len(MP4_HEAD)))
    return path


@asynccontextmanager
async def connect(settings: Settings, mode: str = "legacy") -> AsyncIterator[Client]:
    async with Client(create_server(settings, skills=skills()), mode=mode) as client:
        yield client


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


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
