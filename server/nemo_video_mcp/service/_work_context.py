"""What a background worker (uploads, edit turns, renders) needs from the workspace, passed as one
value, and the base class that unpacks it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from anyio.abc import TaskGroup

from ..backend import NemoClient
from ..settings import Settings
from ._sessions import SessionRef, Sessions
from ._store import Store


@dataclass(frozen=True)
class WorkContext:
    settings: Settings
    client: NemoClient
    store: Store
    sessions: Sessions
    task_group: TaskGroup  # background work runs here, beyond any one tool call
    progress_interval: float  # seconds between progress reports while a call waits


class Worker:
    """Base of `Uploads`, `Turns` and `Renders`: the parts of a `WorkContext` as attributes, and an
    optional check that may refuse to start new work in a session (raising a `WorkspaceError`)."""

    def __init__(
        self, work: WorkContext, *, before_start: Callable[[SessionRef], None] | None = None
    ) -> None:
        self._settings = work.settings
        self._client = work.client
        self._store = work.store
        self._sessions = work.sessions
        self._tg = work.task_group
        self._interval = work.progress_interval
        self._before_start = before_start

    def _may_start(self, ref: SessionRef) -> None:
        if self._before_start is not None:
            self._before_start(ref)
