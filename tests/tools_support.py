"""Helpers for the MCP-level tests (tests/test_tools_*.py): both protocol modes, and a progress
callback that keeps what it saw. Settings, `connect` and `wait_until` are in support_common."""

from __future__ import annotations

from pathlib import Path

MODES = ("legacy", "auto")  # 2025-11-25 handshake, and 2026-07-28 direct dispatch


class Progress:
    """A progress callback that keeps every notification."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, float | None, str | None]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append((progress, total, message))

    @property
    def messages(self) -> list[str]:
        return [m for _, _, m in self.seen if m]


def file_bytes(path: str | Path) -> bytes | None:
    """A file's content, or None when it does not exist (sync: tests call it outside the loop's hot path)."""
    p = Path(path)
    return p.read_bytes() if p.is_file() else None
