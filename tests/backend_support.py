"""Helpers shared by the backend client's tests (test_client, test_upload, test_edit_stream,
test_renders): a recording sleep, and a client factory pointed at the emulator (its settings come
from support_common.settings_for)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio

from nemo_video_mcp.backend import NemoClient
from support_common import settings_for, skills

SKILL = "video-json-ai"
STATIC_TOKEN = "nmv_test_static"  # the emulator's registered user (EmulatorConfig.static_tokens)


# The backend client's tests count retries: two of them, and a Retry-After of up to 2 s is waited.
BACKEND = {"NEMO_MAX_RETRIES": "2", "NEMO_RETRY_AFTER_SECONDS": "2"}


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
    """A NemoClient on `url` whose state folder is `state_dir` itself (settings from `settings_for`)."""
    settings = settings_for(url, state_dir, {**BACKEND, "NEMO_STATE_DIR": str(state_dir), **env})
    if sleep is None:
        return NemoClient(settings, skills())
    return NemoClient(settings, skills(), sleep=sleep)
