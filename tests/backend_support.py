"""Helpers shared by the backend client's tests (test_client, test_upload, test_edit_stream,
test_renders): small settings with a temporary state dir and short timeouts, a recording sleep,
and a client factory pointed at the emulator."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio

from nemo_video_mcp.backend import NemoClient
from nemo_video_mcp.settings import Settings
from support_common import skills

SKILL = "video-json-ai"
STATIC_TOKEN = "nmv_test_static"  # the emulator's registered user (EmulatorConfig.static_tokens)


def settings_for(url: str, state_dir: Path, env: Mapping[str, str] | None = None) -> Settings:
    base = {
        "NEMO_API_URL": url,
        "NEMO_STATE_DIR": str(state_dir),
        "NEMO_OUTPUT_DIR": str(state_dir / "out"),
        "NEMO_LANGUAGE": "en",
        "NEMO_CONNECT_TIMEOUT": "2",
        "NEMO_READ_TIMEOUT": "5",
        "NEMO_RETRY_AFTER_SECONDS": "2",
        "NEMO_MAX_RETRIES": "2",
        "NEMO_POLL_SECONDS": "0.05",
        "NEMO_POLL_MAX_SECONDS": "0.2",
        "NEMO_STREAM_STALL_SECONDS": "5",
        "NEMO_STREAM_MAX_SECONDS": "30",
        "NEMO_RECOVERY_POLL_SECONDS": "0.05",
        "NEMO_RECOVERY_MAX_UNCHANGED": "3",
    }
    return Settings.from_env({**base, **(env or {})}, home=state_dir)


class Sleeps:
    """An injectable sleep that records every wait and only really sleeps a little (so polls do
    not spin, but a 30 s Retry-After costs nothing)."""

    def __init__(self, cap: float = 0.01) -> None:
        self.waits: list[float] = []
        self.cap = cap

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await anyio.sleep(min(seconds, self.cap))


def make_client(url: str, state_dir: Path, *, sleep: Any = None, **env: str) -> NemoClient:
    settings = settings_for(url, state_dir, env)
    if sleep is None:
        return NemoClient(settings, skills())
    return NemoClient(settings, skills(), sleep=sleep)
