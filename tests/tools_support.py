"""Helpers for the MCP-level tests (tests/test_tools_*.py): settings pointed at the emulator with
short timings, a media folder with real-looking files, and an in-memory `mcp.Client` on the server
in either protocol mode."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp import Client
from mcp.server.mcpserver import MCPServer

from nemo_video_mcp.app import create_server
from nemo_video_mcp.emulator import Emulator, EmulatorConfig
from nemo_video_mcp.settings import Settings
from support_common import skills

MODES = ("legacy", "auto")  # 2025-11-25 handshake, and 2026-07-28 direct dispatch


def tool_settings(emulator: Emulator, tmp: Path, env: Mapping[str, str] | None = None) -> Settings:
    """Settings for a server on `emulator`, state and output under `tmp`, media from `tmp/media`.
    Also shortens the emulator's renders to 0.3 s when a test left them at the 1 s default."""
    if emulator.config.render_seconds == EmulatorConfig().render_seconds:
        emulator.config.render_seconds = 0.3
    base = {
        "NEMO_API_URL": emulator.url,
        "NEMO_STATE_DIR": str(tmp / "state"),
        "NEMO_OUTPUT_DIR": str(tmp / "out"),
        "NEMO_MEDIA_ROOTS": str(tmp / "media"),
        "NEMO_LANGUAGE": "en",
        "NEMO_WAIT_SECONDS": "8",
        "NEMO_CONNECT_TIMEOUT": "2",
        "NEMO_READ_TIMEOUT": "5",
        "NEMO_RETRY_AFTER_SECONDS": "1",
        "NEMO_MAX_RETRIES": "1",
        "NEMO_POLL_SECONDS": "0.05",
        "NEMO_POLL_MAX_SECONDS": "0.2",
        "NEMO_STREAM_STALL_SECONDS": "5",
        "NEMO_STREAM_MAX_SECONDS": "30",
        "NEMO_RECOVERY_POLL_SECONDS": "0.05",
        "NEMO_RECOVERY_MAX_UNCHANGED": "3",
    }
    return Settings.from_env({**base, **(env or {})}, home=tmp)


def server_for(settings: Settings) -> MCPServer[Any]:
    return create_server(settings, skills=skills())


@asynccontextmanager
async def connect(settings: Settings, mode: str) -> AsyncIterator[Client]:
    async with Client(server_for(settings), mode=mode) as client:
        yield client


class Progress:
    """A progress callback that keeps every notification."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, float | None, str | None]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append((progress, total, message))

    @property
    def messages(self) -> list[str]:
        return [m for _, _, m in self.seen if m]


async def until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    """Wait until `predicate()` holds (the emulator works in its own thread)."""
    with anyio.fail_after(within):
        for _ in itertools.count():
            if predicate():
                return
            await anyio.sleep(0.05)


def file_bytes(path: str | Path) -> bytes | None:
    """A file's content, or None when it does not exist (sync: tests call it outside the loop's hot path)."""
    p = Path(path)
    return p.read_bytes() if p.is_file() else None
