"""An upload in memory (`UploadJob`): its inputs, how far it is, how it ended; and `UploadKey`, what
makes two calls the same upload (the session, the files with their size and modification time, the
links; any order)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from ._media_policy import MediaFile
from ._sessions import SessionRef
from ._workspace_views import FileView, ProbedFile, UploadStage

# (session id, sorted (real path, size, mtime_ns) of the files, sorted links)
UploadKey = tuple[str, tuple[tuple[str, int, int], ...], tuple[str, ...]]


@dataclass
class UploadJob:
    upload_id: str
    key: UploadKey
    ref: SessionRef
    files: list[MediaFile]
    urls: list[str]
    total: int  # file bytes to send
    probed: tuple[ProbedFile, ...] = ()
    sent: int = 0
    stage: UploadStage = "uploading"
    started: float = field(default_factory=anyio.current_time)
    finished: float | None = None
    done: anyio.Event = field(default_factory=anyio.Event)
    result: list[FileView] | None = None
    error: Exception | None = None  # raised to the calls that wait for it, then forgotten
    scope: anyio.CancelScope | None = None  # the background upload's, so `cancel` can stop it
    cancelled: bool = False

    def names(self) -> list[str]:
        return [f.path.name for f in self.files] + self.urls

    def percent(self) -> float | None:
        if self.result is not None:
            return 100.0
        if not self.total:
            return None
        return round(min(99.9, 100 * self.sent / self.total), 1)


def _stamp(path: Path) -> int:
    """The file's modification time (ns), so a file changed since is a new upload; 0 if unreadable."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


def upload_key(session_id: str, files: Sequence[MediaFile], urls: Sequence[str]) -> UploadKey:
    stamped = sorted((str(f.path), f.size, _stamp(f.path)) for f in files)
    return session_id, tuple(stamped), tuple(sorted(urls))
