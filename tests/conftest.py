"""Shared pytest fixtures."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from nemo_video_mcp.emulator import Emulator


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    """A started backend emulator with the default config (mutate `emulator.config` per test)."""
    with Emulator() as emu:
        yield emu
