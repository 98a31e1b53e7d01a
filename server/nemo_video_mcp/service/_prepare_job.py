"""A preparation in memory (`PrepareJob`): what was asked, the open source, how far the work is,
how it ended, and its view; `PrepareKey`, what makes two requests the same preparation."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from ._media_access import CheckedMedia, FileIdentity
from ._media_prepare import PreparedInfo
from ._workspace_views import PrepareStatus, PrepareView, ProbedFile

# (the file's identity, start, end, max height, max bytes)
PrepareKey = tuple[FileIdentity, float | None, float | None, int | None, int]


@dataclass
class PrepareJob:
    prepare_id: str
    key: PrepareKey
    shown: str  # the path as given
    media: CheckedMedia  # the source, open until the work ends
    source: ProbedFile
    dest: Path
    start: float | None
    end: float | None
    max_height: int | None
    max_bytes: int
    expected: int  # frames
    frames: int = 0  # written so far (set from the worker thread)
    queued: bool = True
    started: float = field(default_factory=anyio.current_time)
    finished: float | None = None
    done: anyio.Event = field(default_factory=anyio.Event)
    result: PreparedInfo | None = None
    cancelled: bool = False
    cancel_came_late: bool = False
    error: Exception | None = None
    stop: threading.Event = field(default_factory=threading.Event)  # the transcoder checks it per frame
    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)  # ends the wait in the queue

    def behind_another(self, jobs: Iterable[PrepareJob]) -> bool:
        """This job waits for another of `jobs` to finish (one runs at a time)."""
        return self.queued and any(
            other is not self and not other.queued and not other.done.is_set() for other in jobs
        )

    def view(self, jobs: Iterable[PrepareJob], *, repeat: bool = False) -> PrepareView:
        """`jobs`: every known preparation (to say whether this one is queued behind another)."""
        now = anyio.current_time()
        end = self.finished if self.finished is not None else now
        status: PrepareStatus = (
            "completed" if self.result is not None else "cancelled" if self.cancelled else "running"
        )
        return PrepareView(
            prepare_id=self.prepare_id,
            status=status,
            source=self.source,
            output=self.result,
            frames_done=self.result.frames if self.result is not None else self.frames,
            frames_expected=self.expected,
            queued=status == "running" and self.behind_another(jobs),
            elapsed=end - self.started,
            start=self.start,
            end=self.end,
            max_height=self.max_height,
            max_bytes=self.max_bytes,
            repeated_after=now - self.finished if repeat and self.finished is not None else None,
            cancel_came_late=self.cancel_came_late,
        )
