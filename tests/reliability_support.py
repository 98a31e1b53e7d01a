"""Helpers for the cross-cutting reliability and security tests (fault matrix, fuzzing, load,
restarts, upload/download security): the backend's paths, a fast emulator, and result helpers.
Settings, `connect` and `wait_until` are in support_common."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from nemo_video_mcp.emulator import Emulator

RUN = "/run_sse"
RENDER = "/api/render/proxy/lambda"
UPLOAD = "/api/upload-video/"
STATE = "/api/state/"
CREDITS = "/api/credits/"


def fast_emulator(emu: Emulator) -> Emulator:
    """Short edits and renders (the shapes stay the defaults)."""
    emu.config.edit_seconds = 0.1
    emu.config.heartbeat_seconds = 0.02
    emu.config.render_seconds = 0.3
    emu.config.render_bytes = 8192
    return emu


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
